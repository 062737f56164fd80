//! The suite loader, through its only entry point: a suite directory.
//! A private copy of the project's `spec/` gets the fuzzed clause file, and
//! its `suites/` holds one case file, the fuzzed one.

use std::path::Path;

use tempfile::TempDir;
use tokencert_core::suite;

use crate::fixture::repo_root;

/// Where the fuzzed case file goes; its id must be `fuzz.case`.
const CASE_FILE: &str = "suites/fuzz/case.yaml";
/// The clause file.
const CLAUSE_FILE: &str = "spec/clauses.yaml";

thread_local! {
    /// The private suite, one per thread: removed when a test's thread
    /// ends (a static would be left behind in the temporary directory).
    static ROOT: TempDir = {
        let root = tempfile::tempdir().expect("a temporary directory");
        copy_dir(&repo_root().join("spec"), &root.path().join("spec"));
        std::fs::create_dir_all(root.path().join("suites/fuzz")).expect("suites/fuzz is created");
        root
    };
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a directory is created");
    for entry in std::fs::read_dir(from).expect("spec/ lists") {
        let entry = entry.expect("spec/ lists");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("spec/ lists").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a spec file copies");
        }
    }
}

/// Loads a suite whose only case file is the first NUL-separated part of
/// `data` and whose clause file is the second (the project's when absent).
pub fn suite(data: &[u8]) {
    ROOT.with(|root| load(root.path(), &crate::files(data)));
}

fn load(root: &Path, parts: &[&[u8]]) {
    let clauses = match parts.get(1) {
        Some(text) => text.to_vec(),
        None => std::fs::read(repo_root().join(CLAUSE_FILE)).expect("spec/clauses.yaml reads"),
    };
    std::fs::write(root.join(CLAUSE_FILE), clauses).expect("the clause file is written");
    std::fs::write(root.join(CASE_FILE), parts[0]).expect("the case file is written");
    match suite::load(root) {
        Ok(loaded) => {
            let case = loaded
                .case("fuzz.case")
                .expect("the one case file loads as fuzz.case");
            assert!(
                loaded.clause_of(case).is_some(),
                "a loaded case links a known clause"
            );
        }
        Err(e) => {
            assert!(!e.problems.is_empty(), "a load error lists its problems");
            let _ = e.to_string();
        }
    }
}
