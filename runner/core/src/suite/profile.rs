//! Target profiles (`suites/targets/*.yaml`): what a target claims.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use super::{Capability, Dialect, Problem};
use crate::tokens::TokenizerSpec;

/// What a target declares about itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetProfile {
    /// Short name.
    pub name: String,
    /// What the target is.
    pub description: String,
    /// The model to test, unless given on the command line.
    #[serde(default)]
    pub model: Option<String>,
    /// The API dialects the target serves, as a list of names or a map
    /// from name to how it is reached; cases of other dialects are not
    /// claimed. OpenAI Chat alone when absent.
    #[serde(default)]
    pub dialects: Dialects,
    /// Optional capabilities the target claims; cases needing others are reported as not claimed.
    #[serde(default)]
    pub claims: BTreeSet<Capability>,
    /// Declared limits, used to build over-limit requests.
    #[serde(default)]
    pub limits: Limits,
    /// How the target counts tokens, for recounting its usage.
    #[serde(default)]
    pub accounting: Accounting,
    /// The declared rate limit; required when the profile claims `rate_limits`.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// The service classes the target claims and the model performance
    /// cases load; without it every performance case is not claimed.
    #[serde(default)]
    pub performance: Option<PerformanceClaim>,
    /// The model the target claims to serve, for `tokencert identify`
    /// (clause TS-ID-MODEL-FINGERPRINT).
    #[serde(default)]
    pub identity: Option<Identity>,
}

/// The dialects a target serves, each with how it is reached. OpenAI
/// Chat alone by default (what a profile without `dialects` serves).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Dialects(pub BTreeMap<Dialect, DialectClaim>);

impl Default for Dialects {
    fn default() -> Self {
        Self(BTreeMap::from([(
            Dialect::OpenaiChat,
            DialectClaim::default(),
        )]))
    }
}

impl Dialects {
    /// Whether the target serves `dialect`.
    pub fn serves(&self, dialect: Dialect) -> bool {
        self.0.contains_key(&dialect)
    }

    /// How `dialect` is reached, if served.
    pub fn get(&self, dialect: Dialect) -> Option<&DialectClaim> {
        self.0.get(&dialect)
    }

    /// Whether these are the default dialects (for skipping them when serialising).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// `dialects:` as a list of names or as a map from name to [`DialectClaim`];
/// an unknown name is reported as such, with the known ones.
impl<'de> Deserialize<'de> for Dialects {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = Dialects;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a list of dialect names or a map from dialect name to {base_path, auth}",
                )
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Dialects, A::Error> {
                let mut dialects = BTreeMap::new();
                while let Some(dialect) = seq.next_element::<Dialect>()? {
                    dialects.insert(dialect, DialectClaim::default());
                }
                Ok(Dialects(dialects))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Dialects, A::Error> {
                let mut dialects = BTreeMap::new();
                while let Some((dialect, claim)) = map.next_entry::<Dialect, DialectClaim>()? {
                    dialects.insert(dialect, claim);
                }
                Ok(Dialects(dialects))
            }
        }
        deserializer.deserialize_any(Either)
    }
}

/// How a served dialect is reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DialectClaim {
    /// The path that replaces the target URL's path for this dialect's
    /// endpoints (e.g. `/anthropic/v1` when a service serves Messages
    /// there); the target URL's own path when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
    /// The header that carries the key; the dialect's own when absent
    /// (`x-api-key` for Anthropic Messages, a bearer `Authorization` for
    /// the OpenAI dialects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<KeyHeader>,
}

/// The header an API key is presented in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum KeyHeader {
    /// `Authorization: Bearer KEY`.
    #[serde(rename = "bearer")]
    Bearer,
    /// `x-api-key: KEY` (Anthropic's).
    #[serde(rename = "x-api-key")]
    XApiKey,
}

impl KeyHeader {
    /// The header a dialect presents its key in unless a profile says otherwise.
    pub fn of(dialect: Dialect) -> Self {
        match dialect {
            Dialect::AnthropicMessages => KeyHeader::XApiKey,
            Dialect::OpenaiChat | Dialect::OpenaiResponses => KeyHeader::Bearer,
        }
    }
}

/// What a target declares about the identity of the model it serves.
///
/// In a bundle's plan the reference paths are relative to the bundle,
/// which holds copies of them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The tokenizer family its billed prompt tokens should imply (a family
    /// named in the probe set's counts: `o200k_base`, `cl100k_base`,
    /// `gemma-3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_family: Option<String>,
    /// Two fingerprint bundles of the model it claims to serve (`tokencert
    /// fingerprint --out DIR`, twice, at its reference endpoint): the
    /// reference and its noise pair. A relative path is taken relative to
    /// the profile's directory, as the tokenizer's is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<[std::path::PathBuf; 2]>,
}

/// The service classes a target claims (SLO profiles in `spec/slo/`) and
/// the model its performance cases send to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PerformanceClaim {
    /// The model loaded by performance cases; the profile's model when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The classes claimed, by SLO profile name.
    pub classes: BTreeSet<String>,
}

/// How a target counts tokens: the basis of every recount check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Accounting {
    /// The tokenizer the target bills with. Undeclared, cases that recount
    /// are not claimed: another vendor's tokenizer proves nothing about
    /// this one's counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<TokenizerSpec>,
    /// Tokens the chat template adds around the messages.
    #[serde(default)]
    pub chat_overhead: ChatOverhead,
    /// Tokens a legacy completion's prompt is billed beyond its text, each
    /// (a BOS token the server prepends, for instance). None by default.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub legacy_prompt_overhead: u64,
    /// How far a reported count may stray from the recount.
    #[serde(default)]
    pub tolerance: Tolerance,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Accounting {
    /// OpenAI's documented accounting for its chat models: o200k_base, the
    /// chat overhead of [`ChatOverhead::default`], exact counts. The
    /// reference service bills this way.
    pub fn openai_o200k() -> Self {
        Self {
            tokenizer: Some(TokenizerSpec::O200kBase),
            ..Self::default()
        }
    }
}

/// Tokens a chat template adds: per message, per `name`, and to prime the
/// reply (a leading BOS token included), and whether the template keeps
/// system messages and names at all. The defaults are the accounting OpenAI
/// documents for its chat models (cookbook "How to count tokens with
/// tiktoken", `num_tokens_from_messages`, read 2026-11-26): 3, 1 and 3,
/// everything counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChatOverhead {
    /// Tokens framing each message.
    pub per_message: u64,
    /// Extra tokens for a message carrying a `name`.
    pub per_name: u64,
    /// Tokens priming the assistant's reply.
    pub reply: u64,
    /// Whether system messages reach the prompt (some templates, such as
    /// Gemma's in llama-cpp-python, drop them).
    #[serde(default)]
    pub system: Kept,
    /// Whether a message's `name` reaches the prompt.
    #[serde(default)]
    pub names: Kept,
}

/// Whether a chat template keeps a part of the request in the prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kept {
    /// The part is in the prompt and billed.
    #[default]
    Counted,
    /// The template leaves the part out: it costs nothing.
    Dropped,
}

impl Default for ChatOverhead {
    fn default() -> Self {
        Self {
            per_message: 3,
            per_name: 1,
            reply: 3,
            system: Kept::Counted,
            names: Kept::Counted,
        }
    }
}

/// An allowed difference between a reported and a recounted token count:
/// `tokens` plus `percent` of the recount (rounded up). Exact by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    /// Absolute slack in tokens.
    #[serde(default)]
    pub tokens: u64,
    /// Relative slack, in whole percent of the recount.
    #[serde(default)]
    pub percent: u64,
}

impl Tolerance {
    /// The largest allowed difference from a recount of `expected` tokens.
    pub fn allowed(&self, expected: u64) -> u64 {
        let relative = expected.saturating_mul(self.percent).div_ceil(100);
        self.tokens.saturating_add(relative)
    }

    /// Whether `reported` is within tolerance of `expected`.
    pub fn accepts(&self, reported: u64, expected: u64) -> bool {
        reported.abs_diff(expected) <= self.allowed(expected)
    }
}

/// A declared rate limit: at most `requests` requests (and `tokens`
/// tokens, if declared) per window of `window_seconds`. A limit of 600
/// requests per minute is `requests: 600, window_seconds: 60`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// The model the limit applies to; the profile's model when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// Requests per window.
    pub requests: u32,
    /// The window, in seconds.
    pub window_seconds: u32,
    /// Tokens per window, if declared.
    #[serde(default)]
    pub tokens: Option<u64>,
}

/// Limits a target declares. A case whose request does not fit them is not
/// claimed (see [`crate::judge::Plan::unclaimed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The context window in tokens (prompt plus completion).
    #[serde(default = "default_context")]
    pub max_context_tokens: u64,
    /// The largest request body accepted, in bytes.
    #[serde(default = "default_request_bytes")]
    pub max_request_bytes: u64,
}

fn default_context() -> u64 {
    Limits::default().max_context_tokens
}

fn default_request_bytes() -> u64 {
    Limits::default().max_request_bytes
}

impl Default for Limits {
    /// 128 Ki tokens and 8 MiB: generous enough that an undeclared target
    /// is still pushed past its real limits.
    fn default() -> Self {
        Self {
            max_context_tokens: 131_072,
            max_request_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Reads a target profile; the problem names file and line. A relative
/// tokenizer path, and relative reference fingerprint paths, are taken
/// relative to the profile's directory.
pub fn load_profile(path: &Path) -> Result<TargetProfile, Problem> {
    let text = super::read_bounded(path, path)?;
    let mut profile: TargetProfile =
        super::parse_yaml(&text).map_err(|e| super::typed_yaml_problem(path, &text, &e))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    if let Some(spec) = profile.accounting.tokenizer.take() {
        profile.accounting.tokenizer = Some(beside(spec, dir));
    }
    if let Some(reference) = profile.identity.as_mut().and_then(|i| i.reference.as_mut()) {
        for bundle in reference {
            *bundle = dir.join(&*bundle);
        }
    }
    Ok(profile)
}

/// A tokenizer file's path joined to `dir` (an absolute path stays as it is).
fn beside(spec: TokenizerSpec, dir: &Path) -> TokenizerSpec {
    match spec {
        TokenizerSpec::HuggingFace(path) => TokenizerSpec::HuggingFace(dir.join(path)),
        TokenizerSpec::Gguf(path) => TokenizerSpec::Gguf(dir.join(path)),
        builtin => builtin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_are_a_list_of_names_or_a_map_and_openai_chat_alone_by_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("target.yaml");
        let load = |extra: &str| {
            std::fs::write(&path, format!("name: t\ndescription: d\n{extra}")).expect("write");
            load_profile(&path)
        };
        let profile = load("").expect("loads");
        assert!(profile.dialects.is_default());
        let profile = load("dialects: [openai-chat, anthropic-messages]\n").expect("loads");
        assert_eq!(
            profile.dialects.0.keys().copied().collect::<Vec<_>>(),
            [Dialect::OpenaiChat, Dialect::AnthropicMessages]
        );
        let profile =
            load("dialects: {anthropic-messages: {base_path: /anthropic/v1, auth: bearer}}\n")
                .expect("loads");
        assert_eq!(
            profile.dialects.0[&Dialect::AnthropicMessages],
            DialectClaim {
                base_path: Some("/anthropic/v1".into()),
                auth: Some(KeyHeader::Bearer)
            }
        );
        assert!(!profile.dialects.serves(Dialect::OpenaiChat));
        let problem = load("dialects: [anthropic]\n").expect_err("an unknown dialect");
        let said = problem.to_string();
        assert!(said.contains("target.yaml"), "{said}");
        assert!(
            said.contains("anthropic-messages"),
            "names the known dialects: {said}"
        );
    }

    #[test]
    fn identity_declares_two_reference_fingerprints_beside_the_profile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("target.yaml");
        let write = |identity: &str| {
            std::fs::write(
                &path,
                format!("name: t\ndescription: d\nidentity: {identity}\n"),
            )
            .expect("write")
        };
        write("{tokenizer_family: gemma-3, reference: [fp/a, /abs/b]}");
        let identity = load_profile(&path)
            .expect("loads")
            .identity
            .expect("identity");
        assert_eq!(identity.tokenizer_family.as_deref(), Some("gemma-3"));
        assert_eq!(
            identity.reference,
            Some([dir.path().join("fp/a"), "/abs/b".into()])
        );
        write("{reference: [only-one]}");
        let problem = load_profile(&path).expect_err("one bundle is not a pair");
        assert!(problem.to_string().contains("target.yaml"), "{problem}");
    }
}
