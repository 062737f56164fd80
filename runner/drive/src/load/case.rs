//! A performance case of a run: its workload planned up front, its load
//! driven, and its per-request evidence joined into the case's evidence
//! file.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tokencert_core::suite::{Case, ChatOverhead, Performance};
use tokencert_core::tokens::Tokenizer;
use tokencert_core::workload::{PlannedRequest, ShardSpec, WorkloadError};

use super::{Bounds, LoadError, LoadOutcome, LoadProgress, LoadRun, drive_load_until};
use crate::exchange::{Client, ClientError};

/// A performance case with its requests planned.
pub struct PlannedCase<'a> {
    /// The case.
    pub case: &'a Case,
    /// Its performance part.
    pub performance: &'a Performance,
    /// Its requests: the whole plan, also in a shard.
    pub plan: Vec<PlannedRequest>,
    /// Send only this shard's share of the plan; `None`: all of it.
    pub shard: Option<ShardSpec>,
    /// The load's start as wall-clock time (`--start-at`); `None`: when
    /// the case is reached.
    pub start_at: Option<SystemTime>,
}

/// Plans a performance case's workload: prompt files are relative to the
/// case file's directory under `suite_root`, and every request is clipped
/// to the target's context window less the chat template's overhead for
/// one user message.
///
/// # Errors
///
/// [`WorkloadError`] when the workload cannot be planned.
pub fn plan_case<'a>(
    case: &'a Case,
    performance: &'a Performance,
    tokenizer: &Tokenizer,
    suite_root: &Path,
    context: u64,
    overhead: &ChatOverhead,
) -> Result<PlannedCase<'a>, WorkloadError> {
    let dir: PathBuf = case.id.split('.').collect();
    let base = suite_root
        .join("suites")
        .join(dir.parent().unwrap_or(Path::new("")));
    let template = overhead.per_message + overhead.reply;
    let plan =
        performance
            .workload
            .plan(tokenizer, &base, Some(context.saturating_sub(template)))?;
    Ok(PlannedCase {
        case,
        performance,
        plan,
        shard: None,
        start_at: None,
    })
}

/// Drives a planned case against `client` (already pointing at the
/// performance model) and writes its exchanges, in plan order, to
/// `evidence` (which must not exist). Each request is first recorded to
/// its own file in a sibling directory `<evidence>.load/` (so a killed run
/// keeps them), joined at the end, then removed. A shard's evidence holds
/// its share only, in plan order, each request record with its plan index.
///
/// # Errors
///
/// [`LoadError`] when the load cannot run or evidence cannot be written.
pub async fn run_case(
    client: &Client,
    planned: &PlannedCase<'_>,
    evidence: &Path,
    progress: impl Fn(&LoadProgress),
) -> Result<(), LoadError> {
    let never = std::future::pending();
    run_case_until(client, planned, evidence, progress, never)
        .await
        .map(drop)
}

/// [`run_case`], stopping the load early when `stop` completes (see
/// [`drive_load_until`]); the requests sent are joined as usual. Returns
/// the load's run (its request files are gone by then: they were joined).
///
/// # Errors
///
/// As [`run_case`].
pub async fn run_case_until(
    client: &Client,
    planned: &PlannedCase<'_>,
    evidence: &Path,
    progress: impl Fn(&LoadProgress),
    stop: impl Future<Output = ()>,
) -> Result<LoadRun, LoadError> {
    let workload = &planned.performance.workload;
    let parts = evidence.with_extension("load");
    let bounds = Bounds {
        max_requests: Some(workload.requests),
        duration: workload.duration,
        shard: planned.shard,
        start_at: planned.start_at,
        ..Bounds::default()
    };
    let run = drive_load_until(
        client,
        &planned.case.id,
        &planned.plan,
        &workload.load,
        bounds,
        &parts,
        progress,
        stop,
    )
    .await?;
    let fail = |path: &Path| {
        let path = path.display().to_string();
        move |source| ClientError::Evidence { path, source }
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(evidence).map_err(fail(evidence))?;
    for request in &run.requests {
        if let LoadOutcome::Sent { file, .. } = &request.outcome {
            let mut part = std::fs::File::open(file).map_err(fail(file))?;
            std::io::copy(&mut part, &mut out).map_err(fail(evidence))?;
        }
    }
    out.sync_all().map_err(fail(evidence))?;
    std::fs::remove_dir_all(&parts).map_err(fail(&parts))?;
    Ok(run)
}
