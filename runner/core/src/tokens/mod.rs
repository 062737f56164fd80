//! Client-side token recount with the tokenizer a target declares.
//!
//! A target profile (and the plan in `run.json`) names a [`TokenizerSpec`]:
//! one of the two tiktoken encodings embedded in the binary (`o200k_base`,
//! the default, and `cl100k_base`), a Hugging Face `tokenizer.json` file, or
//! a GGUF file (a llama.cpp model, or a tokenizer-only GGUF extracted from
//! one) whose SentencePiece vocabulary is counted as llama.cpp counts it.
//! [`Tokenizer::load`] turns the spec into a [`Tokenizer`] whose
//! [`Tokenizer::count`] gives the number of tokens of ordinary text: text
//! that looks like a special token (`<|endoftext|>`, `[CLS]`, …) is counted
//! as the text it is, never as the special token, and no special tokens are
//! added around it. (A GGUF vocabulary's user-defined tokens, such as
//! Gemma's runs of newlines or `<table>`, are the one exception: llama.cpp
//! splits them out of any text, and so does the count.)
//!
//! The tiktoken encoders take a noticeable time to build (their vocabularies
//! are decoded and hashed), so each is built at most once per process and
//! shared by every [`Tokenizer`] that uses it. Nothing here touches the
//! network: the tiktoken vocabularies are embedded by `tiktoken-rs`, and a
//! tokenizer file is only ever read from a local path.
//!
//! A bundle must be re-judgeable offline, so a run copies the declared
//! tokenizer into it with [`TokenizerSpec::copy_into`]: a GGUF model (often
//! hundreds of megabytes) is reduced to its tokenizer there.

mod gguf;
mod hugging_face;
mod spm;
mod tiktoken;

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use hugging_face::HUGGING_FACE_MAX_WHITESPACE_RUN;
use hugging_face::{count_hugging_face, load_hugging_face};
use tiktoken::{Builtin, LONG_RUN, cl100k_base, o200k_base};

/// The largest `tokenizer.json` accepted, in bytes (64 MiB).
///
/// Real ones are far smaller (Llama 3's is about 9 MB, Gemma 3's about
/// 33 MB); the ceiling keeps a hostile or mistaken path from making the
/// runner read gigabytes.
pub const MAX_TOKENIZER_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Which tokenizer a target declares (in its target profile and in
/// `run.json`'s plan).
///
/// In YAML: `o200k_base` (the default), `cl100k_base`,
/// `{hugging_face: path/to/tokenizer.json}` or `{gguf: path/to/model.gguf}`.
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
    /// A GGUF file (a model, or a tokenizer-only GGUF) whose
    /// `tokenizer.ggml.model` is `llama` (SentencePiece with scores:
    /// Llama 2, Gemma, Phi-3, ...), counted exactly as llama.cpp's
    /// `llama_tokenize` with neither BOS nor special-token parsing; a
    /// relative path is resolved against the base directory given to
    /// [`Tokenizer::load`]. Only the key/value section is read.
    Gguf(PathBuf),
}

/// The name a Hugging Face tokenizer copied into a bundle gets.
pub const BUNDLE_TOKENIZER_JSON: &str = "tokenizer.json";

/// The name the tokenizer-only GGUF written into a bundle gets.
pub const BUNDLE_TOKENIZER_GGUF: &str = "tokenizer.gguf";

impl Default for TokenizerSpec {
    /// `o200k_base`.
    fn default() -> Self {
        Self::O200kBase
    }
}

impl TokenizerSpec {
    /// A human-readable name: `o200k_base`, `cl100k_base`,
    /// `<path as declared> (hugging face)` or `<path as declared> (gguf)`.
    pub fn name(&self) -> String {
        match self {
            Self::O200kBase => O200K_BASE.to_string(),
            Self::Cl100kBase => CL100K_BASE.to_string(),
            Self::HuggingFace(path) => format!("{} (hugging face)", path.display()),
            Self::Gguf(path) => format!("{} (gguf)", path.display()),
        }
    }

    /// Copies the tokenizer this spec names into `bundle_dir`, so that the
    /// bundle can be re-judged without the original file, and returns the
    /// spec that names the copy (a path relative to `bundle_dir`). `base`
    /// resolves a relative path, as in [`Tokenizer::load`].
    ///
    /// A Hugging Face file is copied whole to [`BUNDLE_TOKENIZER_JSON`]
    /// (after the same size check as loading). Of a GGUF file, only the
    /// key/value pairs a tokenizer needs (`tokenizer.*`,
    /// `general.architecture` and `general.name`) are written, as a GGUF
    /// file without tensors, to [`BUNDLE_TOKENIZER_GGUF`]: a few megabytes
    /// instead of the whole model, and it counts the same. The copy is
    /// readable and writable by its owner only (0o600 on unix), like every
    /// bundle file. The embedded encodings need no file: their spec is
    /// returned unchanged and nothing is written.
    ///
    /// # Errors
    ///
    /// [`TokenizerError::Read`], [`TokenizerError::TooLarge`] or
    /// [`TokenizerError::Gguf`] when the source cannot be read or is not
    /// what it claims; [`TokenizerError::Write`] when the copy cannot be
    /// written.
    pub fn copy_into(
        &self,
        base: &Path,
        bundle_dir: &Path,
    ) -> Result<TokenizerSpec, TokenizerError> {
        let (bytes, name) = match self {
            Self::O200kBase | Self::Cl100kBase => return Ok(self.clone()),
            Self::HuggingFace(path) => (
                hugging_face::read_bounded(&base.join(path))?,
                BUNDLE_TOKENIZER_JSON,
            ),
            Self::Gguf(path) => (
                gguf::Metadata::read(&base.join(path), keep_for_tokenizer)?.to_bytes(),
                BUNDLE_TOKENIZER_GGUF,
            ),
        };
        let copy = bundle_dir.join(name);
        crate::bundle::write_private(&copy, &bytes)
            .map_err(|source| TokenizerError::Write { path: copy, source })?;
        Ok(match self {
            Self::Gguf(_) => Self::Gguf(name.into()),
            _ => Self::HuggingFace(name.into()),
        })
    }
}

/// Whether a GGUF key is kept for counting: the tokenizer's keys, the
/// architecture, and the model's name (llama.cpp sets Phi-3's token
/// attributes by name).
fn keep_for_tokenizer(key: &str) -> bool {
    key.starts_with("tokenizer.") || key == "general.architecture" || key == "general.name"
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
    /// The GGUF file is not a usable tokenizer: not GGUF, truncated,
    /// implausibly large, or a vocabulary llama.cpp would refuse.
    #[error("{}: not a usable GGUF tokenizer: {reason}", path.display())]
    Gguf {
        /// The file, as resolved.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The GGUF file's vocabulary is not a SentencePiece (`llama`) one.
    #[error(
        "{}: its tokenizer.ggml.model is {model:?}; only \"llama\" (SentencePiece) vocabularies \
         are counted from a GGUF file: declare the model's Hugging Face tokenizer.json instead \
         (tokenizer: {{hugging_face: path/to/tokenizer.json}})",
        path.display()
    )]
    UnsupportedGgufModel {
        /// The file, as resolved.
        path: PathBuf,
        /// The declared model type (`gpt2`, `bert`, ...).
        model: String,
    },
    /// A tokenizer copy could not be written into a bundle.
    #[error("{}: cannot write the tokenizer copy: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
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
    /// A SentencePiece vocabulary from a GGUF file, counted as llama.cpp.
    Gguf(Arc<spm::Spm>),
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The vocabularies are hundreds of thousands of entries: name only.
        let kind = match self.encoder {
            Encoder::Tiktoken(_) => "tiktoken",
            Encoder::HuggingFace(_) => "hugging face",
            Encoder::Gguf(_) => "gguf",
        };
        f.debug_struct("Tokenizer")
            .field("name", &self.name)
            .field("kind", &kind)
            .finish()
    }
}

impl Tokenizer {
    /// Loads the tokenizer `spec` names; `base` resolves a relative file
    /// path (typically the directory of the target profile).
    ///
    /// The tiktoken encodings are built on first use and then shared (at
    /// most one build each per process). A Hugging Face file is read whole,
    /// after checking it is at most [`MAX_TOKENIZER_FILE_BYTES`]; truncation
    /// and padding it may configure are switched off, so that the count is
    /// that of the whole text. Of a GGUF file only the key/value section is
    /// read, each length checked against the file's size, and only the
    /// tokenizer's values kept (at most [`MAX_TOKENIZER_FILE_BYTES`] of
    /// them).
    ///
    /// # Errors
    ///
    /// A [`TokenizerError`] naming the file and why when a tokenizer file
    /// is missing, unreadable, too large or not a tokenizer
    /// ([`TokenizerError::UnsupportedGgufModel`] for a GGUF vocabulary that
    /// is not SentencePiece); [`TokenizerError::Builtin`] if an embedded
    /// encoding cannot be built.
    pub fn load(spec: &TokenizerSpec, base: &Path) -> Result<Tokenizer, TokenizerError> {
        let encoder = match spec {
            TokenizerSpec::O200kBase => Encoder::Tiktoken(o200k_base()?),
            TokenizerSpec::Cl100kBase => Encoder::Tiktoken(cl100k_base()?),
            TokenizerSpec::HuggingFace(path) => {
                Encoder::HuggingFace(Arc::new(load_hugging_face(&base.join(path))?))
            }
            TokenizerSpec::Gguf(path) => {
                let meta = gguf::Metadata::read(&base.join(path), keep_for_tokenizer)?;
                Encoder::Gguf(Arc::new(spm::Spm::load(&meta)?))
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
    /// pathological input), and a GGUF vocabulary without a token for a
    /// byte the text needs. The embedded tiktoken encodings do not fail on
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
            Encoder::Gguf(spm) => spm.count(text),
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

#[cfg(test)]
mod tests {
    use super::*;

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
