//! Client-credentials token provider against a real local token endpoint on 127.0.0.1.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mediabot_signaling::auth::{
    AuthError, Clock, GRAPH_DEFAULT_SCOPE, OAuthErrorKind, Secret, TokenClientConfig, TokenProvider,
};
use tokio::sync::Notify;
use url::Url;

const TENANT: &str = "1fdd12d0-4620-44ed-baec-459b611f84b2";
const APP_ID: &str = "535fb089-9ff3-47b6-9bfb-4f1264799865";
const CLIENT_SECRET: &str = "qWgdYAmab0YSkuL1qKv5bPX";

/// A clock the test moves by hand.
#[derive(Debug)]
struct ManualClock(Mutex<Instant>);

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(Instant::now())))
    }
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

/// What the fake identity platform answers next.
#[derive(Clone)]
enum Reply {
    Token { expires_in: u64 },
    InvalidClient,
    Html500,
}

#[derive(Default)]
struct Aad {
    requests: Mutex<Vec<(String, HashMap<String, String>)>>,
    count: AtomicUsize,
    reply: Mutex<Option<Reply>>,
    /// When set, the handler waits for this before answering.
    gate: Mutex<Option<Arc<Notify>>>,
    arrived: Notify,
}

async fn token_endpoint(
    State(aad): State<Arc<Aad>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let n = aad.count.fetch_add(1, Ordering::SeqCst) + 1;
    aad.requests.lock().unwrap().push((tenant.clone(), form));
    aad.arrived.notify_one();
    let gate = aad.gate.lock().unwrap().clone();
    if let Some(gate) = gate {
        gate.notified().await;
    }
    let reply = aad
        .reply
        .lock()
        .unwrap()
        .clone()
        .unwrap_or(Reply::Token { expires_in: 3599 });
    match reply {
        Reply::Token { expires_in } => (
            StatusCode::OK,
            [("content-type", "application/json")],
            format!(
                r#"{{"token_type":"Bearer","expires_in":{expires_in},"ext_expires_in":{expires_in},"access_token":"token-{tenant}-{n}"}}"#
            ),
        )
            .into_response(),
        Reply::InvalidClient => (
            StatusCode::UNAUTHORIZED,
            [("content-type", "application/json")],
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.\r\nTrace ID: 0d4a1e3c\r\nCorrelation ID: 7f2b\r\nTimestamp: 2026-11-27 09:00:00Z","error_codes":[7000215],"timestamp":"2026-11-27 09:00:00Z","trace_id":"0d4a1e3c-5d2b-4a4c-9c1d-2b6c1d8e0f00","correlation_id":"7f2b9c4e-1111-2222-3333-444455556666","error_uri":"https://login.microsoftonline.com/error?code=7000215"}"#,
        )
            .into_response(),
        Reply::Html500 => (StatusCode::INTERNAL_SERVER_ERROR, "<html>oops</html>").into_response(),
    }
}

async fn start_aad() -> (Arc<Aad>, Url) {
    let aad = Arc::new(Aad::default());
    let app = Router::new()
        .route("/aad/{tenant}/oauth2/v2.0/token", post(token_endpoint))
        .with_state(aad.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (aad, Url::parse(&format!("http://{addr}/aad")).unwrap())
}

fn provider(authority: Url, clock: Arc<ManualClock>) -> TokenProvider {
    let mut config = TokenClientConfig::new(APP_ID, Secret::new(CLIENT_SECRET));
    config.authority = authority;
    TokenProvider::with_clock(config, clock).unwrap()
}

#[tokio::test]
async fn posts_the_client_credentials_grant_to_the_tenant_token_url() {
    let (aad, authority) = start_aad().await;
    let tokens = provider(authority, ManualClock::new());

    let token = tokens.token(TENANT).await.unwrap();

    assert_eq!(token.secret().expose(), format!("token-{TENANT}-1"));
    let requests = aad.requests.lock().unwrap();
    let (tenant, form) = &requests[0];
    assert_eq!(tenant, TENANT);
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], APP_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert_eq!(form["scope"], GRAPH_DEFAULT_SCOPE);
    assert_eq!(form["scope"], "https://graph.microsoft.com/.default");
    assert!(
        !format!("{token:?}").contains("token-"),
        "token leaked into Debug"
    );
}

#[tokio::test]
async fn token_is_cached_until_the_refresh_margin_before_expiry() {
    let (aad, authority) = start_aad().await;
    let clock = ManualClock::new();
    let tokens = provider(authority, clock.clone());

    let first = tokens.token(TENANT).await.unwrap();
    clock.advance(Duration::from_secs(3299 - 1));
    let cached = tokens.token(TENANT).await.unwrap();
    assert_eq!(first, cached);
    assert_eq!(aad.count.load(Ordering::SeqCst), 1);

    // 3599 s lifetime, 300 s margin: due for refresh at 3299 s.
    clock.advance(Duration::from_secs(1));
    let refreshed = tokens.token(TENANT).await.unwrap();
    assert_ne!(first, refreshed);
    assert_eq!(refreshed.secret().expose(), format!("token-{TENANT}-2"));
    assert_eq!(tokens.fetch_count(), 2);
}

#[tokio::test]
async fn short_lived_tokens_refresh_at_eighty_percent() {
    let (aad, authority) = start_aad().await;
    *aad.reply.lock().unwrap() = Some(Reply::Token { expires_in: 100 });
    let clock = ManualClock::new();
    let tokens = provider(authority, clock.clone());

    tokens.token(TENANT).await.unwrap();
    clock.advance(Duration::from_secs(79));
    tokens.token(TENANT).await.unwrap();
    assert_eq!(tokens.fetch_count(), 1);
    clock.advance(Duration::from_secs(1));
    tokens.token(TENANT).await.unwrap();
    assert_eq!(tokens.fetch_count(), 2);
}

#[tokio::test]
async fn tokens_are_cached_per_tenant() {
    let (aad, authority) = start_aad().await;
    let tokens = provider(authority, ManualClock::new());

    let a = tokens.token(TENANT).await.unwrap();
    let b = tokens.token("contoso.onmicrosoft.com").await.unwrap();
    let a_again = tokens.token(TENANT).await.unwrap();

    assert_ne!(a, b);
    assert_eq!(a, a_again);
    let tenants: Vec<String> = aad
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|(t, _)| t.clone())
        .collect();
    assert_eq!(tenants, [TENANT, "contoso.onmicrosoft.com"]);
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_callers_share_one_refresh() {
    let (aad, authority) = start_aad().await;
    let gate = Arc::new(Notify::new());
    *aad.gate.lock().unwrap() = Some(gate.clone());
    let tokens = Arc::new(provider(authority, ManualClock::new()));

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.token(TENANT).await.unwrap() })
        })
        .collect();
    // The first request is at the endpoint; let every other caller run up to its wait point.
    aad.arrived.notified().await;
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert_eq!(aad.count.load(Ordering::SeqCst), 1);
    gate.notify_one();

    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    assert!(seen.iter().all(|t| *t == seen[0]));
    assert_eq!(aad.count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn invalid_client_becomes_a_typed_oauth_error() {
    let (aad, authority) = start_aad().await;
    *aad.reply.lock().unwrap() = Some(Reply::InvalidClient);
    let tokens = provider(authority, ManualClock::new());

    let error = tokens.token(TENANT).await.unwrap_err();

    let AuthError::OAuth(oauth) = &error else {
        panic!("expected OAuth error, got {error:?}")
    };
    assert_eq!(oauth.status, StatusCode::UNAUTHORIZED);
    assert_eq!(oauth.kind, OAuthErrorKind::InvalidClient);
    assert_eq!(oauth.aadsts_codes, [7000215]);
    assert_eq!(
        oauth.trace_id.as_deref(),
        Some("0d4a1e3c-5d2b-4a4c-9c1d-2b6c1d8e0f00")
    );
    assert!(
        oauth
            .description
            .as_deref()
            .unwrap()
            .starts_with("AADSTS7000215")
    );
    assert!(error.to_string().contains("AADSTS7000215"), "{error}");
    assert!(!format!("{error:?}").contains(CLIENT_SECRET));
}

#[tokio::test]
async fn non_oauth_error_body_is_an_unexpected_status() {
    let (aad, authority) = start_aad().await;
    *aad.reply.lock().unwrap() = Some(Reply::Html500);
    let tokens = provider(authority, ManualClock::new());

    let error = tokens.token(TENANT).await.unwrap_err();

    assert!(
        matches!(
            error,
            AuthError::UnexpectedStatus(StatusCode::INTERNAL_SERVER_ERROR)
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn failed_refresh_falls_back_to_the_unexpired_token_until_it_expires() {
    let (aad, authority) = start_aad().await;
    let clock = ManualClock::new();
    let tokens = provider(authority, clock.clone());
    let first = tokens.token(TENANT).await.unwrap();

    *aad.reply.lock().unwrap() = Some(Reply::Html500);
    clock.advance(Duration::from_secs(3400));
    assert_eq!(tokens.token(TENANT).await.unwrap(), first);

    clock.advance(Duration::from_secs(200));
    assert!(tokens.token(TENANT).await.is_err());
    assert_eq!(tokens.fetch_count(), 3);
}

#[tokio::test]
async fn invalidate_forces_a_new_token() {
    let (_aad, authority) = start_aad().await;
    let tokens = provider(authority, ManualClock::new());
    let first = tokens.token(TENANT).await.unwrap();

    tokens.invalidate(TENANT, &first).await;
    let second = tokens.token(TENANT).await.unwrap();
    // Invalidating a token that is no longer cached keeps the fresh one.
    tokens.invalidate(TENANT, &first).await;
    let third = tokens.token(TENANT).await.unwrap();

    assert_ne!(first, second);
    assert_eq!(second, third);
    assert_eq!(tokens.fetch_count(), 2);
}

#[tokio::test]
async fn path_like_tenants_are_refused_before_any_request() {
    let (aad, authority) = start_aad().await;
    let tokens = provider(authority, ManualClock::new());

    let error = tokens.token("../common").await.unwrap_err();

    assert!(matches!(error, AuthError::InvalidTenant(_)), "{error:?}");
    assert_eq!(aad.count.load(Ordering::SeqCst), 0);
}
