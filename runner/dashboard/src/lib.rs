//! The observatory's dashboard, read-only over a ledger directory
//! (`bundles/`, `index.sqlite`, `trust.yaml`): a leaderboard per method,
//! a page per target and per bundle (server-rendered HTML from askama
//! templates, inline SVG charts, no scripts), the same as JSON, `/metrics`
//! in the Prometheus text format, and a static export of it all.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod archive;
pub mod board;
mod dashboard;
pub mod detail;
pub mod error;
pub mod export;
pub mod fmt;
pub mod html;
pub mod identity;
pub mod links;
pub mod metrics;
pub mod params;
pub mod queries;
pub mod server;
pub mod summary;
pub mod target;
pub mod trust;

pub use dashboard::Dashboard;
pub use error::DashboardError;
pub use export::{Exported, export};
pub use server::{router, serve};
