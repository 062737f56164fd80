//! Bundles to and from an S3-compatible object store.
//!
//! A run always writes its bundle to a local directory first; once it is
//! sealed (and signed), [`upload_bundle`] copies it to `s3://bucket/prefix/<name>/`.
//! [`fetch`] brings the objects under an `s3://` location back into a local
//! temporary directory, bounded in object count and bytes, so that `verify`
//! and `merge` read a bundle from the store exactly as they read a local one:
//! nothing downloaded is trusted until it has been verified.
//!
//! Credentials come only from the standard `AWS_*` environment variables
//! ([`Credentials::from_env`]); every error this crate returns has them
//! scrubbed out.

mod config;
mod error;
mod fetch;
mod location;
mod upload;

pub use config::{Credentials, StoreConfig};
pub use error::StorageError;
pub use fetch::{DEFAULT_MAX_BYTES, DEFAULT_MAX_OBJECTS, FetchLimits, Fetched, fetch};
pub use location::{StoreUrl, is_store_url};
pub use upload::{Uploaded, check_access, upload_bundle};
