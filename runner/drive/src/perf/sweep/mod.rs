//! `sweep`: one load per step of a list of concurrencies or rates
//! (throughput and latency against load, with the saturation knee marked),
//! or a search for the highest Poisson rate whose goodput stays at or above
//! a stated share. Each step's evidence and `summary.json` go under
//! `step-NN` of the run directory, and `sweep.json` sums the steps up.

mod capacity;
mod json;

pub use capacity::{MAX_BISECTION_PROBES, MAX_GROWTH_PROBES, START_REQUESTS, Search, to_milli};

use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::FusedFuture;
use tokencert_core::metrics::{Distribution, Slo};
use tokencert_core::tokens::Tokenizer;
use tokencert_core::workload::Workload;

use super::files::write_owner_only;
use super::load::{self, Analysis, LoadTarget, Offered};
use super::{Event, OnEvent, PerfError, announced};
use crate::exchange::off_the_executor;

/// The most steps of one list of users or rates.
pub const MAX_STEPS: usize = 32;
/// The knee: the first step whose relative throughput gain is below this
/// share (per mille) of its relative load gain, while its E2E p95 rose.
pub const KNEE_GAIN_PER_MILLE: u64 = 500;
/// The longest a sweep schedules requests, all steps together.
pub const MAX_SWEEP: Duration = Duration::from_secs(3600);

/// The load as a number, for the knee's gains.
fn amount(offered: Offered) -> f64 {
    match offered {
        Offered::Users(users) => users as f64,
        Offered::Rate(rate) => rate,
    }
}

/// What a sweep does.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// One step per load, in this (increasing) order; the knee is marked.
    Steps(Vec<Offered>),
    /// The capacity search (see [`Search`]): the highest Poisson rate at
    /// which the goodput share stays at or above `goodput_percent`.
    Capacity {
        /// The goodput share, in percent, a probe must reach to pass.
        goodput_percent: u64,
    },
}

/// A sweep to run.
#[derive(Debug, Clone)]
pub struct Request {
    /// What each step sends (its load model replaced by the step's):
    /// seed, prompts, and per step at most `requests` requests within
    /// `duration`.
    pub workload: Workload,
    /// The steps, or the capacity search.
    pub mode: Mode,
    /// The SLO a request must meet to count towards goodput.
    pub slo: Slo,
    /// The run directory to create (owner-only): `step-NN/` and
    /// `sweep.json` go there.
    pub run_dir: PathBuf,
}

/// What a sweep produced.
#[derive(Debug)]
pub struct Report {
    /// Every step that ran, in order (with a Ctrl-C, the last one may
    /// have been cut short).
    pub steps: Vec<Step>,
    /// The knee's index in `steps` (steps mode; a step cut short is not
    /// compared).
    pub knee: Option<usize>,
    /// The capacity search's outcome (capacity mode).
    pub search: Option<Search>,
    /// Whether the stop completed during the sweep.
    pub interrupted: bool,
    /// `sweep.json`, written owner-only.
    pub sweep_file: PathBuf,
}

/// The figures of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Its load.
    pub offered: Offered,
    /// What the step was, in a capacity search: start, grow, shrink, bisect.
    pub phase: Option<&'static str>,
    /// Its directory's name under the sweep's run directory.
    pub dir: String,
    /// Requests sent.
    pub sent: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Requests sent per second over the step, in milli-units.
    pub achieved_milli: Option<u64>,
    /// Steady-state requests per second, in milli-units.
    pub request_throughput_milli: Option<u64>,
    /// Steady-state output tokens per second, in milli-units.
    pub output_tokens_milli: Option<u64>,
    /// TTFT p50, ns.
    pub ttft_p50_ns: Option<u64>,
    /// TTFT p95, ns.
    pub ttft_p95_ns: Option<u64>,
    /// TPOT p50, ns.
    pub tpot_p50_ns: Option<u64>,
    /// E2E p95, ns.
    pub e2e_p95_ns: Option<u64>,
    /// Of the requests ended in the steady window, the share meeting
    /// every SLO (errors never do), per mille.
    pub goodput_per_mille: Option<u64>,
}

fn percentile(dist: &Option<Distribution>, name: &str) -> Option<u64> {
    dist.as_ref()
        .and_then(|d| d.percentile(name))
        .map(|p| p.value)
}

/// Runs the sweep or the capacity search; each step schedules nothing
/// more, and no further step starts, once `stop` completes.
///
/// # Errors
///
/// When the steps are more than [`MAX_STEPS`] or do not increase, the
/// tokenizer cannot be loaded, a step fails as a load does, the capacity
/// search's first probe completes no request, or a file cannot be written.
pub async fn run(
    target: &LoadTarget,
    request: &Request,
    on_event: &OnEvent<'_>,
    stop: impl Future<Output = ()>,
) -> Result<Report, PerfError> {
    if let Mode::Steps(steps) = &request.mode {
        if steps.len() > MAX_STEPS {
            return Err(PerfError::TooManySteps(steps.len()));
        }
        if steps.windows(2).any(|w| amount(w[1]) <= amount(w[0])) {
            return Err(PerfError::StepsNotIncreasing);
        }
    }
    let tokenizer = load::load_tokenizer()?;
    let stop = std::pin::pin!(announced(stop, on_event).fuse());
    let mut sweep = Sweep {
        request,
        target,
        tokenizer: &tokenizer,
        on_event,
        started: Instant::now(),
        steps: Vec::new(),
        stop,
        interrupted_step: None,
    };
    on_event(Event::SweepStarted);
    let search = match &request.mode {
        Mode::Capacity { goodput_percent } => Some(sweep.find_capacity(*goodput_percent).await?),
        Mode::Steps(steps) => {
            for &offered in steps {
                if sweep.step(offered, None, None).await?.is_none() {
                    if !sweep.stopped() {
                        on_event(Event::SweepOutOfTime);
                    }
                    break;
                }
            }
            None
        }
    };
    let interrupted = sweep.stopped();
    // The step the stop cut short is reported but not compared.
    let complete = sweep.interrupted_step.unwrap_or(sweep.steps.len());
    let steps = sweep.steps;
    let knee = match request.mode {
        Mode::Steps(_) => knee(&steps[..complete]),
        Mode::Capacity { .. } => None,
    };
    let sweep_file = request.run_dir.join("sweep.json");
    let bytes = json::sweep_json(
        request,
        target.client.target(),
        &steps,
        knee,
        search.as_ref(),
        interrupted,
    )?;
    write_owner_only(&sweep_file, &bytes)?;
    Ok(Report {
        steps,
        knee,
        search,
        interrupted,
        sweep_file,
    })
}

/// What every step shares: the target, the tokenizer, the run directory
/// and the bounds.
struct Sweep<'a, S> {
    request: &'a Request,
    target: &'a LoadTarget,
    tokenizer: &'a Tokenizer,
    on_event: &'a OnEvent<'a>,
    started: Instant,
    steps: Vec<Step>,
    /// Completes on the stop: no further step starts, and the running one
    /// schedules nothing more.
    stop: Pin<&'a mut S>,
    /// The step the stop cut short, if any.
    interrupted_step: Option<usize>,
}

impl<S: FusedFuture<Output = ()>> Sweep<'_, S> {
    /// Whether the stop has completed.
    fn stopped(&mut self) -> bool {
        self.stop.is_terminated() || self.stop.as_mut().now_or_never().is_some()
    }

    /// Runs one step of at most `requests` requests (and the workload's):
    /// its evidence and summary.json go under `step-NN` of the run
    /// directory. `None` once the time bound is spent or the stop completed.
    async fn step(
        &mut self,
        offered: Offered,
        phase: Option<&'static str>,
        requests: Option<u64>,
    ) -> Result<Option<&Step>, PerfError> {
        if self.stopped() {
            return Ok(None);
        }
        let Some(left) = MAX_SWEEP.checked_sub(self.started.elapsed()) else {
            return Ok(None);
        };
        if left.is_zero() {
            return Ok(None);
        }
        let mut workload = Workload {
            load: offered.model(),
            ..self.request.workload.clone()
        };
        workload.requests = requests.map_or(workload.requests, |r| r.min(workload.requests));
        workload.duration = Some(workload.duration.map_or(left, |d| d.min(left)));
        let dir = format!("step-{:02}", self.steps.len() + 1);
        let step_dir = self.request.run_dir.join(&dir);
        let run = load::send(
            self.target,
            &workload,
            self.tokenizer,
            &step_dir.join("evidence"),
            self.on_event,
            self.stop.as_mut(),
        )
        .await?;
        if run.interrupted {
            self.interrupted_step = Some(self.steps.len());
        }
        let Analysis { summary, steady } =
            off_the_executor(|| load::analyse(&run, self.tokenizer, &self.request.slo))?;
        let json = load::summary_json(
            &workload,
            self.target.client.target(),
            &run,
            &summary,
            steady.as_ref(),
            None,
        )?;
        write_owner_only(&step_dir.join("summary.json"), &json)?;
        let step = Step {
            offered,
            phase,
            dir,
            sent: run.sent,
            errors: run.errors,
            achieved_milli: load::achieved(&run),
            request_throughput_milli: steady.as_ref().and_then(|s| s.request_throughput_milli),
            output_tokens_milli: steady
                .as_ref()
                .and_then(|s| s.output_token_throughput_milli),
            ttft_p50_ns: percentile(&summary.ttft_ns, "p50"),
            ttft_p95_ns: percentile(&summary.ttft_ns, "p95"),
            tpot_p50_ns: percentile(&summary.tpot_ns, "p50"),
            e2e_p95_ns: percentile(&summary.e2e_ns, "p95"),
            goodput_per_mille: steady
                .as_ref()
                .filter(|s| s.requests_ended > 0)
                .map(|s| s.requests_good * 1000 / s.requests_ended),
        };
        (self.on_event)(Event::StepEnded(step.clone()));
        self.steps.push(step);
        Ok(self.steps.last())
    }
}

/// The knee: the index of the first step whose relative throughput gain
/// over the previous step is below [`KNEE_GAIN_PER_MILLE`] of its relative
/// load gain while its E2E p95 rose.
fn knee(steps: &[Step]) -> Option<usize> {
    (1..steps.len()).find(|&i| {
        let (before, now) = (&steps[i - 1], &steps[i]);
        let (Some(t0), Some(t1)) = (before.output_tokens_milli, now.output_tokens_milli) else {
            return false;
        };
        let (Some(l0), Some(l1)) = (before.e2e_p95_ns, now.e2e_p95_ns) else {
            return false;
        };
        let load_gain = amount(now.offered) / amount(before.offered) - 1.0;
        let throughput_gain = t1 as f64 / t0.max(1) as f64 - 1.0;
        load_gain > 0.0
            && throughput_gain < load_gain * KNEE_GAIN_PER_MILLE as f64 / 1000.0
            && l1 > l0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(offered: Offered, tokens: u64, e2e: u64) -> Step {
        Step {
            offered,
            phase: None,
            dir: String::new(),
            sent: 1,
            errors: 0,
            achieved_milli: None,
            request_throughput_milli: None,
            output_tokens_milli: Some(tokens),
            ttft_p50_ns: None,
            ttft_p95_ns: None,
            tpot_p50_ns: None,
            e2e_p95_ns: Some(e2e),
            goodput_per_mille: None,
        }
    }

    #[test]
    fn the_knee_is_where_throughput_stops_following_the_load() {
        let u = Offered::Users;
        let steps = [
            step(u(1), 100_000, 100),
            step(u(2), 190_000, 105),
            step(u(4), 330_000, 120),
            step(u(8), 360_000, 240),
            step(u(16), 365_000, 480),
        ];
        assert_eq!(knee(&steps), Some(3));
        // Flat throughput with falling latency is no knee.
        let steps = [step(u(1), 100_000, 100), step(u(2), 100_000, 90)];
        assert_eq!(knee(&steps), None);
        assert_eq!(knee(&steps[..1]), None);
    }
}
