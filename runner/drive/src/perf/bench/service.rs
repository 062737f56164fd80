//! The reference service in a child process, and the CPU time it and this
//! process use (Linux's procfs; elsewhere unavailable).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use crate::perf::PerfError;

/// How long the service child may take to say where it listens.
const SERVICE_START: Duration = Duration::from_secs(30);

/// The reference service in a child process: `<exe> serve` on 127.0.0.1,
/// an ephemeral port, a capacity model of fixed steps only (no prefill, no
/// per-sequence cost, no jitter, no queue bound) with room for `batch`
/// sequences, so that the service's pace is the step and nothing else.
pub(super) struct Service {
    child: Child,
    pub(super) base_url: String,
}

impl Service {
    pub(super) fn start(exe: &Path, step: Duration, batch: u64) -> Result<Self, PerfError> {
        let mut child = Command::new(exe)
            .args(["serve", "--addr", "127.0.0.1:0", "--prefill-us", "0"])
            .arg("--step-us")
            .arg(step.as_micros().to_string())
            .args(["--step-per-sequence-us", "0", "--max-batch"])
            .arg(batch.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| PerfError::Spawn {
                exe: exe.to_path_buf(),
                source,
            })?;
        let stderr = child.stderr.take().ok_or(PerfError::NoStderr)?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the line saying where the service listens, then drains
        // the rest so that the service never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                let url = line
                    .split_once("reference token service on ")
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    .map(str::to_string);
                let found = url.is_some();
                if tx.send(url.ok_or(line)).is_err() || found {
                    break;
                }
            }
            lines.for_each(drop);
        });
        let mut said = Vec::new();
        let base_url = loop {
            match rx.recv_timeout(SERVICE_START) {
                Ok(Ok(url)) => break url,
                Ok(Err(line)) => said.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(PerfError::ServiceTimeout);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                    return Err(PerfError::ServiceExited {
                        status,
                        said: said.join("\n"),
                    });
                }
            }
        };
        Ok(Self { child, base_url })
    }

    /// Starts counting the CPU time both processes use.
    pub(super) fn cpu(&self) -> CpuClock {
        let service = self.child.id().to_string();
        CpuClock {
            client: cpu_ticks("self"),
            service: cpu_ticks(&service),
            pid: service,
        }
    }

    /// Stops the service (by its process id) and waits for it.
    pub(super) fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // Stopped already unless an error cut the run short.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// CPU time of this process and of the service so far, in clock ticks.
pub(super) struct CpuClock {
    client: Option<u64>,
    service: Option<u64>,
    pid: String,
}

impl CpuClock {
    /// The seconds of CPU time each process used since the clock started.
    pub(super) fn spent(&self) -> CpuSpent {
        let since = |start: Option<u64>, now: Option<u64>| {
            Some(now?.saturating_sub(start?) as f64 / TICKS_PER_SECOND)
        };
        CpuSpent {
            client: since(self.client, cpu_ticks("self")),
            service: since(self.service, cpu_ticks(&self.pid)),
        }
    }
}

/// Seconds of CPU time used by the client (this process) and the service
/// during one run; `None` where procfs is unavailable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuSpent {
    /// This process.
    pub client: Option<f64>,
    /// The service's process.
    pub service: Option<f64>,
}

impl std::fmt::Display for CpuSpent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = |s: Option<f64>| s.map_or("?".to_string(), |s| format!("{s:.2} s"));
        write!(
            f,
            "CPU time used: client {}, service {}",
            secs(self.client),
            secs(self.service)
        )
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` (Linux's USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time of a process (`self` or a pid) so far, in
/// clock ticks (Linux only).
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is the first, utime the 12th and stime the 13th.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}
