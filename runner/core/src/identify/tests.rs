//! Identification of synthetic fingerprints: one model seen through
//! seeded noise, a substituted model, a "quantized" one.

use std::collections::BTreeMap;

use super::*;
use crate::fingerprint::{GeneratedToken, Generation, TaskScore, TokenizerProbe, from_micro};

/// A synthetic served model.
#[derive(Clone, Copy)]
struct Model {
    /// Which vocabulary distribution its greedy tokens come from.
    vocabulary: u64,
    /// Every log-probability moved by this much, micro-nats, sign seeded.
    perturbation_micro: i64,
    /// Tasks failed, per mille, seeded.
    failures_per_mille: u64,
    /// Its tokenizer family (index into the probe set's families).
    family: usize,
    /// Whether it returns log-probabilities.
    logprobs: bool,
}

const REFERENCE: Model = Model {
    vocabulary: 1,
    perturbation_micro: 0,
    failures_per_mille: 0,
    family: 0,
    logprobs: true,
};

/// Jitter of an endpoint's log-probabilities, at most ± this, micro-nats.
const JITTER_MICRO: u64 = 5_000;
const PROBES: u64 = 8;
const TOKENS: u64 = 12;
const TOP: u64 = 5;
const TASKS: u64 = 30;

fn mix(values: &[u64]) -> u64 {
    // SplitMix64 over the values.
    let mut h = 0x9e37_79b9_7f4a_7c15u64;
    for &v in values {
        h ^= v;
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h = z ^ (z >> 31);
    }
    h
}

/// A fingerprint of `model`, with `noise` seeding the endpoint's jitter.
fn fingerprint(model: Model, noise: u64) -> Fingerprint {
    let generations = (0..PROBES)
        .map(|p| Generation {
            probe: format!("g{p}"),
            tokens: (0..TOKENS)
                .map(|i| {
                    let word =
                        |rank: u64| format!(" w{}", mix(&[model.vocabulary, p, i, rank]) % 97);
                    let base = -((mix(&[p, i]) % 3000) as i64 + 1) * 1000;
                    let lp = |rank: u64| {
                        let jitter = (mix(&[noise, p, i, rank]) % (2 * JITTER_MICRO + 1)) as i64
                            - JITTER_MICRO as i64;
                        let sign = if mix(&[7, p, i, rank]).is_multiple_of(2) {
                            1
                        } else {
                            -1
                        };
                        from_micro(
                            base - 500_000 * rank as i64 + jitter + sign * model.perturbation_micro,
                        )
                    };
                    GeneratedToken {
                        token: word(0),
                        logprob: model.logprobs.then(|| lp(0)),
                        top: if model.logprobs {
                            (0..TOP).map(|r| (word(r), lp(r))).collect()
                        } else {
                            vec![]
                        },
                    }
                })
                .collect(),
        })
        .collect();
    let families = [
        ("o200k_base", [5u64, 12, 20, 33]),
        ("gemma-3", [6, 11, 25, 30]),
    ];
    let tokenizer_probes = (0..4)
        .map(|i| TokenizerProbe {
            probe: format!("t{i}"),
            prompt_tokens: Some(families[model.family].1[i] + 9),
            expected: families
                .iter()
                .map(|(name, counts)| ((*name).to_string(), counts[i]))
                .collect::<BTreeMap<_, _>>(),
        })
        .collect();
    let tasks = (0..TASKS)
        .map(|t| {
            let failed = t == 0 || mix(&[11, t]) % 1000 < model.failures_per_mille;
            TaskScore {
                task: format!("task{t}"),
                passed: !failed,
                reason: String::new(),
            }
        })
        .collect();
    Fingerprint {
        probe_set: "fp-test".into(),
        model: "m".into(),
        generations,
        tokenizer_probes,
        tasks,
    }
}

fn identify_model(candidate: Model, seed: u64) -> Identification {
    let reference = fingerprint(REFERENCE, seed * 3);
    let noise = fingerprint(REFERENCE, seed * 3 + 1);
    identify(
        &fingerprint(candidate, seed * 3 + 2),
        &reference,
        Some([&reference, &noise]),
    )
    .expect("one probe set")
}

#[test]
fn the_same_model_through_noise_is_the_same() {
    let id = identify_model(REFERENCE, 1);
    assert_eq!(id.decision, Decision::SameModel, "{:?}", id.reasons);
    assert_eq!(id.tokenizer.finding, Finding::Agrees);
    assert_eq!(id.tokenizer.candidate.implied, "o200k_base");
    assert_eq!(id.greedy.finding, Finding::Agrees);
    assert_eq!(id.logprobs.finding, Finding::Agrees);
    assert_eq!(id.tasks.finding, Finding::Agrees);
    assert_eq!(id.method.tests, 3);
    assert_eq!(id.logprobs.differences, PROBES * TOKENS * TOP);
    assert!(id.noise.measured && id.noise.median_micro.is_some_and(|m| m > 0));
    assert!(id.reasons.is_empty(), "{:?}", id.reasons);
    // Canonical bytes: integers and strings only.
    let bytes = crate::canonical::to_vec(&id).expect("canonical");
    let back: Identification = serde_json::from_slice(&bytes).expect("reads back");
    assert_eq!(back, id);
}

#[test]
fn a_substituted_model_differs_on_every_line() {
    let substituted = Model {
        vocabulary: 2,
        family: 1,
        ..REFERENCE
    };
    let id = identify_model(substituted, 1);
    assert_eq!(id.decision, Decision::DifferentModel);
    assert_eq!(id.tokenizer.finding, Finding::Differs);
    assert_eq!(id.tokenizer.candidate.implied, "gemma-3");
    assert_eq!(id.greedy.finding, Finding::Differs);
    assert_eq!(id.logprobs.finding, Finding::Differs);
    assert_eq!(id.logprobs.median_micro, Some(ABSENT_MICRO));
    assert!(id.reasons.iter().any(|r| r.starts_with("tokenizer:")));
    // Another vocabulary, the same tokenizer: still told apart.
    let same_tokenizer = Model {
        vocabulary: 2,
        ..REFERENCE
    };
    let id = identify_model(same_tokenizer, 1);
    assert_eq!(id.decision, Decision::DifferentModel);
    assert_eq!(id.tokenizer.finding, Finding::Agrees);
}

#[test]
fn a_perturbation_is_detected_above_the_tolerance_and_not_below() {
    let quantized = |micro| Model {
        perturbation_micro: micro,
        ..REFERENCE
    };
    let above = identify_model(quantized(100_000), 1);
    assert_eq!(
        above.decision,
        Decision::DifferentModel,
        "{:?}",
        above.logprobs
    );
    assert_eq!(above.logprobs.finding, Finding::Differs);
    assert_eq!(above.greedy.finding, Finding::Agrees);
    let below = identify_model(quantized(25_000), 1);
    assert_eq!(below.decision, Decision::SameModel, "{:?}", below.logprobs);
    assert!(
        below.logprobs.p_ppm.is_some_and(|p| p < 1000),
        "{:?}",
        below.logprobs
    );
    assert!(
        below
            .logprobs
            .excess_micro
            .is_some_and(|e| e < LOGPROB_TOLERANCE_MICRO)
    );
}

#[test]
fn degraded_tasks_are_detected_by_the_paired_test() {
    let degraded = Model {
        failures_per_mille: 500,
        ..REFERENCE
    };
    let id = identify_model(degraded, 1);
    assert_eq!(id.tasks.finding, Finding::Differs, "{:?}", id.tasks);
    assert_eq!(id.decision, Decision::DifferentModel);
    assert_eq!(id.tasks.pairs.other_only, 0);
    assert!(id.tasks.candidate.passed < id.tasks.reference.passed);
    let [low, high] = id.tasks.reference.interval_ppm.expect("tasks");
    // 29 of 30: Clopper-Pearson [0.8278305, 0.9991564] (exact rational
    // arithmetic), rounded outward.
    assert_eq!((low, high), (827_830, 999_157));
}

#[test]
fn without_logprobs_greedy_outputs_decide_and_the_limit_is_stated() {
    let plain = Model {
        logprobs: false,
        ..REFERENCE
    };
    let reference = fingerprint(plain, 0);
    let id = identify(&fingerprint(plain, 1), &reference, None).expect("one probe set");
    assert_eq!(id.decision, Decision::SameModel);
    assert_eq!(id.logprobs.finding, Finding::Inconclusive);
    assert!(!id.noise.measured);
    assert!(
        id.reasons
            .iter()
            .any(|r| r.contains("without log-probabilities"))
    );
    assert!(id.reasons.iter().any(|r| r.contains("no noise floor")));
    let other = Model {
        vocabulary: 3,
        ..plain
    };
    let id = identify(&fingerprint(other, 1), &reference, None).expect("one probe set");
    assert_eq!(id.decision, Decision::DifferentModel);
    assert_eq!(id.greedy.finding, Finding::Differs);
}

#[test]
fn too_little_evidence_cannot_tell() {
    let mut reference = fingerprint(REFERENCE, 0);
    reference.generations.truncate(2);
    for token in reference.generations.iter_mut().flat_map(|g| &mut g.tokens) {
        token.top.clear();
        token.logprob = None;
    }
    reference.tasks.truncate(3);
    let id = identify(&reference.clone(), &reference, None).expect("one probe set");
    assert_eq!(id.decision, Decision::CannotTell, "{:?}", id.greedy);
    assert!(!id.greedy.could_detect && !id.tasks.could_detect);
    // A noise floor that diverges everywhere leaves greedy outputs powerless too.
    let plain = Model {
        logprobs: false,
        ..REFERENCE
    };
    let r = fingerprint(plain, 0);
    let unstable = fingerprint(
        Model {
            vocabulary: 5,
            ..plain
        },
        0,
    );
    let id = identify(&r.clone(), &r, Some([&r, &unstable])).expect("one probe set");
    assert_eq!(id.decision, Decision::CannotTell, "{:?}", id.greedy);
}

#[test]
fn fingerprints_of_other_probe_sets_are_refused() {
    let reference = fingerprint(REFERENCE, 0);
    let mut other = fingerprint(REFERENCE, 1);
    other.probe_set = "fp-2".into();
    let err = identify(&other, &reference, None).expect_err("different probe sets");
    assert!(
        err.to_string()
            .contains("candidate fingerprint ran probe set fp-2")
    );
    let err = identify(&reference, &reference, Some([&reference, &other])).expect_err("noise");
    assert!(matches!(
        err,
        IdentifyError::DifferentProbeSets {
            which: "second noise",
            ..
        }
    ));
}

/// The false-alarm rate: the same model, 20 seeded repetitions (each a
/// fresh reference, noise pair and candidate), called different in at
/// most 5% of them (1 of 20).
#[test]
fn same_versus_same_false_alarms_stay_under_five_percent() {
    let alarms = (0..20)
        .filter(|&seed| identify_model(REFERENCE, seed + 100).decision != Decision::SameModel)
        .count();
    println!("same vs same, synthetic jitter of 0.005 nats: {alarms} false alarms in 20");
    assert!(alarms <= 1, "{alarms} of 20");
}
