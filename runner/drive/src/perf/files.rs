//! The result files of a run (`summary.json`, `sweep.json`, `soak.json`):
//! canonical JSON assembled from canonical members, written owner-only.

use std::path::Path;

use super::PerfError;

/// A canonical object from canonical members (each ending with a newline,
/// which is dropped); keys are ASCII, so byte order is UTF-16 order.
pub(super) fn object(members: &mut [(&str, Vec<u8>)]) -> Vec<u8> {
    members.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = b"{".to_vec();
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!("{key:?}:").as_bytes());
        out.extend_from_slice(value.strip_suffix(b"\n").unwrap_or(value));
    }
    out.push(b'}');
    out
}

/// The canonical object of `members` and a final newline: a result file's
/// bytes.
pub(super) fn file(members: &mut [(&str, Vec<u8>)]) -> Vec<u8> {
    let mut bytes = object(members);
    bytes.push(b'\n');
    bytes
}

/// Writes a result file its owner's alone (0o600 on unix): it names the
/// target and what it answered.
pub(super) fn write_owner_only(path: &Path, bytes: &[u8]) -> Result<(), PerfError> {
    tokencert_core::bundle::write_private(path, bytes).map_err(|source| PerfError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates a run directory (with its missing parents) its owner's alone.
pub(super) fn create_owner_only(dir: &Path) -> Result<(), PerfError> {
    tokencert_core::bundle::create_private_dir(dir).map_err(|source| PerfError::Create {
        path: dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_canonical() {
        let mut members = vec![("b", b"2\n".to_vec()), ("a", b"\"x\"\n".to_vec())];
        assert_eq!(object(&mut members), br#"{"a":"x","b":2}"#.to_vec());
    }
}
