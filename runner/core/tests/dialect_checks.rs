//! The checks of the named-event dialects (Anthropic Messages, OpenAI
//! Responses): each passes on a correct stream or body, fails on each way
//! of breaking it with a reason quoting the evidence, and errs on the
//! other dialect's stream.

mod common;

use common::*;
use serde_json::{Value, json};
use tokencert_core::judge::Verdict;
use tokencert_core::suite::{Check, StatusSet};

const MSG_URL: &str = "http://127.0.0.1:1/v1/messages";
const COUNT_URL: &str = "http://127.0.0.1:1/v1/messages/count_tokens";
const RSP_URL: &str = "http://127.0.0.1:1/v1/responses";

/// A named-event stream body: `event: NAME` then `data: JSON`.
fn named(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| {
            let name = e["type"].as_str().unwrap_or("?");
            format!("event: {name}\ndata: {e}\n\n")
        })
        .collect()
}

/// How a reason names event `i` of `named(events)`.
fn at(events: &[Value], i: usize) -> String {
    format!("event {i} (byte {})", named(&events[..i]).len())
}

fn msg_request() -> Value {
    json!({"model": "m", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "Say hello"}]})
}

fn message_events() -> Vec<Value> {
    vec![
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "m", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " world"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 9}}),
        json!({"type": "message_stop"}),
    ]
}

fn msg_stream(events: &[Value]) -> Ex {
    Ex::new(SSE, named(events))
        .url(MSG_URL)
        .request(&msg_request())
}

fn response(status: &str, text: &str, usage: Value) -> Value {
    json!({"id": "resp_1", "object": "response", "created_at": 1_700_000_000, "status": status, "model": "m",
        "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}],
        "usage": usage})
}

fn responses_events() -> Vec<Value> {
    let usage = json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 12});
    let mut created = response("in_progress", "", Value::Null);
    created["output"] = json!([]);
    let item = json!({"type": "message", "id": "msg_1", "status": "in_progress", "role": "assistant", "content": []});
    let part = json!({"type": "output_text", "text": "", "annotations": []});
    let events = vec![
        json!({"type": "response.created", "response": created.clone()}),
        json!({"type": "response.in_progress", "response": created}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
        json!({"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": part}),
        json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hello"}),
        json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": " world"}),
        json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": "Hello world"}),
        json!({"type": "response.content_part.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "Hello world", "annotations": []}}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": response("completed", "Hello world", Value::Null)["output"][0].clone()}),
        json!({"type": "response.completed", "response": response("completed", "Hello world", usage)}),
    ];
    events
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e["sequence_number"] = json!(i);
            e
        })
        .collect()
}

fn rsp_stream(events: &[Value]) -> Ex {
    Ex::new(SSE, named(events))
        .url(RSP_URL)
        .request(&json!({"model": "m", "stream": true, "input": "Say hello"}))
}

fn judge(check: &Check, ex: &Ex) -> tokencert_core::check::Finding {
    run(check, &recorded(&ex.build()))
}

#[track_caller]
fn verdict(check: &Check, ex: &Ex, verdict: Verdict, quotes: &[&str]) {
    expect(&check.label(), &judge(check, ex), verdict, quotes);
}

fn changed(events: &[Value], change: impl FnOnce(&mut Vec<Value>)) -> Vec<Value> {
    let mut events = events.to_vec();
    change(&mut events);
    events
}

// ---- the good streams pass every check, however they are cut ----------------------------

fn message_checks() -> Vec<Check> {
    vec![
        Check::Status(StatusSet::One(200)),
        Check::SseWellFormed,
        Check::EventsMatchSchema("anthropic.stream-event".into()),
        Check::EventNamesMatchTypes,
        Check::EventsInOrder,
        Check::BlockIndicesConsistent,
        Check::UsageNeverDecreases,
        Check::FinishReason("tool_use".into()),
        Check::ModelMatchesRequest,
        Check::NoReplacementChars,
    ]
}

fn responses_checks() -> Vec<Check> {
    vec![
        Check::Status(StatusSet::One(200)),
        Check::SseWellFormed,
        Check::EventsMatchSchema("response.stream-event".into()),
        Check::EventNamesMatchTypes,
        Check::EventsInOrder,
        Check::UsageNeverDecreases,
        Check::SequenceNumbersIncreasing,
        Check::NoDoneTerminator,
        Check::StreamTextMatchesDone,
        Check::FinishReason("completed".into()),
        Check::ModelMatchesRequest,
        Check::NoToolCalls,
    ]
}

#[test]
fn good_streams_pass_cut_at_every_byte() {
    for (ex, checks) in [
        (msg_stream(&message_events()), message_checks()),
        (rsp_stream(&responses_events()), responses_checks()),
    ] {
        for check in &checks {
            verdict(check, &ex, Verdict::Pass, &[]);
        }
        for cut in 1..ex.body.len() {
            let exchange = recorded(&ex.clone().cut_at(&[cut]).build());
            let view = tokencert_core::check::View::new(&exchange, &[]);
            for check in &checks {
                let finding = tokencert_core::check::run(check, &view, &SCHEMAS, &CONTEXT);
                expect(
                    &format!("{} cut at {cut}", check.label()),
                    &finding,
                    Verdict::Pass,
                    &[],
                );
            }
        }
    }
}

#[test]
fn a_cut_stream_fails_every_stream_check_quoting_the_cause() {
    for (ex, checks) in [
        (msg_stream(&message_events()), message_checks()),
        (rsp_stream(&responses_events()), responses_checks()),
    ] {
        for (outcome, quote) in cut_short() {
            let half = ex.body.len() / 2;
            let mut cut = ex.clone().outcome(outcome);
            cut.body.truncate(half);
            for check in checks.iter().skip(1) {
                verdict(check, &cut, Verdict::Fail, &[quote]);
            }
        }
    }
}

#[test]
fn the_dialect_checks_err_on_the_other_dialect() {
    let msg = msg_stream(&message_events());
    let rsp = rsp_stream(&responses_events());
    for check in [
        Check::SequenceNumbersIncreasing,
        Check::NoDoneTerminator,
        Check::StreamTextMatchesDone,
    ] {
        verdict(&check, &msg, Verdict::Error, &["openai-responses", MSG_URL]);
    }
    verdict(
        &Check::BlockIndicesConsistent,
        &rsp,
        Verdict::Error,
        &["anthropic-messages"],
    );
    verdict(
        &Check::EventsInOrder,
        &stream(&chunks()),
        Verdict::Error,
        &["openai-chat"],
    );
}

// ---- each check fails on its own kind of broken stream ----------------------------------

#[test]
fn event_names_match_types_fails_on_a_missing_or_different_name() {
    let events = message_events();
    let mut body = named(&events);
    body = body.replacen("event: ping\n", "event: pong\n", 1);
    let ex = Ex::new(SSE, body).url(MSG_URL).request(&msg_request());
    verdict(
        &Check::EventNamesMatchTypes,
        &ex,
        Verdict::Fail,
        &[&at(&events, 2), "named \"pong\"", "\"ping\""],
    );
    let unnamed = named(&events).replacen("event: ping\n", "", 1);
    let ex = Ex::new(SSE, unnamed).url(MSG_URL).request(&msg_request());
    verdict(
        &Check::EventNamesMatchTypes,
        &ex,
        Verdict::Fail,
        &["has no event: field", "\"ping\""],
    );
}

#[test]
fn messages_events_in_order_fails_on_each_misplaced_event() {
    let events = message_events();
    let cases: Vec<(Vec<Value>, Vec<String>)> = vec![
        (
            changed(&events, |e| e.swap(0, 1)),
            vec![at(&events, 0), "starts with message_start".into()],
        ),
        (
            changed(&events, |e| {
                e.remove(5);
            }),
            vec![at(&events, 5), "block 0 is still open".into()],
        ),
        (
            changed(&events, |e| e[6]["index"] = json!(2)),
            vec![at(&events, 6), "the next block is 1".into()],
        ),
        (
            changed(&events, |e| e[3]["index"] = json!(1)),
            vec![at(&events, 3), "the open block is 0".into()],
        ),
        (
            changed(&events, |e| {
                let delta = e[10].clone();
                e.insert(10, delta);
            }),
            vec![at(&events, 11), "message_delta was already sent".into()],
        ),
        (
            changed(&events, |e| {
                e.pop();
            }),
            vec!["without message_stop".into()],
        ),
        (
            changed(&events, |e| e.push(json!({"type": "ping"}))),
            vec![at(&events, 12), "follows the end".into()],
        ),
        (
            changed(&events, |e| {
                e.remove(10);
            }),
            vec!["before any message_delta".into()],
        ),
    ];
    for (broken, quotes) in cases {
        let quotes: Vec<&str> = quotes.iter().map(String::as_str).collect();
        verdict(
            &Check::EventsInOrder,
            &msg_stream(&broken),
            Verdict::Fail,
            &quotes,
        );
    }
    // An error event may end the stream, even right after message_start.
    let ended = changed(&events, |e| {
        e.truncate(4);
        e.push(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}));
    });
    verdict(
        &Check::EventsInOrder,
        &msg_stream(&ended),
        Verdict::Pass,
        &[],
    );
    verdict(
        &Check::FinishReason("end_turn".into()),
        &msg_stream(&ended),
        Verdict::Fail,
        &["error event", "overloaded_error"],
    );
    verdict(
        &Check::ErrorType("overloaded_error".into()),
        &msg_stream(&ended),
        Verdict::Pass,
        &[&at(&ended, 4)],
    );
}

#[test]
fn block_indices_consistent_fails_on_a_wrong_index_or_delta_type() {
    let events = message_events();
    let wrong_type = changed(&events, |e| {
        e[7]["delta"] = json!({"type": "text_delta", "text": "{"});
    });
    verdict(
        &Check::BlockIndicesConsistent,
        &msg_stream(&wrong_type),
        Verdict::Fail,
        &[&at(&events, 7), "text_delta", "\"tool_use\" block"],
    );
    let wrong_index = changed(&events, |e| e[9]["index"] = json!(0));
    verdict(
        &Check::BlockIndicesConsistent,
        &msg_stream(&wrong_index),
        Verdict::Fail,
        &[&at(&events, 9), "names index 0", "the open block is 1"],
    );
    let skipped = changed(&events, |e| {
        for event in &mut e[6..10] {
            event["index"] = json!(3);
        }
    });
    verdict(
        &Check::BlockIndicesConsistent,
        &msg_stream(&skipped),
        Verdict::Fail,
        &[&at(&events, 6), "expected index 1"],
    );
}

#[test]
fn usage_never_decreases_fails_on_falling_output_or_changing_input() {
    let events = message_events();
    let falling = changed(&events, |e| e[10]["usage"]["output_tokens"] = json!(0));
    verdict(
        &Check::UsageNeverDecreases,
        &msg_stream(&falling),
        Verdict::Fail,
        &[&at(&events, 10), "falls to 0, from 1"],
    );
    let input = changed(&events, |e| e[10]["usage"]["input_tokens"] = json!(11));
    verdict(
        &Check::UsageNeverDecreases,
        &msg_stream(&input),
        Verdict::Fail,
        &[&at(&events, 10), "input_tokens is 11, but 10"],
    );
    let rsp = responses_events();
    let early = changed(&rsp, |e| {
        e[1]["response"]["usage"] = e[9]["response"]["usage"].clone()
    });
    verdict(
        &Check::UsageNeverDecreases,
        &rsp_stream(&early),
        Verdict::Fail,
        &[&at(&rsp, 1), "before the final event"],
    );
    let none = changed(&rsp, |e| e[9]["response"]["usage"] = Value::Null);
    verdict(
        &Check::UsageNeverDecreases,
        &rsp_stream(&none),
        Verdict::Fail,
        &["carries no usage"],
    );
}

#[test]
fn responses_events_in_order_fails_on_each_misplaced_event() {
    let events = responses_events();
    let cases: Vec<(Vec<Value>, Vec<String>)> = vec![
        (
            changed(&events, |e| e.swap(0, 1)),
            vec![at(&events, 0), "starts with response.created".into()],
        ),
        (
            changed(&events, |e| {
                e.remove(7);
            }),
            vec![at(&events, 7), "content part 0 is still open".into()],
        ),
        (
            changed(&events, |e| {
                e.remove(8);
            }),
            vec![at(&events, 8), "output item 0 is still open".into()],
        ),
        (
            changed(&events, |e| e[4]["content_index"] = json!(1)),
            vec![at(&events, 4), "the open part is 0".into()],
        ),
        (
            changed(&events, |e| e[2]["output_index"] = json!(1)),
            vec![at(&events, 2), "the next item is 0".into()],
        ),
        (
            changed(&events, |e| {
                e.pop();
            }),
            vec!["without response.completed".into()],
        ),
        (
            changed(&events, |e| {
                let last = e[9].clone();
                e.push(last);
            }),
            vec![at(&events, 10), "follows the terminal event".into()],
        ),
    ];
    let queued = changed(&events, |e| {
        let mut event = e[1].clone();
        event["type"] = json!("response.queued");
        e.insert(1, event);
    });
    verdict(
        &Check::EventsInOrder,
        &rsp_stream(&queued),
        Verdict::Pass,
        &[],
    );
    let twice = changed(&events, |e| {
        let event = e[1].clone();
        e.insert(1, event);
    });
    verdict(
        &Check::EventsInOrder,
        &rsp_stream(&twice),
        Verdict::Fail,
        &[&at(&events, 2), "only once"],
    );
    for (broken, quotes) in cases {
        let quotes: Vec<&str> = quotes.iter().map(String::as_str).collect();
        verdict(
            &Check::EventsInOrder,
            &rsp_stream(&broken),
            Verdict::Fail,
            &quotes,
        );
    }
}

#[test]
fn sequence_numbers_increasing_fails_on_a_gap_a_repeat_or_none() {
    let events = responses_events();
    let gap = changed(&events, |e| e[5]["sequence_number"] = json!(6));
    verdict(
        &Check::SequenceNumbersIncreasing,
        &rsp_stream(&gap),
        Verdict::Fail,
        &[&at(&events, 5), "sequence_number 6, after 4", "expected 5"],
    );
    let none = changed(&events, |e| {
        e[3].as_object_mut().map(|o| o.remove("sequence_number"));
    });
    verdict(
        &Check::SequenceNumbersIncreasing,
        &rsp_stream(&none),
        Verdict::Fail,
        &[&at(&events, 3), "no integer sequence_number"],
    );
}

#[test]
fn no_done_terminator_fails_on_done() {
    let events = responses_events();
    let body = named(&events) + "data: [DONE]\n\n";
    let ex = Ex::new(SSE, body)
        .url(RSP_URL)
        .request(&json!({"model": "m", "stream": true, "input": "Hi"}));
    let offset = named(&events).len().to_string();
    verdict(
        &Check::NoDoneTerminator,
        &ex,
        Verdict::Fail,
        &["event 10", &offset, "[DONE]"],
    );
    // The other checks judge the events before it.
    verdict(&Check::EventsInOrder, &ex, Verdict::Pass, &[]);
}

#[test]
fn stream_text_matches_done_fails_on_text_that_differs() {
    let events = responses_events();
    let done = changed(&events, |e| e[6]["text"] = json!("Hello there"));
    verdict(
        &Check::StreamTextMatchesDone,
        &rsp_stream(&done),
        Verdict::Fail,
        &[&at(&events, 6), "\"Hello there\"", "\"Hello world\""],
    );
    let last = changed(&events, |e| {
        e[9]["response"]["output"][0]["content"][0]["text"] = json!("Hello")
    });
    verdict(
        &Check::StreamTextMatchesDone,
        &rsp_stream(&last),
        Verdict::Fail,
        &[&at(&events, 9), "output[0].content[0].text \"Hello\""],
    );
    let no_done = changed(&events, |e| {
        e.remove(6);
    });
    verdict(
        &Check::StreamTextMatchesDone,
        &rsp_stream(&no_done),
        Verdict::Fail,
        &["part 0/0", "no response.output_text.done"],
    );
}

// ---- error objects, count_tokens, honoured_or_refused --------------------------------

fn anthropic_error(status: u16, kind: &str) -> Ex {
    Ex::json(&json!({"type": "error", "error": {"type": kind, "message": "no"}}))
        .status(status)
        .url(MSG_URL)
        .request(&msg_request())
}

#[test]
fn error_type_passes_on_the_named_type_and_fails_otherwise() {
    let ex = anthropic_error(401, "authentication_error");
    verdict(
        &Check::ErrorType("authentication_error".into()),
        &ex,
        Verdict::Pass,
        &["\"authentication_error\""],
    );
    verdict(
        &Check::ErrorType("permission_error".into()),
        &ex,
        Verdict::Fail,
        &["\"authentication_error\"", "\"permission_error\""],
    );
    verdict(
        &Check::ErrorType("invalid_request_error".into()),
        &Ex::json(&error_body()).status(503),
        Verdict::Fail,
        &["\"server_error\""],
    );
    verdict(
        &Check::ErrorType("x".into()),
        &Ex::json(&completion()),
        Verdict::Fail,
        &["no error.type"],
    );
}

fn message_body(input: u64, read: u64) -> Value {
    json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "text", "text": "Hello"}], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": 1, "cache_read_input_tokens": read, "cache_creation_input_tokens": 0}})
}

#[test]
fn count_tokens_matches_compares_with_the_billed_prompt() {
    let request =
        json!({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]});
    let billed = Ex::json(&message_body(7, 3))
        .url(MSG_URL)
        .request(&request)
        .build();
    let count = |n: u64| {
        Ex::json(&json!({"input_tokens": n}))
            .url(COUNT_URL)
            .request(&request)
            .build()
    };
    let finding = run_after(
        &Check::CountTokensMatches,
        &count(10),
        std::slice::from_ref(&billed),
    );
    expect(
        "count_tokens_matches",
        &finding,
        Verdict::Pass,
        &["input_tokens 10", "billed 10"],
    );
    let finding = run_after(
        &Check::CountTokensMatches,
        &count(7),
        std::slice::from_ref(&billed),
    );
    expect(
        "count_tokens_matches",
        &finding,
        Verdict::Fail,
        &["input_tokens 7", "billed 10"],
    );
    let finding = run(&Check::CountTokensMatches, &count(7));
    expect(
        "count_tokens_matches",
        &finding,
        Verdict::Error,
        &["exactly one"],
    );
}

#[test]
fn honoured_or_refused_passes_a_refusal_or_an_honoured_request() {
    let check = Check::HonouredOrRefused(vec![
        Check::Status(StatusSet::One(200)),
        Check::FinishReason("end_turn".into()),
    ]);
    let request =
        json!({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]});
    let ok = Ex::json(&message_body(7, 0)).url(MSG_URL).request(&request);
    verdict(
        &check,
        &ok,
        Verdict::Pass,
        &["honoured", "finish_reason end_turn"],
    );
    verdict(
        &check,
        &anthropic_error(400, "invalid_request_error"),
        Verdict::Pass,
        &["refused", "anthropic.error"],
    );
    let mut ignored = message_body(7, 0);
    ignored["stop_reason"] = json!("max_tokens");
    let ignored = Ex::json(&ignored).url(MSG_URL).request(&request);
    verdict(
        &check,
        &ignored,
        Verdict::Fail,
        &[
            "neither refused",
            "finish_reason end_turn",
            "\"max_tokens\"",
        ],
    );
    // A 400 must carry the dialect's error object: OpenAI's shape is not Anthropic's.
    let wrong_shape = Ex::json(&error_body())
        .status(400)
        .url(MSG_URL)
        .request(&request);
    verdict(
        &check,
        &wrong_shape,
        Verdict::Fail,
        &["status 400", "anthropic.error"],
    );
    verdict(
        &check,
        &anthropic_error(500, "api_error"),
        Verdict::Fail,
        &["status 500"],
    );
}

#[test]
fn events_match_schema_fails_quoting_the_event_and_the_field() {
    let events = message_events();
    let bad = changed(&events, |e| e[10]["usage"]["output_tokens"] = json!("9"));
    let check = Check::EventsMatchSchema("anthropic.stream-event".into());
    verdict(
        &check,
        &msg_stream(&bad),
        Verdict::Fail,
        &[
            &at(&events, 10),
            "\"message_delta\"",
            "anthropic.stream-event",
        ],
    );
    let body = named(&events) + "data: [DONE]\n\n";
    let done = Ex::new(SSE, body).url(MSG_URL).request(&msg_request());
    verdict(&check, &done, Verdict::Fail, &["event 12", "is not JSON"]);
    let rsp = responses_events();
    let bad = changed(&rsp, |e| {
        e[4].as_object_mut().map(|o| o.remove("content_index"));
    });
    verdict(
        &Check::EventsMatchSchema("response.stream-event".into()),
        &rsp_stream(&bad),
        Verdict::Fail,
        &[&at(&rsp, 4), "response.output_text.delta"],
    );
    verdict(
        &Check::EventsMatchSchema("nope".into()),
        &rsp_stream(&rsp),
        Verdict::Error,
        &["unknown schema nope"],
    );
}

// ---- the existing output and accounting checks, in each dialect ------------------------

/// What the prompt of this chat request recounts to, as prompt_tokens_recount says.
fn chat_recount(messages: Value) -> u64 {
    let request = json!({"model": "m", "messages": messages});
    let mut body = completion();
    body["usage"] = json!({"prompt_tokens": 0, "completion_tokens": 5, "total_tokens": 5});
    let finding = run(
        &Check::PromptTokensRecount,
        &Ex::json(&body).request(&request).build(),
    );
    let reason = finding.reason;
    let tail = reason
        .split("recounts to ")
        .nth(1)
        .expect("the reason quotes the recount");
    tail.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

fn tokens(text: &str) -> u64 {
    CONTEXT.tokenizer.count(text).expect("counts") as u64
}

#[test]
fn prompt_tokens_recount_bills_each_dialect_as_the_chat_prompt() {
    let chat = chat_recount(json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello to the world"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Again, result: 42"},
    ]));
    let msg_request = json!({"model": "m", "max_tokens": 8,
    "system": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}],
    "messages": [
        {"role": "user", "content": "Say hello to the world"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
        {"role": "user", "content": [{"type": "text", "text": "Again, "}, {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "result: 42"}]}]},
    ]});
    for (cached, pass) in [(0, true), (3, true), (1, false)] {
        let input = if pass { chat - cached } else { chat + cached };
        let read = if pass { cached } else { 0 };
        let ex = Ex::json(&message_body(input, read))
            .url(MSG_URL)
            .request(&msg_request);
        let quote = format!("recounts to {chat}");
        let want = if pass { Verdict::Pass } else { Verdict::Fail };
        verdict(
            &Check::PromptTokensRecount,
            &ex,
            want,
            &[&quote, "usage.input_tokens + cache_read_input_tokens"],
        );
    }
    let chat = chat_recount(json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
    ]));
    let usage = json!({"input_tokens": chat, "output_tokens": 2, "total_tokens": chat + 2});
    for request in [
        json!({"model": "m", "instructions": "Be brief.", "input": "Say hello"}),
        json!({"model": "m", "instructions": "Be brief.", "input": [{"role": "user", "content": "Say hello"}]}),
        json!({"model": "m", "instructions": "Be brief.", "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hello"}]}]}),
    ] {
        let ex = Ex::json(&response("completed", "Hello world", usage.clone()))
            .url(RSP_URL)
            .request(&request);
        verdict(
            &Check::PromptTokensRecount,
            &ex,
            Verdict::Pass,
            &["usage.input_tokens is"],
        );
    }
    let image = json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]});
    let ex = Ex::json(&response("completed", "Hi", usage))
        .url(RSP_URL)
        .request(&image);
    verdict(
        &Check::PromptTokensRecount,
        &ex,
        Verdict::Error,
        &["input item 0 part 0 is not text"],
    );
}

#[test]
fn completion_accounting_reads_each_dialects_usage() {
    let text = "Hello world";
    let n = tokens(text);
    let request =
        json!({"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]});
    let mut body = message_body(5, 0);
    body["content"] = json!([{"type": "text", "text": text}]);
    body["usage"]["output_tokens"] = json!(n);
    let ok = Ex::json(&body).url(MSG_URL).request(&request);
    verdict(
        &Check::CompletionTokensRecount,
        &ok,
        Verdict::Pass,
        &["usage.output_tokens"],
    );
    verdict(&Check::UsageAddsUp, &ok, Verdict::Pass, &["input_tokens 5"]);
    verdict(
        &Check::CompletionTokensWithinLimit,
        &ok,
        Verdict::Pass,
        &["≤ 64"],
    );
    body["usage"]["output_tokens"] = json!(n + 4);
    let over = Ex::json(&body).url(MSG_URL).request(&request);
    verdict(
        &Check::CompletionTokensRecount,
        &over,
        Verdict::Fail,
        &["usage.output_tokens"],
    );
    body["usage"]["output_tokens"] = json!("3");
    let bad = Ex::json(&body).url(MSG_URL).request(&request);
    verdict(
        &Check::UsageAddsUp,
        &bad,
        Verdict::Fail,
        &["usage.output_tokens is not a non-negative integer"],
    );
    verdict(
        &Check::CompletionTokensRecount,
        &bad,
        Verdict::Fail,
        &["usage.output_tokens is not"],
    );

    let usage = json!({"input_tokens": 9, "output_tokens": n, "total_tokens": 9 + n, "output_tokens_details": {"reasoning_tokens": 0}});
    let request = json!({"model": "m", "input": "Hi", "max_output_tokens": 16});
    let ok = Ex::json(&response("completed", text, usage.clone()))
        .url(RSP_URL)
        .request(&request);
    verdict(
        &Check::CompletionTokensRecount,
        &ok,
        Verdict::Pass,
        &["usage.output_tokens"],
    );
    verdict(&Check::UsageAddsUp, &ok, Verdict::Pass, &["total_tokens"]);
    verdict(
        &Check::MaxTokensHonoured,
        &ok,
        Verdict::Pass,
        &["limit of 16"],
    );
    let mut wrong = usage;
    wrong["total_tokens"] = json!(1);
    let wrong = Ex::json(&response("completed", text, wrong))
        .url(RSP_URL)
        .request(&request);
    verdict(
        &Check::UsageAddsUp,
        &wrong,
        Verdict::Fail,
        &["usage.total_tokens is 1"],
    );
}

#[test]
fn stream_and_body_usage_agree_in_each_dialect() {
    // The stream of message_events() bills 10 in, 9 out; the same as a body.
    let mut request = msg_request();
    request["stream"] = json!(false);
    let events = message_events();
    let mut body = message_body(10, 0);
    body["content"] = json!([{"type": "text", "text": "Hello world"}, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]);
    body["stop_reason"] = json!("tool_use");
    body["usage"]["output_tokens"] = json!(9);
    let body = Ex::json(&body).url(MSG_URL).request(&request).build();
    let stream = msg_stream(&events).build();
    let same = run_after(
        &Check::SameOutputAsBefore,
        &stream,
        std::slice::from_ref(&body),
    );
    expect("same_output_as_before", &same, Verdict::Pass, &[]);
    let billed = tokencert_core::check::billed_usage(&stream).expect("billed");
    assert_eq!((billed.prompt, billed.completion), (10, 9));
    let changed_usage = changed(&events, |e| e[10]["usage"]["output_tokens"] = json!(8));
    let other = msg_stream(&changed_usage).build();
    let billed = tokencert_core::check::billed_usage(&other).expect("billed");
    assert_eq!(billed.completion, 8);
    let rsp = rsp_stream(&responses_events()).build();
    let billed = tokencert_core::check::billed_usage(&rsp).expect("billed");
    assert_eq!((billed.prompt, billed.completion), (10, 2));
}

fn tool_request(choice: Value) -> Value {
    json!({"model": "m", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "Weather?"}],
        "tool_choice": choice,
        "tools": [{"name": "get_weather", "input_schema": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}},
                  {"name": "get_time", "input_schema": {"type": "object", "required": ["timezone"], "properties": {"timezone": {"type": "string"}}}}]})
}

#[test]
fn tool_calls_valid_reads_each_dialects_tools_and_forced_choice() {
    let events = message_events();
    let with = |choice: Value| msg_stream(&events).request(&tool_request(choice));
    verdict(
        &Check::ToolCallsValid,
        &with(json!({"type": "any"})),
        Verdict::Pass,
        &["1 valid tool call"],
    );
    verdict(
        &Check::ToolCallsValid,
        &with(json!({"type": "tool", "name": "get_weather"})),
        Verdict::Pass,
        &[],
    );
    verdict(
        &Check::ToolCallsValid,
        &with(json!({"type": "tool", "name": "get_time"})),
        Verdict::Fail,
        &["tool_choice forces \"get_time\""],
    );
    let bad_args = changed(&events, |e| {
        e[8]["delta"]["partial_json"] = json!("\"Paris\", \"x\": 1");
    });
    verdict(
        &Check::ToolCallsValid,
        &msg_stream(&bad_args).request(&tool_request(json!({"type": "any"}))),
        Verdict::Fail,
        &["not a JSON object"],
    );
    verdict(
        &Check::NoToolCalls,
        &with(json!({"type": "any"})),
        Verdict::Fail,
        &["\"get_weather\""],
    );

    let call = json!({"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\": 3}", "status": "completed"});
    let mut body = response(
        "completed",
        "",
        json!({"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}),
    );
    body["output"] = json!([call]);
    let request = json!({"model": "m", "input": "Weather?", "tool_choice": {"type": "function", "name": "get_weather"},
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]});
    verdict(
        &Check::ToolCallsValid,
        &Ex::json(&body).url(RSP_URL).request(&request),
        Verdict::Fail,
        &["/city"],
    );
    body["output"][0]["arguments"] = json!("{\"city\": \"Paris\"}");
    verdict(
        &Check::ToolCallsValid,
        &Ex::json(&body).url(RSP_URL).request(&request),
        Verdict::Pass,
        &[],
    );
}

#[test]
fn limits_stops_and_schemas_read_each_dialects_fields() {
    let long = "one two three four five six seven eight nine ten eleven twelve";
    let mut body = message_body(5, 0);
    body["content"] = json!([{"type": "text", "text": long}]);
    body["stop_reason"] = json!("max_tokens");
    let request = json!({"model": "m", "max_tokens": 3, "stop_sequences": ["seven"], "messages": [{"role": "user", "content": "Count"}]});
    let ex = Ex::json(&body).url(MSG_URL).request(&request);
    verdict(
        &Check::MaxTokensHonoured,
        &ex,
        Verdict::Fail,
        &["over the limit of 3"],
    );
    verdict(&Check::StopHonoured, &ex, Verdict::Fail, &["\"seven\""]);
    verdict(
        &Check::FinishReason("max_tokens".into()),
        &ex,
        Verdict::Pass,
        &[],
    );

    let schema =
        json!({"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}});
    let request = json!({"model": "m", "input": "City?", "max_output_tokens": 2,
        "text": {"format": {"type": "json_schema", "name": "city", "schema": schema}}});
    let usage = json!({"input_tokens": 1, "output_tokens": 9, "total_tokens": 10});
    let good = Ex::json(&response(
        "completed",
        "{\"city\": \"Paris\"}",
        usage.clone(),
    ))
    .url(RSP_URL)
    .request(&request);
    verdict(
        &Check::ContentMatchesRequestedSchema,
        &good,
        Verdict::Pass,
        &[],
    );
    let bad = Ex::json(&response(
        "completed",
        "{\"town\": \"Paris\"}",
        usage.clone(),
    ))
    .url(RSP_URL)
    .request(&request);
    verdict(
        &Check::ContentMatchesRequestedSchema,
        &bad,
        Verdict::Fail,
        &["city"],
    );
    verdict(
        &Check::MaxTokensHonoured,
        &good,
        Verdict::Fail,
        &["over the limit of 2"],
    );
    let mut cut = response("incomplete", "{\"city\": \"Pa", usage);
    cut["incomplete_details"] = json!({"reason": "max_output_tokens"});
    let cut = Ex::json(&cut).url(RSP_URL).request(&request);
    verdict(
        &Check::FinishReason("max_output_tokens".into()),
        &cut,
        Verdict::Pass,
        &[],
    );
    verdict(
        &Check::ContentMatchesRequestedSchema,
        &cut,
        Verdict::Error,
        &["cut off"],
    );
    let no_limit = Ex::json(&response(
        "completed",
        "Hi",
        json!({"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}),
    ))
    .url(RSP_URL)
    .request(&json!({"model": "m", "input": "Hi"}));
    verdict(
        &Check::MaxTokensHonoured,
        &no_limit,
        Verdict::Error,
        &["max_output_tokens"],
    );
}

#[test]
fn refusals_and_cached_tokens_in_each_dialect() {
    verdict(
        &Check::IgnoredOrRefused,
        &anthropic_error(400, "invalid_request_error"),
        Verdict::Pass,
        &["refused"],
    );
    let openai_shaped = Ex::json(&error_body()).status(400).url(MSG_URL);
    verdict(
        &Check::IgnoredOrRefused,
        &openai_shaped,
        Verdict::Fail,
        &["anthropic.error"],
    );
    let rsp_error = Ex::json(&error_body()).status(400).url(RSP_URL);
    verdict(
        &Check::IgnoredOrRefused,
        &rsp_error,
        Verdict::Pass,
        &["refused"],
    );

    let request =
        json!({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]});
    let first = Ex::json(&message_body(10, 0))
        .url(MSG_URL)
        .request(&request)
        .build();
    let cached = Ex::json(&message_body(2, 8))
        .url(MSG_URL)
        .request(&request)
        .build();
    let finding = run_after(
        &Check::CachedTokensReported,
        &cached,
        std::slice::from_ref(&first),
    );
    expect(
        "cached_tokens_reported",
        &finding,
        Verdict::Pass,
        &["8 of 10"],
    );
    let finding = run_after(
        &Check::CachedTokensReported,
        &first,
        std::slice::from_ref(&first),
    );
    expect(
        "cached_tokens_reported",
        &finding,
        Verdict::Fail,
        &["usage.cache_read_input_tokens"],
    );
}

// ---- hostile input -------------------------------------------------------------------

/// Every check of both dialects, on streams and bodies broken byte by byte,
/// gives a verdict and never panics.
#[test]
fn no_check_panics_on_mangled_streams_or_bodies() {
    let mut checks = message_checks();
    checks.extend(responses_checks());
    checks.extend([
        Check::UsageAddsUp,
        Check::ToolCallsValid,
        Check::MaxTokensHonoured,
        Check::StopHonoured,
        Check::PromptTokensRecount,
        Check::CompletionTokensRecount,
        Check::ContentMatchesRequestedSchema,
        Check::ErrorType("api_error".into()),
        Check::CountTokensMatches,
        Check::IgnoredOrRefused,
        Check::HonouredOrRefused(vec![
            Check::Status(StatusSet::One(200)),
            Check::EventsInOrder,
        ]),
    ]);
    let mut tool = message_body(3, 1);
    tool["content"] =
        json!([{"type": "tool_use", "id": "t", "name": "get_weather", "input": {"city": "x"}}]);
    let bodies = [
        msg_stream(&message_events()),
        rsp_stream(&responses_events()),
        Ex::json(&tool)
            .url(MSG_URL)
            .request(&tool_request(json!({"type": "any"}))),
        Ex::json(&response("incomplete", "x", json!({"input_tokens": 1}))).url(RSP_URL),
    ];
    let replacements: [&[u8]; 6] = [
        b"",
        b"\n\n",
        b"\"",
        b"9999999999999999999999",
        b"\xff",
        b"{",
    ];
    for ex in bodies {
        let len = ex.body.len();
        for at in (0..len).step_by(7) {
            for with in replacements {
                let mut mangled = ex.clone();
                let end = (at + 3).min(len);
                mangled.body.splice(at..end, with.iter().copied());
                let exchange = mangled.build();
                let view =
                    tokencert_core::check::View::new(&exchange, std::slice::from_ref(&exchange));
                for check in &checks {
                    let _ = tokencert_core::check::run(check, &view, &SCHEMAS, &CONTEXT);
                }
            }
        }
    }
}

#[test]
fn a_choice_that_used_the_whole_limit_cannot_fail_a_natural_end() {
    let end_turn = Check::FinishReason("end_turn".into());
    let cut = |output_tokens: u64| {
        let mut body = message_body(7, 0);
        body["stop_reason"] = json!("max_tokens");
        body["usage"]["output_tokens"] = json!(output_tokens);
        Ex::json(&body).url(MSG_URL).request(
            &json!({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}),
        )
    };
    // It used all 8 tokens: whether it would have ended cannot be told.
    verdict(
        &end_turn,
        &cut(8),
        Verdict::Error,
        &["limit of 8 tokens", "cannot be judged"],
    );
    // It stopped short of the limit and still says max_tokens: a false reason.
    verdict(
        &end_turn,
        &cut(3),
        Verdict::Fail,
        &["finish_reason \"max_tokens\", expected \"end_turn\""],
    );
    // Expecting the limit reason itself is judged as before.
    verdict(
        &Check::FinishReason("max_tokens".into()),
        &cut(8),
        Verdict::Pass,
        &[],
    );
    let completed = Check::FinishReason("completed".into());
    let incomplete = |output_tokens: u64| {
        let usage = json!({"input_tokens": 5, "output_tokens": output_tokens, "total_tokens": 5 + output_tokens});
        let mut body = response("incomplete", "Hello", usage);
        body["incomplete_details"] = json!({"reason": "max_output_tokens"});
        Ex::json(&body)
            .url(RSP_URL)
            .request(&json!({"model": "m", "max_output_tokens": 16, "input": "Say hello"}))
    };
    verdict(
        &completed,
        &incomplete(16),
        Verdict::Error,
        &["limit of 16 tokens"],
    );
    verdict(
        &completed,
        &incomplete(2),
        Verdict::Fail,
        &["expected \"completed\""],
    );
}
