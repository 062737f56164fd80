//! Load models and open-loop arrival schedules.
//!
//! An open-loop schedule is the list of send times of the requests, in
//! nanoseconds from the start of the run (the first request at 0), fixed
//! before the run so that the driver can record each request's scheduled
//! time next to the time it was actually sent. A closed loop has no
//! schedule: N users each send their next request when the previous one
//! ends (after an optional think time).

use std::time::Duration;

use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use super::WorkloadError;
use super::sample::{exponential, gamma};

/// The highest request rate accepted, in requests per second.
pub const MAX_RATE: f64 = 1_000_000.0;
/// The most requests a workload may plan.
pub const MAX_REQUESTS: u64 = 10_000_000;
/// The most concurrent users of a closed loop.
pub const MAX_USERS: u64 = 100_000;
/// The smallest gamma shape (burstiness) accepted: below it, gaps are
/// dominated by a few enormous ones and the rate means little.
pub const MIN_BURSTINESS: f64 = 0.01;

/// How requests are sent.
///
/// In YAML: `{constant: {rate: 10}}`, `{poisson: {rate: 10}}`,
/// `{gamma: {rate: 10, burstiness: 0.5}}`, or
/// `{closed: {users: 8, think_time: 500ms}}`. Rates are requests per
/// second and may be fractional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LoadModel {
    /// Open loop, evenly spaced: one request every `1/rate` seconds.
    Constant {
        /// Requests per second.
        rate: f64,
    },
    /// Open loop, a Poisson process: exponential gaps with mean `1/rate`.
    Poisson {
        /// Requests per second.
        rate: f64,
    },
    /// Open loop, gamma-distributed gaps with mean `1/rate` and shape
    /// `burstiness`: 1 is Poisson, below 1 burstier, above 1 more even.
    /// The gaps' coefficient of variation is `1/sqrt(burstiness)`.
    Gamma {
        /// Requests per second.
        rate: f64,
        /// The gamma shape.
        burstiness: f64,
    },
    /// Closed loop: `users` concurrent users, each sending its next
    /// request `think_time` after its previous one ended.
    Closed {
        /// Concurrent users.
        users: u64,
        /// Pause between a response and the user's next request
        /// (`"500ms"`, `"2s"`; none by default).
        #[serde(default, with = "super::duration")]
        think_time: Duration,
    },
}

/// An open-loop arrival process (a [`LoadModel`] other than
/// [`LoadModel::Closed`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arrivals {
    /// Evenly spaced at this rate (requests per second).
    Constant(f64),
    /// Poisson at this rate.
    Poisson(f64),
    /// Gamma gaps at this rate with this shape.
    Gamma(f64, f64),
}

impl LoadModel {
    /// Checks the parameters: a finite rate in `(0, `[`MAX_RATE`]`]`, a
    /// finite burstiness of at least [`MIN_BURSTINESS`], users in
    /// `1..=`[`MAX_USERS`].
    ///
    /// # Errors
    ///
    /// [`WorkloadError::Invalid`] saying which parameter and why.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        match *self {
            LoadModel::Constant { rate } | LoadModel::Poisson { rate } => check_rate(rate),
            LoadModel::Gamma { rate, burstiness } => {
                check_rate(rate)?;
                if !burstiness.is_finite() || burstiness < MIN_BURSTINESS {
                    return Err(WorkloadError::Invalid(format!(
                        "burstiness {burstiness} is not a finite number of at least {MIN_BURSTINESS}"
                    )));
                }
                Ok(())
            }
            LoadModel::Closed { users, .. } => {
                if !(1..=MAX_USERS).contains(&users) {
                    return Err(WorkloadError::Invalid(format!(
                        "{users} users is not in 1..={MAX_USERS}"
                    )));
                }
                Ok(())
            }
        }
    }

    /// The open-loop arrival process, or `None` for a closed loop.
    pub fn arrivals(&self) -> Option<Arrivals> {
        match *self {
            LoadModel::Constant { rate } => Some(Arrivals::Constant(rate)),
            LoadModel::Poisson { rate } => Some(Arrivals::Poisson(rate)),
            LoadModel::Gamma { rate, burstiness } => Some(Arrivals::Gamma(rate, burstiness)),
            LoadModel::Closed { .. } => None,
        }
    }
}

/// Checks a rate.
fn check_rate(rate: f64) -> Result<(), WorkloadError> {
    if rate.is_finite() && rate > 0.0 && rate <= MAX_RATE {
        Ok(())
    } else {
        Err(WorkloadError::Invalid(format!(
            "rate {rate} requests/s is not a finite number in (0, {MAX_RATE}]"
        )))
    }
}

/// Seconds to whole nanoseconds, rounded (saturating).
fn nanos(seconds: f64) -> u64 {
    // `as` saturates: negative and NaN give 0, huge gives u64::MAX.
    (seconds * 1e9).round() as u64
}

/// The send times of at most `requests` requests, in nanoseconds from the
/// start (the first at 0, non-decreasing), stopping before `duration` if
/// one is given: every offset is below it.
///
/// A constant rate puts request `i` at `round(i × 10⁹ / rate)` ns (no
/// accumulated rounding). Poisson and gamma add independent gaps drawn
/// from `rng`, each rounded to the nanosecond.
///
/// # Errors
///
/// [`WorkloadError::Invalid`] if the rate or the burstiness is invalid (as
/// [`LoadModel::validate`]), or `requests` is above [`MAX_REQUESTS`].
pub fn schedule(
    arrivals: Arrivals,
    requests: u64,
    duration: Option<Duration>,
    rng: &mut impl RngCore,
) -> Result<Vec<u64>, WorkloadError> {
    let model = match arrivals {
        Arrivals::Constant(rate) => LoadModel::Constant { rate },
        Arrivals::Poisson(rate) => LoadModel::Poisson { rate },
        Arrivals::Gamma(rate, burstiness) => LoadModel::Gamma { rate, burstiness },
    };
    model.validate()?;
    if requests > MAX_REQUESTS {
        return Err(WorkloadError::Invalid(format!(
            "{requests} requests is more than the {MAX_REQUESTS} allowed"
        )));
    }
    let end = duration.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let within = |t: u64| end.is_none_or(|end| t < end);
    let mut times = Vec::new();
    let mut t = 0u64;
    for i in 0..requests {
        if i > 0 {
            t = match arrivals {
                Arrivals::Constant(rate) => nanos(i as f64 / rate),
                Arrivals::Poisson(rate) => t.saturating_add(nanos(exponential(rng) / rate)),
                Arrivals::Gamma(rate, shape) => {
                    // Mean shape × scale = 1/rate.
                    t.saturating_add(nanos(gamma(rng, shape) / (shape * rate)))
                }
            };
        }
        if !within(t) {
            break;
        }
        times.push(t);
    }
    Ok(times)
}
