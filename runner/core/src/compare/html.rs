//! A comparison as a self-contained HTML fragment, for the HTML report.

use crate::report::esc;
use std::fmt::Write;

use super::{Comparison, VerdictAgreement, show_p, show_rate, show_ratio, show_value};
use crate::judge::Verdict;

/// A self-contained HTML fragment (one `<section>`, no scripts or styles,
/// every text escaped) showing a comparison: its outcome and method, the
/// cases whose verdicts disagree, and a table per performance case.
pub fn html_section(c: &Comparison) -> String {
    let mut h = String::new();
    let _ = writeln!(h, "<section class=\"tokencert-compare\">");
    let _ = writeln!(h, "<h2>Comparison of two runs</h2>");
    let _ = writeln!(
        h,
        "<p><strong>{}</strong>: suite <code>{}</code>; A = run <code>{}</code> ({}, {}, {}), \
         B = run <code>{}</code> ({}, {}, {}).</p>",
        esc(&c.outcome),
        esc(&c.suite_digest),
        esc(&c.a.run_id),
        esc(&c.a.base_url),
        esc(&c.a.started_at),
        esc(&c.a.signature),
        esc(&c.b.run_id),
        esc(&c.b.base_url),
        esc(&c.b.started_at),
        esc(&c.b.signature),
    );
    if !c.differences.is_empty() {
        let _ = writeln!(h, "<ul>");
        for d in &c.differences {
            let _ = writeln!(h, "<li>{}</li>", esc(d));
        }
        let _ = writeln!(h, "</ul>");
    }
    let _ = writeln!(
        h,
        "<p>Method: {}; error rate: {}; {} ({} tests). Percentile values are the runs' own \
         samples at that rank. {} test(s) had too few samples for their percentile: there \
         \"consistent\" means no difference could be seen, not that there is none.</p>",
        esc(&c.method.quantile_test),
        esc(&c.method.error_rate_test),
        esc(&c.method.level),
        c.method.tests,
        c.too_few()
    );
    let disagree: Vec<&VerdictAgreement> = c.verdicts.iter().filter(|v| !v.agree).collect();
    if disagree.is_empty() {
        let _ = writeln!(h, "<p>All {} case verdicts agree.</p>", c.verdicts.len());
    } else {
        let _ = writeln!(
            h,
            "<table>\n<thead><tr><th>Case</th><th>A</th><th>B</th></tr></thead>\n<tbody>"
        );
        for v in disagree {
            let show = |x: Option<Verdict>| x.map_or("not run", Verdict::name);
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&v.case),
                show(v.a),
                show(v.b)
            );
        }
        let _ = writeln!(h, "</tbody>\n</table>");
    }
    for load in &c.loads {
        let _ = writeln!(h, "<h3>{}</h3>", esc(&load.case));
        let _ = writeln!(
            h,
            "<table>\n<thead><tr><th>Metric</th><th>Percentile</th><th>A</th><th>B</th>\
             <th>B/A</th><th>p</th><th>Decision</th></tr></thead>\n<tbody>"
        );
        for m in &load.metrics {
            for q in &m.percentiles {
                let value = |v: Option<u64>| v.map_or("-".into(), |v| show_value(&m.unit, v));
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                     <td>{}</td></tr>",
                    esc(&m.label),
                    esc(&q.percentile),
                    esc(&value(q.a)),
                    esc(&value(q.b)),
                    esc(&show_ratio(q.ratio_per_mille)),
                    esc(&q.p_ppm.map_or("-".into(), show_p)),
                    esc(&q.describe()),
                );
            }
        }
        let e = &load.error_rate;
        let _ = writeln!(
            h,
            "<tr><td>error rate</td><td></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td></tr>",
            esc(&show_rate(e.a_errors, e.a_total, e.a_ppm)),
            esc(&show_rate(e.b_errors, e.b_total, e.b_ppm)),
            esc(&show_ratio(e.ratio_per_mille)),
            esc(&show_p(e.p_ppm)),
            e.decision.name()
        );
        let _ = writeln!(h, "</tbody>\n</table>");
    }
    let _ = writeln!(h, "</section>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::compare;
    use crate::compare::tests::side;

    #[test]
    fn html_is_escaped() {
        let a = side(&[("<b>&", Verdict::Pass)], None);
        let b = side(&[("<b>&", Verdict::Fail)], None);
        let html = html_section(&compare(&a, &b));
        assert!(html.contains("&lt;b&gt;&amp;"), "{html}");
        assert!(!html.contains("<b>&"), "{html}");
        assert!(html.starts_with("<section") && html.trim_end().ends_with("</section>"));
    }
}
