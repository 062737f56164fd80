//! Identity over time: each fingerprint bundle (one with a
//! `fingerprint.json`) identified against its target's baseline.
//!
//! A target's baseline is the earliest fingerprint bundle in the ledger of
//! the same target URL, model and probe set (by start, then id); its noise
//! floor is the first two of them, once there are two. Every fingerprint
//! bundle of the group, the baseline included, is identified against the
//! baseline with [`tokencert_core::identify::identify`]: a pure function of
//! the group's `fingerprint.json` files (verified when they were added,
//! and kept when evidence is pruned), so `rebuild` gives the same rows.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use tokencert_core::bundle::{self, BundleError};
use tokencert_core::fingerprint::{self, Fingerprint};
use tokencert_core::identify::{self, Decision, Identification};

use crate::error::LedgerError;
use crate::rows::BundleRow;

/// A row of `identity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)] // the columns are documented in schema.sql
pub struct IdentityRow {
    pub bundle: String,
    pub target_url: String,
    pub model: String,
    pub probe_set: String,
    pub started_unix: i64,
    pub baseline: String,
    pub noise_a: Option<String>,
    pub noise_b: Option<String>,
    pub decision: String,
    pub greedy_compared: i64,
    pub greedy_divergent: i64,
    pub logprob_differences: i64,
    pub logprob_median_micro: Option<i64>,
    pub noise_median_micro: Option<i64>,
    pub tokenizer_implied: String,
    pub baseline_tokenizer_implied: String,
    pub tokenizer_finding: String,
    pub tasks_passed: i64,
    pub tasks_total: i64,
    pub reasons: String,
}

/// A fingerprint bundle as its group sees it.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its `bundle` row's id, start, target and model.
    pub id: String,
    /// Its start, Unix seconds.
    pub started_unix: i64,
    /// The target's base URL.
    pub target_url: String,
    /// The model.
    pub model: String,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
}

impl Member {
    /// The member of the bundle in `dir` whose row is `row`; `None` for an
    /// ordinary run (no `fingerprint.json`).
    ///
    /// # Errors
    ///
    /// When `fingerprint.json` cannot be read or parsed.
    pub fn of_bundle(dir: &Path, row: &BundleRow) -> Result<Option<Member>, BundleError> {
        Ok(read_fingerprint(dir)?.map(|fingerprint| Member {
            id: row.id.clone(),
            started_unix: row.started_unix,
            target_url: row.target_url.clone(),
            model: row.model.clone(),
            fingerprint,
        }))
    }

    /// The group it is identified in.
    pub fn group(&self) -> (String, String, String) {
        (
            self.target_url.clone(),
            self.model.clone(),
            self.fingerprint.probe_set.clone(),
        )
    }

    fn order(&self) -> (i64, &str) {
        (self.started_unix, &self.id)
    }
}

/// A bundle's `fingerprint.json`, as written (verified when the bundle was
/// added); `None` when it has none.
///
/// # Errors
///
/// When the file cannot be read, is too large or is not a fingerprint.
pub fn read_fingerprint(dir: &Path) -> Result<Option<Fingerprint>, BundleError> {
    let Some(bytes) = bundle::read_optional_file(dir, fingerprint::FILE)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| BundleError::Malformed {
            path: fingerprint::FILE.into(),
            what: "fingerprint",
            message: e.to_string(),
        })
}

/// The rows of every member of one group (any order; they are sorted by
/// start, then id): each identified against the first, with the first two
/// as the noise floor when there are two.
///
/// # Errors
///
/// [`LedgerError::Identify`] when members ran different probe sets (a
/// group has one).
pub fn identify_group(members: &mut [Member]) -> Result<Vec<IdentityRow>, LedgerError> {
    members.sort_by(|a, b| a.order().cmp(&b.order()));
    let Some(baseline) = members.first() else {
        return Ok(Vec::new());
    };
    let noise = members.get(1).map(|second| [baseline, second]);
    members
        .iter()
        .map(|m| identify_member(m, baseline, noise))
        .collect()
}

/// One member's row against `baseline` and `noise`.
///
/// # Errors
///
/// [`LedgerError::Identify`] when their probe sets differ.
pub fn identify_member(
    member: &Member,
    baseline: &Member,
    noise: Option<[&Member; 2]>,
) -> Result<IdentityRow, LedgerError> {
    let found = identify::identify(
        &member.fingerprint,
        &baseline.fingerprint,
        noise.map(|[a, b]| [&a.fingerprint, &b.fingerprint]),
    )?;
    Ok(row(member, baseline, noise, &found))
}

fn row(
    member: &Member,
    baseline: &Member,
    noise: Option<[&Member; 2]>,
    found: &Identification,
) -> IdentityRow {
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    IdentityRow {
        bundle: member.id.clone(),
        target_url: member.target_url.clone(),
        model: member.model.clone(),
        probe_set: member.fingerprint.probe_set.clone(),
        started_unix: member.started_unix,
        baseline: baseline.id.clone(),
        noise_a: noise.map(|[a, _]| a.id.clone()),
        noise_b: noise.map(|[_, b]| b.id.clone()),
        decision: decision_key(found.decision).into(),
        greedy_compared: int(found.greedy.compared),
        greedy_divergent: int(found.greedy.divergent),
        logprob_differences: int(found.logprobs.differences),
        logprob_median_micro: found.logprobs.median_micro.map(int),
        noise_median_micro: found.noise.median_micro.map(int),
        tokenizer_implied: found.tokenizer.candidate.implied.clone(),
        baseline_tokenizer_implied: found.tokenizer.reference.implied.clone(),
        tokenizer_finding: found.tokenizer.finding.name().into(),
        tasks_passed: int(found.tasks.candidate.passed),
        tasks_total: int(found.tasks.candidate.total),
        reasons: found.reasons.join("\n"),
    }
}

/// The decision as the index stores it: `same_model`, `different_model`,
/// `cannot_tell` (the serde names of [`Decision`]).
pub fn decision_key(decision: Decision) -> &'static str {
    match decision {
        Decision::SameModel => "same_model",
        Decision::DifferentModel => "different_model",
        Decision::CannotTell => "cannot_tell",
    }
}

/// Every member of every group, identified: what `rebuild` writes, sorted
/// by bundle id.
///
/// # Errors
///
/// As [`identify_group`].
pub fn identify_all(members: Vec<Member>) -> Result<Vec<IdentityRow>, LedgerError> {
    let mut groups: BTreeMap<(String, String, String), Vec<Member>> = BTreeMap::new();
    for m in members {
        groups.entry(m.group()).or_default().push(m);
    }
    let mut rows = Vec::new();
    for members in groups.values_mut() {
        rows.extend(identify_group(members)?);
    }
    rows.sort_by(|a, b| a.bundle.cmp(&b.bundle));
    Ok(rows)
}

/// Adds `new` to the index's identity rows: when it starts after the
/// group's first two, only its own row is written; otherwise the baseline
/// or noise floor changed, and every row of its group is written again.
/// `stored` reads a stored member's bundle directory. Call it inside the
/// transaction that writes the new bundle's rows.
///
/// # Errors
///
/// When the index or a stored fingerprint cannot be read, or
/// [`identify_group`] fails.
pub(crate) fn add(
    conn: &Connection,
    new: Member,
    stored: &dyn Fn(&str) -> std::path::PathBuf,
) -> Result<Vec<IdentityRow>, LedgerError> {
    let (url, model, set) = new.group();
    let sql = |source| LedgerError::Index {
        path: crate::index::INDEX_FILE.into(),
        source,
    };
    let peers: Vec<(String, i64)> = conn
        .prepare_cached(
            "SELECT bundle, started_unix FROM identity WHERE target_url = ?1 AND model = ?2 \
             AND probe_set = ?3 ORDER BY started_unix, bundle",
        )
        .and_then(|mut s| {
            s.query_map(params![url, model, set], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(sql)?;
    let earlier = peers
        .iter()
        .filter(|(id, start)| (*start, id.as_str()) < new.order())
        .count();
    let load = |id: &str, start: i64| -> Result<Member, LedgerError> {
        let dir = stored(id);
        let fingerprint = read_fingerprint(&dir)
            .and_then(|f| {
                f.ok_or_else(|| BundleError::Malformed {
                    path: fingerprint::FILE.into(),
                    what: "fingerprint",
                    message: "missing from a bundle the index lists as a fingerprint".into(),
                })
            })
            .map_err(|source| LedgerError::Stored {
                id: id.to_string(),
                source,
            })?;
        Ok(Member {
            id: id.to_string(),
            started_unix: start,
            target_url: url.clone(),
            model: model.clone(),
            fingerprint,
        })
    };
    let rows = if earlier >= 2 {
        let baseline = load(&peers[0].0, peers[0].1)?;
        let second = load(&peers[1].0, peers[1].1)?;
        vec![identify_member(
            &new,
            &baseline,
            Some([&baseline, &second]),
        )?]
    } else {
        let mut members = peers
            .iter()
            .map(|(id, start)| load(id, *start))
            .collect::<Result<Vec<_>, _>>()?;
        members.push(new);
        identify_group(&mut members)?
    };
    insert(conn, &rows).map_err(sql)?;
    Ok(rows)
}

/// Writes identity rows, replacing a bundle's row that is there.
pub(crate) fn insert(conn: &Connection, rows: &[IdentityRow]) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO identity (bundle, target_url, model, probe_set, started_unix, \
         baseline, noise_a, noise_b, decision, greedy_compared, greedy_divergent, \
         logprob_differences, logprob_median_micro, noise_median_micro, tokenizer_implied, \
         baseline_tokenizer_implied, tokenizer_finding, tasks_passed, tasks_total, reasons) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19, ?20)",
    )?;
    for r in rows {
        insert.execute(params![
            r.bundle,
            r.target_url,
            r.model,
            r.probe_set,
            r.started_unix,
            r.baseline,
            r.noise_a,
            r.noise_b,
            r.decision,
            r.greedy_compared,
            r.greedy_divergent,
            r.logprob_differences,
            r.logprob_median_micro,
            r.noise_median_micro,
            r.tokenizer_implied,
            r.baseline_tokenizer_implied,
            r.tokenizer_finding,
            r.tasks_passed,
            r.tasks_total,
            r.reasons,
        ])?;
    }
    Ok(())
}
