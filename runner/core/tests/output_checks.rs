//! The checks that judge a response against its request: what a client
//! assembles per choice (text, tool calls, finish reason, log
//! probabilities), the error object, the credentials and the model named.
//! Each passes on a correct exchange, in every shape it applies to (chat
//! and legacy completions, streamed or not), and fails on each way of
//! breaking it with a reason that quotes the evidence; it errs where the
//! request gives it nothing to judge by.

mod common;

use common::*;
use serde_json::{Value, json};
use tokencert_core::evidence::{Exchange, Outcome};
use tokencert_core::judge::Verdict;
use tokencert_core::suite::{Check, StatusSet, WRONG_KEY};

// ---- shapes of output ----------------------------------------------------------

/// The four forms an output comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Chat,
    ChatStream,
    Text,
    TextStream,
}

const SHAPES: [Shape; 4] = [
    Shape::Chat,
    Shape::ChatStream,
    Shape::Text,
    Shape::TextStream,
];

impl Shape {
    fn streamed(self) -> bool {
        matches!(self, Shape::ChatStream | Shape::TextStream)
    }
    fn chat(self) -> bool {
        matches!(self, Shape::Chat | Shape::ChatStream)
    }
}

/// A response of one shape, as values a test may still change: the request
/// body, and the body (non-stream) or the chunks before `[DONE]` (stream).
#[derive(Clone)]
struct Sample {
    shape: Shape,
    request: Value,
    parts: Vec<Value>,
}

/// One token per word, for usage.
fn tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn usage(completion: u64) -> Value {
    json!({"prompt_tokens": 3, "completion_tokens": completion, "total_tokens": 3 + completion})
}

fn chat_chunk(index: u64, delta: Value, finish: Value) -> Value {
    let mut c = chunk(delta, finish);
    c["choices"][0]["index"] = json!(index);
    c
}

fn text_chunk(index: u64, text: &str, finish: Value) -> Value {
    json!({
        "id": "cmpl-1", "object": "text_completion", "created": 1_700_000_000, "model": "m",
        "choices": [{"text": text, "index": index, "logprobs": null, "finish_reason": finish}]
    })
}

impl Sample {
    /// Choices given as (text, finish reason); the request carries `params`.
    fn new(shape: Shape, params: Value, choices: &[(&str, Value)]) -> Self {
        let mut request = if shape.chat() {
            json!({"model": "m", "messages": [{"role": "user", "content": "Say hello"}]})
        } else {
            json!({"model": "m", "prompt": "Say hello"})
        };
        if shape.streamed() {
            request["stream"] = json!(true);
            request["stream_options"] = json!({"include_usage": true});
        }
        if let Value::Object(params) = params {
            for (k, v) in params {
                request[k] = v;
            }
        }
        let used = usage(choices.iter().map(|(t, _)| tokens(t)).sum());
        let parts = if shape.streamed() {
            stream_parts(shape, choices, used)
        } else {
            vec![whole_body(shape, choices, used)]
        };
        Self {
            shape,
            request,
            parts,
        }
    }

    /// One choice with this text, ended by "stop".
    fn text(shape: Shape, params: Value, text: &str) -> Self {
        Self::new(shape, params, &[(text, json!("stop"))])
    }

    fn ex(&self) -> Ex {
        let ex = if self.shape.streamed() {
            Ex::sse(&datas(&self.parts))
        } else {
            Ex::json(&self.parts[0])
        };
        let url = if self.shape.chat() {
            CHAT_URL
        } else {
            "http://127.0.0.1:1/v1/completions"
        };
        ex.request(&self.request).url(url)
    }

    fn build(&self) -> Exchange {
        self.ex().build()
    }
}

fn whole_body(shape: Shape, choices: &[(&str, Value)], usage: Value) -> Value {
    let choices: Vec<Value> = (0u64..)
        .zip(choices)
        .map(|(i, (text, finish))| {
            if shape.chat() {
                json!({"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": finish})
            } else {
                json!({"text": text, "index": i, "logprobs": null, "finish_reason": finish})
            }
        })
        .collect();
    let (id, object) = if shape.chat() {
        ("chatcmpl-1", "chat.completion")
    } else {
        ("cmpl-1", "text_completion")
    };
    json!({"id": id, "object": object, "created": 1_700_000_000, "model": "m", "choices": choices, "usage": usage})
}

/// Role chunks (chat), then one chunk per word, the choices interleaved,
/// then a finishing chunk per choice and the usage chunk.
fn stream_parts(shape: Shape, choices: &[(&str, Value)], usage: Value) -> Vec<Value> {
    let mut parts = Vec::new();
    if shape.chat() {
        for (i, _) in (0u64..).zip(choices) {
            parts.push(chat_chunk(
                i,
                json!({"role": "assistant", "content": ""}),
                Value::Null,
            ));
        }
    }
    let words: Vec<Vec<&str>> = choices
        .iter()
        .map(|(t, _)| t.split_inclusive(' ').collect())
        .collect();
    let rounds = words.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..rounds {
        for (i, words) in (0u64..).zip(&words) {
            if let Some(word) = words.get(round) {
                parts.push(if shape.chat() {
                    chat_chunk(i, json!({"content": word}), Value::Null)
                } else {
                    text_chunk(i, word, Value::Null)
                });
            }
        }
    }
    for (i, (_, finish)) in (0u64..).zip(choices) {
        if !finish.is_null() {
            parts.push(if shape.chat() {
                chat_chunk(i, json!({}), finish.clone())
            } else {
                text_chunk(i, "", finish.clone())
            });
        }
    }
    let mut last = parts
        .last()
        .cloned()
        .unwrap_or_else(|| text_chunk(0, "", Value::Null));
    last["choices"] = json!([]);
    last["usage"] = usage;
    parts.push(last);
    parts
}

// ---- running ---------------------------------------------------------------------

/// Runs `check` on the sample and asserts the verdict and the quotes.
#[track_caller]
fn judged(check: &Check, sample: &Sample, verdict: Verdict, quotes: &[&str]) {
    let label = format!("{:?}: {}", sample.shape, check.label());
    expect(&label, &run(check, &sample.build()), verdict, quotes);
}

/// Asserts on the same output in every shape.
#[track_caller]
fn in_every_shape(
    check: &Check,
    params: Value,
    choices: &[(&str, Value)],
    verdict: Verdict,
    quotes: &[&str],
) {
    for shape in SHAPES {
        judged(
            check,
            &Sample::new(shape, params.clone(), choices),
            verdict,
            quotes,
        );
    }
}

#[track_caller]
fn judged_after(
    check: &Check,
    now: &Exchange,
    before: &[Exchange],
    verdict: Verdict,
    quotes: &[&str],
) {
    expect(
        &check.label(),
        &run_after(check, now, before),
        verdict,
        quotes,
    );
}

fn stop() -> Value {
    json!("stop")
}

/// Every output check with a sample it passes.
fn every_output_check() -> Vec<(Check, Sample)> {
    let hello = |params: Value| Sample::text(Shape::ChatStream, params, "Hello world");
    vec![
        (Check::FinishReason("stop".into()), hello(json!({}))),
        (Check::MaxTokensHonoured, hello(json!({"max_tokens": 5}))),
        (Check::ChoiceCount, hello(json!({}))),
        (Check::ChoiceIndices, hello(json!({}))),
        (Check::StopHonoured, hello(json!({"stop": "END"}))),
        (Check::LogprobsValid, logprobs_sample(true, 2)),
        (
            Check::ContentIsJsonObject,
            Sample::text(Shape::Chat, json!({}), r#"{"answer": "yes"}"#),
        ),
        (
            Check::ContentMatchesRequestedSchema,
            Sample::text(Shape::Chat, schema_request(), r#"{"city": "Paris"}"#),
        ),
        (Check::ToolCallsValid, tool_call_sample(false, &weather())),
        (Check::NoToolCalls, hello(json!({}))),
        (Check::NoReplacementChars, hello(json!({}))),
        (Check::NoEmptyChunks, hello(json!({}))),
        (Check::ModelMatchesRequest, hello(json!({}))),
    ]
}

#[test]
fn every_output_check_passes_its_sample() {
    for (check, sample) in every_output_check() {
        judged(&check, &sample, Verdict::Pass, &[]);
    }
}

#[test]
fn every_output_check_fails_on_an_error_status() {
    for (check, sample) in every_output_check() {
        let mut ex = sample.ex().status(500);
        ex.body = error_body().to_string().into_bytes();
        let finding = run(&check, &ex.build());
        expect(&check.label(), &finding, Verdict::Fail, &["status 500"]);
        let with_output = Ex {
            status: 503,
            ..sample.ex()
        };
        expect(
            &check.label(),
            &run(&check, &with_output.build()),
            Verdict::Fail,
            &["status 503"],
        );
    }
}

#[test]
fn every_output_check_fails_on_a_body_cut_short() {
    for (check, sample) in every_output_check() {
        for (outcome, cause) in cut_short() {
            let ex = sample.ex().outcome(outcome).build();
            expect_on(&check, &ex, Verdict::Fail, &[cause, "incomplete"]);
        }
    }
}

#[test]
fn every_output_check_errs_without_a_response() {
    for (check, sample) in every_output_check() {
        let mut ex = sample.build();
        ex.response = None;
        ex.chunks.clear();
        ex.outcome = Some(Outcome::Transport {
            message: "connection refused".into(),
        });
        expect_on(&check, &ex, Verdict::Error, &["connection refused"]);
    }
}

#[test]
fn output_checks_fail_when_the_shape_is_not_the_one_asked_for() {
    let check = Check::NoToolCalls;
    let mut streamed = Sample::text(Shape::ChatStream, json!({}), "Hi");
    streamed.request["stream"] = json!(false);
    judged(&check, &streamed, Verdict::Fail, &["not JSON", "data: "]);
    let mut whole = Sample::text(Shape::Chat, json!({}), "Hi");
    whole.request["stream"] = json!(true);
    judged(&check, &whole, Verdict::Fail, &["no chunk events"]);
    let mut none = Sample::text(Shape::Chat, json!({}), "Hi");
    none.parts[0]["choices"] = json!([]);
    judged(&check, &none, Verdict::Fail, &["no choices"]);
}

#[test]
fn output_checks_err_on_a_choice_without_an_index() {
    let mut body = Sample::text(Shape::Chat, json!({}), "Hi");
    body.parts[0]["choices"][0]
        .as_object_mut()
        .expect("an object")
        .remove("index");
    judged(
        &Check::NoToolCalls,
        &body,
        Verdict::Error,
        &["no integer index"],
    );
    let mut stream = Sample::text(Shape::TextStream, json!({}), "Hi");
    stream.parts[0]["choices"][0]["index"] = json!("0");
    judged(
        &Check::NoToolCalls,
        &stream,
        Verdict::Error,
        &["event 0 (byte 0)", "no integer index"],
    );
}

// ---- finish_reason ----------------------------------------------------------------

#[test]
fn finish_reason_passes_when_every_choice_ends_so() {
    let check = Check::FinishReason("stop".into());
    in_every_shape(
        &check,
        json!({}),
        &[("Hello world", stop())],
        Verdict::Pass,
        &["1 choice(s) finish with \"stop\""],
    );
    in_every_shape(
        &check,
        json!({"n": 2}),
        &[("Hello", stop()), ("Hi there", stop())],
        Verdict::Pass,
        &["2 choice(s)"],
    );
}

#[test]
fn finish_reason_fails_on_another_reason() {
    in_every_shape(
        &Check::FinishReason("stop".into()),
        json!({}),
        &[("Hello world", json!("length"))],
        Verdict::Fail,
        &["choice 0 has finish_reason \"length\", expected \"stop\""],
    );
}

#[test]
fn finish_reason_fails_on_one_choice_of_several() {
    in_every_shape(
        &Check::FinishReason("length".into()),
        json!({"n": 2}),
        &[("Hello", json!("length")), ("Hi", stop())],
        Verdict::Fail,
        &["choice 1 has finish_reason \"stop\""],
    );
}

#[test]
fn finish_reason_fails_when_a_choice_never_finishes() {
    in_every_shape(
        &Check::FinishReason("stop".into()),
        json!({}),
        &[("Hello world", Value::Null)],
        Verdict::Fail,
        &["choice 0 has finish_reason null"],
    );
}

// ---- max_tokens_honoured ------------------------------------------------------------

#[test]
fn max_tokens_honoured_passes_within_the_limit() {
    in_every_shape(
        &Check::MaxTokensHonoured,
        json!({"max_tokens": 3}),
        &[("one two three", json!("length"))],
        Verdict::Pass,
        &["at most 3 tokens (o200k_base), within the limit of 3"],
    );
}

#[test]
fn max_tokens_honoured_fails_over_the_limit() {
    // The recount decides, whatever usage says.
    in_every_shape(
        &Check::MaxTokensHonoured,
        json!({"max_tokens": 3}),
        &[("one two three four", stop())],
        Verdict::Fail,
        &["choice 0 delivers 4 tokens (o200k_base), over the limit of 3"],
    );
}

#[test]
fn max_tokens_honoured_takes_the_smaller_of_both_limits() {
    let check = Check::MaxTokensHonoured;
    for params in [
        json!({"max_tokens": 10, "max_completion_tokens": 2}),
        json!({"max_tokens": 2, "max_completion_tokens": 10}),
    ] {
        judged(
            &check,
            &Sample::text(Shape::Chat, params, "one two three"),
            Verdict::Fail,
            &["over the limit of 2"],
        );
    }
    judged(
        &check,
        &Sample::text(Shape::Chat, json!({"max_completion_tokens": 3}), "a b c"),
        Verdict::Pass,
        &[],
    );
}

#[test]
fn max_tokens_honoured_applies_the_limit_to_each_choice() {
    let two = [("a b c", json!("length")), ("d e f", json!("length"))];
    in_every_shape(
        &Check::MaxTokensHonoured,
        json!({"max_tokens": 3, "n": 2}),
        &two,
        Verdict::Pass,
        &["at most 3 tokens"],
    );
    in_every_shape(
        &Check::MaxTokensHonoured,
        json!({"max_tokens": 2, "n": 2}),
        &two,
        Verdict::Fail,
        &["choice 0 delivers 3 tokens (o200k_base), over the limit of 2"],
    );
}

#[test]
fn max_tokens_honoured_fails_on_too_many_logprobs_entries() {
    // The text recounts to 2 tokens, but the choice carries three tokens' entries.
    let mut sample = logprobs_sample(false, 0);
    sample.request["max_tokens"] = json!(2);
    sample.parts[0]["usage"] = usage(2);
    judged(
        &Check::MaxTokensHonoured,
        &sample,
        Verdict::Fail,
        &["choice 0 carries 3 tokens' log probabilities, over the limit of 2"],
    );
}

#[test]
fn max_tokens_honoured_errs_without_a_limit() {
    let check = Check::MaxTokensHonoured;
    judged(
        &check,
        &Sample::text(Shape::Chat, json!({}), "a b"),
        Verdict::Error,
        &["sets no max_tokens or max_completion_tokens"],
    );
    judged(
        &check,
        &Sample::text(Shape::Chat, json!({"max_tokens": "3"}), "a b"),
        Verdict::Error,
        &["sets no max_tokens"],
    );
}

// ---- choice_count ---------------------------------------------------------------------

#[test]
fn choice_count_passes_on_the_requested_number() {
    in_every_shape(
        &Check::ChoiceCount,
        json!({}),
        &[("Hi", stop())],
        Verdict::Pass,
        &["1 choice(s), as requested"],
    );
    in_every_shape(
        &Check::ChoiceCount,
        json!({"n": 3}),
        &[("a", stop()), ("b", stop()), ("c", stop())],
        Verdict::Pass,
        &["3 choice(s), as requested"],
    );
}

#[test]
fn choice_count_fails_on_another_number() {
    in_every_shape(
        &Check::ChoiceCount,
        json!({"n": 3}),
        &[("a", stop())],
        Verdict::Fail,
        &["the request asks for n = 3, the response has 1 choice(s)"],
    );
    in_every_shape(
        &Check::ChoiceCount,
        json!({}),
        &[("a", stop()), ("b", stop())],
        Verdict::Fail,
        &["n = 1, the response has 2 choice(s)"],
    );
}

#[test]
fn choice_count_errs_on_an_n_that_is_not_a_count() {
    judged(
        &Check::ChoiceCount,
        &Sample::text(Shape::Chat, json!({"n": -1}), "a"),
        Verdict::Error,
        &["n is not a count: -1"],
    );
}

// ---- choice_indices ---------------------------------------------------------------------

/// Three choices whose indices are changed to `indices`, in every shape.
fn with_indices(shape: Shape, indices: &[u64]) -> Sample {
    let choices: Vec<(&str, Value)> = indices.iter().map(|_| ("x y", stop())).collect();
    let mut sample = Sample::new(shape, json!({"n": indices.len()}), &choices);
    if shape.streamed() {
        for part in &mut sample.parts {
            if let Some(choice) = part["choices"].get_mut(0) {
                let at = choice["index"].as_u64().expect("an index");
                choice["index"] = json!(indices[at as usize]);
            }
        }
    } else {
        for (choice, index) in sample.parts[0]["choices"]
            .as_array_mut()
            .expect("choices")
            .iter_mut()
            .zip(indices)
        {
            choice["index"] = json!(index);
        }
    }
    sample
}

#[test]
fn choice_indices_passes_on_zero_to_k() {
    for shape in SHAPES {
        judged(
            &Check::ChoiceIndices,
            &with_indices(shape, &[0, 1, 2]),
            Verdict::Pass,
            &["0..3"],
        );
    }
}

#[test]
fn choice_indices_passes_on_choices_out_of_order() {
    for shape in SHAPES {
        judged(
            &Check::ChoiceIndices,
            &with_indices(shape, &[2, 0, 1]),
            Verdict::Pass,
            &["0..3"],
        );
    }
}

#[test]
fn choice_indices_fails_on_indices_from_one() {
    for shape in [Shape::Chat, Shape::Text] {
        judged(
            &Check::ChoiceIndices,
            &with_indices(shape, &[1, 2, 3]),
            Verdict::Fail,
            &["the choices carry indices 1, 2, 3, expected each of 0..3 once"],
        );
    }
    for shape in [Shape::ChatStream, Shape::TextStream] {
        judged(
            &Check::ChoiceIndices,
            &with_indices(shape, &[1, 2, 3]),
            Verdict::Fail,
            &["the chunks carry indices 1, 2, 3, expected each of 0..3 once"],
        );
    }
}

#[test]
fn choice_indices_fails_on_a_repeated_or_skipped_index() {
    for shape in [Shape::Chat, Shape::Text] {
        judged(
            &Check::ChoiceIndices,
            &with_indices(shape, &[0, 0, 1]),
            Verdict::Fail,
            &["indices 0, 0, 1"],
        );
    }
    for shape in SHAPES {
        judged(
            &Check::ChoiceIndices,
            &with_indices(shape, &[0, 2, 3]),
            Verdict::Fail,
            &["0, 2, 3"],
        );
    }
}

// ---- stop_honoured ---------------------------------------------------------------------

#[test]
fn stop_honoured_passes_when_no_text_holds_a_stop_sequence() {
    for stop_param in [json!("END"), json!(["END", "\n\n"])] {
        in_every_shape(
            &Check::StopHonoured,
            json!({"stop": stop_param}),
            &[("The end is near", stop())],
            Verdict::Pass,
            &["stop sequence(s)"],
        );
    }
}

#[test]
fn stop_honoured_fails_on_a_stop_sequence_in_the_text() {
    in_every_shape(
        &Check::StopHonoured,
        json!({"stop": "END"}),
        &[("one two END three", stop())],
        Verdict::Fail,
        &[
            "choice 0 contains the stop sequence \"END\"",
            "one two END three",
        ],
    );
    in_every_shape(
        &Check::StopHonoured,
        json!({"stop": ["END", "three"], "n": 2}),
        &[("one", stop()), ("two three", stop())],
        Verdict::Fail,
        &["choice 1 contains the stop sequence \"three\""],
    );
}

#[test]
fn stop_honoured_fails_on_a_stop_sequence_split_across_chunks() {
    // "one two" streams as "one " and "two": the sequence spans two chunks.
    for shape in [Shape::ChatStream, Shape::TextStream] {
        judged(
            &Check::StopHonoured,
            &Sample::text(shape, json!({"stop": "e t"}), "one two"),
            Verdict::Fail,
            &["\"e t\""],
        );
    }
}

#[test]
fn stop_honoured_errs_without_a_stop_sequence() {
    for params in [json!({}), json!({"stop": []}), json!({"stop": null})] {
        judged(
            &Check::StopHonoured,
            &Sample::text(Shape::Chat, params, "Hi"),
            Verdict::Error,
            &["sets no stop sequence"],
        );
    }
}

// ---- same_output_as_before ---------------------------------------------------------

#[test]
fn same_output_as_before_passes_on_the_same_output_streamed_or_not() {
    let check = Check::SameOutputAsBefore;
    for (a, b) in [
        (Shape::Chat, Shape::ChatStream),
        (Shape::ChatStream, Shape::Chat),
        (Shape::Text, Shape::TextStream),
    ] {
        let before = Sample::text(a, json!({"seed": 1}), "Hello there world").build();
        let now = Sample::text(b, json!({"seed": 1}), "Hello there world").build();
        judged_after(
            &check,
            &now,
            &[before],
            Verdict::Pass,
            &["equals that of 1 earlier request(s)"],
        );
    }
}

#[test]
fn same_output_as_before_compares_with_every_earlier_request() {
    let sample = |text| Sample::text(Shape::Chat, json!({}), text).build();
    let now = sample("same");
    judged_after(
        &Check::SameOutputAsBefore,
        &now,
        &[sample("same"), sample("same")],
        Verdict::Pass,
        &["2 earlier"],
    );
    judged_after(
        &Check::SameOutputAsBefore,
        &now,
        &[sample("same"), sample("other")],
        Verdict::Fail,
        &["differs from earlier request 1", "\"same\"", "\"other\""],
    );
}

#[test]
fn same_output_as_before_fails_on_different_text() {
    let before = Sample::text(Shape::Chat, json!({}), "Hello world").build();
    let now = Sample::text(Shape::ChatStream, json!({}), "Hello planet").build();
    judged_after(
        &Check::SameOutputAsBefore,
        &now,
        &[before],
        Verdict::Fail,
        &[
            "differs from earlier request 0",
            "choice 0: now \"Hello planet\"",
            "before \"Hello world\"",
        ],
    );
}

#[test]
fn same_output_as_before_fails_on_another_finish_or_choice_count() {
    let one = [Sample::text(Shape::Chat, json!({}), "Hi").build()];
    let cut = Sample::new(Shape::Chat, json!({}), &[("Hi", json!("length"))]).build();
    judged_after(
        &Check::SameOutputAsBefore,
        &cut,
        &one,
        Verdict::Fail,
        &["Some(\"length\")", "Some(\"stop\")"],
    );
    let two = Sample::new(Shape::Chat, json!({}), &[("Hi", stop()), ("Ho", stop())]).build();
    judged_after(
        &Check::SameOutputAsBefore,
        &two,
        &one,
        Verdict::Fail,
        &["2 choice(s) now, 1 before"],
    );
}

#[test]
fn same_output_as_before_compares_tool_calls_by_name_and_parsed_arguments() {
    let check = Check::SameOutputAsBefore;
    let before = [tool_call_sample(false, &weather()).build()];
    // Another id, the arguments streamed in fragments and spaced differently.
    let mut streamed = tool_call_sample(true, &weather());
    streamed.parts[1]["choices"][0]["delta"]["tool_calls"][0]["id"] = json!("call_other");
    streamed.parts[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] =
        json!("{ \"city\":");
    judged_after(&check, &streamed.build(), &before, Verdict::Pass, &[]);
    let mut elsewhere = weather();
    elsewhere["function"]["arguments"] = json!(r#"{"city": "Oslo"}"#);
    let now = tool_call_sample(false, &elsewhere).build();
    judged_after(
        &check,
        &now,
        &before,
        Verdict::Fail,
        &["differs from earlier request 0", "(tool calls differ)"],
    );
}

#[test]
fn same_output_as_before_errs_without_an_earlier_request() {
    judged_after(
        &Check::SameOutputAsBefore,
        &Sample::text(Shape::Chat, json!({}), "Hi").build(),
        &[],
        Verdict::Error,
        &["sends no earlier request"],
    );
}

#[test]
fn same_output_as_before_errs_when_the_earlier_request_gave_no_output() {
    let now = Sample::text(Shape::Chat, json!({}), "Hi").build();
    let failed = Ex::json(&error_body()).status(500).build();
    judged_after(
        &Check::SameOutputAsBefore,
        &now,
        &[failed],
        Verdict::Error,
        &["earlier request 0 gave no output", "status 500"],
    );
    judged_after(
        &Check::SameOutputAsBefore,
        &now,
        &[refused()],
        Verdict::Error,
        &["earlier request 0", "connection refused"],
    );
}

#[test]
fn same_output_as_before_fails_when_this_request_gave_no_output() {
    let sample = Sample::text(Shape::Chat, json!({}), "Hi");
    let failed = Ex::json(&error_body()).status(500).build();
    let before = [sample.build()];
    judged_after(
        &Check::SameOutputAsBefore,
        &failed,
        &before,
        Verdict::Fail,
        &["status 500"],
    );
    let cut = sample.ex().outcome(None).build();
    judged_after(
        &Check::SameOutputAsBefore,
        &cut,
        &before,
        Verdict::Fail,
        &["incomplete"],
    );
}

// ---- logprobs_valid ------------------------------------------------------------------

/// A log-probability entry for `token` with `k` alternatives.
fn entry(token: &str, k: usize) -> Value {
    let alternative = |i: usize| json!({"token": format!("{token}{i}"), "logprob": -1.0 - i as f64, "bytes": null});
    json!({
        "token": token,
        "logprob": -0.25,
        "bytes": token.as_bytes(),
        "top_logprobs": (0..k).map(alternative).collect::<Vec<_>>()
    })
}

/// "Hi there you" (three tokens) with their log probabilities and `k`
/// alternatives each, streamed one token per chunk or whole.
fn logprobs_sample(streamed: bool, k: usize) -> Sample {
    let tokens = ["Hi", " there", " you"];
    let params = json!({"logprobs": true, "top_logprobs": k});
    if !streamed {
        let mut sample = Sample::text(Shape::Chat, params, "Hi there you");
        sample.parts[0]["choices"][0]["logprobs"] = json!({"content": tokens.map(|t| entry(t, k))});
        return sample;
    }
    let mut sample = Sample::text(Shape::ChatStream, params, "Hi there you");
    // Chunks 1..=3 carry the words; give each its token's entry.
    for (part, token) in sample.parts[1..4].iter_mut().zip(tokens) {
        part["choices"][0]["logprobs"] = json!({"content": [entry(token, k)]});
    }
    sample
}

/// The non-stream sample with its first entry changed.
fn first_entry(change: impl FnOnce(&mut Value)) -> Sample {
    let mut sample = logprobs_sample(false, 2);
    change(&mut sample.parts[0]["choices"][0]["logprobs"]["content"][0]);
    sample
}

#[test]
fn logprobs_valid_passes_streamed_or_not() {
    for streamed in [false, true] {
        for k in [0, 2] {
            judged(
                &Check::LogprobsValid,
                &logprobs_sample(streamed, k),
                Verdict::Pass,
                &[&format!("with {k} alternatives each")],
            );
        }
    }
}

#[test]
fn logprobs_valid_defaults_to_no_alternatives() {
    let mut sample = logprobs_sample(false, 0);
    sample
        .request
        .as_object_mut()
        .expect("an object")
        .remove("top_logprobs");
    judged(
        &Check::LogprobsValid,
        &sample,
        Verdict::Pass,
        &["0 alternatives"],
    );
}

#[test]
fn logprobs_valid_fails_on_a_wrong_number_of_alternatives() {
    let mut sample = logprobs_sample(true, 2);
    sample.parts[2]["choices"][0]["logprobs"]["content"][0] = entry(" there", 1);
    judged(
        &Check::LogprobsValid,
        &sample,
        Verdict::Fail,
        &["choice 0 logprobs entry 1 has 1 top_logprobs, the request asks for 2"],
    );
    let sample = first_entry(|e| {
        e.as_object_mut().expect("an object").remove("top_logprobs");
    });
    judged(
        &Check::LogprobsValid,
        &sample,
        Verdict::Fail,
        &["entry 0 has no top_logprobs array"],
    );
}

#[test]
fn logprobs_valid_fails_on_a_malformed_entry() {
    for (change, quote) in [
        (json!({"logprob": 0.5}), "entry 0 has logprob 0.5 > 0"),
        (json!({"logprob": "-1"}), "entry 0 has no numeric logprob"),
        (json!({"token": 7}), "entry 0 has no string token"),
        (json!({"bytes": [72, 300]}), "entry 0 has bytes [72,300]"),
        (json!({"bytes": "Hi"}), "that are not byte values"),
    ] {
        let sample = first_entry(|e| {
            for (k, v) in change.as_object().expect("an object") {
                e[k] = v.clone();
            }
        });
        judged(&Check::LogprobsValid, &sample, Verdict::Fail, &[quote]);
    }
    let sample = first_entry(|e| e["top_logprobs"][1]["logprob"] = json!(1));
    judged(
        &Check::LogprobsValid,
        &sample,
        Verdict::Fail,
        &["entry 0 alternative 1 has logprob 1 > 0"],
    );
}

#[test]
fn logprobs_valid_passes_null_bytes() {
    let sample = first_entry(|e| e["bytes"] = Value::Null);
    judged(&Check::LogprobsValid, &sample, Verdict::Pass, &[]);
}

#[test]
fn logprobs_valid_fails_without_logprobs() {
    judged(
        &Check::LogprobsValid,
        &Sample::text(Shape::Chat, json!({"logprobs": true}), "Hi"),
        Verdict::Fail,
        &["choice 0 has no logprobs.content"],
    );
    let mut empty = logprobs_sample(false, 0);
    empty.parts[0]["choices"][0]["logprobs"]["content"] = json!([]);
    judged(
        &Check::LogprobsValid,
        &empty,
        Verdict::Fail,
        &["choice 0 has text but no logprobs entries"],
    );
}

#[test]
fn logprobs_valid_leaves_usage_to_the_accounting_checks() {
    // Usage that disagrees with the entries is completion_tokens_recount's finding.
    let mut sample = logprobs_sample(false, 1);
    sample.parts[0]["usage"] = usage(4);
    judged(&Check::LogprobsValid, &sample, Verdict::Pass, &[]);
}

#[test]
fn logprobs_valid_errs_on_a_top_logprobs_that_is_not_a_count() {
    let mut sample = logprobs_sample(false, 1);
    sample.request["top_logprobs"] = json!("two");
    judged(
        &Check::LogprobsValid,
        &sample,
        Verdict::Error,
        &["top_logprobs is not a count: \"two\""],
    );
}

// ---- content_is_json_object ------------------------------------------------------------

#[test]
fn content_is_json_object_passes_on_an_object() {
    in_every_shape(
        &Check::ContentIsJsonObject,
        json!({"response_format": {"type": "json_object"}}),
        &[(r#"{"answer": "yes it is"}"#, stop())],
        Verdict::Pass,
        &["1 choice(s) hold a JSON object"],
    );
}

#[test]
fn content_is_json_object_fails_on_plain_text() {
    in_every_shape(
        &Check::ContentIsJsonObject,
        json!({}),
        &[("yes it is", stop())],
        Verdict::Fail,
        &["choice 0's text is not JSON", "\"yes it is\""],
    );
}

#[test]
fn content_is_json_object_fails_on_json_that_is_not_an_object() {
    in_every_shape(
        &Check::ContentIsJsonObject,
        json!({"n": 2}),
        &[("{}", stop()), (r#"["yes", "no"]"#, stop())],
        Verdict::Fail,
        &["choice 1's text is JSON but not an object: [\"yes\",\"no\"]"],
    );
}

#[test]
fn json_checks_skip_choices_cut_off_by_the_token_limit_before_their_json_was_complete() {
    let mut two = schema_request();
    two["n"] = json!(2);
    for check in [
        Check::ContentIsJsonObject,
        Check::ContentMatchesRequestedSchema,
    ] {
        in_every_shape(
            &check,
            two.clone(),
            &[
                (r#"{"city": "Paris"}"#, stop()),
                (r#"{"city": "Par"#, json!("length")),
            ],
            Verdict::Pass,
            &["1 choice(s)"],
        );
        in_every_shape(
            &check,
            schema_request(),
            &[(r#"{"city": "Par"#, json!("length"))],
            Verdict::Error,
            &["cut off by the token limit"],
        );
        // Cut off but complete: judged like any other choice.
        in_every_shape(
            &check,
            schema_request(),
            &[(r#"["Paris"]"#, json!("length"))],
            Verdict::Fail,
            &["not an object"],
        );
    }
}

// ---- content_matches_requested_schema ------------------------------------------------------

fn schema_request() -> Value {
    json!({"response_format": {"type": "json_schema", "json_schema": {"name": "place", "schema": {
        "type": "object",
        "required": ["city"],
        "properties": {"city": {"type": "string"}}
    }}}})
}

#[test]
fn content_matches_requested_schema_passes_on_a_matching_object() {
    in_every_shape(
        &Check::ContentMatchesRequestedSchema,
        schema_request(),
        &[(r#"{"city": "Paris", "extra": 1}"#, stop())],
        Verdict::Pass,
        &["1 choice(s) match the requested schema"],
    );
}

#[test]
fn content_matches_requested_schema_fails_on_an_object_missing_a_property() {
    in_every_shape(
        &Check::ContentMatchesRequestedSchema,
        schema_request(),
        &[("{}", stop())],
        Verdict::Fail,
        &[
            "choice 0's JSON does not match the requested schema",
            "city",
        ],
    );
    in_every_shape(
        &Check::ContentMatchesRequestedSchema,
        schema_request(),
        &[(r#"{"city": 7}"#, stop())],
        Verdict::Fail,
        &["/city"],
    );
}

#[test]
fn content_matches_requested_schema_fails_on_text_that_is_not_json() {
    in_every_shape(
        &Check::ContentMatchesRequestedSchema,
        schema_request(),
        &[("Paris", stop())],
        Verdict::Fail,
        &["not JSON", "\"Paris\""],
    );
}

#[test]
fn content_matches_requested_schema_errs_without_a_usable_schema() {
    let check = Check::ContentMatchesRequestedSchema;
    let object = json!({"response_format": {"type": "json_object"}});
    judged(
        &check,
        &Sample::text(Shape::Chat, object, "{}"),
        Verdict::Error,
        &["has no response_format.json_schema.schema"],
    );
    let mut bad = schema_request();
    bad["response_format"]["json_schema"]["schema"] = json!({"type": 5});
    judged(
        &check,
        &Sample::text(Shape::Chat, bad, "{}"),
        Verdict::Error,
        &["not a usable schema"],
    );
}

// ---- tool_calls_valid ------------------------------------------------------------------

fn tools_request() -> Value {
    json!({
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "parameters": {
                "type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}
            }}},
            {"type": "function", "function": {"name": "get_time"}}
        ],
        "tool_choice": "required"
    })
}

/// A whole tool call to get_weather for Paris.
fn weather() -> Value {
    json!({"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}})
}

/// A chat response calling these tools, streamed or whole; streamed, each
/// call's first delta carries id, type and name, and the arguments follow
/// in fragments of at most 8 bytes.
fn tool_calls_sample(streamed: bool, calls: &[Value]) -> Sample {
    let shape = if streamed {
        Shape::ChatStream
    } else {
        Shape::Chat
    };
    let mut sample = Sample::new(shape, tools_request(), &[("", json!("tool_calls"))]);
    if !streamed {
        sample.parts[0]["choices"][0]["message"] =
            json!({"role": "assistant", "content": null, "tool_calls": calls});
        return sample;
    }
    let mut deltas = Vec::new();
    for (index, call) in (0u64..).zip(calls) {
        let mut head = call.clone();
        head["index"] = json!(index);
        head["function"]["arguments"] = json!("");
        deltas.push(head);
        let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
        for piece in arguments.as_bytes().chunks(8) {
            let piece = std::str::from_utf8(piece).expect("ASCII arguments");
            deltas.push(json!({"index": index, "function": {"arguments": piece}}));
        }
    }
    // Role chunk first, then one delta per chunk, then finish and usage.
    let finish_and_usage = sample.parts.split_off(1);
    for delta in deltas {
        sample
            .parts
            .push(chat_chunk(0, json!({"tool_calls": [delta]}), Value::Null));
    }
    sample.parts.extend(finish_and_usage);
    sample
}

fn tool_call_sample(streamed: bool, call: &Value) -> Sample {
    tool_calls_sample(streamed, std::slice::from_ref(call))
}

/// The tool-call deltas of a streamed sample, one per chunk.
fn call_deltas(sample: &mut Sample) -> impl Iterator<Item = &mut Value> {
    sample
        .parts
        .iter_mut()
        .filter_map(|p| p.pointer_mut("/choices/0/delta/tool_calls/0"))
}

/// The get_weather call with `function.<field>` set to `value`.
fn weather_with(field: &str, value: Value) -> Value {
    let mut call = weather();
    call["function"][field] = value;
    call
}

#[test]
fn tool_calls_valid_passes_streamed_or_not() {
    for streamed in [false, true] {
        judged(
            &Check::ToolCallsValid,
            &tool_call_sample(streamed, &weather()),
            Verdict::Pass,
            &["1 valid tool call(s)"],
        );
    }
}

#[test]
fn tool_calls_valid_assembles_interleaved_calls_by_index() {
    let time = json!({"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}});
    let mut sample = tool_calls_sample(true, &[weather(), time]);
    // Move the second call's head before the first call's argument fragments.
    let head = sample.parts.remove(4);
    sample.parts.insert(2, head);
    judged(
        &Check::ToolCallsValid,
        &sample,
        Verdict::Pass,
        &["2 valid tool call(s)"],
    );
}

#[test]
fn tool_calls_valid_passes_the_forced_function() {
    for streamed in [false, true] {
        let mut sample = tool_call_sample(streamed, &weather());
        sample.request["tool_choice"] =
            json!({"type": "function", "function": {"name": "get_weather"}});
        judged(&Check::ToolCallsValid, &sample, Verdict::Pass, &[]);
    }
}

#[test]
fn tool_calls_valid_fails_on_a_name_repeated_in_every_delta() {
    let mut sample = tool_call_sample(true, &weather());
    for call in call_deltas(&mut sample) {
        call["function"]["name"] = json!("get_weather");
    }
    judged(
        &Check::ToolCallsValid,
        &sample,
        Verdict::Fail,
        &[
            "calls \"get_weatherget_weather",
            "not a declared tool (get_weather, get_time)",
        ],
    );
}

#[test]
fn tool_calls_valid_fails_on_an_undeclared_function() {
    for streamed in [false, true] {
        let call = weather_with("name", json!("get_stock"));
        judged(
            &Check::ToolCallsValid,
            &tool_call_sample(streamed, &call),
            Verdict::Fail,
            &["choice 0 tool call 0 calls \"get_stock\", which is not a declared tool"],
        );
    }
}

#[test]
fn tool_calls_valid_fails_on_another_function_than_the_forced_one() {
    let mut sample = tool_call_sample(false, &weather());
    sample.request["tool_choice"] = json!({"type": "function", "function": {"name": "get_time"}});
    judged(
        &Check::ToolCallsValid,
        &sample,
        Verdict::Fail,
        &["calls \"get_weather\", but tool_choice forces \"get_time\""],
    );
}

#[test]
fn tool_calls_valid_fails_on_arguments_that_are_not_a_json_object() {
    for (arguments, quote) in [
        (r#"{"city":"Par"#, r#"{\"city\":\"Par"#),
        ("[\"Paris\"]", "[\\\"Paris\\\"]"),
        ("", "\"\""),
    ] {
        for streamed in [false, true] {
            let call = weather_with("arguments", json!(arguments));
            judged(
                &Check::ToolCallsValid,
                &tool_call_sample(streamed, &call),
                Verdict::Fail,
                &[
                    "tool call 0 has arguments that are not a JSON object",
                    quote,
                ],
            );
        }
    }
}

#[test]
fn tool_calls_valid_fails_on_arguments_not_matching_the_parameters() {
    for streamed in [false, true] {
        let call = weather_with("arguments", json!(r#"{"town":"Paris"}"#));
        judged(
            &Check::ToolCallsValid,
            &tool_call_sample(streamed, &call),
            Verdict::Fail,
            &["arguments do not match get_weather's parameters", "city"],
        );
    }
}

#[test]
fn tool_calls_valid_fails_on_a_call_without_an_id() {
    let mut call = weather();
    call.as_object_mut().expect("an object").remove("id");
    for streamed in [false, true] {
        judged(
            &Check::ToolCallsValid,
            &tool_call_sample(streamed, &call),
            Verdict::Fail,
            &["choice 0 tool call 0 has no id"],
        );
    }
    let mut empty_id = weather();
    empty_id["id"] = json!("");
    judged(
        &Check::ToolCallsValid,
        &tool_call_sample(false, &empty_id),
        Verdict::Fail,
        &["has no id"],
    );
}

#[test]
fn tool_calls_valid_fails_on_a_stream_that_skips_a_tool_call_index() {
    let mut sample = tool_call_sample(true, &weather());
    for call in call_deltas(&mut sample) {
        call["index"] = json!(1);
    }
    judged(
        &Check::ToolCallsValid,
        &sample,
        Verdict::Fail,
        &["choice 0 tool call 0 has no id"],
    );
}

#[test]
fn tool_calls_valid_fails_when_no_tool_is_called() {
    let mut sample = Sample::text(Shape::Chat, tools_request(), "It is sunny");
    sample.parts[0]["choices"][0]["message"]["tool_calls"] = json!([]);
    judged(
        &Check::ToolCallsValid,
        &sample,
        Verdict::Fail,
        &["choice 0 calls no tool", "\"It is sunny\""],
    );
}

#[test]
fn tool_calls_valid_errs_without_usable_tools() {
    let mut sample = tool_call_sample(false, &weather());
    sample
        .request
        .as_object_mut()
        .expect("an object")
        .remove("tools");
    judged(
        &Check::ToolCallsValid,
        &sample,
        Verdict::Error,
        &["declares no function tools"],
    );
    let mut bad = tool_call_sample(false, &weather());
    bad.request["tools"][0]["function"]["parameters"] = json!({"type": 5});
    judged(
        &Check::ToolCallsValid,
        &bad,
        Verdict::Error,
        &["get_weather parameters is not a usable schema"],
    );
}

// ---- no_tool_calls ----------------------------------------------------------------------

#[test]
fn no_tool_calls_passes_on_text() {
    in_every_shape(
        &Check::NoToolCalls,
        json!({}),
        &[("It is sunny", stop())],
        Verdict::Pass,
        &["none calls a tool"],
    );
    let mut empty = Sample::text(Shape::Chat, json!({}), "It is sunny");
    empty.parts[0]["choices"][0]["message"]["tool_calls"] = json!([]);
    judged(&Check::NoToolCalls, &empty, Verdict::Pass, &[]);
}

#[test]
fn no_tool_calls_fails_on_a_call() {
    for streamed in [false, true] {
        let mut sample = tool_call_sample(streamed, &weather());
        sample.request["tool_choice"] = json!("none");
        judged(
            &Check::NoToolCalls,
            &sample,
            Verdict::Fail,
            &["choice 0 calls \"get_weather\" although the request forbids tool calls"],
        );
    }
}

// ---- no_replacement_chars ------------------------------------------------------------------

#[test]
fn no_replacement_chars_passes_on_intact_characters() {
    in_every_shape(
        &Check::NoReplacementChars,
        json!({}),
        &[("Smile 😀 ünïcödé", stop())],
        Verdict::Pass,
        &["1 choice(s) without U+FFFD"],
    );
}

#[test]
fn no_replacement_chars_fails_on_a_lossily_decoded_character() {
    in_every_shape(
        &Check::NoReplacementChars,
        json!({"n": 2}),
        &[("fine", stop()), ("Smile \u{FFFD}\u{FFFD} ok", stop())],
        Verdict::Fail,
        &["choice 1 contains U+FFFD at byte 6", "Smile \u{FFFD}"],
    );
}

#[test]
fn no_replacement_chars_passes_an_emoji_whose_bytes_span_recorded_chunks() {
    let sample = Sample::text(Shape::ChatStream, json!({}), "Smile 😀");
    let ex = sample.ex();
    let emoji = "😀".as_bytes();
    let start = ex
        .body
        .windows(emoji.len())
        .position(|w| w == emoji)
        .expect("the stream carries the emoji");
    expect_on(
        &Check::NoReplacementChars,
        &ex.cut_at(&[start + 1, start + 2]).build(),
        Verdict::Pass,
        &[],
    );
}

// ---- no_empty_chunks -----------------------------------------------------------------

#[test]
fn no_empty_chunks_passes_on_chunks_that_each_carry_something() {
    for shape in [Shape::ChatStream, Shape::TextStream] {
        judged(
            &Check::NoEmptyChunks,
            &Sample::new(
                shape,
                json!({"n": 2}),
                &[("Hello world", stop()), ("Hi", stop())],
            ),
            Verdict::Pass,
            &["none of"],
        );
    }
}

#[test]
fn no_empty_chunks_passes_an_empty_first_chunk_and_a_bare_finish() {
    let mut sample = Sample::text(Shape::ChatStream, json!({}), "Hi");
    sample.parts[0]["choices"][0]["delta"] = json!({});
    judged(&Check::NoEmptyChunks, &sample, Verdict::Pass, &[]);
    // The finishing chunk carries an empty delta and the finish reason.
    assert_eq!(sample.parts[2]["choices"][0]["delta"], json!({}));
}

#[test]
fn no_empty_chunks_fails_on_an_empty_delta_mid_stream() {
    for delta in [json!({}), json!({"content": ""}), json!({"content": null})] {
        let mut sample = Sample::text(Shape::ChatStream, json!({}), "Hello world");
        sample.parts.insert(2, chat_chunk(0, delta, Value::Null));
        let datas = datas(&sample.parts);
        judged(
            &Check::NoEmptyChunks,
            &sample,
            Verdict::Fail,
            &[&at(&datas, 2), "carries an empty delta for choice 0"],
        );
    }
    let mut text = Sample::text(Shape::TextStream, json!({}), "Hello world");
    text.parts.insert(1, text_chunk(0, "", Value::Null));
    let datas = datas(&text.parts);
    judged(
        &Check::NoEmptyChunks,
        &text,
        Verdict::Fail,
        &[&at(&datas, 1), "empty delta for choice 0"],
    );
}

#[test]
fn no_empty_chunks_fails_on_a_chunk_without_choices_or_usage() {
    let mut sample = Sample::text(Shape::ChatStream, json!({}), "Hello world");
    let mut bare = sample.parts[1].clone();
    bare["choices"] = json!([]);
    sample.parts.insert(2, bare);
    let datas = datas(&sample.parts);
    judged(
        &Check::NoEmptyChunks,
        &sample,
        Verdict::Fail,
        &[&at(&datas, 2), "carries neither choices nor usage"],
    );
}

// ---- model_matches_request -------------------------------------------------------------

#[test]
fn model_matches_request_passes_on_the_model_or_a_dated_variant() {
    for model in ["m", "m-2024-08-06"] {
        for shape in SHAPES {
            let mut sample = Sample::text(shape, json!({}), "Hi");
            for part in &mut sample.parts {
                part["model"] = json!(model);
            }
            judged(
                &Check::ModelMatchesRequest,
                &sample,
                Verdict::Pass,
                &[&format!("names model \"{model}\"")],
            );
        }
    }
}

#[test]
fn model_matches_request_fails_on_another_model() {
    for model in ["gpt-4", "m2", "mm-2024"] {
        for shape in SHAPES {
            let mut sample = Sample::text(shape, json!({}), "Hi");
            sample.parts[0]["model"] = json!(model);
            judged(
                &Check::ModelMatchesRequest,
                &sample,
                Verdict::Fail,
                &[&format!(
                    "the request asks for model \"m\", the response names \"{model}\""
                )],
            );
        }
    }
}

#[test]
fn model_matches_request_fails_without_a_model() {
    let mut sample = Sample::text(Shape::Chat, json!({}), "Hi");
    sample.parts[0]["model"] = Value::Null;
    judged(
        &Check::ModelMatchesRequest,
        &sample,
        Verdict::Fail,
        &["names no model"],
    );
}

#[test]
fn model_matches_request_errs_when_the_request_names_no_model() {
    let mut sample = Sample::text(Shape::Chat, json!({}), "Hi");
    sample
        .request
        .as_object_mut()
        .expect("an object")
        .remove("model");
    judged(
        &Check::ModelMatchesRequest,
        &sample,
        Verdict::Error,
        &["the request names no model"],
    );
}

// ---- status ------------------------------------------------------------------------------

#[test]
fn status_passes_on_any_code_of_a_list() {
    let check = Check::Status(StatusSet::Any(vec![400, 413]));
    for code in [400, 413] {
        passes(
            &check,
            &Ex::json(&error_body()).status(code),
            &[&format!("status {code}")],
        );
    }
}

#[test]
fn status_fails_on_a_code_outside_the_list() {
    let check = Check::Status(StatusSet::Any(vec![400, 413]));
    fails(
        &check,
        &Ex::json(&error_body()).status(500),
        &["expected status 400|413, got 500", "overloaded"],
    );
    expect_on(&check, &refused(), Verdict::Error, &["connection refused"]);
}

// ---- ignored_or_refused ----------------------------------------------------------------

#[test]
fn ignored_or_refused_passes_on_200_or_400_with_an_error_object() {
    passes(
        &Check::IgnoredOrRefused,
        &Ex::json(&completion()),
        &["status 200: the field was ignored"],
    );
    passes(
        &Check::IgnoredOrRefused,
        &Ex::json(&param_error(json!("frobnicate"))).status(400),
        &["status 400 with an error object"],
    );
}

#[test]
fn ignored_or_refused_fails_on_400_without_an_error_object() {
    let check = Check::IgnoredOrRefused;
    fails(
        &check,
        &Ex::json(&json!({"detail": "unknown field"})).status(400),
        &["status 400, but the body does not match error", "error"],
    );
    fails(
        &check,
        &Ex::new("text/plain", "Bad Request").status(400),
        &["status 400, but the body is not JSON", "Bad Request"],
    );
}

#[test]
fn ignored_or_refused_fails_on_any_other_status() {
    for code in [500, 422, 503] {
        fails(
            &Check::IgnoredOrRefused,
            &Ex::json(&error_body()).status(code),
            &[
                &format!("expected 200 (ignored) or 400 (refused), got {code}"),
                "overloaded",
            ],
        );
    }
    expect_on(
        &Check::IgnoredOrRefused,
        &refused(),
        Verdict::Error,
        &["connection refused"],
    );
}

// ---- error_param -------------------------------------------------------------------------

fn param_error(param: Value) -> Value {
    json!({"error": {"message": "bad value", "type": "invalid_request_error", "param": param, "code": null}})
}

#[test]
fn error_param_passes_on_the_named_field() {
    passes(
        &Check::ErrorParam("max_tokens".into()),
        &Ex::json(&param_error(json!("max_tokens"))).status(400),
        &["error.param is \"max_tokens\""],
    );
}

#[test]
fn error_param_fails_on_another_or_no_param() {
    let check = Check::ErrorParam("max_tokens".into());
    fails(
        &check,
        &Ex::json(&param_error(json!("messages"))).status(400),
        &["error.param is \"messages\", expected \"max_tokens\""],
    );
    fails(
        &check,
        &Ex::json(&param_error(Value::Null)).status(400),
        &["error.param is null, expected \"max_tokens\""],
    );
    let mut without = param_error(Value::Null);
    without["error"]
        .as_object_mut()
        .expect("an object")
        .remove("param");
    fails(
        &check,
        &Ex::json(&without).status(400),
        &["no error.param; expected \"max_tokens\""],
    );
    fails(
        &check,
        &Ex::new("text/html", "<h1>400</h1>").status(400),
        &["not JSON", "<h1>400</h1>"],
    );
}

// ---- key_not_echoed ------------------------------------------------------------------------

fn auth_error(message: &str) -> Ex {
    Ex::json(&json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}))
        .status(401)
}

#[test]
fn key_not_echoed_passes_when_no_credential_is_repeated() {
    passes(
        &Check::KeyNotEchoed,
        &auth_error("Incorrect API key provided."),
        &["repeats no credential"],
    );
    // A masked key is not the key.
    passes(
        &Check::KeyNotEchoed,
        &auth_error("Incorrect API key provided: sk-token********0000."),
        &[],
    );
}

#[test]
fn key_not_echoed_fails_on_the_redaction_marker_in_the_body() {
    let ex = auth_error("Incorrect API key provided: Bearer [REDACTED].");
    let at = ex
        .body
        .windows(10)
        .position(|w| w == b"[REDACTED]")
        .expect("the body holds the marker");
    fails(
        &Check::KeyNotEchoed,
        &ex,
        &[&format!(
            "the body repeats the target's API key at byte {at}"
        )],
    );
}

#[test]
fn key_not_echoed_fails_on_the_redaction_marker_in_a_header() {
    let ex = auth_error("no").headers(&[
        ("Content-Type", "application/json"),
        (
            "WWW-Authenticate",
            "Bearer realm=\"api\", token=\"[REDACTED]\"",
        ),
    ]);
    fails(
        &Check::KeyNotEchoed,
        &ex,
        &["header WWW-Authenticate repeats the target's API key"],
    );
}

#[test]
fn key_not_echoed_fails_on_the_wrong_key() {
    let ex = auth_error(&format!("Incorrect API key provided: {WRONG_KEY}"));
    fails(
        &Check::KeyNotEchoed,
        &ex,
        &["the body repeats the presented key at byte"],
    );
    let header = auth_error("no").headers(&[("X-Echo", WRONG_KEY)]);
    fails(
        &Check::KeyNotEchoed,
        &header,
        &["header X-Echo repeats the presented key"],
    );
}

#[test]
fn key_not_echoed_needs_the_whole_response() {
    expect_on(
        &Check::KeyNotEchoed,
        &refused(),
        Verdict::Error,
        &["connection refused"],
    );
    fails(
        &Check::KeyNotEchoed,
        &auth_error("no").outcome(None),
        &["incomplete", "recording ends"],
    );
}

// ---- model_id_matches_path -----------------------------------------------------------------

fn model_object(id: &str) -> Ex {
    Ex::json(&json!({"id": id, "object": "model", "created": 0, "owned_by": "me"}))
}

#[test]
fn model_id_matches_path_passes_on_the_requested_id() {
    passes(
        &Check::ModelIdMatchesPath,
        &model_object("tokencert-reference")
            .url("http://127.0.0.1:1/v1/models/tokencert-reference"),
        &["id \"tokencert-reference\" as requested"],
    );
}

#[test]
fn model_id_matches_path_decodes_a_percent_encoded_id() {
    passes(
        &Check::ModelIdMatchesPath,
        &model_object("org/model:v1 ü")
            .url("http://127.0.0.1:1/v1/models/org%2Fmodel%3Av1%20%C3%BC"),
        &["\"org/model:v1 ü\""],
    );
}

#[test]
fn model_id_matches_path_fails_on_another_id() {
    fails(
        &Check::ModelIdMatchesPath,
        &model_object("tokencert-other").url("http://127.0.0.1:1/v1/models/tokencert-reference"),
        &["the path asks for \"tokencert-reference\", the body has id \"tokencert-other\""],
    );
    let mut not_found = Ex::json(&error_body()).status(404);
    not_found.url = "http://127.0.0.1:1/v1/models/x".into();
    fails(&Check::ModelIdMatchesPath, &not_found, &["no string id"]);
}

#[test]
fn model_id_matches_path_errs_on_a_url_without_a_model() {
    errs(
        &Check::ModelIdMatchesPath,
        &model_object("m").url("http://127.0.0.1:1/v1/models"),
        &["the request URL http://127.0.0.1:1/v1/models names no model"],
    );
}
