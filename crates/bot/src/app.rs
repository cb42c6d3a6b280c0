//! The running bot: one HTTP server (Graph callbacks, media answers, control API), the signaling
//! driver, and per call a media session and a recorder.
//!
//! ```text
//!  Graph/sim ──POST /api/calling──► webhook (JWT) ──► signaling driver (Endpoint) ──► events ──► App
//!  media processor ──POST /mp/{n}──► answer ──► MediaSession::accept_answer
//!  operator ──/control/…──► join, list, hang up
//! ```
//!
//! The event task is the only owner of per-call state (`CallSlot`s); HTTP handlers talk to it
//! through channels.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{Path as AxumPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use mediabot_media::frame::PcmFormat;
use mediabot_media::session::blob::{ReceiveMode, parse_answer};
use mediabot_media::session::{MediaSession, MediaSessionConfig};
use mediabot_media::thread::{AudioThreadConfig, ReceiveReport};
use mediabot_media::transport::{PublicAddress, PublicIpMode, TransportConfig};
use mediabot_signaling::auth::{SystemClock, TokenClientConfig, TokenProvider};
use mediabot_signaling::call::{CallConfig, CallEvent, EndCause, RequestId};
use mediabot_signaling::client::{GraphClient, GraphClientConfig};
use mediabot_signaling::driver::{self, DriverHandle};
use mediabot_signaling::endpoint::{Endpoint, EndpointEvent};
use mediabot_signaling::join_url::parse_join_url;
use mediabot_signaling::models::{
    AnswerRequest, Call as GraphCall, CallId, MediaConfig, Modality, ParticipantId, ResultInfo,
    TenantId,
};
use mediabot_signaling::webhook::{
    CallbackAuthConfig, CallbackAuthenticator, OpenIdKeySource, Webhook, WebhookConfig,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use url::Url;

use crate::config::BotConfig;
use crate::recorder::{Progress, Recorder};
use crate::routing::{RouteSpec, RouteView, RoutingCommand};

/// How to join a meeting.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JoinRequest {
    /// A Teams join URL (long `meetup-join` or short `/meet/` form).
    pub(crate) join_url: String,
}

/// What the bot reports about one finished call (written as `report.json`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallReport {
    pub(crate) call_id: String,
    pub(crate) join_url: String,
    /// Create-call request sent → first PCM frame received.
    pub(crate) join_latency_ms: Option<f64>,
    /// Create-call request sent → media connected (ICE + DTLS).
    pub(crate) media_connected_ms: Option<f64>,
    pub(crate) duration_seconds: f64,
    /// Latest round-trip time to the media processor, from its RTCP receiver reports.
    pub(crate) rtt_ms: Option<f64>,
    pub(crate) mixed_wav: Option<String>,
    pub(crate) participants: Vec<ParticipantReport>,
    pub(crate) end: EndReport,
}

/// One participant in the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ParticipantReport {
    pub(crate) id: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) msi: Option<u32>,
    pub(crate) ssrc: u32,
    pub(crate) wav: String,
    pub(crate) frames: u64,
    pub(crate) speaking_seconds: f64,
    pub(crate) packets: u64,
    pub(crate) lost: u64,
    pub(crate) late: u64,
    pub(crate) concealed_frames: u64,
    pub(crate) fec_recovered: u64,
    pub(crate) jitter_ms: f64,
}

/// How the call ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EndReport {
    pub(crate) cause: String,
    pub(crate) code: Option<i32>,
    pub(crate) subcode: Option<i32>,
    pub(crate) message: Option<String>,
}

/// Live view of a call, for progress displays and the control API.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallStatus {
    pub(crate) call_id: Option<String>,
    pub(crate) state: String,
    pub(crate) participants: Vec<String>,
    pub(crate) dominant_speaker: Option<String>,
    pub(crate) ended: bool,
    pub(crate) report: Option<PathBuf>,
}

/// What the bot should say in a call.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SpeakRequest {
    /// A sine tone of this frequency (Hz)…
    #[serde(default)]
    pub(crate) tone_hz: Option<f64>,
    /// …for this long.
    #[serde(default = "default_speak_seconds")]
    pub(crate) seconds: f64,
    /// Or a 16-bit PCM WAV file on the bot's machine.
    #[serde(default)]
    pub(crate) wav: Option<PathBuf>,
    /// Drop whatever is still queued first (barge-in).
    #[serde(default)]
    pub(crate) clear: bool,
}

fn default_speak_seconds() -> f64 {
    2.0
}

/// A change to, or a look at, a call's audio routes.
pub(crate) enum RouteOp {
    Upsert(String, RouteSpec),
    Remove(String),
    List,
}

/// The answer to a [`RouteOp`].
pub(crate) enum RouteAnswer {
    Done,
    Removed(bool),
    Routes(Vec<RouteView>),
}

enum AppCommand {
    Join(JoinRequest, oneshot::Sender<anyhow::Result<JoinTicket>>),
    Routes(
        String,
        RouteOp,
        oneshot::Sender<anyhow::Result<RouteAnswer>>,
    ),
    Speak(String, SpeakRequest, oneshot::Sender<anyhow::Result<()>>),
    Calls(oneshot::Sender<Vec<CallStatus>>),
    HangUp(String, oneshot::Sender<anyhow::Result<()>>),
    HangUpAll(oneshot::Sender<()>),
}

/// What a join returns: the request id and a way to watch the call.
pub(crate) struct JoinTicket {
    pub(crate) request_id: RequestId,
    pub(crate) status: watch::Receiver<CallStatus>,
    pub(crate) progress: Arc<std::sync::Mutex<Progress>>,
}

/// The running bot.
#[derive(Clone)]
pub(crate) struct App {
    commands: mpsc::Sender<AppCommand>,
    /// Where the HTTP server listens.
    pub(crate) local_addr: SocketAddr,
}

struct Shared {
    answers: std::sync::Mutex<HashMap<u64, oneshot::Sender<String>>>,
}

struct CallSlot {
    join_url: String,
    call_id: Option<CallId>,
    started: Instant,
    session: Option<MediaSession>,
    recorder: Option<Recorder>,
    progress: Arc<std::sync::Mutex<Progress>>,
    dir: PathBuf,
    media_connected: Option<Instant>,
    names: HashMap<ParticipantId, String>,
    msis: HashMap<u32, ParticipantId>,
    /// MSI → display name, shared with the speaker-event watcher.
    msi_names: Arc<std::sync::Mutex<HashMap<u32, String>>>,
    /// The call's routing task, once the bot's participant id is known.
    routes: Option<mpsc::Sender<RoutingCommand>>,
    /// The publishing side of the send-route table, until the routing task takes it.
    route_publisher: Option<mediabot_routing::RoutePublisher>,
    status: watch::Sender<CallStatus>,
}

impl App {
    /// Starts the HTTP server and the signaling driver.
    pub(crate) async fn start(config: BotConfig) -> anyhow::Result<App> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let local_addr = listener.local_addr()?;
        let base = config.public_base(local_addr);

        let secret = config
            .app_secret
            .clone()
            .context("no app secret configured")?;
        let mut token_config = TokenClientConfig::new(config.app_id.clone(), secret);
        token_config.authority = Url::parse(&config.authority_url).context("authority_url")?;
        let tokens = Arc::new(TokenProvider::new(token_config)?);
        let mut graph_config = GraphClientConfig::new(config.tenant_id.clone());
        graph_config.base_url = Url::parse(&config.graph_base_url).context("graph_base_url")?;
        let client = Arc::new(GraphClient::new(graph_config, tokens)?);

        let keys = Arc::new(OpenIdKeySource::new(
            Url::parse(&config.openid_configuration_url).context("openid_configuration_url")?,
        )?);
        let clock = Arc::new(SystemClock);
        let authenticator = Arc::new(CallbackAuthenticator::new(
            CallbackAuthConfig::new(config.app_id.clone()),
            keys,
            clock.clone(),
        ));
        let (delivery_tx, delivery_rx) = mpsc::channel(256);
        let webhook = Webhook::new(WebhookConfig::default(), authenticator, clock, delivery_tx);
        let call_config = CallConfig {
            keep_alive_interval: Duration::from_secs(config.keep_alive_seconds.max(1)),
            ..CallConfig::default()
        };
        let (driver, events, _driver_task) =
            driver::spawn(Endpoint::new(call_config), client.clone(), delivery_rx);

        let shared = Arc::new(Shared {
            answers: std::sync::Mutex::new(HashMap::new()),
        });
        let (commands, command_rx) = mpsc::channel(64);
        let app = App {
            commands,
            local_addr,
        };
        let router = Router::new()
            .route("/mp/{session}", post(media_answer))
            // An answer is at most MAX_BLOB_BYTES; refuse more before reading it.
            .layer(axum::extract::DefaultBodyLimit::max(
                mediabot_media::session::blob::MAX_BLOB_BYTES,
            ))
            .with_state(shared.clone())
            .merge(control_router(app.clone()))
            .merge(webhook.router());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                eprintln!("mediabot: HTTP server stopped: {e}");
            }
        });
        tokio::spawn(event_loop(
            config, base, driver, client, events, command_rx, shared,
        ));
        Ok(app)
    }

    /// Joins a meeting by its join URL.
    pub(crate) async fn join(&self, request: JoinRequest) -> anyhow::Result<JoinTicket> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(AppCommand::Join(request, tx))
            .await
            .map_err(|_| anyhow::anyhow!("the bot has stopped"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("the bot has stopped"))?
    }

    /// Hangs up one call by id.
    pub(crate) async fn hang_up(&self, call_id: String) -> anyhow::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(AppCommand::HangUp(call_id, tx))
            .await
            .map_err(|_| anyhow::anyhow!("the bot has stopped"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("the bot has stopped"))?
    }

    /// Makes the bot speak in a call (tone or WAV), optionally clearing queued audio first.
    pub(crate) async fn speak(&self, call_id: String, request: SpeakRequest) -> anyhow::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(AppCommand::Speak(call_id, request, tx))
            .await
            .map_err(|_| anyhow::anyhow!("the bot has stopped"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("the bot has stopped"))?
    }

    /// Changes or lists a call's audio routes.
    pub(crate) async fn routes(&self, call_id: String, op: RouteOp) -> anyhow::Result<RouteAnswer> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(AppCommand::Routes(call_id, op, tx))
            .await
            .map_err(|_| anyhow::anyhow!("the bot has stopped"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("the bot has stopped"))?
    }

    /// Hangs up every call (graceful shutdown).
    pub(crate) async fn hang_up_all(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(AppCommand::HangUpAll(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Status of every call.
    pub(crate) async fn calls(&self) -> Vec<CallStatus> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(AppCommand::Calls(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

/// `POST /mp/{n}`: the media processor's answer to the blob we offered.
async fn media_answer(
    State(shared): State<Arc<Shared>>,
    AxumPath(session): AxumPath<u64>,
    body: String,
) -> impl IntoResponse {
    if let Err(e) = parse_answer(&body) {
        return (
            StatusCode::BAD_REQUEST,
            format!("invalid media answer: {e}"),
        );
    }
    let waiter = shared
        .answers
        .lock()
        .expect("answers lock is never poisoned")
        .remove(&session);
    match waiter.map(|tx| tx.send(body)) {
        Some(Ok(())) => (StatusCode::OK, String::new()),
        _ => (
            StatusCode::NOT_FOUND,
            format!("no media session {session} awaits an answer"),
        ),
    }
}

fn control_router(app: App) -> Router {
    Router::new()
        .route(
            "/control/join",
            post(
                |State(app): State<App>, body: axum::Json<JoinRequest>| async move {
                    match app.join(body.0).await {
                        Ok(t) => (
                            StatusCode::ACCEPTED,
                            axum::Json(serde_json::json!({ "requestId": t.request_id.0 })),
                        ),
                        Err(e) => (
                            StatusCode::BAD_REQUEST,
                            axum::Json(serde_json::json!({ "error": format!("{e:#}") })),
                        ),
                    }
                },
            ),
        )
        .route(
            "/control/calls",
            get(|State(app): State<App>| async move { axum::Json(app.calls().await) }),
        )
        .route(
            "/control/calls/{id}/speak",
            post(
                |State(app): State<App>,
                 AxumPath(id): AxumPath<String>,
                 body: axum::Json<SpeakRequest>| async move {
                    match app.speak(id, body.0).await {
                        Ok(()) => (StatusCode::ACCEPTED, String::new()),
                        Err(e) => (StatusCode::BAD_REQUEST, format!("{e:#}")),
                    }
                },
            ),
        )
        .route(
            "/control/calls/{id}/routes",
            get(
                |State(app): State<App>, AxumPath(id): AxumPath<String>| async move {
                    match app.routes(id, RouteOp::List).await {
                        Ok(RouteAnswer::Routes(r)) => {
                            (StatusCode::OK, axum::Json(serde_json::json!(r)))
                        }
                        Ok(_) => (StatusCode::OK, axum::Json(serde_json::json!([]))),
                        Err(e) => (
                            StatusCode::NOT_FOUND,
                            axum::Json(serde_json::json!({ "error": format!("{e:#}") })),
                        ),
                    }
                },
            ),
        )
        .route(
            "/control/calls/{id}/routes/{name}",
            axum::routing::put(
                |State(app): State<App>,
                 AxumPath((id, name)): AxumPath<(String, String)>,
                 body: axum::Json<RouteSpec>| async move {
                    match app.routes(id, RouteOp::Upsert(name, body.0)).await {
                        Ok(_) => (StatusCode::ACCEPTED, String::new()),
                        Err(e) => (StatusCode::BAD_REQUEST, format!("{e:#}")),
                    }
                },
            )
            .delete(
                |State(app): State<App>,
                 AxumPath((id, name)): AxumPath<(String, String)>| async move {
                    match app.routes(id, RouteOp::Remove(name)).await {
                        Ok(RouteAnswer::Removed(true)) => (StatusCode::ACCEPTED, String::new()),
                        Ok(_) => (StatusCode::NOT_FOUND, "no such route".to_string()),
                        Err(e) => (StatusCode::NOT_FOUND, format!("{e:#}")),
                    }
                },
            ),
        )
        .route(
            "/control/calls/{id}/hangup",
            post(
                |State(app): State<App>, AxumPath(id): AxumPath<String>| async move {
                    match app.hang_up(id).await {
                        Ok(()) => (StatusCode::ACCEPTED, String::new()),
                        Err(e) => (StatusCode::NOT_FOUND, format!("{e:#}")),
                    }
                },
            ),
        )
        .with_state(app)
}

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

fn media_config(config: &BotConfig) -> MediaSessionConfig {
    let local = matches!(config.media.bind_ip, IpAddr::V4(ip) if ip.is_loopback())
        || matches!(config.media.bind_ip, IpAddr::V6(ip) if ip.is_loopback());
    MediaSessionConfig {
        transport: TransportConfig {
            bind_ip: config.media.bind_ip,
            port_range: match (config.media.port_min, config.media.port_max) {
                (Some(a), Some(b)) => Some(a..=b),
                (Some(a), None) => Some(a..=u16::MAX),
                (None, Some(b)) => Some(1_024..=b),
                (None, None) => None,
            },
            public_ip: config.media.public_ip.map(|ip| PublicAddress {
                ip,
                mode: PublicIpMode::Replace,
            }),
            ice_check_interval: local.then_some(Duration::from_millis(20)),
            ..TransportConfig::default()
        },
        audio: AudioThreadConfig::default(),
        receive_mode: ReceiveMode::Both,
        ..MediaSessionConfig::default()
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the event loop owns every piece of the running bot; a struct would only rename them"
)]
async fn event_loop(
    config: BotConfig,
    base: String,
    driver: DriverHandle,
    client: Arc<GraphClient>,
    mut events: mpsc::Receiver<EndpointEvent>,
    mut commands: mpsc::Receiver<AppCommand>,
    shared: Arc<Shared>,
) {
    let mut slots: HashMap<RequestId, CallSlot> = HashMap::new();
    let (connected_tx, mut connected_rx) =
        mpsc::channel::<(RequestId, anyhow::Result<MediaSession>)>(16);
    loop {
        tokio::select! {
            Some(command) = commands.recv() => match command {
                AppCommand::Join(request, reply) => {
                    let result = start_join(&config, &base, &driver, &shared, request, connected_tx.clone()).await;
                    match result {
                        Ok((id, slot)) => {
                            let ticket = JoinTicket {
                                request_id: id,
                                status: slot.status.subscribe(),
                                progress: slot.progress.clone(),
                            };
                            slots.insert(id, slot);
                            let _ = reply.send(Ok(ticket));
                        }
                        Err(e) => { let _ = reply.send(Err(e)); }
                    }
                }
                AppCommand::Speak(id, request, reply) => {
                    let slot = slots.values_mut().find(|s| s.call_id.as_ref().is_some_and(|c| c.as_str() == id));
                    let result = match slot {
                        Some(slot) => speak(slot, request),
                        None => Err(anyhow::anyhow!("no call {id}")),
                    };
                    let _ = reply.send(result);
                }
                AppCommand::Routes(id, op, reply) => {
                    let routes = slots
                        .values()
                        .find(|s| s.call_id.as_ref().is_some_and(|c| c.as_str() == id))
                        .map(|s| s.routes.clone());
                    let result = match routes {
                        None => Err(anyhow::anyhow!("no call {id}")),
                        Some(None) => Err(anyhow::anyhow!("call {id} is not established yet")),
                        Some(Some(routes)) => route_op(&routes, op).await,
                    };
                    let _ = reply.send(result);
                }
                AppCommand::Calls(reply) => {
                    let _ = reply.send(slots.values().map(|s| s.status.borrow().clone()).collect());
                }
                AppCommand::HangUp(id, reply) => {
                    let call = slots.values().find_map(|s| s.call_id.clone().filter(|c| c.as_str() == id));
                    let result = match call {
                        Some(call) => driver.hang_up(call).await.map(|_| ()).map_err(anyhow::Error::from),
                        None => Err(anyhow::anyhow!("no call {id}")),
                    };
                    let _ = reply.send(result);
                }
                AppCommand::HangUpAll(reply) => {
                    let calls: Vec<CallId> = slots.values().filter_map(|s| s.call_id.clone()).collect();
                    for call in calls {
                        let _ = driver.hang_up(call).await;
                    }
                    let _ = reply.send(());
                }
            },
            Some((id, result)) = connected_rx.recv() => {
                let Some(slot) = slots.get_mut(&id) else { continue };
                match result {
                    Ok(session) => {
                        slot.media_connected = Some(Instant::now());
                        match Recorder::start(session.audio().frames(), &slot.dir, PcmFormat::default(), slot.progress.clone()) {
                            Ok(recorder) => {
                                for (msi, participant) in &slot.msis {
                                    if let Some(name) = slot.names.get(participant) {
                                        recorder.name(*msi, name.clone());
                                    }
                                }
                                slot.recorder = Some(recorder);
                            }
                            Err(e) => eprintln!("mediabot: cannot record: {e:#}"),
                        }
                        let speakers = session.audio().speaker_events();
                        spawn_speaker_watch(speakers, slot.status.clone(), slot.msi_names.clone());
                        slot.session = Some(session);
                        slot.status.send_modify(|s| s.state = "media connected".into());
                    }
                    Err(e) => {
                        eprintln!("mediabot: media for the call failed: {e:#}");
                        slot.status.send_modify(|s| s.state = format!("media failed: {e:#}"));
                        if let Some(call) = slot.call_id.clone() {
                            let _ = driver.hang_up(call).await;
                        }
                    }
                }
            }
            event = events.recv() => {
                let Some(event) = event else { return };
                if let EndpointEvent::Call { call_id, event: CallEvent::Incoming { .. } } = &event {
                    if config.answer_incoming {
                        match start_answer(&config, &base, &driver, &shared, call_id.clone(), connected_tx.clone()).await {
                            Ok((id, slot)) => { slots.insert(id, slot); }
                            Err(e) => eprintln!("mediabot: cannot answer {call_id}: {e:#}"),
                        }
                    } else {
                        let _ = driver.reject(call_id.clone(), mediabot_signaling::models::RejectReason::Busy).await;
                    }
                    continue;
                }
                handle_event(&driver, &client, &mut slots, event).await;
            }
        }
    }
}

async fn route_op(
    routes: &mpsc::Sender<RoutingCommand>,
    op: RouteOp,
) -> anyhow::Result<RouteAnswer> {
    let stopped = || anyhow::anyhow!("the call's routing has stopped");
    match op {
        RouteOp::Upsert(name, spec) => {
            let (tx, rx) = oneshot::channel();
            routes
                .send(RoutingCommand::Upsert(name, spec, tx))
                .await
                .map_err(|_| stopped())?;
            rx.await.map_err(|_| stopped())??;
            Ok(RouteAnswer::Done)
        }
        RouteOp::Remove(name) => {
            let (tx, rx) = oneshot::channel();
            routes
                .send(RoutingCommand::Remove(name, tx))
                .await
                .map_err(|_| stopped())?;
            Ok(RouteAnswer::Removed(rx.await.map_err(|_| stopped())?))
        }
        RouteOp::List => {
            let (tx, rx) = oneshot::channel();
            routes
                .send(RoutingCommand::List(tx))
                .await
                .map_err(|_| stopped())?;
            Ok(RouteAnswer::Routes(rx.await.map_err(|_| stopped())?))
        }
    }
}

/// Queues a tone or a WAV file on the call's outgoing audio. A WAV is fed from a blocking
/// thread at the pace the send thread drains it.
fn speak(slot: &mut CallSlot, request: SpeakRequest) -> anyhow::Result<()> {
    let session = slot
        .session
        .as_mut()
        .context("the call's media is not connected yet")?;
    if let Some(wav) = request.wav {
        let mut outbound = session
            .take_outbound(0)
            .context("the bot is already playing a file in this call")?;
        if request.clear {
            outbound.clear();
        }
        std::thread::spawn(move || {
            if let Err(e) = outbound.play_wav(&wav) {
                eprintln!("mediabot: playing {}: {e}", wav.display());
            }
        });
        return Ok(());
    }
    let hz = request.tone_hz.context("say what to play: toneHz or wav")?;
    if !(20.0..=20_000.0).contains(&hz) || !(0.0..=10.0).contains(&request.seconds) {
        anyhow::bail!("toneHz must be 20–20000 and seconds 0–10");
    }
    let outbound = session
        .outbound(0)
        .context("this call has no outgoing audio (a file is playing)")?;
    if request.clear {
        outbound.clear();
    }
    let n = (48_000.0 * request.seconds) as usize;
    let tone: Vec<i16> = (0..n)
        .map(|i| (8_000.0 * (std::f64::consts::TAU * hz * i as f64 / 48_000.0).sin()) as i16)
        .collect();
    outbound.push_pcm(&tone, 48_000, 1)?;
    Ok(())
}

fn spawn_speaker_watch(
    speakers: crossbeam_channel::Receiver<mediabot_media::speaker::SpeakerEvent>,
    status: watch::Sender<CallStatus>,
    names: Arc<std::sync::Mutex<HashMap<u32, String>>>,
) {
    std::thread::spawn(move || {
        for event in speakers.iter() {
            if let mediabot_media::speaker::SpeakerEvent::Dominant { ssrc, msi } = event {
                let who = msi.map(|m| {
                    names
                        .lock()
                        .ok()
                        .and_then(|n| n.get(&m).cloned())
                        .unwrap_or_else(|| format!("msi {m}"))
                });
                let who = who.or_else(|| ssrc.map(|s| format!("ssrc {s}")));
                status.send_modify(|s| s.dominant_speaker = who);
            }
        }
    });
}

/// A media session offered and waiting for the media processor's answer at `/mp/{n}`.
struct PendingMedia {
    n: u64,
    session: MediaSession,
    blob: String,
    answer: oneshot::Receiver<String>,
    route_publisher: mediabot_routing::RoutePublisher,
}

/// The SSRC of the bot's own audio (the session's single send stream).
fn bot_ssrc() -> u32 {
    mediabot_media::send::SendConfig::default().ssrc
}

async fn offer_media(
    config: &BotConfig,
    base: &str,
    shared: &Arc<Shared>,
) -> anyhow::Result<PendingMedia> {
    let n = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    let mp_uri = format!("{base}/mp/{n}");
    let (mut session, blob) = MediaSession::offer(media_config(config), &mp_uri)
        .await
        .context("creating the media session")?;
    // The send thread reads the routing table through this gate (no lock, no allocation).
    let (route_publisher, reader) =
        mediabot_routing::route_channel(mediabot_routing::RouteTable::empty());
    session.set_send_gate(
        0,
        Box::new(crate::routing::RouteGate::new(reader, bot_ssrc())),
    );
    let (answer_tx, answer) = oneshot::channel();
    shared
        .answers
        .lock()
        .expect("answers lock is never poisoned")
        .insert(n, answer_tx);
    Ok(PendingMedia {
        n,
        session,
        blob: blob.to_blob_string(),
        answer,
        route_publisher,
    })
}

/// Waits for the media processor's answer, then connects and reports back to the event loop.
fn connect_when_answered(
    pending: PendingMedia,
    request_id: RequestId,
    connected: mpsc::Sender<(RequestId, anyhow::Result<MediaSession>)>,
) {
    let PendingMedia {
        mut session,
        answer,
        ..
    } = pending;
    // (the route publisher was moved into the call's slot by the caller)
    tokio::spawn(async move {
        let result = async {
            let answer = tokio::time::timeout(Duration::from_secs(30), answer)
                .await
                .context("no media answer within 30 s")?
                .context("media answer channel closed")?;
            let answer = parse_answer(&answer)?;
            session.accept_answer(&answer).await?;
            Ok(session)
        }
        .await;
        let _ = connected.send((request_id, result)).await;
    });
}

fn take_publisher(pending: &mut PendingMedia) -> Option<mediabot_routing::RoutePublisher> {
    // Swap in an unused channel so `pending` stays whole for `connect_when_answered`.
    let (spare, _reader) = mediabot_routing::route_channel(mediabot_routing::RouteTable::empty());
    Some(std::mem::replace(&mut pending.route_publisher, spare))
}

fn new_slot(config: &BotConfig, n: u64, join_url: String, started: Instant) -> CallSlot {
    let dir = if config.single_call_dir {
        config.out_dir.clone()
    } else {
        config.out_dir.join(format!("call-{n}"))
    };
    let (status, _) = watch::channel(CallStatus {
        state: "joining".into(),
        ..CallStatus::default()
    });
    CallSlot {
        join_url,
        call_id: None,
        started,
        session: None,
        recorder: None,
        progress: Arc::new(std::sync::Mutex::new(Progress::default())),
        dir,
        media_connected: None,
        names: HashMap::new(),
        msis: HashMap::new(),
        msi_names: Arc::default(),
        routes: None,
        route_publisher: None,
        status,
    }
}

async fn start_answer(
    config: &BotConfig,
    base: &str,
    driver: &DriverHandle,
    shared: &Arc<Shared>,
    call_id: CallId,
    connected: mpsc::Sender<(RequestId, anyhow::Result<MediaSession>)>,
) -> anyhow::Result<(RequestId, CallSlot)> {
    let started = Instant::now();
    let pending = offer_media(config, base, shared).await?;
    let answer = AnswerRequest {
        callback_uri: Some(format!("{base}/api/calling")),
        accepted_modalities: vec![Modality::Audio],
        media_config: MediaConfig::app_hosted(pending.blob.clone()),
        participant_capacity: None,
        call_options: None,
    };
    let request_id = driver.answer(call_id.clone(), answer).await?;
    let mut pending = pending;
    let mut slot = new_slot(config, pending.n, String::new(), started);
    slot.route_publisher = take_publisher(&mut pending);
    slot.call_id = Some(call_id.clone());
    slot.status.send_modify(|s| {
        s.call_id = Some(call_id.as_str().to_string());
        s.state = "answering".into();
    });
    connect_when_answered(pending, request_id, connected);
    Ok((request_id, slot))
}

async fn start_join(
    config: &BotConfig,
    base: &str,
    driver: &DriverHandle,
    shared: &Arc<Shared>,
    request: JoinRequest,
    connected: mpsc::Sender<(RequestId, anyhow::Result<MediaSession>)>,
) -> anyhow::Result<(RequestId, CallSlot)> {
    let link = parse_join_url(&request.join_url).context("the join URL")?;
    let pending = offer_media(config, base, shared).await?;

    let mut call = GraphCall {
        callback_uri: Some(format!("{base}/api/calling")),
        requested_modalities: vec![Modality::Audio],
        media_config: Some(MediaConfig::app_hosted(pending.blob.clone())),
        ..GraphCall::default()
    };
    let tenant = TenantId::new(config.tenant_id.clone());
    link.apply_to(&mut call, Some(&tenant));
    let started = Instant::now();
    let request_id = driver.create_call(call).await?;

    let mut pending = pending;
    let mut slot = new_slot(config, pending.n, request.join_url, started);
    slot.route_publisher = take_publisher(&mut pending);
    connect_when_answered(pending, request_id, connected);
    Ok((request_id, slot))
}

async fn handle_event(
    driver: &DriverHandle,
    client: &Arc<GraphClient>,
    slots: &mut HashMap<RequestId, CallSlot>,
    event: EndpointEvent,
) {
    tracing::debug!(?event, "endpoint event");
    match event {
        EndpointEvent::CallCreated {
            call_id,
            request_id,
        } => {
            if let Some(slot) = slots.get_mut(&request_id) {
                slot.call_id = Some(call_id.clone());
                slot.status
                    .send_modify(|s| s.call_id = Some(call_id.as_str().to_string()));
            }
        }
        EndpointEvent::CreateFailed {
            request_id,
            failure,
        } => {
            if let Some(slot) = slots.get_mut(&request_id) {
                slot.status.send_modify(|s| {
                    s.state = format!("create failed: {failure}");
                    s.ended = true;
                });
            }
        }
        EndpointEvent::Call { call_id, event } => {
            let Some((&id, slot)) = slots
                .iter_mut()
                .find(|(_, s)| s.call_id.as_ref() == Some(&call_id))
            else {
                return;
            };
            match event {
                CallEvent::StateChanged { to, .. } => {
                    let established = to == mediabot_signaling::models::CallState::Established;
                    if established
                        && slot.routes.is_none()
                        && let Ok(Some(bot)) = driver.my_participant_id(call_id.clone()).await
                    {
                        let publisher = slot.route_publisher.take().unwrap_or_else(|| {
                            mediabot_routing::route_channel(mediabot_routing::RouteTable::empty()).0
                        });
                        match crate::routing::spawn(
                            client.clone(),
                            call_id.clone(),
                            bot,
                            publisher,
                            bot_ssrc(),
                        ) {
                            Ok(routes) => slot.routes = Some(routes),
                            Err(e) => eprintln!("mediabot: no routing for {call_id}: {e:#}"),
                        }
                        refresh_roster(driver, &call_id, slot).await;
                    }
                    // Once media is up the state line says so; Graph states before that.
                    if slot.session.is_none() {
                        slot.status.send_modify(|s| s.state = format!("{to:?}"));
                    }
                }
                CallEvent::ParticipantLeft { .. } => {
                    refresh_roster(driver, &call_id, slot).await;
                }
                CallEvent::ParticipantJoined { .. } => {
                    refresh_roster(driver, &call_id, slot).await;
                }
                CallEvent::MsiMapped { msi, participant } => {
                    slot.msis.insert(msi.0, participant);
                    name_msis(slot);
                }
                CallEvent::CallEnded { result_info, cause } => {
                    if let Some(slot) = slots.remove(&id) {
                        finish_call(slot, result_info, cause).await;
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
}

/// Re-reads the roster: display names for recordings and status, and the routing task's view.
async fn refresh_roster(driver: &DriverHandle, call_id: &CallId, slot: &mut CallSlot) {
    let Ok(Some(roster)) = driver.roster(call_id.clone()).await else {
        return;
    };
    for p in &roster {
        let (Some(id), Some(name)) = (
            p.id.clone(),
            p.identity()
                .and_then(|i| i.primary())
                .and_then(|i| i.display_name.clone()),
        ) else {
            continue;
        };
        slot.names.insert(id, name);
    }
    let present: Vec<String> = roster
        .iter()
        .filter_map(|p| p.id.as_ref().and_then(|id| slot.names.get(id)).cloned())
        .collect();
    slot.status.send_modify(|s| s.participants = present);
    if let Some(routes) = &slot.routes {
        let _ = routes.send(RoutingCommand::Roster(roster)).await;
    }
    name_msis(slot);
}

fn name_msis(slot: &CallSlot) {
    for (msi, participant) in &slot.msis {
        let Some(name) = slot.names.get(participant) else {
            continue;
        };
        if let Ok(mut names) = slot.msi_names.lock() {
            names.insert(*msi, name.clone());
        }
        if let Some(recorder) = &slot.recorder {
            recorder.name(*msi, name.clone());
        }
    }
}

async fn finish_call(slot: CallSlot, result_info: Option<ResultInfo>, cause: EndCause) {
    let receive: ReceiveReport = match slot.session {
        Some(session) => session.close().await,
        None => ReceiveReport::default(),
    };
    let files = match slot.recorder {
        Some(recorder) => tokio::task::spawn_blocking(move || recorder.finish())
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r)
            .unwrap_or_default(),
        None => Default::default(),
    };
    let progress = slot
        .progress
        .lock()
        .map(|p| (p.sources.clone(), p.first_frame_at, p.mixed_frames));
    let (sources, first_frame, mixed_frames) = progress.unwrap_or_default();
    let mut participants = Vec::new();
    for (key, source) in &sources {
        let stats = receive.sources.iter().find(|s| s.ssrc == source.ssrc);
        let participant = source.msi.and_then(|m| slot.msis.get(&m));
        participants.push(ParticipantReport {
            id: participant.map(|p| p.as_str().to_string()),
            display_name: participant.and_then(|p| slot.names.get(p).cloned()),
            msi: source.msi,
            ssrc: source.ssrc,
            wav: files
                .get(key)
                .and_then(|f| f.file_name())
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            frames: source.frames,
            speaking_seconds: source.speaking_frames as f64 / 50.0,
            packets: stats.map_or(0, |s| s.jitter.packets),
            lost: stats.map_or(0, |s| s.jitter.lost),
            late: stats.map_or(0, |s| s.jitter.late),
            concealed_frames: source.concealed_frames,
            fec_recovered: stats.map_or(0, |s| s.fec_recovered),
            jitter_ms: stats.map_or(0.0, |s| f64::from(s.jitter.jitter) / 48.0),
        });
    }
    let report = CallReport {
        call_id: slot
            .call_id
            .as_ref()
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        join_url: slot.join_url.clone(),
        join_latency_ms: first_frame.map(|t| (t - slot.started).as_secs_f64() * 1_000.0),
        media_connected_ms: slot
            .media_connected
            .map(|t| (t - slot.started).as_secs_f64() * 1_000.0),
        duration_seconds: slot.started.elapsed().as_secs_f64(),
        rtt_ms: receive.receiver.rtt_us.map(|us| us as f64 / 1_000.0),
        mixed_wav: (mixed_frames > 0).then(|| "mixed.wav".to_string()),
        participants,
        end: EndReport {
            cause: format!("{cause:?}"),
            code: result_info.as_ref().and_then(|r| r.code),
            subcode: result_info.as_ref().and_then(|r| r.subcode),
            message: result_info.as_ref().and_then(|r| r.message.clone()),
        },
    };
    let path = slot.dir.join("report.json");
    let written = std::fs::create_dir_all(&slot.dir)
        .and_then(|()| {
            std::fs::write(
                &path,
                serde_json::to_vec_pretty(&report).unwrap_or_default(),
            )
        })
        .is_ok();
    slot.status.send_modify(|s| {
        s.ended = true;
        s.state = "terminated".into();
        s.report = written.then(|| path.clone());
    });
}
