//! The target under test and its credentials.

use std::fmt;

use tokencert_core::suite::Dialect;

/// An API key. Its `Debug` never shows it and it has no `Display`, so it
/// cannot slip into logs, errors or panics by formatting.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the Authorization header and for redaction.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

/// An OpenAI-compatible endpoint.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL including the version prefix, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    /// The model name put where a case says `${model}`.
    pub model: String,
    /// The bearer key, if the target has one.
    pub api_key: Option<ApiKey>,
    /// The limits the target declares, for over-limit requests.
    pub limits: tokencert_core::suite::Limits,
    /// The rate limit the target declares, probed by rate-limit cases.
    pub rate_limit: Option<tokencert_core::suite::RateLimit>,
    /// The API dialects the target serves, and where each is reached.
    pub dialects: tokencert_core::suite::Dialects,
}

impl Target {
    /// The model the declared rate limit applies to.
    pub fn rate_limited_model(&self) -> &str {
        self.rate_limit
            .as_ref()
            .and_then(|r| r.model.as_deref())
            .unwrap_or(&self.model)
    }

    /// What the templates of a case's request body stand for here.
    pub fn templates(&self) -> tokencert_core::suite::Templates<'_> {
        tokencert_core::suite::Templates {
            model: &self.model,
            rate_limited_model: self.rate_limited_model(),
            limits: self.limits,
        }
    }

    /// The URL of a path below the base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    /// The URL of a path below a dialect's base: the base URL, or its
    /// origin joined to the base path the profile gives the dialect.
    pub fn dialect_url(&self, dialect: Dialect, path: &str) -> String {
        match self
            .dialects
            .get(dialect)
            .and_then(|c| c.base_path.as_deref())
        {
            Some(base_path) => {
                let base = self.base_url.trim_end_matches('/');
                let origin_end = base
                    .find("://")
                    .and_then(|scheme| base[scheme + 3..].find('/').map(|p| scheme + 3 + p))
                    .unwrap_or(base.len());
                let base_path = base_path.trim_end_matches('/');
                let slash = if base_path.starts_with('/') { "" } else { "/" };
                format!("{}{slash}{base_path}{path}", &base[..origin_end])
            }
            None => self.url(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ApiKey, Dialect, Target};

    const KEY: &str = "sk-test-3f9a1c";

    fn target() -> Target {
        Target {
            base_url: "http://127.0.0.1:1/v1".into(),
            model: "m".into(),
            api_key: Some(ApiKey::new(KEY)),
            limits: Default::default(),
            rate_limit: None,
            dialects: Default::default(),
        }
    }

    #[test]
    fn a_dialect_base_path_replaces_the_path_of_the_base_url() {
        use tokencert_core::suite::{DialectClaim, Dialects};
        let mut target = target();
        assert_eq!(
            target.dialect_url(Dialect::AnthropicMessages, "/messages"),
            "http://127.0.0.1:1/v1/messages"
        );
        target.dialects = Dialects(
            [(
                Dialect::AnthropicMessages,
                DialectClaim {
                    base_path: Some("/anthropic/v1/".into()),
                    auth: None,
                },
            )]
            .into(),
        );
        assert_eq!(
            target.dialect_url(Dialect::AnthropicMessages, "/messages"),
            "http://127.0.0.1:1/anthropic/v1/messages"
        );
        assert_eq!(
            target.dialect_url(Dialect::OpenaiChat, "/models"),
            "http://127.0.0.1:1/v1/models"
        );
    }

    #[test]
    fn debug_of_the_key_and_of_what_holds_it_never_shows_it() {
        let key = ApiKey::new(KEY);
        assert_eq!(format!("{key:?}"), "ApiKey([REDACTED])");
        for shown in [format!("{:?}", target()), format!("{:#?}", target())] {
            assert!(!shown.contains(KEY), "{shown}");
            assert!(shown.contains("ApiKey([REDACTED])"), "{shown}");
        }
        assert_eq!(key.expose(), KEY);
    }

    #[test]
    fn a_panic_formatting_the_target_does_not_carry_the_key() {
        let payload = std::panic::catch_unwind(|| {
            let target = target();
            panic!("request to {target:?} failed");
        })
        .expect_err("it panics");
        let message = payload
            .downcast_ref::<String>()
            .expect("a formatted panic message");
        assert!(message.contains("[REDACTED]"), "{message}");
        assert!(!message.contains(KEY), "{message}");
    }
}
