//! A target's page: its bundles, a time series per figure (one line per
//! observer and signer, one chart per method), and the agreement between
//! signers.

use std::collections::{BTreeMap, HashMap};

use rusqlite::Connection;
use serde::Serialize;

use crate::error::DashboardError;
use crate::identity::{self, IdentityPoint};
use crate::queries::{self, AgreementRow, BundleRow, Method};
use crate::trust::{SignerView, Trust};

/// The page covers at most this many of the target's newest bundles.
pub const MAX_BUNDLES: usize = 2000;
/// Agreement rows shown at most.
pub const MAX_AGREEMENTS: usize = 200;
/// Days covered when `?days=` is not given, and at most.
pub const DEFAULT_DAYS: u32 = 30;
/// The most `?days=` may ask for.
pub const MAX_DAYS: u32 = 366;
/// The figures drawn over time, in this order.
pub const SERIES_METRICS: [&str; 6] = [
    "ttft_p50_seconds",
    "ttft_p95_seconds",
    "ttft_p99_seconds",
    "output_speed_p50_tokens_per_second",
    "error_ratio",
    "goodput_requests_per_second",
];
/// The availability series' metric name.
pub const AVAILABILITY: &str = "availability_ratio";

/// Everything on a target's page.
#[derive(Debug, Serialize)]
pub struct TargetView {
    /// The target's base URL.
    pub url: String,
    /// The model.
    pub model: String,
    /// Days covered, ending now.
    pub days: u32,
    /// The clock the window ends at.
    pub now_unix: i64,
    /// Bundles in the window, newest first (at most [`MAX_BUNDLES`]).
    pub bundles: Vec<BundleBrief>,
    /// Whether the window held more bundles than shown.
    pub truncated: bool,
    /// Availability, then each figure per method, over time.
    pub series: Vec<Series>,
    /// Signer agreement among the target's bundles.
    pub agreements: Vec<AgreementRow>,
    /// Its fingerprint bundles in the window, each identified against the
    /// target's baseline, oldest first (at most
    /// [`crate::identity::MAX_POINTS`], the newest).
    pub identity: Vec<IdentityPoint>,
}

/// A bundle as listed on a target's page.
#[derive(Debug, Serialize)]
pub struct BundleBrief {
    /// The bundle row.
    #[serde(flatten)]
    pub row: BundleRow,
    /// The signer as shown.
    pub signer_view: SignerView,
}

/// One figure over time, one line per source.
#[derive(Debug, Serialize)]
pub struct Series {
    /// The method (None for availability, which every bundle has).
    pub method: Option<Method>,
    /// The metric name.
    pub metric: String,
    /// One line per observer and signer.
    pub lines: Vec<SeriesLine>,
}

/// The points of one observer and signer.
#[derive(Debug, Serialize)]
pub struct SeriesLine {
    /// "observer · signer".
    pub label: String,
    /// The observer.
    pub observer: Option<String>,
    /// The signer.
    pub signer: SignerView,
    /// Oldest first.
    pub points: Vec<Point>,
}

/// One bundle's value.
#[derive(Debug, Serialize)]
pub struct Point {
    /// When the bundle started.
    pub unix: i64,
    /// The value.
    pub value: f64,
    /// The bundle.
    pub bundle: String,
}

/// Builds a target's page over the `days` before `now_unix`.
pub fn target(
    conn: &Connection,
    trust: &Trust,
    url: &str,
    model: &str,
    days: u32,
    now_unix: i64,
) -> Result<Option<TargetView>, DashboardError> {
    let since = now_unix - i64::from(days) * 86_400;
    let rows = queries::target_bundles(conn, url, model, since, MAX_BUNDLES + 1)?;
    if rows.is_empty() && queries::target_bundles(conn, url, model, i64::MIN, 1)?.is_empty() {
        return Ok(None);
    }
    let truncated = rows.len() > MAX_BUNDLES;
    let mut rows = rows;
    rows.truncate(MAX_BUNDLES);
    let by_id: HashMap<&str, &BundleRow> = rows.iter().map(|r| (r.id.as_str(), r)).collect();

    // (method, metric) -> (observer, signer) -> points
    type Lines = BTreeMap<(Option<String>, Option<String>), Vec<Point>>;
    let mut grouped: BTreeMap<(Option<Method>, String), Lines> = BTreeMap::new();
    for row in rows.iter().rev() {
        if row.exchanges > 0 {
            grouped
                .entry((None, AVAILABILITY.to_string()))
                .or_default()
                .entry((row.observer.clone(), row.signer.clone()))
                .or_default()
                .push(Point {
                    unix: row.started_unix,
                    value: row.answered as f64 / row.exchanges as f64,
                    bundle: row.id.clone(),
                });
        }
    }
    let mut figures = queries::target_figures(conn, url, model, since, MAX_BUNDLES)?;
    figures.retain(|(_, f)| SERIES_METRICS.contains(&f.metric.as_str()));
    figures.sort_by_key(|(id, _)| by_id.get(id.as_str()).map(|r| (r.started_unix, &r.id)));
    for (id, f) in figures {
        let Some(row) = by_id.get(id.as_str()) else {
            continue;
        };
        let method = Method {
            suite_digest: row.suite_digest.clone(),
            case_id: f.case_id,
            workload: f.workload,
            slo: f.slo,
        };
        grouped
            .entry((Some(method), f.metric))
            .or_default()
            .entry((row.observer.clone(), row.signer.clone()))
            .or_default()
            .push(Point {
                unix: row.started_unix,
                value: f.value,
                bundle: id,
            });
    }
    let rank = |m: &str| SERIES_METRICS.iter().position(|x| *x == m).unwrap_or(0);
    let mut series: Vec<Series> = grouped
        .into_iter()
        .map(|((method, metric), lines)| Series {
            method,
            lines: lines
                .into_iter()
                .map(|((observer, signer), points)| {
                    let signer = trust.view(signer.as_deref());
                    let who = match (&signer.known, &signer.key_id) {
                        (None, Some(id)) => format!("unknown key {}", crate::fmt::short(id, 19)),
                        _ => signer.label.clone(),
                    };
                    SeriesLine {
                        label: format!("{} · {who}", observer.as_deref().unwrap_or("-")),
                        observer,
                        signer,
                        points,
                    }
                })
                .collect(),
            metric,
        })
        .collect();
    series.sort_by(|a, b| {
        (a.method.is_some(), &a.method, rank(&a.metric)).cmp(&(
            b.method.is_some(),
            &b.method,
            rank(&b.metric),
        ))
    });
    let bundles = rows
        .into_iter()
        .map(|row| BundleBrief {
            signer_view: trust.view(row.signer.as_deref()),
            row,
        })
        .collect();
    Ok(Some(TargetView {
        url: url.to_string(),
        model: model.to_string(),
        days,
        now_unix,
        bundles,
        truncated,
        series,
        agreements: queries::target_agreements(conn, url, model, MAX_AGREEMENTS)?,
        identity: identity::of_target(conn, url, model, since, identity::MAX_POINTS)?,
    }))
}
