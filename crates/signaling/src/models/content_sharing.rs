//! `contentSharingSession`: a screen/content share in a call.

use serde::{Deserialize, Serialize};

use super::ids::ContentSharingSessionId;

/// `#microsoft.graph.contentSharingSession`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.contentSharingSession",
    rename_all = "camelCase"
)]
pub struct ContentSharingSession {
    /// Session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ContentSharingSessionId>,
}
