//! Sends one case's request and records the exchange.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use tokencert_core::evidence::{Outcome, RawBytes, Record};
use tokencert_core::suite::{AuthMode, Case};
use tokio::time::Instant;

use crate::record::Recorder;
use crate::target::Target;

/// A key no target issued, for cases that present a wrong key.
const WRONG_KEY: &str = "sk-tokencert-not-a-key-0000000000000000";
/// What replaces credentials in evidence.
const REDACTED: &str = "[REDACTED]";

/// Bounds on every exchange.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deadline for the whole exchange, from send to the last body byte.
    pub timeout: Duration,
    /// Largest body read; reading stops there.
    pub body_limit: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            body_limit: 16 * 1024 * 1024,
        }
    }
}

/// The client could not be built or the evidence not written.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    /// An evidence file could not be written.
    #[error("cannot write evidence {path}: {source}")]
    Evidence {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Sends case requests to one target and records them.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    target: Target,
    limits: Limits,
}

impl Client {
    /// A client for `target`. Redirects are not followed (a redirect is
    /// recorded as the response it is), and no proxy is used.
    pub fn new(target: Target, limits: Limits) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(limits.timeout)
            .user_agent(concat!("tokencert/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(Self {
            http,
            target,
            limits,
        })
    }

    /// The bounds applied to every exchange.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The target this client talks to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Sends `case`'s request and records the exchange to `evidence`
    /// (which must not exist yet). Whatever the target does, this returns
    /// after at most the deadline; only failing to write evidence is an error.
    pub async fn execute(&self, case: &Case, evidence: &Path) -> Result<(), ClientError> {
        let fail = |source| ClientError::Evidence {
            path: evidence.display().to_string(),
            source,
        };
        let mut recorder = Recorder::create(evidence).map_err(fail)?;
        let (method, path) = case.request.endpoint.method_and_path();
        let url = self.target.url(path);
        let body = self.body(case);
        let mut headers: Vec<(String, String)> = Vec::new();
        if !body.is_empty() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let presented = match case.request.auth {
            AuthMode::Key => self.target.api_key.as_ref().map(|k| k.expose().to_string()),
            AuthMode::None => None,
            AuthMode::Wrong => Some(WRONG_KEY.to_string()),
        };
        let mut request = self.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET),
            &url,
        );
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        if let Some(key) = &presented {
            request = request.bearer_auth(key);
            headers.push(("authorization".into(), format!("Bearer {REDACTED}")));
        }
        if !body.is_empty() {
            request = request.body(body.clone());
        }
        recorder
            .write(&Record::Request {
                case: case.id.clone(),
                method: method.into(),
                url,
                headers,
                body: RawBytes::new(&body),
            })
            .map_err(fail)?;
        self.exchange(request, &mut recorder).await.map_err(fail)
    }

    /// The request body with `${model}` substituted.
    fn body(&self, case: &Case) -> Vec<u8> {
        if let Some(raw) = &case.request.raw_body {
            return raw.as_bytes().to_vec();
        }
        match &case.request.body {
            Some(body) => {
                let body = substitute(body.clone(), &self.target.model);
                serde_json::to_vec(&body).unwrap_or_default()
            }
            None => Vec::new(),
        }
    }

    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        recorder: &mut Recorder,
    ) -> std::io::Result<()> {
        let start = Instant::now();
        let deadline = start + self.limits.timeout;
        let since = |start: Instant| u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let deadline_outcome = Outcome::Deadline {
            limit_ms: u64::try_from(self.limits.timeout.as_millis()).unwrap_or(u64::MAX),
        };
        let outcome = match tokio::time::timeout_at(deadline, request.send()).await {
            Err(_) => deadline_outcome,
            Ok(Err(e)) => Outcome::Transport {
                message: self.redact_text(&error_chain(&e)),
            },
            Ok(Ok(response)) => {
                let headers = response
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                recorder.write(&Record::Response {
                    t_ns: since(start),
                    status: response.status().as_u16(),
                    headers,
                })?;
                let mut stream = response.bytes_stream();
                let mut received: u64 = 0;
                loop {
                    match tokio::time::timeout_at(deadline, stream.next()).await {
                        Err(_) => break deadline_outcome,
                        Ok(None) => break Outcome::Complete,
                        Ok(Some(Err(e))) => {
                            break Outcome::Transport {
                                message: self.redact_text(&error_chain(&e)),
                            };
                        }
                        Ok(Some(Ok(bytes))) => {
                            let room = self.limits.body_limit.saturating_sub(received);
                            let take = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
                            received += take as u64;
                            let kept = self.redact_bytes(&bytes[..take]);
                            recorder.write(&Record::Chunk {
                                t_ns: since(start),
                                bytes: RawBytes::new(&kept),
                            })?;
                            if take < bytes.len() {
                                break Outcome::BodyLimit {
                                    limit_bytes: self.limits.body_limit,
                                };
                            }
                        }
                    }
                }
            }
        };
        recorder.write(&Record::End {
            t_ns: since(start),
            outcome,
        })
    }

    /// Removes the target's key from bytes a server sent back.
    fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let Some(key) = self.target.api_key.as_ref().map(|k| k.expose().as_bytes()) else {
            return bytes.to_vec();
        };
        if key.is_empty() || bytes.len() < key.len() {
            return bytes.to_vec();
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i..].starts_with(key) {
                out.extend_from_slice(REDACTED.as_bytes());
                i += key.len();
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }

    fn redact_text(&self, text: &str) -> String {
        match &self.target.api_key {
            Some(key) if !key.expose().is_empty() => text.replace(key.expose(), REDACTED),
            _ => text.to_string(),
        }
    }
}

/// Replaces every string value exactly `${model}` with the model name.
fn substitute(value: serde_json::Value, model: &str) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) if s == "${model}" => Value::String(model.to_string()),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| substitute(v, model)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, substitute(v, model)))
                .collect(),
        ),
        other => other,
    }
}

/// An error and its causes, one sentence: reqwest's own message is terse.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
