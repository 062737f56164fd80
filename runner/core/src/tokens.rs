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

use std::fmt;
use std::io::Read;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use tiktoken_rs::CoreBPE;

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
    Tiktoken(&'static CoreBPE),
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
            // `encode_ordinary` treats `<|endoftext|>` and the like as text.
            // tiktoken-rs unwraps the regex engine's result, and fancy-regex
            // can give up (backtrack limit) on pathological inputs: catch
            // that panic so that a hostile response is an error, not a crash.
            Encoder::Tiktoken(bpe) => {
                panic::catch_unwind(AssertUnwindSafe(|| bpe.encode_ordinary(text).len()))
                    .map_err(|payload| panic_message(payload.as_ref()))
            }
            Encoder::HuggingFace(tokenizer) => {
                match panic::catch_unwind(AssertUnwindSafe(|| tokenizer.encode_fast(text, false))) {
                    Ok(Ok(encoding)) => Ok(encoding.len()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(payload) => Err(panic_message(payload.as_ref())),
                }
            }
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

/// The shared `o200k_base` encoder, built on first use.
fn o200k_base() -> Result<&'static CoreBPE, TokenizerError> {
    static ENCODER: OnceLock<Result<CoreBPE, String>> = OnceLock::new();
    builtin(&ENCODER, O200K_BASE, tiktoken_rs::o200k_base)
}

/// The shared `cl100k_base` encoder, built on first use.
fn cl100k_base() -> Result<&'static CoreBPE, TokenizerError> {
    static ENCODER: OnceLock<Result<CoreBPE, String>> = OnceLock::new();
    builtin(&ENCODER, CL100K_BASE, tiktoken_rs::cl100k_base)
}

/// The encoder in `cell`, built by `build` the first time (concurrent first
/// callers wait for the one build).
fn builtin<E: fmt::Display>(
    cell: &'static OnceLock<Result<CoreBPE, String>>,
    name: &'static str,
    build: fn() -> Result<CoreBPE, E>,
) -> Result<&'static CoreBPE, TokenizerError> {
    cell.get_or_init(|| build().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|reason| TokenizerError::Builtin {
            name,
            reason: reason.clone(),
        })
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
        let o200k = o200k_base().expect("o200k_base builds");
        let cl100k = cl100k_base().expect("cl100k_base builds");
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
    }

    #[test]
    fn each_encoding_is_built_once() {
        let a = o200k_base().expect("builds");
        let b = o200k_base().expect("builds");
        assert!(std::ptr::eq(a, b));
        let c = cl100k_base().expect("builds");
        assert!(!std::ptr::eq(a, c));
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
