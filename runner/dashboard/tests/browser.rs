//! The dashboard as a person sees it: headless Chromium (Debian's
//! `chromium` package) loads the served leaderboard, a target page and a
//! bundle page; their screenshots must show the charts' colours, and the
//! DOM Chromium builds of a target named `<script>` holds that name as text
//! and no script element. Skipped, saying so, where `/usr/bin/chromium` is
//! absent. The approach is runner/cli/tests/report_html.rs's.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use tokencert_dashboard::Dashboard;
use tokencert_dashboard::links::Links;

const CHROMIUM: &str = "/usr/bin/chromium";
const WIDTH: u32 = 1400;
const HEIGHT: u32 = 2400;
const TIMEOUT: Duration = Duration::from_secs(90);
/// The charts' colours: TTFT bars and first lines, output speed bars and
/// second lines, passed verdicts, failed verdicts.
const BLUE: [u8; 3] = [0x1f, 0x6f, 0xb4];
const ORANGE: [u8; 3] = [0xe0, 0x7b, 0x0f];
const GREEN: [u8; 3] = [0x2e, 0x7d, 0x32];
const RED: [u8; 3] = [0xc6, 0x28, 0x28];

/// Runs Chromium on `url` with `what` (`--screenshot=..` or `--dump-dom`),
/// killing it if it overruns; returns its stdout.
fn chromium(url: &str, what: &str, profile: &Path) -> Vec<u8> {
    let out = tempfile::NamedTempFile::new().unwrap();
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
            what,
            &format!("--window-size={WIDTH},{HEIGHT}"),
            url,
        ])
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            return std::fs::read(out.path()).unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took longer than {TIMEOUT:?}; killed it");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pixels(png_path: &Path) -> Vec<[u8; 3]> {
    let file = std::fs::File::open(png_path).expect("the screenshot exists");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect()
}

fn count(pixels: &[[u8; 3]], colour: [u8; 3]) -> usize {
    pixels.iter().filter(|p| **p == colour).count()
}

#[test]
fn screenshots_show_tables_and_charts_and_markup_stays_text() {
    if !Path::new(CHROMIUM).exists() {
        println!("SKIPPED: {CHROMIUM} is absent (apt-get install chromium)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let small = small_ledger(&ledger);
    let dashboard = Dashboard::open(&ledger).unwrap().at(NOW);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(tokencert_dashboard::serve(dashboard, listener, async {
        let _ = stopped.await;
    }));

    let pages = [
        (
            "leaderboard",
            "/".to_string(),
            vec![("blue", BLUE, 300), ("orange", ORANGE, 300)],
        ),
        (
            "target",
            Links::Server.target(HEALTHY_URL, HEALTHY_MODEL),
            // Lines in palette order: the unsigned bundle (one point, its
            // legend only), observer A, observer B.
            vec![("orange", ORANGE, 300), ("green", GREEN, 300)],
        ),
        (
            "bundle",
            format!("/bundle/{}", small.hostile),
            vec![("green", GREEN, 1000), ("red", RED, 100)],
        ),
    ];
    for (name, path, colours) in pages {
        let png = dir.path().join(format!("{name}.png"));
        chromium(
            &format!("{base}{path}"),
            &format!("--screenshot={}", png.display()),
            &dir.path().join(format!("profile-{name}")),
        );
        if let Ok(keep) = std::env::var("TOKENCERT_KEEP_SCREENSHOTS") {
            std::fs::copy(&png, Path::new(&keep).join(format!("{name}.png"))).unwrap();
        }
        let shown = pixels(&png);
        for (colour_name, colour, at_least) in colours {
            let n = count(&shown, colour);
            println!("{name}: {n} {colour_name} pixels");
            assert!(
                n >= at_least,
                "{name}: {n} {colour_name} pixels, at least {at_least} expected"
            );
        }
    }

    // The DOM Chromium built from the hostile target's page: the model id
    // is text (serialised escaped), and there is no script element.
    let dom = chromium(
        &format!("{base}{}", Links::Server.target(HOSTILE_URL, HOSTILE_MODEL)),
        "--dump-dom",
        &dir.path().join("profile-dom"),
    );
    let dom = String::from_utf8(dom).unwrap();
    assert!(
        dom.contains("<table>") || dom.contains("<tbody>"),
        "the page rendered"
    );
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the model id is shown as text"
    );
    assert!(
        !dom.to_ascii_lowercase().contains("<script"),
        "no script element"
    );
    let _ = stop.send(());
}
