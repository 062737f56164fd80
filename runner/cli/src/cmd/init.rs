//! `tokencert init`: probe an endpoint and propose a target profile.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokencert::target;
use tokencert_core::judge::{Results, Verdict};
use tokencert_core::suite::{Capability, Suite};
use tokencert_drive::init::{self, InitTarget};

/// Options of `tokencert init`.
#[derive(clap::Args)]
pub struct Args {
    /// Base URL of the target, including the version prefix
    /// (e.g. https://api.example.com/v1).
    #[arg(long, env = "TOKENCERT_BASE_URL")]
    target: String,
    /// Model to probe (the profile's `model`).
    #[arg(long, env = "TOKENCERT_MODEL")]
    model: String,
    /// Environment variable holding the bearer key (never pass keys as
    /// arguments). The key is sent in the Authorization header only and
    /// never written to the profile.
    #[arg(long, value_name = "VAR", default_value = target::env::API_KEY)]
    api_key_env: String,
    /// Allow a plain http:// target that is not on this machine (the key
    /// and every probe would cross the network unencrypted).
    #[arg(long, env = "TOKENCERT_ALLOW_INSECURE_HTTP")]
    allow_insecure_http: bool,
    /// Deadline per probe request, in seconds, from send to the last body byte.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Write the profile to this file (which must not exist yet) instead
    /// of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Probes the target and writes the profile; see [`Args`].
pub fn run(root: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let suite = super::load_suite(root)?;
    let api_key = target::api_key_from_env(&args.api_key_env)?;
    if let Some(out) = &args.out
        && out.exists()
    {
        anyhow::bail!(
            "{} exists: init does not overwrite a profile; name another file",
            out.display()
        );
    }
    let probed = InitTarget {
        base_url: args.target.clone(),
        model: args.model.clone(),
        api_key,
        allow_insecure_http: args.allow_insecure_http,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    eprintln!(
        "tokencert init: probing {} (model {}) one request at a time",
        probed.base_url, probed.model
    );
    let observations = super::runtime()?.block_on(init::probe(&probed, |probe| {
        eprintln!("  {probe}");
    }))?;
    let classes: BTreeSet<String> = suite.slo_profiles.keys().cloned().collect();
    let profile = init::profile_yaml(&observations, &classes);
    for note in &observations.notes {
        eprintln!("{note}");
    }
    for (capability, seen) in &observations.capabilities {
        let how = if seen.observed {
            "observed"
        } else {
            "not observed"
        };
        eprintln!("{:<15} {how}: {}", capability.name(), seen.evidence);
    }
    match &args.out {
        Some(out) => {
            let mut file = std::fs::File::create_new(out)
                .with_context(|| format!("creating {}", out.display()))?;
            file.write_all(profile.as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "wrote {}: review it (a claim is your statement), then: tokencert run --target {} --profile {}",
                out.display(),
                probed.base_url,
                out.display()
            );
        }
        None => {
            print!("{profile}");
            std::io::stdout().flush().context("writing the profile")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// For `run` without a profile against a remote target: the capabilities
/// not claimed, the cases each left unrun, and how to claim them. `None`
/// when every capability is claimed.
pub fn unclaimed_hint(
    suite: &Suite,
    claims: &BTreeSet<Capability>,
    results: &Results,
) -> Option<String> {
    let unclaimed: Vec<String> = Capability::ALL
        .iter()
        .filter(|c| !claims.contains(c))
        .map(|c| {
            let cases = results
                .cases
                .iter()
                .filter(|r| r.verdict == Verdict::NotClaimed)
                .filter(|r| {
                    suite
                        .case(&r.id)
                        .is_some_and(|case| case.requires.contains(c))
                })
                .count();
            format!("{} ({cases} cases)", c.name())
        })
        .collect();
    if unclaimed.is_empty() {
        return None;
    }
    Some(format!(
        "not claimed (no --profile): {}. A case needing an unclaimed capability is not run. \
         To claim what the target does: `tokencert init --target URL --model M --out target.yaml` \
         probes it and proposes a profile; review it, then pass --profile target.yaml \
         (or write a profile's `claims:` yourself, docs/targets.md)",
        unclaimed.join(", ")
    ))
}
