//! `tokencert list`: cases, and clause coverage.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use tokencert_core::suite::Level;

use super::json_output::{self, ListOutput};

/// Options of `tokencert list`.
#[derive(clap::Args)]
pub struct Args {
    /// Print every clause with the cases linked to it, and fail (exit 1)
    /// when a MUST clause has no case.
    #[arg(long)]
    coverage: bool,
    /// Print one JSON document on stdout (spec/schemas/list-output.schema.json):
    /// the cases, and with --coverage the clauses; the listing goes to stderr.
    #[arg(long)]
    json: bool,
}

/// Prints the listing.
pub fn run(root: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let suite = super::load_suite(root)?;
    let mut out = json_output::human(args.json);
    if args.json {
        json_output::print(&ListOutput::new(&suite, args.coverage)?)?;
    }
    if !args.coverage {
        for case in &suite.cases {
            let level = suite.clause_of(case).map_or("?", |c| c.level.keyword());
            let requires: Vec<&str> = case.requires.iter().map(|c| c.name()).collect();
            let requires = if requires.is_empty() {
                String::new()
            } else {
                format!("  requires {}", requires.join(","))
            };
            writeln!(
                out,
                "{:<44} {:<6} {}{requires}",
                case.id, level, case.clause
            )?;
        }
        writeln!(
            out,
            "{} cases, {} clauses, suite {}",
            suite.cases.len(),
            suite.clauses.len(),
            suite.digest
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut uncovered_must = 0;
    for clause in suite.clauses.values() {
        let cases: Vec<&str> = suite
            .cases
            .iter()
            .filter(|c| c.clause == clause.id)
            .map(|c| c.id.as_str())
            .collect();
        if cases.is_empty() && clause.level == Level::Must {
            uncovered_must += 1;
        }
        let listed = if cases.is_empty() {
            "(no case)".to_string()
        } else {
            cases.join(", ")
        };
        writeln!(
            out,
            "{:<30} {:<6} {:>2}  {listed}",
            clause.id,
            clause.level.keyword(),
            cases.len()
        )?;
    }
    if uncovered_must > 0 {
        eprintln!("{uncovered_must} MUST clause(s) have no case");
        return Ok(ExitCode::from(1));
    }
    writeln!(out, "every MUST clause has at least one case")?;
    Ok(ExitCode::SUCCESS)
}
