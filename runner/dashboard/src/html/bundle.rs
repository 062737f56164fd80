//! A bundle's page as HTML.

use askama::Template;

use super::{GREEN, GREY, Nav, ORANGE, RED, render};
use crate::detail::BundleView;
use crate::error::DashboardError;
use crate::fmt;
use crate::links::Links;
use crate::queries::AgreementRow;

/// Width of the verdict bars, pixels.
const BAR_WIDTH: u32 = 240;

#[derive(Template)]
#[template(path = "bundle.html")]
struct Page {
    title: String,
    home: String,
    metrics: String,
    api: String,
    id: String,
    info: Vec<(&'static str, String)>,
    target: String,
    model: String,
    target_href: String,
    on_disk: bool,
    archive_href: String,
    has_report: bool,
    report_href: String,
    verify: Vec<String>,
    bar_width: u32,
    areas: Vec<AreaHtml>,
    verdicts: Vec<crate::queries::VerdictRow>,
    /// case, slo, workload, metric, value, CI
    figures: Vec<(String, String, String, String, String, String)>,
    /// sheet, task, cost
    costs: Vec<(String, String, String)>,
    agreements: Vec<AgreementHtml>,
}

struct AreaHtml {
    area: String,
    pass: i64,
    fail: i64,
    error: i64,
    not_claimed: i64,
    segments: Vec<Segment>,
}

struct Segment {
    x: u32,
    width: u32,
    colour: &'static str,
}

/// An agreement row with links to both bundles.
pub(crate) struct AgreementHtml {
    pub(crate) a: String,
    pub(crate) a_href: String,
    pub(crate) b: String,
    pub(crate) b_href: String,
    pub(crate) case_id: String,
    pub(crate) consistent: bool,
    pub(crate) summary: String,
}

pub(crate) fn agreements_html(rows: &[AgreementRow], links: Links) -> Vec<AgreementHtml> {
    rows.iter()
        .map(|g| AgreementHtml {
            a: fmt::short(&g.a, 16),
            a_href: links.bundle(&g.a),
            b: fmt::short(&g.b, 16),
            b_href: links.bundle(&g.b),
            case_id: g.case_id.clone(),
            consistent: g.consistent,
            summary: g.summary.clone(),
        })
        .collect()
}

fn segments(counts: [(i64, &'static str); 4]) -> Vec<Segment> {
    let total: i64 = counts.iter().map(|c| c.0).sum();
    let mut x = 0;
    let mut out = Vec::new();
    if total <= 0 {
        return out;
    }
    for (n, colour) in counts {
        let width = (n as f64 / total as f64 * f64::from(BAR_WIDTH)).round() as u32;
        if width > 0 {
            out.push(Segment { x, width, colour });
            x += width;
        }
    }
    out
}

fn figure_text(metric: &str, v: f64) -> String {
    if metric.ends_with("_seconds") {
        fmt::ms(v)
    } else if metric.ends_with("_ratio") {
        fmt::pct(v)
    } else {
        fmt::num(v)
    }
}

/// Renders a bundle's page with `links`.
pub fn bundle_page(view: &BundleView, links: Links) -> Result<String, DashboardError> {
    let b = &view.bundle;
    let nav = Nav::new(links, links.api_bundle(&b.id));
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "–".into());
    let mut info = vec![
        ("Run id", b.run_id.clone()),
        ("Tool", b.tool.clone()),
        ("Suite digest", b.suite_digest.clone()),
        ("Started", b.started_at.clone()),
        ("Finished", b.finished_unix.map_or("–".into(), fmt::utc)),
        ("Signer", view.signer.label.clone()),
        ("Observer", opt(&b.observer)),
        ("Location", opt(&b.location)),
        ("Probe", opt(&b.probe)),
        (
            "Exchanges answered",
            format!("{} of {}", b.answered, b.exchanges),
        ),
        ("Tokens billed", b.tokens_billed.to_string()),
        (
            "MUST pass / fail / error",
            format!("{} / {} / {}", b.must_pass, b.must_fail, b.must_error),
        ),
        (
            "SHOULD pass / fail",
            format!("{} / {}", b.should_pass, b.should_fail),
        ),
    ];
    if b.interrupted {
        info.push(("Interrupted", "yes: a partial run".into()));
    }
    if b.evidence_pruned {
        info.push(("Evidence", "pruned by the retention policy".into()));
    }
    if b.pinned {
        info.push(("Pinned", "yes: kept past retention".into()));
    }
    let page = Page {
        title: format!("Bundle {}", fmt::short(&b.id, 16)),
        home: nav.home,
        metrics: nav.metrics,
        api: nav.api,
        id: b.id.clone(),
        info,
        target: b.target_url.clone(),
        model: b.model.clone(),
        target_href: links.target(&b.target_url, &b.model),
        on_disk: view.on_disk,
        archive_href: links.archive(&b.id),
        has_report: view.has_report,
        report_href: links.report(&b.id),
        verify: view.verify_commands.clone(),
        bar_width: BAR_WIDTH,
        areas: view
            .areas
            .iter()
            .map(|a| AreaHtml {
                area: a.area.clone(),
                pass: a.pass,
                fail: a.fail,
                error: a.error,
                not_claimed: a.not_claimed,
                segments: segments([
                    (a.pass, GREEN),
                    (a.fail, RED),
                    (a.error, ORANGE),
                    (a.not_claimed, GREY),
                ]),
            })
            .collect(),
        verdicts: view.verdicts.clone(),
        figures: view
            .figures
            .iter()
            .map(|f| {
                let ci = match (f.low, f.high) {
                    (Some(lo), Some(hi)) => {
                        format!(
                            "{}–{}",
                            figure_text(&f.metric, lo),
                            figure_text(&f.metric, hi)
                        )
                    }
                    _ => "–".into(),
                };
                (
                    f.case_id.clone(),
                    f.slo.clone(),
                    fmt::short(&f.workload, 12),
                    f.metric.clone(),
                    figure_text(&f.metric, f.value),
                    ci,
                )
            })
            .collect(),
        costs: view
            .costs
            .iter()
            .map(|c| {
                (
                    c.sheet.clone(),
                    c.task.clone(),
                    c.micros
                        .map_or("not priced".into(), |m| fmt::money(m, &c.currency)),
                )
            })
            .collect(),
        agreements: agreements_html(&view.agreements, links),
    };
    render("a bundle's page", &page)
}
