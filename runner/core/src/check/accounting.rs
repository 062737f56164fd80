//! Token accounting: reported usage against a recount of what was sent and
//! delivered, against the request's limit, across streamed and
//! non-streamed answers, and the disclosure of hidden and cached tokens.

use serde_json::Value;

use super::output::{Output, assemble, try_with_output, with_output};
use super::params::{completion_limit, requested_n};
use super::{Finding, View, recount, short};
use crate::evidence::Exchange;
use crate::judge::Context;
use crate::price::TokenUsage;
use crate::suite::{Accounting, Dialect, Kept};
use crate::tokens::Tokenizer;

/// The value at `usage.<path>`, if any.
fn at<'v>(usage: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(usage, |v, step| v.get(step))
}

/// A count in the usage object: `usage.<path>` as a non-negative integer.
fn count(usage: &Value, path: &[&str]) -> Result<u64, Finding> {
    let value = at(usage, path);
    value.and_then(Value::as_u64).ok_or_else(|| {
        Finding::fail(format!(
            "usage.{} is not a non-negative integer (got {})",
            path.join("."),
            short(value)
        ))
    })
}

/// A count that may be absent or null (0 then), but if present must be an integer.
fn optional_count(usage: &Value, path: &[&str]) -> Result<u64, Finding> {
    match at(usage, path).filter(|v| !v.is_null()) {
        None => Ok(0),
        Some(_) => count(usage, path),
    }
}

/// The token counts a successful exchange reports (from its body or its
/// stream's usage chunk), for pricing; `None` when it reports none.
pub fn billed_usage(exchange: &Exchange) -> Option<TokenUsage> {
    reported_usage(&assemble(&View::single(exchange)).ok()?)
}

/// A priced exchange, assembled once: its [`billed_usage`], and its prompt
/// and delivered text counted with `normaliser` (and OpenAI's chat
/// overhead). The count is `None` when the exchange delivered no usable
/// answer, carries tool calls, or holds text that cannot be counted.
pub fn priced(exchange: &Exchange, normaliser: &Tokenizer) -> (Option<TokenUsage>, Option<u64>) {
    let view = View::single(exchange);
    let Ok(output) = assemble(&view) else {
        return (None, None);
    };
    (
        reported_usage(&output),
        normalised_tokens(&view, &output, normaliser),
    )
}

fn reported_usage(output: &Output) -> Option<TokenUsage> {
    let usage = output.usage.as_ref()?;
    Some(TokenUsage {
        prompt: count(usage, &["prompt_tokens"]).ok()?,
        cached: optional_count(usage, &["prompt_tokens_details", "cached_tokens"]).unwrap_or(0),
        completion: count(usage, &["completion_tokens"]).ok()?,
        reasoning: optional_count(usage, &["completion_tokens_details", "reasoning_tokens"])
            .unwrap_or(0),
    })
}

fn normalised_tokens(view: &View<'_>, output: &Output, normaliser: &Tokenizer) -> Option<u64> {
    let mut total = prompt_tokens_of(
        output.dialect,
        view.request.as_ref()?,
        normaliser,
        &Accounting::openai_o200k(),
    )
    .ok()?;
    for choice in output.choices.values() {
        if !choice.tool_calls.is_empty() {
            return None;
        }
        total += normaliser.count(&choice.text).ok()? as u64;
    }
    Some(total)
}

/// Passes with `said` when `reported` is within tolerance of `recount`.
fn within_tolerance(
    context: &Context,
    reported: u64,
    recount: u64,
    said: String,
) -> Result<Finding, Finding> {
    let tolerance = context.plan.accounting.tolerance;
    if tolerance.accepts(reported, recount) {
        Ok(Finding::pass(said))
    } else {
        Err(Finding::fail(format!(
            "{said}, off by more than the {} allowed",
            tolerance.allowed(recount)
        )))
    }
}

fn usage_of(output: &Output) -> Result<&Value, Finding> {
    match (&output.usage, &output.usage_problem) {
        (Some(usage), _) => Ok(usage),
        (None, Some(why)) => Err(Finding::fail(why.clone())),
        (None, None) => Err(Finding::fail("the response reports no usage")),
    }
}

/// The delivered output recounted: the sum over choices of their text's
/// tokens. Tool calls are not recounted (their serialisation is the
/// target's own), so their presence is an error.
fn delivered_tokens(output: &Output, context: &Context) -> Result<u64, Finding> {
    let mut total = 0u64;
    for (index, choice) in &output.choices {
        if !choice.tool_calls.is_empty() {
            return Err(Finding::error(format!(
                "choice {index} calls tools; tool calls are not recounted"
            )));
        }
        total += recount(context, &choice.text)?;
    }
    Ok(total)
}

/// `usage.completion_tokens` less disclosed reasoning tokens equals the
/// recount of the delivered text, within tolerance.
pub fn completion_tokens_recount(view: &View<'_>, context: &Context) -> Finding {
    try_with_output(view, |output| {
        let usage = usage_of(output)?;
        let completion = count(usage, &["completion_tokens"])?;
        let reasoning = optional_count(usage, &["completion_tokens_details", "reasoning_tokens"])?;
        let delivered = delivered_tokens(output, context)?;
        let Some(visible) = completion.checked_sub(reasoning) else {
            return Err(Finding::fail(format!(
                "usage.completion_tokens_details.reasoning_tokens {reasoning} exceeds completion_tokens {completion}"
            )));
        };
        let said = format!(
            "{} {completion} − reasoning_tokens {reasoning} = {visible}; the delivered text recounts to {delivered} ({})",
            usage_name(output.dialect, "completion_tokens"),
            context.tokenizer.name()
        );
        within_tolerance(context, visible, delivered, said)
    })
}

/// Text parts of a message's `content`: a string, or an array of parts
/// of which only `text` parts are counted (others are an error).
fn content_texts(content: &Value) -> Result<Vec<&str>, String> {
    match content {
        Value::Null => Ok(vec![]),
        Value::String(text) => Ok(vec![text]),
        Value::Array(parts) => parts
            .iter()
            .map(|part| match (part.get("type"), part.get("text")) {
                (Some(Value::String(t)), Some(Value::String(text))) if t == "text" => {
                    Ok(text.as_str())
                }
                _ => Err(format!(
                    "a content part that is not text: {}",
                    short(Some(part))
                )),
            })
            .collect(),
        other => Err(format!(
            "content is neither text nor parts: {}",
            short(Some(other))
        )),
    }
}

/// The prompt recounted: for chat, every message's role, content and name
/// plus the declared template overhead; for legacy completions, the prompt.
fn prompt_recount(view: &View<'_>, context: &Context) -> Result<u64, Finding> {
    let empty = serde_json::Map::new();
    prompt_tokens_of(
        Dialect::of_url(&view.exchange.url),
        view.request.as_ref().unwrap_or(&empty),
        &context.tokenizer,
        &context.plan.accounting,
    )
    .map_err(Finding::error)
}

/// The prompt tokens of a request body of `dialect` under `tokenizer`: its
/// prompt as chat messages ([`super::prompt::as_chat`]) counted as
/// [`prompt_tokens`] counts a chat request's.
pub(crate) fn prompt_tokens_of(
    dialect: Dialect,
    request: &serde_json::Map<String, Value>,
    tokenizer: &Tokenizer,
    accounting: &Accounting,
) -> Result<u64, String> {
    prompt_tokens(
        &super::prompt::as_chat(dialect, request)?,
        tokenizer,
        accounting,
    )
}

/// The prompt tokens of a request body under `tokenizer`: for chat, every
/// message's role, content and name plus the declared chat overhead; for
/// legacy completions, each prompt plus the declared legacy overhead. (The
/// tokenizer `accounting` declares is not looked at: `tokenizer` is used.)
/// The error says what cannot be counted.
pub(crate) fn prompt_tokens(
    request: &serde_json::Map<String, Value>,
    tokenizer: &Tokenizer,
    accounting: &Accounting,
) -> Result<u64, String> {
    let overhead = accounting.chat_overhead;
    let legacy = accounting.legacy_prompt_overhead;
    let tokens = |text: &str| {
        tokenizer
            .count(text)
            .map(|n| n as u64)
            .map_err(|e| e.to_string())
    };
    let field = |name| request.get(name).filter(|v: &&Value| !v.is_null());
    if let Some(messages) = field("messages") {
        let Some(messages) = messages.as_array() else {
            return Err("the request's messages is not an array".into());
        };
        let mut total = overhead.reply;
        for (i, message) in messages.iter().enumerate() {
            if message.get("tool_calls").is_some() {
                return Err(format!(
                    "message {i} carries tool calls, which are not recounted"
                ));
            }
            let role = message
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if role == "system" && overhead.system == Kept::Dropped {
                continue;
            }
            total += overhead.per_message;
            total += tokens(role)?;
            let content = message.get("content").unwrap_or(&Value::Null);
            for text in content_texts(content).map_err(|why| format!("message {i}: {why}"))? {
                total += tokens(text)?;
            }
            if let Some(name) = message.get("name").and_then(Value::as_str)
                && overhead.names == Kept::Counted
            {
                total += overhead.per_name + tokens(name)?;
            }
        }
        Ok(total)
    } else if let Some(prompt) = field("prompt") {
        match prompt {
            Value::String(text) => Ok(tokens(text)? + legacy),
            Value::Array(items) => items
                .iter()
                .map(|item| match item.as_str() {
                    Some(text) => Ok(tokens(text)? + legacy),
                    None => Err("the prompt array holds something other than text".into()),
                })
                .sum(),
            _ => Err("the request's prompt is not text".into()),
        }
    } else {
        Err("the request has neither messages nor a prompt to recount".into())
    }
}

/// `usage.prompt_tokens` equals the recount of the prompt, within tolerance.
pub fn prompt_tokens_recount(view: &View<'_>, context: &Context) -> Finding {
    try_with_output(view, |output| {
        let reported = count(usage_of(output)?, &["prompt_tokens"])?;
        let recount = prompt_recount(view, context)?;
        let said = format!(
            "{} is {reported}; the prompt recounts to {recount} ({}, template overhead included)",
            usage_name(output.dialect, "prompt_tokens"),
            context.tokenizer.name()
        );
        within_tolerance(context, reported, recount, said)
    })
}

/// `usage.completion_tokens` is at most the limit times the choices.
pub fn completion_tokens_within_limit(view: &View<'_>) -> Finding {
    let limit = match completion_limit(view).and_then(|l| Ok((l, requested_n(view)?))) {
        Ok(limit) => limit,
        Err(f) => return f,
    };
    let (limit, n) = limit;
    with_output(view, |output| {
        let completion = match usage_of(output).and_then(|u| count(u, &["completion_tokens"])) {
            Ok(c) => c,
            Err(f) => return f,
        };
        let allowed = limit.saturating_mul(n);
        if completion > allowed {
            Finding::fail(format!(
                "{} is {completion}, over the limit of {limit} per choice × {n} choice(s)",
                usage_name(output.dialect, "completion_tokens")
            ))
        } else {
            Finding::pass(format!(
                "{} {completion} ≤ {allowed} ({limit} × {n})",
                usage_name(output.dialect, "completion_tokens")
            ))
        }
    })
}

/// What a usage object says relative to what its exchange delivered:
/// prompt tokens, reasoning tokens, and how far the remaining completion
/// tokens are from the recount of the delivered text.
struct Accounted {
    prompt: u64,
    reasoning: u64,
    offset: i128,
    delivered: u64,
}

fn accounted(output: &Output, context: &Context) -> Result<Accounted, Finding> {
    let usage = usage_of(output)?;
    let completion = count(usage, &["completion_tokens"])?;
    let reasoning = optional_count(usage, &["completion_tokens_details", "reasoning_tokens"])?;
    let delivered = delivered_tokens(output, context)?;
    Ok(Accounted {
        prompt: count(usage, &["prompt_tokens"])?,
        reasoning,
        offset: i128::from(completion) - i128::from(reasoning) - i128::from(delivered),
        delivered,
    })
}

/// The usage agrees with that of the single `before` exchange, relative to
/// what each delivered: the same prompt and reasoning tokens, and the same
/// difference between billed and recounted completion tokens. (Comparing
/// offsets, not counts, keeps the check sound when the two answers differ.)
/// A stream without usage has nothing to compare: TS-ACC-STREAM-USAGE
/// judges that.
pub fn usage_matches_before(view: &View<'_>, context: &Context) -> Finding {
    let [earlier] = view.before.as_slice() else {
        return Finding::error("the case must send exactly one earlier request to compare with");
    };
    let then = match assemble(earlier).and_then(|o| accounted(&o, context)) {
        Ok(a) => a,
        Err(f) => {
            return Finding::error(format!(
                "the earlier request gives no usage to compare with: {}",
                f.reason
            ));
        }
    };
    with_output(view, |output| {
        if output.usage.is_none() {
            return Finding::pass("this response reports no usage; nothing to compare");
        }
        let now = match accounted(output, context) {
            Ok(a) => a,
            Err(f) => return f,
        };
        let mut differing = Vec::new();
        if now.prompt != then.prompt {
            differing.push(format!(
                "prompt_tokens {} here, {} before",
                now.prompt, then.prompt
            ));
        }
        if now.reasoning != then.reasoning {
            differing.push(format!(
                "reasoning_tokens {} here, {} before",
                now.reasoning, then.reasoning
            ));
        }
        if now.offset != then.offset {
            differing.push(format!(
                "completion tokens billed beyond the recount of the delivered text: {:+} here (of {} delivered), {:+} before (of {})",
                now.offset, now.delivered, then.offset, then.delivered
            ));
        }
        if differing.is_empty() {
            Finding::pass(format!(
                "the same accounting both times: prompt {}, reasoning {}, completion {:+} against the recount",
                now.prompt, now.reasoning, now.offset
            ))
        } else {
            Finding::fail(format!("usage differs: {}", differing.join("; ")))
        }
    })
}

/// Tokens billed beyond the delivered text are disclosed as reasoning
/// tokens: completion − reasoning ≤ recount + tolerance.
pub fn reasoning_tokens_disclosed(view: &View<'_>, context: &Context) -> Finding {
    try_with_output(view, |output| {
        let usage = usage_of(output)?;
        let completion = count(usage, &["completion_tokens"])?;
        let reasoning = optional_count(usage, &["completion_tokens_details", "reasoning_tokens"])?;
        let delivered = delivered_tokens(output, context)?;
        let tolerance = context.plan.accounting.tolerance;
        let undisclosed = completion
            .saturating_sub(reasoning)
            .saturating_sub(delivered);
        if reasoning > completion {
            Err(Finding::fail(format!(
                "reasoning_tokens {reasoning} exceeds completion_tokens {completion}"
            )))
        } else if undisclosed > tolerance.allowed(delivered) {
            Err(Finding::fail(format!(
                "{undisclosed} of {completion} billed completion tokens are neither delivered (the text recounts to {delivered}, {}) nor disclosed as reasoning ({reasoning})",
                context.tokenizer.name()
            )))
        } else {
            Ok(Finding::pass(format!(
                "completion_tokens {completion} = {reasoning} reasoning + the delivered {delivered}{}",
                if undisclosed > 0 {
                    format!(" + {undisclosed} within tolerance")
                } else {
                    String::new()
                }
            )))
        }
    })
}

/// `usage.prompt_tokens_details.cached_tokens` is positive and at most
/// `prompt_tokens`, after an earlier request sent the same prefix.
pub fn cached_tokens_reported(view: &View<'_>) -> Finding {
    let Some(earlier) = view.before.last() else {
        return Finding::error("the case sends no earlier request to fill the cache");
    };
    if let Err(f) = assemble(earlier) {
        return Finding::error(format!("the earlier request was not served: {}", f.reason));
    }
    try_with_output(view, |output| {
        let usage = usage_of(output)?;
        let prompt = count(usage, &["prompt_tokens"])?;
        let cached = optional_count(usage, &["prompt_tokens_details", "cached_tokens"])?;
        if cached == 0 {
            Err(Finding::fail(match output.dialect {
                Dialect::OpenaiChat => format!(
                    "no cached tokens reported for a repeated prefix (prompt_tokens {prompt}, prompt_tokens_details {})",
                    short(usage.get("prompt_tokens_details"))
                ),
                dialect => format!(
                    "no cached tokens reported for a repeated prefix ({} {prompt}, {} 0 or absent)",
                    usage_name(dialect, "prompt_tokens"),
                    usage_name(dialect, "cached_tokens")
                ),
            }))
        } else if cached > prompt {
            Err(Finding::fail(format!(
                "cached_tokens {cached} exceed prompt_tokens {prompt}"
            )))
        } else {
            Ok(Finding::pass(format!(
                "{cached} of {prompt} prompt tokens reported as cached"
            )))
        }
    })
}

/// How the dialect names a normalised usage field in its own usage object.
fn usage_name(dialect: Dialect, field: &str) -> &'static str {
    match (dialect, field) {
        (Dialect::AnthropicMessages, "prompt_tokens") => {
            "usage.input_tokens + cache_read_input_tokens + cache_creation_input_tokens"
        }
        (Dialect::AnthropicMessages, "completion_tokens") => "usage.output_tokens",
        (Dialect::AnthropicMessages, "cached_tokens") => "usage.cache_read_input_tokens",
        (Dialect::OpenaiResponses, "prompt_tokens") => "usage.input_tokens",
        (Dialect::OpenaiResponses, "completion_tokens") => "usage.output_tokens",
        (Dialect::OpenaiResponses, "cached_tokens") => "usage.input_tokens_details.cached_tokens",
        (_, "prompt_tokens") => "usage.prompt_tokens",
        (_, "completion_tokens") => "usage.completion_tokens",
        (_, "cached_tokens") => "usage.prompt_tokens_details.cached_tokens",
        _ => "usage",
    }
}
