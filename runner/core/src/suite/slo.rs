//! SLO profiles (`spec/slo/*.yaml`): the service classes performance cases
//! are judged against.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::{Check, LineMap, Problem, parse_yaml, problem, read_file, yaml_problem};
use crate::metrics::{Slo, WindowSpec};

/// Directory of the SLO profiles, relative to the suite root.
pub const SLO_DIR: &str = "spec/slo";
/// The schema every profile must match (`spec/schemas/slo-profile.schema.json`).
pub(super) const SLO_SCHEMA: &str = "slo-profile";

/// A service class: per-request objectives (for goodput) and the
/// thresholds its performance cases must meet.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloProfile {
    /// The class name, equal to the file name without `.yaml`.
    pub name: String,
    /// What kind of use the class stands for.
    pub description: String,
    /// The steady-state window.
    pub window: Window,
    /// What one request must achieve to count towards goodput.
    pub objectives: Objectives,
    /// What the case's `slo_*` checks compare.
    pub thresholds: Thresholds,
}

/// The parts of a run left out of the steady-state window, in percent of
/// its span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Left out at the start.
    pub warmup_percent: u32,
    /// Left out at the end.
    pub cooldown_percent: u32,
}

/// Per-request objectives in milliseconds; an absent one is not checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objectives {
    /// TTFT at most this.
    #[serde(default)]
    pub ttft_ms: Option<u64>,
    /// TPOT at most this.
    #[serde(default)]
    pub tpot_ms: Option<u64>,
    /// E2E at most this.
    #[serde(default)]
    pub e2e_ms: Option<u64>,
}

/// The thresholds of a class; a case may check only those present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// A percentile of TTFT from the scheduled send time, at most.
    #[serde(default)]
    pub ttft: Option<LatencyThreshold>,
    /// A percentile of token-level inter-token latency, at most.
    #[serde(default)]
    pub itl: Option<LatencyThreshold>,
    /// The median per-request output speed, at least.
    #[serde(default)]
    pub output_speed: Option<SpeedThreshold>,
    /// The share of requests that are not `ok`, at most.
    #[serde(default)]
    pub error_rate: Option<MaxShare>,
    /// The share of window requests meeting every objective, at least.
    #[serde(default)]
    pub goodput: Option<MinShare>,
}

/// A latency percentile bound.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyThreshold {
    /// `p50` … `p99.9`.
    pub percentile: String,
    /// The bound, milliseconds.
    pub max_ms: u64,
}

/// An output speed bound.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeedThreshold {
    /// Always `p50`.
    pub percentile: String,
    /// The bound, tokens per second.
    pub min_tokens_per_s: u64,
}

/// An upper bound on a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxShare {
    /// The bound, in parts per million (written in percent).
    #[serde(rename = "max_percent", deserialize_with = "percent_as_ppm")]
    pub max_ppm: u64,
}

/// A lower bound on a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinShare {
    /// The bound, in parts per million (written in percent).
    #[serde(rename = "min_percent", deserialize_with = "percent_as_ppm")]
    pub min_ppm: u64,
}

/// A percentage with at most four decimals (the schema says so) as an
/// exact integer number of parts per million.
fn percent_as_ppm<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let percent = f64::deserialize(d)?;
    if !(0.0..=100.0).contains(&percent) {
        return Err(serde::de::Error::custom(format!(
            "{percent} is not a percentage in 0..=100"
        )));
    }
    // In range and at most four decimals, so the product rounds exactly.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((percent * 10_000.0).round() as u64)
}

const NS_PER_MS: u64 = 1_000_000;

impl Thresholds {
    /// Whether the threshold a performance check compares is set.
    pub fn has(&self, check: &Check) -> bool {
        match check {
            Check::SloTtft => self.ttft.is_some(),
            Check::SloOutputSpeed => self.output_speed.is_some(),
            Check::SloItl => self.itl.is_some(),
            Check::SloErrorRate => self.error_rate.is_some(),
            Check::SloGoodput => self.goodput.is_some(),
            _ => false,
        }
    }
}

impl SloProfile {
    /// The per-request objectives, in the metrics' units.
    pub fn slo(&self) -> Slo {
        let ns = |ms: Option<u64>| ms.map(|ms| ms.saturating_mul(NS_PER_MS));
        Slo {
            ttft_ns_max: ns(self.objectives.ttft_ms),
            tpot_ns_max: ns(self.objectives.tpot_ms),
            e2e_ns_max: ns(self.objectives.e2e_ms),
        }
    }

    /// The steady-state window, in the metrics' units.
    pub fn window_spec(&self) -> WindowSpec {
        WindowSpec {
            warmup_per_mille: self.window.warmup_percent * 10,
            cooldown_per_mille: self.window.cooldown_percent * 10,
        }
    }
}

/// Loads every profile under [`SLO_DIR`], validated against `schema`,
/// collecting problems; a missing directory is no profile.
pub(super) fn load_profiles(
    root: &Path,
    schema: Option<&jsonschema::Validator>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, SloProfile> {
    let mut profiles = BTreeMap::new();
    let dir = Path::new(SLO_DIR);
    let entries = match std::fs::read_dir(root.join(dir)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return profiles,
        Err(e) => {
            problems.push(problem(dir, format!("cannot list directory: {e}")));
            return profiles;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| dir.join(e.file_name()))
        .filter(|rel| rel.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let Some(schema) = schema else {
        if !files.is_empty() {
            problems.push(problem(
                Path::new("spec/schemas/slo-profile.schema.json"),
                "the SLO profile schema is missing; no profile can be validated",
            ));
        }
        return profiles;
    };
    for rel in files {
        if let Some(profile) = load_profile(root, &rel, schema, problems) {
            profiles.insert(profile.name.clone(), profile);
        }
    }
    profiles
}

fn load_profile(
    root: &Path,
    rel: &Path,
    schema: &jsonschema::Validator,
    problems: &mut Vec<Problem>,
) -> Option<SloProfile> {
    let text = read_file(root, rel).map_err(|p| problems.push(p)).ok()?;
    let value: serde_json::Value = parse_yaml(&text)
        .map_err(|e| problems.push(yaml_problem(rel, &e)))
        .ok()?;
    let lines = LineMap::new(&text);
    let before = problems.len();
    for error in schema.iter_errors(&value) {
        let field = error.instance_path().as_str().to_string();
        problems.push(Problem {
            line: lines.line_of(&field),
            field: Some(field),
            ..problem(rel, error.to_string())
        });
    }
    if problems.len() > before {
        return None;
    }
    let profile: SloProfile = serde_json::from_value(value)
        .map_err(|e| {
            problems.push(problem(
                rel,
                format!("does not match the profile model: {e}"),
            ))
        })
        .ok()?;
    let stem = rel.file_stem().map(|s| s.to_string_lossy().into_owned());
    if stem.as_deref() != Some(profile.name.as_str()) {
        problems.push(Problem {
            line: lines.line_of("/name"),
            field: Some("/name".into()),
            ..problem(
                rel,
                format!(
                    "name {:?} must equal the file name without .yaml",
                    profile.name
                ),
            )
        });
        return None;
    }
    Some(profile)
}
