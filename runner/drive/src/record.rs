//! Writes evidence records to a case's JSONL file as they happen.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use tokencert_core::evidence::Record;

/// Where records go: the case's file, or memory for an exchange sent
/// alongside others (its lines are appended to the file once it is done,
/// so that each exchange's records stay together).
enum Sink {
    File(File),
    Memory(Vec<u8>),
}

/// Appends records to one evidence file, one line each, each handed to the
/// operating system before the next is made, so a killed run loses at most
/// the line being written.
pub(crate) struct Recorder {
    sink: Sink,
}

impl Recorder {
    /// Creates the file (owner read/write only: evidence may describe a
    /// private endpoint).
    pub(crate) fn create(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        Ok(Self {
            sink: Sink::File(options.open(path)?),
        })
    }

    /// A recorder that keeps its lines in memory until [`Recorder::append`].
    pub(crate) fn memory() -> Self {
        Self {
            sink: Sink::Memory(Vec::new()),
        }
    }

    /// Writes one record as one line.
    pub(crate) fn write(&mut self, record: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        match &mut self.sink {
            Sink::File(file) => file.write_all(&line),
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
            Sink::File(file) => file.write_all(&lines),
            Sink::Memory(mine) => {
                mine.extend_from_slice(&lines);
                Ok(())
            }
        }
    }
}
