//! `trust.yaml`: the signers a ledger knows, by key id.
//!
//! ```yaml
//! - name: Example Labs
//!   role: vendor
//!   public_key: keys/example.pub.pem      # relative to trust.yaml
//! - name: Observatory Berlin
//!   role: observer
//!   public_key: |
//!     -----BEGIN PUBLIC KEY-----
//!     ...
//!     -----END PUBLIC KEY-----
//! ```
//!
//! The index stores only key ids; names and roles are looked up here when
//! shown, so renaming a signer needs no rebuild.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use p256::ecdsa::VerifyingKey;
use serde::Deserialize;
use tokencert_core::sign;
use tokencert_core::suite::{self, LineMap, Problem};

use crate::error::LedgerError;

/// The trust file's name in a ledger directory.
pub const TRUST_FILE: &str = "trust.yaml";

/// What a known signer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Certifies its own service.
    Vendor,
    /// Checks another party's service or claims.
    Auditor,
    /// Runs an observatory's probes.
    Observer,
}

impl Role {
    /// The name in trust files and listings.
    pub fn name(self) -> &'static str {
        match self {
            Role::Vendor => "vendor",
            Role::Auditor => "auditor",
            Role::Observer => "observer",
        }
    }
}

/// One entry of the trust file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    role: Role,
    public_key: String,
}

/// A known signer.
#[derive(Debug, Clone)]
pub struct Signer {
    /// Its name, for display.
    pub name: String,
    /// What it does.
    pub role: Role,
    /// Its public key.
    pub key: VerifyingKey,
}

/// The known signers, by key id ([`sign::key_id`]).
#[derive(Debug, Clone, Default)]
pub struct Trust {
    signers: BTreeMap<String, Signer>,
}

impl Trust {
    /// Nobody is known: every signed bundle is from an unknown signer.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Reads a ledger's trust file; a ledger without one knows nobody.
    ///
    /// # Errors
    ///
    /// [`LedgerError::Trust`] naming the file, line and field of the first
    /// problem: YAML that is not a list of `{name, role, public_key}`, a
    /// key that is not a P-256 public key, a key file that cannot be read,
    /// or one key listed twice.
    pub fn of_ledger(dir: &Path) -> Result<Self, LedgerError> {
        let path = dir.join(TRUST_FILE);
        if !path.exists() {
            return Ok(Self::empty());
        }
        Self::load(&path)
    }

    /// Reads a trust file (see [`Trust::of_ledger`]).
    ///
    /// # Errors
    ///
    /// As [`Trust::of_ledger`].
    pub fn load(path: &Path) -> Result<Self, LedgerError> {
        let (entries, lines): (Vec<Entry>, LineMap) =
            suite::load_yaml(path).map_err(LedgerError::Trust)?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut signers = BTreeMap::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let field = format!("/{i}/public_key");
            let at = |message: String| {
                LedgerError::Trust(Problem {
                    file: path.to_path_buf(),
                    line: lines.line_of(&field),
                    field: Some(field.clone()),
                    message,
                })
            };
            let pem = if entry.public_key.contains("-----BEGIN") {
                entry.public_key.clone()
            } else {
                let file = resolve(base, &entry.public_key);
                std::fs::read_to_string(&file)
                    .map_err(|e| at(format!("cannot read {}: {e}", file.display())))?
            };
            let key = sign::verifying_key_from_pem(&pem).map_err(|e| at(e.to_string()))?;
            let id = sign::key_id(&key).map_err(|e| at(e.to_string()))?;
            if let Some(first) = signers.get(&id) {
                let first: &Signer = first;
                return Err(at(format!(
                    "the key {id} is listed a second time (first as {:?}); list each key once",
                    first.name
                )));
            }
            signers.insert(
                id,
                Signer {
                    name: entry.name,
                    role: entry.role,
                    key,
                },
            );
        }
        Ok(Self { signers })
    }

    /// The signer with this key id, if known.
    pub fn get(&self, key_id: &str) -> Option<&Signer> {
        self.signers.get(key_id)
    }

    /// Every known signer, by key id.
    pub fn signers(&self) -> impl Iterator<Item = (&str, &Signer)> {
        self.signers.iter().map(|(id, s)| (id.as_str(), s))
    }
}

fn resolve(base: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}
