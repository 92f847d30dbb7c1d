//! The optional HTTP listener (`daemon.listen`, `berrah run --listen`):
//!
//! - `GET /healthz`: 200 while the process runs and the database answers,
//!   503 with the reason otherwise (a liveness probe);
//! - `GET /readyz`: 200 once the campaign files were synced at least once
//!   and while the daemon is not shutting down, 503 with the reason
//!   otherwise (a readiness probe: stop sending work here);
//! - `GET /metrics`: the Prometheus text format ([`super::metrics`]).
//!
//! [`router`] returns a plain axum [`Router`] so that another module (a web
//! console) can merge its own routes into the same listener. It binds
//! 127.0.0.1 unless told otherwise; another address is allowed, with a
//! warning, because these routes show no secret and change nothing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use super::Metrics;
use crate::store::Store;
use crate::time::Clock;

/// The address the documentation suggests: the machine itself, on the port
/// OpenTelemetry's Prometheus exporters use by default.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:9464";

/// How long a probe waits for the database before answering 503.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a scrape waits for the database's gauges.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the routes read: the daemon's store, clock and metrics, and its
/// shutdown signal.
#[derive(Clone)]
pub struct ObserveState {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    pub shutdown: CancellationToken,
}

/// Why the listener cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error(
        "`{0}` is not an address to listen on: write an IP address and a port, such as 127.0.0.1:9464"
    )]
    Address(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Parses a listen address: `IP:PORT` (`[::1]:9464` for IPv6), or a port
/// alone for 127.0.0.1.
pub fn parse_address(text: &str) -> Result<SocketAddr, ListenError> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse::<SocketAddr>()
        .map_err(|_| ListenError::Address(text.to_string()))
}

/// The health, readiness and metrics routes, with their state.
pub fn router(state: ObserveState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Binds `addr` (a warning when it is not a loopback address).
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ListenError> {
    if !addr.ip().is_loopback() {
        tracing::warn!(
            address = %addr,
            "the listener is reachable from other machines: health and metrics are served without authentication (the console, if on, asks for its token); put a firewall or a proxy in front of it"
        );
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError::Bind { addr, source })
}

/// Serves `router` on `listener` until `stop` is cancelled.
pub async fn serve(listener: tokio::net::TcpListener, router: Router, stop: CancellationToken) {
    // The peer's address is what the console records with an operator's action.
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop.cancelled_owned())
    .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "the health and metrics listener stopped");
    }
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut body = body.into();
    body.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn healthz(State(state): State<ObserveState>) -> Response {
    match tokio::time::timeout(PROBE_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => text(StatusCode::OK, "ok"),
        Ok(Err(e)) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database does not answer: {e}"),
        ),
        Err(_) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the database did not answer within {} s",
                PROBE_TIMEOUT.as_secs()
            ),
        ),
    }
}

async fn readyz(State(state): State<ObserveState>) -> Response {
    if state.shutdown.is_cancelled() {
        text(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    } else if !state.metrics.is_synced() {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: the campaign files are not synced yet",
        )
    } else {
        text(StatusCode::OK, "ready")
    }
}

async fn metrics(State(state): State<ObserveState>) -> Response {
    let now = state.clock.now();
    let scraped = tokio::time::timeout(SCRAPE_TIMEOUT, state.metrics.scrape(&state.store, now));
    let body = match scraped.await {
        Ok((body, None)) => body,
        Ok((body, Some(e))) => {
            tracing::warn!(error = %e, "metrics: could not read the queue's figures from the database");
            body
        }
        Err(_) => {
            tracing::warn!(
                "metrics: the database did not answer within {} s",
                SCRAPE_TIMEOUT.as_secs()
            );
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database did not answer in time",
            );
        }
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_a_port_alone_meaning_loopback() {
        assert_eq!(
            parse_address("9464").unwrap(),
            "127.0.0.1:9464".parse().unwrap()
        );
        assert_eq!(
            parse_address(" 127.0.0.1:0 ").unwrap(),
            "127.0.0.1:0".parse().unwrap()
        );
        assert_eq!(
            parse_address("[::1]:9464").unwrap(),
            "[::1]:9464".parse().unwrap()
        );
        let e = parse_address("localhost").unwrap_err().to_string();
        assert!(e.contains("127.0.0.1:9464"), "{e}");
        assert!(parse_address(DEFAULT_ADDRESS).is_ok());
    }
}
