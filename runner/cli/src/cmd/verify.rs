//! `tokencert verify`: check a bundle offline.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokencert_core::bundle::{self, BundleError};

/// Options of `tokencert verify`.
#[derive(clap::Args)]
pub struct Args {
    /// The bundle directory (reports/<run-id>).
    bundle: PathBuf,
}

/// Verifies; the exit status says what failed (see `tokencert verify --help`).
pub fn run(root: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let suite = super::load_suite(root)?;
    match bundle::verify(&args.bundle, &suite) {
        Ok(verified) => {
            let r = &verified.results;
            println!(
                "verified {}: {} files match the manifest, suite {} matches, {} case results re-judged byte-identical",
                args.bundle.display(),
                verified.files,
                r.suite_digest,
                r.cases.len()
            );
            println!(
                "unsigned: this bundle carries no signature; anyone who can write it could have made it"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("verification FAILED for {}: {e}", args.bundle.display());
            Ok(ExitCode::from(exit_code(&e)))
        }
    }
}

fn exit_code(error: &BundleError) -> u8 {
    match error {
        BundleError::UnsafePath(_)
        | BundleError::NotAFile(_)
        | BundleError::Missing(_)
        | BundleError::Tampered { .. }
        | BundleError::Unlisted(_) => 3,
        BundleError::DifferentSuite { .. } => 4,
        BundleError::VerdictsDiffer(_) | BundleError::UnknownCase(_) => 5,
        BundleError::Io { .. } | BundleError::Malformed { .. } | BundleError::Canonical(_) => 2,
    }
}
