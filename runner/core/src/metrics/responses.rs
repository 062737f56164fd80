//! What an OpenAI Responses response delivered, for the metrics: its
//! content events (a non-empty `response.output_text.delta` or
//! `response.function_call_arguments.delta`), its text and its reported
//! output tokens.

use serde_json::Value;

use super::exchange::{ChunkTimes, Classified, ContentEvent, Read, event_json, protocol};
use super::messages::{describe_error, event_type};
use crate::sse;

/// The events that end a Responses stream that was answered.
const ENDS: [&str; 2] = ["response.completed", "response.incomplete"];

/// Reads a complete Responses stream: it must end with
/// `response.completed` or `response.incomplete`, nothing may follow, no
/// event may be `[DONE]`, and every event's data is JSON. The output
/// tokens are the final response's `usage.output_tokens`.
pub(super) fn read_stream(events: &[sse::Event], times: &ChunkTimes) -> Classified<Read> {
    let mut read = Read::default();
    let mut text = String::new();
    let mut ended: Option<(usize, &str)> = None;
    for (i, event) in events.iter().enumerate() {
        if event.data == "[DONE]" {
            return Err(protocol(format!(
                "event {i} (byte {}) is [DONE], which a Responses stream does not send",
                event.start
            )));
        }
        if let Some((end, name)) = ended {
            return Err(protocol(format!(
                "event {i} (byte {}) follows {name} (event {end})",
                event.start
            )));
        }
        let value = event_json(i, event)?;
        let kind = event_type(event, &value);
        if let Some(end) = ENDS.into_iter().find(|end| *end == kind) {
            ended = Some((i, end));
            read.usage_output_tokens = value
                .pointer("/response/usage/output_tokens")
                .and_then(Value::as_u64);
            continue;
        }
        match kind {
            kind @ ("response.output_text.delta" | "response.function_call_arguments.delta") => {
                let delta = value.get("delta").and_then(Value::as_str).unwrap_or("");
                if delta.is_empty() {
                    continue;
                }
                let carried = if kind == "response.output_text.delta" {
                    text.push_str(delta);
                    delta.to_string()
                } else {
                    String::new()
                };
                read.events
                    .push(ContentEvent::at(times, i, event, carried)?);
            }
            "response.failed" => {
                return Err(protocol(format!(
                    "event {i} (byte {}) is response.failed: {}",
                    event.start,
                    describe_error(value.pointer("/response/error"))
                )));
            }
            "error" => {
                return Err(protocol(format!(
                    "event {i} (byte {}) is an error event: {}",
                    event.start,
                    describe_error(value.get("error"))
                )));
            }
            _ => {}
        }
    }
    if ended.is_none() {
        return Err(protocol(format!(
            "no response.completed or response.incomplete event among the {} events",
            events.len()
        )));
    }
    read.texts.insert(0, text);
    Ok(read)
}

/// Reads a Responses body: the text of the `output_text` parts of its
/// `message` items and its `usage.output_tokens`.
pub(super) fn read_body(value: &Value) -> Read {
    let text: String = value
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("message"))
        .filter_map(|item| item.get("content").and_then(Value::as_array))
        .flatten()
        .filter(|part| part.get("type").and_then(Value::as_str) == Some("output_text"))
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect();
    let mut read = Read {
        usage_output_tokens: value
            .pointer("/usage/output_tokens")
            .and_then(Value::as_u64),
        ..Read::default()
    };
    read.texts.insert(0, text);
    read
}
