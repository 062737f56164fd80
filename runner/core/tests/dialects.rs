//! Dialects a target does not declare: their cases are not claimed, naming
//! the dialect; a profile without `dialects` serves OpenAI Chat alone.

mod common;

use std::path::Path;

use serde_json::json;
use tokencert_core::judge::{Context, Plan};
use tokencert_core::suite::{Case, Dialect, DialectClaim, Dialects};

fn case(endpoint: &str) -> Case {
    serde_json::from_value(json!({
        "id": format!("x.{endpoint}"),
        "clause": "TS-X",
        "description": "d",
        "request": {"endpoint": endpoint, "body": {"model": "${model}"}},
        "checks": [{"status": 200}],
    }))
    .expect("a case")
}

fn context(dialects: Dialects) -> Context {
    let plan = Plan {
        dialects,
        ..Plan::default()
    };
    Context::new(plan, Path::new(".")).expect("the plan loads")
}

#[test]
fn cases_of_an_undeclared_dialect_are_not_claimed_naming_it() {
    let chat_only = context(Dialects::default());
    assert!(chat_only.unclaimed(&case("chat")).is_empty());
    assert!(chat_only.unclaimed(&case("models")).is_empty());
    assert_eq!(
        chat_only.unclaimed(&case("messages")),
        ["dialect anthropic-messages"]
    );
    assert_eq!(
        chat_only.unclaimed(&case("messages_count_tokens")),
        ["dialect anthropic-messages"]
    );
    assert_eq!(
        chat_only.unclaimed(&case("responses")),
        ["dialect openai-responses"]
    );

    let messages_only = context(Dialects(
        [(Dialect::AnthropicMessages, DialectClaim::default())].into(),
    ));
    assert!(messages_only.unclaimed(&case("messages")).is_empty());
    assert_eq!(
        messages_only.unclaimed(&case("chat")),
        ["dialect openai-chat"]
    );
}

#[test]
fn a_performance_case_of_an_undeclared_dialect_is_not_claimed() {
    let case = common::SUITE
        .case("perf.messages.interactive")
        .expect("the suite has a Messages load");
    let chat_only = context(Dialects::default());
    assert!(
        chat_only
            .unclaimed(case)
            .contains(&"dialect anthropic-messages".to_string()),
        "{:?}",
        chat_only.unclaimed(case)
    );
}

#[test]
fn a_plan_serving_openai_chat_alone_is_written_as_before() {
    let plan = Plan::default();
    let written = serde_json::to_value(&plan).expect("serialises");
    assert!(written.get("dialects").is_none(), "{written}");
    let all = Plan {
        dialects: Dialects(
            Dialect::ALL
                .into_iter()
                .map(|d| (d, DialectClaim::default()))
                .collect(),
        ),
        ..Plan::default()
    };
    let written = serde_json::to_value(&all).expect("serialises");
    assert_eq!(
        written["dialects"],
        json!({"openai-chat": {}, "anthropic-messages": {}, "openai-responses": {}})
    );
    let read: Plan = serde_json::from_value(written).expect("reads back");
    assert_eq!(read, all);
}
