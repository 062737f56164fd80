//! The token-accounting and rate-limit checks: each passes on good
//! evidence and fails (or errs, where there is nothing to judge by) on each
//! way of breaking it, with a reason that quotes the numbers. Expected
//! counts are recounted here with o200k_base, the default tokenizer.

mod common;

use std::path::Path;
use std::sync::LazyLock;

use common::*;
use serde_json::{Value, json};
use tokencert_core::check::{self, Finding, View};
use tokencert_core::evidence::Exchange;
use tokencert_core::judge::{self, Context, Plan, Verdict};
use tokencert_core::price::TokenUsage;
use tokencert_core::suite::{
    Accounting, Capability, ChatOverhead, Check, Kept, RateLimit, Tolerance,
};
use tokencert_core::tokens::{Tokenizer, TokenizerSpec};

const COMPLETIONS_URL: &str = "http://127.0.0.1:1/v1/completions";

// ---- counting ------------------------------------------------------------------

static O200K: LazyLock<Tokenizer> = LazyLock::new(|| {
    Tokenizer::load(&TokenizerSpec::O200kBase, Path::new(".")).expect("o200k_base loads")
});

/// The tokens of `text` under o200k_base.
fn tokens(text: &str) -> u64 {
    O200K.count(text).expect("o200k_base counts any text") as u64
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

/// `usage` with `completion_tokens_details.reasoning_tokens`.
fn reasoning(mut usage: Value, reasoning: u64) -> Value {
    usage["completion_tokens_details"] = json!({"reasoning_tokens": reasoning});
    usage
}

/// `usage` with `prompt_tokens_details.cached_tokens`.
fn cached(mut usage: Value, cached: u64) -> Value {
    usage["prompt_tokens_details"] = json!({"cached_tokens": cached});
    usage
}

// ---- responses -------------------------------------------------------------------

/// The request body `ex` was sent with, with `params` added.
fn asking(ex: Ex, params: Value) -> Ex {
    let mut request: Value = serde_json::from_slice(&ex.request).expect("the request is JSON");
    if let Value::Object(params) = params {
        for (k, v) in params {
            request[k] = v;
        }
    }
    ex.request(&request)
}

/// A chat completion with these texts as its choices.
fn chat(texts: &[&str], usage: Value) -> Ex {
    let choices: Vec<Value> = (0u64..)
        .zip(texts)
        .map(|(i, text)| json!({"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}))
        .collect();
    let body = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": "m",
        "choices": choices, "usage": usage
    });
    Ex::json(&body)
        .request(&json!({"model": "m", "messages": [{"role": "user", "content": "Say hello"}]}))
}

/// A legacy completion with these texts as its choices.
fn legacy(texts: &[&str], usage: Value) -> Ex {
    let choices: Vec<Value> = (0u64..)
        .zip(texts)
        .map(|(i, text)| json!({"text": text, "index": i, "logprobs": null, "finish_reason": "stop"}))
        .collect();
    let body = json!({
        "id": "cmpl-1", "object": "text_completion", "created": 1_700_000_000, "model": "m",
        "choices": choices, "usage": usage
    });
    Ex::json(&body)
        .request(&json!({"model": "m", "prompt": "Say hello"}))
        .url(COMPLETIONS_URL)
}

/// A streamed chat completion: a role chunk per choice, a chunk per word,
/// a finishing chunk per choice, then the usage chunk (when given).
fn chat_stream(texts: &[&str], usage: Option<Value>) -> Ex {
    let piece = |index: u64, delta: Value, finish: Value| {
        let mut c = chunk(delta, finish);
        c["choices"][0]["index"] = json!(index);
        c
    };
    let mut parts = Vec::new();
    for (i, text) in (0u64..).zip(texts) {
        parts.push(piece(
            i,
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        ));
        for word in text.split_inclusive(' ') {
            parts.push(piece(i, json!({"content": word}), Value::Null));
        }
        parts.push(piece(i, json!({}), json!("stop")));
    }
    if let Some(usage) = usage {
        let mut last = chunk(json!({}), Value::Null);
        last["choices"] = json!([]);
        last["usage"] = usage;
        parts.push(last);
    }
    stream(&parts).request(&json!({
        "model": "m", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Say hello"}]
    }))
}

/// The same output as a chat body, a chat stream and a legacy body.
fn every_shape(texts: &[&str], usage: Value) -> [(&'static str, Ex); 3] {
    [
        ("chat", chat(texts, usage.clone())),
        ("chat stream", chat_stream(texts, Some(usage.clone()))),
        ("legacy", legacy(texts, usage)),
    ]
}

/// A chat completion that calls a tool instead of answering.
fn tool_call(usage: Value) -> Ex {
    let mut ex = chat(&["unused"], usage);
    let mut body: Value = serde_json::from_slice(&ex.body).expect("the body is JSON");
    body["choices"][0]["message"] = json!({
        "role": "assistant", "content": null,
        "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]
    });
    body["choices"][0]["finish_reason"] = json!("tool_calls");
    ex.body = body.to_string().into_bytes();
    ex
}

/// A 429 with an error object and, when given, a `Retry-After`.
fn too_many(retry_after: Option<&str>) -> Exchange {
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend(retry_after.map(|v| ("Retry-After", v)));
    Ex::json(&json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}))
        .status(429)
        .headers(&headers)
        .build()
}

fn served() -> Exchange {
    chat(&["Hello"], usage(9, tokens("Hello"))).build()
}

// ---- judging ---------------------------------------------------------------------

/// Runs `check` on `now`, sent after `before`, in `context`.
fn run_in(context: &Context, check: &Check, now: &Exchange, before: &[Exchange]) -> Finding {
    check::run(check, &View::new(now, before), &SCHEMAS, context)
}

fn context_of(plan: Plan) -> Context {
    Context::new(plan, Path::new(".")).expect("o200k_base loads")
}

/// The default accounting with this tolerance.
fn tolerant(tokens: u64, percent: u64) -> Context {
    context_of(Plan {
        accounting: Accounting {
            tolerance: Tolerance { tokens, percent },
            ..Default::default()
        },
        ..Default::default()
    })
}

/// A plan declaring 3 requests per second.
static LIMITED: LazyLock<Context> = LazyLock::new(|| {
    context_of(Plan {
        rate_limit: Some(RateLimit {
            model: None,
            requests: 3,
            window_seconds: 1,
            tokens: None,
        }),
        ..Default::default()
    })
});

/// A good probe of LIMITED: 2 served below the limit, then 4 at once of
/// which the last 2 are refused with `Retry-After: 1`.
fn probe() -> Vec<Exchange> {
    vec![
        served(),
        served(),
        served(),
        served(),
        too_many(Some("1")),
        too_many(Some("1")),
    ]
}

/// Runs `check` on a served request after `before`, under LIMITED.
fn after_probe(check: &Check, before: &[Exchange]) -> Finding {
    run_in(&LIMITED, check, &served(), before)
}

// ---- completion_tokens_recount ---------------------------------------------------

#[test]
fn completion_recount_passes_an_exact_count_in_every_shape() {
    let check = Check::CompletionTokensRecount;
    let text = "Hello world, this is a small test of counting.";
    let n = tokens(text);
    let said = format!(
        "usage.completion_tokens {n} − reasoning_tokens 0 = {n}; the delivered text recounts to {n} (o200k_base)"
    );
    for (shape, ex) in every_shape(&[text], usage(9, n)) {
        expect(shape, &run(&check, &ex.build()), Verdict::Pass, &[&said]);
    }
}

#[test]
fn completion_recount_sums_the_choices() {
    let (a, b) = ("Hello there", "Good morning to you");
    let n = tokens(a) + tokens(b);
    for (shape, ex) in every_shape(&[a, b], usage(9, n)) {
        let ex = asking(ex, json!({"n": 2}));
        let finding = run(&Check::CompletionTokensRecount, &ex.build());
        expect(
            shape,
            &finding,
            Verdict::Pass,
            &[&format!("the delivered text recounts to {n}")],
        );
    }
}

#[test]
fn completion_recount_fails_an_under_or_over_reported_count() {
    let check = Check::CompletionTokensRecount;
    let text = "Hello world, this is a small test of counting.";
    let n = tokens(text);
    for reported in [n - 1, n + 1, 0, 3 * n] {
        for (shape, ex) in every_shape(&[text], usage(9, reported)) {
            expect(
                shape,
                &run(&check, &ex.build()),
                Verdict::Fail,
                &[
                    &format!(
                        "usage.completion_tokens {reported} − reasoning_tokens 0 = {reported}"
                    ),
                    &format!("recounts to {n} (o200k_base)"),
                    "off by more than the 0 allowed",
                ],
            );
        }
    }
}

#[test]
fn completion_recount_subtracts_disclosed_reasoning_tokens() {
    let check = Check::CompletionTokensRecount;
    let text = "The answer is 42.";
    let n = tokens(text);
    for (shape, ex) in every_shape(&[text], reasoning(usage(9, n + 40), 40)) {
        expect(
            shape,
            &run(&check, &ex.build()),
            Verdict::Pass,
            &[&format!(
                "usage.completion_tokens {} − reasoning_tokens 40 = {n}",
                n + 40
            )],
        );
    }
    // Disclosing too few leaves tokens unaccounted for; too many, too few visible.
    for disclosed in [39, 41] {
        let ex = chat(&[text], reasoning(usage(9, n + 40), disclosed));
        expect_on(
            &check,
            &ex.build(),
            Verdict::Fail,
            &[
                &format!("reasoning_tokens {disclosed} = {}", n + 40 - disclosed),
                &format!("recounts to {n}"),
            ],
        );
    }
}

#[test]
fn completion_recount_fails_reasoning_beyond_the_completion() {
    let ex = chat(&["Hi"], reasoning(usage(9, 3), 50));
    fails(
        &Check::CompletionTokensRecount,
        &ex,
        &["usage.completion_tokens_details.reasoning_tokens 50 exceeds completion_tokens 3"],
    );
}

#[test]
fn completion_recount_errs_on_tool_calls() {
    errs(
        &Check::CompletionTokensRecount,
        &tool_call(usage(9, 12)),
        &["choice 0 calls tools", "not recounted"],
    );
}

#[test]
fn completion_recount_fails_without_usage() {
    let check = Check::CompletionTokensRecount;
    let mut body = chat(&["Hello"], Value::Null);
    fails(&check, &body, &["the response reports no usage"]);
    body = chat(&["Hello"], json!({"prompt_tokens": 9}));
    fails(
        &check,
        &body,
        &["usage.completion_tokens is not a non-negative integer (got nothing)"],
    );
    body = chat(
        &["Hello"],
        json!({"prompt_tokens": 9, "completion_tokens": -1}),
    );
    fails(&check, &body, &["usage.completion_tokens", "(got -1)"]);
    fails(
        &check,
        &chat_stream(&["Hello"], None),
        &["the response reports no usage"],
    );
}

#[test]
fn completion_recount_accepts_what_the_declared_tolerance_allows() {
    let check = Check::CompletionTokensRecount;
    let text = "Hello world, this is a small test of counting.";
    let n = tokens(text);
    let off_by_one = tolerant(1, 0);
    for reported in [n - 1, n + 1] {
        let ex = chat(&[text], usage(9, reported)).build();
        expect(
            "1 token allowed",
            &run_in(&off_by_one, &check, &ex, &[]),
            Verdict::Pass,
            &[&format!("= {reported}; the delivered text recounts to {n}")],
        );
    }
    for reported in [n - 2, n + 2] {
        let ex = chat(&[text], usage(9, reported)).build();
        expect(
            "1 token allowed",
            &run_in(&off_by_one, &check, &ex, &[]),
            Verdict::Fail,
            &["off by more than the 1 allowed"],
        );
    }
    // 10 % of the recount, rounded up.
    let allowed = n.div_ceil(10);
    let percent = tolerant(0, 10);
    let within = chat(&[text], usage(9, n + allowed)).build();
    expect(
        "10 % allowed",
        &run_in(&percent, &check, &within, &[]),
        Verdict::Pass,
        &[],
    );
    let beyond = chat(&[text], usage(9, n + allowed + 1)).build();
    expect(
        "10 % allowed",
        &run_in(&percent, &check, &beyond, &[]),
        Verdict::Fail,
        &[&format!("off by more than the {allowed} allowed")],
    );
}

// ---- prompt_tokens_recount -------------------------------------------------------

/// A chat answer to `request` reporting `prompt` prompt tokens.
fn prompted(request: Value, prompt: u64) -> Ex {
    chat(&["Hi"], usage(prompt, tokens("Hi"))).request(&request)
}

/// OpenAI's cookbook count: 3 per message + its role and content, 1 more
/// and the name for a name, 3 to prime the reply.
fn cookbook(messages: &[(&str, &str, Option<&str>)]) -> u64 {
    3 + messages
        .iter()
        .map(|(role, content, name)| {
            3 + tokens(role) + tokens(content) + name.map_or(0, |n| 1 + tokens(n))
        })
        .sum::<u64>()
}

fn messages(messages: &[(&str, &str, Option<&str>)]) -> Value {
    let messages: Vec<Value> = messages
        .iter()
        .map(|(role, content, name)| {
            let mut m = json!({"role": role, "content": content});
            if let Some(name) = name {
                m["name"] = json!(name);
            }
            m
        })
        .collect();
    json!({"model": "m", "max_tokens": 16, "messages": messages})
}

const CONVERSATION: [(&str, &str, Option<&str>); 4] = [
    ("system", "You are a patient teacher of arithmetic.", None),
    ("user", "What is a prime number?", Some("alice")),
    (
        "assistant",
        "A whole number above one that only one and itself divide.",
        None,
    ),
    ("user", "Is two a prime?", Some("bob")),
];

#[test]
fn prompt_recount_follows_the_cookbook_arithmetic() {
    let check = Check::PromptTokensRecount;
    let unnamed = [
        ("system", "You are terse.", None),
        ("user", "What is a token?", None),
    ];
    let expected = cookbook(&unnamed);
    assert_eq!(
        expected,
        3 + (3 + tokens("system") + tokens("You are terse."))
            + (3 + tokens("user") + tokens("What is a token?"))
    );
    passes(
        &check,
        &prompted(messages(&unnamed), expected),
        &[&format!(
            "usage.prompt_tokens is {expected}; the prompt recounts to {expected} (o200k_base, template overhead included)"
        )],
    );
    for reported in [expected - 1, expected + 1] {
        fails(
            &check,
            &prompted(messages(&unnamed), reported),
            &[
                &format!("usage.prompt_tokens is {reported}; the prompt recounts to {expected}"),
                "off by more than the 0 allowed",
            ],
        );
    }
}

#[test]
fn prompt_recount_counts_names() {
    let check = Check::PromptTokensRecount;
    let expected = cookbook(&CONVERSATION);
    let unnamed: Vec<_> = CONVERSATION
        .iter()
        .map(|(r, c, _)| (*r, *c, None))
        .collect();
    assert_eq!(
        expected,
        cookbook(&unnamed) + 2 + tokens("alice") + tokens("bob")
    );
    passes(
        &check,
        &prompted(messages(&CONVERSATION), expected),
        &[&format!("recounts to {expected}")],
    );
    // A target that bills names without the extra token per name.
    let without = expected - 2;
    fails(
        &check,
        &prompted(messages(&CONVERSATION), without),
        &[&format!(
            "usage.prompt_tokens is {without}; the prompt recounts to {expected}"
        )],
    );
}

#[test]
fn prompt_recount_counts_text_parts() {
    let check = Check::PromptTokensRecount;
    let request = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is"},
        {"type": "text", "text": " a token?"}
    ]}]});
    let expected = 3 + 3 + tokens("user") + tokens("What is") + tokens(" a token?");
    passes(
        &check,
        &prompted(request.clone(), expected),
        &[&format!("recounts to {expected}")],
    );
    fails(
        &check,
        &prompted(request, expected + 1),
        &[&format!(
            "usage.prompt_tokens is {}; the prompt recounts to {expected}",
            expected + 1
        )],
    );
}

#[test]
fn prompt_recount_errs_on_what_it_cannot_count() {
    let check = Check::PromptTokensRecount;
    let image = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    ]}]});
    errs(
        &check,
        &prompted(image, 100),
        &["message 0: a content part that is not text", "image_url"],
    );
    let numeric = json!({"model": "m", "messages": [{"role": "user", "content": 7}]});
    errs(
        &check,
        &prompted(numeric, 100),
        &["message 0: content is neither text nor parts: 7"],
    );
    let tools = json!({"model": "m", "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{}"}}]}
    ]});
    errs(
        &check,
        &prompted(tools, 100),
        &["message 1 carries tool calls"],
    );
    let not_array = json!({"model": "m", "messages": "hello"});
    errs(
        &check,
        &prompted(not_array, 100),
        &["messages is not an array"],
    );
    errs(
        &check,
        &prompted(json!({"model": "m"}), 100),
        &["neither messages nor a prompt"],
    );
}

#[test]
fn prompt_recount_counts_a_legacy_prompt() {
    let check = Check::PromptTokensRecount;
    let text = "Once upon a time, in a land far away,";
    let one = tokens(text);
    let single = legacy(&["there"], usage(one, 1)).request(&json!({"model": "m", "prompt": text}));
    passes(
        &check,
        &single,
        &[&format!(
            "usage.prompt_tokens is {one}; the prompt recounts to {one}"
        )],
    );
    fails(
        &check,
        &Ex {
            body: legacy(&["there"], usage(one + 3, 1)).body,
            ..single.clone()
        },
        &[&format!(
            "usage.prompt_tokens is {}; the prompt recounts to {one}",
            one + 3
        )],
    );
    let other = "Roses are red,";
    let both = one + tokens(other);
    let array = legacy(&["there", "violets"], usage(both, 2))
        .request(&json!({"model": "m", "prompt": [text, other]}));
    passes(&check, &array, &[&format!("recounts to {both}")]);
    let token_ids =
        legacy(&["there"], usage(3, 1)).request(&json!({"model": "m", "prompt": [[1, 2, 3]]}));
    errs(
        &check,
        &token_ids,
        &["the prompt array holds something other than text"],
    );
    let number = legacy(&["there"], usage(3, 1)).request(&json!({"model": "m", "prompt": 3}));
    errs(&check, &number, &["the request's prompt is not text"]);
}

#[test]
fn prompt_recount_uses_the_declared_chat_overhead() {
    let check = Check::PromptTokensRecount;
    let overhead = ChatOverhead {
        per_message: 5,
        per_name: 0,
        reply: 1,
        ..ChatOverhead::default()
    };
    let custom = context_of(Plan {
        accounting: Accounting {
            chat_overhead: overhead,
            ..Default::default()
        },
        ..Default::default()
    });
    let content: u64 = CONVERSATION
        .iter()
        .map(|(role, text, name)| tokens(role) + tokens(text) + name.map_or(0, tokens))
        .sum();
    let declared = 1 + 4 * 5 + content;
    let openai = cookbook(&CONVERSATION);
    assert_ne!(declared, openai);
    let ex = |reported| prompted(messages(&CONVERSATION), reported).build();
    expect(
        "declared overhead",
        &run_in(&custom, &check, &ex(declared), &[]),
        Verdict::Pass,
        &[&format!("recounts to {declared}")],
    );
    expect(
        "declared overhead",
        &run_in(&custom, &check, &ex(openai), &[]),
        Verdict::Fail,
        &[&format!(
            "usage.prompt_tokens is {openai}; the prompt recounts to {declared}"
        )],
    );
    expect(
        "default overhead",
        &run(&check, &ex(declared)),
        Verdict::Fail,
        &[&format!(
            "usage.prompt_tokens is {declared}; the prompt recounts to {openai}"
        )],
    );
}

/// Gemma's template in llama-cpp-python leaves system messages and names
/// out of the prompt: declared so, they cost nothing in the recount.
#[test]
fn prompt_recount_leaves_out_what_the_template_drops() {
    let check = Check::PromptTokensRecount;
    let gemma = context_of(Plan {
        accounting: Accounting {
            chat_overhead: ChatOverhead {
                per_message: 4,
                per_name: 0,
                reply: 4,
                system: Kept::Dropped,
                names: Kept::Dropped,
            },
            ..Default::default()
        },
        ..Default::default()
    });
    let kept: u64 = CONVERSATION
        .iter()
        .filter(|(role, ..)| *role != "system")
        .map(|(role, text, _)| 4 + tokens(role) + tokens(text))
        .sum();
    let expected = 4 + kept;
    let ex = |reported| prompted(messages(&CONVERSATION), reported).build();
    expect(
        "dropped system and names",
        &run_in(&gemma, &check, &ex(expected), &[]),
        Verdict::Pass,
        &[&format!("recounts to {expected}")],
    );
    let with_system = expected + 4 + tokens("system") + tokens(CONVERSATION[0].1);
    expect(
        "dropped system and names",
        &run_in(&gemma, &check, &ex(with_system), &[]),
        Verdict::Fail,
        &[&format!("recounts to {expected}")],
    );
}

#[test]
fn prompt_recount_accepts_what_the_declared_tolerance_allows() {
    let check = Check::PromptTokensRecount;
    let expected = cookbook(&CONVERSATION);
    let ex = |reported| prompted(messages(&CONVERSATION), reported).build();
    let off_by_one = tolerant(1, 0);
    for (reported, verdict) in [
        (expected + 1, Verdict::Pass),
        (expected - 1, Verdict::Pass),
        (expected + 2, Verdict::Fail),
    ] {
        expect(
            "1 token allowed",
            &run_in(&off_by_one, &check, &ex(reported), &[]),
            verdict,
            &[&format!("usage.prompt_tokens is {reported}")],
        );
    }
}

// ---- completion_tokens_within_limit ------------------------------------------------

/// An answer to a request with `params` reporting `completion` tokens.
fn bounded(params: Value, completion: u64) -> Ex {
    asking(chat(&["Hello"], usage(9, completion)), params)
}

#[test]
fn within_limit_passes_up_to_the_limit() {
    let check = Check::CompletionTokensWithinLimit;
    passes(
        &check,
        &bounded(json!({"max_tokens": 5}), 4),
        &["usage.completion_tokens 4 ≤ 5 (5 × 1)"],
    );
    passes(
        &check,
        &bounded(json!({"max_tokens": 5}), 5),
        &["usage.completion_tokens 5 ≤ 5 (5 × 1)"],
    );
    fails(
        &check,
        &bounded(json!({"max_tokens": 5}), 6),
        &["usage.completion_tokens is 6, over the limit of 5 per choice × 1 choice(s)"],
    );
}

#[test]
fn within_limit_takes_the_smaller_of_the_two_limits() {
    let check = Check::CompletionTokensWithinLimit;
    let both = json!({"max_tokens": 8, "max_completion_tokens": 5});
    fails(
        &check,
        &bounded(both, 6),
        &["over the limit of 5 per choice"],
    );
    passes(
        &check,
        &bounded(json!({"max_completion_tokens": 5}), 5),
        &["5 ≤ 5 (5 × 1)"],
    );
}

#[test]
fn within_limit_allows_the_limit_per_choice() {
    let check = Check::CompletionTokensWithinLimit;
    let params = json!({"max_completion_tokens": 5, "n": 2});
    for (shape, ex) in every_shape(&["Hello", "Hi"], usage(9, 10)) {
        let finding = run(&check, &asking(ex, params.clone()).build());
        expect(
            shape,
            &finding,
            Verdict::Pass,
            &["usage.completion_tokens 10 ≤ 10 (5 × 2)"],
        );
    }
    fails(
        &check,
        &bounded(params, 11),
        &["usage.completion_tokens is 11, over the limit of 5 per choice × 2 choice(s)"],
    );
}

#[test]
fn within_limit_errs_without_a_limit_and_fails_without_usage() {
    let check = Check::CompletionTokensWithinLimit;
    errs(
        &check,
        &bounded(json!({}), 4),
        &["the request sets no max_tokens or max_completion_tokens"],
    );
    errs(
        &check,
        &bounded(json!({"max_tokens": 5, "n": "two"}), 4),
        &["the request's n is not a count"],
    );
    fails(
        &check,
        &asking(chat(&["Hello"], Value::Null), json!({"max_tokens": 5})),
        &["the response reports no usage"],
    );
}

// ---- usage_matches_before ------------------------------------------------------------

#[test]
fn usage_matches_before_passes_equal_accounting() {
    let check = Check::UsageMatchesBefore;
    let text = "A small green stone.";
    let n = tokens(text);
    let used = reasoning(cached(usage(15, n + 7), 0), 7);
    let earlier = chat(&[text], used.clone()).build();
    for now in [
        chat(&[text], used.clone()),
        chat_stream(&[text], Some(used.clone())),
    ] {
        expect(
            "same usage",
            &run_after(&check, &now.build(), std::slice::from_ref(&earlier)),
            Verdict::Pass,
            &["the same accounting both times: prompt 15, reasoning 7, completion +0"],
        );
    }
}

#[test]
fn usage_matches_before_compares_offsets_not_counts() {
    // Different answers (as from a target that is not deterministic) billed
    // honestly both times agree; the same offset from the recount agrees too.
    let check = Check::UsageMatchesBefore;
    let (short, long) = ("Hi", "Hello there, how are you today?");
    let earlier = chat(&[short], usage(15, tokens(short))).build();
    let now = chat_stream(&[long], Some(usage(15, tokens(long)))).build();
    expect(
        "different answers",
        &run_after(&check, &now, std::slice::from_ref(&earlier)),
        Verdict::Pass,
        &["completion +0 against the recount"],
    );
    let earlier = chat(&[short], usage(15, tokens(short) + 2)).build();
    let now = chat_stream(&[long], Some(usage(15, tokens(long) + 2))).build();
    expect(
        "same overcount",
        &run_after(&check, &now, std::slice::from_ref(&earlier)),
        Verdict::Pass,
        &["completion +2 against the recount"],
    );
}

#[test]
fn usage_matches_before_fails_naming_each_difference() {
    let check = Check::UsageMatchesBefore;
    let n = tokens("Hi");
    let earlier = chat(&["Hi"], usage(15, n)).build();
    let differing = [
        (
            usage(15, n + 1),
            vec!["completion tokens billed beyond the recount of the delivered text: +1 here"],
        ),
        (usage(16, n), vec!["prompt_tokens 16 here, 15 before"]),
        (
            reasoning(usage(15, n + 4), 4),
            vec!["reasoning_tokens 4 here, 0 before"],
        ),
        (
            usage(14, n + 2),
            vec!["prompt_tokens 14 here, 15 before", "+2 here"],
        ),
    ];
    for (now, quotes) in differing {
        let now = chat_stream(&["Hi"], Some(now)).build();
        expect(
            "different usage",
            &run_after(&check, &now, std::slice::from_ref(&earlier)),
            Verdict::Fail,
            &[vec!["usage differs: "], quotes].concat(),
        );
    }
}

#[test]
fn usage_matches_before_ignores_totals_and_cache_hits() {
    // total_tokens is TS-ACC-USAGE-CONSISTENT's; cache hits may differ
    // between two sends of the same prompt.
    let check = Check::UsageMatchesBefore;
    let n = tokens("Hi");
    let earlier = chat(&["Hi"], usage(15, n)).build();
    let mut odd = cached(usage(15, n), 8);
    odd["total_tokens"] = json!(99);
    expect(
        "odd total, cache hit",
        &run_after(&check, &chat(&["Hi"], odd).build(), &[earlier]),
        Verdict::Pass,
        &[],
    );
}

#[test]
fn usage_matches_before_needs_one_earlier_exchange_with_usage() {
    let check = Check::UsageMatchesBefore;
    let now = chat(&["Hi"], usage(15, tokens("Hi"))).build();
    expect(
        "nothing before",
        &run_after(&check, &now, &[]),
        Verdict::Error,
        &["exactly one earlier request"],
    );
    expect(
        "two before",
        &run_after(&check, &now, &[now.clone(), now.clone()]),
        Verdict::Error,
        &["exactly one earlier request"],
    );
    let overloaded = Ex::json(&error_body()).status(503).build();
    expect(
        "earlier 503",
        &run_after(&check, &now, &[overloaded]),
        Verdict::Error,
        &[
            "the earlier request gives no usage to compare with",
            "status 503",
        ],
    );
    expect(
        "earlier refused",
        &run_after(&check, &now, &[refused()]),
        Verdict::Error,
        &["the earlier request gives no usage", "connection refused"],
    );
    let earlier_without = chat(&["Hi"], Value::Null).build();
    expect(
        "earlier without usage",
        &run_after(&check, &now, &[earlier_without]),
        Verdict::Error,
        &["the earlier request gives no usage", "reports no usage"],
    );
    let stream_without = chat_stream(&["Hi"], None).build();
    expect(
        "this stream without usage",
        &run_after(&check, &stream_without, std::slice::from_ref(&now)),
        Verdict::Pass,
        &["reports no usage; nothing to compare"],
    );
}

// ---- reasoning_tokens_disclosed ------------------------------------------------------

#[test]
fn reasoning_disclosed_passes_billed_equals_visible_plus_disclosed() {
    let check = Check::ReasoningTokensDisclosed;
    let text = "The answer is 42.";
    let n = tokens(text);
    for (shape, ex) in every_shape(&[text], reasoning(usage(9, n + 40), 40)) {
        expect(
            shape,
            &run(&check, &ex.build()),
            Verdict::Pass,
            &[&format!(
                "completion_tokens {} = 40 reasoning + the delivered {n}",
                n + 40
            )],
        );
    }
    passes(
        &check,
        &chat(&[text], usage(9, n)),
        &[&format!(
            "completion_tokens {n} = 0 reasoning + the delivered {n}"
        )],
    );
}

#[test]
fn reasoning_disclosed_fails_undisclosed_tokens() {
    let check = Check::ReasoningTokensDisclosed;
    let text = "The answer is 42.";
    let n = tokens(text);
    let total = n + 40;
    for (used, hidden, disclosed) in [
        (usage(9, total), 40, 0),
        (reasoning(usage(9, total), 30), 10, 30),
        (reasoning(usage(9, n + 1), 0), 1, 0),
    ] {
        let billed = used["completion_tokens"].clone();
        for (shape, ex) in every_shape(&[text], used.clone()) {
            expect(
                shape,
                &run(&check, &ex.build()),
                Verdict::Fail,
                &[&format!(
                    "{hidden} of {billed} billed completion tokens are neither delivered (the text recounts to {n}, o200k_base) nor disclosed as reasoning ({disclosed})"
                )],
            );
        }
    }
}

#[test]
fn reasoning_disclosed_fails_reasoning_beyond_the_completion() {
    fails(
        &Check::ReasoningTokensDisclosed,
        &chat(&["Hi"], reasoning(usage(9, 42), 50)),
        &["reasoning_tokens 50 exceeds completion_tokens 42"],
    );
}

#[test]
fn reasoning_disclosed_is_one_sided() {
    // Billing fewer tokens than were delivered hides nothing.
    let check = Check::ReasoningTokensDisclosed;
    let text = "Hello world, this is a small test of counting.";
    let n = tokens(text);
    passes(
        &check,
        &chat(&[text], usage(9, n - 3)),
        &[&format!(
            "completion_tokens {} = 0 reasoning + the delivered {n}",
            n - 3
        )],
    );
}

#[test]
fn reasoning_disclosed_allows_the_declared_tolerance() {
    let check = Check::ReasoningTokensDisclosed;
    let text = "The answer is 42.";
    let n = tokens(text);
    let ex = chat(&[text], reasoning(usage(9, n + 41), 40)).build();
    expect(
        "1 token allowed",
        &run_in(&tolerant(1, 0), &check, &ex, &[]),
        Verdict::Pass,
        &[&format!("the delivered {n} + 1 within tolerance")],
    );
    expect(
        "exact",
        &run(&check, &ex),
        Verdict::Fail,
        &[&format!("1 of {} billed completion tokens", n + 41)],
    );
}

#[test]
fn reasoning_disclosed_errs_on_tool_calls() {
    errs(
        &Check::ReasoningTokensDisclosed,
        &tool_call(reasoning(usage(9, 30), 10)),
        &["choice 0 calls tools"],
    );
}

// ---- cached_tokens_reported ----------------------------------------------------------

#[test]
fn cached_tokens_pass_when_some_of_the_prompt_is_cached() {
    let check = Check::CachedTokensReported;
    let earlier = chat(&["Hi"], usage(2000, 2)).build();
    for cached_tokens in [1024, 2000] {
        for (shape, ex) in every_shape(&["Hi"], cached(usage(2000, 2), cached_tokens)) {
            expect(
                shape,
                &run_after(&check, &ex.build(), std::slice::from_ref(&earlier)),
                Verdict::Pass,
                &[&format!(
                    "{cached_tokens} of 2000 prompt tokens reported as cached"
                )],
            );
        }
    }
}

#[test]
fn cached_tokens_fail_when_none_or_too_many_are_reported() {
    let check = Check::CachedTokensReported;
    let earlier = [chat(&["Hi"], usage(2000, 2)).build()];
    let judged = |used: Value| run_after(&check, &chat(&["Hi"], used).build(), &earlier);
    expect(
        "zero",
        &judged(cached(usage(2000, 2), 0)),
        Verdict::Fail,
        &[
            "no cached tokens reported for a repeated prefix",
            "prompt_tokens 2000",
            r#"{"cached_tokens":0}"#,
        ],
    );
    expect(
        "missing",
        &judged(usage(2000, 2)),
        Verdict::Fail,
        &["no cached tokens reported", "prompt_tokens_details nothing"],
    );
    expect(
        "beyond the prompt",
        &judged(cached(usage(2000, 2), 2048)),
        Verdict::Fail,
        &["cached_tokens 2048 exceed prompt_tokens 2000"],
    );
    let mut text = usage(2000, 2);
    text["prompt_tokens_details"] = json!({"cached_tokens": "1024"});
    expect(
        "not a number",
        &judged(text),
        Verdict::Fail,
        &["usage.prompt_tokens_details.cached_tokens is not a non-negative integer (got \"1024\")"],
    );
    expect(
        "no usage",
        &judged(Value::Null),
        Verdict::Fail,
        &["the response reports no usage"],
    );
}

#[test]
fn cached_tokens_need_a_served_earlier_exchange() {
    let check = Check::CachedTokensReported;
    let now = chat(&["Hi"], cached(usage(2000, 2), 1024)).build();
    expect(
        "nothing before",
        &run_after(&check, &now, &[]),
        Verdict::Error,
        &["the case sends no earlier request to fill the cache"],
    );
    let overloaded = Ex::json(&error_body()).status(503).build();
    expect(
        "earlier 503",
        &run_after(&check, &now, &[overloaded]),
        Verdict::Error,
        &["the earlier request was not served", "status 503"],
    );
    expect(
        "earlier refused",
        &run_after(&check, &now, &[refused()]),
        Verdict::Error,
        &["the earlier request was not served", "connection refused"],
    );
}

// ---- rate_limit_enforced ---------------------------------------------------------------

#[test]
fn rate_limit_enforced_passes_a_good_probe() {
    expect(
        "good probe",
        &after_probe(&Check::RateLimitEnforced, &probe()),
        Verdict::Pass,
        &[
            "2 requests below the limit served; 2 of 4 above it refused with 429 and an error object",
        ],
    );
    let mut all_refused = probe();
    all_refused[2..].fill_with(|| too_many(None));
    expect(
        "every request above refused",
        &after_probe(&Check::RateLimitEnforced, &all_refused),
        Verdict::Pass,
        &["4 of 4 above it refused"],
    );
}

#[test]
fn rate_limit_enforced_fails_a_429_below_the_limit() {
    let mut early = probe();
    early[1] = too_many(Some("1"));
    expect(
        "429 below",
        &after_probe(&Check::RateLimitEnforced, &early),
        Verdict::Fail,
        &["request 2 of 2 below the limit: 429 below the declared limit"],
    );
    let mut failing = probe();
    failing[0] = Ex::json(&error_body()).status(503).build();
    expect(
        "503 below",
        &after_probe(&Check::RateLimitEnforced, &failing),
        Verdict::Fail,
        &["request 1 of 2 below the limit: status 503", "overloaded"],
    );
}

#[test]
fn rate_limit_enforced_fails_anything_but_success_or_429_above_the_limit() {
    let check = Check::RateLimitEnforced;
    let mut overloaded = probe();
    overloaded[4] = Ex::json(&error_body()).status(503).build();
    expect(
        "5xx above",
        &after_probe(&check, &overloaded),
        Verdict::Fail,
        &[
            "request 3 of 4 sent at once above the limit: status 503; the body starts",
            "the server is overloaded",
        ],
    );
    let mut dropped = probe();
    dropped[2] = refused();
    expect(
        "no response above",
        &after_probe(&check, &dropped),
        Verdict::Fail,
        &[
            "request 1 of 4 sent at once above the limit: no response (transport error: connection refused)",
        ],
    );
    let mut bare = probe();
    bare[5] = Ex::new("text/plain", "Too Many Requests")
        .status(429)
        .headers(&[("Retry-After", "1")])
        .build();
    expect(
        "429 without an error object",
        &after_probe(&check, &bare),
        Verdict::Fail,
        &[
            "request 4 of 4 sent at once above the limit: 429 without an error object; the body starts \"Too Many Requests\"",
        ],
    );
    let mut cut = probe();
    cut[3] = chat(&["Hello"], usage(9, 1))
        .outcome(Some(tokencert_core::evidence::Outcome::Deadline {
            limit_ms: 30000,
        }))
        .build();
    expect(
        "200 cut short above",
        &after_probe(&check, &cut),
        Verdict::Fail,
        &[
            "request 2 of 4 sent at once above the limit: status 200 but the body did not complete: the deadline of 30000 ms passed",
        ],
    );
}

#[test]
fn rate_limit_enforced_fails_when_nothing_is_refused() {
    let all_served: Vec<Exchange> = (0..6).map(|_| served()).collect();
    expect(
        "no 429",
        &after_probe(&Check::RateLimitEnforced, &all_served),
        Verdict::Fail,
        &["all 4 requests sent at once above the limit were served; none was refused with 429"],
    );
}

#[test]
fn rate_limit_enforced_errs_on_a_probe_it_cannot_read() {
    let check = Check::RateLimitEnforced;
    let mut short = probe();
    short.pop();
    expect(
        "one exchange short",
        &after_probe(&check, &short),
        Verdict::Error,
        &["a probe of a limit of 3 requests sends 6 before the judged one; the evidence holds 5"],
    );
    expect(
        "no rate limit declared",
        &run_after(&check, &served(), &probe()),
        Verdict::Error,
        &["the plan declares no rate limit"],
    );
}

// ---- retry_after_honoured --------------------------------------------------------------

#[test]
fn retry_after_passes_seconds_or_a_date_then_success() {
    let check = Check::RetryAfterHonoured;
    let mut dated = probe();
    dated[5] = too_many(Some("Wed, 21 Oct 2015 07:28:00 GMT"));
    for before in [probe(), dated] {
        expect(
            "valid Retry-After",
            &after_probe(&check, &before),
            Verdict::Pass,
            &[
                "2 429(s), each with a valid Retry-After; the request after waiting was served (200)",
            ],
        );
    }
    let all_served: Vec<Exchange> = (0..6).map(|_| served()).collect();
    expect(
        "no 429 at all",
        &after_probe(&check, &all_served),
        Verdict::Pass,
        &["0 429(s)", "served (200)"],
    );
}

#[test]
fn retry_after_fails_a_missing_or_unreadable_value() {
    let check = Check::RetryAfterHonoured;
    let mut missing = probe();
    missing[5] = too_many(None);
    expect(
        "missing",
        &after_probe(&check, &missing),
        Verdict::Fail,
        &["the 429 to request 6 carries no Retry-After"],
    );
    for garbage in ["soon", "1.5", "-1", "", "Wed, 21 Oct 2015"] {
        let mut unreadable = probe();
        unreadable[4] = too_many(Some(garbage));
        expect(
            garbage,
            &after_probe(&check, &unreadable),
            Verdict::Fail,
            &[&format!(
                "the 429 to request 5 carries Retry-After {garbage:?}, neither seconds nor an HTTP date"
            )],
        );
    }
}

#[test]
fn retry_after_fails_when_the_request_after_waiting_is_refused() {
    let check = Check::RetryAfterHonoured;
    expect(
        "final 429",
        &run_in(&LIMITED, &check, &too_many(Some("1")), &probe()),
        Verdict::Fail,
        &[
            "the request sent after waiting as told was answered 429; the body starts",
            "Rate limit reached",
        ],
    );
    expect(
        "final refused",
        &run_in(&LIMITED, &check, &refused(), &probe()),
        Verdict::Error,
        &["no response to judge", "connection refused"],
    );
}

// ---- rate_limit_headers ------------------------------------------------------------------

const RATE_HEADERS: [(&str, &str); 4] = [
    ("Content-Type", "application/json"),
    ("x-ratelimit-limit-requests", "3"),
    ("X-RateLimit-Remaining-Requests", "2"),
    ("x-ratelimit-reset-requests", "1s"),
];

#[test]
fn rate_limit_headers_pass_when_all_three_are_sent() {
    let ex = chat(&["Hello"], usage(9, 1)).headers(&RATE_HEADERS);
    passes(
        &Check::RateLimitHeaders,
        &ex,
        &[
            "x-ratelimit-limit-requests: 3, x-ratelimit-remaining-requests: 2, x-ratelimit-reset-requests: 1s",
        ],
    );
    let refused_with_headers = Ex { status: 429, ..ex };
    passes(&Check::RateLimitHeaders, &refused_with_headers, &[]);
}

#[test]
fn rate_limit_headers_fail_naming_a_missing_one() {
    for (missing, (name, _)) in RATE_HEADERS.iter().enumerate().skip(1) {
        let headers: Vec<(&str, &str)> = (0..)
            .zip(RATE_HEADERS)
            .filter_map(|(i, header)| (i != missing).then_some(header))
            .collect();
        let name = name.to_ascii_lowercase();
        fails(
            &Check::RateLimitHeaders,
            &chat(&["Hello"], usage(9, 1)).headers(&headers),
            &[&format!("missing {name}")],
        );
    }
    fails(
        &Check::RateLimitHeaders,
        &chat(&["Hello"], usage(9, 1)),
        &[
            "missing x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests",
        ],
    );
    expect_on(
        &Check::RateLimitHeaders,
        &refused(),
        Verdict::Error,
        &["connection refused"],
    );
}

// ---- billed_usage ---------------------------------------------------------------------------

#[test]
fn billed_usage_reads_the_body_and_the_stream() {
    let used = reasoning(cached(usage(2000, 50), 1024), 30);
    let expected = TokenUsage {
        prompt: 2000,
        cached: 1024,
        completion: 50,
        reasoning: 30,
    };
    for (shape, ex) in every_shape(&["Hello"], used) {
        assert_eq!(check::billed_usage(&ex.build()), Some(expected), "{shape}");
    }
    assert_eq!(
        check::billed_usage(&chat(&["Hello"], usage(9, 2)).build()),
        Some(TokenUsage {
            prompt: 9,
            cached: 0,
            completion: 2,
            reasoning: 0,
        })
    );
}

#[test]
fn billed_usage_is_none_without_a_served_usage() {
    assert_eq!(check::billed_usage(&too_many(Some("1"))), None);
    assert_eq!(check::billed_usage(&refused()), None);
    assert_eq!(
        check::billed_usage(&chat(&["Hello"], Value::Null).build()),
        None
    );
    assert_eq!(
        check::billed_usage(&chat_stream(&["Hello"], None).build()),
        None
    );
    assert_eq!(
        check::billed_usage(&chat(&["Hello"], json!({"completion_tokens": 2})).build()),
        None
    );
}

// ---- judging a case with retries -------------------------------------------------------------

/// `exchange` as the runner records a retry of the one before it.
fn retry(mut exchange: Exchange) -> Exchange {
    exchange.attempt = 1;
    exchange
}

#[test]
fn a_retry_supersedes_the_refused_attempt() {
    let case = SUITE
        .case("acc.usage.non-stream")
        .expect("the suite has acc.usage.non-stream");
    let judged = |exchanges| judge::judge_case(&SUITE, case, &CONTEXT, Some(Ok(exchanges)));
    let result = judged(vec![too_many(Some("1")), retry(served())]);
    assert_eq!(result.verdict, Verdict::Pass, "{}", result.reason);
    assert_eq!(result.reason, "all 2 checks pass");
    // Without the retry marker, the 429 is one exchange too many.
    let result = judged(vec![too_many(Some("1")), served()]);
    assert_eq!(result.verdict, Verdict::Error, "{}", result.reason);
    assert!(
        result
            .reason
            .contains("the evidence holds 2 exchange(s) (retries not counted); the case sends 1"),
        "{}",
        result.reason
    );
    // A retry that is refused again is what is judged.
    let result = judged(vec![served(), retry(too_many(Some("1")))]);
    assert_eq!(result.verdict, Verdict::Fail, "{}", result.reason);
    assert!(result.reason.contains("429"), "{}", result.reason);
}

#[test]
fn a_retry_of_an_earlier_request_supersedes_it() {
    let case = SUITE
        .case("acc.stream-match.chat")
        .expect("the suite has acc.stream-match.chat");
    let context = context([Capability::Seed].into());
    let text = "A small green stone.";
    let used = usage(15, tokens(text));
    let exchanges = vec![
        too_many(Some("1")),
        retry(chat(&[text], used.clone()).build()),
        chat_stream(&[text], Some(used)).build(),
    ];
    let result = judge::judge_case(&SUITE, case, &context, Some(Ok(exchanges)));
    assert_eq!(result.verdict, Verdict::Pass, "{}", result.reason);
}
