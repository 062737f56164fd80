//! The newest bundle of every (method, source) pair needs a pass over every
//! performance figure of the index; it is kept between requests until the
//! index file changes (SQLite's file change counter, size, time and inode).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::error::DashboardError;
use crate::queries::{self, INDEX_FILE, Latest};

/// What identifies one state of the index file (and of its WAL, if any).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp(Vec<u64>);

fn stamp(ledger: &Path) -> Option<Stamp> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let path = ledger.join(INDEX_FILE);
    let meta = std::fs::metadata(&path).ok()?;
    // Bytes 24..28 of the header: the file change counter, bumped by every
    // committed transaction in rollback-journal mode.
    let mut header = [0u8; 28];
    std::fs::File::open(&path)
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    let counter = u32::from_be_bytes([header[24], header[25], header[26], header[27]]);
    let mut out = vec![
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime() as u64,
        meta.mtime_nsec() as u64,
        u64::from(counter),
    ];
    let wal = ledger.join(format!("{INDEX_FILE}-wal"));
    if let Ok(w) = std::fs::metadata(wal) {
        out.extend([w.len(), w.mtime() as u64, w.mtime_nsec() as u64]);
    }
    Some(Stamp(out))
}

/// A result and the index state it was read from.
type Cached = Option<(Stamp, Arc<Vec<Latest>>)>;

/// The cached result of [`queries::latest_per_method`].
#[derive(Debug, Clone, Default)]
pub(crate) struct LatestCache(Arc<Mutex<Cached>>);

impl LatestCache {
    /// The newest bundle per (method, source), from the cache when the
    /// index has not changed since it was filled.
    pub(crate) fn get(
        &self,
        ledger: &Path,
        conn: &Connection,
    ) -> Result<Arc<Vec<Latest>>, DashboardError> {
        // Stamped before the query: a change during it refills next time.
        let now = stamp(ledger);
        if let (Some(now), Ok(guard)) = (&now, self.0.lock())
            && let Some((then, latest)) = guard.as_ref()
            && then == now
        {
            return Ok(Arc::clone(latest));
        }
        let latest = Arc::new(queries::latest_per_method(conn)?);
        if let (Some(now), Ok(mut guard)) = (now, self.0.lock()) {
            *guard = Some((now, Arc::clone(&latest)));
        }
        Ok(latest)
    }
}
