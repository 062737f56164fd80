//! Retention: pruning the evidence of old bundles, keeping their rows.
//!
//! A pruned bundle keeps `run.json`, `results.json`, its manifest and
//! envelope, so its verdicts and figures stay indexed, but it no longer
//! verifies (its evidence is gone) and is not compared again. What the
//! index took from the evidence, and the agreements it took part in, are
//! kept in `LEDGER/pruned/<id>.json`, so that `rebuild` gives the same rows.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokencert_core::bundle::EVIDENCE_DIR;

use crate::error::{LedgerError, io};
use crate::index::{self, AgreementRow, sql};
use crate::ledger::{BUNDLES_DIR, Ledger};
use crate::methods::write_atomically;
use crate::rows::EvidenceCounts;

/// The directory of pruned records in a ledger.
pub const PRUNED_DIR: &str = "pruned";
/// The format tag of a pruned record.
pub const PRUNED_FORMAT: &str = "tokencert-ledger-pruned/1";

/// What a pruned bundle's evidence gave the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrunedRecord {
    /// Format tag, [`PRUNED_FORMAT`].
    pub format: String,
    /// The bundle.
    pub id: String,
    /// Its evidence counts.
    pub evidence: EvidenceCounts,
    /// The agreement rows it took part in, sorted.
    pub agreements: Vec<AgreementRow>,
}

impl PrunedRecord {
    fn path(ledger: &Path, id: &str) -> PathBuf {
        ledger.join(PRUNED_DIR).join(format!("{id}.json"))
    }

    /// The record of a bundle, if its evidence was pruned.
    ///
    /// # Errors
    ///
    /// When it is there but cannot be read.
    pub fn read(ledger: &Path, id: &str) -> Result<Option<Self>, LedgerError> {
        let path = Self::path(ledger, id);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let record: Self = serde_json::from_slice(&bytes).map_err(|e| LedgerError::Record {
            path: path.display().to_string(),
            message: format!("not a pruned record: {e}"),
        })?;
        if record.format != PRUNED_FORMAT || record.id != id {
            return Err(LedgerError::Record {
                path: path.display().to_string(),
                message: format!("expected a {PRUNED_FORMAT} record of bundle {id}"),
            });
        }
        Ok(Some(record))
    }
}

/// What a prune did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// The bundles whose evidence was removed, by id.
    pub bundles: Vec<String>,
    /// Bytes of evidence removed.
    pub bytes: u64,
}

impl Ledger {
    /// Removes the evidence of bundles that started before
    /// `older_than_unix` (seconds since the epoch), unless pinned when
    /// `keep_pinned`; their rows stay, with `evidence_pruned = 1`.
    ///
    /// # Errors
    ///
    /// When the index, a record or the evidence cannot be read or written;
    /// the bundles pruned before the failure stay pruned.
    pub fn prune_evidence(
        &mut self,
        older_than_unix: i64,
        keep_pinned: bool,
    ) -> Result<Pruned, LedgerError> {
        let index_path = self.index_path();
        let ids: Vec<(String, EvidenceCounts)> = {
            let mut select = self
                .conn
                .prepare(
                    "SELECT id, exchanges, answered, tokens_billed FROM bundle \
                     WHERE evidence_pruned = 0 AND started_unix < ?1 AND (pinned = 0 OR ?2 = 0) \
                     ORDER BY id",
                )
                .map_err(sql(&index_path))?;
            select
                .query_map(rusqlite::params![older_than_unix, keep_pinned], |r| {
                    Ok((
                        r.get(0)?,
                        EvidenceCounts {
                            exchanges: r.get(1)?,
                            answered: r.get(2)?,
                            tokens_billed: r.get(3)?,
                        },
                    ))
                })
                .map_err(sql(&index_path))?
                .collect::<Result<_, _>>()
                .map_err(sql(&index_path))?
        };
        let records = self.dir.join(PRUNED_DIR);
        let mut pruned = Pruned::default();
        for (id, evidence) in ids {
            let record = PrunedRecord {
                format: PRUNED_FORMAT.into(),
                id: id.clone(),
                evidence,
                agreements: index::agreements_of(&self.conn, &id).map_err(sql(&index_path))?,
            };
            // The record first: whenever evidence is gone, it is there.
            std::fs::create_dir_all(&records).map_err(io(&records))?;
            write_atomically(
                &PrunedRecord::path(&self.dir, &id),
                &tokencert_core::canonical::to_vec(&record)?,
            )?;
            self.conn
                .execute("UPDATE bundle SET evidence_pruned = 1 WHERE id = ?1", [&id])
                .map_err(sql(&index_path))?;
            let evidence_dir = self.dir.join(BUNDLES_DIR).join(&id).join(EVIDENCE_DIR);
            pruned.bytes += size(&evidence_dir);
            if evidence_dir.exists() {
                std::fs::remove_dir_all(&evidence_dir).map_err(io(&evidence_dir))?;
            }
            pruned.bundles.push(id);
        }
        Ok(pruned)
    }
}

/// Bytes of the plain files under `dir` (0 when it is absent).
fn size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(kind) if kind.is_dir() => size(&e.path()),
            Ok(kind) if kind.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}
