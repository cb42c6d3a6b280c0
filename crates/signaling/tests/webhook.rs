//! Callback webhook: JWT validation with real RS256 keys generated here, served through the
//! router with `tower::ServiceExt::oneshot` (no sockets), plus the OpenID/JWKS fetch over real
//! HTTP on 127.0.0.1.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mediabot_signaling::auth::Clock;
use mediabot_signaling::models::{
    CallId, CallState, ChangeType, CommsNotifications, ResourceData, TenantId,
};
use mediabot_signaling::webhook::{
    CallbackAuthConfig, CallbackAuthError, CallbackAuthenticator, CallbackDelivery, KeySource,
    KeySourceError, OpenIdKeySource, Webhook, WebhookConfig,
};
use serde::Serialize;
use tokio::sync::mpsc;
use tower::ServiceExt;
use url::Url;

const APP_ID: &str = "0efc74f7-41c3-47a4-8775-7259bfef4241";
const TENANT: &str = "1fdd12d0-4620-44ed-baec-459b611f84b2";
const PATH: &str = "/api/calling";

/// The incoming-call notification of `call-answer-voip-app-hosted-notification-incoming.json`.
const INCOMING_CALL: &str = r##"{
  "@odata.type": "#microsoft.graph.commsNotifications",
  "value": [
    {
      "@odata.type": "#microsoft.graph.commsNotification",
      "changeType": "created",
      "resourceUrl": "/communications/calls/57DAB8B1894C409AB240BD8BEAE78896",
      "resourceData": {
        "@odata.type": "#microsoft.graph.call",
        "@odata.id": "/communications/calls/57DAB8B1894C409AB240BD8BEAE78896",
        "@odata.etag": "W/\"5445\"",
        "state": "incoming",
        "direction": "incoming",
        "source": {
          "@odata.type": "#microsoft.graph.participantInfo",
          "identity": { "user": { "displayName": "Test User", "id": "8A34A46B-3D17-4ADC-8DCE-DC4E7D572698" } },
          "region": "westus",
          "languageId": "en-US"
        },
        "targets": [
          {
            "@odata.type": "#microsoft.graph.invitationParticipantInfo",
            "identity": { "application": { "displayName": "Test BOT", "id": "8A34A46B-3D17-4ADC-8DCE-DC4E7D572698" } }
          }
        ],
        "requestedModalities": [ "audio" ]
      }
    }
  ]
}"##;

type Delivery = CallbackDelivery;

/// An RS256 signing key and its public JWK.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

fn generate_key(kid: &str) -> SigningKey {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'static>>::as_der(&pair).unwrap();
    let body = STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    SigningKey {
        kid: kid.to_owned(),
        encoding,
        jwk,
    }
}

/// RSA key generation costs tens of milliseconds: make each key once per test binary.
fn keys() -> &'static [SigningKey; 3] {
    static KEYS: OnceLock<[SigningKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            generate_key("graph-key-1"),
            generate_key("graph-key-2"),
            generate_key("attacker"),
        ]
    })
}

fn published() -> &'static SigningKey {
    &keys()[0]
}

fn rotated() -> &'static SigningKey {
    &keys()[1]
}

fn attacker() -> &'static SigningKey {
    &keys()[2]
}

#[derive(Serialize, Clone)]
struct Claims {
    aud: String,
    iss: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> Claims {
    let now = unix_now();
    Claims {
        aud: APP_ID.into(),
        iss: "https://api.botframework.com".into(),
        iat: now,
        nbf: now,
        exp: now + 3600,
        tid: Some(TENANT.into()),
    }
}

fn sign(claims: &Claims, key: &EncodingKey, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn valid_token() -> String {
    sign(&claims(), &published().encoding, &published().kid)
}

#[derive(Debug)]
struct ManualClock(Mutex<Instant>);

impl ManualClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

/// An in-memory key source that counts fetches.
#[derive(Debug)]
struct TestKeys {
    set: Mutex<JwkSet>,
    fetches: AtomicUsize,
}

impl TestKeys {
    fn with(keys: &[&SigningKey]) -> Arc<Self> {
        Arc::new(Self {
            set: Mutex::new(JwkSet {
                keys: keys.iter().map(|k| k.jwk.clone()).collect(),
            }),
            fetches: AtomicUsize::new(0),
        })
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl KeySource for TestKeys {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<JwkSet, KeySourceError>> + Send + '_>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let set = self.set.lock().unwrap().clone();
        Box::pin(async move { Ok(set) })
    }
}

struct Harness {
    keys: Arc<TestKeys>,
    clock: Arc<ManualClock>,
    webhook: Webhook,
    router: Router,
    deliveries: mpsc::Receiver<Delivery>,
}

fn harness_with(config: WebhookConfig, capacity: usize) -> Harness {
    harness_auth(config, capacity, CallbackAuthConfig::new(APP_ID))
}

fn harness_auth(config: WebhookConfig, capacity: usize, auth: CallbackAuthConfig) -> Harness {
    let keys = TestKeys::with(&[published()]);
    let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
    let authenticator = Arc::new(CallbackAuthenticator::new(
        auth,
        keys.clone(),
        clock.clone(),
    ));
    let (sender, deliveries) = mpsc::channel(capacity);
    let webhook = Webhook::new(config, authenticator, clock.clone(), sender);
    let router = webhook.router();
    Harness {
        keys,
        clock,
        webhook,
        router,
        deliveries,
    }
}

fn harness() -> Harness {
    harness_with(WebhookConfig::default(), 8)
}

fn callback(token: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post(PATH).header("content-type", "application/json; charset=utf-8");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(body.into()).unwrap()
}

impl Harness {
    async fn post(&self, token: Option<&str>, body: impl Into<Body>) -> StatusCode {
        self.router
            .clone()
            .oneshot(callback(token, body))
            .await
            .unwrap()
            .status()
    }

    async fn reason(&self, token: &str) -> CallbackAuthError {
        let header = format!("Bearer {token}");
        self.webhook
            .authenticator()
            .authenticate(Some(&header))
            .await
            .unwrap_err()
    }
}

#[tokio::test]
async fn valid_callback_is_accepted_and_delivered() {
    let mut h = harness();

    let status = h.post(Some(&valid_token()), INCOMING_CALL).await;

    assert_eq!(status, StatusCode::ACCEPTED);
    let delivery = h.deliveries.try_recv().unwrap();
    let CommsNotifications { value, .. } = delivery.notifications;
    assert_eq!(value.len(), 1);
    assert_eq!(value[0].change_type, ChangeType::Created);
    assert_eq!(
        value[0].call_id().unwrap(),
        CallId::new("57dab8b1-894c-409a-b240-bd8beae78896")
    );
    let ResourceData::Call(call) = &value[0].resource_data else {
        panic!("expected a call, got {:?}", value[0].resource_data)
    };
    assert_eq!(call.state, Some(CallState::Incoming));
    assert_eq!(delivery.claims.tid, Some(TenantId::new(TENANT)));
    assert_eq!(delivery.claims.iss, "https://api.botframework.com");
    assert_eq!(delivery.claims.aud.as_str(), APP_ID);
    assert_eq!(h.webhook.counters().accepted, 1);
    assert_eq!(h.keys.fetches(), 1);
}

#[tokio::test]
async fn graph_issuer_is_accepted_too() {
    let h = harness();
    let mut claims = claims();
    claims.iss = "https://graph.microsoft.com".into();

    let status = h
        .post(
            Some(&sign(&claims, &published().encoding, &published().kid)),
            INCOMING_CALL,
        )
        .await;

    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn keys_are_cached_between_callbacks() {
    let h = harness();

    for _ in 0..3 {
        assert_eq!(
            h.post(Some(&valid_token()), INCOMING_CALL).await,
            StatusCode::ACCEPTED
        );
    }

    assert_eq!(h.keys.fetches(), 1);
}

#[tokio::test]
async fn missing_authorization_is_401_without_touching_state() {
    let mut h = harness();

    let response = h
        .router
        .clone()
        .oneshot(callback(None, INCOMING_CALL))
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert!(h.deliveries.try_recv().is_err());
    assert_eq!(h.keys.fetches(), 0);
    assert_eq!(h.webhook.counters().unauthorized, 1);
}

#[tokio::test]
async fn non_bearer_authorization_is_401() {
    let h = harness();
    let request = Request::post(PATH)
        .header("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")
        .body(Body::from(INCOMING_CALL))
        .unwrap();

    let status = h.router.clone().oneshot(request).await.unwrap().status();

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(matches!(h.reason("").await, CallbackAuthError::NotBearer));
}

#[tokio::test]
async fn token_signed_by_another_key_is_rejected() {
    let mut h = harness();
    // The attacker reuses the published kid.
    let forged = sign(&claims(), &attacker().encoding, &published().kid);

    assert_eq!(
        h.post(Some(&forged), INCOMING_CALL).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        h.reason(&forged).await,
        CallbackAuthError::BadSignature
    ));
    assert!(h.deliveries.try_recv().is_err());
}

#[tokio::test]
async fn tampered_claims_are_rejected() {
    let h = harness();
    let token = valid_token();
    let parts: Vec<&str> = token.split('.').collect();
    let mut tampered_claims = claims();
    tampered_claims.tid = Some("00000000-0000-0000-0000-000000000000".into());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered_claims).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], payload, parts[2]);

    assert!(matches!(
        h.reason(&tampered).await,
        CallbackAuthError::BadSignature
    ));
}

#[tokio::test]
async fn expired_token_is_rejected() {
    let h = harness();
    let mut claims = claims();
    claims.iat -= 7200;
    claims.nbf -= 7200;
    claims.exp = unix_now() - 3600;
    let token = sign(&claims, &published().encoding, &published().kid);

    assert_eq!(
        h.post(Some(&token), INCOMING_CALL).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(h.reason(&token).await, CallbackAuthError::Expired));
}

#[tokio::test]
async fn expiry_within_the_leeway_is_tolerated() {
    let h = harness();
    let mut claims = claims();
    claims.exp = unix_now() - 10;

    let status = h
        .post(
            Some(&sign(&claims, &published().encoding, &published().kid)),
            INCOMING_CALL,
        )
        .await;

    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn not_yet_valid_token_is_rejected() {
    let h = harness();
    let mut claims = claims();
    claims.nbf = unix_now() + 3600;
    let token = sign(&claims, &published().encoding, &published().kid);

    assert_eq!(
        h.post(Some(&token), INCOMING_CALL).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        h.reason(&token).await,
        CallbackAuthError::NotYetValid
    ));
}

#[tokio::test]
async fn wrong_audience_is_rejected() {
    let h = harness();
    let mut claims = claims();
    claims.aud = "11111111-2222-3333-4444-555555555555".into();
    let token = sign(&claims, &published().encoding, &published().kid);

    assert_eq!(
        h.post(Some(&token), INCOMING_CALL).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        h.reason(&token).await,
        CallbackAuthError::WrongAudience
    ));
}

#[tokio::test]
async fn wrong_issuer_is_rejected() {
    let h = harness();
    let mut claims = claims();
    claims.iss = "https://sts.windows.net/evil/".into();
    let token = sign(&claims, &published().encoding, &published().kid);

    assert_eq!(
        h.post(Some(&token), INCOMING_CALL).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        h.reason(&token).await,
        CallbackAuthError::WrongIssuer
    ));
}

#[tokio::test]
async fn missing_tenant_claim_is_rejected() {
    let h = harness();
    let mut claims = claims();
    claims.tid = None;
    let token = sign(&claims, &published().encoding, &published().kid);

    assert_eq!(
        h.post(Some(&token), INCOMING_CALL).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        h.reason(&token).await,
        CallbackAuthError::MissingTenant
    ));
}

#[tokio::test]
async fn a_callback_from_a_tenant_the_bot_does_not_serve_is_rejected() {
    let mut auth = CallbackAuthConfig::new(APP_ID);
    auth.allowed_tenants = vec![TenantId::new(TENANT.to_uppercase())];
    let mut h = harness_auth(WebhookConfig::default(), 8, auth);

    // The bot's own tenant (compared case-insensitively) is accepted…
    let token = sign(&claims(), &published().encoding, &published().kid);
    assert_eq!(
        h.post(Some(&token), INCOMING_CALL).await,
        StatusCode::ACCEPTED
    );
    assert!(h.deliveries.try_recv().is_ok());

    // …a validly signed token of another tenant is not, and nothing is delivered.
    let mut foreign = claims();
    foreign.tid = Some("00000000-0000-0000-0000-0000000000ff".into());
    let token = sign(&foreign, &published().encoding, &published().kid);
    assert_eq!(
        h.post(Some(&token), INCOMING_CALL).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        h.reason(&token).await,
        CallbackAuthError::ForeignTenant
    ));
    assert!(h.deliveries.try_recv().is_err());
}

#[tokio::test]
async fn hs256_token_is_rejected_even_when_keyed_with_the_public_key() {
    let h = harness();
    // Classic algorithm confusion: HMAC keyed with the RSA public modulus.
    let jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) = &published().jwk.algorithm else {
        unreachable!()
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(published().kid.clone());
    let token = jsonwebtoken::encode(
        &header,
        &claims(),
        &EncodingKey::from_secret(rsa.n.as_bytes()),
    )
    .unwrap();

    assert_eq!(
        h.post(Some(&token), INCOMING_CALL).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        h.reason(&token).await,
        CallbackAuthError::DisallowedAlgorithm(Algorithm::HS256)
    ));
    assert_eq!(
        h.keys.fetches(),
        0,
        "an HS256 token must not even reach the key cache"
    );
}

#[tokio::test]
async fn alg_none_token_is_rejected() {
    let h = harness();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"graph-key-1"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).unwrap());
    let token = format!("{header}.{payload}.");

    assert_eq!(
        h.post(Some(&token), INCOMING_CALL).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        h.reason(&token).await,
        CallbackAuthError::Malformed(_)
    ));
}

#[tokio::test]
async fn token_without_kid_is_rejected() {
    let h = harness();
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims(),
        &published().encoding,
    )
    .unwrap();

    assert!(matches!(
        h.reason(&token).await,
        CallbackAuthError::MissingKeyId
    ));
}

#[tokio::test]
async fn unknown_kid_triggers_exactly_one_refresh_then_rejects() {
    let h = harness();
    assert_eq!(
        h.post(Some(&valid_token()), INCOMING_CALL).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(h.keys.fetches(), 1);
    h.clock.advance(Duration::from_secs(61));

    let unknown = sign(&claims(), &attacker().encoding, "never-published");
    assert_eq!(
        h.post(Some(&unknown), INCOMING_CALL).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.keys.fetches(), 2);

    // Within the cooldown another unknown kid does not reach the key host again.
    assert!(
        matches!(h.reason(&unknown).await, CallbackAuthError::UnknownKeyId(kid) if kid == "never-published")
    );
    assert_eq!(h.keys.fetches(), 2);
    // Known keys keep working.
    assert_eq!(
        h.post(Some(&valid_token()), INCOMING_CALL).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(h.keys.fetches(), 2);
}

#[tokio::test]
async fn rotated_key_is_picked_up_by_the_unknown_kid_refresh() {
    let h = harness();
    assert_eq!(
        h.post(Some(&valid_token()), INCOMING_CALL).await,
        StatusCode::ACCEPTED
    );
    h.keys.set.lock().unwrap().keys.push(rotated().jwk.clone());
    h.clock.advance(Duration::from_secs(61));

    let token = sign(&claims(), &rotated().encoding, &rotated().kid);

    assert_eq!(
        h.post(Some(&token), INCOMING_CALL).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(h.keys.fetches(), 2);
}

#[tokio::test]
async fn keys_are_refetched_after_the_refresh_interval() {
    let h = harness();
    assert_eq!(
        h.post(Some(&valid_token()), INCOMING_CALL).await,
        StatusCode::ACCEPTED
    );
    h.clock.advance(Duration::from_secs(2 * 3600 - 1));
    assert_eq!(
        h.post(Some(&valid_token()), INCOMING_CALL).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(h.keys.fetches(), 1);

    h.clock.advance(Duration::from_secs(1));
    assert_eq!(
        h.post(Some(&valid_token()), INCOMING_CALL).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(h.keys.fetches(), 2);
}

#[tokio::test]
async fn malformed_body_is_400() {
    let mut h = harness();

    assert_eq!(
        h.post(Some(&valid_token()), r#"{"value": [ {"changeType": 5 } ]"#)
            .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.post(Some(&valid_token()), "not json").await,
        StatusCode::BAD_REQUEST
    );
    let wrong_shape = r#"{"value": [{"changeType": "created", "resourceUrl": 7}]}"#;
    assert_eq!(
        h.post(Some(&valid_token()), wrong_shape).await,
        StatusCode::BAD_REQUEST
    );
    assert!(h.deliveries.try_recv().is_err());
    assert_eq!(h.webhook.counters().malformed, 3);
}

#[tokio::test]
async fn oversize_body_is_413() {
    let mut h = harness_with(
        WebhookConfig {
            max_body_bytes: 1024,
            ..WebhookConfig::default()
        },
        8,
    );
    let big = format!(r#"{{"value":[],"pad":"{}"}}"#, "x".repeat(4096));

    assert_eq!(
        h.post(Some(&valid_token()), big.clone()).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert!(h.deliveries.try_recv().is_err());
    assert_eq!(h.webhook.counters().oversize, 1);
    // Authentication comes first: an unauthenticated oversize body is a 401.
    assert_eq!(h.post(None, big).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn full_channel_is_answered_503_and_counted() {
    let mut h = harness_with(
        WebhookConfig {
            enqueue_timeout: Duration::from_millis(20),
            ..WebhookConfig::default()
        },
        1,
    );

    assert_eq!(
        h.post(Some(&valid_token()), INCOMING_CALL).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        h.post(Some(&valid_token()), INCOMING_CALL).await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    assert_eq!(h.webhook.counters().overflowed, 1);
    assert!(h.deliveries.try_recv().is_ok());
    assert!(h.deliveries.try_recv().is_err());
}

/// Serves an OpenID configuration and its JWKS on 127.0.0.1, counting JWKS fetches.
async fn serve_openid(jwks: JwkSet) -> (Url, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let configuration = format!(
        r#"{{"issuer":"https://api.botframework.com","authorization_endpoint":"https://invalid.botframework.com/","jwks_uri":"http://{addr}/v1/keys","id_token_signing_alg_values_supported":["RSA256"],"token_endpoint_auth_methods_supported":["private_key_jwt"]}}"#
    );
    let counter = hits.clone();
    let app = Router::new()
        .route(
            "/v1/.well-known/OpenIdConfiguration",
            get(move || async move { configuration }),
        )
        .route(
            "/v1/keys",
            get(move || async move {
                counter.fetch_add(1, Ordering::SeqCst);
                serde_json::to_string(&jwks).unwrap()
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (
        Url::parse(&format!("http://{addr}/v1/.well-known/OpenIdConfiguration")).unwrap(),
        hits,
    )
}

#[tokio::test]
async fn keys_are_fetched_through_the_openid_configuration_over_http() {
    let (configuration_url, jwks_hits) = serve_openid(JwkSet {
        keys: vec![published().jwk.clone()],
    })
    .await;
    let source = Arc::new(OpenIdKeySource::new(configuration_url).unwrap());
    let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
    let authenticator = Arc::new(CallbackAuthenticator::new(
        CallbackAuthConfig::new(APP_ID),
        source,
        clock.clone(),
    ));
    let (sender, mut deliveries) = mpsc::channel::<Delivery>(4);
    let router = Webhook::new(
        WebhookConfig::default(),
        authenticator.clone(),
        clock,
        sender,
    )
    .router();

    let accepted = router
        .clone()
        .oneshot(callback(Some(&valid_token()), INCOMING_CALL))
        .await
        .unwrap();
    let forged = sign(&claims(), &attacker().encoding, &published().kid);
    let refused = router
        .oneshot(callback(Some(&forged), INCOMING_CALL))
        .await
        .unwrap();

    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        deliveries.try_recv().unwrap().notifications.value[0].change_type,
        ChangeType::Created
    );
    assert_eq!(jwks_hits.load(Ordering::SeqCst), 1);
    assert_eq!(authenticator.key_fetch_count(), 1);
}

#[tokio::test]
async fn unreachable_key_host_is_503_not_401() {
    // Port 9 (discard) on loopback is closed: the fetch fails.
    let source =
        Arc::new(OpenIdKeySource::new(Url::parse("http://127.0.0.1:9/cfg").unwrap()).unwrap());
    let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
    let authenticator = CallbackAuthenticator::new(CallbackAuthConfig::new(APP_ID), source, clock);

    let error = authenticator
        .authenticate(Some(&format!("Bearer {}", valid_token())))
        .await
        .unwrap_err();

    assert!(
        matches!(error, CallbackAuthError::KeysUnavailable(_)),
        "{error:?}"
    );
    assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn webhook_serves_real_http_on_loopback() {
    let mut h = harness_with(
        WebhookConfig {
            max_body_bytes: 2048,
            ..WebhookConfig::default()
        },
        8,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{PATH}", listener.local_addr().unwrap());
    let router = h.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let http = reqwest::Client::new();
    let post = |token: Option<String>, body: String| {
        let mut request = http
            .post(&url)
            .header("content-type", "application/json; charset=utf-8")
            .header("user-agent", "Microsoft-Skype/3.0,(Calling/1.0)")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let accepted = post(Some(valid_token()), INCOMING_CALL.to_owned())
        .await
        .unwrap();
    let unauthenticated = post(None, INCOMING_CALL.to_owned()).await.unwrap();
    let oversize = post(Some(valid_token()), "x".repeat(8192)).await.unwrap();

    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(oversize.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        h.deliveries.try_recv().unwrap().notifications.value[0].change_type,
        ChangeType::Created
    );
    assert!(h.deliveries.try_recv().is_err());
}
