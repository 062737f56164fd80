//! The loop: start each (target, probe) when its schedule says and its
//! target's budget allows, at most `concurrency` targets at once and never
//! two probes of one target; seal, sign and add each bundle to the ledger;
//! prune old evidence; stop gracefully.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use p256::ecdsa::SigningKey;
use tokencert_core::bundle::{self, Observation};
use tokencert_drive::{RunError, RunReport};
use tokencert_ledger::Ledger;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::budget::{self, Cost, Spent, Window};
use crate::clock::{off_the_executor, sleep_until, unix_now};
use crate::error::Error;
use crate::event::{Event, Finished, Verdicts};
use crate::history::{self, Runs};
use crate::observatory::Observatory;
use crate::probe::{self, Job, fresh_dir};
use crate::schedule::{Series, next_due};

/// How often retention runs while probes finish (and once at the start
/// and at the end).
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Where probes write their bundles before the ledger takes them, under
/// the ledger's directory.
pub const STAGING_DIR: &str = "incoming";

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Targets probed at once (at least 1).
    pub concurrency: usize,
    /// Stop once every (target, probe) had this many turns (a run, or a
    /// skip for budget); `None`: run until stopped.
    pub cycles: Option<u32>,
    /// Evidence of unpinned bundles that started longer ago than this is
    /// pruned (their index rows stay).
    pub keep_evidence_days: u32,
    /// The key bundles are signed with; unsigned without.
    pub signing_key: Option<SigningKey>,
}

/// What a loop did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Bundles added to the ledger.
    pub added: u64,
    /// Probes skipped for budget.
    pub skipped: u64,
    /// Probes that left no bundle in the ledger.
    pub failed: u64,
}

/// The callback given every [`Event`].
pub type OnEvent<'a> = dyn Fn(Event) + Sync + 'a;

/// A running probe: which (target, probe), when it started, its estimate,
/// its bundle directory.
struct Running {
    t: usize,
    p: usize,
    started: i64,
    estimate: Cost,
    dir: PathBuf,
}

/// The state of one loop.
struct Loop<'a> {
    obs: &'a Observatory,
    ledger: &'a mut Ledger,
    options: &'a Options,
    on_event: &'a OnEvent<'a>,
    trust: tokencert_ledger::Trust,
    staging: PathBuf,
    /// Per target: a probe of it is running.
    busy: Vec<bool>,
    /// Per (target, probe in `Ready::probes` order): turns taken this session.
    turns: BTreeMap<(usize, usize), u32>,
    /// Per (target, probe): the last start or skip this session, which the
    /// ledger may not show (a probe that left no bundle, a skip).
    attempted: BTreeMap<(usize, usize), i64>,
    /// Per target: the estimates of runs that left no bundle, counted
    /// against the budget since the ledger cannot.
    unbilled: Vec<Vec<Spent>>,
    /// The probes running, by task.
    running: HashMap<tokio::task::Id, Running>,
    last_prune: Option<SystemTime>,
    summary: Summary,
}

impl Observatory {
    /// Runs the observatory until `stop` completes or, with
    /// [`Options::cycles`], until every probe had its turns. On stop no
    /// probe starts any more; the running ones stop sending (their cases in
    /// flight finish within their deadlines) and are sealed, signed and
    /// added. The schedule resumes from the ledger: a probe's last start is
    /// read from its bundles (observer, probe, target).
    ///
    /// # Errors
    ///
    /// When the ledger cannot be read or written, or the staging
    /// directory created. A probe that fails is an [`Event::Failed`], not
    /// an error.
    pub async fn observe(
        &self,
        ledger: &mut Ledger,
        options: &Options,
        on_event: &OnEvent<'_>,
        stop: impl Future<Output = ()>,
    ) -> Result<Summary, Error> {
        let staging = ledger.dir().join(STAGING_DIR);
        bundle::create_private_dir(&staging).map_err(|source| Error::Create {
            path: staging.clone(),
            source,
        })?;
        let trust = ledger.trust()?;
        let mut state = Loop {
            obs: self,
            ledger,
            options,
            on_event,
            trust,
            staging,
            busy: vec![false; self.targets.len()],
            turns: BTreeMap::new(),
            attempted: BTreeMap::new(),
            unbilled: vec![Vec::new(); self.targets.len()],
            running: HashMap::new(),
            last_prune: None,
            summary: Summary::default(),
        };
        state.prune(true)?;
        state.run(stop).await?;
        state.prune(true)?;
        Ok(state.summary)
    }
}

impl Loop<'_> {
    async fn run(&mut self, stop: impl Future<Output = ()>) -> Result<(), Error> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut stop = std::pin::pin!(stop.fuse());
        let mut running: JoinSet<Result<RunReport, RunError>> = JoinSet::new();
        let mut stopping = false;
        loop {
            let now = unix_now();
            if !stopping {
                self.start_due(now, &mut running, &stop_rx)?;
            }
            if running.is_empty() && (stopping || self.all_done()) {
                return Ok(());
            }
            // With every slot taken only a finishing probe (or a stop) can
            // start another: due times are not waited for, or a due probe
            // would wake the loop over and over.
            let full = running.len() >= self.options.concurrency.max(1);
            let wake = if stopping || full {
                None
            } else {
                self.next_wake()?
            };
            tokio::select! {
                Some(joined) = running.join_next_with_id() => match joined {
                    Ok((id, report)) => {
                        if let Some(probe) = self.running.remove(&id) {
                            self.finish(probe, report)?;
                        }
                    }
                    Err(e) => {
                        // A probe task panicked: its target is free again, and it counts as a turn.
                        if let Some(probe) = self.running.remove(&e.id()) {
                            self.unbilled[probe.t].push(Spent {
                                started_unix: probe.started,
                                cost: probe.estimate,
                            });
                            self.failed(probe.t, probe.p, format!("the probe's task ended abnormally: {e}"));
                        }
                    }
                },
                () = &mut stop, if !stopping => {
                    stopping = true;
                    let _ = stop_tx.send(true);
                    (self.on_event)(Event::Stopping);
                }
                () = sleep_until(wake.unwrap_or(i64::MAX)), if wake.is_some() => {}
                else => return Ok(()),
            }
        }
    }

    /// Starts every due probe that its target's budget admits, oldest due
    /// first, while a concurrency slot is free; skips (as a turn) those
    /// the budget refuses.
    fn start_due(
        &mut self,
        now: i64,
        running: &mut JoinSet<Result<RunReport, RunError>>,
        stop: &watch::Receiver<bool>,
    ) -> Result<(), Error> {
        let mut due = Vec::new();
        for (t, ready) in self.obs.targets.iter().enumerate() {
            if self.busy[t] {
                continue;
            }
            for p in 0..ready.probes.len() {
                if self.finished_turns(t, p) {
                    continue;
                }
                let at = self.due_at(t, p, now)?;
                if at <= now {
                    due.push((at, t, p));
                }
            }
        }
        due.sort_unstable();
        for (_, t, p) in due {
            if running.len() >= self.options.concurrency.max(1) {
                break;
            }
            if self.busy[t] {
                continue;
            }
            let ready = &self.obs.targets[t];
            let (probe_index, estimate) = ready.probes[p];
            let probe_name = &self.obs.config.probes[probe_index].name;
            let history = self.spent(t, now)?;
            self.attempted.insert((t, p), now);
            if let Err(refusal) = budget::admit(&ready.budget, &history, estimate, now) {
                *self.turns.entry((t, p)).or_default() += 1;
                self.summary.skipped += 1;
                (self.on_event)(Event::Skipped {
                    target: ready.name.clone(),
                    probe: probe_name.clone(),
                    reason: refusal.to_string(),
                });
                continue;
            }
            self.busy[t] = true;
            let bundle_dir = fresh_dir(
                &self.staging,
                &format!("{}-{}-{probe_name}", tokencert_drive::run_id(), ready.name),
            );
            let probe_config = &self.obs.config.probes[probe_index];
            let fingerprint = probe_config
                .fingerprint
                .map(|f| f.logprobs_for(&self.obs.config.targets[t]));
            let job = Job {
                fingerprint,
                suite: self.obs.suite.clone(),
                cases: probe_config
                    .select(&self.obs.suite)
                    .iter()
                    .map(|c| c.id.clone())
                    .collect(),
                target: ready.target.clone(),
                timeout: ready.timeout,
                bundle_dir: bundle_dir.clone(),
                observation: Observation {
                    observer: self.obs.config.observer.clone(),
                    location: self.obs.config.location.clone(),
                    probe: probe_name.clone(),
                },
            };
            (self.on_event)(Event::Started {
                target: ready.name.clone(),
                probe: probe_name.clone(),
                estimate,
            });
            let mut stop = stop.clone();
            // Driven on a thread of its own, as `tokencert run` drives its
            // run on the main thread: judging one probe's cases stalls
            // neither the other probes nor this loop.
            let handle = tokio::runtime::Handle::current();
            let task = running.spawn_blocking(move || {
                let stopped = async move {
                    // An error means the loop is gone: stop as well.
                    let _ = stop.wait_for(|s| *s).await;
                };
                handle.block_on(probe::run(job, stopped))
            });
            self.running.insert(
                task.id(),
                Running {
                    t,
                    p,
                    started: now,
                    estimate,
                    dir: bundle_dir,
                },
            );
        }
        Ok(())
    }

    /// Seals what a probe task returned into the ledger: sign, add, report.
    fn finish(&mut self, probe: Running, report: Result<RunReport, RunError>) -> Result<(), Error> {
        let Running {
            t,
            p,
            started,
            estimate,
            dir,
        } = probe;
        self.busy[t] = false;
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                self.unbilled[t].push(Spent {
                    started_unix: started,
                    cost: estimate,
                });
                self.failed(
                    t,
                    p,
                    format!("{e} (what was written is kept in {})", dir.display()),
                );
                return Ok(());
            }
        };
        let signed = match &self.options.signing_key {
            None => Ok(None),
            Some(key) => bundle::sign_bundle(&report.bundle_dir, key).map(Some),
        };
        let added = signed.map_err(|e| e.to_string()).and_then(|signer| {
            let suite = &self.obs.suite;
            let (ledger, trust) = (&mut *self.ledger, &self.trust);
            off_the_executor(|| ledger.add(&report.bundle_dir, suite, trust))
                .map(|added| (signer, added))
                .map_err(|e| e.to_string())
        });
        let (signer, added) = match added {
            Ok(ok) => ok,
            Err(e) => {
                self.unbilled[t].push(Spent {
                    started_unix: started,
                    cost: estimate,
                });
                self.failed(
                    t,
                    p,
                    format!(
                        "{e} (the bundle is kept in {})",
                        report.bundle_dir.display()
                    ),
                );
                return Ok(());
            }
        };
        // The ledger holds its own copy now.
        let _ = std::fs::remove_dir_all(&report.bundle_dir);
        let (answered, exchanges) =
            history::availability(self.ledger.connection(), &added.id)?.unwrap_or_default();
        let interrupted = bundle::read_run(&self.ledger.bundle_dir(&added.id))
            .map(|run| run.interrupted.is_some())
            .unwrap_or(false);
        *self.turns.entry((t, p)).or_default() += 1;
        self.summary.added += 1;
        let ready = &self.obs.targets[t];
        (self.on_event)(Event::Finished(Finished {
            target: ready.name.clone(),
            probe: self.obs.config.probes[ready.probes[p].0].name.clone(),
            bundle: added.id.clone(),
            run_id: added.run_id.clone(),
            signer,
            verdicts: Verdicts::of(&report.results),
            answered,
            exchanges,
            interrupted,
            identity: added.identity.map(Box::new),
        }));
        self.prune(false)
    }

    fn failed(&mut self, t: usize, p: usize, error: String) {
        self.busy[t] = false;
        *self.turns.entry((t, p)).or_default() += 1;
        self.summary.failed += 1;
        let ready = &self.obs.targets[t];
        (self.on_event)(Event::Failed {
            target: ready.name.clone(),
            probe: self.obs.config.probes[ready.probes[p].0].name.clone(),
            error,
        });
    }

    fn finished_turns(&self, t: usize, p: usize) -> bool {
        self.options
            .cycles
            .is_some_and(|n| self.turns.get(&(t, p)).copied().unwrap_or(0) >= n)
    }

    fn all_done(&self) -> bool {
        self.obs
            .targets
            .iter()
            .enumerate()
            .all(|(t, ready)| (0..ready.probes.len()).all(|p| self.finished_turns(t, p)))
    }

    /// When the pair is next due: from its last start in the ledger or
    /// its last attempt this session, whichever is later.
    fn due_at(&self, t: usize, p: usize, now: i64) -> Result<i64, Error> {
        let ready = &self.obs.targets[t];
        let probe = &self.obs.config.probes[ready.probes[p].0];
        let recorded = history::last_start(self.ledger.connection(), self.runs(t), &probe.name)?;
        let last = recorded.max(self.attempted.get(&(t, p)).copied());
        let series = Series {
            seed: self.obs.config.seed,
            target: &ready.name,
            probe: &probe.name,
        };
        Ok(next_due(&probe.schedule, series, last, now))
    }

    /// The earliest due time of a pair that could start (its target idle,
    /// its turns not all taken).
    fn next_wake(&self) -> Result<Option<i64>, Error> {
        let now = unix_now();
        let mut wake = None;
        for (t, ready) in self.obs.targets.iter().enumerate() {
            if self.busy[t] {
                continue;
            }
            for p in 0..ready.probes.len() {
                if !self.finished_turns(t, p) {
                    let at = self.due_at(t, p, now)?;
                    wake = Some(wake.map_or(at, |w: i64| w.min(at)));
                }
            }
        }
        Ok(wake)
    }

    /// What the target was sent in the last day: its bundles in the ledger
    /// and this session's runs that left none.
    fn spent(&self, t: usize, now: i64) -> Result<Vec<Spent>, Error> {
        let since = now.saturating_sub(Window::Day.seconds());
        let mut spent = history::spent_since(self.ledger.connection(), self.runs(t), since)?;
        spent.extend(self.unbilled[t].iter().copied());
        Ok(spent)
    }

    fn runs(&self, t: usize) -> Runs<'_> {
        let info = &self.obs.targets[t].target.info;
        Runs {
            observer: &self.obs.config.observer,
            target_url: &info.base_url,
            model: &info.model,
        }
    }

    /// Retention: at most every [`PRUNE_EVERY`] unless `now`.
    fn prune(&mut self, now: bool) -> Result<(), Error> {
        let clock = SystemTime::now();
        let recent = self
            .last_prune
            .and_then(|at| clock.duration_since(at).ok())
            .is_some_and(|since| since < PRUNE_EVERY);
        if recent && !now {
            return Ok(());
        }
        self.last_prune = Some(clock);
        let keep = i64::from(self.options.keep_evidence_days) * Window::Day.seconds();
        let ledger = &mut *self.ledger;
        let pruned = off_the_executor(|| ledger.prune_evidence(unix_now() - keep, true))?;
        if !pruned.bundles.is_empty() {
            (self.on_event)(Event::Pruned {
                bundles: pruned.bundles.len(),
                bytes: pruned.bytes,
            });
        }
        Ok(())
    }
}
