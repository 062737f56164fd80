//! Sizing cases to the limits a target declares: a case whose requests
//! cannot fit is not claimed, naming the limit; cases that expect a
//! refusal or overflow a limit on purpose are never sized away.

mod common;

use std::path::Path;

use common::SUITE;
use tokencert_core::fit::{Counting, UNDECLARED_MARGIN_PERCENT, misfit};
use tokencert_core::suite::{Accounting, Case, Limits};
use tokencert_core::tokens::{Tokenizer, TokenizerSpec};

fn case(id: &str) -> &'static Case {
    SUITE
        .case(id)
        .unwrap_or_else(|| panic!("the suite has {id}"))
}

fn limits(context: u64, bytes: u64) -> Limits {
    Limits {
        max_context_tokens: context,
        max_request_bytes: bytes,
    }
}

fn o200k() -> Tokenizer {
    Tokenizer::load(&TokenizerSpec::O200kBase, Path::new(".")).expect("o200k_base loads")
}

#[test]
fn a_document_beyond_the_declared_context_is_not_claimed_naming_the_limit() {
    let tokenizer = o200k();
    let declared = Accounting::openai_o200k();
    let counting = Counting {
        tokenizer: &tokenizer,
        accounting: &declared,
    };
    let long = case("acc.recount.prompt-long-document");
    let why = misfit(long, &limits(512, 1 << 20), counting).expect("too long for 512");
    assert!(why.contains("the target declares 512"), "{why}");
    assert!(why.contains("64 for the completion"), "{why}");
    assert_eq!(misfit(long, &Limits::default(), counting), None);
    // The completion limit alone can exceed a context.
    let generation = case("acc.recount.completion-long");
    assert!(misfit(generation, &limits(1000, 1 << 20), counting).is_some());
}

#[test]
fn an_undeclared_tokenizer_estimates_with_a_margin() {
    let tokenizer = o200k();
    let (declared, undeclared) = (Accounting::openai_o200k(), Accounting::default());
    let long = case("acc.recount.prompt-long-document");
    let at = |accounting: &Accounting, context| {
        let counting = Counting {
            tokenizer: &tokenizer,
            accounting,
        };
        misfit(long, &limits(context, 1 << 20), counting)
    };
    // Find the smallest context that fits with the declared tokenizer: the
    // undeclared estimate needs more.
    let fits = (1..4000u64)
        .find(|&c| at(&declared, c).is_none())
        .expect("fits somewhere");
    let why = at(&undeclared, fits).expect("the margin does not fit");
    assert!(
        why.contains(&format!("plus {UNDECLARED_MARGIN_PERCENT}%")),
        "{why}"
    );
}

#[test]
fn other_dialects_are_sized_by_their_own_prompt_and_output_limit() {
    let tokenizer = o200k();
    let declared = Accounting::openai_o200k();
    let counting = Counting {
        tokenizer: &tokenizer,
        accounting: &declared,
    };
    let document = "word ".repeat(600);
    let responses: Case = serde_json::from_value(serde_json::json!({
        "id": "x.responses", "clause": "TS-X", "description": "d",
        "request": {"endpoint": "responses", "body": {
            "model": "${model}", "instructions": document, "input": "Sum it up.",
            "max_output_tokens": 64}},
        "checks": [{"status": 200}],
    }))
    .expect("a case");
    let why = misfit(&responses, &limits(512, 1 << 20), counting).expect("too long for 512");
    assert!(why.contains("64 for the completion"), "{why}");
    assert_eq!(misfit(&responses, &limits(1024, 1 << 20), counting), None);
    let messages: Case = serde_json::from_value(serde_json::json!({
        "id": "x.messages", "clause": "TS-X", "description": "d",
        "request": {"endpoint": "messages", "body": {
            "model": "${model}", "system": document, "max_tokens": 64,
            "messages": [{"role": "user", "content": "Sum it up."}]}},
        "checks": [{"status": 200}],
    }))
    .expect("a case");
    assert!(misfit(&messages, &limits(512, 1 << 20), counting).is_some());
}

#[test]
fn a_body_beyond_the_declared_request_size_is_not_claimed() {
    let tokenizer = o200k();
    let declared = Accounting::openai_o200k();
    let counting = Counting {
        tokenizer: &tokenizer,
        accounting: &declared,
    };
    let why = misfit(
        case("acc.recount.prompt-long-document"),
        &limits(1 << 20, 4096),
        counting,
    )
    .expect("about 8 KB do not fit 4 KiB");
    assert!(why.contains("the target declares at most 4096"), "{why}");
}

#[test]
fn refusals_and_overflows_on_purpose_are_never_sized_away() {
    let tokenizer = o200k();
    let declared = Accounting::openai_o200k();
    let counting = Counting {
        tokenizer: &tokenizer,
        accounting: &declared,
    };
    let tiny = limits(8, 64);
    for id in [
        "api.error.max-tokens-range.beyond-context",
        "api.error.context-length.chat",
        "api.error.body-size.chat",
    ] {
        assert_eq!(misfit(case(id), &tiny, counting), None, "{id}");
    }
}
