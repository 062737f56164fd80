//! Loading and validating the standard (`spec/`) and the suite (`suites/`).
//!
//! Nothing runs until the whole suite is valid: every problem in every file
//! is collected and reported together, each naming its file, line and field.

mod case;
mod clause;
mod locate;
mod profile;
mod slo;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use case::{
    AuthMode, Capability, Case, Check, Endpoint, Method, Performance, Probe, Request, StatusSet,
    WRONG_KEY,
};
pub use clause::{Clause, Level};
pub use profile::{
    Accounting, ChatOverhead, Limits, PerformanceClaim, RateLimit, TargetProfile, Tolerance,
    load_profile,
};
pub use slo::{
    LatencyThreshold, MaxShare, MinShare, Objectives, SLO_DIR, SloProfile, SpeedThreshold,
    Thresholds, Window,
};

use crate::digest;
use clause::ClauseFile;
pub(crate) use locate::LineMap;

/// Directory under `suites/` that holds target profiles, not cases.
pub const TARGETS_DIR: &str = "targets";
/// Directory under `suites/` that holds price sheets, not cases.
pub const PRICES_DIR: &str = "prices";
/// The schema every case file must match (`spec/schemas/case.schema.json`).
const CASE_SCHEMA: &str = "case";
/// Ceiling on one case or clause file; a larger file is refused unread.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

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
    let schemas = load_schemas(root, &mut problems);
    let clauses = load_clauses(root, &mut problems);
    let slo_profiles = slo::load_profiles(root, schemas.get(slo::SLO_SCHEMA), &mut problems);
    let mut cases = Vec::new();
    match schemas.get(CASE_SCHEMA) {
        Some(case_schema) => {
            for file in case_files(root, &mut problems) {
                if let Some((case, lines)) = load_case(root, &file, case_schema, &mut problems) {
                    let known = Known {
                        clauses: &clauses,
                        schemas: &schemas,
                        slo_profiles: &slo_profiles,
                    };
                    check_links(&file, &case, &lines, &known, &mut problems);
                    cases.push(case);
                }
            }
        }
        None => problems.push(Problem {
            file: PathBuf::from("spec/schemas/case.schema.json"),
            line: None,
            field: None,
            message: "the case file schema is missing; no case can be validated".into(),
        }),
    }
    let prices = crate::price::load_sheets(root).unwrap_or_else(|p| {
        problems.push(p);
        Vec::new()
    });
    let digest = match digest::suite_digest(root) {
        Ok(d) => d,
        Err(e) => {
            problems.push(Problem {
                file: PathBuf::from("."),
                line: None,
                field: None,
                message: format!("cannot digest the suite: {e}"),
            });
            String::new()
        }
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
    })
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

/// Reads a file of the suite, refusing anything over [`MAX_FILE_BYTES`].
pub(crate) fn read_file(root: &Path, rel: &Path) -> Result<String, Problem> {
    let path = root.join(rel);
    let result = std::fs::metadata(&path).and_then(|meta| {
        if meta.len() > MAX_FILE_BYTES {
            Err(std::io::Error::other(format!(
                "file is {} bytes; the limit is {MAX_FILE_BYTES}",
                meta.len()
            )))
        } else {
            std::fs::read_to_string(&path)
        }
    });
    result.map_err(|e| problem(rel, format!("cannot read: {e}")))
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

fn load_clauses(root: &Path, problems: &mut Vec<Problem>) -> BTreeMap<String, Clause> {
    let rel = Path::new("spec/clauses.yaml");
    let mut clauses = BTreeMap::new();
    let Some(text) = read(root, rel, problems) else {
        return clauses;
    };
    let file: ClauseFile = match parse_yaml(&text) {
        Ok(file) => file,
        Err(e) => {
            problems.push(yaml_problem(rel, &e));
            return clauses;
        }
    };
    let lines = LineMap::new(&text);
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
pub(crate) fn parse_yaml<'de, T: serde::Deserialize<'de>>(
    text: &'de str,
) -> Result<T, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, serde_saphyr::options! { strict_booleans: true })
}

pub(crate) fn yaml_problem(rel: &Path, e: &serde_saphyr::Error) -> Problem {
    let message = e.to_string();
    // The first line is the message; the rest is a rendered snippet.
    let message = message.lines().next().unwrap_or_default().to_string();
    Problem {
        line: e.location().map(|l| l.line() as usize),
        ..problem(rel, message)
    }
}

/// Every case file under `suites/` (relative paths, sorted), skipping the
/// target profile and price sheet directories.
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
                if rel != suites.join(TARGETS_DIR) && rel != suites.join(PRICES_DIR) {
                    dirs.push(rel);
                }
            } else if rel.extension().is_some_and(|e| e == "yaml") {
                files.push(rel);
            } else if rel.extension().is_some_and(|e| e == "yml") {
                problems.push(problem(&rel, "case files end in .yaml; rename this file"));
            }
        }
    }
    files.sort();
    files
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

fn load_case(
    root: &Path,
    rel: &Path,
    schema: &jsonschema::Validator,
    problems: &mut Vec<Problem>,
) -> Option<(Case, LineMap)> {
    let text = read(root, rel, problems)?;
    let value: serde_json::Value = match parse_yaml(&text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(yaml_problem(rel, &e));
            return None;
        }
    };
    let lines = LineMap::new(&text);
    let before = problems.len();
    for error in schema.iter_errors(&value) {
        let field = error.instance_path().as_str().to_string();
        problems.push(Problem {
            file: rel.to_path_buf(),
            line: lines.line_of(&field),
            field: Some(field),
            message: error.to_string(),
        });
    }
    if problems.len() > before {
        return None;
    }
    let case: Case = match serde_json::from_value(value) {
        Ok(case) => case,
        Err(e) => {
            problems.push(problem(rel, format!("does not match the case model: {e}")));
            return None;
        }
    };
    let expected = expected_id(rel);
    if case.id != expected {
        problems.push(Problem {
            line: lines.line_of("/id"),
            field: Some("/id".into()),
            ..problem(
                rel,
                format!("id {:?} must equal the file's path: {expected:?}", case.id),
            )
        });
        return None;
    }
    Some((case, lines))
}

/// What a case may refer to.
struct Known<'a> {
    clauses: &'a BTreeMap<String, Clause>,
    schemas: &'a BTreeMap<String, jsonschema::Validator>,
    slo_profiles: &'a BTreeMap<String, SloProfile>,
}

/// The clause, schemas and SLO profile a case names must exist, and its
/// parts must fit together.
fn check_links(
    rel: &Path,
    case: &Case,
    lines: &LineMap,
    known: &Known<'_>,
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
        if let Some(name) = check.schema().filter(|n| !schemas.contains_key(*n)) {
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
