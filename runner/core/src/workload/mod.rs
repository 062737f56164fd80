//! Seeded workloads: what a performance case sends, and when.
//!
//! A [`Workload`] names a seed, a prompt source (synthetic prompts with
//! input and output length distributions, an Artificial-Analysis-style
//! [`Preset`], or a JSONL prompt file), a request bound, a
//! [`LoadModel`] and the API [`Dialect`] to speak. [`Workload::plan`] turns
//! it into the concrete request list: each request's body in that dialect
//! (see [`request_body`]), its prompt and output token counts and, under an
//! open loop, its scheduled send time.
//!
//! Everything is deterministic from the seed: the same seed gives the same
//! prompts (byte for byte) and the same schedule. Each part reads its own
//! ChaCha8 stream of the seed ([`STREAM_SCHEDULE`], [`STREAM_LENGTHS`],
//! [`STREAM_TEXT`]), so changing the load model leaves the prompts as they
//! were. (The normal and gamma draws go through `ln`, `cos` and `sqrt`;
//! a platform whose maths library rounds differently in the last bit could,
//! rarely, round a length or a nanosecond differently.)

mod body;
mod file;
mod preset;
mod sample;
mod schedule;
mod shard;
mod synthetic;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::suite::Dialect;
use crate::tokens::{Tokenizer, TokenizerError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use body::request_body;
pub use file::{
    FilePrompt, MAX_PROMPT_FILE_BYTES, MAX_PROMPT_LINE_BYTES, parse_prompt_lines, read_prompt_file,
};
pub use preset::{Lengths, Preset};
pub use sample::{LengthDist, MAX_LENGTH_TOKENS, rng};
pub use schedule::{
    Arrivals, LoadModel, MAX_RATE, MAX_REQUESTS, MAX_USERS, MIN_BURSTINESS, schedule,
};
pub use shard::{
    MAX_SHARDS, PlannedLoad, START_AT_TOLERANCE, ShardError, ShardSpec, parse_start_at,
    plan_digest, unix_ns,
};
pub use synthetic::{PromptBuilder, synthetic_prompt};

/// The ChaCha8 stream of the seed that send times are drawn from.
pub const STREAM_SCHEDULE: u64 = 1;
/// The ChaCha8 stream of the seed that token lengths are drawn from.
pub const STREAM_LENGTHS: u64 = 2;
/// The ChaCha8 stream of the seed that prompt text is drawn from.
pub const STREAM_TEXT: u64 = 3;

/// The most prompt tokens one plan may hold in all (100 million, some
/// 500 MB of text): a bound on memory whatever the request count and
/// lengths.
pub const MAX_PLANNED_PROMPT_TOKENS: u64 = 100_000_000;

/// Why a workload could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// A parameter is out of range.
    #[error("invalid workload: {0}")]
    Invalid(String),
    /// The tokenizer could not count a text.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// No word of the synthetic word list is a single token under this
    /// tokenizer, so exact lengths cannot be reached.
    #[error(
        "the {tokenizer} tokenizer has no single-token word in the synthetic word list: \
         cannot build prompts of exact lengths"
    )]
    NoFiller {
        /// The tokenizer's name.
        tokenizer: String,
    },
    /// The tokenizer merges across words so that the prompt could not be
    /// brought to the exact length.
    #[error("could not build a prompt of exactly {wanted} {tokenizer} tokens (got {got})")]
    Inexact {
        /// The tokenizer's name.
        tokenizer: String,
        /// The length asked for.
        wanted: u64,
        /// The length last counted.
        got: u64,
    },
    /// A prompt file cannot be used.
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    PromptFile {
        /// The file.
        path: PathBuf,
        /// The line at fault (1-based), if one is.
        line: Option<u64>,
        /// What is wrong.
        reason: String,
    },
}

/// Where prompts come from.
///
/// In YAML: `{synthetic: {input: {fixed: 1000}, output: {uniform: {min: 100,
/// max: 300}}}}`, `{preset: medium}`, or `{file: {path: prompts.jsonl,
/// max_tokens: 256}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Prompts {
    /// Synthetic English-like prompts of exact token lengths.
    Synthetic {
        /// Prompt lengths, in tokens.
        input: LengthDist,
        /// `max_tokens` of each request.
        output: LengthDist,
    },
    /// Synthetic prompts with a preset's fixed lengths.
    Preset(Preset),
    /// The prompts of a JSONL file, in order, starting over at the end if
    /// more requests are planned than the file has lines.
    File {
        /// The file; relative to the directory [`Workload::plan`] is given.
        path: PathBuf,
        /// `max_tokens` for lines that do not give one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_tokens: Option<u64>,
    },
}

/// A workload: what to send and when, from a seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// The seed of every random draw (0 by default).
    #[serde(default)]
    pub seed: u64,
    /// The most requests to send (1..=[`MAX_REQUESTS`]).
    pub requests: u64,
    /// The longest the load may last (`"60s"`, `"5m"`): an open-loop
    /// schedule stops before it; a closed loop is stopped by the driver.
    #[serde(
        default,
        with = "duration::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
    /// Where the prompts come from.
    pub prompts: Prompts,
    /// How the requests are sent.
    pub load: LoadModel,
    /// The API dialect the requests speak (OpenAI Chat by default): the
    /// same prompts and output bounds, sent as that dialect's streaming
    /// request to its endpoint.
    #[serde(default, skip_serializing_if = "is_openai_chat")]
    pub dialect: Dialect,
}

fn is_openai_chat(dialect: &Dialect) -> bool {
    *dialect == Dialect::OpenaiChat
}

/// One request of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRequest {
    /// Its position in the plan, from 0.
    pub index: u64,
    /// Its send time in nanoseconds from the start of the run (open loop);
    /// `None` under a closed loop.
    pub scheduled_ns: Option<u64>,
    /// The dialect of `body`, which decides its endpoint.
    #[serde(default, skip_serializing_if = "is_openai_chat")]
    pub dialect: Dialect,
    /// The streaming request body in that dialect, for the model
    /// `"${model}"` (see [`request_body`]).
    pub body: Value,
    /// Tokens of the messages' text under the plan's tokenizer (the chat
    /// template's own tokens are not included). Exact for synthetic
    /// prompts.
    pub prompt_tokens: u64,
    /// The request's `max_tokens`.
    pub max_tokens: u64,
}

impl Workload {
    /// Checks every parameter.
    ///
    /// # Errors
    ///
    /// [`WorkloadError::Invalid`] saying which parameter and why.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        if !(1..=MAX_REQUESTS).contains(&self.requests) {
            return Err(WorkloadError::Invalid(format!(
                "{} requests is not in 1..={MAX_REQUESTS}",
                self.requests
            )));
        }
        if self.duration == Some(Duration::ZERO) {
            return Err(WorkloadError::Invalid("a duration of 0".to_string()));
        }
        match &self.prompts {
            Prompts::Synthetic { input, output } => {
                input.validate("input length")?;
                output.validate("output length")?;
            }
            Prompts::Preset(_) => {}
            Prompts::File { max_tokens, .. } => {
                if let Some(n) = *max_tokens
                    && !(1..=MAX_LENGTH_TOKENS).contains(&n)
                {
                    return Err(WorkloadError::Invalid(format!(
                        "max_tokens {n} is not in 1..={MAX_LENGTH_TOKENS}"
                    )));
                }
            }
        }
        self.load.validate()
    }

    /// The concrete requests of the workload.
    ///
    /// Under an open loop, as many requests as the schedule holds (at most
    /// `requests`, all before `duration`); under a closed loop, `requests`
    /// requests without send times. `base` resolves a relative prompt file
    /// path (typically the directory of the case). With a `context` window,
    /// every synthetic or preset request is clipped as [`Lengths::clip`]
    /// does (prompt first); a file prompt keeps its text and its
    /// `max_tokens` is lowered to fit, and one that does not fit at all is
    /// an error. Pass the window less the chat template's overhead.
    ///
    /// # Errors
    ///
    /// [`WorkloadError`]: invalid parameters, a prompt file that cannot be
    /// used, more than [`MAX_PLANNED_PROMPT_TOKENS`] prompt tokens in all,
    /// or a prompt that cannot be built.
    pub fn plan(
        &self,
        tokenizer: &Tokenizer,
        base: &Path,
        context: Option<u64>,
    ) -> Result<Vec<PlannedRequest>, WorkloadError> {
        self.validate()?;
        let schedule = match self.load.arrivals() {
            Some(arrivals) => Some(schedule(
                arrivals,
                self.requests,
                self.duration,
                &mut rng(self.seed, STREAM_SCHEDULE),
            )?),
            None => None,
        };
        let count = schedule
            .as_ref()
            .map_or(self.requests, |times| times.len() as u64);
        let mut lengths_rng = rng(self.seed, STREAM_LENGTHS);
        let mut text_rng = rng(self.seed, STREAM_TEXT);
        let mut builder = PromptBuilder::new(tokenizer);
        let file = match &self.prompts {
            Prompts::File { path, .. } => Some(read_prompt_file(&base.join(path))?),
            _ => None,
        };
        let mut file_counts: HashMap<usize, u64> = HashMap::new();
        let mut total_prompt_tokens = 0u64;
        let mut requests = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(1 << 20));
        for index in 0..count {
            let (messages, prompt_tokens, max_tokens) = match (&self.prompts, &file) {
                (Prompts::File { path, max_tokens }, Some(prompts)) => {
                    let at = usize::try_from(index % prompts.len() as u64).unwrap_or(0);
                    let prompt = &prompts[at];
                    let fail = |reason: String| WorkloadError::PromptFile {
                        path: base.join(path),
                        line: Some(prompt.line),
                        reason,
                    };
                    let tokens = match file_counts.get(&at) {
                        Some(&n) => n,
                        None => {
                            let n = prompt.content_tokens(tokenizer)?;
                            file_counts.insert(at, n);
                            n
                        }
                    };
                    let mut limit = prompt.max_tokens.or(*max_tokens).ok_or_else(|| {
                        fail("no max_tokens, and the workload gives none".to_string())
                    })?;
                    if let Some(context) = context {
                        if tokens >= context {
                            return Err(fail(format!(
                                "the prompt's {tokens} tokens leave no room for output \
                                 in a context window of {context}"
                            )));
                        }
                        limit = limit.min(context - tokens);
                    }
                    (Value::Array(prompt.messages.clone()), tokens, limit)
                }
                (Prompts::Synthetic { input, output }, _) => {
                    let lengths = Lengths {
                        prompt: input.sample(&mut lengths_rng),
                        output: output.sample(&mut lengths_rng),
                    };
                    self.synthetic(&mut builder, lengths, context, &mut text_rng)?
                }
                (Prompts::Preset(preset), _) => {
                    self.synthetic(&mut builder, preset.lengths(), context, &mut text_rng)?
                }
                (Prompts::File { .. }, None) => {
                    return Err(WorkloadError::Invalid("prompt file not read".to_string()));
                }
            };
            total_prompt_tokens = total_prompt_tokens.saturating_add(prompt_tokens);
            if total_prompt_tokens > MAX_PLANNED_PROMPT_TOKENS {
                return Err(WorkloadError::Invalid(format!(
                    "the plan would hold more than {MAX_PLANNED_PROMPT_TOKENS} prompt tokens \
                     (at request {index}); plan fewer or shorter requests"
                )));
            }
            requests.push(PlannedRequest {
                index,
                scheduled_ns: schedule
                    .as_ref()
                    .and_then(|times| times.get(usize::try_from(index).ok()?).copied()),
                dialect: self.dialect,
                body: request_body(self.dialect, messages, max_tokens),
                prompt_tokens,
                max_tokens,
            });
        }
        Ok(requests)
    }

    /// The messages and lengths of one synthetic request (`lengths` clipped
    /// to `context` first).
    fn synthetic(
        &self,
        builder: &mut PromptBuilder<'_>,
        lengths: Lengths,
        context: Option<u64>,
        rng: &mut impl rand_core::RngCore,
    ) -> Result<(Value, u64, u64), WorkloadError> {
        let lengths = match context {
            Some(context) => lengths.clip(context)?,
            None => lengths,
        };
        let text = builder.build(lengths.prompt, rng)?;
        Ok((
            json!([{"role": "user", "content": text}]),
            lengths.prompt,
            lengths.output,
        ))
    }
}

/// Durations in YAML and JSON as humantime strings (`"500ms"`, `"2s"`,
/// `"1m 30s"`).
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a duration as a humantime string.
    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*value).to_string())
    }

    /// Reads a humantime string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!("{text:?} is not a duration like \"500ms\": {e}"))
        })
    }

    /// The same for an optional duration.
    pub mod optional {
        use std::time::Duration;

        use serde::{Deserializer, Serializer};

        /// Writes a duration as a humantime string, if there is one.
        pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => super::serialize(value, s),
                None => s.serialize_none(),
            }
        }

        /// Reads a humantime string.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            super::deserialize(d).map(Some)
        }
    }
}
