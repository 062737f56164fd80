//! The case `id.model-fingerprint` (TS-ID-MODEL-FINGERPRINT) against the
//! embedded reference service: with its twin's fingerprints (the main job)
//! it passes and `verify` re-judges it; with llama.cpp's fingerprints
//! declared it fails (a different model, another tokenizer family);
//! without a declared identity it is not claimed. The mutant
//! `model-substituted` failing it is in `tests/mutants.rs`.

use std::path::{Path, PathBuf};

use tokencert::target::{self, Selection};
use tokencert_core::bundle;
use tokencert_core::judge::{CaseResult, Verdict};
use tokencert_core::suite::{self, Identity, Suite};
use tokencert_drive::{Client, DeclaredIdentity, Limits, RunConfig};

const CASE: &str = "id.model-fingerprint";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn suite() -> Suite {
    suite::load(&root()).expect("the suite loads")
}

/// Runs the case against the embedded reference; `declared` replaces the
/// identity `prepare` gives it (the twin) when `Some`.
async fn judge(
    suite: &Suite,
    declared: Option<Option<DeclaredIdentity>>,
    out: &Path,
) -> CaseResult {
    let prepared = target::prepare(Selection::default())
        .await
        .expect("the reference service starts");
    let identity = declared.unwrap_or_else(|| prepared.identity.clone());
    let config = RunConfig {
        suite,
        cases: vec![suite.case(CASE).expect("the case exists")],
        client: Client::new(prepared.target.clone(), Limits::default()).expect("client"),
        claims: prepared.claims.clone(),
        accounting: prepared.accounting.clone(),
        target: prepared.info.clone(),
        bundle_dir: out.to_path_buf(),
        jobs: 1,
        performance: None,
        load_progress: None,
        observation: None,
    };
    let report = tokencert_drive::run_declared(config, identity, |_| {}, std::future::pending())
        .await
        .expect("the run completes");
    prepared.shutdown().await;
    let verified = bundle::verify(out, suite, None).expect("verify re-judges the bundle");
    assert_eq!(verified.results, report.results);
    report.results.cases.into_iter().next().expect("one case")
}

fn llama_cpp(tokenizer_family: Option<&str>) -> Option<DeclaredIdentity> {
    let fixture = |name: &str| root().join("fixtures/llama-cpp").join(name);
    Some(DeclaredIdentity::Profile(Identity {
        tokenizer_family: tokenizer_family.map(str::to_string),
        reference: Some([fixture("fingerprint-a"), fixture("fingerprint-b")]),
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_is_the_model_its_twin_serves_and_verify_agrees() {
    let suite = suite();
    let out = tempfile::tempdir().expect("temp dir");
    let result = judge(&suite, None, &out.path().join("run")).await;
    assert_eq!(result.verdict, Verdict::Pass, "{}", result.reason);
    let check = &result.checks[0];
    assert!(check.reason.contains("same model"), "{}", check.reason);
    for name in tokencert_drive::REFERENCE_NAMES {
        let copy = out
            .path()
            .join("run")
            .join(tokencert_drive::IDENTITY_DIR)
            .join(name);
        assert!(copy.join("fingerprint.json").exists(), "{}", copy.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_llama_cpp_fingerprints_are_another_model_and_another_tokenizer() {
    let suite = suite();
    let out = tempfile::tempdir().expect("temp dir");
    let result = judge(&suite, Some(llama_cpp(None)), &out.path().join("model")).await;
    assert_eq!(result.verdict, Verdict::Fail, "{}", result.reason);
    assert!(
        result.reason.contains("a different model") && result.reason.contains("greedy outputs"),
        "{}",
        result.reason
    );
    let result = judge(
        &suite,
        Some(llama_cpp(Some("gemma-3"))),
        &out.path().join("family"),
    )
    .await;
    assert_eq!(result.verdict, Verdict::Fail, "{}", result.reason);
    assert!(
        result.reason.contains("gemma-3") && result.reason.contains("o200k_base"),
        "{}",
        result.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_declared_identity_the_case_is_not_claimed() {
    let suite = suite();
    let out = tempfile::tempdir().expect("temp dir");
    let result = judge(&suite, Some(None), &out.path().join("run")).await;
    assert_eq!(result.verdict, Verdict::NotClaimed, "{}", result.reason);
    assert!(
        result.reason.contains("identity.reference") && result.reason.contains("two"),
        "{}",
        result.reason
    );
    assert!(
        !out.path()
            .join("run")
            .join(tokencert_drive::IDENTITY_DIR)
            .exists()
    );
}

#[test]
fn the_loader_keeps_the_check_and_the_probe_set_together() {
    let suite = suite();
    let loader = suite.case_loader();
    let rel = Path::new("suites/id/x.yaml");
    let problems = |text: &str| match loader.case(rel, text.as_bytes()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(p) => p
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let head = "id: id.x\nclause: TS-ID-MODEL-FINGERPRINT\ndescription: d\n";
    let without = problems(&format!(
        "{head}request: {{endpoint: models}}\nchecks:\n  - same_model_as_declared\n"
    ));
    assert!(
        without.contains("suites/id/x.yaml:6") && without.contains("fingerprint_probes: true"),
        "{without}"
    );
    let other = problems(&format!(
        "{head}fingerprint_probes: true\nchecks:\n  - same_model_as_declared\n  - usage_adds_up\n"
    ));
    assert!(
        other.contains("/checks/1") && other.contains("usage_adds_up"),
        "{other}"
    );
    let both = problems(&format!(
        "{head}fingerprint_probes: true\nrequest: {{endpoint: models}}\nchecks: [same_model_as_declared]\n"
    ));
    assert!(both.contains("request"), "{both}");
    let case = suite.case(CASE).expect("the case");
    let set = suite.probe_set.as_ref().expect("probe set");
    assert_eq!(case.before.len() + 1, set.cases(true).len());
}
