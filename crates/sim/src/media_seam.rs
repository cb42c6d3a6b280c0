//! The seam between the control-plane simulator and a simulated media processor.
//!
//! The simulator decides *what* happens in a meeting (who is present, who speaks, who is muted, which
//! audio routing groups exist); a [`MediaProcessor`] decides *how* the corresponding media flows to
//! and from the bot. The simulator calls it:
//!
//! | when | call |
//! |---|---|
//! | a call with `appHostedMediaConfig` (with a `blob`) is being established (create or answer) | [`MediaProcessor::attach`] — an `Err` fails the call with `500/1203002` |
//! | a participant enters the roster of an attached call (timeline `join`, invite) | [`MediaProcessor::participant_joined`] |
//! | a participant leaves it (timeline `leave`, participant DELETE) | [`MediaProcessor::participant_left`] |
//! | timeline `speak_start` / `speak_stop` | [`MediaProcessor::participant_speaking`] |
//! | server or timeline mute / unmute | [`MediaProcessor::participant_muted`] |
//! | any audio routing group of the call is created, updated or deleted | [`MediaProcessor::routing_changed`] (all current groups) |
//! | the call ends (hang-up, keep-alive expiry, transfer, removal…) | [`MediaProcessor::detach`] |
//!
//! Calls happen on tokio worker threads, never while the simulator holds its own lock, so an
//! implementation may call back into [`SimHandle`](crate::SimHandle). Implementations must not block
//! for long (spawn work instead). Until the real processor exists, [`NoopMediaProcessor`] accepts
//! everything and does nothing.

use std::path::PathBuf;

use mediabot_signaling::models::{AudioRoutingGroup, CallId, IdentitySet, Msi, ParticipantId};

/// What a virtual participant sends as audio.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AudioSource {
    /// A sine tone.
    Tone {
        /// Frequency in Hz.
        hz: f64,
        /// Peak amplitude, 0.0–1.0 of full scale.
        amplitude: f64,
    },
    /// A WAV file (path already resolved against the scenario file's directory).
    Wav(PathBuf),
    /// Nothing (a participant invited at run time, a listener).
    Silence,
}

/// A participant as the media side needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimParticipant {
    /// Roster participant id (what audio routing groups name).
    pub id: ParticipantId,
    /// The scenario key (`alice`), or the participant id for participants created at run time.
    pub key: String,
    /// Display name.
    pub display_name: String,
    /// Identity as shown in the roster.
    pub identity: IdentitySet,
    /// Media source id of the participant's audio stream (`mediaStreams[].sourceId`).
    pub msi: Msi,
    /// What the participant says when speaking.
    pub audio: AudioSource,
    /// Server- or self-muted at the time of the call.
    pub muted: bool,
}

/// Everything the media side gets when a call's media is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaAttach {
    /// The call.
    pub call_id: CallId,
    /// `appHostedMediaConfig.blob` exactly as the bot sent it (on create or answer).
    pub blob: String,
    /// The bot's own participant id in the roster (`call.myParticipantId`).
    pub bot_participant_id: ParticipantId,
    /// The MSI the simulator gave the bot's audio stream.
    pub bot_msi: Msi,
    /// Participants present (not in the lobby) at attach time; later changes come as events.
    pub participants: Vec<SimParticipant>,
    /// The call's audio routing groups at attach time (usually none).
    pub routing_groups: Vec<AudioRoutingGroup>,
}

/// Why a media processor refused a call's media.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("media refused: {reason}")]
pub struct MediaRejected {
    /// Human-readable reason; it ends up in the terminated call's `resultInfo.message`.
    pub reason: String,
}

impl MediaRejected {
    /// A rejection with a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// The simulated media processor, driven by the simulator (see the [module docs](self)).
pub trait MediaProcessor: Send + Sync {
    /// Sets up media for a call from the bot's blob. `Err` fails the call (`500/1203002`).
    fn attach(&self, attach: &MediaAttach) -> Result<(), MediaRejected>;
    /// A participant entered the roster of an attached call.
    fn participant_joined(&self, call: &CallId, participant: &SimParticipant);
    /// A participant left the roster of an attached call.
    fn participant_left(&self, call: &CallId, participant: &ParticipantId);
    /// A participant started (`true`) or stopped (`false`) speaking.
    fn participant_speaking(&self, call: &CallId, participant: &ParticipantId, speaking: bool);
    /// A participant was muted (`true`) or unmuted; a muted participant's audio must not flow.
    fn participant_muted(&self, call: &CallId, participant: &ParticipantId, muted: bool);
    /// The call's audio routing groups changed; `groups` is the complete current set.
    fn routing_changed(&self, call: &CallId, groups: &[AudioRoutingGroup]);
    /// The call ended; release its media.
    fn detach(&self, call: &CallId);
}

/// A media processor that accepts every call and moves no media.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopMediaProcessor;

impl MediaProcessor for NoopMediaProcessor {
    fn attach(&self, _attach: &MediaAttach) -> Result<(), MediaRejected> {
        Ok(())
    }
    fn participant_joined(&self, _call: &CallId, _participant: &SimParticipant) {}
    fn participant_left(&self, _call: &CallId, _participant: &ParticipantId) {}
    fn participant_speaking(&self, _call: &CallId, _participant: &ParticipantId, _speaking: bool) {}
    fn participant_muted(&self, _call: &CallId, _participant: &ParticipantId, _muted: bool) {}
    fn routing_changed(&self, _call: &CallId, _groups: &[AudioRoutingGroup]) {}
    fn detach(&self, _call: &CallId) {}
}
