//! Checks on a whole (non-streamed) JSON body.

use super::{Finding, Schemas, View, excerpt, schema_errors, usage_consistent};

fn json_body(view: &View<'_>) -> Result<serde_json::Value, Finding> {
    let body = view.complete_body()?;
    serde_json::from_slice(body).map_err(|e| {
        Finding::fail(format!(
            "the body is not JSON ({e}); it starts {}",
            excerpt(body, 200)
        ))
    })
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
