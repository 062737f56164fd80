//! A tokenizer declared as a GGUF file: llama.cpp's SentencePiece count on
//! small vocabularies built here, hostile files, the YAML form, and the
//! tokenizer-only copy a bundle keeps. `llama_cpp_counts_agree` (ignored;
//! `fixtures/llama-cpp/check_tokenizer.sh` runs it) compares the count with
//! llama.cpp's own on a real model.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tokencert_core::tokens::{
    BUNDLE_TOKENIZER_GGUF, BUNDLE_TOKENIZER_JSON, Tokenizer, TokenizerError, TokenizerSpec,
};

// --- a GGUF writer for the tests ------------------------------------------------

/// A GGUF value, written as the format has it.
enum V {
    U32(u32),
    Bool(bool),
    Str(&'static str),
    Strs(Vec<Vec<u8>>),
    F32s(Vec<f32>),
    I32s(Vec<i32>),
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s);
}

/// A GGUF file (version 3) with `pairs`, claiming `tensors` tensors, and
/// `tail` after the key/value section (where tensor data would be).
fn gguf(pairs: &[(&str, V)], tensors: u64, tail: &[u8]) -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&tensors.to_le_bytes());
    out.extend_from_slice(&(pairs.len() as u64).to_le_bytes());
    for (key, value) in pairs {
        string(&mut out, key.as_bytes());
        match value {
            V::U32(v) => {
                out.extend_from_slice(&4u32.to_le_bytes());
                out.extend_from_slice(&v.to_le_bytes());
            }
            V::Bool(b) => {
                out.extend_from_slice(&7u32.to_le_bytes());
                out.push(u8::from(*b));
            }
            V::Str(s) => {
                out.extend_from_slice(&8u32.to_le_bytes());
                string(&mut out, s.as_bytes());
            }
            V::Strs(items) => {
                out.extend_from_slice(&9u32.to_le_bytes());
                out.extend_from_slice(&8u32.to_le_bytes());
                out.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for s in items {
                    string(&mut out, s);
                }
            }
            V::F32s(items) => {
                out.extend_from_slice(&9u32.to_le_bytes());
                out.extend_from_slice(&6u32.to_le_bytes());
                out.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for f in items {
                    out.extend_from_slice(&f.to_le_bytes());
                }
            }
            V::I32s(items) => {
                out.extend_from_slice(&9u32.to_le_bytes());
                out.extend_from_slice(&5u32.to_le_bytes());
                out.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for i in items {
                    out.extend_from_slice(&i.to_le_bytes());
                }
            }
        }
    }
    out.extend_from_slice(tail);
    out
}

const NORMAL: i32 = 1;
const UNKNOWN: i32 = 2;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;
const BYTE: i32 = 6;

/// The test vocabulary: (text, score, type).
///
/// - Merge order: in `abcd`, `bc` (-1) merges before `ab` (-2) and `cd`
///   (-3), which leaves `a bc d` (3 tokens) although `abcd` is a token:
///   merging `ab` and `cd` first would have reached it.
/// - Ties: in `wxyz`, `xy` and `yz` score the same; the leftmost merges
///   first, and then `wxy` does: `wxy z` (2 tokens; `w x yz` would be 3).
/// - Byte fallback: `!` and 日 (E6 97 A5) are no tokens but their bytes
///   are; € has neither.
/// - `<t>` is user-defined (split out of any text), `<c>` a control token
///   (text, like `<` `c` `>`).
fn vocabulary() -> Vec<(&'static str, f32, i32)> {
    vec![
        ("<unk>", 0.0, UNKNOWN),
        ("<bos>", 0.0, CONTROL),
        ("<eos>", 0.0, CONTROL),
        ("<t>", 0.0, USER_DEFINED),
        ("<c>", 0.0, CONTROL),
        ("<0x21>", 0.0, BYTE),
        ("<0x3C>", 0.0, BYTE),
        ("<0x3E>", 0.0, BYTE),
        ("<0xE6>", 0.0, BYTE),
        ("<0x97>", 0.0, BYTE),
        ("<0xA5>", 0.0, BYTE),
        ("▁", -5.0, NORMAL),
        ("a", -5.0, NORMAL),
        ("b", -5.0, NORMAL),
        ("c", -5.0, NORMAL),
        ("d", -5.0, NORMAL),
        ("w", -5.0, NORMAL),
        ("x", -5.0, NORMAL),
        ("y", -5.0, NORMAL),
        ("z", -5.0, NORMAL),
        ("ab", -2.0, NORMAL),
        ("bc", -1.0, NORMAL),
        ("cd", -3.0, NORMAL),
        ("abcd", -10.0, NORMAL),
        ("xy", -1.5, NORMAL),
        ("yz", -1.5, NORMAL),
        ("wxy", -4.0, NORMAL),
        ("▁a", -0.5, NORMAL),
        ("▁▁", -0.7, NORMAL),
    ]
}

/// The pairs of a GGUF file declaring `vocab`, with `extra` pairs after.
fn tokenizer_pairs(
    vocab: &[(&'static str, f32, i32)],
    extra: Vec<(&'static str, V)>,
) -> Vec<(&'static str, V)> {
    let mut pairs = vec![
        ("general.architecture", V::Str("gemma3")),
        ("tokenizer.ggml.model", V::Str("llama")),
        (
            "tokenizer.ggml.tokens",
            V::Strs(vocab.iter().map(|t| t.0.as_bytes().to_vec()).collect()),
        ),
        (
            "tokenizer.ggml.scores",
            V::F32s(vocab.iter().map(|t| t.1).collect()),
        ),
        (
            "tokenizer.ggml.token_type",
            V::I32s(vocab.iter().map(|t| t.2).collect()),
        ),
        ("tokenizer.ggml.bos_token_id", V::U32(1)),
        ("tokenizer.ggml.eos_token_id", V::U32(2)),
    ];
    pairs.extend(extra);
    pairs
}

/// Writes `bytes` to `name` in `dir`.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn load(dir: &Path, name: &str) -> Result<Tokenizer, TokenizerError> {
    Tokenizer::load(&TokenizerSpec::Gguf(name.into()), dir)
}

/// The test vocabulary as a tokenizer, with `extra` pairs.
fn test_tokenizer(extra: Vec<(&'static str, V)>) -> Tokenizer {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "t.gguf",
        &gguf(&tokenizer_pairs(&vocabulary(), extra), 0, &[]),
    );
    load(dir.path(), "t.gguf").expect("the test vocabulary loads")
}

fn count(t: &Tokenizer, text: &str) -> usize {
    t.count(text)
        .unwrap_or_else(|e| panic!("{} counts {text:?}: {e}", t.name()))
}

// --- counting --------------------------------------------------------------------

#[test]
fn merges_go_by_score_then_leftmost() {
    let t = test_tokenizer(vec![("tokenizer.ggml.add_space_prefix", V::Bool(false))]);
    for (text, n) in [
        ("", 0),
        ("a", 1),
        ("ab", 1),
        ("bc", 1),
        ("abcd", 3), // a bc d: bc (-1) before ab (-2); abcd never reached
        ("abab", 2), // ab ab
        ("wxyz", 2), // xy before yz (leftmost of equal scores), then wxy: wxy z
        ("xyz", 2),  // xy z
        ("wyz", 2),  // w yz
    ] {
        assert_eq!(count(&t, text), n, "{text:?}");
    }
}

#[test]
fn pieces_that_are_no_tokens_fall_back_to_bytes() {
    let t = test_tokenizer(vec![("tokenizer.ggml.add_space_prefix", V::Bool(false))]);
    assert_eq!(count(&t, "!"), 1, "<0x21>");
    assert_eq!(count(&t, "a!!b"), 4);
    assert_eq!(count(&t, "日"), 3, "<0xE6> <0x97> <0xA5>");
    assert_eq!(count(&t, "日!"), 4);
    // A control token's text is text: < c > as bytes and a token.
    assert_eq!(count(&t, "<c>"), 3);
    let e = t.count("a€").expect_err("no token for €'s bytes");
    assert!(matches!(e, TokenizerError::Encode { .. }), "{e:?}");
    assert!(e.to_string().contains("byte 0xE2"), "{e}");
}

#[test]
fn spaces_are_escaped_and_prefixed() {
    // add_space_prefix defaults to true for a SentencePiece vocabulary.
    let t = test_tokenizer(vec![]);
    assert_eq!(count(&t, "a"), 1, "▁a");
    assert_eq!(count(&t, "b"), 2, "▁ b");
    assert_eq!(count(&t, " a"), 2, "▁ ▁a (▁a scores above ▁▁)");
    assert_eq!(count(&t, "a a"), 2, "▁a ▁a");
    assert_eq!(count(&t, "   "), 2, "▁▁ ▁▁");
    let off = test_tokenizer(vec![("tokenizer.ggml.add_space_prefix", V::Bool(false))]);
    assert_eq!(count(&off, "a"), 1);
    assert_eq!(count(&off, "b"), 1);
    assert_eq!(count(&off, " a"), 1, "▁a");
    assert_eq!(count(&off, "   "), 2, "▁▁ ▁");
}

#[test]
fn user_defined_tokens_are_split_out_and_control_tokens_are_text() {
    let t = test_tokenizer(vec![]);
    // ▁a | <t> | ▁ b: the fragment after a split-out token is prefixed too.
    assert_eq!(count(&t, "a<t>b"), 4);
    assert_eq!(count(&t, "<t>"), 1);
    assert_eq!(count(&t, "<t><t>"), 2);
    // <c> is a control token: as text it is ▁ < c >.
    assert_eq!(count(&t, "<c>"), 4);
}

#[test]
fn integer_scores_and_missing_scores_and_types_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vocab = vocabulary();
    let mut pairs = tokenizer_pairs(&vocab, vec![]);
    // Integer scores (llama.cpp converts them to float), same order.
    pairs[3].1 = V::I32s(vocab.iter().map(|t| (t.1 * 10.0) as i32).collect());
    write(dir.path(), "int.gguf", &gguf(&pairs, 0, &[]));
    // ▁a (-5) first, then bc (-10): ▁a bc d.
    assert_eq!(
        count(&load(dir.path(), "int.gguf").expect("loads"), "abcd"),
        3
    );
    // No scores (all 0: leftmost first) and no types (all normal).
    let bare: Vec<(&str, V)> = tokenizer_pairs(&vocab, vec![])
        .into_iter()
        .filter(|(k, _)| *k != "tokenizer.ggml.scores" && *k != "tokenizer.ggml.token_type")
        .collect();
    write(dir.path(), "bare.gguf", &gguf(&bare, 0, &[]));
    let t = load(dir.path(), "bare.gguf").expect("loads");
    // ▁a first (leftmost), then ab is stale and bc merges: ▁a bc d.
    assert_eq!(count(&t, "abcd"), 3);
    // "xyz": xy (leftmost), then nothing: xy z; "wxyz": wx is no token, xy, then wxy.
    assert_eq!(count(&t, "wxyz"), 3, "▁ wxy z");
    // <t> is no longer user-defined, so it is text, and "t" has no token
    // and no byte token.
    let e = t.count("<t>").expect_err("t cannot be encoded");
    assert!(e.to_string().contains("byte 0x74"), "{e}");
}

#[test]
fn pathological_text_is_counted_without_panicking() {
    let t = test_tokenizer(vec![]);
    let long = [
        " ".repeat(1 << 20),
        "ab".repeat(1 << 18),
        "<t>".repeat(1 << 16),
        "日!".repeat(1 << 15),
        "wxyz ".repeat(1 << 16),
    ];
    for text in &long {
        let started = Instant::now();
        let n = count(&t, text);
        println!(
            "{} bytes: {n} tokens in {:.2?}",
            text.len(),
            started.elapsed()
        );
        assert!(n > 0 && n <= text.len() + 1);
    }
    // 2^20 spaces: ▁ prefix plus 2^20 ▁ pair into ▁▁ tokens.
    assert_eq!(count(&t, &" ".repeat(1 << 20)), (1 << 19) + 1);
}

// --- what a GGUF file must be ------------------------------------------------------

/// Loads `bytes` as a GGUF tokenizer and returns the error, checking it
/// names the file.
fn refused(bytes: &[u8]) -> (TokenizerError, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "bad.gguf", bytes);
    let e = load(dir.path(), "bad.gguf").expect_err("must be refused");
    let text = e.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "{text:?} must name the file"
    );
    (e, text)
}

fn gguf_error(bytes: &[u8], says: &str) {
    let (e, text) = refused(bytes);
    assert!(matches!(e, TokenizerError::Gguf { .. }), "{e:?}");
    assert!(text.contains(says), "{text:?} must say {says:?}");
    println!("{text}");
}

fn good() -> Vec<u8> {
    gguf(&tokenizer_pairs(&vocabulary(), vec![]), 0, &[])
}

#[test]
fn every_truncation_is_refused() {
    let whole = good();
    for len in 0..whole.len() {
        let (e, text) = refused(&whole[..len]);
        assert!(matches!(e, TokenizerError::Gguf { .. }), "{len}: {e:?}");
        assert!(text.contains("truncated") || len < 4, "{len} bytes: {text}");
    }
}

#[test]
fn headers_that_are_not_gguf_are_refused() {
    gguf_error(b"", "truncated");
    gguf_error(b"GGML\x03\0\0\0", "not a GGUF file");
    gguf_error(b"{\"model\": 1}", "not a GGUF file");
    let mut v1 = good();
    v1[4..8].copy_from_slice(&1u32.to_le_bytes());
    gguf_error(&v1, "GGUF version 1 is not supported");
    let mut big_endian = good();
    big_endian[4..8].copy_from_slice(&3u32.to_be_bytes());
    gguf_error(&big_endian, "big-endian");
    let mut v2 = good();
    v2[4..8].copy_from_slice(&2u32.to_le_bytes());
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "v2.gguf", &v2);
    assert!(load(dir.path(), "v2.gguf").is_ok(), "version 2 is read");
}

#[test]
fn counts_and_lengths_beyond_the_file_are_refused() {
    // A key/value count of 2^64 - 1: refused at once, not looped over.
    let mut many = good();
    many[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    let started = Instant::now();
    gguf_error(&many, "key/value pairs");
    assert!(started.elapsed().as_secs() < 5);

    // A key count within the limit but past the end of the file.
    let mut more = good();
    more[16..24].copy_from_slice(&1000u64.to_le_bytes());
    gguf_error(&more, "truncated");

    // A key length past the end of the file.
    let mut key = good();
    key[24..32].copy_from_slice(&(1u64 << 40).to_le_bytes());
    gguf_error(&key, "key 0");

    // A string length past the end of the file (general.architecture's value).
    let mut value = good();
    let at = 24 + 8 + "general.architecture".len() + 4;
    value[at..at + 8].copy_from_slice(&(u64::MAX - 3).to_le_bytes());
    gguf_error(&value, "truncated: a string");

    // An array count past the end of the file.
    let pos = find(&good(), b"tokenizer.ggml.tokens") + "tokenizer.ggml.tokens".len() + 8;
    let mut array = good();
    array[pos..pos + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
    gguf_error(&array, "declares 1152921504606846976 elements");
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("present")
}

#[test]
fn more_tokens_than_any_vocabulary_are_refused() {
    // 2^20 + 1 empty strings: 8 MiB of lengths, all there.
    let n = (1 << 20) + 1;
    let bytes = gguf(
        &[
            ("tokenizer.ggml.model", V::Str("llama")),
            ("tokenizer.ggml.tokens", V::Strs(vec![Vec::new(); n])),
        ],
        0,
        &[],
    );
    gguf_error(&bytes, "has 1048577 elements; more than 1048576");
}

#[test]
fn malformed_keys_and_values_are_refused() {
    let mut non_utf8 = good();
    let at = 24 + 8;
    non_utf8[at] = 0xff;
    gguf_error(&non_utf8, "key 0 is not UTF-8");

    let duplicate = gguf(
        &[
            ("tokenizer.ggml.model", V::Str("llama")),
            ("tokenizer.ggml.model", V::Str("llama")),
        ],
        0,
        &[],
    );
    gguf_error(&duplicate, "appears twice");

    // An unknown value type, and an array of arrays.
    let mut unknown = good();
    let at = 24 + 8 + "general.architecture".len();
    unknown[at..at + 4].copy_from_slice(&13u32.to_le_bytes());
    gguf_error(&unknown, "unknown type 13");
    let mut nested = gguf(&[("tokenizer.ggml.tokens", V::Strs(vec![]))], 0, &[]);
    let at = 24 + 8 + "tokenizer.ggml.tokens".len() + 4;
    nested[at..at + 4].copy_from_slice(&9u32.to_le_bytes());
    gguf_error(&nested, "array of arrays");
}

#[test]
fn vocabularies_llama_cpp_refuses_are_refused() {
    let vocab = vocabulary();
    let with = |key: &'static str, value: V| {
        let mut pairs: Vec<(&str, V)> = tokenizer_pairs(&vocab, vec![])
            .into_iter()
            .filter(|(k, _)| *k != key)
            .collect();
        pairs.push((key, value));
        gguf(&pairs, 0, &[])
    };
    gguf_error(
        &gguf(&[("general.architecture", V::Str("llama"))], 0, &[]),
        "no tokenizer.ggml.model",
    );
    gguf_error(
        &gguf(&[("tokenizer.ggml.model", V::Str("llama"))], 0, &[]),
        "no tokenizer.ggml.tokens",
    );
    gguf_error(
        &with("tokenizer.ggml.model", V::U32(1)),
        "tokenizer.ggml.model is uint32, not a string",
    );
    gguf_error(
        &with("tokenizer.ggml.scores", V::F32s(vec![0.0; 3])),
        "tokenizer.ggml.scores has 3 entries for 29 tokens",
    );
    gguf_error(
        &with("tokenizer.ggml.scores", V::F32s(vec![f32::NAN; 29])),
        "the score of token 0 is not a number",
    );
    gguf_error(
        &with("tokenizer.ggml.token_type", V::F32s(vec![1.0; 29])),
        "tokenizer.ggml.token_type is array of float32, not an array of int32",
    );
    gguf_error(
        &with("tokenizer.ggml.add_space_prefix", V::U32(1)),
        "add_space_prefix is uint32, not a bool",
    );
    let mut twice: Vec<Vec<u8>> = vocab.iter().map(|t| t.0.as_bytes().to_vec()).collect();
    twice[20] = b"a".to_vec();
    gguf_error(
        &with("tokenizer.ggml.tokens", V::Strs(twice)),
        "tokens 12 and 20 are both \"a\"",
    );
}

#[test]
fn other_vocabulary_types_are_refused_with_the_way_out() {
    for model in ["gpt2", "bert", "t5", "rwkv"] {
        let model: &'static str = model;
        let bytes = gguf(
            &[
                ("tokenizer.ggml.model", V::Str(model)),
                ("tokenizer.ggml.tokens", V::Strs(vec![b"a".to_vec()])),
            ],
            0,
            &[],
        );
        let (e, text) = refused(&bytes);
        assert!(
            matches!(&e, TokenizerError::UnsupportedGgufModel { model: m, .. } if m == model),
            "{e:?}"
        );
        assert!(text.contains(&format!("{model:?}")), "{text}");
        assert!(text.contains("hugging_face"), "{text}");
        println!("{text}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = load(dir.path(), "no/model.gguf").expect_err("missing");
    assert!(matches!(e, TokenizerError::Read { .. }), "{e:?}");
    assert!(e.to_string().contains("no/model.gguf"), "{e}");
}

// --- the spec --------------------------------------------------------------------

#[derive(Debug, serde::Deserialize)]
struct Profile {
    tokenizer: TokenizerSpec,
}

#[test]
fn spec_reads_from_yaml_and_json() {
    let read = |yaml: &str| serde_saphyr::from_str::<Profile>(yaml).map(|p| p.tokenizer);
    let spec = TokenizerSpec::Gguf("models/gemma-3-270m.gguf".into());
    assert_eq!(
        read("tokenizer: {gguf: models/gemma-3-270m.gguf}\n").expect("flow"),
        spec
    );
    assert_eq!(
        read("tokenizer:\n  gguf: models/gemma-3-270m.gguf\n").expect("block"),
        spec
    );
    assert!(read("tokenizer: gguf\n").is_err());
    assert!(read("tokenizer: {gguf: [a]}\n").is_err());
    let json = serde_json::to_string(&spec).expect("serialises");
    assert_eq!(json, r#"{"gguf":"models/gemma-3-270m.gguf"}"#);
    assert_eq!(
        serde_json::from_str::<TokenizerSpec>(&json).expect("parses"),
        spec
    );
    assert_eq!(spec.name(), "models/gemma-3-270m.gguf (gguf)");
    assert_eq!(
        test_tokenizer(vec![]).name(),
        "t.gguf (gguf)",
        "the path as declared"
    );
    assert_eq!(
        format!("{:?}", test_tokenizer(vec![])),
        r#"Tokenizer { name: "t.gguf (gguf)", kind: "gguf" }"#
    );
}

// --- the copy a bundle keeps -------------------------------------------------------

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn copy_into_keeps_only_the_tokenizer_of_a_gguf_model() {
    let source = tempfile::tempdir().expect("tempdir");
    let bundle = tempfile::tempdir().expect("tempdir");
    // A "model": other keys, two tensors claimed, and 1 MiB of "tensor data".
    let pairs = tokenizer_pairs(
        &vocabulary(),
        vec![
            ("general.alignment", V::U32(32)),
            ("gemma3.context_length", V::U32(32768)),
            ("gemma3.rope.scaling", V::Strs(vec![b"linear".to_vec()])),
            ("tokenizer.chat_template", V::Str("{{ messages }}")),
        ],
    );
    let model = gguf(&pairs, 2, &vec![0x5a; 1 << 20]);
    write(source.path(), "model.gguf", &model);

    let spec = TokenizerSpec::Gguf("model.gguf".into());
    let copied = spec
        .copy_into(source.path(), bundle.path())
        .expect("copies");
    assert_eq!(copied, TokenizerSpec::Gguf(BUNDLE_TOKENIZER_GGUF.into()));
    let copy = bundle.path().join(BUNDLE_TOKENIZER_GGUF);
    let bytes = std::fs::read(&copy).expect("the copy");
    println!(
        "{} bytes of model, {} of tokenizer",
        model.len(),
        bytes.len()
    );
    assert!(bytes.len() < 2048, "{} bytes", bytes.len());
    let has = |key: &str| bytes.windows(key.len()).any(|w| w == key.as_bytes());
    assert!(has("tokenizer.ggml.tokens") && has("tokenizer.chat_template"));
    assert!(has("general.architecture"));
    assert!(!has("general.alignment") && !has("gemma3.context_length"));
    assert_eq!(&bytes[8..16], &0u64.to_le_bytes(), "no tensors");
    #[cfg(unix)]
    assert_eq!(mode(&copy), 0o600);

    // The copy counts as the model does, loaded from the bundle.
    let original = Tokenizer::load(&spec, source.path()).expect("model loads");
    let extracted = Tokenizer::load(&copied, bundle.path()).expect("copy loads");
    for text in ["", "abcd", "wxyz", "a<t>b", "日! <c>", "   a  b ", "xyzzy"] {
        assert_eq!(count(&original, text), count(&extracted, text), "{text:?}");
    }
    // Copying the copy gives the same bytes.
    let again = tempfile::tempdir().expect("tempdir");
    copied
        .copy_into(bundle.path(), again.path())
        .expect("copies");
    assert_eq!(
        std::fs::read(again.path().join(BUNDLE_TOKENIZER_GGUF)).expect("read"),
        bytes
    );
}

#[test]
fn copy_into_copies_a_hugging_face_file_and_leaves_builtins() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let bundle = tempfile::tempdir().expect("tempdir");
    let spec = TokenizerSpec::HuggingFace("tokenizers/bpe.json".into());
    let copied = spec.copy_into(&fixtures, bundle.path()).expect("copies");
    assert_eq!(
        copied,
        TokenizerSpec::HuggingFace(BUNDLE_TOKENIZER_JSON.into())
    );
    let copy = bundle.path().join(BUNDLE_TOKENIZER_JSON);
    assert_eq!(
        std::fs::read(&copy).expect("copy"),
        std::fs::read(fixtures.join("tokenizers/bpe.json")).expect("source")
    );
    #[cfg(unix)]
    assert_eq!(mode(&copy), 0o600);
    let t = Tokenizer::load(&copied, bundle.path()).expect("loads");
    assert_eq!(count(&t, "abcdab"), 2);

    let empty = tempfile::tempdir().expect("tempdir");
    for spec in [TokenizerSpec::O200kBase, TokenizerSpec::Cl100kBase] {
        assert_eq!(
            spec.copy_into(Path::new("."), empty.path()).expect("no-op"),
            spec
        );
    }
    assert_eq!(std::fs::read_dir(empty.path()).expect("dir").count(), 0);

    // A missing source, and a bundle directory that does not exist.
    let e = TokenizerSpec::Gguf("nope.gguf".into())
        .copy_into(&fixtures, bundle.path())
        .expect_err("missing");
    assert!(matches!(e, TokenizerError::Read { .. }), "{e:?}");
    let e = spec
        .copy_into(&fixtures, &bundle.path().join("missing"))
        .expect_err("no directory");
    assert!(matches!(e, TokenizerError::Write { .. }), "{e:?}");
    assert!(
        e.to_string().contains("cannot write the tokenizer copy"),
        "{e}"
    );
}

// --- against llama.cpp ---------------------------------------------------------------

/// Compares the count with llama.cpp's on a real model: `TOKENCERT_GGUF`
/// names the model, `TOKENCERT_GGUF_TEXTS` a JSON-lines file of
/// `{"text": ..., "count": ...}` written by
/// `fixtures/llama-cpp/check_tokenizer.py` with llama.cpp's counts. Both
/// the model and its tokenizer-only copy must agree on every text.
#[test]
#[ignore = "needs a GGUF model and llama.cpp's counts: fixtures/llama-cpp/check_tokenizer.sh"]
fn llama_cpp_counts_agree() {
    let model = std::env::var_os("TOKENCERT_GGUF").expect("TOKENCERT_GGUF names a GGUF model");
    let texts =
        std::env::var_os("TOKENCERT_GGUF_TEXTS").expect("TOKENCERT_GGUF_TEXTS names the texts");
    let model = PathBuf::from(model);
    let started = Instant::now();
    let spec = TokenizerSpec::Gguf(model.clone());
    let from_model = Tokenizer::load(&spec, Path::new(".")).expect("the model loads");
    println!("loaded {} in {:.2?}", model.display(), started.elapsed());
    // TOKENCERT_GGUF_BUNDLE, if set, is a directory to leave the copy in.
    let temp = tempfile::tempdir().expect("tempdir");
    let bundle = std::env::var_os("TOKENCERT_GGUF_BUNDLE")
        .map_or_else(|| temp.path().to_path_buf(), PathBuf::from);
    std::fs::create_dir_all(&bundle).expect("bundle directory");
    let copied = spec.copy_into(Path::new("."), &bundle).expect("copies");
    let extract = bundle.join(BUNDLE_TOKENIZER_GGUF);
    let size = std::fs::metadata(&extract).expect("extract").len();
    let model_size = std::fs::metadata(&model).expect("model").len();
    println!("model: {model_size} bytes; extracted tokenizer.gguf: {size} bytes");
    let from_copy = Tokenizer::load(&copied, &bundle).expect("the copy loads");

    let lines = std::fs::read_to_string(texts).expect("texts");
    let (mut compared, mut mismatches, mut bytes) = (0, 0, 0);
    let started = Instant::now();
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let text = case["text"].as_str().expect("text");
        let expected = case["count"].as_u64().expect("count") as usize;
        let ours = from_model.count(text).expect("counts");
        let copy = from_copy.count(text).expect("counts");
        compared += 1;
        bytes += text.len();
        if ours != expected || copy != expected {
            mismatches += 1;
            if mismatches <= 20 {
                println!("MISMATCH llama.cpp {expected}, model {ours}, copy {copy}: {text:?}");
            }
        }
    }
    println!(
        "texts compared: {compared} ({bytes} bytes, counted twice in {:.2?}); mismatches: {mismatches}",
        started.elapsed()
    );
    assert!(compared > 0, "no texts");
    assert_eq!(mismatches, 0);
}
