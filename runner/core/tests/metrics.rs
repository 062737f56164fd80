//! Performance metrics from hand-built recorded exchanges: TTFT, ITL at
//! chunk and token level, TPOT, error classes, percentiles with their
//! confidence intervals, the steady-state window and goodput, and the
//! canonical bytes of the results.

mod common;

use std::sync::LazyLock;

use common::*;
use serde_json::{Value, json};
use tokencert_core::canonical;
use tokencert_core::evidence::{Exchange, Outcome};
use tokencert_core::metrics::{
    Distribution, ErrorClass, ErrorRates, ExchangeMetrics, Slo, TimedExchange, WindowSpec,
    exchange_metrics, quantile_ci_ranks, steady_state, summarize,
};
use tokencert_core::tokens::{Tokenizer, TokenizerSpec};

static TOKENIZER: LazyLock<Tokenizer> = LazyLock::new(|| {
    Tokenizer::load(&TokenizerSpec::O200kBase, std::path::Path::new(".")).expect("o200k_base loads")
});

const MS: u64 = 1_000_000;

fn tokens(text: &str) -> u64 {
    TOKENIZER.count(text).expect("counts") as u64
}

fn metrics(ex: &Exchange) -> ExchangeMetrics {
    exchange_metrics(ex, &TOKENIZER).expect("metrics")
}

// ---- one exchange --------------------------------------------------------------

#[test]
fn ttft_skips_a_role_only_chunk() {
    let role = event(&chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ));
    let ex = streamed(
        &[
            (100, role),
            (200, content("Hello")),
            (300, content(" world")),
            (310, done()),
        ],
        320,
    );
    let m = metrics(&ex);
    assert_eq!(m.class, ErrorClass::Ok, "{:?}", m.problem);
    assert!(m.streamed);
    assert_eq!(m.ttfb_ns, Some(50));
    assert_eq!(m.ttft_ns, Some(200));
    assert_eq!(m.e2e_ns, Some(320));
    assert_eq!(m.content_events, 2);
    assert_eq!(m.itl_chunk_ns, [100]);
    assert_eq!(m.recount_output_tokens, Some(tokens("Hello world")));
}

#[test]
fn an_event_split_across_chunks_takes_the_later_chunks_time() {
    let hello = content("Hello");
    for cut in [1, hello.len() / 2, hello.len() - 1] {
        let ex = streamed(
            &[
                (200, hello[..cut].to_string()),
                (250, hello[cut..].to_string()),
                (300, content(" world")),
                (310, done()),
            ],
            320,
        );
        assert_eq!(metrics(&ex).ttft_ns, Some(250), "cut at {cut}");
    }
    // Two events in one chunk share its time; the next event's first byte
    // in it does not move the time of the one it completes.
    let both = content("Hello") + &content(" world")[..3];
    let ex = streamed(
        &[
            (200, both),
            (270, content(" world")[3..].to_string()),
            (300, done()),
        ],
        300,
    );
    let m = metrics(&ex);
    assert_eq!((m.ttft_ns, m.itl_chunk_ns.clone()), (Some(200), vec![70]));
}

#[test]
fn token_level_itl_splits_a_three_token_event_in_three() {
    let three = " one two three";
    assert_eq!(tokens(three), 3, "the test text is three o200k_base tokens");
    let ex = streamed(
        &[
            (200, content("Hello")),
            (500, content(three)),
            (510, done()),
        ],
        520,
    );
    let m = metrics(&ex);
    assert_eq!(m.itl_chunk_ns, [300]);
    assert_eq!(m.itl_token_ns, [100, 100, 100]);
}

#[test]
fn token_level_itl_skips_events_of_no_tokens() {
    // A tool-call delta is content (it counts for TTFT and chunk ITL) but
    // carries no recounted text.
    let call = event(&chunk(
        json!({"tool_calls": [{"index": 0, "id": "c1", "type": "function",
                               "function": {"name": "f", "arguments": ""}}]}),
        Value::Null,
    ));
    let ex = streamed(
        &[
            (100, call),
            (200, content("Hello")),
            (400, content(" world")),
            (410, done()),
        ],
        420,
    );
    let m = metrics(&ex);
    assert_eq!(m.ttft_ns, Some(100));
    assert_eq!(m.itl_chunk_ns, [100, 200]);
    assert_eq!(m.itl_token_ns, [200]);
}

#[test]
fn tpot_and_output_speed() {
    let pieces = ["Hello", " world", ",", " how", " are", " you"];
    let text: String = pieces.concat();
    let n = tokens(&text);
    assert_eq!(n, 6);
    let mut body: Vec<(u64, String)> = pieces
        .iter()
        .zip(1u64..)
        .map(|(p, i)| (i * 10 * MS, content(p)))
        .collect();
    body.push((61 * MS, done()));
    let ex = streamed(&body, 62 * MS);
    let m = metrics(&ex);
    // (E2E − TTFT) / (n − 1) = (62 ms − 10 ms) / 5 = 10.4 ms.
    assert_eq!(m.ttft_ns, Some(10 * MS));
    assert_eq!(m.tpot_ns, Some(10_400_000));
    // 5 tokens in 52 ms: 96.153... tokens/s, in milli-tokens per second.
    assert_eq!(m.output_speed_milli_tps, Some(96_153));
    assert_eq!(m.itl_token_ns, vec![10 * MS; 5]);
}

#[test]
fn one_token_leaves_tpot_undefined() {
    let ex = streamed(&[(200, content("Hello")), (210, done())], 220);
    let m = metrics(&ex);
    assert_eq!(m.recount_output_tokens, Some(1));
    assert_eq!(m.ttft_ns, Some(200));
    assert_eq!((m.tpot_ns, m.output_speed_milli_tps), (None, None));
    assert!(m.itl_chunk_ns.is_empty() && m.itl_token_ns.is_empty());
}

#[test]
fn server_usage_and_recount_are_both_kept() {
    let ex = stream(&chunks()).build();
    let m = metrics(&ex);
    assert_eq!(m.class, ErrorClass::Ok, "{:?}", m.problem);
    assert_eq!(m.usage_output_tokens, Some(5));
    assert_eq!(m.recount_output_tokens, Some(tokens("Hello 😀 world")));

    let ex = Ex::json(&completion()).build();
    let m = metrics(&ex);
    assert_eq!(m.class, ErrorClass::Ok, "{:?}", m.problem);
    assert!(!m.streamed);
    assert_eq!(m.usage_output_tokens, Some(5));
    assert_eq!(m.recount_output_tokens, Some(tokens("Hello 😀")));
    assert_eq!((m.ttft_ns, m.tpot_ns), (None, None));
    assert_eq!(m.e2e_ns, ex.end_ns);
}

#[test]
fn legacy_completion_text_counts_as_content() {
    let text = |t: &str| {
        event(
            &json!({"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
                      "choices": [{"text": t, "index": 0, "logprobs": null, "finish_reason": null}]}),
        )
    };
    let ex = streamed(
        &[
            (100, text("")),
            (200, text("Hello")),
            (350, text(" world")),
            (360, done()),
        ],
        370,
    );
    let m = metrics(&ex);
    assert_eq!((m.ttft_ns, m.itl_chunk_ns.clone()), (Some(200), vec![150]));
}

#[test]
fn every_error_class_from_a_matching_exchange() {
    let ok = stream(&chunks());
    let cases: Vec<(&str, Exchange, ErrorClass)> = vec![
        ("a complete stream", ok.build(), ErrorClass::Ok),
        (
            "a complete body",
            Ex::json(&completion()).build(),
            ErrorClass::Ok,
        ),
        (
            "429",
            Ex::json(&error_body()).status(429).build(),
            ErrorClass::Http429,
        ),
        (
            "400",
            Ex::json(&error_body()).status(400).build(),
            ErrorClass::Http4xx,
        ),
        (
            "401",
            Ex::json(&error_body()).status(401).build(),
            ErrorClass::Http4xx,
        ),
        (
            "503",
            Ex::json(&error_body()).status(503).build(),
            ErrorClass::Http5xx,
        ),
        (
            "a deadline mid-stream",
            ok.clone()
                .cut_at(&[40])
                .outcome(Some(Outcome::Deadline { limit_ms: 30000 }))
                .build(),
            ErrorClass::Timeout,
        ),
        (
            "a deadline before any response",
            unanswered(Some(Outcome::Deadline { limit_ms: 30000 })),
            ErrorClass::Timeout,
        ),
        ("a refused connection", refused(), ErrorClass::Transport),
        (
            "a recording with no end",
            unanswered(None),
            ErrorClass::Transport,
        ),
        (
            "no [DONE]",
            Ex::new(SSE, sse_body(&datas(&chunks())[..4])).build(),
            ErrorClass::Protocol,
        ),
        (
            "an event after [DONE]",
            Ex::sse(&[datas(&chunks()), vec!["{}".into()]].concat()).build(),
            ErrorClass::Protocol,
        ),
        (
            "an unterminated event",
            Ex::new(SSE, sse_body(&datas(&chunks())) + "data: x").build(),
            ErrorClass::Protocol,
        ),
        (
            "an event that is not JSON",
            Ex::sse(&["{".into(), "[DONE]".into()]).build(),
            ErrorClass::Protocol,
        ),
        (
            "a body that is not JSON",
            Ex::new("application/json", "not json").build(),
            ErrorClass::Protocol,
        ),
        (
            "a body cut by a reset",
            ok.clone()
                .cut_at(&[40])
                .outcome(Some(Outcome::Transport {
                    message: "connection reset".into(),
                }))
                .build(),
            ErrorClass::Protocol,
        ),
        (
            "a redirect",
            Ex::json(&json!({})).status(302).build(),
            ErrorClass::Protocol,
        ),
    ];
    for (label, ex, class) in &cases {
        let m = metrics(ex);
        assert_eq!(m.class, *class, "{label}: {:?}", m.problem);
        assert_eq!(m.problem.is_none(), *class == ErrorClass::Ok, "{label}");
        if *class != ErrorClass::Ok {
            assert_eq!(
                (m.ttft_ns, m.recount_output_tokens),
                (None, None),
                "{label}"
            );
        }
    }
    let rates = ErrorRates::of(
        &cases
            .iter()
            .map(|(_, ex, _)| metrics(ex))
            .collect::<Vec<_>>(),
    );
    assert_eq!(rates.total, cases.len() as u64);
    for class in ErrorClass::ALL {
        let expected = cases.iter().filter(|(_, _, c)| *c == class).count() as u64;
        assert!(expected > 0, "{} has a case", class.as_str());
        assert_eq!(rates.counts.get(class), expected, "{}", class.as_str());
        assert_eq!(rates.ppm.get(class), expected * 1_000_000 / rates.total);
    }
    assert_eq!(rates.errors, rates.total - 2);
}

// ---- distributions -------------------------------------------------------------

#[test]
fn percentiles_of_one_to_a_thousand_ms() {
    let samples: Vec<u64> = (1..=1000).rev().map(|i| i * MS).collect();
    let d = Distribution::from_samples(&samples)
        .expect("records")
        .expect("samples");
    assert_eq!(
        (d.count, d.min, d.max, d.mean),
        (1000, MS, 1000 * MS, 500_500_000)
    );
    for (name, expected_ms) in [
        ("p50", 500),
        ("p90", 900),
        ("p95", 950),
        ("p99", 990),
        ("p99.9", 999),
    ] {
        let p = d.percentile(name).expect("reported");
        let expected = expected_ms * MS;
        // Within the histogram's 3 significant digits.
        assert!(
            p.value >= expected && p.value - expected <= expected / 1000,
            "{name}: {} vs {expected}",
            p.value
        );
        let low = p.ci_low.expect("a lower bound");
        assert!(low <= expected, "{name}: {low}");
        // p99.9 of 1000 samples has no upper bound (checked below).
        assert!(p.ci_high.is_none_or(|high| expected <= high), "{name}");
    }
    let p50 = d.percentile("p50").expect("reported");
    // n = 1000, q = 0.5: the classic ranks 469 and 532 (±1.96 σ, σ ≈ 15.8).
    assert_eq!((p50.ci_low_rank, p50.ci_high_rank), (Some(469), Some(532)));
    assert_eq!((p50.ci_low, p50.ci_high), (Some(469 * MS), Some(532 * MS)));
    let p999 = d.percentile("p99.9").expect("reported");
    assert_eq!(
        p999.ci_high, None,
        "n = 1000 is too few for an upper bound of p99.9"
    );
}

/// A fixed linear congruential generator (Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn the_interval_covers_the_true_quantile() {
    // Samples from the uniform population 0..1_000_000, whose q-quantile is
    // q · 1_000_000.
    let mut rng = Lcg(42);
    let samples: Vec<u64> = (0..400).map(|_| rng.below(1_000_000)).collect();
    let d = Distribution::from_samples(&samples)
        .expect("records")
        .expect("samples");
    for name in ["p50", "p90", "p95"] {
        let p = d.percentile(name).expect("reported");
        let truth = u64::from(p.per_mille) * 1000;
        let (low, high) = (p.ci_low.expect("lower"), p.ci_high.expect("upper"));
        assert!(
            low <= truth && truth <= high,
            "{name}: [{low}, {high}] ∌ {truth}"
        );
    }
    // Over many samples the 95% intervals cover the truth at least about
    // 95% of the time.
    let trials = 400;
    let mut covered = [0u32; 2];
    for _ in 0..trials {
        let samples: Vec<u64> = (0..60).map(|_| rng.below(1_000_000)).collect();
        let d = Distribution::from_samples(&samples)
            .expect("records")
            .expect("samples");
        for (slot, name) in ["p50", "p90"].iter().enumerate() {
            let p = d.percentile(name).expect("reported");
            let truth = u64::from(p.per_mille) * 1000;
            if p.ci_low.is_some_and(|l| l <= truth) && p.ci_high.is_some_and(|h| truth <= h) {
                covered[slot] += 1;
            }
        }
    }
    for c in covered {
        assert!(c * 100 >= trials * 93, "covered {c} of {trials}");
    }
}

#[test]
fn too_few_samples_leave_the_bounds_null() {
    let d = Distribution::from_samples(&[3, 1, 2])
        .expect("records")
        .expect("samples");
    let p99 = d.percentile("p99").expect("reported");
    assert_eq!(p99.ci_high, None);
    assert_eq!(p99.ci_high_rank, None);
    assert_eq!(quantile_ci_ranks(3, 990).1, None);
    let p50 = d.percentile("p50").expect("reported");
    // P(B = 0) = P(B = 3) = 12.5% > 2.5%: neither bound for the median.
    assert_eq!((p50.ci_low, p50.ci_high), (None, None));
    let one = Distribution::from_samples(&[7])
        .expect("records")
        .expect("samples");
    assert!(
        one.percentiles
            .iter()
            .all(|p| p.value == 7 && p.ci_high.is_none())
    );
}

// ---- the run ---------------------------------------------------------------------

/// A streamed exchange of `n` one-token pieces, its first at `ttft`, the
/// rest every `gap` ns; it ends 1 ns after the last.
fn paced(n: u64, ttft: u64, gap: u64) -> ExchangeMetrics {
    let mut body: Vec<(u64, String)> = (0..n).map(|i| (ttft + i * gap, content(" hi"))).collect();
    let last = ttft + (n - 1) * gap;
    body.push((last, done()));
    let m = metrics(&streamed(&body, last + 1));
    assert_eq!(m.recount_output_tokens, Some(n));
    m
}

#[test]
fn the_steady_state_window_leaves_out_warm_up_and_cool_down() {
    let m = paced(4, 10 * MS, MS);
    // Requests ending at 5, 15, ..., 95 ms of a run spanning 0..=100 ms.
    let mut requests: Vec<TimedExchange<'_>> = (0..10)
        .map(|i| TimedExchange {
            start_ns: i * 10 * MS,
            end_ns: i * 10 * MS + 5 * MS,
            metrics: &m,
        })
        .collect();
    requests.push(TimedExchange {
        start_ns: 0,
        end_ns: 100 * MS,
        metrics: &m,
    });
    let state = steady_state(&requests, &WindowSpec::default(), &Slo::default()).expect("window");
    assert_eq!((state.run_start_ns, state.run_end_ns), (0, 100 * MS));
    assert_eq!(
        (state.window_start_ns, state.window_end_ns),
        (10 * MS, 90 * MS)
    );
    // 15, 25, ..., 85 ms: eight requests in 80 ms.
    assert_eq!((state.requests_ended, state.requests_ok), (8, 8));
    assert_eq!(state.request_throughput_milli, Some(100_000));
    assert_eq!(state.output_tokens, 32);
    assert_eq!(state.output_token_throughput_milli, Some(400_000));
    assert_eq!(state.goodput_milli, Some(100_000));

    let none = WindowSpec {
        warmup_per_mille: 0,
        cooldown_per_mille: 0,
    };
    let whole = steady_state(&requests, &none, &Slo::default()).expect("window");
    assert_eq!(whole.requests_ended, 11);

    let all = WindowSpec {
        warmup_per_mille: 500,
        cooldown_per_mille: 500,
    };
    assert!(steady_state(&requests, &all, &Slo::default()).is_err());
    assert!(steady_state(&[], &none, &Slo::default()).is_err());
    let backwards = [TimedExchange {
        start_ns: 5,
        end_ns: 4,
        metrics: &m,
    }];
    assert!(steady_state(&backwards, &none, &Slo::default()).is_err());
}

#[test]
fn goodput_counts_requests_meeting_every_objective() {
    let fast = paced(5, 100 * MS, 10 * MS); // TTFT 100 ms, TPOT 10 ms
    let slow_start = paced(5, 900 * MS, 10 * MS); // TTFT 900 ms
    let slow_tokens = paced(5, 100 * MS, 80 * MS); // TPOT 80 ms
    let single = paced(1, 100 * MS, 0); // no TPOT
    let failed = metrics(&Ex::json(&error_body()).status(503).build());
    let all = [&fast, &slow_start, &slow_tokens, &single, &failed];
    let requests: Vec<TimedExchange<'_>> = all
        .iter()
        .zip(0u64..)
        .map(|(m, i)| TimedExchange {
            start_ns: 0,
            end_ns: (i + 1) * 200 * MS,
            metrics: m,
        })
        .collect();
    let slo = Slo {
        ttft_ns_max: Some(500 * MS),
        tpot_ns_max: Some(50 * MS),
        e2e_ns_max: None,
    };
    assert!(slo.met_by(&fast) && slo.met_by(&single));
    assert!(!slo.met_by(&slow_start) && !slo.met_by(&slow_tokens) && !slo.met_by(&failed));
    let none = WindowSpec {
        warmup_per_mille: 0,
        cooldown_per_mille: 0,
    };
    let state = steady_state(&requests, &none, &slo).expect("window");
    // 4 ok requests, 2 good, in a window of 1 s.
    assert_eq!(
        (state.requests_ended, state.requests_ok, state.requests_good),
        (5, 4, 2)
    );
    assert_eq!(state.request_throughput_milli, Some(4000));
    assert_eq!(state.goodput_milli, Some(2000));
    let e2e = Slo {
        e2e_ns_max: Some(200 * MS),
        ..Slo::default()
    };
    assert!(e2e.met_by(&fast) && !e2e.met_by(&slow_tokens));
}

#[test]
fn results_serialize_to_identical_canonical_bytes() {
    let all: Vec<ExchangeMetrics> = [
        paced(5, 100 * MS, 10 * MS),
        paced(8, 120 * MS, 12 * MS),
        paced(1, 90 * MS, 0),
        metrics(&refused()),
    ]
    .into_iter()
    .collect();
    let summary = summarize(&all).expect("summary");
    assert_eq!(summary.ttft_ns.as_ref().map(|d| d.count), Some(3));
    assert_eq!(summary.itl_token_ns.as_ref().map(|d| d.count), Some(4 + 7));
    assert_eq!(summary.errors.counts.transport, 1);
    let requests: Vec<TimedExchange<'_>> = all
        .iter()
        .zip(0u64..)
        .map(|(m, i)| TimedExchange {
            start_ns: i * MS,
            end_ns: i * MS + m.e2e_ns.unwrap_or(0),
            metrics: m,
        })
        .collect();
    let state = steady_state(&requests, &WindowSpec::default(), &Slo::default()).expect("window");
    let value = json!({"summary": summary, "steady_state": state, "exchanges": all});
    let first = canonical::to_vec(&value).expect("integers only");
    let again = summarize(&all).expect("summary");
    let second =
        canonical::to_vec(&json!({"summary": again, "steady_state": state, "exchanges": all}))
            .expect("integers only");
    assert_eq!(first, second);
    // And the structures read back equal.
    let text = serde_json::to_string(&summary).expect("serializes");
    let back: tokencert_core::metrics::Summary = serde_json::from_str(&text).expect("parses");
    assert_eq!(back, summary);
}
