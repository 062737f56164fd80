//! The ledger against real bundles of the embedded reference service:
//! what it accepts, what it refuses (changing nothing), how it shows
//! signers, compares them, and rebuilds its index.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::Path;

use common::{bundles, copy_dir, listing, suite, trust_key_1};
use tokencert_core::bundle::BundleError;
use tokencert_ledger::{Ledger, LedgerError, Role, Signature};

fn ledger_with_trust(dir: &Path) -> Ledger {
    let ledger = Ledger::create(dir).unwrap();
    trust_key_1(dir);
    ledger
}

fn add(ledger: &mut Ledger, path: &Path) -> tokencert_ledger::Added {
    let trust = ledger.trust().unwrap();
    ledger.add(path, suite(), &trust).unwrap()
}

fn count(ledger: &Ledger, sql: &str) -> i64 {
    ledger
        .connection()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn added_bundles_are_listed_with_their_signers() {
    let b = bundles();
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = ledger_with_trust(dir.path());
    let unsigned = add(&mut ledger, &b.unsigned);
    let a = add(&mut ledger, &b.signed_a);
    let other = add(&mut ledger, &b.signed_b);
    assert!(unsigned.new && a.new && other.new);
    assert_eq!(unsigned.signature, Signature::Unsigned);
    assert!(matches!(
        &a.signature,
        Signature::Known { name, role: Role::Observer, .. } if name == "Test observatory"
    ));
    assert!(matches!(other.signature, Signature::UnknownSigner { .. }));

    let listed = ledger.list().unwrap();
    assert_eq!(listed.len(), 3);
    let row = |id: &str| listed.iter().find(|l| l.id == id).unwrap();
    // Unsigned is shown as unsigned, never hidden.
    assert_eq!(row(&unsigned.id).signer, None);
    assert!(!row(&unsigned.id).signer_known);
    assert!(row(&a.id).signer_known);
    assert_eq!(row(&a.id).observer.as_deref(), Some("test observatory"));
    // An unknown signer is indexed by key id and flagged.
    let Signature::UnknownSigner { key_id } = &other.signature else {
        unreachable!()
    };
    assert_eq!(row(&other.id).signer.as_ref(), Some(key_id));
    assert!(!row(&other.id).signer_known);

    // The id is the manifest's digest, and the bundle is stored whole.
    let stored = ledger.bundle_dir(&a.id);
    let manifest = std::fs::read(stored.join("manifest.json")).unwrap();
    let digest = tokencert_core::digest::sha256(&manifest);
    assert_eq!(digest, format!("sha256:{}", a.id));
    tokencert_core::bundle::verify(&stored, suite(), None).expect("the stored copy verifies");

    // Rows: verdicts by area, figures of the performance case with its
    // method, evidence counts.
    assert!(count(&ledger, "SELECT count(*) FROM verdicts WHERE area = 'API'") >= 1);
    let workload: String = ledger
        .connection()
        .query_row(
            "SELECT DISTINCT workload FROM figure WHERE case_id = 'perf.interactive'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(workload.len(), 64);
    assert_eq!(
        count(
            &ledger,
            "SELECT count(*) FROM figure WHERE metric = 'ttft_p50_seconds' AND value > 0"
        ),
        2
    );
    assert!(count(&ledger, "SELECT min(answered) FROM bundle") > 0);
    assert!(count(&ledger, "SELECT min(tokens_billed) FROM bundle") > 0);
    assert_eq!(
        count(
            &ledger,
            "SELECT count(*) FROM bundle WHERE exchanges < answered"
        ),
        0
    );
}

#[test]
fn two_signers_of_one_method_in_overlapping_windows_are_compared() {
    let b = bundles();
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = ledger_with_trust(dir.path());
    let a = add(&mut ledger, &b.signed_a);
    assert!(a.agreements.is_empty());
    let other = add(&mut ledger, &b.signed_b);
    let cases: Vec<&str> = other
        .agreements
        .iter()
        .map(|r| r.case_id.as_str())
        .collect();
    assert_eq!(cases, ["perf.interactive", "*"]);
    // The pair is ordered by start, then id (both runs may start in the
    // same second).
    let started = |id: &str| -> (i64, String) {
        let start = ledger
            .connection()
            .query_row("SELECT started_unix FROM bundle WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        (start, id.to_string())
    };
    let mut pair = [started(&a.id), started(&other.id)];
    pair.sort();
    for row in &other.agreements {
        assert_eq!((&row.a, &row.b), (&pair[0].1, &pair[1].1));
        assert!(!row.summary.is_empty());
    }
    assert_eq!(count(&ledger, "SELECT count(*) FROM agreement"), 2);
    // The unsigned bundle ran other cases: no method in common with either.
    let unsigned = add(&mut ledger, &b.unsigned);
    assert!(unsigned.agreements.is_empty());
}

#[test]
fn a_tampered_bundle_is_refused_and_changes_nothing() {
    let b = bundles();
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = ledger_with_trust(dir.path());
    add(&mut ledger, &b.unsigned);
    let before = (ledger.dump().unwrap(), listing(dir.path()));

    let work = tempfile::tempdir().unwrap();
    // One byte of evidence changed.
    let tampered = work.path().join("tampered");
    copy_dir(&b.signed_a, &tampered);
    let evidence = tampered.join("evidence/api.chat.basic.jsonl");
    let mut bytes = std::fs::read(&evidence).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    std::fs::write(&evidence, bytes).unwrap();
    let trust = ledger.trust().unwrap();
    let err = ledger.add(&tampered, suite(), &trust).unwrap_err();
    assert!(
        matches!(&err, LedgerError::Refused { source: BundleError::Tampered { path, .. }, .. } if path == "evidence/api.chat.basic.jsonl"),
        "{err}"
    );

    // A trusted signer's envelope on another bundle: the signature does
    // not cover these files.
    let forged = work.path().join("forged");
    copy_dir(&b.signed_b, &forged);
    std::fs::copy(
        b.signed_a.join("attestation.dsse.json"),
        forged.join("attestation.dsse.json"),
    )
    .unwrap();
    let err = ledger.add(&forged, suite(), &trust).unwrap_err();
    assert!(
        matches!(
            &err,
            LedgerError::Refused {
                source: BundleError::Signature(_),
                ..
            }
        ),
        "{err}"
    );

    // Re-judged verdicts that differ from results.json.
    let rejudged = work.path().join("rejudged");
    copy_dir(&b.unsigned, &rejudged);
    let results = rejudged.join("results.json");
    let text = std::fs::read_to_string(&results).unwrap();
    std::fs::write(&results, text.replacen("\"pass\"", "\"fail\"", 1)).unwrap();
    tokencert_core::bundle::write_manifest(&rejudged).unwrap();
    let err = ledger.add(&rejudged, suite(), &trust).unwrap_err();
    assert!(
        matches!(
            &err,
            LedgerError::Refused {
                source: BundleError::VerdictsDiffer(_),
                ..
            }
        ),
        "{err}"
    );

    assert_eq!((ledger.dump().unwrap(), listing(dir.path())), before);
}

#[test]
fn a_symlinked_bundle_or_hostile_paths_are_refused() {
    let b = bundles();
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = ledger_with_trust(dir.path());
    let before = (ledger.dump().unwrap(), listing(dir.path()));
    let trust = ledger.trust().unwrap();
    let work = tempfile::tempdir().unwrap();

    let link = work.path().join("link");
    std::os::unix::fs::symlink(&b.unsigned, &link).unwrap();
    let err = ledger.add(&link, suite(), &trust).unwrap_err();
    assert!(matches!(err, LedgerError::NotADirectory(_)), "{err}");

    // A file inside replaced by a link to a file outside.
    let linked_file = work.path().join("linked-file");
    copy_dir(&b.unsigned, &linked_file);
    let evidence = linked_file.join("evidence/api.chat.basic.jsonl");
    std::fs::remove_file(&evidence).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &evidence).unwrap();
    let err = ledger.add(&linked_file, suite(), &trust).unwrap_err();
    assert!(
        matches!(
            &err,
            LedgerError::Refused {
                source: BundleError::NotAFile(_),
                ..
            }
        ),
        "{err}"
    );

    // A manifest naming a path outside the bundle.
    let escaping = work.path().join("escaping");
    copy_dir(&b.unsigned, &escaping);
    let manifest = escaping.join("manifest.json");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    value["files"]["../../outside"] = "sha256:00".into();
    std::fs::write(&manifest, serde_json::to_vec(&value).unwrap()).unwrap();
    let err = ledger.add(&escaping, suite(), &trust).unwrap_err();
    assert!(
        matches!(
            &err,
            LedgerError::Refused {
                source: BundleError::UnsafePath(_),
                ..
            }
        ),
        "{err}"
    );

    assert_eq!((ledger.dump().unwrap(), listing(dir.path())), before);
}

#[test]
fn adding_a_bundle_twice_is_a_no_op() {
    let b = bundles();
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = ledger_with_trust(dir.path());
    let first = add(&mut ledger, &b.signed_a);
    let before = (ledger.dump().unwrap(), listing(dir.path()));
    // Even from the ledger's own copy.
    let stored = ledger.bundle_dir(&first.id);
    let again = add(&mut ledger, &stored);
    assert_eq!(again.id, first.id);
    assert!(first.new && !again.new);
    assert_eq!((ledger.dump().unwrap(), listing(dir.path())), before);
}

#[test]
fn rebuild_reproduces_the_rows_and_the_bytes() {
    let b = bundles();
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = ledger_with_trust(dir.path());
    for path in [&b.signed_b, &b.unsigned, &b.signed_a] {
        add(&mut ledger, path);
    }
    let id = ledger.list().unwrap()[0].id.clone();
    ledger.pin(&id).unwrap();
    // The summaries are part of the dump: two signers' newest bundles of
    // the performance case, and every bundle counted in an hourly bucket.
    assert_eq!(count(&ledger, "SELECT count(*) FROM latest"), 2);
    assert_eq!(
        count(&ledger, "SELECT sum(bundles) FROM availability"),
        count(&ledger, "SELECT count(*) FROM bundle")
    );
    assert_eq!(
        count(&ledger, "SELECT sum(exchanges) FROM availability"),
        count(&ledger, "SELECT sum(exchanges) FROM bundle")
    );
    let dump = ledger.dump().unwrap();
    drop(ledger);

    let rebuilt = Ledger::rebuild(dir.path()).unwrap();
    assert_eq!(
        String::from_utf8(rebuilt.dump().unwrap()).unwrap(),
        String::from_utf8(dump).unwrap()
    );
    drop(rebuilt);
    let index = dir.path().join(tokencert_ledger::INDEX_FILE);
    let first = std::fs::read(&index).unwrap();
    drop(Ledger::rebuild(dir.path()).unwrap());
    assert!(
        std::fs::read(&index).unwrap() == first,
        "two rebuilds differ"
    );
}

#[test]
fn pruned_evidence_keeps_the_rows_through_a_rebuild() {
    let b = bundles();
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = ledger_with_trust(dir.path());
    let a = add(&mut ledger, &b.signed_a);
    let other = add(&mut ledger, &b.signed_b);
    let unsigned = add(&mut ledger, &b.unsigned);
    ledger.pin(&a.id).unwrap();

    // Nothing is older than the epoch.
    assert!(ledger.prune_evidence(0, true).unwrap().bundles.is_empty());
    let pruned = ledger.prune_evidence(i64::MAX, true).unwrap();
    let mut expected = vec![other.id.clone(), unsigned.id.clone()];
    expected.sort();
    assert_eq!(pruned.bundles, expected);
    assert!(pruned.bytes > 0);
    assert!(ledger.bundle_dir(&a.id).join("evidence").is_dir());
    assert!(!ledger.bundle_dir(&other.id).join("evidence").exists());
    assert_eq!(count(&ledger, "SELECT count(*) FROM bundle"), 3);
    assert_eq!(
        count(
            &ledger,
            "SELECT count(*) FROM bundle WHERE evidence_pruned = 1"
        ),
        2
    );
    assert_eq!(count(&ledger, "SELECT count(*) FROM agreement"), 2);
    assert!(count(&ledger, "SELECT min(exchanges) FROM bundle") > 0);

    let dump = ledger.dump().unwrap();
    drop(ledger);
    let rebuilt = Ledger::rebuild(dir.path()).unwrap();
    assert_eq!(
        String::from_utf8(rebuilt.dump().unwrap()).unwrap(),
        String::from_utf8(dump).unwrap()
    );
}

#[test]
fn a_bad_trust_file_names_its_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trust.yaml");
    std::fs::write(
        &path,
        "- name: ok\n  role: vendor\n  public_key: missing.pem\n",
    )
    .unwrap();
    let err = tokencert_ledger::Trust::load(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("trust.yaml:3: field /0/public_key") && err.contains("missing.pem"),
        "{err}"
    );
    std::fs::write(&path, "- name: ok\n  role: referee\n  public_key: x\n").unwrap();
    let err = tokencert_ledger::Trust::load(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("trust.yaml:2") && err.contains("role"),
        "{err}"
    );
}
