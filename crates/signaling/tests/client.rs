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
use mediabot_signaling::auth::{Secret, TokenClientConfig, TokenProvider};
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
