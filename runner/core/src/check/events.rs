//! Checks on named-event streams (Anthropic Messages, OpenAI Responses):
//! every event's JSON against the dialect's event schema, `event:` names
//! against `data.type`, the dialect's grammar, sequence numbers and the
//! absence of a `[DONE]` terminator.

use serde_json::Value;

use super::stream::{Payload, payloads};
use super::{Finding, Schemas, View, schema_errors};
use crate::suite::Dialect;

const DONE: &str = "[DONE]";

/// The dialect of the exchange, when it is one of `wanted`; otherwise the
/// error saying the check judges another dialect's stream.
pub(super) fn dialect_of(
    view: &View<'_>,
    check: &str,
    wanted: &[Dialect],
) -> Result<Dialect, Finding> {
    let dialect = Dialect::of_url(&view.exchange.url);
    if wanted.contains(&dialect) {
        return Ok(dialect);
    }
    let names: Vec<&str> = wanted.iter().map(|d| d.name()).collect();
    Err(Finding::error(format!(
        "{check} judges a stream of {}; {} is {dialect}",
        names.join(" or "),
        view.exchange.url
    )))
}

/// The payloads of a stream of `dialect`, for a check of that dialect only.
fn dialect_payloads(
    view: &View<'_>,
    check: &str,
    dialect: Dialect,
) -> Result<Vec<Payload>, Finding> {
    dialect_of(view, check, &[dialect])?;
    payloads(view)
}

/// The payloads of a named-event stream (every event must be JSON).
fn named_payloads(view: &View<'_>, check: &str) -> Result<(Dialect, Vec<Payload>), Finding> {
    let dialect = dialect_of(
        view,
        check,
        &[Dialect::AnthropicMessages, Dialect::OpenaiResponses],
    )?;
    Ok((dialect, payloads(view)?))
}

/// Every event's data is JSON matching the named schema; a `[DONE]`
/// payload, not being JSON, does not.
pub fn events_match_schema(view: &View<'_>, name: &str, schemas: &Schemas) -> Finding {
    if let Err(f) = view.complete_body() {
        return f;
    }
    let events = &view.sse.events;
    for (i, event) in events.iter().enumerate() {
        let at = format!("event {i} (byte {})", event.start);
        let value: Value = match serde_json::from_str(&event.data) {
            Ok(v) => v,
            Err(e) => {
                return Finding::fail(format!(
                    "{at} is not JSON ({e}): {}",
                    super::excerpt(event.data.as_bytes(), 80)
                ));
            }
        };
        if let Err(f) = schema_errors(&value, name, schemas) {
            let kind = value
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("(no type)");
            return Finding {
                reason: format!(
                    "{at}, of type {kind:?}, does not match {name}: {}",
                    f.reason
                ),
                ..f
            };
        }
    }
    if events.is_empty() {
        return Finding::fail("the stream carries no events");
    }
    Finding::pass(format!("{} events match {name}", events.len()))
}

/// Every event has an `event:` field, equal to its data's `type`.
pub fn event_names_match_types(view: &View<'_>) -> Finding {
    if let Err(f) = view.complete_body() {
        return f;
    }
    let events = &view.sse.events;
    for (i, event) in events.iter().enumerate() {
        let at = format!("event {i} (byte {})", event.start);
        let kind = serde_json::from_str::<Value>(&event.data)
            .ok()
            .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string));
        match (&event.event_type, kind) {
            (None, kind) => {
                return Finding::fail(format!(
                    "{at} has no event: field (its data's type is {})",
                    kind.map_or_else(|| "absent".into(), |k| format!("{k:?}"))
                ));
            }
            (Some(name), None) => {
                return Finding::fail(format!(
                    "{at} is named {name:?}, but its data has no string type: {}",
                    super::excerpt(event.data.as_bytes(), 80)
                ));
            }
            (Some(name), Some(kind)) if *name != kind => {
                return Finding::fail(format!(
                    "{at} is named {name:?}, but its data's type is {kind:?}"
                ));
            }
            _ => {}
        }
    }
    if events.is_empty() {
        return Finding::fail("the stream carries no events");
    }
    Finding::pass(format!(
        "each of {} events is named by its data's type",
        events.len()
    ))
}

/// No event's data is `[DONE]` (OpenAI Responses streams end with their
/// terminal event).
pub fn no_done_terminator(view: &View<'_>) -> Finding {
    if let Err(f) = dialect_of(view, "no_done_terminator", &[Dialect::OpenaiResponses]) {
        return f;
    }
    if let Err(f) = view.complete_body() {
        return f;
    }
    let events = &view.sse.events;
    match events.iter().position(|e| e.data.trim() == DONE) {
        Some(i) => Finding::fail(format!(
            "event {i} (byte {}) is data: [DONE], which this dialect does not send",
            events[i].start
        )),
        None if events.is_empty() => Finding::fail("the stream carries no events"),
        None => Finding::pass(format!("none of {} events is [DONE]", events.len())),
    }
}

/// Every event has an integer `sequence_number`, each one more than the
/// one before.
pub fn sequence_numbers_increasing(view: &View<'_>) -> Finding {
    let payloads = match dialect_payloads(
        view,
        "sequence_numbers_increasing",
        Dialect::OpenaiResponses,
    ) {
        Ok(p) => p,
        Err(f) => return f,
    };
    let mut previous: Option<(u64, String)> = None;
    for payload in &payloads {
        let Some(number) = payload.value.get("sequence_number").and_then(Value::as_u64) else {
            return Finding::fail(format!(
                "{} has no integer sequence_number (got {})",
                payload.at(),
                super::short(payload.value.get("sequence_number"))
            ));
        };
        if let Some((last, at)) = &previous
            && last.checked_add(1) != Some(number)
        {
            return Finding::fail(format!(
                "{} has sequence_number {number}, after {last} at {at}; expected {}",
                payload.at(),
                last.saturating_add(1)
            ));
        }
        previous = Some((number, payload.at()));
    }
    let first = payloads[0].value["sequence_number"].clone();
    Finding::pass(format!(
        "{} events numbered {first} to {}, one apart",
        payloads.len(),
        previous.map_or(0, |(n, _)| n)
    ))
}

/// The dialect's stream grammar.
pub fn events_in_order(view: &View<'_>) -> Finding {
    match named_payloads(view, "events_in_order") {
        Ok((Dialect::AnthropicMessages, payloads)) => {
            super::messages_stream::events_in_order(&payloads)
        }
        Ok((_, payloads)) => super::responses_stream::events_in_order(&payloads),
        Err(f) => f,
    }
}

/// Usage only grows (Messages), or is given only by the final event (Responses).
pub fn usage_never_decreases(view: &View<'_>) -> Finding {
    match named_payloads(view, "usage_never_decreases") {
        Ok((Dialect::AnthropicMessages, payloads)) => {
            super::messages_stream::usage_never_decreases(&payloads)
        }
        Ok((_, payloads)) => super::responses_stream::usage_only_final(&payloads),
        Err(f) => f,
    }
}

/// Every delta and stop names the open block, and each delta fits its block.
pub fn block_indices_consistent(view: &View<'_>) -> Finding {
    match dialect_payloads(view, "block_indices_consistent", Dialect::AnthropicMessages) {
        Ok(payloads) => super::messages_stream::block_indices_consistent(&payloads),
        Err(f) => f,
    }
}

/// Each text part's deltas make its done text and its final text.
pub fn stream_text_matches_done(view: &View<'_>) -> Finding {
    match dialect_payloads(view, "stream_text_matches_done", Dialect::OpenaiResponses) {
        Ok(payloads) => super::responses_stream::stream_text_matches_done(&payloads),
        Err(f) => f,
    }
}
