//! The bot's callback endpoint (`callbackUri`): authenticated Graph notifications in, typed
//! deliveries out (reference §3.1–§3.3).
//!
//! # Request handling
//! 1. **Authenticate first**, before the body is read: `Authorization: Bearer <jwt>` must be an
//!    RS256 token signed by a key from Graph's JWKS (chosen by `kid`), issued by
//!    `https://api.botframework.com` or `https://graph.microsoft.com`, for audience = the bot's app
//!    id, within `exp`/`nbf` ± a small leeway, with a tenant (`tid`) claim. Anything else is
//!    answered `401` and touches no state (not even the channel).
//! 2. Read the body up to [`WebhookConfig::max_body_bytes`] (`413` beyond), parse it once into the
//!    typed notification body `T` (`400` if it does not parse).
//! 3. Hand a [`CallbackDelivery`] to the consumer over a bounded tokio `mpsc` channel and answer
//!    `202 Accepted`. **Overflow policy:** if the channel stays full for
//!    [`WebhookConfig::enqueue_timeout`] (or the consumer is gone) the callback is answered `503`
//!    and counted in [`WebhookCounters::overflowed`]; nothing is dropped silently.
//!
//! # Signing keys
//! [`OpenIdKeySource`] reads the OpenID configuration (default
//! [`DEFAULT_OPENID_CONFIGURATION_URL`]), follows its `jwks_uri` and returns the key set. The
//! [`CallbackAuthenticator`] caches the RSA keys by `kid` and refreshes them every
//! [`CallbackAuthConfig::key_refresh_interval`] (2 h, like Microsoft's sample). A token with an
//! unknown `kid` triggers exactly one refresh (single-flight, and at most one per
//! [`CallbackAuthConfig::unknown_kid_cooldown`] so forged `kid`s cannot hammer the JWKS host);
//! if the key is still unknown the token is rejected. A failed refresh keeps the previous keys.
//!
//! Times (`exp`/`nbf`) are checked against the wall clock, as JWTs require; the key cache's ages
//! are measured on the injectable [`Clock`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::StatusCode;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::SendTimeoutError;
use url::Url;

use crate::auth::Clock;
use crate::models::{AppId, CallbackJwtClaims, CommsNotifications, OpenIdConfiguration, TenantId};

/// Where Graph's callback signing keys are described (reference §3.2).
pub const DEFAULT_OPENID_CONFIGURATION_URL: &str =
    "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration";

/// Issuers Graph uses for callback tokens (the documented one and the one Microsoft's sample also
/// accepts).
pub const CALLBACK_ISSUERS: [&str; 2] = [
    "https://api.botframework.com",
    "https://graph.microsoft.com",
];

/// Token checks for callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAuthConfig {
    /// The bot's Microsoft App ID; tokens must name it in `aud`.
    pub app_id: String,
    /// Accepted `iss` values; [`CALLBACK_ISSUERS`] by default.
    pub issuers: Vec<String>,
    /// Clock-skew allowance on `exp` and `nbf`. Default 60 seconds.
    pub leeway: Duration,
    /// Reject tokens without a `tid` claim (Microsoft's sample does). Default `true`.
    pub require_tenant: bool,
    /// Tenants whose callbacks are accepted (`tid`, compared case-insensitively); any other →
    /// [`CallbackAuthError::ForeignTenant`] (401). Empty: every tenant (a multi-tenant bot that
    /// checks tenants itself). Default empty.
    pub allowed_tenants: Vec<TenantId>,
    /// Age after which the key set is fetched again. Default 2 hours.
    pub key_refresh_interval: Duration,
    /// Minimum time between refreshes caused by unknown `kid`s (and between retries after a
    /// failed fetch). Default 5 seconds: short, so a key rotated just after a fetch costs at most
    /// a few seconds of refused callbacks, yet forged `kid`s cannot hammer the key host.
    pub unknown_kid_cooldown: Duration,
}

impl CallbackAuthConfig {
    /// Defaults for the bot `app_id`.
    pub fn new(app_id: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            issuers: CALLBACK_ISSUERS.iter().map(|s| (*s).to_owned()).collect(),
            leeway: Duration::from_secs(60),
            require_tenant: true,
            allowed_tenants: Vec::new(),
            key_refresh_interval: Duration::from_secs(2 * 60 * 60),
            unknown_kid_cooldown: Duration::from_secs(5),
        }
    }
}

/// Why the signing keys could not be obtained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeySourceError {
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// A document could not be fetched.
    #[error("fetching {url} failed")]
    Transport {
        /// The document's URL.
        url: Url,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A document was answered with a non-success status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The document's URL.
        url: Url,
        /// The status.
        status: StatusCode,
    },
    /// A document did not parse.
    #[error("{url} is not a valid document")]
    Malformed {
        /// The document's URL.
        url: Url,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A custom key source failed.
    #[error("key source unavailable: {0}")]
    Unavailable(String),
}

/// Where callback signing keys come from. Implemented by [`OpenIdKeySource`]; tests and the
/// simulator may supply their own.
pub trait KeySource: Send + Sync + fmt::Debug {
    /// Fetches the current key set.
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<JwkSet, KeySourceError>> + Send + '_>>;
}

/// Keys from an OpenID configuration document's `jwks_uri`.
#[derive(Debug, Clone)]
pub struct OpenIdKeySource {
    http: reqwest::Client,
    configuration_url: Url,
}

impl OpenIdKeySource {
    /// A source reading `configuration_url` (e.g. [`DEFAULT_OPENID_CONFIGURATION_URL`]).
    pub fn new(configuration_url: Url) -> Result<Self, KeySourceError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(KeySourceError::HttpClient)?;
        Ok(Self {
            http,
            configuration_url,
        })
    }

    async fn document<T: DeserializeOwned>(&self, url: &Url) -> Result<T, KeySourceError> {
        let transport = |source| KeySourceError::Transport {
            url: url.clone(),
            source,
        };
        let response = self.http.get(url.clone()).send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(KeySourceError::Status {
                url: url.clone(),
                status,
            });
        }
        let body = response.bytes().await.map_err(transport)?;
        serde_json::from_slice(&body).map_err(|source| KeySourceError::Malformed {
            url: url.clone(),
            source,
        })
    }
}

impl KeySource for OpenIdKeySource {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<JwkSet, KeySourceError>> + Send + '_>> {
        Box::pin(async move {
            let configuration: OpenIdConfiguration = self.document(&self.configuration_url).await?;
            // A relative `jwks_uri` is resolved against the configuration document's URL.
            let jwks_uri = self
                .configuration_url
                .join(&configuration.jwks_uri)
                .map_err(|error| {
                    KeySourceError::Unavailable(format!(
                        "jwks_uri {:?}: {error}",
                        configuration.jwks_uri
                    ))
                })?;
            self.document(&jwks_uri).await
        })
    }
}

/// Why a callback's token was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackAuthError {
    /// No `Authorization` header.
    #[error("no Authorization header")]
    MissingToken,
    /// The header is not `Bearer <token>`.
    #[error("Authorization is not a bearer token")]
    NotBearer,
    /// The token is not a well-formed JWT (this includes `alg: none`).
    #[error("malformed token")]
    Malformed(#[source] jsonwebtoken::errors::Error),
    /// The token is signed with an algorithm other than RS256.
    #[error("algorithm {0:?} is not accepted (RS256 only)")]
    DisallowedAlgorithm(Algorithm),
    /// The token header has no `kid`.
    #[error("token has no key id")]
    MissingKeyId,
    /// No key with this `kid`, even after a refresh.
    #[error("unknown key id {0:?}")]
    UnknownKeyId(String),
    /// The keys could not be fetched and none are cached.
    #[error("signing keys unavailable")]
    KeysUnavailable(#[source] KeySourceError),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `aud` is not the bot's app id.
    #[error("wrong audience")]
    WrongAudience,
    /// `iss` is not an accepted issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// No `tid` claim.
    #[error("token has no tenant claim")]
    MissingTenant,
    /// The `tid` claim names a tenant this bot does not serve.
    #[error("callback from a tenant this bot does not serve")]
    ForeignTenant,
    /// Any other validation failure (missing required claim…).
    #[error("invalid token")]
    Invalid(#[source] jsonwebtoken::errors::Error),
}

impl CallbackAuthError {
    /// The HTTP status this refusal is answered with: `503` when keys are unavailable (our
    /// problem), `401` otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

#[derive(Deserialize)]
struct RawClaims {
    iss: String,
    exp: u64,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    tid: Option<TenantId>,
}

/// Validates callback bearer tokens against a cached, refreshed key set.
#[derive(Debug)]
pub struct CallbackAuthenticator {
    app_id: AppId,
    validation: Validation,
    require_tenant: bool,
    allowed_tenants: Vec<TenantId>,
    keys: KeyCache,
}

impl CallbackAuthenticator {
    /// An authenticator for `config`, with keys from `source`, key ages on `clock`.
    pub fn new(
        config: CallbackAuthConfig,
        source: Arc<dyn KeySource>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = config.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_audience(&[config.app_id.as_str()]);
        validation.set_issuer(&config.issuers);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        Self {
            app_id: AppId::new(config.app_id),
            validation,
            require_tenant: config.require_tenant,
            allowed_tenants: config.allowed_tenants,
            keys: KeyCache {
                source,
                clock,
                refresh_interval: config.key_refresh_interval,
                unknown_kid_cooldown: config.unknown_kid_cooldown,
                state: tokio::sync::RwLock::new(KeyState::default()),
                refresh: tokio::sync::Mutex::new(()),
                fetches: AtomicU64::new(0),
            },
        }
    }

    /// How many times the key set has been fetched.
    pub fn key_fetch_count(&self) -> u64 {
        self.keys.fetches.load(Ordering::Relaxed)
    }

    /// Checks an `Authorization` header value and returns the verified claims (`aud` is the
    /// configured app id; on the wire it may be a string or an array).
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<CallbackJwtClaims, CallbackAuthError> {
        let header = authorization.ok_or(CallbackAuthError::MissingToken)?;
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or(CallbackAuthError::NotBearer)?;
        let jwt_header =
            jsonwebtoken::decode_header(token).map_err(CallbackAuthError::Malformed)?;
        if jwt_header.alg != Algorithm::RS256 {
            return Err(CallbackAuthError::DisallowedAlgorithm(jwt_header.alg));
        }
        let kid = jwt_header.kid.ok_or(CallbackAuthError::MissingKeyId)?;
        let key = self.keys.key_for(&kid).await?;
        let data = jsonwebtoken::decode::<RawClaims>(token, &key, &self.validation)
            .map_err(map_jwt_error)?;
        let claims = data.claims;
        if self.require_tenant
            && claims
                .tid
                .as_ref()
                .is_none_or(|tid| tid.as_str().is_empty())
        {
            return Err(CallbackAuthError::MissingTenant);
        }
        if !self.allowed_tenants.is_empty()
            && !claims.tid.as_ref().is_some_and(|tid| {
                self.allowed_tenants
                    .iter()
                    .any(|a| a.as_str().eq_ignore_ascii_case(tid.as_str()))
            })
        {
            return Err(CallbackAuthError::ForeignTenant);
        }
        Ok(CallbackJwtClaims {
            aud: self.app_id.clone(),
            iss: claims.iss,
            iat: claims.iat,
            nbf: claims.nbf,
            exp: claims.exp,
            tid: claims.tid,
        })
    }
}

fn map_jwt_error(error: jsonwebtoken::errors::Error) -> CallbackAuthError {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => CallbackAuthError::BadSignature,
        ErrorKind::ExpiredSignature => CallbackAuthError::Expired,
        ErrorKind::ImmatureSignature => CallbackAuthError::NotYetValid,
        ErrorKind::InvalidAudience => CallbackAuthError::WrongAudience,
        ErrorKind::InvalidIssuer => CallbackAuthError::WrongIssuer,
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => CallbackAuthError::Malformed(error),
        _ => CallbackAuthError::Invalid(error),
    }
}

#[derive(Debug)]
struct KeyCache {
    source: Arc<dyn KeySource>,
    clock: Arc<dyn Clock>,
    refresh_interval: Duration,
    unknown_kid_cooldown: Duration,
    state: tokio::sync::RwLock<KeyState>,
    refresh: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

#[derive(Default)]
struct KeyState {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
    generation: u64,
}

impl fmt::Debug for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyState")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("fetched_at", &self.fetched_at)
            .field("generation", &self.generation)
            .finish()
    }
}

impl KeyCache {
    async fn key_for(&self, kid: &str) -> Result<DecodingKey, CallbackAuthError> {
        let now = self.clock.now();
        let (key, generation, stale, cooled_down) = {
            let state = self.state.read().await;
            let age = state.fetched_at.map(|at| now.saturating_duration_since(at));
            (
                state.keys.get(kid).cloned(),
                state.generation,
                age.is_none_or(|age| age >= self.refresh_interval),
                age.is_none_or(|age| age >= self.unknown_kid_cooldown),
            )
        };
        let refresh_error = match (key, stale, cooled_down) {
            (Some(key), false, _) => return Ok(key),
            (None, false, false) => return Err(CallbackAuthError::UnknownKeyId(kid.to_owned())),
            _ => self.refresh(generation).await.err(),
        };
        let state = self.state.read().await;
        match (state.keys.get(kid), refresh_error) {
            (Some(key), _) => Ok(key.clone()),
            (None, Some(error)) if state.keys.is_empty() => {
                Err(CallbackAuthError::KeysUnavailable(error))
            }
            (None, _) => Err(CallbackAuthError::UnknownKeyId(kid.to_owned())),
        }
    }

    /// Fetches the key set unless another task already did since `seen_generation`.
    async fn refresh(&self, seen_generation: u64) -> Result<(), KeySourceError> {
        let _single_flight = self.refresh.lock().await;
        if self.state.read().await.generation != seen_generation {
            return Ok(());
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = self.source.fetch().await;
        let now = self.clock.now();
        let mut state = self.state.write().await;
        state.generation += 1;
        match fetched {
            Ok(set) => {
                state.keys = usable_keys(&set);
                state.fetched_at = Some(now);
                tracing::debug!(keys = state.keys.len(), "refreshed callback signing keys");
                Ok(())
            }
            Err(error) => {
                // Keep serving the previous keys; retry after the cooldown, not on every request.
                let backdated = now.checked_sub(
                    self.refresh_interval
                        .saturating_sub(self.unknown_kid_cooldown),
                );
                state.fetched_at = backdated.or(state.fetched_at);
                tracing::warn!(%error, "could not refresh callback signing keys");
                Err(error)
            }
        }
    }
}

/// The RSA signing keys of a set, by `kid`; keys for other uses or algorithms are skipped.
fn usable_keys(set: &JwkSet) -> HashMap<String, DecodingKey> {
    set.keys
        .iter()
        .filter(|jwk| matches!(jwk.algorithm, AlgorithmParameters::RSA(_)))
        .filter(|jwk| {
            jwk.common
                .public_key_use
                .as_ref()
                .is_none_or(|u| *u == PublicKeyUse::Signature)
        })
        .filter(|jwk| {
            jwk.common
                .key_algorithm
                .is_none_or(|alg| alg == KeyAlgorithm::RS256)
        })
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((kid, key))
        })
        .collect()
}

/// HTTP-level settings of the callback endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Route the notifications are posted to (the path of the bot's callbackUri). Default
    /// `/api/calling`.
    pub path: String,
    /// Largest accepted body. Default 4 MiB (big meetings send full rosters).
    pub max_body_bytes: usize,
    /// How long a callback may wait for room in the channel before it is answered `503`.
    /// Default 2 seconds.
    pub enqueue_timeout: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            path: "/api/calling".to_owned(),
            max_body_bytes: 4 * 1024 * 1024,
            enqueue_timeout: Duration::from_secs(2),
        }
    }
}

/// One authenticated, parsed callback, as handed to the consumer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CallbackDelivery<T = CommsNotifications> {
    /// The parsed notification body.
    pub notifications: T,
    /// The verified token claims (`tid`: the tenant of the call, whose token to use for it).
    pub claims: CallbackJwtClaims,
    /// When the callback was accepted, on the webhook's clock.
    pub received_at: Instant,
}

/// Counts of callback outcomes since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WebhookCounters {
    /// Answered `202` and delivered.
    pub accepted: u64,
    /// Answered `401` (or `503` for unavailable keys).
    pub unauthorized: u64,
    /// Answered `400`.
    pub malformed: u64,
    /// Answered `413`.
    pub oversize: u64,
    /// Answered `503` because the channel stayed full or was closed.
    pub overflowed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    unauthorized: AtomicU64,
    malformed: AtomicU64,
    oversize: AtomicU64,
    overflowed: AtomicU64,
}

/// The callback endpoint: authenticator, limits and the consumer's channel.
///
/// `T` is the notification body type: [`CommsNotifications`] unless a caller needs another.
#[derive(Debug)]
pub struct Webhook<T = CommsNotifications> {
    shared: Arc<WebhookShared<T>>,
}

#[derive(Debug)]
struct WebhookShared<T> {
    config: WebhookConfig,
    authenticator: Arc<CallbackAuthenticator>,
    clock: Arc<dyn Clock>,
    sender: mpsc::Sender<CallbackDelivery<T>>,
    counters: Counters,
}

impl<T> Clone for Webhook<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> Webhook<T> {
    /// A webhook delivering to `sender` (create it with `tokio::sync::mpsc::channel(capacity)`).
    pub fn new(
        config: WebhookConfig,
        authenticator: Arc<CallbackAuthenticator>,
        clock: Arc<dyn Clock>,
        sender: mpsc::Sender<CallbackDelivery<T>>,
    ) -> Self {
        Self {
            shared: Arc::new(WebhookShared {
                config,
                authenticator,
                clock,
                sender,
                counters: Counters::default(),
            }),
        }
    }

    /// The axum router serving `POST {path}`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(&self.shared.config.path, post(handle_callback::<T>))
            .layer(DefaultBodyLimit::max(self.shared.config.max_body_bytes))
            .with_state(self.shared.clone())
    }

    /// The authenticator (also usable on its own).
    pub fn authenticator(&self) -> &Arc<CallbackAuthenticator> {
        &self.shared.authenticator
    }

    /// Outcome counts so far.
    pub fn counters(&self) -> WebhookCounters {
        let c = &self.shared.counters;
        WebhookCounters {
            accepted: c.accepted.load(Ordering::Relaxed),
            unauthorized: c.unauthorized.load(Ordering::Relaxed),
            malformed: c.malformed.load(Ordering::Relaxed),
            oversize: c.oversize.load(Ordering::Relaxed),
            overflowed: c.overflowed.load(Ordering::Relaxed),
        }
    }
}

async fn handle_callback<T: DeserializeOwned + Send + 'static>(
    State(shared): State<Arc<WebhookShared<T>>>,
    request: Request<Body>,
) -> Response {
    let counters = &shared.counters;
    let authorization = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let claims = match shared.authenticator.authenticate(authorization).await {
        Ok(claims) => claims,
        Err(error) => {
            counters.unauthorized.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%error, "refused callback");
            let mut response = error.status().into_response();
            if error.status() == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    http::header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer"),
                );
            }
            return response;
        }
    };
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                counters.oversize.fetch_add(1, Ordering::Relaxed);
            } else {
                counters.malformed.fetch_add(1, Ordering::Relaxed);
            }
            return status.into_response();
        }
    };
    let notifications = match serde_json::from_slice::<T>(&body) {
        Ok(parsed) => parsed,
        Err(error) => {
            counters.malformed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%error, "callback body does not parse");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    let delivery = CallbackDelivery {
        notifications,
        claims,
        received_at: shared.clock.now(),
    };
    match shared
        .sender
        .send_timeout(delivery, shared.config.enqueue_timeout)
        .await
    {
        Ok(()) => {
            counters.accepted.fetch_add(1, Ordering::Relaxed);
            StatusCode::ACCEPTED.into_response()
        }
        Err(SendTimeoutError::Timeout(_) | SendTimeoutError::Closed(_)) => {
            counters.overflowed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("notification channel full or closed; answering 503");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
