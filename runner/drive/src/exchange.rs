//! Sends one case's request and records the exchange.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tokencert_core::check::{RetryAfter, parse_retry_after};
use tokencert_core::evidence::{Outcome, RawBytes, Record};
use tokencert_core::suite::{
    AuthMode, Capability, Case, Dialect, KeyHeader, Method, Probe, Request, WRONG_KEY,
};
use tokio::time::Instant;

use crate::record::Recorder;
use crate::redact::{REDACTED, Redactor};
use crate::target::{ApiKey, Target};

/// Sent as `User-Agent` on every request.
const USER_AGENT: &str = concat!("tokencert/", env!("CARGO_PKG_VERSION"));
/// Characters escaped in a model id put into a URL path segment.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The longest wait a `Retry-After` can impose (polite mode and
/// rate-limit probes); a longer one is cut to this.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// Bounds on every exchange, and how the client treats a 429.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deadline for the whole exchange, from send to the last body byte.
    pub timeout: Duration,
    /// Largest body read; reading stops there.
    pub body_limit: u64,
    /// Polite mode: re-send a request answered 429 after waiting as its
    /// `Retry-After` says (at most [`MAX_RETRY_WAIT`]), up to this many
    /// times. 0 (the default) sends every request once.
    pub polite_retries: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            body_limit: 16 * 1024 * 1024,
            polite_retries: 0,
        }
    }
}

/// What a sent request came back with, as far as retrying and the load
/// engine care.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sent {
    /// The status, if a response head arrived.
    pub(crate) status: Option<u16>,
    /// The wait a `Retry-After` header asked for.
    pub(crate) retry_after: Option<Duration>,
    /// The end record's time (since the request was sent).
    pub(crate) end_ns: u64,
    /// Whether the body ended normally ([`Outcome::Complete`]).
    pub(crate) complete: bool,
    /// Under load: when the request was sent, in ns since the run start.
    pub(crate) sent_ns: Option<u64>,
}

/// A request built and ready to go, with its request record: what
/// [`Client::dispatch`] sends. Holds the body twice at most (the bytes to
/// send, and the recorded copy, itself at most
/// [`tokencert_core::evidence::MAX_RECORDED_REQUEST_BYTES`] plus escaping).
pub(crate) struct Prepared {
    /// The request record, written when the request is sent.
    record: Record,
    /// The request, or why it could not be built.
    request: Result<reqwest::Request, reqwest::Error>,
    /// Close the connection after this many body bytes.
    cut: Option<u64>,
    /// Keeps the key out of the evidence.
    redactor: Redactor,
}

/// The clock of a load run: the request records carry `scheduled_ns` and
/// `sent_ns` counted from `run_start`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// The start of the run.
    pub(crate) run_start: Instant,
    /// When the request was due, in ns since `run_start`.
    pub(crate) scheduled_ns: u64,
    /// The request's index in its case's whole plan.
    pub(crate) plan_index: u64,
}

impl Sent {
    fn refused(&self) -> bool {
        self.status == Some(429)
    }
}

/// A `Retry-After` value as a wait from now; `None` when it is neither
/// delay-seconds nor an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    Some(match parse_retry_after(value)? {
        RetryAfter::Seconds(seconds) => Duration::from_secs(seconds),
        RetryAfter::Date(at) => at.duration_since(SystemTime::now()).unwrap_or_default(),
    })
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
    /// The case has no request: it is a performance case, run as a load
    /// ([`crate::load::run_case`]).
    #[error("case {0} is a performance case; it is run as a load, not as one request")]
    NoRequest(String),
}

/// Sends case requests to one target and records them.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    target: Target,
    limits: Limits,
    /// Held by every case that uses the rate-limited model, so that no two
    /// of them share its budget.
    rate_limited: Arc<tokio::sync::Mutex<()>>,
}

impl Client {
    /// A client for `target`. Redirects are not followed (a redirect is
    /// recorded as the response it is), no proxy is used, and connections
    /// are not reused between cases.
    pub fn new(target: Target, limits: Limits) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            // A fresh connection per case: a server that drops a keep-alive
            // connection after one response (seen with llama-cpp-python after
            // a 500) must not turn the next case into a transport error.
            // HTTP/1.1 as every target has been measured with: reqwest's http2
            // feature is on in the workspace (object_store asks for it), and a
            // stream over HTTP/2 would time differently.
            .http1_only()
            .pool_max_idle_per_host(0)
            .connect_timeout(limits.timeout)
            .build()
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(Self {
            http,
            target,
            limits,
            rate_limited: Arc::default(),
        })
    }

    /// The same client, putting `model` where a request says `${model}`
    /// (a performance case loads the target's performance model).
    pub fn for_model(&self, model: &str) -> Client {
        let mut client = self.clone();
        client.target.model = model.to_string();
        client
    }

    /// The target requests go to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The bounds applied to every exchange.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Sends `case`'s `before` requests (or its probe) and then its judged
    /// request, each on a fresh connection, recording every exchange to
    /// `evidence` (which must not exist yet). Whatever the target does,
    /// each exchange ends by its deadline; only failing to write evidence
    /// is an error.
    pub async fn execute(&self, case: &Case, evidence: &Path) -> Result<(), ClientError> {
        let Some(judged) = &case.request else {
            return Err(ClientError::NoRequest(case.id.clone()));
        };
        let fail = |source| ClientError::Evidence {
            path: evidence.display().to_string(),
            source,
        };
        let mut recorder = Recorder::create(evidence).await.map_err(fail)?;
        let _budget = if case.requires.contains(&Capability::RateLimits) {
            Some(self.rate_limited.lock().await)
        } else {
            None
        };
        if case.probe == Some(Probe::RateLimit) {
            self.probe_rate_limit(case, judged, &mut recorder)
                .await
                .map_err(fail)?;
        }
        for request in case.before.iter().chain([judged]) {
            self.send_politely(&case.id, request, &mut recorder)
                .await
                .map_err(fail)?;
        }
        // The probe's burst is appended after its last exchange.
        recorder.sync().await.map_err(fail)
    }

    /// Sends a request, and in polite mode re-sends it after each 429 that
    /// says when to retry, up to the configured number of times.
    async fn send_politely(
        &self,
        case: &str,
        spec: &Request,
        recorder: &mut Recorder,
    ) -> std::io::Result<()> {
        let mut attempt = 0;
        loop {
            let sent = self.send(case, spec, attempt, recorder).await?;
            match sent.retry_after {
                Some(wait) if sent.refused() && attempt < self.limits.polite_retries => {
                    tokio::time::sleep(wait.min(MAX_RETRY_WAIT)).await;
                    attempt += 1;
                }
                _ => return Ok(()),
            }
        }
    }

    /// The rate-limit probe: wait one declared window so that the budget is
    /// whole; send `requests − 1` requests one after another (below the
    /// limit), then `requests + 1` at once (above it); then wait as the
    /// longest `Retry-After` says, or one window if none says. Without a
    /// declared limit nothing is sent (the judge then reports the gap).
    async fn probe_rate_limit(
        &self,
        case: &Case,
        request: &Request,
        recorder: &mut Recorder,
    ) -> std::io::Result<()> {
        let Some(limit) = &self.target.rate_limit else {
            return Ok(());
        };
        let window = Duration::from_secs(u64::from(limit.window_seconds)).min(MAX_RETRY_WAIT);
        tokio::time::sleep(window).await;
        for _ in 1..limit.requests {
            self.send(&case.id, request, 0, recorder).await?;
        }
        let burst = (0..=limit.requests).map(|_| async {
            let mut own = Recorder::memory();
            let sent = self.send(&case.id, request, 0, &mut own).await;
            (own, sent)
        });
        let mut wait = None;
        for (own, sent) in futures_util::future::join_all(burst).await {
            let sent = sent?;
            if sent.refused() {
                wait = wait.max(sent.retry_after);
            }
            recorder.append(own)?;
        }
        tokio::time::sleep(wait.unwrap_or(window).min(MAX_RETRY_WAIT)).await;
        Ok(())
    }

    /// Sends one request and records its exchange.
    async fn send(
        &self,
        case: &str,
        spec: &Request,
        attempt: u32,
        recorder: &mut Recorder,
    ) -> std::io::Result<Sent> {
        let prepared = self.prepare(case, spec, attempt);
        self.dispatch(prepared, None, recorder).await
    }

    /// Builds one request and its request record, without sending it.
    pub(crate) fn prepare(&self, case: &str, spec: &Request, attempt: u32) -> Prepared {
        // An over-limit body is megabytes to build and digest.
        self.prepare_with(case, spec, attempt, true)
    }

    /// [`Client::prepare`]; the body is built and digested off the executor
    /// when `offload` is set (worth it for large bodies only: moving off
    /// costs a thread hand-over), in place otherwise.
    pub(crate) fn prepare_with(
        &self,
        case: &str,
        spec: &Request,
        attempt: u32,
        offload: bool,
    ) -> Prepared {
        let redactor = Redactor::new(self.target.api_key.as_ref().map(|k| k.expose()));
        let dialect = spec.endpoint.dialect();
        let url = self.target.dialect_url(dialect, &self.path(spec));
        let build = || {
            let body = self.body(spec);
            let recorded = RawBytes::request_body(&body);
            (body, recorded)
        };
        let (body, recorded_body) = if offload {
            off_the_executor(build)
        } else {
            build()
        };
        let method = spec.method.unwrap_or(spec.endpoint.method());
        let method = match method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut request = self
            .http
            .request(method.clone(), &url)
            .header(reqwest::header::USER_AGENT, USER_AGENT)
            .header(reqwest::header::ACCEPT, "*/*");
        if !body.is_empty() {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        if dialect == Dialect::AnthropicMessages {
            request = request.header("anthropic-version", ANTHROPIC_VERSION);
        }
        let header = self
            .target
            .dialects
            .get(dialect)
            .and_then(|claim| claim.auth)
            .unwrap_or(KeyHeader::of(dialect));
        let key = self.target.api_key.as_ref().map(ApiKey::expose);
        let presented = match (spec.auth, key) {
            (AuthMode::Key, Some(key)) => Some(Presented::Scheme(key)),
            (AuthMode::Malformed, Some(key)) => Some(Presented::Bare(key)),
            (AuthMode::Wrong, _) => Some(Presented::Scheme(WRONG_KEY)),
            (AuthMode::Key | AuthMode::Malformed, None) | (AuthMode::None, _) => None,
        };
        request = match (header, presented) {
            (KeyHeader::Bearer, Some(Presented::Scheme(key))) => request.bearer_auth(key),
            (KeyHeader::Bearer, Some(Presented::Bare(key))) => {
                request.header(reqwest::header::AUTHORIZATION, key)
            }
            (KeyHeader::XApiKey, Some(Presented::Scheme(key))) => request.header(X_API_KEY, key),
            // A bearer credential in the header that wants the bare key.
            (KeyHeader::XApiKey, Some(Presented::Bare(key))) => {
                request.header(X_API_KEY, format!("Bearer {key}"))
            }
            (_, None) => request,
        };
        let request = request.build();
        let headers = match &request {
            Ok(built) => recorded_headers(built.headers(), &redactor),
            Err(_) => Vec::new(),
        };
        Prepared {
            record: Record::Request {
                case: case.to_string(),
                method: method.to_string(),
                url,
                headers,
                body: recorded_body,
                attempt,
                scheduled_ns: None,
                sent_ns: None,
                plan_index: None,
            },
            request,
            cut: spec.disconnect_after_bytes,
            redactor,
        }
    }

    /// Sends a prepared request now, recording its request record and then
    /// the exchange. With a load run's `timing`, the record also carries
    /// `scheduled_ns` and `sent_ns`, and the exchange's times count from the
    /// instant `sent_ns` gives (taken before the record is written).
    pub(crate) async fn dispatch(
        &self,
        prepared: Prepared,
        timing: Option<Timing>,
        recorder: &mut Recorder,
    ) -> std::io::Result<Sent> {
        let Prepared {
            mut record,
            request,
            cut,
            redactor,
        } = prepared;
        let sent_at = timing.map(|timing| {
            let now = Instant::now();
            if let Record::Request {
                scheduled_ns,
                sent_ns,
                plan_index,
                ..
            } = &mut record
            {
                *scheduled_ns = Some(timing.scheduled_ns);
                *plan_index = Some(timing.plan_index);
                *sent_ns = Some(nanos_between(timing.run_start, now));
            }
            now
        });
        recorder.write(&record)?;
        drop(record);
        let mut sent = match request {
            Ok(request) => {
                let start = sent_at.unwrap_or_else(Instant::now);
                self.exchange(request, cut, &redactor, recorder, start)
                    .await?
            }
            Err(e) => {
                recorder.write(&Record::End {
                    t_ns: 0,
                    outcome: Outcome::Transport {
                        message: redactor.text(&describe(&e)),
                    },
                })?;
                recorder.sync().await?;
                Sent::default()
            }
        };
        if let (Some(timing), Some(at)) = (timing, sent_at) {
            sent.sent_ns = Some(nanos_between(timing.run_start, at));
        }
        Ok(sent)
    }

    /// The path below the base URL; a model id is percent-encoded.
    fn path(&self, spec: &Request) -> String {
        let id = spec.model_id.as_deref().unwrap_or(&self.target.model);
        let id = percent_encoding::utf8_percent_encode(id, PATH_SEGMENT).to_string();
        spec.endpoint.path(&id)
    }

    /// The request body with its templates filled in.
    fn body(&self, spec: &Request) -> Vec<u8> {
        if let Some(raw) = &spec.raw_body {
            return raw.as_bytes().to_vec();
        }
        match &spec.body {
            Some(body) => {
                let body = self.target.templates().resolve(body.clone());
                serde_json::to_vec(&body).unwrap_or_default()
            }
            None => Vec::new(),
        }
    }

    /// Runs one exchange to its end, or until `cut` body bytes have
    /// arrived when the case asks to disconnect early. Times count from
    /// `start`, the instant the request is sent.
    async fn exchange(
        &self,
        request: reqwest::Request,
        cut: Option<u64>,
        redactor: &Redactor,
        recorder: &mut Recorder,
        start: Instant,
    ) -> std::io::Result<Sent> {
        let mut sent = Sent::default();
        let deadline = start + self.limits.timeout;
        let since = |start: Instant| u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let deadline_outcome = Outcome::Deadline {
            limit_ms: u64::try_from(self.limits.timeout.as_millis()).unwrap_or(u64::MAX),
        };
        let outcome = match tokio::time::timeout_at(deadline, self.http.execute(request)).await {
            Err(_) => deadline_outcome,
            Ok(Err(e)) => Outcome::Transport {
                message: redactor.text(&describe(&e)),
            },
            Ok(Ok(response)) => {
                let headers = response
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_string(),
                            redactor.text(&String::from_utf8_lossy(v.as_bytes())),
                        )
                    })
                    .collect();
                sent.status = Some(response.status().as_u16());
                sent.retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry_after);
                recorder.write(&Record::Response {
                    t_ns: since(start),
                    status: response.status().as_u16(),
                    headers,
                })?;
                let mut stream = response.bytes_stream();
                let mut received: u64 = 0;
                let mut body = redactor.body();
                // One timer for the whole body, not one per chunk.
                let expiry = tokio::time::sleep_until(deadline);
                tokio::pin!(expiry);
                let outcome = loop {
                    let next = tokio::select! {
                        biased;
                        next = stream.next() => next,
                        () = &mut expiry => break deadline_outcome,
                    };
                    match next {
                        None => break Outcome::Complete,
                        Some(Err(e)) => {
                            break Outcome::Transport {
                                message: redactor.text(&describe(&e)),
                            };
                        }
                        Some(Ok(bytes)) => {
                            // Timed on arrival, before any work on it.
                            let t_ns = since(start);
                            let room = self.limits.body_limit.saturating_sub(received);
                            let take = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
                            received += take as u64;
                            let kept = body.push(&bytes[..take]);
                            if !kept.is_empty() {
                                recorder.write(&Record::Chunk {
                                    t_ns,
                                    bytes: RawBytes::new(&kept),
                                })?;
                            }
                            if take < bytes.len() {
                                break Outcome::BodyLimit {
                                    limit_bytes: self.limits.body_limit,
                                };
                            }
                            if cut.is_some_and(|cut| received >= cut) {
                                // Dropping the stream closes the connection,
                                // which is never reused (no idle pool).
                                break Outcome::Disconnected {
                                    after_bytes: received,
                                };
                            }
                        }
                    }
                };
                let rest = body.finish();
                if !rest.is_empty() {
                    recorder.write(&Record::Chunk {
                        t_ns: since(start),
                        bytes: RawBytes::new(&rest),
                    })?;
                }
                outcome
            }
        };
        sent.end_ns = since(start);
        sent.complete = outcome == Outcome::Complete;
        recorder.write(&Record::End {
            t_ns: sent.end_ns,
            outcome,
        })?;
        recorder.sync().await?;
        Ok(sent)
    }
}

/// Nanoseconds from `from` to `to` (0 if `to` is earlier), saturating.
pub(crate) fn nanos_between(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_nanos()).unwrap_or(u64::MAX)
}

/// Runs CPU-bound work (building a large body, judging) without stalling
/// the exchanges in flight on this worker thread, which would skew their
/// timings and starve local servers; on a single-threaded runtime there is
/// nowhere to move it.
pub(crate) fn off_the_executor<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// The header Anthropic's API takes the key in.
pub(crate) const X_API_KEY: &str = "x-api-key";

/// The `anthropic-version` sent with every Anthropic Messages request: the
/// version the Messages API reference documents (read 2026-12-07).
pub(crate) const ANTHROPIC_VERSION: &str = "2023-06-01";

/// A key as a request presents it: in the header's own way, or
/// malformed (without the `Bearer` scheme, or with it where none belongs).
enum Presented<'a> {
    Scheme(&'a str),
    Bare(&'a str),
}

/// Request headers as evidence: credentials replaced, the key removed from
/// any other value. (The HTTP layer adds `host` and `content-length` after.)
fn recorded_headers(
    headers: &reqwest::header::HeaderMap,
    redactor: &Redactor,
) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes());
            let value = if name == reqwest::header::AUTHORIZATION || name == X_API_KEY {
                match value.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} {REDACTED}"),
                    None => REDACTED.to_string(),
                }
            } else {
                redactor.text(&value)
            };
            (name.as_str().to_string(), value)
        })
        .collect()
}

/// A transport error and its causes in one sentence (reqwest's own message
/// is terse), saying which stage failed.
fn describe(error: &reqwest::Error) -> String {
    let stage = if error.is_connect() {
        if error.url().is_some_and(|u| u.scheme() == "https") {
            "connecting (TCP or TLS handshake) failed"
        } else {
            "connecting failed"
        }
    } else if error.is_body() || error.is_decode() {
        "reading the body failed"
    } else {
        "the request failed"
    };
    format!("{stage}: {}", error_chain(error))
}

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
