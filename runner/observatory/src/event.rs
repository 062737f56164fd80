//! What the observatory reports as it goes; the CLI prints these.

use tokencert_core::judge::{Results, Verdict};
use tokencert_core::suite::Level;

use crate::budget::Cost;

/// One thing the observatory did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A probe started.
    Started {
        /// The target's name.
        target: String,
        /// The probe's name.
        probe: String,
        /// What it was estimated to cost.
        estimate: Cost,
    },
    /// A probe's bundle was sealed, signed (with a key) and added to the ledger.
    Finished(Finished),
    /// A due probe was not run because the target's budget has no room for it.
    Skipped {
        /// The target's name.
        target: String,
        /// The probe's name.
        probe: String,
        /// Which budget, and by how much.
        reason: String,
    },
    /// A due probe produced no bundle in the ledger.
    Failed {
        /// The target's name.
        target: String,
        /// The probe's name.
        probe: String,
        /// Why.
        error: String,
    },
    /// Retention removed the evidence of old, unpinned bundles.
    Pruned {
        /// How many bundles lost their evidence.
        bundles: usize,
        /// Bytes removed.
        bytes: u64,
    },
    /// A stop was asked for: no probe starts any more; those running stop
    /// sending, and their bundles are sealed and added.
    Stopping,
}

/// A probe that ended in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The target's name.
    pub target: String,
    /// The probe's name.
    pub probe: String,
    /// The bundle's id in the ledger.
    pub bundle: String,
    /// The run id (the bundle directory's name).
    pub run_id: String,
    /// The key id it was signed with; `None`: unsigned.
    pub signer: Option<String>,
    /// Cases by verdict, over all levels.
    pub verdicts: Verdicts,
    /// Exchanges that got a response, of those sent (availability).
    pub answered: u64,
    /// Exchanges sent.
    pub exchanges: u64,
    /// Whether a stop cut the run short (the bundle holds what ran).
    pub interrupted: bool,
    /// For a fingerprint probe, its identification against the target's
    /// baseline, as the ledger indexed it.
    pub identity: Option<Box<tokencert_ledger::identity::IdentityRow>>,
}

/// Cases by verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdicts {
    /// Passed.
    pub pass: u64,
    /// Failed.
    pub fail: u64,
    /// Could not be judged (no response, unreadable evidence).
    pub error: u64,
    /// Not claimed by the target.
    pub not_claimed: u64,
    /// Every MUST case passed.
    pub conforms: bool,
}

impl Verdicts {
    /// The cases of `results` by verdict, over all levels.
    pub fn of(results: &Results) -> Self {
        let count = |v| {
            [Level::Must, Level::Should, Level::May]
                .iter()
                .map(|l| results.count(*l, v))
                .sum()
        };
        Self {
            pass: count(Verdict::Pass),
            fail: count(Verdict::Fail),
            error: count(Verdict::Error),
            not_claimed: count(Verdict::NotClaimed),
            conforms: results.conforms(),
        }
    }
}
