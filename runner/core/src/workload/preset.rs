//! The Artificial-Analysis-style workload presets, clipped to a context
//! window.

use serde::{Deserialize, Serialize};

use super::WorkloadError;

/// A prompt length and an output length (`max_tokens`), in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lengths {
    /// Tokens of the prompt.
    pub prompt: u64,
    /// Tokens the completion may have (`max_tokens`).
    pub output: u64,
}

impl Lengths {
    /// These lengths fitted into a context window of `context` tokens
    /// (`prompt + output <= context`): the prompt shrinks first and the
    /// output is kept; only if even a one-token prompt does not fit does
    /// the output shrink too, to `context - 1`.
    ///
    /// The caller passes the window less whatever the chat template adds
    /// around the messages.
    ///
    /// # Errors
    ///
    /// [`WorkloadError::Invalid`] if `context` is below 2 (no room for one
    /// prompt token and one output token).
    pub fn clip(self, context: u64) -> Result<Lengths, WorkloadError> {
        if context < 2 {
            return Err(WorkloadError::Invalid(format!(
                "a context window of {context} tokens leaves no room for a prompt and an output"
            )));
        }
        if self.prompt.saturating_add(self.output) <= context {
            return Ok(self);
        }
        if self.output < context {
            return Ok(Lengths {
                prompt: context - self.output,
                output: self.output,
            });
        }
        Ok(Lengths {
            prompt: 1,
            output: context - 1,
        })
    }
}

/// A preset of prompt and output lengths, as Artificial Analysis measures
/// (in → out tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// `short`: 100 → 300.
    Short,
    /// `medium`: 1,000 → 1,000.
    Medium,
    /// `long`: 10,000 → 1,500.
    Long,
    /// `very-long`: 100,000 → 2,000.
    VeryLong,
}

impl Preset {
    /// Every preset, shortest first.
    pub const ALL: [Preset; 4] = [
        Preset::Short,
        Preset::Medium,
        Preset::Long,
        Preset::VeryLong,
    ];

    /// The preset's name, as written in YAML.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Short => "short",
            Preset::Medium => "medium",
            Preset::Long => "long",
            Preset::VeryLong => "very-long",
        }
    }

    /// The preset's lengths, unclipped.
    pub fn lengths(self) -> Lengths {
        let (prompt, output) = match self {
            Preset::Short => (100, 300),
            Preset::Medium => (1_000, 1_000),
            Preset::Long => (10_000, 1_500),
            Preset::VeryLong => (100_000, 2_000),
        };
        Lengths { prompt, output }
    }

    /// The preset's lengths clipped to a context window of `context`
    /// tokens, as [`Lengths::clip`] does (the prompt shrinks first).
    ///
    /// # Errors
    ///
    /// As [`Lengths::clip`].
    pub fn clipped(self, context: u64) -> Result<Lengths, WorkloadError> {
        self.lengths().clip(context)
    }
}
