//! Hostile bundles: `verify` refuses each with a message naming what is
//! wrong, and never reads outside the bundle.

mod common;

use std::path::Path;

use common::{SUITE, run_info};
use tokencert_core::bundle::{self, BundleError, MANIFEST_FILE, RESULTS_FILE, RUN_FILE};
use tokencert_core::judge::Plan;

/// A case the bundles plan; its evidence is written by each test as needed.
const CASE: &str = "api.models.list";

/// A sealed bundle that verifies, its evidence one line of `evidence`.
fn sealed(evidence: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle = dir.path();
    std::fs::create_dir(bundle.join(bundle::EVIDENCE_DIR)).expect("mkdir");
    std::fs::write(bundle::evidence_path(bundle, CASE), evidence).expect("evidence");
    let run = run_info(Plan {
        cases: vec![CASE.into()],
        claims: Default::default(),
        ..Plan::default()
    });
    bundle::seal(bundle, &SUITE, &run).expect("seals");
    dir
}

/// The error verifying `bundle` without a key gives.
fn refusal(bundle: &Path) -> BundleError {
    match bundle::verify(bundle, &SUITE, None) {
        Ok(_) => panic!("the bad bundle verified"),
        Err(e) => e,
    }
}

/// Rewrites the manifest after `edit`, as an attacker would, so that
/// every digest matches and only the deeper checks remain.
fn redigest(bundle: &Path) {
    bundle::write_manifest(bundle).expect("manifest");
}

fn edit_manifest(bundle: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = bundle.join(MANIFEST_FILE);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("manifest")).expect("json");
    edit(&mut manifest);
    std::fs::write(&path, manifest.to_string()).expect("write");
}

#[test]
fn a_sealed_bundle_verifies() {
    let dir = sealed(b"");
    bundle::verify(dir.path(), &SUITE, None).expect("verifies");
}

#[test]
fn a_path_leaving_the_bundle_in_the_manifest_is_refused_unread() {
    for name in [
        "/etc/hostname",
        "../outside.json",
        "evidence/../../outside.json",
        "evidence\\..\\..\\outside.json",
        "",
    ] {
        let dir = sealed(b"");
        edit_manifest(dir.path(), |m| m["files"][name] = "sha256:00".into());
        let e = refusal(dir.path());
        assert!(
            matches!(e, BundleError::UnsafePath(ref n) if n == name),
            "{name}: {e}"
        );
        assert!(
            e.to_string()
                .ends_with("which is not a plain path inside the bundle"),
            "{e}"
        );
    }
}

#[test]
fn a_listed_file_that_is_missing_is_named() {
    let dir = sealed(b"");
    std::fs::remove_file(bundle::evidence_path(dir.path(), CASE)).expect("rm");
    let e = refusal(dir.path());
    assert_eq!(
        e.to_string(),
        format!("evidence/{CASE}.jsonl is listed in the manifest but missing")
    );
}

#[cfg(unix)]
#[test]
fn a_linked_directory_pointing_outside_is_refused_before_anything_is_read_through_it() {
    let outside = tempfile::tempdir().expect("temp dir");
    let dir = sealed(b"");
    let evidence = dir.path().join(bundle::EVIDENCE_DIR);
    let name = format!("{CASE}.jsonl");
    // Outside, a file whose digest differs from the manifest's: had it
    // been read, verify would call it modified.
    std::fs::write(outside.path().join(&name), b"outside\n").expect("write outside");
    std::fs::remove_file(evidence.join(&name)).expect("rm");
    std::fs::remove_dir(&evidence).expect("rmdir");
    std::os::unix::fs::symlink(outside.path(), &evidence).expect("symlink");
    let e = refusal(dir.path());
    assert!(
        matches!(e, BundleError::NotAFile(ref n) if n == "evidence"),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "evidence is not a plain file or directory (symlinks and devices are refused)"
    );
}

#[cfg(unix)]
#[test]
fn a_linked_manifest_is_refused_unread() {
    let outside = tempfile::tempdir().expect("temp dir");
    let dir = sealed(b"");
    let manifest = dir.path().join(MANIFEST_FILE);
    std::fs::rename(&manifest, outside.path().join(MANIFEST_FILE)).expect("move");
    std::os::unix::fs::symlink(outside.path().join(MANIFEST_FILE), &manifest).expect("symlink");
    let e = refusal(dir.path());
    assert!(
        matches!(e, BundleError::NotAFile(ref n) if n == MANIFEST_FILE),
        "{e}"
    );
}

#[test]
fn results_with_wrong_types_are_refused() {
    let dir = sealed(b"");
    let path = dir.path().join(RESULTS_FILE);
    std::fs::write(&path, br#"{"format":3,"cases":"none"}"#).expect("write");
    redigest(dir.path());
    let e = refusal(dir.path());
    assert!(matches!(e, BundleError::VerdictsDiffer(_)), "{e}");
    assert!(
        e.to_string().contains(
            "results.json does not parse (invalid type: integer `3`, expected a string at line 1 column 11)"
        ),
        "{e}"
    );
}

#[test]
fn a_run_record_with_wrong_types_is_refused() {
    let dir = sealed(b"");
    let path = dir.path().join(RUN_FILE);
    std::fs::write(&path, br#"{"format":"tokencert-run/1","plan":[]}"#).expect("write");
    redigest(dir.path());
    let e = refusal(dir.path());
    assert!(matches!(e, BundleError::Malformed { .. }), "{e}");
    assert!(
        e.to_string()
            .ends_with("run.json is not a valid run.json: invalid length 0, expected struct Plan with 8 elements at line 1 column 37"),
        "{e}"
    );
}

/// One evidence line of 64 MiB (a JSON string of `x`).
fn huge_line() -> String {
    format!("{{\"type\":\"{}\"}}\n", "x".repeat(64 * 1024 * 1024))
}

#[test]
fn a_huge_evidence_line_swapped_in_is_refused_naming_its_case() {
    let dir = sealed(b"");
    std::fs::write(bundle::evidence_path(dir.path(), CASE), huge_line()).expect("write");
    redigest(dir.path());
    let e = refusal(dir.path());
    assert_eq!(
        e.to_string(),
        format!(
            "results.json differs from the re-judged evidence: case {CASE} differs in its checks or reasons"
        )
    );
}

#[test]
fn a_huge_evidence_line_sealed_in_is_judged_an_error_at_its_line() {
    let dir = sealed(&huge_line().into_bytes());
    let verified = bundle::verify(dir.path(), &SUITE, None).expect("a consistent bundle verifies");
    let case = &verified.results.cases[0];
    let shown = serde_json::to_value(case).expect("json");
    assert_eq!(shown["verdict"], "error", "{shown}");
    let reason = shown["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with("the evidence cannot be read: line 1: not an evidence record"),
        "{reason}"
    );
}

#[test]
fn a_missing_signature_is_refused_when_a_key_is_given() {
    let key = p256::ecdsa::SigningKey::from_slice(&[7; 32]).expect("a key");
    let dir = sealed(b"");
    let e = bundle::verify(dir.path(), &SUITE, Some(key.verifying_key())).expect_err("unsigned");
    assert!(matches!(e, BundleError::Unsigned), "{e}");
    assert_eq!(
        e.to_string(),
        "the bundle is unsigned: it has no attestation.dsse.json to check against the given key"
    );
}
