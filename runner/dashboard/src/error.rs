//! The dashboard's one error type.

use std::path::PathBuf;

/// What went wrong reading a ledger, rendering a page or serving.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The index could not be opened read-only.
    #[error(
        "opening the ledger index {path} read-only: {source}; \
         is --ledger a ledger directory? (`tokencert ledger rebuild` recreates its index)"
    )]
    Open {
        /// index.sqlite
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// The index has no summary tables: it was made before the ledger
    /// kept them.
    #[error(
        "the ledger index {path} predates the summary tables the leaderboard reads: \
         recreate it with `tokencert ledger rebuild`"
    )]
    Outdated {
        /// index.sqlite
        path: PathBuf,
    },
    /// A query over the index failed (a schema other than the contract's?).
    #[error("querying the ledger index: {0}")]
    Query(#[from] rusqlite::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// trust.yaml is malformed or names a key that cannot be read.
    #[error("trust file {path}: {reason}")]
    Trust {
        /// LEDGER/trust.yaml
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
    /// A template or chart could not be rendered.
    #[error("rendering {page}: {reason}")]
    Render {
        /// Which page.
        page: &'static str,
        /// The renderer's message.
        reason: String,
    },
    /// The server could not bind or stopped with an error.
    #[error("serving on {addr}: {source}")]
    Serve {
        /// The address asked for.
        addr: String,
        /// The system's reason.
        source: std::io::Error,
    },
}

impl DashboardError {
    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DashboardError::Io {
            path: path.into(),
            source,
        }
    }
}
