//! The named checks, one hand-built exchange at a time: a correct exchange
//! passes; each way of breaking it fails with a reason that quotes the
//! evidence; no response is an error; a body cut short is never a pass.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{Value, json};
use tokencert_core::judge::{self, Verdict};
use tokencert_core::suite::{Capability, Check, StatusSet};

const CHUNK_SCHEMA: &str = "chat.completion.chunk";

/// The correct stream with one chunk changed.
fn stream_with(i: usize, change: impl FnOnce(&mut Value)) -> (Ex, Vec<String>) {
    let mut chunks = chunks();
    change(&mut chunks[i]);
    let datas = datas(&chunks);
    (Ex::sse(&datas), datas)
}

/// The correct stream with event `i`'s data replaced by raw text.
fn stream_with_data(i: usize, data: &str) -> (Ex, Vec<String>) {
    let mut datas = datas(&chunks());
    datas[i] = data.into();
    (Ex::sse(&datas), datas)
}

/// Usage objects that do not add up, with what the reason must quote.
fn bad_usages() -> Vec<(Value, Vec<&'static str>)> {
    let usage = |p: Value, c: Value, t: Value| json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": t});
    vec![
        (
            usage(json!(10), json!(5), json!(16)),
            vec!["usage.total_tokens is 16", "10 + 5"],
        ),
        (
            usage(json!(10), json!(5), json!(14)),
            vec!["usage.total_tokens is 14", "10 + 5"],
        ),
        (
            usage(json!(10.0), json!(5), json!(15)),
            vec!["usage.prompt_tokens", "10.0"],
        ),
        (
            usage(json!(10), json!(5), json!(15.5)),
            vec!["usage.total_tokens", "15.5"],
        ),
        (
            usage(json!(11), json!(-1), json!(10)),
            vec!["usage.completion_tokens", "-1"],
        ),
        (
            usage(json!(10), json!(5), json!("15")),
            vec!["usage.total_tokens", "\"15\""],
        ),
        (
            json!({"prompt_tokens": 10, "total_tokens": 15}),
            vec!["usage.completion_tokens", "nothing"],
        ),
        (
            usage(json!(u64::MAX), json!(1), json!(0)),
            vec!["usage.total_tokens is 0", "18446744073709551615 + 1"],
        ),
    ]
}

// ---- running checks ----------------------------------------------------------

fn stream_checks() -> Vec<Check> {
    vec![
        Check::SseWellFormed,
        Check::ChunksMatchSchema(CHUNK_SCHEMA.into()),
        Check::TerminatedByDone,
        Check::OneRolePerChoice,
        Check::ConsistentChunkIds,
        Check::StreamUsageLast,
    ]
}

/// Every check variant with an exchange it passes; the first two judge only the head.
fn every_check() -> Vec<(Check, Ex)> {
    let mut all = vec![
        (Check::Status(StatusSet::One(200)), stream(&chunks())),
        (
            Check::ContentType("text/event-stream".into()),
            stream(&chunks()),
        ),
        (
            Check::JsonSchema("chat.completion".into()),
            Ex::json(&completion()),
        ),
        (Check::UsageAddsUp, Ex::json(&completion())),
    ];
    all.extend(stream_checks().into_iter().map(|c| (c, stream(&chunks()))));
    all
}

// ---- every check ---------------------------------------------------------------

#[test]
fn every_check_passes_a_correct_exchange_however_it_was_chunked() {
    for (check, ex) in every_check() {
        passes(&check, &ex, &[]);
        let every_byte: Vec<usize> = (0..ex.body.len()).collect();
        passes(&check, &ex.clone().cut_at(&every_byte), &[]);
    }
}

#[test]
fn every_check_is_an_error_without_a_response() {
    for (check, _) in every_check() {
        expect_on(&check, &refused(), Verdict::Error, &["connection refused"]);
        expect_on(
            &check,
            &unanswered(None),
            Verdict::Error,
            &["recording ends"],
        );
    }
}

#[test]
fn every_body_check_fails_on_a_body_cut_short_quoting_the_cause() {
    for (check, ex) in every_check().into_iter().skip(2) {
        for (outcome, cause) in cut_short() {
            let received = format!("({} bytes received)", ex.body.len());
            fails(&check, &ex.clone().outcome(outcome), &[cause, &received]);
        }
    }
}

#[test]
fn head_checks_judge_the_head_even_when_the_body_is_cut_short() {
    for (check, ex) in every_check().into_iter().take(2) {
        for (outcome, _) in cut_short() {
            passes(&check, &ex.clone().outcome(outcome), &[]);
        }
    }
}

#[test]
fn an_emoji_split_across_recorded_chunks_still_passes() {
    let ex = stream(&chunks());
    let emoji = "😀".as_bytes();
    let start = ex
        .body
        .windows(emoji.len())
        .position(|w| w == emoji)
        .expect("the stream carries the emoji");
    for cut in start + 1..start + emoji.len() {
        let split = ex.clone().cut_at(&[cut]);
        let exchange = split.build();
        assert!(std::str::from_utf8(&exchange.chunks[0].bytes).is_err());
        let read_back = recorded(&exchange);
        assert_eq!(read_back, exchange, "the evidence file round-trips");
        for check in stream_checks() {
            expect_on(&check, &read_back, Verdict::Pass, &[]);
        }
    }
}

#[test]
fn crlf_line_endings_pass() {
    let body = sse_body(&datas(&chunks())).replace('\n', "\r\n");
    let ex = Ex::new(SSE, body).cut_at(&[7, 8, 100]);
    for check in stream_checks() {
        passes(&check, &ex, &[]);
    }
}

#[test]
fn judging_is_deterministic() {
    let context = common::context(BTreeSet::from([Capability::Auth]));
    let (broken, _) = stream_with(2, |c| c["id"] = json!("chatcmpl-2"));
    let exchanges = [
        stream(&chunks()).build(),
        broken.build(),
        Ex::json(&completion()).build(),
        Ex::json(&error_body()).status(401).build(),
        stream(&chunks()).outcome(None).build(),
        refused(),
    ];
    for case in &SUITE.cases {
        for exchange in &exchanges {
            let first = judge::judge_case(&SUITE, case, &context, Some(Ok(vec![exchange.clone()])));
            let again = judge::judge_case(&SUITE, case, &context, Some(Ok(vec![exchange.clone()])));
            assert_eq!(first, again, "{}", case.id);
        }
    }
    let case = SUITE
        .case("acc.usage.stream-include-usage")
        .expect("the suite has the stream usage case");
    let result = judge::judge_case(&SUITE, case, &context, Some(Ok(vec![exchanges[0].clone()])));
    assert_eq!(result.verdict, Verdict::Pass, "{}", result.reason);
}

// ---- status ------------------------------------------------------------------------

#[test]
fn status_passes_on_the_expected_code() {
    passes(
        &Check::Status(StatusSet::One(401)),
        &Ex::json(&error_body()).status(401),
        &["401"],
    );
}

#[test]
fn status_fails_quoting_the_code_and_the_body() {
    let ex = Ex::json(&error_body()).status(503);
    fails(
        &Check::Status(StatusSet::One(200)),
        &ex,
        &["expected status 200", "got 503", "overloaded"],
    );
    let long = Ex::new("text/plain", "x".repeat(1000)).status(500);
    fails(
        &Check::Status(StatusSet::One(200)),
        &long,
        &["got 500", "…"],
    );
}

// ---- content_type ------------------------------------------------------------------

#[test]
fn content_type_ignores_parameters_and_case() {
    let check = Check::ContentType("text/event-stream".into());
    let ex = stream(&chunks()).headers(&[("content-TYPE", "Text/Event-Stream ; charset=utf-8")]);
    passes(&check, &ex, &["Text/Event-Stream"]);
}

#[test]
fn content_type_fails_on_another_type_or_none() {
    let check = Check::ContentType("text/event-stream".into());
    let json = stream(&chunks()).headers(&[("Content-Type", "application/json")]);
    fails(&check, &json, &["\"application/json\""]);
    let longer = stream(&chunks()).headers(&[("Content-Type", "text/event-streams")]);
    fails(&check, &longer, &["text/event-streams"]);
    let absent = stream(&chunks()).headers(&[("X-Other", "text/event-stream")]);
    fails(&check, &absent, &["absent"]);
}

// ---- json_schema ---------------------------------------------------------------------

#[test]
fn json_schema_passes_each_body_shape() {
    let models = json!({"object": "list", "data": [{"id": "m", "object": "model", "created": 0, "owned_by": "me"}]});
    for (schema, body) in [
        ("chat.completion", completion()),
        ("error", error_body()),
        ("model.list", models),
    ] {
        passes(
            &Check::JsonSchema(schema.into()),
            &Ex::json(&body),
            &[schema],
        );
    }
}

#[test]
fn json_schema_fails_quoting_the_field() {
    let check = Check::JsonSchema("chat.completion".into());
    let mut missing = completion();
    missing
        .as_object_mut()
        .expect("an object")
        .remove("choices");
    fails(&check, &Ex::json(&missing), &["choices"]);
    let mut wrong = completion();
    wrong["object"] = json!("chat.completion.chunk");
    fails(&check, &Ex::json(&wrong), &["/object"]);
    let mut role = completion();
    role["choices"][0]["message"]["role"] = json!("user");
    fails(&check, &Ex::json(&role), &["/choices/0/message/role"]);
}

#[test]
fn json_schema_fails_on_a_body_that_is_not_json() {
    let check = Check::JsonSchema("chat.completion".into());
    let html = Ex::new("text/html", "<html>Bad Gateway</html>");
    fails(&check, &html, &["not JSON", "<html>Bad Gateway"]);
    let trailing = Ex::new("application/json", format!("{} x", completion()));
    fails(&check, &trailing, &["not JSON", "trailing"]);
    fails(&check, &stream(&chunks()), &["not JSON", "data: "]);
}

#[test]
fn json_schema_errs_on_an_unknown_schema() {
    errs(
        &Check::JsonSchema("nope".into()),
        &Ex::json(&completion()),
        &["unknown schema nope"],
    );
}

// ---- usage_adds_up ---------------------------------------------------------------------

#[test]
fn usage_adds_up_passes_quoting_the_sum() {
    passes(
        &Check::UsageAddsUp,
        &Ex::json(&completion()),
        &["10 + 5 = 15"],
    );
}

#[test]
fn usage_adds_up_fails_on_usage_that_does_not_add_up() {
    for (usage, quotes) in bad_usages() {
        let mut body = completion();
        body["usage"] = usage;
        fails(&Check::UsageAddsUp, &Ex::json(&body), &quotes);
    }
}

#[test]
fn usage_adds_up_fails_without_usage_or_json() {
    for usage in [None, Some(Value::Null), Some(json!(15))] {
        let mut body = completion();
        match usage {
            Some(u) => body["usage"] = u,
            None => {
                body.as_object_mut().expect("an object").remove("usage");
            }
        }
        fails(&Check::UsageAddsUp, &Ex::json(&body), &["no usage object"]);
    }
    fails(
        &Check::UsageAddsUp,
        &Ex::new("application/json", "{\"usage\":"),
        &["not JSON"],
    );
}

// ---- sse_well_formed ----------------------------------------------------------------------

#[test]
fn sse_well_formed_passes_quoting_the_counts() {
    let ex = stream(&chunks());
    let quote = format!("5 events and 0 comment lines in {} bytes", ex.body.len());
    passes(&Check::SseWellFormed, &ex, &[&quote]);
    let pings = Ex::new(SSE, format!(": ping\n\n{}", sse_body(&datas(&chunks()))));
    passes(&Check::SseWellFormed, &pings, &["1 comment lines"]);
}

#[test]
fn sse_well_formed_fails_on_invalid_utf8_quoting_the_byte() {
    let mut body = sse_body(&datas(&chunks())).into_bytes();
    let at = body.iter().position(|&b| b == b'H').expect("has content");
    body[at] = 0xFF;
    fails(
        &Check::SseWellFormed,
        &Ex::new(SSE, body),
        &[&format!("invalid UTF-8 at byte {at}")],
    );
}

#[test]
fn sse_well_formed_fails_on_an_unterminated_final_event() {
    let datas = datas(&chunks());
    let done_at = sse_body(&datas[..4]).len();
    let body = sse_body(&datas);
    for end in ["\n", ""] {
        let cut = format!("{}{end}", body.trim_end_matches('\n'));
        let quote = format!("event starting at byte {done_at}");
        fails(&Check::SseWellFormed, &Ex::new(SSE, cut), &[&quote]);
    }
    let no_lf = body.trim_end_matches('\n').to_string();
    fails(
        &Check::SseWellFormed,
        &Ex::new(SSE, no_lf),
        &[&format!("line starting at byte {done_at}")],
    );
}

#[test]
fn sse_well_formed_fails_on_other_problems() {
    let bom = Ex::new(SSE, "data: a\n\n\u{FEFF}data: b\n\n");
    fails(&Check::SseWellFormed, &bom, &["byte order mark", "byte 9"]);
    let retry = Ex::new(SSE, "retry: soon\ndata: a\n\n");
    fails(&Check::SseWellFormed, &retry, &["retry field at byte 0"]);
    let many = Ex::new(
        SSE,
        "retry: a\nretry: b\nretry: c\nretry: d\nretry: e\ndata: x\n\n",
    );
    fails(&Check::SseWellFormed, &many, &["and 2 more"]);
    fails(&Check::SseWellFormed, &Ex::new(SSE, ""), &["empty"]);
}

// ---- chunks_match_schema -------------------------------------------------------------------

#[test]
fn chunks_match_schema_passes_quoting_the_count() {
    let check = Check::ChunksMatchSchema(CHUNK_SCHEMA.into());
    passes(
        &check,
        &stream(&chunks()),
        &["4 chunks match chat.completion.chunk"],
    );
}

#[test]
fn chunks_match_schema_fails_on_a_chunk_that_is_not_json() {
    let check = Check::ChunksMatchSchema(CHUNK_SCHEMA.into());
    let (ex, datas) = stream_with_data(1, "{\"id\": oops}");
    fails(&check, &ex, &[&at(&datas, 1), "is not JSON"]);
}

#[test]
fn chunks_match_schema_fails_on_a_chunk_of_the_wrong_shape() {
    let check = Check::ChunksMatchSchema(CHUNK_SCHEMA.into());
    let (ex, datas) = stream_with(2, |c| c["object"] = json!("chat.completion"));
    fails(&check, &ex, &[&at(&datas, 2), "does not match", "/object"]);
    let (ex, datas) = stream_with(0, |c| c["choices"][0]["delta"]["role"] = json!("user"));
    fails(&check, &ex, &[&at(&datas, 0), "/choices/0/delta/role"]);
    let (ex, datas) = stream_with(3, |c| c["usage"]["total_tokens"] = json!(-1));
    fails(&check, &ex, &[&at(&datas, 3), "/usage"]);
}

#[test]
fn chunks_match_schema_fails_without_chunks() {
    let check = Check::ChunksMatchSchema(CHUNK_SCHEMA.into());
    fails(&check, &stream(&[]), &["no chunk events"]);
}

#[test]
fn chunks_match_schema_errs_on_an_unknown_schema() {
    errs(
        &Check::ChunksMatchSchema("nope".into()),
        &stream(&chunks()),
        &["unknown schema nope"],
    );
}

// ---- terminated_by_done --------------------------------------------------------------------

#[test]
fn terminated_by_done_passes_quoting_the_event() {
    let datas = datas(&chunks());
    passes(
        &Check::TerminatedByDone,
        &Ex::sse(&datas),
        &[&at(&datas, 4), "[DONE]"],
    );
}

#[test]
fn terminated_by_done_fails_when_done_is_missing() {
    let mut datas = datas(&chunks());
    datas.pop();
    fails(
        &Check::TerminatedByDone,
        &Ex::sse(&datas),
        &["no [DONE]", &at(&datas, 3)],
    );
    let unterminated = sse_body(&datas) + "data: [DONE]\n";
    fails(
        &Check::TerminatedByDone,
        &Ex::new(SSE, unterminated),
        &["no [DONE]"],
    );
    let nothing = Ex::new(SSE, ": ping\n\n");
    fails(&Check::TerminatedByDone, &nothing, &["no events at all"]);
}

#[test]
fn terminated_by_done_fails_on_an_event_after_done() {
    let mut datas = datas(&chunks());
    datas.push(chunks()[3].to_string());
    let first_after = sse_body(&datas[..5]).len().to_string();
    fails(
        &Check::TerminatedByDone,
        &Ex::sse(&datas),
        &["1 event(s) follow [DONE] (event 4)", &first_after],
    );
}

// ---- one_role_per_choice -------------------------------------------------------------------

#[test]
fn one_role_per_choice_passes_on_one_role_per_choice() {
    passes(
        &Check::OneRolePerChoice,
        &stream(&chunks()),
        &["1 choice(s)"],
    );
    let (ex, _) = stream_with(1, |c| c["choices"][0]["delta"]["role"] = Value::Null);
    passes(&Check::OneRolePerChoice, &ex, &[]);
    // Two choices, interleaved, each with its role in its own first chunk.
    let second = |delta: Value| {
        let mut c = chunk(delta, Value::Null);
        c["choices"][0]["index"] = json!(1);
        c
    };
    let mut two = chunks();
    two.insert(1, second(json!({"role": "assistant"})));
    two.insert(3, second(json!({"content": "Hi"})));
    passes(&Check::OneRolePerChoice, &stream(&two), &["2 choice(s)"]);
}

#[test]
fn one_role_per_choice_fails_on_a_repeated_role() {
    let (ex, datas) = stream_with(2, |c| c["choices"][0]["delta"]["role"] = json!("assistant"));
    let quotes = [
        "choice 0 carries a role again",
        &at(&datas, 2),
        &format!("first at {}", at(&datas, 0)),
    ];
    fails(&Check::OneRolePerChoice, &ex, &quotes);
}

#[test]
fn one_role_per_choice_fails_on_a_missing_role() {
    let (ex, _) = stream_with(0, |c| c["choices"][0]["delta"] = json!({"content": ""}));
    fails(
        &Check::OneRolePerChoice,
        &ex,
        &["choice 0 never carries a role"],
    );
    let mut chunks = chunks();
    let mut second = chunk(json!({"content": "Hi"}), Value::Null);
    second["choices"][0]["index"] = json!(1);
    chunks.insert(1, second);
    fails(
        &Check::OneRolePerChoice,
        &stream(&chunks),
        &["choice 1 never carries a role"],
    );
}

#[test]
fn one_role_per_choice_fails_on_a_role_after_the_first_chunk() {
    let mut chunks = chunks();
    chunks[0]["choices"][0]["delta"] = json!({"content": ""});
    chunks[1]["choices"][0]["delta"]["role"] = json!("assistant");
    let datas = datas(&chunks);
    fails(
        &Check::OneRolePerChoice,
        &Ex::sse(&datas),
        &[&at(&datas, 1), "not in its first chunk"],
    );
}

#[test]
fn one_role_per_choice_fails_or_errs_on_chunks_it_cannot_read() {
    let mut none = chunks();
    for c in &mut none {
        c["choices"] = json!([]);
    }
    fails(
        &Check::OneRolePerChoice,
        &stream(&none),
        &["no chunk carries a choice"],
    );
    let (ex, datas) = stream_with(1, |c| {
        c["choices"][0]
            .as_object_mut()
            .expect("an object")
            .remove("index");
    });
    errs(
        &Check::OneRolePerChoice,
        &ex,
        &[&at(&datas, 1), "no integer index"],
    );
}

// ---- consistent_chunk_ids ------------------------------------------------------------------

#[test]
fn consistent_chunk_ids_passes_quoting_the_id() {
    passes(
        &Check::ConsistentChunkIds,
        &stream(&chunks()),
        &["4 chunks share id \"chatcmpl-1\""],
    );
}

#[test]
fn consistent_chunk_ids_fails_on_a_changing_field() {
    for (i, field, value, quote) in [
        (2, "id", json!("chatcmpl-2"), "\"chatcmpl-2\""),
        (3, "model", json!("other"), "\"other\""),
        (1, "created", json!(1_700_000_001), "1700000001"),
        (2, "id", Value::Null, "null"),
    ] {
        let (ex, datas) = stream_with(i, |c| c[field] = value);
        let first = format!("{field} is {} at {}", chunks()[0][field], at(&datas, 0));
        fails(
            &Check::ConsistentChunkIds,
            &ex,
            &[&first, &format!("{quote} at {}", at(&datas, i))],
        );
    }
    let (ex, datas) = stream_with(1, |c| {
        c.as_object_mut().expect("an object").remove("model");
    });
    fails(
        &Check::ConsistentChunkIds,
        &ex,
        &["model is \"m\"", &format!("absent at {}", at(&datas, 1))],
    );
}

// ---- stream_usage_last ---------------------------------------------------------------------

#[test]
fn stream_usage_last_passes_quoting_the_usage_chunk() {
    let datas = datas(&chunks());
    passes(
        &Check::StreamUsageLast,
        &Ex::sse(&datas),
        &[&at(&datas, 3), "10 + 5 = 15"],
    );
    let (ex, _) = stream_with(1, |c| c["usage"] = Value::Null);
    passes(&Check::StreamUsageLast, &ex, &[]);
}

#[test]
fn stream_usage_last_fails_on_usage_before_the_last_chunk() {
    let usage = chunks()[3]["usage"].clone();
    let (ex, datas) = stream_with(1, |c| c["usage"] = usage);
    fails(
        &Check::StreamUsageLast,
        &ex,
        &[&at(&datas, 1), "usage before the last chunk"],
    );
}

#[test]
fn stream_usage_last_fails_without_a_usage_chunk() {
    let mut chunks = chunks();
    chunks.pop();
    let datas = datas(&chunks);
    fails(
        &Check::StreamUsageLast,
        &Ex::sse(&datas),
        &[&at(&datas, 2), "no usage object"],
    );
}

#[test]
fn stream_usage_last_fails_when_the_usage_chunk_has_choices() {
    let choice = chunks()[2]["choices"].clone();
    let (ex, datas) = stream_with(3, |c| c["choices"] = choice);
    fails(
        &Check::StreamUsageLast,
        &ex,
        &[&at(&datas, 3), "does not have empty choices"],
    );
    let (ex, datas) = stream_with(3, |c| {
        c.as_object_mut().expect("an object").remove("choices");
    });
    fails(
        &Check::StreamUsageLast,
        &ex,
        &[&at(&datas, 3), "does not have empty choices"],
    );
}

#[test]
fn stream_usage_last_fails_on_usage_that_does_not_add_up() {
    for (usage, quotes) in bad_usages() {
        let (ex, datas) = stream_with(3, |c| c["usage"] = usage);
        let place = at(&datas, 3);
        let mut quotes: Vec<&str> = quotes;
        quotes.push(&place);
        fails(&Check::StreamUsageLast, &ex, &quotes);
    }
}

#[test]
fn content_checks_err_on_a_chunk_that_is_not_json() {
    for check in [
        Check::OneRolePerChoice,
        Check::ConsistentChunkIds,
        Check::StreamUsageLast,
    ] {
        let (ex, datas) = stream_with_data(2, "not json");
        errs(&check, &ex, &["cannot judge", &at(&datas, 2), "not JSON"]);
    }
}

#[test]
fn content_checks_fail_on_a_stream_without_chunks() {
    for check in [
        Check::OneRolePerChoice,
        Check::ConsistentChunkIds,
        Check::StreamUsageLast,
    ] {
        fails(&check, &stream(&[]), &["no chunk events"]);
    }
}

// ---- defects found while writing these tests, now fixed ----------------------

#[test]
fn one_role_per_choice_fails_on_a_role_other_than_assistant() {
    let (ex, datas) = stream_with(0, |c| c["choices"][0]["delta"]["role"] = json!("user"));
    fails(&Check::OneRolePerChoice, &ex, &[&at(&datas, 0), "\"user\""]);
}

#[test]
fn consistent_chunk_ids_fails_when_no_chunk_carries_an_id() {
    let mut chunks = chunks();
    for c in &mut chunks {
        c.as_object_mut().expect("an object").remove("id");
    }
    let datas = datas(&chunks);
    fails(
        &Check::ConsistentChunkIds,
        &Ex::sse(&datas),
        &["has no id", &at(&datas, 0)],
    );
}

#[test]
fn stream_usage_last_fails_on_usage_sent_after_done() {
    let mut datas = datas(&chunks());
    datas.swap(3, 4);
    fails(
        &Check::StreamUsageLast,
        &Ex::sse(&datas),
        &[&at(&datas, 2), "no usage object"],
    );
}

#[test]
fn a_huge_body_failing_its_schema_gives_a_bounded_reason() {
    let huge = json!({"object": "x".repeat(1_000_000)});
    let finding = run(
        &Check::JsonSchema("chat.completion".into()),
        &Ex::json(&huge).build(),
    );
    assert_eq!(finding.verdict, Verdict::Fail);
    assert!(
        finding.reason.len() < 2_000,
        "reason of {} bytes",
        finding.reason.len()
    );
}
