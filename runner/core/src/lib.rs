//! tokencert-core: the pure half of tokencert.
//!
//! Loads and validates the standard and the suite, parses recorded
//! evidence (including a strict SSE parser), runs the named checks,
//! judges and verifies bundles, plans seeded workloads, and derives a
//! soak's stability figures. Nothing here touches the network or reads a
//! clock, and the only random draws are a workload's, from its seed:
//! verdicts are a function of the suite and the evidence alone.

pub mod bundle;
pub mod canonical;
pub mod check;
pub mod compare;
pub mod digest;
pub mod evidence;
pub mod fingerprint;
pub mod fit;
pub mod identify;
pub mod judge;
pub mod merge;
pub mod metrics;
pub mod performance;
pub mod price;
pub mod report;
pub mod sign;
pub mod soak;
pub mod sse;
pub mod suite;
pub mod tokens;
pub mod workload;
