//! Whether a case's requests fit the limits a target declares. A target
//! may rightly refuse a request beyond its declared context or request
//! size, so such a case is not claimed, never failed.

use serde_json::Value;

use crate::check::prompt_tokens_of;
use crate::suite::{Accounting, Case, Check, Limits, Request, Templates, overflows_on_purpose};
use crate::tokens::Tokenizer;

/// The margin added to a prompt estimate made with a tokenizer the target
/// did not declare, in percent: tokenizers of one language differ by a few
/// percent to a few tens of percent, and an over-estimate only costs a
/// case that is not claimed.
pub const UNDECLARED_MARGIN_PERCENT: u64 = 25;

/// Bytes allowed for the model names that a body's `${model}` templates
/// stand for (the judge sizes bodies without knowing them).
const MODEL_NAME_ALLOWANCE: usize = 256;

/// How the judge counts prompts when sizing requests.
#[derive(Debug, Clone, Copy)]
pub struct Counting<'a> {
    /// The declared tokenizer, else the normalising one.
    pub tokenizer: &'a Tokenizer,
    /// The declared accounting: its overheads, and whether `tokenizer` is
    /// the declared one (no margin then).
    pub accounting: &'a Accounting,
}

/// What the first of a case's requests that cannot fit `limits` needs, as a
/// phrase completing "requires …"; `None` when every request fits, and for
/// cases that expect a refusal or build an over-limit request on purpose.
pub fn misfit(case: &Case, limits: &Limits, counting: Counting<'_>) -> Option<String> {
    if expects_refusal(case) {
        return None;
    }
    case.before
        .iter()
        .chain(case.request.as_ref())
        .find_map(|request| request_misfit(request, limits, counting))
}

/// A case that checks for a status other than 2xx tests a refusal.
fn expects_refusal(case: &Case) -> bool {
    case.checks.iter().any(|check| match check {
        Check::Status(codes) => codes.codes().iter().any(|c| !(200..300).contains(c)),
        _ => false,
    })
}

fn request_misfit(request: &Request, limits: &Limits, counting: Counting<'_>) -> Option<String> {
    let body = request.body.as_ref()?;
    if overflows_on_purpose(body) {
        return None;
    }
    let templates = Templates {
        model: "${model}",
        rate_limited_model: "${rate_limited_model}",
        limits: *limits,
    };
    let body = templates.resolve(body.clone());
    let bytes = serde_json::to_vec(&body).map_or(0, |b| b.len()) + MODEL_NAME_ALLOWANCE;
    if bytes as u64 > limits.max_request_bytes {
        return Some(format!(
            "a request body of up to {bytes} bytes; the target declares at most {}",
            limits.max_request_bytes
        ));
    }
    let Value::Object(body) = body else {
        return None;
    };
    let completion = ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .filter_map(|f| body.get(*f).and_then(Value::as_u64))
        .min()
        .unwrap_or(0);
    // A prompt that cannot be counted (tool calls, non-text parts) is sized by its completion alone.
    let dialect = request.endpoint.dialect();
    let counted =
        prompt_tokens_of(dialect, &body, counting.tokenizer, counting.accounting).unwrap_or(0);
    let (prompt, how) = if counting.accounting.tokenizer.is_some() {
        (counted, format!("by {}", counting.tokenizer.name()))
    } else {
        (
            counted + (counted * UNDECLARED_MARGIN_PERCENT).div_ceil(100),
            format!(
                "by {} plus {UNDECLARED_MARGIN_PERCENT}%, no tokenizer being declared",
                counting.tokenizer.name()
            ),
        )
    };
    let needed = prompt.saturating_add(completion);
    (needed > limits.max_context_tokens).then(|| {
        format!(
            "a context of {needed} tokens (a prompt of about {prompt} {how}, and {completion} for the completion); the target declares {}",
            limits.max_context_tokens
        )
    })
}
