//! The reference fingerprints a run's `same_model_as_declared` case is
//! judged against, put inside the bundle so that the judge (and `verify`)
//! reads nothing outside it: copies of the two fingerprint bundles a
//! target profile declares, or two fingerprints of a twin service taken
//! at run time.

use std::path::{Path, PathBuf};

use tokencert_core::bundle::{self, TargetInfo};
use tokencert_core::suite::{self, Suite};

use crate::exchange::Client;
use crate::fingerprint::{FingerprintConfig, fingerprint};
use crate::run::RunError;

/// Where the reference fingerprints go, relative to the bundle.
pub const IDENTITY_DIR: &str = "identity";
/// The names of the two reference fingerprints under [`IDENTITY_DIR`].
pub const REFERENCE_NAMES: [&str; 2] = ["reference-a", "reference-b"];
/// The most bytes a declared fingerprint bundle may hold (it is copied).
const MAX_COPY_BYTES: u64 = 64 * 1024 * 1024;

/// The identity a target declares for a run.
#[derive(Clone)]
pub enum DeclaredIdentity {
    /// A target profile's `identity` (reference paths as the profile
    /// resolves them).
    Profile(suite::Identity),
    /// A twin of the target that serves the declared model (for the
    /// embedded reference service: the same service with the model it
    /// names): fingerprinted twice at run time, the reference and its
    /// noise pair.
    Twin {
        /// Client for the twin (its model is the one fingerprinted).
        client: Box<Client>,
        /// The twin as recorded in the fingerprints' `run.json`.
        target: TargetInfo,
        /// The tokenizer family the target declares, if any.
        tokenizer_family: Option<String>,
    },
}

/// Puts the reference fingerprints into `dir` and returns the identity
/// for the plan, its reference paths relative to `dir`. A profile identity
/// without references is returned as it is (the case is not claimed).
pub async fn place(
    identity: &DeclaredIdentity,
    suite: &Suite,
    dir: &Path,
) -> Result<suite::Identity, RunError> {
    let inside = REFERENCE_NAMES.map(|name| Path::new(IDENTITY_DIR).join(name));
    let root = dir.join(IDENTITY_DIR);
    bundle::create_private_dir(&root).map_err(|source| RunError::Create {
        path: root.display().to_string(),
        source,
    })?;
    match identity {
        DeclaredIdentity::Profile(declared) => {
            let Some(sources) = &declared.reference else {
                return Ok(declared.clone());
            };
            for (source, rel) in sources.iter().zip(&inside) {
                let mut budget = MAX_COPY_BYTES;
                copy_tree(source, &dir.join(rel), &mut budget).map_err(|e| {
                    RunError::Reference {
                        path: source.display().to_string(),
                        message: e.to_string(),
                    }
                })?;
            }
            Ok(suite::Identity {
                tokenizer_family: declared.tokenizer_family.clone(),
                reference: Some(inside),
            })
        }
        DeclaredIdentity::Twin {
            client,
            target,
            tokenizer_family,
        } => {
            for rel in &inside {
                fingerprint(FingerprintConfig {
                    suite,
                    client: (**client).clone(),
                    target: target.clone(),
                    bundle_dir: dir.join(rel),
                    logprobs: true,
                })
                .await?;
            }
            Ok(suite::Identity {
                tokenizer_family: tokenizer_family.clone(),
                reference: Some(inside),
            })
        }
    }
}

/// Copies the plain files of `from` into `to` (created), refusing links
/// and more than `budget` bytes in all.
fn copy_tree(from: &Path, to: &Path, budget: &mut u64) -> std::io::Result<()> {
    let refused = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    if !from.is_dir() {
        return Err(refused(format!(
            "{} is not a fingerprint bundle directory",
            from.display()
        )));
    }
    bundle::create_private_dir(to)?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(from)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        let kind = std::fs::symlink_metadata(&path)?;
        let target = to.join(path.file_name().unwrap_or_default());
        if kind.is_dir() {
            copy_tree(&path, &target, budget)?;
        } else if kind.is_file() {
            *budget = budget.checked_sub(kind.len()).ok_or_else(|| {
                refused(format!(
                    "{} holds more than {MAX_COPY_BYTES} bytes",
                    from.display()
                ))
            })?;
            std::fs::copy(&path, &target)?;
        } else {
            return Err(refused(format!(
                "{} is a link or special file; a fingerprint bundle holds plain files",
                path.display()
            )));
        }
    }
    Ok(())
}
