//! Writes evidence records to a case's JSONL file as they happen.
//!
//! # When a record reaches the file
//!
//! A file recorder turns each record into its line on the calling task and
//! hands the line to the **evidence writer**, one thread per process, which
//! writes it to its file with one `write` call as soon as it gets to it,
//! lines in the order they were handed over. The task reading a response
//! never waits for the disk, so the next chunk is timed as soon as it
//! arrives, whatever the disk does meanwhile. [`Recorder::sync`] waits
//! until every line handed over so far has been written and reports the
//! first write error; an exchange ends with it, so an exchange counts as
//! done only once all its records are in the file.
//!
//! What a killed process loses is the lines handed over but not yet
//! written: normally none, or those of the last fraction of a millisecond;
//! at most [`QUEUE`] lines when the disk is slower than the streams, at
//! which point handing a line over waits for room (the writer's pace
//! becomes the readers').

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};

use tokencert_core::evidence::Record;

/// The most lines waiting for the evidence writer.
pub(crate) const QUEUE: usize = 16_384;

/// Where records go: the case's file, or memory for an exchange sent
/// alongside others (its lines are appended to the file once it is done,
/// so that each exchange's records stay together).
enum Sink {
    File(Arc<Target>),
    Memory(Vec<u8>),
}

/// An open evidence file and the first error writing it.
struct Target {
    file: File,
    error: Mutex<Option<std::io::Error>>,
}

impl Target {
    /// The first write error, taken (later calls see none).
    fn take_error(&self) -> Option<std::io::Error> {
        self.error.lock().ok()?.take()
    }
}

/// Work for the evidence writer.
enum Job {
    /// Write these lines to that file.
    Write(Arc<Target>, Vec<u8>),
    /// Everything handed over before this is written: say so.
    Sync(tokio::sync::oneshot::Sender<()>),
}

/// Appends records to one evidence file, one line each (see the module
/// docs for when a line reaches the file).
pub(crate) struct Recorder {
    sink: Sink,
}

impl Recorder {
    /// Creates the file (owner read/write only: evidence may describe a
    /// private endpoint). The file system call runs on the runtime's
    /// blocking threads: creating a file can take milliseconds (seen with
    /// ext4 in a directory tree where many files were just deleted), which
    /// must not hold up the streams read on this worker.
    pub(crate) async fn create(path: &Path) -> std::io::Result<Self> {
        writer()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let path = path.to_path_buf();
        let file = tokio::task::spawn_blocking(move || options.open(path))
            .await
            .map_err(std::io::Error::other)??;
        Ok(Self {
            sink: Sink::File(Arc::new(Target {
                file,
                error: Mutex::new(None),
            })),
        })
    }

    /// A recorder that keeps its lines in memory until [`Recorder::append`].
    pub(crate) fn memory() -> Self {
        Self {
            sink: Sink::Memory(Vec::new()),
        }
    }

    /// Writes one record as one line. An error is this record's (it
    /// cannot be serialized) or an earlier line's that failed to reach the
    /// file.
    pub(crate) fn write(&mut self, record: &Record) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(256);
        serde_json::to_writer(&mut line, record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        match &mut self.sink {
            Sink::File(target) => hand_over(target, line),
            Sink::Memory(lines) => {
                lines.extend_from_slice(&line);
                Ok(())
            }
        }
    }

    /// Appends the lines a memory recorder holds.
    pub(crate) fn append(&mut self, other: Recorder) -> std::io::Result<()> {
        let Sink::Memory(lines) = other.sink else {
            return Ok(());
        };
        match &mut self.sink {
            Sink::File(target) => hand_over(target, lines),
            Sink::Memory(mine) => {
                mine.extend_from_slice(&lines);
                Ok(())
            }
        }
    }

    /// Waits until every line written so far is in the file; the first
    /// error writing any of them.
    pub(crate) async fn sync(&mut self) -> std::io::Result<()> {
        let Sink::File(target) = &self.sink else {
            return Ok(());
        };
        let (done, written) = tokio::sync::oneshot::channel();
        writer()?.send(Job::Sync(done)).map_err(|_| stopped())?;
        written.await.map_err(|_| stopped())?;
        target.take_error().map_or(Ok(()), Err)
    }
}

/// Hands `lines` to the evidence writer, unless an earlier line failed.
fn hand_over(target: &Arc<Target>, lines: Vec<u8>) -> std::io::Result<()> {
    if let Some(e) = target.take_error() {
        return Err(e);
    }
    writer()?
        .send(Job::Write(Arc::clone(target), lines))
        .map_err(|_| stopped())
}

fn stopped() -> std::io::Error {
    std::io::Error::other("the evidence writer thread stopped")
}

/// The evidence writer's queue; the thread starts on first use and lives
/// as long as the process.
fn writer() -> std::io::Result<&'static SyncSender<Job>> {
    static WRITER: OnceLock<Result<SyncSender<Job>, String>> = OnceLock::new();
    WRITER
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
            std::thread::Builder::new()
                .name("tokencert-evidence".into())
                .spawn(move || write_all(&rx))
                .map(|_| tx)
                .map_err(|e| format!("cannot start the evidence writer thread: {e}"))
        })
        .as_ref()
        .map_err(|e| std::io::Error::other(e.clone()))
}

/// The evidence writer: writes each job's lines, keeping the first error
/// of each file (its later lines are dropped: the file is already
/// incomplete, and the recorder reports the error).
fn write_all(jobs: &Receiver<Job>) {
    for job in jobs {
        match job {
            Job::Write(target, lines) => {
                let Ok(mut error) = target.error.lock() else {
                    continue;
                };
                if error.is_none()
                    && let Err(e) = (&target.file).write_all(&lines)
                {
                    *error = Some(e);
                }
            }
            Job::Sync(done) => {
                // The recorder may have stopped waiting.
                let _ = done.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokencert_core::evidence::Outcome;

    #[tokio::test]
    async fn synced_lines_are_in_the_file_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("e.jsonl");
        let mut recorder = Recorder::create(&path).await.expect("created");
        let mut own = Recorder::memory();
        own.write(&Record::End {
            t_ns: 1,
            outcome: Outcome::Complete,
        })
        .expect("kept");
        for t_ns in 0..1000 {
            recorder
                .write(&Record::End {
                    t_ns,
                    outcome: Outcome::Complete,
                })
                .expect("handed over");
        }
        recorder.append(own).expect("appended");
        recorder.sync().await.expect("written");
        let text = std::fs::read_to_string(&path).expect("read");
        let times: Vec<u64> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["t_ns"].as_u64())
            .map(|t| t.expect("t_ns"))
            .collect();
        let mut expected: Vec<u64> = (0..1000).collect();
        expected.push(1);
        assert_eq!(times, expected);
    }

    #[tokio::test]
    async fn a_write_error_is_reported() {
        // /dev/full accepts the open and fails every write.
        let Ok(file) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
            return;
        };
        let mut recorder = Recorder {
            sink: Sink::File(Arc::new(Target {
                file,
                error: Mutex::new(None),
            })),
        };
        let end = Record::End {
            t_ns: 0,
            outcome: Outcome::Complete,
        };
        recorder.write(&end).expect("handed over");
        let e = recorder.sync().await.expect_err("the write failed");
        assert_eq!(e.raw_os_error(), Some(28), "{e}"); // ENOSPC
    }
}
