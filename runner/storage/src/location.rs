//! `s3://bucket/prefix` locations.

use crate::error::StorageError;

/// Whether `source` names an object-store location rather than a local path.
pub fn is_store_url(source: &str) -> bool {
    source.starts_with("s3://")
}

/// A parsed `s3://bucket/prefix` location. The prefix is a `/`-separated key
/// prefix without leading or trailing `/` (empty for the whole bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl {
    /// The bucket name.
    pub bucket: String,
    /// The key prefix, segments joined by `/`; empty for the bucket's root.
    pub prefix: String,
}

impl StoreUrl {
    /// Parses `s3://bucket[/prefix]`. Refuses other schemes, an empty or
    /// malformed bucket name, and prefixes with empty, `.` or `..` segments.
    pub fn parse(text: &str) -> Result<Self, StorageError> {
        let bad = |why: &str| StorageError::BadUrl {
            url: text.to_string(),
            why: why.to_string(),
        };
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| bad("expected s3://bucket/prefix"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !bucket_ok {
            return Err(bad(
                "the bucket name must be 3 to 63 lowercase letters, digits, '-' or '.'",
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            for segment in prefix.split('/') {
                check_segment(segment).map_err(|why| bad(&why))?;
            }
        }
        Ok(StoreUrl {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The location `name` below this one.
    pub fn join(&self, name: &str) -> StoreUrl {
        StoreUrl {
            bucket: self.bucket.clone(),
            prefix: if self.prefix.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", self.prefix)
            },
        }
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// Checks one `/`-separated segment of a key: it must be usable as a file or
/// directory name on this machine without escaping the directory it is in.
pub(crate) fn check_segment(segment: &str) -> Result<(), String> {
    if segment.is_empty() {
        return Err("empty path segment ('//')".into());
    }
    if segment == "." || segment == ".." {
        return Err(format!("path segment '{segment}'"));
    }
    if segment.len() > 255 {
        return Err("path segment longer than 255 bytes".into());
    }
    if segment
        .chars()
        .any(|c| c == '\\' || c == ':' || c.is_control())
    {
        return Err(format!(
            "path segment {segment:?} holds a backslash, colon or control character"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        let url = StoreUrl::parse("s3://bundles/run-42/").expect("valid");
        assert_eq!(url.bucket, "bundles");
        assert_eq!(url.prefix, "run-42");
        assert_eq!(url.to_string(), "s3://bundles/run-42");
        assert_eq!(url.join("shard-0").prefix, "run-42/shard-0");
        let root = StoreUrl::parse("s3://bundles").expect("valid");
        assert_eq!(root.prefix, "");
        assert_eq!(root.join("a").to_string(), "s3://bundles/a");
    }

    #[test]
    fn refuses_malformed_locations() {
        for bad in [
            "http://bundles/x",
            "s3://",
            "s3://B/x",
            "s3://ab/x",
            "s3://-bucket/x",
            "s3://bucket/a//b",
            "s3://bucket/a/../b",
            "s3://bucket/./b",
            "s3://bucket/a\\b",
        ] {
            assert!(StoreUrl::parse(bad).is_err(), "{bad} was accepted");
        }
        assert!(is_store_url("s3://x"));
        assert!(!is_store_url("reports/x"));
    }
}
