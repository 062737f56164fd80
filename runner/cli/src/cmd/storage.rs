//! Object-store options shared by `run --upload`, `verify` and `merge`, and
//! the glue from them to `tokencert_storage`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use tokencert_storage::{Credentials, FetchLimits, Fetched, StoreConfig, StoreUrl, Uploaded};

/// Where an S3-compatible store is. Credentials are never flags: they are
/// read only from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
/// AWS_SESSION_TOKEN (region from AWS_REGION or AWS_DEFAULT_REGION,
/// default us-east-1).
#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// Endpoint of the S3-compatible store for s3:// locations (e.g.
    /// https://minio.example:9000); without it, AWS S3. Plain http is
    /// allowed to this machine only, unless --store-allow-insecure-http.
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Allow a plain http:// store endpoint that is not on this machine
    /// (bundles would cross the network unencrypted).
    #[arg(long, env = "TOKENCERT_STORE_ALLOW_INSECURE_HTTP")]
    pub store_allow_insecure_http: bool,
}

impl StoreArgs {
    fn config(&self) -> StoreConfig {
        StoreConfig {
            endpoint: self.endpoint_url.clone(),
            allow_insecure_http: self.store_allow_insecure_http,
        }
    }
}

/// A checked upload destination, ready before a run starts so that a bad
/// location or missing credentials do not cost a whole run.
pub struct Destination {
    url: StoreUrl,
    config: StoreConfig,
    credentials: Credentials,
}

impl Destination {
    /// Parses `url`, reads the credentials and lists the location once, so
    /// that a wrong endpoint, bucket or key fails now rather than after the
    /// run.
    pub fn prepare(url: &str, store: &StoreArgs) -> anyhow::Result<Self> {
        let url = StoreUrl::parse(url)?;
        let credentials = Credentials::from_env()?;
        let config = store.config();
        super::runtime()?
            .block_on(tokencert_storage::check_access(&url, &config, &credentials))
            .with_context(|| format!("checking access to {url} before the run"))?;
        Ok(Destination {
            url,
            config,
            credentials,
        })
    }

    /// Copies the sealed bundle to `<url>/<bundle directory name>/`.
    pub fn upload(&self, bundle: &Path) -> anyhow::Result<Uploaded> {
        super::runtime()?
            .block_on(tokencert_storage::upload_bundle(
                bundle,
                &self.url,
                &self.config,
                &self.credentials,
            ))
            .with_context(|| {
                format!(
                    "uploading {} to {} (the bundle is kept where it is)",
                    bundle.display(),
                    self.url
                )
            })
    }
}

/// `source` as a local path: an `s3://bucket/prefix` source is downloaded
/// into a temporary directory (at most
/// [`tokencert_storage::DEFAULT_MAX_OBJECTS`] objects and
/// [`tokencert_storage::DEFAULT_MAX_BYTES`] bytes), removed when the
/// returned [`Fetched`] is dropped; a local path is returned as it is.
pub fn local_source(
    source: &Path,
    store: &StoreArgs,
) -> anyhow::Result<(PathBuf, Option<Fetched>)> {
    let Some(text) = source
        .to_str()
        .filter(|s| tokencert_storage::is_store_url(s))
    else {
        return Ok((source.to_path_buf(), None));
    };
    let url = StoreUrl::parse(text)?;
    let credentials = Credentials::from_env()?;
    let fetched = super::runtime()?
        .block_on(tokencert_storage::fetch(
            &url,
            &store.config(),
            &credentials,
            FetchLimits::default(),
        ))
        .with_context(|| format!("downloading {url}"))?;
    Ok((fetched.root().to_path_buf(), Some(fetched)))
}

/// [`local_source`] for each of `sources`; keep the returned [`Fetched`]
/// values alive while the paths are used.
pub fn local_sources(
    sources: &[PathBuf],
    store: &StoreArgs,
) -> anyhow::Result<(Vec<PathBuf>, Vec<Fetched>)> {
    let mut paths = Vec::with_capacity(sources.len());
    let mut fetched = Vec::new();
    for source in sources {
        let (path, copy) = local_source(source, store)?;
        paths.push(path);
        fetched.extend(copy);
    }
    Ok((paths, fetched))
}

/// The one bundle at `source` (local, or downloaded from `s3://…`): a
/// store location must hold exactly one bundle, at its root or in one
/// subdirectory.
pub fn local_bundle(
    source: &Path,
    store: &StoreArgs,
) -> anyhow::Result<(PathBuf, Option<Fetched>)> {
    let (path, fetched) = local_source(source, store)?;
    let Some(copy) = &fetched else {
        return Ok((path, None));
    };
    let bundles = copy.bundles()?;
    match bundles.as_slice() {
        [one] => Ok((one.clone(), fetched)),
        [] => anyhow::bail!(
            "{} holds no bundle (no run.json or manifest.json at its root or one level below)",
            source.display()
        ),
        many => {
            let names: Vec<String> = many
                .iter()
                .filter_map(|b| b.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            anyhow::bail!(
                "{} holds {} bundles ({}); name one: {}/<name>",
                source.display(),
                many.len(),
                names.join(", "),
                source.display()
            )
        }
    }
}
