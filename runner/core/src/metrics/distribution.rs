//! Distributions of samples: exact extremes and mean, HDR-histogram
//! percentiles, and binomial order-statistic confidence intervals.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::MetricsError;

/// The nearest rank of the quantile `per_mille` among `n` samples:
/// ⌈q·n⌉, at least 1.
fn nearest_rank(n: u64, per_mille: u32) -> u64 {
    (u64::from(per_mille) * n).div_ceil(1000).max(1)
}

/// The sample at the q-quantile (`per_mille`/1000) of sorted samples, at
/// the nearest rank (as a [`Percentile`]'s `exact` value): the smallest
/// with at least that share of the samples at or below it. `None` for no
/// samples.
pub fn quantile(sorted: &[u64], per_mille: u32) -> Option<u64> {
    let rank = nearest_rank(sorted.len() as u64, per_mille);
    sorted
        .get(usize::try_from(rank - 1).unwrap_or(usize::MAX))
        .copied()
}

/// The percentiles reported, as (name, quantile per mille).
pub const PERCENTILES: [(&str, u32); 5] = [
    ("p50", 500),
    ("p90", 900),
    ("p95", 950),
    ("p99", 990),
    ("p99.9", 999),
];

/// The confidence level of every interval, per mille (95%).
pub const CONFIDENCE_PER_MILLE: u32 = 950;

/// Significant decimal digits the histogram keeps.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Binomial weights smaller than this fraction of the largest are dropped:
/// far below any difference the 2.5% tails can see.
const NEGLIGIBLE: f64 = 1e-30;

/// One percentile of a [`Distribution`] with its confidence interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentile {
    /// `p50`, `p90`, `p95`, `p99` or `p99.9`.
    pub name: String,
    /// The quantile, per mille (`999` for p99.9).
    pub per_mille: u32,
    /// The percentile from the HDR histogram (the highest value equivalent
    /// to the sample at that rank, within 3 significant digits).
    pub value: u64,
    /// The sample at the nearest rank ⌈q·n⌉, exact: what thresholds are
    /// judged against, so that a value at the bound is not pushed over it
    /// by the histogram's rounding.
    pub exact: u64,
    /// 1-based rank of the sample that bounds the interval from below;
    /// `None` when there are too few samples for a lower bound.
    pub ci_low_rank: Option<u64>,
    /// That sample, exact.
    pub ci_low: Option<u64>,
    /// 1-based rank of the sample that bounds the interval from above;
    /// `None` when there are too few samples for an upper bound.
    pub ci_high_rank: Option<u64>,
    /// That sample, exact.
    pub ci_high: Option<u64>,
}

/// A summary of samples (nanoseconds for times, or any other integer
/// unit): see the [module docs](super) for the method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distribution {
    /// Number of samples.
    pub count: u64,
    /// The smallest sample, exact.
    pub min: u64,
    /// The largest sample, exact.
    pub max: u64,
    /// The mean, rounded down.
    pub mean: u64,
    /// The confidence level of the intervals, per mille.
    pub confidence_per_mille: u32,
    /// p50, p90, p95, p99 and p99.9, in that order.
    pub percentiles: Vec<Percentile>,
}

impl Distribution {
    /// Summarises `samples` (in any order); `None` when there are none.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Histogram`] when the histogram cannot hold a sample
    /// (values beyond 2^63 or so).
    pub fn from_samples(samples: &[u64]) -> Result<Option<Self>, MetricsError> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let (Some(&min), Some(&max)) = (sorted.first(), sorted.last()) else {
            return Ok(None);
        };
        let mut histogram =
            Histogram::<u64>::new(SIGNIFICANT_DIGITS).map_err(|e| MetricsError::Histogram {
                value: 0,
                reason: format!("{e:?}"),
            })?;
        for &value in &sorted {
            histogram
                .record(value)
                .map_err(|e| MetricsError::Histogram {
                    value,
                    reason: format!("{e:?}"),
                })?;
        }
        let count = sorted.len() as u64;
        let sum: u128 = sorted.iter().map(|&v| u128::from(v)).sum();
        let mean = u64::try_from(sum / u128::from(count)).unwrap_or(u64::MAX);
        let at_rank = |rank: Option<u64>| {
            rank.and_then(|r| usize::try_from(r - 1).ok())
                .and_then(|i| sorted.get(i).copied())
        };
        let percentiles = PERCENTILES
            .iter()
            .map(|&(name, per_mille)| {
                let (low, high) = quantile_ci_ranks(count, per_mille);
                Percentile {
                    name: name.to_string(),
                    per_mille,
                    value: histogram.value_at_quantile(f64::from(per_mille) / 1000.0),
                    exact: quantile(&sorted, per_mille).unwrap_or(max),
                    ci_low_rank: low,
                    ci_low: at_rank(low),
                    ci_high_rank: high,
                    ci_high: at_rank(high),
                }
            })
            .collect();
        Ok(Some(Distribution {
            count,
            min,
            max,
            mean,
            confidence_per_mille: CONFIDENCE_PER_MILLE,
            percentiles,
        }))
    }

    /// The percentile of this name (`p50`, ..., `p99.9`).
    pub fn percentile(&self, name: &str) -> Option<&Percentile> {
        self.percentiles.iter().find(|p| p.name == name)
    }
}

/// The 1-based ranks (l, u) of the order statistics bounding an
/// equal-tailed 95% confidence interval for the quantile `per_mille`/1000
/// of the population, from `n` samples: l is the largest rank with
/// P(B < l) ≤ 2.5% and u the smallest with P(B ≥ u) ≤ 2.5%, where
/// B ~ Binomial(n, q); so P(l ≤ B < u) ≥ 95%. A bound is `None` when its
/// rank would fall outside 1..=n. `per_mille` must lie in 1..=999 (else
/// both are `None`).
pub fn quantile_ci_ranks(n: u64, per_mille: u32) -> (Option<u64>, Option<u64>) {
    if n == 0 || per_mille == 0 || per_mille >= 1000 {
        return (None, None);
    }
    let tail = f64::from(1000 - CONFIDENCE_PER_MILLE) / 2000.0;
    let (lo, weights) = binomial_weights(n, per_mille);
    let total: f64 = weights.iter().sum();
    // Largest k with P(B ≤ k) ≤ tail, and smallest k with P(B ≤ k) ≥ 1 − tail.
    // Below the window the cumulative probability is negligible.
    let mut lower_k = lo.checked_sub(1);
    let mut upper_k = None;
    let mut cumulative = 0.0;
    for (k, w) in (lo..).zip(&weights) {
        cumulative += w;
        let p = cumulative / total;
        if p <= tail {
            lower_k = Some(k);
        }
        if upper_k.is_none() && p >= 1.0 - tail {
            upper_k = Some(k);
        }
    }
    // P(B < l) = P(B ≤ l − 1) and P(B ≥ u) = 1 − P(B ≤ u − 1).
    let low = lower_k.map(|k| k + 1).filter(|&l| l <= n);
    let high = upper_k.map(|k| k + 1).filter(|&u| u <= n);
    (low, high)
}

/// The Binomial(n, per_mille/1000) probabilities, unnormalised, over the
/// window of outcomes where they are not negligible: (first outcome,
/// weights). Built outward from the mode by the ratio of successive
/// probabilities, so nothing underflows whatever n.
fn binomial_weights(n: u64, per_mille: u32) -> (u64, Vec<f64>) {
    let q = f64::from(per_mille) / 1000.0;
    let odds = q / (f64::from(1000 - per_mille) / 1000.0);
    let mode = ((n + 1) * u64::from(per_mille) / 1000).min(n);
    let mut above = Vec::new();
    let (mut k, mut w) = (mode, 1.0f64);
    while k < n {
        // P(k + 1) / P(k) = (n − k) / (k + 1) · q / (1 − q)
        w *= (n - k) as f64 / (k + 1) as f64 * odds;
        if w < NEGLIGIBLE {
            break;
        }
        k += 1;
        above.push(w);
    }
    let mut below = Vec::new();
    let (mut k, mut w) = (mode, 1.0f64);
    while k > 0 {
        // P(k − 1) / P(k) = k / (n − k + 1) · (1 − q) / q
        w *= k as f64 / (n - k + 1) as f64 / odds;
        if w < NEGLIGIBLE {
            break;
        }
        k -= 1;
        below.push(w);
    }
    let lo = mode - below.len() as u64;
    let mut weights: Vec<f64> = below.into_iter().rev().collect();
    weights.push(1.0);
    weights.extend(above);
    (lo, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact binomial cumulative probabilities for small n, by Pascal.
    fn cdf(n: u64, q: f64, k: u64) -> f64 {
        let mut p = 0.0;
        let mut c = 1.0f64;
        for j in 0..=n {
            if j > 0 {
                c = c * (n - j + 1) as f64 / j as f64;
            }
            if j <= k {
                p += c * q.powi(j as i32) * (1.0 - q).powi((n - j) as i32);
            }
        }
        p
    }

    #[test]
    fn ranks_are_the_tightest_equal_tailed_ones() {
        for n in 1..60u64 {
            for (_, pm) in PERCENTILES {
                let q = f64::from(pm) / 1000.0;
                let (low, high) = quantile_ci_ranks(n, pm);
                if let Some(l) = low {
                    assert!(cdf(n, q, l - 1) <= 0.025 + 1e-12, "n={n} pm={pm} l={l}");
                    assert!(cdf(n, q, l) > 0.025 - 1e-12, "n={n} pm={pm} l={l}");
                } else {
                    assert!(cdf(n, q, 0) > 0.025 - 1e-12, "n={n} pm={pm}");
                }
                if let Some(u) = high {
                    assert!(cdf(n, q, u - 1) >= 0.975 - 1e-12, "n={n} pm={pm} u={u}");
                    assert!(u == 1 || cdf(n, q, u - 2) < 0.975 + 1e-12, "n={n} pm={pm}");
                } else {
                    assert!(cdf(n, q, n - 1) < 0.975 + 1e-12, "n={n} pm={pm}");
                }
            }
        }
    }

    #[test]
    fn large_n_stays_finite_and_centred() {
        let (low, high) = quantile_ci_ranks(10_000_000, 500);
        let (l, u) = (low.expect("a lower rank"), high.expect("an upper rank"));
        // ±1.96 σ, σ = √(n/4) ≈ 1581.
        assert!((4_996_800..4_997_000).contains(&l), "{l}");
        assert!((5_003_000..5_003_200).contains(&u), "{u}");
    }

    #[test]
    fn empty_and_out_of_range() {
        assert_eq!(quantile_ci_ranks(0, 500), (None, None));
        assert_eq!(quantile_ci_ranks(10, 1000), (None, None));
        assert_eq!(Distribution::from_samples(&[]).expect("no error"), None);
    }
}
