//! `tokencert ledger`: the observatory's store of verified bundles (see
//! `tokencert_ledger`). One variant of [`Command`] per subcommand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use tokencert_ledger::{Added, Ledger, Listed, Signature, Trust};

/// Exit status when a bundle was refused.
const REFUSED: u8 = 1;

/// The ledger directory, shared by every `ledger` subcommand.
#[derive(clap::Args)]
pub struct At {
    /// The ledger directory (bundles/, index.sqlite, trust.yaml).
    #[arg(
        long,
        env = "TOKENCERT_LEDGER",
        default_value = "ledger",
        value_name = "DIR"
    )]
    pub ledger: PathBuf,
}

/// `tokencert ledger` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Verify bundles and add those that verify to the ledger (created
    /// when absent): digests, signature (with the trusted key when its
    /// signer is in trust.yaml), suite digest, re-judged verdicts. A
    /// bundle that does not verify is refused with the reason and nothing
    /// is written; one the ledger holds is left as it is.
    ///
    /// Exit status: 0 every bundle added or already there; 1 a bundle was
    /// refused (the others are still added); 2 the ledger, suite or trust
    /// file cannot be read.
    Add(AddArgs),
    /// Recreate index.sqlite from the ledger's files (bundles/ and the
    /// records beside them): the same files give a byte-identical index.
    Rebuild(At),
    /// List the ledger's bundles, oldest first, with their signer (known
    /// by name, unknown by key id, or unsigned) and MUST verdicts.
    List(At),
    /// Pin bundles by id: retention (`observe --keep-evidence-days`) keeps
    /// their evidence whatever their age.
    Pin(PinArgs),
    /// Serve the ledger's dashboard (read-only) until Ctrl-C: a
    /// leaderboard per method, a page per target and per bundle (with its
    /// archive and the commands that verify it offline), the same as JSON
    /// under /api, and Prometheus text at /metrics.
    Serve(super::dashboard::ServeArgs),
    /// Write the dashboard as a static site into a new or empty --out
    /// directory: the same pages with relative links, their JSON, the
    /// Prometheus text, and the bundles (as directories and archives).
    Export(super::dashboard::ExportArgs),
}

/// Options of `tokencert ledger add`.
#[derive(clap::Args)]
pub struct AddArgs {
    /// Bundle directories to add.
    #[arg(required = true)]
    bundles: Vec<PathBuf>,
    #[command(flatten)]
    at: At,
}

/// Options of `tokencert ledger pin`.
#[derive(clap::Args)]
pub struct PinArgs {
    /// Bundle ids, or prefixes naming one bundle each (`ledger list` shows
    /// the first 12 digits).
    #[arg(required = true, value_name = "ID")]
    ids: Vec<String>,
    #[command(flatten)]
    at: At,
}

/// Runs a `ledger` subcommand.
pub fn run(suite: &Path, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Add(args) => add(suite, args),
        Command::Rebuild(at) => {
            let ledger = Ledger::rebuild(&at.ledger)
                .with_context(|| format!("rebuilding the index of {}", at.ledger.display()))?;
            println!(
                "rebuilt {} from {} bundles",
                ledger.dir().join(tokencert_ledger::INDEX_FILE).display(),
                ledger.list()?.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(args) => super::dashboard::serve(args),
        Command::Export(args) => super::dashboard::export(args),
        Command::Pin(args) => {
            let mut ledger = Ledger::open(&args.at.ledger)?;
            let listed = ledger.list()?;
            for prefix in &args.ids {
                let matching: Vec<&str> = listed
                    .iter()
                    .map(|l| l.id.as_str())
                    .filter(|id| id.starts_with(prefix.as_str()))
                    .collect();
                let id = match matching.as_slice() {
                    [id] => id.to_string(),
                    [] => anyhow::bail!(
                        "no bundle of {} has an id starting {prefix}",
                        args.at.ledger.display()
                    ),
                    _ => anyhow::bail!(
                        "{prefix} starts {} bundle ids; give more digits",
                        matching.len()
                    ),
                };
                ledger.pin(&id)?;
                println!("pinned {id}: retention keeps its evidence");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::List(at) => {
            let ledger = Ledger::open(&at.ledger)?;
            let trust = ledger.trust()?;
            print!("{}", listing(&ledger.list()?, &trust));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn add(suite: &Path, args: AddArgs) -> anyhow::Result<ExitCode> {
    let suite = super::load_suite(suite)?;
    let mut ledger = Ledger::create(&args.at.ledger)
        .with_context(|| format!("opening the ledger {}", args.at.ledger.display()))?;
    let trust = ledger.trust()?;
    let mut refused = 0;
    for path in &args.bundles {
        match ledger.add(path, &suite, &trust) {
            Ok(added) => print!("{}", describe(&added)),
            Err(e) => {
                refused += 1;
                eprintln!("{e}");
            }
        }
    }
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{refused} of {} bundle(s) refused; nothing of them was written",
            args.bundles.len()
        );
        ExitCode::from(REFUSED)
    })
}

fn describe(added: &Added) -> String {
    let verb = if added.new { "added" } else { "already there" };
    let signer = match &added.signature {
        Signature::Unsigned => "unsigned".to_string(),
        Signature::Known { name, role, .. } => format!("signed by {name} ({})", role.name()),
        Signature::UnknownSigner { key_id } => format!(
            "signed by unknown key {key_id} (not in trust.yaml: the signature matches the key \
             the bundle names, but who holds it is not established)"
        ),
    };
    let mut out = format!("{verb} {} (run {}), {signer}\n", added.id, added.run_id);
    for row in &added.agreements {
        let other = if row.a == added.id { &row.b } else { &row.a };
        out += &format!(
            "  compared with {} on {}: {}\n",
            short(other),
            row.case_id,
            row.summary
        );
    }
    out
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn listing(rows: &[Listed], trust: &Trust) -> String {
    let mut out = format!(
        "{:<12}  {:<20}  {:<32}  {:<24}  {:<28}  {}\n",
        "id", "started", "target", "model", "signer", "MUST pass/fail/error"
    );
    for r in rows {
        let signer = match &r.signer {
            None => "unsigned".to_string(),
            Some(id) => match trust.get(id) {
                Some(s) => format!("{} ({})", s.name, s.role.name()),
                None => format!("unknown {}", id.get(..19).unwrap_or(id)),
            },
        };
        let mut flags = Vec::new();
        if let Some(observer) = &r.observer {
            flags.push(format!("observer {observer}"));
        }
        if r.pinned {
            flags.push("pinned".into());
        }
        if r.evidence_pruned {
            flags.push("evidence pruned".into());
        }
        out += &format!(
            "{:<12}  {:<20}  {:<32}  {:<24}  {:<28}  {}/{}/{}{}\n",
            short(&r.id),
            r.started_at,
            r.target_url,
            r.model,
            signer,
            r.must_pass,
            r.must_fail,
            r.must_error,
            if flags.is_empty() {
                String::new()
            } else {
                format!("  [{}]", flags.join(", "))
            }
        );
    }
    out += &format!("{} bundle(s)\n", rows.len());
    out
}
