//! Where the store is and who we are to it.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{ClientOptions, RetryConfig};

use crate::error::StorageError;
use crate::location::StoreUrl;

/// Credentials read from the standard AWS environment variables. Not
/// `Debug`, not `Display`: they are only handed to the store client.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    region: String,
}

impl Credentials {
    /// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`
    /// (optional) and `AWS_REGION` or `AWS_DEFAULT_REGION` (default
    /// `us-east-1`). Nothing else is consulted: no profile files, no
    /// instance metadata.
    pub fn from_env() -> Result<Self, StorageError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`Credentials::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, StorageError> {
        let get = |name| lookup(name).filter(|v| !v.is_empty());
        let access_key_id = get("AWS_ACCESS_KEY_ID").ok_or(StorageError::MissingCredentials {
            var: "AWS_ACCESS_KEY_ID",
        })?;
        let secret_access_key =
            get("AWS_SECRET_ACCESS_KEY").ok_or(StorageError::MissingCredentials {
                var: "AWS_SECRET_ACCESS_KEY",
            })?;
        let region = get("AWS_REGION")
            .or_else(|| get("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string());
        Ok(Credentials {
            access_key_id,
            secret_access_key,
            session_token: get("AWS_SESSION_TOKEN"),
            region,
        })
    }

    /// `text` with every credential replaced by `[redacted]`: the store's error messages may echo the
    /// access key id, and nothing here may ever show the secret.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        let secrets = [
            Some(&self.secret_access_key),
            self.session_token.as_ref(),
            Some(&self.access_key_id),
        ];
        for secret in secrets.into_iter().flatten() {
            if secret.len() >= 4 {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        out
    }
}

/// How to reach the store: its endpoint and whether plain http is allowed.
#[derive(Debug, Clone, Default)]
pub struct StoreConfig {
    /// The endpoint URL (an S3-compatible service such as MinIO, or a
    /// regional AWS endpoint); `None` for AWS S3 itself.
    pub endpoint: Option<String>,
    /// Allow a plain `http://` endpoint on another machine (objects, and
    /// the signed requests, would cross the network unencrypted). A
    /// loopback http endpoint is always allowed.
    pub allow_insecure_http: bool,
}

impl StoreConfig {
    /// Checks the endpoint: a URL, https unless loopback or allowed.
    /// Returns whether it is plain http.
    fn checked_endpoint(&self) -> Result<Option<(String, bool)>, StorageError> {
        let Some(endpoint) = &self.endpoint else {
            return Ok(None);
        };
        let bad = |why: &str| StorageError::BadEndpoint {
            endpoint: endpoint.clone(),
            why: why.to_string(),
        };
        let url = url::Url::parse(endpoint).map_err(|e| bad(&e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "credentials in the URL are refused; use AWS_* variables",
            ));
        }
        let http = match url.scheme() {
            "https" => false,
            "http" => true,
            _ => return Err(bad("expected an http:// or https:// URL")),
        };
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        };
        if http && !loopback && !self.allow_insecure_http {
            return Err(bad(
                "plain http to another machine; use https, or allow it explicitly (--store-allow-insecure-http)",
            ));
        }
        Ok(Some((endpoint.trim_end_matches('/').to_string(), http)))
    }

    /// A client for `url`'s bucket. Requests time out after 60 s (connect
    /// 10 s) and are retried at most 3 times within 30 s.
    pub(crate) fn client(
        &self,
        url: &StoreUrl,
        credentials: &Credentials,
    ) -> Result<Arc<AmazonS3>, StorageError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&url.bucket)
            .with_region(&credentials.region)
            .with_access_key_id(&credentials.access_key_id)
            .with_secret_access_key(&credentials.secret_access_key)
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(Duration::from_secs(60))
                    .with_connect_timeout(Duration::from_secs(10)),
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            });
        if let Some(token) = &credentials.session_token {
            builder = builder.with_token(token);
        }
        if let Some((endpoint, http)) = self.checked_endpoint()? {
            builder = builder.with_endpoint(endpoint).with_allow_http(http);
        }
        let store = builder.build().map_err(|e| StorageError::Store {
            action: format!("configuring the client for {url}"),
            detail: credentials.scrub(&e.to_string()),
        })?;
        Ok(Arc::new(store))
    }
}

/// Maps a store error to ours, scrubbed, telling refusals apart.
pub(crate) fn store_error(
    credentials: &Credentials,
    action: String,
) -> impl FnOnce(object_store::Error) -> StorageError + '_ {
    move |error| {
        let detail = credentials.scrub(&error.to_string());
        // object_store reports most 401/403 answers as generic errors
        // whose text carries the status line.
        let refused = matches!(
            error,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || detail.contains("403 Forbidden")
            || detail.contains("401 Unauthorized");
        if refused {
            StorageError::Refused { action, detail }
        } else {
            StorageError::Store { action, detail }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn credentials_need_both_keys_and_are_scrubbed() {
        let missing = Credentials::from_lookup(env(&[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")]));
        assert!(matches!(
            missing,
            Err(StorageError::MissingCredentials {
                var: "AWS_SECRET_ACCESS_KEY"
            })
        ));
        let creds = Credentials::from_lookup(env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG"),
            ("AWS_SESSION_TOKEN", "tok3n-value"),
        ]))
        .expect("complete");
        assert_eq!(creds.region, "us-east-1");
        let scrubbed = creds.scrub("key AKIDEXAMPLE secret wJalrXUtnFEMI/K7MDENG tok3n-value");
        assert_eq!(scrubbed, "key [redacted] secret [redacted] [redacted]");
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        let config = |endpoint: &str, allow| StoreConfig {
            endpoint: Some(endpoint.into()),
            allow_insecure_http: allow,
        };
        assert!(
            config("http://127.0.0.1:9000", false)
                .checked_endpoint()
                .is_ok()
        );
        assert!(
            config("http://localhost:9000/", false)
                .checked_endpoint()
                .is_ok()
        );
        assert!(
            config("https://s3.example:443", false)
                .checked_endpoint()
                .is_ok()
        );
        assert!(
            config("http://minio.svc:9000", false)
                .checked_endpoint()
                .is_err()
        );
        assert!(
            config("http://minio.svc:9000", true)
                .checked_endpoint()
                .is_ok()
        );
        assert!(config("ftp://127.0.0.1", true).checked_endpoint().is_err());
        assert!(
            config("http://u:p@127.0.0.1", true)
                .checked_endpoint()
                .is_err()
        );
    }
}
