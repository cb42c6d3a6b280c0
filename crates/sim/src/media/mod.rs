//! The simulated Teams media processor: negotiates from the bot's app-hosted media blob,
//! streams each virtual participant's audio to the bot over ICE + DTLS-SRTP (RTP/Opus), and
//! records what each participant heard of the bot.
//!
//! # How a call's media runs
//! ```text
//!  attach (sync, on the simulator's worker) ── parse_blob ──✗──► MediaRejected (call fails 500/1203002)
//!      └─ spawned task: MediaSession::answer ─► POST answer to mpUri (retried briefly) ─► wait_connected
//!            ├─ feeder thread: every 10 ms tops each send stream up to ~100 ms of queued PCM
//!            │    (tones in phase, WAVs looped) from the participants that are present, unmuted,
//!            │    speaking and routed to the bot; nothing otherwise (idle streams send no RTP)
//!            ├─ receive thread: decoded frames of the bot's SSRC(s) → per-participant HeardLog,
//!            │    for the participants the routing rule lets hear the bot at that moment
//!            └─ waits for detach, snapshotting transport and send counters every 200 ms
//!  detach ── stop ─► threads joined, MediaSession::close
//! ```
//! The simulator's events (`participant_*`, `routing_changed`) only update a small per-call
//! state under a mutex that is held for a few field updates; the threads read it once per
//! 10 ms (feeder) or once per received frame (receiver).
//!
//! # Crowds
//! A meeting's generated crowd ([`SimParticipant::crowd`]) can be thousands strong, so it costs
//! no more than counters: crowd members are silent (no send stream, nothing for the feeder), they
//! are found by id rather than by scanning, and what each hears of the bot is counted
//! ([`HeardReport::seconds`], [`HeardReport::routed_seconds`], [`HeardReport::rms`]) but not
//! recorded (no [`SimMediaProcessor::heard_samples`], no `dominant_hz`).
//!
//! # Stream layout
//! The transport fixes its local SSRCs when it is created, so a call's send streams are declared
//! at attach time from every participant known up front (the scenario's participants given to
//! [`SimMediaConfig::participants`] or [`SimMediaProcessor::add_known_participants`], plus those
//! present at attach). Two layouts exist
//! ([`StreamLayout`]):
//! - **unmixed**: one stream per participant with audio, SSRC derived from the MSI
//!   ([`ssrc_for_msi`]) and the MSI in the answer's stream plan, so the bot attributes each
//!   stream; a participant unknown at attach gets no stream;
//! - **mixed**: one stream without an MSI carrying the sum of everyone the bot may hear.
//!
//! [`StreamLayout::Auto`] picks unmixed when the bot's blob asks for unmixed audio (`unmixed` or
//! `both`) and its `maxUnmixedStreams` covers every participant with audio, mixed otherwise; it
//! also falls back to mixed if the transport refuses several local streams (mediabot-media's
//! transport did, before it learnt to send several SSRCs on its one m-line).
//! [`SimMediaProcessor::report`] tells the layout a call got. Teams' "top four active
//! speakers" stream switching is not simulated: a call with more speakers than the bot's
//! `maxUnmixedStreams` gets the mix.
//!
//! # Routing
//! See [`routing`] for the rule. `removeFromDefaultAudioGroup` is not part of [`MediaAttach`], so
//! it is a processor-wide setting ([`SimMediaConfig::remove_bot_from_default_audio_group`]). Participants the bot must not hear are not fed into its
//! streams at all; bot audio is accounted to a participant only while the rule routes it there.
//!
//! # Plugging it into the simulator
//! ```no_run
//! # async fn demo(config: mediabot_sim::SimConfig) -> Result<(), mediabot_sim::SimError> {
//! use std::sync::Arc;
//! use mediabot_sim::{SimMediaConfig, SimMediaProcessor, Simulator};
//!
//! let media = SimMediaProcessor::new(tokio::runtime::Handle::current(), SimMediaConfig::default());
//! let sim = Simulator::start_with_media(config, Arc::new(media.clone())).await?;
//! // Scenario participants who join after the bot get unmixed streams only if known up front.
//! media.add_known_participants(
//!     sim.meetings().into_iter().flat_map(|m| m.participants).map(|m| m.participant),
//! );
//! // … run the call; then `media.heard(&call_id, &participant_id)`, `media.report(&call_id)`.
//! # Ok(()) }
//! ```
//!
//! # Panics
//! Nothing here panics on the bot's input (blob, answer responses, RTP): failures are recorded
//! as [`MediaStatus::Failed`] and logged.

mod answer;
mod call;
mod heard;
pub mod routing;
mod source;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mediabot_media::session::SessionError;
use mediabot_media::session::blob::parse_blob;
use mediabot_media::transport::TransportStats;
use mediabot_signaling::models::{AudioRoutingGroup, CallId, Msi, ParticipantId};
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::media_seam::{MediaAttach, MediaProcessor, MediaRejected, SimParticipant};

pub use self::answer::AnswerError;
pub use self::heard::HeardReport;
pub use self::routing::AudioRouting;
pub use self::source::SourceError;

use self::call::{CallShared, ParticipantState};

/// How the simulated media processor runs.
#[derive(Debug, Clone)]
pub struct SimMediaConfig {
    /// Every participant the scenario may bring, so their MSIs are known before any call is
    /// attached (the transport fixes its send streams at creation).
    pub participants: Vec<SimParticipant>,
    /// Address the processor's media socket binds (loopback for the simulator).
    pub bind_ip: IpAddr,
    /// Which send streams to declare.
    pub layout: StreamLayout,
    /// Calls are created with `removeFromDefaultAudioGroup` (see [`routing`]).
    pub remove_bot_from_default_audio_group: bool,
    /// Audio the feeder keeps queued per stream while someone speaks.
    pub queue_target: Duration,
    /// Seconds of audible bot audio kept per participant for [`SimMediaProcessor::heard_samples`].
    pub heard_record_seconds: u32,
    /// Attempts to POST the answer to `mpUri`, and the pause between them.
    pub answer_attempts: u32,
    /// See `answer_attempts`.
    pub answer_retry_interval: Duration,
    /// How long ICE + DTLS may take.
    pub connect_timeout: Duration,
    /// HTTP client for the answer path (e.g. one that trusts the bot's test CA); `None` builds a
    /// default one.
    pub answer_client: Option<reqwest::Client>,
}

impl Default for SimMediaConfig {
    fn default() -> SimMediaConfig {
        SimMediaConfig {
            participants: Vec::new(),
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            layout: StreamLayout::Auto,
            remove_bot_from_default_audio_group: false,
            queue_target: Duration::from_millis(100),
            heard_record_seconds: 30,
            answer_attempts: 40,
            answer_retry_interval: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(10),
            answer_client: None,
        }
    }
}

/// Which send streams a call declares (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamLayout {
    /// Unmixed when the blob and the transport allow it, mixed otherwise.
    Auto,
    /// One stream per participant with audio, tagged with its MSI; the call fails if the
    /// transport refuses.
    Unmixed,
    /// One untagged stream with the mix.
    Mixed,
}

/// Where a call's media stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaStatus {
    /// Answering, POSTing the answer or waiting for ICE + DTLS.
    Negotiating,
    /// Media flows.
    Connected,
    /// Setup failed; the reason.
    Failed(String),
    /// Detached and closed.
    Closed,
}

impl MediaStatus {
    /// Whether nothing further will happen to the call's media.
    pub fn is_final(&self) -> bool {
        matches!(self, MediaStatus::Failed(_) | MediaStatus::Closed)
    }
}

/// Why a call's media failed (its text ends up in [`MediaStatus::Failed`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimMediaError {
    /// The media session could not be created, or did not connect.
    #[error("media session: {0}")]
    Session(#[from] SessionError),
    /// The answer did not reach the bot.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// The blob asks for something the processor cannot give.
    #[error("unusable blob: {0}")]
    Blob(String),
    /// A participant's audio could not be prepared.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A feeder or receive thread could not be started.
    #[error("starting a media thread: {0}")]
    Thread(std::io::Error),
}

/// One send stream of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamReport {
    /// RTP SSRC.
    pub ssrc: u32,
    /// The MSI in the stream plan (unmixed), or `None` (mixed).
    pub msi: Option<Msi>,
    /// The participant it carries (unmixed), or `None` (mixed).
    pub participant: Option<ParticipantId>,
    /// RTP packets sent.
    pub packets: u64,
    /// 20 ms frames of audio encoded (idle time sends nothing).
    pub audio_frames: u64,
}

/// One participant's media in a call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ParticipantMediaReport {
    /// Roster id.
    pub id: ParticipantId,
    /// Scenario key.
    pub key: String,
    /// Media source id.
    pub msi: Msi,
    /// 20 ms frames of this participant's audio handed to the send path (in the mixed layout,
    /// frames the participant contributed to).
    pub sent_frames: u64,
    /// What the participant heard of the bot.
    pub heard: HeardReport,
    /// Why the participant's audio could not be prepared, if it could not.
    pub source_error: Option<String>,
}

/// A call's media, for tests and the demo report.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CallMediaReport {
    /// Where the call's media stands.
    pub status: MediaStatus,
    /// The layout the call got (`None` before the session exists).
    pub layout: Option<StreamLayout>,
    /// Send streams and their counters.
    pub streams: Vec<StreamReport>,
    /// 20 ms frames of the bot's audio received and decoded.
    pub bot_frames: u64,
    /// The processor's transport counters (last snapshot).
    pub transport: TransportStats,
    /// Every participant the call knows, present or not, ordered by key.
    pub participants: Vec<ParticipantMediaReport>,
}

/// The RTP SSRC of the unmixed stream that carries `msi`: a fixed bijective mix of the MSI, so
/// a scenario always produces the same plan. ([`SimMediaProcessor`] steps past the rare
/// collisions with `0` or another stream.)
pub fn ssrc_for_msi(msi: Msi) -> u32 {
    let mut x = msi.0 ^ 0x5349_4d00;
    x = x.wrapping_mul(0x9e37_79b1);
    x ^= x >> 16;
    x = x.wrapping_mul(0x85eb_ca6b);
    x ^ (x >> 13)
}

/// SSRC of the mixed stream.
pub const MIXED_SSRC: u32 = 0x5349_4d58;

/// The simulated media processor. Cheap to clone: clones share the calls, so the simulator can
/// own one as its [`MediaProcessor`] while tests and the demo query another.
#[derive(Clone)]
pub struct SimMediaProcessor {
    inner: Arc<Inner>,
}

struct Inner {
    handle: Handle,
    config: SimMediaConfig,
    client: reqwest::Client,
    /// Participants known up front (the config's, plus [`SimMediaProcessor::add_known_participants`]).
    known: Mutex<Vec<SimParticipant>>,
    calls: Mutex<HashMap<CallId, CallEntry>>,
}

struct CallEntry {
    shared: Arc<CallShared>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for SimMediaProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimMediaProcessor")
            .field("calls", &self.lock_calls().len())
            .finish_non_exhaustive()
    }
}

impl SimMediaProcessor {
    /// A processor that runs its calls' tasks on `handle`.
    pub fn new(handle: Handle, config: SimMediaConfig) -> SimMediaProcessor {
        let client = config.answer_client.clone().unwrap_or_default();
        let known = Mutex::new(config.participants.clone());
        SimMediaProcessor {
            inner: Arc::new(Inner {
                handle,
                config,
                client,
                known,
                calls: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn lock_calls(&self) -> std::sync::MutexGuard<'_, HashMap<CallId, CallEntry>> {
        // A poisoned map only means a panic elsewhere; the map itself stays consistent.
        self.inner
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn shared(&self, call: &CallId) -> Option<Arc<CallShared>> {
        self.lock_calls().get(call).map(|e| e.shared.clone())
    }

    /// Adds participants whose MSIs calls attached from now on should plan streams for (e.g.
    /// the scenario's, read from `SimHandle::meetings()` once the simulator runs). A participant
    /// already known by id is replaced.
    pub fn add_known_participants(&self, participants: impl IntoIterator<Item = SimParticipant>) {
        let mut known = self
            .inner
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // By id, so adding a crowd of thousands stays linear.
        let mut index: HashMap<ParticipantId, usize> = HashMap::with_capacity(known.len());
        for (at, participant) in known.iter().enumerate() {
            index.entry(participant.id.clone()).or_insert(at);
        }
        for participant in participants {
            match index.get(&participant.id) {
                Some(&at) => known[at] = participant,
                None => {
                    index.insert(participant.id.clone(), known.len());
                    known.push(participant);
                }
            }
        }
    }

    /// Where `call`'s media stands (`None` for a call never attached, or forgotten).
    pub fn status(&self, call: &CallId) -> Option<MediaStatus> {
        self.shared(call).map(|s| s.status())
    }

    /// Waits up to `timeout` for `call`'s status to satisfy `done`; returns the status then, or
    /// `None` on timeout or for an unknown call.
    pub async fn wait_status(
        &self,
        call: &CallId,
        timeout: Duration,
        done: impl Fn(&MediaStatus) -> bool,
    ) -> Option<MediaStatus> {
        let mut status = self.shared(call)?.subscribe();
        let waited = tokio::time::timeout(timeout, status.wait_for(|s| done(s))).await;
        match waited {
            Ok(Ok(status)) => Some(status.clone()),
            _ => None,
        }
    }

    /// What `participant` heard of the bot in `call`.
    pub fn heard(&self, call: &CallId, participant: &ParticipantId) -> Option<HeardReport> {
        self.shared(call)?.heard(participant)
    }

    /// The retained record (up to [`SimMediaConfig::heard_record_seconds`]) of the audible bot
    /// audio `participant` heard, oldest first, at [`HeardReport::sample_rate`].
    pub fn heard_samples(&self, call: &CallId, participant: &ParticipantId) -> Option<Vec<i16>> {
        self.shared(call)?.heard_samples(participant)
    }

    /// 20 ms frames of `participant`'s audio sent towards the bot in `call`.
    pub fn sent_frames(&self, call: &CallId, participant: &ParticipantId) -> Option<u64> {
        self.shared(call)?.sent_frames(participant)
    }

    /// The routing rule in force for `call`.
    pub fn routing(&self, call: &CallId) -> Option<AudioRouting> {
        self.shared(call).map(|s| s.routing())
    }

    /// Everything about `call`'s media.
    pub fn report(&self, call: &CallId) -> Option<CallMediaReport> {
        self.shared(call).map(|s| s.report())
    }

    /// Calls attached so far (including closed ones not yet forgotten).
    pub fn calls(&self) -> Vec<CallId> {
        self.lock_calls().keys().cloned().collect()
    }

    /// Drops what is kept about a call; detaches it first if it is still running.
    pub fn forget(&self, call: &CallId) {
        if let Some(entry) = self.lock_calls().remove(call) {
            let _ = entry.stop.send(true);
        }
    }

    /// The participants known up front plus those of `attach`, the latter winning.
    fn known_participants(&self, attach: &MediaAttach) -> Vec<ParticipantState> {
        let mut known: Vec<ParticipantState> = Vec::new();
        // By id, so a crowd of thousands stays linear.
        let mut index: HashMap<ParticipantId, usize> = HashMap::new();
        let up_front = self
            .inner
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for participant in up_front {
            if participant.id != attach.bot_participant_id && !index.contains_key(&participant.id) {
                index.insert(participant.id.clone(), known.len());
                known.push(ParticipantState::new(participant, false));
            }
        }
        for participant in &attach.participants {
            if participant.id == attach.bot_participant_id {
                continue;
            }
            let state = ParticipantState::new(participant.clone(), true);
            match index.get(&participant.id) {
                Some(&at) => known[at] = state,
                None => {
                    index.insert(participant.id.clone(), known.len());
                    known.push(state);
                }
            }
        }
        known
    }
}

impl MediaProcessor for SimMediaProcessor {
    fn attach(&self, attach: &MediaAttach) -> Result<(), MediaRejected> {
        let blob = parse_blob(&attach.blob).map_err(|e| MediaRejected::new(e.to_string()))?;
        let routing = AudioRouting::new(
            attach.bot_participant_id.clone(),
            !self.inner.config.remove_bot_from_default_audio_group,
            &attach.routing_groups,
        );
        let shared = Arc::new(CallShared::new(
            attach.call_id.clone(),
            self.known_participants(attach),
            routing,
            self.inner.config.heard_record_seconds,
        ));
        let (stop, stop_rx) = watch::channel(false);
        let previous = self.lock_calls().insert(
            attach.call_id.clone(),
            CallEntry {
                shared: shared.clone(),
                stop,
            },
        );
        if let Some(previous) = previous {
            // A call attached twice (a re-answer): the old media goes.
            let _ = previous.stop.send(true);
        }
        let settings =
            call::CallSettings::from_config(&self.inner.config, self.inner.client.clone());
        self.inner
            .handle
            .spawn(call::run_call(shared, blob, settings, stop_rx));
        Ok(())
    }

    fn participant_joined(&self, call: &CallId, participant: &SimParticipant) {
        if let Some(shared) = self.shared(call) {
            shared.participant_joined(participant);
        }
    }

    fn participant_left(&self, call: &CallId, participant: &ParticipantId) {
        if let Some(shared) = self.shared(call) {
            shared.participant_left(participant);
        }
    }

    fn participant_speaking(&self, call: &CallId, participant: &ParticipantId, speaking: bool) {
        if let Some(shared) = self.shared(call) {
            shared.participant_speaking(participant, speaking);
        }
    }

    fn participant_muted(&self, call: &CallId, participant: &ParticipantId, muted: bool) {
        if let Some(shared) = self.shared(call) {
            shared.participant_muted(participant, muted);
        }
    }

    fn routing_changed(&self, call: &CallId, groups: &[AudioRoutingGroup]) {
        if let Some(shared) = self.shared(call) {
            shared.routing_changed(groups);
        }
    }

    fn detach(&self, call: &CallId) {
        if let Some(entry) = self.lock_calls().get(call) {
            let _ = entry.stop.send(true);
        }
    }
}
