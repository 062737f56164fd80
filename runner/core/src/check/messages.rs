//! The Anthropic Messages dialect: what a client assembles from a message
//! body or its named-event stream, and the usage normalised to chat's
//! names (prompt = input + cache read + cache creation tokens).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::output::{Choice, Output, ToolCall};
use super::stream::{Payload, payloads};
use super::{Finding, View, clip};

/// Assembles the one choice of a message body or stream.
pub(super) fn assemble(view: &View<'_>, body: &[u8]) -> Result<Output, Finding> {
    let mut output = Output::default();
    let mut choice = Choice::default();
    let usage = if view.streamed() {
        let payloads = payloads(view)?;
        let (model, usage) = assemble_stream(&payloads, &mut choice)?;
        output.model = model;
        usage
    } else {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| Finding::fail(view.not_json(&e)))?;
        let Some(content) = value.get("content").and_then(Value::as_array) else {
            return Err(Finding::fail(format!(
                "the body has no content array; it starts {}",
                clip(&value.to_string(), 200)
            )));
        };
        for block in content {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => choice.text.push_str(text_of(block, "text")),
                Some("tool_use") => choice.tool_calls.push(ToolCall {
                    id: block.get("id").and_then(Value::as_str).map(str::to_string),
                    name: text_of(block, "name").to_string(),
                    arguments: block.get("input").map(Value::to_string).unwrap_or_default(),
                }),
                _ => {}
            }
        }
        choice.finish_reason = stop_reason(&value);
        output.model = value.get("model").cloned();
        value.get("usage").filter(|u| !u.is_null()).cloned()
    };
    if let Some(usage) = usage {
        match normalise_usage(&usage) {
            Ok(normal) => output.usage = Some(normal),
            Err(why) => output.usage_problem = Some(why),
        }
    }
    output.choices.insert(0, choice);
    Ok(output)
}

fn text_of<'v>(value: &'v Value, field: &str) -> &'v str {
    value.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn stop_reason(value: &Value) -> Option<String> {
    value
        .get("stop_reason")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Assembles a stream into `choice`: text deltas into the text, each
/// tool_use block into a call (its `input_json_delta`s concatenated), the
/// stop reason of `message_delta`. Returns the model and the usage
/// (`message_start`'s, with each later `message_delta`'s fields over it).
fn assemble_stream(
    payloads: &[Payload],
    choice: &mut Choice,
) -> Result<(Option<Value>, Option<Value>), Finding> {
    let mut model = None;
    let mut usage: Option<serde_json::Map<String, Value>> = None;
    // Block index → (position among the tool calls, the start's input).
    let mut tools: BTreeMap<u64, (usize, Option<Value>)> = BTreeMap::new();
    let mut started = false;
    for payload in payloads {
        let value = &payload.value;
        match payload.kind() {
            Some("message_start") => {
                started = true;
                let message = value.get("message");
                model = message.and_then(|m| m.get("model")).cloned();
                merge_usage(&mut usage, message.and_then(|m| m.get("usage")));
            }
            Some("content_block_start") => {
                let block = value.get("content_block").unwrap_or(&Value::Null);
                let index = value.get("index").and_then(Value::as_u64);
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => choice.text.push_str(text_of(block, "text")),
                    Some("tool_use") => {
                        if let Some(index) = index {
                            tools.insert(
                                index,
                                (choice.tool_calls.len(), block.get("input").cloned()),
                            );
                        }
                        choice.tool_calls.push(ToolCall {
                            id: block.get("id").and_then(Value::as_str).map(str::to_string),
                            name: text_of(block, "name").to_string(),
                            arguments: String::new(),
                        });
                    }
                    _ => {}
                }
            }
            Some("content_block_delta") => {
                let delta = value.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => choice.text.push_str(text_of(delta, "text")),
                    Some("input_json_delta") => {
                        let slot = value
                            .get("index")
                            .and_then(Value::as_u64)
                            .and_then(|i| tools.get(&i))
                            .and_then(|(position, _)| choice.tool_calls.get_mut(*position));
                        if let Some(call) = slot {
                            call.arguments.push_str(text_of(delta, "partial_json"));
                        }
                    }
                    _ => {}
                }
            }
            Some("message_delta") => {
                if let Some(reason) = value.get("delta").and_then(stop_reason) {
                    choice.finish_reason = Some(reason);
                }
                merge_usage(&mut usage, value.get("usage"));
            }
            Some("error") => {
                return Err(Finding::fail(format!(
                    "{}: the stream ends in an error event: {}",
                    payload.at(),
                    clip(&value.to_string(), 200)
                )));
            }
            _ => {}
        }
    }
    if !started {
        return Err(Finding::fail("the stream has no message_start event"));
    }
    // A call streamed without input deltas has the input its start gave.
    for (position, input) in tools.values() {
        if let Some(call) = choice.tool_calls.get_mut(*position)
            && call.arguments.is_empty()
        {
            call.arguments = input.as_ref().map(Value::to_string).unwrap_or_default();
        }
    }
    Ok((model, usage.map(Value::Object)))
}

/// Lays the fields of `more` (a usage object) over `usage`.
fn merge_usage(usage: &mut Option<serde_json::Map<String, Value>>, more: Option<&Value>) {
    if let Some(Value::Object(fields)) = more {
        let into = usage.get_or_insert_with(serde_json::Map::new);
        for (name, value) in fields {
            into.insert(name.clone(), value.clone());
        }
    }
}

/// A Messages usage in chat's names: prompt = input + cache read + cache
/// creation tokens, completion = output tokens, cached = cache read tokens.
pub(super) fn normalise_usage(usage: &Value) -> Result<Value, String> {
    let required = |name: &str| {
        usage.get(name).and_then(Value::as_u64).ok_or_else(|| {
            format!(
                "usage.{name} is not a non-negative integer (got {})",
                super::short(usage.get(name))
            )
        })
    };
    let optional = |name: &str| match usage.get(name).filter(|v| !v.is_null()) {
        None => Ok(0),
        Some(_) => required(name),
    };
    let input = required("input_tokens")?;
    let output = required("output_tokens")?;
    let read = optional("cache_read_input_tokens")?;
    let creation = optional("cache_creation_input_tokens")?;
    let prompt = input
        .checked_add(read)
        .and_then(|p| p.checked_add(creation))
        .ok_or("usage input and cache token counts overflow")?;
    let total = prompt
        .checked_add(output)
        .ok_or("usage token counts overflow")?;
    Ok(json!({
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": read},
    }))
}

/// The body's usage is present with integer input and output tokens, and
/// cache token counts that are integers (or null) when present.
pub(super) fn usage_adds_up(value: &Value) -> Finding {
    let Some(usage) = value.get("usage").filter(|u| u.is_object()) else {
        return Finding::fail("the body has no usage object");
    };
    match normalise_usage(usage) {
        Ok(normal) => Finding::pass(format!(
            "usage input_tokens {} + cache_read_input_tokens {} + cache_creation_input_tokens {} = {} prompt tokens; output_tokens {}",
            usage.get("input_tokens").unwrap_or(&Value::Null),
            usage
                .get("cache_read_input_tokens")
                .map_or(0, |v| v.as_u64().unwrap_or(0)),
            usage
                .get("cache_creation_input_tokens")
                .map_or(0, |v| v.as_u64().unwrap_or(0)),
            normal["prompt_tokens"],
            normal["completion_tokens"],
        )),
        Err(why) => Finding::fail(why),
    }
}
