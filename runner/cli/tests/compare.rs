//! `tokencert compare`: two runs of one small suite against the embedded
//! reference service are consistent; a run against a slower decoder
//! differs in the metrics decoding drives; a bundle of another suite is
//! refused.
//!
//! Everything runs in one test so the runs are sequential: the timings of
//! runs sharing the machine with each other would not be comparable.

mod common;

use std::path::{Path, PathBuf};

use common::{small_suite, text, tokencert};
use serde_json::Value;

/// Runs `suite` with extra flags into a fresh directory under `out`;
/// returns the bundle.
fn run(suite: &Path, out: &Path, flags: &[&str]) -> PathBuf {
    let mut args = vec![
        "run",
        "--suite",
        suite.to_str().expect("utf-8 path"),
        "--out",
        out.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(flags);
    let output = tokencert(&args);
    std::fs::read_dir(out)
        .expect("the out directory exists")
        .map(|e| e.expect("entry").path())
        .next()
        .unwrap_or_else(|| panic!("no bundle; stderr:\n{}", text(&output.stderr)))
}

fn compare(suite: &Path, a: &Path, b: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec![
        "compare",
        "--suite",
        suite.to_str().expect("utf-8 path"),
        a.to_str().expect("utf-8 path"),
        b.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let output = tokencert(&args);
    let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
    (output.status.code(), said)
}

#[test]
fn same_service_is_consistent_a_slower_decoder_differs_another_suite_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let a = run(&suite, &dir.path().join("a"), &[]);
    let b = run(&suite, &dir.path().join("b"), &[]);
    // 30 ms decode steps instead of 10: every token comes about three times slower.
    let slow = run(&suite, &dir.path().join("slow"), &["--step-us", "30000"]);

    let json = dir.path().join("same.json");
    let json_arg = json.to_str().expect("utf-8 path");
    let (code, said) = compare(&suite, &a, &b, &["--json", json_arg]);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("\nconsistent: every verdict agrees"),
        "{said}"
    );
    let bytes = std::fs::read(&json).expect("--json writes the comparison");
    let comparison: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(comparison["outcome"], "consistent", "{comparison}");
    assert_eq!(comparison["loads"][0]["case"], "perf.chat");
    let canonical = tokencert_core::canonical::to_vec(&comparison).expect("integers only");
    assert_eq!(canonical, bytes, "--json writes canonical JSON");

    let (code, said) = compare(&suite, &a, &slow, &[]);
    assert_eq!(code, Some(9), "{said}");
    let differs = said
        .split_once("\ndiffers (")
        .map(|(_, list)| list.to_string())
        .unwrap_or_else(|| panic!("no list of differences: {said}"));
    for metric in ["TPOT p50", "output speed p50", "E2E p50"] {
        assert!(
            differs.contains(&format!("perf.chat {metric}")),
            "{metric} not named: {said}"
        );
    }
    assert!(!differs.contains("error rate"), "{said}");

    // The same case with another description is another suite.
    let other = small_suite(&dir.path().join("other"));
    let case = other.join("suites/perf/chat.yaml");
    let yaml = std::fs::read_to_string(&case).expect("the case");
    std::fs::write(
        &case,
        yaml.replace("eight short chats", "eight short chats, again"),
    )
    .expect("rewrite the case");
    let foreign = run(&other, &dir.path().join("other-out"), &[]);
    let (code, said) = compare(&suite, &a, &foreign, &[]);
    assert_eq!(code, Some(4), "{said}");
    assert!(
        said.contains("compare needs two runs of the same suite"),
        "{said}"
    );
}
