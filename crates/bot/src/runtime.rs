//! The thin runtime around the [`Orchestrator`]: one task owns it and executes its outputs.
//!
//! Every output that can take time runs as its own task (Graph and routing requests, media offer,
//! connect and close, report writes) and reports back on an unbounded channel, so a slow ICE
//! gather or Graph retry of one call never delays another call's command or keepAlive. That
//! channel cannot grow without bound: each message answers an action the orchestrator started,
//! and the orchestrator bounds its calls. The only bounded queues are at the edges, and none of
//! them is ever waited on by the runtime: operator commands (`try_send`; a full queue is a 503)
//! and Graph's callbacks (the webhook answers 503 when its queue stays full).
//!
//! Media sessions, recorders and route publishers live here, keyed by [`CallKey`]: the
//! orchestrator only knows where each one is.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use mediabot_media::frame::PcmFormat;
use mediabot_media::session::blob::ReceiveMode;
use mediabot_media::session::{MediaSession, MediaSessionConfig};
use mediabot_media::thread::AudioThreadConfig;
use mediabot_media::transport::{PublicAddress, PublicIpMode, TransportConfig};
use mediabot_routing::{RoutePublisher, RouteTable, route_channel};
use mediabot_signaling::auth::{Secret, SystemClock, TokenClientConfig, TokenProvider};
use mediabot_signaling::call::{CallConfig, GraphFailure, GraphReply, RequestId};
use mediabot_signaling::client::{GraphClient, GraphClientConfig};
use mediabot_signaling::driver;
use mediabot_signaling::models::{CommsNotifications, TenantId};
use mediabot_signaling::webhook::{
    CallbackAuthConfig, CallbackAuthenticator, CallbackDelivery, OpenIdKeySource, Webhook,
    WebhookConfig,
};
use tokio::sync::{mpsc, oneshot, watch};
use url::Url;

use crate::config::BotConfig;
use crate::control::{CallStatus, ControlError, ErrorKind, JoinRequest, RouteOp, SpeakRequest};
use crate::orchestrator::{
    CallKey, Command, MediaAction, MediaEvent, MediaSummary, Orchestrator, OrchestratorConfig,
    Output, RecordedSource, Reply, ReplyTo,
};
use crate::recorder::{Progress, Recorder, RecorderEvent};
use crate::routing::RouteGate;

/// How many operator commands may wait for the runtime; beyond, requests get 503.
const COMMAND_QUEUE: usize = 256;

/// How long an operator request waits for its answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long closing one call's media may take before its recorder is stopped regardless.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a join returns: the call's key and a way to watch it.
pub(crate) struct JoinTicket {
    pub(crate) key: CallKey,
    pub(crate) status: watch::Receiver<CallStatus>,
    pub(crate) progress: Arc<Mutex<Progress>>,
}

/// What the runtime answers a command with.
enum Answer {
    Reply(Reply),
    Joined(JoinTicket),
}

type Waiter = oneshot::Sender<Answer>;

/// Results of the runtime's own tasks and threads.
enum Internal {
    Graph(RequestId, Result<GraphReply, GraphFailure>),
    Routing(
        CallKey,
        mediabot_routing::RequestId,
        Result<mediabot_routing::RoutingReply, GraphFailure>,
    ),
    Offered {
        key: CallKey,
        session: Box<MediaSession>,
        publisher: RoutePublisher,
        event: MediaEvent,
    },
    Connected {
        key: CallKey,
        session: Box<MediaSession>,
        dir: PathBuf,
        result: Result<(), String>,
    },
    Media(CallKey, MediaEvent),
    ReportWritten(CallKey, Result<PathBuf, String>),
}

/// The running bot: HTTP server, runtime task and its orchestrator.
#[derive(Clone)]
pub(crate) struct App {
    commands: mpsc::Sender<(Command, Waiter)>,
    /// Where the public listener (callbacks, media answers) listens.
    pub(crate) local_addr: SocketAddr,
    /// Where the control API listens.
    pub(crate) control_addr: SocketAddr,
    /// The control API's bearer token.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the binary's clients read it from its file")
    )]
    pub(crate) control_token: Secret,
    /// Commands refused because the queue was full.
    refused: Arc<std::sync::atomic::AtomicU64>,
    /// The only folder `speak` plays files from.
    media_dir: Option<Arc<PathBuf>>,
}

impl App {
    /// Binds the listener, starts the runtime task and the HTTP server.
    pub(crate) async fn start(config: BotConfig) -> anyhow::Result<App> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let local_addr = listener.local_addr()?;
        let control_listener = tokio::net::TcpListener::bind(config.control_listen)
            .await
            .with_context(|| format!("binding control_listen {}", config.control_listen))?;
        let control_addr = control_listener.local_addr()?;
        let control_token = match &config.control_token {
            Some(token) => token.clone(),
            None => {
                let token = Secret::new(random_token());
                let path = write_token_file(&config.out_dir, &token)?;
                eprintln!(
                    "mediabot: control token written to {} (send it as `Authorization: Bearer …`)",
                    path.display()
                );
                token
            }
        };
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
        let mut auth_config = CallbackAuthConfig::new(config.app_id.clone());
        auth_config.allowed_tenants = config
            .callback_tenants()
            .into_iter()
            .map(TenantId::new)
            .collect();
        let authenticator = Arc::new(CallbackAuthenticator::new(auth_config, keys, clock.clone()));
        let (delivery_tx, deliveries) = mpsc::channel(256);
        // A snapshot roster costs ~670 bytes per participant: 8 MiB carries a 10,000-person meeting.
        let webhook_config = WebhookConfig {
            max_body_bytes: 8 * 1024 * 1024,
            ..WebhookConfig::default()
        };
        let webhook = Webhook::new(webhook_config, authenticator, clock, delivery_tx);

        let mut orchestrator_config =
            OrchestratorConfig::new(base, TenantId::new(config.tenant_id.clone()));
        orchestrator_config.answer_incoming = config.answer_incoming;
        orchestrator_config.max_calls = config.max_calls.max(1);
        orchestrator_config.out_dir = config.out_dir.clone();
        orchestrator_config.single_call_dir = config.single_call_dir;
        orchestrator_config.call = CallConfig {
            keep_alive_interval: Duration::from_secs(config.keep_alive_seconds.max(1)),
            ..CallConfig::default()
        };

        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let app = App {
            commands,
            local_addr,
            control_addr,
            control_token: control_token.clone(),
            refused: Arc::default(),
            media_dir: config.media_dir.clone().map(Arc::new),
        };
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let runtime = Runtime {
            orchestrator: Orchestrator::new(orchestrator_config),
            client,
            config,
            internal: internal_tx,
            io: HashMap::new(),
            waiters: HashMap::new(),
            next_reply: 1,
        };
        tokio::spawn(runtime.run(command_rx, internal_rx, deliveries));
        tokio::spawn(crate::server::serve(
            listener,
            crate::http::public_router(app.clone(), webhook.router()),
            crate::server::Limits::public(),
            "public",
            Arc::default(),
        ));
        tokio::spawn(crate::server::serve(
            control_listener,
            crate::http::control_router(app.clone(), control_token),
            crate::server::Limits::control(),
            "control",
            Arc::default(),
        ));
        Ok(app)
    }

    async fn ask(&self, command: Command) -> Result<Answer, ControlError> {
        let (tx, rx) = oneshot::channel();
        if let Err(e) = self.commands.try_send((command, tx)) {
            let message = match e {
                mpsc::error::TrySendError::Full(_) => {
                    self.refused
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    "the bot is busy; try again"
                }
                mpsc::error::TrySendError::Closed(_) => "the bot has stopped",
            };
            return Err(ControlError::new(ErrorKind::Unavailable, message));
        }
        match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(ControlError::new(
                ErrorKind::Unavailable,
                "the bot has stopped",
            )),
            Err(_) => Err(ControlError::new(
                ErrorKind::Unavailable,
                "no answer within 30 s",
            )),
        }
    }

    async fn ask_reply(&self, command: Command) -> Result<Reply, ControlError> {
        match self.ask(command).await? {
            Answer::Reply(Reply::Failed(e)) => Err(e),
            Answer::Reply(reply) => Ok(reply),
            Answer::Joined(ticket) => Ok(Reply::Joined(ticket.key)),
        }
    }

    /// Joins a meeting by its join URL.
    pub(crate) async fn join(&self, request: JoinRequest) -> Result<JoinTicket, ControlError> {
        match self
            .ask(Command::Join {
                join_url: request.join_url,
            })
            .await?
        {
            Answer::Joined(ticket) => Ok(ticket),
            Answer::Reply(Reply::Failed(e)) => Err(e),
            Answer::Reply(other) => Err(ControlError::new(
                ErrorKind::Unavailable,
                format!("unexpected answer to a join: {other:?}"),
            )),
        }
    }

    /// Hangs up one call (Graph call id or key).
    pub(crate) async fn hang_up(&self, call: String) -> Result<(), ControlError> {
        self.ask_reply(Command::HangUp { call }).await.map(|_| ())
    }

    /// Makes the bot speak in a call: a tone, or a WAV from under `media_dir` (decoded on a
    /// blocking thread before the call sees it); optionally clearing queued audio first.
    pub(crate) async fn speak(
        &self,
        call: String,
        request: SpeakRequest,
    ) -> Result<(), ControlError> {
        let clip = match &request.wav {
            Some(path) => {
                let dir = self.media_dir.clone();
                let path = path.clone();
                let loaded = tokio::task::spawn_blocking(move || {
                    crate::speak::load_media_wav(dir.as_deref().map(PathBuf::as_path), &path)
                })
                .await
                .map_err(|e| ControlError::new(ErrorKind::Unavailable, e.to_string()))??;
                Some(Arc::new(loaded))
            }
            None => None,
        };
        self.ask_reply(Command::Speak {
            call,
            request,
            clip,
        })
        .await
        .map(|_| ())
    }

    /// Makes the bot say an uploaded WAV (the request body).
    pub(crate) async fn speak_upload(
        &self,
        call: String,
        body: axum::body::Bytes,
        clear: bool,
    ) -> Result<(), ControlError> {
        let clip = tokio::task::spawn_blocking(move || crate::speak::decode_wav(&body[..]))
            .await
            .map_err(|e| ControlError::new(ErrorKind::Unavailable, e.to_string()))??;
        let request = SpeakRequest {
            tone_hz: None,
            seconds: 0.0,
            wav: None,
            clear,
        };
        self.ask_reply(Command::Speak {
            call,
            request,
            clip: Some(Arc::new(clip)),
        })
        .await
        .map(|_| ())
    }

    /// Changes or lists a call's audio routes.
    pub(crate) async fn routes(&self, call: String, op: RouteOp) -> Result<Reply, ControlError> {
        self.ask_reply(Command::Routes { call, op }).await
    }

    /// Status of every call.
    pub(crate) async fn calls(&self) -> Vec<CallStatus> {
        match self.ask_reply(Command::Calls).await {
            Ok(Reply::Calls(all)) => all,
            _ => Vec::new(),
        }
    }

    /// The media processor's answer posted at `/mp/{token}`.
    pub(crate) async fn media_answer(
        &self,
        token: String,
        body: String,
    ) -> Result<(), ControlError> {
        self.ask_reply(Command::MediaAnswer { token, body })
            .await
            .map(|_| ())
    }

    /// Graceful shutdown: refuse new calls and hang up every call; if Graph has not confirmed
    /// within `grace`, end the rest here. Either way every recording is finalised and every
    /// report written before this returns (true when Graph confirmed every hang-up).
    pub(crate) async fn shutdown(&self, grace: Duration) -> bool {
        let drained = self.wait_for(Command::Drain, grace).await;
        if drained {
            return true;
        }
        tracing::warn!(
            grace_s = grace.as_secs_f64(),
            "Graph did not confirm every hang-up in time; ending the remaining calls here"
        );
        // Local work only (close media, finish files, write reports): bounded by CLOSE_TIMEOUT.
        self.wait_for(Command::Abandon, CLOSE_TIMEOUT * 2).await;
        false
    }

    async fn wait_for(&self, command: Command, within: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.commands.send((command, tx)).await.is_err() {
            return true;
        }
        matches!(tokio::time::timeout(within, rx).await, Ok(Ok(_)))
    }
}

/// What the runtime holds for one call.
struct CallIo {
    status: watch::Sender<CallStatus>,
    progress: Arc<Mutex<Progress>>,
    session: Option<Box<MediaSession>>,
    recorder: Option<Recorder>,
    publisher: Option<RoutePublisher>,
    /// A table published before the session (and its publisher) existed.
    pending_table: Option<Box<RouteTable>>,
}

impl CallIo {
    fn new(key: CallKey) -> CallIo {
        let (status, _) = watch::channel(CallStatus {
            key: key.0,
            state: "offering media".into(),
            ..CallStatus::default()
        });
        CallIo {
            status,
            progress: Arc::default(),
            session: None,
            recorder: None,
            publisher: None,
            pending_table: None,
        }
    }
}

struct Runtime {
    orchestrator: Orchestrator,
    client: Arc<GraphClient>,
    config: BotConfig,
    internal: mpsc::UnboundedSender<Internal>,
    io: HashMap<CallKey, CallIo>,
    waiters: HashMap<ReplyTo, Waiter>,
    next_reply: u64,
}

impl Runtime {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<(Command, Waiter)>,
        mut internal: mpsc::UnboundedReceiver<Internal>,
        mut deliveries: mpsc::Receiver<CallbackDelivery<CommsNotifications>>,
    ) {
        let mut deliveries_open = true;
        loop {
            while let Some(output) = self.orchestrator.poll_output() {
                self.execute(output);
            }
            for io in self.io.values_mut() {
                if let Some(publisher) = io.publisher.as_mut().filter(|p| p.has_pending()) {
                    publisher.flush();
                }
            }
            let deadline = self
                .orchestrator
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            tracing::trace!(?deadline, "runtime waits");
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                Some(message) = internal.recv() => self.internal(message),
                command = commands.recv() => match command {
                    Some((command, waiter)) => {
                        let to = ReplyTo(self.next_reply);
                        self.next_reply += 1;
                        self.waiters.insert(to, waiter);
                        self.orchestrator.handle_command(Instant::now(), command, to);
                    }
                    None => return,
                },
                delivery = deliveries.recv(), if deliveries_open => match delivery {
                    Some(d) => self.orchestrator.handle_notifications(Instant::now(), d.notifications),
                    None => deliveries_open = false,
                },
                () = sleep => self.orchestrator.handle_timeout(Instant::now()),
            }
        }
    }

    fn io(&mut self, key: CallKey) -> &mut CallIo {
        self.io.entry(key).or_insert_with(|| CallIo::new(key))
    }

    fn internal(&mut self, message: Internal) {
        let now = Instant::now();
        match message {
            Internal::Graph(id, result) => {
                self.orchestrator.handle_graph_response(now, id, result);
            }
            Internal::Routing(key, id, result) => {
                self.orchestrator
                    .handle_routing_response(now, key, id, result);
            }
            Internal::Offered {
                key,
                session,
                mut publisher,
                event,
            } => {
                let io = self.io(key);
                if let Some(table) = io.pending_table.take() {
                    let _ = publisher.publish(*table);
                }
                io.session = Some(session);
                io.publisher = Some(publisher);
                self.orchestrator.handle_media(now, key, event);
            }
            Internal::Connected {
                key,
                session,
                dir,
                result,
            } => {
                let event = match result {
                    Ok(()) => match self.start_recording(key, &session, &dir) {
                        Ok(dir) => {
                            self.orchestrator
                                .handle_media(now, key, MediaEvent::Recording { dir });
                            MediaEvent::Connected
                        }
                        Err(e) => MediaEvent::ConnectFailed(format!("cannot record: {e:#}")),
                    },
                    Err(e) => MediaEvent::ConnectFailed(e),
                };
                self.io(key).session = Some(session);
                self.orchestrator.handle_media(now, key, event);
            }
            Internal::Media(key, event) => self.orchestrator.handle_media(now, key, event),
            Internal::ReportWritten(key, result) => {
                self.orchestrator.handle_report_written(now, key, result);
            }
        }
    }

    fn start_recording(
        &mut self,
        key: CallKey,
        session: &MediaSession,
        proposed: &std::path::Path,
    ) -> anyhow::Result<PathBuf> {
        let dir = self.call_dir(proposed)?;
        let tx = self.internal.clone();
        let events = Box::new(move |event| {
            let event = match event {
                RecorderEvent::FirstFrame => MediaEvent::FirstAudio,
                RecorderEvent::NewSource { msi } => MediaEvent::SourceHeard { msi },
                RecorderEvent::Ended => MediaEvent::FramesEnded,
            };
            let _ = tx.send(Internal::Media(key, event));
        });
        let io = self.io(key);
        let recorder = Recorder::start(
            session.audio().frames(),
            &dir,
            PcmFormat::default(),
            io.progress.clone(),
            events,
        )?;
        io.recorder = Some(recorder);
        spawn_speaker_watch(session.audio().speaker_events(), self.internal.clone(), key);
        Ok(dir)
    }

    /// The folder a call records into: `proposed` itself for the demo's single call, else a new
    /// `<out_dir>/<UTC>-<proposed's name>` that did not exist before.
    fn call_dir(&self, proposed: &std::path::Path) -> std::io::Result<PathBuf> {
        if self.config.single_call_dir {
            std::fs::create_dir_all(proposed)?;
            return Ok(proposed.to_path_buf());
        }
        let label = proposed
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        crate::folders::create_call_dir(&self.config.out_dir, std::time::SystemTime::now(), &label)
    }

    fn execute(&mut self, output: Output) {
        match output {
            Output::Graph(request) => {
                let client = self.client.clone();
                let tx = self.internal.clone();
                tokio::spawn(async move {
                    let result = driver::execute(&client, &request).await;
                    let _ = tx.send(Internal::Graph(request.id, result));
                });
            }
            Output::Routing { key, call, request } => {
                let client = self.client.clone();
                let tx = self.internal.clone();
                tokio::spawn(async move {
                    let result = crate::routing::execute(&client, &call, &request).await;
                    let _ = tx.send(Internal::Routing(key, request.id, result));
                });
            }
            Output::Media { key, action } => self.media(key, action),
            Output::WriteReport { key, path, report } => {
                let tx = self.internal.clone();
                let fresh = (!self.config.single_call_dir).then(|| self.config.out_dir.clone());
                tokio::task::spawn_blocking(move || {
                    let path = match (fresh, path.parent()) {
                        // The call never recorded: its report gets a new folder of its own.
                        (Some(out_dir), Some(parent)) if !parent.exists() => {
                            let label = parent
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            match crate::folders::create_call_dir(
                                &out_dir,
                                std::time::SystemTime::now(),
                                &label,
                            ) {
                                Ok(dir) => dir.join("report.json"),
                                Err(_) => path,
                            }
                        }
                        _ => path,
                    };
                    let result = write_report(&path, &report)
                        .map(|()| path)
                        .map_err(|e| format!("{e:#}"));
                    let _ = tx.send(Internal::ReportWritten(key, result));
                });
            }
            Output::Reply { to, reply } => {
                let Some(waiter) = self.waiters.remove(&to) else {
                    return;
                };
                let answer = match reply {
                    Reply::Joined(key) => {
                        let io = self.io(key);
                        Answer::Joined(JoinTicket {
                            key,
                            status: io.status.subscribe(),
                            progress: io.progress.clone(),
                        })
                    }
                    other => Answer::Reply(other),
                };
                let _ = waiter.send(answer);
            }
            Output::Status { key, status } => {
                self.io(key).status.send_replace(*status);
            }
            Output::Forget(key) => {
                self.io.remove(&key);
            }
        }
    }

    fn media(&mut self, key: CallKey, action: MediaAction) {
        match action {
            MediaAction::Offer { mp_base } => {
                let token = format!("{:032x}", rand::random::<u128>());
                let mp_uri = format!("{mp_base}/{token}");
                let config = self.media_config(key);
                let bot_ssrc = mediabot_media::send::SendConfig::default().ssrc;
                let tx = self.internal.clone();
                tokio::spawn(async move {
                    match MediaSession::offer(config, &mp_uri).await {
                        Ok((mut session, offer)) => {
                            // The send thread reads the routing table through this gate (no
                            // lock, no allocation).
                            let (publisher, reader) = route_channel(RouteTable::empty());
                            session.set_send_gate(0, Box::new(RouteGate::new(reader, bot_ssrc)));
                            let _ = tx.send(Internal::Offered {
                                key,
                                session: Box::new(session),
                                publisher,
                                event: MediaEvent::Offered {
                                    token,
                                    offer: Box::new(offer),
                                },
                            });
                        }
                        Err(e) => {
                            let _ = tx
                                .send(Internal::Media(key, MediaEvent::OfferFailed(e.to_string())));
                        }
                    }
                });
            }
            MediaAction::Connect { answer, dir } => {
                let tx = self.internal.clone();
                let Some(mut session) = self.io(key).session.take() else {
                    let _ = tx.send(Internal::Media(
                        key,
                        MediaEvent::ConnectFailed("the media session is gone".into()),
                    ));
                    return;
                };
                tokio::spawn(async move {
                    let result = session
                        .accept_answer(&answer)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Internal::Connected {
                        key,
                        session,
                        dir,
                        result,
                    });
                });
            }
            MediaAction::Name { msi, name } => {
                if let Some(recorder) = &self.io(key).recorder {
                    recorder.name(msi, name);
                }
            }
            MediaAction::Routes(table) => {
                let io = self.io(key);
                match io.publisher.as_mut() {
                    Some(publisher) => {
                        let _ = publisher.publish(*table);
                    }
                    None => io.pending_table = Some(table),
                }
            }
            MediaAction::Speak {
                request,
                clip,
                reply,
            } => {
                let io = self.io(key);
                let result = match io.session.as_mut() {
                    Some(session) => crate::speak::speak(session, request, clip)
                        .map(|()| Reply::Done)
                        .unwrap_or_else(Reply::Failed),
                    None => Reply::Failed(ControlError::new(
                        ErrorKind::Conflict,
                        "the call's media is busy",
                    )),
                };
                if let Some(waiter) = self.waiters.remove(&reply) {
                    let _ = waiter.send(Answer::Reply(result));
                }
            }
            MediaAction::Close => {
                let io = self.io(key);
                let session = io.session.take();
                let recorder = io.recorder.take();
                io.publisher = None;
                let progress = io.progress.clone();
                let tx = self.internal.clone();
                tokio::spawn(async move {
                    let summary = close_media(session, recorder, progress).await;
                    let _ = tx.send(Internal::Media(key, MediaEvent::Closed(Box::new(summary))));
                });
            }
        }
    }

    fn media_config(&self, key: CallKey) -> MediaSessionConfig {
        let media = &self.config.media;
        let local = matches!(media.bind_ip, IpAddr::V4(ip) if ip.is_loopback())
            || matches!(media.bind_ip, IpAddr::V6(ip) if ip.is_loopback());
        let mut audio = AudioThreadConfig::default();
        if self.config.fault_audio_panic_calls.contains(&key.0) {
            audio.on_start = Some(injected_audio_panic);
        }
        MediaSessionConfig {
            transport: TransportConfig {
                bind_ip: media.bind_ip,
                port_range: match (media.port_min, media.port_max) {
                    (Some(a), Some(b)) => Some(a..=b),
                    (Some(a), None) => Some(a..=u16::MAX),
                    (None, Some(b)) => Some(1_024..=b),
                    (None, None) => None,
                },
                public_ip: media.public_ip.map(|ip| PublicAddress {
                    ip,
                    mode: PublicIpMode::Replace,
                }),
                ice_check_interval: local.then_some(Duration::from_millis(20)),
                ..TransportConfig::default()
            },
            audio,
            receive_mode: ReceiveMode::Both,
            ..MediaSessionConfig::default()
        }
    }
}

/// 256 random bits as 64 hex digits (control tokens).
pub(crate) fn random_token() -> String {
    let bits: [u8; 32] = rand::random();
    bits.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the control token to `<out_dir>/control-token`, readable by the owner alone where the
/// OS has modes.
fn write_token_file(out_dir: &std::path::Path, token: &Secret) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let path = out_dir.join("control-token");
    // A fresh file each start: an old one (maybe with looser modes) is removed first.
    let _ = std::fs::remove_file(&path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(token.expose().as_bytes())?;
    file.write_all(b"\n")?;
    Ok(path)
}

/// The fault the tests inject into an audio thread (`BotConfig::fault_audio_panic_calls`).
fn injected_audio_panic() {
    panic!("injected fault: the audio thread of this call panics");
}

/// Closes a session and finalises its recorder, within [`CLOSE_TIMEOUT`] for the session.
async fn close_media(
    session: Option<Box<MediaSession>>,
    recorder: Option<Recorder>,
    progress: Arc<Mutex<Progress>>,
) -> MediaSummary {
    let mut summary = MediaSummary::default();
    if let Some(session) = session {
        match tokio::time::timeout(CLOSE_TIMEOUT, session.close()).await {
            Ok(receive) => summary.receive = receive,
            Err(_) => {
                summary.recorder_error = Some("the media session did not close in time".into());
            }
        }
    }
    let files = match recorder {
        Some(recorder) => {
            summary.recorder_names_dropped = recorder.names_dropped();
            let finished =
                tokio::task::spawn_blocking(move || recorder.finish_within(CLOSE_TIMEOUT)).await;
            match finished {
                Ok(Ok(files)) => files,
                Ok(Err(e)) => {
                    summary.recorder_error = Some(format!("{e:#}"));
                    Default::default()
                }
                Err(e) => {
                    summary.recorder_error = Some(format!("recorder: {e}"));
                    Default::default()
                }
            }
        }
        None => Default::default(),
    };
    if let Ok(p) = progress.lock() {
        summary.first_frame_at = p.first_frame_at;
        summary.mixed_frames = p.mixed_frames;
        summary.sources = p
            .sources
            .iter()
            .map(|(key, s)| RecordedSource {
                msi: s.msi,
                ssrc: s.ssrc,
                wav: files
                    .get(key)
                    .and_then(|f: &PathBuf| f.file_name())
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                frames: s.frames,
                speaking_frames: s.speaking_frames,
                concealed_frames: s.concealed_frames,
            })
            .collect();
    }
    summary
}

fn write_report(path: &std::path::Path, report: &crate::report::CallReport) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_vec_pretty(report)?;
    // Write then rename: a crash never leaves a half-written report.
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path)?;
    Ok(())
}

/// Forwards a call's speaker events to the runtime (a thread that parks on the channel; the
/// events are rare and it ends when the audio thread does).
fn spawn_speaker_watch(
    speakers: crossbeam_channel::Receiver<mediabot_media::speaker::SpeakerEvent>,
    tx: mpsc::UnboundedSender<Internal>,
    key: CallKey,
) {
    let spawned = std::thread::Builder::new()
        .name("mediabot-speakers".into())
        .spawn(move || {
            for event in speakers.iter() {
                if let mediabot_media::speaker::SpeakerEvent::Dominant { ssrc, msi } = event
                    && tx
                        .send(Internal::Media(key, MediaEvent::Dominant { msi, ssrc }))
                        .is_err()
                {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(call = %key, error = %e, "no speaker events for this call");
    }
}
