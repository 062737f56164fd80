//! The command tree of the built `tokencert` binary, read from its own
//! `--help` output: shared by the CLI reference, completion and man page
//! tests, so a subcommand added to main.rs is covered without editing them.

use std::path::Path;
use std::process::Command;

/// The binary under test, built by cargo for this test.
pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tokencert"))
}

/// One command: its path below the root (empty for the root itself), its
/// one-line description (as its parent lists it) and its full `--help`.
pub struct HelpPage {
    /// Subcommand names from the root, e.g. `["ledger", "add"]`.
    pub path: Vec<String>,
    /// The line the parent's `Commands:` list gives it (empty for the root).
    #[allow(dead_code)] // read by cli_reference.rs, not by every test sharing this module
    pub about: String,
    /// `tokencert PATH... --help`, trailing spaces trimmed.
    pub help: String,
}

impl HelpPage {
    /// `tokencert ledger add`.
    pub fn title(&self) -> String {
        std::iter::once("tokencert")
            .chain(self.path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Runs `tokencert PATH... ARGS` with an empty environment (clap prints the
/// values of `env = ...` variables in help, so the caller's environment
/// would leak into the output), returning its exit code, stdout and stderr.
pub fn run_clean(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(binary())
        .args(args)
        .env_clear()
        .output()
        .expect("running the tokencert binary");
    (
        output.status.code(),
        String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    )
}

/// The root and every subcommand, depth first in the order `--help` lists them.
pub fn pages() -> Vec<HelpPage> {
    let mut pages = Vec::new();
    collect(Vec::new(), String::new(), &mut pages);
    pages
}

fn collect(path: Vec<String>, about: String, pages: &mut Vec<HelpPage>) {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let (code, stdout, stderr) = run_clean(&args);
    assert_eq!(code, Some(0), "tokencert {args:?} failed: {stderr}");
    let help = stdout
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    let children = subcommands(&help);
    pages.push(HelpPage {
        path: path.clone(),
        about,
        help,
    });
    for (name, about) in children {
        let mut child = path.clone();
        child.push(name);
        collect(child, about, pages);
    }
}

/// The `Commands:` list of a help text, without clap's own `help`.
pub fn subcommands(help: &str) -> Vec<(String, String)> {
    let mut lines = help.lines().skip_while(|line| *line != "Commands:").skip(1);
    let mut found: Vec<(String, String)> = Vec::new();
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        let indent = line.len() - line.trim_start().len();
        let (name, about) = line
            .trim_start()
            .split_once(' ')
            .unwrap_or((line.trim(), ""));
        if indent > 2 {
            // A description clap wrapped onto the next line.
            if let Some(last) = found.last_mut() {
                last.1 = format!("{} {}", last.1, line.trim()).trim().to_string();
            }
            continue;
        }
        if name != "help" {
            found.push((name.to_string(), about.trim().to_string()));
        }
    }
    found
}
