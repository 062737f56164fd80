//! Price sheets load and validate; a workload prices exactly under them,
//! with every condition a headline price hides: tiers, cache hits, unknown
//! prices, failed attempts paid for, and the rate limits a price holds at.

use std::path::{Path, PathBuf};

use serde_json::json;
use tokencert_core::canonical;
use tokencert_core::price::{
    self, Billed, CachedRate, Cost, JobMinutes, Limit, PerMillion, PriceSheet, PriceTable, Task,
    TokenUsage,
};
use tokencert_core::suite::Problem;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shipped() -> Vec<PriceSheet> {
    price::load_sheets(&repo_root()).unwrap_or_else(|p| panic!("shipped sheets: {p}"))
}

fn shipped_sheet(id: &str) -> PriceSheet {
    shipped()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no sheet {id}"))
}

/// A sheet built in the test, with everything but the rates fixed.
fn sheet(id: &str, extra: serde_json::Value) -> PriceSheet {
    let mut value = json!({
        "id": id,
        "provider": "P",
        "model": "M",
        "date": "2025-01-01",
        "source": "test",
        "rechecked": false,
        "currency": "CNY",
        "notes": "test sheet",
    });
    if let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    serde_json::from_value(value).expect("test sheet")
}

fn usage(prompt: u64, cached: u64, completion: u64) -> Option<TokenUsage> {
    Some(TokenUsage {
        prompt,
        cached,
        completion,
        reasoning: 0,
    })
}

fn billed(task: Task, usage: Option<TokenUsage>, succeeded: bool) -> Billed {
    Billed {
        case: format!("case.{}", task.name()),
        task,
        usage,
        succeeded,
        normalised_tokens: None,
    }
}

/// The cost of one successful chat turn with `usage` under `sheet`.
fn one_turn(sheet: &PriceSheet, usage: Option<TokenUsage>) -> Cost {
    let table = price::price_table(
        std::slice::from_ref(sheet),
        &[billed(Task::ChatTurn, usage, true)],
    );
    table.rows[0].per_task[0].cost
}

fn micros(text: &str) -> Cost {
    serde_json::from_value(json!(text)).expect("amount")
}

#[test]
fn every_shipped_sheet_loads_and_validates() {
    let sheets = shipped();
    let ids: Vec<&str> = sheets.iter().map(|s| s.id.as_str()).collect();
    for id in [
        "deepseek-v2",
        "glm-3-turbo",
        "gpt-4o",
        "doubao-pro-32k",
        "qwen-long",
        "ernie-speed",
        "hunyuan-lite",
        "hunyuan-standard-256k",
        "hunyuan-pro",
        "deepseek-v3.2-exp",
        "qwen3-max",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "sheets come sorted by file name");
    for sheet in &sheets {
        assert!(
            !sheet.rechecked,
            "{}: nothing here was re-checked",
            sheet.id
        );
        assert!(!sheet.notes.trim().is_empty(), "{}", sheet.id);
    }

    let v32 = shipped_sheet("deepseek-v3.2-exp");
    assert_eq!(v32.date, "2025-09-29");
    assert_eq!(
        v32.per_million_tokens.input,
        Some(PerMillion::from_micros(2_000_000))
    );
    assert_eq!(
        v32.per_million_tokens.cached_input,
        CachedRate::Known(PerMillion::from_micros(200_000))
    );
    let qwen = shipped_sheet("qwen3-max");
    assert_eq!(
        qwen.per_million_tokens.input,
        Some(PerMillion::from_micros(8_640_000))
    );
    assert_eq!(
        qwen.per_million_tokens.output,
        Some(PerMillion::from_micros(43_200_000))
    );
    assert_eq!(
        qwen.tiers[0].input, None,
        "higher Qwen3-Max tiers are unknown"
    );
    let doubao = shipped_sheet("doubao-pro-32k");
    assert_eq!(
        doubao.limits.rpm,
        Limit::PerMinute(60.try_into().expect("60"))
    );
    assert_eq!(doubao.limits.tpm, Limit::Unknown);
    let hunyuan = shipped_sheet("hunyuan-standard-256k");
    assert_eq!(
        hunyuan.per_million_tokens.output, None,
        "only input is known"
    );
    let free = shipped_sheet("ernie-speed");
    assert_eq!(free.per_million_tokens.input, Some(PerMillion::ZERO));
    assert_eq!(free.per_million_tokens.output, Some(PerMillion::ZERO));
}

/// A suite root holding the real price sheet schema and one sheet.
fn root_with_sheet(file: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let schemas = dir.path().join("spec/schemas");
    std::fs::create_dir_all(&schemas).expect("mkdir");
    std::fs::copy(
        repo_root().join(price::SHEET_SCHEMA),
        dir.path().join(price::SHEET_SCHEMA),
    )
    .expect("copy schema");
    let prices = dir.path().join(price::PRICES_DIR);
    std::fs::create_dir_all(&prices).expect("mkdir");
    std::fs::write(prices.join(file), text).expect("write sheet");
    dir
}

const GOOD: &str = "id: good\nprovider: P\nmodel: M\ndate: 2024-05\nsource: s\nrechecked: false\ncurrency: CNY\nper_million_tokens:\n  input: 1\n  output: null\nnotes: n\n";

/// The one problem loading a root with this sheet gives.
fn problem_of(file: &str, text: &str) -> Problem {
    let dir = root_with_sheet(file, text);
    match price::load_sheets(dir.path()) {
        Ok(_) => panic!("the bad sheet {file} loaded"),
        Err(p) => p,
    }
}

#[test]
fn a_valid_sheet_loads_and_an_absent_directory_gives_none() {
    let dir = root_with_sheet("good.yaml", GOOD);
    let sheets = price::load_sheets(dir.path()).expect("loads");
    assert_eq!(sheets.len(), 1);
    assert_eq!(sheets[0].per_million_tokens.output, None);
    let empty = tempfile::tempdir().expect("temp dir");
    assert_eq!(price::load_sheets(empty.path()).expect("no sheets"), vec![]);
}

#[test]
fn a_bad_sheet_names_file_line_and_field() {
    let p = problem_of(
        "good.yaml",
        &GOOD.replace("currency: CNY", "currency: yuan"),
    );
    assert_eq!(p.file, Path::new("suites/prices/good.yaml"));
    assert_eq!(p.line, Some(7));
    assert_eq!(p.field.as_deref(), Some("/currency"));
    let shown = p.to_string();
    assert!(
        shown.starts_with("suites/prices/good.yaml:7: field /currency:"),
        "{shown}"
    );

    let p = problem_of("good.yaml", &GOOD.replace("  input: 1\n", "  input: -1\n"));
    assert_eq!(
        (p.line, p.field.as_deref()),
        (Some(9), Some("/per_million_tokens/input"))
    );

    let p = problem_of(
        "good.yaml",
        &GOOD.replace("  input: 1\n", "  input: 0.0000001\n"),
    );
    assert_eq!(
        (p.line, p.field.as_deref()),
        (Some(9), Some("/per_million_tokens/input"))
    );
    assert!(p.message.contains("decimal places"), "{}", p.message);

    let p = problem_of(
        "good.yaml",
        &GOOD.replace("notes: n\n", "notes: n\nfree: true\n"),
    );
    assert_eq!(p.field.as_deref(), Some(""), "an unknown property: {p}");

    let p = problem_of("other.yaml", GOOD);
    assert_eq!((p.line, p.field.as_deref()), (Some(1), Some("/id")));
    assert!(p.message.contains("\"other\""), "{}", p.message);

    let tiers = "tiers:\n  - {min_prompt_tokens: 200, whole_request: true, input: 2, output: 2}\n  - {min_prompt_tokens: 100, whole_request: true, input: 3, output: 3}\n";
    let p = problem_of("good.yaml", &format!("{GOOD}{tiers}"));
    assert_eq!(
        (p.line, p.field.as_deref()),
        (Some(14), Some("/tiers/1/min_prompt_tokens"))
    );

    let p = problem_of("good.yml", GOOD);
    assert!(p.message.contains(".yaml"), "{p}");
}

#[test]
fn a_whole_request_tier_reprices_every_token_a_marginal_one_only_those_above() {
    let tiered = |whole: bool| {
        sheet(
            "tiered",
            json!({
                "per_million_tokens": {"input": 1, "output": 2},
                "tiers": [{"min_prompt_tokens": 1000, "whole_request": whole, "input": 4, "output": 8}],
            }),
        )
    };
    let (whole, marginal) = (tiered(true), tiered(false));
    // Below the threshold both price at the base rates: 999·1 + 100·2.
    assert_eq!(one_turn(&whole, usage(999, 0, 100)), micros("0.001199"));
    assert_eq!(one_turn(&marginal, usage(999, 0, 100)), micros("0.001199"));
    // At the threshold the tier applies: 1000·4 + 100·8 / 1000·1 + 0·4 + 100·8.
    assert_eq!(one_turn(&whole, usage(1000, 0, 100)), micros("0.004800"));
    assert_eq!(one_turn(&marginal, usage(1000, 0, 100)), micros("0.001800"));
    // Above: 1500·4 + 100·8 = 6800 / 1000·1 + 500·4 + 100·8 = 3800.
    assert_eq!(one_turn(&whole, usage(1500, 0, 100)), micros("0.006800"));
    assert_eq!(one_turn(&marginal, usage(1500, 0, 100)), micros("0.003800"));

    let table = price::price_table(
        &[whole],
        &[billed(Task::LongDocument, usage(1500, 0, 100), true)],
    );
    let conditions = table.rows[0].conditions.join("\n");
    assert!(
        conditions.contains(
            "tier from 1,000 prompt tokens (whole request): input 4, output 8: 1 of 1 requests"
        ),
        "{conditions}"
    );
    assert!(
        conditions.contains("base rates below 1,000 prompt tokens: 0 of 1 requests"),
        "{conditions}"
    );
}

#[test]
fn marginal_bands_take_each_tiers_rates_and_cache_hits_are_the_prompt_prefix() {
    let sheet = sheet(
        "bands",
        json!({
            "per_million_tokens": {"input": 1, "cached_input": 0.5, "output": 1},
            "tiers": [
                {"min_prompt_tokens": 100, "whole_request": false, "input": 2, "output": 2},
                {"min_prompt_tokens": 200, "whole_request": false, "input": 3, "cached_input": 1, "output": 4},
            ],
        }),
    );
    // [0,100): 100 hits · 0.5; [100,200): 50 hits + 50 misses · 2 (no
    // cache price: the input rate); [200,250): 50 misses · 3; 10 out · 4.
    assert_eq!(one_turn(&sheet, usage(250, 150, 10)), micros("0.000440"));
}

#[test]
fn cache_hits_take_the_cache_hit_rate_or_the_input_rate() {
    // DeepSeek-V3.2-Exp: 200 misses · 2 + 800 hits · 0.2 + 100 out · 3.
    let v32 = shipped_sheet("deepseek-v3.2-exp");
    assert_eq!(one_turn(&v32, usage(1000, 800, 100)), micros("0.000860"));
    assert_eq!(one_turn(&v32, usage(1000, 0, 100)), micros("0.002300"));
    // More cache hits than prompt tokens count as the whole prompt.
    assert_eq!(one_turn(&v32, usage(1000, 5000, 100)), micros("0.000500"));
    // DeepSeek-V2 gives no cache-hit price: hits cost the input rate.
    let v2 = shipped_sheet("deepseek-v2");
    assert_eq!(one_turn(&v2, usage(1000, 800, 100)), micros("0.001200"));
    // A cache-hit price that exists but is unknown: unknown once a hit occurs.
    let unknown_hits = sheet(
        "hits",
        json!({"per_million_tokens": {"input": 1, "cached_input": null, "output": 2}}),
    );
    assert_eq!(
        one_turn(&unknown_hits, usage(1000, 800, 100)),
        Cost::Unknown
    );
    assert_eq!(
        one_turn(&unknown_hits, usage(1000, 0, 100)),
        micros("0.001200")
    );
}

#[test]
fn an_unknown_price_gives_unknown_never_zero() {
    let hunyuan = shipped_sheet("hunyuan-standard-256k");
    assert_eq!(one_turn(&hunyuan, usage(1000, 0, 100)), Cost::Unknown);
    // No output tokens: the unknown output price is not needed.
    assert_eq!(one_turn(&hunyuan, usage(1000, 0, 0)), micros("0.015000"));
    let table = price::price_table(
        &[hunyuan],
        &[
            billed(Task::ChatTurn, usage(1000, 0, 100), true),
            billed(Task::LongDocument, usage(1000, 0, 0), true),
        ],
    );
    let row = &table.rows[0];
    assert_eq!(row.blended_per_million, Cost::Unknown);
    assert_eq!(row.effective.total, Cost::Unknown);
    assert_eq!(row.effective.per_success, Cost::Unknown);
    assert_eq!(row.per_task[1].cost, micros("0.015000"));
    assert!(
        row.conditions
            .iter()
            .any(|c| c == "1 of 2 requests need a price the sheet does not give"),
        "{:?}",
        row.conditions
    );
    // Qwen3-Max beyond its reported tier: unknown.
    let qwen = shipped_sheet("qwen3-max");
    assert_eq!(one_turn(&qwen, usage(32_000, 0, 100)), micros("0.280800"));
    assert_eq!(one_turn(&qwen, usage(32_001, 0, 100)), Cost::Unknown);
    // A free model costs 0, which is known.
    assert_eq!(
        one_turn(&shipped_sheet("hunyuan-lite"), usage(1000, 0, 100)),
        micros("0.000000")
    );
}

#[test]
fn effective_cost_pays_for_failed_attempts() {
    let gpt4o = shipped_sheet("gpt-4o");
    let workload = [
        // 100·5 + 50·15 = 1250 micro-USD.
        billed(Task::ChatTurn, usage(100, 0, 50), true),
        // A failed attempt that was billed: 100·5.
        billed(Task::ChatTurn, usage(100, 0, 0), false),
        // A 429 with no usage costs nothing.
        billed(Task::ChatTurn, None, false),
    ];
    let table = price::price_table(&[gpt4o], &workload);
    let row = &table.rows[0];
    assert_eq!(row.currency, "USD");
    assert_eq!(row.per_task[0].cost, micros("0.001250"));
    assert_eq!(row.effective.attempts, 3);
    assert_eq!(row.effective.successes, 1);
    assert_eq!(row.effective.total, micros("0.001750"));
    assert_eq!(row.effective.per_success, micros("0.001750"));
    assert_eq!(table.workload.without_usage, 1);
    assert_eq!(table.workload.tasks[0].attempts, 3);
    assert_eq!(table.workload.tasks[0].successes, 1);

    // No success at all: nothing to divide by.
    let table = price::price_table(
        &[shipped_sheet("gpt-4o")],
        &[billed(Task::ChatTurn, usage(100, 0, 0), false)],
    );
    assert_eq!(table.rows[0].per_task[0].cost, Cost::NotApplicable);
    assert_eq!(table.rows[0].effective.per_success, Cost::NotApplicable);
    assert_eq!(table.rows[0].effective.total, micros("0.000500"));
}

#[test]
fn job_time_follows_the_limits_the_price_holds_at() {
    // Mean tokens of a successful attempt: (150 + 250) / 2 = 200 → 5000
    // requests for 1,000,000 tokens. The failed attempt does not count.
    let workload = [
        billed(Task::ChatTurn, usage(100, 0, 50), true),
        billed(Task::LongDocument, usage(200, 0, 50), true),
        billed(Task::ChatTurn, usage(9000, 0, 0), false),
    ];
    let job = |sheet: PriceSheet| {
        price::price_table(&[sheet], &workload).rows[0]
            .job_time
            .clone()
    };
    // Doubao-pro-32k: 60 RPM, TPM not stated → at least 5000 / 60 minutes.
    let doubao = job(shipped_sheet("doubao-pro-32k"));
    assert_eq!(doubao.requests, Some(5000));
    assert_eq!(doubao.minutes, JobMinutes::AtLeast("83.33".into()));
    // Qwen3-Max: max(5000 / 600, 1e6 / 1e6) minutes.
    assert_eq!(
        job(shipped_sheet("qwen3-max")).minutes,
        JobMinutes::Exactly("8.33".into())
    );
    // No limits stated.
    assert_eq!(
        job(shipped_sheet("deepseek-v2")).minutes,
        JobMinutes::Unknown
    );
    let limited = |rpm: serde_json::Value, tpm: serde_json::Value| {
        job(sheet("l", json!({"per_million_tokens": {"input": 1, "output": 1}, "limits": {"rpm": rpm, "tpm": tpm}})))
            .minutes
    };
    assert_eq!(
        limited(json!("unlimited"), json!("unlimited")),
        JobMinutes::Unlimited
    );
    // The token limit binds: 1e6 / 10,000 = 100 minutes > 5000 / 600.
    assert_eq!(
        limited(json!(600), json!(10_000)),
        JobMinutes::Exactly("100.00".into())
    );
    assert_eq!(
        limited(json!("unlimited"), json!(30_000)),
        JobMinutes::Exactly("33.33".into())
    );
    assert_eq!(
        limited(json!("unlimited"), json!(null)),
        JobMinutes::Unknown
    );

    // requests round up: a mean of 300 tokens needs ⌈3333.3⌉.
    let table = price::price_table(
        &[shipped_sheet("doubao-pro-32k")],
        &[billed(Task::LongGeneration, usage(100, 0, 200), true)],
    );
    assert_eq!(table.rows[0].job_time.requests, Some(3334));
    // No successful tokens: nothing to size requests by.
    let table = price::price_table(&[shipped_sheet("doubao-pro-32k")], &[]);
    assert_eq!(table.rows[0].job_time.requests, None);
    assert_eq!(table.rows[0].job_time.minutes, JobMinutes::Unknown);
}

#[test]
fn blended_price_is_three_input_to_one_output() {
    let table = price::price_table(&shipped(), &[]);
    let blended = |id: &str| {
        table
            .rows
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.blended_per_million)
            .unwrap_or_else(|| panic!("no row {id}"))
    };
    // (3·1 + 2) / 4 = 1.25 CNY per million.
    assert_eq!(blended("deepseek-v2"), micros("1.250000"));
    // (3·0.8 + 2) / 4 = 1.1: not the vendor's quoted blend of 1.
    assert_eq!(blended("doubao-pro-32k"), micros("1.100000"));
    assert_eq!(blended("gpt-4o"), micros("7.500000"));
    assert_eq!(blended("qwen3-max"), micros("17.280000"));
    assert_eq!(blended("ernie-speed"), micros("0.000000"));
    assert_eq!(blended("glm-3-turbo"), Cost::Unknown);
}

fn sample_table() -> PriceTable {
    let workload = [
        billed(Task::ChatTurn, usage(120, 0, 40), true),
        billed(Task::ChatTurn, None, false),
        billed(Task::ChatTurn, usage(120, 0, 35), true),
        billed(
            Task::LongDocument,
            Some(TokenUsage {
                prompt: 30_000,
                cached: 28_000,
                completion: 300,
                reasoning: 120,
            }),
            true,
        ),
        billed(Task::LongGeneration, usage(200, 0, 4000), true),
    ];
    price::price_table(&shipped(), &workload)
}

#[test]
fn the_table_serializes_to_the_same_canonical_bytes_every_time() {
    let table = sample_table();
    let first = canonical::to_vec(&table).expect("canonical: no floats");
    let second = canonical::to_vec(&sample_table()).expect("canonical");
    assert_eq!(first, second);
    assert_eq!(
        serde_json::to_vec(&table).ok(),
        serde_json::to_vec(&table).ok()
    );
    let back: PriceTable = serde_json::from_slice(&first).expect("reads back");
    assert_eq!(back, table);
    assert_eq!(canonical::to_vec(&back).expect("canonical"), first);
    let text = String::from_utf8(first).expect("utf-8");
    assert!(
        text.contains(r#""blended_per_million":"1.250000""#),
        "{text}"
    );
    assert!(text.contains(r#""task":"long_document""#), "{text}");
    assert!(text.contains(r#""at_least":"#), "{text}");
}

#[test]
fn rows_come_by_sheet_id_whatever_the_order_given() {
    let mut sheets = shipped();
    sheets.reverse();
    let table = price::price_table(&sheets, &[]);
    let ids: Vec<&str> = table.rows.iter().map(|r| r.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
}

#[test]
fn markdown_compares_every_sheet_on_the_workload_and_says_how() {
    let table = sample_table();
    let md = price::markdown(&table);
    assert!(md.starts_with("Workload: "), "{md}");
    assert!(md.contains("Workload: 5 attempt(s), 4 successful (chat turn: 2 of 3; long document: 1 of 1; long generation: 1 of 1); 1 without usage."), "{md}");
    assert!(
        md.contains("| per chat turn | per long document | per long generation |"),
        "{md}"
    );
    assert!(md.contains("nothing is converted"), "{md}");
    assert!(md.contains("How computed:"), "{md}");
    for row in &table.rows {
        assert!(
            md.contains(&format!("| `{}` |", row.id)),
            "{} missing",
            row.id
        );
    }
    let doubao = md
        .lines()
        .find(|l| l.starts_with("| `doubao-pro-32k` |"))
        .expect("doubao row");
    assert!(doubao.contains("| CNY |"), "{doubao}");
    assert!(doubao.contains("| 1.100000 |"), "{doubao}");
    assert!(doubao.contains("≥ "), "{doubao}");
    assert!(md.contains("- `doubao-pro-32k`: CNY per million tokens: input 0.8, output 2; limits: RPM 60, TPM not stated;"), "{md}");
    let gpt = md
        .lines()
        .find(|l| l.starts_with("| `gpt-4o` |"))
        .expect("gpt-4o row");
    assert!(gpt.contains("| USD |"), "{gpt}");
    assert_eq!(price::markdown(&table), md, "rendering is deterministic");
}

#[test]
fn tasks_are_named_in_snake_case() {
    assert_eq!(
        serde_json::to_value(Task::LongDocument).ok(),
        Some(json!("long_document"))
    );
    let task: Task = serde_json::from_value(json!("chat_turn")).expect("task");
    assert_eq!(task, Task::ChatTurn);
    assert_eq!(
        Task::ALL.map(Task::name),
        ["chat_turn", "long_document", "long_generation"]
    );
}
