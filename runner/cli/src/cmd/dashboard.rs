//! The dashboard from the command line: `tokencert ledger serve`,
//! `tokencert ledger export`, and the server beside `tokencert observe
//! --serve` (see `tokencert_dashboard`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use tokencert_dashboard::Dashboard;

use super::ledger::At;

/// The address `--addr` defaults to: loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8787";

/// Options of `tokencert ledger serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    at: At,
    /// Address to listen on. Loopback by default: give another address
    /// only to publish the ledger's pages (read-only) to that network.
    #[arg(long, default_value = DEFAULT_ADDR, value_name = "ADDR")]
    addr: SocketAddr,
}

/// Options of `tokencert ledger export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    at: At,
    /// A new or empty directory for the site.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// A dashboard serving beside other work, until [`Served::stop`].
pub struct Served {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), tokencert_dashboard::DashboardError>>,
}

impl Served {
    /// Stops serving (requests in flight finish) and waits.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await.context("the dashboard's task")??;
        Ok(())
    }
}

/// Binds `addr` and serves the ledger's dashboard on it in a task; says
/// where on stderr.
pub async fn start(ledger: &Path, addr: SocketAddr) -> anyhow::Result<Served> {
    let dashboard = Dashboard::open(ledger)
        .with_context(|| format!("opening the ledger {} for the dashboard", ledger.display()))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let bound = listener.local_addr().context("the bound address")?;
    eprintln!(
        "tokencert: dashboard of {} at http://{bound}/ (JSON under /api, Prometheus text at /metrics)",
        ledger.display()
    );
    if !bound.ip().is_loopback() {
        eprintln!(
            "tokencert: {bound} is not a loopback address: whoever reaches it can read the ledger's pages"
        );
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(tokencert_dashboard::serve(dashboard, listener, async {
        let _ = stopped.await;
    }));
    Ok(Served { stop, task })
}

/// `tokencert ledger serve`: serves until Ctrl-C.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let served = start(&args.at.ledger, args.addr).await?;
        let _ = tokio::signal::ctrl_c().await;
        served.stop().await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `tokencert ledger export`: writes the static site.
pub fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let dashboard = Dashboard::open(&args.at.ledger)
        .with_context(|| format!("opening the ledger {}", args.at.ledger.display()))?;
    let done = tokencert_dashboard::export(&dashboard, &args.out)
        .with_context(|| format!("exporting to {}", args.out.display()))?;
    println!(
        "exported {}: index.html, {} target page(s), {} bundle page(s), {} bundle(s) with their archives, JSON under api/, metrics.txt",
        args.out.display(),
        done.targets,
        done.bundle_pages,
        done.bundles_copied
    );
    Ok(ExitCode::SUCCESS)
}
