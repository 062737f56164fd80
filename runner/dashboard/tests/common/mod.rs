//! A synthetic ledger: index.sqlite made from the contract schema with
//! synthetic rows written by the ledger's own row writer (so the summary
//! tables are kept as in a real ledger), a trust file, and a few bundle
//! directories.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

use p256::ecdsa::SigningKey;
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};
use tokencert_core::sign;
use tokencert_ledger::rows::{BundleRow, CostRow, EvidenceCounts, FigureRow, Rows, VerdictRow};

/// The index schema (the contract's, from the ledger crate).
pub use tokencert_ledger::SCHEMA;

/// 2026-12-07T09:00:00Z: the fixture's "now".
pub const NOW: i64 = 1_796_634_000;
pub const SUITE: &str = "1111111111111111111111111111111111111111111111111111111111111111";
pub const WORKLOAD: &str = "2222222222222222222222222222222222222222222222222222222222222222";
pub const CASE: &str = "perf.interactive";
pub const SLO: &str = "interactive";
pub const HEALTHY_URL: &str = "http://127.0.0.1:9001/v1";
pub const HEALTHY_MODEL: &str = "healthy-model";
pub const HOSTILE_URL: &str = "http://127.0.0.1:9002/v1?a=1&b=\"2\"";
pub const HOSTILE_MODEL: &str = "<script>alert(1)</script>";

/// A bundle id: sha256 of `seed`.
pub fn id(seed: &str) -> String {
    Sha256::digest(seed.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A deterministic key and its id.
pub fn key(byte: u8) -> (String, String) {
    let key = SigningKey::from_slice(&[byte; 32]).unwrap();
    let pem = sign::public_key_pem(key.verifying_key()).unwrap();
    (pem, sign::key_id(key.verifying_key()).unwrap())
}

/// Creates LEDGER/index.sqlite from the schema.
pub fn create_index(ledger: &Path) -> Connection {
    std::fs::create_dir_all(ledger).unwrap();
    let conn = Connection::open(ledger.join("index.sqlite")).unwrap();
    // A test index: no need to survive a power cut.
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY;")
        .unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    conn
}

/// One synthetic bundle row with its verdicts, figures and cost.
pub struct Spec<'a> {
    pub id: String,
    pub url: &'a str,
    pub model: &'a str,
    pub observer: Option<&'a str>,
    pub signer: Option<&'a str>,
    pub signer_known: bool,
    pub started_unix: i64,
    pub exchanges: i64,
    pub answered: i64,
    /// TTFT p50 seconds; p95 and p99 are 1.5 and 2 times it.
    pub ttft: f64,
    pub speed: f64,
    pub must_fail: i64,
    pub cost_micros: Option<i64>,
}

/// Writes the bundle's rows with the ledger's own writer (which keeps its
/// summary tables too), as `add` and `rebuild` do.
pub fn insert(conn: &Connection, s: &Spec<'_>) {
    tokencert_ledger::write_rows(conn, &rows(s)).unwrap();
}

/// The index rows of a synthetic bundle.
pub fn rows(s: &Spec<'_>) -> Rows {
    let bundle = BundleRow {
        id: s.id.clone(),
        run_id: format!("run-{}", &s.id[..8]),
        tool: "tokencert 0.1.0".into(),
        suite_digest: SUITE.into(),
        target_url: s.url.into(),
        model: s.model.into(),
        observer: s.observer.map(Into::into),
        location: Some("loopback".into()),
        probe: Some("latency".into()),
        signer: s.signer.map(Into::into),
        signer_known: s.signer_known,
        started_at: tokencert_dashboard::fmt::utc(s.started_unix),
        started_unix: s.started_unix,
        finished_unix: Some(s.started_unix + 60),
        interrupted: false,
        evidence: EvidenceCounts {
            exchanges: s.exchanges,
            answered: s.answered,
            tokens_billed: 1000,
        },
        must_pass: 40 - s.must_fail,
        must_fail: s.must_fail,
        must_error: 0,
        should_pass: 5,
        should_fail: 1,
        pinned: false,
        evidence_pruned: false,
    };
    let mut verdicts: Vec<VerdictRow> = [
        ("API", "MUST", "pass", 40 - s.must_fail),
        ("API", "MUST", "fail", s.must_fail),
        ("API", "SHOULD", "pass", 5),
        ("API", "SHOULD", "fail", 1),
        ("SEC", "MUST", "pass", 8),
        ("PERF", "MUST", "pass", 1),
        ("API", "MAY", "not_claimed", 3),
    ]
    .into_iter()
    .filter(|&(_, _, _, cases)| cases > 0)
    .map(|(area, level, verdict, cases)| VerdictRow {
        area: area.into(),
        level: level.into(),
        verdict: verdict.into(),
        cases,
    })
    .collect();
    verdicts.sort_by(|a, b| (&a.area, &a.level, &a.verdict).cmp(&(&b.area, &b.level, &b.verdict)));
    let mut figures: Vec<FigureRow> = [
        ("requests", 100.0, false),
        ("ttft_p50_seconds", s.ttft, true),
        ("ttft_p95_seconds", s.ttft * 1.5, true),
        ("ttft_p99_seconds", s.ttft * 2.0, false),
        ("tpot_p50_seconds", 0.01, false),
        ("output_speed_p50_tokens_per_second", s.speed, true),
        (
            "error_ratio",
            1.0 - s.answered as f64 / s.exchanges.max(1) as f64,
            false,
        ),
        ("goodput_requests_per_second", 4.0, false),
        ("throughput_output_tokens_per_second", s.speed * 4.0, false),
    ]
    .into_iter()
    .map(|(metric, value, ci)| FigureRow {
        case_id: CASE.into(),
        workload: WORKLOAD.into(),
        slo: SLO.into(),
        metric: metric.into(),
        value,
        low: ci.then_some(value * 0.9),
        high: ci.then_some(value * 1.1),
    })
    .collect();
    figures.sort_by(|a, b| a.metric.cmp(&b.metric));
    let costs = s
        .cost_micros
        .map(|micros| CostRow {
            sheet: "example-sheet".into(),
            currency: "USD".into(),
            task: "summarize".into(),
            micros: Some(micros),
        })
        .into_iter()
        .collect();
    Rows {
        bundle,
        verdicts,
        figures,
        costs,
    }
}

/// What the small ledger holds.
pub struct Small {
    /// Newest healthy bundle of observer A (on disk, with a report).
    pub healthy_a: String,
    /// Newest healthy bundle of observer B.
    pub healthy_b: String,
    /// Newest hostile-named bundle (on disk).
    pub hostile: String,
    /// An unsigned bundle.
    pub unsigned: String,
    /// Key id of A (known) and B (unknown).
    pub key_a: String,
    pub key_b: String,
}

/// Two targets (a healthy one, and one named `<script>` that is slower and
/// half unavailable) seen by two observers with 10 hourly bundles each,
/// one unsigned bundle, agreement rows, a trust file knowing observer A's
/// key, and three bundle directories.
pub fn small_ledger(ledger: &Path) -> Small {
    let conn = create_index(ledger);
    let (pem_a, key_a) = key(7);
    let (_, key_b) = key(9);
    std::fs::write(ledger.join("observer-a.pub.pem"), &pem_a).unwrap();
    std::fs::write(
        ledger.join("trust.yaml"),
        "- name: Observatory A\n  role: observer\n  public_key: observer-a.pub.pem\n",
    )
    .unwrap();
    let mut newest = std::collections::HashMap::new();
    for (url, model, ttft, answered) in [
        (HEALTHY_URL, HEALTHY_MODEL, 0.05, 10),
        (HOSTILE_URL, HOSTILE_MODEL, 0.4, 5),
    ] {
        for (observer, signer, known) in [("obs-a", &key_a, true), ("obs-b", &key_b, false)] {
            for hour in 0..10i64 {
                let id = id(&format!("{url}{model}{observer}{hour}"));
                insert(
                    &conn,
                    &Spec {
                        id: id.clone(),
                        url,
                        model,
                        observer: Some(observer),
                        signer: Some(signer),
                        signer_known: known,
                        started_unix: NOW - (10 - hour) * 3600,
                        exchanges: 10,
                        answered,
                        // Observer B measures 20% slower: the lines differ.
                        ttft: ttft
                            * (1.0 + 0.02 * (hour % 3) as f64)
                            * if observer == "obs-b" { 1.2 } else { 1.0 },
                        speed: 0.5 / ttft,
                        must_fail: if model == HOSTILE_MODEL { 4 } else { 0 },
                        cost_micros: Some(if model == HOSTILE_MODEL { 9_000 } else { 1_250 }),
                    },
                );
                newest.insert((model, observer), id);
            }
        }
    }
    let unsigned = id("unsigned");
    insert(
        &conn,
        &Spec {
            id: unsigned.clone(),
            url: HEALTHY_URL,
            model: HEALTHY_MODEL,
            observer: None,
            signer: None,
            signer_known: false,
            started_unix: NOW - 7200,
            exchanges: 10,
            answered: 10,
            ttft: 0.07,
            speed: 8.0,
            must_fail: 0,
            cost_micros: None,
        },
    );
    let healthy_a = newest[&(HEALTHY_MODEL, "obs-a")].clone();
    let healthy_b = newest[&(HEALTHY_MODEL, "obs-b")].clone();
    let hostile = newest[&(HOSTILE_MODEL, "obs-a")].clone();
    conn.execute(
        "INSERT INTO agreement VALUES (?1, ?2, ?3, 1, 'every verdict agrees; no metric differs')",
        params![healthy_a, healthy_b, CASE],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO agreement VALUES (?1, ?2, ?3, 0, 'TTFT p50 differs: B/A 2.1 <b>')",
        params![hostile, newest[&(HOSTILE_MODEL, "obs-b")], CASE],
    )
    .unwrap();
    for (bundle, report) in [(&healthy_a, true), (&hostile, false), (&unsigned, false)] {
        let dir = ledger.join("bundles").join(bundle);
        std::fs::create_dir_all(dir.join("evidence")).unwrap();
        std::fs::write(
            dir.join("manifest.json"),
            "{\"format\":\"tokencert-manifest/1\"}",
        )
        .unwrap();
        std::fs::write(dir.join("run.json"), "{}").unwrap();
        std::fs::write(dir.join("evidence/perf.interactive.jsonl"), "{}\n").unwrap();
        if report {
            std::fs::write(
                dir.join("report.html"),
                "<!DOCTYPE html><title>r</title><p>report",
            )
            .unwrap();
        }
    }
    Small {
        healthy_a,
        healthy_b,
        hostile,
        unsigned,
        key_a,
        key_b,
    }
}

/// An index of `n` synthetic bundles: 10 targets × 2 observers probed
/// round-robin every 30 s up to [`NOW`], with agreement rows every 100.
pub fn big_index(ledger: &Path, n: usize) {
    let mut conn = create_index(ledger);
    let (_, key_a) = key(7);
    let (_, key_b) = key(9);
    let urls: Vec<String> = (0..10)
        .map(|t| format!("http://127.0.0.1:{}/v1", 9100 + t))
        .collect();
    let tx = conn.transaction().unwrap();
    let mut previous = None;
    for i in 0..n {
        let t = i % 10;
        let (observer, signer) = if i / 10 % 2 == 0 {
            ("obs-a", &key_a)
        } else {
            ("obs-b", &key_b)
        };
        let id = id(&format!("big{i}"));
        insert(
            &tx,
            &Spec {
                id: id.clone(),
                url: &urls[t],
                model: "model",
                observer: Some(observer),
                signer: Some(signer),
                signer_known: true,
                started_unix: NOW - ((n - i) as i64) * 3,
                exchanges: 10,
                answered: 9 + (i % 2) as i64,
                ttft: 0.05 + 0.01 * t as f64 + 0.001 * (i % 7) as f64,
                speed: 50.0 - t as f64,
                must_fail: (i % 3) as i64,
                cost_micros: (i % 50 == 0).then_some(1000 + t as i64),
            },
        );
        if i % 100 == 0
            && let Some(p) = previous.replace(id.clone())
        {
            tx.execute(
                "INSERT INTO agreement VALUES (?1, ?2, ?3, 1, 'consistent')",
                params![id, p, CASE],
            )
            .unwrap();
        }
    }
    tx.commit().unwrap();
}
