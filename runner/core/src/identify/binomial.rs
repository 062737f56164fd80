//! Exact binomial statistics: Clopper–Pearson confidence intervals of a
//! pass rate, and the exact two-sided binomial test of discordant pairs
//! (McNemar's exact test).
//!
//! As in `compare`'s Fisher test, probabilities are built outward from the
//! mode by the ratio of successive binomial probabilities and normalised by
//! their sum, with IEEE-754 additions, multiplications and divisions only,
//! in a fixed order: no logarithm, power or other library function whose
//! last bit may vary between platforms. Bisection then finds the interval
//! bounds, so the same counts give the same bits on every machine.

/// Weights within this relative distance of the observed outcome's count as
/// "no more likely" than it (as in Fisher's test, after R).
const RELATIVE_TIE: f64 = 1e-7;

/// Halvings of the bisection: far past the 2⁻⁵² resolution of `f64` in
/// (0, 1), so the bound is as close as `f64` holds it.
const BISECTIONS: u32 = 80;

/// The Binomial(n, p) probabilities of 0..=n successes, unnormalised (1 at
/// the mode). For p = 0 or 1 all the mass sits on 0 or n.
fn weights(n: u64, p: f64) -> Vec<f64> {
    let len = usize::try_from(n).unwrap_or(usize::MAX).saturating_add(1);
    let mut w = vec![0.0f64; len];
    if p <= 0.0 || p >= 1.0 {
        let at = if p <= 0.0 { 0 } else { len - 1 };
        if let Some(slot) = w.get_mut(at) {
            *slot = 1.0;
        }
        return w;
    }
    let odds = p / (1.0 - p);
    // The mode ⌊(n + 1)p⌋, at most n.
    let mode = (((n + 1) as f64 * p) as u64).min(n);
    let at = |k: u64| usize::try_from(k).unwrap_or(usize::MAX);
    if let Some(slot) = w.get_mut(at(mode)) {
        *slot = 1.0;
    }
    // P(k + 1) / P(k) = (n − k) / (k + 1) · p / (1 − p).
    let mut x = 1.0f64;
    for k in mode..n {
        x = x * (n - k) as f64 / (k + 1) as f64 * odds;
        if let Some(slot) = w.get_mut(at(k + 1)) {
            *slot = x;
        }
    }
    // P(k − 1) / P(k) = k / (n − k + 1) · (1 − p) / p.
    x = 1.0;
    for k in (1..=mode).rev() {
        x = x * k as f64 / (n - k + 1) as f64 / odds;
        if let Some(slot) = w.get_mut(at(k - 1)) {
            *slot = x;
        }
    }
    w
}

/// P(X ≤ k) and P(X ≥ k) for X ~ Binomial(n, p), each summed over its own
/// side (so a small tail keeps its precision).
fn tails(n: u64, k: u64, p: f64) -> (f64, f64) {
    let w = weights(n, p);
    let k = usize::try_from(k).unwrap_or(usize::MAX);
    let total: f64 = w.iter().sum();
    let at_most: f64 = w.iter().take(k.saturating_add(1)).sum();
    let at_least: f64 = w.iter().skip(k).sum();
    (at_most / total, at_least / total)
}

/// The p in [0, 1] where the monotone `f` crosses `target`, by bisection:
/// `rising` when `f` increases with p.
fn solve(target: f64, rising: bool, f: impl Fn(f64) -> f64) -> f64 {
    let (mut low, mut high) = (0.0f64, 1.0f64);
    for _ in 0..BISECTIONS {
        let mid = (low + high) / 2.0;
        if (f(mid) < target) == rising {
            low = mid;
        } else {
            high = mid;
        }
    }
    (low + high) / 2.0
}

/// The Clopper–Pearson ("exact") two-sided confidence interval of a
/// success probability, from `k` successes in `n` trials, at confidence
/// `confidence_per_mille`/1000: the lower bound is the p at which
/// P(X ≥ k) equals half the remaining probability (0 when k = 0), the upper
/// the p at which P(X ≤ k) does (1 when k = n). Its coverage is at least
/// the confidence, for every p. `None` for no trials.
pub fn clopper_pearson(k: u64, n: u64, confidence_per_mille: u32) -> Option<(f64, f64)> {
    if n == 0 || k > n {
        return None;
    }
    let tail = f64::from(1000u32.saturating_sub(confidence_per_mille)) / 2000.0;
    let low = if k == 0 {
        0.0
    } else {
        solve(tail, true, |p| tails(n, k, p).1)
    };
    let high = if k == n {
        1.0
    } else {
        solve(tail, false, |p| tails(n, k, p).0)
    };
    Some((low, high))
}

/// The exact two-sided binomial test of `first` against `second` outcomes
/// under the hypothesis that each is equally likely (McNemar's exact test
/// when they are the two kinds of discordant pairs): the probability,
/// under Binomial(first + second, ½), of every outcome no more likely
/// than the observed one. 1 when there is no outcome.
pub fn sign_test(first: u64, second: u64) -> f64 {
    let n = first + second;
    if n == 0 {
        return 1.0;
    }
    let w = weights(n, 0.5);
    let observed = w
        .get(usize::try_from(first).unwrap_or(usize::MAX))
        .copied()
        .unwrap_or(0.0);
    let bound = observed * (1.0 + RELATIVE_TIE);
    let (mut total, mut tail) = (0.0, 0.0);
    for &x in &w {
        total += x;
        if x <= bound {
            tail += x;
        }
    }
    (tail / total).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64, expected: f64) -> bool {
        (x - expected).abs() < 5e-7
    }

    #[test]
    fn clopper_pearson_matches_published_intervals() {
        // Closed forms at the edges: k = 0 gives [0, 1 − 0.025^(1/n)],
        // k = n gives [0.025^(1/n), 1].
        let (low, high) = clopper_pearson(0, 20, 950).expect("trials");
        assert_eq!(low, 0.0);
        assert!(close(high, 1.0 - 0.025f64.powf(1.0 / 20.0)), "{high}");
        assert!(close(high, 0.168_433), "{high}");
        let (low, high) = clopper_pearson(10, 10, 950).expect("trials");
        assert!(close(low, 0.691_503), "{low}");
        assert_eq!(high, 1.0);
        // 5 of 10: [0.187086, 0.812914] (R binom.test(5, 10)).
        let (low, high) = clopper_pearson(5, 10, 950).expect("trials");
        assert!(
            close(low, 0.187_086) && close(high, 0.812_914),
            "{low} {high}"
        );
        // 7 of 50, by bisection on the binomial tails in exact rational
        // arithmetic: [0.0581917, 0.2673960].
        let (low, high) = clopper_pearson(7, 50, 950).expect("trials");
        assert!(
            close(low, 0.058_191_7) && close(high, 0.267_396_0),
            "{low} {high}"
        );
        assert_eq!(clopper_pearson(0, 0, 950), None);
        assert_eq!(clopper_pearson(3, 2, 950), None);
    }

    #[test]
    fn clopper_pearson_bounds_have_their_tail_probability() {
        for n in [1u64, 2, 7, 30, 200] {
            for k in 0..=n {
                let (low, high) = clopper_pearson(k, n, 950).expect("trials");
                assert!(low <= k as f64 / n as f64 && k as f64 / n as f64 <= high);
                if k > 0 {
                    assert!((tails(n, k, low).1 - 0.025).abs() < 1e-9, "n={n} k={k}");
                }
                if k < n {
                    assert!((tails(n, k, high).0 - 0.025).abs() < 1e-9, "n={n} k={k}");
                }
            }
        }
    }

    #[test]
    fn sign_test_matches_exact_enumeration() {
        // 0 of 6 one way: 2 / 2⁶.
        assert!(close(sign_test(6, 0), 2.0 / 64.0));
        assert!(close(sign_test(0, 6), 2.0 / 64.0));
        // 1 against 9: 2 · (1 + 10) / 1024.
        assert!(close(sign_test(1, 9), 22.0 / 1024.0));
        // Balanced outcomes are as likely as can be.
        assert_eq!(sign_test(5, 5), 1.0);
        assert_eq!(sign_test(0, 0), 1.0);
        // 3 against 5: every outcome of 8 but 4 is no more likely.
        let p = sign_test(3, 5);
        assert!(close(p, (256.0 - 70.0) / 256.0), "{p}");
    }

    #[test]
    fn sign_test_stays_finite_for_many_pairs() {
        assert!(close(sign_test(5000, 5000), 1.0));
        assert!(sign_test(0, 5000) < 1e-300);
    }
}
