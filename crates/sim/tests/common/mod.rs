//! Shared harness: the simulator, the REAL signaling client and the REAL webhook on loopback.

#![allow(dead_code, unreachable_pub, missing_docs)] // reason: a test-only helper module; each test binary uses a different subset

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mediabot_signaling::auth::{Secret, SystemClock, TokenClientConfig, TokenProvider};
use mediabot_signaling::client::{GraphClient, GraphClientConfig, RetryPolicy};
use mediabot_signaling::join_url::parse_join_url;
use mediabot_signaling::models::{
    AudioRoutingGroup, Call, CallId, CallState, ChangeType, CommsNotification, MediaConfig,
    Modality, OutgoingCallOptions, ParticipantId, ResourceData,
};
use mediabot_signaling::webhook::{
    CallbackAuthConfig, CallbackAuthenticator, CallbackDelivery, OpenIdKeySource, Webhook,
    WebhookConfig,
};
use mediabot_sim::{
    MediaAttach, MediaProcessor, MediaRejected, SimConfig, SimHandle, SimParticipant, Simulator,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The blob the tests send (the simulator passes it through to the media processor untouched).
pub const BLOB: &str =
    r#"{"mpUri":"net.tcp://127.0.0.1:18732/MediaProcessor","supportedAudioFormat":"Pcm16K"}"#;

/// How long any single expected event may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// What a [`RecordingMedia`] was told, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCall {
    Attach {
        call: CallId,
        blob: String,
        participants: Vec<String>,
    },
    Joined(CallId, String),
    Left(CallId, ParticipantId),
    Speaking(CallId, ParticipantId, bool),
    Muted(CallId, ParticipantId, bool),
    Routing(CallId, Vec<AudioRoutingGroup>),
    Detach(CallId),
}

/// A media processor that records the seam calls; it can be told to refuse attaches.
#[derive(Debug, Default)]
pub struct RecordingMedia {
    pub calls: Mutex<Vec<MediaCall>>,
    pub refuse: Mutex<Option<String>>,
    pub notify: tokio::sync::Notify,
}

impl RecordingMedia {
    fn push(&self, call: MediaCall) {
        self.calls.lock().unwrap().push(call);
        self.notify.notify_waiters();
    }

    pub fn snapshot(&self) -> Vec<MediaCall> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until a recorded call satisfies `pred`.
    pub async fn wait_for(&self, pred: impl Fn(&MediaCall) -> bool) -> MediaCall {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let notified = self.notify.notified();
                if let Some(found) = self.snapshot().into_iter().find(|c| pred(c)) {
                    return found;
                }
                notified.await;
            }
        })
        .await
        .expect("media call did not happen in time")
    }
}

impl MediaProcessor for RecordingMedia {
    fn attach(&self, attach: &MediaAttach) -> Result<(), MediaRejected> {
        if let Some(reason) = self.refuse.lock().unwrap().clone() {
            return Err(MediaRejected::new(reason));
        }
        self.push(MediaCall::Attach {
            call: attach.call_id.clone(),
            blob: attach.blob.clone(),
            participants: attach.participants.iter().map(|p| p.key.clone()).collect(),
        });
        Ok(())
    }
    fn participant_joined(&self, call: &CallId, participant: &SimParticipant) {
        self.push(MediaCall::Joined(call.clone(), participant.key.clone()));
    }
    fn participant_left(&self, call: &CallId, participant: &ParticipantId) {
        self.push(MediaCall::Left(call.clone(), participant.clone()));
    }
    fn participant_speaking(&self, call: &CallId, participant: &ParticipantId, speaking: bool) {
        self.push(MediaCall::Speaking(
            call.clone(),
            participant.clone(),
            speaking,
        ));
    }
    fn participant_muted(&self, call: &CallId, participant: &ParticipantId, muted: bool) {
        self.push(MediaCall::Muted(call.clone(), participant.clone(), muted));
    }
    fn routing_changed(&self, call: &CallId, groups: &[AudioRoutingGroup]) {
        self.push(MediaCall::Routing(call.clone(), groups.to_vec()));
    }
    fn detach(&self, call: &CallId) {
        self.push(MediaCall::Detach(call.clone()));
    }
}

/// The simulator plus a bot made of the real signaling pieces.
pub struct Harness {
    pub sim: SimHandle,
    pub media: Arc<RecordingMedia>,
    pub tokens: Arc<TokenProvider>,
    pub client: GraphClient,
    pub webhook: Webhook,
    pub callback_uri: String,
    deliveries: mpsc::Receiver<CallbackDelivery>,
    pending: VecDeque<(CommsNotification, CallbackDelivery)>,
}

pub fn token_config(sim: &SimHandle, secret: &str) -> TokenClientConfig {
    let mut config = TokenClientConfig::new(sim.app_id().as_str(), Secret::new(secret));
    config.authority = sim.authority_url();
    config
}

pub fn graph_config(sim: &SimHandle) -> GraphClientConfig {
    let mut config = GraphClientConfig::new(sim.tenant_id().as_str());
    config.base_url = sim.graph_base_url();
    config.retry = RetryPolicy {
        max_attempts: 5,
        max_total_delay: Duration::from_secs(5),
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    };
    config
}

impl Harness {
    pub async fn start(config: SimConfig) -> Self {
        let media = Arc::new(RecordingMedia::default());
        let sim = Simulator::start_with_media(config, media.clone())
            .await
            .unwrap();
        let tokens = Arc::new(TokenProvider::new(token_config(&sim, sim.client_secret())).unwrap());
        let client = GraphClient::new(graph_config(&sim), tokens.clone()).unwrap();
        let source = OpenIdKeySource::new(sim.openid_configuration_url()).unwrap();
        let authenticator = CallbackAuthenticator::new(
            CallbackAuthConfig::new(sim.app_id().as_str()),
            Arc::new(source),
            Arc::new(SystemClock),
        );
        let (sender, deliveries) = mpsc::channel(512);
        let webhook = Webhook::new(
            WebhookConfig::default(),
            Arc::new(authenticator),
            Arc::new(SystemClock),
            sender,
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = webhook.router();
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            callback_uri: format!("http://{addr}/api/calling"),
            sim,
            media,
            tokens,
            client,
            webhook,
            deliveries,
            pending: VecDeque::new(),
        }
    }

    /// A join request for a meeting's long join URL, app-hosted media with [`BLOB`].
    pub fn join_request(&self, meeting: &str) -> Call {
        let join_url = self.sim.meeting(meeting).unwrap().join_url;
        let mut call = Call {
            callback_uri: Some(self.callback_uri.clone()),
            requested_modalities: vec![Modality::Audio],
            media_config: Some(MediaConfig::app_hosted(BLOB)),
            ..Call::default()
        };
        parse_join_url(&join_url).unwrap().apply_to(&mut call, None);
        call
    }

    pub fn delta_join_request(&self, meeting: &str) -> Call {
        Call {
            call_options: Some(OutgoingCallOptions {
                is_delta_roster_enabled: Some(true),
                ..OutgoingCallOptions::default()
            }),
            ..self.join_request(meeting)
        }
    }

    /// Joins and returns the call id once `established` has reached the webhook.
    pub async fn join_established(&mut self, meeting: &str) -> CallId {
        let created = self
            .client
            .create_call(&self.join_request(meeting))
            .await
            .unwrap();
        let id = created.body.id.unwrap();
        self.expect_state(&id, CallState::Established).await;
        id
    }

    /// The next notification the real webhook accepted (batches are flattened).
    pub async fn next(&mut self) -> (CommsNotification, CallbackDelivery) {
        if let Some(item) = self.pending.pop_front() {
            return item;
        }
        let delivery = tokio::time::timeout(PATIENCE, self.deliveries.recv())
            .await
            .expect("no notification in time")
            .expect("webhook channel closed");
        for n in delivery.notifications.value.clone() {
            self.pending.push_back((n, delivery.clone()));
        }
        Box::pin(self.next()).await
    }

    /// Skips notifications until one satisfies `pred`.
    pub async fn until(
        &mut self,
        pred: impl Fn(&CommsNotification) -> bool,
    ) -> (CommsNotification, CallbackDelivery) {
        loop {
            let item = self.next().await;
            if pred(&item.0) {
                return item;
            }
        }
    }

    /// Skips notifications until a call-state notification of `call` with `state`.
    pub async fn expect_state(&mut self, call: &CallId, state: CallState) -> CommsNotification {
        let call = call.clone();
        self.until(move |n| {
            n.call_id().ok().as_ref() == Some(&call)
                && matches!(&n.resource_data, ResourceData::Call(c) if c.state.as_ref() == Some(&state))
        })
        .await
        .0
    }

    /// Skips notifications until a roster notification of `call`.
    pub async fn expect_roster(&mut self, call: &CallId) -> CommsNotification {
        let call = call.clone();
        self.until(move |n| {
            n.call_id().ok().as_ref() == Some(&call)
                && matches!(
                    n.resource_data,
                    ResourceData::Participants(_) | ResourceData::DeltaParticipants(_)
                )
        })
        .await
        .0
    }

    /// The call-state notifications of `call`, in arrival order, until `terminated`.
    pub async fn states_until_terminated(&mut self, call: &CallId) -> Vec<(ChangeType, CallState)> {
        let mut states = Vec::new();
        loop {
            let (n, _) = self.next().await;
            if n.call_id().ok().as_ref() != Some(call) {
                continue;
            }
            if let ResourceData::Call(c) = &n.resource_data
                && let Some(state) = &c.state
            {
                states.push((n.change_type.clone(), state.clone()));
                if *state == CallState::Terminated {
                    return states;
                }
            }
        }
    }
}
