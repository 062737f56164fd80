//! The suite loader's checks of one case file, in memory: the project's
//! suite is loaded once, and each input is checked as the case file
//! `suites/fuzz/case.yaml` against its clauses, schemas and SLO profiles,
//! or against a fuzzed clause file.

use std::path::Path;

use tokencert_core::suite::{self, CaseLoader};

use crate::fixture::SUITE;

/// Where the fuzzed case file claims to be; its id must be `fuzz.case`.
const CASE_FILE: &str = "suites/fuzz/case.yaml";

/// Checks the first NUL-separated part of `data` as a case file; the
/// second, when present, is the clause file the case must link into (the
/// project's clauses when absent).
pub fn suite(data: &[u8]) {
    let parts = crate::files(data);
    let project = SUITE.case_loader();
    match parts.get(1) {
        None => check(&project, parts[0]),
        Some(clause_file) => match suite::parse_clauses(clause_file) {
            Ok(clauses) => check(
                &CaseLoader {
                    clauses: &clauses,
                    ..project
                },
                parts[0],
            ),
            Err(problems) => assert!(!problems.is_empty(), "a refusal lists its problems"),
        },
    }
}

fn check(loader: &CaseLoader<'_>, case_file: &[u8]) {
    match loader.case(Path::new(CASE_FILE), case_file) {
        Ok(case) => {
            assert_eq!(case.id, "fuzz.case", "a loaded case carries its path as id");
            assert!(
                loader.clauses.contains_key(&case.clause),
                "a loaded case links a known clause"
            );
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "a refusal lists its problems");
            for p in &problems {
                assert_eq!(p.file, Path::new(CASE_FILE), "{p}");
                let _ = p.to_string();
            }
        }
    }
}
