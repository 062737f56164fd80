//! Reading the shard bundles and checking that they are the shards of one
//! plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use p256::ecdsa::VerifyingKey;

use super::{AlignedBy, Alignment, MergeError, MergedShard};
use crate::bundle::{self, MANIFEST_FILE, RUN_FILE, RunInfo, Shard, Signer};
use crate::digest::sha256;
use crate::suite::Suite;

/// One verified shard bundle.
#[derive(Debug, Clone)]
pub struct ShardBundle {
    /// Its directory.
    pub path: PathBuf,
    /// Its `run.json`.
    pub run: RunInfo,
    /// Its shard record.
    pub shard: Shard,
    /// `sha256:` of its `manifest.json`.
    pub manifest_digest: String,
    /// Its signature's standing.
    pub signer: Signer,
    /// The files its manifest lists, with their digests.
    pub files: BTreeMap<String, String>,
}

/// The shards of one plan, checked.
#[derive(Debug, Clone)]
pub struct ShardSet {
    /// How many shards the plan has.
    pub count: u64,
    /// Their plan digest.
    pub plan_digest: String,
    /// The shards given, by index.
    pub shards: Vec<ShardBundle>,
    /// The indexes not given.
    pub missing: Vec<u64>,
}

/// The bundles an argument names: the directory itself when it holds a
/// `run.json`, else each of its subdirectories that holds one (sorted by
/// name): `tokencert merge /bundles` takes every bundle a Job wrote there.
///
/// # Errors
///
/// [`MergeError::Shard`] when the directory cannot be read.
pub fn shard_paths(arg: &Path) -> Result<Vec<PathBuf>, MergeError> {
    if arg.join(RUN_FILE).exists() {
        return Ok(vec![arg.to_path_buf()]);
    }
    let unreadable = |source| MergeError::Shard {
        path: arg.display().to_string(),
        source: bundle::BundleError::Io {
            path: arg.display().to_string(),
            source,
        },
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(arg).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if path.is_dir() && path.join(RUN_FILE).exists() {
            found.push(path);
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(MergeError::Shard {
            path: arg.display().to_string(),
            source: bundle::BundleError::Missing(format!(
                "{RUN_FILE} (it is neither a bundle nor a directory of bundles)"
            )),
        });
    }
    Ok(found)
}

/// Verifies every shard (digests, suite, re-judged results, and the
/// signature: with `key` when given, which every shard must then be signed
/// with) and checks that they are the shards of one plan: each a shard,
/// the same split and plan digest, run plan, target and limits, none
/// interrupted, each index once, and none missing unless `partial`.
///
/// # Errors
///
/// [`MergeError`] naming the first shard that fails.
pub fn check_shards(
    paths: &[PathBuf],
    suite: &Suite,
    key: Option<&VerifyingKey>,
    partial: bool,
) -> Result<ShardSet, MergeError> {
    if paths.is_empty() {
        return Err(MergeError::NoShards);
    }
    let mut shards = read_all(paths, suite, key)?;
    shards.sort_by_key(|s| s.shard.index);
    for pair in shards.windows(2) {
        if pair[0].shard.index == pair[1].shard.index {
            return Err(MergeError::Duplicate {
                index: pair[0].shard.index,
                first: pair[0].path.display().to_string(),
                second: pair[1].path.display().to_string(),
            });
        }
    }
    let first = &shards[0];
    for other in &shards {
        if let Some(what) = mismatch(first, other) {
            return Err(MergeError::Mismatch {
                path: other.path.display().to_string(),
                index: other.shard.index,
                first: first.path.display().to_string(),
                what,
            });
        }
    }
    for shard in &shards {
        for case in &shard.run.plan.cases {
            let evidence = format!("{}/{case}.jsonl", bundle::EVIDENCE_DIR);
            if shard.files.contains_key(&evidence)
                && !shard.shard.anchors_unix_ns.contains_key(case)
            {
                return Err(MergeError::Mismatch {
                    path: shard.path.display().to_string(),
                    index: shard.shard.index,
                    first: first.path.display().to_string(),
                    what: format!(
                        "it holds evidence of {case} but no wall-clock anchor for it, so its times cannot be placed"
                    ),
                });
            }
        }
    }
    let count = first.shard.count;
    let missing: Vec<u64> = (0..count)
        .filter(|i| !shards.iter().any(|s| s.shard.index == *i))
        .collect();
    if !missing.is_empty() && !partial {
        return Err(MergeError::Missing { count, missing });
    }
    Ok(ShardSet {
        count,
        plan_digest: first.shard.plan_digest.clone(),
        shards,
        missing,
    })
}

/// Reads and verifies every shard, on as many threads as there are cores
/// (re-judging a shard is the costly part); the first failure in argument
/// order is returned.
fn read_all(
    paths: &[PathBuf],
    suite: &Suite,
    key: Option<&VerifyingKey>,
) -> Result<Vec<ShardBundle>, MergeError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(paths.len());
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<ShardBundle, MergeError>>>> =
        paths.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else {
                        break;
                    };
                    let read = read_shard(path, suite, key);
                    *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(read);
                }
            });
        }
    });
    slots
        .into_iter()
        .zip(paths)
        .map(|(slot, path)| {
            slot.into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .unwrap_or_else(|| {
                    Err(MergeError::Shard {
                        path: path.display().to_string(),
                        source: bundle::BundleError::Missing(
                            "its verification did not finish".into(),
                        ),
                    })
                })
        })
        .collect()
}

/// Reads one shard bundle and verifies it.
fn read_shard(
    path: &Path,
    suite: &Suite,
    key: Option<&VerifyingKey>,
) -> Result<ShardBundle, MergeError> {
    let shown = path.display().to_string();
    let failed = |source| MergeError::Shard {
        path: shown.clone(),
        source,
    };
    // Read before verifying: a merged bundle is refused, not verified
    // (its own shards would be verified in turn).
    let run = bundle::read_run(path).map_err(failed)?;
    let Some(shard) = run.shard.clone().filter(|_| run.merge.is_none()) else {
        return Err(MergeError::NotAShard {
            path: shown,
            merged: if run.merge.is_some() {
                ", or it is itself a merged bundle"
            } else {
                ""
            },
        });
    };
    let verified = bundle::verify(path, suite, key).map_err(failed)?;
    let manifest = path.join(MANIFEST_FILE);
    let bytes = std::fs::read(&manifest).map_err(|source| {
        failed(bundle::BundleError::Io {
            path: manifest.display().to_string(),
            source,
        })
    })?;
    let listed: bundle::Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        failed(bundle::BundleError::Malformed {
            path: manifest.display().to_string(),
            what: "manifest",
            message: e.to_string(),
        })
    })?;
    Ok(ShardBundle {
        path: path.to_path_buf(),
        run: verified.run,
        shard,
        manifest_digest: sha256(&bytes),
        signer: verified.signer,
        files: listed.files,
    })
}

/// What makes `other` a shard of another plan or run than `first`.
fn mismatch(first: &ShardBundle, other: &ShardBundle) -> Option<String> {
    let (a, b) = (&first.shard, &other.shard);
    if b.index >= b.count {
        return Some(format!(
            "its index {} is not below its count {}",
            b.index, b.count
        ));
    }
    if b.count != a.count {
        return Some(format!("it is one of {} shards, not {}", b.count, a.count));
    }
    if b.plan_digest != a.plan_digest {
        return Some(format!(
            "it is a shard of plan {}, not {}",
            b.plan_digest, a.plan_digest
        ));
    }
    let (ra, rb) = (&first.run, &other.run);
    if rb.suite_digest != ra.suite_digest {
        return Some(format!(
            "it was judged with suite {}, not {}",
            rb.suite_digest, ra.suite_digest
        ));
    }
    if rb.interrupted.is_some() {
        return Some(
            "it was interrupted (Ctrl-C): re-run it, or leave it out and merge with --partial"
                .into(),
        );
    }
    if rb.plan != ra.plan {
        return Some(
            "its run plan (cases, claims, accounting, limits or service classes) differs".into(),
        );
    }
    let (ta, tb) = (&ra.target, &rb.target);
    if tb.model != ta.model || tb.reference != ta.reference {
        return Some(format!(
            "it tested model {} ({:?}), not {} ({:?})",
            tb.model, tb.reference, ta.model, ta.reference
        ));
    }
    // Each run of the embedded service starts its own on a free port.
    if tb.base_url != ta.base_url && ta.reference.is_none() {
        return Some(format!("it tested {}, not {}", tb.base_url, ta.base_url));
    }
    if (rb.timeout_ms, rb.body_limit_bytes) != (ra.timeout_ms, ra.body_limit_bytes) {
        return Some(format!(
            "its deadline and body limit are {} ms and {} bytes, not {} ms and {} bytes",
            rb.timeout_ms, rb.body_limit_bytes, ra.timeout_ms, ra.body_limit_bytes
        ));
    }
    None
}

impl ShardSet {
    /// The shards as `run.json` lists them, and how each case of `cases`
    /// (plan order) is put on one axis: by the common `--start-at` instant
    /// for the first case when every shard was given the same one (it is
    /// that case's zero in every shard), else by the shards' anchors of
    /// the case (a shard without an anchor for a case sent none of it).
    pub fn alignment(&self, cases: &[String]) -> (Vec<MergedShard>, BTreeMap<String, Alignment>) {
        let start_at = self.start_at();
        let first_case = cases.iter().find(|c| {
            self.shards
                .iter()
                .any(|s| s.shard.anchors_unix_ns.contains_key(*c))
        });
        let mut merged: Vec<MergedShard> = self
            .shards
            .iter()
            .map(|s| MergedShard {
                index: s.shard.index,
                manifest_digest: s.manifest_digest.clone(),
                run_id: s.run.run_id.clone(),
                anchors_unix_ns: s.shard.anchors_unix_ns.clone(),
                offsets_ns: BTreeMap::new(),
            })
            .collect();
        let mut alignment = BTreeMap::new();
        for case in cases {
            let anchors: Vec<(usize, u64)> = self
                .shards
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.shard.anchors_unix_ns.get(case).map(|a| (i, *a)))
                .collect();
            let Some(earliest) = anchors.iter().map(|(_, a)| *a).min() else {
                continue;
            };
            let latest = anchors.iter().map(|(_, a)| *a).max().unwrap_or(earliest);
            let by = if start_at.is_some() && Some(case) == first_case {
                AlignedBy::StartAt
            } else {
                AlignedBy::Anchors
            };
            for (i, anchor) in anchors {
                let offset = match by {
                    AlignedBy::StartAt => 0,
                    AlignedBy::Anchors => anchor - earliest,
                };
                merged[i].offsets_ns.insert(case.clone(), offset);
            }
            alignment.insert(
                case.clone(),
                Alignment {
                    by,
                    anchor_spread_ns: latest - earliest,
                },
            );
        }
        (merged, alignment)
    }

    /// The `--start-at` instant every shard was given, if they share one.
    pub fn start_at(&self) -> Option<u64> {
        let start_at = self.shards.first()?.shard.start_at_unix_ns;
        start_at.filter(|_| {
            self.shards
                .iter()
                .all(|s| s.shard.start_at_unix_ns == start_at)
        })
    }
}
