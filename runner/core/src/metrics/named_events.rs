//! What the metrics read alike in the named-event streams of Anthropic
//! Messages and OpenAI Responses: an event's type, the events that end a
//! stream in failure, and the content deltas (time, text) it delivered.

use serde_json::Value;

use super::exchange::{ChunkTimes, Classified, ContentEvent, ErrorClass, Read, protocol};
use crate::sse;

/// The event's type: its data's `type`, else its `event:` name.
pub(super) fn event_type<'a>(event: &'a sse::Event, value: &'a Value) -> &'a str {
    value
        .get("type")
        .and_then(Value::as_str)
        .or(event.event_type.as_deref())
        .unwrap_or("")
}

/// The problem of the `i`-th event, `what` (an error event, a failed
/// response), carrying `error`: "event i (byte b) is WHAT: TYPE (MESSAGE)".
pub(super) fn failed(
    i: usize,
    event: &sse::Event,
    what: &str,
    error: Option<&Value>,
) -> (ErrorClass, String) {
    protocol(format!(
        "event {i} (byte {}) is {what}: {}",
        event.start,
        describe_error(error)
    ))
}

/// An error object's `type` and `message`, for the problem.
fn describe_error(error: Option<&Value>) -> String {
    let field = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .unwrap_or("-")
    };
    format!("{} ({})", field("type"), field("message"))
}

/// Whether a content delta is output text or tool input (JSON text the
/// metrics time but do not count as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Delta {
    Text,
    ToolInput,
}

/// The content events and text a stream delivered so far.
#[derive(Default)]
pub(super) struct Delivered {
    events: Vec<ContentEvent>,
    text: String,
}

impl Delivered {
    /// Records the `i`-th event's delta `part` (an empty one is no content
    /// event); a text delta also adds to the text.
    pub(super) fn delta(
        &mut self,
        times: &ChunkTimes,
        i: usize,
        event: &sse::Event,
        part: &str,
        kind: Delta,
    ) -> Classified<()> {
        if part.is_empty() {
            return Ok(());
        }
        let carried = match kind {
            Delta::Text => {
                self.text.push_str(part);
                part.to_string()
            }
            Delta::ToolInput => String::new(),
        };
        self.events
            .push(ContentEvent::at(times, i, event, carried)?);
        Ok(())
    }

    /// What the stream delivered, with its reported output tokens: one
    /// choice (index 0).
    pub(super) fn into_read(self, usage_output_tokens: Option<u64>) -> Read {
        Read {
            events: self.events,
            ..one_choice(self.text, usage_output_tokens)
        }
    }
}

/// What a response of one choice (index 0) delivered: its text and its
/// reported output tokens (no content events).
pub(super) fn one_choice(text: String, usage_output_tokens: Option<u64>) -> Read {
    let mut read = Read {
        usage_output_tokens,
        ..Read::default()
    };
    read.texts.insert(0, text);
    read
}
