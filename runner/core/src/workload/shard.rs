//! Sharding a plan over N processes (`--shard I/N`): every shard plans the
//! whole workload exactly as an unsharded run would (same seed, prompts and
//! schedule) and sends its share of it.
//!
//! Shard I of N sends the requests whose plan index k satisfies
//! k ≡ I (mod N); a closed loop runs the users u ≡ I (mod N), each taking
//! only that shard's requests. The shards' shares partition the plan, and
//! each request keeps its plan index, so the shards' evidence can be joined
//! back in plan order. A [`plan_digest`] of the whole plan, the same in every
//! shard, says that the shards split one plan.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::PlannedRequest;
use crate::canonical;
use crate::digest::sha256;

/// The most shards a plan may be split into.
pub const MAX_SHARDS: u64 = 1_000_000;

/// How far in the past `--start-at` may be (the clocks of the hosts that
/// start the shards differ a little, and starting takes a moment).
pub const START_AT_TOLERANCE: Duration = Duration::from_secs(1);

/// A `--shard` or `--start-at` value that cannot be used (the messages
/// name the value, not the flag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not of the form `I/N`.
    #[error("{0:?} is not of the form I/N (e.g. 0/4, the first of 4 shards)")]
    Syntax(String),
    /// N is 0 or too large.
    #[error("{text:?}: the shard count N must be in 1..={MAX_SHARDS}")]
    Count {
        /// The value given.
        text: String,
    },
    /// I is not below N.
    #[error("{text:?}: the index I must be below the count N, in 0..={last}")]
    Index {
        /// The value given.
        text: String,
        /// The largest index allowed.
        last: u64,
    },
    /// A closed loop with fewer users than shards: some shard would run none.
    #[error(
        "a closed loop of {users} user{s} cannot be split into {count} shards: \
         each shard runs the users u ≡ I (mod N), so some shard would have none; \
         use at most {users} shard{s}",
        s = if *users == 1 { "" } else { "s" }
    )]
    TooFewUsers {
        /// The loop's users.
        users: u64,
        /// The shard count.
        count: u64,
    },
    /// `--start-at` is neither an RFC 3339 UTC time nor `+SECONDS`.
    #[error(
        "{0:?} is neither an RFC 3339 UTC time (e.g. 2026-11-26T12:00:00Z) \
         nor +SECONDS from now (e.g. +30)"
    )]
    StartAtSyntax(String),
    /// `--start-at` is more than [`START_AT_TOLERANCE`] in the past.
    #[error(
        "{text:?} is {late_ms} ms in the past (more than the 1 s allowed): \
         choose a time far enough ahead for every shard to start"
    )]
    StartAtPast {
        /// The value given.
        text: String,
        /// How far in the past, in milliseconds.
        late_ms: u64,
    },
}

/// Shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShardSpec {
    /// This shard, 0-based, below `count`.
    pub index: u64,
    /// How many shards the plan is split into (at least 1).
    pub count: u64,
}

impl ShardSpec {
    /// Parses `I/N` (0 ≤ I < N ≤ [`MAX_SHARDS`]).
    ///
    /// # Errors
    ///
    /// [`ShardError`] naming what is wrong with the text.
    pub fn parse(text: &str) -> Result<Self, ShardError> {
        let syntax = || ShardError::Syntax(text.to_string());
        let (index, count) = text.trim().split_once('/').ok_or_else(syntax)?;
        let number = |s: &str| {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            s.parse::<u64>().map_err(|_| syntax())
        };
        let (index, count) = (number(index)?, number(count)?);
        if !(1..=MAX_SHARDS).contains(&count) {
            return Err(ShardError::Count {
                text: text.to_string(),
            });
        }
        if index >= count {
            return Err(ShardError::Index {
                text: text.to_string(),
                last: count - 1,
            });
        }
        Ok(Self { index, count })
    }

    /// Whether the request of plan index `k` is this shard's.
    pub fn takes(&self, k: u64) -> bool {
        k % self.count == self.index
    }

    /// This shard's share of `plan`, in plan order.
    pub fn share<'a>(&self, plan: &'a [PlannedRequest]) -> Vec<&'a PlannedRequest> {
        plan.iter().filter(|p| self.takes(p.index)).collect()
    }

    /// The closed-loop users this shard runs, out of `users`: u ≡ index
    /// (mod count), by their number in the unsharded loop.
    ///
    /// # Errors
    ///
    /// [`ShardError::TooFewUsers`] when there are fewer users than shards.
    pub fn users(&self, users: u64) -> Result<Vec<u64>, ShardError> {
        if users < self.count {
            return Err(ShardError::TooFewUsers {
                users,
                count: self.count,
            });
        }
        Ok((self.index..users).step_by(step(self.count)).collect())
    }
}

/// `count` as a step; a count beyond `usize` takes one element at most.
fn step(count: u64) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX)
}

impl std::fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One planned load for [`plan_digest`]: a case id (`load` for `tokencert
/// load`) and its whole plan.
pub type PlannedLoad<'a> = (&'a str, &'a [PlannedRequest]);

/// `sha256:<hex>` of the canonical JSON of every load's whole plan, in the
/// order given: `[{"case": id, "requests": [{"index": k, "request_digest":
/// "sha256:…", "scheduled_ns": t|null}, …]}, …]`, where `request_digest` is
/// the digest of the request body's canonical JSON. The same for every
/// shard of one plan and for the unsharded run.
pub fn plan_digest(loads: &[PlannedLoad<'_>]) -> String {
    let document: Vec<Value> = loads
        .iter()
        .map(|(case, plan)| {
            let requests: Vec<Value> = plan
                .iter()
                .map(|p| {
                    json!({
                        "index": p.index,
                        "request_digest": sha256(canonical::with_fractions(&p.body).as_bytes()),
                        "scheduled_ns": p.scheduled_ns,
                    })
                })
                .collect();
            json!({"case": case, "requests": requests})
        })
        .collect();
    sha256(canonical::with_fractions(&Value::Array(document)).as_bytes())
}

/// Parses `--start-at`: an RFC 3339 UTC time (`2026-11-26T12:00:00Z`,
/// fractions of a second allowed) or `+SECONDS` from `now`; refuses a time
/// more than [`START_AT_TOLERANCE`] before `now`.
///
/// # Errors
///
/// [`ShardError::StartAtSyntax`] or [`ShardError::StartAtPast`].
pub fn parse_start_at(text: &str, now: SystemTime) -> Result<SystemTime, ShardError> {
    let trimmed = text.trim();
    let at = if let Some(seconds) = trimmed.strip_prefix('+') {
        let seconds: f64 = seconds
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && (0.0..=1e9).contains(s))
            .ok_or_else(|| ShardError::StartAtSyntax(text.to_string()))?;
        now + Duration::from_secs_f64(seconds)
    } else {
        humantime::parse_rfc3339(trimmed)
            .map_err(|_| ShardError::StartAtSyntax(text.to_string()))?
    };
    if let Ok(late) = now.duration_since(at)
        && late > START_AT_TOLERANCE
    {
        return Err(ShardError::StartAtPast {
            text: text.to_string(),
            late_ms: u64::try_from(late.as_millis()).unwrap_or(u64::MAX),
        });
    }
    Ok(at)
}

/// A wall-clock time as nanoseconds since the UNIX epoch (0 before it).
pub fn unix_ns(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(index: u64, content: &str) -> PlannedRequest {
        PlannedRequest {
            index,
            scheduled_ns: Some(index * 10),
            dialect: crate::suite::Dialect::OpenaiChat,
            body: json!({"messages": [{"role": "user", "content": content}]}),
            prompt_tokens: 1,
            max_tokens: 1,
        }
    }

    #[test]
    fn shares_partition_the_plan() {
        let plan: Vec<_> = (0..10).map(|i| request(i, "x")).collect();
        let mut seen: Vec<u64> = (0..3)
            .flat_map(|i| {
                ShardSpec { index: i, count: 3 }
                    .share(&plan)
                    .into_iter()
                    .map(|p| p.index)
                    .collect::<Vec<_>>()
            })
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        let one = ShardSpec { index: 1, count: 3 };
        let share: Vec<u64> = one.share(&plan).iter().map(|p| p.index).collect();
        assert_eq!(share, [1, 4, 7]);
        assert_eq!(one.users(7), Ok(vec![1, 4]));
        assert_eq!(
            ShardSpec { index: 0, count: 4 }.users(3),
            Err(ShardError::TooFewUsers { users: 3, count: 4 })
        );
    }

    #[test]
    fn parse_takes_i_of_n_and_names_the_fault() {
        assert_eq!(
            ShardSpec::parse("2/4"),
            Ok(ShardSpec { index: 2, count: 4 })
        );
        assert_eq!(
            ShardSpec::parse("0/1").map(|s| s.to_string()),
            Ok("0/1".into())
        );
        for bad in ["", "2", "2/", "/4", "a/4", "-1/4", "1/4/5", "1.0/4", "+1/4"] {
            assert!(
                matches!(ShardSpec::parse(bad), Err(ShardError::Syntax(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            ShardSpec::parse("0/0"),
            Err(ShardError::Count { .. })
        ));
        assert!(matches!(
            ShardSpec::parse("4/4"),
            Err(ShardError::Index { last: 3, .. })
        ));
    }

    #[test]
    fn the_digest_sees_every_request_body_and_time() {
        let plan: Vec<_> = (0..4).map(|i| request(i, "x")).collect();
        let base = plan_digest(&[("c", &plan)]);
        assert_eq!(base, plan_digest(&[("c", &plan.clone())]));
        let mut other = plan.clone();
        other[3].body = json!({"messages": [{"role": "user", "content": "y"}]});
        assert_ne!(base, plan_digest(&[("c", &other)]));
        let mut later = plan.clone();
        later[2].scheduled_ns = Some(21);
        assert_ne!(base, plan_digest(&[("c", &later)]));
        assert_ne!(base, plan_digest(&[("d", &plan)]));
        assert_ne!(base, plan_digest(&[("c", &plan[..3])]));
    }

    #[test]
    fn start_at_reads_utc_times_and_offsets_and_refuses_the_past() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            parse_start_at("+30", now),
            Ok(now + Duration::from_secs(30))
        );
        assert_eq!(
            parse_start_at("2027-01-15T08:00:00Z", now).map(unix_ns),
            Ok(1_800_000_000 * 1_000_000_000)
        );
        assert_eq!(
            parse_start_at("+0.5", now).map(unix_ns),
            Ok(1_800_000_000_500_000_000)
        );
        for bad in ["", "soon", "+", "+-3", "+inf", "2027-01-15", "30"] {
            assert!(
                matches!(parse_start_at(bad, now), Err(ShardError::StartAtSyntax(_))),
                "{bad}"
            );
        }
        assert!(parse_start_at("2027-01-15T07:59:59.5Z", now).is_ok());
        assert!(matches!(
            parse_start_at("2027-01-15T07:59:58Z", now),
            Err(ShardError::StartAtPast { late_ms: 2000, .. })
        ));
    }
}
