//! Checks on what the output says: structured output, tool calls, text.

use serde_json::Value;

use super::output::{Choice, Output, with_output};
use super::{Finding, View, clip};
use crate::suite::Dialect;

/// The JSON object a choice's text holds, or why not.
fn json_object(index: u64, text: &str) -> Result<Value, Finding> {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => Err(Finding::fail(format!(
            "choice {index}'s text is JSON but not an object: {}",
            clip(&other.to_string(), 120)
        ))),
        Err(e) => Err(Finding::fail(format!(
            "choice {index}'s text is not JSON ({e}): {:?}",
            clip(text, 120)
        ))),
    }
}

/// Every choice's text is a JSON object.
pub fn content_is_json_object(view: &View<'_>) -> Finding {
    with_output(view, |output| {
        let complete = match finished_choices(output) {
            Ok(c) => c,
            Err(f) => return f,
        };
        for (index, choice) in &complete {
            if let Err(f) = json_object(*index, &choice.text) {
                return f;
            }
        }
        Finding::pass(format!("{} choice(s) hold a JSON object", complete.len()))
    })
}

/// The choices whose structured output is judged: all but those cut off by
/// the token limit (finish_reason `length`) before their text became JSON.
/// When none is left there is nothing to judge, which the case's
/// `max_tokens` should prevent.
fn finished_choices(output: &Output) -> Result<Vec<(u64, &Choice)>, Finding> {
    let finished: Vec<(u64, &Choice)> = output
        .choices
        .iter()
        .filter(|(_, c)| {
            !c.finish_reason
                .as_deref()
                .is_some_and(|r| super::params::LIMIT_REASONS.contains(&r))
                || serde_json::from_str::<Value>(&c.text).is_ok()
        })
        .map(|(i, c)| (*i, c))
        .collect();
    if finished.is_empty() {
        return Err(Finding::error(format!(
            "all {} choice(s) were cut off by the token limit (finish_reason \"length\") before their JSON was complete; nothing to judge",
            output.choices.len()
        )));
    }
    Ok(finished)
}

/// Compiles a schema sent in the request; a schema that does not compile
/// makes the case unjudgeable.
fn compile(schema: &Value, what: &str) -> Result<jsonschema::Validator, Finding> {
    jsonschema::validator_for(schema)
        .map_err(|e| Finding::error(format!("the request's {what} is not a usable schema: {e}")))
}

/// The first validation errors of `value` against `validator`, if any.
fn violations(validator: &jsonschema::Validator, value: &Value) -> Option<String> {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .take(3)
        .map(|e| {
            let at = e.instance_path().as_str().to_string();
            format!(
                "{}: {}",
                if at.is_empty() { "/" } else { &at },
                clip(&e.to_string(), 160)
            )
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// Every choice's text validates against the request's
/// `response_format.json_schema.schema` (OpenAI Responses:
/// `text.format.schema` of a `json_schema` format).
pub fn content_matches_requested_schema(view: &View<'_>) -> Finding {
    let requested = if Dialect::of_url(&view.exchange.url) == Dialect::OpenaiResponses {
        view.request_field("text")
            .and_then(|t| t.get("format"))
            .filter(|f| f.get("type").and_then(Value::as_str) == Some("json_schema"))
            .and_then(|f| f.get("schema"))
            .ok_or("the request has no text.format json_schema schema")
    } else {
        view.request_field("response_format")
            .and_then(|f| f.get("json_schema"))
            .and_then(|s| s.get("schema"))
            .ok_or("the request has no response_format.json_schema.schema")
    };
    let schema = match requested {
        Ok(schema) => schema,
        Err(missing) => return Finding::error(missing),
    };
    let validator = match compile(schema, "response_format schema") {
        Ok(v) => v,
        Err(f) => return f,
    };
    with_output(view, |output| {
        let complete = match finished_choices(output) {
            Ok(c) => c,
            Err(f) => return f,
        };
        for (index, choice) in &complete {
            let value = match json_object(*index, &choice.text) {
                Ok(v) => v,
                Err(f) => return f,
            };
            if let Some(why) = violations(&validator, &value) {
                return Finding::fail(format!(
                    "choice {index}'s JSON does not match the requested schema: {why}"
                ));
            }
        }
        Finding::pass(format!(
            "{} choice(s) match the requested schema",
            complete.len()
        ))
    })
}

/// The tools a request declares: name and parameters schema (chat:
/// `{function: {name, parameters}}`; Anthropic Messages: `{name,
/// input_schema}`; OpenAI Responses: `{type: function, name, parameters}`).
fn declared_tools(view: &View<'_>, dialect: Dialect) -> Vec<(String, Option<Value>)> {
    view.request_field("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tool| {
            let (function, schema) = match dialect {
                Dialect::OpenaiChat => (tool.get("function")?, "parameters"),
                Dialect::AnthropicMessages => (tool, "input_schema"),
                Dialect::OpenaiResponses => {
                    if tool.get("type").and_then(Value::as_str) != Some("function") {
                        return None;
                    }
                    (tool, "parameters")
                }
            };
            let name = function.get("name")?.as_str()?.to_string();
            Some((name, function.get(schema).cloned()))
        })
        .collect()
}

/// The tool `tool_choice` forces, if it names one (chat: `{function:
/// {name}}`; Anthropic Messages: `{type: tool, name}`; OpenAI Responses:
/// `{type: function, name}`).
fn forced_tool<'v>(view: &'v View<'_>, dialect: Dialect) -> Option<&'v str> {
    let choice = view.request_field("tool_choice")?;
    let kind = choice.get("type").and_then(Value::as_str);
    let named = match dialect {
        Dialect::OpenaiChat => choice.get("function")?,
        Dialect::AnthropicMessages if kind == Some("tool") => choice,
        Dialect::OpenaiResponses if kind == Some("function") => choice,
        _ => return None,
    };
    named.get("name").and_then(Value::as_str)
}

/// Every choice calls a declared tool (the forced one, if `tool_choice`
/// names one) with an id and arguments that are a JSON object valid for
/// that tool's parameters.
pub fn tool_calls_valid(view: &View<'_>) -> Finding {
    let dialect = Dialect::of_url(&view.exchange.url);
    let tools = declared_tools(view, dialect);
    if tools.is_empty() {
        return Finding::error("the request declares no function tools");
    }
    let forced = forced_tool(view, dialect);
    with_output(view, |output| {
        let mut calls = 0;
        for (index, choice) in &output.choices {
            if choice.tool_calls.is_empty() {
                return Finding::fail(format!(
                    "choice {index} calls no tool (finish_reason {:?}, text {:?})",
                    choice.finish_reason,
                    clip(&choice.text, 80)
                ));
            }
            for (i, call) in choice.tool_calls.iter().enumerate() {
                let at = format!("choice {index} tool call {i}");
                if call.id.as_deref().is_none_or(str::is_empty) {
                    return Finding::fail(format!("{at} has no id"));
                }
                let Some((name, parameters)) = tools.iter().find(|(n, _)| *n == call.name) else {
                    let names: Vec<&str> = tools.iter().map(|(n, _)| n.as_str()).collect();
                    return Finding::fail(format!(
                        "{at} calls {:?}, which is not a declared tool ({})",
                        clip(&call.name, 80),
                        names.join(", ")
                    ));
                };
                if forced.is_some_and(|f| f != name) {
                    return Finding::fail(format!(
                        "{at} calls {name:?}, but tool_choice forces {:?}",
                        forced.unwrap_or_default()
                    ));
                }
                let arguments = match serde_json::from_str::<Value>(&call.arguments) {
                    Ok(v @ Value::Object(_)) => v,
                    Ok(_) | Err(_) => {
                        return Finding::fail(format!(
                            "{at} has arguments that are not a JSON object: {:?}",
                            clip(&call.arguments, 120)
                        ));
                    }
                };
                if let Some(parameters) = parameters {
                    let validator = match compile(parameters, &format!("{name} parameters")) {
                        Ok(v) => v,
                        Err(f) => return f,
                    };
                    if let Some(why) = violations(&validator, &arguments) {
                        return Finding::fail(format!(
                            "{at} arguments do not match {name}'s parameters: {why}"
                        ));
                    }
                }
                calls += 1;
            }
        }
        Finding::pass(format!("{calls} valid tool call(s)"))
    })
}

/// No choice calls a tool.
pub fn no_tool_calls(view: &View<'_>) -> Finding {
    with_output(view, |output| {
        match output
            .choices
            .iter()
            .find(|(_, c)| !c.tool_calls.is_empty())
        {
            Some((index, choice)) => Finding::fail(format!(
                "choice {index} calls {:?} although the request forbids tool calls",
                choice.tool_calls[0].name
            )),
            None => Finding::pass(format!(
                "{} choice(s), none calls a tool",
                output.choices.len()
            )),
        }
    })
}

/// No choice's text contains U+FFFD, the mark of a multibyte character
/// decoded from part of its bytes.
pub fn no_replacement_chars(view: &View<'_>) -> Finding {
    with_output(view, |output| {
        for (index, choice) in &output.choices {
            if let Some(at) = choice.text.find('\u{FFFD}') {
                let start = choice.text.floor_char_boundary(at.saturating_sub(24));
                return Finding::fail(format!(
                    "choice {index} contains U+FFFD at byte {at}: {:?}",
                    clip(&choice.text[start..], 60)
                ));
            }
        }
        Finding::pass(format!("{} choice(s) without U+FFFD", output.choices.len()))
    })
}
