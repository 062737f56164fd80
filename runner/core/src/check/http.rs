//! Checks on the response head.

use super::{Finding, View, excerpt, no_response};
use crate::evidence::REDACTED;
use crate::suite::{StatusSet, WRONG_KEY};

/// The response status is one of `expected`.
pub fn status(view: &View<'_>, expected: &StatusSet) -> Finding {
    let Some(head) = &view.exchange.response else {
        return no_response(view.exchange);
    };
    if expected.contains(head.status) {
        return Finding::pass(format!("status {}", head.status));
    }
    // The client never follows a redirect: say where it pointed.
    let redirect = match head.header("location") {
        Some(location) if (300..400).contains(&head.status) => {
            format!(", a redirect to {location} (not followed)")
        }
        _ => String::new(),
    };
    // A body that never ended is part of what the target did.
    let cut = view
        .exchange
        .incomplete()
        .map(|why| format!(" (incomplete, {} bytes received: {why})", view.body.len()))
        .unwrap_or_default();
    Finding::fail(format!(
        "expected status {}, got {}{redirect}; body starts {}{cut}",
        expected.label(),
        head.status,
        excerpt(&view.body, 200)
    ))
}

/// Neither the target's key (which the driver replaced by the redaction
/// marker wherever it appeared) nor the wrong key a case presents appears
/// in the response head or body.
pub fn key_not_echoed(view: &View<'_>) -> Finding {
    let Some(head) = &view.exchange.response else {
        return no_response(view.exchange);
    };
    let body = match view.complete_body() {
        Ok(b) => b,
        Err(f) => return f,
    };
    let body = String::from_utf8_lossy(body);
    for (what, needle) in [
        ("the target's API key", REDACTED),
        ("the presented key", WRONG_KEY),
    ] {
        if let Some((name, _)) = head.headers.iter().find(|(_, v)| v.contains(needle)) {
            return Finding::fail(format!("header {name} repeats {what}"));
        }
        if let Some(at) = body.find(needle) {
            return Finding::fail(format!("the body repeats {what} at byte {at}"));
        }
    }
    Finding::pass("the response repeats no credential")
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
