//! How signers are shown: name and role from the ledger's trust file
//! (`tokencert_ledger::Trust`), "unknown key <id>", or "unsigned". Only
//! names, roles and key ids leave this module; never a key.

use std::path::Path;

use serde::Serialize;

use crate::error::DashboardError;

/// A known signer as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signer {
    /// Its name.
    pub name: String,
    /// vendor, auditor or observer.
    pub role: String,
}

/// The ledger's known signers.
#[derive(Debug, Clone, Default)]
pub struct Trust(tokencert_ledger::Trust);

/// How a bundle's signer is shown.
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
        tokencert_ledger::Trust::of_ledger(ledger)
            .map(Trust)
            .map_err(|e| DashboardError::Trust {
                path: ledger.join(tokencert_ledger::TRUST_FILE),
                reason: e.to_string(),
            })
    }

    /// How the signer with `key_id` is shown.
    pub fn view(&self, key_id: Option<&str>) -> SignerView {
        let Some(id) = key_id else {
            return SignerView {
                key_id: None,
                known: None,
                label: "unsigned".into(),
            };
        };
        match self.0.get(id) {
            Some(s) => SignerView {
                key_id: Some(id.into()),
                label: format!("{} ({})", s.name, s.role.name()),
                known: Some(Signer {
                    name: s.name.clone(),
                    role: s.role.name().into(),
                }),
            },
            None => SignerView {
                key_id: Some(id.into()),
                known: None,
                label: format!("unknown key {id}"),
            },
        }
    }
}
