//! What a probe will cost a target before it is sent: requests as the run
//! would send them ([`Context::exchanges_of`], a performance case's
//! planned load), tokens as the requests' completion limits plus an
//! estimate of their prompts.

use std::path::Path;

use serde_json::Value;
use tokencert_core::judge::{Context, Plan};
use tokencert_core::suite::{Case, Endpoint, Request, Suite, Templates};
use tokencert_drive::PreparedRemote;
use tokencert_drive::load::plan_case;

use crate::budget::Cost;
use crate::error::Error;

/// Completion tokens assumed for a request that sets no limit
/// (`max_tokens` / `max_completion_tokens`); two cases of the suite do.
pub const UNLIMITED_COMPLETION_ESTIMATE: u64 = 256;

/// Prompt bytes per token assumed: below what any common tokenizer spends
/// on text (English is about 4, CJK about 3), so prompts are over- rather
/// than under-estimated.
pub const BYTES_PER_TOKEN: u64 = 3;

/// The cost of running `cases` against `target`: the cases the run would
/// send (claimed, fitting the declared limits), each with its `before`
/// requests, rate-limit probe and judged request, or its planned load.
///
/// # Errors
///
/// [`Error::Estimate`] when the declared tokenizer cannot be loaded or a
/// performance case's workload cannot be planned (the run would fail the
/// same way).
pub fn estimate(suite: &Suite, cases: &[&Case], target: &PreparedRemote) -> Result<Cost, Error> {
    let plan = Plan {
        cases: cases.iter().map(|c| c.id.clone()).collect(),
        claims: target.claims.clone(),
        dialects: target.target.dialects.clone(),
        accounting: target.accounting.clone(),
        rate_limit: target.target.rate_limit.clone(),
        performance: target.performance.clone(),
        limits: target.target.limits,
        identity: None,
    };
    let context = Context::new(plan, Path::new("")).map_err(|e| Error::Estimate(e.to_string()))?;
    let templates = target.target.templates();
    let mut total = Cost::default();
    for case in cases.iter().copied() {
        let cost = match &case.performance {
            Some(performance) => {
                if !context.unclaimed(case).is_empty() {
                    continue;
                }
                let planned = plan_case(
                    case,
                    performance,
                    &context.tokenizer,
                    &suite.root,
                    target.target.limits.max_context_tokens,
                    &context.plan.accounting.chat_overhead,
                )
                .map_err(|e| Error::Estimate(format!("case {}: {e}", case.id)))?;
                let overhead = {
                    let o = &context.plan.accounting.chat_overhead;
                    o.per_message + o.reply
                };
                Cost {
                    requests: planned.plan.len() as u64,
                    tokens: planned.plan.iter().fold(0u64, |sum, r| {
                        sum.saturating_add(r.prompt_tokens + overhead + r.max_tokens)
                    }),
                }
            }
            None if !context.sends(case) => continue,
            None => conformance_cost(case, &context, templates),
        };
        total = Cost {
            requests: total.requests.saturating_add(cost.requests),
            tokens: total.tokens.saturating_add(cost.tokens),
        };
    }
    Ok(total)
}

/// The cost of a fingerprint of `target`: one request per probe of the
/// suite's probe set (as [`tokencert_drive::fingerprint`] sends them),
/// each costing [`request_tokens`]. Nothing without a probe set (the
/// config refuses a fingerprint probe then).
pub fn fingerprint_estimate(suite: &Suite, logprobs: bool, target: &PreparedRemote) -> Cost {
    let Some(set) = &suite.probe_set else {
        return Cost::default();
    };
    let templates = target.target.templates();
    set.cases(logprobs)
        .iter()
        .filter_map(|case| case.request.as_ref())
        .fold(Cost::default(), |total, request| Cost {
            requests: total.requests.saturating_add(1),
            tokens: total
                .tokens
                .saturating_add(request_tokens(request, templates)),
        })
}

/// A conformance case: its `before` requests, its probe's requests (sent
/// with the judged request's body) and the judged request.
fn conformance_cost(case: &Case, context: &Context, templates: Templates<'_>) -> Cost {
    let exchanges = context.exchanges_of(case).unwrap_or(1) as u64;
    let before: u64 = case
        .before
        .iter()
        .map(|r| request_tokens(r, templates))
        .fold(0, u64::saturating_add);
    let judged = case
        .request
        .as_ref()
        .map_or(0, |r| request_tokens(r, templates));
    let repeats = exchanges.saturating_sub(case.before.len() as u64);
    Cost {
        requests: exchanges,
        tokens: before.saturating_add(judged.saturating_mul(repeats)),
    }
}

/// Tokens one request may be billed: its prompt (body bytes over
/// [`BYTES_PER_TOKEN`], at most the declared context) plus its completion
/// limit for each of its `n` choices. Model listings cost nothing.
pub fn request_tokens(request: &Request, templates: Templates<'_>) -> u64 {
    if matches!(request.endpoint, Endpoint::Models | Endpoint::Model) {
        return 0;
    }
    let body = request.body.clone().map(|b| templates.resolve(b));
    let bytes = match (&body, &request.raw_body) {
        (Some(body), _) => body.to_string().len() as u64,
        (None, Some(raw)) => raw.len() as u64,
        (None, None) => 0,
    };
    let prompt = bytes
        .div_ceil(BYTES_PER_TOKEN)
        .min(templates.limits.max_context_tokens);
    let field = |name: &str| {
        body.as_ref()
            .and_then(|b| b.get(name))
            .and_then(Value::as_u64)
    };
    let limit = match (field("max_tokens"), field("max_completion_tokens")) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => UNLIMITED_COMPLETION_ESTIMATE,
    };
    let choices = field("n").unwrap_or(1).max(1);
    prompt.saturating_add(limit.saturating_mul(choices))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokencert_core::suite::Limits;

    fn request(json: serde_json::Value) -> Request {
        serde_json::from_value(json).expect("a request")
    }

    fn templates(max_context_tokens: u64) -> Templates<'static> {
        Templates {
            model: "m",
            rate_limited_model: "m",
            limits: Limits {
                max_context_tokens,
                max_request_bytes: 1 << 20,
            },
        }
    }

    #[test]
    fn a_request_costs_its_prompt_bytes_over_three_and_its_completion_limit_per_choice() {
        let body = serde_json::json!({"model": "${model}", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10, "n": 3});
        let bytes = body.to_string().replace("${model}", "m").len() as u64;
        let r = request(serde_json::json!({"endpoint": "chat", "body": body}));
        assert_eq!(request_tokens(&r, templates(8192)), bytes.div_ceil(3) + 30);
    }

    #[test]
    fn the_smaller_completion_limit_wins_and_none_is_assumed_large() {
        let both = request(
            serde_json::json!({"endpoint": "chat", "body": {"max_tokens": 50, "max_completion_tokens": 7}}),
        );
        let len = |r: &Request| r.body.as_ref().map_or(0, |b| b.to_string().len() as u64);
        assert_eq!(
            request_tokens(&both, templates(8192)),
            len(&both).div_ceil(3) + 7
        );
        let none = request(
            serde_json::json!({"endpoint": "completions", "raw_body": "{\"prompt\": \"x\""}),
        );
        assert_eq!(
            request_tokens(&none, templates(8192)),
            14u64.div_ceil(3) + UNLIMITED_COMPLETION_ESTIMATE
        );
    }

    #[test]
    fn an_overflowing_prompt_costs_at_most_the_declared_context_and_listings_nothing() {
        let overflow = request(
            serde_json::json!({"endpoint": "chat", "body": {"messages": [{"role": "user", "content": "${context_overflow}"}], "max_tokens": 1}}),
        );
        assert_eq!(request_tokens(&overflow, templates(1000)), 1000 + 1);
        let list = request(serde_json::json!({"endpoint": "models"}));
        assert_eq!(request_tokens(&list, templates(1000)), 0);
    }
}
