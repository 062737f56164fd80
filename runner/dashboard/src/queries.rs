//! Plain SELECTs over the ledger index (the contract schema of
//! `runner/ledger/src/schema.sql`), on a connection opened read-only.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use serde::Serialize;

use crate::error::DashboardError;

pub use tokencert_ledger::INDEX_FILE;

/// Opens `LEDGER/index.sqlite` read-only (and query-only: no statement of
/// this crate can write, whatever it says).
pub fn open(ledger: &Path) -> Result<Connection, DashboardError> {
    let path = ledger.join(INDEX_FILE);
    let open_err = |source| DashboardError::Open {
        path: path.clone(),
        source,
    };
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_err)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(open_err)?;
    Ok(conn)
}

/// Who measured: a target and model as seen by one observer and one signer.
/// Figures of different sources are never blended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Source {
    /// The target's base URL.
    pub target_url: String,
    /// The model.
    pub model: String,
    /// The observatory that probed (None: not a probe).
    pub observer: Option<String>,
    /// The key id whose signature verified (None: unsigned).
    pub signer: Option<String>,
}

/// A method: results of different methods are never mixed into one number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Method {
    /// The suite the bundle was judged with.
    pub suite_digest: String,
    /// The performance case.
    pub case_id: String,
    /// sha256 of the case's workload.
    pub workload: String,
    /// The service class.
    pub slo: String,
}

/// One `bundle` row.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // the columns of the contract schema, documented there
pub struct BundleRow {
    pub id: String,
    pub run_id: String,
    pub tool: String,
    pub suite_digest: String,
    pub target_url: String,
    pub model: String,
    pub observer: Option<String>,
    pub location: Option<String>,
    pub probe: Option<String>,
    pub signer: Option<String>,
    pub signer_known: bool,
    pub started_at: String,
    pub started_unix: i64,
    pub finished_unix: Option<i64>,
    pub interrupted: bool,
    pub exchanges: i64,
    pub answered: i64,
    pub tokens_billed: i64,
    pub must_pass: i64,
    pub must_fail: i64,
    pub must_error: i64,
    pub should_pass: i64,
    pub should_fail: i64,
    pub pinned: bool,
    pub evidence_pruned: bool,
}

const BUNDLE_COLUMNS: &str = "id, run_id, tool, suite_digest, target_url, model, observer, \
     location, probe, signer, signer_known, started_at, started_unix, finished_unix, \
     interrupted, exchanges, answered, tokens_billed, must_pass, must_fail, must_error, \
     should_pass, should_fail, pinned, evidence_pruned";

fn bundle_row(r: &Row<'_>) -> rusqlite::Result<BundleRow> {
    Ok(BundleRow {
        id: r.get(0)?,
        run_id: r.get(1)?,
        tool: r.get(2)?,
        suite_digest: r.get(3)?,
        target_url: r.get(4)?,
        model: r.get(5)?,
        observer: r.get(6)?,
        location: r.get(7)?,
        probe: r.get(8)?,
        signer: r.get(9)?,
        signer_known: r.get::<_, i64>(10)? != 0,
        started_at: r.get(11)?,
        started_unix: r.get(12)?,
        finished_unix: r.get(13)?,
        interrupted: r.get::<_, i64>(14)? != 0,
        exchanges: r.get(15)?,
        answered: r.get(16)?,
        tokens_billed: r.get(17)?,
        must_pass: r.get(18)?,
        must_fail: r.get(19)?,
        must_error: r.get(20)?,
        should_pass: r.get(21)?,
        should_fail: r.get(22)?,
        pinned: r.get::<_, i64>(23)? != 0,
        evidence_pruned: r.get::<_, i64>(24)? != 0,
    })
}

impl BundleRow {
    /// The source this bundle belongs to.
    pub fn source(&self) -> Source {
        Source {
            target_url: self.target_url.clone(),
            model: self.model.clone(),
            observer: self.observer.clone(),
            signer: self.signer.clone(),
        }
    }
}

/// One `verdicts` row.
#[derive(Debug, Clone, Serialize)]
pub struct VerdictRow {
    /// Clause area (API, ACC, PERF, ...).
    pub area: String,
    /// MUST, SHOULD or MAY.
    pub level: String,
    /// pass, fail, error, not_claimed.
    pub verdict: String,
    /// Cases with that verdict.
    pub cases: i64,
}

/// One `figure` row.
#[derive(Debug, Clone, Serialize)]
pub struct FigureRow {
    /// The performance case.
    pub case_id: String,
    /// sha256 of its workload.
    pub workload: String,
    /// Its service class.
    pub slo: String,
    /// The metric name (SI units in the name).
    pub metric: String,
    /// The value.
    pub value: f64,
    /// 95% confidence interval, low end.
    pub low: Option<f64>,
    /// 95% confidence interval, high end.
    pub high: Option<f64>,
}

fn figure_row(r: &Row<'_>) -> rusqlite::Result<FigureRow> {
    Ok(FigureRow {
        case_id: r.get(0)?,
        workload: r.get(1)?,
        slo: r.get(2)?,
        metric: r.get(3)?,
        value: r.get(4)?,
        low: r.get(5)?,
        high: r.get(6)?,
    })
}

/// One `cost` row.
#[derive(Debug, Clone, Serialize)]
pub struct CostRow {
    /// The price sheet.
    pub sheet: String,
    /// Its currency.
    pub currency: String,
    /// The priced task.
    pub task: String,
    /// Cost of one task, micro-units of the currency (None: not priced).
    pub micros: Option<i64>,
}

/// One `agreement` row.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementRow {
    /// One bundle.
    pub a: String,
    /// The other.
    pub b: String,
    /// The case compared.
    pub case_id: String,
    /// Whether `compare` found them consistent.
    pub consistent: bool,
    /// compare's summary.
    pub summary: String,
}

fn agreement_row(r: &Row<'_>) -> rusqlite::Result<AgreementRow> {
    Ok(AgreementRow {
        a: r.get(0)?,
        b: r.get(1)?,
        case_id: r.get(2)?,
        consistent: r.get::<_, i64>(3)? != 0,
        summary: r.get(4)?,
    })
}

/// One bundle's row.
pub fn bundle(conn: &Connection, id: &str) -> Result<Option<BundleRow>, DashboardError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {BUNDLE_COLUMNS} FROM bundle WHERE id = ?1"
    ))?;
    Ok(stmt.query_row(params![id], bundle_row).optional()?)
}

/// One bundle's verdict counts.
pub fn verdicts(conn: &Connection, id: &str) -> Result<Vec<VerdictRow>, DashboardError> {
    let mut stmt = conn.prepare_cached(
        "SELECT area, level, verdict, cases FROM verdicts WHERE bundle = ?1 \
         ORDER BY area, level, verdict",
    )?;
    let rows = stmt.query_map(params![id], |r| {
        Ok(VerdictRow {
            area: r.get(0)?,
            level: r.get(1)?,
            verdict: r.get(2)?,
            cases: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One bundle's figures, by case then metric.
pub fn figures(conn: &Connection, id: &str) -> Result<Vec<FigureRow>, DashboardError> {
    let mut stmt = conn.prepare_cached(
        "SELECT case_id, workload, slo, metric, value, low, high FROM figure \
         WHERE bundle = ?1 ORDER BY case_id, metric",
    )?;
    let rows = stmt.query_map(params![id], figure_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One bundle's costs.
pub fn costs(conn: &Connection, id: &str) -> Result<Vec<CostRow>, DashboardError> {
    let mut stmt = conn.prepare_cached(
        "SELECT sheet, currency, task, micros FROM cost WHERE bundle = ?1 ORDER BY sheet, task",
    )?;
    let rows = stmt.query_map(params![id], |r| {
        Ok(CostRow {
            sheet: r.get(0)?,
            currency: r.get(1)?,
            task: r.get(2)?,
            micros: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Agreement rows naming the bundle on either side.
pub fn bundle_agreements(conn: &Connection, id: &str) -> Result<Vec<AgreementRow>, DashboardError> {
    let mut stmt = conn.prepare_cached(
        "SELECT a, b, case_id, consistent, summary FROM agreement WHERE a = ?1 \
         UNION ALL \
         SELECT a, b, case_id, consistent, summary FROM agreement WHERE b = ?1 \
         ORDER BY 1, 2, 3",
    )?;
    let rows = stmt.query_map(params![id], agreement_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The newest `limit` bundles of a target and model started at or after
/// `since_unix`, newest first.
pub fn target_bundles(
    conn: &Connection,
    url: &str,
    model: &str,
    since_unix: i64,
    limit: usize,
) -> Result<Vec<BundleRow>, DashboardError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {BUNDLE_COLUMNS} FROM bundle \
         WHERE target_url = ?1 AND model = ?2 AND started_unix >= ?3 \
         ORDER BY started_unix DESC, rowid DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![url, model, since_unix, limit as i64], bundle_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Figures of the given bundles (the newest of a target), as (bundle, row).
pub fn target_figures(
    conn: &Connection,
    url: &str,
    model: &str,
    since_unix: i64,
    limit: usize,
) -> Result<Vec<(String, FigureRow)>, DashboardError> {
    let mut stmt = conn.prepare_cached(
        "WITH recent AS (SELECT id FROM bundle \
           WHERE target_url = ?1 AND model = ?2 AND started_unix >= ?3 \
           ORDER BY started_unix DESC, rowid DESC LIMIT ?4) \
         SELECT f.bundle, f.case_id, f.workload, f.slo, f.metric, f.value, f.low, f.high \
         FROM recent JOIN figure f ON f.bundle = recent.id",
    )?;
    let rows = stmt.query_map(params![url, model, since_unix, limit as i64], |r| {
        Ok((
            r.get(0)?,
            FigureRow {
                case_id: r.get(1)?,
                workload: r.get(2)?,
                slo: r.get(3)?,
                metric: r.get(4)?,
                value: r.get(5)?,
                low: r.get(6)?,
                high: r.get(7)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Agreement rows between bundles of a target and model (newest first by
/// the first bundle), at most `limit`.
pub fn target_agreements(
    conn: &Connection,
    url: &str,
    model: &str,
    limit: usize,
) -> Result<Vec<AgreementRow>, DashboardError> {
    let mut stmt = conn.prepare_cached(
        "SELECT g.a, g.b, g.case_id, g.consistent, g.summary FROM bundle ba \
         JOIN agreement g ON g.a = ba.id \
         WHERE ba.target_url = ?1 AND ba.model = ?2 \
         ORDER BY ba.started_unix DESC, g.a, g.b, g.case_id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![url, model, limit as i64], agreement_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every (target URL, model) in the index, sorted.
pub fn targets(conn: &Connection) -> Result<Vec<(String, String)>, DashboardError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT target_url, model FROM bundle ORDER BY target_url, model",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every bundle id, sorted.
pub fn bundle_ids(conn: &Connection) -> Result<Vec<String>, DashboardError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM bundle ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many bundles the index holds.
pub fn bundle_count(conn: &Connection) -> Result<i64, DashboardError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM bundle", [], |r| r.get(0))?)
}
