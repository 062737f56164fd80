//! Loading and validating the standard (`spec/`) and the suite (`suites/`).
//!
//! Nothing runs until the whole suite is valid: every problem in every file
//! is collected and reported together, each naming its file, line and field.

mod case;
mod clause;
mod dialect;
mod locate;
mod profile;
mod slo;
mod template;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use case::{
    AuthMode, Capability, Case, Check, Endpoint, Method, Performance, Probe, Request, StatusSet,
    WRONG_KEY,
};
pub use clause::{Clause, Level, area_of};
pub use dialect::Dialect;
pub use profile::{
    Accounting, ChatOverhead, DialectClaim, Dialects, Identity, Kept, KeyHeader, Limits,
    PerformanceClaim, RateLimit, TargetProfile, Tolerance, load_profile,
};
pub use slo::{
    LatencyThreshold, MaxShare, MinShare, Objectives, SLO_DIR, SloProfile, SpeedThreshold,
    Thresholds, Window,
};
pub use template::{OVERFLOW_TEMPLATES, Templates, overflows_on_purpose};

use crate::digest;
use clause::ClauseFile;
pub use locate::LineMap;

/// Directory under `suites/` that holds target profiles, not cases.
pub const TARGETS_DIR: &str = "targets";
/// Directory under `suites/` that holds price sheets, not cases.
pub const PRICES_DIR: &str = "prices";
/// The schema every case file must match (`spec/schemas/case.schema.json`).
const CASE_SCHEMA: &str = "case";
/// Ceiling on one file the loader parses (case, clause file, schema, SLO
/// profile, price sheet, target profile); a larger file is refused unread.
/// 1 MiB is 22 times the largest file under `spec/` and `suites/` on
/// 2026-11-26 (`spec/schemas/tests/chat.completion.json`, 46,170 bytes).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Deepest nesting of sequences and mappings in a YAML file; deeper is
/// refused while parsing, before it can exhaust the stack. The deepest
/// committed case nests 12 levels (`suites/api/chat/tools/*/nested-arguments.yaml`).
pub const MAX_DEPTH: usize = 64;

/// A loaded, validated suite: clauses, cases and compiled schemas.
pub struct Suite {
    /// Directory holding `spec/` and `suites/`.
    pub root: PathBuf,
    /// Clauses by id.
    pub clauses: BTreeMap<String, Clause>,
    /// Cases sorted by id.
    pub cases: Vec<Case>,
    /// Compiled schemas by name (file name without `.schema.json`).
    pub schemas: BTreeMap<String, jsonschema::Validator>,
    /// `sha256:` digest over every file under `spec/` and `suites/`.
    pub digest: String,
    /// Price sheets (`suites/prices/`), sorted by file name.
    pub prices: Vec<crate::price::PriceSheet>,
    /// SLO profiles (`spec/slo/`) by name.
    pub slo_profiles: BTreeMap<String, SloProfile>,
    /// The fingerprint probe set (`suites/fingerprint/probes.yaml`), if any;
    /// never run as cases.
    pub probe_set: Option<crate::fingerprint::ProbeSet>,
}

impl Suite {
    /// The clause a case links to (always present in a loaded suite).
    pub fn clause_of(&self, case: &Case) -> Option<&Clause> {
        self.clauses.get(&case.clause)
    }

    /// The case with this id.
    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases
            .binary_search_by(|c| c.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.cases[i])
    }

    /// Checks one more case file against this suite's clauses, schemas
    /// and SLO profiles; see [`CaseLoader::case`].
    pub fn case_loader(&self) -> CaseLoader<'_> {
        CaseLoader {
            clauses: &self.clauses,
            schemas: &self.schemas,
            slo_profiles: &self.slo_profiles,
        }
    }
}

/// One problem in one file of the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the suite root.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// JSON pointer of the offending field, when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            let field = if field.is_empty() {
                "(document)"
            } else {
                field
            };
            write!(f, ": field {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The suite could not be loaded; every problem found is listed.
#[derive(Debug, thiserror::Error)]
#[error("the suite under {root} is invalid ({} problem(s)):\n{}", problems.len(), list(problems))]
pub struct LoadError {
    /// The suite root that was loaded.
    pub root: PathBuf,
    /// Every problem, in file order.
    pub problems: Vec<Problem>,
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Loads and validates the suite rooted at `root` (the directory holding
/// `spec/` and `suites/`).
pub fn load(root: &Path) -> Result<Suite, LoadError> {
    let mut problems = Vec::new();
    for top in ["spec", "suites"] {
        refuse_links(root, Path::new(top), &mut problems);
    }
    let schemas = load_schemas(root, &mut problems);
    let clauses = load_clauses(root, &mut problems);
    let slo_profiles = slo::load_profiles(root, schemas.get(slo::SLO_SCHEMA), &mut problems);
    let mut cases = Vec::new();
    if schemas.contains_key(CASE_SCHEMA) {
        let loader = CaseLoader {
            clauses: &clauses,
            schemas: &schemas,
            slo_profiles: &slo_profiles,
        };
        for file in case_files(root, &mut problems) {
            let checked = read_bytes(&root.join(&file), &file)
                .map_err(|p| vec![p])
                .and_then(|bytes| loader.case(&file, &bytes));
            match checked {
                Ok(case) => cases.push(case),
                Err(found) => problems.extend(found),
            }
        }
    } else {
        problems.push(no_case_schema());
    }
    let prices = crate::price::load_sheets(root).unwrap_or_else(|p| {
        problems.push(p);
        Vec::new()
    });
    let probe_set = crate::fingerprint::probes::load(root, &schemas).unwrap_or_else(|p| {
        problems.extend(p);
        None
    });
    for case in cases.iter_mut().filter(|c| c.fingerprint_probes) {
        if let Err(p) = send_probe_set(root, case, probe_set.as_ref()) {
            problems.push(p);
        }
    }
    // The digest reads every file whole: only a suite already found
    // sound (no links, devices or oversized parsed files) gets that far.
    let digest = if problems.is_empty() {
        digest::suite_digest(root).unwrap_or_else(|e| {
            problems.push(problem(
                Path::new("."),
                format!("cannot digest the suite: {e}"),
            ));
            String::new()
        })
    } else {
        String::new()
    };
    if !problems.is_empty() {
        return Err(LoadError {
            root: root.to_path_buf(),
            problems,
        });
    }
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Suite {
        root: root.to_path_buf(),
        clauses,
        cases,
        schemas,
        digest,
        prices,
        slo_profiles,
        probe_set,
    })
}

/// Gives a `fingerprint_probes` case the probe set's requests: all but
/// the last as `before`, the last as `request` (generation probes ask for
/// log-probabilities). A suite without a probe set cannot run it.
fn send_probe_set(
    root: &Path,
    case: &mut Case,
    probe_set: Option<&crate::fingerprint::ProbeSet>,
) -> Result<(), Problem> {
    let rel = id_path(&case.id);
    let field = "/fingerprint_probes";
    let at = |message: String| {
        let line = read_file(root, &rel)
            .ok()
            .and_then(|text| LineMap::new(&text).line_of(field));
        Problem {
            line,
            field: Some(field.into()),
            ..problem(&rel, message)
        }
    };
    let Some(set) = probe_set else {
        return Err(at(format!(
            "sends the fingerprint probe set, but the suite has none ({})",
            crate::fingerprint::probes::PROBES_FILE
        )));
    };
    let mut requests: Vec<Request> = set
        .cases(true)
        .into_iter()
        .filter_map(|probe| probe.request)
        .collect();
    let Some(last) = requests.pop() else {
        return Err(at("the fingerprint probe set sends no request".into()));
    };
    case.before = requests;
    case.request = Some(last);
    Ok(())
}

/// A problem with a whole file (no line or field).
pub(crate) fn problem(file: &Path, message: impl Into<String>) -> Problem {
    Problem {
        file: file.to_path_buf(),
        line: None,
        field: None,
        message: message.into(),
    }
}

/// Reads a file of the suite; see [`read_bounded`].
pub(crate) fn read_file(root: &Path, rel: &Path) -> Result<String, Problem> {
    read_bounded(&root.join(rel), rel)
}

/// Reads `path` (named `shown` in problems): a regular file of at most
/// [`MAX_FILE_BYTES`], not empty, UTF-8. Anything else is refused, and
/// anything over the limit or not a regular file is refused unread.
pub(crate) fn read_bounded(path: &Path, shown: &Path) -> Result<String, Problem> {
    read_bytes(path, shown).and_then(|bytes| decode(bytes, shown))
}

/// The bytes of `path` (named `shown` in problems): a regular file of at
/// most [`MAX_FILE_BYTES`], refused unread when larger or not a file.
fn read_bytes(path: &Path, shown: &Path) -> Result<Vec<u8>, Problem> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| problem(shown, format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return Err(problem(shown, "is a directory, not a file"));
    }
    if !meta.is_file() {
        return Err(problem(
            shown,
            "is not a regular file (a device, pipe or socket); refused unread",
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(shown, meta.len()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| problem(shown, format!("cannot read: {e}")))?;
    // Checked again by `decode`: it may have grown after its size was taken.
    Ok(bytes)
}

fn too_large(shown: &Path, size: u64) -> Problem {
    problem(
        shown,
        format!(
            "is {size} bytes, over the limit of {MAX_FILE_BYTES} bytes (1 MiB) for one suite file; refused unread"
        ),
    )
}

/// A file's bytes as text: at most [`MAX_FILE_BYTES`], not empty, UTF-8.
fn decode(bytes: Vec<u8>, shown: &Path) -> Result<String, Problem> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(shown, bytes.len() as u64));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(problem(shown, "is empty"));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        Problem {
            line: Some(line),
            ..problem(
                shown,
                format!(
                    "is not UTF-8: byte 0x{:02x} at offset {at} does not start a valid character",
                    bytes[at]
                ),
            )
        }
    })
}

/// Refuses every symbolic link, device, pipe or socket under `rel`: a
/// suite is plain files, so each case id is one file at one path, and the
/// digest covers exactly what is on disk. Links are not followed.
fn refuse_links(root: &Path, rel: &Path, problems: &mut Vec<Problem>) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        // A missing or unreadable directory is reported by whoever needs it.
        return;
    };
    for entry in entries.flatten() {
        let path = rel.join(entry.file_name());
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => refuse_links(root, &path, problems),
            Ok(kind) if kind.is_file() => {}
            Ok(kind) if kind.is_symlink() => problems.push(problem(
                &path,
                "is a symbolic link; a suite holds plain files only (copy the file, or move it to the path of its id)",
            )),
            Ok(_) => problems.push(problem(
                &path,
                "is not a regular file or directory (a device, pipe or socket)",
            )),
            Err(e) => problems.push(problem(&path, format!("cannot read its type: {e}"))),
        }
    }
}

/// [`read_file`], collecting the problem.
fn read(root: &Path, rel: &Path, problems: &mut Vec<Problem>) -> Option<String> {
    read_file(root, rel).map_err(|p| problems.push(p)).ok()
}

fn load_schemas(
    root: &Path,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, jsonschema::Validator> {
    let dir = Path::new("spec/schemas");
    let mut schemas = BTreeMap::new();
    let entries = match std::fs::read_dir(root.join(dir)) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(problem(dir, format!("cannot list schemas: {e}")));
            return schemas;
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".schema.json"))
        .collect();
    names.sort();
    for file_name in names {
        let rel = dir.join(&file_name);
        let Some(text) = read(root, &rel, problems) else {
            continue;
        };
        let name = file_name.trim_end_matches(".schema.json").to_string();
        let compiled = serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| Problem {
                line: Some(e.line()),
                ..problem(&rel, format!("not JSON: {e}"))
            })
            .and_then(|schema| {
                jsonschema::draft202012::new(&schema)
                    .map_err(|e| problem(&rel, format!("not a valid 2020-12 schema: {e}")))
            });
        match compiled {
            Ok(validator) => {
                schemas.insert(name, validator);
            }
            Err(p) => problems.push(p),
        }
    }
    schemas
}

/// Where the clauses live, relative to the suite root.
const CLAUSE_FILE: &str = "spec/clauses.yaml";

fn load_clauses(root: &Path, problems: &mut Vec<Problem>) -> BTreeMap<String, Clause> {
    match read(root, Path::new(CLAUSE_FILE), problems) {
        Some(text) => clauses_of(&text, problems),
        None => BTreeMap::new(),
    }
}

/// The clauses in `bytes`, the content of `spec/clauses.yaml`, checked
/// as [`load`] checks that file: UTF-8 YAML, each clause id of the form
/// `TS-<AREA>-<NAME>` and defined once. Else every problem found.
pub fn parse_clauses(bytes: &[u8]) -> Result<BTreeMap<String, Clause>, Vec<Problem>> {
    let text = decode(bytes.to_vec(), Path::new(CLAUSE_FILE)).map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    let clauses = clauses_of(&text, &mut problems);
    if problems.is_empty() {
        Ok(clauses)
    } else {
        Err(problems)
    }
}

/// The valid clauses of a clause file, collecting problems with the rest.
fn clauses_of(text: &str, problems: &mut Vec<Problem>) -> BTreeMap<String, Clause> {
    let rel = Path::new(CLAUSE_FILE);
    let mut clauses = BTreeMap::new();
    let file: ClauseFile = match parse_yaml(text) {
        Ok(file) => file,
        Err(e) => {
            problems.push(typed_yaml_problem(rel, text, &e));
            return clauses;
        }
    };
    let lines = LineMap::new(text);
    for (i, clause) in file.clauses.into_iter().enumerate() {
        let field = format!("/clauses/{i}/id");
        if !valid_clause_id(&clause.id) {
            problems.push(Problem {
                line: lines.line_of(&field),
                field: Some(field),
                ..problem(
                    rel,
                    format!(
                        "clause id {:?} is not of the form TS-<AREA>-<NAME>",
                        clause.id
                    ),
                )
            });
        } else if clauses.contains_key(&clause.id) {
            problems.push(Problem {
                line: lines.line_of(&field),
                field: Some(field),
                ..problem(rel, format!("clause {} is defined twice", clause.id))
            });
        } else {
            clauses.insert(clause.id.clone(), clause);
        }
    }
    clauses
}

/// `TS-<AREA>-<NAME>`: at least three dash-separated parts of upper-case
/// letters and digits, the first being `TS`.
fn valid_clause_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() >= 3
        && parts[0] == "TS"
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

/// Parses YAML with YAML 1.2 booleans only: `n`, `no`, `on`, `y` stay
/// strings (a capability is called `n`; a prompt may say "no").
/// Nesting is capped at [`MAX_DEPTH`], block and flow alike; a repeated
/// mapping key is an error.
pub(crate) fn parse_yaml<'de, T: serde::Deserialize<'de>>(
    text: &'de str,
) -> Result<T, serde_saphyr::Error> {
    let budget = serde_saphyr::budget! {
        max_depth: MAX_DEPTH,
        flow_nesting_limit: MAX_DEPTH,
    };
    serde_saphyr::from_str_with_options(
        text,
        serde_saphyr::options! {
            strict_booleans: true,
            budget: budget,
            duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        },
    )
}

/// Reads a YAML file that is not part of the suite (a ledger's trust file,
/// an observatory's config) straight into a Rust type, with the suite's
/// limits and parser settings; a problem names the file, line and field.
/// Returns the text's [`LineMap`] too, so that a value the type accepts but
/// the caller refuses can be reported at its line.
pub fn load_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<(T, LineMap), Problem> {
    let text = read_bounded(path, path)?;
    let value = parse_yaml(&text).map_err(|e| typed_yaml_problem(path, &text, &e))?;
    Ok((value, LineMap::new(&text)))
}

/// Reads a YAML file that is not part of the suite (an observatory's
/// config) with the suite's limits and parser settings, and validates it
/// against `schema`: every violation is a problem naming the file, line
/// and field. Returns the document as JSON with its [`LineMap`], so that a
/// value the schema accepts but the caller refuses is reported at its line.
pub fn load_yaml_with_schema(
    path: &Path,
    schema: &jsonschema::Validator,
) -> Result<(serde_json::Value, LineMap), Vec<Problem>> {
    let text = read_bounded(path, path).map_err(|p| vec![p])?;
    let value: serde_json::Value = parse_yaml(&text).map_err(|e| vec![yaml_problem(path, &e)])?;
    let lines = LineMap::new(&text);
    let problems: Vec<Problem> = schema
        .iter_errors(&value)
        .map(|error| {
            let field = error.instance_path().as_str().to_string();
            Problem {
                line: lines.line_of(&field),
                field: Some(field),
                ..problem(path, error.to_string())
            }
        })
        .collect();
    if problems.is_empty() {
        Ok((value, lines))
    } else {
        Err(problems)
    }
}

/// The parser's error as a problem at its line, the message led by the
/// column and put in the suite's terms where the parser's is opaque.
pub(crate) fn yaml_problem(rel: &Path, e: &serde_saphyr::Error) -> Problem {
    let rendered = e.to_string();
    // The first line is the message; the rest is a rendered snippet.
    let first = rendered.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let location = e.location();
    let (line, message) = match location {
        Some(at) => {
            let prefix = format!("line {} column {}: ", at.line(), at.column());
            let text = first.strip_prefix(&prefix).unwrap_or(first);
            (
                Some(at.line() as usize),
                describe_yaml_error(text, Some(at.column())),
            )
        }
        None => (None, describe_yaml_error(first, None)),
    };
    Problem {
        line,
        ..problem(rel, message)
    }
}

/// [`yaml_problem`] for a file read straight into a Rust type (no schema):
/// the field is the deepest one on the failing line.
pub(crate) fn typed_yaml_problem(rel: &Path, text: &str, e: &serde_saphyr::Error) -> Problem {
    let p = yaml_problem(rel, e);
    let field = p
        .line
        .and_then(|line| LineMap::new(text).field_at(line).map(str::to_string));
    Problem { field, ..p }
}

/// The parser says "budget breached: Depth { .. }" for deep block nesting
/// and "recursion limit exceeded" for deep flow nesting (both mean one
/// thing), and words a repeated key for programmers.
fn describe_yaml_error(text: &str, column: Option<u64>) -> String {
    let text = if text.starts_with("budget breached: Depth") || text == "recursion limit exceeded" {
        format!("nested deeper than {MAX_DEPTH} levels of sequences and mappings; refused")
    } else if let Some(key) = text.strip_prefix("duplicate mapping key: ") {
        // The parser's advice names its own option, not something a suite author can set.
        let key = key.split(", set DuplicateKeyPolicy").next().unwrap_or(key);
        format!("key {key:?} appears a second time in the same mapping; keep one")
    } else {
        text.to_string()
    };
    match column {
        Some(column) => format!("column {column}: {text}"),
        None => text,
    }
}

/// Every case file under `suites/` (relative paths, sorted), skipping the
/// target profile, price sheet and fingerprint probe directories.
fn case_files(root: &Path, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![PathBuf::from("suites")];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(root.join(&dir)) {
            Ok(entries) => entries,
            Err(e) => {
                problems.push(problem(&dir, format!("cannot list directory: {e}")));
                continue;
            }
        };
        for entry in entries.flatten() {
            let rel = dir.join(entry.file_name());
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let suites = Path::new("suites");
                let data = [
                    TARGETS_DIR,
                    PRICES_DIR,
                    crate::fingerprint::probes::PROBES_DIR,
                ];
                if !data.iter().any(|d| rel == suites.join(d)) {
                    dirs.push(rel);
                }
            } else if !kind.is_file() {
                // Links and special files are refused by `refuse_links`.
            } else if rel.extension().is_some_and(|e| e == "yaml") {
                match dotted(&rel) {
                    Some(p) => problems.push(p),
                    None => files.push(rel),
                }
            } else if rel.extension().is_some_and(|e| e == "yml") {
                problems.push(problem(&rel, "case files end in .yaml; rename this file"));
            }
        }
    }
    files.sort();
    files
}

/// A case file whose path holds a dot could not carry its path as its id.
fn dotted(rel: &Path) -> Option<Problem> {
    let part = dotted_part(rel)?;
    Some(problem(
        rel,
        format!(
            "{part:?} contains '.', which separates the parts of a case id: \
             this file would claim id {:?} like {}; use '-' or a directory",
            expected_id(rel),
            id_path(&expected_id(rel)).display()
        ),
    ))
}

/// The first directory or file name (without `.yaml`) under `suites/` that
/// holds a dot. Ids are paths with dots for slashes, so without this rule
/// `suites/a.b.yaml` and `suites/a/b.yaml` would both be case `a.b`.
fn dotted_part(rel: &Path) -> Option<String> {
    let inner = rel.strip_prefix("suites").unwrap_or(rel).with_extension("");
    inner
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .find(|part| part.contains('.'))
}

/// The file a case id lives in.
fn id_path(id: &str) -> PathBuf {
    Path::new("suites")
        .join(id.replace('.', "/"))
        .with_extension("yaml")
}

/// The case id a file must carry: its path under `suites/`, dots for slashes.
fn expected_id(rel: &Path) -> String {
    let inner = rel.strip_prefix("suites").unwrap_or(rel).with_extension("");
    inner
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join(".")
}

/// The problem of a standard without `spec/schemas/case.schema.json`.
fn no_case_schema() -> Problem {
    problem(
        Path::new("spec/schemas/case.schema.json"),
        "the case file schema is missing; no case can be validated",
    )
}

/// Checks case files one at a time against a standard's clauses, schemas
/// and SLO profiles, exactly as [`load`] checks each file under `suites/`:
/// no file is read, so a caller holding a case in memory (an editor, a
/// fuzzer) need not write a suite to disk. Get one from
/// [`Suite::case_loader`], or fill it in to check against other clauses.
pub struct CaseLoader<'a> {
    /// Clauses by id; a case must link one of them.
    pub clauses: &'a BTreeMap<String, Clause>,
    /// Compiled schemas by name; `case` validates the file itself, and a
    /// check may name any of them.
    pub schemas: &'a BTreeMap<String, jsonschema::Validator>,
    /// SLO profiles by name; a performance case must name one of them.
    pub slo_profiles: &'a BTreeMap<String, SloProfile>,
}

impl CaseLoader<'_> {
    /// The case in `bytes`, the content of the file at `rel` (relative to
    /// the suite root, e.g. `suites/api/models/list.yaml`, whose id must
    /// be `api.models.list`), or every problem found in it, each naming
    /// `rel`, and the line and field where known.
    pub fn case(&self, rel: &Path, bytes: &[u8]) -> Result<Case, Vec<Problem>> {
        if let Some(p) = dotted(rel) {
            return Err(vec![p]);
        }
        let schema = self
            .schemas
            .get(CASE_SCHEMA)
            .ok_or_else(|| vec![no_case_schema()])?;
        let text = decode(bytes.to_vec(), rel).map_err(|p| vec![p])?;
        let (case, lines) = parse_case(rel, &text, schema)?;
        let mut problems = Vec::new();
        check_links(rel, &case, &lines, self, &mut problems);
        if problems.is_empty() {
            Ok(case)
        } else {
            Err(problems)
        }
    }
}

/// The case in `text`, valid against the case schema and carrying its
/// path as its id.
fn parse_case(
    rel: &Path,
    text: &str,
    schema: &jsonschema::Validator,
) -> Result<(Case, LineMap), Vec<Problem>> {
    let value: serde_json::Value = parse_yaml(text).map_err(|e| vec![yaml_problem(rel, &e)])?;
    let lines = LineMap::new(text);
    let problems: Vec<Problem> = schema
        .iter_errors(&value)
        .map(|error| {
            let field = error.instance_path().as_str().to_string();
            Problem {
                file: rel.to_path_buf(),
                line: lines.line_of(&field),
                field: Some(field),
                message: error.to_string(),
            }
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    let case: Case = serde_json::from_value(value)
        .map_err(|e| vec![problem(rel, format!("does not match the case model: {e}"))])?;
    let expected = expected_id(rel);
    if case.id != expected {
        return Err(vec![Problem {
            line: lines.line_of("/id"),
            field: Some("/id".into()),
            ..problem(
                rel,
                format!("id {:?} must equal the file's path: {expected:?}", case.id),
            )
        }]);
    }
    Ok((case, lines))
}

/// The clause, schemas and SLO profile a case names must exist, and its
/// parts must fit together.
fn check_links(
    rel: &Path,
    case: &Case,
    lines: &LineMap,
    known: &CaseLoader<'_>,
    problems: &mut Vec<Problem>,
) {
    let line_of = |field: &str| lines.line_of(field);
    let at = |field: &str, message: String| Problem {
        line: line_of(field),
        field: Some(field.to_string()),
        ..problem(rel, message)
    };
    if let Some(performance) = &case.performance {
        check_performance(case, performance, known.slo_profiles, &at, problems);
    } else {
        for (i, check) in case.checks.iter().enumerate() {
            if check.is_performance() {
                problems.push(at(
                    &format!("/checks/{i}"),
                    format!(
                        "{} judges a load; only a case with `performance` can use it",
                        check.name()
                    ),
                ));
            }
        }
    }
    let (clauses, schemas) = (known.clauses, known.schemas);
    if !clauses.contains_key(&case.clause) {
        problems.push(Problem {
            line: line_of("/clause"),
            field: Some("/clause".into()),
            ..problem(
                rel,
                format!(
                    "links unknown clause {}; see spec/clauses.yaml",
                    case.clause
                ),
            )
        });
    }
    for (i, check) in case.checks.iter().enumerate() {
        let judges_probes = *check == Check::SameModelAsDeclared;
        if judges_probes != case.fingerprint_probes {
            problems.push(at(
                &format!("/checks/{i}"),
                if judges_probes {
                    "same_model_as_declared judges the fingerprint probe set's exchanges; \
                     only a case with `fingerprint_probes: true` can use it"
                        .to_string()
                } else {
                    format!(
                        "{} judges one request's exchange; a case with `fingerprint_probes` \
                         has only the same_model_as_declared check",
                        check.name()
                    )
                },
            ));
        }
    }
    if case.probe == Some(Probe::RateLimit) {
        if !case.requires.contains(&Capability::RateLimits) {
            problems.push(Problem {
                line: line_of("/probe"),
                field: Some("/probe".into()),
                ..problem(rel, "a rate_limit probe needs `requires: [rate_limits]`")
            });
        }
        if !case.before.is_empty() {
            problems.push(Problem {
                line: line_of("/before"),
                field: Some("/before".into()),
                ..problem(rel, "a case with a probe cannot also have before requests")
            });
        }
    }
    for (i, check) in case.checks.iter().enumerate() {
        if let Some(first) = case.checks[..i].iter().position(|c| c == check) {
            problems.push(at(
                &format!("/checks/{i}"),
                format!(
                    "repeats check {first} ({}) exactly; remove one",
                    check.name()
                ),
            ));
        }
        for name in check
            .schemas()
            .into_iter()
            .filter(|n| !schemas.contains_key(*n))
        {
            let field = format!("/checks/{i}/{}", check.name());
            problems.push(Problem {
                line: line_of(&field),
                field: Some(field),
                ..problem(
                    rel,
                    format!("names unknown schema {name:?}; see spec/schemas/"),
                )
            });
        }
    }
}

/// A performance case names a known class, checks only thresholds the
/// class has, and its workload is valid.
fn check_performance(
    case: &Case,
    performance: &Performance,
    slo_profiles: &BTreeMap<String, SloProfile>,
    at: &dyn Fn(&str, String) -> Problem,
    problems: &mut Vec<Problem>,
) {
    if let Err(e) = performance.workload.validate() {
        problems.push(at("/performance/workload", e.to_string()));
    }
    let Some(profile) = slo_profiles.get(&performance.slo) else {
        let known: Vec<&str> = slo_profiles.keys().map(String::as_str).collect();
        problems.push(at(
            "/performance/slo",
            format!(
                "names unknown service class {:?}; spec/slo/ has: {}",
                performance.slo,
                known.join(", ")
            ),
        ));
        return;
    };
    for (i, check) in case.checks.iter().enumerate() {
        let field = format!("/checks/{i}");
        if !check.is_performance() {
            problems.push(at(
                &field,
                format!(
                    "{} judges one exchange; a performance case has only slo_* checks",
                    check.name()
                ),
            ));
        } else if !profile.thresholds.has(check) {
            problems.push(at(
                &field,
                format!(
                    "{} needs a threshold the {} profile does not set (spec/slo/{}.yaml)",
                    check.name(),
                    profile.name,
                    profile.name
                ),
            ));
        }
    }
}
