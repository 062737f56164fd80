//! Recreating the index from the ledger's files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use tempfile::NamedTempFile;
use tokencert_core::bundle;

use crate::agreement::{self, Party};
use crate::error::{LedgerError, io};
use crate::identity::{self, Member};
use crate::index::{self, INDEX_FILE, sql};
use crate::ledger::{BUNDLES_DIR, Ledger, PINNED_DIR};
use crate::methods::Methods;
use crate::prune::PrunedRecord;
use crate::rows::{self, Rows, Standing};
use crate::trust::Trust;

/// A new, empty file for an index, inside the ledger (so that renaming it
/// over `index.sqlite` is atomic).
pub(crate) fn temp_index(dir: &Path) -> Result<NamedTempFile, LedgerError> {
    tempfile::Builder::new()
        .prefix(".incoming-index-")
        .suffix(".sqlite")
        .tempfile_in(dir)
        .map_err(io(dir))
}

/// Whether a directory name is a bundle id: 64 lowercase hex digits.
pub(crate) fn is_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Ledger {
    /// Recreates `dir/index.sqlite` from the bundles under `dir/bundles/`
    /// (by id), the trust file, and the records of methods, pins and pruned
    /// evidence; agreements are compared again and fingerprint bundles
    /// identified again. The index is written to a
    /// temporary file and renamed over the old one, so a failed rebuild
    /// leaves the old index. The same files give the same rows
    /// ([`Ledger::dump`]) and a byte-identical index file.
    ///
    /// # Errors
    ///
    /// When a stored bundle, the trust file or a record cannot be read, or
    /// the index cannot be written.
    pub fn rebuild(dir: &Path) -> Result<Ledger, LedgerError> {
        let trust = Trust::of_ledger(dir)?;
        let store = dir.join(BUNDLES_DIR);
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&store).map_err(io(&store))? {
            let entry = entry.map_err(io(&store))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_id(&name) {
                return Err(LedgerError::Io {
                    path: entry.path().display().to_string(),
                    source: std::io::Error::other(
                        "not a bundle id (64 lowercase hex digits): move it out of bundles/",
                    ),
                });
            }
            ids.push(name);
        }
        ids.sort();
        let mut methods: BTreeMap<String, Methods> = BTreeMap::new();
        let mut all: Vec<(Rows, Party, Option<PrunedRecord>)> = Vec::new();
        let mut members = Vec::new();
        for id in &ids {
            let bundle_dir = store.join(id);
            let stored = |source| LedgerError::Stored {
                id: id.clone(),
                source,
            };
            let run = bundle::read_run(&bundle_dir).map_err(stored)?;
            if !methods.contains_key(&run.suite_digest) {
                let read = Methods::read(dir, &run.suite_digest)?;
                methods.insert(run.suite_digest.clone(), read);
            }
            let pruned = PrunedRecord::read(dir, id)?;
            let standing = Standing {
                id,
                methods: &methods[&run.suite_digest],
                trust: &trust,
                pinned: dir.join(PINNED_DIR).join(id).exists(),
                pruned: pruned.as_ref().map(|p| p.evidence),
            };
            let rows = rows::extract(&bundle_dir, standing).map_err(stored)?;
            members.extend(Member::of_bundle(&bundle_dir, &rows.bundle).map_err(stored)?);
            let cases: BTreeSet<String> = run.plan.cases.into_iter().collect();
            let party = Party::of_rows(&bundle_dir, &rows, cases);
            all.push((rows, party, pruned));
        }
        let agreements = agreements(&all)?;
        let identities = identity::identify_all(members)?;
        let temp = temp_index(dir)?;
        {
            let mut conn = index::connect(temp.path())?;
            let tx = conn.transaction().map_err(sql(temp.path()))?;
            tx.execute_batch(index::SCHEMA).map_err(sql(temp.path()))?;
            for (rows, _, _) in &all {
                index::write_rows(&tx, rows).map_err(sql(temp.path()))?;
            }
            index::insert_agreements(&tx, &agreements).map_err(sql(temp.path()))?;
            identity::insert(&tx, &identities).map_err(sql(temp.path()))?;
            tx.commit().map_err(sql(temp.path()))?;
        }
        let path = dir.join(INDEX_FILE);
        temp.persist(&path).map_err(|e| LedgerError::Io {
            path: path.display().to_string(),
            source: e.error,
        })?;
        Ledger::open(dir)
    }
}

/// Every agreement: pairs whose evidence is kept are compared again;
/// those of a pruned bundle come from its record. Sorted by key.
fn agreements(
    all: &[(Rows, Party, Option<PrunedRecord>)],
) -> Result<Vec<index::AgreementRow>, LedgerError> {
    let mut rows = BTreeMap::new();
    for (_, _, pruned) in all {
        for row in pruned.iter().flat_map(|p| &p.agreements) {
            rows.insert(
                (row.a.clone(), row.b.clone(), row.case_id.clone()),
                row.clone(),
            );
        }
    }
    // By start, so that each bundle is checked only against those that
    // start before its window (plus the slack) ends.
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by_key(|&i| (all[i].0.bundle.started_unix, all[i].0.bundle.id.clone()));
    for (n, &i) in order.iter().enumerate() {
        let (a, party_a, pruned_a) = &all[i];
        if pruned_a.is_some() {
            continue;
        }
        let end = a.bundle.finished_unix.unwrap_or(a.bundle.started_unix);
        for &j in &order[n + 1..] {
            let (b, party_b, pruned_b) = &all[j];
            if b.bundle.started_unix > end + agreement::WINDOW_SLACK_SECONDS {
                break;
            }
            if pruned_b.is_some() || !agreement::candidates(&a.bundle, &b.bundle) {
                continue;
            }
            for row in agreement::compare_pair(party_a, party_b)? {
                rows.insert((row.a.clone(), row.b.clone(), row.case_id.clone()), row);
            }
        }
    }
    Ok(rows.into_values().collect())
}
