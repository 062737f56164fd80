//! The fuzz smoke that CI runs on stable: every target replays its
//! committed corpus (seeds and the regressions of past crashes), then a
//! seeded loop of mutated corpus inputs. A panic names the input, written
//! to a file, to replay with `cargo fuzz run <target> <file>`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Bytes worth inserting: line ends, SSE field names, JSON and YAML
/// punctuation, the file separator, long and odd numbers, and the bundle
/// target's placeholders.
const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b":",
    b"data: ",
    b"[DONE]",
    b"\xEF\xBB\xBF",
    b"\xff",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"null",
    b"-1",
    b"18446744073709551615",
    b"1e308",
    b"\0",
    b"&a ",
    b"*a",
    b"- ",
    b"  ",
    b"@SUITE@",
    b"@SIGN@",
];

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("the corpus lists").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a corpus file reads");
            (path, bytes)
        })
        .collect()
}

fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    (rng.next_u64() % n.max(1) as u64) as usize
}

/// One to four stacked mutations of a corpus input.
fn mutate(rng: &mut ChaCha8Rng, corpus: &[(PathBuf, Vec<u8>)]) -> Vec<u8> {
    let mut data = corpus[below(rng, corpus.len())].1.clone();
    for _ in 0..=below(rng, 4) {
        let at = below(rng, data.len() + 1);
        match below(rng, 6) {
            0 if !data.is_empty() => {
                let i = below(rng, data.len());
                data[i] ^= 1 << below(rng, 8);
            }
            1 => data.insert(at, rng.next_u64() as u8),
            2 => {
                let end = (at + 1 + below(rng, 64)).min(data.len());
                data.drain(at.min(end)..end);
            }
            3 => {
                let token = TOKENS[below(rng, TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            4 => {
                let end = (at + below(rng, 256)).min(data.len());
                let copy = data[at..end].to_vec();
                data.splice(at..at, copy);
            }
            _ => {
                let other = &corpus[below(rng, corpus.len())].1;
                let from = below(rng, other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
        }
    }
    data
}

/// Runs `target` on its corpus, then on `mutations` mutated inputs.
fn smoke(name: &str, mutations: usize) {
    let (_, target) = tokencert_fuzz_targets::TARGETS
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("a known target");
    let run = |input: &[u8], what: &str| {
        if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
            let file = std::env::temp_dir().join(format!("tokencert-fuzz-{name}-crash"));
            std::fs::write(&file, input).expect("the crashing input is written");
            panic!("{name} panicked on {what}; the input is {}", file.display());
        }
    };
    let corpus = corpus(name);
    for (path, bytes) in &corpus {
        run(bytes, &path.display().to_string());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    for i in 0..mutations {
        let input = mutate(&mut rng, &corpus);
        run(&input, &format!("mutation {i}"));
    }
}

#[test]
fn sse_parser_survives_its_corpus_and_mutations() {
    smoke("sse", 5000);
}

#[test]
fn suite_loader_survives_its_corpus_and_mutations() {
    smoke("suite", 20_000);
}

#[test]
fn evidence_reader_survives_its_corpus_and_mutations() {
    smoke("evidence", 1000);
}

#[test]
fn bundle_verification_survives_its_corpus_and_mutations() {
    smoke("bundle", 1000);
}
