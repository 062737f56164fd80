//! One module per subcommand.

pub mod bench;
pub mod capacity;
pub mod compare;
pub mod completions;
pub mod dashboard;
pub mod fingerprint;
pub mod identify;
pub mod init;
pub mod json_output;
pub mod keygen;
pub mod ledger;
pub mod list;
pub mod load;
pub mod manpages;
pub mod merge;
pub mod observe;
pub mod report;
pub mod run;
pub mod serve;
pub mod soak;
pub mod standard;
pub mod storage;
pub mod sweep;
pub mod table;
pub mod verify;

use std::path::{Path, PathBuf};

use anyhow::Context;
use tokencert_core::suite::{self, Suite};

/// Loads the suite, saying where it looked when it is not there.
pub fn load_suite(root: &Path) -> anyhow::Result<Suite> {
    if !root.join("spec").is_dir() || !root.join("suites").is_dir() {
        anyhow::bail!(
            "no suite at {}: expected spec/ and suites/ there; run from the tokencert checkout or pass --suite DIR",
            root.display()
        );
    }
    suite::load(root).with_context(|| format!("loading the suite at {}", root.display()))
}

/// Reads a PEM key file with `parse`, when a path is given; errors name the file.
pub fn read_key<T>(
    path: Option<&Path>,
    parse: impl FnOnce(&str) -> Result<T, tokencert_core::sign::SignError>,
) -> anyhow::Result<Option<T>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key {}", path.display()))?;
    let key = parse(&pem).with_context(|| path.display().to_string())?;
    Ok(Some(key))
}

/// A multi-threaded tokio runtime for the commands that talk to the network.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A directory named `id` under `out` that does not exist yet (`id-2`,
/// `id-3`, ... when it does).
pub fn fresh_dir(out: &Path, id: &str) -> PathBuf {
    let mut dir = out.join(id);
    let mut n = 2;
    while dir.exists() {
        dir = out.join(format!("{id}-{n}"));
        n += 1;
    }
    dir
}
