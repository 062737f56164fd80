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
    /// Optional capabilities the target claims; cases needing others are reported as not claimed.
    #[serde(default)]
    pub claims: BTreeSet<Capability>,
    /// Declared limits, used to build over-limit requests.
    #[serde(default)]
    pub limits: Limits,
}

/// Limits a target declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The context window in tokens (prompt plus completion).
    #[serde(default = "default_context")]
    pub max_context_tokens: u64,
    /// The largest request body accepted, in bytes.
    #[serde(default = "default_request_bytes")]
    pub max_request_bytes: u64,
}

fn default_context() -> u64 {
    Limits::default().max_context_tokens
}

fn default_request_bytes() -> u64 {
    Limits::default().max_request_bytes
}

impl Default for Limits {
    /// 128 Ki tokens and 8 MiB: generous enough that an undeclared target
    /// is still pushed past its real limits.
    fn default() -> Self {
        Self {
            max_context_tokens: 131_072,
            max_request_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Reads a target profile; the problem names file and line.
pub fn load_profile(path: &Path) -> Result<TargetProfile, Problem> {
    let text = std::fs::read_to_string(path).map_err(|e| Problem {
        file: path.to_path_buf(),
        line: None,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    super::parse_yaml(&text).map_err(|e| yaml_problem(path, &e))
}
