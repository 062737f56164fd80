//! The two tiktoken encodings embedded in the binary, `o200k_base` and
//! `cl100k_base`, each built at most once per process, and an exact count
//! that keeps long whitespace runs away from tiktoken's regex.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::sync::OnceLock;

use tiktoken_rs::{CoreBPE, Rank};

use super::{CL100K_BASE, O200K_BASE, TokenizerError};

/// Horizontal whitespace runs at least this many characters long are split
/// off and merged by [`Builtin::piece_len`] rather than by tiktoken's regex.
///
/// tiktoken's pre-tokenizer regex matches such a run with `\s+(?!\S)`,
/// which fancy-regex runs on its backtracking machine with one stack entry
/// per character: about a million spaces overflow its stack (1,000,000
/// entries) and tiktoken-rs panics (`RuntimeError(StackOverflow)`, with
/// o200k_base for a run followed by anything or nothing, with cl100k_base
/// for a run followed by a non-space). 4096 keeps far below that.
pub(super) const LONG_RUN: usize = 4096;

/// An embedded tiktoken encoding and, built only if a text needs it, its
/// ranks by token bytes.
pub(super) struct Builtin {
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
    pub(super) fn count(&self, text: &str, long: usize) -> usize {
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
pub(super) fn o200k_base() -> Result<&'static Builtin, TokenizerError> {
    static ENCODER: OnceLock<Result<Builtin, String>> = OnceLock::new();
    builtin(&ENCODER, O200K_BASE, tiktoken_rs::o200k_base, true)
}

/// The shared `cl100k_base` encoder, built on first use.
pub(super) fn cl100k_base() -> Result<&'static Builtin, TokenizerError> {
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
}
