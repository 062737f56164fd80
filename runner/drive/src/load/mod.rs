//! The load engine: sends a planned workload open-loop (each request at its
//! scheduled instant, whatever earlier requests are doing) or closed-loop
//! (N users, each sending when its previous request ended), recording every
//! exchange through the same code path as conformance cases, with the
//! instant it was scheduled next to the instant it was sent.
//!
//! # Clock
//!
//! One monotonic instant, the **run start**, is the origin of every
//! `scheduled_ns` and `sent_ns` of a run. The run starts [`LEAD`] after
//! [`drive_load`] is called, so that the first requests can be prepared
//! before they are due, or at [`Bounds::start_at`] when one is given (so
//! that the shards of one plan, in several processes, share a schedule
//! zero up to their hosts' clock offsets); [`LoadRun::anchor_unix_ns`]
//! records it as wall-clock time. A request's exchange times (response head, chunks,
//! end) count from its own `sent_ns`, as everywhere else in the evidence.
//! Latency from the scheduled instant is `sent_ns − scheduled_ns` plus the
//! exchange's time: a client that sends late cannot hide a slow server
//! (coordinated omission).
//!
//! # Sending on time
//!
//! A request is taken from the plan [`LEAD`] before it is due: its body is
//! built, its evidence file created and its request made, in its own task.
//! The task then sleeps on the runtime's timer until [`SPIN`] before the
//! instant and yields in a loop until the instant itself (a yielding task
//! lets the worker run everything else, so a spin costs at most [`SPIN`]
//! of one worker's time per request and never burns a core for a long
//! wait), then sends. Under an open loop nothing waits for a response: each
//! request has its task.
//!
//! # Shards
//!
//! With [`Bounds::shard`] the engine sends one shard's share of the plan
//! (see [`ShardSpec`]); every request record carries its plan index,
//! sharded or not, so shards' evidence joins back in plan order.
//!
//! # Evidence
//!
//! One JSONL file per request, `<evidence_dir>/<index as 8 digits>.jsonl`,
//! written by the conformance recorder (same records, same redaction, same
//! deadline and body limit) as the exchange happens. One file per request
//! rather than per user because open-loop requests overlap: a shared file
//! would interleave their records or hold them in memory until each
//! exchange ended; a file per request also keeps every file far below the
//! size [`tokencert_core::evidence::read_exchanges`] accepts, and is the
//! same layout for both loops. It costs one open file (besides the socket)
//! per request in flight: keep [`Bounds::max_in_flight`] under half the
//! process's open-file limit.

mod case;
mod stamps;

pub use case::{PlannedCase, plan_case, run_case, run_case_until};
pub use stamps::{STAMP_PREFIX, Stamp, stamps};

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokencert_core::suite::{Dialect, Endpoint, Request};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::exchange::{Client, ClientError, Sent, Timing, nanos_between};
use crate::record::Recorder;
use tokencert_core::workload::{LoadModel, PlannedRequest, ShardSpec, unix_ns};

/// How long before its instant a request is prepared (body built, file
/// created), and how long after [`drive_load`] is called the run starts.
pub const LEAD: Duration = Duration::from_millis(5);

/// How long before its instant a request stops sleeping on the timer
/// (whose resolution is a millisecond) and yields in a loop instead.
pub const SPIN: Duration = Duration::from_millis(2);

/// Requests with more prompt tokens than this (some 64 KiB of text) have
/// their body built off the executor, so that the streams and sends of
/// the same worker are not held up meanwhile.
const OFFLOAD_PROMPT_TOKENS: u64 = 16_384;

/// The default cap on requests in flight.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 10_000;

/// Bounds on a load run. The per-request deadline and body limit are the
/// client's [`Limits`](crate::Limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Send at most this many requests (the plan's length when `None`).
    pub max_requests: Option<u64>,
    /// Schedule no request at or after this long since the run start.
    /// Requests in flight then still run to their end or deadline, so the
    /// run lasts at most this plus the per-request deadline (plus [`LEAD`]).
    pub duration: Option<Duration>,
    /// A hard cap on requests in flight (prepared, waiting for their
    /// instant, or exchanging). An open-loop request due when the cap is
    /// reached is not sent and reported as [`NotSent::InFlightCap`], never
    /// queued. A closed loop's users must not exceed it.
    pub max_in_flight: usize,
    /// Send only this shard's share of the plan (after `max_requests`):
    /// the requests whose plan index k ≡ I (mod N) and, under a closed loop,
    /// only the users u ≡ I (mod N). `None`: the whole plan.
    pub shard: Option<ShardSpec>,
    /// The run start as wall-clock time (`--start-at`), so that the loads
    /// of several processes share one schedule zero; it may lie at most a
    /// moment in the past (requests then due are sent late, and their
    /// lateness recorded). `None`: [`LEAD`] after the call.
    pub start_at: Option<SystemTime>,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            max_requests: None,
            duration: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            shard: None,
            start_at: None,
        }
    }
}

/// A load run that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The plan does not fit the load model or the bounds.
    #[error("cannot run this load: {0}")]
    Plan(String),
    /// Evidence could not be written (the run stops sending and waits for
    /// the requests in flight; the evidence already written stays).
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Why a planned request was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSent {
    /// [`Bounds::max_in_flight`] requests were in flight when it was due.
    InFlightCap {
        /// The cap.
        limit: usize,
    },
}

impl std::fmt::Display for NotSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotSent::InFlightCap { limit } => write!(
                f,
                "not sent: {limit} requests were already in flight (the cap); \
                 the target or the client cannot keep up with this rate"
            ),
        }
    }
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadOutcome {
    /// It was sent and its exchange recorded.
    Sent {
        /// Its evidence file.
        file: PathBuf,
        /// When it was sent, in ns since the run start.
        sent_ns: u64,
        /// When its exchange ended, in ns since the run start.
        end_ns: u64,
        /// The response status, if a response head arrived.
        status: Option<u16>,
        /// Whether the body ended normally (not cut by the deadline, the
        /// body limit or the connection).
        complete: bool,
    },
    /// It was not sent.
    NotSent(NotSent),
}

/// One request of a load run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRequest {
    /// Its index in the plan.
    pub index: u64,
    /// The closed-loop user that sent it; `None` under an open loop.
    pub user: Option<u64>,
    /// When it was due, in ns since the run start: its planned time (open
    /// loop), or when its user became ready (closed loop: the end of the
    /// user's previous request plus the think time; 0 for a first request).
    pub scheduled_ns: u64,
    /// What became of it.
    pub outcome: LoadOutcome,
}

impl LoadRequest {
    /// How late it was sent (sent − scheduled), if it was sent.
    pub fn lateness_ns(&self) -> Option<u64> {
        match self.outcome {
            LoadOutcome::Sent { sent_ns, .. } => Some(sent_ns.saturating_sub(self.scheduled_ns)),
            LoadOutcome::NotSent(_) => None,
        }
    }

    /// Whether it was sent and answered 200 with a complete body.
    pub fn succeeded(&self) -> bool {
        matches!(
            self.outcome,
            LoadOutcome::Sent {
                status: Some(200),
                complete: true,
                ..
            }
        )
    }
}

/// The state of a run, passed to the progress callback each time a request
/// finishes (or is not sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadProgress {
    /// Requests whose exchange ended.
    pub finished: u64,
    /// Of those, the ones that did not end 200 with a complete body.
    pub errors: u64,
    /// Requests not sent (see [`NotSent`]).
    pub not_sent: u64,
    /// Requests in flight now.
    pub in_flight: u64,
    /// Time since the run start.
    pub elapsed: Duration,
    /// Finished requests per second since the run start, in milli-requests
    /// per second (rounded down); `None` at the very start.
    pub rate_milli: Option<u64>,
}

/// What a load run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRun {
    /// Every request scheduled, sent or not, in plan order.
    pub requests: Vec<LoadRequest>,
    /// Requests in the plan (of a shard: in its share).
    pub planned: u64,
    /// Requests sent.
    pub sent: u64,
    /// Sent requests answered 200 with a complete body.
    pub succeeded: u64,
    /// Sent requests that did not.
    pub errors: u64,
    /// Requests due but not sent.
    pub not_sent: u64,
    /// Planned requests never scheduled: past [`Bounds::max_requests`] or
    /// [`Bounds::duration`].
    pub unscheduled: u64,
    /// The most requests in flight at once.
    pub peak_in_flight: u64,
    /// From the run start to the end of the last exchange, in ns.
    pub elapsed_ns: u64,
    /// Whether the run was stopped early ([`drive_load_until`]): nothing
    /// was scheduled after the stop (the rest of the plan is counted in
    /// `unscheduled`) and the requests in flight ran to their end.
    pub interrupted: bool,
    /// The run start as wall-clock time, in ns since the UNIX epoch: the
    /// instant every `scheduled_ns` and `sent_ns` counts from.
    pub anchor_unix_ns: u64,
}

/// One request handed to its task.
struct Job {
    index: u64,
    user: Option<u64>,
    /// When it is due.
    at: Instant,
    /// Its body's dialect, which decides the endpoint.
    dialect: Dialect,
    body: serde_json::Value,
    file: PathBuf,
    /// Its prompt tokens, to judge how long the body takes to build.
    prompt_tokens: u64,
}

/// What a task reports.
struct Done {
    index: u64,
    user: Option<u64>,
    scheduled_ns: u64,
    file: PathBuf,
    /// When the task finished (the exchange ended and was recorded).
    finished: Instant,
    sent: Result<Sent, ClientError>,
}

/// Sends `plan` to `client`'s target as `load` says, within `bounds`,
/// recording each request to its own file under `evidence_dir` (created if
/// missing; the files must not exist) with `case` as the case id of its
/// request record. `progress` is called each time a request finishes (or
/// is not sent), on the task that schedules the sends: it must be quick.
///
/// Under an open loop every request must carry its `scheduled_ns` (as
/// [`Workload::plan`](tokencert_core::workload::Workload::plan) gives); requests are
/// taken in plan order, whose send times do not decrease. Under a closed
/// loop the plan's send times are ignored and requests are taken in plan
/// order by whichever user is free.
///
/// Memory: the plan is borrowed; a request's body is copied when it is
/// taken ([`LEAD`] before it is due) and, once built, held as the bytes to
/// send and the recorded copy (at most 64 KiB, larger bodies being
/// recorded as a digest) until it is sent. During its exchange a request
/// holds its connection's buffers, an open evidence file and one chunk at
/// a time: every chunk is written out as it arrives, never kept. The run
/// keeps about 150 bytes per request for the returned [`LoadRun`].
///
/// Needs a Tokio runtime with the timer; a multi-threaded one keeps sends
/// on time while streams are read.
///
/// # Errors
///
/// [`LoadError::Plan`] before anything is sent, when the plan lacks send
/// times for an open loop, a closed loop has no users or more users than
/// the in-flight cap, or the cap is 0; [`LoadError::Client`] when evidence
/// cannot be written (then no further request is sent, and the call
/// returns once the requests in flight have ended).
pub async fn drive_load(
    client: &Client,
    case: &str,
    plan: &[PlannedRequest],
    load: &LoadModel,
    bounds: Bounds,
    evidence_dir: &Path,
    progress: impl Fn(&LoadProgress),
) -> Result<LoadRun, LoadError> {
    let never = std::future::pending();
    drive_load_until(
        client,
        case,
        plan,
        load,
        bounds,
        evidence_dir,
        progress,
        never,
    )
    .await
}

/// [`drive_load`], stopping early when `stop` completes (e.g. on Ctrl-C):
/// no request is scheduled after it, the requests in flight run to their
/// end or deadline, and the run is returned with
/// [`LoadRun::interrupted`] set.
///
/// # Errors
///
/// As [`drive_load`].
#[allow(
    clippy::too_many_arguments,
    reason = "drive_load's arguments and the stop"
)]
pub async fn drive_load_until(
    client: &Client,
    case: &str,
    plan: &[PlannedRequest],
    load: &LoadModel,
    bounds: Bounds,
    evidence_dir: &Path,
    progress: impl Fn(&LoadProgress),
    stop: impl Future<Output = ()>,
) -> Result<LoadRun, LoadError> {
    if bounds.max_in_flight == 0 {
        return Err(LoadError::Plan("the in-flight cap is 0".into()));
    }
    let limit = bounds.max_requests.map_or(plan.len(), |n| {
        plan.len().min(usize::try_from(n).unwrap_or(usize::MAX))
    });
    let share: Vec<&PlannedRequest> = match bounds.shard {
        Some(shard) => shard.share(&plan[..limit]),
        None => plan[..limit].iter().collect(),
    };
    let mut users_run = Vec::new();
    match load {
        LoadModel::Closed { users, .. } => {
            if *users == 0 {
                return Err(LoadError::Plan(
                    "a closed loop needs at least one user".into(),
                ));
            }
            if *users > bounds.max_in_flight as u64 {
                return Err(LoadError::Plan(format!(
                    "{users} users exceed the in-flight cap of {}",
                    bounds.max_in_flight
                )));
            }
            users_run = match bounds.shard {
                Some(shard) => shard
                    .users(*users)
                    .map_err(|e| LoadError::Plan(e.to_string()))?,
                None => (0..*users).collect(),
            };
        }
        _ => {
            if let Some(p) = share.iter().find(|p| p.scheduled_ns.is_none()) {
                return Err(LoadError::Plan(format!(
                    "request {} has no send time, which an open loop needs",
                    p.index
                )));
            }
        }
    }
    tokencert_core::bundle::create_private_dir(evidence_dir).map_err(|source| {
        ClientError::Evidence {
            path: evidence_dir.display().to_string(),
            source,
        }
    })?;
    let (run_start, anchor) = run_start(bounds.start_at);
    let mut engine = Engine {
        client: client.clone(),
        case: Arc::from(case),
        dir: evidence_dir.to_path_buf(),
        run_start,
        deadline: None,
        permits: Arc::new(Semaphore::new(bounds.max_in_flight)),
        cap: bounds.max_in_flight,
        tasks: JoinSet::new(),
        requests: Vec::with_capacity(limit),
        failure: None,
        stopped: false,
        finished: 0,
        errors: 0,
        not_sent: 0,
        peak: 0,
        last_end: None,
    };
    engine.deadline = bounds.duration.map(|d| engine.run_start + d);
    let mut stop = std::pin::pin!(stop);
    let scheduled = match load {
        LoadModel::Closed { think_time, .. } => {
            engine
                .closed(&share, &users_run, *think_time, &progress, stop.as_mut())
                .await
        }
        _ => engine.open(&share, &progress, stop.as_mut()).await,
    };
    if let Some(failure) = engine.failure {
        return Err(failure.into());
    }
    let mut requests = engine.requests;
    requests.sort_by_key(|r| r.index);
    let planned = if bounds.shard.is_some() {
        share.len()
    } else {
        plan.len()
    };
    Ok(LoadRun {
        planned: planned as u64,
        sent: engine.finished,
        succeeded: engine.finished - engine.errors,
        errors: engine.errors,
        not_sent: engine.not_sent,
        unscheduled: (planned - scheduled) as u64,
        peak_in_flight: engine.peak,
        elapsed_ns: engine
            .last_end
            .map_or(0, |end| nanos_between(engine.run_start, end)),
        interrupted: engine.stopped,
        anchor_unix_ns: anchor,
        requests,
    })
}

/// The run start as a monotonic instant and as UNIX ns: `start_at` when
/// given, else [`LEAD`] from now. The two clocks are read next to each
/// other, so the pair agrees to within a few microseconds.
fn run_start(start_at: Option<SystemTime>) -> (Instant, u64) {
    let (wall, now) = (SystemTime::now(), Instant::now());
    match start_at {
        Some(at) => {
            let instant = match at.duration_since(wall) {
                Ok(ahead) => now + ahead,
                Err(behind) => now.checked_sub(behind.duration()).unwrap_or(now),
            };
            (instant, unix_ns(at))
        }
        None => (now + LEAD, unix_ns(wall + LEAD)),
    }
}

/// The state of one run.
struct Engine {
    client: Client,
    case: Arc<str>,
    dir: PathBuf,
    run_start: Instant,
    /// No request is scheduled at or after this instant.
    deadline: Option<Instant>,
    permits: Arc<Semaphore>,
    cap: usize,
    tasks: JoinSet<Done>,
    requests: Vec<LoadRequest>,
    /// The first evidence error; nothing more is sent after it.
    failure: Option<ClientError>,
    /// Whether the stop came; nothing more is sent after it.
    stopped: bool,
    finished: u64,
    errors: u64,
    not_sent: u64,
    peak: u64,
    last_end: Option<Instant>,
}

impl Engine {
    /// The open loop: each request's task is started [`LEAD`] before it is
    /// due. Returns how many requests were scheduled.
    async fn open(
        &mut self,
        plan: &[&PlannedRequest],
        progress: &impl Fn(&LoadProgress),
        mut stop: Pin<&mut impl Future<Output = ()>>,
    ) -> usize {
        let mut next = 0;
        loop {
            let due = plan
                .get(next)
                .filter(|_| self.failure.is_none() && !self.stopped)
                .and_then(|p| p.scheduled_ns)
                .map(|ns| self.run_start + Duration::from_nanos(ns))
                .filter(|at| self.deadline.is_none_or(|d| *at < d));
            let wake = due.map(|at| at.checked_sub(LEAD).unwrap_or(at));
            // Waiting for the stop alone would never end.
            let listen = !self.stopped && (wake.is_some() || !self.tasks.is_empty());
            tokio::select! {
                biased;
                () = stop.as_mut(), if listen => self.stopped = true,
                () = tokio::time::sleep_until(wake.unwrap_or(self.run_start)), if wake.is_some() => {
                    if let (Some(planned), Some(at)) = (plan.get(next), due) {
                        self.start(planned, None, at, progress);
                    }
                    next += 1;
                }
                Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    self.finish(joined, progress);
                }
                else => break,
            }
        }
        next
    }

    /// The closed loop: `users` (by number) start at the run start; each
    /// takes the next request when its previous one has ended and `think`
    /// has passed. Returns how many requests were scheduled.
    async fn closed(
        &mut self,
        plan: &[&PlannedRequest],
        users: &[u64],
        think: Duration,
        progress: &impl Fn(&LoadProgress),
        mut stop: Pin<&mut impl Future<Output = ()>>,
    ) -> usize {
        let mut next = 0;
        for &user in users {
            let Some(planned) = plan.get(next) else {
                break;
            };
            if self.deadline.is_some_and(|d| self.run_start >= d) {
                break;
            }
            self.start(planned, Some(user), self.run_start, progress);
            next += 1;
        }
        loop {
            let joined = tokio::select! {
                biased;
                () = stop.as_mut(), if !self.stopped => {
                    self.stopped = true;
                    continue;
                }
                joined = self.tasks.join_next() => match joined {
                    Some(joined) => joined,
                    None => break,
                },
            };
            let ready = match &joined {
                Ok(done) => done.user.map(|user| (user, done.finished + think)),
                Err(_) => None,
            };
            self.finish(joined, progress);
            let Some((user, at)) = ready else {
                continue;
            };
            if self.failure.is_some() || self.stopped || self.deadline.is_some_and(|d| at >= d) {
                continue;
            }
            if let Some(planned) = plan.get(next) {
                self.start(planned, Some(user), at, progress);
                next += 1;
            }
        }
        next
    }

    /// Starts the task of one request due at `at`, or reports it not sent
    /// when the in-flight cap is reached.
    fn start(
        &mut self,
        planned: &PlannedRequest,
        user: Option<u64>,
        at: Instant,
        progress: &impl Fn(&LoadProgress),
    ) {
        let scheduled_ns = nanos_between(self.run_start, at);
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            self.not_sent += 1;
            self.requests.push(LoadRequest {
                index: planned.index,
                user,
                scheduled_ns,
                outcome: LoadOutcome::NotSent(NotSent::InFlightCap { limit: self.cap }),
            });
            progress(&self.progress());
            return;
        };
        let job = Job {
            index: planned.index,
            user,
            at,
            dialect: planned.dialect,
            body: planned.body.clone(),
            file: self.dir.join(format!("{:08}.jsonl", planned.index)),
            prompt_tokens: planned.prompt_tokens,
        };
        let client = self.client.clone();
        let case = Arc::clone(&self.case);
        let run_start = self.run_start;
        self.tasks
            .spawn(run_job(client, case, job, run_start, scheduled_ns, permit));
        self.peak = self.peak.max(self.tasks.len() as u64);
    }

    /// Takes in a finished task.
    fn finish(
        &mut self,
        joined: Result<Done, tokio::task::JoinError>,
        progress: &impl Fn(&LoadProgress),
    ) {
        let done = match joined {
            Ok(done) => done,
            // A panic in a task is a bug of the engine: pass it on.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return,
        };
        let sent = match done.sent {
            Ok(sent) => sent,
            Err(e) => {
                self.failure.get_or_insert(e);
                return;
            }
        };
        let sent_ns = sent.sent_ns.unwrap_or(done.scheduled_ns);
        self.finished += 1;
        let request = LoadRequest {
            index: done.index,
            user: done.user,
            scheduled_ns: done.scheduled_ns,
            outcome: LoadOutcome::Sent {
                file: done.file,
                sent_ns,
                end_ns: sent_ns.saturating_add(sent.end_ns),
                status: sent.status,
                complete: sent.complete,
            },
        };
        if !request.succeeded() {
            self.errors += 1;
        }
        self.requests.push(request);
        self.last_end = self.last_end.max(Some(done.finished));
        progress(&self.progress());
    }

    fn progress(&self) -> LoadProgress {
        let elapsed = Instant::now().saturating_duration_since(self.run_start);
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let rate_milli = (ns > 0).then(|| {
            let rate = u128::from(self.finished) * 1_000_000_000_000 / u128::from(ns);
            u64::try_from(rate).unwrap_or(u64::MAX)
        });
        LoadProgress {
            finished: self.finished,
            errors: self.errors,
            not_sent: self.not_sent,
            in_flight: self.tasks.len() as u64,
            elapsed,
            rate_milli,
        }
    }
}

/// One request's task: prepare, wait for the instant, send and record.
async fn run_job(
    client: Client,
    case: Arc<str>,
    job: Job,
    run_start: Instant,
    scheduled_ns: u64,
    _permit: OwnedSemaphorePermit,
) -> Done {
    let Job {
        index,
        user,
        at,
        dialect,
        body,
        file,
        prompt_tokens,
    } = job;
    // Moving the build off the executor costs a thread hand-over, worth it
    // only for a body that takes a while to build and digest.
    let offload = prompt_tokens > OFFLOAD_PROMPT_TOKENS;
    let spec = generated_request(dialect, body);
    let prepared = client.prepare_with(&case, &spec, 0, offload);
    drop(spec);
    let fail = |source| ClientError::Evidence {
        path: file.display().to_string(),
        source,
    };
    let sent = match Recorder::create(&file).await {
        Ok(mut recorder) => {
            wait_until(at).await;
            let timing = Timing {
                run_start,
                scheduled_ns,
                plan_index: index,
            };
            client
                .dispatch(prepared, Some(timing), &mut recorder)
                .await
                .map_err(fail)
        }
        Err(e) => Err(fail(e)),
    };
    Done {
        index,
        user,
        scheduled_ns,
        finished: Instant::now(),
        file,
        sent,
    }
}

/// A load request: `body` sent with the target's key to the endpoint of
/// its dialect (chat completions, messages or responses).
fn generated_request(dialect: Dialect, body: serde_json::Value) -> Request {
    let endpoint = match dialect {
        Dialect::OpenaiChat => Endpoint::Chat,
        Dialect::AnthropicMessages => Endpoint::Messages,
        Dialect::OpenaiResponses => Endpoint::Responses,
    };
    Request {
        endpoint,
        ..Request::chat(body)
    }
}

/// Waits until `at`: on the timer until [`SPIN`] before, then yielding.
async fn wait_until(at: Instant) {
    if let Some(early) = at.checked_sub(SPIN)
        && Instant::now() < early
    {
        tokio::time::sleep_until(early).await;
    }
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}
