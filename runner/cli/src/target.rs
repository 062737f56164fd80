//! Resolving what to test: a remote endpoint or the embedded reference service.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};

use tokencert_core::bundle::{ReferenceInfo, TargetInfo};
use tokencert_core::suite::{
    Accounting, Capability, Dialect, DialectClaim, Dialects, Limits, PerformanceClaim, RateLimit,
    TargetProfile,
};
use tokencert_drive::{ApiKey, Client, DeclaredIdentity, Remote, Target};
use tokencert_reference::{Capacity, Mutant, RunningServer};

/// The bearer key the embedded reference service is started with. It is
/// not a secret, but it is still redacted from evidence like any key.
pub const REFERENCE_KEY: &str = "sk-tokencert-reference";

/// Environment variables read when no flag says otherwise.
pub mod env {
    /// Base URL of the target, e.g. `http://127.0.0.1:8000/v1`.
    pub const BASE_URL: &str = "TOKENCERT_BASE_URL";
    /// Fallback for the base URL, as OpenAI's SDKs read it.
    pub const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";
    /// The bearer key.
    pub const API_KEY: &str = "OPENAI_API_KEY";
    /// The model to test.
    pub const MODEL: &str = "TOKENCERT_MODEL";
    /// A target profile (a path), as `run --profile` takes.
    pub const PROFILE: &str = "TOKENCERT_PROFILE";
    /// `1` allows a plain-http target that is not on this machine.
    pub const ALLOW_INSECURE_HTTP: &str = "TOKENCERT_ALLOW_INSECURE_HTTP";
}

/// The bearer key from the environment variable `var`: `None` when it is
/// unset or empty, which is an error for any variable but the default
/// [`env::API_KEY`] (naming another variable says a key is expected).
/// `run` and `init` take their key this way, never from an argument.
///
/// # Errors
///
/// [`TargetError::KeyUnset`] when `var` is not [`env::API_KEY`] and unset.
pub fn api_key_from_env(var: &str) -> Result<Option<ApiKey>, TargetError> {
    let key = std::env::var(var)
        .ok()
        .filter(|k| !k.is_empty())
        .map(ApiKey::new);
    if key.is_none() && var != env::API_KEY {
        return Err(TargetError::KeyUnset(var.to_string()));
    }
    Ok(key)
}

/// What the user asked to test.
#[derive(Debug, Default)]
pub struct Selection {
    /// Remote base URL; `None` means the embedded reference service.
    pub base_url: Option<String>,
    /// Model; defaults to the profile's, or the reference service's.
    pub model: Option<String>,
    /// Bearer key for a remote target.
    pub api_key: Option<ApiKey>,
    /// A target profile with claims and a model.
    pub profile: Option<TargetProfile>,
    /// Seed of the embedded service.
    pub seed: u64,
    /// Mutant of the embedded service.
    pub mutant: Option<Mutant>,
    /// The embedded service's capacity model (of its model
    /// `tokencert-reference-capacity`).
    pub capacity: Capacity,
    /// Allow a plain-http target that is not on this machine.
    pub allow_insecure_http: bool,
    /// The service classes the suite defines; the embedded service claims
    /// them all.
    pub slo_classes: BTreeSet<String>,
}

impl Selection {
    /// The selection the environment describes (used by `cargo test`):
    /// `TOKENCERT_BASE_URL`, else `OPENAI_BASE_URL`; `OPENAI_API_KEY`;
    /// `TOKENCERT_MODEL`; `TOKENCERT_PROFILE`. Empty variables count as unset.
    ///
    /// # Errors
    ///
    /// [`TargetError::Profile`] when `TOKENCERT_PROFILE` names a file that
    /// is not a valid target profile.
    pub fn from_env() -> Result<Self, TargetError> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        let profile = var(env::PROFILE)
            .map(|path| {
                tokencert_core::suite::load_profile(std::path::Path::new(&path))
                    .map_err(|p| TargetError::Profile(p.to_string()))
            })
            .transpose()?;
        Ok(Self {
            base_url: var(env::BASE_URL).or_else(|| var(env::OPENAI_BASE_URL)),
            model: var(env::MODEL),
            api_key: var(env::API_KEY).map(ApiKey::new),
            allow_insecure_http: var(env::ALLOW_INSECURE_HTTP).as_deref() == Some("1"),
            profile,
            ..Self::default()
        })
    }
}

/// A target ready to test. Holds the embedded server, if any, which stops
/// when this is dropped.
pub struct Prepared {
    /// Where requests go.
    pub target: Target,
    /// What the target claims.
    pub claims: BTreeSet<Capability>,
    /// How the target counts tokens.
    pub accounting: Accounting,
    /// The target as recorded in `run.json`.
    pub info: TargetInfo,
    /// The service classes the target claims and its performance model.
    pub performance: Option<PerformanceClaim>,
    /// The embedded reference service, when no URL was given.
    pub server: Option<RunningServer>,
    /// The identity of the model the target declares: its profile's, or
    /// for the embedded service its twin (see [`prepare`]).
    pub identity: Option<DeclaredIdentity>,
    /// The embedded service's twin, fingerprinted as the declared model.
    pub twin: Option<RunningServer>,
}

impl Prepared {
    /// Stops the embedded service and its twin, if any.
    pub async fn shutdown(self) {
        for server in [self.server, self.twin].into_iter().flatten() {
            server.shutdown().await;
        }
    }
}

/// The selection cannot be tested.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// `TOKENCERT_PROFILE` names no valid target profile.
    #[error("TOKENCERT_PROFILE does not name a usable target profile: {0}")]
    Profile(String),
    /// The embedded service's twin cannot be reached.
    #[error("the embedded service's twin: {0}")]
    Twin(String),
    /// `--api-key-env` names a variable that is not set.
    #[error("--api-key-env {0}: the variable is not set")]
    KeyUnset(String),
    /// A remote target that cannot be tested as described.
    #[error(transparent)]
    Remote(#[from] tokencert_drive::RemoteError),
    /// Mutants only exist in the embedded service.
    #[error(
        "--mutant selects a mutant of the embedded reference service; it cannot be combined with a target URL"
    )]
    MutantWithUrl,
    /// The embedded service did not start.
    #[error("cannot start the embedded reference service: {0}")]
    Reference(#[from] tokencert_reference::Error),
}

/// Starts the embedded service if needed and resolves model and claims.
pub async fn prepare(selection: Selection) -> Result<Prepared, TargetError> {
    match selection.base_url {
        Some(base_url) => {
            if selection.mutant.is_some() {
                return Err(TargetError::MutantWithUrl);
            }
            let identity = selection
                .profile
                .as_ref()
                .and_then(|p| p.identity.clone())
                .map(DeclaredIdentity::Profile);
            let remote = tokencert_drive::prepare_remote(Remote {
                base_url,
                model: selection.model,
                api_key: selection.api_key,
                profile: selection.profile,
                allow_insecure_http: selection.allow_insecure_http,
            })?;
            Ok(Prepared {
                target: remote.target,
                claims: remote.claims,
                accounting: remote.accounting,
                info: remote.info,
                performance: remote.performance,
                server: None,
                identity,
                twin: None,
            })
        }
        None => {
            let model = tokencert_reference::DEFAULT_MODEL.to_string();
            let config = tokencert_reference::Config {
                seed: selection.seed,
                api_key: Some(REFERENCE_KEY.into()),
                model: model.clone(),
                mutant: selection.mutant,
                capacity: selection.capacity,
                ..tokencert_reference::Config::default()
            };
            let limits = reference_limits(&config);
            let rate_limit = reference_rate_limit(&config);
            // The declared model's fingerprints come from a twin: the same
            // service (seed, mutant) serving the model it names, so only a
            // substituted model tells them apart.
            let twin_mutant = selection.mutant.filter(|m| *m != Mutant::ModelSubstituted);
            let twin_config = tokencert_reference::Config {
                mutant: twin_mutant,
                ..config.clone()
            };
            let twin =
                tokencert_reference::start(twin_config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                    .await?;
            let server =
                tokencert_reference::start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                    .await?;
            let base_url = server.base_url();
            let info = TargetInfo {
                base_url: base_url.clone(),
                model: model.clone(),
                reference: Some(ReferenceInfo {
                    seed: selection.seed,
                    mutant: selection.mutant.map(|m| m.name().to_string()),
                    capacity: Some(describe_capacity(&selection.capacity)),
                }),
            };
            let target = Target {
                base_url,
                model,
                api_key: Some(ApiKey::new(REFERENCE_KEY)),
                limits,
                rate_limit: Some(rate_limit),
                dialects: reference_dialects(),
            };
            let twin_target = Target {
                base_url: twin.base_url(),
                ..target.clone()
            };
            let identity = DeclaredIdentity::Twin {
                client: Box::new(
                    Client::new(twin_target, tokencert_drive::Limits::default())
                        .map_err(|e| TargetError::Twin(e.to_string()))?,
                ),
                target: TargetInfo {
                    base_url: twin.base_url(),
                    model: info.model.clone(),
                    reference: Some(ReferenceInfo {
                        seed: selection.seed,
                        mutant: twin_mutant.map(|m| m.name().to_string()),
                        capacity: Some(describe_capacity(&selection.capacity)),
                    }),
                },
                tokenizer_family: Some("o200k_base".into()),
            };
            // The reference service implements every optional feature and
            // counts tokens as OpenAI documents (the default accounting).
            let claims = Capability::ALL.iter().copied().collect();
            Ok(Prepared {
                target,
                claims,
                accounting: Accounting::openai_o200k(),
                info,
                performance: Some(PerformanceClaim {
                    model: Some(tokencert_reference::CAPACITY_MODEL.to_string()),
                    classes: selection.slo_classes,
                }),
                server: Some(server),
                identity: Some(identity),
                twin: Some(twin),
            })
        }
    }
}

/// The capacity model in a line, for `run.json`.
fn describe_capacity(c: &Capacity) -> String {
    let us = |d: std::time::Duration| d.as_micros();
    format!(
        "prefill {} us/token, step {} us + {} us/sequence, max batch {}, queue {}, jitter {}",
        us(c.prefill_per_token),
        us(c.step_base),
        us(c.step_per_sequence),
        c.max_batch,
        c.max_queue
            .map_or("unbounded".to_string(), |q| q.to_string()),
        c.jitter.map_or("none".to_string(), |j| format!(
            "{}% (seed {})",
            (j.fraction * 100.0).round(),
            j.seed
        ))
    )
}

/// The rate limit the embedded service enforces on its limited model.
/// The dialects the embedded reference serves: all of them, each at
/// `/v1`, keys in the dialect's own header.
pub fn reference_dialects() -> Dialects {
    Dialects(
        Dialect::ALL
            .into_iter()
            .map(|d| (d, DialectClaim::default()))
            .collect(),
    )
}

fn reference_rate_limit(config: &tokencert_reference::Config) -> RateLimit {
    let limit = &config.rate_limit;
    RateLimit {
        model: Some(tokencert_reference::LIMITED_MODEL.to_string()),
        requests: limit.requests,
        window_seconds: u32::try_from(limit.window.as_secs()).unwrap_or(u32::MAX),
        tokens: Some(limit.tokens),
    }
}

/// The limits the embedded service enforces.
fn reference_limits(config: &tokencert_reference::Config) -> Limits {
    Limits {
        max_context_tokens: config.max_context_tokens,
        max_request_bytes: config.max_request_bytes as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed profile of the reference service says what `prepare`
    /// does, so a run with `--profile suites/targets/reference.yaml` and
    /// one without a target are the same run.
    #[test]
    fn the_reference_profile_matches_the_embedded_service() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../suites/targets/reference.yaml");
        let profile = tokencert_core::suite::load_profile(&path).expect("the profile loads");
        let all: BTreeSet<Capability> = Capability::ALL.iter().copied().collect();
        assert_eq!(profile.claims, all);
        assert_eq!(profile.dialects, reference_dialects());
        assert_eq!(
            profile.limits,
            reference_limits(&tokencert_reference::Config::default())
        );
        assert_eq!(
            profile.model.as_deref(),
            Some(tokencert_reference::DEFAULT_MODEL)
        );
        let config = tokencert_reference::Config::default();
        assert_eq!(profile.rate_limit, Some(reference_rate_limit(&config)));
        assert_eq!(profile.accounting, Accounting::openai_o200k());
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let suite = tokencert_core::suite::load(&root).expect("the suite loads");
        assert_eq!(
            profile.performance,
            Some(PerformanceClaim {
                model: Some(tokencert_reference::CAPACITY_MODEL.to_string()),
                classes: suite.slo_profiles.keys().cloned().collect(),
            })
        );
    }
}
