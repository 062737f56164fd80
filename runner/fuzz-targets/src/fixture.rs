//! What the targets share: the project's suite, loaded once, and a judging
//! context whose plan claims everything, so that no check is skipped as
//! not claimed.

use std::path::PathBuf;
use std::sync::LazyLock;

use tokencert_core::judge::{Context, Plan};
use tokencert_core::suite::{self, Accounting, PerformanceClaim, RateLimit, Suite};

/// The directory holding `spec/` and `suites/`.
pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The project's suite.
pub(crate) static SUITE: LazyLock<Suite> = LazyLock::new(|| {
    suite::load(&repo_root()).unwrap_or_else(|e| panic!("the project's suite must load: {e}"))
});

/// Every case, capability and service class claimed, a rate limit
/// declared, tokens counted with o200k_base.
pub(crate) static CONTEXT: LazyLock<Context> = LazyLock::new(|| {
    let mut plan = Plan {
        rate_limit: Some(RateLimit {
            model: None,
            requests: 2,
            window_seconds: 1,
            tokens: Some(1000),
        }),
        performance: Some(PerformanceClaim {
            model: None,
            classes: SUITE.slo_profiles.keys().cloned().collect(),
        }),
        accounting: Accounting::openai_o200k(),
        ..Plan::default()
    };
    for case in &SUITE.cases {
        plan.claims.extend(case.requires.iter().copied());
        plan.cases.push(case.id.clone());
    }
    Context::new(plan, &repo_root()).unwrap_or_else(|e| panic!("o200k_base must load: {e}"))
});
