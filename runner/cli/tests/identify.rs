//! `tokencert identify` end to end: fingerprints of the reference service
//! and its variants (`tokencert fingerprint`), identified against a
//! reference fingerprint with a measured noise floor.
//!
//! The same model is the same; the substituted model (another vocabulary
//! distribution and tokenizer) is different; the quantized model is
//! different when its log-probabilities move by more than the 0.05-nat
//! tolerance and the same when they move by less; a quantized model that
//! fails every task is told by its tasks alone. Same against same over 20
//! seeded repetitions of a reference service with same-model noise gives
//! the false-alarm rate.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{text, tokencert};
use serde_json::Value;
use tokencert_core::identify::{Bundles, Decision, identify_bundles};
use tokencert_drive::{Client, FingerprintConfig, Limits, Remote};
use tokencert_reference::{Config, QUANTIZED_MODEL, Quantization, SUBSTITUTED_MODEL};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `tokencert fingerprint` into `out` with `flags`; returns `out`.
fn fingerprint(out: &Path, flags: &[&str]) -> PathBuf {
    let root = root();
    let mut args = vec!["fingerprint", "--suite", arg(&root), "--out", arg(out)];
    args.extend_from_slice(flags);
    let output = tokencert(&args);
    assert!(
        output.status.success(),
        "fingerprint {flags:?} failed: {}",
        text(&output.stderr)
    );
    out.to_path_buf()
}

/// `tokencert identify` of `candidate` against `reference`, noise floor
/// `noise`: the exit status and what it printed.
fn identify(
    candidate: &Path,
    reference: &Path,
    noise: [&Path; 2],
    extra: &[&str],
) -> (i32, String) {
    let root = root();
    let mut args = vec![
        "identify",
        "--suite",
        arg(&root),
        arg(candidate),
        "--against",
        arg(reference),
        "--noise",
        arg(noise[0]),
        arg(noise[1]),
    ];
    args.extend_from_slice(extra);
    let output = tokencert(&args);
    let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
    (output.status.code().unwrap_or(-1), said)
}

/// The line of evidence `name` (`tokenizer`, `greedy outputs`, `logprobs`,
/// `tasks`) as printed.
fn line<'a>(said: &'a str, name: &str) -> &'a str {
    said.lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} line in {said}"))
}

/// Fingerprints the quantized model of a reference service with
/// `quantization`, started in-process on loopback.
fn quantized(out: &Path, quantization: Quantization) -> PathBuf {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config {
        quantization,
        ..Config::default()
    };
    let server = runtime
        .block_on(tokencert_reference::start(
            config,
            "127.0.0.1:0".parse().expect("address"),
        ))
        .expect("the reference service starts");
    let url = server.base_url();
    let bundle = fingerprint(out, &["--target", &url, "--model", QUANTIZED_MODEL]);
    runtime.block_on(server.shutdown());
    bundle
}

#[test]
fn the_reference_variants_are_identified() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let reference = fingerprint(&d.join("reference"), &[]);
    let again = fingerprint(&d.join("again"), &[]);
    let candidate = fingerprint(&d.join("candidate"), &[]);
    let noise = [reference.as_path(), again.as_path()];

    let out = d.join("same.json");
    let (code, said) = identify(&candidate, &reference, noise, &["--out", arg(&out)]);
    assert_eq!(code, 0, "{said}");
    assert!(said.ends_with("\nsame model\n"), "{said}");
    assert!(
        line(&said, "tokenizer").contains("imply o200k_base"),
        "{said}"
    );
    let bytes = std::fs::read(&out).expect("--out writes the identification");
    let written: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(written["decision"], "same_model");
    assert_eq!(written["noise"]["runs"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        tokencert_core::canonical::to_vec(&written).expect("integers only"),
        bytes,
        "--out writes canonical JSON"
    );

    let substituted = fingerprint(&d.join("substituted"), &["--model", SUBSTITUTED_MODEL]);
    let (code, said) = identify(&substituted, &reference, noise, &[]);
    assert_eq!(code, 9, "{said}");
    assert!(said.contains("\ndifferent model\n"), "{said}");
    for name in ["tokenizer", "greedy outputs", "logprobs"] {
        assert!(line(&said, name).contains("differs"), "{name}: {said}");
    }
    assert!(
        line(&said, "tokenizer").contains("imply cl100k_base"),
        "{said}"
    );

    // 0.2 nats: four times the tolerance; 0.02: under half of it.
    let shift = |micro| Quantization {
        logprob_shift_micro: micro,
        task_failure_per_mille: 0,
    };
    let above = quantized(&d.join("above"), shift(200_000));
    let (code, said) = identify(&above, &reference, noise, &[]);
    assert_eq!(code, 9, "{said}");
    assert!(
        line(&said, "logprobs").starts_with("logprobs        differs"),
        "{said}"
    );
    assert!(line(&said, "greedy outputs").contains("agrees"), "{said}");
    let below = quantized(&d.join("below"), shift(20_000));
    let (code, said) = identify(&below, &reference, noise, &[]);
    assert_eq!(code, 0, "{said}");
    assert!(
        line(&said, "logprobs").contains("median difference 0.020000 nats"),
        "{said}"
    );

    // Every task failed, log-probabilities untouched: the tasks tell.
    let failing = quantized(
        &d.join("failing"),
        Quantization {
            logprob_shift_micro: 0,
            task_failure_per_mille: 1000,
        },
    );
    let (code, said) = identify(&failing, &reference, noise, &[]);
    assert_eq!(code, 9, "{said}");
    assert!(
        line(&said, "tasks").starts_with("tasks           differs"),
        "{said}"
    );

    // A tampered candidate does not verify; an ordinary run is no fingerprint.
    let fp = candidate.join("fingerprint.json");
    let original = std::fs::read(&fp).expect("fingerprint.json");
    std::fs::write(&fp, b"{}\n").expect("tamper");
    let (code, said) = identify(&candidate, &reference, noise, &[]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("does not verify"), "{said}");
    std::fs::write(&fp, original).expect("restore");
    std::fs::remove_file(&fp).expect("remove");
    let (code, said) = identify(&candidate, &reference, noise, &[]);
    assert_eq!(code, 2, "{said}");
}

/// Same-model noise of the reference services below: every
/// log-probability moves by up to 0.005 nats, per request.
const SAME_MODEL_NOISE_MICRO: u64 = 5_000;

/// Same against same, 20 seeded repetitions: each seed a reference service
/// of its own (in-process, on loopback) with [`SAME_MODEL_NOISE_MICRO`] of
/// noise, so that no two of its fingerprints are alike (as a real server's
/// batching makes them), fingerprinted three times: A and B (the noise
/// pair) and C, the candidate, identified against A with the noise floor
/// of A and B, every bundle verified by `identify_bundles`. The stated
/// level is 5%: at most 1 of 20.
#[test]
fn same_versus_same_false_alarms_over_20_seeded_repetitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = tokencert_core::suite::load(&root()).expect("the suite loads");
    let limits = Limits {
        timeout: Duration::from_secs(30),
        body_limit: 16 * 1024 * 1024,
        polite_retries: 0,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut outcomes = Vec::new();
    for seed in 0..20u64 {
        let bundles = runtime.block_on(async {
            let config = Config {
                seed,
                logprob_noise_micro: SAME_MODEL_NOISE_MICRO,
                ..Config::default()
            };
            let server =
                tokencert_reference::start(config, "127.0.0.1:0".parse().expect("address"))
                    .await
                    .expect("the reference starts");
            let prepared = tokencert_drive::prepare_remote(Remote {
                base_url: server.base_url(),
                model: Some(tokencert_reference::DEFAULT_MODEL.to_owned()),
                api_key: None,
                profile: None,
                allow_insecure_http: false,
            })
            .expect("a loopback target");
            let mut bundles = Vec::new();
            for name in ["a", "b", "c"] {
                let bundle_dir = dir.path().join(format!("{seed}-{name}"));
                let client = Client::new(prepared.target.clone(), limits).expect("client");
                tokencert_drive::fingerprint(FingerprintConfig {
                    suite: &suite,
                    client,
                    target: prepared.info.clone(),
                    bundle_dir: bundle_dir.clone(),
                    logprobs: true,
                })
                .await
                .expect("fingerprinted");
                bundles.push(bundle_dir);
            }
            server.shutdown().await;
            bundles
        });
        let [a, b, c] = [&bundles[0], &bundles[1], &bundles[2]];
        let identification = identify_bundles(
            Bundles {
                candidate: c,
                reference: a,
                noise: Some([a, b]),
                candidate_key: None,
                reference_key: None,
            },
            &suite,
        )
        .expect("identified");
        let floor = &identification.noise;
        assert!(
            floor.median_micro.is_some_and(|m| m > 0),
            "seed {seed}: two fingerprints of a noisy service differ: {floor:?}"
        );
        outcomes.push((
            identification.decision,
            floor.median_micro.unwrap_or(0),
            identification.logprobs.median_micro.unwrap_or(0),
        ));
    }
    let alarms = outcomes
        .iter()
        .filter(|(d, _, _)| *d != Decision::SameModel)
        .count();
    let mut floors: Vec<u64> = outcomes.iter().map(|(_, f, _)| *f).collect();
    floors.sort_unstable();
    let mut candidates: Vec<u64> = outcomes.iter().map(|(_, _, c)| *c).collect();
    candidates.sort_unstable();
    println!(
        "same vs same, reference service with ±{} nats of noise, 20 seeds: {alarms} false \
         alarms ({}%); noise floor (median |A − B|) {:.6} to {:.6} nats, candidate's median \
         |C − A| {:.6} to {:.6} nats",
        SAME_MODEL_NOISE_MICRO as f64 / 1e6,
        alarms * 5,
        floors[0] as f64 / 1e6,
        floors[19] as f64 / 1e6,
        candidates[0] as f64 / 1e6,
        candidates[19] as f64 / 1e6,
    );
    assert_eq!(outcomes.len(), 20);
    assert!(alarms <= 1, "{alarms} of 20: {outcomes:?}");
}

/// llama.cpp identified from its committed fingerprints (re-judged from
/// their evidence, whatever suite they were recorded with, as long as its
/// probe set is this one): two fingerprints of it are the same model, the
/// reference service is a different model, and its billed prompt tokens
/// imply Gemma 3's tokenizer, not o200k_base.
#[test]
fn llama_cpp_is_identified_from_its_committed_fingerprints() {
    let llama = |name: &str| root().join("fixtures/llama-cpp").join(name);
    let (a, b) = (llama("fingerprint-a"), llama("fingerprint-b"));
    let dir = tempfile::tempdir().expect("tempdir");
    let read = |path: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(path).expect("--out written")).expect("JSON")
    };

    let out = dir.path().join("self.json");
    let (code, said) = identify(&b, &a, [&a, &b], &["--out", arg(&out)]);
    assert_eq!(code, 0, "{said}");
    let itself = read(&out);
    assert_eq!(itself["decision"], "same_model", "{said}");
    assert_eq!(itself["greedy"]["finding"], "agrees", "{said}");
    assert_eq!(itself["tokenizer"]["candidate"]["implied"], "gemma-3");
    assert_eq!(itself["tokenizer"]["reference"]["implied"], "gemma-3");

    let reference = fingerprint(&dir.path().join("reference"), &[]);
    let again = fingerprint(&dir.path().join("again"), &[]);
    let out = dir.path().join("against-reference.json");
    let (code, said) = identify(&a, &reference, [&reference, &again], &["--out", arg(&out)]);
    assert_eq!(code, 9, "{said}");
    let against = read(&out);
    assert_eq!(against["decision"], "different_model", "{said}");
    assert_eq!(against["tokenizer"]["finding"], "differs", "{said}");
    assert_eq!(against["tokenizer"]["candidate"]["implied"], "gemma-3");
    assert_eq!(against["tokenizer"]["reference"]["implied"], "o200k_base");
    assert_eq!(against["greedy"]["finding"], "differs", "{said}");
}
