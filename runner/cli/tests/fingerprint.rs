//! Fingerprint bundles (`tokencert fingerprint`): the two recorded from
//! llama.cpp (fixtures/llama-cpp/fingerprint-a and -b) re-derived from
//! their evidence, a forged fingerprint refused by `verify`, and the
//! embedded reference service's variants fingerprinted end to end.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokencert_core::bundle::{self, BundleError, ReferenceInfo, TargetInfo};
use tokencert_core::fingerprint::{self, Fingerprint};
use tokencert_core::suite::{self, Suite};
use tokencert_drive::{ApiKey, Client, FingerprintConfig, Limits, Target};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn suite() -> Suite {
    suite::load(&root()).expect("the suite loads")
}

fn llama(name: &str) -> PathBuf {
    root().join("fixtures/llama-cpp").join(name)
}

/// Tokens each family gives the probe texts beyond the first probe's,
/// and the family whose differences the billed counts match exactly.
fn implied_family(fp: &Fingerprint) -> Option<String> {
    let first = fp.tokenizer_probes.first()?;
    let mut families = first.expected.keys();
    families
        .find(|family| {
            fp.tokenizer_probes.iter().all(|p| {
                let billed = p
                    .prompt_tokens
                    .zip(first.prompt_tokens)
                    .map(|(a, b)| a as i64 - b as i64);
                let counted = p
                    .expected
                    .get(*family)
                    .zip(first.expected.get(*family))
                    .map(|(a, b)| *a as i64 - *b as i64);
                billed.is_some() && billed == counted
            })
        })
        .cloned()
}

#[test]
fn the_llama_cpp_fingerprints_are_intact_and_re_derived_byte_for_byte() {
    let suite = suite();
    let mut prints = Vec::new();
    for name in ["fingerprint-a", "fingerprint-b"] {
        let dir = llama(name);
        bundle::verify_files(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let derived = fingerprint::of_bundle(&dir, &suite).expect("derived");
        let recorded = std::fs::read(dir.join(fingerprint::FILE)).expect("fingerprint.json");
        assert_eq!(
            String::from_utf8_lossy(&recorded),
            String::from_utf8_lossy(
                &tokencert_core::canonical::to_vec(&derived).expect("canonical")
            ),
            "{name}: the evidence gives another fingerprint"
        );
        assert_eq!(derived.model, "gemma3-270m");
        assert!(derived.generations.iter().all(|g| !g.tokens.is_empty()));
        assert!(
            derived
                .generations
                .iter()
                .flat_map(|g| &g.tokens)
                .all(|t| t.logprob.is_some() && !t.top.is_empty())
        );
        prints.push(derived);
    }
    // llama.cpp at temperature 0, one request at a time, is deterministic.
    assert_eq!(prints[0].generations, prints[1].generations);
    // Its billed prompt tokens follow Gemma 3's tokenizer, not o200k_base.
    assert_eq!(implied_family(&prints[0]).as_deref(), Some("gemma-3"));
}

#[test]
fn a_forged_fingerprint_does_not_verify() {
    let suite = suite();
    let copy = tempfile::tempdir().expect("tempdir");
    let dir = copy.path().join("fp");
    copy_dir(&llama("fingerprint-a"), &dir);
    let mut forged = fingerprint::of_bundle(&dir, &suite).expect("derived");
    forged.tasks[0].passed = !forged.tasks[0].passed;
    bundle::write_canonical(&dir.join(fingerprint::FILE), &forged).expect("write");
    bundle::write_manifest(&dir).expect("manifest");
    match fingerprint::verify_bundle(&dir, &suite) {
        Err(BundleError::FingerprintDiffers(why)) => {
            assert!(why.contains(&forged.tasks[0].task), "{why}")
        }
        other => panic!("expected FingerprintDiffers, got {other:?}"),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Fingerprints `model` of a fresh embedded reference service.
async fn reference_fingerprint(suite: &Suite, model: &str, out: &Path) -> Fingerprint {
    let server = tokencert_reference::start(
        tokencert_reference::Config::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .expect("reference starts");
    let base_url = server.base_url();
    let target = Target {
        base_url: base_url.clone(),
        model: model.into(),
        api_key: None::<ApiKey>,
        limits: Default::default(),
        rate_limit: None,
        dialects: Default::default(),
    };
    let limits = Limits {
        timeout: Duration::from_secs(10),
        body_limit: 1 << 20,
        polite_retries: 0,
    };
    let fp = tokencert_drive::fingerprint(FingerprintConfig {
        suite,
        client: Client::new(target, limits).expect("client"),
        target: TargetInfo {
            base_url,
            model: model.into(),
            reference: Some(ReferenceInfo {
                seed: 0,
                mutant: None,
                capacity: None,
            }),
        },
        bundle_dir: out.to_path_buf(),
        logprobs: true,
    })
    .await
    .expect("fingerprint");
    server.shutdown().await;
    fp
}

#[test]
fn the_reference_variants_leave_the_marks_they_are_made_with() {
    let suite = suite();
    let tmp = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let [same, substituted, quantized] = [
        "tokencert-reference",
        tokencert_reference::SUBSTITUTED_MODEL,
        tokencert_reference::QUANTIZED_MODEL,
    ]
    .map(|model| {
        let out = tmp.path().join(model);
        let fp = runtime.block_on(reference_fingerprint(&suite, model, &out));
        let verified = bundle::verify(&out, &suite, None).expect("the bundle verifies");
        assert!(
            verified.results.cases.is_empty(),
            "a fingerprint runs no case"
        );
        fp
    });
    assert!(same.tasks.iter().all(|t| t.passed), "{:?}", same.tasks);
    assert_eq!(implied_family(&same).as_deref(), Some("o200k_base"));
    assert_eq!(implied_family(&substituted).as_deref(), Some("cl100k_base"));
    assert_ne!(same.generations, substituted.generations);
    // Quantized: the same greedy tokens, every logprob 0.2 nats away.
    let pairs = same
        .generations
        .iter()
        .flat_map(|g| &g.tokens)
        .zip(quantized.generations.iter().flat_map(|g| &g.tokens));
    for (a, b) in pairs {
        assert_eq!(a.token, b.token);
        let gap = (a.logprob.expect("logprob") - b.logprob.expect("logprob")).abs();
        assert!((gap - 0.2).abs() < 2e-6, "{gap}");
    }
    // A quarter of 16 tasks failed, by a hash of each request.
    let failed = quantized.tasks.iter().filter(|t| !t.passed).count();
    assert!((2..=8).contains(&failed), "{failed} of 16 failed");
    assert_eq!(implied_family(&quantized).as_deref(), Some("o200k_base"));
}

#[test]
fn run_never_sends_the_probe_set() {
    let suite = suite();
    assert!(suite.probe_set.is_some());
    assert!(
        suite
            .cases
            .iter()
            .all(|c| !c.id.starts_with(fingerprint::probes::CASE_PREFIX))
    );
}

/// A fingerprint bundle runs no cases, so it is identified against any
/// suite of its probe set: a change elsewhere in the suite does not make
/// the committed llama.cpp fingerprints stale, another probe-set version
/// does, and so does a bundle of another suite that holds no fingerprint.
#[test]
fn a_fingerprint_is_identified_with_any_suite_of_its_probe_set() {
    use tokencert_core::identify::{Bundles, Decision, IdentifyBundlesError, identify_bundles};
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("standard");
    for top in ["spec", "suites"] {
        copy_dir(&self::root().join(top), &root.join(top));
    }
    let case = root.join("suites/api/chat/basic.yaml");
    let text = std::fs::read_to_string(&case).expect("case");
    std::fs::write(&case, text.replace("returns a", "answers with a")).expect("edit");
    let edited = suite::load(&root).expect("the edited suite loads");
    assert_ne!(edited.digest, suite().digest);
    let (a, b) = (llama("fingerprint-a"), llama("fingerprint-b"));
    assert!(matches!(
        bundle::verify(&a, &edited, None),
        Err(BundleError::DifferentSuite { .. })
    ));
    let identify = |candidate: &Path, suite: &Suite| {
        identify_bundles(
            Bundles {
                candidate,
                reference: &a,
                noise: None,
                candidate_key: None,
                reference_key: None,
            },
            suite,
        )
    };
    let same = identify(&b, &edited).expect("identified across suites");
    assert_eq!(same.decision, Decision::SameModel);

    let no_fingerprint = tmp.path().join("plain");
    copy_dir(&b, &no_fingerprint);
    std::fs::remove_file(no_fingerprint.join(fingerprint::FILE)).expect("remove");
    bundle::write_manifest(&no_fingerprint).expect("manifest");
    match identify(&no_fingerprint, &edited) {
        Err(IdentifyBundlesError::Bundle {
            source: BundleError::DifferentSuite { .. },
            ..
        }) => {}
        other => panic!("expected DifferentSuite, got {other:?}"),
    }

    let probes = root.join("suites/fingerprint/probes.yaml");
    let text = std::fs::read_to_string(&probes).expect("probes");
    std::fs::write(&probes, text.replace("version: 2\n", "version: 3\n")).expect("bump");
    let bumped = suite::load(&root).expect("the bumped suite loads");
    match identify(&b, &bumped) {
        Err(IdentifyBundlesError::Bundle {
            source: BundleError::DifferentSuite { bundle, disk, .. },
            ..
        }) => {
            assert!(bundle.contains("probe set fp-2"), "{bundle}");
            assert!(disk.contains("probe set fp-3"), "{disk}");
        }
        other => panic!("expected DifferentSuite, got {other:?}"),
    }
}
