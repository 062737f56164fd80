//! The grammar of an Anthropic Messages event stream: `message_start`
//! first; content blocks opened by `content_block_start` with indices
//! 0, 1, 2… in order, each receiving deltas and closed by its
//! `content_block_stop` before the next opens; then exactly one
//! `message_delta` and `message_stop` last. `ping` may come anywhere after
//! `message_start`, and an `error` event may end the stream.

use serde_json::Value;

use super::Finding;
use super::stream::Payload;

/// Where the stream is in its grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing yet.
    Start,
    /// After `message_start` or a block's stop: a block or `message_delta` may follow.
    Between,
    /// Inside the block with this index.
    InBlock(u64),
    /// After `message_delta`: only `message_stop` (or ping) may follow.
    Delta,
    /// After `message_stop` or `error`: nothing may follow.
    Ended,
}

/// The events follow the Messages grammar.
pub(super) fn events_in_order(payloads: &[Payload]) -> Finding {
    let mut state = State::Start;
    let mut next_block = 0u64;
    let mut last_at = String::new();
    for payload in payloads {
        let at = payload.at();
        let Some(kind) = payload.kind_or_name() else {
            return Finding::fail(format!("{at} has no type"));
        };
        let out_of_place = |why: &str| Finding::fail(format!("{at} is {kind}, {why}"));
        state = match (state, kind) {
            (State::Ended, _) => {
                return Finding::fail(format!(
                    "{at} ({kind}) follows the end of the stream at {last_at}"
                ));
            }
            (_, "error") => State::Ended,
            (State::Start, "message_start") => State::Between,
            (State::Start, _) => {
                return out_of_place("but a Messages stream starts with message_start");
            }
            (_, "message_start") => return out_of_place("but message_start was already sent"),
            (other, "ping") => other,
            (State::Between, "content_block_start") => match payload.unsigned("index") {
                Some(i) if i == next_block => State::InBlock(i),
                _ => {
                    return out_of_place(&format!(
                        "opening block index {}, but the next block is {next_block}",
                        payload.shown("index")
                    ));
                }
            },
            (State::InBlock(open), "content_block_start") => {
                return out_of_place(&format!(
                    "but block {open} is still open (no content_block_stop)"
                ));
            }
            (State::InBlock(open), "content_block_delta") => {
                if payload.unsigned("index") != Some(open) {
                    return out_of_place(&format!(
                        "for index {}, but the open block is {open}",
                        payload.shown("index")
                    ));
                }
                State::InBlock(open)
            }
            (State::InBlock(open), "content_block_stop") => {
                if payload.unsigned("index") != Some(open) {
                    return out_of_place(&format!(
                        "for index {}, but the open block is {open}",
                        payload.shown("index")
                    ));
                }
                next_block = open + 1;
                State::Between
            }
            (State::Between | State::Delta, "content_block_delta" | "content_block_stop") => {
                return out_of_place(&format!(
                    "for index {}, but no block is open",
                    payload.shown("index")
                ));
            }
            (State::Between, "message_delta") => State::Delta,
            (State::InBlock(open), "message_delta") => {
                return out_of_place(&format!(
                    "but block {open} is still open (no content_block_stop)"
                ));
            }
            (State::Delta, "message_delta") => {
                return out_of_place("but message_delta was already sent");
            }
            (State::Delta, "message_stop") => State::Ended,
            (_, "message_stop") => return out_of_place("before any message_delta"),
            (State::Delta, "content_block_start") => {
                return out_of_place("after message_delta, which comes after the last block");
            }
            (_, other) => {
                return Finding::fail(format!(
                    "{at} has type {other:?}, not a Messages stream event"
                ));
            }
        };
        last_at = at;
    }
    let Some(last) = payloads.last() else {
        return Finding::fail("the stream carries no events");
    };
    match state {
        State::Ended => Finding::pass(format!(
            "{} events in order: message_start, {next_block} block(s), message_delta, message_stop (or an error) last",
            payloads.len()
        )),
        State::InBlock(open) => Finding::fail(format!(
            "the stream ends at {} with block {open} still open and no message_stop",
            last.at()
        )),
        State::Delta | State::Between | State::Start => Finding::fail(format!(
            "the stream ends at {} ({}) without message_stop",
            last.at(),
            last.kind().unwrap_or("no type")
        )),
    }
}

/// The delta types a block of this type may receive; `None` for block
/// types this check does not know.
fn fitting_deltas(block: &str) -> Option<&'static [&'static str]> {
    match block {
        "text" => Some(&["text_delta", "citations_delta"]),
        "tool_use" | "server_tool_use" => Some(&["input_json_delta"]),
        "thinking" => Some(&["thinking_delta", "signature_delta"]),
        "redacted_thinking" => Some(&[]),
        _ => None,
    }
}

/// Blocks open with indices 0, 1, 2…; every delta and stop names the open
/// block; each delta's type fits its block's type.
pub(super) fn block_indices_consistent(payloads: &[Payload]) -> Finding {
    let mut open: Option<(u64, String)> = None;
    let mut opened = 0u64;
    let mut deltas = 0usize;
    for payload in payloads {
        let at = payload.at();
        let kind = payload.kind().unwrap_or_default();
        match kind {
            "content_block_start" => {
                let block = payload
                    .value
                    .get("content_block")
                    .and_then(|b| b.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                match payload.unsigned("index") {
                    Some(i) if i == opened => {}
                    _ => {
                        return Finding::fail(format!(
                            "{at} opens block index {}, but {opened} block(s) were opened before it (expected index {opened})",
                            payload.shown("index")
                        ));
                    }
                }
                open = Some((opened, block));
                opened += 1;
            }
            "content_block_delta" | "content_block_stop" => {
                let Some((index, block)) = &open else {
                    return Finding::fail(format!(
                        "{at} ({kind}) names index {}, but no block is open",
                        payload.shown("index")
                    ));
                };
                if payload.unsigned("index") != Some(*index) {
                    return Finding::fail(format!(
                        "{at} ({kind}) names index {}, but the open block is {index}",
                        payload.shown("index")
                    ));
                }
                if kind == "content_block_stop" {
                    open = None;
                    continue;
                }
                deltas += 1;
                let delta = payload
                    .value
                    .get("delta")
                    .and_then(|d| d.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or("(none)");
                if let Some(fitting) = fitting_deltas(block)
                    && !fitting.contains(&delta)
                {
                    return Finding::fail(format!(
                        "{at} carries a {delta} for block {index}, a {block:?} block (which takes {})",
                        if fitting.is_empty() {
                            "no deltas".to_string()
                        } else {
                            fitting.join(" or ")
                        }
                    ));
                }
            }
            _ => {}
        }
    }
    Finding::pass(format!(
        "{opened} block(s) indexed 0..{opened}; {deltas} delta(s), each for its open block and of a fitting type"
    ))
}

/// Output tokens never decrease from `message_start` across the
/// `message_delta`s, and input tokens never change once given.
pub(super) fn usage_never_decreases(payloads: &[Payload]) -> Finding {
    let mut output: Option<(u64, String)> = None;
    let mut input: Option<(u64, String)> = None;
    let mut seen = 0;
    for payload in payloads {
        let usage = match payload.kind() {
            Some("message_start") => payload.value.get("message").and_then(|m| m.get("usage")),
            Some("message_delta") => payload.value.get("usage"),
            _ => continue,
        };
        let at = payload.at();
        let Some(usage) = usage.filter(|u| u.is_object()) else {
            return Finding::fail(format!(
                "{at} ({}) carries no usage object",
                payload.kind().unwrap_or_default()
            ));
        };
        seen += 1;
        let Some(now) = usage.get("output_tokens").and_then(Value::as_u64) else {
            return Finding::fail(format!(
                "{at}: usage.output_tokens is not a non-negative integer (got {})",
                super::short(usage.get("output_tokens"))
            ));
        };
        if let Some((before, where_)) = &output
            && now < *before
        {
            return Finding::fail(format!(
                "{at}: usage.output_tokens falls to {now}, from {before} at {where_}"
            ));
        }
        output = Some((now, at.clone()));
        match usage.get("input_tokens").filter(|v| !v.is_null()) {
            None => {}
            Some(value) => {
                let Some(given) = value.as_u64() else {
                    return Finding::fail(format!(
                        "{at}: usage.input_tokens is not a non-negative integer (got {})",
                        super::short(Some(value))
                    ));
                };
                match &input {
                    Some((first, where_)) if *first != given => {
                        return Finding::fail(format!(
                            "{at}: usage.input_tokens is {given}, but {first} at {where_}"
                        ));
                    }
                    Some(_) => {}
                    None => input = Some((given, at)),
                }
            }
        }
    }
    match output {
        None => Finding::fail("no message_start or message_delta carries usage"),
        Some((last, _)) => Finding::pass(format!(
            "output_tokens never decrease over {seen} usage report(s), ending at {last}; input_tokens {}",
            input.map_or_else(|| "never given".into(), |(n, _)| format!("{n} throughout"))
        )),
    }
}
