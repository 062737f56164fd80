//! The pods of the rendered base as local processes: the environment
//! Kubernetes gives a container, its `$(VAR)` expansion, and its volume
//! mounts mapped to local directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::{config_map, container, object, pod_spec, strings};

/// Kubernetes' `$(VAR)` expansion (k8s.io/kubernetes third_party/forked/
/// golang/expansion): `$(NAME)` becomes the value of NAME when it is
/// defined and stays as written when it is not, `$$` becomes `$`, any other
/// `$` stays.
fn expand(input: &str, env: &BTreeMap<String, String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        match env.get(name) {
                            Some(value) => out.push_str(value),
                            None => out.push_str(&format!("$({name})")),
                        }
                        close + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    // The `$` and the character after it, as Kubernetes does.
                    let next = rest.chars().next().unwrap_or_default();
                    out.push('$');
                    out.push(next);
                    next.len_utf8()
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.push_str(&input[checkpoint.min(input.len())..]);
    out
}

#[test]
fn expansion_follows_kubernetes() {
    let env = BTreeMap::from([
        ("JOB_COMPLETION_INDEX".to_string(), "3".to_string()),
        ("SHARDS".to_string(), "4".to_string()),
    ]);
    assert_eq!(expand("$(JOB_COMPLETION_INDEX)/$(SHARDS)", &env), "3/4");
    assert_eq!(expand("$(UNSET)/$(SHARDS)", &env), "$(UNSET)/4");
    assert_eq!(expand("$$(SHARDS) $$ $x $", &env), "$(SHARDS) $ $x $");
    assert_eq!(
        expand("i=$((i + 1)) $(SHARDS", &env),
        "i=$((i + 1)) $(SHARDS"
    );
    assert_eq!(
        expand("/bundles/$(SHARDS)/é$(SHARDS)", &env),
        "/bundles/4/é4"
    );
}

/// One pod of `job`'s container `name`, as a local process: the container's
/// environment (envFrom ConfigMaps, then its env list; Secret and
/// ConfigMap references resolved from `secret` and the rendered objects,
/// `JOB_COMPLETION_INDEX` added as the Job controller adds it), its
/// command and arguments expanded as Kubernetes expands them, and each
/// volume mount's path mapped to a local directory under `pod_root`.
pub struct Pod {
    pub program: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

/// What the pods of the rendered base see: the objects, what an overlay
/// changes in the load ConfigMap, the Secret's data and the local directory
/// standing for the ReadWriteMany volume.
pub struct Cluster<'a> {
    pub objects: &'a [Value],
    pub overrides: BTreeMap<String, String>,
    pub secret: BTreeMap<String, String>,
    pub volume: PathBuf,
}

impl Cluster<'_> {
    pub fn pod(&self, job: &str, name: &str, index: Option<u64>, pod_root: &Path) -> Pod {
        pod(self, job, name, index, pod_root)
    }
}

fn pod(cluster: &Cluster, job: &str, name: &str, index: Option<u64>, pod_root: &Path) -> Pod {
    let Cluster {
        objects,
        overrides,
        secret,
        volume: shared,
    } = cluster;
    let job = object(objects, "Job", job).expect("the Job");
    let c = container(job, name).expect("the container");
    let mut env = BTreeMap::new();
    for source in c["envFrom"].as_array().into_iter().flatten() {
        let map = source["configMapRef"]["name"]
            .as_str()
            .expect("a ConfigMap");
        let data = config_map(objects, map).expect("the ConfigMap")["data"]
            .as_object()
            .expect("data");
        for (k, v) in data {
            env.insert(k.clone(), v.as_str().expect("a string").to_string());
        }
    }
    // What an overlay changes: the target's URL and the start instant.
    env.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut list = c["env"].as_array().cloned().unwrap_or_default();
    if let Some(index) = index {
        // The Job controller appends it, from the pod's completion index.
        list.push(json!({"name": "JOB_COMPLETION_INDEX", "value": index.to_string()}));
    }
    for e in list {
        let key = e["name"].as_str().expect("a name").to_string();
        let value = if let Some(value) = e["value"].as_str() {
            Some(expand(value, &env))
        } else if let Some(r) = e["valueFrom"].get("secretKeyRef") {
            let found = secret.get(r["key"].as_str().expect("a key")).cloned();
            assert!(
                found.is_some() || r["optional"] == true,
                "{key}: no such Secret key"
            );
            found
        } else {
            panic!("{key}: an env source the test does not emulate: {e}");
        };
        if let Some(value) = value {
            env.insert(key, value);
        }
    }
    // Volume mounts, longest path first.
    let volumes = pod_spec(job)["volumes"].as_array().expect("volumes");
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let path = m["mountPath"].as_str().expect("a path").to_string();
        let volume = volumes
            .iter()
            .find(|v| v["name"] == m["name"])
            .expect("the volume");
        let local = if volume.get("persistentVolumeClaim").is_some() {
            shared.to_path_buf()
        } else {
            let dir = pod_root.join(m["name"].as_str().expect("a name"));
            std::fs::create_dir_all(&dir).expect("mkdir");
            if let Some(cm) = volume.get("configMap") {
                let name = cm["name"].as_str().expect("a name");
                let data = config_map(objects, name).expect("the ConfigMap")["data"]
                    .as_object()
                    .expect("data");
                for (file, content) in data {
                    std::fs::write(dir.join(file), content.as_str().expect("text")).expect("write");
                }
            } else if let Some(s) = volume.get("secret") {
                for item in s["items"].as_array().expect("items") {
                    let key = item["key"].as_str().expect("a key");
                    let path = item["path"].as_str().expect("a path");
                    std::fs::write(dir.join(path), &secret[key]).expect("write");
                }
            } else {
                assert!(volume.get("emptyDir").is_some(), "{volume}");
            }
            dir
        };
        mounts.push((path, local));
    }
    mounts.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    let local = |s: String| map_mounts(&s, &mounts);
    let mut words: Vec<String> = strings(&c["command"])
        .into_iter()
        .chain(strings(&c["args"]))
        .map(|w| local(expand(&w, &env)))
        .collect();
    let env = env.into_iter().map(|(k, v)| (k, local(v))).collect();
    let program = words.remove(0);
    Pod {
        program,
        args: words,
        env,
    }
}

/// `text` with every `MOUNT/` that starts a path replaced by its local
/// directory, in one pass (a local directory may itself be under a mount's
/// path, such as /tmp).
fn map_mounts(text: &str, mounts: &[(String, PathBuf)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    let mut previous: Option<char> = None;
    'scan: while let Some(c) = rest.chars().next() {
        let starts_path = previous.is_none_or(|p| !(p.is_alphanumeric() || "_.-/$".contains(p)));
        if starts_path {
            for (path, dir) in mounts {
                if let Some(after) = rest.strip_prefix(path.as_str())
                    && after.starts_with('/')
                {
                    out.push_str(&dir.display().to_string());
                    rest = after;
                    previous = Some('x');
                    continue 'scan;
                }
            }
        }
        out.push(c);
        previous = Some(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[test]
fn mount_paths_map_in_one_pass() {
    let mounts = vec![
        ("/bundles".to_string(), PathBuf::from("/tmp/x/pvc")),
        ("/tmp".to_string(), PathBuf::from("/tmp/x/tmp")),
    ];
    assert_eq!(
        map_mounts(
            "--out /bundles/r/shards/0 \"/bundles/$R\"/*/ /tmp/a /bundles x/bundles/y",
            &mounts
        ),
        "--out /tmp/x/pvc/r/shards/0 \"/tmp/x/pvc/$R\"/*/ /tmp/x/tmp/a /bundles x/bundles/y"
    );
}

impl Pod {
    /// The process, with the image's PATH (tokencert first, then a shell).
    pub fn command(&self) -> Command {
        let bin = Path::new(env!("CARGO_BIN_EXE_tokencert"))
            .parent()
            .expect("the binary's directory")
            .display()
            .to_string();
        let program = if self.program == "tokencert" {
            env!("CARGO_BIN_EXE_tokencert").to_string()
        } else {
            self.program.clone()
        };
        let mut command = Command::new(program);
        command
            .args(&self.args)
            .env_clear()
            .envs(&self.env)
            .env("PATH", format!("{bin}:/usr/bin:/bin"))
            .env("HOME", "/");
        command
    }
}
