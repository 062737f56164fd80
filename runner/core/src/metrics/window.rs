//! Across exchanges: distributions of the per-exchange metrics, the
//! steady-state window with its throughput and goodput.

use serde::{Deserialize, Serialize};

use super::{
    Distribution, ErrorClass, ErrorRates, ExchangeMetrics, MetricsError, milli_per_second,
};

/// Service-level objectives, evaluated per request; an absent objective is
/// not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slo {
    /// TTFT at most this many nanoseconds.
    pub ttft_ns_max: Option<u64>,
    /// TPOT at most this many nanoseconds.
    pub tpot_ns_max: Option<u64>,
    /// E2E at most this many nanoseconds.
    pub e2e_ns_max: Option<u64>,
}

impl Slo {
    /// Whether the request meets every objective. Only `ok` requests can.
    /// A TTFT or E2E objective is not met when the request has no such
    /// time; a TPOT objective is met by a request of at most one output
    /// token (it has no time between tokens to exceed it).
    pub fn met_by(&self, metrics: &ExchangeMetrics) -> bool {
        let within = |max: Option<u64>, value: Option<u64>| match (max, value) {
            (None, _) => true,
            (Some(max), Some(value)) => value <= max,
            (Some(_), None) => false,
        };
        let short = metrics.recount_output_tokens.is_some_and(|n| n <= 1);
        metrics.class == ErrorClass::Ok
            && within(self.ttft_ns_max, metrics.ttft_ns)
            && within(self.e2e_ns_max, metrics.e2e_ns)
            && (short || within(self.tpot_ns_max, metrics.tpot_ns))
    }
}

/// How much of the run to leave out at each end, per mille of its span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    /// Left out at the start (warm-up).
    pub warmup_per_mille: u32,
    /// Left out at the end (cool-down).
    pub cooldown_per_mille: u32,
}

impl Default for WindowSpec {
    /// 10% at each end.
    fn default() -> Self {
        Self {
            warmup_per_mille: 100,
            cooldown_per_mille: 100,
        }
    }
}

/// One request of a run, placed on the run's clock.
#[derive(Debug, Clone, Copy)]
pub struct TimedExchange<'a> {
    /// When it was sent, nanoseconds from a clock common to the run.
    pub start_ns: u64,
    /// When it ended, on the same clock.
    pub end_ns: u64,
    /// Its metrics.
    pub metrics: &'a ExchangeMetrics,
}

/// Throughput and goodput over the steady-state window. Times are
/// nanoseconds on the clock the requests were given on; rates are
/// milli-units per second, rounded down, `None` for an empty window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SteadyState {
    /// The first request's start.
    pub run_start_ns: u64,
    /// The last request's end.
    pub run_end_ns: u64,
    /// The warm-up left out, per mille of the run.
    pub warmup_per_mille: u32,
    /// The cool-down left out, per mille of the run.
    pub cooldown_per_mille: u32,
    /// Start of the window: run start plus the warm-up.
    pub window_start_ns: u64,
    /// End of the window: run end less the cool-down.
    pub window_end_ns: u64,
    /// Requests (of any class) that ended within the window, bounds
    /// included.
    pub requests_ended: u64,
    /// Of those, the `ok` ones.
    pub requests_ok: u64,
    /// Recounted output tokens of the `ok` requests in the window.
    pub output_tokens: u64,
    /// Of those, the ones meeting every objective.
    pub requests_good: u64,
    /// `ok` requests per second.
    pub request_throughput_milli: Option<u64>,
    /// Output tokens per second.
    pub output_token_throughput_milli: Option<u64>,
    /// Requests meeting every objective, per second.
    pub goodput_milli: Option<u64>,
    /// The objectives goodput was measured against.
    pub slo: Slo,
}

/// The steady-state window of these requests, with its throughput and the
/// goodput under `slo`.
///
/// # Errors
///
/// [`MetricsError::NoRequests`] for no requests; [`MetricsError::Window`]
/// when warm-up and cool-down add up to the whole run or more;
/// [`MetricsError::Span`] for a request that ends before it starts.
pub fn steady_state(
    requests: &[TimedExchange<'_>],
    spec: &WindowSpec,
    slo: &Slo,
) -> Result<SteadyState, MetricsError> {
    if u64::from(spec.warmup_per_mille) + u64::from(spec.cooldown_per_mille) >= 1000 {
        return Err(MetricsError::Window {
            warmup_per_mille: spec.warmup_per_mille,
            cooldown_per_mille: spec.cooldown_per_mille,
        });
    }
    if let Some((index, r)) = requests
        .iter()
        .enumerate()
        .find(|(_, r)| r.end_ns < r.start_ns)
    {
        return Err(MetricsError::Span {
            index,
            start_ns: r.start_ns,
            end_ns: r.end_ns,
        });
    }
    let run_start_ns = requests
        .iter()
        .map(|r| r.start_ns)
        .min()
        .ok_or(MetricsError::NoRequests)?;
    let run_end_ns = requests
        .iter()
        .map(|r| r.end_ns)
        .max()
        .ok_or(MetricsError::NoRequests)?;
    let span = run_end_ns - run_start_ns;
    let part = |per_mille: u32| {
        u64::try_from(u128::from(span) * u128::from(per_mille) / 1000).unwrap_or(span)
    };
    let window_start_ns = run_start_ns + part(spec.warmup_per_mille);
    let window_end_ns = run_end_ns - part(spec.cooldown_per_mille);
    let mut state = SteadyState {
        run_start_ns,
        run_end_ns,
        warmup_per_mille: spec.warmup_per_mille,
        cooldown_per_mille: spec.cooldown_per_mille,
        window_start_ns,
        window_end_ns,
        requests_ended: 0,
        requests_ok: 0,
        output_tokens: 0,
        requests_good: 0,
        request_throughput_milli: None,
        output_token_throughput_milli: None,
        goodput_milli: None,
        slo: slo.clone(),
    };
    for r in requests
        .iter()
        .filter(|r| (window_start_ns..=window_end_ns).contains(&r.end_ns))
    {
        state.requests_ended += 1;
        if r.metrics.class != ErrorClass::Ok {
            continue;
        }
        state.requests_ok += 1;
        state.output_tokens += r.metrics.recount_output_tokens.unwrap_or(0);
        if slo.met_by(r.metrics) {
            state.requests_good += 1;
        }
    }
    let window = window_end_ns.saturating_sub(window_start_ns);
    state.request_throughput_milli = milli_per_second(state.requests_ok, window);
    state.output_token_throughput_milli = milli_per_second(state.output_tokens, window);
    state.goodput_milli = milli_per_second(state.requests_good, window);
    Ok(state)
}

/// The distributions of the per-exchange metrics over the `ok` exchanges
/// (each `None` when no exchange has that metric), and the error rates
/// over all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// TTFB, nanoseconds.
    pub ttfb_ns: Option<Distribution>,
    /// TTFT, nanoseconds.
    pub ttft_ns: Option<Distribution>,
    /// E2E, nanoseconds.
    pub e2e_ns: Option<Distribution>,
    /// Chunk-level ITL, nanoseconds, pooled over exchanges.
    pub itl_chunk_ns: Option<Distribution>,
    /// Token-level ITL, nanoseconds, pooled over exchanges.
    pub itl_token_ns: Option<Distribution>,
    /// TPOT, nanoseconds.
    pub tpot_ns: Option<Distribution>,
    /// Output speed, milli-tokens per second.
    pub output_speed_milli_tps: Option<Distribution>,
    /// Recounted output tokens per exchange.
    pub recount_output_tokens: Option<Distribution>,
    /// Server-reported output tokens per exchange, where reported.
    pub usage_output_tokens: Option<Distribution>,
    /// Exchanges by class.
    pub errors: ErrorRates,
}

/// Summarises the metrics of a run's or a case's exchanges.
///
/// # Errors
///
/// [`MetricsError::Histogram`] when a sample cannot be held.
pub fn summarize(metrics: &[ExchangeMetrics]) -> Result<Summary, MetricsError> {
    let ok: Vec<&ExchangeMetrics> = metrics
        .iter()
        .filter(|m| m.class == ErrorClass::Ok)
        .collect();
    let of = |pick: fn(&ExchangeMetrics) -> Option<u64>| {
        let samples: Vec<u64> = ok.iter().filter_map(|m| pick(m)).collect();
        Distribution::from_samples(&samples)
    };
    let pooled = |pick: fn(&ExchangeMetrics) -> &[u64]| {
        let samples: Vec<u64> = ok.iter().flat_map(|m| pick(m).iter().copied()).collect();
        Distribution::from_samples(&samples)
    };
    Ok(Summary {
        ttfb_ns: of(|m| m.ttfb_ns)?,
        ttft_ns: of(|m| m.ttft_ns)?,
        e2e_ns: of(|m| m.e2e_ns)?,
        itl_chunk_ns: pooled(|m| &m.itl_chunk_ns)?,
        itl_token_ns: pooled(|m| &m.itl_token_ns)?,
        tpot_ns: of(|m| m.tpot_ns)?,
        output_speed_milli_tps: of(|m| m.output_speed_milli_tps)?,
        recount_output_tokens: of(|m| m.recount_output_tokens)?,
        usage_output_tokens: of(|m| m.usage_output_tokens)?,
        errors: ErrorRates::of(metrics),
    })
}
