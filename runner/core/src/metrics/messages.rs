//! What an Anthropic Messages response delivered, for the metrics: its
//! content events (`content_block_delta` with a non-empty `text_delta` or
//! `input_json_delta`), its text and its reported output tokens.

use serde_json::Value;

use super::exchange::{ChunkTimes, Classified, ContentEvent, Read, event_json, protocol};
use crate::sse;

/// Reads a complete Messages stream: it must end with `message_stop`, and
/// nothing may follow it; every event's data is JSON. The output tokens
/// are the last `message_delta`'s `usage.output_tokens` (cumulative).
pub(super) fn read_stream(events: &[sse::Event], times: &ChunkTimes) -> Classified<Read> {
    let mut read = Read::default();
    let mut text = String::new();
    let mut stopped = None;
    for (i, event) in events.iter().enumerate() {
        if let Some(stop) = stopped {
            return Err(protocol(format!(
                "event {i} (byte {}) follows message_stop (event {stop})",
                event.start
            )));
        }
        let value = event_json(i, event)?;
        match event_type(event, &value) {
            "message_stop" => stopped = Some(i),
            "message_delta" => {
                if let Some(n) = output_tokens(&value) {
                    read.usage_output_tokens = Some(n);
                }
            }
            "content_block_delta" => {
                let delta = &value["delta"];
                let (field, is_text) = match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => ("text", true),
                    Some("input_json_delta") => ("partial_json", false),
                    _ => continue,
                };
                let part = delta.get(field).and_then(Value::as_str).unwrap_or("");
                if part.is_empty() {
                    continue;
                }
                let carried = if is_text {
                    text.push_str(part);
                    part.to_string()
                } else {
                    String::new()
                };
                read.events
                    .push(ContentEvent::at(times, i, event, carried)?);
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
    if stopped.is_none() {
        return Err(protocol(format!(
            "no message_stop event among the {} events",
            events.len()
        )));
    }
    read.texts.insert(0, text);
    Ok(read)
}

/// Reads a Messages body: the text of its `text` blocks and its
/// `usage.output_tokens`.
pub(super) fn read_body(value: &Value) -> Read {
    let text: String = value
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|block| block.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|block| block.get("text").and_then(Value::as_str))
        .collect();
    let mut read = Read {
        usage_output_tokens: output_tokens(value),
        ..Read::default()
    };
    read.texts.insert(0, text);
    read
}

/// The event's type: its data's `type`, else its `event:` name.
pub(super) fn event_type<'a>(event: &'a sse::Event, value: &'a Value) -> &'a str {
    value
        .get("type")
        .and_then(Value::as_str)
        .or(event.event_type.as_deref())
        .unwrap_or("")
}

/// `usage.output_tokens`, when present.
fn output_tokens(value: &Value) -> Option<u64> {
    value
        .pointer("/usage/output_tokens")
        .and_then(Value::as_u64)
}

/// An error object's `type` and `message`, for the problem.
pub(super) fn describe_error(error: Option<&Value>) -> String {
    let field = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .unwrap_or("-")
    };
    format!("{} ({})", field("type"), field("message"))
}
