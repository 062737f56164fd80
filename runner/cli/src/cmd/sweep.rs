//! `tokencert sweep`: one load per step of a list of concurrencies or rates
//! (throughput and latency against load, with the saturation knee marked),
//! or a search for the highest Poisson rate whose goodput stays at or above
//! a stated share.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokencert_core::canonical;
use tokencert_core::metrics::{Distribution, Slo, milli_to_decimal};
use tokencert_core::tokens::Tokenizer;
use tokencert_core::workload::{LoadModel, MAX_RATE};
use tokencert_drive::Target;

use super::load::{self, Analysis, Connection, MAX_DURATION, MAX_USERS, RunArgs};

/// The most steps of one `--users` or `--rates` list.
pub const MAX_STEPS: usize = 32;
/// The knee: the first step whose relative throughput gain is below this
/// share (per mille) of its relative load gain, while its E2E p95 rose.
pub const KNEE_GAIN_PER_MILLE: u64 = 500;
/// Requests of the capacity search's first probe (one closed-loop user),
/// whose achieved rate is the first Poisson rate tried.
pub const START_REQUESTS: u64 = 10;
/// The most probes of the search's doubling (or halving) phase.
pub const MAX_GROWTH_PROBES: usize = 12;
/// The most probes of the search's bisection phase.
pub const MAX_BISECTION_PROBES: usize = 5;

/// Options of `tokencert sweep`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true)
    .args(["users", "rates", "find_capacity"])))]
pub struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Closed-loop steps: the users of each step, increasing and
    /// comma-separated (e.g. 1,2,4,8,16,32; at most 32 steps).
    #[arg(long, value_name = "N,...", value_delimiter = ',', conflicts_with = "rates",
          value_parser = clap::value_parser!(u64).range(1..=MAX_USERS))]
    users: Vec<u64>,
    /// Open-loop steps: the Poisson rate of each step in requests per
    /// second, increasing and comma-separated (e.g. 1,2,4,8; at most 32
    /// steps).
    #[arg(long, value_name = "R,...", value_delimiter = ',', value_parser = parse_rate)]
    rates: Vec<f64>,
    /// Search for the capacity instead: one closed-loop user sends 10
    /// requests, and its achieved rate is the first Poisson rate probed;
    /// the rate doubles while the goodput share stays at or above
    /// --goodput-percent (halves while it does not, at most 12 probes),
    /// then 5 bisection probes narrow the bracket. The answer is the
    /// highest rate that passed. Needs --slo-ttft-ms and --slo-tpot-ms.
    #[arg(long, conflicts_with_all = ["users", "rates"],
          requires_all = ["slo_ttft_ms", "slo_tpot_ms"])]
    find_capacity: bool,
    /// SLO: TTFT at most this many milliseconds (decimals allowed), for
    /// the goodput column.
    #[arg(long, value_name = "MS", value_parser = parse_ms)]
    slo_ttft_ms: Option<u64>,
    /// SLO: TPOT at most this many milliseconds (decimals allowed), for
    /// the goodput column.
    #[arg(long, value_name = "MS", value_parser = parse_ms)]
    slo_tpot_ms: Option<u64>,
    /// The goodput share a probe must reach to pass (with --find-capacity).
    /// A step's goodput share: of the requests that ended in its
    /// steady-state window (the first and last 10 % of the step left out),
    /// the share that succeeded and met every SLO.
    #[arg(long, value_name = "PERCENT", default_value_t = 90, requires = "find_capacity",
          value_parser = clap::value_parser!(u64).range(1..=100))]
    goodput_percent: u64,
}

/// A rate in requests per second: above 0, at most [`MAX_RATE`].
fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a rate in requests per second"))?;
    if !(rate > 0.0 && rate <= MAX_RATE) {
        return Err(format!(
            "a rate of {text} is not above 0 and at most {MAX_RATE}"
        ));
    }
    Ok(rate)
}

/// Milliseconds, decimals allowed, as nanoseconds: above 0, at most 1 h.
fn parse_ms(text: &str) -> Result<u64, String> {
    let ms: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of milliseconds"))?;
    let max_ms = MAX_DURATION.as_secs_f64() * 1000.0;
    if !(ms > 0.0 && ms <= max_ms) {
        return Err(format!("{text} ms is not above 0 and at most 1h"));
    }
    // In range, so the cast neither saturates nor loses more than a
    // fraction of a nanosecond.
    Ok((ms * 1e6).round() as u64)
}

/// The load of one step.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Offered {
    /// A closed loop of this many users.
    Users(u64),
    /// A Poisson open loop at this many requests per second.
    Rate(f64),
}

impl Offered {
    fn model(self) -> LoadModel {
        match self {
            Offered::Users(users) => LoadModel::Closed {
                users,
                think_time: Duration::ZERO,
            },
            Offered::Rate(rate) => LoadModel::Poisson { rate },
        }
    }

    /// The load as a number, for the knee's gains.
    fn amount(self) -> f64 {
        match self {
            Offered::Users(users) => users as f64,
            Offered::Rate(rate) => rate,
        }
    }

    fn label(self) -> String {
        match self {
            Offered::Users(1) => "1 user".to_string(),
            Offered::Users(users) => format!("{users} users"),
            Offered::Rate(rate) => format!("{} req/s", milli_to_decimal(to_milli(rate))),
        }
    }
}

/// A rate in milli-units, rounded to the nearest.
fn to_milli(rate: f64) -> u64 {
    (rate * 1000.0).round() as u64
}

/// The figures of one step.
struct Step {
    offered: Offered,
    /// What the step was, in a capacity search: start, grow, shrink, bisect.
    phase: Option<&'static str>,
    /// Its directory's name under the sweep's run directory.
    dir: String,
    sent: u64,
    errors: u64,
    achieved_milli: Option<u64>,
    request_throughput_milli: Option<u64>,
    output_tokens_milli: Option<u64>,
    ttft_p50_ns: Option<u64>,
    ttft_p95_ns: Option<u64>,
    tpot_p50_ns: Option<u64>,
    e2e_p95_ns: Option<u64>,
    /// Of the requests ended in the steady window, the share meeting
    /// every SLO (errors never do).
    goodput_per_mille: Option<u64>,
}

fn percentile(dist: &Option<Distribution>, name: &str) -> Option<u64> {
    dist.as_ref()
        .and_then(|d| d.percentile(name))
        .map(|p| p.value)
}

/// What every step shares: the connection, the tokenizer, the run
/// directory and the bounds.
struct Sweep<'a> {
    args: &'a Args,
    connection: &'a Connection,
    tokenizer: &'a Tokenizer,
    run_dir: &'a Path,
    slo: Slo,
    started: Instant,
    steps: Vec<Step>,
    /// Turns true on Ctrl-C: no further step starts, and the running one
    /// schedules nothing more.
    stop: tokio::sync::watch::Receiver<bool>,
    /// The step Ctrl-C cut short, if any.
    interrupted_step: Option<usize>,
}

impl Sweep<'_> {
    /// Runs one step of at most `requests` requests (and --requests): its
    /// evidence and summary.json go under `step-NN` of the run directory.
    /// `None` once the time bound is spent or Ctrl-C was pressed.
    async fn step(
        &mut self,
        offered: Offered,
        phase: Option<&'static str>,
        requests: Option<u64>,
    ) -> anyhow::Result<Option<&Step>> {
        if *self.stop.borrow() {
            return Ok(None);
        }
        let Some(left) = MAX_DURATION.checked_sub(self.started.elapsed()) else {
            return Ok(None);
        };
        if left.is_zero() {
            return Ok(None);
        }
        let mut workload = self.args.run.workload(offered.model())?;
        workload.requests = requests.map_or(workload.requests, |r| r.min(workload.requests));
        workload.duration = Some(workload.duration.map_or(left, |d| d.min(left)));
        let dir = format!("step-{:02}", self.steps.len() + 1);
        let step_dir = self.run_dir.join(&dir);
        let mut stop = self.stop.clone();
        let stopped = async move {
            // The sender lives as long as the sweep; should it go, never stop.
            if stop.wait_for(|pressed| *pressed).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let run = load::drive_until(
            self.connection,
            &workload,
            self.tokenizer,
            &step_dir.join("evidence"),
            stopped,
        )
        .await?;
        if run.interrupted {
            self.interrupted_step = Some(self.steps.len());
        }
        let Analysis { summary, steady } = load::analyse(&run, self.tokenizer, &self.slo)?;
        let path = step_dir.join("summary.json");
        tokencert_core::bundle::write_private(
            &path,
            &load::summary_json(
                &workload,
                &self.connection.target,
                &run,
                &summary,
                steady.as_ref(),
            )?,
        )
        .with_context(|| format!("writing {}", path.display()))?;
        let step = Step {
            offered,
            phase,
            dir,
            sent: run.sent,
            errors: run.errors,
            achieved_milli: load::achieved(&run),
            request_throughput_milli: steady.as_ref().and_then(|s| s.request_throughput_milli),
            output_tokens_milli: steady
                .as_ref()
                .and_then(|s| s.output_token_throughput_milli),
            ttft_p50_ns: percentile(&summary.ttft_ns, "p50"),
            ttft_p95_ns: percentile(&summary.ttft_ns, "p95"),
            tpot_p50_ns: percentile(&summary.tpot_ns, "p50"),
            e2e_p95_ns: percentile(&summary.e2e_ns, "p95"),
            goodput_per_mille: steady
                .as_ref()
                .filter(|s| s.requests_ended > 0)
                .map(|s| s.requests_good * 1000 / s.requests_ended),
        };
        println!("{}", row(&step));
        self.steps.push(step);
        Ok(self.steps.last())
    }

    /// The capacity search (see [`Args::find_capacity`]): the highest
    /// Poisson rate that passed, `None` when none did.
    async fn find_capacity(&mut self) -> anyhow::Result<Search> {
        let Some(first) = self
            .step(Offered::Users(1), Some("start"), Some(START_REQUESTS))
            .await?
        else {
            return Ok(Search::default());
        };
        let Some(start) = first.request_throughput_milli.or(first.achieved_milli) else {
            anyhow::bail!("the first probe (one user) completed no request: no rate to start from");
        };
        // A probe passes when its goodput share reaches --goodput-percent.
        let needed = self.args.goodput_percent * 10;
        let mut rate = (start as f64 / 1000.0).clamp(0.001, MAX_RATE);
        let mut passed: Option<f64> = None;
        let mut failed: Option<f64> = None;
        let mut bounded = true;
        for _ in 0..MAX_GROWTH_PROBES {
            let phase = if failed.is_some() && passed.is_none() {
                "shrink"
            } else {
                "grow"
            };
            let Some(step) = self.step(Offered::Rate(rate), Some(phase), None).await? else {
                return Ok(Search {
                    passed,
                    failed,
                    bounded: false,
                });
            };
            if step.goodput_per_mille.is_some_and(|g| g >= needed) {
                passed = Some(rate);
                if failed.is_some() {
                    break;
                }
                rate = round_rate(rate * 2.0);
            } else {
                failed = Some(rate);
                if passed.is_some() {
                    break;
                }
                rate = round_rate(rate / 2.0);
            }
            if !(0.001..=MAX_RATE).contains(&rate) {
                break;
            }
        }
        let (Some(mut low), Some(mut high)) = (passed, failed) else {
            return Ok(Search {
                passed,
                failed,
                bounded: false,
            });
        };
        for _ in 0..MAX_BISECTION_PROBES {
            let mid = round_rate((low + high) / 2.0);
            if mid <= low || mid >= high {
                break;
            }
            let Some(step) = self.step(Offered::Rate(mid), Some("bisect"), None).await? else {
                bounded = false;
                break;
            };
            if step.goodput_per_mille.is_some_and(|g| g >= needed) {
                low = mid;
            } else {
                high = mid;
            }
        }
        Ok(Search {
            passed: Some(low),
            failed: Some(high),
            bounded,
        })
    }
}

/// A rate rounded to a milli-request per second, as it is reported.
fn round_rate(rate: f64) -> f64 {
    (rate * 1000.0).round() / 1000.0
}

/// The outcome of a capacity search.
#[derive(Debug, Default)]
struct Search {
    /// The highest rate that passed.
    passed: Option<f64>,
    /// The lowest rate above it that failed.
    failed: Option<f64>,
    /// Whether the search bracketed the answer within its bounds.
    bounded: bool,
}

/// The knee: the index of the first step whose relative throughput gain
/// over the previous step is below [`KNEE_GAIN_PER_MILLE`] of its relative
/// load gain while its E2E p95 rose.
fn knee(steps: &[Step]) -> Option<usize> {
    (1..steps.len()).find(|&i| {
        let (before, now) = (&steps[i - 1], &steps[i]);
        let (Some(t0), Some(t1)) = (before.output_tokens_milli, now.output_tokens_milli) else {
            return false;
        };
        let (Some(l0), Some(l1)) = (before.e2e_p95_ns, now.e2e_p95_ns) else {
            return false;
        };
        let load_gain = now.offered.amount() / before.offered.amount() - 1.0;
        let throughput_gain = t1 as f64 / t0.max(1) as f64 - 1.0;
        load_gain > 0.0
            && throughput_gain < load_gain * KNEE_GAIN_PER_MILLE as f64 / 1000.0
            && l1 > l0
    })
}

const HEADER: &str = "offered         sent  errors  achieved req/s  steady req/s  output tok/s  TTFT p50 ms  TTFT p95 ms  TPOT p50 ms  E2E p95 ms  goodput";

fn row(step: &Step) -> String {
    let milli = |v: Option<u64>| v.map_or("-".to_string(), milli_to_decimal);
    let ms = |v: Option<u64>| v.map_or("-".to_string(), load::ms);
    let share = step
        .goodput_per_mille
        .map_or("-".to_string(), |g| format!("{}.{}%", g / 10, g % 10));
    format!(
        "{:<14} {:>5} {:>7} {:>15} {:>13} {:>13} {:>12} {:>12} {:>12} {:>11} {:>8}{}",
        step.offered.label(),
        step.sent,
        step.errors,
        milli(step.achieved_milli),
        milli(step.request_throughput_milli),
        milli(step.output_tokens_milli),
        ms(step.ttft_p50_ns),
        ms(step.ttft_p95_ns),
        ms(step.tpot_p50_ns),
        ms(step.e2e_p95_ns),
        share,
        step.phase.map(|p| format!("  {p}")).unwrap_or_default(),
    )
}

/// The SLO in words, e.g. `TTFT <= 200 ms, TPOT <= 50 ms`.
fn describe_slo(slo: &Slo) -> String {
    let mut parts = Vec::new();
    if let Some(ns) = slo.ttft_ns_max {
        parts.push(format!("TTFT <= {} ms", load::ms(ns)));
    }
    if let Some(ns) = slo.tpot_ns_max {
        parts.push(format!("TPOT <= {} ms", load::ms(ns)));
    }
    if parts.is_empty() {
        "no SLO".to_string()
    } else {
        parts.join(", ")
    }
}

/// Runs the sweep or the capacity search; see [`Args`].
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let steps: Vec<Offered> = if args.users.is_empty() {
        args.rates.iter().map(|&r| Offered::Rate(r)).collect()
    } else {
        args.users.iter().map(|&u| Offered::Users(u)).collect()
    };
    if steps.len() > MAX_STEPS {
        anyhow::bail!("{} steps: at most {MAX_STEPS}", steps.len());
    }
    if steps.windows(2).any(|w| w[1].amount() <= w[0].amount()) {
        anyhow::bail!("the steps of --users or --rates must increase");
    }
    // Checks the workload flags before anything starts.
    let seed = args.run.workload(Offered::Users(1).model())?.seed;
    let slo = Slo {
        ttft_ns_max: args.slo_ttft_ms,
        tpot_ns_max: args.slo_tpot_ms,
        e2e_ns_max: None,
    };
    let tokenizer = load::load_tokenizer()?;
    let run_dir = args.run.run_dir("sweep");
    let runtime = super::runtime()?;
    let (target, steps, complete, search, interrupted) = runtime.block_on(async {
        let connection = args.run.connect().await?;
        let (pressed, stop) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(async move {
            load::interrupt().await;
            let _ = pressed.send(true);
        });
        let mut sweep = Sweep {
            args: &args,
            connection: &connection,
            tokenizer: &tokenizer,
            run_dir: &run_dir,
            slo: slo.clone(),
            started: Instant::now(),
            steps: Vec::new(),
            stop,
            interrupted_step: None,
        };
        println!("{HEADER}");
        let outcome = if args.find_capacity {
            sweep.find_capacity().await.map(Some)
        } else {
            let mut outcome = Ok(None);
            for offered in steps {
                match sweep.step(offered, None, None).await.map(|s| s.is_some()) {
                    Ok(true) => {}
                    Ok(false) if *sweep.stop.borrow() => break,
                    Ok(false) => {
                        eprintln!("tokencert: the sweep's time bound (1h) is spent");
                        break;
                    }
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
            }
            outcome
        };
        watcher.abort();
        let interrupted = *sweep.stop.borrow();
        // The step Ctrl-C cut short is reported but not compared.
        let complete = sweep.interrupted_step.unwrap_or(sweep.steps.len());
        let steps = std::mem::take(&mut sweep.steps);
        let target = connection.target.clone();
        connection.close().await;
        anyhow::Ok((target, steps, complete, outcome?, interrupted))
    })?;

    let knee = if args.find_capacity {
        None
    } else {
        knee(&steps[..complete])
    };
    match knee {
        Some(i) => println!(
            "knee: {} (throughput gained less than half as much as the load, relatively, while E2E p95 rose; {} was the last step that scaled)",
            steps[i].offered.label(),
            steps[i - 1].offered.label()
        ),
        None if !args.find_capacity => println!("knee: none within these steps"),
        None => {}
    }
    if let Some(search) = &search {
        let slo_text = describe_slo(&slo);
        let percent = args.goodput_percent;
        match (search.passed, search.failed) {
            _ if interrupted => println!(
                "capacity: the search was interrupted (highest rate that passed so far: {})",
                search
                    .passed
                    .map_or("none".to_string(), |r| milli_to_decimal(to_milli(r)))
            ),
            (Some(rate), Some(_)) if search.bounded => println!(
                "capacity: {} req/s (goodput >= {percent}% with SLO {slo_text})",
                milli_to_decimal(to_milli(rate))
            ),
            (Some(rate), _) => println!(
                "capacity: at least {} req/s (goodput >= {percent}% with SLO {slo_text}; the search stopped at its bounds)",
                milli_to_decimal(to_milli(rate))
            ),
            (None, _) => println!(
                "capacity: none found (no probed rate reached goodput >= {percent}% with SLO {slo_text})"
            ),
        }
    }
    let path = run_dir.join("sweep.json");
    tokencert_core::bundle::write_private(
        &path,
        &sweep_json(
            &args,
            seed,
            &target,
            &slo,
            &steps,
            knee,
            search.as_ref(),
            interrupted,
        )?,
    )
    .with_context(|| format!("writing {}", path.display()))?;
    println!("sweep: {}", path.display());
    Ok(if interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// `sweep.json`: canonical JSON (keys sorted, integers only) of the target,
/// the SLO, every step's figures, the knee and the capacity found.
#[allow(
    clippy::too_many_arguments,
    reason = "each is one part of the file; a struct would only rename them"
)]
fn sweep_json(
    args: &Args,
    seed: u64,
    target: &Target,
    slo: &Slo,
    steps: &[Step],
    knee: Option<usize>,
    search: Option<&Search>,
    interrupted: bool,
) -> anyhow::Result<Vec<u8>> {
    let mut rows = Vec::with_capacity(steps.len());
    for step in steps {
        let (users, rate) = match step.offered {
            Offered::Users(u) => (Some(u), None),
            Offered::Rate(r) => (None, Some(to_milli(r))),
        };
        let mut members: Vec<(&str, Vec<u8>)> = vec![
            ("dir", canonical::to_vec(&step.dir)?),
            ("phase", canonical::to_vec(&step.phase)?),
            ("users", canonical::to_vec(&users)?),
            ("rate_milli", canonical::to_vec(&rate)?),
            ("sent", canonical::to_vec(&step.sent)?),
            ("errors", canonical::to_vec(&step.errors)?),
            (
                "achieved_rate_milli",
                canonical::to_vec(&step.achieved_milli)?,
            ),
            (
                "request_throughput_milli",
                canonical::to_vec(&step.request_throughput_milli)?,
            ),
            (
                "output_token_throughput_milli",
                canonical::to_vec(&step.output_tokens_milli)?,
            ),
            ("ttft_p50_ns", canonical::to_vec(&step.ttft_p50_ns)?),
            ("ttft_p95_ns", canonical::to_vec(&step.ttft_p95_ns)?),
            ("tpot_p50_ns", canonical::to_vec(&step.tpot_p50_ns)?),
            ("e2e_p95_ns", canonical::to_vec(&step.e2e_p95_ns)?),
            (
                "goodput_per_mille",
                canonical::to_vec(&step.goodput_per_mille)?,
            ),
        ];
        rows.push(load::object(&mut members));
    }
    let mut array = b"[".to_vec();
    array.extend_from_slice(&rows.join(&b","[..]));
    array.push(b']');
    let mut top: Vec<(&str, Vec<u8>)> = vec![
        ("base_url", canonical::to_vec(&target.base_url)?),
        ("model", canonical::to_vec(&target.model)?),
        ("seed", canonical::to_vec(&seed)?),
        ("slo", canonical::to_vec(slo)?),
        ("steps", array),
        ("knee_step", canonical::to_vec(&knee)?),
        ("interrupted", canonical::to_vec(&interrupted)?),
        (
            "knee_gain_per_mille",
            canonical::to_vec(&KNEE_GAIN_PER_MILLE)?,
        ),
        (
            "goodput_percent",
            canonical::to_vec(&search.map(|_| args.goodput_percent))?,
        ),
        (
            "capacity_rate_milli",
            canonical::to_vec(&search.and_then(|s| s.passed).map(to_milli))?,
        ),
        (
            "capacity_bracketed",
            canonical::to_vec(&search.map(|s| s.bounded))?,
        ),
    ];
    let mut bytes = load::object(&mut top);
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(offered: Offered, tokens: u64, e2e: u64) -> Step {
        Step {
            offered,
            phase: None,
            dir: String::new(),
            sent: 1,
            errors: 0,
            achieved_milli: None,
            request_throughput_milli: None,
            output_tokens_milli: Some(tokens),
            ttft_p50_ns: None,
            ttft_p95_ns: None,
            tpot_p50_ns: None,
            e2e_p95_ns: Some(e2e),
            goodput_per_mille: None,
        }
    }

    #[test]
    fn the_knee_is_where_throughput_stops_following_the_load() {
        let u = Offered::Users;
        let steps = [
            step(u(1), 100_000, 100),
            step(u(2), 190_000, 105),
            step(u(4), 330_000, 120),
            step(u(8), 360_000, 240),
            step(u(16), 365_000, 480),
        ];
        assert_eq!(knee(&steps), Some(3));
        // Flat throughput with falling latency is no knee.
        let steps = [step(u(1), 100_000, 100), step(u(2), 100_000, 90)];
        assert_eq!(knee(&steps), None);
        assert_eq!(knee(&steps[..1]), None);
    }

    #[test]
    fn rates_and_milliseconds_parse_within_bounds() {
        assert_eq!(parse_rate("2.5"), Ok(2.5));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("NaN").is_err());
        assert!(parse_rate("fast").is_err());
        assert_eq!(parse_ms("7.5"), Ok(7_500_000));
        assert_eq!(parse_ms("200"), Ok(200_000_000));
        assert!(parse_ms("0").is_err());
        assert!(parse_ms("3600001").is_err());
    }
}
