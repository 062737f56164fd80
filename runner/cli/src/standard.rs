//! The standard embedded in the binary: `spec/` and `suites/` as they were
//! when it was built, so that `tokencert` runs and verifies anywhere,
//! without a checkout. `--suite DIR` still takes a directory instead.

use std::path::Path;

/// Every file of the embedded standard: its path relative to the suite
/// root (`spec/…` or `suites/…`, `/`-separated) and its bytes, by path.
pub static FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/standard.rs"));

/// The embedded standard's suite digest (as `tokencert_core::digest::suite_digest`
/// computes it from a directory holding the same files).
pub fn digest() -> String {
    tokencert_core::digest::suite_digest_of(FILES.iter().copied())
}

/// Why the embedded standard could not be written out.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The directory already holds a standard (or something in its place).
    #[error("{0} already exists: export into a directory without spec/ and suites/")]
    Exists(String),
    /// Writing failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file or directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Writes the embedded standard under `dir` (created if missing), which
/// must not hold `spec/` or `suites/` yet: a suite is never mixed with
/// another's files.
pub fn export(dir: &Path) -> Result<(), ExportError> {
    for top in ["spec", "suites"] {
        let path = dir.join(top);
        if path.symlink_metadata().is_ok() {
            return Err(ExportError::Exists(path.display().to_string()));
        }
    }
    for (name, bytes) in FILES {
        let path = dir.join(name);
        let write = |path: &Path| -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, bytes)
        };
        write(&path).map_err(|source| ExportError::Write {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// The embedded standard written into a fresh temporary directory, which
/// is removed when the returned handle is dropped.
pub fn unpack() -> Result<tempfile::TempDir, ExportError> {
    let dir = tempfile::Builder::new()
        .prefix("tokencert-embedded-standard-")
        .tempdir()
        .map_err(|source| ExportError::Write {
            path: std::env::temp_dir().display().to_string(),
            source,
        })?;
    export(dir.path())?;
    Ok(dir)
}
