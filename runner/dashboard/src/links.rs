//! Where pages link: absolute routes on the server, relative file paths in
//! a static export, so that the same templates serve both.

use sha2::{Digest, Sha256};

/// The link scheme of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Served: `/bundle/<id>`, `/target?url=..&model=..`.
    Server,
    /// A file `depth` directories below the export's root:
    /// `bundle/<id>.html`, `target/<slug>.html`.
    Export {
        /// 0 for index.html, 1 for target/ and bundle/ pages.
        depth: usize,
    },
}

impl Links {
    fn prefix(self) -> String {
        match self {
            Links::Server => "/".into(),
            Links::Export { depth } => "../".repeat(depth),
        }
    }

    /// The leaderboard.
    pub fn home(self) -> String {
        match self {
            Links::Server => "/".into(),
            Links::Export { .. } => format!("{}index.html", self.prefix()),
        }
    }

    /// A bundle's page.
    pub fn bundle(self, id: &str) -> String {
        match self {
            Links::Server => format!("/bundle/{id}"),
            Links::Export { .. } => format!("{}bundle/{id}.html", self.prefix()),
        }
    }

    /// A bundle as one tar archive.
    pub fn archive(self, id: &str) -> String {
        format!("{}bundle/{id}.tar", self.prefix())
    }

    /// The report.html inside a bundle.
    pub fn report(self, id: &str) -> String {
        format!("{}bundles/{id}/report.html", self.prefix())
    }

    /// A target's page.
    pub fn target(self, url: &str, model: &str) -> String {
        match self {
            Links::Server => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("url", url)
                    .append_pair("model", model)
                    .finish();
                format!("/target?{query}")
            }
            Links::Export { .. } => format!("{}target/{}.html", self.prefix(), slug(url, model)),
        }
    }

    /// The leaderboard sorted by `key`; None in an export (no query strings
    /// on a static host).
    pub fn sort(self, key: &str) -> Option<String> {
        match self {
            Links::Server => Some(format!("/?sort={key}")),
            Links::Export { .. } => None,
        }
    }

    /// The JSON of the leaderboard.
    pub fn api_leaderboard(self) -> String {
        match self {
            Links::Server => "/api/leaderboard".into(),
            Links::Export { .. } => format!("{}api/leaderboard.json", self.prefix()),
        }
    }

    /// The JSON of a target's page.
    pub fn api_target(self, url: &str, model: &str) -> String {
        match self {
            Links::Server => format!("/api{}", self.target(url, model)),
            Links::Export { .. } => {
                format!("{}api/target/{}.json", self.prefix(), slug(url, model))
            }
        }
    }

    /// The JSON of a bundle's page.
    pub fn api_bundle(self, id: &str) -> String {
        match self {
            Links::Server => format!("/api/bundle/{id}"),
            Links::Export { .. } => format!("{}api/bundle/{id}.json", self.prefix()),
        }
    }

    /// The Prometheus text.
    pub fn metrics(self) -> String {
        match self {
            Links::Server => "/metrics".into(),
            Links::Export { .. } => format!("{}metrics.txt", self.prefix()),
        }
    }
}

/// A file name for a target: its host, path and model in safe characters
/// (at most 60), then 12 hex digits of sha256 of URL and model, so that
/// distinct targets never share a file.
pub fn slug(url: &str, model: &str) -> String {
    let bare = url
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let mut readable: String = format!("{bare}-{model}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while readable.contains("--") {
        readable = readable.replace("--", "-");
    }
    let readable: String = readable.trim_matches('-').chars().take(60).collect();
    let digest = Sha256::digest(format!("{url}\n{model}").as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    if readable.is_empty() {
        hex
    } else {
        format!("{readable}-{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_file_names_and_distinct() {
        let a = slug("http://127.0.0.1:8080/v1", "<script>alert(1)</script>");
        assert!(
            a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{a}"
        );
        assert_ne!(
            a,
            slug("http://127.0.0.1:8080/v1", "<script>alert(2)</script>")
        );
        assert_eq!(
            Links::Server.target("http://h/v1", "a&b"),
            "/target?url=http%3A%2F%2Fh%2Fv1&model=a%26b"
        );
        assert_eq!(Links::Export { depth: 1 }.bundle("ab"), "../bundle/ab.html");
    }
}
