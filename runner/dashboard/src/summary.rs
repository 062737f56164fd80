//! The leaderboard's reads: a handful of queries over the ledger's summary
//! tables (`latest`, `latest_area`, `latest_cost`, `availability`, kept by
//! the ledger with every bundle), each for every source at once.

use std::collections::HashMap;

use rusqlite::{Connection, Row, params};

use crate::error::DashboardError;
use crate::queries::{CostRow, FigureRow, Method, Source, VerdictRow};

pub use tokencert_ledger::summary::{BUCKET_SECONDS, bucket};

/// The newest bundle of one source measured by one method, with its
/// figures of that method's case.
#[derive(Debug, Clone)]
pub struct Latest {
    /// The method.
    pub method: Method,
    /// The source.
    pub source: Source,
    /// The bundle id.
    pub bundle: String,
    /// When it started.
    pub started_unix: i64,
    /// Its figures of the case, by metric.
    pub figures: Vec<FigureRow>,
}

/// Reads a [`Source`] from four columns starting at `at`.
fn source_at(r: &Row<'_>, at: usize) -> rusqlite::Result<Source> {
    Ok(Source {
        target_url: r.get(at)?,
        model: r.get(at + 1)?,
        observer: r.get(at + 2)?,
        signer: r.get(at + 3)?,
    })
}

/// Reads a [`Method`] from four columns starting at `at`.
fn method_at(r: &Row<'_>, at: usize) -> rusqlite::Result<Method> {
    Ok(Method {
        suite_digest: r.get(at)?,
        case_id: r.get(at + 1)?,
        workload: r.get(at + 2)?,
        slo: r.get(at + 3)?,
    })
}

/// The newest bundle of every (method, source) pair and its figures, in
/// no set order: one query.
pub fn latest(conn: &Connection) -> Result<Vec<Latest>, DashboardError> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.rowid, l.suite_digest, l.case_id, l.workload, l.slo, l.target_url, l.model, \
                l.observer, l.signer, l.bundle, l.started_unix, \
                f.metric, f.value, f.low, f.high \
         FROM latest l LEFT JOIN figure f ON f.bundle = l.bundle AND f.case_id = l.case_id \
         ORDER BY l.rowid, f.metric",
    )?;
    let mut rows = stmt.query([])?;
    let mut out: Vec<Latest> = Vec::new();
    let mut last_row = None;
    while let Some(r) = rows.next()? {
        let row: i64 = r.get(0)?;
        if last_row != Some(row) {
            last_row = Some(row);
            let method = method_at(r, 1)?;
            out.push(Latest {
                source: source_at(r, 5)?,
                bundle: r.get(9)?,
                started_unix: r.get(10)?,
                figures: Vec::new(),
                method,
            });
        }
        let metric: Option<String> = r.get(11)?;
        if let (Some(metric), Some(latest)) = (metric, out.last_mut()) {
            latest.figures.push(FigureRow {
                case_id: latest.method.case_id.clone(),
                workload: latest.method.workload.clone(),
                slo: latest.method.slo.clone(),
                metric,
                value: r.get(12)?,
                low: r.get(13)?,
                high: r.get(14)?,
            });
        }
    }
    Ok(out)
}

/// `metric` of the newest `limit` bundles of each source measured by each
/// method of `latest`, newest first: one query (a correlated subquery per
/// pair walks that source's bundles newest first and stops at `limit`).
pub fn recent_values(
    conn: &Connection,
    metric: &str,
    limit: usize,
) -> Result<HashMap<(Method, Source), Vec<f64>>, DashboardError> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.suite_digest, l.case_id, l.workload, l.slo, l.target_url, l.model, \
                l.observer, l.signer, f.value \
         FROM latest l CROSS JOIN bundle b CROSS JOIN figure f \
         WHERE b.id IN (SELECT b2.id FROM bundle b2 CROSS JOIN figure f2 \
                          ON f2.bundle = b2.id AND f2.case_id = l.case_id AND f2.metric = ?1 \
                        WHERE b2.target_url = l.target_url AND b2.model = l.model \
                          AND b2.observer IS l.observer AND b2.signer IS l.signer \
                          AND b2.suite_digest = l.suite_digest AND f2.workload = l.workload \
                          AND f2.slo = l.slo \
                        ORDER BY b2.started_unix DESC, b2.id DESC LIMIT ?2) \
           AND f.bundle = b.id AND f.case_id = l.case_id AND f.metric = ?1 \
         ORDER BY l.rowid, b.started_unix DESC, b.id DESC",
    )?;
    let mut rows = stmt.query(params![metric, limit as i64])?;
    let mut out: HashMap<(Method, Source), Vec<f64>> = HashMap::new();
    while let Some(r) = rows.next()? {
        out.entry((method_at(r, 0)?, source_at(r, 4)?))
            .or_default()
            .push(r.get(8)?);
    }
    Ok(out)
}

/// Verdict rows of the newest bundle of each source and suite judging each
/// clause area, as (source, suite, bundle, row), by area: one query.
pub fn area_verdicts(
    conn: &Connection,
) -> Result<Vec<(Source, String, String, VerdictRow)>, DashboardError> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.target_url, a.model, a.observer, a.signer, a.suite_digest, a.bundle, \
                v.area, v.level, v.verdict, v.cases \
         FROM latest_area a JOIN verdicts v ON v.bundle = a.bundle AND v.area = a.area \
         ORDER BY a.area, v.level, v.verdict",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            source_at(r, 0)?,
            r.get(4)?,
            r.get(5)?,
            VerdictRow {
                area: r.get(6)?,
                level: r.get(7)?,
                verdict: r.get(8)?,
                cases: r.get(9)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// (answered, exchanges) of every source summed over its bundles started
/// at or after `since_unix`: the hourly buckets from the first whole hour
/// on, plus the bundles of the part hour before it. One query.
pub fn availability(
    conn: &Connection,
    since_unix: i64,
) -> Result<HashMap<Source, (i64, i64)>, DashboardError> {
    let whole = bucket(since_unix.saturating_add(BUCKET_SECONDS - 1));
    let mut stmt = conn.prepare_cached(
        "SELECT target_url, model, observer, signer, SUM(answered), SUM(exchanges) FROM ( \
           SELECT target_url, model, observer, signer, answered, exchanges \
           FROM availability WHERE hour >= ?2 \
           UNION ALL \
           SELECT target_url, model, observer, signer, answered, exchanges \
           FROM bundle WHERE started_unix >= ?1 AND started_unix < ?2) \
         GROUP BY target_url, model, observer, signer",
    )?;
    let rows = stmt.query_map(params![since_unix, whole], |r| {
        Ok((source_at(r, 0)?, (r.get(4)?, r.get(5)?)))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The newest priced bundle of every source, and its cost rows: one query.
pub fn latest_costs(
    conn: &Connection,
) -> Result<HashMap<Source, (String, Vec<CostRow>)>, DashboardError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.target_url, c.model, c.observer, c.signer, c.bundle, \
                k.sheet, k.currency, k.task, k.micros \
         FROM latest_cost c JOIN cost k ON k.bundle = c.bundle \
         ORDER BY c.bundle, k.sheet, k.task",
    )?;
    let mut rows = stmt.query([])?;
    let mut out: HashMap<Source, (String, Vec<CostRow>)> = HashMap::new();
    while let Some(r) = rows.next()? {
        let source = source_at(r, 0)?;
        let bundle: String = r.get(4)?;
        out.entry(source)
            .or_insert_with(|| (bundle, Vec::new()))
            .1
            .push(CostRow {
                sheet: r.get(5)?,
                currency: r.get(6)?,
                task: r.get(7)?,
                micros: r.get(8)?,
            });
    }
    Ok(out)
}

/// Whether the index has the summary tables (one made before them has
/// not: `tokencert ledger rebuild` recreates it).
pub fn present(conn: &Connection) -> Result<bool, DashboardError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
         AND name IN ('latest', 'latest_area', 'latest_cost', 'availability', 'identity')",
        [],
        |r| r.get(0),
    )?;
    Ok(n == 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_whole_hour_of_a_window() {
        let whole = |since: i64| bucket(since.saturating_add(BUCKET_SECONDS - 1));
        assert_eq!(whole(0), 0);
        assert_eq!(whole(1), 3600);
        assert_eq!(whole(3600), 3600);
        assert_eq!(whole(-1), 0);
    }
}
