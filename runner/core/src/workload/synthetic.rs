//! Synthetic prompts of an exact token length.
//!
//! The text is English-like: sentences of words from a fixed list, the first
//! word of each capitalised, the last followed by a full stop, now and then a
//! comma. It is built from *pieces* (`"Word"` at the start of the text, then
//! `" word"`, `" Word"`, `" word,"`, `" word."`), each counted once with the
//! tokenizer and cached. A word with one leading space starts a new
//! pre-token under the tiktoken encodings (and under most Hugging Face
//! pre-tokenizers), so the count of the text is the sum of the counts of its
//! pieces: the text is built greedily to that sum, then the whole text is
//! recounted once to verify it. Only if the recount disagrees (a tokenizer
//! whose tokens cross word boundaries) is the tail fixed up, recounting the
//! tail alone, and the whole text verified again. The cost is linear in the
//! length: a 100k-token prompt takes one pass and one or two recounts.

use std::collections::HashMap;

use crate::tokens::Tokenizer;
use rand_core::RngCore;

use super::WorkloadError;
use super::sample::below;

/// The words prompts are made of: common English words, most of them one
/// token under o200k_base and cl100k_base (the builder does not rely on
/// that: it counts every piece it uses).
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "the", "a", "time", "year", "people", "way", "day", "man", "thing", "woman", "life", "child",
    "world", "school", "state", "family", "student", "group", "country", "problem", "hand", "part",
    "place", "case", "week", "company", "system", "program", "question", "work", "government",
    "number", "night", "point", "home", "water", "room", "mother", "area", "money", "story",
    "fact", "month", "lot", "right", "study", "book", "eye", "job", "word", "business", "issue",
    "side", "kind", "head", "house", "service", "friend", "father", "power", "hour", "game",
    "line", "end", "member", "law", "car", "city", "community", "name", "president", "team",
    "minute", "idea", "kid", "body", "information", "back", "parent", "face", "others", "level",
    "office", "door", "health", "person", "art", "war", "history", "party", "result", "change",
    "morning", "reason", "research", "girl", "guy", "moment", "air", "teacher", "force",
    "education", "be", "have", "do", "say", "go", "can", "get", "would", "make", "know", "will",
    "think", "take", "see", "come", "could", "want", "look", "use", "find", "give", "tell", "work",
    "may", "should", "call", "try", "ask", "need", "feel", "become", "leave", "put", "mean",
    "keep", "let", "begin", "seem", "help", "talk", "turn", "start", "show", "hear", "play", "run",
    "move", "like", "live", "believe", "hold", "bring", "happen", "write", "provide", "sit",
    "stand", "lose", "pay", "meet", "include", "continue", "set", "learn", "good", "new", "first",
    "last", "long", "great", "little", "own", "other", "old", "big", "high", "different", "small",
    "large", "next", "early", "young", "important", "few", "public", "bad", "same", "able", "of",
    "in", "to", "for", "with", "on", "at", "from", "by", "about", "as", "into", "like", "through",
    "after", "over", "between", "out", "against", "during", "without", "before", "under", "around",
    "among", "and", "that", "but", "or", "if", "because", "when", "while", "where", "so", "then",
    "now", "also", "very", "often", "always", "never", "river", "stone", "light", "garden",
    "window", "letter", "market", "winter",
];

/// Shortest sentence, in words.
const MIN_SENTENCE_WORDS: u64 = 5;
/// Longest sentence, in words.
const MAX_SENTENCE_WORDS: u64 = 16;
/// One word in this many (not ending a sentence) is followed by a comma.
const COMMA_ONE_IN: u64 = 12;
/// How many trailing pieces the fix-up recounts (when a tokenizer is not
/// additive over pieces).
const TAIL_PIECES: usize = 64;
/// How many fix-up steps (each a recount of the tail) are tried before
/// giving up.
const MAX_FIX_STEPS: usize = 64;
/// How many other words are tried when the one drawn is too long for the
/// tokens left.
const REDRAWS: usize = 16;

/// The form of a word in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Form {
    /// `Word`: the first word of the text.
    Opening,
    /// ` Word`: the first word of a later sentence.
    Capital,
    /// ` word`.
    Plain,
    /// ` word,`.
    Comma,
    /// ` word.`: the last word of a sentence.
    Stop,
}

/// The text of a word in a form.
fn piece(word: &str, form: Form) -> String {
    let capital = || {
        let mut chars = word.chars();
        chars.next().map_or_else(String::new, |first| {
            first.to_uppercase().chain(chars).collect::<String>()
        })
    };
    match form {
        Form::Opening => capital(),
        Form::Capital => format!(" {}", capital()),
        Form::Plain => format!(" {word}"),
        Form::Comma => format!(" {word},"),
        Form::Stop => format!(" {word}."),
    }
}

/// Builds synthetic prompts under one tokenizer, caching the count of every
/// piece it has used (reuse one builder for many prompts).
#[derive(Debug)]
pub struct PromptBuilder<'t> {
    tokenizer: &'t Tokenizer,
    costs: HashMap<(usize, Form), u64>,
    /// One-token fillers: indices into [`WORDS`] whose `Opening` form
    /// (respectively `Plain` form) is one token. Computed on first need.
    fillers: Option<(Vec<usize>, Vec<usize>)>,
}

impl<'t> PromptBuilder<'t> {
    /// A builder counting with `tokenizer`.
    pub fn new(tokenizer: &'t Tokenizer) -> PromptBuilder<'t> {
        PromptBuilder {
            tokenizer,
            costs: HashMap::new(),
            fillers: None,
        }
    }

    /// The token count of word `index` in `form`.
    fn cost(&mut self, index: usize, form: Form) -> Result<u64, WorkloadError> {
        if let Some(&cost) = self.costs.get(&(index, form)) {
            return Ok(cost);
        }
        let cost = self.tokenizer.count(&piece(WORDS[index], form))? as u64;
        self.costs.insert((index, form), cost);
        Ok(cost)
    }

    /// The words that are one token as the opening word and as a plain
    /// word.
    fn fillers(&mut self) -> Result<(Vec<usize>, Vec<usize>), WorkloadError> {
        if let Some(fillers) = &self.fillers {
            return Ok(fillers.clone());
        }
        let mut opening = Vec::new();
        let mut plain = Vec::new();
        for index in 0..WORDS.len() {
            if self.cost(index, Form::Opening)? == 1 {
                opening.push(index);
            }
            if self.cost(index, Form::Plain)? == 1 {
                plain.push(index);
            }
        }
        if opening.is_empty() || plain.is_empty() {
            return Err(WorkloadError::NoFiller {
                tokenizer: self.tokenizer.name().to_string(),
            });
        }
        self.fillers = Some((opening.clone(), plain.clone()));
        Ok((opening, plain))
    }

    /// A prompt of exactly `tokens` tokens (the empty text for 0), drawn
    /// from `rng`: the same generator state gives the same text, byte for
    /// byte.
    ///
    /// # Errors
    ///
    /// [`WorkloadError::Tokenizer`] if the tokenizer cannot count a piece
    /// (a word-level tokenizer without an unknown token);
    /// [`WorkloadError::NoFiller`] if no word of the list is a single
    /// token; [`WorkloadError::Inexact`] if the tokenizer merges across
    /// words so that no fix-up of the tail reaches the exact count.
    pub fn build(&mut self, tokens: u64, rng: &mut impl RngCore) -> Result<String, WorkloadError> {
        if tokens == 0 {
            return Ok(String::new());
        }
        // About 5 bytes per token for this vocabulary; capped so that a
        // huge request does not reserve memory it may never use.
        let capacity = usize::try_from(tokens.saturating_mul(6)).unwrap_or(usize::MAX);
        let mut text = String::with_capacity(capacity.min(64 << 20));
        // Where each piece starts (a byte offset) and its count.
        let mut pieces: Vec<(usize, u64)> = Vec::new();
        let mut sum = 0u64;
        let mut sentence_left = 0u64;
        while sum < tokens {
            let left = tokens - sum;
            let form = if pieces.is_empty() {
                sentence_left =
                    MIN_SENTENCE_WORDS + below(rng, MAX_SENTENCE_WORDS - MIN_SENTENCE_WORDS + 1);
                Form::Opening
            } else if sentence_left == 0 {
                sentence_left =
                    MIN_SENTENCE_WORDS + below(rng, MAX_SENTENCE_WORDS - MIN_SENTENCE_WORDS + 1);
                Form::Capital
            } else if sentence_left == 1 {
                Form::Stop
            } else if below(rng, COMMA_ONE_IN) == 0 {
                Form::Comma
            } else {
                Form::Plain
            };
            let mut chosen = None;
            for _ in 0..REDRAWS {
                let index = below(rng, WORDS.len() as u64) as usize;
                let cost = self.cost(index, form)?;
                if (1..=left).contains(&cost) {
                    chosen = Some((index, form, cost));
                    break;
                }
            }
            let (index, form, cost) = match chosen {
                Some(chosen) => chosen,
                None => {
                    // Nothing drawn fits: a one-token word ends the text.
                    let (opening, plain) = self.fillers()?;
                    let (list, form) = if pieces.is_empty() {
                        (opening, Form::Opening)
                    } else {
                        (plain, Form::Plain)
                    };
                    let index = list[below(rng, list.len() as u64) as usize];
                    (index, form, 1)
                }
            };
            pieces.push((text.len(), cost));
            text.push_str(&piece(WORDS[index], form));
            sum += cost;
            sentence_left = sentence_left.saturating_sub(1);
        }
        let counted = self.count(&text)?;
        if counted == tokens {
            return Ok(text);
        }
        self.fix_tail(text, pieces, tokens, rng)
    }

    /// The token count of `text`.
    fn count(&self, text: &str) -> Result<u64, WorkloadError> {
        Ok(self.tokenizer.count(text)? as u64)
    }

    /// Brings a text whose recount disagrees with the sum of its pieces to
    /// exactly `tokens`: keeps all but the last [`TAIL_PIECES`] pieces as
    /// the head (counted once), then, recounting the tail alone, appends
    /// one-token words for a shortfall or removes trailing pieces worth an
    /// excess, until head + tail is `tokens`; finally verifies the whole
    /// text.
    fn fix_tail(
        &mut self,
        mut text: String,
        mut pieces: Vec<(usize, u64)>,
        tokens: u64,
        rng: &mut impl RngCore,
    ) -> Result<String, WorkloadError> {
        let (_, plain) = self.fillers()?;
        let mut last = None;
        // First with a head of all but the last pieces, counted once; if
        // head + tail then disagrees with the whole (a token spanning the
        // split), again recounting the whole text at every step.
        for tail_pieces in [TAIL_PIECES, usize::MAX] {
            let split_piece = pieces.len().saturating_sub(tail_pieces);
            // The first piece has no leading space: keep it in the tail so
            // that the tail always starts a pre-token the same way.
            let split = if split_piece == 0 {
                0
            } else {
                pieces[split_piece].0
            };
            let head = self.count(&text[..split])?;
            for _ in 0..MAX_FIX_STEPS {
                let total = head + self.count(&text[split..])?;
                last = Some(total);
                if total == tokens {
                    let counted = if split == 0 {
                        total
                    } else {
                        self.count(&text)?
                    };
                    if counted == tokens {
                        return Ok(text);
                    }
                    last = Some(counted);
                    break;
                }
                if total > tokens {
                    // Remove pieces worth the excess by their own counts
                    // (at least one), never those before the split or the
                    // first.
                    let mut removed = 0;
                    while removed < total - tokens && pieces.len() > split_piece.max(1) {
                        if let Some((start, cost)) = pieces.pop() {
                            text.truncate(start);
                            removed += cost.max(1);
                        }
                    }
                    if removed == 0 {
                        break;
                    }
                } else {
                    // Append one-token words for the shortfall.
                    for _ in 0..tokens - total {
                        let index = plain[below(rng, plain.len() as u64) as usize];
                        pieces.push((text.len(), 1));
                        text.push_str(&piece(WORDS[index], Form::Plain));
                    }
                }
            }
            if split == 0 {
                break;
            }
        }
        Err(WorkloadError::Inexact {
            tokenizer: self.tokenizer.name().to_string(),
            wanted: tokens,
            got: last.unwrap_or(0),
        })
    }
}

/// A prompt of exactly `tokens` tokens under `tokenizer` (recounted to
/// verify), English-like text from a fixed word list, drawn from `rng`.
/// The same generator state gives the same text, byte for byte.
///
/// To build many prompts, reuse one [`PromptBuilder`]: it caches the counts
/// of the words.
///
/// # Errors
///
/// As [`PromptBuilder::build`].
pub fn synthetic_prompt(
    tokenizer: &Tokenizer,
    tokens: u64,
    rng: &mut impl RngCore,
) -> Result<String, WorkloadError> {
    PromptBuilder::new(tokenizer).build(tokens, rng)
}
