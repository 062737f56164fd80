//! Shared by the `tokencert` binary and the `cargo test` harness: choosing
//! the target (a URL from flags or the environment, else the embedded
//! reference service) and what it claims.

pub mod target;
