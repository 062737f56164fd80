//! `tokencert init`: probe an endpoint with a handful of harmless, bounded
//! requests and propose a target profile from what they show.
//!
//! Three parts: [`probe`] sends the requests (the only part with the
//! network), `read` turns each answer into what it shows (pure), and
//! [`profile_yaml`] writes the observations as a target profile (pure).
//! Besides chat, one short request per other dialect (Anthropic Messages,
//! with count_tokens when Messages answered; OpenAI Responses) shows which
//! dialects the target serves.
//! Every request has a deadline, asks for a few tokens at most (the
//! prompt-caching probe sends a prompt of about 1,200 tokens twice), and
//! none is sent twice but the seed and caching pairs. The probes run one
//! after another: some servers cut a stream short when another request
//! arrives.

mod read;
mod send;
mod write;

use std::collections::BTreeMap;
use std::time::Duration;

use tokencert_core::suite::{Capability, Dialect};

use crate::remote::{RemoteError, check_base_url};
use crate::target::ApiKey;

pub use read::{body_limit_in, context_window_in};
pub use write::profile_yaml;

use read::Probe;
use send::{Key, Reading, Sender};

/// The endpoint to probe, as the user described it.
#[derive(Debug, Clone)]
pub struct InitTarget {
    /// Base URL including the version prefix, e.g. `https://api.example.com/v1`.
    pub base_url: String,
    /// The model to probe.
    pub model: String,
    /// The bearer key, if the target has one. Sent only in the
    /// `Authorization` header; never written.
    pub api_key: Option<ApiKey>,
    /// Allow plain http:// to a host that is not this machine.
    pub allow_insecure_http: bool,
    /// Deadline of each request, from send to the last body byte.
    pub timeout: Duration,
}

/// What the probes showed of one capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Whether the probe saw the target do it.
    pub observed: bool,
    /// What was seen, in a few words (e.g. "n: 2 gave 2 choices").
    pub evidence: String,
}

/// A limit, as far as the probes showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenLimit {
    /// The limit the target named, if it named one.
    pub value: Option<u64>,
    /// What was seen, in a few words.
    pub evidence: String,
}

/// Everything the probes showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observations {
    /// The base URL probed.
    pub base_url: String,
    /// The model probed.
    pub model: String,
    /// When the probes ran (RFC 3339).
    pub probed_at: String,
    /// Every dialect, and whether its short request was answered.
    pub dialects: BTreeMap<Dialect, Seen>,
    /// Every capability a harmless probe can see (all but `rate_limits`).
    pub capabilities: BTreeMap<Capability, Seen>,
    /// The context window, in tokens.
    pub max_context_tokens: SeenLimit,
    /// The largest request body accepted, in bytes.
    pub max_request_bytes: SeenLimit,
    /// What the basic probes (model list, chat, stream) showed.
    pub notes: Vec<String>,
}

impl Observations {
    /// The capabilities observed.
    pub fn observed(&self) -> impl Iterator<Item = Capability> + '_ {
        self.capabilities
            .iter()
            .filter(|(_, seen)| seen.observed)
            .map(|(c, _)| *c)
    }
}

/// The endpoint cannot be probed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The base URL is refused, as `run` refuses it.
    #[error(transparent)]
    Url(#[from] RemoteError),
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    /// The first chat request did not succeed: nothing else would be
    /// worth probing.
    #[error(
        "the target did not answer a short chat request for model {model}: {what}; check the URL (with its version prefix, e.g. /v1), the model and the key"
    )]
    NoChat {
        /// The model.
        model: String,
        /// What happened instead.
        what: String,
    },
}

/// The body of the body-size probe: a short chat request padded with
/// whitespace (which costs no tokens) to one byte past the size a profile
/// declares by default.
pub const BODY_SIZE_PROBE_BYTES: usize = 8 * 1024 * 1024 + 1;

/// Probes `target`, one request at a time, and reports what it showed.
/// `progress` is called with each probe's name before it is sent.
///
/// # Errors
///
/// [`InitError::Url`] before anything is sent when the URL is refused (a
/// plain http:// URL to another machine without `allow_insecure_http`,
/// credentials in the URL, ...); [`InitError::NoChat`] when a short chat
/// request fails.
pub async fn probe(
    target: &InitTarget,
    mut progress: impl FnMut(&str),
) -> Result<Observations, InitError> {
    check_base_url(&target.base_url, target.allow_insecure_http)?;
    let sender = Sender::new(target)?;
    let model = target.model.as_str();
    let mut ask = async |probe: Probe, key: Key, reading: Reading| {
        progress(probe.name());
        sender
            .send(probe.dialect(), probe.request(model), key, reading)
            .await
    };
    let chat = ask(Probe::Chat, Key::Given, Reading::Whole).await;
    if chat.status != Some(200) {
        return Err(InitError::NoChat {
            model: model.to_string(),
            what: chat.describe(),
        });
    }
    let models = ask(Probe::Models, Key::Given, Reading::Whole).await;
    let wrong_key = ask(Probe::Models, Key::Wrong, Reading::Whole).await;
    let stream = ask(Probe::Stream, Key::Given, Reading::Whole).await;
    let n = ask(Probe::N, Key::Given, Reading::Whole).await;
    let logprobs = ask(Probe::Logprobs, Key::Given, Reading::Whole).await;
    let tools = ask(Probe::Tools, Key::Given, Reading::Whole).await;
    let json_object = ask(Probe::JsonObject, Key::Given, Reading::Whole).await;
    let json_schema = ask(Probe::JsonSchema, Key::Given, Reading::Whole).await;
    let completions = ask(Probe::Completions, Key::Given, Reading::Whole).await;
    let seed = [
        ask(Probe::Seed, Key::Given, Reading::Whole).await,
        ask(Probe::Seed, Key::Given, Reading::Whole).await,
    ];
    let reasoning = ask(Probe::Reasoning, Key::Given, Reading::Whole).await;
    let caching = [
        ask(Probe::Caching, Key::Given, Reading::Whole).await,
        ask(Probe::Caching, Key::Given, Reading::Whole).await,
    ];
    let context = ask(Probe::Context, Key::Given, Reading::UnlessRefused).await;
    let body_size = ask(Probe::BodySize, Key::Given, Reading::UnlessRefused).await;
    let messages = ask(Probe::Messages, Key::Given, Reading::Whole).await;
    let messages_seen = read::dialect(Dialect::AnthropicMessages, &messages);
    let count_tokens = match messages_seen.observed {
        true => Some(ask(Probe::CountTokens, Key::Given, Reading::Whole).await),
        false => None,
    };
    let responses = ask(Probe::Responses, Key::Given, Reading::Whole).await;
    let dialects = BTreeMap::from([
        (
            Dialect::OpenaiChat,
            read::dialect(Dialect::OpenaiChat, &chat),
        ),
        (Dialect::AnthropicMessages, messages_seen),
        (
            Dialect::OpenaiResponses,
            read::dialect(Dialect::OpenaiResponses, &responses),
        ),
    ]);

    let capabilities = BTreeMap::from([
        (
            Capability::Auth,
            read::auth(&wrong_key, target.api_key.is_some()),
        ),
        (Capability::Completions, read::completions(&completions)),
        (Capability::N, read::n(&n)),
        (Capability::Logprobs, read::logprobs(&logprobs)),
        (Capability::Tools, read::tools(&tools)),
        (Capability::JsonObject, read::json_object(&json_object)),
        (Capability::JsonSchema, read::json_schema(&json_schema)),
        (Capability::Seed, read::seed(&seed)),
        (Capability::Reasoning, read::reasoning(&reasoning)),
        (Capability::PromptCaching, read::prompt_caching(&caching)),
        (
            Capability::CountTokens,
            read::count_tokens(count_tokens.as_ref()),
        ),
    ]);
    let mut notes = vec![read::models(&models, model), read::chat(&chat)];
    notes.push(read::stream(&stream));
    let refusals = [&context, &caching[0], &caching[1], &body_size];
    Ok(Observations {
        base_url: target.base_url.clone(),
        model: model.to_string(),
        probed_at: crate::timestamp(),
        dialects,
        capabilities,
        max_context_tokens: read::context_limit(&context, &refusals, &models, model),
        max_request_bytes: read::body_limit(&body_size),
        notes,
    })
}
