//! A whole run: write `run.json` first, drive every case while recording,
//! then judge the evidence as written and seal the bundle with its manifest.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use futures_util::StreamExt;
use tokencert_core::bundle::{
    self, BundleError, Interrupted, InterruptedLoad, Observation, RunInfo, Shard, TargetInfo,
};
use tokencert_core::evidence::read_exchanges;
use tokencert_core::judge::{self, CaseResult, Context, Plan, Results};
use tokencert_core::suite::{Accounting, Capability, Case, Check, PerformanceClaim, Suite};
use tokencert_core::tokens::TokenizerError;
use tokencert_core::workload::{LoadModel, PlannedLoad, ShardSpec, plan_digest, unix_ns};

use crate::exchange::{Client, ClientError, Limits, off_the_executor};
use crate::identity::{self, DeclaredIdentity};
use crate::load::{self, LoadError, LoadProgress, PlannedCase};

/// Everything a run needs.
pub struct RunConfig<'a> {
    /// The loaded suite.
    pub suite: &'a Suite,
    /// The cases to run, in order.
    pub cases: Vec<&'a Case>,
    /// Client for the target.
    pub client: Client,
    /// What the target claims.
    pub claims: BTreeSet<Capability>,
    /// How the target counts tokens (a Hugging Face tokenizer file is
    /// copied into the bundle).
    pub accounting: Accounting,
    /// The target as recorded in `run.json`.
    pub target: TargetInfo,
    /// The bundle directory to create; must not exist.
    pub bundle_dir: PathBuf,
    /// Cases in flight at once (performance cases run alone, after the
    /// others).
    pub jobs: usize,
    /// The service classes the target claims and its performance model.
    pub performance: Option<PerformanceClaim>,
    /// Called with the case id as each request of a performance case ends.
    pub load_progress: Option<&'a LoadProgressFn<'a>>,
    /// The observatory probe this run is, recorded in `run.json`; `None`
    /// for an ordinary run.
    pub observation: Option<Observation>,
}

/// One shard of a run's performance cases (`tokencert run --shard I/N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sharding {
    /// Which shard.
    pub shard: ShardSpec,
    /// The schedule zero of the first performance case (`--start-at`), the
    /// same in every shard; `None`: when the case is reached.
    pub start_at: Option<SystemTime>,
}

/// A callback given a performance case's id and its load's progress.
pub type LoadProgressFn<'a> = dyn Fn(&str, &LoadProgress) + Sync + 'a;

/// What a finished run produced.
#[derive(Debug)]
pub struct RunReport {
    /// Where the bundle is.
    pub bundle_dir: PathBuf,
    /// The results written to `results.json`.
    pub results: Results,
}

/// A run that could not produce a bundle.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The bundle directory is already there.
    #[error("{0} already exists; choose another output directory or run id")]
    Exists(String),
    /// A directory could not be created.
    #[error("cannot create {path}: {source}")]
    Create {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Evidence could not be written.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The bundle could not be written.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The declared tokenizer cannot be loaded.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// A performance case's workload cannot be planned (nothing was sent).
    #[error("case {case}: {source}")]
    Workload {
        /// The case.
        case: String,
        /// Why.
        source: tokencert_core::workload::WorkloadError,
    },
    /// A declared reference fingerprint bundle cannot be copied.
    #[error(
        "the declared reference fingerprint {path} cannot be copied into the bundle: {message}"
    )]
    Reference {
        /// The bundle declared.
        path: String,
        /// Why.
        message: String,
    },
    /// `fingerprint` with a suite that has no probe set.
    #[error("the suite has no fingerprint probe set (suites/fingerprint/probes.yaml)")]
    NoProbeSet,
    /// A sharded run that cannot be split as asked.
    #[error("cannot shard this run: {0}")]
    Shard(String),
    /// A performance case's load could not run.
    #[error("case {case}: {source}")]
    Load {
        /// The case.
        case: String,
        /// Why.
        source: LoadError,
    },
}

/// The wall-clock time now, RFC 3339 UTC to the second.
pub fn timestamp() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// The record of a run that starts now (`finished_at` unset); the run id
/// is the bundle directory's name.
pub fn run_info(
    bundle_dir: &Path,
    suite: &Suite,
    plan: Plan,
    target: TargetInfo,
    limits: Limits,
) -> RunInfo {
    RunInfo {
        format: bundle::RUN_FORMAT.into(),
        run_id: bundle_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        tool: concat!("tokencert ", env!("CARGO_PKG_VERSION")).into(),
        suite_digest: suite.digest.clone(),
        plan,
        target,
        timeout_ms: u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX),
        body_limit_bytes: limits.body_limit,
        started_at: timestamp(),
        finished_at: None,
        interrupted: None,
        observation: None,
        shard: None,
        merge: None,
    }
}

/// Runs the cases, calling `progress` with each case's result as soon as
/// its evidence is complete, and writes the bundle.
pub async fn run(
    config: RunConfig<'_>,
    progress: impl Fn(&CaseResult),
) -> Result<RunReport, RunError> {
    run_until(config, progress, std::future::pending()).await
}

/// [`run`], stopping early when `stop` completes: no further case starts,
/// the cases in flight finish (each within its deadline), a load in
/// progress sends no further request (those in flight end within their
/// deadline), and the bundle is sealed with the cases that ran, marked as
/// interrupted in `run.json` (with the stopped load's request counts).
pub async fn run_until(
    config: RunConfig<'_>,
    progress: impl Fn(&CaseResult),
    stop: impl Future<Output = ()>,
) -> Result<RunReport, RunError> {
    run_declared(config, None, progress, stop).await
}

/// [`run_until`] for a target that declares the identity of the model it
/// serves: when a case checks it (`same_model_as_declared`), the
/// reference fingerprints are put inside the bundle first (see
/// [`DeclaredIdentity`]) and named in the plan.
pub async fn run_declared(
    config: RunConfig<'_>,
    identity: Option<DeclaredIdentity>,
    progress: impl Fn(&CaseResult),
    stop: impl Future<Output = ()>,
) -> Result<RunReport, RunError> {
    run_sharded(config, identity, None, progress, stop).await
}

/// [`run_declared`] as one shard of the plan when `sharding` is given: the
/// cases must all be performance cases (conformance cases are not
/// sharded), each is planned whole and sends only the shard's share, and
/// `run.json` records the shard ([`Shard`]: index, count, the digest of the
/// whole plan and each case's schedule zero as wall-clock time).
///
/// # Errors
///
/// As [`run_declared`]; [`RunError::Shard`] before anything is sent when a
/// case is not a performance case, no claimed performance case is left, or
/// a closed loop has fewer users than shards.
pub async fn run_sharded(
    config: RunConfig<'_>,
    identity: Option<DeclaredIdentity>,
    sharding: Option<Sharding>,
    progress: impl Fn(&CaseResult),
    stop: impl Future<Output = ()>,
) -> Result<RunReport, RunError> {
    if sharding.is_some()
        && let Some(case) = config.cases.iter().find(|c| c.performance.is_none())
    {
        return Err(RunError::Shard(format!(
            "{} is a conformance case, and only performance cases are sharded \
             (run the conformance cases once, without --shard)",
            case.id
        )));
    }
    if let Some(sharding) = &sharding {
        for case in &config.cases {
            if let Some(LoadModel::Closed { users, .. }) =
                case.performance.as_ref().map(|p| &p.workload.load)
            {
                sharding
                    .shard
                    .users(*users)
                    .map_err(|e| RunError::Shard(format!("case {}: {e}", case.id)))?;
            }
        }
    }
    let dir = &config.bundle_dir;
    create_bundle_dirs(dir)?;
    let mut accounting = config.accounting.clone();
    // The bundle carries the tokenizer, so that it is re-judged anywhere.
    if let Some(spec) = &accounting.tokenizer {
        accounting.tokenizer = Some(spec.copy_into(Path::new(""), dir)?);
    }
    let checks_identity = config
        .cases
        .iter()
        .any(|c| c.checks.contains(&Check::SameModelAsDeclared));
    let identity = match identity.filter(|_| checks_identity) {
        Some(declared) => Some(identity::place(&declared, config.suite, dir).await?),
        None => None,
    };
    let plan = Plan {
        cases: config.cases.iter().map(|c| c.id.clone()).collect(),
        identity,
        claims: config.claims.clone(),
        dialects: config.client.target().dialects.clone(),
        accounting,
        rate_limit: config.client.target().rate_limit.clone(),
        performance: config.performance.clone(),
        limits: config.client.target().limits,
    };
    let context = Context::new(plan.clone(), dir)?;
    let mut loads = plan_loads(&config, &context)?;
    let mut info = run_info(
        dir,
        config.suite,
        plan,
        config.target.clone(),
        config.client.limits(),
    );
    info.observation = config.observation.clone();
    if let Some(sharding) = sharding {
        info.shard = Some(shard_loads(sharding, &mut loads)?);
    }
    bundle::write_canonical(&dir.join(bundle::RUN_FILE), &info)?;

    let suite = config.suite;
    let context = &context;
    let client = &config.client;
    let mut started: Vec<String> = Vec::new();
    let mut stopped_load = None;
    let mut stop = std::pin::pin!(futures_util::FutureExt::fuse(stop));
    {
        let pending = futures_util::stream::iter(
            config
                .cases
                .iter()
                .copied()
                .filter(|c| c.performance.is_none()),
        )
        .take_until(stop.as_mut())
        .map(|case| {
            started.push(case.id.clone());
            case
        })
        .map(|case| async move {
            if !context.sends(case) {
                return Ok((case, None));
            }
            let path = bundle::evidence_path(dir, &case.id);
            client.execute(case, &path).await?;
            Ok::<_, ClientError>((case, Some(path)))
        })
        .buffer_unordered(config.jobs.max(1));
        let mut pending = std::pin::pin!(pending);
        while let Some(done) = pending.next().await {
            let (case, path) = done?;
            let result = off_the_executor(|| {
                judge::judge_case(suite, case, context, path.as_deref().map(read_exchanges))
            });
            progress(&result);
        }
    }
    for planned in &loads {
        let stopped = futures_util::future::FusedFuture::is_terminated(&*stop)
            || futures_util::FutureExt::now_or_never(stop.as_mut()).is_some();
        if stopped {
            break;
        }
        let case = planned.case;
        started.push(case.id.clone());
        let path = bundle::evidence_path(dir, &case.id);
        let model = context.plan.performance_model(&client.target().model);
        let on_progress = |p: &LoadProgress| {
            if let Some(report) = config.load_progress {
                report(&case.id, p);
            }
        };
        let run = load::run_case_until(
            &client.for_model(model),
            planned,
            &path,
            on_progress,
            stop.as_mut(),
        )
        .await
        .map_err(|source| RunError::Load {
            case: case.id.clone(),
            source,
        })?;
        if let Some(shard) = info.shard.as_mut() {
            if shard.anchors_unix_ns.is_empty() {
                shard.anchor_unix_ns = run.anchor_unix_ns;
            }
            shard
                .anchors_unix_ns
                .insert(case.id.clone(), run.anchor_unix_ns);
        }
        if run.interrupted {
            stopped_load = Some(InterruptedLoad {
                case: case.id.clone(),
                planned: run.planned,
                sent: run.sent,
            });
        }
        let result = off_the_executor(|| {
            judge::judge_case(suite, case, context, Some(read_exchanges(&path)))
        });
        progress(&result);
    }
    // Unclaimed performance cases were not started but are part of the run.
    for case in &config.cases {
        if case.performance.is_some()
            && !context.unclaimed(case).is_empty()
            && !started.contains(&case.id)
        {
            started.push(case.id.clone());
            progress(&judge::judge_case(suite, case, context, None));
        }
    }

    // The plan keeps the requested order whatever order the cases ran in.
    started.sort_by_key(|id| config.cases.iter().position(|c| &c.id == id));
    if started.len() < config.cases.len() || stopped_load.is_some() {
        info.interrupted = Some(Interrupted {
            planned: config.cases.len() as u64,
            load: stopped_load,
        });
        info.plan.cases = started;
    }
    info.finished_at = Some(timestamp());
    let results = bundle::seal(dir, suite, &info)?;
    Ok(RunReport {
        bundle_dir: dir.clone(),
        results,
    })
}

/// Plans every claimed performance case before anything is sent, so a
/// workload that cannot be built stops the run before it starts.
fn plan_loads<'a>(
    config: &RunConfig<'a>,
    context: &Context,
) -> Result<Vec<PlannedCase<'a>>, RunError> {
    let target = config.client.target();
    config
        .cases
        .iter()
        .filter(|case| context.unclaimed(case).is_empty())
        .filter_map(|case| Some((*case, case.performance.as_ref()?)))
        .map(|(case, performance)| {
            off_the_executor(|| {
                load::plan_case(
                    case,
                    performance,
                    &context.tokenizer,
                    &config.suite.root,
                    target.limits.max_context_tokens,
                    &context.plan.accounting.chat_overhead,
                )
            })
            .map_err(|source| RunError::Workload {
                case: case.id.clone(),
                source,
            })
        })
        .collect()
}

/// Makes `loads` send `sharding`'s share (the first one from its start
/// time) and returns the shard's record, its anchors still to be filled.
fn shard_loads(sharding: Sharding, loads: &mut [PlannedCase<'_>]) -> Result<Shard, RunError> {
    let shard = sharding.shard;
    if loads.is_empty() {
        return Err(RunError::Shard(format!(
            "--shard {shard}: no performance case the target claims is selected, \
             so there is nothing to shard"
        )));
    }
    let whole: Vec<PlannedLoad<'_>> = loads
        .iter()
        .map(|p| (p.case.id.as_str(), p.plan.as_slice()))
        .collect();
    let digest = off_the_executor(|| plan_digest(&whole));
    for (i, planned) in loads.iter_mut().enumerate() {
        planned.shard = Some(shard);
        planned.start_at = sharding.start_at.filter(|_| i == 0);
    }
    Ok(Shard {
        index: shard.index,
        count: shard.count,
        plan_digest: digest,
        anchor_unix_ns: 0,
        start_at_unix_ns: sharding.start_at.map(unix_ns),
        anchors_unix_ns: BTreeMap::new(),
    })
}

/// A fresh run id from the wall clock, e.g. `20261126T112233Z`.
pub fn run_id() -> String {
    timestamp().replace(['-', ':'], "")
}

/// Creates a new bundle directory and its evidence directory, both
/// private. An existing `dir` is refused.
pub(crate) fn create_bundle_dirs(dir: &Path) -> Result<(), RunError> {
    if dir.exists() {
        return Err(RunError::Exists(dir.display().to_string()));
    }
    let evidence_dir = dir.join(bundle::EVIDENCE_DIR);
    for private in [dir, &evidence_dir] {
        bundle::create_private_dir(private).map_err(|source| RunError::Create {
            path: private.display().to_string(),
            source,
        })?;
    }
    Ok(())
}
