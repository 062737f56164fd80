//! Sends init's probes: one request at a time, each with a deadline and a
//! bound on the body read, on a fresh connection, redirects not followed.

use std::time::Duration;

use futures_util::StreamExt;
use tokencert_core::suite::{Dialect, KeyHeader, WRONG_KEY};

use super::{InitError, InitTarget};
use crate::redact::REDACTED;
use crate::target::ApiKey;

/// The most body bytes read of one answer: probes ask for a few tokens.
const BODY_LIMIT: usize = 1024 * 1024;

/// Which key a probe presents.
#[derive(Debug, Clone, Copy)]
pub(super) enum Key {
    /// The target's key, if it has one.
    Given,
    /// A well-formed key the target did not issue.
    Wrong,
}

/// How much of the answer a probe reads.
#[derive(Debug, Clone, Copy)]
pub(super) enum Reading {
    /// The whole body (up to [`BODY_LIMIT`]).
    Whole,
    /// The body of a refusal only: an accepted request's connection is
    /// closed at the response head, so that nothing more is generated
    /// for it than a server makes before it notices.
    UnlessRefused,
}

/// The HTTP method of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    /// GET, without a body.
    Get,
    /// POST, with a JSON body.
    Post,
}

/// What came back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The status, if a response head arrived.
    pub(crate) status: Option<u16>,
    /// The `Content-Type` header.
    pub(crate) content_type: Option<String>,
    /// The body read (the key, if echoed, replaced by `[REDACTED]`).
    pub(crate) body: Vec<u8>,
    /// Why the exchange did not complete, if it did not.
    pub(crate) failure: Option<String>,
}

impl Answer {
    /// The outcome in a few words: the status, or the failure.
    pub(crate) fn describe(&self) -> String {
        match (self.status, &self.failure) {
            (Some(status), None) => format!("status {status}"),
            (Some(status), Some(why)) => format!("status {status}, then {why}"),
            (None, Some(why)) => why.clone(),
            (None, None) => "no answer".into(),
        }
    }

    /// The body as JSON, if it is JSON.
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Sends probes to one target.
pub(super) struct Sender {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<ApiKey>,
    timeout: Duration,
}

impl Sender {
    /// A sender for `target`: no proxy, no redirects, no connection reuse.
    pub(super) fn new(target: &InitTarget) -> Result<Self, InitError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            // HTTP/1.1 as every target has been measured with: reqwest's http2
            // feature is on in the workspace (object_store asks for it), and a
            // stream over HTTP/2 would time differently.
            .http1_only()
            .pool_max_idle_per_host(0)
            .connect_timeout(target.timeout)
            .build()
            .map_err(|e| InitError::Setup(e.to_string()))?;
        Ok(Self {
            http,
            base_url: target.base_url.trim_end_matches('/').to_string(),
            api_key: target.api_key.clone(),
            timeout: target.timeout,
        })
    }

    /// Sends one request of `dialect` and reads its answer, all within the
    /// deadline. The key goes in the dialect's header (Anthropic Messages:
    /// `x-api-key`, with `anthropic-version`; otherwise a bearer token).
    pub(super) async fn send(
        &self,
        dialect: Dialect,
        (method, path, body): (Method, &str, Option<Vec<u8>>),
        key: Key,
        reading: Reading,
    ) -> Answer {
        let exchange = self.exchange(dialect, method, path, body, key, reading);
        let mut answer = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(answer) => answer,
            Err(_) => Answer {
                failure: Some(format!(
                    "no complete answer within {} s",
                    self.timeout.as_secs()
                )),
                ..Answer::default()
            },
        };
        if let Some(key) = &self.api_key {
            answer.body = redacted(&answer.body, key.expose().as_bytes());
            answer.failure = answer.failure.map(|f| f.replace(key.expose(), REDACTED));
        }
        answer
    }

    async fn exchange(
        &self,
        dialect: Dialect,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        key: Key,
        reading: Reading,
    ) -> Answer {
        let url = format!("{}{path}", self.base_url);
        let mut request = match method {
            Method::Get => self.http.get(url),
            Method::Post => self.http.post(url),
        }
        .header(
            reqwest::header::USER_AGENT,
            concat!("tokencert/", env!("CARGO_PKG_VERSION"), " (init)"),
        );
        let key = match key {
            Key::Given => self.api_key.as_ref().map(ApiKey::expose),
            Key::Wrong => Some(WRONG_KEY),
        };
        if dialect == Dialect::AnthropicMessages {
            request = request.header("anthropic-version", crate::exchange::ANTHROPIC_VERSION);
        }
        request = match (KeyHeader::of(dialect), key) {
            (KeyHeader::Bearer, Some(key)) => request.bearer_auth(key),
            (KeyHeader::XApiKey, Some(key)) => request.header(crate::exchange::X_API_KEY, key),
            (_, None) => request,
        };
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return Answer {
                    failure: Some(format!("no answer: {}", e.without_url())),
                    ..Answer::default()
                };
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut answer = Answer {
            status: Some(status),
            content_type,
            ..Answer::default()
        };
        if matches!(reading, Reading::UnlessRefused) && response.status().is_success() {
            return answer;
        }
        let mut stream = response.bytes_stream();
        while let Some(piece) = stream.next().await {
            match piece {
                Ok(bytes) => {
                    let room = BODY_LIMIT - answer.body.len();
                    answer
                        .body
                        .extend_from_slice(&bytes[..bytes.len().min(room)]);
                    if answer.body.len() >= BODY_LIMIT {
                        answer.failure = Some(format!("body cut at {BODY_LIMIT} bytes"));
                        break;
                    }
                }
                Err(e) => {
                    answer.failure = Some(format!("body broken off: {}", e.without_url()));
                    break;
                }
            }
        }
        answer
    }
}

/// `body` with every occurrence of `key` replaced by `[REDACTED]`.
fn redacted(body: &[u8], key: &[u8]) -> Vec<u8> {
    if key.is_empty() {
        return body.to_vec();
    }
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while !rest.is_empty() {
        if rest.starts_with(key) {
            out.extend_from_slice(REDACTED.as_bytes());
            rest = &rest[key.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn an_echoed_key_is_redacted_from_the_body() {
        let body = br#"{"error":"bad key sk-abc, sk-abc"}"#;
        let out = String::from_utf8(redacted(body, b"sk-abc")).expect("utf-8");
        assert_eq!(out, r#"{"error":"bad key [REDACTED], [REDACTED]"}"#);
        assert_eq!(redacted(b"nothing", b""), b"nothing");
    }
}
