//! Verifying a fingerprint bundle made with another suite of the same
//! probe set.
//!
//! A fingerprint bundle runs no cases: its evidence answers the probe set
//! alone, so it stays comparable while the rest of the suite changes (a
//! reference fingerprint declared in a profile, or one committed beside a
//! fixture, would otherwise go stale at the first edit of any case). What
//! it must match is the probe set, named by id and version — and any
//! change to a probe bumps the version.

use std::path::Path;

use p256::ecdsa::VerifyingKey;

use super::{FILE, Fingerprint, verify_bundle};
use crate::bundle::{
    self, BundleError, RESULTS_FILE, Verified, read_run, rejudge, verify_files, verify_signature,
};
use crate::canonical;
use crate::suite::Suite;

/// Verifies a fingerprint bundle: as [`bundle::verify`] when it was made
/// with `suite`; otherwise, when it ran no cases, every digest, the
/// signature, its (empty) re-judged results and its fingerprint,
/// re-derived byte for byte with `suite`'s probe set, which must be the
/// probe set it was made with. `Ok((verified, None))` for a bundle
/// without a fingerprint (only when made with `suite`).
///
/// # Errors
///
/// [`BundleError::DifferentSuite`] for an ordinary run of another suite,
/// or a fingerprint of another probe set (naming both); otherwise those of
/// [`bundle::verify`].
pub fn verify_across_suites(
    dir: &Path,
    suite: &Suite,
    key: Option<&VerifyingKey>,
) -> Result<(Verified, Option<Fingerprint>), BundleError> {
    let run = read_run(dir)?;
    if run.suite_digest == suite.digest {
        let verified = bundle::verify(dir, suite, key)?;
        return Ok((verified, verify_bundle(dir, suite)?));
    }
    let other_suite = |bundle: String, disk: String| BundleError::DifferentSuite {
        bundle,
        disk,
        root: suite.root.display().to_string(),
    };
    let path = dir.join(FILE);
    if !run.plan.cases.is_empty() || !path.exists() {
        return Err(other_suite(run.suite_digest, suite.digest.clone()));
    }
    let manifest = verify_files(dir)?;
    let signer = verify_signature(dir, &manifest, key)?;
    let bytes = std::fs::read(&path).map_err(|source| BundleError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let recorded: Fingerprint = serde_json::from_slice(&bytes)
        .map_err(|_| BundleError::FingerprintDiffers(format!("{FILE} is not a fingerprint")))?;
    let current = suite
        .probe_set
        .as_ref()
        .ok_or(BundleError::NoProbeSet)?
        .name();
    if recorded.probe_set != current {
        return Err(other_suite(
            format!("{} (probe set {})", run.suite_digest, recorded.probe_set),
            format!("{} (probe set {current})", suite.digest),
        ));
    }
    // No case was judged: the results are the same with any suite but
    // for the digest they name.
    let mut results = rejudge(dir, suite)?;
    results.suite_digest.clone_from(&run.suite_digest);
    let results_path = dir.join(RESULTS_FILE);
    let written = std::fs::read(&results_path).map_err(|source| BundleError::Io {
        path: results_path.display().to_string(),
        source,
    })?;
    if written != canonical::to_vec(&results)? {
        return Err(BundleError::VerdictsDiffer(format!(
            "{RESULTS_FILE} is not the empty results of a fingerprint bundle"
        )));
    }
    let fingerprint = verify_bundle(dir, suite)?;
    Ok((
        Verified {
            run,
            results,
            files: manifest.files.len(),
            signer,
        },
        fingerprint,
    ))
}
