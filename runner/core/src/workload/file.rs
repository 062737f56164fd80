//! Prompt files: JSON Lines a user supplies, one request per line.
//!
//! Each non-blank line is an object with either `prompt` (a string, sent
//! as one user message) or `messages` (a chat message list, sent as is),
//! and optionally `max_tokens`:
//!
//! ```text
//! {"prompt": "Summarise the water cycle.", "max_tokens": 200}
//! {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}
//! ```
//!
//! Any other field is refused (a misspelt `max_token` would otherwise be
//! ignored silently). Every error names the file and the line.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::tokens::Tokenizer;
use serde::Deserialize;
use serde_json::{Value, json};

use super::WorkloadError;
use super::sample::MAX_LENGTH_TOKENS;

/// The largest prompt file accepted, in bytes (64 MiB).
pub const MAX_PROMPT_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The longest line of a prompt file accepted, in bytes (1 MiB, newline
/// excluded).
pub const MAX_PROMPT_LINE_BYTES: usize = 1024 * 1024;

/// One prompt of a prompt file.
#[derive(Debug, Clone, PartialEq)]
pub struct FilePrompt {
    /// The line it was read from (1-based).
    pub line: u64,
    /// The chat messages to send (a `prompt` becomes one user message).
    pub messages: Vec<Value>,
    /// The line's `max_tokens`, if it has one.
    pub max_tokens: Option<u64>,
}

impl FilePrompt {
    /// The tokens of the messages' text under `tokenizer`: the sum of the
    /// counts of every string `content` and every `text` of a content part
    /// list. Roles and the chat template's own tokens are not counted.
    ///
    /// # Errors
    ///
    /// [`WorkloadError::Tokenizer`] if the tokenizer cannot count a text.
    pub fn content_tokens(&self, tokenizer: &Tokenizer) -> Result<u64, WorkloadError> {
        let mut total = 0u64;
        for message in &self.messages {
            match message.get("content") {
                Some(Value::String(text)) => total += tokenizer.count(text)? as u64,
                Some(Value::Array(parts)) => {
                    for part in parts {
                        if let Some(Value::String(text)) = part.get("text") {
                            total += tokenizer.count(text)? as u64;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(total)
    }
}

/// A line as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    prompt: Option<String>,
    messages: Option<Vec<Value>>,
    max_tokens: Option<u64>,
}

/// Reads a prompt file: at most [`MAX_PROMPT_FILE_BYTES`], UTF-8, lines of
/// at most [`MAX_PROMPT_LINE_BYTES`]; blank lines are skipped.
///
/// # Errors
///
/// [`WorkloadError::PromptFile`] naming the file (and the line, when one
/// is at fault) if the file cannot be read, is too large, is not UTF-8, has
/// a line too long or not a valid prompt object, or holds no prompt.
pub fn read_prompt_file(path: &Path) -> Result<Vec<FilePrompt>, WorkloadError> {
    let fail = |line: Option<u64>, reason: String| WorkloadError::PromptFile {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let file = File::open(path).map_err(|e| fail(None, format!("cannot open: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_PROMPT_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(None, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_PROMPT_FILE_BYTES {
        return Err(fail(
            None,
            format!("larger than the {MAX_PROMPT_FILE_BYTES} bytes allowed"),
        ));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..valid]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64
                + 1;
            return Err(fail(Some(line), "not valid UTF-8".to_string()));
        }
    };
    parse_prompt_lines(path, &text)
}

/// Parses the text of a prompt file; `path` is only used to name it in
/// errors.
///
/// # Errors
///
/// As [`read_prompt_file`], for everything but reading.
pub fn parse_prompt_lines(path: &Path, text: &str) -> Result<Vec<FilePrompt>, WorkloadError> {
    let path: PathBuf = path.to_path_buf();
    let mut prompts = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let number = index as u64 + 1;
        let fail = |reason: String| WorkloadError::PromptFile {
            path: path.clone(),
            line: Some(number),
            reason,
        };
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.len() > MAX_PROMPT_LINE_BYTES {
            return Err(fail(format!(
                "the line is longer than the {MAX_PROMPT_LINE_BYTES} bytes allowed"
            )));
        }
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw).map_err(|e| {
            fail(format!(
                "not a prompt object ({{\"prompt\": …}} or {{\"messages\": […]}}, \
                 optional \"max_tokens\"): {e}"
            ))
        })?;
        let messages = match (line.prompt, line.messages) {
            (Some(prompt), None) => vec![json!({"role": "user", "content": prompt})],
            (None, Some(messages)) => {
                check_messages(&messages).map_err(fail)?;
                messages
            }
            (Some(_), Some(_)) => {
                return Err(fail(
                    "has both \"prompt\" and \"messages\"; give one".to_string(),
                ));
            }
            (None, None) => {
                return Err(fail("has neither \"prompt\" nor \"messages\"".to_string()));
            }
        };
        if let Some(max_tokens) = line.max_tokens
            && !(1..=MAX_LENGTH_TOKENS).contains(&max_tokens)
        {
            return Err(fail(format!(
                "max_tokens {max_tokens} is not in 1..={MAX_LENGTH_TOKENS}"
            )));
        }
        prompts.push(FilePrompt {
            line: number,
            messages,
            max_tokens: line.max_tokens,
        });
    }
    if prompts.is_empty() {
        return Err(WorkloadError::PromptFile {
            path,
            line: None,
            reason: "holds no prompt".to_string(),
        });
    }
    Ok(prompts)
}

/// Checks a `messages` list: not empty, each an object with a string
/// `role` and a `content` that is a string or a list of parts.
fn check_messages(messages: &[Value]) -> Result<(), String> {
    if messages.is_empty() {
        return Err("\"messages\" is empty".to_string());
    }
    for (i, message) in messages.iter().enumerate() {
        let Some(object) = message.as_object() else {
            return Err(format!("messages[{i}] is not an object"));
        };
        if !matches!(object.get("role"), Some(Value::String(_))) {
            return Err(format!("messages[{i}] has no string \"role\""));
        }
        if !matches!(
            object.get("content"),
            Some(Value::String(_) | Value::Array(_))
        ) {
            return Err(format!(
                "messages[{i}] has no \"content\" (a string or a list of parts)"
            ));
        }
    }
    Ok(())
}
