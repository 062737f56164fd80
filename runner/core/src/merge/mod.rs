//! Merging the shard bundles of one sharded plan into one bundle
//! (`tokencert merge`), and re-deriving a merged bundle from its shards
//! (`tokencert verify`).
//!
//! A shard (`tokencert run --shard I/N`) planned the whole seeded workload
//! and sent the requests whose plan index k satisfies k ≡ I (mod N). The
//! merge verifies every shard, checks that they are the shards of one
//! plan, copies each into the merged bundle (`shards/<I>/`), joins their
//! evidence of each performance case in plan order on one time axis
//! ([`join_case`]), and judges the union with the ordinary judge:
//! percentiles from every sample, never a merge of histograms. Latencies
//! were timed on each shard's own monotonic clock and are kept as
//! recorded; only `scheduled_ns` and `sent_ns`, which place requests on
//! the run's time axis, are moved (see [`Alignment`]).

mod join;
mod shards;
mod verify;
mod write;

pub use join::{JoinError, Joined, ShardEvidence, join_case};
pub use shards::{ShardBundle, ShardSet, check_shards, shard_paths};
pub use verify::verify_merged;
pub use write::{MergeRequest, Merged, merge};

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::bundle::BundleError;

/// The directory of a merged bundle holding a copy of each shard bundle,
/// as `shards/<index>/`.
pub const SHARDS_DIR: &str = "shards";

/// What a merged bundle's `run.json` says of its shards (`merge`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merge {
    /// How many shards the plan was split into.
    pub count: u64,
    /// The plan digest every shard recorded.
    pub plan_digest: String,
    /// The shards merged, by index; each is kept in `shards/<index>/`.
    pub merged_from: Vec<MergedShard>,
    /// Indexes of the shards that were not merged (`--partial`); empty for
    /// a complete merge. Their requests are absent from the evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<u64>,
    /// The common `--start-at` instant (UNIX ns) every shard was given:
    /// the zero of each shard's first performance case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at_unix_ns: Option<u64>,
    /// How each performance case's times were put on one axis, by case id.
    pub alignment: BTreeMap<String, Alignment>,
}

/// One merged shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedShard {
    /// Its index.
    pub index: u64,
    /// `sha256:` of its `manifest.json` (the bundle's identity, as the
    /// ledger stores it).
    pub manifest_digest: String,
    /// Its run id.
    pub run_id: String,
    /// Each performance case's zero on its wall clock (UNIX ns), by case.
    pub anchors_unix_ns: BTreeMap<String, u64>,
    /// What was added to its `scheduled_ns` and `sent_ns` (ns), by case.
    pub offsets_ns: BTreeMap<String, u64>,
}

/// How one case's times were put on one axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alignment {
    /// `start_at`: the case started at the common `--start-at` instant in
    /// every shard, so its times are kept as recorded; `anchors`: each
    /// shard's times are moved by its anchor less the earliest one, onto
    /// the earliest shard's axis.
    pub by: AlignedBy,
    /// The latest shard's anchor of the case less the earliest (ns).
    /// Aligned by `start_at` it is 0 when every shard took the common
    /// instant as its zero (as `run --start-at` does): what remains
    /// uncertain is the hosts' clock offsets, which no shard can observe;
    /// an offset of d moves aggregate rates over a window W by about d/W.
    /// Aligned by anchors, it is how far apart the shards' schedules
    /// started: the union is the load as it was offered, staggered.
    /// Latencies are not affected: each was timed on one shard's clock.
    pub anchor_spread_ns: u64,
}

/// How a case's times were aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlignedBy {
    /// A common `--start-at` instant: times kept as recorded.
    StartAt,
    /// Wall-clock anchors: times moved by each anchor's distance from the
    /// earliest.
    Anchors,
}

/// Why shards cannot be merged; every message names the shard.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No shard was given.
    #[error("no shard bundle was given")]
    NoShards,
    /// A shard does not verify (tampered, another suite, unsigned or
    /// signed by another key when a key is given, ...).
    #[error("shard {path} does not verify: {source}")]
    Shard {
        /// The shard's directory.
        path: String,
        /// Why.
        source: BundleError,
    },
    /// A bundle that is not a shard (an ordinary or a merged run).
    #[error(
        "{path} is not a shard bundle: its run.json has no shard record (made without --shard{merged})"
    )]
    NotAShard {
        /// The bundle's directory.
        path: String,
        /// ", or it is itself a merged bundle" when it is one.
        merged: &'static str,
    },
    /// A shard of another plan, another split, or another run setting.
    #[error("shard {path} (index {index}) does not belong with shard {first}: {what}")]
    Mismatch {
        /// The shard's directory.
        path: String,
        /// Its index.
        index: u64,
        /// The first shard's directory.
        first: String,
        /// What differs.
        what: String,
    },
    /// Two bundles are the same shard index.
    #[error("shard index {index} is given twice: {first} and {second}")]
    Duplicate {
        /// The index.
        index: u64,
        /// One bundle.
        first: String,
        /// The other.
        second: String,
    },
    /// Shards are missing and `--partial` was not given.
    #[error(
        "{} of {count} shards are missing: index(es) {}; give every shard, or --partial to merge what is here (the merged bundle then lists the missing ones)",
        missing.len(),
        list(missing)
    )]
    Missing {
        /// How many shards the plan has.
        count: u64,
        /// The missing indexes.
        missing: Vec<u64>,
    },
    /// A shard's evidence cannot be joined.
    #[error(transparent)]
    Join(#[from] JoinError),
    /// A case's merged evidence is larger than the judge reads.
    #[error(
        "the merged evidence of {case} would be {bytes} bytes ({requests} requests), over the {} bytes one case's evidence may hold (the judge reads it whole): split the load over several runs or cases",
        crate::evidence::MAX_EVIDENCE_BYTES
    )]
    TooLarge {
        /// The case.
        case: String,
        /// Its requests.
        requests: u64,
        /// Its merged evidence's size.
        bytes: u64,
    },
    /// The output directory exists and is not empty.
    #[error("{0} already exists and is not empty: the merged bundle needs a new directory")]
    OutExists(PathBuf),
    /// Writing or judging the merged bundle failed.
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

fn list(indexes: &[u64]) -> String {
    indexes
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
