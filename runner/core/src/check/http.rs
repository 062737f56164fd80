//! Checks on the response head.

use super::{Finding, View, excerpt, no_response};

/// The response status equals `expected`.
pub fn status(view: &View<'_>, expected: u16) -> Finding {
    let Some(head) = &view.exchange.response else {
        return no_response(view.exchange);
    };
    if head.status == expected {
        Finding::pass(format!("status {expected}"))
    } else {
        Finding::fail(format!(
            "expected status {expected}, got {}; body starts {}",
            head.status,
            excerpt(&view.body, 200)
        ))
    }
}

/// The media type of `Content-Type`, ignoring parameters and case, equals `expected`.
pub fn content_type(view: &View<'_>, expected: &str) -> Finding {
    let Some(head) = &view.exchange.response else {
        return no_response(view.exchange);
    };
    let Some(value) = head.header("content-type") else {
        return Finding::fail(format!(
            "expected Content-Type {expected}, but the header is absent"
        ));
    };
    let media = value.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case(expected) {
        Finding::pass(format!("Content-Type {value}"))
    } else {
        Finding::fail(format!("expected Content-Type {expected}, got {value:?}"))
    }
}
