//! An observatory ready to run: its config, the suite, and every target
//! prepared (key read from its variable, URL and profile checked) with the
//! estimated cost of each of its probes.

use std::sync::Arc;
use std::time::Duration;

use tokencert_core::suite::Suite;
use tokencert_drive::{ApiKey, PreparedRemote, Remote, prepare_remote};

use crate::budget::{Budget, Cost};
use crate::config::Config;
use crate::error::Error;
use crate::estimate::{estimate, fingerprint_estimate};

/// A config made ready to probe.
pub struct Observatory {
    pub(crate) config: Config,
    pub(crate) suite: Arc<Suite>,
    pub(crate) targets: Vec<Ready>,
}

/// One target ready to probe.
pub(crate) struct Ready {
    pub name: String,
    pub target: PreparedRemote,
    pub timeout: Duration,
    pub budget: Budget,
    /// Its probes (indices into the config's) with their estimated cost.
    pub probes: Vec<(usize, Cost)>,
}

impl Observatory {
    /// Prepares every target of `config`: its key is `key_of(api_key_env)`
    /// (the CLI passes the environment), and each probe's cost is
    /// estimated once, here.
    ///
    /// # Errors
    ///
    /// [`Error::MissingKey`] for a target whose variable is unset or empty;
    /// [`Error::Target`] for one that cannot be tested; [`Error::Estimate`]
    /// when a probe's workload cannot be planned or the declared tokenizer
    /// loaded.
    pub fn new(
        config: Config,
        suite: Arc<Suite>,
        key_of: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let mut targets = Vec::new();
        for t in &config.targets {
            let api_key = match &t.api_key_env {
                None => None,
                Some(var) => Some(ApiKey::new(
                    key_of(var)
                        .filter(|k| !k.is_empty())
                        .ok_or_else(|| Error::MissingKey {
                            target: t.name.clone(),
                            var: var.clone(),
                        })?,
                )),
            };
            let target = prepare_remote(Remote {
                base_url: t.base_url.clone(),
                model: t.model.clone(),
                api_key,
                profile: t.profile.clone(),
                allow_insecure_http: t.allow_insecure_http,
            })
            .map_err(|source| Error::Target {
                target: t.name.clone(),
                source,
            })?;
            let probes = t
                .probes
                .iter()
                .map(|&p| {
                    if let Some(fingerprint) = &config.probes[p].fingerprint {
                        let logprobs = fingerprint.logprobs_for(t);
                        return Ok((p, fingerprint_estimate(&suite, logprobs, &target)));
                    }
                    let cases = config.probes[p].select(&suite);
                    let cost = estimate(&suite, &cases, &target).map_err(|e| {
                        Error::Estimate(format!(
                            "target {}, probe {}: {e}",
                            t.name, config.probes[p].name
                        ))
                    })?;
                    Ok((p, cost))
                })
                .collect::<Result<_, Error>>()?;
            targets.push(Ready {
                name: t.name.clone(),
                target,
                timeout: t.timeout,
                budget: t.budget,
                probes,
            });
        }
        Ok(Self {
            config,
            suite,
            targets,
        })
    }

    /// The config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The estimated cost of each (target, probe), by name, in config order.
    pub fn estimates(&self) -> Vec<(&str, &str, Cost)> {
        self.targets
            .iter()
            .flat_map(|t| {
                t.probes
                    .iter()
                    .map(|(p, cost)| (t.name.as_str(), self.config.probes[*p].name.as_str(), *cost))
            })
            .collect()
    }
}
