//! `tokencert bench`: the tool's own speed, measured against the reference
//! service's capacity model on loopback, the service running as a child
//! process (`tokencert serve`); see [`tokencert_drive::perf::bench`] for
//! its three runs and four figures.
//!
//! A benchmark, not a test: the goals are printed next to the figures and
//! the command exits 0 whenever it ran.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokencert_core::metrics::Distribution;
use tokencert_drive::perf::Event;
use tokencert_drive::perf::bench::{self, CREATE_PROBES, INGEST_STEP, Request};

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

impl Args {
    /// The benchmark the flags ask for, its evidence under `dir`.
    fn request(&self, dir: PathBuf) -> anyhow::Result<Request> {
        let quick = self.quick;
        Ok(Request {
            streams: self.streams.unwrap_or(if quick { 100 } else { 1_000 }),
            rate: self.rate.unwrap_or(if quick { 200.0 } else { GOAL_RATE }),
            duration: self
                .duration
                .unwrap_or(Duration::from_secs(if quick { 1 } else { 2 })),
            // Long enough for a steady stretch after the ramp-up (the
            // service takes a second or two to admit 1,000 requests at once).
            stream_tokens: if quick { 40 } else { 300 },
            stream_step: Duration::from_millis(20),
            ingest_streams: if quick { 20 } else { 100 },
            ingest_tokens: if quick { 200 } else { 2_000 },
            dir,
            serve_exe: std::env::current_exe().context("finding this executable")?,
            model: tokencert_reference::CAPACITY_MODEL.into(),
        })
    }
}

/// Runs the benchmark and prints its figures.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
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
    let outcome = args
        .request(dir.clone())
        .and_then(|request| super::runtime()?.block_on(run_bench(&request)));
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("evidence kept in {}", dir.display());
    }
    outcome?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the benchmark, printing each figure as its run ends.
async fn run_bench(request: &Request) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "tokencert bench: on 127.0.0.1, the client in this process ({cores} worker threads and an \
         evidence writer), the reference service in a child process (`tokencert serve`), \
         {cores} cores shared by both{}",
        if cfg!(debug_assertions) {
            "; a debug build: figures are pessimistic, use --release"
        } else {
            ""
        }
    );
    let report = bench::run(request, &|event| print_figure(request, event)).await?;
    match report.memory {
        Some(memory) => println!(
            "4. memory per in-flight stream: {} KiB — goal ≤ {GOAL_MEMORY_KIB} KiB: {}",
            memory.per_stream_kib,
            verdict(memory.per_stream_kib <= GOAL_MEMORY_KIB, false, 0)
        ),
        None => println!("4. memory per in-flight stream: unavailable (needs /proc/self/status)"),
    }
    println!(
        "   how: resident memory (VmRSS) of this process before the streams run and when its \
         first stream ended ({} in flight then), the difference divided by the streams in \
         flight; evidence goes to disk as it arrives; the service's memory is not included",
        report.memory.map_or(0, |m| m.in_flight)
    );
    Ok(())
}

/// Prints a figure of the benchmark as its run ends.
fn print_figure(s: &Request, event: Event) {
    match event {
        Event::BenchFileCreation(Some(t)) => println!(
            "evidence in {} (creating a file there takes {}, the median of {CREATE_PROBES}: \
             slow file creation makes requests late)",
            s.dir.display(),
            fmt_ns(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX))
        ),
        Event::BenchFileCreation(None) => println!("evidence in {}", s.dir.display()),
        Event::BenchTiming(t) => print_timing(s, &t),
        Event::BenchIngest(i) => print_ingest(s, &i),
        Event::BenchLateness(l) => print_lateness(s, &l),
        _ => {}
    }
}

/// The streams run's timing error.
fn print_timing(s: &Request, t: &bench::Timing) {
    let streams = s.streams;
    let how = format!(
        "{streams} streams at once (closed loop, {streams} users), max_tokens {} each, one token \
         per {} ms step (capacity model: batch {streams}, no prefill); {} of {} answered in full; \
         per stream, |client gap − server gap| between consecutive events stamped `: sched_ns=`, \
         HDR percentiles over the {} gaps whose two events arrived while all {streams} streams \
         were streaming (after the last stream's first event, before the first stream's end); \
         over all {} gaps of the run, ramp-up included: {}; {}",
        s.stream_tokens,
        s.stream_step.as_millis(),
        t.succeeded,
        t.sent,
        t.steady_gaps,
        t.all_gaps,
        match &t.all {
            Some(d) => format!("p50 {}, p99 {}", fmt_ns(p50(d)), fmt_ns(p99(d))),
            None => "none".into(),
        },
        t.cpu
    );
    match &t.steady {
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
        None => println!(
            "1. timing error: no stamped gaps while all streams were streaming (none measured)"
        ),
    }
    println!("   how: {how}");
}

/// The ingest run's SSE events per second.
fn print_ingest(s: &Request, i: &bench::Ingest) {
    let secs = i.elapsed_ns as f64 / 1e9;
    let per = |n: f64, secs: f64| if secs > 0.0 { n / secs } else { 0.0 };
    let events = i.events as f64;
    println!(
        "2. SSE ingest: {:.0} events/s of wall time, {} ({} events in {} reads, {secs:.3} s)",
        per(events, secs),
        i.cpu
            .client
            .map_or("client CPU time unavailable".into(), |client| format!(
                "{:.0} events per second of the client's CPU time",
                per(events, client)
            )),
        i.events,
        i.reads,
    );
    println!(
        "   how: {} streams at once, max_tokens {} each (the capacity model answers exactly \
         that many), {} µs steps, so the service emits as fast as it can and the two processes \
         share the cores; every stamped SSE event received (role, content, finish and usage \
         events) over the wall time from the run start to the last stream's end, and over the \
         CPU time this process used meanwhile; {}; {} of {} answered in full",
        s.ingest_streams,
        s.ingest_tokens,
        INGEST_STEP.as_micros(),
        i.cpu,
        i.succeeded,
        i.sent
    );
}

/// The rate run's send lateness.
fn print_lateness(s: &Request, l: &bench::Lateness) {
    let off_goal = (s.rate - GOAL_RATE).abs() > f64::EPSILON;
    match &l.lateness {
        Some(d) => println!(
            "3. send lateness: p50 {}, p99 {}, max {} — goal p99 < 1 ms at 2000 req/s: {}",
            fmt_ns(p50(d)),
            fmt_ns(p99(d)),
            fmt_ns(d.max),
            verdict(p99(d) < GOAL_LATENESS_P99_NS, off_goal, s.rate)
        ),
        None => println!("3. send lateness: nothing sent (none measured)"),
    }
    println!(
        "   how: open loop, constant {} req/s for {:.1} s ({} planned, {} sent, {} not sent, \
         {} answered in full, peak {} in flight), 4-token streams; sent_ns − scheduled_ns of \
         each request from the load engine, HDR percentiles; {}",
        s.rate,
        s.duration.as_secs_f64(),
        l.planned,
        l.sent,
        l.not_sent,
        l.succeeded,
        l.peak_in_flight,
        l.cpu
    );
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
