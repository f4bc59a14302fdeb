//! The operations endpoint (`server.http`): plain HTTP/1.1 on its own port, loopback unless
//! configured otherwise.
//!
//! - `GET /metrics`: the Prometheus text exposition of every metric ([`crate::telemetry`]).
//! - `GET /health`: liveness. 200 `ok` while the process serves HTTP at all; never asks for
//!   the token (it tells nothing).
//! - `GET /ready`: readiness. 200 when every store answers (each asked at once, one cheap
//!   request each: [`MetadataStore::usage`], [`ContentStore::probe`], at most
//!   [`PROBE_TIMEOUT`]) and the server has opened every share and accepts connections on
//!   every enabled adapter; 503 otherwise (also while it starts), and from the moment
//!   shutdown starts (so a load balancer stops sending clients before the listeners close).
//!   The body names each store and adapter with its state, one per line.
//!
//! With `server.http.token` set, every route but `/health` asks for
//! `Authorization: Bearer TOKEN` (compared in constant time) and answers 401 without it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use stores::{ContentStore, MetadataStore};
use subtle::ConstantTimeEq as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::HttpSection;
use crate::daemon::{AnyContent, AnyMetadata};
use crate::identity::Secret;

/// How long `/ready` waits for one store's answer before it counts the store as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the routes look at.
pub struct Endpoint {
    /// The bearer token asked for, if any.
    pub token: Option<Secret>,
    /// Metadata stores by name.
    pub metadata: Vec<(String, Arc<AnyMetadata>)>,
    /// Content stores by name.
    pub content: Vec<(String, Arc<AnyContent>)>,
    /// The enabled adapters and where they listen ("nfs", "127.0.0.1:2049").
    pub adapters: Vec<(&'static str, SocketAddr)>,
    /// Cancelled when shutdown starts: from then on the server is not ready.
    pub shutdown: CancellationToken,
    /// Set once the server opened every share and accepts connections
    /// ([`crate::server::ServerConfig::serving`]): not ready before.
    pub serving: Arc<AtomicBool>,
    /// Renders the metrics ([`crate::telemetry::install`]).
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
}

/// Binds the endpoint's port (before anything else starts, so a port in use fails the start
/// with a message naming the key).
pub async fn bind(http: &HttpSection) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = http.socket_addr();
    tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "binding the HTTP endpoint to {addr} (server.http.port): is another server using \
             it? pick another port"
        )
    })
}

/// Serves the endpoint on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    endpoint: Arc<Endpoint>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(endpoint);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

async fn health() -> &'static str {
    "ok\n"
}

/// `None` when the request may go on, else the 401 to answer.
fn refused(endpoint: &Endpoint, headers: &HeaderMap) -> Option<Response> {
    let token = endpoint.token.as_ref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
        return None;
    }
    Some(
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required (server.http.token)\n",
        )
            .into_response(),
    )
}

async fn ready(State(endpoint): State<Arc<Endpoint>>, headers: HeaderMap) -> Response {
    if let Some(no) = refused(&endpoint, &headers) {
        return no;
    }
    let mut probes = JoinSet::new();
    for (i, (name, store)) in endpoint.metadata.iter().enumerate() {
        let (name, store) = (name.clone(), store.clone());
        probes.spawn(async move {
            let r = tokio::time::timeout(PROBE_TIMEOUT, store.usage()).await;
            (
                i,
                format!("metadata store {name}"),
                answered(r.map(|r| r.map(|_| ()))),
            )
        });
    }
    let first_content = endpoint.metadata.len();
    for (i, (name, store)) in endpoint.content.iter().enumerate() {
        let (name, store) = (name.clone(), store.clone());
        probes.spawn(async move {
            let r = tokio::time::timeout(PROBE_TIMEOUT, store.probe()).await;
            (
                first_content + i,
                format!("content store {name}"),
                answered(r),
            )
        });
    }
    let mut lines = Vec::new();
    while let Some(done) = probes.join_next().await {
        match done {
            Ok(line) => lines.push(line),
            Err(e) => lines.push((usize::MAX, "a store probe".to_owned(), Err(e.to_string()))),
        }
    }
    lines.sort_by_key(|(i, _, _)| *i);
    let stopping = endpoint.shutdown.is_cancelled();
    let starting = !endpoint.serving.load(Ordering::Acquire);
    let mut ok = !stopping && !starting;
    let mut body = String::new();
    for (_, what, state) in &lines {
        match state {
            Ok(()) => body.push_str(&format!("{what}: ok\n")),
            Err(e) => {
                ok = false;
                body.push_str(&format!("{what}: not answering: {e}\n"));
            }
        }
    }
    for (adapter, addr) in &endpoint.adapters {
        if stopping {
            body.push_str(&format!("adapter {adapter}: shutting down\n"));
        } else if starting {
            body.push_str(&format!(
                "adapter {adapter}: starting (opening the shares)\n"
            ));
        } else {
            body.push_str(&format!("adapter {adapter}: listening on {addr}\n"));
        }
    }
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let head = if ok { "ready\n" } else { "not ready\n" };
    (status, format!("{head}{body}")).into_response()
}

async fn metrics(State(endpoint): State<Arc<Endpoint>>, headers: HeaderMap) -> Response {
    if let Some(no) = refused(&endpoint, &headers) {
        return no;
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        endpoint.metrics.render(),
    )
        .into_response()
}

/// A probe's outcome as a line's state.
fn answered(r: Result<stores::StoreResult<()>, tokio::time::error::Elapsed>) -> Result<(), String> {
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}s", PROBE_TIMEOUT.as_secs())),
    }
}
