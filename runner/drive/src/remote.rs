//! A remote target made ready to test: its URL checked, its model, claims,
//! accounting, limits and performance claim taken from a target profile,
//! its key from the caller. Shared by `tokencert run` and the observatory;
//! nothing here touches the network.

use std::collections::BTreeSet;

use tokencert_core::bundle::TargetInfo;
use tokencert_core::suite::{Accounting, Capability, PerformanceClaim, RateLimit, TargetProfile};

use crate::target::{ApiKey, Target};

/// A remote endpoint to test, as the user described it.
#[derive(Debug, Default)]
pub struct Remote {
    /// Base URL including the version prefix, e.g. `https://api.example.com/v1`.
    pub base_url: String,
    /// Model; defaults to the profile's.
    pub model: Option<String>,
    /// The bearer key, if the target has one.
    pub api_key: Option<ApiKey>,
    /// A target profile with claims, accounting, limits and a model.
    pub profile: Option<TargetProfile>,
    /// Allow plain http:// to a host that is not this machine.
    pub allow_insecure_http: bool,
}

/// A remote target ready to test.
#[derive(Debug, Clone)]
pub struct PreparedRemote {
    /// Where requests go.
    pub target: Target,
    /// What the target claims: the profile's claims, or without a profile
    /// `auth` exactly when a key is given.
    pub claims: BTreeSet<Capability>,
    /// How the target counts tokens.
    pub accounting: Accounting,
    /// The target as recorded in `run.json`.
    pub info: TargetInfo,
    /// The service classes the target claims and its performance model.
    pub performance: Option<PerformanceClaim>,
}

/// A remote target that cannot be tested as described.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// No model given and none in the profile.
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
        "the target {0} is plain http:// to a host that is not this machine: the API key and every request would cross the network unencrypted. Use https://, or pass --allow-insecure-http (TOKENCERT_ALLOW_INSECURE_HTTP=1; `allow_insecure_http: true` for an observatory target) if that is really intended"
    )]
    InsecureHttp(String),
    /// A declared rate limit that cannot be probed within bounds.
    #[error("the target profile's rate_limit: {0}")]
    RateLimit(String),
}

/// Checks a remote target's base URL: http(s), no credentials, query or
/// fragment (which would be recorded or break request paths), and plain
/// http only to this machine unless `allow_insecure_http`.
///
/// # Errors
///
/// [`RemoteError::BadUrl`], [`RemoteError::NotABaseUrl`] (whose message
/// never repeats the credentials) or [`RemoteError::InsecureHttp`].
pub fn check_base_url(url: &str, allow_insecure_http: bool) -> Result<(), RemoteError> {
    let parsed = url::Url::parse(url).map_err(|_| RemoteError::BadUrl(url.to_string()))?;
    if !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(RemoteError::NotABaseUrl(without_secrets(&parsed)));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(&parsed) => Ok(()),
        "http" => Err(RemoteError::InsecureHttp(url.to_string())),
        _ => Err(RemoteError::BadUrl(url.to_string())),
    }
}

/// Resolves a remote target: checks its URL, takes the model (given, else
/// the profile's), claims, accounting, limits, rate limit and performance
/// claim from the profile.
///
/// # Errors
///
/// See [`check_base_url`]; [`RemoteError::NoModel`];
/// [`RemoteError::RateLimit`] when the profile claims rate limits it does
/// not declare within bounds.
pub fn prepare_remote(remote: Remote) -> Result<PreparedRemote, RemoteError> {
    check_base_url(&remote.base_url, remote.allow_insecure_http)?;
    let url = remote.base_url;
    let profile = remote.profile;
    let model = remote
        .model
        .or_else(|| profile.as_ref().and_then(|p| p.model.clone()))
        .ok_or_else(|| RemoteError::NoModel(url.clone()))?;
    let claims: BTreeSet<Capability> = match &profile {
        Some(p) => p.claims.clone(),
        None => remote.api_key.iter().map(|_| Capability::Auth).collect(),
    };
    let rate_limit = profile.as_ref().and_then(|p| p.rate_limit.clone());
    check_rate_limit(&claims, rate_limit.as_ref())?;
    let info = TargetInfo {
        base_url: url.clone(),
        model: model.clone(),
        reference: None,
    };
    let target = Target {
        base_url: url,
        model,
        api_key: remote.api_key,
        limits: profile.as_ref().map(|p| p.limits).unwrap_or_default(),
        rate_limit,
        dialects: profile
            .as_ref()
            .map(|p| p.dialects.clone())
            .unwrap_or_default(),
    };
    Ok(PreparedRemote {
        target,
        claims,
        accounting: profile
            .as_ref()
            .map(|p| p.accounting.clone())
            .unwrap_or_default(),
        info,
        performance: profile.and_then(|p| p.performance),
    })
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
) -> Result<(), RemoteError> {
    if !claims.contains(&Capability::RateLimits) {
        return Ok(());
    }
    let Some(limit) = limit else {
        return Err(RemoteError::RateLimit(
            "the profile claims rate_limits but declares no rate_limit".into(),
        ));
    };
    if !(1..=MAX_PROBED_REQUESTS).contains(&limit.requests) {
        return Err(RemoteError::RateLimit(format!(
            "requests is {}; a probe can test 1 to {MAX_PROBED_REQUESTS}",
            limit.requests
        )));
    }
    if !(1..=MAX_PROBED_WINDOW_SECONDS).contains(&limit.window_seconds) {
        return Err(RemoteError::RateLimit(format!(
            "window_seconds is {}; a probe can test 1 to {MAX_PROBED_WINDOW_SECONDS}",
            limit.window_seconds
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str, allow: bool) -> Option<String> {
        let remote = Remote {
            base_url: url.into(),
            model: Some("m".into()),
            allow_insecure_http: allow,
            ..Remote::default()
        };
        prepare_remote(remote).err().map(|e| e.to_string())
    }

    #[test]
    fn plain_http_beyond_this_machine_needs_the_flag() {
        for local in [
            "http://127.0.0.1:8000/v1",
            "http://127.8.9.10/v1",
            "http://[::1]:8000/v1",
            "http://localhost:8000/v1",
            "http://api.localhost/v1",
            "https://api.example.com/v1",
        ] {
            assert_eq!(refused(local, false), None, "{local}");
        }
        for remote in [
            "http://api.example.com/v1",
            "http://10.0.0.5:8000/v1",
            "http://[2001:db8::1]/v1",
        ] {
            let why = refused(remote, false).unwrap_or_default();
            assert!(why.contains("--allow-insecure-http"), "{remote}: {why}");
            assert_eq!(refused(remote, true), None, "{remote} with the flag");
        }
        let why = refused("ftp://127.0.0.1/v1", false).unwrap_or_default();
        assert!(why.contains("must start with http:// or https://"), "{why}");
    }

    #[test]
    fn credentials_query_or_fragment_in_the_url_are_refused_without_echoing_them() {
        for url in [
            "http://bob:s3cret-pw@127.0.0.1:8000/v1",
            "http://s3cret-user@127.0.0.1:8000/v1",
            "https://api.example.com/v1?key=s3cret-q",
            "https://api.example.com/v1#s3cret-f",
        ] {
            let why = refused(url, false).unwrap_or_default();
            assert!(
                why.contains("without credentials, query or fragment"),
                "{url}: {why}"
            );
            assert!(!why.contains("s3cret"), "{url}: {why}");
        }
    }

    #[test]
    fn without_a_profile_the_target_claims_auth_exactly_when_a_key_is_given() {
        let prepare = |key: Option<&str>| {
            prepare_remote(Remote {
                base_url: "http://127.0.0.1:1/v1".into(),
                model: Some("m".into()),
                api_key: key.map(ApiKey::new),
                ..Remote::default()
            })
            .map(|p| p.claims)
            .map_err(|e| e.to_string())
        };
        assert_eq!(prepare(None), Ok(BTreeSet::new()));
        assert_eq!(prepare(Some("k")), Ok(BTreeSet::from([Capability::Auth])));
    }

    #[test]
    fn the_model_comes_from_the_profile_when_none_is_given() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, "name: p\ndescription: d\nmodel: from-profile\n")
            .expect("write the profile");
        let profile = || tokencert_core::suite::load_profile(&path).expect("a profile");
        let remote = |model: Option<&str>, profile: Option<TargetProfile>| Remote {
            base_url: "http://127.0.0.1:1/v1".into(),
            model: model.map(str::to_string),
            profile,
            ..Remote::default()
        };
        let model = |r| {
            prepare_remote(r)
                .map(|p| p.info.model)
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            model(remote(None, Some(profile()))),
            Ok("from-profile".into())
        );
        assert_eq!(
            model(remote(Some("given"), Some(profile()))),
            Ok("given".into())
        );
        let why = model(remote(None, None)).expect_err("no model anywhere");
        assert!(why.contains("no model to test"), "{why}");
    }
}
