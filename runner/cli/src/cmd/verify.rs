//! `tokencert verify`: check a bundle offline.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use tokencert_core::bundle::{self, BundleError, Signer};
use tokencert_core::sign;

use super::json_output::{self, VerifyOutput};

/// Options of `tokencert verify`.
#[derive(clap::Args)]
pub struct Args {
    /// The bundle directory (reports/<run-id>), or its location in an
    /// S3-compatible store (s3://BUCKET/PREFIX/<run-id>, see --endpoint-url),
    /// downloaded into a temporary directory and verified there.
    bundle: PathBuf,
    /// Public key (PEM) the bundle must be signed with. Without it a
    /// signature is only checked against the key the bundle names, which
    /// shows it is intact, not who signed it.
    #[arg(long, value_name = "PUB")]
    key: Option<PathBuf>,
    /// For a run that was killed before sealing its bundle (no
    /// manifest.json): explain what evidence is there and what it shows,
    /// case by case. Exit 8: nothing in such a bundle is protected by digests.
    #[arg(long)]
    partial: bool,
    /// Print one JSON document on stdout (spec/schemas/verify-output.schema.json):
    /// verified or not, the check that failed (as the exit status says) and
    /// the signer's key id; the human text goes to stderr.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: super::storage::StoreArgs,
}

/// Verifies; the exit status says what failed (see `tokencert verify --help`).
pub fn run(root: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let suite = super::load_suite(root)?;
    let key = super::read_key(args.key.as_deref(), sign::verifying_key_from_pem)?;
    // An s3:// bundle is verified in a temporary copy, removed on return.
    let (local, _fetched) = super::storage::local_bundle(&args.bundle, &args.store)?;
    if args.partial && !local.join(bundle::MANIFEST_FILE).exists() {
        return explain_partial(&local, &suite, args.json);
    }
    let mut out = json_output::human(args.json);
    match bundle::verify(&local, &suite, key.as_ref()) {
        Ok(verified) => {
            if args.json {
                json_output::print(&VerifyOutput::verified(&args.bundle, &verified))?;
            }
            let r = &verified.results;
            writeln!(
                out,
                "verified {}: {} files match the manifest, suite {} matches, {} case results re-judged byte-identical",
                args.bundle.display(),
                verified.files,
                r.suite_digest,
                r.cases.len()
            )?;
            if let Some(interrupted) = &verified.run.interrupted {
                writeln!(
                    out,
                    "partial: the run was interrupted after {} of {} planned cases",
                    verified.run.plan.cases.len(),
                    interrupted.planned
                )?;
            }
            if let Some(merge) = &verified.run.merge {
                writeln!(
                    out,
                    "merged: {} of {} shards, each verified and re-joined into this evidence byte for byte{}",
                    merge.merged_from.len(),
                    merge.count,
                    if merge.missing.is_empty() {
                        String::new()
                    } else {
                        format!(" (missing: {:?})", merge.missing)
                    }
                )?;
            }
            match verified.signer {
                Signer::Verified { keyid } => writeln!(
                    out,
                    "signed by {keyid}: the signature verifies with the given key"
                )?,
                Signer::Unchecked { keyid } => writeln!(
                    out,
                    "signed by {keyid}, but not checked against a trusted key: pass --key PUB to establish who signed"
                )?,
                Signer::Unsigned => writeln!(
                    out,
                    "unsigned: this bundle carries no signature; anyone who can write it could have made it"
                )?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("verification FAILED for {}: {e}", args.bundle.display());
            if let BundleError::DifferentSuite { bundle, .. } = &e {
                eprintln!("{}", other_suite_hint(bundle));
            }
            let code = exit_code(&e);
            if args.json {
                json_output::print(&VerifyOutput::failed(&args.bundle, &e, code))?;
            }
            Ok(ExitCode::from(code))
        }
    }
}

/// How to get the suite a bundle needs: the standard of the tokencert
/// version that made it (its run.json `tool`).
fn other_suite_hint(needed: &str) -> String {
    format!(
        "this bundle needs suite {needed}; this tokencert embeds {}. Get that suite from the \
         tokencert version named in the bundle's run.json (`tool`): its checkout, or \
         `tokencert suite export DIR` run with its binary; then pass --suite DIR",
        tokencert::standard::digest()
    )
}

/// Describes an unsealed bundle.
fn explain_partial(
    dir: &Path,
    suite: &tokencert_core::suite::Suite,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (run, cases) = bundle::inspect_partial(dir, suite)
        .with_context(|| format!("reading the unsealed bundle {}", dir.display()))?;
    if json {
        json_output::print(&VerifyOutput::unsealed(dir, &run, &cases))?;
    }
    let mut out = json_output::human(json);
    for case in &cases {
        match &case.result {
            None => writeln!(out, "{:<11} {}", "not started", case.id)?,
            Some(result) if case.load.is_some() => {
                writeln!(
                    out,
                    "{:<11} {}: {}",
                    result.verdict.name(),
                    case.id,
                    result.reason
                )?;
                if let Some(load) = &case.load {
                    writeln!(
                        out,
                        "{:<11} load cut off: {} request file(s) in {}: {} ended, {} cut off in flight, {} prepared but not sent, {} unreadable; judged on the {} that ended",
                        "",
                        load.files,
                        load.dir.display(),
                        load.ended,
                        load.cut_off,
                        load.not_sent,
                        load.unreadable,
                        load.ended
                    )?;
                }
            }
            Some(result) => writeln!(
                out,
                "{:<11} {} ({} exchange(s){}): {}",
                result.verdict.name(),
                case.id,
                case.exchanges,
                if case.complete { "" } else { ", cut short" },
                result.reason
            )?,
        }
    }
    let recorded = cases.iter().filter(|c| c.result.is_some()).count();
    let cut = cases
        .iter()
        .filter(|c| c.result.is_some() && !c.complete)
        .count();
    writeln!(
        out,
        "partial bundle {}: run {} started {} and never finished; {} of {} planned cases have evidence ({} cut short), {} never started",
        dir.display(),
        run.run_id,
        run.started_at,
        recorded,
        cases.len(),
        cut,
        cases.len() - recorded
    )?;
    writeln!(
        out,
        "not verified: without a manifest nothing here is protected by digests or a signature; the verdicts above are what the evidence shows as it stands"
    )?;
    Ok(ExitCode::from(8))
}

fn exit_code(error: &BundleError) -> u8 {
    match error {
        BundleError::UnsafePath(_)
        | BundleError::NotAFile(_)
        | BundleError::Missing(_)
        | BundleError::Tampered { .. }
        | BundleError::TooLarge { .. }
        | BundleError::Unlisted(_) => 3,
        BundleError::DifferentSuite { .. } => 4,
        BundleError::VerdictsDiffer(_)
        | BundleError::UnknownCase(_)
        | BundleError::FingerprintDiffers(_)
        | BundleError::MergeDiffers(_) => 5,
        BundleError::NoProbeSet => 4,
        BundleError::Signature(_) => 6,
        BundleError::Unsigned => 7,
        BundleError::Io { .. }
        | BundleError::Malformed { .. }
        | BundleError::Canonical(_)
        | BundleError::Tokenizer(_) => 2,
    }
}
