//! The index rows of one bundle, a pure function of its files (and of the
//! ledger's records of its suite's workloads, of its pin, and of what its
//! evidence held before it was pruned): `add` and `rebuild` both call
//! [`extract`], so a rebuilt index has the same rows.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};
use tokencert_core::bundle::{self, BundleError, RunInfo};
use tokencert_core::check::billed_usage;
use tokencert_core::evidence::read_exchanges;
use tokencert_core::judge::{Results, Verdict};
use tokencert_core::metrics::Distribution;
use tokencert_core::performance::Figures;
use tokencert_core::price::Cost;
use tokencert_core::sign::{self, SignError};
use tokencert_core::suite::Level;

use crate::methods::Methods;
use crate::trust::Trust;

/// A row of `bundle`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // the columns are documented in schema.sql
pub struct BundleRow {
    pub id: String,
    pub run_id: String,
    pub tool: String,
    pub suite_digest: String,
    pub target_url: String,
    pub model: String,
    pub observer: Option<String>,
    pub location: Option<String>,
    pub probe: Option<String>,
    pub signer: Option<String>,
    pub signer_known: bool,
    pub started_at: String,
    pub started_unix: i64,
    pub finished_unix: Option<i64>,
    pub interrupted: bool,
    pub evidence: EvidenceCounts,
    pub must_pass: i64,
    pub must_fail: i64,
    pub must_error: i64,
    pub should_pass: i64,
    pub should_fail: i64,
    pub pinned: bool,
    pub evidence_pruned: bool,
}

/// What the index takes from the evidence files: kept in
/// `LEDGER/pruned/<id>.json` when they are pruned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceCounts {
    /// Exchanges recorded.
    pub exchanges: i64,
    /// Of them, those with a response head.
    pub answered: i64,
    /// Prompt plus completion tokens reported in usage.
    pub tokens_billed: i64,
}

/// A row of `verdicts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct VerdictRow {
    pub area: String,
    pub level: String,
    pub verdict: String,
    pub cases: i64,
}

/// A row of `figure`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct FigureRow {
    pub case_id: String,
    pub workload: String,
    pub slo: String,
    pub metric: String,
    pub value: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// A row of `cost`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CostRow {
    pub sheet: String,
    pub currency: String,
    pub task: String,
    pub micros: Option<i64>,
}

/// Every row one bundle contributes (agreements aside: they are of pairs).
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// Its `bundle` row.
    pub bundle: BundleRow,
    /// Its `verdicts` rows, sorted.
    pub verdicts: Vec<VerdictRow>,
    /// Its `figure` rows, by case then metric.
    pub figures: Vec<FigureRow>,
    /// Its `cost` rows, by sheet then task.
    pub costs: Vec<CostRow>,
}

/// What besides its files decides a bundle's rows.
#[derive(Debug, Clone, Copy)]
pub struct Standing<'a> {
    /// Its id (the hex SHA-256 of its manifest).
    pub id: &'a str,
    /// The workloads of its suite's performance cases.
    pub methods: &'a Methods,
    /// The known signers.
    pub trust: &'a Trust,
    /// Whether it is pinned.
    pub pinned: bool,
    /// When its evidence was pruned: what the evidence held.
    pub pruned: Option<EvidenceCounts>,
}

/// The rows of the bundle in `dir`. The bundle is not verified here (it
/// was, before it was stored).
///
/// # Errors
///
/// [`BundleError`] when a file cannot be read or parsed.
pub fn extract(dir: &Path, standing: Standing<'_>) -> Result<Rows, BundleError> {
    let run = bundle::read_run(dir)?;
    let results = bundle::read_results(dir)?;
    let observation = run.observation.as_ref();
    let signer = signer_key_id(dir)?;
    let evidence = match standing.pruned {
        Some(counts) => counts,
        None => count_evidence(dir, &run)?,
    };
    let count = |level, verdict| i64::try_from(results.count(level, verdict)).unwrap_or(i64::MAX);
    let bundle = BundleRow {
        id: standing.id.to_string(),
        run_id: run.run_id.clone(),
        tool: run.tool.clone(),
        suite_digest: run.suite_digest.clone(),
        target_url: run.target.base_url.clone(),
        model: run.target.model.clone(),
        observer: observation.map(|o| o.observer.clone()),
        location: observation.map(|o| o.location.clone()),
        probe: observation.map(|o| o.probe.clone()),
        signer_known: signer
            .as_ref()
            .is_some_and(|id| standing.trust.get(id).is_some()),
        signer,
        started_at: run.started_at.clone(),
        started_unix: unix_time(&run.started_at)?,
        finished_unix: run.finished_at.as_deref().map(unix_time).transpose()?,
        interrupted: run.interrupted.is_some(),
        evidence,
        must_pass: count(Level::Must, Verdict::Pass),
        must_fail: count(Level::Must, Verdict::Fail),
        must_error: count(Level::Must, Verdict::Error),
        should_pass: count(Level::Should, Verdict::Pass),
        should_fail: count(Level::Should, Verdict::Fail),
        pinned: standing.pinned,
        evidence_pruned: standing.pruned.is_some(),
    };
    Ok(Rows {
        bundle,
        verdicts: verdicts(&results),
        figures: figures(&results, standing.methods),
        costs: costs(&results),
    })
}

/// The key id of the public key the bundle's signed statement names;
/// `None` when unsigned. `add` has checked the signature against that key
/// (and, when the key is in the trust file, against the trusted key, which
/// is the same key since their ids agree).
///
/// # Errors
///
/// When the envelope cannot be read or names no valid key.
pub fn signer_key_id(dir: &Path) -> Result<Option<String>, BundleError> {
    let Some(bytes) = bundle::read_optional_file(dir, sign::ENVELOPE_FILE)? else {
        return Ok(None);
    };
    let malformed = |m: String| BundleError::Signature(SignError::Malformed(m));
    let envelope: sign::Envelope = serde_json::from_slice(&bytes)
        .map_err(|e| malformed(format!("not a DSSE envelope: {e}")))?;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&envelope.payload)
        .map_err(|e| malformed(format!("payload is not base64: {e}")))?;
    let statement: sign::Statement = serde_json::from_slice(&payload)
        .map_err(|e| malformed(format!("the payload is not a statement: {e}")))?;
    let key = sign::verifying_key_from_pem(&statement.predicate.signer_public_key)?;
    Ok(Some(sign::key_id(&key)?))
}

/// Exchanges, answered ones and billed tokens over the evidence of every
/// planned case, or, in a fingerprint bundle (which plans no case), of
/// every probe: what the target was sent, which budgets count.
///
/// # Errors
///
/// When an evidence file cannot be read.
pub fn count_evidence(dir: &Path, run: &RunInfo) -> Result<EvidenceCounts, BundleError> {
    let mut counts = EvidenceCounts::default();
    let mut files: Vec<std::path::PathBuf> = run
        .plan
        .cases
        .iter()
        .map(|case| bundle::evidence_path(dir, case))
        .collect();
    if files.is_empty() && dir.join(tokencert_core::fingerprint::FILE).is_file() {
        files = probe_evidence(dir)?;
    }
    for path in files {
        if !path.exists() {
            continue;
        }
        let exchanges = read_exchanges(&path).map_err(|e| BundleError::Malformed {
            path: path.display().to_string(),
            what: "evidence file",
            message: e.to_string(),
        })?;
        for exchange in &exchanges {
            counts.exchanges += 1;
            counts.answered += i64::from(exchange.response.is_some());
            if let Some(usage) = billed_usage(exchange) {
                let tokens = usage.prompt.saturating_add(usage.completion);
                counts.tokens_billed = counts
                    .tokens_billed
                    .saturating_add(i64::try_from(tokens).unwrap_or(i64::MAX));
            }
        }
    }
    Ok(counts)
}

/// The evidence files of a fingerprint bundle's probes, sorted.
fn probe_evidence(dir: &Path) -> Result<Vec<std::path::PathBuf>, BundleError> {
    let evidence = dir.join(bundle::EVIDENCE_DIR);
    let io = |source| BundleError::Io {
        path: evidence.display().to_string(),
        source,
    };
    let mut files = Vec::new();
    let entries = match std::fs::read_dir(&evidence) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(io(e)),
    };
    for entry in entries {
        let path = entry.map_err(io)?.path();
        let probe = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(tokencert_core::fingerprint::probes::CASE_PREFIX))
            .is_some_and(|n| n.starts_with('.') && n.ends_with(".jsonl"));
        if probe {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Seconds since the Unix epoch of an RFC 3339 UTC time.
fn unix_time(text: &str) -> Result<i64, BundleError> {
    let time = humantime::parse_rfc3339(text).map_err(|e| BundleError::Malformed {
        path: bundle::RUN_FILE.into(),
        what: "RFC 3339 UTC time",
        message: format!("{text:?}: {e}"),
    })?;
    let seconds = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(i64::try_from(seconds).unwrap_or(i64::MAX))
}

fn verdicts(results: &Results) -> Vec<VerdictRow> {
    let mut counts: BTreeMap<(&str, &str, &str), i64> = BTreeMap::new();
    for case in &results.cases {
        let key = (
            tokencert_core::suite::area_of(&case.clause),
            case.level.keyword(),
            case.verdict.name(),
        );
        *counts.entry(key).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((area, level, verdict), cases)| VerdictRow {
            area: area.into(),
            level: level.into(),
            verdict: verdict.into(),
            cases,
        })
        .collect()
}

const NS_PER_S: f64 = 1e9;

fn figures(results: &Results, methods: &Methods) -> Vec<FigureRow> {
    let mut rows = Vec::new();
    for case in &results.cases {
        let Some(figures) = &case.performance else {
            continue;
        };
        let workload = methods.workloads.get(&case.id).cloned().unwrap_or_default();
        let mut push = |metric: &str, value: f64, low: Option<f64>, high: Option<f64>| {
            rows.push(FigureRow {
                case_id: case.id.clone(),
                workload: workload.clone(),
                slo: figures.slo.clone(),
                metric: metric.into(),
                value,
                low,
                high,
            });
        };
        for (metric, value, low, high) in metrics(figures) {
            push(metric, value, low, high);
        }
    }
    rows.sort_by(|a, b| (&a.case_id, &a.metric).cmp(&(&b.case_id, &b.metric)));
    rows
}

type Metric = (&'static str, f64, Option<f64>, Option<f64>);

/// The key figures of a performance case, in SI units.
fn metrics(figures: &Figures) -> Vec<Metric> {
    let summary = &figures.summary;
    let mut out = Vec::new();
    let mut percentile = |name: &'static str, d: &Option<Distribution>, p: &str, scale: f64| {
        if let Some(q) = d.as_ref().and_then(|d| d.percentile(p)) {
            let s = |v: u64| v as f64 / scale;
            out.push((name, s(q.exact), q.ci_low.map(s), q.ci_high.map(s)));
        }
    };
    percentile("ttft_p50_seconds", &summary.ttft_ns, "p50", NS_PER_S);
    percentile("ttft_p95_seconds", &summary.ttft_ns, "p95", NS_PER_S);
    percentile("ttft_p99_seconds", &summary.ttft_ns, "p99", NS_PER_S);
    percentile("tpot_p50_seconds", &summary.tpot_ns, "p50", NS_PER_S);
    percentile(
        "output_speed_p50_tokens_per_second",
        &summary.output_speed_milli_tps,
        "p50",
        1e3,
    );
    let errors = &summary.errors;
    if errors.total > 0 {
        out.push((
            "error_ratio",
            errors.errors as f64 / errors.total as f64,
            None,
            None,
        ));
    }
    let steady = &figures.steady_state;
    if let Some(goodput) = steady.goodput_milli {
        out.push((
            "goodput_requests_per_second",
            goodput as f64 / 1e3,
            None,
            None,
        ));
    }
    if let Some(throughput) = steady.output_token_throughput_milli {
        out.push((
            "throughput_output_tokens_per_second",
            throughput as f64 / 1e3,
            None,
            None,
        ));
    }
    out.push(("requests", figures.load.requests as f64, None, None));
    out
}

fn costs(results: &Results) -> Vec<CostRow> {
    let Some(table) = &results.prices else {
        return Vec::new();
    };
    let mut rows: Vec<CostRow> = table
        .rows
        .iter()
        .flat_map(|row| {
            row.per_task.iter().map(|task| CostRow {
                sheet: row.id.clone(),
                currency: row.currency.clone(),
                task: task.task.name().into(),
                micros: match task.cost {
                    Cost::Micros(m) => i64::try_from(m).ok(),
                    Cost::Unknown | Cost::NotApplicable => None,
                },
            })
        })
        .collect();
    rows.sort_by(|a, b| (&a.sheet, &a.task).cmp(&(&b.sheet, &b.task)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_times_are_unix_seconds() {
        assert_eq!(unix_time("1970-01-01T00:01:00Z").ok(), Some(60));
        assert!(unix_time("yesterday").is_err());
    }
}
