//! `report.html`: one self-contained page (inline CSS, inline SVG, no
//! script, no URL but the target's) with the facts of `report.md`, a
//! verdict per clause, and charts of the performance cases.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::chart::{self, Bar, ChartResult, Interval, Line};
use super::{
    DEFINITIONS, Excerpt, Input, PERCENTILE_CELLS, achieved, asked, errors, metric_rows,
    steady_state, summary,
};
use crate::compare::Comparison;
use crate::judge::{CaseResult, Verdict};
use crate::metrics::ErrorClass;
use crate::performance::{Bucket, CdfPoint, Figures};
use crate::suite::{Level, Suite};

/// Nanoseconds per millisecond, for chart axes.
const NS_PER_MS: f64 = 1e6;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1240px}\
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ccc;padding:3px 7px;\
text-align:left;vertical-align:top}td.n{text-align:right}th{background:#f2f2f2}\
code,pre{font-family:ui-monospace,monospace;font-size:.9em}\
pre{background:#f6f6f6;padding:8px;overflow-x:auto;white-space:pre-wrap}\
.pass{color:#1b5e20}.fail{color:#b71c1c;font-weight:bold}.error{color:#e65100;font-weight:bold}\
.not_claimed{color:#666}\
.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}\
figcaption{font-size:.85em;color:#555;max-width:600px}";

/// `report.html`.
pub fn html(input: &Input<'_>) -> String {
    page(input, "")
}

/// `report.html` with a comparison with another run appended
/// ([`crate::compare::html_section`]).
pub fn html_with_comparison(input: &Input<'_>, comparison: &Comparison) -> String {
    page(input, &crate::compare::html_section(comparison))
}

fn page(input: &Input<'_>, appendix: &str) -> String {
    let Input {
        suite,
        run,
        results,
        signer,
        evidence,
    } = input;
    let target = &run.target;
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        out,
        "<title>tokencert report: {} at {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        esc(&target.model),
        esc(&target.base_url)
    );
    let _ = writeln!(
        out,
        "<h1>tokencert report: <code>{}</code> at {}</h1>",
        esc(&target.model),
        esc(&target.base_url)
    );
    out.push_str("<table>\n");
    for (name, value) in summary(run, results, signer) {
        let _ = writeln!(out, "<tr><th>{name}</th><td>{}</td></tr>", inline(&value));
    }
    out.push_str("</table>\n");

    out.push_str("<h2>Verdicts by level</h2>\n<table>\n<tr><th>Level</th>");
    for verdict in Verdict::ALL {
        let _ = write!(out, "<th>{}</th>", verdict_heading(verdict));
    }
    out.push_str("</tr>\n");
    for level in [Level::Must, Level::Should, Level::May] {
        let _ = write!(out, "<tr><td>{}</td>", level.keyword());
        for verdict in Verdict::ALL {
            let _ = write!(
                out,
                "<td class=\"n\">{}</td>",
                results.count(level, verdict)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");

    clauses(&mut out, suite, &results.cases);

    out.push_str("<h2>Failures</h2>\n");
    let failing: Vec<&CaseResult> = results
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error))
        .collect();
    if failing.is_empty() {
        out.push_str("<p>None: every case that applies passes.</p>\n");
    }
    for case in failing {
        let _ = writeln!(
            out,
            "<h3><code>{}</code>: <span class=\"{v}\">{v}</span> ({} {})</h3>",
            esc(&case.id),
            case.level.keyword(),
            esc(&case.clause),
            v = case.verdict.name(),
        );
        if let Some(clause) = suite.clauses.get(&case.clause) {
            let _ = writeln!(
                out,
                "<blockquote><strong>{}.</strong> {}</blockquote>",
                esc(&clause.title),
                esc(clause.text.trim())
            );
        }
        let _ = writeln!(out, "<p>{}</p>", esc(&case.reason));
        if let Some(exchange) = evidence
            .get(&case.id)
            .filter(|_| case.performance.is_none())
        {
            let e = Excerpt::of(exchange);
            let _ = writeln!(
                out,
                "<p>Evidence: <code>{}</code> → {}, {} body bytes:</p>\n<pre>{}</pre>",
                esc(&e.request),
                esc(&e.status),
                e.bytes,
                esc(&e.shown)
            );
        }
    }

    out.push_str("<h2>Price under conditions</h2>\n");
    match &results.prices {
        Some(table) => out.push_str(&blocks(&crate::price::markdown(table))),
        None => out.push_str(
            "<p>No priced workload: the run has no case with a <code>task</code>, or the suite no price sheet.</p>\n",
        ),
    }

    out.push_str("<h2>Performance</h2>\n");
    let loads: Vec<(&CaseResult, &Figures)> = results
        .cases
        .iter()
        .filter_map(|c| Some((c, c.performance.as_ref()?)))
        .collect();
    if loads.is_empty() {
        out.push_str("<p>No performance figures: the run has no claimed performance case.</p>\n");
    } else {
        let _ = writeln!(out, "<p>{}</p>", inline(DEFINITIONS));
        against_load(&mut out, &loads);
        for (case, figures) in loads {
            performance(&mut out, suite, case, figures);
        }
    }
    out.push_str(appendix);
    out.push_str("</body>\n</html>\n");
    out
}

fn verdict_heading(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "Pass",
        Verdict::Fail => "Fail",
        Verdict::Error => "Error",
        Verdict::NotClaimed => "Not claimed",
    }
}

/// One row per clause the run tested: its cases' verdicts counted.
fn clauses(out: &mut String, suite: &Suite, cases: &[CaseResult]) {
    let mut by_clause: BTreeMap<&str, (Level, [u64; 4])> = BTreeMap::new();
    for case in cases {
        let (_, counts) = by_clause
            .entry(case.clause.as_str())
            .or_insert((case.level, [0; 4]));
        if let Some(i) = Verdict::ALL.iter().position(|v| *v == case.verdict) {
            counts[i] += 1;
        }
    }
    out.push_str(
        "<h2>Verdicts by clause</h2>\n<table>\n<tr><th>Clause</th><th>Level</th><th>Title</th>",
    );
    for verdict in Verdict::ALL {
        let _ = write!(out, "<th>{}</th>", verdict_heading(verdict));
    }
    out.push_str("</tr>\n");
    for (id, (case_level, counts)) in by_clause {
        let clause = suite.clauses.get(id);
        let level = clause.map_or(case_level, |c| c.level);
        // The row takes the class of its worst verdict.
        let worst = [
            Verdict::Error,
            Verdict::Fail,
            Verdict::Pass,
            Verdict::NotClaimed,
        ]
        .into_iter()
        .find(|v| {
            Verdict::ALL
                .iter()
                .position(|a| a == v)
                .is_some_and(|i| counts[i] > 0)
        })
        .unwrap_or(Verdict::NotClaimed);
        let _ = write!(
            out,
            "<tr class=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td>",
            worst.name(),
            esc(id),
            level.keyword(),
            esc(clause.map_or("(not in the suite)", |c| c.title.as_str()))
        );
        for count in counts {
            let _ = write!(out, "<td class=\"n\">{count}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// The run's loads on one chart: E2E p50 and p95 and steady-state output
/// tokens/s against the request rate each achieved, with a table of the
/// same figures.
fn against_load(out: &mut String, loads: &[(&CaseResult, &Figures)]) {
    let mut points: Vec<(f64, &str, &Figures)> = loads
        .iter()
        .filter_map(|(c, f)| Some((f.load.sent_rate_milli? as f64 / 1000.0, c.id.as_str(), *f)))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
    out.push_str("<h3>Throughput and latency against load</h3>\n");
    if points.is_empty() {
        out.push_str("<p>No load sent two requests or more: no achieved rate to chart.</p>\n");
        return;
    }
    let e2e = |f: &Figures, p: &str| {
        let v = f.summary.e2e_ns.as_ref()?.percentile(p)?.exact;
        Some(v as f64 / NS_PER_MS)
    };
    let latency_line = |label: &str, name: &str, colour| Line {
        label: label.to_string(),
        colour,
        points: points
            .iter()
            .filter_map(|(x, _, f)| Some((*x, e2e(f, name)?)))
            .collect(),
    };
    let latency = [
        latency_line("E2E p50 (ms)", "p50", chart::BLUE),
        latency_line("E2E p95 (ms)", "p95", chart::ORANGE),
    ];
    let throughput = Line {
        label: "output tokens/s".to_string(),
        colour: chart::BLUE,
        points: points
            .iter()
            .filter_map(|(x, _, f)| {
                let t = f.steady_state.output_token_throughput_milli?;
                Some((*x, t as f64 / 1000.0))
            })
            .collect(),
    };
    figure(
        out,
        chart::against_load(&latency, &throughput),
        "Each point is one performance case of this run: the rate it sent at, its E2E p50 and \
         p95 (left axis) and its steady-state output tokens/s (right axis).",
    );
    out.push_str(
        "<table>\n<tr><th>Case</th><th>requests/s sent</th><th>E2E p50 (ms)</th>\
         <th>E2E p95 (ms)</th><th>output tokens/s</th></tr>\n",
    );
    for (_, id, f) in &points {
        let p = |name: &str| {
            f.summary
                .e2e_ns
                .as_ref()
                .and_then(|d| d.percentile(name))
                .map_or("-".to_string(), |p| super::ns_ms(p.exact))
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(id),
            super::rate(f.load.sent_rate_milli),
            p("p50"),
            p("p95"),
            super::rate(f.steady_state.output_token_throughput_milli)
        );
    }
    out.push_str("</table>\n");
}

fn performance(out: &mut String, suite: &Suite, case: &CaseResult, f: &Figures) {
    let _ = writeln!(
        out,
        "<h3><code>{}</code>: <span class=\"{v}\">{v}</span> against the {} class</h3>",
        esc(&case.id),
        esc(&f.slo),
        v = case.verdict.name(),
    );
    if let Some(asked) = asked(suite, case) {
        let _ = writeln!(out, "<p>{}</p>", esc(&asked));
    }
    let _ = writeln!(out, "<p>{}</p>", esc(&achieved(f)));

    out.push_str("<div class=\"charts\">\n");
    let plots = &f.plots;
    if plots.e2e_cdf.is_empty() && plots.ttft_cdf.is_empty() {
        out.push_str("<p>No request delivered output: no latency distribution to chart.</p>\n");
    } else {
        let cdf = |label: &str, colour, points: &[CdfPoint]| Line {
            label: label.to_string(),
            colour,
            points: points
                .iter()
                .map(|p| (p.value as f64 / NS_PER_MS, f64::from(p.per_mille) / 1000.0))
                .collect(),
        };
        figure(
            out,
            chart::lines(
                "Latency CDF",
                "ms from the actual send",
                "share of ok requests",
                &[
                    cdf("E2E", chart::BLUE, &plots.e2e_cdf),
                    cdf("TTFT", chart::ORANGE, &plots.ttft_cdf),
                ],
            ),
            "Share of ok requests whose TTFT or E2E was at most x.",
        );
    }
    for (title, buckets, caption) in [
        (
            "TTFT histogram",
            &plots.ttft_histogram,
            "TTFT of ok requests from the actual send.",
        ),
        (
            "ITL histogram (token level)",
            &plots.itl_histogram,
            "Token-level inter-token latencies of ok requests.",
        ),
    ] {
        if buckets.is_empty() {
            let _ = writeln!(out, "<p>{title}: no samples.</p>");
            continue;
        }
        figure(out, chart::histogram(title, "ms", &bars(buckets)), caption);
    }
    if !plots.timeline.is_empty() {
        let intervals: Vec<Interval> = plots
            .timeline
            .iter()
            .map(|t| {
                let width_s = t.end_ns.saturating_sub(t.start_ns) as f64 / 1e9;
                Interval {
                    start: t.start_ns as f64 / 1e9,
                    end: t.end_ns as f64 / 1e9,
                    by_class: ErrorClass::ALL.map(|c| t.classes.get(c)),
                    tokens_per_s: if width_s > 0.0 {
                        t.output_tokens as f64 / width_s
                    } else {
                        0.0
                    },
                }
            })
            .collect();
        figure(
            out,
            chart::timeline(&intervals),
            "Requests that ended in each interval, ok and errors (the error classes of the \
             whole load are counted below), and the output tokens of the ok ones per second.",
        );
    }
    out.push_str("</div>\n");

    out.push_str("<table>\n<tr><th>Metric</th><th>n</th><th>mean</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th></tr>\n");
    for (name, row) in metric_rows(f) {
        let _ = write!(out, "<tr><td>{}</td>", esc(name));
        match row {
            None => out.push_str("<td class=\"n\">0</td><td></td><td></td><td></td><td></td><td></td><td></td><td></td>"),
            Some(row) => {
                let cells = std::iter::once(row.count.to_string())
                    .chain(std::iter::once(row.mean))
                    .chain(row.percentiles)
                    .chain(std::iter::once(row.max));
                for cell in cells {
                    let _ = write!(out, "<td class=\"n\">{}</td>", esc(&cell));
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    let _ = writeln!(out, "<p>{}</p>", inline(PERCENTILE_CELLS));
    let _ = writeln!(out, "<p>{}</p>", esc(&steady_state(f)));
    let _ = writeln!(out, "<p>{}</p>", esc(&errors(f)));
    out.push_str("<table>\n<tr><th>Threshold</th><th>Verdict</th><th>Measured</th></tr>\n");
    for check in &case.checks {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td class=\"{v}\">{v}</td><td>{}</td></tr>",
            esc(&check.check),
            esc(&check.reason),
            v = check.verdict.name(),
        );
    }
    out.push_str("</table>\n");
}

fn bars(buckets: &[Bucket]) -> Vec<Bar> {
    buckets
        .iter()
        .map(|b| Bar {
            low: b.low as f64 / NS_PER_MS,
            high: b.high as f64 / NS_PER_MS,
            count: b.count,
        })
        .collect()
}

/// A chart with its caption, or why it could not be drawn.
fn figure(out: &mut String, chart: ChartResult, caption: &str) {
    match chart {
        Ok(svg) => {
            let _ = writeln!(
                out,
                "<figure>\n{}<figcaption>{}</figcaption>\n</figure>",
                svg,
                esc(caption)
            );
        }
        Err(e) => {
            let _ = writeln!(out, "<p>Chart not drawn: {}</p>", esc(&e));
        }
    }
}

/// Text as HTML character data or attribute value; control characters
/// other than newline and tab replaced.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Markdown inline syntax of this crate's own texts as HTML: code spans
/// and bold; everything escaped.
fn inline(md: &str) -> String {
    let mut out = String::new();
    let spans: Vec<&str> = md.split('`').collect();
    // An unpaired backtick stays a backtick.
    let paired = spans.len() % 2 == 1;
    for (i, span) in spans.iter().enumerate() {
        if i % 2 == 1 && (paired || i + 1 < spans.len()) {
            let _ = write!(out, "<code>{}</code>", esc(span));
            continue;
        }
        if i % 2 == 1 {
            out.push('`');
        }
        let parts: Vec<&str> = span.split("**").collect();
        let bold_paired = parts.len() % 2 == 1;
        for (j, part) in parts.iter().enumerate() {
            if j % 2 == 1 {
                if bold_paired || j + 1 < parts.len() {
                    let _ = write!(out, "<strong>{}</strong>", esc(part));
                    continue;
                }
                out.push_str("**");
            }
            out.push_str(&esc(part));
        }
    }
    out
}

/// The block syntax `price::markdown` writes (paragraphs, `- ` lists, and
/// pipe tables whose second line is the alignment row) as HTML.
fn blocks(md: &str) -> String {
    let mut out = String::new();
    let mut lines = md.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('|') {
            out.push_str("<table>\n");
            let mut row = Some(line);
            let mut index = 0;
            while let Some(line) = row {
                let tag = if index == 0 { "th" } else { "td" };
                if index != 1 {
                    out.push_str("<tr>");
                    for cell in cells(line) {
                        let _ = write!(out, "<{tag}>{}</{tag}>", inline(&cell));
                    }
                    out.push_str("</tr>\n");
                }
                index += 1;
                row = lines.next_if(|l| l.starts_with('|'));
            }
            out.push_str("</table>\n");
        } else if let Some(item) = line.strip_prefix("- ") {
            out.push_str("<ul>\n");
            let _ = writeln!(out, "<li>{}</li>", inline(item));
            while let Some(item) = lines.next_if(|l| l.starts_with("- ")) {
                let _ = writeln!(out, "<li>{}</li>", inline(&item[2..]));
            }
            out.push_str("</ul>\n");
        } else {
            let mut text = line.to_string();
            while let Some(more) = lines
                .next_if(|l| !l.trim().is_empty() && !l.starts_with('|') && !l.starts_with("- "))
            {
                text.push(' ');
                text.push_str(more);
            }
            let _ = writeln!(out, "<p>{}</p>", inline(&text));
        }
    }
    out
}

/// The cells of a pipe-table row; `\|` is a literal bar.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cell.push('|');
            }
            '|' => cells.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    cells.push(cell);
    cells.iter().map(|c| c.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href='x'>&\"</a>\u{7}"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;\u{FFFD}"
        );
    }

    #[test]
    fn inline_markdown_becomes_code_and_strong() {
        assert_eq!(
            inline("**A** `b<c` d"),
            "<strong>A</strong> <code>b&lt;c</code> d"
        );
        assert_eq!(inline("a ` b ** c"), "a ` b ** c");
    }

    #[test]
    fn blocks_render_tables_lists_and_paragraphs() {
        let html =
            blocks("Intro\nmore.\n\n| A | B |\n|---|---|\n| `x` | y \\| z |\n\n- one\n- two\n");
        assert_eq!(
            html,
            "<p>Intro more.</p>\n<table>\n<tr><th>A</th><th>B</th></tr>\n\
             <tr><td><code>x</code></td><td>y | z</td></tr>\n</table>\n\
             <ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
        );
    }
}
