//! `tokencert completions SHELL` and `tokencert manpages DIR`, generated
//! from the clap definitions: every shell gets a script naming every
//! subcommand, bash's parses and completes, and every command gets a man
//! page that renders without a warning (with `man -l`, when installed).

mod help_tree;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The script `tokencert completions shell` prints.
fn script(shell: &str) -> String {
    let (code, stdout, stderr) = help_tree::run_clean(&["completions", shell]);
    assert_eq!(code, Some(0), "completions {shell}: {stderr}");
    stdout
}

/// Every subcommand name of the tree, nested ones included.
fn subcommand_names() -> BTreeSet<String> {
    help_tree::pages()
        .into_iter()
        .filter_map(|page| page.path.last().cloned())
        .collect()
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_shell_gets_a_script_naming_every_subcommand() {
    let names = subcommand_names();
    assert!(
        names.contains("run") && names.contains("rebuild"),
        "{names:?}"
    );
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = script(shell);
        assert!(script.len() > 1000, "{shell}: {} bytes", script.len());
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !script.contains(n.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{shell}'s script does not name {missing:?}"
        );
    }
    let (code, _, stderr) = help_tree::run_clean(&["completions", "tcsh"]);
    assert_eq!(code, Some(2), "an unknown shell is a usage error");
    assert!(
        stderr.contains("bash") && stderr.contains("powershell"),
        "{stderr}"
    );
}

/// `bash -n` on `script`: does it parse?
fn bash_parses(script: &str, dir: &Path) -> Result<(), String> {
    let path = dir.join("tokencert.bash");
    std::fs::write(&path, script).expect("writing the script");
    let out = Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("running bash");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// What bash completes for the words typed so far (the last may be partial).
fn bash_completes(script_path: &Path, words: &[&str]) -> Vec<String> {
    let words_array = words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let program = format!(
        "source '{}'; COMP_WORDS=({words_array}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
         _tokencert tokencert '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script_path.display(),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len().saturating_sub(2)],
    );
    let out = Command::new("bash")
        .args(["-c", &program])
        .output()
        .expect("running bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_parses_the_script_and_completes_with_it() {
    if !installed("bash") {
        eprintln!("SKIPPED: bash is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = script("bash");
    bash_parses(&script, dir.path()).expect("bash -n accepts the script");
    // The check can fail: a stray `fi` is a syntax error.
    let broken = format!("{script}\nfi\n");
    assert!(
        bash_parses(&broken, dir.path()).is_err(),
        "bash -n accepts a broken script"
    );

    let path = dir.path().join("tokencert.bash");
    std::fs::write(&path, &script).expect("writing the script");
    let subcommands = bash_completes(&path, &["tokencert", "ve"]);
    assert_eq!(subcommands, ["verify"], "tokencert ve<TAB>");
    let nested = bash_completes(&path, &["tokencert", "ledger", "reb"]);
    assert_eq!(nested, ["rebuild"], "tokencert ledger reb<TAB>");
    let flags = bash_completes(&path, &["tokencert", "run", "--allow-in"]);
    assert_eq!(
        flags,
        ["--allow-insecure-http"],
        "tokencert run --allow-in<TAB>"
    );
}

#[test]
fn other_shells_parse_their_scripts_when_installed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (shell, file, check) in [
        ("zsh", "_tokencert", &["-n"][..]),
        ("fish", "tokencert.fish", &["--no-execute"][..]),
    ] {
        if !installed(shell) {
            eprintln!(
                "SKIPPED: {shell} is not installed; its script was only checked for the subcommands"
            );
            continue;
        }
        let path = dir.path().join(file);
        std::fs::write(&path, script(shell)).expect("writing the script");
        let out = Command::new(shell)
            .args(check)
            .arg(&path)
            .output()
            .expect("running the shell");
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `man -l page` as plain text, and what troff warned about.
fn render(page: &Path) -> (String, String) {
    let out = Command::new("man")
        .args(["--warnings", "--nh", "--nj", "-l"])
        .arg(page)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "200")
        .output()
        .expect("running man");
    assert!(
        out.status.success(),
        "man -l {}: {}",
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_command_gets_a_man_page_that_renders() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("man1");
    let (code, stdout, stderr) =
        help_tree::run_clean(&["manpages", out.to_str().expect("a UTF-8 path")]);
    assert_eq!(code, Some(0), "{stderr}");

    let pages = help_tree::pages();
    let expected: BTreeSet<String> = pages
        .iter()
        .map(|page| format!("{}.1", page.title().replace(' ', "-")))
        .collect();
    let written: BTreeSet<String> = std::fs::read_dir(&out)
        .expect("reading the pages")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(written, expected, "one page per command, no more");
    assert_eq!(stdout.lines().count(), expected.len(), "{stdout}");

    let root = std::fs::read_to_string(out.join("tokencert.1")).expect("tokencert.1");
    for page in &pages {
        let file = format!("{}.1", page.title().replace(' ', "-"));
        let roff = std::fs::read_to_string(out.join(&file)).expect("the page");
        let title = page.title().replace(' ', "-");
        let th = format!(".TH {title} 1 ");
        assert!(
            roff.lines().any(|line| line.starts_with(&th)),
            "{file} has no {th:?} line"
        );
        assert!(
            roff.contains(&format!("tokencert {}", env!("CARGO_PKG_VERSION"))),
            "{file} does not name the tool's version"
        );
        if page.path.len() == 1 {
            assert!(
                root.contains(&page.path[0]),
                "tokencert.1 does not list {}",
                page.path[0]
            );
        }
    }
    if !installed("man") {
        eprintln!(
            "SKIPPED: man is not installed; the pages were checked for .TH and the subcommands only"
        );
        return;
    }
    for page in &pages {
        let file = out.join(format!("{}.1", page.title().replace(' ', "-")));
        let (text, warnings) = render(&file);
        assert!(warnings.is_empty(), "{}: {warnings}", file.display());
        assert!(
            text.contains("NAME") && text.contains("SYNOPSIS"),
            "{}: {text}",
            file.display()
        );
        // Every long flag the help shows is in the page.
        for flag in page
            .help
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w.len() > 2 && w.as_bytes()[2].is_ascii_lowercase())
        {
            assert!(text.contains(flag), "{} lacks {flag}", file.display());
        }
    }
    // The rendering check can fail: an undefined macro is a troff warning.
    let broken = out.join("broken.1");
    std::fs::write(&broken, format!("{root}.XYZ not a macro\n")).expect("writing");
    let (_, warnings) = render(&broken);
    assert!(warnings.contains("XYZ"), "man did not warn: {warnings:?}");
}
