//! Memory bound of `tokencert run` against the worst hostile targets.
//!
//! The stated bound: the peak resident set of a run is at most its
//! baseline (the same cases against the correct reference service) plus
//! [`FACTOR`] × `--jobs` × `--body-limit`. Per exchange in flight the
//! client holds at most `--body-limit` body bytes: reading stops at the
//! limit (drive's `exchange.rs`), and each chunk is held only while it is
//! turned into its evidence line (JSON-escaped text, or base64 where
//! escapes would more than double it: at most twice its size) and handed
//! to the evidence writer, whose queue (`record.rs`) holds lines only while
//! the disk lags. Judging a case then reads its evidence file back (the
//! file's text, the decoded chunks and the joined body: at most about
//! 4 × the body), one case at a time; measured here, that is the peak. Nothing inflates a compressed body
//! (the client asks for no encoding and decodes none), so a gzip bomb
//! costs its compressed size.
//!
//! The test runs the built binary as a child process against each fault
//! (a 100 MiB SSE line, a 1 GiB body of NUL bytes, a gzip bomb, an endless
//! stream), polls its `VmHWM` in `/proc/<pid>/status` every 20 ms until it
//! exits, prints the figures and checks the bound. Linux only.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{KillOnDrop, text};
use tokencert_reference::hostile::{self, Fault};

/// Requests in flight at once.
const JOBS: u64 = 4;
/// The body limit: the CLI's default (16 MiB).
const BODY_LIMIT: u64 = 16 * 1024 * 1024;
/// The bound's multiple of `JOBS × BODY_LIMIT` above the baseline.
const FACTOR: u64 = 2;
/// Deadline per request, in seconds (the endless stream ends there).
const TIMEOUT_S: u64 = 3;
/// Case filters: six chat cases, JSON and streamed, so that `JOBS`
/// exchanges are in flight together.
const CASES: &[&str] = &[
    "api.chat.basic",
    "api.chat.stream.well-formed",
    "api.chat.multi-turn",
    "api.chat.model-echo",
];
/// How often the child's high-water mark is read.
const POLL: Duration = Duration::from_millis(20);

/// A finished child run: its peak resident set and wall time.
struct Measured {
    peak_kib: u64,
    wall: Duration,
}

/// The `VmHWM` (peak resident set) of `pid`, in KiB; `None` once the
/// process has exited.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Runs `tokencert run` on [`CASES`] against `base_url`, polling its peak
/// resident set until it exits.
fn measure(base_url: &str, out: &Path) -> Measured {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(["run", "--target", base_url, "--model"])
        .arg(tokencert_reference::DEFAULT_MODEL)
        .args(["--timeout", &TIMEOUT_S.to_string()])
        .args(["--body-limit", &BODY_LIMIT.to_string()])
        .args(["--jobs", &JOBS.to_string()])
        .arg("--out")
        .arg(out)
        .args(CASES)
        .current_dir(&root)
        .env_remove("OPENAI_API_KEY")
        .env_remove("TOKENCERT_BASE_URL")
        .env_remove("TOKENCERT_MODEL")
        .env_remove("TOKENCERT_SUITE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tokencert run starts");
    let mut child = KillOnDrop(child);
    let pid = child.0.id();
    let mut peak = 0;
    loop {
        if let Some(kib) = peak_kib(pid) {
            peak = peak.max(kib);
        }
        if child.0.try_wait().expect("the child's state").is_some() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the run ends in time"
        );
        std::thread::sleep(POLL);
    }
    let wall = start.elapsed();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.0.stderr.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut stderr);
    }
    let status = child.0.wait().expect("the child's exit status");
    // 0: every case passed; 1: some failed. Anything else is a crash or a
    // refusal to run.
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "{status}: {}",
        text(stderr.as_bytes())
    );
    assert!(peak > 0, "the peak was read at least once");
    Measured {
        peak_kib: peak,
        wall,
    }
}

#[test]
fn peak_memory_stays_under_the_stated_bound() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("skipped: the peak resident set is read from /proc (Linux only)");
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let dir = tempfile::tempdir().expect("a temporary directory");

    let reference = runtime
        .block_on(tokencert_reference::start(
            tokencert_reference::Config::default(),
            loopback,
        ))
        .expect("the reference service starts");
    let baseline = measure(&reference.base_url(), &dir.path().join("baseline"));
    runtime.block_on(reference.shutdown());
    let bound_kib = baseline.peak_kib + FACTOR * JOBS * BODY_LIMIT / 1024;
    eprintln!(
        "baseline (reference): peak {} MiB in {:.1} s; bound {} MiB \
         (baseline + {FACTOR} x {JOBS} jobs x {} MiB)",
        baseline.peak_kib / 1024,
        baseline.wall.as_secs_f64(),
        bound_kib / 1024,
        BODY_LIMIT >> 20,
    );

    let mut over = Vec::new();
    for fault in [
        Fault::LongLine,
        Fault::HugeBody,
        Fault::GzipBomb,
        Fault::Endless,
    ] {
        let server = runtime
            .block_on(hostile::start(fault, loopback))
            .expect("the hostile server starts");
        let run = measure(&server.base_url(), &dir.path().join(fault.name()));
        drop(server);
        eprintln!(
            "{fault}: peak {} MiB ({:+} MiB over the baseline) in {:.1} s",
            run.peak_kib / 1024,
            (run.peak_kib as i64 - baseline.peak_kib as i64) / 1024,
            run.wall.as_secs_f64(),
        );
        if run.peak_kib > bound_kib {
            over.push(format!("{fault}: {} KiB", run.peak_kib));
        }
    }
    assert!(
        over.is_empty(),
        "over the bound of {bound_kib} KiB: {}",
        over.join(", ")
    );
}
