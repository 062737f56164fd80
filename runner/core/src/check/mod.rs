//! The fixed set of named checks. Each is a pure function from a recorded
//! exchange to a [`Finding`]: a verdict and a reason that quotes the
//! evidence (status, byte offset, event index, field path).

mod accounting;
mod body;
mod events;
mod format;
mod http;
mod identity;
mod messages;
mod messages_stream;
mod output;
mod params;
mod prompt;
mod rate;
mod responses;
mod responses_stream;
mod stream;

use std::collections::BTreeMap;

pub(crate) use accounting::prompt_tokens_of;
pub use accounting::{billed_usage, priced};
pub use identity::same_model_as_declared;
pub(crate) use output::choices;
pub use rate::{RetryAfter, parse_retry_after};

use crate::evidence::Exchange;
use crate::judge::{Context, Verdict};
use crate::sse;
use crate::suite::Check;

/// The result of one check on one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Pass, fail or error.
    pub verdict: Verdict,
    /// Why, quoting the evidence.
    pub reason: String,
}

impl Finding {
    pub(crate) fn pass(reason: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Pass,
            reason: reason.into(),
        }
    }
    pub(crate) fn fail(reason: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Fail,
            reason: reason.into(),
        }
    }
    pub(crate) fn error(reason: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Error,
            reason: reason.into(),
        }
    }
    pub(crate) fn not_claimed(reason: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::NotClaimed,
            reason: reason.into(),
        }
    }
}

/// Compiled schemas by name.
pub type Schemas = BTreeMap<String, jsonschema::Validator>;

/// An exchange prepared for checking: the body assembled, the SSE stream
/// and the request body parsed once, shared by every check of the case.
pub struct View<'a> {
    exchange: &'a Exchange,
    body: Vec<u8>,
    sse: sse::Parsed,
    /// The request body as JSON, when it is a JSON object.
    request: Option<serde_json::Map<String, serde_json::Value>>,
    /// The case's earlier exchanges, in the order sent.
    before: Vec<View<'a>>,
}

impl<'a> View<'a> {
    /// Prepares the judged exchange, with the case's earlier exchanges.
    pub fn new(exchange: &'a Exchange, before: &'a [Exchange]) -> Self {
        let mut view = Self::single(exchange);
        view.before = before.iter().map(Self::single).collect();
        view
    }

    fn single(exchange: &'a Exchange) -> Self {
        let body = exchange.body();
        let sse = sse::parse(&body);
        let request = match serde_json::from_slice(&exchange.request_body) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => None,
        };
        Self {
            exchange,
            body,
            sse,
            request,
            before: Vec::new(),
        }
    }

    /// A field of the request body.
    fn request_field(&self, name: &str) -> Option<&serde_json::Value> {
        self.request
            .as_ref()
            .and_then(|r| r.get(name))
            .filter(|v| !v.is_null())
    }

    /// Whether the request asked for a stream.
    fn streamed(&self) -> bool {
        self.request_field("stream") == Some(&serde_json::Value::Bool(true))
    }

    /// The body, provided a response arrived and its body is complete;
    /// otherwise the finding to report instead.
    fn complete_body(&self) -> Result<&[u8], Finding> {
        if self.exchange.response.is_none() {
            return Err(no_response(self.exchange));
        }
        match self.exchange.incomplete() {
            None => Ok(&self.body),
            Some(why) => Err(Finding::fail(format!(
                "the response body is incomplete ({} bytes received): {why}",
                self.body.len()
            ))),
        }
    }
}

impl View<'_> {
    /// Why the body did not parse as JSON: the parser's message, where the
    /// bytes stop being UTF-8 if they do (the parser calls that an invalid
    /// code point), and a `Content-Encoding` the request never accepted
    /// (the client sends no Accept-Encoding, so the body is kept as sent).
    fn not_json(&self, error: &serde_json::Error) -> String {
        let body = &self.body;
        let utf8 = match std::str::from_utf8(body) {
            Ok(_) => String::new(),
            Err(e) => format!("; invalid UTF-8 at byte {}", e.valid_up_to()),
        };
        let encoding = self
            .exchange
            .response
            .as_ref()
            .and_then(|head| head.header("content-encoding"))
            .filter(|coding| !coding.trim().eq_ignore_ascii_case("identity"))
            .map(|coding| {
                format!("; it is sent with Content-Encoding {coding:?}, which the request did not accept")
            })
            .unwrap_or_default();
        format!(
            "the body is not JSON ({error}{utf8}){encoding}; it starts {}",
            excerpt(body, 200)
        )
    }
}

fn no_response(exchange: &Exchange) -> Finding {
    let why = exchange
        .incomplete()
        .unwrap_or_else(|| "no response head was recorded".into());
    Finding::error(format!("no response to judge: {why}"))
}

/// Runs one check; `context` gives the plan's accounting, tokenizer and rate limit.
pub fn run(check: &Check, view: &View<'_>, schemas: &Schemas, context: &Context) -> Finding {
    match check {
        Check::Status(codes) => http::status(view, codes),
        Check::ContentType(media) => http::content_type(view, media),
        Check::KeyNotEchoed => http::key_not_echoed(view),
        Check::JsonSchema(name) => body::json_schema(view, name, schemas),
        Check::UsageAddsUp => body::usage_adds_up(view),
        Check::IgnoredOrRefused => body::ignored_or_refused(view, schemas),
        Check::ErrorParam(name) => body::error_param(view, name),
        Check::ModelIdMatchesPath => body::model_id_matches_path(view),
        Check::FinishReason(reason) => params::finish_reason(view, reason),
        Check::MaxTokensHonoured => params::max_tokens_honoured(view, context),
        Check::ChoiceCount => params::choice_count(view),
        Check::ChoiceIndices => params::choice_indices(view),
        Check::StopHonoured => params::stop_honoured(view),
        Check::SameOutputAsBefore => params::same_output_as_before(view),
        Check::LogprobsValid => params::logprobs_valid(view),
        Check::ModelMatchesRequest => params::model_matches_request(view),
        Check::ContentIsJsonObject => format::content_is_json_object(view),
        Check::ContentMatchesRequestedSchema => format::content_matches_requested_schema(view),
        Check::ToolCallsValid => format::tool_calls_valid(view),
        Check::NoToolCalls => format::no_tool_calls(view),
        Check::NoReplacementChars => format::no_replacement_chars(view),
        Check::NoEmptyChunks => stream::no_empty_chunks(view),
        Check::SseWellFormed => stream::sse_well_formed(view),
        Check::ChunksMatchSchema(name) => stream::chunks_match_schema(view, name, schemas),
        Check::TerminatedByDone => stream::terminated_by_done(view),
        Check::OneRolePerChoice => stream::one_role_per_choice(view),
        Check::ConsistentChunkIds => stream::consistent_chunk_ids(view),
        Check::StreamUsageLast => stream::stream_usage_last(view),
        Check::CompletionTokensRecount => accounting::completion_tokens_recount(view, context),
        Check::PromptTokensRecount => accounting::prompt_tokens_recount(view, context),
        Check::CompletionTokensWithinLimit => accounting::completion_tokens_within_limit(view),
        Check::UsageMatchesBefore => accounting::usage_matches_before(view, context),
        Check::ReasoningTokensDisclosed => accounting::reasoning_tokens_disclosed(view, context),
        Check::CachedTokensReported => accounting::cached_tokens_reported(view),
        Check::RateLimitEnforced => rate::rate_limit_enforced(view, context),
        Check::RetryAfterHonoured => rate::retry_after_honoured(view),
        Check::RateLimitHeaders => rate::rate_limit_headers(view),
        Check::EventsMatchSchema(name) => events::events_match_schema(view, name, schemas),
        Check::EventNamesMatchTypes => events::event_names_match_types(view),
        Check::EventsInOrder => events::events_in_order(view),
        Check::BlockIndicesConsistent => events::block_indices_consistent(view),
        Check::UsageNeverDecreases => events::usage_never_decreases(view),
        Check::SequenceNumbersIncreasing => events::sequence_numbers_increasing(view),
        Check::NoDoneTerminator => events::no_done_terminator(view),
        Check::StreamTextMatchesDone => events::stream_text_matches_done(view),
        Check::ErrorType(name) => body::error_type(view, name),
        Check::CountTokensMatches => body::count_tokens_matches(view),
        Check::HonouredOrRefused(checks) => {
            body::honoured_or_refused(view, checks, schemas, context)
        }
        // Judged by `judge_case` with the suite's probe set.
        Check::SameModelAsDeclared => Finding::error(
            "same_model_as_declared judges the probe set's exchanges together, not one",
        ),
        // The loader keeps these to performance cases, judged by `performance`.
        Check::SloTtft
        | Check::SloOutputSpeed
        | Check::SloItl
        | Check::SloErrorRate
        | Check::SloGoodput => Finding::error(format!(
            "{} judges a performance case's load, not one exchange",
            check.name()
        )),
    }
}

/// The tokens of `text` under the plan's tokenizer; a text the tokenizer
/// refuses cannot be judged.
fn recount(context: &Context, text: &str) -> Result<u64, Finding> {
    context
        .tokenizer
        .count(text)
        .map(|n| n as u64)
        .map_err(|e| Finding::error(e.to_string()))
}

/// At most `max` bytes of `bytes`, as text, for quoting in a reason.
fn excerpt(bytes: &[u8], max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    let text = String::from_utf8_lossy(cut);
    let more = if bytes.len() > max { "…" } else { "" };
    format!("{:?}{more}", text)
}

/// Validates `value` against a schema; the reason lists the first errors.
fn schema_errors(value: &serde_json::Value, name: &str, schemas: &Schemas) -> Result<(), Finding> {
    let Some(schema) = schemas.get(name) else {
        return Err(Finding::error(format!("unknown schema {name}")));
    };
    let errors: Vec<String> = schema
        .iter_errors(value)
        .take(3)
        .map(|e| {
            let at = e.instance_path().as_str();
            // The validator quotes the offending instance, which may be the whole body.
            let message = clip(&e.to_string(), 240);
            format!("{}: {message}", if at.is_empty() { "/" } else { at })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Finding::fail(errors.join("; ")))
    }
}

/// Checks `usage` adds up: non-negative integer counts, total = prompt + completion.
fn usage_consistent(usage: &serde_json::Value) -> Result<(u64, u64), String> {
    let field = |name: &str| {
        usage
            .get(name)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| {
                format!(
                    "usage.{name} is not a non-negative integer (got {})",
                    short(usage.get(name))
                )
            })
    };
    let prompt = field("prompt_tokens")?;
    let completion = field("completion_tokens")?;
    let total = field("total_tokens")?;
    if prompt.checked_add(completion) != Some(total) {
        return Err(format!(
            "usage.total_tokens is {total}, but prompt_tokens + completion_tokens = {prompt} + {completion}"
        ));
    }
    Ok((prompt, completion))
}

fn short(value: Option<&serde_json::Value>) -> String {
    value.map_or_else(|| "nothing".into(), |v| clip(&v.to_string(), 80))
}

/// At most `max` bytes of `text` (on a character boundary), marked when cut.
fn clip(text: &str, max: usize) -> String {
    if text.len() > max {
        format!("{}…", &text[..text.floor_char_boundary(max)])
    } else {
        text.to_string()
    }
}
