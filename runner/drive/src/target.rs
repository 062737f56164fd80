//! The target under test and its credentials.

use std::fmt;

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
}

#[cfg(test)]
mod tests {
    use super::{ApiKey, Target};

    const KEY: &str = "sk-test-3f9a1c";

    fn target() -> Target {
        Target {
            base_url: "http://127.0.0.1:1/v1".into(),
            model: "m".into(),
            api_key: Some(ApiKey::new(KEY)),
            limits: Default::default(),
            rate_limit: None,
        }
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
