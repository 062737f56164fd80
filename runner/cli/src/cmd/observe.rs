//! `tokencert observe`: run an observatory (see `tokencert_observatory`)
//! and print one line per probe.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use anyhow::Context;
use tokencert_core::sign;
use tokencert_ledger::Ledger;
use tokencert_observatory::{Event, Finished, Observatory, Options};

/// Options of `tokencert observe`.
#[derive(clap::Args)]
pub struct Args {
    /// The observatory's config (observatory.yaml: observer, location,
    /// targets with their budgets, probes with their schedules; see
    /// spec/schemas/observatory.schema.json). Keys are read from the
    /// environment variables its targets name.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The ledger every probe's bundle is added to (created when absent);
    /// the schedule resumes from the bundles it holds.
    #[arg(
        long,
        env = "TOKENCERT_LEDGER",
        default_value = "ledger",
        value_name = "DIR"
    )]
    ledger: PathBuf,
    /// Private key (PKCS#8 PEM, from `tokencert keygen`) to sign every
    /// bundle with. Without one the bundles are unsigned.
    #[arg(long, value_name = "FILE", env = "TOKENCERT_SIGNING_KEY")]
    key: Option<PathBuf>,
    /// Targets probed at once (one target never has two probes running).
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Stop once every probe of every target had N turns (a run, or a skip
    /// for budget), the running ones sealed and added. Without it the
    /// observatory runs until Ctrl-C or SIGTERM.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    cycles: Option<u32>,
    /// Prune the evidence of unpinned bundles that started more than N days
    /// ago, at the start and after probes (every 10 minutes at most); their
    /// index rows, verdicts and figures stay.
    #[arg(long, value_name = "N", default_value_t = 30)]
    keep_evidence_days: u32,
    /// Also serve the ledger's dashboard at ADDR while probing (as
    /// `tokencert ledger serve`; e.g. 127.0.0.1:8787). It stops when the
    /// observatory does.
    #[arg(long, value_name = "ADDR")]
    serve: Option<std::net::SocketAddr>,
}

/// Runs the observatory; see [`Args`].
///
/// Exit status: 0 when `--cycles` were done; 130 when stopped by Ctrl-C or
/// SIGTERM (the running probes are sealed and added first); 2 on a usage
/// or setup error (config, key, ledger).
pub fn run(root: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let suite = Arc::new(super::load_suite(root)?);
    // Read the key first: a bad key must not cost a probe.
    let signing_key = super::read_key(args.key.as_deref(), sign::signing_key_from_pem)?;
    let config = tokencert_observatory::load(&args.config, &suite)?;
    let observatory = Observatory::new(config, suite, |var| std::env::var(var).ok())?;
    let mut ledger = Ledger::create(&args.ledger)
        .with_context(|| format!("opening the ledger {}", args.ledger.display()))?;
    print_header(&observatory, &ledger, signing_key.as_ref())?;
    let options = Options {
        concurrency: usize::from(args.concurrency),
        cycles: args.cycles,
        keep_evidence_days: args.keep_evidence_days,
        signing_key,
    };
    let stopped = AtomicBool::new(false);
    let runtime = super::runtime()?;
    let summary = runtime.block_on(async {
        let served = match args.serve {
            Some(addr) => Some(super::dashboard::start(&args.ledger, addr).await?),
            None => None,
        };
        let stop = async {
            signal().await;
            stopped.store(true, Ordering::SeqCst);
            tokio::spawn(async {
                signal().await;
                eprintln!("tokencert: aborted; the bundles added so far are kept");
                std::process::exit(130);
            });
        };
        let summary = observatory
            .observe(&mut ledger, &options, &print_event, stop)
            .await;
        if let Some(served) = served {
            served.stop().await?;
        }
        anyhow::Ok(summary?)
    })?;
    eprintln!(
        "tokencert: {} bundle(s) added to {}, {} probe(s) skipped for budget, {} failed",
        summary.added,
        args.ledger.display(),
        summary.skipped,
        summary.failed
    );
    Ok(if stopped.load(Ordering::SeqCst) {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_header(
    observatory: &Observatory,
    ledger: &Ledger,
    key: Option<&p256::ecdsa::SigningKey>,
) -> anyhow::Result<()> {
    let config = observatory.config();
    let signer = match key {
        Some(key) => format!("signed by {}", sign::key_id(key.verifying_key())?),
        None => "unsigned (no --key or TOKENCERT_SIGNING_KEY)".to_string(),
    };
    eprintln!(
        "tokencert: observer {} ({}), {} target(s), {} probe(s), ledger {}, {signer}",
        config.observer,
        config.location,
        config.targets.len(),
        config.probes.len(),
        ledger.dir().display()
    );
    for (target, probe, cost) in observatory.estimates() {
        eprintln!(
            "tokencert:   {target} {probe}: about {} request(s) and {} token(s) a run",
            cost.requests, cost.tokens
        );
    }
    Ok(())
}

/// One line per probe on stdout; the rest on stderr.
fn print_event(event: Event) {
    let now = humantime::format_rfc3339_seconds(SystemTime::now());
    match event {
        Event::Started { .. } => {}
        Event::Finished(f) => println!("{now} {}", finished(&f)),
        Event::Skipped {
            target,
            probe,
            reason,
        } => println!("{now} {target} {probe}: SKIPPED: {reason}"),
        Event::Failed {
            target,
            probe,
            error,
        } => println!("{now} {target} {probe}: FAILED: {error}"),
        Event::Pruned { bundles, bytes } => eprintln!(
            "{now} tokencert: pruned the evidence of {bundles} bundle(s) ({bytes} bytes); their index rows stay"
        ),
        Event::Stopping => eprintln!(
            "{now} tokencert: stopping; no probe starts any more, the running ones stop sending and are sealed and added (Ctrl-C again to abort)"
        ),
    }
}

fn finished(f: &Finished) -> String {
    if let Some(id) = &f.identity {
        let nats = |m: Option<i64>| m.map_or("-".into(), |m| format!("{:.3}", m as f64 / 1e6));
        let decision = match id.decision.as_str() {
            "same_model" => "SAME MODEL",
            "different_model" => "DIFFERENT MODEL",
            _ => "CANNOT TELL",
        };
        return format!(
            "{} {}: {decision} (against the baseline {}: greedy outputs differing {}/{}, median |logprob difference| {} nats, noise floor {}; tokenizer {}; tasks {}/{}), answered {}/{}, bundle {} ({})",
            f.target,
            f.probe,
            id.baseline.chars().take(12).collect::<String>(),
            id.greedy_divergent,
            id.greedy_compared,
            nats(id.logprob_median_micro),
            nats(id.noise_median_micro),
            id.tokenizer_implied,
            id.tasks_passed,
            id.tasks_total,
            f.answered,
            f.exchanges,
            f.bundle,
            f.run_id
        );
    }
    let v = &f.verdicts;
    let verdict = if v.conforms {
        "CONFORMS"
    } else {
        "DOES NOT CONFORM"
    };
    let partial = if f.interrupted { " PARTIAL" } else { "" };
    format!(
        "{} {}: {verdict}{partial} (pass {}, fail {}, error {}, not claimed {}), answered {}/{}, bundle {} ({})",
        f.target,
        f.probe,
        v.pass,
        v.fail,
        v.error,
        v.not_claimed,
        f.answered,
        f.exchanges,
        f.bundle,
        f.run_id
    )
}

/// Completes on the next Ctrl-C (SIGINT) or SIGTERM; never, where neither
/// can be watched.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
