//! Which call (and which part of it) a notification's `resourceUrl` / `resource` names.

use super::error::ModelError;
use super::ids::{
    AudioRoutingGroupId, CallId, ContentSharingSessionId, OperationId, ParticipantId,
};

/// The part of a call a resource URL points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallResource {
    /// The call itself (`/communications/calls/{id}`).
    Call,
    /// The roster (`…/participants`).
    Participants,
    /// One participant (`…/participants/{id}`).
    Participant(ParticipantId),
    /// The operations collection (`…/operations`).
    Operations,
    /// One operation (`…/operations/{id}`).
    Operation(OperationId),
    /// The audio routing groups (`…/audioRoutingGroups`).
    AudioRoutingGroups,
    /// One audio routing group (`…/audioRoutingGroups/{id}`).
    AudioRoutingGroup(AudioRoutingGroupId),
    /// The content sharing sessions (`…/contentSharingSessions`, lower-case in notifications).
    ContentSharingSessions,
    /// One content sharing session (`…/contentsharingsessions/{id}`).
    ContentSharingSession(ContentSharingSessionId),
    /// Any other path below the call, as written (without leading slash).
    Other(String),
}

/// A parsed resource URL: the call id plus the sub-resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceRef {
    /// The call the resource belongs to.
    pub call_id: CallId,
    /// What below the call it names.
    pub resource: CallResource,
}

impl ResourceRef {
    /// Parses `resourceUrl`/`resource` values and `Location` headers.
    ///
    /// Accepts `/communications/calls/{id}…` and the legacy `/app/calls/{id}…`, with or without the leading
    /// slash, with an optional `https://host/v1.0` (or `/beta`) prefix, a query string or fragment, and any
    /// case in the path words (`contentsharingsessions` vs `contentSharingSessions`). Ids keep their
    /// spelling. Parsing is literal: the doc examples' typo `…/operations/participants` (used for both a
    /// roster and an invite-operation notification) yields `Operation("participants")`; route on
    /// [`ResourceData`](super::ResourceData), which is typed by `@odata.type`, for the payload.
    pub fn parse(url: &str) -> Result<Self, ModelError> {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let calls_at = segments
            .windows(2)
            .position(|pair| {
                (pair[0].eq_ignore_ascii_case("communications")
                    || pair[0].eq_ignore_ascii_case("app"))
                    && pair[1].eq_ignore_ascii_case("calls")
            })
            .ok_or_else(|| ModelError::NotACallResource(url.to_owned()))?;
        let call_id = segments
            .get(calls_at + 2)
            .map(|id| CallId::new(*id))
            .ok_or_else(|| ModelError::MissingCallId(url.to_owned()))?;
        let rest = &segments[calls_at + 3..];
        let is = |segment: &str, word: &str| segment.eq_ignore_ascii_case(word);
        let resource = match rest {
            [] => CallResource::Call,
            [p] if is(p, "participants") => CallResource::Participants,
            [p, id] if is(p, "participants") => CallResource::Participant(ParticipantId::new(*id)),
            [o] if is(o, "operations") => CallResource::Operations,
            [o, id] if is(o, "operations") => CallResource::Operation(OperationId::new(*id)),
            [a] if is(a, "audioRoutingGroups") => CallResource::AudioRoutingGroups,
            [a, id] if is(a, "audioRoutingGroups") => {
                CallResource::AudioRoutingGroup(AudioRoutingGroupId::new(*id))
            }
            [c] if is(c, "contentSharingSessions") => CallResource::ContentSharingSessions,
            [c, id] if is(c, "contentSharingSessions") => {
                CallResource::ContentSharingSession(ContentSharingSessionId::new(*id))
            }
            other => CallResource::Other(other.join("/")),
        };
        Ok(Self { call_id, resource })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> ResourceRef {
        ResourceRef::parse(url).unwrap()
    }

    #[test]
    fn call_and_sub_resources() {
        let call = parse("/communications/calls/57DAB8B1894C409AB240BD8BEAE78896");
        assert_eq!(call.call_id.as_str(), "57DAB8B1894C409AB240BD8BEAE78896");
        assert_eq!(call.resource, CallResource::Call);
        assert_eq!(
            parse("/communications/calls/abc/participants").resource,
            CallResource::Participants
        );
        assert_eq!(
            parse("/communications/calls/abc/participants/p1").resource,
            CallResource::Participant(ParticipantId::new("p1"))
        );
        assert_eq!(
            parse("/communications/calls/abc/operations/OP1").resource,
            CallResource::Operation(OperationId::new("OP1"))
        );
        assert_eq!(
            parse("/communications/calls/abc/audioRoutingGroups/oneToOne").resource,
            CallResource::AudioRoutingGroup(AudioRoutingGroupId::new("oneToOne"))
        );
        assert_eq!(
            parse("/communications/calls/abc/contentsharingsessions").resource,
            CallResource::ContentSharingSessions
        );
        assert_eq!(
            parse("/communications/calls/abc/contentsharingsessions/2765eb15").resource,
            CallResource::ContentSharingSession(ContentSharingSessionId::new("2765eb15"))
        );
        assert_eq!(
            parse("/communications/calls/abc/participants/p1/mute").resource,
            CallResource::Other("participants/p1/mute".into())
        );
    }

    #[test]
    fn tolerates_missing_slash_legacy_app_path_hosts_and_case() {
        let expected = CallId::new("e141b67c-90fd-455d-858b-b48a40b9cc8d");
        for url in [
            "communications/calls/e141b67c-90fd-455d-858b-b48a40b9cc8d/operations/x",
            "/app/calls/e141b67c-90fd-455d-858b-b48a40b9cc8d/operations/x",
            "https://graph.microsoft.com/v1.0/communications/calls/e141b67c-90fd-455d-858b-b48a40b9cc8d/operations/x",
            "/Communications/Calls/E141B67C90FD455D858BB48A40B9CC8D/Operations/x?foo=bar",
        ] {
            let parsed = parse(url);
            assert_eq!(parsed.call_id, expected, "{url}");
            assert_eq!(
                parsed.resource,
                CallResource::Operation(OperationId::new("x")),
                "{url}"
            );
        }
    }

    #[test]
    fn doc_typo_operations_participants_is_parsed_literally() {
        let url =
            "/communications/calls/7531d31f-d10d-44de-802f-c569dbca451c/operations/participants";
        let parsed = parse(url);
        assert_eq!(
            parsed.call_id,
            CallId::new("7531d31f-d10d-44de-802f-c569dbca451c")
        );
        assert_eq!(
            parsed.resource,
            CallResource::Operation(OperationId::new("participants"))
        );
    }

    #[test]
    fn errors_name_what_is_missing() {
        assert_eq!(
            ResourceRef::parse("/communications/calls/"),
            Err(ModelError::MissingCallId("/communications/calls/".into()))
        );
        assert_eq!(
            ResourceRef::parse("/me/events/1"),
            Err(ModelError::NotACallResource("/me/events/1".into()))
        );
    }
}
