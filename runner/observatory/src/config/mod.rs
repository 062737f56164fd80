//! `observatory.yaml`: who observes from where, the targets, the probes and
//! their schedules, and each target's budget. Validated against
//! `spec/schemas/observatory.schema.json`, then checked against the suite
//! and the target profiles; every problem names the file, line and field.

mod check;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tokencert_core::suite::{Problem, Suite, TargetProfile};

use crate::budget::Budget;
use crate::error::Error;
use crate::schedule::Schedule;

/// The schema an observatory config must match, by name in
/// [`Suite::schemas`] (`spec/schemas/observatory.schema.json`).
pub const SCHEMA: &str = "observatory";

/// The per-exchange deadline of a target that sets no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A loaded, checked observatory config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// The observer's name, recorded in every probe's `run.json`.
    pub observer: String,
    /// Where the observer runs, as it labels itself.
    pub location: String,
    /// Seed of the schedules' jitter.
    pub seed: u64,
    /// The targets, in file order.
    pub targets: Vec<TargetConfig>,
    /// The probes, in file order.
    pub probes: Vec<ProbeConfig>,
}

/// One target of the observatory.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    /// Its name in the config.
    pub name: String,
    /// Base URL including the version prefix.
    pub base_url: String,
    /// The model to probe; the profile's when `None`.
    pub model: Option<String>,
    /// The target profile, loaded (relative to the config file).
    pub profile: Option<TargetProfile>,
    /// The NAME of the environment variable holding the key; no key when `None`.
    pub api_key_env: Option<String>,
    /// Plain http:// beyond this machine is allowed.
    pub allow_insecure_http: bool,
    /// Deadline of one exchange.
    pub timeout: Duration,
    /// The probes run against it, as indices into [`Config::probes`].
    pub probes: Vec<usize>,
    /// The most it may be sent per hour and per day.
    pub budget: Budget,
}

/// One probe: an ordinary run of the cases its filters select, or an
/// identity fingerprint of the target's model.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Its name in the config, recorded in `run.json`.
    pub name: String,
    /// Case filters: a case runs when its id contains one of them (empty
    /// for a fingerprint probe).
    pub cases: Vec<String>,
    /// `Some` for a fingerprint probe (`fingerprint: true`): it sends the
    /// suite's probe set as `tokencert fingerprint` does, not cases.
    pub fingerprint: Option<FingerprintProbe>,
    /// When it runs.
    pub schedule: Schedule,
}

/// How a fingerprint probe asks for its probe set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FingerprintProbe {
    /// The probe's `logprobs`: `Some(false)` turns log-probabilities off;
    /// `None` asks for them unless the target's profile does not claim
    /// `logprobs` (as `tokencert fingerprint` decides).
    pub logprobs: Option<bool>,
}

impl FingerprintProbe {
    /// Whether generation probes ask `target` for log-probabilities.
    pub fn logprobs_for(&self, target: &TargetConfig) -> bool {
        self.logprobs.unwrap_or_else(|| {
            target.profile.as_ref().is_none_or(|p| {
                p.claims
                    .contains(&tokencert_core::suite::Capability::Logprobs)
            })
        })
    }
}

impl ProbeConfig {
    /// The suite's cases its filters select, in suite order (none for a
    /// fingerprint probe).
    pub fn select<'s>(&self, suite: &'s Suite) -> Vec<&'s tokencert_core::suite::Case> {
        if self.fingerprint.is_some() {
            return Vec::new();
        }
        suite
            .cases
            .iter()
            .filter(|c| self.cases.iter().any(|f| c.id.contains(f.as_str())))
            .collect()
    }
}

/// The file as the schema describes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    observer: String,
    location: String,
    #[serde(default)]
    seed: u64,
    targets: Vec<RawTarget>,
    probes: Vec<RawProbe>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: String,
    base_url: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    api_key_env: Option<String>,
    #[serde(default)]
    allow_insecure_http: bool,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    probes: Option<Vec<String>>,
    budget: Budget,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    name: String,
    #[serde(default)]
    cases: Vec<String>,
    #[serde(default)]
    fingerprint: bool,
    #[serde(default)]
    logprobs: Option<bool>,
    #[serde(default)]
    every: Option<String>,
    #[serde(default)]
    jitter: Option<String>,
    #[serde(default)]
    at: Option<Vec<String>>,
}

/// Loads and checks the config at `path` against `suite` (its schema and
/// cases): the schema, then unique names, known probes, case filters that
/// select something, usable URLs, loadable profiles and a model for every
/// target. Profiles are read relative to the config's directory.
///
/// # Errors
///
/// [`Error::Config`] listing every problem found, each with the file, line
/// and field.
pub fn load(path: &Path, suite: &Suite) -> Result<Config, Error> {
    let invalid = |problems| Error::Config {
        file: path.to_path_buf(),
        problems,
    };
    let schema = suite.schemas.get(SCHEMA).ok_or_else(|| {
        invalid(vec![Problem {
            file: PathBuf::from("spec/schemas/observatory.schema.json"),
            line: None,
            field: None,
            message: format!(
                "missing from the suite at {}: the config cannot be checked",
                suite.root.display()
            ),
        }])
    })?;
    let (value, lines) =
        tokencert_core::suite::load_yaml_with_schema(path, schema).map_err(invalid)?;
    let raw: RawConfig = serde_json::from_value(value).map_err(|e| {
        invalid(vec![Problem {
            file: path.to_path_buf(),
            line: None,
            field: None,
            message: format!("does not match the observatory model: {e}"),
        }])
    })?;
    check::resolve(path, raw, &lines, suite).map_err(invalid)
}

/// Seconds in a duration the schema accepts (`15m`, `1h`, `30s`, `2d`).
fn seconds(text: &str) -> Option<u64> {
    let unit = match text.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let number: u64 = text[..text.len() - 1].parse().ok()?;
    number.checked_mul(unit).filter(|s| *s > 0)
}

/// Seconds after UTC midnight of an `HH:MM` the schema accepts.
fn time_of_day(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 3600 + m * 60)
}

/// The percentage in a jitter the schema accepts (`20%`).
fn percent(text: &str) -> Option<u8> {
    text.strip_suffix('%')?.parse().ok().filter(|p| *p <= 50)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_times_and_percentages_read_as_the_schema_writes_them() {
        assert_eq!(seconds("30s"), Some(30));
        assert_eq!(seconds("15m"), Some(900));
        assert_eq!(seconds("2h"), Some(7200));
        assert_eq!(seconds("1d"), Some(86_400));
        assert_eq!(seconds("0m"), None);
        assert_eq!(seconds("15"), None);
        assert_eq!(time_of_day("00:00"), Some(0));
        assert_eq!(time_of_day("02:10"), Some(7800));
        assert_eq!(time_of_day("23:59"), Some(86_340));
        assert_eq!(time_of_day("24:00"), None);
        assert_eq!(percent("20%"), Some(20));
        assert_eq!(percent("0%"), Some(0));
        assert_eq!(percent("51%"), None);
    }
}
