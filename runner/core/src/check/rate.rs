//! Rate-limit conformance, judged on the exchanges of a rate-limit probe:
//! `requests − 1` requests below the limit, then `requests + 1` sent at
//! once above it, then the judged request sent after waiting as told.

use super::{Finding, View, excerpt};
use crate::evidence::Exchange;
use crate::judge::Context;

/// The headers every response of a rate-limited target should carry.
pub const RATE_LIMIT_HEADERS: [&str; 3] = [
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
];

/// The probe's earlier exchanges split into below and above the limit.
fn phases<'v, 'a>(
    view: &'v View<'a>,
    context: &Context,
) -> Result<(&'v [View<'a>], &'v [View<'a>]), Finding> {
    let Some(limit) = &context.plan.rate_limit else {
        return Err(Finding::error("the plan declares no rate limit"));
    };
    let below = (limit.requests as usize).saturating_sub(1);
    if view.before.len() != 2 * limit.requests as usize {
        return Err(Finding::error(format!(
            "a probe of a limit of {} requests sends {} before the judged one; the evidence holds {}",
            limit.requests,
            2 * limit.requests,
            view.before.len()
        )));
    }
    Ok(view.before.split_at(below))
}

/// Whether the exchange's body is a JSON error object with a message.
fn has_error_object(exchange: &Exchange) -> bool {
    serde_json::from_slice::<serde_json::Value>(&exchange.body())
        .ok()
        .and_then(|v| v.get("error")?.get("message")?.as_str().map(|_| ()))
        .is_some()
}

/// What went wrong with one probe exchange, if it was not answered with
/// `allowed` statuses (2xx, plus 429 when `refusal_ok`).
fn misbehaviour(exchange: &Exchange, refusal_ok: bool) -> Option<String> {
    let Some(head) = &exchange.response else {
        let why = exchange
            .incomplete()
            .unwrap_or_else(|| "no response".into());
        return Some(format!("no response ({why})"));
    };
    let status = head.status;
    if (200..300).contains(&status) {
        return exchange
            .incomplete()
            .map(|why| format!("status {status} but the body did not complete: {why}"));
    }
    match status {
        429 if refusal_ok => {
            if has_error_object(exchange) {
                None
            } else {
                Some(format!(
                    "429 without an error object; the body starts {}",
                    excerpt(&exchange.body(), 120)
                ))
            }
        }
        429 => Some("429 below the declared limit".into()),
        _ => Some(format!(
            "status {status}; the body starts {}",
            excerpt(&exchange.body(), 120)
        )),
    }
}

/// No 429 below the limit; above it at least one 429, each with an error
/// object, and nothing else but success: no 5xx, no dropped connection.
pub fn rate_limit_enforced(view: &View<'_>, context: &Context) -> Finding {
    let (below, above) = match phases(view, context) {
        Ok(p) => p,
        Err(f) => return f,
    };
    for (i, v) in below.iter().enumerate() {
        if let Some(why) = misbehaviour(v.exchange, false) {
            return Finding::fail(format!(
                "request {} of {} below the limit: {why}",
                i + 1,
                below.len()
            ));
        }
    }
    for (i, v) in above.iter().enumerate() {
        if let Some(why) = misbehaviour(v.exchange, true) {
            return Finding::fail(format!(
                "request {} of {} sent at once above the limit: {why}",
                i + 1,
                above.len()
            ));
        }
    }
    let refused = above
        .iter()
        .filter(|v| {
            v.exchange
                .response
                .as_ref()
                .is_some_and(|h| h.status == 429)
        })
        .count();
    if refused == 0 {
        return Finding::fail(format!(
            "all {} requests sent at once above the limit were served; none was refused with 429",
            above.len()
        ));
    }
    Finding::pass(format!(
        "{} requests below the limit served; {refused} of {} above it refused with 429 and an error object",
        below.len(),
        above.len()
    ))
}

/// A `Retry-After` value (RFC 9110 §10.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// A delay in seconds (saturating at `u64::MAX`).
    Seconds(u64),
    /// An HTTP date.
    Date(std::time::SystemTime),
}

/// Reads a `Retry-After` value: delay-seconds (digits only) or an HTTP
/// date; `None` when it is neither.
pub fn parse_retry_after(value: &str) -> Option<RetryAfter> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(RetryAfter::Seconds(value.parse().unwrap_or(u64::MAX)));
    }
    httpdate::parse_http_date(value).ok().map(RetryAfter::Date)
}

/// Every 429 carries a valid `Retry-After`, and the request sent after
/// waiting as told succeeds.
pub fn retry_after_honoured(view: &View<'_>) -> Finding {
    let mut refusals = 0;
    for (i, earlier) in view.before.iter().enumerate() {
        let Some(head) = earlier
            .exchange
            .response
            .as_ref()
            .filter(|h| h.status == 429)
        else {
            continue;
        };
        refusals += 1;
        match head.header("retry-after") {
            None => {
                return Finding::fail(format!(
                    "the 429 to request {} carries no Retry-After",
                    i + 1
                ));
            }
            Some(value) if parse_retry_after(value).is_none() => {
                return Finding::fail(format!(
                    "the 429 to request {} carries Retry-After {value:?}, neither seconds nor an HTTP date",
                    i + 1
                ));
            }
            Some(_) => {}
        }
    }
    let last = match &view.exchange.response {
        None => return super::no_response(view.exchange),
        Some(head) => head.status,
    };
    if !(200..300).contains(&last) || view.exchange.incomplete().is_some() {
        return Finding::fail(format!(
            "the request sent after waiting as told was answered {last}; the body starts {}",
            excerpt(&view.body, 120)
        ));
    }
    Finding::pass(format!(
        "{refusals} 429(s), each with a valid Retry-After; the request after waiting was served ({last})"
    ))
}

/// The response carries the `x-ratelimit-*-requests` headers.
pub fn rate_limit_headers(view: &View<'_>) -> Finding {
    let Some(head) = &view.exchange.response else {
        return super::no_response(view.exchange);
    };
    let missing: Vec<&str> = RATE_LIMIT_HEADERS
        .iter()
        .copied()
        .filter(|name| head.header(name).is_none())
        .collect();
    if missing.is_empty() {
        let values: Vec<String> = RATE_LIMIT_HEADERS
            .iter()
            .filter_map(|name| Some(format!("{name}: {}", head.header(name)?)))
            .collect();
        Finding::pass(values.join(", "))
    } else {
        Finding::fail(format!("missing {}", missing.join(", ")))
    }
}
