//! The identification as written: every figure an integer (parts per
//! million, micro-nats), so it has canonical bytes.

use serde::{Deserialize, Serialize};

use super::measure::{CountAgreement, ProbeAgreement, TaskPairs, TokenizerReading};

/// What one line of evidence found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// A test that could have seen a difference saw none.
    Agrees,
    /// A difference beyond the noise floor (and the tolerance, where one
    /// is stated).
    Differs,
    /// No evidence, or too little for its test to see a difference.
    Inconclusive,
}

impl Finding {
    /// The name for readers.
    pub fn name(self) -> &'static str {
        match self {
            Finding::Agrees => "agrees",
            Finding::Differs => "differs",
            Finding::Inconclusive => "inconclusive",
        }
    }
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// No line of evidence differs, and greedy outputs or log-probabilities
    /// could have shown a difference.
    SameModel,
    /// A line of evidence differs.
    DifferentModel,
    /// Nothing differs, but nothing that could have shown a difference was
    /// measured.
    CannotTell,
}

impl Decision {
    /// The name for readers.
    pub fn name(self) -> &'static str {
        match self {
            Decision::SameModel => "same model",
            Decision::DifferentModel => "different model",
            Decision::CannotTell => "cannot tell",
        }
    }
}

/// A fingerprint compared, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// The model name the fingerprint asked for.
    pub model: String,
    /// Its bundle's run, when it was read from a bundle.
    pub run: Option<RunSummary>,
}

/// What identifies a fingerprint bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The bundle's run id.
    pub run_id: String,
    /// The target's base URL.
    pub base_url: String,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    /// What verification established about its signature.
    pub signature: String,
}

/// The differences two fingerprints of one endpoint show: what the
/// candidate's differences from the reference are judged against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoiseFloor {
    /// Whether it was measured (else taken as zero: a deterministic
    /// endpoint).
    pub measured: bool,
    /// For readers: which fingerprints, or that none was given.
    pub source: String,
    /// The two fingerprints' runs, when measured from bundles.
    pub runs: Vec<RunSummary>,
    /// Generation probes compared.
    pub probes: u64,
    /// Of those, probes whose greedy outputs differ.
    pub divergent: u64,
    /// Log-probability differences measured.
    pub differences: u64,
    /// Of those, tokens absent from the other's list.
    pub absent: u64,
    /// Median difference, micro-nats.
    pub median_micro: Option<u64>,
    /// 90th percentile, micro-nats.
    pub p90_micro: Option<u64>,
    /// Largest, micro-nats.
    pub max_micro: Option<u64>,
    /// Whether the two fingerprints' prompt-token counts moved alike.
    pub counts_agree: Option<bool>,
    /// Their tasks, paired.
    pub tasks: TaskPairs,
}

/// The tests, their levels and tolerances, as stated to readers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Method {
    /// How greedy outputs are compared.
    pub greedy: String,
    /// How log-probabilities are compared.
    pub logprobs: String,
    /// How tokenizers are compared.
    pub tokenizer: String,
    /// How task scores are compared.
    pub tasks: String,
    /// How p-values become findings, and findings the decision.
    pub level: String,
    /// The family-wise level, parts per million.
    pub family_alpha_ppm: u64,
    /// The statistical tests made (the Bonferroni divisor).
    pub tests: u64,
    /// The log-probability tolerance, micro-nats.
    pub logprob_tolerance_micro: u64,
    /// Fewer log-probability differences than this on either side leave
    /// that test inconclusive.
    pub min_differences: u64,
}

/// Greedy outputs compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GreedyComparison {
    /// Each generation probe, candidate against reference.
    pub probes: Vec<ProbeAgreement>,
    /// Probes compared.
    pub compared: u64,
    /// Of those, probes whose outputs differ.
    pub divergent: u64,
    /// The table tested: candidate divergent, identical; noise floor
    /// divergent, identical.
    pub table: [u64; 4],
    /// Fisher's two-sided p-value, parts per million.
    pub p_ppm: u64,
    /// Whether every probe diverging would have been significant.
    pub could_detect: bool,
    /// The finding.
    pub finding: Finding,
}

/// Log-probabilities compared on the reference's top tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogprobComparison {
    /// Differences measured (tokens of the reference's top lists at
    /// positions of shared context).
    pub differences: u64,
    /// Of those, tokens the candidate does not list.
    pub absent: u64,
    /// Median |candidate − reference|, micro-nats.
    pub median_micro: Option<u64>,
    /// 90th percentile, micro-nats.
    pub p90_micro: Option<u64>,
    /// Largest, micro-nats.
    pub max_micro: Option<u64>,
    /// The median minus the noise floor's median, micro-nats (0 when not
    /// above it).
    pub excess_micro: Option<u64>,
    /// The median test's cut (pooled median), micro-nats.
    pub cut_micro: Option<u64>,
    /// Its table: candidate at or below the cut, above; noise floor at or
    /// below, above.
    pub table: Option<[u64; 4]>,
    /// Fisher's two-sided p-value on that table, parts per million.
    pub p_ppm: Option<u64>,
    /// Whether both sides had enough differences for the test.
    pub could_detect: bool,
    /// The finding.
    pub finding: Finding,
}

/// Tokenizers compared by their prompt-token counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenizerComparison {
    /// What the candidate's counts imply.
    pub candidate: TokenizerReading,
    /// What the reference's counts imply.
    pub reference: TokenizerReading,
    /// Whether their counts move alike from probe to probe.
    pub counts: CountAgreement,
    /// The finding.
    pub finding: Finding,
}

/// A pass rate with its exact interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// Tasks passed.
    pub passed: u64,
    /// Tasks scored.
    pub total: u64,
    /// Clopper–Pearson 95% interval, parts per million (rounded outward);
    /// `None` without tasks.
    pub interval_ppm: Option<[u64; 2]>,
}

/// Task scores compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskComparison {
    /// The candidate's score.
    pub candidate: Score,
    /// The reference's score.
    pub reference: Score,
    /// The tasks both scored, paired (`other` is the candidate).
    pub pairs: TaskPairs,
    /// The exact two-sided binomial test of the discordant pairs, parts
    /// per million.
    pub p_ppm: u64,
    /// Whether all paired tasks discordant one way would have been
    /// significant.
    pub could_detect: bool,
    /// The finding.
    pub finding: Finding,
}

/// A candidate fingerprint identified against a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identification {
    /// Format tag, [`super::IDENTIFICATION_FORMAT`].
    pub format: String,
    /// The probe set both fingerprints ran.
    pub probe_set: String,
    /// The candidate.
    pub candidate: Party,
    /// The reference.
    pub reference: Party,
    /// The noise floor the differences are judged against.
    pub noise: NoiseFloor,
    /// The tests.
    pub method: Method,
    /// Tokenizers.
    pub tokenizer: TokenizerComparison,
    /// Greedy outputs.
    pub greedy: GreedyComparison,
    /// Log-probabilities.
    pub logprobs: LogprobComparison,
    /// Task scores.
    pub tasks: TaskComparison,
    /// The decision.
    pub decision: Decision,
    /// Why, one line per line of evidence that differs, or what limits a
    /// `same model` or `cannot tell`.
    pub reasons: Vec<String>,
}
