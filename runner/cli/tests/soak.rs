//! `tokencert soak` end to end against the embedded reference service:
//! short soaks (3 s in 1 s windows) whose soak.json re-derives from the
//! evidence alone, and an overloaded service whose 503s show as error
//! bursts.

mod common;

use std::path::{Path, PathBuf};

use common::{run_dir, text, tokencert};
use serde_json::Value;
use tokencert_core::canonical;
use tokencert_core::evidence::read_exchanges;
use tokencert_core::performance::place;
use tokencert_core::soak::{SoakSample, SoakSpec, soak};
use tokencert_core::tokens::{Tokenizer, TokenizerSpec};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("soak-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs a 3 s soak in 1 s windows of short requests with `flags`; returns
/// its stdout and soak.json, after checking that the figures re-derive
/// from the evidence.
fn soak_run(name: &str, flags: &[&str]) -> (String, Value) {
    let out = scratch(name);
    let mut args = vec![
        "soak",
        "--duration",
        "3s",
        "--window",
        "1s",
        "--input",
        "50",
        "--output",
        "16",
        "--requests",
        "1000",
        "--out",
        out.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(flags);
    let output = tokencert(&args);
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("tokencert: soak for 3s in windows of 1s"),
        "{stderr}"
    );
    let dir = run_dir(&out, "soak");
    let bytes = std::fs::read(dir.join("soak.json")).expect("soak.json");
    let json: Value = serde_json::from_slice(&bytes).expect("soak.json is JSON");
    assert_eq!(
        canonical::to_vec(&json).expect("canonical"),
        bytes,
        "soak.json is canonical"
    );
    assert_eq!(
        json["figures"],
        rederived(&dir, &json),
        "the figures re-derive"
    );
    (stdout, json)
}

/// The soak figures computed afresh from the evidence files and the spec
/// soak.json states.
fn rederived(dir: &Path, json: &Value) -> Value {
    let tokenizer = Tokenizer::load(&TokenizerSpec::O200kBase, Path::new(".")).expect("o200k_base");
    let mut samples = Vec::new();
    for entry in std::fs::read_dir(dir.join("evidence"))
        .expect("evidence")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let index: u64 = name.trim_end_matches(".jsonl").parse().expect("an index");
        let exchanges = read_exchanges(&entry.path()).expect("readable evidence");
        for placed in place(&exchanges, &tokenizer).expect("placed") {
            samples.push(SoakSample::of(index, &placed));
        }
    }
    let spec: SoakSpec = serde_json::from_value(json["figures"]["spec"].clone()).expect("spec");
    serde_json::to_value(soak(&samples, spec).expect("figures")).expect("JSON")
}

fn u(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

#[test]
fn a_short_soak_reports_each_window_and_their_variation() {
    let (stdout, json) = soak_run("steady", &[]);
    let figures = &json["figures"];
    let windows = figures["windows"].as_array().expect("windows");
    assert!(windows.len() >= 3, "{windows:?}");
    for (i, w) in windows.iter().enumerate().take(3) {
        assert_eq!(u(&w["index"]), i as u64);
        assert_eq!(w["steady"], true, "window {i} is within the 3 s");
        assert!(u(&w["requests"]) > 0, "window {i} has requests: {w}");
        assert!(u(&w["output_tokens_per_s_milli"]) > 0, "{w}");
        assert!(u(&w["e2e_ns"]["p50"]) <= u(&w["e2e_ns"]["p99"]), "{w}");
    }
    assert!(windows[3..].iter().all(|w| w["steady"] == false));
    let ended: u64 = windows.iter().map(|w| u(&w["requests"])).sum();
    assert_eq!(ended, u(&figures["requests"]));
    assert_eq!(ended, u(&json["load"]["sent"]));
    assert_eq!(u(&figures["errors"]), 0, "{stdout}");
    let stability = &figures["stability"];
    assert_eq!(u(&stability["e2e_p50_ns"]["windows"]), 3);
    // A steady service: the median E2E hardly moves from window to window.
    assert!(
        u(&stability["e2e_p50_ns"]["cv_per_mille"]) < 100,
        "{stability}"
    );
    assert_eq!(json["load"]["interrupted"], false);
    assert_eq!(json["load"]["plan_exhausted"], false);
    for expected in [
        "TTFT p50/p95/p99 ms",
        "E2E p99",
        "CV",
        "error bursts: none",
        "soak: ",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in:\n{stdout}");
    }
}

#[test]
fn an_overloaded_service_shows_error_bursts() {
    // One sequence at a time and no queue: requests arriving while one
    // streams are answered 503 at once.
    let (stdout, json) = soak_run(
        "overloaded",
        &["--rate", "10", "--max-batch", "1", "--max-queue", "0"],
    );
    let figures = &json["figures"];
    let bursts = figures["bursts"].as_array().expect("bursts");
    assert!(!bursts.is_empty(), "{stdout}");
    let elapsed = u(&json["load"]["elapsed_ns"]);
    for b in bursts {
        assert!(u(&b["count"]) >= 2, "{b}");
        assert_eq!(u(&b["classes"]["http_5xx"]), u(&b["count"]), "{b}");
        assert!(
            u(&b["start_ns"]) <= u(&b["end_ns"]) && u(&b["end_ns"]) <= elapsed,
            "{b}"
        );
        assert!(u(&b["first_request"]) < u(&b["last_request"]), "{b}");
    }
    assert!(u(&figures["errors"]) > 0);
    assert!(stdout.contains("error burst: "), "{stdout}");
}

#[test]
fn a_soak_needs_a_bounded_duration_and_a_window_within_it() {
    for (args, says) in [
        (vec!["soak"], "--duration"),
        (vec!["soak", "--duration", "25h"], "over the limit of 1day"),
        (
            vec!["soak", "--duration", "5s", "--window", "10s"],
            "at most --duration",
        ),
        (
            vec!["soak", "--duration", "5s", "--window", "10ms"],
            "at least 100ms",
        ),
    ] {
        let out = tokencert(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{says:?} not in {stderr}");
    }
}
