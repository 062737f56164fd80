//! `tokencert fingerprint`: send the suite's probe set to a target and
//! write an ordinary bundle whose `fingerprint.json` is derived from the
//! evidence (and re-derived by `verify`).
//!
//! The bundle's plan has no cases (the probes are not conformance cases),
//! so its `results.json` holds no verdict; its evidence holds one file per
//! probe, named by the probe's case id (`fingerprint.<kind>.<probe>`).
//! Probes are sent one at a time, in probe-set order: a server that
//! batches requests may compute a token's log-probability differently
//! beside another request, and a fingerprint should not depend on that.

use std::path::PathBuf;

use tokencert_core::bundle::{self, Observation, TargetInfo};
use tokencert_core::fingerprint::{self, Fingerprint};
use tokencert_core::judge::Plan;
use tokencert_core::suite::Suite;

use crate::exchange::{Client, off_the_executor};
use crate::run::{RunError, run_info, timestamp};

/// Everything a fingerprint needs.
pub struct FingerprintConfig<'a> {
    /// The loaded suite, with its probe set.
    pub suite: &'a Suite,
    /// Client for the target (its model is the one fingerprinted).
    pub client: Client,
    /// The target as recorded in `run.json`.
    pub target: TargetInfo,
    /// The bundle directory to create; must not exist.
    pub bundle_dir: PathBuf,
    /// Ask generation probes for log-probabilities (`logprobs`,
    /// `top_logprobs`); off for a target that does not offer them.
    pub logprobs: bool,
}

/// Sends the probe set and writes the bundle; returns the fingerprint
/// written to its `fingerprint.json`.
///
/// # Errors
///
/// [`RunError::NoProbeSet`] when the suite has no probe set, and the
/// errors of writing evidence or the bundle.
pub async fn fingerprint(config: FingerprintConfig<'_>) -> Result<Fingerprint, RunError> {
    fingerprint_observed(config, None).await
}

/// [`fingerprint`], with `observation` (the observatory's observer,
/// location and probe) recorded in `run.json`, as an observatory probe's
/// run records it.
///
/// # Errors
///
/// As [`fingerprint`].
pub async fn fingerprint_observed(
    config: FingerprintConfig<'_>,
    observation: Option<Observation>,
) -> Result<Fingerprint, RunError> {
    let set = config
        .suite
        .probe_set
        .as_ref()
        .ok_or(RunError::NoProbeSet)?;
    let dir = &config.bundle_dir;
    crate::run::create_bundle_dirs(dir)?;
    let mut info = run_info(
        dir,
        config.suite,
        Plan::default(),
        config.target.clone(),
        config.client.limits(),
    );
    info.observation = observation;
    bundle::write_canonical(&dir.join(bundle::RUN_FILE), &info)?;
    for case in set.cases(config.logprobs) {
        config
            .client
            .execute(&case, &bundle::evidence_path(dir, &case.id))
            .await?;
    }
    info.finished_at = Some(timestamp());
    bundle::write_canonical(&dir.join(bundle::RUN_FILE), &info)?;
    let suite = config.suite;
    let derived = off_the_executor(|| fingerprint::of_bundle(dir, suite))?;
    bundle::write_canonical(&dir.join(fingerprint::FILE), &derived)?;
    off_the_executor(|| bundle::seal(dir, suite, &info))?;
    Ok(derived)
}
