//! The ledger's import rate, verification included: a measurement, not a
//! timed test (`cargo test -p tokencert-ledger --test import_rate --
//! --ignored --nocapture`).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

mod common;

use std::time::Instant;

use tokencert_ledger::Ledger;

/// Bundles imported.
const BUNDLES: usize = 50;

#[test]
#[ignore = "a measurement: prints bundles per second"]
fn import_rate() {
    let work = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Every fifth has the performance case (24 streamed requests); half are
    // signed by a known key, half by another: probes of one target by two
    // observers, so the imports compare the overlapping ones too.
    let paths = runtime.block_on(async {
        let server = common::server().await;
        let mut paths = Vec::new();
        for i in 0..BUNDLES {
            let dir = work.path().join(format!("b{i:02}"));
            paths.push(common::run(&server, &dir, i % 5 == 0, None).await);
        }
        paths
    });
    for (i, path) in paths.iter().enumerate() {
        let key = common::key(if i % 2 == 0 { 1 } else { 2 });
        tokencert_core::bundle::sign_bundle(path, &key).unwrap();
    }
    let dir = work.path().join("ledger");
    let mut ledger = Ledger::create(&dir).unwrap();
    common::trust_key_1(&dir);
    let trust = ledger.trust().unwrap();
    let suite = common::suite();
    let started = Instant::now();
    let mut agreements = 0;
    for path in &paths {
        agreements += ledger.add(path, suite, &trust).unwrap().agreements.len();
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "imported {BUNDLES} bundles ({} with a performance case) in {elapsed:.2} s: {:.1} bundles/s, verification and {agreements} agreement rows included",
        BUNDLES / 5,
        BUNDLES as f64 / elapsed
    );
    drop(ledger);
    // One signer's bundles alone: nothing to compare.
    let alone = work.path().join("alone");
    let mut one = Ledger::create(&alone).unwrap();
    let started = Instant::now();
    for path in paths.iter().step_by(2) {
        assert!(one.add(path, suite, &trust).unwrap().agreements.is_empty());
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "one signer's {} bundles alone: {:.1} bundles/s",
        BUNDLES / 2,
        (BUNDLES / 2) as f64 / elapsed
    );
    let started = Instant::now();
    Ledger::rebuild(&dir).unwrap();
    println!(
        "rebuilt the index of {BUNDLES} bundles in {:.2} s",
        started.elapsed().as_secs_f64()
    );
}
