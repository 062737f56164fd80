//! The streaming request body of a planned prompt in each dialect: the
//! same messages and output bound, spelled as OpenAI Chat, Anthropic
//! Messages or OpenAI Responses asks.

use serde_json::{Map, Value, json};

use crate::suite::Dialect;

/// The streaming body of `messages` (chat-style `{role, content}` objects)
/// with at most `max_tokens` output tokens, for the run's model
/// (`"${model}"`), in `dialect`:
///
/// - OpenAI Chat: `messages`, `max_tokens`, `stream` and
///   `stream_options.include_usage` (usage comes in the last chunk);
/// - Anthropic Messages: `max_tokens`, `messages` (the text of system
///   messages joined by blank lines as the top-level `system`) and
///   `stream`; usage comes in `message_delta`;
/// - OpenAI Responses: `input` (the text itself for a single user message
///   with string content, else the messages as `{role, content}` items),
///   system messages' text as `instructions`, `max_output_tokens` and
///   `stream`; usage comes in `response.completed`.
pub fn request_body(dialect: Dialect, messages: Value, max_tokens: u64) -> Value {
    match dialect {
        Dialect::OpenaiChat => json!({
            "model": "${model}",
            "messages": messages,
            "max_tokens": max_tokens,
            "stream": true,
            "stream_options": {"include_usage": true},
        }),
        Dialect::AnthropicMessages => {
            let (system, turns) = split_system(messages);
            let mut body = Map::new();
            body.insert("model".into(), "${model}".into());
            body.insert("max_tokens".into(), max_tokens.into());
            if let Some(system) = system {
                body.insert("system".into(), system.into());
            }
            body.insert("messages".into(), Value::Array(turns));
            body.insert("stream".into(), true.into());
            Value::Object(body)
        }
        Dialect::OpenaiResponses => {
            let (system, turns) = split_system(messages);
            let mut body = Map::new();
            body.insert("model".into(), "${model}".into());
            if let Some(system) = system {
                body.insert("instructions".into(), system.into());
            }
            let input = match turns.as_slice() {
                [only]
                    if only.get("role").and_then(Value::as_str) == Some("user")
                        && only.get("content").is_some_and(Value::is_string) =>
                {
                    only["content"].clone()
                }
                _ => Value::Array(turns),
            };
            body.insert("input".into(), input);
            body.insert("max_output_tokens".into(), max_tokens.into());
            body.insert("stream".into(), true.into());
            Value::Object(body)
        }
    }
}

/// The text of the system (and developer) messages, joined by blank
/// lines, and the other messages as they were.
fn split_system(messages: Value) -> (Option<String>, Vec<Value>) {
    let Value::Array(messages) = messages else {
        return (None, Vec::new());
    };
    let mut system: Vec<String> = Vec::new();
    let mut turns = Vec::with_capacity(messages.len());
    for message in messages {
        match message.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => system.push(text_of(&message["content"])),
            _ => turns.push(message),
        }
    }
    ((!system.is_empty()).then(|| system.join("\n\n")), turns)
}

/// A content's text: the string itself, or its text parts concatenated.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_user_message_in_each_dialect() {
        let messages = json!([{"role": "user", "content": "Hi there"}]);
        assert_eq!(
            request_body(Dialect::OpenaiChat, messages.clone(), 7),
            json!({"model": "${model}", "messages": messages, "max_tokens": 7,
                   "stream": true, "stream_options": {"include_usage": true}})
        );
        assert_eq!(
            request_body(Dialect::AnthropicMessages, messages.clone(), 7),
            json!({"model": "${model}", "max_tokens": 7, "messages": messages, "stream": true})
        );
        assert_eq!(
            request_body(Dialect::OpenaiResponses, messages, 7),
            json!({"model": "${model}", "input": "Hi there", "max_output_tokens": 7,
                   "stream": true})
        );
    }

    #[test]
    fn system_messages_move_to_the_dialects_own_field() {
        let messages = json!([
            {"role": "system", "content": "Be brief."},
            {"role": "system", "content": [{"type": "text", "text": "Be kind."}]},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Again"},
        ]);
        let turns = json!([
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Again"},
        ]);
        let messages_body = request_body(Dialect::AnthropicMessages, messages.clone(), 3);
        assert_eq!(messages_body["system"], "Be brief.\n\nBe kind.");
        assert_eq!(messages_body["messages"], turns);
        let responses_body = request_body(Dialect::OpenaiResponses, messages.clone(), 3);
        assert_eq!(responses_body["instructions"], "Be brief.\n\nBe kind.");
        assert_eq!(responses_body["input"], turns);
        // Chat keeps them where they are.
        assert_eq!(
            request_body(Dialect::OpenaiChat, messages.clone(), 3)["messages"],
            messages
        );
    }
}
