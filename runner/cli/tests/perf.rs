//! Performance cases end to end: `tokencert run` drives a small load
//! against the embedded reference service's capacity model, judges it
//! from the recorded timings, and `verify` re-derives the verdicts byte
//! for byte. Slower capacity settings and an overload fault each make the
//! threshold they should fail.
//!
//! The suite is a copy of the real `spec/` with one small performance case
//! of the interactive class, so every run stays within seconds. Bounds are
//! the class's own thresholds; the settings are chosen far from them.

mod common;

use std::path::Path;

use common::{small_suite, text, tokencert};
use serde_json::Value;

/// Runs the small suite with extra flags; returns the bundle's results
/// after checking that `verify` re-derives them.
fn run(suite: &Path, out: &Path, flags: &[&str]) -> Value {
    let suite_arg = suite.to_str().expect("utf-8 path");
    let out_arg = out.to_str().expect("utf-8 path");
    let mut args = vec!["run", "--suite", suite_arg, "--out", out_arg];
    args.extend_from_slice(flags);
    let output = tokencert(&args);
    let stderr = text(&output.stderr);
    let bundle = std::fs::read_dir(out)
        .expect("the out directory exists")
        .map(|e| e.expect("entry").path())
        .next()
        .unwrap_or_else(|| panic!("no bundle; stderr:\n{stderr}"));
    let b = bundle.to_str().expect("utf-8 path");
    let verified = tokencert(&["verify", "--suite", suite_arg, b]);
    assert!(
        verified.status.success(),
        "verify must re-derive the verdicts: {}{}",
        text(&verified.stdout),
        text(&verified.stderr)
    );
    let bytes = std::fs::read(bundle.join("results.json")).expect("results.json");
    serde_json::from_slice(&bytes).expect("results.json is JSON")
}

/// The verdict of each check of the one case, by check name.
fn verdicts(results: &Value) -> Vec<(String, String)> {
    results["cases"][0]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap_or_default().to_string(),
                c["verdict"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn verdict_of(results: &Value, check: &str) -> String {
    verdicts(results)
        .into_iter()
        .find(|(name, _)| name == check)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {check} in {results}"))
}

#[test]
fn the_default_reference_meets_the_interactive_class_and_verify_agrees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let results = run(&suite, &dir.path().join("out"), &[]);
    let case = &results["cases"][0];
    assert_eq!(case["verdict"], "pass", "{case}");
    let figures = &case["performance"];
    assert_eq!(figures["load"]["requests"], 8, "{figures}");
    assert_eq!(figures["summary"]["errors"]["errors"], 0, "{figures}");
    // The capacity model generates exactly the asked 16 tokens.
    assert_eq!(figures["summary"]["recount_output_tokens"]["max"], 16);
    assert!(
        figures["plots"]["ttft_cdf"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{figures}"
    );
}

#[test]
fn slow_prefill_fails_the_ttft_threshold() {
    // 100 prompt tokens at 25 ms each: TTFT about 2.5 s, over the 2 s bound.
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let results = run(&suite, &dir.path().join("out"), &["--prefill-us", "25000"]);
    assert_eq!(results["cases"][0]["verdict"], "fail");
    assert_eq!(verdict_of(&results, "slo_ttft"), "fail");
    assert_eq!(verdict_of(&results, "slo_error_rate"), "pass");
}

#[test]
fn slow_decoding_fails_output_speed_and_goodput() {
    // 150 ms per step: about 6.7 tokens/s (bound 20) and TPOT 150 ms over
    // the 100 ms objective, so no request counts towards goodput.
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let results = run(&suite, &dir.path().join("out"), &["--step-us", "150000"]);
    assert_eq!(verdict_of(&results, "slo_output_speed"), "fail");
    assert_eq!(verdict_of(&results, "slo_goodput"), "fail");
    assert_eq!(verdict_of(&results, "slo_ttft"), "pass");
}

#[test]
fn stalls_fail_the_itl_threshold() {
    // A 300 ms step: every gap between tokens is over the 250 ms bound.
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let results = run(&suite, &dir.path().join("out"), &["--step-us", "300000"]);
    assert_eq!(verdict_of(&results, "slo_itl"), "fail");
}

#[test]
fn overload_refusals_fail_the_error_rate() {
    // One sequence at a time and no queue: of two users one is refused 503
    // whenever the other is being served.
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let results = run(
        &suite,
        &dir.path().join("out"),
        &["--max-batch", "1", "--max-queue", "0"],
    );
    assert_eq!(verdict_of(&results, "slo_error_rate"), "fail");
    let errors = &results["cases"][0]["performance"]["summary"]["errors"];
    assert!(
        errors["counts"]["http_5xx"].as_u64().unwrap_or(0) > 0,
        "{errors}"
    );
}

#[test]
fn the_same_load_in_each_dialect_meets_the_interactive_class() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let chat = std::fs::read_to_string(suite.join("suites/perf/chat.yaml")).expect("the case");
    for (name, dialect) in [
        ("messages", "anthropic-messages"),
        ("responses", "openai-responses"),
    ] {
        let case = chat
            .replace("id: perf.chat", &format!("id: perf.{name}"))
            .replace(
                "    load: {closed: {users: 2}}\n",
                &format!("    load: {{closed: {{users: 2}}}}\n    dialect: {dialect}\n"),
            );
        assert!(case.contains(dialect), "{case}");
        std::fs::write(suite.join(format!("suites/perf/{name}.yaml")), case).expect("write");
    }
    let results = run(&suite, &dir.path().join("out"), &[]);
    let cases = results["cases"].as_array().expect("cases");
    let ids: Vec<&str> = cases.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, ["perf.chat", "perf.messages", "perf.responses"]);
    for case in cases {
        let id = &case["id"];
        assert_eq!(case["verdict"], "pass", "{case}");
        let summary = &case["performance"]["summary"];
        assert_eq!(summary["errors"]["counts"]["ok"], 8, "{id}: {summary}");
        for field in ["usage_output_tokens", "recount_output_tokens"] {
            assert_eq!(summary[field]["max"], 16, "{id} {field}");
            assert_eq!(summary[field]["min"], 16, "{id} {field}");
        }
        println!(
            "{id}: TTFT p50 {} ns, TPOT p50 {} ns",
            summary["ttft_ns"]["percentiles"][0]["value"],
            summary["tpot_ns"]["percentiles"][0]["value"]
        );
    }
}
