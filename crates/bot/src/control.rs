//! The control API's request and answer types, shared by the HTTP handlers, the runtime and the
//! orchestrator.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How to join a meeting (`POST /control/join`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequest {
    /// A Teams join URL (long `meetup-join`, short `/meet/` or channel form).
    pub join_url: String,
}

/// What the bot should say in a call (`POST /control/calls/{id}/speak`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpeakRequest {
    /// A sine tone of this frequency (Hz)…
    #[serde(default)]
    pub tone_hz: Option<f64>,
    /// …for this long.
    #[serde(default = "default_speak_seconds")]
    pub seconds: f64,
    /// Or a 16-bit PCM WAV file on the bot's machine.
    #[serde(default)]
    pub wav: Option<PathBuf>,
    /// Drop whatever is still queued first (barge-in).
    #[serde(default)]
    pub clear: bool,
}

fn default_speak_seconds() -> f64 {
    2.0
}

/// Decoded audio for the bot to say: interleaved 16-bit PCM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcmClip {
    /// Interleaved samples.
    pub samples: Vec<i16>,
    /// Sample rate, 8–48 kHz.
    pub rate: u32,
    /// 1 or 2.
    pub channels: u16,
}

/// The longest clip `speak` takes (10 minutes of 48 kHz stereo is ~110 MB; this bounds memory).
pub const MAX_CLIP_SECONDS: u32 = 600;

/// The largest WAV body `POST …/speak` takes as an upload (`content-type: audio/wav`).
pub const MAX_WAV_UPLOAD_BYTES: usize = 32 * 1024 * 1024;

/// A route as the control API takes it (`PUT /control/calls/{id}/routes/{name}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum RouteSpec {
    /// The bot speaks to one participant alone.
    Whisper {
        /// Participant id.
        to: String,
    },
    /// The bot speaks to several participants.
    Broadcast {
        /// Participant ids.
        to: Vec<String>,
    },
    /// A private room of these participants and the bot.
    Room {
        /// Participant ids (the bot is added).
        members: Vec<String>,
    },
}

/// A route and how far it is in place, for `GET …/routes`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteView {
    /// The route's name.
    pub name: String,
    /// `pending`, `live`, `failed`, … (the reconciler's status, lower case).
    pub status: String,
    /// Participant ids in the route.
    pub participants: Vec<String>,
}

/// A change to, or a look at, a call's audio routes.
#[derive(Debug, Clone)]
pub enum RouteOp {
    /// Add or replace a route.
    Upsert(String, RouteSpec),
    /// Remove a route by name.
    Remove(String),
    /// List the routes.
    List,
}

/// Live view of one call, for progress displays and `GET /control/calls`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallStatus {
    /// The bot's local number for the call (stable before Graph gives a call id).
    pub key: u64,
    /// Graph's call id, once known.
    pub call_id: Option<String>,
    /// Where the call is: `offering media`, `joining`, `Establishing`, `media connected`,
    /// `hanging up`, `finalizing`, `terminated`, `failed`.
    pub state: String,
    /// Graph's call state (`Establishing`, `Established`, `Terminated`, …), once known.
    pub graph_state: Option<String>,
    /// How many participants the roster holds.
    pub participant_count: usize,
    /// Display names of up to [`STATUS_NAMES`] participants.
    pub participants: Vec<String>,
    /// The dominant speaker's name, when known.
    pub dominant_speaker: Option<String>,
    /// Why the call's media failed, if it did (e.g. the audio thread panicked).
    pub failure: Option<String>,
    /// How the call ended, once it did: `Graph`, `NotFound`, `Unconfirmed`, `CreateFailed`,
    /// `AnswerFailed`, `MediaFailed`, `Cancelled`, `Shutdown` (report.json's `end.cause`).
    pub end_cause: Option<String>,
    /// True once the call is over and its recordings are final.
    pub ended: bool,
    /// Where `report.json` was written.
    pub report: Option<PathBuf>,
}

/// How many display names a [`CallStatus`] carries (a town hall's roster is read in place, not
/// copied into every status update).
pub const STATUS_NAMES: usize = 50;

/// Why a control request failed, with the HTTP status it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// A sentence for the operator.
    pub message: String,
}

/// The kinds of [`ControlError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is wrong (400).
    BadRequest,
    /// No such call or route (404).
    NotFound,
    /// The call is not in a state that allows this (409).
    Conflict,
    /// The bot is busy or shutting down (503).
    Unavailable,
}

impl ControlError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> ControlError {
        ControlError {
            kind,
            message: message.into(),
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self.kind {
            ErrorKind::BadRequest => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Unavailable => 503,
        }
    }
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ControlError {}
