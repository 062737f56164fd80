//! Soak figures: how stable a long load stayed over time, from its
//! requests alone.
//!
//! Pure: the figures are a function of the requests' completion times,
//! error classes and metrics (all read from the evidence) and of the
//! window length, so anyone can re-derive `soak.json` byte for byte.
//! Integers only.
//!
//! # Definitions
//!
//! - **Windows** are consecutive spans of [`SoakSpec::window_ns`] from the
//!   load's start; a request belongs to the window in which it **ended**
//!   (its completion time), the order error bursts are read in too, so a
//!   window's output tokens per second is what the service delivered in
//!   it. Every window up to the last completion is listed, empty ones
//!   included (a stall shows as a window without requests).
//! - A window is **steady** when it ends at or before
//!   [`SoakSpec::sending_until_ns`]: the load was still sending throughout
//!   it. Later windows only drain the requests in flight; they are listed
//!   but left out of the coefficients of variation.
//! - Per window: requests ended, errors (class other than `ok`), TTFT and
//!   E2E p50/p95/p99 of its `ok` requests (the exact sample at the nearest
//!   rank ⌈q·n⌉), recounted output tokens of its `ok` requests, and those
//!   tokens per second of the window (milli-tokens per second, rounded
//!   down).
//! - **Coefficient of variation** of each figure across the steady windows
//!   that have it: the population CV σ/μ = √(n·Σx² − (Σx)²) / Σx, in per
//!   mille, rounded down (integer square root); undefined for no window or
//!   a sum of 0. Beside it, the window farthest from the mean (the earliest
//!   of equals), which names where the run was least like itself.
//! - An **error burst** is a maximal run of at least [`MIN_BURST`]
//!   consecutive failed requests in completion order (ties by request
//!   index): its first and last request, their completion times, its
//!   length and its error classes.
//! - A **hot window** has an error rate above [`HOT_FACTOR`] times the
//!   run's (errors·all requests > factor·all errors·window requests).

use serde::{Deserialize, Serialize};

use crate::metrics::{ClassCounts, ErrorClass, quantile};
use crate::performance::Placed;

/// The fewest consecutive failures that make a burst (a lone error does not).
pub const MIN_BURST: u64 = 2;

/// A window is hot when its error rate exceeds the run's by this factor.
pub const HOT_FACTOR: u64 = 2;

/// The format tag of `soak.json`.
pub const SOAK_FORMAT: &str = "tokencert-soak/1";

/// What the soak figures need of one request that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoakSample {
    /// Its index in the plan.
    pub index: u64,
    /// When it ended, in ns since the load started.
    pub end_ns: u64,
    /// How it ended.
    pub class: ErrorClass,
    /// Time to first token (`ok` requests only).
    pub ttft_ns: Option<u64>,
    /// Time to the end of the exchange (`ok` requests only).
    pub e2e_ns: Option<u64>,
    /// Recounted output tokens (`ok` requests only).
    pub output_tokens: Option<u64>,
}

impl SoakSample {
    /// The sample of a placed request with plan index `index`.
    pub fn of(index: u64, placed: &Placed) -> Self {
        let ok = placed.metrics.class == ErrorClass::Ok;
        let keep = |v: Option<u64>| v.filter(|_| ok);
        Self {
            index,
            end_ns: placed.end_ns,
            class: placed.metrics.class,
            ttft_ns: keep(placed.metrics.ttft_ns),
            e2e_ns: keep(placed.metrics.e2e_ns),
            output_tokens: keep(placed.metrics.recount_output_tokens),
        }
    }
}

/// How to cut the run into windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoakSpec {
    /// The length of a window, ns (above 0).
    pub window_ns: u64,
    /// Until when the load was sending, ns since its start: windows ending
    /// by then are steady.
    pub sending_until_ns: u64,
}

/// p50, p95 and p99 of a window's samples; `None` without samples.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantiles {
    /// Median.
    pub p50: Option<u64>,
    /// 95th percentile.
    pub p95: Option<u64>,
    /// 99th percentile.
    pub p99: Option<u64>,
}

impl Quantiles {
    fn of(mut samples: Vec<u64>) -> Self {
        samples.sort_unstable();
        Self {
            p50: quantile(&samples, 500),
            p95: quantile(&samples, 950),
            p99: quantile(&samples, 990),
        }
    }
}

/// One window's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoakWindow {
    /// Its position, from 0.
    pub index: u64,
    /// Its start, ns since the load started.
    pub start_ns: u64,
    /// Its end (exclusive).
    pub end_ns: u64,
    /// Whether the load was sending throughout it.
    pub steady: bool,
    /// Requests that ended in it.
    pub requests: u64,
    /// Of those, the ones whose class is not `ok`.
    pub errors: u64,
    /// TTFT of its `ok` requests, ns.
    pub ttft_ns: Quantiles,
    /// E2E of its `ok` requests, ns.
    pub e2e_ns: Quantiles,
    /// Recounted output tokens of its `ok` requests.
    pub output_tokens: u64,
    /// Those tokens per second of the window, milli-tokens per second.
    pub output_tokens_per_s_milli: u64,
}

/// How much one figure varied across the steady windows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variation {
    /// Steady windows that have the figure.
    pub windows: u64,
    /// Their mean, rounded down; `None` without windows.
    pub mean: Option<u64>,
    /// Population coefficient of variation, per mille, rounded down;
    /// `None` without windows or when the values sum to 0.
    pub cv_per_mille: Option<u64>,
    /// The window farthest from the mean (the earliest of equals);
    /// `None` when every window has the same value.
    pub farthest_window: Option<u64>,
    /// Its value.
    pub farthest_value: Option<u64>,
}

/// The coefficient of variation of every per-window figure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stability {
    /// Requests ended per window.
    pub requests: Variation,
    /// Errors per window.
    pub errors: Variation,
    /// TTFT p50.
    pub ttft_p50_ns: Variation,
    /// TTFT p95.
    pub ttft_p95_ns: Variation,
    /// TTFT p99.
    pub ttft_p99_ns: Variation,
    /// E2E p50.
    pub e2e_p50_ns: Variation,
    /// E2E p95.
    pub e2e_p95_ns: Variation,
    /// E2E p99.
    pub e2e_p99_ns: Variation,
    /// Output tokens per second.
    pub output_tokens_per_s_milli: Variation,
}

/// A maximal run of consecutive failed requests in completion order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Burst {
    /// The first failed request's plan index.
    pub first_request: u64,
    /// The last one's.
    pub last_request: u64,
    /// When the first ended, ns since the load started.
    pub start_ns: u64,
    /// When the last ended.
    pub end_ns: u64,
    /// Failed requests in the run.
    pub count: u64,
    /// Their error classes.
    pub classes: ClassCounts,
}

/// A window whose error rate exceeds the run's by [`HOT_FACTOR`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotWindow {
    /// The window.
    pub window: u64,
    /// Its errors.
    pub errors: u64,
    /// Its requests.
    pub requests: u64,
    /// Its error rate, parts per million (rounded down).
    pub error_rate_ppm: u64,
}

/// The soak figures of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoakFigures {
    /// How the run was cut.
    pub spec: SoakSpec,
    /// Requests that ended.
    pub requests: u64,
    /// Of those, the failed ones.
    pub errors: u64,
    /// The run's error rate, parts per million (rounded down; 0 without requests).
    pub error_rate_ppm: u64,
    /// Every window, in order.
    pub windows: Vec<SoakWindow>,
    /// Coefficients of variation across the steady windows.
    pub stability: Stability,
    /// Error bursts, in completion order.
    pub bursts: Vec<Burst>,
    /// The minimum length of a burst ([`MIN_BURST`]).
    pub min_burst: u64,
    /// Windows whose error rate exceeds the run's by `hot_factor`.
    pub hot_windows: Vec<HotWindow>,
    /// [`HOT_FACTOR`].
    pub hot_factor: u64,
}

/// A soak that cannot be cut into windows.
#[derive(Debug, thiserror::Error)]
pub enum SoakError {
    /// The window length is 0.
    #[error("a soak window of 0 ns")]
    ZeroWindow,
    /// More windows than a run can have.
    #[error("{windows} windows of {window_ns} ns: more than the {MAX_WINDOWS} allowed")]
    TooManyWindows {
        /// Windows the requests span.
        windows: u64,
        /// The window length.
        window_ns: u64,
    },
}

/// The most windows a soak may have (24 h of 100 ms windows is 864,000).
pub const MAX_WINDOWS: u64 = 1_000_000;

/// Computes the soak figures of `samples` (in any order) under `spec`.
///
/// # Errors
///
/// [`SoakError`] when the window is 0 or the requests span more than
/// [`MAX_WINDOWS`] windows.
pub fn soak(samples: &[SoakSample], spec: SoakSpec) -> Result<SoakFigures, SoakError> {
    if spec.window_ns == 0 {
        return Err(SoakError::ZeroWindow);
    }
    let w = spec.window_ns;
    let last_end = samples.iter().map(|s| s.end_ns).max();
    let count = last_end.map_or(0, |end| end / w + 1);
    if count > MAX_WINDOWS {
        return Err(SoakError::TooManyWindows {
            windows: count,
            window_ns: w,
        });
    }
    let mut buckets: Vec<Vec<&SoakSample>> = (0..count).map(|_| Vec::new()).collect();
    for sample in samples {
        // count ≤ MAX_WINDOWS, so every index fits.
        if let Some(bucket) = usize::try_from(sample.end_ns / w)
            .ok()
            .and_then(|i| buckets.get_mut(i))
        {
            bucket.push(sample);
        }
    }
    let windows: Vec<SoakWindow> = buckets
        .iter()
        .zip(0u64..)
        .map(|(bucket, index)| window(index, bucket, spec))
        .collect();
    let requests = samples.len() as u64;
    let errors = samples.iter().filter(|s| s.class != ErrorClass::Ok).count() as u64;
    let hot_windows = windows
        .iter()
        .filter(|win| {
            errors > 0
                && u128::from(win.errors) * u128::from(requests)
                    > u128::from(HOT_FACTOR) * u128::from(errors) * u128::from(win.requests)
        })
        .map(|win| HotWindow {
            window: win.index,
            errors: win.errors,
            requests: win.requests,
            error_rate_ppm: ppm(win.errors, win.requests),
        })
        .collect();
    Ok(SoakFigures {
        spec,
        requests,
        errors,
        error_rate_ppm: ppm(errors, requests),
        stability: stability(&windows),
        bursts: bursts(samples),
        min_burst: MIN_BURST,
        hot_windows,
        hot_factor: HOT_FACTOR,
        windows,
    })
}

fn window(index: u64, bucket: &[&SoakSample], spec: SoakSpec) -> SoakWindow {
    let start_ns = index * spec.window_ns;
    let end_ns = start_ns.saturating_add(spec.window_ns);
    let ok: Vec<&&SoakSample> = bucket
        .iter()
        .filter(|s| s.class == ErrorClass::Ok)
        .collect();
    let output_tokens: u64 = ok.iter().filter_map(|s| s.output_tokens).sum();
    let rate = u128::from(output_tokens) * 1_000_000_000_000 / u128::from(spec.window_ns);
    SoakWindow {
        index,
        start_ns,
        end_ns,
        steady: end_ns <= spec.sending_until_ns,
        requests: bucket.len() as u64,
        errors: (bucket.len() - ok.len()) as u64,
        ttft_ns: Quantiles::of(ok.iter().filter_map(|s| s.ttft_ns).collect()),
        e2e_ns: Quantiles::of(ok.iter().filter_map(|s| s.e2e_ns).collect()),
        output_tokens,
        output_tokens_per_s_milli: u64::try_from(rate).unwrap_or(u64::MAX),
    }
}

fn stability(windows: &[SoakWindow]) -> Stability {
    let steady: Vec<&SoakWindow> = windows.iter().filter(|w| w.steady).collect();
    let of = |figure: fn(&SoakWindow) -> Option<u64>| {
        let values: Vec<(u64, u64)> = steady
            .iter()
            .filter_map(|w| Some((w.index, figure(w)?)))
            .collect();
        variation(&values)
    };
    Stability {
        requests: of(|w| Some(w.requests)),
        errors: of(|w| Some(w.errors)),
        ttft_p50_ns: of(|w| w.ttft_ns.p50),
        ttft_p95_ns: of(|w| w.ttft_ns.p95),
        ttft_p99_ns: of(|w| w.ttft_ns.p99),
        e2e_p50_ns: of(|w| w.e2e_ns.p50),
        e2e_p95_ns: of(|w| w.e2e_ns.p95),
        e2e_p99_ns: of(|w| w.e2e_ns.p99),
        output_tokens_per_s_milli: of(|w| Some(w.output_tokens_per_s_milli)),
    }
}

/// The variation of `(window, value)` pairs (see the module docs).
fn variation(values: &[(u64, u64)]) -> Variation {
    let n = values.len() as u128;
    if n == 0 {
        return Variation::default();
    }
    let sum: u128 = values.iter().map(|(_, v)| u128::from(*v)).sum();
    let squares = values.iter().try_fold(0u128, |acc, (_, v)| {
        acc.checked_add(u128::from(*v) * u128::from(*v))
    });
    // n·Σx² − (Σx)² ≥ 0 (Cauchy–Schwarz); None only on overflow.
    let spread = squares
        .and_then(|sq| sq.checked_mul(n))
        .and_then(|nsq| nsq.checked_sub(sum * sum));
    let cv_per_mille = spread.filter(|_| sum > 0).and_then(|d| {
        let root = match d.checked_mul(1_000_000) {
            Some(scaled) => scaled.isqrt(),
            None => d.isqrt().checked_mul(1000)?,
        };
        u64::try_from(root / sum).ok()
    });
    // |x·n − Σx| orders the distances from the mean exactly.
    let distance = |v: u64| (u128::from(v) * n).abs_diff(sum);
    let farthest = values
        .iter()
        // max_by keeps the last of equals: prefer the earlier window.
        .max_by(|a, b| distance(a.1).cmp(&distance(b.1)).then(b.0.cmp(&a.0)))
        .filter(|f| distance(f.1) > 0)
        .copied();
    Variation {
        windows: values.len() as u64,
        mean: u64::try_from(sum / n).ok(),
        cv_per_mille,
        farthest_window: farthest.map(|f| f.0),
        farthest_value: farthest.map(|f| f.1),
    }
}

/// Maximal runs of at least [`MIN_BURST`] failures in completion order.
fn bursts(samples: &[SoakSample]) -> Vec<Burst> {
    let mut order: Vec<&SoakSample> = samples.iter().collect();
    order.sort_by_key(|s| (s.end_ns, s.index));
    let mut out = Vec::new();
    let mut run: Vec<&SoakSample> = Vec::new();
    for sample in order.into_iter().map(Some).chain([None]) {
        match sample {
            Some(s) if s.class != ErrorClass::Ok => run.push(s),
            _ => {
                if let (Some(first), Some(last)) = (run.first(), run.last())
                    && run.len() as u64 >= MIN_BURST
                {
                    let mut classes = ClassCounts::default();
                    for s in &run {
                        classes.add(s.class);
                    }
                    out.push(Burst {
                        first_request: first.index,
                        last_request: last.index,
                        start_ns: first.end_ns,
                        end_ns: last.end_ns,
                        count: run.len() as u64,
                        classes,
                    });
                }
                run.clear();
            }
        }
    }
    out
}

fn ppm(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    u64::try_from(u128::from(part) * 1_000_000 / u128::from(whole)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn ok(index: u64, end_ns: u64, e2e_ns: u64) -> SoakSample {
        SoakSample {
            index,
            end_ns,
            class: ErrorClass::Ok,
            ttft_ns: Some(e2e_ns / 4),
            e2e_ns: Some(e2e_ns),
            output_tokens: Some(16),
        }
    }

    fn failed(index: u64, end_ns: u64, class: ErrorClass) -> SoakSample {
        SoakSample {
            index,
            end_ns,
            class,
            ttft_ns: None,
            e2e_ns: None,
            output_tokens: None,
        }
    }

    /// Ten requests per second for `seconds`, each of `e2e(second)`.
    fn steady_run(seconds: u64, e2e: impl Fn(u64) -> u64) -> Vec<SoakSample> {
        (0..seconds * 10)
            .map(|i| ok(i, i * S / 10 + S / 20, e2e(i / 10)))
            .collect()
    }

    fn spec(seconds: u64) -> SoakSpec {
        SoakSpec {
            window_ns: S,
            sending_until_ns: seconds * S,
        }
    }

    #[test]
    fn a_steady_run_varies_by_nothing() {
        let figures = soak(&steady_run(10, |_| 200_000_000), spec(10)).expect("figures");
        assert_eq!(figures.windows.len(), 10);
        assert!(figures.windows.iter().all(|w| w.steady && w.requests == 10));
        let s = &figures.stability;
        for v in [
            &s.requests,
            &s.e2e_p50_ns,
            &s.e2e_p99_ns,
            &s.ttft_p95_ns,
            &s.output_tokens_per_s_milli,
        ] {
            assert_eq!(v.cv_per_mille, Some(0), "{v:?}");
            assert_eq!(v.windows, 10);
            assert_eq!(v.farthest_window, None, "no window stands out");
        }
        assert_eq!(s.output_tokens_per_s_milli.mean, Some(160_000));
        assert_eq!(s.errors.cv_per_mille, None, "no errors: undefined");
        assert!(figures.bursts.is_empty() && figures.hot_windows.is_empty());
    }

    #[test]
    fn one_slow_window_stands_out_and_is_named() {
        // Window 6 is ten times slower: E2E 2 s instead of 200 ms.
        let run = steady_run(10, |second| if second == 6 { 2 * S } else { 200_000_000 });
        let figures = soak(&run, spec(10)).expect("figures");
        let e2e = &figures.stability.e2e_p50_ns;
        assert_eq!(e2e.farthest_window, Some(6));
        assert_eq!(e2e.farthest_value, Some(2 * S));
        // Values 9 × 0.2 s and 1 × 2 s: mean 0.38 s, σ 0.54 s, CV 1.421.
        assert_eq!(e2e.cv_per_mille, Some(1421));
        assert_eq!(figures.stability.requests.cv_per_mille, Some(0));
    }

    #[test]
    fn an_error_burst_is_found_with_its_bounds_and_classes() {
        let mut run = steady_run(10, |_| 200_000_000);
        // Requests 40..=46 (ending 4.05 s .. 4.65 s) fail; 70 fails alone.
        for s in run
            .iter_mut()
            .filter(|s| (40..=46).contains(&s.index) || s.index == 70)
        {
            let class = if s.index == 43 {
                ErrorClass::Timeout
            } else {
                ErrorClass::Http5xx
            };
            *s = failed(s.index, s.end_ns, class);
        }
        let figures = soak(&run, spec(10)).expect("figures");
        assert_eq!(figures.errors, 8);
        assert_eq!(figures.bursts.len(), 1, "a lone failure is no burst");
        let burst = &figures.bursts[0];
        assert_eq!(
            (burst.first_request, burst.last_request, burst.count),
            (40, 46, 7)
        );
        assert_eq!(
            (burst.start_ns, burst.end_ns),
            (4 * S + S / 20, 4 * S + 6 * S / 10 + S / 20)
        );
        assert_eq!((burst.classes.http_5xx, burst.classes.timeout), (6, 1));
        // The run fails 8 %; window 4 fails 70 %, window 7 10 %.
        assert_eq!(figures.error_rate_ppm, 80_000);
        let hot: Vec<u64> = figures.hot_windows.iter().map(|h| h.window).collect();
        assert_eq!(hot, vec![4]);
        assert_eq!(figures.hot_windows[0].error_rate_ppm, 700_000);
    }

    #[test]
    fn drain_windows_are_listed_but_not_measured_and_empty_windows_count() {
        let mut run = steady_run(3, |_| 200_000_000);
        run.retain(|s| !(10..20).contains(&s.index)); // window 1 stalls
        run.push(ok(99, 4 * S + 1, 900_000_000)); // ends after sending stopped
        let figures = soak(&run, spec(3)).expect("figures");
        let counts: Vec<(u64, bool)> = figures
            .windows
            .iter()
            .map(|w| (w.requests, w.steady))
            .collect();
        assert_eq!(
            counts,
            vec![(10, true), (0, true), (10, true), (0, false), (1, false)]
        );
        let requests = &figures.stability.requests;
        assert_eq!((requests.windows, requests.farthest_window), (3, Some(1)));
        // 10, 0, 10: mean 6.67, σ 4.71, CV 0.707.
        assert_eq!(requests.cv_per_mille, Some(707));
        assert_eq!(
            figures.stability.e2e_p50_ns.windows, 2,
            "the empty window has no E2E"
        );
    }

    #[test]
    fn a_zero_window_is_refused() {
        assert!(matches!(
            soak(
                &[],
                SoakSpec {
                    window_ns: 0,
                    sending_until_ns: 0
                }
            ),
            Err(SoakError::ZeroWindow)
        ));
        let empty = soak(&[], spec(1)).expect("no requests, no windows");
        assert!(empty.windows.is_empty() && empty.error_rate_ppm == 0);
    }
}
