//! The `tokencert` binary end to end: the main job writes a bundle that
//! verifies, and each kind of tampering is caught with its own exit status
//! and a message naming the file or case; signed bundles verify with their
//! key (and with openssl) and with no other.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::{KillOnDrop, files_containing, serve};

fn tokencert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("TOKENCERT_BASE_URL")
        .env_remove("TOKENCERT_MODEL")
        .env_remove("TOKENCERT_SUITE")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("TOKENCERT_SIGNING_KEY")
        .output()
        .expect("tokencert runs")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory for this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// One bundle from the main job, made once and copied by each test.
fn main_job_bundle() -> &'static Path {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let out = scratch("main-job");
        let run = tokencert(&["run", "--out", out.to_str().expect("utf-8 path")]);
        let stdout = text(&run.stdout);
        assert!(
            run.status.success(),
            "run failed: {stdout}\n{}",
            text(&run.stderr)
        );
        assert!(stdout.contains("CONFORMS"), "{stdout}");
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("bundle: "))
            .expect("prints the bundle path");
        PathBuf::from(line)
    })
}

fn copy_of_bundle(name: &str) -> PathBuf {
    let to = scratch(name).join("bundle");
    copy_dir(main_job_bundle(), &to);
    to
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// `tokencert verify` ends with this exit status and a message containing
/// `says`; returns all it printed.
fn expect_verify(bundle: &Path, extra: &[&str], status: i32, says: &str) -> String {
    let mut args = vec!["verify", bundle.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    let out = tokencert(&args);
    let output = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(status), "{output}");
    assert!(output.contains(says), "expected {says:?} in: {output}");
    output
}

#[test]
fn the_main_job_bundle_verifies() {
    let output = expect_verify(main_job_bundle(), &[], 0, "re-judged byte-identical");
    assert!(
        output.contains("unsigned: this bundle carries no signature"),
        "{output}"
    );
}

#[test]
fn flipping_one_byte_of_evidence_names_the_file() {
    let bundle = copy_of_bundle("flip");
    let file = bundle.join("evidence/api.chat.stream.done.jsonl");
    let mut bytes = std::fs::read(&file).expect("evidence");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&file, bytes).expect("write");
    expect_verify(
        &bundle,
        &[],
        3,
        "evidence/api.chat.stream.done.jsonl has been modified",
    );
}

#[test]
fn editing_results_is_caught_by_digest_and_by_rejudging() {
    let bundle = copy_of_bundle("results");
    let path = bundle.join("results.json");
    let original = std::fs::read_to_string(&path).expect("results");
    let mut results: serde_json::Value = serde_json::from_str(&original).expect("json");
    let case = results["cases"]
        .as_array_mut()
        .expect("cases")
        .iter_mut()
        .find(|c| c["id"] == "api.models.list")
        .expect("the case is there");
    case["verdict"] = "fail".into();
    std::fs::write(
        &path,
        tokencert_core::canonical::to_vec(&results).expect("canonical"),
    )
    .expect("write");

    expect_verify(&bundle, &[], 3, "results.json has been modified");

    // A forger who also rewrites the manifest is caught by re-judging.
    tokencert_core::bundle::write_manifest(&bundle).expect("manifest");
    expect_verify(
        &bundle,
        &[],
        5,
        "case api.models.list is recorded as fail but re-judges as pass",
    );
}

#[test]
fn an_unlisted_file_is_refused() {
    let bundle = copy_of_bundle("unlisted");
    std::fs::write(bundle.join("evidence/extra.jsonl"), "{}\n").expect("write");
    expect_verify(
        &bundle,
        &[],
        3,
        "evidence/extra.jsonl is in the bundle but not in the manifest",
    );
}

#[test]
fn a_bundle_of_another_suite_is_refused() {
    let bundle = main_job_bundle();
    let other = scratch("other-suite");
    copy_dir(&repo_root().join("spec"), &other.join("spec"));
    copy_dir(&repo_root().join("suites"), &other.join("suites"));
    let case = other.join("suites/api/models/list.yaml");
    let edited = std::fs::read_to_string(&case)
        .expect("case")
        .replace("description: ", "description: Edited. ");
    std::fs::write(&case, edited).expect("write");
    expect_verify(
        bundle,
        &["--suite", other.to_str().expect("utf-8 path")],
        4,
        "was judged with suite sha256:",
    );
}

#[test]
fn a_mutant_fails_the_run_and_names_its_cases() {
    let out = scratch("mutant");
    let run = tokencert(&[
        "run",
        "--mutant",
        "stream-no-done",
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("FAIL    api.chat.stream.done [MUST TS-API-STREAM-DONE]"),
        "{stderr}"
    );
    assert!(text(&run.stdout).contains("DOES NOT CONFORM"));
}

#[test]
fn the_suite_digest_can_be_recomputed_with_coreutils() {
    let script = "find spec suites -type f | LC_ALL=C sort | xargs sha256sum | sha256sum";
    let Ok(out) = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(repo_root())
        .output()
    else {
        eprintln!("skipped: no sh to run {script}");
        return;
    };
    if !out.status.success() {
        eprintln!("skipped: sha256sum is not available");
        return;
    }
    let hex = text(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let suite = tokencert_core::suite::load(&repo_root()).expect("suite");
    assert_eq!(suite.digest, format!("sha256:{hex}"));
}

#[test]
fn list_coverage_reports_every_must_clause_covered() {
    let out = tokencert(&["list", "--coverage"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("every MUST clause has at least one case"));
}

#[test]
fn an_invalid_suite_stops_the_run_naming_file_line_and_field() {
    let root = scratch("bad-suite");
    copy_dir(&repo_root().join("spec"), &root.join("spec"));
    copy_dir(&repo_root().join("suites"), &root.join("suites"));
    let case = root.join("suites/api/models/list.yaml");
    let edited = std::fs::read_to_string(&case)
        .expect("case")
        .replace("status: 200", "status: twohundred");
    std::fs::write(&case, edited).expect("write");
    let out = tokencert(&[
        "run",
        "--suite",
        root.to_str().expect("utf-8 path"),
        "--out",
        root.join("out").to_str().expect("utf-8 path"),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("suites/api/models/list.yaml:7: field /checks/0/status: \"twohundred\" is not of type \"integer\""),
        "{stderr}"
    );
    assert!(!root.join("out").exists(), "nothing ran");
}

#[test]
fn a_remote_target_without_a_model_is_a_clear_error() {
    let out = tokencert(&[
        "run",
        "--target",
        "http://127.0.0.1:9/v1",
        "--out",
        scratch("no-model").to_str().expect("utf-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no model to test"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn serve_then_run_against_it_as_a_remote_target() {
    let (server, url) = serve(&["--mutant", "stream-no-done"], &[]);

    let out = scratch("remote");
    let run = tokencert(&[
        "run",
        "--target",
        &url,
        "--model",
        "tokencert-reference",
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    drop(server);
    let stdout = text(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(1),
        "the mutant fails the run: {stdout}\n{}",
        text(&run.stderr)
    );
    // Exactly the cases of the mutant's clause fail; without a key or a
    // profile the target claims nothing, so optional-feature cases are not
    // claimed.
    let stderr = text(&run.stderr);
    let failing: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("FAIL") || l.starts_with("ERROR"))
        .collect();
    assert!(!failing.is_empty(), "{stderr}");
    assert!(
        failing.iter().all(|l| l.contains("TS-API-STREAM-DONE")),
        "{failing:#?}"
    );
    assert!(stderr.contains("NOT_CLAIMED"), "{stderr}");
}

#[test]
fn a_manifest_naming_a_path_outside_the_bundle_is_refused() {
    let bundle = copy_of_bundle("traversal");
    let path = bundle.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("manifest")).expect("json");
    manifest["files"]["../outside.json"] = "sha256:00".into();
    std::fs::write(
        &path,
        tokencert_core::canonical::to_vec(&manifest).expect("canonical"),
    )
    .expect("write");
    expect_verify(
        &bundle,
        &[],
        3,
        "\"../outside.json\", which is not a plain path inside the bundle",
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_in_the_bundle_is_refused() {
    let bundle = copy_of_bundle("symlink");
    std::os::unix::fs::symlink("/etc/hostname", bundle.join("evidence/link.jsonl"))
        .expect("symlink");
    expect_verify(
        &bundle,
        &[],
        3,
        "evidence/link.jsonl is not a plain file or directory",
    );
}

#[test]
fn a_directory_that_is_not_a_bundle_is_a_clear_error() {
    let empty = scratch("not-a-bundle");
    expect_verify(&empty, &[], 2, "manifest.json");
}

#[test]
fn a_killed_run_keeps_readable_evidence() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let endless = runtime
        .block_on(tokencert_reference::hostile::start(
            tokencert_reference::hostile::Fault::Endless,
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ))
        .expect("hostile server starts");
    let out = scratch("killed");
    let child = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args([
            "run",
            "--target",
            &endless.base_url(),
            "--model",
            "m",
            "--timeout",
            "60",
        ])
        .args(["--out", out.to_str().expect("utf-8 path")])
        .current_dir(repo_root())
        .env_remove("OPENAI_API_KEY")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run starts");
    let mut run = KillOnDrop(child);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    run.0.kill().expect("SIGKILL");
    let _ = run.0.wait();
    drop(endless);

    let bundle = std::fs::read_dir(&out)
        .expect("out dir")
        .flatten()
        .next()
        .expect("a bundle dir")
        .path();
    assert!(
        bundle.join("run.json").is_file(),
        "run.json is written first"
    );
    assert!(
        !bundle.join("manifest.json").exists(),
        "the run never finished"
    );
    let mut streamed = 0;
    for entry in std::fs::read_dir(bundle.join("evidence"))
        .expect("evidence dir")
        .flatten()
    {
        let exchange = tokencert_core::evidence::read_exchanges(&entry.path())
            .unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()))
            .pop()
            .expect("one exchange");
        assert!(
            exchange
                .incomplete()
                .is_some_and(|why| why.contains("recording ends"))
        );
        streamed += usize::from(!exchange.chunks.is_empty());
    }
    assert!(streamed > 0, "some chunks were recorded before the kill");

    let explained = tokencert(&["verify", "--partial", path_arg(&bundle)]);
    let stdout = text(&explained.stdout);
    assert_eq!(
        explained.status.code(),
        Some(8),
        "{stdout}{}",
        text(&explained.stderr)
    );
    for expected in [
        "never finished",
        "cut short",
        "never started",
        "not verified: without a manifest",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in:\n{stdout}");
    }
    // Without --partial the same bundle is simply refused.
    expect_verify(&bundle, &[], 2, "manifest.json");
}

// ---- signing -------------------------------------------------------------------

/// A key pair from `tokencert keygen` in its own directory.
fn key_pair(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let out = tokencert(&["keygen", "--out", dir.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (
        dir.join("tokencert-signing.key.pem"),
        dir.join("tokencert-signing.pub.pem"),
    )
}

/// A small bundle signed with `key`, made once.
fn signed_bundle() -> &'static (PathBuf, PathBuf, PathBuf) {
    static SIGNED: OnceLock<(PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    SIGNED.get_or_init(|| {
        let (private, public) = key_pair("signer");
        let out = scratch("signed-run");
        let run = tokencert(&[
            "run",
            "api.models",
            "--key",
            private.to_str().expect("utf-8 path"),
            "--out",
            out.to_str().expect("utf-8 path"),
        ]);
        let stdout = text(&run.stdout);
        assert!(run.status.success(), "{stdout}{}", text(&run.stderr));
        assert!(stdout.contains("signed: by sha256:"), "{stdout}");
        let bundle = stdout
            .lines()
            .find_map(|l| l.strip_prefix("bundle: "))
            .map(PathBuf::from)
            .expect("prints the bundle path");
        (bundle, private, public)
    })
}

fn copy_of_signed(name: &str) -> PathBuf {
    let to = scratch(name).join("bundle");
    copy_dir(&signed_bundle().0, &to);
    to
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn a_signed_bundle_verifies_with_its_key_and_says_so_without_one() {
    let (bundle, _, public) = signed_bundle();
    expect_verify(
        bundle,
        &["--key", path_arg(public)],
        0,
        "the signature verifies with the given key",
    );
    expect_verify(bundle, &[], 0, "not checked against a trusted key");
}

#[test]
fn another_key_is_refused() {
    let (_, other) = key_pair("other");
    expect_verify(
        &signed_bundle().0,
        &["--key", path_arg(&other)],
        6,
        "does not verify with the given key",
    );
}

#[test]
fn an_unsigned_bundle_is_refused_when_a_key_is_given() {
    let (_, _, public) = signed_bundle();
    expect_verify(
        main_job_bundle(),
        &["--key", path_arg(public)],
        7,
        "the bundle is unsigned",
    );
}

#[test]
fn re_digesting_a_modified_file_is_caught_by_the_signature() {
    let bundle = copy_of_signed("redigest");
    // An attacker edits results.json and rewrites the manifest to match.
    let results = bundle.join("results.json");
    let edited = std::fs::read_to_string(&results)
        .expect("results")
        .replacen("\"pass\"", "\"fail\"", 1);
    std::fs::write(&results, edited.as_bytes()).expect("write");
    let manifest_path = bundle.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("manifest")).expect("json");
    manifest["files"]["results.json"] = tokencert_core::digest::sha256(edited.as_bytes()).into();
    std::fs::write(
        &manifest_path,
        tokencert_core::canonical::to_vec(&manifest).expect("canonical"),
    )
    .expect("write");
    let (_, _, public) = signed_bundle();
    expect_verify(
        &bundle,
        &["--key", path_arg(public)],
        6,
        "results.json is signed as sha256:",
    );
    expect_verify(&bundle, &[], 6, "results.json is signed as sha256:");
}

#[test]
fn an_altered_envelope_is_caught_with_or_without_a_key() {
    let bundle = copy_of_signed("envelope");
    let path = bundle.join("attestation.dsse.json");
    let mut envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("envelope")).expect("json");
    let payload = envelope["payload"].as_str().expect("payload").to_string();
    // Re-encode the same statement with one subject digest changed.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let statement = String::from_utf8(b64.decode(payload).expect("base64")).expect("utf-8");
    let forged = statement.replacen("\"sha256\":\"", "\"sha256\":\"0", 1);
    envelope["payload"] = b64.encode(forged).into();
    std::fs::write(&path, serde_json::to_vec(&envelope).expect("json")).expect("write");
    let (_, _, public) = signed_bundle();
    expect_verify(
        &bundle,
        &["--key", path_arg(public)],
        6,
        "does not verify with the given key",
    );
    expect_verify(&bundle, &[], 6, "the envelope was altered");
}

#[test]
fn openssl_verifies_the_same_signature() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!(
            "skipped: openssl is not installed; tokencert's own verification is tested above"
        );
        return;
    }
    let (bundle, _, public) = signed_bundle();
    let envelope: serde_json::Value = serde_json::from_slice(
        &std::fs::read(bundle.join("attestation.dsse.json")).expect("envelope"),
    )
    .expect("json");
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64
        .decode(envelope["payload"].as_str().expect("payload"))
        .expect("base64");
    let signature = b64
        .decode(envelope["signatures"][0]["sig"].as_str().expect("sig"))
        .expect("base64");
    let dir = scratch("openssl");
    let signed = dir.join("pae.bin");
    let sig = dir.join("sig.der");
    std::fs::write(
        &signed,
        tokencert_core::sign::pae(tokencert_core::sign::PAYLOAD_TYPE, &payload),
    )
    .expect("write");
    std::fs::write(&sig, signature).expect("write");
    let openssl = |key: &Path| {
        Command::new("openssl")
            .args(["dgst", "-sha256", "-verify", path_arg(key), "-signature"])
            .arg(&sig)
            .arg(&signed)
            .output()
            .expect("openssl runs")
    };
    let good = openssl(public);
    assert!(
        good.status.success() && text(&good.stdout).contains("Verified OK"),
        "{}{}",
        text(&good.stdout),
        text(&good.stderr)
    );
    let (_, other) = key_pair("openssl-other");
    assert!(
        !openssl(&other).status.success(),
        "openssl accepts another key"
    );
}

#[test]
fn keygen_never_overwrites_a_key() {
    let (private, _) = key_pair("overwrite");
    let before = std::fs::read(&private).expect("key");
    let dir = private.parent().expect("dir");
    let again = tokencert(&["keygen", "--out", path_arg(dir)]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("must not exist yet"));
    assert_eq!(std::fs::read(&private).expect("key"), before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&private)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the private key is readable by others");
    }
}

// ---- reports ---------------------------------------------------------------------

#[test]
fn report_renders_failures_with_clause_text_and_evidence_and_junit() {
    let out = scratch("report-run");
    let run = tokencert(&[
        "run",
        "api.chat.stream",
        "--mutant",
        "stream-no-done",
        "--out",
        path_arg(&out),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let bundle = text(&run.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("bundle: ").map(PathBuf::from))
        .expect("prints the bundle path");
    let reports = scratch("report-out");
    let report = tokencert(&["report", path_arg(&bundle), "--out", path_arg(&reports)]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    let md = std::fs::read_to_string(reports.join("report.md")).expect("report.md");
    for expected in [
        "**DOES NOT CONFORM**",
        "mutant `stream-no-done`",
        "| Signature | unsigned |",
        "### `api.chat.stream.done`: fail (MUST TS-API-STREAM-DONE)",
        "> **Stream terminator.**",
        "no [DONE] event",
        "Evidence: `POST http://127.0.0.1:",
    ] {
        assert!(md.contains(expected), "{expected:?} not in:\n{md}");
    }
    let junit = std::fs::read_to_string(reports.join("junit.xml")).expect("junit.xml");
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert!(
        junit.contains("name=\"api.chat.stream.done\">\n      <failure message=\"terminated_by_done: no [DONE] event"),
        "{junit}"
    );
    assert!(junit.trim_end().ends_with("</testsuites>"), "{junit}");
}

#[test]
fn a_bundle_that_does_not_verify_gets_no_report() {
    let bundle = copy_of_bundle("report-tampered");
    let run_json = bundle.join("run.json");
    let mut bytes = std::fs::read(&run_json).expect("run.json");
    bytes.push(b' ');
    std::fs::write(&run_json, bytes).expect("write");
    let reports = scratch("report-refused");
    let out = tokencert(&["report", path_arg(&bundle), "--out", path_arg(&reports)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("does not verify; no report"),
        "{}",
        text(&out.stderr)
    );
    assert!(!reports.join("report.md").exists());
}

#[test]
fn a_huge_manifest_is_refused_unread() {
    let bundle = copy_of_bundle("huge-manifest");
    let manifest = std::fs::OpenOptions::new()
        .write(true)
        .open(bundle.join("manifest.json"))
        .expect("manifest");
    // Sparse: costs no disk, and tokencert must not read it.
    manifest
        .set_len(tokencert_core::bundle::MAX_JSON_BYTES + 1)
        .expect("grow");
    expect_verify(&bundle, &[], 3, "refused unread");
}

#[cfg(unix)]
#[test]
fn ctrl_c_writes_a_signed_partial_bundle_that_verifies() {
    use std::io::{BufRead, BufReader};
    let (private, public) = key_pair("interrupt-key");
    let out = scratch("interrupted");
    let child = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(["run", "--jobs", "1", "--key", path_arg(&private)])
        .args(["--out", path_arg(&out)])
        .current_dir(repo_root())
        .env_remove("TOKENCERT_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run starts");
    let mut run = KillOnDrop(child);
    let stderr = run.0.stderr.take().expect("piped stderr");
    // Without a terminal every finished case is logged: interrupt after five.
    let mut lines = BufReader::new(stderr).lines();
    let mut finished = 0;
    while finished < 5 {
        let line = lines.next().expect("the run logs cases").expect("utf-8");
        if line.starts_with("PASS") {
            finished += 1;
        }
    }
    run.interrupt();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = run.0.wait().expect("the run ends");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut run.0.stdout.take().expect("piped stdout"), &mut stdout)
        .expect("stdout");
    assert_eq!(status.code(), Some(130), "{stdout}\n{}", rest.join("\n"));
    assert!(
        rest.iter()
            .any(|l| l.contains("interrupted; finishing the cases in flight")),
        "{rest:?}"
    );
    assert!(stdout.contains("PARTIAL: interrupted after"), "{stdout}");
    assert!(stdout.contains("signed: by sha256:"), "{stdout}");
    let bundle = stdout
        .lines()
        .find_map(|l| l.strip_prefix("bundle: ").map(PathBuf::from))
        .expect("prints the bundle path");
    let output = expect_verify(
        &bundle,
        &["--key", path_arg(&public)],
        0,
        "partial: the run was interrupted after",
    );
    assert!(output.contains("the signature verifies"), "{output}");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("results.json")).expect("results"))
            .expect("json");
    let ran = results["cases"].as_array().expect("cases").len() as u64;
    let run_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("run.json")).expect("run.json"))
            .expect("json");
    let planned = run_json["interrupted"]["planned"]
        .as_u64()
        .expect("planned");
    assert!(
        ran >= 5 && ran < planned,
        "{ran} of {planned} cases in the partial bundle"
    );
}

#[test]
fn a_hugging_face_tokenizer_travels_in_the_bundle_and_recounts_on_verify() {
    let (server, url) = serve(&[], &[]);
    let out = scratch("hf-tokenizer");
    let tokenizer = repo_root().join("fixtures/tokenizers/bpe.json");
    let profile = out.join("profile.yaml");
    std::fs::create_dir_all(&out).expect("scratch dir");
    std::fs::write(
        &profile,
        format!(
            "name: char-bpe\ndescription: the reference service, recounted with a character-level BPE tokenizer\n\
             model: tokencert-reference\naccounting:\n  tokenizer: {{hugging_face: {}}}\n",
            tokenizer.display()
        ),
    )
    .expect("profile written");
    let run = tokencert(&[
        "run",
        "acc.recount.prompt-chat",
        "acc.recount.completion-chat",
        "--target",
        &url,
        "--profile",
        path_arg(&profile),
        "--out",
        path_arg(&out),
    ]);
    drop(server);
    let stderr = text(&run.stderr);
    // The reference bills o200k_base tokens; a character-level recount disagrees.
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("(hugging face)"), "{stderr}");
    let bundle = std::fs::read_dir(&out)
        .expect("out dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("a bundle");
    let copied =
        std::fs::read(bundle.join("tokenizer.json")).expect("the tokenizer is in the bundle");
    assert_eq!(copied, std::fs::read(&tokenizer).expect("fixture"));
    let run_json = std::fs::read_to_string(bundle.join("run.json")).expect("run.json");
    assert!(
        run_json.contains(r#""tokenizer":{"hugging_face":"tokenizer.json"}"#),
        "{run_json}"
    );
    // verify re-judges with the bundled copy, not the path on this machine.
    expect_verify(&bundle, &[], 0, "re-judged byte-identical");
    std::fs::write(bundle.join("tokenizer.json"), b"{}").expect("tamper");
    expect_verify(&bundle, &[], 3, "tokenizer.json");
}

#[test]
fn the_capacity_model_stamps_each_streamed_chunk_and_still_conforms() {
    let (server, url) = serve(&["--step-us", "2000", "--max-batch", "4"], &[]);
    let out = scratch("capacity");
    let run = tokencert(&[
        "run",
        "api.chat.stream",
        "--target",
        &url,
        "--model",
        "tokencert-reference-capacity",
        "--out",
        path_arg(&out),
    ]);
    drop(server);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let stamped = files_containing(&out, b": sched_ns=");
    assert!(!stamped.is_empty(), "no evidence carries a sched_ns stamp");
    // The flags set the embedded service: not with a target.
    let refused = tokencert(&[
        "run",
        "--target",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        "--step-us",
        "2000",
    ]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--target") && stderr.contains("--step-us"),
        "{stderr}"
    );
}

// ---- crash safety and permissions -----------------------------------------

/// Every directory under `dir` (itself included) is 0o700 and every file 0o600.
#[cfg(unix)]
fn assert_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            assert_private(&path);
        } else {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}

#[cfg(unix)]
#[test]
fn bundle_directories_and_files_are_the_owners_alone() {
    // The main job covers conformance and joined performance evidence; the
    // signed bundle the envelope.
    assert_private(main_job_bundle());
    assert_private(&signed_bundle().0);
}

/// Waits (at most 60 s) until `ready` holds of the one bundle under `out`.
fn wait_for_bundle(out: &Path, ready: impl Fn(&Path) -> bool) -> PathBuf {
    let start = std::time::Instant::now();
    loop {
        let bundle = std::fs::read_dir(out)
            .ok()
            .and_then(|mut dir| dir.next())
            .and_then(Result::ok)
            .map(|e| e.path());
        if let Some(bundle) = bundle.filter(|b| ready(b)) {
            return bundle;
        }
        assert!(start.elapsed().as_secs() < 60, "the bundle never got ready");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Request files of the perf.interactive load so far.
fn load_files(bundle: &Path) -> usize {
    std::fs::read_dir(bundle.join("evidence/perf.interactive.load")).map_or(0, |d| d.count())
}

#[cfg(unix)]
#[test]
fn a_run_killed_during_a_load_is_explained_request_by_request() {
    let out = scratch("killed-load");
    // 30 ms decode steps: each request streams for about 2 s.
    let child = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(["run", "perf.interactive", "--step-us", "30000"])
        .args(["--out", path_arg(&out)])
        .current_dir(repo_root())
        .env_remove("TOKENCERT_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run starts");
    let mut run = KillOnDrop(child);
    // Four users: a fifth file means one request ended and more are in flight.
    let bundle = wait_for_bundle(&out, |b| load_files(b) >= 5);
    run.0.kill().expect("SIGKILL");
    let _ = run.0.wait();
    assert_private(&bundle);

    let explained = tokencert(&["verify", "--partial", path_arg(&bundle)]);
    let stdout = text(&explained.stdout);
    assert_eq!(explained.status.code(), Some(8), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("load cut off:"))
        .unwrap_or_else(|| panic!("no load line in:\n{stdout}"));
    let count = |what: &str| -> u64 {
        let before = line.split(what).next().expect("split");
        let n = before.rsplit(' ').next().expect("a count");
        n.parse().unwrap_or_else(|_| panic!("{n:?} in {line}"))
    };
    assert!(count(" ended") >= 1, "{line}");
    assert!(count(" cut off in flight") >= 1, "{line}");
    assert!(line.contains("perf.interactive.load"), "{line}");
    assert!(stdout.contains("never finished"), "{stdout}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_a_load_stops_it_and_seals_a_signed_partial_bundle() {
    let (private, public) = key_pair("interrupt-load-key");
    let out = scratch("interrupted-load");
    let child = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(["run", "perf.interactive", "--step-us", "30000"])
        .args(["--key", path_arg(&private), "--out", path_arg(&out)])
        .current_dir(repo_root())
        .env_remove("TOKENCERT_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run starts");
    let mut run = KillOnDrop(child);
    let bundle = wait_for_bundle(&out, |b| load_files(b) >= 5);
    let interrupted_at = std::time::Instant::now();
    run.interrupt();
    let status = run.0.wait().expect("the run ends");
    // Requests in flight end (about 2 s each); the rest of the 24 are not sent.
    let waited = interrupted_at.elapsed();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut run.0.stdout.take().expect("piped stdout"), &mut stdout)
        .expect("stdout");
    assert_eq!(status.code(), Some(130), "{stdout}");
    assert!(waited.as_secs() < 10, "the load ran on for {waited:?}");
    assert!(
        stdout.contains("PARTIAL: the load of perf.interactive was stopped after"),
        "{stdout}"
    );
    let output = expect_verify(
        &bundle,
        &["--key", path_arg(&public)],
        0,
        "partial: the run was interrupted after",
    );
    assert!(output.contains("the signature verifies"), "{output}");
    assert_private(&bundle);
    let run_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("run.json")).expect("run.json"))
            .expect("json");
    let load = &run_json["interrupted"]["load"];
    assert_eq!(load["case"], "perf.interactive", "{run_json}");
    assert_eq!(load["planned"], 24, "{run_json}");
    let sent = load["sent"].as_u64().expect("sent");
    assert!((5..24).contains(&sent), "{sent} requests sent");
    let evidence = bundle.join("evidence/perf.interactive.jsonl");
    let exchanges = tokencert_core::evidence::read_exchanges(&evidence).expect("joined evidence");
    assert_eq!(
        exchanges.len() as u64,
        sent,
        "every sent request is in the evidence"
    );
    assert!(
        !bundle.join("evidence/perf.interactive.load").exists(),
        "the request files were joined"
    );
}
