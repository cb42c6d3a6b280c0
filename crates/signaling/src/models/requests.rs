//! Request bodies of the call actions (`POST /communications/calls/{id}/<action>` and participant actions).
//!
//! Create-call sends a [`Call`](super::Call); audio routing group create/update send an
//! [`AudioRoutingGroup`](super::AudioRoutingGroup). Action bodies carry no top-level `@odata.type`.

use serde::{Deserialize, Serialize};

use super::call::RoutingPolicy;
use super::call_options::IncomingCallOptions;
use super::ids::ParticipantId;
use super::media_config::{MediaConfig, MediaPrompt};
use super::participant::{InvitationParticipantInfo, Modality, ParticipantInfo, RecordingStatus};
use super::serde_util::{graph_enum, null_as_empty};

graph_enum! {
    /// `reject.reason` (documented `None/Busy/Forbidden`, sent lower-case).
    pub enum RejectReason {
        /// No reason.
        None => "none",
        /// Busy.
        Busy => "busy",
        /// Forbidden.
        Forbidden => "forbidden",
    }
}

graph_enum! {
    /// `changeScreenSharingRole.role`.
    pub enum ScreenSharingRole {
        /// Watch the shared screen.
        Viewer => "viewer",
        /// Share the screen.
        Sharer => "sharer",
    }
}

/// `POST …/answer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerRequest {
    /// Per-call callback URI (HTTPS), overriding the bot's global one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_uri: Option<String>,
    /// Accepted modalities (required).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub accepted_modalities: Vec<Modality>,
    /// Media configuration (required).
    pub media_config: MediaConfig,
    /// Policy-based recording: how many participants this call instance handles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_capacity: Option<u32>,
    /// Beta: notification options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_options: Option<IncomingCallOptions>,
}

/// `POST …/reject`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectRequest {
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RejectReason>,
    /// Per-call callback URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_uri: Option<String>,
}

/// `POST …/redirect`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedirectRequest {
    /// Targets; more than one rings them simultaneously (≤ 25).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub targets: Vec<InvitationParticipantInfo>,
    /// Ring timeout in seconds (15–90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// Per-call callback URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_uri: Option<String>,
    /// Routing policies (sent by the simulring example).
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub routing_policies: Vec<RoutingPolicy>,
}

/// `POST …/transfer`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferRequest {
    /// Where to transfer (with `replacesCallId` for a consultative transfer).
    pub transfer_target: InvitationParticipantInfo,
    /// Who is transferred; required when transferring from a group call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferee: Option<ParticipantInfo>,
    /// Client context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_context: Option<String>,
}

/// `POST …/participants/invite`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteParticipantsRequest {
    /// Who to invite (≤ 5).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub participants: Vec<InvitationParticipantInfo>,
    /// Client context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_context: Option<String>,
}

macro_rules! client_context_request {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// Client context echoed in the resulting operation (≤ 256 chars).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub client_context: Option<String>,
        }

        impl $name {
            /// A body with the given client context.
            pub fn new(client_context: impl Into<String>) -> Self {
                Self { client_context: Some(client_context.into()) }
            }
        }
    };
}

client_context_request! {
    /// `POST …/mute` (self mute) → `muteParticipantOperation`.
    MuteRequest
}
client_context_request! {
    /// `POST …/unmute` (self unmute) → `unmuteParticipantOperation`.
    UnmuteRequest
}
client_context_request! {
    /// `POST …/participants/{id}/mute` → `muteParticipantOperation`.
    MuteParticipantRequest
}
client_context_request! {
    /// `POST …/participants/{id}/stopHoldMusic` → `stopHoldMusicOperation`.
    StopHoldMusicRequest
}
client_context_request! {
    /// `POST …/addLargeGalleryView` → `addLargeGalleryViewOperation`.
    AddLargeGalleryViewRequest
}
client_context_request! {
    /// `POST …/subscribeToTone` (service-hosted media) → `subscribeToToneOperation`.
    SubscribeToToneRequest
}
client_context_request! {
    /// `POST …/cancelMediaProcessing` → `cancelMediaProcessingOperation`.
    CancelMediaProcessingRequest
}

/// `POST …/changeScreenSharingRole` (app-hosted media only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeScreenSharingRoleRequest {
    /// The new role.
    pub role: ScreenSharingRole,
}

/// `POST …/updateRecordingStatus` → `updateRecordingStatusOperation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRecordingStatusRequest {
    /// Client context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_context: Option<String>,
    /// The bot's recording status.
    pub status: RecordingStatus,
}

/// `POST …/participants/{id}/startHoldMusic` → `startHoldMusicOperation`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartHoldMusicRequest {
    /// What the held participant hears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_prompt: Option<MediaPrompt>,
    /// Client context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_context: Option<String>,
}

/// `POST …/participants/muteAll` (beta, deprecated) → `commsOperation`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MuteAllRequest {
    /// Participant ids to mute.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub participants: Vec<String>,
    /// Client context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_context: Option<String>,
}

/// `POST …/playPrompt` (service-hosted media) → `playPromptOperation`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayPromptRequest {
    /// Prompts to play (≤ 20).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub prompts: Vec<MediaPrompt>,
    /// Client context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_context: Option<String>,
}

/// `POST …/recordResponse` (service-hosted media) → `recordOperation`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordResponseRequest {
    /// Prompt to play first (≤ 1).
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub prompts: Vec<MediaPrompt>,
    /// Whether speech interrupts the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barge_in_allowed: Option<bool>,
    /// Initial silence timeout (1–120 s, default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_silence_timeout_in_seconds: Option<u32>,
    /// Maximum silence (1–120 s, default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_silence_timeout_in_seconds: Option<u32>,
    /// Maximum duration (1–120 s, default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_record_duration_in_seconds: Option<u32>,
    /// Play a beep before recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play_beep: Option<bool>,
    /// DTMF keys that stop the recording.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub stop_tones: Vec<String>,
    /// Client context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_context: Option<String>,
}

/// Ducking settings of a [`ParticipantMixerLevel`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioDuckingConfiguration {
    /// Ramp when a source becomes active (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_active: Option<i32>,
    /// Ramp when a source becomes inactive (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_inactive: Option<i32>,
    /// Lower level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_level: Option<i32>,
    /// Upper level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_level: Option<i32>,
}

/// One source's level in a [`ParticipantMixerLevel`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioSourceLevel {
    /// Source participant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<ParticipantId>,
    /// Level (0–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<i32>,
    /// Whether this source ducks the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duck_others: Option<bool>,
}

/// `participantMixerLevel` (beta): what one receiver hears.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantMixerLevel {
    /// Receiver participant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<ParticipantId>,
    /// Hear only the listed sources (`exclusive` in the doc example is accepted too).
    #[serde(default, alias = "exclusive", skip_serializing_if = "Option::is_none")]
    pub exclusive_mode: Option<bool>,
    /// Ducking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ducking: Option<AudioDuckingConfiguration>,
    /// Per-source levels.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_levels: Vec<AudioSourceLevel>,
}

/// `POST …/participants/configureMixer` (beta) → `commsOperation`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigureMixerRequest {
    /// Mixer levels per receiver.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub participant_mixer_levels: Vec<ParticipantMixerLevel>,
    /// Client context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_context: Option<String>,
}
