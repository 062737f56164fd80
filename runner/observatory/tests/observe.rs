//! The observatory end to end, on loopback: two embedded reference
//! services (one healthy, one degraded through its capacity model), a
//! config with one-second schedules, a few cycles, then one cycle with the
//! degraded service stopped. The ledger holds every probe's bundle, each
//! verifies with the observer's key, availability drops for the stopped
//! cycle, the healthy service has the lower TTFT, and a restarted
//! observatory resumes from the ledger.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{BUDGET, Events, KEY, keys, small_suite, target, write_config};
use p256::ecdsa::SigningKey;
use rusqlite::params;
use tokencert_core::bundle;
use tokencert_core::suite::Suite;
use tokencert_dashboard::Dashboard;
use tokencert_dashboard::board::SortKey;
use tokencert_ledger::Ledger;
use tokencert_observatory::{Event, Observatory, Options, Summary, load};
use tokencert_reference::{Capacity, RunningServer};

const OBSERVER: &str = "test-observer";

fn signing_key() -> SigningKey {
    SigningKey::from_slice(&[7u8; 32]).expect("a valid scalar")
}

/// A reference service on loopback whose capacity model takes `step` per
/// decode step and `prefill` per prompt token.
async fn reference(step: Duration, prefill: Duration) -> RunningServer {
    let config = tokencert_reference::Config {
        api_key: Some(KEY.into()),
        capacity: Capacity {
            prefill_per_token: prefill,
            step_base: step,
            step_per_sequence: Duration::ZERO,
            ..Capacity::default()
        },
        ..tokencert_reference::Config::default()
    };
    tokencert_reference::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("the reference service starts")
}

fn config_text(targets: &str, probes: &str) -> String {
    format!(
        "observer: {OBSERVER}\nlocation: loopback\nseed: 3\ntargets:\n{targets}probes:\n{probes}"
    )
}

const PROBES: &str = "  - name: conformance\n    cases: [api.models]\n    every: 1s\n    jitter: 50%\n  - name: latency\n    cases: [perf.chat]\n    every: 1s\n";

async fn observe(
    observatory: &Observatory,
    ledger: &mut Ledger,
    cycles: u32,
    events: &Events,
) -> Summary {
    let options = Options {
        concurrency: 2,
        cycles: Some(cycles),
        keep_evidence_days: 30,
        signing_key: Some(signing_key()),
    };
    let sink = events.clone();
    let on_event = move |e: Event| sink.push(e);
    tokio::time::timeout(
        Duration::from_secs(60),
        observatory.observe(ledger, &options, &on_event, std::future::pending()),
    )
    .await
    .expect("the cycles end in time")
    .expect("the observatory runs")
}

/// (answered, exchanges) of every bundle of `url`'s `probe`, oldest first.
fn availability(ledger: &Ledger, url: &str, probe: &str) -> Vec<(i64, i64)> {
    let mut select = ledger
        .connection()
        .prepare(
            "SELECT answered, exchanges FROM bundle WHERE target_url = ?1 AND probe = ?2 \
             AND observer = ?3 ORDER BY started_unix, id",
        )
        .expect("a query");
    select
        .query_map(params![url, probe, OBSERVER], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn verify_all(ledger: &Ledger, suite: &Suite) -> usize {
    let key = *signing_key().verifying_key();
    let ids: Vec<String> = ledger
        .list()
        .expect("list")
        .into_iter()
        .map(|l| l.id)
        .collect();
    for id in &ids {
        let dir = ledger.bundle_dir(id);
        bundle::verify(&dir, suite, Some(&key))
            .unwrap_or_else(|e| panic!("bundle {id} does not verify: {e}"));
        let run = bundle::read_run(&dir).expect("run.json");
        let observation = run.observation.expect("an observation");
        assert_eq!(observation.observer, OBSERVER);
        assert_eq!(observation.location, "loopback");
    }
    ids.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_services_a_few_cycles_then_one_stopped() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let healthy = reference(Duration::from_millis(1), Duration::from_micros(10)).await;
    let degraded = reference(Duration::from_millis(15), Duration::from_micros(400)).await;
    let (healthy_url, degraded_url) = (healthy.base_url(), degraded.base_url());
    let targets = format!(
        "{}{}",
        target("healthy", &healthy_url),
        target("degraded", &degraded_url)
    );
    let path = write_config(dir.path(), &config_text(&targets, PROBES));
    let config = load(&path, &suite).expect("the config loads");
    let observatory = Observatory::new(config, suite.clone(), keys).expect("ready");
    let mut ledger = Ledger::create(&dir.path().join("ledger")).expect("a ledger");

    let events = Events::default();
    let summary = observe(&observatory, &mut ledger, 2, &events).await;
    assert_eq!(
        summary,
        Summary {
            added: 8,
            skipped: 0,
            failed: 0
        },
        "{:#?}",
        events.all()
    );
    let finished: Vec<_> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            Event::Finished(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 8);
    for f in &finished {
        assert_eq!(f.answered, f.exchanges, "{f:?}");
        assert!(
            f.exchanges > 0 && f.signer.is_some() && !f.interrupted,
            "{f:?}"
        );
        assert_eq!(f.verdicts.error, 0, "{f:?}");
    }

    // The degraded service goes away; the observatory is restarted.
    degraded.shutdown().await;
    let events = Events::default();
    let summary = observe(&observatory, &mut ledger, 1, &events).await;
    assert_eq!(summary.added, 4, "{:#?}", events.all());

    assert_eq!(verify_all(&ledger, &suite), 12);
    for probe in ["conformance", "latency"] {
        let up = availability(&ledger, &healthy_url, probe);
        assert_eq!(up.len(), 3, "{probe}");
        assert!(up.iter().all(|(a, e)| a == e && *e > 0), "{probe}: {up:?}");
        let down = availability(&ledger, &degraded_url, probe);
        assert_eq!(down.len(), 3, "{probe}");
        assert!(
            down[..2].iter().all(|(a, e)| a == e && *e > 0),
            "{probe}: {down:?}"
        );
        let (answered, exchanges) = down[2];
        assert!(exchanges > 0 && answered == 0, "{probe}: {down:?}");
    }

    // The healthy service ranks first on TTFT p50 (while both answered).
    let mut ranking = ledger
        .connection()
        .prepare(
            "SELECT b.target_url, AVG(f.value) FROM figure f JOIN bundle b ON b.id = f.bundle \
             WHERE f.case_id = 'perf.chat' AND f.metric = 'ttft_p50_seconds' AND b.answered > 0 \
             GROUP BY b.target_url ORDER BY AVG(f.value)",
        )
        .expect("a query");
    let ranked: Vec<(String, f64)> = ranking
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(ranked.len(), 2, "{ranked:?}");
    assert_eq!(ranked[0].0, healthy_url, "{ranked:?}");
    assert!(ranked[0].1 < ranked[1].1, "{ranked:?}");
    drop(ranking);

    // Nothing is left behind in the staging directory.
    let staged = std::fs::read_dir(ledger.dir().join(tokencert_observatory::STAGING_DIR))
        .expect("the staging directory")
        .count();
    assert_eq!(staged, 0);

    // The dashboard's leaderboard ranks the healthy service first.
    let ledger_dir = ledger.dir().to_path_buf();
    let board = Dashboard::open(&ledger_dir)
        .expect("the dashboard opens the ledger")
        .leaderboard(SortKey::TtftP50)
        .expect("the leaderboard renders");
    let latency = board
        .methods
        .iter()
        .find(|b| b.method.case_id == "perf.chat")
        .expect("a leaderboard for the latency probe");
    let order: Vec<&str> = latency
        .rows
        .iter()
        .map(|r| r.source.target_url.as_str())
        .collect();
    assert_eq!(order, [healthy_url.as_str(), degraded_url.as_str()]);

    // The index is only an index: rebuilt from the files, it is the same.
    let dump = ledger.dump().expect("the index dumps");
    drop(ledger);
    let rebuilt = Ledger::rebuild(&ledger_dir).expect("the index rebuilds");
    assert_eq!(rebuilt.dump().expect("the index dumps"), dump);

    drop(healthy);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_over_budget_is_skipped_and_never_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let server = reference(Duration::from_millis(1), Duration::from_micros(10)).await;
    // Room for the four listings (4 requests) but not for the load (6 more).
    let tight = target("tight", &server.base_url()).replace(
        BUDGET,
        "    budget: {requests_per_hour: 9, requests_per_day: 100, tokens_per_hour: 100000, tokens_per_day: 100000}\n",
    );
    let path = write_config(dir.path(), &config_text(&tight, PROBES));
    let observatory =
        Observatory::new(load(&path, &suite).expect("loads"), suite.clone(), keys).expect("ready");
    let mut ledger = Ledger::create(&dir.path().join("ledger")).expect("a ledger");
    let events = Events::default();
    let summary = observe(&observatory, &mut ledger, 2, &events).await;
    // First cycle: conformance runs (4); latency (6) does not fit 9 - 4.
    // Second: conformance (4 more would make 8) runs; latency skipped again.
    assert_eq!(summary.added, 2, "{:#?}", events.all());
    assert_eq!(summary.skipped, 2, "{:#?}", events.all());
    let reasons: Vec<String> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            Event::Skipped { probe, reason, .. } => Some(format!("{probe}: {reason}")),
            _ => None,
        })
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("latency: the requests_per_hour budget of 9")),
        "{reasons:?}"
    );
    let sent: i64 = ledger
        .connection()
        .query_row("SELECT SUM(exchanges) FROM bundle", [], |r| r.get(0))
        .expect("a sum");
    assert_eq!(sent, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_seals_and_adds_the_running_probes_and_starts_no_more() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    // Slow enough that the load is still sending when the stop comes.
    let server = reference(Duration::from_millis(60), Duration::from_micros(10)).await;
    let probes = "  - name: latency\n    cases: [perf.chat]\n    every: 1s\n";
    let path = write_config(
        dir.path(),
        &config_text(&target("slow", &server.base_url()), probes),
    );
    let observatory =
        Observatory::new(load(&path, &suite).expect("loads"), suite.clone(), keys).expect("ready");
    let mut ledger = Ledger::create(&dir.path().join("ledger")).expect("a ledger");
    let events = Events::default();
    let sink = events.clone();
    let on_event = move |e: Event| sink.push(e);
    let options = Options {
        concurrency: 2,
        cycles: None,
        keep_evidence_days: 30,
        signing_key: None,
    };
    let stop = tokio::time::sleep(Duration::from_millis(700));
    let begun = Instant::now();
    let summary = tokio::time::timeout(
        Duration::from_secs(30),
        observatory.observe(&mut ledger, &options, &on_event, stop),
    )
    .await
    .expect("stops in time")
    .expect("runs");
    assert!(
        begun.elapsed() < Duration::from_secs(10),
        "{:?}",
        begun.elapsed()
    );
    assert_eq!(summary.added, 1, "{:#?}", events.all());
    let all = events.all();
    assert!(all.contains(&Event::Stopping), "{all:#?}");
    let finished = all.iter().find_map(|e| match e {
        Event::Finished(f) => Some(f.clone()),
        _ => None,
    });
    let finished = finished.expect("the running probe was added");
    assert!(finished.interrupted, "{finished:?}");
    assert!(finished.signer.is_none());
    // Stopping came before it finished, and nothing started after.
    let stopping = all
        .iter()
        .position(|e| *e == Event::Stopping)
        .expect("stopping");
    assert!(
        all[stopping..]
            .iter()
            .all(|e| !matches!(e, Event::Started { .. })),
        "{all:#?}"
    );
    assert_eq!(verify_all_unsigned(&ledger, &suite), 1);
    let _ = Arc::clone(&suite);
}

fn verify_all_unsigned(ledger: &Ledger, suite: &Suite) -> usize {
    let list = ledger.list().expect("list");
    for listed in &list {
        bundle::verify(&ledger.bundle_dir(&listed.id), suite, None).expect("verifies");
        assert!(listed.signer.is_none());
    }
    list.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_observatory_resumes_its_schedule_from_the_ledger() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let server = reference(Duration::from_millis(1), Duration::from_micros(10)).await;
    let probes = "  - name: conformance\n    cases: [api.models]\n    every: 1h\n    jitter: 10%\n";
    let path = write_config(
        dir.path(),
        &config_text(&target("hourly", &server.base_url()), probes),
    );
    let ledger_dir = dir.path().join("ledger");
    let start = || {
        Observatory::new(load(&path, &suite).expect("loads"), suite.clone(), keys).expect("ready")
    };
    let events = Events::default();
    {
        let mut ledger = Ledger::create(&ledger_dir).expect("a ledger");
        let summary = observe(&start(), &mut ledger, 1, &events).await;
        assert_eq!(summary.added, 1, "{:#?}", events.all());
    }
    // A new process: the probe ran minutes ago, so nothing is due for
    // about an hour; two seconds later nothing has run.
    let mut ledger = Ledger::open(&ledger_dir).expect("the ledger");
    let events = Events::default();
    let sink = events.clone();
    let on_event = move |e: Event| sink.push(e);
    let options = Options {
        concurrency: 2,
        cycles: None,
        keep_evidence_days: 30,
        signing_key: None,
    };
    let summary = start()
        .observe(
            &mut ledger,
            &options,
            &on_event,
            tokio::time::sleep(Duration::from_secs(2)),
        )
        .await
        .expect("runs");
    assert_eq!(summary, Summary::default(), "{:#?}", events.all());
    assert_eq!(ledger.list().expect("list").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_targets_cannot_stall_the_others() {
    use tokencert_reference::hostile::{self, Fault};
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let server = reference(Duration::from_millis(1), Duration::from_micros(10)).await;
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let mut hostiles = Vec::new();
    let mut targets = target("healthy", &server.base_url());
    for fault in [Fault::Hang, Fault::SlowHead, Fault::Endless] {
        let h = hostile::start(fault, loopback).await.expect("starts");
        targets += &format!(
            "  - name: {}\n    base_url: {}\n    model: m\n    timeout: 1s\n{BUDGET}",
            fault.name(),
            h.base_url()
        );
        hostiles.push(h);
    }
    let probes = "  - name: conformance\n    cases: [api.models]\n    every: 1h\n";
    let path = write_config(dir.path(), &config_text(&targets, probes));
    let observatory =
        Observatory::new(load(&path, &suite).expect("loads"), suite.clone(), keys).expect("ready");
    let mut ledger = Ledger::create(&dir.path().join("ledger")).expect("a ledger");
    let events = Events::default();
    let begun = Instant::now();
    let summary = observe(&observatory, &mut ledger, 1, &events).await;
    let took = begun.elapsed();
    assert_eq!(summary.added, 4, "{:#?}", events.all());
    // Two at a time, each hostile probe ends at its one-second deadlines.
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let finished: Vec<_> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            Event::Finished(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(finished[0].target, "healthy", "{finished:#?}");
    for f in &finished[1..] {
        // No head (hang, slow head) is unanswered; an endless stream has
        // one, and fails. Either way no case passes.
        assert_eq!(f.exchanges, 4, "{f:?}");
        assert_eq!(f.answered == 0, f.target != "endless", "{f:?}");
        assert!(f.verdicts.pass == 0 && !f.verdicts.conforms, "{f:?}");
    }
    drop(hostiles);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_old_unpinned_evidence_and_keeps_the_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let server = reference(Duration::from_millis(1), Duration::from_micros(10)).await;
    let probes = "  - name: conformance\n    cases: [api.models]\n    every: 1s\n";
    let path = write_config(
        dir.path(),
        &config_text(&target("kept", &server.base_url()), probes),
    );
    let observatory =
        Observatory::new(load(&path, &suite).expect("loads"), suite.clone(), keys).expect("ready");
    let mut ledger = Ledger::create(&dir.path().join("ledger")).expect("a ledger");
    observe(&observatory, &mut ledger, 2, &Events::default()).await;
    let old: Vec<String> = ledger
        .list()
        .expect("list")
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(old.len(), 2);
    ledger.pin(&old[0]).expect("pinned");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let events = Events::default();
    let sink = events.clone();
    let on_event = move |e: Event| sink.push(e);
    let options = Options {
        concurrency: 2,
        cycles: Some(1),
        keep_evidence_days: 0,
        signing_key: None,
    };
    observatory
        .observe(&mut ledger, &options, &on_event, std::future::pending())
        .await
        .expect("runs");
    assert!(
        events
            .all()
            .iter()
            .any(|e| matches!(e, Event::Pruned { bundles, .. } if *bundles >= 1)),
        "{:#?}",
        events.all()
    );
    let listed = ledger.list().expect("list");
    assert_eq!(listed.len(), 3, "the rows stay");
    let state = |id: &str| {
        let l = listed.iter().find(|l| l.id == id).expect("listed");
        (l.pinned, l.evidence_pruned)
    };
    assert_eq!(state(&old[0]), (true, false), "pinned: kept");
    assert_eq!(state(&old[1]), (false, true), "old: pruned");
    let evidence = ledger.bundle_dir(&old[1]).join(bundle::EVIDENCE_DIR);
    let left = std::fs::read_dir(&evidence).map_or(0, |d| d.count());
    assert_eq!(left, 0, "no evidence left in {}", evidence.display());
}
