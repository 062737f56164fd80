//! Helpers shared by the check tests: recorded exchanges built by hand,
//! typical bodies and streams, and assertions on a check's finding.

#![allow(
    dead_code,
    reason = "each test file is its own crate and uses a different part of this module"
)]

use std::path::Path;
use std::sync::LazyLock;

use serde_json::{Value, json};
use tokencert_core::bundle::{RUN_FORMAT, RunInfo, TargetInfo};
use tokencert_core::check::{self, Finding, Schemas, View};
use tokencert_core::evidence::{self, Chunk, Exchange, Outcome, RawBytes, Record, ResponseHead};
use tokencert_core::judge::{Context, Plan, Verdict};
use tokencert_core::suite::{self, Check, Suite};

/// The project's suite.
pub static SUITE: LazyLock<Suite> =
    LazyLock::new(|| suite::load(&repo_root()).expect("the suite loads"));

/// The standard's schemas, compiled as the suite loader does. Read on their
/// own so that the checks can be tested while the cases are being edited.
pub static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| {
    let dir = repo_root().join("spec/schemas");
    let entries = std::fs::read_dir(&dir).expect("spec/schemas lists");
    entries
        .map(|e| e.expect("spec/schemas lists").path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.strip_suffix(".schema.json")?;
            let text = std::fs::read_to_string(&path).expect("a schema reads");
            let schema = serde_json::from_str(&text).expect("a schema is JSON");
            let validator = jsonschema::draft202012::new(&schema).expect("a schema compiles");
            Some((name.to_string(), validator))
        })
        .collect()
});

/// The directory holding `spec/`, `suites/` and `fixtures/`.
pub fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub const DONE: &str = "[DONE]";
pub const SSE: &str = "text/event-stream; charset=utf-8";
pub const CHAT_URL: &str = "http://127.0.0.1:1/v1/chat/completions";

// ---- building exchanges ----------------------------------------------------

/// A recorded exchange, built by hand.
#[derive(Clone)]
pub struct Ex {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Byte positions at which the body is split into recorded chunks.
    pub cuts: Vec<usize>,
    pub outcome: Option<Outcome>,
    /// The request body as sent.
    pub request: Vec<u8>,
    pub url: String,
}

impl Ex {
    pub fn new(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            cuts: vec![],
            outcome: Some(Outcome::Complete),
            request: b"{}".to_vec(),
            url: CHAT_URL.into(),
        }
    }
    pub fn json(body: &Value) -> Self {
        Self::new("application/json", body.to_string())
    }
    pub fn sse(datas: &[String]) -> Self {
        Self::new(SSE, sse_body(datas))
    }
    pub fn status(self, status: u16) -> Self {
        Self { status, ..self }
    }
    pub fn headers(self, headers: &[(&str, &str)]) -> Self {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self { headers, ..self }
    }
    pub fn cut_at(self, cuts: &[usize]) -> Self {
        Self {
            cuts: cuts.to_vec(),
            ..self
        }
    }
    pub fn outcome(self, outcome: Option<Outcome>) -> Self {
        Self { outcome, ..self }
    }
    /// Pairs the response with this request body.
    pub fn request(self, body: &Value) -> Self {
        Self {
            request: body.to_string().into_bytes(),
            ..self
        }
    }
    pub fn url(self, url: &str) -> Self {
        Self {
            url: url.into(),
            ..self
        }
    }
    pub fn build(&self) -> Exchange {
        let mut bounds = self.cuts.clone();
        bounds.extend([0, self.body.len()]);
        bounds.sort_unstable();
        bounds.dedup();
        let chunks = (1u64..)
            .zip(bounds.windows(2))
            .map(|(t, w)| Chunk {
                t_ns: 1000 + t,
                bytes: self.body[w[0]..w[1]].to_vec(),
            })
            .collect::<Vec<_>>();
        // The end record follows the last chunk by 1 ns.
        let end_ns = self.outcome.as_ref().map(|_| 1001 + chunks.len() as u64);
        Exchange {
            url: self.url.clone(),
            request_body: self.request.clone(),
            response: Some(ResponseHead {
                t_ns: 1000,
                status: self.status,
                headers: self.headers.clone(),
            }),
            chunks,
            outcome: self.outcome.clone(),
            end_ns,
            ..unanswered(None)
        }
    }
}

/// One server-sent event carrying `data` as JSON.
pub fn event(data: &Value) -> String {
    format!("data: {data}\n\n")
}

/// An event whose chunk carries `text` as `delta.content`.
pub fn content(text: &str) -> String {
    event(&chunk(json!({"content": text}), Value::Null))
}

/// The event that ends a stream.
pub fn done() -> String {
    format!("data: {DONE}\n\n")
}

/// A streamed chat exchange: response head at 50 ns, each piece of body a
/// chunk recorded at its time, the end record at `end_ns`.
pub fn streamed(pieces: &[(u64, String)], end_ns: u64) -> Exchange {
    let mut ex = Ex::new(SSE, "")
        .request(&json!({"model": "m", "stream": true, "messages": []}))
        .build();
    if let Some(head) = ex.response.as_mut() {
        head.t_ns = 50;
    }
    ex.chunks = pieces
        .iter()
        .map(|(t_ns, bytes)| Chunk {
            t_ns: *t_ns,
            bytes: bytes.as_bytes().to_vec(),
        })
        .collect();
    ex.end_ns = Some(end_ns);
    ex
}

/// An exchange where no response head arrived.
pub fn unanswered(outcome: Option<Outcome>) -> Exchange {
    Exchange {
        case: "test.case".into(),
        method: "POST".into(),
        url: CHAT_URL.into(),
        request_body: b"{}".to_vec(),
        request_elided: None,
        response: None,
        chunks: vec![],
        end_ns: outcome.as_ref().map(|_| 9999),
        outcome,
        attempt: 0,
        scheduled_ns: None,
        sent_ns: None,
        plan_index: None,
    }
}

pub fn refused() -> Exchange {
    unanswered(Some(Outcome::Transport {
        message: "connection refused".into(),
    }))
}

/// Ways a body can end early, each with the phrase its reason must quote.
pub fn cut_short() -> Vec<(Option<Outcome>, &'static str)> {
    vec![
        (Some(Outcome::Deadline { limit_ms: 30000 }), "30000 ms"),
        (
            Some(Outcome::BodyLimit { limit_bytes: 1024 }),
            "limit of 1024 bytes",
        ),
        (
            Some(Outcome::Transport {
                message: "connection reset".into(),
            }),
            "connection reset",
        ),
        (None, "recording ends"),
    ]
}

/// The exchange written as an evidence file and read back.
pub fn recorded(ex: &Exchange) -> Exchange {
    let head = ex.response.iter().map(|h| Record::Response {
        t_ns: h.t_ns,
        status: h.status,
        headers: h.headers.clone(),
    });
    let chunks = ex.chunks.iter().map(|c| Record::Chunk {
        t_ns: c.t_ns,
        bytes: RawBytes::new(&c.bytes),
    });
    let end = ex.outcome.iter().map(|o| Record::End {
        t_ns: ex.end_ns.unwrap_or(9999),
        outcome: o.clone(),
    });
    let request = Record::Request {
        case: ex.case.clone(),
        method: ex.method.clone(),
        url: ex.url.clone(),
        headers: vec![],
        body: RawBytes::new(&ex.request_body),
        attempt: ex.attempt,
        scheduled_ns: ex.scheduled_ns,
        sent_ns: ex.sent_ns,
        plan_index: ex.plan_index,
    };
    let text: String = std::iter::once(request)
        .chain(head)
        .chain(chunks)
        .chain(end)
        .map(|r| serde_json::to_string(&r).expect("records serialize") + "\n")
        .collect();
    evidence::parse_exchanges(&text)
        .expect("the evidence reads back")
        .pop()
        .expect("one exchange")
}

// ---- bodies ------------------------------------------------------------------

pub fn completion() -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello 😀"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    })
}

pub fn error_body() -> Value {
    json!({"error": {"message": "the server is overloaded", "type": "server_error", "param": null, "code": 503}})
}

pub fn chunk(delta: Value, finish_reason: Value) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    })
}

/// A correct stream with include_usage: role, two deltas (the last one
/// finishing), then the usage chunk.
pub fn chunks() -> Vec<Value> {
    let mut usage = chunk(json!({}), Value::Null);
    usage["choices"] = json!([]);
    usage["usage"] = json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15});
    vec![
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "Hello 😀"}), Value::Null),
        chunk(json!({"content": " world"}), json!("stop")),
        usage,
    ]
}

/// Event data: each chunk as JSON, then `[DONE]`.
pub fn datas(chunks: &[Value]) -> Vec<String> {
    chunks
        .iter()
        .map(Value::to_string)
        .chain([DONE.to_string()])
        .collect()
}

pub fn sse_body(datas: &[String]) -> String {
    datas.iter().map(|d| format!("data: {d}\n\n")).collect()
}

/// How a reason names event `i` of `sse_body(datas)`.
pub fn at(datas: &[String], i: usize) -> String {
    format!("event {i} (byte {})", sse_body(&datas[..i]).len())
}

/// A stream of these chunks, ended by `[DONE]`.
pub fn stream(chunks: &[Value]) -> Ex {
    Ex::sse(&datas(chunks))
}

// ---- running checks ----------------------------------------------------------

pub fn run(check: &Check, exchange: &Exchange) -> Finding {
    run_after(check, exchange, &[])
}

/// Runs `check` on `exchange`, sent after the case's `before` exchanges.
pub fn run_after(check: &Check, exchange: &Exchange, before: &[Exchange]) -> Finding {
    check::run(check, &View::new(exchange, before), &SCHEMAS, &CONTEXT)
}

/// A judging context with these claims and the default accounting
/// (o200k_base, OpenAI's chat overhead, exact counts).
pub fn context(claims: std::collections::BTreeSet<tokencert_core::suite::Capability>) -> Context {
    let plan = tokencert_core::judge::Plan {
        claims,
        accounting: tokencert_core::suite::Accounting::openai_o200k(),
        ..Default::default()
    };
    Context::new(plan, std::path::Path::new(".")).expect("o200k_base loads")
}

/// The context the check helpers use: no claims, default accounting.
pub static CONTEXT: std::sync::LazyLock<Context> =
    std::sync::LazyLock::new(|| context(Default::default()));

/// Asserts the verdict and that the reason quotes each of `quotes`;
/// `label` names what was checked in the assertion message.
#[track_caller]
pub fn expect(label: &str, finding: &Finding, verdict: Verdict, quotes: &[&str]) {
    assert_eq!(finding.verdict, verdict, "{label}: {}", finding.reason);
    for quote in quotes {
        assert!(
            finding.reason.contains(quote),
            "{label}: the reason {:?} does not quote {quote:?}",
            finding.reason
        );
    }
}

/// Runs `check` and asserts the verdict and that the reason quotes each of `quotes`.
#[track_caller]
pub fn expect_on(check: &Check, exchange: &Exchange, verdict: Verdict, quotes: &[&str]) {
    expect(&check.label(), &run(check, exchange), verdict, quotes);
}

#[track_caller]
pub fn passes(check: &Check, ex: &Ex, quotes: &[&str]) {
    expect_on(check, &ex.build(), Verdict::Pass, quotes);
}

#[track_caller]
pub fn fails(check: &Check, ex: &Ex, quotes: &[&str]) {
    expect_on(check, &ex.build(), Verdict::Fail, quotes);
}

#[track_caller]
pub fn errs(check: &Check, ex: &Ex, quotes: &[&str]) {
    expect_on(check, &ex.build(), Verdict::Error, quotes);
}

/// A finished run's record for a bundle of this repository's suite with
/// `plan`, against a loopback target.
pub fn run_info(plan: Plan) -> RunInfo {
    RunInfo {
        format: RUN_FORMAT.into(),
        run_id: "run-1".into(),
        tool: "tokencert test".into(),
        suite_digest: SUITE.digest.clone(),
        plan,
        target: TargetInfo {
            base_url: "http://127.0.0.1:1/v1".into(),
            model: "m".into(),
            reference: None,
        },
        timeout_ms: 30_000,
        body_limit_bytes: 1 << 20,
        started_at: "2026-11-26T00:00:00Z".into(),
        finished_at: Some("2026-11-26T00:00:02Z".into()),
        interrupted: None,
        observation: None,
        shard: None,
        merge: None,
    }
}
