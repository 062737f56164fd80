//! The loader accepts the project's own suite and refuses bad files with
//! a message naming file, line and field, before anything runs.

use std::path::{Path, PathBuf};

use tokencert_core::suite::{self, Level, Problem};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_projects_suite_loads_and_every_must_clause_has_a_case() {
    let suite = suite::load(&repo_root()).expect("the project's suite is valid");
    assert!(suite.cases.len() >= 15, "{} cases", suite.cases.len());
    for clause in suite.clauses.values().filter(|c| c.level == Level::Must) {
        assert!(
            suite.cases.iter().any(|c| c.clause == clause.id),
            "MUST clause {} has no case",
            clause.id
        );
    }
    assert!(suite.digest.starts_with("sha256:"));
}

/// A copy of the real spec/ with one case file of our choosing.
fn suite_with_case(rel: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&repo_root().join("spec"), &dir.path().join("spec"));
    let path = dir.path().join("suites").join(rel);
    std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    std::fs::write(path, text).expect("write case");
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn only_problem(dir: &tempfile::TempDir) -> Problem {
    let err = match suite::load(dir.path()) {
        Ok(_) => panic!("the bad suite loaded"),
        Err(e) => e,
    };
    assert_eq!(err.problems.len(), 1, "{err}");
    err.problems[0].clone()
}

const GOOD: &str = "id: x.good\nclause: TS-API-MODELS-LIST\ndescription: d\nrequest:\n  endpoint: models\nchecks:\n  - status: 200\n";

#[test]
fn a_valid_minimal_case_loads() {
    let dir = suite_with_case("x/good.yaml", GOOD);
    let suite = suite::load(dir.path()).expect("loads");
    assert_eq!(suite.cases.len(), 1);
}

#[test]
fn a_wrongly_typed_field_names_file_line_and_field() {
    let dir = suite_with_case(
        "x/good.yaml",
        &GOOD.replace("status: 200", "status: \"ok\""),
    );
    let p = only_problem(&dir);
    assert_eq!(p.file, Path::new("suites/x/good.yaml"));
    assert_eq!(p.line, Some(7));
    assert_eq!(p.field.as_deref(), Some("/checks/0/status"));
    assert!(
        p.to_string()
            .starts_with("suites/x/good.yaml:7: field /checks/0/status:"),
        "{p}"
    );
}

#[test]
fn an_unknown_field_is_refused_at_its_line() {
    let dir = suite_with_case(
        "x/good.yaml",
        &GOOD.replace("description: d\n", "description: d\nflavour: mint\n"),
    );
    let p = only_problem(&dir);
    assert_eq!(
        p.line,
        Some(1),
        "additionalProperties is reported at the object: {p}"
    );
    assert!(p.message.contains("flavour"), "{p}");
}

#[test]
fn a_missing_field_is_reported_at_its_parent() {
    let dir = suite_with_case(
        "x/good.yaml",
        &GOOD.replace("  endpoint: models\n", "  auth: none\n"),
    );
    let p = only_problem(&dir);
    assert_eq!(p.field.as_deref(), Some("/request"));
    assert_eq!(p.line, Some(4));
    assert!(p.message.contains("endpoint"), "{p}");
}

#[test]
fn an_id_that_is_not_the_path_is_refused() {
    let dir = suite_with_case("x/other.yaml", GOOD);
    let p = only_problem(&dir);
    assert_eq!(p.line, Some(1));
    assert!(p.message.contains("\"x.other\""), "{p}");
}

#[test]
fn an_unknown_clause_is_refused() {
    let dir = suite_with_case(
        "x/good.yaml",
        &GOOD.replace("TS-API-MODELS-LIST", "TS-API-NOPE"),
    );
    let p = only_problem(&dir);
    assert_eq!((p.line, p.field.as_deref()), (Some(2), Some("/clause")));
    assert!(p.message.contains("unknown clause TS-API-NOPE"), "{p}");
}

#[test]
fn an_unknown_schema_name_is_refused() {
    let dir = suite_with_case(
        "x/good.yaml",
        &format!("{GOOD}  - json_schema: chat.nothing\n"),
    );
    let p = only_problem(&dir);
    assert_eq!(
        (p.line, p.field.as_deref()),
        (Some(8), Some("/checks/1/json_schema"))
    );
}

#[test]
fn broken_yaml_names_its_line() {
    let dir = suite_with_case(
        "x/good.yaml",
        "id: x.good\nclause: [unclosed\ndescription: d\n",
    );
    let p = only_problem(&dir);
    assert!(p.line.is_some(), "{p}");
}

#[test]
fn an_alias_bomb_is_refused_not_expanded() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (i, prev) in ('b'..='k').zip('a'..='j') {
        bomb.push_str(&format!("{i}: &{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let dir = suite_with_case("x/good.yaml", &bomb);
    let p = only_problem(&dir);
    assert_eq!(p.file, Path::new("suites/x/good.yaml"));
}

#[test]
fn a_yml_file_is_not_silently_ignored() {
    let dir = suite_with_case("x/good.yml", GOOD);
    let p = only_problem(&dir);
    assert!(p.message.contains(".yaml"), "{p}");
}

#[test]
fn bad_and_duplicate_clause_ids_are_refused_at_their_lines() {
    let dir = suite_with_case("x/good.yaml", GOOD);
    let path = dir.path().join("spec/clauses.yaml");
    let mut text = std::fs::read_to_string(&path).expect("clauses");
    text.push_str("  - id: TS-API-MODELS-LIST\n    level: MUST\n    title: t\n    text: t\n    rationale: r\n");
    text.push_str(
        "  - id: ts-lower-case\n    level: MUST\n    title: t\n    text: t\n    rationale: r\n",
    );
    std::fs::write(&path, &text).expect("write");
    let err = match suite::load(dir.path()) {
        Ok(_) => panic!("the bad clauses loaded"),
        Err(e) => e,
    };
    let lines = text.lines().count();
    let messages: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with(&format!("spec/clauses.yaml:{}: field /clauses/", lines - 9))
            && messages[0].contains("defined twice"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("\"ts-lower-case\" is not of the form"),
        "{messages:?}"
    );
}

// ---- performance cases and SLO profiles ---------------------------------------

/// A performance case: the class on line 5, the workload on line 6, its
/// prompts on line 9, the checks from line 12.
const LOAD: &str = "id: x.load\nclause: TS-PERF-SLO\ndescription: d\nperformance:\n  slo: interactive\n  workload:\n    seed: 1\n    requests: 4\n    prompts: {synthetic: {input: {fixed: 10}, output: {fixed: 8}}}\n    load: {closed: {users: 1}}\nchecks:\n  - slo_ttft\n";

/// Asserts the problem's file, line and field, and that its message says `says`.
#[track_caller]
fn problem_at(p: &Problem, file: &str, line: usize, field: &str, says: &str) {
    assert_eq!(
        (p.file.as_path(), p.line, p.field.as_deref()),
        (Path::new(file), Some(line), Some(field)),
        "{p}"
    );
    assert!(p.message.contains(says), "{p}");
}

#[test]
fn a_valid_performance_case_loads() {
    let dir = suite_with_case("x/load.yaml", LOAD);
    let suite = suite::load(dir.path()).expect("loads");
    let case = suite.case("x.load").expect("the case");
    assert_eq!(
        case.performance.as_ref().map(|p| p.slo.as_str()),
        Some("interactive")
    );
}

#[test]
fn a_performance_case_naming_an_unknown_class_is_refused() {
    let dir = suite_with_case(
        "x/load.yaml",
        &LOAD.replace("slo: interactive", "slo: premium"),
    );
    let p = only_problem(&dir);
    problem_at(
        &p,
        "suites/x/load.yaml",
        5,
        "/performance/slo",
        "unknown service class \"premium\"; spec/slo/ has: batch, interactive, long-context",
    );
}

#[test]
fn a_performance_case_with_a_conformance_check_is_refused() {
    let dir = suite_with_case("x/load.yaml", &format!("{LOAD}  - status: 200\n"));
    let p = only_problem(&dir);
    problem_at(
        &p,
        "suites/x/load.yaml",
        13,
        "/checks/1",
        "status judges one exchange; a performance case has only slo_* checks",
    );
}

#[test]
fn a_conformance_case_with_an_slo_check_is_refused() {
    let dir = suite_with_case("x/good.yaml", &format!("{GOOD}  - slo_ttft\n"));
    let p = only_problem(&dir);
    problem_at(
        &p,
        "suites/x/good.yaml",
        8,
        "/checks/1",
        "slo_ttft judges a load; only a case with `performance` can use it",
    );
}

#[test]
fn a_check_needing_a_threshold_the_class_lacks_is_refused() {
    let text = LOAD
        .replace("slo: interactive", "slo: batch")
        .replace("slo_ttft", "slo_itl");
    let dir = suite_with_case("x/load.yaml", &text);
    let p = only_problem(&dir);
    problem_at(
        &p,
        "suites/x/load.yaml",
        12,
        "/checks/0",
        "slo_itl needs a threshold the batch profile does not set (spec/slo/batch.yaml)",
    );
}

#[test]
fn a_performance_case_with_a_request_is_refused() {
    let text = LOAD.replace(
        "description: d\n",
        "description: d\nrequest:\n  endpoint: models\n",
    );
    let dir = suite_with_case("x/load.yaml", &text);
    let p = only_problem(&dir);
    // The schema forbids the field; its message says only that.
    problem_at(&p, "suites/x/load.yaml", 4, "/request", "does not allow");
}

#[test]
fn an_invalid_workload_is_refused_at_the_workload() {
    let text = LOAD.replace("input: {fixed: 10}", "input: {uniform: {min: 10, max: 5}}");
    let dir = suite_with_case("x/load.yaml", &text);
    let p = only_problem(&dir);
    problem_at(
        &p,
        "suites/x/load.yaml",
        6,
        "/performance/workload",
        "input length: min 10 is greater than max 5",
    );
}

/// A suite holding only GOOD, with `edit` applied to `spec/slo/<name>.yaml`.
fn suite_with_profile(name: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = suite_with_case("x/good.yaml", GOOD);
    let path = dir.path().join(format!("spec/slo/{name}.yaml"));
    let text = std::fs::read_to_string(&path).expect("the profile reads");
    std::fs::write(&path, edit(text)).expect("write the profile");
    dir
}

#[test]
fn a_profile_named_unlike_its_file_is_refused() {
    let dir = suite_with_profile("batch", |t| t.replace("name: batch", "name: bulk"));
    let p = only_problem(&dir);
    problem_at(
        &p,
        "spec/slo/batch.yaml",
        1,
        "/name",
        "name \"bulk\" must equal the file name without .yaml",
    );
}

#[test]
fn a_profile_with_an_unknown_threshold_is_refused() {
    let dir = suite_with_profile("interactive", |t| {
        t.replace(
            "thresholds:\n",
            "thresholds:\n  e2e: {percentile: p95, max_ms: 9000}\n",
        )
    });
    let line = std::fs::read_to_string(dir.path().join("spec/slo/interactive.yaml"))
        .expect("reads")
        .lines()
        .position(|l| l == "thresholds:")
        .expect("a thresholds line")
        + 1;
    let p = only_problem(&dir);
    problem_at(&p, "spec/slo/interactive.yaml", line, "/thresholds", "e2e");
}
