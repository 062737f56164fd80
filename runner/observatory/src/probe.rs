//! One probe: an ordinary run (`tokencert_drive::run_until`, as `tokencert
//! run` drives it) of the probe's cases against one target, with the
//! observation recorded in `run.json`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokencert_core::bundle::{self, Observation};
use tokencert_core::suite::Suite;
use tokencert_drive::{
    Client, FingerprintConfig, Limits, PreparedRemote, RunConfig, RunError, RunReport,
};

/// Requests in flight at once within one probe (as `tokencert run`'s default).
pub const JOBS: usize = 4;

/// Largest response body read per request (as `tokencert run`'s default).
pub const BODY_LIMIT: u64 = 16 * 1024 * 1024;

/// Everything one probe run needs, owned, so that it runs as a task of its own.
pub(crate) struct Job {
    pub suite: Arc<Suite>,
    /// The ids of the cases to run, in suite order.
    pub cases: Vec<String>,
    pub target: PreparedRemote,
    /// Deadline of one exchange.
    pub timeout: Duration,
    /// The bundle directory to create.
    pub bundle_dir: PathBuf,
    pub observation: Observation,
    /// `Some(logprobs)` for a fingerprint probe: the suite's probe set is
    /// sent instead of cases.
    pub fingerprint: Option<bool>,
}

/// Runs the probe until it ends or `stop` completes (then the cases in
/// flight finish, a load sends nothing more, and the bundle is sealed with
/// what ran). A fingerprint probe runs to its end.
pub(crate) async fn run(job: Job, stop: impl Future<Output = ()>) -> Result<RunReport, RunError> {
    let suite = &*job.suite;
    let limits = Limits {
        timeout: job.timeout,
        body_limit: BODY_LIMIT,
        polite_retries: 0,
    };
    if let Some(logprobs) = job.fingerprint {
        // A fingerprint is a few short requests, each with its deadline: it
        // is not interrupted, so its bundle is whole or not written.
        let config = FingerprintConfig {
            suite,
            client: Client::new(job.target.target.clone(), limits)?,
            target: job.target.info.clone(),
            bundle_dir: job.bundle_dir.clone(),
            logprobs,
        };
        tokencert_drive::fingerprint_observed(config, Some(job.observation)).await?;
        let results = bundle::read_results(&job.bundle_dir)?;
        return Ok(RunReport {
            bundle_dir: job.bundle_dir,
            results,
        });
    }
    let config = RunConfig {
        suite,
        cases: job.cases.iter().filter_map(|id| suite.case(id)).collect(),
        client: Client::new(job.target.target.clone(), limits)?,
        claims: job.target.claims.clone(),
        accounting: job.target.accounting.clone(),
        target: job.target.info.clone(),
        bundle_dir: job.bundle_dir,
        jobs: JOBS,
        performance: job.target.performance.clone(),
        load_progress: None,
        observation: Some(job.observation),
    };
    tokencert_drive::run_until(config, |_| {}, stop).await
}

/// A directory named `name` under `dir` that does not exist yet (`-2`,
/// `-3`, ... appended when it does).
pub(crate) fn fresh_dir(dir: &std::path::Path, name: &str) -> PathBuf {
    let mut path = dir.join(name);
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{name}-{n}"));
        n += 1;
    }
    path
}
