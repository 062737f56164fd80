//! `tokencert manpages DIR`: man pages generated from the clap definitions,
//! `tokencert.1` and one page per subcommand (`tokencert-run.1`,
//! `tokencert-ledger-add.1`, ...).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `tokencert manpages`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory to write the pages into (created when missing; pages of
    /// the same names are replaced).
    dir: PathBuf,
}

/// Writes every page under `args.dir` and prints each file's path.
pub fn run(command: clap::Command, args: Args) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    // `build` names each subcommand after its parents (`tokencert-ledger-add`),
    // which becomes the page's title and file name.
    let mut command = command.disable_help_subcommand(true);
    command.build();
    for path in write_pages(&command, &args.dir)? {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the page of `command` and, depth first, of its visible subcommands.
fn write_pages(command: &clap::Command, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    // A subcommand has no version of its own: name the tool's on every page.
    let page = clap_mangen::Man::new(command.clone())
        .source(format!("tokencert {}", env!("CARGO_PKG_VERSION")));
    let path = dir.join(page.get_filename());
    let mut roff = Vec::new();
    page.render(&mut roff)
        .with_context(|| format!("rendering {}", path.display()))?;
    std::fs::write(&path, roff).with_context(|| format!("writing {}", path.display()))?;
    let mut written = vec![path];
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        written.extend(write_pages(sub, dir)?);
    }
    Ok(written)
}
