//! `report.html` as a person sees it: a real run of the suite (one
//! conformance case and the interactive load), `tokencert report`, then a
//! screenshot by headless Chromium (Debian's `chromium` package) in which
//! the charts must show. Skipped, saying so, where `/usr/bin/chromium` is
//! absent. Also: the committed example bundle under `reports/example/`
//! verifies, and its rendered pages are what `tokencert report` renders.

mod common;

use common::{text, tokencert};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The screenshot's size, as asked on the command line.
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 2400;
/// Chromium gets this long per screenshot, then is killed.
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(90);
/// Fill colours of the charts (`runner/core/src/report/chart.rs`): the
/// bars and first lines, the second lines, the throughput lines.
const CHART_BLUE: [u8; 3] = [0x1f, 0x6f, 0xb4];
const CHART_ORANGE: [u8; 3] = [0xe0, 0x7b, 0x0f];
const CHART_GREEN: [u8; 3] = [0x2e, 0x7d, 0x32];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The one directory under `dir` holding a `run.json`.
fn bundle_in(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("run.json").is_file())
}

/// Runs `api.chat.basic` and `perf.interactive` of the real suite and
/// renders the bundle; returns the bundle, the report directory and the
/// target URL.
fn rendered(dir: &Path) -> (PathBuf, PathBuf, String) {
    let suite = root();
    let out = dir.join("out");
    let run = tokencert(&[
        "run",
        "--suite",
        arg(&suite),
        "--out",
        arg(&out),
        "api.chat.basic",
        "perf.interactive",
    ]);
    assert!(
        run.status.success(),
        "the run passes: {}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let bundle = bundle_in(&out).expect("a bundle");
    let report = dir.join("report");
    let rendered = tokencert(&[
        "report",
        "--suite",
        arg(&suite),
        "--out",
        arg(&report),
        arg(&bundle),
    ]);
    assert!(
        rendered.status.success(),
        "report: {}",
        text(&rendered.stderr)
    );
    let run_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("run.json")).expect("run.json"))
            .expect("run.json is JSON");
    let url = run_json["target"]["base_url"]
        .as_str()
        .expect("a base URL")
        .to_string();
    (bundle, report, url)
}

/// Screenshots `page` into `png`, killing Chromium if it overruns.
fn screenshot(page: &Path, png: &Path, profile: &Path) {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--screenshot={}", png.display()),
            &format!("--window-size={WIDTH},{HEIGHT}"),
            &format!("file://{}", page.display()),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + SCREENSHOT_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            assert!(status.success(), "chromium exited with {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took longer than {SCREENSHOT_TIMEOUT:?}; killed it");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The decoded screenshot: its size and RGB pixels.
fn pixels(png_path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(png_path).expect("the screenshot exists");
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().expect("a valid PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a sane size")];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "8-bit channels");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    let rgb = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, rgb)
}

fn count(pixels: &[[u8; 3]], colour: [u8; 3]) -> usize {
    pixels.iter().filter(|p| **p == colour).count()
}

/// The page without its charts: every `<svg>…</svg>` cut out.
fn without_charts(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("</svg>")
            .map_or(rest.len(), |e| start + e + "</svg>".len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_html_report_is_self_contained_and_its_screenshot_shows_the_charts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (bundle, report, url) = rendered(dir.path());
    let page = report.join("report.html");
    let html = std::fs::read_to_string(&page).expect("report.html is written");

    // Self-contained: no URL but the target's, nothing fetched or run.
    let rest = html.replace(&url, "");
    assert!(!rest.contains("http"), "a URL other than the target's");
    for tag in ["<script", "<link", "<img", "<iframe", "url("] {
        assert!(!rest.contains(tag), "{tag} in report.html");
    }
    // The charts: latency CDF, two histograms, timeline, against load.
    assert_eq!(html.matches("<svg ").count(), 5, "five charts");
    for heading in ["Verdicts by clause", "TS-PERF-SLO", "perf.interactive"] {
        assert!(html.contains(heading), "{heading} in report.html");
    }

    // --compare appends the comparison (here of the run with itself) to
    // report.html only.
    let compared = dir.path().join("compared");
    let output = tokencert(&[
        "report",
        "--suite",
        arg(&root()),
        "--out",
        arg(&compared),
        "--compare",
        arg(&bundle),
        arg(&bundle),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let with_comparison =
        std::fs::read_to_string(compared.join("report.html")).expect("report.html");
    assert!(
        with_comparison.contains("Comparison of two runs")
            && with_comparison.contains("<strong>consistent</strong>"),
        "the comparison section"
    );
    assert_eq!(
        std::fs::read(compared.join("report.md")).expect("report.md"),
        std::fs::read(report.join("report.md")).expect("report.md"),
        "report.md is the same with --compare"
    );

    if !Path::new(CHROMIUM).exists() {
        println!(
            "SKIPPED the screenshot: {CHROMIUM} is absent (apt-get install chromium); \
             report.html was checked as text only"
        );
        return;
    }
    let png = dir.path().join("report.png");
    screenshot(&page, &png, &dir.path().join("profile"));
    let (width, height, shown) = pixels(&png);
    assert_eq!((width, height), (WIDTH, HEIGHT), "the asked window size");

    let bare_page = report.join("bare.html");
    std::fs::write(&bare_page, without_charts(&html)).expect("write bare.html");
    let bare_png = dir.path().join("bare.png");
    screenshot(&bare_page, &bare_png, &dir.path().join("profile-bare"));
    let (_, _, bare) = pixels(&bare_png);

    // Bars, CDF lines and throughput lines are drawn in the charts'
    // colours, which nothing else on the page uses.
    for (name, colour, at_least) in [
        ("blue", CHART_BLUE, 5000),
        ("orange", CHART_ORANGE, 50),
        ("green", CHART_GREEN, 50),
    ] {
        let with = count(&shown, colour);
        let without = count(&bare, colour);
        println!("{name} chart pixels: {with} with the charts, {without} without");
        assert!(
            with >= at_least && without == 0,
            "{name} chart pixels: {with} with the charts (at least {at_least} expected), \
             {without} without them"
        );
    }
}

#[test]
fn the_committed_example_bundle_verifies_and_renders_to_its_pages() {
    let root = root();
    let example = root.join("reports/example");
    let regenerate = "reports/example/regenerate.sh";
    let bundle = bundle_in(&example)
        .unwrap_or_else(|| panic!("no bundle under reports/example/: run {regenerate}"));
    let key = example.join("signing.pub.pem");
    let verified = tokencert(&[
        "verify",
        "--suite",
        arg(&root),
        "--key",
        arg(&key),
        arg(&bundle),
    ]);
    assert!(
        verified.status.success(),
        "the example bundle {} does not verify against this checkout (spec/, suites/ or the \
         judge changed since it was made): run {regenerate} and commit reports/example/\n{}{}",
        bundle.display(),
        text(&verified.stdout),
        text(&verified.stderr)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let rendered = tokencert(&[
        "report",
        "--suite",
        arg(&root),
        "--key",
        arg(&key),
        "--out",
        arg(dir.path()),
        arg(&bundle),
    ]);
    assert!(rendered.status.success(), "{}", text(&rendered.stderr));
    for page in ["report.md", "report.html", "junit.xml"] {
        let committed = std::fs::read(example.join(page)).unwrap_or_default();
        let fresh = std::fs::read(dir.path().join(page)).expect("rendered");
        assert!(
            committed == fresh,
            "reports/example/{page} is not what `tokencert report` renders from the example \
             bundle now: run {regenerate} and commit reports/example/"
        );
    }
}
