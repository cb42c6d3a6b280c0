//! `{"value": [...]}` collection responses (list participants, routing groups, content sharing sessions).

use serde::{Deserialize, Serialize};

use super::serde_util::null_as_empty;

/// An OData collection response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ODataCollection<T> {
    /// The items.
    #[serde(
        default = "Vec::new",
        deserialize_with = "null_as_empty",
        bound(deserialize = "T: Deserialize<'de>")
    )]
    pub value: Vec<T>,
    /// `@odata.context`, if sent.
    #[serde(
        rename = "@odata.context",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub odata_context: Option<String>,
    /// `@odata.nextLink`: the next page, if any.
    #[serde(
        rename = "@odata.nextLink",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_link: Option<String>,
}
