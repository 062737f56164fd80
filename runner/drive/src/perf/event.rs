//! What a run reports while it runs.

use std::path::PathBuf;
use std::time::Duration;

use tokencert_core::workload::LoadModel;

use super::{bench, sweep};
use crate::load::LoadProgress;

/// Progress of a `load`, `sweep`, `soak` or `bench` run, given to its
/// callback as it happens.
#[derive(Debug, Clone)]
pub enum Event {
    /// A load (a `load`, a `soak`, one step of a `sweep`) is planned and
    /// about to send.
    LoadStarted {
        /// The requests planned.
        planned: u64,
        /// How they are sent.
        load: LoadModel,
        /// The target's base URL.
        base_url: String,
        /// The model loaded.
        model: String,
        /// Where each request's evidence is written.
        evidence_dir: PathBuf,
    },
    /// A request of the load ended, or was not sent.
    LoadProgress(LoadProgress),
    /// The load ended: its requests in flight have ended too.
    LoadEnded,
    /// The stop completed: nothing more is scheduled (no further sweep
    /// step starts) and the requests in flight are awaited.
    Stopping,
    /// A sweep's first step is about to start.
    SweepStarted,
    /// A sweep step ended and its `summary.json` is written.
    StepEnded(sweep::Step),
    /// A sweep of steps spent its time bound (1 h): no further step starts.
    SweepOutOfTime,
    /// `bench`: the median time to create a file in the evidence
    /// directory (`None` when files could not be created there).
    BenchFileCreation(Option<Duration>),
    /// `bench`: the streams run ended; its timing error.
    BenchTiming(bench::Timing),
    /// `bench`: the ingest run ended; its SSE events per second.
    BenchIngest(bench::Ingest),
    /// `bench`: the rate run ended; its send lateness.
    BenchLateness(bench::Lateness),
}
