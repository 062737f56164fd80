//! Reports people and CI systems read, rendered from a verified bundle:
//! `report.md` (summary first, then every failure with its clause text and
//! the evidence that failed), `report.html` (the same facts, a verdict per
//! clause and SVG charts of the performance cases; see [`html()`]) and
//! `junit.xml` (one testcase per case). Pure: the same bundle renders to
//! the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::bundle::{RunInfo, Signer};
use crate::evidence::Exchange;
use crate::judge::{CaseResult, Results, Verdict};
use crate::metrics::{Distribution, milli_to_decimal};
use crate::performance::Figures;
use crate::suite::{Level, Suite};
use crate::workload::{LengthDist, LoadModel, Prompts};

pub mod chart;
mod html;

pub(crate) use html::esc;

pub use html::{html, html_with_comparison};

/// What a report is made from.
pub struct Input<'a> {
    /// The loaded suite (for clause texts).
    pub suite: &'a Suite,
    /// `run.json`.
    pub run: &'a RunInfo,
    /// The verified results.
    pub results: &'a Results,
    /// What verification established about the signature.
    pub signer: &'a Signer,
    /// The judged exchange of each case that failed or erred, when recorded.
    pub evidence: &'a BTreeMap<String, Exchange>,
}

/// Bytes of a failing body quoted in `report.md` and `report.html`.
const EXCERPT_BYTES: usize = 600;

/// `report.md`.
pub fn markdown(input: &Input<'_>) -> String {
    let Input {
        suite,
        run,
        results,
        signer,
        evidence,
    } = input;
    let mut out = String::new();
    let target = &run.target;
    let _ = writeln!(
        out,
        "# tokencert report: `{}` at {}\n",
        target.model, target.base_url
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    for (name, value) in summary(run, results, signer) {
        let _ = writeln!(out, "| {name} | {value} |");
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "## Verdicts by level\n");
    let _ = writeln!(
        out,
        "| Level | Pass | Fail | Error | Not claimed |\n|---|---:|---:|---:|---:|"
    );
    for level in [Level::Must, Level::Should, Level::May] {
        let counts: Vec<String> = Verdict::ALL
            .iter()
            .map(|v| results.count(level, *v).to_string())
            .collect();
        let _ = writeln!(out, "| {} | {} |", level.keyword(), counts.join(" | "));
    }

    let failing: Vec<&CaseResult> = results
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error))
        .collect();
    let _ = writeln!(out, "\n## Failures\n");
    if failing.is_empty() {
        let _ = writeln!(out, "None: every case that applies passes.");
    }
    for case in failing {
        let _ = writeln!(
            out,
            "### `{}`: {} ({} {})\n",
            case.id,
            case.verdict.name(),
            case.level.keyword(),
            case.clause
        );
        if let Some(clause) = suite.clauses.get(&case.clause) {
            let _ = writeln!(out, "> **{}.** {}\n", clause.title, clause.text.trim());
        }
        let _ = writeln!(out, "{}\n", case.reason);
        // A load's figures are under Performance; one of its exchanges says little.
        if let Some(exchange) = evidence
            .get(&case.id)
            .filter(|_| case.performance.is_none())
        {
            let _ = writeln!(out, "{}\n", excerpt(exchange));
        }
    }

    let _ = writeln!(out, "## Price under conditions\n");
    match &results.prices {
        Some(table) => {
            let _ = writeln!(out, "{}", crate::price::markdown(table));
        }
        None => {
            let _ = writeln!(
                out,
                "No priced workload: the run has no case with a `task`, or the suite no price sheet.\n"
            );
        }
    }

    let _ = writeln!(out, "## Performance\n");
    let loads: Vec<(&CaseResult, &Figures)> = results
        .cases
        .iter()
        .filter_map(|c| Some((c, c.performance.as_ref()?)))
        .collect();
    if loads.is_empty() {
        let _ = writeln!(
            out,
            "No performance figures: the run has no claimed performance case."
        );
        return out;
    }
    let _ = writeln!(out, "{DEFINITIONS}\n");
    for (case, figures) in loads {
        performance_section(&mut out, suite, case, figures);
    }
    out
}

/// The summary's rows, values in Markdown inline syntax (code spans, bold).
fn summary(run: &RunInfo, results: &Results, signer: &Signer) -> [(&'static str, String); 6] {
    let target = &run.target;
    let conformance = if results.conforms() {
        "**CONFORMS**: every MUST case passes"
    } else {
        "**DOES NOT CONFORM**: a MUST case failed or could not be judged"
    };
    let reference = target.reference.as_ref().map_or(String::new(), |r| {
        format!(
            " (embedded reference service, seed {}{})",
            r.seed,
            r.mutant
                .as_ref()
                .map_or(String::new(), |m| format!(", mutant `{m}`"))
        )
    });
    let signature = match signer {
        Signer::Verified { keyid } => format!("signed by `{keyid}`, verified with the given key"),
        Signer::Unchecked { keyid } => {
            format!("signed by `{keyid}`, not checked against a trusted key")
        }
        Signer::Unsigned => "unsigned".to_string(),
    };
    [
        ("Verdict", conformance.to_string()),
        (
            "Target",
            format!("`{}` at {}{reference}", target.model, target.base_url),
        ),
        ("Suite", format!("`{}`", results.suite_digest)),
        ("Tool", run.tool.clone()),
        (
            "When",
            format!(
                "{} to {} (run `{}`)",
                run.started_at,
                run.finished_at.as_deref().unwrap_or("(not finished)"),
                run.run_id
            ),
        ),
        ("Signature", signature),
    ]
}

/// The metric definitions every report states (see `tokencert_core::metrics`).
const DEFINITIONS: &str = "Definitions. **TTFB**: send → response head. **TTFT**: send → \
the first server-sent event carrying output: a chat chunk with content or tool-call \
arguments (role-only chunks do not count), an Anthropic Messages `content_block_delta` (text or \
tool input), an OpenAI Responses `response.output_text.delta` or \
`response.function_call_arguments.delta`. \
**E2E**: send → end of the stream. **ITL**: gaps between content events; at token level \
an event of k tokens (recounted with the declared tokenizer, o200k_base when none is \
declared) contributes k gaps of a k-th of its gap. **TPOT**: (E2E − TTFT) / (output tokens − 1); **output speed** = 1 / TPOT \
(excludes TTFT). \"From scheduled\" times start at the instant the load model scheduled \
the request, not when it was sent, so a client that fell behind cannot hide a slow server. \
**Throughput** and **goodput** (requests meeting every per-request objective of the class) \
count requests that ended within the steady-state window. Percentiles shown (and judged) are \
the exact samples at the nearest rank ⌈q·n⌉ (`results.json` also keeps the HDR histogram's \
value, 3 significant digits), with distribution-free 95% confidence intervals from \
binomial order statistics; latencies and token counts are over `ok` requests only. \
Chart data (CDFs, histograms, timeline) is in `results.json` under each case's \
`performance.plots`.";

fn performance_section(out: &mut String, suite: &Suite, case: &CaseResult, f: &Figures) {
    let _ = writeln!(
        out,
        "### `{}`: {} against the {} class\n",
        case.id,
        case.verdict.name(),
        f.slo
    );
    if let Some(asked) = asked(suite, case) {
        let _ = writeln!(out, "{asked}");
    }
    let _ = writeln!(out, "{}\n", achieved(f));
    let _ = writeln!(
        out,
        "| Metric | n | mean | p50 | p90 | p95 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (name, row) in metric_rows(f) {
        let Some(row) = row else {
            let _ = writeln!(out, "| {name} | 0 | | | | | | | |");
            continue;
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} |",
            row.count,
            row.mean,
            row.percentiles.join(" | "),
            row.max
        );
    }
    let _ = writeln!(out, "\n{PERCENTILE_CELLS}\n");
    let _ = writeln!(out, "{}\n", steady_state(f));
    let _ = writeln!(out, "{}\n", errors(f));
    let _ = writeln!(out, "| Threshold | Verdict | Measured |\n|---|---|---|");
    for check in &case.checks {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            check.check,
            check.verdict.name(),
            check.reason.replace('|', "\\|")
        );
    }
    let _ = writeln!(out);
}

/// What a performance case asked for, from the suite.
fn asked(suite: &Suite, case: &CaseResult) -> Option<String> {
    let w = &suite.case(&case.id)?.performance.as_ref()?.workload;
    Some(format!(
        "Asked: {} requests (seed {}), {}, {}{}.",
        w.requests,
        w.seed,
        describe_prompts(&w.prompts),
        describe_load(&w.load),
        w.duration.map_or(String::new(), |d| format!(
            ", for at most {} s",
            d.as_secs()
        ))
    ))
}

/// A rate in milli-units per second as a decimal, `-` when unknown.
fn rate(r: Option<u64>) -> String {
    r.map_or("-".to_string(), milli_to_decimal)
}

/// What a load achieved.
fn achieved(f: &Figures) -> String {
    let l = &f.load;
    format!(
        "Achieved: {} requests sent over {} s, {} requests/s sent (schedule: {}), at most {} in flight.",
        l.requests,
        milli_to_decimal(l.span_ns / 1_000_000),
        rate(l.sent_rate_milli),
        rate(l.offered_rate_milli),
        l.peak_in_flight
    )
}

/// The cells of one metric: percentile cells read `value (low–high)`.
struct MetricCells {
    count: u64,
    mean: String,
    /// p50, p90, p95, p99, p99.9.
    percentiles: Vec<String>,
    max: String,
}

/// How the percentile cells read (Markdown inline syntax).
const PERCENTILE_CELLS: &str = "Percentile cells read `value (95% CI low–high)`; `·`: too few \
samples for that bound.";

/// The rows of a load's metric table; `None`: no sample.
fn metric_rows(f: &Figures) -> Vec<(&'static str, Option<MetricCells>)> {
    let s = &f.summary;
    type Show = fn(u64) -> String;
    let rows: [(&str, Option<&Distribution>, Show); 12] = [
        ("TTFB (ms)", s.ttfb_ns.as_ref(), ns_ms),
        ("TTFT (ms)", s.ttft_ns.as_ref(), ns_ms),
        (
            "TTFT from scheduled (ms)",
            f.ttft_from_scheduled_ns.as_ref(),
            ns_ms,
        ),
        ("E2E (ms)", s.e2e_ns.as_ref(), ns_ms),
        (
            "E2E from scheduled (ms)",
            f.e2e_from_scheduled_ns.as_ref(),
            ns_ms,
        ),
        ("ITL, token level (ms)", s.itl_token_ns.as_ref(), ns_ms),
        ("ITL, chunk level (ms)", s.itl_chunk_ns.as_ref(), ns_ms),
        ("TPOT (ms)", s.tpot_ns.as_ref(), ns_ms),
        (
            "Output speed (tokens/s)",
            s.output_speed_milli_tps.as_ref(),
            milli_to_decimal,
        ),
        (
            "Output tokens, recount",
            s.recount_output_tokens.as_ref(),
            |n| n.to_string(),
        ),
        (
            "Output tokens, usage",
            s.usage_output_tokens.as_ref(),
            |n| n.to_string(),
        ),
        ("Send lateness (ms)", f.send_lateness_ns.as_ref(), ns_ms),
    ];
    rows.into_iter()
        .map(|(name, d, show)| {
            let cells = d.map(|d| MetricCells {
                count: d.count,
                mean: show(d.mean),
                percentiles: d
                    .percentiles
                    .iter()
                    .map(|p| {
                        let bound = |b: Option<u64>| b.map_or("·".to_string(), show);
                        format!(
                            "{} ({}–{})",
                            show(p.exact),
                            bound(p.ci_low),
                            bound(p.ci_high)
                        )
                    })
                    .collect(),
                max: show(d.max),
            });
            (name, cells)
        })
        .collect()
}

/// Throughput and goodput over the steady-state window.
fn steady_state(f: &Figures) -> String {
    let st = &f.steady_state;
    format!(
        "Steady state ({}‰ warm-up and {}‰ cool-down left out, {} requests ended in it): {} requests/s, {} output tokens/s, goodput {} requests/s ({} of {} met every objective).",
        st.warmup_per_mille,
        st.cooldown_per_mille,
        st.requests_ended,
        rate(st.request_throughput_milli),
        rate(st.output_token_throughput_milli),
        rate(st.goodput_milli),
        st.requests_good,
        st.requests_ended
    )
}

/// A load's errors by class.
fn errors(f: &Figures) -> String {
    let e = &f.summary.errors;
    let c = &e.counts;
    format!(
        "Errors: {} of {} (429: {}, other 4xx: {}, 5xx: {}, timeout: {}, transport: {}, protocol: {}).",
        e.errors, e.total, c.http_429, c.http_4xx, c.http_5xx, c.timeout, c.transport, c.protocol
    )
}

fn ns_ms(ns: u64) -> String {
    milli_to_decimal(ns / 1000)
}

fn describe_prompts(prompts: &Prompts) -> String {
    match prompts {
        Prompts::Synthetic { input, output } => format!(
            "synthetic prompts of {} tokens asking for {} tokens",
            describe_length(input),
            describe_length(output)
        ),
        Prompts::Preset(preset) => format!("the {} preset", preset.name()),
        Prompts::File { path, .. } => format!("the prompts of {}", path.display()),
    }
}

fn describe_length(length: &LengthDist) -> String {
    match length {
        LengthDist::Fixed(n) => n.to_string(),
        LengthDist::Uniform { min, max } => format!("{min}–{max} (uniform)"),
        LengthDist::Normal { mean, sd, min, max } => {
            format!("{min}–{max} (normal, mean {mean}, sd {sd})")
        }
    }
}

fn describe_load(load: &LoadModel) -> String {
    match load {
        LoadModel::Constant { rate } => format!("open loop at a constant {rate} requests/s"),
        LoadModel::Poisson { rate } => format!("open loop, Poisson at {rate} requests/s"),
        LoadModel::Gamma { rate, burstiness } => {
            format!("open loop, gamma gaps at {rate} requests/s with burstiness {burstiness}")
        }
        LoadModel::Closed { users, think_time } => format!(
            "closed loop of {users} users with {} ms think time",
            think_time.as_millis()
        ),
    }
}

/// The request line, status, and the start and end of the body of an
/// exchange (failures are often at the end: a missing `[DONE]`, a cut).
struct Excerpt {
    /// `METHOD URL`.
    request: String,
    /// `status N` or `no response`.
    status: String,
    /// Body length in bytes.
    bytes: usize,
    /// The body, whole or its start and end around a count of the bytes left out.
    shown: String,
}

impl Excerpt {
    fn of(exchange: &Exchange) -> Excerpt {
        let status = exchange.response.as_ref().map_or_else(
            || "no response".to_string(),
            |r| format!("status {}", r.status),
        );
        let body = exchange.body();
        let half = EXCERPT_BYTES / 2;
        let shown = if body.len() <= EXCERPT_BYTES {
            String::from_utf8_lossy(&body).into_owned()
        } else {
            format!(
                "{}\n… ({} bytes) …\n{}",
                String::from_utf8_lossy(&body[..half]),
                body.len() - 2 * half,
                String::from_utf8_lossy(&body[body.len() - half..])
            )
        };
        Excerpt {
            request: format!("{} {}", exchange.method, exchange.url),
            status,
            bytes: body.len(),
            shown,
        }
    }
}

fn excerpt(exchange: &Exchange) -> String {
    let e = Excerpt::of(exchange);
    format!(
        "Evidence: `{}` → {}, {} body bytes:\n\n```\n{}\n```",
        e.request,
        e.status,
        e.bytes,
        e.shown.replace("```", "` ` `")
    )
}

/// `junit.xml`: one testsuite, one testcase per case (classname = clause).
pub fn junit(results: &Results) -> String {
    let count = |v: Verdict| results.cases.iter().filter(|c| c.verdict == v).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"tokencert\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        results.cases.len(),
        count(Verdict::Fail),
        count(Verdict::Error),
        count(Verdict::NotClaimed)
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        xml(&results.suite_digest),
        results.cases.len(),
        count(Verdict::Fail),
        count(Verdict::Error),
        count(Verdict::NotClaimed)
    );
    for case in &results.cases {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml(&case.clause),
            xml(&case.id)
        );
        let details: String = case
            .checks
            .iter()
            .map(|c| format!("{}: {}: {}\n", c.verdict.name(), c.check, c.reason))
            .collect();
        match case.verdict {
            Verdict::Pass => out.push_str("/>\n"),
            Verdict::Fail | Verdict::Error => {
                let tag = if case.verdict == Verdict::Fail {
                    "failure"
                } else {
                    "error"
                };
                let _ = writeln!(
                    out,
                    ">\n      <{tag} message=\"{}\">{}</{tag}>\n    </testcase>",
                    xml(&case.reason),
                    xml(&details)
                );
            }
            Verdict::NotClaimed => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml(&case.reason)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Text as XML character data or attribute value: the five special
/// characters escaped, and characters XML 1.0 cannot carry replaced.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            xml("a<b>&\"c\"'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;\u{FFFD}&#10;"
        );
    }
}
