//! `observatory.yaml`: a valid file loads; each kind of mistake is
//! reported with the file, the line and the field, and a key never shows.

mod common;

use std::path::Path;

use common::{BUDGET, KEY_VAR, reference_profile, small_suite, target, write_config};
use tokencert_core::suite::Problem;
use tokencert_observatory::schedule::Schedule;
use tokencert_observatory::{Error, Observatory, load};

const PROBES: &str = "probes:\n  - name: conformance\n    cases: [api.models]\n    every: 15m\n    jitter: 20%\n  - name: latency\n    cases: [perf.chat]\n    at: [\"14:40\", \"02:10\"]\n";

fn header() -> String {
    "observer: acme\nlocation: eu-west, fibre\nseed: 7\ntargets:\n".to_string()
}

/// The problems loading `text` gives (the config must be invalid).
fn problems(dir: &Path, text: &str) -> Vec<Problem> {
    let suite = small_suite(&dir.join("suite"));
    let path = write_config(dir, text);
    match load(&path, &suite) {
        Err(Error::Config { file, problems }) => {
            assert_eq!(file, path);
            assert!(problems.iter().all(|p| p.file == path), "{problems:?}");
            problems
        }
        Err(e) => panic!("expected config problems, got {e}"),
        Ok(_) => panic!("the config loaded:\n{text}"),
    }
}

/// The one problem at `field`, which must be on `line`.
fn problem_at(problems: &[Problem], field: &str, line: usize) -> String {
    let found: Vec<&Problem> = problems
        .iter()
        .filter(|p| p.field.as_deref() == Some(field))
        .collect();
    assert_eq!(found.len(), 1, "one problem at {field}: {problems:?}");
    assert_eq!(found[0].line, Some(line), "{}", found[0]);
    found[0].to_string()
}

#[test]
fn a_valid_config_loads_with_its_schedules_budgets_and_profiles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let text = format!(
        "{}{}  - name: local\n    base_url: http://127.0.0.1:9/v1\n    model: m\n    probes: [conformance]\n{BUDGET}{PROBES}",
        header(),
        target("reference", "http://127.0.0.1:8/v1"),
    );
    let config = load(&write_config(dir.path(), &text), &suite).expect("the config loads");
    assert_eq!(config.observer, "acme");
    assert_eq!(config.location, "eu-west, fibre");
    assert_eq!(config.seed, 7);
    assert_eq!(
        config.probes[0].schedule,
        Schedule::Every {
            interval: 900,
            jitter_percent: 20
        }
    );
    assert_eq!(
        config.probes[1].schedule,
        Schedule::At {
            times: vec![7800, 52_800]
        }
    );
    let [reference, local] = &config.targets[..] else {
        panic!("two targets")
    };
    assert_eq!(reference.probes, vec![0, 1], "every probe by default");
    assert_eq!(local.probes, vec![0]);
    assert_eq!(reference.api_key_env.as_deref(), Some(KEY_VAR));
    assert_eq!(reference.timeout.as_secs(), 5);
    assert_eq!(local.timeout.as_secs(), 30);
    let profile = reference.profile.as_ref().expect("the profile is loaded");
    assert_eq!(profile.model.as_deref(), Some("tokencert-reference"));
    assert_eq!(local.budget.tokens_per_day, 100_000_000);
    assert_eq!(config.probes[1].select(&suite).len(), 1);
    assert_eq!(config.probes[0].select(&suite).len(), 4);
}

#[test]
fn schema_violations_name_the_line_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "{}{}probes:\n  - name: conformance\n    cases: [api.models]\n    every: 15m\n    jitter: 60%\n",
        header(),
        target("reference", "http://127.0.0.1:8/v1"),
    );
    let found = problems(dir.path(), &text);
    let shown = problem_at(&found, "/probes/0/jitter", 15);
    assert!(
        shown.contains("observatory.yaml:15: field /probes/0/jitter"),
        "{shown}"
    );
}

#[test]
fn a_key_in_the_file_is_refused_without_repeating_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "{}  - name: vendor\n    base_url: https://api.example.com/v1\n    model: m\n    api_key: sk-live-9a8b7c\n{BUDGET}{PROBES}",
        header()
    );
    let found = problems(dir.path(), &text);
    let shown = problem_at(&found, "/targets/0", 5);
    assert!(shown.contains("api_key"), "{shown}");
    assert!(!shown.contains("sk-live"), "{shown}");
    // The variable's name must look like one, not like a key.
    let text = text.replace("api_key: sk-live-9a8b7c", "api_key_env: sk-live-9a8b7c");
    let found = problems(dir.path(), &text);
    problem_at(&found, "/targets/0/api_key_env", 8);
}

#[test]
fn a_target_without_a_budget_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "{}  - name: vendor\n    base_url: https://api.example.com/v1\n    model: m\n{PROBES}",
        header()
    );
    let found = problems(dir.path(), &text);
    let shown = problem_at(&found, "/targets/0", 5);
    assert!(shown.contains("budget"), "{shown}");
}

#[test]
fn plain_http_beyond_this_machine_needs_allow_insecure_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = format!(
        "{}  - name: vendor\n    base_url: http://api.example.com/v1\n    model: m\n{BUDGET}{PROBES}",
        header()
    );
    let found = problems(dir.path(), &remote);
    let shown = problem_at(&found, "/targets/0/base_url", 6);
    assert!(shown.contains("allow_insecure_http: true"), "{shown}");
    let allowed = remote.replace(
        "    model: m\n",
        "    model: m\n    allow_insecure_http: true\n",
    );
    let suite = small_suite(&dir.path().join("suite2"));
    load(&write_config(dir.path(), &allowed), &suite).expect("allowed explicitly");
}

#[test]
fn names_probes_filters_and_models_are_checked_against_the_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "{}{}{}  - name: nomodel\n    base_url: https://api.example.com/v1\n    probes: [conformance, nightly]\n{BUDGET}probes:\n  - name: conformance\n    cases: [api.models, api.chat.no-such-case]\n    every: 1h\n  - name: conformance\n    cases: [perf]\n    every: 1h\n",
        header(),
        target("twin", "http://127.0.0.1:8/v1"),
        target("twin", "http://127.0.0.1:8/v1"),
    );
    let found = problems(dir.path(), &text);
    // Lines: 1-4 header; twin at 5-10, again at 11-16; nomodel at 17-20;
    // the probes from 21.
    let shown = problem_at(&found, "/probes/0/cases/1", 23);
    assert!(
        shown.contains("no case id contains \"api.chat.no-such-case\""),
        "{shown}"
    );
    problem_at(&found, "/probes/1/name", 25);
    problem_at(&found, "/targets/1/name", 11);
    let shown = problem_at(&found, "/targets/1/base_url", 12);
    assert!(shown.contains("another target already probes"), "{shown}");
    let shown = problem_at(&found, "/targets/2/probes/1", 19);
    assert!(shown.contains("no probe is named \"nightly\""), "{shown}");
    let shown = problem_at(&found, "/targets/2/model", 17);
    assert!(shown.contains("no model to probe"), "{shown}");
}

#[test]
fn a_profile_that_cannot_be_loaded_is_reported_at_the_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("broken.yaml"),
        "name: b\nclaims: [teleport]\n",
    )
    .expect("write");
    let text = format!(
        "{}  - name: vendor\n    base_url: https://api.example.com/v1\n    profile: broken.yaml\n{BUDGET}{PROBES}",
        header()
    );
    let found = problems(dir.path(), &text);
    let shown = problem_at(&found, "/targets/0/profile", 7);
    assert!(shown.contains("broken.yaml"), "{shown}");
}

#[test]
fn yaml_syntax_errors_name_their_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!("{}  - name: [unclosed\n", header());
    let found = problems(dir.path(), &text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].line.is_some_and(|l| l >= 5), "{}", found[0]);
}

#[test]
fn a_missing_key_variable_stops_the_start_naming_the_variable_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let text = format!(
        "{}{}{PROBES}",
        header(),
        target("reference", "http://127.0.0.1:8/v1")
    );
    let config = load(&write_config(dir.path(), &text), &suite).expect("loads");
    let refused = Observatory::new(config.clone(), suite.clone(), |_| Some(String::new()))
        .err()
        .expect("an empty variable is refused");
    let shown = refused.to_string();
    assert!(
        shown.contains(KEY_VAR) && shown.contains("reference"),
        "{shown}"
    );
    let observatory = Observatory::new(config, suite, common::keys).expect("the key is there");
    let estimates = observatory.estimates();
    assert_eq!(estimates.len(), 2);
    // Four listings cost four requests and no tokens; the load six requests
    // of 100 prompt tokens (plus the chat template's) and 16 completion tokens.
    assert_eq!((estimates[0].2.requests, estimates[0].2.tokens), (4, 0));
    assert_eq!(estimates[1].2.requests, 6);
    assert_eq!(estimates[1].2.tokens, 6 * (100 + 3 + 3 + 16));
    let _ = reference_profile();
}

/// The example in docs/observatory.md loads against the real suite, and
/// every probe's cost can be estimated.
#[test]
fn the_documented_example_loads() {
    let doc = std::fs::read_to_string(common::repo().join("docs/observatory.md"))
        .expect("docs/observatory.md");
    let example = doc
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a yaml block");
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = common::repo().join("suites/targets/reference.yaml");
    for rel in ["profiles/vendor-a.yaml", "suites/targets/reference.yaml"] {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(&profile, &path).expect("copy the profile");
    }
    let suite =
        std::sync::Arc::new(tokencert_core::suite::load(&common::repo()).expect("the suite loads"));
    let config = load(&write_config(dir.path(), example), &suite).expect("the example loads");
    assert_eq!(config.targets.len(), 3);
    assert_eq!(config.probes.len(), 4);
    assert!(config.probes[3].fingerprint.is_some(), "the identity probe");
    let observatory =
        Observatory::new(config, suite, |_| Some("k".into())).expect("every target is ready");
    let estimates = observatory.estimates();
    assert_eq!(estimates.len(), 4 + 1 + 4);
    let probes = suite_probes(&common::repo());
    assert!(
        estimates
            .iter()
            .filter(|(_, probe, _)| *probe == "identity")
            .all(|(_, _, cost)| cost.requests == probes),
        "a fingerprint costs one request per probe: {estimates:?}"
    );
    assert!(
        estimates.iter().all(|(_, _, cost)| cost.requests > 0),
        "{estimates:?}"
    );
}

/// Requests in the suite's fingerprint probe set (with logprobs).
fn suite_probes(root: &Path) -> u64 {
    tokencert_core::suite::load(root)
        .expect("the suite loads")
        .probe_set
        .map_or(0, |set| set.cases(true).len() as u64)
}
