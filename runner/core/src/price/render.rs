//! The "Price under conditions" section of a report.

use std::fmt::Write;

use super::table::{
    BLEND_INPUT_PER_OUTPUT, JOB_TOKENS, JobMinutes, PriceTable, Task, TaskCount, group,
};

/// The body of the "Price under conditions" section (the caller writes
/// the heading): the workload, one table row per sheet, each sheet's
/// conditions, and how the figures are computed.
pub fn markdown(table: &PriceTable) -> String {
    let mut out = String::new();
    let w = &table.workload;
    let tasks: Vec<String> = w.tasks.iter().map(task_count).collect();
    let _ = writeln!(
        out,
        "Workload: {} attempt(s), {} successful ({}); {} without usage. \
         Tokens reported: {} prompt ({} cache hits), {} completion ({} reasoning).\n",
        w.attempts,
        w.successes,
        if tasks.is_empty() {
            "no tasks".to_string()
        } else {
            tasks.join("; ")
        },
        w.without_usage,
        w.tokens.prompt,
        w.tokens.cached,
        w.tokens.completion,
        w.tokens.reasoning,
    );
    if table.rows.is_empty() {
        let _ = writeln!(out, "No price sheets in `suites/prices/`.\n");
        return out;
    }
    let task_heads: String = w
        .tasks
        .iter()
        .map(|t| format!(" per {} |", task_label(t.task)))
        .collect();
    let _ = writeln!(
        out,
        "| Sheet | Provider / model | Date | Re-checked | Currency |{task_heads} Blended {BLEND_INPUT_PER_OUTPUT}:1 per M | Effective per success (attempts / successes) | Job of {} tokens |",
        group(JOB_TOKENS)
    );
    let _ = writeln!(
        out,
        "|---|---|---|---|---|{}---|---|---|",
        "---|".repeat(w.tasks.len())
    );
    for row in &table.rows {
        let per_task: String = row
            .per_task
            .iter()
            .map(|t| format!(" {} |", t.cost))
            .collect();
        let job = match (&row.job_time.minutes, row.job_time.requests) {
            (JobMinutes::Exactly(m), Some(r)) => format!("{m} min ({} requests)", group(r)),
            (JobMinutes::AtLeast(m), Some(r)) => format!("≥ {m} min ({} requests)", group(r)),
            (JobMinutes::Unlimited, _) => "unlimited".to_string(),
            _ => "unknown".to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} {} | {} | {} | {} |{per_task} {} | {} ({} / {}) | {job} |",
            cell(&row.id),
            cell(&row.provider),
            cell(&row.model),
            cell(&row.date),
            if row.rechecked { "yes" } else { "no" },
            cell(&row.currency),
            row.blended_per_million,
            row.effective.per_success,
            row.effective.attempts,
            row.effective.successes,
        );
    }
    let _ = writeln!(
        out,
        "\nAmounts are in each row's own currency; nothing is converted, so rows \
         in different currencies are not comparable by figure. \"unknown\": a price \
         the computation needs is not in the sheet; \"n/a\": no successful attempt.\n"
    );
    let _ = writeln!(out, "Conditions:\n");
    for row in &table.rows {
        let _ = writeln!(
            out,
            "- `{}`: {}",
            row.id,
            row.conditions
                .iter()
                .filter(|c| !c.is_empty())
                .map(|c| one_line(c))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let _ = writeln!(
        out,
        "\nHow computed: a request costs its cache-miss input tokens × the input \
         rate + its cache-hit input tokens × the cache-hit rate (the input rate when \
         none is given) + its completion tokens (reasoning included) × the output \
         rate, all per million tokens, exactly, rounded half up to 6 decimals only \
         when shown. A tier applies when the prompt has at least its threshold of \
         tokens; a whole-request tier prices every token of the request at its rates, \
         otherwise only the input tokens from the threshold on take the tier's input \
         rate (output at the tier's output rate). Per task = cost of the task's \
         successful attempts / their number. Blended = ({BLEND_INPUT_PER_OUTPUT} × input \
         + output) / {} at the base cache-miss rates. Effective per success = cost of \
         every attempt, failed and retried ones included (an attempt without usage \
         costs 0) / successful attempts. Job: requests = ⌈{} / mean prompt + completion \
         tokens of a successful attempt⌉; minutes = max(requests / RPM, {} / TPM); \
         \"≥\" when only one limit is stated. Free quotas and off-peak windows are \
         listed, not applied.",
        BLEND_INPUT_PER_OUTPUT + 1,
        group(JOB_TOKENS),
        group(JOB_TOKENS),
    );
    out
}

fn task_label(task: Task) -> &'static str {
    match task {
        Task::ChatTurn => "chat turn",
        Task::LongDocument => "long document",
        Task::LongGeneration => "long generation",
    }
}

fn task_count(t: &TaskCount) -> String {
    let normalised = t.normalised_tokens.map_or(String::new(), |n| {
        format!(", {} o200k_base tokens each", group(n))
    });
    format!(
        "{}: {} of {}{normalised}",
        task_label(t.task),
        t.successes,
        t.attempts
    )
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text safe inside a table cell.
fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}
