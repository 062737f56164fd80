//! `tokencert bench`: the tool's own speed, measured against the reference
//! service's capacity model (the model `tokencert-reference-capacity`) on
//! loopback, the service running as a child process (`tokencert serve`) so
//! that it shares neither this process's executor nor its memory.
//!
//! Three runs give four figures:
//! - the **streams run** (N streams at once, long enough to overlap) gives
//!   the timing error (client gaps between consecutive stamped events
//!   against the server's scheduled gaps, while all N are streaming) and the
//!   memory per in-flight stream (resident memory before the run and when
//!   the first stream ends);
//! - the **ingest run** (streams of many tokens, the service stepping
//!   faster than the client reads) gives the SSE events received per second
//!   of wall time and per second of this process's CPU time;
//! - the **rate run** (open loop at R req/s for D) gives the send lateness.
//!
//! A benchmark, not a test: the goals are printed next to the figures and
//! the command exits 0 whenever it ran.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokencert_core::evidence::read_exchanges;
use tokencert_core::metrics::Distribution;
use tokencert_core::tokens::{Tokenizer, TokenizerSpec};
use tokencert_core::workload::{LengthDist, LoadModel, PlannedRequest, Prompts, Workload};
use tokencert_drive::load::{Bounds, LoadOutcome, LoadRun, drive_load, stamps};
use tokencert_drive::{Client, Limits, Target};
use tokencert_reference::Capacity;

/// The most concurrent streams.
const MAX_STREAMS: u64 = 5_000;
/// The highest open-loop rate, requests per second.
const MAX_RATE: f64 = 10_000.0;
/// The longest rate run.
const MAX_DURATION: Duration = Duration::from_secs(60);
/// How long the service child may take to say where it listens.
const SERVICE_START: Duration = Duration::from_secs(30);

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
    /// Concurrent streams of the timing-error and memory run
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
    /// Streams of the ingest run and the output tokens of each.
    ingest_streams: u64,
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
            // Long enough for a steady stretch after the ramp-up (the
            // service takes a second or two to admit 1,000 requests at once).
            stream_tokens: if quick { 40 } else { 300 },
            stream_step: Duration::from_millis(20),
            ingest_streams: if quick { 20 } else { 100 },
            ingest_tokens: if quick { 200 } else { 2_000 },
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
        "tokencert bench: on 127.0.0.1, the client in this process ({} worker threads and an \
         evidence writer), the reference service in a child process (`tokencert serve`), \
         {} cores shared by both{}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        if cfg!(debug_assertions) {
            "; a debug build: figures are pessimistic, use --release"
        } else {
            ""
        }
    );
    match create_time(dir) {
        Some(t) => println!(
            "evidence in {} (creating a file there takes {}, the median of {CREATE_PROBES}: \
             slow file creation makes requests late)",
            dir.display(),
            fmt_ns(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX))
        ),
        None => println!("evidence in {}", dir.display()),
    }
    let memory = streams_run(s, &tokenizer, dir).await?;
    ingest_run(s, &tokenizer, dir).await?;
    rate_run(s, &tokenizer, dir).await?;
    match memory {
        Some((kib, _)) => println!(
            "4. memory per in-flight stream: {kib} KiB — goal ≤ {GOAL_MEMORY_KIB} KiB: {}",
            verdict(kib <= GOAL_MEMORY_KIB, false, 0)
        ),
        None => println!("4. memory per in-flight stream: unavailable (needs /proc/self/status)"),
    }
    println!(
        "   how: resident memory (VmRSS) of this process before the streams run and when its \
         first stream ended ({} in flight then), the difference divided by the streams in \
         flight; evidence goes to disk as it arrives; the service's memory is not included",
        memory.map_or(0, |(_, n)| n)
    );
    Ok(())
}

/// The streams run: prints the timing error; returns the memory per
/// in-flight stream (KiB) and the streams in flight when it was taken.
async fn streams_run(
    s: &Settings,
    tokenizer: &Tokenizer,
    dir: &Path,
) -> anyhow::Result<Option<(u64, u64)>> {
    let streams = s.streams;
    let service = Service::start(&steps_only(s.stream_step, streams))?;
    let client = make_client(&service)?;
    let load = LoadModel::Closed {
        users: streams,
        think_time: Duration::ZERO,
    };
    let plan = workload_plan(tokenizer, load.clone(), streams, s.stream_tokens)?;
    let cpu = service.cpu();
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
    let cpu = cpu.spent();
    service.stop();
    let stamped = Stamped::of(&run)?;
    let (steady, all) = stamped.gaps();
    let how = format!(
        "{streams} streams at once (closed loop, {streams} users), max_tokens {} each, one token \
         per {} ms step (capacity model: batch {streams}, no prefill); {} of {} answered in full; \
         per stream, |client gap − server gap| between consecutive events stamped `: sched_ns=`, \
         HDR percentiles over the {} gaps whose two events arrived while all {streams} streams \
         were streaming (after the last stream's first event, before the first stream's end); \
         over all {} gaps of the run, ramp-up included: {}; {cpu}",
        s.stream_tokens,
        s.stream_step.as_millis(),
        run.succeeded,
        run.sent,
        steady.len(),
        all.len(),
        match Distribution::from_samples(&all)? {
            Some(d) => format!("p50 {}, p99 {}", fmt_ns(p50(&d)), fmt_ns(p99(&d))),
            None => "none".into(),
        }
    );
    match Distribution::from_samples(&steady)? {
        Some(d) => {
            let p99 = p99(&d);
            println!(
                "1. timing error: p50 {}, p99 {}, max {} — goal p99 < 0.5 ms at {GOAL_STREAMS} streams: {}",
                fmt_ns(p50(&d)),
                fmt_ns(p99),
                fmt_ns(d.max),
                verdict(p99 < GOAL_TIMING_P99_NS, streams != GOAL_STREAMS, streams)
            );
        }
        None => println!(
            "1. timing error: no stamped gaps while all streams were streaming (none measured)"
        ),
    }
    println!("   how: {how}");
    Ok(match (before, at_first_end.get()) {
        (Some(before), Some(&(in_flight, Some(at)))) => {
            Some((at.saturating_sub(before) / in_flight.max(1), in_flight))
        }
        _ => None,
    })
}

/// The ingest run: prints the SSE events received per second.
async fn ingest_run(s: &Settings, tokenizer: &Tokenizer, dir: &Path) -> anyhow::Result<()> {
    let streams = s.ingest_streams;
    let step = Duration::from_micros(50);
    let service = Service::start(&steps_only(step, streams))?;
    let client = make_client(&service)?;
    let load = LoadModel::Closed {
        users: streams,
        think_time: Duration::ZERO,
    };
    let plan = workload_plan(tokenizer, load.clone(), streams, s.ingest_tokens)?;
    let cpu = service.cpu();
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
    let cpu = cpu.spent();
    service.stop();
    let stamped = Stamped::of(&run)?;
    let secs = run.elapsed_ns as f64 / 1e9;
    let per = |n: f64, secs: f64| if secs > 0.0 { n / secs } else { 0.0 };
    let events = stamped.events as f64;
    println!(
        "2. SSE ingest: {:.0} events/s of wall time, {} ({} events in {} reads, {secs:.3} s)",
        per(events, secs),
        cpu.client
            .map_or("client CPU time unavailable".into(), |client| format!(
                "{:.0} events per second of the client's CPU time",
                per(events, client)
            )),
        stamped.events,
        stamped.reads,
    );
    println!(
        "   how: {streams} streams at once, max_tokens {} each (the capacity model answers exactly \
         that many), {} µs steps, so the service emits as fast as it can and the two processes \
         share the cores; every stamped SSE event received (role, content, finish and usage \
         events) over the wall time from the run start to the last stream's end, and over the \
         CPU time this process used meanwhile; {cpu}; {} of {} answered in full",
        s.ingest_tokens,
        step.as_micros(),
        run.succeeded,
        run.sent
    );
    Ok(())
}

/// A capacity model of fixed steps only (no prefill, no per-sequence
/// cost, no jitter, no queue bound) with room for `batch` sequences, so
/// that the service's pace is the step and nothing else.
fn steps_only(step: Duration, batch: u64) -> Capacity {
    Capacity {
        prefill_per_token: Duration::ZERO,
        step_base: step,
        step_per_sequence: Duration::ZERO,
        max_batch: usize::try_from(batch).unwrap_or(usize::MAX),
        jitter: None,
        max_queue: None,
    }
}

/// The rate run: prints the send lateness.
async fn rate_run(s: &Settings, tokenizer: &Tokenizer, dir: &Path) -> anyhow::Result<()> {
    let service = Service::start(&steps_only(Duration::from_millis(1), 10_000))?;
    let client = make_client(&service)?;
    let load = LoadModel::Constant { rate: s.rate };
    let requests = ((s.rate * s.duration.as_secs_f64()).ceil() as u64).max(1);
    let plan = workload_plan(tokenizer, load.clone(), requests, 4)?;
    let cpu = service.cpu();
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
    let cpu = cpu.spent();
    service.stop();
    let lateness: Vec<u64> = run
        .requests
        .iter()
        .filter_map(|r| r.lateness_ns())
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
         each request from the load engine, HDR percentiles; {cpu}",
        s.rate,
        s.duration.as_secs_f64(),
        run.planned,
        run.sent,
        run.not_sent,
        run.succeeded,
        run.peak_in_flight
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

/// The stamped events of a run's streams, read back from the evidence.
struct Stamped {
    /// Per stream: (arrival in ns since the run start, stamp) of each
    /// stamped event, and the stream's end in ns since the run start.
    streams: Vec<(Vec<(u64, u64)>, u64)>,
    /// Stamped events in all.
    events: u64,
    /// Recorded body chunks (socket reads that delivered bytes) in all.
    reads: u64,
}

impl Stamped {
    fn of(run: &LoadRun) -> anyhow::Result<Self> {
        let mut stamped = Stamped {
            streams: Vec::new(),
            events: 0,
            reads: 0,
        };
        for r in &run.requests {
            let LoadOutcome::Sent {
                file,
                sent_ns,
                end_ns,
                ..
            } = &r.outcome
            else {
                continue;
            };
            let exchanges =
                read_exchanges(file).with_context(|| format!("reading {}", file.display()))?;
            for ex in exchanges {
                let events: Vec<(u64, u64)> = stamps(&ex)
                    .iter()
                    .map(|s| (sent_ns.saturating_add(s.arrival_ns), s.sched_ns))
                    .collect();
                stamped.events += events.len() as u64;
                stamped.reads += ex.chunks.len() as u64;
                stamped.streams.push((events, *end_ns));
            }
        }
        Ok(stamped)
    }

    /// |arrival gap − scheduled gap| of consecutive stamped events of each
    /// stream: those whose two events arrived while every stream was
    /// streaming (after the last first event, before the first end), and
    /// all of them.
    fn gaps(&self) -> (Vec<u64>, Vec<u64>) {
        let all_started = self
            .streams
            .iter()
            .filter_map(|(events, _)| events.first().map(|&(at, _)| at))
            .max()
            .unwrap_or(0);
        let first_end = self.streams.iter().map(|&(_, end)| end).min().unwrap_or(0);
        let mut steady = Vec::new();
        let mut all = Vec::new();
        for (events, _) in &self.streams {
            for w in events.windows(2) {
                let arrival = i128::from(w[1].0) - i128::from(w[0].0);
                let sched = i128::from(w[1].1) - i128::from(w[0].1);
                let gap = u64::try_from((arrival - sched).unsigned_abs()).unwrap_or(u64::MAX);
                all.push(gap);
                if w[0].0 >= all_started && w[1].0 < first_end {
                    steady.push(gap);
                }
            }
        }
        (steady, all)
    }
}

/// The reference service in a child process: this executable's `serve`
/// on 127.0.0.1, an ephemeral port, the given capacity model.
struct Service {
    child: Child,
    base_url: String,
}

impl Service {
    fn start(capacity: &Capacity) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding this executable")?;
        let micros = |d: Duration| d.as_micros().to_string();
        let mut child = Command::new(&exe)
            .args(["serve", "--addr", "127.0.0.1:0", "--prefill-us"])
            .arg(micros(capacity.prefill_per_token))
            .arg("--step-us")
            .arg(micros(capacity.step_base))
            .arg("--step-per-sequence-us")
            .arg(micros(capacity.step_per_sequence))
            .arg("--max-batch")
            .arg(capacity.max_batch.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {} serve", exe.display()))?;
        let stderr = child.stderr.take().context("the service's stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the line saying where the service listens, then drains
        // the rest so that the service never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                let url = line
                    .split_once("reference token service on ")
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    .map(str::to_string);
                let found = url.is_some();
                if tx.send(url.ok_or(line)).is_err() || found {
                    break;
                }
            }
            lines.for_each(drop);
        });
        let mut said = Vec::new();
        let base_url = loop {
            match rx.recv_timeout(SERVICE_START) {
                Ok(Ok(url)) => break url,
                Ok(Err(line)) => said.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    anyhow::bail!("the reference service did not start within 30 s");
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                    anyhow::bail!(
                        "the reference service exited ({status}): {}",
                        said.join("\n")
                    );
                }
            }
        };
        Ok(Self { child, base_url })
    }

    /// Starts counting the CPU time both processes use.
    fn cpu(&self) -> CpuClock {
        let service = self.child.id().to_string();
        CpuClock {
            client: cpu_ticks("self"),
            service: cpu_ticks(&service),
            pid: service,
        }
    }

    /// Stops the service (by its process id) and waits for it.
    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // Stopped already unless an error cut the run short.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn make_client(service: &Service) -> anyhow::Result<Client> {
    let target = Target {
        base_url: service.base_url.clone(),
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

/// How many files [`create_time`] creates.
const CREATE_PROBES: usize = 21;

/// The median time to create a file in `dir` (each removed again).
fn create_time(dir: &Path) -> Option<Duration> {
    let mut times = Vec::with_capacity(CREATE_PROBES);
    for i in 0..CREATE_PROBES {
        let path = dir.join(format!(".create-probe-{i}"));
        let start = Instant::now();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .ok()?;
        times.push(start.elapsed());
        drop(file);
        std::fs::remove_file(&path).ok()?;
    }
    times.sort();
    times.get(CREATE_PROBES / 2).copied()
}

/// Resident memory of this process, in KiB (Linux only).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time of this process and of the service so far, in clock ticks.
struct CpuClock {
    client: Option<u64>,
    service: Option<u64>,
    pid: String,
}

impl CpuClock {
    /// The seconds of CPU time each process used since the clock started.
    fn spent(&self) -> CpuSpent {
        let since = |start: Option<u64>, now: Option<u64>| {
            Some(now?.saturating_sub(start?) as f64 / TICKS_PER_SECOND)
        };
        CpuSpent {
            client: since(self.client, cpu_ticks("self")),
            service: since(self.service, cpu_ticks(&self.pid)),
        }
    }
}

/// Seconds of CPU time used by the client (this process) and the service.
struct CpuSpent {
    client: Option<f64>,
    service: Option<f64>,
}

impl std::fmt::Display for CpuSpent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = |s: Option<f64>| s.map_or("?".to_string(), |s| format!("{s:.2} s"));
        write!(
            f,
            "CPU time used: client {}, service {}",
            secs(self.client),
            secs(self.service)
        )
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` (Linux's USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time of a process (`self` or a pid) so far, in
/// clock ticks (Linux only).
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is the first, utime the 12th and stime the 13th.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}
