//! A target's identity over time as HTML: its fingerprint bundles, each
//! identified against the target's baseline, drawn with the report's chart
//! code and listed with links to their bundles.

use tokencert_core::report::chart::{self, BLUE, Line, ORANGE};

use crate::error::DashboardError;
use crate::fmt;
use crate::identity::IdentityPoint;
use crate::links::Links;

/// Fingerprints listed in the page's table, newest first (all of them are
/// in the JSON).
const TABLE_ROWS: usize = 100;

/// The identity section of a target's page.
pub(crate) struct IdentityHtml {
    /// How many fingerprints, against which baseline.
    pub summary: String,
    /// The tokenizer families implied, in order of appearance, with their
    /// first and last fingerprint.
    pub families: Vec<String>,
    /// The decision per fingerprint, then the median log-probability
    /// difference, as inline SVG.
    pub charts: Vec<String>,
    /// The newest fingerprints.
    pub rows: Vec<IdentityLine>,
}

/// One fingerprint in the table.
pub(crate) struct IdentityLine {
    pub started: String,
    pub bundle: String,
    pub href: String,
    pub decision: String,
    /// `ok`, `bad` or empty: the cell's class.
    pub class: &'static str,
    pub greedy: String,
    pub logprob: String,
    pub tokenizer: String,
    pub tasks: String,
    pub reasons: String,
}

fn chart_error(reason: String) -> DashboardError {
    DashboardError::Render {
        page: "a target's identity chart",
        reason,
    }
}

/// The section for `points` (oldest first); `None` without fingerprints.
pub(crate) fn identity_html(
    points: &[IdentityPoint],
    links: Links,
) -> Result<Option<IdentityHtml>, DashboardError> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Ok(None);
    };
    let start = first.row.started_unix;
    let hours = |p: &IdentityPoint| (p.row.started_unix - start) as f64 / 3600.0;
    let x_desc = format!("hours since {}", fmt::utc(start));
    let decisions = chart::lines(
        "Identity against the baseline",
        &x_desc,
        "1 same model, 0.5 cannot tell, 0 different",
        &[Line {
            label: "decision per fingerprint".into(),
            colour: BLUE,
            points: points
                .iter()
                .map(|p| (hours(p), p.same().unwrap_or(0.5)))
                .collect(),
        }],
    )
    .map_err(chart_error)?;
    let median = |f: fn(&IdentityPoint) -> Option<f64>| {
        points
            .iter()
            .filter_map(|p| f(p).map(|v| (hours(p), v)))
            .collect::<Vec<_>>()
    };
    let logprobs = chart::lines(
        "Median log-probability difference from the baseline",
        &x_desc,
        "nats",
        &[
            Line {
                label: "fingerprint vs baseline".into(),
                colour: BLUE,
                points: median(|p| p.logprob_median_nats),
            },
            Line {
                label: "noise floor (first two fingerprints)".into(),
                colour: ORANGE,
                points: median(|p| p.noise_median_nats),
            },
        ],
    )
    .map_err(chart_error)?;
    let mut families: Vec<(String, i64, i64, usize)> = Vec::new();
    for p in points {
        match families.last_mut() {
            Some(f) if f.0 == p.row.tokenizer_implied => {
                f.2 = p.row.started_unix;
                f.3 += 1;
            }
            _ => families.push((
                p.row.tokenizer_implied.clone(),
                p.row.started_unix,
                p.row.started_unix,
                1,
            )),
        }
    }
    let rows = points
        .iter()
        .rev()
        .take(TABLE_ROWS)
        .map(|p| line(p, links))
        .collect();
    Ok(Some(IdentityHtml {
        summary: format!(
            "{} fingerprints ({}), each identified against the baseline, the target's first \
             fingerprint ({}, bundle {}); the noise floor is its first two. Newest: {}.",
            points.len(),
            last.row.probe_set,
            fmt::utc(start),
            fmt::short(&last.row.baseline, 16),
            last.decision_name
        ),
        families: families
            .into_iter()
            .map(|(family, from, to, n)| {
                format!(
                    "{family}: {n} fingerprint(s), {} to {}",
                    fmt::utc(from),
                    fmt::utc(to)
                )
            })
            .collect(),
        charts: vec![decisions, logprobs],
        rows,
    }))
}

fn line(p: &IdentityPoint, links: Links) -> IdentityLine {
    let r = &p.row;
    let nats = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.3}"));
    IdentityLine {
        started: fmt::utc(r.started_unix),
        bundle: fmt::short(&r.bundle, 16),
        href: links.bundle(&r.bundle),
        decision: p.decision_name.clone(),
        class: match r.decision.as_str() {
            "same_model" => "ok",
            "different_model" => "bad",
            _ => "",
        },
        greedy: format!("{} / {}", r.greedy_divergent, r.greedy_compared),
        logprob: format!(
            "{} (noise {})",
            nats(p.logprob_median_nats),
            nats(p.noise_median_nats)
        ),
        tokenizer: format!("{} ({})", r.tokenizer_implied, r.tokenizer_finding),
        tasks: format!("{} / {}", r.tasks_passed, r.tasks_total),
        reasons: r.reasons.replace('\n', "; "),
    }
}

/// The newest identity of one target on the leaderboard.
pub(crate) struct LatestIdentity {
    pub target: String,
    pub target_href: String,
    pub model: String,
    pub probe_set: String,
    pub line: IdentityLine,
}

/// The leaderboard's identity table: the newest fingerprint of each target,
/// model and probe set.
pub(crate) fn latest_html(points: &[IdentityPoint], links: Links) -> Vec<LatestIdentity> {
    points
        .iter()
        .map(|p| LatestIdentity {
            target: p.row.target_url.clone(),
            target_href: links.target(&p.row.target_url, &p.row.model),
            model: p.row.model.clone(),
            probe_set: p.row.probe_set.clone(),
            line: line(p, links),
        })
        .collect()
}
