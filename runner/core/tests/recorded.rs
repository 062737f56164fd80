//! Hand-written recorded responses (`fixtures/recorded/`) judged by the
//! named checks: every verdict `expected.yaml` states must come out, whether
//! the body arrived whole or in pieces cut mid-character, after a round trip
//! through the evidence format.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use common::{CONTEXT, Ex, SCHEMAS, recorded, repo_root, run};
use serde::Deserialize;
use tokencert_core::check::View;
use tokencert_core::evidence::Exchange;
use tokencert_core::judge::Verdict;
use tokencert_core::suite::Check;

/// `fixtures/recorded/expected.yaml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    /// Request bodies by name.
    requests: BTreeMap<String, serde_json::Value>,
    samples: Vec<Sample>,
}

/// One recorded response and the verdicts its checks must give.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sample {
    /// The body, relative to `fixtures/recorded/`.
    file: String,
    /// What is in it, in one line.
    about: String,
    status: u16,
    content_type: String,
    /// Further response headers.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// The request path; chat completions when absent.
    #[serde(default)]
    path: Option<String>,
    /// The name of the request body in `requests`; none for a GET.
    #[serde(default)]
    request: Option<String>,
    #[serde(default)]
    pass: Vec<Check>,
    #[serde(default)]
    fail: Vec<Check>,
    #[serde(default)]
    error: Vec<Check>,
    /// Also judge the body cut in two at every byte (a few samples only:
    /// it costs a judgement per byte).
    #[serde(default)]
    cut_everywhere: bool,
}

fn dir() -> PathBuf {
    repo_root().join("fixtures/recorded")
}

fn expected() -> Expected {
    let path = dir().join("expected.yaml");
    let text = std::fs::read_to_string(&path).expect("expected.yaml reads");
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Where the body is cut into recorded chunks: a few fixed offsets, and
/// inside the first multibyte character, if any.
fn cuts(body: &[u8]) -> Vec<usize> {
    let mut cuts = vec![1, 7, 64, body.len() / 2];
    if let Some(first) = body.iter().position(|b| !b.is_ascii()) {
        cuts.push(first + 1);
    }
    cuts.retain(|&c| c < body.len());
    cuts
}

impl Sample {
    /// The sample as recorded: whole, and cut into pieces.
    fn exchanges(&self, requests: &BTreeMap<String, serde_json::Value>) -> Vec<Exchange> {
        let body =
            std::fs::read(dir().join(&self.file)).unwrap_or_else(|e| panic!("{}: {e}", self.file));
        let mut headers = vec![("Content-Type", self.content_type.as_str())];
        headers.extend(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let path = self.path.as_deref().unwrap_or("/v1/chat/completions");
        let mut ex = Ex::new(&self.content_type, body)
            .status(self.status)
            .headers(&headers)
            .url(&format!("http://127.0.0.1:1{path}"));
        ex.request = match &self.request {
            Some(name) => requests
                .get(name)
                .unwrap_or_else(|| panic!("{}: no request named {name}", self.file))
                .to_string()
                .into_bytes(),
            None => Vec::new(),
        };
        let pieces = ex.clone().cut_at(&cuts(&ex.body));
        [ex, pieces].iter().map(|e| recorded(&e.build())).collect()
    }

    fn verdicts(&self) -> impl Iterator<Item = (&Check, Verdict)> {
        self.pass
            .iter()
            .map(|c| (c, Verdict::Pass))
            .chain(self.fail.iter().map(|c| (c, Verdict::Fail)))
            .chain(self.error.iter().map(|c| (c, Verdict::Error)))
    }
}

#[test]
fn every_recorded_sample_gets_the_verdicts_the_standard_expects() {
    let expected = expected();
    let mut mismatches = Vec::new();
    let mut judged = 0;
    for sample in &expected.samples {
        assert!(
            !sample.about.is_empty(),
            "{}: say what the sample shows",
            sample.file
        );
        for (i, exchange) in sample.exchanges(&expected.requests).iter().enumerate() {
            let chunking = if i == 0 { "whole" } else { "in pieces" };
            for (check, verdict) in sample.verdicts() {
                let finding = run(check, exchange);
                judged += 1;
                if finding.verdict != verdict {
                    mismatches.push(format!(
                        "{} ({chunking}): {}: expected {}, got {}: {}",
                        sample.file,
                        check.label(),
                        verdict.name(),
                        finding.verdict.name(),
                        finding.reason
                    ));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {judged} verdicts differ from expected.yaml:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// The samples marked `cut_everywhere` (good named-event streams of the
/// Anthropic Messages and OpenAI Responses dialects), cut in two at every
/// byte, get the same verdicts.
#[test]
fn marked_samples_get_the_same_verdicts_cut_at_every_byte() {
    let expected = expected();
    let mut mismatches = Vec::new();
    let mut judged = 0;
    for sample in expected.samples.iter().filter(|s| s.cut_everywhere) {
        let whole = sample
            .exchanges(&expected.requests)
            .into_iter()
            .next()
            .expect("the whole exchange");
        let body = whole.body();
        for cut in 1..body.len() {
            let (head, tail) = body.split_at(cut);
            let mut exchange = whole.clone();
            exchange.chunks = vec![
                tokencert_core::evidence::Chunk {
                    t_ns: 1001,
                    bytes: head.to_vec(),
                },
                tokencert_core::evidence::Chunk {
                    t_ns: 1002,
                    bytes: tail.to_vec(),
                },
            ];
            // One view per cut, shared by the checks, as the judge does.
            let view = View::new(&exchange, &[]);
            for (check, verdict) in sample.verdicts() {
                let finding = tokencert_core::check::run(check, &view, &SCHEMAS, &CONTEXT);
                judged += 1;
                if finding.verdict != verdict {
                    mismatches.push(format!(
                        "{} (cut at byte {cut}): {}: expected {}, got {}: {}",
                        sample.file,
                        check.label(),
                        verdict.name(),
                        finding.verdict.name(),
                        finding.reason
                    ));
                }
            }
        }
    }
    assert!(judged > 0, "no sample is marked cut_everywhere");
    assert!(
        mismatches.is_empty(),
        "{} of {judged} verdicts differ from expected.yaml:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_recorded_file_is_listed_once_with_checks() {
    let expected = expected();
    let mut listed = BTreeSet::new();
    for sample in &expected.samples {
        assert!(
            listed.insert(sample.file.clone()),
            "{} is listed twice",
            sample.file
        );
        assert!(
            sample.verdicts().next().is_some(),
            "{} expects no verdict",
            sample.file
        );
    }
    let mut on_disk = BTreeSet::new();
    for sub in ["streams", "bodies"] {
        for entry in std::fs::read_dir(dir().join(sub)).expect("the directory lists") {
            let name = entry.expect("the directory lists").file_name();
            on_disk.insert(format!("{sub}/{}", name.to_string_lossy()));
        }
    }
    assert_eq!(listed, on_disk, "expected.yaml and the files differ");
    assert!(listed.len() >= 20, "only {} samples", listed.len());
    let used: BTreeSet<&str> = expected
        .samples
        .iter()
        .filter_map(|s| s.request.as_deref())
        .collect();
    for name in expected.requests.keys() {
        assert!(
            used.contains(name.as_str()),
            "request {name} is used by no sample"
        );
    }
}
