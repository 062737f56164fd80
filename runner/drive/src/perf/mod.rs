//! Measurement runs as a library: `load`, `sweep`, `soak` and `bench`.
//!
//! Each kind has one entry point, `<kind>::run`: a request in, the run's
//! files written (owner-only) and its figures returned, or a
//! [`PerfError`]. Progress is reported as [`Event`]s to a callback rather
//! than printed, and a `stop` future ends sending early (the CLI passes
//! [`ctrl_c`]): nothing is scheduled after it, the requests in flight end,
//! and what ran is still analysed and written. The `tokencert`
//! subcommands of the same names parse flags and print what these return;
//! other front ends (the observatory) start the same runs.

pub mod bench;
mod error;
mod event;
mod files;
pub mod load;
pub mod soak;
pub mod sweep;

pub use error::PerfError;
pub use event::Event;
pub use load::{LoadTarget, Offered};

/// The callback given every [`Event`] of a run.
pub type OnEvent<'a> = dyn Fn(Event) + Sync + 'a;

/// Completes on the first Ctrl-C (SIGINT); never, where the signal cannot
/// be watched.
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// `stop`, reporting [`Event::Stopping`] when it completes.
async fn announced(stop: impl Future<Output = ()>, on_event: &OnEvent<'_>) {
    stop.await;
    on_event(Event::Stopping);
}
