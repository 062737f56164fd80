//! Resolving what to test: a remote endpoint or the embedded reference service.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};

use tokencert_core::bundle::{ReferenceInfo, TargetInfo};
use tokencert_core::suite::{
    Accounting, Capability, Limits, PerformanceClaim, RateLimit, TargetProfile,
};
use tokencert_drive::{ApiKey, Target};
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
}

/// The selection cannot be tested.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// `TOKENCERT_PROFILE` names no valid target profile.
    #[error("TOKENCERT_PROFILE does not name a usable target profile: {0}")]
    Profile(String),
    /// A remote target without a model name.
    #[error(
        "no model to test at {0}: pass --model, set TOKENCERT_MODEL, or use a --profile that names one"
    )]
    NoModel(String),
    /// A base URL that is not http(s).
    #[error(
        "the target URL {0:?} must start with http:// or https:// and include the version prefix, e.g. http://127.0.0.1:8000/v1"
    )]
    BadUrl(String),
    /// A base URL carrying credentials, a query or a fragment: credentials
    /// would be recorded with the URL, and request paths are appended to it.
    #[error(
        "the target URL {0} must be a plain base URL without credentials, query or fragment: pass the key in the environment (OPENAI_API_KEY, or the variable --api-key-env names)"
    )]
    NotABaseUrl(String),
    /// Plain http to another machine, not allowed explicitly.
    #[error(
        "the target {0} is plain http:// to a host that is not this machine: the API key and every request would cross the network unencrypted. Use https://, or pass --allow-insecure-http (TOKENCERT_ALLOW_INSECURE_HTTP=1) if that is really intended"
    )]
    InsecureHttp(String),
    /// Mutants only exist in the embedded service.
    #[error(
        "--mutant selects a mutant of the embedded reference service; it cannot be combined with a target URL"
    )]
    MutantWithUrl,
    /// A declared rate limit that cannot be probed within bounds.
    #[error("the target profile's rate_limit: {0}")]
    RateLimit(String),
    /// The embedded service did not start.
    #[error("cannot start the embedded reference service: {0}")]
    Reference(#[from] tokencert_reference::Error),
}

/// Starts the embedded service if needed and resolves model and claims.
pub async fn prepare(selection: Selection) -> Result<Prepared, TargetError> {
    let profile_claims = selection.profile.as_ref().map(|p| p.claims.clone());
    let profile_model = selection.profile.as_ref().and_then(|p| p.model.clone());
    let limits = selection
        .profile
        .as_ref()
        .map(|p| p.limits)
        .unwrap_or_default();
    let accounting = selection
        .profile
        .as_ref()
        .map(|p| p.accounting.clone())
        .unwrap_or_default();
    let rate_limit = selection
        .profile
        .as_ref()
        .and_then(|p| p.rate_limit.clone());
    match selection.base_url {
        Some(url) => {
            if selection.mutant.is_some() {
                return Err(TargetError::MutantWithUrl);
            }
            let parsed = url::Url::parse(&url).map_err(|_| TargetError::BadUrl(url.clone()))?;
            if !parsed.username().is_empty()
                || parsed.password().is_some()
                || parsed.query().is_some()
                || parsed.fragment().is_some()
            {
                return Err(TargetError::NotABaseUrl(without_secrets(&parsed)));
            }
            match parsed.scheme() {
                "https" => {}
                "http" if selection.allow_insecure_http || is_loopback(&parsed) => {}
                "http" => return Err(TargetError::InsecureHttp(url)),
                _ => return Err(TargetError::BadUrl(url)),
            }
            let model = selection
                .model
                .or(profile_model)
                .ok_or_else(|| TargetError::NoModel(url.clone()))?;
            let claims: BTreeSet<Capability> = profile_claims
                .unwrap_or_else(|| selection.api_key.iter().map(|_| Capability::Auth).collect());
            check_rate_limit(&claims, rate_limit.as_ref())?;
            let info = TargetInfo {
                base_url: url.clone(),
                model: model.clone(),
                reference: None,
            };
            let target = Target {
                base_url: url,
                model,
                api_key: selection.api_key,
                limits,
                rate_limit,
            };
            Ok(Prepared {
                target,
                claims,
                accounting,
                info,
                performance: selection.profile.and_then(|p| p.performance),
                server: None,
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

/// `url` with its credentials, query and fragment cut off, for messages.
fn without_secrets(url: &url::Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have credentials, which have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// Whether a URL names this machine: a loopback address or `localhost`.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

/// The most requests a rate-limit probe sends (twice the declared limit).
const MAX_PROBED_REQUESTS: u32 = 1000;
/// The longest declared window a probe waits for.
const MAX_PROBED_WINDOW_SECONDS: u32 = 60;

/// A target claiming rate limits must declare one the probe can test
/// within bounds.
fn check_rate_limit(
    claims: &BTreeSet<Capability>,
    limit: Option<&RateLimit>,
) -> Result<(), TargetError> {
    if !claims.contains(&Capability::RateLimits) {
        return Ok(());
    }
    let Some(limit) = limit else {
        return Err(TargetError::RateLimit(
            "the profile claims rate_limits but declares no rate_limit".into(),
        ));
    };
    if !(1..=MAX_PROBED_REQUESTS).contains(&limit.requests) {
        return Err(TargetError::RateLimit(format!(
            "requests is {}; a probe can test 1 to {MAX_PROBED_REQUESTS}",
            limit.requests
        )));
    }
    if !(1..=MAX_PROBED_WINDOW_SECONDS).contains(&limit.window_seconds) {
        return Err(TargetError::RateLimit(format!(
            "window_seconds is {}; a probe can test 1 to {MAX_PROBED_WINDOW_SECONDS}",
            limit.window_seconds
        )));
    }
    Ok(())
}

/// The rate limit the embedded service enforces on its limited model.
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
    async fn refused(url: &str, allow: bool) -> Option<String> {
        let selection = Selection {
            base_url: Some(url.into()),
            model: Some("m".into()),
            allow_insecure_http: allow,
            ..Selection::default()
        };
        prepare(selection).await.err().map(|e| e.to_string())
    }

    #[tokio::test]
    async fn plain_http_beyond_this_machine_needs_the_flag() {
        for local in [
            "http://127.0.0.1:8000/v1",
            "http://127.8.9.10/v1",
            "http://[::1]:8000/v1",
            "http://localhost:8000/v1",
            "http://api.localhost/v1",
            "https://api.example.com/v1",
        ] {
            assert_eq!(refused(local, false).await, None, "{local}");
        }
        for remote in [
            "http://api.example.com/v1",
            "http://10.0.0.5:8000/v1",
            "http://[2001:db8::1]/v1",
        ] {
            let why = refused(remote, false).await.unwrap_or_default();
            assert!(why.contains("--allow-insecure-http"), "{remote}: {why}");
            assert_eq!(refused(remote, true).await, None, "{remote} with the flag");
        }
        let why = refused("ftp://127.0.0.1/v1", false)
            .await
            .unwrap_or_default();
        assert!(why.contains("must start with http:// or https://"), "{why}");
    }

    #[tokio::test]
    async fn credentials_query_or_fragment_in_the_url_are_refused_without_echoing_them() {
        for url in [
            "http://bob:s3cret-pw@127.0.0.1:8000/v1",
            "http://s3cret-user@127.0.0.1:8000/v1",
            "https://api.example.com/v1?key=s3cret-q",
            "https://api.example.com/v1#s3cret-f",
        ] {
            let why = refused(url, false).await.unwrap_or_default();
            assert!(
                why.contains("without credentials, query or fragment"),
                "{url}: {why}"
            );
            assert!(!why.contains("s3cret"), "{url}: {why}");
        }
    }

    #[test]
    fn the_reference_profile_matches_the_embedded_service() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../suites/targets/reference.yaml");
        let profile = tokencert_core::suite::load_profile(&path).expect("the profile loads");
        let all: BTreeSet<Capability> = Capability::ALL.iter().copied().collect();
        assert_eq!(profile.claims, all);
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
