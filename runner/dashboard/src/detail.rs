//! A bundle's page: run info, signer, verdicts by area, figures, costs,
//! agreement, and how to download and verify it offline.

use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;

use crate::error::DashboardError;
use crate::queries::{self, AgreementRow, BundleRow, CostRow, FigureRow, VerdictRow};
use crate::trust::{SignerView, Trust};

pub use tokencert_ledger::BUNDLES_DIR;
/// A report rendered into the bundle, linked when present.
pub const REPORT_FILE: &str = "report.html";

/// Everything on a bundle's page.
#[derive(Debug, Serialize)]
pub struct BundleView {
    /// The index row.
    pub bundle: BundleRow,
    /// The signer as shown.
    pub signer: SignerView,
    /// Verdict counts.
    pub verdicts: Vec<VerdictRow>,
    /// Verdict counts by area: (area, pass, fail, error, not claimed).
    pub areas: Vec<AreaCounts>,
    /// Key figures of its performance cases.
    pub figures: Vec<FigureRow>,
    /// Cost per task per price sheet.
    pub costs: Vec<CostRow>,
    /// Comparisons with other signers' bundles.
    pub agreements: Vec<AgreementRow>,
    /// Whether `bundles/<id>/report.html` exists.
    pub has_report: bool,
    /// Whether the bundle directory is in the ledger.
    pub on_disk: bool,
    /// The shell commands that verify it offline.
    pub verify_commands: Vec<String>,
}

/// Verdict counts of one clause area, all levels together.
#[derive(Debug, Serialize)]
pub struct AreaCounts {
    /// The area.
    pub area: String,
    /// Passed cases.
    pub pass: i64,
    /// Failed cases.
    pub fail: i64,
    /// Cases that could not be judged.
    pub error: i64,
    /// Cases for capabilities the target does not claim.
    pub not_claimed: i64,
}

/// Whether `id` is a bundle id: 64 lowercase hex digits.
pub fn is_bundle_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Builds a bundle's page; None when the index has no such bundle.
pub fn bundle(
    conn: &Connection,
    trust: &Trust,
    ledger: &Path,
    id: &str,
) -> Result<Option<BundleView>, DashboardError> {
    if !is_bundle_id(id) {
        return Ok(None);
    }
    let Some(row) = queries::bundle(conn, id)? else {
        return Ok(None);
    };
    let verdicts = queries::verdicts(conn, id)?;
    let mut areas: Vec<AreaCounts> = Vec::new();
    for v in &verdicts {
        if areas.last().is_none_or(|a| a.area != v.area) {
            areas.push(AreaCounts {
                area: v.area.clone(),
                pass: 0,
                fail: 0,
                error: 0,
                not_claimed: 0,
            });
        }
        if let Some(a) = areas.last_mut() {
            match v.verdict.as_str() {
                "pass" => a.pass += v.cases,
                "fail" => a.fail += v.cases,
                "error" => a.error += v.cases,
                _ => a.not_claimed += v.cases,
            }
        }
    }
    let dir = ledger.join(BUNDLES_DIR).join(id);
    let signer = trust.view(row.signer.as_deref());
    Ok(Some(BundleView {
        verify_commands: verify_commands(id, &row.suite_digest, &signer),
        signer,
        verdicts,
        areas,
        figures: queries::figures(conn, id)?,
        costs: queries::costs(conn, id)?,
        agreements: queries::bundle_agreements(conn, id)?,
        has_report: dir.join(REPORT_FILE).is_file(),
        on_disk: dir.join(tokencert_core::bundle::MANIFEST_FILE).is_file(),
        bundle: row,
    }))
}

/// The commands that check a downloaded bundle offline, from a tokencert
/// checkout whose suite has the bundle's digest.
fn verify_commands(id: &str, suite_digest: &str, signer: &SignerView) -> Vec<String> {
    let mut out = vec![
        format!("tar -xf {id}.tar"),
        format!(
            "# from a tokencert checkout whose suite digest is {suite_digest} (or pass --suite DIR):"
        ),
    ];
    match &signer.key_id {
        Some(key_id) => {
            out.push(format!(
                "# signer.pub.pem: the public key of key id {key_id}, obtained from its signer"
            ));
            out.push(format!(
                "tokencert verify --key signer.pub.pem bundles/{id}"
            ));
        }
        None => out.push(format!("tokencert verify bundles/{id}")),
    }
    out
}
