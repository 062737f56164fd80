//! Exact two-sample tests on counts: Fisher's exact test of a 2×2 table,
//! and the two-sample quantile test built on it.
//!
//! Under the hypothesis that both samples come from one distribution, and
//! given the pooled samples, every way of splitting them into the two runs
//! is equally likely; the number of run A's samples at or below a cut fixed
//! by the pooled samples is then hypergeometric, whatever the distribution.
//! So the p-values are exact (conditional on the margins, as Fisher's test
//! is), not asymptotic, and need no random draws.
//!
//! The hypergeometric weights are built outward from the mode by the ratio
//! of successive probabilities, with IEEE-754 multiplications, divisions
//! and additions only (each correctly rounded by the standard), in a fixed
//! order; no logarithm or other library function whose last bit may vary
//! between platforms. The same counts give the same p-value bits on every
//! machine.

use crate::metrics::quantile;

/// Weights within this relative distance of the observed table's count as
/// "no more likely" than it (R's `fisher.test` uses the same guard), so a
/// table that ties with the observed one mathematically is not lost to
/// rounding.
const RELATIVE_TIE: f64 = 1e-7;

/// A 2×2 table of counts: run A's and run B's samples on either side of a
/// cut (or errors and successes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// Run A, first column (at or below the cut; errors).
    pub a_first: u64,
    /// Run A, second column (above the cut; successes).
    pub a_second: u64,
    /// Run B, first column.
    pub b_first: u64,
    /// Run B, second column.
    pub b_second: u64,
}

/// The two-sided p-value of Fisher's exact test: the probability, under
/// the hypergeometric distribution with the table's margins, of every
/// table no more likely than the observed one. 1 for a table with an
/// empty row or column.
pub fn fisher_two_sided(t: Table) -> f64 {
    let rows = (t.a_first + t.a_second, t.b_first + t.b_second);
    let first = t.a_first + t.b_first;
    let n = rows.0 + rows.1;
    if rows.0 == 0 || rows.1 == 0 || first == 0 || first == n {
        return 1.0;
    }
    // k = run A's count in the first column.
    let lo = first.saturating_sub(rows.1);
    let hi = rows.0.min(first);
    let weights = hypergeometric_weights(rows.0, rows.1, first, lo, hi);
    let observed_at = usize::try_from(t.a_first - lo).unwrap_or(usize::MAX);
    let observed = weights.get(observed_at).copied().unwrap_or(0.0);
    let bound = observed * (1.0 + RELATIVE_TIE);
    let mut total = 0.0;
    let mut tail = 0.0;
    for &w in &weights {
        total += w;
        if w <= bound {
            tail += w;
        }
    }
    (tail / total).min(1.0)
}

/// Unnormalised probabilities of k = lo..=hi successes when drawing
/// `draws` from `good` good and `bad` bad items, 1 at the mode.
fn hypergeometric_weights(good: u64, bad: u64, draws: u64, lo: u64, hi: u64) -> Vec<f64> {
    let n = good + bad;
    let mode = ((good + 1) as f64 * (draws + 1) as f64 / (n + 2) as f64) as u64;
    let mode = mode.clamp(lo, hi);
    let len = usize::try_from(hi - lo + 1).unwrap_or(usize::MAX);
    let mut weights = vec![0.0f64; len];
    let at = |k: u64| usize::try_from(k - lo).unwrap_or(usize::MAX);
    let mut w = 1.0f64;
    if let Some(slot) = weights.get_mut(at(mode)) {
        *slot = w;
    }
    // P(k + 1) / P(k) = (good − k)(draws − k) / ((k + 1)(bad − draws + k + 1)).
    for k in mode..hi {
        let up = (good - k) as f64 * (draws - k) as f64;
        let down = (k + 1) as f64 * (bad + k + 1 - draws) as f64;
        w = w * up / down;
        if let Some(slot) = weights.get_mut(at(k + 1)) {
            *slot = w;
        }
    }
    // P(k − 1) / P(k) = k (bad − draws + k) / ((good − k + 1)(draws − k + 1)).
    w = 1.0;
    for k in (lo + 1..=mode).rev() {
        let up = k as f64 * (bad + k - draws) as f64;
        let down = (good - k + 1) as f64 * (draws - k + 1) as f64;
        w = w * up / down;
        if let Some(slot) = weights.get_mut(at(k - 1)) {
            *slot = w;
        }
    }
    weights
}

/// The two-sample quantile test (Mood's median test generalised to the
/// q-quantile): the cut is the pooled samples' q-quantile; each run's
/// samples are counted at or below it and above it; the p-value is
/// Fisher's on that table. Takes both runs' samples sorted; `None` when
/// either has none.
pub fn quantile_test(a: &[u64], b: &[u64], per_mille: u32) -> Option<(u64, Table, f64)> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut pooled = Vec::with_capacity(a.len() + b.len());
    pooled.extend_from_slice(a);
    pooled.extend_from_slice(b);
    pooled.sort_unstable();
    let cut = quantile(&pooled, per_mille)?;
    let at_or_below = |s: &[u64]| s.partition_point(|&v| v <= cut) as u64;
    let (a_low, b_low) = (at_or_below(a), at_or_below(b));
    let table = Table {
        a_first: a_low,
        a_second: a.len() as u64 - a_low,
        b_first: b_low,
        b_second: b.len() as u64 - b_low,
    };
    Some((cut, table, fisher_two_sided(table)))
}

/// The quantile test with groups of samples as the unit (a request's
/// inter-token gaps, which are not independent of each other): each
/// group's own q-quantile, then the median test on those. Returns the
/// pooled median of the groups' quantiles as the cut; `None` when either
/// run has no group with a sample.
pub fn grouped_quantile_test(
    a: &[Vec<u64>],
    b: &[Vec<u64>],
    per_mille: u32,
) -> Option<(u64, Table, f64)> {
    let own = |groups: &[Vec<u64>]| {
        let mut q: Vec<u64> = groups
            .iter()
            .filter_map(|g| quantile(g, per_mille))
            .collect();
        q.sort_unstable();
        q
    };
    quantile_test(&own(a), &own(b), 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(a_first: u64, a_second: u64, b_first: u64, b_second: u64) -> Table {
        Table {
            a_first,
            a_second,
            b_first,
            b_second,
        }
    }

    fn close(p: f64, expected: f64) -> bool {
        (p - expected).abs() < 5e-5
    }

    #[test]
    fn fisher_matches_known_p_values() {
        // Fisher's tea tasting (The Design of Experiments, 1935, ch. II):
        // 3 of 4 cups right; the two-sided p is 34/70.
        let p = fisher_two_sided(table(3, 1, 1, 3));
        assert!(close(p, 34.0 / 70.0), "{p}");
        assert!(close(p, 0.4857), "{p}");
        // All 4 right: 2/70 two-sided.
        assert!(close(fisher_two_sided(table(4, 0, 0, 4)), 2.0 / 70.0));
        // The dieting example of Wikipedia's "Fisher's exact test" article
        // (read 2026-11-26): [[1, 9], [11, 3]] has two-sided p = 0.002759.
        let p = fisher_two_sided(table(1, 9, 11, 3));
        assert!(close(p, 0.002759), "{p}");
        // By exact enumeration (rational arithmetic): 0.010372.
        assert!(close(fisher_two_sided(table(7, 2, 3, 12)), 0.010372));
    }

    #[test]
    fn fisher_is_symmetric_under_swapping_runs_and_columns() {
        for t in [table(3, 1, 1, 3), table(1, 9, 11, 3), table(7, 2, 3, 12)] {
            let p = fisher_two_sided(t);
            let runs = fisher_two_sided(table(t.b_first, t.b_second, t.a_first, t.a_second));
            let columns = fisher_two_sided(table(t.a_second, t.a_first, t.b_second, t.b_first));
            assert_eq!(p.to_bits(), runs.to_bits(), "{t:?}");
            assert_eq!(p.to_bits(), columns.to_bits(), "{t:?}");
        }
    }

    #[test]
    fn fisher_of_degenerate_tables_is_one() {
        assert_eq!(fisher_two_sided(table(0, 0, 3, 4)), 1.0);
        assert_eq!(fisher_two_sided(table(5, 0, 3, 0)), 1.0);
        assert_eq!(fisher_two_sided(table(0, 5, 0, 3)), 1.0);
    }

    #[test]
    fn fisher_stays_finite_for_large_tables() {
        let p = fisher_two_sided(table(500_000, 500_000, 500_000, 500_000));
        assert!(close(p, 1.0), "{p}");
        let p = fisher_two_sided(table(510_000, 490_000, 490_000, 510_000));
        assert!(p < 1e-100, "{p}");
    }

    #[test]
    fn quantile_is_the_smallest_sample_covering_the_share() {
        let s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(quantile(&s, 500), Some(5));
        assert_eq!(quantile(&s, 900), Some(9));
        assert_eq!(quantile(&s, 950), Some(10));
        assert_eq!(quantile(&[], 500), None);
    }

    #[test]
    fn identical_samples_are_consistent_at_every_quantile() {
        let s: Vec<u64> = (0..200).map(|i| 1000 + (i * 37) % 101).collect();
        let mut sorted = s.clone();
        sorted.sort_unstable();
        for pm in [500, 900, 950, 990] {
            let (_, _, p) = quantile_test(&sorted, &sorted, pm).expect("samples");
            assert!(p > 0.5, "p{pm}: {p}");
        }
    }

    #[test]
    fn groups_count_once_each() {
        // Ten requests a run, each with 30 gaps; in B every request has
        // four slow gaps instead of two: its own p90 moves up.
        let request = |slow: usize| {
            let mut g: Vec<u64> = (0..30).map(|i| if i < slow { 50 } else { 10 }).collect();
            g.sort_unstable();
            g
        };
        let a: Vec<Vec<u64>> = (0..10).map(|_| request(2)).collect();
        let b: Vec<Vec<u64>> = (0..10).map(|_| request(4)).collect();
        let (cut, t, p) = grouped_quantile_test(&a, &b, 900).expect("groups");
        assert_eq!((cut, t), (10, table(10, 0, 0, 10)));
        assert!(close(p, 2.0 / 184_756.0), "{p}");
        assert_eq!(grouped_quantile_test(&a, &[vec![]], 900), None);
    }

    #[test]
    fn shifted_samples_differ_at_the_median() {
        let a: Vec<u64> = (0..100).map(|i| 10_000 + i * 10).collect();
        let b: Vec<u64> = (0..100).map(|i| 10_500 + i * 10).collect();
        let (cut, t, p) = quantile_test(&a, &b, 500).expect("samples");
        // Pooled, the 100th of 200 samples; 75 of A's and 25 of B's at or
        // below it. By exact enumeration (rational arithmetic), p = 1.4546e-12.
        assert_eq!(cut, 10_740);
        assert_eq!(t, table(75, 25, 25, 75));
        assert!((p / 1.454_608_8e-12 - 1.0).abs() < 1e-6, "{p}");
    }
}
