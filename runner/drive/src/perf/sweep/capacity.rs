//! The capacity search: from the rate one closed-loop user achieves, the
//! Poisson rate doubles while probes pass (halves while they fail), then
//! bisection narrows the bracket; the answer is the highest rate that
//! passed.

use futures_util::future::FusedFuture;
use tokencert_core::workload::MAX_RATE;

use super::{Offered, Sweep};
use crate::perf::PerfError;

/// Requests of the capacity search's first probe (one closed-loop user),
/// whose achieved rate is the first Poisson rate tried.
pub const START_REQUESTS: u64 = 10;
/// The most probes of the search's doubling (or halving) phase.
pub const MAX_GROWTH_PROBES: usize = 12;
/// The most probes of the search's bisection phase.
pub const MAX_BISECTION_PROBES: usize = 5;

/// The outcome of a capacity search.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Search {
    /// The highest rate that passed.
    pub passed: Option<f64>,
    /// The lowest rate above it that failed.
    pub failed: Option<f64>,
    /// Whether the search bracketed the answer within its bounds.
    pub bounded: bool,
}

/// A rate in milli-units, rounded to the nearest.
pub fn to_milli(rate: f64) -> u64 {
    (rate * 1000.0).round() as u64
}

/// A rate rounded to a milli-request per second, as it is reported.
fn round_rate(rate: f64) -> f64 {
    (rate * 1000.0).round() / 1000.0
}

impl<S: FusedFuture<Output = ()>> Sweep<'_, S> {
    /// The capacity search: a probe passes when its goodput share reaches
    /// `goodput_percent`.
    pub(super) async fn find_capacity(
        &mut self,
        goodput_percent: u64,
    ) -> Result<Search, PerfError> {
        let Some(first) = self
            .step(Offered::Users(1), Some("start"), Some(START_REQUESTS))
            .await?
        else {
            return Ok(Search::default());
        };
        let Some(start) = first.request_throughput_milli.or(first.achieved_milli) else {
            return Err(PerfError::NoStartRate);
        };
        let needed = goodput_percent * 10;
        let mut rate = (start as f64 / 1000.0).clamp(0.001, MAX_RATE);
        let mut passed: Option<f64> = None;
        let mut failed: Option<f64> = None;
        let mut bounded = true;
        for _ in 0..MAX_GROWTH_PROBES {
            let phase = if failed.is_some() && passed.is_none() {
                "shrink"
            } else {
                "grow"
            };
            let Some(step) = self.step(Offered::Rate(rate), Some(phase), None).await? else {
                return Ok(Search {
                    passed,
                    failed,
                    bounded: false,
                });
            };
            if step.goodput_per_mille.is_some_and(|g| g >= needed) {
                passed = Some(rate);
                if failed.is_some() {
                    break;
                }
                rate = round_rate(rate * 2.0);
            } else {
                failed = Some(rate);
                if passed.is_some() {
                    break;
                }
                rate = round_rate(rate / 2.0);
            }
            if !(0.001..=MAX_RATE).contains(&rate) {
                break;
            }
        }
        let (Some(mut low), Some(mut high)) = (passed, failed) else {
            return Ok(Search {
                passed,
                failed,
                bounded: false,
            });
        };
        for _ in 0..MAX_BISECTION_PROBES {
            let mid = round_rate((low + high) / 2.0);
            if mid <= low || mid >= high {
                break;
            }
            let Some(step) = self.step(Offered::Rate(mid), Some("bisect"), None).await? else {
                bounded = false;
                break;
            };
            if step.goodput_per_mille.is_some_and(|g| g >= needed) {
                low = mid;
            } else {
                high = mid;
            }
        }
        Ok(Search {
            passed: Some(low),
            failed: Some(high),
            bounded,
        })
    }
}
