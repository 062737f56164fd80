//! The leaderboard: per method, every source side by side on conformance,
//! latency, output speed, availability, stability and cost per task. Each
//! figure keeps the id of the bundle it came from.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use rusqlite::Connection;
use serde::Serialize;

use crate::error::DashboardError;
use crate::identity::IdentityPoint;
use crate::queries::{self, Method, Source, VerdictRow};
use crate::summary;
use crate::trust::{SignerView, Trust};

/// Stability is the coefficient of variation of TTFT p50 over this many of
/// the newest bundles of a source and method.
pub const STABILITY_BUNDLES: usize = 20;
const DAY: i64 = 86_400;

/// The leaderboard, one board per method.
#[derive(Debug, Serialize)]
pub struct Leaderboard {
    /// The clock the availability windows end at.
    pub now_unix: i64,
    /// The sort key applied.
    pub sort: SortKey,
    /// Bundles in the index.
    pub bundles: i64,
    /// One board per method, by method.
    pub methods: Vec<Board>,
    /// The newest identification of each target, model and probe set
    /// (fingerprint bundles against the target's baseline).
    pub identity: Vec<IdentityPoint>,
}

/// The sources measured by one method.
#[derive(Debug, Serialize)]
pub struct Board {
    /// The method.
    pub method: Method,
    /// One entry per source, sorted.
    pub rows: Vec<Entry>,
}

/// One source on one method's board.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// Target, model, observer, signer key id.
    pub source: Source,
    /// The signer as shown.
    pub signer: SignerView,
    /// The newest bundle of this source by this method.
    pub bundle: String,
    /// When it started.
    pub started_unix: i64,
    /// TTFT p50, seconds.
    pub ttft_p50: Option<Figure>,
    /// TTFT p95, seconds.
    pub ttft_p95: Option<Figure>,
    /// TTFT p99, seconds.
    pub ttft_p99: Option<Figure>,
    /// Output speed p50, tokens per second.
    pub output_speed: Option<Figure>,
    /// MUST/SHOULD pass rates by clause area.
    pub conformance: Conformance,
    /// answered / exchanges over the last 24 h.
    pub availability_24h: Option<Ratio>,
    /// answered / exchanges over the last 7 days.
    pub availability_7d: Option<Ratio>,
    /// Coefficient of variation of TTFT p50 over recent bundles.
    pub stability: Option<Stability>,
    /// Cost of one task per price sheet, from the newest priced bundle.
    pub cost: Vec<Cost>,
}

/// A figure and the bundle it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// The value (SI units: seconds, tokens per second).
    pub value: f64,
    /// 95% confidence interval, low end.
    pub low: Option<f64>,
    /// 95% confidence interval, high end.
    pub high: Option<f64>,
    /// The bundle.
    pub bundle: String,
}

/// A share of a count.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// The numerator (answered exchanges, passed cases).
    pub part: i64,
    /// The denominator (exchanges, judged cases).
    pub whole: i64,
    /// part / whole.
    pub ratio: f64,
}

impl Ratio {
    fn of(part: i64, whole: i64) -> Option<Ratio> {
        (whole > 0).then(|| Ratio {
            part,
            whole,
            ratio: part as f64 / whole as f64,
        })
    }
}

/// Variation of TTFT p50 across bundles.
#[derive(Debug, Clone, Serialize)]
pub struct Stability {
    /// Standard deviation / mean (population).
    pub cv: f64,
    /// Over how many bundles.
    pub bundles: usize,
}

/// Pass rates by clause area; passes over pass + fail + error (not-claimed
/// cases are not judged).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Conformance {
    /// By area, each from the newest bundle judging that area.
    pub areas: Vec<AreaRates>,
    /// MUST over all areas.
    pub must: Option<Ratio>,
    /// SHOULD over all areas.
    pub should: Option<Ratio>,
}

/// MUST and SHOULD pass rates of one area.
#[derive(Debug, Clone, Serialize)]
pub struct AreaRates {
    /// API, ACC, PERF, REL, SEC, ...
    pub area: String,
    /// MUST cases passed / judged.
    pub must: Option<Ratio>,
    /// SHOULD cases passed / judged.
    pub should: Option<Ratio>,
    /// The bundle the counts come from.
    pub bundle: String,
}

/// Cost of one task under one price sheet.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    /// The price sheet.
    pub sheet: String,
    /// Its currency.
    pub currency: String,
    /// The task.
    pub task: String,
    /// Micro-units of the currency (None: not priced).
    pub micros: Option<i64>,
    /// The bundle.
    pub bundle: String,
}

/// The `?sort=` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Target URL, then model (ascending).
    Target,
    /// MUST pass rate (descending).
    Conformance,
    /// TTFT p50 (ascending).
    TtftP50,
    /// TTFT p95 (ascending).
    TtftP95,
    /// TTFT p99 (ascending).
    TtftP99,
    /// Output speed (descending).
    OutputSpeed,
    /// Availability over 24 h (descending).
    Availability24h,
    /// Availability over 7 days (descending).
    Availability7d,
    /// Coefficient of variation (ascending).
    Stability,
    /// Lowest cost per task (ascending).
    Cost,
}

impl SortKey {
    /// Every key, in column order.
    pub const ALL: [SortKey; 10] = [
        SortKey::Target,
        SortKey::Conformance,
        SortKey::TtftP50,
        SortKey::TtftP95,
        SortKey::TtftP99,
        SortKey::OutputSpeed,
        SortKey::Availability24h,
        SortKey::Availability7d,
        SortKey::Stability,
        SortKey::Cost,
    ];

    /// The name in `?sort=`.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Target => "target",
            SortKey::Conformance => "conformance",
            SortKey::TtftP50 => "ttft_p50",
            SortKey::TtftP95 => "ttft_p95",
            SortKey::TtftP99 => "ttft_p99",
            SortKey::OutputSpeed => "output_speed",
            SortKey::Availability24h => "availability_24h",
            SortKey::Availability7d => "availability_7d",
            SortKey::Stability => "stability",
            SortKey::Cost => "cost",
        }
    }

    /// The key named `name`, if any.
    pub fn parse(name: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The value sorted on, oriented so that smaller ranks first; None last.
    fn value(self, e: &Entry) -> Option<f64> {
        let v = |f: &Option<Figure>| f.as_ref().map(|f| f.value);
        match self {
            SortKey::Target => None,
            SortKey::Conformance => e.conformance.must.as_ref().map(|r| -r.ratio),
            SortKey::TtftP50 => v(&e.ttft_p50),
            SortKey::TtftP95 => v(&e.ttft_p95),
            SortKey::TtftP99 => v(&e.ttft_p99),
            SortKey::OutputSpeed => v(&e.output_speed).map(|x| -x),
            SortKey::Availability24h => e.availability_24h.as_ref().map(|r| -r.ratio),
            SortKey::Availability7d => e.availability_7d.as_ref().map(|r| -r.ratio),
            SortKey::Stability => e.stability.as_ref().map(|s| s.cv),
            SortKey::Cost => e
                .cost
                .iter()
                .filter_map(|c| c.micros)
                .min()
                .map(|m| m as f64),
        }
    }

    fn compare(self, a: &Entry, b: &Entry) -> Ordering {
        let by_value = match (self.value(a), self.value(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_value.then_with(|| a.source.cmp(&b.source))
    }
}

/// Builds the leaderboard at `now_unix` from the ledger's summary tables
/// (the newest bundle of every (method, source) pair, and per source its
/// newest verdicts by area, newest priced bundle and hourly availability),
/// sorted by `sort`: a handful of queries whatever the index holds.
pub fn leaderboard(
    conn: &Connection,
    trust: &Trust,
    now_unix: i64,
    sort: SortKey,
) -> Result<Leaderboard, DashboardError> {
    let latest = summary::latest(conn)?;
    let mut recent = summary::recent_values(conn, "ttft_p50_seconds", STABILITY_BUNDLES)?;
    let conformance = conformance(summary::area_verdicts(conn)?);
    let day = summary::availability(conn, now_unix - DAY)?;
    let week = summary::availability(conn, now_unix - 7 * DAY)?;
    let costs = summary::latest_costs(conn)?;
    let ratio = |map: &HashMap<Source, (i64, i64)>, source: &Source| {
        map.get(source)
            .and_then(|&(part, whole)| Ratio::of(part, whole))
    };
    let mut by_method: BTreeMap<Method, Vec<Entry>> = BTreeMap::new();
    for latest in latest {
        let summary::Latest {
            method,
            source,
            bundle,
            started_unix,
            figures,
        } = latest;
        let figure = |metric: &str| {
            figures.iter().find(|f| f.metric == metric).map(|f| Figure {
                value: f.value,
                low: f.low,
                high: f.high,
                bundle: bundle.clone(),
            })
        };
        let recent = recent
            .remove(&(method.clone(), source.clone()))
            .unwrap_or_default();
        let cost = costs
            .get(&source)
            .map(|(bundle, rows)| {
                rows.iter()
                    .map(|c| Cost {
                        sheet: c.sheet.clone(),
                        currency: c.currency.clone(),
                        task: c.task.clone(),
                        micros: c.micros,
                        bundle: bundle.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let entry = Entry {
            signer: trust.view(source.signer.as_deref()),
            ttft_p50: figure("ttft_p50_seconds"),
            ttft_p95: figure("ttft_p95_seconds"),
            ttft_p99: figure("ttft_p99_seconds"),
            output_speed: figure("output_speed_p50_tokens_per_second"),
            conformance: conformance
                .get(&(source.clone(), method.suite_digest.clone()))
                .cloned()
                .unwrap_or_default(),
            availability_24h: ratio(&day, &source),
            availability_7d: ratio(&week, &source),
            stability: stability(&recent),
            cost,
            bundle,
            started_unix,
            source,
        };
        by_method.entry(method).or_default().push(entry);
    }
    let methods = by_method
        .into_iter()
        .map(|(method, mut rows)| {
            rows.sort_by(|a, b| sort.compare(a, b));
            Board { method, rows }
        })
        .collect();
    Ok(Leaderboard {
        now_unix,
        sort,
        bundles: queries::bundle_count(conn)?,
        methods,
        identity: crate::identity::latest(conn)?,
    })
}

/// Pass rates by area of every source and suite, each area from the
/// newest bundle (of the source and suite) that judged it.
fn conformance(
    rows: Vec<(Source, String, String, VerdictRow)>,
) -> HashMap<(Source, String), Conformance> {
    // area -> (bundle, [must pass, must judged, should pass, should judged])
    type Areas = BTreeMap<String, (String, [i64; 4])>;
    let mut by_source: HashMap<(Source, String), Areas> = HashMap::new();
    for (source, suite, bundle, row) in rows {
        let slot = by_source
            .entry((source, suite))
            .or_default()
            .entry(row.area.clone())
            .or_insert_with(|| (bundle, [0; 4]));
        let judged = matches!(row.verdict.as_str(), "pass" | "fail" | "error");
        let pass = row.verdict == "pass";
        let base = match row.level.to_ascii_uppercase().as_str() {
            "MUST" => 0,
            "SHOULD" => 2,
            _ => continue,
        };
        if pass {
            slot.1[base] += row.cases;
        }
        if judged {
            slot.1[base + 1] += row.cases;
        }
    }
    by_source
        .into_iter()
        .map(|(key, areas)| {
            let mut total = [0; 4];
            let areas = areas
                .into_iter()
                .map(|(area, (bundle, n))| {
                    for (t, v) in total.iter_mut().zip(n) {
                        *t += v;
                    }
                    AreaRates {
                        area,
                        must: Ratio::of(n[0], n[1]),
                        should: Ratio::of(n[2], n[3]),
                        bundle,
                    }
                })
                .collect();
            let made = Conformance {
                areas,
                must: Ratio::of(total[0], total[1]),
                should: Ratio::of(total[2], total[3]),
            };
            (key, made)
        })
        .collect()
}

/// Population coefficient of variation; None for fewer than two values or
/// a zero mean.
pub fn stability(values: &[f64]) -> Option<Stability> {
    if values.len() < 2 {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    Some(Stability {
        cv: var.sqrt() / mean,
        bundles: values.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stability_is_the_coefficient_of_variation() {
        let s = stability(&[1.0, 3.0]).expect("two values");
        assert!((s.cv - 0.5).abs() < 1e-12);
        assert!(stability(&[1.0]).is_none());
    }

    #[test]
    fn sort_keys_round_trip_and_unknown_ones_are_none() {
        for k in SortKey::ALL {
            assert_eq!(SortKey::parse(k.name()), Some(k));
        }
        assert_eq!(SortKey::parse("drop table"), None);
    }
}
