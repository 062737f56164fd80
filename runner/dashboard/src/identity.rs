//! Identity over time: the `identity` rows of the ledger index (each
//! fingerprint bundle identified against its target's baseline, see
//! [`tokencert_ledger::identity`]), for a target's page, the JSON API and
//! `/metrics`.

use rusqlite::{Connection, Row, params};
use serde::Serialize;
use tokencert_ledger::identity::IdentityRow;

use crate::error::DashboardError;

/// Fingerprints shown on a target's page at most (the newest).
pub const MAX_POINTS: usize = 500;

/// One fingerprint bundle's identification, as pages and the JSON show it.
#[derive(Debug, Clone, Serialize)]
pub struct IdentityPoint {
    /// The index row.
    #[serde(flatten)]
    pub row: IdentityRow,
    /// For readers: `same model`, `different model`, `cannot tell`.
    pub decision_name: String,
    /// Generation probes whose greedy output differs from the baseline's,
    /// as a share of those compared; `None` without any.
    pub greedy_divergent_ratio: Option<f64>,
    /// Median |bundle − baseline| log-probability, nats.
    pub logprob_median_nats: Option<f64>,
    /// The noise floor's median, nats.
    pub noise_median_nats: Option<f64>,
    /// Tasks passed over tasks scored; `None` without tasks.
    pub task_pass_ratio: Option<f64>,
}

impl IdentityPoint {
    fn of(row: IdentityRow) -> IdentityPoint {
        let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
        let nats = |micro: Option<i64>| micro.map(|m| m as f64 / 1e6);
        IdentityPoint {
            decision_name: decision_name(&row.decision).into(),
            greedy_divergent_ratio: ratio(row.greedy_divergent, row.greedy_compared),
            logprob_median_nats: nats(row.logprob_median_micro),
            noise_median_nats: nats(row.noise_median_micro),
            task_pass_ratio: ratio(row.tasks_passed, row.tasks_total),
            row,
        }
    }

    /// The decision as a number: 1 same model, 0 different model, `None`
    /// cannot tell.
    pub fn same(&self) -> Option<f64> {
        match self.row.decision.as_str() {
            "same_model" => Some(1.0),
            "different_model" => Some(0.0),
            _ => None,
        }
    }
}

/// The reader's name of a stored decision.
pub fn decision_name(key: &str) -> &str {
    match key {
        "same_model" => "same model",
        "different_model" => "different model",
        "cannot_tell" => "cannot tell",
        other => other,
    }
}

const COLUMNS: &str = "bundle, target_url, model, probe_set, started_unix, baseline, noise_a, \
     noise_b, decision, greedy_compared, greedy_divergent, logprob_differences, \
     logprob_median_micro, noise_median_micro, tokenizer_implied, baseline_tokenizer_implied, \
     tokenizer_finding, tasks_passed, tasks_total, reasons";

fn identity_row(r: &Row<'_>) -> rusqlite::Result<IdentityRow> {
    Ok(IdentityRow {
        bundle: r.get(0)?,
        target_url: r.get(1)?,
        model: r.get(2)?,
        probe_set: r.get(3)?,
        started_unix: r.get(4)?,
        baseline: r.get(5)?,
        noise_a: r.get(6)?,
        noise_b: r.get(7)?,
        decision: r.get(8)?,
        greedy_compared: r.get(9)?,
        greedy_divergent: r.get(10)?,
        logprob_differences: r.get(11)?,
        logprob_median_micro: r.get(12)?,
        noise_median_micro: r.get(13)?,
        tokenizer_implied: r.get(14)?,
        baseline_tokenizer_implied: r.get(15)?,
        tokenizer_finding: r.get(16)?,
        tasks_passed: r.get(17)?,
        tasks_total: r.get(18)?,
        reasons: r.get(19)?,
    })
}

/// The newest `limit` identifications of a target and model started at or
/// after `since_unix`, oldest first.
pub fn of_target(
    conn: &Connection,
    url: &str,
    model: &str,
    since_unix: i64,
    limit: usize,
) -> Result<Vec<IdentityPoint>, DashboardError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM identity WHERE target_url = ?1 AND model = ?2 \
         AND started_unix >= ?3 ORDER BY started_unix DESC, bundle DESC LIMIT ?4"
    ))?;
    let mut rows = stmt
        .query_map(params![url, model, since_unix, limit as i64], identity_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.reverse();
    Ok(rows.into_iter().map(IdentityPoint::of).collect())
}

/// The newest identification of each target, model and probe set, by
/// target, model and probe set.
pub fn latest(conn: &Connection) -> Result<Vec<IdentityPoint>, DashboardError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM identity AS i WHERE NOT EXISTS (SELECT 1 FROM identity AS j \
         WHERE j.target_url = i.target_url AND j.model = i.model AND j.probe_set = i.probe_set \
         AND (j.started_unix > i.started_unix OR (j.started_unix = i.started_unix \
         AND j.bundle > i.bundle))) ORDER BY target_url, model, probe_set"
    ))?;
    let rows = stmt
        .query_map([], identity_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows.into_iter().map(IdentityPoint::of).collect())
}
