//! What a target may still be sent: pure functions of its budget, what it
//! was sent (read back from the ledger) and the time now. A probe runs only
//! when its estimated cost fits every window with what was already spent,
//! so the budget is never exceeded by a probe that costs what it was
//! estimated to.

use std::fmt;

use serde::Deserialize;

/// The most one target may be sent by this observer, in sliding windows of
/// an hour and a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Requests in any hour.
    pub requests_per_hour: u64,
    /// Requests in any day.
    pub requests_per_day: u64,
    /// Prompt plus completion tokens in any hour.
    pub tokens_per_hour: u64,
    /// Prompt plus completion tokens in any day.
    pub tokens_per_day: u64,
}

/// Requests and tokens: a probe's estimate, or what a run spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// Requests (exchanges) sent.
    pub requests: u64,
    /// Prompt plus completion tokens.
    pub tokens: u64,
}

impl Cost {
    fn add(self, other: Cost) -> Cost {
        Cost {
            requests: self.requests.saturating_add(other.requests),
            tokens: self.tokens.saturating_add(other.tokens),
        }
    }

    fn of(self, unit: Unit) -> u64 {
        match unit {
            Unit::Requests => self.requests,
            Unit::Tokens => self.tokens,
        }
    }
}

/// One earlier run of the target: when it started and what it spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spent {
    /// Its start, Unix seconds.
    pub started_unix: i64,
    /// What it sent.
    pub cost: Cost,
}

/// A budget window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last 3,600 seconds.
    Hour,
    /// The last 86,400 seconds.
    Day,
}

impl Window {
    /// Its length in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Window::Hour => 3600,
            Window::Day => 86_400,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Window::Hour => "hour",
            Window::Day => "day",
        }
    }
}

/// What a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Requests.
    Requests,
    /// Prompt plus completion tokens.
    Tokens,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Requests => "requests",
            Unit::Tokens => "tokens",
        }
    }
}

impl Budget {
    /// The limit of one window and unit.
    pub fn limit(&self, window: Window, unit: Unit) -> u64 {
        match (window, unit) {
            (Window::Hour, Unit::Requests) => self.requests_per_hour,
            (Window::Day, Unit::Requests) => self.requests_per_day,
            (Window::Hour, Unit::Tokens) => self.tokens_per_hour,
            (Window::Day, Unit::Tokens) => self.tokens_per_day,
        }
    }
}

/// Why a probe may not run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The window that has no room.
    pub window: Window,
    /// In what.
    pub unit: Unit,
    /// Already spent in the window.
    pub used: u64,
    /// The probe's estimate.
    pub needed: u64,
    /// The window's limit.
    pub limit: u64,
}

impl Refusal {
    /// Whether the probe alone is over the limit: it can never run.
    pub fn never_fits(&self) -> bool {
        self.needed > self.limit
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (window, unit) = (self.window.name(), self.unit.name());
        if self.never_fits() {
            write!(
                f,
                "the probe alone needs about {} {unit}, more than the {unit}_per_{window} budget of {}: it can never run; raise the budget or select fewer cases",
                self.needed, self.limit
            )
        } else {
            write!(
                f,
                "the {unit}_per_{window} budget of {} has {} left ({} used in the last {window}); the probe needs about {}",
                self.limit,
                self.limit.saturating_sub(self.used),
                self.used,
                self.needed
            )
        }
    }
}

/// What the runs that started in the window ending at `now` spent. A run
/// dated after `now` (a clock set back) counts too: better to skip than to
/// overspend.
pub fn used(history: &[Spent], window: Window, now: i64) -> Cost {
    let since = now.saturating_sub(window.seconds());
    history
        .iter()
        .filter(|s| s.started_unix > since)
        .fold(Cost::default(), |sum, s| sum.add(s.cost))
}

/// Whether a probe estimated at `estimate` may start at `now`: it must fit
/// what is left of every window and unit, the hour before the day, requests
/// before tokens.
///
/// # Errors
///
/// The first [`Refusal`]: which window and unit has no room, and by how much.
pub fn admit(budget: &Budget, history: &[Spent], estimate: Cost, now: i64) -> Result<(), Refusal> {
    for window in [Window::Hour, Window::Day] {
        let spent = used(history, window, now);
        for unit in [Unit::Requests, Unit::Tokens] {
            let limit = budget.limit(window, unit);
            let (used, needed) = (spent.of(unit), estimate.of(unit));
            if used.saturating_add(needed) > limit {
                return Err(Refusal {
                    window,
                    unit,
                    used,
                    needed,
                    limit,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: Budget = Budget {
        requests_per_hour: 100,
        requests_per_day: 1000,
        tokens_per_hour: 10_000,
        tokens_per_day: 50_000,
    };
    const NOW: i64 = 1_000_000;

    fn cost(requests: u64, tokens: u64) -> Cost {
        Cost { requests, tokens }
    }

    fn spent(ago: i64, requests: u64, tokens: u64) -> Spent {
        Spent {
            started_unix: NOW - ago,
            cost: cost(requests, tokens),
        }
    }

    #[test]
    fn a_probe_that_fits_every_window_runs() {
        let history = [spent(60, 50, 5000), spent(7200, 500, 20_000)];
        assert_eq!(admit(&BUDGET, &history, cost(50, 5000), NOW), Ok(()));
    }

    #[test]
    fn exactly_filling_a_window_is_allowed_one_more_is_not() {
        let history = [spent(10, 60, 0)];
        assert_eq!(admit(&BUDGET, &history, cost(40, 0), NOW), Ok(()));
        let refused = admit(&BUDGET, &history, cost(41, 0), NOW).expect_err("over by one");
        assert_eq!(
            refused,
            Refusal {
                window: Window::Hour,
                unit: Unit::Requests,
                used: 60,
                needed: 41,
                limit: 100
            }
        );
        assert!(!refused.never_fits());
        let why = refused.to_string();
        assert!(
            why.contains("requests_per_hour budget of 100 has 40 left"),
            "{why}"
        );
        assert!(why.contains("needs about 41"), "{why}");
    }

    #[test]
    fn each_window_and_unit_is_enforced() {
        // Tokens in the hour.
        let r = admit(&BUDGET, &[spent(100, 1, 9000)], cost(1, 1001), NOW).expect_err("tokens");
        assert_eq!((r.window, r.unit), (Window::Hour, Unit::Tokens));
        // Requests in the day, the hour being clear.
        let day = [spent(2 * 3600, 950, 0)];
        let r = admit(&BUDGET, &day, cost(51, 0), NOW).expect_err("requests/day");
        assert_eq!((r.window, r.unit), (Window::Day, Unit::Requests));
        // Tokens in the day.
        let day = [spent(5 * 3600, 0, 45_000)];
        let r = admit(&BUDGET, &day, cost(0, 5001), NOW).expect_err("tokens/day");
        assert_eq!((r.window, r.unit), (Window::Day, Unit::Tokens));
        assert_eq!(admit(&BUDGET, &day, cost(0, 5000), NOW), Ok(()));
    }

    #[test]
    fn runs_leave_a_window_when_it_slides_past_their_start() {
        let history = [spent(3600, 100, 0)];
        // Started exactly an hour ago: out of the hour, still in the day.
        assert_eq!(used(&history, Window::Hour, NOW), Cost::default());
        assert_eq!(used(&history, Window::Day, NOW), cost(100, 0));
        assert_eq!(admit(&BUDGET, &history, cost(100, 0), NOW), Ok(()));
        let history = [spent(3599, 100, 0)];
        assert!(admit(&BUDGET, &history, cost(1, 0), NOW).is_err());
        let history = [spent(86_400, 1000, 50_000)];
        assert_eq!(admit(&BUDGET, &history, cost(100, 10_000), NOW), Ok(()));
    }

    #[test]
    fn runs_dated_in_the_future_still_count() {
        let history = [spent(-600, 100, 0)];
        assert!(admit(&BUDGET, &history, cost(1, 0), NOW).is_err());
    }

    #[test]
    fn a_probe_larger_than_a_budget_can_never_run_and_says_so() {
        let r = admit(&BUDGET, &[], cost(101, 0), NOW).expect_err("too large");
        assert!(r.never_fits());
        assert!(r.to_string().contains("can never run"), "{r}");
    }

    #[test]
    fn usage_saturates_instead_of_wrapping() {
        let history = [spent(1, u64::MAX, u64::MAX), spent(2, 5, 5)];
        assert_eq!(used(&history, Window::Hour, NOW), cost(u64::MAX, u64::MAX));
        assert!(admit(&BUDGET, &history, cost(0, 0), NOW).is_err());
    }

    /// Whatever the order of probes and their sizes, a sequence of admitted
    /// runs that cost what they were estimated to never puts more than the
    /// limit into any window.
    #[test]
    fn admitted_runs_never_exceed_any_window() {
        let budget = Budget {
            requests_per_hour: 37,
            requests_per_day: 300,
            tokens_per_hour: 5000,
            tokens_per_day: 30_000,
        };
        let mut history: Vec<Spent> = Vec::new();
        let mut state = 12_345u64;
        let mut now = 0i64;
        for _ in 0..5000 {
            // A small LCG: sizes and gaps vary, the test stays deterministic.
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let requests = (state >> 33) % 12;
            let tokens = (state >> 17) % 900;
            now += ((state >> 45) % 400) as i64;
            let estimate = cost(requests, tokens);
            if admit(&budget, &history, estimate, now).is_ok() {
                history.push(Spent {
                    started_unix: now,
                    cost: estimate,
                });
            }
        }
        assert!(
            history.len() > 500,
            "the budget let {} runs through",
            history.len()
        );
        for end in history.iter().map(|s| s.started_unix) {
            for window in [Window::Hour, Window::Day] {
                let inside: Vec<Spent> = history
                    .iter()
                    .filter(|s| s.started_unix > end - window.seconds() && s.started_unix <= end)
                    .copied()
                    .collect();
                let spent = used(&inside, window, end);
                assert!(spent.requests <= budget.limit(window, Unit::Requests));
                assert!(spent.tokens <= budget.limit(window, Unit::Tokens));
            }
        }
    }
}
