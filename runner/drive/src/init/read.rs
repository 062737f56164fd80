//! The probes' requests, and what each answer shows. Pure: no I/O.

use serde_json::{Value, json};
use tokencert_core::suite::Dialect;

use super::send::{Answer, Method};
use super::{BODY_SIZE_PROBE_BYTES, Seen, SeenLimit};

/// The `max_tokens` of the context probe: beyond any context window.
pub(super) const CONTEXT_PROBE_MAX_TOKENS: u64 = 100_000_000;
/// The tool the tools probe forces.
const TOOL: &str = "get_weather";
/// The longest server text quoted as evidence.
const QUOTE_CHARS: usize = 120;

/// One kind of probe request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Probe {
    /// `GET /models`.
    Models,
    /// A short chat.
    Chat,
    /// The short chat, streamed.
    Stream,
    /// `n: 2`.
    N,
    /// `logprobs: true, top_logprobs: 2`.
    Logprobs,
    /// One function tool, forced by name.
    Tools,
    /// `response_format: {type: json_object}`.
    JsonObject,
    /// `response_format: {type: json_schema}`.
    JsonSchema,
    /// The legacy `POST /completions`.
    Completions,
    /// `temperature: 0` and a `seed` (sent twice).
    Seed,
    /// `reasoning_effort: low`.
    Reasoning,
    /// A prompt of about 1,200 tokens, `max_tokens: 1` (sent twice).
    Caching,
    /// `max_tokens` beyond any context window, streamed; an accepted one
    /// is closed at its response head.
    Context,
    /// A short chat padded with whitespace to [`BODY_SIZE_PROBE_BYTES`].
    BodySize,
    /// A short Anthropic Messages request, `POST /messages`.
    Messages,
    /// Its prompt counted, `POST /messages/count_tokens`.
    CountTokens,
    /// A short OpenAI Responses request, `POST /responses`.
    Responses,
}

impl Probe {
    /// The probe's name, for progress lines.
    pub(super) fn name(self) -> &'static str {
        match self {
            Probe::Models => "model list",
            Probe::Chat => "short chat",
            Probe::Stream => "stream",
            Probe::N => "n: 2",
            Probe::Logprobs => "logprobs",
            Probe::Tools => "tools",
            Probe::JsonObject => "json_object",
            Probe::JsonSchema => "json_schema",
            Probe::Completions => "legacy completions",
            Probe::Seed => "seed",
            Probe::Reasoning => "reasoning_effort",
            Probe::Caching => "prompt caching",
            Probe::Context => "context window",
            Probe::BodySize => "request body size",
            Probe::Messages => "Anthropic Messages",
            Probe::CountTokens => "count_tokens",
            Probe::Responses => "OpenAI Responses",
        }
    }

    /// The dialect the probe speaks (its key goes in that dialect's header).
    pub(super) fn dialect(self) -> Dialect {
        match self {
            Probe::Messages | Probe::CountTokens => Dialect::AnthropicMessages,
            Probe::Responses => Dialect::OpenaiResponses,
            _ => Dialect::OpenaiChat,
        }
    }

    /// The request: method, path below the base URL, JSON body.
    pub(super) fn request(self, model: &str) -> (Method, &'static str, Option<Vec<u8>>) {
        let chat = |content: &str, max_tokens: u64| {
            json!({
                "model": model,
                "max_tokens": max_tokens,
                "messages": [{"role": "user", "content": content}],
            })
        };
        let with = |mut body: Value, extra: Value| {
            if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
                body.extend(extra);
            }
            body
        };
        let post = |path, body: Value| (Method::Post, path, Some(body.to_string().into_bytes()));
        let body = match self {
            Probe::Models => return (Method::Get, "/models", None),
            Probe::Messages => return post("/messages", chat("Say hello.", 8)),
            Probe::CountTokens => {
                let mut body = chat("Say hello.", 8);
                if let Some(body) = body.as_object_mut() {
                    body.remove("max_tokens");
                }
                return post("/messages/count_tokens", body);
            }
            // 16: the smallest max_output_tokens OpenAI's Responses API accepts.
            Probe::Responses => {
                return post(
                    "/responses",
                    json!({"model": model, "max_output_tokens": 16, "input": "Say hello."}),
                );
            }
            Probe::Completions => {
                return post(
                    "/completions",
                    json!({"model": model, "max_tokens": 8, "prompt": "The capital of France is"}),
                );
            }
            Probe::BodySize => {
                let mut body = chat("Say hello.", 1).to_string().into_bytes();
                // Whitespace before the closing brace: valid JSON, no tokens.
                let close = body.pop();
                body.resize(BODY_SIZE_PROBE_BYTES.saturating_sub(1), b' ');
                body.extend(close);
                return (Method::Post, "/chat/completions", Some(body));
            }
            Probe::Chat => chat("Say hello.", 8),
            Probe::Stream => with(chat("Say hello.", 8), json!({"stream": true})),
            Probe::N => with(chat("Name a planet.", 8), json!({"n": 2})),
            Probe::Logprobs => with(
                chat("Is water wet? Answer yes or no.", 16),
                json!({"logprobs": true, "top_logprobs": 2}),
            ),
            Probe::Tools => with(
                chat("What is the weather like in Lisbon?", 64),
                json!({
                    "tools": [{"type": "function", "function": {
                        "name": TOOL,
                        "description": "Current weather for a city.",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string", "description": "City name, e.g. Paris"}},
                            "required": ["city"],
                            "additionalProperties": false,
                        },
                    }}],
                    "tool_choice": {"type": "function", "function": {"name": TOOL}},
                }),
            ),
            Probe::JsonObject => json!({
                "model": model,
                "max_tokens": 128,
                "messages": [
                    {"role": "system", "content": "You always answer with a small JSON object."},
                    {"role": "user", "content": "Name a fruit."},
                ],
                "response_format": {"type": "json_object"},
            }),
            Probe::JsonSchema => with(
                chat("Name a colour.", 64),
                json!({"response_format": {"type": "json_schema", "json_schema": {
                    "name": "colour",
                    "strict": true,
                    "schema": {
                        "type": "object",
                        "properties": {"colour": {"type": "string"}},
                        "required": ["colour"],
                        "additionalProperties": false,
                    },
                }}}),
            ),
            Probe::Seed => with(
                chat("Name something you can find in a kitchen.", 16),
                json!({"seed": 9, "temperature": 0}),
            ),
            Probe::Reasoning => with(
                chat("Is 7 a prime number? Answer yes or no.", 32),
                json!({"reasoning_effort": "low"}),
            ),
            Probe::Caching => chat(&caching_prompt(), 1),
            Probe::Context => with(
                chat("Hello?", CONTEXT_PROBE_MAX_TOKENS),
                json!({"stream": true}),
            ),
        };
        post("/chat/completions", body)
    }
}

/// About 1,200 tokens (10 o200k_base tokens a sentence): beyond the
/// 1,024 tokens from which prompts are commonly cached.
fn caching_prompt() -> String {
    let mut prompt = String::from("Reply with one word. ");
    for _ in 0..120 {
        prompt.push_str("The quick brown fox jumps over the lazy dog. ");
    }
    prompt
}

/// The status in words, for evidence.
fn status(answer: &Answer) -> String {
    answer.describe()
}

/// The first choice of a 200 answer.
fn first_choice(answer: &Answer) -> Option<Value> {
    if answer.status != Some(200) {
        return None;
    }
    answer.json()?.get("choices")?.get(0).cloned()
}

/// The message content of a 200 chat answer's first choice.
fn content(answer: &Answer) -> Option<String> {
    first_choice(answer)?
        .get("message")?
        .get("content")?
        .as_str()
        .map(str::to_string)
}

fn seen(observed: bool, evidence: impl Into<String>) -> Seen {
    Seen {
        observed,
        evidence: evidence.into(),
    }
}

/// The model list: whether it lists the model.
pub(super) fn models(answer: &Answer, model: &str) -> String {
    let ids: Option<Vec<String>> = answer.json().and_then(|v| {
        v.get("data")?.as_array().map(|data| {
            data.iter()
                .filter_map(|m| m.get("id")?.as_str().map(str::to_string))
                .collect()
        })
    });
    match (answer.status, ids) {
        (Some(200), Some(ids)) if ids.iter().any(|id| id == model) => {
            format!("GET /models: status 200, lists {model}")
        }
        (Some(200), Some(ids)) => quote_line(&format!(
            "GET /models: status 200, does not list {model} (lists {})",
            ids.join(", ")
        )),
        _ => format!("GET /models: {}, no model list", status(answer)),
    }
}

/// The short chat: its choices and usage.
pub(super) fn chat(answer: &Answer) -> String {
    let usage = answer.json().and_then(|v| {
        let usage = v.get("usage")?;
        Some(format!(
            "usage prompt_tokens {}, completion_tokens {}",
            usage.get("prompt_tokens")?,
            usage.get("completion_tokens")?
        ))
    });
    format!(
        "a short chat: {}, {}",
        status(answer),
        usage.unwrap_or_else(|| "no usage".into())
    )
}

/// The streamed chat: its content type, events and terminator.
pub(super) fn stream(answer: &Answer) -> String {
    if answer.status != Some(200) {
        return format!("a streamed chat: {}", status(answer));
    }
    let parsed = tokencert_core::sse::parse(&answer.body);
    let done = parsed.events.last().is_some_and(|e| e.data == "[DONE]");
    format!(
        "a streamed chat: status 200, {}, {} data events, {}",
        answer.content_type.as_deref().unwrap_or("no content type"),
        parsed.events.len(),
        if done {
            "ended with [DONE]"
        } else {
            "no [DONE]"
        }
    )
}

/// `auth`: a key the target did not issue is refused, and the given key
/// was accepted (the short chat succeeded before this is read).
pub(super) fn auth(wrong_key: &Answer, key_given: bool) -> Seen {
    match wrong_key.status {
        Some(code @ (401 | 403)) if key_given => seen(
            true,
            format!("a key it did not issue was refused with {code}; the given key was accepted"),
        ),
        Some(code @ (401 | 403)) => seen(
            false,
            format!(
                "a key it did not issue was refused with {code}, but no key was given to compare"
            ),
        ),
        _ => seen(
            false,
            format!("a key it did not issue: {}, not refused", status(wrong_key)),
        ),
    }
}

/// A dialect: its short request was answered 200 with the dialect's
/// object (`type: message` for Messages, `object: response` for Responses).
pub(super) fn dialect(dialect: Dialect, answer: &Answer) -> Seen {
    let (path, field, value) = match dialect {
        Dialect::OpenaiChat => return seen(true, "a short chat was answered"),
        Dialect::AnthropicMessages => ("/messages", "type", "message"),
        Dialect::OpenaiResponses => ("/responses", "object", "response"),
    };
    let object = answer
        .json()
        .filter(|_| answer.status == Some(200))
        .and_then(|v| v.get(field).and_then(Value::as_str).map(str::to_string));
    match object {
        Some(got) if got == value => seen(true, format!("POST {path} gave a {value} object")),
        Some(got) => seen(
            false,
            quote_line(&format!(
                "POST {path}: status 200, {field} {got:?}, not {value:?}"
            )),
        ),
        None => seen(
            false,
            format!("POST {path}: {}, no {value} object", status(answer)),
        ),
    }
}

/// `count_tokens`: an integer `input_tokens` for the short Messages
/// prompt; not probed when Messages was not seen.
pub(super) fn count_tokens(answer: Option<&Answer>) -> Seen {
    let Some(answer) = answer else {
        return seen(false, "not probed: Anthropic Messages was not observed");
    };
    let count = answer
        .json()
        .filter(|_| answer.status == Some(200))
        .and_then(|v| v.get("input_tokens").and_then(Value::as_u64));
    match count {
        Some(n) => seen(
            true,
            format!("POST /messages/count_tokens counted {n} tokens"),
        ),
        None => seen(
            false,
            format!(
                "POST /messages/count_tokens: {}, no input_tokens",
                status(answer)
            ),
        ),
    }
}

/// `completions`: the legacy endpoint answers with a text choice.
pub(super) fn completions(answer: &Answer) -> Seen {
    match first_choice(answer).and_then(|c| c.get("text").map(Value::is_string)) {
        Some(true) => seen(true, "POST /completions gave a text choice"),
        _ => seen(
            false,
            format!("POST /completions: {}, no text choice", status(answer)),
        ),
    }
}

/// `n`: two choices for `n: 2`.
pub(super) fn n(answer: &Answer) -> Seen {
    let choices = (answer.status == Some(200))
        .then(|| answer.json())
        .flatten()
        .and_then(|v| v.get("choices")?.as_array().map(Vec::len));
    match choices {
        Some(2) => seen(true, "n: 2 gave 2 choices"),
        Some(k) => seen(
            false,
            format!("n: 2 gave {k} choice{}", if k == 1 { "" } else { "s" }),
        ),
        None => seen(false, format!("n: 2: {}", status(answer))),
    }
}

/// `logprobs`: token log probabilities with alternatives.
pub(super) fn logprobs(answer: &Answer) -> Seen {
    let entries = first_choice(answer).and_then(|c| {
        let content = c.get("logprobs")?.get("content")?.as_array()?.clone();
        let first = content.first()?;
        (first.get("logprob")?.is_number() && first.get("top_logprobs")?.is_array())
            .then_some(content.len())
    });
    match entries {
        Some(k) => seen(
            true,
            format!("logprobs: true gave log probabilities for {k} tokens"),
        ),
        None => seen(
            false,
            format!(
                "logprobs: true: {}, no token log probabilities",
                status(answer)
            ),
        ),
    }
}

/// `tools`: a forced function call comes back as a tool call.
pub(super) fn tools(answer: &Answer) -> Seen {
    let called = first_choice(answer).and_then(|c| {
        let call = c
            .get("message")?
            .get("tool_calls")?
            .get(0)?
            .get("function")?
            .clone();
        Some(call.get("name")?.as_str()? == TOOL && call.get("arguments")?.is_string())
    });
    match called {
        Some(true) => seen(
            true,
            format!("a forced call of {TOOL} came back as a tool call"),
        ),
        Some(false) => seen(
            false,
            format!("a forced call of {TOOL} came back as another call"),
        ),
        None => seen(
            false,
            format!("a forced call of {TOOL}: {}, no tool call", status(answer)),
        ),
    }
}

/// `json_object`: the content is a JSON object, or one cut short by the
/// token limit (`finish_reason` `length`) that is valid JSON as far as it
/// goes: a small model may ramble on inside the object it is held to.
pub(super) fn json_object(answer: &Answer) -> Seen {
    let Some(content) = content(answer) else {
        return seen(
            false,
            format!("response_format json_object: {}", status(answer)),
        );
    };
    let cut = first_choice(answer)
        .is_some_and(|c| c.get("finish_reason").and_then(Value::as_str) == Some("length"));
    match serde_json::from_str::<Value>(&content) {
        Ok(v) if v.is_object() => seen(true, "response_format json_object gave a JSON object"),
        Err(e) if cut && e.is_eof() && content.trim_start().starts_with('{') => seen(
            true,
            "response_format json_object gave a JSON object, valid until max_tokens cut it",
        ),
        _ => seen(
            false,
            "response_format json_object: status 200, but the content is not a JSON object",
        ),
    }
}

/// `json_schema`: the content is an instance of the schema.
pub(super) fn json_schema(answer: &Answer) -> Seen {
    let instance = content(answer).map(|c| {
        serde_json::from_str::<Value>(&c).is_ok_and(|v| {
            v.as_object()
                .is_some_and(|o| o.len() == 1 && o.get("colour").is_some_and(Value::is_string))
        })
    });
    match instance {
        Some(true) => seen(
            true,
            "response_format json_schema gave an instance of the schema",
        ),
        Some(false) => seen(
            false,
            "response_format json_schema: status 200, but the content is not an instance of the schema",
        ),
        None => seen(
            false,
            format!("response_format json_schema: {}", status(answer)),
        ),
    }
}

/// `seed`: the same request with a seed at temperature 0, twice, gives
/// the same answer.
pub(super) fn seed(answers: &[Answer; 2]) -> Seen {
    match (content(&answers[0]), content(&answers[1])) {
        (Some(a), Some(b)) if a == b => {
            seen(true, "seed 9 at temperature 0, twice, gave the same answer")
        }
        (Some(_), Some(_)) => seen(
            false,
            "seed 9 at temperature 0, twice, gave different answers",
        ),
        _ => seen(
            false,
            format!(
                "seed 9 at temperature 0: {} then {}",
                status(&answers[0]),
                status(&answers[1])
            ),
        ),
    }
}

/// `reasoning`: `reasoning_effort` is billed as reasoning tokens.
pub(super) fn reasoning(answer: &Answer) -> Seen {
    let tokens = (answer.status == Some(200))
        .then(|| answer.json())
        .flatten()
        .and_then(|v| {
            v.get("usage")?
                .get("completion_tokens_details")?
                .get("reasoning_tokens")?
                .as_u64()
        });
    match tokens {
        Some(k) if k > 0 => seen(
            true,
            format!("reasoning_effort low: usage reports {k} reasoning tokens"),
        ),
        Some(_) => seen(
            false,
            "reasoning_effort low: usage reports 0 reasoning tokens",
        ),
        None if answer.status == Some(200) => seen(
            false,
            "reasoning_effort low: status 200, usage reports no reasoning tokens",
        ),
        None => seen(false, format!("reasoning_effort low: {}", status(answer))),
    }
}

/// `prompt_caching`: the second of two identical long prompts reports
/// cached tokens.
pub(super) fn prompt_caching(answers: &[Answer; 2]) -> Seen {
    let second = &answers[1];
    let cached = (second.status == Some(200))
        .then(|| second.json())
        .flatten()
        .and_then(|v| {
            v.get("usage")?
                .get("prompt_tokens_details")?
                .get("cached_tokens")?
                .as_u64()
        });
    match cached {
        Some(k) if k > 0 => seen(
            true,
            format!("a 1,200-token prompt sent twice: the second reported {k} cached tokens"),
        ),
        _ if second.status == Some(200) => seen(
            false,
            "a 1,200-token prompt sent twice: the second reported no cached tokens",
        ),
        _ => seen(
            false,
            format!("a 1,200-token prompt sent twice: {}", status(second)),
        ),
    }
}

/// The context window: named by the context probe's refusal, else by
/// another refusal, else by the model list's entry for the model.
pub(super) fn context_limit(
    context: &Answer,
    refusals: &[&Answer],
    models: &Answer,
    model: &str,
) -> SeenLimit {
    for answer in std::iter::once(&context).chain(refusals) {
        if answer.status.is_some_and(|s| s >= 400)
            && let Some(value) = context_window_in(&String::from_utf8_lossy(&answer.body))
        {
            return SeenLimit {
                value: Some(value),
                evidence: quote_line(&format!(
                    "refused with {}: \"{}\"",
                    status(answer),
                    message(answer)
                )),
            };
        }
    }
    let listed = models.json().and_then(|v| {
        let entry = v
            .get("data")?
            .as_array()?
            .iter()
            .find(|m| m.get("id").and_then(Value::as_str) == Some(model))?
            .clone();
        [
            "context_length",
            "max_model_len",
            "context_window",
            "max_context_length",
        ]
        .into_iter()
        .find_map(|field| Some((field, entry.get(field)?.as_u64()?)))
    });
    if let Some((field, value)) = listed {
        return SeenLimit {
            value: Some(value),
            evidence: format!("GET /models gives {model} {field} {value}"),
        };
    }
    let what = match context.status {
        Some(s) if (200..300).contains(&s) => format!(
            "max_tokens {CONTEXT_PROBE_MAX_TOKENS} was accepted (closed at the response head)"
        ),
        _ => format!(
            "max_tokens {CONTEXT_PROBE_MAX_TOKENS}: {}, no window named",
            status(context)
        ),
    };
    SeenLimit {
        value: None,
        evidence: what,
    }
}

/// The request body limit: named by a 413 answering the body-size probe.
pub(super) fn body_limit(answer: &Answer) -> SeenLimit {
    let size = BODY_SIZE_PROBE_BYTES;
    match answer.status {
        Some(413) => match body_limit_in(&String::from_utf8_lossy(&answer.body)) {
            Some(value) => SeenLimit {
                value: Some(value),
                evidence: quote_line(&format!(
                    "a body of {size} bytes was refused with 413: \"{}\"",
                    message(answer)
                )),
            },
            None => SeenLimit {
                value: None,
                evidence: format!("a body of {size} bytes was refused with 413, no limit named"),
            },
        },
        Some(s) if (200..300).contains(&s) => SeenLimit {
            value: None,
            evidence: format!("a body of {size} bytes (whitespace-padded) was accepted"),
        },
        _ => SeenLimit {
            value: None,
            evidence: format!("a body of {size} bytes: {}", status(answer)),
        },
    }
}

/// The context window an error message names: a number of tokens shortly
/// after the word "context" ("maximum context length is 4096 tokens",
/// "context window of 8192 tokens"). A completion limit ("supports at most
/// 16384 completion tokens") is not a context window and is not taken.
pub fn context_window_in(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    lower.match_indices("context").find_map(|(at, word)| {
        let after = &lower[at + word.len()..];
        let window: String = after.chars().take(40).collect();
        number_before(&window, "token")
    })
}

/// The body limit a 413's message names: the smallest number of bytes it
/// mentions other than the probe's own size.
pub fn body_limit_in(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let mut found = None;
    let mut rest = lower.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let digits: String = rest[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        rest = &rest[start + digits.len()..];
        if rest.trim_start().starts_with("byte")
            && let Ok(value) = digits.parse::<u64>()
            && value != BODY_SIZE_PROBE_BYTES as u64
        {
            found = Some(found.map_or(value, |f: u64| f.min(value)));
        }
    }
    found
}

/// The first number in `text` that `unit` follows (after spaces).
fn number_before(text: &str, unit: &str) -> Option<u64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let rest = &text[start + digits.len()..];
    if rest.trim_start().starts_with(unit) {
        digits.parse().ok()
    } else {
        None
    }
}

/// An error answer's message: `error.message`, `detail`, or the body text.
fn message(answer: &Answer) -> String {
    let json = answer.json();
    let text = json
        .as_ref()
        .and_then(|v| {
            v.get("error")
                .and_then(|e| e.get("message").or(Some(e)))
                .or_else(|| v.get("detail"))
                .and_then(Value::as_str)
        })
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&answer.body).into_owned());
    if text.chars().count() > QUOTE_CHARS {
        text.chars().take(QUOTE_CHARS).chain(['…']).collect()
    } else {
        text
    }
}

/// `text` on one line: control characters become spaces, runs of spaces
/// one, at most a few hundred characters.
pub(super) fn quote_line(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().map(|c| if c.is_control() { ' ' } else { c }) {
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    out.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: Value) -> Answer {
        Answer {
            status: Some(status),
            body: body.to_string().into_bytes(),
            ..Answer::default()
        }
    }

    fn choices(list: Value) -> Answer {
        answer(200, json!({"choices": list}))
    }

    #[test]
    fn context_windows_are_read_from_the_messages_servers_write() {
        let cases = [
            (
                "This model's maximum context length is 512 tokens. However, you requested 554 tokens",
                Some(512),
            ),
            (
                "100000000 is beyond this model's context window of 8192 tokens",
                Some(8192),
            ),
            (
                "max_tokens is too large: 100000000. This model supports at most 16384 completion tokens",
                None,
            ),
            ("context length exceeded", None),
            ("the context holds 3 messages; 9000 tokens", None),
        ];
        for (text, want) in cases {
            assert_eq!(context_window_in(text), want, "{text}");
        }
    }

    #[test]
    fn body_limits_skip_the_probe_size_and_take_the_smallest() {
        let probe = BODY_SIZE_PROBE_BYTES;
        assert_eq!(
            body_limit_in("The request body is larger than the limit of 1048576 bytes."),
            Some(1_048_576)
        );
        assert_eq!(
            body_limit_in(&format!("got {probe} bytes, limit 65536 bytes")),
            Some(65_536)
        );
        assert_eq!(
            body_limit_in(&format!("body of {probe} bytes is too large")),
            None
        );
        assert_eq!(body_limit_in("413 Request Entity Too Large"), None);
    }

    #[test]
    fn n_needs_two_choices() {
        assert!(n(&choices(json!([{"index": 0}, {"index": 1}]))).observed);
        let one = n(&choices(json!([{"index": 0}])));
        assert_eq!(one, seen(false, "n: 2 gave 1 choice"));
        assert!(!n(&answer(400, json!({"error": {"message": "n"}}))).observed);
    }

    #[test]
    fn auth_needs_a_refused_wrong_key_and_an_accepted_given_one() {
        assert!(auth(&answer(401, json!({})), true).observed);
        assert!(!auth(&answer(401, json!({})), false).observed);
        assert!(!auth(&answer(200, json!({})), true).observed);
    }

    #[test]
    fn each_capability_needs_its_evidence() {
        let msg = |content: &str| choices(json!([{"message": {"content": content}}]));
        assert!(json_object(&msg(r#"{"a": 1}"#)).observed);
        assert!(!json_object(&msg(r#"{"a": "#)).observed);
        assert!(!json_object(&msg("[1]")).observed);
        let cut = |content: &str| {
            choices(json!([{"message": {"content": content}, "finish_reason": "length"}]))
        };
        assert!(json_object(&cut("{\n  \"fruit\": \"app")).observed);
        assert!(!json_object(&cut("Name a fruit. {")).observed);
        assert!(!json_object(&cut("{\"a\": ]")).observed);
        assert!(!json_object(&cut("[1, 2")).observed);
        assert!(json_schema(&msg(r#"{"colour": "red"}"#)).observed);
        assert!(!json_schema(&msg(r#"{"color": "red"}"#)).observed);
        assert!(!json_schema(&answer(500, json!({}))).observed);
        assert!(seed(&[msg("a"), msg("a")]).observed);
        assert!(!seed(&[msg("a"), msg("b")]).observed);
        let call = |name: &str| {
            choices(
                json!([{"message": {"tool_calls": [{"function": {"name": name, "arguments": "{}"}}]}}]),
            )
        };
        assert!(tools(&call(TOOL)).observed);
        assert!(!tools(&call("other")).observed);
        assert!(!tools(&msg("it is sunny")).observed);
        let lp = |content: Value| choices(json!([{"logprobs": {"content": content}}]));
        assert!(
            logprobs(&lp(
                json!([{"token": "a", "logprob": -0.1, "top_logprobs": []}])
            ))
            .observed
        );
        assert!(!logprobs(&lp(json!([]))).observed);
        assert!(!logprobs(&choices(json!([{"logprobs": null}]))).observed);
        assert!(completions(&choices(json!([{"text": "Paris"}]))).observed);
        assert!(!completions(&answer(404, json!({}))).observed);
        let usage = |usage: Value| answer(200, json!({"choices": [], "usage": usage}));
        assert!(
            reasoning(&usage(
                json!({"completion_tokens_details": {"reasoning_tokens": 16}})
            ))
            .observed
        );
        assert!(
            !reasoning(&usage(
                json!({"completion_tokens_details": {"reasoning_tokens": 0}})
            ))
            .observed
        );
        assert!(!reasoning(&usage(json!({}))).observed);
        let cached = |k: u64| usage(json!({"prompt_tokens_details": {"cached_tokens": k}}));
        assert!(prompt_caching(&[cached(0), cached(1024)]).observed);
        assert!(!prompt_caching(&[cached(1024), cached(0)]).observed);
    }

    #[test]
    fn limits_come_from_refusals_or_the_model_list() {
        let refused = answer(
            400,
            json!({"error": {"message": "This model's maximum context length is 512 tokens."}}),
        );
        let accepted = answer(200, json!({}));
        let none = Answer::default();
        assert_eq!(context_limit(&refused, &[], &none, "m").value, Some(512));
        assert_eq!(
            context_limit(&accepted, &[&refused], &none, "m").value,
            Some(512)
        );
        let listed = answer(200, json!({"data": [{"id": "m", "max_model_len": 4096}]}));
        assert_eq!(
            context_limit(&accepted, &[&accepted], &listed, "m").value,
            Some(4096)
        );
        assert_eq!(context_limit(&accepted, &[], &listed, "other").value, None);
        // A 200 body naming a window is an answer, not a refusal.
        let echoed = answer(200, json!({"text": "maximum context length is 512 tokens"}));
        assert_eq!(context_limit(&echoed, &[], &none, "m").value, None);
        let too_large = answer(
            413,
            json!({"error": {"message": "larger than the limit of 1048576 bytes"}}),
        );
        assert_eq!(body_limit(&too_large).value, Some(1_048_576));
        assert_eq!(body_limit(&accepted).value, None);
        assert_eq!(body_limit(&answer(413, json!({}))).value, None);
    }

    #[test]
    fn the_body_size_probe_is_valid_json_of_the_probe_size() {
        let (_, _, body) = Probe::BodySize.request("m");
        let body = body.expect("a body");
        assert_eq!(body.len(), BODY_SIZE_PROBE_BYTES);
        let value: Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(value["max_tokens"], 1);
    }

    #[test]
    fn quoted_text_stays_on_one_line() {
        assert_eq!(quote_line("a\n\n  b\r\tc"), "a b c");
    }
}
