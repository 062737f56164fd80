//! The leaderboard as HTML.

use askama::Template;

use super::{BLUE, Bar, Cell, Nav, ORANGE, render};
use crate::board::{Board, Entry, Figure, Leaderboard, SortKey};
use crate::error::DashboardError;
use crate::fmt;
use crate::links::Links;

#[derive(Template)]
#[template(path = "leaderboard.html")]
struct Page {
    title: &'static str,
    home: String,
    metrics: String,
    api: String,
    now: String,
    bundles: i64,
    sort_links: Vec<SortLink>,
    boards: Vec<BoardHtml>,
    identity: Vec<super::identity::LatestIdentity>,
}

struct SortLink {
    name: &'static str,
    href: String,
    active: bool,
}

struct BoardHtml {
    case_id: String,
    slo: String,
    suite: String,
    workload: String,
    rows: Vec<RowHtml>,
}

struct RowHtml {
    target: String,
    model: String,
    target_href: String,
    observer: String,
    signer: String,
    signer_full: String,
    conformance: Vec<Cell>,
    /// TTFT p50, p95, p99, output speed, availability 24 h and 7 d, stability.
    figures: Vec<Cell>,
    cost: Vec<Cell>,
}

/// Renders the leaderboard with `links`.
pub fn leaderboard_page(board: &Leaderboard, links: Links) -> Result<String, DashboardError> {
    let nav = Nav::new(links, links.api_leaderboard());
    let sort_links = SortKey::ALL
        .into_iter()
        .filter_map(|k| {
            links.sort(k.name()).map(|href| SortLink {
                name: k.name(),
                href,
                active: k == board.sort,
            })
        })
        .collect();
    let page = Page {
        title: "Leaderboard",
        home: nav.home,
        metrics: nav.metrics,
        api: nav.api,
        now: fmt::utc(board.now_unix),
        bundles: board.bundles,
        sort_links,
        boards: board.methods.iter().map(|b| board_html(b, links)).collect(),
        identity: super::identity::latest_html(&board.identity, links),
    };
    render("the leaderboard", &page)
}

fn board_html(board: &Board, links: Links) -> BoardHtml {
    let max = |f: fn(&Entry) -> Option<&Figure>| {
        board
            .rows
            .iter()
            .filter_map(|e| f(e).map(|x| x.value))
            .fold(0.0, f64::max)
    };
    let ttft_max = max(|e| e.ttft_p50.as_ref());
    let speed_max = max(|e| e.output_speed.as_ref());
    BoardHtml {
        case_id: board.method.case_id.clone(),
        slo: board.method.slo.clone(),
        suite: fmt::short(&board.method.suite_digest, 16),
        workload: fmt::short(&board.method.workload, 16),
        rows: board
            .rows
            .iter()
            .map(|e| row_html(e, links, ttft_max, speed_max))
            .collect(),
    }
}

fn row_html(e: &Entry, links: Links, ttft_max: f64, speed_max: f64) -> RowHtml {
    let target_href = links.target(&e.source.target_url, &e.source.model);
    let latency = |f: &Option<Figure>, bar: bool| match f {
        Some(f) => Cell {
            sub: match (f.low, f.high) {
                (Some(lo), Some(hi)) => format!("({}–{})", fmt::ms(lo), fmt::ms(hi)),
                _ => String::new(),
            },
            bar: if bar {
                Bar::of(f.value, ttft_max, BLUE)
            } else {
                None
            },
            ..Cell::link(fmt::ms(f.value), links.bundle(&f.bundle))
        },
        None => Cell::plain("–"),
    };
    let speed = match &e.output_speed {
        Some(f) => Cell {
            sub: match (f.low, f.high) {
                (Some(lo), Some(hi)) => format!("({}–{})", fmt::num(lo), fmt::num(hi)),
                _ => String::new(),
            },
            bar: Bar::of(f.value, speed_max, ORANGE),
            ..Cell::link(
                format!("{} tok/s", fmt::num(f.value)),
                links.bundle(&f.bundle),
            )
        },
        None => Cell::plain("–"),
    };
    // Availability and stability span many bundles: they link to the
    // target's page, which lists them.
    let ratio = |r: &Option<crate::board::Ratio>| match r {
        Some(r) => Cell {
            sub: format!("{}/{}", r.part, r.whole),
            ..Cell::link(fmt::pct(r.ratio), target_href.clone())
        },
        None => Cell::plain("–"),
    };
    let stability = match &e.stability {
        Some(s) => Cell {
            sub: format!("{} bundles", s.bundles),
            ..Cell::link(fmt::num(s.cv), target_href.clone())
        },
        None => Cell::plain("–"),
    };
    let mut conformance = Vec::new();
    let rate = |r: &Option<crate::board::Ratio>| {
        r.as_ref().map_or("–".to_string(), |r| {
            format!("{} ({}/{})", fmt::pct(r.ratio), r.part, r.whole)
        })
    };
    conformance.push(Cell::link(
        format!(
            "MUST {} · SHOULD {}",
            rate(&e.conformance.must),
            rate(&e.conformance.should)
        ),
        target_href.clone(),
    ));
    for a in &e.conformance.areas {
        conformance.push(Cell::link(
            format!("{}: {} / {}", a.area, rate(&a.must), rate(&a.should)),
            links.bundle(&a.bundle),
        ));
    }
    let cost = e
        .cost
        .iter()
        .map(|c| {
            let text = c
                .micros
                .map_or("not priced".to_string(), |m| fmt::money(m, &c.currency));
            Cell {
                sub: format!("{} · {}", c.sheet, c.task),
                ..Cell::link(text, links.bundle(&c.bundle))
            }
        })
        .collect();
    RowHtml {
        target: e.source.target_url.clone(),
        model: e.source.model.clone(),
        observer: e.source.observer.clone().unwrap_or_else(|| "–".into()),
        signer: match (&e.signer.known, &e.signer.key_id) {
            (None, Some(id)) => format!("unknown key {}", fmt::short(id, 19)),
            _ => e.signer.label.clone(),
        },
        signer_full: e.signer.label.clone(),
        conformance,
        figures: vec![
            latency(&e.ttft_p50, true),
            latency(&e.ttft_p95, false),
            latency(&e.ttft_p99, false),
            speed,
            ratio(&e.availability_24h),
            ratio(&e.availability_7d),
            stability,
        ],
        cost,
        target_href,
    }
}
