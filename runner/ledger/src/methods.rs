//! The workload of each performance case, by suite: half of a figure's
//! method, which a bundle does not carry (it names its suite by digest and
//! its cases by id; the workloads are in the suite's case files).
//!
//! When a bundle is added, the suite that verified it is at hand, and the
//! digest of each of its performance cases' workloads is written to
//! `LEDGER/methods/<suite digest hex>.json` (once per suite; a suite digest
//! fixes every case). `rebuild` reads it back, so the index is recreated
//! without the suite, which may have changed since.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokencert_core::bundle::write_private;
use tokencert_core::digest::sha256;
use tokencert_core::suite::Suite;

use crate::error::{LedgerError, io};

/// The directory of method files in a ledger.
pub const METHODS_DIR: &str = "methods";
/// The format tag of a method file.
pub const METHODS_FORMAT: &str = "tokencert-ledger-methods/1";

/// The workloads of one suite's performance cases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Methods {
    /// Format tag, [`METHODS_FORMAT`].
    pub format: String,
    /// The suite, `sha256:<hex>`.
    pub suite_digest: String,
    /// Case id → hex SHA-256 of its workload as canonical JSON.
    pub workloads: BTreeMap<String, String>,
}

impl Methods {
    /// The methods of `suite`'s performance cases.
    ///
    /// # Errors
    ///
    /// When a workload does not serialize.
    pub fn of_suite(suite: &Suite) -> Result<Self, LedgerError> {
        let mut workloads = BTreeMap::new();
        for case in &suite.cases {
            if let Some(performance) = &case.performance {
                let value = serde_json::to_value(&performance.workload).map_err(|e| {
                    LedgerError::Record {
                        path: case.id.clone(),
                        message: format!("its workload does not serialize: {e}"),
                    }
                })?;
                let text = tokencert_core::canonical::with_fractions(&value);
                workloads.insert(case.id.clone(), hex_sha256(text.as_bytes()));
            }
        }
        Ok(Self {
            format: METHODS_FORMAT.into(),
            suite_digest: suite.digest.clone(),
            workloads,
        })
    }

    /// Where a suite's methods are kept in a ledger.
    pub fn path(ledger: &Path, suite_digest: &str) -> PathBuf {
        let hex = suite_digest.strip_prefix("sha256:").unwrap_or(suite_digest);
        ledger.join(METHODS_DIR).join(format!("{hex}.json"))
    }

    /// Reads a suite's methods from a ledger.
    ///
    /// # Errors
    ///
    /// [`LedgerError::Record`] when the file is missing or malformed.
    pub fn read(ledger: &Path, suite_digest: &str) -> Result<Self, LedgerError> {
        let path = Self::path(ledger, suite_digest);
        let shown = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|e| LedgerError::Record {
            path: shown.clone(),
            message: format!(
                "the workloads of suite {suite_digest} cannot be read ({e}); add a bundle of that suite with `tokencert ledger add` to write them again"
            ),
        })?;
        let methods: Methods = serde_json::from_slice(&bytes).map_err(|e| LedgerError::Record {
            path: shown.clone(),
            message: format!("not a method file: {e}"),
        })?;
        if methods.format != METHODS_FORMAT || methods.suite_digest != suite_digest {
            return Err(LedgerError::Record {
                path: shown,
                message: format!(
                    "holds {} of suite {}, expected {METHODS_FORMAT} of {suite_digest}",
                    methods.format, methods.suite_digest
                ),
            });
        }
        Ok(methods)
    }

    /// Writes the file unless it is there (a suite digest fixes every case).
    ///
    /// # Errors
    ///
    /// When it cannot be written.
    pub fn keep(&self, ledger: &Path) -> Result<(), LedgerError> {
        let path = Self::path(ledger, &self.suite_digest);
        if path.exists() {
            return Ok(());
        }
        let dir = ledger.join(METHODS_DIR);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let bytes = tokencert_core::canonical::to_vec(self)?;
        write_atomically(&path, &bytes)
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), LedgerError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = tempfile::Builder::new()
        .prefix(".incoming-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    write_private(temp.path(), bytes).map_err(io(temp.path()))?;
    temp.persist(path).map_err(|e| LedgerError::Io {
        path: path.display().to_string(),
        source: e.error,
    })?;
    Ok(())
}

/// Lowercase hex SHA-256 of some bytes.
pub(crate) fn hex_sha256(bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    digest
        .strip_prefix("sha256:")
        .unwrap_or(&digest)
        .to_string()
}
