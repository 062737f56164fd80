//! Target profiles (`suites/targets/*.yaml`): what a target claims.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use super::{Capability, Problem, yaml_problem};

/// What a target declares about itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetProfile {
    /// Short name.
    pub name: String,
    /// What the target is.
    pub description: String,
    /// The model to test, unless given on the command line.
    #[serde(default)]
    pub model: Option<String>,
    /// Optional capabilities the target claims; cases needing others are skipped.
    #[serde(default)]
    pub claims: BTreeSet<Capability>,
}

/// Reads a target profile; the problem names file and line.
pub fn load_profile(path: &Path) -> Result<TargetProfile, Problem> {
    let text = std::fs::read_to_string(path).map_err(|e| Problem {
        file: path.to_path_buf(),
        line: None,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    serde_saphyr::from_str(&text).map_err(|e| yaml_problem(path, &e))
}
