//! Objects under an `s3://` location into a local temporary directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::config::{Credentials, StoreConfig, store_error};
use crate::error::StorageError;
use crate::location::{StoreUrl, check_segment};

/// Default cap on the objects one fetch downloads: a bundle holds a few per
/// case, a merged bundle a few per case per shard.
pub const DEFAULT_MAX_OBJECTS: u64 = 100_000;
/// Default cap on the bytes one fetch downloads (16 GiB).
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// Bounds on what [`fetch`] downloads, checked on the listing before the
/// first byte and again on the bytes as they arrive.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// Most objects.
    pub max_objects: u64,
    /// Most bytes in all.
    pub max_bytes: u64,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            max_objects: DEFAULT_MAX_OBJECTS,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// A downloaded copy; the directory is removed when this is dropped.
#[derive(Debug)]
pub struct Fetched {
    dir: tempfile::TempDir,
    /// Objects downloaded.
    pub objects: u64,
    /// Bytes downloaded.
    pub bytes: u64,
}

impl Fetched {
    /// The directory holding the objects, keys relative to the location.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The bundles in the copy: the root itself when it holds a `run.json`
    /// or `manifest.json`, else each immediate subdirectory that does
    /// (so `s3://b/run-42` may hold one bundle or all the shards of a run),
    /// sorted by name.
    pub fn bundles(&self) -> Result<Vec<PathBuf>, StorageError> {
        let root = self.root();
        if is_bundle(root) {
            return Ok(vec![root.to_path_buf()]);
        }
        let mut found = Vec::new();
        for entry in std::fs::read_dir(root).map_err(StorageError::io(root))? {
            let path = entry.map_err(StorageError::io(root))?.path();
            if path.is_dir() && is_bundle(&path) {
                found.push(path);
            }
        }
        found.sort();
        Ok(found)
    }
}

fn is_bundle(dir: &Path) -> bool {
    dir.join("run.json").is_file() || dir.join("manifest.json").is_file()
}

/// Downloads every object under `url` into a fresh temporary directory
/// (0700; files 0600 on unix), refusing, before downloading anything, a
/// location that lists more than `limits` allow or a key that cannot be a
/// file below that directory; bytes are counted again as they arrive.
pub async fn fetch(
    url: &StoreUrl,
    config: &StoreConfig,
    credentials: &Credentials,
    limits: FetchLimits,
) -> Result<Fetched, StorageError> {
    let store = config.client(url, credentials)?;
    let prefix = (!url.prefix.is_empty()).then(|| ObjectPath::from(url.prefix.as_str()));
    let mut listing = store.list(prefix.as_ref());
    let mut objects: Vec<(ObjectMeta, Vec<String>)> = Vec::new();
    let mut listed_bytes: u64 = 0;
    while let Some(meta) = listing
        .try_next()
        .await
        .map_err(store_error(credentials, format!("listing {url}")))?
    {
        if objects.len() as u64 >= limits.max_objects {
            return Err(too_large(url, "objects", limits.max_objects));
        }
        listed_bytes = listed_bytes.saturating_add(meta.size);
        if listed_bytes > limits.max_bytes {
            return Err(too_large(url, "bytes", limits.max_bytes));
        }
        let segments = relative_segments(url, &meta.location)?;
        objects.push((meta, segments));
    }
    if objects.is_empty() {
        return Err(StorageError::Empty {
            url: url.to_string(),
        });
    }
    let dir = tempfile::Builder::new()
        .prefix("tokencert-fetch-")
        .tempdir()
        .map_err(StorageError::io(std::env::temp_dir()))?;
    let mut bytes: u64 = 0;
    for (meta, segments) in &objects {
        let path = local_path(dir.path(), segments)?;
        let action = || format!("reading {url}/{}", segments.join("/"));
        let result = store
            .get(&meta.location)
            .await
            .map_err(store_error(credentials, action()))?;
        let mut stream = result.into_stream();
        let mut file = create_private(&path)?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(store_error(credentials, action()))?;
            bytes = bytes.saturating_add(chunk.len() as u64);
            if bytes > limits.max_bytes {
                return Err(too_large(url, "bytes", limits.max_bytes));
            }
            file.write_all(&chunk).map_err(StorageError::io(&path))?;
        }
        file.sync_all().map_err(StorageError::io(&path))?;
    }
    Ok(Fetched {
        dir,
        objects: objects.len() as u64,
        bytes,
    })
}

fn too_large(url: &StoreUrl, what: &'static str, limit: u64) -> StorageError {
    StorageError::TooLarge {
        url: url.to_string(),
        what,
        limit,
    }
}

/// The key's segments below `url`'s prefix, each checked to be a safe name.
fn relative_segments(url: &StoreUrl, location: &ObjectPath) -> Result<Vec<String>, StorageError> {
    let key = location.as_ref();
    let unsafe_key = |why: String| StorageError::UnsafeKey {
        key: key.to_string(),
        why,
    };
    let rest = if url.prefix.is_empty() {
        key
    } else {
        key.strip_prefix(url.prefix.as_str())
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| unsafe_key(format!("not below {url}")))?
    };
    let segments: Vec<String> = rest.split('/').map(str::to_string).collect();
    for segment in &segments {
        check_segment(segment).map_err(unsafe_key)?;
    }
    if segments.len() > 16 {
        return Err(unsafe_key("nested more than 16 levels deep".into()));
    }
    Ok(segments)
}

/// `root/seg/...`, creating the parent directories (0700 on unix).
fn local_path(root: &Path, segments: &[String]) -> Result<PathBuf, StorageError> {
    let mut path = root.to_path_buf();
    for segment in segments {
        path.push(segment);
    }
    if let Some(parent) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(parent).map_err(StorageError::io(parent))?;
    }
    Ok(path)
}

/// A new file, 0600 on unix; refuses one that exists (two keys, one file).
fn create_private(path: &Path) -> Result<std::fs::File, StorageError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(StorageError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_below_the_prefix_only() {
        let url = StoreUrl::parse("s3://bucket/runs/42").expect("valid");
        let ok =
            relative_segments(&url, &ObjectPath::from("runs/42/shard-0/run.json")).expect("below");
        assert_eq!(ok, ["shard-0", "run.json"]);
        assert!(relative_segments(&url, &ObjectPath::from("runs/420/run.json")).is_err());
        assert!(relative_segments(&url, &ObjectPath::from("runs/42/a:b")).is_err());
        let deep = format!("runs/42/{}", vec!["d"; 17].join("/"));
        assert!(relative_segments(&url, &ObjectPath::from(deep.as_str())).is_err());
    }
}
