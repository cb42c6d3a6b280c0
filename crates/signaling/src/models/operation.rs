//! `commsOperation` and its subtypes: the asynchronous result of call actions.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ids::OperationId;
use super::participant::InvitationParticipantInfo;
use super::result_info::ResultInfo;
use super::serde_util::{graph_enum, odata_type_name};

graph_enum! {
    /// `commsOperation.status` (reference §6.3). Parsing ignores case (`"Running"` appears in the docs).
    pub enum OperationStatus {
        /// Not started yet; updates follow as notifications.
        NotStarted => "notStarted",
        /// Running; updates follow as notifications.
        Running => "running",
        /// Completed; no further notification.
        Completed => "completed",
        /// Failed; no further notification.
        Failed => "failed",
    }
}

impl OperationStatus {
    /// True for `completed` and `failed`: no notification will follow for this operation.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

graph_enum! {
    /// `playPromptOperation.completionReason` (beta).
    pub enum PlayPromptCompletionReason {
        /// Unknown.
        UnknownReason => "unknown",
        /// All prompts played.
        CompletedSuccessfully => "completedSuccessfully",
        /// Cancelled by cancelMediaProcessing.
        MediaOperationCanceled => "mediaOperationCanceled",
    }
}

graph_enum! {
    /// `recordOperation.completionReason` (beta).
    pub enum RecordCompletionReason {
        /// Cancelled.
        OperationCanceled => "operationCanceled",
        /// A stop tone was pressed.
        StopToneDetected => "stopToneDetected",
        /// Maximum duration reached.
        MaxRecordDurationReached => "maxRecordDurationReached",
        /// Nothing said at the start.
        InitialSilenceTimeout => "initialSilenceTimeout",
        /// Silence for too long.
        MaxSilenceTimeout => "maxSilenceTimeout",
        /// The prompt failed to play.
        PlayPromptFailed => "playPromptFailed",
        /// The beep failed to play.
        PlayBeepFailed => "playBeepFailed",
        /// No media received.
        MediaReceiveTimeout => "mediaReceiveTimeout",
        /// Unspecified error.
        UnspecifiedError => "unspecifiedError",
        /// None.
        None => "none",
    }
}

/// Which operation a [`CommsOperation`] is, with the fields only that subtype has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationKind {
    /// `#microsoft.graph.commsOperation` itself (configureMixer, muteAll), or no `@odata.type` at all.
    Generic,
    /// `inviteParticipantsOperation`.
    InviteParticipants {
        /// The invited participants.
        participants: Vec<InvitationParticipantInfo>,
    },
    /// `muteParticipantOperation` (self mute and participant mute).
    MuteParticipant,
    /// `unmuteParticipantOperation`.
    UnmuteParticipant,
    /// `updateRecordingStatusOperation`.
    UpdateRecordingStatus,
    /// `startHoldMusicOperation`.
    StartHoldMusic,
    /// `stopHoldMusicOperation`.
    StopHoldMusic,
    /// `addLargeGalleryViewOperation`.
    AddLargeGalleryView,
    /// `subscribeToToneOperation`.
    SubscribeToTone,
    /// `playPromptOperation`.
    PlayPrompt {
        /// Why it completed (beta).
        completion_reason: Option<PlayPromptCompletionReason>,
    },
    /// `recordOperation` (recordResponse).
    Record {
        /// Where to download the recording.
        recording_location: Option<String>,
        /// Bearer token for the download.
        recording_access_token: Option<String>,
        /// Why it completed (beta).
        completion_reason: Option<RecordCompletionReason>,
    },
    /// `cancelMediaProcessingOperation`.
    CancelMediaProcessing {
        /// Whether all operations were cancelled.
        all: Option<bool>,
    },
    /// A subtype this crate does not know.
    Unknown {
        /// The `@odata.type` value as received.
        odata_type: String,
    },
}

impl OperationKind {
    /// The `@odata.type` this kind serializes with.
    pub fn odata_type(&self) -> &str {
        match self {
            Self::Generic => "#microsoft.graph.commsOperation",
            Self::InviteParticipants { .. } => "#microsoft.graph.inviteParticipantsOperation",
            Self::MuteParticipant => "#microsoft.graph.muteParticipantOperation",
            Self::UnmuteParticipant => "#microsoft.graph.unmuteParticipantOperation",
            Self::UpdateRecordingStatus => "#microsoft.graph.updateRecordingStatusOperation",
            Self::StartHoldMusic => "#microsoft.graph.startHoldMusicOperation",
            Self::StopHoldMusic => "#microsoft.graph.stopHoldMusicOperation",
            Self::AddLargeGalleryView => "#microsoft.graph.addLargeGalleryViewOperation",
            Self::SubscribeToTone => "#microsoft.graph.subscribeToToneOperation",
            Self::PlayPrompt { .. } => "#microsoft.graph.playPromptOperation",
            Self::Record { .. } => "#microsoft.graph.recordOperation",
            Self::CancelMediaProcessing { .. } => "#microsoft.graph.cancelMediaProcessingOperation",
            Self::Unknown { odata_type } => odata_type,
        }
    }
}

/// A `commsOperation` (any subtype): returned by actions and carried by operation notifications.
///
/// If an action returns it with a final [`status`](OperationStatus::is_final), no notification follows;
/// otherwise a `deleted` notification on `…/operations/{id}` brings the final state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommsOperation {
    /// Operation id (absent in some notification examples).
    pub id: Option<OperationId>,
    /// The client context sent with the action (≤ 256 chars).
    pub client_context: Option<String>,
    /// Status.
    pub status: Option<OperationStatus>,
    /// Result when finished.
    pub result_info: Option<ResultInfo>,
    /// The subtype and its own fields.
    pub kind: OperationKind,
}

impl CommsOperation {
    /// True when no further notification will come for this operation.
    pub fn is_final(&self) -> bool {
        self.status.as_ref().is_some_and(OperationStatus::is_final)
    }

    /// True when a subtype-specific name (`inviteParticipantsOperation`, `commsOperation`, …) is an operation type.
    pub fn is_operation_type(odata_type: &str) -> bool {
        odata_type_name(odata_type)
            .to_ascii_lowercase()
            .ends_with("operation")
    }
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOperation {
    #[serde(
        rename = "@odata.type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    odata_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<OperationId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<OperationStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result_info: Option<ResultInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    participants: Option<Vec<InvitationParticipantInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recording_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recording_access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    completion_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    all: Option<bool>,
}

impl<'de> Deserialize<'de> for CommsOperation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawOperation::deserialize(deserializer)?;
        let name = raw
            .odata_type
            .as_deref()
            .map(odata_type_name)
            .map(str::to_ascii_lowercase);
        let kind = match name.as_deref() {
            None | Some("commsoperation") => OperationKind::Generic,
            Some("inviteparticipantsoperation") => OperationKind::InviteParticipants {
                participants: raw.participants.unwrap_or_default(),
            },
            Some("muteparticipantoperation") => OperationKind::MuteParticipant,
            Some("unmuteparticipantoperation") => OperationKind::UnmuteParticipant,
            Some("updaterecordingstatusoperation") => OperationKind::UpdateRecordingStatus,
            Some("startholdmusicoperation") => OperationKind::StartHoldMusic,
            Some("stopholdmusicoperation") => OperationKind::StopHoldMusic,
            Some("addlargegalleryviewoperation") => OperationKind::AddLargeGalleryView,
            Some("subscribetotoneoperation") => OperationKind::SubscribeToTone,
            Some("playpromptoperation") => OperationKind::PlayPrompt {
                completion_reason: raw
                    .completion_reason
                    .as_deref()
                    .map(PlayPromptCompletionReason::from_wire),
            },
            Some("recordoperation") => OperationKind::Record {
                recording_location: raw.recording_location,
                recording_access_token: raw.recording_access_token,
                completion_reason: raw
                    .completion_reason
                    .as_deref()
                    .map(RecordCompletionReason::from_wire),
            },
            Some("cancelmediaprocessingoperation") => {
                OperationKind::CancelMediaProcessing { all: raw.all }
            }
            Some(_) => OperationKind::Unknown {
                odata_type: raw.odata_type.clone().unwrap_or_default(),
            },
        };
        Ok(CommsOperation {
            id: raw.id,
            client_context: raw.client_context,
            status: raw.status,
            result_info: raw.result_info,
            kind,
        })
    }
}

impl Serialize for CommsOperation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut raw = RawOperation {
            odata_type: Some(self.kind.odata_type().to_owned()).filter(|t| !t.is_empty()),
            id: self.id.clone(),
            client_context: self.client_context.clone(),
            status: self.status.clone(),
            result_info: self.result_info.clone(),
            ..RawOperation::default()
        };
        match &self.kind {
            OperationKind::InviteParticipants { participants } => {
                raw.participants = Some(participants.clone())
            }
            OperationKind::PlayPrompt { completion_reason } => {
                raw.completion_reason = completion_reason.as_ref().map(|r| r.as_str().to_owned());
            }
            OperationKind::Record {
                recording_location,
                recording_access_token,
                completion_reason,
            } => {
                raw.recording_location = recording_location.clone();
                raw.recording_access_token = recording_access_token.clone();
                raw.completion_reason = completion_reason.as_ref().map(|r| r.as_str().to_owned());
            }
            OperationKind::CancelMediaProcessing { all } => raw.all = *all,
            _ => {}
        }
        raw.serialize(serializer)
    }
}
