//! `meetingInfo` (abstract) and its subtypes: how to find the meeting a call joins.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::identity::IdentitySet;
use super::ids::TenantId;
use super::serde_util::odata_type_name;

/// `#microsoft.graph.organizerMeetingInfo`: join by organizer (+ [`ChatInfo`](super::ChatInfo) on the call).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrganizerMeetingInfo {
    /// The organizer; `organizer.user.tenantId` carries the meeting tenant.
    pub organizer: Option<IdentitySet>,
    /// Used in every doc example though missing from the property table.
    pub allow_conversation_without_host: Option<bool>,
}

impl OrganizerMeetingInfo {
    /// The meeting tenant from `organizer.user.tenantId`, if present.
    pub fn tenant_id(&self) -> Option<&TenantId> {
        self.organizer.as_ref()?.user.as_ref()?.tenant_id.as_ref()
    }
}

/// `#microsoft.graph.joinMeetingIdMeetingInfo`: join by the numeric meeting id and passcode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinMeetingIdMeetingInfo {
    /// The join meeting id (digits, e.g. `"1234567"`).
    pub join_meeting_id: String,
    /// The passcode, when the meeting has one.
    pub passcode: Option<String>,
}

/// `#microsoft.graph.tokenMeetingInfo`: join with the token from an incoming-call notification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenMeetingInfo {
    /// The opaque join token.
    pub token: String,
}

/// `meetingInfo`, polymorphic on `@odata.type`.
///
/// Deserializing tolerates a missing `@odata.type` by looking at the fields (`joinMeetingId`, `token`,
/// `organizer`); an unrecognised type becomes [`MeetingInfo::Unknown`]. Serializing always writes
/// `@odata.type`, which Graph requires for this abstract type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingInfo {
    /// `organizerMeetingInfo`.
    Organizer(Box<OrganizerMeetingInfo>),
    /// `joinMeetingIdMeetingInfo`.
    JoinMeetingId(JoinMeetingIdMeetingInfo),
    /// `tokenMeetingInfo`.
    Token(TokenMeetingInfo),
    /// A subtype this crate does not know; holds the `@odata.type` (empty when absent).
    Unknown {
        /// The `@odata.type` value as received.
        odata_type: String,
    },
}

impl MeetingInfo {
    /// The `@odata.type` this value serializes with.
    pub fn odata_type(&self) -> &str {
        match self {
            Self::Organizer(_) => "#microsoft.graph.organizerMeetingInfo",
            Self::JoinMeetingId(_) => "#microsoft.graph.joinMeetingIdMeetingInfo",
            Self::Token(_) => "#microsoft.graph.tokenMeetingInfo",
            Self::Unknown { odata_type } => odata_type,
        }
    }
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMeetingInfo {
    #[serde(
        rename = "@odata.type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    odata_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    organizer: Option<IdentitySet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allow_conversation_without_host: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    join_meeting_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    passcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl<'de> Deserialize<'de> for MeetingInfo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawMeetingInfo::deserialize(deserializer)?;
        let name = raw
            .odata_type
            .as_deref()
            .map(odata_type_name)
            .map(str::to_ascii_lowercase);
        let organizer = |raw: RawMeetingInfo| {
            MeetingInfo::Organizer(Box::new(OrganizerMeetingInfo {
                organizer: raw.organizer,
                allow_conversation_without_host: raw.allow_conversation_without_host,
            }))
        };
        Ok(match name.as_deref() {
            Some("organizermeetinginfo") => organizer(raw),
            Some("joinmeetingidmeetinginfo") => {
                MeetingInfo::JoinMeetingId(JoinMeetingIdMeetingInfo {
                    join_meeting_id: raw.join_meeting_id.unwrap_or_default(),
                    passcode: raw.passcode,
                })
            }
            Some("tokenmeetinginfo") => MeetingInfo::Token(TokenMeetingInfo {
                token: raw.token.unwrap_or_default(),
            }),
            Some(_) => MeetingInfo::Unknown {
                odata_type: raw.odata_type.unwrap_or_default(),
            },
            None if raw.join_meeting_id.is_some() => {
                MeetingInfo::JoinMeetingId(JoinMeetingIdMeetingInfo {
                    join_meeting_id: raw.join_meeting_id.unwrap_or_default(),
                    passcode: raw.passcode,
                })
            }
            None if raw.token.is_some() => MeetingInfo::Token(TokenMeetingInfo {
                token: raw.token.unwrap_or_default(),
            }),
            None if raw.organizer.is_some() => organizer(raw),
            None => MeetingInfo::Unknown {
                odata_type: String::new(),
            },
        })
    }
}

impl Serialize for MeetingInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut raw = RawMeetingInfo {
            odata_type: Some(self.odata_type().to_owned()).filter(|t| !t.is_empty()),
            ..RawMeetingInfo::default()
        };
        match self {
            Self::Organizer(info) => {
                raw.organizer = info.organizer.clone();
                raw.allow_conversation_without_host = info.allow_conversation_without_host;
            }
            Self::JoinMeetingId(info) => {
                raw.join_meeting_id = Some(info.join_meeting_id.clone());
                raw.passcode = info.passcode.clone();
            }
            Self::Token(info) => raw.token = Some(info.token.clone()),
            Self::Unknown { .. } => {}
        }
        raw.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatches_on_odata_type_and_infers_it_when_missing() {
        let org: MeetingInfo = serde_json::from_str(
            r##"{"@odata.type":"#microsoft.graph.organizerMeetingInfo","organizer":{"user":{"id":"u","tenantId":"t"}},"allowConversationWithoutHost":true}"##,
        )
        .unwrap();
        let MeetingInfo::Organizer(info) = &org else {
            panic!("expected organizer: {org:?}")
        };
        assert_eq!(info.tenant_id().map(TenantId::as_str), Some("t"));
        assert_eq!(info.allow_conversation_without_host, Some(true));

        let id: MeetingInfo =
            serde_json::from_str(r#"{"joinMeetingId":"1234567","passcode":null}"#).unwrap();
        assert_eq!(
            id,
            MeetingInfo::JoinMeetingId(JoinMeetingIdMeetingInfo {
                join_meeting_id: "1234567".into(),
                passcode: None
            })
        );

        let token: MeetingInfo = serde_json::from_str(
            r##"{"@odata.type":"#microsoft.graph.tokenMeetingInfo","token":"join token"}"##,
        )
        .unwrap();
        assert_eq!(
            token,
            MeetingInfo::Token(TokenMeetingInfo {
                token: "join token".into()
            })
        );

        let other: MeetingInfo =
            serde_json::from_str(r##"{"@odata.type":"#microsoft.graph.futureMeetingInfo"}"##)
                .unwrap();
        assert_eq!(
            other,
            MeetingInfo::Unknown {
                odata_type: "#microsoft.graph.futureMeetingInfo".into()
            }
        );
    }

    #[test]
    fn serializes_with_odata_type() {
        let info = MeetingInfo::JoinMeetingId(JoinMeetingIdMeetingInfo {
            join_meeting_id: "42".into(),
            passcode: Some("pw".into()),
        });
        assert_eq!(
            serde_json::to_string(&info).unwrap(),
            r##"{"@odata.type":"#microsoft.graph.joinMeetingIdMeetingInfo","joinMeetingId":"42","passcode":"pw"}"##
        );
    }
}
