//! The fingerprint probe set (`suites/fingerprint/probes.yaml`): its
//! model, its loading (validated against
//! `spec/schemas/fingerprint-probes.schema.json`, like every suite file)
//! and the requests it sends, as ordinary [`Case`]s the driver can execute.
//!
//! The probe set is not part of the conformance suite: `tokencert run`
//! never sends it (the case loader skips [`PROBES_DIR`]); only
//! `tokencert fingerprint` does. It is covered by the suite digest all the
//! same, so a fingerprint bundle names the probe set it was made with.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::suite::{self, Case, Check, LineMap, Problem, Request, StatusSet};

/// The directory under `suites/` holding the probe set, not cases.
pub const PROBES_DIR: &str = "fingerprint";
/// The probe set's file, relative to the suite root.
pub const PROBES_FILE: &str = "suites/fingerprint/probes.yaml";
/// The schema the probe set must match (`spec/schemas/<name>.schema.json`).
pub const PROBES_SCHEMA: &str = "fingerprint-probes";
/// The clause a fingerprint probe serves (SHOULD: the served model is
/// indistinguishable from the reference fingerprint a profile declares).
pub const CLAUSE: &str = "TS-ID-MODEL-FINGERPRINT";
/// The prefix of every probe's case id (and evidence file name).
pub const CASE_PREFIX: &str = "fingerprint";

/// The versioned probe set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSet {
    /// Short id, e.g. `fp`.
    pub id: String,
    /// Version; any change to a probe bumps it.
    pub version: u64,
    /// What the probe set is for.
    pub description: String,
    /// The `seed` every request carries.
    pub seed: u64,
    /// The completion limit of generation probes.
    pub max_tokens: u64,
    /// Alternatives asked per generated token (`top_logprobs`).
    pub top_logprobs: u64,
    /// Short prompts whose greedy continuation is recorded.
    pub generations: Vec<GenerationProbe>,
    /// Texts whose billed prompt tokens tell tokenizer families apart.
    pub tokenizers: Vec<TokenizerText>,
    /// Exactly checkable tasks.
    pub tasks: Vec<TaskProbe>,
}

/// A short prompt continued greedily.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationProbe {
    /// Probe id.
    pub id: String,
    /// The user message.
    pub prompt: String,
}

/// A text sent as the whole user message, answered with one token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerText {
    /// Probe id.
    pub id: String,
    /// The user message.
    pub text: String,
    /// Its token count under each known family (computed when the probe
    /// set was written; a test recounts them).
    pub tokens: BTreeMap<String, u64>,
}

/// A task whose answer is checked exactly.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskProbe {
    /// Probe id.
    pub id: String,
    /// The user message.
    pub prompt: String,
    /// A stop sequence sent with the request.
    #[serde(default)]
    pub stop: Option<String>,
    /// The completion limit.
    pub max_tokens: u64,
    /// What the answer must be.
    pub expect: Expect,
}

/// What a task's answer must be.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expect {
    /// The message text, trimmed, is exactly this, and the choice finished
    /// with `stop`.
    Answer(String),
    /// The message text is JSON matching this schema (requested with
    /// `response_format: json_schema`).
    JsonSchema(Value),
    /// One call of this function (the only tool, forced by `tool_choice`)
    /// whose arguments are JSON matching its parameters.
    ToolCall {
        /// Function name.
        name: String,
        /// JSON Schema of its parameters.
        parameters: Value,
    },
}

/// Which kind of probe a case id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// A [`GenerationProbe`].
    Generation,
    /// A [`TokenizerText`].
    Tokenizer,
    /// A [`TaskProbe`].
    Task,
}

impl ProbeKind {
    fn name(self) -> &'static str {
        match self {
            ProbeKind::Generation => "generation",
            ProbeKind::Tokenizer => "tokenizer",
            ProbeKind::Task => "task",
        }
    }
}

/// The case id (and evidence file stem) of a probe.
pub fn case_id(kind: ProbeKind, probe: &str) -> String {
    format!("{CASE_PREFIX}.{}.{probe}", kind.name())
}

impl ProbeSet {
    /// `<id>-<version>`, e.g. `fp-1`.
    pub fn name(&self) -> String {
        format!("{}-{}", self.id, self.version)
    }

    /// The requests of the whole set, as cases in probe-set order
    /// (generations, tokenizer texts, tasks); `logprobs` asks generation
    /// probes for log-probabilities and their top alternatives.
    pub fn cases(&self, logprobs: bool) -> Vec<Case> {
        let common = |content: &str, max_tokens: u64| {
            json!({
                "model": "${model}",
                "messages": [{"role": "user", "content": content}],
                "temperature": 0,
                "seed": self.seed,
                "max_tokens": max_tokens,
            })
        };
        let mut cases = Vec::new();
        for probe in &self.generations {
            let mut body = common(&probe.prompt, self.max_tokens);
            if logprobs {
                body["logprobs"] = json!(true);
                body["top_logprobs"] = json!(self.top_logprobs);
            }
            cases.push(case(ProbeKind::Generation, &probe.id, body));
        }
        for probe in &self.tokenizers {
            cases.push(case(
                ProbeKind::Tokenizer,
                &probe.id,
                common(&probe.text, 1),
            ));
        }
        for task in &self.tasks {
            let mut body = common(&task.prompt, task.max_tokens);
            if let Some(stop) = &task.stop {
                body["stop"] = json!([stop]);
            }
            match &task.expect {
                Expect::Answer(_) => {}
                Expect::JsonSchema(schema) => {
                    body["response_format"] = json!({
                        "type": "json_schema",
                        "json_schema": {"name": task.id, "schema": schema, "strict": true},
                    });
                }
                Expect::ToolCall { name, parameters } => {
                    body["tools"] = json!([{
                        "type": "function",
                        "function": {"name": name, "parameters": parameters},
                    }]);
                    body["tool_choice"] = json!({"type": "function", "function": {"name": name}});
                }
            }
            cases.push(case(ProbeKind::Task, &task.id, body));
        }
        cases
    }
}

fn case(kind: ProbeKind, probe: &str, body: Value) -> Case {
    Case {
        id: case_id(kind, probe),
        clause: CLAUSE.into(),
        description: format!("fingerprint {} probe {probe}", kind.name()),
        requires: Vec::new(),
        task: None,
        probe: None,
        before: Vec::new(),
        request: Some(Request::chat(body)),
        performance: None,
        fingerprint_probes: false,
        checks: vec![Check::Status(StatusSet::One(200))],
    }
}

/// Loads and validates the probe set of the suite rooted at `root`;
/// `None` when the suite has none. Problems name the file, line and field.
pub fn load(
    root: &Path,
    schemas: &BTreeMap<String, jsonschema::Validator>,
) -> Result<Option<ProbeSet>, Vec<Problem>> {
    let rel = Path::new(PROBES_FILE);
    if !root.join(rel).exists() {
        return Ok(None);
    }
    let Some(schema) = schemas.get(PROBES_SCHEMA) else {
        return Err(vec![suite::problem(
            rel,
            format!("spec/schemas/{PROBES_SCHEMA}.schema.json is missing"),
        )]);
    };
    let text = suite::read_file(root, rel).map_err(|p| vec![p])?;
    let value: Value = suite::parse_yaml(&text).map_err(|e| vec![suite::yaml_problem(rel, &e)])?;
    let lines = LineMap::new(&text);
    let at = |field: String, message: String| Problem {
        line: lines.line_of(&field),
        field: Some(field),
        ..suite::problem(rel, message)
    };
    let problems: Vec<Problem> = schema
        .iter_errors(&value)
        .map(|e| at(e.instance_path().as_str().to_string(), e.to_string()))
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    let set: ProbeSet =
        serde_json::from_value(value).map_err(|e| vec![suite::problem(rel, e.to_string())])?;
    let mut problems = Vec::new();
    let ids = set
        .generations
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("/generations/{i}/id"), &p.id))
        .chain(
            set.tokenizers
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("/tokenizers/{i}/id"), &p.id)),
        )
        .chain(
            set.tasks
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("/tasks/{i}/id"), &p.id)),
        );
    let mut seen = std::collections::BTreeSet::new();
    for (field, id) in ids {
        if !seen.insert(id.as_str()) {
            problems.push(at(
                field,
                format!("probe id {id:?} is used twice; ids must be unique"),
            ));
        }
    }
    for (i, task) in set.tasks.iter().enumerate() {
        let schema = match &task.expect {
            Expect::JsonSchema(schema) => Some(("json_schema", schema)),
            Expect::ToolCall { parameters, .. } => Some(("tool_call/parameters", parameters)),
            Expect::Answer(_) => None,
        };
        if let Some((name, schema)) = schema
            && let Err(e) = jsonschema::draft202012::new(schema)
        {
            problems.push(at(
                format!("/tasks/{i}/expect/{name}"),
                format!("not a valid 2020-12 schema: {e}"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(Some(set))
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Tokenizer, TokenizerSpec};

    fn root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// The families the probe set's counts name, and their tokenizers.
    fn families() -> Vec<(&'static str, Tokenizer)> {
        let root = root();
        let load = |spec| Tokenizer::load(&spec, &root).expect("tokenizer");
        vec![
            ("o200k_base", load(TokenizerSpec::O200kBase)),
            ("cl100k_base", load(TokenizerSpec::Cl100kBase)),
            (
                "gemma-3",
                load(TokenizerSpec::Gguf(
                    "fixtures/llama-cpp/bundle/tokenizer.gguf".into(),
                )),
            ),
        ]
    }

    #[test]
    fn the_committed_token_counts_are_the_tokenizers_counts() {
        let suite = crate::suite::load(&root()).expect("suite");
        let set = suite.probe_set.expect("probe set");
        let families = families();
        let mut wrong = Vec::new();
        for probe in &set.tokenizers {
            for (family, tokenizer) in &families {
                let counted = tokenizer.count(&probe.text).expect("count") as u64;
                if probe.tokens.get(*family) != Some(&counted) {
                    wrong.push(format!("{}: {family}: {counted}", probe.id));
                }
            }
        }
        assert!(wrong.is_empty(), "recounted:\n{}", wrong.join("\n"));
    }
}
