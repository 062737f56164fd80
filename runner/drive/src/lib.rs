//! tokencert-drive: the impure half of tokencert.
//!
//! Sends each case's request to the target, records every exchange as
//! evidence while it happens (so a killed run keeps what it had), and
//! assembles the bundle. The only place with the network and the clock.
//! [`perf`] runs the measurement commands (`load`, `sweep`, `soak`,
//! `bench`) for any front end.

// Libraries return values and errors; only the binary prints.
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod exchange;
mod fingerprint;
mod identity;
pub mod init;
pub mod load;
pub mod perf;
mod record;
mod redact;
mod remote;
mod run;
mod target;

pub use exchange::{Client, ClientError, Limits};
pub use fingerprint::{FingerprintConfig, fingerprint, fingerprint_observed};
pub use identity::{DeclaredIdentity, IDENTITY_DIR, REFERENCE_NAMES};
pub use remote::{PreparedRemote, Remote, RemoteError, check_base_url, prepare_remote};
pub use run::{
    LoadProgressFn, RunConfig, RunError, RunReport, Sharding, run, run_declared, run_id, run_info,
    run_sharded, run_until, timestamp,
};
pub use target::{ApiKey, Target};
