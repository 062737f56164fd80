//! `tokencert init`: against the embedded reference service it observes
//! what suites/targets/reference.yaml claims (rate limits aside, a
//! template); against llama.cpp's recorded answers it claims what
//! suites/targets/llama-cpp.yaml claims and nothing more; a mutant that
//! drops a feature loses exactly that claim; a plain http:// URL to
//! another machine is refused before anything is sent. All loopback.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokencert_core::evidence::{Exchange, read_exchanges};
use tokencert_core::suite::{Capability, TargetProfile, load_profile};
use tokencert_drive::ApiKey;
use tokencert_drive::init::{self, InitTarget};
use tokencert_reference::{Config, Mutant, RunningServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::text;

const KEY: &str = "sk-init-test-key-7f3a9c";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn reference(runtime: &tokio::runtime::Runtime, mutant: Option<Mutant>) -> RunningServer {
    let config = Config {
        api_key: Some(KEY.into()),
        mutant,
        ..Config::default()
    };
    runtime
        .block_on(tokencert_reference::start(
            config,
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        ))
        .expect("the reference service starts")
}

/// `tokencert init` with the test key in the environment.
fn init_cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .arg("--suite")
        .arg(root())
        .arg("init")
        .args(args)
        .env_remove("TOKENCERT_BASE_URL")
        .env_remove("TOKENCERT_MODEL")
        .env_remove("TOKENCERT_ALLOW_INSECURE_HTTP")
        .env("OPENAI_API_KEY", KEY)
        .output()
        .expect("tokencert runs")
}

/// Runs `init --out` and loads what it wrote with the profile loader.
fn init_profile(base_url: &str, model: &str) -> (TargetProfile, String, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("target.yaml");
    let path = out.to_str().expect("a UTF-8 path");
    let output = init_cli(&["--target", base_url, "--model", model, "--out", path]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let written = std::fs::read_to_string(&out).expect("the profile is written");
    assert!(!written.contains(KEY) && !stderr.contains(KEY) && !text(&output.stdout).contains(KEY));
    let profile = load_profile(&out).unwrap_or_else(|p| panic!("{p}\n{written}"));
    (profile, written, stderr)
}

fn committed(name: &str) -> TargetProfile {
    load_profile(&root().join("suites/targets").join(name)).expect("the committed profile loads")
}

#[test]
fn against_the_reference_it_observes_what_reference_yaml_claims() {
    let runtime = runtime();
    let server = reference(&runtime, None);
    let started = Instant::now();
    let (profile, written, stderr) = init_profile(&server.base_url(), "tokencert-reference");
    let took = started.elapsed();
    runtime.block_on(server.shutdown());

    let want = committed("reference.yaml");
    let mut claims = want.claims.clone();
    // No harmless probe sees a rate limit: a commented template.
    assert!(claims.remove(&Capability::RateLimits));
    assert_eq!(profile.claims, claims, "{written}\n{stderr}");
    assert_eq!(profile.dialects, want.dialects, "{written}");
    assert!(
        written.contains("POST /messages/count_tokens counted"),
        "{written}"
    );
    assert_eq!(profile.limits, want.limits, "{written}");
    assert_eq!(profile.model, want.model);
    assert_eq!(profile.rate_limit, None);
    assert_eq!(profile.performance, None);
    assert!(written.contains("# rate_limit: {model:"), "{written}");
    assert!(written.contains("# performance: {model:"), "{written}");
    assert!(written.contains("the vendor's statement"), "{written}");
    for claim in &claims {
        let line = written
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("- {} ", claim.name())))
            .unwrap_or_else(|| panic!("no line claims {}: {written}", claim.name()));
        assert!(line.contains("# observed: "), "{line}");
    }
    assert!(written.contains("n: 2 gave 2 choices"), "{written}");
    assert!(
        written.contains("max_context_tokens: 8192   # observed: refused"),
        "{written}"
    );
    assert!(took < Duration::from_secs(20), "init took {took:?}");
}

#[test]
fn a_mutant_that_drops_a_feature_loses_exactly_that_claim() {
    let runtime = runtime();
    let all: BTreeSet<Capability> = Capability::ALL
        .iter()
        .copied()
        .filter(|c| *c != Capability::RateLimits)
        .collect();
    let cases = [
        (Mutant::AuthIgnored, Capability::Auth),
        (Mutant::NIgnored, Capability::N),
        (Mutant::SeedIgnored, Capability::Seed),
        (Mutant::JsonObjectIgnored, Capability::JsonObject),
        (Mutant::JsonSchemaIgnored, Capability::JsonSchema),
        (Mutant::ReasoningHidden, Capability::Reasoning),
        (Mutant::CacheNotReported, Capability::PromptCaching),
    ];
    for (mutant, lost) in cases {
        let server = reference(&runtime, Some(mutant));
        let target = InitTarget {
            base_url: server.base_url(),
            model: "tokencert-reference".into(),
            api_key: Some(ApiKey::new(KEY)),
            allow_insecure_http: false,
            timeout: Duration::from_secs(10),
        };
        let seen = runtime
            .block_on(init::probe(&target, |_| {}))
            .expect("the probes run");
        runtime.block_on(server.shutdown());
        let mut want = all.clone();
        want.remove(&lost);
        let got: BTreeSet<Capability> = seen.observed().collect();
        assert_eq!(got, want, "{}: {:#?}", mutant.name(), seen.capabilities);
    }
    // Limits the service does not name are assumed, not invented.
    for (mutant, context, body) in [
        (Mutant::MaxTokensRangeUnchecked, None, Some(1_048_576)),
        (Mutant::OversizedBody500, Some(8192), None),
    ] {
        let server = reference(&runtime, Some(mutant));
        let target = InitTarget {
            base_url: server.base_url(),
            model: "tokencert-reference".into(),
            api_key: Some(ApiKey::new(KEY)),
            allow_insecure_http: false,
            timeout: Duration::from_secs(10),
        };
        let seen = runtime
            .block_on(init::probe(&target, |_| {}))
            .expect("the probes run");
        runtime.block_on(server.shutdown());
        assert_eq!(seen.max_context_tokens.value, context, "{}", mutant.name());
        assert_eq!(seen.max_request_bytes.value, body, "{}", mutant.name());
    }
}

/// The recorded exchanges of one case of the llama.cpp bundle.
fn recorded(case: &str) -> Vec<Exchange> {
    let path = root()
        .join("fixtures/llama-cpp/bundle/evidence")
        .join(format!("{case}.jsonl"));
    read_exchanges(&path).unwrap_or_else(|e| panic!("{case}: {e}"))
}

/// A loopback server answering each probe with llama.cpp's recorded
/// answer to the case exercising the same feature. Where no case sent the
/// probe's exact request, the nearest recorded behaviour stands in: n is
/// dropped (a plain chat's one choice), reasoning_effort is an unknown
/// field it ignores, an oversized but whitespace-padded body is a plain
/// chat (it enforces no body limit), and json_schema is an unsupported
/// response_format type (500).
struct Replay {
    seeds: AtomicUsize,
}

impl Replay {
    fn answer(&self, method: &str, path: &str, auth: Option<&str>, body: &[u8]) -> Exchange {
        // Its server has no such routes: 404 before any key is looked at.
        if path == "/v1/messages" || path == "/v1/responses" {
            return recorded("api.models.retrieve-unknown").remove(0);
        }
        if auth != Some(&format!("Bearer {KEY}")) {
            return recorded("sec.auth.wrong-key").remove(0);
        }
        if method == "GET" && path == "/v1/models" {
            return recorded("api.models.list").remove(0);
        }
        if path == "/v1/completions" {
            return recorded("api.completions.basic").remove(0);
        }
        assert_eq!(path, "/v1/chat/completions", "{method} {path}");
        if body.len() > 1 << 20 {
            return recorded("api.chat.basic").remove(0);
        }
        let request: serde_json::Value = serde_json::from_slice(body).expect("a JSON body");
        let has = |field: &str| request.get(field).is_some();
        let case = match request["response_format"]["type"].as_str() {
            Some("json_schema") => "api.error.unsupported-value.response-format-xml",
            Some("json_object") => "api.chat.response-format.json-object.system-instruction",
            _ if has("tools") => "api.chat.tools.calls.named",
            _ if has("logprobs") => "api.chat.params.logprobs.top-two",
            _ if has("seed") => {
                let k = self.seeds.fetch_add(1, Ordering::SeqCst);
                return recorded("api.chat.params.seed.three-times").remove(k % 3);
            }
            _ if has("reasoning_effort") => "api.chat.params.unknown-field.newer-api",
            _ if has("n") => "api.chat.choices.index",
            _ if request["max_tokens"].as_u64() > Some(1_000_000) => {
                "api.error.max-tokens-range.beyond-context"
            }
            _ if request["messages"][0]["content"]
                .as_str()
                .map_or(0, str::len)
                > 2000 =>
            {
                "api.error.context-length.chat"
            }
            _ if has("stream") => "api.chat.stream.well-formed",
            _ => "api.chat.basic",
        };
        recorded(case).remove(0)
    }

    async fn serve(self: Arc<Self>, mut stream: TcpStream) {
        let mut buf = Vec::new();
        let head_end = loop {
            let mut piece = [0u8; 8192];
            let n = stream.read(&mut piece).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&piece[..n]);
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.lines();
        let mut request_line = lines.next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default().to_string();
        let path = request_line.next().unwrap_or_default().to_string();
        let mut length = 0;
        let mut auth = None;
        for line in lines {
            if let Some((name, value)) = line.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "authorization" => auth = Some(value.trim().to_string()),
                    _ => {}
                }
            }
        }
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            let mut piece = vec![0u8; 1 << 16];
            let n = stream.read(&mut piece).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            body.extend_from_slice(&piece[..n]);
        }
        let exchange = self.answer(&method, &path, auth.as_deref(), &body);
        let reply = exchange.body();
        let response = exchange.response.expect("a recorded response");
        let content_type = response
            .header("content-type")
            .unwrap_or("application/json");
        let head = format!(
            "HTTP/1.1 {} Recorded\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            response.status,
            reply.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&reply).await;
        let _ = stream.shutdown().await;
    }
}

#[test]
fn against_llama_cpp_recorded_answers_it_claims_what_llama_cpp_yaml_claims() {
    let runtime = runtime();
    let listener = runtime
        .block_on(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .expect("bind");
    let addr = listener.local_addr().expect("an address");
    let replay = Arc::new(Replay {
        seeds: AtomicUsize::new(0),
    });
    let server = runtime.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(Arc::clone(&replay).serve(stream));
        }
    });
    let (profile, written, stderr) = init_profile(&format!("http://{addr}/v1"), "gemma3-270m");
    server.abort();

    let want = committed("llama-cpp.yaml");
    assert_eq!(profile.claims, want.claims, "{written}\n{stderr}");
    assert_eq!(profile.dialects, want.dialects, "{written}");
    assert!(
        written.contains(
            "# - anthropic-messages # not observed: POST /messages: status 404, no message object"
        ),
        "{written}"
    );
    assert!(
        written.contains("# - n             # not observed: n: 2 gave 1 choice"),
        "{written}"
    );
    assert!(
        written
            .contains("# - json_schema   # not observed: response_format json_schema: status 500"),
        "{written}"
    );
    // Its context window shows in its refusal of the 1,200-token prompt.
    assert_eq!(
        profile.limits.max_context_tokens,
        want.limits.max_context_tokens
    );
    assert!(
        written.contains("max_context_tokens: 512   # observed: refused with status 400"),
        "{written}"
    );
    // It enforces no body limit: the default is written, marked assumed.
    assert!(
        written.contains("max_request_bytes: 8388608   # assumed"),
        "{written}"
    );
}

#[test]
fn plain_http_to_another_machine_is_refused_before_anything_is_sent() {
    let started = Instant::now();
    // 192.0.2.1 (TEST-NET-1) answers nothing: a probe would wait for its deadline.
    let output = init_cli(&[
        "--target",
        "http://192.0.2.1/v1",
        "--model",
        "m",
        "--timeout",
        "30",
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--allow-insecure-http"), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn run_without_a_profile_says_what_is_not_claimed_and_how_to_claim_it() {
    let runtime = runtime();
    let server = reference(&runtime, None);
    let out = tempfile::tempdir().expect("a temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .arg("--suite")
        .arg(root())
        .args([
            "run",
            "api.chat.params.n",
            "--model",
            "tokencert-reference",
            "--target",
        ])
        .arg(server.base_url())
        .arg("--out")
        .arg(out.path())
        .env_remove("TOKENCERT_ALLOW_INSECURE_HTTP")
        .env_remove("TOKENCERT_MODEL")
        .env("OPENAI_API_KEY", KEY)
        .output()
        .expect("tokencert runs");
    runtime.block_on(server.shutdown());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("not claimed (no --profile): completions (0 cases), n ("),
        "{stderr}"
    );
    assert!(
        !stderr.contains("auth ("),
        "auth is claimed with a key: {stderr}"
    );
    assert!(stderr.contains("tokencert init --target"), "{stderr}");
}
