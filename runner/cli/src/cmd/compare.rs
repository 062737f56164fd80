//! `tokencert compare A B`: verify two bundles of one suite, then compare
//! their verdicts and their performance figures (see
//! `tokencert_core::compare` for the test and why it is exact).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use tokencert_core::bundle::{BundleError, write_canonical};
use tokencert_core::compare::{
    self, CompareError, Comparison, VerdictAgreement, show_p, show_rate, show_ratio, show_value,
};
use tokencert_core::judge::Verdict;
use tokencert_core::sign;

/// Exit status when the runs differ.
const DIFFERS: u8 = 9;
/// Exit status when the bundles were made with different suites.
const DIFFERENT_SUITES: u8 = 4;

/// Options of `tokencert compare`.
#[derive(clap::Args)]
pub struct Args {
    /// Bundle A (e.g. the vendor's).
    a: PathBuf,
    /// Bundle B (e.g. the auditor's live re-run of the same suite).
    b: PathBuf,
    /// Public key (PEM) the bundles must be signed with. Given once, both
    /// bundles must be signed with it; given twice, the first is A's and
    /// the second B's (a vendor and an auditor sign with their own keys).
    #[arg(long, value_name = "PUB")]
    key: Vec<PathBuf>,
    /// Also write the comparison as canonical JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Verifies both bundles and compares them; the exit status says how
/// (see `tokencert compare --help`).
pub fn run(root: &Path, args: Args) -> anyhow::Result<ExitCode> {
    if args.key.len() > 2 {
        anyhow::bail!(
            "--key was given {} times: give it once (both bundles) or twice (A's, then B's)",
            args.key.len()
        );
    }
    let suite = super::load_suite(root)?;
    let mut keys = Vec::new();
    for path in &args.key {
        keys.push(super::read_key(Some(path), sign::verifying_key_from_pem)?);
    }
    let key_a = keys.first().and_then(Option::as_ref);
    let key_b = keys.get(1).and_then(Option::as_ref).or(key_a);
    let comparison = match compare::compare_bundles(&args.a, &args.b, &suite, [key_a, key_b]) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("compare FAILED: {e}");
            let different_suites = matches!(
                e,
                CompareError::DifferentSuites { .. }
                    | CompareError::Bundle {
                        source: BundleError::DifferentSuite { .. },
                        ..
                    }
            );
            return Ok(ExitCode::from(if different_suites {
                DIFFERENT_SUITES
            } else {
                2
            }));
        }
    };
    if let Some(path) = &args.json {
        write_canonical(path, &comparison)
            .with_context(|| format!("writing the comparison to {}", path.display()))?;
    }
    print!("{}", text(&comparison));
    Ok(if comparison.consistent() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(DIFFERS)
    })
}

/// The readable account: the runs, verdict disagreements, a table per
/// performance case, the method, and the outcome last.
fn text(c: &Comparison) -> String {
    let mut out = String::new();
    for (name, run) in [("A", &c.a), ("B", &c.b)] {
        out += &format!(
            "{name}: run {} of {} (model {}), started {}, {}; {}\n",
            run.run_id, run.base_url, run.model, run.started_at, run.tool, run.signature
        );
    }
    out += &format!("suite {}\n\n", c.suite_digest);
    let disagree: Vec<&VerdictAgreement> = c.verdicts.iter().filter(|v| !v.agree).collect();
    if disagree.is_empty() {
        out += &format!("verdicts: all {} cases agree\n", c.verdicts.len());
    } else {
        out += &format!(
            "verdicts: {} of {} cases disagree\n",
            disagree.len(),
            c.verdicts.len()
        );
        let show = |x: Option<Verdict>| x.map_or("not run", Verdict::name);
        for v in disagree {
            out += &format!("  {:<11} {:<11} {}\n", show(v.a), show(v.b), v.case);
        }
    }
    for load in &c.loads {
        out += &format!("\nperformance {}\n", load.case);
        out += &format!(
            "  {:<24} {:>9} {:<5} {:>18} {:>18} {:>6} {:>10}  {}\n",
            "metric", "n A/B", "", "A", "B", "B/A", "p", "decision"
        );
        for m in &load.metrics {
            for q in &m.percentiles {
                let value = |v: Option<u64>| v.map_or("-".into(), |v| show_value(&m.unit, v));
                out += &format!(
                    "  {:<24} {:>9} {:<5} {:>18} {:>18} {:>6} {:>10}  {}\n",
                    m.label,
                    format!("{}/{}", m.a_samples, m.b_samples),
                    q.percentile,
                    value(q.a),
                    value(q.b),
                    show_ratio(q.ratio_per_mille),
                    q.p_ppm.map_or("-".into(), show_p),
                    q.describe(),
                );
            }
        }
        let e = &load.error_rate;
        out += &format!(
            "  {:<24} {:>9} {:<5} {:>18} {:>18} {:>6} {:>10}  {}\n",
            "error rate",
            format!("{}/{}", e.a_total, e.b_total),
            "",
            show_rate(e.a_errors, e.a_total, e.a_ppm),
            show_rate(e.b_errors, e.b_total, e.b_ppm),
            show_ratio(e.ratio_per_mille),
            show_p(e.p_ppm),
            e.decision.name()
        );
    }
    out += &format!(
        "\nmethod: {}; error rate: {}; {} ({} tests). Values are each run's own sample at the \
         percentile's rank.\n",
        c.method.quantile_test, c.method.error_rate_test, c.method.level, c.method.tests
    );
    let thin = c.too_few();
    if thin > 0 {
        out += &format!(
            "{thin} test(s) had too few samples for their percentile (under {} in a run, or too \
             few for a 95% confidence interval): there \"consistent\" means no difference could \
             be seen, not that there is none.\n",
            c.method.min_samples
        );
    }
    if c.consistent() {
        out += "\nconsistent: every verdict agrees and no metric differs\n";
    } else {
        out += &format!("\ndiffers ({}):\n", c.differences.len());
        for d in &c.differences {
            out += &format!("  {d}\n");
        }
    }
    out
}
