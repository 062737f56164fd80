//! Helpers shared by the CLI's integration tests: running the built
//! binary, and small suites.

#![allow(
    dead_code,
    reason = "each test file is its own crate and uses a different part of this module"
)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the built `tokencert` with `args`, without the environment
/// variables that would point it at another target or suite.
pub fn tokencert<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(args)
        .env_remove("TOKENCERT_BASE_URL")
        .env_remove("TOKENCERT_MODEL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("TOKENCERT_SUITE")
        .env_remove("TOKENCERT_ALLOW_INSECURE_HTTP")
        .output()
        .expect("tokencert runs")
}

/// Output bytes as text, for assertion messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one run directory written under `out`, whose name ends with
/// `-<kind>` (`load`, `sweep`).
pub fn run_dir(out: &Path, kind: &str) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("the out directory exists")
        .map(|e| e.expect("an entry").path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let dir = dirs[0].clone();
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    assert!(name.ends_with(&format!("-{kind}")), "{name}");
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A suite with the real standard and one interactive load: two users,
/// eight requests of 100 prompt tokens asking for 16.
pub fn small_suite(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    copy_dir(&root.join("spec"), &dir.join("spec"));
    std::fs::create_dir_all(dir.join("suites/perf")).expect("mkdir");
    std::fs::write(
        dir.join("suites/perf/chat.yaml"),
        "id: perf.chat\n\
         clause: TS-PERF-SLO\n\
         description: two users, eight short chats\n\
         performance:\n  slo: interactive\n  workload:\n    seed: 5\n    requests: 8\n    \
         duration: 60s\n    prompts: {synthetic: {input: {fixed: 100}, output: {fixed: 16}}}\n    \
         load: {closed: {users: 2}}\n\
         checks: [slo_ttft, slo_output_speed, slo_itl, slo_error_rate, slo_goodput]\n",
    )
    .expect("write the case");
    dir.to_path_buf()
}

/// Kills the child on drop, so a failing assertion leaves no process behind.
pub struct KillOnDrop(pub std::process::Child);

impl KillOnDrop {
    /// Sends the child SIGINT, as Ctrl-C would.
    #[cfg(unix)]
    pub fn interrupt(&self) {
        let sent = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -INT {} failed", self.0.id());
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tokencert serve` on an ephemeral loopback port with `args` and `env`;
/// the server (stopped on drop) and the base URL it prints.
pub fn serve(args: &[&str], env: &[(&str, &str)]) -> (KillOnDrop, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let server = KillOnDrop(child);
    let mut banner = String::new();
    BufReader::new(stderr)
        .read_line(&mut banner)
        .expect("serve prints its address");
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {banner:?}"))
        .to_string();
    (server, url)
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if std::fs::read(&path)
                .expect("read")
                .windows(needle.len())
                .any(|w| w == needle)
            {
                found.push(path);
            }
        }
    }
    found
}

/// Runs `tokencert args`, waits (at most 30 s) until `ready()` holds,
/// sends it SIGINT as Ctrl-C would, and returns its exit code and stdout.
#[cfg(unix)]
pub fn interrupted_when(args: &[&str], ready: impl Fn() -> bool) -> (Option<i32>, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(args)
        .env_remove("TOKENCERT_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tokencert starts");
    let mut child = KillOnDrop(child);
    let started = std::time::Instant::now();
    while !ready() {
        assert!(started.elapsed().as_secs() < 30, "not ready after 30 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.interrupt();
    let status = child.0.wait().expect("tokencert ends");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.0.stdout.take().expect("piped"), &mut stdout)
        .expect("stdout");
    (status.code(), stdout)
}

/// How many entries `<run>/<sub>` holds, summed over the run directories
/// under `out` (0 while there are none).
pub fn entries_in_runs(out: &Path, sub: &str) -> usize {
    std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .flatten()
        .map(|run| std::fs::read_dir(run.path().join(sub)).map_or(0, |d| d.count()))
        .sum()
}
