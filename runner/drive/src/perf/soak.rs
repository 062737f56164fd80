//! `soak`: a load of bounded duration, analysed as stability over time
//! (per-window figures, their coefficients of variation, error bursts) and
//! written to `soak.json`.

use std::path::PathBuf;
use std::time::Duration;

use tokencert_core::canonical;
use tokencert_core::performance::place;
use tokencert_core::soak::{SOAK_FORMAT, SoakFigures, SoakSample, SoakSpec, soak};
use tokencert_core::tokens::Tokenizer;
use tokencert_core::workload::Workload;

use super::files::{file, object, write_owner_only};
use super::load::{self, LoadTarget, describe, last_exchange};
use super::{OnEvent, PerfError, announced};
use crate::Target;
use crate::exchange::off_the_executor;
use crate::load::{LoadOutcome, LoadRun};

/// A soak to run.
#[derive(Debug, Clone)]
pub struct Request {
    /// What to send; its `duration` (required) is how long requests are
    /// sent, and its `requests` are planned up front.
    pub workload: Workload,
    /// The length of a window; requests count in the window in which they
    /// ended.
    pub window: Duration,
    /// The run directory to create (owner-only): `evidence/` and
    /// `soak.json` go there.
    pub run_dir: PathBuf,
}

/// What a soak produced.
#[derive(Debug)]
pub struct Report {
    /// The load engine's account of every request.
    pub run: LoadRun,
    /// Whether it sent every planned request before its duration.
    pub plan_exhausted: bool,
    /// The per-window figures and their stability.
    pub figures: SoakFigures,
    /// The evidence, one file per request.
    pub evidence_dir: PathBuf,
    /// `soak.json`, written owner-only.
    pub soak_file: PathBuf,
}

/// Runs the soak, sending nothing more once `stop` completes (what ran is
/// still analysed).
///
/// # Errors
///
/// When the workload has no duration, or as [`load::run`].
pub async fn run(
    target: &LoadTarget,
    request: &Request,
    on_event: &OnEvent<'_>,
    stop: impl Future<Output = ()>,
) -> Result<Report, PerfError> {
    let workload = &request.workload;
    let duration = workload.duration.ok_or(PerfError::Unbounded)?;
    let tokenizer = load::load_tokenizer()?;
    let evidence_dir = request.run_dir.join("evidence");
    let stop = announced(stop, on_event);
    let run = load::send(target, workload, &tokenizer, &evidence_dir, on_event, stop).await?;
    let samples = off_the_executor(|| samples(&run, &tokenizer))?;
    let plan_exhausted = run.unscheduled == 0 && run.planned == workload.requests;
    let duration_ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    // After the last send the load only drains: its windows are not steady.
    let last_send = run
        .requests
        .iter()
        .filter_map(|r| match r.outcome {
            LoadOutcome::Sent { sent_ns, .. } => Some(sent_ns),
            LoadOutcome::NotSent(_) => None,
        })
        .max()
        .unwrap_or(0);
    let spec = SoakSpec {
        window_ns: u64::try_from(request.window.as_nanos()).unwrap_or(u64::MAX),
        sending_until_ns: if run.interrupted || plan_exhausted {
            last_send.min(duration_ns)
        } else {
            duration_ns
        },
    };
    let figures = soak(&samples, spec)?;
    let soak_file = request.run_dir.join("soak.json");
    let json = soak_json(
        workload,
        target.client.target(),
        &run,
        plan_exhausted,
        duration_ns,
        &figures,
    )?;
    write_owner_only(&soak_file, &json)?;
    Ok(Report {
        run,
        plan_exhausted,
        figures,
        evidence_dir,
        soak_file,
    })
}

/// Every sent request as a soak sample, read back from its evidence.
fn samples(run: &LoadRun, tokenizer: &Tokenizer) -> Result<Vec<SoakSample>, PerfError> {
    let mut samples = Vec::with_capacity(run.requests.len());
    for request in &run.requests {
        let LoadOutcome::Sent { file, .. } = &request.outcome else {
            continue;
        };
        let exchange = last_exchange(file)?;
        let placed = place(std::slice::from_ref(&exchange), tokenizer).map_err(|source| {
            PerfError::Measure {
                path: file.clone(),
                source,
            }
        })?;
        samples.extend(placed.iter().map(|p| SoakSample::of(request.index, p)));
    }
    Ok(samples)
}

/// `soak.json`: canonical JSON of the run's facts and its soak figures.
fn soak_json(
    workload: &Workload,
    target: &Target,
    run: &LoadRun,
    plan_exhausted: bool,
    duration_ns: u64,
    figures: &SoakFigures,
) -> Result<Vec<u8>, PerfError> {
    let mut facts: Vec<(&str, Vec<u8>)> = vec![
        ("base_url", canonical::to_vec(&target.base_url)?),
        ("model", canonical::to_vec(&target.model)?),
        ("seed", canonical::to_vec(&workload.seed)?),
        ("load_model", canonical::to_vec(&describe(&workload.load))?),
        ("duration_ns", canonical::to_vec(&duration_ns)?),
        ("planned", canonical::to_vec(&run.planned)?),
        ("sent", canonical::to_vec(&run.sent)?),
        ("not_sent", canonical::to_vec(&run.not_sent)?),
        ("unscheduled", canonical::to_vec(&run.unscheduled)?),
        ("elapsed_ns", canonical::to_vec(&run.elapsed_ns)?),
        ("interrupted", canonical::to_vec(&run.interrupted)?),
        ("plan_exhausted", canonical::to_vec(&plan_exhausted)?),
    ];
    Ok(file(&mut [
        ("format", canonical::to_vec(&SOAK_FORMAT)?),
        ("load", object(&mut facts)),
        ("figures", canonical::to_vec(figures)?),
    ]))
}
