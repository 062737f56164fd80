//! `--json` of `run`, `verify` and `list`: stdout is exactly one JSON
//! document, valid against its schema in spec/schemas/, whose
//! `exit_status` is the process's; a failing case and a tampered bundle
//! show up in the document as they do in the exit status.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{text, tokencert};
use serde_json::Value;

fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../spec/schemas")
        .join(format!("{name}.schema.json"));
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).expect("schema readable"))
        .expect("schema is JSON");
    jsonschema::draft202012::new(&schema).expect("schema compiles")
}

/// The one document on stdout, checked against `schema_name`; its
/// `exit_status` must be the process's.
fn document(output: &Output, schema_name: &str) -> Value {
    let stdout = text(&output.stdout);
    let mut values = serde_json::Deserializer::from_str(&stdout).into_iter::<Value>();
    let doc = values
        .next()
        .unwrap_or_else(|| panic!("no JSON on stdout; stderr: {}", text(&output.stderr)))
        .expect("stdout is JSON");
    assert!(values.next().is_none(), "more than one document: {stdout}");
    let errors: Vec<String> = schema(schema_name)
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema_name}: {errors:?}\n{doc:#}");
    assert_eq!(
        doc["exit_status"].as_i64(),
        output.status.code().map(i64::from),
        "{doc:#}"
    );
    doc
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `tokencert run --json` of a few cases into `out`; returns the output
/// and the bundle the document names.
fn run(out: &Path, extra: &[&str]) -> (Output, PathBuf) {
    let mut args = vec!["run", "--json", "--out", arg(out)];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["api.chat.stream.done", "api.models.list"]);
    let output = tokencert(&args);
    let doc = document(&output, "run-output");
    let bundle = PathBuf::from(doc["bundle"].as_str().expect("bundle path"));
    assert!(
        bundle.join("manifest.json").is_file(),
        "{}",
        bundle.display()
    );
    (output, bundle)
}

#[test]
fn list_writes_cases_and_coverage() {
    let plain = tokencert(&["list", "--json"]);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain.stderr));
    let doc = document(&plain, "list-output");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() > 100, "{}", cases.len());
    let done = cases
        .iter()
        .find(|c| c["id"] == "api.chat.stream.done")
        .expect("api.chat.stream.done listed");
    assert_eq!(done["clause"], "TS-API-STREAM-DONE");
    assert_eq!(done["level"], "MUST");
    assert_eq!(done["area"], "API");
    assert_eq!(done["kind"], "conformance");
    assert!(
        cases
            .iter()
            .any(|c| c["id"] == "perf.interactive" && c["kind"] == "performance")
    );
    assert!(doc["clauses"].is_null());
    // The human listing moved to stderr.
    assert!(text(&plain.stderr).contains("api.chat.stream.done"));

    let coverage = tokencert(&["list", "--coverage", "--json"]);
    let doc = document(&coverage, "list-output");
    assert_eq!(doc["uncovered_must"], serde_json::json!([]));
    let clause = doc["clauses"]
        .as_array()
        .expect("clauses")
        .iter()
        .find(|c| c["id"] == "TS-API-STREAM-DONE")
        .expect("TS-API-STREAM-DONE");
    assert!(
        clause["cases"]
            .as_array()
            .expect("cases")
            .contains(&Value::from("api.chat.stream.done"))
    );
}

#[test]
fn run_and_verify_report_a_failing_case_and_a_tampered_bundle() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys");
    let keygen = tokencert(&["keygen", "--out", arg(&keys)]);
    assert!(keygen.status.success(), "{}", text(&keygen.stderr));
    let private = keys.join("tokencert-signing.key.pem");
    let public = keys.join("tokencert-signing.pub.pem");

    // A conforming, signed run: exit 0, no failures, the signer's key id.
    let (output, good) = run(&dir.path().join("good"), &["--key", arg(&private)]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let doc = document(&output, "run-output");
    assert_eq!(doc["conforms"], true);
    assert_eq!(doc["must_failures"], serde_json::json!([]));
    assert!(doc["counts"]["MUST"]["pass"].as_u64().expect("count") >= 2);
    let keyid = doc["signed_by"].as_str().expect("signed").to_string();
    // The summary went to stderr, not into the document.
    assert!(text(&output.stderr).contains("CONFORMS"));

    // A mutant that omits [DONE]: exit 1 and the failed case, with its reason.
    let (output, bad) = run(&dir.path().join("bad"), &["--mutant", "stream-no-done"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let doc = document(&output, "run-output");
    assert_eq!(doc["conforms"], false);
    let failures = doc["must_failures"].as_array().expect("failures");
    let done = failures
        .iter()
        .find(|f| f["id"] == "api.chat.stream.done")
        .unwrap_or_else(|| panic!("the failing case is listed: {doc:#}"));
    assert_eq!(done["clause"], "TS-API-STREAM-DONE");
    assert_eq!(done["verdict"], "fail");
    assert!(done["reason"].as_str().expect("reason").contains("[DONE]"));
    assert!(doc["signed_by"].is_null());

    // verify: the signed bundle verifies with its key, naming it.
    let verified = tokencert(&["verify", "--json", "--key", arg(&public), arg(&good)]);
    let doc = document(&verified, "verify-output");
    assert_eq!(doc["verified"], true, "{doc:#}");
    assert_eq!(doc["signature"]["status"], "verified");
    assert_eq!(doc["signature"]["keyid"], keyid.as_str());

    // A modified file: exit 3, check "files", the file named.
    let tampered = dir.path().join("tampered");
    std::fs::create_dir(&tampered).expect("mkdir");
    for entry in std::fs::read_dir(&good).expect("bundle") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), tampered.join(entry.file_name())).expect("copy");
        }
    }
    std::fs::create_dir(tampered.join("evidence")).expect("mkdir");
    for entry in std::fs::read_dir(good.join("evidence")).expect("evidence") {
        let entry = entry.expect("entry");
        std::fs::copy(
            entry.path(),
            tampered.join("evidence").join(entry.file_name()),
        )
        .expect("copy");
    }
    let results = tampered.join("results.json");
    let mut bytes = std::fs::read(&results).expect("results");
    bytes.extend_from_slice(b" ");
    std::fs::write(&results, bytes).expect("tamper");
    let output = tokencert(&["verify", "--json", arg(&tampered)]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let doc = document(&output, "verify-output");
    assert_eq!(doc["verified"], false);
    assert_eq!(doc["failure"]["check"], "files");
    assert!(
        doc["failure"]["message"]
            .as_str()
            .expect("message")
            .contains("results.json")
    );
    // Its envelope still names the signer, unverified.
    assert_eq!(doc["signature"]["status"], "not_verified");
    assert_eq!(doc["signature"]["keyid"], keyid.as_str());

    // The unsigned bundle against a key: exit 7, check "unsigned".
    let output = tokencert(&["verify", "--json", "--key", arg(&public), arg(&bad)]);
    assert_eq!(output.status.code(), Some(7), "{}", text(&output.stderr));
    let doc = document(&output, "verify-output");
    assert_eq!(doc["failure"]["check"], "unsigned");
    assert_eq!(doc["signature"]["keyid"], Value::Null);

    // Another key: exit 6, check "signature".
    let other = dir.path().join("other-keys");
    assert!(
        tokencert(&["keygen", "--out", arg(&other)])
            .status
            .success()
    );
    let other_public = other.join("tokencert-signing.pub.pem");
    let output = tokencert(&["verify", "--json", "--key", arg(&other_public), arg(&good)]);
    assert_eq!(output.status.code(), Some(6), "{}", text(&output.stderr));
    assert_eq!(
        document(&output, "verify-output")["failure"]["check"],
        "signature"
    );

    // Never sealed (--partial): exit 8, each case as its evidence stands.
    std::fs::remove_file(bad.join("manifest.json")).expect("unseal");
    let output = tokencert(&["verify", "--json", "--partial", arg(&bad)]);
    assert_eq!(output.status.code(), Some(8), "{}", text(&output.stderr));
    let doc = document(&output, "verify-output");
    assert_eq!(doc["failure"]["check"], "unsealed");
    let cases = doc["unsealed"]["cases"].as_array().expect("cases");
    assert!(
        cases
            .iter()
            .any(|c| c["id"] == "api.chat.stream.done" && c["verdict"] == "fail"),
        "{doc:#}"
    );
}

#[test]
fn a_setup_error_writes_no_document() {
    let output = tokencert(&["verify", "--json", "--key", "/nonexistent/key.pem", "."]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    assert!(text(&output.stderr).contains("key"));
}
