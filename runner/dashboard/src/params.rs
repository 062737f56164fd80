//! Query strings, bounded: a known set of keys, each at most once, short
//! values; anything else is a 400.

use std::collections::BTreeMap;

/// Longest query string accepted, bytes.
pub const MAX_QUERY: usize = 4096;
/// Longest value accepted, bytes (a target URL fits).
pub const MAX_VALUE: usize = 1024;

/// The parameters of `raw`, when every key is in `allowed`, none repeats
/// and every value is short; else what is wrong, for a 400.
pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<BTreeMap<String, String>, String> {
    let raw = raw.unwrap_or("");
    if raw.len() > MAX_QUERY {
        return Err(format!("the query string is longer than {MAX_QUERY} bytes"));
    }
    let mut out = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        if !allowed.contains(&key.as_ref()) {
            return Err(format!(
                "unknown query parameter {key:?}; this page takes {}",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            ));
        }
        if value.len() > MAX_VALUE {
            return Err(format!("{key} is longer than {MAX_VALUE} bytes"));
        }
        if out.insert(key.to_string(), value.to_string()).is_some() {
            return Err(format!("{key} is given twice"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_short_unrepeated_parameters_pass() {
        let p = parse(Some("url=http%3A%2F%2Fh&model=m"), &["url", "model"]).expect("ok");
        assert_eq!(p["url"], "http://h");
        assert!(parse(Some("x=1"), &["url"]).is_err());
        assert!(parse(Some("url=a&url=b"), &["url"]).is_err());
        let long = format!("url={}", "a".repeat(MAX_VALUE + 1));
        assert!(parse(Some(&long), &["url"]).is_err());
    }
}
