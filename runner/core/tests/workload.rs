//! Seeded workloads: exact synthetic prompt lengths, determinism from the
//! seed, length distributions, presets clipped to a context window, prompt
//! files, and the statistics of the arrival schedules.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use tokencert_core::suite::Dialect;
use tokencert_core::tokens::{Tokenizer, TokenizerSpec};
use tokencert_core::workload::{
    Arrivals, LengthDist, LoadModel, Preset, PromptBuilder, Prompts, STREAM_TEXT, Workload,
    WorkloadError, read_prompt_file, rng, schedule, synthetic_prompt,
};

fn tokenizer(spec: TokenizerSpec) -> Tokenizer {
    Tokenizer::load(&spec, Path::new(".")).expect("the embedded tokenizer loads")
}

fn o200k() -> Tokenizer {
    tokenizer(TokenizerSpec::O200kBase)
}

fn fixture_tokenizer(name: &str) -> Tokenizer {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tokenizers");
    Tokenizer::load(&TokenizerSpec::HuggingFace(PathBuf::from(name)), &dir)
        .expect("the fixture tokenizer loads")
}

fn count(tokenizer: &Tokenizer, text: &str) -> u64 {
    tokenizer.count(text).expect("the text counts") as u64
}

#[test]
fn synthetic_prompts_have_exact_lengths_under_both_tiktoken_encodings() {
    for spec in [TokenizerSpec::O200kBase, TokenizerSpec::Cl100kBase] {
        let tokenizer = tokenizer(spec);
        let mut builder = PromptBuilder::new(&tokenizer);
        for seed in 0..4 {
            let mut rng = rng(seed, STREAM_TEXT);
            for tokens in [1, 2, 3, 10, 17, 1000, 10_000] {
                let text = builder.build(tokens, &mut rng).expect("the prompt builds");
                assert_eq!(
                    count(&tokenizer, &text),
                    tokens,
                    "{} seed {seed}: {text:.200}",
                    tokenizer.name()
                );
            }
        }
        assert_eq!(
            synthetic_prompt(&tokenizer, 0, &mut rng(0, STREAM_TEXT)).expect("builds"),
            ""
        );
    }
}

#[test]
fn synthetic_prompts_are_english_like() {
    let tokenizer = o200k();
    let text = synthetic_prompt(&tokenizer, 200, &mut rng(7, STREAM_TEXT)).expect("builds");
    assert!(text.starts_with(|c: char| c.is_ascii_uppercase()), "{text}");
    assert!(text.contains(". "), "{text}");
    assert!(!text.contains("  "), "{text}");
    println!("200 tokens: {text}");
}

#[test]
fn synthetic_prompts_have_exact_lengths_under_hugging_face_tokenizers() {
    for name in ["wordlevel.json", "bpe.json"] {
        let tokenizer = fixture_tokenizer(name);
        let mut rng = rng(3, STREAM_TEXT);
        for tokens in [1, 5, 100, 1000] {
            let text = synthetic_prompt(&tokenizer, tokens, &mut rng).expect("the prompt builds");
            assert_eq!(count(&tokenizer, &text), tokens, "{name}");
        }
    }
}

#[test]
fn same_seed_same_prompt_byte_for_byte_and_different_seed_different_prompt() {
    let tokenizer = o200k();
    let build = |seed| synthetic_prompt(&tokenizer, 1000, &mut rng(seed, STREAM_TEXT));
    let a = build(42).expect("builds");
    let b = build(42).expect("builds");
    let c = build(43).expect("builds");
    assert_eq!(a.as_bytes(), b.as_bytes());
    assert_ne!(a, c);
}

#[test]
fn a_100k_token_prompt_is_built_quickly() {
    for spec in [TokenizerSpec::O200kBase, TokenizerSpec::Cl100kBase] {
        let tokenizer = tokenizer(spec);
        // Build the encoder before timing.
        count(&tokenizer, "warm up");
        let started = Instant::now();
        let text = synthetic_prompt(&tokenizer, 100_000, &mut rng(1, STREAM_TEXT)).expect("builds");
        let took = started.elapsed();
        println!(
            "100,000-token prompt under {}: {} bytes built and verified in {took:?}",
            tokenizer.name(),
            text.len()
        );
        assert_eq!(count(&tokenizer, &text), 100_000);
    }
}

#[test]
fn length_distributions_stay_in_bounds_and_are_seeded() {
    let uniform = LengthDist::Uniform { min: 10, max: 20 };
    let normal = LengthDist::Normal {
        mean: 100.0,
        sd: 50.0,
        min: 60,
        max: 140,
    };
    uniform.validate("input").expect("valid");
    normal.validate("input").expect("valid");
    let mut r = rng(5, 2);
    let draws: Vec<u64> = (0..10_000).map(|_| uniform.sample(&mut r)).collect();
    assert!(draws.iter().all(|n| (10..=20).contains(n)));
    for n in 10..=20 {
        assert!(draws.contains(&n), "{n} never drawn");
    }
    let normals: Vec<u64> = (0..10_000).map(|_| normal.sample(&mut r)).collect();
    assert!(normals.iter().all(|n| (60..=140).contains(n)));
    assert!(
        normals.contains(&60) && normals.contains(&140),
        "clipped at both ends"
    );
    let mean = normals.iter().sum::<u64>() as f64 / normals.len() as f64;
    assert!((mean - 100.0).abs() < 2.0, "mean {mean}");
    assert_eq!(LengthDist::Fixed(7).sample(&mut r), 7);

    let again: Vec<u64> = {
        let mut r = rng(5, 2);
        (0..10_000).map(|_| uniform.sample(&mut r)).collect()
    };
    assert_eq!(draws, again);

    for bad in [
        LengthDist::Fixed(0),
        LengthDist::Uniform { min: 5, max: 4 },
        LengthDist::Normal {
            mean: f64::NAN,
            sd: 1.0,
            min: 1,
            max: 2,
        },
        LengthDist::Normal {
            mean: 1.0,
            sd: -1.0,
            min: 1,
            max: 2,
        },
    ] {
        let err = bad.validate("output length").expect_err("invalid");
        assert!(err.to_string().contains("output length"), "{err}");
    }
}

#[test]
fn presets_are_clipped_to_the_context_window_prompt_first() {
    let lengths = |p: Preset| {
        let l = p.clipped(8192).expect("fits");
        (l.prompt, l.output)
    };
    assert_eq!(lengths(Preset::Short), (100, 300));
    assert_eq!(lengths(Preset::Medium), (1000, 1000));
    assert_eq!(lengths(Preset::Long), (8192 - 1500, 1500));
    assert_eq!(lengths(Preset::VeryLong), (8192 - 2000, 2000));
    for preset in Preset::ALL {
        let l = preset.clipped(8192).expect("fits");
        assert!(l.prompt + l.output <= 8192);
    }
    // Only when a one-token prompt does not fit does the output shrink.
    let tiny = Preset::VeryLong.clipped(1500).expect("fits");
    assert_eq!((tiny.prompt, tiny.output), (1, 1499));
    assert!(Preset::Short.clipped(1).is_err());
    assert_eq!(Preset::VeryLong.lengths().prompt, 100_000);
}

#[test]
fn a_preset_workload_plans_exact_clipped_prompts() {
    let tokenizer = o200k();
    let workload = Workload {
        seed: 9,
        requests: 2,
        duration: None,
        prompts: Prompts::Preset(Preset::VeryLong),
        load: LoadModel::Closed {
            users: 1,
            think_time: Duration::ZERO,
        },
        dialect: Dialect::OpenaiChat,
    };
    let plan = workload
        .plan(&tokenizer, Path::new("."), Some(8192))
        .expect("plans");
    assert_eq!(plan.len(), 2);
    for request in &plan {
        assert_eq!(request.scheduled_ns, None);
        assert_eq!((request.prompt_tokens, request.max_tokens), (6192, 2000));
        let text = request.body["messages"][0]["content"]
            .as_str()
            .expect("content");
        assert_eq!(count(&tokenizer, text), 6192);
    }
    assert_ne!(plan[0].body, plan[1].body, "each request its own prompt");
}

#[test]
fn poisson_gaps_average_one_over_the_rate() {
    let times = schedule(Arrivals::Poisson(100.0), 10_000, None, &mut rng(11, 1)).expect("ok");
    assert_eq!(times.len(), 10_000);
    assert_eq!(times[0], 0);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    let mean_gap = times[times.len() - 1] as f64 / (times.len() - 1) as f64;
    let want = 10_000_000.0;
    assert!(
        (mean_gap - want).abs() / want < 0.03,
        "mean gap {mean_gap} ns"
    );
    // Poisson: the coefficient of variation of the gaps is 1.
    let cv = coefficient_of_variation(&times);
    assert!((cv - 1.0).abs() < 0.05, "cv {cv}");
}

fn coefficient_of_variation(times: &[u64]) -> f64 {
    let gaps: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let var = gaps.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / (gaps.len() - 1) as f64;
    var.sqrt() / mean
}

#[test]
fn gamma_burstiness_sets_the_coefficient_of_variation() {
    for shape in [0.25, 0.5, 1.0, 2.0, 4.0] {
        let times =
            schedule(Arrivals::Gamma(50.0, shape), 20_000, None, &mut rng(13, 1)).expect("ok");
        let cv = coefficient_of_variation(&times);
        let want = 1.0 / f64::sqrt(shape);
        println!("gamma shape {shape}: cv {cv:.4} (want {want:.4})");
        assert!((cv - want).abs() / want < 0.10, "shape {shape}: cv {cv}");
        let mean_gap = times[times.len() - 1] as f64 / (times.len() - 1) as f64;
        assert!(
            (mean_gap - 20e6).abs() / 20e6 < 0.05,
            "shape {shape}: {mean_gap}"
        );
    }
}

#[test]
fn constant_schedules_are_exact_and_bounded_by_duration() {
    let times = schedule(Arrivals::Constant(3.0), 10, None, &mut rng(0, 1)).expect("ok");
    assert_eq!(
        times,
        (0..10u64)
            .map(|i| (i as f64 * 1e9 / 3.0).round() as u64)
            .collect::<Vec<_>>()
    );
    assert_eq!(times[3], 1_000_000_000);
    // 1,000 requests at 10/s bounded to 2 s: the ones at 0, 0.1, … 1.9 s.
    let bounded = schedule(
        Arrivals::Constant(10.0),
        1000,
        Some(Duration::from_secs(2)),
        &mut rng(0, 1),
    )
    .expect("ok");
    assert_eq!(bounded.len(), 20);
    assert!(bounded.iter().all(|&t| t < 2_000_000_000));
    for bad in [
        Arrivals::Constant(0.0),
        Arrivals::Poisson(f64::INFINITY),
        Arrivals::Poisson(-1.0),
        Arrivals::Gamma(1.0, 0.0),
        Arrivals::Gamma(1.0, f64::NAN),
    ] {
        assert!(schedule(bad, 10, None, &mut rng(0, 1)).is_err(), "{bad:?}");
    }
}

#[test]
fn same_seed_same_schedule_different_seed_different_schedule() {
    for arrivals in [Arrivals::Poisson(100.0), Arrivals::Gamma(100.0, 0.5)] {
        let a = schedule(arrivals, 1000, None, &mut rng(1, 1)).expect("ok");
        let b = schedule(arrivals, 1000, None, &mut rng(1, 1)).expect("ok");
        let c = schedule(arrivals, 1000, None, &mut rng(2, 1)).expect("ok");
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).expect("create");
    file.write_all(text.as_bytes()).expect("write");
    path
}

#[test]
fn prompt_files_are_read_and_a_bad_line_is_named_by_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write_file(
        dir.path(),
        "good.jsonl",
        "{\"prompt\": \"Say hi.\", \"max_tokens\": 5}\n\n\
         {\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, \
         {\"role\": \"user\", \"content\": \"Hello there\"}]}\r\n",
    );
    let prompts = read_prompt_file(&good).expect("reads");
    assert_eq!(prompts.len(), 2);
    assert_eq!((prompts[0].line, prompts[1].line), (1, 3));
    assert_eq!(prompts[0].max_tokens, Some(5));
    assert_eq!(
        prompts[0].messages,
        vec![json!({"role": "user", "content": "Say hi."})]
    );
    assert_eq!(prompts[1].max_tokens, None);

    let cases = [
        (
            "{\"prompt\": \"ok\"}\n{\"prompt\": \"x\", \"max_token\": 3}\n",
            2,
        ),
        ("{\"prompt\": \"ok\"}\n\n[1, 2]\n", 3),
        ("{\"prompt\": \"ok\"}\nnot json\n", 2),
        ("{\"prompt\": \"a\", \"messages\": []}\n", 1),
        ("{\"max_tokens\": 3}\n", 1),
        ("{\"messages\": []}\n", 1),
        ("{\"messages\": [{\"content\": \"no role\"}]}\n", 1),
        ("{\"prompt\": \"ok\", \"max_tokens\": 0}\n", 1),
    ];
    for (i, (text, line)) in cases.iter().enumerate() {
        let path = write_file(dir.path(), &format!("bad{i}.jsonl"), text);
        let err = read_prompt_file(&path).expect_err("refused");
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("{}:{line}: ", path.display())),
            "{shown}"
        );
        assert!(
            matches!(err, WorkloadError::PromptFile { line: Some(l), .. } if l == *line),
            "{err:?}"
        );
    }
    let empty = write_file(dir.path(), "empty.jsonl", "\n\n");
    let err = read_prompt_file(&empty).expect_err("no prompt");
    assert!(err.to_string().contains("empty.jsonl"), "{err}");
}

#[test]
fn prompt_files_are_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let long_line = format!(
        "{{\"prompt\": \"ok\"}}\n{{\"prompt\": \"{}\"}}\n",
        "a".repeat(1024 * 1024)
    );
    let path = write_file(dir.path(), "long.jsonl", &long_line);
    let err = read_prompt_file(&path).expect_err("too long");
    assert!(err.to_string().contains(":2: "), "{err}");

    let big = dir.path().join("big.jsonl");
    std::fs::File::create(&big)
        .expect("create")
        .set_len(64 * 1024 * 1024 + 1)
        .expect("set_len");
    let err = read_prompt_file(&big).expect_err("too large");
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[test]
fn a_workload_deserializes_strictly_and_plans_a_seeded_request_list() {
    let tokenizer = o200k();
    let value = json!({
        "seed": 5,
        "requests": 50,
        "duration": "10s",
        "prompts": {"synthetic": {
            "input": {"uniform": {"min": 20, "max": 60}},
            "output": {"normal": {"mean": 100.0, "sd": 20.0, "min": 50, "max": 150}}
        }},
        "load": {"poisson": {"rate": 20.0}}
    });
    let workload: Workload = serde_json::from_value(value.clone()).expect("deserializes");
    assert_eq!(workload.duration, Some(Duration::from_secs(10)));
    let plan = workload
        .plan(&tokenizer, Path::new("."), None)
        .expect("plans");
    assert!(!plan.is_empty() && plan.len() <= 50);
    for (i, request) in plan.iter().enumerate() {
        assert_eq!(request.index, i as u64);
        let at = request.scheduled_ns.expect("open loop");
        assert!(at < 10_000_000_000);
        assert!((20..=60).contains(&request.prompt_tokens));
        assert!((50..=150).contains(&request.max_tokens));
        let body = &request.body;
        assert_eq!(body["model"], "${model}");
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["max_tokens"], request.max_tokens);
        assert_eq!(body["messages"][0]["role"], "user");
        let text = body["messages"][0]["content"].as_str().expect("text");
        assert_eq!(count(&tokenizer, text), request.prompt_tokens);
    }
    let again = workload
        .plan(&tokenizer, Path::new("."), None)
        .expect("plans");
    assert_eq!(
        serde_json::to_vec(&plan).expect("json"),
        serde_json::to_vec(&again).expect("json")
    );
    let mut other = workload.clone();
    other.seed = 6;
    assert_ne!(
        other.plan(&tokenizer, Path::new("."), None).expect("plans"),
        plan
    );
    // The load model does not change the prompts.
    let mut closed = workload.clone();
    closed.load = LoadModel::Closed {
        users: 4,
        think_time: Duration::from_millis(500),
    };
    let closed_plan = closed
        .plan(&tokenizer, Path::new("."), None)
        .expect("plans");
    assert_eq!(closed_plan.len(), 50);
    assert!(closed_plan.iter().all(|r| r.scheduled_ns.is_none()));
    assert_eq!(closed_plan[0].body, plan[0].body);

    // Round trip, and unknown fields refused at every level.
    let back: Workload = serde_json::from_value(serde_json::to_value(&closed).expect("serializes"))
        .expect("deserializes");
    assert_eq!(back, closed);
    let closed_json = serde_json::to_value(&closed).expect("serializes");
    assert_eq!(
        closed_json["load"],
        json!({"closed": {"users": 4, "think_time": "500ms"}})
    );
    for (pointer, field) in [
        ("", "sead"),
        ("/load/poisson", "burstiness"),
        ("/prompts/synthetic", "inputs"),
        ("/prompts/synthetic/input/uniform", "mean"),
    ] {
        let mut bad = value.clone();
        bad.pointer_mut(pointer)
            .and_then(|v| v.as_object_mut())
            .expect("an object")
            .insert(field.to_string(), json!(1));
        let err = serde_json::from_value::<Workload>(bad).expect_err("unknown field");
        assert!(err.to_string().contains(field), "{err}");
    }
}

#[test]
fn a_file_workload_cycles_through_the_lines_and_fits_the_context() {
    let tokenizer = o200k();
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(
        dir.path(),
        "prompts.jsonl",
        "{\"prompt\": \"Say hi.\", \"max_tokens\": 5}\n\
         {\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Hello there\"}]}]}\n",
    );
    let workload: Workload = serde_json::from_value(json!({
        "requests": 5,
        "prompts": {"file": {"path": "prompts.jsonl", "max_tokens": 4000}},
        "load": {"constant": {"rate": 2}}
    }))
    .expect("deserializes");
    let plan = workload
        .plan(&tokenizer, dir.path(), Some(1000))
        .expect("plans");
    assert_eq!(plan.len(), 5);
    let limits: Vec<u64> = plan.iter().map(|r| r.max_tokens).collect();
    let hello = count(&tokenizer, "Hello there");
    assert_eq!(limits, vec![5, 1000 - hello, 5, 1000 - hello, 5]);
    assert_eq!(plan[1].prompt_tokens, hello);
    assert_eq!(plan[2].body, plan[0].body);
    assert_eq!(
        plan.iter().map(|r| r.scheduled_ns).collect::<Vec<_>>(),
        vec![
            Some(0),
            Some(500_000_000),
            Some(1_000_000_000),
            Some(1_500_000_000),
            Some(2_000_000_000)
        ]
    );

    // A line without max_tokens and no default: named by file and line.
    let mut no_default = workload.clone();
    no_default.prompts = Prompts::File {
        path: "prompts.jsonl".into(),
        max_tokens: None,
    };
    let err = no_default
        .plan(&tokenizer, dir.path(), None)
        .expect_err("no max_tokens");
    assert!(err.to_string().contains("prompts.jsonl:2: "), "{err}");
}

/// A BPE tokenizer without a pre-tokenizer whose merge `e` + space crosses
/// word boundaries: the count of a text is not the sum of the counts of its
/// words (`"The the"` is 6 tokens, `"The"` 3 and `" the"` 4).
fn cross_word_tokenizer(dir: &Path) -> Tokenizer {
    let mut vocab = serde_json::Map::new();
    vocab.insert("[UNK]".to_string(), json!(0));
    let symbols = (b'a'..=b'z')
        .chain(b'A'..=b'Z')
        .map(|b| (b as char).to_string())
        .chain([" ", ",", ".", "e ", " a"].map(String::from));
    for (id, symbol) in symbols.enumerate() {
        vocab.insert(symbol, json!(id + 1));
    }
    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [{"id": 0, "content": "[UNK]", "single_word": false, "lstrip": false,
                          "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": null,
        "post_processor": null,
        "decoder": null,
        "model": {
            "type": "BPE", "dropout": null, "unk_token": "[UNK]",
            "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab,
            "merges": [["e", " "], [" ", "a"]]
        }
    });
    let path = write_file(dir, "cross-word.json", &tokenizer.to_string());
    Tokenizer::load(&TokenizerSpec::HuggingFace(path), dir).expect("the tokenizer loads")
}

#[test]
fn a_tokenizer_merging_across_words_is_fixed_up_at_the_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokenizer = cross_word_tokenizer(dir.path());
    assert_eq!(count(&tokenizer, "The the"), 6);
    let mut builder = PromptBuilder::new(&tokenizer);
    for seed in 0..8 {
        let mut rng = rng(seed, STREAM_TEXT);
        for tokens in [1, 2, 7, 50, 500, 3000, 20_000] {
            let text = builder.build(tokens, &mut rng).expect("the prompt builds");
            assert_eq!(count(&tokenizer, &text), tokens, "{text:.200}");
        }
    }
}

#[test]
fn every_dialect_sends_the_same_seeded_prompts_as_its_own_request() {
    let tokenizer = o200k();
    let yaml = |dialect: &str| {
        format!(
            "seed: 5\nrequests: 3\nprompts: {{synthetic: {{input: {{fixed: 30}}, output: {{fixed: 9}}}}}}\n\
             load: {{closed: {{users: 1}}}}\n{dialect}"
        )
    };
    let plan = |text: String| {
        let workload: Workload = serde_saphyr::from_str(&text).expect("the workload parses");
        let plan = workload
            .plan(&tokenizer, Path::new("."), None)
            .expect("the workload plans");
        (workload.dialect, plan)
    };
    let (dialect, chat) = plan(yaml(""));
    assert_eq!(dialect, Dialect::OpenaiChat, "the default");
    let (dialect, messages) = plan(yaml("dialect: anthropic-messages\n"));
    assert_eq!(dialect, Dialect::AnthropicMessages);
    let (dialect, responses) = plan(yaml("dialect: openai-responses\n"));
    assert_eq!(dialect, Dialect::OpenaiResponses);
    for ((c, m), r) in chat.iter().zip(&messages).zip(&responses) {
        let prompt = &c.body["messages"][0]["content"];
        assert_eq!(count(&tokenizer, prompt.as_str().expect("text")), 30);
        assert_eq!(c.dialect, Dialect::OpenaiChat);
        assert_eq!(c.body["max_tokens"], 9);
        assert_eq!(c.body["stream_options"]["include_usage"], true);
        assert_eq!(m.dialect, Dialect::AnthropicMessages);
        assert_eq!(m.body["messages"], c.body["messages"]);
        assert_eq!(m.body["max_tokens"], 9);
        assert_eq!(m.body["stream"], true);
        assert!(m.body.get("stream_options").is_none(), "{}", m.body);
        assert_eq!(r.dialect, Dialect::OpenaiResponses);
        assert_eq!(&r.body["input"], prompt);
        assert_eq!(r.body["max_output_tokens"], 9);
        assert_eq!(r.body["stream"], true);
        assert!(r.body.get("max_tokens").is_none(), "{}", r.body);
        assert_eq!(
            (m.prompt_tokens, m.max_tokens, m.scheduled_ns),
            (c.prompt_tokens, c.max_tokens, c.scheduled_ns)
        );
    }
    let unknown = serde_saphyr::from_str::<Workload>(&yaml("dialect: anthropic\n"));
    assert!(unknown.is_err(), "an unknown dialect is refused");
}
