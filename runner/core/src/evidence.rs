//! The evidence format: one JSONL file per case, one record per line,
//! written by the driver as the exchange happens and read back by the judge.
//!
//! Times are nanoseconds on a monotonic clock since the request was sent,
//! except a load run's `scheduled_ns` and `sent_ns`, which count from the
//! start of the run (one clock for all of its requests).

use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};

/// Raw bytes in a JSON-friendly form: text when valid UTF-8, else base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawBytes {
    /// Valid UTF-8, kept readable.
    Text {
        /// The bytes as text.
        text: String,
    },
    /// Anything else, base64 (standard alphabet, padded).
    Base64 {
        /// The bytes, base64-encoded.
        b64: String,
    },
    /// A large request body, kept as its length and digest only.
    Elided {
        /// How many bytes were sent.
        elided_bytes: u64,
        /// `sha256:` and the hex digest of those bytes.
        sha256: String,
    },
}

/// Ceiling on one evidence file, which is read whole: room for several
/// exchanges at the largest body limit anyone should set, not for a
/// hostile bundle's gigabytes.
pub const MAX_EVIDENCE_BYTES: u64 = 512 * 1024 * 1024;

/// What replaces the target's API key wherever it would appear in evidence.
pub const REDACTED: &str = "[REDACTED]";

/// Request bodies larger than this are recorded as length and digest
/// ([`RawBytes::Elided`]); no check reads such bodies.
pub const MAX_RECORDED_REQUEST_BYTES: usize = 64 * 1024;

impl RawBytes {
    /// Encodes bytes, preferring the readable form unless escaping it for
    /// JSON would more than double it (control bytes take six characters
    /// each): a chunk's text then stays within twice its bytes (base64 is
    /// 4/3), whatever a server sends, while JSON full of quotes stays
    /// readable.
    pub fn new(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) if escaped_len(bytes) <= 2 * bytes.len() => RawBytes::Text {
                text: text.to_string(),
            },
            _ => RawBytes::Base64 {
                b64: base64::engine::general_purpose::STANDARD.encode(bytes),
            },
        }
    }

    /// Encodes a request body, eliding it when larger than
    /// [`MAX_RECORDED_REQUEST_BYTES`].
    pub fn request_body(bytes: &[u8]) -> Self {
        if bytes.len() <= MAX_RECORDED_REQUEST_BYTES {
            return Self::new(bytes);
        }
        use sha2::Digest;
        let digest = sha2::Sha256::digest(bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        RawBytes::Elided {
            elided_bytes: bytes.len() as u64,
            sha256: format!("sha256:{hex}"),
        }
    }

    /// Decodes back to the original bytes; elided bytes are an error.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EvidenceError> {
        match self {
            RawBytes::Text { text } => Ok(text.as_bytes().to_vec()),
            RawBytes::Base64 { b64 } => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| EvidenceError::Base64(e.to_string())),
            RawBytes::Elided { elided_bytes, .. } => Err(EvidenceError::Elided(*elided_bytes)),
        }
    }
}

/// How an exchange ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The response body ended normally.
    Complete,
    /// The per-request deadline passed first.
    Deadline {
        /// The deadline, in milliseconds.
        limit_ms: u64,
    },
    /// The body grew past the size limit and reading stopped.
    BodyLimit {
        /// The limit, in bytes.
        limit_bytes: u64,
    },
    /// The client closed the connection on purpose after some body bytes.
    Disconnected {
        /// Body bytes received before closing.
        after_bytes: u64,
    },
    /// The connection failed (refused, reset, TLS, not HTTP, ...).
    Transport {
        /// What the client library reported (secrets redacted).
        message: String,
    },
}

impl Outcome {
    /// A phrase for verdict reasons, e.g. "the deadline of 30000 ms passed".
    pub fn describe(&self) -> String {
        match self {
            Outcome::Complete => "the response completed".into(),
            Outcome::Deadline { limit_ms } => format!("the deadline of {limit_ms} ms passed"),
            Outcome::BodyLimit { limit_bytes } => {
                format!("the body exceeded the limit of {limit_bytes} bytes")
            }
            Outcome::Disconnected { after_bytes } => {
                format!("the client disconnected after {after_bytes} body bytes, as the case asks")
            }
            Outcome::Transport { message } => format!("transport error: {message}"),
        }
    }
}

/// One line of an evidence file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// The request as sent (credentials redacted).
    Request {
        /// Case id.
        case: String,
        /// HTTP method.
        method: String,
        /// Full URL.
        url: String,
        /// Headers in order sent, credentials replaced by `[REDACTED]`.
        headers: Vec<(String, String)>,
        /// Body bytes.
        body: RawBytes,
        /// 0 for a request as planned; n for its n-th re-send after a 429
        /// (polite mode).
        #[serde(default, skip_serializing_if = "is_zero")]
        attempt: u32,
        /// Under load: when the request was scheduled to be sent, in
        /// nanoseconds since the start of the run (open loop: its planned
        /// send time; closed loop: when its user became ready). Absent
        /// outside load runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scheduled_ns: Option<u64>,
        /// Under load: when the request was actually sent, in nanoseconds
        /// since the start of the run; the exchange's own times count from
        /// this instant. Absent outside load runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sent_ns: Option<u64>,
        /// Under load: the request's index in its case's whole planned
        /// request list (0-based, plan order), sharded or not, so that the
        /// shards of one plan merge without inferring it. Absent outside
        /// load runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plan_index: Option<u64>,
    },
    /// The response status line and headers arrived.
    Response {
        /// Time since the request was sent.
        t_ns: u64,
        /// HTTP status code.
        status: u16,
        /// Headers in order received.
        headers: Vec<(String, String)>,
    },
    /// A piece of the response body arrived.
    Chunk {
        /// Time since the request was sent.
        t_ns: u64,
        /// The bytes, exactly as received.
        bytes: RawBytes,
    },
    /// The exchange ended.
    End {
        /// Time since the request was sent.
        t_ns: u64,
        /// How it ended.
        outcome: Outcome,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A response head as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Time since the request was sent.
    pub t_ns: u64,
    /// HTTP status code.
    pub status: u16,
    /// Headers in order received.
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The length of `bytes` as the characters of a JSON string (without the
/// quotes), as serde_json escapes them.
fn escaped_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// A body chunk as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Time since the request was sent.
    pub t_ns: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// One recorded exchange, reassembled from its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Case id from the request record.
    pub case: String,
    /// HTTP method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Request body; empty when it was elided.
    pub request_body: Vec<u8>,
    /// Length of the request body when it was too large to record.
    pub request_elided: Option<u64>,
    /// The response head, if one arrived.
    pub response: Option<ResponseHead>,
    /// Body chunks in arrival order.
    pub chunks: Vec<Chunk>,
    /// How it ended; `None` when the recording stops early (a killed run).
    pub outcome: Option<Outcome>,
    /// When it ended (the end record's time since the request was sent);
    /// `None` when the recording stops early.
    pub end_ns: Option<u64>,
    /// 0, or n when this is the n-th re-send of the previous exchange after
    /// a 429 (polite mode).
    pub attempt: u32,
    /// Under load: when the request was scheduled to be sent, in
    /// nanoseconds since the start of the run; `None` outside load runs.
    /// Latency measured from here cannot hide a client that sent late
    /// (coordinated omission).
    pub scheduled_ns: Option<u64>,
    /// Under load: when the request was actually sent, in nanoseconds since
    /// the start of the run (the exchange's own times count from here);
    /// `None` outside load runs.
    pub sent_ns: Option<u64>,
    /// Under load: the request's index in its case's whole planned request
    /// list (plan order, the same in every shard of the plan); `None`
    /// outside load runs.
    pub plan_index: Option<u64>,
}

impl Exchange {
    /// The whole response body.
    pub fn body(&self) -> Vec<u8> {
        self.chunks
            .iter()
            .flat_map(|c| c.bytes.iter().copied())
            .collect()
    }

    /// Why the body is incomplete, or `None` when it completed.
    pub fn incomplete(&self) -> Option<String> {
        match &self.outcome {
            Some(Outcome::Complete) => None,
            Some(other) => Some(other.describe()),
            None => Some("the recording ends before the exchange finished".into()),
        }
    }
}

/// Evidence that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not a record.
    #[error("line {line}: not an evidence record: {message}")]
    Record {
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// The records are not in the order request, response, chunks, end.
    #[error("line {line}: {message}")]
    Order {
        /// 1-based line number.
        line: usize,
        /// What is out of place.
        message: String,
    },
    /// Base64 that does not decode.
    #[error("bad base64 in evidence: {0}")]
    Base64(String),
    /// The file is larger than the driver ever writes for one case.
    #[error("the evidence file is {size} bytes, over the {limit}-byte ceiling; refused unread")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The ceiling.
        limit: u64,
    },
    /// Response bytes recorded as elided, which only request bodies may be.
    #[error("{0} bytes were recorded as elided where the bytes themselves are needed")]
    Elided(u64),
}

/// Reads an evidence file: a case's exchanges in the order they were sent
/// (its `before` requests, then the judged one). A final line without its
/// newline is the mark of a run killed mid-write and is dropped; every
/// other line must parse.
pub fn read_exchanges(path: &Path) -> Result<Vec<Exchange>, EvidenceError> {
    let failed = |source| EvidenceError::Io {
        path: path.display().to_string(),
        source,
    };
    let size = std::fs::metadata(path).map_err(failed)?.len();
    if size > MAX_EVIDENCE_BYTES {
        return Err(EvidenceError::TooLarge {
            size,
            limit: MAX_EVIDENCE_BYTES,
        });
    }
    let text = std::fs::read_to_string(path).map_err(failed)?;
    parse_exchanges(&text)
}

/// Parses the text of an evidence file; see [`read_exchanges`].
pub fn parse_exchanges(text: &str) -> Result<Vec<Exchange>, EvidenceError> {
    let complete_lines = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    let mut done: Vec<Exchange> = Vec::new();
    let mut exchange: Option<Exchange> = None;
    for (i, line) in complete_lines
        .split('\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
    {
        let n = i + 1;
        let record: Record = serde_json::from_str(line).map_err(|e| EvidenceError::Record {
            line: n,
            message: e.to_string(),
        })?;
        let order = |message: &str| EvidenceError::Order {
            line: n,
            message: message.to_string(),
        };
        match (record, exchange.as_mut()) {
            (
                Record::Request {
                    case,
                    method,
                    url,
                    body,
                    attempt,
                    scheduled_ns,
                    sent_ns,
                    plan_index,
                    ..
                },
                previous,
            ) => {
                if previous.is_some_and(|p| p.outcome.is_none()) {
                    return Err(order("a request record before the previous exchange ended"));
                }
                let (request_body, request_elided) = match body {
                    RawBytes::Elided { elided_bytes, .. } => (Vec::new(), Some(elided_bytes)),
                    other => (other.to_bytes()?, None),
                };
                done.extend(exchange.take());
                exchange = Some(Exchange {
                    case,
                    method,
                    url,
                    request_body,
                    request_elided,
                    response: None,
                    chunks: Vec::new(),
                    outcome: None,
                    end_ns: None,
                    attempt,
                    scheduled_ns,
                    sent_ns,
                    plan_index,
                });
            }
            (_, None) => return Err(order("a record before the request record")),
            (_, Some(ex)) if ex.outcome.is_some() => {
                return Err(order("a record after the end record"));
            }
            (
                Record::Response {
                    t_ns,
                    status,
                    headers,
                },
                Some(ex),
            ) => {
                if ex.response.is_some() {
                    return Err(order("a second response record"));
                }
                ex.response = Some(ResponseHead {
                    t_ns,
                    status,
                    headers,
                });
            }
            (Record::Chunk { t_ns, bytes }, Some(ex)) => {
                if ex.response.is_none() {
                    return Err(order("a body chunk before the response record"));
                }
                ex.chunks.push(Chunk {
                    t_ns,
                    bytes: bytes.to_bytes()?,
                });
            }
            (Record::End { t_ns, outcome }, Some(ex)) => {
                ex.outcome = Some(outcome);
                ex.end_ns = Some(t_ns);
            }
        }
    }
    match exchange {
        Some(last) => {
            done.push(last);
            Ok(done)
        }
        None => Err(EvidenceError::Order {
            line: 1,
            message: "no request record".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(r: &Record) -> String {
        format!("{}\n", serde_json::to_string(r).expect("records serialize"))
    }

    fn request() -> Record {
        Record::Request {
            case: "a.b".into(),
            method: "POST".into(),
            url: "http://127.0.0.1:1/v1/chat/completions".into(),
            headers: vec![("authorization".into(), "[REDACTED]".into())],
            body: RawBytes::new(b"{}"),
            attempt: 0,
            scheduled_ns: None,
            sent_ns: None,
            plan_index: None,
        }
    }

    #[test]
    fn load_times_round_trip_and_are_absent_outside_load_runs() {
        let plain = line(&request());
        assert!(!plain.contains("scheduled_ns") && !plain.contains("sent_ns"));
        let Record::Request {
            case,
            method,
            url,
            headers,
            body,
            attempt,
            ..
        } = request()
        else {
            unreachable!("request() builds a request record")
        };
        let mut text = line(&Record::Request {
            case,
            method,
            url,
            headers,
            body,
            attempt,
            scheduled_ns: Some(1_000),
            sent_ns: Some(1_250),
            plan_index: Some(7),
        });
        text.push_str(&line(&Record::End {
            t_ns: 9,
            outcome: Outcome::Transport {
                message: "refused".into(),
            },
        }));
        let ex = parse_exchanges(&text).expect("parses").remove(0);
        assert_eq!((ex.scheduled_ns, ex.sent_ns), (Some(1_000), Some(1_250)));
        assert_eq!(ex.plan_index, Some(7));
        assert!(!plain.contains("plan_index"));
        let ex = parse_exchanges(&plain).expect("parses").remove(0);
        assert_eq!((ex.scheduled_ns, ex.sent_ns), (None, None));
    }

    #[test]
    fn raw_bytes_round_trip_text_and_binary() {
        for bytes in [&b"data: hi\n\n"[..], &[0xff, 0xfe, b'x'][..]] {
            let raw = RawBytes::new(bytes);
            let json = serde_json::to_string(&raw).expect("serializes");
            let back: RawBytes = serde_json::from_str(&json).expect("parses");
            assert_eq!(back.to_bytes().expect("decodes"), bytes);
        }
        assert!(matches!(RawBytes::new(&[0xff]), RawBytes::Base64 { .. }));
    }

    #[test]
    fn text_whose_escapes_outgrow_base64_is_recorded_as_base64() {
        let mostly_text = b"data: {\"a\":\"\\u0000\"}\n\n\x00";
        assert!(matches!(RawBytes::new(mostly_text), RawBytes::Text { .. }));
        let nuls = [0u8; 4096];
        let raw = RawBytes::new(&nuls);
        assert!(matches!(raw, RawBytes::Base64 { .. }));
        let json = serde_json::to_string(&raw).expect("serializes");
        assert!(json.len() < nuls.len() * 4 / 3 + 16, "{} bytes", json.len());
        let quotes = br#"{"a":"","b":"","c":""}"#;
        assert!(matches!(RawBytes::new(quotes), RawBytes::Text { .. }));
        assert_eq!(raw.to_bytes().expect("decodes"), nuls);
        // The estimate is serde_json's own escaping.
        for bytes in [&b"\"\\\n\r\t\x08\x0c\x01\x1f\x7f"[..], b"plain", &nuls[..3]] {
            let quoted = serde_json::to_string(std::str::from_utf8(bytes).expect("utf-8"))
                .expect("serializes");
            assert_eq!(escaped_len(bytes) + 2, quoted.len(), "{bytes:?}");
        }
    }

    #[test]
    fn a_cut_final_line_is_dropped_and_the_exchange_is_incomplete() {
        let mut text = line(&request());
        text.push_str(&line(&Record::Response {
            t_ns: 5,
            status: 200,
            headers: vec![],
        }));
        text.push_str(&line(&Record::Chunk {
            t_ns: 6,
            bytes: RawBytes::new(b"data: 1\n\n"),
        }));
        text.push_str("{\"record\":\"chunk\",\"t_ns\":7,\"by");
        let ex = parse_exchanges(&text).expect("parses").remove(0);
        assert_eq!(ex.body(), b"data: 1\n\n");
        assert!(
            ex.incomplete()
                .expect("incomplete")
                .contains("recording ends")
        );
    }

    #[test]
    fn out_of_order_records_are_refused_with_their_line() {
        let text = line(&Record::Chunk {
            t_ns: 1,
            bytes: RawBytes::new(b"x"),
        });
        let err = parse_exchanges(&text).expect_err("refused");
        assert!(err.to_string().starts_with("line 1:"), "{err}");
        let mut text = line(&request());
        text.push_str(&line(&Record::End {
            t_ns: 2,
            outcome: Outcome::Complete,
        }));
        text.push_str(&line(&Record::Response {
            t_ns: 3,
            status: 200,
            headers: vec![],
        }));
        let err = parse_exchanges(&text).expect_err("refused");
        assert!(
            err.to_string().contains("line 3: a record after the end"),
            "{err}"
        );
    }
}
