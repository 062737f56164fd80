//! `tokencert load`: send a seeded workload to a target, then print and
//! write its performance metrics (no verdicts yet).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tokencert::target::{self, Selection};
use tokencert_core::canonical;
use tokencert_core::evidence::read_exchanges;
use tokencert_core::metrics::{
    Distribution, ErrorClass, ExchangeMetrics, Slo, SteadyState, Summary, TimedExchange,
    WindowSpec, exchange_metrics, milli_to_decimal, steady_state, summarize,
};
use tokencert_core::tokens::{Tokenizer, TokenizerSpec};
use tokencert_core::workload::{LengthDist, LoadModel, Preset, Prompts, Workload};
use tokencert_drive::load::{Bounds, LoadOutcome, LoadProgress, LoadRun, drive_load_until};
use tokencert_drive::{ApiKey, Client, Limits, Target};
use tokencert_reference::{Config, RunningServer};

/// The most requests one `load` run may send.
pub const MAX_REQUESTS: u64 = 100_000;
/// The longest a `load` run may last.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// The most closed-loop users (the load engine's in-flight cap).
pub const MAX_USERS: u64 = 10_000;
/// The case id recorded on every request of a load run.
const CASE: &str = "load";
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
            Some(rate) => LoadModel::Poisson { rate },
            None => LoadModel::Closed {
                users: self.users.unwrap_or(4),
                think_time: Duration::ZERO,
            },
        }
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

/// One request's metrics on the run's clock.
struct Measured {
    start_ns: u64,
    end_ns: u64,
    metrics: ExchangeMetrics,
}

/// The target of a run, with the embedded service when it is the target.
pub(crate) struct Connection {
    /// Where requests go.
    pub(crate) target: Target,
    client: Client,
    /// The embedded service and the prompt tokens its context leaves.
    server: Option<(RunningServer, u64)>,
}

impl Connection {
    /// Stops the embedded service, if it was started.
    pub(crate) async fn close(self) {
        if let Some((server, _)) = self.server {
            server.shutdown().await;
        }
    }
}

/// A run's summary and its steady-state window.
pub(crate) struct Analysis {
    /// Distributions and error classes over every sent request.
    pub(crate) summary: Summary,
    /// The steady-state window; `None` when no request was sent.
    pub(crate) steady: Option<SteadyState>,
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
        let (target, server) = match &self.target {
            Some(url) => {
                let prepared = target::prepare(Selection {
                    base_url: Some(url.clone()),
                    model: self.model.clone(),
                    api_key,
                    allow_insecure_http: self.allow_insecure_http,
                    ..Selection::default()
                })
                .await?;
                (prepared.target, None)
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
                };
                let context = context.saturating_sub(TEMPLATE_TOKENS);
                (target, Some((server, context)))
            }
        };
        let client = Client::new(target.clone(), limits)?;
        Ok(Connection {
            target,
            client,
            server,
        })
    }
}

/// Runs the load; see [`Args`].
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let load = args.shape.model();
    let workload = args.run.workload(load)?;
    let tokenizer = load_tokenizer()?;
    let run_dir = args.run.run_dir("load");
    let evidence_dir = run_dir.join("evidence");

    let runtime = super::runtime()?;
    let (target, run) = runtime.block_on(async {
        let connection = args.run.connect().await?;
        let run = drive_until(
            &connection,
            &workload,
            &tokenizer,
            &evidence_dir,
            interrupt(),
        )
        .await;
        let target = connection.target.clone();
        connection.close().await;
        anyhow::Ok((target, run?))
    })?;

    let Analysis { summary, steady } = analyse(&run, &tokenizer, &Slo::default())?;
    let summary_path = run_dir.join("summary.json");
    tokencert_core::bundle::write_private(
        &summary_path,
        &summary_json(&workload, &target, &run, &summary, steady.as_ref())?,
    )
    .with_context(|| format!("writing {}", summary_path.display()))?;
    print_table(&workload, &run, &summary, steady.as_ref());
    println!("evidence: {}", evidence_dir.display());
    println!("summary: {}", summary_path.display());
    Ok(if run.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// Completes on the first Ctrl-C (never, where the signal cannot be
/// watched), saying that the requests in flight are awaited.
pub(crate) async fn interrupt() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
    eprintln!("tokencert: interrupted; waiting for the requests in flight");
}

/// The o200k_base tokenizer that plans prompts and recounts outputs.
pub(crate) fn load_tokenizer() -> anyhow::Result<Tokenizer> {
    Tokenizer::load(&TokenizerSpec::O200kBase, Path::new("."))
        .context("loading the o200k_base tokenizer")
}

/// Plans `workload` and sends it through `connection`, writing the evidence
/// under `evidence_dir` and showing progress on stderr; schedules nothing
/// more once `stop` completes (the requests in flight then end as usual).
pub(crate) async fn drive_until(
    connection: &Connection,
    workload: &Workload,
    tokenizer: &Tokenizer,
    evidence_dir: &Path,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<LoadRun> {
    let target = &connection.target;
    if let Some(run_dir) = evidence_dir.parent() {
        tokencert_core::bundle::create_private_dir(run_dir)
            .with_context(|| format!("creating {}", run_dir.display()))?;
    }
    let context = connection.server.as_ref().map(|(_, c)| *c);
    let plan = workload.plan(tokenizer, Path::new("."), context)?;
    eprintln!(
        "tokencert: load of {} requests ({}) against {} (model {}), evidence in {}",
        plan.len(),
        describe(&workload.load),
        target.base_url,
        target.model,
        evidence_dir.display()
    );
    let bar = ProgressBar::new(plan.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let step = (plan.len() as u64 / 10).max(1);
    let bounds = Bounds {
        max_requests: Some(workload.requests),
        duration: workload.duration,
        ..Bounds::default()
    };
    let run = drive_load_until(
        &connection.client,
        CASE,
        &plan,
        &workload.load,
        bounds,
        evidence_dir,
        |p: &LoadProgress| {
            let done = p.finished + p.not_sent;
            bar.set_position(done);
            bar.set_message(format!(
                "{} in flight, {} errors, {} not sent",
                p.in_flight, p.errors, p.not_sent
            ));
            // Without a terminal (CI logs) the bar is hidden: log every tenth.
            if bar.is_hidden() && done.is_multiple_of(step) {
                eprintln!(
                    "tokencert: {done}/{} done, {} in flight, {} errors, {} s",
                    plan.len(),
                    p.in_flight,
                    p.errors,
                    p.elapsed.as_secs()
                );
            }
        },
        stop,
    )
    .await;
    bar.finish_and_clear();
    Ok(run?)
}

/// The summary of a run and its steady-state window, with goodput under `slo`.
pub(crate) fn analyse(run: &LoadRun, tokenizer: &Tokenizer, slo: &Slo) -> anyhow::Result<Analysis> {
    let measured = measure(run, tokenizer)?;
    let metrics: Vec<ExchangeMetrics> = measured.iter().map(|m| m.metrics.clone()).collect();
    let summary = summarize(&metrics)?;
    let timed: Vec<TimedExchange<'_>> = measured
        .iter()
        .map(|m| TimedExchange {
            start_ns: m.start_ns,
            end_ns: m.end_ns,
            metrics: &m.metrics,
        })
        .collect();
    let steady = if timed.is_empty() {
        None
    } else {
        Some(steady_state(&timed, &WindowSpec::default(), slo)?)
    };
    Ok(Analysis { summary, steady })
}

/// How the requests are sent, in words.
pub(crate) fn describe(load: &LoadModel) -> String {
    match load {
        LoadModel::Closed { users, .. } => {
            format!(
                "closed loop, {users} user{}",
                if *users == 1 { "" } else { "s" }
            )
        }
        LoadModel::Poisson { rate } => format!("open loop, Poisson at {rate} requests/s"),
        other => format!("{other:?}"),
    }
}

/// The metrics of every sent request, read back from its evidence.
fn measure(run: &LoadRun, tokenizer: &Tokenizer) -> anyhow::Result<Vec<Measured>> {
    let mut measured = Vec::with_capacity(run.requests.len());
    for request in &run.requests {
        let LoadOutcome::Sent {
            file,
            sent_ns,
            end_ns,
            ..
        } = &request.outcome
        else {
            continue;
        };
        let exchanges =
            read_exchanges(file).with_context(|| format!("reading {}", file.display()))?;
        let Some(exchange) = exchanges.last() else {
            anyhow::bail!("{} holds no exchange", file.display());
        };
        measured.push(Measured {
            start_ns: *sent_ns,
            end_ns: (*end_ns).max(*sent_ns),
            metrics: exchange_metrics(exchange, tokenizer)?,
        });
    }
    Ok(measured)
}

/// `summary.json`: canonical JSON of the run's facts, the summary and the
/// steady-state window (keys sorted, integers only).
pub(crate) fn summary_json(
    workload: &Workload,
    target: &Target,
    run: &LoadRun,
    summary: &Summary,
    steady: Option<&SteadyState>,
) -> anyhow::Result<Vec<u8>> {
    let mut load: Vec<(&str, Vec<u8>)> = vec![
        ("base_url", canonical::to_vec(&target.base_url)?),
        ("model", canonical::to_vec(&target.model)?),
        ("seed", canonical::to_vec(&workload.seed)?),
        ("planned", canonical::to_vec(&run.planned)?),
        ("sent", canonical::to_vec(&run.sent)?),
        ("succeeded", canonical::to_vec(&run.succeeded)?),
        ("errors", canonical::to_vec(&run.errors)?),
        ("not_sent", canonical::to_vec(&run.not_sent)?),
        ("unscheduled", canonical::to_vec(&run.unscheduled)?),
        ("interrupted", canonical::to_vec(&run.interrupted)?),
        ("peak_in_flight", canonical::to_vec(&run.peak_in_flight)?),
        ("elapsed_ns", canonical::to_vec(&run.elapsed_ns)?),
        ("achieved_rate_milli", canonical::to_vec(&achieved(run))?),
        ("load_model", canonical::to_vec(&describe(&workload.load))?),
    ];
    let top: Vec<(&str, Vec<u8>)> = vec![
        ("load", object(&mut load)),
        ("summary", canonical::to_vec(summary)?),
        ("steady_state", canonical::to_vec(&steady)?),
    ];
    let mut top = top;
    let mut bytes = object(&mut top);
    bytes.push(b'\n');
    Ok(bytes)
}

/// A canonical object from canonical members (each ending with a newline,
/// which is dropped); keys are ASCII, so byte order is UTF-16 order.
pub(crate) fn object(members: &mut [(&str, Vec<u8>)]) -> Vec<u8> {
    members.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = b"{".to_vec();
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!("{key:?}:").as_bytes());
        out.extend_from_slice(value.strip_suffix(b"\n").unwrap_or(value));
    }
    out.push(b'}');
    out
}

/// Requests sent per second over the run, in milli-requests per second.
pub(crate) fn achieved(run: &LoadRun) -> Option<u64> {
    (run.elapsed_ns > 0).then(|| {
        let rate = u128::from(run.sent) * 1_000_000_000_000 / u128::from(run.elapsed_ns);
        u64::try_from(rate).unwrap_or(u64::MAX)
    })
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
    println!("load: {}", describe(&workload.load));
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

    #[test]
    fn objects_are_canonical() {
        let mut members = vec![("b", b"2\n".to_vec()), ("a", b"\"x\"\n".to_vec())];
        assert_eq!(object(&mut members), br#"{"a":"x","b":2}"#.to_vec());
    }
}
