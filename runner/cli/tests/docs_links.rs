//! Every relative link in the manual (docs/, an mdBook) and in README.md
//! resolves: to a file that exists, and with a `#fragment` to a heading of
//! the page it names, by mdBook's anchor rules. Pages of the book link only
//! within the book and are all listed in docs/SUMMARY.md, since mdBook
//! renders nothing else. Fast and offline: a broken link fails `cargo test`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

/// A problem found, as `file:line: message`.
type Problems = Vec<String>;

/// The anchor mdBook 0.5 gives a heading's text: lowercased, alphanumerics,
/// `_` and `-` kept, whitespace turned into `-`, everything else dropped
/// (`mdbook-html`'s `id_from_content`).
fn mdbook_id(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|ch| {
            if ch.is_alphanumeric() || ch == '_' || ch == '-' {
                Some(ch)
            } else if ch.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The text a reader sees of inline Markdown: code spans keep their
/// content, links their text, emphasis markers and HTML tags go.
fn visible_text(inline: &str) -> String {
    let mut out = String::new();
    let mut chars = inline.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '`' => {
                for inner in chars.by_ref() {
                    if inner == '`' {
                        break;
                    }
                    out.push(inner);
                }
            }
            '!' if chars.peek() == Some(&'[') => {}
            '[' | ']' | '*' => {}
            '(' if out.ends_with('\u{0}') => {}
            '<' => {
                for inner in chars.by_ref() {
                    if inner == '>' {
                        break;
                    }
                }
            }
            _ => out.push(ch),
        }
        // A link's destination follows its text's `]` directly: skip it.
        if ch == ']' && chars.peek() == Some(&'(') {
            let mut depth = 0;
            for inner in chars.by_ref() {
                match inner {
                    '(' => depth += 1,
                    ')' if depth == 1 => break,
                    ')' => depth -= 1,
                    _ => {}
                }
            }
        }
    }
    out
}

/// The lines of a Markdown page that are not inside fenced code blocks,
/// with their 1-based numbers.
fn prose_lines(page: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<String> = None;
    let mut lines = Vec::new();
    for (index, line) in page.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker: String = trimmed
            .chars()
            .take_while(|c| *c == '`' || *c == '~')
            .collect();
        if marker.len() >= 3
            && marker
                .chars()
                .all(|c| c == marker.chars().next().unwrap_or('`'))
        {
            match &fence {
                None => fence = Some(marker),
                Some(open) if marker.starts_with(open.as_str()) && trimmed.trim() == marker => {
                    fence = None
                }
                Some(_) => {}
            }
            continue;
        }
        if fence.is_none() {
            lines.push((index + 1, line));
        }
    }
    lines
}

/// The anchors of a page's ATX headings, made unique as mdBook does
/// (`-1`, `-2`, ... for repeats); `{#id}` after a heading sets its own.
fn anchors(page: &str) -> HashSet<String> {
    let mut used = HashSet::new();
    for (_, line) in prose_lines(page) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let text = line[hashes..].trim().trim_end_matches('#').trim();
        if let Some(start) = text.rfind("{#").filter(|_| text.ends_with('}')) {
            used.insert(text[start + 2..text.len() - 1].to_string());
            continue;
        }
        let id = mdbook_id(&visible_text(text));
        let mut unique = id.clone();
        let mut counter = 1;
        while !used.insert(unique.clone()) {
            unique = format!("{id}-{counter}");
            counter += 1;
        }
    }
    used
}

/// A line with its code spans blanked out (links inside them are text).
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for ch in line.chars() {
        if ch == '`' {
            in_code = !in_code;
            out.push(' ');
        } else {
            out.push(if in_code { ' ' } else { ch });
        }
    }
    out
}

/// Link destinations in a page: inline `[text](dest)` and `![alt](dest)`,
/// and reference definitions `[label]: dest`, each with its line.
fn links(page: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in prose_lines(page) {
        let line = without_code_spans(line);
        let trimmed = line.trim_start();
        if trimmed.starts_with('[')
            && let Some(end) = trimmed.find("]: ")
        {
            let dest = trimmed[end + 3..].split_whitespace().next().unwrap_or("");
            found.push((number, dest.trim_matches(['<', '>']).to_string()));
            continue;
        }
        let mut rest = line.as_str();
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let mut depth = 1;
            let mut end = after.len();
            for (offset, ch) in after.char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = offset;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let dest = after[..end].split_whitespace().next().unwrap_or("");
            found.push((number, dest.trim_matches(['<', '>']).to_string()));
            rest = &after[end.min(after.len())..];
        }
    }
    found
}

/// `scheme:` at the start (https:, mailto:): not a file of this repository.
fn is_external(dest: &str) -> bool {
    let scheme: String = dest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "+.-".contains(*c))
        .collect();
    !scheme.is_empty() && dest[scheme.len()..].starts_with(':')
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Checks the links of `pages` (paths relative to `root`). `book` is the
/// mdBook source folder (relative to `root`): its pages may link only
/// inside it, to chapters its SUMMARY.md lists.
fn check(root: &Path, pages: &[PathBuf], book: &Path) -> Problems {
    let mut problems = Vec::new();
    let mut anchor_cache: BTreeMap<PathBuf, HashSet<String>> = BTreeMap::new();
    let summary = std::fs::read_to_string(root.join(book).join("SUMMARY.md")).unwrap_or_default();
    let chapters: HashSet<PathBuf> = links(&summary)
        .into_iter()
        .map(|(_, dest)| normalize(&book.join(dest)))
        .collect();
    for page in pages {
        let Ok(text) = std::fs::read_to_string(root.join(page)) else {
            problems.push(format!("{}: cannot be read", page.display()));
            continue;
        };
        let in_book = page.starts_with(book);
        if in_book
            && page.extension().is_some_and(|e| e == "md")
            && page.file_name() != Some("SUMMARY.md".as_ref())
            && !chapters.contains(page)
        {
            problems.push(format!(
                "{}: not listed in {}/SUMMARY.md, so the book does not render it",
                page.display(),
                book.display()
            ));
        }
        for (line, dest) in links(&text) {
            let at = format!("{}:{line}", page.display());
            if dest.is_empty() {
                problems.push(format!("{at}: empty link"));
                continue;
            }
            if is_external(&dest) {
                continue;
            }
            let (file, fragment) = match dest.split_once('#') {
                Some((file, fragment)) => (file, Some(fragment)),
                None => (dest.as_str(), None),
            };
            let target = if file.is_empty() {
                page.clone()
            } else {
                normalize(&page.parent().unwrap_or(Path::new("")).join(file))
            };
            if !root.join(&target).exists() {
                problems.push(format!("{at}: {dest}: no file {}", target.display()));
                continue;
            }
            if in_book && !target.starts_with(book) {
                problems.push(format!(
                    "{at}: {dest}: {} is outside the book ({}/), so the rendered link would break; name the path in `code` instead",
                    target.display(),
                    book.display()
                ));
                continue;
            }
            let is_page = target.extension().is_some_and(|e| e == "md");
            if in_book && is_page && !chapters.contains(&target) {
                problems.push(format!(
                    "{at}: {dest}: {} is not a chapter of {}/SUMMARY.md",
                    target.display(),
                    book.display()
                ));
            }
            let Some(fragment) = fragment else { continue };
            if !is_page {
                continue;
            }
            let ids = anchor_cache.entry(target.clone()).or_insert_with(|| {
                anchors(&std::fs::read_to_string(root.join(&target)).unwrap_or_default())
            });
            if !ids.contains(fragment) {
                let mut known: Vec<&String> = ids.iter().collect();
                known.sort();
                problems.push(format!(
                    "{at}: {dest}: {} has no heading with anchor #{fragment} (its anchors: {known:?})",
                    target.display()
                ));
            }
        }
    }
    problems
}

/// README.md and every Markdown file under docs/, relative to the root.
fn manual_pages(root: &Path) -> Vec<PathBuf> {
    let mut pages = vec![PathBuf::from("README.md")];
    let mut dirs = vec![PathBuf::from("docs")];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(root.join(&dir)).expect("reading docs/");
        for entry in entries {
            let entry = entry.expect("a docs/ entry");
            let path = dir.join(entry.file_name());
            if entry.file_type().expect("its type").is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                pages.push(path);
            }
        }
    }
    pages.sort();
    pages
}

#[test]
fn every_link_in_the_manual_resolves() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pages = manual_pages(&root);
    assert!(pages.len() > 10, "{pages:?}");
    let problems = check(&root, &pages, Path::new("docs"));
    assert!(
        problems.is_empty(),
        "broken links:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn anchors_follow_mdbook() {
    // mdbook-html's own examples, and ours.
    assert_eq!(
        mdbook_id("`--passes`: add more rustdoc passes"),
        "--passes-add-more-rustdoc-passes"
    );
    assert_eq!(mdbook_id("Über"), "über");
    let page = "# Honest tokens and prices\n## `tokencert run` flags\n## Soak\n## Soak\n```\n# not a heading\n```\n## [Linked](x.md) *heading*\n## Custom {#mine}\n";
    let ids = anchors(page);
    let mut ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "honest-tokens-and-prices",
            "linked-heading",
            "mine",
            "soak",
            "soak-1",
            "tokencert-run-flags"
        ]
    );
}

#[test]
fn broken_links_are_found() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let write = |path: &str, text: &str| {
        let path = root.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write("src/main.rs", "");
    write("docs/SUMMARY.md", "# Summary\n\n- [A](a.md)\n- [B](b.md)\n");
    write(
        "docs/a.md",
        "# A page\n\n## Two words\n\n[ok](b.md#b-page) [ok](#two-words) [ok](https://example.invalid/x)\n\
         `[code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n\
         [gone](gone.md) [bad anchor](b.md#nope) [outside](../src/main.rs) [self](#missing)\n\
         [unlisted](c.md)\n",
    );
    write("docs/b.md", "# B page\n");
    write("docs/c.md", "# C page\n");
    write(
        "README.md",
        "[ok](docs/a.md#two-words) [ok](src/main.rs) [bad](docs/a.md#a-pag)\n",
    );
    let pages: Vec<PathBuf> = ["README.md", "docs/a.md", "docs/b.md", "docs/c.md"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let problems = check(root.path(), &pages, Path::new("docs"));
    let expected = [
        "README.md:1: docs/a.md#a-pag: docs/a.md has no heading with anchor #a-pag",
        "docs/a.md:10: gone.md: no file docs/gone.md",
        "docs/a.md:10: b.md#nope: docs/b.md has no heading with anchor #nope",
        "docs/a.md:10: ../src/main.rs: src/main.rs is outside the book",
        "docs/a.md:10: #missing: docs/a.md has no heading with anchor #missing",
        "docs/a.md:11: c.md: docs/c.md is not a chapter of docs/SUMMARY.md",
        "docs/c.md: not listed in docs/SUMMARY.md",
    ];
    for want in expected {
        assert!(
            problems.iter().any(|p| p.starts_with(want)),
            "{want} not in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
}
