//! The YAML suite as ordinary `cargo test` tests: one test per case, named
//! by its id, so `cargo test -- api.chat` filters as usual.
//!
//! The target comes from the environment (`TOKENCERT_BASE_URL`, else
//! `OPENAI_BASE_URL`; `OPENAI_API_KEY`; `TOKENCERT_MODEL`; a target profile
//! from `TOKENCERT_PROFILE`); with none set it is the embedded reference
//! service. Cases the target does not claim are reported as ignored. Every exchange is recorded, and
//! after the run the harness writes a bundle (libtest-mimic only returns
//! counts) under the cargo target directory and prints where.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use libtest_mimic::{Arguments, Failed, Trial};
use tokencert::target::{self, Selection};
use tokencert_core::bundle::{self, RunInfo};
use tokencert_core::evidence::read_exchanges;
use tokencert_core::judge::{self, Context, Plan, Verdict};
use tokencert_core::suite::{self, Suite};
use tokencert_drive::{Client, Limits, load, run_info};

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let setup = suite::load(&root)
        .map_err(|e| e.to_string())
        .and_then(|suite| {
            let runtime = tokio::runtime::Runtime::new()
                .map_err(|e| format!("cannot start the async runtime: {e}"))?;
            let selection = Selection {
                slo_classes: suite.slo_profiles.keys().cloned().collect(),
                ..Selection::from_env().map_err(|e| e.to_string())?
            };
            let prepared = runtime
                .block_on(target::prepare(selection))
                .map_err(|e| format!("cannot prepare the target: {e}"))?;
            let client = Client::new(prepared.target.clone(), Limits::default())
                .map_err(|e| e.to_string())?;
            let plan = Plan {
                cases: Vec::new(),
                claims: prepared.claims.clone(),
                dialects: prepared.target.dialects.clone(),
                accounting: prepared.accounting.clone(),
                rate_limit: prepared.target.rate_limit.clone(),
                performance: prepared.performance.clone(),
                limits: prepared.target.limits,
                identity: None,
            };
            let context = Context::new(plan, &root).map_err(|e| e.to_string())?;
            Ok((
                Arc::new(suite),
                runtime,
                prepared,
                client,
                Arc::new(context),
            ))
        });
    let (suite, runtime, prepared, client, context) = match setup {
        Ok(setup) => setup,
        // Report a broken setup as one failing test rather than a crash.
        Err(message) => {
            let trial = Trial::test("suite.setup", move || Err(Failed::from(message)));
            return libtest_mimic::run(&args, vec![trial]).exit_code();
        }
    };
    let bundle_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("tokencert")
        .join(format!(
            "{}-{}",
            tokencert_drive::run_id(),
            std::process::id()
        ));
    if let Err(e) = std::fs::create_dir_all(bundle_dir.join(bundle::EVIDENCE_DIR)) {
        eprintln!("cannot create {}: {e}", bundle_dir.display());
        return ExitCode::FAILURE;
    }

    // libtest runs trials in parallel; a performance case measures the
    // service, so it runs alone (as `tokencert run` runs it): it takes this
    // lock for writing, every other case for reading.
    let alone = Arc::new(RwLock::new(()));
    let trials = suite
        .cases
        .iter()
        .map(|case| {
            let alone = Arc::clone(&alone);
            let unsent = !context.sends(case);
            let kind = result_kind(&suite, case);
            let (suite, client, handle) =
                (Arc::clone(&suite), client.clone(), runtime.handle().clone());
            let (id, context, dir) = (case.id.clone(), Arc::clone(&context), bundle_dir.clone());
            Trial::test(case.id.clone(), move || {
                let case = suite
                    .case(&id)
                    .ok_or_else(|| Failed::from("case vanished"))?;
                let path = bundle::evidence_path(&dir, &id);
                // A trial that failed while holding the lock leaves nothing to repair.
                let _shared;
                let _exclusive;
                if case.performance.is_some() {
                    _exclusive = alone.write().unwrap_or_else(|e| e.into_inner());
                } else {
                    _shared = alone.read().unwrap_or_else(|e| e.into_inner());
                }
                match &case.performance {
                    Some(performance) => handle.block_on(run_load(
                        &suite,
                        case,
                        performance,
                        &client,
                        &context,
                        &path,
                    ))?,
                    None => handle
                        .block_on(client.execute(case, &path))
                        .map_err(|e| Failed::from(e.to_string()))?,
                }
                let result = judge::judge_case(&suite, case, &context, Some(read_exchanges(&path)));
                match result.verdict {
                    Verdict::Pass | Verdict::NotClaimed => Ok(()),
                    Verdict::Fail | Verdict::Error => Err(Failed::from(format!(
                        "{} [{} {}]: {}\n  evidence: {}",
                        result.verdict.name(),
                        result.level.keyword(),
                        result.clause,
                        result.reason,
                        path.display()
                    ))),
                }
            })
            .with_kind(kind)
            .with_ignored_flag(unsent)
        })
        .collect();
    let mut info = run_info(
        &bundle_dir,
        &suite,
        context.plan.clone(),
        prepared.info.clone(),
        Limits::default(),
    );
    let conclusion = libtest_mimic::run(&args, trials);

    drop(prepared);
    if args.list {
        let _ = std::fs::remove_dir_all(&bundle_dir);
        return conclusion.exit_code();
    }
    // The bundle must verify like any other; a harness that wrote a bundle
    // `tokencert verify` rejects has failed, whatever the cases said.
    let sealed = seal(&suite, &bundle_dir, &mut info)
        .and_then(|()| bundle::verify(&bundle_dir, &suite, None).map(|_| ()));
    match sealed {
        Err(e) => {
            eprintln!("the bundle {} does not verify: {e}", bundle_dir.display());
            ExitCode::FAILURE
        }
        Ok(()) => {
            eprintln!("tokencert bundle: {}", bundle_dir.display());
            conclusion.exit_code()
        }
    }
}

/// Plans and drives a performance case against the target's performance model.
async fn run_load(
    suite: &Suite,
    case: &suite::Case,
    performance: &suite::Performance,
    client: &Client,
    context: &Context,
    path: &Path,
) -> Result<(), Failed> {
    let planned = load::plan_case(
        case,
        performance,
        &context.tokenizer,
        &suite.root,
        client.target().limits.max_context_tokens,
        &context.plan.accounting.chat_overhead,
    )
    .map_err(|e| Failed::from(e.to_string()))?;
    let model = context.plan.performance_model(&client.target().model);
    load::run_case(&client.for_model(model), &planned, path, |_| {})
        .await
        .map_err(|e| Failed::from(e.to_string()))
}

/// The test kind shown in brackets: the clause's level.
fn result_kind(suite: &Suite, case: &suite::Case) -> &'static str {
    suite.clause_of(case).map_or("", |c| c.level.keyword())
}

/// Seals the bundle with the cases that ran (those with evidence) as its plan.
fn seal(suite: &Suite, dir: &Path, info: &mut RunInfo) -> Result<(), bundle::BundleError> {
    info.plan.cases = suite
        .cases
        .iter()
        .filter(|c| bundle::evidence_path(dir, &c.id).exists())
        .map(|c| c.id.clone())
        .collect();
    info.finished_at = Some(tokencert_drive::timestamp());
    bundle::seal(dir, suite, info).map(|_| ())
}
