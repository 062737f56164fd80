//! `tokencert`: certify an OpenAI-compatible token service against the
//! tokencert standard, and verify the bundles it writes.

mod cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tokencert::standard;

/// Conformance certification for OpenAI-compatible LLM token services.
///
/// Runs the YAML suite under suites/ against an endpoint (or, with no
/// target, against the embedded reference service), records every exchange
/// as evidence, judges it, and writes a bundle that `tokencert verify`
/// re-checks offline.
#[derive(Parser)]
#[command(name = "tokencert", version, about, long_about)]
struct Cli {
    /// Directory holding spec/ and suites/ (a tokencert checkout, or what
    /// `tokencert suite export` wrote). Default: the standard embedded in
    /// this binary, whose digest `tokencert --version` prints.
    #[arg(long, global = true, env = "TOKENCERT_SUITE", value_name = "DIR")]
    suite: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the suite against a target and write a bundle under --out.
    ///
    /// Exit status: 0 when every MUST case passes (cases for unclaimed features aside),
    /// 1 when a MUST case fails or could not be judged, 2 on a usage or
    /// setup error, 130 when interrupted (Ctrl-C: the cases in flight
    /// finish, a performance case's load sends no further request and
    /// waits for those in flight, and a partial bundle of the cases that
    /// ran is written and signed; a second Ctrl-C aborts at once).
    Run(cmd::run::Args),
    /// Probe an endpoint with a handful of harmless, bounded requests and
    /// write a target profile of what it showed.
    ///
    /// One request at a time, each with a deadline: the model list, a
    /// short chat, a stream, n: 2, logprobs, a forced tool call,
    /// json_object and json_schema response formats, legacy completions,
    /// the same seed twice, reasoning_effort, a 1,200-token prompt twice
    /// (prompt caching), max_tokens beyond any context (streamed, closed at
    /// the response head), a whitespace-padded 8 MiB body, and a key the
    /// target did not issue. Each claim is marked observed (with what
    /// showed it) or left commented; limits are observed or assumed; rate
    /// limits, accounting and service classes are commented templates. A
    /// claim is the vendor's statement: review the file before using it.
    /// The key is never written.
    ///
    /// Exit status: 0 written; 2 on a usage or setup error, a refused URL
    /// (plain http:// to another machine without --allow-insecure-http),
    /// or a target that does not answer a short chat.
    Init(cmd::init::Args),
    /// Verify a bundle offline: digests, suite identity, and re-judged
    /// results byte-identical to results.json.
    ///
    /// Exit status: 0 verified; 3 a file was modified, is missing, is not
    /// listed or is unsafe; 4 the bundle was made with another suite;
    /// 5 the re-judged results differ; 6 the signature does not verify (a
    /// different key, or an altered envelope); 7 --key was given but the
    /// bundle is unsigned; 8 (with --partial) the bundle was never sealed
    /// and what it holds is listed; 2 the bundle, suite or key cannot be read.
    Verify(cmd::verify::Args),
    /// Verify two bundles of the same suite (a vendor's and an auditor's
    /// re-run), then compare them: verdict agreement per case, and for
    /// every performance metric and percentile an exact two-sample test on
    /// the recorded samples, with the ratio B/A. A metric percentile
    /// differs when its test is significant (5% family-wise, Bonferroni)
    /// and B/A is above 1.25 or below 0.8.
    ///
    /// Exit status: 0 consistent (every verdict agrees, no metric differs);
    /// 9 the runs differ (what differs is listed); 4 the bundles were made
    /// with different suites (or not with the suite at --suite); 2 a bundle
    /// does not verify or cannot be read, or a usage error.
    Compare(cmd::compare::Args),
    /// Send the fingerprint probe set (suites/fingerprint/probes.yaml:
    /// greedy continuations with log-probabilities, tokenizer probes,
    /// exactly checkable tasks) to a target, one request at a time, and
    /// write a bundle to --out whose fingerprint.json is derived from the
    /// evidence (`verify` re-derives it). `identify` compares two.
    ///
    /// Exit status: 0 the bundle was written (tasks may have failed: that
    /// is part of the fingerprint); 2 it could not be.
    Fingerprint(cmd::fingerprint::Args),
    /// Verify two fingerprint bundles (`tokencert fingerprint`), then decide
    /// whether the candidate serves the reference's model: tokenizer (billed
    /// prompt tokens, probe to probe), greedy-token agreement, log-probability
    /// differences on the reference's top tokens (against the noise floor of
    /// --noise A B, two fingerprints of one endpoint, or zero without it;
    /// tolerance 0.05 nats), and task scores (exact binomial test, Clopper-Pearson
    /// intervals); each test at 5% family-wise, Bonferroni.
    ///
    /// Exit status: 0 same model; 9 different model (what differs is
    /// listed); 10 cannot tell (too little evidence to see a difference);
    /// 4 the bundles were made with another suite or probe set; 2 a bundle
    /// does not verify, is not a fingerprint bundle or cannot be read, or a
    /// usage error.
    Identify(cmd::identify::Args),
    /// Serve the reference token service until interrupted (Ctrl-C).
    ///
    /// It serves three models: tokencert-reference (lightly paced),
    /// tokencert-reference-limited (rate-limited) and
    /// tokencert-reference-capacity (under the capacity model the
    /// --prefill-us ... --jitter-percent flags set: continuous batching,
    /// streamed data lines stamped `: sched_ns=<ns since admission>`,
    /// exactly `max_tokens` tokens per choice).
    Serve(cmd::serve::Args),
    /// List the cases, and with --coverage the clauses each is linked to.
    List(cmd::list::Args),
    /// Print a bundle's results as a Markdown table by clause.
    Table(cmd::table::Args),
    /// Verify a bundle, then write report.md and junit.xml for it.
    ///
    /// Exit status: 0 written; 2 the bundle does not verify or cannot be read.
    Report(cmd::report::Args),
    /// Write a P-256 key pair for signing bundles (run --key / verify --key).
    Keygen(cmd::keygen::Args),
    /// Send a seeded workload (open or closed loop) and print its latency and throughput.
    ///
    /// Exit status: 0 when the run completed (whatever the errors among its requests),
    /// 130 when Ctrl-C stopped it (no request is scheduled after it, the ones in
    /// flight end, and the summary covers what ran), 2 on a usage or setup error.
    Load(cmd::load::Args),
    /// Merge the shard bundles of one sharded plan (`run --shard I/N`)
    /// into one bundle, judged like any run.
    ///
    /// Every shard is verified (digests, suite, re-judged results, and its
    /// signature: with --key, every shard must be signed with that key) and
    /// must be a shard of the same plan (plan digest, split, suite, target
    /// and limits), each index once, none missing unless --partial. The
    /// shards' evidence of each performance case is joined in plan order on
    /// one time axis and judged by the ordinary judge: percentiles from
    /// every request, never a merge of histograms. The merged bundle keeps
    /// a copy of each shard (shards/<I>/), from which `verify` re-derives it.
    ///
    /// Exit status: 0 when every MUST case of the merged run passes; 1 when
    /// one fails or could not be judged (the bundle is still written and
    /// signed); 2 when the shards cannot be merged (the message names the
    /// shard: it does not verify or is unsigned with --key, is not a shard,
    /// belongs to another plan or split, repeats an index, or shards are
    /// missing without --partial) or on a usage or setup error; 4 when a
    /// shard was judged with another suite than the one in use.
    Merge(cmd::merge::Args),
    /// Measure tokencert's own speed against the embedded reference service:
    /// timing error, SSE ingest, send lateness and memory per stream.
    ///
    /// Exit status: 0 when it ran (goals met or not), 2 on a usage or setup error.
    Bench(cmd::bench::Args),
    /// Run one load per step of a list of users (closed loop) or rates
    /// (Poisson open loop), print throughput and latency per step and mark
    /// the saturation knee; or, with --find-capacity, search for the highest
    /// rate whose goodput stays at or above a share under an SLO.
    ///
    /// The knee is the first step whose steady-state output-token
    /// throughput grew, relative to the previous step, by less than half the
    /// relative growth of the offered load (users or rate), while its E2E
    /// p95 rose. Bounds: at most 32 steps, each of at most --requests
    /// requests and --duration; a search makes at most 18 probes (one
    /// closed-loop start of 10 requests, 12 doubling or halving, 5
    /// bisection); either stops scheduling after 1 h in all.
    ///
    /// Exit status: 0 when the steps ran (whatever the errors among their
    /// requests), 130 when Ctrl-C stopped the sweep (no further step starts,
    /// the running one schedules nothing more and is reported but left out
    /// of the knee; sweep.json is still written), 2 on a usage or setup error.
    Sweep(cmd::sweep::Args),
    /// Send a load for a bounded --duration (at most 24 h) and report its
    /// stability over time: per window (by completion time) the requests,
    /// errors, TTFT and E2E p50/p95/p99 and output tokens/s; across the
    /// windows the coefficient of variation of each; error bursts; windows
    /// whose error rate is over twice the run's. Writes soak.json.
    ///
    /// Exit status: 0 when the soak ran (whatever the errors among its
    /// requests), 130 when Ctrl-C stopped it (what ran is still reported),
    /// 2 on a usage or setup error.
    Soak(cmd::soak::Args),
    /// Run an observatory: probe every target of --config on its probes'
    /// schedules, within each target's budget, each probe an ordinary run
    /// whose bundle (recording observer, location and probe) is signed
    /// with --key and added to --ledger. One line per probe on stdout.
    ///
    /// At most --concurrency targets are probed at once and never two
    /// probes of one target; every exchange has a deadline. A restart
    /// resumes the schedule from the ledger. Evidence older than
    /// --keep-evidence-days is pruned (unless pinned).
    ///
    /// Exit status: 0 when --cycles were done; 130 when stopped by Ctrl-C
    /// or SIGTERM (no probe starts any more; the running ones stop
    /// sending, and are sealed and added; a second Ctrl-C aborts at once);
    /// 2 on a usage or setup error.
    Observe(cmd::observe::Args),
    /// The observatory's ledger: a store of verified bundles from any
    /// signer, content-addressed, with an index rebuilt from the files.
    #[command(subcommand)]
    Ledger(cmd::ledger::Command),
    /// Write a shell completion script (bash, zsh, fish, elvish, powershell) to standard output.
    ///
    /// Install it where the shell looks, e.g. bash:
    /// `tokencert completions bash > ~/.local/share/bash-completion/completions/tokencert`;
    /// zsh: a file `_tokencert` in a directory on $fpath; fish:
    /// ~/.config/fish/completions/tokencert.fish.
    Completions(cmd::completions::Args),
    /// Write man pages into a directory: tokencert.1 and one per subcommand.
    ///
    /// The pages are tokencert.1, tokencert-run.1, ..., tokencert-ledger-add.1;
    /// `man -l DIR/tokencert-run.1` reads one, and a directory on MANPATH
    /// (under man1/) makes `man tokencert-run` find it.
    Manpages(cmd::manpages::Args),
    /// The standard embedded in this binary.
    #[command(subcommand)]
    Suite(cmd::standard::Command),
}

fn main() -> ExitCode {
    let version = format!(
        "{} (suite {})",
        env!("CARGO_PKG_VERSION"),
        standard::digest()
    );
    let matches = Cli::command().version(version).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let mut suite = SuiteRoot::new(cli.suite);
    let outcome = match cli.command {
        Command::Run(args) => suite.path().and_then(|root| cmd::run::run(root, args)),
        Command::Init(args) => suite.path().and_then(|root| cmd::init::run(root, args)),
        Command::Verify(args) => suite.path().and_then(|root| cmd::verify::run(root, args)),
        Command::Compare(args) => suite.path().and_then(|root| cmd::compare::run(root, args)),
        Command::Fingerprint(args) => suite
            .path()
            .and_then(|root| cmd::fingerprint::run(root, args)),
        Command::Identify(args) => suite.path().and_then(|root| cmd::identify::run(root, args)),
        Command::Serve(args) => cmd::serve::run(args),
        Command::List(args) => suite.path().and_then(|root| cmd::list::run(root, args)),
        Command::Table(args) => suite.path().and_then(|root| cmd::table::run(root, args)),
        Command::Report(args) => suite.path().and_then(|root| cmd::report::run(root, args)),
        Command::Keygen(args) => cmd::keygen::run(args),
        Command::Load(args) => cmd::load::run(args),
        Command::Merge(args) => suite.path().and_then(|root| cmd::merge::run(root, args)),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Sweep(args) => cmd::sweep::run(args),
        Command::Soak(args) => cmd::soak::run(args),
        Command::Ledger(command) => suite
            .path()
            .and_then(|root| cmd::ledger::run(root, command)),
        Command::Observe(args) => suite.path().and_then(|root| cmd::observe::run(root, args)),
        Command::Completions(args) => cmd::completions::run(Cli::command(), args),
        Command::Manpages(args) => cmd::manpages::run(Cli::command(), args),
        Command::Suite(command) => cmd::standard::run(command),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Where the suite comes from: the --suite directory, or the embedded
/// standard unpacked into a temporary directory on first use (removed
/// when this is dropped).
struct SuiteRoot {
    given: Option<PathBuf>,
    unpacked: Option<tempfile::TempDir>,
}

impl SuiteRoot {
    fn new(given: Option<PathBuf>) -> Self {
        Self {
            given,
            unpacked: None,
        }
    }

    fn path(&mut self) -> anyhow::Result<&Path> {
        if let Some(dir) = &self.given {
            return Ok(dir);
        }
        let dir = match self.unpacked.take() {
            Some(dir) => dir,
            None => standard::unpack()?,
        };
        Ok(self.unpacked.insert(dir).path())
    }
}
