//! Fuzz targets for tokencert-core: each is a function over arbitrary bytes
//! that must return for every input without panicking (a panic is a bug,
//! whether in the code under test or in an invariant asserted here).
//!
//! cargo-fuzz drives them from `fuzz/` on nightly; `tests/smoke.rs` replays
//! the committed corpus and a seeded mutation loop on stable.

mod bundle;
mod evidence;
mod fixture;
mod sse;
mod suite;

pub use bundle::bundle;
pub use evidence::evidence;
pub use sse::sse;
pub use suite::suite;

/// A fuzz target: returns for every input, panics only on a bug.
pub type Target = fn(&[u8]);

/// Every target by name (the name of its corpus directory and of its
/// cargo-fuzz target).
pub const TARGETS: [(&str, Target); 4] = [
    ("sse", sse),
    ("suite", suite),
    ("evidence", evidence),
    ("bundle", bundle),
];

/// Splits a multi-file input into its files: NUL separates them, a byte
/// that neither JSON nor YAML text contains.
fn files(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == 0).collect()
}
