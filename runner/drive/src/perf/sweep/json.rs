//! `sweep.json`: canonical JSON (keys sorted, integers only) of the
//! target, the SLO, every step's figures, the knee and the capacity found.

use tokencert_core::canonical;

use super::{KNEE_GAIN_PER_MILLE, Mode, Offered, Request, Search, Step, to_milli};
use crate::Target;
use crate::perf::PerfError;
use crate::perf::files::{file, object};

/// The bytes of `sweep.json`.
pub(super) fn sweep_json(
    request: &Request,
    target: &Target,
    steps: &[Step],
    knee: Option<usize>,
    search: Option<&Search>,
    interrupted: bool,
) -> Result<Vec<u8>, PerfError> {
    let mut rows = Vec::with_capacity(steps.len());
    for step in steps {
        let (users, rate) = match step.offered {
            Offered::Users(u) => (Some(u), None),
            Offered::Rate(r) => (None, Some(to_milli(r))),
        };
        let mut members: Vec<(&str, Vec<u8>)> = vec![
            ("dir", canonical::to_vec(&step.dir)?),
            ("phase", canonical::to_vec(&step.phase)?),
            ("users", canonical::to_vec(&users)?),
            ("rate_milli", canonical::to_vec(&rate)?),
            ("sent", canonical::to_vec(&step.sent)?),
            ("errors", canonical::to_vec(&step.errors)?),
            (
                "achieved_rate_milli",
                canonical::to_vec(&step.achieved_milli)?,
            ),
            (
                "request_throughput_milli",
                canonical::to_vec(&step.request_throughput_milli)?,
            ),
            (
                "output_token_throughput_milli",
                canonical::to_vec(&step.output_tokens_milli)?,
            ),
            ("ttft_p50_ns", canonical::to_vec(&step.ttft_p50_ns)?),
            ("ttft_p95_ns", canonical::to_vec(&step.ttft_p95_ns)?),
            ("tpot_p50_ns", canonical::to_vec(&step.tpot_p50_ns)?),
            ("e2e_p95_ns", canonical::to_vec(&step.e2e_p95_ns)?),
            (
                "goodput_per_mille",
                canonical::to_vec(&step.goodput_per_mille)?,
            ),
        ];
        rows.push(object(&mut members));
    }
    let mut array = b"[".to_vec();
    array.extend_from_slice(&rows.join(&b","[..]));
    array.push(b']');
    let goodput_percent = match request.mode {
        Mode::Capacity { goodput_percent } => Some(goodput_percent),
        Mode::Steps(_) => None,
    };
    Ok(file(&mut [
        ("base_url", canonical::to_vec(&target.base_url)?),
        ("model", canonical::to_vec(&target.model)?),
        ("seed", canonical::to_vec(&request.workload.seed)?),
        ("slo", canonical::to_vec(&request.slo)?),
        ("steps", array),
        ("knee_step", canonical::to_vec(&knee)?),
        ("interrupted", canonical::to_vec(&interrupted)?),
        (
            "knee_gain_per_mille",
            canonical::to_vec(&KNEE_GAIN_PER_MILLE)?,
        ),
        ("goodput_percent", canonical::to_vec(&goodput_percent)?),
        (
            "capacity_rate_milli",
            canonical::to_vec(&search.and_then(|s| s.passed).map(to_milli))?,
        ),
        (
            "capacity_bracketed",
            canonical::to_vec(&search.map(|s| s.bounded))?,
        ),
    ]))
}
