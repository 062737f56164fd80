//! The flags of the embedded reference service's capacity model (the
//! model `tokencert-reference-capacity`), shared by `serve`, `load` and
//! `run`.

use std::time::Duration;

use tokencert_reference::{Capacity, Jitter};

/// Microseconds of a default duration, for the flags' defaults.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The default batch size, for its flag's default.
fn default_batch() -> u32 {
    u32::try_from(Capacity::default().max_batch).unwrap_or(u32::MAX)
}

/// Parameters of the capacity model of the model
/// `tokencert-reference-capacity`: continuous batching on one simulated
/// accelerator, each step emitting one token per sequence, every streamed
/// data line preceded by `: sched_ns=<ns since admission>`. The defaults
/// describe roughly an 8B-class model on one mid-range accelerator.
#[derive(clap::Args, Debug, Clone)]
#[group(id = "capacity")]
pub struct Args {
    /// Capacity model: prefill time per prompt token, in microseconds.
    #[arg(long, value_name = "US", default_value_t = micros(Capacity::default().prefill_per_token))]
    prefill_us: u64,
    /// Capacity model: the fixed part of a decode step, in microseconds.
    #[arg(long, value_name = "US", default_value_t = micros(Capacity::default().step_base))]
    step_us: u64,
    /// Capacity model: what each sequence in the batch adds to a step, in
    /// microseconds.
    #[arg(long, value_name = "US", default_value_t = micros(Capacity::default().step_per_sequence))]
    step_per_sequence_us: u64,
    /// Capacity model: the most sequences decoded at once (one per choice);
    /// more wait in a FIFO queue.
    #[arg(long, value_name = "N", default_value_t = default_batch(),
          value_parser = clap::value_parser!(u32).range(1..))]
    max_batch: u32,
    /// Capacity model: the most sequences that may wait for room in the
    /// batch; a request that would leave more waiting is answered at once
    /// with 503 (code `overloaded`) and `Retry-After: 1`. Unbounded without it.
    #[arg(long, value_name = "N")]
    max_queue: Option<u32>,
    /// Capacity model: jitter each step by up to this many percent, seeded
    /// by --seed.
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    jitter_percent: Option<u8>,
}

impl Args {
    /// The capacity model the flags describe; `seed` seeds its jitter.
    pub fn capacity(&self, seed: u64) -> Capacity {
        Capacity {
            prefill_per_token: Duration::from_micros(self.prefill_us),
            step_base: Duration::from_micros(self.step_us),
            step_per_sequence: Duration::from_micros(self.step_per_sequence_us),
            max_batch: usize::try_from(self.max_batch).unwrap_or(usize::MAX),
            jitter: self.jitter_percent.map(|p| Jitter {
                seed,
                fraction: f64::from(p) / 100.0,
            }),
            max_queue: self.max_queue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        capacity: Args,
    }

    fn parse(args: &[&str]) -> Capacity {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .expect("the flags parse")
            .capacity
            .capacity(7)
    }

    #[test]
    fn no_flags_is_the_default_model() {
        assert_eq!(parse(&[]), Capacity::default());
    }

    #[test]
    fn every_flag_sets_its_parameter() {
        let c = parse(&[
            "--prefill-us",
            "1",
            "--step-us",
            "2",
            "--step-per-sequence-us",
            "3",
            "--max-batch",
            "4",
            "--max-queue",
            "5",
            "--jitter-percent",
            "10",
        ]);
        assert_eq!(
            c,
            Capacity {
                prefill_per_token: Duration::from_micros(1),
                step_base: Duration::from_micros(2),
                step_per_sequence: Duration::from_micros(3),
                max_batch: 4,
                jitter: Some(Jitter {
                    seed: 7,
                    fraction: 0.1
                }),
                max_queue: Some(5),
            }
        );
        let refused = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied())).is_err()
        };
        assert!(refused(&["--max-batch", "0"]));
        assert!(refused(&["--jitter-percent", "101"]));
    }
}
