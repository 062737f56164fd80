//! `tokencert soak`: a load of bounded duration, reported as stability over
//! time (per-window figures, their coefficients of variation, error bursts).

use std::process::ExitCode;
use std::time::Duration;

use tokencert_core::metrics::{ErrorClass, milli_to_decimal};
use tokencert_core::soak::Variation;
use tokencert_drive::perf::ctrl_c;
use tokencert_drive::perf::soak::{self as perf_soak, Report};

use super::load::{self, LoadBar, MAX_REQUESTS, TargetArgs, ms};

/// The longest soak.
pub const MAX_SOAK: Duration = Duration::from_secs(24 * 3600);
/// The shortest window.
const MIN_WINDOW: Duration = Duration::from_millis(100);

/// Options of `tokencert soak`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: TargetArgs,
    /// How long to send requests (e.g. 30s, 30m, 8h; at most 24h). Requests
    /// in flight then finish.
    #[arg(long, required = true,
          value_parser = |t: &str| load::parse_duration_up_to(t, MAX_SOAK))]
    duration: Duration,
    /// Length of a window (e.g. 1s, 10s, 1m; at least 100ms, at most
    /// --duration). Requests are counted in the window in which they ended.
    #[arg(long, default_value = "10s",
          value_parser = |t: &str| load::parse_duration_up_to(t, MAX_SOAK))]
    window: Duration,
    /// The most requests to send (1 to 100000). They are planned up front
    /// (about 0.2 ms and 4 KB each), so a soak that sends them all ends
    /// before --duration, and says so.
    #[arg(long, default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=MAX_REQUESTS))]
    requests: u64,
    #[command(flatten)]
    shape: load::ShapeArgs,
}

/// Runs the soak; see [`Args`].
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.window < MIN_WINDOW || args.window > args.duration {
        anyhow::bail!(
            "--window {} must be at least 100ms and at most --duration {}",
            humantime::format_duration(args.window),
            humantime::format_duration(args.duration)
        );
    }
    let model = args.shape.model();
    let request = perf_soak::Request {
        workload: args
            .common
            .workload(model, args.requests, Some(args.duration))?,
        window: args.window,
        run_dir: args.common.run_dir("soak"),
    };
    eprintln!(
        "tokencert: soak for {} in windows of {} (Ctrl-C stops sending and reports what ran)",
        humantime::format_duration(args.duration),
        humantime::format_duration(args.window)
    );

    let runtime = super::runtime()?;
    let progress = LoadBar::default();
    let report = runtime.block_on(async {
        let connection = args.common.connect().await?;
        let report = perf_soak::run(
            &connection.target,
            &request,
            &|event| progress.show(event),
            ctrl_c(),
        )
        .await;
        connection.close().await;
        anyhow::Ok(report?)
    })?;
    print_table(&report);
    println!("evidence: {}", report.evidence_dir.display());
    println!("soak: {}", report.soak_file.display());
    Ok(if report.run.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_table(report: &Report) {
    let (run, figures) = (&report.run, &report.figures);
    let opt = |v: Option<u64>| v.map_or("-".to_string(), ms);
    println!(
        "requests: {} sent, {} ended, {} errors ({} ppm), {} not sent",
        run.sent, figures.requests, figures.errors, figures.error_rate_ppm, run.not_sent
    );
    if run.interrupted {
        println!("INTERRUPTED: no request was sent after Ctrl-C");
    }
    if report.plan_exhausted {
        println!(
            "the {} planned requests were all sent before --duration: raise --requests for a longer soak",
            run.planned
        );
    }
    println!(
        "windows of {} s by completion time (* = drain: the load had stopped sending)",
        ms(figures.spec.window_ns / 1000)
    );
    println!(
        "{:>6} {:>9} {:>6} {:>6} {:>26} {:>26} {:>12}",
        "window",
        "start s",
        "reqs",
        "errs",
        "TTFT p50/p95/p99 ms",
        "E2E p50/p95/p99 ms",
        "out tok/s"
    );
    for w in &figures.windows {
        let triple = |q: &tokencert_core::soak::Quantiles| {
            format!("{}/{}/{}", opt(q.p50), opt(q.p95), opt(q.p99))
        };
        println!(
            "{:>5}{} {:>9} {:>6} {:>6} {:>26} {:>26} {:>12}",
            w.index,
            if w.steady { " " } else { "*" },
            ms(w.start_ns / 1000),
            w.requests,
            w.errors,
            triple(&w.ttft_ns),
            triple(&w.e2e_ns),
            milli_to_decimal(w.output_tokens_per_s_milli)
        );
    }
    println!();
    println!(
        "stability over the steady windows: coefficient of variation (‰) and the window farthest from the mean"
    );
    let s = &figures.stability;
    let rows: [(&str, &Variation); 9] = [
        ("requests", &s.requests),
        ("errors", &s.errors),
        ("TTFT p50", &s.ttft_p50_ns),
        ("TTFT p95", &s.ttft_p95_ns),
        ("TTFT p99", &s.ttft_p99_ns),
        ("E2E p50", &s.e2e_p50_ns),
        ("E2E p95", &s.e2e_p95_ns),
        ("E2E p99", &s.e2e_p99_ns),
        ("out tok/s", &s.output_tokens_per_s_milli),
    ];
    for (name, v) in rows {
        println!(
            "{name:<10} CV {:>6}‰ over {:>4} windows, farthest: window {}",
            v.cv_per_mille.map_or("-".to_string(), |c| c.to_string()),
            v.windows,
            v.farthest_window.map_or("-".to_string(), |w| w.to_string())
        );
    }
    println!();
    if figures.bursts.is_empty() {
        println!(
            "error bursts: none (a burst is at least {} consecutive failures in completion order)",
            figures.min_burst
        );
    }
    for b in &figures.bursts {
        let classes: Vec<String> = ErrorClass::ALL
            .iter()
            .filter(|c| b.classes.get(**c) > 0)
            .map(|c| format!("{} {}", c.as_str(), b.classes.get(*c)))
            .collect();
        println!(
            "error burst: {} failures, requests {}..{}, ended {} s .. {} s ({})",
            b.count,
            b.first_request,
            b.last_request,
            ms(b.start_ns / 1000),
            ms(b.end_ns / 1000),
            classes.join(", ")
        );
    }
    for h in &figures.hot_windows {
        println!(
            "hot window {}: {} of {} failed ({} ppm, over {}x the run's {} ppm)",
            h.window,
            h.errors,
            h.requests,
            h.error_rate_ppm,
            figures.hot_factor,
            figures.error_rate_ppm
        );
    }
}
