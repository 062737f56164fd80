//! Price sheets (`suites/prices/<id>.yaml`): one provider's dated prices
//! for one model and the conditions under which they hold.

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::money::PerMillion;
use crate::suite::{LineMap, Problem, parse_yaml, problem, read_file, yaml_problem};

/// Directory of the price sheets, relative to the suite root.
pub const PRICES_DIR: &str = "suites/prices";
/// The schema every price sheet must match, relative to the suite root.
pub const SHEET_SCHEMA: &str = "spec/schemas/price-sheet.schema.json";

/// One provider's prices for one model on one date, and their conditions.
/// Every figure is as reported; an unknown price is `None`, never 0.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSheet {
    /// Stable id; equals the file name without `.yaml`.
    pub id: String,
    /// Who sells the tokens.
    pub provider: String,
    /// The model as the provider names it.
    pub model: String,
    /// When the prices held: `YYYY-MM-DD`, or `YYYY-MM` when only the month
    /// was reported.
    pub date: String,
    /// Where the figures come from.
    pub source: String,
    /// Whether the figures were re-checked against the provider's own price
    /// page.
    pub rechecked: bool,
    /// ISO 4217 code of every price in the sheet.
    pub currency: String,
    /// The base rates (below any tier), cache-miss input.
    pub per_million_tokens: Rates,
    /// Rates chosen by prompt length, ascending by threshold.
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// Rate limits under which the prices hold.
    #[serde(default)]
    pub limits: RateLimits,
    /// Tokens free of charge per account, when a quota is reported.
    #[serde(default)]
    pub free_quota_tokens: Option<u64>,
    /// Discount windows, when reported.
    #[serde(default)]
    pub off_peak: Vec<OffPeak>,
    /// The conditions reported with the prices, in words.
    pub notes: String,
}

/// Prices per million tokens; `None` is an unknown price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    /// Input (prompt) tokens, cache miss.
    pub input: Option<PerMillion>,
    /// Input tokens served from the provider's prompt cache.
    #[serde(default)]
    pub cached_input: CachedRate,
    /// Output (completion) tokens, reasoning tokens included.
    pub output: Option<PerMillion>,
}

/// What a cache-hit input token costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CachedRate {
    /// No separate price (`cached_input` omitted): the input rate.
    #[default]
    AsInput,
    /// A separate price exists but is not known (`cached_input: null`).
    Unknown,
    /// This price.
    Known(PerMillion),
}

impl<'de> Deserialize<'de> for CachedRate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<PerMillion>::deserialize(deserializer)? {
            Some(price) => CachedRate::Known(price),
            None => CachedRate::Unknown,
        })
    }
}

impl Rates {
    /// The price of one cache-hit input token's million, if known.
    pub fn cached(&self) -> Option<PerMillion> {
        match self.cached_input {
            CachedRate::AsInput => self.input,
            CachedRate::Unknown => None,
            CachedRate::Known(price) => Some(price),
        }
    }
}

/// Rates that apply once the prompt reaches a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// The tier applies when `prompt_tokens >= min_prompt_tokens`.
    pub min_prompt_tokens: u64,
    /// `true`: all input and output tokens of the request at this tier's
    /// rates; `false`: only the input tokens from the threshold on at this
    /// tier's input rate (output at its output rate).
    pub whole_request: bool,
    /// Input tokens, cache miss.
    pub input: Option<PerMillion>,
    /// Cache-hit input tokens.
    #[serde(default)]
    pub cached_input: CachedRate,
    /// Output tokens.
    pub output: Option<PerMillion>,
}

impl Tier {
    /// The tier's rates.
    pub fn rates(&self) -> Rates {
        Rates {
            input: self.input,
            cached_input: self.cached_input,
            output: self.output,
        }
    }
}

/// Per-account limits the prices are tied to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Requests per minute.
    #[serde(default)]
    pub rpm: Limit,
    /// Tokens (prompt plus completion) per minute.
    #[serde(default)]
    pub tpm: Limit,
}

/// One declared limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Limit {
    /// Not stated (`null` or omitted).
    #[default]
    Unknown,
    /// Stated to be unlimited (`"unlimited"`).
    Unlimited,
    /// At most this many per minute.
    PerMinute(NonZeroU64),
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(NonZeroU64),
            Word(String),
        }
        match Option::<Raw>::deserialize(deserializer)? {
            None => Ok(Limit::Unknown),
            Some(Raw::Count(n)) => Ok(Limit::PerMinute(n)),
            Some(Raw::Word(w)) if w == "unlimited" => Ok(Limit::Unlimited),
            Some(Raw::Word(w)) => Err(serde::de::Error::custom(format!(
                "{w:?} is not a limit: a positive integer, \"unlimited\" or null"
            ))),
        }
    }
}

/// A reported discount window.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffPeak {
    /// Start, `HH:MM`.
    pub from: String,
    /// End, `HH:MM` (may be before `from`: the window spans midnight).
    pub to: String,
    /// The clock the window is stated in (IANA name or `UTC±HH:MM`).
    pub timezone: String,
    /// Percent off every rate inside the window.
    pub discount_percent: u8,
}

/// Reads every `suites/prices/*.yaml` under `suite_root`, sorted by file
/// name, each validated against `spec/schemas/price-sheet.schema.json`
/// before it is read into a [`PriceSheet`]. A missing or empty directory
/// gives no sheets. The first problem found is returned, naming the file
/// (relative to `suite_root`), line and field.
pub fn load_sheets(suite_root: &Path) -> Result<Vec<PriceSheet>, Problem> {
    let files = sheet_files(suite_root)?;
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let schema = load_schema(suite_root)?;
    files
        .iter()
        .map(|rel| load_sheet(suite_root, rel, &schema))
        .collect()
}

/// The sheet files, relative to the root, sorted.
fn sheet_files(root: &Path) -> Result<Vec<PathBuf>, Problem> {
    let dir = Path::new(PRICES_DIR);
    let entries = match std::fs::read_dir(root.join(dir)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(problem(dir, format!("cannot list directory: {e}"))),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| problem(dir, format!("cannot list directory: {e}")))?;
        let rel = dir.join(entry.file_name());
        if rel.extension().is_some_and(|e| e == "yaml") {
            files.push(rel);
        } else if rel.extension().is_some_and(|e| e == "yml") {
            return Err(problem(&rel, "price sheets end in .yaml; rename this file"));
        }
    }
    files.sort();
    Ok(files)
}

fn load_schema(root: &Path) -> Result<jsonschema::Validator, Problem> {
    let rel = Path::new(SHEET_SCHEMA);
    let text = read_file(root, rel)?;
    let schema: serde_json::Value = serde_json::from_str(&text).map_err(|e| Problem {
        line: Some(e.line()),
        ..problem(rel, format!("not JSON: {e}"))
    })?;
    jsonschema::draft202012::new(&schema)
        .map_err(|e| problem(rel, format!("not a valid 2020-12 schema: {e}")))
}

fn load_sheet(
    root: &Path,
    rel: &Path,
    schema: &jsonschema::Validator,
) -> Result<PriceSheet, Problem> {
    let text = read_file(root, rel)?;
    let value: serde_json::Value = parse_yaml(&text).map_err(|e| yaml_problem(rel, &e))?;
    let lines = LineMap::new(&text);
    let at = |field: String, message: String| Problem {
        file: rel.to_path_buf(),
        line: lines.line_of(&field),
        field: Some(field),
        message,
    };
    if let Some(error) = schema.iter_errors(&value).next() {
        return Err(at(
            error.instance_path().as_str().to_string(),
            error.to_string(),
        ));
    }
    if let Some((field, error)) = bad_price(&value, String::new()) {
        return Err(at(field, error.to_string()));
    }
    let sheet: PriceSheet = serde_json::from_value(value)
        .map_err(|e| problem(rel, format!("does not match the price sheet model: {e}")))?;
    let stem = rel
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if sheet.id != stem {
        return Err(at(
            "/id".into(),
            format!("id {:?} must equal the file name: {stem:?}", sheet.id),
        ));
    }
    for (i, pair) in sheet.tiers.windows(2).enumerate() {
        if pair[1].min_prompt_tokens <= pair[0].min_prompt_tokens {
            return Err(at(
                format!("/tiers/{}/min_prompt_tokens", i + 1),
                format!(
                    "tiers must be in ascending order of min_prompt_tokens: {} follows {}",
                    pair[1].min_prompt_tokens, pair[0].min_prompt_tokens
                ),
            ));
        }
    }
    Ok(sheet)
}

/// The first price (a number under `input`, `cached_input` or `output`)
/// that is not exact to [`super::money::DECIMALS`] places, with its JSON
/// pointer.
fn bad_price(
    value: &serde_json::Value,
    pointer: String,
) -> Option<(String, super::money::PriceError)> {
    match value {
        serde_json::Value::Object(map) => map.iter().find_map(|(key, child)| {
            let path = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
            match child {
                serde_json::Value::Number(n)
                    if matches!(key.as_str(), "input" | "cached_input" | "output") =>
                {
                    PerMillion::from_number(n).err().map(|e| (path, e))
                }
                _ => bad_price(child, path),
            }
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, child)| bad_price(child, format!("{pointer}/{i}"))),
        _ => None,
    }
}
