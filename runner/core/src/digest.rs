//! SHA-256 digests: of files, and of the suite as a whole.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// `sha256:<hex>` of some bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// `sha256:<hex>` of a file, read in pieces so memory stays bounded
/// whatever its size; `Ok(None)` when it is longer than `limit` bytes.
pub fn sha256_file(path: &Path, limit: u64) -> std::io::Result<Option<String>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(Some(format!("sha256:{}", hex(&hasher.finalize()))));
        }
        total += n as u64;
        if total > limit {
            return Ok(None);
        }
        hasher.update(&buffer[..n]);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The suite digest: SHA-256 over the lines `<hex sha256>  <path>\n` of
/// every file under `spec/` and `suites/`, sorted by path bytes, paths
/// relative to `root` with `/` separators. This is what
/// `find spec suites -type f | LC_ALL=C sort | xargs sha256sum | sha256sum`
/// prints, so a third party can recompute it without tokencert.
pub fn suite_digest(root: &Path) -> std::io::Result<String> {
    let mut files = Vec::new();
    for top in ["spec", "suites"] {
        collect_files(root, Path::new(top), &mut files)?;
    }
    let mut named = Vec::with_capacity(files.len());
    for path in files {
        let name = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let bytes = std::fs::read(root.join(&path))?;
        named.push((name, bytes));
    }
    Ok(suite_digest_of(
        named
            .iter()
            .map(|(name, bytes)| (name.as_str(), bytes.as_slice())),
    ))
}

/// The suite digest of files given as (path relative to the suite root
/// with `/` separators, content), in any order: the same value
/// [`suite_digest`] computes from a directory holding them.
pub fn suite_digest_of<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut lines: Vec<(&str, String)> = files
        .into_iter()
        .map(|(name, bytes)| (name, hex(&Sha256::digest(bytes))))
        .collect();
    lines.sort_by(|a, b| a.0.cmp(b.0));
    let mut listing = String::new();
    for (name, digest) in lines {
        listing.push_str(&digest);
        listing.push_str("  ");
        listing.push_str(name);
        listing.push('\n');
    }
    sha256(listing.as_bytes())
}

fn collect_files(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let path = rel.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_digest_equals_the_bytes_digest_and_stops_at_the_limit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f");
        let bytes = vec![7u8; 200_000];
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(
            sha256_file(&path, 200_000).expect("reads"),
            Some(sha256(&bytes))
        );
        assert_eq!(sha256_file(&path, 199_999).expect("reads"), None);
    }
}
