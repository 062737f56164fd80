//! Metrics of one exchange: its error class, TTFB, TTFT, E2E, output
//! tokens, ITL and TPOT.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{MetricsError, chat, messages, milli_per_second, responses};
use crate::evidence::{Exchange, Outcome};
use crate::sse;
use crate::suite::Dialect;
use crate::tokens::Tokenizer;

/// How an exchange ended, for error rates. Exactly one class per exchange,
/// decided in this order:
///
/// 1. `timeout`: the per-request deadline passed (`Outcome::Deadline`),
///    whatever had arrived.
/// 2. `transport`: no response head arrived (the connection failed, or the
///    recording stops before one), or the client disconnected on purpose.
/// 3. `http_429`, `http_4xx`, `http_5xx`: the response status.
/// 4. `protocol`: any other status than 200; or a 200 whose body was cut
///    (the connection failed, the body limit was reached, or the recording
///    stops); or a 200 stream that is not well-formed `text/event-stream`,
///    does not end as its dialect ends a stream, has events after that end,
///    or an event before it that is not JSON; or a 200 body, not streamed,
///    that is not JSON. A stream ends (by the dialect of the request URL,
///    [`Dialect::of_url`]): OpenAI Chat with `data: [DONE]`; Anthropic
///    Messages with a `message_stop` event (an `error` event is a
///    `protocol` error); OpenAI Responses with a `response.completed` or
///    `response.incomplete` event, and no `[DONE]` anywhere (a
///    `response.failed` or `error` event is a `protocol` error).
/// 5. `ok`: everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ErrorClass {
    /// A complete, well-formed 200 response.
    #[serde(rename = "ok")]
    Ok,
    /// Status 429 (rate limited).
    #[serde(rename = "http_429")]
    Http429,
    /// Any other 4xx status.
    #[serde(rename = "http_4xx")]
    Http4xx,
    /// A 5xx status.
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// The per-request deadline passed.
    #[serde(rename = "timeout")]
    Timeout,
    /// No response: the connection failed before a response head.
    #[serde(rename = "transport")]
    Transport,
    /// A response that breaks the protocol (see the list above).
    #[serde(rename = "protocol")]
    Protocol,
}

impl ErrorClass {
    /// Every class, in the order reports list them.
    pub const ALL: [ErrorClass; 7] = [
        ErrorClass::Ok,
        ErrorClass::Http429,
        ErrorClass::Http4xx,
        ErrorClass::Http5xx,
        ErrorClass::Timeout,
        ErrorClass::Transport,
        ErrorClass::Protocol,
    ];

    /// The name used in results: `ok`, `http_429`, `http_4xx`, `http_5xx`,
    /// `timeout`, `transport`, `protocol`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Ok => "ok",
            ErrorClass::Http429 => "http_429",
            ErrorClass::Http4xx => "http_4xx",
            ErrorClass::Http5xx => "http_5xx",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Transport => "transport",
            ErrorClass::Protocol => "protocol",
        }
    }
}

/// The metrics of one exchange (see the [module docs](super) for the
/// definitions). Times are nanoseconds since the request was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeMetrics {
    /// How the exchange ended.
    pub class: ErrorClass,
    /// For a class other than `ok`, what was wrong, quoting the evidence.
    pub problem: Option<String>,
    /// Whether the response was a stream (the request asked for one, or
    /// the response is `text/event-stream`).
    pub streamed: bool,
    /// Time to the response head; `None` when none arrived.
    pub ttfb_ns: Option<u64>,
    /// Time to the first content event; `None` unless `ok` and streamed
    /// with content.
    pub ttft_ns: Option<u64>,
    /// Time to the end of the exchange; `None` when the recording stops
    /// before it ended.
    pub e2e_ns: Option<u64>,
    /// The output tokens the server reported (`usage.completion_tokens`;
    /// Messages: the last `usage.output_tokens` of `message_delta`, or of
    /// the body; Responses: `usage.output_tokens` of the final response);
    /// `None` when not `ok` or not reported.
    pub usage_output_tokens: Option<u64>,
    /// The delivered text recounted; `None` unless `ok`.
    pub recount_output_tokens: Option<u64>,
    /// Events carrying output content (streams only).
    pub content_events: u64,
    /// Chunk-level inter-token latencies: one gap per content event after
    /// the first.
    pub itl_chunk_ns: Vec<u64>,
    /// Token-level inter-token latencies: k gaps per content event of k
    /// tokens after the first such event.
    pub itl_token_ns: Vec<u64>,
    /// Time per output token after the first; `None` when undefined.
    pub tpot_ns: Option<u64>,
    /// 1 / TPOT in milli-tokens per second; `None` when TPOT is undefined
    /// or zero.
    pub output_speed_milli_tps: Option<u64>,
}

/// Computes the metrics of one recorded exchange, recounting its output
/// with `tokenizer`.
///
/// # Errors
///
/// [`MetricsError::Tokens`] when the tokenizer refuses a delivered text.
pub fn exchange_metrics(
    exchange: &Exchange,
    tokenizer: &Tokenizer,
) -> Result<ExchangeMetrics, MetricsError> {
    let body = exchange.body();
    let streamed = is_streamed(exchange);
    let mut metrics = ExchangeMetrics {
        class: ErrorClass::Ok,
        problem: None,
        streamed,
        ttfb_ns: exchange.response.as_ref().map(|h| h.t_ns),
        ttft_ns: None,
        e2e_ns: exchange.end_ns.filter(|_| exchange.outcome.is_some()),
        usage_output_tokens: None,
        recount_output_tokens: None,
        content_events: 0,
        itl_chunk_ns: Vec::new(),
        itl_token_ns: Vec::new(),
        tpot_ns: None,
        output_speed_milli_tps: None,
    };
    let dialect = Dialect::of_url(&exchange.url);
    let read = match classify(exchange) {
        Err((class, problem)) => Err((class, problem)),
        Ok(()) if streamed => read_stream(exchange, &body, dialect),
        Ok(()) => read_body(&body, dialect),
    };
    let read = match read {
        Ok(read) => read,
        Err((class, problem)) => {
            metrics.class = class;
            metrics.problem = Some(problem);
            return Ok(metrics);
        }
    };
    metrics.usage_output_tokens = read.usage_output_tokens;
    let mut recount = 0u64;
    for text in read.texts.values() {
        recount += count(tokenizer, text)?;
    }
    metrics.recount_output_tokens = Some(recount);
    metrics.content_events = read.events.len() as u64;
    metrics.ttft_ns = read.events.first().map(|e| e.t_ns);
    metrics.itl_chunk_ns = read
        .events
        .windows(2)
        .map(|w| w[1].t_ns.saturating_sub(w[0].t_ns))
        .collect();
    let mut previous: Option<u64> = None;
    for event in &read.events {
        let k = count(tokenizer, &event.text)?;
        if k == 0 {
            continue;
        }
        if let Some(before) = previous {
            split_gap(
                event.t_ns.saturating_sub(before),
                k,
                &mut metrics.itl_token_ns,
            );
        }
        previous = Some(event.t_ns);
    }
    if let (Some(ttft), Some(e2e)) = (metrics.ttft_ns, metrics.e2e_ns)
        && recount >= 2
    {
        let span = e2e.saturating_sub(ttft);
        metrics.tpot_ns = Some(span / (recount - 1));
        metrics.output_speed_milli_tps = milli_per_second(recount - 1, span);
    }
    Ok(metrics)
}

/// Appends `k` gaps summing to `gap`: `gap / k` each, the remainder
/// spread one nanosecond at a time over the first ones.
fn split_gap(gap: u64, k: u64, into: &mut Vec<u64>) {
    let (each, rest) = (gap / k, gap % k);
    into.extend((0..k).map(|i| each + u64::from(i < rest)));
}

fn count(tokenizer: &Tokenizer, text: &str) -> Result<u64, MetricsError> {
    Ok(tokenizer.count(text)? as u64)
}

/// Whether the request asked for a stream or the response is one.
fn is_streamed(exchange: &Exchange) -> bool {
    let asked = serde_json::from_slice::<Value>(&exchange.request_body)
        .ok()
        .and_then(|v| v.get("stream").and_then(Value::as_bool))
        == Some(true);
    let answered = exchange.response.as_ref().is_some_and(|h| {
        h.header("content-type").is_some_and(|t| {
            t.trim_start()
                .get(..17)
                .is_some_and(|m| m.eq_ignore_ascii_case("text/event-stream"))
        })
    });
    asked || answered
}

/// A value, or the class and problem that stand in for it.
pub(super) type Classified<T> = Result<T, (ErrorClass, String)>;

/// The class decided by the outcome and the status alone; `Ok(())` for a
/// complete 200 response, whose body decides between `ok` and `protocol`.
fn classify(exchange: &Exchange) -> Classified<()> {
    if let Some(Outcome::Deadline { .. }) = &exchange.outcome {
        return Err((
            ErrorClass::Timeout,
            exchange.incomplete().unwrap_or_default(),
        ));
    }
    let Some(head) = &exchange.response else {
        let why = exchange
            .incomplete()
            .unwrap_or_else(|| "no response head was recorded".into());
        return Err((ErrorClass::Transport, format!("no response: {why}")));
    };
    if let Some(Outcome::Disconnected { .. }) = &exchange.outcome {
        return Err((
            ErrorClass::Transport,
            exchange.incomplete().unwrap_or_default(),
        ));
    }
    let status = head.status;
    let class = match status {
        200 => None,
        429 => Some(ErrorClass::Http429),
        400..=499 => Some(ErrorClass::Http4xx),
        500..=599 => Some(ErrorClass::Http5xx),
        _ => Some(ErrorClass::Protocol),
    };
    if let Some(class) = class {
        return Err((class, format!("status {status}")));
    }
    match exchange.incomplete() {
        None => Ok(()),
        Some(why) => Err((
            ErrorClass::Protocol,
            format!(
                "the body is cut ({} bytes received): {why}",
                exchange.body().len()
            ),
        )),
    }
}

/// An event carrying output content.
pub(super) struct ContentEvent {
    /// When its last byte arrived.
    pub(super) t_ns: u64,
    /// Its text (content and text of every choice), for the token count.
    pub(super) text: String,
}

impl ContentEvent {
    /// The content event of the `i`-th event of a stream, carrying `text`,
    /// timed by the chunk that delivered its last byte.
    pub(super) fn at(
        times: &ChunkTimes,
        i: usize,
        event: &sse::Event,
        text: String,
    ) -> Classified<Self> {
        let t_ns = times.of_byte(event.end.saturating_sub(1)).ok_or_else(|| {
            protocol(format!(
                "event {i} (byte {}) lies past the body",
                event.start
            ))
        })?;
        Ok(ContentEvent { t_ns, text })
    }
}

/// What a complete 200 response delivered.
#[derive(Default)]
pub(super) struct Read {
    /// Content events in order (streams only).
    pub(super) events: Vec<ContentEvent>,
    /// Delivered text per choice index.
    pub(super) texts: BTreeMap<u64, String>,
    /// The output tokens the server reported, when it did.
    pub(super) usage_output_tokens: Option<u64>,
}

/// The `protocol` class with this problem.
pub(super) fn protocol(problem: String) -> (ErrorClass, String) {
    (ErrorClass::Protocol, problem)
}

/// The JSON of the `i`-th event of a stream.
pub(super) fn event_json(i: usize, event: &sse::Event) -> Classified<Value> {
    serde_json::from_str(&event.data)
        .map_err(|e| protocol(format!("event {i} (byte {}) is not JSON: {e}", event.start)))
}

/// Reads a complete stream in `dialect`: its content events with their
/// times, the text per choice and the usage.
fn read_stream(exchange: &Exchange, body: &[u8], dialect: Dialect) -> Classified<Read> {
    let parsed = sse::parse(body);
    if let Some(problem) = parsed.problems.first() {
        return Err(protocol(format!("the stream is malformed: {problem}")));
    }
    let times = ChunkTimes::new(exchange);
    match dialect {
        Dialect::OpenaiChat => chat::read_stream(&parsed.events, &times),
        Dialect::AnthropicMessages => messages::read_stream(&parsed.events, &times),
        Dialect::OpenaiResponses => responses::read_stream(&parsed.events, &times),
    }
}

/// Reads a complete body, not a stream, in `dialect`.
fn read_body(body: &[u8], dialect: Dialect) -> Classified<Read> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| protocol(format!("the body is not JSON: {e}")))?;
    Ok(match dialect {
        Dialect::OpenaiChat => chat::read_body(&value),
        Dialect::AnthropicMessages => messages::read_body(&value),
        Dialect::OpenaiResponses => responses::read_body(&value),
    })
}

/// The arrival time of each body byte, by chunk.
pub(super) struct ChunkTimes {
    /// (offset just past the chunk, its time), in body order.
    ends: Vec<(usize, u64)>,
}

impl ChunkTimes {
    fn new(exchange: &Exchange) -> Self {
        let mut offset = 0;
        let ends = exchange
            .chunks
            .iter()
            .map(|c| {
                offset += c.bytes.len();
                (offset, c.t_ns)
            })
            .collect();
        Self { ends }
    }

    /// The time of the chunk that delivered byte `offset`.
    fn of_byte(&self, offset: usize) -> Option<u64> {
        let i = self.ends.partition_point(|&(end, _)| end <= offset);
        self.ends.get(i).map(|&(_, t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_split_to_sum_exactly() {
        let mut gaps = Vec::new();
        split_gap(10, 3, &mut gaps);
        assert_eq!(gaps, [4, 3, 3]);
        split_gap(0, 2, &mut gaps);
        assert_eq!(gaps, [4, 3, 3, 0, 0]);
    }

    #[test]
    fn bytes_map_to_the_chunk_that_delivered_them() {
        let times = ChunkTimes {
            ends: vec![(3, 10), (5, 20), (9, 30)],
        };
        let at: Vec<_> = (0..10).map(|b| times.of_byte(b)).collect();
        assert_eq!(
            at,
            [
                Some(10),
                Some(10),
                Some(10),
                Some(20),
                Some(20),
                Some(30),
                Some(30),
                Some(30),
                Some(30),
                None
            ]
        );
    }

    #[test]
    fn class_names_match_serde() {
        for class in ErrorClass::ALL {
            let json = serde_json::to_string(&class).expect("serializes");
            assert_eq!(json, format!("\"{}\"", class.as_str()));
        }
    }
}
