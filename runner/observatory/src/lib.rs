//! tokencert-observatory: scheduled probes of many token services.
//!
//! An observatory reads `observatory.yaml` ([`config`]), and runs each of
//! its probes against each target when the probe's [`schedule`] says and
//! the target's [`budget`] allows. Every probe is an ordinary run (the same
//! path as `tokencert run`) whose bundle records the observer, its location
//! and the probe, is signed, and is added to a [`tokencert_ledger::Ledger`];
//! the schedule resumes from the ledger after a restart, and old evidence
//! is pruned. The scheduler and the budget are pure functions of the time
//! they are given.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod budget;
mod clock;
pub mod config;
mod error;
pub mod estimate;
mod event;
pub mod history;
mod observatory;
mod observe;
mod probe;
pub mod schedule;

pub use config::{Config, FingerprintProbe, ProbeConfig, TargetConfig, load};
pub use error::Error;
pub use event::{Event, Finished, Verdicts};
pub use observatory::Observatory;
pub use observe::{OnEvent, Options, PRUNE_EVERY, STAGING_DIR, Summary};
pub use probe::{BODY_LIMIT, JOBS};
