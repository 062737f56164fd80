//! What an OpenAI Responses response delivered, for the metrics: its
//! content events (a non-empty `response.output_text.delta` or
//! `response.function_call_arguments.delta`), its text and its reported
//! output tokens.

use serde_json::Value;

use super::exchange::{ChunkTimes, Classified, Read, event_json, protocol};
use super::named_events::{Delivered, Delta, event_type, failed, one_choice};
use crate::sse;

/// The events that end a Responses stream that was answered.
const ENDS: [&str; 2] = ["response.completed", "response.incomplete"];

/// Reads a complete Responses stream: it must end with
/// `response.completed` or `response.incomplete`, nothing may follow, no
/// event may be `[DONE]`, and every event's data is JSON. The output
/// tokens are the final response's `usage.output_tokens`.
pub(super) fn read_stream(events: &[sse::Event], times: &ChunkTimes) -> Classified<Read> {
    let mut delivered = Delivered::default();
    let mut usage_output_tokens = None;
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
            usage_output_tokens = value
                .pointer("/response/usage/output_tokens")
                .and_then(Value::as_u64);
            continue;
        }
        let delta = || value.get("delta").and_then(Value::as_str).unwrap_or("");
        match kind {
            "response.output_text.delta" => {
                delivered.delta(times, i, event, delta(), Delta::Text)?;
            }
            "response.function_call_arguments.delta" => {
                delivered.delta(times, i, event, delta(), Delta::ToolInput)?;
            }
            "response.failed" => {
                let error = value.pointer("/response/error");
                return Err(failed(i, event, "response.failed", error));
            }
            "error" => return Err(failed(i, event, "an error event", value.get("error"))),
            _ => {}
        }
    }
    if ended.is_none() {
        return Err(protocol(format!(
            "no response.completed or response.incomplete event among the {} events",
            events.len()
        )));
    }
    Ok(delivered.into_read(usage_output_tokens))
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
    let output_tokens = value
        .pointer("/usage/output_tokens")
        .and_then(Value::as_u64);
    one_choice(text, output_tokens)
}
