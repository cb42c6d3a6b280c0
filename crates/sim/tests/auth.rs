//! The token endpoint and Graph's bearer check, exercised with the real TokenProvider.

mod common;

use common::{Harness, token_config};
use http::StatusCode;
use mediabot_signaling::auth::{AuthError, OAuthErrorKind, TokenProvider};
use mediabot_signaling::client::GraphClient;
use mediabot_signaling::models::{ODataError, TokenResponse};
use mediabot_sim::SimConfig;

#[tokio::test]
async fn the_right_secret_gets_a_bearer_token_that_graph_accepts() {
    let h = Harness::start(SimConfig::for_tests()).await;
    let token = h.tokens.token(h.sim.tenant_id().as_str()).await.unwrap();
    assert!(token.secret().expose().split('.').count() == 3, "a JWT");
    // A token request answers the documented shape.
    let raw: TokenResponse = reqwest::Client::new()
        .post(h.sim.token_url(h.sim.tenant_id().as_str()))
        .form(&[
            ("client_id", h.sim.app_id().as_str()),
            ("client_secret", h.sim.client_secret()),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw.token_type, "Bearer");
    assert_eq!(raw.expires_in, 3599);
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client_aadsts7000215() {
    let h = Harness::start(SimConfig::for_tests()).await;
    let provider = TokenProvider::new(token_config(&h.sim, "not-the-secret")).unwrap();
    let error = provider
        .token(h.sim.tenant_id().as_str())
        .await
        .unwrap_err();
    let AuthError::OAuth(oauth) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(oauth.status, StatusCode::UNAUTHORIZED);
    assert_eq!(oauth.kind, OAuthErrorKind::InvalidClient);
    assert_eq!(oauth.aadsts_codes, [7000215]);
    assert!(
        oauth
            .description
            .as_deref()
            .unwrap()
            .contains("Invalid client secret")
    );
    assert!(!error.is_transient());
    // And the Graph client surfaces it as an auth error, having sent nothing to Graph.
    let client = GraphClient::new(common::graph_config(&h.sim), provider.into()).unwrap();
    let error = client
        .create_call(&mediabot_signaling::models::Call {
            callback_uri: Some(h.callback_uri.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, mediabot_signaling::client::GraphError::Auth(_)),
        "{error:?}"
    );
}

#[tokio::test]
async fn graph_refuses_missing_forged_and_foreign_tokens_with_401_envelopes() {
    let h = Harness::start(SimConfig::for_tests()).await;
    let url = format!("{}v1.0/communications/calls/abc", h.sim.graph_base_url());
    let http = reqwest::Client::new();
    for auth in [None, Some("Bearer garbage"), Some("Basic dXNlcjpwYXNz")] {
        let mut request = http.get(&url);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let body: ODataError = response.json().await.unwrap();
        assert_eq!(body.error.code, "InvalidAuthenticationToken");
        assert!(body.error.inner_error.unwrap().request_id.is_some());
    }
    // A well-formed JWT the simulator did not sign (the callback signing key is a different key).
    let jwks: serde_json::Value = http
        .get(h.sim.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "sim-callback-1");
    let token = h.tokens.token(h.sim.tenant_id().as_str()).await.unwrap();
    let (signed, signature) = token.secret().expose().rsplit_once('.').unwrap();
    let mut signature: Vec<char> = signature.chars().collect();
    signature[10] = if signature[10] == 'A' { 'B' } else { 'A' };
    let tampered = format!("{signed}.{}", signature.into_iter().collect::<String>());
    let response = http.get(&url).bearer_auth(tampered).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // With the real token the same URL is a 404 for the unknown call, not a 401.
    let response = http
        .get(&url)
        .bearer_auth(token.secret().expose())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
