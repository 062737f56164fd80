//! Shared by the `tokencert` binary and the `cargo test` harness: the
//! standard embedded in the binary, and choosing the target (a URL from
//! flags or the environment, else the embedded reference service) and
//! what it claims.

pub mod standard;
pub mod target;
