//! Client-side token recount with the tokenizer a target declares.
//!
//! A target profile (and the plan in `run.json`) names a [`TokenizerSpec`]:
//! one of the two tiktoken encodings embedded in the binary (`o200k_base`,
//! the default, and `cl100k_base`) or a Hugging Face `tokenizer.json` file.
//! [`Tokenizer::load`] turns the spec into a [`Tokenizer`] whose
//! [`Tokenizer::count`] gives the number of tokens of ordinary text: text
//! that looks like a special token (`<|endoftext|>`, `[CLS]`, …) is counted
//! as the text it is, never as the special token, and no special tokens are
//! added around it.
//!
//! The tiktoken encoders take a noticeable time to build (their vocabularies
//! are decoded and hashed), so each is built at most once per process and
//! shared by every [`Tokenizer`] that uses it. Nothing here touches the
//! network: the tiktoken vocabularies are embedded by `tiktoken-rs`, and a
//! Hugging Face tokenizer is only ever read from a local file.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::io::Read;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use tiktoken_rs::{CoreBPE, Rank};

/// The largest `tokenizer.json` accepted, in bytes (64 MiB).
///
/// Real ones are far smaller (Llama 3's is about 9 MB, Gemma 3's about
/// 33 MB); the ceiling keeps a hostile or mistaken path from making the
/// runner read gigabytes.
pub const MAX_TOKENIZER_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Which tokenizer a target declares (in its target profile and in
/// `run.json`'s plan).
///
/// In YAML: `o200k_base` (the default), `cl100k_base`, or
/// `{hugging_face: path/to/tokenizer.json}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerSpec {
    /// tiktoken's `o200k_base` (GPT-4o, GPT-4.1, o-series, GPT-5): the
    /// encoding Artificial Analysis normalises token counts with.
    O200kBase,
    /// tiktoken's `cl100k_base` (GPT-4, GPT-3.5-turbo).
    Cl100kBase,
    /// A Hugging Face `tokenizer.json`; a relative path is resolved against
    /// the base directory given to [`Tokenizer::load`].
    HuggingFace(PathBuf),
}

impl Default for TokenizerSpec {
    /// `o200k_base`.
    fn default() -> Self {
        Self::O200kBase
    }
}

impl TokenizerSpec {
    /// A human-readable name: `o200k_base`, `cl100k_base`, or
    /// `<path as declared> (hugging face)`.
    pub fn name(&self) -> String {
        match self {
            Self::O200kBase => O200K_BASE.to_string(),
            Self::Cl100kBase => CL100K_BASE.to_string(),
            Self::HuggingFace(path) => format!("{} (hugging face)", path.display()),
        }
    }
}

const O200K_BASE: &str = "o200k_base";
const CL100K_BASE: &str = "cl100k_base";

/// Why a tokenizer could not be loaded or could not count a text.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// An embedded tiktoken encoding could not be built (a bug in the
    /// embedded data, never the user's input).
    #[error("the embedded {name} tokenizer could not be built: {reason}")]
    Builtin {
        /// `o200k_base` or `cl100k_base`.
        name: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The tokenizer file could not be read.
    #[error("{}: cannot read the tokenizer file: {source}", path.display())]
    Read {
        /// The file, as resolved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The tokenizer file is larger than [`MAX_TOKENIZER_FILE_BYTES`].
    #[error(
        "{}: the tokenizer file is larger than the {limit} bytes allowed ({size} bytes or more)",
        path.display()
    )]
    TooLarge {
        /// The file, as resolved.
        path: PathBuf,
        /// Its size as seen (at least `limit + 1`).
        size: u64,
        /// The ceiling, [`MAX_TOKENIZER_FILE_BYTES`].
        limit: u64,
    },
    /// The file is not a Hugging Face tokenizer (invalid JSON, or JSON that
    /// does not describe a tokenizer).
    #[error("{}: not a usable Hugging Face tokenizer.json: {reason}", path.display())]
    Invalid {
        /// The file, as resolved.
        path: PathBuf,
        /// What the tokenizers library said.
        reason: String,
    },
    /// The tokenizer could not encode a text (for instance a word-level
    /// model without an unknown token meeting an unknown word).
    #[error("the {name} tokenizer cannot count this text: {reason}")]
    Encode {
        /// The tokenizer's [`Tokenizer::name`].
        name: String,
        /// What the encoder said.
        reason: String,
    },
}

/// A loaded tokenizer, counting tokens of ordinary text (special-token
/// look-alikes count as text).
///
/// Cheap to clone: the encoders are shared.
#[derive(Clone)]
pub struct Tokenizer {
    name: String,
    encoder: Encoder,
}

/// The encoder behind a [`Tokenizer`].
#[derive(Clone)]
enum Encoder {
    /// A tiktoken encoding, built once per process.
    Tiktoken(&'static Builtin),
    /// A Hugging Face tokenizer, with truncation and padding switched off
    /// and special tokens encoded as text.
    HuggingFace(Arc<tokenizers::Tokenizer>),
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The vocabularies are hundreds of thousands of entries: name only.
        let kind = match self.encoder {
            Encoder::Tiktoken(_) => "tiktoken",
            Encoder::HuggingFace(_) => "hugging face",
        };
        f.debug_struct("Tokenizer")
            .field("name", &self.name)
            .field("kind", &kind)
            .finish()
    }
}

impl Tokenizer {
    /// Loads the tokenizer `spec` names; `base` resolves a relative Hugging
    /// Face path (typically the directory of the target profile).
    ///
    /// The tiktoken encodings are built on first use and then shared (at
    /// most one build each per process). A Hugging Face file is read whole,
    /// after checking it is at most [`MAX_TOKENIZER_FILE_BYTES`]; truncation
    /// and padding it may configure are switched off, so that the count is
    /// that of the whole text.
    ///
    /// # Errors
    ///
    /// A [`TokenizerError`] naming the file and why when a Hugging Face file
    /// is missing, unreadable, too large or not a tokenizer;
    /// [`TokenizerError::Builtin`] if an embedded encoding cannot be built.
    pub fn load(spec: &TokenizerSpec, base: &Path) -> Result<Tokenizer, TokenizerError> {
        let encoder = match spec {
            TokenizerSpec::O200kBase => Encoder::Tiktoken(o200k_base()?),
            TokenizerSpec::Cl100kBase => Encoder::Tiktoken(cl100k_base()?),
            TokenizerSpec::HuggingFace(path) => {
                Encoder::HuggingFace(Arc::new(load_hugging_face(&base.join(path))?))
            }
        };
        Ok(Tokenizer {
            name: spec.name(),
            encoder,
        })
    }

    /// The number of tokens of `text`, encoded as ordinary text: no special
    /// tokens added (`add_special_tokens = false`), and text that looks
    /// like a special token counted as text.
    ///
    /// Never panics, whatever the text.
    ///
    /// # Errors
    ///
    /// [`TokenizerError::Encode`] when the encoder fails: a Hugging Face
    /// tokenizer can refuse a text (a word-level model without an unknown
    /// token meeting an unknown word, a regular expression giving up on a
    /// pathological input). The embedded tiktoken encodings do not fail on
    /// any text the tests found; should their regular expression give up,
    /// that is reported the same way rather than as a panic.
    pub fn count(&self, text: &str) -> Result<usize, TokenizerError> {
        let counted = match &self.encoder {
            // Caught panics are a last resort: tiktoken-rs unwraps the regex
            // engine's result, and `Builtin::count` exists so that it never
            // has to (see there).
            Encoder::Tiktoken(builtin) => {
                panic::catch_unwind(AssertUnwindSafe(|| builtin.count(text, LONG_RUN)))
                    .map_err(|payload| panic_message(payload.as_ref()))
            }
            Encoder::HuggingFace(tokenizer) => count_hugging_face(tokenizer, text),
        };
        counted.map_err(|reason| TokenizerError::Encode {
            name: self.name.clone(),
            reason,
        })
    }

    /// The name of the tokenizer, as [`TokenizerSpec::name`] gives it.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The text of a caught panic.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string());
    format!("the encoder panicked: {what}")
}

/// Horizontal whitespace runs at least this many characters long are split
/// off and merged by [`Builtin::piece_len`] rather than by tiktoken's regex.
///
/// tiktoken's pre-tokenizer regex matches such a run with `\s+(?!\S)`,
/// which fancy-regex runs on its backtracking machine with one stack entry
/// per character: about a million spaces overflow its stack (1,000,000
/// entries) and tiktoken-rs panics (`RuntimeError(StackOverflow)`, with
/// o200k_base for a run followed by anything or nothing, with cl100k_base
/// for a run followed by a non-space). 4096 keeps far below that.
const LONG_RUN: usize = 4096;

/// An embedded tiktoken encoding and, built only if a text needs it, its
/// ranks by token bytes.
struct Builtin {
    bpe: CoreBPE,
    /// Whether the encoding's regex also overflows on a run that ends the
    /// text (o200k_base's does; cl100k_base matches that case with the
    /// possessive `\s++$`, which does not backtrack).
    trailing_run_overflows: bool,
    ranks: OnceLock<HashMap<Vec<u8>, Rank>>,
}

impl Builtin {
    /// The number of tokens of `text` encoded as ordinary text, exactly as
    /// `encode_ordinary(text).len()` but without running the regex over
    /// horizontal whitespace runs of `long` characters or more.
    ///
    /// Why the split is exact, for both encodings' regexes (which have no
    /// look-behind, so matching from a position depends only on the text
    /// from there on). Let H be the part of a maximal whitespace run after
    /// its last `\r` or `\n` (all of it if it has none), at least two
    /// characters long. A match boundary falls where H starts: the
    /// character before is a non-space, which no pattern extends into
    /// horizontal whitespace, or the run's last line break, where every
    /// pattern that can cover it stops (`\s*[\r\n]` backs off to it, a
    /// `[\r\n/]*` tail stops at a space). From H's start, every
    /// alternative before `\s+(?!\S)` fails (the first two characters are
    /// spaces and no line break follows), so if a non-space follows H the
    /// piece is H less its last character, and matching resumes at that
    /// character as if the text began there; if H ends the text, the piece
    /// is H (o200k_base through `\s+(?!\S)`; cl100k_base's `\s++$` would
    /// take the whole run, line breaks included, so there the regex, which
    /// does not overflow, keeps that case). The text before H, encoded
    /// alone, gives the same pieces as within the whole text: the pieces
    /// that end at H's start end there either way. The unit tests check
    /// the equivalence on random texts with `long` = 2.
    fn count(&self, text: &str, long: usize) -> usize {
        let mut total = 0;
        let mut cursor = 0;
        for run in horizontal_runs(text, long) {
            let at_end = run.end == text.len();
            if at_end && !self.trailing_run_overflows {
                continue;
            }
            total += self.bpe.encode_ordinary(&text[cursor..run.start]).len();
            let piece_end = if at_end { run.end } else { run.last };
            total += self.piece_len(&text.as_bytes()[run.start..piece_end]);
            cursor = piece_end;
        }
        total + self.bpe.encode_ordinary(&text[cursor..]).len()
    }

    /// The number of tokens byte-pair encoding gives one regex piece, as
    /// tiktoken computes it: the piece itself if it is a token, else
    /// repeated merges of the adjacent pair whose bytes have the lowest
    /// rank (the leftmost of equal ranks) until no pair is a token.
    fn piece_len(&self, piece: &[u8]) -> usize {
        let ranks = self.ranks.get_or_init(|| rank_map(&self.bpe));
        if piece.len() <= 1 || ranks.contains_key(piece) {
            return piece.len().min(1);
        }
        let n = piece.len();
        let rank = |from: usize, to: usize| piece.get(from..to).and_then(|b| ranks.get(b));
        // Parts as a linked list over their start offsets.
        let mut end: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<Option<usize>> = (0..n).map(|i| i.checked_sub(1)).collect();
        let mut alive = vec![true; n];
        // Candidate merges: (rank, start of left part, end of right part).
        let mut heap: BinaryHeap<_> = (0..n - 1)
            .filter_map(|i| rank(i, i + 2).map(|&r| Reverse((r, i, i + 2))))
            .collect();
        let mut parts = n;
        while let Some(Reverse((_, start, pair_end))) = heap.pop() {
            // Stale unless `start` is still a part whose next part ends at
            // `pair_end` (then the pair's bytes, and so its rank, are the
            // ones pushed).
            let mid = end[start];
            if !alive[start] || mid >= n || end[mid] != pair_end {
                continue;
            }
            alive[mid] = false;
            end[start] = pair_end;
            parts -= 1;
            if pair_end < n {
                prev[pair_end] = Some(start);
                if let Some(&r) = rank(start, end[pair_end]) {
                    heap.push(Reverse((r, start, end[pair_end])));
                }
            }
            if let Some(p) = prev[start]
                && let Some(&r) = rank(p, pair_end)
            {
                heap.push(Reverse((r, p, pair_end)));
            }
        }
        parts
    }
}

/// The encoding's ordinary tokens by their bytes, recovered by decoding
/// every rank (tiktoken-rs does not expose its own map).
fn rank_map(bpe: &CoreBPE) -> HashMap<Vec<u8>, Rank> {
    // Above both encodings' largest rank (o200k_base: 200,018).
    const RANKS: Rank = 1 << 18;
    let special: Vec<&[u8]> = bpe
        .special_tokens()
        .into_iter()
        .map(str::as_bytes)
        .collect();
    (0..RANKS)
        .filter_map(|r| bpe.decode_bytes(&[r]).ok().map(|bytes| (bytes, r)))
        .filter(|(bytes, _)| !special.contains(&bytes.as_slice()))
        .collect()
}

/// A horizontal whitespace run (byte offsets).
struct Run {
    start: usize,
    /// Where its last character starts.
    last: usize,
    end: usize,
}

/// The horizontal whitespace runs of `text` of at least `long` characters
/// that end a maximal whitespace run: each is the part of a maximal run of
/// whitespace after its last `\r` or `\n`.
fn horizontal_runs(text: &str, long: usize) -> impl Iterator<Item = Run> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        loop {
            let (start, c) = chars.next()?;
            if !c.is_whitespace() || c == '\r' || c == '\n' {
                continue;
            }
            let (mut last, mut len) = (start, 1);
            while let Some(&(i, c)) = chars.peek() {
                if !c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\r' || c == '\n' {
                    // Not the end of the whitespace run: start again after it.
                    len = 0;
                    break;
                }
                (last, len) = (i, len + 1);
            }
            if len == 0 {
                continue;
            }
            let end = chars.peek().map_or(text.len(), |&(i, _)| i);
            if len >= long.max(2) {
                return Some(Run { start, last, end });
            }
        }
    })
}

/// The shared `o200k_base` encoder, built on first use.
fn o200k_base() -> Result<&'static Builtin, TokenizerError> {
    static ENCODER: OnceLock<Result<Builtin, String>> = OnceLock::new();
    builtin(&ENCODER, O200K_BASE, tiktoken_rs::o200k_base, true)
}

/// The shared `cl100k_base` encoder, built on first use.
fn cl100k_base() -> Result<&'static Builtin, TokenizerError> {
    static ENCODER: OnceLock<Result<Builtin, String>> = OnceLock::new();
    builtin(&ENCODER, CL100K_BASE, tiktoken_rs::cl100k_base, false)
}

/// The encoder in `cell`, built by `build` the first time (concurrent first
/// callers wait for the one build).
fn builtin<E: fmt::Display>(
    cell: &'static OnceLock<Result<Builtin, String>>,
    name: &'static str,
    build: fn() -> Result<CoreBPE, E>,
    trailing_run_overflows: bool,
) -> Result<&'static Builtin, TokenizerError> {
    cell.get_or_init(|| {
        build()
            .map(|bpe| Builtin {
                bpe,
                trailing_run_overflows,
                ranks: OnceLock::new(),
            })
            .map_err(|e| format!("{e:#}"))
    })
    .as_ref()
    .map_err(|reason| TokenizerError::Builtin {
        name,
        reason: reason.clone(),
    })
}

/// Whitespace runs at least this many characters long make
/// [`Tokenizer::count`] refuse the text when the tokenizer is a Hugging Face
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
fn count_hugging_face(tokenizer: &tokenizers::Tokenizer, text: &str) -> Result<usize, String> {
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

/// Reads and parses a Hugging Face `tokenizer.json`, refusing files over
/// [`MAX_TOKENIZER_FILE_BYTES`] before reading them (and while reading, in
/// case the file grows or is not a regular file).
fn load_hugging_face(path: &Path) -> Result<tokenizers::Tokenizer, TokenizerError> {
    let read_error = |source| TokenizerError::Read {
        path: path.to_path_buf(),
        source,
    };
    let too_large = |size| TokenizerError::TooLarge {
        path: path.to_path_buf(),
        size,
        limit: MAX_TOKENIZER_FILE_BYTES,
    };
    let invalid = |reason: String| TokenizerError::Invalid {
        path: path.to_path_buf(),
        reason,
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

    /// Token ids from OpenAI's cookbook "How to count tokens with tiktoken",
    /// section 5, "Comparing encodings".
    #[test]
    fn ids_match_the_cookbook() {
        let o200k = &o200k_base().expect("o200k_base builds").bpe;
        let cl100k = &cl100k_base().expect("cl100k_base builds").bpe;
        assert_eq!(
            o200k.encode_ordinary("お誕生日おめでとう"),
            [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669]
        );
        assert_eq!(
            cl100k.encode_ordinary("お誕生日おめでとう"),
            [33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699]
        );
        assert_eq!(
            o200k.encode_ordinary("antidisestablishmentarianism"),
            [493, 129901, 376, 160388, 21203, 2367]
        );
        assert_eq!(
            cl100k.encode_ordinary("antidisestablishmentarianism"),
            [519, 85342, 34500, 479, 8997, 2191]
        );
        assert_eq!(
            o200k.encode_ordinary("tiktoken is great!"),
            [83, 8251, 2488, 382, 2212, 0]
        );
        // tiktoken's README and countless examples.
        assert_eq!(cl100k.encode_ordinary("hello world"), [15339, 1917]);
    }

    /// A small deterministic generator (xorshift64*), for random texts.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33;
            usize::try_from(x).expect("fits") % n
        }
    }

    /// Texts made of the pieces both regexes treat specially: every kind
    /// of whitespace and line break, letters of both cases, marks, digits,
    /// punctuation, contractions, CJK, emoji, special-token look-alikes,
    /// and runs of spaces.
    fn random_text(rng: &mut Rng) -> String {
        #[rustfmt::skip]
        const PIECES: &[&str] = &[
            " ", " ", " ", "  ", "\t", "\u{a0}", "\u{3000}", "\u{2028}", "\u{85}", "\u{b}",
            "\n", "\n", "\r\n", "\r", "a", "x", "Hello", "WORLD", "the", "7", "2024", "!",
            "?!", "/", ".", ",", "'s", "'LL", "'", "é", "e\u{301}", "\u{301}", "日本語", "お",
            "👍", "👩‍👩‍👧", "<|endoftext|>", "\0", "-", "_", "(", ")", "\"",
        ];
        let mut text = String::new();
        for _ in 0..rng.below(40) {
            if rng.below(8) == 0 {
                let ws = [" ", "\t", "\u{a0}", "\u{3000}"][rng.below(4)];
                text.push_str(&ws.repeat(2 + rng.below(40)));
            } else {
                text.push_str(PIECES[rng.below(PIECES.len())]);
            }
        }
        text
    }

    /// [`Builtin::count`] splits off every horizontal run of two or more
    /// characters (instead of 4096) and must still agree with tiktoken's
    /// own `encode_ordinary` on every text.
    #[test]
    fn the_split_agrees_with_the_regex() {
        for (name, b) in [
            ("o200k_base", o200k_base().expect("builds")),
            ("cl100k_base", cl100k_base().expect("builds")),
        ] {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            for _ in 0..3000 {
                let text = random_text(&mut rng);
                let expected = b.bpe.encode_ordinary(&text).len();
                for long in [2, 3, 17] {
                    assert_eq!(
                        b.count(&text, long),
                        expected,
                        "{name}, long {long}: {text:?}"
                    );
                }
            }
            // Long runs, below where the regex overflows.
            for text in [
                format!("x{}y", " ".repeat(300_000)),
                format!("{}y", "\t ".repeat(100_000)),
                format!("x\n{}", " ".repeat(300_000)),
                format!("x{}", "\u{3000}".repeat(100_000)),
                format!("a\r\n  {}\n{}.", " ".repeat(5000), "\u{a0}".repeat(5000)),
            ] {
                let expected = b.bpe.encode_ordinary(&text).len();
                assert_eq!(
                    b.count(&text, LONG_RUN),
                    expected,
                    "{name}: {} bytes",
                    text.len()
                );
            }
        }
    }

    /// [`Builtin::piece_len`] against tiktoken's byte-pair merge, on pieces
    /// the regex keeps whole: whitespace ending a text, and words (short
    /// ones, and long ones that take tiktoken's other merge routine).
    #[test]
    fn piece_len_agrees_with_tiktoken() {
        for b in [
            o200k_base().expect("builds"),
            cl100k_base().expect("builds"),
        ] {
            let mut rng = Rng(7);
            for _ in 0..500 {
                let len = 2 + rng.below(300);
                let piece: String = (0..len)
                    .map(|_| [' ', ' ', ' ', '\t', '\u{a0}', '\u{3000}'][rng.below(6)])
                    .collect();
                let expected = b.bpe.encode_ordinary(&piece).len();
                assert_eq!(b.piece_len(piece.as_bytes()), expected, "{piece:?}");
            }
            for word in [
                "antidisestablishmentarianism",
                "pneumonoultramicroscopicsilicovolcanoconiosis",
                &"abracadabra".repeat(40),
                &"a".repeat(1000),
                &"zq".repeat(333),
            ] {
                let expected = b.bpe.encode_ordinary(word).len();
                assert_eq!(b.piece_len(word.as_bytes()), expected, "{word}");
            }
        }
    }

    #[test]
    fn every_ordinary_rank_is_recovered() {
        let o = rank_map(&o200k_base().expect("builds").bpe);
        let c = rank_map(&cl100k_base().expect("builds").bpe);
        assert_eq!((o.len(), c.len()), (199_998, 100_256));
        assert!(!o.contains_key(b"<|endoftext|>".as_slice()));
        for ranks in [&o, &c] {
            assert!(ranks.contains_key(" ".repeat(128).as_bytes()));
            assert!(!ranks.contains_key(" ".repeat(129).as_bytes()));
        }
    }

    #[test]
    fn runs_found() {
        let runs: Vec<(usize, usize, usize)> = horizontal_runs("a   b\n  \t\n \u{3000}", 2)
            .map(|r| (r.start, r.last, r.end))
            .collect();
        // "   " at 1..4; "  \t" is followed by a line break; " \u{3000}" ends the text.
        assert_eq!(runs, [(1, 3, 4), (10, 11, 14)]);
        assert_eq!(longest_whitespace_run("a \n\t b   "), 4);
        assert_eq!(longest_whitespace_run(""), 0);
    }

    #[test]
    fn each_encoding_is_built_once() {
        let a = o200k_base().expect("builds");
        let b = o200k_base().expect("builds");
        assert!(std::ptr::eq(a, b));
        let c = cl100k_base().expect("builds");
        assert!(!std::ptr::eq(a, c));
        assert!(a.trailing_run_overflows && !c.trailing_run_overflows);
    }

    #[test]
    fn tokenizers_are_shareable_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Tokenizer>();
    }

    #[test]
    fn debug_names_without_the_vocabulary() {
        let t = Tokenizer::load(&TokenizerSpec::Cl100kBase, Path::new(".")).expect("loads");
        assert_eq!(
            format!("{t:?}"),
            r#"Tokenizer { name: "cl100k_base", kind: "tiktoken" }"#
        );
    }

    #[test]
    fn panic_messages_are_kept() {
        let p = panic::catch_unwind(|| std::panic::panic_any("boom")).expect_err("panics");
        assert_eq!(panic_message(p.as_ref()), "the encoder panicked: boom");
    }
}
