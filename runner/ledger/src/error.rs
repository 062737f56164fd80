//! The ledger's one error type.

use tokencert_core::bundle::BundleError;
use tokencert_core::compare::CompareError;
use tokencert_core::suite::Problem;

/// Why a ledger operation failed. Nothing is written by an operation that
/// fails (see each operation for how).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A file or directory of the ledger could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The index could not be read or written.
    #[error("the index {path}: {source}")]
    Index {
        /// The index file.
        path: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// `open` found no ledger.
    #[error(
        "{0} is not a ledger (no index.sqlite there): create one with `tokencert ledger add --ledger DIR ...` or rebuild it with `tokencert ledger rebuild DIR`"
    )]
    NotALedger(String),
    /// The index was made before the summary tables (`latest`, ...) or
    /// `identity` existed.
    #[error(
        "the index {0} predates the summary and identity tables the dashboard reads: recreate it with `tokencert ledger rebuild DIR`"
    )]
    Outdated(String),
    /// The bundle was not accepted: it does not verify, or cannot be read.
    #[error("{bundle} refused: {source}")]
    Refused {
        /// The path given.
        bundle: String,
        /// Why.
        source: BundleError,
    },
    /// The path given is not a plain directory (a symlink, a file, ...).
    #[error("{0} refused: a bundle is a plain directory (symlinks and files are refused)")]
    NotADirectory(String),
    /// The trust file is invalid.
    #[error("invalid trust file: {0}")]
    Trust(Problem),
    /// A stored bundle cannot be read back into rows (the ledger's files
    /// were changed by hand).
    #[error("the stored bundle {id} cannot be indexed: {source}")]
    Stored {
        /// Its id.
        id: String,
        /// Why.
        source: BundleError,
    },
    /// A record the index needs besides the bundles (`methods/`,
    /// `pruned/`) is missing or unreadable.
    #[error("{path}: {message}")]
    Record {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Two bundles could not be compared.
    #[error(transparent)]
    Compare(#[from] CompareError),
    /// No bundle of that id in the ledger.
    #[error("no bundle {0} in the ledger")]
    Unknown(String),
    /// Two fingerprints could not be identified.
    #[error(transparent)]
    Identify(#[from] tokencert_core::identify::IdentifyError),
    /// A value could not be written canonically.
    #[error(transparent)]
    Canonical(#[from] tokencert_core::canonical::CanonicalError),
}

/// An I/O error naming its path.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io {
        path: path.display().to_string(),
        source,
    }
}
