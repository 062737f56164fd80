//! `load`: a seeded workload sent to a target; its performance metrics
//! (no verdicts) analysed and written to `summary.json`. The sending and
//! the analysis serve `sweep` (per step) and `soak` too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::BTreeMap;

use tokencert_core::bundle::Shard;
use tokencert_core::canonical;
use tokencert_core::evidence::{Exchange, read_exchanges};
use tokencert_core::metrics::{
    ExchangeMetrics, Slo, SteadyState, Summary, TimedExchange, WindowSpec, exchange_metrics,
    steady_state, summarize,
};
use tokencert_core::tokens::{Tokenizer, TokenizerSpec};
use tokencert_core::workload::{LoadModel, Workload, plan_digest, unix_ns};

use super::files::{create_owner_only, file, object, write_owner_only};
use super::{Event, OnEvent, PerfError, announced};
use crate::Sharding;
use crate::exchange::{Client, off_the_executor};
use crate::load::{Bounds, LoadOutcome, LoadRun, drive_load_until};

/// The case id recorded on every request of a load run.
const CASE: &str = "load";

/// Where a load, sweep or soak sends its requests.
pub struct LoadTarget {
    /// The client: the target (base URL, model, key) and each request's
    /// deadline and body limit.
    pub client: Client,
    /// The prompt tokens the target's context window leaves; presets are
    /// clipped to it. `None`: not clipped.
    pub context_tokens: Option<u64>,
}

/// The load a run offers: the open- and closed-loop shapes of `load`,
/// `soak` and each `sweep` step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Offered {
    /// A closed loop of this many users, each sending its next request
    /// when its previous one ended.
    Users(u64),
    /// A Poisson open loop at this many requests per second.
    Rate(f64),
}

impl Offered {
    /// The load model of this shape.
    pub fn model(self) -> LoadModel {
        match self {
            Offered::Users(users) => LoadModel::Closed {
                users,
                think_time: Duration::ZERO,
            },
            Offered::Rate(rate) => LoadModel::Poisson { rate },
        }
    }
}

/// A load to run.
#[derive(Debug, Clone)]
pub struct Request {
    /// What to send: seed, requests, duration, prompts and load model.
    pub workload: Workload,
    /// The run directory to create (owner-only): `evidence/` and
    /// `summary.json` go there.
    pub run_dir: PathBuf,
    /// Send one shard's share of the plan (`--shard I/N`, `--start-at`);
    /// `None`: the whole plan.
    pub sharding: Option<Sharding>,
}

/// What a load produced.
#[derive(Debug)]
pub struct Report {
    /// The load engine's account of every request.
    pub run: LoadRun,
    /// Distributions and error classes over every sent request.
    pub summary: Summary,
    /// The steady-state window; `None` when no request was sent.
    pub steady: Option<SteadyState>,
    /// The evidence, one file per request.
    pub evidence_dir: PathBuf,
    /// `summary.json`, written owner-only.
    pub summary_file: PathBuf,
    /// The shard sent (also in `summary.json`), with the digest of the
    /// whole plan and the load's zero as wall-clock time; `None` unsharded.
    pub shard: Option<Shard>,
}

/// Runs the load, sending nothing more once `stop` completes.
///
/// # Errors
///
/// When the tokenizer cannot be loaded, the workload cannot be planned,
/// the load cannot run, or its evidence or files cannot be read or written.
pub async fn run(
    target: &LoadTarget,
    request: &Request,
    on_event: &OnEvent<'_>,
    stop: impl Future<Output = ()>,
) -> Result<Report, PerfError> {
    let tokenizer = load_tokenizer()?;
    let evidence_dir = request.run_dir.join("evidence");
    let workload = &request.workload;
    let stop = announced(stop, on_event);
    let (run, shard) = send_sharded(
        target,
        workload,
        &tokenizer,
        &evidence_dir,
        request.sharding,
        on_event,
        stop,
    )
    .await?;
    let Analysis { summary, steady } =
        off_the_executor(|| analyse(&run, &tokenizer, &Slo::default()))?;
    let summary_file = request.run_dir.join("summary.json");
    let json = summary_json(
        workload,
        target.client.target(),
        &run,
        &summary,
        steady.as_ref(),
        shard.as_ref(),
    )?;
    write_owner_only(&summary_file, &json)?;
    Ok(Report {
        run,
        summary,
        steady,
        evidence_dir,
        summary_file,
        shard,
    })
}

/// The o200k_base tokenizer that plans prompts and recounts outputs.
pub(super) fn load_tokenizer() -> Result<Tokenizer, PerfError> {
    off_the_executor(|| Tokenizer::load(&TokenizerSpec::O200kBase, Path::new(".")))
        .map_err(PerfError::Tokenizer)
}

/// Plans `workload` and sends it to `target`, writing the evidence under
/// `evidence_dir` (whose parent, the run directory, is created
/// owner-only); schedules nothing more once `stop` completes (the
/// requests in flight then end as usual).
pub(super) async fn send(
    target: &LoadTarget,
    workload: &Workload,
    tokenizer: &Tokenizer,
    evidence_dir: &Path,
    on_event: &OnEvent<'_>,
    stop: impl Future<Output = ()>,
) -> Result<LoadRun, PerfError> {
    send_sharded(
        target,
        workload,
        tokenizer,
        evidence_dir,
        None,
        on_event,
        stop,
    )
    .await
    .map(|(run, _)| run)
}

/// [`send`], of one shard's share when `sharding` is given: the whole
/// plan is made, its digest taken, and the share sent (from the start
/// time, if one is given). Returns the shard's record too.
async fn send_sharded(
    target: &LoadTarget,
    workload: &Workload,
    tokenizer: &Tokenizer,
    evidence_dir: &Path,
    sharding: Option<Sharding>,
    on_event: &OnEvent<'_>,
    stop: impl Future<Output = ()>,
) -> Result<(LoadRun, Option<Shard>), PerfError> {
    if let Some(run_dir) = evidence_dir.parent() {
        create_owner_only(run_dir)?;
    }
    let plan = workload.plan(tokenizer, Path::new("."), target.context_tokens)?;
    let digest = sharding.map(|_| off_the_executor(|| plan_digest(&[(CASE, &plan)])));
    let planned = match sharding {
        Some(s) => plan.iter().filter(|p| s.shard.takes(p.index)).count(),
        None => plan.len(),
    };
    let to = target.client.target();
    on_event(Event::LoadStarted {
        planned: planned as u64,
        load: workload.load.clone(),
        base_url: to.base_url.clone(),
        model: to.model.clone(),
        evidence_dir: evidence_dir.to_path_buf(),
    });
    let bounds = Bounds {
        max_requests: Some(workload.requests),
        duration: workload.duration,
        shard: sharding.map(|s| s.shard),
        start_at: sharding.and_then(|s| s.start_at),
        ..Bounds::default()
    };
    let run = drive_load_until(
        &target.client,
        CASE,
        &plan,
        &workload.load,
        bounds,
        evidence_dir,
        |p| on_event(Event::LoadProgress(*p)),
        stop,
    )
    .await;
    on_event(Event::LoadEnded);
    let run = run?;
    let shard = sharding.zip(digest).map(|(s, plan_digest)| Shard {
        index: s.shard.index,
        count: s.shard.count,
        plan_digest,
        anchor_unix_ns: run.anchor_unix_ns,
        start_at_unix_ns: s.start_at.map(unix_ns),
        anchors_unix_ns: BTreeMap::from([(CASE.to_string(), run.anchor_unix_ns)]),
    });
    Ok((run, shard))
}

/// A run's summary and its steady-state window.
pub(super) struct Analysis {
    /// Distributions and error classes over every sent request.
    pub(super) summary: Summary,
    /// The steady-state window; `None` when no request was sent.
    pub(super) steady: Option<SteadyState>,
}

/// One request's metrics on the run's clock.
struct Measured {
    start_ns: u64,
    end_ns: u64,
    metrics: ExchangeMetrics,
}

/// The summary of a run and its steady-state window, with goodput under `slo`.
pub(super) fn analyse(
    run: &LoadRun,
    tokenizer: &Tokenizer,
    slo: &Slo,
) -> Result<Analysis, PerfError> {
    let measured = measure(run, tokenizer)?;
    let metrics: Vec<ExchangeMetrics> = measured.iter().map(|m| m.metrics.clone()).collect();
    let summary = summarize(&metrics)?;
    let timed: Vec<TimedExchange<'_>> = measured
        .iter()
        .map(|m| TimedExchange {
            start_ns: m.start_ns,
            end_ns: m.end_ns,
            metrics: &m.metrics,
        })
        .collect();
    let steady = if timed.is_empty() {
        None
    } else {
        Some(steady_state(&timed, &WindowSpec::default(), slo)?)
    };
    Ok(Analysis { summary, steady })
}

/// The metrics of every sent request, read back from its evidence.
fn measure(run: &LoadRun, tokenizer: &Tokenizer) -> Result<Vec<Measured>, PerfError> {
    let mut measured = Vec::with_capacity(run.requests.len());
    for request in &run.requests {
        let LoadOutcome::Sent {
            file,
            sent_ns,
            end_ns,
            ..
        } = &request.outcome
        else {
            continue;
        };
        let exchange = last_exchange(file)?;
        measured.push(Measured {
            start_ns: *sent_ns,
            end_ns: (*end_ns).max(*sent_ns),
            metrics: exchange_metrics(&exchange, tokenizer)?,
        });
    }
    Ok(measured)
}

/// The last exchange of a request's evidence file (a load request's only one).
pub(super) fn last_exchange(file: &Path) -> Result<Exchange, PerfError> {
    let mut exchanges = read_exchanges(file).map_err(|source| PerfError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    exchanges
        .pop()
        .ok_or_else(|| PerfError::NoExchange(file.to_path_buf()))
}

/// How the requests are sent, in words (`summary.json`'s `load_model`).
pub fn describe(load: &LoadModel) -> String {
    match load {
        LoadModel::Closed { users, .. } => {
            format!(
                "closed loop, {users} user{}",
                if *users == 1 { "" } else { "s" }
            )
        }
        LoadModel::Poisson { rate } => format!("open loop, Poisson at {rate} requests/s"),
        other => format!("{other:?}"),
    }
}

/// Requests sent per second over the run, in milli-requests per second.
pub fn achieved(run: &LoadRun) -> Option<u64> {
    (run.elapsed_ns > 0).then(|| {
        let rate = u128::from(run.sent) * 1_000_000_000_000 / u128::from(run.elapsed_ns);
        u64::try_from(rate).unwrap_or(u64::MAX)
    })
}

/// `summary.json`: canonical JSON of the run's facts, the summary and the
/// steady-state window (keys sorted, integers only); a shard's record as
/// `load.shard` when the run sent one shard of the plan.
pub(super) fn summary_json(
    workload: &Workload,
    target: &crate::Target,
    run: &LoadRun,
    summary: &Summary,
    steady: Option<&SteadyState>,
    shard: Option<&Shard>,
) -> Result<Vec<u8>, PerfError> {
    let mut load: Vec<(&str, Vec<u8>)> = vec![
        ("base_url", canonical::to_vec(&target.base_url)?),
        ("model", canonical::to_vec(&target.model)?),
        ("dialect", canonical::to_vec(&workload.dialect)?),
        ("seed", canonical::to_vec(&workload.seed)?),
        ("planned", canonical::to_vec(&run.planned)?),
        ("sent", canonical::to_vec(&run.sent)?),
        ("succeeded", canonical::to_vec(&run.succeeded)?),
        ("errors", canonical::to_vec(&run.errors)?),
        ("not_sent", canonical::to_vec(&run.not_sent)?),
        ("unscheduled", canonical::to_vec(&run.unscheduled)?),
        ("interrupted", canonical::to_vec(&run.interrupted)?),
        ("peak_in_flight", canonical::to_vec(&run.peak_in_flight)?),
        ("elapsed_ns", canonical::to_vec(&run.elapsed_ns)?),
        ("achieved_rate_milli", canonical::to_vec(&achieved(run))?),
        ("load_model", canonical::to_vec(&describe(&workload.load))?),
    ];
    if let Some(shard) = shard {
        load.push(("shard", canonical::to_vec(shard)?));
    }
    Ok(file(&mut [
        ("load", object(&mut load)),
        ("summary", canonical::to_vec(summary)?),
        ("steady_state", canonical::to_vec(&steady)?),
    ]))
}
