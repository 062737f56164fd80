//! What the ledger's index says about earlier probes: when each last ran
//! (to resume the schedule) and what each target was sent (its budget).
//! Plain SELECTs on the `bundle` table.

use rusqlite::{Connection, OptionalExtension, params};

use crate::budget::{Cost, Spent};

/// Which observer's runs of which target.
#[derive(Debug, Clone, Copy)]
pub struct Runs<'a> {
    /// The observer's name.
    pub observer: &'a str,
    /// The target's base URL, as recorded in `run.json`.
    pub target_url: &'a str,
    /// The model.
    pub model: &'a str,
}

/// The start (Unix seconds) of the last run of `probe`, if any.
///
/// # Errors
///
/// When the index cannot be queried.
pub fn last_start(conn: &Connection, runs: Runs<'_>, probe: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT MAX(started_unix) FROM bundle \
         WHERE target_url = ?1 AND model = ?2 AND observer = ?3 AND probe = ?4",
        params![runs.target_url, runs.model, runs.observer, probe],
        |r| r.get(0),
    )
}

/// Every run that started after `since`, with the exchanges it recorded
/// and the tokens it was billed.
///
/// # Errors
///
/// When the index cannot be queried.
pub fn spent_since(conn: &Connection, runs: Runs<'_>, since: i64) -> rusqlite::Result<Vec<Spent>> {
    let mut select = conn.prepare_cached(
        "SELECT started_unix, exchanges, tokens_billed FROM bundle \
         WHERE target_url = ?1 AND model = ?2 AND observer = ?3 AND started_unix > ?4",
    )?;
    let rows = select.query_map(
        params![runs.target_url, runs.model, runs.observer, since],
        |r| {
            Ok(Spent {
                started_unix: r.get(0)?,
                cost: Cost {
                    requests: r.get::<_, i64>(1)?.max(0).unsigned_abs(),
                    tokens: r.get::<_, i64>(2)?.max(0).unsigned_abs(),
                },
            })
        },
    )?;
    rows.collect()
}

/// A bundle's exchanges and how many of them were answered.
///
/// # Errors
///
/// When the index cannot be queried.
pub fn availability(conn: &Connection, id: &str) -> rusqlite::Result<Option<(u64, u64)>> {
    conn.query_row(
        "SELECT answered, exchanges FROM bundle WHERE id = ?1",
        [id],
        |r| {
            let count = |i| r.get::<_, i64>(i).map(|n| n.max(0).unsigned_abs());
            Ok((count(0)?, count(1)?))
        },
    )
    .optional()
}
