//! A sealed bundle directory into the store.

use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use tokio::io::AsyncWriteExt;

use crate::config::{Credentials, StoreConfig, store_error};
use crate::error::StorageError;
use crate::location::{StoreUrl, check_segment};

/// Files uploaded last, in this order: a reader that finds the manifest (and
/// the signature over it) finds every file it lists already there.
const LAST: [&str; 2] = ["manifest.json", "attestation.dsse.json"];

/// What [`upload_bundle`] stored.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// Where the bundle now is: `<destination>/<bundle directory name>`.
    pub url: StoreUrl,
    /// Objects written.
    pub objects: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Lists `url` once (one page at most): shows before a long run that the
/// endpoint answers, the bucket exists and the credentials may list it.
pub async fn check_access(
    url: &StoreUrl,
    config: &StoreConfig,
    credentials: &Credentials,
) -> Result<(), StorageError> {
    let store = config.client(url, credentials)?;
    let prefix = (!url.prefix.is_empty()).then(|| ObjectPath::from(url.prefix.as_str()));
    store
        .list(prefix.as_ref())
        .try_next()
        .await
        .map_err(store_error(credentials, format!("listing {url}")))?;
    Ok(())
}

/// Copies the bundle directory `bundle` to `destination/<its name>/`,
/// file by file (large files as multipart uploads), the manifest and the
/// signature last. Refuses when that location already holds objects.
pub async fn upload_bundle(
    bundle: &Path,
    destination: &StoreUrl,
    config: &StoreConfig,
    credentials: &Credentials,
) -> Result<Uploaded, StorageError> {
    let name = bundle
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| StorageError::BadUrl {
            url: bundle.display().to_string(),
            why: "the bundle directory has no UTF-8 name".into(),
        })?;
    check_segment(name).map_err(|why| StorageError::UnsafeKey {
        key: name.to_string(),
        why,
    })?;
    let url = destination.join(name);
    let store = config.client(&url, credentials)?;
    let root = ObjectPath::from(url.prefix.as_str());
    let existing = store
        .list(Some(&root))
        .try_next()
        .await
        .map_err(store_error(credentials, format!("listing {url}")))?;
    if existing.is_some() {
        return Err(StorageError::Exists {
            url: url.to_string(),
        });
    }
    let mut files = Vec::new();
    collect_files(bundle, "", &mut files)?;
    files.sort_by_key(|(key, _)| (LAST.iter().position(|l| l == key), key.clone()));
    let mut bytes = 0;
    for (key, path) in &files {
        let location = ObjectPath::from(format!("{}/{key}", url.prefix));
        let action = format!("writing {url}/{key}");
        bytes += put_file(store.clone(), path, location, credentials, action).await?;
    }
    Ok(Uploaded {
        url,
        objects: files.len(),
        bytes,
    })
}

/// Streams one file into the store in chunks of 8 MiB (a multipart upload
/// when it is larger than one chunk).
async fn put_file(
    store: std::sync::Arc<object_store::aws::AmazonS3>,
    path: &Path,
    location: ObjectPath,
    credentials: &Credentials,
    action: String,
) -> Result<u64, StorageError> {
    const CHUNK: usize = 8 * 1024 * 1024;
    let mut file = std::fs::File::open(path).map_err(StorageError::io(path))?;
    let mut writer = BufWriter::with_capacity(store, location, CHUNK);
    let mut copied = 0u64;
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        let n = (&mut file)
            .take(CHUNK as u64)
            .read_to_end(&mut chunk)
            .map_err(StorageError::io(path))?;
        if n == 0 {
            break;
        }
        copied += n as u64;
        if let Err(e) = writer.put(Bytes::from(chunk)).await {
            let _ = writer.abort().await;
            return Err(store_error(credentials, action)(e));
        }
    }
    writer.shutdown().await.map_err(|e| StorageError::Store {
        detail: credentials.scrub(&e.to_string()),
        action,
    })?;
    Ok(copied)
}

/// Every regular file below `dir` as (`/`-joined key, path). Symbolic links
/// and other special files are refused: a sealed bundle holds neither.
fn collect_files(
    dir: &Path,
    key_prefix: &str,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), StorageError> {
    let entries = std::fs::read_dir(dir).map_err(StorageError::io(dir))?;
    for entry in entries {
        let entry = entry.map_err(StorageError::io(dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_str().ok_or_else(|| StorageError::UnsafeKey {
            key: path.display().to_string(),
            why: "not UTF-8".into(),
        })?;
        check_segment(name).map_err(|why| StorageError::UnsafeKey {
            key: path.display().to_string(),
            why,
        })?;
        let key = if key_prefix.is_empty() {
            name.to_string()
        } else {
            format!("{key_prefix}/{name}")
        };
        let kind = entry.file_type().map_err(StorageError::io(&path))?;
        if kind.is_dir() {
            collect_files(&path, &key, out)?;
        } else if kind.is_file() {
            out.push((key, path));
        } else {
            return Err(StorageError::UnsafeKey {
                key: path.display().to_string(),
                why: "neither a regular file nor a directory".into(),
            });
        }
    }
    Ok(())
}
