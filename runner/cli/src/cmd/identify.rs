//! `tokencert identify CANDIDATE --against REFERENCE [--noise A B]`: verify
//! fingerprint bundles, then decide whether the candidate is the reference's
//! model (see `tokencert_core::identify` for the method).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use tokencert_core::bundle::{BundleError, write_canonical};
use tokencert_core::compare::show_p;
use tokencert_core::identify::{
    self, Bundles, Decision, Identification, IdentifyBundlesError, IdentifyError, Party, Score,
    nats,
};
use tokencert_core::sign;

/// Exit status for a different model.
const DIFFERENT_MODEL: u8 = 9;
/// Exit status when the evidence cannot tell.
const CANNOT_TELL: u8 = 10;
/// Exit status for bundles of another suite or probe set.
const DIFFERENT_SUITES: u8 = 4;

/// Options of `tokencert identify`.
#[derive(clap::Args)]
pub struct Args {
    /// The candidate's fingerprint bundle (the endpoint under question).
    candidate: PathBuf,
    /// The reference's fingerprint bundle (the model the candidate claims to be).
    #[arg(long, value_name = "REFERENCE")]
    against: PathBuf,
    /// Two fingerprint bundles of one endpoint (e.g. the reference's,
    /// taken twice), whose differences are the noise floor. Without it
    /// the endpoint is taken to be deterministic (zero noise), as the
    /// output states.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    noise: Option<Vec<PathBuf>>,
    /// Public key (PEM) the bundles must be signed with. Given once, every
    /// bundle must be signed with it; given twice, the first is the
    /// candidate's and the second the reference's and the noise bundles'.
    #[arg(long, value_name = "PUB")]
    key: Vec<PathBuf>,
    /// Also write the identification as canonical JSON to FILE.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Verifies the bundles and identifies the candidate; the exit status says
/// the decision (see `tokencert identify --help`).
pub fn run(root: &Path, args: Args) -> anyhow::Result<ExitCode> {
    if args.key.len() > 2 {
        anyhow::bail!(
            "--key was given {} times: give it once (every bundle) or twice (the candidate's, \
             then the reference's)",
            args.key.len()
        );
    }
    let suite = super::load_suite(root)?;
    let mut keys = Vec::new();
    for path in &args.key {
        keys.push(super::read_key(Some(path), sign::verifying_key_from_pem)?);
    }
    let candidate_key = keys.first().and_then(Option::as_ref);
    let reference_key = keys.get(1).and_then(Option::as_ref).or(candidate_key);
    let noise = match args.noise.as_deref() {
        Some([a, b]) => Some([a.as_path(), b.as_path()]),
        Some(_) => anyhow::bail!("--noise takes two bundles"),
        None => None,
    };
    let bundles = Bundles {
        candidate: &args.candidate,
        reference: &args.against,
        noise,
        candidate_key,
        reference_key,
    };
    let identification = match identify::identify_bundles(bundles, &suite) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("identify FAILED: {e}");
            let other_suite = matches!(
                e,
                IdentifyBundlesError::Identify(IdentifyError::DifferentProbeSets { .. })
                    | IdentifyBundlesError::Bundle {
                        source: BundleError::DifferentSuite { .. },
                        ..
                    }
            );
            return Ok(ExitCode::from(if other_suite {
                DIFFERENT_SUITES
            } else {
                2
            }));
        }
    };
    if let Some(path) = &args.out {
        write_canonical(path, &identification)
            .with_context(|| format!("writing the identification to {}", path.display()))?;
    }
    print!("{}", text(&identification));
    Ok(match identification.decision {
        Decision::SameModel => ExitCode::SUCCESS,
        Decision::DifferentModel => ExitCode::from(DIFFERENT_MODEL),
        Decision::CannotTell => ExitCode::from(CANNOT_TELL),
    })
}

fn party(name: &str, p: &Party) -> String {
    match &p.run {
        Some(run) => format!(
            "{name}: run {} of {} (model {}), started {}; {}\n",
            run.run_id, run.base_url, p.model, run.started_at, run.signature
        ),
        None => format!("{name}: model {}\n", p.model),
    }
}

fn score(s: &Score) -> String {
    let interval = s.interval_ppm.map_or("-".into(), |[low, high]| {
        format!("[{}, {}]", show_p(low), show_p(high))
    });
    format!(
        "{} of {} passed, 95% interval {interval}",
        s.passed, s.total
    )
}

/// The readable account: the fingerprints, the noise floor, each line of
/// evidence, the method, and the decision last.
fn text(i: &Identification) -> String {
    let mut out = party("candidate", &i.candidate);
    out += &party("reference", &i.reference);
    out += &format!("probe set {}\n", i.probe_set);
    let n = &i.noise;
    out += &format!(
        "noise floor: {}; {} of {} probes diverge, median logprob difference {} nats \
         (p90 {}, {} differences)\n\n",
        n.source,
        n.divergent,
        n.probes,
        nats(n.median_micro),
        nats(n.p90_micro),
        n.differences
    );
    let t = &i.tokenizer;
    out += &format!(
        "tokenizer       {}: candidate's counts imply {}, reference's {} ({} probes counted by \
         both{})\n",
        t.finding.name(),
        t.candidate.implied,
        t.reference.implied,
        t.counts.probes,
        t.counts
            .first_difference
            .as_deref()
            .map_or(String::new(), |d| format!("; {d}"))
    );
    let g = &i.greedy;
    out += &format!(
        "greedy outputs  {}: {} of {} probes differ, noise floor {} of {} (p = {})\n",
        g.finding.name(),
        g.divergent,
        g.compared,
        g.table[2],
        g.table[2] + g.table[3],
        show_p(g.p_ppm)
    );
    let l = &i.logprobs;
    out += &format!(
        "logprobs        {}: median difference {} nats (p90 {}, max {}; {} of {} absent), {} \
         above the noise floor (p = {})\n",
        l.finding.name(),
        nats(l.median_micro),
        nats(l.p90_micro),
        nats(l.max_micro),
        l.absent,
        l.differences,
        nats(l.excess_micro),
        l.p_ppm.map_or("-".into(), show_p)
    );
    let k = &i.tasks;
    out += &format!(
        "tasks           {}: candidate {}; reference {}; passed by one only: {} reference, {} \
         candidate (p = {})\n",
        k.finding.name(),
        score(&k.candidate),
        score(&k.reference),
        k.pairs.reference_only,
        k.pairs.other_only,
        show_p(k.p_ppm)
    );
    let m = &i.method;
    out += &format!(
        "\nmethod\n  tokenizer: {}\n  greedy outputs: {}\n  logprobs: {}\n  tasks: {}\n  level: {} \
         ({} tests)\n",
        m.tokenizer, m.greedy, m.logprobs, m.tasks, m.level, m.tests
    );
    out += &format!("\n{}\n", i.decision.name());
    for r in &i.reasons {
        out += &format!("  {r}\n");
    }
    out
}
