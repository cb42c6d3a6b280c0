//! Callback delivery: one ordered outbox per call, RS256-signed posts, retries, the delivery log.
//!
//! Every call owns an unbounded queue drained by its own task, so notifications of one call are
//! posted strictly in the order the simulator produced them (unless a reorder fault swaps a pair),
//! one at a time. A post that gets a 5xx or a transport error is retried with doubling backoff up
//! to [`SimTimings::delivery_max_attempts`](crate::SimTimings::delivery_max_attempts); a 4xx (e.g.
//! `401` to a forged token) is final. Every finished post is appended to the delivery log and
//! broadcast as [`SimEvent::NotificationDelivered`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use uuid::Uuid;

use mediabot_signaling::models::{CallChainId, CallId, CommsNotifications, TenantId};

use crate::engine::Shared;
use crate::events::{DeliveryOutcome, DeliveryRecord};
use crate::faults::Quirks;

/// Issuer of callback tokens (reference §3.2).
pub(crate) const CALLBACK_ISSUER: &str = "https://api.botframework.com";
/// `User-Agent` of Graph's callback posts (reference §3.1).
const USER_AGENT: &str = "Microsoft-Skype/3.0,(Calling/1.0)";
/// Lifetime of a callback token (the documented example spans 3900 s).
const CALLBACK_TOKEN_LIFETIME_SECS: u64 = 3900;

/// One notification batch waiting in a call's outbox.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) call_id: CallId,
    pub(crate) callback_uri: String,
    pub(crate) tenant_id: TenantId,
    pub(crate) chain_id: CallChainId,
    pub(crate) scenario_id: Uuid,
    pub(crate) notifications: CommsNotifications,
    pub(crate) body: String,
    pub(crate) delay: Option<Duration>,
    pub(crate) duplicate: bool,
    pub(crate) reorder: bool,
    pub(crate) forged: bool,
}

#[derive(Serialize)]
struct CallbackClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
    tid: &'a str,
}

/// The wire JSON of a notification batch, with the quirks applied.
pub(crate) fn wire_body(notifications: &CommsNotifications, quirks: Quirks) -> String {
    let mut value = match serde_json::to_value(notifications) {
        Ok(value) => value,
        // The models serialize infallibly (no maps with non-string keys); keep an empty batch if not.
        Err(_) => {
            return r##"{"@odata.type":"#microsoft.graph.commsNotifications","value":[]}"##
                .to_owned();
        }
    };
    if let Some(items) = value.get_mut("value").and_then(Value::as_array_mut) {
        for item in items {
            apply_item_quirks(item, quirks);
        }
    }
    apply_value_quirks(&mut value, quirks);
    value.to_string()
}

fn apply_item_quirks(item: &mut Value, quirks: Quirks) {
    let Some(object) = item.as_object_mut() else {
        return;
    };
    let url = object
        .get("resourceUrl")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(url) = url {
        if quirks.legacy_resource || quirks.legacy_resource_only {
            let legacy = url.replacen("/communications/calls/", "/app/calls/", 1);
            object.insert("resource".to_owned(), Value::String(legacy));
        }
        if quirks.legacy_resource_only {
            object.remove("resourceUrl");
        } else if quirks.resource_url_without_leading_slash {
            object.insert(
                "resourceUrl".to_owned(),
                Value::String(url.trim_start_matches('/').to_owned()),
            );
        }
    }
}

/// Quirks inside any JSON value (notification bodies and REST responses): result codes and
/// operation status spelling.
pub(crate) fn apply_value_quirks(value: &mut Value, quirks: Quirks) {
    match value {
        Value::Object(object) => {
            if quirks.running_capitalized
                && object.get("status").and_then(Value::as_str) == Some("running")
                && object
                    .get("@odata.type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with("Operation"))
            {
                object.insert("status".to_owned(), Value::String("Running".to_owned()));
            }
            if let Some(result) = object.get_mut("resultInfo").and_then(Value::as_object_mut) {
                if quirks.string_codes {
                    for key in ["code", "subcode"] {
                        if let Some(number) = result.get(key).and_then(Value::as_i64) {
                            result.insert(key.to_owned(), Value::String(number.to_string()));
                        }
                    }
                }
                if quirks.sub_code_key
                    && let Some(subcode) = result.remove("subcode")
                {
                    result.insert("subCode".to_owned(), subcode);
                }
            }
            for child in object.values_mut() {
                apply_value_quirks(child, quirks);
            }
        }
        Value::Array(items) => {
            for child in items {
                apply_value_quirks(child, quirks);
            }
        }
        _ => {}
    }
}

/// Drains one call's outbox until the call ends and the queue is empty.
pub(crate) async fn run_outbox(shared: Arc<Shared>, mut outbox: mpsc::UnboundedReceiver<Outgoing>) {
    while let Some(item) = outbox.recv().await {
        if item.reorder {
            let window = shared.config.timings.reorder_window;
            match tokio::time::timeout(window, outbox.recv()).await {
                Ok(Some(next)) => {
                    deliver(&shared, next).await;
                    deliver(&shared, item).await;
                }
                _ => deliver(&shared, item).await,
            }
        } else {
            deliver(&shared, item).await;
        }
    }
}

async fn deliver(shared: &Arc<Shared>, item: Outgoing) {
    if let Some(delay) = item.delay {
        tokio::time::sleep(delay).await;
    }
    post(shared, &item).await;
    if item.duplicate {
        post(shared, &item).await;
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

async fn post(shared: &Arc<Shared>, item: &Outgoing) {
    let timings = &shared.config.timings;
    let max_attempts = timings.delivery_max_attempts.max(1);
    let mut attempts = 0;
    let outcome = loop {
        attempts += 1;
        let now = unix_now();
        let claims = CallbackClaims {
            aud: shared.config.app_id.as_str(),
            iss: CALLBACK_ISSUER,
            iat: now,
            nbf: now,
            exp: now + CALLBACK_TOKEN_LIFETIME_SECS,
            tid: item.tenant_id.as_str(),
        };
        let keys = &shared.keys;
        let signed = if item.forged {
            keys.token.sign_as(&claims, keys.callback.kid())
        } else {
            keys.callback.sign(&claims)
        };
        let token = match signed {
            Ok(token) => token,
            Err(error) => {
                break DeliveryOutcome::Failed {
                    last_error: error.to_string(),
                };
            }
        };
        let result = shared
            .http
            .post(&item.callback_uri)
            .bearer_auth(token)
            .header("X-Microsoft-Skype-Chain-ID", item.chain_id.as_str())
            .header("Scenario-ID", item.scenario_id.to_string())
            .header("X-Microsoft-Skype-Message-ID", Uuid::new_v4().to_string())
            .header(http::header::USER_AGENT, USER_AGENT)
            .header(
                http::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(item.body.clone())
            .send()
            .await;
        let last_error = match result {
            Ok(response) if response.status().is_success() => {
                break DeliveryOutcome::Delivered {
                    status: response.status().as_u16(),
                };
            }
            Ok(response) if !response.status().is_server_error() => {
                break DeliveryOutcome::Rejected {
                    status: response.status().as_u16(),
                };
            }
            Ok(response) => format!("HTTP {}", response.status().as_u16()),
            Err(error) => error.to_string(),
        };
        if attempts >= max_attempts {
            break DeliveryOutcome::Failed { last_error };
        }
        let backoff = timings
            .delivery_retry_base
            .saturating_mul(1 << (attempts - 1).min(10));
        tracing::debug!(call = %item.call_id, attempts, %last_error, "callback failed; retrying");
        tokio::time::sleep(backoff).await;
    };
    let record = DeliveryRecord {
        seq: shared.delivery_seq.fetch_add(1, Ordering::Relaxed) + 1,
        call_id: item.call_id.clone(),
        callback_uri: item.callback_uri.clone(),
        notifications: item.notifications.clone(),
        body: item.body.clone(),
        attempts,
        forged: item.forged,
        outcome,
        finished_at: SystemTime::now(),
    };
    shared.record_delivery(record);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quirks_rewrite_codes_status_and_resource_urls() {
        let notifications: CommsNotifications = serde_json::from_str(
            r##"{"value":[{"changeType":"deleted","resourceUrl":"/communications/calls/c1",
              "resourceData":{"@odata.type":"#microsoft.graph.call","state":"terminated",
              "resultInfo":{"code":200,"subcode":5001,"message":"ended"}}},
              {"changeType":"deleted","resourceUrl":"/communications/calls/c1/operations/o1",
              "resourceData":{"@odata.type":"#microsoft.graph.inviteParticipantsOperation","status":"running"}}]}"##,
        )
        .unwrap();
        let plain = wire_body(&notifications, Quirks::default());
        assert!(plain.contains(r#""code":200"#) && plain.contains(r#""subcode":5001"#));
        let quirky = wire_body(
            &notifications,
            Quirks {
                string_codes: true,
                sub_code_key: true,
                running_capitalized: true,
                resource_url_without_leading_slash: true,
                legacy_resource: true,
                ..Quirks::default()
            },
        );
        assert!(quirky.contains(r#""code":"200""#), "{quirky}");
        assert!(quirky.contains(r#""subCode":"5001""#), "{quirky}");
        assert!(quirky.contains(r#""status":"Running""#), "{quirky}");
        assert!(
            quirky.contains(r#""resourceUrl":"communications/calls/c1""#),
            "{quirky}"
        );
        assert!(quirky.contains(r#""resource":"/app/calls/c1""#), "{quirky}");
        // The bot-side models read the quirky form back to the same typed values.
        let reparsed: CommsNotifications = serde_json::from_str(&quirky).unwrap();
        assert_eq!(
            reparsed.value[0].resource_data,
            notifications.value[0].resource_data
        );
        let legacy_only = wire_body(
            &notifications,
            Quirks {
                legacy_resource_only: true,
                ..Quirks::default()
            },
        );
        assert!(!legacy_only.contains("resourceUrl"), "{legacy_only}");
    }
}
