//! The summary tables (`latest`, `latest_area`, `latest_cost`,
//! `availability`): what the dashboard's leaderboard reads, kept up to date
//! with every bundle's rows so that it needs no pass over them.
//!
//! They are a function of the set of bundle rows, whatever the order the
//! bundles came in: "newest" is the greatest `(started_unix, id)`, and the
//! hourly buckets are sums. A source's `observer` and `signer` may be NULL,
//! so the writer finds a key's row with `IS` and keeps each key unique.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};

use crate::rows::{BundleRow, Rows};

/// The width of an availability bucket, in seconds.
pub const BUCKET_SECONDS: i64 = 3600;

/// The bucket a start time falls in: the start of its hour.
pub fn bucket(started_unix: i64) -> i64 {
    started_unix - started_unix.rem_euclid(BUCKET_SECONDS)
}

/// Folds one bundle's rows into the summaries.
pub(crate) fn record(conn: &Connection, rows: &Rows) -> rusqlite::Result<()> {
    let b = &rows.bundle;
    let methods: BTreeSet<(&str, &str, &str)> = rows
        .figures
        .iter()
        .map(|f| (f.case_id.as_str(), f.workload.as_str(), f.slo.as_str()))
        .collect();
    for (case_id, workload, slo) in methods {
        newest_method(conn, b, case_id, workload, slo)?;
    }
    let areas: BTreeSet<&str> = rows.verdicts.iter().map(|v| v.area.as_str()).collect();
    for area in areas {
        newest_area(conn, b, area)?;
    }
    if !rows.costs.is_empty() {
        newest_cost(conn, b)?;
    }
    count_hour(conn, b)
}

/// Whether `b` is newer than the bundle `(id, started_unix)`.
fn newer(b: &BundleRow, then: &(String, i64)) -> bool {
    (b.started_unix, b.id.as_str()) > (then.1, then.0.as_str())
}

fn newest_method(
    conn: &Connection,
    b: &BundleRow,
    case_id: &str,
    workload: &str,
    slo: &str,
) -> rusqlite::Result<()> {
    const KEY: &str = "target_url = ?1 AND model = ?2 AND observer IS ?3 AND signer IS ?4 \
         AND suite_digest = ?5 AND case_id = ?6 AND workload = ?7 AND slo = ?8";
    let key = params![
        b.target_url,
        b.model,
        b.observer,
        b.signer,
        b.suite_digest,
        case_id,
        workload,
        slo
    ];
    let then: Option<(String, i64)> = conn
        .prepare_cached(&format!(
            "SELECT bundle, started_unix FROM latest WHERE {KEY}"
        ))?
        .query_row(key, |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match then {
        None => {
            conn.prepare_cached(
                "INSERT INTO latest (target_url, model, observer, signer, suite_digest, case_id, \
                 workload, slo, bundle, started_unix) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                b.target_url,
                b.model,
                b.observer,
                b.signer,
                b.suite_digest,
                case_id,
                workload,
                slo,
                b.id,
                b.started_unix
            ])?;
        }
        Some(then) if newer(b, &then) => {
            conn.prepare_cached(&format!(
                "UPDATE latest SET bundle = ?9, started_unix = ?10 WHERE {KEY}"
            ))?
            .execute(params![
                b.target_url,
                b.model,
                b.observer,
                b.signer,
                b.suite_digest,
                case_id,
                workload,
                slo,
                b.id,
                b.started_unix
            ])?;
        }
        Some(_) => {}
    }
    Ok(())
}

fn newest_area(conn: &Connection, b: &BundleRow, area: &str) -> rusqlite::Result<()> {
    const KEY: &str = "target_url = ?1 AND model = ?2 AND observer IS ?3 AND signer IS ?4 \
         AND suite_digest = ?5 AND area = ?6";
    let key = params![
        b.target_url,
        b.model,
        b.observer,
        b.signer,
        b.suite_digest,
        area
    ];
    let then: Option<(String, i64)> = conn
        .prepare_cached(&format!(
            "SELECT bundle, started_unix FROM latest_area WHERE {KEY}"
        ))?
        .query_row(key, |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let values = params![
        b.target_url,
        b.model,
        b.observer,
        b.signer,
        b.suite_digest,
        area,
        b.id,
        b.started_unix
    ];
    match then {
        None => {
            conn.prepare_cached(
                "INSERT INTO latest_area (target_url, model, observer, signer, suite_digest, \
                 area, bundle, started_unix) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(values)?;
        }
        Some(then) if newer(b, &then) => {
            conn.prepare_cached(&format!(
                "UPDATE latest_area SET bundle = ?7, started_unix = ?8 WHERE {KEY}"
            ))?
            .execute(values)?;
        }
        Some(_) => {}
    }
    Ok(())
}

fn newest_cost(conn: &Connection, b: &BundleRow) -> rusqlite::Result<()> {
    const KEY: &str = "target_url = ?1 AND model = ?2 AND observer IS ?3 AND signer IS ?4";
    let then: Option<(String, i64)> = conn
        .prepare_cached(&format!(
            "SELECT bundle, started_unix FROM latest_cost WHERE {KEY}"
        ))?
        .query_row(params![b.target_url, b.model, b.observer, b.signer], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let values = params![
        b.target_url,
        b.model,
        b.observer,
        b.signer,
        b.id,
        b.started_unix
    ];
    match then {
        None => {
            conn.prepare_cached(
                "INSERT INTO latest_cost (target_url, model, observer, signer, bundle, \
                 started_unix) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(values)?;
        }
        Some(then) if newer(b, &then) => {
            conn.prepare_cached(&format!(
                "UPDATE latest_cost SET bundle = ?5, started_unix = ?6 WHERE {KEY}"
            ))?
            .execute(values)?;
        }
        Some(_) => {}
    }
    Ok(())
}

fn count_hour(conn: &Connection, b: &BundleRow) -> rusqlite::Result<()> {
    let values = params![
        bucket(b.started_unix),
        b.target_url,
        b.model,
        b.observer,
        b.signer,
        b.evidence.answered,
        b.evidence.exchanges
    ];
    let updated = conn
        .prepare_cached(
            "UPDATE availability SET bundles = bundles + 1, answered = answered + ?6, \
             exchanges = exchanges + ?7 WHERE hour = ?1 AND target_url = ?2 AND model = ?3 \
             AND observer IS ?4 AND signer IS ?5",
        )?
        .execute(values)?;
    if updated == 0 {
        conn.prepare_cached(
            "INSERT INTO availability (hour, target_url, model, observer, signer, bundles, \
             answered, exchanges) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)",
        )?
        .execute(values)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::{CostRow, EvidenceCounts, FigureRow, VerdictRow};

    /// A bundle of `source` (0: observed and signed, 1: neither) started at
    /// `start`, with a performance case `case` and a cost row when `priced`.
    fn rows(id: &str, source: u8, start: i64, case: &str, priced: bool) -> Rows {
        let (observer, signer) = match source {
            0 => (Some("obs".to_string()), Some("key".to_string())),
            _ => (None, None),
        };
        Rows {
            bundle: BundleRow {
                id: id.into(),
                run_id: format!("run-{id}"),
                tool: "tokencert".into(),
                suite_digest: "suite".into(),
                target_url: "http://127.0.0.1:1/v1".into(),
                model: "m".into(),
                observer,
                location: None,
                probe: None,
                signer,
                signer_known: false,
                started_at: String::new(),
                started_unix: start,
                finished_unix: None,
                interrupted: false,
                evidence: EvidenceCounts {
                    exchanges: 10,
                    answered: start % 10,
                    tokens_billed: 0,
                },
                must_pass: 1,
                must_fail: 0,
                must_error: 0,
                should_pass: 0,
                should_fail: 0,
                pinned: false,
                evidence_pruned: false,
            },
            verdicts: vec![VerdictRow {
                area: if case == "perf.a" { "API" } else { "SEC" }.into(),
                level: "MUST".into(),
                verdict: "pass".into(),
                cases: 1,
            }],
            figures: vec![FigureRow {
                case_id: case.into(),
                workload: "w".into(),
                slo: "interactive".into(),
                metric: "requests".into(),
                value: 1.0,
                low: None,
                high: None,
            }],
            costs: if priced {
                vec![CostRow {
                    sheet: "s".into(),
                    currency: "USD".into(),
                    task: "t".into(),
                    micros: Some(1),
                }]
            } else {
                Vec::new()
            },
        }
    }

    fn index_of(all: &[&Rows]) -> Connection {
        let conn = Connection::open_in_memory().expect("in memory");
        conn.execute_batch(crate::index::SCHEMA).expect("schema");
        for rows in all {
            crate::index::write_rows(&conn, rows).expect("written");
        }
        conn
    }

    fn query(conn: &Connection, sql: &str) -> Vec<(String, i64)> {
        let mut select = conn.prepare(sql).expect("prepares");
        select
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("runs")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn summaries_hold_the_newest_bundle_whatever_the_order_of_adding() {
        let all = [
            rows("b1", 0, 7_000, "perf.a", true),
            // Started with b1: the greater id is the newer.
            rows("b2", 0, 7_000, "perf.a", false),
            rows("b3", 0, 100, "perf.b", true),
            rows("b4", 1, 3_599, "perf.a", false),
            rows("b5", 1, 3_600, "perf.a", false),
            rows("b6", 1, 50, "perf.a", true),
        ];
        let forward: Vec<&Rows> = all.iter().collect();
        let backward: Vec<&Rows> = all.iter().rev().collect();
        let mixed: Vec<&Rows> = [3, 0, 5, 2, 4, 1].iter().map(|&i| &all[i]).collect();
        let conn = index_of(&forward);
        let dump = crate::index::dump(&conn).expect("dumps");
        for order in [&backward, &mixed] {
            let other = index_of(order);
            assert_eq!(crate::index::dump(&other).expect("dumps"), dump);
        }
        // Sources with NULL observer and signer are one source, apart
        // from the signed one.
        assert_eq!(
            query(
                &conn,
                "SELECT case_id || ' ' || bundle, started_unix FROM latest \
                 ORDER BY observer, case_id"
            ),
            [
                ("perf.a b5".to_string(), 3_600),
                ("perf.a b2".to_string(), 7_000),
                ("perf.b b3".to_string(), 100),
            ]
        );
        assert_eq!(
            query(
                &conn,
                "SELECT area || ' ' || bundle, started_unix FROM latest_area \
                 ORDER BY observer, area"
            ),
            [
                ("API b5".to_string(), 3_600),
                ("API b2".to_string(), 7_000),
                ("SEC b3".to_string(), 100),
            ]
        );
        assert_eq!(
            query(
                &conn,
                "SELECT bundle, started_unix FROM latest_cost ORDER BY observer"
            ),
            [("b6".to_string(), 50), ("b1".to_string(), 7_000)]
        );
        // The buckets add up to the bundles' own counts, hour by hour.
        assert_eq!(
            query(
                &conn,
                "SELECT coalesce(observer, '-') || ' ' || hour || ' ' || bundles || ' ' \
                 || exchanges, answered FROM availability ORDER BY observer, hour"
            ),
            [
                ("- 0 2 20".to_string(), 9),
                ("- 3600 1 10".to_string(), 0),
                ("obs 0 1 10".to_string(), 0),
                ("obs 3600 2 20".to_string(), 0),
            ]
        );
    }

    #[test]
    fn buckets_are_whole_hours_before_and_after_the_epoch() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(3599), 0);
        assert_eq!(bucket(3600), 3600);
        assert_eq!(bucket(-1), -3600);
    }
}
