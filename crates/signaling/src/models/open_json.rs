//! [`OpenJson`]: an opaque holder for Graph's genuinely open-ended JSON.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Open-ended JSON that Graph does not type (e.g. the undocumented `call.applicationMetadata`).
///
/// The value is kept privately so it round-trips unchanged; callers read it through accessors and never
/// handle a `serde_json::Value` directly.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenJson(serde_json::Value);

impl OpenJson {
    /// Parses JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text).map(Self)
    }

    /// The value as compact JSON text.
    pub fn to_json_string(&self) -> String {
        self.0.to_string()
    }

    /// The string at a path of object keys, e.g. `["botData", "policyIdentifier"]`.
    pub fn str_at(&self, path: &[&str]) -> Option<&str> {
        path.iter()
            .try_fold(&self.0, |value, key| value.get(key))?
            .as_str()
    }

    /// True when the value is an object containing `key`.
    pub fn has_key(&self, key: &str) -> bool {
        self.0.get(key).is_some()
    }
}

impl fmt::Debug for OpenJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpenJson({})", self.0)
    }
}

impl Serialize for OpenJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for OpenJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(Self)
    }
}
