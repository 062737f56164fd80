//! Bundles for the ledger's tests: short runs of the embedded reference
//! service (a fast capacity model, so a performance case takes well under a
//! second), signed or not.

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use p256::ecdsa::SigningKey;
use tokencert_core::bundle::{self, Observation, TargetInfo};
use tokencert_core::suite::{self, Accounting, Capability, Limits, PerformanceClaim, Suite};
use tokencert_drive::{ApiKey, Client, RunConfig, Target};
use tokencert_reference::{CAPACITY_MODEL, Capacity, Config, RunningServer};

const KEY: &str = "sk-tokencert-ledger-test";

/// Conformance cases every bundle runs (a handful: tests stay fast).
pub const CASES: [&str; 3] = [
    "api.chat.basic",
    "api.chat.stream.done",
    "acc.recount.completion-chat",
];
/// The performance case some bundles add.
pub const PERF: &str = "perf.interactive";

pub fn suite() -> &'static Suite {
    static SUITE: OnceLock<Suite> = OnceLock::new();
    SUITE.get_or_init(|| {
        suite::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).expect("the suite loads")
    })
}

/// A signing key from one byte (deterministic keys for tests).
pub fn key(byte: u8) -> SigningKey {
    SigningKey::from_slice(&[byte; 32]).expect("a valid scalar")
}

/// A reference service with fast decode steps.
pub async fn server() -> RunningServer {
    let config = Config {
        api_key: Some(KEY.into()),
        capacity: Capacity {
            prefill_per_token: Duration::from_micros(1),
            step_base: Duration::from_micros(500),
            step_per_sequence: Duration::ZERO,
            ..Capacity::default()
        },
        ..Config::default()
    };
    tokencert_reference::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("the reference service starts")
}

/// Runs the conformance cases (and the performance case when `perf`)
/// against `server`, writing the bundle at `dir`.
pub async fn run(
    server: &RunningServer,
    dir: &Path,
    perf: bool,
    observation: Option<Observation>,
) -> PathBuf {
    let suite = suite();
    let model = Config::default().model;
    let target = Target {
        base_url: server.base_url(),
        model: model.clone(),
        api_key: Some(ApiKey::new(KEY)),
        limits: Limits {
            max_context_tokens: 8192,
            max_request_bytes: 1 << 20,
        },
        rate_limit: None,
        dialects: Default::default(),
    };
    let cases = suite
        .cases
        .iter()
        .filter(|c| CASES.contains(&c.id.as_str()) || (perf && c.id == PERF))
        .collect();
    let config = RunConfig {
        suite,
        cases,
        client: Client::new(target, tokencert_drive::Limits::default()).expect("client"),
        claims: Capability::ALL.iter().copied().collect::<BTreeSet<_>>(),
        accounting: Accounting::openai_o200k(),
        target: TargetInfo {
            base_url: server.base_url(),
            model,
            reference: None,
        },
        bundle_dir: dir.to_path_buf(),
        jobs: 4,
        performance: Some(PerformanceClaim {
            model: Some(CAPACITY_MODEL.into()),
            classes: BTreeSet::from(["interactive".to_string()]),
        }),
        load_progress: None,
        observation,
    };
    tokencert_drive::run(config, |_| {})
        .await
        .expect("the run completes");
    dir.to_path_buf()
}

/// The shared bundles, made once per test binary.
pub struct Bundles {
    /// Conformance only, unsigned.
    pub unsigned: PathBuf,
    /// Conformance and performance, signed with key 1, an observatory probe.
    pub signed_a: PathBuf,
    /// The same method, another run, signed with key 2.
    pub signed_b: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn bundles() -> &'static Bundles {
    static BUNDLES: OnceLock<Bundles> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let root = dir.path().to_path_buf();
        let (unsigned, signed_a, signed_b) = runtime.block_on(async {
            let server = server().await;
            let unsigned = run(&server, &root.join("unsigned"), false, None).await;
            let probe = Observation {
                observer: "test observatory".into(),
                location: "loopback".into(),
                probe: "interactive".into(),
            };
            let signed_a = run(&server, &root.join("signed-a"), true, Some(probe)).await;
            let signed_b = run(&server, &root.join("signed-b"), true, None).await;
            (unsigned, signed_a, signed_b)
        });
        bundle::sign_bundle(&signed_a, &key(1)).expect("signs");
        bundle::sign_bundle(&signed_b, &key(2)).expect("signs");
        Bundles {
            unsigned,
            signed_a,
            signed_b,
            _dir: dir,
        }
    })
}

/// Copies a bundle to `to` (to alter it).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// Every path under `dir` with its size, sorted: what a refused add must
/// leave as it was.
pub fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            if meta.is_dir() {
                stack.push(path);
                out.push((rel, 0));
            } else {
                out.push((rel, meta.len()));
            }
        }
    }
    out.sort();
    out
}

/// Writes a trust file listing key 1 as an observer (inline PEM).
pub fn trust_key_1(ledger: &Path) {
    let pem = tokencert_core::sign::public_key_pem(key(1).verifying_key()).unwrap();
    let indented: String = pem.lines().map(|l| format!("    {l}\n")).collect();
    std::fs::write(
        ledger.join("trust.yaml"),
        format!("- name: Test observatory\n  role: observer\n  public_key: |\n{indented}"),
    )
    .unwrap();
}
