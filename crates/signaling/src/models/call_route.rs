//! `callRoute`: how a call was routed (forwarded, looked up, self-forked).

use serde::{Deserialize, Serialize};

use super::identity::IdentitySet;
use super::serde_util::graph_enum;

graph_enum! {
    /// `callRoute.routingType`.
    pub enum RoutingType {
        /// Forwarded.
        Forwarded => "forwarded",
        /// Looked up.
        Lookup => "lookup",
        /// Self-forked.
        SelfFork => "selfFork",
    }
}

/// `#microsoft.graph.callRoute`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.callRoute",
    rename_all = "camelCase"
)]
pub struct CallRoute {
    /// The identity originally called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<IdentitySet>,
    /// The identity finally reached (`final` on the wire).
    #[serde(rename = "final", default, skip_serializing_if = "Option::is_none")]
    pub final_target: Option<IdentitySet>,
    /// How it was routed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_type: Option<RoutingType>,
}
