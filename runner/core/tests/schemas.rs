//! Checks the JSON Schemas in `spec/schemas/` against their language-neutral
//! test files in `spec/schemas/tests/` (same layout as JSON-Schema-Test-Suite:
//! an array of `{"description", "data", "valid"}`).
//!
//! For every `<name>.schema.json` this asserts that the schema declares and
//! satisfies the draft 2020-12 meta-schema, compiles it on its own, and runs
//! every case in `tests/<name>.json`. A schema without a tests file, or a
//! tests file without a schema, is a failure.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";
const SCHEMA_SUFFIX: &str = ".schema.json";

#[derive(Deserialize)]
struct Case {
    description: String,
    data: Value,
    valid: bool,
}

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/schemas")
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// File names in `dir` that end with `suffix`, with the suffix stripped.
fn names_with_suffix(dir: &Path, suffix: &str) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").file_name())
        .filter_map(|name| name.to_str()?.strip_suffix(suffix).map(str::to_owned))
        .collect()
}

/// Checks one schema and its test cases, appending a message per failure.
fn check_schema(dir: &Path, name: &str, has_tests: bool, failures: &mut Vec<String>) {
    let file = format!("{name}{SCHEMA_SUFFIX}");
    let schema = read_json(&dir.join(&file));
    if schema.get("$schema").and_then(Value::as_str) != Some(DRAFT_2020_12) {
        failures.push(format!("{file}: $schema is not {DRAFT_2020_12}"));
        return;
    }
    if let Err(e) = jsonschema::draft202012::meta::validate(&schema) {
        failures.push(format!("{file}: not a valid 2020-12 schema: {e}"));
        return;
    }
    let validator = match jsonschema::draft202012::new(&schema) {
        Ok(validator) => validator,
        Err(e) => {
            failures.push(format!("{file}: does not compile: {e}"));
            return;
        }
    };
    if !has_tests {
        failures.push(format!("{file}: no tests/{name}.json"));
        return;
    }

    let tests_path = dir.join("tests").join(format!("{name}.json"));
    let cases: Vec<Case> = serde_json::from_value(read_json(&tests_path))
        .unwrap_or_else(|e| panic!("{}: {e}", tests_path.display()));
    if cases.is_empty() {
        failures.push(format!("tests/{name}.json: no test cases"));
    }
    for case in &cases {
        let outcome = validator.validate(&case.data);
        if outcome.is_ok() != case.valid {
            let detail = match outcome {
                Ok(()) => "but the validator accepted it".to_owned(),
                Err(e) => format!(
                    "but the validator rejected it: {e} (at instance path \"{}\")",
                    e.instance_path()
                ),
            };
            let expected = if case.valid { "valid" } else { "invalid" };
            failures.push(format!(
                "{file}: {:?}: expected {expected}, {detail}",
                case.description
            ));
        }
    }
}

#[test]
fn schemas_pass_their_tests() {
    let dir = schemas_dir();
    let schemas = names_with_suffix(&dir, SCHEMA_SUFFIX);
    let tests = names_with_suffix(&dir.join("tests"), ".json");
    assert!(!schemas.is_empty(), "no schemas found in {}", dir.display());

    let mut failures = Vec::new();
    for name in &schemas {
        check_schema(&dir, name, tests.contains(name), &mut failures);
    }
    for name in tests.difference(&schemas) {
        failures.push(format!("tests/{name}.json: no {name}{SCHEMA_SUFFIX}"));
    }
    assert!(
        failures.is_empty(),
        "{} schema failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
