//! A bundle as one plain tar archive, `bundles/<id>/...` inside, so that
//! `tar -xf <id>.tar && tokencert verify bundles/<id>` works as shown.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::DashboardError;

/// Writes the bundle directory `dir` (id `id`) as a tar archive to `out`.
/// Only directories and regular files are archived (a verified bundle
/// holds nothing else; links are skipped, never followed), in sorted
/// order, with fixed modes and times: the same bundle gives the same bytes.
pub fn write_tar<W: Write>(dir: &Path, id: &str, out: W) -> Result<W, DashboardError> {
    let mut builder = tar::Builder::new(out);
    let root = PathBuf::from("bundles").join(id);
    let mut stack = vec![PathBuf::new()];
    let io = |p: &Path, e| DashboardError::io(p.to_path_buf(), e);
    while let Some(rel) = stack.pop() {
        let abs = dir.join(&rel);
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_mtime(0);
        header.set_size(0);
        builder
            .append_data(&mut header, root.join(&rel), std::io::empty())
            .map_err(|e| io(&abs, e))?;
        let mut entries: Vec<_> = std::fs::read_dir(&abs)
            .map_err(|e| io(&abs, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| io(&abs, e))?;
        entries.sort_by_key(|e| e.file_name());
        let mut dirs = Vec::new();
        for entry in entries {
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| io(&path, e))?;
            let name = rel.join(entry.file_name());
            if kind.is_dir() {
                dirs.push(name);
            } else if kind.is_file() {
                let file = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
                let len = file.metadata().map_err(|e| io(&path, e))?.len();
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_mtime(0);
                header.set_size(len);
                builder
                    .append_data(
                        &mut header,
                        root.join(&name),
                        std::io::Read::take(file, len),
                    )
                    .map_err(|e| io(&path, e))?;
            }
        }
        // Popped in reverse: push so that the first sorts first.
        stack.extend(dirs.into_iter().rev());
    }
    builder.into_inner().map_err(|e| io(dir, e))
}
