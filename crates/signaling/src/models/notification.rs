//! `commsNotifications` / `commsNotification`: the callback envelope Graph posts to the bot.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::call::Call;
use super::content_sharing::ContentSharingSession;
use super::error::ModelError;
use super::ids::{CallId, ParticipantId};
use super::operation::CommsOperation;
use super::participant::{DeltaParticipants, Participant};
use super::resource_url::{CallResource, ResourceRef};
use super::serde_util::{graph_enum, is_odata_type, null_as_empty};

graph_enum! {
    /// `commsNotification.changeType`.
    pub enum ChangeType {
        /// Created (incoming call, content sharing started).
        Created => "created",
        /// Updated (state changes, roster).
        Updated => "updated",
        /// Deleted (call terminated, operation finished).
        Deleted => "deleted",
    }
}

/// `#microsoft.graph.commsNotifications`: the batch body of a callback POST. Process in order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.commsNotifications",
    rename_all = "camelCase"
)]
pub struct CommsNotifications {
    /// The notifications.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub value: Vec<CommsNotification>,
}

/// The typed `resourceData` of a notification.
///
/// Graph sends an object or an array (or nothing); the variant is chosen from the `@odata.type` of the
/// object (or of the first array element), falling back to the shape of the resource URL when the type is
/// missing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ResourceData {
    /// No `resourceData` (e.g. beta content-sharing notifications) or `null`.
    #[default]
    Absent,
    /// A (usually partial) call.
    Call(Box<Call>),
    /// A full roster snapshot (an array of participants; a lone participant object becomes one entry).
    Participants(Vec<Participant>),
    /// A delta roster (beta, `callOptions.isDeltaRosterEnabled`).
    DeltaParticipants(DeltaParticipants),
    /// An operation (any subtype).
    Operation(CommsOperation),
    /// Content sharing sessions.
    ContentSharingSessions(Vec<ContentSharingSession>),
    /// Policy-based recording with `participantCapacity`: a new participant of the policy group wants to join.
    ParticipantJoining(Box<ParticipantJoiningNotification>),
    /// Policy-based recording with `participantCapacity`: a participant left.
    ParticipantLeft(Box<ParticipantLeftNotification>),
    /// A resource type this crate does not model (e.g. a future notification type); its content is
    /// dropped.
    Other {
        /// The `@odata.type` found, if any.
        odata_type: Option<String>,
    },
}

/// `#microsoft.graph.participantJoiningNotification` (no wire example is documented).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.participantJoiningNotification",
    rename_all = "camelCase"
)]
pub struct ParticipantJoiningNotification {
    /// The call the participant joins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<Call>,
}

/// `#microsoft.graph.participantLeftNotification` (no wire example is documented).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.participantLeftNotification",
    rename_all = "camelCase"
)]
pub struct ParticipantLeftNotification {
    /// The call the participant left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<Call>,
    /// The participant that left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<ParticipantId>,
}

/// `#microsoft.graph.commsNotification`: one change.
///
/// The item's own `@odata.type` is not checked (one doc example types it `commsOperation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommsNotification {
    /// What happened.
    pub change_type: ChangeType,
    /// The changed resource (`/communications/calls/{id}[/…]`); may lack the leading slash.
    pub resource_url: Option<String>,
    /// The legacy `/app/calls/{id}…` spelling of the same resource; old payloads had only this.
    pub resource: Option<String>,
    /// Informational callback URI present in some notifications.
    pub callback_uri: Option<String>,
    /// The changed data.
    pub resource_data: ResourceData,
}

impl CommsNotification {
    /// The resource URL to route by: `resourceUrl`, else `resource`.
    pub fn url(&self) -> Option<&str> {
        self.resource_url.as_deref().or(self.resource.as_deref())
    }

    /// The call and sub-resource this notification is about.
    pub fn resource_ref(&self) -> Result<ResourceRef, ModelError> {
        ResourceRef::parse(self.url().ok_or(ModelError::MissingResourceUrl)?)
    }

    /// The call this notification is about.
    pub fn call_id(&self) -> Result<CallId, ModelError> {
        self.resource_ref().map(|r| r.call_id)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNotification {
    change_type: ChangeType,
    #[serde(default)]
    resource_url: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    callback_uri: Option<String>,
    #[serde(default)]
    resource_data: Option<serde_json::Value>,
}

/// What kind of data the resource URL implies, for untyped `resourceData`.
fn kind_from_url(url: Option<&str>) -> Option<CallResource> {
    ResourceRef::parse(url?).ok().map(|r| r.resource)
}

fn odata_type_of(value: &serde_json::Value) -> Option<&str> {
    value.get("@odata.type").and_then(serde_json::Value::as_str)
}

fn classify(data: serde_json::Value, url: Option<&str>) -> Result<ResourceData, serde_json::Error> {
    use serde_json::{Value, from_value};
    let sample = match &data {
        Value::Null => return Ok(ResourceData::Absent),
        Value::Array(items) => items.first(),
        other => Some(other),
    };
    let odata_type = sample.and_then(odata_type_of).map(str::to_owned);
    let is_array = data.is_array();
    let is = |name: &str| {
        odata_type
            .as_deref()
            .is_some_and(|t| is_odata_type(t, name))
    };
    let by_url = || kind_from_url(url);

    let as_list = |data: Value| -> Value {
        if data.is_array() {
            data
        } else {
            Value::Array(vec![data])
        }
    };
    if is("participant") {
        return from_value(as_list(data)).map(ResourceData::Participants);
    }
    if is("contentSharingSession") {
        return from_value(as_list(data)).map(ResourceData::ContentSharingSessions);
    }
    if !is_array {
        if is("call") {
            return from_value(data).map(|c| ResourceData::Call(Box::new(c)));
        }
        if is("deltaParticipants") {
            return from_value(data).map(ResourceData::DeltaParticipants);
        }
        if is("participantJoiningNotification") {
            return from_value(data).map(|n| ResourceData::ParticipantJoining(Box::new(n)));
        }
        if is("participantLeftNotification") {
            return from_value(data).map(|n| ResourceData::ParticipantLeft(Box::new(n)));
        }
        if odata_type
            .as_deref()
            .is_some_and(CommsOperation::is_operation_type)
        {
            return from_value(data).map(ResourceData::Operation);
        }
    }
    if odata_type.is_some() {
        return Ok(ResourceData::Other { odata_type });
    }
    // No @odata.type: decide by where the notification points.
    Ok(match (by_url(), is_array) {
        (Some(CallResource::Participants), true) => ResourceData::Participants(from_value(data)?),
        (Some(CallResource::Participants), false) if data.get("sequenceNumber").is_some() => {
            ResourceData::DeltaParticipants(from_value(data)?)
        }
        (Some(CallResource::Participants | CallResource::Participant(_)), false) => {
            ResourceData::Participants(vec![from_value(data)?])
        }
        (
            Some(CallResource::ContentSharingSessions | CallResource::ContentSharingSession(_)),
            _,
        ) => ResourceData::ContentSharingSessions(from_value(as_list(data))?),
        (Some(CallResource::Call), false) => ResourceData::Call(Box::new(from_value(data)?)),
        (Some(CallResource::Operation(_)), false) => ResourceData::Operation(from_value(data)?),
        _ => ResourceData::Other { odata_type: None },
    })
}

impl<'de> Deserialize<'de> for CommsNotification {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawNotification::deserialize(deserializer)?;
        let url = raw.resource_url.as_deref().or(raw.resource.as_deref());
        let resource_data = match raw.resource_data {
            None => ResourceData::Absent,
            Some(data) => classify(data, url).map_err(D::Error::custom)?,
        };
        Ok(Self {
            change_type: raw.change_type,
            resource_url: raw.resource_url,
            resource: raw.resource,
            callback_uri: raw.callback_uri,
            resource_data,
        })
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum RawResourceData<'a> {
    Call(&'a Call),
    Participants(&'a [Participant]),
    Delta(&'a DeltaParticipants),
    Operation(&'a CommsOperation),
    Sessions(&'a [ContentSharingSession]),
    Joining(&'a ParticipantJoiningNotification),
    Left(&'a ParticipantLeftNotification),
    Other {
        #[serde(rename = "@odata.type", skip_serializing_if = "Option::is_none")]
        odata_type: Option<&'a str>,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RawNotificationOut<'a> {
    #[serde(rename = "@odata.type")]
    odata_type: &'static str,
    change_type: &'a ChangeType,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_uri: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_data: Option<RawResourceData<'a>>,
}

impl Serialize for CommsNotification {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let resource_data = match &self.resource_data {
            ResourceData::Absent => None,
            ResourceData::Call(call) => Some(RawResourceData::Call(call)),
            ResourceData::Participants(list) => Some(RawResourceData::Participants(list)),
            ResourceData::DeltaParticipants(delta) => Some(RawResourceData::Delta(delta)),
            ResourceData::Operation(op) => Some(RawResourceData::Operation(op)),
            ResourceData::ContentSharingSessions(list) => Some(RawResourceData::Sessions(list)),
            ResourceData::ParticipantJoining(n) => Some(RawResourceData::Joining(n)),
            ResourceData::ParticipantLeft(n) => Some(RawResourceData::Left(n)),
            ResourceData::Other { odata_type } => Some(RawResourceData::Other {
                odata_type: odata_type.as_deref(),
            }),
        };
        RawNotificationOut {
            odata_type: "#microsoft.graph.commsNotification",
            change_type: &self.change_type,
            resource: self.resource.as_deref(),
            resource_url: self.resource_url.as_deref(),
            callback_uri: self.callback_uri.as_deref(),
            resource_data,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{CallState, OperationKind, OperationStatus};

    fn one(json: &str) -> CommsNotification {
        let mut batch: CommsNotifications = serde_json::from_str(json).unwrap();
        assert_eq!(batch.value.len(), 1);
        batch.value.remove(0)
    }

    #[test]
    fn untyped_resource_data_is_classified_by_url() {
        let n = one(
            r#"{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/c1/participants",
                "resourceData":[{"id":"p1","mediaStreams":[{"mediaType":"audio","sourceId":"7"}]}]}]}"#,
        );
        let ResourceData::Participants(roster) = &n.resource_data else {
            panic!("{n:?}")
        };
        assert_eq!(roster[0].id.as_ref().map(|p| p.as_str()), Some("p1"));
        assert_eq!(roster[0].audio_msi(), Some(crate::models::Msi(7)));

        let n = one(
            r#"{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/c1","resourceData":{"state":"Established"}}]}"#,
        );
        let ResourceData::Call(call) = &n.resource_data else {
            panic!("{n:?}")
        };
        assert_eq!(call.state, Some(CallState::Established));

        let n = one(
            r#"{"value":[{"changeType":"deleted","resourceUrl":"communications/calls/c1/operations/o1","resourceData":{"status":"completed"}}]}"#,
        );
        let ResourceData::Operation(op) = &n.resource_data else {
            panic!("{n:?}")
        };
        assert_eq!(op.kind, OperationKind::Generic);
        assert_eq!(op.status, Some(OperationStatus::Completed));
    }

    #[test]
    fn missing_or_null_resource_data_and_unknown_types() {
        let n = one(
            r#"{"value":[{"changeType":"created","resource":"/app/calls/c1","resourceData":null}]}"#,
        );
        assert_eq!(n.resource_data, ResourceData::Absent);
        assert_eq!(n.call_id().unwrap(), CallId::new("c1"));

        let n = one(
            r##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/c1",
                "resourceData":{"@odata.type":"#microsoft.graph.participantLeftNotification","participantId":"p7",
                "call":{"@odata.type":"#microsoft.graph.call","id":"c1"}}}]}"##,
        );
        let ResourceData::ParticipantLeft(left) = &n.resource_data else {
            panic!("{n:?}")
        };
        assert_eq!(left.participant_id, Some(ParticipantId::new("p7")));
        assert_eq!(
            left.call.as_ref().and_then(|c| c.id.clone()),
            Some(CallId::new("c1"))
        );

        let n = one(
            r##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/c1",
                "resourceData":{"@odata.type":"#microsoft.graph.futureNotification","call":{}}}]}"##,
        );
        assert_eq!(
            n.resource_data,
            ResourceData::Other {
                odata_type: Some("#microsoft.graph.futureNotification".into())
            }
        );
        let n = one(r#"{"value":[{"changeType":"someday"}]}"#);
        assert_eq!(n.change_type, ChangeType::Unknown("someday".into()));
        assert_eq!(n.call_id(), Err(ModelError::MissingResourceUrl));
    }

    #[test]
    fn delta_roster_is_typed() {
        let n = one(
            r##"{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/c1/participants",
                "resourceData":{"@odata.type":"#microsoft.graph.deltaParticipants","sequenceNumber":4,
                "participants":[{"id":"p9","removedState":{"reason":"left"}}]}}]}"##,
        );
        let ResourceData::DeltaParticipants(delta) = &n.resource_data else {
            panic!("{n:?}")
        };
        assert_eq!(delta.sequence_number, Some(4));
        assert_eq!(
            delta.participants[0]
                .removed_state
                .as_ref()
                .and_then(|r| r.reason.as_deref()),
            Some("left")
        );
    }

    #[test]
    fn malformed_typed_data_is_an_error_not_a_panic() {
        let err = serde_json::from_str::<CommsNotifications>(
            r##"{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/c1",
                "resourceData":{"@odata.type":"#microsoft.graph.call","targets":"nope"}}]}"##,
        );
        assert!(err.is_err());
    }
}
