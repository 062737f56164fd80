//! `tokencert bench`: the tool's own speed, measured against the embedded
//! reference service (capacity model on) on loopback, in this process.
//!
//! Three runs give four figures:
//! - the **streams run** (N streams at once, long enough to overlap) gives
//!   the timing error (client gaps between consecutive stamped events
//!   against the server's scheduled gaps) and the memory per in-flight
//!   stream (resident memory before the run and when the first stream ends);
//! - the **ingest run** (N streams of many tokens, tiny steps) gives the SSE
//!   events received per second of wall time;
//! - the **rate run** (open loop at R req/s for D) gives the send lateness.
//!
//! A benchmark, not a test: the goals are printed next to the figures and
//! the command exits 0 whenever it ran.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use tokencert_core::evidence::read_exchanges;
use tokencert_core::metrics::Distribution;
use tokencert_core::tokens::{Tokenizer, TokenizerSpec};
use tokencert_core::workload::{LengthDist, LoadModel, PlannedRequest, Prompts, Workload};
use tokencert_drive::load::{Bounds, LoadOutcome, LoadRequest, LoadRun, drive_load, stamps};
use tokencert_drive::{Client, Limits, Target};
use tokencert_reference::{Capacity, Config, RunningServer};

/// The most concurrent streams.
const MAX_STREAMS: u64 = 5_000;
/// The highest open-loop rate, requests per second.
const MAX_RATE: f64 = 10_000.0;
/// The longest rate run.
const MAX_DURATION: Duration = Duration::from_secs(60);

/// Goal: timing error p99, ns (at [`GOAL_STREAMS`] streams).
const GOAL_TIMING_P99_NS: u64 = 500_000;
const GOAL_STREAMS: u64 = 1_000;
/// Goal: send lateness p99, ns (at [`GOAL_RATE`] req/s).
const GOAL_LATENESS_P99_NS: u64 = 1_000_000;
const GOAL_RATE: f64 = 2_000.0;
/// Goal: memory per in-flight stream, KiB.
const GOAL_MEMORY_KIB: u64 = 64;

/// Options of `tokencert bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Concurrent streams for the timing-error, memory and ingest runs
    /// (1..=5000; default 1000, 100 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_STREAMS))]
    streams: Option<u64>,
    /// Open-loop rate of the send-lateness run, requests per second
    /// (over 0, at most 10000; default 2000, 200 with --quick).
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    rate: Option<f64>,
    /// Length of the send-lateness run: `2s`, `500ms` (at most
    /// 60 s; default 2 s, 1 s with --quick).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// A smaller, shorter run (100 streams, 200 req/s for 1 s, short streams).
    #[arg(long)]
    quick: bool,
    /// Keep the evidence in this directory (created; must be empty or
    /// missing) instead of a temporary one removed at the end.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if rate.is_finite() && rate > 0.0 && rate <= MAX_RATE {
        Ok(rate)
    } else {
        Err(format!(
            "{s}: the rate must be over 0 and at most {MAX_RATE}"
        ))
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))?;
    if d.is_zero() || d > MAX_DURATION {
        return Err(format!("{s}: the duration must be over 0 and at most 60 s"));
    }
    Ok(d)
}

/// What one run is set to.
struct Settings {
    streams: u64,
    rate: f64,
    duration: Duration,
    /// Output tokens of each stream of the streams run, and its step.
    stream_tokens: u64,
    stream_step: Duration,
    /// Output tokens of each stream of the ingest run.
    ingest_tokens: u64,
}

impl Settings {
    fn of(args: &Args) -> Self {
        let quick = args.quick;
        Settings {
            streams: args.streams.unwrap_or(if quick { 100 } else { 1_000 }),
            rate: args.rate.unwrap_or(if quick { 200.0 } else { GOAL_RATE }),
            duration: args
                .duration
                .unwrap_or(Duration::from_secs(if quick { 1 } else { 2 })),
            stream_tokens: if quick { 40 } else { 100 },
            stream_step: Duration::from_millis(20),
            ingest_tokens: if quick { 50 } else { 200 },
        }
    }
}

/// Runs the benchmark and prints its figures.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = Settings::of(&args);
    let (dir, temporary) = match &args.keep {
        Some(dir) => {
            if dir.exists()
                && std::fs::read_dir(dir)
                    .with_context(|| format!("reading {}", dir.display()))?
                    .next()
                    .is_some()
            {
                anyhow::bail!("--keep {}: the directory is not empty", dir.display());
            }
            (dir.clone(), false)
        }
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir()
                .join(format!("tokencert-bench-{}-{nanos}", std::process::id()));
            (dir, true)
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let outcome = super::runtime()?.block_on(bench(&settings, &dir));
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("evidence kept in {}", dir.display());
    }
    outcome?;
    Ok(ExitCode::SUCCESS)
}

async fn bench(s: &Settings, dir: &Path) -> anyhow::Result<()> {
    let tokenizer =
        Tokenizer::load(&TokenizerSpec::O200kBase, Path::new(".")).context("loading o200k_base")?;
    println!(
        "tokencert bench: client and reference service in this one process on 127.0.0.1, \
         {} worker threads{}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        if cfg!(debug_assertions) {
            "; a debug build: figures are pessimistic, use --release"
        } else {
            ""
        }
    );

    // The streams run: timing error and memory.
    let streams = s.streams;
    let server = start_server(Capacity {
        prefill_per_token: Duration::ZERO,
        step_base: s.stream_step,
        step_per_sequence: Duration::ZERO,
        max_batch: usize::try_from(streams).unwrap_or(usize::MAX),
        jitter: None,
        max_queue: None,
    })
    .await?;
    let client = make_client(&server)?;
    let load = LoadModel::Closed {
        users: streams,
        think_time: Duration::ZERO,
    };
    let plan = workload_plan(&tokenizer, load.clone(), streams, s.stream_tokens)?;
    let before = rss_kib();
    let at_first_end: OnceLock<(u64, Option<u64>)> = OnceLock::new();
    let run = drive_load(
        &client,
        "bench.streams",
        &plan,
        &load,
        Bounds::default(),
        &dir.join("streams"),
        |p| {
            at_first_end.get_or_init(|| (p.in_flight, rss_kib()));
        },
    )
    .await
    .context("the streams run")?;
    server.shutdown().await;
    let (gaps, _) = stamp_gaps(&run)?;
    let timing = Distribution::from_samples(&gaps)?;
    let how = format!(
        "{streams} streams at once (closed loop, {} users), max_tokens {} each, one token per {} ms step \
         (capacity model: batch {streams}, no prefill); {} of {} answered in full; per stream, \
         |client gap − server gap| between consecutive events stamped `: sched_ns=`, {} gaps, \
         HDR percentiles",
        streams,
        s.stream_tokens,
        s.stream_step.as_millis(),
        run.succeeded,
        run.sent,
        gaps.len()
    );
    match &timing {
        Some(d) => {
            let p99 = p99(d);
            println!(
                "1. timing error: p50 {}, p99 {}, max {} — goal p99 < 0.5 ms at {GOAL_STREAMS} streams: {}",
                fmt_ns(p50(d)),
                fmt_ns(p99),
                fmt_ns(d.max),
                verdict(p99 < GOAL_TIMING_P99_NS, streams != GOAL_STREAMS, streams)
            );
        }
        None => println!("1. timing error: no stamped gaps recorded (none measured)"),
    }
    println!("   how: {how}");
    let memory = match (before, at_first_end.get()) {
        (Some(before), Some(&(in_flight, Some(at)))) => {
            Some((at.saturating_sub(before) / in_flight.max(1), in_flight))
        }
        _ => None,
    };

    // The ingest run.
    let server = start_server(Capacity {
        prefill_per_token: Duration::ZERO,
        step_base: Duration::from_micros(50),
        step_per_sequence: Duration::ZERO,
        max_batch: usize::try_from(streams).unwrap_or(usize::MAX),
        jitter: None,
        max_queue: None,
    })
    .await?;
    let client = make_client(&server)?;
    let plan = workload_plan(&tokenizer, load.clone(), streams, s.ingest_tokens)?;
    let run = drive_load(
        &client,
        "bench.ingest",
        &plan,
        &load,
        Bounds::default(),
        &dir.join("ingest"),
        |_| {},
    )
    .await
    .context("the ingest run")?;
    server.shutdown().await;
    let (_, events) = stamp_gaps(&run)?;
    let secs = run.elapsed_ns as f64 / 1e9;
    let per_s = if secs > 0.0 {
        events as f64 / secs
    } else {
        0.0
    };
    println!(
        "2. SSE ingest: {:.0} chunks/s ({events} SSE events in {secs:.3} s)",
        per_s
    );
    println!(
        "   how: {streams} streams at once, max_tokens {} each, 50 µs steps (the service emits faster \
         than one process reads); every stamped SSE event received (role, content, finish and \
         usage events) over the wall time from the run start to the last stream's end; {} of {} \
         answered in full; the service shares the process, so this is a lower bound",
        s.ingest_tokens, run.succeeded, run.sent
    );

    // The rate run.
    let server = start_server(Capacity {
        prefill_per_token: Duration::ZERO,
        step_base: Duration::from_millis(1),
        step_per_sequence: Duration::ZERO,
        max_batch: 10_000,
        jitter: None,
        max_queue: None,
    })
    .await?;
    let client = make_client(&server)?;
    let load = LoadModel::Constant { rate: s.rate };
    let requests = ((s.rate * s.duration.as_secs_f64()).ceil() as u64).max(1);
    let plan = workload_plan(&tokenizer, load.clone(), requests, 4)?;
    let run = drive_load(
        &client,
        "bench.rate",
        &plan,
        &load,
        Bounds {
            duration: Some(s.duration),
            ..Bounds::default()
        },
        &dir.join("rate"),
        |_| {},
    )
    .await
    .context("the rate run")?;
    server.shutdown().await;
    let lateness: Vec<u64> = run
        .requests
        .iter()
        .filter_map(LoadRequest::lateness_ns)
        .collect();
    let off_goal = (s.rate - GOAL_RATE).abs() > f64::EPSILON;
    match Distribution::from_samples(&lateness)? {
        Some(d) => println!(
            "3. send lateness: p50 {}, p99 {}, max {} — goal p99 < 1 ms at 2000 req/s: {}",
            fmt_ns(p50(&d)),
            fmt_ns(p99(&d)),
            fmt_ns(d.max),
            verdict(p99(&d) < GOAL_LATENESS_P99_NS, off_goal, s.rate)
        ),
        None => println!("3. send lateness: nothing sent (none measured)"),
    }
    println!(
        "   how: open loop, constant {} req/s for {:.1} s ({} planned, {} sent, {} not sent, \
         {} answered in full, peak {} in flight), 4-token streams; sent_ns − scheduled_ns of \
         each request from the load engine, HDR percentiles",
        s.rate,
        s.duration.as_secs_f64(),
        run.planned,
        run.sent,
        run.not_sent,
        run.succeeded,
        run.peak_in_flight
    );

    match memory {
        Some((kib, _)) => println!(
            "4. memory per in-flight stream: {kib} KiB — goal ≤ {GOAL_MEMORY_KIB} KiB: {}",
            verdict(kib <= GOAL_MEMORY_KIB, false, 0)
        ),
        None => println!("4. memory per in-flight stream: unavailable (needs /proc/self/status)"),
    }
    println!(
        "   how: resident memory (VmRSS) before the streams run and when its first stream ended \
         ({} in flight then), the difference divided by the streams in flight; evidence goes to \
         disk as it arrives; the in-process reference service's memory per stream is included, \
         so this is an upper bound",
        memory.map_or(0, |(_, n)| n)
    );
    Ok(())
}

/// "met" or "not met", saying when the run's setting is not the goal's.
fn verdict(met: bool, off_goal: bool, setting: impl std::fmt::Display) -> String {
    let word = if met { "met" } else { "not met" };
    if off_goal {
        format!("{word} (but measured at {setting}, not the goal's setting)")
    } else {
        word.to_string()
    }
}

fn p50(d: &Distribution) -> u64 {
    d.percentile("p50").map_or(0, |p| p.value)
}

fn p99(d: &Distribution) -> u64 {
    d.percentile("p99").map_or(0, |p| p.value)
}

/// Nanoseconds as µs or ms.
fn fmt_ns(ns: u64) -> String {
    if ns < 1_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.3} ms", ns as f64 / 1e6)
    }
}

/// |arrival gap − scheduled gap| of consecutive stamped events of every
/// recorded exchange of a run, and the number of stamped events.
fn stamp_gaps(run: &LoadRun) -> anyhow::Result<(Vec<u64>, u64)> {
    let mut gaps = Vec::new();
    let mut events = 0u64;
    for r in &run.requests {
        let LoadOutcome::Sent { file, .. } = &r.outcome else {
            continue;
        };
        for ex in read_exchanges(file).with_context(|| format!("reading {}", file.display()))? {
            let stamped = stamps(&ex);
            events += stamped.len() as u64;
            for w in stamped.windows(2) {
                let arrival = i128::from(w[1].arrival_ns) - i128::from(w[0].arrival_ns);
                let sched = i128::from(w[1].sched_ns) - i128::from(w[0].sched_ns);
                gaps.push(u64::try_from((arrival - sched).unsigned_abs()).unwrap_or(u64::MAX));
            }
        }
    }
    Ok((gaps, events))
}

async fn start_server(capacity: Capacity) -> anyhow::Result<RunningServer> {
    let config = Config {
        capacity,
        ..Config::default()
    };
    tokencert_reference::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .context("starting the reference service")
}

fn make_client(server: &RunningServer) -> anyhow::Result<Client> {
    let target = Target {
        base_url: server.base_url(),
        model: tokencert_reference::CAPACITY_MODEL.into(),
        api_key: None,
        limits: Default::default(),
        rate_limit: None,
    };
    let limits = Limits {
        timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    Client::new(target, limits).context("making the client")
}

/// `requests` synthetic requests of 16 prompt tokens and `max_tokens`
/// `output` (the capacity model answers with exactly that many).
fn workload_plan(
    tokenizer: &Tokenizer,
    load: LoadModel,
    requests: u64,
    output: u64,
) -> anyhow::Result<Vec<PlannedRequest>> {
    Workload {
        seed: 7,
        requests,
        duration: None,
        prompts: Prompts::Synthetic {
            input: LengthDist::Fixed(16),
            output: LengthDist::Fixed(output),
        },
        load,
    }
    .plan(tokenizer, Path::new("."), None)
    .context("planning the workload")
}

/// Resident memory of this process, in KiB (Linux only).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
