//! A real server no one here wrote: the bundle recorded from
//! llama-cpp-python's OpenAI-compatible server (fixtures/llama-cpp/bundle,
//! made by fixtures/llama-cpp/record.sh). CI does not need the server:
//! the evidence is re-judged with today's suite and must give the verdicts
//! recorded with it, and the bundle's files must match their manifest.
//!
//! A case added to the suite after the recording has no evidence and is
//! not compared; a case whose verdict changes means the suite changed its
//! mind about llama.cpp, which is a reason to re-record and re-read the
//! deviations in fixtures/llama-cpp/README.md, not to edit results.json.

use std::path::{Path, PathBuf};

use tokencert_core::bundle::{self, evidence_path};
use tokencert_core::evidence::read_exchanges;
use tokencert_core::judge::{self, Verdict};
use tokencert_core::suite;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bundle_dir() -> PathBuf {
    root().join("fixtures/llama-cpp/bundle")
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
fn re_judging_the_llama_cpp_evidence_gives_the_recorded_verdicts() {
    let suite = suite::load(&root()).expect("the suite loads");
    let dir = bundle_dir();
    let run = bundle::read_run(&dir).expect("run.json reads");
    let recorded = bundle::read_results(&dir).expect("results.json reads");
    let context = judge::Context::new(run.plan.clone(), &dir).expect("the plan's tokenizer loads");
    let mut compared = 0;
    let mut differ = Vec::new();
    for was in &recorded.cases {
        let Some(case) = suite.case(&was.id) else {
            continue;
        };
        let path = evidence_path(&dir, &was.id);
        let evidence = path.exists().then(|| read_exchanges(&path));
        let now = judge::judge_case(&suite, case, &context, evidence);
        compared += 1;
        if now.verdict != was.verdict {
            differ.push(format!(
                "{}: recorded {}, now {} ({})",
                was.id,
                was.verdict.name(),
                now.verdict.name(),
                now.reason
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "re-judged verdicts differ from the recording:\n{}",
        differ.join("\n")
    );
    // Performance cases are not part of the recording: the timings of a
    // CPU llama server on a build machine would judge nothing portable.
    let conformance = suite
        .cases
        .iter()
        .filter(|c| c.performance.is_none())
        .count();
    assert!(
        compared * 10 >= conformance * 9,
        "only {compared} of {conformance} conformance cases have recorded evidence; re-record"
    );
    // The recording is only worth keeping if it shows real deviations as
    // well as conformance.
    for verdict in [Verdict::Pass, Verdict::Fail] {
        assert!(
            recorded.cases.iter().any(|c| c.verdict == verdict),
            "no case was judged {}",
            verdict.name()
        );
    }
}
