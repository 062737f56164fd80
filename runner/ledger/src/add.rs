//! Adding a bundle: copy, verify the copy, index it, then move it in.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::params;
use tokencert_core::bundle::{self, BundleError};
use tokencert_core::suite::Suite;

use crate::agreement::{self, Party};
use crate::error::{LedgerError, io};
use crate::identity::{self, IdentityRow, Member};
use crate::index::{self, AgreementRow, sql};
use crate::ledger::{BUNDLES_DIR, Ledger};
use crate::methods::{Methods, hex_sha256};
use crate::rows::{self, Standing};
use crate::trust::{Role, Trust};

/// Deepest directory nesting copied from a bundle (tokencert writes two
/// levels: the bundle and `evidence/`).
const MAX_DEPTH: usize = 4;

/// What verification established about who signed a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// No envelope: indexed with no signer.
    Unsigned,
    /// Signed by a key in the trust file; the signature verified with
    /// that key.
    Known {
        /// The key id.
        key_id: String,
        /// The signer's name in the trust file.
        name: String,
        /// Its role.
        role: Role,
    },
    /// Signed by a key the trust file does not list. The envelope is
    /// intact and its signature verifies with the public key the statement
    /// itself names, but that only shows the holder of that key signed: who
    /// it is cannot be checked, so the signature is not checked against any
    /// key the ledger trusts. Indexed with `signer_known = 0`.
    UnknownSigner {
        /// The key id of the key the statement names.
        key_id: String,
    },
}

/// What `add` did.
#[derive(Debug, Clone)]
pub struct Added {
    /// The bundle's id.
    pub id: String,
    /// False when the ledger already held it: nothing was written.
    pub new: bool,
    /// Its run id.
    pub run_id: String,
    /// Who signed it.
    pub signature: Signature,
    /// The comparisons with other signers' bundles that adding it made.
    pub agreements: Vec<AgreementRow>,
    /// For a fingerprint bundle, its identification against its target's
    /// baseline (see [`crate::identity`]).
    pub identity: Option<IdentityRow>,
}

impl Ledger {
    /// Verifies the bundle at `path` against `suite` and, when it verifies,
    /// stores and indexes it. `trust` should be the ledger's own
    /// ([`Ledger::trust`]): `rebuild` reads that one.
    ///
    /// The bundle is copied into a directory inside the ledger, the copy is
    /// verified (digests, the signature — with the trusted key when its
    /// signer is known, see [`Signature`] — the suite digest, and
    /// byte-identical re-judging), indexed in one transaction, compared
    /// with other signers' bundles of the same method (see
    /// [`crate::agreement`]), a fingerprint bundle identified against its
    /// target's baseline (see [`crate::identity`]), and only then moved to
    /// `bundles/<id>/`.
    /// Adding a bundle the ledger holds changes nothing.
    ///
    /// # Errors
    ///
    /// [`LedgerError::Refused`] or [`LedgerError::NotADirectory`] when the
    /// bundle does not verify or cannot be read: nothing is written then.
    pub fn add(&mut self, path: &Path, suite: &Suite, trust: &Trust) -> Result<Added, LedgerError> {
        let shown = path.display().to_string();
        let refused = |source| LedgerError::Refused {
            bundle: shown.clone(),
            source,
        };
        let meta = std::fs::symlink_metadata(path).map_err(|e| refused(bundle_io(path, e)))?;
        if !meta.is_dir() {
            return Err(LedgerError::NotADirectory(shown));
        }
        // Dropped (and removed) on every early return.
        let staging = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempdir_in(&self.dir)
            .map_err(io(&self.dir))?;
        let copy = staging.path().join("bundle");
        copy_tree(path, &copy, 0).map_err(refused)?;
        let key_id = rows::signer_key_id(&copy).map_err(refused)?;
        let signer = key_id.as_deref().and_then(|id| trust.get(id));
        let verified = bundle::verify(&copy, suite, signer.map(|s| &s.key)).map_err(refused)?;
        let manifest = copy.join(bundle::MANIFEST_FILE);
        let id = hex_sha256(&std::fs::read(&manifest).map_err(io(&manifest))?);
        let signature = match (key_id, signer) {
            (None, _) => Signature::Unsigned,
            (Some(key_id), Some(s)) => Signature::Known {
                key_id,
                name: s.name.clone(),
                role: s.role,
            },
            (Some(key_id), None) => Signature::UnknownSigner { key_id },
        };
        let mut added = Added {
            id: id.clone(),
            new: false,
            run_id: verified.run.run_id.clone(),
            signature,
            agreements: Vec::new(),
            identity: None,
        };
        let target = self.bundle_dir(&id);
        if target.exists() {
            return Ok(added);
        }
        let methods = Methods::of_suite(suite)?;
        methods.keep(&self.dir)?;
        let standing = Standing {
            id: &id,
            methods: &methods,
            trust,
            pinned: false,
            pruned: None,
        };
        let rows = rows::extract(&copy, standing).map_err(refused)?;
        let cases: BTreeSet<String> = verified.run.plan.cases.iter().cloned().collect();
        let party = Party::of_rows(&copy, &rows, cases);
        let index_path = self.index_path();
        let tx = self.conn.transaction().map_err(sql(&index_path))?;
        index::write_rows(&tx, &rows).map_err(sql(&index_path))?;
        for peer in peers(&tx, &self.dir, &rows.bundle).map_err(sql(&index_path))? {
            added
                .agreements
                .extend(agreement::compare_pair(&party, &peer)?);
        }
        index::insert_agreements(&tx, &added.agreements).map_err(sql(&index_path))?;
        if let Some(member) = Member::of_bundle(&copy, &rows.bundle).map_err(refused)? {
            let store = self.dir.join(BUNDLES_DIR);
            let rows = identity::add(&tx, member, &|id| store.join(id))?;
            added.identity = rows.into_iter().find(|r| r.bundle == id);
        }
        std::fs::rename(&copy, &target).map_err(io(&target))?;
        if let Err(e) = tx.commit() {
            // The index did not take it: neither does the store.
            let _ = std::fs::remove_dir_all(&target);
            return Err(sql(&index_path)(e));
        }
        added.new = true;
        Ok(added)
    }
}

/// Stored bundles that a new one is compared with: the same target, model
/// and suite, another signer, a window within the slack, evidence kept.
fn peers(
    conn: &rusqlite::Connection,
    ledger: &Path,
    new: &crate::rows::BundleRow,
) -> rusqlite::Result<Vec<Party>> {
    let end = new.finished_unix.unwrap_or(new.started_unix);
    let mut select = conn.prepare_cached(
        "SELECT id, signer, started_unix FROM bundle WHERE target_url = ?1 \
         AND model = ?2 AND suite_digest = ?3 AND signer IS NOT ?4 AND evidence_pruned = 0 \
         AND id != ?5 AND started_unix <= ?6 AND coalesce(finished_unix, started_unix) >= ?7 \
         ORDER BY started_unix, id",
    )?;
    let found: Vec<(String, Option<String>, i64)> = select
        .query_map(
            params![
                new.target_url,
                new.model,
                new.suite_digest,
                new.signer,
                new.id,
                end + agreement::WINDOW_SLACK_SECONDS,
                new.started_unix - agreement::WINDOW_SLACK_SECONDS,
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?
        .collect::<Result<_, _>>()?;
    let mut methods = conn
        .prepare_cached("SELECT DISTINCT case_id, workload, slo FROM figure WHERE bundle = ?1")?;
    let mut parties = Vec::new();
    for (id, signer, start) in found {
        let dir = ledger.join(BUNDLES_DIR).join(&id);
        let cases = match bundle::read_run(&dir) {
            Ok(run) => run.plan.cases.into_iter().collect(),
            // Left to the comparison to report.
            Err(_) => BTreeSet::new(),
        };
        let methods = methods
            .query_map([&id], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
            .collect::<Result<_, _>>()?;
        parties.push(Party {
            dir,
            id,
            signer,
            start,
            cases,
            methods,
        });
    }
    Ok(parties)
}

fn bundle_io(path: &Path, source: std::io::Error) -> BundleError {
    BundleError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Copies a bundle's plain files and directories; anything else (a
/// symlink, a device) is refused, as `verify` would refuse it.
fn copy_tree(from: &Path, to: &Path, depth: usize) -> Result<(), BundleError> {
    if depth > MAX_DEPTH {
        return Err(BundleError::NotAFile(format!(
            "{} (nested deeper than any bundle tokencert writes)",
            from.display()
        )));
    }
    bundle::create_private_dir(to).map_err(|e| bundle_io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| bundle_io(from, e))? {
        let entry = entry.map_err(|e| bundle_io(from, e))?;
        let source = entry.path();
        let kind = entry.file_type().map_err(|e| bundle_io(&source, e))?;
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&source, &dest, depth + 1)?;
        } else if kind.is_file() {
            let size = entry.metadata().map_err(|e| bundle_io(&source, e))?.len();
            if size > bundle::MAX_FILE_BYTES {
                return Err(BundleError::TooLarge {
                    path: source.display().to_string(),
                    limit: bundle::MAX_FILE_BYTES,
                });
            }
            std::fs::copy(&source, &dest).map_err(|e| bundle_io(&source, e))?;
        } else {
            return Err(BundleError::NotAFile(source.display().to_string()));
        }
    }
    Ok(())
}
