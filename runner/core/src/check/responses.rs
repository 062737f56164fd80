//! The OpenAI Responses dialect: what a client assembles from a response
//! object or its typed event stream, and the usage normalised to chat's
//! names.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::output::{Choice, Output, ToolCall};
use super::stream::{Payload, payloads};
use super::{Finding, View, clip};

/// The event types that end a Responses stream, carrying the final response.
pub(super) const TERMINAL: [&str; 3] = [
    "response.completed",
    "response.incomplete",
    "response.failed",
];

/// Assembles the one choice of a response body or stream.
pub(super) fn assemble(view: &View<'_>, body: &[u8]) -> Result<Output, Finding> {
    let mut output = Output::default();
    let mut choice = Choice::default();
    let response = if view.streamed() {
        let payloads = payloads(view)?;
        let (at, response) = final_response(&payloads)?;
        failed(response, &at)?;
        assemble_stream(&payloads, &mut choice);
        response.clone()
    } else {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| Finding::fail(view.not_json(&e)))?;
        failed(&value, "the body")?;
        let Some(items) = value.get("output").and_then(Value::as_array) else {
            return Err(Finding::fail(format!(
                "the body has no output array; it starts {}",
                clip(&value.to_string(), 200)
            )));
        };
        for item in items {
            match item.get("type").and_then(Value::as_str) {
                Some("message") => choice.text.push_str(&message_text(item)),
                Some("function_call") => choice.tool_calls.push(function_call(item)),
                _ => {}
            }
        }
        value
    };
    choice.finish_reason = finish_reason(&response);
    output.model = response.get("model").cloned();
    if let Some(usage) = response.get("usage").filter(|u| !u.is_null()) {
        match normalise_usage(usage) {
            Ok(normal) => output.usage = Some(normal),
            Err(why) => output.usage_problem = Some(why),
        }
    }
    output.choices.insert(0, choice);
    Ok(output)
}

/// The last terminal event's `response`, with where it is.
pub(super) fn final_response(payloads: &[Payload]) -> Result<(String, &Value), Finding> {
    if let Some(error) = payloads.iter().find(|p| p.kind() == Some("error")) {
        return Err(Finding::fail(format!(
            "{}: the stream carries an error event: {}",
            error.at(),
            clip(&error.value.to_string(), 200)
        )));
    }
    payloads
        .iter()
        .rev()
        .find(|p| p.kind().is_some_and(|k| TERMINAL.contains(&k)))
        .map(|p| (p.at(), p.value.get("response").unwrap_or(&Value::Null)))
        .ok_or_else(|| {
            Finding::fail(format!(
                "the stream has no {} event; it ends with {} event(s) of types {}",
                TERMINAL.join(" / "),
                payloads.len(),
                kinds(payloads)
            ))
        })
}

/// The distinct event types of a stream, in order of first appearance, for reasons.
fn kinds(payloads: &[Payload]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for kind in payloads.iter().map(|p| p.kind().unwrap_or("(none)")) {
        if !seen.contains(&kind) {
            seen.push(kind);
        }
    }
    clip(&seen.join(", "), 200)
}

/// A failed response carries no output.
fn failed(response: &Value, at: &str) -> Result<(), Finding> {
    if response.get("status").and_then(Value::as_str) == Some("failed") {
        return Err(Finding::fail(format!(
            "{at}: the response failed: {}",
            clip(
                &response.get("error").unwrap_or(&Value::Null).to_string(),
                200
            )
        )));
    }
    Ok(())
}

/// `completed` when the response completed; else its incomplete reason
/// (e.g. `max_output_tokens`), else its status.
fn finish_reason(response: &Value) -> Option<String> {
    let status = response.get("status").and_then(Value::as_str)?;
    if status == "completed" {
        return Some(status.to_string());
    }
    let reason = response
        .get("incomplete_details")
        .and_then(|d| d.get("reason"))
        .and_then(Value::as_str);
    Some(reason.unwrap_or(status).to_string())
}

/// The `output_text` parts of a message item, concatenated.
fn message_text(item: &Value) -> String {
    item.get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|part| part.get("type").and_then(Value::as_str) == Some("output_text"))
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect()
}

fn function_call(item: &Value) -> ToolCall {
    let text = |field: &str| item.get(field).and_then(Value::as_str);
    ToolCall {
        id: text("call_id").map(str::to_string),
        name: text("name").unwrap_or_default().to_string(),
        arguments: text("arguments").unwrap_or_default().to_string(),
    }
}

/// Assembles a stream into `choice`: the text deltas into the text, and a
/// call per `function_call` item (by output index: the added item, its
/// argument deltas, or the done item's arguments when no delta came).
fn assemble_stream(payloads: &[Payload], choice: &mut Choice) {
    let mut calls: BTreeMap<u64, (ToolCall, bool)> = BTreeMap::new();
    for payload in payloads {
        let value = &payload.value;
        let index = value.get("output_index").and_then(Value::as_u64);
        let item = value.get("item").unwrap_or(&Value::Null);
        let is_call = item.get("type").and_then(Value::as_str) == Some("function_call");
        match (payload.kind(), index) {
            (Some("response.output_text.delta"), _) => {
                choice.text.push_str(
                    value
                        .get("delta")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                );
            }
            (Some("response.output_item.added"), Some(i)) if is_call => {
                calls.insert(i, (function_call(item), false));
            }
            (Some("response.function_call_arguments.delta"), Some(i)) => {
                if let Some((call, streamed)) = calls.get_mut(&i) {
                    if !*streamed {
                        call.arguments.clear();
                        *streamed = true;
                    }
                    call.arguments.push_str(
                        value
                            .get("delta")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    );
                }
            }
            (Some("response.output_item.done"), Some(i)) if is_call => {
                let done = function_call(item);
                let (call, streamed) = calls.entry(i).or_insert_with(|| (done.clone(), true));
                if !*streamed {
                    call.arguments = done.arguments;
                }
                if call.id.is_none() {
                    call.id = done.id;
                }
            }
            _ => {}
        }
    }
    choice.tool_calls = calls.into_values().map(|(call, _)| call).collect();
}

/// A Responses usage in chat's names.
pub(super) fn normalise_usage(usage: &Value) -> Result<Value, String> {
    let count = |path: &[&str]| {
        let value = path.iter().try_fold(usage, |v, step| v.get(step));
        value.and_then(Value::as_u64).ok_or_else(|| {
            format!(
                "usage.{} is not a non-negative integer (got {})",
                path.join("."),
                super::short(value)
            )
        })
    };
    let optional = |path: &[&str]| match path
        .iter()
        .try_fold(usage, |v, step| v.get(step))
        .filter(|v| !v.is_null())
    {
        None => Ok(0),
        Some(_) => count(path),
    };
    let input = count(&["input_tokens"])?;
    let output = count(&["output_tokens"])?;
    Ok(json!({
        "prompt_tokens": input,
        "completion_tokens": output,
        "total_tokens": input.saturating_add(output),
        "prompt_tokens_details": {"cached_tokens": optional(&["input_tokens_details", "cached_tokens"])?},
        "completion_tokens_details": {"reasoning_tokens": optional(&["output_tokens_details", "reasoning_tokens"])?},
    }))
}

/// The body's usage is present, integral, and total = input + output.
pub(super) fn usage_adds_up(value: &Value) -> Finding {
    let Some(usage) = value.get("usage").filter(|u| u.is_object()) else {
        return Finding::fail("the body has no usage object");
    };
    let normal = match normalise_usage(usage) {
        Ok(n) => n,
        Err(why) => return Finding::fail(why),
    };
    let (input, output) = (
        normal["prompt_tokens"].clone(),
        normal["completion_tokens"].clone(),
    );
    match usage.get("total_tokens").and_then(Value::as_u64) {
        Some(total) if Some(total) == normal["total_tokens"].as_u64() => Finding::pass(format!(
            "usage input_tokens {input} + output_tokens {output} = total_tokens {total}"
        )),
        Some(total) => Finding::fail(format!(
            "usage.total_tokens is {total}, but input_tokens + output_tokens = {input} + {output}"
        )),
        None => Finding::fail(format!(
            "usage.total_tokens is not a non-negative integer (got {})",
            super::short(usage.get("total_tokens"))
        )),
    }
}
