//! Checks on a whole (non-streamed) JSON body.

use super::{Finding, Schemas, View, excerpt, schema_errors, usage_consistent};

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
        400 => match json_schema(view, "error", schemas) {
            f if f.verdict == crate::judge::Verdict::Pass => {
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
