//! llama.cpp's SentencePiece (SPM) tokenizer, for the vocabularies a GGUF
//! file declares with `tokenizer.ggml.model = "llama"` (Llama 1 and 2,
//! Mistral's early models, Gemma 1 to 3, Phi-3): counted exactly as
//! `llama_tokenize(text, add_special = false, parse_special = false)`
//! counts.
//!
//! That call does four things to a text:
//!
//! 1. It splits out the vocabulary's user-defined tokens (type 4) wherever
//!    their text occurs, longest first: even with `parse_special` off, only
//!    control and unknown tokens are left to the text (so `<start_of_turn>`
//!    is text, but Gemma's user-defined `<table>` or runs of newlines are
//!    one token each).
//! 2. Each remaining text fragment gets a leading space when
//!    `tokenizer.ggml.add_space_prefix` says so (true unless the file says
//!    otherwise) and it is the first fragment or follows a split-out token,
//!    and every space becomes U+2581 (`▁`).
//! 3. The fragment is split into UTF-8 characters, and the adjacent pair
//!    whose concatenation is a vocabulary token with the highest score is
//!    merged, again and again (of equal scores, the leftmost first), until
//!    no pair is a token.
//! 4. A piece that is not a token becomes one `<0xXX>` token per byte (or,
//!    failing that, the token whose text is that single byte).
//!
//! The vocabulary's texts, scores and types are taken as llama.cpp's
//! `llama_vocab::load` takes them, including the token types it corrects by
//! name (end-of-generation and fill-in-the-middle look-alikes become
//! control tokens; gpt-oss's `<|channel|>`, `<|message|>`, `<|start|>`,
//! `<|constrain|>` become user-defined) and the strip flags it gives
//! Phi-3's tokens. One choice llama.cpp leaves open is fixed here: it sorts
//! the user-defined tokens by length with an unstable sort, so the order of
//! two of equal length is unspecified; here it is by id. It only matters
//! for two equally long user-defined tokens that overlap in a text.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

mod attributes;

use super::TokenizerError;
use super::gguf::{Metadata, WrongType};
use attributes::attributes;

/// The `tokenizer.ggml.model` value counted here.
pub(super) const MODEL: &str = "llama";

/// A user-defined token split out of texts before they are tokenized.
#[derive(Debug)]
struct Special {
    text: Vec<u8>,
    lstrip: bool,
    rstrip: bool,
}

/// A loaded SPM vocabulary.
#[derive(Debug)]
pub(super) struct Spm {
    /// Token ids by text.
    ids: HashMap<Vec<u8>, u32>,
    /// Scores by id.
    scores: Vec<f32>,
    add_space_prefix: bool,
    /// User-defined tokens, in the order they are split out.
    specials: Vec<Special>,
    /// Indexes into `specials` by the first byte of their text.
    specials_by_first_byte: Vec<Vec<usize>>,
    /// Whether each byte has a fallback token.
    byte_token: [bool; 256],
}

/// Part of a text, before tokenizing.
enum Fragment {
    /// Bytes of the text, by range.
    Text(usize, usize),
    /// A user-defined token split out.
    Token,
}

impl Spm {
    /// The vocabulary of `meta`, which must declare `tokenizer.ggml.model`
    /// `"llama"`.
    ///
    /// # Errors
    ///
    /// [`TokenizerError::UnsupportedGgufModel`] for another model type,
    /// [`TokenizerError::Gguf`] when a key is missing, of the wrong type,
    /// shorter than the vocabulary, or a token text appears twice (where
    /// llama.cpp would refuse the file too) or a score is not a number.
    pub fn load(meta: &Metadata) -> Result<Spm, TokenizerError> {
        let wrong = |key: &'static str, expected: &'static str| {
            move |w: WrongType| meta.error(format!("{key} is {}, not {expected}", w.found))
        };
        let model = meta
            .get("tokenizer.ggml.model")
            .ok_or_else(|| meta.error("it has no tokenizer (no tokenizer.ggml.model key)"))?
            .as_str()
            .map_err(wrong("tokenizer.ggml.model", "a string"))?;
        if model != MODEL.as_bytes() {
            return Err(TokenizerError::UnsupportedGgufModel {
                path: meta.path.clone(),
                model: String::from_utf8_lossy(model).into_owned(),
            });
        }
        let tokens = meta
            .get("tokenizer.ggml.tokens")
            .ok_or_else(|| meta.error("it has no tokenizer.ggml.tokens"))?
            .as_str_array()
            .map_err(wrong("tokenizer.ggml.tokens", "an array of string"))?;
        let n = tokens.len();
        let scores = scores(meta, n)?;
        let types = match meta.get("tokenizer.ggml.token_type") {
            None => vec![0; n],
            Some(v) => {
                let t = v
                    .as_i32_array()
                    .map_err(wrong("tokenizer.ggml.token_type", "an array of int32"))?;
                at_least(meta, "tokenizer.ggml.token_type", t, n)?
            }
        };
        let add_space_prefix = match meta.get("tokenizer.ggml.add_space_prefix") {
            None => true,
            Some(v) => v
                .as_bool()
                .map_err(wrong("tokenizer.ggml.add_space_prefix", "a bool"))?,
        };

        // Texts, with llama.cpp's name for an empty one.
        let texts: Vec<Vec<u8>> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if t.is_empty() {
                    format!("[EMPTY_{i}]").into_bytes()
                } else {
                    t.to_vec()
                }
            })
            .collect();
        let mut ids = HashMap::with_capacity(n);
        for (i, text) in texts.iter().enumerate() {
            let id = u32::try_from(i).map_err(|_| meta.error("too many tokens"))?;
            if let Some(first) = ids.insert(text.clone(), id) {
                return Err(meta.error(format!(
                    "tokens {first} and {i} are both {:?} (llama.cpp refuses such a vocabulary)",
                    String::from_utf8_lossy(text)
                )));
            }
        }

        let attrs = attributes(meta, &texts, &ids, &types)?;
        let mut order: Vec<usize> = (0..n)
            .filter(|&i| attrs[i].user_defined && !attrs[i].control && !attrs[i].unknown)
            .collect();
        order.sort_by(|&a, &b| texts[b].len().cmp(&texts[a].len()).then(a.cmp(&b)));
        let specials: Vec<Special> = order
            .into_iter()
            .map(|i| Special {
                text: texts[i].clone(),
                lstrip: attrs[i].lstrip,
                rstrip: attrs[i].rstrip,
            })
            .collect();
        let mut specials_by_first_byte = vec![Vec::new(); 256];
        for (k, s) in specials.iter().enumerate() {
            if let Some(&b) = s.text.first() {
                specials_by_first_byte[usize::from(b)].push(k);
            }
        }
        let mut byte_token = [false; 256];
        for (b, has) in byte_token.iter_mut().enumerate() {
            let hex = format!("<0x{b:02X}>");
            *has = ids.contains_key(hex.as_bytes()) || ids.contains_key([b as u8].as_slice());
        }
        Ok(Spm {
            ids,
            scores,
            add_space_prefix,
            specials,
            specials_by_first_byte,
            byte_token,
        })
    }

    /// The number of tokens llama.cpp gives `text` (no BOS, special tokens
    /// not parsed).
    ///
    /// # Errors
    ///
    /// When a byte must fall back to a byte token the vocabulary lacks
    /// (llama.cpp throws there).
    pub fn count(&self, text: &str) -> Result<usize, String> {
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return Ok(0);
        }
        let mut fragments = vec![Fragment::Text(0, bytes.len())];
        for special in self.specials_in(bytes) {
            fragments = split_out(bytes, fragments, special);
        }
        let mut total = 0;
        let mut after_token = true;
        let mut escaped = Vec::new();
        for fragment in fragments {
            match fragment {
                Fragment::Token => {
                    total += 1;
                    after_token = true;
                }
                Fragment::Text(start, end) => {
                    escaped.clear();
                    if self.add_space_prefix && after_token {
                        escaped.extend_from_slice("▁".as_bytes());
                    }
                    for &b in &bytes[start..end] {
                        if b == b' ' {
                            escaped.extend_from_slice("▁".as_bytes());
                        } else {
                            escaped.push(b);
                        }
                    }
                    total += self.count_fragment(&escaped)?;
                    after_token = false;
                }
            }
        }
        Ok(total)
    }

    /// The user-defined tokens that occur somewhere in `text`, in the order
    /// they are split out (one that does not occur in the whole text cannot
    /// occur in a part of it).
    fn specials_in(&self, text: &[u8]) -> Vec<&Special> {
        if self.specials.is_empty() {
            return Vec::new();
        }
        let mut present = vec![false; self.specials.len()];
        for (i, &b) in text.iter().enumerate() {
            for &k in &self.specials_by_first_byte[usize::from(b)] {
                if !present[k] && text[i..].starts_with(&self.specials[k].text) {
                    present[k] = true;
                }
            }
        }
        self.specials
            .iter()
            .zip(present)
            .filter_map(|(s, p)| p.then_some(s))
            .collect()
    }

    /// The number of tokens of one escaped fragment: merge by score, then
    /// fall back to bytes.
    fn count_fragment(&self, text: &[u8]) -> Result<usize, String> {
        let mut symbols: Vec<Symbol> = Vec::new();
        let mut offset = 0;
        while offset < text.len() {
            let len = utf8_len(text[offset]).min(text.len() - offset);
            let index = symbols.len();
            symbols.push(Symbol {
                start: offset,
                len,
                prev: index.checked_sub(1),
                next: (offset + len < text.len()).then_some(index + 1),
            });
            offset += len;
        }
        let mut queue = BinaryHeap::new();
        for right in 1..symbols.len() {
            self.push_bigram(text, &symbols, &mut queue, Some(right - 1), Some(right));
        }
        while let Some(bigram) = queue.pop() {
            let (l, r) = (bigram.left, bigram.right);
            if symbols[l].len == 0
                || symbols[r].len == 0
                || symbols[l].len + symbols[r].len != bigram.size
            {
                continue;
            }
            symbols[l].len += symbols[r].len;
            symbols[r].len = 0;
            symbols[l].next = symbols[r].next;
            if let Some(next) = symbols[r].next {
                symbols[next].prev = Some(l);
            }
            let (prev, next) = (symbols[l].prev, symbols[l].next);
            self.push_bigram(text, &symbols, &mut queue, prev, Some(l));
            self.push_bigram(text, &symbols, &mut queue, Some(l), next);
        }
        let mut total = 0;
        let mut at = (!symbols.is_empty()).then_some(0);
        while let Some(i) = at {
            let s = &symbols[i];
            let piece = &text[s.start..s.start + s.len];
            if self.ids.contains_key(piece) {
                total += 1;
            } else {
                if let Some(&b) = piece.iter().find(|&&b| !self.byte_token[usize::from(b)]) {
                    return Err(format!(
                        "the vocabulary has no token for the byte 0x{b:02X} (neither <0x{b:02X}> nor the byte itself)"
                    ));
                }
                total += piece.len();
            }
            at = s.next;
        }
        Ok(total)
    }

    /// Queues the merge of symbols `left` and `right` if their text is a
    /// token.
    fn push_bigram(
        &self,
        text: &[u8],
        symbols: &[Symbol],
        queue: &mut BinaryHeap<Bigram>,
        left: Option<usize>,
        right: Option<usize>,
    ) {
        let (Some(left), Some(right)) = (left, right) else {
            return;
        };
        let start = symbols[left].start;
        let size = symbols[left].len + symbols[right].len;
        if let Some(&id) = self.ids.get(&text[start..start + size]) {
            queue.push(Bigram {
                score: self.scores[id as usize],
                left,
                right,
                size,
            });
        }
    }
}

/// The scores by id: `tokenizer.ggml.scores` as `float32` or `int32`, or
/// none (all 0).
fn scores(meta: &Metadata, n: usize) -> Result<Vec<f32>, TokenizerError> {
    const KEY: &str = "tokenizer.ggml.scores";
    let Some(value) = meta.get(KEY) else {
        return Ok(vec![0.0; n]);
    };
    let scores: Vec<f32> = if value.is_i32_array() {
        // As llama.cpp converts them.
        #[allow(clippy::cast_precision_loss)]
        let converted = value.as_i32_array().map_err(|w| wrong_scores(meta, &w))?;
        converted.into_iter().map(|s| s as f32).collect()
    } else {
        value.as_f32_array().map_err(|w| wrong_scores(meta, &w))?
    };
    let scores = at_least(meta, KEY, scores, n)?;
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(meta.error(format!("the score of token {i} is not a number")));
    }
    Ok(scores)
}

fn wrong_scores(meta: &Metadata, w: &WrongType) -> TokenizerError {
    meta.error(format!(
        "tokenizer.ggml.scores is {}, not an array of float32 or int32",
        w.found
    ))
}

/// The first `n` of `values`, which must have at least `n`.
fn at_least<T>(
    meta: &Metadata,
    key: &str,
    mut values: Vec<T>,
    n: usize,
) -> Result<Vec<T>, TokenizerError> {
    if values.len() < n {
        return Err(meta.error(format!("{key} has {} entries for {n} tokens", values.len())));
    }
    values.truncate(n);
    Ok(values)
}

/// Splits every occurrence of `special` out of the text fragments, as
/// llama.cpp's `tokenizer_st_partition` does (leftmost first, not
/// overlapping; a strip flag drops the ASCII whitespace beside it).
fn split_out(text: &[u8], fragments: Vec<Fragment>, special: &Special) -> Vec<Fragment> {
    let needle = special.text.as_slice();
    let mut out = Vec::with_capacity(fragments.len());
    for fragment in fragments {
        let Fragment::Text(mut start, end) = fragment else {
            out.push(fragment);
            continue;
        };
        while let Some(found) = find(&text[start..end], needle) {
            let at = start + found;
            let mut left_end = at;
            if special.lstrip {
                while left_end > start && is_c_space(text[left_end - 1]) {
                    left_end -= 1;
                }
            }
            if left_end > start {
                out.push(Fragment::Text(start, left_end));
            }
            out.push(Fragment::Token);
            start = at + needle.len();
            if special.rstrip {
                while start < end && is_c_space(text[start]) {
                    start += 1;
                }
            }
        }
        if start < end {
            out.push(Fragment::Text(start, end));
        }
    }
    out
}

/// C's `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut from = 0;
    while from + needle.len() <= haystack.len() {
        let i = from
            + haystack[from..=haystack.len() - needle.len()]
                .iter()
                .position(|&b| b == first)?;
        if haystack[i..].starts_with(needle) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// The length llama.cpp gives the UTF-8 sequence starting with byte `b`
/// (from its top four bits alone).
fn utf8_len(b: u8) -> usize {
    match b >> 4 {
        0xc | 0xd => 2,
        0xe => 3,
        0xf => 4,
        _ => 1,
    }
}

/// A piece of a fragment being merged; `len` 0 once merged into its left
/// neighbour.
struct Symbol {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

/// A candidate merge; the queue pops the highest score first and, of equal
/// scores, the leftmost.
struct Bigram {
    score: f32,
    left: usize,
    right: usize,
    /// The merged length in bytes: the merge is stale unless the two
    /// symbols still add up to it.
    size: usize,
}

impl Ord for Bigram {
    fn cmp(&self, other: &Self) -> Ordering {
        // Scores are never NaN (refused at load); -0.0 and 0.0 tie, as in C.
        self.score
            .partial_cmp(&other.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| other.left.cmp(&self.left))
    }
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Bigram {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_lengths_follow_the_top_bits() {
        assert_eq!(utf8_len(b'a'), 1);
        assert_eq!(utf8_len(0x80), 1);
        assert_eq!(utf8_len(0xc3), 2);
        assert_eq!(utf8_len(0xe2), 3);
        assert_eq!(utf8_len(0xf0), 4);
    }

    #[test]
    fn find_finds_the_first() {
        assert_eq!(find(b"abcabc", b"ca"), Some(2));
        assert_eq!(find(b"abcabc", b"abc"), Some(0));
        assert_eq!(find(b"ab", b"abc"), None);
        assert_eq!(find(b"aab", b"ab"), Some(1));
        assert_eq!(find(b"abc", b""), None);
    }

    #[test]
    fn strip_flags_drop_c_whitespace() {
        let text = b"a \t<x>\n b<x>";
        let special = Special {
            text: b"<x>".to_vec(),
            lstrip: true,
            rstrip: true,
        };
        let parts: Vec<_> = split_out(text, vec![Fragment::Text(0, text.len())], &special)
            .into_iter()
            .map(|f| match f {
                Fragment::Text(s, e) => String::from_utf8_lossy(&text[s..e]).into_owned(),
                Fragment::Token => "<T>".to_string(),
            })
            .collect();
        assert_eq!(parts, ["a", "<T>", "b", "<T>"]);
    }
}
