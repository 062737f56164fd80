//! The ledger directory and its index: open, create, list, dump, pin.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::Serialize;

use crate::error::{LedgerError, io};
use crate::index::{self, INDEX_FILE, sql};
use crate::trust::Trust;

/// Verified bundles, one directory each, named by id.
pub const BUNDLES_DIR: &str = "bundles";
/// Pinned bundles' ids, one empty file each: kept by retention, and
/// recorded here rather than in the bundle so that it still verifies.
pub const PINNED_DIR: &str = "pinned";

/// A ledger: `bundles/<id>/` (verified bundles, content-addressed by the
/// SHA-256 of their manifest), `index.sqlite` (an index that `rebuild`
/// recreates from the files), `trust.yaml` (known signers), and the
/// records the index needs besides the bundles: `methods/` (workload
/// digests by suite), `pinned/` and `pruned/` (what pruned evidence held).
#[derive(Debug)]
pub struct Ledger {
    pub(crate) dir: PathBuf,
    pub(crate) conn: Connection,
}

/// One bundle as `tokencert ledger list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    /// Its id.
    pub id: String,
    /// Its run id.
    pub run_id: String,
    /// When it started, RFC 3339 UTC.
    pub started_at: String,
    /// The target's base URL.
    pub target_url: String,
    /// The model.
    pub model: String,
    /// The observer, for an observatory's probe.
    pub observer: Option<String>,
    /// The signer's key id; `None`: unsigned.
    pub signer: Option<String>,
    /// Whether the signer is in the trust file.
    pub signer_known: bool,
    /// MUST cases passed.
    pub must_pass: i64,
    /// MUST cases failed.
    pub must_fail: i64,
    /// MUST cases that could not be judged.
    pub must_error: i64,
    /// Kept by retention.
    pub pinned: bool,
    /// Its evidence was pruned.
    pub evidence_pruned: bool,
}

impl Ledger {
    /// Opens the ledger at `dir`.
    ///
    /// # Errors
    ///
    /// [`LedgerError::NotALedger`] when `dir` has no index,
    /// [`LedgerError::Outdated`] when it has no summary tables.
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        let path = dir.join(INDEX_FILE);
        if !path.is_file() {
            return Err(LedgerError::NotALedger(dir.display().to_string()));
        }
        let conn = index::connect(&path)?;
        if !index::has_summaries(&conn).map_err(sql(&path))? {
            return Err(LedgerError::Outdated(path.display().to_string()));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            conn,
        })
    }

    /// Creates an empty ledger at `dir` (its owner's alone), or opens the
    /// one that is there.
    ///
    /// # Errors
    ///
    /// When the directory or the index cannot be created.
    pub fn create(dir: &Path) -> Result<Self, LedgerError> {
        let bundles = dir.join(BUNDLES_DIR);
        tokencert_core::bundle::create_private_dir(dir).map_err(io(dir))?;
        std::fs::create_dir_all(&bundles).map_err(io(&bundles))?;
        let path = dir.join(INDEX_FILE);
        if path.is_file() {
            return Self::open(dir);
        }
        // Written beside and renamed, so that a ledger never has a
        // half-created index.
        let temp = crate::rebuild::temp_index(dir)?;
        {
            let conn = index::connect(temp.path())?;
            conn.execute_batch(index::SCHEMA)
                .map_err(sql(temp.path()))?;
        }
        temp.persist(&path).map_err(|e| LedgerError::Io {
            path: path.display().to_string(),
            source: e.error,
        })?;
        Self::open(dir)
    }

    /// The ledger's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of a stored bundle.
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.dir.join(BUNDLES_DIR).join(id)
    }

    /// The ledger's own trust file (empty when it has none): what `add`
    /// should be given, so that `rebuild` finds the same signers known.
    ///
    /// # Errors
    ///
    /// When the trust file is invalid.
    pub fn trust(&self) -> Result<Trust, LedgerError> {
        Trust::of_ledger(&self.dir)
    }

    /// The index connection, for reading.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Every bundle, oldest first.
    ///
    /// # Errors
    ///
    /// When the index cannot be read.
    pub fn list(&self) -> Result<Vec<Listed>, LedgerError> {
        let path = self.dir.join(INDEX_FILE);
        let mut select = self
            .conn
            .prepare(
                "SELECT id, run_id, started_at, target_url, model, observer, signer, signer_known, \
                 must_pass, must_fail, must_error, pinned, evidence_pruned FROM bundle \
                 ORDER BY started_unix, id",
            )
            .map_err(sql(&path))?;
        let rows = select
            .query_map([], |r| {
                Ok(Listed {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    started_at: r.get(2)?,
                    target_url: r.get(3)?,
                    model: r.get(4)?,
                    observer: r.get(5)?,
                    signer: r.get(6)?,
                    signer_known: r.get(7)?,
                    must_pass: r.get(8)?,
                    must_fail: r.get(9)?,
                    must_error: r.get(10)?,
                    pinned: r.get(11)?,
                    evidence_pruned: r.get(12)?,
                })
            })
            .map_err(sql(&path))?;
        rows.collect::<Result<_, _>>().map_err(sql(&path))
    }

    /// Every row of every table, sorted, as canonical JSON: equal dumps,
    /// equal indexes.
    ///
    /// # Errors
    ///
    /// When the index cannot be read.
    pub fn dump(&self) -> Result<Vec<u8>, LedgerError> {
        index::dump(&self.conn)
    }

    /// Pins a bundle: retention keeps its evidence.
    ///
    /// # Errors
    ///
    /// [`LedgerError::Unknown`] when no bundle has that id.
    pub fn pin(&mut self, id: &str) -> Result<(), LedgerError> {
        let path = self.dir.join(INDEX_FILE);
        let known: bool = self
            .conn
            .query_row("SELECT count(*) FROM bundle WHERE id = ?1", [id], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(sql(&path))?;
        if !known {
            return Err(LedgerError::Unknown(id.to_string()));
        }
        let pins = self.dir.join(PINNED_DIR);
        std::fs::create_dir_all(&pins).map_err(io(&pins))?;
        let pin = pins.join(id);
        tokencert_core::bundle::write_private(&pin, b"").map_err(io(&pin))?;
        self.conn
            .execute("UPDATE bundle SET pinned = 1 WHERE id = ?1", [id])
            .map_err(sql(&path))?;
        Ok(())
    }

    pub(crate) fn index_path(&self) -> PathBuf {
        self.dir.join(INDEX_FILE)
    }
}
