//! `tokencert sweep`: one load per step of a list of concurrencies or rates
//! (throughput and latency against load, with the saturation knee marked),
//! or a search for the highest Poisson rate whose goodput stays at or above
//! a stated share.

use std::process::ExitCode;

use tokencert_core::metrics::{Slo, milli_to_decimal};
use tokencert_core::workload::MAX_RATE;
use tokencert_drive::perf::sweep::{self as perf_sweep, Mode, Step, to_milli};
use tokencert_drive::perf::{Event, Offered, ctrl_c};

use super::load::{self, LoadBar, MAX_DURATION, MAX_USERS, RunArgs};

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

/// The load of a step in words, e.g. `4 users` or `2.5 req/s`.
fn label(offered: Offered) -> String {
    match offered {
        Offered::Users(1) => "1 user".to_string(),
        Offered::Users(users) => format!("{users} users"),
        Offered::Rate(rate) => format!("{} req/s", milli_to_decimal(to_milli(rate))),
    }
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
        label(step.offered),
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
    let mode = if args.find_capacity {
        Mode::Capacity {
            goodput_percent: args.goodput_percent,
        }
    } else if args.users.is_empty() {
        Mode::Steps(args.rates.iter().map(|&r| Offered::Rate(r)).collect())
    } else {
        Mode::Steps(args.users.iter().map(|&u| Offered::Users(u)).collect())
    };
    let slo = Slo {
        ttft_ns_max: args.slo_ttft_ms,
        tpot_ns_max: args.slo_tpot_ms,
        e2e_ns_max: None,
    };
    // Checks the workload flags before anything starts.
    let request = perf_sweep::Request {
        workload: args.run.workload(Offered::Users(1).model())?,
        mode,
        slo,
        run_dir: args.run.run_dir("sweep"),
    };
    let runtime = super::runtime()?;
    let progress = LoadBar::default();
    let show = |event: Event| match event {
        Event::SweepStarted => println!("{HEADER}"),
        Event::StepEnded(step) => println!("{}", row(&step)),
        Event::SweepOutOfTime => eprintln!("tokencert: the sweep's time bound (1h) is spent"),
        other => progress.show(other),
    };
    let report = runtime.block_on(async {
        let connection = args.run.connect().await?;
        let report = perf_sweep::run(&connection.target, &request, &show, ctrl_c()).await;
        connection.close().await;
        anyhow::Ok(report?)
    })?;

    let steps = &report.steps;
    match report.knee {
        Some(i) => println!(
            "knee: {} (throughput gained less than half as much as the load, relatively, while E2E p95 rose; {} was the last step that scaled)",
            label(steps[i].offered),
            label(steps[i - 1].offered)
        ),
        None if !args.find_capacity => println!("knee: none within these steps"),
        None => {}
    }
    if let Some(search) = &report.search {
        let slo_text = describe_slo(&request.slo);
        let percent = args.goodput_percent;
        match (search.passed, search.failed) {
            _ if report.interrupted => println!(
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
    println!("sweep: {}", report.sweep_file.display());
    Ok(if report.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
