//! Canonical JSON for digested files: object keys sorted by their UTF-16
//! code units (as RFC 8785 orders them), no insignificant whitespace, and
//! integers only, so the same content always has the same bytes.

use serde::Serialize;
use serde_json::Value;

/// A value that cannot be written canonically.
#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    /// The value does not serialize to JSON.
    #[error("cannot serialize: {0}")]
    Serialize(#[from] serde_json::Error),
    /// A non-integer number, whose text could vary between writers.
    #[error("non-integer number at {0}; canonical files hold integers only")]
    Float(String),
}

/// Serializes `value` canonically, ending with a newline.
pub fn to_vec<T: Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value)?;
    let mut out = String::new();
    write(&value, "", Numbers::IntegersOnly, &mut out)?;
    out.push('\n');
    Ok(out.into_bytes())
}

/// `value` in the same canonical form, but admitting fractions, printed as
/// ECMAScript prints the values a workload holds (`0.5`, and `4.0` as
/// `4`): for digests of data that carries rates, such as a workload.
pub fn with_fractions(value: &Value) -> String {
    let mut out = String::new();
    // Only the integers-only policy refuses a number.
    let _ = write(value, "", Numbers::Fractions, &mut out);
    out
}

/// Which numbers a canonical text holds.
#[derive(Clone, Copy)]
enum Numbers {
    /// Integers; anything else is an error.
    IntegersOnly,
    /// Any number, a whole one printed as an integer.
    Fractions,
}

fn write(
    value: &Value,
    path: &str,
    numbers: Numbers,
    out: &mut String,
) -> Result<(), CanonicalError> {
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => out.push_str(&value.to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
        Value::Number(n) => match (numbers, n.as_f64()) {
            (Numbers::IntegersOnly, _) => {
                return Err(CanonicalError::Float(if path.is_empty() {
                    "/".into()
                } else {
                    path.into()
                }));
            }
            (Numbers::Fractions, Some(f)) if f.fract() == 0.0 && f.abs() < 1e21 => {
                out.push_str(&format!("{f:.0}"));
            }
            (Numbers::Fractions, _) => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, &format!("{path}/{i}"), numbers, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write(&map[key], &format!("{path}/{key}"), numbers, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn with_fractions_sorts_keys_and_prints_whole_rates_as_integers() {
        let value = json!({"b": 4.0, "a": [0.5, 2, "x"], "é": null});
        let text = super::with_fractions(&value);
        assert_eq!(text, r#"{"a":[0.5,2,"x"],"b":4,"é":null}"#);
    }

    #[test]
    fn keys_are_sorted_at_every_depth_and_whitespace_dropped() {
        let bytes =
            super::to_vec(&json!({"b": 1, "a": {"z": [true, null], "y": "x"}})).expect("ok");
        assert_eq!(bytes, b"{\"a\":{\"y\":\"x\",\"z\":[true,null]},\"b\":1}\n");
    }

    #[test]
    fn floats_are_refused_with_their_path() {
        let err = super::to_vec(&json!({"a": [1, 2.5]})).expect_err("float");
        assert!(err.to_string().contains("/a/1"), "{err}");
    }
}
