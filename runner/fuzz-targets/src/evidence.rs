//! The evidence reader and what interprets an exchange: the exchange's
//! accessors, every check of the suite, and the judging of the cases whose
//! judging goes beyond one exchange (performance cases, probes).

use std::sync::LazyLock;

use tokencert_core::check::{self, View};
use tokencert_core::evidence::parse_exchanges;
use tokencert_core::judge;
use tokencert_core::suite::{Case, Check};

use crate::fixture::{CONTEXT, SUITE};

/// Every distinct check of the suite's conformance cases.
static CHECKS: LazyLock<Vec<Check>> = LazyLock::new(|| {
    let mut checks: Vec<Check> = Vec::new();
    for check in SUITE.cases.iter().flat_map(|c| &c.checks) {
        if !check.is_performance() && !checks.contains(check) {
            checks.push(check.clone());
        }
    }
    checks
});

/// The cases judged from the whole evidence: performance cases and probes.
static WHOLE: LazyLock<Vec<&'static Case>> = LazyLock::new(|| {
    SUITE
        .cases
        .iter()
        .filter(|c| c.performance.is_some() || c.probe.is_some())
        .collect()
});

/// Reads `data` (lossily decoded) as an evidence file; when it parses,
/// runs every check on each exchange (its predecessors as `before`) and
/// judges the performance and probe cases on all of them.
pub fn evidence(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let exchanges = match parse_exchanges(&text) {
        Ok(exchanges) => exchanges,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    for (i, exchange) in exchanges.iter().enumerate() {
        let _ = exchange.body();
        let _ = exchange.incomplete();
        if let Some(outcome) = &exchange.outcome {
            let _ = outcome.describe();
        }
        if let Some(head) = &exchange.response {
            let _ = head.header("content-type");
        }
        let view = View::new(exchange, &exchanges[..i]);
        for check in CHECKS.iter() {
            let _ = check::run(check, &view, &SUITE.schemas, &CONTEXT);
        }
    }
    for case in WHOLE.iter() {
        let _ = judge::judge_case(&SUITE, case, &CONTEXT, Some(Ok(exchanges.clone())));
    }
}
