//! `same_model_as_declared`: is the model behind the name the one the
//! target declares? The case's exchanges are the fingerprint probe set's
//! requests, in order; the fingerprint they give is identified
//! ([`crate::identify::identify`]) against the declared reference, with the
//! declared pair of reference fingerprints as the noise floor. The
//! reference bundles are copies inside the bundle, re-derived here, so the
//! verdict is a function of the bundle alone.

use super::Finding;
use crate::evidence::Exchange;
use crate::fingerprint::{self, Fingerprint, probes::ProbeSet};
use crate::identify::{self, Decision, Finding as Line, Identification, nats, tokenizer_reading};
use crate::judge::Context;
use crate::suite::Suite;

/// Judges the probe set's exchanges (`before`, then `last`) against the
/// identity the plan declares.
pub fn same_model_as_declared(
    suite: &Suite,
    context: &Context,
    last: &Exchange,
    before: &[Exchange],
) -> Finding {
    let Some(set) = &suite.probe_set else {
        return Finding::error("the suite has no fingerprint probe set");
    };
    let Some(identity) = &context.plan.identity else {
        return Finding::not_claimed(crate::judge::IDENTITY_UNDECLARED);
    };
    let Some(references) = &identity.reference else {
        return Finding::not_claimed(crate::judge::IDENTITY_UNDECLARED);
    };
    let exchanges: Vec<&Exchange> = before.iter().chain([last]).collect();
    let candidate = match candidate(set, &exchanges) {
        Ok(f) => f,
        Err(finding) => return finding,
    };
    let mut derived = Vec::with_capacity(2);
    for path in references {
        match fingerprint::of_bundle(&context.base.join(path), suite) {
            Ok(f) => derived.push(f),
            Err(e) => {
                return Finding::error(format!(
                    "the declared reference fingerprint {} cannot be re-derived: {e}",
                    path.display()
                ));
            }
        }
    }
    let [reference, noise] = [&derived[0], &derived[1]];
    if let Some(family) = &identity.tokenizer_family {
        let reading = tokenizer_reading(&candidate);
        if !reading.fits.is_empty() && !reading.fits.iter().any(|f| &f.family == family) {
            return Finding::fail(format!(
                "the target declares tokenizer family {family}, but its billed prompt tokens \
                 on {} tokenizer probes imply {}",
                reading.probes, reading.implied
            ));
        }
    }
    match identify::identify(&candidate, reference, Some([reference, noise])) {
        Err(e) => Finding::error(e.to_string()),
        Ok(out) => decide(&out),
    }
}

/// The fingerprint of the case's exchanges: the `i`-th exchange answers
/// the probe set's `i`-th request.
fn candidate(set: &ProbeSet, exchanges: &[&Exchange]) -> Result<Fingerprint, Finding> {
    let ids: Vec<String> = set.cases(true).into_iter().map(|c| c.id).collect();
    if ids.len() != exchanges.len() {
        return Err(Finding::error(format!(
            "the evidence holds {} exchange(s); probe set {} sends {}",
            exchanges.len(),
            set.name(),
            ids.len()
        )));
    }
    let model = serde_json::from_slice::<serde_json::Value>(&exchanges[0].request_body)
        .ok()
        .and_then(|body| Some(body.get("model")?.as_str()?.to_string()))
        .unwrap_or_default();
    Ok(fingerprint::derive(set, &model, |id| {
        let i = ids.iter().position(|known| known == id)?;
        Some(Ok(vec![exchanges[i].clone()]))
    }))
}

/// The finding of an identification, quoting its figures.
fn decide(out: &Identification) -> Finding {
    let greedy = &out.greedy;
    let logprobs = &out.logprobs;
    let figures = format!(
        "greedy outputs: {} of {} probes differ from the reference's, the noise pair's {} of {}; \
         median log-probability difference {} nats, the noise pair's {}; tokenizer {}",
        greedy.divergent,
        greedy.compared,
        out.noise.divergent,
        out.noise.probes,
        nats(logprobs.median_micro),
        nats(out.noise.median_micro),
        match out.tokenizer.finding {
            Line::Agrees => "counts agree",
            Line::Differs => "counts move differently",
            Line::Inconclusive => "not compared",
        }
    );
    match out.decision {
        Decision::SameModel => {
            Finding::pass(format!("same model as the declared reference ({figures})"))
        }
        Decision::DifferentModel => Finding::fail(format!(
            "a different model from the declared reference: {} ({figures})",
            out.reasons.join("; ")
        )),
        Decision::CannotTell => Finding::not_claimed(format!(
            "cannot tell whether the served model is the declared one: {} ({figures})",
            out.reasons.join("; ")
        )),
    }
}
