//! Shared by the observatory's tests: a small suite, configs, servers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokencert_core::suite::{self, Suite};
use tokencert_observatory::Event;

/// The key every embedded service of these tests is started with.
pub const KEY: &str = "sk-observatory-test-5f2c";
/// The variable the configs name for it (never set: tests pass keys in).
pub const KEY_VAR: &str = "OBSERVATORY_TEST_KEY";

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
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

/// A suite with the real standard, the model-listing cases, and one tiny
/// interactive load (two users, six requests of 100 prompt tokens asking
/// for 16), so a probe takes about a second.
pub fn small_suite(dir: &Path) -> Arc<Suite> {
    let root = repo();
    copy_dir(&root.join("spec"), &dir.join("spec"));
    copy_dir(
        &root.join("suites/api/models"),
        &dir.join("suites/api/models"),
    );
    std::fs::create_dir_all(dir.join("suites/perf")).expect("mkdir");
    std::fs::write(
        dir.join("suites/perf/chat.yaml"),
        "id: perf.chat\n\
         clause: TS-PERF-SLO\n\
         description: two users, six short chats\n\
         performance:\n  slo: interactive\n  workload:\n    seed: 5\n    requests: 6\n    \
         duration: 30s\n    prompts: {synthetic: {input: {fixed: 100}, output: {fixed: 16}}}\n    \
         load: {closed: {users: 2}}\n\
         checks: [slo_ttft, slo_output_speed, slo_itl, slo_error_rate, slo_goodput]\n",
    )
    .expect("write the case");
    Arc::new(suite::load(dir).expect("the small suite loads"))
}

/// The committed profile of the embedded reference service.
pub fn reference_profile() -> String {
    repo()
        .join("suites/targets/reference.yaml")
        .to_str()
        .expect("a UTF-8 path")
        .to_string()
}

/// A generous budget block, indented for a target.
pub const BUDGET: &str = "    budget: {requests_per_hour: 10000, requests_per_day: 100000, tokens_per_hour: 10000000, tokens_per_day: 100000000}\n";

/// A target entry for `url` under the reference profile.
pub fn target(name: &str, url: &str) -> String {
    format!(
        "  - name: {name}\n    base_url: {url}\n    profile: {}\n    api_key_env: {KEY_VAR}\n    timeout: 5s\n{BUDGET}",
        reference_profile()
    )
}

/// Writes `observatory.yaml` into `dir` and returns its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("observatory.yaml");
    std::fs::write(&path, text).expect("write the config");
    path
}

/// Every key the tests know: the one embedded services take.
pub fn keys(var: &str) -> Option<String> {
    (var == KEY_VAR).then(|| KEY.to_string())
}

/// Collects events.
#[derive(Default, Clone)]
pub struct Events(pub Arc<Mutex<Vec<Event>>>);

impl Events {
    pub fn push(&self, event: Event) {
        self.0.lock().expect("not poisoned").push(event);
    }

    pub fn all(&self) -> Vec<Event> {
        self.0.lock().expect("not poisoned").clone()
    }
}
