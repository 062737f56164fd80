//! `tokencert keygen`: a P-256 key pair for signing bundles.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use p256::ecdsa::SigningKey;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use tokencert_core::sign;

/// Options of `tokencert keygen`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory for the key pair: tokencert-signing.key.pem (PKCS#8,
    /// readable by the owner only) and tokencert-signing.pub.pem. Existing
    /// files are never overwritten.
    #[arg(long, default_value = ".")]
    out: PathBuf,
}

/// File name of the private key.
pub const PRIVATE_FILE: &str = "tokencert-signing.key.pem";
/// File name of the public key.
pub const PUBLIC_FILE: &str = "tokencert-signing.pub.pem";

/// Writes a fresh key pair.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let key = fresh_key()?;
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .context("encoding the private key")?;
    let public = sign::public_key_pem(key.verifying_key())?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let private_path = args.out.join(PRIVATE_FILE);
    let public_path = args.out.join(PUBLIC_FILE);
    write_new(&private_path, private.as_bytes(), 0o600)?;
    write_new(&public_path, public.as_bytes(), 0o644)?;
    println!("key {}", sign::key_id(key.verifying_key())?);
    println!(
        "private: {0} (sign: tokencert run --key {0}, or set TOKENCERT_SIGNING_KEY)",
        private_path.display()
    );
    println!(
        "public:  {0} (verify: tokencert verify BUNDLE --key {0})",
        public_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A uniformly random valid P-256 private key from the operating system.
fn fresh_key() -> anyhow::Result<SigningKey> {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        // Rejects zero and values at or above the group order (about 2^-128 likely).
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}
