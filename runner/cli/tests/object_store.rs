//! Bundles in an S3-compatible store, against moto's server (PyPI
//! `moto[server]==5.2.5`, installed by .ci/run) started here on 127.0.0.1
//! with IAM authentication on: `run --upload` copies a signed bundle, the
//! store lists exactly its files, a download is byte-identical, `verify
//! s3://…` passes; a tampered object is refused; wrong or missing
//! credentials fail clearly without showing the secret. Says SKIPPED when
//! moto is not installed.

mod common;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::text;

const BUCKET: &str = "bundles";

/// The store set up through boto3 (moto's own dependency): the bucket, an
/// IAM user allowed s3:* and its key pair; `put KEY FILE` overwrites an
/// object, `keys PREFIX` lists keys. Auth is switched on after setup.
const HELPER: &str = r#"
import json, sys, urllib.request, boto3
endpoint, command = sys.argv[1], sys.argv[2]
def client(service, key="setup", secret="setup"):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)
if command == "setup":
    client("s3").create_bucket(Bucket="bundles")
    iam = client("iam")
    iam.create_user(UserName="shards")
    iam.put_user_policy(UserName="shards", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="shards")["AccessKey"]
    urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                                  headers={"Content-Type": "text/plain"}))
    print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
else:
    s3 = client("s3", sys.argv[3], sys.argv[4])
    if command == "put":
        s3.put_object(Bucket="bundles", Key=sys.argv[5], Body=open(sys.argv[6], "rb").read())
    elif command == "keys":
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="bundles", Prefix=sys.argv[5])
        print(json.dumps(sorted(o["Key"] for p in pages for o in p.get("Contents", []))))
"#;

/// moto's server, stopped (killed and reaped) by this handle.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto on a free loopback port; `None` when moto is absent.
    fn start(log: &Path) -> Option<Moto> {
        let probe = Command::new("python3")
            .args(["-c", "import moto.server, boto3"])
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            return None;
        }
        let port = {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
            listener.local_addr().expect("its address").port()
        };
        let log = std::fs::File::create(log).expect("moto log");
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("moto starts");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    fn helper(&self, args: &[&str]) -> String {
        let out = Command::new("python3")
            .args(["-c", HELPER, &self.endpoint])
            .args(args)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "helper {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

/// `tokencert` with only the given AWS_* variables.
fn tokencert(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokencert"));
    command.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") || name.starts_with("TOKENCERT_") {
            command.env_remove(name);
        }
    }
    command
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL");
    command.envs(env.iter().copied());
    command.output().expect("tokencert runs")
}

/// Relative path → bytes of every file below `dir`.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().expect("type").is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.insert(name, std::fs::read(entry.path()).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

#[test]
fn bundles_round_trip_through_an_s3_store() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(moto) = Moto::start(&work.path().join("moto.log")) else {
        println!("SKIPPED: moto is not installed (pip install 'moto[server]==5.2.5')");
        return;
    };
    let keys: serde_json::Value =
        serde_json::from_str(&moto.helper(&["setup"])).expect("setup prints the key");
    let (id, secret) = (
        keys["id"].as_str().expect("id").to_string(),
        keys["secret"].as_str().expect("secret").to_string(),
    );
    let good = [
        ("AWS_ACCESS_KEY_ID", id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
    ];

    // A signed run uploads its bundle after sealing it.
    let keygen = tokencert(&["keygen", "--out", &work.path().to_string_lossy()], &[]);
    let key = work.path().join("tokencert-signing.key.pem");
    let public = work.path().join("tokencert-signing.pub.pem");
    assert!(keygen.status.success(), "{}", text(&keygen.stderr));
    let out = work.path().join("reports");
    let run = tokencert(
        &[
            "run",
            "api.models",
            "--out",
            &out.to_string_lossy(),
            "--key",
            &key.to_string_lossy(),
            "--upload",
            &format!("s3://{BUCKET}/runs/42"),
        ],
        &good,
    );
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", text(&run.stderr));
    let bundle: PathBuf = std::fs::read_dir(&out)
        .expect("reports")
        .next()
        .expect("one bundle")
        .expect("entry")
        .path();
    let name = bundle
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let location = format!("s3://{BUCKET}/runs/42/{name}");
    assert!(
        stdout.contains(&format!("uploaded: {location} (")),
        "{stdout}"
    );
    assert!(
        bundle.join("attestation.dsse.json").is_file(),
        "the bundle is signed"
    );

    // The store lists exactly the bundle's files.
    let local = tree(&bundle);
    let listed: Vec<String> =
        serde_json::from_str(&moto.helper(&["keys", &id, &secret, "runs/42/"])).expect("keys");
    let expected: Vec<String> = local
        .keys()
        .map(|k| format!("runs/42/{name}/{k}"))
        .collect();
    assert_eq!(listed, expected);

    // A download is byte-identical.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let credentials = tokencert_storage::Credentials::from_lookup(|var| {
        good.iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v.to_string())
    })
    .expect("credentials");
    let config = tokencert_storage::StoreConfig {
        endpoint: Some(moto.endpoint.clone()),
        allow_insecure_http: false,
    };
    let url = tokencert_storage::StoreUrl::parse(&location).expect("url");
    let fetched = runtime
        .block_on(tokencert_storage::fetch(
            &url,
            &config,
            &credentials,
            tokencert_storage::FetchLimits::default(),
        ))
        .expect("fetch");
    assert_eq!(
        tree(fetched.root()),
        local,
        "the download differs from the bundle"
    );
    assert_eq!(
        fetched.bundles().expect("bundles"),
        [fetched.root().to_path_buf()]
    );

    // Limits are checked on the listing, before any download.
    let small = tokencert_storage::FetchLimits {
        max_objects: 2,
        max_bytes: u64::MAX,
    };
    let refused = runtime.block_on(tokencert_storage::fetch(&url, &config, &credentials, small));
    assert!(
        matches!(
            refused,
            Err(tokencert_storage::StorageError::TooLarge {
                what: "objects",
                ..
            })
        ),
        "{refused:?}"
    );
    // A bundle is never overwritten.
    let again = runtime.block_on(tokencert_storage::upload_bundle(
        &bundle,
        &tokencert_storage::StoreUrl::parse(&format!("s3://{BUCKET}/runs/42")).expect("url"),
        &config,
        &credentials,
    ));
    assert!(
        matches!(again, Err(tokencert_storage::StorageError::Exists { .. })),
        "{again:?}"
    );

    // verify reads the bundle from the store, by its location or its prefix.
    let public_arg = public.to_string_lossy().into_owned();
    for source in [location.as_str(), "s3://bundles/runs/42"] {
        let verified = tokencert(&["verify", source, "--key", &public_arg], &good);
        assert!(
            verified.status.success(),
            "{source}: {}{}",
            text(&verified.stdout),
            text(&verified.stderr)
        );
        assert!(text(&verified.stdout).contains("the signature verifies"));
    }

    // Wrong credentials: a clear refusal that shows neither secret.
    let wrong_secret = "wrong-secret-3f9a1c7e5b";
    let wrong = [
        ("AWS_ACCESS_KEY_ID", id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", wrong_secret),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
    ];
    let refused = tokencert(&["verify", &location], &wrong);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    for secret in [wrong_secret, secret.as_str(), id.as_str()] {
        assert!(!stderr.contains(secret), "a credential leaked: {stderr}");
        assert!(!text(&refused.stdout).contains(secret));
    }
    // ... and `run --upload` fails on them before running anything.
    let out_wrong = work.path().join("not-run");
    let upload = tokencert(
        &[
            "run",
            "api.models",
            "--out",
            &out_wrong.to_string_lossy(),
            "--upload",
            "s3://bundles/x",
        ],
        &wrong,
    );
    let stderr = text(&upload.stderr);
    assert_eq!(upload.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("before the run") && stderr.contains("refused"),
        "{stderr}"
    );
    assert!(!stderr.contains(wrong_secret), "{stderr}");
    assert!(
        !out_wrong.exists(),
        "a run happened with unusable store credentials"
    );
    // Missing credentials name the variable.
    let missing = tokencert(&["verify", &location], &good[..1]);
    assert!(text(&missing.stderr).contains("AWS_SECRET_ACCESS_KEY is not set"));

    // A tampered object in the store is refused by verify, naming the file.
    let results = bundle.join("results.json");
    let mut bytes = std::fs::read(&results).expect("results");
    let at = bytes.iter().position(|b| *b == b':').expect("a colon");
    bytes.insert(at + 1, b' ');
    let tampered = work.path().join("results.json");
    std::fs::write(&tampered, bytes).expect("write");
    let key_name = format!("runs/42/{name}/results.json");
    moto.helper(&["put", &id, &secret, &key_name, &tampered.to_string_lossy()]);
    let verified = tokencert(&["verify", &location, "--key", &public_arg], &good);
    let stderr = text(&verified.stderr);
    assert_eq!(verified.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("results.json"), "{stderr}");
    // The local bundle is untouched and still verifies.
    let local_verify = tokencert(
        &["verify", &bundle.to_string_lossy(), "--key", &public_arg],
        &[],
    );
    assert!(
        local_verify.status.success(),
        "{}",
        text(&local_verify.stderr)
    );
}
