//! `audioRoutingGroup`: private audio routes between participants.

use serde::{Deserialize, Serialize};

use super::ids::{AudioRoutingGroupId, ParticipantId};
use super::serde_util::{graph_enum, null_as_empty};

graph_enum! {
    /// `audioRoutingGroup.routingMode`.
    pub enum RoutingMode {
        /// One source, one receiver.
        OneToOne => "oneToOne",
        /// One source, many receivers.
        Multicast => "multicast",
    }
}

/// `audioRoutingGroup` (create/get/update body). The doc examples carry no `@odata.type`, and none is written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioRoutingGroup {
    /// Client-chosen id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<AudioRoutingGroupId>,
    /// Routing mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_mode: Option<RoutingMode>,
    /// Participant ids whose audio is routed.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub sources: Vec<ParticipantId>,
    /// Participant ids that hear the sources.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub receivers: Vec<ParticipantId>,
}
