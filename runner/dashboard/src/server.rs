//! The HTTP server: read-only GET routes over a [`Dashboard`].
//!
//! - `/`, `/target?url=..&model=..[&days=N]`, `/bundle/<id>`: HTML
//! - `/bundle/<id>.tar`: the bundle as one archive
//! - `/bundles/<id>/report.html`: the report inside a bundle, if any
//! - `/api/leaderboard`, `/api/target?..`, `/api/bundle/<id>`: JSON
//! - `/metrics`: Prometheus text

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::board::SortKey;
use crate::dashboard::Dashboard;
use crate::detail::{REPORT_FILE, is_bundle_id};
use crate::error::DashboardError;
use crate::links::Links;
use crate::target::{DEFAULT_DAYS, MAX_DAYS};
use crate::{archive, html, metrics, params};

/// No scripts, no fetches: styles and SVG are inline.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

type Shared = Arc<Dashboard>;

/// The routes over `dashboard`.
pub fn router(dashboard: Dashboard) -> Router {
    Router::new()
        .route("/", get(leaderboard_html))
        .route("/target", get(target_html))
        .route("/bundle/{id}", get(bundle_html_or_tar))
        .route("/bundles/{id}/report.html", get(report_html))
        .route("/api/leaderboard", get(leaderboard_json))
        .route("/api/target", get(target_json))
        .route("/api/bundle/{id}", get(bundle_json))
        .route("/metrics", get(metrics_text))
        .fallback(get(not_found_route))
        .with_state(Arc::new(dashboard))
}

/// Serves `dashboard` on `listener` until `shutdown` completes.
pub async fn serve(
    dashboard: Dashboard,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DashboardError> {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    axum::serve(listener, router(dashboard))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| DashboardError::Serve { addr, source })
}

/// A failed request: its status and what to say.
struct Failure(StatusCode, String);

impl From<DashboardError> for Failure {
    fn from(e: DashboardError) -> Failure {
        Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let title = match self.0 {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::NOT_FOUND => "Not found",
            _ => "Error",
        };
        match html::error_page(title, &self.1) {
            Ok(page) => with_headers(self.0, "text/html; charset=utf-8", page.into()),
            Err(_) => (self.0, self.1).into_response(),
        }
    }
}

fn bad(msg: impl Into<String>) -> Failure {
    Failure(StatusCode::BAD_REQUEST, msg.into())
}

fn not_found(msg: impl Into<String>) -> Failure {
    Failure(StatusCode::NOT_FOUND, msg.into())
}

fn with_headers(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn html_ok(page: String) -> Response {
    with_headers(StatusCode::OK, "text/html; charset=utf-8", page.into())
}

fn json_ok(value: &impl Serialize) -> Result<Response, Failure> {
    let body = serde_json::to_vec_pretty(value)
        .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(with_headers(
        StatusCode::OK,
        "application/json",
        body.into(),
    ))
}

/// Runs blocking index work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

fn sort_param(raw: Option<&str>) -> Result<SortKey, Failure> {
    let p = params::parse(raw, &["sort"]).map_err(bad)?;
    match p.get("sort") {
        None => Ok(SortKey::TtftP50),
        Some(name) => SortKey::parse(name).ok_or_else(|| {
            let known: Vec<&str> = SortKey::ALL.iter().map(|k| k.name()).collect();
            bad(format!(
                "unknown sort key {name:?}; known: {}",
                known.join(", ")
            ))
        }),
    }
}

/// (url, model, days) of a target request.
fn target_params(raw: Option<&str>) -> Result<(String, String, u32), Failure> {
    let mut p = params::parse(raw, &["url", "model", "days"]).map_err(bad)?;
    let url = p.remove("url").ok_or_else(|| bad("url= is required"))?;
    let model = p.remove("model").ok_or_else(|| bad("model= is required"))?;
    let days = match p.get("days") {
        None => DEFAULT_DAYS,
        Some(d) => d
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=MAX_DAYS).contains(d))
            .ok_or_else(|| bad(format!("days must be a whole number from 1 to {MAX_DAYS}")))?,
    };
    Ok((url, model, days))
}

async fn leaderboard_html(State(d): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let result = async {
        let sort = sort_param(q.as_deref())?;
        blocking(move || {
            let board = d.leaderboard(sort)?;
            Ok(html_ok(html::leaderboard_page(&board, Links::Server)?))
        })
        .await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn leaderboard_json(State(d): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let result = async {
        let sort = sort_param(q.as_deref())?;
        blocking(move || json_ok(&d.leaderboard(sort)?)).await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn target_html(State(d): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let result = async {
        let (url, model, days) = target_params(q.as_deref())?;
        blocking(move || match d.target(&url, &model, days)? {
            Some(view) => Ok(html_ok(html::target_page(&view, Links::Server)?)),
            None => Err(not_found(format!(
                "no bundle of {url} · {model} in the ledger"
            ))),
        })
        .await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn target_json(State(d): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let result = async {
        let (url, model, days) = target_params(q.as_deref())?;
        blocking(move || match d.target(&url, &model, days)? {
            Some(view) => json_ok(&view),
            None => Err(not_found(format!(
                "no bundle of {url} · {model} in the ledger"
            ))),
        })
        .await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

fn no_bundle(id: &str) -> Failure {
    let shown: String = id.chars().take(80).collect();
    not_found(format!("no bundle {shown:?} in the ledger"))
}

async fn bundle_html_or_tar(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let result = async {
        params::parse(q.as_deref(), &[]).map_err(bad)?;
        if let Some(id) = id.strip_suffix(".tar") {
            return bundle_tar(d, id.to_string()).await;
        }
        blocking(move || match d.bundle(&id)? {
            Some(view) => Ok(html_ok(html::bundle_page(&view, Links::Server)?)),
            None => Err(no_bundle(&id)),
        })
        .await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn bundle_json(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let result = async {
        params::parse(q.as_deref(), &[]).map_err(bad)?;
        blocking(move || match d.bundle(&id)? {
            Some(view) => json_ok(&view),
            None => Err(no_bundle(&id)),
        })
        .await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// Streams the archive: a blocking task writes it into a bounded channel.
async fn bundle_tar(d: Shared, id: String) -> Result<Response, Failure> {
    let dir = d
        .bundle_dir(&id)
        .filter(|dir| dir.join(tokencert_core::bundle::MANIFEST_FILE).is_file())
        .ok_or_else(|| no_bundle(&id))?;
    let name = id.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::new(),
        };
        match archive::write_tar(&dir, &id, writer) {
            Ok(mut w) => {
                let _ = std::io::Write::flush(&mut w);
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = with_headers(
        StatusCode::OK,
        "application/x-tar",
        Body::from_stream(stream),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.tar\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// Sends what is written in chunks of 64 KiB; fails once the client is gone.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    const CHUNK: usize = 64 * 1024;

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client gone"))
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= Self::CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

async fn report_html(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let result = async {
        params::parse(q.as_deref(), &[]).map_err(bad)?;
        if !is_bundle_id(&id) {
            return Err(no_bundle(&id));
        }
        let path = d
            .bundle_dir(&id)
            .ok_or_else(|| no_bundle(&id))?
            .join(REPORT_FILE);
        let page = blocking(move || {
            std::fs::read(&path).map_err(|_| not_found(format!("bundle {id} has no {REPORT_FILE}")))
        })
        .await?;
        Ok(with_headers(
            StatusCode::OK,
            "text/html; charset=utf-8",
            page.into(),
        ))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn metrics_text(State(d): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let result = async {
        params::parse(q.as_deref(), &[]).map_err(bad)?;
        blocking(move || {
            let board = d.leaderboard(SortKey::Target)?;
            Ok(with_headers(
                StatusCode::OK,
                metrics::CONTENT_TYPE,
                metrics::render(&board).into(),
            ))
        })
        .await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn not_found_route() -> Response {
    not_found("no such page; the leaderboard is at /").into_response()
}
