//! Starting the simulator and controlling it: [`Simulator`] and [`SimHandle`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use url::Url;

use mediabot_signaling::models::{
    AppId, Call, CallDirection, CallId, CallState, ChangeType, InvitationParticipantInfo, Modality,
    ParticipantInfo, ResultInfo, TenantId,
};

use crate::config::SimConfig;
use crate::engine::{NewCall, Shared};
use crate::error::SimError;
use crate::events::{DeliveryRecord, SimEvent};
use crate::faults::{FaultRule, Quirks};
use crate::graph::{add_conversation, check_callback_uri, default_bot_identity, graph_handler};
use crate::identity::{JWKS_PATH, OPENID_PATH, jwks_handler, openid_handler, token_handler};
use crate::media_seam::{MediaProcessor, NoopMediaProcessor};
use crate::scenario::{MeetingSpec, ParticipantSpec, TimelineAction};
use crate::snapshot::{CallSnapshot, MeetingSnapshot};
use crate::state::Member;

/// Starts simulators.
#[derive(Debug, Clone, Copy)]
pub struct Simulator;

impl Simulator {
    /// Starts a simulator with the no-op media processor.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        Self::start_with_media(config, Arc::new(NoopMediaProcessor)).await
    }

    /// Starts a simulator that drives `media` (see [`media_seam`](crate::media_seam)).
    pub async fn start_with_media(
        config: SimConfig,
        media: Arc<dyn MediaProcessor>,
    ) -> Result<SimHandle, SimError> {
        let addr = config.bind;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr, source })?;
        let base_url = Url::parse(&format!("http://{local_addr}/"))
            .map_err(|e| SimError::InvalidCallbackUri(e.to_string()))?;
        // RSA key generation takes tens of milliseconds of CPU: keep it off the async workers.
        let shared = tokio::task::spawn_blocking(move || Shared::new(config, base_url, media))
            .await
            .map_err(|e| SimError::Key(format!("key generation task failed: {e}")))??;
        let shared = Arc::new(shared);
        let router = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token_handler))
            .route(OPENID_PATH, get(openid_handler))
            .route(JWKS_PATH, get(jwks_handler))
            .fallback(graph_handler)
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = result {
                tracing::warn!(%error, "simulator server stopped");
            }
        });
        tracing::info!(%local_addr, "Graph simulator listening");
        Ok(SimHandle {
            shared,
            local_addr,
            stop: Some(stop),
            server,
        })
    }
}

/// An incoming call to place to the bot ([`SimHandle::place_incoming_call`]).
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingCall {
    /// The bot's calling webhook (the "Webhook (for calling)" of the bot registration).
    pub callback_uri: String,
    /// Who calls (their audio is what the bot hears in a peer-to-peer call).
    pub caller: ParticipantSpec,
    /// Invite the bot into this meeting (by key) instead of a peer-to-peer call; the notification
    /// then carries the meeting's `chatInfo` and `meetingInfo`.
    pub meeting: Option<String>,
    /// Tenant of a peer-to-peer call; the simulator's tenant when `None`.
    pub tenant_id: Option<TenantId>,
}

impl IncomingCall {
    /// A peer-to-peer call from `caller`.
    pub fn peer_to_peer(callback_uri: impl Into<String>, caller: ParticipantSpec) -> Self {
        Self {
            callback_uri: callback_uri.into(),
            caller,
            meeting: None,
            tenant_id: None,
        }
    }
}

/// A running simulator. Dropping it stops the HTTP server; timers end with it.
#[derive(Debug)]
pub struct SimHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.abort();
        // Each delivery task runs until its queue closes, and the queues live in the shared state
        // that running timers may still hold: closing them lets the tasks drain and end, so
        // nothing outlives the handle.
        for call in &mut self.shared.world().calls {
            call.outbox = None;
        }
    }
}

impl SimHandle {
    /// The socket the simulator listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://127.0.0.1:<port>/`: the Graph base URL (`GraphClientConfig::base_url`; the client
    /// appends `/v1.0` or `/beta`).
    pub fn graph_base_url(&self) -> Url {
        self.shared.base_url.clone()
    }

    /// The identity authority (`TokenClientConfig::authority`); tokens are at
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn authority_url(&self) -> Url {
        self.shared.base_url.clone()
    }

    /// The token URL for `tenant`.
    pub fn token_url(&self, tenant: &str) -> Url {
        self.url(&format!("{tenant}/oauth2/v2.0/token"))
    }

    /// The OpenID configuration that names the callback JWKS (`OpenIdKeySource::new`).
    pub fn openid_configuration_url(&self) -> Url {
        self.url(OPENID_PATH.trim_start_matches('/'))
    }

    /// The JWKS with the callback signing key.
    pub fn jwks_url(&self) -> Url {
        self.url(JWKS_PATH.trim_start_matches('/'))
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.shared.base_url.clone();
        url.set_path(path);
        url
    }

    /// The bot app id the simulator accepts.
    pub fn app_id(&self) -> &AppId {
        &self.shared.config.app_id
    }

    /// The client secret the token endpoint accepts.
    pub fn client_secret(&self) -> &str {
        &self.shared.config.client_secret
    }

    /// The simulator's default tenant.
    pub fn tenant_id(&self) -> &TenantId {
        &self.shared.config.tenant_id
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Subscribes to [`SimEvent`]s (subscribe *before* triggering what you wait for).
    pub fn subscribe(&self) -> broadcast::Receiver<SimEvent> {
        self.shared.events.subscribe()
    }

    /// Every meeting (scenario, added, and the ad-hoc conversations of group/P2P calls).
    pub fn meetings(&self) -> Vec<MeetingSnapshot> {
        self.shared
            .world()
            .meetings
            .iter()
            .map(|m| m.snapshot())
            .collect()
    }

    /// One meeting by key.
    pub fn meeting(&self, key: &str) -> Option<MeetingSnapshot> {
        let world = self.shared.world();
        world
            .meeting_by_key(key)
            .map(|m| world.meetings[m].snapshot())
    }

    /// Registers a meeting at run time (checked with [`MeetingSpec::validate`]; a crowd's MSIs
    /// avoid every MSI in use, and a listed MSI already in use is replaced by a free one).
    pub fn add_meeting(&self, spec: MeetingSpec) -> Result<MeetingSnapshot, SimError> {
        spec.validate()?;
        let mut world = self.shared.world();
        let index = world
            .add_meeting(&spec, &self.shared.config.tenant_id)
            .map_err(|key| SimError::ScenarioInvalid(format!("meeting key {key:?} exists")))?;
        Ok(world.meetings[index].snapshot())
    }

    /// Applies a participant action now (same effect as a timeline entry).
    pub fn participant_action(
        &self,
        meeting: &str,
        participant: &str,
        action: TimelineAction,
    ) -> Result<(), SimError> {
        self.shared.apply_action(meeting, participant, action)
    }

    /// Moves a meeting's crowd now, in one roster change (same effect as a `crowd_churn` entry):
    /// the `leave` lowest-numbered present crowd members leave and the `join` lowest-numbered
    /// absent ones join. Reported as [`SimEvent::CrowdChurned`] with the numbers that moved.
    pub fn crowd_churn(&self, meeting: &str, leave: u32, join: u32) -> Result<(), SimError> {
        self.shared.apply_churn(meeting, leave, join)
    }

    /// Every call, including ended ones, in creation order.
    pub fn calls(&self) -> Vec<CallSnapshot> {
        let world = self.shared.world();
        (0..world.calls.len())
            .map(|i| world.call_snapshot(i))
            .collect()
    }

    /// One call.
    pub fn call(&self, id: &CallId) -> Option<CallSnapshot> {
        let world = self.shared.world();
        world.call(id).map(|i| world.call_snapshot(i))
    }

    /// Every finished notification post, in completion order.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.deliveries()
    }

    /// The finished posts of one call.
    pub fn deliveries_for(&self, call: &CallId) -> Vec<DeliveryRecord> {
        self.shared
            .deliveries()
            .into_iter()
            .filter(|d| d.call_id == *call)
            .collect()
    }

    /// Arms a fault.
    pub fn inject_fault(&self, rule: FaultRule) {
        self.shared.world().faults.push(rule);
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.shared.world().faults.clear();
    }

    /// Armed faults with their remaining counts.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.shared.world().faults.clone()
    }

    /// Switches quirks for everything sent from now on.
    pub fn set_quirks(&self, quirks: Quirks) {
        self.shared.world().quirks = quirks;
    }

    /// The current quirks.
    pub fn quirks(&self) -> Quirks {
        self.shared.world().quirks
    }

    /// Ends a live call from the service side (meeting ended, media failure…) with `result`.
    pub fn end_call(&self, call: &CallId, result: ResultInfo) -> Result<(), SimError> {
        if self.shared.terminate(call, Some(result)) {
            Ok(())
        } else {
            Err(SimError::UnknownCall(call.to_string()))
        }
    }

    /// Places an incoming call to the bot: posts the `created` notification (state `incoming`)
    /// and arms the answer deadline ([`SimTimings::answer_deadline`](crate::SimTimings)); an
    /// unanswered call ends with `408/1106`.
    pub fn place_incoming_call(&self, incoming: IncomingCall) -> Result<CallId, SimError> {
        check_callback_uri(&self.shared.config, &incoming.callback_uri)
            .map_err(|failure| SimError::InvalidCallbackUri(failure.message))?;
        let shared = &self.shared;
        let mut world = shared.world();
        let (meeting, tenant) = match &incoming.meeting {
            Some(key) => {
                let meeting = world
                    .meeting_by_key(key)
                    .ok_or_else(|| SimError::UnknownMeeting(key.clone()))?;
                let tenant = world.meetings[meeting].tenant_id.clone();
                (meeting, tenant)
            }
            None => {
                let tenant = incoming
                    .tenant_id
                    .clone()
                    .unwrap_or_else(|| shared.config.tenant_id.clone());
                (add_conversation(&mut world, &tenant, &[], true), tenant)
            }
        };
        let caller = world.sim_participant(&incoming.caller, &tenant);
        if incoming.meeting.is_none() {
            world.meetings[meeting].members.push(Member {
                sim: caller.clone(),
                present: true,
                speaking: false,
            });
        }
        let bot_identity = default_bot_identity(&shared.config);
        let (chat_info, meeting_info) = if incoming.meeting.is_some() {
            let m = &world.meetings[meeting];
            (Some(m.chat_info()), Some(m.organizer_meeting_info()))
        } else {
            (None, None)
        };
        let request = Call {
            direction: Some(CallDirection::Incoming),
            source: Some(ParticipantInfo {
                identity: Some(caller.identity.clone()),
                region: Some("westus".to_owned()),
                language_id: Some("en-US".to_owned()),
                ..ParticipantInfo::default()
            }),
            targets: vec![InvitationParticipantInfo::new(bot_identity.clone())],
            requested_modalities: vec![Modality::Audio],
            chat_info,
            meeting_info,
            ..Call::default()
        };
        let call = shared.insert_call(
            &mut world,
            NewCall {
                direction: CallDirection::Incoming,
                state: CallState::Incoming,
                callback_uri: incoming.callback_uri,
                tenant_id: tenant,
                meeting,
                request,
                bot_identity,
                blob: None,
                app_hosted: false,
                delta_roster: false,
                content_sharing_notifications: false,
            },
        );
        let view = world.call_view(call);
        let notification = world.call_notification(call, ChangeType::Created, view);
        world.enqueue(call, vec![notification]);
        let id = world.calls[call].id.clone();
        drop(world);
        shared.spawn_answer_deadline(id.clone());
        Ok(id)
    }

    /// Waits until `call` is in `state` (returns `true`) or `timeout` passes (`false`).
    /// Race-free: subscribes before looking at the current state.
    pub async fn wait_for_call_state(
        &self,
        call: &CallId,
        state: CallState,
        timeout: Duration,
    ) -> bool {
        let mut events = self.subscribe();
        if self.call(call).is_some_and(|c| c.state == state) {
            return true;
        }
        let wait = async {
            loop {
                match events.recv().await {
                    Ok(SimEvent::CallStateChanged { call_id, state: s })
                        if call_id == *call && s == state =>
                    {
                        return true;
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if self.call(call).is_some_and(|c| c.state == state) {
                            return true;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return false,
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    /// Stops the HTTP server.
    pub fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
