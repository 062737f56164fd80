//! Pages, JSON API, /metrics and the static export over a synthetic
//! ledger, through a real server on 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use tokencert_dashboard::{Dashboard, links};

/// A server on an ephemeral loopback port; stops when dropped.
struct Served {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: tokio::runtime::Runtime,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn serve(ledger: &Path) -> Served {
    let dashboard = Dashboard::open(ledger).unwrap().at(NOW);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(tokencert_dashboard::serve(dashboard, listener, async {
        let _ = stopped.await;
    }));
    Served {
        base,
        stop: Some(stop),
        runtime,
    }
}

impl Served {
    /// GET `path`: status, content type and body.
    fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        let url = format!("{}{path}", self.base);
        self.runtime.block_on(async {
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .unwrap();
            let r = client.get(&url).send().await.unwrap();
            let status = r.status().as_u16();
            let ctype = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (status, ctype, r.bytes().await.unwrap().to_vec())
        })
    }

    fn text(&self, path: &str) -> String {
        let (status, _, body) = self.get(path);
        let body = String::from_utf8(body).unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn json(&self, path: &str) -> serde_json::Value {
        serde_json::from_str(&self.text(path)).unwrap()
    }
}

fn small() -> (tempfile::TempDir, Small, Served) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let small = small_ledger(&ledger);
    let served = serve(&ledger);
    (dir, small, served)
}

fn target_path(url: &str, model: &str) -> String {
    links::Links::Server.target(url, model)
}

#[test]
fn the_leaderboard_ranks_the_healthy_target_first_and_links_every_figure() {
    let (_dir, small, served) = small();
    let page = served.text("/");
    let healthy = page
        .find(HEALTHY_URL)
        .expect("the healthy target is listed");
    let hostile = page
        .find("http://127.0.0.1:9002/v1")
        .expect("the other target");
    assert!(healthy < hostile, "the faster target ranks first");
    // Figures link to their bundles; availability to the target's page.
    assert!(page.contains(&format!("/bundle/{}", small.healthy_a)));
    assert!(
        page.contains("Observatory A (observer)"),
        "known signer by name"
    );
    assert!(page.contains(&format!("unknown key {}", small.key_b)));
    assert!(page.contains("unsigned"));
    assert!(page.contains("MUST 100.0% (49/49)"), "{page}");
    assert!(page.contains("0.00125 USD"));
    assert!(
        page.contains("50.0 ms"),
        "TTFT p50 of the newest healthy bundle"
    );
    assert!(
        page.contains("(45.0 ms–55.0 ms)"),
        "its confidence interval"
    );
    assert!(
        !page.contains("<script"),
        "no scripts, and the hostile model is escaped"
    );

    // Sorted by output speed the faster one still leads; by target too.
    let by_speed = served.text("/?sort=output_speed");
    assert!(by_speed.find(HEALTHY_URL) < by_speed.find("http://127.0.0.1:9002/v1"));
    // Availability sorts descending: the half-answering target is last.
    let by_avail = served.json("/api/leaderboard?sort=availability_24h");
    let rows = by_avail["methods"][0]["rows"].as_array().unwrap();
    let last = rows.last().unwrap();
    assert_eq!(last["source"]["model"], HOSTILE_MODEL);
    assert_eq!(last["availability_24h"]["ratio"], 0.5);
    let obs_a = rows
        .iter()
        .find(|r| r["source"]["observer"] == "obs-a" && r["source"]["model"] == HEALTHY_MODEL)
        .unwrap();
    assert_eq!(obs_a["availability_7d"]["part"], 100);

    // Bounded: unknown sort keys, unknown parameters and long values are 400.
    for bad in [
        "/?sort=drop",
        "/?sort=ttft_p50&x=1",
        "/api/leaderboard?sort=%3Cscript%3E",
        "/?sort=ttft_p50&sort=cost",
    ] {
        let (status, _, body) = served.get(bad);
        assert_eq!(status, 400, "{bad}");
        let body = String::from_utf8(body).unwrap();
        assert!(!body.contains("<script>"), "the echoed value is escaped");
    }
    let long = format!("/target?url={}&model=m", "a".repeat(5000));
    assert_eq!(served.get(&long).0, 400);
}

#[test]
fn the_api_mirrors_the_pages() {
    let (_dir, small, served) = small();
    let board = served.json("/api/leaderboard");
    let method = &board["methods"][0];
    assert_eq!(method["method"]["case_id"], CASE);
    assert_eq!(method["method"]["workload"], WORKLOAD);
    let first = &method["rows"][0];
    assert_eq!(first["source"]["target_url"], HEALTHY_URL);
    assert!((first["ttft_p50"]["low"].as_f64().unwrap() - 0.045).abs() < 1e-12);
    let stab = first["stability"]["cv"].as_f64().unwrap();
    assert!(stab > 0.0 && stab < 0.05, "{stab}");
    assert_eq!(first["stability"]["bundles"], 10);
    let areas: Vec<&str> = first["conformance"]["areas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["area"].as_str().unwrap())
        .collect();
    assert_eq!(areas, ["API", "PERF", "SEC"]);

    let target = served.json(&format!("/api{}", target_path(HEALTHY_URL, HEALTHY_MODEL)));
    assert_eq!(target["bundles"].as_array().unwrap().len(), 21);
    let availability = &target["series"][0];
    assert_eq!(availability["metric"], "availability_ratio");
    assert_eq!(
        availability["lines"].as_array().unwrap().len(),
        3,
        "obs-a, obs-b, unsigned"
    );
    assert_eq!(target["agreements"][0]["consistent"], true);

    let bundle = served.json(&format!("/api/bundle/{}", small.healthy_a));
    assert_eq!(bundle["bundle"]["id"], small.healthy_a.as_str());
    assert_eq!(bundle["signer"]["known"]["name"], "Observatory A");
    assert_eq!(bundle["has_report"], true);
    let text = serde_json::to_string(&bundle).unwrap();
    assert!(!text.contains("BEGIN PUBLIC KEY"), "keys are never shown");

    assert_eq!(served.get("/api/bundle/0123").0, 404);
    assert_eq!(served.get(&format!("/api/bundle/{}", id("nope"))).0, 404);
    assert_eq!(served.get("/api/target?url=http%3A%2F%2Fx&model=y").0, 404);
    assert_eq!(served.get("/api/target?url=x").0, 400);
    assert_eq!(served.get("/nowhere").0, 404);
}

#[test]
fn target_and_bundle_pages_show_their_charts_tables_and_commands() {
    let (dir, small, served) = small();
    let page = served.text(&target_path(HEALTHY_URL, HEALTHY_MODEL));
    assert!(
        page.matches("<svg").count() >= 7,
        "availability and six figures"
    );
    assert!(page.contains("Observatory A (observer)"));
    assert!(page.contains("consistent"));
    assert!(page.contains(&format!("/bundle/{}", small.healthy_b)));

    let page = served.text(&format!("/bundle/{}", small.healthy_a));
    assert!(page.contains(&format!(
        "tokencert verify --key signer.pub.pem bundles/{}",
        small.healthy_a
    )));
    assert!(page.contains(&format!("/bundle/{}.tar", small.healthy_a)));
    assert!(page.contains(&format!("/bundles/{}/report.html", small.healthy_a)));
    assert!(page.contains("Observatory A (observer)"));
    assert!(!page.contains("BEGIN PUBLIC KEY"));
    let unsigned = served.text(&format!("/bundle/{}", small.unsigned));
    assert!(unsigned.contains("unsigned"));
    assert!(unsigned.contains(&format!("tokencert verify bundles/{}", small.unsigned)));

    let report = served.text(&format!("/bundles/{}/report.html", small.healthy_a));
    assert!(report.contains("report"));
    assert_eq!(
        served
            .get(&format!("/bundles/{}/report.html", small.hostile))
            .0,
        404
    );

    // The archive extracts to bundles/<id>/ with the bundle's files.
    let (status, ctype, tar) = served.get(&format!("/bundle/{}.tar", small.healthy_a));
    assert_eq!((status, ctype.as_str()), (200, "application/x-tar"));
    let out = dir.path().join("untar");
    std::fs::create_dir_all(&out).unwrap();
    tar::Archive::new(tar.as_slice()).unpack(&out).unwrap();
    let extracted = out.join("bundles").join(&small.healthy_a);
    assert!(extracted.join("manifest.json").is_file());
    assert!(extracted.join("evidence/perf.interactive.jsonl").is_file());
    assert_eq!(
        served.get(&format!("/bundle/{}.tar", small.healthy_b)).0,
        404
    );
}

#[test]
fn markup_in_names_renders_as_text_everywhere() {
    let (_dir, small, served) = small();
    for path in [
        "/".to_string(),
        target_path(HOSTILE_URL, HOSTILE_MODEL),
        format!("/bundle/{}", small.hostile),
    ] {
        let page = served.text(&path);
        assert!(!page.contains("<script"), "{path}: markup escaped");
        assert!(!page.contains("<b>"), "{path}: markup escaped");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
                || page.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
                || page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{path}: the model id is shown as text"
        );
    }
    let metrics = served.text("/metrics");
    assert!(metrics.contains("model=\"<script>alert(1)</script>\""));
    assert!(metrics.contains("target=\"http://127.0.0.1:9002/v1?a=1&b=\\\"2\\\"\""));
}

/// Python's prometheus_client parses /metrics; skipped, saying so, when
/// the package is not installed (`python3 -m pip install prometheus_client==0.26.0`).
#[test]
fn metrics_parse_as_the_prometheus_text_format() {
    let (dir, _small, served) = small();
    let (status, ctype, body) = served.get("/metrics");
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let text = String::from_utf8(body).unwrap();
    for family in [
        "tokencert_ttft_seconds",
        "tokencert_availability_ratio",
        "tokencert_conformance_pass_ratio",
        "tokencert_output_speed_tokens_per_second",
        "tokencert_task_cost",
    ] {
        assert!(text.contains(&format!("# TYPE {family} gauge")), "{family}");
    }
    let probe = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!(
            "SKIPPED the parser check: python3 with prometheus_client is absent \
             (python3 -m pip install prometheus_client==0.26.0)"
        );
        return;
    }
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, &text).unwrap();
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        out.append([fam.name, fam.type, s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let parsed = Command::new("python3")
        .args(["-c", script, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "prometheus_client rejects /metrics: {}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let samples: Vec<serde_json::Value> = serde_json::from_slice(&parsed.stdout).unwrap();
    let hostile_p50 = samples
        .iter()
        .find(|s| {
            s[2] == "tokencert_ttft_seconds"
                && s[3]["model"] == HOSTILE_MODEL
                && s[3]["quantile"] == "0.5"
                && s[3]["observer"] == "obs-a"
        })
        .expect("the hostile target's TTFT p50, its label unescaped intact");
    assert_eq!(hostile_p50[3]["target"], HOSTILE_URL);
    assert!((hostile_p50[4].as_f64().unwrap() - 0.4).abs() < 1e-9);
    let must_api = samples.iter().any(|s| {
        s[2] == "tokencert_conformance_pass_ratio"
            && s[3]["level"] == "MUST"
            && s[3]["area"] == "API"
            && s[3]["model"] == HEALTHY_MODEL
            && s[4] == 1.0
    });
    assert!(must_api, "MUST pass ratio of API");
    let names: BTreeSet<&str> = samples.iter().map(|s| s[2].as_str().unwrap()).collect();
    println!(
        "prometheus_client parsed {} samples of {names:?}",
        samples.len()
    );
}

/// Every href and src of every exported page, resolved against the page.
fn broken_links(site: &Path) -> Vec<String> {
    let mut broken = Vec::new();
    let mut pages: Vec<PathBuf> = Vec::new();
    let mut stack = vec![site.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "html")
                && !p.starts_with(site.join("bundles"))
            {
                pages.push(p);
            }
        }
    }
    assert!(pages.len() > 3);
    for page in pages {
        let html = std::fs::read_to_string(&page).unwrap();
        for attr in ["href=\"", "src=\""] {
            for part in html.split(attr).skip(1) {
                let link = &part[..part.find('"').unwrap()];
                assert!(
                    !link.starts_with('/') && !link.contains("://"),
                    "{link} is relative"
                );
                let file = link.split(['#', '?']).next().unwrap();
                if !page.parent().unwrap().join(file).is_file() {
                    broken.push(format!("{} -> {link}", page.display()));
                }
            }
        }
    }
    broken
}

#[test]
fn the_export_is_a_site_whose_links_all_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let small = small_ledger(&ledger);
    let site = dir.path().join("site");
    let dashboard = Dashboard::open(&ledger).unwrap().at(NOW);
    let exported = tokencert_dashboard::export(&dashboard, &site).unwrap();
    assert_eq!(exported.targets, 2);
    assert_eq!(exported.bundle_pages, 41);
    assert_eq!(exported.bundles_copied, 3);
    assert_eq!(broken_links(&site), Vec::<String>::new());
    for file in [
        "index.html".to_string(),
        "api/leaderboard.json".into(),
        "metrics.txt".into(),
        format!("bundle/{}.tar", small.healthy_a),
        format!("bundles/{}/manifest.json", small.healthy_a),
        format!("bundles/{}/report.html", small.healthy_a),
        format!("api/bundle/{}.json", small.hostile),
        format!("target/{}.html", links::slug(HOSTILE_URL, HOSTILE_MODEL)),
    ] {
        assert!(site.join(&file).is_file(), "{file}");
    }
    let index = std::fs::read_to_string(site.join("index.html")).unwrap();
    assert!(!index.contains("?sort="), "no query links on a static host");
    // Exporting again into a non-empty directory is refused.
    assert!(tokencert_dashboard::export(&dashboard, &site).is_err());
    // Read-only: the ledger's index was not changed by serving or exporting.
    let before = std::fs::read(ledger.join("index.sqlite")).unwrap();
    let served = serve(&ledger);
    served.text("/");
    drop(served);
    assert_eq!(before, std::fs::read(ledger.join("index.sqlite")).unwrap());
}
