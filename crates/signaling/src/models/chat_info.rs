//! `chatInfo`: the Teams thread a meeting belongs to.

use serde::{Deserialize, Serialize};

/// `#microsoft.graph.chatInfo`. Scheduled meetings use `19:meeting_…@thread.v2` with `messageId "0"`;
/// channel meetings use `19:…@thread.skype` with the channel post id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.chatInfo",
    rename_all = "camelCase"
)]
pub struct ChatInfo {
    /// Teams thread id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// Message id in the thread (`"0"` for scheduled meetings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Id of the reply-chain root message (channel meetings: the join link's `context.MessageId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_chain_message_id: Option<String>,
}
