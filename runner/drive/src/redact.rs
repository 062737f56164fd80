//! Keeps the target's API key out of evidence, even when a server echoes
//! it back in a header or splits it across body chunks.

pub(crate) use tokencert_core::evidence::REDACTED;

/// Redacts one key (if any) from text and from streamed bytes.
pub(crate) struct Redactor {
    key: Vec<u8>,
}

impl Redactor {
    /// A redactor for `key`; `None` or an empty key redacts nothing.
    pub(crate) fn new(key: Option<&str>) -> Self {
        Self {
            key: key.unwrap_or_default().as_bytes().to_vec(),
        }
    }

    /// `text` with every occurrence of the key replaced.
    pub(crate) fn text(&self, text: &str) -> String {
        match std::str::from_utf8(&self.key) {
            Ok(key) if !key.is_empty() => text.replace(key, REDACTED),
            _ => text.to_string(),
        }
    }

    /// A redactor for one body, which may split the key across chunks.
    pub(crate) fn body(&self) -> BodyRedactor<'_> {
        BodyRedactor {
            key: &self.key,
            held: Vec::new(),
        }
    }
}

/// Redacts a body chunk by chunk. Bytes at the end of a chunk that could
/// be the start of the key are held back until the next chunk shows
/// whether they are; only such bytes are ever delayed.
pub(crate) struct BodyRedactor<'a> {
    key: &'a [u8],
    held: Vec<u8>,
}

impl BodyRedactor<'_> {
    /// Takes the next chunk; returns the bytes that are safe to record now.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.key.is_empty() {
            return chunk.to_vec();
        }
        self.held.extend_from_slice(chunk);
        let mut out = Vec::with_capacity(self.held.len());
        let mut i = 0;
        while i < self.held.len() {
            let rest = &self.held[i..];
            if rest.starts_with(self.key) {
                out.extend_from_slice(REDACTED.as_bytes());
                i += self.key.len();
            } else if self.key.starts_with(rest) {
                break;
            } else {
                out.push(rest[0]);
                i += 1;
            }
        }
        self.held.drain(..i);
        out
    }

    /// The bytes still held back when the body ends (never the whole key).
    pub(crate) fn finish(self) -> Vec<u8> {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::Redactor;

    fn through(redactor: &Redactor, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut body = redactor.body();
        let out: Vec<Vec<u8>> = chunks.iter().map(|c| body.push(c)).collect();
        (out, body.finish())
    }

    #[test]
    fn a_key_split_across_chunks_is_redacted() {
        let r = Redactor::new(Some("sk-secret"));
        let (out, rest) = through(&r, &[b"echo: sk-se", b"cret!", b" sk-"]);
        assert_eq!(
            out,
            vec![b"echo: ".to_vec(), b"[REDACTED]!".to_vec(), b" ".to_vec()]
        );
        assert_eq!(rest, b"sk-", "a trailing key prefix is released at the end");
    }

    #[test]
    fn bytes_that_cannot_start_the_key_are_not_delayed() {
        let r = Redactor::new(Some("sk-secret"));
        let (out, rest) = through(&r, &[b"data: {}\n\n", b"data: [DONE]\n\n"]);
        assert_eq!(
            out,
            vec![b"data: {}\n\n".to_vec(), b"data: [DONE]\n\n".to_vec()]
        );
        assert!(rest.is_empty());
    }

    #[test]
    fn without_a_key_nothing_changes() {
        let r = Redactor::new(None);
        assert_eq!(r.text("Bearer x"), "Bearer x");
        assert_eq!(through(&r, &[b"sk-"]).0, vec![b"sk-".to_vec()]);
    }

    #[test]
    fn text_is_redacted_everywhere() {
        let r = Redactor::new(Some("k1"));
        assert_eq!(r.text("a k1 b k1"), "a [REDACTED] b [REDACTED]");
    }
}
