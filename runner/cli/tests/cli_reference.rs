//! docs/cli-reference.md is the built binary's `--help` for the root and
//! every subcommand, composed into one Markdown page: this test composes it
//! again and fails, naming the commands, when the committed page is stale.
//! Regenerate with `TOKENCERT_BLESS=1 cargo test -p tokencert --test cli_reference`.

mod help_tree;

use std::path::PathBuf;

use help_tree::HelpPage;

const REGENERATE: &str = "TOKENCERT_BLESS=1 cargo test -p tokencert --test cli_reference";

fn reference_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli-reference.md")
}

/// The anchor mdBook gives a heading of plain words.
fn anchor(title: &str) -> String {
    title.to_lowercase().replace(' ', "-")
}

/// The page: an index of the commands, then each command's help verbatim.
fn compose(pages: &[HelpPage]) -> String {
    let mut out = String::from("# CLI reference\n\n");
    out.push_str(&format!(
        "<!-- Generated from the binary's --help by runner/cli/tests/cli_reference.rs; do not edit.\n     \
         Regenerate: {REGENERATE} -->\n\n"
    ));
    out.push_str(
        "Every command's `--help`, exactly as the binary prints it (`-h` prints the \
         first line of each description only). A test composes this page again from \
         the built binary and fails when it differs, so no flag goes undocumented. \
         [Commands](commands.md) says the same in a line per command, and \
         [Exit codes](exit-codes.md) gathers the exit statuses.\n\n",
    );
    out.push_str("| command | what it does |\n|---|---|\n");
    for page in pages.iter().filter(|page| !page.path.is_empty()) {
        let title = page.title();
        out.push_str(&format!(
            "| [`{title}`](#{}) | {} |\n",
            anchor(&title),
            page.about.replace('|', "\\|")
        ));
    }
    for page in pages {
        out.push_str(&format!(
            "\n## {}\n\n```text\n{}\n```\n",
            page.title(),
            page.help
        ));
    }
    out
}

/// The sections of a composed page by heading (the text before the first
/// `## ` heading under the empty name).
fn sections(page: &str) -> Vec<(String, String)> {
    let mut found = vec![(String::new(), String::new())];
    for line in page.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            found.push((title.to_string(), String::new()));
        }
        if let Some(last) = found.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    found
}

/// What differs between the committed page and the composed one, by
/// command: `tokencert run: line 12 is ... where the binary prints ...`.
fn stale_commands(committed: &str, composed: &str) -> Vec<String> {
    let committed = sections(committed);
    let composed = sections(composed);
    let name = |title: &str| {
        if title.is_empty() {
            "the index at the top".to_string()
        } else {
            title.to_string()
        }
    };
    let mut problems = Vec::new();
    for (title, text) in &composed {
        match committed.iter().find(|(other, _)| other == title) {
            None => problems.push(format!("{}: missing from the page", name(title))),
            Some((_, old)) if old != text => {
                let (n, (old_line, new_line)) = old
                    .lines()
                    .chain(std::iter::repeat("<end of section>"))
                    .zip(text.lines().chain(std::iter::repeat("<end of section>")))
                    .enumerate()
                    .find(|(_, (a, b))| a != b)
                    .unwrap_or((0, ("", "")));
                problems.push(format!(
                    "{}: line {} of its section reads {old_line:?} where the binary prints {new_line:?}",
                    name(title),
                    n + 1
                ));
            }
            Some(_) => {}
        }
    }
    for (title, _) in &committed {
        if !composed.iter().any(|(other, _)| other == title) {
            problems.push(format!("{}: no such command any more", name(title)));
        }
    }
    problems
}

#[test]
fn cli_reference_is_the_binarys_help() {
    let pages = help_tree::pages();
    // The tree reaches nested subcommands (ledger has its own).
    assert!(pages.iter().any(|page| page.path == ["run"]));
    assert!(
        pages
            .iter()
            .any(|page| page.path.len() == 2 && page.path[0] == "ledger")
    );
    let composed = compose(&pages);
    let path = reference_path();
    if std::env::var_os("TOKENCERT_BLESS").is_some() {
        std::fs::write(&path, &composed).expect("writing docs/cli-reference.md");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let problems = stale_commands(&committed, &composed);
    assert!(
        problems.is_empty(),
        "docs/cli-reference.md is stale:\n  {}\nRegenerate it with `{REGENERATE}` and commit it.",
        problems.join("\n  ")
    );
    assert_eq!(committed, composed, "run `{REGENERATE}`");

    // The comparison can fail: a flag dropped from one command's help, a
    // changed description, a command missing, a command too many.
    let run_section = composed.find("## tokencert run\n").expect("run's section");
    let flag = run_section
        + composed[run_section..]
            .find("--timeout")
            .expect("run --timeout");
    let line_start = composed[..flag].rfind('\n').expect("a line before") + 1;
    let line_end = flag + composed[flag..].find('\n').expect("a line after");
    let without_flag = format!("{}{}", &composed[..line_start], &composed[line_end + 1..]);
    let problems = stale_commands(&without_flag, &composed);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("tokencert run: line "),
        "{problems:?}"
    );
    assert!(problems[0].contains("--timeout"), "{problems:?}");

    let retitled = composed.replace("## tokencert keygen\n", "## tokencert keygen-old\n");
    let problems = stale_commands(&retitled, &composed);
    assert!(
        problems
            .iter()
            .any(|p| p == "tokencert keygen: missing from the page"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p == "tokencert keygen-old: no such command any more"),
        "{problems:?}"
    );
    let reworded = composed.replacen("| [`tokencert run`]", "| [`tokencert runs`]", 1);
    assert_eq!(stale_commands(&reworded, &composed).len(), 1);
}
