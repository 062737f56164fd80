//! Writes evidence records to a case's JSONL file as they happen.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use tokencert_core::evidence::Record;

/// Appends records to one evidence file, one line each, each handed to the
/// operating system before the next is made, so a killed run loses at most
/// the line being written.
pub(crate) struct Recorder {
    file: File,
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
            file: options.open(path)?,
        })
    }

    /// Writes one record as one line.
    pub(crate) fn write(&mut self, record: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)
    }
}
