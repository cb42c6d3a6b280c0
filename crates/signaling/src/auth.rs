//! App-only OAuth2 tokens for Microsoft Graph (client-credentials grant, reference §2.1).
//!
//! [`TokenProvider`] posts `grant_type=client_credentials` to
//! `{authority}/{tenant}/oauth2/v2.0/token` with the scope `https://graph.microsoft.com/.default`
//! and caches the resulting bearer token **per tenant**: joining a meeting in another tenant needs a
//! token for that tenant.
//!
//! # Time model
//! Expiry is computed from an injectable [`Clock`] (read once, before the request is sent, so the
//! cached lifetime errs short). A token is refreshed `min(refresh_margin, 20 % of its lifetime)`
//! before it expires. Tests drive a fake clock instead of sleeping.
//!
//! # Concurrency
//! Each tenant has its own async slot; the first caller that finds the slot empty or stale fetches
//! while holding it, later callers wait and reuse the fresh token (single-flight). If a refresh
//! fails while the previous token is still within its lifetime, that token is returned and the
//! failure is logged, so a short identity-platform outage does not stop call control.
//!
//! Secrets (client secret, access tokens) live in [`Secret`], whose `Debug`/`Display` redact.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::StatusCode;
use serde::{Deserialize, Deserializer};
use url::Url;

/// Default identity-platform authority (Azure AD / Entra ID, public cloud).
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The app-only scope for Microsoft Graph (the documented spelling, single slash).
pub const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

/// A secret string (client secret, access token) whose `Debug` and `Display` print `[redacted]`.
///
/// Read the value only where it goes on the wire, with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself; call only to put it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// A source of monotonic time, injectable so tests can move time without sleeping.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock ([`Instant::now`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Configuration of a [`TokenProvider`].
#[derive(Debug, Clone)]
pub struct TokenClientConfig {
    /// Authority base, e.g. `https://login.microsoftonline.com` (or a simulator's URL). The token
    /// URL is this plus `/{tenant}/oauth2/v2.0/token`.
    pub authority: Url,
    /// The bot's Microsoft App ID (`client_id`).
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: Secret,
    /// Requested scope; [`GRAPH_DEFAULT_SCOPE`] by default.
    pub scope: String,
    /// Refresh this long before expiry (capped at 20 % of the token lifetime). Default 5 minutes.
    pub refresh_margin: Duration,
    /// Timeout of one token request. Default 10 seconds.
    pub request_timeout: Duration,
}

impl TokenClientConfig {
    /// Configuration for the public cloud authority and the Graph scope.
    pub fn new(client_id: impl Into<String>, client_secret: Secret) -> Self {
        Self {
            authority: Url::parse(DEFAULT_AUTHORITY).expect("DEFAULT_AUTHORITY is a valid URL"),
            client_id: client_id.into(),
            client_secret,
            scope: GRAPH_DEFAULT_SCOPE.to_owned(),
            refresh_margin: Duration::from_secs(300),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A bearer token and the instant it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    value: Secret,
    expires_at: Instant,
}

impl AccessToken {
    /// A token with a known expiry instant.
    pub fn new(value: Secret, expires_at: Instant) -> Self {
        Self { value, expires_at }
    }

    /// The token value (for the `Authorization: Bearer` header).
    pub fn secret(&self) -> &Secret {
        &self.value
    }

    /// When the identity platform said the token expires.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }
}

/// OAuth2 `error` codes (RFC 6749 §5.2) as returned by the identity platform.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthErrorKind {
    /// `invalid_request`: malformed request (also wrong tenant, e.g. AADSTS90002).
    InvalidRequest,
    /// `invalid_client`: bad client secret or unknown app (e.g. AADSTS7000215, AADSTS700016).
    InvalidClient,
    /// `invalid_grant`: grant rejected (e.g. consent or credential problems).
    InvalidGrant,
    /// `unauthorized_client`: the app may not use this grant.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`: the scope is wrong (e.g. AADSTS70011).
    InvalidScope,
    /// `temporarily_unavailable`: retry later.
    TemporarilyUnavailable,
    /// `server_error`.
    ServerError,
    /// Any other code, verbatim.
    Other(String),
}

impl OAuthErrorKind {
    fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            "server_error" => Self::ServerError,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// An OAuth error response from the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status of the response (400 or 401 usually).
    pub status: StatusCode,
    /// The `error` code.
    pub kind: OAuthErrorKind,
    /// `error_description`, e.g. `AADSTS7000215: Invalid client secret provided. …`.
    pub description: Option<String>,
    /// AADSTS numbers from `error_codes` (or, failing that, parsed from the description).
    pub aadsts_codes: Vec<u32>,
    /// `trace_id`, for Microsoft support.
    pub trace_id: Option<String>,
    /// `correlation_id`, for Microsoft support.
    pub correlation_id: Option<String>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} {:?}", self.status.as_u16(), self.kind)?;
        if let Some(code) = self.aadsts_codes.first() {
            write!(f, " AADSTS{code}")?;
        }
        if let Some(trace) = &self.trace_id {
            write!(f, " (trace_id {trace})")?;
        }
        Ok(())
    }
}

/// Why a token could not be obtained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The tenant is not a GUID or domain name (it goes into the URL path, so it is checked).
    #[error("invalid tenant {0:?}: expected a GUID or a domain name")]
    InvalidTenant(String),
    /// The token endpoint answered with an OAuth error.
    #[error("token endpoint refused: {0}")]
    OAuth(Box<OAuthError>),
    /// The token endpoint answered a non-success status without an OAuth error body.
    #[error("token endpoint answered HTTP {0} without an OAuth error body")]
    UnexpectedStatus(StatusCode),
    /// The success response was not a token response.
    #[error("token response could not be parsed")]
    MalformedResponse(#[source] serde_json::Error),
    /// The token type is not `Bearer`.
    #[error("unsupported token_type {0:?}")]
    UnsupportedTokenType(String),
    /// The request could not be sent or the response not read.
    #[error("token request failed")]
    Transport(#[source] reqwest::Error),
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
}

impl AuthError {
    /// True when asking again later may succeed: the identity platform was unreachable, answered
    /// a 5xx or 429, or said `temporarily_unavailable` / `server_error`.
    pub fn is_transient(&self) -> bool {
        let busy = |status: StatusCode| {
            status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
        };
        match self {
            Self::Transport(_) => true,
            Self::UnexpectedStatus(status) => busy(*status),
            Self::OAuth(error) => {
                busy(error.status)
                    || matches!(
                        error.kind,
                        OAuthErrorKind::TemporarilyUnavailable | OAuthErrorKind::ServerError
                    )
            }
            _ => false,
        }
    }
}

/// Client-credentials token source with a per-tenant, single-flight cache.
#[derive(Debug)]
pub struct TokenProvider {
    http: reqwest::Client,
    config: TokenClientConfig,
    clock: Arc<dyn Clock>,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<CachedToken>>>>>,
    fetches: AtomicU64,
}

#[derive(Debug, Clone)]
struct CachedToken {
    token: AccessToken,
    refresh_at: Instant,
}

impl TokenProvider {
    /// A provider on the system clock.
    pub fn new(config: TokenClientConfig) -> Result<Self, AuthError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A provider on the given clock (tests pass a manual clock).
    pub fn with_clock(config: TokenClientConfig, clock: Arc<dyn Clock>) -> Result<Self, AuthError> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()
            .map_err(AuthError::HttpClient)?;
        Ok(Self {
            http,
            config,
            clock,
            slots: Mutex::new(HashMap::new()),
            fetches: AtomicU64::new(0),
        })
    }

    /// The configured app id.
    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    /// How many token requests this provider has sent (successful or not).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A valid token for `tenant` (GUID or domain, or `common`/`organizations`), from the cache
    /// when it is not due for refresh, otherwise freshly requested.
    pub async fn token(&self, tenant: &str) -> Result<AccessToken, AuthError> {
        validate_tenant(tenant)?;
        let slot = self.slot(tenant);
        let mut cached = slot.lock().await;
        let now = self.clock.now();
        if let Some(entry) = cached.as_ref()
            && now < entry.refresh_at
        {
            return Ok(entry.token.clone());
        }
        match self.fetch(tenant).await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                *cached = Some(fresh);
                Ok(token)
            }
            Err(error) => match cached.as_ref() {
                Some(entry) if now < entry.token.expires_at => {
                    tracing::warn!(tenant, %error, "token refresh failed; using the unexpired token");
                    Ok(entry.token.clone())
                }
                _ => Err(error),
            },
        }
    }

    /// Drops `stale` from the cache (e.g. after Graph answered 401 to it) so the next
    /// [`token`](Self::token) call fetches a new one. A token refreshed meanwhile is kept.
    pub async fn invalidate(&self, tenant: &str, stale: &AccessToken) {
        let slot = self.slot(tenant);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|entry| entry.token == *stale) {
            *cached = None;
        }
    }

    fn slot(&self, tenant: &str) -> Arc<tokio::sync::Mutex<Option<CachedToken>>> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots
            .entry(tenant.to_ascii_lowercase())
            .or_default()
            .clone()
    }

    fn token_url(&self, tenant: &str) -> Url {
        let mut url = self.config.authority.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend([tenant, "oauth2", "v2.0", "token"]);
        }
        url
    }

    async fn fetch(&self, tenant: &str) -> Result<CachedToken, AuthError> {
        let requested_at = self.clock.now();
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let form = [
            ("client_id", self.config.client_id.as_str()),
            ("scope", self.config.scope.as_str()),
            ("client_secret", self.config.client_secret.expose()),
            ("grant_type", "client_credentials"),
        ];
        let response = self
            .http
            .post(self.token_url(tenant))
            .form(&form)
            .send()
            .await
            .map_err(AuthError::Transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(AuthError::Transport)?;
        if !status.is_success() {
            return Err(parse_oauth_error(status, &body));
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(AuthError::MalformedResponse)?;
        if !parsed.token_type.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::UnsupportedTokenType(parsed.token_type));
        }
        let lifetime = Duration::from_secs(parsed.expires_in);
        let margin = self.config.refresh_margin.min(lifetime / 5);
        tracing::debug!(
            tenant,
            lifetime_s = parsed.expires_in,
            "fetched Graph token"
        );
        Ok(CachedToken {
            token: AccessToken::new(parsed.access_token, requested_at + lifetime),
            refresh_at: requested_at + (lifetime - margin),
        })
    }
}

/// Tenants are GUIDs, domain names, or `common` / `organizations`: letters, digits, `.`, `-`.
fn validate_tenant(tenant: &str) -> Result<(), AuthError> {
    let valid = !tenant.is_empty()
        && tenant.len() <= 253
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !tenant.starts_with('.');
    if valid {
        Ok(())
    } else {
        Err(AuthError::InvalidTenant(tenant.to_owned()))
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token_type: String,
    #[serde(deserialize_with = "seconds_number_or_string")]
    expires_in: u64,
    access_token: Secret,
}

/// `expires_in` is a number in v2.0 responses and a string in some v1 ones.
fn seconds_number_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrString {
        Number(u64),
        Text(String),
    }
    match NumberOrString::deserialize(deserializer)? {
        NumberOrString::Number(n) => Ok(n),
        NumberOrString::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<u32>,
    trace_id: Option<String>,
    correlation_id: Option<String>,
}

fn parse_oauth_error(status: StatusCode, body: &[u8]) -> AuthError {
    let Ok(parsed) = serde_json::from_slice::<OAuthErrorBody>(body) else {
        return AuthError::UnexpectedStatus(status);
    };
    let mut aadsts_codes = parsed.error_codes;
    if aadsts_codes.is_empty()
        && let Some(description) = &parsed.error_description
    {
        aadsts_codes.extend(aadsts_codes_in(description));
    }
    AuthError::OAuth(Box::new(OAuthError {
        status,
        kind: OAuthErrorKind::parse(&parsed.error),
        description: parsed.error_description,
        aadsts_codes,
        trace_id: parsed.trace_id,
        correlation_id: parsed.correlation_id,
    }))
}

/// Numbers following `AADSTS` in a description.
fn aadsts_codes_in(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.match_indices("AADSTS").filter_map(|(at, prefix)| {
        let digits = &text[at + prefix.len()..];
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        digits[..end].parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_redacts_in_debug_and_display() {
        let secret = Secret::new("qWgdYAmab0YSkuL1qKv5bPX");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(secret.to_string(), "[redacted]");
        assert_eq!(secret.expose(), "qWgdYAmab0YSkuL1qKv5bPX");
        let config = TokenClientConfig::new("app", secret);
        assert!(!format!("{config:?}").contains("qWgd"));
    }

    #[test]
    fn tenant_must_be_guid_or_domain() {
        assert!(validate_tenant("1fdd12d0-4620-44ed-baec-459b611f84b2").is_ok());
        assert!(validate_tenant("contoso.onmicrosoft.com").is_ok());
        assert!(validate_tenant("common").is_ok());
        for bad in ["", "../evil", "a/b", "a?b", ".x", "tenant id"] {
            assert!(validate_tenant(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn aadsts_codes_are_parsed_from_descriptions() {
        let codes: Vec<u32> = aadsts_codes_in(
            "AADSTS7000215: Invalid client secret provided. Also AADSTS50011 and AADSTSxyz.",
        )
        .collect();
        assert_eq!(codes, [7000215, 50011]);
    }
}
