//! `call`: the central calling resource, and the small types that hang off it.

use serde::{Deserialize, Serialize};

use super::call_options::OutgoingCallOptions;
use super::call_route::CallRoute;
use super::chat_info::ChatInfo;
use super::identity::IdentitySet;
use super::ids::{CallChainId, CallId, ParticipantId, TenantId};
use super::media_config::MediaConfig;
use super::meeting::MeetingInfo;
use super::open_json::OpenJson;
use super::participant::{InvitationParticipantInfo, Modality, ParticipantInfo};
use super::result_info::ResultInfo;
use super::serde_util::{graph_enum, null_as_empty};

graph_enum! {
    /// `call.state` (reference §6.1).
    pub enum CallState {
        /// Incoming call not yet answered.
        Incoming => "incoming",
        /// Being set up.
        Establishing => "establishing",
        /// Ringing (outgoing peer-to-peer).
        Ringing => "ringing",
        /// Connected.
        Established => "established",
        /// On hold.
        Hold => "hold",
        /// A transfer is in progress.
        Transferring => "transferring",
        /// The transfer target accepted.
        TransferAccepted => "transferAccepted",
        /// Being redirected.
        Redirecting => "redirecting",
        /// Being torn down.
        Terminating => "terminating",
        /// Ended; the call id is dead.
        Terminated => "terminated",
    }
}

impl CallState {
    /// True for `terminating` and `terminated`.
    pub fn is_ending(&self) -> bool {
        matches!(self, Self::Terminating | Self::Terminated)
    }
}

graph_enum! {
    /// `call.direction`.
    pub enum CallDirection {
        /// The call came to the bot.
        Incoming => "incoming",
        /// The bot placed the call.
        Outgoing => "outgoing",
    }
}

graph_enum! {
    /// `callMediaState.audio`.
    pub enum MediaState {
        /// Media is flowing.
        Active => "active",
        /// Media is not flowing.
        Inactive => "inactive",
    }
}

graph_enum! {
    /// DTMF tone of `toneInfo.tone`.
    pub enum Tone {
        /// 0.
        Tone0 => "tone0",
        /// 1.
        Tone1 => "tone1",
        /// 2.
        Tone2 => "tone2",
        /// 3.
        Tone3 => "tone3",
        /// 4.
        Tone4 => "tone4",
        /// 5.
        Tone5 => "tone5",
        /// 6.
        Tone6 => "tone6",
        /// 7.
        Tone7 => "tone7",
        /// 8.
        Tone8 => "tone8",
        /// 9.
        Tone9 => "tone9",
        /// `*`.
        Star => "star",
        /// `#`.
        Pound => "pound",
        /// A.
        A => "a",
        /// B.
        B => "b",
        /// C.
        C => "c",
        /// D.
        D => "d",
        /// Flash.
        Flash => "flash",
    }
}

graph_enum! {
    /// `callTranscriptionInfo.state`.
    pub enum CallTranscriptionState {
        /// Never started.
        NotStarted => "notStarted",
        /// Transcribing.
        Active => "active",
        /// Stopped.
        Inactive => "inactive",
    }
}

graph_enum! {
    /// `call.routingPolicies` entries (beta; also sent by the redirect example).
    pub enum RoutingPolicy {
        /// No policy.
        None => "none",
        /// No missed-call notification.
        NoMissedCall => "noMissedCall",
        /// Disable forwarding except to phone.
        DisableForwardingExceptPhone => "disableForwardingExceptPhone",
        /// Disable forwarding.
        DisableForwarding => "disableForwarding",
        /// Prefer Skype for Business.
        PreferSkypeForBusiness => "preferSkypeForBusiness",
    }
}

graph_enum! {
    /// `meetingCapability.autoAdmittedUsers`.
    pub enum AutoAdmittedUsers {
        /// Everyone in the organizer's company.
        EveryoneInCompany => "everyoneInCompany",
        /// Everyone.
        Everyone => "everyone",
    }
}

/// `#microsoft.graph.callMediaState`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.callMediaState",
    rename_all = "camelCase"
)]
pub struct CallMediaState {
    /// Audio media state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<MediaState>,
}

/// `#microsoft.graph.toneInfo`: a DTMF key press (service-hosted media only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.toneInfo",
    rename_all = "camelCase"
)]
pub struct ToneInfo {
    /// Increasing sequence number of the key press.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_id: Option<i64>,
    /// The key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tone: Option<Tone>,
}

/// `#microsoft.graph.callTranscriptionInfo` (read-only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.callTranscriptionInfo",
    rename_all = "camelCase"
)]
pub struct CallTranscriptionInfo {
    /// Transcription state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CallTranscriptionState>,
    /// When the state last changed (ISO 8601, as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_date_time: Option<String>,
}

/// `#microsoft.graph.incomingContext`: who an incoming call is really from/for (policy recording, transfer).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.incomingContext",
    rename_all = "camelCase"
)]
pub struct IncomingContext {
    /// Participant that is the source of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_participant_id: Option<ParticipantId>,
    /// Participant being observed (policy recording).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_participant_id: Option<ParticipantId>,
    /// On whose behalf the call is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<IdentitySet>,
    /// Who transferred the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferor: Option<IdentitySet>,
}

/// `#microsoft.graph.meetingCapability` (beta).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.meetingCapability",
    rename_all = "camelCase"
)]
pub struct MeetingCapability {
    /// Anonymous users may dial out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_anonymous_users_to_dial_out: Option<bool>,
    /// Anonymous users may start the meeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_anonymous_users_to_start_meeting: Option<bool>,
    /// Who is admitted automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_admitted_users: Option<AutoAdmittedUsers>,
}

/// `#microsoft.graph.call`: the body of create-call requests, call responses and call notifications.
///
/// Every field is optional because notifications carry partial calls (`{"state":"terminating"}`).
/// Serializing writes `"@odata.type": "#microsoft.graph.call"` and skips absent fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.call",
    rename_all = "camelCase"
)]
pub struct Call {
    /// Call id (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<CallId>,
    /// Call state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CallState>,
    /// Incoming or outgoing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<CallDirection>,
    /// HTTPS URL Graph posts this call's notifications to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_uri: Option<String>,
    /// Id shared by all legs of the conference / P2P call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_chain_id: Option<CallChainId>,
    /// How the call was routed.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub call_routes: Vec<CallRoute>,
    /// Meeting thread (join by organizer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_info: Option<ChatInfo>,
    /// How to find the meeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_info: Option<MeetingInfo>,
    /// App- or service-hosted media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_config: Option<MediaConfig>,
    /// Media state (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_state: Option<CallMediaState>,
    /// The bot's own participant id in the roster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub my_participant_id: Option<ParticipantId>,
    /// Requested modalities.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub requested_modalities: Vec<Modality>,
    /// Active modalities (beta, read-only).
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub active_modalities: Vec<Modality>,
    /// Outcome, e.g. why the call terminated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_info: Option<ResultInfo>,
    /// Originator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ParticipantInfo>,
    /// Targets of the call.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub targets: Vec<InvitationParticipantInfo>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Tenant of the call / meeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<TenantId>,
    /// Last DTMF tone (service-hosted media).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tone_info: Option<ToneInfo>,
    /// Transcription state (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcription: Option<CallTranscriptionInfo>,
    /// Context of an incoming call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming_context: Option<IncomingContext>,
    /// Options for an outgoing call (content sharing / delta roster notifications …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_options: Option<OutgoingCallOptions>,
    /// Ringing timeout for outgoing P2P calls (beta, ≤ 115 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ringing_timeout_in_seconds: Option<u32>,
    /// Routing policies (beta).
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub routing_policies: Vec<RoutingPolicy>,
    /// Who answered (beta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<ParticipantInfo>,
    /// Meeting capabilities (beta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_capability: Option<MeetingCapability>,
    /// Why the call terminated (beta, free text such as `"AppTransferred"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_reason: Option<String>,
    /// Seen in transfer-failed notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_context: Option<String>,
    /// Undocumented open-ended metadata (policy recording `botData`); see [`OpenJson`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_metadata: Option<OpenJson>,
}

impl Call {
    /// The organizer's meeting tenant or the call's `tenantId`, whichever is present (call first).
    pub fn meeting_tenant(&self) -> Option<&TenantId> {
        self.tenant_id
            .as_ref()
            .or_else(|| match &self.meeting_info {
                Some(MeetingInfo::Organizer(info)) => info.tenant_id(),
                _ => None,
            })
    }
}
