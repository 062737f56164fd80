//! The case model: what a case file under `suites/` says, as Rust values.
//! The shape is fixed by `spec/schemas/case.schema.json`; files are
//! validated against that schema before they are decoded into these types.

use serde::Deserialize;

use super::Dialect;

/// One case: a conformance case (a request and the named checks its
/// exchange must pass) or a performance case (a load and the `slo_*`
/// checks its exchanges must pass together). Exactly one of `request` and
/// `performance` is present.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Stable id, equal to the file path under `suites/` (dots for slashes).
    pub id: String,
    /// The clause of the standard this case tests.
    pub clause: String,
    /// One line saying what the case sends and expects.
    pub description: String,
    /// Capabilities the target must claim for the case to apply.
    #[serde(default)]
    pub requires: Vec<Capability>,
    /// Marks the case as part of the priced workload.
    #[serde(default)]
    pub task: Option<crate::price::Task>,
    /// A request pattern the runner sends before the judged request.
    #[serde(default)]
    pub probe: Option<Probe>,
    /// Requests sent first, in order; only `same_output_as_before`,
    /// `usage_matches_before` and `cached_tokens_reported` look at their
    /// exchanges.
    #[serde(default)]
    pub before: Vec<Request>,
    /// The request whose exchange the checks judge (conformance cases).
    #[serde(default)]
    pub request: Option<Request>,
    /// The load whose exchanges the checks judge (performance cases).
    #[serde(default)]
    pub performance: Option<Performance>,
    /// The case sends the fingerprint probe set's requests, in order, as
    /// its exchanges (`same_model_as_declared` judges them). The suite
    /// loader fills `before` and `request` with them.
    #[serde(default)]
    pub fingerprint_probes: bool,
    /// What the recorded exchanges must satisfy, in order.
    pub checks: Vec<Check>,
}

impl Case {
    /// The dialects the case speaks: its requests' endpoints', and a
    /// performance case's workload's.
    pub fn dialects(&self) -> std::collections::BTreeSet<Dialect> {
        self.before
            .iter()
            .chain(&self.request)
            .map(|r| r.endpoint.dialect())
            .chain(self.performance.iter().map(|p| p.workload.dialect))
            .collect()
    }
}

/// What a performance case sends, and the class it is judged against.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Performance {
    /// The service class (an SLO profile in `spec/slo/`) whose thresholds
    /// the case's checks compare; the target must claim it.
    pub slo: String,
    /// The seeded workload and load model. Its requests go to the target
    /// profile's performance model.
    pub workload: crate::workload::Workload,
}

/// An optional capability a target may claim.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// The target requires a bearer API key.
    Auth,
    /// The legacy `POST /completions` endpoint.
    Completions,
    /// `n` > 1 choices per request.
    N,
    /// `logprobs` and `top_logprobs`.
    Logprobs,
    /// Function tools (`tools`, `tool_choice`).
    Tools,
    /// `response_format` of type `json_object`.
    JsonObject,
    /// `response_format` of type `json_schema`.
    JsonSchema,
    /// Reproducible output for `temperature: 0` with a `seed`.
    Seed,
    /// Hidden reasoning, billed as output, asked for with `reasoning_effort`.
    Reasoning,
    /// Prompt caching with cached tokens reported in usage.
    PromptCaching,
    /// Declared rate limits (the profile's `rate_limit`), answered with 429.
    RateLimits,
    /// `POST /messages/count_tokens` of the Anthropic Messages dialect.
    CountTokens,
}

/// A request pattern sent before a case's judged request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// Wait one declared window; send `requests − 1` requests one after
    /// another (below the limit), then `requests + 1` at once (above it);
    /// wait as the last 429's `Retry-After` says; then the judged request.
    RateLimit,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: &[Capability] = &[
        Capability::Auth,
        Capability::Completions,
        Capability::N,
        Capability::Logprobs,
        Capability::Tools,
        Capability::JsonObject,
        Capability::JsonSchema,
        Capability::Seed,
        Capability::Reasoning,
        Capability::PromptCaching,
        Capability::RateLimits,
        Capability::CountTokens,
    ];

    /// The name used in case files and target profiles.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Auth => "auth",
            Capability::Completions => "completions",
            Capability::N => "n",
            Capability::Logprobs => "logprobs",
            Capability::Tools => "tools",
            Capability::JsonObject => "json_object",
            Capability::JsonSchema => "json_schema",
            Capability::Seed => "seed",
            Capability::Reasoning => "reasoning",
            Capability::PromptCaching => "prompt_caching",
            Capability::RateLimits => "rate_limits",
            Capability::CountTokens => "count_tokens",
        }
    }
}

/// The request a case sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Which API endpoint to call.
    pub endpoint: Endpoint,
    /// Overrides the endpoint's HTTP method (for wrong-method cases).
    #[serde(default)]
    pub method: Option<Method>,
    /// The model id in the path of the `model` endpoint; the target's
    /// model when absent.
    #[serde(default)]
    pub model_id: Option<String>,
    /// A JSON body. Whole string values are templates: `${model}` becomes
    /// the target's model, `${context_overflow}` a text longer than its
    /// context, `${body_overflow}` a text longer than its request limit.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// A body sent byte for byte, for malformed-input cases.
    #[serde(default)]
    pub raw_body: Option<String>,
    /// Which credentials to present.
    #[serde(default)]
    pub auth: AuthMode,
    /// Close the connection after this many body bytes (`before` requests only).
    #[serde(default)]
    pub disconnect_after_bytes: Option<u64>,
}

impl Request {
    /// A chat completion with this JSON body, sent with the target's key
    /// and nothing else set: what generated requests (loads, fingerprint
    /// probes) send.
    pub fn chat(body: serde_json::Value) -> Self {
        Request {
            endpoint: Endpoint::Chat,
            method: None,
            model_id: None,
            body: Some(body),
            raw_body: None,
            auth: AuthMode::Key,
            disconnect_after_bytes: None,
        }
    }
}

/// The endpoints a case can call, relative to the target's base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET {base}/models`
    Models,
    /// `GET {base}/models/{model_id}`
    Model,
    /// `POST {base}/chat/completions`
    Chat,
    /// `POST {base}/completions`
    Completions,
    /// `POST {base}/messages` (Anthropic Messages)
    Messages,
    /// `POST {base}/messages/count_tokens` (Anthropic Messages)
    MessagesCountTokens,
    /// `POST {base}/responses` (OpenAI Responses)
    Responses,
}

impl Endpoint {
    /// The endpoint's HTTP method.
    pub fn method(self) -> Method {
        match self {
            Endpoint::Models | Endpoint::Model => Method::Get,
            Endpoint::Chat
            | Endpoint::Completions
            | Endpoint::Messages
            | Endpoint::MessagesCountTokens
            | Endpoint::Responses => Method::Post,
        }
    }

    /// The dialect of the API the endpoint belongs to.
    pub fn dialect(self) -> Dialect {
        match self {
            Endpoint::Models | Endpoint::Model | Endpoint::Chat | Endpoint::Completions => {
                Dialect::OpenaiChat
            }
            Endpoint::Messages | Endpoint::MessagesCountTokens => Dialect::AnthropicMessages,
            Endpoint::Responses => Dialect::OpenaiResponses,
        }
    }

    /// The path below the dialect's base URL; `model_id` fills the model endpoint's.
    pub fn path(self, model_id: &str) -> String {
        match self {
            Endpoint::Models => "/models".into(),
            Endpoint::Model => format!("/models/{model_id}"),
            Endpoint::Chat => "/chat/completions".into(),
            Endpoint::Completions => "/completions".into(),
            Endpoint::Messages => "/messages".into(),
            Endpoint::MessagesCountTokens => "/messages/count_tokens".into(),
            Endpoint::Responses => "/responses".into(),
        }
    }
}

/// HTTP methods a case can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// The method token, e.g. `GET`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// Which credentials a request presents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// The target's API key, if it has one.
    #[default]
    Key,
    /// No `Authorization` header at all.
    None,
    /// A well-formed key the target did not issue ([`WRONG_KEY`]).
    Wrong,
    /// The target's key without the `Bearer` scheme.
    Malformed,
}

/// The key presented by `auth: wrong` cases.
pub const WRONG_KEY: &str = "sk-tokencert-not-a-key-0000000000000000";

/// One status code or a set of acceptable ones.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum StatusSet {
    /// Exactly this code.
    One(u16),
    /// Any of these codes.
    Any(Vec<u16>),
}

impl StatusSet {
    /// Whether `status` is acceptable.
    pub fn contains(&self, status: u16) -> bool {
        match self {
            StatusSet::One(code) => *code == status,
            StatusSet::Any(codes) => codes.contains(&status),
        }
    }

    /// The acceptable codes.
    pub fn codes(&self) -> &[u16] {
        match self {
            StatusSet::One(code) => std::slice::from_ref(code),
            StatusSet::Any(codes) => codes,
        }
    }

    /// The codes joined by `|`, e.g. `400|413`.
    pub fn label(&self) -> String {
        match self {
            StatusSet::One(code) => code.to_string(),
            StatusSet::Any(codes) => codes
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join("|"),
        }
    }
}

/// The fixed set of named checks. Each is a pure function of the recorded
/// exchanges, implemented in `check/`. "Output" below is what a client
/// assembles per choice: text, tool calls and finish reason, from a JSON
/// body or a stream, chat or legacy completions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The response status is this code (or one of these codes).
    Status(StatusSet),
    /// The response media type (parameters ignored) equals this one.
    ContentType(String),
    /// The body is JSON matching the named schema in `spec/schemas/`.
    JsonSchema(String),
    /// The body is a well-formed text/event-stream.
    SseWellFormed,
    /// Every SSE data payload except `[DONE]` is JSON matching the named schema.
    ChunksMatchSchema(String),
    /// The last event is `data: [DONE]` and nothing follows it.
    TerminatedByDone,
    /// Each choice's delta carries the role exactly once, in its first chunk.
    OneRolePerChoice,
    /// All chunks carry the same `id`, `created` and `model`.
    ConsistentChunkIds,
    /// The body's `usage` is present, integral and adds up.
    UsageAddsUp,
    /// The last chunk has empty choices and a usage that adds up; no
    /// earlier chunk carries usage.
    StreamUsageLast,
    /// Every choice's finish reason is this one. A choice cut off by the
    /// completion limit whose usage shows the whole limit used is an
    /// error, not a failure, when another reason was expected: the model
    /// did not end in time, which the service cannot help.
    FinishReason(String),
    /// No choice delivers more tokens (recounted with the declared
    /// tokenizer, within tolerance) than the request's `max_tokens` /
    /// `max_completion_tokens`.
    MaxTokensHonoured,
    /// As many choices as the request's `n` (default 1).
    ChoiceCount,
    /// Choice indices are exactly 0..k-1, each once.
    ChoiceIndices,
    /// No choice's text contains one of the request's `stop` sequences.
    StopHonoured,
    /// The output equals that of every `before` exchange.
    SameOutputAsBefore,
    /// Log probabilities have the requested shape and counts.
    LogprobsValid,
    /// Every choice's text is a JSON object.
    ContentIsJsonObject,
    /// Every choice's text validates against the request's
    /// `response_format.json_schema.schema`.
    ContentMatchesRequestedSchema,
    /// Every choice calls a requested tool with arguments valid for it.
    ToolCallsValid,
    /// No choice calls a tool.
    NoToolCalls,
    /// No choice's text contains U+FFFD.
    NoReplacementChars,
    /// No chunk after a choice's first carries an empty delta without a
    /// finish reason.
    NoEmptyChunks,
    /// Status 200, or 400 with a well-formed error object; never 5xx.
    IgnoredOrRefused,
    /// The error object's `param` names this field.
    ErrorParam(String),
    /// The response does not repeat the credential the request presented.
    KeyNotEchoed,
    /// The body's `id` is the model id in the request path.
    ModelIdMatchesPath,
    /// The body's `model` is the requested model or a dated variant of it.
    ModelMatchesRequest,
    /// `usage.completion_tokens` less disclosed reasoning tokens equals the
    /// recount of the delivered output, within tolerance.
    CompletionTokensRecount,
    /// `usage.prompt_tokens` equals the recount of the chat messages plus
    /// the declared template overhead, within tolerance.
    PromptTokensRecount,
    /// `usage.completion_tokens` is at most the completion limit × choices.
    CompletionTokensWithinLimit,
    /// The usage agrees with that of the (single) `before` exchange: the
    /// same prompt and reasoning tokens, and the same difference between
    /// billed completion tokens and the recount of the delivered text.
    UsageMatchesBefore,
    /// Tokens billed beyond the delivered output are disclosed as
    /// `completion_tokens_details.reasoning_tokens`.
    ReasoningTokensDisclosed,
    /// `usage.prompt_tokens_details.cached_tokens` is positive and at most
    /// `prompt_tokens`.
    CachedTokensReported,
    /// Of the fingerprint probe set's exchanges: the fingerprint they give
    /// is the same model as the reference fingerprints the target declares
    /// (`identify`, the declared pair as the noise floor), and its billed
    /// prompt tokens fit the declared tokenizer family.
    SameModelAsDeclared,
    /// Of a rate-limit probe: no 429 below the limit; above it at least one
    /// 429, each with an error object; no 5xx and no dropped connection.
    RateLimitEnforced,
    /// Of a rate-limit probe: every 429 carries a valid `Retry-After`, and
    /// the request sent after waiting succeeds.
    RetryAfterHonoured,
    /// The response carries the `x-ratelimit-*-requests` headers.
    RateLimitHeaders,
    /// Every SSE event's data is JSON matching the named schema (a `oneOf`
    /// over the dialect's event types, such as `anthropic.stream-event`).
    EventsMatchSchema(String),
    /// Every event names its type in an `event:` field equal to its
    /// `data.type`.
    EventNamesMatchTypes,
    /// The events follow the dialect's stream grammar (Anthropic Messages:
    /// `message_start`, blocks opened and closed in index order, one
    /// `message_delta`, `message_stop` last; OpenAI Responses:
    /// `response.created` first, items and parts opened and closed in
    /// order, a terminal `response.*` event last).
    EventsInOrder,
    /// (Anthropic Messages) every delta and stop names the open block's
    /// index, and each delta's type fits the block's type.
    BlockIndicesConsistent,
    /// (Anthropic Messages) output tokens never decrease across
    /// `message_start` and `message_delta`, and input tokens never change
    /// once given; (OpenAI Responses) usage appears only on the final event.
    UsageNeverDecreases,
    /// (OpenAI Responses) every event has an integer `sequence_number`,
    /// increasing by one from the first.
    SequenceNumbersIncreasing,
    /// (OpenAI Responses) no event's data is `[DONE]`.
    NoDoneTerminator,
    /// (OpenAI Responses) each text part's deltas concatenate to its
    /// `response.output_text.done` text and to its text in the final response.
    StreamTextMatchesDone,
    /// The error object's `error.type` is this one.
    ErrorType(String),
    /// (Anthropic Messages) the count_tokens body's `input_tokens` equals
    /// the prompt tokens billed for the case's single `before` exchange,
    /// a messages request with the same prompt.
    CountTokensMatches,
    /// Status 400 with the dialect's error object (the parameter was
    /// refused), or else every listed check passes (it was honoured).
    HonouredOrRefused(Vec<Check>),
    /// Of a load: the class's TTFT percentile, measured from each
    /// request's scheduled send time, is within its bound.
    SloTtft,
    /// Of a load: the median per-request output speed reaches the class's bound.
    SloOutputSpeed,
    /// Of a load: the class's token-level ITL percentile is within its bound.
    SloItl,
    /// Of a load: the share of requests that are not `ok` is within the
    /// class's bound.
    SloErrorRate,
    /// Of a load: the share of steady-state requests meeting every
    /// objective of the class reaches its bound.
    SloGoodput,
}

impl Check {
    /// Whether the check recounts tokens with the tokenizer the target
    /// declares: a case with such a check is not claimed when it declares
    /// none.
    pub fn recounts(&self) -> bool {
        match self {
            Check::HonouredOrRefused(checks) => checks.iter().any(Check::recounts),
            _ => matches!(
                self,
                Check::MaxTokensHonoured
                    | Check::CompletionTokensRecount
                    | Check::PromptTokensRecount
                    | Check::UsageMatchesBefore
                    | Check::ReasoningTokensDisclosed
            ),
        }
    }

    /// The check's name as written in case files.
    pub fn name(&self) -> &'static str {
        match self {
            Check::Status(_) => "status",
            Check::ContentType(_) => "content_type",
            Check::JsonSchema(_) => "json_schema",
            Check::SseWellFormed => "sse_well_formed",
            Check::ChunksMatchSchema(_) => "chunks_match_schema",
            Check::TerminatedByDone => "terminated_by_done",
            Check::OneRolePerChoice => "one_role_per_choice",
            Check::ConsistentChunkIds => "consistent_chunk_ids",
            Check::UsageAddsUp => "usage_adds_up",
            Check::StreamUsageLast => "stream_usage_last",
            Check::FinishReason(_) => "finish_reason",
            Check::MaxTokensHonoured => "max_tokens_honoured",
            Check::ChoiceCount => "choice_count",
            Check::ChoiceIndices => "choice_indices",
            Check::StopHonoured => "stop_honoured",
            Check::SameOutputAsBefore => "same_output_as_before",
            Check::SameModelAsDeclared => "same_model_as_declared",
            Check::LogprobsValid => "logprobs_valid",
            Check::ContentIsJsonObject => "content_is_json_object",
            Check::ContentMatchesRequestedSchema => "content_matches_requested_schema",
            Check::ToolCallsValid => "tool_calls_valid",
            Check::NoToolCalls => "no_tool_calls",
            Check::NoReplacementChars => "no_replacement_chars",
            Check::NoEmptyChunks => "no_empty_chunks",
            Check::IgnoredOrRefused => "ignored_or_refused",
            Check::ErrorParam(_) => "error_param",
            Check::KeyNotEchoed => "key_not_echoed",
            Check::ModelIdMatchesPath => "model_id_matches_path",
            Check::ModelMatchesRequest => "model_matches_request",
            Check::CompletionTokensRecount => "completion_tokens_recount",
            Check::PromptTokensRecount => "prompt_tokens_recount",
            Check::CompletionTokensWithinLimit => "completion_tokens_within_limit",
            Check::UsageMatchesBefore => "usage_matches_before",
            Check::ReasoningTokensDisclosed => "reasoning_tokens_disclosed",
            Check::CachedTokensReported => "cached_tokens_reported",
            Check::RateLimitEnforced => "rate_limit_enforced",
            Check::RetryAfterHonoured => "retry_after_honoured",
            Check::RateLimitHeaders => "rate_limit_headers",
            Check::EventsMatchSchema(_) => "events_match_schema",
            Check::EventNamesMatchTypes => "event_names_match_types",
            Check::EventsInOrder => "events_in_order",
            Check::BlockIndicesConsistent => "block_indices_consistent",
            Check::UsageNeverDecreases => "usage_never_decreases",
            Check::SequenceNumbersIncreasing => "sequence_numbers_increasing",
            Check::NoDoneTerminator => "no_done_terminator",
            Check::StreamTextMatchesDone => "stream_text_matches_done",
            Check::ErrorType(_) => "error_type",
            Check::CountTokensMatches => "count_tokens_matches",
            Check::HonouredOrRefused(_) => "honoured_or_refused",
            Check::SloTtft => "slo_ttft",
            Check::SloOutputSpeed => "slo_output_speed",
            Check::SloItl => "slo_itl",
            Check::SloErrorRate => "slo_error_rate",
            Check::SloGoodput => "slo_goodput",
        }
    }

    /// Whether this check judges a performance case's load (rather than
    /// one exchange).
    pub fn is_performance(&self) -> bool {
        matches!(
            self,
            Check::SloTtft
                | Check::SloOutputSpeed
                | Check::SloItl
                | Check::SloErrorRate
                | Check::SloGoodput
        )
    }

    /// Every schema this check validates against, its listed checks' included.
    pub fn schemas(&self) -> Vec<&str> {
        match self {
            Check::JsonSchema(name)
            | Check::ChunksMatchSchema(name)
            | Check::EventsMatchSchema(name) => vec![name],
            Check::HonouredOrRefused(checks) => checks.iter().flat_map(Check::schemas).collect(),
            _ => Vec::new(),
        }
    }

    /// The check as a short label including its argument, e.g. `status 200`.
    pub fn label(&self) -> String {
        match self {
            Check::Status(codes) => format!("status {}", codes.label()),
            Check::ContentType(arg)
            | Check::JsonSchema(arg)
            | Check::ChunksMatchSchema(arg)
            | Check::FinishReason(arg)
            | Check::ErrorParam(arg)
            | Check::EventsMatchSchema(arg)
            | Check::ErrorType(arg) => format!("{} {arg}", self.name()),
            Check::HonouredOrRefused(checks) => {
                let labels: Vec<String> = checks.iter().map(Check::label).collect();
                format!("{} [{}]", self.name(), labels.join(", "))
            }
            other => other.name().to_string(),
        }
    }
}
