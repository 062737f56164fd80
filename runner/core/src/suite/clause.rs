//! The clause registry: `spec/clauses.yaml`.

use serde::{Deserialize, Serialize};

/// Requirement level in the sense of RFC 2119.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum Level {
    /// An absolute requirement; a failure makes the target non-conforming.
    #[serde(rename = "MUST")]
    Must,
    /// Recommended; a failure is reported but does not fail the run.
    #[serde(rename = "SHOULD")]
    Should,
    /// Optional.
    #[serde(rename = "MAY")]
    May,
}

impl Level {
    /// The RFC 2119 keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }
}

/// One clause of the standard.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    /// Stable id, `TS-<AREA>-<NAME>`.
    pub id: String,
    /// Requirement level.
    pub level: Level,
    /// Short title.
    pub title: String,
    /// Normative text.
    pub text: String,
    /// Why the clause exists.
    pub rationale: String,
}

/// The area of a clause id, the `AREA` of `TS-<AREA>-<NAME>` (`API`, `ACC`,
/// `PERF`, ...); an id of another shape is its own area.
pub fn area_of(clause_id: &str) -> &str {
    let mut parts = clause_id.split('-');
    match (parts.next(), parts.next()) {
        (Some("TS"), Some(area)) if !area.is_empty() => area,
        _ => clause_id,
    }
}

/// The file format of `spec/clauses.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClauseFile {
    pub clauses: Vec<Clause>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_area_is_the_second_part_of_a_clause_id() {
        assert_eq!(super::area_of("TS-PERF-SLO"), "PERF");
        assert_eq!(super::area_of("TS-API-CHAT-STREAM"), "API");
        assert_eq!(super::area_of("other"), "other");
    }
}
