//! What an OpenAI Chat (or legacy completions) response delivered, for
//! the metrics: its content events (a non-empty `delta.content`, `text` or
//! `delta.tool_calls`), its text per choice and its reported
//! `usage.completion_tokens`.

use serde_json::Value;

use super::exchange::{ChunkTimes, Classified, ContentEvent, Read, event_json, protocol};
use crate::check::choices;
use crate::sse;

/// The payload that ends a stream.
const DONE: &str = "[DONE]";

/// Reads a complete chat (or legacy completions) stream.
pub(super) fn read_stream(events: &[sse::Event], times: &ChunkTimes) -> Classified<Read> {
    let Some(done) = events.iter().position(|e| e.data == DONE) else {
        return Err(protocol(format!(
            "no [DONE] event among the {} events",
            events.len()
        )));
    };
    if let Some(after) = events.get(done + 1) {
        return Err(protocol(format!(
            "an event follows [DONE] at byte {}",
            after.start
        )));
    }
    let mut read = Read::default();
    for (i, event) in events[..done].iter().enumerate() {
        let value = event_json(i, event)?;
        if let Some(tokens) = completion_tokens(&value) {
            read.usage_output_tokens = Some(tokens);
        }
        let mut text = String::new();
        let mut content = false;
        for choice in choices(&value) {
            let delta = choice.get("delta").unwrap_or(choice);
            let mut choice_text = String::new();
            for part in [delta.get("content"), choice.get("text")] {
                if let Some(s) = part.and_then(Value::as_str) {
                    choice_text.push_str(s);
                }
            }
            let calls = delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            content |= calls || !choice_text.is_empty();
            text.push_str(&choice_text);
            read.texts
                .entry(index_of(choice))
                .or_default()
                .push_str(&choice_text);
        }
        if content {
            read.events.push(ContentEvent::at(times, i, event, text)?);
        }
    }
    Ok(read)
}

/// Reads a chat (or legacy completions) body.
pub(super) fn read_body(value: &Value) -> Read {
    let mut read = Read {
        usage_output_tokens: completion_tokens(value),
        ..Read::default()
    };
    for choice in choices(value) {
        let message = choice.get("message").unwrap_or(choice);
        let entry = read.texts.entry(index_of(choice)).or_default();
        for part in [message.get("content"), choice.get("text")] {
            if let Some(s) = part.and_then(Value::as_str) {
                entry.push_str(s);
            }
        }
    }
    read
}

/// `usage.completion_tokens` of a body or chunk, when present.
fn completion_tokens(value: &Value) -> Option<u64> {
    value
        .get("usage")
        .and_then(|u| u.get("completion_tokens"))
        .and_then(Value::as_u64)
}

/// A choice's index; 0 when it has none (a missing index is a conformance
/// finding of the checks, not a reason to lose the text here).
fn index_of(choice: &Value) -> u64 {
    choice.get("index").and_then(Value::as_u64).unwrap_or(0)
}
