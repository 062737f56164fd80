//! Judging a performance case: the figures of its load, computed from the
//! recorded exchanges alone, and the `slo_*` checks that compare them with
//! the thresholds of the case's service class (an [`SloProfile`]).
//!
//! Every exchange of a load carries its scheduled and actual send times
//! on the run's clock (nanoseconds since the load started). Latencies are
//! reported from both: from the actual send (what the server did) and from
//! the scheduled send (what a user waiting since that instant saw), so a
//! client that fell behind its schedule cannot hide a slow server
//! (coordinated omission). The TTFT threshold is judged from the scheduled
//! send.

use serde::{Deserialize, Serialize};

use crate::check::Finding;
use crate::evidence::Exchange;
use crate::metrics::{
    ClassCounts, Distribution, ExchangeMetrics, MetricsError, Percentile, SteadyState, Summary,
    TimedExchange, exchange_metrics, milli_per_second, milli_to_decimal, quantile, steady_state,
    summarize,
};
use crate::suite::{Check, SloProfile};
use crate::tokens::Tokenizer;

/// Points of a cumulative distribution, per mille.
const CDF_PER_MILLE: [u32; 23] = [
    0, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 550, 600, 650, 700, 750, 800, 850, 900,
    950, 990, 999, 1000,
];
/// Buckets of a histogram.
const HISTOGRAM_BUCKETS: u64 = 20;
/// Intervals of the timeline.
const TIMELINE_INTERVALS: u64 = 20;

/// Why a load's figures could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum PerformanceError {
    /// An exchange lacks the send times every load exchange records.
    #[error("exchange {index} has no {what}: it was not recorded by a load")]
    NotALoad {
        /// Its position in the evidence, from 0.
        index: usize,
        /// The missing time.
        what: &'static str,
    },
    /// The metrics could not be computed.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

/// What a load achieved, from its exchanges' send and end times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Achieved {
    /// Requests recorded (sent).
    pub requests: u64,
    /// From the first send to the last end, nanoseconds.
    pub span_ns: u64,
    /// Requests per second the schedule asked for: (n − 1) over the time
    /// from the first to the last scheduled send, milli-requests per
    /// second; `None` for fewer than two requests.
    pub offered_rate_milli: Option<u64>,
    /// Requests per second actually sent, the same way from the actual
    /// send times.
    pub sent_rate_milli: Option<u64>,
    /// The most requests in flight at once.
    pub peak_in_flight: u64,
}

/// One point of a cumulative distribution: the sample at this rank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdfPoint {
    /// The quantile, per mille.
    pub per_mille: u32,
    /// The smallest sample with at least this share of samples at or below it.
    pub value: u64,
}

/// One bucket of a histogram: samples in `[low, high)` (the last bucket
/// includes its upper bound).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Lower bound.
    pub low: u64,
    /// Upper bound.
    pub high: u64,
    /// Samples in it.
    pub count: u64,
}

/// One interval of the run: what ended in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Start of the interval, ns since the first send.
    pub start_ns: u64,
    /// Its end.
    pub end_ns: u64,
    /// Requests that ended in it, by class (`ok` and each error class).
    pub classes: ClassCounts,
    /// Recounted output tokens of its `ok` requests.
    pub output_tokens: u64,
}

/// Data for charts, exact (no histogram rounding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plots {
    /// CDF of E2E from the actual send, nanoseconds.
    pub e2e_cdf: Vec<CdfPoint>,
    /// CDF of TTFT from the actual send, nanoseconds.
    pub ttft_cdf: Vec<CdfPoint>,
    /// Histogram of TTFT from the actual send, nanoseconds.
    pub ttft_histogram: Vec<Bucket>,
    /// Histogram of token-level ITL, nanoseconds.
    pub itl_histogram: Vec<Bucket>,
    /// Completions by class and output tokens over the run.
    pub timeline: Vec<TimelinePoint>,
}

/// The figures of a performance case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// The service class judged against.
    pub slo: String,
    /// The load achieved.
    pub load: Achieved,
    /// Per-request metrics (latencies from the actual send) and error rates.
    pub summary: Summary,
    /// TTFT from the scheduled send, nanoseconds.
    pub ttft_from_scheduled_ns: Option<Distribution>,
    /// E2E from the scheduled send, nanoseconds.
    pub e2e_from_scheduled_ns: Option<Distribution>,
    /// How late requests were sent (actual − scheduled), nanoseconds.
    pub send_lateness_ns: Option<Distribution>,
    /// Throughput and goodput over the steady-state window.
    pub steady_state: SteadyState,
    /// Chart data.
    pub plots: Plots,
}

/// One exchange of a load on the run's clock, with its metrics.
#[derive(Debug, Clone)]
pub struct Placed {
    /// When the load model scheduled it, ns since the load started.
    pub scheduled_ns: u64,
    /// When it was sent, on the same clock.
    pub sent_ns: u64,
    /// When it ended (a recording cut short: its last recorded byte).
    pub end_ns: u64,
    /// Its metrics, times from the actual send.
    pub metrics: ExchangeMetrics,
}

impl Placed {
    /// How late it was sent (actual − scheduled): what a latency measured
    /// from the scheduled send adds to one measured from the actual send.
    pub fn lateness_ns(&self) -> u64 {
        self.sent_ns.saturating_sub(self.scheduled_ns)
    }
}

/// Places a load's exchanges on the run's clock and computes their metrics.
///
/// # Errors
///
/// [`PerformanceError`]: an exchange without send times, or a text the
/// tokenizer refuses.
pub fn place(
    exchanges: &[Exchange],
    tokenizer: &Tokenizer,
) -> Result<Vec<Placed>, PerformanceError> {
    let mut placed = Vec::with_capacity(exchanges.len());
    for (index, exchange) in exchanges.iter().enumerate() {
        let missing = |what| PerformanceError::NotALoad { index, what };
        let sent_ns = exchange.sent_ns.ok_or_else(|| missing("send time"))?;
        let scheduled_ns = exchange
            .scheduled_ns
            .ok_or_else(|| missing("scheduled time"))?;
        let metrics = exchange_metrics(exchange, tokenizer)?;
        // A recording cut short ends at its last recorded byte.
        let last = exchange
            .end_ns
            .or_else(|| exchange.chunks.last().map(|c| c.t_ns));
        placed.push(Placed {
            scheduled_ns,
            sent_ns,
            end_ns: sent_ns.saturating_add(last.unwrap_or(0)),
            metrics,
        });
    }
    Ok(placed)
}

/// Computes the figures of a load from its exchanges.
///
/// # Errors
///
/// [`PerformanceError`]: an exchange without send times, or metrics that
/// cannot be computed (a text the tokenizer refuses, no exchange at all).
pub fn figures(
    exchanges: &[Exchange],
    profile: &SloProfile,
    tokenizer: &Tokenizer,
) -> Result<Figures, PerformanceError> {
    let placed = place(exchanges, tokenizer)?;
    let metrics: Vec<ExchangeMetrics> = placed.iter().map(|p| p.metrics.clone()).collect();
    let summary = summarize(&metrics)?;
    let timed: Vec<TimedExchange<'_>> = placed
        .iter()
        .map(|p| TimedExchange {
            start_ns: p.sent_ns,
            end_ns: p.end_ns,
            metrics: &p.metrics,
        })
        .collect();
    let steady = steady_state(&timed, &profile.window_spec(), &profile.slo())?;
    let late = Placed::lateness_ns;
    let ok: Vec<&Placed> = placed
        .iter()
        .filter(|p| p.metrics.class == crate::metrics::ErrorClass::Ok)
        .collect();
    let from_scheduled = |pick: fn(&ExchangeMetrics) -> Option<u64>| {
        let samples: Vec<u64> = ok
            .iter()
            .filter_map(|p| pick(&p.metrics).map(|t| t.saturating_add(late(p))))
            .collect();
        Distribution::from_samples(&samples)
    };
    let lateness: Vec<u64> = placed.iter().map(late).collect();
    let ttft: Vec<u64> = ok.iter().filter_map(|p| p.metrics.ttft_ns).collect();
    let e2e: Vec<u64> = ok.iter().filter_map(|p| p.metrics.e2e_ns).collect();
    let itl: Vec<u64> = ok
        .iter()
        .flat_map(|p| p.metrics.itl_token_ns.iter().copied())
        .collect();
    Ok(Figures {
        slo: profile.name.clone(),
        load: achieved(&placed),
        summary,
        ttft_from_scheduled_ns: from_scheduled(|m| m.ttft_ns)?,
        e2e_from_scheduled_ns: from_scheduled(|m| m.e2e_ns)?,
        send_lateness_ns: Distribution::from_samples(&lateness)?,
        steady_state: steady,
        plots: Plots {
            e2e_cdf: cdf(e2e),
            ttft_cdf: cdf(ttft.clone()),
            ttft_histogram: histogram(&ttft),
            itl_histogram: histogram(&itl),
            timeline: timeline(&placed),
        },
    })
}

fn achieved(placed: &[Placed]) -> Achieved {
    let first = placed.iter().map(|p| p.sent_ns).min().unwrap_or(0);
    let last_end = placed.iter().map(|p| p.end_ns).max().unwrap_or(0);
    let rate = |times: Vec<u64>| {
        let (min, max) = (times.iter().min()?, times.iter().max()?);
        milli_per_second(times.len() as u64 - 1, max - min).filter(|_| times.len() > 1)
    };
    // Sends and ends, in order; an end at the same instant as a send
    // counts first, so back-to-back requests are not in flight together.
    let mut events: Vec<(u64, bool)> = placed
        .iter()
        .flat_map(|p| [(p.sent_ns, true), (p.end_ns, false)])
        .collect();
    events.sort_unstable();
    let (mut now, mut peak) = (0u64, 0u64);
    for (_, is_send) in events {
        if is_send {
            now += 1;
            peak = peak.max(now);
        } else {
            now = now.saturating_sub(1);
        }
    }
    Achieved {
        requests: placed.len() as u64,
        span_ns: last_end.saturating_sub(first),
        offered_rate_milli: rate(placed.iter().map(|p| p.scheduled_ns).collect()),
        sent_rate_milli: rate(placed.iter().map(|p| p.sent_ns).collect()),
        peak_in_flight: peak,
    }
}

fn cdf(mut samples: Vec<u64>) -> Vec<CdfPoint> {
    samples.sort_unstable();
    CDF_PER_MILLE
        .iter()
        .filter_map(|&per_mille| {
            quantile(&samples, per_mille).map(|value| CdfPoint { per_mille, value })
        })
        .collect()
}

fn histogram(samples: &[u64]) -> Vec<Bucket> {
    let (Some(&min), Some(&max)) = (samples.iter().min(), samples.iter().max()) else {
        return Vec::new();
    };
    let width = ((max - min) / HISTOGRAM_BUCKETS).max(1);
    let buckets = ((max - min) / width + 1).min(HISTOGRAM_BUCKETS);
    let mut out: Vec<Bucket> = (0..buckets)
        .map(|i| Bucket {
            low: min + i * width,
            high: if i + 1 == buckets {
                max
            } else {
                min + (i + 1) * width
            },
            count: 0,
        })
        .collect();
    for &s in samples {
        let i = ((s - min) / width).min(buckets - 1);
        if let Some(bucket) = out.get_mut(usize::try_from(i).unwrap_or(usize::MAX)) {
            bucket.count += 1;
        }
    }
    out
}

fn timeline(placed: &[Placed]) -> Vec<TimelinePoint> {
    let Some(first) = placed.iter().map(|p| p.sent_ns).min() else {
        return Vec::new();
    };
    let span = placed.iter().map(|p| p.end_ns).max().unwrap_or(first) - first;
    let width = span.div_ceil(TIMELINE_INTERVALS).max(1);
    let intervals = span.div_ceil(width).max(1);
    let mut out: Vec<TimelinePoint> = (0..intervals)
        .map(|i| TimelinePoint {
            start_ns: i * width,
            end_ns: ((i + 1) * width).min(span),
            classes: ClassCounts::default(),
            output_tokens: 0,
        })
        .collect();
    for p in placed {
        let i = ((p.end_ns - first) / width).min(intervals - 1);
        let Some(point) = out.get_mut(usize::try_from(i).unwrap_or(usize::MAX)) else {
            continue;
        };
        point.classes.add(p.metrics.class);
        point.output_tokens += p.metrics.recount_output_tokens.unwrap_or(0);
    }
    out
}

/// Judges one `slo_*` check of a performance case.
pub fn check(check: &Check, figures: &Figures, profile: &SloProfile) -> Finding {
    let t = &profile.thresholds;
    let class = &profile.name;
    match check {
        Check::SloTtft => match &t.ttft {
            Some(bound) => latency(
                "TTFT from the scheduled send",
                "no request delivered output",
                figures.ttft_from_scheduled_ns.as_ref(),
                &bound.percentile,
                bound.max_ms,
                class,
            ),
            None => unset(check, class),
        },
        Check::SloItl => match &t.itl {
            Some(bound) => latency(
                "token-level ITL",
                "no request delivered tokens in two content events or more",
                figures.summary.itl_token_ns.as_ref(),
                &bound.percentile,
                bound.max_ms,
                class,
            ),
            None => unset(check, class),
        },
        Check::SloOutputSpeed => match &t.output_speed {
            Some(bound) => {
                let Some((p, count)) = percentile(
                    figures.summary.output_speed_milli_tps.as_ref(),
                    &bound.percentile,
                ) else {
                    return Finding::fail(format!(
                        "no request delivered two tokens or more: no output speed to compare with \
                         the {class} bound of {} tokens/s",
                        bound.min_tokens_per_s
                    ));
                };
                let text = format!(
                    "output speed {} {} tokens/s{} over {count} requests",
                    bound.percentile,
                    milli_to_decimal(p.exact),
                    interval(p, milli_to_decimal, " tokens/s"),
                );
                if p.exact >= bound.min_tokens_per_s.saturating_mul(1000) {
                    Finding::pass(format!(
                        "{text} ≥ {} tokens/s ({class})",
                        bound.min_tokens_per_s
                    ))
                } else {
                    Finding::fail(format!(
                        "{text} < {} tokens/s ({class})",
                        bound.min_tokens_per_s
                    ))
                }
            }
            None => unset(check, class),
        },
        Check::SloErrorRate => match &t.error_rate {
            Some(bound) => {
                let e = &figures.summary.errors;
                let text = format!(
                    "{} of {} requests failed ({}%: {})",
                    e.errors,
                    e.total,
                    ppm_to_percent(e.error_ppm),
                    classes(e)
                );
                // errors / total <= max_ppm / 10^6, exactly.
                if u128::from(e.errors) * 1_000_000
                    <= u128::from(bound.max_ppm) * u128::from(e.total)
                {
                    Finding::pass(format!(
                        "{text} ≤ {}% ({class})",
                        ppm_to_percent(bound.max_ppm)
                    ))
                } else {
                    Finding::fail(format!(
                        "{text} > {}% ({class})",
                        ppm_to_percent(bound.max_ppm)
                    ))
                }
            }
            None => unset(check, class),
        },
        Check::SloGoodput => match &t.goodput {
            Some(bound) => {
                let s = &figures.steady_state;
                if s.requests_ended == 0 {
                    return Finding::fail(format!(
                        "no request ended within the steady-state window ({}‰ warm-up and {}‰ \
                         cool-down left out): no goodput to compare with the {class} bound of {}%",
                        s.warmup_per_mille,
                        s.cooldown_per_mille,
                        ppm_to_percent(bound.min_ppm)
                    ));
                }
                let share = s.requests_good * 1_000_000 / s.requests_ended;
                let text = format!(
                    "{} of {} requests ending in the steady-state window met every objective \
                     ({}%; goodput {} requests/s)",
                    s.requests_good,
                    s.requests_ended,
                    ppm_to_percent(share),
                    s.goodput_milli.map_or("-".into(), milli_to_decimal),
                );
                if u128::from(s.requests_good) * 1_000_000
                    >= u128::from(bound.min_ppm) * u128::from(s.requests_ended)
                {
                    Finding::pass(format!(
                        "{text} ≥ {}% ({class})",
                        ppm_to_percent(bound.min_ppm)
                    ))
                } else {
                    Finding::fail(format!(
                        "{text} < {}% ({class})",
                        ppm_to_percent(bound.min_ppm)
                    ))
                }
            }
            None => unset(check, class),
        },
        other => Finding::error(format!("{} does not judge a load", other.name())),
    }
}

fn unset(check: &Check, class: &str) -> Finding {
    Finding::error(format!(
        "{} needs a threshold the {class} profile does not set",
        check.name()
    ))
}

fn percentile<'a>(d: Option<&'a Distribution>, name: &str) -> Option<(&'a Percentile, u64)> {
    let d = d?;
    Some((d.percentile(name)?, d.count))
}

/// Compares a latency percentile with its bound; `absent` says why there
/// may be no sample at all.
fn latency(
    what: &str,
    absent: &str,
    d: Option<&Distribution>,
    name: &str,
    max_ms: u64,
    class: &str,
) -> Finding {
    let Some((p, count)) = percentile(d, name) else {
        return Finding::fail(format!(
            "no {what} was measured ({absent}): nothing meets the {class} bound of {max_ms} ms"
        ));
    };
    let text = format!(
        "{what} {name} {}{} over {count} samples",
        ms(p.exact),
        interval(p, ms, "")
    );
    if p.exact <= max_ms.saturating_mul(1_000_000) {
        Finding::pass(format!("{text} ≤ {max_ms} ms ({class})"))
    } else {
        Finding::fail(format!("{text} > {max_ms} ms ({class})"))
    }
}

/// The percentile's 95% confidence interval, as far as the samples allow.
fn interval(p: &Percentile, show: fn(u64) -> String, unit: &str) -> String {
    match (p.ci_low, p.ci_high) {
        (Some(low), Some(high)) => format!(" (95% CI {}–{}{unit})", show(low), show(high)),
        (Some(low), None) => format!(
            " (95% CI ≥ {}{unit}; too few samples for an upper bound)",
            show(low)
        ),
        (None, Some(high)) => format!(
            " (95% CI ≤ {}{unit}; too few samples for a lower bound)",
            show(high)
        ),
        (None, None) => " (too few samples for a 95% CI)".to_string(),
    }
}

/// Nanoseconds as milliseconds with three decimals.
pub fn ms(ns: u64) -> String {
    format!("{} ms", milli_to_decimal(ns / 1000))
}

/// Parts per million as a percentage with four decimals, trailing zeros cut.
pub fn ppm_to_percent(ppm: u64) -> String {
    let text = format!("{}.{:04}", ppm / 10_000, ppm % 10_000);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn classes(e: &crate::metrics::ErrorRates) -> String {
    let c = &e.counts;
    format!(
        "429 {}, other 4xx {}, 5xx {}, timeout {}, transport {}, protocol {}",
        c.http_429, c.http_4xx, c.http_5xx, c.timeout, c.transport, c.protocol
    )
}
