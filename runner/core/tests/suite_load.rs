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
