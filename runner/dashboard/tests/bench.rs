//! Render times over an index of 100,000 synthetic bundles (a benchmark,
//! not a timed test: it prints, and asserts only that the pages render).
//! Goal: each page under 100 ms.
//!
//! `cargo test --release -p tokencert-dashboard --test bench -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokencert_dashboard::board::SortKey;
use tokencert_dashboard::links::Links;
use tokencert_dashboard::{Dashboard, html};

const BUNDLES: usize = 100_000;
const ROUNDS: usize = 5;

/// The first timing of `f` and the median of the `ROUNDS` after it.
fn median(mut f: impl FnMut() -> usize) -> (Duration, Duration, usize) {
    let t = Instant::now();
    let mut bytes = f();
    let first = t.elapsed();
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        bytes = f();
        times.push(t.elapsed());
    }
    times.sort();
    (first, times[ROUNDS / 2], bytes)
}

#[test]
#[ignore = "a benchmark: builds a 100,000-bundle index (about a minute)"]
fn render_times_with_100k_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let t = Instant::now();
    big_index(&ledger, BUNDLES);
    println!("built an index of {BUNDLES} bundles in {:.1?}", t.elapsed());
    let dashboard = Dashboard::open(&ledger).unwrap().at(NOW);

    let (first, took, bytes) = median(|| {
        let board = dashboard.leaderboard(SortKey::TtftP50).unwrap();
        html::leaderboard_page(&board, Links::Server).unwrap().len()
    });
    println!(
        "leaderboard: {took:.1?} (median of {ROUNDS} after a first of {first:.1?}), {bytes} bytes of HTML"
    );
    let (first, took, bytes) = median(|| {
        let view = dashboard
            .target("http://127.0.0.1:9103/v1", "model", 30)
            .unwrap()
            .unwrap();
        html::target_page(&view, Links::Server).unwrap().len()
    });
    println!(
        "target page: {took:.1?} (median of {ROUNDS} after a first of {first:.1?}), {bytes} bytes of HTML"
    );
    let (first, took, bytes) = median(|| {
        let board = dashboard.leaderboard(SortKey::Target).unwrap();
        tokencert_dashboard::metrics::render(&board).len()
    });
    println!(
        "/metrics: {took:.1?} (median of {ROUNDS} after a first of {first:.1?}), {bytes} bytes"
    );
    let id = id("big99999");
    let (first, took, bytes) = median(|| {
        let view = dashboard.bundle(&id).unwrap().unwrap();
        html::bundle_page(&view, Links::Server).unwrap().len()
    });
    println!(
        "bundle page: {took:.1?} (median of {ROUNDS} after a first of {first:.1?}), {bytes} bytes of HTML"
    );
}
