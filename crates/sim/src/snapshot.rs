//! Read-only views of the simulator's state for tests and the demo.

use std::time::Instant;

use mediabot_signaling::models::{
    AudioRoutingGroup, CallChainId, CallDirection, CallId, CallState, CommsOperation, Msi,
    Participant, ParticipantId, ResultInfo, TenantId,
};

use crate::media_seam::SimParticipant;

/// A meeting as the simulator knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingSnapshot {
    /// Scenario key.
    pub key: String,
    /// Subject.
    pub subject: Option<String>,
    /// Meeting tenant.
    pub tenant_id: TenantId,
    /// Organizer's AAD object id.
    pub organizer_id: String,
    /// Organizer's display name.
    pub organizer_name: String,
    /// `chatInfo.threadId`.
    pub thread_id: String,
    /// A `https://teams.microsoft.com/l/meetup-join/…` link that `mediabot_signaling::join_url`
    /// parses into this meeting's `chatInfo` + `organizerMeetingInfo`.
    pub join_url: String,
    /// A short `https://teams.microsoft.com/meet/<id>?p=<passcode>` link.
    pub short_join_url: String,
    /// Numeric join meeting id.
    pub join_meeting_id: String,
    /// Passcode.
    pub passcode: String,
    /// The `tokenMeetingInfo.token` that joins this meeting.
    pub join_token: String,
    /// Virtual participants and whether each is currently in the meeting.
    pub participants: Vec<MemberSnapshot>,
}

/// A virtual participant of a meeting.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberSnapshot {
    /// Who.
    pub participant: SimParticipant,
    /// In the meeting now.
    pub present: bool,
    /// Speaking now.
    pub speaking: bool,
}

/// A call as the simulator knows it (including ended calls).
#[derive(Debug, Clone, PartialEq)]
pub struct CallSnapshot {
    /// Call id.
    pub id: CallId,
    /// Current state.
    pub state: CallState,
    /// Incoming or outgoing.
    pub direction: CallDirection,
    /// `callChainId` (also the `X-Microsoft-Skype-Chain-ID` of its callbacks).
    pub call_chain_id: CallChainId,
    /// Meeting key, for meeting and group calls.
    pub meeting: Option<String>,
    /// The bot's participant id.
    pub my_participant_id: ParticipantId,
    /// The bot's audio MSI.
    pub bot_msi: Msi,
    /// Where notifications go.
    pub callback_uri: String,
    /// Tenant of the call.
    pub tenant_id: TenantId,
    /// Why it ended, once it has.
    pub result_info: Option<ResultInfo>,
    /// The roster as the bot would see it now.
    pub roster: Vec<Participant>,
    /// Audio routing groups.
    pub routing_groups: Vec<AudioRoutingGroup>,
    /// Operations not yet completed.
    pub pending_operations: Vec<CommsOperation>,
    /// Media was attached (app-hosted with a blob).
    pub media_attached: bool,
    /// The bot asked for delta rosters.
    pub delta_roster: bool,
    /// Last successful keepAlive (or creation).
    pub last_keepalive: Instant,
}
