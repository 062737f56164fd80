//! `--shard I/N` and `--start-at` end to end: the shards of a plan, run as
//! separate processes against the embedded reference service, send
//! exactly the unsharded run's requests between them (same prompts, same
//! scheduled send times, each request once), each shard bundle verifies
//! and records its shard, and bad values are usage errors that say why.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{run_dir, small_suite, text, tokencert};
use serde_json::Value;
use tokencert_core::evidence::{Exchange, read_exchanges};

/// An open-loop case beside the small suite's closed loop (two users).
const OPEN_CASE: &str = "id: perf.open\n\
     clause: TS-PERF-SLO\n\
     description: a short Poisson load\n\
     performance:\n  slo: interactive\n  workload:\n    seed: 9\n    requests: 12\n    \
     duration: 60s\n    prompts: {synthetic: {input: {fixed: 60}, output: {fixed: 8}}}\n    \
     load: {poisson: {rate: 40}}\n\
     checks: [slo_ttft, slo_error_rate]\n";

fn suite(dir: &Path) -> PathBuf {
    let suite = small_suite(&dir.join("suite"));
    std::fs::write(suite.join("suites/perf/open.yaml"), OPEN_CASE).expect("write the case");
    suite
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// `tokencert run` of the performance cases with `flags`, as a child.
fn run_command(suite: &Path, out: &Path, flags: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokencert"));
    command
        .args(["run", "perf.", "--suite", path(suite), "--out", path(out)])
        .args(flags)
        .env_remove("TOKENCERT_BASE_URL")
        .env_remove("TOKENCERT_MODEL")
        .env_remove("TOKENCERT_SUITE")
        .env_remove("TOKENCERT_SIGNING_KEY");
    command
}

/// The one bundle under `out`, checked to verify.
fn verified_bundle(suite: &Path, out: &Path, output: &Output) -> PathBuf {
    let bundle = std::fs::read_dir(out)
        .ok()
        .and_then(|mut entries| entries.next())
        .map(|e| e.expect("entry").path())
        .unwrap_or_else(|| {
            panic!(
                "no bundle under {}:\n{}{}",
                out.display(),
                text(&output.stdout),
                text(&output.stderr)
            )
        });
    let verified = tokencert(&["verify", "--suite", path(suite), path(&bundle)]);
    assert!(
        verified.status.success(),
        "a shard bundle must verify: {}{}",
        text(&verified.stdout),
        text(&verified.stderr)
    );
    bundle
}

fn run_json(bundle: &Path) -> Value {
    let bytes = std::fs::read(bundle.join("run.json")).expect("run.json");
    serde_json::from_slice(&bytes).expect("run.json is JSON")
}

/// A case's exchanges in a bundle.
fn exchanges(bundle: &Path, case: &str) -> Vec<Exchange> {
    read_exchanges(&bundle.join("evidence").join(format!("{case}.jsonl")))
        .unwrap_or_else(|e| panic!("{case}'s evidence in {}: {e}", bundle.display()))
}

/// Each exchange by its plan index: its request body and scheduled time.
type ByIndex = BTreeMap<u64, (Vec<u8>, Option<u64>)>;

fn by_index(exchanges: &[Exchange], closed: bool) -> ByIndex {
    exchanges
        .iter()
        .map(|ex| {
            let index = ex
                .plan_index
                .expect("every load exchange records its plan index");
            // A closed loop's scheduled time is when its user became ready:
            // not part of the plan.
            let scheduled = if closed { None } else { ex.scheduled_ns };
            (index, (ex.request_body.clone(), scheduled))
        })
        .collect()
}

#[test]
fn shards_started_together_send_the_unsharded_plan_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let suite = suite(dir.path());
    let whole_out = dir.path().join("whole");
    let whole = run_command(&suite, &whole_out, &[])
        .output()
        .expect("tokencert runs");
    let whole = verified_bundle(&suite, &whole_out, &whole);
    assert!(
        run_json(&whole).get("shard").is_none(),
        "an unsharded run.json has no shard"
    );

    // Two shards (the closed loop has two users), started together on one
    // schedule zero two seconds ahead.
    let start = SystemTime::now() + std::time::Duration::from_secs(3);
    let start_ns = u64::try_from(
        start
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos(),
    )
    .expect("fits");
    let start_arg = humantime::format_rfc3339_nanos(start).to_string();
    let children: Vec<_> = (0..2)
        .map(|i| {
            let out = dir.path().join(format!("shard-{i}"));
            let shard = format!("{i}/2");
            let child = run_command(&suite, &out, &["--shard", &shard, "--start-at", &start_arg])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("tokencert starts");
            (out, child)
        })
        .collect();
    let mut shards = Vec::new();
    // Each shard's load is bounded (a few dozen short requests), so the
    // children end on their own.
    for (out, child) in children {
        let output = child.wait_with_output().expect("the shard ends");
        let bundle = verified_bundle(&suite, &out, &output);
        assert!(
            text(&output.stdout).contains("shard: "),
            "{}",
            text(&output.stdout)
        );
        shards.push(bundle);
    }

    let mut digests = Vec::new();
    for (case, closed) in [("perf.open", false), ("perf.chat", true)] {
        let expected = by_index(&exchanges(&whole, case), closed);
        assert!(expected.len() >= 8, "{case}: {} requests", expected.len());
        let mut union = ByIndex::new();
        for (i, bundle) in shards.iter().enumerate() {
            let run = run_json(bundle);
            let shard = &run["shard"];
            assert_eq!(shard["index"], i as u64, "{shard}");
            assert_eq!(shard["count"], 2, "{shard}");
            assert_eq!(shard["start_at_unix_ns"], start_ns, "{shard}");
            digests.push(shard["plan_digest"].clone());
            // The first performance case (perf.chat, in suite order) starts
            // at --start-at exactly; the next when it is reached.
            let anchors = &shard["anchors_unix_ns"];
            assert_eq!(anchors["perf.chat"], start_ns, "{shard}");
            assert_eq!(shard["anchor_unix_ns"], start_ns, "{shard}");
            assert!(anchors["perf.open"].as_u64() > Some(start_ns), "{shard}");
            assert_eq!(
                run["plan"]["cases"],
                serde_json::json!(["perf.chat", "perf.open"]),
                "a sharded run runs performance cases only"
            );

            let share = exchanges(bundle, case);
            let indexes: Vec<u64> = share.iter().filter_map(|ex| ex.plan_index).collect();
            assert!(
                indexes.windows(2).all(|w| w[0] < w[1]),
                "{case} shard {i}: plan order, each once: {indexes:?}"
            );
            assert!(
                indexes.iter().all(|k| k % 2 == i as u64),
                "{case} shard {i} sends k ≡ {i} (mod 2) only: {indexes:?}"
            );
            for (k, request) in by_index(&share, closed) {
                assert!(
                    union.insert(k, request).is_none(),
                    "{case}: request {k} sent twice"
                );
            }
        }
        assert_eq!(
            union, expected,
            "{case}: the shards' requests are the unsharded run's (prompts, send times)"
        );
    }
    assert!(
        digests.windows(2).all(|w| w[0] == w[1]),
        "one plan digest: {digests:?}"
    );
}

#[test]
fn a_sharded_load_sends_its_share_and_records_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flags = [
        "load",
        "--rate",
        "50",
        "--requests",
        "9",
        "--input",
        "20",
        "--output",
        "4",
        "--seed",
        "3",
    ];
    let load = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args: Vec<&str> = flags.to_vec();
        args.extend_from_slice(&["--out", path(&out)]);
        args.extend_from_slice(extra);
        let output = tokencert(&args);
        assert!(
            output.status.success(),
            "{}{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        (run_dir(&out, "load"), text(&output.stdout))
    };
    let requests = |run: &Path| -> ByIndex {
        let mut all = ByIndex::new();
        for entry in std::fs::read_dir(run.join("evidence")).expect("evidence") {
            let exchanges = read_exchanges(&entry.expect("entry").path()).expect("evidence");
            all.extend(by_index(&exchanges, false));
        }
        all
    };
    let (whole, _) = load("whole", &[]);
    let (shard, stdout) = load("shard", &["--shard", "1/3"]);
    assert!(stdout.contains("3 planned, 3 sent"), "{stdout}");
    assert!(stdout.contains("shard: 1/3 of plan sha256:"), "{stdout}");
    let expected: ByIndex = requests(&whole)
        .into_iter()
        .filter(|(k, _)| k % 3 == 1)
        .collect();
    assert_eq!(requests(&shard), expected);

    let summary: Value =
        serde_json::from_slice(&std::fs::read(shard.join("summary.json")).expect("summary"))
            .expect("JSON");
    let recorded = &summary["load"]["shard"];
    assert_eq!(
        (&recorded["index"], &recorded["count"]),
        (&1.into(), &3.into())
    );
    assert!(
        recorded["plan_digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    assert_eq!(recorded["start_at_unix_ns"], Value::Null);
    let whole_summary: Value =
        serde_json::from_slice(&std::fs::read(whole.join("summary.json")).expect("summary"))
            .expect("JSON");
    assert!(whole_summary["load"].get("shard").is_none());
}

#[test]
fn bad_shard_and_start_values_are_usage_errors_that_say_why() {
    let dir = tempfile::tempdir().expect("temp dir");
    let suite = suite(dir.path());
    let out = dir.path().join("out");
    let run = |flags: &[&str]| {
        let mut command = run_command(&suite, &out, &[]);
        command.args(flags);
        command.output().expect("tokencert runs")
    };
    let cases: [(&[&str], &str); 7] = [
        (
            &["--shard", "2/2"],
            "the index I must be below the count N, in 0..=1",
        ),
        (&["--shard", "two"], "is not of the form I/N"),
        (&["--shard", "0/0"], "the shard count N must be in 1.."),
        (&["--shard", "0/2", "--start-at", "soon"], "nor +SECONDS"),
        (
            &["--shard", "0/2", "--start-at", "2001-01-01T00:00:00Z"],
            "in the past (more than the 1 s allowed)",
        ),
        (&["--start-at", "+5"], "--shard"),
        // The small suite's closed loop has two users.
        (
            &["--shard", "0/3"],
            "a closed loop of 2 users cannot be split into 3 shards",
        ),
    ];
    for (flags, says) in cases {
        let output = run(flags);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{flags:?} must say {says:?}:\n{stderr}"
        );
    }
    assert!(
        !out.exists() || std::fs::read_dir(&out).expect("out").next().is_none(),
        "nothing was written"
    );

    // The repository's suite: conformance cases only under api.
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let conformance = tokencert(&[
        "run",
        "api.",
        "--suite",
        path(&repository),
        "--out",
        path(&out),
        "--shard",
        "0/2",
    ]);
    assert_eq!(conformance.status.code(), Some(2));
    assert!(
        text(&conformance.stderr).contains("only performance cases are sharded"),
        "{}",
        text(&conformance.stderr)
    );

    let load = tokencert(&["load", "--users", "4", "--shard", "0/8"]);
    assert_eq!(load.status.code(), Some(2));
    assert!(
        text(&load.stderr).contains("a closed loop of 4 users cannot be split into 8 shards"),
        "{}",
        text(&load.stderr)
    );
}
