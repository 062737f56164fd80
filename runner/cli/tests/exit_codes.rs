//! docs/exit-codes.md and the binary's `--help` cannot drift apart: every
//! exit status a command's help names ("Exit status: 0 ...; 3 ...", "(exit
//! 1)", "Exit 8") has a row for that command in the table, every command
//! has at least one row, and every row names a command that exists.

mod help_tree;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use help_tree::HelpPage;

fn table_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/exit-codes.md")
}

/// The statuses the table gives each command (`tokencert ledger add` -> {0, 1, 2}).
fn table_rows(markdown: &str) -> BTreeMap<String, BTreeSet<u32>> {
    let mut rows: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for line in markdown.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, command, status, ..] = cells.as_slice() else {
            continue;
        };
        let Some(command) = command
            .strip_prefix('`')
            .and_then(|c| c.strip_suffix('`'))
            .filter(|c| c.starts_with("tokencert "))
        else {
            continue;
        };
        if let Ok(status) = status.parse() {
            rows.entry(command.to_string()).or_default().insert(status);
        }
    }
    rows
}

/// The leading integer of `text` when a word follows it (`3 a file was`).
fn leading_status(text: &str) -> Option<u32> {
    let text = text.trim_start();
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let rest = &text[digits.len()..];
    if digits.is_empty() || !(rest.is_empty() || rest.starts_with([' ', ':', '.', ')'])) {
        return None;
    }
    digits.parse().ok()
}

/// The exit statuses a help text names: each entry of its "Exit status:"
/// paragraph (entries separated by `;` or `,`), and every "exit N"
/// elsewhere (a flag's "(exit 1)").
fn statuses_named(help: &str) -> BTreeSet<u32> {
    let mut found = BTreeSet::new();
    for paragraph in help.split("\n\n") {
        if let Some(at) = paragraph.find("Exit status:") {
            let entries = &paragraph[at + "Exit status:".len()..];
            found.extend(entries.split([';', ',']).filter_map(leading_status));
        }
    }
    let lower = help.to_lowercase();
    for (at, _) in lower.match_indices("exit ") {
        found.extend(leading_status(&lower[at + "exit ".len()..]));
    }
    found
}

/// Every disagreement between the commands' help and the table.
fn disagreements(pages: &[(String, String, bool)], table: &str) -> Vec<String> {
    let rows = table_rows(table);
    let mut problems = Vec::new();
    for (title, help, has_subcommands) in pages {
        let named = statuses_named(help);
        let listed = rows.get(title);
        if listed.is_none() && !has_subcommands {
            problems.push(format!("{title} has no row"));
        }
        for status in &named {
            if !listed.is_some_and(|l| l.contains(status)) {
                problems.push(format!(
                    "{title}: its --help names exit status {status}, the table does not"
                ));
            }
        }
    }
    for command in rows.keys() {
        if !pages.iter().any(|(title, ..)| title == command) {
            problems.push(format!("{command} is in the table but is no command"));
        }
    }
    problems
}

fn help_pages() -> Vec<(String, String, bool)> {
    let pages: Vec<HelpPage> = help_tree::pages();
    pages
        .iter()
        .filter(|page| !page.path.is_empty())
        .map(|page| {
            let has_subcommands = !help_tree::subcommands(&page.help).is_empty();
            (page.title(), page.help.clone(), has_subcommands)
        })
        .collect()
}

#[test]
fn every_status_a_command_names_is_in_the_table() {
    let table = std::fs::read_to_string(table_path()).expect("docs/exit-codes.md");
    let pages = help_pages();
    assert!(pages.len() > 15, "{} commands", pages.len());
    // The parser reads what the commands say (guards against a help format
    // it no longer understands, which would make the check vacuous).
    let verify = pages
        .iter()
        .find(|(title, ..)| title == "tokencert verify")
        .expect("verify");
    assert_eq!(
        statuses_named(&verify.1),
        BTreeSet::from([0, 2, 3, 4, 5, 6, 7, 8])
    );
    let list = pages
        .iter()
        .find(|(title, ..)| title == "tokencert list")
        .expect("list");
    assert!(
        statuses_named(&list.1).contains(&1),
        "list --coverage's exit 1"
    );
    let problems = disagreements(&pages, &table);
    assert!(
        problems.is_empty(),
        "docs/exit-codes.md and --help disagree:\n{}",
        problems.join("\n")
    );
}

/// The disagreements of `pages` and `table` that the real help and the
/// committed table do not have.
fn new_disagreements(pages: &[(String, String, bool)], table: &str) -> Vec<String> {
    let committed = std::fs::read_to_string(table_path()).expect("docs/exit-codes.md");
    let before = disagreements(&help_pages(), &committed);
    disagreements(pages, table)
        .into_iter()
        .filter(|problem| !before.contains(problem))
        .collect()
}

#[test]
fn a_missing_row_or_an_unknown_command_is_caught() {
    let table = std::fs::read_to_string(table_path()).expect("docs/exit-codes.md");
    let pages = help_pages();
    let without_verify_7: String = table
        .lines()
        .filter(|line| !line.starts_with("| `tokencert verify` | 7 |"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(
        new_disagreements(&pages, &without_verify_7),
        vec!["tokencert verify: its --help names exit status 7, the table does not"]
    );
    let without_keygen: String = table
        .lines()
        .filter(|line| !line.starts_with("| `tokencert keygen`"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(
        new_disagreements(&pages, &without_keygen),
        vec!["tokencert keygen has no row"]
    );
    let stale = format!("{table}| `tokencert frobnicate` | 0 | gone |\n");
    assert_eq!(
        new_disagreements(&pages, &stale),
        vec!["tokencert frobnicate is in the table but is no command"]
    );
    // A status a help adds is caught too.
    let mut grown = pages.clone();
    for page in &mut grown {
        if page.0 == "tokencert report" {
            page.1 = page
                .1
                .replace("Exit status: 0 written;", "Exit status: 0 written; 11 new;");
        }
    }
    assert_eq!(
        new_disagreements(&grown, &table),
        vec!["tokencert report: its --help names exit status 11, the table does not"]
    );
}
