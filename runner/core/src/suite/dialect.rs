//! The API dialects a token service may speak: OpenAI Chat Completions
//! (with legacy completions and the model list), Anthropic Messages and
//! OpenAI Responses. A target profile says which it serves; an exchange's
//! dialect is read from its URL, so judging needs nothing else.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One API dialect.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, Default,
)]
pub enum Dialect {
    /// OpenAI Chat Completions: `/chat/completions`, `/completions`, `/models`.
    #[default]
    #[serde(rename = "openai-chat")]
    OpenaiChat,
    /// Anthropic Messages: `/messages`, `/messages/count_tokens`.
    #[serde(rename = "anthropic-messages")]
    AnthropicMessages,
    /// OpenAI Responses: `/responses`.
    #[serde(rename = "openai-responses")]
    OpenaiResponses,
}

impl Dialect {
    /// Every dialect, in declaration order.
    pub const ALL: [Dialect; 3] = [
        Dialect::OpenaiChat,
        Dialect::AnthropicMessages,
        Dialect::OpenaiResponses,
    ];

    /// The name used in profiles, workloads and reasons.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::OpenaiChat => "openai-chat",
            Dialect::AnthropicMessages => "anthropic-messages",
            Dialect::OpenaiResponses => "openai-responses",
        }
    }

    /// The dialect of a request URL, from its path: one ending in
    /// `/messages` or `/messages/count_tokens` is Anthropic Messages, one
    /// ending in `/responses` is OpenAI Responses, any other OpenAI Chat
    /// (a model retrieval such as `/models/messages` included).
    pub fn of_url(url: &str) -> Dialect {
        let path = url
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .trim_end_matches('/');
        let parent = path.rsplit('/').nth(1).unwrap_or_default();
        if parent == "models" {
            Dialect::OpenaiChat
        } else if path.ends_with("/messages") || path.ends_with("/messages/count_tokens") {
            Dialect::AnthropicMessages
        } else if path.ends_with("/responses") {
            Dialect::OpenaiResponses
        } else {
            Dialect::OpenaiChat
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dialect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dialect::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Dialect::ALL.iter().map(|d| d.name()).collect();
                format!("unknown dialect {s:?}; known: {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialect_is_read_from_the_path() {
        let cases = [
            ("http://h/v1/chat/completions", Dialect::OpenaiChat),
            ("http://h/v1/completions", Dialect::OpenaiChat),
            ("http://h/v1/models/messages", Dialect::OpenaiChat),
            ("http://h/v1/messages", Dialect::AnthropicMessages),
            (
                "http://h/v1/messages/count_tokens",
                Dialect::AnthropicMessages,
            ),
            (
                "http://h/anthropic/v1/messages?beta=true",
                Dialect::AnthropicMessages,
            ),
            ("http://h/v1/responses", Dialect::OpenaiResponses),
            ("http://h/v1/responses/", Dialect::OpenaiResponses),
            ("http://h/v1/models", Dialect::OpenaiChat),
        ];
        for (url, dialect) in cases {
            assert_eq!(Dialect::of_url(url), dialect, "{url}");
        }
        assert_eq!("openai-responses".parse(), Ok(Dialect::OpenaiResponses));
        assert!("anthropic".parse::<Dialect>().is_err());
    }
}
