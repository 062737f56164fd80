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
fn an_unknown_schema_inside_honoured_or_refused_is_refused() {
    let dir = suite_with_case(
        "x/good.yaml",
        &format!(
            "{GOOD}  - honoured_or_refused: [{{status: 200}}, {{json_schema: chat.completion}}, {{json_schema: chat.nothing}}]\n"
        ),
    );
    let p = only_problem(&dir);
    assert!(p.to_string().contains("\"chat.nothing\""), "{p}");
    assert_eq!(p.line, Some(8), "{p}");
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

// ---- hostile files: each refused before anything runs ---------------------------

/// Every problem loading `dir` gives.
fn problems_of(dir: &tempfile::TempDir) -> Vec<Problem> {
    match suite::load(dir.path()) {
        Ok(_) => panic!("the bad suite loaded"),
        Err(e) => e.problems,
    }
}

/// Loads the suite on a thread with the default 2 MiB test stack, so
/// that unbounded recursion overflows it rather than pass on a big stack.
fn problem_on_small_stack(dir: tempfile::TempDir) -> Problem {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || only_problem(&dir))
        .expect("spawn")
        .join()
        .expect("the loader did not overflow its stack")
}

/// Asserts a problem with the whole file (no line or field) saying `says`.
#[track_caller]
fn file_problem(p: &Problem, file: &str, says: &str) {
    assert_eq!(
        (p.file.as_path(), p.line, p.field.as_deref()),
        (Path::new(file), None, None),
        "{p}"
    );
    assert!(p.message.contains(says), "{p}");
}

const TOO_DEEP: &str = "nested deeper than 64 levels of sequences and mappings; refused";

#[test]
fn ten_thousand_nested_flow_sequences_are_refused_at_their_line() {
    let text = format!("{GOOD}extra: {}\n", "[".repeat(10_000));
    let p = problem_on_small_stack(suite_with_case("x/good.yaml", &text));
    assert_eq!(
        (p.file.as_path(), p.line),
        (Path::new("suites/x/good.yaml"), Some(8))
    );
    assert!(p.message.ends_with(TOO_DEEP), "{p}");
}

#[test]
fn ten_thousand_nested_flow_mappings_are_refused_at_their_line() {
    let text = format!("{GOOD}extra: {}\n", "{a: ".repeat(10_000));
    let p = problem_on_small_stack(suite_with_case("x/good.yaml", &text));
    assert_eq!(p.line, Some(8), "{p}");
    assert!(p.message.ends_with(TOO_DEEP), "{p}");
}

#[test]
fn ten_thousand_nested_block_sequences_are_refused_at_their_line() {
    let text = format!("{GOOD}extra:\n  {}x\n", "- ".repeat(10_000));
    let p = problem_on_small_stack(suite_with_case("x/good.yaml", &text));
    assert_eq!(p.line, Some(9), "{p}");
    assert!(p.message.ends_with(TOO_DEEP), "{p}");
}

#[test]
fn a_thousand_nested_block_mappings_are_refused_at_the_first_too_deep() {
    // 1,000 levels at one space each: 0.5 MB, under the size limit.
    let mut text = String::from(GOOD);
    for depth in 0..1000 {
        text.push_str(&" ".repeat(depth));
        text.push_str("a:\n");
    }
    let p = problem_on_small_stack(suite_with_case("x/good.yaml", &text));
    // The document is level 1, `a` at line 8 level 2: level 65 opens on line 71's value.
    assert_eq!(p.line, Some(72), "{p}");
    assert!(p.message.ends_with(TOO_DEEP), "{p}");
}

#[test]
fn a_duplicate_key_is_refused_at_the_second_key() {
    let dir = suite_with_case("x/good.yaml", &format!("{GOOD}id: x.good\n"));
    let p = only_problem(&dir);
    assert_eq!(p.line, Some(8), "{p}");
    assert!(
        p.message
            .ends_with("key \"id\" appears a second time in the same mapping; keep one"),
        "{p}"
    );
}

#[test]
fn a_duplicate_key_in_a_nested_mapping_is_refused_too() {
    let text = GOOD.replace(
        "  endpoint: models\n",
        "  endpoint: models\n  endpoint: chat\n",
    );
    let p = only_problem(&suite_with_case("x/good.yaml", &text));
    assert_eq!(p.line, Some(6), "{p}");
    assert!(
        p.message.contains("\"endpoint\" appears a second time"),
        "{p}"
    );
}

#[test]
fn a_check_repeated_exactly_is_refused_at_the_repeat() {
    let dir = suite_with_case("x/good.yaml", &format!("{GOOD}  - status: 200\n"));
    let p = only_problem(&dir);
    problem_at(
        &p,
        "suites/x/good.yaml",
        8,
        "/checks/1",
        "repeats check 0 (status) exactly; remove one",
    );
}

#[test]
fn an_empty_case_file_is_refused() {
    for text in ["", " \n\n"] {
        let p = only_problem(&suite_with_case("x/good.yaml", text));
        file_problem(&p, "suites/x/good.yaml", "is empty");
    }
}

#[test]
fn a_nul_byte_is_refused_at_its_line_and_column() {
    let dir = suite_with_case(
        "x/good.yaml",
        &GOOD.replace("description: d", "description: d\0e"),
    );
    let p = only_problem(&dir);
    assert_eq!(p.line, Some(3), "{p}");
    assert!(p.message.starts_with("column 15: "), "{p}");
}

#[test]
fn a_case_file_that_is_not_utf8_is_refused_at_the_bad_byte() {
    let dir = suite_with_case("x/good.yaml", GOOD);
    let mut bytes = GOOD.as_bytes().to_vec();
    bytes.splice(36..36, [0xff, 0xfe]);
    std::fs::write(dir.path().join("suites/x/good.yaml"), bytes).expect("write");
    let p = only_problem(&dir);
    assert_eq!((p.line, p.field.as_deref()), (Some(2), None), "{p}");
    assert!(
        p.message
            .contains("is not UTF-8: byte 0xff at offset 36 does not start a valid character"),
        "{p}"
    );
}

#[test]
fn a_clause_file_that_is_not_utf8_is_refused_at_the_bad_byte() {
    let dir = suite_with_case("x/good.yaml", GOOD);
    let path = dir.path().join("spec/clauses.yaml");
    let mut bytes = std::fs::read(&path).expect("clauses");
    let lines = bytes.iter().filter(|b| **b == b'\n').count();
    bytes.extend_from_slice(b"# caf\xe9\n");
    std::fs::write(&path, bytes).expect("write");
    let problems = problems_of(&dir);
    let p = &problems[0];
    assert_eq!(
        (p.file.as_path(), p.line),
        (Path::new("spec/clauses.yaml"), Some(lines + 1)),
        "{p}"
    );
    assert!(p.message.contains("is not UTF-8: byte 0xe9"), "{p}");
}

#[test]
fn a_huge_case_file_is_refused_unread_with_its_size_and_the_limit() {
    let dir = suite_with_case("x/good.yaml", GOOD);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("suites/x/good.yaml"))
        .expect("open");
    // Sparse: 50 MiB that cost no disk; reading them would show in the time.
    file.set_len(50 * 1024 * 1024).expect("grow");
    let start = std::time::Instant::now();
    let p = only_problem(&dir);
    let took = start.elapsed();
    file_problem(
        &p,
        "suites/x/good.yaml",
        "is 52428800 bytes, over the limit of 1048576 bytes (1 MiB) for one suite file; refused unread",
    );
    assert_eq!(suite::MAX_FILE_BYTES, 1024 * 1024);
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
}

#[test]
fn the_projects_files_are_well_under_the_size_and_depth_limits() {
    let mut largest = 0;
    let mut dirs = vec![repo_root().join("spec"), repo_root().join("suites")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).expect("lists").flatten() {
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                dirs.push(entry.path());
            } else {
                largest = largest.max(meta.len());
            }
        }
    }
    assert!(largest * 10 < suite::MAX_FILE_BYTES, "{largest} bytes");
    assert_eq!(suite::MAX_DEPTH, 64);
}

#[test]
fn a_file_name_with_a_dot_is_refused_as_it_would_duplicate_an_id() {
    // Ids are paths with dots for slashes, so `x.good.yaml` would claim the
    // id of `x/good.yaml`. Ids are lower case (the schema's pattern) and
    // links are refused, so dotted names are the one way two files could
    // carry one id; with them refused, an id names exactly one file.
    let dir = suite_with_case("x/good.yaml", GOOD);
    std::fs::write(dir.path().join("suites/x.good.yaml"), GOOD).expect("write");
    let p = only_problem(&dir);
    file_problem(
        &p,
        "suites/x.good.yaml",
        "\"x.good\" contains '.', which separates the parts of a case id: this file would claim id \"x.good\" like suites/x/good.yaml",
    );
}

#[test]
fn a_file_named_in_capitals_cannot_share_an_id() {
    let dir = suite_with_case("X/Good.yaml", GOOD);
    let p = only_problem(&dir);
    assert!(
        p.message.contains("must equal the file's path: \"X.Good\""),
        "{p}"
    );
}

#[cfg(unix)]
#[test]
fn links_to_files_to_directories_and_in_loops_are_refused_unfollowed() {
    let dir = suite_with_case("x/good.yaml", GOOD);
    let suites = dir.path().join("suites");
    let link = std::os::unix::fs::symlink;
    link("good.yaml", suites.join("x/copy.yaml")).expect("symlink");
    link("x", suites.join("y")).expect("symlink");
    link("loop.yaml", suites.join("x/loop.yaml")).expect("symlink");
    link("/dev/zero", suites.join("x/zero.yaml")).expect("symlink");
    link("../../spec", dir.path().join("spec/schemas/up")).expect("symlink");
    let mut problems = problems_of(&dir);
    problems.sort_by(|a, b| a.file.cmp(&b.file));
    let files: Vec<&Path> = problems.iter().map(|p| p.file.as_path()).collect();
    assert_eq!(
        files,
        [
            "spec/schemas/up",
            "suites/x/copy.yaml",
            "suites/x/loop.yaml",
            "suites/x/zero.yaml",
            "suites/y"
        ]
        .map(Path::new)
    );
    for p in &problems {
        assert!(
            p.message
                .starts_with("is a symbolic link; a suite holds plain files only"),
            "{p}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_pipe_named_like_a_case_is_refused_unopened() {
    let dir = suite_with_case("x/good.yaml", GOOD);
    let fifo = dir.path().join("suites/x/pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    // Opening a pipe with no writer would block forever.
    let p = only_problem(&dir);
    file_problem(
        &p,
        "suites/x/pipe.yaml",
        "is not a regular file or directory",
    );
}

#[test]
fn a_directory_where_the_clause_file_should_be_is_refused() {
    let dir = suite_with_case("x/good.yaml", GOOD);
    std::fs::remove_file(dir.path().join("spec/clauses.yaml")).expect("rm");
    std::fs::create_dir(dir.path().join("spec/clauses.yaml")).expect("mkdir");
    let problems = problems_of(&dir);
    file_problem(
        &problems[0],
        "spec/clauses.yaml",
        "is a directory, not a file",
    );
}

#[test]
fn a_case_linking_a_clause_the_clause_file_lacks_is_refused() {
    // an_unknown_clause_is_refused covers a clause that never existed; this
    // one is in the real suite, removed from the registry.
    let dir = suite_with_case("x/good.yaml", GOOD);
    let path = dir.path().join("spec/clauses.yaml");
    let text = std::fs::read_to_string(&path).expect("clauses");
    let start = text
        .find("  - id: TS-API-MODELS-LIST\n")
        .expect("the clause");
    let end = text[start + 1..]
        .find("  - id: ")
        .map_or(text.len(), |i| start + 1 + i);
    std::fs::write(&path, format!("{}{}", &text[..start], &text[end..])).expect("write");
    let p = only_problem(&dir);
    problem_at(
        &p,
        "suites/x/good.yaml",
        2,
        "/clause",
        "links unknown clause TS-API-MODELS-LIST",
    );
}

// ---- target profiles -----------------------------------------------------------

/// Writes a target profile and loads it.
fn profile_problem(text: &[u8]) -> Problem {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("target.yaml");
    std::fs::write(&path, text).expect("write");
    let p = suite::load_profile(&path).expect_err("the bad profile loaded");
    assert_eq!(p.file, path);
    p
}

#[test]
fn the_projects_target_profiles_load() {
    let dir = repo_root().join("suites/targets");
    for entry in std::fs::read_dir(dir).expect("lists").flatten() {
        suite::load_profile(&entry.path()).expect("a shipped profile loads");
    }
}

#[test]
fn a_bad_target_profile_is_refused_at_its_line() {
    let good = "name: t\ndescription: d\nlimits:\n  max_context_tokens: 8192\n";
    let p = profile_problem(good.replace("8192", "lots").as_bytes());
    let field = (p.line, p.field.as_deref());
    assert_eq!(field, (Some(4), Some("/limits/max_context_tokens")), "{p}");
    assert!(p.message.contains("invalid u64"), "{p}");

    let p = profile_problem(format!("{good}flavour: mint\n").as_bytes());
    assert_eq!(
        (p.line, p.field.as_deref()),
        (Some(5), Some("/flavour")),
        "{p}"
    );
    assert!(p.message.contains("flavour"), "{p}");

    let p = profile_problem(format!("{good}name: u\n").as_bytes());
    assert_eq!(p.line, Some(5), "{p}");
    assert!(p.message.contains("\"name\" appears a second time"), "{p}");

    let p = profile_problem(b"name: t\ndescription: caf\xe9\n");
    assert_eq!(p.line, Some(2), "{p}");
    assert!(p.message.contains("not UTF-8"), "{p}");

    let p = profile_problem(b"");
    assert!(p.message.contains("is empty"), "{p}");
}

#[cfg(unix)]
#[test]
fn a_target_profile_that_is_a_device_is_refused_unread() {
    let p = suite::load_profile(Path::new("/dev/zero")).expect_err("a device is no profile");
    assert!(p.message.contains("not a regular file"), "{p}");
}

// ---- one case file checked in memory ----------------------------------------

#[test]
fn a_case_checked_in_memory_gets_what_loading_it_from_disk_gets() {
    let project = suite::load(&repo_root()).expect("the project's suite is valid");
    let loader = project.case_loader();
    let files: [(&str, Vec<u8>); 11] = [
        ("x/good.yaml", GOOD.as_bytes().to_vec()),
        ("x.y/good.yaml", GOOD.as_bytes().to_vec()),
        ("x/load.yaml", LOAD.as_bytes().to_vec()),
        (
            "x/good.yaml",
            GOOD.replace("status: 200", "status: ok")
                .as_bytes()
                .to_vec(),
        ),
        ("x/other.yaml", GOOD.as_bytes().to_vec()),
        (
            "x/good.yaml",
            GOOD.replace("TS-API", "TS-NONE").as_bytes().to_vec(),
        ),
        (
            "x/load.yaml",
            LOAD.replace("interactive", "premium").as_bytes().to_vec(),
        ),
        (
            "x/good.yaml",
            format!("{GOOD}  - json_schema: nope\n  - status: 200\n")
                .as_bytes()
                .to_vec(),
        ),
        ("x/good.yaml", "id: [unclosed\n".as_bytes().to_vec()),
        (
            "x/good.yaml",
            b"id: x.good\ndescription: caf\xe9\n".to_vec(),
        ),
        ("x/good.yaml", b" \n".to_vec()),
    ];
    for (rel, bytes) in files {
        let dir = suite_with_case(rel, "");
        let rel = Path::new("suites").join(rel);
        std::fs::write(dir.path().join(&rel), &bytes).expect("write case");
        let from_disk = suite::load(dir.path()).map(|s| s.cases[0].id.clone());
        let in_memory = loader.case(&rel, &bytes).map(|c| c.id);
        assert_eq!(
            in_memory,
            from_disk.map_err(|e| e.problems),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn a_clause_file_parsed_in_memory_gets_what_loading_it_gets() {
    let text = std::fs::read_to_string(repo_root().join("spec/clauses.yaml")).expect("clauses");
    let clauses = suite::parse_clauses(text.as_bytes()).expect("the project's clauses parse");
    assert_eq!(
        clauses.len(),
        suite::load(&repo_root()).expect("loads").clauses.len()
    );
    let bad = format!(
        "{text}  - id: ts-lower-case\n    level: MUST\n    title: t\n    text: t\n    rationale: r\n"
    );
    let problems = suite::parse_clauses(bad.as_bytes()).expect_err("a bad id is refused");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].to_string().starts_with("spec/clauses.yaml:"),
        "{}",
        problems[0]
    );
}
