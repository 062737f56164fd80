//! `tokencert merge SHARD... --out DIR`: join the shard bundles of one
//! sharded plan into one bundle, judged like any run (see
//! `tokencert_core::merge`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use tokencert_core::bundle::{self, BundleError};
use tokencert_core::judge::Verdict;
use tokencert_core::merge::{self, AlignedBy, MergeError, MergeRequest, Merged};
use tokencert_core::sign;

/// Exit status when a shard was judged with another suite than the one in use.
const DIFFERENT_SUITE: u8 = 4;

/// Options of `tokencert merge`.
#[derive(clap::Args)]
pub struct Args {
    /// The shard bundles (`tokencert run --shard I/N` wrote them), or
    /// directories holding them: a directory without a run.json stands for
    /// every subdirectory of it that has one; or s3://BUCKET/PREFIX
    /// locations in an S3-compatible store (see --endpoint-url), downloaded
    /// into a temporary directory first.
    #[arg(required = true, value_name = "SHARD")]
    shards: Vec<PathBuf>,
    /// The merged bundle's directory: created, or an empty one. Its name
    /// is the merged run's id.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Public key (PEM) every shard must be signed with. Without it each
    /// shard's signature, if any, is only checked against the key it names.
    #[arg(long, value_name = "PUB")]
    key: Option<PathBuf>,
    /// Private key (PKCS#8 PEM, from `tokencert keygen`) to sign the merged
    /// bundle with. Without one it is written unsigned.
    #[arg(long, value_name = "FILE", env = "TOKENCERT_SIGNING_KEY")]
    signing_key: Option<PathBuf>,
    /// Merge the shards given even when some of the plan's are missing;
    /// the merged bundle's run.json lists the missing indexes, and their
    /// requests are absent from its evidence and figures.
    #[arg(long)]
    partial: bool,
    #[command(flatten)]
    store: super::storage::StoreArgs,
}

/// Merges; the exit status says how (see `tokencert merge --help`).
pub fn run(root: &std::path::Path, args: Args) -> anyhow::Result<ExitCode> {
    let suite = super::load_suite(root)?;
    let key = super::read_key(args.key.as_deref(), sign::verifying_key_from_pem)?;
    let signing_key = super::read_key(args.signing_key.as_deref(), sign::signing_key_from_pem)?;
    let mut shards = Vec::new();
    // s3:// sources are downloaded into temporary directories, removed on return.
    let (sources, _fetched) = super::storage::local_sources(&args.shards, &args.store)?;
    for arg in &sources {
        shards.extend(merge::shard_paths(arg)?);
    }
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let started = Instant::now();
    let request = MergeRequest {
        shards: &shards,
        out: &args.out,
        suite: &suite,
        key: key.as_ref(),
        partial: args.partial,
        tool: concat!("tokencert ", env!("CARGO_PKG_VERSION")),
        now: &now,
    };
    let merged = match merge::merge(&request) {
        Ok(merged) => merged,
        Err(e) => {
            eprintln!("merge REFUSED: {e}");
            let other_suite = matches!(
                &e,
                MergeError::Shard {
                    source: BundleError::DifferentSuite { .. },
                    ..
                }
            );
            return Ok(ExitCode::from(if other_suite {
                DIFFERENT_SUITE
            } else {
                2
            }));
        }
    };
    print_merge(&merged, started.elapsed());
    println!("bundle: {}", args.out.display());
    match &signing_key {
        Some(key) => {
            let keyid = bundle::sign_bundle(&args.out, key)
                .with_context(|| format!("signing {}", args.out.display()))?;
            println!("signed: by {keyid} ({})", sign::ENVELOPE_FILE);
        }
        None => println!("unsigned: no --signing-key or TOKENCERT_SIGNING_KEY was given"),
    }
    println!("verify: tokencert verify {}", args.out.display());
    Ok(if merged.results.conforms() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The shards, the alignment, and each case's merged verdict.
fn print_merge(merged: &Merged, took: std::time::Duration) {
    let Some(info) = &merged.run.merge else {
        return;
    };
    let given: Vec<String> = info
        .merged_from
        .iter()
        .map(|m| m.index.to_string())
        .collect();
    println!(
        "merged {} of {} shards ({}) of plan {} in {:.2} s",
        info.merged_from.len(),
        info.count,
        given.join(", "),
        info.plan_digest,
        took.as_secs_f64()
    );
    if !info.missing.is_empty() {
        let missing: Vec<String> = info.missing.iter().map(u64::to_string).collect();
        println!(
            "PARTIAL: shard(s) {} missing; their requests are not in the merged evidence",
            missing.join(", ")
        );
    }
    if let Some(start_at) = info.start_at_unix_ns {
        println!(
            "common start: --start-at {} (UNIX ns), the zero of each shard's first performance case",
            start_at
        );
    }
    for (case, joined) in &merged.joined {
        let result = merged.results.cases.iter().find(|c| &c.id == case);
        let (verdict, reason) = result.map_or(("-", String::new()), |r| {
            (r.verdict.name(), r.reason.clone())
        });
        let alignment = info.alignment.get(case);
        let span = result
            .and_then(|r| r.performance.as_ref())
            .map(|f| f.load.span_ns)
            .filter(|span| *span > 0);
        // An offset of d between two hosts' clocks moves the union's span,
        // and so its aggregate rates, by about d / span.
        let axis = match (alignment, span) {
            (Some(a), Some(span)) => {
                let per_ms = significant(100.0 * 1e6 / span as f64);
                match a.by {
                    AlignedBy::StartAt => format!(
                        "; aligned on the common start: each ms of clock offset between the hosts (not observable here) moves aggregate rates by about {per_ms} %"
                    ),
                    AlignedBy::Anchors => format!(
                        "; aligned by wall-clock anchors: the shards' schedules started up to {:.3} ms apart (no common start: the union is the load as offered, staggered); each ms of clock offset moves aggregate rates by about {per_ms} %",
                        a.anchor_spread_ns as f64 / 1e6
                    ),
                }
            }
            _ => String::new(),
        };
        println!(
            "{:<7} {case}: {} requests, {} evidence lines{axis}: {reason}",
            verdict.to_uppercase(),
            joined.requests,
            joined.lines,
        );
    }
    let failing = merged
        .results
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error))
        .count();
    println!(
        "{}",
        if merged.results.conforms() {
            "CONFORMS (every MUST case passes)".to_string()
        } else {
            format!("DOES NOT CONFORM ({failing} case(s) failed or could not be judged)")
        }
    );
}

/// `x` with three significant digits (0.0000213, 2.13, 213).
fn significant(x: f64) -> String {
    if x <= 0.0 || !x.is_finite() {
        return "0".into();
    }
    let decimals = (2 - x.log10().floor() as i32).max(0) as usize;
    format!("{x:.decimals$}")
}
