//! The prompt a request of each dialect stands for, as chat messages, so
//! that it is recounted (and billed) exactly as a chat prompt is:
//! Anthropic Messages = the top-level `system` as a system message, then
//! each message with its text blocks (and tool results' text)
//! concatenated; OpenAI Responses = `instructions` as a system message,
//! then `input` (a string is one user message; message items keep their
//! text parts as chat content parts). What cannot be recounted (images,
//! tool calls in the prompt) is an error naming it.

use serde_json::{Map, Value, json};

use super::short;
use crate::suite::Dialect;

/// The request as a chat request body (`{"messages": [...]}`), or the
/// request itself for chat and legacy completions.
pub(super) fn as_chat(
    dialect: Dialect,
    request: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let messages = match dialect {
        Dialect::OpenaiChat => return Ok(request.clone()),
        Dialect::AnthropicMessages => messages_prompt(request)?,
        Dialect::OpenaiResponses => responses_prompt(request)?,
    };
    let mut chat = Map::new();
    chat.insert("messages".into(), Value::Array(messages));
    Ok(chat)
}

fn field<'r>(request: &'r Map<String, Value>, name: &str) -> Option<&'r Value> {
    request.get(name).filter(|v| !v.is_null())
}

/// The text of Messages content: a string, or its blocks' text
/// concatenated (text blocks, and the text of tool_result blocks).
fn blocks_text(content: &Value, what: &str) -> Result<String, String> {
    match content {
        Value::String(text) => Ok(text.clone()),
        Value::Array(blocks) => {
            let mut text = String::new();
            for (j, block) in blocks.iter().enumerate() {
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        text.push_str(block.get("text").and_then(Value::as_str).ok_or_else(
                            || format!("{what} block {j} is a text block without text"),
                        )?)
                    }
                    Some("tool_result") => {
                        if let Some(inner) = block.get("content").filter(|c| !c.is_null()) {
                            text.push_str(&blocks_text(
                                inner,
                                &format!("{what} block {j}'s tool result"),
                            )?);
                        }
                    }
                    _ => {
                        return Err(format!(
                            "{what} block {j} is not text and is not recounted: {}",
                            short(Some(block))
                        ));
                    }
                }
            }
            Ok(text)
        }
        other => Err(format!(
            "{what} is neither text nor blocks: {}",
            short(Some(other))
        )),
    }
}

fn messages_prompt(request: &Map<String, Value>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    if let Some(system) = field(request, "system") {
        out.push(json!({"role": "system", "content": blocks_text(system, "system")?}));
    }
    let Some(messages) = field(request, "messages") else {
        return Err("the request has no messages to recount".into());
    };
    let Some(messages) = messages.as_array() else {
        return Err("the request's messages is not an array".into());
    };
    for (i, message) in messages.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let content = message.get("content").unwrap_or(&Value::Null);
        let text = blocks_text(content, &format!("message {i}"))?;
        out.push(json!({"role": role, "content": text}));
    }
    Ok(out)
}

/// Text parts of a Responses message item's content, as chat parts.
fn input_parts(content: &Value, what: &str) -> Result<Value, String> {
    match content {
        Value::String(text) => Ok(Value::String(text.clone())),
        Value::Array(parts) => parts
            .iter()
            .enumerate()
            .map(|(j, part)| {
                let kind = part.get("type").and_then(Value::as_str);
                match (kind, part.get("text").and_then(Value::as_str)) {
                    (Some("input_text" | "output_text"), Some(text)) => {
                        Ok(json!({"type": "text", "text": text}))
                    }
                    _ => Err(format!(
                        "{what} part {j} is not text and is not recounted: {}",
                        short(Some(part))
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Err(format!(
            "{what} content is neither text nor parts: {}",
            short(Some(other))
        )),
    }
}

fn responses_prompt(request: &Map<String, Value>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    if let Some(instructions) = field(request, "instructions") {
        let Some(text) = instructions.as_str() else {
            return Err(format!(
                "the request's instructions is not text: {}",
                short(Some(instructions))
            ));
        };
        out.push(json!({"role": "system", "content": text}));
    }
    match field(request, "input") {
        Some(Value::String(text)) => out.push(json!({"role": "user", "content": text})),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let kind = item
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("message");
                let role = item.get("role").and_then(Value::as_str);
                let (Some(role), "message") = (role, kind) else {
                    return Err(format!(
                        "input item {i} is not a message and is not recounted: {}",
                        short(Some(item))
                    ));
                };
                let content = item.get("content").unwrap_or(&Value::Null);
                let content = input_parts(content, &format!("input item {i}"))?;
                out.push(json!({"role": role, "content": content}));
            }
        }
        Some(other) => {
            return Err(format!(
                "the request's input is neither text nor items: {}",
                short(Some(other))
            ));
        }
        None => return Err("the request has no input to recount".into()),
    }
    Ok(out)
}
