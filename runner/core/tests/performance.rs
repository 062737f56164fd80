//! Judging performance cases from hand-built loads: every `slo_*` check
//! passing and failing (with reasons that quote the figure and the bound),
//! latency from the scheduled send (coordinated omission), the figures of
//! a load, the judge on the suite's `perf.interactive` case, and the
//! Performance section of `report.md`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use tokencert_core::bundle::Signer;
use tokencert_core::canonical;
use tokencert_core::check::Finding;
use tokencert_core::evidence::Exchange;
use tokencert_core::judge::{self, CaseResult, Context, Plan, Verdict};
use tokencert_core::metrics::{Distribution, milli_to_decimal};
use tokencert_core::performance::{self, CdfPoint, Figures, PerformanceError, TimelinePoint, ms};
use tokencert_core::report;
use tokencert_core::suite::{
    Check, LatencyThreshold, MaxShare, MinShare, Objectives, PerformanceClaim, SloProfile,
    SpeedThreshold, Thresholds, Window,
};

const MS: u64 = 1_000_000;
/// The text of every content event: one o200k_base token, also when
/// repeated.
const WORD: &str = " word";

// ---- building loads ------------------------------------------------------------

/// One request of a load, in milliseconds: scheduled and sent at these
/// instants of the run; its first of `tokens` one-token content events
/// arrives `ttft` after the send, the others `gap` apart, and the stream
/// ends with the last.
#[derive(Clone, Copy)]
struct Req {
    scheduled: u64,
    sent: u64,
    ttft: u64,
    gap: u64,
    tokens: u64,
}

/// A request sent on schedule at `sent`.
fn req(sent: u64, ttft: u64, gap: u64, tokens: u64) -> Req {
    Req {
        scheduled: sent,
        sent,
        ttft,
        gap,
        tokens,
    }
}

impl Req {
    /// The same request, scheduled at `scheduled` (before it was sent).
    fn scheduled_at(self, scheduled: u64) -> Self {
        Self { scheduled, ..self }
    }

    /// From the send to the end of the stream.
    fn duration(self) -> u64 {
        self.ttft + (self.tokens - 1) * self.gap
    }

    fn exchange(self) -> Exchange {
        let mut pieces: Vec<(u64, String)> = (0..self.tokens)
            .map(|i| ((self.ttft + i * self.gap) * MS, content(WORD)))
            .collect();
        let end = self.duration() * MS;
        pieces.push((end, done()));
        placed(streamed(&pieces, end), self.scheduled, self.sent)
    }
}

/// `exchange` as a load records it: scheduled and sent at these instants
/// (milliseconds since the run started).
fn placed(mut exchange: Exchange, scheduled: u64, sent: u64) -> Exchange {
    exchange.scheduled_ns = Some(scheduled * MS);
    exchange.sent_ns = Some(sent * MS);
    exchange
}

/// A request sent on schedule at `sent` that the server answered with 500.
fn failed(sent: u64) -> Exchange {
    placed(Ex::json(&error_body()).status(500).build(), sent, sent)
}

fn load(requests: &[Req]) -> Vec<Exchange> {
    requests.iter().map(|r| r.exchange()).collect()
}

/// `n` requests sent every 100 ms, each answered alike.
fn steady(n: u64, ttft: u64, gap: u64, tokens: u64) -> Vec<Req> {
    (0..n).map(|i| req(i * 100, ttft, gap, tokens)).collect()
}

/// A class for these tests: the whole run is the steady-state window.
fn class() -> SloProfile {
    let latency = |percentile: &str, max_ms| {
        Some(LatencyThreshold {
            percentile: percentile.into(),
            max_ms,
        })
    };
    SloProfile {
        name: "test".into(),
        description: "a class for tests".into(),
        window: Window {
            warmup_percent: 0,
            cooldown_percent: 0,
        },
        objectives: Objectives {
            ttft_ms: Some(1000),
            tpot_ms: Some(100),
            e2e_ms: None,
        },
        thresholds: Thresholds {
            ttft: latency("p95", 500),
            itl: latency("p99", 100),
            output_speed: Some(SpeedThreshold {
                percentile: "p50".into(),
                min_tokens_per_s: 20,
            }),
            error_rate: Some(MaxShare { max_ppm: 250_000 }),
            goodput: Some(MinShare { min_ppm: 750_000 }),
        },
    }
}

fn figures_of(exchanges: &[Exchange], profile: &SloProfile) -> Figures {
    performance::figures(exchanges, profile, &CONTEXT.tokenizer).expect("the figures compute")
}

/// Judges `check` of the test class on `exchanges`.
fn judge_check(check: Check, exchanges: &[Exchange]) -> (Finding, Figures) {
    let profile = class();
    let figures = figures_of(exchanges, &profile);
    (performance::check(&check, &figures, &profile), figures)
}

/// The judged (exact, nearest-rank) value of `percentile` of a
/// distribution, after checking it is `exact` and that the histogram's
/// value stands for it (3 significant digits).
#[track_caller]
fn reported(d: Option<&Distribution>, percentile: &str, exact: u64) -> u64 {
    let p = d
        .and_then(|d| d.percentile(percentile))
        .expect("the percentile is reported");
    assert_eq!(p.exact, exact, "{percentile}");
    assert!(
        (exact..=exact + exact / 1000).contains(&p.value),
        "{percentile} {} does not stand for {exact}",
        p.value
    );
    p.exact
}

#[test]
fn the_test_word_is_one_token_however_often_it_repeats() {
    for n in [1, 2, 8] {
        let text = WORD.repeat(n);
        assert_eq!(
            CONTEXT.tokenizer.count(&text).expect("counts"),
            n,
            "{text:?}"
        );
    }
}

// ---- each slo_* check passes and fails -------------------------------------------

#[test]
fn a_latency_exactly_at_the_bound_passes() {
    // The histogram would report 500 ms as up to 500.5 ms; thresholds are
    // judged on the exact sample.
    let (finding, _) = judge_check(Check::SloTtft, &load(&steady(4, 500, 10, 2)));
    expect(
        "at the bound",
        &finding,
        Verdict::Pass,
        &["p95 500.000 ms", "≤ 500 ms (test)"],
    );
}

#[test]
fn slo_ttft_passes_and_fails_on_the_percentile_from_the_scheduled_send() {
    let (finding, _) = judge_check(Check::SloTtft, &load(&steady(4, 200, 10, 2)));
    expect("fast", &finding, Verdict::Pass, &["≤ 500 ms (test)"]);

    let (finding, figures) = judge_check(Check::SloTtft, &load(&steady(4, 800, 10, 2)));
    let p95 = reported(figures.ttft_from_scheduled_ns.as_ref(), "p95", 800 * MS);
    expect(
        "slow",
        &finding,
        Verdict::Fail,
        &[
            &format!("TTFT from the scheduled send p95 {}", ms(p95)),
            "over 4 samples",
            "> 500 ms (test)",
        ],
    );
}

#[test]
fn slo_itl_passes_and_fails_on_token_level_gaps() {
    let (finding, _) = judge_check(Check::SloItl, &load(&steady(4, 100, 40, 5)));
    expect("fast", &finding, Verdict::Pass, &["≤ 100 ms (test)"]);

    let (finding, figures) = judge_check(Check::SloItl, &load(&steady(4, 100, 150, 5)));
    let p99 = reported(figures.summary.itl_token_ns.as_ref(), "p99", 150 * MS);
    expect(
        "slow",
        &finding,
        Verdict::Fail,
        &[
            &format!("token-level ITL p99 {}", ms(p99)),
            "over 16 samples",
            "> 100 ms (test)",
        ],
    );
}

#[test]
fn slo_output_speed_passes_and_fails_on_the_median() {
    // 40 ms between tokens is 25 tokens/s; 60 ms is 16.666….
    let (finding, figures) = judge_check(Check::SloOutputSpeed, &load(&steady(4, 100, 40, 5)));
    let p50 = reported(
        figures.summary.output_speed_milli_tps.as_ref(),
        "p50",
        25_000,
    );
    expect(
        "fast",
        &finding,
        Verdict::Pass,
        &[
            &format!("output speed p50 {} tokens/s", milli_to_decimal(p50)),
            "over 4 requests",
            "≥ 20 tokens/s (test)",
        ],
    );

    let (finding, figures) = judge_check(Check::SloOutputSpeed, &load(&steady(4, 100, 60, 5)));
    let p50 = reported(
        figures.summary.output_speed_milli_tps.as_ref(),
        "p50",
        16_666,
    );
    expect(
        "slow",
        &finding,
        Verdict::Fail,
        &[
            &format!("output speed p50 {} tokens/s", milli_to_decimal(p50)),
            "< 20 tokens/s (test)",
        ],
    );
}

#[test]
fn slo_error_rate_passes_at_the_bound_and_fails_above_it() {
    let mut exchanges = load(&steady(3, 100, 10, 2));
    exchanges.push(failed(300));
    let (finding, _) = judge_check(Check::SloErrorRate, &exchanges);
    expect(
        "one of four",
        &finding,
        Verdict::Pass,
        &["1 of 4 requests failed (25%: ", "5xx 1", "≤ 25% (test)"],
    );

    exchanges[2] = failed(200);
    let (finding, _) = judge_check(Check::SloErrorRate, &exchanges);
    expect(
        "two of four",
        &finding,
        Verdict::Fail,
        &["2 of 4 requests failed (50%: ", "5xx 2", "> 25% (test)"],
    );
}

#[test]
fn slo_goodput_passes_at_the_bound_and_fails_below_it() {
    // The TTFT objective is 1000 ms: a request at 1200 ms is not good.
    let mut requests = steady(4, 100, 10, 2);
    requests[1].ttft = 1200;
    let (finding, figures) = judge_check(Check::SloGoodput, &load(&requests));
    assert_eq!(
        (
            figures.steady_state.requests_good,
            figures.steady_state.requests_ended
        ),
        (3, 4)
    );
    expect(
        "three of four",
        &finding,
        Verdict::Pass,
        &[
            "3 of 4 requests ending in the steady-state window met every objective (75%;",
            "≥ 75% (test)",
        ],
    );

    requests[2].ttft = 1200;
    let (finding, _) = judge_check(Check::SloGoodput, &load(&requests));
    expect(
        "two of four",
        &finding,
        Verdict::Fail,
        &["2 of 4 requests", "(50%;", "< 75% (test)"],
    );
}

#[test]
fn a_load_without_output_fails_the_latency_and_speed_checks_with_a_reason() {
    let exchanges: Vec<Exchange> = (0..4).map(|i| failed(i * 100)).collect();
    for (check, quotes) in [
        (
            Check::SloTtft,
            ["no TTFT from the scheduled send was measured", "500 ms"],
        ),
        (Check::SloItl, ["no token-level ITL was measured", "100 ms"]),
        (
            Check::SloOutputSpeed,
            ["no request delivered two tokens or more", "20 tokens/s"],
        ),
    ] {
        let (finding, _) = judge_check(check.clone(), &exchanges);
        expect(&check.label(), &finding, Verdict::Fail, &quotes);
    }
}

#[test]
fn one_token_answers_give_no_itl_and_say_so() {
    let (finding, _) = judge_check(Check::SloItl, &load(&steady(4, 100, 10, 1)));
    expect(
        "one token each",
        &finding,
        Verdict::Fail,
        &[
            "no token-level ITL was measured",
            "two content events or more",
            "100 ms",
        ],
    );
}

#[test]
fn an_empty_steady_state_window_fails_goodput() {
    // One request: the run ends when it does, inside the cool-down.
    let mut profile = class();
    profile.window = Window {
        warmup_percent: 10,
        cooldown_percent: 10,
    };
    let figures = figures_of(&load(&[req(0, 100, 10, 2)]), &profile);
    assert_eq!(figures.steady_state.requests_ended, 0);
    let finding = performance::check(&Check::SloGoodput, &figures, &profile);
    expect(
        "no request in the window",
        &finding,
        Verdict::Fail,
        &[
            "no request ended within the steady-state window (100‰ warm-up",
            "bound of 75%",
        ],
    );
}

// ---- coordinated omission -----------------------------------------------------------

#[test]
fn a_late_send_counts_against_the_ttft_from_the_scheduled_send() {
    // The server answers every request in 100 ms; the client sent the last
    // one 500 ms after its scheduled instant.
    let mut requests = steady(5, 100, 10, 2);
    requests[4] = requests[4].scheduled_at(400);
    requests[4].sent = 900;
    let (finding, figures) = judge_check(Check::SloTtft, &load(&requests));

    let plain = figures.summary.ttft_ns.as_ref().expect("a TTFT");
    assert_eq!((plain.min, plain.max), (100 * MS, 100 * MS));
    let scheduled = figures.ttft_from_scheduled_ns.as_ref().expect("a TTFT");
    assert_eq!((scheduled.min, scheduled.max), (100 * MS, 600 * MS));
    let late = figures.send_lateness_ns.as_ref().expect("a lateness");
    assert_eq!((late.min, late.max, late.count), (0, 500 * MS, 5));
    let e2e = figures.e2e_from_scheduled_ns.as_ref().expect("an E2E");
    assert_eq!(e2e.max, 610 * MS);

    let p95 = reported(Some(scheduled), "p95", 600 * MS);
    expect(
        "late",
        &finding,
        Verdict::Fail,
        &[
            &format!("TTFT from the scheduled send p95 {}", ms(p95)),
            "> 500 ms (test)",
        ],
    );
    // Sent on time, the same server passes.
    let (finding, _) = judge_check(Check::SloTtft, &load(&steady(5, 100, 10, 2)));
    expect("on time", &finding, Verdict::Pass, &[]);
}

// ---- figures -------------------------------------------------------------------

#[test]
fn figures_count_what_was_offered_sent_and_in_flight() {
    let exchanges = load(&[
        req(0, 100, 100, 3),                     // 0 → 300
        req(100, 100, 100, 3),                   // 100 → 400
        req(250, 50, 0, 1).scheduled_at(200),    // 250 → 300
        req(400, 100, 100, 3).scheduled_at(300), // 400 → 700, sent as the second ends
    ]);
    let f = figures_of(&exchanges, &class());
    let l = &f.load;
    assert_eq!(l.requests, 4);
    assert_eq!(l.span_ns, 700 * MS);
    assert_eq!(l.peak_in_flight, 3, "the fourth is sent as the second ends");
    // Three gaps over 300 ms scheduled, over 400 ms sent.
    assert_eq!(l.offered_rate_milli, Some(10_000));
    assert_eq!(l.sent_rate_milli, Some(7_500));
    let late = f.send_lateness_ns.as_ref().expect("a lateness");
    assert_eq!(
        (late.count, late.min, late.max, late.mean),
        (4, 0, 100 * MS, 37_500_000)
    );

    let one = figures_of(&exchanges[..1], &class());
    assert_eq!(
        (one.load.offered_rate_milli, one.load.sent_rate_milli),
        (None, None),
        "one request has no rate"
    );
}

/// TTFTs of 10 … 100 ms, sent in a shuffled order.
const TTFTS_MS: [u64; 10] = [70, 20, 100, 40, 10, 90, 30, 60, 80, 50];

#[test]
fn cdf_points_are_exact_order_statistics() {
    let requests: Vec<Req> = (0u64..)
        .zip(TTFTS_MS)
        .map(|(i, ttft)| req(i * 100, ttft, 10, 2))
        .collect();
    let f = figures_of(&load(&requests), &class());
    let samples: Vec<u64> = TTFTS_MS.iter().map(|t| t * MS).collect();
    let n = samples.len() as u64;
    let at_or_below = |v: u64| samples.iter().filter(|&&s| s <= v).count() as u64;
    assert_eq!(f.plots.ttft_cdf.len(), 23);
    for CdfPoint { per_mille, value } in &f.plots.ttft_cdf {
        // The smallest sample with at least this share at or below it.
        let smallest = samples
            .iter()
            .copied()
            .filter(|&s| at_or_below(s) * 1000 >= u64::from(*per_mille) * n)
            .min();
        assert_eq!(Some(*value), smallest, "at {per_mille}‰");
    }
    let point = |per_mille: u32| {
        f.plots
            .ttft_cdf
            .iter()
            .find(|p| p.per_mille == per_mille)
            .map(|p| p.value / MS)
    };
    let spots: Vec<_> = [0, 100, 150, 500, 550, 900, 950, 1000]
        .into_iter()
        .map(point)
        .collect();
    let expected = [10, 10, 20, 50, 60, 90, 100, 100].map(Some);
    assert_eq!(spots, expected);
    // E2E is TTFT plus the one 10 ms gap.
    let e2e: Vec<u64> = f.plots.e2e_cdf.iter().map(|p| p.value).collect();
    let ttft: Vec<u64> = f.plots.ttft_cdf.iter().map(|p| p.value + 10 * MS).collect();
    assert_eq!(e2e, ttft);
}

#[test]
fn histograms_and_the_timeline_account_for_every_sample() {
    let mut exchanges: Vec<Exchange> = (0u64..)
        .zip(TTFTS_MS)
        .map(|(i, ttft)| req(i * 100, ttft, 5 + i, 2 + i % 4).exchange())
        .collect();
    exchanges.extend([failed(150), failed(450), failed(950)]);
    let f = figures_of(&exchanges, &class());

    let ttft = &f.plots.ttft_histogram;
    assert!(
        !ttft.is_empty() && ttft.len() <= 20,
        "{} buckets",
        ttft.len()
    );
    assert_eq!(ttft.iter().map(|b| b.count).sum::<u64>(), 10);
    assert_eq!(ttft.first().map(|b| b.low), Some(10 * MS));
    assert_eq!(ttft.last().map(|b| b.high), Some(100 * MS));
    let itl = &f.plots.itl_histogram;
    let gaps = f.summary.itl_token_ns.as_ref().expect("gaps").count;
    assert_eq!(gaps, (0..10).map(|i| 1 + i % 4).sum::<u64>());
    assert_eq!(itl.iter().map(|b| b.count).sum::<u64>(), gaps);

    let timeline = &f.plots.timeline;
    assert!(!timeline.is_empty() && timeline.len() <= 20);
    assert_eq!(timeline.iter().map(|p| p.classes.ok).sum::<u64>(), 10);
    let errors = |p: &TimelinePoint| {
        p.classes.http_5xx
            + p.classes.http_429
            + p.classes.http_4xx
            + p.classes.timeout
            + p.classes.transport
            + p.classes.protocol
    };
    assert_eq!(timeline.iter().map(errors).sum::<u64>(), 3);
    let tokens: u64 = (0..10).map(|i| 2 + i % 4).sum();
    assert_eq!(
        timeline.iter().map(|p| p.output_tokens).sum::<u64>(),
        tokens
    );
    assert_eq!(timeline.last().map(|p| p.end_ns), Some(f.load.span_ns));
}

#[test]
fn an_exchange_without_send_times_is_not_a_load() {
    let mut exchanges = load(&steady(3, 100, 10, 2));
    exchanges[1].sent_ns = None;
    let err =
        performance::figures(&exchanges, &class(), &CONTEXT.tokenizer).expect_err("not a load");
    assert!(
        matches!(
            err,
            PerformanceError::NotALoad {
                index: 1,
                what: "send time"
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "exchange 1 has no send time: it was not recorded by a load"
    );

    let mut exchanges = load(&steady(3, 100, 10, 2));
    exchanges[2].scheduled_ns = None;
    let err =
        performance::figures(&exchanges, &class(), &CONTEXT.tokenizer).expect_err("not a load");
    assert!(
        matches!(
            err,
            PerformanceError::NotALoad {
                index: 2,
                what: "scheduled time"
            }
        ),
        "{err}"
    );
}

// ---- the judge on the suite's perf.interactive -------------------------------------

const CASE: &str = "perf.interactive";

/// A context claiming these service classes.
fn claiming(classes: &[&str]) -> Context {
    let plan = Plan {
        cases: vec![CASE.into()],
        performance: (!classes.is_empty()).then(|| PerformanceClaim {
            model: None,
            classes: classes.iter().map(|c| c.to_string()).collect(),
        }),
        ..Plan::default()
    };
    Context::new(plan, std::path::Path::new(".")).expect("o200k_base loads")
}

fn judge_interactive(context: &Context, exchanges: Option<Vec<Exchange>>) -> CaseResult {
    let case = SUITE.case(CASE).expect("the suite has perf.interactive");
    judge::judge_case(&SUITE, case, context, exchanges.map(Ok))
}

/// Ten requests, 100 ms apart, of eight tokens at `gap` ms after a 200 ms
/// TTFT: within every interactive threshold but output speed, which
/// passes at 40 ms (25 tokens/s) and fails at 60 ms (16.7 tokens/s).
fn interactive_load(gap: u64) -> Vec<Exchange> {
    load(&steady(10, 200, gap, 8))
}

#[test]
fn an_unclaimed_class_is_not_claimed() {
    for context in [claiming(&[]), claiming(&["batch"])] {
        let result = judge_interactive(&context, Some(interactive_load(40)));
        assert_eq!(result.verdict, Verdict::NotClaimed, "{}", result.reason);
        assert!(
            result.reason.contains("class interactive"),
            "{}",
            result.reason
        );
        assert!(result.performance.is_none());
    }
}

#[test]
fn a_load_without_exchanges_is_an_error() {
    let context = claiming(&["interactive"]);
    let result = judge_interactive(&context, Some(vec![]));
    assert_eq!(result.verdict, Verdict::Error);
    assert_eq!(result.reason, "the load recorded no exchange");
    let result = judge_interactive(&context, None);
    assert_eq!(result.verdict, Verdict::Error);
    assert!(result.reason.contains("no evidence"), "{}", result.reason);
}

#[test]
fn a_load_within_the_class_passes_with_its_figures() {
    let context = claiming(&["interactive"]);
    let result = judge_interactive(&context, Some(interactive_load(40)));
    assert_eq!(result.verdict, Verdict::Pass, "{}", result.reason);
    assert_eq!(
        result.reason,
        "all 5 thresholds of the interactive class are met over 10 requests"
    );
    let checks: Vec<&str> = result.checks.iter().map(|c| c.check.as_str()).collect();
    assert_eq!(
        checks,
        [
            "slo_ttft",
            "slo_output_speed",
            "slo_itl",
            "slo_error_rate",
            "slo_goodput"
        ]
    );
    let figures = result.performance.as_ref().expect("figures");
    assert_eq!(figures.slo, "interactive");
    assert_eq!(figures.load.requests, 10);
    // 10% warm-up and cool-down of a 1380 ms run leave 8 ends in the window.
    assert_eq!(figures.steady_state.requests_ended, 8);
    assert_eq!(figures.steady_state.requests_good, 8);
}

#[test]
fn a_slow_stream_fails_on_output_speed() {
    let context = claiming(&["interactive"]);
    let result = judge_interactive(&context, Some(interactive_load(60)));
    assert_eq!(result.verdict, Verdict::Fail, "{}", result.reason);
    assert!(
        result
            .reason
            .starts_with("slo_output_speed: output speed p50 16.6"),
        "{}",
        result.reason
    );
    assert!(
        result.reason.ends_with("< 20 tokens/s (interactive)"),
        "{}",
        result.reason
    );
    assert!(result.performance.is_some());
    let failing: Vec<&str> = result
        .checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .map(|c| c.check.as_str())
        .collect();
    assert_eq!(failing, ["slo_output_speed"]);
}

#[test]
fn judging_a_load_twice_gives_the_same_bytes() {
    let context = claiming(&["interactive"]);
    let mut exchanges = interactive_load(60);
    exchanges.push(failed(1000));
    let bytes = || {
        let result = judge_interactive(&context, Some(exchanges.clone()));
        canonical::to_vec(&result).expect("canonical")
    };
    let first = bytes();
    assert_eq!(first, bytes());
    let text = String::from_utf8(first).expect("UTF-8");
    assert!(text.contains("\"performance\":{"), "{text}");
}

// ---- report.md ----------------------------------------------------------------

#[test]
fn the_report_shows_the_load_its_metrics_and_its_thresholds() {
    let context = claiming(&["interactive"]);
    let exchanges = interactive_load(60);
    let result = judge_interactive(&context, Some(exchanges.clone()));
    let results = judge::collect(&SUITE, vec![result], &[]);
    // The judged exchange of a failing case is passed in; a load's is not shown.
    let evidence = BTreeMap::from([(CASE.to_string(), exchanges[0].clone())]);
    let run = run_info(context.plan.clone());
    let text = report::markdown(&report::Input {
        suite: &SUITE,
        run: &run,
        results: &results,
        signer: &Signer::Unsigned,
        evidence: &evidence,
    });
    let lines: BTreeSet<&str> = text.lines().collect();
    let has = |line: &str| assert!(lines.contains(line), "no line {line:?} in:\n{text}");
    let starts = |prefix: &str| {
        assert!(
            lines.iter().any(|l| l.starts_with(prefix)),
            "no line starting {prefix:?} in:\n{text}"
        );
    };
    has("## Performance");
    starts("Definitions. **TTFB**");
    has("### `perf.interactive`: fail against the interactive class");
    has(
        "Asked: 24 requests (seed 1), synthetic prompts of 200 tokens asking for 64 tokens, \
         closed loop of 4 users with 0 ms think time, for at most 60 s.",
    );
    // Each request takes 200 + 7 × 60 = 620 ms; seven overlap.
    has(
        "Achieved: 10 requests sent over 1.520 s, 10.000 requests/s sent (schedule: 10.000), \
         at most 7 in flight.",
    );
    has("| Metric | n | mean | p50 | p90 | p95 | p99 | p99.9 | max |");
    starts("| TTFT (ms) | 10 | 200.000 | 200.");
    starts("| ITL, token level (ms) | 70 | 60.000 | 60.");
    starts("| Send lateness (ms) | 10 | 0.000 | 0.000 ");
    starts("Errors: 0 of 10 (429: 0,");
    has("| Threshold | Verdict | Measured |");
    starts("| `slo_ttft` | pass | TTFT from the scheduled send p95 200.");
    starts("| `slo_output_speed` | fail | output speed p50 16.6");
    assert!(
        text.contains("< 20 tokens/s (interactive) |"),
        "the bound is shown:\n{text}"
    );
    starts("| `slo_goodput` | pass | 8 of 8 requests ending in the steady-state window");
    starts("### `perf.interactive`: fail (");
    assert!(
        !text.contains("Evidence: `"),
        "a load's exchange is not quoted:\n{text}"
    );
}
