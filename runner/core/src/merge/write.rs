//! Writing the merged bundle.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use p256::ecdsa::VerifyingKey;

use super::join::Hashing;
use super::{
    Joined, Merge, MergeError, SHARDS_DIR, ShardBundle, ShardEvidence, ShardSet, check_shards,
};
use crate::bundle::{self, BundleError, MANIFEST_FILE, RunInfo};
use crate::evidence::MAX_EVIDENCE_BYTES;
use crate::judge::{Plan, Results};
use crate::sign;
use crate::suite::Suite;
use crate::tokens::TokenizerSpec;

/// What to merge, and where.
#[derive(Clone, Copy)]
pub struct MergeRequest<'a> {
    /// The shard bundles' directories.
    pub shards: &'a [PathBuf],
    /// The merged bundle's directory: created, or empty.
    pub out: &'a Path,
    /// The suite every shard was judged with.
    pub suite: &'a Suite,
    /// The public key every shard must be signed with, if any.
    pub key: Option<&'a VerifyingKey>,
    /// Merge even when shards are missing (the bundle lists them).
    pub partial: bool,
    /// The tool making the merge, e.g. `tokencert 0.1.0`.
    pub tool: &'a str,
    /// The wall-clock time now, RFC 3339 (the merge's `finished_at`
    /// is the last shard's).
    pub now: &'a str,
}

/// A merged bundle, sealed (not signed: see [`bundle::sign_bundle`]).
#[derive(Debug, Clone)]
pub struct Merged {
    /// Its `run.json`.
    pub run: RunInfo,
    /// Its results.
    pub results: Results,
    /// The shards merged.
    pub set: ShardSet,
    /// Each performance case's joined evidence.
    pub joined: Vec<(String, Joined)>,
}

/// Verifies and checks the shards ([`check_shards`]), copies each into
/// `out/shards/<index>/`, joins their evidence of every case in plan order
/// ([`super::join_case`], from the copies), and seals the bundle: its
/// `run.json` lists the shards, and the union is judged by the ordinary
/// judge.
///
/// # Errors
///
/// [`MergeError`] naming the shard that cannot be merged, or the file that
/// cannot be written.
pub fn merge(request: &MergeRequest<'_>) -> Result<Merged, MergeError> {
    let out = request.out;
    let set = check_shards(request.shards, request.suite, request.key, request.partial)?;
    if out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
        return Err(MergeError::OutExists(out.to_path_buf()));
    }
    bundle::create_private_dir(out).map_err(io(out))?;
    // A merge that fails leaves no half-written bundle behind (the
    // directory was new or empty).
    write(request, set).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(out);
    })
}

/// Writes the merged bundle of the checked shards into `request.out`.
fn write(request: &MergeRequest<'_>, set: ShardSet) -> Result<Merged, MergeError> {
    let out = request.out;
    for shard in &set.shards {
        copy_bundle(shard, &shard_dir(out, shard.shard.index))?;
    }
    let run_id = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let run = merged_run(&set, &run_id, request.tool, request.now);
    let evidence_dir = out.join(bundle::EVIDENCE_DIR);
    bundle::create_private_dir(&evidence_dir).map_err(io(&evidence_dir))?;
    let mut joined = Vec::new();
    // The shard copies' digests come from their verified manifests, the
    // joined evidence's from the bytes as they were written.
    let mut known = known_digests(&set);
    for case in &run.plan.cases {
        let path = bundle::evidence_path(out, case);
        let file = std::io::BufWriter::with_capacity(1 << 20, create(&path)?);
        let mut file = Hashing::new(file);
        let written = super::join_case(&sources(out, &set, &run, case), set.count, &mut file)?;
        let (mut file, digest) = file.finish();
        file.flush().map_err(io(&path))?;
        drop(file);
        if written.bytes > MAX_EVIDENCE_BYTES {
            return Err(MergeError::TooLarge {
                case: case.clone(),
                requests: written.requests,
                bytes: written.bytes,
            });
        }
        if written.requests == 0 {
            std::fs::remove_file(&path).map_err(io(&path))?;
        } else {
            known.insert(format!("{}/{case}.jsonl", bundle::EVIDENCE_DIR), digest);
        }
        joined.push((case.clone(), written));
    }
    // As bundle::seal, with those digests.
    bundle::write_canonical(&out.join(bundle::RUN_FILE), &run)?;
    let results = bundle::rejudge(out, request.suite)?;
    bundle::write_canonical(&out.join(bundle::RESULTS_FILE), &results)?;
    bundle::write_manifest_with(out, &known)?;
    Ok(Merged {
        run,
        results,
        set,
        joined,
    })
}

/// Where shard `index` is kept inside the merged bundle `bundle`.
pub(super) fn shard_dir(bundle: &Path, index: u64) -> PathBuf {
    bundle.join(SHARDS_DIR).join(index.to_string())
}

/// The shard copies' evidence of `case` inside the merged bundle `bundle`,
/// with each shard's offset from `run`'s merge record.
pub(super) fn sources(
    bundle: &Path,
    set: &ShardSet,
    run: &RunInfo,
    case: &str,
) -> Vec<ShardEvidence> {
    let offsets = run.merge.as_ref().map(|m| &m.merged_from);
    set.shards
        .iter()
        .map(|s| ShardEvidence {
            index: s.shard.index,
            path: bundle::evidence_path(&shard_dir(bundle, s.shard.index), case),
            offset_ns: offsets
                .and_then(|m| m.iter().find(|m| m.index == s.shard.index))
                .and_then(|m| m.offsets_ns.get(case))
                .copied()
                .unwrap_or(0),
        })
        .collect()
}

/// The merged bundle's `run.json`: the first shard's, with the plan's
/// bundle-relative paths pointing into that shard's copy, the earliest
/// start and latest end, and the merge record.
pub(super) fn merged_run(set: &ShardSet, run_id: &str, tool: &str, now: &str) -> RunInfo {
    let first = &set.shards[0];
    let (merged_from, alignment) = set.alignment(&first.run.plan.cases);
    let started_at = set
        .shards
        .iter()
        .map(|s| s.run.started_at.clone())
        .min()
        .unwrap_or_default();
    let finished_at = set
        .shards
        .iter()
        .filter_map(|s| s.run.finished_at.clone())
        .max()
        .or_else(|| Some(now.to_string()));
    RunInfo {
        run_id: run_id.to_string(),
        tool: tool.to_string(),
        plan: relocated_plan(
            &first.run.plan,
            &format!("{SHARDS_DIR}/{}", first.shard.index),
        ),
        started_at,
        finished_at,
        interrupted: None,
        observation: None,
        shard: None,
        merge: Some(Merge {
            count: set.count,
            plan_digest: set.plan_digest.clone(),
            merged_from,
            missing: set.missing.clone(),
            start_at_unix_ns: set.start_at(),
            alignment,
        }),
        ..first.run.clone()
    }
}

/// `plan` with every bundle-relative path (a tokenizer file, reference
/// fingerprints) made relative to the bundle holding the shard at `dir`.
fn relocated_plan(plan: &Plan, dir: &str) -> Plan {
    let inside = |path: &Path| -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            Path::new(dir).join(path)
        }
    };
    let mut plan = plan.clone();
    if let Some(spec) = plan.accounting.tokenizer.as_mut() {
        match spec {
            TokenizerSpec::HuggingFace(path) | TokenizerSpec::Gguf(path) => *path = inside(path),
            TokenizerSpec::O200kBase | TokenizerSpec::Cl100kBase => {}
        }
    }
    if let Some(reference) = plan.identity.as_mut().and_then(|i| i.reference.as_mut()) {
        for path in reference.iter_mut() {
            *path = inside(path);
        }
    }
    plan
}

/// The digests of the shard copies, as their verified manifests give them
/// (`shards/<index>/<file>`, and each manifest's own).
fn known_digests(set: &ShardSet) -> BTreeMap<String, String> {
    let mut known = BTreeMap::new();
    for shard in &set.shards {
        let dir = format!("{SHARDS_DIR}/{}", shard.shard.index);
        for (name, digest) in &shard.files {
            known.insert(format!("{dir}/{name}"), digest.clone());
        }
        known.insert(
            format!("{dir}/{MANIFEST_FILE}"),
            shard.manifest_digest.clone(),
        );
    }
    known
}

/// Copies a verified shard bundle: every file its manifest lists, the
/// manifest and the envelope, owner-only.
fn copy_bundle(shard: &ShardBundle, to: &Path) -> Result<(), MergeError> {
    let from = &shard.path;
    let mut names: Vec<String> = shard.files.keys().cloned().collect();
    names.push(MANIFEST_FILE.into());
    if from.join(sign::ENVELOPE_FILE).exists() {
        names.push(sign::ENVELOPE_FILE.into());
    }
    for name in names {
        let source = from.join(&name);
        let target = to.join(&name);
        if let Some(parent) = target.parent() {
            bundle::create_private_dir(parent).map_err(io(parent))?;
        }
        let mut reader = std::fs::File::open(&source).map_err(io(&source))?;
        let mut writer = create(&target)?;
        std::io::copy(&mut reader, &mut writer).map_err(io(&target))?;
    }
    Ok(())
}

/// Creates a new file, owner read/write only.
fn create(path: &Path) -> Result<std::fs::File, MergeError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(io(path))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MergeError + '_ {
    move |source| {
        MergeError::Bundle(BundleError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}
