//! Reports people and CI systems read, rendered from a verified bundle:
//! `report.md` (summary first, then every failure with its clause text and
//! the evidence that failed) and `junit.xml` (one testcase per case).
//! Pure: the same bundle renders to the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::bundle::{RunInfo, Signer};
use crate::evidence::Exchange;
use crate::judge::{CaseResult, Results, Verdict};
use crate::suite::{Level, Suite};

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

/// Bytes of a failing body quoted in `report.md`.
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
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Verdict | {conformance} |");
    let _ = writeln!(
        out,
        "| Target | `{}` at {}{reference} |",
        target.model, target.base_url
    );
    let _ = writeln!(out, "| Suite | `{}` |", results.suite_digest);
    let _ = writeln!(out, "| Tool | {} |", run.tool);
    let _ = writeln!(
        out,
        "| When | {} to {} (run `{}`) |",
        run.started_at,
        run.finished_at.as_deref().unwrap_or("(not finished)"),
        run.run_id
    );
    let _ = writeln!(out, "| Signature | {signature} |\n");

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
        if let Some(exchange) = evidence.get(&case.id) {
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

    let _ = writeln!(out, "## Metrics\n");
    let _ = writeln!(
        out,
        "This bundle holds conformance cases only; it has no performance measurements."
    );
    out
}

/// The request line, status, and the start and end of the body of an
/// exchange (failures are often at the end: a missing `[DONE]`, a cut).
fn excerpt(exchange: &Exchange) -> String {
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
    format!(
        "Evidence: `{} {}` → {status}, {} body bytes:\n\n```\n{}\n```",
        exchange.method,
        exchange.url,
        body.len(),
        shown.replace("```", "` ` `")
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
