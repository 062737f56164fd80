//! Joining the shards' evidence of one performance case in plan order.
//!
//! Each shard's evidence file holds its share of the case's requests in
//! plan order, every request record carrying its `plan_index`. The join
//! is a k-way merge by plan index that streams line by line: response,
//! chunk and end records are copied byte for byte; a request record is
//! copied as is when its shard's times need no offset, else re-written
//! with `scheduled_ns` and `sent_ns` moved onto the common time axis. The
//! same function re-derives the merged file when a merged bundle is
//! verified, so the bytes are a function of the shards' evidence alone.

use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::evidence::{MAX_EVIDENCE_BYTES, Record};

/// One shard's evidence of a case, and how to place it on the common axis.
#[derive(Debug, Clone)]
pub struct ShardEvidence {
    /// The shard's index.
    pub index: u64,
    /// Its evidence file of the case; a missing file holds no request.
    pub path: PathBuf,
    /// Added to its `scheduled_ns` and `sent_ns` (ns).
    pub offset_ns: u64,
}

/// What a join wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Joined {
    /// Planned requests (exchanges with their re-sends).
    pub requests: u64,
    /// Evidence lines.
    pub lines: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Evidence that cannot be joined: the shard and line say where.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// A file could not be read or the output written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A shard's evidence breaks what a shard's evidence must be.
    #[error("shard {shard}, {path} line {line}: {message}")]
    Evidence {
        /// The shard's index.
        shard: u64,
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        message: String,
    },
}

/// A shard's evidence file, read one planned request (its exchanges) at
/// a time.
struct Reader {
    index: u64,
    count: u64,
    offset_ns: u64,
    path: PathBuf,
    lines: Option<BufReader<std::fs::File>>,
    line_no: u64,
    /// The next request line, read ahead, with its plan index.
    next: Option<(String, u64)>,
    last_index: Option<u64>,
}

impl Reader {
    fn open(source: &ShardEvidence, count: u64) -> Result<Self, JoinError> {
        let lines = match std::fs::File::open(&source.path) {
            Ok(file) => {
                let size = file
                    .metadata()
                    .map_err(|e| io_error(&source.path, e))?
                    .len();
                if size > MAX_EVIDENCE_BYTES {
                    return Err(JoinError::Evidence {
                        shard: source.index,
                        path: source.path.display().to_string(),
                        line: 0,
                        message: format!(
                            "the file is {size} bytes, over the {MAX_EVIDENCE_BYTES}-byte ceiling"
                        ),
                    });
                }
                Some(BufReader::with_capacity(1 << 16, file))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error(&source.path, e)),
        };
        let mut reader = Self {
            index: source.index,
            count,
            offset_ns: source.offset_ns,
            path: source.path.clone(),
            lines,
            line_no: 0,
            next: None,
            last_index: None,
        };
        reader.next = match reader.read_line()? {
            None => None,
            Some(line) => match reader.request_index(&line)? {
                Some(k) => Some((line, k)),
                None => return Err(reader.bad("the file does not start with a request record")),
            },
        };
        Ok(reader)
    }

    fn bad(&self, message: &str) -> JoinError {
        JoinError::Evidence {
            shard: self.index,
            path: self.path.display().to_string(),
            line: self.line_no,
            message: message.to_string(),
        }
    }

    /// The next complete line (without its newline); a last line without
    /// its newline is dropped, as the evidence parser drops it.
    fn read_line(&mut self) -> Result<Option<String>, JoinError> {
        let Some(lines) = self.lines.as_mut() else {
            return Ok(None);
        };
        loop {
            let mut line = String::new();
            let n = lines
                .read_line(&mut line)
                .map_err(|e| io_error(&self.path, e))?;
            if n == 0 || !line.ends_with('\n') {
                return Ok(None);
            }
            self.line_no += 1;
            line.pop();
            if !line.is_empty() {
                return Ok(Some(line));
            }
        }
    }

    /// The plan index of a request record; `None` for another record.
    fn request_index(&self, line: &str) -> Result<Option<u64>, JoinError> {
        let Some(record) = self.request_record(line)? else {
            return Ok(None);
        };
        let Record::Request {
            plan_index,
            attempt,
            ..
        } = record
        else {
            return Ok(None);
        };
        let Some(k) = plan_index else {
            return Err(
                self.bad("a request record without plan_index: not the evidence of a sharded load")
            );
        };
        if k % self.count != self.index {
            return Err(self.bad(&format!(
                "plan index {k} is not this shard's: {k} mod {} is {}, not {}",
                self.count,
                k % self.count,
                self.index
            )));
        }
        // A re-send repeats its request's index; anything else must rise.
        let rises = match self.last_index {
            None => true,
            Some(last) => k > last || (k == last && attempt > 0),
        };
        if !rises {
            return Err(self.bad(&format!(
                "plan index {k} after {}: the requests are not in plan order",
                self.last_index.unwrap_or_default()
            )));
        }
        Ok(Some(k))
    }

    /// Parses a line that is (or may be) a request record. Lines the
    /// driver writes start with their tag; anything else is parsed whole.
    fn request_record(&self, line: &str) -> Result<Option<Record>, JoinError> {
        const REQUEST: &str = "{\"record\":\"request\"";
        const OTHERS: [&str; 3] = [
            "{\"record\":\"response\"",
            "{\"record\":\"chunk\"",
            "{\"record\":\"end\"",
        ];
        if OTHERS.iter().any(|p| line.starts_with(p)) {
            return Ok(None);
        }
        let record: Record = serde_json::from_str(line)
            .map_err(|e| self.bad(&format!("not an evidence record: {e}")))?;
        if !line.starts_with(REQUEST) && !matches!(record, Record::Request { .. }) {
            return Ok(None);
        }
        Ok(Some(record))
    }

    /// Writes this shard's next planned request (its request line, with
    /// times offset, and every line up to the next request) to `out`.
    fn copy_request(&mut self, out: &mut impl Write, joined: &mut Joined) -> Result<(), JoinError> {
        let Some((first, k)) = self.next.take() else {
            return Ok(());
        };
        self.last_index = Some(k);
        let mut line = Some(self.offset(first)?);
        while let Some(text) = line {
            write_line(out, &text, joined)?;
            line = match self.read_line()? {
                None => None,
                Some(next) => match self.request_index(&next)? {
                    Some(k2) if k2 == k => Some(self.offset(next)?),
                    Some(k2) => {
                        self.next = Some((next, k2));
                        None
                    }
                    None => Some(next),
                },
            };
        }
        joined.requests += 1;
        Ok(())
    }

    /// The request line with its times moved by this shard's offset.
    fn offset(&self, line: String) -> Result<String, JoinError> {
        if self.offset_ns == 0 {
            return Ok(line);
        }
        let Some(mut record) = self.request_record(&line)? else {
            return Err(self.bad("expected a request record"));
        };
        let Record::Request {
            scheduled_ns,
            sent_ns,
            ..
        } = &mut record
        else {
            return Err(self.bad("expected a request record"));
        };
        for time in [scheduled_ns, sent_ns] {
            *time = time.map(|t| t.saturating_add(self.offset_ns));
        }
        serde_json::to_string(&record).map_err(|e| self.bad(&e.to_string()))
    }
}

fn io_error(path: &Path, source: std::io::Error) -> JoinError {
    JoinError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn write_line(out: &mut impl Write, text: &str, joined: &mut Joined) -> Result<(), JoinError> {
    let failed = |source| JoinError::Io {
        path: "the merged evidence".into(),
        source,
    };
    out.write_all(text.as_bytes()).map_err(failed)?;
    out.write_all(b"\n").map_err(failed)?;
    joined.lines += 1;
    joined.bytes += text.len() as u64 + 1;
    Ok(())
}

/// Writes the shards' evidence of one case to `out`, every planned
/// request in plan order (shard `I` of `count` holds the plan indexes
/// `k ≡ I (mod count)`), each shard's times moved by its offset.
///
/// # Errors
///
/// [`JoinError::Evidence`] naming the shard and line when a request has
/// no plan index, an index of another shard, or one out of order; I/O
/// errors as [`JoinError::Io`].
pub fn join_case(
    sources: &[ShardEvidence],
    count: u64,
    out: &mut impl Write,
) -> Result<Joined, JoinError> {
    let mut readers = sources
        .iter()
        .map(|s| Reader::open(s, count))
        .collect::<Result<Vec<_>, _>>()?;
    // The reader holding the smallest next plan index comes first.
    let mut heap: BinaryHeap<std::cmp::Reverse<(u64, usize)>> = readers
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.next.as_ref().map(|(_, k)| std::cmp::Reverse((*k, i))))
        .collect();
    let mut joined = Joined::default();
    while let Some(std::cmp::Reverse((_, i))) = heap.pop() {
        let reader = &mut readers[i];
        reader.copy_request(out, &mut joined)?;
        if let Some((_, k)) = &reader.next {
            heap.push(std::cmp::Reverse((*k, i)));
        }
    }
    Ok(joined)
}

/// A writer that passes its bytes on and digests them.
pub(super) struct Hashing<W> {
    inner: W,
    hash: sha2::Sha256,
}

impl<W: Write> Hashing<W> {
    pub(super) fn new(inner: W) -> Self {
        Self {
            inner,
            hash: sha2::Sha256::default(),
        }
    }

    /// The writer, and `sha256:<hex>` of everything written.
    pub(super) fn finish(self) -> (W, String) {
        use sha2::Digest;
        let digest: String = self
            .hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        (self.inner, format!("sha256:{digest}"))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
