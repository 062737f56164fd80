//! `tokencert serve`: the reference token service, standalone.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use std::time::Duration;

use tokencert_reference::{Capacity, Config, Jitter, Mutant};

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
    /// Serve under the capacity model: one scheduler batches every
    /// sequence, each step emits one token per sequence, and every streamed
    /// data line is preceded by `: sched_ns=<ns since admission>`. Without
    /// it, answers are paced only lightly and carry no stamps. The flags
    /// below set the model; their defaults describe roughly an 8B-class
    /// model on one mid-range accelerator.
    #[arg(long)]
    capacity: bool,
    /// Prefill time per prompt token, in microseconds (with --capacity).
    #[arg(long, value_name = "US", default_value_t = 50, requires = "capacity")]
    prefill_us: u64,
    /// The fixed part of a decode step, in microseconds (with --capacity).
    #[arg(
        long,
        value_name = "US",
        default_value_t = 10_000,
        requires = "capacity"
    )]
    step_us: u64,
    /// What each sequence in the batch adds to a step, in microseconds
    /// (with --capacity).
    #[arg(long, value_name = "US", default_value_t = 500, requires = "capacity")]
    step_per_sequence_us: u64,
    /// The most sequences decoded at once; more wait in a queue (with --capacity).
    #[arg(long, value_name = "N", default_value_t = 16, requires = "capacity")]
    max_batch: usize,
    /// Jitter each step by up to this many percent, drawn from --seed
    /// (with --capacity).
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100), requires = "capacity")]
    jitter_percent: Option<u8>,
}

impl Args {
    /// The capacity model the flags describe, if --capacity is given.
    fn capacity(&self) -> Option<Capacity> {
        self.capacity.then(|| Capacity {
            prefill_per_token: Duration::from_micros(self.prefill_us),
            step_base: Duration::from_micros(self.step_us),
            step_per_sequence: Duration::from_micros(self.step_per_sequence_us),
            max_batch: self.max_batch.max(1),
            jitter: self.jitter_percent.map(|p| Jitter {
                seed: self.seed,
                fraction: f64::from(p) / 100.0,
            }),
        })
    }
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
        capacity: args.capacity(),
        ..Config::default()
    };
    super::runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("binding {}", args.addr))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "reference token service on http://{addr}/v1 (model {}, seed {}{}{}{}); Ctrl-C stops it",
            config.model,
            config.seed,
            config
                .capacity
                .map(|c| format!(
                    ", capacity model: prefill {:?}/token, step {:?} + {:?}/sequence, batch {}",
                    c.prefill_per_token, c.step_base, c.step_per_sequence, c.max_batch
                ))
                .unwrap_or_default(),
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
