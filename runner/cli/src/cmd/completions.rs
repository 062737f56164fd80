//! `tokencert completions SHELL`: a shell completion script, generated from
//! the same clap definitions that parse the command line.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap_complete::Shell;

/// Arguments of `tokencert completions`.
#[derive(clap::Args)]
pub struct Args {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Writes the completion script for `args.shell` to standard output.
pub fn run(mut command: clap::Command, args: Args) -> anyhow::Result<ExitCode> {
    let name = command.get_name().to_string();
    // Generated into memory first: clap_complete panics on a failed write,
    // and a closed pipe (`| head`) deserves an error message instead.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .context("writing the completion script to standard output")?;
    Ok(ExitCode::SUCCESS)
}
