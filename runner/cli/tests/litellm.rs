//! A second real server no one here wrote: the bundle recorded from
//! LiteLLM's proxy in front of llama-cpp-python's server
//! (fixtures/litellm/bundle, made by fixtures/litellm/record.sh), in all
//! three dialects: OpenAI Chat, Anthropic Messages and OpenAI Responses.
//! CI needs neither server: the evidence is re-judged with today's suite
//! and must give, case by case, the verdicts listed in
//! fixtures/litellm/expected-verdicts.tsv (which record.sh writes from the
//! recording), and the bundle's files must match their manifest.
//!
//! A case whose verdict changes means the suite changed its mind about
//! LiteLLM: re-record (fixtures/litellm/record.sh) and re-read the
//! deviations in docs/litellm.md rather than editing the table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tokencert_core::bundle::{self, evidence_path};
use tokencert_core::evidence::read_exchanges;
use tokencert_core::judge::{self, Verdict};
use tokencert_core::suite::{self, Dialect};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture_dir() -> PathBuf {
    root().join("fixtures/litellm")
}

fn bundle_dir() -> PathBuf {
    fixture_dir().join("bundle")
}

/// The expected verdict of each case: `id<TAB>verdict` lines, `#` comments.
fn expected_verdicts() -> BTreeMap<String, String> {
    let path = fixture_dir().join("expected-verdicts.tsv");
    let text = std::fs::read_to_string(&path).expect("expected-verdicts.tsv reads");
    let mut table = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (id, verdict) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("line {} of {}: no tab", n + 1, path.display()));
        assert!(
            ["pass", "fail", "error", "not_claimed"].contains(&verdict),
            "line {}: unknown verdict {verdict:?}",
            n + 1
        );
        let again = table.insert(id.to_owned(), verdict.to_owned());
        assert!(again.is_none(), "line {}: {id} listed twice", n + 1);
    }
    table
}

#[test]
fn the_recorded_bundle_is_intact() {
    let files = bundle::verify_files(&bundle_dir())
        .expect("the bundle matches its manifest")
        .files
        .len();
    assert!(files > 100, "only {files} files in the recorded bundle");
}

#[test]
fn the_expected_verdicts_are_those_of_the_recording() {
    let recorded = bundle::read_results(&bundle_dir()).expect("results.json reads");
    let recorded: BTreeMap<String, String> = recorded
        .cases
        .iter()
        .map(|c| (c.id.clone(), c.verdict.name().to_owned()))
        .collect();
    assert_eq!(
        expected_verdicts(),
        recorded,
        "fixtures/litellm/expected-verdicts.tsv is not the recording's verdicts; re-run record.sh"
    );
}

/// What re-judging the recorded evidence with today's suite gives.
struct Rejudged {
    /// Cases of `expected` that the suite still has.
    compared: usize,
    /// One line per case whose verdict is not the expected one.
    differ: Vec<String>,
    /// Per dialect, the verdicts re-judged now.
    seen: BTreeMap<Dialect, Vec<Verdict>>,
}

fn rejudge(expected: &BTreeMap<String, String>) -> Rejudged {
    let suite = suite::load(&root()).expect("the suite loads");
    let dir = bundle_dir();
    let run = bundle::read_run(&dir).expect("run.json reads");
    let context = judge::Context::new(run.plan.clone(), &dir).expect("the plan's tokenizer loads");
    let mut out = Rejudged {
        compared: 0,
        differ: Vec::new(),
        seen: BTreeMap::new(),
    };
    for (id, was) in expected {
        let Some(case) = suite.case(id) else {
            continue;
        };
        let path = evidence_path(&dir, id);
        let evidence = path.exists().then(|| read_exchanges(&path));
        let now = judge::judge_case(&suite, case, &context, evidence);
        out.compared += 1;
        for dialect in case.dialects() {
            out.seen.entry(dialect).or_default().push(now.verdict);
        }
        if now.verdict.name() != was {
            out.differ.push(format!(
                "{id}: expected {was}, now {} ({})",
                now.verdict.name(),
                now.reason
            ));
        }
    }
    out
}

#[test]
fn re_judging_the_litellm_evidence_gives_the_expected_verdicts() {
    let suite = suite::load(&root()).expect("the suite loads");
    let Rejudged {
        compared,
        differ,
        seen,
    } = rejudge(&expected_verdicts());
    assert!(
        differ.is_empty(),
        "re-judged verdicts differ from fixtures/litellm/expected-verdicts.tsv:\n{}",
        differ.join("\n")
    );
    // Performance cases are not part of the recording: the timings of a
    // CPU llama server behind a proxy on a build machine judge nothing portable.
    let conformance = suite
        .cases
        .iter()
        .filter(|c| c.performance.is_none())
        .count();
    assert!(
        compared * 10 >= conformance * 9,
        "only {compared} of {conformance} conformance cases have a recorded verdict; re-record"
    );
    // The recording is worth keeping only if, in each dialect, it shows
    // real deviations as well as conformance.
    for dialect in [
        Dialect::OpenaiChat,
        Dialect::AnthropicMessages,
        Dialect::OpenaiResponses,
    ] {
        let verdicts = seen.get(&dialect).map(Vec::as_slice).unwrap_or_default();
        for verdict in [Verdict::Pass, Verdict::Fail] {
            assert!(
                verdicts.contains(&verdict),
                "no {dialect} case was judged {}",
                verdict.name()
            );
        }
    }
}

#[test]
fn a_wrong_expected_verdict_is_caught() {
    let mut expected = expected_verdicts();
    let (id, verdict) = expected
        .iter_mut()
        .find(|(_, v)| *v == "fail")
        .expect("the recording has a failed case");
    let id = id.clone();
    *verdict = "pass".into();
    let differ = rejudge(&expected).differ;
    assert_eq!(differ.len(), 1, "{differ:?}");
    assert!(
        differ[0].starts_with(&format!("{id}: expected pass, now fail")),
        "{differ:?}"
    );
}
