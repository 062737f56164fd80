//! `tokencert report`: verify a bundle, then render `report.md`,
//! `report.html` and `junit.xml` from it; with `--compare`, also verify
//! another run's bundle and append the comparison to `report.html`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use tokencert_core::bundle::{self, evidence_path};
use tokencert_core::compare;
use tokencert_core::evidence::read_exchanges;
use tokencert_core::judge::Verdict;
use tokencert_core::report::{self, Input};
use tokencert_core::sign;

/// Options of `tokencert report`.
#[derive(clap::Args)]
pub struct Args {
    /// The bundle directory. It is verified first (as `tokencert verify`
    /// does); a bundle that does not verify gets no report.
    bundle: PathBuf,
    /// Public key (PEM) the bundle must be signed with.
    #[arg(long, value_name = "PUB")]
    key: Option<PathBuf>,
    /// Directory for report.md, report.html and junit.xml; default: beside
    /// the bundle, named after it with `-report`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Another run's bundle of the same suite (e.g. an auditor's re-run):
    /// verified too (its signature is not checked against a key), compared
    /// as `tokencert compare BUNDLE OTHER` does, and the comparison
    /// appended to report.html.
    #[arg(long, value_name = "OTHER_BUNDLE")]
    compare: Option<PathBuf>,
}

/// Verifies and renders.
pub fn run(root: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let suite = super::load_suite(root)?;
    let key = super::read_key(args.key.as_deref(), sign::verifying_key_from_pem)?;
    let verified = bundle::verify(&args.bundle, &suite, key.as_ref())
        .with_context(|| format!("{} does not verify; no report", args.bundle.display()))?;
    let comparison = match &args.compare {
        Some(other) => {
            let verified_other = bundle::verify(other, &suite, None).with_context(|| {
                format!("{} (--compare) does not verify; no report", other.display())
            })?;
            let side = |dir: &Path, v| {
                compare::read_side(dir, v)
                    .with_context(|| format!("reading the loads of {}", dir.display()))
            };
            let comparison = compare::compare(
                &side(&args.bundle, verified.clone())?,
                &side(other, verified_other)?,
            );
            Some((other, comparison))
        }
        None => None,
    };
    let mut evidence = BTreeMap::new();
    for case in &verified.results.cases {
        if !matches!(case.verdict, Verdict::Fail | Verdict::Error) {
            continue;
        }
        let path = evidence_path(&args.bundle, &case.id);
        if let Some(last) = read_exchanges(&path).ok().and_then(|mut e| e.pop()) {
            evidence.insert(case.id.clone(), last);
        }
    }
    let input = Input {
        suite: &suite,
        run: &verified.run,
        results: &verified.results,
        signer: &verified.signer,
        evidence: &evidence,
    };
    let out = args.out.clone().unwrap_or_else(|| {
        let name = args
            .bundle
            .file_name()
            .map_or_else(|| "bundle".into(), |n| n.to_string_lossy().into_owned());
        args.bundle.with_file_name(format!("{name}-report"))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let html = match &comparison {
        Some((_, c)) => report::html_with_comparison(&input, c),
        None => report::html(&input),
    };
    for (file, text) in [
        ("report.md", report::markdown(&input)),
        ("report.html", html),
        ("junit.xml", report::junit(&verified.results)),
    ] {
        let path = out.join(file);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if let Some((other, c)) = &comparison {
        println!("compared with {}: {}", other.display(), c.outcome);
    }
    Ok(ExitCode::SUCCESS)
}
