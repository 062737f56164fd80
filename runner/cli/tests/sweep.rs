//! `tokencert sweep` end to end against the embedded reference service with
//! a fast capacity model (steps of 5 ms + 0.5 ms per sequence, a batch of
//! 4, 16-token answers): the sweep's throughput rises then plateaus and the
//! knee is the first step beyond the batch; the capacity search lands near
//! the rate the model predicts; bad flags.
//!
//! Predictions come from [`Capacity`], not hard-coded numbers. Bounds are
//! wide (0.5x to 2x, ±50 %) so that a loaded two-core machine running a
//! debug build does not make them flaky.

mod common;

use common::{run_dir, text, tokencert};

use std::path::PathBuf;
use std::time::Duration;

use tokencert_reference::Capacity;

/// Prompt tokens of every request (the chat template adds a few the
/// predictions leave out: under 1 % of a step here).
const INPUT: u64 = 50;
/// Output tokens of every request (the capacity model generates exactly
/// `max_tokens`).
const OUTPUT: u64 = 16;

/// The fast model the tests serve, as its flags say.
fn model() -> Capacity {
    Capacity {
        prefill_per_token: Duration::from_micros(20),
        step_base: Duration::from_micros(5_000),
        step_per_sequence: Duration::from_micros(500),
        max_batch: 4,
        ..Capacity::default()
    }
}

/// The flags that serve [`model`] and send its workload.
fn model_flags() -> Vec<String> {
    let c = model();
    [
        "--prefill-us".to_string(),
        c.prefill_per_token.as_micros().to_string(),
        "--step-us".to_string(),
        c.step_base.as_micros().to_string(),
        "--step-per-sequence-us".to_string(),
        c.step_per_sequence.as_micros().to_string(),
        "--max-batch".to_string(),
        c.max_batch.to_string(),
        "--input".to_string(),
        INPUT.to_string(),
        "--output".to_string(),
        OUTPUT.to_string(),
    ]
    .into()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Runs `sweep` with `args` plus the model's flags, writing under a fresh
/// directory; returns stdout and sweep.json.
fn sweep(args: &[&str]) -> (String, serde_json::Value, PathBuf, tempfile::TempDir) {
    let out = tempfile::tempdir().expect("temp dir");
    let mut all = strings(&["sweep", "--out", out.path().to_str().expect("UTF-8")]);
    all.extend(strings(args));
    all.extend(model_flags());
    let output = tokencert(&all);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    println!("{stdout}");
    let dir = run_dir(out.path(), "sweep");
    let bytes = std::fs::read(dir.join("sweep.json")).expect("sweep.json is written");
    let json: serde_json::Value = serde_json::from_slice(&bytes).expect("sweep.json is JSON");
    // Canonical: integers only, keys sorted, one line.
    assert_eq!(
        tokencert_core::canonical::to_vec(&json).expect("canonical"),
        bytes
    );
    (stdout, json, dir, out)
}

fn field(step: &serde_json::Value, name: &str) -> u64 {
    step[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no {name} in {step}"))
}

/// Requests per second of a steady full batch: the model's capacity.
fn saturated_requests_per_s() -> f64 {
    model().saturated_tokens_per_s(INPUT as usize, OUTPUT as usize) / OUTPUT as f64
}

#[test]
fn throughput_rises_then_plateaus_and_the_knee_follows_the_batch() {
    let users: [u64; 5] = [1, 2, 4, 8, 16];
    let list = users.map(|u| u.to_string()).join(",");
    let (stdout, json, dir, _out) = sweep(&["--users", &list, "--requests", "40"]);
    let steps = json["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), users.len(), "{json}");
    for (step, u) in steps.iter().zip(users) {
        assert_eq!(field(step, "users"), u);
        assert_eq!(field(step, "errors"), 0, "{step}");
        let step_dir = dir.join(step["dir"].as_str().expect("dir"));
        assert!(step_dir.join("summary.json").is_file(), "{step_dir:?}");
    }
    #[cfg(unix)]
    for file in [
        dir.join("sweep.json"),
        dir.join(format!(
            "{}/summary.json",
            steps[0]["dir"].as_str().expect("dir")
        )),
    ] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file:?}");
    }
    let tokens: Vec<f64> = steps
        .iter()
        .map(|s| field(s, "output_token_throughput_milli") as f64 / 1000.0)
        .collect();
    let plateau = model().saturated_tokens_per_s(INPUT as usize, OUTPUT as usize);
    println!("output tokens/s {tokens:?}, model plateau {plateau:.1}");
    // Rises up to the batch...
    assert!(tokens[2] > 1.5 * tokens[0], "{tokens:?}");
    // ...then holds near the model's plateau.
    for t in &tokens[3..] {
        assert!(
            *t > 0.5 * plateau && *t < 1.5 * plateau,
            "{t} vs plateau {plateau}: {tokens:?}"
        );
    }
    assert!(tokens[4] < 1.3 * tokens[3], "{tokens:?}");
    // The knee is the first step with more users than the batch holds, or
    // the step that fills the batch when a busy machine already loses half
    // of that step's gain to contention.
    let beyond = users
        .iter()
        .position(|&u| u as usize > model().max_batch)
        .expect("a step beyond the batch");
    let knee = json["knee_step"]
        .as_u64()
        .and_then(|k| usize::try_from(k).ok())
        .expect("a knee is found");
    assert!(
        knee == beyond || knee + 1 == beyond,
        "knee at step {knee}: {stdout}"
    );
    assert!(
        stdout.contains(&format!("knee: {} users", users[knee])),
        "{stdout}"
    );
    for column in ["TTFT p50 ms", "TPOT p50 ms", "E2E p95 ms", "goodput"] {
        assert!(stdout.contains(column), "no {column}:\n{stdout}");
    }
}

#[test]
fn the_capacity_search_finds_the_models_capacity() {
    let c = model();
    let full = c.expected(INPUT as usize, OUTPUT as usize, c.max_batch);
    // Objectives the model meets at a full batch with room to spare:
    // queueing past saturation is what breaks them.
    let service_ns = full.ttft_ns + (OUTPUT - 1) * full.tpot_ns;
    let slo_ttft_ms = (2 * service_ns / 1_000_000).to_string();
    let slo_tpot_ms = (2 * full.tpot_ns / 1_000_000).to_string();
    let (stdout, json, _dir, _out) = sweep(&[
        "--find-capacity",
        "--slo-ttft-ms",
        &slo_ttft_ms,
        "--slo-tpot-ms",
        &slo_tpot_ms,
        "--requests",
        "60",
        "--duration",
        "2s",
    ]);
    assert_eq!(json["capacity_bracketed"], true, "{stdout}");
    let found = field(&json, "capacity_rate_milli") as f64 / 1000.0;
    let predicted = saturated_requests_per_s();
    println!("capacity {found} requests/s, model {predicted:.2}");
    assert!(
        found > 0.5 * predicted && found < 2.0 * predicted,
        "{found} vs {predicted}:\n{stdout}"
    );
    assert!(stdout.contains("capacity: "), "{stdout}");
    assert!(stdout.contains("goodput >= 90%"), "{stdout}");
    let probes = json["steps"].as_array().expect("steps").len();
    assert!((3..=18).contains(&probes), "{probes} probes");
}

#[test]
fn bad_flags_are_usage_errors() {
    for (args, says) in [
        (&["sweep"][..], "--users"),
        (&["sweep", "--users", "4,2"][..], "must increase"),
        (&["sweep", "--users", "0,1"][..], "--users"),
        (&["sweep", "--rates", "1,0"][..], "not above 0"),
        (
            &["sweep", "--users", "1", "--rates", "1"][..],
            "cannot be used with",
        ),
        (&["sweep", "--find-capacity"][..], "--slo-ttft-ms"),
        (
            &["sweep", "--users", "1", "--goodput-percent", "80"][..],
            "--find-capacity",
        ),
        (
            &[
                "sweep",
                "--find-capacity",
                "--slo-ttft-ms",
                "0",
                "--slo-tpot-ms",
                "1",
            ][..],
            "not above 0",
        ),
    ] {
        let output = tokencert(&strings(args));
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_ends_the_sweep_at_the_running_step_and_still_writes_sweep_json() {
    let out = tempfile::tempdir().expect("temp dir");
    let out_arg = out.path().to_str().expect("UTF-8");
    let (code, stdout) = common::interrupted_when(
        &[
            "sweep",
            "--users",
            "1,2,4",
            "--requests",
            "200",
            "--input",
            "50",
            "--output",
            "16",
            "--step-us",
            "30000",
            "--out",
            out_arg,
        ],
        || common::entries_in_runs(out.path(), "step-01/evidence") >= 2,
    );
    assert_eq!(code, Some(130), "{stdout}");
    let dir = run_dir(out.path(), "sweep");
    let bytes = std::fs::read(dir.join("sweep.json")).expect("sweep.json is written");
    let json: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(json["interrupted"], true, "{json}");
    let steps = json["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 1, "no step after the interrupt: {json}");
    assert!(field(&steps[0], "sent") < 200, "{json}");
    assert!(json["knee_step"].is_null(), "{json}");
    assert!(!dir.join("step-02").exists());
}
