//! Identification from fingerprint bundles: every bundle is verified (its
//! digests, its signature, its re-judged results and its re-derived
//! fingerprint) before its fingerprint is used.

use std::path::Path;

use p256::ecdsa::VerifyingKey;

use super::{Identification, IdentifyError, RunSummary, identify};
use crate::bundle::{BundleError, Signer};
use crate::fingerprint::{self, Fingerprint};
use crate::suite::Suite;

/// Why fingerprint bundles could not be identified.
#[derive(Debug, thiserror::Error)]
pub enum IdentifyBundlesError {
    /// A bundle cannot be read or does not verify.
    #[error("{bundle} does not verify: {source}")]
    Bundle {
        /// The bundle.
        bundle: String,
        /// Why.
        source: BundleError,
    },
    /// A bundle verifies but holds no fingerprint.
    #[error(
        "{bundle} is an ordinary run, not a fingerprint bundle (no {}): make one with `tokencert fingerprint`",
        fingerprint::FILE
    )]
    NotAFingerprint {
        /// The bundle.
        bundle: String,
    },
    /// The fingerprints cannot be compared.
    #[error(transparent)]
    Identify(#[from] IdentifyError),
}

/// The fingerprint bundles to identify, and the keys they must be signed
/// with.
#[derive(Debug, Clone, Copy)]
pub struct Bundles<'a> {
    /// The candidate's bundle.
    pub candidate: &'a Path,
    /// The reference's bundle.
    pub reference: &'a Path,
    /// Two fingerprint bundles of one endpoint, measuring its noise floor.
    pub noise: Option<[&'a Path; 2]>,
    /// The key the candidate must be signed with, when given.
    pub candidate_key: Option<&'a VerifyingKey>,
    /// The key the reference and the noise bundles must be signed with.
    pub reference_key: Option<&'a VerifyingKey>,
}

/// Verifies every bundle against `suite`, then identifies the candidate's
/// fingerprint against the reference's; the output names each bundle's run
/// and signature.
///
/// # Errors
///
/// [`IdentifyBundlesError`]: the first bundle that does not verify or holds
/// no fingerprint, or fingerprints of different probe sets.
pub fn identify_bundles(
    bundles: Bundles<'_>,
    suite: &Suite,
) -> Result<Identification, IdentifyBundlesError> {
    let (candidate, candidate_run) = read(bundles.candidate, suite, bundles.candidate_key)?;
    let (reference, reference_run) = read(bundles.reference, suite, bundles.reference_key)?;
    let noise = match bundles.noise {
        Some([a, b]) => Some([
            read(a, suite, bundles.reference_key)?,
            read(b, suite, bundles.reference_key)?,
        ]),
        None => None,
    };
    let mut out = identify(
        &candidate,
        &reference,
        noise.as_ref().map(|[a, b]| [&a.0, &b.0]),
    )?;
    out.candidate.run = Some(candidate_run);
    out.reference.run = Some(reference_run);
    if let Some([a, b]) = noise {
        out.noise.source = format!(
            "measured: two fingerprints of one endpoint, runs {} and {}",
            a.1.run_id, b.1.run_id
        );
        out.noise.runs = vec![a.1, b.1];
    }
    Ok(out)
}

/// A verified bundle's fingerprint and run.
fn read(
    dir: &Path,
    suite: &Suite,
    key: Option<&VerifyingKey>,
) -> Result<(Fingerprint, RunSummary), IdentifyBundlesError> {
    let name = || dir.display().to_string();
    let failed = |source| IdentifyBundlesError::Bundle {
        bundle: name(),
        source,
    };
    // A fingerprint made with another suite of the same probe set is
    // still comparable (see `fingerprint::verify_across_suites`).
    let (verified, fingerprint) =
        fingerprint::verify_across_suites(dir, suite, key).map_err(failed)?;
    let fingerprint =
        fingerprint.ok_or_else(|| IdentifyBundlesError::NotAFingerprint { bundle: name() })?;
    let run = &verified.run;
    Ok((
        fingerprint,
        RunSummary {
            run_id: run.run_id.clone(),
            base_url: run.target.base_url.clone(),
            started_at: run.started_at.clone(),
            signature: match &verified.signer {
                Signer::Unsigned => "unsigned".into(),
                Signer::Unchecked { keyid } => {
                    format!("signed by {keyid}, not checked against a given key")
                }
                Signer::Verified { keyid } => format!("signed by {keyid}, the given key"),
            },
        },
    ))
}
