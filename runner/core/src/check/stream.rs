//! Checks on a streamed (text/event-stream) body.

use serde_json::Value;

use super::{Finding, Schemas, View, schema_errors, usage_consistent};

const DONE: &str = "[DONE]";

/// A JSON data payload of the stream, with where it sits.
pub(super) struct Payload {
    /// Index of the event among all dispatched events.
    event: usize,
    /// Byte offset of the event in the body.
    offset: usize,
    /// The event's `event:` field, if it has one.
    pub(super) name: Option<String>,
    /// The parsed payload.
    pub(super) value: Value,
}

impl Payload {
    pub(super) fn at(&self) -> String {
        format!("event {} (byte {})", self.event, self.offset)
    }

    /// The payload's `type` field (named-event dialects), if a string.
    pub(super) fn kind(&self) -> Option<&str> {
        self.value.get("type").and_then(Value::as_str)
    }

    /// The payload's `type`, else its event's `event:` name.
    pub(super) fn kind_or_name(&self) -> Option<&str> {
        self.kind().or(self.name.as_deref())
    }

    /// The payload's `field` (an index, a count), if a non-negative integer.
    pub(super) fn unsigned(&self, field: &str) -> Option<u64> {
        self.value.get(field).and_then(Value::as_u64)
    }

    /// The payload's `field` as the findings show it.
    pub(super) fn shown(&self, field: &str) -> String {
        super::short(self.value.get(field))
    }
}

/// The JSON payloads a client reads: every event before the first
/// `[DONE]`. A payload that is not JSON makes the stream unjudgeable for
/// checks about chunk contents.
pub(super) fn payloads(view: &View<'_>) -> Result<Vec<Payload>, Finding> {
    view.complete_body()?;
    let mut out = Vec::new();
    for (i, event) in view.sse.events.iter().enumerate() {
        if event.data == DONE {
            break;
        }
        match serde_json::from_str(&event.data) {
            Ok(value) => out.push(Payload {
                event: i,
                offset: event.start,
                name: event.event_type.clone(),
                value,
            }),
            Err(e) => {
                return Err(Finding::error(format!(
                    "cannot judge chunk contents: event {i} (byte {}) is not JSON: {e}",
                    event.start
                )));
            }
        }
    }
    if out.is_empty() {
        return Err(Finding::fail("the stream carries no chunk events"));
    }
    Ok(out)
}

/// The body is a well-formed text/event-stream.
pub fn sse_well_formed(view: &View<'_>) -> Finding {
    let body = match view.complete_body() {
        Ok(b) => b,
        Err(f) => return f,
    };
    if body.is_empty() {
        return Finding::fail("the stream is empty");
    }
    let sse = &view.sse;
    if sse.problems.is_empty() {
        return Finding::pass(format!(
            "{} events and {} comment lines in {} bytes, all well-formed",
            sse.events.len(),
            sse.comments,
            body.len()
        ));
    }
    let shown: Vec<String> = sse
        .problems
        .iter()
        .take(3)
        .map(ToString::to_string)
        .collect();
    let more = sse.problems.len().saturating_sub(3);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Finding::fail(format!("{}{tail}", shown.join("; ")))
}

/// Every payload except `[DONE]` is JSON matching the named schema.
pub fn chunks_match_schema(view: &View<'_>, name: &str, schemas: &Schemas) -> Finding {
    if let Err(f) = view.complete_body() {
        return f;
    }
    let mut count = 0;
    for (i, event) in view.sse.events.iter().enumerate() {
        if event.data == DONE {
            continue;
        }
        let at = format!("event {i} (byte {})", event.start);
        let value: Value = match serde_json::from_str(&event.data) {
            Ok(v) => v,
            Err(e) => return Finding::fail(format!("{at} is not JSON: {e}")),
        };
        if let Err(f) = schema_errors(&value, name, schemas) {
            return Finding {
                reason: format!("{at} does not match {name}: {}", f.reason),
                ..f
            };
        }
        count += 1;
    }
    if count == 0 {
        return Finding::fail("the stream carries no chunk events");
    }
    Finding::pass(format!("{count} chunks match {name}"))
}

/// The last event is `data: [DONE]` and no event follows it.
pub fn terminated_by_done(view: &View<'_>) -> Finding {
    if let Err(f) = view.complete_body() {
        return f;
    }
    let events = &view.sse.events;
    match events.iter().position(|e| e.data == DONE) {
        Some(i) if i + 1 == events.len() => Finding::pass(format!(
            "event {i} (byte {}) is [DONE] and is last",
            events[i].start
        )),
        Some(i) => Finding::fail(format!(
            "{} event(s) follow [DONE] (event {i}); the first at byte {}",
            events.len() - i - 1,
            events[i + 1].start
        )),
        None => match events.last() {
            Some(last) => Finding::fail(format!(
                "no [DONE] event; the stream ends with event {} (byte {}) after {} events",
                events.len() - 1,
                last.start,
                events.len()
            )),
            None => Finding::fail("no [DONE] event; the stream has no events at all"),
        },
    }
}

use super::output::choices;

/// Each choice's delta carries the role exactly once, in its first chunk.
pub fn one_role_per_choice(view: &View<'_>) -> Finding {
    let payloads = match payloads(view) {
        Ok(p) => p,
        Err(f) => return f,
    };
    // Per choice index: whether a chunk was seen, and where the role was.
    let mut seen: std::collections::BTreeMap<u64, (bool, Option<String>)> = Default::default();
    for payload in &payloads {
        for choice in choices(&payload.value) {
            let Some(index) = choice.get("index").and_then(Value::as_u64) else {
                return Finding::error(format!("{}: a choice has no integer index", payload.at()));
            };
            let role = choice
                .get("delta")
                .and_then(|d| d.get("role"))
                .filter(|r| !r.is_null());
            let entry = seen.entry(index).or_insert((false, None));
            if let Some(role) = role {
                if role != "assistant" {
                    return Finding::fail(format!(
                        "choice {index} carries role {role} at {}, not \"assistant\"",
                        payload.at()
                    ));
                }
                if let Some(first) = &entry.1 {
                    return Finding::fail(format!(
                        "choice {index} carries a role again at {} (first at {first})",
                        payload.at()
                    ));
                }
                if entry.0 {
                    return Finding::fail(format!(
                        "choice {index} carries its role at {}, not in its first chunk",
                        payload.at()
                    ));
                }
                entry.1 = Some(payload.at());
            }
            entry.0 = true;
        }
    }
    if seen.is_empty() {
        return Finding::fail("no chunk carries a choice");
    }
    if let Some((index, _)) = seen.iter().find(|(_, (_, role))| role.is_none()) {
        return Finding::fail(format!("choice {index} never carries a role"));
    }
    Finding::pass(format!(
        "{} choice(s), each with its role once in its first chunk",
        seen.len()
    ))
}

/// All chunks carry the same `id`, `created` and `model` as the first.
pub fn consistent_chunk_ids(view: &View<'_>) -> Finding {
    let payloads = match payloads(view) {
        Ok(p) => p,
        Err(f) => return f,
    };
    let first = &payloads[0];
    for field in ["id", "created", "model"] {
        if first.value.get(field).is_none_or(Value::is_null) {
            return Finding::fail(format!("the first chunk, {}, has no {field}", first.at()));
        }
    }
    for payload in &payloads[1..] {
        for field in ["id", "created", "model"] {
            let (a, b) = (first.value.get(field), payload.value.get(field));
            if a != b {
                return Finding::fail(format!(
                    "{field} is {} at {} but {} at {}",
                    shown(a),
                    first.at(),
                    shown(b),
                    payload.at()
                ));
            }
        }
    }
    Finding::pass(format!(
        "{} chunks share id {}",
        payloads.len(),
        shown(first.value.get("id"))
    ))
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "absent".into(), Value::to_string)
}

/// The last chunk before `[DONE]` has empty choices and a usage that adds
/// up; no earlier chunk carries a non-null usage.
pub fn stream_usage_last(view: &View<'_>) -> Finding {
    let payloads = match payloads(view) {
        Ok(p) => p,
        Err(f) => return f,
    };
    let Some((last, earlier)) = payloads.split_last() else {
        return Finding::fail("the stream carries no chunk events");
    };
    if let Some(p) = earlier
        .iter()
        .find(|p| p.value.get("usage").is_some_and(|u| !u.is_null()))
    {
        return Finding::fail(format!("{} carries usage before the last chunk", p.at()));
    }
    let Some(usage) = last.value.get("usage").filter(|u| u.is_object()) else {
        return Finding::fail(format!(
            "the last chunk, {}, has no usage object",
            last.at()
        ));
    };
    if last
        .value
        .get("choices")
        .and_then(Value::as_array)
        .is_none_or(|c| !c.is_empty())
    {
        return Finding::fail(format!(
            "the usage chunk, {}, does not have empty choices",
            last.at()
        ));
    }
    match usage_consistent(usage) {
        Ok((p, c)) => Finding::pass(format!(
            "usage chunk at {}: {p} + {c} = {}",
            last.at(),
            p + c
        )),
        Err(why) => Finding::fail(format!("{}: {why}", last.at())),
    }
}

/// Whether a delta (or a legacy choice) carries anything: text, role, tool
/// calls, a refusal, log probabilities or a finish reason.
fn carries_something(choice: &Value) -> bool {
    let part = choice.get("delta").unwrap_or(choice);
    let present = |v: Option<&Value>| match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    };
    ["content", "role", "tool_calls", "refusal", "function_call"]
        .iter()
        .any(|f| present(part.get(*f)))
        || present(choice.get("text"))
        || present(choice.get("finish_reason"))
        || present(choice.get("logprobs"))
}

/// After a choice's first chunk, every chunk carrying that choice carries
/// something; a chunk without choices carries usage. Like every output
/// check, it judges only a complete 200 stream.
pub fn no_empty_chunks(view: &View<'_>) -> Finding {
    if let Err(f) = super::output::assemble(view) {
        return f;
    }
    let payloads = match payloads(view) {
        Ok(p) => p,
        Err(f) => return f,
    };
    let mut started = std::collections::BTreeSet::new();
    for payload in &payloads {
        let mut any = false;
        for choice in choices(&payload.value) {
            any = true;
            let index = choice
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX);
            if !started.insert(index) && !carries_something(choice) {
                return Finding::fail(format!(
                    "{} carries an empty delta for choice {index}",
                    payload.at()
                ));
            }
        }
        if !any && payload.value.get("usage").is_none_or(Value::is_null) {
            return Finding::fail(format!(
                "{} carries neither choices nor usage",
                payload.at()
            ));
        }
    }
    Finding::pass(format!("none of {} chunks is empty", payloads.len()))
}
