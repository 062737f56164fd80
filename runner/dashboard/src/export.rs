//! A static site of the dashboard: the same pages with relative links,
//! their JSON, the Prometheus text, and the bundles themselves (as
//! directories and as one archive each), publishable on any static host and
//! verifiable offline.
//!
//! ```text
//! OUT/index.html                 the leaderboard
//! OUT/target/<slug>.html         a page per target
//! OUT/bundle/<id>.html           a page per bundle
//! OUT/bundle/<id>.tar            the bundle as one archive
//! OUT/bundles/<id>/...           the bundle's files
//! OUT/api/leaderboard.json, api/target/<slug>.json, api/bundle/<id>.json
//! OUT/metrics.txt                the Prometheus text
//! ```

use std::path::Path;

use serde::Serialize;

use crate::board::{self, SortKey};
use crate::dashboard::Dashboard;
use crate::detail::{self, BUNDLES_DIR};
use crate::error::DashboardError;
use crate::links::{Links, slug};
use crate::target::{self, DEFAULT_DAYS};
use crate::{archive, html, metrics, queries};

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    /// Target pages.
    pub targets: usize,
    /// Bundle pages.
    pub bundle_pages: usize,
    /// Bundles copied (those whose files are in the ledger).
    pub bundles_copied: usize,
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), DashboardError> {
    std::fs::write(path, bytes).map_err(|e| DashboardError::io(path, e))
}

fn mkdir(path: &Path) -> Result<(), DashboardError> {
    std::fs::create_dir_all(path).map_err(|e| DashboardError::io(path, e))
}

fn json(value: &impl Serialize) -> Result<Vec<u8>, DashboardError> {
    serde_json::to_vec_pretty(value).map_err(|e| DashboardError::Render {
        page: "the JSON",
        reason: e.to_string(),
    })
}

/// Writes the site of `dashboard` into `out`, which must be new or empty.
pub fn export(dashboard: &Dashboard, out: &Path) -> Result<Exported, DashboardError> {
    if let Ok(mut entries) = std::fs::read_dir(out)
        && entries.next().is_some()
    {
        return Err(DashboardError::io(
            out,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "not empty; export into a new or empty directory",
            ),
        ));
    }
    for dir in ["target", "bundle", BUNDLES_DIR, "api/target", "api/bundle"] {
        mkdir(&out.join(dir))?;
    }
    let conn = queries::open(dashboard.ledger())?;
    let trust = dashboard.trust();
    let now = dashboard.now();

    let board = board::leaderboard(&conn, trust, now, SortKey::TtftP50)?;
    write(
        &out.join("index.html"),
        html::leaderboard_page(&board, Links::Export { depth: 0 })?,
    )?;
    write(&out.join("api/leaderboard.json"), json(&board)?)?;
    write(&out.join("metrics.txt"), metrics::render(&board))?;

    let targets = queries::targets(&conn)?;
    for (url, model) in &targets {
        let Some(view) = target::target(&conn, trust, url, model, DEFAULT_DAYS, now)? else {
            continue;
        };
        let name = slug(url, model);
        write(
            &out.join("target").join(format!("{name}.html")),
            html::target_page(&view, Links::Export { depth: 1 })?,
        )?;
        write(
            &out.join("api/target").join(format!("{name}.json")),
            json(&view)?,
        )?;
    }

    let mut exported = Exported {
        targets: targets.len(),
        bundle_pages: 0,
        bundles_copied: 0,
    };
    for id in queries::bundle_ids(&conn)? {
        let Some(view) = detail::bundle(&conn, trust, dashboard.ledger(), &id)? else {
            continue;
        };
        write(
            &out.join("bundle").join(format!("{id}.html")),
            html::bundle_page(&view, Links::Export { depth: 1 })?,
        )?;
        write(
            &out.join("api/bundle").join(format!("{id}.json")),
            json(&view)?,
        )?;
        exported.bundle_pages += 1;
        if view.on_disk {
            let from = dashboard.ledger().join(BUNDLES_DIR).join(&id);
            copy_dir(&from, &out.join(BUNDLES_DIR).join(&id))?;
            let tar_path = out.join("bundle").join(format!("{id}.tar"));
            let file =
                std::fs::File::create(&tar_path).map_err(|e| DashboardError::io(&tar_path, e))?;
            let file = archive::write_tar(&from, &id, std::io::BufWriter::new(file))?;
            file.into_inner()
                .map_err(|e| DashboardError::io(&tar_path, e.into_error()))?;
            exported.bundles_copied += 1;
        }
    }
    Ok(exported)
}

/// Copies directories and regular files (links are skipped, never followed).
fn copy_dir(from: &Path, to: &Path) -> Result<(), DashboardError> {
    mkdir(to)?;
    let entries = std::fs::read_dir(from).map_err(|e| DashboardError::io(from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DashboardError::io(from, e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| DashboardError::io(&path, e))?;
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&path, &dest)?;
        } else if kind.is_file() {
            std::fs::copy(&path, &dest).map_err(|e| DashboardError::io(&path, e))?;
        }
    }
    Ok(())
}
