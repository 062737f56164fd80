//! Identity over time, end to end on loopback: an observatory runs a
//! fingerprint probe against the reference service (with a little
//! same-model log-probability noise) for a few cycles; then the service is
//! restarted on the same port as the `model-substituted` mutant (another
//! model's words under the same name), and the next fingerprints are
//! identified as a *different model* in the ledger, on the dashboard's
//! target page, in its JSON and in `/metrics`. `ledger rebuild` reproduces
//! the identity rows.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{BUDGET, Events, KEY, KEY_VAR, keys, reference_profile, small_suite, write_config};
use p256::ecdsa::SigningKey;
use tokencert_core::bundle;
use tokencert_core::suite::{self, Problem, Suite};
use tokencert_dashboard::Dashboard;
use tokencert_dashboard::board::SortKey;
use tokencert_dashboard::links::Links;
use tokencert_ledger::Ledger;
use tokencert_ledger::identity::IdentityRow;
use tokencert_observatory::{Event, Observatory, Options, Summary, load};
use tokencert_reference::{Mutant, RunningServer};

const OBSERVER: &str = "identity-observer";
const PROBE: &str = "identity";
/// Same-model noise of the reference (micro-nats), so that the noise
/// floor measured from the first two fingerprints is not zero.
const NOISE_MICRO: u64 = 3_000;

fn signing_key() -> SigningKey {
    SigningKey::from_slice(&[9u8; 32]).expect("a valid scalar")
}

/// The small suite with the fingerprint probe set.
fn suite_with_probe_set(dir: &Path) -> Arc<Suite> {
    small_suite(dir);
    let probes = dir.join("suites/fingerprint");
    std::fs::create_dir_all(&probes).expect("mkdir");
    std::fs::copy(
        common::repo().join("suites/fingerprint/probes.yaml"),
        probes.join("probes.yaml"),
    )
    .expect("copy the probe set");
    let suite = suite::load(dir).expect("the suite loads");
    assert!(suite.probe_set.is_some(), "the probe set is loaded");
    Arc::new(suite)
}

async fn reference(addr: SocketAddr, mutant: Option<Mutant>) -> RunningServer {
    let config = tokencert_reference::Config {
        api_key: Some(KEY.into()),
        logprob_noise_micro: NOISE_MICRO,
        mutant,
        ..tokencert_reference::Config::default()
    };
    // The port was just released by the previous service: retry a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokencert_reference::start(config.clone(), addr).await {
            Ok(server) => return server,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the reference service starts on {addr}: {e}"),
        }
    }
}

fn config_text(url: &str, probe: &str) -> String {
    format!(
        "observer: {OBSERVER}\nlocation: loopback\nseed: 11\ntargets:\n  - name: reference\n    \
         base_url: {url}\n    profile: {}\n    api_key_env: {KEY_VAR}\n    timeout: 5s\n{BUDGET}\
         probes:\n{probe}",
        reference_profile()
    )
}

const FINGERPRINT_PROBE: &str = "  - name: identity\n    fingerprint: true\n    every: 1s\n";

/// Runs `cycles` cycles; the decisions the `Finished` events carried.
async fn observe(
    observatory: &Observatory,
    ledger: &mut Ledger,
    cycles: u32,
) -> (Summary, Vec<String>) {
    let options = Options {
        concurrency: 1,
        cycles: Some(cycles),
        keep_evidence_days: 30,
        signing_key: Some(signing_key()),
    };
    let events = Events::default();
    let sink = events.clone();
    let on_event = move |e: Event| sink.push(e);
    let summary = tokio::time::timeout(
        Duration::from_secs(60),
        observatory.observe(ledger, &options, &on_event, std::future::pending()),
    )
    .await
    .expect("the cycles end in time")
    .expect("the observatory runs");
    let mut decisions = Vec::new();
    for e in events.all() {
        match e {
            Event::Failed { error, .. } | Event::Skipped { reason: error, .. } => {
                panic!("a probe did not add its bundle: {error}")
            }
            Event::Finished(f) => {
                decisions.push(f.identity.expect("a fingerprint's identity").decision)
            }
            _ => {}
        }
    }
    (summary, decisions)
}

/// The identity rows, oldest first.
fn identities(ledger: &Ledger) -> Vec<IdentityRow> {
    let mut select = ledger
        .connection()
        .prepare(
            "SELECT bundle, baseline, noise_a, noise_b, decision, greedy_compared, \
             greedy_divergent, logprob_median_micro, tokenizer_implied, tasks_passed, \
             tasks_total, probe_set, started_unix, target_url, model FROM identity \
             ORDER BY started_unix, bundle",
        )
        .expect("a query");
    select
        .query_map([], |r| {
            Ok(IdentityRow {
                bundle: r.get(0)?,
                baseline: r.get(1)?,
                noise_a: r.get(2)?,
                noise_b: r.get(3)?,
                decision: r.get(4)?,
                greedy_compared: r.get(5)?,
                greedy_divergent: r.get(6)?,
                logprob_median_micro: r.get(7)?,
                tokenizer_implied: r.get(8)?,
                tasks_passed: r.get(9)?,
                tasks_total: r.get(10)?,
                probe_set: r.get(11)?,
                started_unix: r.get(12)?,
                target_url: r.get(13)?,
                model: r.get(14)?,
                logprob_differences: 0,
                noise_median_micro: None,
                baseline_tokenizer_implied: String::new(),
                tokenizer_finding: String::new(),
                reasons: String::new(),
            })
        })
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fingerprints_over_time_tell_a_substituted_model_apart() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = suite_with_probe_set(&dir.path().join("suite"));
    let server = reference(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), None).await;
    let (addr, url) = (server.addr(), server.base_url());
    let path = write_config(dir.path(), &config_text(&url, FINGERPRINT_PROBE));
    let config = load(&path, &suite).expect("the config loads");
    let observatory = Observatory::new(config, suite.clone(), keys).expect("ready");
    let probes = suite
        .probe_set
        .as_ref()
        .map(|s| s.cases(true).len() as u64)
        .expect("a probe set");
    let estimate = observatory.estimates()[0].2;
    assert_eq!(estimate.requests, probes, "one request per probe");
    assert!(estimate.tokens > probes, "{estimate:?}");
    let ledger_dir = dir.path().join("ledger");
    let mut ledger = Ledger::create(&ledger_dir).expect("a ledger");

    // The model as served: three fingerprints, all the same model.
    let (summary, told) = observe(&observatory, &mut ledger, 3).await;
    assert_eq!(summary.added, 3, "{summary:?}");
    assert_eq!(told, ["same_model"; 3]);
    let rows = identities(&ledger);
    assert_eq!(rows.len(), 3);
    let baseline = rows[0].bundle.clone();
    for r in &rows {
        assert_eq!(r.decision, "same_model", "{r:?}");
        assert_eq!(r.baseline, baseline);
        assert_eq!(r.noise_a.as_deref(), Some(baseline.as_str()));
        assert_eq!(r.noise_b.as_deref(), Some(rows[1].bundle.as_str()));
        assert_eq!(r.greedy_divergent, 0, "{r:?}");
        assert!(r.greedy_compared > 0, "{r:?}");
        assert_eq!(r.tokenizer_implied, "o200k_base");
    }
    // The noise is measured: the third differs from the baseline a little.
    assert!(
        rows[2].logprob_median_micro.unwrap_or(0) > 0,
        "{:?}",
        rows[2]
    );

    // Another model under the same name, on the same port.
    server.shutdown().await;
    let mutant = reference(addr, Some(Mutant::ModelSubstituted)).await;
    assert_eq!(mutant.base_url(), url);
    let (summary, told) = observe(&observatory, &mut ledger, 2).await;
    assert_eq!(summary.added, 2, "{summary:?}");
    assert_eq!(told, ["different_model"; 2]);
    let rows = identities(&ledger);
    let decisions: Vec<&str> = rows.iter().map(|r| r.decision.as_str()).collect();
    assert_eq!(
        decisions,
        [
            "same_model",
            "same_model",
            "same_model",
            "different_model",
            "different_model"
        ]
    );
    for r in &rows[3..] {
        assert_eq!(r.baseline, baseline);
        assert!(r.greedy_divergent > 0, "{r:?}");
        assert!(
            r.logprob_median_micro.unwrap_or(0) > 50_000,
            "more than the 0.05-nat tolerance: {r:?}"
        );
    }
    mutant.shutdown().await;

    // Every fingerprint is an ordinary signed bundle of the probe, and what
    // it sent is counted against the budget.
    let key = *signing_key().verifying_key();
    for r in &rows {
        let bundle_dir = ledger.bundle_dir(&r.bundle);
        bundle::verify(&bundle_dir, &suite, Some(&key)).expect("the bundle verifies");
        assert!(bundle_dir.join("fingerprint.json").is_file());
        let run = bundle::read_run(&bundle_dir).expect("run.json");
        assert_eq!(run.observation.expect("observed").probe, PROBE);
        let (exchanges, billed): (i64, i64) = ledger
            .connection()
            .query_row(
                "SELECT exchanges, tokens_billed FROM bundle WHERE id = ?1",
                [&r.bundle],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .expect("its row");
        assert_eq!(exchanges, probes as i64);
        assert!(billed > 0);
    }

    // The dashboard: target page, JSON and metrics.
    let newest = &rows[4].bundle;
    let dashboard = Dashboard::open(&ledger_dir).expect("the dashboard opens");
    let view = dashboard
        .target(&url, "tokencert-reference", 30)
        .expect("the target page")
        .expect("the target is known");
    assert_eq!(view.identity.len(), 5);
    let json = serde_json::to_value(&view).expect("JSON");
    let last = &json["identity"][4];
    assert_eq!(last["bundle"], newest.as_str());
    assert_eq!(last["decision"], "different_model");
    assert_eq!(json["identity"][0]["decision"], "same_model");
    let page =
        tokencert_dashboard::html::target_page(&view, Links::Server).expect("the page renders");
    assert!(page.contains("Identity over time"), "{page}");
    assert!(page.contains("Median log-probability difference"));
    assert!(page.contains(&format!("href=\"/bundle/{newest}\"")));
    assert!(page.contains("different model") && page.contains("same model"));
    let board = dashboard.leaderboard(SortKey::Target).expect("leaderboard");
    let home = tokencert_dashboard::html::leaderboard_page(&board, Links::Server)
        .expect("the leaderboard renders");
    assert!(home.contains("<h2>Identity</h2>"), "{home}");
    assert!(home.contains(&format!("href=\"/bundle/{newest}\"")));
    assert!(home.contains("different model"));
    let metrics = tokencert_dashboard::metrics::render(&board);
    let probe_set = &rows[4].probe_set;
    let same = format!(
        "tokencert_identity_same{{target=\"{url}\",model=\"tokencert-reference\",probe_set=\"{probe_set}\"}} 0\n"
    );
    assert!(metrics.contains(&same), "{metrics}");
    assert!(metrics.contains("tokencert_identity_logprob_median_difference_nats{"));
    parse_metrics(dir.path(), &metrics, &url);

    // The index is only an index: rebuilt, it has the same identity rows.
    let before = ledger.dump().expect("dump");
    drop(ledger);
    let rebuilt = Ledger::rebuild(&ledger_dir).expect("rebuild");
    assert_eq!(
        String::from_utf8_lossy(&rebuilt.dump().expect("dump")),
        String::from_utf8_lossy(&before)
    );
    assert_eq!(identities(&rebuilt), rows);

    // Imported newest first, each older bundle moves the baseline and its
    // group is identified again: the same rows in the end.
    let imported_dir = dir.path().join("imported");
    let mut imported = Ledger::create(&imported_dir).expect("a ledger");
    let trust = imported.trust().expect("trust");
    for r in rows.iter().rev() {
        imported
            .add(&rebuilt.bundle_dir(&r.bundle), &suite, &trust)
            .expect("added");
    }
    assert_eq!(identities(&imported), rows);
    eprintln!(
        "5 fingerprints observed, identified, served and rebuilt in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Python's prometheus_client reads the identity gauges (skipped, saying
/// so, without it: `python3 -m pip install prometheus_client==0.26.0`).
fn parse_metrics(dir: &Path, text: &str, url: &str) {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!("SKIPPED the parser check: python3 with prometheus_client is absent");
        return;
    }
    let file = dir.join("metrics.txt");
    std::fs::write(&file, text).expect("write the metrics");
    let script = "import sys\n\
        from prometheus_client.parser import text_string_to_metric_families as parse\n\
        for f in parse(open(sys.argv[1]).read()):\n\
        \x20   for s in f.samples:\n\
        \x20       if s.name == 'tokencert_identity_same': print(s.labels['target'], float(s.value))\n";
    let parsed = std::process::Command::new("python3")
        .args(["-c", script, file.to_str().expect("a UTF-8 path")])
        .output()
        .expect("python3 runs");
    assert!(
        parsed.status.success(),
        "prometheus_client rejects /metrics: {}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&parsed.stdout),
        format!("{url} 0.0\n")
    );
}

fn problems(dir: &Path, suite: &Suite, probe: &str) -> Vec<Problem> {
    let path = write_config(dir, &config_text("http://127.0.0.1:9/v1", probe));
    match load(&path, suite) {
        Ok(_) => Vec::new(),
        Err(tokencert_observatory::Error::Config { problems, .. }) => problems,
        Err(e) => panic!("unexpected: {e}"),
    }
}

#[test]
fn a_fingerprint_probe_is_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = suite_with_probe_set(&dir.path().join("suite"));
    assert!(problems(dir.path(), &suite, FINGERPRINT_PROBE).is_empty());
    let with_logprobs_off = format!("{FINGERPRINT_PROBE}    logprobs: false\n");
    assert!(problems(dir.path(), &suite, &with_logprobs_off).is_empty());
    // Cases and a fingerprint at once, logprobs without a fingerprint, a
    // fingerprint that is not `true`: refused by the schema.
    for bad in [
        "  - name: identity\n    fingerprint: true\n    cases: [api.models]\n    every: 1s\n",
        "  - name: identity\n    cases: [api.models]\n    logprobs: true\n    every: 1s\n",
        "  - name: identity\n    fingerprint: false\n    every: 1s\n",
        "  - name: identity\n    every: 1s\n",
    ] {
        let found = problems(dir.path(), &suite, bad);
        assert!(!found.is_empty(), "accepted: {bad}");
    }
    // A suite without a probe set cannot fingerprint.
    let bare = small_suite(&dir.path().join("bare"));
    let found = problems(dir.path(), &bare, FINGERPRINT_PROBE);
    let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        shown
            .iter()
            .any(|p| p.contains("/probes/0/fingerprint") && p.contains("no fingerprint probe set")),
        "{shown:?}"
    );
}
