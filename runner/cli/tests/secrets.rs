//! The API key never leaves the process except in the Authorization header:
//! no line `tokencert` prints and no file it writes holds it, whether the
//! run passes, is refused by the target (wrong key), cannot reach it, or is
//! a load. Only loopback targets, started here.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{KillOnDrop, files_containing, serve, text};

/// The key the service expects.
const KEY: &str = "sk-tokencert-leak-probe-7c1d9e0b2a4f6813";
/// A key the service refuses.
const WRONG_KEY: &str = "sk-tokencert-leak-probe-wrong-33a9e1d27b";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// `tokencert args` with `key` in OPENAI_API_KEY, from the repository root.
fn with_key(args: &[&str], key: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(args)
        .current_dir(repo_root())
        .env("OPENAI_API_KEY", key)
        .env_remove("TOKENCERT_SIGNING_KEY")
        .env_remove("TOKENCERT_BASE_URL")
        .env_remove("TOKENCERT_MODEL")
        .output()
        .expect("tokencert runs")
}

/// Neither stream of any output nor any file under `dir` holds `key`.
fn assert_nowhere(key: &str, dir: &Path, outputs: &[(&str, &Output)]) {
    for (what, output) in outputs {
        for stream in [&output.stdout, &output.stderr] {
            assert!(!text(stream).contains(key), "{what} printed the key");
        }
    }
    assert_eq!(files_containing(dir, key.as_bytes()), Vec::<PathBuf>::new());
}

/// The reference service on loopback, expecting [`KEY`].
fn keyed_service() -> (KillOnDrop, String) {
    serve(
        &["--api-key-env", "LEAK_PROBE_KEY"],
        &[("LEAK_PROBE_KEY", KEY)],
    )
}

/// The bundle path a run prints.
fn bundle_of(run: &Output) -> PathBuf {
    text(&run.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("bundle: ").map(PathBuf::from))
        .unwrap_or_else(|| panic!("no bundle path in {}", text(&run.stdout)))
}

#[test]
fn the_key_appears_in_no_output_of_a_run_its_report_or_verify() {
    let (server, url) = keyed_service();
    let out = tempfile::tempdir().expect("temp dir");
    let profile = repo_root().join("suites/targets/reference.yaml");
    let run = with_key(
        &[
            "run",
            "--target",
            &url,
            "--profile",
            path_arg(&profile),
            "--out",
            path_arg(out.path()),
        ],
        KEY,
    );
    drop(server);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let bundle = bundle_of(&run);
    let report = with_key(&["report", path_arg(&bundle)], KEY);
    let verify = with_key(&["verify", path_arg(&bundle)], KEY);
    for (what, output) in [("report", &report), ("verify", &verify)] {
        assert!(output.status.success(), "{what}: {}", text(&output.stderr));
    }
    assert_nowhere(
        KEY,
        out.path(),
        &[("run", &run), ("report", &report), ("verify", &verify)],
    );
    // The key was presented (as a bearer key and without a scheme) and
    // redacted where the evidence records it.
    assert!(!files_containing(&bundle, b"[REDACTED]").is_empty());
}

#[test]
fn a_refused_key_and_an_unreachable_target_leak_nothing_either() {
    let (server, url) = keyed_service();
    let out = tempfile::tempdir().expect("temp dir");
    let run_with_wrong_key = || {
        with_key(
            &[
                "run",
                "--target",
                &url,
                "--model",
                "tokencert-reference",
                "--out",
                path_arg(out.path()),
            ],
            WRONG_KEY,
        )
    };
    let refused = run_with_wrong_key();
    drop(server);
    // Every case meets a 401: the run does not conform, and says why.
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    let said = format!("{}{}", text(&refused.stdout), text(&refused.stderr));
    assert!(said.contains("401"), "{said}");
    // The same port, now closed: every case is an error naming the connection.
    let gone = run_with_wrong_key();
    assert_ne!(gone.status.code(), Some(0), "{}", text(&gone.stderr));
    let report = with_key(&["report", path_arg(&bundle_of(&refused))], WRONG_KEY);
    assert_nowhere(
        WRONG_KEY,
        out.path(),
        &[
            ("refused run", &refused),
            ("unreachable run", &gone),
            ("report", &report),
        ],
    );
}

#[test]
fn a_load_and_a_soak_leak_nothing() {
    let (server, url) = keyed_service();
    let out = tempfile::tempdir().expect("temp dir");
    let target = [
        "--target",
        url.as_str(),
        "--model",
        "tokencert-reference-capacity",
        "--input",
        "50",
        "--output",
        "8",
        "--out",
        path_arg(out.path()),
    ];
    let load = with_key(
        &[&["load", "--requests", "6", "--users", "2"][..], &target].concat(),
        KEY,
    );
    let soak = with_key(
        &[
            &["soak", "--duration", "1s", "--window", "500ms"][..],
            &target,
        ]
        .concat(),
        KEY,
    );
    drop(server);
    let stdout = text(&load.stdout);
    assert!(load.status.success(), "{stdout}{}", text(&load.stderr));
    assert!(
        stdout.contains("6 planned, 6 sent, 6 ok, 0 errors"),
        "{stdout}"
    );
    assert!(soak.status.success(), "{}", text(&soak.stderr));
    assert_nowhere(KEY, out.path(), &[("load", &load), ("soak", &soak)]);
}

#[test]
fn an_observatory_leaks_nothing_into_its_output_ledger_or_export() {
    let (server, url) = keyed_service();
    let out = tempfile::tempdir().expect("temp dir");
    let config = out.path().join("observatory.yaml");
    std::fs::write(
        &config,
        format!(
            "observer: leak-probe\nlocation: loopback\ntargets:\n  - name: keyed\n    base_url: {url}\n    profile: {}\n    api_key_env: LEAK_PROBE_KEY\n    budget: {{requests_per_hour: 1000, requests_per_day: 1000, tokens_per_hour: 100000, tokens_per_day: 100000}}\nprobes:\n  - name: auth\n    cases: [api.models, sec.auth, sec.key-echo]\n    every: 1h\n",
            path_arg(&repo_root().join("suites/targets/reference.yaml"))
        ),
    )
    .expect("write the config");
    let ledger = out.path().join("ledger");
    let observe = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(["observe", "--config", path_arg(&config), "--cycles", "1"])
        .args(["--ledger", path_arg(&ledger)])
        .current_dir(repo_root())
        .env("LEAK_PROBE_KEY", KEY)
        .env_remove("TOKENCERT_SIGNING_KEY")
        .env_remove("TOKENCERT_LEDGER")
        .output()
        .expect("tokencert runs");
    drop(server);
    let stdout = text(&observe.stdout);
    assert!(
        observe.status.success(),
        "{stdout}{}",
        text(&observe.stderr)
    );
    // One line for the one probe, with its verdicts and bundle.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(lines[0].contains("keyed auth: CONFORMS"), "{stdout}");
    assert!(lines[0].contains("bundle "), "{stdout}");
    // The dashboard's static export: pages, JSON, metrics and bundles.
    let export = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(["ledger", "export", "--ledger", path_arg(&ledger)])
        .args(["--out", path_arg(&out.path().join("site"))])
        .current_dir(repo_root())
        .output()
        .expect("tokencert runs");
    assert!(export.status.success(), "{}", text(&export.stderr));
    assert_nowhere(
        KEY,
        out.path(),
        &[("observe", &observe), ("ledger export", &export)],
    );
    assert!(!files_containing(&ledger, b"[REDACTED]").is_empty());
}
