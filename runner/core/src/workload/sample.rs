//! Random draws from a seeded ChaCha stream: uniform integers without
//! modulo bias, uniform and normal floats, exponential and gamma variates,
//! and the token-length distributions built on them.
//!
//! Floats are used inside the sampling only; everything handed out of the
//! workload (token counts, send offsets) is an integer.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use super::WorkloadError;

/// The largest token length a distribution may produce (10 million tokens,
/// beyond any context window offered today).
pub const MAX_LENGTH_TOKENS: u64 = 10_000_000;

/// The seeded generator of one independent part of a workload.
///
/// Each part (send times, lengths, prompt text) reads its own ChaCha8
/// stream of the same seed, so changing the load model does not change the
/// prompts and vice versa.
pub fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A uniform integer in `0..n` (`n > 0`), by rejection: no modulo bias.
pub fn below(rng: &mut impl RngCore, n: u64) -> u64 {
    debug_assert!(n > 0);
    let n = n.max(1);
    // The largest multiple of n that fits, as an exclusive bound.
    let zone = u64::MAX - u64::MAX % n;
    loop {
        let x = rng.next_u64();
        if x < zone {
            return x % n;
        }
    }
}

/// A uniform float in `[0, 1)` with 53 random bits.
pub fn unit(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform float in `(0, 1]`: safe to take the logarithm of.
pub fn unit_open(rng: &mut impl RngCore) -> f64 {
    1.0 - unit(rng)
}

/// A standard normal variate by the Box–Muller transform (the cosine
/// branch; the sine branch is discarded so that each draw reads the same
/// number of words from the stream).
pub fn normal(rng: &mut impl RngCore) -> f64 {
    let u1 = unit_open(rng);
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// An exponential variate with mean 1.
pub fn exponential(rng: &mut impl RngCore) -> f64 {
    -unit_open(rng).ln()
}

/// A gamma variate with the given shape and scale 1, by Marsaglia and
/// Tsang's method; a shape below 1 draws with shape + 1 and multiplies by
/// `U^(1/shape)` (the "boost").
///
/// `shape` must be finite and positive (the caller validates it).
pub fn gamma(rng: &mut impl RngCore, shape: f64) -> f64 {
    if shape < 1.0 {
        let boosted = gamma(rng, shape + 1.0);
        return boosted * unit_open(rng).powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = unit_open(rng);
        let x2 = x * x;
        if u < 1.0 - 0.0331 * x2 * x2 || u.ln() < 0.5 * x2 + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}

/// A distribution of token lengths (prompt or output), at least 1 token.
///
/// In YAML: `{fixed: 1000}`, `{uniform: {min: 100, max: 300}}`, or
/// `{normal: {mean: 1000, sd: 100, min: 500, max: 1500}}` (a normal draw
/// rounded to the nearest integer and clipped to `[min, max]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LengthDist {
    /// Always this many tokens.
    Fixed(u64),
    /// Every integer of `[min, max]` equally likely.
    Uniform {
        /// The smallest length.
        min: u64,
        /// The largest length.
        max: u64,
    },
    /// Normal with this mean and standard deviation, rounded, clipped to
    /// `[min, max]`.
    Normal {
        /// The mean, in tokens.
        mean: f64,
        /// The standard deviation, in tokens (0 gives the rounded mean).
        sd: f64,
        /// The smallest length.
        min: u64,
        /// The largest length.
        max: u64,
    },
}

impl LengthDist {
    /// Checks the parameters: lengths in `1..=`[`MAX_LENGTH_TOKENS`],
    /// `min <= max`, a finite mean and a finite non-negative deviation.
    ///
    /// # Errors
    ///
    /// [`WorkloadError::Invalid`] saying which parameter and why; `what`
    /// names the distribution (e.g. `input length`).
    pub fn validate(&self, what: &str) -> Result<(), WorkloadError> {
        let invalid = |reason: String| Err(WorkloadError::Invalid(format!("{what}: {reason}")));
        let in_range = |n: u64| (1..=MAX_LENGTH_TOKENS).contains(&n);
        match *self {
            LengthDist::Fixed(n) => {
                if !in_range(n) {
                    return invalid(format!("{n} tokens is not in 1..={MAX_LENGTH_TOKENS}"));
                }
            }
            LengthDist::Uniform { min, max } | LengthDist::Normal { min, max, .. } => {
                if !in_range(min) || !in_range(max) {
                    return invalid(format!(
                        "min {min} and max {max} must both be in 1..={MAX_LENGTH_TOKENS}"
                    ));
                }
                if min > max {
                    return invalid(format!("min {min} is greater than max {max}"));
                }
            }
        }
        if let LengthDist::Normal { mean, sd, .. } = *self {
            if !mean.is_finite() {
                return invalid(format!("the mean {mean} is not a finite number"));
            }
            if !sd.is_finite() || sd < 0.0 {
                return invalid(format!(
                    "the standard deviation {sd} is not a finite non-negative number"
                ));
            }
        }
        Ok(())
    }

    /// One length drawn from the distribution (validated beforehand by
    /// [`LengthDist::validate`]; an invalid one still yields a length within
    /// its bounds, never a panic).
    pub fn sample(&self, rng: &mut impl RngCore) -> u64 {
        match *self {
            LengthDist::Fixed(n) => n,
            LengthDist::Uniform { min, max } => {
                let (lo, hi) = (min.min(max), min.max(max));
                lo + below(rng, hi - lo + 1)
            }
            LengthDist::Normal { mean, sd, min, max } => {
                let (lo, hi) = (min.min(max), min.max(max));
                let x = (mean + sd * normal(rng)).round();
                // `as` saturates (NaN → 0); the clamp does the rest.
                let x = if x <= 0.0 { 0 } else { x as u64 };
                x.clamp(lo, hi)
            }
        }
    }

    /// The largest length the distribution can produce.
    pub fn max(&self) -> u64 {
        match *self {
            LengthDist::Fixed(n) => n,
            LengthDist::Uniform { min, max } | LengthDist::Normal { min, max, .. } => min.max(max),
        }
    }
}
