//! Graph client against a real local axum server on 127.0.0.1: headers, OData errors,
//! throttling, retries and their bounds, token refresh on 401, Location headers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mediabot_signaling::auth::{AuthError, Secret, TokenClientConfig, TokenProvider};
use mediabot_signaling::client::{
    ApiVersion, GraphClient, GraphClientConfig, GraphError, PathStyle, RetryPolicy,
};
use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

const TENANT: &str = "1fdd12d0-4620-44ed-baec-459b611f84b2";
const CALL_ID: &str = "2e1a0b00-2db4-4022-9570-243709c565ab";

/// The 429 envelope of reference §2.4.
const THROTTLED: &str = r#"{"error":{"code":"TooManyRequests","innerError":{"code":"429","date":"2020-08-18T12:51:51","message":"Please retry after","request-id":"94fb3b52-452a-4535-a601-69e0a90e3aa2","status":"429"},"message":"Please retry again later."}}"#;

/// One request as the fake Graph saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// A scripted reply: status, extra headers, body.
type Reply = (u16, Vec<(&'static str, String)>, String);

#[derive(Default)]
struct FakeGraph {
    seen: Mutex<Vec<Seen>>,
    script: Mutex<VecDeque<Reply>>,
    /// Used when the script is empty.
    fallback: Mutex<Option<Reply>>,
    tokens_issued: Mutex<u32>,
    /// The token endpoint answers this many requests with a failure first.
    token_failures: Mutex<Vec<(u16, &'static str)>>,
}

impl FakeGraph {
    fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.lock().unwrap().extend(replies);
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn ok_json(body: &str) -> Reply {
    (
        200,
        vec![("content-type", "application/json".into())],
        body.to_owned(),
    )
}

async fn token(State(graph): State<Arc<FakeGraph>>, Path(tenant): Path<String>) -> Response {
    let failure = graph.token_failures.lock().unwrap().pop();
    if let Some((status, body)) = failure {
        return (StatusCode::from_u16(status).unwrap(), body).into_response();
    }
    let n = {
        let mut issued = graph.tokens_issued.lock().unwrap();
        *issued += 1;
        *issued
    };
    (
        [("content-type", "application/json")],
        format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"tok-{tenant}-{n}"}}"#),
    )
        .into_response()
}

async fn graph_api(
    State(graph): State<Arc<FakeGraph>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    graph.seen.lock().unwrap().push(Seen {
        method,
        path: uri.path().to_owned(),
        headers,
        body,
    });
    let next = graph.script.lock().unwrap().pop_front();
    let (status, extra, body) = next
        .or_else(|| graph.fallback.lock().unwrap().clone())
        .unwrap_or_else(|| ok_json("{}"));
    let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
    for (name, value) in extra {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

struct Harness {
    graph: Arc<FakeGraph>,
    base: Url,
    tokens: Arc<TokenProvider>,
}

async fn start() -> Harness {
    let graph = Arc::new(FakeGraph::default());
    let app = Router::new()
        .route("/aad/{tenant}/oauth2/v2.0/token", post(token))
        .fallback(graph_api)
        .with_state(graph.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut auth = TokenClientConfig::new("app-id", Secret::new("s3cret"));
    auth.authority = Url::parse(&format!("http://{addr}/aad")).unwrap();
    Harness {
        graph,
        base: Url::parse(&format!("http://{addr}")).unwrap(),
        tokens: Arc::new(TokenProvider::new(auth).unwrap()),
    }
}

impl Harness {
    fn client(&self, configure: impl FnOnce(&mut GraphClientConfig)) -> GraphClient {
        let mut config = GraphClientConfig::new(TENANT);
        config.base_url = self.base.clone();
        config.retry = RetryPolicy {
            max_attempts: 4,
            max_total_delay: Duration::from_secs(2),
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
        };
        configure(&mut config);
        GraphClient::new(config, self.tokens.clone()).unwrap()
    }
}

#[derive(Debug, Deserialize, PartialEq)]
struct Thing {
    id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Mute {
    client_context: &'static str,
}

fn call_url(client: &GraphClient, rest: &[&str]) -> Url {
    let mut segments = vec![CALL_ID];
    segments.extend_from_slice(rest);
    client.call_path_url(&segments)
}

#[tokio::test]
async fn sends_bearer_token_client_request_id_and_json_content_type() {
    let h = start().await;
    let client = h.client(|_| {});
    h.graph
        .script([ok_json(r#"{"id":"op-1","status":"completed"}"#)]);

    let url = call_url(&client, &["mute"]);
    let response = client
        .send_json::<_, Thing>(
            Method::POST,
            &url,
            Some(&Mute {
                client_context: "ctx",
            }),
        )
        .await
        .unwrap();

    assert_eq!(response.body, Thing { id: "op-1".into() });
    let seen = h.graph.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(
        seen[0].path,
        format!("/v1.0/communications/calls/{CALL_ID}/mute")
    );
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer tok-{TENANT}-1").as_str())
    );
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(&seen[0].body[..], br#"{"clientContext":"ctx"}"#);
    let id = Uuid::parse_str(seen[0].header("client-request-id").unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 4);
    assert_eq!(id, response.client_request_id);
}

#[tokio::test]
async fn bodiless_requests_carry_no_content_type() {
    let h = start().await;
    let client = h.client(|_| {});
    h.graph.script([(204, vec![], String::new())]);

    let response = client
        .send_no_content::<()>(Method::DELETE, &call_url(&client, &[]), None)
        .await
        .unwrap();

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(h.graph.seen()[0].header("content-type"), None);
}

#[tokio::test]
async fn throttled_429_with_fractional_retry_after_is_retried_once() {
    let h = start().await;
    let client = h.client(|_| {});
    h.graph.script([
        (
            429,
            vec![
                ("retry-after", "0.05".into()),
                ("content-type", "application/json".into()),
            ],
            THROTTLED.into(),
        ),
        ok_json(r#"{"id":"call-1"}"#),
    ]);

    let url = client.calls_url().clone();
    let response = client
        .send_json::<_, Thing>(
            Method::POST,
            &url,
            Some(&Mute {
                client_context: "c",
            }),
        )
        .await
        .unwrap();

    assert_eq!(response.body.id, "call-1");
    assert_eq!(response.attempts, 2);
    let seen = h.graph.seen();
    assert_eq!(seen.len(), 2);
    // The same logical request keeps its client-request-id across the retry.
    assert_eq!(
        seen[0].header("client-request-id"),
        seen[1].header("client-request-id")
    );
    assert_eq!(seen[0].body, seen[1].body);
}

#[tokio::test]
async fn server_error_becomes_a_typed_api_error_with_the_odata_envelope() {
    let h = start().await;
    let client = h.client(|_| {});
    let envelope = r#"{"error":{"code":"7504","message":"Insufficient enterprise tenant permissions, cannot access this API","innerError":{"date":"2026-11-27T09:00:00","request-id":"a7c0-1","client-request-id":"b8d1-2"}}}"#;
    h.graph.script([(
        500,
        vec![("request-id", "hdr-req-9".into())],
        envelope.into(),
    )]);

    let error = client
        .send_json::<(), Thing>(Method::GET, &call_url(&client, &[]), None)
        .await
        .unwrap_err();

    let api = error.api().expect("an API error");
    assert_eq!(api.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(api.code, "7504");
    assert_eq!(
        api.message,
        "Insufficient enterprise tenant permissions, cannot access this API"
    );
    let inner = api.inner_error.as_ref().unwrap();
    assert_eq!(inner.request_id.as_deref(), Some("a7c0-1"));
    assert_eq!(inner.client_request_id.as_deref(), Some("b8d1-2"));
    assert_eq!(inner.date.as_deref(), Some("2026-11-27T09:00:00"));
    assert_eq!(api.request_id.as_deref(), Some("hdr-req-9"));
    assert_eq!(api.attempts, 1);
    assert_eq!(h.graph.seen().len(), 1, "500 must not be retried");
    assert!(error.to_string().contains("7504"));
}

#[tokio::test]
async fn throttling_envelope_is_parsed_and_request_id_comes_from_the_inner_error() {
    let h = start().await;
    let client = h.client(|c| c.retry = RetryPolicy::none());
    h.graph
        .script([(429, vec![("retry-after", "2.128".into())], THROTTLED.into())]);

    let error = client
        .send_json::<(), Thing>(Method::GET, &call_url(&client, &[]), None)
        .await
        .unwrap_err();

    let api = error.api().unwrap();
    assert_eq!(api.code, "TooManyRequests");
    assert_eq!(api.message, "Please retry again later.");
    assert_eq!(api.retry_after, Some(Duration::from_millis(2128)));
    assert_eq!(
        api.request_id.as_deref(),
        Some("94fb3b52-452a-4535-a601-69e0a90e3aa2")
    );
    assert_eq!(
        api.inner_error.as_ref().unwrap().code.as_deref(),
        Some("429")
    );
}

#[tokio::test]
async fn non_envelope_error_bodies_keep_status_and_text() {
    let h = start().await;
    let client = h.client(|c| c.retry = RetryPolicy::none());
    h.graph
        .script([(502, vec![], "<html>bad gateway</html>".into())]);

    let error = client
        .send_json::<(), Thing>(Method::GET, &call_url(&client, &[]), None)
        .await
        .unwrap_err();

    let api = error.api().unwrap();
    assert_eq!(api.code, "Bad Gateway");
    assert_eq!(api.message, "<html>bad gateway</html>");
    assert!(api.inner_error.is_none());
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let h = start().await;
    let client = h.client(|c| c.retry.max_attempts = 3);
    *h.graph.fallback.lock().unwrap() =
        Some((429, vec![("retry-after", "0.01".into())], THROTTLED.into()));

    let error = client
        .send_json::<(), Thing>(Method::GET, &call_url(&client, &[]), None)
        .await
        .unwrap_err();

    assert_eq!(error.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(error.api().unwrap().attempts, 3);
    assert_eq!(h.graph.seen().len(), 3);
}

#[tokio::test]
async fn gives_up_at_once_when_retry_after_exceeds_the_delay_budget() {
    let h = start().await;
    let client = h.client(|c| c.retry.max_total_delay = Duration::from_secs(1));
    h.graph
        .script([(503, vec![("retry-after", "30".into())], String::new())]);

    let error = client
        .send_json::<(), Thing>(Method::GET, &call_url(&client, &[]), None)
        .await
        .unwrap_err();

    assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(
        error.api().unwrap().retry_after,
        Some(Duration::from_secs(30))
    );
    assert_eq!(h.graph.seen().len(), 1);
}

#[tokio::test]
async fn post_is_not_retried_without_retry_after_or_on_504() {
    let h = start().await;
    let client = h.client(|_| {});
    let url = call_url(&client, &["answer"]);
    h.graph.script([
        (429, vec![], THROTTLED.into()),
        (504, vec![], String::new()),
    ]);

    let first = client
        .send_no_content(
            Method::POST,
            &url,
            Some(&Mute {
                client_context: "a",
            }),
        )
        .await;
    let second = client
        .send_no_content(
            Method::POST,
            &url,
            Some(&Mute {
                client_context: "b",
            }),
        )
        .await;

    assert_eq!(
        first.unwrap_err().status(),
        Some(StatusCode::TOO_MANY_REQUESTS)
    );
    assert_eq!(
        second.unwrap_err().status(),
        Some(StatusCode::GATEWAY_TIMEOUT)
    );
    assert_eq!(h.graph.seen().len(), 2);
}

#[tokio::test]
async fn get_is_retried_with_backoff_on_503_and_504_without_retry_after() {
    let h = start().await;
    let client = h.client(|_| {});
    h.graph.script([
        (503, vec![], String::new()),
        (504, vec![], String::new()),
        ok_json(r#"{"id":"x"}"#),
    ]);

    let response = client
        .send_json::<(), Thing>(Method::GET, &call_url(&client, &[]), None)
        .await
        .unwrap();

    assert_eq!(response.attempts, 3);
    assert_eq!(h.graph.seen().len(), 3);
}

#[tokio::test]
async fn unauthorized_is_retried_once_with_a_fresh_token() {
    let h = start().await;
    let client = h.client(|_| {});
    let expired =
        r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired."}}"#;
    h.graph
        .script([(401, vec![], expired.into()), ok_json(r#"{"id":"x"}"#)]);

    client
        .send_json::<(), Thing>(Method::GET, &call_url(&client, &[]), None)
        .await
        .unwrap();

    let seen = h.graph.seen();
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer tok-{TENANT}-1").as_str())
    );
    assert_eq!(
        seen[1].header("authorization"),
        Some(format!("Bearer tok-{TENANT}-2").as_str())
    );

    // A second 401 in a row is final.
    h.graph
        .script([(401, vec![], expired.into()), (401, vec![], expired.into())]);
    let error = client
        .send_json::<(), Thing>(Method::GET, &call_url(&client, &[]), None)
        .await
        .unwrap_err();
    assert_eq!(error.api().unwrap().code, "InvalidAuthenticationToken");
    assert_eq!(h.graph.seen().len(), 4);
}

#[tokio::test]
async fn transient_token_failure_is_retried_before_anything_reaches_graph() {
    let h = start().await;
    let client = h.client(|_| {});
    h.graph.token_failures.lock().unwrap().push((503, "busy"));
    h.graph.script([ok_json(r#"{"id":"x"}"#)]);

    let url = call_url(&client, &["answer"]);
    let response = client
        .send_json::<_, Thing>(
            Method::POST,
            &url,
            Some(&Mute {
                client_context: "c",
            }),
        )
        .await
        .unwrap();

    assert_eq!(response.attempts, 2);
    assert_eq!(h.graph.seen().len(), 1);
}

#[tokio::test]
async fn rejected_credentials_fail_at_once_with_the_oauth_error() {
    let h = start().await;
    let client = h.client(|_| {});
    let invalid_client = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#;
    h.graph
        .token_failures
        .lock()
        .unwrap()
        .push((401, invalid_client));

    let error = client
        .send_json::<(), Thing>(Method::GET, &call_url(&client, &[]), None)
        .await
        .unwrap_err();

    let GraphError::Auth(AuthError::OAuth(oauth)) = &error else {
        panic!("expected an OAuth error, got {error:?}")
    };
    assert_eq!(oauth.aadsts_codes, [7000215]);
    assert!(h.graph.seen().is_empty());
    assert!(h.graph.token_failures.lock().unwrap().is_empty());
}

#[tokio::test]
async fn location_header_is_returned_resolved() {
    let h = start().await;
    let client = h.client(|_| {});
    let op = format!("/v1.0/communications/calls/{CALL_ID}/operations/0fe0623f");
    h.graph
        .script([(202, vec![("location", op.clone())], String::new())]);

    let response = client
        .send_no_content(
            Method::POST,
            &call_url(&client, &["participants", "p1", "startHoldMusic"]),
            Some(&Mute {
                client_context: "c",
            }),
        )
        .await
        .unwrap();

    assert_eq!(response.status, StatusCode::ACCEPTED);
    assert_eq!(
        response.location.unwrap().as_str(),
        h.base.join(&op).unwrap().as_str()
    );
}

#[tokio::test]
async fn empty_success_body_parses_as_none() {
    let h = start().await;
    let client = h.client(|_| {});
    h.graph.script([(200, vec![], String::new())]);

    let response = client
        .send_json::<(), Option<Thing>>(Method::GET, &call_url(&client, &[]), None)
        .await
        .unwrap();

    assert_eq!(response.body, None);
}

#[tokio::test]
async fn undecodable_success_body_is_a_decode_error() {
    let h = start().await;
    let client = h.client(|_| {});
    h.graph.script([(
        200,
        vec![("request-id", "r-1".into())],
        r#"{"no_id":1}"#.into(),
    )]);

    let error = client
        .send_json::<(), Thing>(Method::GET, &call_url(&client, &[]), None)
        .await
        .unwrap_err();

    assert!(
        matches!(&error, GraphError::Decode { request_id: Some(id), .. } if id == "r-1"),
        "{error:?}"
    );
}

#[tokio::test]
async fn refuses_to_send_the_token_to_another_origin() {
    let h = start().await;
    let client = h.client(|_| {});
    let foreign = Url::parse("http://127.0.0.2:9/v1.0/communications/calls").unwrap();

    let error = client
        .send_json::<(), Thing>(Method::GET, &foreign, None)
        .await
        .unwrap_err();

    assert!(matches!(error, GraphError::ForeignUrl(_)), "{error:?}");
    assert!(h.graph.seen().is_empty());
}

#[tokio::test]
async fn beta_and_app_path_style_build_the_legacy_urls() {
    let h = start().await;
    let client = h.client(|c| {
        c.version = ApiVersion::Beta;
        c.path_style = PathStyle::App;
    });

    client
        .send_json::<(), Thing>(
            Method::GET,
            &call_url(&client, &["participants", "a b"]),
            None,
        )
        .await
        .ok();

    assert_eq!(
        h.graph.seen()[0].path,
        format!("/beta/app/calls/{CALL_ID}/participants/a%20b")
    );
}

#[tokio::test]
async fn for_tenant_switches_the_token() {
    let h = start().await;
    let client = h.client(|_| {}).for_tenant("contoso.onmicrosoft.com");

    client
        .send_json::<(), Thing>(Method::GET, &call_url(&client, &[]), None)
        .await
        .unwrap_err();

    assert_eq!(client.tenant(), "contoso.onmicrosoft.com");
    assert_eq!(
        h.graph.seen()[0].header("authorization"),
        Some("Bearer tok-contoso.onmicrosoft.com-1")
    );
}

// ---- typed endpoints ------------------------------------------------------------------------

mod endpoints {
    use mediabot_signaling::models::{
        AnswerRequest, AudioRoutingGroup, AudioRoutingGroupId, Call, CallId, CallState,
        ChangeScreenSharingRoleRequest, ContentSharingSessionId, InviteParticipantsRequest,
        MuteAllRequest, MuteParticipantRequest, MuteRequest, OperationId, OperationKind,
        OperationStatus, ParticipantId, RedirectRequest, RejectRequest, RoutingMode,
        StartHoldMusicRequest, StopHoldMusicRequest, TransferRequest, UnmuteRequest,
        UpdateRecordingStatusRequest,
    };
    use serde_json::{Value, json};

    use super::*;

    const PARTICIPANT: &str = "632899f8-2ea1-4604-8413-27bd2892079f";

    fn call_id() -> CallId {
        CallId::new(CALL_ID)
    }

    fn body_json(seen: &Seen) -> Value {
        serde_json::from_slice(&seen.body).unwrap()
    }

    #[tokio::test]
    async fn create_call_posts_the_call_and_returns_201_with_location() {
        let h = start().await;
        let client = h.client(|_| {});
        let location = format!("https://graph.microsoft.com/v1.0/communications/calls/{CALL_ID}");
        h.graph.script([(
            201,
            vec![("location", location.clone()), ("content-type", "application/json".into())],
            format!(r##"{{"@odata.type":"#microsoft.graph.call","id":"{CALL_ID}","state":"establishing","callbackUri":"https://bot.contoso.com/callback"}}"##),
        )]);
        let call: Call = serde_json::from_value(json!({
            "@odata.type": "#microsoft.graph.call",
            "callbackUri": "https://bot.contoso.com/callback",
            "requestedModalities": ["audio"],
            "mediaConfig": { "@odata.type": "#microsoft.graph.appHostedMediaConfig", "blob": "<blob>" }
        }))
        .unwrap();

        let response = client.create_call(&call).await.unwrap();

        assert_eq!(response.status, StatusCode::CREATED);
        assert_eq!(response.body.id, Some(call_id()));
        assert_eq!(response.body.state, Some(CallState::Establishing));
        assert_eq!(response.location.unwrap().as_str(), location);
        let seen = &h.graph.seen()[0];
        assert_eq!(
            (seen.method.clone(), seen.path.as_str()),
            (Method::POST, "/v1.0/communications/calls")
        );
        let sent = body_json(seen);
        assert_eq!(sent["callbackUri"], "https://bot.contoso.com/callback");
        assert_eq!(
            sent["mediaConfig"]["@odata.type"],
            "#microsoft.graph.appHostedMediaConfig"
        );
        assert_eq!(sent["mediaConfig"]["blob"], "<blob>");
    }

    #[tokio::test]
    async fn answer_on_beta_app_path_sends_the_documented_body() {
        let h = start().await;
        let client = h.client(|c| {
            c.version = ApiVersion::Beta;
            c.path_style = PathStyle::App;
        });
        h.graph.script([(202, vec![], String::new())]);
        let request: AnswerRequest = serde_json::from_value(json!({
            "callbackUri": "https://bot.contoso.com/api/calls",
            "acceptedModalities": ["audio"],
            "mediaConfig": { "@odata.type": "#microsoft.graph.appHostedMediaConfig", "blob": "<Media Session Configuration Blob>" }
        }))
        .unwrap();

        let response = client.answer(&call_id(), &request).await.unwrap();

        assert_eq!(response.status, StatusCode::ACCEPTED);
        let seen = &h.graph.seen()[0];
        assert_eq!(seen.method, Method::POST);
        assert_eq!(seen.path, format!("/beta/app/calls/{CALL_ID}/answer"));
        let sent = body_json(seen);
        assert_eq!(sent["callbackUri"], "https://bot.contoso.com/api/calls");
        assert_eq!(sent["acceptedModalities"], json!(["audio"]));
        assert_eq!(
            sent["mediaConfig"]["blob"],
            "<Media Session Configuration Blob>"
        );
        assert_eq!(sent, serde_json::to_value(&request).unwrap());
    }

    #[tokio::test]
    async fn keep_alive_posts_no_body_and_surfaces_404_for_ended_calls() {
        let h = start().await;
        let client = h.client(|_| {});
        let gone = r#"{"error":{"code":"itemNotFound","message":"Call not found."}}"#;
        h.graph
            .script([(200, vec![], String::new()), (404, vec![], gone.into())]);

        client.keep_alive(&call_id()).await.unwrap();
        let error = client.keep_alive(&call_id()).await.unwrap_err();

        let seen = &h.graph.seen()[0];
        assert_eq!(
            seen.path,
            format!("/v1.0/communications/calls/{CALL_ID}/keepAlive")
        );
        assert!(seen.body.is_empty());
        assert_eq!(seen.header("content-type"), None);
        assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
        assert_eq!(error.api().unwrap().code, "itemNotFound");
    }

    #[tokio::test]
    async fn mute_participant_returns_the_typed_operation() {
        let h = start().await;
        let client = h.client(|_| {});
        h.graph.script([ok_json(
            r##"{"@odata.type":"#microsoft.graph.muteParticipantOperation","id":"17e3b46c-f61d-4f4d-9635-c626ef18e6ad","status":"completed","clientContext":"clientContext-value"}"##,
        )]);

        let response = client
            .mute_participant(
                &call_id(),
                &ParticipantId::new(PARTICIPANT),
                &MuteParticipantRequest::new("clientContext-value"),
            )
            .await
            .unwrap();

        let op = response.body.unwrap();
        assert_eq!(op.kind, OperationKind::MuteParticipant);
        assert_eq!(op.status, Some(OperationStatus::Completed));
        assert_eq!(
            op.id,
            Some(OperationId::new("17e3b46c-f61d-4f4d-9635-c626ef18e6ad"))
        );
        let seen = &h.graph.seen()[0];
        assert_eq!(
            seen.path,
            format!("/v1.0/communications/calls/{CALL_ID}/participants/{PARTICIPANT}/mute")
        );
        assert_eq!(
            body_json(seen),
            json!({"clientContext": "clientContext-value"})
        );
    }

    #[tokio::test]
    async fn start_hold_music_returns_202_location_and_running_operation() {
        let h = start().await;
        let client = h.client(|_| {});
        let location = format!(
            "/v1.0/communications/calls/{CALL_ID}/operations/0fe0623f-d628-42ed-b4bd-8ac290072cc5"
        );
        h.graph.script([(
            202,
            vec![("location", location.clone())],
            r##"{"@odata.type":"#microsoft.graph.startHoldMusicOperation","id":"0fe0623f-d628-42ed-b4bd-8ac290072cc5","status":"running","clientContext":"d45324c1"}"##.into(),
        )]);
        let request: StartHoldMusicRequest = serde_json::from_value(json!({
            "customPrompt": {
                "@odata.type": "#microsoft.graph.mediaPrompt",
                "mediaInfo": { "@odata.type": "#microsoft.graph.mediaInfo", "uri": "https://bot.contoso.com/onHold.wav" }
            },
            "clientContext": "d45324c1"
        }))
        .unwrap();

        let response = client
            .start_hold_music(&call_id(), &ParticipantId::new(PARTICIPANT), &request)
            .await
            .unwrap();

        assert_eq!(response.status, StatusCode::ACCEPTED);
        let op = response.body.unwrap();
        assert_eq!(op.kind, OperationKind::StartHoldMusic);
        assert_eq!(op.status, Some(OperationStatus::Running));
        let operation_url = response.location.unwrap();
        assert!(
            operation_url
                .path()
                .ends_with("/operations/0fe0623f-d628-42ed-b4bd-8ac290072cc5")
        );
        let sent = body_json(&h.graph.seen()[0]);
        assert_eq!(
            sent["customPrompt"]["mediaInfo"]["uri"],
            "https://bot.contoso.com/onHold.wav"
        );

        // The operation can be polled at its Location.
        h.graph.script([ok_json(
            r##"{"@odata.type":"#microsoft.graph.startHoldMusicOperation","id":"0fe0623f-d628-42ed-b4bd-8ac290072cc5","status":"completed"}"##,
        )]);
        let polled = client.get_operation_at(&operation_url).await.unwrap();
        assert_eq!(polled.body.status, Some(OperationStatus::Completed));
        assert_eq!(h.graph.seen()[1].path, location);
    }

    #[tokio::test]
    async fn list_participants_parses_the_collection() {
        let h = start().await;
        let client = h.client(|_| {});
        h.graph.script([ok_json(&format!(
            r##"{{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#communications/calls('{CALL_ID}')/participants","value":[
                {{"@odata.type":"#microsoft.graph.participant","id":"{PARTICIPANT}","isMuted":true,"isInLobby":false,"mediaStreams":[{{"@odata.type":"#microsoft.graph.mediaStream","mediaType":"audio","sourceId":"1","direction":"sendReceive","serverMuted":false}}]}},
                {{"@odata.type":"#microsoft.graph.participant","id":"550fae72-d251-43ec-868c-373732c2704f","isMuted":false}}
            ]}}"##
        ))]);

        let response = client.list_participants(&call_id()).await.unwrap();

        let participants = response.body.value;
        assert_eq!(participants.len(), 2);
        assert_eq!(participants[0].id, Some(ParticipantId::new(PARTICIPANT)));
        assert!(participants[0].muted());
        assert_eq!(
            h.graph.seen()[0].path,
            format!("/v1.0/communications/calls/{CALL_ID}/participants")
        );
    }

    #[tokio::test]
    async fn audio_routing_group_lifecycle_uses_post_patch_get_delete() {
        let h = start().await;
        let client = h.client(|c| c.version = ApiVersion::Beta);
        let group_json = r#"{"id":"multicast","routingMode":"multicast","sources":["632899f8-2ea1-4604-8413-27bd2892079f"],"receivers":["550fae72-d251-43ec-868c-373732c2704f","72f988bf-86f1-41af-91ab-2d7cd011db47"]}"#;
        let group: AudioRoutingGroup = serde_json::from_str(group_json).unwrap();
        let id = AudioRoutingGroupId::new("multicast");
        h.graph.script([
            ok_json(group_json),
            ok_json(group_json),
            ok_json(group_json),
            (204, vec![], String::new()),
        ]);

        let created = client
            .create_audio_routing_group(&call_id(), &group)
            .await
            .unwrap();
        client
            .update_audio_routing_group(&call_id(), &id, &group)
            .await
            .unwrap();
        let fetched = client
            .get_audio_routing_group(&call_id(), &id)
            .await
            .unwrap();
        client
            .delete_audio_routing_group(&call_id(), &id)
            .await
            .unwrap();

        assert_eq!(created.body, group);
        assert_eq!(fetched.body.routing_mode, Some(RoutingMode::Multicast));
        let root = format!("/beta/communications/calls/{CALL_ID}/audioRoutingGroups");
        let seen: Vec<(Method, String)> = h
            .graph
            .seen()
            .into_iter()
            .map(|s| (s.method, s.path))
            .collect();
        assert_eq!(
            seen,
            [
                (Method::POST, root.clone()),
                (Method::PATCH, format!("{root}/multicast")),
                (Method::GET, format!("{root}/multicast")),
                (Method::DELETE, format!("{root}/multicast")),
            ]
        );
        assert_eq!(
            body_json(&h.graph.seen()[0]),
            serde_json::from_str::<Value>(group_json).unwrap()
        );
    }

    #[tokio::test]
    async fn reject_sends_the_reason_in_lower_case() {
        let h = start().await;
        let client = h.client(|_| {});
        h.graph.script([(202, vec![], String::new())]);
        let request: RejectRequest = serde_json::from_value(json!({"reason": "Busy"})).unwrap();

        client.reject(&call_id(), &request).await.unwrap();

        assert_eq!(body_json(&h.graph.seen()[0]), json!({"reason": "busy"}));
    }

    /// Every endpoint, in both path styles: method and path as documented.
    #[tokio::test]
    async fn every_endpoint_uses_its_documented_method_and_path() {
        for (version, style, root) in [
            (
                ApiVersion::V1,
                PathStyle::Communications,
                "/v1.0/communications/calls",
            ),
            (ApiVersion::Beta, PathStyle::App, "/beta/app/calls"),
        ] {
            let h = start().await;
            let client = h.client(|c| {
                c.version = version;
                c.path_style = style;
                c.retry = RetryPolicy::none();
            });
            let call = call_id();
            let p = ParticipantId::new(PARTICIPANT);
            let group = AudioRoutingGroupId::new("g1");
            let share = ContentSharingSessionId::new("7e1b4346");
            let op = OperationId::new("op-9");
            let transfer: TransferRequest = serde_json::from_value(json!({
                "transferTarget": {"identity": {"user": {"id": "550fae72-d251-43ec-868c-373732c2704f"}}}
            }))
            .unwrap();
            let status: UpdateRecordingStatusRequest =
                serde_json::from_value(json!({"clientContext": "c", "status": "recording"}))
                    .unwrap();
            let role: ChangeScreenSharingRoleRequest =
                serde_json::from_value(json!({"role": "viewer"})).unwrap();

            // Outcomes are irrelevant here (the fake answers `{}`); only what was sent is checked.
            client.get_call(&call).await.ok();
            client.delete_call(&call).await.ok();
            client
                .redirect(&call, &RedirectRequest::default())
                .await
                .ok();
            client.transfer(&call, &transfer).await.ok();
            client.mute_self(&call, &MuteRequest::new("c")).await.ok();
            client
                .unmute_self(&call, &UnmuteRequest::new("c"))
                .await
                .ok();
            client.change_screen_sharing_role(&call, &role).await.ok();
            client.update_recording_status(&call, &status).await.ok();
            client
                .add_large_gallery_view(&call, &Default::default())
                .await
                .ok();
            client.get_participant(&call, &p).await.ok();
            client
                .invite_participants(&call, &InviteParticipantsRequest::default())
                .await
                .ok();
            client.delete_participant(&call, &p).await.ok();
            client
                .mute_all(&call, &MuteAllRequest::default())
                .await
                .ok();
            client
                .stop_hold_music(&call, &p, &StopHoldMusicRequest::new("c"))
                .await
                .ok();
            client.list_audio_routing_groups(&call).await.ok();
            client.list_content_sharing_sessions(&call).await.ok();
            client.get_content_sharing_session(&call, &share).await.ok();
            client.get_operation(&call, &op).await.ok();
            client.delete_audio_routing_group(&call, &group).await.ok();

            let c = format!("{root}/{CALL_ID}");
            let expected = [
                (Method::GET, c.clone()),
                (Method::DELETE, c.clone()),
                (Method::POST, format!("{c}/redirect")),
                (Method::POST, format!("{c}/transfer")),
                (Method::POST, format!("{c}/mute")),
                (Method::POST, format!("{c}/unmute")),
                (Method::POST, format!("{c}/changeScreenSharingRole")),
                (Method::POST, format!("{c}/updateRecordingStatus")),
                (Method::POST, format!("{c}/addLargeGalleryView")),
                (Method::GET, format!("{c}/participants/{PARTICIPANT}")),
                (Method::POST, format!("{c}/participants/invite")),
                (Method::DELETE, format!("{c}/participants/{PARTICIPANT}")),
                (Method::POST, format!("{c}/participants/muteAll")),
                (
                    Method::POST,
                    format!("{c}/participants/{PARTICIPANT}/stopHoldMusic"),
                ),
                (Method::GET, format!("{c}/audioRoutingGroups")),
                (Method::GET, format!("{c}/contentSharingSessions")),
                (Method::GET, format!("{c}/contentSharingSessions/7e1b4346")),
                (Method::GET, format!("{c}/operations/op-9")),
                (Method::DELETE, format!("{c}/audioRoutingGroups/g1")),
            ];
            let seen: Vec<(Method, String)> = h
                .graph
                .seen()
                .into_iter()
                .map(|s| (s.method, s.path))
                .collect();
            assert_eq!(seen, expected, "{root}");
            let bodies = h.graph.seen();
            assert_eq!(body_json(&bodies[6]), json!({"role": "viewer"}));
            assert_eq!(
                body_json(&bodies[7]),
                json!({"clientContext": "c", "status": "recording"})
            );
        }
    }
}
