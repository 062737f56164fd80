//! A ledger opened for reading: the index, the trust file and a clock.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::board::{self, Leaderboard, SortKey};
use crate::detail::{self, BUNDLES_DIR, BundleView};
use crate::error::DashboardError;
use crate::queries;
use crate::summary;
use crate::target::{self, TargetView};
use crate::trust::Trust;

/// A ledger directory opened read-only.
#[derive(Debug, Clone)]
pub struct Dashboard {
    ledger: PathBuf,
    trust: Trust,
    now_unix: Option<i64>,
}

impl Dashboard {
    /// Opens `ledger`: checks that its index opens read-only and reads
    /// trust.yaml (absent: no signer is known). An index made before the
    /// ledger kept summary tables is refused (`tokencert ledger rebuild`
    /// recreates it).
    pub fn open(ledger: &Path) -> Result<Dashboard, DashboardError> {
        let conn = queries::open(ledger)?;
        if !summary::present(&conn)? {
            return Err(DashboardError::Outdated {
                path: ledger.join(queries::INDEX_FILE),
            });
        }
        Ok(Dashboard {
            ledger: ledger.to_path_buf(),
            trust: Trust::load(ledger)?,
            now_unix: None,
        })
    }

    /// The same dashboard with its clock stopped at `now_unix` (for tests
    /// and reproducible exports).
    pub fn at(mut self, now_unix: i64) -> Dashboard {
        self.now_unix = Some(now_unix);
        self
    }

    /// Known signers.
    pub(crate) fn trust(&self) -> &Trust {
        &self.trust
    }

    /// The ledger directory.
    pub fn ledger(&self) -> &Path {
        &self.ledger
    }

    /// Now, Unix seconds: the availability windows end here.
    pub fn now(&self) -> i64 {
        self.now_unix.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        })
    }

    /// The leaderboard sorted by `sort`.
    pub fn leaderboard(&self, sort: SortKey) -> Result<Leaderboard, DashboardError> {
        let conn = queries::open(&self.ledger)?;
        board::leaderboard(&conn, &self.trust, self.now(), sort)
    }

    /// A target's page over the last `days`; None when the index has no
    /// bundle of it.
    pub fn target(
        &self,
        url: &str,
        model: &str,
        days: u32,
    ) -> Result<Option<TargetView>, DashboardError> {
        let conn = queries::open(&self.ledger)?;
        target::target(&conn, &self.trust, url, model, days, self.now())
    }

    /// A bundle's page; None when the index has no such bundle.
    pub fn bundle(&self, id: &str) -> Result<Option<BundleView>, DashboardError> {
        let conn = queries::open(&self.ledger)?;
        detail::bundle(&conn, &self.trust, &self.ledger, id)
    }

    /// Where a bundle's files are (`LEDGER/bundles/<id>`); `id` must be a
    /// bundle id.
    pub fn bundle_dir(&self, id: &str) -> Option<PathBuf> {
        detail::is_bundle_id(id).then(|| self.ledger.join(BUNDLES_DIR).join(id))
    }
}
