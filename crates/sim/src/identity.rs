//! The identity side: the client-credentials token endpoint (reference §2.1) and the OpenID
//! configuration + JWKS that publish the callback signing key (§3.2).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use mediabot_signaling::models::{OpenIdConfiguration, TokenResponse};

use crate::delivery::CALLBACK_ISSUER;
use crate::engine::Shared;
use crate::events::SimEvent;
use crate::http_util::{iso8601, json_response};

/// `aud` of issued access tokens.
pub(crate) const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
/// Path of the OpenID configuration (as on `api.aps.skype.com`).
pub(crate) const OPENID_PATH: &str = "/v1/.well-known/OpenIdConfiguration";
/// Path of the JWKS.
pub(crate) const JWKS_PATH: &str = "/v1/keys";

/// Claims of the access tokens the simulator issues (and requires on Graph requests).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    pub(crate) aud: String,
    pub(crate) iss: String,
    pub(crate) iat: u64,
    pub(crate) nbf: u64,
    pub(crate) exp: u64,
    pub(crate) appid: String,
    pub(crate) tid: String,
    #[serde(default)]
    pub(crate) roles: Vec<String>,
}

/// An Azure AD error body (`invalid_client`, …).
#[derive(Serialize)]
struct AadError {
    error: &'static str,
    error_description: String,
    error_codes: Vec<u32>,
    timestamp: String,
    trace_id: String,
    correlation_id: String,
    error_uri: String,
}

fn aad_error(status: StatusCode, error: &'static str, code: u32, message: String) -> Response {
    let trace_id = Uuid::new_v4().to_string();
    let correlation_id = Uuid::new_v4().to_string();
    let timestamp = iso8601(SystemTime::now());
    let body = AadError {
        error,
        error_description: format!(
            "AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}Z"
        ),
        error_codes: vec![code],
        timestamp: format!("{timestamp}Z"),
        trace_id,
        correlation_id,
        error_uri: format!("https://login.microsoftonline.com/error?code={code}"),
    };
    json_response(status, &body)
}

fn is_guid(text: &str) -> bool {
    Uuid::parse_str(text).is_ok()
}

/// `POST /{tenant}/oauth2/v2.0/token` (client credentials).
pub(crate) async fn token_handler(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let response = issue_token(&shared, &tenant, &body);
    shared.emit(SimEvent::RequestServed {
        method: "POST".to_owned(),
        path: format!("/{tenant}/oauth2/v2.0/token"),
        status: response.status().as_u16(),
    });
    response
}

fn issue_token(shared: &Shared, tenant: &str, body: &[u8]) -> Response {
    let mut grant_type = None;
    let mut client_id = None;
    let mut client_secret = None;
    let mut scope = None;
    for (key, value) in url::form_urlencoded::parse(body) {
        match key.as_ref() {
            "grant_type" => grant_type = Some(value.into_owned()),
            "client_id" => client_id = Some(value.into_owned()),
            "client_secret" => client_secret = Some(value.into_owned()),
            "scope" => scope = Some(value.into_owned()),
            _ => {}
        }
    }
    let valid_tenant = !tenant.is_empty()
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !valid_tenant {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!("Tenant '{tenant}' not found."),
        );
    }
    if grant_type.as_deref() != Some("client_credentials") {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.".to_owned(),
        );
    }
    let app_id = shared.config.app_id.as_str();
    if !client_id
        .as_deref()
        .is_some_and(|id| id.eq_ignore_ascii_case(app_id))
    {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{}' was not found in the directory '{tenant}'.",
                client_id.unwrap_or_default()
            ),
        );
    }
    let Some(secret) = client_secret else {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".to_owned(),
        );
    };
    if secret != shared.config.client_secret {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{app_id}'."
            ),
        );
    }
    let scope = scope.unwrap_or_default();
    if !scope.ends_with("/.default") {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    }
    let tid = if is_guid(tenant) {
        tenant.to_owned()
    } else {
        shared.config.tenant_id.to_string()
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let lifetime = shared.config.timings.token_lifetime.as_secs();
    let claims = AccessClaims {
        aud: GRAPH_AUDIENCE.to_owned(),
        iss: format!("https://sts.windows.net/{tid}/"),
        iat: now,
        nbf: now,
        exp: now + lifetime,
        appid: app_id.to_owned(),
        tid,
        roles: [
            "Calls.JoinGroupCall.All",
            "Calls.JoinGroupCallAsGuest.All",
            "Calls.Initiate.All",
            "Calls.InitiateGroupCall.All",
            "Calls.AccessMedia.All",
        ]
        .map(str::to_owned)
        .to_vec(),
    };
    match shared.keys.token.sign(&claims) {
        Ok(access_token) => json_response(
            StatusCode::OK,
            &TokenResponse {
                token_type: "Bearer".to_owned(),
                expires_in: lifetime,
                ext_expires_in: Some(lifetime),
                access_token,
            },
        ),
        Err(error) => aad_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            0,
            error.to_string(),
        ),
    }
}

/// `GET /v1/.well-known/OpenIdConfiguration`.
pub(crate) async fn openid_handler(State(shared): State<Arc<Shared>>) -> Response {
    let base = shared.base_url.as_str().trim_end_matches('/');
    json_response(
        StatusCode::OK,
        &OpenIdConfiguration {
            issuer: CALLBACK_ISSUER.to_owned(),
            authorization_endpoint: Some("https://invalid.botframework.com".to_owned()),
            jwks_uri: format!("{base}{JWKS_PATH}"),
            id_token_signing_alg_values_supported: vec!["RSA256".to_owned()],
            token_endpoint_auth_methods_supported: vec!["private_key_jwt".to_owned()],
        },
    )
}

/// `GET /v1/keys`.
pub(crate) async fn jwks_handler(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, &shared.keys.jwks())
}
