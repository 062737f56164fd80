//! `bench`: the tool's own speed, measured against the reference service's
//! capacity model (the model `tokencert-reference-capacity`) on loopback,
//! the service running as a child process (`<exe> serve`) so that it
//! shares neither this process's executor nor its memory.
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

mod service;
mod stamped;

pub use service::CpuSpent;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokencert_core::metrics::Distribution;
use tokencert_core::suite::Dialect;
use tokencert_core::tokens::Tokenizer;
use tokencert_core::workload::{LengthDist, LoadModel, PlannedRequest, Prompts, Workload};

use self::service::Service;
use self::stamped::Stamped;
use super::{Event, OnEvent, PerfError};
use crate::load::{Bounds, drive_load};
use crate::{Client, Limits, Target};

/// The service's step in the ingest run: faster than the client reads.
pub const INGEST_STEP: Duration = Duration::from_micros(50);
/// How many files the evidence directory's creation time is the median of.
pub const CREATE_PROBES: usize = 21;

/// A benchmark to run.
#[derive(Debug, Clone)]
pub struct Request {
    /// Concurrent streams of the streams run (timing error and memory).
    pub streams: u64,
    /// Output tokens of each stream of the streams run.
    pub stream_tokens: u64,
    /// The service's step in the streams run.
    pub stream_step: Duration,
    /// Concurrent streams of the ingest run.
    pub ingest_streams: u64,
    /// Output tokens of each stream of the ingest run.
    pub ingest_tokens: u64,
    /// Open-loop (constant) rate of the rate run, requests per second.
    pub rate: f64,
    /// Length of the rate run.
    pub duration: Duration,
    /// The directory (existing) each run's evidence goes under.
    pub dir: PathBuf,
    /// The executable whose `serve` subcommand runs the reference service
    /// (the `tokencert` binary).
    pub serve_exe: PathBuf,
    /// The model that service serves under its capacity model
    /// (`tokencert-reference-capacity`).
    pub model: String,
}

/// The streams run's figures: the timing error.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// |client gap − server gap| over the gaps whose two events arrived
    /// while all streams were streaming; `None` when there were none.
    pub steady: Option<Distribution>,
    /// How many such gaps.
    pub steady_gaps: usize,
    /// The same over every gap of the run, ramp-up included.
    pub all: Option<Distribution>,
    /// How many gaps in all.
    pub all_gaps: usize,
    /// Streams answered in full.
    pub succeeded: u64,
    /// Streams sent.
    pub sent: u64,
    /// CPU time used meanwhile.
    pub cpu: CpuSpent,
}

/// The ingest run's figures: SSE events received.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingest {
    /// Stamped SSE events received.
    pub events: u64,
    /// Body reads that delivered them.
    pub reads: u64,
    /// Wall time from the run start to the last stream's end, ns.
    pub elapsed_ns: u64,
    /// Streams answered in full.
    pub succeeded: u64,
    /// Streams sent.
    pub sent: u64,
    /// CPU time used meanwhile.
    pub cpu: CpuSpent,
}

/// The rate run's figures: the send lateness.
#[derive(Debug, Clone, PartialEq)]
pub struct Lateness {
    /// sent − scheduled of each sent request; `None` when none was sent.
    pub lateness: Option<Distribution>,
    /// Requests planned.
    pub planned: u64,
    /// Requests sent.
    pub sent: u64,
    /// Requests not sent (the in-flight cap).
    pub not_sent: u64,
    /// Requests answered in full.
    pub succeeded: u64,
    /// The most requests in flight at once.
    pub peak_in_flight: u64,
    /// CPU time used meanwhile.
    pub cpu: CpuSpent,
}

/// The memory per in-flight stream (Linux only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Resident memory added per stream in flight, KiB.
    pub per_stream_kib: u64,
    /// The streams in flight when it was taken (the first stream's end).
    pub in_flight: u64,
}

/// What a benchmark measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The streams run's timing error.
    pub timing: Timing,
    /// The ingest run's events per second.
    pub ingest: Ingest,
    /// The rate run's send lateness.
    pub lateness: Lateness,
    /// The memory per in-flight stream; `None` without /proc/self/status.
    pub memory: Option<Memory>,
}

/// Runs the three runs in turn, reporting each one's figures as it ends.
///
/// # Errors
///
/// When the tokenizer cannot be loaded, a service cannot be started, a
/// workload cannot be planned, a run fails or its evidence cannot be read.
pub async fn run(request: &Request, on_event: &OnEvent<'_>) -> Result<Report, PerfError> {
    let tokenizer = super::load::load_tokenizer()?;
    on_event(Event::BenchFileCreation(create_time(&request.dir)));
    let (timing, memory) = streams_run(request, &tokenizer).await?;
    on_event(Event::BenchTiming(timing.clone()));
    let ingest = ingest_run(request, &tokenizer).await?;
    on_event(Event::BenchIngest(ingest.clone()));
    let lateness = rate_run(request, &tokenizer).await?;
    on_event(Event::BenchLateness(lateness.clone()));
    Ok(Report {
        timing,
        ingest,
        lateness,
        memory,
    })
}

/// The streams run: the timing error, and the memory per in-flight stream.
async fn streams_run(
    s: &Request,
    tokenizer: &Tokenizer,
) -> Result<(Timing, Option<Memory>), PerfError> {
    let streams = s.streams;
    let service = Service::start(&s.serve_exe, s.stream_step, streams)?;
    let client = make_client(&service, &s.model)?;
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
        &s.dir.join("streams"),
        |p| {
            at_first_end.get_or_init(|| (p.in_flight, rss_kib()));
        },
    )
    .await
    .map_err(|source| PerfError::BenchRun {
        run: "streams",
        source,
    })?;
    let cpu = cpu.spent();
    service.stop();
    let stamped = Stamped::of(&run)?;
    let (steady, all) = stamped.gaps();
    let timing = Timing {
        all: Distribution::from_samples(&all)?,
        all_gaps: all.len(),
        steady: Distribution::from_samples(&steady)?,
        steady_gaps: steady.len(),
        succeeded: run.succeeded,
        sent: run.sent,
        cpu,
    };
    let memory = match (before, at_first_end.get()) {
        (Some(before), Some(&(in_flight, Some(at)))) => Some(Memory {
            per_stream_kib: at.saturating_sub(before) / in_flight.max(1),
            in_flight,
        }),
        _ => None,
    };
    Ok((timing, memory))
}

/// The ingest run: the SSE events received per second.
async fn ingest_run(s: &Request, tokenizer: &Tokenizer) -> Result<Ingest, PerfError> {
    let streams = s.ingest_streams;
    let service = Service::start(&s.serve_exe, INGEST_STEP, streams)?;
    let client = make_client(&service, &s.model)?;
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
        &s.dir.join("ingest"),
        |_| {},
    )
    .await
    .map_err(|source| PerfError::BenchRun {
        run: "ingest",
        source,
    })?;
    let cpu = cpu.spent();
    service.stop();
    let stamped = Stamped::of(&run)?;
    Ok(Ingest {
        events: stamped.events,
        reads: stamped.reads,
        elapsed_ns: run.elapsed_ns,
        succeeded: run.succeeded,
        sent: run.sent,
        cpu,
    })
}

/// The rate run: the send lateness.
async fn rate_run(s: &Request, tokenizer: &Tokenizer) -> Result<Lateness, PerfError> {
    let service = Service::start(&s.serve_exe, Duration::from_millis(1), 10_000)?;
    let client = make_client(&service, &s.model)?;
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
        &s.dir.join("rate"),
        |_| {},
    )
    .await
    .map_err(|source| PerfError::BenchRun {
        run: "rate",
        source,
    })?;
    let cpu = cpu.spent();
    service.stop();
    let lateness: Vec<u64> = run
        .requests
        .iter()
        .filter_map(|r| r.lateness_ns())
        .collect();
    Ok(Lateness {
        lateness: Distribution::from_samples(&lateness)?,
        planned: run.planned,
        sent: run.sent,
        not_sent: run.not_sent,
        succeeded: run.succeeded,
        peak_in_flight: run.peak_in_flight,
        cpu,
    })
}

fn make_client(service: &Service, model: &str) -> Result<Client, PerfError> {
    let target = Target {
        base_url: service.base_url.clone(),
        model: model.into(),
        api_key: None,
        limits: Default::default(),
        rate_limit: None,
        dialects: Default::default(),
    };
    let limits = Limits {
        timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    Client::new(target, limits).map_err(PerfError::Client)
}

/// `requests` synthetic requests of 16 prompt tokens and `max_tokens`
/// `output` (the capacity model answers with exactly that many).
fn workload_plan(
    tokenizer: &Tokenizer,
    load: LoadModel,
    requests: u64,
    output: u64,
) -> Result<Vec<PlannedRequest>, PerfError> {
    Workload {
        seed: 7,
        requests,
        duration: None,
        prompts: Prompts::Synthetic {
            input: LengthDist::Fixed(16),
            output: LengthDist::Fixed(output),
        },
        load,
        dialect: Dialect::OpenaiChat,
    }
    .plan(tokenizer, Path::new("."), None)
    .map_err(PerfError::Plan)
}

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
