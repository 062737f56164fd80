//! Whole-string templates in request bodies (`${model}`, `${long_document}`,
//! ...), resolved the same way by the driver before sending and by the
//! judge when it decides whether a request fits the declared limits.

use serde_json::Value;

use super::Limits;

/// What the templates of a request body stand for.
#[derive(Debug, Clone, Copy)]
pub struct Templates<'a> {
    /// `${model}`: the model under test.
    pub model: &'a str,
    /// `${rate_limited_model}`: the model the declared rate limit applies to.
    pub rate_limited_model: &'a str,
    /// The target's declared limits, which size the overflow templates.
    pub limits: Limits,
}

/// The templates that build requests over a declared limit on purpose.
pub const OVERFLOW_TEMPLATES: [&str; 2] = ["${context_overflow}", "${body_overflow}"];

impl Templates<'_> {
    /// `value` with every whole-string template replaced: `${model}` and
    /// `${rate_limited_model}` by the model names, `${long_document}` by a
    /// fixed text of about 1,500 tokens, `${context_overflow}` by more words
    /// than the declared context holds, `${body_overflow}` by more bytes
    /// than the declared request limit. Other strings stay as they are.
    pub fn resolve(&self, value: Value) -> Value {
        match value {
            Value::String(s) => match s.as_str() {
                "${model}" => Value::String(self.model.to_string()),
                "${rate_limited_model}" => Value::String(self.rate_limited_model.to_string()),
                "${long_document}" => Value::String(long_document()),
                "${context_overflow}" => {
                    // Every tokenizer in use spends at least one token per word.
                    let words =
                        usize::try_from(self.limits.max_context_tokens).unwrap_or(usize::MAX);
                    Value::String("hello ".repeat(words.saturating_add(16)))
                }
                "${body_overflow}" => {
                    let bytes =
                        usize::try_from(self.limits.max_request_bytes).unwrap_or(usize::MAX);
                    Value::String("a".repeat(bytes.saturating_add(1)))
                }
                _ => Value::String(s),
            },
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.resolve(v)).collect())
            }
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, self.resolve(v))).collect())
            }
            other => other,
        }
    }
}

/// Whether `value` holds a template that overflows a limit on purpose.
pub fn overflows_on_purpose(value: &Value) -> bool {
    match value {
        Value::String(s) => OVERFLOW_TEMPLATES.contains(&s.as_str()),
        Value::Array(items) => items.iter().any(overflows_on_purpose),
        Value::Object(map) => map.values().any(overflows_on_purpose),
        _ => false,
    }
}

/// The paragraph `${long_document}` repeats: plain English prose.
const DOCUMENT_PARAGRAPH: &str = "The river carries stone and light down to the quiet sea. \
People who live by the river know its words, its moods and its seasons. In spring the water \
is high and bright; in summer it is slow and green. An old man keeps a book of the floods, one \
line for each year, in a small hand. When the river freezes, the people walk across it to see \
the other side, and they find the same stones there.";

/// How often `${long_document}` repeats its paragraph: about 1,500 tokens
/// with any common tokenizer, past the 1,024 where prompt caching starts.
const DOCUMENT_SECTIONS: usize = 20;

/// The text of `${long_document}`: numbered sections of one paragraph,
/// the same bytes on every run.
fn long_document() -> String {
    (1..=DOCUMENT_SECTIONS)
        .map(|n| format!("Section {n}. {DOCUMENT_PARAGRAPH}"))
        .collect::<Vec<_>>()
        .join("\n\n")
}
