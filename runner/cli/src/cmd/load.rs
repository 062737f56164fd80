//! `tokencert load`: send a seeded workload to a target, then print and
//! write its performance metrics (no verdicts yet).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tokencert::target::{self, Selection};
use tokencert_core::metrics::{Distribution, ErrorClass, SteadyState, Summary, milli_to_decimal};
use tokencert_core::suite::Dialect;
use tokencert_core::workload::{LengthDist, LoadModel, Preset, Prompts, Workload};
use tokencert_drive::load::LoadRun;
use tokencert_drive::perf::load::{self as perf_load, achieved, describe};
use tokencert_drive::perf::{Event, LoadTarget, Offered, ctrl_c};
use tokencert_drive::{ApiKey, Client, Limits, Target};
use tokencert_reference::{Config, RunningServer};

/// The most requests one `load` run may send.
pub const MAX_REQUESTS: u64 = 100_000;
/// The longest a `load` run may last.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// The most closed-loop users (the load engine's in-flight cap).
pub const MAX_USERS: u64 = 10_000;
/// Tokens of the embedded service's context window left for the chat
/// template around the messages when presets are clipped to it.
const TEMPLATE_TOKENS: u64 = 64;

/// Options of `tokencert load`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    shape: ShapeArgs,
    #[command(flatten)]
    shard: super::run::ShardArgs,
}

/// How requests are sent, for `load` and `soak`: open or closed loop.
#[derive(clap::Args)]
pub(crate) struct ShapeArgs {
    /// Open loop: send requests as a Poisson process of this many requests
    /// per second, whatever the responses are doing.
    #[arg(long, value_name = "R", conflicts_with = "users")]
    rate: Option<f64>,
    /// Closed loop: this many users, each sending its next request when
    /// its previous one ended (the default, with 4 users).
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=MAX_USERS))]
    users: Option<u64>,
}

impl ShapeArgs {
    /// The load model the flags ask for.
    pub(crate) fn model(&self) -> LoadModel {
        match self.rate {
            Some(rate) => Offered::Rate(rate),
            None => Offered::Users(self.users.unwrap_or(4)),
        }
        .model()
    }
}

/// The target, workload and output options that `load` and `sweep` share
/// (`sweep` sends them once per step).
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    common: TargetArgs,
    /// The most requests to send (1 to 100000; `sweep`: per step).
    #[arg(long, default_value_t = 40,
          value_parser = clap::value_parser!(u64).range(1..=MAX_REQUESTS))]
    requests: u64,
    /// Schedule no request after this long (e.g. 500ms, 30s, 5m, 1h; at
    /// most 1h; `sweep`: per step). Requests in flight then finish.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
}

/// The target, prompt and output options that `load`, `sweep` and `soak`
/// share.
#[derive(clap::Args)]
pub(crate) struct TargetArgs {
    /// Base URL of the target, including the version prefix
    /// (e.g. http://127.0.0.1:8000/v1). Without it, the embedded reference
    /// service is started on 127.0.0.1 and its model
    /// `tokencert-reference-capacity` is loaded, under the capacity model
    /// the --prefill-us ... --jitter-percent flags set (not with --target).
    #[arg(long, env = "TOKENCERT_BASE_URL", conflicts_with = "capacity")]
    target: Option<String>,
    /// Model to load (required with --target).
    #[arg(long, env = "TOKENCERT_MODEL")]
    model: Option<String>,
    #[command(flatten)]
    capacity: super::capacity::Args,
    /// Prompt and output lengths: short (100 → 300 tokens), medium
    /// (1,000 → 1,000), long (10,000 → 1,500) or very-long (100,000 →
    /// 2,000); clipped to the embedded service's context window.
    #[arg(long, value_parser = parse_preset, conflicts_with_all = ["input", "output"])]
    preset: Option<Preset>,
    /// Prompt length in o200k_base tokens (with --output, instead of --preset).
    #[arg(long, value_name = "TOKENS", requires = "output",
          value_parser = clap::value_parser!(u64).range(1..))]
    input: Option<u64>,
    /// `max_tokens` of each request (with --input, instead of --preset).
    #[arg(long, value_name = "TOKENS", requires = "input",
          value_parser = clap::value_parser!(u64).range(1..))]
    output: Option<u64>,
    /// The API dialect the requests speak: openai-chat (POST
    /// {base}/chat/completions), anthropic-messages (POST {base}/messages,
    /// with x-api-key and anthropic-version) or openai-responses (POST
    /// {base}/responses). The same prompts, as that dialect's streaming
    /// request.
    #[arg(long, default_value = "openai-chat", value_parser = parse_dialect)]
    dialect: Dialect,
    /// Seed of the prompts, the schedule and the embedded service.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory under which the run directory (<run-id>-load,
    /// <run-id>-sweep or <run-id>-soak) is created.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Deadline per request, in seconds, from send to the last body byte.
    #[arg(long, default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    /// Allow a plain http:// target that is not on this machine (the key
    /// and every exchange would cross the network unencrypted).
    #[arg(long, env = "TOKENCERT_ALLOW_INSECURE_HTTP")]
    allow_insecure_http: bool,
}

fn parse_dialect(text: &str) -> Result<Dialect, String> {
    text.parse()
}

fn parse_preset(text: &str) -> Result<Preset, String> {
    Preset::ALL
        .into_iter()
        .find(|p| p.name() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
            format!("unknown preset {text:?}; one of {}", names.join(", "))
        })
}

/// A duration as humantime reads it (`500ms`, `30s`, `5m`, `1h`), above 0
/// and at most 1 h.
fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_duration_up_to(text, MAX_DURATION)
}

/// A duration as humantime reads it, above 0 and at most `max`.
pub(crate) fn parse_duration_up_to(text: &str, max: Duration) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration like 500ms, 30s, 5m or 1h: {e}"))?;
    if duration.is_zero() {
        return Err("a duration of 0".to_string());
    }
    if duration > max {
        return Err(format!(
            "{text} is over the limit of {}",
            humantime::format_duration(max)
        ));
    }
    Ok(duration)
}

/// The target of a run, with the embedded service when it is the target.
pub(crate) struct Connection {
    /// Where requests go, and the prompt tokens the embedded service's
    /// context leaves.
    pub(crate) target: LoadTarget,
    /// The embedded service.
    server: Option<RunningServer>,
}

impl Connection {
    /// Stops the embedded service, if it was started.
    pub(crate) async fn close(self) {
        if let Some(server) = self.server {
            server.shutdown().await;
        }
    }
}

impl RunArgs {
    /// The workload the flags describe, sent under `load`.
    pub(crate) fn workload(&self, load: LoadModel) -> anyhow::Result<Workload> {
        self.common.workload(load, self.requests, self.duration)
    }

    /// A fresh run directory `<run-id>-<kind>` under --out.
    pub(crate) fn run_dir(&self, kind: &str) -> PathBuf {
        self.common.run_dir(kind)
    }

    /// Connects to --target, or starts the embedded reference service.
    pub(crate) async fn connect(&self) -> anyhow::Result<Connection> {
        self.common.connect().await
    }
}

impl TargetArgs {
    /// The workload the flags describe: at most `requests` requests,
    /// scheduled within `duration`, sent under `load`.
    pub(crate) fn workload(
        &self,
        load: LoadModel,
        requests: u64,
        duration: Option<Duration>,
    ) -> anyhow::Result<Workload> {
        let prompts = match (self.input, self.output) {
            (Some(input), Some(output)) => Prompts::Synthetic {
                input: LengthDist::Fixed(input),
                output: LengthDist::Fixed(output),
            },
            _ => Prompts::Preset(self.preset.unwrap_or(Preset::Short)),
        };
        let workload = Workload {
            seed: self.seed,
            requests,
            duration,
            prompts,
            load,
            dialect: self.dialect,
        };
        workload.validate()?;
        Ok(workload)
    }

    /// A fresh run directory `<run-id>-<kind>` under --out.
    pub(crate) fn run_dir(&self, kind: &str) -> PathBuf {
        super::fresh_dir(&self.out, &format!("{}-{kind}", tokencert_drive::run_id()))
    }

    /// Connects to --target, or starts the embedded reference service on
    /// 127.0.0.1 with its capacity model.
    pub(crate) async fn connect(&self) -> anyhow::Result<Connection> {
        let api_key = std::env::var(target::env::API_KEY)
            .ok()
            .filter(|k| !k.is_empty())
            .map(ApiKey::new);
        let limits = Limits {
            timeout: Duration::from_secs(self.timeout),
            ..Limits::default()
        };
        // The embedded service is started here rather than through
        // `target::prepare`, with the capacity model on.
        let (target, server, context_tokens) = match &self.target {
            Some(url) => {
                let prepared = target::prepare(Selection {
                    base_url: Some(url.clone()),
                    model: self.model.clone(),
                    api_key,
                    allow_insecure_http: self.allow_insecure_http,
                    ..Selection::default()
                })
                .await?;
                (prepared.target, None, None)
            }
            None => {
                let config = Config {
                    seed: self.seed,
                    api_key: Some(target::REFERENCE_KEY.into()),
                    capacity: self.capacity.capacity(self.seed),
                    ..Config::default()
                };
                let context = config.max_context_tokens;
                let server =
                    tokencert_reference::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                        .await
                        .context("starting the embedded reference service")?;
                let target = Target {
                    base_url: server.base_url(),
                    model: self
                        .model
                        .clone()
                        .unwrap_or_else(|| tokencert_reference::CAPACITY_MODEL.to_string()),
                    api_key: Some(ApiKey::new(target::REFERENCE_KEY)),
                    limits: Default::default(),
                    rate_limit: None,
                    dialects: target::reference_dialects(),
                };
                let context = context.saturating_sub(TEMPLATE_TOKENS);
                (target, Some(server), Some(context))
            }
        };
        Ok(Connection {
            target: LoadTarget {
                client: Client::new(target, limits)?,
                context_tokens,
            },
            server,
        })
    }
}

/// Runs the load; see [`Args`].
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let load = args.shape.model();
    let sharding = args.shard.sharding();
    if let (Some(sharding), LoadModel::Closed { users, .. }) = (&sharding, &load) {
        sharding
            .shard
            .users(*users)
            .map_err(|e| anyhow::anyhow!("--shard {}: {e}", sharding.shard))?;
    }
    let request = perf_load::Request {
        workload: args.run.workload(load)?,
        run_dir: args.run.run_dir("load"),
        sharding,
    };
    let runtime = super::runtime()?;
    let progress = LoadBar::default();
    let report = runtime.block_on(async {
        let connection = args.run.connect().await?;
        let report = perf_load::run(
            &connection.target,
            &request,
            &|event| progress.show(event),
            ctrl_c(),
        )
        .await;
        connection.close().await;
        anyhow::Ok(report?)
    })?;
    print_table(
        &request.workload,
        &report.run,
        &report.summary,
        report.steady.as_ref(),
    );
    println!("evidence: {}", report.evidence_dir.display());
    println!("summary: {}", report.summary_file.display());
    if let Some(shard) = &report.shard {
        println!(
            "shard: {}/{} of plan {}",
            shard.index, shard.count, shard.plan_digest
        );
    }
    Ok(if report.run.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// Shows the progress of a load (of `load`, `soak` or a `sweep` step) on
/// stderr: a bar on a terminal, else a line per tenth of the requests.
#[derive(Default)]
pub(crate) struct LoadBar {
    /// The bar of the running load, the requests it plans, and how many
    /// requests a logged line stands for.
    bar: Mutex<Option<(ProgressBar, u64, u64)>>,
}

impl LoadBar {
    /// Shows a load's events; ignores the others.
    pub(crate) fn show(&self, event: Event) {
        let mut bar = self.bar.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            Event::LoadStarted {
                planned,
                load,
                base_url,
                model,
                evidence_dir,
            } => {
                eprintln!(
                    "tokencert: load of {planned} requests ({}) against {base_url} (model {model}), evidence in {}",
                    describe(&load),
                    evidence_dir.display()
                );
                let shown = ProgressBar::new(planned);
                shown.set_style(
                    ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                *bar = Some((shown, planned, (planned / 10).max(1)));
            }
            Event::LoadProgress(p) => {
                let Some((bar, planned, step)) = bar.as_ref() else {
                    return;
                };
                let done = p.finished + p.not_sent;
                bar.set_position(done);
                bar.set_message(format!(
                    "{} in flight, {} errors, {} not sent",
                    p.in_flight, p.errors, p.not_sent
                ));
                // Without a terminal (CI logs) the bar is hidden: log every tenth.
                if bar.is_hidden() && done.is_multiple_of(*step) {
                    eprintln!(
                        "tokencert: {done}/{planned} done, {} in flight, {} errors, {} s",
                        p.in_flight,
                        p.errors,
                        p.elapsed.as_secs()
                    );
                }
            }
            Event::LoadEnded => {
                if let Some((bar, _, _)) = bar.take() {
                    bar.finish_and_clear();
                }
            }
            Event::Stopping => {
                eprintln!("tokencert: interrupted; waiting for the requests in flight");
            }
            _ => {}
        }
    }
}

/// Nanoseconds as milliseconds with three decimals.
pub(crate) fn ms(ns: u64) -> String {
    milli_to_decimal(ns / 1000)
}

fn print_table(
    workload: &Workload,
    run: &LoadRun,
    summary: &Summary,
    steady: Option<&SteadyState>,
) {
    println!("load: {}, {}", describe(&workload.load), workload.dialect);
    println!(
        "requests: {} planned, {} sent, {} ok, {} errors, {} not sent, {} unscheduled",
        run.planned, run.sent, run.succeeded, run.errors, run.not_sent, run.unscheduled
    );
    if run.interrupted {
        println!(
            "interrupted: Ctrl-C stopped the load after {} of {} requests",
            run.sent, run.planned
        );
    }
    let classes: Vec<String> = ErrorClass::ALL
        .iter()
        .filter(|c| **c != ErrorClass::Ok)
        .map(|c| format!("{} {}", c.as_str(), summary.errors.counts.get(*c)))
        .collect();
    println!("errors by class: {}", classes.join(", "));
    println!(
        "achieved rate: {} requests/s over {} s (peak {} in flight)",
        achieved(run).map_or("-".to_string(), milli_to_decimal),
        ms(run.elapsed_ns / 1000),
        run.peak_in_flight
    );
    println!();
    println!(
        "{:<12} {:>6} {:>30} {:>30} {:>30}",
        "metric (ms)", "n", "p50 [95% CI]", "p90 [95% CI]", "p99 [95% CI]"
    );
    let rows: [(&str, &Option<Distribution>); 5] = [
        ("TTFB", &summary.ttfb_ns),
        ("TTFT", &summary.ttft_ns),
        ("E2E", &summary.e2e_ns),
        ("ITL (token)", &summary.itl_token_ns),
        ("TPOT", &summary.tpot_ns),
    ];
    for (name, dist) in rows {
        let Some(dist) = dist else {
            println!("{name:<12} {:>6} {:>30} {:>30} {:>30}", 0, "-", "-", "-");
            continue;
        };
        let cell = |p: &str| match dist.percentile(p) {
            Some(p) => format!(
                "{} [{}, {}]",
                ms(p.value),
                p.ci_low.map_or("-".to_string(), ms),
                p.ci_high.map_or("-".to_string(), ms)
            ),
            None => "-".to_string(),
        };
        println!(
            "{name:<12} {:>6} {:>30} {:>30} {:>30}",
            dist.count,
            cell("p50"),
            cell("p90"),
            cell("p99")
        );
    }
    println!();
    let speed = summary
        .output_speed_milli_tps
        .as_ref()
        .and_then(|d| d.percentile("p50"))
        .map_or("-".to_string(), |p| milli_to_decimal(p.value));
    println!("output speed p50: {speed} tokens/s per request");
    match steady {
        Some(s) => println!(
            "steady state ({}‰ warm-up, {}‰ cool-down): {} output tokens/s, {} requests/s",
            s.warmup_per_mille,
            s.cooldown_per_mille,
            s.output_token_throughput_milli
                .map_or("-".to_string(), milli_to_decimal),
            s.request_throughput_milli
                .map_or("-".to_string(), milli_to_decimal)
        ),
        None => println!("steady state: no request was sent"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_within_the_bound() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(MAX_DURATION));
        assert!(parse_duration("61m").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").is_err(), "over the limit");
    }
}
