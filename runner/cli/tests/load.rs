//! `tokencert load` end to end against the embedded reference service with
//! its default capacity model: the table, summary.json and the evidence;
//! agreement with the model's expectation; bad flags.
//!
//! Bounds are wide (±50 %) so that a loaded two-core machine does not make
//! them flaky.

mod common;

use common::{run_dir, text, tokencert};

use std::path::Path;

use tokencert_reference::Capacity;

fn summary(dir: &Path) -> serde_json::Value {
    let bytes = std::fs::read(dir.join("summary.json")).expect("summary.json is written");
    serde_json::from_slice(&bytes).expect("summary.json is JSON")
}

/// The p50 of a distribution in summary.json.
fn p50(summary: &serde_json::Value, metric: &str) -> u64 {
    summary["summary"][metric]["percentiles"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "p50"))
        .and_then(|p| p["value"].as_u64())
        .unwrap_or_else(|| panic!("no p50 of {metric} in {summary}"))
}

#[test]
fn a_closed_loop_run_prints_the_table_and_writes_its_files() {
    let out = tempfile::tempdir().expect("temp dir");
    let out_arg = out.path().to_str().expect("a UTF-8 path");
    let output = tokencert(&[
        "load",
        "--requests",
        "8",
        "--users",
        "1",
        "--preset",
        "short",
        "--out",
        out_arg,
    ]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    for row in ["TTFB", "TTFT", "E2E", "ITL (token)", "TPOT"] {
        assert!(stdout.contains(row), "no {row} row:\n{stdout}");
    }
    for line in [
        "8 planned, 8 sent, 8 ok, 0 errors",
        "errors by class:",
        "achieved rate:",
        "output speed p50:",
        "output tokens/s",
    ] {
        assert!(stdout.contains(line), "no {line:?}:\n{stdout}");
    }
    let dir = run_dir(out.path(), "load");
    let evidence: Vec<_> = std::fs::read_dir(dir.join("evidence"))
        .expect("the evidence directory")
        .collect();
    assert_eq!(evidence.len(), 8);
    let summary = summary(&dir);
    assert_eq!(summary["load"]["sent"], 8);
    assert_eq!(summary["load"]["succeeded"], 8);
    assert_eq!(summary["summary"]["errors"]["counts"]["ok"], 8);
    assert!(summary["steady_state"]["output_token_throughput_milli"].as_u64() > Some(0));
    // Canonical: integers only, keys sorted, one line.
    let bytes = std::fs::read(dir.join("summary.json")).expect("summary.json");
    assert_eq!(
        tokencert_core::canonical::to_vec(&summary).expect("canonical"),
        bytes
    );
}

/// One user's load in each dialect (chat completions, messages,
/// responses) of the same engine: TTFT and TPOT within the bounds of the
/// model's expectation, and every request billed and recounted at exactly
/// its 40 tokens (so the dialect's usage was read).
#[test]
fn one_user_agrees_with_the_capacity_model_in_every_dialect() {
    let expected = Capacity::default().expected(200, 40, 1);
    let mut failures = Vec::new();
    for (dialect, path) in [
        ("openai-chat", "/chat/completions"),
        ("anthropic-messages", "/messages"),
        ("openai-responses", "/responses"),
    ] {
        let out = tempfile::tempdir().expect("temp dir");
        let out_arg = out.path().to_str().expect("a UTF-8 path");
        let output = tokencert(&[
            "load",
            "--requests",
            "10",
            "--users",
            "1",
            "--input",
            "200",
            "--output",
            "40",
            "--seed",
            "3",
            "--dialect",
            dialect,
            "--out",
            out_arg,
        ]);
        assert!(
            output.status.success(),
            "{dialect}: {}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        let dir = run_dir(out.path(), "load");
        let summary = summary(&dir);
        assert_eq!(summary["load"]["dialect"], dialect);
        assert_eq!(
            summary["summary"]["errors"]["counts"]["ok"], 10,
            "{dialect}: {}",
            summary["summary"]["errors"]
        );
        for field in ["usage_output_tokens", "recount_output_tokens"] {
            let tokens = &summary["summary"][field];
            assert_eq!(
                (&tokens["count"], &tokens["min"], &tokens["max"]),
                (&10.into(), &40.into(), &40.into()),
                "{dialect} {field}: {tokens}"
            );
        }
        let evidence = std::fs::read_dir(dir.join("evidence"))
            .expect("the evidence directory")
            .next()
            .expect("a request file")
            .expect("an entry")
            .path();
        let exchanges =
            tokencert_core::evidence::read_exchanges(&evidence).expect("the evidence reads");
        assert!(
            exchanges[0].url.ends_with(path),
            "{dialect}: {}",
            exchanges[0].url
        );
        let ttft = p50(&summary, "ttft_ns");
        let tpot = p50(&summary, "tpot_ns");
        println!(
            "{dialect}: TTFT p50 {ttft} ns (model {}), TPOT p50 {tpot} ns (model {})",
            expected.ttft_ns, expected.tpot_ns
        );
        let within = |measured: u64, model: u64| {
            measured >= model / 2 && measured <= model.saturating_mul(3) / 2
        };
        if !within(ttft, expected.ttft_ns) {
            failures.push(format!("{dialect}: TTFT {ttft} vs {expected:?}"));
        }
        if !within(tpot, expected.tpot_ns) {
            failures.push(format!("{dialect}: TPOT {tpot} vs {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn outputs_are_as_long_as_asked_and_a_full_queue_shows_as_5xx() {
    let out = tempfile::tempdir().expect("temp dir");
    let out_arg = out.path().to_str().expect("a UTF-8 path");
    // Eight users against one batch place and no queue: most are refused.
    let output = tokencert(&[
        "load",
        "--requests",
        "16",
        "--users",
        "8",
        "--input",
        "20",
        "--output",
        "50",
        "--step-us",
        "1000",
        "--max-batch",
        "1",
        "--max-queue",
        "0",
        "--out",
        out_arg,
    ]);
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let summary = summary(&run_dir(out.path(), "load"));
    let counts = &summary["summary"]["errors"]["counts"];
    let ok = counts["ok"].as_u64().expect("ok count");
    let refused = counts["http_5xx"].as_u64().expect("5xx count");
    assert!(ok >= 1 && refused >= 1, "{counts}");
    assert_eq!(ok + refused, 16, "{counts}");
    // Every answered request generated exactly its max_tokens, as billed
    // and as recounted.
    for field in ["usage_output_tokens", "recount_output_tokens"] {
        let tokens = &summary["summary"][field];
        assert_eq!(tokens["count"], ok, "{field}: {tokens}");
        assert_eq!(
            (&tokens["min"], &tokens["max"]),
            (&50.into(), &50.into()),
            "{field}"
        );
    }
}

#[test]
fn bad_flags_are_usage_errors() {
    for (args, says) in [
        (&["load", "--requests", "0"][..], "--requests"),
        (&["load", "--requests", "100001"][..], "--requests"),
        (
            &["load", "--rate", "2", "--users", "3"][..],
            "cannot be used with",
        ),
        (&["load", "--duration", "2h"][..], "over the limit of 1h"),
        (&["load", "--preset", "huge"][..], "unknown preset"),
        (&["load", "--input", "10"][..], "--output"),
        (&["load", "--rate=0", "--requests", "1"][..], "rate"),
        (&["load", "--max-batch", "0"][..], "--max-batch"),
        (
            &[
                "load",
                "--target",
                "http://127.0.0.1:9/v1",
                "--max-queue",
                "1",
            ][..],
            "cannot be used with",
        ),
    ] {
        let output = tokencert(args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn plain_http_beyond_this_machine_is_refused() {
    let output = tokencert(&[
        "load",
        "--target",
        "http://192.0.2.1:8000/v1",
        "--model",
        "m",
        "--requests",
        "1",
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--allow-insecure-http"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_scheduling_and_still_writes_the_summary() {
    let out = tempfile::tempdir().expect("temp dir");
    let out_arg = out.path().to_str().expect("a UTF-8 path");
    let (code, stdout) = common::interrupted_when(
        &[
            "load",
            "--requests",
            "200",
            "--users",
            "2",
            "--input",
            "50",
            "--output",
            "16",
            "--step-us",
            "30000",
            "--out",
            out_arg,
        ],
        || common::entries_in_runs(out.path(), "evidence") >= 3,
    );
    assert_eq!(code, Some(130), "{stdout}");
    assert!(
        stdout.contains("interrupted: Ctrl-C stopped the load after"),
        "{stdout}"
    );
    let json = summary(&run_dir(out.path(), "load"));
    assert_eq!(json["load"]["interrupted"], true, "{json}");
    let sent = json["load"]["sent"].as_u64().expect("sent");
    assert!((3..200).contains(&sent), "{sent} of 200 sent");
}
