//! Errors of the object-store transfers. None of them carries a credential:
//! messages from the store are scrubbed (see [`crate::Credentials::scrub`]).

use std::path::PathBuf;

/// What went wrong moving a bundle to or from a store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The location is not `s3://bucket/prefix`.
    #[error("invalid store location {url}: {why}")]
    BadUrl {
        /// The location as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// A required environment variable is not set.
    #[error(
        "no store credentials: {var} is not set (credentials are read only from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, optionally, AWS_SESSION_TOKEN)"
    )]
    MissingCredentials {
        /// The variable that is missing.
        var: &'static str,
    },
    /// The endpoint is not a usable URL, or is plain http to another machine.
    #[error("store endpoint {endpoint}: {why}")]
    BadEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        why: String,
    },
    /// The store refused the credentials or the request (HTTP 401/403).
    #[error(
        "the store refused the credentials for {action} (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and the key's permissions on the bucket): {detail}"
    )]
    Refused {
        /// What was being done, e.g. `listing s3://b/p`.
        action: String,
        /// The store's answer, with credentials scrubbed.
        detail: String,
    },
    /// Any other failure of the store or the connection to it.
    #[error("object store error {action}: {detail}")]
    Store {
        /// What was being done.
        action: String,
        /// The store's answer, with credentials scrubbed.
        detail: String,
    },
    /// The destination already holds objects: a bundle is never overwritten.
    #[error("{url} already holds objects; tokencert never overwrites a bundle in a store")]
    Exists {
        /// The destination.
        url: String,
    },
    /// Nothing is stored under the location.
    #[error("no objects under {url}")]
    Empty {
        /// The location.
        url: String,
    },
    /// The location holds more than the fetch limits allow.
    #[error("{url} holds more than {limit} {what}; refusing to download it")]
    TooLarge {
        /// The location.
        url: String,
        /// `objects` or `bytes`.
        what: &'static str,
        /// The limit that was exceeded.
        limit: u64,
    },
    /// An object's key cannot be a file below the download directory.
    #[error("object {key} cannot be stored locally: {why}")]
    UnsafeKey {
        /// The object's key.
        key: String,
        /// Why not.
        why: String,
    },
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl StorageError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| StorageError::Io { path, source }
    }
}
