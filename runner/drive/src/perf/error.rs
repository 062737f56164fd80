//! Why a measurement run failed.

use std::path::PathBuf;

use tokencert_core::canonical::CanonicalError;
use tokencert_core::evidence::EvidenceError;
use tokencert_core::metrics::MetricsError;
use tokencert_core::performance::PerformanceError;
use tokencert_core::soak::SoakError;
use tokencert_core::tokens::TokenizerError;
use tokencert_core::workload::WorkloadError;

use crate::exchange::ClientError;
use crate::load::LoadError;

/// A `load`, `sweep`, `soak` or `bench` run that could not be carried out
/// or written.
#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    /// The o200k_base tokenizer (prompts and recounts) cannot be loaded.
    #[error("loading the o200k_base tokenizer")]
    Tokenizer(#[source] TokenizerError),
    /// The workload cannot be planned (nothing was sent).
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// The load could not run.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A directory of the run cannot be created.
    #[error("creating {path}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A result file cannot be written.
    #[error("writing {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A request's evidence cannot be read back.
    #[error("reading {path}")]
    Read {
        /// The evidence file.
        path: PathBuf,
        /// The cause.
        source: EvidenceError,
    },
    /// A request's evidence file holds no exchange.
    #[error("{} holds no exchange", .0.display())]
    NoExchange(PathBuf),
    /// A request's exchange cannot be placed on the run's clock.
    #[error("measuring {path}")]
    Measure {
        /// The evidence file.
        path: PathBuf,
        /// The cause.
        source: PerformanceError,
    },
    /// The metrics cannot be computed.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The soak figures cannot be computed.
    #[error(transparent)]
    Soak(#[from] SoakError),
    /// A result file cannot be serialised.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// A soak's workload has no duration to send for.
    #[error("a soak needs a duration: the workload has none")]
    Unbounded,
    /// A sweep of more steps than [`crate::perf::sweep::MAX_STEPS`].
    #[error("{0} steps: at most {max}", max = crate::perf::sweep::MAX_STEPS)]
    TooManySteps(usize),
    /// A sweep whose steps do not increase.
    #[error("the steps of --users or --rates must increase")]
    StepsNotIncreasing,
    /// The capacity search's first probe completed no request.
    #[error("the first probe (one user) completed no request: no rate to start from")]
    NoStartRate,
    /// The benchmark's client cannot be made.
    #[error("making the client")]
    Client(#[source] ClientError),
    /// The benchmark's reference service cannot be started.
    #[error("starting {} serve", .exe.display())]
    Spawn {
        /// The executable.
        exe: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The benchmark's reference service's stderr cannot be read.
    #[error("the service's stderr")]
    NoStderr,
    /// The benchmark's reference service did not say where it listens.
    #[error("the reference service did not start within 30 s")]
    ServiceTimeout,
    /// The benchmark's reference service exited at start.
    #[error("the reference service exited ({status}): {said}")]
    ServiceExited {
        /// Its exit status.
        status: String,
        /// What it wrote to stderr.
        said: String,
    },
    /// A benchmark workload cannot be planned.
    #[error("planning the workload")]
    Plan(#[source] WorkloadError),
    /// One of the benchmark's runs failed.
    #[error("the {run} run")]
    BenchRun {
        /// Which: streams, ingest or rate.
        run: &'static str,
        /// The cause.
        source: LoadError,
    },
}
