//! The Microsoft Graph HTTP driver: auth headers, OData errors, throttling and retries (§2.3, §2.4).
//!
//! [`GraphClient`] turns a method, a path under the calls collection and an optional JSON body into
//! one HTTPS exchange with Graph (or the simulator), and the response into a typed
//! [`GraphResponse`] or a typed [`GraphError`]. Typed per-endpoint methods live in [`endpoints`].
//!
//! # Headers
//! Every request carries `Authorization: Bearer <token>` (from the per-tenant [`TokenProvider`]),
//! a fresh `client-request-id` (UUID v4, kept across retries of the same logical request so Graph
//! logs can be correlated) and, with a body, `Content-Type: application/json`. Responses surface
//! `request-id` and `Location`.
//!
//! # Retry policy
//! * `429` and `503` are retried for every method **when the server sent `Retry-After`**: Graph
//!   throttled or shed the request without acting on it, so even a non-idempotent `POST` (create
//!   call, answer, invite…) is safe to resend.
//! * Idempotent methods (`GET`, `PUT`, `DELETE`, `HEAD`, `OPTIONS`) are also retried on `429`/`503`
//!   without `Retry-After` and on `504`, with jittered exponential backoff, and on transport errors.
//! * `POST`/`PATCH` are resent after a transport error only if the connection was never made.
//! * A `401` is retried once, immediately, with a freshly fetched token.
//! * A transient token failure (identity platform unreachable, 5xx, `temporarily_unavailable`) is
//!   retried with backoff for every method, since nothing reached Graph.
//! * `Retry-After` is honoured as seconds (fractional, e.g. `2.128`) or as an HTTP-date.
//! * Bounds: at most [`RetryPolicy::max_attempts`] sends, and the sum of waits never exceeds
//!   [`RetryPolicy::max_total_delay`]; when the next wait would cross that budget the client gives
//!   up at once and returns the last error (with [`ApiError::attempts`] saying how many sends).
//!
//! The bearer token is only ever sent to the configured base URL's origin: absolute URLs (from
//! `Location` headers) on another origin are refused.

pub mod endpoints;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;
use uuid::Uuid;

use crate::auth::{AccessToken, AuthError, TokenProvider};
use crate::models::{ODataError, ODataInnerError};

/// Default Graph host.
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com";

/// Graph API version segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `/v1.0` (GA).
    #[default]
    V1,
    /// `/beta`.
    Beta,
}

impl ApiVersion {
    /// The path segment (`v1.0` or `beta`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1.0",
            Self::Beta => "beta",
        }
    }
}

/// Where the calls collection lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PathStyle {
    /// `/communications/calls` (current).
    #[default]
    Communications,
    /// `/app/calls` (deprecated, still served and still seen in notifications).
    App,
}

impl PathStyle {
    fn segments(self) -> [&'static str; 2] {
        match self {
            Self::Communications => ["communications", "calls"],
            Self::App => ["app", "calls"],
        }
    }
}

/// Retry bounds and backoff shape.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Maximum number of sends of one logical request (first try included). Default 5.
    pub max_attempts: u32,
    /// Upper bound on the sum of all waits for one logical request. Default 60 seconds.
    pub max_total_delay: Duration,
    /// First backoff step when the server gave no `Retry-After`. Default 500 ms.
    pub base_delay: Duration,
    /// Largest single backoff step (without `Retry-After`). Default 10 seconds.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_total_delay: Duration::from_secs(60),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// No retries at all (one send).
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Backoff before retry number `retry` (0-based): `base · 2^retry`, capped at `max_delay`,
    /// scaled by a random factor in `[0.5, 1.0]` ("equal jitter").
    fn backoff(&self, retry: u32) -> Duration {
        let exponential = self.base_delay.saturating_mul(1u32 << retry.min(20));
        let capped = exponential.min(self.max_delay);
        capped.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }
}

/// Configuration of a [`GraphClient`].
#[derive(Debug, Clone)]
pub struct GraphClientConfig {
    /// Scheme, host and optional path prefix of Graph (or the simulator); default
    /// `https://graph.microsoft.com`. The version segment is appended.
    pub base_url: Url,
    /// API version.
    pub version: ApiVersion,
    /// Calls collection path style.
    pub path_style: PathStyle,
    /// Tenant whose token is used, until [`GraphClient::for_tenant`] picks another.
    pub tenant: String,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Timeout of one HTTP exchange. Default 30 seconds.
    pub request_timeout: Duration,
}

impl GraphClientConfig {
    /// Defaults (public Graph, v1.0, `/communications/calls`) for `tenant`.
    pub fn new(tenant: impl Into<String>) -> Self {
        Self {
            base_url: Url::parse(DEFAULT_GRAPH_BASE_URL).expect("default Graph URL is valid"),
            version: ApiVersion::V1,
            path_style: PathStyle::Communications,
            tenant: tenant.into(),
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A non-success answer from Graph, parsed from the OData error envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `error.code` (e.g. `TooManyRequests`, `7504`); the status reason if there was no envelope.
    pub code: String,
    /// `error.message`; the start of the body if there was no envelope.
    pub message: String,
    /// `error.innerError`, when present.
    pub inner_error: Option<ODataInnerError>,
    /// The `request-id` response header (or the inner error's), for Microsoft support.
    pub request_id: Option<String>,
    /// The `client-request-id` this client sent.
    pub client_request_id: Uuid,
    /// Parsed `Retry-After`, when sent.
    pub retry_after: Option<Duration>,
    /// How many times the request was sent before this answer was final.
    pub attempts: u32,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Graph answered HTTP {} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )?;
        if let Some(id) = &self.request_id {
            write!(f, " (request-id {id})")?;
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

/// Why a Graph request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Graph answered with a non-success status.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// No token could be obtained.
    #[error("could not authenticate to Graph")]
    Auth(#[from] AuthError),
    /// The request could not be sent or the response not read.
    #[error("Graph request failed after {attempts} attempt(s)")]
    Transport {
        /// How many sends were tried.
        attempts: u32,
        /// The last transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A success response body did not match the expected type.
    #[error(
        "Graph answered HTTP {status} with a body that does not parse (request-id {request_id:?})"
    )]
    Decode {
        /// HTTP status.
        status: StatusCode,
        /// The `request-id` header.
        request_id: Option<String>,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The request body could not be serialised.
    #[error("request body could not be serialised")]
    Encode(#[source] serde_json::Error),
    /// An absolute URL outside the configured Graph origin was refused (the token would leak).
    #[error("refusing to send a Graph token to foreign URL {0}")]
    ForeignUrl(Url),
    /// The base URL cannot carry path segments (e.g. `data:` URLs).
    #[error("base URL {0} cannot be used as a Graph base")]
    InvalidBaseUrl(Url),
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
}

impl GraphError {
    /// The API error, if Graph answered.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(error) => Some(error),
            _ => None,
        }
    }

    /// The HTTP status, if Graph answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api(error) => Some(error.status),
            Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A successful Graph response.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GraphResponse<T> {
    /// HTTP status (200, 201, 202, 204…).
    pub status: StatusCode,
    /// The parsed body.
    pub body: T,
    /// `Location` (the new call or the operation), resolved against the request URL.
    pub location: Option<Url>,
    /// The `request-id` header.
    pub request_id: Option<String>,
    /// The `client-request-id` this client sent.
    pub client_request_id: Uuid,
    /// How many sends it took.
    pub attempts: u32,
}

impl<T> GraphResponse<T> {
    /// Replaces the body, keeping the metadata.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> GraphResponse<U> {
        GraphResponse {
            status: self.status,
            body: f(self.body),
            location: self.location,
            request_id: self.request_id,
            client_request_id: self.client_request_id,
            attempts: self.attempts,
        }
    }
}

/// Graph calling client: cheap to clone, one per process, re-targeted per tenant with
/// [`GraphClient::for_tenant`].
#[derive(Debug, Clone)]
pub struct GraphClient {
    shared: Arc<Shared>,
    tenant: Arc<str>,
}

#[derive(Debug)]
struct Shared {
    http: reqwest::Client,
    tokens: Arc<TokenProvider>,
    /// `{base}/{version}/{communications|app}/calls`.
    calls_root: Url,
    /// `{base}/{version}`.
    version_root: Url,
    retry: RetryPolicy,
}

/// A request body already serialised to JSON.
struct JsonBody(Bytes);

impl GraphClient {
    /// A client for `config`, authenticating with `tokens`.
    pub fn new(config: GraphClientConfig, tokens: Arc<TokenProvider>) -> Result<Self, GraphError> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()
            .map_err(GraphError::HttpClient)?;
        let mut version_root = config.base_url.clone();
        version_root
            .path_segments_mut()
            .map_err(|()| GraphError::InvalidBaseUrl(config.base_url.clone()))?
            .pop_if_empty()
            .push(config.version.as_str());
        let mut calls_root = version_root.clone();
        calls_root
            .path_segments_mut()
            .map_err(|()| GraphError::InvalidBaseUrl(config.base_url.clone()))?
            .extend(config.path_style.segments());
        Ok(Self {
            shared: Arc::new(Shared {
                http,
                tokens,
                calls_root,
                version_root,
                retry: config.retry,
            }),
            tenant: config.tenant.into(),
        })
    }

    /// The same client using `tenant`'s token (a meeting in another tenant needs that tenant's).
    pub fn for_tenant(&self, tenant: impl Into<Arc<str>>) -> Self {
        Self {
            shared: self.shared.clone(),
            tenant: tenant.into(),
        }
    }

    /// The tenant whose token this client sends.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// `{base}/{version}/{communications|app}/calls`.
    pub fn calls_url(&self) -> &Url {
        &self.shared.calls_root
    }

    /// The URL of `segments` below the calls collection; each segment is percent-encoded.
    pub fn call_path_url(&self, segments: &[&str]) -> Url {
        let mut url = self.shared.calls_root.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        url
    }

    /// Sends `method` to `url` (which must be on the configured Graph origin) with an optional
    /// JSON body and parses a JSON response body into `T` (an empty body parses as JSON `null`,
    /// so `Option<_>` fits responses that may be empty).
    pub async fn send_json<B, T>(
        &self,
        method: Method,
        url: &Url,
        body: Option<&B>,
    ) -> Result<GraphResponse<T>, GraphError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let body = encode(body)?;
        let raw = self.execute(method, url, body.as_ref()).await?;
        let parsed = parse_body(&raw.body).map_err(|source| GraphError::Decode {
            status: raw.status,
            request_id: raw.request_id.clone(),
            source,
        })?;
        Ok(raw.into_response(parsed))
    }

    /// Like [`send_json`](Self::send_json) for endpoints without a response body (`202`, `204`):
    /// whatever body arrives is ignored.
    pub async fn send_no_content<B>(
        &self,
        method: Method,
        url: &Url,
        body: Option<&B>,
    ) -> Result<GraphResponse<()>, GraphError>
    where
        B: Serialize + ?Sized,
    {
        let body = encode(body)?;
        let raw = self.execute(method, url, body.as_ref()).await?;
        Ok(raw.into_response(()))
    }

    fn check_origin(&self, url: &Url) -> Result<(), GraphError> {
        if url.origin() == self.shared.version_root.origin() {
            Ok(())
        } else {
            Err(GraphError::ForeignUrl(url.clone()))
        }
    }

    async fn execute(
        &self,
        method: Method,
        url: &Url,
        body: Option<&JsonBody>,
    ) -> Result<RawResponse, GraphError> {
        self.check_origin(url)?;
        let client_request_id = Uuid::new_v4();
        let span = tracing::debug_span!(
            "graph_request",
            %method,
            path = url.path(),
            %client_request_id,
        );
        self.execute_with_retries(method, url, body, client_request_id)
            .instrument(span)
            .await
    }

    async fn execute_with_retries(
        &self,
        method: Method,
        url: &Url,
        body: Option<&JsonBody>,
        client_request_id: Uuid,
    ) -> Result<RawResponse, GraphError> {
        let policy = &self.shared.retry;
        let idempotent = is_idempotent(&method);
        let mut attempts = 0u32;
        let mut waited = Duration::ZERO;
        let mut refreshed_token = false;
        loop {
            attempts += 1;
            let retries_left = attempts < policy.max_attempts.max(1);
            let within_budget =
                |wait: Duration| retries_left && waited + wait <= policy.max_total_delay;
            let token = match self.shared.tokens.token(&self.tenant).await {
                Ok(token) => token,
                Err(error) => {
                    // No request reached Graph: safe to retry for any method.
                    let wait = policy.backoff(attempts - 1);
                    if error.is_transient() && within_budget(wait) {
                        tracing::debug!(%error, attempts, "token unavailable; retrying");
                        waited += wait;
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(GraphError::Auth(error));
                }
            };
            let outcome = self
                .send_once(&method, url, body, &token, client_request_id)
                .await;
            let wait = match outcome {
                Ok(raw) if raw.status.is_success() => {
                    tracing::debug!(status = raw.status.as_u16(), attempts, "Graph answered");
                    return Ok(raw.finish(client_request_id, attempts));
                }
                Ok(raw) => {
                    let error = raw.into_api_error(client_request_id, attempts);
                    if error.status == StatusCode::UNAUTHORIZED && !refreshed_token && retries_left
                    {
                        refreshed_token = true;
                        self.shared.tokens.invalidate(&self.tenant, &token).await;
                        tracing::debug!("Graph answered 401; retrying with a fresh token");
                        continue;
                    }
                    match retry_wait(&error, idempotent, attempts - 1, policy) {
                        Some(wait) if within_budget(wait) => {
                            tracing::debug!(
                                status = error.status.as_u16(),
                                request_id = error.request_id.as_deref().unwrap_or(""),
                                wait_ms = wait.as_millis() as u64,
                                attempts,
                                "retrying Graph request"
                            );
                            wait
                        }
                        _ => {
                            tracing::debug!(%error, "Graph request failed");
                            return Err(GraphError::Api(Box::new(error)));
                        }
                    }
                }
                Err(source) => {
                    let safe = idempotent || source.is_connect();
                    let wait = policy.backoff(attempts - 1);
                    if safe && within_budget(wait) {
                        tracing::debug!(error = %source, attempts, "retrying after transport error");
                        wait
                    } else {
                        return Err(GraphError::Transport { attempts, source });
                    }
                }
            };
            waited += wait;
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&JsonBody>,
        token: &AccessToken,
        client_request_id: Uuid,
    ) -> Result<RawResponse, reqwest::Error> {
        let mut request = self
            .shared
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(token.secret().expose())
            .header("client-request-id", client_request_id.to_string())
            .header(http::header::ACCEPT, "application/json");
        if let Some(JsonBody(bytes)) = body {
            request = request
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(bytes.clone());
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let final_url = response.url().clone();
        let body = response.bytes().await?;
        Ok(RawResponse::new(status, &headers, &final_url, body))
    }
}

fn encode<B: Serialize + ?Sized>(body: Option<&B>) -> Result<Option<JsonBody>, GraphError> {
    body.map(|b| serde_json::to_vec(b).map(|v| JsonBody(Bytes::from(v))))
        .transpose()
        .map_err(GraphError::Encode)
}

fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::from_slice(b"null")
    } else {
        serde_json::from_slice(body)
    }
}

fn is_idempotent(method: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
    ]
    .contains(method)
}

/// How long to wait before resending after `error`, or `None` if it must not be resent.
fn retry_wait(
    error: &ApiError,
    idempotent: bool,
    retry: u32,
    policy: &RetryPolicy,
) -> Option<Duration> {
    let throttled = matches!(
        error.status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    );
    match (error.retry_after, throttled, idempotent) {
        (Some(after), true, _) => Some(after),
        (None, true, true) => Some(policy.backoff(retry)),
        (after, false, true) if error.status == StatusCode::GATEWAY_TIMEOUT => {
            Some(after.unwrap_or_else(|| policy.backoff(retry)))
        }
        _ => None,
    }
}

/// Parses `Retry-After`: delta-seconds (fractional allowed, e.g. `2.128`) or an HTTP-date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

struct RawResponse {
    status: StatusCode,
    body: Bytes,
    location: Option<Url>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    client_request_id: Uuid,
    attempts: u32,
}

impl RawResponse {
    fn new(status: StatusCode, headers: &HeaderMap, url: &Url, body: Bytes) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            status,
            body,
            location: text("location").and_then(|l| url.join(&l).ok()),
            request_id: text("request-id"),
            retry_after: text("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now())),
            client_request_id: Uuid::nil(),
            attempts: 0,
        }
    }

    fn finish(mut self, client_request_id: Uuid, attempts: u32) -> Self {
        self.client_request_id = client_request_id;
        self.attempts = attempts;
        self
    }

    fn into_response<T>(self, body: T) -> GraphResponse<T> {
        GraphResponse {
            status: self.status,
            body,
            location: self.location,
            request_id: self.request_id,
            client_request_id: self.client_request_id,
            attempts: self.attempts,
        }
    }

    fn into_api_error(self, client_request_id: Uuid, attempts: u32) -> ApiError {
        let envelope = serde_json::from_slice::<ODataError>(&self.body).ok();
        let (code, message, inner_error) = match envelope {
            Some(ODataError { error }) => (
                error.code,
                error.message.unwrap_or_default(),
                error.inner_error,
            ),
            None => {
                let text = String::from_utf8_lossy(&self.body);
                let message: String = text.chars().take(200).collect();
                (
                    self.status.canonical_reason().unwrap_or("").to_owned(),
                    message,
                    None,
                )
            }
        };
        let request_id = self.request_id.or_else(|| {
            inner_error
                .as_ref()
                .and_then(|inner| inner.request_id.clone())
        });
        ApiError {
            status: self.status,
            code,
            message,
            inner_error,
            request_id,
            client_request_id,
            retry_after: self.retry_after,
            attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_fractional_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        assert_eq!(
            parse_retry_after("2.128", now),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        for retry in 0..10 {
            let wait = policy.backoff(retry);
            let full = policy
                .base_delay
                .saturating_mul(1 << retry)
                .min(policy.max_delay);
            assert!(
                wait >= full / 2 && wait <= full,
                "retry {retry}: {wait:?} vs {full:?}"
            );
        }
    }

    #[test]
    fn post_is_retried_only_when_throttled_with_retry_after() {
        let policy = RetryPolicy::default();
        let error = |status: u16, after: Option<u64>| ApiError {
            status: StatusCode::from_u16(status).unwrap(),
            code: String::new(),
            message: String::new(),
            inner_error: None,
            request_id: None,
            client_request_id: Uuid::nil(),
            retry_after: after.map(Duration::from_secs),
            attempts: 1,
        };
        assert_eq!(
            retry_wait(&error(429, Some(3)), false, 0, &policy),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_wait(&error(503, Some(1)), false, 0, &policy),
            Some(Duration::from_secs(1))
        );
        assert_eq!(retry_wait(&error(429, None), false, 0, &policy), None);
        assert_eq!(retry_wait(&error(504, Some(1)), false, 0, &policy), None);
        assert_eq!(retry_wait(&error(500, Some(1)), true, 0, &policy), None);
        assert!(retry_wait(&error(429, None), true, 0, &policy).is_some());
        assert!(retry_wait(&error(504, None), true, 0, &policy).is_some());
    }
}
