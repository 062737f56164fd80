//! A target's page as HTML, with its time series drawn by the report's
//! chart code (`tokencert_core::report::chart`).

use askama::Template;
use plotters::style::RGBColor;
use tokencert_core::report::chart::{self, BLUE, Line, ORANGE};

use super::{Nav, render};
use crate::error::DashboardError;
use crate::fmt;
use crate::links::Links;
use crate::target::{AVAILABILITY, Series, TargetView};

/// Bundles listed in the page's table (all of them are in the JSON).
const TABLE_ROWS: usize = 200;
/// Points linked under each chart (the newest).
const LINKED_POINTS: usize = 12;
/// Line colours, one per observer and signer; the first two are the
/// report's.
const PALETTE: [RGBColor; 6] = [
    BLUE,
    ORANGE,
    RGBColor(0x2e, 0x7d, 0x32),
    RGBColor(0x6a, 0x1b, 0x9a),
    RGBColor(0x00, 0x83, 0x8f),
    RGBColor(0x5d, 0x40, 0x37),
];

#[derive(Template)]
#[template(path = "target.html")]
struct Page {
    title: String,
    home: String,
    metrics: String,
    api: String,
    url: String,
    model: String,
    days: u32,
    now: String,
    bundle_count: usize,
    truncated: bool,
    series: Vec<SeriesHtml>,
    agreements: Vec<super::bundle::AgreementHtml>,
    identity: Option<super::identity::IdentityHtml>,
    bundles: Vec<BundleLine>,
    hidden_bundles: usize,
}

struct SeriesHtml {
    heading: String,
    method: String,
    svg: String,
    latest: Vec<PointLink>,
}

struct PointLink {
    text: String,
    href: String,
}

struct BundleLine {
    started_at: String,
    id: String,
    href: String,
    observer: String,
    location: String,
    probe: String,
    signer: String,
    suite: String,
    must: String,
    answered: String,
}

/// How a metric is drawn: its heading, the axis and the factor from the
/// stored SI value to the shown one.
fn shown(metric: &str) -> (&str, &'static str, f64) {
    match metric {
        "ttft_p50_seconds" => ("TTFT p50", "ms", 1000.0),
        "ttft_p95_seconds" => ("TTFT p95", "ms", 1000.0),
        "ttft_p99_seconds" => ("TTFT p99", "ms", 1000.0),
        "output_speed_p50_tokens_per_second" => ("Output speed p50", "tokens/s", 1.0),
        "error_ratio" => ("Error ratio", "%", 100.0),
        "goodput_requests_per_second" => ("Goodput", "requests/s", 1.0),
        AVAILABILITY => ("Availability (answered / exchanges)", "%", 100.0),
        other => (other, "", 1.0),
    }
}

fn series_html(s: &Series, links: Links) -> Result<SeriesHtml, DashboardError> {
    let (heading, unit, factor) = shown(&s.metric);
    let start = s
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.unix))
        .min()
        .unwrap_or(0);
    let lines: Vec<Line> = s
        .lines
        .iter()
        .zip(PALETTE.iter().cycle())
        .map(|(l, colour)| Line {
            label: l.label.clone(),
            colour: *colour,
            points: l
                .points
                .iter()
                .map(|p| ((p.unix - start) as f64 / 3600.0, p.value * factor))
                .collect(),
        })
        .collect();
    let svg = chart::lines(
        heading,
        &format!("hours since {}", fmt::utc(start)),
        unit,
        &lines,
    )
    .map_err(|reason| DashboardError::Render {
        page: "a target's chart",
        reason,
    })?;
    let mut latest: Vec<(i64, PointLink)> = s
        .lines
        .iter()
        .flat_map(|l| {
            l.points.iter().rev().take(LINKED_POINTS).map(|p| {
                (
                    p.unix,
                    PointLink {
                        text: format!("{} {unit}", fmt::num(p.value * factor)),
                        href: links.bundle(&p.bundle),
                    },
                )
            })
        })
        .collect();
    latest.sort_by_key(|(t, _)| *t);
    let skip = latest.len().saturating_sub(LINKED_POINTS);
    Ok(SeriesHtml {
        heading: heading.to_string(),
        method: s.method.as_ref().map_or(String::new(), |m| {
            format!(
                "{} · {} · workload {} · suite {}",
                m.case_id,
                m.slo,
                fmt::short(&m.workload, 12),
                fmt::short(&m.suite_digest, 12)
            )
        }),
        svg,
        latest: latest.into_iter().skip(skip).map(|(_, p)| p).collect(),
    })
}

/// Renders a target's page with `links`.
pub fn target_page(view: &TargetView, links: Links) -> Result<String, DashboardError> {
    let nav = Nav::new(links, links.api_target(&view.url, &view.model));
    let series = view
        .series
        .iter()
        .map(|s| series_html(s, links))
        .collect::<Result<_, _>>()?;
    let bundles = view
        .bundles
        .iter()
        .take(TABLE_ROWS)
        .map(|b| {
            let r = &b.row;
            BundleLine {
                started_at: r.started_at.clone(),
                id: fmt::short(&r.id, 16),
                href: links.bundle(&r.id),
                observer: r.observer.clone().unwrap_or_else(|| "–".into()),
                location: r.location.clone().unwrap_or_else(|| "–".into()),
                probe: r.probe.clone().unwrap_or_else(|| "–".into()),
                signer: b.signer_view.label.clone(),
                suite: fmt::short(&r.suite_digest, 12),
                must: format!("{} / {} / {}", r.must_pass, r.must_fail, r.must_error),
                answered: format!("{} / {}", r.answered, r.exchanges),
            }
        })
        .collect();
    let page = Page {
        title: format!("{} · {}", view.url, view.model),
        home: nav.home,
        metrics: nav.metrics,
        api: nav.api,
        url: view.url.clone(),
        model: view.model.clone(),
        days: view.days,
        now: fmt::utc(view.now_unix),
        bundle_count: view.bundles.len(),
        truncated: view.truncated,
        series,
        agreements: super::bundle::agreements_html(&view.agreements, links),
        identity: super::identity::identity_html(&view.identity, links)?,
        bundles,
        hidden_bundles: view.bundles.len().saturating_sub(TABLE_ROWS),
    };
    render("a target's page", &page)
}
