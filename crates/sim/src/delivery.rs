//! Callback delivery: one ordered outbox per call, RS256-signed posts, retries, the delivery log.
//!
//! Every call owns an unbounded queue drained by its own task, so notifications of one call are
//! posted strictly in the order the simulator produced them (unless a reorder fault swaps a pair),
//! one at a time. A post that gets a 5xx or a transport error is retried with doubling backoff up
//! to [`SimTimings::delivery_max_attempts`](crate::SimTimings::delivery_max_attempts); a 4xx (e.g.
//! `401` to a forged token) is final. Every finished post is appended to the delivery log and
//! broadcast as [`SimEvent::NotificationDelivered`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use mediabot_signaling::models::AppId;

use crate::config::SimTimings;
use crate::events::{DeliveryOutcome, DeliveryRecord, SimEvent};
use crate::keys::Keys;
use crate::wire::Outgoing;

/// Issuer of callback tokens (reference §3.2).
pub(crate) const CALLBACK_ISSUER: &str = "https://api.botframework.com";
/// `User-Agent` of Graph's callback posts (reference §3.1).
const USER_AGENT: &str = "Microsoft-Skype/3.0,(Calling/1.0)";
/// Lifetime of a callback token (the documented example spans 3900 s).
const CALLBACK_TOKEN_LIFETIME_SECS: u64 = 3900;

#[derive(Serialize)]
struct CallbackClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
    tid: &'a str,
}

/// What every call's delivery task needs: whom callbacks are for, how to sign and post them, and
/// the delivery log they end up in. One per simulator, shared by the tasks.
pub(crate) struct Courier {
    app_id: AppId,
    timings: SimTimings,
    keys: Arc<Keys>,
    http: reqwest::Client,
    events: broadcast::Sender<SimEvent>,
    seq: AtomicU64,
    log: Mutex<Vec<DeliveryRecord>>,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl Courier {
    /// Signs callbacks for `app_id` with `keys`, posts them with `http` and broadcasts each
    /// finished post on `events`.
    pub(crate) fn new(
        app_id: AppId,
        timings: SimTimings,
        keys: Arc<Keys>,
        http: reqwest::Client,
        events: broadcast::Sender<SimEvent>,
    ) -> Self {
        Self {
            app_id,
            timings,
            keys,
            http,
            events,
            seq: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
        }
    }

    /// Every finished post so far, in completion order.
    pub(crate) fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.lock_log().clone()
    }

    fn lock_log(&self) -> std::sync::MutexGuard<'_, Vec<DeliveryRecord>> {
        // A poisoned log only means a panic elsewhere; the records themselves are whole.
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record(&self, record: DeliveryRecord) {
        self.lock_log().push(record.clone());
        // No subscribers is fine.
        let _ = self
            .events
            .send(SimEvent::NotificationDelivered(Box::new(record)));
    }
}

/// Drains one call's outbox until the call ends and the queue is empty.
pub(crate) async fn run_outbox(
    courier: Arc<Courier>,
    mut outbox: mpsc::UnboundedReceiver<Outgoing>,
) {
    while let Some(item) = outbox.recv().await {
        if item.reorder {
            let window = courier.timings.reorder_window;
            match tokio::time::timeout(window, outbox.recv()).await {
                Ok(Some(next)) => {
                    deliver(&courier, next).await;
                    deliver(&courier, item).await;
                }
                _ => deliver(&courier, item).await,
            }
        } else {
            deliver(&courier, item).await;
        }
    }
}

async fn deliver(courier: &Courier, item: Outgoing) {
    if let Some(delay) = item.delay {
        tokio::time::sleep(delay).await;
    }
    post(courier, &item).await;
    if item.duplicate {
        post(courier, &item).await;
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

async fn post(courier: &Courier, item: &Outgoing) {
    let timings = &courier.timings;
    let max_attempts = timings.delivery_max_attempts.max(1);
    let mut attempts = 0;
    let outcome = loop {
        attempts += 1;
        let now = unix_now();
        let claims = CallbackClaims {
            aud: courier.app_id.as_str(),
            iss: CALLBACK_ISSUER,
            iat: now,
            nbf: now,
            exp: now + CALLBACK_TOKEN_LIFETIME_SECS,
            tid: item.tenant_id.as_str(),
        };
        let keys = &courier.keys;
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
        let result = courier
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
        seq: courier.seq.fetch_add(1, Ordering::Relaxed) + 1,
        call_id: item.call_id.clone(),
        callback_uri: item.callback_uri.clone(),
        notifications: item.notifications.clone(),
        body: item.body.clone(),
        attempts,
        forged: item.forged,
        outcome,
        finished_at: SystemTime::now(),
    };
    courier.record(record);
}
