//! The report bundle: its layout, `run.json`, the manifest of digests, and
//! offline verification (digests, suite identity, byte-identical re-judging).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::canonical::{self, CanonicalError};
use crate::digest::sha256;
use crate::evidence::read_exchanges;
use crate::judge::{self, Plan, Results};
use crate::sign::{self, SignError};
use crate::suite::Suite;
use p256::ecdsa::{SigningKey, VerifyingKey};

/// What the run set out to do and where; written first, so a killed run keeps it.
pub const RUN_FILE: &str = "run.json";
/// The verdicts, canonical JSON.
pub const RESULTS_FILE: &str = "results.json";
/// SHA-256 of every other file.
pub const MANIFEST_FILE: &str = "manifest.json";
/// One JSONL file per case that sent a request.
pub const EVIDENCE_DIR: &str = "evidence";

/// The path of a case's evidence file inside a bundle.
pub fn evidence_path(bundle: &Path, case: &str) -> PathBuf {
    bundle.join(EVIDENCE_DIR).join(format!("{case}.jsonl"))
}

/// `run.json`: the run's identity, target and plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Format tag, `tokencert-run/1`.
    pub format: String,
    /// The bundle's directory name.
    pub run_id: String,
    /// The tool that made the bundle, e.g. `tokencert 0.1.0`.
    pub tool: String,
    /// Digest of the suite used.
    pub suite_digest: String,
    /// The cases and the capabilities claimed.
    pub plan: Plan,
    /// What was tested.
    pub target: TargetInfo,
    /// Per-request deadline in milliseconds.
    pub timeout_ms: u64,
    /// Largest response body read, in bytes.
    pub body_limit_bytes: u64,
    /// Wall-clock start, RFC 3339 UTC.
    pub started_at: String,
    /// Wall-clock end, RFC 3339 UTC; absent while running or if killed.
    pub finished_at: Option<String>,
    /// Set when the run was stopped early (Ctrl-C): the plan then lists
    /// only the cases that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Interrupted>,
    /// Set when an observatory ran this as one of its scheduled probes;
    /// absent for an ordinary run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<Observation>,
    /// Set when the run is one shard of a sharded plan (`--shard I/N`);
    /// absent for an ordinary run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Set when the bundle merges the shard bundles of one plan
    /// (`tokencert merge`), which it keeps under `shards/`; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<crate::merge::Merge>,
}

/// One shard of a plan split over N processes (`tokencert run --shard I/N`):
/// every shard plans the whole workload and sends the requests whose plan
/// index k satisfies k ≡ index (mod count) (closed loops: the users
/// u ≡ index (mod count)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard's index, 0-based, below `count`.
    pub index: u64,
    /// How many shards the plan is split into.
    pub count: u64,
    /// `sha256:<hex>` of the canonical JSON of every performance case's
    /// whole planned request list: the same for every shard of one plan.
    pub plan_digest: String,
    /// Wall-clock time (UNIX ns) at the monotonic zero of the shard's first
    /// performance case, the instant from which its `scheduled_ns` and
    /// `sent_ns` count.
    pub anchor_unix_ns: u64,
    /// The common schedule zero given with `--start-at` (UNIX ns): the zero
    /// of the first performance case in every shard. `None`: each case's
    /// schedule started when it was reached.
    pub start_at_unix_ns: Option<u64>,
    /// Every performance case's own zero, as wall-clock time (UNIX ns), by
    /// case id: each case's load counts its `scheduled_ns` and `sent_ns`
    /// from its own start (the first one's is `anchor_unix_ns`).
    #[serde(default)]
    pub anchors_unix_ns: BTreeMap<String, u64>,
}

/// Who ran a scheduled probe, from where, and which probe it was
/// (`tokencert observe`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The observer's name (`observer` in `observatory.yaml`).
    pub observer: String,
    /// Where the observer runs, as it labels itself (e.g. `eu-west, home fibre`).
    pub location: String,
    /// The probe's name in `observatory.yaml`.
    pub probe: String,
}

/// A run stopped early: before all its cases started, or during a
/// performance case's load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interrupted {
    /// How many cases the run set out to run.
    pub planned: u64,
    /// The load that was stopped, if the stop came during one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<InterruptedLoad>,
}

/// A performance case's load stopped early: it sent no request after the
/// stop, and those in flight ran to their end or deadline. The case is
/// judged on the requests it sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterruptedLoad {
    /// The case.
    pub case: String,
    /// Requests in its plan.
    pub planned: u64,
    /// Requests it sent.
    pub sent: u64,
}

/// The format tag of `run.json`.
pub const RUN_FORMAT: &str = "tokencert-run/1";

/// The target as recorded (never its credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Base URL, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    /// Model name sent.
    pub model: String,
    /// For the embedded reference service: its seed and mutant.
    pub reference: Option<ReferenceInfo>,
}

/// Settings of the embedded reference service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceInfo {
    /// Output seed.
    pub seed: u64,
    /// Mutant name, if one was selected.
    pub mutant: Option<String>,
    /// The capacity model of its performance model, as a short text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<String>,
}

/// `manifest.json`: SHA-256 of every file in the bundle but itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format tag, `tokencert-manifest/1`.
    pub format: String,
    /// Bundle-relative path (`/`-separated) → `sha256:<hex>`.
    pub files: BTreeMap<String, String>,
}

/// Ceiling on a bundle's JSON files (run, results, manifest, envelope):
/// read whole, so a hostile bundle must not make them huge.
pub const MAX_JSON_BYTES: u64 = 64 * 1024 * 1024;
/// Ceiling on any file a manifest lists; digested in pieces.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024 * 1024;

/// The format tag of manifests.
pub const MANIFEST_FORMAT: &str = "tokencert-manifest/1";

/// Why a bundle could not be written or does not verify.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The tokenizer the plan declares cannot be loaded.
    #[error(transparent)]
    Tokenizer(#[from] crate::tokens::TokenizerError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file does not parse as what it should be.
    #[error("{path} is not a valid {what}: {message}")]
    Malformed {
        /// The file.
        path: String,
        /// What it should have been.
        what: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A value could not be written canonically.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// The manifest names a path that could leave the bundle.
    #[error("the manifest names {0:?}, which is not a plain path inside the bundle")]
    UnsafePath(String),
    /// The bundle holds something other than plain files and directories.
    #[error("{0} is not a plain file or directory (symlinks and devices are refused)")]
    NotAFile(String),
    /// A file listed in the manifest is absent.
    #[error("{0} is listed in the manifest but missing")]
    Missing(String),
    /// A file's digest differs from the manifest.
    #[error("{path} has been modified: the manifest says {expected}, the file is {actual}")]
    Tampered {
        /// The file.
        path: String,
        /// Digest in the manifest.
        expected: String,
        /// Digest of the file.
        actual: String,
    },
    /// A file is present but not in the manifest.
    #[error("{0} is in the bundle but not in the manifest")]
    Unlisted(String),
    /// The bundle was made with another suite.
    #[error("the bundle was judged with suite {bundle}, but the suite at {root} is {disk}")]
    DifferentSuite {
        /// Digest recorded in the bundle.
        bundle: String,
        /// Digest of the suite on disk.
        disk: String,
        /// Where the suite on disk is.
        root: String,
    },
    /// The plan names a case the suite lacks.
    #[error(transparent)]
    UnknownCase(#[from] judge::UnknownCase),
    /// Re-judging gives different results.
    #[error("results.json differs from the re-judged evidence: {0}")]
    VerdictsDiffer(String),
    /// Re-deriving the fingerprint gives a different one.
    #[error("fingerprint.json differs from the fingerprint of the evidence: {0}")]
    FingerprintDiffers(String),
    /// A merged bundle does not follow from the shard bundles it keeps.
    #[error("the merged bundle does not follow from its shards: {0}")]
    MergeDiffers(String),
    /// A fingerprint bundle, but the suite has no probe set.
    #[error(
        "the bundle holds a fingerprint, but the suite has no probe set (suites/fingerprint/probes.yaml)"
    )]
    NoProbeSet,
    /// A file is larger than any file tokencert writes into a bundle.
    #[error(
        "{path} is larger than {limit} bytes, more than any bundle file tokencert writes; refused unread"
    )]
    TooLarge {
        /// The file.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// A key was given but the bundle carries no signature.
    #[error(
        "the bundle is unsigned: it has no {} to check against the given key",
        sign::ENVELOPE_FILE
    )]
    Unsigned,
    /// The signature is not valid, or not for this bundle.
    #[error(transparent)]
    Signature(#[from] SignError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes a value as canonical JSON, owner read/write only (see
/// [`write_private`]).
pub fn write_canonical<T: Serialize>(path: &Path, value: &T) -> Result<(), BundleError> {
    let bytes = canonical::to_vec(value)?;
    write_private(path, &bytes).map_err(io(path))
}

/// Writes `bytes` to `path`, replacing its contents; a file created here
/// is readable and writable by its owner only (0o600 on unix): a bundle
/// may describe a private endpoint.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, bytes)
}

/// Creates the directory `path` if missing, its owner's alone (0o700 on
/// unix), after creating its missing parents as usual.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// The bytes of the bundle's file `name` (at most [`MAX_JSON_BYTES`]);
/// `None` when there is none. A link or a directory in its place is refused.
///
/// # Errors
///
/// When it cannot be read, is no plain file or is too large.
pub fn read_optional_file(dir: &Path, name: &str) -> Result<Option<Vec<u8>>, BundleError> {
    let path = dir.join(name);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io(&path)(source)),
    };
    if !meta.is_file() {
        return Err(BundleError::NotAFile(name.into()));
    }
    if meta.len() > MAX_JSON_BYTES {
        return Err(BundleError::TooLarge {
            path: name.into(),
            limit: MAX_JSON_BYTES,
        });
    }
    std::fs::read(&path).map(Some).map_err(io(&path))
}

fn read_json<T: for<'de> Deserialize<'de>>(
    path: &Path,
    what: &'static str,
) -> Result<T, BundleError> {
    let size = std::fs::metadata(path).map_err(io(path))?.len();
    if size > MAX_JSON_BYTES {
        return Err(BundleError::TooLarge {
            path: path.display().to_string(),
            limit: MAX_JSON_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| BundleError::Malformed {
        path: path.display().to_string(),
        what,
        message: e.to_string(),
    })
}

/// Reads `run.json`.
pub fn read_run(bundle: &Path) -> Result<RunInfo, BundleError> {
    let run: RunInfo = read_json(&bundle.join(RUN_FILE), "run.json")?;
    expect_format(RUN_FILE, &run.format, RUN_FORMAT)?;
    Ok(run)
}

/// Reads `results.json` as recorded (not re-judged; see [`verify`]).
pub fn read_results(bundle: &Path) -> Result<Results, BundleError> {
    let results: Results = read_json(&bundle.join(RESULTS_FILE), "results.json")?;
    expect_format(RESULTS_FILE, &results.format, judge::RESULTS_FORMAT)?;
    Ok(results)
}

/// A bundle file written by another version of the format is refused
/// rather than misread.
fn expect_format(file: &str, found: &str, supported: &'static str) -> Result<(), BundleError> {
    if found == supported {
        return Ok(());
    }
    Err(BundleError::Malformed {
        path: file.to_string(),
        what: supported,
        message: format!("its format is {found:?}; this tokencert reads {supported:?}"),
    })
}

/// Every plain file in the bundle except the manifest, as sorted
/// `/`-separated relative paths. Symlinks and other special files are refused.
fn bundle_files(bundle: &Path) -> Result<Vec<String>, BundleError> {
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel) = dirs.pop() {
        let dir = bundle.join(&rel);
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let path = rel.join(entry.file_name());
            let kind = entry.file_type().map_err(io(&path))?;
            let name = slash_path(&path);
            if kind.is_dir() {
                dirs.push(path);
            } else if !kind.is_file() {
                return Err(BundleError::NotAFile(name));
            } else if name != MANIFEST_FILE && name != sign::ENVELOPE_FILE {
                out.push(name);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// A manifest path may only name a file below the bundle directory.
fn safe_relative(name: &str) -> Result<PathBuf, BundleError> {
    let path = PathBuf::from(name);
    let plain = !name.is_empty()
        && !name.contains('\\')
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    if plain {
        Ok(path)
    } else {
        Err(BundleError::UnsafePath(name.to_string()))
    }
}

/// Digests every file and writes `manifest.json`.
pub fn write_manifest(bundle: &Path) -> Result<Manifest, BundleError> {
    write_manifest_with(bundle, &BTreeMap::new())
}

/// [`write_manifest`], taking the digest of each file `known` names as
/// given instead of reading the file again: for files copied from a
/// bundle whose manifest was just verified (a merge's shard copies), so
/// that the manifest records what was verified.
pub fn write_manifest_with(
    bundle: &Path,
    known: &BTreeMap<String, String>,
) -> Result<Manifest, BundleError> {
    let mut files = BTreeMap::new();
    for name in bundle_files(bundle)? {
        if let Some(digest) = known.get(&name) {
            files.insert(name, digest.clone());
            continue;
        }
        let path = bundle.join(&name);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        files.insert(name, sha256(&bytes));
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        files,
    };
    write_canonical(&bundle.join(MANIFEST_FILE), &manifest)?;
    Ok(manifest)
}

/// Re-judges a bundle's evidence with `suite`, from the plan in its `run.json`.
pub fn rejudge(bundle: &Path, suite: &Suite) -> Result<Results, BundleError> {
    let run = read_run(bundle)?;
    let context = judge::Context::new(run.plan, bundle)?;
    let results = judge::judge(suite, &context, |case| {
        let path = evidence_path(bundle, case);
        path.exists().then(|| read_exchanges(&path))
    })?;
    Ok(results)
}

/// Finishes a bundle: writes `run.json`, judges the evidence as it is on
/// disk, writes `results.json`, then the manifest over all of it.
pub fn seal(bundle: &Path, suite: &Suite, run: &RunInfo) -> Result<Results, BundleError> {
    write_canonical(&bundle.join(RUN_FILE), run)?;
    let results = rejudge(bundle, suite)?;
    write_canonical(&bundle.join(RESULTS_FILE), &results)?;
    write_manifest(bundle)?;
    Ok(results)
}

/// What `verify` could say about the bundle's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// No envelope.
    Unsigned,
    /// Signed, and consistent with the public key it names, but no trusted
    /// key was given, so who signed is not established.
    Unchecked {
        /// Key id in the envelope.
        keyid: String,
    },
    /// The signature verifies with the key the verifier gave.
    Verified {
        /// Key id of that key.
        keyid: String,
    },
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The run's record.
    pub run: RunInfo,
    /// The results, identical to the re-judged ones.
    pub results: Results,
    /// Number of files whose digest matched.
    pub files: usize,
    /// The signature's standing.
    pub signer: Signer,
}

/// Verifies a bundle offline: every digest in the manifest, no unlisted
/// files, the suite digest against `suite`, and re-judged results
/// byte-identical to `results.json`. The first failure is returned.
pub fn verify(
    bundle: &Path,
    suite: &Suite,
    key: Option<&VerifyingKey>,
) -> Result<Verified, BundleError> {
    let manifest = verify_files(bundle)?;
    let signer = verify_signature(bundle, &manifest, key)?;
    let run = read_run(bundle)?;
    if run.suite_digest != suite.digest {
        return Err(BundleError::DifferentSuite {
            bundle: run.suite_digest,
            disk: suite.digest.clone(),
            root: suite.root.display().to_string(),
        });
    }
    let rejudged = rejudge(bundle, suite)?;
    let expected = canonical::to_vec(&rejudged)?;
    let results_path = bundle.join(RESULTS_FILE);
    let recorded = std::fs::read(&results_path).map_err(io(&results_path))?;
    if recorded != expected {
        return Err(BundleError::VerdictsDiffer(describe_difference(
            &recorded, &rejudged,
        )));
    }
    crate::fingerprint::verify_bundle(bundle, suite)?;
    crate::merge::verify_merged(bundle, suite, &run, &manifest)?;
    Ok(Verified {
        run,
        results: rejudged,
        files: manifest.files.len(),
        signer,
    })
}

/// One planned case of an unsealed bundle, as far as its evidence goes.
#[derive(Debug, Clone)]
pub struct PartialCase {
    /// Case id.
    pub id: String,
    /// How many exchanges were recorded (0: the case never started); for
    /// a cut-off load, the requests that ended.
    pub exchanges: usize,
    /// Whether the last recorded exchange ended (never for a cut-off load).
    pub complete: bool,
    /// The verdict the evidence gives now (`None` when nothing was recorded).
    pub result: Option<judge::CaseResult>,
    /// For a performance case whose load was cut off: its per-request files.
    pub load: Option<PartialLoad>,
}

/// The per-request files of a performance case's load that never
/// finished: the directory `<case>.load/` beside its evidence file, one
/// file per request taken from the plan, joined into the evidence file
/// when the load ends (a run killed before then leaves them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialLoad {
    /// The directory.
    pub dir: PathBuf,
    /// Request files in it.
    pub files: usize,
    /// Requests whose exchange ended (answered, failed or timed out).
    pub ended: usize,
    /// Requests sent whose recording stops before their exchange ended:
    /// in flight when the run was killed.
    pub cut_off: usize,
    /// Files without an exchange: requests prepared but not yet sent.
    pub not_sent: usize,
    /// Files that cannot be read back.
    pub unreadable: usize,
}

/// What an unsealed bundle (a run killed before it wrote its manifest)
/// holds: its run record and each planned case's evidence, judged as it
/// stands. A performance case whose load was cut off is judged on the
/// requests that ended (a finished load would have waited for the others).
/// Nothing in it is protected by digests.
pub fn inspect_partial(
    bundle: &Path,
    suite: &Suite,
) -> Result<(RunInfo, Vec<PartialCase>), BundleError> {
    let run = read_run(bundle)?;
    let context = judge::Context::new(run.plan.clone(), bundle)?;
    let mut cases = Vec::new();
    for id in &run.plan.cases {
        let case = suite
            .case(id)
            .ok_or_else(|| judge::UnknownCase(id.clone()))?;
        let path = evidence_path(bundle, id);
        let parts = path.with_extension("load");
        // The parts outlive the joined file until it is complete.
        if parts.is_dir() {
            let (load, ended) = read_load_parts(&parts)?;
            let exchanges = ended.len();
            let result = judge::judge_case(suite, case, &context, Some(Ok(ended)));
            cases.push(PartialCase {
                id: id.clone(),
                exchanges,
                complete: false,
                result: Some(result),
                load: Some(load),
            });
            continue;
        }
        if !path.exists() {
            cases.push(PartialCase {
                id: id.clone(),
                exchanges: 0,
                complete: false,
                result: None,
                load: None,
            });
            continue;
        }
        let evidence = read_exchanges(&path);
        let (exchanges, complete) = match &evidence {
            Ok(list) => (list.len(), list.last().is_some_and(|e| e.outcome.is_some())),
            Err(_) => (0, false),
        };
        let result = judge::judge_case(suite, case, &context, Some(evidence));
        cases.push(PartialCase {
            id: id.clone(),
            exchanges,
            complete,
            result: Some(result),
            load: None,
        });
    }
    Ok((run, cases))
}

/// Reads a load's per-request files in request order; returns what they
/// hold and the exchanges that ended.
fn read_load_parts(
    dir: &Path,
) -> Result<(PartialLoad, Vec<crate::evidence::Exchange>), BundleError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        if entry.file_type().map_err(io(dir))?.is_file() {
            files.push(entry.path());
        }
    }
    // Named by the request's index in 8 digits: name order is plan order.
    files.sort();
    let mut load = PartialLoad {
        dir: dir.to_path_buf(),
        files: files.len(),
        ..PartialLoad::default()
    };
    let mut ended = Vec::new();
    for file in &files {
        match read_exchanges(file) {
            Err(_) => load.unreadable += 1,
            Ok(mut list) => match list.pop() {
                None => load.not_sent += 1,
                Some(last) if last.outcome.is_some() => {
                    load.ended += 1;
                    ended.extend(list);
                    ended.push(last);
                }
                Some(_) => load.cut_off += 1,
            },
        }
    }
    Ok((load, ended))
}

/// Signs a sealed bundle with `key`, writing [`sign::ENVELOPE_FILE`];
/// returns the key id.
pub fn sign_bundle(bundle: &Path, key: &SigningKey) -> Result<String, BundleError> {
    let manifest: Manifest = read_json(&bundle.join(MANIFEST_FILE), "manifest")?;
    let run = read_run(bundle)?;
    let results = read_results(bundle)?;
    let statement = sign::statement(&manifest, &run, &results.summary, key.verifying_key())?;
    let envelope = sign::sign(&statement, key)?;
    write_canonical(&bundle.join(sign::ENVELOPE_FILE), &envelope)?;
    Ok(sign::key_id(key.verifying_key())?)
}

/// Checks the envelope, if any: with `key` when given (required then);
/// otherwise against the public key the statement names, which shows the
/// envelope is intact but not who made it.
pub(crate) fn verify_signature(
    bundle: &Path,
    manifest: &Manifest,
    key: Option<&VerifyingKey>,
) -> Result<Signer, BundleError> {
    let path = bundle.join(sign::ENVELOPE_FILE);
    if !path.exists() {
        return match key {
            Some(_) => Err(BundleError::Unsigned),
            None => Ok(Signer::Unsigned),
        };
    }
    let envelope: sign::Envelope = read_json(&path, "DSSE envelope")?;
    let signer = match key {
        Some(key) => {
            let statement = sign::open(&envelope, key)?;
            sign::check_subjects(&statement, manifest)?;
            Signer::Verified {
                keyid: sign::key_id(key)?,
            }
        }
        None => {
            let hinted = hinted_key(&envelope)?;
            let statement = sign::open(&envelope, &hinted).map_err(|e| match e {
                SignError::WrongKey { .. } => SignError::Malformed(
                    "the signature does not verify with the public key the statement names: the envelope was altered".into(),
                ),
                other => other,
            })?;
            sign::check_subjects(&statement, manifest)?;
            Signer::Unchecked {
                keyid: sign::key_id(&hinted)?,
            }
        }
    };
    Ok(signer)
}

/// The public key a statement names (untrusted).
fn hinted_key(envelope: &sign::Envelope) -> Result<VerifyingKey, BundleError> {
    use base64::Engine;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&envelope.payload)
        .map_err(|e| SignError::Malformed(format!("payload is not base64: {e}")))?;
    let statement: sign::Statement = serde_json::from_slice(&payload)
        .map_err(|e| SignError::Malformed(format!("the payload is not a statement: {e}")))?;
    Ok(sign::verifying_key_from_pem(
        &statement.predicate.signer_public_key,
    )?)
}

/// Checks every file against the manifest and that no file is unlisted;
/// returns the manifest.
pub fn verify_files(bundle: &Path) -> Result<Manifest, BundleError> {
    // Walk the tree first: a link (even `manifest.json` itself, or a
    // directory) is refused before any file is opened through it, so
    // nothing outside the bundle is read.
    let present = bundle_files(bundle)?;
    let manifest: Manifest = read_json(&bundle.join(MANIFEST_FILE), "manifest")?;
    expect_format(MANIFEST_FILE, &manifest.format, MANIFEST_FORMAT)?;
    for (name, expected) in &manifest.files {
        let path = bundle.join(safe_relative(name)?);
        let meta =
            std::fs::symlink_metadata(&path).map_err(|_| BundleError::Missing(name.clone()))?;
        if !meta.is_file() {
            return Err(BundleError::NotAFile(name.clone()));
        }
        let actual = crate::digest::sha256_file(&path, MAX_FILE_BYTES)
            .map_err(io(&path))?
            .ok_or_else(|| BundleError::TooLarge {
                path: name.clone(),
                limit: MAX_FILE_BYTES,
            })?;
        if &actual != expected {
            return Err(BundleError::Tampered {
                path: name.clone(),
                expected: expected.clone(),
                actual,
            });
        }
    }
    if let Some(extra) = present
        .into_iter()
        .find(|f| !manifest.files.contains_key(f))
    {
        return Err(BundleError::Unlisted(extra));
    }
    Ok(manifest)
}

/// Names the cases whose recorded results differ from the re-judged ones.
fn describe_difference(recorded: &[u8], rejudged: &Results) -> String {
    let recorded: Results = match serde_json::from_slice(recorded) {
        Ok(r) => r,
        Err(e) => return format!("results.json does not parse ({e})"),
    };
    let by_id: BTreeMap<&str, _> = recorded.cases.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut differing = Vec::new();
    for case in &rejudged.cases {
        match by_id.get(case.id.as_str()) {
            Some(r) if *r == case => {}
            Some(r) if r.verdict != case.verdict => differing.push(format!(
                "case {} is recorded as {} but re-judges as {}",
                case.id,
                r.verdict.name(),
                case.verdict.name()
            )),
            Some(_) => differing.push(format!("case {} differs in its checks or reasons", case.id)),
            None => differing.push(format!("case {} is missing from results.json", case.id)),
        }
    }
    let known: std::collections::BTreeSet<&str> =
        rejudged.cases.iter().map(|c| c.id.as_str()).collect();
    for id in by_id.keys().filter(|id| !known.contains(*id)) {
        differing.push(format!(
            "case {id} is in results.json but was not in the run"
        ));
    }
    if differing.is_empty() {
        "every case agrees, but the summary, header or byte form differs".into()
    } else {
        differing.join("; ")
    }
}
