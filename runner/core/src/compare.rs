//! Comparing two verified bundles of the same suite (a vendor's run and an
//! auditor's live re-run): do the verdicts agree, and are the performance
//! figures statistically consistent?
//!
//! # Method
//!
//! Verdicts agree when they are equal; a case in one bundle only disagrees.
//!
//! For each performance case both runs measured, each metric (TTFT, TTFT
//! from the scheduled send, E2E, token-level ITL, TPOT, output speed; see
//! [`crate::metrics`]) is compared at p50, p90, p95 and p99 by the
//! **two-sample quantile test** (Mood's median test generalised to the
//! q-quantile): the samples both runs recorded are pooled, the pooled
//! q-quantile is the cut, each run's samples are counted at or below it and
//! above it, and Fisher's exact test gives the two-sided p-value of that
//! 2×2 table. The error rate is compared by Fisher's exact test on the
//! runs' error and `ok` counts.
//!
//! Why an exact test and not a bootstrap of the confidence intervals: the
//! test uses only counts and the IEEE-754 basic operations in a fixed order
//! (see `exact`), so anyone re-deriving a comparison from the two bundles
//! gets the same bytes; a bootstrap needs random draws, and its answer
//! moves with the seed and the number of resamples. Given the pooled
//! samples, the test's p-value is exact (not an asymptotic approximation)
//! whatever the metric's distribution, provided a run's units are
//! exchangeable. The token-level ITL gaps of one request are not: one long
//! step (another request's prefill joining the batch) lengthens a gap of
//! every request decoding at the time, so counting gaps as independent
//! would find differences between two runs of one service. ITL is
//! therefore tested with the request as the unit: each request's own
//! q-quantile of its gaps, then the same test at the median of those
//! (see [`grouped_quantile_test`]). The values shown stay the pooled
//! gaps' quantiles, as in the figures.
//!
//! Significance: the summary's claim is "no metric differs", so the error
//! to control is that of the whole family of tests. Each test is judged at
//! 0.05 / m, where m is the number of tests the comparison made (Bonferroni),
//! so two runs of one service are called different in at most 5% of
//! comparisons, whatever the dependence between the tests. The price is
//! power: with few samples only a large shift at p50 can be detected, which
//! is why a test with too few samples is flagged (fewer than
//! [`MIN_SAMPLES`] in a run, or too few for a two-sided 95% confidence
//! interval of that percentile in a run, see
//! [`crate::metrics::quantile_ci_ranks`]): "consistent" there means no
//! difference could be seen, not that there is none.
//!
//! Materiality: a metric percentile differs only when its test is
//! significant **and** the two runs' values are more than
//! [`TOLERANCE_PER_MILLE`] apart (B/A above 1.25 or below 1/1.25 = 0.8).
//! The test measures the variation within a run; two runs of one service
//! also differ as a whole (another moment, another load on the machine,
//! another phase between closed-loop users), and when the variation within
//! a run is small the test detects such shifts of a few percent. Measured
//! against the embedded reference service (the suite's three loads,
//! 2026-11-26, 2 busy cores): between runs of one service the significant
//! differences were 0.2% to 23.5%, against a service with decode steps
//! three times slower at least 36%. The error rate has no tolerance: any
//! significant change in it is reported.

mod exact;
mod html;

pub use exact::{Table, fisher_two_sided, grouped_quantile_test, quantile_test};
pub use html::html_section;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use p256::ecdsa::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::bundle::{self, BundleError, RunInfo, Signer};
use crate::evidence::{EvidenceError, Exchange, read_exchanges};
use crate::judge::{self, Results, Verdict};
use crate::metrics::{ErrorClass, milli_to_decimal, quantile, quantile_ci_ranks};
use crate::performance::{self, PerformanceError, ms, ppm_to_percent};
use crate::suite::Suite;
use crate::tokens::Tokenizer;

/// The format tag of a comparison.
pub const COMPARISON_FORMAT: &str = "tokencert-comparison/1";
/// The family-wise significance level, parts per million (5%).
pub const FAMILY_ALPHA_PPM: u64 = 50_000;
/// How far apart, per mille, the runs' values of a metric percentile must
/// be (B/A above 1 + this, or below 1 / (1 + this)) for a significant test
/// to count as a difference: 25%.
pub const TOLERANCE_PER_MILLE: u64 = 250;
/// Fewer samples than this in a run flag a test as having too few.
pub const MIN_SAMPLES: u64 = 20;
/// The percentiles compared, as (name, quantile per mille).
pub const PERCENTILES: [(&str, u32); 4] = [("p50", 500), ("p90", 900), ("p95", 950), ("p99", 990)];

const QUANTILE_TEST: &str = "two-sample quantile test: both runs' samples pooled, each run's \
    samples counted at or below and above the pooled quantile, Fisher's exact test (two-sided) \
    on that 2x2 table; token-level ITL with the request as the unit (each request's own \
    quantile of its gaps, then that test at the median)";
const ERROR_RATE_TEST: &str = "Fisher's exact test (two-sided) on each run's error and ok counts";
const LEVEL: &str = "family-wise 5%, Bonferroni: a metric percentile differs when its p-value is \
    at most 0.05 divided by the number of tests and B/A is above 1.25 or below 0.8; the error \
    rate differs when its p-value is at most that";

/// Why two bundles could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The bundles were made with different suites.
    #[error(
        "{a_bundle} was made with suite {a} but {b_bundle} with suite {b}: compare needs two runs of the same suite"
    )]
    DifferentSuites {
        /// Bundle A.
        a_bundle: String,
        /// Its suite digest.
        a: String,
        /// Bundle B.
        b_bundle: String,
        /// Its suite digest.
        b: String,
    },
    /// A bundle cannot be read or does not verify.
    #[error("{bundle} does not verify: {source}")]
    Bundle {
        /// The bundle.
        bundle: String,
        /// Why.
        source: BundleError,
    },
    /// A performance case's evidence cannot be read.
    #[error("{bundle}: the evidence of {case} cannot be read: {source}")]
    Evidence {
        /// The bundle.
        bundle: String,
        /// The case.
        case: String,
        /// Why.
        source: EvidenceError,
    },
    /// A performance case's samples cannot be computed.
    #[error("{bundle}: the samples of {case} cannot be computed: {source}")]
    Samples {
        /// The bundle.
        bundle: String,
        /// The case.
        case: String,
        /// Why.
        source: PerformanceError,
    },
}

/// A per-request metric compared between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// TTFT from the actual send, nanoseconds.
    Ttft,
    /// TTFT from the scheduled send, nanoseconds.
    TtftFromScheduled,
    /// E2E from the actual send, nanoseconds.
    E2e,
    /// Token-level ITL, pooled over requests, nanoseconds.
    ItlToken,
    /// TPOT, nanoseconds.
    Tpot,
    /// Output speed, milli-tokens per second.
    OutputSpeed,
}

impl Metric {
    /// Every metric, in the order comparisons list them.
    pub const ALL: [Metric; 6] = [
        Metric::Ttft,
        Metric::TtftFromScheduled,
        Metric::E2e,
        Metric::ItlToken,
        Metric::Tpot,
        Metric::OutputSpeed,
    ];

    /// The key in comparisons.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Ttft => "ttft",
            Metric::TtftFromScheduled => "ttft_from_scheduled",
            Metric::E2e => "e2e",
            Metric::ItlToken => "itl_token",
            Metric::Tpot => "tpot",
            Metric::OutputSpeed => "output_speed",
        }
    }

    /// The name shown to readers.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Ttft => "TTFT",
            Metric::TtftFromScheduled => "TTFT from scheduled send",
            Metric::E2e => "E2E",
            Metric::ItlToken => "ITL (token level)",
            Metric::Tpot => "TPOT",
            Metric::OutputSpeed => "output speed",
        }
    }

    /// The unit of its values: `ns` or `milli_tokens_per_s`.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::OutputSpeed => "milli_tokens_per_s",
            _ => "ns",
        }
    }
}

/// A value in a metric's unit, for readers.
pub fn show_value(unit: &str, value: u64) -> String {
    if unit == "ns" {
        ms(value)
    } else {
        format!("{} tokens/s", milli_to_decimal(value))
    }
}

/// A ratio per mille as a decimal (`2832` → `2.832`); `-` when undefined.
pub fn show_ratio(per_mille: Option<u64>) -> String {
    per_mille.map_or_else(|| "-".into(), milli_to_decimal)
}

/// A p-value in parts per million as a decimal; `< 0.000001` for 0.
pub fn show_p(ppm: u64) -> String {
    if ppm == 0 {
        "< 0.000001".into()
    } else {
        format!("{}.{:06}", ppm / 1_000_000, ppm % 1_000_000)
    }
}

/// An error rate for readers: `2 of 16 (12.5%)`.
pub fn show_rate(errors: u64, total: u64, ppm: u64) -> String {
    format!("{errors} of {total} ({}%)", ppm_to_percent(ppm))
}

/// The samples of one load, as its figures were computed from them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSamples {
    /// Per metric, in [`Metric::ALL`] order, the samples of the `ok`
    /// exchanges, sorted.
    pub metrics: [Vec<u64>; 6],
    /// Each `ok` exchange's token-level ITL gaps, sorted, for exchanges
    /// with any: the unit of ITL's test.
    pub itl_by_request: Vec<Vec<u64>>,
    /// Exchanges not of class `ok`.
    pub errors: u64,
    /// All exchanges.
    pub total: u64,
}

impl LoadSamples {
    /// The samples of a load's exchanges.
    ///
    /// # Errors
    ///
    /// [`PerformanceError`]: an exchange without send times, or a text
    /// the tokenizer cannot recount.
    pub fn from_exchanges(
        exchanges: &[Exchange],
        tokenizer: &Tokenizer,
    ) -> Result<Self, PerformanceError> {
        let mut out = LoadSamples::default();
        for placed in performance::place(exchanges, tokenizer)? {
            out.total += 1;
            if placed.metrics.class != ErrorClass::Ok {
                out.errors += 1;
                continue;
            }
            let late = placed.lateness_ns();
            let m = placed.metrics;
            let [ttft, from_scheduled, e2e, itl, tpot, speed] = &mut out.metrics;
            ttft.extend(m.ttft_ns);
            from_scheduled.extend(m.ttft_ns.map(|t| t.saturating_add(late)));
            e2e.extend(m.e2e_ns);
            itl.extend_from_slice(&m.itl_token_ns);
            tpot.extend(m.tpot_ns);
            speed.extend(m.output_speed_milli_tps);
            if !m.itl_token_ns.is_empty() {
                let mut gaps = m.itl_token_ns;
                gaps.sort_unstable();
                out.itl_by_request.push(gaps);
            }
        }
        for samples in &mut out.metrics {
            samples.sort_unstable();
        }
        Ok(out)
    }

    /// The sorted samples of `metric`.
    pub fn of(&self, metric: Metric) -> &[u64] {
        let i = Metric::ALL.iter().position(|m| *m == metric).unwrap_or(0);
        self.metrics.get(i).map_or(&[], Vec::as_slice)
    }
}

/// One verified bundle, as a comparison reads it.
#[derive(Debug, Clone)]
pub struct Side {
    /// Its run record.
    pub run: RunInfo,
    /// Its results (verified).
    pub results: Results,
    /// Its signature's standing.
    pub signer: Signer,
    /// The samples of each performance case with figures, by case id.
    pub loads: BTreeMap<String, LoadSamples>,
}

/// Reads the samples of a verified bundle's performance cases.
///
/// # Errors
///
/// [`CompareError`] when the plan's tokenizer, an evidence file or its
/// samples cannot be read.
pub fn read_side(dir: &Path, verified: bundle::Verified) -> Result<Side, CompareError> {
    let name = dir.display().to_string();
    let context =
        judge::Context::new(verified.run.plan.clone(), dir).map_err(|e| CompareError::Bundle {
            bundle: name.clone(),
            source: e.into(),
        })?;
    let mut loads = BTreeMap::new();
    for case in verified
        .results
        .cases
        .iter()
        .filter(|c| c.performance.is_some())
    {
        let exchanges =
            read_exchanges(&bundle::evidence_path(dir, &case.id)).map_err(|source| {
                CompareError::Evidence {
                    bundle: name.clone(),
                    case: case.id.clone(),
                    source,
                }
            })?;
        let samples =
            LoadSamples::from_exchanges(&exchanges, &context.tokenizer).map_err(|source| {
                CompareError::Samples {
                    bundle: name.clone(),
                    case: case.id.clone(),
                    source,
                }
            })?;
        loads.insert(case.id.clone(), samples);
    }
    Ok(Side {
        run: verified.run,
        results: verified.results,
        signer: verified.signer,
        loads,
    })
}

/// Verifies both bundles against `suite` (each with its key, when given),
/// refusing bundles of different suites, and compares them.
///
/// # Errors
///
/// [`CompareError::DifferentSuites`] first; then the first bundle that does
/// not verify, or whose samples cannot be read.
pub fn compare_bundles(
    a: &Path,
    b: &Path,
    suite: &Suite,
    keys: [Option<&VerifyingKey>; 2],
) -> Result<Comparison, CompareError> {
    let failed = |dir: &Path| {
        let bundle = dir.display().to_string();
        move |source| CompareError::Bundle { bundle, source }
    };
    let run_a = bundle::read_run(a).map_err(failed(a))?;
    let run_b = bundle::read_run(b).map_err(failed(b))?;
    if run_a.suite_digest != run_b.suite_digest {
        return Err(CompareError::DifferentSuites {
            a_bundle: a.display().to_string(),
            a: run_a.suite_digest,
            b_bundle: b.display().to_string(),
            b: run_b.suite_digest,
        });
    }
    let [key_a, key_b] = keys;
    let verified_a = bundle::verify(a, suite, key_a).map_err(failed(a))?;
    let verified_b = bundle::verify(b, suite, key_b).map_err(failed(b))?;
    Ok(compare(
        &read_side(a, verified_a)?,
        &read_side(b, verified_b)?,
    ))
}

/// Whether a test found a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// No difference at the significance level.
    Consistent,
    /// A difference at the significance level.
    Differs,
    /// A run has no sample: nothing to test.
    NotMeasured,
}

impl Decision {
    /// The name in comparisons.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Consistent => "consistent",
            Decision::Differs => "differs",
            Decision::NotMeasured => "not measured",
        }
    }
}

/// Two runs compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// Format tag, [`COMPARISON_FORMAT`].
    pub format: String,
    /// The suite both runs used.
    pub suite_digest: String,
    /// Run A.
    pub a: RunSummary,
    /// Run B.
    pub b: RunSummary,
    /// How the runs were compared.
    pub method: Method,
    /// `consistent` when every verdict agrees and no test differs, else
    /// `differs`.
    pub outcome: String,
    /// What differs, one line each; empty when consistent.
    pub differences: Vec<String>,
    /// Every case of either run, sorted by id.
    pub verdicts: Vec<VerdictAgreement>,
    /// Every performance case both runs have figures for, sorted by id.
    pub loads: Vec<LoadComparison>,
}

impl Comparison {
    /// True when every verdict agrees and no test differs.
    pub fn consistent(&self) -> bool {
        self.differences.is_empty()
    }

    /// Tests flagged as having too few samples.
    pub fn too_few(&self) -> usize {
        self.loads
            .iter()
            .flat_map(|l| &l.metrics)
            .flat_map(|m| &m.percentiles)
            .filter(|q| q.too_few_samples)
            .count()
    }
}

/// What identifies a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The bundle's run id.
    pub run_id: String,
    /// The tool that made it.
    pub tool: String,
    /// The target's base URL.
    pub base_url: String,
    /// The model sent.
    pub model: String,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    /// What verification established about its signature.
    pub signature: String,
}

impl RunSummary {
    fn of(side: &Side) -> Self {
        let run = &side.run;
        Self {
            run_id: run.run_id.clone(),
            tool: run.tool.clone(),
            base_url: run.target.base_url.clone(),
            model: run.target.model.clone(),
            started_at: run.started_at.clone(),
            signature: match &side.signer {
                Signer::Unsigned => "unsigned".into(),
                Signer::Unchecked { keyid } => {
                    format!("signed by {keyid}, not checked against a given key")
                }
                Signer::Verified { keyid } => format!("signed by {keyid}, the given key"),
            },
        }
    }
}

/// The tests and the significance level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Method {
    /// The test of a metric at a percentile.
    pub quantile_test: String,
    /// The test of the error rate.
    pub error_rate_test: String,
    /// How a p-value becomes a decision.
    pub level: String,
    /// The family-wise level, parts per million.
    pub family_alpha_ppm: u64,
    /// How far apart a metric percentile's values must be, per mille, for
    /// a significant test to count.
    pub tolerance_per_mille: u64,
    /// The number of tests made (the Bonferroni divisor).
    pub tests: u64,
    /// Fewer samples than this in a run flag a test.
    pub min_samples: u64,
}

/// One case's verdicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictAgreement {
    /// Case id.
    pub case: String,
    /// Its verdict in A; `None` when A did not run it.
    pub a: Option<Verdict>,
    /// Its verdict in B.
    pub b: Option<Verdict>,
    /// Whether both ran it with the same verdict.
    pub agree: bool,
}

/// One performance case compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadComparison {
    /// Case id.
    pub case: String,
    /// Each metric, in [`Metric::ALL`] order.
    pub metrics: Vec<MetricComparison>,
    /// The error rate.
    pub error_rate: ErrorRateComparison,
}

/// One metric of a load compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// [`Metric::key`].
    pub metric: String,
    /// [`Metric::label`].
    pub label: String,
    /// [`Metric::unit`].
    pub unit: String,
    /// What the test counts: `sample`, or `request` for token-level ITL
    /// (each request's own quantile of its gaps, by the median test).
    pub tested_per: String,
    /// A's samples.
    pub a_samples: u64,
    /// B's samples.
    pub b_samples: u64,
    /// Each percentile of [`PERCENTILES`].
    pub percentiles: Vec<QuantileComparison>,
}

/// One percentile of a metric compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantileComparison {
    /// `p50`, `p90`, `p95` or `p99`.
    pub percentile: String,
    /// The quantile, per mille.
    pub per_mille: u32,
    /// A's sample at the quantile's nearest rank (exact, not
    /// histogram-rounded: the `exact` value of A's figures).
    pub a: Option<u64>,
    /// B's.
    pub b: Option<u64>,
    /// B / A per mille, rounded to nearest; `None` when either is absent
    /// or A is 0.
    pub ratio_per_mille: Option<u64>,
    /// The test's cut: the pooled samples' quantile (for ITL, the pooled
    /// median of the requests' own quantiles).
    pub cut: Option<u64>,
    /// The test's table: A at or below the cut, A above, B at or below, B
    /// above (samples, or for ITL requests).
    pub table: Option<[u64; 4]>,
    /// The two-sided p-value, parts per million, rounded to nearest.
    pub p_ppm: Option<u64>,
    /// Whether the test's p-value is within the per-test level.
    pub significant: bool,
    /// `differs` when the test is significant and the values are more
    /// than the tolerance apart.
    pub decision: Decision,
    /// A run has fewer than [`MIN_SAMPLES`] units tested, or too few
    /// samples for a 95% confidence interval of this percentile.
    pub too_few_samples: bool,
}

impl QuantileComparison {
    /// The decision for readers, with why a `consistent` may say little:
    /// `consistent (significant, within 25%)`, `consistent (too few samples)`.
    pub fn describe(&self) -> String {
        let mut notes = Vec::new();
        if self.decision == Decision::Consistent && self.significant {
            notes.push(format!("significant, within {}%", TOLERANCE_PER_MILLE / 10));
        }
        if self.decision != Decision::NotMeasured && self.too_few_samples {
            notes.push("too few samples".to_string());
        }
        if notes.is_empty() {
            self.decision.name().to_string()
        } else {
            format!("{} ({})", self.decision.name(), notes.join("; "))
        }
    }
}

/// The error rates of a load compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRateComparison {
    /// A's failed exchanges.
    pub a_errors: u64,
    /// A's exchanges.
    pub a_total: u64,
    /// A's error rate, parts per million, rounded down.
    pub a_ppm: u64,
    /// B's failed exchanges.
    pub b_errors: u64,
    /// B's exchanges.
    pub b_total: u64,
    /// B's error rate, parts per million, rounded down.
    pub b_ppm: u64,
    /// B's rate / A's per mille, rounded to nearest; `None` when A's is 0.
    pub ratio_per_mille: Option<u64>,
    /// The two-sided p-value, parts per million, rounded to nearest.
    pub p_ppm: u64,
    /// The decision at the per-test level.
    pub decision: Decision,
}

/// Compares two verified runs of the same suite.
pub fn compare(a: &Side, b: &Side) -> Comparison {
    let verdicts = verdict_agreement(&a.results, &b.results);
    let show = |x: Option<Verdict>| x.map_or("not run", Verdict::name);
    let mut differences: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.agree)
        .map(|v| format!("{}: verdict {} in A, {} in B", v.case, show(v.a), show(v.b)))
        .collect();
    // Every p-value first; decisions once the number of tests is known.
    let mut loads: Vec<(LoadComparison, Vec<f64>)> = a
        .loads
        .iter()
        .filter_map(|(case, sa)| Some(compare_load(case, sa, b.loads.get(case)?)))
        .collect();
    let tests: u64 = loads.iter().map(|(_, p)| p.len() as u64).sum();
    let differs = |p: f64| p * tests as f64 * 1e6 <= FAMILY_ALPHA_PPM as f64;
    for (load, p_values) in &mut loads {
        let mut p_values = p_values.iter().copied();
        for metric in &mut load.metrics {
            for q in &mut metric.percentiles {
                if q.decision == Decision::NotMeasured {
                    continue;
                }
                let significant = p_values.next().is_some_and(differs);
                q.significant = significant;
                if significant && material(q.a, q.b) {
                    q.decision = Decision::Differs;
                    let value =
                        |v: Option<u64>| v.map_or("-".into(), |v| show_value(&metric.unit, v));
                    differences.push(format!(
                        "{} {} {}: A {}, B {} (B/A {}, p {})",
                        load.case,
                        metric.label,
                        q.percentile,
                        value(q.a),
                        value(q.b),
                        show_ratio(q.ratio_per_mille),
                        show_p(q.p_ppm.unwrap_or(0)),
                    ));
                }
            }
        }
        let e = &mut load.error_rate;
        if p_values.next().is_some_and(differs) {
            e.decision = Decision::Differs;
            differences.push(format!(
                "{} error rate: A {}, B {} (p {})",
                load.case,
                show_rate(e.a_errors, e.a_total, e.a_ppm),
                show_rate(e.b_errors, e.b_total, e.b_ppm),
                show_p(e.p_ppm)
            ));
        }
    }
    Comparison {
        format: COMPARISON_FORMAT.into(),
        suite_digest: a.run.suite_digest.clone(),
        a: RunSummary::of(a),
        b: RunSummary::of(b),
        method: Method {
            quantile_test: QUANTILE_TEST.into(),
            error_rate_test: ERROR_RATE_TEST.into(),
            level: LEVEL.into(),
            family_alpha_ppm: FAMILY_ALPHA_PPM,
            tolerance_per_mille: TOLERANCE_PER_MILLE,
            tests,
            min_samples: MIN_SAMPLES,
        },
        outcome: if differences.is_empty() {
            "consistent"
        } else {
            "differs"
        }
        .into(),
        differences,
        verdicts,
        loads: loads.into_iter().map(|(load, _)| load).collect(),
    }
}

/// Whether two values are more than [`TOLERANCE_PER_MILLE`] apart, as a
/// ratio either way; true when one is absent, or 0 and the other not.
fn material(a: Option<u64>, b: Option<u64>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return true;
    };
    let beyond = |x: u64, y: u64| {
        u128::from(x) * 1000 > u128::from(y) * u128::from(1000 + TOLERANCE_PER_MILLE)
    };
    beyond(a, b) || beyond(b, a)
}

fn verdict_agreement(a: &Results, b: &Results) -> Vec<VerdictAgreement> {
    let of = |r: &Results| -> BTreeMap<String, Verdict> {
        r.cases.iter().map(|c| (c.id.clone(), c.verdict)).collect()
    };
    let (va, vb) = (of(a), of(b));
    let ids: BTreeSet<&String> = va.keys().chain(vb.keys()).collect();
    ids.into_iter()
        .map(|id| {
            let (a, b) = (va.get(id).copied(), vb.get(id).copied());
            VerdictAgreement {
                case: id.clone(),
                a,
                b,
                agree: a.is_some() && a == b,
            }
        })
        .collect()
}

/// A load compared, every decision `consistent` or `not_measured` yet,
/// with the p-values of its tests in order (the measured percentiles of
/// each metric, then the error rate).
fn compare_load(case: &str, a: &LoadSamples, b: &LoadSamples) -> (LoadComparison, Vec<f64>) {
    let mut p_values = Vec::new();
    let metrics = Metric::ALL
        .iter()
        .map(|&metric| {
            let (sa, sb) = (a.of(metric), b.of(metric));
            let per_request = metric == Metric::ItlToken;
            let percentiles = PERCENTILES
                .iter()
                .map(|&(name, per_mille)| {
                    let (tested, units) = if per_request {
                        let (ga, gb) = (&a.itl_by_request, &b.itl_by_request);
                        (
                            grouped_quantile_test(ga, gb, per_mille),
                            [ga.len(), gb.len()],
                        )
                    } else {
                        (quantile_test(sa, sb, per_mille), [sa.len(), sb.len()])
                    };
                    p_values.extend(tested.map(|(_, _, p)| p));
                    compare_quantile(name, per_mille, [sa, sb], tested, units)
                })
                .collect();
            MetricComparison {
                metric: metric.key().into(),
                label: metric.label().into(),
                unit: metric.unit().into(),
                tested_per: if per_request { "request" } else { "sample" }.into(),
                a_samples: sa.len() as u64,
                b_samples: sb.len() as u64,
                percentiles,
            }
        })
        .collect();
    let table = Table {
        a_first: a.errors,
        a_second: a.total - a.errors,
        b_first: b.errors,
        b_second: b.total - b.errors,
    };
    let p = fisher_two_sided(table);
    p_values.push(p);
    let (a_ppm, b_ppm) = (share_ppm(a.errors, a.total), share_ppm(b.errors, b.total));
    let load = LoadComparison {
        case: case.into(),
        metrics,
        error_rate: ErrorRateComparison {
            a_errors: a.errors,
            a_total: a.total,
            a_ppm,
            b_errors: b.errors,
            b_total: b.total,
            b_ppm,
            ratio_per_mille: ratio_per_mille(a_ppm, b_ppm),
            p_ppm: ppm(p),
            decision: Decision::Consistent,
        },
    };
    (load, p_values)
}

/// One percentile of a metric: both runs' values from their samples, and
/// the test made on `units` (samples, or requests) per run.
fn compare_quantile(
    name: &str,
    per_mille: u32,
    [a, b]: [&[u64]; 2],
    tested: Option<(u64, Table, f64)>,
    units: [usize; 2],
) -> QuantileComparison {
    let (qa, qb) = (quantile(a, per_mille), quantile(b, per_mille));
    let thin = |samples: usize, units: usize| {
        let (low, high) = quantile_ci_ranks(samples as u64, per_mille);
        (units as u64) < MIN_SAMPLES || low.is_none() || high.is_none()
    };
    QuantileComparison {
        percentile: name.into(),
        per_mille,
        a: qa,
        b: qb,
        ratio_per_mille: qa.zip(qb).and_then(|(x, y)| ratio_per_mille(x, y)),
        cut: tested.map(|(cut, _, _)| cut),
        table: tested.map(|(_, t, _)| [t.a_first, t.a_second, t.b_first, t.b_second]),
        p_ppm: tested.map(|(_, _, p)| ppm(p)),
        significant: false,
        decision: if tested.is_some() {
            Decision::Consistent
        } else {
            Decision::NotMeasured
        },
        too_few_samples: tested.is_some() && (thin(a.len(), units[0]) || thin(b.len(), units[1])),
    }
}

/// b / a per mille, rounded to nearest; `None` when a is 0.
fn ratio_per_mille(a: u64, b: u64) -> Option<u64> {
    if a == 0 {
        return None;
    }
    let r = (u128::from(b) * 2000 + u128::from(a)) / (2 * u128::from(a));
    Some(u64::try_from(r).unwrap_or(u64::MAX))
}

/// `part` of `total` per million, rounded down; 0 of nothing.
fn share_ppm(part: u64, total: u64) -> u64 {
    if total == 0 {
        return 0;
    }
    u64::try_from(u128::from(part) * 1_000_000 / u128::from(total)).unwrap_or(u64::MAX)
}

/// A probability in parts per million, rounded to nearest.
fn ppm(p: f64) -> u64 {
    (p.clamp(0.0, 1.0) * 1e6).round() as u64
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bundle::TargetInfo;
    use crate::judge::{CaseResult, Plan};
    use crate::suite::Level;

    pub(super) fn side(verdicts: &[(&str, Verdict)], load: Option<LoadSamples>) -> Side {
        let cases = verdicts
            .iter()
            .map(|&(id, verdict)| CaseResult {
                id: id.into(),
                clause: "TS-X".into(),
                level: Level::Must,
                verdict,
                reason: String::new(),
                checks: vec![],
                performance: None,
            })
            .collect();
        Side {
            run: RunInfo {
                format: bundle::RUN_FORMAT.into(),
                run_id: "r".into(),
                tool: "tokencert".into(),
                suite_digest: "sha256:s".into(),
                plan: Plan::default(),
                target: TargetInfo {
                    base_url: "http://127.0.0.1:1/v1".into(),
                    model: "m".into(),
                    reference: None,
                },
                timeout_ms: 1,
                body_limit_bytes: 1,
                started_at: "2026-11-26T00:00:00Z".into(),
                finished_at: None,
                interrupted: None,
                observation: None,
                shard: None,
                merge: None,
            },
            results: Results {
                format: judge::RESULTS_FORMAT.into(),
                suite_digest: "sha256:s".into(),
                summary: BTreeMap::new(),
                cases,
                prices: None,
            },
            signer: Signer::Unsigned,
            loads: load
                .into_iter()
                .map(|l| ("perf.x".to_string(), l))
                .collect(),
        }
    }

    /// 64 requests whose every latency is `base` plus a spread, errors as given.
    fn load(base: u64, errors: u64) -> LoadSamples {
        let spread: Vec<u64> = (0..64).map(|i| base + (i * 7919) % 1000).collect();
        let mut sorted = spread.clone();
        sorted.sort_unstable();
        LoadSamples {
            metrics: std::array::from_fn(|_| sorted.clone()),
            itl_by_request: sorted.chunks(4).map(<[u64]>::to_vec).collect(),
            errors,
            total: 64 + errors,
        }
    }

    #[test]
    fn identical_runs_are_consistent() {
        let a = side(
            &[("a", Verdict::Pass), ("perf.x", Verdict::Pass)],
            Some(load(10_000, 0)),
        );
        let c = compare(&a, &a.clone());
        assert_eq!(c.outcome, "consistent", "{:?}", c.differences);
        assert!(c.consistent());
        assert_eq!(c.method.tests, 6 * 4 + 1);
        let canonical = crate::canonical::to_vec(&c).expect("integers and strings only");
        assert!(!canonical.is_empty());
        assert_eq!(
            c.loads[0].metrics[0].percentiles[0].ratio_per_mille,
            Some(1000)
        );
    }

    #[test]
    fn a_shift_differs_and_is_named() {
        let a = side(&[("perf.x", Verdict::Pass)], Some(load(10_000, 0)));
        let b = side(&[("perf.x", Verdict::Pass)], Some(load(30_000, 0)));
        let c = compare(&a, &b);
        assert_eq!(c.outcome, "differs");
        let p50 = &c.loads[0].metrics[4].percentiles[0];
        assert_eq!(p50.decision, Decision::Differs, "{p50:?}");
        assert!(p50.ratio_per_mille.is_some_and(|r| r > 2000), "{p50:?}");
        assert!(
            c.differences.iter().any(|d| d.contains("TPOT p50")),
            "{:?}",
            c.differences
        );
        assert_eq!(c.loads[0].error_rate.decision, Decision::Consistent);
    }

    #[test]
    fn a_significant_shift_within_the_tolerance_is_consistent() {
        // 10% slower everywhere: the test sees it, the tolerance forgives it.
        let a = side(&[], Some(load(10_000, 0)));
        let b = side(&[], Some(load(11_000, 0)));
        let c = compare(&a, &b);
        let p50 = &c.loads[0].metrics[0].percentiles[0];
        assert!(
            p50.p_ppm.is_some_and(|p| p * c.method.tests < 50_000),
            "{p50:?}"
        );
        assert!(p50.significant && p50.decision == Decision::Consistent);
        assert!(c.consistent(), "{:?}", c.differences);
        assert!(!material(Some(0), Some(0)) && material(Some(0), Some(1)));
        assert!(!material(Some(1000), Some(1250)) && material(Some(1000), Some(1251)));
        assert!(!material(Some(1250), Some(1000)) && material(Some(1251), Some(1000)));
    }

    #[test]
    fn verdicts_and_error_rates_are_compared() {
        let a = side(
            &[("a", Verdict::Pass), ("b", Verdict::Pass)],
            Some(load(10_000, 0)),
        );
        let b = side(
            &[("a", Verdict::Fail), ("c", Verdict::Pass)],
            Some(load(10_000, 40)),
        );
        let c = compare(&a, &b);
        let disagree: Vec<&str> = c
            .verdicts
            .iter()
            .filter(|v| !v.agree)
            .map(|v| v.case.as_str())
            .collect();
        assert_eq!(disagree, ["a", "b", "c"]);
        assert!(
            c.differences
                .iter()
                .any(|d| d == "a: verdict pass in A, fail in B")
        );
        assert!(
            c.differences
                .iter()
                .any(|d| d == "b: verdict pass in A, not run in B")
        );
        assert_eq!(c.loads[0].error_rate.decision, Decision::Differs);
    }

    #[test]
    fn few_samples_are_flagged() {
        let few = LoadSamples {
            metrics: std::array::from_fn(|_| vec![1, 2, 3]),
            itl_by_request: vec![vec![1, 2, 3]],
            errors: 0,
            total: 3,
        };
        let a = side(&[], Some(few));
        let c = compare(&a, &a.clone());
        assert!(
            c.loads[0].metrics[0]
                .percentiles
                .iter()
                .all(|q| q.too_few_samples)
        );
        assert_eq!(c.too_few(), 6 * 4);
        // With 64 samples p50 has a 95% interval, p99 does not.
        let a = side(&[], Some(load(10_000, 0)));
        let q = &compare(&a, &a.clone()).loads[0].metrics[0].percentiles;
        assert!(!q[0].too_few_samples && q[3].too_few_samples);
    }
}
