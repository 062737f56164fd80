//! `tokencert table`: a bundle's results as Markdown, one row per clause,
//! for READMEs and reviews.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokencert_core::bundle;
use tokencert_core::judge::{CaseResult, Verdict};

/// Options of `tokencert table`.
#[derive(clap::Args)]
pub struct Args {
    /// The bundle directory. Its results are printed as recorded; run
    /// `tokencert verify` to check them.
    bundle: PathBuf,
    /// Also list every case that did not pass, with its reason.
    #[arg(long)]
    failures: bool,
}

/// Prints the table.
pub fn run(root: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let suite = super::load_suite(root)?;
    let run = bundle::read_run(&args.bundle)?;
    let results = bundle::read_results(&args.bundle)?;
    println!(
        "Target `{}` at {} — {} — suite `{}`{}\n",
        run.target.model,
        run.target.base_url,
        run.tool,
        short_digest(&results.suite_digest),
        if results.suite_digest == suite.digest {
            ""
        } else {
            " (not the suite on disk)"
        }
    );
    let mut by_clause: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for case in &results.cases {
        by_clause
            .entry(case.clause.as_str())
            .or_default()
            .push(case);
    }
    println!("| Clause | Level | Pass | Fail | Error | Not claimed | Title |");
    println!("|---|---|---:|---:|---:|---:|---|");
    for (clause, cases) in &by_clause {
        let count = |v: Verdict| cases.iter().filter(|c| c.verdict == v).count();
        let counts: Vec<String> = Verdict::ALL
            .iter()
            .map(|v| match count(*v) {
                0 => String::new(),
                n if *v == Verdict::Fail || *v == Verdict::Error => format!("**{n}**"),
                n => n.to_string(),
            })
            .collect();
        let title = suite.clauses.get(*clause).map_or("", |c| c.title.as_str());
        println!(
            "| {clause} | {} | {} | {title} |",
            cases[0].level.keyword(),
            counts.join(" | ")
        );
    }
    let totals: Vec<String> = Verdict::ALL
        .iter()
        .map(|v| {
            results
                .cases
                .iter()
                .filter(|c| c.verdict == *v)
                .count()
                .to_string()
        })
        .collect();
    println!("| **all** | | {} | |", totals.join(" | "));
    if args.failures {
        println!();
        for case in results
            .cases
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error))
        {
            println!(
                "- `{}` ({} {}): {}",
                case.id,
                case.verdict.name(),
                case.clause,
                case.reason.replace('|', "\\|")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sha256:` and the first 12 hex digits.
fn short_digest(digest: &str) -> &str {
    &digest[..digest.len().min("sha256:".len() + 12)]
}
