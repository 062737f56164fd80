//! Hugging Face `tokenizer.json` files: read with a size ceiling, counted
//! with truncation and padding off and special-token look-alikes as text.

use std::io::Read;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use super::{MAX_TOKENIZER_FILE_BYTES, TokenizerError, panic_message};

/// Whitespace runs at least this many characters long make
/// [`Tokenizer::count`](super::Tokenizer::count) refuse the text when the tokenizer is a Hugging Face
/// one: its regex engine could split them wrongly without saying so.
pub const HUGGING_FACE_MAX_WHITESPACE_RUN: usize = 100_000;

/// The number of tokens a Hugging Face tokenizer gives `text`.
///
/// Pre-tokenizers built on the same kind of regex as tiktoken's
/// (`\s+(?!\S)`: GPT-2's ByteLevel, the Split patterns of Llama 3 or
/// Qwen) overflow fancy-regex's backtracking stack on a long enough
/// whitespace run, and the tokenizers library then silently stops splitting
/// and encodes the rest of the text as one piece: a wrong count, with no
/// error. A text with a whitespace run of
/// [`HUGGING_FACE_MAX_WHITESPACE_RUN`] characters or more is refused
/// instead. (The tokenizer's pipeline is arbitrary, so the exact split used
/// for tiktoken is not available here.)
pub(super) fn count_hugging_face(
    tokenizer: &tokenizers::Tokenizer,
    text: &str,
) -> Result<usize, String> {
    let longest = longest_whitespace_run(text);
    if longest >= HUGGING_FACE_MAX_WHITESPACE_RUN {
        return Err(format!(
            "the text has a run of {longest} whitespace characters; runs of \
             {HUGGING_FACE_MAX_WHITESPACE_RUN} or more can be split wrongly by the regex engine"
        ));
    }
    match panic::catch_unwind(AssertUnwindSafe(|| tokenizer.encode_fast(text, false))) {
        Ok(Ok(encoding)) => Ok(encoding.len()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(payload) => Err(panic_message(payload.as_ref())),
    }
}

/// The length in characters of the longest whitespace run of `text`.
fn longest_whitespace_run(text: &str) -> usize {
    let (mut longest, mut current) = (0, 0);
    for c in text.chars() {
        current = if c.is_whitespace() { current + 1 } else { 0 };
        longest = longest.max(current);
    }
    longest
}

/// Reads a tokenizer file whole, refusing files over
/// [`MAX_TOKENIZER_FILE_BYTES`] before reading them (and while reading, in
/// case the file grows or is not a regular file).
pub(super) fn read_bounded(path: &Path) -> Result<Vec<u8>, TokenizerError> {
    let read_error = |source| TokenizerError::Read {
        path: path.to_path_buf(),
        source,
    };
    let too_large = |size| TokenizerError::TooLarge {
        path: path.to_path_buf(),
        size,
        limit: MAX_TOKENIZER_FILE_BYTES,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    if size > MAX_TOKENIZER_FILE_BYTES {
        return Err(too_large(size));
    }
    let mut bytes = Vec::new();
    file.take(MAX_TOKENIZER_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if read > MAX_TOKENIZER_FILE_BYTES {
        return Err(too_large(read));
    }
    Ok(bytes)
}

/// Reads and parses a Hugging Face `tokenizer.json` (see [`read_bounded`]).
pub(super) fn load_hugging_face(path: &Path) -> Result<tokenizers::Tokenizer, TokenizerError> {
    let invalid = |reason: String| TokenizerError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = read_bounded(path)?;
    let mut tokenizer = panic::catch_unwind(|| tokenizers::Tokenizer::from_bytes(&bytes))
        .map_err(|payload| invalid(panic_message(payload.as_ref())))?
        .map_err(|e| invalid(e.to_string()))?;
    // Count the whole text: a truncating tokenizer would undercount, a
    // padding one overcount.
    tokenizer
        .with_truncation(None)
        .map_err(|e| invalid(e.to_string()))?;
    tokenizer.with_padding(None);
    // Special-token look-alikes in a text are text.
    tokenizer.set_encode_special_tokens(true);
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_runs_found() {
        assert_eq!(longest_whitespace_run("a \n\t b   "), 4);
        assert_eq!(longest_whitespace_run(""), 0);
    }
}
