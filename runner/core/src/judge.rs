//! The judge: verdicts as a pure function of the suite, the plan and the
//! recorded evidence. No I/O of its own, no clock, no randomness.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::check::{self, View};
use crate::evidence::{EvidenceError, Exchange};
use crate::fit;
use crate::performance::{self, Figures};
use crate::price::{self, Billed, PriceTable};
use crate::suite::{
    Accounting, Capability, Case, Check, Identity, Level, Limits, Performance, PerformanceClaim,
    Probe, RateLimit, Suite,
};
use crate::tokens::{Tokenizer, TokenizerError, TokenizerSpec};

/// The outcome of a check or a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The evidence satisfies the check.
    Pass,
    /// The evidence shows the target breaks the clause.
    Fail,
    /// The evidence does not allow a judgement (no response, unreadable evidence).
    Error,
    /// Not applicable: the target does not claim what the case requires.
    NotClaimed,
}

impl Verdict {
    /// Every verdict, in the order summaries show them.
    pub const ALL: [Verdict; 4] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Error,
        Verdict::NotClaimed,
    ];

    /// Lower-case name, as in results files.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::NotClaimed => "not_claimed",
        }
    }
}

/// What a run set out to do; recorded in `run.json` and needed to re-judge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Case ids, in run order.
    pub cases: Vec<String>,
    /// Capabilities the target claims.
    pub claims: BTreeSet<Capability>,
    /// The API dialects the target serves; cases of others are not claimed.
    #[serde(default, skip_serializing_if = "crate::suite::Dialects::is_default")]
    pub dialects: crate::suite::Dialects,
    /// How the target counts tokens. A Hugging Face tokenizer is named by
    /// its path relative to the bundle.
    #[serde(default)]
    pub accounting: Accounting,
    /// The target's declared rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// The service classes the target claims, and the model its
    /// performance cases load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance: Option<PerformanceClaim>,
    /// The limits the target declares: a case whose requests cannot fit
    /// them is not claimed.
    #[serde(default)]
    pub limits: Limits,
    /// The identity of the model the target declares; its reference
    /// fingerprint bundles are copies inside the bundle, named relative to
    /// it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
}

impl Plan {
    /// The model performance cases load: the claimed performance model,
    /// else the target's.
    pub fn performance_model<'a>(&'a self, target_model: &'a str) -> &'a str {
        self.performance
            .as_ref()
            .and_then(|p| p.model.as_deref())
            .unwrap_or(target_model)
    }
}

/// What a case needs that the plan does not declare.
struct Unmet {
    /// Capabilities by name, a performance case's service class as
    /// `class <name>`, and a request that does not fit the declared limits.
    claims: Vec<String>,
    /// The case recounts tokens and the target declares no tokenizer.
    tokenizer: bool,
}

/// Why a case that recounts is not claimed without a declared tokenizer.
pub const TOKENIZER_UNDECLARED: &str = "the tokenizer the target bills with, to recount its \
usage (declare accounting.tokenizer in the target profile: o200k_base, cl100k_base, \
{hugging_face: PATH} or {gguf: PATH})";

/// Why a case that identifies the served model is not claimed without a
/// declared identity.
pub const IDENTITY_UNDECLARED: &str = "a declared identity of the served model, to compare its \
fingerprint with (declare identity.reference in the target profile: two `tokencert fingerprint` \
bundles of the model it claims to serve, the reference and its noise pair; optionally \
identity.tokenizer_family)";

/// Everything judging needs besides the suite and the evidence: the plan
/// and the tokenizers it implies, loaded.
#[derive(Debug)]
pub struct Context {
    /// The plan of the run being judged.
    pub plan: Plan,
    /// The tokenizer the plan declares, else o200k_base: recount checks
    /// run only with a declared one; performance figures and workloads
    /// count with either.
    pub tokenizer: Tokenizer,
    /// o200k_base, whatever the plan declares: the normalised token counts
    /// that make tasks of different vendors comparable (information, never
    /// a verdict).
    pub normaliser: Tokenizer,
    /// The bundle directory, where the plan's relative paths (a tokenizer
    /// file, reference fingerprints) are.
    pub base: std::path::PathBuf,
}

impl Context {
    /// Loads the plan's tokenizer; a relative path is resolved against
    /// `base` (the bundle directory).
    pub fn new(plan: Plan, base: &Path) -> Result<Self, TokenizerError> {
        let normaliser = Tokenizer::load(&TokenizerSpec::O200kBase, base)?;
        let tokenizer = match &plan.accounting.tokenizer {
            Some(spec) => Tokenizer::load(spec, base)?,
            None => normaliser.clone(),
        };
        Ok(Self {
            plan,
            tokenizer,
            normaliser,
            base: base.to_path_buf(),
        })
    }

    /// How many exchanges a case sends: its `before` requests, the
    /// requests of its probe, and the judged one.
    pub fn exchanges_of(&self, case: &Case) -> Option<usize> {
        let probe = match case.probe {
            None => 0,
            Some(Probe::RateLimit) => 2 * self.plan.rate_limit.as_ref()?.requests as usize,
        };
        Some(case.before.len() + probe + 1)
    }

    fn unmet(&self, case: &Case) -> Unmet {
        let plan = &self.plan;
        let mut claims: Vec<String> = case
            .dialects()
            .into_iter()
            .filter(|d| !plan.dialects.serves(*d))
            .map(|d| format!("dialect {d}"))
            .collect();
        claims.extend(
            case.requires
                .iter()
                .filter(|c| !plan.claims.contains(c))
                .map(|c| c.name().to_string()),
        );
        if let Some(perf) = &case.performance {
            let classes = plan.performance.as_ref().map(|p| &p.classes);
            if !classes.is_some_and(|c| c.contains(&perf.slo)) {
                claims.push(format!("class {}", perf.slo));
            }
        }
        let counting = fit::Counting {
            tokenizer: &self.tokenizer,
            accounting: &plan.accounting,
        };
        claims.extend(fit::misfit(case, &plan.limits, counting));
        let declared = plan
            .identity
            .as_ref()
            .is_some_and(|i| i.reference.is_some());
        if !declared && case.checks.contains(&Check::SameModelAsDeclared) {
            claims.push(IDENTITY_UNDECLARED.to_string());
        }
        Unmet {
            claims,
            tokenizer: plan.accounting.tokenizer.is_none()
                && case.checks.iter().any(Check::recounts),
        }
    }

    /// What a case needs that the target does not claim or declare:
    /// capabilities by name, a performance case's service class as
    /// `class <name>`, requests that fit the declared limits, and the
    /// tokenizer when the case recounts. Empty when the case is judged.
    pub fn unclaimed(&self, case: &Case) -> Vec<String> {
        let Unmet {
            mut claims,
            tokenizer,
        } = self.unmet(case);
        if tokenizer {
            claims.push(TOKENIZER_UNDECLARED.to_string());
        }
        claims
    }

    /// Whether a case's requests are sent: when it is judged, and when it
    /// lacks only a declared tokenizer but belongs to the priced workload
    /// (its usage is priced and normalised all the same).
    pub fn sends(&self, case: &Case) -> bool {
        let unmet = self.unmet(case);
        unmet.claims.is_empty() && (!unmet.tokenizer || case.task.is_some())
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check with its argument, e.g. `status 200`.
    pub check: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Why, quoting the evidence.
    pub reason: String,
}

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseResult {
    /// Case id.
    pub id: String,
    /// The clause tested.
    pub clause: String,
    /// The clause's level.
    pub level: Level,
    /// Fail if any check fails, else error if any errs, else fail if the
    /// exchange did not complete, else pass (or not claimed).
    pub verdict: Verdict,
    /// The deciding reason.
    pub reason: String,
    /// Every check's result, in case order.
    pub checks: Vec<CheckResult>,
    /// A performance case's figures, when they could be computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance: Option<Figures>,
}

/// The results file of a bundle (`results.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Results {
    /// Format tag.
    pub format: String,
    /// Digest of the suite the cases came from.
    pub suite_digest: String,
    /// Verdict counts by level keyword, then by verdict name.
    pub summary: BTreeMap<String, BTreeMap<String, u64>>,
    /// One result per planned case, sorted by id.
    pub cases: Vec<CaseResult>,
    /// The priced workload (the exchanges of cases with a `task`) under
    /// every price sheet of the suite; absent when either is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<PriceTable>,
}

/// The format tag of results files.
pub const RESULTS_FORMAT: &str = "tokencert-results/1";

impl Results {
    /// How many cases at `level` have `verdict`.
    pub fn count(&self, level: Level, verdict: Verdict) -> u64 {
        self.summary
            .get(level.keyword())
            .and_then(|m| m.get(verdict.name()))
            .copied()
            .unwrap_or(0)
    }

    /// True when no MUST case failed or erred.
    pub fn conforms(&self) -> bool {
        self.count(Level::Must, Verdict::Fail) == 0 && self.count(Level::Must, Verdict::Error) == 0
    }
}

/// The plan names a case the suite does not have.
#[derive(Debug, thiserror::Error)]
#[error("the run names case {0}, which this suite does not have")]
pub struct UnknownCase(pub String);

/// Judges one case from its evidence (or the reason there is none): the
/// exchanges of its `before` requests, then the judged one.
pub fn judge_case(
    suite: &Suite,
    case: &Case,
    context: &Context,
    evidence: Option<Result<Vec<Exchange>, EvidenceError>>,
) -> CaseResult {
    let level = suite.clause_of(case).map_or(Level::Must, |c| c.level);
    let result = |verdict, reason: String, checks| CaseResult {
        id: case.id.clone(),
        clause: case.clause.clone(),
        level,
        verdict,
        reason,
        checks,
        performance: None,
    };
    let missing = context.unclaimed(case);
    if !missing.is_empty() {
        return result(
            Verdict::NotClaimed,
            format!("not claimed: requires {}", missing.join(", ")),
            vec![],
        );
    }
    let exchanges = match evidence {
        None => {
            return result(
                Verdict::Error,
                "no evidence was recorded for this case".into(),
                vec![],
            );
        }
        Some(Err(e)) => {
            return result(
                Verdict::Error,
                format!("the evidence cannot be read: {e}"),
                vec![],
            );
        }
        Some(Ok(exchanges)) => exchanges,
    };
    if let Some(perf) = &case.performance {
        return judge_load(suite, case, perf, context, &exchanges, result);
    }
    let Some(sent) = context.exchanges_of(case) else {
        return result(
            Verdict::Error,
            "the case probes the rate limit, but the plan declares none".into(),
            vec![],
        );
    };
    let exchanges = superseding_retries(exchanges);
    let Some((exchange, before)) = exchanges
        .split_last()
        .filter(|(_, before)| before.len() + 1 == sent)
    else {
        return result(
            Verdict::Error,
            format!(
                "the evidence holds {} exchange(s) (retries not counted); the case sends {sent}",
                exchanges.len(),
            ),
            vec![],
        );
    };
    let view = View::new(exchange, before);
    let checks: Vec<CheckResult> = case
        .checks
        .iter()
        .map(|c| {
            let finding = match c {
                Check::SameModelAsDeclared => {
                    check::same_model_as_declared(suite, context, exchange, before)
                }
                _ => check::run(c, &view, &suite.schemas, context),
            };
            CheckResult {
                check: c.label(),
                verdict: finding.verdict,
                reason: finding.reason,
            }
        })
        .collect();
    match decisive(&checks) {
        Some(c) => {
            let reason = format!("{}: {}", c.check, c.reason);
            result(c.verdict, reason, checks)
        }
        // Checks on the head alone cannot pass an exchange that never finished.
        None => match exchange.incomplete() {
            Some(why) => result(
                Verdict::Fail,
                format!("the exchange did not complete: {why}"),
                checks,
            ),
            None => {
                let reason = format!("all {} checks pass", checks.len());
                result(Verdict::Pass, reason, checks)
            }
        },
    }
}

/// The check that decides a case: its first failing check, else its first
/// that could not judge, else its first whose claim the evidence cannot
/// settle.
fn decisive(checks: &[CheckResult]) -> Option<&CheckResult> {
    [Verdict::Fail, Verdict::Error, Verdict::NotClaimed]
        .iter()
        .find_map(|v| checks.iter().find(|c| c.verdict == *v))
}

/// Judges a performance case: the figures of its load, then its checks.
/// A request that failed is a figure (the error rate), not a reason to
/// stop judging.
fn judge_load(
    suite: &Suite,
    case: &Case,
    perf: &Performance,
    context: &Context,
    exchanges: &[Exchange],
    result: impl Fn(Verdict, String, Vec<CheckResult>) -> CaseResult,
) -> CaseResult {
    let Some(profile) = suite.slo_profiles.get(&perf.slo) else {
        return result(
            Verdict::Error,
            format!("the suite has no service class {}", perf.slo),
            vec![],
        );
    };
    if exchanges.is_empty() {
        return result(
            Verdict::Error,
            "the load recorded no exchange".into(),
            vec![],
        );
    }
    let figures = match performance::figures(exchanges, profile, &context.tokenizer) {
        Ok(figures) => figures,
        Err(e) => {
            return result(
                Verdict::Error,
                format!("the load's figures cannot be computed: {e}"),
                vec![],
            );
        }
    };
    let checks: Vec<CheckResult> = case
        .checks
        .iter()
        .map(|c| {
            let finding = performance::check(c, &figures, profile);
            CheckResult {
                check: c.label(),
                verdict: finding.verdict,
                reason: finding.reason,
            }
        })
        .collect();
    let (verdict, reason) = match decisive(&checks) {
        Some(c) => (c.verdict, format!("{}: {}", c.check, c.reason)),
        None => (
            Verdict::Pass,
            format!(
                "all {} thresholds of the {} class are met over {} requests",
                checks.len(),
                perf.slo,
                figures.load.requests
            ),
        ),
    };
    CaseResult {
        performance: Some(figures),
        ..result(verdict, reason, checks)
    }
}

/// Each exchange the runner re-sent after a 429 (polite mode) is replaced
/// by its retry: the checks judge the attempt that counted.
fn superseding_retries(exchanges: Vec<Exchange>) -> Vec<Exchange> {
    let mut kept: Vec<Exchange> = Vec::with_capacity(exchanges.len());
    for exchange in exchanges {
        if exchange.attempt > 0 {
            kept.pop();
        }
        kept.push(exchange);
    }
    kept
}

/// Judges a whole run. `evidence` returns a case's exchange, `None` when
/// nothing was recorded for it.
pub fn judge(
    suite: &Suite,
    context: &Context,
    mut evidence: impl FnMut(&str) -> Option<Result<Vec<Exchange>, EvidenceError>>,
) -> Result<Results, UnknownCase> {
    let plan = &context.plan;
    let mut cases = Vec::with_capacity(plan.cases.len());
    let mut workload = Vec::new();
    for id in &plan.cases {
        let case = suite.case(id).ok_or_else(|| UnknownCase(id.clone()))?;
        let recorded = if context.sends(case) {
            evidence(id)
        } else {
            None
        };
        // Priced cases bill every attempt; only the judged exchange of a
        // passing case succeeded, or of one not claimed for want of a
        // tokenizer that delivered an answer.
        let billed: Vec<_> = match (case.task, &recorded) {
            (Some(_), Some(Ok(exchanges))) => exchanges
                .iter()
                .map(|e| check::priced(e, &context.normaliser))
                .collect(),
            _ => Vec::new(),
        };
        let result = judge_case(suite, case, context, recorded);
        if let Some(task) = case.task {
            let last = billed.len().saturating_sub(1);
            let succeeded = match result.verdict {
                Verdict::Pass => true,
                Verdict::NotClaimed => billed.last().is_some_and(|(_, n)| n.is_some()),
                Verdict::Fail | Verdict::Error => false,
            };
            workload.extend(billed.into_iter().enumerate().map(
                |(i, (usage, normalised_tokens))| Billed {
                    case: case.id.clone(),
                    task,
                    usage,
                    succeeded: succeeded && i == last,
                    normalised_tokens,
                },
            ));
        }
        cases.push(result);
    }
    Ok(collect(suite, cases, &workload))
}

/// Assembles results from case results (sorted by id) with their summary,
/// and prices the workload under the suite's price sheets.
pub fn collect(suite: &Suite, mut cases: Vec<CaseResult>, workload: &[Billed]) -> Results {
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    let mut summary: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for case in &cases {
        *summary
            .entry(case.level.keyword().to_string())
            .or_default()
            .entry(case.verdict.name().to_string())
            .or_default() += 1;
    }
    Results {
        format: RESULTS_FORMAT.into(),
        suite_digest: suite.digest.clone(),
        summary,
        cases,
        prices: (!suite.prices.is_empty() && !workload.is_empty())
            .then(|| price::price_table(&suite.prices, workload)),
    }
}
