//! Client-side token recount: the embedded tiktoken encodings against counts
//! OpenAI publishes, the Hugging Face fixtures in `fixtures/tokenizers/`,
//! and every way loading a tokenizer file can fail.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokencert_core::tokens::{MAX_TOKENIZER_FILE_BYTES, Tokenizer, TokenizerError, TokenizerSpec};

/// `fixtures/tokenizers/` of the repository.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tokenizers")
}

fn o200k() -> Tokenizer {
    Tokenizer::load(&TokenizerSpec::O200kBase, Path::new(".")).expect("o200k_base loads")
}

fn cl100k() -> Tokenizer {
    Tokenizer::load(&TokenizerSpec::Cl100kBase, Path::new(".")).expect("cl100k_base loads")
}

fn hugging_face(file: &str) -> Tokenizer {
    Tokenizer::load(&TokenizerSpec::HuggingFace(file.into()), &fixtures())
        .unwrap_or_else(|e| panic!("{file} loads: {e}"))
}

fn count(t: &Tokenizer, text: &str) -> usize {
    t.count(text)
        .unwrap_or_else(|e| panic!("{} counts {text:?}: {e}", t.name()))
}

// --- tiktoken -----------------------------------------------------------------

/// (text, o200k_base count, cl100k_base count).
///
/// The counts of the last four strings are published in OpenAI's cookbook
/// "How to count tokens with tiktoken" (section 4 for "tiktoken is great!",
/// section 5 "Comparing encodings" for the others, with the token ids, which
/// the unit tests of `tokens.rs` check too). The Japanese string is where the
/// two encodings differ: o200k_base has one token for 生日.
const KNOWN: &[(&str, usize, usize)] = &[
    ("", 0, 0),
    ("hello world", 2, 2),
    ("tiktoken is great!", 6, 6),
    ("antidisestablishmentarianism", 6, 6),
    ("2 + 2 = 4", 7, 7),
    ("お誕生日おめでとう", 8, 9),
];

#[test]
fn tiktoken_counts_match_published_counts() {
    let (o, c) = (o200k(), cl100k());
    for &(text, in_o200k, in_cl100k) in KNOWN {
        assert_eq!(count(&o, text), in_o200k, "o200k_base: {text:?}");
        assert_eq!(count(&c, text), in_cl100k, "cl100k_base: {text:?}");
    }
}

#[test]
fn tiktoken_counts_of_ordinary_prose_and_code() {
    let (o, c) = (o200k(), cl100k());
    let prose = "The quick brown fox jumps over the lazy dog.";
    assert_eq!(count(&o, prose), 10);
    assert_eq!(count(&c, prose), 10);
    // fn| main|()| {\n|   | println|!("|hi|");\n|}\n in both.
    let code = "fn main() {\n    println!(\"hi\");\n}\n";
    assert_eq!(count(&o, code), 10);
    assert_eq!(count(&c, code), 10);
    // Chinese: o200k_base has 百万, 输入 and 人民币 as tokens; cl100k_base
    // splits 百, 词 and 币 into bytes.
    let chinese = "每百万输入词元一元人民币";
    assert_eq!(count(&o, chinese), 8);
    assert_eq!(count(&c, chinese), 14);
}

#[test]
fn special_token_look_alikes_count_as_text() {
    // As special tokens these would be one token each; as text they are
    // several: <|end|of|text|> and <|endo|ft|ext|>.
    let (o, c) = (o200k(), cl100k());
    assert_eq!(count(&o, "<|endoftext|>"), 7);
    assert_eq!(count(&c, "<|endoftext|>"), 7);
    assert_eq!(count(&o, "<|im_start|>user"), 7);
    assert_eq!(count(&c, "<|fim_prefix|>"), 7);
    assert_eq!(count(&o, "<|fim_prefix|>"), 6);
}

#[test]
fn names() {
    assert_eq!(o200k().name(), "o200k_base");
    assert_eq!(cl100k().name(), "cl100k_base");
    assert_eq!(TokenizerSpec::default(), TokenizerSpec::O200kBase);
    assert_eq!(TokenizerSpec::O200kBase.name(), "o200k_base");
    assert_eq!(TokenizerSpec::Cl100kBase.name(), "cl100k_base");
    assert_eq!(
        TokenizerSpec::HuggingFace("models/tokenizer.json".into()).name(),
        "models/tokenizer.json (hugging face)"
    );
    assert_eq!(
        hugging_face("bpe.json").name(),
        "bpe.json (hugging face)",
        "the path as declared, not as resolved"
    );
}

/// Inputs a hostile or broken target could send back. None may panic; the
/// tiktoken encodings count them all.
#[test]
fn tiktoken_counts_pathological_text_without_panicking() {
    let (o, c) = (o200k(), cl100k());
    let mb = 1 << 20;
    let inputs: Vec<(&str, String)> = vec![
        ("1 MiB of spaces", " ".repeat(mb)),
        ("1 MiB of newlines", "\n".repeat(mb)),
        ("mixed whitespace", " \t\r\n\u{a0}\u{3000}".repeat(mb / 8)),
        ("spaces then a word", format!("{}x", " ".repeat(mb))),
        ("one 256 KiB word", "a".repeat(mb / 4)),
        ("256 KiB of digits", "7".repeat(mb / 4)),
        ("256 KiB of punctuation", "!?".repeat(mb / 8)),
        ("apostrophes", "'s'S'll'".repeat(mb / 64)),
        ("combining marks alone", "\u{301}".repeat(mb / 8)),
        ("NUL and controls", "\0\u{1}\u{7f}\u{1b}[0m".repeat(mb / 16)),
        ("emoji with joiners", "👩‍👩‍👧‍👦🏳️‍🌈".repeat(mb / 64)),
        ("replacement chars", "\u{fffd}".repeat(mb / 8)),
        (
            "private use and noncharacters",
            "\u{e000}\u{fdd0}\u{10ffff}".repeat(mb / 32),
        ),
        (
            "special tokens back to back",
            "<|endoftext|><|im_end|>".repeat(mb / 64),
        ),
    ];
    for (what, text) in &inputs {
        for t in [&o, &c] {
            let started = Instant::now();
            let n = t
                .count(text)
                .unwrap_or_else(|e| panic!("{}: {what}: {e}", t.name()));
            let took = started.elapsed();
            println!(
                "{:>11} {what:<30} {:>8} bytes {n:>8} tokens {took:>10.2?}",
                t.name(),
                text.len()
            );
            assert!(n > 0 && n <= text.len(), "{}: {what}: {n} tokens", t.name());
        }
    }
}

/// Runs of a million spaces and more overflow the regex engine inside
/// tiktoken-rs (it panics); the count splits them off instead, with the
/// same result as the regex would give, so the counts add up.
#[test]
fn tiktoken_counts_whitespace_runs_the_regex_cannot() {
    let (o, c) = (o200k(), cl100k());
    // Just past where the regex overflows (about a million).
    let n = 1 << 20;
    for t in [&o, &c] {
        let started = Instant::now();
        // Whitespace ending a text is one piece.
        let run = count(t, &" ".repeat(n));
        println!(
            "{}: {n} spaces counted in {:.2?}",
            t.name(),
            started.elapsed()
        );
        // Before a word, the run's last space goes with the word.
        assert_eq!(
            count(t, &format!("{}word", " ".repeat(n))),
            count(t, &" ".repeat(n - 1)) + count(t, " word"),
            "{}",
            t.name()
        );
        // Both encodings' longest token of spaces is 128 spaces.
        assert_eq!(run, n / 128, "{}", t.name());
    }
}

#[test]
fn tiktoken_is_shared_across_threads() {
    let t = o200k();
    let counts: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let t = t.clone();
                s.spawn(move || count(&t, &vec!["hello world"; i + 1].join(" ")))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(counts, [2, 4, 6, 8]);
}

/// Builds each encoding from scratch (as [`Tokenizer::load`] does once per
/// process) and prints how long it took. Run with `--nocapture` to see it.
#[test]
fn measure_building_the_encoders() {
    fn time(name: &str, build: impl Fn() -> bool) -> Duration {
        let started = Instant::now();
        assert!(build(), "{name} builds");
        let took = started.elapsed();
        println!("building {name} took {took:.2?}");
        took
    }
    time("o200k_base", || tiktoken_rs::o200k_base().is_ok());
    time("cl100k_base", || tiktoken_rs::cl100k_base().is_ok());
    // Loading again is free: the encoder is shared.
    let _ = o200k();
    let started = Instant::now();
    let _ = o200k();
    println!("loading o200k_base again took {:.2?}", started.elapsed());
}

// --- spec in YAML and JSON ----------------------------------------------------------

#[derive(Debug, serde::Deserialize, serde::Serialize, PartialEq)]
struct Profile {
    #[serde(default)]
    tokenizer: TokenizerSpec,
}

#[test]
fn spec_reads_from_yaml() {
    let read = |yaml: &str| serde_saphyr::from_str::<Profile>(yaml).map(|p| p.tokenizer);
    assert_eq!(
        read("tokenizer: o200k_base\n").expect("o200k"),
        TokenizerSpec::O200kBase
    );
    assert_eq!(
        read("tokenizer: cl100k_base\n").expect("cl100k"),
        TokenizerSpec::Cl100kBase
    );
    assert_eq!(
        read("tokenizer: {hugging_face: models/qwen/tokenizer.json}\n").expect("flow"),
        TokenizerSpec::HuggingFace("models/qwen/tokenizer.json".into())
    );
    assert_eq!(
        read("tokenizer:\n  hugging_face: tokenizer.json\n").expect("block"),
        TokenizerSpec::HuggingFace("tokenizer.json".into())
    );
    assert_eq!(read("{}\n").expect("default"), TokenizerSpec::O200kBase);
    for bad in [
        "tokenizer: p50k_base\n",
        "tokenizer: O200kBase\n",
        "tokenizer: {hugging_face: [a]}\n",
        "tokenizer: hugging_face\n",
    ] {
        assert!(read(bad).is_err(), "{bad:?} must be refused");
    }
}

#[test]
fn spec_round_trips_through_json() {
    for (spec, json) in [
        (TokenizerSpec::O200kBase, r#""o200k_base""#),
        (TokenizerSpec::Cl100kBase, r#""cl100k_base""#),
        (
            TokenizerSpec::HuggingFace("a/tokenizer.json".into()),
            r#"{"hugging_face":"a/tokenizer.json"}"#,
        ),
    ] {
        assert_eq!(serde_json::to_string(&spec).expect("serialises"), json);
        assert_eq!(
            serde_json::from_str::<TokenizerSpec>(json).expect("parses"),
            spec
        );
    }
}

// --- Hugging Face ------------------------------------------------------------------

/// `wordlevel.json`: lowercase, whitespace pre-tokenizer (`\w+|[^\w\s]+`),
/// 12 words, `.` and `,`, `[UNK]`; it also declares truncation to 4 tokens,
/// padding to 16 and a `[CLS] … [SEP]` template, none of which may change a
/// count.
#[test]
fn word_level_fixture_counts() {
    let t = hugging_face("wordlevel.json");
    for (text, n) in [
        ("", 0),
        ("hello", 1),
        ("hello world", 2),
        ("Hello World", 2),
        ("The quick brown fox jumps over the lazy dog.", 10),
        ("hello, unknown world", 4),
        ("   hello\n\tworld  ", 2),
        // Not truncated to 4.
        (&"the lazy dog ".repeat(10), 30),
        // Special-token look-alikes are text: "[", "cls", "]", ... each [UNK]
        // or a word; as special tokens they would count 3.
        ("[CLS] hello [SEP]", 7),
        ("[PAD]", 3),
    ] {
        assert_eq!(count(&t, text), n, "{text:?}");
    }
}

/// `bpe.json`: whitespace pre-tokenizer, byte-less BPE over a, b, c, d with
/// merges `a b`, `c d`, `ab cd` and `[UNK]` for anything else.
#[test]
fn bpe_fixture_counts() {
    let t = hugging_face("bpe.json");
    for (text, n) in [
        ("", 0),
        ("abcd", 1),       // a b c d → ab cd → abcd
        ("abcdab", 2),     // abcd ab
        ("dcba", 4),       // no merge applies
        ("ab cd", 2),      // two words
        ("abx", 2),        // ab [UNK]
        ("xyz", 3),        // [UNK] [UNK] [UNK] (unknowns are not fused)
        ("abcd, abcd", 3), // abcd [UNK] abcd
    ] {
        assert_eq!(count(&t, text), n, "{text:?}");
    }
}

/// `gpt2-split.json`: GPT-2's pre-tokenizer regex as a Split
/// pre-tokenizer, over a word-level model that knows only " x". Its
/// `\s+(?!\S)` overflows fancy-regex on a million spaces, and the tokenizers
/// library then silently counts the rest of the text as one piece (1 token
/// instead of 2 here); such texts are refused instead.
#[test]
fn long_whitespace_runs_are_refused_by_hugging_face_tokenizers() {
    let t = hugging_face("gpt2-split.json");
    assert_eq!(count(&t, " x"), 1);
    assert_eq!(count(&t, "   x"), 2); // "  ", " x"
    let below = tokencert_core::tokens::HUGGING_FACE_MAX_WHITESPACE_RUN - 1;
    assert_eq!(count(&t, &format!("{}x", " ".repeat(below))), 2);
    assert_eq!(count(&t, &format!("{}x", "\n".repeat(below))), 3);
    for text in [
        format!("{}x", " ".repeat(below + 1)),
        format!("{}x", " ".repeat(1 << 20)),
        format!("a{}", "\n \t".repeat(1 << 18)),
    ] {
        let e = t.count(&text).expect_err("refused");
        assert!(matches!(e, TokenizerError::Encode { .. }), "{e:?}");
        assert!(e.to_string().contains("whitespace characters"), "{e}");
    }
}

#[test]
fn hugging_face_counts_pathological_text_without_panicking() {
    for file in ["wordlevel.json", "bpe.json"] {
        let t = hugging_face(file);
        for text in [
            " x".repeat(1 << 19),
            "\n".repeat(50_000),
            "abcd".repeat(1 << 16),
            "\0\u{301}\u{fffd}👩‍👩‍👧‍👦".repeat(1 << 12),
        ] {
            let started = Instant::now();
            let n = t.count(&text);
            println!(
                "{file}: {} bytes → {n:?} in {:.2?}",
                text.len(),
                started.elapsed()
            );
            assert!(n.is_ok(), "{file}: {n:?}");
        }
    }
}

#[test]
fn relative_paths_resolve_against_base_and_absolute_ones_do_not() {
    let rel = TokenizerSpec::HuggingFace("tokenizers/bpe.json".into());
    let base = fixtures().join("..");
    assert_eq!(
        count(&Tokenizer::load(&rel, &base).expect("loads"), "abcd"),
        1
    );
    let abs = TokenizerSpec::HuggingFace(fixtures().join("bpe.json"));
    let t = Tokenizer::load(&abs, Path::new("/nonexistent")).expect("absolute loads");
    assert_eq!(count(&t, "abcd"), 1);
}

/// The error's text, which must name `path`.
fn error_naming(spec_path: &Path, base: &Path) -> (TokenizerError, String) {
    let e = Tokenizer::load(&TokenizerSpec::HuggingFace(spec_path.into()), base)
        .expect_err("must fail");
    let text = e.to_string();
    let resolved = base.join(spec_path);
    assert!(
        text.contains(&resolved.display().to_string()),
        "{text:?} must name {}",
        resolved.display()
    );
    (e, text)
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (e, text) = error_naming(Path::new("no/such/tokenizer.json"), dir.path());
    assert!(matches!(e, TokenizerError::Read { .. }), "{e:?}");
    assert!(text.contains("cannot read"), "{text}");
}

#[test]
fn a_directory_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("tokenizer.json")).expect("mkdir");
    let (e, _) = error_naming(Path::new("tokenizer.json"), dir.path());
    assert!(matches!(e, TokenizerError::Read { .. }), "{e:?}");
}

#[test]
fn invalid_json_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, content) in [
        "{not json",
        "",
        "[]",
        "{}",
        r#"{"version": "1.0", "model": {"type": "Nonsense"}}"#,
        "\u{feff}\0\u{1}",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("bad{i}.json");
        std::fs::write(dir.path().join(&name), content).expect("write");
        let (e, text) = error_naming(Path::new(&name), dir.path());
        assert!(
            matches!(e, TokenizerError::Invalid { .. }),
            "{content:?}: {e:?}"
        );
        assert!(
            text.contains("not a usable Hugging Face tokenizer.json"),
            "{text}"
        );
        println!("{text}");
    }
}

#[test]
fn an_oversized_file_is_refused_unread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.json");
    // A sparse file: no 64 MiB written to disk.
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(MAX_TOKENIZER_FILE_BYTES + 1).expect("set_len");
    drop(file);
    let started = Instant::now();
    let (e, text) = error_naming(Path::new("huge.json"), dir.path());
    assert!(
        matches!(e, TokenizerError::TooLarge { size, limit, .. }
            if size == MAX_TOKENIZER_FILE_BYTES + 1 && limit == MAX_TOKENIZER_FILE_BYTES),
        "{e:?}"
    );
    assert!(
        text.contains("larger than the 67108864 bytes allowed"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused without reading"
    );

    // Exactly at the limit is read (and then fails as JSON, not as size).
    let file = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_len(MAX_TOKENIZER_FILE_BYTES).expect("set_len");
    drop(file);
    let (e, _) = error_naming(Path::new("huge.json"), dir.path());
    assert!(matches!(e, TokenizerError::Invalid { .. }), "{e:?}");
}

#[test]
fn an_encoder_that_fails_is_an_error_not_a_panic() {
    // The word-level fixture without its unknown token: an unknown word
    // cannot be encoded.
    let text = std::fs::read_to_string(fixtures().join("wordlevel.json")).expect("fixture");
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("json");
    json["model"]["vocab"]
        .as_object_mut()
        .expect("vocab")
        .remove("[UNK]");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("no-unk.json"), json.to_string()).expect("write");
    let t = Tokenizer::load(
        &TokenizerSpec::HuggingFace("no-unk.json".into()),
        dir.path(),
    )
    .expect("loads");
    assert_eq!(count(&t, "hello world"), 2);
    let e = t.count("hello stranger").expect_err("unknown word");
    assert!(matches!(e, TokenizerError::Encode { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("no-unk.json (hugging face)"), "{text}");
    println!("{text}");
}

#[test]
fn debug_is_short() {
    let t = hugging_face("wordlevel.json");
    assert_eq!(
        format!("{t:?}"),
        r#"Tokenizer { name: "wordlevel.json (hugging face)", kind: "hugging face" }"#
    );
}
