//! `tokencert suite`: the standard embedded in this binary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tokencert::standard;

/// Subcommands of `tokencert suite`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Write the embedded standard (spec/ and suites/) into DIR, created if
    /// missing, for reading, editing (then pass --suite DIR) or checking
    /// its digest with `find spec suites -type f | LC_ALL=C sort | xargs
    /// sha256sum | sha256sum` run in DIR.
    ///
    /// Exit status: 0 written; 2 DIR already holds spec/ or suites/, or
    /// cannot be written.
    Export {
        /// The directory to write into.
        dir: PathBuf,
    },
}

/// Runs a `tokencert suite` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Export { dir } => {
            standard::export(&dir)
                .with_context(|| format!("exporting the standard to {}", dir.display()))?;
            println!(
                "wrote {} files of suite {} to {}",
                standard::FILES.len(),
                standard::digest(),
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
