//! The mutation matrix: the suite against every mutant of the reference
//! service must fail exactly the cases of the clause that mutant breaks —
//! no more, no fewer — and across all mutants every check in the suite must
//! fail at least once. This is how every check is shown able to fail.
//!
//! Performance cases are left out: their checks judge timings, which no
//! mutant of the API changes. `tests/perf.rs` makes each of them fail with
//! slower capacity settings or an overloaded queue instead.

use std::collections::BTreeSet;
use std::path::Path;

use tokencert::target::{self, Selection};
use tokencert_core::judge::{Results, Verdict};
use tokencert_core::suite::{self, Suite};
use tokencert_drive::{Client, Limits, RunConfig};
use tokencert_reference::Mutant;

/// Mutant services run concurrently.
const MUTANTS_AT_ONCE: usize = 8;

fn suite() -> Suite {
    suite::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).expect("the suite loads")
}

async fn run_against(suite: &Suite, mutant: Option<Mutant>, out: &Path) -> Results {
    let prepared = target::prepare(Selection {
        mutant,
        ..Selection::default()
    })
    .await
    .expect("the reference service starts");
    let config = RunConfig {
        suite,
        cases: suite
            .cases
            .iter()
            .filter(|c| c.performance.is_none())
            .collect(),
        client: Client::new(prepared.target.clone(), Limits::default()).expect("client"),
        claims: prepared.claims.clone(),
        accounting: prepared.accounting.clone(),
        target: prepared.info.clone(),
        bundle_dir: out.join(mutant.map_or("correct", |m| m.name())),
        jobs: 4,
        performance: prepared.performance.clone(),
        load_progress: None,
        observation: None,
    };
    let identity = prepared.identity.clone();
    let report = tokencert_drive::run_declared(config, identity, |_| {}, std::future::pending())
        .await
        .expect("the run completes");
    report.results
}

fn not_passing(results: &Results) -> BTreeSet<String> {
    results
        .cases
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .map(|c| c.id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mutant_fails_exactly_the_cases_of_its_clause() {
    let suite = suite();
    let out = tempfile::tempdir().expect("temp dir");

    let correct = run_against(&suite, None, out.path()).await;
    assert!(
        not_passing(&correct).is_empty(),
        "the correct service fails {:?}",
        not_passing(&correct)
    );

    // Runs spend most of their time waiting (paced streams, rate-limit
    // windows), so several mutants run at once.
    let mut runs = Vec::new();
    for batch in Mutant::ALL.chunks(MUTANTS_AT_ONCE) {
        let results = futures_util::future::join_all(
            batch
                .iter()
                .map(|&mutant| run_against(&suite, Some(mutant), out.path())),
        )
        .await;
        runs.extend(batch.iter().copied().zip(results));
    }

    let mut failed_checks = BTreeSet::new();
    let mut mismatches = Vec::new();
    for (mutant, results) in runs {
        let expected: BTreeSet<String> = suite
            .cases
            .iter()
            .filter(|c| c.clause == mutant.clause() && c.performance.is_none())
            .map(|c| c.id.clone())
            .collect();
        assert!(
            !expected.is_empty(),
            "mutant {mutant} breaks {}, which no case tests",
            mutant.clause()
        );
        for case in results.cases.iter().filter(|c| c.verdict != Verdict::Pass) {
            assert_eq!(
                case.verdict,
                Verdict::Fail,
                "{mutant}: {} is {:?}: {}",
                case.id,
                case.verdict,
                case.reason
            );
            failed_checks.extend(
                case.checks
                    .iter()
                    .filter(|c| c.verdict == Verdict::Fail)
                    .map(|c| c.check.split(' ').next().unwrap_or_default().to_string()),
            );
        }
        let actual = not_passing(&results);
        if actual != expected {
            mismatches.push(format!(
                "{mutant} ({}): expected to fail {expected:?}, failed {actual:?}",
                mutant.clause()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "mutation matrix mismatches:\n{}",
        mismatches.join("\n")
    );

    let used: BTreeSet<String> = suite
        .cases
        .iter()
        .filter(|c| c.performance.is_none())
        .flat_map(|c| c.checks.iter().map(|k| k.name().to_string()))
        .collect();
    let never_failed: Vec<_> = used.difference(&failed_checks).collect();
    assert!(
        never_failed.is_empty(),
        "checks no mutant makes fail: {never_failed:?}"
    );
}

#[test]
fn every_conformance_clause_of_the_suite_has_a_mutant() {
    let suite = suite();
    let mutated: BTreeSet<&str> = Mutant::ALL.iter().map(|m| m.clause()).collect();
    let conformance: BTreeSet<&str> = suite
        .cases
        .iter()
        .filter(|c| c.performance.is_none())
        .map(|c| c.clause.as_str())
        .collect();
    let untested: Vec<&str> = suite
        .clauses
        .keys()
        .map(String::as_str)
        .filter(|c| conformance.contains(c) && !mutated.contains(c))
        .collect();
    assert!(
        untested.is_empty(),
        "clauses without a mutant: {untested:?}"
    );
}
