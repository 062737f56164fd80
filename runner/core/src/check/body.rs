//! Checks on a whole (non-streamed) JSON body.

use super::{Finding, Schemas, View, excerpt, schema_errors, usage_consistent};
use crate::judge::{Context, Verdict};
use crate::suite::{Check, Dialect};

/// The schema of the dialect's error body.
fn error_schema(view: &View<'_>) -> &'static str {
    match Dialect::of_url(&view.exchange.url) {
        Dialect::AnthropicMessages => "anthropic.error",
        Dialect::OpenaiChat | Dialect::OpenaiResponses => "error",
    }
}

fn json_body(view: &View<'_>) -> Result<serde_json::Value, Finding> {
    let body = view.complete_body()?;
    serde_json::from_slice(body).map_err(|e| Finding::fail(view.not_json(&e)))
}

/// The body is JSON matching the named schema.
pub fn json_schema(view: &View<'_>, name: &str, schemas: &Schemas) -> Finding {
    let value = match json_body(view) {
        Ok(v) => v,
        Err(f) => return f,
    };
    match schema_errors(&value, name, schemas) {
        Ok(()) => Finding::pass(format!("the body matches {name}")),
        Err(f) => Finding {
            reason: format!("the body does not match {name}: {}", f.reason),
            ..f
        },
    }
}

/// The body's `usage` is present, integral, and adds up.
pub fn usage_adds_up(view: &View<'_>) -> Finding {
    let value = match json_body(view) {
        Ok(v) => v,
        Err(f) => return f,
    };
    match Dialect::of_url(&view.exchange.url) {
        Dialect::AnthropicMessages => return super::messages::usage_adds_up(&value),
        Dialect::OpenaiResponses => return super::responses::usage_adds_up(&value),
        Dialect::OpenaiChat => {}
    }
    let Some(usage) = value.get("usage").filter(|u| u.is_object()) else {
        return Finding::fail("the body has no usage object");
    };
    match usage_consistent(usage) {
        Ok((p, c)) => Finding::pass(format!("usage {p} + {c} = {}", p + c)),
        Err(why) => Finding::fail(why),
    }
}

/// Status 200, or 400 with a well-formed error object; never anything else.
pub fn ignored_or_refused(view: &View<'_>, schemas: &Schemas) -> Finding {
    let Some(head) = &view.exchange.response else {
        return super::no_response(view.exchange);
    };
    match head.status {
        200 => Finding::pass("status 200: the field was ignored"),
        400 => match json_schema(view, error_schema(view), schemas) {
            f if f.verdict == Verdict::Pass => {
                Finding::pass("status 400 with an error object: the field was refused")
            }
            f => Finding {
                reason: format!("status 400, but {}", f.reason),
                ..f
            },
        },
        other => Finding::fail(format!(
            "expected 200 (ignored) or 400 (refused), got {other}; body starts {}",
            excerpt(&view.body, 200)
        )),
    }
}

/// The error object's `param` names `expected`.
pub fn error_param(view: &View<'_>, expected: &str) -> Finding {
    let value = match json_body(view) {
        Ok(v) => v,
        Err(f) => return f,
    };
    match value.get("error").and_then(|e| e.get("param")) {
        Some(serde_json::Value::String(p)) if p == expected => {
            Finding::pass(format!("error.param is {p:?}"))
        }
        Some(other) => Finding::fail(format!("error.param is {other}, expected {expected:?}")),
        None => Finding::fail(format!(
            "the body has no error.param; expected {expected:?}"
        )),
    }
}

/// The body's `id` equals the model id in the request path.
pub fn model_id_matches_path(view: &View<'_>) -> Finding {
    let Some((_, encoded)) = view.exchange.url.rsplit_once("/models/") else {
        return Finding::error(format!(
            "the request URL {} names no model",
            view.exchange.url
        ));
    };
    let requested = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy();
    let value = match json_body(view) {
        Ok(v) => v,
        Err(f) => return f,
    };
    match value.get("id").and_then(serde_json::Value::as_str) {
        Some(id) if id == requested => Finding::pass(format!("id {id:?} as requested")),
        Some(id) => Finding::fail(format!(
            "the path asks for {requested:?}, the body has id {id:?}"
        )),
        None => Finding::fail("the body has no string id"),
    }
}

/// Refused (status 400 with the dialect's error object), or else honoured:
/// every listed check passes.
pub fn honoured_or_refused(
    view: &View<'_>,
    checks: &[Check],
    schemas: &Schemas,
    context: &Context,
) -> Finding {
    let Some(head) = &view.exchange.response else {
        return super::no_response(view.exchange);
    };
    let schema = error_schema(view);
    if head.status == 400 {
        let refused = json_schema(view, schema, schemas);
        return match refused.verdict {
            Verdict::Pass => Finding::pass(format!(
                "refused: status 400 with an error object ({schema})"
            )),
            _ => Finding {
                reason: format!("status 400, but {}", refused.reason),
                ..refused
            },
        };
    }
    for check in checks {
        let finding = super::run(check, view, schemas, context);
        if finding.verdict != Verdict::Pass {
            return Finding {
                reason: format!(
                    "neither refused (status {}, not 400) nor honoured: {}: {}",
                    head.status,
                    check.label(),
                    finding.reason
                ),
                ..finding
            };
        }
    }
    let labels: Vec<String> = checks.iter().map(Check::label).collect();
    Finding::pass(format!(
        "honoured (status {}): {} pass",
        head.status,
        labels.join(", ")
    ))
}

/// The error object (of a JSON body, or of a stream's last `error`
/// event) has `error.type` equal to `expected`.
pub fn error_type(view: &View<'_>, expected: &str) -> Finding {
    if let Err(f) = view.complete_body() {
        return f;
    }
    let (value, at) = match serde_json::from_slice::<serde_json::Value>(&view.body) {
        Ok(value) => (value, "the body".to_string()),
        Err(e) => {
            let event = view
                .sse
                .events
                .iter()
                .enumerate()
                .rev()
                .find_map(|(i, event)| {
                    let value: serde_json::Value = serde_json::from_str(&event.data).ok()?;
                    value
                        .get("error")
                        .is_some()
                        .then(|| (value, format!("event {i} (byte {})", event.start)))
                });
            match event {
                Some(found) => found,
                None => return Finding::fail(view.not_json(&e)),
            }
        }
    };
    match value.get("error").and_then(|e| e.get("type")) {
        Some(serde_json::Value::String(t)) if t == expected => {
            Finding::pass(format!("{at}: error.type is {t:?}"))
        }
        Some(other) => Finding::fail(format!(
            "{at}: error.type is {other}, expected {expected:?}"
        )),
        None => Finding::fail(format!(
            "{at} has no error.type; expected {expected:?}; it starts {}",
            excerpt(value.to_string().as_bytes(), 120)
        )),
    }
}

/// The count_tokens body's `input_tokens` equals the prompt tokens billed
/// for the case's single other exchange, a messages request with the same
/// prompt (input + cache read + cache creation tokens).
pub fn count_tokens_matches(view: &View<'_>) -> Finding {
    let [other] = view.before.as_slice() else {
        return Finding::error(
            "the case must send exactly one messages request besides count_tokens",
        );
    };
    let counting = |v: &View<'_>| {
        v.exchange
            .url
            .trim_end_matches('/')
            .ends_with("/count_tokens")
    };
    let (counted, billed) = match (counting(view), counting(other)) {
        (true, false) => (view, other),
        (false, true) => (other, view),
        _ => {
            return Finding::error(format!(
                "exactly one of the case's two requests must go to count_tokens; they go to {} and {}",
                other.exchange.url, view.exchange.url
            ));
        }
    };
    let value = match json_body(counted) {
        Ok(v) => v,
        Err(f) => return f,
    };
    let Some(count) = value
        .get("input_tokens")
        .and_then(serde_json::Value::as_u64)
    else {
        return Finding::fail(format!(
            "the count_tokens body has no integer input_tokens (got {})",
            super::short(value.get("input_tokens"))
        ));
    };
    let usage = match super::output::assemble(billed) {
        Ok(output) => match (output.usage, output.usage_problem) {
            (Some(usage), _) => usage,
            (None, why) => {
                return Finding::error(format!(
                    "the messages request reports no usable usage{}",
                    why.map(|w| format!(": {w}")).unwrap_or_default()
                ));
            }
        },
        Err(f) => {
            return Finding::error(format!(
                "the messages request gave no usage to compare with: {}",
                f.reason
            ));
        }
    };
    let prompt = usage["prompt_tokens"].as_u64().unwrap_or_default();
    if count == prompt {
        Finding::pass(format!(
            "count_tokens says input_tokens {count}; the messages request billed {prompt} prompt tokens (input + cache read + cache creation)"
        ))
    } else {
        Finding::fail(format!(
            "count_tokens says input_tokens {count}, but the messages request billed {prompt} prompt tokens (input + cache read + cache creation)"
        ))
    }
}
