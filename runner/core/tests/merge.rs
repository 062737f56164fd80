//! Merging shard bundles built by hand: the merge of four shards is, byte
//! for byte, the unsharded run's evidence and results; verify re-derives a
//! merged bundle from its shards and catches evidence that does not
//! follow; every refusal names its shard; anchors move times; and (ignored,
//! a benchmark) the merge time of 100,000 requests.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::{SUITE, content, done, run_info};
use tokencert_core::bundle::{self, BundleError, RunInfo, Shard};
use tokencert_core::evidence::{RawBytes, Record};
use tokencert_core::judge::Plan;
use tokencert_core::merge::{self, AlignedBy, MergeError, MergeRequest};
use tokencert_core::suite::PerformanceClaim;

const CASE: &str = "perf.batch";
const MS: u64 = 1_000_000;
const PLAN_DIGEST: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000aa";
const START_AT: u64 = 1_800_000_000_000_000_000;

fn plan() -> Plan {
    Plan {
        cases: vec![CASE.into()],
        performance: Some(PerformanceClaim {
            model: None,
            classes: ["batch".to_string()].into(),
        }),
        ..Plan::default()
    }
}

/// The evidence lines of planned request `k`: scheduled every 50 ms, sent
/// 1 ms late, `tokens` one-token events 5 ms apart after a 20 ms TTFT
/// (a little slower for odd k, so the percentiles have a spread).
fn request_lines(k: u64, tokens: u64) -> String {
    let scheduled = k * 50 * MS;
    let ttft = (20 + k % 7) * MS;
    let mut records = vec![
        Record::Request {
            case: CASE.into(),
            method: "POST".into(),
            url: "http://127.0.0.1:1/v1/chat/completions".into(),
            headers: vec![("authorization".into(), "Bearer [REDACTED]".into())],
            body: RawBytes::new(
                format!(r#"{{"model":"m","stream":true,"messages":[{{"role":"user","content":"request {k}"}}]}}"#)
                    .as_bytes(),
            ),
            attempt: 0,
            scheduled_ns: Some(scheduled),
            sent_ns: Some(scheduled + MS),
            plan_index: Some(k),
        },
        Record::Response {
            t_ns: 10 * MS,
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
        },
    ];
    for i in 0..tokens {
        records.push(Record::Chunk {
            t_ns: ttft + i * 5 * MS,
            bytes: RawBytes::new(content(" word").as_bytes()),
        });
    }
    let end = ttft + tokens * 5 * MS;
    records.push(Record::Chunk {
        t_ns: end,
        bytes: RawBytes::new(done().as_bytes()),
    });
    records.push(Record::End {
        t_ns: end,
        outcome: tokencert_core::evidence::Outcome::Complete,
    });
    records
        .iter()
        .map(|r| serde_json::to_string(r).expect("records serialize") + "\n")
        .collect()
}

fn shard(index: u64, count: u64, anchor: u64, start_at: Option<u64>) -> Shard {
    Shard {
        index,
        count,
        plan_digest: PLAN_DIGEST.into(),
        anchor_unix_ns: anchor,
        start_at_unix_ns: start_at,
        anchors_unix_ns: [(CASE.to_string(), anchor)].into(),
    }
}

/// Seals a bundle at `dir` holding the requests `ks` (in that order) of
/// the case, recorded by `run`.
fn sealed(dir: &Path, run: &RunInfo, ks: impl Iterator<Item = u64>, tokens: u64) {
    std::fs::create_dir_all(dir.join(bundle::EVIDENCE_DIR)).expect("mkdir");
    let text: String = ks.map(|k| request_lines(k, tokens)).collect();
    if !text.is_empty() {
        std::fs::write(bundle::evidence_path(dir, CASE), text).expect("evidence");
    }
    bundle::seal(dir, &SUITE, run).expect("seals");
}

/// `count` shard bundles of `requests` requests under `root`, aligned on a
/// common start instant; returns their directories.
fn shards(root: &Path, requests: u64, count: u64, tokens: u64) -> Vec<PathBuf> {
    (0..count)
        .map(|i| {
            let dir = root.join(format!("shard-{i}"));
            let run = RunInfo {
                run_id: format!("shard-{i}"),
                shard: Some(shard(i, count, START_AT + i * 1_000, Some(START_AT))),
                ..run_info(plan())
            };
            sealed(&dir, &run, (i..requests).step_by(count as usize), tokens);
            dir
        })
        .collect()
}

fn request<'a>(shards: &'a [PathBuf], out: &'a Path) -> MergeRequest<'a> {
    MergeRequest {
        shards,
        out,
        suite: &SUITE,
        key: None,
        partial: false,
        tool: "tokencert test",
        now: "2026-11-26T00:00:05Z",
    }
}

#[test]
fn four_shards_merge_into_the_unsharded_evidence_and_results() {
    let root = tempfile::tempdir().expect("tempdir");
    let whole = root.path().join("unsharded");
    sealed(&whole, &run_info(plan()), 0..40, 8);
    let parts = shards(root.path(), 40, 4, 8);
    let out = root.path().join("merged");
    let merged = merge::merge(&request(&parts, &out)).expect("merges");

    let read = |dir: &Path, name: &str| std::fs::read(dir.join(name)).expect("reads");
    let evidence = format!("{}/{CASE}.jsonl", bundle::EVIDENCE_DIR);
    assert_eq!(read(&out, &evidence), read(&whole, &evidence));
    assert_eq!(
        read(&out, bundle::RESULTS_FILE),
        read(&whole, bundle::RESULTS_FILE)
    );
    assert_eq!(
        merged.joined,
        vec![(
            CASE.to_string(),
            merge::Joined {
                requests: 40,
                lines: 40 * 12,
                bytes: read(&out, &evidence).len() as u64,
            }
        )]
    );
    let info = merged.run.merge.as_ref().expect("a merge record");
    assert_eq!(info.alignment[CASE].by, AlignedBy::StartAt);
    assert_eq!(info.alignment[CASE].anchor_spread_ns, 3_000);
    assert_eq!(info.start_at_unix_ns, Some(START_AT));
    assert!(info.merged_from.iter().all(|m| m.offsets_ns[CASE] == 0));
    assert_eq!(info.merged_from.len(), 4);
    assert!(out.join("shards/3/manifest.json").is_file());

    let verified = bundle::verify(&out, &SUITE, None).expect("the merged bundle verifies");
    assert_eq!(verified.run, merged.run);
    assert!(verified.run.shard.is_none());
}

#[test]
fn verify_rederives_the_merged_evidence_from_the_shards() {
    let root = tempfile::tempdir().expect("tempdir");
    let parts = shards(root.path(), 12, 3, 4);
    let out = root.path().join("merged");
    let merged = merge::merge(&request(&parts, &out)).expect("merges");

    // Drop a request from the merged evidence and re-seal: every digest and
    // the re-judged results agree, but the evidence is not the shards' join.
    let path = bundle::evidence_path(&out, CASE);
    let text = std::fs::read_to_string(&path).expect("reads");
    let kept: String = text.lines().skip(9).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, kept).expect("writes");
    bundle::seal(&out, &SUITE, &merged.run).expect("re-seals");
    match bundle::verify(&out, &SUITE, None) {
        Err(BundleError::MergeDiffers(why)) => {
            assert!(
                why.contains("not the join of the shards' evidence"),
                "{why}"
            );
        }
        other => panic!("expected MergeDiffers, got {other:?}"),
    }

    // A merge record that claims another offset is caught too.
    let mut run = merged.run.clone();
    if let Some(m) = run.merge.as_mut() {
        m.merged_from[1].offsets_ns.insert(CASE.into(), 5);
    }
    std::fs::write(&path, &text).expect("writes");
    bundle::seal(&out, &SUITE, &run).expect("re-seals");
    match bundle::verify(&out, &SUITE, None) {
        Err(BundleError::MergeDiffers(why)) => assert!(why.contains("run.json's merge"), "{why}"),
        other => panic!("expected MergeDiffers, got {other:?}"),
    }

    // And so is a tampered shard copy (its own manifest no longer holds),
    // even after re-sealing the merged bundle over it.
    bundle::seal(&out, &SUITE, &merged.run).expect("re-seals");
    bundle::verify(&out, &SUITE, None).expect("verifies again");
    let copy = bundle::evidence_path(&out.join("shards/1"), CASE);
    let mut shard_text = std::fs::read_to_string(&copy).expect("reads");
    shard_text = shard_text.replacen("request 1", "request X", 1);
    std::fs::write(&copy, shard_text).expect("writes");
    bundle::seal(&out, &SUITE, &merged.run).expect("re-seals");
    match bundle::verify(&out, &SUITE, None) {
        Err(BundleError::MergeDiffers(why)) => {
            assert!(
                why.contains("shards/1") && why.contains("modified"),
                "{why}"
            );
        }
        other => panic!("expected MergeDiffers, got {other:?}"),
    }
}

/// The error `merge` gives for these shards.
fn refused(parts: &[PathBuf], partial: bool) -> MergeError {
    let out = tempfile::tempdir().expect("tempdir");
    let out = out.path().join("merged");
    let result = merge::merge(&MergeRequest {
        partial,
        ..request(parts, &out)
    });
    assert!(!out.exists(), "a refused merge leaves no directory");
    result.expect_err("refused")
}

/// Re-seals shard bundle `dir` with its run record changed by `change`.
fn reseal(dir: &Path, change: impl FnOnce(&mut RunInfo)) {
    let mut run = bundle::read_run(dir).expect("reads");
    change(&mut run);
    bundle::seal(dir, &SUITE, &run).expect("re-seals");
}

#[test]
fn refusals_name_the_shard() {
    let root = tempfile::tempdir().expect("tempdir");
    let parts = shards(root.path(), 16, 4, 2);
    let show = |p: &PathBuf| p.display().to_string();

    let err = refused(&parts[..3], false);
    assert!(
        matches!(&err, MergeError::Missing { count: 4, missing } if missing == &[3]),
        "{err}"
    );
    assert!(err.to_string().contains("--partial"), "{err}");

    let twice = [parts.clone(), vec![parts[2].clone()]].concat();
    let err = refused(&twice, false);
    assert!(
        matches!(err, MergeError::Duplicate { index: 2, .. }),
        "{err}"
    );

    let whole = root.path().join("unsharded");
    sealed(&whole, &run_info(plan()), 0..16, 2);
    let err = refused(&[parts[0].clone(), whole.clone()], false);
    assert!(
        matches!(&err, MergeError::NotAShard { path, .. } if *path == show(&whole)),
        "{err}"
    );

    let other = root.path().join("other");
    for (i, part) in parts.iter().enumerate() {
        let copy = other.join(format!("{i}"));
        std::fs::create_dir_all(copy.join(bundle::EVIDENCE_DIR)).expect("mkdir");
        std::fs::copy(
            bundle::evidence_path(part, CASE),
            bundle::evidence_path(&copy, CASE),
        )
        .expect("copies");
        std::fs::copy(part.join(bundle::RUN_FILE), copy.join(bundle::RUN_FILE)).expect("copies");
    }
    let other_plan = other.join("1");
    reseal(&other_plan, |r| {
        if let Some(s) = r.shard.as_mut() {
            s.plan_digest = "sha256:bb".into();
        }
    });
    let err = refused(
        &[
            parts[0].clone(),
            other_plan.clone(),
            parts[2].clone(),
            parts[3].clone(),
        ],
        false,
    );
    assert!(
        matches!(&err, MergeError::Mismatch { path, index: 1, what, .. } if *path == show(&other_plan) && what.contains("plan sha256:bb")),
        "{err}"
    );

    let other_split = other.join("2");
    reseal(&other_split, |r| {
        if let Some(s) = r.shard.as_mut() {
            s.count = 5;
        }
    });
    let err = refused(
        &[
            parts[0].clone(),
            parts[1].clone(),
            other_split.clone(),
            parts[3].clone(),
        ],
        false,
    );
    assert!(
        matches!(&err, MergeError::Mismatch { index: 2, what, .. } if what.contains("one of 5 shards")),
        "{err}"
    );

    let other_suite = other.join("3");
    reseal(&other_suite, |r| r.suite_digest = "sha256:cc".into());
    let err = refused(
        &[
            parts[0].clone(),
            parts[1].clone(),
            parts[2].clone(),
            other_suite.clone(),
        ],
        false,
    );
    assert!(
        matches!(&err, MergeError::Shard { path, source: BundleError::DifferentSuite { .. } } if *path == show(&other_suite)),
        "{err}"
    );

    // A tampered shard is named; so is a merged bundle given as a shard.
    let evidence = bundle::evidence_path(&parts[1], CASE);
    let good = std::fs::read(&evidence).expect("reads");
    let mut bad = good.clone();
    bad[200] ^= 1;
    std::fs::write(&evidence, &bad).expect("writes");
    let err = refused(&parts, false);
    assert!(
        matches!(&err, MergeError::Shard { path, source: BundleError::Tampered { .. } } if *path == show(&parts[1])),
        "{err}"
    );
    std::fs::write(&evidence, &good).expect("restores");
    let merged = root.path().join("merged");
    merge::merge(&request(&parts, &merged)).expect("merges");
    let err = refused(&[merged], false);
    assert!(err.to_string().contains("itself a merged bundle"), "{err}");
    // The output must be new.
    let err = merge::merge(&request(&parts, &parts[0])).expect_err("refused");
    assert!(matches!(err, MergeError::OutExists(_)), "{err}");
}

#[test]
fn a_partial_merge_lists_the_missing_shards_and_verifies() {
    let root = tempfile::tempdir().expect("tempdir");
    let parts = shards(root.path(), 16, 4, 2);
    let out = root.path().join("merged");
    let given = [parts[0].clone(), parts[2].clone()];
    let merged = merge::merge(&MergeRequest {
        partial: true,
        ..request(&given, &out)
    })
    .expect("merges");
    let info = merged.run.merge.as_ref().expect("a merge record");
    assert_eq!(info.missing, vec![1, 3]);
    assert_eq!(merged.joined[0].1.requests, 8);
    let figures = merged.results.cases[0]
        .performance
        .as_ref()
        .expect("figures");
    assert_eq!(figures.load.requests, 8);
    bundle::verify(&out, &SUITE, None).expect("verifies");
}

#[test]
fn without_a_common_start_anchors_move_the_times() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut parts = Vec::new();
    for i in 0..2u64 {
        let dir = root.path().join(format!("shard-{i}"));
        let run = RunInfo {
            shard: Some(shard(i, 2, START_AT + i * 7 * MS, None)),
            ..run_info(plan())
        };
        sealed(&dir, &run, (i..6).step_by(2), 2);
        parts.push(dir);
    }
    let out = root.path().join("merged");
    let merged = merge::merge(&request(&parts, &out)).expect("merges");
    let info = merged.run.merge.as_ref().expect("a merge record");
    assert_eq!(info.alignment[CASE].by, AlignedBy::Anchors);
    assert_eq!(
        info.merged_from
            .iter()
            .map(|m| m.offsets_ns[CASE])
            .collect::<Vec<_>>(),
        vec![0, 7 * MS]
    );
    let exchanges = tokencert_core::evidence::read_exchanges(&bundle::evidence_path(&out, CASE))
        .expect("reads");
    let times: Vec<_> = exchanges
        .iter()
        .map(|e| {
            (
                e.plan_index,
                e.scheduled_ns.map(|t| t / MS),
                e.sent_ns.map(|t| t / MS),
            )
        })
        .collect();
    assert_eq!(
        times,
        vec![
            (Some(0), Some(0), Some(1)),
            (Some(1), Some(57), Some(58)),
            (Some(2), Some(100), Some(101)),
            (Some(3), Some(157), Some(158)),
            (Some(4), Some(200), Some(201)),
            (Some(5), Some(257), Some(258)),
        ]
    );
    bundle::verify(&out, &SUITE, None).expect("verifies");
}

#[test]
fn evidence_that_is_not_a_shards_share_is_refused_with_its_line() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut parts = Vec::new();
    // Shard 1 of 2 holding request 2 (shard 0's), after request 1.
    for (i, ks) in [(0u64, vec![0u64]), (1, vec![1, 2])] {
        let dir = root.path().join(format!("shard-{i}"));
        let run = RunInfo {
            shard: Some(shard(i, 2, START_AT, Some(START_AT))),
            ..run_info(plan())
        };
        sealed(&dir, &run, ks.into_iter(), 2);
        parts.push(dir);
    }
    let err = refused(&parts, false);
    let text = err.to_string();
    assert!(
        text.starts_with("shard 1, ") && text.contains("line 7: plan index 2 is not this shard's"),
        "{text}"
    );
    // Requests out of plan order.
    let dir = root.path().join("shard-1");
    std::fs::remove_dir_all(&dir).expect("rm");
    let run = RunInfo {
        shard: Some(shard(1, 2, START_AT, Some(START_AT))),
        ..run_info(plan())
    };
    sealed(&dir, &run, [3u64, 1].into_iter(), 2);
    let text = refused(&parts, false).to_string();
    assert!(text.contains("plan index 1 after 3"), "{text}");
}

/// The merge benchmark: 100,000 requests of 16 streamed tokens over four
/// shards (goal: merged in under 10 s). `cargo test --release -p
/// tokencert-core --test merge -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark: builds 100,000 requests' evidence (about 0.5 GB on disk)"]
fn bench_merge_of_100000_requests() {
    let requests = 100_000;
    let root = tempfile::tempdir_in(std::env::var_os("TOKENCERT_BENCH_DIR").unwrap_or(".".into()))
        .expect("tempdir");
    let built = Instant::now();
    let parts = shards(root.path(), requests, 4, 16);
    let build = built.elapsed();
    let phase = Instant::now();
    let set = merge::check_shards(&parts, &SUITE, None, false).expect("checks");
    let checking = phase.elapsed();
    let phase = Instant::now();
    let sources: Vec<_> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| merge::ShardEvidence {
            index: i as u64,
            path: bundle::evidence_path(p, CASE),
            offset_ns: 0,
        })
        .collect();
    merge::join_case(&sources, 4, &mut std::io::sink()).expect("joins");
    let joining = phase.elapsed();
    drop(set);
    let out = root.path().join("merged");
    let started = Instant::now();
    let merged = merge::merge(&request(&parts, &out)).expect("merges");
    let took = started.elapsed();
    let verified = Instant::now();
    bundle::verify(&out, &SUITE, None).expect("verifies");
    let verify = verified.elapsed();
    let (_, joined) = &merged.joined[0];
    assert_eq!(joined.requests, requests);
    // TOKENCERT_BENCH_KEEP=1 keeps the shards (and the merged bundle) to
    // measure `tokencert merge` itself on them.
    if std::env::var_os("TOKENCERT_BENCH_KEEP").is_some() {
        println!("kept: {}", root.keep().display());
    }
    println!(
        "of which, measured apart: verifying the 4 shards (digests, re-judging) {:.2} s, joining the evidence {:.2} s",
        checking.as_secs_f64(),
        joining.as_secs_f64()
    );
    println!(
        "merge of {requests} requests ({} evidence lines, {:.1} MB) from 4 shards: {:.2} s (goal < 10 s); verify of the merged bundle: {:.2} s; building and sealing the shards: {:.2} s",
        joined.lines,
        joined.bytes as f64 / 1e6,
        took.as_secs_f64(),
        verify.as_secs_f64(),
        build.as_secs_f64()
    );
}

/// One case's merged evidence over the ceiling the judge reads is refused
/// before anything is judged (ignored: it writes some 2 GB).
#[test]
#[ignore = "writes about 2 GB: two shards of 300 MB, their copies and the refused join"]
fn a_merged_case_over_the_evidence_ceiling_is_refused() {
    let root = tempfile::tempdir_in(std::env::var_os("TOKENCERT_BENCH_DIR").unwrap_or(".".into()))
        .expect("tempdir");
    let padding = "x".repeat(1 << 20);
    let mut parts = Vec::new();
    for i in 0..2u64 {
        let dir = root.path().join(format!("shard-{i}"));
        std::fs::create_dir_all(dir.join(bundle::EVIDENCE_DIR)).expect("mkdir");
        let mut text = String::new();
        for k in (i..600).step_by(2) {
            let lines = request_lines(k, 1);
            text.push_str(&lines.replacen("request ", &format!("request {padding}"), 1));
        }
        std::fs::write(bundle::evidence_path(&dir, CASE), text).expect("evidence");
        let run = RunInfo {
            shard: Some(shard(i, 2, START_AT, Some(START_AT))),
            ..run_info(plan())
        };
        bundle::seal(&dir, &SUITE, &run).expect("seals");
        parts.push(dir);
    }
    let err = refused(&parts, false);
    assert!(
        matches!(&err, MergeError::TooLarge { case, requests, .. } if case == CASE && *requests > 500),
        "{err}"
    );
}
