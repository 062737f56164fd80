//! The observatory's one error type.

use std::path::PathBuf;

use tokencert_core::suite::Problem;

/// The observatory cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config is invalid; every problem is listed with its line and field.
    #[error("{} is invalid ({} problem(s)):\n{}", file.display(), problems.len(), list(problems))]
    Config {
        /// The config file.
        file: PathBuf,
        /// What is wrong, where.
        problems: Vec<Problem>,
    },
    /// A target's key variable is not set.
    #[error(
        "target {target}: the environment variable {var} (its api_key_env) is not set or empty; export the key in it before starting the observatory"
    )]
    MissingKey {
        /// The target's name.
        target: String,
        /// The variable's name (never its value).
        var: String,
    },
    /// A target cannot be tested as configured.
    #[error("target {target}: {source}")]
    Target {
        /// The target's name.
        target: String,
        /// Why.
        source: tokencert_drive::RemoteError,
    },
    /// A probe's cost cannot be estimated (the run would fail the same way).
    #[error("cannot estimate what a probe costs: {0}")]
    Estimate(String),
    /// The ledger cannot be read or written.
    #[error(transparent)]
    Ledger(#[from] tokencert_ledger::LedgerError),
    /// The ledger's index cannot be queried.
    #[error("querying the ledger's index: {0}")]
    Index(#[from] rusqlite::Error),
    /// A directory cannot be created.
    #[error("cannot create {path}: {source}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
