//! Identifier newtypes: Graph ids travel as opaque strings, the media source id (MSI) as a `u32`.
//!
//! Graph writes the same GUID in two spellings, sometimes inside one payload: a notification's
//! `resourceUrl` carries `…/operations/0FE0623FD62842EDB4BD8AC290072CC5` while its `resourceData.id` is
//! `0fe0623f-d628-42ed-b4bd-8ac290072cc5`. The string ids therefore compare and hash GUID-shaped values by
//! their 128-bit value (case, hyphens and braces ignored) and every other value byte for byte. The original
//! spelling is kept and is what [`as_str`](CallId::as_str), `Display` and serialization return.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::ModelError;

/// The 128-bit value of a GUID written as 32 hex digits, optionally hyphenated 8-4-4-4-12 and/or in braces.
fn guid_value(text: &str) -> Option<u128> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text);
    let bytes = inner.as_bytes();
    let hyphenated = bytes.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-')
        && bytes.iter().filter(|&&b| b == b'-').count() == 4;
    if !(bytes.len() == 32 || hyphenated) {
        return None;
    }
    let mut value: u128 = 0;
    for &b in bytes.iter().filter(|&&b| b != b'-') {
        let digit = char::from(b).to_digit(16)?;
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// Equality and hashing treat GUID spellings that differ only in case, hyphens or braces as the
        /// same id (see the [module docs](self)).
        #[derive(Clone, Default)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id exactly as Graph (or the caller) spelled it.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as spelled on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Consumes the id, returning its wire spelling.
            pub fn into_string(self) -> String {
                self.0
            }

            /// True when the id is a GUID (in any of Graph's spellings).
            pub fn is_guid(&self) -> bool {
                guid_value(&self.0).is_some()
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                match (guid_value(&self.0), guid_value(&other.0)) {
                    (Some(a), Some(b)) => a == b,
                    _ => self.0 == other.0,
                }
            }
        }

        impl Eq for $name {}

        impl Hash for $name {
            fn hash<H: Hasher>(&self, state: &mut H) {
                match guid_value(&self.0) {
                    Some(value) => value.hash(state),
                    None => self.0.hash(state),
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self)
            }
        }
    };
}

string_id! {
    /// Id of a call (`call.id`; the `{id}` in `/communications/calls/{id}`).
    CallId
}
string_id! {
    /// Id of a participant in a call's roster (`participant.id`, `call.myParticipantId`).
    ParticipantId
}
string_id! {
    /// Id of an asynchronous operation (`commsOperation.id`; `…/operations/{id}`).
    OperationId
}
string_id! {
    /// Azure AD tenant id (a GUID, or a domain where Graph allows one).
    TenantId
}
string_id! {
    /// Azure AD application (client) id of a bot.
    AppId
}
string_id! {
    /// `call.callChainId`: shared by all call legs of one conference or peer-to-peer call.
    CallChainId
}
string_id! {
    /// Id of an audio routing group (chosen by the client on create).
    AudioRoutingGroupId
}
string_id! {
    /// Id of a content sharing session.
    ContentSharingSessionId
}

/// Media source id (MSI): the `mediaStream.sourceId` that tags a participant's audio/video stream.
///
/// Graph sends it as a decimal string (`"1652"`); the media stack uses the number. `0xFFFF_FFFF`
/// ([`Msi::NONE`]) is the media SDK's "no valid source" value and never names a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msi(pub u32);

impl Msi {
    /// The "no source" sentinel, 4294967295.
    pub const NONE: Msi = Msi(u32::MAX);

    /// True for the [`Msi::NONE`] sentinel.
    pub fn is_none(self) -> bool {
        self == Self::NONE
    }

    /// The MSI as a real source, or `None` for the sentinel.
    pub fn valid(self) -> Option<Msi> {
        (!self.is_none()).then_some(self)
    }

    /// Parses a `sourceId` string (surrounding whitespace allowed).
    pub fn parse_source_id(source_id: &str) -> Result<Msi, ModelError> {
        source_id
            .trim()
            .parse::<u32>()
            .map(Msi)
            .map_err(|_| ModelError::InvalidSourceId(source_id.to_owned()))
    }
}

impl fmt::Display for Msi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Msi {
    type Err = ModelError;
    fn from_str(source_id: &str) -> Result<Self, Self::Err> {
        Self::parse_source_id(source_id)
    }
}

impl Serialize for Msi {
    /// Serialized the way Graph writes `sourceId`: a decimal string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Msi {
    /// Accepts the decimal string Graph sends (`"1652"`) or a plain number.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Number(u32),
            Text(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Number(n) => Ok(Msi(n)),
            Wire::Text(text) => Msi::parse_source_id(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn guid_spellings_of_one_id_are_equal_and_hash_alike() {
        let compact = OperationId::new("0FE0623FD62842EDB4BD8AC290072CC5");
        let hyphenated = OperationId::new("0fe0623f-d628-42ed-b4bd-8ac290072cc5");
        let braced = OperationId::new("{0FE0623F-D628-42ED-B4BD-8AC290072CC5}");
        assert_eq!(compact, hyphenated);
        assert_eq!(compact, braced);
        let set: HashSet<_> = [compact.clone(), hyphenated, braced].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!(compact.as_str(), "0FE0623FD62842EDB4BD8AC290072CC5");
    }

    #[test]
    fn non_guid_ids_compare_exactly() {
        assert_ne!(
            AudioRoutingGroupId::new("oneToOne"),
            AudioRoutingGroupId::new("onetoone")
        );
        assert_eq!(
            AudioRoutingGroupId::new("multicast"),
            AudioRoutingGroupId::new("multicast")
        );
        // A placeholder that looks GUID-like but contains non-hex characters (from the docs).
        let t = TenantId::new("86dc81db-c112-4228-9222-63f3esaa1edb");
        assert!(!t.is_guid());
        assert_eq!(t, TenantId::new("86dc81db-c112-4228-9222-63f3esaa1edb"));
    }

    #[test]
    fn msi_parses_source_ids_and_knows_the_none_sentinel() {
        assert_eq!(Msi::parse_source_id("1652").unwrap(), Msi(1652));
        assert_eq!("4294967295".parse::<Msi>().unwrap(), Msi::NONE);
        assert!(Msi::NONE.is_none());
        assert_eq!(Msi::NONE.valid(), None);
        assert_eq!(Msi(10).valid(), Some(Msi(10)));
        assert!(
            matches!(Msi::parse_source_id("abc"), Err(ModelError::InvalidSourceId(s)) if s == "abc")
        );
        assert!(Msi::parse_source_id("4294967296").is_err());
        assert_eq!(serde_json::to_string(&Msi(2472)).unwrap(), "\"2472\"");
        assert_eq!(serde_json::from_str::<Msi>("\"2472\"").unwrap(), Msi(2472));
        assert_eq!(serde_json::from_str::<Msi>("2472").unwrap(), Msi(2472));
        assert!(serde_json::from_str::<Msi>("\"-1\"").is_err());
    }
}
