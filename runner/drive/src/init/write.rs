//! Observations written as a target profile (`suites/targets/*.yaml`),
//! each claim and limit with a comment saying whether it was observed (and
//! how) or assumed. Pure: no I/O.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use tokencert_core::suite::{Capability, Limits};

use super::read::quote_line;
use super::{Observations, SeenLimit};

/// The profile text for `observations`. `service_classes` names the
/// suite's service classes for the commented `performance` template. The
/// key is not among the observations, so it cannot be written.
pub fn profile_yaml(observations: &Observations, service_classes: &BTreeSet<String>) -> String {
    let o = observations;
    let mut y = String::new();
    let line = |y: &mut String, text: &str| {
        y.push_str(text);
        y.push('\n');
    };
    line(&mut y, "# Target profile proposed by `tokencert init`.");
    line(&mut y, "#");
    line(
        &mut y,
        "# A claim is the vendor's statement, not tokencert's: review every line",
    );
    line(
        &mut y,
        "# below before you keep this file. What a handful of harmless probes saw",
    );
    line(
        &mut y,
        "# is marked \"observed\"; what they could not see is \"assumed\" or left as",
    );
    line(
        &mut y,
        "# a commented template. `tokencert run --profile FILE` then tests exactly",
    );
    line(
        &mut y,
        "# what the file claims: a claim that is wrong fails its cases.",
    );
    line(&mut y, "#");
    line(
        &mut y,
        &comment(&format!(
            "Probed {} (model {}) at {}.",
            o.base_url, o.model, o.probed_at
        )),
    );
    for note in &o.notes {
        line(&mut y, &comment(&format!("- {note}")));
    }
    let host = url::Url::parse(&o.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "target".into());
    let _ = writeln!(y, "name: {}", scalar(&host));
    let _ = writeln!(
        y,
        "description: {}",
        scalar(&format!(
            "The service at {} (describe it: what it is, its version, how it is deployed).",
            o.base_url
        ))
    );
    let _ = writeln!(y, "model: {}", scalar(&o.model));

    // The short chat succeeded, so at least openai-chat is observed.
    line(&mut y, "dialects:");
    for (dialect, seen) in &o.dialects {
        let name = dialect.name();
        let entry = if seen.observed {
            format!("  - {name:<18} # observed: {}", quote_line(&seen.evidence))
        } else {
            format!(
                "  # - {name:<16} # not observed: {}",
                quote_line(&seen.evidence)
            )
        };
        line(&mut y, &entry);
    }

    let observed: Vec<Capability> = o.observed().collect();
    if observed.is_empty() {
        line(
            &mut y,
            "claims: []   # none observed; uncomment what the target does",
        );
    } else {
        line(&mut y, "claims:");
    }
    for capability in Capability::ALL {
        let name = capability.name();
        let entry = match o.capabilities.get(capability) {
            Some(seen) if seen.observed => {
                format!("  - {name:<15} # observed: {}", quote_line(&seen.evidence))
            }
            Some(seen) => format!(
                "  # - {name:<13} # not observed: {}",
                quote_line(&seen.evidence)
            ),
            None => format!(
                "  # - {name:<13} # not probed: no harmless probe can see it; declare rate_limit below, then claim it"
            ),
        };
        line(&mut y, &entry);
    }

    line(&mut y, "limits:");
    let defaults = Limits::default();
    limit(
        &mut y,
        "max_context_tokens",
        &o.max_context_tokens,
        defaults.max_context_tokens,
    );
    limit(
        &mut y,
        "max_request_bytes",
        &o.max_request_bytes,
        defaults.max_request_bytes,
    );

    line(
        &mut y,
        "# How the target counts tokens: not probed. Without a declared tokenizer",
    );
    line(
        &mut y,
        "# every case that recounts usage is not claimed. Declare the one it bills with:",
    );
    line(&mut y, "# accounting:");
    line(
        &mut y,
        "#   tokenizer: o200k_base     # or cl100k_base, {hugging_face: tokenizer.json}, {gguf: model.gguf}",
    );
    line(
        &mut y,
        "#   chat_overhead: {per_message: 3, per_name: 1, reply: 3}",
    );
    line(&mut y, "#   tolerance: {tokens: 0, percent: 0}");
    line(
        &mut y,
        "# The rate limit: not probed (only a burst beyond it would show it). Declare it",
    );
    line(
        &mut y,
        "# and claim rate_limits above: at most 1000 requests per window of at most 60 s.",
    );
    let model = scalar(&o.model);
    let _ = writeln!(
        y,
        "# rate_limit: {{model: {model}, requests: 600, window_seconds: 60, tokens: 1000000}}"
    );
    line(
        &mut y,
        "# Service classes (spec/slo/): not probed (only a load would show them).",
    );
    let classes: Vec<&str> = service_classes.iter().map(String::as_str).collect();
    let _ = writeln!(
        y,
        "# performance: {{model: {model}, classes: [{}]}}",
        classes.join(", ")
    );
    y
}

/// One limit: the named value, observed; else the default, assumed.
fn limit(y: &mut String, key: &str, seen: &SeenLimit, default: u64) {
    let entry = match seen.value {
        Some(value) => format!(
            "  {key}: {value}   # observed: {}",
            quote_line(&seen.evidence)
        ),
        None => format!(
            "  {key}: {default}   # assumed (the default): {}; put the real limit here",
            quote_line(&seen.evidence)
        ),
    };
    y.push_str(&entry);
    y.push('\n');
}

/// `text` as a comment line.
fn comment(text: &str) -> String {
    quote_line(&format!("# {text}"))
}

/// A YAML double-quoted scalar: a JSON string is one.
fn scalar(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tokencert_core::suite::Dialect;

    use super::*;
    use crate::init::Seen;

    fn observations(observed: &[Capability]) -> Observations {
        let capabilities = Capability::ALL
            .iter()
            .filter(|c| **c != Capability::RateLimits)
            .map(|c| {
                let seen = Seen {
                    observed: observed.contains(c),
                    evidence: format!("saw {}\n# - rate_limits", c.name()),
                };
                (*c, seen)
            })
            .collect::<BTreeMap<_, _>>();
        let dialects = Dialect::ALL
            .into_iter()
            .map(|d| {
                let seen = Seen {
                    observed: d != Dialect::OpenaiResponses,
                    evidence: format!("saw {d}\n- openai-responses"),
                };
                (d, seen)
            })
            .collect();
        Observations {
            base_url: "https://api.example.com/v1".into(),
            model: "m: \"odd\"\n#".into(),
            probed_at: "2026-01-01T00:00:00Z".into(),
            dialects,
            capabilities,
            max_context_tokens: SeenLimit {
                value: Some(4096),
                evidence: "said so".into(),
            },
            max_request_bytes: SeenLimit {
                value: None,
                evidence: "accepted".into(),
            },
            notes: vec!["a note\nname: injected".into()],
        }
    }

    fn load(text: &str) -> tokencert_core::suite::TargetProfile {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, text).expect("write");
        tokencert_core::suite::load_profile(&path).unwrap_or_else(|p| panic!("{p}\n{text}"))
    }

    #[test]
    fn the_profile_loads_and_claims_exactly_what_was_observed() {
        let classes = BTreeSet::from(["batch".to_string()]);
        for observed in [
            vec![],
            vec![Capability::Auth],
            vec![Capability::N, Capability::Seed, Capability::PromptCaching],
            Capability::ALL.to_vec(),
        ] {
            let text = profile_yaml(&observations(&observed), &classes);
            let profile = load(&text);
            let want: BTreeSet<Capability> = observed
                .iter()
                .copied()
                .filter(|c| *c != Capability::RateLimits)
                .collect();
            assert_eq!(profile.claims, want, "{text}");
            assert!(
                profile.dialects.serves(Dialect::AnthropicMessages),
                "{text}"
            );
            assert!(!profile.dialects.serves(Dialect::OpenaiResponses), "{text}");
            assert_eq!(profile.model.as_deref(), Some("m: \"odd\"\n#"));
            assert_eq!(profile.name, "api.example.com");
            assert_eq!(profile.limits.max_context_tokens, 4096);
            assert_eq!(
                profile.limits.max_request_bytes,
                Limits::default().max_request_bytes
            );
            assert_eq!(profile.rate_limit, None);
            assert_eq!(profile.performance, None);
            assert!(text.starts_with("# Target profile proposed by `tokencert init`."));
            assert!(text.contains("the vendor's statement"));
            assert!(text.contains("# observed: said so"), "{text}");
            assert!(text.contains("# assumed (the default): accepted"), "{text}");
            assert!(text.contains("classes: [batch]"), "{text}");
        }
    }

    #[test]
    fn uncommenting_the_templates_gives_a_profile_that_loads() {
        let text = profile_yaml(&observations(&[Capability::Auth]), &BTreeSet::new());
        let uncommented: String = text
            .lines()
            .map(|l| {
                for template in ["# accounting:", "#   ", "# rate_limit:", "# performance:"] {
                    if l.starts_with(template) {
                        return format!("{}\n", &l[2..]);
                    }
                }
                format!("{l}\n")
            })
            .collect();
        let profile = load(&uncommented.replace("classes: []", "classes: [batch]"));
        assert!(profile.rate_limit.is_some(), "{uncommented}");
        assert!(profile.performance.is_some());
        assert!(profile.accounting.tokenizer.is_some());
    }
}
