//! What a client assembles from a response: per choice the text, the tool
//! calls and the finish reason, from a JSON body or a stream of chunks, for
//! chat and legacy completions alike, and (one choice, index 0) for the
//! Anthropic Messages and OpenAI Responses dialects, whose usage is
//! normalised to chat's names.

use std::collections::BTreeMap;

use serde_json::Value;

use super::stream::payloads;
use super::{Finding, View, excerpt};
use crate::suite::Dialect;

/// Tool-call indices at or beyond this are not assembled.
const MAX_TOOL_CALLS: usize = 128;

/// One assembled tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ToolCall {
    /// The call id (the first one seen, in a stream).
    pub(super) id: Option<String>,
    /// The function name, concatenated across deltas.
    pub(super) name: String,
    /// The arguments text, concatenated across deltas.
    pub(super) arguments: String,
}

/// One assembled choice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Choice {
    /// Message content (chat) or text (completions), concatenated.
    pub(super) text: String,
    /// Tool calls in tool-call index order.
    pub(super) tool_calls: Vec<ToolCall>,
    /// The last non-null finish reason.
    pub(super) finish_reason: Option<String>,
    /// `logprobs.content` entries, in order, when any chunk carried them.
    pub(super) logprobs: Option<Vec<Value>>,
}

/// The assembled output of one exchange.
#[derive(Debug, Default)]
pub(super) struct Output {
    /// Choices by index.
    pub(super) choices: BTreeMap<u64, Choice>,
    /// The usage object, when one was sent.
    pub(super) usage: Option<Value>,
    /// The `model` of the body or of the first chunk.
    pub(super) model: Option<Value>,
    /// The dialect the exchange speaks (from its URL).
    pub(super) dialect: Dialect,
    /// Why the dialect's usage could not be normalised to chat's names,
    /// when it could not (`usage` is then `None`).
    pub(super) usage_problem: Option<String>,
}

/// Assembles the output of a successful exchange; anything but a complete
/// 200 response is a failure to produce output.
pub(super) fn assemble(view: &View<'_>) -> Result<Output, Finding> {
    let Some(head) = &view.exchange.response else {
        return Err(super::no_response(view.exchange));
    };
    let body = view.complete_body()?;
    if head.status != 200 {
        return Err(Finding::fail(format!(
            "no output to judge: status {}; body starts {}",
            head.status,
            excerpt(body, 200)
        )));
    }
    let mut output = match Dialect::of_url(&view.exchange.url) {
        Dialect::OpenaiChat => chat(view, body)?,
        Dialect::AnthropicMessages => super::messages::assemble(view, body)?,
        Dialect::OpenaiResponses => super::responses::assemble(view, body)?,
    };
    if output.choices.is_empty() {
        return Err(Finding::fail("the response carries no choices"));
    }
    output.dialect = Dialect::of_url(&view.exchange.url);
    Ok(output)
}

/// Assembles a chat or legacy completions body or stream.
fn chat(view: &View<'_>, body: &[u8]) -> Result<Output, Finding> {
    let mut output = Output::default();
    if view.streamed() {
        let payloads = payloads(view)?;
        output.model = payloads[0].value.get("model").cloned();
        for payload in &payloads {
            if let Some(usage) = payload.value.get("usage").filter(|u| !u.is_null()) {
                output.usage = Some(usage.clone());
            }
            for choice in choices(&payload.value) {
                let index = index_of(choice)
                    .map_err(|why| Finding::error(format!("{}: {why}", payload.at())))?;
                let part = choice.get("delta").unwrap_or(choice);
                add(output.choices.entry(index).or_default(), choice, part, true);
            }
        }
    } else {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| Finding::fail(view.not_json(&e)))?;
        output.model = value.get("model").cloned();
        output.usage = value.get("usage").filter(|u| !u.is_null()).cloned();
        for choice in choices(&value) {
            let index = index_of(choice).map_err(Finding::error)?;
            let part = choice.get("message").unwrap_or(choice);
            add(
                output.choices.entry(index).or_default(),
                choice,
                part,
                false,
            );
        }
    }
    Ok(output)
}

/// Judges the assembled output, or reports why there is none.
pub(super) fn with_output(view: &View<'_>, judge: impl FnOnce(&Output) -> Finding) -> Finding {
    match assemble(view) {
        Ok(output) => judge(&output),
        Err(f) => f,
    }
}

/// [`with_output`] for a judgement that may stop early with a finding.
pub(super) fn try_with_output(
    view: &View<'_>,
    judge: impl FnOnce(&Output) -> Result<Finding, Finding>,
) -> Finding {
    match assemble(view).and_then(|output| judge(&output)) {
        Ok(finding) | Err(finding) => finding,
    }
}

/// The `choices` array of a body or chunk (empty when absent).
pub(crate) fn choices(value: &Value) -> impl Iterator<Item = &Value> {
    value
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn index_of(choice: &Value) -> Result<u64, String> {
    choice
        .get("index")
        .and_then(Value::as_u64)
        .ok_or_else(|| "a choice has no integer index".to_string())
}

/// Adds one choice object (or one chunk's choice) to the assembly. `part`
/// is the message or delta; legacy completions carry `text` on the choice.
fn add(into: &mut Choice, choice: &Value, part: &Value, delta: bool) {
    for source in [part.get("content"), choice.get("text")] {
        if let Some(text) = source.and_then(Value::as_str) {
            into.text.push_str(text);
        }
    }
    for call in part
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add_tool_call(into, call, delta);
    }
    if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
        into.finish_reason = Some(reason.to_string());
    }
    if let Some(entries) = choice
        .get("logprobs")
        .and_then(|l| l.get("content"))
        .and_then(Value::as_array)
    {
        into.logprobs
            .get_or_insert_with(Vec::new)
            .extend(entries.iter().cloned());
    }
}

/// In a stream, deltas of one call share its `index` and their name and
/// argument fragments concatenate; in a body, each entry is a whole call.
fn add_tool_call(into: &mut Choice, call: &Value, delta: bool) {
    let function = call.get("function");
    let text = |field: &str| {
        function
            .and_then(|f| f.get(field))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let position = if delta {
        let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        usize::try_from(index).unwrap_or(usize::MAX)
    } else {
        into.tool_calls.len()
    };
    // A stream that skips tool-call indices leaves nameless calls in the
    // gap, which tool_calls_valid reports; an absurd index is ignored.
    if position >= into.tool_calls.len() && position < MAX_TOOL_CALLS {
        into.tool_calls.resize(
            position + 1,
            ToolCall {
                id: None,
                name: String::new(),
                arguments: String::new(),
            },
        );
    }
    let Some(slot) = into.tool_calls.get_mut(position) else {
        return;
    };
    if slot.id.is_none() {
        slot.id = call.get("id").and_then(Value::as_str).map(str::to_string);
    }
    slot.name.push_str(text("name"));
    slot.arguments.push_str(text("arguments"));
}
