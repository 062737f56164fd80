//! The price of a recorded workload under each price sheet.

use serde::{Deserialize, Serialize};

use super::money::{Cost, PerMillion, Pico, round_div};
use super::sheet::{Limit, PriceSheet, Rates};

/// The tokens of the job whose duration a row states.
pub const JOB_TOKENS: u64 = 1_000_000;
/// Input tokens per output token assumed by the blended price (3 : 1, as
/// Artificial Analysis blends).
pub const BLEND_INPUT_PER_OUTPUT: u64 = 3;

/// Which task of the priced workload a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A short chat exchange.
    ChatTurn,
    /// A question on a long document.
    LongDocument,
    /// A long answer.
    LongGeneration,
}

impl Task {
    /// Every task, in table order.
    pub const ALL: [Task; 3] = [Task::ChatTurn, Task::LongDocument, Task::LongGeneration];

    /// The name used in case files and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Task::ChatTurn => "chat_turn",
            Task::LongDocument => "long_document",
            Task::LongGeneration => "long_generation",
        }
    }
}

/// Token counts a target reported for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// `prompt_tokens`, cached ones included.
    pub prompt: u64,
    /// `prompt_tokens_details.cached_tokens` (cache hits, part of `prompt`;
    /// more than `prompt` is priced as `prompt`).
    pub cached: u64,
    /// `completion_tokens`, reasoning ones included.
    pub completion: u64,
    /// `completion_tokens_details.reasoning_tokens` (part of `completion`,
    /// billed as output; shown, not priced separately).
    pub reasoning: u64,
}

/// One request of the priced workload, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billed {
    /// The case id.
    pub case: String,
    /// Which task the request belongs to.
    pub task: Task,
    /// `None`: no usage reported (e.g. a 429); the attempt costs nothing.
    pub usage: Option<TokenUsage>,
    /// The attempt delivered a usable answer.
    pub succeeded: bool,
    /// Its prompt and delivered text recounted with o200k_base (OpenAI's
    /// chat overhead): the same yardstick for every vendor's tokens.
    /// `None` when nothing was delivered or the text cannot be counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalised_tokens: Option<u64>,
}

/// The price of one workload under every sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTable {
    /// The workload every row prices.
    pub workload: Workload,
    /// One row per sheet, by sheet id.
    pub rows: Vec<PriceRow>,
}

/// What was priced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// Attempts and successes per task present, in [`Task::ALL`] order.
    pub tasks: Vec<TaskCount>,
    /// Every attempt.
    pub attempts: u64,
    /// Attempts that delivered a usable answer.
    pub successes: u64,
    /// Attempts without usage (priced at 0).
    pub without_usage: u64,
    /// Tokens of every attempt with usage.
    pub tokens: TokenUsage,
    /// Prompt plus completion tokens of the successful attempts.
    pub successful_tokens: u64,
}

/// The attempts of one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCount {
    /// The task.
    pub task: Task,
    /// Its attempts.
    pub attempts: u64,
    /// Those that succeeded.
    pub successes: u64,
    /// Mean o200k_base tokens (prompt and delivered text) of its successful
    /// attempts, rounded: information that makes tasks of vendors with
    /// different tokenizers comparable. `None` when none could be counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalised_tokens: Option<u64>,
}

/// The workload priced under one sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRow {
    /// Sheet id.
    pub id: String,
    /// Provider.
    pub provider: String,
    /// Model.
    pub model: String,
    /// When the prices held.
    pub date: String,
    /// ISO 4217 code of every amount in the row.
    pub currency: String,
    /// Whether the sheet's figures were re-checked at the source.
    pub rechecked: bool,
    /// Cost of one task, per task present in the workload.
    pub per_task: Vec<TaskCost>,
    /// Price per million tokens at 3 input : 1 output, base cache-miss rates.
    pub blended_per_million: Cost,
    /// What the successes cost once failed attempts are paid for too.
    pub effective: Effective,
    /// How long a job of [`JOB_TOKENS`] tokens of the workload's mix takes
    /// under the sheet's limits.
    pub job_time: JobTime,
    /// The conditions, in words.
    pub conditions: Vec<String>,
}

/// Cost of one task: its successful attempts' cost over their number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCost {
    /// The task.
    pub task: Task,
    /// Cost of one successful attempt, on average.
    pub cost: Cost,
}

/// The cost of every attempt, failed and retried ones included, over the
/// successes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effective {
    /// Every attempt.
    pub attempts: u64,
    /// The successful ones.
    pub successes: u64,
    /// Cost of every attempt.
    pub total: Cost,
    /// `total / successes`.
    pub per_success: Cost,
}

/// How long a job takes under a sheet's limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTime {
    /// Requests of the workload's mean size the job needs; `None` when no
    /// successful attempt reported tokens.
    pub requests: Option<u64>,
    /// The time.
    pub minutes: JobMinutes,
}

/// A job's duration in minutes, with two decimals (half up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobMinutes {
    /// Both limits known: the job needs this long at least, and the limits
    /// allow no less.
    Exactly(String),
    /// One limit known, the other not stated: at least this long.
    AtLeast(String),
    /// Both limits stated as unlimited.
    Unlimited,
    /// No limit stated, or no tokens to size requests by.
    Unknown,
}

/// Prices `workload` under every sheet; rows by sheet id.
pub fn price_table(sheets: &[PriceSheet], workload: &[Billed]) -> PriceTable {
    let summary = summarize(workload);
    let mut rows: Vec<PriceRow> = sheets
        .iter()
        .map(|sheet| row(sheet, workload, &summary))
        .collect();
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    PriceTable {
        workload: summary,
        rows,
    }
}

fn summarize(workload: &[Billed]) -> Workload {
    let mut tokens = TokenUsage::default();
    let mut successful_tokens: u64 = 0;
    let mut without_usage = 0;
    for billed in workload {
        match &billed.usage {
            Some(usage) => {
                tokens.prompt = tokens.prompt.saturating_add(usage.prompt);
                tokens.cached = tokens.cached.saturating_add(usage.cached.min(usage.prompt));
                tokens.completion = tokens.completion.saturating_add(usage.completion);
                tokens.reasoning = tokens.reasoning.saturating_add(usage.reasoning);
                if billed.succeeded {
                    successful_tokens = successful_tokens
                        .saturating_add(usage.prompt.saturating_add(usage.completion));
                }
            }
            None => without_usage += 1,
        }
    }
    let count = |pred: &dyn Fn(&Billed) -> bool| workload.iter().filter(|b| pred(b)).count() as u64;
    let tasks = Task::ALL
        .into_iter()
        .filter(|t| workload.iter().any(|b| b.task == *t))
        .map(|task| TaskCount {
            task,
            attempts: count(&|b| b.task == task),
            successes: count(&|b| b.task == task && b.succeeded),
            normalised_tokens: mean_normalised(workload, task),
        })
        .collect();
    Workload {
        tasks,
        attempts: workload.len() as u64,
        successes: count(&|b| b.succeeded),
        without_usage,
        tokens,
        successful_tokens,
    }
}

/// Mean normalised tokens of a task's successful attempts that have them.
fn mean_normalised(workload: &[Billed], task: Task) -> Option<u64> {
    let counts: Vec<u64> = workload
        .iter()
        .filter(|b| b.task == task && b.succeeded)
        .filter_map(|b| b.normalised_tokens)
        .collect();
    let sum: u128 = counts.iter().map(|&n| u128::from(n)).sum();
    (!counts.is_empty())
        .then(|| u64::try_from(round_div(sum, counts.len() as u128)).unwrap_or(u64::MAX))
}

/// The cost of one request under `sheet` and which tier priced it
/// (`None`: the base rates); the cost is `None` when a price it needs is
/// unknown or the sum overflows.
fn request_cost(sheet: &PriceSheet, usage: &TokenUsage) -> (Option<Pico>, Option<usize>) {
    let prompt = usage.prompt;
    let cached = usage.cached.min(prompt);
    let base = sheet.per_million_tokens;
    let index = sheet
        .tiers
        .iter()
        .rposition(|t| t.min_prompt_tokens <= prompt);
    let (input, output_rate) = match index {
        None => (band_cost(&base, 0, prompt, cached), base.output),
        Some(i) if sheet.tiers[i].whole_request => {
            let top = sheet.tiers[i];
            (band_cost(&top.rates(), 0, prompt, cached), top.output)
        }
        Some(i) => {
            // Bands: [0, t₀) at the base rates, [tₖ, tₖ₊₁) at tier k's, up
            // to the prompt's end.
            let mut starts = vec![(0, base)];
            starts.extend(
                sheet.tiers[..=i]
                    .iter()
                    .map(|t| (t.min_prompt_tokens, t.rates())),
            );
            let mut sum = Some(Pico(0));
            for (k, (start, rates)) in starts.iter().enumerate() {
                let end = starts.get(k + 1).map_or(prompt, |next| next.0);
                sum = sum.and_then(|s| s.checked_add(band_cost(rates, *start, end, cached)?));
            }
            (sum, sheet.tiers[i].output)
        }
    };
    let cost = input.and_then(|i| i.checked_add(Pico::of(usage.completion, output_rate)?));
    (cost, index)
}

/// Input tokens at positions `[start, end)` of the prompt; the first
/// `cached` positions are cache hits (a cache hit is a prompt prefix).
fn band_cost(rates: &Rates, start: u64, end: u64, cached: u64) -> Option<Pico> {
    let tokens = end.saturating_sub(start);
    let hits = cached.clamp(start, end.max(start)) - start;
    Pico::of(hits, rates.cached())?.checked_add(Pico::of(tokens - hits, rates.input)?)
}

fn row(sheet: &PriceSheet, workload: &[Billed], summary: &Workload) -> PriceRow {
    let priced: Vec<(&Billed, Option<Pico>, Option<usize>)> = workload
        .iter()
        .map(|b| match &b.usage {
            Some(usage) => {
                let (cost, tier) = request_cost(sheet, usage);
                (b, cost, tier)
            }
            None => (b, Some(Pico(0)), None),
        })
        .collect();
    let sum = |pred: &dyn Fn(&Billed) -> bool| {
        priced
            .iter()
            .filter(|(b, ..)| pred(b))
            .try_fold(Pico(0), |acc, (_, cost, _)| acc.checked_add((*cost)?))
    };
    let per_task = summary
        .tasks
        .iter()
        .map(|t| TaskCost {
            task: t.task,
            cost: Cost::per(sum(&|b| b.task == t.task && b.succeeded), t.successes),
        })
        .collect();
    let total = sum(&|_| true);
    let effective = Effective {
        attempts: summary.attempts,
        successes: summary.successes,
        total: total.map_or(Cost::Unknown, |p| Cost::per(Some(p), 1)),
        per_success: Cost::per(total, summary.successes),
    };
    let base = sheet.per_million_tokens;
    let blended = match (base.input, base.output) {
        (Some(input), Some(output)) => {
            let weighted = u128::from(BLEND_INPUT_PER_OUTPUT) * u128::from(input.micros())
                + u128::from(output.micros());
            Cost::Micros(round_div(weighted, u128::from(BLEND_INPUT_PER_OUTPUT + 1)))
        }
        _ => Cost::Unknown,
    };
    let tiers_hit: Vec<usize> = priced
        .iter()
        .filter(|(b, ..)| b.usage.is_some())
        .map(|(.., t)| t.map_or(0, |i| i + 1))
        .collect();
    let unknown = priced.iter().filter(|(_, c, _)| c.is_none()).count();
    PriceRow {
        id: sheet.id.clone(),
        provider: sheet.provider.clone(),
        model: sheet.model.clone(),
        date: sheet.date.clone(),
        currency: sheet.currency.clone(),
        rechecked: sheet.rechecked,
        per_task,
        blended_per_million: blended,
        effective,
        job_time: job_time(sheet, summary),
        conditions: conditions(sheet, &tiers_hit, unknown),
    }
}

/// requests = ⌈JOB_TOKENS / mean tokens per successful request⌉;
/// minutes = max(requests / rpm, JOB_TOKENS / tpm).
fn job_time(sheet: &PriceSheet, summary: &Workload) -> JobTime {
    let requests = (summary.successful_tokens > 0).then(|| {
        let numerator = u128::from(JOB_TOKENS) * u128::from(summary.successes);
        let denominator = u128::from(summary.successful_tokens);
        u64::try_from(numerator.div_ceil(denominator)).unwrap_or(u64::MAX)
    });
    let Some(requests) = requests else {
        return JobTime {
            requests: None,
            minutes: JobMinutes::Unknown,
        };
    };
    // Hundredths of a minute each limit imposes.
    let bound = |limit: Limit, amount: u64| match limit {
        Limit::PerMinute(n) => Some(Some(round_div(
            u128::from(amount) * 100,
            u128::from(n.get()),
        ))),
        Limit::Unlimited => Some(None),
        Limit::Unknown => None,
    };
    let limits = sheet.limits;
    let minutes = match (bound(limits.rpm, requests), bound(limits.tpm, JOB_TOKENS)) {
        (Some(None), Some(None)) => JobMinutes::Unlimited,
        (Some(a), Some(b)) => JobMinutes::Exactly(hundredths(a.max(b).unwrap_or(0))),
        (Some(Some(a)), None) | (None, Some(Some(a))) => JobMinutes::AtLeast(hundredths(a)),
        _ => JobMinutes::Unknown,
    };
    JobTime {
        requests: Some(requests),
        minutes,
    }
}

fn hundredths(value: u128) -> String {
    format!("{}.{:02}", value / 100, value % 100)
}

fn price_text(price: Option<PerMillion>) -> String {
    price.map_or_else(|| "unknown".to_string(), |p| p.to_string())
}

fn rates_text(rates: &Rates) -> String {
    let cached = match rates.cached_input {
        super::sheet::CachedRate::AsInput => String::new(),
        _ => format!(", cache-hit input {}", price_text(rates.cached())),
    };
    format!(
        "input {}{cached}, output {}",
        price_text(rates.input),
        price_text(rates.output)
    )
}

fn limit_text(name: &str, limit: Limit) -> String {
    match limit {
        Limit::Unknown => format!("{name} not stated"),
        Limit::Unlimited => format!("{name} unlimited"),
        Limit::PerMinute(n) => format!("{name} {}", group(n.get())),
    }
}

/// `tiers_hit`: per priced request with usage, 0 for the base rates or
/// tier index + 1.
fn conditions(sheet: &PriceSheet, tiers_hit: &[usize], unknown: usize) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "{} per million tokens: {}",
        sheet.currency,
        rates_text(&sheet.per_million_tokens)
    ));
    let hits = |i: usize| tiers_hit.iter().filter(|t| **t == i).count();
    if !sheet.tiers.is_empty() {
        out.push(format!(
            "base rates below {} prompt tokens: {} of {} requests",
            group(sheet.tiers[0].min_prompt_tokens),
            hits(0),
            tiers_hit.len()
        ));
    }
    for (i, tier) in sheet.tiers.iter().enumerate() {
        out.push(format!(
            "tier from {} prompt tokens ({}): {}: {} of {} requests",
            group(tier.min_prompt_tokens),
            if tier.whole_request {
                "whole request"
            } else {
                "input above the threshold"
            },
            rates_text(&tier.rates()),
            hits(i + 1),
            tiers_hit.len()
        ));
    }
    out.push(format!(
        "limits: {}, {}",
        limit_text("RPM", sheet.limits.rpm),
        limit_text("TPM", sheet.limits.tpm)
    ));
    if let Some(quota) = sheet.free_quota_tokens {
        out.push(format!(
            "free quota: {} tokens (not deducted here)",
            group(quota)
        ));
    }
    for window in &sheet.off_peak {
        out.push(format!(
            "off-peak {}–{} {}: {}% off (not applied: the workload carries no times)",
            window.from, window.to, window.timezone, window.discount_percent
        ));
    }
    if unknown > 0 {
        out.push(format!(
            "{unknown} of {} requests need a price the sheet does not give",
            tiers_hit.len()
        ));
    }
    out.push(if sheet.rechecked {
        format!("{}; re-checked at the provider", sheet.source)
    } else {
        format!("{}; not re-checked at the provider", sheet.source)
    });
    out.push(sheet.notes.trim().to_string());
    out
}

/// `1000000` → `1,000,000`.
pub(super) fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
