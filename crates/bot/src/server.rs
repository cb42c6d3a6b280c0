//! The HTTP listeners, hardened: every port is hostile until proven otherwise.
//!
//! - **Connection cap**: at most [`Limits::max_connections`] connections at once; beyond it a new
//!   connection is closed at once (counted), so a flood cannot exhaust file descriptors that
//!   Graph's callbacks and the media sockets need.
//! - **Header-read timeout**: a client must send a request's headers within
//!   [`Limits::header_read_timeout`] (a slow-loris that sends a byte a second is cut off).
//! - **Request timeout**: reading the body and answering must finish within
//!   [`Limits::request_timeout`] (503 otherwise).
//! - **Connection lifetime**: no connection lives longer than [`Limits::connection_lifetime`].
//! - Unknown paths are 404 and wrong methods 405, as JSON `{"error": {"code", "message"}}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::control::{ControlError, ErrorKind};

/// What one listener allows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections at once.
    pub(crate) max_connections: usize,
    /// Time to send a request's headers.
    pub(crate) header_read_timeout: Duration,
    /// Time to send the body and get the answer.
    pub(crate) request_timeout: Duration,
    /// Longest life of a connection (keep-alive included).
    pub(crate) connection_lifetime: Duration,
}

impl Limits {
    /// The public listener (Graph's callbacks, media answers).
    pub(crate) fn public() -> Limits {
        Limits {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            connection_lifetime: Duration::from_secs(120),
        }
    }

    /// The control listener.
    pub(crate) fn control() -> Limits {
        Limits {
            max_connections: 64,
            header_read_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            connection_lifetime: Duration::from_secs(600),
        }
    }
}

/// Counters of one listener.
#[derive(Debug, Default)]
pub(crate) struct ServerCounters {
    /// Connections closed at once because the cap was reached.
    pub(crate) refused: AtomicU64,
    /// Requests that ran out of time.
    pub(crate) timed_out: AtomicU64,
}

/// Serves `router` on `listener` with `limits` until the runtime stops.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    name: &'static str,
    counters: Arc<ServerCounters>,
) {
    let timeout_counters = counters.clone();
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let counters = timeout_counters.clone();
                async move {
                    match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
                        Ok(response) => response,
                        Err(_) => {
                            counters.timed_out.fetch_add(1, Ordering::Relaxed);
                            ControlError::new(ErrorKind::Unavailable, "the request took too long")
                                .into_response()
                        }
                    }
                }
            },
        ));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors or similar: say so, let connections finish, try again.
                tracing::warn!(listener = name, %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            let refused = counters.refused.fetch_add(1, Ordering::Relaxed) + 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    listener = name,
                    refused,
                    max = limits.max_connections,
                    "connection cap reached; closing new connections"
                );
            }
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(limits.connection_lifetime, connection).await;
            drop(permit);
        });
    }
}

async fn not_found() -> Response {
    ControlError::new(ErrorKind::NotFound, "no such path").into_response()
}

async fn method_not_allowed() -> Response {
    let body = serde_json::json!({
        "error": { "code": "methodNotAllowed", "message": "this path does not take that method" }
    });
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

/// Compares two secrets in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
