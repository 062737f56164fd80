//! HTML pages rendered with askama templates (`templates/`): every value
//! is escaped by the template engine, and the only unescaped markup is the
//! charts' SVG, which plotters escapes itself.

mod bundle;
mod identity;
mod leaderboard;
mod target;

pub use bundle::bundle_page;
pub use leaderboard::leaderboard_page;
pub use target::target_page;

use askama::Template;

use crate::error::DashboardError;
use crate::links::Links;

/// Bar colours: the report charts' blue and orange, then green, red, grey.
pub(crate) const BLUE: &str = "#1f6fb4";
pub(crate) const ORANGE: &str = "#e07b0f";
pub(crate) const GREEN: &str = "#2e7d32";
pub(crate) const RED: &str = "#c62828";
pub(crate) const GREY: &str = "#9e9e9e";

/// A table cell: text, a link to where it came from, a note (the
/// confidence interval) and an optional bar.
pub(crate) struct Cell {
    pub text: String,
    pub href: Option<String>,
    pub sub: String,
    pub bar: Option<Bar>,
}

impl Cell {
    pub(crate) fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            href: None,
            sub: String::new(),
            bar: None,
        }
    }

    pub(crate) fn link(text: impl Into<String>, href: String) -> Cell {
        Cell {
            href: Some(href),
            ..Cell::plain(text)
        }
    }
}

/// An inline SVG bar of `width` out of `full` pixels.
pub(crate) struct Bar {
    pub width: u32,
    pub full: u32,
    pub colour: &'static str,
}

impl Bar {
    /// A bar for `value` on a scale up to `max`.
    pub(crate) fn of(value: f64, max: f64, colour: &'static str) -> Option<Bar> {
        const FULL: u32 = 120;
        (max > 0.0 && value.is_finite()).then(|| Bar {
            width: ((value / max).clamp(0.0, 1.0) * f64::from(FULL)).round() as u32,
            full: FULL,
            colour,
        })
    }
}

/// The links every page's navigation bar has.
pub(crate) struct Nav {
    pub home: String,
    pub metrics: String,
    pub api: String,
}

impl Nav {
    pub(crate) fn new(links: Links, api: String) -> Nav {
        Nav {
            home: links.home(),
            metrics: links.metrics(),
            api,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    home: String,
    metrics: String,
    api: String,
}

/// A page saying what went wrong (400, 404).
pub fn error_page(title: &str, message: &str) -> Result<String, DashboardError> {
    let nav = Nav::new(Links::Server, Links::Server.api_leaderboard());
    render(
        "error page",
        &ErrorPage {
            title,
            message,
            home: nav.home,
            metrics: nav.metrics,
            api: nav.api,
        },
    )
}

pub(crate) fn render(page: &'static str, t: &impl Template) -> Result<String, DashboardError> {
    t.render().map_err(|e| DashboardError::Render {
        page,
        reason: e.to_string(),
    })
}
