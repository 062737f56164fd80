//! What an Anthropic Messages response delivered, for the metrics: its
//! content events (`content_block_delta` with a non-empty `text_delta` or
//! `input_json_delta`), its text and its reported output tokens.

use serde_json::Value;

use super::exchange::{ChunkTimes, Classified, Read, event_json, protocol};
use super::named_events::{Delivered, Delta, event_type, failed, one_choice};
use crate::sse;

/// Reads a complete Messages stream: it must end with `message_stop`, and
/// nothing may follow it; every event's data is JSON. The output tokens
/// are the last `message_delta`'s `usage.output_tokens` (cumulative).
pub(super) fn read_stream(events: &[sse::Event], times: &ChunkTimes) -> Classified<Read> {
    let mut delivered = Delivered::default();
    let mut usage_output_tokens = None;
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
                    usage_output_tokens = Some(n);
                }
            }
            "content_block_delta" => {
                let delta = &value["delta"];
                let (field, kind) = match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => ("text", Delta::Text),
                    Some("input_json_delta") => ("partial_json", Delta::ToolInput),
                    _ => continue,
                };
                let part = delta.get(field).and_then(Value::as_str).unwrap_or("");
                delivered.delta(times, i, event, part, kind)?;
            }
            "error" => return Err(failed(i, event, "an error event", value.get("error"))),
            _ => {}
        }
    }
    if stopped.is_none() {
        return Err(protocol(format!(
            "no message_stop event among the {} events",
            events.len()
        )));
    }
    Ok(delivered.into_read(usage_output_tokens))
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
    one_choice(text, output_tokens(value))
}

/// `usage.output_tokens`, when present.
fn output_tokens(value: &Value) -> Option<u64> {
    value
        .pointer("/usage/output_tokens")
        .and_then(Value::as_u64)
}
