//! The leaderboard in the Prometheus text exposition format (version
//! 0.0.4): one gauge family per figure, labelled by target, model,
//! observer, signer and method, so operators can scrape it into the
//! monitoring they already run; and the identity of each target's newest
//! fingerprint, labelled by target, model and probe set.

use std::fmt::Write as _;

use crate::board::{Entry, Leaderboard};
use crate::queries::Method;

/// The Content-Type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A label value escaped per the format: backslash, double quote, newline.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A method as one label value: case, SLO class, and the first 12 hex
/// digits of the workload and suite digests.
pub fn method_label(m: &Method) -> String {
    let short = |s: &str| s.chars().take(12).collect::<String>();
    format!(
        "{}/{}/w={}/s={}",
        m.case_id,
        m.slo,
        short(&m.workload),
        short(&m.suite_digest)
    )
}

/// Samples of one family, written after its HELP and TYPE lines.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }

    fn write(&self, out: &mut String) {
        if self.samples.is_empty() {
            return;
        }
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} gauge", self.name);
        for (labels, value) in &self.samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            if labels.is_empty() {
                let _ = writeln!(out, "{} {}", self.name, number(*value));
            } else {
                let labels = labels.join(",");
                let _ = writeln!(out, "{}{{{labels}}} {}", self.name, number(*value));
            }
        }
    }
}

/// A sample value as the format writes it (Go's float formatting: NaN,
/// +Inf, -Inf, else the shortest round-trip decimal).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

fn source_labels(e: &Entry) -> Vec<(&'static str, String)> {
    vec![
        ("target", e.source.target_url.clone()),
        ("model", e.source.model.clone()),
        ("observer", e.source.observer.clone().unwrap_or_default()),
        (
            "signer",
            e.signer.key_id.clone().unwrap_or_else(|| "unsigned".into()),
        ),
        (
            "signer_name",
            e.signer
                .known
                .as_ref()
                .map(|k| k.name.clone())
                .unwrap_or_default(),
        ),
    ]
}

/// Renders the leaderboard as Prometheus text.
pub fn render(board: &Leaderboard) -> String {
    let mut bundles = Family::new("tokencert_ledger_bundles", "Bundles in the ledger index.");
    bundles.samples.push((Vec::new(), board.bundles as f64));
    let mut ttft = Family::new(
        "tokencert_ttft_seconds",
        "Time to first token of the newest bundle per source and method, by quantile.",
    );
    let mut speed = Family::new(
        "tokencert_output_speed_tokens_per_second",
        "Median output speed (1/TPOT) of the newest bundle per source and method.",
    );
    let mut cv = Family::new(
        "tokencert_ttft_p50_cv_ratio",
        "Coefficient of variation of TTFT p50 over the newest bundles per source and method.",
    );
    let mut last = Family::new(
        "tokencert_last_bundle_timestamp_seconds",
        "Start of the newest bundle per source and method, Unix seconds.",
    );
    let mut availability = Family::new(
        "tokencert_availability_ratio",
        "Answered exchanges over exchanges per source, by window ending now.",
    );
    let mut conformance = Family::new(
        "tokencert_conformance_pass_ratio",
        "Passed over judged cases of the newest bundle judging each clause area, per source.",
    );
    let mut cost = Family::new(
        "tokencert_task_cost",
        "Cost of one task of the priced workload per price sheet, in units of the currency.",
    );
    let mut seen_suites = std::collections::BTreeSet::new();
    let mut seen_sources = std::collections::BTreeSet::new();
    for b in &board.methods {
        let method = method_label(&b.method);
        for e in &b.rows {
            let labels = || {
                let mut l = source_labels(e);
                l.push(("method", method.clone()));
                l
            };
            for (q, f) in [
                ("0.5", &e.ttft_p50),
                ("0.95", &e.ttft_p95),
                ("0.99", &e.ttft_p99),
            ] {
                if let Some(f) = f {
                    let mut l = labels();
                    l.push(("quantile", q.into()));
                    ttft.samples.push((l, f.value));
                }
            }
            if let Some(f) = &e.output_speed {
                speed.samples.push((labels(), f.value));
            }
            if let Some(s) = &e.stability {
                cv.samples.push((labels(), s.cv));
            }
            last.samples.push((labels(), e.started_unix as f64));
            // Per source (and suite) facts, once.
            if seen_suites.insert((e.source.clone(), b.method.suite_digest.clone())) {
                for a in &e.conformance.areas {
                    for (level, r) in [("MUST", &a.must), ("SHOULD", &a.should)] {
                        if let Some(r) = r {
                            let mut l = source_labels(e);
                            l.push(("suite", b.method.suite_digest.clone()));
                            l.push(("level", level.into()));
                            l.push(("area", a.area.clone()));
                            conformance.samples.push((l, r.ratio));
                        }
                    }
                }
            }
            if !seen_sources.insert(e.source.clone()) {
                continue;
            }
            for (window, r) in [("24h", &e.availability_24h), ("7d", &e.availability_7d)] {
                if let Some(r) = r {
                    let mut l = source_labels(e);
                    l.push(("window", window.into()));
                    availability.samples.push((l, r.ratio));
                }
            }
            for c in &e.cost {
                if let Some(m) = c.micros {
                    let mut l = source_labels(e);
                    l.push(("sheet", c.sheet.clone()));
                    l.push(("task", c.task.clone()));
                    l.push(("currency", c.currency.clone()));
                    cost.samples.push((l, m as f64 / 1e6));
                }
            }
        }
    }
    let (same, logprob, greedy, fingerprinted) = identity_families(board);
    let mut out = String::new();
    for f in [
        &bundles,
        &ttft,
        &speed,
        &cv,
        &last,
        &availability,
        &conformance,
        &cost,
        &same,
        &logprob,
        &greedy,
        &fingerprinted,
    ] {
        f.write(&mut out);
    }
    out
}

/// The newest identification of each target, model and probe set.
fn identity_families(board: &Leaderboard) -> (Family, Family, Family, Family) {
    let mut same = Family::new(
        "tokencert_identity_same",
        "1 when the newest fingerprint is the same model as the target's baseline, 0 when a different one (absent: cannot tell).",
    );
    let mut logprob = Family::new(
        "tokencert_identity_logprob_median_difference_nats",
        "Median absolute log-probability difference of the newest fingerprint from the target's baseline, nats.",
    );
    let mut greedy = Family::new(
        "tokencert_identity_greedy_divergent_ratio",
        "Share of generation probes of the newest fingerprint whose greedy output differs from the baseline's.",
    );
    let mut fingerprinted = Family::new(
        "tokencert_identity_last_fingerprint_timestamp_seconds",
        "Start of the newest fingerprint bundle, Unix seconds.",
    );
    for point in &board.identity {
        let r = &point.row;
        let labels = || {
            vec![
                ("target", r.target_url.clone()),
                ("model", r.model.clone()),
                ("probe_set", r.probe_set.clone()),
            ]
        };
        if let Some(v) = point.same() {
            same.samples.push((labels(), v));
        }
        if let Some(v) = point.logprob_median_nats {
            logprob.samples.push((labels(), v));
        }
        if let Some(v) = point.greedy_divergent_ratio {
            greedy.samples.push((labels(), v));
        }
        fingerprinted
            .samples
            .push((labels(), r.started_unix as f64));
    }
    (same, logprob, greedy, fingerprinted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(0.25), "0.25");
    }
}
