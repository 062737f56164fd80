//! No false failures from what a target declares: recounts only with the
//! tokenizer the target bills with, and no case a target may refuse for
//! its declared limits.
//!
//! The reference service's `cl100k_base` billing variant counts usage with
//! another tokenizer than the o200k_base it generates with, as a vendor
//! with its own tokenizer does. Undeclared, every case that recounts is not
//! claimed (the priced tasks still run, priced and normalised); declared,
//! they pass; declared and under-reported, they fail. A service with a
//! small context runs the whole conformance suite without a failure.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use tokencert_core::bundle::TargetInfo;
use tokencert_core::judge::{Results, TOKENIZER_UNDECLARED, Verdict};
use tokencert_core::suite::{self, Accounting, Capability, Limits, Suite};
use tokencert_core::tokens::TokenizerSpec;
use tokencert_drive::{ApiKey, Client, RunConfig, Target};
use tokencert_reference::{Billing, Config, Mutant};

const KEY: &str = "sk-tokencert-declared-accounting";

fn suite() -> Suite {
    suite::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).expect("the suite loads")
}

/// How the reference service is started and what its profile declares.
struct Setup {
    billing: Billing,
    mutant: Option<Mutant>,
    context: u64,
    tokenizer: Option<TokenizerSpec>,
}

/// Every capability but prompt caching (cached tokens are counted in the
/// generating tokenizer) and rate limits (a probe of its own).
fn claims() -> BTreeSet<Capability> {
    Capability::ALL
        .iter()
        .copied()
        .filter(|c| !matches!(c, Capability::PromptCaching | Capability::RateLimits))
        .collect()
}

async fn run(suite: &Suite, setup: Setup, select: impl Fn(&suite::Case) -> bool) -> Results {
    let config = Config {
        api_key: Some(KEY.into()),
        billing: setup.billing,
        mutant: setup.mutant,
        max_context_tokens: setup.context,
        ..Config::default()
    };
    let limits = Limits {
        max_context_tokens: setup.context,
        max_request_bytes: config.max_request_bytes as u64,
    };
    let model = config.model.clone();
    let server = tokencert_reference::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("the reference service starts");
    let target = Target {
        base_url: server.base_url(),
        model: model.clone(),
        api_key: Some(ApiKey::new(KEY)),
        limits,
        rate_limit: None,
        dialects: Default::default(),
    };
    let out = tempfile::tempdir().expect("temp dir");
    let run = RunConfig {
        suite,
        cases: suite
            .cases
            .iter()
            .filter(|c| c.performance.is_none() && select(c))
            .collect(),
        client: Client::new(target, tokencert_drive::Limits::default()).expect("client"),
        claims: claims(),
        accounting: Accounting {
            tokenizer: setup.tokenizer,
            ..Accounting::default()
        },
        target: TargetInfo {
            base_url: server.base_url(),
            model,
            reference: None,
        },
        bundle_dir: out.path().join("bundle"),
        jobs: 4,
        performance: None,
        load_progress: None,
        observation: None,
    };
    tokencert_drive::run(run, |_| {})
        .await
        .expect("the run completes")
        .results
}

fn recounts(case: &suite::Case) -> bool {
    case.checks.iter().any(suite::Check::recounts)
}

fn verdicts(results: &Results, verdict: Verdict) -> BTreeSet<String> {
    results
        .cases
        .iter()
        .filter(|c| c.verdict == verdict)
        .map(|c| c.id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recounts_need_the_tokenizer_the_target_bills_with() {
    let suite = suite();
    // The accounting cases that recount. (The variant still cuts answers at
    // max_tokens o200k_base tokens, so the max_tokens cases, which recount
    // the delivered text against the limit, fail against it, rightly.)
    let applicable = |c: &suite::Case| {
        c.id.starts_with("acc.") && recounts(c) && c.requires.iter().all(|r| claims().contains(r))
    };
    let cl100k = |tokenizer, mutant| Setup {
        billing: Billing::Cl100kBase,
        mutant,
        context: tokencert_reference::DEFAULT_MAX_CONTEXT_TOKENS,
        tokenizer,
    };
    let expected: BTreeSet<String> = suite
        .cases
        .iter()
        .filter(|c| c.performance.is_none() && applicable(c))
        .map(|c| c.id.clone())
        .collect();
    assert!(
        expected.len() >= 8,
        "only {} recounting cases",
        expected.len()
    );

    // Undeclared: not claimed, saying how to declare it.
    let undeclared = run(&suite, cl100k(None, None), applicable).await;
    for case in undeclared.cases.iter().filter(|c| expected.contains(&c.id)) {
        assert_eq!(
            case.verdict,
            Verdict::NotClaimed,
            "{}: {}",
            case.id,
            case.reason
        );
        assert!(
            case.reason.contains(TOKENIZER_UNDECLARED),
            "{}",
            case.reason
        );
    }
    // The priced tasks still ran: priced, and normalised with o200k_base.
    let prices = undeclared.prices.expect("the priced tasks ran");
    assert!(!prices.workload.tasks.is_empty());
    for task in &prices.workload.tasks {
        assert_eq!(task.successes, task.attempts, "{:?}", task.task);
        assert!(task.normalised_tokens.is_some_and(|n| n > 0), "{task:?}");
    }

    // The wrong tokenizer declared: the recount disagrees (that is what a
    // default would have published).
    let wrong = run(
        &suite,
        cl100k(Some(TokenizerSpec::O200kBase), None),
        applicable,
    )
    .await;
    assert!(
        !verdicts(&wrong, Verdict::Fail).is_empty(),
        "o200k_base recounts of cl100k_base usage all agreed"
    );

    // Declared: every recount passes.
    let declared = run(
        &suite,
        cl100k(Some(TokenizerSpec::Cl100kBase), None),
        applicable,
    )
    .await;
    assert_eq!(
        verdicts(&declared, Verdict::Pass),
        expected,
        "{:#?}",
        declared.cases
    );

    // Declared, and usage under-reported: the completion recounts fail.
    let under = run(
        &suite,
        cl100k(
            Some(TokenizerSpec::Cl100kBase),
            Some(Mutant::UsageCompletionUnder),
        ),
        applicable,
    )
    .await;
    let failed = verdicts(&under, Verdict::Fail);
    for id in [
        "acc.recount.completion-chat",
        "acc.recount.completion-legacy",
    ] {
        assert!(failed.contains(id), "{id} did not fail: {failed:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_declared_context_fails_no_case_for_its_size() {
    let suite = suite();
    let context = 300;
    let results = run(
        &suite,
        Setup {
            billing: Billing::O200kBase,
            mutant: None,
            context,
            tokenizer: Some(TokenizerSpec::O200kBase),
        },
        |_| true,
    )
    .await;
    let bad: Vec<String> = results
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error))
        .map(|c| format!("{}: {}", c.id, c.reason))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    // The cases too large for it are not claimed, naming the limit.
    for id in [
        "acc.recount.prompt-long-document",
        "acc.recount.completion-long",
    ] {
        let case = results.cases.iter().find(|c| c.id == id).expect("ran");
        assert_eq!(case.verdict, Verdict::NotClaimed, "{id}: {}", case.reason);
        assert!(
            case.reason
                .contains(&format!("the target declares {context}")),
            "{}",
            case.reason
        );
    }
}
