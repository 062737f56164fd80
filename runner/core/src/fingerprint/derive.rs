//! A [`Fingerprint`] from the recorded exchanges of a probe set: a pure
//! function of the evidence, so that `verify` re-derives it byte for byte.
//!
//! Each probe's last exchange (a polite-mode retry supersedes the attempt
//! before it) is read as a non-streamed chat completion. A probe that got
//! no usable answer still has its place: a generation with no tokens, a
//! tokenizer probe without a count, a failed task saying why.

use serde_json::Value;

use super::probes::{Expect, ProbeKind, ProbeSet, TaskProbe, case_id};
use super::{Fingerprint, GeneratedToken, Generation, TaskScore, TokenizerProbe};
use crate::evidence::{EvidenceError, Exchange};

/// The evidence of one case id, as [`crate::judge::judge`] takes it: `None`
/// when nothing was recorded.
pub type Evidence = Option<Result<Vec<Exchange>, EvidenceError>>;

/// Derives the fingerprint of `model` from the probes' evidence.
pub fn derive(set: &ProbeSet, model: &str, evidence: impl Fn(&str) -> Evidence) -> Fingerprint {
    let answer = |kind, id: &str| answer_of(evidence(&case_id(kind, id)));
    Fingerprint {
        probe_set: set.name(),
        model: model.to_string(),
        generations: set
            .generations
            .iter()
            .map(|p| Generation {
                probe: p.id.clone(),
                tokens: answer(ProbeKind::Generation, &p.id)
                    .map(|body| tokens_of(&body))
                    .unwrap_or_default(),
            })
            .collect(),
        tokenizer_probes: set
            .tokenizers
            .iter()
            .map(|p| TokenizerProbe {
                probe: p.id.clone(),
                prompt_tokens: answer(ProbeKind::Tokenizer, &p.id)
                    .ok()
                    .and_then(|body| body.pointer("/usage/prompt_tokens")?.as_u64()),
                expected: p.tokens.clone(),
            })
            .collect(),
        tasks: set
            .tasks
            .iter()
            .map(|t| {
                let (passed, reason) = match answer(ProbeKind::Task, &t.id) {
                    Ok(body) => score(t, &body),
                    Err(why) => (false, why),
                };
                TaskScore {
                    task: t.id.clone(),
                    passed,
                    reason,
                }
            })
            .collect(),
    }
}

/// The JSON body of a probe's last exchange, or why there is none.
fn answer_of(evidence: Evidence) -> Result<Value, String> {
    let exchanges = match evidence {
        None => return Err("no evidence was recorded".into()),
        Some(Err(e)) => return Err(format!("the evidence cannot be read: {e}")),
        Some(Ok(exchanges)) => exchanges,
    };
    let Some(exchange) = exchanges.last() else {
        return Err("the evidence holds no exchange".into());
    };
    let Some(head) = &exchange.response else {
        return Err(format!(
            "no response: {}",
            exchange.incomplete().unwrap_or_else(|| "no head".into())
        ));
    };
    if head.status != 200 {
        return Err(format!("status {}", head.status));
    }
    if let Some(why) = exchange.incomplete() {
        return Err(format!("incomplete response: {why}"));
    }
    serde_json::from_slice(&exchange.body()).map_err(|e| format!("the body is not JSON: {e}"))
}

/// The first choice's message.
fn message(body: &Value) -> Option<&Value> {
    body.pointer("/choices/0/message")
}

/// The first choice's tokens with their logprobs; without logprobs, its
/// whole text as one token.
fn tokens_of(body: &Value) -> Vec<GeneratedToken> {
    let entries = body
        .pointer("/choices/0/logprobs/content")
        .and_then(Value::as_array);
    match entries {
        Some(entries) => entries
            .iter()
            .map(|entry| GeneratedToken {
                token: text(entry, "token"),
                logprob: entry.get("logprob").and_then(Value::as_f64),
                top: entry
                    .get("top_logprobs")
                    .and_then(Value::as_array)
                    .map(|top| {
                        top.iter()
                            .filter_map(|alt| {
                                Some((text(alt, "token"), alt.get("logprob")?.as_f64()?))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
        None => match message(body).and_then(|m| m.get("content")?.as_str()) {
            Some(content) if !content.is_empty() => vec![GeneratedToken {
                token: content.to_string(),
                logprob: None,
                top: Vec::new(),
            }],
            _ => Vec::new(),
        },
    }
}

fn text(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Whether a task's answer passes, and why.
fn score(task: &TaskProbe, body: &Value) -> (bool, String) {
    let Some(message) = message(body) else {
        return (false, "the body has no choices[0].message".into());
    };
    let content = message
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let finish = body
        .pointer("/choices/0/finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    match &task.expect {
        Expect::Answer(expected) => {
            let got = content.trim();
            if got != expected {
                (false, format!("answered {got:?}, expected {expected:?}"))
            } else if finish != "stop" {
                (
                    false,
                    format!("answered {got:?} but finished with {finish:?}, not \"stop\""),
                )
            } else {
                (true, format!("answered {got:?}"))
            }
        }
        Expect::JsonSchema(schema) => match serde_json::from_str::<Value>(content) {
            Err(e) => (
                false,
                format!("the content is not JSON ({e}): {}", cut(content)),
            ),
            Ok(instance) => matches(schema, &instance, "the content"),
        },
        Expect::ToolCall { name, parameters } => {
            let Some(call) = message.pointer("/tool_calls/0/function") else {
                return (
                    false,
                    format!("no tool call; the content is {}", cut(content)),
                );
            };
            let called = call.get("name").and_then(Value::as_str).unwrap_or_default();
            if called != name {
                return (false, format!("called {called:?}, expected {name:?}"));
            }
            let arguments = call
                .get("arguments")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match serde_json::from_str::<Value>(arguments) {
                Err(e) => (
                    false,
                    format!("the arguments are not JSON ({e}): {}", cut(arguments)),
                ),
                Ok(instance) => matches(parameters, &instance, "the arguments"),
            }
        }
    }
}

/// Whether `instance` matches `schema` (validated when the probe set was
/// loaded), and why.
fn matches(schema: &Value, instance: &Value, what: &str) -> (bool, String) {
    let validator = match jsonschema::draft202012::new(schema) {
        Ok(v) => v,
        Err(e) => return (false, format!("the task's schema is invalid: {e}")),
    };
    match validator.iter_errors(instance).next() {
        None => (
            true,
            format!("{what} match the schema: {}", cut(&instance.to_string())),
        ),
        Some(e) => (
            false,
            format!(
                "{what} do not match the schema at {:?}: {e}",
                e.instance_path().as_str()
            ),
        ),
    }
}

/// At most 120 characters of `text`, quoted.
fn cut(text: &str) -> String {
    let short: String = text.chars().take(120).collect();
    if short.len() < text.len() {
        format!("{short:?}…")
    } else {
        format!("{short:?}")
    }
}
