//! Performance metrics, computed from recorded evidence alone.
//!
//! Pure: no clock, no randomness, no floating-point number in any result.
//! Times are integer nanoseconds, rates integer milli-units per second
//! (rounded down), shares integer parts per million (rounded down), so the
//! same evidence always gives the same bytes in `results.json`.
//!
//! # Definitions
//!
//! Per exchange (a streamed chat or legacy completion, Anthropic message
//! or OpenAI response, the dialect read from the request URL by
//! [`Dialect::of_url`](crate::suite::Dialect::of_url); times are
//! nanoseconds since the request was sent, as recorded):
//!
//! - **TTFB**: the time the response head arrived.
//! - **TTFT**: the arrival time of the first server-sent event that carries
//!   output content (an event's **content events** below are those that
//!   do). OpenAI Chat: a non-empty `delta.content`, a non-empty `text`
//!   (legacy completions), or a non-empty `delta.tool_calls`; role-only and
//!   empty events do not count. Anthropic Messages: a `content_block_delta`
//!   whose `text_delta` has a non-empty `text` or whose `input_json_delta`
//!   has a non-empty `partial_json` (`message_start`, `content_block_start`
//!   and `ping` do not count). OpenAI Responses: a
//!   `response.output_text.delta` or `response.function_call_arguments.delta`
//!   with a non-empty `delta`. An event's time is the time of the recorded
//!   chunk that delivered its last byte (the end of the blank line that
//!   dispatches it), since a client can act on an event only then.
//! - **E2E**: the time the exchange ended (end of stream: `[DONE]`,
//!   `message_stop` or `response.completed` / `response.incomplete`, and
//!   the connection's close; or the end of the body).
//! - **Output tokens**: both the server's count (when reported: chat
//!   `usage.completion_tokens`; Messages the last `message_delta`'s
//!   cumulative `usage.output_tokens`; Responses the final response's
//!   `usage.output_tokens`) and a client recount of the delivered text (the
//!   concatenated `content` / `text` of each choice, text deltas, or
//!   `output_text` deltas, counted with the declared tokenizer and summed
//!   over choices) are kept; tool-call fragments are not recounted.
//! - **ITL, chunk level**: the gaps between the arrival times of successive
//!   content events.
//! - **ITL, token level**: each content event's text is recounted (k
//!   tokens); events with k = 0 are skipped; the gap from the previous
//!   event with k ≥ 1 is divided over the k tokens the event carries, giving
//!   k gaps of gap / k (the remainder of the integer division goes, one
//!   nanosecond each, to the first gaps, so the k gaps sum to the gap).
//! - **TPOT**: (E2E − TTFT) / (output tokens − 1), with the recounted output
//!   tokens; undefined for one token or none. Rounded down to a nanosecond.
//! - **Output speed**: 1 / TPOT, in milli-tokens per second, computed from
//!   the exact ratio (output tokens − 1) / (E2E − TTFT) and rounded down; it
//!   excludes the time to the first token, as Artificial Analysis does.
//! - **Error class**: see [`ErrorClass`]. Latency and token metrics are
//!   computed for exchanges of class `ok` only.
//!
//! Across the exchanges of a run or a case:
//!
//! - **Distribution** ([`Distribution`]): count, exact minimum, maximum and
//!   mean (rounded down) of the samples, and the percentiles p50, p90, p95,
//!   p99 and p99.9 read from an HDR histogram with 3 significant digits (so
//!   a percentile is within 0.1% of the sample value it stands for), and
//!   beside it the exact sample at the nearest rank ⌈q·n⌉, which
//!   thresholds are judged against. Each
//!   percentile carries a distribution-free 95% confidence interval for the
//!   population quantile: the order-statistic interval obtained from the
//!   binomial distribution (Conover, *Practical Nonparametric Statistics*,
//!   3rd ed., 1999, section 3.2, confidence interval for a quantile; also
//!   Hahn & Meeker, *Statistical Intervals*, 1991). If B ~ Binomial(n, q)
//!   is the number of samples below the q-quantile, the interval from the
//!   l-th to the u-th smallest sample covers it with probability
//!   P(l ≤ B < u). We take l as the largest rank with P(B < l) ≤ 2.5% and u
//!   as the smallest rank with P(B ≥ u) ≤ 2.5%, so the coverage is at least
//!   95%; a bound whose rank would fall outside 1..=n is reported as `null`
//!   (too few samples for it). The bounds are sample values at those ranks,
//!   exact (not rounded by the histogram). The binomial probabilities are
//!   computed with IEEE-754 additions, multiplications and divisions only,
//!   in a fixed order, so the ranks are the same on every machine; no
//!   bootstrap, no random draws.
//! - **Steady-state window** ([`SteadyState`]): the run spans from the first
//!   request's start to the last request's end; a warm-up fraction at the
//!   beginning and a cool-down fraction at the end of that span are
//!   excluded (both reported). Request throughput is the number of `ok`
//!   requests that ended within the window divided by its length; output
//!   token throughput is the recounted output tokens of those requests
//!   divided by its length.
//! - **Goodput**: the `ok` requests that ended within the window and meet
//!   every objective of the [`Slo`], per second of the window.
//! - **Error rates** ([`ErrorRates`]): the exchanges of each class, as
//!   counts and as parts per million of all exchanges.

mod chat;
mod distribution;
mod errors;
mod exchange;
mod messages;
mod named_events;
mod responses;
mod window;

pub use distribution::{
    CONFIDENCE_PER_MILLE, Distribution, PERCENTILES, Percentile, quantile, quantile_ci_ranks,
};
pub use errors::{ClassCounts, ErrorRates};
pub use exchange::{ErrorClass, ExchangeMetrics, exchange_metrics};
pub use window::{Slo, SteadyState, Summary, TimedExchange, WindowSpec, steady_state, summarize};

use crate::tokens::TokenizerError;

/// Why metrics could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The declared tokenizer could not recount a delivered text.
    #[error("cannot recount the output tokens: {0}")]
    Tokens(#[from] TokenizerError),
    /// The histogram could not hold a sample.
    #[error("the histogram cannot hold the sample {value}: {reason}")]
    Histogram {
        /// The sample.
        value: u64,
        /// What the histogram said.
        reason: String,
    },
    /// A steady-state window was asked of no requests.
    #[error("no requests to measure")]
    NoRequests,
    /// Warm-up and cool-down leave nothing of the run.
    #[error(
        "a warm-up of {warmup_per_mille}‰ and a cool-down of {cooldown_per_mille}‰ leave no window"
    )]
    Window {
        /// The warm-up fraction, per mille.
        warmup_per_mille: u32,
        /// The cool-down fraction, per mille.
        cooldown_per_mille: u32,
    },
    /// A request that ends before it starts.
    #[error("request {index} ends at {end_ns} ns, before its start at {start_ns} ns")]
    Span {
        /// Its position in the slice given.
        index: usize,
        /// Its start.
        start_ns: u64,
        /// Its end.
        end_ns: u64,
    },
}

/// A milli-unit integer as a fixed-decimal string with three decimals,
/// e.g. `12345` → `"12.345"`, for reports.
pub fn milli_to_decimal(milli: u64) -> String {
    format!("{}.{:03}", milli / 1000, milli % 1000)
}

/// `count` events over `ns` nanoseconds, in milli-events per second,
/// rounded down; `None` when `ns` is zero.
pub(crate) fn milli_per_second(count: u64, ns: u64) -> Option<u64> {
    if ns == 0 {
        return None;
    }
    let rate = u128::from(count) * 1_000_000_000_000 / u128::from(ns);
    Some(u64::try_from(rate).unwrap_or(u64::MAX))
}
