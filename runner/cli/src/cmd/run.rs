//! `tokencert run`: drive the suite against a target and write a bundle.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressStyle};
use tokencert::target::{self, Selection};
use tokencert_core::bundle;
use tokencert_core::judge::{CaseResult, Results, Verdict};
use tokencert_core::metrics::milli_to_decimal;
use tokencert_core::sign;
use tokencert_core::suite::{Level, load_profile};
use tokencert_core::workload::{ShardSpec, parse_start_at};
use tokencert_drive::load::LoadProgress;
use tokencert_drive::{Client, Limits, RunConfig, Sharding};
use tokencert_reference::Mutant;

use super::json_output::{self, RunOutput};

/// Options of `tokencert run`.
#[derive(clap::Args)]
pub struct Args {
    /// Only run cases whose id contains one of these strings.
    filters: Vec<String>,
    /// Base URL of the target, including the version prefix
    /// (e.g. http://127.0.0.1:8000/v1). Without it, the embedded reference
    /// service is started on 127.0.0.1 and tested. Not with the capacity
    /// model's flags, which set the embedded service.
    #[arg(long, env = "TOKENCERT_BASE_URL", conflicts_with = "capacity")]
    target: Option<String>,
    /// Model to test; defaults to the profile's model.
    #[arg(long, env = "TOKENCERT_MODEL")]
    model: Option<String>,
    /// Environment variable holding the bearer key (never pass keys as arguments).
    #[arg(long, value_name = "VAR", default_value = target::env::API_KEY)]
    api_key_env: String,
    /// Target profile (YAML, e.g. suites/targets/reference.yaml): the
    /// capabilities the target claims and its model. Without one, a remote
    /// target claims `auth` exactly when a key is set.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Directory under which the bundle directory is created.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Deadline per request, in seconds, from send to the last body byte.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Largest response body read per request, in bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    body_limit: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// Polite mode: re-send a request answered 429 after waiting as its
    /// Retry-After says (at most 60 s), up to this many times. Every
    /// attempt is kept as evidence and priced; the last one is judged.
    #[arg(long, value_name = "RETRIES", default_value_t = 0)]
    polite: u32,
    /// Seed of the embedded reference service.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run against a mutant of the embedded reference service (`tokencert
    /// serve --list-mutants` lists them).
    #[arg(long)]
    mutant: Option<Mutant>,
    /// Allow a plain http:// target that is not on this machine (the key
    /// and every exchange would cross the network unencrypted).
    #[arg(long, env = "TOKENCERT_ALLOW_INSECURE_HTTP")]
    allow_insecure_http: bool,
    /// Private key (PKCS#8 PEM, from `tokencert keygen`) to sign the bundle
    /// with. Without one the bundle is written unsigned.
    #[arg(long, value_name = "FILE", env = "TOKENCERT_SIGNING_KEY")]
    key: Option<PathBuf>,
    /// Print one JSON document on stdout when the run ends
    /// (spec/schemas/run-output.schema.json): the bundle, run id, suite
    /// digest, counts per level and verdict, the failed MUST cases with
    /// their reasons, and the exit status; the human text goes to stderr.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    capacity: super::capacity::Args,
    #[command(flatten)]
    shard: ShardArgs,
    /// After the bundle is sealed and signed, copy it to an S3-compatible
    /// store at s3://BUCKET/PREFIX/<bundle directory name>/ (the local copy
    /// stays). The location and credentials are checked before the run.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    upload: Option<String>,
    #[command(flatten)]
    store: super::storage::StoreArgs,
}

/// `--shard` and `--start-at`, of `run` and `load`.
#[derive(clap::Args)]
pub(crate) struct ShardArgs {
    /// Send only shard I of N (0 ≤ I < N) of the plan, for a load split
    /// over N processes or machines: every shard plans the whole workload
    /// exactly as an unsharded run (same seed, prompts and schedule) and
    /// sends the requests whose plan index k ≡ I (mod N); a closed loop
    /// runs the users u ≡ I (mod N) (so N may not exceed its users). `run`
    /// then runs the selected performance cases only (conformance cases
    /// are not sharded). The bundle (`load`: summary.json) records the
    /// shard and the digest of the whole plan; `tokencert merge` joins the
    /// shards' bundles.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<ShardSpec>,
    /// With --shard: start the (first performance case's) schedule at this
    /// wall-clock time, the same for every shard, so that the shards'
    /// schedules share one zero up to the hosts' clock offsets. An RFC 3339
    /// UTC time (2026-11-26T12:00:00Z) or +SECONDS from now (+30); a time
    /// more than a second in the past is refused. Without it each shard
    /// starts when it is ready.
    #[arg(long, value_name = "TIME", requires = "shard", value_parser = parse_start)]
    start_at: Option<SystemTime>,
}

impl ShardArgs {
    /// The shard to send, if --shard was given.
    pub(crate) fn sharding(&self) -> Option<Sharding> {
        self.shard.map(|shard| Sharding {
            shard,
            start_at: self.start_at,
        })
    }
}

fn parse_shard(text: &str) -> Result<ShardSpec, String> {
    ShardSpec::parse(text).map_err(|e| e.to_string())
}

fn parse_start(text: &str) -> Result<SystemTime, String> {
    parse_start_at(text, SystemTime::now()).map_err(|e| e.to_string())
}

/// Runs the suite; see [`Args`].
pub fn run(root: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let suite = super::load_suite(root)?;
    // Read the key first: a bad key must not cost a whole run.
    let signing_key = super::read_key(args.key.as_deref(), sign::signing_key_from_pem)?;
    let upload = match &args.upload {
        Some(url) => Some(super::storage::Destination::prepare(url, &args.store)?),
        None => None,
    };
    let profile = match &args.profile {
        Some(path) => {
            Some(load_profile(path).map_err(|p| anyhow::anyhow!("invalid target profile: {p}"))?)
        }
        None => None,
    };
    let cases: Vec<_> = suite
        .cases
        .iter()
        .filter(|c| {
            args.filters.is_empty() || args.filters.iter().any(|f| c.id.contains(f.as_str()))
        })
        .collect();
    if cases.is_empty() {
        anyhow::bail!(
            "no case id contains any of {:?}; `tokencert list` shows the ids",
            args.filters
        );
    }
    let sharding = args.shard.sharding();
    let cases = match &sharding {
        Some(sharding) => performance_only(cases, sharding.shard)?,
        None => cases,
    };
    let api_key = target::api_key_from_env(&args.api_key_env)?;
    let selection = Selection {
        base_url: args.target.clone(),
        model: args.model.clone(),
        api_key: if args.target.is_some() { api_key } else { None },
        profile,
        seed: args.seed,
        mutant: args.mutant,
        capacity: args.capacity.capacity(args.seed),
        allow_insecure_http: args.allow_insecure_http,
        slo_classes: suite.slo_profiles.keys().cloned().collect(),
    };
    let limits = Limits {
        timeout: Duration::from_secs(args.timeout.max(1)),
        body_limit: args.body_limit,
        polite_retries: args.polite,
    };

    let runtime = super::runtime()?;
    let report = runtime.block_on(async {
        let prepared = target::prepare(selection).await?;
        let label = match &prepared.info.reference {
            Some(r) => r
                .mutant
                .clone()
                .map_or("reference".to_string(), |m| format!("mutant-{m}")),
            None => "target".to_string(),
        };
        let bundle_dir = super::fresh_dir(&args.out, &format!("{}-{label}", tokencert_drive::run_id()));
        let claims: Vec<&str> = prepared.claims.iter().map(|c| c.name()).collect();
        eprintln!(
            "tokencert: {} cases against {} (model {}, claims [{}]), suite {}",
            cases.len(),
            prepared.info.base_url,
            prepared.info.model,
            claims.join(", "),
            suite.digest
        );
        let bar = ProgressBar::new(cases.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let show_load = |case: &str, p: &LoadProgress| {
            let rate = p.rate_milli.map_or("-".into(), milli_to_decimal);
            bar.set_message(format!(
                "{case}: {} requests done ({rate}/s), {} in flight, {} errors, {} s",
                p.finished,
                p.in_flight,
                p.errors,
                p.elapsed.as_secs()
            ));
        };
        let config = RunConfig {
            suite: &suite,
            cases,
            client: Client::new(prepared.target.clone(), limits)?,
            claims: prepared.claims.clone(),
            accounting: prepared.accounting.clone(),
            target: prepared.info.clone(),
            bundle_dir,
            jobs: args.jobs,
            performance: prepared.performance.clone(),
            load_progress: Some(&show_load),
            observation: None,
        };
        let interrupt = {
            let bar = bar.clone();
            async move {
                if tokio::signal::ctrl_c().await.is_err() {
                    // No signal handling here: never interrupt.
                    std::future::pending::<()>().await;
                }
                bar.suspend(|| {
                    eprintln!(
                        "tokencert: interrupted; finishing the cases in flight (a load sends nothing more and waits for its requests in flight), then writing a partial bundle (Ctrl-C again to abort)"
                    );
                });
                tokio::spawn(async {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        eprintln!("tokencert: aborted; the evidence written so far is kept");
                        std::process::exit(130);
                    }
                });
            }
        };
        let report = tokencert_drive::run_sharded(
            config,
            prepared.identity.clone(),
            sharding,
            |result| {
                bar.inc(1);
                bar.set_message(result.id.clone());
                // Without a terminal (CI logs) the bar is hidden: log every case instead.
                if bar.is_hidden() || matches!(result.verdict, Verdict::Fail | Verdict::Error) {
                    bar.suspend(|| eprintln!("{}", line(result)));
                }
            },
            interrupt,
        )
        .await;
        bar.finish_and_clear();
        prepared.shutdown().await;
        anyhow::Ok(report?)
    })?;
    let mut out = json_output::human(args.json);
    print_summary(&mut out, &report.results)?;
    writeln!(out, "bundle: {}", report.bundle_dir.display())?;
    let signed_by = match &signing_key {
        Some(key) => {
            let keyid = bundle::sign_bundle(&report.bundle_dir, key)?;
            writeln!(out, "signed: by {keyid} ({})", sign::ENVELOPE_FILE)?;
            Some(keyid)
        }
        None => {
            writeln!(out, "unsigned: no --key or TOKENCERT_SIGNING_KEY was given")?;
            None
        }
    };
    writeln!(
        out,
        "verify: tokencert verify {}",
        report.bundle_dir.display()
    )?;
    if let Some(destination) = &upload {
        let uploaded = destination.upload(&report.bundle_dir)?;
        writeln!(
            out,
            "uploaded: {} ({} objects, {} bytes)",
            uploaded.url, uploaded.objects, uploaded.bytes
        )?;
    }
    let run = bundle::read_run(&report.bundle_dir)?;
    if let Some(shard) = &run.shard {
        writeln!(
            out,
            "shard: {}/{} of plan {} (merge the {} shards' bundles with tokencert merge)",
            shard.index, shard.count, shard.plan_digest, shard.count
        )?;
    }
    let status = if let Some(interrupted) = &run.interrupted {
        writeln!(
            out,
            "PARTIAL: interrupted after {} of {} cases; the bundle holds those cases only",
            run.plan.cases.len(),
            interrupted.planned
        )?;
        if let Some(load) = &interrupted.load {
            writeln!(
                out,
                "PARTIAL: the load of {} was stopped after {} of {} planned requests; it is judged on those",
                load.case, load.sent, load.planned
            )?;
        }
        130
    } else if report.results.conforms() {
        0
    } else {
        1
    };
    if args.profile.is_none()
        && args.target.is_some()
        && let Some(hint) = super::init::unclaimed_hint(&suite, &run.plan.claims, &report.results)
    {
        eprintln!("{hint}");
    }
    if args.json {
        json_output::print(&RunOutput::new(
            &report.bundle_dir,
            &run,
            &report.results,
            signed_by,
            status,
        ))?;
    }
    Ok(ExitCode::from(status))
}

/// The performance cases of `cases`, saying on stderr which conformance
/// cases a sharded run leaves out; an error when none is left.
fn performance_only(
    cases: Vec<&tokencert_core::suite::Case>,
    shard: ShardSpec,
) -> anyhow::Result<Vec<&tokencert_core::suite::Case>> {
    let (performance, conformance): (Vec<_>, Vec<_>) =
        cases.into_iter().partition(|c| c.performance.is_some());
    if performance.is_empty() {
        anyhow::bail!(
            "--shard {shard}: none of the selected cases is a performance case, and only \
             performance cases are sharded; select them (e.g. `tokencert run perf. --shard {shard}`)"
        );
    }
    if !conformance.is_empty() {
        eprintln!(
            "tokencert: --shard {shard}: running the {} selected performance case(s) only; \
             the {} conformance case(s) are not sharded (run them once, without --shard)",
            performance.len(),
            conformance.len()
        );
    }
    Ok(performance)
}

fn line(result: &CaseResult) -> String {
    format!(
        "{:<7} {} [{} {}]: {}",
        result.verdict.name().to_uppercase(),
        result.id,
        result.level.keyword(),
        result.clause,
        result.reason
    )
}

fn print_summary(out: &mut dyn Write, results: &Results) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<7} {:>5} {:>5} {:>6} {:>12}",
        "level", "pass", "fail", "error", "not claimed"
    )?;
    for level in [Level::Must, Level::Should, Level::May] {
        let counts: Vec<u64> = Verdict::ALL
            .iter()
            .map(|v| results.count(level, *v))
            .collect();
        if counts.iter().any(|c| *c > 0) {
            writeln!(
                out,
                "{:<7} {:>5} {:>5} {:>6} {:>12}",
                level.keyword(),
                counts[0],
                counts[1],
                counts[2],
                counts[3]
            )?;
        }
    }
    let verdict = if results.conforms() {
        "CONFORMS (every MUST case passes)"
    } else {
        "DOES NOT CONFORM"
    };
    writeln!(out, "{verdict}")
}
