//! `tokencert ledger serve` and `tokencert ledger export` over a ledger of
//! two bundles of a small suite run against the embedded reference
//! service: the server answers on loopback (the leaderboard, /metrics, a
//! 400 for an unknown sort key) and stops on SIGINT sent to its own pid;
//! the export writes the same pages as files.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{KillOnDrop, small_suite, text, tokencert};

/// `tokencert run` of `suite` into `out`; the bundle written.
fn run(suite: &Path, out: &Path) -> PathBuf {
    let output = tokencert(&[
        "run",
        "--suite",
        suite.to_str().expect("utf-8 path"),
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    std::fs::read_dir(out)
        .expect("the out directory exists")
        .map(|e| e.expect("entry").path())
        .next()
        .unwrap_or_else(|| panic!("no bundle; stderr:\n{}", text(&output.stderr)))
}

/// A ledger holding two bundles of `suite`.
fn ledger_of_two(suite: &Path, dir: &Path) -> PathBuf {
    let a = run(suite, &dir.join("a"));
    let b = run(suite, &dir.join("b"));
    let ledger = dir.join("ledger");
    let output = tokencert(&[
        "ledger",
        "add",
        "--suite",
        suite.to_str().expect("utf-8 path"),
        "--ledger",
        ledger.to_str().expect("utf-8 path"),
        a.to_str().expect("utf-8 path"),
        b.to_str().expect("utf-8 path"),
    ]);
    assert!(
        output.status.success(),
        "ledger add: {}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    ledger
}

/// GET `path` from `addr` (host:port) over HTTP/1.1: the status code and
/// the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("sends");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("reads");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head: {response:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {head:?}"));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

/// The body of a chunked response.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    body
}

#[test]
fn a_ledger_is_served_on_loopback_and_exported_as_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = small_suite(&dir.path().join("suite"));
    let ledger = ledger_of_two(&suite, dir.path());
    let ledger_arg = ledger.to_str().expect("utf-8 path");

    // A bundle is pinned by its id; an unknown id is refused by name.
    let listed = tokencert(&["ledger", "list", "--ledger", ledger_arg]);
    let id = text(&listed.stdout)
        .lines()
        .nth(1)
        .and_then(|line| line.split_whitespace().next())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("an id in the listing: {}", text(&listed.stdout)));
    let pinned = tokencert(&["ledger", "pin", "--ledger", ledger_arg, &id]);
    assert!(pinned.status.success(), "{}", text(&pinned.stderr));
    assert!(text(&pinned.stdout).contains(&format!("pinned {id}")));
    let unknown = "not-an-id";
    let refused = tokencert(&["ledger", "pin", "--ledger", ledger_arg, unknown]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains(unknown),
        "{}",
        text(&refused.stderr)
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(["ledger", "serve", "--ledger", ledger_arg])
        .args(["--addr", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let server = KillOnDrop(child);
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve prints its address")
            .expect("a line");
        if let Some(at) = line.split_whitespace().find_map(|w| {
            w.strip_prefix("http://127.0.0.1:")
                .map(|port| format!("127.0.0.1:{}", port.trim_end_matches('/')))
        }) {
            break at;
        }
    };

    let (status, page) = get(&addr, "/");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("perf.chat"), "the method's board: {page}");
    let (status, metrics) = get(&addr, "/metrics");
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metrics.contains("tokencert_ledger_bundles 2\n"),
        "{metrics}"
    );
    assert!(metrics.contains("tokencert_ttft_seconds{"), "{metrics}");
    let (status, said) = get(&addr, "/?sort=drop%20table");
    assert_eq!(status, 400, "{said}");
    assert!(said.contains("unknown sort key"), "{said}");

    server.interrupt();
    let mut server = server;
    let stopped = server.0.wait().expect("serve exits");
    assert!(
        stopped.success(),
        "serve stops cleanly on SIGINT: {stopped}"
    );
    drop(lines);

    let site = dir.path().join("site");
    let output = tokencert(&[
        "ledger",
        "export",
        "--ledger",
        ledger_arg,
        "--out",
        site.to_str().expect("utf-8 path"),
    ]);
    assert!(
        output.status.success(),
        "ledger export: {}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let index = std::fs::read_to_string(site.join("index.html")).expect("index.html");
    assert!(index.contains("perf.chat"), "{index}");
    let exported = std::fs::read_to_string(site.join("metrics.txt")).expect("metrics.txt");
    assert!(
        exported.contains("tokencert_ledger_bundles 2\n"),
        "{exported}"
    );
    let board: serde_json::Value = serde_json::from_slice(
        &std::fs::read(site.join("api/leaderboard.json")).expect("the leaderboard's JSON"),
    )
    .expect("JSON");
    assert_eq!(board["bundles"], 2, "{board}");
    let copied = std::fs::read_dir(site.join("bundles"))
        .expect("the bundles are copied")
        .count();
    assert!(copied >= 2, "{copied} entries under bundles/");
    // Into a directory that is not empty: refused.
    let again = tokencert(&[
        "ledger",
        "export",
        "--ledger",
        ledger_arg,
        "--out",
        site.to_str().expect("utf-8 path"),
    ]);
    assert!(!again.status.success(), "{}", text(&again.stderr));
}
