//! Identifying a served model: is a candidate fingerprint the same model
//! as a reference fingerprint? A pure function of the two fingerprints
//! (and, optionally, two fingerprints of one endpoint that measure its
//! noise floor), so anyone re-deriving it from the same bundles gets the
//! same bytes.
//!
//! # Method
//!
//! Four lines of evidence (see [`measure`]):
//!
//! - **Tokenizer.** Each tokenizer probe's billed prompt tokens, taken
//!   relative to the first probe (a chat template's constant overhead
//!   cancels). Counts that move differently mean another tokenizer: the
//!   finding is exact, no test. The known family each fingerprint's counts
//!   fit is shown.
//! - **Greedy outputs.** Probes whose greedy (temperature 0, seeded)
//!   output differs, against the noise floor's, by Fisher's exact test.
//! - **Log-probabilities.** At each position whose context both share (up
//!   to and including the first greedy divergence), |candidate − reference|
//!   for each token of the reference's top list; a token the candidate does
//!   not list counts [`ABSENT_MICRO`]. The median of those differences is
//!   compared with the noise floor's by the two-sample median test
//!   ([`crate::compare::quantile_test`]), and differs only when it is
//!   significant **and** exceeds the noise floor's median by more than
//!   [`LOGPROB_TOLERANCE_MICRO`] (0.05 nats): a perturbation of every
//!   log-probability by more than that is detected, one by less is not.
//! - **Tasks.** Each exactly checkable task scored by both is a pair; the
//!   discordant pairs (passed by one only) are tested by the exact
//!   two-sided binomial test (McNemar's exact test). Each side's pass rate
//!   is shown with its Clopper–Pearson 95% interval.
//!
//! The three tests are judged at 0.05 / m (Bonferroni over the m tests with
//! evidence), so two fingerprints of one model are called different in at
//! most 5% of identifications. Without a noise floor, the endpoint is taken
//! to be deterministic: the floor is zero divergent probes and zero
//! differences, as many as the candidate has (stated in the output).
//!
//! The decision: *different model* when any line differs; *same model*
//! when none does and the greedy or the log-probability test could have
//! seen a difference (with every probe diverging, every difference above
//! the noise); *cannot tell* otherwise.

mod binomial;
mod bundles;
mod measure;
mod outcome;

pub use binomial::{clopper_pearson, sign_test};
pub use bundles::{Bundles, IdentifyBundlesError, identify_bundles};
pub use measure::{
    ABSENT_MICRO, CountAgreement, FamilyFit, Pair, ProbeAgreement, TaskPairs, TokenizerReading,
    measure, tokenizer_reading,
};
pub use outcome::{
    Decision, Finding, GreedyComparison, Identification, LogprobComparison, Method, NoiseFloor,
    Party, RunSummary, Score, TaskComparison, TokenizerComparison,
};

use crate::compare::{FAMILY_ALPHA_PPM, Table, fisher_two_sided, quantile_test};
use crate::fingerprint::Fingerprint;
use crate::metrics::quantile;

/// The format tag of an identification.
pub const IDENTIFICATION_FORMAT: &str = "tokencert-identification/1";
/// How far, in micro-nats, the median log-probability difference must
/// exceed the noise floor's for a significant test to count: 0.05 nats.
pub const LOGPROB_TOLERANCE_MICRO: u64 = 50_000;
/// Fewer log-probability differences than this on either side leave the
/// log-probability test inconclusive.
pub const MIN_DIFFERENCES: u64 = 20;
/// The confidence of the task scores' intervals, per mille.
pub const CONFIDENCE_PER_MILLE: u32 = 950;

const GREEDY_TEST: &str = "generation probes whose greedy output differs from the reference's, \
    against the noise floor's divergent probes: Fisher's exact test (two-sided); differs when \
    significant and the candidate's share is the larger";
const LOGPROB_TEST: &str = "|candidate - reference| log-probability of each token in the \
    reference's top list, at every position of shared context (up to and including the first \
    greedy divergence; a token the candidate does not list counts 100 nats), against the noise \
    floor's: two-sample median test (pooled median as the cut, Fisher's exact test, two-sided); \
    differs when significant and the median exceeds the noise floor's by more than 0.05 nats";
const TOKENIZER_TEST: &str = "billed prompt tokens of each tokenizer probe relative to the first \
    (the chat template's overhead cancels): differs when they move differently from the \
    reference's, unless the noise floor's moved differently too; exact, no test";
const TASK_TEST: &str = "tasks scored by both, paired: exact two-sided binomial test of the \
    tasks passed by one only (McNemar's exact test); pass rates with Clopper-Pearson 95% intervals";
const LEVEL: &str = "family-wise 5%, Bonferroni: each test at 0.05 divided by the number of \
    tests with evidence; a test that could not have reached that level with the evidence it \
    had is inconclusive. Different model when any line differs; same model when none does and \
    the greedy or the log-probability test could have seen a difference; cannot tell otherwise";

/// Why two fingerprints cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifyError {
    /// The fingerprints ran different probe sets.
    #[error(
        "the {which} fingerprint ran probe set {found} but the reference ran {reference}: \
         identify compares fingerprints of one probe set (re-run `tokencert fingerprint`)"
    )]
    DifferentProbeSets {
        /// Which fingerprint (`candidate`, `first noise`, `second noise`).
        which: &'static str,
        /// Its probe set.
        found: String,
        /// The reference's.
        reference: String,
    },
}

/// Identifies `candidate` against `reference`, judging their differences
/// against those of `noise` (two fingerprints of one endpoint) or, without
/// it, against none.
///
/// # Errors
///
/// [`IdentifyError::DifferentProbeSets`] when any fingerprint ran another
/// probe set than the reference.
pub fn identify(
    candidate: &Fingerprint,
    reference: &Fingerprint,
    noise: Option<[&Fingerprint; 2]>,
) -> Result<Identification, IdentifyError> {
    let mut others = vec![("candidate", candidate)];
    if let Some([first, second]) = noise {
        others.extend([("first noise", first), ("second noise", second)]);
    }
    for (which, f) in others {
        if f.probe_set != reference.probe_set {
            return Err(IdentifyError::DifferentProbeSets {
                which,
                found: f.probe_set.clone(),
                reference: reference.probe_set.clone(),
            });
        }
    }
    let pair = measure(reference, candidate);
    let floor = match noise {
        Some([first, second]) => measure(first, second),
        None => assumed_floor(&pair),
    };
    Ok(decide(candidate, reference, &pair, &floor, noise.is_some()))
}

/// The floor of a deterministic endpoint: as many probes and differences as
/// the pair, none divergent, every difference zero.
fn assumed_floor(pair: &Pair) -> Pair {
    Pair {
        greedy: pair
            .greedy
            .iter()
            .map(|p| ProbeAgreement {
                identical: true,
                common_prefix: p.reference_tokens,
                other_tokens: p.reference_tokens,
                ..p.clone()
            })
            .collect(),
        differences: vec![0; pair.differences.len()],
        absent: 0,
        counts: CountAgreement {
            probes: pair.counts.probes,
            agree: None,
            first_difference: None,
        },
        tasks: TaskPairs::default(),
    }
}

fn decide(
    candidate: &Fingerprint,
    reference: &Fingerprint,
    pair: &Pair,
    floor: &Pair,
    measured: bool,
) -> Identification {
    let compared = pair.greedy.len() as u64;
    let tests = u64::from(compared > 0)
        + u64::from(!pair.differences.is_empty())
        + u64::from(pair.tasks.total() > 0);
    let level = FAMILY_ALPHA_PPM as f64 / 1e6 / tests.max(1) as f64;
    let tokenizer = TokenizerComparison {
        candidate: tokenizer_reading(candidate),
        reference: tokenizer_reading(reference),
        counts: pair.counts.clone(),
        finding: match (pair.counts.agree, floor.counts.agree) {
            (Some(false), Some(false)) | (None, _) => Finding::Inconclusive,
            (Some(false), _) => Finding::Differs,
            (Some(true), _) => Finding::Agrees,
        },
    };
    let greedy = greedy_comparison(pair, floor, level);
    let logprobs = logprob_comparison(pair, floor, level);
    let tasks = task_comparison(candidate, reference, pair.tasks, level);
    let mut reasons = Vec::new();
    if tokenizer.finding == Finding::Differs {
        reasons.push(format!(
            "tokenizer: the prompt-token counts move differently ({}); the candidate's imply {}, \
             the reference's {}",
            pair.counts.first_difference.as_deref().unwrap_or("-"),
            tokenizer.candidate.implied,
            tokenizer.reference.implied
        ));
    }
    if greedy.finding == Finding::Differs {
        reasons.push(format!(
            "greedy outputs: {} of {} probes differ, the noise floor {} of {} (p = {})",
            greedy.divergent,
            greedy.compared,
            greedy.table[2],
            greedy.table[2] + greedy.table[3],
            crate::compare::show_p(greedy.p_ppm)
        ));
    }
    if logprobs.finding == Finding::Differs {
        reasons.push(format!(
            "log-probabilities: median difference {} nats, {} above the noise floor's \
             (tolerance 0.05; p = {})",
            nats(logprobs.median_micro),
            nats(logprobs.excess_micro),
            logprobs.p_ppm.map_or("-".into(), crate::compare::show_p)
        ));
    }
    if tasks.finding == Finding::Differs {
        reasons.push(format!(
            "tasks: {} passed by the reference only, {} by the candidate only (p = {})",
            tasks.pairs.reference_only,
            tasks.pairs.other_only,
            crate::compare::show_p(tasks.p_ppm)
        ));
    }
    let decision = if !reasons.is_empty() {
        Decision::DifferentModel
    } else if greedy.finding == Finding::Agrees || logprobs.finding == Finding::Agrees {
        Decision::SameModel
    } else {
        reasons.push(
            "neither greedy outputs nor log-probabilities were enough to see a difference"
                .to_string(),
        );
        Decision::CannotTell
    };
    if decision == Decision::SameModel && logprobs.finding != Finding::Agrees {
        reasons.push(
            "without log-probabilities a model whose greedy outputs are the reference's (a \
             quantization that keeps the most probable token) passes as the same"
                .to_string(),
        );
    }
    if !measured {
        reasons.push(
            "no noise floor was given: the endpoint is taken to be deterministic".to_string(),
        );
    }
    Identification {
        format: IDENTIFICATION_FORMAT.into(),
        probe_set: reference.probe_set.clone(),
        candidate: Party {
            model: candidate.model.clone(),
            run: None,
        },
        reference: Party {
            model: reference.model.clone(),
            run: None,
        },
        noise: noise_floor(floor, measured),
        method: Method {
            greedy: GREEDY_TEST.into(),
            logprobs: LOGPROB_TEST.into(),
            tokenizer: TOKENIZER_TEST.into(),
            tasks: TASK_TEST.into(),
            level: LEVEL.into(),
            family_alpha_ppm: FAMILY_ALPHA_PPM,
            tests,
            logprob_tolerance_micro: LOGPROB_TOLERANCE_MICRO,
            min_differences: MIN_DIFFERENCES,
        },
        tokenizer,
        greedy,
        logprobs,
        tasks,
        decision,
        reasons,
    }
}

fn greedy_comparison(pair: &Pair, floor: &Pair, level: f64) -> GreedyComparison {
    let (n, k) = (pair.greedy.len() as u64, pair.divergent());
    let (m, j) = (floor.greedy.len() as u64, floor.divergent());
    let table = Table {
        a_first: k,
        a_second: n - k,
        b_first: j,
        b_second: m - j,
    };
    let p = fisher_two_sided(table);
    let worst = fisher_two_sided(Table {
        a_first: n,
        a_second: 0,
        ..table
    });
    let could_detect = n > 0 && m > 0 && worst <= level;
    // k/n above j/m.
    let larger = u128::from(k) * u128::from(m) > u128::from(j) * u128::from(n);
    GreedyComparison {
        probes: pair.greedy.clone(),
        compared: n,
        divergent: k,
        table: [k, n - k, j, m - j],
        p_ppm: ppm(p),
        could_detect,
        finding: if n > 0 && m > 0 && larger && p <= level {
            Finding::Differs
        } else if could_detect {
            Finding::Agrees
        } else {
            Finding::Inconclusive
        },
    }
}

fn logprob_comparison(pair: &Pair, floor: &Pair, level: f64) -> LogprobComparison {
    let (ours, theirs) = (&pair.differences, &floor.differences);
    let median = quantile(ours, 500);
    let floor_median = quantile(theirs, 500);
    let excess = median.map(|m| m.saturating_sub(floor_median.unwrap_or(0)));
    let tested = quantile_test(ours, theirs, 500);
    let could_detect =
        ours.len() as u64 >= MIN_DIFFERENCES && theirs.len() as u64 >= MIN_DIFFERENCES;
    let significant = tested.is_some_and(|(_, _, p)| p <= level);
    let material = excess.is_some_and(|e| e > LOGPROB_TOLERANCE_MICRO);
    LogprobComparison {
        differences: ours.len() as u64,
        absent: pair.absent,
        median_micro: median,
        p90_micro: quantile(ours, 900),
        max_micro: ours.last().copied(),
        excess_micro: excess,
        cut_micro: tested.map(|(cut, _, _)| cut),
        table: tested.map(|(_, t, _)| [t.a_first, t.a_second, t.b_first, t.b_second]),
        p_ppm: tested.map(|(_, _, p)| ppm(p)),
        could_detect,
        finding: if could_detect && significant && material {
            Finding::Differs
        } else if could_detect {
            Finding::Agrees
        } else {
            Finding::Inconclusive
        },
    }
}

fn task_comparison(
    candidate: &Fingerprint,
    reference: &Fingerprint,
    pairs: TaskPairs,
    level: f64,
) -> TaskComparison {
    let p = sign_test(pairs.reference_only, pairs.other_only);
    let n = pairs.total();
    let could_detect = n > 0 && sign_test(n, 0) <= level;
    TaskComparison {
        candidate: score(candidate),
        reference: score(reference),
        pairs,
        p_ppm: ppm(p),
        could_detect,
        finding: if n > 0 && p <= level {
            Finding::Differs
        } else if could_detect {
            Finding::Agrees
        } else {
            Finding::Inconclusive
        },
    }
}

fn score(f: &Fingerprint) -> Score {
    let total = f.tasks.len() as u64;
    let passed = f.tasks.iter().filter(|t| t.passed).count() as u64;
    Score {
        passed,
        total,
        interval_ppm: clopper_pearson(passed, total, CONFIDENCE_PER_MILLE).map(|(low, high)| {
            [
                (low * 1e6).floor() as u64,
                ((high * 1e6).ceil() as u64).min(1_000_000),
            ]
        }),
    }
}

fn noise_floor(floor: &Pair, measured: bool) -> NoiseFloor {
    let d = &floor.differences;
    NoiseFloor {
        measured,
        source: if measured {
            "measured: two fingerprints of one endpoint".into()
        } else {
            "not measured: taken as zero (a deterministic endpoint), as many probes and \
             differences as the candidate's"
                .into()
        },
        runs: vec![],
        probes: floor.greedy.len() as u64,
        divergent: floor.divergent(),
        differences: d.len() as u64,
        absent: floor.absent,
        median_micro: quantile(d, 500),
        p90_micro: quantile(d, 900),
        max_micro: d.last().copied(),
        counts_agree: floor.counts.agree,
        tasks: floor.tasks,
    }
}

/// Micro-nats as nats for readers (`52000` → `0.052000`); `-` for none.
pub fn nats(micro: Option<u64>) -> String {
    micro.map_or_else(
        || "-".into(),
        |m| format!("{}.{:06}", m / 1_000_000, m % 1_000_000),
    )
}

/// A probability in parts per million, rounded to nearest.
fn ppm(p: f64) -> u64 {
    (p.clamp(0.0, 1.0) * 1e6).round() as u64
}

#[cfg(test)]
mod tests;
