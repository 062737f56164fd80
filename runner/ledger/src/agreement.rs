//! Signer agreement: two bundles of the same target, model and suite, by
//! different signers (or one unsigned), whose run windows come within an
//! hour of each other, are compared with `tokencert_core::compare` (what
//! `tokencert compare` does), per performance case they ran by the same
//! method, and as a whole when they ran the same cases.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use tokencert_core::bundle::{self, Signer, Verified};
use tokencert_core::compare::{self, CompareError, Comparison, Decision};

use crate::index::AgreementRow;
use crate::rows::{BundleRow, Rows};

/// How far apart two runs' windows may be and still be compared, seconds.
pub const WINDOW_SLACK_SECONDS: i64 = 3600;

/// The `case_id` of the row for the whole comparison.
pub const WHOLE: &str = "*";

/// One bundle as a comparison needs it.
#[derive(Debug, Clone)]
pub(crate) struct Party {
    /// Where its files are.
    pub dir: PathBuf,
    /// Its id.
    pub id: String,
    /// Its signer's key id.
    pub signer: Option<String>,
    /// When it started, Unix seconds (the order of the pair).
    pub start: i64,
    /// The cases it ran.
    pub cases: BTreeSet<String>,
    /// Its performance cases' methods: case → (workload, slo).
    pub methods: BTreeMap<String, (String, String)>,
}

impl Party {
    /// A bundle whose rows are at hand.
    pub fn of_rows(dir: &Path, rows: &Rows, cases: BTreeSet<String>) -> Self {
        let b = &rows.bundle;
        Self {
            dir: dir.to_path_buf(),
            id: b.id.clone(),
            signer: b.signer.clone(),
            start: b.started_unix,
            cases,
            methods: rows
                .figures
                .iter()
                .map(|f| (f.case_id.clone(), (f.workload.clone(), f.slo.clone())))
                .collect(),
        }
    }
}

/// Whether two bundles' rows make them candidates: same target, model and
/// suite, different signers, windows within [`WINDOW_SLACK_SECONDS`].
pub(crate) fn candidates(a: &BundleRow, b: &BundleRow) -> bool {
    let end = |r: &BundleRow| r.finished_unix.unwrap_or(r.started_unix);
    a.target_url == b.target_url
        && a.model == b.model
        && a.suite_digest == b.suite_digest
        && a.signer != b.signer
        && a.started_unix <= end(b) + WINDOW_SLACK_SECONDS
        && b.started_unix <= end(a) + WINDOW_SLACK_SECONDS
}

/// Compares two candidates; no rows when they share no method.
///
/// # Errors
///
/// When a bundle's files or samples cannot be read.
pub(crate) fn compare_pair(x: &Party, y: &Party) -> Result<Vec<AgreementRow>, CompareError> {
    let (a, b) = if (x.start, &x.id) <= (y.start, &y.id) {
        (x, y)
    } else {
        (y, x)
    };
    let shared: Vec<&String> = a
        .methods
        .iter()
        .filter(|(case, method)| b.methods.get(*case) == Some(method))
        .map(|(case, _)| case)
        .collect();
    let same_cases = a.cases == b.cases;
    if shared.is_empty() && !same_cases {
        return Ok(Vec::new());
    }
    let comparison = compare::compare(&side(a)?, &side(b)?);
    let mut rows: Vec<AgreementRow> = shared
        .into_iter()
        .map(|case| {
            let (consistent, summary) = case_summary(&comparison, case);
            AgreementRow {
                a: a.id.clone(),
                b: b.id.clone(),
                case_id: case.clone(),
                consistent,
                summary,
            }
        })
        .collect();
    if same_cases {
        rows.push(AgreementRow {
            a: a.id.clone(),
            b: b.id.clone(),
            case_id: WHOLE.into(),
            consistent: comparison.consistent(),
            summary: whole_summary(&comparison),
        });
    }
    Ok(rows)
}

/// A stored bundle as the comparison reads it (it verified when added).
fn side(party: &Party) -> Result<compare::Side, CompareError> {
    let failed = |source| CompareError::Bundle {
        bundle: party.id.clone(),
        source,
    };
    let run = bundle::read_run(&party.dir).map_err(failed)?;
    let results = bundle::read_results(&party.dir).map_err(failed)?;
    let signer = match &party.signer {
        None => Signer::Unsigned,
        Some(keyid) => Signer::Unchecked {
            keyid: keyid.clone(),
        },
    };
    let verified = Verified {
        run,
        results,
        files: 0,
        signer,
    };
    compare::read_side(&party.dir, verified)
}

/// One performance case: its verdicts, then each test of its load.
fn case_summary(c: &Comparison, case: &str) -> (bool, String) {
    let verdict = c.verdicts.iter().find(|v| v.case == case);
    let agree = verdict.is_some_and(|v| v.agree);
    let load = c.loads.iter().find(|l| l.case == case);
    let differences: Vec<&str> = c
        .differences
        .iter()
        .filter(|d| d.starts_with(&format!("{case} ")) || d.starts_with(&format!("{case}:")))
        .map(String::as_str)
        .collect();
    let Some(load) = load else {
        return (
            false,
            format!("{case}: no figures in one of the runs to compare"),
        );
    };
    let tests = load
        .metrics
        .iter()
        .flat_map(|m| &m.percentiles)
        .filter(|q| q.decision != Decision::NotMeasured)
        .count()
        + 1;
    let thin = load
        .metrics
        .iter()
        .flat_map(|m| &m.percentiles)
        .filter(|q| q.decision != Decision::NotMeasured && q.too_few_samples)
        .count();
    let consistent = agree && differences.is_empty();
    let summary = if consistent {
        let verdict = verdict
            .and_then(|v| v.a)
            .map_or("not run", tokencert_core::judge::Verdict::name);
        let mut text =
            format!("consistent: verdict {verdict} in both; {tests} tests, none differs");
        if thin > 0 {
            text += &format!(" ({thin} with too few samples to see a difference)");
        }
        text
    } else {
        format!("differs: {}", differences.join("; "))
    };
    (consistent, summary)
}

/// The whole comparison, as `tokencert compare` ends.
fn whole_summary(c: &Comparison) -> String {
    if c.consistent() {
        format!(
            "consistent: all {} verdicts agree and none of {} tests differs",
            c.verdicts.len(),
            c.method.tests
        )
    } else {
        format!("differs: {}", c.differences.join("; "))
    }
}
