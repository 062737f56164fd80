//! Checks that request parameters were honoured: finish reasons, token
//! limits, choices, stop sequences, reproducibility, log probabilities and
//! the model echoed back.

use serde_json::Value;

use super::output::{self, Output, assemble, with_output};
use super::stream::payloads;
use super::{Finding, View, clip};
use crate::judge::Context;
use crate::suite::Dialect;

/// Every choice's finish reason is `expected`. A choice cut off by the
/// completion limit, where the usage shows the limit was reached, cannot
/// show whether it would have ended otherwise: that is an error (nothing to
/// judge), not a failure, since a model that rambles is no fault of the
/// service that stops it where it was asked to.
pub fn finish_reason(view: &View<'_>, expected: &str) -> Finding {
    with_output(view, |output| {
        for (index, choice) in &output.choices {
            let actual = choice.finish_reason.as_deref();
            if actual == Some(expected) {
                continue;
            }
            let shown = actual.map_or_else(|| "null".to_string(), |r| format!("{r:?}"));
            if let Some(reached) = limit_reached(view, output, actual, expected) {
                return Finding::error(format!(
                    "choice {index} has finish_reason {shown}: it {reached} without ending, so \
                     whether it would end with {expected:?} cannot be judged (the model's \
                     length, not the service)"
                ));
            }
            return Finding::fail(format!(
                "choice {index} has finish_reason {shown}, expected {expected:?}"
            ));
        }
        Finding::pass(format!(
            "{} choice(s) finish with {expected:?}",
            output.choices.len()
        ))
    })
}

/// The finish reasons that say a choice was cut off by the completion limit.
pub(super) const LIMIT_REASONS: [&str; 3] = ["length", "max_tokens", "max_output_tokens"];

/// How the completion limit was reached, when a choice that was expected
/// to end otherwise says the limit cut it and the usage bears that out
/// (every choice so cut used the whole limit); None otherwise.
fn limit_reached(
    view: &View<'_>,
    output: &Output,
    actual: Option<&str>,
    expected: &str,
) -> Option<String> {
    let cut = |reason: Option<&str>| reason.is_some_and(|r| LIMIT_REASONS.contains(&r));
    if !cut(actual) || cut(Some(expected)) {
        return None;
    }
    let limit = completion_limit(view).ok()?;
    let billed = output.usage.as_ref()?.get("completion_tokens")?.as_u64()?;
    let cut_choices = output
        .choices
        .values()
        .filter(|c| cut(c.finish_reason.as_deref()))
        .count() as u64;
    (billed >= limit.saturating_mul(cut_choices)).then(|| {
        format!("generated up to the limit of {limit} tokens (completion tokens billed: {billed})")
    })
}

/// The request's `n`, 1 when absent.
pub(super) fn requested_n(view: &View<'_>) -> Result<u64, Finding> {
    match view.request_field("n") {
        None => Ok(1),
        Some(n) => n
            .as_u64()
            .ok_or_else(|| Finding::error(format!("the request's n is not a count: {n}"))),
    }
}

/// The request's completion limit: for chat the smaller of `max_tokens`
/// and `max_completion_tokens`; Anthropic Messages' `max_tokens`; OpenAI
/// Responses' `max_output_tokens`.
pub(super) fn completion_limit(view: &View<'_>) -> Result<u64, Finding> {
    let (fields, missing): (&[&str], &str) = match Dialect::of_url(&view.exchange.url) {
        Dialect::OpenaiChat => (
            &["max_tokens", "max_completion_tokens"],
            "the request sets no max_tokens or max_completion_tokens",
        ),
        Dialect::AnthropicMessages => (&["max_tokens"], "the request sets no max_tokens"),
        Dialect::OpenaiResponses => (
            &["max_output_tokens"],
            "the request sets no max_output_tokens",
        ),
    };
    fields
        .iter()
        .filter_map(|f| view.request_field(f).and_then(Value::as_u64))
        .min()
        .ok_or_else(|| Finding::error(missing))
}

/// No choice delivers more tokens than the request's limit: neither by a
/// recount of its text with the declared tokenizer (within tolerance) nor
/// by its count of log-probability entries.
pub fn max_tokens_honoured(view: &View<'_>, context: &Context) -> Finding {
    let limit = match completion_limit(view) {
        Ok(limit) => limit,
        Err(f) => return f,
    };
    let tolerance = context.plan.accounting.tolerance;
    with_output(view, |output| {
        let mut most = 0;
        for (index, choice) in &output.choices {
            let entries = choice.logprobs.as_ref().map_or(0, Vec::len) as u64;
            if entries > limit {
                return Finding::fail(format!(
                    "choice {index} carries {entries} tokens' log probabilities, over the limit of {limit}"
                ));
            }
            let delivered = match super::recount(context, &choice.text) {
                Ok(n) => n,
                Err(f) => return f,
            };
            if delivered > limit + tolerance.allowed(limit) {
                return Finding::fail(format!(
                    "choice {index} delivers {delivered} tokens ({}), over the limit of {limit}",
                    context.tokenizer.name()
                ));
            }
            most = most.max(delivered);
        }
        Finding::pass(format!(
            "every choice delivers at most {most} tokens ({}), within the limit of {limit}",
            context.tokenizer.name()
        ))
    })
}

/// As many choices as the request's `n`.
pub fn choice_count(view: &View<'_>) -> Finding {
    let n = match requested_n(view) {
        Ok(n) => n,
        Err(f) => return f,
    };
    with_output(view, |output| {
        let got = output.choices.len() as u64;
        if got == n {
            Finding::pass(format!("{got} choice(s), as requested"))
        } else {
            Finding::fail(format!(
                "the request asks for n = {n}, the response has {got} choice(s)"
            ))
        }
    })
}

/// Choice indices are exactly `0..k`, each once (in any order) in a body;
/// a stream's chunks together carry exactly the indices `0..k`.
pub fn choice_indices(view: &View<'_>) -> Finding {
    if let Err(f) = assemble(view) {
        return f;
    }
    let index = |c: &Value| c.get("index").cloned().unwrap_or(Value::Null);
    let (indices, what) = if view.streamed() {
        let payloads = match payloads(view) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let mut distinct: Vec<Value> = Vec::new();
        for value in payloads
            .iter()
            .flat_map(|p| output::choices(&p.value))
            .map(index)
        {
            if !distinct.contains(&value) {
                distinct.push(value);
            }
        }
        (distinct, "the chunks carry")
    } else {
        let body: Value = serde_json::from_slice(&view.body).unwrap_or_default();
        (
            output::choices(&body).map(index).collect(),
            "the choices carry",
        )
    };
    let mut sorted: Vec<Option<u64>> = indices.iter().map(Value::as_u64).collect();
    sorted.sort_unstable();
    if (0u64..).zip(&sorted).any(|(i, index)| *index != Some(i)) {
        let shown: Vec<String> = indices.iter().map(Value::to_string).collect();
        return Finding::fail(format!(
            "{what} indices {}, expected each of 0..{} once",
            shown.join(", "),
            indices.len()
        ));
    }
    Finding::pass(format!("choice indices are 0..{}", indices.len()))
}

/// No choice's text contains one of the request's stop sequences.
pub fn stop_honoured(view: &View<'_>) -> Finding {
    let field = match Dialect::of_url(&view.exchange.url) {
        Dialect::AnthropicMessages => "stop_sequences",
        Dialect::OpenaiChat | Dialect::OpenaiResponses => "stop",
    };
    let stops: Vec<&str> = match view.request_field(field) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if stops.is_empty() {
        return Finding::error("the request sets no stop sequence");
    }
    with_output(view, |output| {
        for (index, choice) in &output.choices {
            if let Some(stop) = stops.iter().find(|s| choice.text.contains(**s)) {
                return Finding::fail(format!(
                    "choice {index} contains the stop sequence {stop:?}: {:?}",
                    clip(&choice.text, 160)
                ));
            }
        }
        Finding::pass(format!(
            "no choice contains any of {} stop sequence(s)",
            stops.len()
        ))
    })
}

/// One choice as compared: index, text, finish reason, and tool calls by
/// name and parsed arguments.
type Comparable<'a> = (u64, &'a str, Option<&'a str>, Vec<(&'a str, Value)>);

/// What two outputs must share to count as the same: per choice the
/// text, the finish reason, and the tool calls by name and parsed arguments.
fn comparable(output: &Output) -> Vec<Comparable<'_>> {
    output
        .choices
        .iter()
        .map(|(index, c)| {
            let calls = c
                .tool_calls
                .iter()
                .map(|t| {
                    let args = serde_json::from_str(&t.arguments)
                        .unwrap_or_else(|_| Value::String(t.arguments.clone()));
                    (t.name.as_str(), args)
                })
                .collect();
            (*index, c.text.as_str(), c.finish_reason.as_deref(), calls)
        })
        .collect()
}

/// The output equals that of every earlier exchange of the case.
pub fn same_output_as_before(view: &View<'_>) -> Finding {
    if view.before.is_empty() {
        return Finding::error("the case sends no earlier request to compare with");
    }
    with_output(view, |output| {
        let this = comparable(output);
        for (i, earlier) in view.before.iter().enumerate() {
            let earlier = match assemble(earlier) {
                Ok(o) => o,
                Err(f) => {
                    return Finding::error(format!(
                        "earlier request {i} gave no output to compare: {}",
                        f.reason
                    ));
                }
            };
            let that = comparable(&earlier);
            if this != that {
                let differs = this.iter().zip(&that).find(|(a, b)| a != b).map_or_else(
                    || format!("{} choice(s) now, {} before", this.len(), that.len()),
                    |(a, b)| {
                        format!(
                            "choice {}: now {:?} ({:?}), before {:?} ({:?})",
                            a.0,
                            clip(a.1, 120),
                            a.2,
                            clip(b.1, 120),
                            b.2
                        )
                    },
                );
                let calls = if this.iter().zip(&that).any(|(a, b)| a.3 != b.3) {
                    " (tool calls differ)"
                } else {
                    ""
                };
                return Finding::fail(format!(
                    "the output differs from earlier request {i}: {differs}{calls}"
                ));
            }
        }
        Finding::pass(format!(
            "the output equals that of {} earlier request(s)",
            view.before.len()
        ))
    })
}

/// One log-probability entry: a token, a log probability ≤ 0 and bytes.
fn entry_problem(entry: &Value) -> Option<String> {
    if !entry.get("token").is_some_and(Value::is_string) {
        return Some("has no string token".into());
    }
    match entry.get("logprob").and_then(Value::as_f64) {
        Some(lp) if lp <= 0.0 => {}
        Some(lp) => return Some(format!("has logprob {lp} > 0")),
        None => return Some("has no numeric logprob".into()),
    }
    match entry.get("bytes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(bytes)) if bytes.iter().all(|b| b.as_u64().is_some_and(|b| b < 256)) => {
            None
        }
        Some(other) => Some(format!(
            "has bytes {} that are not byte values",
            clip(&other.to_string(), 60)
        )),
    }
}

/// Every choice has `logprobs.content` entries, each well-formed with
/// exactly the requested number of alternatives. (Whether usage agrees
/// with the tokens delivered is an accounting question: see
/// `completion_tokens_recount`.)
pub fn logprobs_valid(view: &View<'_>) -> Finding {
    let top = match view.request_field("top_logprobs") {
        None => 0,
        Some(v) => match v.as_u64() {
            Some(k) => k,
            None => {
                return Finding::error(format!("the request's top_logprobs is not a count: {v}"));
            }
        },
    };
    with_output(view, |output| {
        for (index, choice) in &output.choices {
            let Some(entries) = &choice.logprobs else {
                return Finding::fail(format!("choice {index} has no logprobs.content"));
            };
            if entries.is_empty() && !choice.text.is_empty() {
                return Finding::fail(format!("choice {index} has text but no logprobs entries"));
            }
            for (i, entry) in entries.iter().enumerate() {
                if let Some(why) = entry_problem(entry) {
                    return Finding::fail(format!("choice {index} logprobs entry {i} {why}"));
                }
                let alternatives = entry.get("top_logprobs").and_then(Value::as_array);
                let Some(alternatives) = alternatives else {
                    return Finding::fail(format!(
                        "choice {index} logprobs entry {i} has no top_logprobs array"
                    ));
                };
                if alternatives.len() as u64 != top {
                    return Finding::fail(format!(
                        "choice {index} logprobs entry {i} has {} top_logprobs, the request asks for {top}",
                        alternatives.len()
                    ));
                }
                if let Some((j, why)) = alternatives
                    .iter()
                    .enumerate()
                    .find_map(|(j, a)| entry_problem(a).map(|w| (j, w)))
                {
                    return Finding::fail(format!(
                        "choice {index} logprobs entry {i} alternative {j} {why}"
                    ));
                }
            }
        }
        Finding::pass(format!(
            "logprobs of {} choice(s) well-formed with {top} alternatives each",
            output.choices.len()
        ))
    })
}

/// The response's `model` is the requested one, or a dated variant of it
/// (`<model>-...`).
pub fn model_matches_request(view: &View<'_>) -> Finding {
    let Some(requested) = view.request_field("model").and_then(Value::as_str) else {
        return Finding::error("the request names no model");
    };
    with_output(view, |output| {
        match output.model.as_ref().and_then(Value::as_str) {
            Some(model) if model == requested || model.starts_with(&format!("{requested}-")) => {
                Finding::pass(format!("the response names model {model:?}"))
            }
            Some(model) => Finding::fail(format!(
                "the request asks for model {requested:?}, the response names {model:?}"
            )),
            None => Finding::fail("the response names no model"),
        }
    })
}
