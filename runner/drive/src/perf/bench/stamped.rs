//! The stamped events of a run's streams (`: sched_ns=` comments of the
//! reference service's capacity model), read back from the evidence.

use tokencert_core::evidence::read_exchanges;

use crate::load::{LoadOutcome, LoadRun, stamps};
use crate::perf::PerfError;

/// The stamped events of a run's streams.
pub(super) struct Stamped {
    /// Per stream: (arrival in ns since the run start, stamp) of each
    /// stamped event, and the stream's end in ns since the run start.
    streams: Vec<(Vec<(u64, u64)>, u64)>,
    /// Stamped events in all.
    pub(super) events: u64,
    /// Recorded body chunks (socket reads that delivered bytes) in all.
    pub(super) reads: u64,
}

impl Stamped {
    pub(super) fn of(run: &LoadRun) -> Result<Self, PerfError> {
        let mut stamped = Stamped {
            streams: Vec::new(),
            events: 0,
            reads: 0,
        };
        for r in &run.requests {
            let LoadOutcome::Sent {
                file,
                sent_ns,
                end_ns,
                ..
            } = &r.outcome
            else {
                continue;
            };
            let exchanges = read_exchanges(file).map_err(|source| PerfError::Read {
                path: file.clone(),
                source,
            })?;
            for ex in exchanges {
                let events: Vec<(u64, u64)> = stamps(&ex)
                    .iter()
                    .map(|s| (sent_ns.saturating_add(s.arrival_ns), s.sched_ns))
                    .collect();
                stamped.events += events.len() as u64;
                stamped.reads += ex.chunks.len() as u64;
                stamped.streams.push((events, *end_ns));
            }
        }
        Ok(stamped)
    }

    /// |arrival gap − scheduled gap| of consecutive stamped events of each
    /// stream: those whose two events arrived while every stream was
    /// streaming (after the last first event, before the first end), and
    /// all of them.
    pub(super) fn gaps(&self) -> (Vec<u64>, Vec<u64>) {
        let all_started = self
            .streams
            .iter()
            .filter_map(|(events, _)| events.first().map(|&(at, _)| at))
            .max()
            .unwrap_or(0);
        let first_end = self.streams.iter().map(|&(_, end)| end).min().unwrap_or(0);
        let mut steady = Vec::new();
        let mut all = Vec::new();
        for (events, _) in &self.streams {
            for w in events.windows(2) {
                let arrival = i128::from(w[1].0) - i128::from(w[0].0);
                let sched = i128::from(w[1].1) - i128::from(w[0].1);
                let gap = u64::try_from((arrival - sched).unsigned_abs()).unwrap_or(u64::MAX);
                all.push(gap);
                if w[0].0 >= all_started && w[1].0 < first_end {
                    steady.push(gap);
                }
            }
        }
        (steady, all)
    }
}
