//! The case model: what a case file under `suites/` says, as Rust values.
//! The shape is fixed by `spec/schemas/case.schema.json`; files are
//! validated against that schema before they are decoded into these types.

use serde::Deserialize;

/// One conformance case: a request and the named checks its exchange must pass.
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
    /// What to send.
    pub request: Request,
    /// What the recorded exchange must satisfy, in order.
    pub checks: Vec<Check>,
}

/// An optional capability a target may claim.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// The target requires a bearer API key.
    Auth,
}

impl Capability {
    /// The name used in case files and target profiles.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Auth => "auth",
        }
    }
}

/// The request a case sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Which API endpoint to call.
    pub endpoint: Endpoint,
    /// A JSON body; the string `${model}` anywhere as a whole value is
    /// replaced by the target's model.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// A body sent byte for byte, for malformed-input cases.
    #[serde(default)]
    pub raw_body: Option<String>,
    /// Which credentials to present.
    #[serde(default)]
    pub auth: AuthMode,
}

/// The endpoints a case can call, relative to the target's base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET {base}/models`
    Models,
    /// `POST {base}/chat/completions`
    Chat,
}

impl Endpoint {
    /// HTTP method and path below the base URL.
    pub fn method_and_path(self) -> (&'static str, &'static str) {
        match self {
            Endpoint::Models => ("GET", "/models"),
            Endpoint::Chat => ("POST", "/chat/completions"),
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
    /// A well-formed key the target did not issue.
    Wrong,
}

/// The fixed set of named checks. Each is a pure function of the recorded
/// exchange, implemented in `check/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The response status equals this code.
    Status(u16),
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
}

impl Check {
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
        }
    }

    /// The schema this check validates against, if any.
    pub fn schema(&self) -> Option<&str> {
        match self {
            Check::JsonSchema(name) | Check::ChunksMatchSchema(name) => Some(name),
            _ => None,
        }
    }

    /// The check as a short label including its argument, e.g. `status 200`.
    pub fn label(&self) -> String {
        match self {
            Check::Status(code) => format!("status {code}"),
            Check::ContentType(t) => format!("content_type {t}"),
            Check::JsonSchema(s) | Check::ChunksMatchSchema(s) => format!("{} {s}", self.name()),
            other => other.name().to_string(),
        }
    }
}
