//! The SQLite index: its schema, inserting a bundle's rows, and the
//! canonical dump that shows two indexes hold the same rows.

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::error::LedgerError;
use crate::rows::Rows;

/// The index's schema, exactly as the observatory's contract states it.
pub const SCHEMA: &str = include_str!("schema.sql");

/// The index file's name in a ledger directory.
pub const INDEX_FILE: &str = "index.sqlite";

/// The tables, in dump order, each with the columns it is sorted by.
const TABLES: [(&str, &str); 10] = [
    ("bundle", "id"),
    ("verdicts", "bundle, area, level, verdict"),
    ("figure", "bundle, case_id, metric"),
    ("cost", "bundle, sheet, task"),
    ("agreement", "a, b, case_id"),
    (
        "latest",
        "target_url, model, observer, signer, suite_digest, case_id, workload, slo",
    ),
    (
        "latest_area",
        "target_url, model, observer, signer, suite_digest, area",
    ),
    ("latest_cost", "target_url, model, observer, signer"),
    ("availability", "hour, target_url, model, observer, signer"),
    ("identity", "bundle"),
];

/// A row of `agreement`: bundles `a` and `b` (a started first) compared.
///
/// `case_id` is a performance case both ran by the same method (its
/// workload and service class), or `*` for the whole comparison when both
/// ran the same cases: the outcome `tokencert compare` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementRow {
    /// The bundle that started first (then the smaller id).
    pub a: String,
    /// The other.
    pub b: String,
    /// The performance case, or `*`.
    pub case_id: String,
    /// Whether the verdicts agree and no metric differs.
    pub consistent: bool,
    /// What was compared and what differs, in one line.
    pub summary: String,
}

pub(crate) fn sql(path: &Path) -> impl FnOnce(rusqlite::Error) -> LedgerError + '_ {
    move |source| LedgerError::Index {
        path: path.display().to_string(),
        source,
    }
}

/// Opens an index file (creating it when absent), with foreign keys on
/// and a wait for writers of other processes.
pub(crate) fn connect(path: &Path) -> Result<Connection, LedgerError> {
    let conn = Connection::open(path).map_err(sql(path))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(sql(path))?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(sql(path))?;
    Ok(conn)
}

/// Writes one bundle's rows (`bundle`, `verdicts`, `figure`, `cost`) and
/// folds them into the summary tables (`latest`, `latest_area`,
/// `latest_cost`, `availability`): what `add` and `rebuild` do. Public for
/// tools and test fixtures that build an index from rows without bundle
/// files; call it inside a transaction.
///
/// # Errors
///
/// When SQLite refuses a row (a bundle id already there, say).
pub fn write_rows(conn: &Connection, rows: &Rows) -> rusqlite::Result<()> {
    let b = &rows.bundle;
    conn.execute(
        "INSERT INTO bundle (id, run_id, tool, suite_digest, target_url, model, observer, \
         location, probe, signer, signer_known, started_at, started_unix, finished_unix, \
         interrupted, exchanges, answered, tokens_billed, must_pass, must_fail, must_error, \
         should_pass, should_fail, pinned, evidence_pruned) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, \
         ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
        params![
            b.id,
            b.run_id,
            b.tool,
            b.suite_digest,
            b.target_url,
            b.model,
            b.observer,
            b.location,
            b.probe,
            b.signer,
            b.signer_known,
            b.started_at,
            b.started_unix,
            b.finished_unix,
            b.interrupted,
            b.evidence.exchanges,
            b.evidence.answered,
            b.evidence.tokens_billed,
            b.must_pass,
            b.must_fail,
            b.must_error,
            b.should_pass,
            b.should_fail,
            b.pinned,
            b.evidence_pruned,
        ],
    )?;
    let mut verdict = conn.prepare_cached(
        "INSERT INTO verdicts (bundle, area, level, verdict, cases) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for v in &rows.verdicts {
        verdict.execute(params![b.id, v.area, v.level, v.verdict, v.cases])?;
    }
    let mut figure = conn.prepare_cached(
        "INSERT INTO figure (bundle, case_id, workload, slo, metric, value, low, high) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for f in &rows.figures {
        figure.execute(params![
            b.id, f.case_id, f.workload, f.slo, f.metric, f.value, f.low, f.high
        ])?;
    }
    let mut cost = conn.prepare_cached(
        "INSERT INTO cost (bundle, sheet, currency, task, micros) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for c in &rows.costs {
        cost.execute(params![b.id, c.sheet, c.currency, c.task, c.micros])?;
    }
    crate::summary::record(conn, rows)
}

/// Whether the index has the summary tables and `identity` (an index made
/// before them has not: `rebuild` recreates it).
pub(crate) fn has_summaries(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('latest', 'identity')",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n == 2)
}

/// Inserts agreement rows; a row already there (the same pair and case,
/// recorded twice) is kept as it is.
pub(crate) fn insert_agreements(conn: &Connection, rows: &[AgreementRow]) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO agreement (a, b, case_id, consistent, summary) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for r in rows {
        insert.execute(params![r.a, r.b, r.case_id, r.consistent, r.summary])?;
    }
    Ok(())
}

/// The agreement rows a bundle takes part in.
pub(crate) fn agreements_of(conn: &Connection, id: &str) -> rusqlite::Result<Vec<AgreementRow>> {
    let mut select = conn.prepare_cached(
        "SELECT a, b, case_id, consistent, summary FROM agreement WHERE a = ?1 OR b = ?1 \
         ORDER BY a, b, case_id",
    )?;
    select
        .query_map([id], |r| {
            Ok(AgreementRow {
                a: r.get(0)?,
                b: r.get(1)?,
                case_id: r.get(2)?,
                consistent: r.get(3)?,
                summary: r.get(4)?,
            })
        })?
        .collect()
}

/// Every row of every table, sorted by primary key, as canonical JSON:
/// `{"<table>": {"columns": [...], "rows": [[...], ...]}}`. A real is
/// written as the string of its shortest round-trip decimal form (canonical
/// JSON holds integers only), so equal dumps mean bit-identical values.
pub(crate) fn dump(conn: &Connection) -> Result<Vec<u8>, LedgerError> {
    let mut out = serde_json::Map::new();
    for (table, order) in TABLES {
        let mut select = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .map_err(sql(Path::new(INDEX_FILE)))?;
        let columns: Vec<serde_json::Value> = select
            .column_names()
            .map(|c| serde_json::Value::String(c.to_string()))
            .collect();
        let width = columns.len();
        let rows = select
            .query_map([], |row| {
                let mut cells = Vec::with_capacity(width);
                for i in 0..width {
                    cells.push(match row.get_ref(i)? {
                        ValueRef::Null => serde_json::Value::Null,
                        ValueRef::Integer(n) => n.into(),
                        ValueRef::Real(f) => format!("{f:?}").into(),
                        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
                        ValueRef::Blob(b) => format!("blob of {} bytes", b.len()).into(),
                    });
                }
                Ok(serde_json::Value::Array(cells))
            })
            .map_err(sql(Path::new(INDEX_FILE)))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql(Path::new(INDEX_FILE)))?;
        out.insert(
            table.to_string(),
            serde_json::json!({"columns": columns, "rows": rows}),
        );
    }
    Ok(tokencert_core::canonical::to_vec(&out)?)
}
