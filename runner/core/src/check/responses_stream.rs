//! The grammar of an OpenAI Responses event stream: `response.created`
//! first, `response.queued` and `response.in_progress` optionally next;
//! output items opened by
//! `response.output_item.added` with output indices 0, 1, 2… and closed by
//! their `response.output_item.done` before the next opens; content parts
//! opened and closed the same way inside an open item; text deltas inside
//! an open part; a terminal `response.completed`, `response.incomplete` or
//! `response.failed` last (an `error` event may come before a failure).

use std::collections::BTreeMap;

use serde_json::Value;

use super::responses::TERMINAL;
use super::stream::Payload;
use super::{Finding, clip};

/// An open output item: its index, id and type, and its open part.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    index: u64,
    id: Option<String>,
    next_part: u64,
    part: Option<u64>,
}

/// Where the stream is in its grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Start,
    /// After `response.created` (and perhaps `response.in_progress`), before any item.
    Created {
        in_progress: bool,
    },
    /// Between items (at least one closed).
    Between,
    InItem(Item),
    /// After an `error` event: only `response.failed` may follow.
    Errored,
    Ended,
}

/// Events that belong to an open content part.
const PART_EVENTS: [&str; 5] = [
    "response.output_text.delta",
    "response.output_text.done",
    "response.output_text.annotation.added",
    "response.refusal.delta",
    "response.refusal.done",
];

/// The events follow the Responses grammar.
pub(super) fn events_in_order(payloads: &[Payload]) -> Finding {
    let mut state = State::Start;
    let mut next_item = 0u64;
    let mut end_at = String::new();
    for payload in payloads {
        let at = payload.at();
        let Some(kind) = payload.kind_or_name() else {
            return Finding::fail(format!("{at} has no type"));
        };
        let wrong = |why: String| Finding::fail(format!("{at} is {kind}, {why}"));
        let terminal = TERMINAL.contains(&kind);
        state = match state {
            State::Ended => {
                return Finding::fail(format!(
                    "{at} ({kind}) follows the terminal event at {end_at}"
                ));
            }
            State::Start if kind == "response.created" => State::Created { in_progress: false },
            State::Start => {
                return wrong("but a Responses stream starts with response.created".into());
            }
            _ if kind == "response.created" => {
                return wrong("but response.created was already sent".into());
            }
            State::Errored if kind == "response.failed" => State::Ended,
            State::Errored => {
                return wrong("after an error event, where only response.failed may follow".into());
            }
            _ if kind == "error" => State::Errored,
            State::Created { in_progress: false } if kind == "response.in_progress" => {
                State::Created { in_progress: true }
            }
            // A background response may be queued before it runs.
            State::Created { in_progress: false } if kind == "response.queued" => state,
            _ if kind == "response.in_progress" || kind == "response.queued" => {
                return wrong("which may come only once, right after response.created".into());
            }
            State::InItem(item) if terminal => {
                return wrong(format!(
                    "but output item {} is still open (no response.output_item.done)",
                    item.index
                ));
            }
            _ if terminal => State::Ended,
            State::Created { .. } | State::Between if kind == "response.output_item.added" => {
                match payload.unsigned("output_index") {
                    Some(i) if i == next_item => State::InItem(Item {
                        index: i,
                        id: payload
                            .value
                            .get("item")
                            .and_then(|it| it.get("id"))
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        next_part: 0,
                        part: None,
                    }),
                    _ => {
                        return wrong(format!(
                            "opening output_index {}, but the next item is {next_item}",
                            payload.shown("output_index")
                        ));
                    }
                }
            }
            State::Created { .. } | State::Between => {
                return wrong("but no output item is open".into());
            }
            State::InItem(item) => match in_item(payload, kind, item) {
                Ok(Some(item)) => State::InItem(item),
                Ok(None) => {
                    next_item += 1;
                    State::Between
                }
                Err(why) => return wrong(why),
            },
        };
        if state == State::Ended {
            end_at = at;
        }
    }
    let Some(last) = payloads.last() else {
        return Finding::fail("the stream carries no events");
    };
    match state {
        State::Ended => Finding::pass(format!(
            "{} events in order: response.created, {next_item} output item(s), {} last",
            payloads.len(),
            last.kind().unwrap_or_default()
        )),
        State::InItem(item) => Finding::fail(format!(
            "the stream ends at {} with output item {} still open and no terminal event",
            last.at(),
            item.index
        )),
        _ => Finding::fail(format!(
            "the stream ends at {} ({}) without {}",
            last.at(),
            last.kind().unwrap_or("no type"),
            TERMINAL.join(" / ")
        )),
    }
}

/// One event inside the open item: the item as it is after it, `None`
/// when the event closed it, or why the event is out of place.
fn in_item(payload: &Payload, kind: &str, mut item: Item) -> Result<Option<Item>, String> {
    if payload.unsigned("output_index") != Some(item.index) {
        return Err(format!(
            "for output_index {}, but the open item is {}",
            payload.shown("output_index"),
            item.index
        ));
    }
    let id = payload.value.get("item_id").and_then(Value::as_str);
    if let (Some(id), Some(open)) = (id, &item.id)
        && id != open
    {
        return Err(format!("for item_id {id:?}, but the open item is {open:?}"));
    }
    let part = payload.unsigned("content_index");
    match kind {
        "response.output_item.added" => Err(format!(
            "but output item {} is still open (no response.output_item.done)",
            item.index
        )),
        "response.output_item.done" => match item.part {
            Some(open) => Err(format!(
                "but content part {open} is still open (no response.content_part.done)"
            )),
            None => Ok(None),
        },
        "response.content_part.added" => match (item.part, part) {
            (Some(open), _) => Err(format!("but content part {open} is still open")),
            (None, Some(p)) if p == item.next_part => {
                item.part = Some(p);
                Ok(Some(item))
            }
            (None, _) => Err(format!(
                "opening content_index {}, but the next part is {}",
                payload.shown("content_index"),
                item.next_part
            )),
        },
        _ if kind == "response.content_part.done" || PART_EVENTS.contains(&kind) => {
            match item.part {
                Some(open) if part == Some(open) => {
                    if kind == "response.content_part.done" {
                        item.part = None;
                        item.next_part += 1;
                    }
                    Ok(Some(item))
                }
                Some(open) => Err(format!(
                    "for content_index {}, but the open part is {open}",
                    payload.shown("content_index")
                )),
                None => Err(format!(
                    "for content_index {}, but no content part is open",
                    payload.shown("content_index")
                )),
            }
        }
        _ => Ok(Some(item)),
    }
}

/// Usage is given by the final (terminal) event's response and by no
/// earlier event.
pub(super) fn usage_only_final(payloads: &[Payload]) -> Finding {
    let Some((last, earlier)) = payloads.split_last() else {
        return Finding::fail("the stream carries no events");
    };
    let usage_of = |p: &Payload| {
        p.value
            .get("response")
            .and_then(|r| r.get("usage"))
            .filter(|u| !u.is_null())
            .cloned()
    };
    if let Some(early) = earlier.iter().find(|p| usage_of(p).is_some()) {
        return Finding::fail(format!(
            "{} ({}) carries usage before the final event",
            early.at(),
            early.kind().unwrap_or_default()
        ));
    }
    let kind = last.kind().unwrap_or_default();
    if !TERMINAL.contains(&kind) {
        return Finding::fail(format!(
            "the last event, {} ({kind}), is not {}",
            last.at(),
            TERMINAL.join(" / ")
        ));
    }
    match usage_of(last) {
        Some(usage) if usage.is_object() => Finding::pass(format!(
            "only the final event, {} ({kind}), carries usage",
            last.at()
        )),
        Some(other) => Finding::fail(format!(
            "the final event, {}, carries usage that is not an object: {}",
            last.at(),
            clip(&other.to_string(), 80)
        )),
        None if kind == "response.failed" => Finding::pass(format!(
            "no event carries usage; the response failed at {}",
            last.at()
        )),
        None => Finding::fail(format!(
            "the final event, {} ({kind}), carries no usage",
            last.at()
        )),
    }
}

/// One text part's streamed text, by (output index, content index).
#[derive(Default)]
struct Part {
    deltas: String,
    first: String,
    done: Option<(String, String)>,
}

/// Each text part's deltas concatenate to its `response.output_text.done`
/// text and to its text in the final response.
pub(super) fn stream_text_matches_done(payloads: &[Payload]) -> Finding {
    let mut parts: BTreeMap<(u64, u64), Part> = BTreeMap::new();
    for payload in payloads {
        let kind = payload.kind().unwrap_or_default();
        if kind != "response.output_text.delta" && kind != "response.output_text.done" {
            continue;
        }
        let (Some(item), Some(content)) = (
            payload.unsigned("output_index"),
            payload.unsigned("content_index"),
        ) else {
            return Finding::fail(format!(
                "{} ({kind}) has no integer output_index and content_index",
                payload.at()
            ));
        };
        let part = parts.entry((item, content)).or_default();
        if part.first.is_empty() {
            part.first = payload.at();
        }
        let field = if kind.ends_with(".delta") {
            "delta"
        } else {
            "text"
        };
        let Some(text) = payload.value.get(field).and_then(Value::as_str) else {
            return Finding::fail(format!("{} ({kind}) has no string {field}", payload.at()));
        };
        if field == "delta" {
            if let Some((_, at)) = &part.done {
                return Finding::fail(format!(
                    "{} adds text to part {item}/{content} after its done event at {at}",
                    payload.at()
                ));
            }
            part.deltas.push_str(text);
        } else {
            if text != part.deltas {
                return Finding::fail(format!(
                    "{}: part {item}/{content}'s done text is {:?}, but its deltas make {:?}",
                    payload.at(),
                    clip(text, 120),
                    clip(&part.deltas, 120)
                ));
            }
            part.done = Some((text.to_string(), payload.at()));
        }
    }
    if let Some(((item, content), part)) = parts.iter().find(|(_, p)| p.done.is_none()) {
        return Finding::fail(format!(
            "part {item}/{content} (deltas from {}) has no response.output_text.done",
            part.first
        ));
    }
    let Some(last) = payloads
        .iter()
        .rev()
        .find(|p| p.kind().is_some_and(|k| TERMINAL.contains(&k)))
    else {
        return Finding::fail(format!("the stream has no {} event", TERMINAL.join(" / ")));
    };
    let output = last
        .value
        .get("response")
        .and_then(|r| r.get("output"))
        .and_then(Value::as_array);
    let Some(output) = output else {
        return Finding::fail(format!(
            "the final event, {}, has no response.output array",
            last.at()
        ));
    };
    let mut compared = 0;
    for (i, item) in output.iter().enumerate() {
        let contents = item
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for (j, content) in contents.enumerate() {
            if content.get("type").and_then(Value::as_str) != Some("output_text") {
                continue;
            }
            let text = content
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let streamed = parts
                .get(&(i as u64, j as u64))
                .map_or("", |p| p.deltas.as_str());
            if text != streamed {
                return Finding::fail(format!(
                    "the final event, {}, has output[{i}].content[{j}].text {:?}, but its deltas make {:?}",
                    last.at(),
                    clip(text, 120),
                    clip(streamed, 120)
                ));
            }
            compared += 1;
        }
    }
    let missing = parts.keys().find(|(i, j)| {
        output
            .get(*i as usize)
            .and_then(|it| it.get("content"))
            .and_then(|c| c.get(*j as usize))
            .is_none()
    });
    if let Some((i, j)) = missing {
        return Finding::fail(format!(
            "part {i}/{j} was streamed, but the final event, {}, has no output[{i}].content[{j}]",
            last.at()
        ));
    }
    Finding::pass(format!(
        "{} streamed text part(s) match their done events; {compared} final text part(s) match",
        parts.len()
    ))
}
