//! Bad targets: a refused connection, a TLS failure, and every fault of the
//! hostile servers (hangs, garbage, slowloris, resets, invalid UTF-8,
//! endless or huge bodies and lines, a gzip bomb, thousands of headers,
//! redirects, HTTP/1.0 and chunked framing, wrong lengths). Against each the
//! cases run to the end, every case gets an error or fail verdict whose
//! reason names the cause (or passes, where the framing is odd but valid),
//! every exchange ends within its deadline, and the bundle is written and
//! verifies. Secrets never reach the bundle.
//!
//! Faults that hit every request alike run a few cases (one JSON, one
//! stream, one GET) rather than one per clause, to keep the time small.
//!
//! Every target is on the loopback interface.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokencert_core::bundle::{self, TargetInfo};
use tokencert_core::evidence::{Outcome, read_exchanges};
use tokencert_core::judge::{CaseResult, Results, Verdict};
use tokencert_core::suite::{
    self, Accounting, Capability, Case, Dialect, DialectClaim, Dialects, Suite,
};
use tokencert_drive::{ApiKey, Client, Limits, RunConfig, Target};
use tokencert_reference::hostile::{self, Fault};
use tokencert_reference::{Config, DEFAULT_MODEL};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The key every target is given; it must never appear in a bundle.
const KEY: &str = "sk-tokencert-test-secret-5f0c2a9e71d84b36";
/// What replaces credentials in evidence.
const REDACTED: &str = "[REDACTED]";
/// A whole run against any target ends within this.
const RUN_BOUND: Duration = Duration::from_secs(30);
/// How late after its deadline an exchange may record its end.
const DEADLINE_SLACK: Duration = Duration::from_secs(1);
/// Cases in flight at once.
const JOBS: usize = 4;
/// Short limits for bad targets.
const SHORT: Limits = Limits {
    timeout: Duration::from_millis(800),
    body_limit: 64 * 1024,
    polite_retries: 0,
};

/// The suite of this repository, loaded once.
fn the_suite() -> &'static Suite {
    static SUITE: OnceLock<Suite> = OnceLock::new();
    SUITE.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        suite::load(&root).expect("the repository's suite loads")
    })
}

/// A finished run whose bundle verified.
struct Run {
    /// Holds the bundle until the test ends.
    _dir: TempDir,
    bundle: PathBuf,
    results: Results,
    elapsed: Duration,
    limits: Limits,
}

/// Which cases a run sends.
#[derive(Clone, Copy)]
enum Cases {
    /// The whole suite.
    All,
    /// The first case of each clause: every endpoint and response shape,
    /// at a cost that does not grow with the suite.
    OnePerClause,
    /// These cases only.
    Only(&'static [&'static str]),
}

/// A JSON chat completion.
const JSON: &[&str] = &["api.chat.basic"];
/// Streamed chat completions.
const STREAM: &[&str] = &["api.chat.stream.well-formed", "api.chat.stream.done"];
/// The stream's SSE framing (which covers UTF-8).
const SSE: &[&str] = &["api.chat.stream.well-formed"];
/// One of each: a JSON chat completion, a stream, a GET.
const SAMPLE: &[&str] = &[
    "api.chat.basic",
    "api.chat.stream.well-formed",
    "api.models.list",
];

impl Cases {
    fn of(self, suite: &Suite) -> Vec<&Case> {
        let mut seen = BTreeSet::new();
        suite
            .cases
            .iter()
            // Rate-limit probes pace themselves by the declared window; these
            // targets declare none, so the probes are left out.
            .filter(|c| !c.requires.contains(&Capability::RateLimits))
            // These targets claim no service class: performance cases would
            // only be reported as not claimed, with no evidence to inspect.
            .filter(|c| c.performance.is_none())
            // Nor an identity to compare a fingerprint with: the identity
            // case would be not claimed and send nothing.
            .filter(|c| !c.fingerprint_probes)
            .filter(|c| match self {
                Cases::All => true,
                Cases::OnePerClause => seen.insert(c.clause.as_str()),
                Cases::Only(ids) => ids.contains(&c.id.as_str()),
            })
            .collect()
    }
}

/// Runs cases of the suite against `base_url` (with [`KEY`], claiming every
/// capability and o200k_base accounting), checks the run finishes within [`RUN_BOUND`], reports
/// progress for every case, and that its bundle verifies.
async fn run_suite(base_url: String, limits: Limits, cases: Cases) -> Run {
    let suite = the_suite();
    let cases = cases.of(suite);
    let count = cases.len();
    assert!(count > 0, "the suite has the cases asked for");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let target = Target {
        base_url: base_url.clone(),
        model: DEFAULT_MODEL.into(),
        api_key: Some(ApiKey::new(KEY)),
        limits: Default::default(),
        rate_limit: None,
        // Every dialect, so that each is shown to end in a verdict.
        dialects: Dialects(
            Dialect::ALL
                .into_iter()
                .map(|d| (d, DialectClaim::default()))
                .collect(),
        ),
    };
    let config = RunConfig {
        suite,
        cases,
        client: Client::new(target, limits).expect("the HTTP client is set up"),
        claims: Capability::ALL.iter().copied().collect(),
        accounting: Accounting::openai_o200k(),
        target: TargetInfo {
            base_url,
            model: DEFAULT_MODEL.into(),
            reference: None,
        },
        bundle_dir: dir.path().join("bundle"),
        jobs: JOBS,
        performance: None,
        load_progress: None,
        observation: None,
    };
    let progressed = Cell::new(0usize);
    let start = Instant::now();
    let report = tokio::time::timeout(
        RUN_BOUND,
        tokencert_drive::run(config, |_| progressed.set(progressed.get() + 1)),
    )
    .await
    .expect("the run finishes within its bound")
    .expect("the run writes its bundle");
    let elapsed = start.elapsed();
    assert_eq!(progressed.get(), count, "progress for every case");
    assert_eq!(report.results.cases.len(), count);
    let verified = bundle::verify(&report.bundle_dir, suite, None).expect("the bundle verifies");
    assert_eq!(verified.results, report.results);
    assert!(
        verified.run.finished_at.is_some(),
        "run.json records the end"
    );
    Run {
        _dir: dir,
        bundle: report.bundle_dir,
        results: report.results,
        elapsed,
        limits,
    }
}

/// How every exchange against a bad target must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The connection failed: no response head.
    Transport,
    /// The deadline passed.
    Deadline,
    /// The body limit was reached.
    BodyLimit,
    /// The body ended as framed (what it holds is wrong).
    Complete,
}

fn ended(outcome: &Outcome) -> Option<Ended> {
    match outcome {
        // Only `before` requests disconnect, and the judged exchange is last.
        Outcome::Complete => Some(Ended::Complete),
        Outcome::Disconnected { .. } => None,
        Outcome::Transport { .. } => Some(Ended::Transport),
        Outcome::Deadline { .. } => Some(Ended::Deadline),
        Outcome::BodyLimit { .. } => Some(Ended::BodyLimit),
    }
}

/// Runs the suite against a bad target and checks every case: evidence that
/// ended as `how` within the deadline, a fail or error verdict, and a reason
/// containing `phrase` (ignoring case). When no response head arrived the
/// case's own reason must say it; when one did, a check on the head may
/// decide first (e.g. "expected status 404, got 200"), so then some check's
/// reason must say it.
async fn expect_bad(base_url: String, limits: Limits, how: Ended, phrase: &str) -> Run {
    expect_bad_in(base_url, limits, Cases::OnePerClause, how, phrase).await
}

/// [`expect_bad`] with these `cases`.
async fn expect_bad_in(
    base_url: String,
    limits: Limits,
    cases: Cases,
    how: Ended,
    phrase: &str,
) -> Run {
    let run = run_suite(base_url, limits, cases).await;
    let phrase = phrase.to_lowercase();
    let says = |text: &str| text.to_lowercase().contains(&phrase);
    let mut wrong = Vec::new();
    for case in &run.results.cases {
        let exchange = read_exchanges(&bundle::evidence_path(&run.bundle, &case.id))
            .expect("every case has readable evidence")
            .pop()
            .expect("one exchange");
        let outcome = exchange.outcome.as_ref().expect("every exchange has ended");
        let t_ns = run_end_ns(&run.bundle, &case.id);
        let late = Duration::from_nanos(t_ns) > run.limits.timeout + DEADLINE_SLACK;
        let explained = if exchange.response.is_none() {
            says(&case.reason)
        } else {
            says(&case.reason) || case.checks.iter().any(|c| says(&c.reason))
        };
        let bad_verdict = matches!(case.verdict, Verdict::Fail | Verdict::Error);
        if ended(outcome) != Some(how) || late || !explained || !bad_verdict {
            wrong.push(describe(case, outcome, t_ns));
        }
    }
    assert!(
        wrong.is_empty(),
        "against {how:?}, expecting {phrase:?}:\n{}",
        wrong.join("\n")
    );
    run
}

/// When the exchange of `case` recorded its end, in ns since the request.
fn run_end_ns(bundle: &Path, case: &str) -> u64 {
    let text =
        std::fs::read_to_string(bundle::evidence_path(bundle, case)).expect("evidence is readable");
    let last = text.lines().last().expect("evidence has records");
    let record: serde_json::Value = serde_json::from_str(last).expect("the last line is JSON");
    assert_eq!(
        record["record"], "end",
        "{case}: the last record is the end"
    );
    record["t_ns"].as_u64().expect("the end record has t_ns")
}

fn describe(case: &CaseResult, outcome: &Outcome, t_ns: u64) -> String {
    let checks: Vec<String> = case
        .checks
        .iter()
        .map(|c| format!("\n      {}: {}", c.check, c.reason))
        .collect();
    format!(
        "  {} -> {} after {} ms, ended {:?}: {}{}",
        case.id,
        case.verdict.name(),
        t_ns / 1_000_000,
        outcome,
        case.reason,
        checks.concat()
    )
}

/// A loopback port nothing listens on (it was bound, then released).
fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("a local address").port()
}

/// A hostile fault server on an ephemeral loopback port.
async fn hostile(fault: Fault) -> hostile::HostileServer {
    hostile::start(fault, loopback())
        .await
        .expect("the hostile server starts")
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// No file of the bundle holds the key: not its bytes, and not a decoded
/// response body (bodies that are not UTF-8 are stored as base64).
fn assert_no_secret(bundle: &Path) {
    let mut dirs = vec![bundle.to_path_buf()];
    let mut files = 0;
    let mut leaks = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("the bundle is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).expect("a bundle file is readable");
            let text = String::from_utf8_lossy(&bytes);
            for (n, line) in text.lines().enumerate() {
                if let Some(at) = line.find(KEY) {
                    let from = line.floor_char_boundary(at.saturating_sub(60));
                    let shown = &line[from..at + KEY.len()];
                    leaks.push(format!("{}:{}: …{shown}", path.display(), n + 1));
                }
            }
            let is_evidence = path.extension().is_some_and(|e| e == "jsonl");
            if is_evidence {
                let exchange = read_exchanges(&path)
                    .expect("evidence is readable")
                    .pop()
                    .expect("one exchange");
                if contains(&exchange.body(), KEY.as_bytes()) {
                    leaks.push(format!("{}: in the response body", path.display()));
                }
            }
        }
    }
    assert!(
        files > 3,
        "the bundle has run, results, manifest and evidence"
    );
    assert!(
        leaks.is_empty(),
        "the key is in the bundle {} times, e.g.:\n{}",
        leaks.len(),
        leaks[..leaks.len().min(6)].join("\n")
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether any evidence file of the bundle contains `text`.
fn evidence_contains(bundle: &Path, text: &str) -> bool {
    let dir = bundle.join(bundle::EVIDENCE_DIR);
    std::fs::read_dir(&dir)
        .expect("the evidence directory is readable")
        .map(|e| std::fs::read(e.expect("a directory entry").path()).expect("evidence file"))
        .any(|bytes| contains(&bytes, text.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection() {
    let url = format!("http://127.0.0.1:{}/v1", refused_port());
    expect_bad(url, SHORT, Ended::Transport, "connection refused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_by_name() {
    // Name resolution, then a refused connection; localhost is loopback.
    let url = format!("http://localhost:{}/v1", refused_port());
    expect_bad(url, SHORT, Ended::Transport, "connection refused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_failure() {
    // TLS spoken to a plain-HTTP server.
    let server = tokencert_reference::start(Config::default(), loopback())
        .await
        .expect("the reference service starts");
    let url = format!("https://{}/v1", server.addr());
    expect_bad(url, SHORT, Ended::Transport, "corrupt message").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang() {
    let server = hostile(Fault::Hang).await;
    let run = expect_bad(server.base_url(), SHORT, Ended::Deadline, "deadline").await;
    // Each round of JOBS cases waits for its deadline; nothing waits longer.
    assert!(run.elapsed >= SHORT.timeout, "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage() {
    let server = hostile(Fault::Garbage).await;
    expect_bad(
        server.base_url(),
        SHORT,
        Ended::Transport,
        "invalid HTTP version",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_mid_headers() {
    let server = hostile(Fault::CloseMidHeaders).await;
    expect_bad(
        server.base_url(),
        SHORT,
        Ended::Transport,
        "connection closed before message completed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_stream_reaches_the_deadline() {
    // ~300 bytes a millisecond: 800 ms is far below the 64 MiB limit.
    let limits = Limits {
        timeout: SHORT.timeout,
        body_limit: 64 * 1024 * 1024,
        polite_retries: 0,
    };
    let server = hostile(Fault::Endless).await;
    expect_bad(server.base_url(), limits, Ended::Deadline, "deadline").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_stream_reaches_the_body_limit() {
    // 4 KiB arrive in ~15 ms: far below the 10 s deadline.
    let limits = Limits {
        timeout: Duration::from_secs(10),
        body_limit: 4 * 1024,
        polite_retries: 0,
    };
    let server = hostile(Fault::Endless).await;
    expect_bad(
        server.base_url(),
        limits,
        Ended::BodyLimit,
        "body exceeded the limit",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_never_reaches_the_bundle() {
    let server = tokencert_reference::start(
        Config {
            api_key: Some(KEY.into()),
            ..Config::default()
        },
        loopback(),
    )
    .await
    .expect("the reference service starts");
    let limits = Limits {
        timeout: Duration::from_secs(10),
        body_limit: 1024 * 1024,
        polite_retries: 0,
    };
    let run = run_suite(server.base_url(), limits, Cases::All).await;
    server.shutdown().await;
    // The key was presented and accepted: the correct service passes.
    assert!(
        run.results.cases.iter().all(|c| c.verdict == Verdict::Pass),
        "{:#?}",
        run.results.cases
    );
    assert!(evidence_contains(&run.bundle, REDACTED));
    assert_no_secret(&run.bundle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_key_never_reaches_the_bundle() {
    let (addr, server) = start_echo().await;
    let limits = Limits {
        timeout: Duration::from_secs(5),
        body_limit: 1024 * 1024,
        polite_retries: 0,
    };
    let run = run_suite(format!("http://{addr}/v1"), limits, Cases::All).await;
    server.abort();
    assert!(evidence_contains(&run.bundle, REDACTED));
    assert_no_secret(&run.bundle);
}

/// A server that answers every request `200` with the request's
/// `Authorization` value echoed in an `X-Echo` header and in a JSON body,
/// the body sent in two chunks that split the value in the middle.
async fn start_echo() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind(loopback())
        .await
        .expect("the echo server binds");
    let addr = listener.local_addr().expect("a local address");
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(echo(stream));
        }
    });
    (addr, task)
}

async fn echo(mut stream: TcpStream) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let header = |name: &str| {
        head.split("\r\n").find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let auth = header("authorization").unwrap_or_default();
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut have = data.len() - head_end;
    while have < length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
    }
    let body = format!("{{\"echo\":\"{auth}\"}}");
    let (first, second) = body.split_at(body.len() / 2);
    let chunk = |part: &str| format!("{:X}\r\n{part}\r\n", part.len());
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Echo: {auth}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{}",
        chunk(first)
    );
    if stream.write_all(answer.as_bytes()).await.is_err() || stream.flush().await.is_err() {
        return;
    }
    // Let the first half arrive as a chunk of its own.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rest = format!("{}0\r\n\r\n", chunk(second));
    if stream.write_all(rest.as_bytes()).await.is_ok() {
        let _ = stream.shutdown().await;
    }
}

/// Limits for faults that send little: a short deadline, a small body.
const FEW: Limits = Limits {
    timeout: Duration::from_millis(800),
    body_limit: 64 * 1024,
    polite_retries: 0,
};

/// Runs `cases` against a target whose framing is unusual but valid:
/// every case passes.
async fn expect_pass(base_url: String, cases: &'static [&'static str]) {
    let run = run_suite(base_url, SHORT, Cases::Only(cases)).await;
    for case in &run.results.cases {
        assert_eq!(case.verdict, Verdict::Pass, "{}: {}", case.id, case.reason);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_head_reaches_the_deadline() {
    let server = hostile(Fault::SlowHead).await;
    let url = server.base_url();
    expect_bad_in(url, FEW, Cases::Only(SAMPLE), Ended::Deadline, "deadline").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_body_reaches_the_deadline() {
    let server = hostile(Fault::SlowBody).await;
    let url = server.base_url();
    expect_bad_in(url, FEW, Cases::Only(SAMPLE), Ended::Deadline, "deadline").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_stream() {
    let server = hostile(Fault::ResetMidStream).await;
    let url = server.base_url();
    expect_bad_in(url, FEW, Cases::Only(STREAM), Ended::Transport, "reset").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_json() {
    let server = hostile(Fault::InvalidUtf8Json).await;
    let url = server.base_url();
    expect_bad_in(
        url,
        FEW,
        Cases::Only(JSON),
        Ended::Complete,
        "invalid UTF-8",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_sse() {
    let server = hostile(Fault::InvalidUtf8Sse).await;
    let url = server.base_url();
    expect_bad_in(url, FEW, Cases::Only(SSE), Ended::Complete, "invalid UTF-8").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_line_reaches_the_body_limit() {
    let server = hostile(Fault::LongLine).await;
    let url = server.base_url();
    let limit = "body exceeded the limit";
    expect_bad_in(url, FEW, Cases::Only(STREAM), Ended::BodyLimit, limit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_gib_body_reaches_the_body_limit_quickly() {
    let server = hostile(Fault::HugeBody).await;
    let url = server.base_url();
    let limit = "body exceeded the limit";
    let run = expect_bad_in(url, FEW, Cases::Only(SAMPLE), Ended::BodyLimit, limit).await;
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_is_kept_encoded() {
    // The whole bomb (about 1 MiB) fits: the body is read to its end,
    // as sent, and never inflated.
    let limits = Limits {
        body_limit: 4 * 1024 * 1024,
        ..FEW
    };
    let server = hostile(Fault::GzipBomb).await;
    let url = server.base_url();
    let phrase = "Content-Encoding \"gzip\", which the request did not accept";
    let run = expect_bad_in(url, limits, Cases::Only(JSON), Ended::Complete, phrase).await;
    let case = &run.results.cases[0];
    let exchange = read_exchanges(&bundle::evidence_path(&run.bundle, &case.id))
        .expect("readable evidence")
        .pop()
        .expect("one exchange");
    let body = exchange.body();
    assert!(body.starts_with(&[0x1f, 0x8b]), "the gzip member as sent");
    assert!((body.len() as u64) < hostile::GZIP_BOMB_BYTES / 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_headers() {
    let server = hostile(Fault::ManyHeaders).await;
    let url = server.base_url();
    let phrase = "message head is too large";
    expect_bad_in(url, FEW, Cases::Only(SAMPLE), Ended::Transport, phrase).await;
}

/// A loopback listener that counts the connections it accepts (and
/// closes them).
async fn counting_listener() -> (SocketAddr, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind(loopback()).await.expect("binds");
    let addr = listener.local_addr().expect("a local address");
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    let task = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr, count, task)
}

async fn redirect_elsewhere(status: u16) {
    let (elsewhere, connections, task) = counting_listener().await;
    let server = hostile(Fault::Redirect {
        status,
        to: Some(elsewhere),
    })
    .await;
    let url = server.base_url();
    let location = format!("http://{elsewhere}/v1/");
    let run = expect_bad_in(url, FEW, Cases::Only(SAMPLE), Ended::Complete, &location).await;
    for case in &run.results.cases {
        assert!(
            case.reason.contains(&format!("got {status}")),
            "{}",
            case.reason
        );
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "a redirect was followed"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_302_to_another_port_is_not_followed() {
    redirect_elsewhere(302).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_307_to_another_port_is_not_followed() {
    redirect_elsewhere(307).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_is_not_followed() {
    let server = hostile(Fault::Redirect {
        status: 302,
        to: None,
    })
    .await;
    let location = format!("http://{}/v1/", server.addr());
    let url = server.base_url();
    expect_bad_in(url, FEW, Cases::Only(SAMPLE), Ended::Complete, &location).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_1_0_body_ends_at_close() {
    let server = hostile(Fault::Http10).await;
    expect_pass(server.base_url(), JSON).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_extensions_and_trailers_are_read() {
    let server = hostile(Fault::ChunkedExtras).await;
    expect_pass(server.base_url(), JSON).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_chunk_size_line() {
    let server = hostile(Fault::BadChunkSize).await;
    let url = server.base_url();
    expect_bad_in(
        url,
        FEW,
        Cases::Only(JSON),
        Ended::Transport,
        "Invalid chunk size line",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_last_chunk() {
    let server = hostile(Fault::MissingLastChunk).await;
    let url = server.base_url();
    expect_bad_in(
        url,
        FEW,
        Cases::Only(JSON),
        Ended::Transport,
        "unexpected EOF during chunk size line",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_length_longer_than_the_body() {
    let server = hostile(Fault::LongContentLength).await;
    let url = server.base_url();
    expect_bad_in(
        url,
        FEW,
        Cases::Only(JSON),
        Ended::Transport,
        "end of file before message length reached",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_length_shorter_than_the_body() {
    let server = hostile(Fault::ShortContentLength).await;
    let url = server.base_url();
    expect_bad_in(url, FEW, Cases::Only(JSON), Ended::Complete, "not JSON").await;
}
