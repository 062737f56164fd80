//! The `--json` documents of `run`, `verify` and `list`: one JSON document
//! on stdout, shaped as `spec/schemas/{run,verify,list}-output.schema.json`
//! define, while the human text moves to stderr. Every key is always
//! present; `null` means "does not apply" (no signature, not interrupted).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;
use tokencert_core::bundle::{self, BundleError, RunInfo, Signer, Verified};
use tokencert_core::judge::{Results, Verdict};
use tokencert_core::sign;
use tokencert_core::suite::{Case, Level, Suite};

/// Where the human text goes: stdout, or stderr when stdout carries the
/// JSON document.
pub fn human(json: bool) -> Box<dyn Write> {
    if json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    }
}

/// Writes `document` to stdout as one line of JSON.
pub fn print<T: Serialize>(document: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, document)?;
    writeln!(out)?;
    Ok(())
}

/// Verdict counts for every level and verdict, zeros included.
fn counts(results: &Results) -> BTreeMap<&'static str, BTreeMap<&'static str, u64>> {
    [Level::Must, Level::Should, Level::May]
        .into_iter()
        .map(|level| {
            let by_verdict = Verdict::ALL
                .iter()
                .map(|v| (v.name(), results.count(level, *v)))
                .collect();
            (level.keyword(), by_verdict)
        })
        .collect()
}

/// `tokencert run --json`.
#[derive(Serialize)]
pub struct RunOutput {
    format: &'static str,
    bundle: String,
    run_id: String,
    tool: String,
    suite_digest: String,
    target: TargetOutput,
    counts: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    conforms: bool,
    must_failures: Vec<FailureOutput>,
    signed_by: Option<String>,
    interrupted: Option<InterruptedOutput>,
    exit_status: u8,
}

#[derive(Serialize)]
struct TargetOutput {
    base_url: String,
    model: String,
}

#[derive(Serialize)]
struct FailureOutput {
    id: String,
    clause: String,
    verdict: &'static str,
    reason: String,
}

#[derive(Serialize)]
struct InterruptedOutput {
    ran: usize,
    planned: u64,
    load: Option<InterruptedLoadOutput>,
}

#[derive(Serialize)]
struct InterruptedLoadOutput {
    case: String,
    planned: u64,
    sent: u64,
}

fn interrupted(run: &RunInfo) -> Option<InterruptedOutput> {
    run.interrupted.as_ref().map(|i| InterruptedOutput {
        ran: run.plan.cases.len(),
        planned: i.planned,
        load: i.load.as_ref().map(|l| InterruptedLoadOutput {
            case: l.case.clone(),
            planned: l.planned,
            sent: l.sent,
        }),
    })
}

impl RunOutput {
    /// The document of a finished (or interrupted) run.
    pub fn new(
        bundle_dir: &Path,
        run: &RunInfo,
        results: &Results,
        signed_by: Option<String>,
        exit_status: u8,
    ) -> Self {
        let must_failures = results
            .cases
            .iter()
            .filter(|c| {
                c.level == Level::Must && matches!(c.verdict, Verdict::Fail | Verdict::Error)
            })
            .map(|c| FailureOutput {
                id: c.id.clone(),
                clause: c.clause.clone(),
                verdict: c.verdict.name(),
                reason: c.reason.clone(),
            })
            .collect();
        Self {
            format: "tokencert-run-output/1",
            bundle: bundle_dir.display().to_string(),
            run_id: run.run_id.clone(),
            tool: run.tool.clone(),
            suite_digest: results.suite_digest.clone(),
            target: TargetOutput {
                base_url: run.target.base_url.clone(),
                model: run.target.model.clone(),
            },
            counts: counts(results),
            conforms: results.conforms(),
            must_failures,
            signed_by,
            interrupted: interrupted(run),
            exit_status,
        }
    }
}

/// `tokencert verify --json`.
#[derive(Serialize)]
pub struct VerifyOutput {
    format: &'static str,
    bundle: String,
    verified: bool,
    failure: Option<VerifyFailure>,
    run_id: Option<String>,
    tool: Option<String>,
    suite_digest: Option<String>,
    files: Option<usize>,
    cases: Option<usize>,
    signature: SignatureOutput,
    interrupted: Option<InterruptedOutput>,
    unsealed: Option<UnsealedOutput>,
    exit_status: u8,
}

#[derive(Serialize)]
struct VerifyFailure {
    check: &'static str,
    message: String,
}

#[derive(Serialize)]
struct SignatureOutput {
    status: &'static str,
    keyid: Option<String>,
}

#[derive(Serialize)]
struct UnsealedOutput {
    planned: usize,
    recorded: usize,
    cut_short: usize,
    never_started: usize,
    cases: Vec<UnsealedCase>,
}

#[derive(Serialize)]
struct UnsealedCase {
    id: String,
    verdict: Option<&'static str>,
    exchanges: usize,
    complete: bool,
}

/// The check a `verify` exit status names, as the JSON's `failure.check`.
pub fn verify_check(exit_status: u8) -> &'static str {
    match exit_status {
        3 => "files",
        4 => "suite",
        5 => "results",
        6 => "signature",
        7 => "unsigned",
        8 => "unsealed",
        _ => "unreadable",
    }
}

/// The key id the bundle's envelope names, when it has a readable one.
fn envelope_keyid(bundle_dir: &Path) -> Option<String> {
    let text = std::fs::read(bundle_dir.join(sign::ENVELOPE_FILE)).ok()?;
    let envelope: sign::Envelope = serde_json::from_slice(&text).ok()?;
    envelope.signatures.first().map(|s| s.keyid.clone())
}

impl VerifyOutput {
    fn empty(bundle_dir: &Path, exit_status: u8) -> Self {
        Self {
            format: "tokencert-verify-output/1",
            bundle: bundle_dir.display().to_string(),
            verified: false,
            failure: None,
            run_id: None,
            tool: None,
            suite_digest: None,
            files: None,
            cases: None,
            signature: SignatureOutput {
                status: "unsigned",
                keyid: None,
            },
            interrupted: None,
            unsealed: None,
            exit_status,
        }
    }

    /// A bundle that verified.
    pub fn verified(bundle_dir: &Path, verified: &Verified) -> Self {
        let (status, keyid) = match &verified.signer {
            Signer::Verified { keyid } => ("verified", Some(keyid.clone())),
            Signer::Unchecked { keyid } => ("unchecked", Some(keyid.clone())),
            Signer::Unsigned => ("unsigned", None),
        };
        Self {
            verified: true,
            run_id: Some(verified.run.run_id.clone()),
            tool: Some(verified.run.tool.clone()),
            suite_digest: Some(verified.results.suite_digest.clone()),
            files: Some(verified.files),
            cases: Some(verified.results.cases.len()),
            signature: SignatureOutput { status, keyid },
            interrupted: interrupted(&verified.run),
            ..Self::empty(bundle_dir, 0)
        }
    }

    /// A bundle that did not verify: `exit_status` names the check that
    /// failed. What run.json and the envelope say is given when readable
    /// (unverified: the bundle failed a check).
    pub fn failed(bundle_dir: &Path, error: &BundleError, exit_status: u8) -> Self {
        let run = bundle::read_run(bundle_dir).ok();
        let keyid = envelope_keyid(bundle_dir);
        let status = match (&keyid, error) {
            (_, BundleError::Unsigned) | (None, _) => "unsigned",
            (Some(_), _) => "not_verified",
        };
        Self {
            failure: Some(VerifyFailure {
                check: verify_check(exit_status),
                message: error.to_string(),
            }),
            run_id: run.as_ref().map(|r| r.run_id.clone()),
            tool: run.as_ref().map(|r| r.tool.clone()),
            suite_digest: run.as_ref().map(|r| r.suite_digest.clone()),
            signature: SignatureOutput { status, keyid },
            ..Self::empty(bundle_dir, exit_status)
        }
    }

    /// An unsealed bundle (`verify --partial`): exit 8, with what its
    /// evidence shows as it stands.
    pub fn unsealed(bundle_dir: &Path, run: &RunInfo, cases: &[bundle::PartialCase]) -> Self {
        let recorded = cases.iter().filter(|c| c.result.is_some()).count();
        let cut_short = cases
            .iter()
            .filter(|c| c.result.is_some() && !c.complete)
            .count();
        Self {
            failure: Some(VerifyFailure {
                check: verify_check(8),
                message: "the bundle was never sealed: no manifest.json protects its files".into(),
            }),
            run_id: Some(run.run_id.clone()),
            tool: Some(run.tool.clone()),
            suite_digest: Some(run.suite_digest.clone()),
            unsealed: Some(UnsealedOutput {
                planned: cases.len(),
                recorded,
                cut_short,
                never_started: cases.len() - recorded,
                cases: cases
                    .iter()
                    .map(|c| UnsealedCase {
                        id: c.id.clone(),
                        verdict: c.result.as_ref().map(|r| r.verdict.name()),
                        exchanges: c.exchanges,
                        complete: c.complete,
                    })
                    .collect(),
            }),
            ..Self::empty(bundle_dir, 8)
        }
    }
}

/// `tokencert list --json`.
#[derive(Serialize)]
pub struct ListOutput {
    format: &'static str,
    suite_digest: String,
    cases: Vec<ListCase>,
    clauses: Option<Vec<ListClause>>,
    uncovered_must: Option<Vec<String>>,
    exit_status: u8,
}

#[derive(Serialize)]
struct ListCase {
    id: String,
    clause: String,
    level: &'static str,
    area: String,
    kind: &'static str,
    requires: Vec<&'static str>,
}

#[derive(Serialize)]
struct ListClause {
    id: String,
    level: &'static str,
    area: String,
    title: String,
    cases: Vec<String>,
}

fn list_case(suite: &Suite, case: &Case) -> anyhow::Result<ListCase> {
    let clause = suite.clause_of(case).ok_or_else(|| {
        anyhow::anyhow!("case {} links the unknown clause {}", case.id, case.clause)
    })?;
    Ok(ListCase {
        id: case.id.clone(),
        clause: case.clause.clone(),
        level: clause.level.keyword(),
        area: tokencert_core::suite::area_of(&case.clause).to_string(),
        kind: if case.performance.is_some() {
            "performance"
        } else {
            "conformance"
        },
        requires: case.requires.iter().map(|c| c.name()).collect(),
    })
}

impl ListOutput {
    /// The cases, and with `coverage` every clause with its cases; the
    /// exit status is 1 when a MUST clause has no case (coverage only).
    pub fn new(suite: &Suite, coverage: bool) -> anyhow::Result<Self> {
        let cases = suite
            .cases
            .iter()
            .map(|case| list_case(suite, case))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let clauses = coverage.then(|| {
            suite
                .clauses
                .values()
                .map(|clause| ListClause {
                    id: clause.id.clone(),
                    level: clause.level.keyword(),
                    area: tokencert_core::suite::area_of(&clause.id).to_string(),
                    title: clause.title.clone(),
                    cases: suite
                        .cases
                        .iter()
                        .filter(|c| c.clause == clause.id)
                        .map(|c| c.id.clone())
                        .collect(),
                })
                .collect::<Vec<_>>()
        });
        let uncovered_must: Option<Vec<String>> = clauses.as_ref().map(|clauses| {
            clauses
                .iter()
                .filter(|c| c.level == Level::Must.keyword() && c.cases.is_empty())
                .map(|c| c.id.clone())
                .collect()
        });
        let exit_status = match &uncovered_must {
            Some(ids) if !ids.is_empty() => 1,
            _ => 0,
        };
        Ok(Self {
            format: "tokencert-list-output/1",
            suite_digest: suite.digest.clone(),
            cases,
            clauses,
            uncovered_must,
            exit_status,
        })
    }
}
