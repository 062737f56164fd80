//! A model's identity fingerprint: what a fingerprint bundle's evidence
//! says about the model served under a name.
//!
//! `tokencert fingerprint` sends the fixed, versioned probe set of
//! `suites/fingerprint/` (short prompts at temperature 0 with a seed,
//! tokenizer probes, exactly checkable tasks) and records the exchanges in
//! an ordinary signed bundle. A [`Fingerprint`] is a pure function of that
//! evidence (re-derived by `verify`); `tokencert identify` compares two.
//!
//! Log-probabilities are held as `f64` in memory but written as integer
//! micro-nats (`logprob × 10⁶`, rounded half away from zero), because
//! canonical files hold integers only: a fingerprint read back from its
//! canonical JSON equals the one written to within 5·10⁻⁷ nats.

mod derive;
pub mod probes;
mod verify;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use derive::{Evidence, derive};
pub use probes::ProbeSet;
pub use verify::verify_across_suites;

use crate::bundle::{BundleError, evidence_path, read_run};
use crate::evidence::read_exchanges;
use crate::suite::Suite;

/// The fingerprint a fingerprint bundle holds, canonical JSON; its absence
/// makes a bundle an ordinary run.
pub const FILE: &str = "fingerprint.json";

/// Derives the fingerprint of a bundle from its evidence, with the probe
/// set of `suite` and the model its `run.json` names.
///
/// # Errors
///
/// [`BundleError::NoProbeSet`] when the suite has no probe set, and the
/// errors of reading `run.json`.
pub fn of_bundle(bundle: &Path, suite: &Suite) -> Result<Fingerprint, BundleError> {
    let set = suite.probe_set.as_ref().ok_or(BundleError::NoProbeSet)?;
    let run = read_run(bundle)?;
    Ok(derive(set, &run.target.model, |case| {
        let path = evidence_path(bundle, case);
        path.exists().then(|| read_exchanges(&path))
    }))
}

/// Re-derives a bundle's [`FILE`] and requires it byte-identical to the
/// recorded one; `Ok(None)` for a bundle without one.
///
/// # Errors
///
/// [`BundleError::FingerprintDiffers`] naming the first differing probe,
/// and the errors of [`of_bundle`].
pub fn verify_bundle(bundle: &Path, suite: &Suite) -> Result<Option<Fingerprint>, BundleError> {
    let path = bundle.join(FILE);
    if !path.exists() {
        return Ok(None);
    }
    let derived = of_bundle(bundle, suite)?;
    let expected = crate::canonical::to_vec(&derived)?;
    let recorded = std::fs::read(&path).map_err(|source| BundleError::Io {
        path: path.display().to_string(),
        source,
    })?;
    if recorded != expected {
        return Err(BundleError::FingerprintDiffers(difference(
            &recorded, &derived,
        )));
    }
    Ok(Some(derived))
}

/// Where a recorded fingerprint departs from the re-derived one.
fn difference(recorded: &[u8], derived: &Fingerprint) -> String {
    let Ok(recorded) = serde_json::from_slice::<Fingerprint>(recorded) else {
        return format!("{FILE} is not a fingerprint");
    };
    let probes = recorded
        .generations
        .iter()
        .zip(&derived.generations)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.probe.clone())
        .chain(
            recorded
                .tokenizer_probes
                .iter()
                .zip(&derived.tokenizer_probes)
                .filter(|(a, b)| a != b)
                .map(|(a, _)| a.probe.clone()),
        )
        .chain(
            recorded
                .tasks
                .iter()
                .zip(&derived.tasks)
                .filter(|(a, b)| a != b)
                .map(|(a, _)| a.task.clone()),
        )
        .collect::<Vec<_>>();
    if probes.is_empty() {
        "the recorded fingerprint differs from the evidence (probe set, model or probe count)"
            .into()
    } else {
        format!(
            "the evidence gives other values for probe(s) {}",
            probes.join(", ")
        )
    }
}

/// What a fingerprint bundle's evidence says about the served model (a
/// pure function of the evidence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The probe set's id and version, e.g. `fp-1`.
    pub probe_set: String,
    /// The model name asked for.
    pub model: String,
    /// One per generation probe, in probe-set order.
    pub generations: Vec<Generation>,
    /// One per tokenizer probe, in probe-set order.
    pub tokenizer_probes: Vec<TokenizerProbe>,
    /// One per task probe, in probe-set order.
    pub tasks: Vec<TaskScore>,
}

/// The greedy continuation (temperature 0, seeded) of one generation probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The probe's id.
    pub probe: String,
    /// The tokens generated, in order.
    pub tokens: Vec<GeneratedToken>,
}

/// One generated token, with its log-probability and the top alternatives
/// when the target returned logprobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratedToken {
    /// The token's text.
    pub token: String,
    /// Its natural-log probability; `None` without logprobs.
    #[serde(rename = "logprob_micro", with = "micro_option")]
    pub logprob: Option<f64>,
    /// The top alternatives at this position (token text, natural-log
    /// probability), most probable first as the target listed them; empty
    /// without logprobs.
    #[serde(rename = "top_micro", with = "micro_pairs")]
    pub top: Vec<(String, f64)>,
}

/// The prompt-token count a target billed for one tokenizer probe, and the
/// count each known tokenizer family gives its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenizerProbe {
    /// The probe's id.
    pub probe: String,
    /// `usage.prompt_tokens` as reported; `None` when absent.
    pub prompt_tokens: Option<u64>,
    /// The count each known tokenizer family gives the probe's text (family
    /// name → tokens), computed when the probe set was written. The
    /// chat-template overhead is not included: compare differences between
    /// probes, where it cancels.
    pub expected: BTreeMap<String, u64>,
}

/// The pass/fail score of one exactly checkable task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskScore {
    /// The task probe's id.
    pub task: String,
    /// Whether the answer passed its check.
    pub passed: bool,
    /// Why it passed or failed, for a human reader.
    pub reason: String,
}

/// Micro-nats of a log-probability, rounded half away from zero.
pub fn to_micro(logprob: f64) -> i64 {
    (logprob * 1e6).round() as i64
}

/// The log-probability of a number of micro-nats.
pub fn from_micro(micro: i64) -> f64 {
    micro as f64 / 1e6
}

mod micro_option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_some(&super::to_micro(*v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.map(super::from_micro))
    }
}

mod micro_pairs {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(value.len()))?;
        for (token, logprob) in value {
            seq.serialize_element(&(token, super::to_micro(*logprob)))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
        Ok(Vec::<(String, i64)>::deserialize(d)?
            .into_iter()
            .map(|(token, micro)| (token, super::from_micro(micro)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Fingerprint {
        Fingerprint {
            probe_set: "fp-1".into(),
            model: "m".into(),
            generations: vec![Generation {
                probe: "g1".into(),
                tokens: vec![
                    GeneratedToken {
                        token: "Hello".into(),
                        logprob: Some(-0.125),
                        top: vec![("Hello".into(), -0.125), ("Hi".into(), -2.5)],
                    },
                    GeneratedToken {
                        token: "!".into(),
                        logprob: None,
                        top: vec![],
                    },
                ],
            }],
            tokenizer_probes: vec![TokenizerProbe {
                probe: "t1".into(),
                prompt_tokens: Some(12),
                expected: BTreeMap::from([("o200k_base".into(), 3), ("cl100k_base".into(), 4)]),
            }],
            tasks: vec![TaskScore {
                task: "arith".into(),
                passed: true,
                reason: "42".into(),
            }],
        }
    }

    #[test]
    fn canonical_json_round_trips_with_integer_logprobs() {
        let fp = sample();
        let bytes = crate::canonical::to_vec(&fp).expect("canonical");
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        assert!(text.contains("\"logprob_micro\":-125000"), "{text}");
        assert!(text.contains("[\"Hi\",-2500000]"), "{text}");
        let back: Fingerprint = serde_json::from_slice(&bytes).expect("parses");
        assert_eq!(back, fp);
    }

    #[test]
    fn micro_rounds_half_away_from_zero() {
        assert_eq!(to_micro(-0.0000005), -1);
        assert_eq!(to_micro(-0.00000049), 0);
        assert_eq!(to_micro(-1.2345674), -1_234_567);
    }
}
