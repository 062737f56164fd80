//! When a probe is due: pure functions of the schedule, the seed, the
//! start of the probe's last run and the time now (Unix seconds, UTC).
//! There is no clock in here; the loop passes it in.

use sha2::{Digest, Sha256};

/// Seconds in a day (UTC days have no leap seconds in Unix time).
const DAY: i64 = 86_400;

/// When a probe runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// From one run's start to the next: `interval` seconds, moved earlier
    /// or later by up to `jitter_percent` of it by a seeded draw.
    Every {
        /// Seconds between starts.
        interval: u64,
        /// The largest move, in percent of the interval (0 to 50).
        jitter_percent: u8,
    },
    /// At fixed UTC times of day.
    At {
        /// Seconds after UTC midnight, ascending, at least one.
        times: Vec<u32>,
    },
}

/// Which series of runs a jitter draw belongs to: the same seed, target,
/// probe and last start always draw the same offset, so a restarted
/// observatory computes the same due time as the one it replaces.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// The config's seed.
    pub seed: u64,
    /// The target's name.
    pub target: &'a str,
    /// The probe's name.
    pub probe: &'a str,
}

/// When the probe is next due: with no run yet, at once (`every`) or at the
/// next time of day at or after `now` (`at`); else one jittered interval
/// after the last start (`every`), or the first time of day after the last
/// start (`at`). A due time in the past means "now": slots missed while
/// the observatory was down are made up once, not once each.
pub fn next_due(schedule: &Schedule, series: Series<'_>, last_start: Option<i64>, now: i64) -> i64 {
    match (schedule, last_start) {
        (Schedule::Every { .. }, None) => now,
        (
            Schedule::Every {
                interval,
                jitter_percent,
            },
            Some(last),
        ) => {
            let interval = i64::try_from(*interval).unwrap_or(i64::MAX);
            let offset = jitter_offset(interval, *jitter_percent, series, last);
            // Never at or before the last start, whatever the draw.
            last.saturating_add(interval)
                .saturating_add(offset)
                .max(last.saturating_add(1))
        }
        (Schedule::At { times }, None) => next_slot(times, now.saturating_sub(1)),
        (Schedule::At { times }, Some(last)) => next_slot(times, last),
    }
}

/// The seeded move of the interval that follows the run started at
/// `last_start`: a whole number of seconds, uniform in
/// `[-span, span]` where `span` is `jitter_percent`% of `interval`.
pub fn jitter_offset(
    interval: i64,
    jitter_percent: u8,
    series: Series<'_>,
    last_start: i64,
) -> i64 {
    let span = interval.saturating_mul(i64::from(jitter_percent.min(50))) / 100;
    if span <= 0 {
        return 0;
    }
    let mut hash = Sha256::new();
    for part in [
        series.seed.to_string().as_bytes(),
        series.target.as_bytes(),
        series.probe.as_bytes(),
        last_start.to_string().as_bytes(),
    ] {
        // Length-prefixed, so that no two series share their input bytes.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let draw = u64::from_be_bytes(first);
    // span is at most half of i64::MAX, so 2 * span + 1 fits in u64.
    let width = 2 * span.unsigned_abs() + 1;
    i64::try_from(draw % width).unwrap_or(0) - span
}

/// The first instant strictly after `after` that falls on one of `times`
/// (seconds after UTC midnight); `after` itself when `times` is empty.
fn next_slot(times: &[u32], after: i64) -> i64 {
    let day = after.div_euclid(DAY);
    let second = after.rem_euclid(DAY);
    match times.iter().map(|t| i64::from(*t)).find(|t| *t > second) {
        Some(t) => day * DAY + t,
        None => match times.first() {
            Some(t) => (day + 1) * DAY + i64::from(*t),
            None => after,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIES: Series<'static> = Series {
        seed: 7,
        target: "vendor-a",
        probe: "latency",
    };
    /// 2026-11-26T00:00:00Z.
    const MIDNIGHT: i64 = 1_795_651_200;

    fn every(interval: u64, jitter_percent: u8) -> Schedule {
        Schedule::Every {
            interval,
            jitter_percent,
        }
    }

    fn at(times: &[&str]) -> Schedule {
        let mut times: Vec<u32> = times
            .iter()
            .map(|t| {
                let (h, m) = t.split_once(':').expect("HH:MM");
                h.parse::<u32>().expect("hours") * 3600 + m.parse::<u32>().expect("minutes") * 60
            })
            .collect();
        times.sort_unstable();
        Schedule::At { times }
    }

    fn hm(h: i64, m: i64) -> i64 {
        MIDNIGHT + h * 3600 + m * 60
    }

    #[test]
    fn midnight_is_a_midnight() {
        assert_eq!(MIDNIGHT % DAY, 0);
    }

    #[test]
    fn an_interval_probe_that_never_ran_is_due_at_once() {
        assert_eq!(next_due(&every(900, 20), SERIES, None, 1000), 1000);
    }

    #[test]
    fn without_jitter_the_next_run_is_one_interval_after_the_last_start() {
        let s = every(900, 0);
        assert_eq!(next_due(&s, SERIES, Some(10_000), 10_100), 10_900);
        // However late the observatory looks, the due time stays put.
        assert_eq!(next_due(&s, SERIES, Some(10_000), 99_999), 10_900);
    }

    #[test]
    fn jitter_stays_within_its_share_of_the_interval_both_ways() {
        let s = every(1000, 20);
        let dues: Vec<i64> = (0..2000)
            .map(|n| {
                let last = 50_000 + n * 1000;
                next_due(&s, SERIES, Some(last), last) - last
            })
            .collect();
        assert!(dues.iter().all(|d| (800..=1200).contains(d)), "{dues:?}");
        // Spread over the whole band, not stuck at one end.
        assert!(dues.iter().any(|d| *d < 850) && dues.iter().any(|d| *d > 1150));
        let mean = dues.iter().sum::<i64>() as f64 / dues.len() as f64;
        assert!((mean - 1000.0).abs() < 15.0, "mean {mean}");
    }

    #[test]
    fn jitter_is_reproducible_from_the_seed_series_and_last_start() {
        let s = every(3600, 50);
        let due = |series: Series<'_>, last| next_due(&s, series, Some(last), last);
        assert_eq!(due(SERIES, 1_000_000), due(SERIES, 1_000_000));
        let differs = |other: Series<'_>| {
            (0..20).any(|n| due(SERIES, 1_000_000 + n) - n != due(other, 1_000_000 + n) - n)
        };
        assert!(differs(Series { seed: 8, ..SERIES }));
        assert!(differs(Series {
            target: "vendor-b",
            ..SERIES
        }));
        assert!(differs(Series {
            probe: "conformance",
            ..SERIES
        }));
    }

    #[test]
    fn the_series_parts_cannot_run_into_each_other() {
        let a = Series {
            seed: 1,
            target: "ab",
            probe: "c",
        };
        let b = Series {
            seed: 1,
            target: "a",
            probe: "bc",
        };
        let offsets = |s| {
            (0..32)
                .map(|n| jitter_offset(3600, 50, s, n))
                .collect::<Vec<_>>()
        };
        assert_ne!(offsets(a), offsets(b));
    }

    #[test]
    fn a_tiny_interval_has_no_room_for_jitter_and_never_goes_backwards() {
        assert_eq!(jitter_offset(1, 50, SERIES, 5), 0);
        assert_eq!(jitter_offset(4, 20, SERIES, 5), 0);
        for last in 0..100 {
            assert!(next_due(&every(1, 50), SERIES, Some(last), last) > last);
            assert!(next_due(&every(2, 50), SERIES, Some(last), last) > last);
        }
    }

    #[test]
    fn a_missed_interval_is_made_up_once() {
        let s = every(900, 0);
        // Down for a day: the probe is due (in the past), runs once now,
        // and the next run is one interval after that run.
        let now = 10_000 + DAY;
        assert!(next_due(&s, SERIES, Some(10_000), now) <= now);
        assert_eq!(next_due(&s, SERIES, Some(now), now), now + 900);
    }

    #[test]
    fn times_of_day_that_never_ran_wait_for_the_next_slot() {
        let s = at(&["02:10", "14:40"]);
        assert_eq!(next_due(&s, SERIES, None, hm(1, 0)), hm(2, 10));
        assert_eq!(next_due(&s, SERIES, None, hm(2, 10)), hm(2, 10));
        assert_eq!(next_due(&s, SERIES, None, hm(2, 11)), hm(14, 40));
        assert_eq!(next_due(&s, SERIES, None, hm(20, 0)), hm(24 + 2, 10));
    }

    #[test]
    fn times_of_day_follow_the_last_start() {
        let s = at(&["14:40", "02:10"]);
        // Started a few seconds after its slot: the next is the day's second slot.
        assert_eq!(
            next_due(&s, SERIES, Some(hm(2, 10) + 3), hm(2, 11)),
            hm(14, 40)
        );
        // Started exactly at its slot.
        assert_eq!(
            next_due(&s, SERIES, Some(hm(14, 40)), hm(14, 41)),
            hm(24 + 2, 10)
        );
        // A single time: every day at it.
        let daily = at(&["00:00"]);
        assert_eq!(
            next_due(&daily, SERIES, Some(MIDNIGHT), MIDNIGHT + 5),
            MIDNIGHT + DAY
        );
    }

    #[test]
    fn missed_times_of_day_are_made_up_once() {
        let s = at(&["02:10", "14:40"]);
        let last = hm(2, 10);
        let now = hm(3 * 24 + 9, 0);
        let due = next_due(&s, SERIES, Some(last), now);
        assert_eq!(due, hm(14, 40));
        assert!(due <= now, "due at once");
        // Run now: the next is the coming slot, not each one missed.
        assert_eq!(next_due(&s, SERIES, Some(now), now), hm(3 * 24 + 14, 40));
    }

    #[test]
    fn times_before_1970_and_at_day_edges_stay_on_the_grid() {
        let s = at(&["23:59"]);
        assert_eq!(next_due(&s, SERIES, Some(-1), 0), 86_340);
        assert_eq!(next_due(&s, SERIES, Some(-DAY), 0), -60);
    }
}
