//! Bundle verification on a bundle directory made from the input.

use std::path::Path;
use std::sync::LazyLock;

use p256::ecdsa::SigningKey;
use tokencert_core::bundle::{self, RunInfo};
use tokencert_core::sign::ENVELOPE_FILE;

use crate::fixture::SUITE;

/// Replaced in `run.json` by the project suite's digest, so that seeds
/// stay deep while the suite changes.
const SUITE_DIGEST: &[u8] = b"@SUITE@";
/// An envelope part saying "sign the bundle with [`KEY`]".
const SIGN: &[u8] = b"@SIGN@";

/// Indices of the parts after `run.json`.
const EVIDENCE: usize = 1;
const RESULTS: usize = 2;
const MANIFEST: usize = 3;
const ENVELOPE: usize = 4;

/// A fixed signing key.
static KEY: LazyLock<SigningKey> = LazyLock::new(|| {
    SigningKey::from_slice(&[7; 32]).unwrap_or_else(|e| panic!("a fixed P-256 key: {e}"))
});

/// Builds a bundle from the NUL-separated parts of `data` and verifies it
/// (files, signature without and with the key, re-judging) and inspects it
/// as a partial bundle. The parts, in order: `run.json` (`@SUITE@` replaced
/// by the suite's digest); the evidence of the plan's first case;
/// `results.json` (empty: the re-judged results); `manifest.json` (empty:
/// written over the files); the DSSE envelope (empty: none; `@SIGN@`:
/// signed with a fixed key). A missing part is a missing file, so a killed
/// run's bundle is the first two.
pub fn bundle(data: &[u8]) {
    let parts = crate::files(data);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path();
    let run = replace(parts[0], SUITE_DIGEST, SUITE.digest.as_bytes());
    write(root, bundle::RUN_FILE, &run);
    if let Some(evidence) = parts.get(EVIDENCE) {
        let case = serde_json::from_slice::<RunInfo>(&run)
            .ok()
            .and_then(|r| r.plan.cases.into_iter().next())
            .filter(|c| plain_name(c))
            .unwrap_or_else(|| "fuzz".into());
        std::fs::create_dir_all(root.join(bundle::EVIDENCE_DIR)).expect("evidence/ is created");
        std::fs::write(bundle::evidence_path(root, &case), evidence)
            .expect("the evidence is written");
    }
    match parts.get(RESULTS) {
        Some([]) => {
            if let Ok(results) = bundle::rejudge(root, &SUITE) {
                let path = root.join(bundle::RESULTS_FILE);
                bundle::write_canonical(&path, &results).expect("results.json is written");
            }
        }
        Some(results) => write(root, bundle::RESULTS_FILE, results),
        None => {}
    }
    match parts.get(MANIFEST) {
        Some([]) => {
            let _ = bundle::write_manifest(root);
        }
        Some(manifest) => write(root, bundle::MANIFEST_FILE, manifest),
        None => {}
    }
    match parts.get(ENVELOPE) {
        Some(&SIGN) => {
            let _ = bundle::sign_bundle(root, &KEY);
        }
        Some([]) | None => {}
        Some(envelope) => write(root, ENVELOPE_FILE, envelope),
    }
    let _ = bundle::verify_files(root).map_err(|e| e.to_string());
    let _ = bundle::read_results(root).map_err(|e| e.to_string());
    for key in [None, Some(KEY.verifying_key())] {
        if let Err(e) = bundle::verify(root, &SUITE, key) {
            let _ = e.to_string();
        }
    }
    if let Ok((_, cases)) = bundle::inspect_partial(root, &SUITE) {
        for case in cases {
            assert!(case.complete <= (case.exchanges > 0), "{case:?}");
        }
    }
}

fn write(root: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(root.join(name), bytes).expect("a bundle file is written");
}

/// A case id usable as a file name.
fn plain_name(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `haystack` with every `from` replaced by `to`.
fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(i) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}
