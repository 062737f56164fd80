//! Signing a bundle: a DSSE envelope over an in-toto Statement v1 whose
//! subjects are the manifest's files, signed with ECDSA P-256 / SHA-256.
//!
//! The envelope is `attestation.dsse.json` beside the manifest. Its payload
//! is the statement as canonical JSON (RFC 8785 key order, integers only,
//! no trailing newline); the signature is DER over DSSE's pre-authentication
//! encoding, so `openssl dgst -sha256 -verify` checks it as well. Signing
//! is deterministic (RFC 6979 nonces): the same bundle and key give the same
//! envelope.

use std::collections::BTreeMap;

use base64::Engine;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};
use serde::{Deserialize, Serialize};

use crate::bundle::{Manifest, RunInfo, TargetInfo};
use crate::canonical::{self, CanonicalError};
use crate::digest::sha256;

/// The envelope file in a bundle.
pub const ENVELOPE_FILE: &str = "attestation.dsse.json";
/// DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement v1 type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of tokencert results.
pub const PREDICATE_TYPE: &str = "https://tokencert.dev/attestation/conformance/v1";

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Always [`PAYLOAD_TYPE`].
    pub payload_type: String,
    /// The statement's bytes, base64.
    pub payload: String,
    /// One signature.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// `sha256:` digest of the signer's public key (SubjectPublicKeyInfo DER).
    pub keyid: String,
    /// DER-encoded ECDSA signature over the PAE, base64.
    pub sig: String,
}

/// An in-toto Statement v1 about a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// Every file of the manifest with its SHA-256.
    pub subject: Vec<Subject>,
    /// Always [`PREDICATE_TYPE`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// What the run was.
    pub predicate: Predicate,
}

/// One signed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Path inside the bundle.
    pub name: String,
    /// `{"sha256": hex}`.
    pub digest: BTreeMap<String, String>,
}

/// What the statement says about the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Predicate {
    /// Digest of the suite used.
    pub suite_digest: String,
    /// The tool and its version.
    pub tool: String,
    /// The target tested (never its key).
    pub target: TargetInfo,
    /// Verdict counts by level, then verdict.
    pub summary: BTreeMap<String, BTreeMap<String, u64>>,
    /// The signer's public key (PEM). A hint for readers only: verification
    /// uses the key the verifier supplies.
    pub signer_public_key: String,
}

/// Signing or checking a signature failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The key file is not a PKCS#8 P-256 key.
    #[error("not a PKCS#8 PEM P-256 {what} key: {message}")]
    Key {
        /// Private or public.
        what: &'static str,
        /// The parser's message.
        message: String,
    },
    /// The statement could not be written canonically.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// The envelope is not a tokencert DSSE envelope.
    #[error("the envelope is malformed: {0}")]
    Malformed(String),
    /// The signature does not verify with the given key.
    #[error(
        "the signature does not verify with the given key (signed by {signed_by}, the given key is {given}): a different signer, or a forged or altered envelope"
    )]
    WrongKey {
        /// Key id in the envelope.
        signed_by: String,
        /// Key id of the key given.
        given: String,
    },
    /// The statement does not describe the bundle's files.
    #[error("the signed statement does not match the bundle: {0}")]
    Mismatch(String),
}

/// Reads a PKCS#8 PEM private key.
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey, SignError> {
    SigningKey::from_pkcs8_pem(pem).map_err(|e| SignError::Key {
        what: "private",
        message: e.to_string(),
    })
}

/// Reads a PEM public key (SubjectPublicKeyInfo).
pub fn verifying_key_from_pem(pem: &str) -> Result<VerifyingKey, SignError> {
    VerifyingKey::from_public_key_pem(pem).map_err(|e| SignError::Key {
        what: "public",
        message: e.to_string(),
    })
}

/// The public key as PEM.
pub fn public_key_pem(key: &VerifyingKey) -> Result<String, SignError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| SignError::Key {
            what: "public",
            message: e.to_string(),
        })
}

/// `sha256:` digest of the key's SubjectPublicKeyInfo DER.
pub fn key_id(key: &VerifyingKey) -> Result<String, SignError> {
    let der = key.to_public_key_der().map_err(|e| SignError::Key {
        what: "public",
        message: e.to_string(),
    })?;
    Ok(sha256(der.as_bytes()))
}

/// DSSE's pre-authentication encoding: what is actually signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The statement for a sealed bundle: its manifest's files and the run.
pub fn statement(
    manifest: &Manifest,
    run: &RunInfo,
    summary: &BTreeMap<String, BTreeMap<String, u64>>,
    signer: &VerifyingKey,
) -> Result<Statement, SignError> {
    let subject = manifest
        .files
        .iter()
        .map(|(name, digest)| Subject {
            name: name.clone(),
            digest: BTreeMap::from([(
                "sha256".to_string(),
                digest.trim_start_matches("sha256:").to_string(),
            )]),
        })
        .collect();
    Ok(Statement {
        statement_type: STATEMENT_TYPE.into(),
        subject,
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Predicate {
            suite_digest: run.suite_digest.clone(),
            tool: run.tool.clone(),
            target: run.target.clone(),
            summary: summary.clone(),
            signer_public_key: public_key_pem(signer)?,
        },
    })
}

/// Signs a statement into an envelope.
pub fn sign(statement: &Statement, key: &SigningKey) -> Result<Envelope, SignError> {
    let mut payload = canonical::to_vec(statement)?;
    payload.pop(); // RFC 8785 has no trailing newline.
    let signature: Signature = key.sign(&pae(PAYLOAD_TYPE, &payload));
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(Envelope {
        payload_type: PAYLOAD_TYPE.into(),
        payload: b64.encode(&payload),
        signatures: vec![EnvelopeSignature {
            keyid: key_id(key.verifying_key())?,
            sig: b64.encode(signature.to_der().as_bytes()),
        }],
    })
}

/// Checks the envelope's signature with `key` and returns its statement.
pub fn open(envelope: &Envelope, key: &VerifyingKey) -> Result<Statement, SignError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(SignError::Malformed(format!(
            "payload type {:?}, expected {PAYLOAD_TYPE:?}",
            envelope.payload_type
        )));
    }
    let [signature] = envelope.signatures.as_slice() else {
        return Err(SignError::Malformed(format!(
            "{} signatures, expected one",
            envelope.signatures.len()
        )));
    };
    let payload = b64
        .decode(&envelope.payload)
        .map_err(|e| SignError::Malformed(format!("payload is not base64: {e}")))?;
    let der = b64
        .decode(&signature.sig)
        .map_err(|e| SignError::Malformed(format!("signature is not base64: {e}")))?;
    let wrong = || -> Result<SignError, SignError> {
        Ok(SignError::WrongKey {
            signed_by: signature.keyid.clone(),
            given: key_id(key)?,
        })
    };
    let Ok(parsed) = Signature::from_der(&der) else {
        return Err(wrong()?);
    };
    if key.verify(&pae(PAYLOAD_TYPE, &payload), &parsed).is_err() {
        return Err(wrong()?);
    }
    let statement: Statement = serde_json::from_slice(&payload)
        .map_err(|e| SignError::Malformed(format!("the payload is not a statement: {e}")))?;
    if statement.statement_type != STATEMENT_TYPE || statement.predicate_type != PREDICATE_TYPE {
        return Err(SignError::Malformed(format!(
            "statement type {:?} with predicate {:?}",
            statement.statement_type, statement.predicate_type
        )));
    }
    Ok(statement)
}

/// The statement must name exactly the manifest's files and digests.
pub fn check_subjects(statement: &Statement, manifest: &Manifest) -> Result<(), SignError> {
    let signed: BTreeMap<&str, String> = statement
        .subject
        .iter()
        .map(|s| {
            let digest = s
                .digest
                .get("sha256")
                .map_or_else(String::new, |d| format!("sha256:{d}"));
            (s.name.as_str(), digest)
        })
        .collect();
    for (name, digest) in &manifest.files {
        match signed.get(name.as_str()) {
            None => return Err(SignError::Mismatch(format!("{name} is not signed"))),
            Some(d) if d != digest => {
                return Err(SignError::Mismatch(format!(
                    "{name} is signed as {d}, the manifest says {digest}"
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = signed.keys().find(|n| !manifest.files.contains_key(**n)) {
        return Err(SignError::Mismatch(format!(
            "{extra} is signed but not in the manifest"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_slice(&[byte; 32]).expect("a valid scalar")
    }

    fn statement_for(key: &SigningKey) -> Statement {
        Statement {
            statement_type: STATEMENT_TYPE.into(),
            subject: vec![Subject {
                name: "run.json".into(),
                digest: BTreeMap::from([("sha256".into(), "ab".repeat(32))]),
            }],
            predicate_type: PREDICATE_TYPE.into(),
            predicate: Predicate {
                suite_digest: "sha256:00".into(),
                tool: "tokencert test".into(),
                target: TargetInfo {
                    base_url: "http://127.0.0.1:1/v1".into(),
                    model: "m".into(),
                    reference: None,
                },
                summary: BTreeMap::new(),
                signer_public_key: public_key_pem(key.verifying_key()).expect("pem"),
            },
        }
    }

    #[test]
    fn pae_matches_the_dsse_specification_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn a_signature_opens_with_its_key_only_and_is_deterministic() {
        let signer = key(7);
        let statement = statement_for(&signer);
        let envelope = sign(&statement, &signer).expect("signs");
        assert_eq!(envelope, sign(&statement, &signer).expect("signs"));
        assert_eq!(
            open(&envelope, signer.verifying_key()).expect("opens"),
            statement
        );
        let other = key(9);
        assert!(matches!(
            open(&envelope, other.verifying_key()),
            Err(SignError::WrongKey { .. })
        ));
    }

    #[test]
    fn keys_round_trip_through_pem() {
        use p256::pkcs8::EncodePrivateKey;
        let signer = key(3);
        let pem = signer.to_pkcs8_pem(LineEnding::LF).expect("pem");
        assert_eq!(signing_key_from_pem(&pem).expect("reads"), signer);
        let public = public_key_pem(signer.verifying_key()).expect("pem");
        assert_eq!(
            &verifying_key_from_pem(&public).expect("reads"),
            signer.verifying_key()
        );
        assert!(matches!(
            verifying_key_from_pem("not a key"),
            Err(SignError::Key { what: "public", .. })
        ));
    }
}
