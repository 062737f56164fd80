//! Names and roles of known signers, from `LEDGER/trust.yaml`: key id →
//! (name, role). Only key ids are kept; the keys themselves are read to
//! compute their ids and dropped, never shown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokencert_core::sign;

use crate::error::DashboardError;

/// The trust file inside a ledger directory.
pub const TRUST_FILE: &str = "trust.yaml";

/// A known signer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signer {
    /// Its name.
    pub name: String,
    /// vendor, auditor or observer.
    pub role: String,
}

/// Known signers by key id.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    known: BTreeMap<String, Signer>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    role: String,
    public_key: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum File {
    List(Vec<Entry>),
    Wrapped { signers: Vec<Entry> },
}

/// How a signer is shown: name and role, an unknown key, or unsigned.
#[derive(Debug, Clone, Serialize)]
pub struct SignerView {
    /// The key id (None: unsigned).
    pub key_id: Option<String>,
    /// Name and role when trust.yaml knows the key.
    pub known: Option<Signer>,
    /// "name (role)", "unknown key <id>" or "unsigned".
    pub label: String,
}

impl Trust {
    /// Reads `LEDGER/trust.yaml`; no file means no known signers.
    pub fn load(ledger: &Path) -> Result<Trust, DashboardError> {
        let path = ledger.join(TRUST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Trust::default()),
            Err(e) => return Err(DashboardError::io(path, e)),
        };
        let bad = |reason: String| DashboardError::Trust {
            path: path.clone(),
            reason,
        };
        let entries = match serde_saphyr::from_str::<File>(&text) {
            Ok(File::List(entries)) | Ok(File::Wrapped { signers: entries }) => entries,
            Err(e) => {
                return Err(bad(format!(
                    "{e}; expected a list of {{name, role, public_key}}"
                )));
            }
        };
        let mut known = BTreeMap::new();
        for (n, entry) in entries.into_iter().enumerate() {
            let pem = if entry.public_key.contains("-----BEGIN") {
                entry.public_key
            } else {
                let key_path = resolve(ledger, &entry.public_key);
                std::fs::read_to_string(&key_path).map_err(|e| {
                    bad(format!(
                        "signer {} ({}): reading public_key {}: {e}",
                        n + 1,
                        entry.name,
                        key_path.display()
                    ))
                })?
            };
            let id = sign::verifying_key_from_pem(&pem)
                .and_then(|key| sign::key_id(&key))
                .map_err(|e| {
                    bad(format!(
                        "signer {} ({}): public_key: {e}",
                        n + 1,
                        entry.name
                    ))
                })?;
            known.insert(
                id,
                Signer {
                    name: entry.name,
                    role: entry.role,
                },
            );
        }
        Ok(Trust { known })
    }

    /// How the signer of a bundle is shown.
    pub fn view(&self, key_id: Option<&str>) -> SignerView {
        match key_id {
            None => SignerView {
                key_id: None,
                known: None,
                label: "unsigned".into(),
            },
            Some(id) => match self.known.get(id) {
                Some(s) => SignerView {
                    key_id: Some(id.into()),
                    known: Some(s.clone()),
                    label: format!("{} ({})", s.name, s.role),
                },
                None => SignerView {
                    key_id: Some(id.into()),
                    known: None,
                    label: format!("unknown key {id}"),
                },
            },
        }
    }
}

/// A key path as written in trust.yaml: relative paths are relative to the
/// ledger directory.
fn resolve(ledger: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        ledger.join(p)
    }
}
