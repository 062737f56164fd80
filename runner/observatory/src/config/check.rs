//! What the schema cannot say: unique names, probes that exist, filters
//! that select cases, usable URLs and profiles, a model for every target.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use tokencert_core::suite::{LineMap, Problem, Suite, load_profile};
use tokencert_drive::{Remote, RemoteError, prepare_remote};

use super::{
    Config, DEFAULT_TIMEOUT, FingerprintProbe, ProbeConfig, RawConfig, RawProbe, RawTarget,
    TargetConfig, percent, seconds, time_of_day,
};
use crate::schedule::Schedule;

/// Problems of one file, each at the line of its field.
struct Found<'a> {
    file: &'a Path,
    lines: &'a LineMap,
    problems: Vec<Problem>,
}

impl Found<'_> {
    fn at(&mut self, field: String, message: String) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line: self.lines.line_of(&field),
            field: Some(field),
            message,
        });
    }
}

/// The checked config, or every problem found.
pub(super) fn resolve(
    file: &Path,
    raw: RawConfig,
    lines: &LineMap,
    suite: &Suite,
) -> Result<Config, Vec<Problem>> {
    let mut found = Found {
        file,
        lines,
        problems: Vec::new(),
    };
    // Names first, from the file as written: a probe with a problem of its
    // own is still the probe a target names.
    unique(
        raw.probes.iter().map(|p| p.name.as_str()),
        "probes",
        "probe",
        &mut found,
    );
    unique(
        raw.targets.iter().map(|t| t.name.as_str()),
        "targets",
        "target",
        &mut found,
    );
    let by_name: BTreeMap<String, usize> = raw
        .probes
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.clone(), i))
        .collect();
    let probes: Vec<Option<ProbeConfig>> = raw
        .probes
        .into_iter()
        .enumerate()
        .map(|(i, p)| probe(i, p, suite, &mut found))
        .collect();
    let dir = file.parent().unwrap_or(Path::new(""));
    let targets: Vec<Option<TargetConfig>> = raw
        .targets
        .into_iter()
        .enumerate()
        .map(|(i, t)| target(i, t, dir, &by_name, &mut found))
        .collect();
    let mut endpoints = BTreeSet::new();
    for (i, t) in targets.iter().enumerate() {
        let Some(t) = t else { continue };
        let model = t
            .model
            .clone()
            .or_else(|| t.profile.as_ref().and_then(|p| p.model.clone()));
        if !endpoints.insert((t.base_url.clone(), model.clone())) {
            found.at(
                format!("/targets/{i}/base_url"),
                format!(
                    "another target already probes {} with model {}: the ledger could not tell their runs apart; keep one",
                    t.base_url,
                    model.unwrap_or_default()
                ),
            );
        }
    }
    if !found.problems.is_empty() {
        return Err(found.problems);
    }
    Ok(Config {
        file: file.to_path_buf(),
        observer: raw.observer,
        location: raw.location,
        seed: raw.seed,
        // Every one is there: a missing one left a problem.
        targets: targets.into_iter().flatten().collect(),
        probes: probes.into_iter().flatten().collect(),
    })
}

/// A second use of a name is a problem at its `name` field.
fn unique<'a>(names: impl Iterator<Item = &'a str>, list: &str, what: &str, found: &mut Found) {
    let mut seen = BTreeSet::new();
    for (i, name) in names.enumerate() {
        if !seen.insert(name) {
            found.at(
                format!("/{list}/{i}/name"),
                format!("a second {what} is named {name:?}; names must be unique"),
            );
        }
    }
}

fn probe(i: usize, raw: RawProbe, suite: &Suite, found: &mut Found) -> Option<ProbeConfig> {
    let before = found.problems.len();
    if raw.fingerprint && suite.probe_set.is_none() {
        found.at(
            format!("/probes/{i}/fingerprint"),
            format!(
                "the suite at {} has no fingerprint probe set ({})",
                suite.root.display(),
                tokencert_core::fingerprint::probes::PROBES_FILE
            ),
        );
    }
    for (j, filter) in raw.cases.iter().enumerate() {
        if !suite.cases.iter().any(|c| c.id.contains(filter.as_str())) {
            found.at(
                format!("/probes/{i}/cases/{j}"),
                format!(
                    "no case id contains {filter:?}; `tokencert list` shows the ids of the suite at {}",
                    suite.root.display()
                ),
            );
        }
    }
    let schedule = match (&raw.every, &raw.at) {
        (Some(every), None) => {
            let interval = seconds(every);
            let jitter = raw.jitter.as_deref().map_or(Some(0), percent);
            match (interval, jitter) {
                (Some(interval), Some(jitter_percent)) => Some(Schedule::Every {
                    interval,
                    jitter_percent,
                }),
                (None, _) => {
                    found.at(
                        format!("/probes/{i}/every"),
                        format!("{every:?} is not a duration such as 15m"),
                    );
                    None
                }
                (_, None) => {
                    found.at(
                        format!("/probes/{i}/jitter"),
                        "jitter is a percentage from 0% to 50%".into(),
                    );
                    None
                }
            }
        }
        (None, Some(at)) => {
            let mut times = Vec::new();
            for (j, text) in at.iter().enumerate() {
                match time_of_day(text) {
                    Some(t) => times.push(t),
                    None => found.at(
                        format!("/probes/{i}/at/{j}"),
                        format!("{text:?} is not a UTC time of day HH:MM"),
                    ),
                }
            }
            times.sort_unstable();
            times.dedup();
            Some(Schedule::At { times })
        }
        _ => {
            found.at(
                format!("/probes/{i}"),
                "a probe needs exactly one of `every` and `at`".into(),
            );
            None
        }
    };
    if found.problems.len() > before {
        return None;
    }
    Some(ProbeConfig {
        name: raw.name,
        cases: raw.cases,
        fingerprint: raw.fingerprint.then_some(FingerprintProbe {
            logprobs: raw.logprobs,
        }),
        schedule: schedule?,
    })
}

fn target(
    i: usize,
    raw: RawTarget,
    dir: &Path,
    probes: &BTreeMap<String, usize>,
    found: &mut Found,
) -> Option<TargetConfig> {
    let before = found.problems.len();
    let profile = raw.profile.as_ref().and_then(|rel| {
        load_profile(&dir.join(rel))
            .map_err(|p| {
                found.at(
                    format!("/targets/{i}/profile"),
                    format!("the target profile cannot be used: {p}"),
                )
            })
            .ok()
    });
    let timeout = match &raw.timeout {
        None => Some(DEFAULT_TIMEOUT),
        Some(text) => seconds(text).map(std::time::Duration::from_secs),
    };
    if timeout.is_none() {
        found.at(
            format!("/targets/{i}/timeout"),
            "the timeout is a duration such as 30s".into(),
        );
    }
    let selected: Vec<usize> = match &raw.probes {
        None => probes.values().copied().collect(),
        Some(names) => names
            .iter()
            .enumerate()
            .filter_map(|(j, name)| {
                let index = probes.get(name).copied();
                if index.is_none() {
                    found.at(
                        format!("/targets/{i}/probes/{j}"),
                        format!("no probe is named {name:?}"),
                    );
                }
                index
            })
            .collect(),
    };
    if raw.profile.is_none() || profile.is_some() {
        // Everything `tokencert run` would refuse, refused now rather than at the first probe.
        let checked = prepare_remote(Remote {
            base_url: raw.base_url.clone(),
            model: raw.model.clone(),
            api_key: None,
            profile: profile.clone(),
            allow_insecure_http: raw.allow_insecure_http,
        });
        if let Err(e) = checked {
            let (field, message) = match &e {
                RemoteError::NoModel(_) => (
                    "model",
                    "no model to probe: give `model`, or a `profile` that names one".to_string(),
                ),
                RemoteError::InsecureHttp(url) => (
                    "base_url",
                    format!(
                        "{url} is plain http:// to a host that is not this machine: the key and every exchange would cross the network unencrypted; use https://, or set `allow_insecure_http: true` if that is really intended"
                    ),
                ),
                RemoteError::RateLimit(_) => ("profile", e.to_string()),
                _ => ("base_url", e.to_string()),
            };
            found.at(format!("/targets/{i}/{field}"), message);
        }
    }
    let mut selected = selected;
    selected.sort_unstable();
    (found.problems.len() == before).then(|| TargetConfig {
        name: raw.name,
        base_url: raw.base_url,
        model: raw.model,
        profile,
        api_key_env: raw.api_key_env,
        allow_insecure_http: raw.allow_insecure_http,
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
        probes: selected,
        budget: raw.budget,
    })
}
