//! The HTTP surface: Graph's callbacks (the signaling webhook), media answers at `/mp/{token}`,
//! and the control API. Handlers only translate HTTP to [`App`] calls; errors are JSON in one
//! shape, `{"error": {"code": "...", "message": "..."}}`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as AxumPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use mediabot_signaling::auth::Secret;
use serde_json::json;

use crate::control::{ControlError, ErrorKind, JoinRequest, RouteOp, RouteSpec, SpeakRequest};
use crate::orchestrator::Reply;
use crate::runtime::App;

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let code = match self.kind {
            ErrorKind::BadRequest => "badRequest",
            ErrorKind::NotFound => "notFound",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unavailable => "unavailable",
        };
        (
            status,
            axum::Json(json!({ "error": { "code": code, "message": self.message } })),
        )
            .into_response()
    }
}

/// The public listener's routes: Graph's callbacks (the webhook's router) and media answers.
/// Nothing else is served there (404).
pub(crate) fn public_router(app: App, webhook: Router) -> Router {
    Router::new()
        .route("/mp/{token}", post(media_answer))
        // An answer is at most MAX_BLOB_BYTES; refuse more before reading it.
        .layer(axum::extract::DefaultBodyLimit::max(
            mediabot_media::session::blob::MAX_BLOB_BYTES,
        ))
        .with_state(app)
        .merge(webhook)
}

/// The control listener's routes; every request must carry `Authorization: Bearer <token>`.
pub(crate) fn control_router(app: App, token: Secret) -> Router {
    let token = Arc::new(token);
    Router::new()
        .route("/control/join", post(join))
        .route("/control/calls", get(calls))
        .route(
            "/control/calls/{id}/speak",
            post(speak).layer(axum::extract::DefaultBodyLimit::max(
                crate::control::MAX_WAV_UPLOAD_BYTES,
            )),
        )
        .route("/control/calls/{id}/routes", get(list_routes))
        .route(
            "/control/calls/{id}/routes/{name}",
            put(upsert_route).delete(remove_route),
        )
        .route("/control/calls/{id}/hangup", post(hang_up))
        // JSON bodies of the control API are small.
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(app)
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let token = token.clone();
                async move {
                    if authorized(&request, &token) {
                        next.run(request).await
                    } else {
                        unauthorized()
                    }
                }
            },
        ))
}

/// True when the request carries the control token (compared in constant time).
fn authorized(request: &Request, token: &Secret) -> bool {
    request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
        })
        .is_some_and(|given| {
            crate::server::constant_time_eq(given.as_bytes(), token.expose().as_bytes())
        })
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
        axum::Json(json!({ "error": {
            "code": "unauthorized",
            "message": "the control API needs `Authorization: Bearer <token>` (see control_token)"
        }})),
    )
        .into_response()
}

/// `POST /mp/{token}`: the media processor's answer to the blob we offered.
async fn media_answer(
    State(app): State<App>,
    AxumPath(token): AxumPath<String>,
    body: String,
) -> Response {
    match app.media_answer(token, body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn join(State(app): State<App>, body: axum::Json<JoinRequest>) -> Response {
    match app.join(body.0).await {
        Ok(ticket) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({ "key": ticket.key.0 })),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn calls(State(app): State<App>) -> Response {
    axum::Json(app.calls().await).into_response()
}

/// `POST /control/calls/{id}/speak`: JSON (`toneHz`, or `wav` naming a file in `media_dir`), or
/// a WAV as the body with `content-type: audio/wav` (`?clear=true` for barge-in).
async fn speak(
    State(app): State<App>,
    AxumPath(id): AxumPath<String>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let result = if matches!(
        content_type.as_str(),
        "audio/wav" | "audio/wave" | "audio/x-wav" | "audio/vnd.wave"
    ) {
        let clear = uri
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv == "clear=true" || kv == "clear=1"));
        app.speak_upload(id, body, clear).await
    } else {
        match serde_json::from_slice::<SpeakRequest>(&body) {
            Ok(request) => app.speak(id, request).await,
            Err(e) => Err(ControlError::new(
                ErrorKind::BadRequest,
                format!("the body is neither a speak request (JSON) nor audio/wav: {e}"),
            )),
        }
    };
    match result {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn list_routes(State(app): State<App>, AxumPath(id): AxumPath<String>) -> Response {
    match app.routes(id, RouteOp::List).await {
        Ok(Reply::Routes(routes)) => axum::Json(routes).into_response(),
        Ok(_) => axum::Json(json!([])).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn upsert_route(
    State(app): State<App>,
    AxumPath((id, name)): AxumPath<(String, String)>,
    body: axum::Json<RouteSpec>,
) -> Response {
    match app.routes(id, RouteOp::Upsert(name, body.0)).await {
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn remove_route(
    State(app): State<App>,
    AxumPath((id, name)): AxumPath<(String, String)>,
) -> Response {
    match app.routes(id, RouteOp::Remove(name)).await {
        Ok(Reply::Removed(true)) => StatusCode::ACCEPTED.into_response(),
        Ok(_) => ControlError::new(ErrorKind::NotFound, "no such route").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn hang_up(State(app): State<App>, AxumPath(id): AxumPath<String>) -> Response {
    match app.hang_up(id).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => e.into_response(),
    }
}
