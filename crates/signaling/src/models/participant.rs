//! `participant` and what describes one: `participantInfo`, `invitationParticipantInfo`, `mediaStream`,
//! `recordingInfo`, `onlineMeetingRestricted`, `removedState`, and the beta `deltaParticipants` roster.

use serde::{Deserialize, Serialize};

use super::identity::IdentitySet;
use super::ids::{CallId, Msi, ParticipantId};
use super::serde_util::{graph_enum, null_as_empty};

graph_enum! {
    /// `endpointType` of a participant.
    pub enum EndpointType {
        /// A regular Teams endpoint.
        Default => "default",
        /// Voicemail (beta, invitation targets).
        Voicemail => "voicemail",
        /// Skype for Business.
        SkypeForBusiness => "skypeForBusiness",
        /// Skype for Business VoIP phone.
        SkypeForBusinessVoipPhone => "skypeForBusinessVoipPhone",
    }
}

graph_enum! {
    /// `modality` / `mediaStream.mediaType`.
    pub enum Modality {
        /// Audio.
        Audio => "audio",
        /// Video.
        Video => "video",
        /// Video-based screen sharing (VBSS).
        VideoBasedScreenSharing => "videoBasedScreenSharing",
        /// Data.
        Data => "data",
    }
}

graph_enum! {
    /// `mediaStream.direction`.
    pub enum MediaDirection {
        /// Neither sending nor receiving.
        Inactive => "inactive",
        /// Sending only.
        SendOnly => "sendOnly",
        /// Receiving only.
        ReceiveOnly => "receiveOnly",
        /// Sending and receiving.
        SendReceive => "sendReceive",
    }
}

graph_enum! {
    /// `recordingInfo.recordingStatus`; also the `status` of `updateRecordingStatus`.
    pub enum RecordingStatus {
        /// Unknown.
        UnknownStatus => "unknown",
        /// Not recording.
        NotRecording => "notRecording",
        /// Recording.
        Recording => "recording",
        /// Recording failed.
        Failed => "failed",
    }
}

graph_enum! {
    /// Why content sharing or video is restricted for a participant (`onlineMeetingRestricted`).
    pub enum OnlineMeetingContentRestriction {
        /// Restricted because of watermark protection.
        WatermarkProtection => "watermarkProtection",
    }
}

/// `#microsoft.graph.participantInfo`: who a participant is and where it connects from. All read-only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.participantInfo",
    rename_all = "camelCase"
)]
pub struct ParticipantInfo {
    /// The participant's identities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentitySet>,
    /// ISO 3166 country code of the participant's location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// Endpoint type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_type: Option<EndpointType>,
    /// Endpoint id (real payloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    /// Language culture string (`en-US`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_id: Option<String>,
    /// Home region (`westus`, `amer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Participant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<ParticipantId>,
    /// Client platform id (beta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
    /// Undocumented `id` seen in real payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `#microsoft.graph.invitationParticipantInfo`: someone to call, invite, redirect or transfer to.
///
/// Some doc payloads type call `targets` entries as `participantInfo`; those are accepted too (the
/// `@odata.type` of this non-polymorphic type is not checked) and re-serialized as `invitationParticipantInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.invitationParticipantInfo",
    rename_all = "camelCase"
)]
pub struct InvitationParticipantInfo {
    /// Who to invite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentitySet>,
    /// The call the target is currently in; dropped once the participant is added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_call_id: Option<CallId>,
    /// Participant id (moving a participant between meetings; cancelling an invitation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<ParticipantId>,
    /// Endpoint type (`default`, `voicemail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_type: Option<EndpointType>,
    /// Hide the participant from the roster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    /// Language culture string (seen in transfer examples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_id: Option<String>,
    /// Region (seen in transfer examples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Undocumented `id` seen in incoming-call targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl InvitationParticipantInfo {
    /// An invitation for the given identities.
    pub fn new(identity: IdentitySet) -> Self {
        Self {
            identity: Some(identity),
            ..Self::default()
        }
    }
}

/// `#microsoft.graph.mediaStream`: one stream of a participant.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.mediaStream",
    rename_all = "camelCase"
)]
pub struct MediaStream {
    /// Kind of media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<Modality>,
    /// Direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<MediaDirection>,
    /// Media source id (MSI) as a decimal string; see [`MediaStream::msi`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// Stream label (`main-audio`, `main-video`, `applicationsharing-video`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Whether the server mutes this stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_muted: Option<bool>,
}

impl MediaStream {
    /// The stream's MSI; `None` when absent, not a number, or the [`Msi::NONE`] sentinel.
    pub fn msi(&self) -> Option<Msi> {
        Msi::parse_source_id(self.source_id.as_deref()?)
            .ok()?
            .valid()
    }
}

/// `#microsoft.graph.recordingInfo`: a participant's recording state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.recordingInfo",
    rename_all = "camelCase"
)]
pub struct RecordingInfo {
    /// Who started the recording (`initiatedBy` in beta is accepted too).
    #[serde(
        default,
        alias = "initiatedBy",
        skip_serializing_if = "Option::is_none"
    )]
    pub initiator: Option<IdentitySet>,
    /// Recording status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_status: Option<RecordingStatus>,
}

/// `#microsoft.graph.onlineMeetingRestricted`: why a participant's experience is restricted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.onlineMeetingRestricted",
    rename_all = "camelCase"
)]
pub struct OnlineMeetingRestricted {
    /// Why content sharing is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sharing_disabled: Option<OnlineMeetingContentRestriction>,
    /// Why video is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_disabled: Option<OnlineMeetingContentRestriction>,
}

/// `#microsoft.graph.removedState`: why a participant left the roster (delta roster mode).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.removedState",
    rename_all = "camelCase"
)]
pub struct RemovedState {
    /// Free-text reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `#microsoft.graph.participant`: one roster entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.participant",
    rename_all = "camelCase"
)]
pub struct Participant {
    /// Participant id (used by mute/delete/hold and audio routing groups); `null` in some notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ParticipantId>,
    /// Who the participant is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<ParticipantInfo>,
    /// Waiting in the lobby.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_in_lobby: Option<bool>,
    /// Client- or server-muted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_muted: Option<bool>,
    /// The participant's streams; `sourceId` is the MSI.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub media_streams: Vec<MediaStream>,
    /// Participant-provided blob (a JSON string for the large-gallery participant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    /// Recording state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_info: Option<RecordingInfo>,
    /// Why the participant was removed (delta roster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_state: Option<RemovedState>,
    /// Restrictions on the participant's experience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted_experience: Option<OnlineMeetingRestricted>,
    /// Roster sequence number in which the participant was last updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roster_sequence_number: Option<i64>,
    /// Undocumented meeting role (`presenter`, `organizer`, `attendee`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_role: Option<String>,
}

impl Participant {
    /// The participant's identities, if known.
    pub fn identity(&self) -> Option<&IdentitySet> {
        self.info.as_ref()?.identity.as_ref()
    }

    /// The MSI of the participant's first audio stream, if any.
    pub fn audio_msi(&self) -> Option<Msi> {
        self.media_streams
            .iter()
            .filter(|s| s.media_type == Some(Modality::Audio))
            .find_map(MediaStream::msi)
    }

    /// The MSIs of all the participant's streams (audio, video, screen sharing, data).
    pub fn msis(&self) -> impl Iterator<Item = Msi> + '_ {
        self.media_streams.iter().filter_map(MediaStream::msi)
    }

    /// True when `msi` tags one of this participant's streams.
    pub fn has_msi(&self, msi: Msi) -> bool {
        self.media_streams.iter().any(|s| s.msi() == Some(msi))
    }

    /// `isInLobby`, reading absent as `false`.
    pub fn in_lobby(&self) -> bool {
        self.is_in_lobby.unwrap_or(false)
    }

    /// `isMuted`, reading absent as `false`.
    pub fn muted(&self) -> bool {
        self.is_muted.unwrap_or(false)
    }
}

/// `#microsoft.graph.deltaParticipants` (beta): the roster changes since the previous sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.deltaParticipants",
    rename_all = "camelCase"
)]
pub struct DeltaParticipants {
    /// Changed participants (removed ones carry `removedState`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub participants: Vec<Participant>,
    /// Sequence number of this delta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<i64>,
}
