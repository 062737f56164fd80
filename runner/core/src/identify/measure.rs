//! What two fingerprints' evidence says side by side, before any test:
//! where their greedy outputs part, how far apart their log-probabilities
//! are while the context is still shared, whether their prompt-token
//! counts move alike from probe to probe, and which tasks only one passes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fingerprint::{Fingerprint, GeneratedToken, TokenizerProbe, to_micro};

/// The difference, in micro-nats, counted for a token of the reference's
/// top list that the other fingerprint does not list at that position:
/// 100 nats, more than any listed difference.
pub const ABSENT_MICRO: u64 = 100_000_000;

/// One generation probe's greedy outputs side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeAgreement {
    /// The probe's id.
    pub probe: String,
    /// Tokens the reference generated.
    pub reference_tokens: u64,
    /// Tokens the other generated.
    pub other_tokens: u64,
    /// Leading tokens both generated alike.
    pub common_prefix: u64,
    /// Both generated the same tokens.
    pub identical: bool,
}

/// The prompt-token counts of two fingerprints' tokenizer probes, each
/// taken relative to the first probe both counted (so a chat template's
/// constant overhead cancels).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountAgreement {
    /// Probes both fingerprints have a count for.
    pub probes: u64,
    /// Whether every probe's count moves alike from the first one's;
    /// `None` with fewer than two such probes.
    pub agree: Option<bool>,
    /// The first probe whose count moves differently, for readers.
    pub first_difference: Option<String>,
}

/// The tasks two fingerprints both scored, as a paired table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPairs {
    /// Passed in both.
    pub both_passed: u64,
    /// Failed in both.
    pub both_failed: u64,
    /// Passed in the reference only.
    pub reference_only: u64,
    /// Passed in the other only.
    pub other_only: u64,
}

impl TaskPairs {
    /// Tasks scored in both.
    pub fn total(&self) -> u64 {
        self.both_passed + self.both_failed + self.reference_only + self.other_only
    }
}

/// Two fingerprints measured side by side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// Each generation probe both have, in the reference's order.
    pub greedy: Vec<ProbeAgreement>,
    /// |other − reference| log-probability, micro-nats, of each token in
    /// the reference's top list at each position of shared context
    /// ([`ABSENT_MICRO`] when the other does not list it), sorted.
    pub differences: Vec<u64>,
    /// How many of [`Pair::differences`] are absent tokens.
    pub absent: u64,
    /// The tokenizer probes' counts.
    pub counts: CountAgreement,
    /// The tasks.
    pub tasks: TaskPairs,
}

impl Pair {
    /// Generation probes whose greedy outputs differ.
    pub fn divergent(&self) -> u64 {
        self.greedy.iter().filter(|p| !p.identical).count() as u64
    }
}

/// Measures `other` against `reference`. Probes are matched by id; a probe
/// only one of them has is left out.
pub fn measure(reference: &Fingerprint, other: &Fingerprint) -> Pair {
    let others: BTreeMap<&str, &[GeneratedToken]> = other
        .generations
        .iter()
        .map(|g| (g.probe.as_str(), g.tokens.as_slice()))
        .collect();
    let mut greedy = Vec::new();
    let mut differences = Vec::new();
    for generation in &reference.generations {
        let Some(theirs) = others.get(generation.probe.as_str()) else {
            continue;
        };
        let ours = generation.tokens.as_slice();
        let common = ours
            .iter()
            .zip(theirs.iter())
            .take_while(|(a, b)| a.token == b.token)
            .count();
        greedy.push(ProbeAgreement {
            probe: generation.probe.clone(),
            reference_tokens: ours.len() as u64,
            other_tokens: theirs.len() as u64,
            common_prefix: common as u64,
            identical: common == ours.len() && common == theirs.len(),
        });
        // The context is shared up to and including the first position
        // where the greedy tokens part.
        let shared = (common + 1).min(ours.len()).min(theirs.len());
        for (a, b) in ours.iter().zip(theirs.iter()).take(shared) {
            position_differences(a, b, &mut differences);
        }
    }
    differences.sort_unstable();
    let absent = differences.iter().filter(|&&d| d == ABSENT_MICRO).count() as u64;
    Pair {
        greedy,
        differences,
        absent,
        counts: count_agreement(&reference.tokenizer_probes, &other.tokenizer_probes),
        tasks: task_pairs(reference, other),
    }
}

/// The listed tokens of one position: the top list, and the generated
/// token with its own log-probability when the list omits it.
fn listed(t: &GeneratedToken) -> Vec<(&str, i64)> {
    let mut out: Vec<(&str, i64)> = t
        .top
        .iter()
        .map(|(token, lp)| (token.as_str(), to_micro(*lp)))
        .collect();
    if let Some(lp) = t.logprob
        && !out.iter().any(|(token, _)| *token == t.token)
    {
        out.push((t.token.as_str(), to_micro(lp)));
    }
    out
}

/// The differences at one position; none unless both listed log-probabilities.
fn position_differences(reference: &GeneratedToken, other: &GeneratedToken, out: &mut Vec<u64>) {
    let ours = listed(reference);
    let theirs = listed(other);
    if ours.is_empty() || theirs.is_empty() {
        return;
    }
    for (token, lp) in ours {
        let d = theirs
            .iter()
            .find(|(t, _)| *t == token)
            .map_or(ABSENT_MICRO, |(_, l)| l.abs_diff(lp).min(ABSENT_MICRO));
        out.push(d);
    }
}

/// Whether two fingerprints' counts move alike from probe to probe.
fn count_agreement(reference: &[TokenizerProbe], other: &[TokenizerProbe]) -> CountAgreement {
    let theirs: BTreeMap<&str, u64> = other
        .iter()
        .filter_map(|p| Some((p.probe.as_str(), p.prompt_tokens?)))
        .collect();
    let both: Vec<(&str, i128, i128)> = reference
        .iter()
        .filter_map(|p| {
            let ours = p.prompt_tokens?;
            let theirs = theirs.get(p.probe.as_str())?;
            Some((p.probe.as_str(), i128::from(ours), i128::from(*theirs)))
        })
        .collect();
    let mut out = CountAgreement {
        probes: both.len() as u64,
        agree: None,
        first_difference: None,
    };
    let Some(&(first, ours0, theirs0)) = both.first() else {
        return out;
    };
    if both.len() < 2 {
        return out;
    }
    out.agree = Some(true);
    for &(probe, ours, theirs) in &both[1..] {
        let (a, b) = (ours - ours0, theirs - theirs0);
        if a != b {
            out.agree = Some(false);
            out.first_difference = Some(format!(
                "{probe}: {b:+} tokens from {first} in the other, {a:+} in the reference"
            ));
            break;
        }
    }
    out
}

fn task_pairs(reference: &Fingerprint, other: &Fingerprint) -> TaskPairs {
    let theirs: BTreeMap<&str, bool> = other
        .tasks
        .iter()
        .map(|t| (t.task.as_str(), t.passed))
        .collect();
    let mut out = TaskPairs::default();
    for task in &reference.tasks {
        match (task.passed, theirs.get(task.task.as_str())) {
            (true, Some(true)) => out.both_passed += 1,
            (false, Some(false)) => out.both_failed += 1,
            (true, Some(false)) => out.reference_only += 1,
            (false, Some(true)) => out.other_only += 1,
            (_, None) => {}
        }
    }
    out
}

/// A known tokenizer family whose counts fit a fingerprint's: every probe
/// counted is that family's count plus one constant overhead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyFit {
    /// The family's name, as the probe set names it (`o200k_base`, …).
    pub family: String,
    /// The constant the target adds to every probe (its chat template).
    pub overhead: i64,
}

/// What one fingerprint's tokenizer probes imply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenizerReading {
    /// Probes with a prompt-token count.
    pub probes: u64,
    /// The known families that fit; empty with fewer than two counts (one
    /// count fits every family).
    pub fits: Vec<FamilyFit>,
    /// For readers: the family, `one of …`, `none of the known families`,
    /// or `not measured`.
    pub implied: String,
}

/// The tokenizer family a fingerprint's counts imply.
pub fn tokenizer_reading(fingerprint: &Fingerprint) -> TokenizerReading {
    let counted: Vec<&TokenizerProbe> = fingerprint
        .tokenizer_probes
        .iter()
        .filter(|p| p.prompt_tokens.is_some())
        .collect();
    let families: Vec<&String> = counted
        .first()
        .map(|p| p.expected.keys().collect())
        .unwrap_or_default();
    let mut fits = Vec::new();
    if counted.len() >= 2 {
        for family in families {
            let overheads: Option<Vec<i64>> = counted
                .iter()
                .map(|p| {
                    let expected = i64::try_from(*p.expected.get(family)?).ok()?;
                    let billed = i64::try_from(p.prompt_tokens?).ok()?;
                    Some(billed - expected)
                })
                .collect();
            if let Some(o) = overheads
                && let Some(&first) = o.first()
                && o.iter().all(|&x| x == first)
            {
                fits.push(FamilyFit {
                    family: family.clone(),
                    overhead: first,
                });
            }
        }
    }
    let implied = match (counted.len(), fits.as_slice()) {
        (0 | 1, _) => "not measured".to_string(),
        (_, []) => "none of the known families".to_string(),
        (_, [one]) => one.family.clone(),
        (_, many) => format!(
            "one of {}",
            many.iter()
                .map(|f| f.family.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    TokenizerReading {
        probes: counted.len() as u64,
        fits,
        implied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::{Generation, TaskScore};

    fn token(text: &str, top: &[(&str, f64)]) -> GeneratedToken {
        GeneratedToken {
            token: text.into(),
            logprob: top.first().map(|t| t.1),
            top: top.iter().map(|(t, l)| ((*t).into(), *l)).collect(),
        }
    }

    fn fingerprint(tokens: Vec<GeneratedToken>, counts: &[(u64, u64, u64)]) -> Fingerprint {
        Fingerprint {
            probe_set: "fp-test".into(),
            model: "m".into(),
            generations: vec![Generation {
                probe: "g".into(),
                tokens,
            }],
            tokenizer_probes: counts
                .iter()
                .enumerate()
                .map(|(i, &(billed, o200k, gemma))| TokenizerProbe {
                    probe: format!("t{i}"),
                    prompt_tokens: Some(billed),
                    expected: BTreeMap::from([
                        ("o200k_base".into(), o200k),
                        ("gemma-3".into(), gemma),
                    ]),
                })
                .collect(),
            tasks: vec![],
        }
    }

    #[test]
    fn differences_stop_after_the_first_divergence() {
        let r = fingerprint(
            vec![
                token("a", &[("a", -0.1), ("b", -2.0)]),
                token("b", &[("b", -0.2), ("c", -2.0)]),
                token("c", &[("c", -0.3)]),
            ],
            &[],
        );
        let o = fingerprint(
            vec![
                token("a", &[("a", -0.15), ("b", -2.0)]),
                token("c", &[("c", -0.1), ("x", -3.0)]),
                token("d", &[("d", -0.3)]),
            ],
            &[],
        );
        let pair = measure(&r, &o);
        assert_eq!(pair.greedy[0].common_prefix, 1);
        assert!(!pair.greedy[0].identical);
        // Position 0: a 0.05, b 0; position 1: b absent, c 1.9; position 2 not compared.
        assert_eq!(pair.differences, [0, 50_000, 1_900_000, ABSENT_MICRO]);
        assert_eq!(pair.absent, 1);
        assert_eq!(pair.divergent(), 1);
        let same = measure(&r, &r);
        assert!(same.greedy[0].identical && same.differences.iter().all(|&d| d == 0));
        assert_eq!(same.differences.len(), 5);
    }

    #[test]
    fn counts_are_compared_by_their_steps_between_probes() {
        // The reference: o200k with an overhead of 7; the other gemma with 9.
        let r = fingerprint(vec![], &[(10, 3, 5), (17, 10, 8), (27, 20, 12)]);
        let o = fingerprint(vec![], &[(14, 3, 5), (17, 10, 8), (21, 20, 12)]);
        let pair = measure(&r, &o);
        assert_eq!(pair.counts.probes, 3);
        assert_eq!(pair.counts.agree, Some(false));
        assert_eq!(
            pair.counts.first_difference.as_deref(),
            Some("t1: +3 tokens from t0 in the other, +7 in the reference")
        );
        // Another overhead, the same steps: agree.
        let shifted = fingerprint(vec![], &[(30, 3, 5), (37, 10, 8), (47, 20, 12)]);
        assert_eq!(measure(&r, &shifted).counts.agree, Some(true));
        assert_eq!(measure(&r, &fingerprint(vec![], &[])).counts.agree, None);
        let reading = tokenizer_reading(&r);
        assert_eq!(reading.implied, "o200k_base");
        assert_eq!(reading.fits[0].overhead, 7);
        assert_eq!(tokenizer_reading(&o).implied, "gemma-3");
        let neither = fingerprint(vec![], &[(10, 3, 5), (11, 10, 8)]);
        assert_eq!(
            tokenizer_reading(&neither).implied,
            "none of the known families"
        );
        let one = fingerprint(vec![], &[(10, 3, 5)]);
        assert_eq!(tokenizer_reading(&one).implied, "not measured");
        let both = fingerprint(vec![], &[(10, 3, 3), (11, 4, 4)]);
        assert_eq!(
            tokenizer_reading(&both).implied,
            "one of gemma-3, o200k_base"
        );
    }

    #[test]
    fn tasks_are_paired_by_id() {
        let task = |id: &str, passed| TaskScore {
            task: id.into(),
            passed,
            reason: String::new(),
        };
        let mut r = fingerprint(vec![], &[]);
        r.tasks = vec![
            task("a", true),
            task("b", true),
            task("c", false),
            task("d", true),
        ];
        let mut o = fingerprint(vec![], &[]);
        o.tasks = vec![
            task("b", false),
            task("a", true),
            task("c", true),
            task("e", true),
        ];
        let t = measure(&r, &o).tasks;
        assert_eq!(
            t,
            TaskPairs {
                both_passed: 1,
                both_failed: 0,
                reference_only: 1,
                other_only: 1
            }
        );
        assert_eq!(t.total(), 3);
    }
}
