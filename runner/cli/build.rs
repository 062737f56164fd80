//! Embeds the standard (`spec/` and `suites/` of the checkout this crate is
//! built from) in the binary: writes `$OUT_DIR/standard.rs`, a table of
//! every file's path (relative to the checkout, `/`-separated) and bytes.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.join("../..");
    let mut files = Vec::new();
    for top in ["spec", "suites"] {
        let dir = root.join(top);
        // A directory scan also notices added and removed files.
        println!("cargo:rerun-if-changed={}", dir.display());
        collect(&root, Path::new(top), &mut files);
    }
    files.sort();
    let mut table = String::from("&[\n");
    for rel in &files {
        let name: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let absolute = root
            .join(rel)
            .canonicalize()
            .expect("a standard file resolves");
        table.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            name.join("/"),
            absolute
        ));
    }
    table.push(']');
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("standard.rs"), table).expect("OUT_DIR is writable");
}

fn collect(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(root.join(rel))
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.join(rel).display()));
    for entry in entries {
        let entry = entry.expect("a directory entry");
        let path = rel.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            collect(root, &path, out);
        } else {
            out.push(path);
        }
    }
}
