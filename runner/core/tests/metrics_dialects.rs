//! Performance metrics of Anthropic Messages and OpenAI Responses
//! exchanges, from hand-written recorded streams: TTFT at the first text
//! or tool-input delta, ITL, the dialect's reported output tokens, the
//! recount, and the `protocol` class of streams that do not end as their
//! dialect ends them.

mod common;

use std::sync::LazyLock;

use common::*;
use serde_json::{Value, json};
use tokencert_core::evidence::Exchange;
use tokencert_core::metrics::{ErrorClass, ExchangeMetrics, exchange_metrics};
use tokencert_core::tokens::{Tokenizer, TokenizerSpec};

static TOKENIZER: LazyLock<Tokenizer> = LazyLock::new(|| {
    Tokenizer::load(&TokenizerSpec::O200kBase, std::path::Path::new(".")).expect("o200k_base loads")
});

const MESSAGES_URL: &str = "http://127.0.0.1:1/v1/messages";
const RESPONSES_URL: &str = "http://127.0.0.1:1/v1/responses";

fn tokens(text: &str) -> u64 {
    TOKENIZER.count(text).expect("counts") as u64
}

fn metrics(ex: &Exchange) -> ExchangeMetrics {
    exchange_metrics(ex, &TOKENIZER).expect("metrics")
}

/// A named event as the reference's capacity model sends it: a stamp
/// line, the `event:` line, the data.
fn named(name: &str, data: &Value) -> String {
    format!(": sched_ns=1000\nevent: {name}\ndata: {data}\n\n")
}

/// A streamed exchange to `url`: each piece of body arrives at its time.
fn streamed_to(url: &str, pieces: &[(u64, String)], end_ns: u64) -> Exchange {
    let mut ex = streamed(pieces, end_ns);
    ex.url = url.into();
    ex
}

// ---- Anthropic Messages ----------------------------------------------------------

fn message_start() -> String {
    named(
        "message_start",
        &json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
            "role": "assistant", "model": "m", "content": [], "stop_reason": null,
            "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    )
}

fn block_start(index: u64, block: Value) -> String {
    named(
        "content_block_start",
        &json!({"type": "content_block_start", "index": index, "content_block": block}),
    )
}

fn text_delta(text: &str) -> String {
    named(
        "content_block_delta",
        &json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": text}}),
    )
}

fn json_delta(index: u64, partial: &str) -> String {
    named(
        "content_block_delta",
        &json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": partial}}),
    )
}

fn block_stop(index: u64) -> String {
    named(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": index}),
    )
}

fn message_delta(output_tokens: u64) -> String {
    named(
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": "end_turn",
                "stop_sequence": null}, "usage": {"output_tokens": output_tokens}}),
    )
}

fn message_stop() -> String {
    named("message_stop", &json!({"type": "message_stop"}))
}

/// A text message: start, ping and block start at 100, "Hello" at 200,
/// " big world" at 300, stop events at 310.
fn message_stream(tail: &[String]) -> Vec<(u64, String)> {
    let ping = named("ping", &json!({"type": "ping"}));
    let mut pieces = vec![
        (
            100,
            message_start() + &ping + &block_start(0, json!({"type": "text", "text": ""})),
        ),
        (200, text_delta("Hello") + &text_delta("")),
        (300, text_delta(" big world")),
    ];
    pieces.push((310, tail.concat()));
    pieces
}

#[test]
fn messages_ttft_is_the_first_text_delta_and_usage_the_last_message_delta() {
    let tail = [block_stop(0), message_delta(7), message_stop()];
    let ex = streamed_to(MESSAGES_URL, &message_stream(&tail), 320);
    let m = metrics(&ex);
    assert_eq!(m.class, ErrorClass::Ok, "{:?}", m.problem);
    assert!(m.streamed);
    assert_eq!(
        m.ttft_ns,
        Some(200),
        "not message_start, ping or block start"
    );
    assert_eq!(m.e2e_ns, Some(320));
    assert_eq!(m.content_events, 2, "the empty text delta does not count");
    assert_eq!(m.itl_chunk_ns, [100]);
    assert_eq!(
        m.usage_output_tokens,
        Some(7),
        "message_delta, not message_start"
    );
    let recount = tokens("Hello big world");
    assert_eq!(m.recount_output_tokens, Some(recount));
    assert_eq!(
        m.itl_token_ns.len() as u64,
        tokens(" big world"),
        "one gap per token of the second event"
    );
    assert_eq!(m.tpot_ns, Some(120 / (recount - 1)));
}

#[test]
fn messages_tool_input_deltas_are_content_without_text() {
    let pieces = vec![
        (
            100,
            message_start()
                + &block_start(
                    0,
                    json!({"type": "tool_use", "id": "t1", "name": "f", "input": {}}),
                ),
        ),
        (150, json_delta(0, "")),
        (200, json_delta(0, "{\"city\":")),
        (300, json_delta(0, "\"Paris\"}")),
        (310, block_stop(0) + &message_delta(9) + &message_stop()),
    ];
    let m = metrics(&streamed_to(MESSAGES_URL, &pieces, 320));
    assert_eq!(m.class, ErrorClass::Ok, "{:?}", m.problem);
    assert_eq!(
        m.ttft_ns,
        Some(200),
        "an empty partial_json carries nothing"
    );
    assert_eq!(m.content_events, 2);
    assert_eq!(m.itl_chunk_ns, [100]);
    assert_eq!(m.recount_output_tokens, Some(0));
    assert_eq!(m.usage_output_tokens, Some(9));
    assert_eq!(m.tpot_ns, None);
}

#[test]
fn messages_streams_that_do_not_end_with_message_stop_are_protocol_errors() {
    let error = named(
        "error",
        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    for (tail, says) in [
        (
            vec![block_stop(0), message_delta(7)],
            "no message_stop event among the 8 events",
        ),
        (
            vec![error],
            "is an error event: overloaded_error (Overloaded)",
        ),
        (
            vec![block_stop(0), message_delta(7), message_stop(), done()],
            "follows message_stop (event 8)",
        ),
        (
            vec![
                block_stop(0),
                message_delta(7),
                "event: message_stop\ndata: {\n\n".into(),
            ],
            "is not JSON",
        ),
    ] {
        let m = metrics(&streamed_to(MESSAGES_URL, &message_stream(&tail), 320));
        assert_eq!(m.class, ErrorClass::Protocol, "{says}");
        let problem = m.problem.unwrap_or_default();
        assert!(problem.contains(says), "{problem:?} lacks {says:?}");
        assert_eq!(m.ttft_ns, None);
    }
}

#[test]
fn a_chat_stream_sent_to_the_messages_endpoint_does_not_end_properly() {
    let pieces = [(100, content("Hello")), (200, done())];
    let chat = metrics(&streamed(&pieces, 210));
    assert_eq!(chat.class, ErrorClass::Ok, "{:?}", chat.problem);
    assert_eq!(chat.ttft_ns, Some(100));
    let messages = metrics(&streamed_to(MESSAGES_URL, &pieces, 210));
    assert_eq!(messages.class, ErrorClass::Protocol);
}

#[test]
fn a_messages_body_counts_its_text_blocks() {
    let body = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "text", "text": "Hello"},
                    {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}},
                    {"type": "text", "text": " world"}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 3, "output_tokens": 12}});
    let m = metrics(&Ex::json(&body).url(MESSAGES_URL).build());
    assert_eq!(m.class, ErrorClass::Ok, "{:?}", m.problem);
    assert!(!m.streamed);
    assert_eq!(m.usage_output_tokens, Some(12));
    assert_eq!(m.recount_output_tokens, Some(tokens("Hello world")));
    assert_eq!(m.ttft_ns, None);
}

// ---- OpenAI Responses ------------------------------------------------------------

/// A Responses event with its sequence number.
fn typed(seq: u64, kind: &str, mut data: Value) -> String {
    data["type"] = kind.into();
    data["sequence_number"] = seq.into();
    named(kind, &data)
}

fn response(status: &str, output_tokens: u64) -> Value {
    json!({"id": "resp_1", "object": "response", "status": status, "model": "m", "output": [],
           "usage": {"input_tokens": 10, "output_tokens": output_tokens, "total_tokens": 10 + output_tokens,
                     "input_tokens_details": {"cached_tokens": 0},
                     "output_tokens_details": {"reasoning_tokens": 0}}})
}

fn text_event(seq: u64, delta: &str) -> String {
    typed(
        seq,
        "response.output_text.delta",
        json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": delta}),
    )
}

/// A text response: created, item and part added at 100, "Hello" at 200,
/// " big world" at 300, then `tail` at 310.
fn response_stream(tail: &[String]) -> Vec<(u64, String)> {
    let head = typed(
        0,
        "response.created",
        json!({"response": response("in_progress", 0)}),
    ) + &typed(
        1,
        "response.output_item.added",
        json!({"output_index": 0, "item": {"id": "msg_1", "type": "message", "role": "assistant",
               "status": "in_progress", "content": []}}),
    ) + &typed(
        2,
        "response.content_part.added",
        json!({"item_id": "msg_1", "output_index": 0, "content_index": 0,
               "part": {"type": "output_text", "text": "", "annotations": []}}),
    );
    vec![
        (100, head),
        (200, text_event(3, "Hello") + &text_event(4, "")),
        (300, text_event(5, " big world")),
        (310, tail.concat()),
    ]
}

fn completed(seq: u64, output_tokens: u64) -> String {
    typed(
        seq,
        "response.completed",
        json!({"response": response("completed", output_tokens)}),
    )
}

#[test]
fn responses_ttft_is_the_first_text_delta_and_usage_the_final_response() {
    let ex = streamed_to(RESPONSES_URL, &response_stream(&[completed(6, 5)]), 320);
    let m = metrics(&ex);
    assert_eq!(m.class, ErrorClass::Ok, "{:?}", m.problem);
    assert_eq!(m.ttft_ns, Some(200));
    assert_eq!(m.content_events, 2);
    assert_eq!(m.itl_chunk_ns, [100]);
    assert_eq!(m.usage_output_tokens, Some(5));
    let recount = tokens("Hello big world");
    assert_eq!(m.recount_output_tokens, Some(recount));
    assert_eq!(m.tpot_ns, Some(120 / (recount - 1)));
    // An incomplete response (max_output_tokens) ended properly too.
    let incomplete = typed(
        6,
        "response.incomplete",
        json!({"response": response("incomplete", 4)}),
    );
    let m = metrics(&streamed_to(
        RESPONSES_URL,
        &response_stream(&[incomplete]),
        320,
    ));
    assert_eq!(m.class, ErrorClass::Ok, "{:?}", m.problem);
    assert_eq!(m.usage_output_tokens, Some(4));
}

#[test]
fn responses_function_call_argument_deltas_are_content_without_text() {
    let pieces = vec![
        (
            100,
            typed(
                0,
                "response.created",
                json!({"response": response("in_progress", 0)}),
            ),
        ),
        (
            200,
            typed(
                1,
                "response.function_call_arguments.delta",
                json!({"item_id": "fc_1", "output_index": 0, "delta": "{\"a\":"}),
            ),
        ),
        (
            250,
            typed(
                2,
                "response.function_call_arguments.delta",
                json!({"item_id": "fc_1", "output_index": 0, "delta": "1}"}),
            ),
        ),
        (300, completed(3, 6)),
    ];
    let m = metrics(&streamed_to(RESPONSES_URL, &pieces, 310));
    assert_eq!(m.class, ErrorClass::Ok, "{:?}", m.problem);
    assert_eq!(m.ttft_ns, Some(200));
    assert_eq!(m.itl_chunk_ns, [50]);
    assert_eq!(m.recount_output_tokens, Some(0));
    assert_eq!(m.usage_output_tokens, Some(6));
}

#[test]
fn responses_streams_that_do_not_end_properly_are_protocol_errors() {
    let failed = typed(
        6,
        "response.failed",
        json!({"response": {"id": "resp_1", "object": "response", "status": "failed",
               "error": {"code": "server_error", "type": "server_error", "message": "boom"}}}),
    );
    let error = typed(
        6,
        "error",
        json!({"code": "rate_limit", "message": "slow down"}),
    );
    for (tail, says) in [
        (
            vec![],
            "no response.completed or response.incomplete event among the 6 events",
        ),
        (
            vec![completed(6, 5), done()],
            "is [DONE], which a Responses stream does not send",
        ),
        (vec![done()], "is [DONE]"),
        (
            vec![completed(6, 5), text_event(7, "x")],
            "follows response.completed (event 6)",
        ),
        (vec![failed], "is response.failed: server_error (boom)"),
        (vec![error], "is an error event"),
    ] {
        let m = metrics(&streamed_to(RESPONSES_URL, &response_stream(&tail), 320));
        assert_eq!(m.class, ErrorClass::Protocol, "{says}");
        let problem = m.problem.unwrap_or_default();
        assert!(problem.contains(says), "{problem:?} lacks {says:?}");
    }
}

#[test]
fn a_responses_body_counts_its_output_text_parts() {
    let mut body = response("completed", 8);
    body["output"] = json!([
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}]},
        {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "Hello", "annotations": []},
                     {"type": "refusal", "refusal": "no"},
                     {"type": "output_text", "text": " world", "annotations": []}]},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
    ]);
    let m = metrics(&Ex::json(&body).url(RESPONSES_URL).build());
    assert_eq!(m.class, ErrorClass::Ok, "{:?}", m.problem);
    assert_eq!(m.usage_output_tokens, Some(8));
    assert_eq!(m.recount_output_tokens, Some(tokens("Hello world")));
}
