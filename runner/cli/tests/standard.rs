//! The standard embedded in the binary: the same digest as the checkout's,
//! exported byte for byte, and enough to run and verify from a directory
//! that is no checkout.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::text;

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The built binary run in `dir`, with no suite or target from the
/// environment.
fn tokencert_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .current_dir(dir)
        .args(args)
        .env_remove("TOKENCERT_SUITE")
        .env_remove("TOKENCERT_BASE_URL")
        .env_remove("TOKENCERT_MODEL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("TOKENCERT_SIGNING_KEY")
        .output()
        .expect("tokencert runs")
}

#[test]
fn version_names_the_checkouts_suite_digest() {
    let digest = tokencert_core::digest::suite_digest(&checkout()).expect("the checkout's digest");
    let out = common::tokencert(&["--version"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains(&format!("(suite {digest})")),
        "{printed} does not name {digest}"
    );
    assert!(printed.starts_with(&format!("tokencert {}", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn export_writes_the_checkouts_files_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = common::tokencert(&["suite", "export", &dir.path().display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        tokencert_core::digest::suite_digest(dir.path()).expect("the export's digest"),
        tokencert_core::digest::suite_digest(&checkout()).expect("the checkout's digest")
    );
    let again = common::tokencert(&["suite", "export", &dir.path().display().to_string()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn the_main_job_runs_and_verifies_outside_the_checkout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = tokencert_in(dir.path(), &["run"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let reports: Vec<PathBuf> = std::fs::read_dir(dir.path().join("reports"))
        .expect("the main job writes under reports/")
        .map(|e| e.expect("an entry").path())
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let verify = tokencert_in(dir.path(), &["verify", &reports[0].display().to_string()]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stderr));

    let example = std::fs::read_dir(checkout().join("reports/example"))
        .expect("the example bundle")
        .map(|e| e.expect("an entry").path())
        .find(|p| p.join("manifest.json").exists())
        .expect("reports/example holds a bundle");
    let verify = tokencert_in(dir.path(), &["verify", &example.display().to_string()]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stderr));
}

#[test]
fn a_bundle_of_another_suite_names_the_suite_it_needs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = dir.path().join("suite");
    let export = tokencert_in(dir.path(), &["suite", "export", "suite"]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    // Another standard: only the model-list cases of this one.
    for gone in [
        "suites/acc",
        "suites/perf",
        "suites/rel",
        "suites/sec",
        "suites/api/chat",
        "suites/api/completions",
        "suites/api/error",
    ] {
        std::fs::remove_dir_all(suite.join(gone)).expect("remove a part of the suite");
    }
    let digest = tokencert_core::digest::suite_digest(&suite).expect("the edited digest");

    let run = tokencert_in(dir.path(), &["--suite", "suite", "run", "--out", "out"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let bundle = std::fs::read_dir(dir.path().join("out"))
        .expect("out")
        .map(|e| e.expect("an entry").path())
        .next()
        .expect("a bundle");
    let verify = tokencert_in(dir.path(), &["verify", &bundle.display().to_string()]);
    assert_eq!(verify.status.code(), Some(4), "{}", text(&verify.stderr));
    let message = text(&verify.stderr);
    assert!(
        message.contains(&format!("this bundle needs suite {digest}")),
        "{message}"
    );
    assert!(message.contains("tokencert suite export DIR"), "{message}");
    let with_suite = tokencert_in(
        dir.path(),
        &["--suite", "suite", "verify", &bundle.display().to_string()],
    );
    assert_eq!(
        with_suite.status.code(),
        Some(0),
        "{}",
        text(&with_suite.stderr)
    );
}
