//! `tokencert merge` end to end: four shards of one plan, run as four
//! processes against one `tokencert serve` on 127.0.0.1 (the capacity
//! model) with a common `--start-at`, merge into a bundle whose requests
//! (count, prompts, plan order, scheduled send times) and verdicts are
//! those of the unsharded run of the same plan against the same service;
//! `verify` accepts it, `compare` finds the two runs consistent, `report`
//! and `ledger add` take it as any bundle. Merge
//! refuses a missing shard (unless --partial, which says so) and a
//! tampered one, naming it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use common::{serve, small_suite, text, tokencert};
use tokencert_core::evidence::{Exchange, read_exchanges};

/// An open-loop case (its schedule is the plan's: the first case, aligned
/// on the common start) and a closed loop of four users (one per shard).
const OPEN: &str = "perf.a-open";
const CLOSED: &str = "perf.b-closed";

fn suite(dir: &Path) -> PathBuf {
    let root = small_suite(dir);
    std::fs::remove_file(root.join("suites/perf/chat.yaml")).expect("rm");
    let case = |id: &str, load: &str, requests: u64| {
        format!(
            "id: {id}\nclause: TS-PERF-SLO\ndescription: a small load for the merge test\n\
             performance:\n  slo: interactive\n  workload:\n    seed: 9\n    requests: {requests}\n    \
             duration: 60s\n    prompts: {{synthetic: {{input: {{fixed: 60}}, output: {{fixed: 8}}}}}}\n    \
             load: {load}\n\
             checks: [slo_ttft, slo_output_speed, slo_itl, slo_error_rate, slo_goodput]\n"
        )
    };
    std::fs::write(
        root.join("suites/perf/a-open.yaml"),
        case(OPEN, "{poisson: {rate: 10}}", 20),
    )
    .expect("write");
    std::fs::write(
        root.join("suites/perf/b-closed.yaml"),
        case(CLOSED, "{closed: {users: 4}}", 12),
    )
    .expect("write");
    std::fs::write(
        root.join("profile.yaml"),
        "name: reference\ndescription: tokencert serve on loopback\nmodel: tokencert-reference\n\
         accounting: {tokenizer: o200k_base}\n\
         performance: {model: tokencert-reference-capacity, classes: [interactive]}\n",
    )
    .expect("write");
    root
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The one bundle under `out`.
fn bundle_in(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("out exists")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// `run` of the suite against `url`, with extra flags, as a child process.
fn run_command(suite: &Path, url: &str, out: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokencert"));
    command
        .args(["run", "--suite", arg(suite), "--target", url])
        .args(["--profile", arg(&suite.join("profile.yaml"))])
        .args(["--out", arg(out)])
        .args(extra)
        .env_remove("TOKENCERT_BASE_URL")
        .env_remove("TOKENCERT_SIGNING_KEY")
        .env_remove("OPENAI_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn exchanges(bundle: &Path, case: &str) -> Vec<Exchange> {
    read_exchanges(&bundle.join(format!("evidence/{case}.jsonl"))).expect("evidence reads")
}

/// Each request's plan index and prompt, in evidence order.
fn requests(list: &[Exchange]) -> Vec<(Option<u64>, String)> {
    list.iter()
        .map(|e| (e.plan_index, text(&e.request_body)))
        .collect()
}

fn verdicts(bundle: &Path) -> Vec<(String, String, Vec<String>)> {
    let bytes = std::fs::read(bundle.join("results.json")).expect("results");
    let results: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    results["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let checks = c["checks"]
                .as_array()
                .expect("checks")
                .iter()
                .map(|k| format!("{} {}", k["check"], k["verdict"]))
                .collect();
            (c["id"].to_string(), c["verdict"].to_string(), checks)
        })
        .collect()
}

#[test]
fn four_shards_merge_into_the_unsharded_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = suite(&dir.path().join("suite"));
    let (server, url) = serve(&[], &[]);

    let whole_out = dir.path().join("unsharded");
    let whole = run_command(&suite, &url, &whole_out, &[])
        .output()
        .expect("runs");
    assert!(whole.status.success(), "{}", text(&whole.stderr));
    let whole = bundle_in(&whole_out);

    let start = SystemTime::now() + Duration::from_secs(5);
    let start_at = humantime::format_rfc3339_seconds(start).to_string();
    let shards_out = dir.path().join("shards");
    let children: Vec<_> = (0..4)
        .map(|i| {
            let out = shards_out.join(i.to_string());
            let shard = format!("{i}/4");
            run_command(
                &suite,
                &url,
                &out,
                &["--shard", &shard, "--start-at", &start_at],
            )
            .spawn()
            .expect("a shard starts")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("a shard ends");
        assert!(output.status.success(), "{}", text(&output.stderr));
    }
    drop(server);
    let shards: Vec<PathBuf> = (0..4)
        .map(|i| bundle_in(&shards_out.join(i.to_string())))
        .collect();

    let merged = dir.path().join("merged");
    let mut args = vec!["merge".to_string(), "--suite".into(), arg(&suite).into()];
    args.extend(shards.iter().map(|s| arg(s).to_string()));
    args.extend(["--out".into(), arg(&merged).into()]);
    let output = tokencert(&args);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("merged 4 of 4 shards"), "{stdout}");
    assert!(stdout.contains("common start"), "{stdout}");

    // The same requests, in plan order; the open loop at the same
    // scheduled instants (the plan's, counted from the common start).
    for case in [OPEN, CLOSED] {
        let (m, w) = (exchanges(&merged, case), exchanges(&whole, case));
        assert_eq!(requests(&m), requests(&w), "{case}");
        let indexes: Vec<_> = m.iter().map(|e| e.plan_index).collect();
        assert_eq!(indexes, (0..m.len() as u64).map(Some).collect::<Vec<_>>());
    }
    let (m, w) = (exchanges(&merged, OPEN), exchanges(&whole, OPEN));
    assert_eq!(m.len(), 20);
    let scheduled = |l: &[Exchange]| l.iter().map(|e| e.scheduled_ns).collect::<Vec<_>>();
    assert_eq!(scheduled(&m), scheduled(&w));
    assert_eq!(verdicts(&merged), verdicts(&whole));

    let suite_arg = arg(&suite);
    let verified = tokencert(&["verify", "--suite", suite_arg, arg(&merged)]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    assert!(
        text(&verified.stdout).contains("merged: 4 of 4 shards"),
        "{}",
        text(&verified.stdout)
    );
    let compared = tokencert(&["compare", "--suite", suite_arg, arg(&merged), arg(&whole)]);
    assert_eq!(
        compared.status.code(),
        Some(0),
        "compare must find the merged and the unsharded run consistent:\n{}{}",
        text(&compared.stdout),
        text(&compared.stderr)
    );

    // An ordinary bundle: `report` writes its report, the ledger takes it.
    let reports = dir.path().join("report");
    let reported = tokencert(&[
        "report",
        "--suite",
        suite_arg,
        arg(&merged),
        "--out",
        arg(&reports),
    ]);
    assert!(reported.status.success(), "{}", text(&reported.stderr));
    let ledger = dir.path().join("ledger");
    let added = tokencert(&[
        "ledger",
        "add",
        "--suite",
        suite_arg,
        "--ledger",
        arg(&ledger),
        arg(&merged),
    ]);
    assert!(
        added.status.success(),
        "{}{}",
        text(&added.stdout),
        text(&added.stderr)
    );

    // A missing shard is refused, unless --partial (which says so).
    let three = [arg(&shards[0]), arg(&shards[1]), arg(&shards[3])];
    let out = dir.path().join("three");
    let mut args = vec!["merge", "--suite", suite_arg];
    args.extend(three);
    args.extend(["--out", arg(&out)]);
    let refused = tokencert(&args);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("index(es) 2") && stderr.contains("--partial"),
        "{stderr}"
    );
    args.push("--partial");
    let partial = tokencert(&args);
    assert!(
        text(&partial.stdout).contains("PARTIAL: shard(s) 2 missing"),
        "{}",
        text(&partial.stdout)
    );
    let verified = tokencert(&["verify", "--suite", suite_arg, arg(&out)]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    assert!(
        text(&verified.stdout).contains("(missing: [2])"),
        "{}",
        text(&verified.stdout)
    );

    // A tampered shard is refused by name.
    let evidence = shards[2].join(format!("evidence/{OPEN}.jsonl"));
    let mut bytes = std::fs::read(&evidence).expect("reads");
    bytes[100] ^= 1;
    std::fs::write(&evidence, bytes).expect("writes");
    let out = dir.path().join("tampered");
    let mut args = vec!["merge", "--suite", suite_arg];
    args.extend(shards.iter().map(|s| arg(s)));
    args.extend(["--out", arg(&out)]);
    let refused = tokencert(&args);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains(arg(&shards[2])) && stderr.contains("has been modified"),
        "{stderr}"
    );
}
