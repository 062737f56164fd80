//! `tokencert fingerprint`: send the probe set of `suites/fingerprint/` to a
//! target and write a fingerprint bundle (see `tokencert_drive::fingerprint`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use tokencert::target::{self, Selection};
use tokencert_core::bundle;
use tokencert_core::fingerprint::Fingerprint;
use tokencert_core::sign;
use tokencert_core::suite::load_profile;
use tokencert_drive::{ApiKey, Client, FingerprintConfig, Limits};

/// Options of `tokencert fingerprint`.
#[derive(clap::Args)]
pub struct Args {
    /// Base URL of the target, including the version prefix (e.g.
    /// http://127.0.0.1:8000/v1). Without it, the embedded reference
    /// service is started on 127.0.0.1 and fingerprinted.
    #[arg(long, env = "TOKENCERT_BASE_URL")]
    target: Option<String>,
    /// Model to fingerprint; defaults to the profile's model. With the
    /// embedded reference: tokencert-reference (the default),
    /// tokencert-reference-substituted or tokencert-reference-quantized.
    #[arg(long, env = "TOKENCERT_MODEL")]
    model: Option<String>,
    /// Environment variable holding the bearer key (never pass keys as arguments).
    #[arg(long, value_name = "VAR", default_value = target::env::API_KEY)]
    api_key_env: String,
    /// Target profile (YAML): its model, and whether it claims logprobs.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// The bundle directory to write; must not exist.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Deadline per request, in seconds, from send to the last body byte.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Do not ask for log-probabilities (for a target that refuses them);
    /// by default they are asked unless a profile is given that does not
    /// claim logprobs.
    #[arg(long)]
    no_logprobs: bool,
    /// Seed of the embedded reference service.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Allow a plain http:// target that is not on this machine.
    #[arg(long, env = "TOKENCERT_ALLOW_INSECURE_HTTP")]
    allow_insecure_http: bool,
    /// Private key (PKCS#8 PEM, from `tokencert keygen`) to sign the bundle
    /// with. Without one the bundle is written unsigned.
    #[arg(long, value_name = "FILE", env = "TOKENCERT_SIGNING_KEY")]
    key: Option<PathBuf>,
}

/// Fingerprints the target; see [`Args`].
pub fn run(root: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let suite = super::load_suite(root)?;
    let Some(set) = &suite.probe_set else {
        anyhow::bail!(
            "the suite at {} has no fingerprint probe set",
            root.display()
        );
    };
    let signing_key = super::read_key(args.key.as_deref(), sign::signing_key_from_pem)?;
    let profile = match &args.profile {
        Some(path) => {
            Some(load_profile(path).map_err(|p| anyhow::anyhow!("invalid target profile: {p}"))?)
        }
        None => None,
    };
    let logprobs = !args.no_logprobs
        && profile.as_ref().is_none_or(|p| {
            p.claims
                .contains(&tokencert_core::suite::Capability::Logprobs)
        });
    let api_key = std::env::var(&args.api_key_env)
        .ok()
        .filter(|k| !k.is_empty())
        .map(ApiKey::new);
    if api_key.is_none() && args.api_key_env != target::env::API_KEY {
        anyhow::bail!(
            "--api-key-env {}: the variable is not set",
            args.api_key_env
        );
    }
    let embedded = args.target.is_none();
    let selection = Selection {
        base_url: args.target.clone(),
        model: args.model.clone(),
        api_key: if embedded { None } else { api_key },
        profile,
        seed: args.seed,
        allow_insecure_http: args.allow_insecure_http,
        ..Selection::default()
    };
    let limits = Limits {
        timeout: Duration::from_secs(args.timeout.max(1)),
        body_limit: 16 * 1024 * 1024,
        polite_retries: 0,
    };
    let runtime = super::runtime()?;
    let fingerprint = runtime.block_on(async {
        let mut prepared = target::prepare(selection).await?;
        // The embedded service serves its variants beside its main model.
        if let (true, Some(model)) = (embedded, &args.model) {
            prepared.target.model = model.clone();
            prepared.info.model = model.clone();
        }
        eprintln!(
            "tokencert: fingerprint {} of {} at {} ({} requests{})",
            set.name(),
            prepared.info.model,
            prepared.info.base_url,
            set.generations.len() + set.tokenizers.len() + set.tasks.len(),
            if logprobs { ", with logprobs" } else { "" },
        );
        let result = tokencert_drive::fingerprint(FingerprintConfig {
            suite: &suite,
            client: Client::new(prepared.target.clone(), limits)?,
            target: prepared.info.clone(),
            bundle_dir: args.out.clone(),
            logprobs,
        })
        .await;
        if let Some(server) = prepared.server {
            server.shutdown().await;
        }
        anyhow::Ok(result?)
    })?;
    print_summary(&fingerprint);
    println!("bundle: {}", args.out.display());
    match &signing_key {
        Some(key) => {
            let keyid = bundle::sign_bundle(&args.out, key)?;
            println!("signed: by {keyid} ({})", sign::ENVELOPE_FILE);
        }
        None => println!("unsigned: no --key or TOKENCERT_SIGNING_KEY was given"),
    }
    println!("verify: tokencert verify {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn print_summary(fp: &Fingerprint) {
    let tokens: usize = fp.generations.iter().map(|g| g.tokens.len()).sum();
    let with_logprobs = fp
        .generations
        .iter()
        .flat_map(|g| &g.tokens)
        .filter(|t| t.logprob.is_some())
        .count();
    println!(
        "fingerprint {} of {}: {} generations ({tokens} tokens, {with_logprobs} with logprobs)",
        fp.probe_set,
        fp.model,
        fp.generations.len()
    );
    let counted: Vec<String> = fp
        .tokenizer_probes
        .iter()
        .map(|p| {
            format!(
                "{}={}",
                p.probe,
                p.prompt_tokens.map_or("-".into(), |n| n.to_string())
            )
        })
        .collect();
    println!("prompt tokens: {}", counted.join(" "));
    let passed = fp.tasks.iter().filter(|t| t.passed).count();
    println!("tasks: {passed}/{} passed", fp.tasks.len());
    for task in fp.tasks.iter().filter(|t| !t.passed) {
        println!("  FAIL {}: {}", task.task, task.reason);
    }
}
