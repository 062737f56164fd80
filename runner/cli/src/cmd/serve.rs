//! `tokencert serve`: the reference token service, standalone.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;

use tokencert_reference::{CAPACITY_MODEL, Config, LIMITED_MODEL, Mutant};

/// Options of `tokencert serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on. Keep it on loopback unless you mean it.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Seed of the deterministic output.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Serve a mutant that breaks one clause (see `tokencert serve --list-mutants`).
    #[arg(long)]
    mutant: Option<Mutant>,
    /// Require this environment variable's value as the bearer key.
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
    /// List the mutants and the clause each breaks, then exit.
    #[arg(long)]
    list_mutants: bool,
    #[command(flatten)]
    capacity: super::capacity::Args,
}

/// Serves until Ctrl-C.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list_mutants {
        for m in Mutant::ALL {
            println!("{:<28} {:<28} {}", m.name(), m.clause(), m.description());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let api_key = match &args.api_key_env {
        Some(var) => Some(
            std::env::var(var)
                .with_context(|| format!("--api-key-env {var}: the variable is not set"))?,
        ),
        None => None,
    };
    let config = Config {
        seed: args.seed,
        api_key,
        mutant: args.mutant,
        capacity: args.capacity.capacity(args.seed),
        ..Config::default()
    };
    super::runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("binding {}", args.addr))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "reference token service on http://{addr}/v1 (models {}, {LIMITED_MODEL} and \
             {CAPACITY_MODEL}: prefill {:?}/token, step {:?} + {:?}/sequence, batch {}, queue {}; \
             seed {}{}{}); Ctrl-C stops it",
            config.model,
            config.capacity.prefill_per_token,
            config.capacity.step_base,
            config.capacity.step_per_sequence,
            config.capacity.max_batch,
            config
                .capacity
                .max_queue
                .map_or("unbounded".to_string(), |q| q.to_string()),
            config.seed,
            config
                .mutant
                .map(|m| format!(", mutant {m}"))
                .unwrap_or_default(),
            if config.api_key.is_some() {
                ", bearer auth on"
            } else {
                ""
            }
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        tokencert_reference::serve(config, listener, shutdown)
            .await
            .context("serving")
    })?;
    Ok(ExitCode::SUCCESS)
}
