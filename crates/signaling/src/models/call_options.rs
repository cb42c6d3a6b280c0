//! `callOptions`: notification options chosen when placing or answering a call.

use serde::{Deserialize, Serialize};

/// `#microsoft.graph.outgoingCallOptions`: options on a create-call request (`call.callOptions`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.outgoingCallOptions",
    rename_all = "camelCase"
)]
pub struct OutgoingCallOptions {
    /// Send content-sharing session notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_content_sharing_notification_enabled: Option<bool>,
    /// Send roster changes as `deltaParticipants` instead of full snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_delta_roster_enabled: Option<bool>,
    /// Interactive roster (only participants with media).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_interactive_roster_enabled: Option<bool>,
    /// Hide the bot after the call escalates to a group call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hide_bot_after_escalation: Option<bool>,
}

/// `#microsoft.graph.incomingCallOptions`: options on an answer request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.incomingCallOptions",
    rename_all = "camelCase"
)]
pub struct IncomingCallOptions {
    /// Send content-sharing session notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_content_sharing_notification_enabled: Option<bool>,
    /// Send roster changes as `deltaParticipants`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_delta_roster_enabled: Option<bool>,
    /// Interactive roster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_interactive_roster_enabled: Option<bool>,
}
