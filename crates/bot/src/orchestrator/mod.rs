//! The bot's core: a sans-IO call orchestrator.
//!
//! One [`Orchestrator`] owns the signaling [`Endpoint`] and, per call, one entry whose [`Phase`]
//! says where the call is. It never awaits, locks or reads a clock: every input comes with `now`,
//! and everything it wants done comes out of [`Orchestrator::poll_output`], in the shape of
//! str0m's and quinn-proto's `handle_*` / `poll_*` pairs.
//!
//! ```text
//!  operator commands ─┐                                  ┌─► Graph requests (call control)
//!  Graph callbacks ───┤                                  ├─► Graph requests (routing groups)
//!  Graph replies ─────┤     ┌──────────────────────┐     ├─► media actions (offer, connect,
//!  routing replies ───┼────►│     Orchestrator     │────►│     name, routes, speak, close)
//!  media results ─────┤     │ Endpoint + per call: │     ├─► report writes
//!  report written ────┤     │ phase, reconciler    │     ├─► replies to operator commands
//!  timeouts (now) ────┘     └──────────────────────┘     ├─► status updates
//!                                                        └─► next timeout (poll_timeout)
//! ```
//!
//! Rosters are read in place from the endpoint's calls: a roster change costs the orchestrator
//! O(routes), never O(roster); a status update carries at most [`STATUS_NAMES`] names. Every map
//! is bounded: [`OrchestratorConfig::max_calls`] live calls, [`OrchestratorConfig::keep_done`]
//! finished ones, [`MAX_SOURCES`] named audio sources per call.
//!
//! The runtime (`crate::runtime`) executes the outputs concurrently and feeds their results back.

mod entry;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mediabot_media::session::blob::{ValidatedAnswer, ValidatedBlob, parse_answer};
use mediabot_media::thread::ReceiveReport;
use mediabot_routing::{
    Output as RoutingOutput, RequestId as RoutingRequestId, RouteName, RouteTable, RoutingReply,
    RoutingRequest,
};
use mediabot_signaling::call::{
    CallConfig, CallError, CallEvent, EndCause, GraphFailure, GraphReply, GraphRequest, RequestId,
};
use mediabot_signaling::endpoint::{
    Endpoint, EndpointError, EndpointEvent, Output as EndpointOutput,
};
use mediabot_signaling::join_url::parse_join_url;
use mediabot_signaling::models::{
    AnswerRequest, Call as GraphCall, CallId, CallState, CommsNotifications, MediaConfig, Modality,
    RejectReason, ResultInfo, TenantId,
};

use crate::control::{
    CallStatus, ControlError, ErrorKind, PcmClip, RouteOp, RouteView, STATUS_NAMES, SpeakRequest,
};
use crate::report::{CallReport, DropReport, EndReport, ParticipantReport};

pub use entry::Phase;
use entry::{Entry, MediaState, Origin, Routing};

/// How many audio sources (MSIs) per call keep a name for the report.
pub const MAX_SOURCES: usize = 10_000;

/// The bot's local handle of a call: known from the first moment, before Graph gives an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey(pub u64);

impl std::fmt::Display for CallKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Names the waiter of a [`Command`]; the answer comes back as [`Output::Reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplyTo(pub u64);

/// What an operator (or the media processor, for answers) asks.
#[derive(Debug, Clone)]
pub enum Command {
    /// Join a meeting by its join URL.
    Join {
        /// The Teams join URL.
        join_url: String,
    },
    /// Hang up one call (by Graph call id or local key).
    HangUp {
        /// Call id or key.
        call: String,
    },
    /// Queue audio on a call's outgoing stream.
    Speak {
        /// Call id or key.
        call: String,
        /// What to say.
        request: SpeakRequest,
        /// A decoded WAV (from `media_dir` or an upload), instead of `request.wav`.
        clip: Option<std::sync::Arc<PcmClip>>,
    },
    /// Change or list a call's routes.
    Routes {
        /// Call id or key.
        call: String,
        /// What to do.
        op: RouteOp,
    },
    /// The status of every call.
    Calls,
    /// The media processor's answer to an offer, posted at `/mp/{token}`.
    MediaAnswer {
        /// The token in the offer's `mpUri`.
        token: String,
        /// The answer's text.
        body: String,
    },
    /// Shutting down: refuse new calls, hang up every call; the reply comes when every call is
    /// finished (reports written).
    Drain,
    /// Graph did not confirm in time: end every remaining call here, close its media and write
    /// its report; the reply comes when that is done.
    Abandon,
}

/// The answer to a [`Command`].
#[derive(Debug, Clone)]
pub enum Reply {
    /// A join was accepted: this is the call's key.
    Joined(CallKey),
    /// Done (hang-up sent, answer taken, route changed, drained …).
    Done,
    /// The status of every call.
    Calls(Vec<CallStatus>),
    /// A call's routes.
    Routes(Vec<RouteView>),
    /// Whether a route was removed.
    Removed(bool),
    /// The request failed.
    Failed(ControlError),
}

/// What a media action (run by the runtime) produced.
#[derive(Debug)]
pub enum MediaEvent {
    /// The session exists; this is its offer, with the token of its `mpUri`.
    Offered {
        /// The token in `mpUri`.
        token: String,
        /// The offer.
        offer: Box<ValidatedBlob>,
    },
    /// The session could not be created.
    OfferFailed(String),
    /// ICE and DTLS are up; the recorder runs.
    Connected,
    /// The answer could not be applied or media did not connect.
    ConnectFailed(String),
    /// The recordings go to this folder (the runtime made it new: it never reuses one).
    Recording {
        /// The call's folder.
        dir: PathBuf,
    },
    /// The recorder started a file for this MSI (its name is wanted now).
    SourceHeard {
        /// The MSI.
        msi: u32,
    },
    /// The first PCM frame reached the recorder.
    FirstAudio,
    /// The audio thread's frame channel closed while the call ran: the thread is gone.
    FramesEnded,
    /// The dominant speaker changed.
    Dominant {
        /// Its MSI, when bound.
        msi: Option<u32>,
        /// Its SSRC, when known.
        ssrc: Option<u32>,
    },
    /// The session is closed and the recordings are final.
    Closed(Box<MediaSummary>),
}

/// What the runtime knows when a call's media is closed.
#[derive(Debug, Clone, Default)]
pub struct MediaSummary {
    /// The audio thread's report (with its panic message, if it panicked).
    pub receive: ReceiveReport,
    /// One entry per recorded source.
    pub sources: Vec<RecordedSource>,
    /// When the first frame was recorded.
    pub first_frame_at: Option<Instant>,
    /// Frames written to `mixed.wav`.
    pub mixed_frames: u64,
    /// Why the recorder failed, if it did.
    pub recorder_error: Option<String>,
    /// Name updates the recorder could not take.
    pub recorder_names_dropped: u64,
}

/// One recorded source.
#[derive(Debug, Clone, Default)]
pub struct RecordedSource {
    /// MSI, when the stream had one.
    pub msi: Option<u32>,
    /// SSRC.
    pub ssrc: u32,
    /// The final file name.
    pub wav: String,
    /// Frames written.
    pub frames: u64,
    /// Frames with speech.
    pub speaking_frames: u64,
    /// Frames the decoder concealed.
    pub concealed_frames: u64,
}

/// What the runtime should do to a call's media.
#[derive(Debug)]
pub enum MediaAction {
    /// Create a session whose `mpUri` is `{mp_base}/{token}` (the runtime draws the token).
    Offer {
        /// `…/mp`.
        mp_base: String,
    },
    /// Apply the answer, wait for media, then record: into `dir` itself for a single-call
    /// folder, else into a new folder `<UTC>-<dir's name>` beside it (answered with
    /// [`MediaEvent::Recording`] before [`MediaEvent::Connected`]).
    Connect {
        /// The validated answer.
        answer: Box<ValidatedAnswer>,
        /// The call's recording folder.
        dir: PathBuf,
    },
    /// The participant behind `msi` is `name` (for the file name).
    Name {
        /// MSI.
        msi: u32,
        /// Display name.
        name: String,
    },
    /// Publish this table to the send thread.
    Routes(Box<RouteTable>),
    /// Queue audio; answer `reply` with the outcome.
    Speak {
        /// What to say.
        request: SpeakRequest,
        /// Decoded audio, when the request is a WAV.
        clip: Option<std::sync::Arc<PcmClip>>,
        /// Who waits.
        reply: ReplyTo,
    },
    /// Close the session and finalise the recordings; answer with [`MediaEvent::Closed`].
    Close,
}

/// What the orchestrator wants done.
#[derive(Debug)]
pub enum Output {
    /// A call-control request; hand the result to [`Orchestrator::handle_graph_response`].
    Graph(GraphRequest),
    /// A routing-group request; hand the result to [`Orchestrator::handle_routing_response`].
    Routing {
        /// The call.
        key: CallKey,
        /// Its Graph id.
        call: CallId,
        /// The request.
        request: RoutingRequest,
    },
    /// A media action; hand its results to [`Orchestrator::handle_media`].
    Media {
        /// The call.
        key: CallKey,
        /// The action.
        action: MediaAction,
    },
    /// Write `report` as JSON to `path` (when its folder does not exist, in a new
    /// `<UTC>-<folder name>` folder beside it); hand the outcome to
    /// [`Orchestrator::handle_report_written`].
    WriteReport {
        /// The call.
        key: CallKey,
        /// Where.
        path: PathBuf,
        /// What.
        report: Box<CallReport>,
    },
    /// Answer a command.
    Reply {
        /// Who waits.
        to: ReplyTo,
        /// The answer.
        reply: Reply,
    },
    /// A call's status changed.
    Status {
        /// The call.
        key: CallKey,
        /// Its new status.
        status: Box<CallStatus>,
    },
    /// The call is finished and forgotten: drop whatever the runtime holds for it.
    Forget(CallKey),
}

/// The orchestrator's settings.
#[derive(Debug, Clone)]
pub struct OrchestratorConfig {
    /// How Graph and the media processor reach the bot (`https://bot.contoso.com:9441`).
    pub public_base: String,
    /// The bot's tenant (for join URLs without one).
    pub tenant: TenantId,
    /// Answer incoming calls (otherwise reject them as busy).
    pub answer_incoming: bool,
    /// Most calls at once (joins beyond it are refused with 503, incoming calls rejected).
    pub max_calls: usize,
    /// How long the media processor has to post its answer.
    pub media_answer_timeout: Duration,
    /// How long media may take to connect once the answer is in.
    pub media_connect_timeout: Duration,
    /// Where recordings go.
    pub out_dir: PathBuf,
    /// Record straight into `out_dir` (the demo's single call) instead of a folder per call.
    pub single_call_dir: bool,
    /// Settings of each call's signaling state machine.
    pub call: CallConfig,
    /// The SSRC of the bot's outgoing audio.
    pub bot_ssrc: u32,
    /// How many finished calls stay listed.
    pub keep_done: usize,
}

impl OrchestratorConfig {
    /// Defaults for a bot reachable at `public_base` in `tenant`.
    pub fn new(public_base: impl Into<String>, tenant: TenantId) -> OrchestratorConfig {
        OrchestratorConfig {
            public_base: public_base.into(),
            tenant,
            answer_incoming: true,
            max_calls: 64,
            media_answer_timeout: Duration::from_secs(30),
            media_connect_timeout: Duration::from_secs(30),
            out_dir: PathBuf::from("recordings"),
            single_call_dir: false,
            call: CallConfig::default(),
            bot_ssrc: mediabot_media::send::SendConfig::default().ssrc,
            keep_done: 32,
        }
    }
}

/// Counters of what the orchestrator refused or dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrchestratorStats {
    /// Joins refused because `max_calls` calls were live.
    pub joins_refused: u64,
    /// Incoming calls rejected (busy, draining, or not answering).
    pub incoming_rejected: u64,
    /// Media answers refused (unknown token, wrong state, invalid, not matching the offer).
    pub answers_refused: u64,
    /// MSIs not named because a call had [`MAX_SOURCES`] already.
    pub sources_unnamed: u64,
}

/// The call orchestrator. See the module docs.
pub struct Orchestrator {
    config: OrchestratorConfig,
    endpoint: Endpoint,
    calls: BTreeMap<CallKey, Entry>,
    by_call_id: HashMap<CallId, CallKey>,
    by_create: HashMap<RequestId, CallKey>,
    by_token: HashMap<String, CallKey>,
    done: VecDeque<CallKey>,
    outputs: VecDeque<Output>,
    endpoint_deadline: Option<Instant>,
    next_key: u64,
    draining: bool,
    drain_waiters: Vec<ReplyTo>,
    abandon_waiters: Vec<ReplyTo>,
    stats: OrchestratorStats,
}

impl Orchestrator {
    /// A new orchestrator with no calls.
    pub fn new(config: OrchestratorConfig) -> Orchestrator {
        let endpoint = Endpoint::new(config.call.clone());
        Orchestrator {
            config,
            endpoint,
            calls: BTreeMap::new(),
            by_call_id: HashMap::new(),
            by_create: HashMap::new(),
            by_token: HashMap::new(),
            done: VecDeque::new(),
            outputs: VecDeque::new(),
            endpoint_deadline: None,
            next_key: 1,
            draining: false,
            drain_waiters: Vec::new(),
            abandon_waiters: Vec::new(),
            stats: OrchestratorStats::default(),
        }
    }

    /// The signaling endpoint (calls, rosters), read-only.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// What was refused or dropped so far.
    pub fn stats(&self) -> OrchestratorStats {
        self.stats
    }

    /// Calls not yet finished.
    pub fn live_calls(&self) -> usize {
        self.calls.values().filter(|e| !e.phase.is_done()).count()
    }

    /// The phase of a call.
    pub fn phase(&self, key: CallKey) -> Option<&Phase> {
        self.calls.get(&key).map(|e| &e.phase)
    }

    /// The status of a call, as [`Output::Status`] would carry it.
    pub fn status(&self, key: CallKey) -> Option<CallStatus> {
        self.calls.get(&key).map(|e| self.status_of(e))
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Orchestrator::handle_timeout`] must be called at the latest.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let entries = self.calls.values().flat_map(|e| {
            [
                e.phase.deadline(),
                e.routing.as_ref().and_then(|r| r.deadline),
            ]
        });
        [self.endpoint_deadline, self.endpoint.poll_timeout()]
            .into_iter()
            .chain(entries)
            .flatten()
            .min()
    }

    // --- inputs -------------------------------------------------------------------------------

    /// An operator command (or a media answer); the answer comes as [`Output::Reply`] to `reply`.
    pub fn handle_command(&mut self, now: Instant, command: Command, reply: ReplyTo) {
        match command {
            Command::Join { join_url } => self.join(now, join_url, reply),
            Command::HangUp { call } => {
                let result = self
                    .find(&call)
                    .map(|key| self.hang_up(now, key))
                    .map(|()| Reply::Done);
                self.reply(reply, result);
            }
            Command::Speak {
                call,
                request,
                clip,
            } => match self.find(&call) {
                Ok(key) => self.speak(key, request, clip, reply),
                Err(e) => self.reply(reply, Err(e)),
            },
            Command::Routes { call, op } => {
                let result = self.find(&call).and_then(|key| self.route_op(now, key, op));
                self.reply(reply, result);
            }
            Command::Calls => {
                let all = self.calls.values().map(|e| self.full_status(e)).collect();
                self.reply(reply, Ok(Reply::Calls(all)));
            }
            Command::MediaAnswer { token, body } => {
                let result = self.media_answer(now, &token, &body).map(|()| Reply::Done);
                if result.is_err() {
                    self.stats.answers_refused += 1;
                }
                self.reply(reply, result);
            }
            Command::Drain => {
                self.draining = true;
                let live: Vec<CallKey> = self
                    .calls
                    .iter()
                    .filter(|(_, e)| e.phase.is_live() || matches!(e.phase, Phase::Ending { .. }))
                    .map(|(k, _)| *k)
                    .collect();
                tracing::info!(calls = live.len(), "draining: hanging up every call");
                for key in live {
                    self.hang_up(now, key);
                }
                self.drain_waiters.push(reply);
            }
            Command::Abandon => {
                self.draining = true;
                let open: Vec<CallKey> = self
                    .calls
                    .iter()
                    .filter(|(_, e)| e.phase.is_live() || matches!(e.phase, Phase::Ending { .. }))
                    .map(|(k, _)| *k)
                    .collect();
                for key in open {
                    let end = EndReport {
                        cause: "Shutdown".into(),
                        message: Some("Graph did not confirm the hang-up before shutdown".into()),
                        ..EndReport::default()
                    };
                    self.end_call(now, key, end);
                }
                self.abandon_waiters.push(reply);
            }
        }
        self.pump(now);
    }

    /// A callback Graph delivered (already authenticated).
    pub fn handle_notifications(&mut self, now: Instant, notifications: CommsNotifications) {
        self.endpoint.handle_notifications(now, notifications);
        self.pump(now);
    }

    /// The result of an [`Output::Graph`] request.
    pub fn handle_graph_response(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<GraphReply, GraphFailure>,
    ) {
        self.endpoint.handle_response(now, id, result);
        self.pump(now);
    }

    /// The result of an [`Output::Routing`] request.
    pub fn handle_routing_response(
        &mut self,
        now: Instant,
        key: CallKey,
        id: RoutingRequestId,
        result: Result<RoutingReply, GraphFailure>,
    ) {
        if let Some(routing) = self.calls.get_mut(&key).and_then(|e| e.routing.as_mut()) {
            routing.reconciler.handle_response(now, id, result);
            routing.dirty = true;
        }
        self.pump(now);
    }

    /// A result of a [`Output::Media`] action.
    pub fn handle_media(&mut self, now: Instant, key: CallKey, event: MediaEvent) {
        self.media_event(now, key, event);
        self.pump(now);
    }

    /// The outcome of an [`Output::WriteReport`].
    pub fn handle_report_written(
        &mut self,
        now: Instant,
        key: CallKey,
        result: Result<PathBuf, String>,
    ) {
        if let Some(entry) = self.calls.get_mut(&key)
            && matches!(entry.phase, Phase::Reporting)
        {
            let report = match result {
                Ok(path) => Some(path),
                Err(error) => {
                    tracing::error!(call = %key, %error, "report.json could not be written");
                    None
                }
            };
            tracing::info!(
                call = %key,
                call_id = entry.call_id_str().unwrap_or("-"),
                report = report.as_ref().map(|p| p.display().to_string()),
                "call finished"
            );
            entry.phase = Phase::Done { report };
            entry.status_dirty = true;
            self.done.push_back(key);
        }
        self.pump(now);
    }

    /// Time passed: keepAlives, answer deadlines, routing retries.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.endpoint_deadline.is_some_and(|at| at <= now)
            || self.endpoint.poll_timeout().is_some_and(|at| at <= now)
        {
            self.endpoint_deadline = None;
            self.endpoint.handle_timeout(now);
        }
        let due: Vec<(CallKey, bool, bool)> = self
            .calls
            .iter()
            .map(|(k, e)| {
                (
                    *k,
                    e.phase.deadline().is_some_and(|at| at <= now),
                    e.routing
                        .as_ref()
                        .and_then(|r| r.deadline)
                        .is_some_and(|at| at <= now),
                )
            })
            .filter(|(_, a, b)| *a || *b)
            .collect();
        for (key, phase_due, routing_due) in due {
            if routing_due
                && let Some(routing) = self.calls.get_mut(&key).and_then(|e| e.routing.as_mut())
            {
                routing.deadline = None;
                routing.reconciler.handle_timeout(now);
                routing.dirty = true;
            }
            if phase_due {
                let what = match self.calls.get(&key).map(|e| &e.phase) {
                    Some(Phase::AwaitingAnswer { .. }) => format!(
                        "no media answer within {} s",
                        self.config.media_answer_timeout.as_secs()
                    ),
                    Some(Phase::Connecting { .. }) => format!(
                        "media did not connect within {} s",
                        self.config.media_connect_timeout.as_secs()
                    ),
                    _ => continue,
                };
                self.fail_media(now, key, what);
            }
        }
        self.pump(now);
    }

    // --- commands -----------------------------------------------------------------------------

    fn join(&mut self, now: Instant, join_url: String, reply: ReplyTo) {
        if let Err(e) = self.admit() {
            self.stats.joins_refused += 1;
            self.reply(reply, Err(e));
            return;
        }
        let link = match parse_join_url(&join_url) {
            Ok(link) => link,
            Err(e) => {
                self.reply(
                    reply,
                    Err(ControlError::new(
                        ErrorKind::BadRequest,
                        format!("the join URL: {e}"),
                    )),
                );
                return;
            }
        };
        let key = self.new_entry(now, Origin::Join(Box::new(link)), join_url);
        tracing::info!(call = %key, "join requested");
        self.offer(key);
        self.reply(reply, Ok(Reply::Joined(key)));
    }

    fn admit(&self) -> Result<(), ControlError> {
        if self.draining {
            return Err(ControlError::new(
                ErrorKind::Unavailable,
                "the bot is shutting down",
            ));
        }
        if self.live_calls() >= self.config.max_calls {
            return Err(ControlError::new(
                ErrorKind::Unavailable,
                format!("the bot has {} calls, its limit", self.config.max_calls),
            ));
        }
        Ok(())
    }

    fn new_entry(&mut self, now: Instant, origin: Origin, join_url: String) -> CallKey {
        let key = CallKey(self.next_key);
        self.next_key += 1;
        let dir = if self.config.single_call_dir {
            self.config.out_dir.clone()
        } else {
            self.config.out_dir.join(format!("call-{key}"))
        };
        let call_id = match &origin {
            Origin::Incoming(id) => Some(id.clone()),
            Origin::Join(_) => None,
        };
        if let Some(id) = &call_id {
            self.by_call_id.insert(id.clone(), key);
        }
        self.calls
            .insert(key, Entry::new(key, origin, join_url, call_id, dir, now));
        key
    }

    fn offer(&mut self, key: CallKey) {
        if let Some(entry) = self.calls.get_mut(&key) {
            entry.media = MediaState::Busy;
            entry.status_dirty = true;
            let mp_base = format!("{}/mp", self.config.public_base);
            self.outputs.push_back(Output::Media {
                key,
                action: MediaAction::Offer { mp_base },
            });
        }
    }

    fn find(&self, call: &str) -> Result<CallKey, ControlError> {
        let by_id = self.by_call_id.get(&CallId::new(call.to_string())).copied();
        let by_key = call
            .parse::<u64>()
            .ok()
            .map(CallKey)
            .filter(|k| self.calls.contains_key(k));
        by_id
            .or(by_key)
            .ok_or_else(|| ControlError::new(ErrorKind::NotFound, format!("no call {call}")))
    }

    fn hang_up(&mut self, now: Instant, key: CallKey) {
        let Some(entry) = self.calls.get_mut(&key) else {
            return;
        };
        // Asked again while ending: Graph may have refused the first hang-up (the call then
        // stays up at Graph and is kept alive), so it is sent again unless one is in flight.
        let ending = matches!(entry.phase, Phase::Ending { .. });
        if !entry.phase.is_live() && !ending {
            return;
        }
        match entry.call_id.clone() {
            Some(call_id) => {
                match self.endpoint.with_call(&call_id, |c| c.hang_up(now)) {
                    Ok(_) => {
                        tracing::info!(call = %key, %call_id, "hanging up");
                        entry.phase = Phase::Ending { since: now };
                        entry.status_dirty = true;
                    }
                    // In flight, or accepted and awaiting Graph's confirmation.
                    Err(EndpointError::Call(CallError::Ended)) if ending => {}
                    Err(error) => {
                        // The endpoint no longer knows it (ended meanwhile): end it here.
                        tracing::info!(call = %key, %call_id, %error, "hang-up: the call is already gone");
                        let end = EndReport {
                            cause: "Graph".into(),
                            message: Some(error.to_string()),
                            ..EndReport::default()
                        };
                        self.end_call(now, key, end);
                    }
                }
            }
            None if self.by_create.values().any(|k| *k == key) => {
                // The create request is in flight: hang up as soon as Graph names the call.
                entry.hang_up_wanted = true;
                entry.phase = Phase::Ending { since: now };
                entry.status_dirty = true;
            }
            None => {
                let end = EndReport {
                    cause: "Cancelled".into(),
                    message: Some("hung up before the call was created".into()),
                    ..EndReport::default()
                };
                self.end_call(now, key, end);
            }
        }
    }

    fn speak(
        &mut self,
        key: CallKey,
        request: SpeakRequest,
        clip: Option<std::sync::Arc<PcmClip>>,
        reply: ReplyTo,
    ) {
        let connected = self.calls.get(&key).is_some_and(|e| {
            e.media == MediaState::Open && matches!(e.phase, Phase::Connected { .. })
        });
        if !connected {
            self.reply(
                reply,
                Err(ControlError::new(
                    ErrorKind::Conflict,
                    "the call's media is not connected",
                )),
            );
            return;
        }
        // The runtime answers: it holds the session.
        self.outputs.push_back(Output::Media {
            key,
            action: MediaAction::Speak {
                request,
                clip,
                reply,
            },
        });
    }

    fn route_op(&mut self, now: Instant, key: CallKey, op: RouteOp) -> Result<Reply, ControlError> {
        let entry = self.calls.get_mut(&key).expect("found above");
        let Some(routing) = entry.routing.as_mut() else {
            return Err(ControlError::new(
                ErrorKind::Conflict,
                format!("call {key} is not established yet"),
            ));
        };
        let bot = routing.bot.clone();
        routing.dirty = true;
        match op {
            RouteOp::Upsert(name, spec) => {
                let route = crate::routing::to_route(&bot, &name, spec)
                    .map_err(|e| ControlError::new(ErrorKind::BadRequest, format!("{e:#}")))?;
                routing
                    .reconciler
                    .upsert_route(now, route)
                    .map_err(|e| ControlError::new(ErrorKind::BadRequest, e.to_string()))?;
                Ok(Reply::Done)
            }
            RouteOp::Remove(name) => {
                let removed = RouteName::new(name)
                    .map(|n| routing.reconciler.remove_route(now, &n))
                    .unwrap_or(false);
                Ok(Reply::Removed(removed))
            }
            RouteOp::List => Ok(Reply::Routes(crate::routing::views(&routing.reconciler))),
        }
    }

    fn media_answer(&mut self, now: Instant, token: &str, body: &str) -> Result<(), ControlError> {
        let unknown = || {
            ControlError::new(
                ErrorKind::NotFound,
                "no media session awaits an answer here",
            )
        };
        let key = *self.by_token.get(token).ok_or_else(unknown)?;
        let entry = self.calls.get_mut(&key).ok_or_else(unknown)?;
        let Phase::AwaitingAnswer { offer, .. } = &entry.phase else {
            return Err(ControlError::new(
                ErrorKind::Conflict,
                "this media session has its answer already",
            ));
        };
        // Checked against the offer before anything touches the waiting session: a stray or
        // forged answer is refused and the genuine one still connects.
        let answer = parse_answer(body).map_err(|e| {
            ControlError::new(ErrorKind::BadRequest, format!("invalid media answer: {e}"))
        })?;
        answer.check_against(offer).map_err(|e| {
            ControlError::new(
                ErrorKind::BadRequest,
                format!("the answer does not match the offer: {e}"),
            )
        })?;
        entry.phase = Phase::Connecting {
            deadline: now + self.config.media_connect_timeout,
        };
        entry.media = MediaState::Busy;
        entry.status_dirty = true;
        // A proposal: the runtime records into a new `<UTC>-<this name>` folder next to it.
        if !self.config.single_call_dir {
            let name = entry
                .call_id
                .as_ref()
                .map_or_else(|| format!("call-{key}"), |id| id.as_str().to_string());
            entry.dir = self.config.out_dir.join(name);
        }
        let dir = entry.dir.clone();
        self.outputs.push_back(Output::Media {
            key,
            action: MediaAction::Connect {
                answer: Box::new(answer),
                dir,
            },
        });
        Ok(())
    }

    // --- media --------------------------------------------------------------------------------

    fn media_event(&mut self, now: Instant, key: CallKey, event: MediaEvent) {
        let Some(entry) = self.calls.get_mut(&key) else {
            return;
        };
        match event {
            MediaEvent::Offered { token, offer } => {
                entry.media = MediaState::Open;
                if entry.close_wanted || !matches!(entry.phase, Phase::Offering) {
                    self.close_media(key);
                    return;
                }
                let blob = offer.to_blob_string();
                self.by_token.insert(token.clone(), key);
                entry.token = Some(token);
                let callback_uri = format!("{}/api/calling", self.config.public_base);
                let sent = match &entry.origin {
                    Origin::Join(link) => {
                        let mut call = GraphCall {
                            callback_uri: Some(callback_uri),
                            requested_modalities: vec![Modality::Audio],
                            media_config: Some(MediaConfig::app_hosted(blob)),
                            ..GraphCall::default()
                        };
                        link.apply_to(&mut call, Some(&self.config.tenant));
                        let id = self.endpoint.create_call(now, call);
                        self.by_create.insert(id, key);
                        Ok(())
                    }
                    Origin::Incoming(call_id) => {
                        let answer = AnswerRequest {
                            callback_uri: Some(callback_uri),
                            accepted_modalities: vec![Modality::Audio],
                            media_config: MediaConfig::app_hosted(blob),
                            participant_capacity: None,
                            call_options: None,
                        };
                        self.endpoint
                            .with_call(call_id, |c| c.answer(now, answer))
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    }
                };
                let entry = self.calls.get_mut(&key).expect("present above");
                entry.phase = Phase::AwaitingAnswer {
                    offer,
                    deadline: now + self.config.media_answer_timeout,
                };
                entry.status_dirty = true;
                if let Err(error) = sent {
                    tracing::warn!(call = %key, %error, "cannot answer the incoming call");
                    let end = EndReport {
                        cause: "AnswerFailed".into(),
                        message: Some(error),
                        ..EndReport::default()
                    };
                    self.end_call(now, key, end);
                }
            }
            MediaEvent::OfferFailed(error) => {
                entry.media = MediaState::None;
                tracing::warn!(call = %key, %error, "the media session could not be created");
                entry.failure = Some(format!("media offer: {error}"));
                if entry.close_wanted || !entry.phase.is_live() {
                    self.close_media(key);
                    self.try_report(now, key);
                    return;
                }
                match entry.call_id.clone() {
                    Some(_) => self.hang_up(now, key),
                    None => {
                        let end = EndReport {
                            cause: "MediaFailed".into(),
                            message: Some(error),
                            ..EndReport::default()
                        };
                        self.end_call(now, key, end);
                    }
                }
            }
            MediaEvent::Connected => {
                entry.media = MediaState::Open;
                if entry.close_wanted || !matches!(entry.phase, Phase::Connecting { .. }) {
                    self.close_media(key);
                    return;
                }
                entry.media_connected = Some(now);
                entry.phase = Phase::Connected { since: now };
                entry.status_dirty = true;
                tracing::info!(
                    call = %key,
                    call_id = entry.call_id_str().unwrap_or("-"),
                    ms = (now - entry.started).as_millis() as u64,
                    "media connected"
                );
                // Names go to the recorder as its sources are heard (MediaEvent::SourceHeard):
                // a town hall's silent thousands never cost a message.
            }
            MediaEvent::ConnectFailed(error) => {
                entry.media = MediaState::Open;
                if entry.close_wanted || !entry.phase.is_live() {
                    self.close_media(key);
                    return;
                }
                self.fail_media(now, key, format!("media did not connect: {error}"));
            }
            MediaEvent::Recording { dir } => entry.dir = dir,
            MediaEvent::SourceHeard { msi } => {
                if entry.heard.len() < MAX_SOURCES && entry.heard.insert(msi) {
                    let name = entry.sources.get(&msi).and_then(|(_, n)| n.clone());
                    if let (Some(name), MediaState::Open) = (name, &entry.media) {
                        self.outputs.push_back(Output::Media {
                            key,
                            action: MediaAction::Name { msi, name },
                        });
                    }
                }
            }
            MediaEvent::FirstAudio => {
                if !entry.first_audio {
                    entry.first_audio = true;
                    tracing::info!(
                        call = %key,
                        call_id = entry.call_id_str().unwrap_or("-"),
                        ms = (now - entry.started).as_millis() as u64,
                        "first audio"
                    );
                }
            }
            MediaEvent::FramesEnded => {
                if entry.media == MediaState::Open && entry.phase.is_live() {
                    self.fail_media(now, key, "the audio thread stopped".into());
                }
            }
            MediaEvent::Dominant { msi, ssrc } => {
                let who = msi
                    .map(|m| {
                        entry
                            .sources
                            .get(&m)
                            .and_then(|(_, n)| n.clone())
                            .unwrap_or_else(|| format!("msi {m}"))
                    })
                    .or_else(|| ssrc.map(|s| format!("ssrc {s}")));
                if entry.dominant != who {
                    entry.dominant = who;
                    entry.status_dirty = true;
                }
            }
            MediaEvent::Closed(summary) => {
                if let Some(panic) = &summary.receive.panic {
                    entry.failure = Some(format!("the audio thread panicked: {panic}"));
                    tracing::error!(call = %key, call_id = entry.call_id_str().unwrap_or("-"), %panic, "the audio thread panicked");
                }
                if let Some(error) = &summary.recorder_error {
                    entry
                        .failure
                        .get_or_insert_with(|| format!("recorder: {error}"));
                }
                entry.media = MediaState::Closed(summary);
                // The failure may have changed while the call is still ending at Graph.
                entry.status_dirty = true;
                self.try_report(now, key);
            }
        }
    }

    /// The call's media is broken: say why, close what is left, and leave the meeting (a bot that
    /// stays in a meeting deaf would claim a recording it does not make).
    fn fail_media(&mut self, now: Instant, key: CallKey, cause: String) {
        let Some(entry) = self.calls.get_mut(&key) else {
            return;
        };
        tracing::error!(call = %key, call_id = entry.call_id_str().unwrap_or("-"), %cause, "media failed");
        entry.failure.get_or_insert(cause.clone());
        entry.status_dirty = true;
        self.close_media(key);
        let entry = self.calls.get(&key).expect("present above");
        if entry.call_id.is_some() || self.by_create.values().any(|k| *k == key) {
            self.hang_up(now, key);
        } else {
            let end = EndReport {
                cause: "MediaFailed".into(),
                message: Some(cause),
                ..EndReport::default()
            };
            self.end_call(now, key, end);
        }
    }

    fn close_media(&mut self, key: CallKey) {
        let Some(entry) = self.calls.get_mut(&key) else {
            return;
        };
        match entry.media {
            MediaState::Open => {
                entry.media = MediaState::Closing;
                self.outputs.push_back(Output::Media {
                    key,
                    action: MediaAction::Close,
                });
            }
            MediaState::Busy => entry.close_wanted = true,
            MediaState::None => {
                entry.media = MediaState::Closed(Box::default());
            }
            MediaState::Closing | MediaState::Closed(_) => {}
        }
    }

    /// The call is over (at Graph, or given up here): close its media, then write its report.
    fn end_call(&mut self, now: Instant, key: CallKey, end: EndReport) {
        let Some(entry) = self.calls.get_mut(&key) else {
            return;
        };
        if matches!(
            entry.phase,
            Phase::Closing { .. } | Phase::Reporting | Phase::Done { .. }
        ) {
            return;
        }
        tracing::info!(
            call = %key,
            call_id = entry.call_id_str().unwrap_or("-"),
            cause = %end.cause,
            code = end.code,
            subcode = end.subcode,
            message = end.message.as_deref(),
            participants = entry.peak_participants,
            "call ended"
        );
        entry.end_cause = Some(end.cause.clone());
        entry.phase = Phase::Closing { end: Box::new(end) };
        entry.status_dirty = true;
        // The call's routing groups end with it: a reconciler left running would retry its
        // requests (a failed list forever) against a call Graph no longer has.
        entry.routing = None;
        if let Some(token) = entry.token.take() {
            self.by_token.remove(&token);
        }
        self.by_create.retain(|_, k| *k != key);
        self.close_media(key);
        self.try_report(now, key);
    }

    /// Once the call ended and its media is closed, build the report and have it written.
    fn try_report(&mut self, now: Instant, key: CallKey) {
        let Some(entry) = self.calls.get_mut(&key) else {
            return;
        };
        let (Phase::Closing { end }, MediaState::Closed(summary)) = (&entry.phase, &entry.media)
        else {
            return;
        };
        let report = build_report(entry, summary, end, now);
        let path = entry.dir.join("report.json");
        entry.phase = Phase::Reporting;
        entry.status_dirty = true;
        self.outputs.push_back(Output::WriteReport {
            key,
            path,
            report: Box::new(report),
        });
    }

    // --- the endpoint's events ----------------------------------------------------------------

    /// Drains every state machine's outputs, then emits one status per changed call.
    fn pump(&mut self, now: Instant) {
        // Set again by the drain's last output; none when no call needs a timer any more.
        self.endpoint_deadline = None;
        while let Some(output) = self.endpoint.poll_output() {
            match output {
                EndpointOutput::Request(request) => self.outputs.push_back(Output::Graph(request)),
                EndpointOutput::Event(event) => self.endpoint_event(now, event),
                // The deadline is the last output of a drain (asked again, it comes again).
                EndpointOutput::Timeout(at) => {
                    self.endpoint_deadline = Some(at);
                    break;
                }
            }
        }
        let keys: Vec<CallKey> = self
            .calls
            .iter()
            .filter(|(_, e)| e.status_dirty || e.routing.as_ref().is_some_and(|r| r.dirty))
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            self.pump_routing(key);
            let entry = self.calls.get_mut(&key).expect("listed above");
            if entry.status_dirty {
                entry.status_dirty = false;
                let status = self.status_of(&self.calls[&key]);
                self.outputs.push_back(Output::Status {
                    key,
                    status: Box::new(status),
                });
            }
        }
        self.forget_old();
        self.answer_waiters();
    }

    fn pump_routing(&mut self, key: CallKey) {
        let Some(entry) = self.calls.get_mut(&key) else {
            return;
        };
        let Some(call) = entry.call_id.clone() else {
            return;
        };
        let Some(routing) = entry.routing.as_mut().filter(|r| r.dirty) else {
            return;
        };
        routing.dirty = false;
        while let Some(output) = routing.reconciler.poll_output() {
            match output {
                RoutingOutput::Request(request) => self.outputs.push_back(Output::Routing {
                    key,
                    call: call.clone(),
                    request,
                }),
                RoutingOutput::Event(event) => tracing::debug!(call = %key, ?event, "routing"),
                RoutingOutput::Timeout(at) => {
                    routing.deadline = Some(at);
                    break;
                }
            }
        }
        let bot_routes = routing.reconciler.bot_routes();
        if bot_routes != routing.published {
            let built = routing.pool.table(&bot_routes);
            if !built.unassigned.is_empty() {
                tracing::warn!(call = %key, routes = ?built.unassigned, "the bot has one outgoing stream; extra bot routes stay silent");
            }
            routing.published = bot_routes;
            self.outputs.push_back(Output::Media {
                key,
                action: MediaAction::Routes(Box::new(built.table)),
            });
        }
    }

    fn endpoint_event(&mut self, now: Instant, event: EndpointEvent) {
        match event {
            EndpointEvent::CallCreated {
                call_id,
                request_id,
            } => {
                let Some(key) = self.by_create.remove(&request_id) else {
                    return;
                };
                self.by_call_id.insert(call_id.clone(), key);
                let Some(entry) = self.calls.get_mut(&key) else {
                    return;
                };
                tracing::info!(call = %key, %call_id, "call created");
                entry.call_id = Some(call_id);
                entry.status_dirty = true;
                if entry.hang_up_wanted {
                    entry.phase = Phase::Offering; // let hang_up act on a live phase
                    self.hang_up(now, key);
                }
            }
            EndpointEvent::CreateFailed {
                request_id,
                failure,
            } => {
                let Some(key) = self.by_create.remove(&request_id) else {
                    return;
                };
                tracing::warn!(call = %key, %failure, "the create-call request failed");
                let (code, subcode) = failure_codes(&failure);
                let end = EndReport {
                    cause: "CreateFailed".into(),
                    code,
                    subcode,
                    message: Some(failure.to_string()),
                };
                self.end_call(now, key, end);
            }
            EndpointEvent::Call { call_id, event } => {
                if let CallEvent::Incoming { .. } = event {
                    self.incoming(now, call_id);
                    return;
                }
                let Some(&key) = self.by_call_id.get(&call_id) else {
                    return;
                };
                self.call_event(now, key, &call_id, event);
            }
            EndpointEvent::CallRemoved { .. } => {}
            other => tracing::debug!(event = ?other, "endpoint"),
        }
    }

    fn incoming(&mut self, now: Instant, call_id: CallId) {
        let refuse = if !self.config.answer_incoming {
            Some(RejectReason::Busy)
        } else {
            self.admit().err().map(|_| RejectReason::Busy)
        };
        if let Some(reason) = refuse {
            self.stats.incoming_rejected += 1;
            tracing::info!(%call_id, "rejecting an incoming call");
            let _ = self.endpoint.with_call(&call_id, |c| c.reject(now, reason));
            return;
        }
        let key = self.new_entry(now, Origin::Incoming(call_id.clone()), String::new());
        tracing::info!(call = %key, %call_id, "answering an incoming call");
        self.offer(key);
    }

    fn call_event(&mut self, now: Instant, key: CallKey, call_id: &CallId, event: CallEvent) {
        let endpoint = &self.endpoint;
        let Some(entry) = self.calls.get_mut(&key) else {
            return;
        };
        match event {
            CallEvent::StateChanged { to, .. } => {
                tracing::info!(call = %key, %call_id, state = ?to, "call state");
                let established = to == CallState::Established;
                entry.graph_state = Some(to);
                entry.status_dirty = true;
                if established && entry.routing.is_none() {
                    let call = endpoint.call(call_id);
                    let roster = call.map(|c| c.roster());
                    tracing::info!(
                        call = %key,
                        %call_id,
                        participants = roster.map_or(0, |r| r.len()),
                        "established"
                    );
                    let bot = call.and_then(|c| c.my_participant_id()).cloned();
                    if let Some(bot) = bot {
                        match Routing::new(bot, self.config.bot_ssrc) {
                            Ok(mut routing) => {
                                if let Some(roster) = roster {
                                    routing.reconciler.handle_roster_ids(
                                        now,
                                        roster
                                            .participants()
                                            .filter(|p| !p.in_lobby() && p.removed_state.is_none())
                                            .filter_map(|p| p.id.clone()),
                                    );
                                }
                                entry.routing = Some(routing);
                            }
                            Err(error) => {
                                tracing::warn!(call = %key, %error, "no routing for this call");
                            }
                        }
                    }
                }
            }
            CallEvent::ParticipantJoined {
                participant,
                in_lobby,
                ..
            } => {
                entry.roster_changed(endpoint.call(call_id));
                if !in_lobby && let Some(routing) = entry.routing.as_mut() {
                    routing.present(now, &participant);
                }
            }
            CallEvent::ParticipantAdmitted { participant } => {
                entry.roster_changed(endpoint.call(call_id));
                if let Some(routing) = entry.routing.as_mut() {
                    routing.present(now, &participant);
                }
            }
            CallEvent::ParticipantLeft { participant, .. } => {
                entry.roster_changed(endpoint.call(call_id));
                if let Some(routing) = entry.routing.as_mut() {
                    routing.gone(now, &participant);
                }
            }
            CallEvent::MsiMapped { msi, participant } => {
                let name = endpoint
                    .call(call_id)
                    .and_then(|c| c.roster().participant(&participant))
                    .and_then(display_name);
                if entry.sources.len() >= MAX_SOURCES && !entry.sources.contains_key(&msi.0) {
                    self.stats.sources_unnamed += 1;
                    return;
                }
                entry.sources.insert(msi.0, (participant, name.clone()));
                if let (Some(name), MediaState::Open, true) =
                    (name, &entry.media, entry.heard.contains(&msi.0))
                {
                    self.outputs.push_back(Output::Media {
                        key,
                        action: MediaAction::Name { msi: msi.0, name },
                    });
                }
            }
            CallEvent::CallEnded { result_info, cause } => {
                let end = end_report(result_info.as_ref(), cause);
                self.end_call(now, key, end);
            }
            CallEvent::KeepAliveOverdue { .. } => {
                tracing::warn!(call = %key, %call_id, "keepAlive overdue: Graph may end the call");
            }
            CallEvent::KeepAliveFailed { failure } => {
                tracing::warn!(call = %key, %call_id, %failure, "keepAlive failed; retrying");
            }
            CallEvent::RequestFailed {
                action, failure, ..
            } => {
                tracing::warn!(call = %key, %call_id, action, %failure, "Graph request failed");
            }
            CallEvent::RosterGap { .. } => {
                // A full snapshot resynchronises the delta sequence.
                let _ = self.endpoint.with_call(call_id, |c| c.refresh_roster(now));
            }
            other => tracing::debug!(call = %key, event = ?other, "call event"),
        }
    }

    // --- bookkeeping --------------------------------------------------------------------------

    fn reply(&mut self, to: ReplyTo, result: Result<Reply, ControlError>) {
        let reply = result.unwrap_or_else(Reply::Failed);
        self.outputs.push_back(Output::Reply { to, reply });
    }

    fn forget_old(&mut self) {
        while self.done.len() > self.config.keep_done {
            let Some(key) = self.done.pop_front() else {
                break;
            };
            if let Some(entry) = self.calls.remove(&key)
                && let Some(id) = entry.call_id
                && self.by_call_id.get(&id) == Some(&key)
            {
                self.by_call_id.remove(&id);
            }
            self.outputs.push_back(Output::Forget(key));
        }
    }

    fn answer_waiters(&mut self) {
        let open = self.calls.values().any(|e| !e.phase.is_done());
        if open {
            return;
        }
        for to in std::mem::take(&mut self.drain_waiters)
            .into_iter()
            .chain(std::mem::take(&mut self.abandon_waiters))
        {
            self.outputs.push_back(Output::Reply {
                to,
                reply: Reply::Done,
            });
        }
    }

    fn status_of(&self, entry: &Entry) -> CallStatus {
        let roster = entry
            .call_id
            .as_ref()
            .and_then(|id| self.endpoint.call(id))
            .map(|c| c.roster());
        CallStatus {
            key: entry.key.0,
            call_id: entry.call_id.as_ref().map(|c| c.as_str().to_string()),
            state: entry.state_name(),
            graph_state: entry.graph_state.as_ref().map(|s| format!("{s:?}")),
            participant_count: roster.map_or(entry.last_participants, |r| r.len()),
            participants: roster
                .map(|r| {
                    r.participants()
                        .filter_map(display_name)
                        .take(STATUS_NAMES)
                        .collect()
                })
                .unwrap_or_default(),
            dominant_speaker: entry.dominant.clone(),
            end_cause: entry.end_cause.clone(),
            failure: entry.failure.clone(),
            ended: entry.phase.is_done(),
            report: match &entry.phase {
                Phase::Done { report } => report.clone(),
                _ => None,
            },
        }
    }

    /// Like [`Orchestrator::status_of`], with every display name (for `GET /control/calls`).
    fn full_status(&self, entry: &Entry) -> CallStatus {
        let mut status = self.status_of(entry);
        if let Some(roster) = entry
            .call_id
            .as_ref()
            .and_then(|id| self.endpoint.call(id))
            .map(|c| c.roster())
        {
            status.participants = roster.participants().filter_map(display_name).collect();
        }
        status
    }
}

/// A join URL without its meeting passcode (`p=`): reports are shared more widely than the
/// link should be.
pub fn without_passcode(join_url: &str) -> String {
    let Ok(mut url) = url::Url::parse(join_url) else {
        return join_url.to_string();
    };
    if !url.query_pairs().any(|(k, _)| k.eq_ignore_ascii_case("p")) {
        return join_url.to_string();
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("p"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url.to_string()
}

fn display_name(p: &mediabot_signaling::models::Participant) -> Option<String> {
    p.identity()
        .and_then(|i| i.primary())
        .and_then(|i| i.display_name.clone())
}

fn failure_codes(failure: &GraphFailure) -> (Option<i32>, Option<i32>) {
    match failure {
        GraphFailure::Status { status, code, .. } => {
            (Some(i32::from(*status)), code.trim().parse().ok())
        }
        _ => (None, None),
    }
}

fn end_report(result_info: Option<&ResultInfo>, cause: EndCause) -> EndReport {
    EndReport {
        cause: format!("{cause:?}"),
        code: result_info.and_then(|r| r.code),
        subcode: result_info.and_then(|r| r.subcode),
        message: result_info.and_then(|r| r.message.clone()),
    }
}

fn build_report(
    entry: &Entry,
    summary: &MediaSummary,
    end: &EndReport,
    now: Instant,
) -> CallReport {
    let receive = &summary.receive;
    let participants = summary
        .sources
        .iter()
        .map(|source| {
            let stats = receive.sources.iter().find(|s| s.ssrc == source.ssrc);
            let named = source.msi.and_then(|m| entry.sources.get(&m));
            ParticipantReport {
                id: named.map(|(p, _)| p.as_str().to_string()),
                display_name: named.and_then(|(_, n)| n.clone()),
                msi: source.msi,
                ssrc: source.ssrc,
                wav: source.wav.clone(),
                frames: source.frames,
                speaking_seconds: source.speaking_frames as f64 / 50.0,
                packets: stats.map_or(0, |s| s.jitter.packets),
                lost: stats.map_or(0, |s| s.jitter.lost),
                late: stats.map_or(0, |s| s.jitter.late),
                concealed_frames: source.concealed_frames,
                fec_recovered: stats.map_or(0, |s| s.fec_recovered),
                jitter_ms: stats.map_or(0.0, |s| f64::from(s.jitter.jitter) / 48.0),
            }
        })
        .collect();
    let ms = |t: Instant| t.saturating_duration_since(entry.started).as_secs_f64() * 1_000.0;
    CallReport {
        call_id: entry.call_id_str().unwrap_or_default().to_string(),
        join_url: without_passcode(&entry.join_url),
        join_latency_ms: summary.first_frame_at.map(ms),
        media_connected_ms: entry.media_connected.map(ms),
        duration_seconds: now.saturating_duration_since(entry.started).as_secs_f64(),
        rtt_ms: receive.receiver.rtt_us.map(|us| us as f64 / 1_000.0),
        mixed_wav: (summary.mixed_frames > 0).then(|| "mixed.wav".to_string()),
        peak_participants: entry.peak_participants,
        participants,
        drops: DropReport {
            input_dropped: receive.input_dropped,
            oversize: receive.oversize,
            frames_dropped: receive.frames_dropped,
            late_ticks: receive.late_ticks,
            recorder_names_dropped: summary.recorder_names_dropped,
        },
        media_failure: entry.failure.clone(),
        end: end.clone(),
    }
}

#[cfg(test)]
mod tests;
