//! Verifying a merged bundle against the shards it keeps.

use std::path::Path;

use super::join::Hashing;
use super::write::{merged_run, shard_dir, sources};
use super::{SHARDS_DIR, check_shards};
use crate::bundle::{BundleError, EVIDENCE_DIR, Manifest, RunInfo};
use crate::suite::Suite;

/// Checks that a merged bundle follows from the shard bundles it keeps
/// (`shards/<index>/`): each shard verifies on its own and is the one
/// `run.json` lists (by manifest digest), they are the shards of one plan,
/// `run.json` is what the merge derives from them (plan, target, times,
/// alignment, missing shards), and each case's evidence file is, byte for
/// byte, the join of the shards' evidence. With the manifest (already
/// checked) and the re-judged results, that makes the merged verdicts a
/// function of the shards' evidence. A bundle without a merge record
/// passes untouched.
///
/// # Errors
///
/// [`BundleError::MergeDiffers`] saying what does not follow.
pub fn verify_merged(
    bundle: &Path,
    suite: &Suite,
    run: &RunInfo,
    manifest: &Manifest,
) -> Result<(), BundleError> {
    let Some(merge) = &run.merge else {
        return Ok(());
    };
    let differs = |what: String| BundleError::MergeDiffers(what);
    let listed: Vec<u64> = merge.merged_from.iter().map(|m| m.index).collect();
    let shards_prefix = format!("{SHARDS_DIR}/");
    for name in manifest.files.keys() {
        let Some(rest) = name.strip_prefix(&shards_prefix) else {
            continue;
        };
        let index = rest.split('/').next().unwrap_or_default();
        if !listed.iter().any(|i| i.to_string() == index) {
            return Err(differs(format!(
                "{name} belongs to no shard that run.json lists"
            )));
        }
    }
    let paths: Vec<_> = listed.iter().map(|i| shard_dir(bundle, *i)).collect();
    let set = check_shards(&paths, suite, None, true).map_err(|e| differs(e.to_string()))?;
    let expected = merged_run(
        &set,
        &run.run_id,
        &run.tool,
        run.finished_at.as_deref().unwrap_or_default(),
    );
    if &expected != run {
        return Err(differs(describe(&expected, run)));
    }
    let evidence_prefix = format!("{EVIDENCE_DIR}/");
    for name in manifest.files.keys() {
        if let Some(file) = name.strip_prefix(&evidence_prefix)
            && !run.plan.cases.iter().any(|c| format!("{c}.jsonl") == file)
        {
            return Err(differs(format!(
                "{name} is the evidence of no planned case"
            )));
        }
    }
    for case in &run.plan.cases {
        let mut hash = Hashing::new(std::io::sink());
        let joined = super::join_case(&sources(bundle, &set, run, case), set.count, &mut hash)
            .map_err(|e| differs(e.to_string()))?;
        let (_, digest) = hash.finish();
        let name = format!("{EVIDENCE_DIR}/{case}.jsonl");
        match (manifest.files.get(&name), joined.requests) {
            (None, 0) => {}
            (Some(recorded), _) if *recorded == digest && joined.requests > 0 => {}
            (None, n) => {
                return Err(differs(format!(
                    "{name} is missing, but the shards hold {n} request(s) of {case}"
                )));
            }
            (Some(_), _) => {
                return Err(differs(format!(
                    "{name} is not the join of the shards' evidence of {case} ({} requests, {} bytes re-derived)",
                    joined.requests, joined.bytes
                )));
            }
        }
    }
    Ok(())
}

/// Names the first field of `run.json` that differs from the merge of its
/// shards.
fn describe(expected: &RunInfo, recorded: &RunInfo) -> String {
    let as_json = |r: &RunInfo| serde_json::to_value(r).unwrap_or_default();
    let (e, r) = (as_json(expected), as_json(recorded));
    let field = e
        .as_object()
        .into_iter()
        .flatten()
        .find(|(k, v)| r.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.clone())
        .or_else(|| {
            r.as_object()
                .into_iter()
                .flatten()
                .find(|(k, _)| e.get(k.as_str()).is_none())
                .map(|(k, _)| k.clone())
        })
        .unwrap_or_else(|| "its byte form".into());
    format!("run.json's {field} is not what merging its shards gives")
}
