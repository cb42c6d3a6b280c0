//! Teams meeting join URLs → the Graph parameters that join the meeting (reference §9).
//!
//! Two link families exist:
//!
//! * **Long `meetup-join` links**
//!   `https://teams.microsoft.com/l/meetup-join/<threadId>/<messageId>?context={"Tid":…,"Oid":…[,"MessageId":…]}`,
//!   percent-encoded or not (`%7b`/`%7B` alike), with extra query parameters after `context`
//!   (`&anon=true&deeplinkId=…`), or in the web-app form `https://teams.microsoft.com/_#/l/meetup-join/…`.
//!   They become [`ChatInfo`] `{threadId, messageId, replyChainMessageId: context.MessageId}`, an
//!   [`OrganizerMeetingInfo`] `{organizer: {user: {id: Oid, tenantId: Tid}}}` and the call's `tenantId = Tid`,
//!   exactly as Microsoft's samples do. Channel meetings use a `19:…@thread.skype` thread, the channel post
//!   id as message id and `context.MessageId` as reply chain.
//! * **Short `meet` links** `https://teams.microsoft.com/meet/<joinMeetingId>?p=<passcode>` (and
//!   `https://teams.live.com/meet/…` for consumer Teams). They carry no thread, tenant or organizer, so they
//!   become [`JoinMeetingIdMeetingInfo`] with an empty [`ChatInfo`]; the tenant must come from the bot's own
//!   configuration.
//!
//! Accepted hosts: `teams.microsoft.com`, `teams.live.com`, and — beyond the reference, which documents only
//! those two — Microsoft's other Teams web hosts `teams.cloud.microsoft`, `teams.microsoft.us`,
//! `gov.teams.microsoft.us` (GCC High) and `dod.teams.microsoft.us` (DoD). Anything else is rejected with
//! a [`JoinUrlError`] that names what is wrong or missing.
//!
//! Parsing splits the URL first and percent-decodes each piece afterwards, so encoded and decoded links
//! give the same result and an encoded `/` can never move a path boundary.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::models::{
    Call, ChatInfo, Identity, IdentitySet, JoinMeetingIdMeetingInfo, MeetingInfo,
    OrganizerMeetingInfo, TenantId,
};

/// Hosts that serve Teams meeting links.
pub const TEAMS_HOSTS: &[&str] = &[
    "teams.microsoft.com",
    "teams.live.com",
    "teams.cloud.microsoft",
    "teams.microsoft.us",
    "gov.teams.microsoft.us",
    "dod.teams.microsoft.us",
];

/// Why a string is not a usable Teams meeting join URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoinUrlError {
    /// The input is empty or only whitespace.
    #[error("join URL is empty")]
    Empty,
    /// The input has no `scheme://`.
    #[error("join URL has no scheme; expected it to start with https://")]
    MissingScheme,
    /// The scheme is not `https`.
    #[error("join URL scheme {0:?} is not https")]
    UnsupportedScheme(String),
    /// Nothing between `https://` and the path.
    #[error("join URL has no host")]
    MissingHost,
    /// The host is not a Teams host (see [`TEAMS_HOSTS`]).
    #[error("host {0:?} is not a Teams meeting host (expected one of {TEAMS_HOSTS:?})")]
    UnsupportedHost(String),
    /// The path is neither `/l/meetup-join/…` nor `/meet/…`.
    #[error(
        "join URL path is neither /l/meetup-join/<thread id>/<message id> nor /meet/<meeting id>"
    )]
    NotAMeetingLink,
    /// `meetup-join` is not followed by the thread id.
    #[error("meetup-join link has no thread id after /meetup-join/")]
    MissingThreadId,
    /// The thread id does not look like `19:…@thread.…`.
    #[error("meetup-join thread id {0:?} is not of the form 19:…@thread.v2 / 19:…@thread.skype")]
    InvalidThreadId(String),
    /// The thread id is not followed by the message id.
    #[error("meetup-join link has no message id after the thread id")]
    MissingMessageId,
    /// No `context` query parameter (it carries the tenant and organizer).
    #[error("meetup-join link has no context query parameter (it carries Tid and Oid)")]
    MissingContext,
    /// The `context` parameter is not a JSON object.
    #[error("meetup-join context parameter is not a JSON object")]
    InvalidContext(#[source] serde_json::Error),
    /// `context` has no `Tid`.
    #[error("meetup-join context has no Tid (meeting tenant id)")]
    MissingTenantId,
    /// `context` has no `Oid`.
    #[error("meetup-join context has no Oid (organizer object id)")]
    MissingOrganizerId,
    /// `/meet/` is not followed by the meeting id.
    #[error("meet link has no meeting id after /meet/")]
    MissingMeetingId,
    /// The meeting id is not all digits.
    #[error("meet link meeting id {0:?} is not all digits")]
    InvalidMeetingId(String),
    /// A percent-encoded part does not decode to UTF-8.
    #[error("join URL percent-encoding does not decode to UTF-8")]
    InvalidEncoding,
}

/// A long `meetup-join` link: everything needed to join by organizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetupJoinLink {
    /// Lower-cased host the link points at.
    pub host: String,
    /// `19:meeting_…@thread.v2` (scheduled) or `19:…@thread.skype` (channel).
    pub thread_id: String,
    /// `"0"` for scheduled meetings, the channel post id for channel meetings.
    pub message_id: String,
    /// Meeting tenant (`context.Tid`).
    pub tenant_id: TenantId,
    /// Organizer's AAD object id (`context.Oid`).
    pub organizer_id: String,
    /// Reply-chain message id (`context.MessageId`, channel meetings).
    pub reply_chain_message_id: Option<String>,
}

impl MeetupJoinLink {
    /// `chatInfo {threadId, messageId, replyChainMessageId}`.
    pub fn chat_info(&self) -> ChatInfo {
        ChatInfo {
            thread_id: Some(self.thread_id.clone()),
            message_id: Some(self.message_id.clone()),
            reply_chain_message_id: self.reply_chain_message_id.clone(),
        }
    }

    /// `organizerMeetingInfo {organizer: {user: {id: Oid, tenantId: Tid}}}`.
    pub fn organizer_meeting_info(&self) -> OrganizerMeetingInfo {
        OrganizerMeetingInfo {
            organizer: Some(IdentitySet::user(Identity {
                id: Some(self.organizer_id.clone()),
                tenant_id: Some(self.tenant_id.clone()),
                ..Identity::default()
            })),
            allow_conversation_without_host: None,
        }
    }
}

/// A short `meet` link: join by meeting id and passcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetLink {
    /// Lower-cased host the link points at (`teams.live.com` for consumer Teams).
    pub host: String,
    /// The numeric join meeting id.
    pub join_meeting_id: String,
    /// The passcode (`p` query parameter), when present.
    pub passcode: Option<String>,
}

impl MeetLink {
    /// `joinMeetingIdMeetingInfo {joinMeetingId, passcode}`.
    pub fn meeting_info(&self) -> JoinMeetingIdMeetingInfo {
        JoinMeetingIdMeetingInfo {
            join_meeting_id: self.join_meeting_id.clone(),
            passcode: self.passcode.clone(),
        }
    }

    /// True for consumer Teams (`teams.live.com`).
    pub fn is_consumer(&self) -> bool {
        self.host == "teams.live.com"
    }
}

/// A parsed Teams meeting join URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingJoinUrl {
    /// Long `…/l/meetup-join/<thread>/<message>?context=…` link.
    MeetupJoin(MeetupJoinLink),
    /// Short `…/meet/<id>?p=<passcode>` link.
    Meet(MeetLink),
}

impl MeetingJoinUrl {
    /// Parses a join URL (see the [module docs](self) for the accepted forms).
    pub fn parse(url: &str) -> Result<Self, JoinUrlError> {
        parse_join_url(url)
    }

    /// The `chatInfo` to send: the link's thread, or an empty `chatInfo` for short links (§9).
    pub fn chat_info(&self) -> ChatInfo {
        match self {
            Self::MeetupJoin(link) => link.chat_info(),
            Self::Meet(_) => ChatInfo::default(),
        }
    }

    /// The `meetingInfo` to send.
    pub fn meeting_info(&self) -> MeetingInfo {
        match self {
            Self::MeetupJoin(link) => {
                MeetingInfo::Organizer(Box::new(link.organizer_meeting_info()))
            }
            Self::Meet(link) => MeetingInfo::JoinMeetingId(link.meeting_info()),
        }
    }

    /// The meeting tenant the link names (long links only).
    pub fn tenant_id(&self) -> Option<&TenantId> {
        match self {
            Self::MeetupJoin(link) => Some(&link.tenant_id),
            Self::Meet(_) => None,
        }
    }

    /// Fills a create-call request's `chatInfo`, `meetingInfo` and `tenantId`.
    ///
    /// The tenant is the link's `Tid`, else `configured_tenant` (short links carry none); if neither is
    /// known, `call.tenant_id` is left as it was.
    pub fn apply_to(&self, call: &mut Call, configured_tenant: Option<&TenantId>) {
        call.chat_info = Some(self.chat_info());
        call.meeting_info = Some(self.meeting_info());
        if let Some(tenant) = self.tenant_id().or(configured_tenant) {
            call.tenant_id = Some(tenant.clone());
        }
    }
}

impl FromStr for MeetingJoinUrl {
    type Err = JoinUrlError;
    fn from_str(url: &str) -> Result<Self, Self::Err> {
        parse_join_url(url)
    }
}

impl fmt::Display for MeetingJoinUrl {
    /// A canonical encoded URL for the link.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MeetupJoin(link) => {
                let context = JoinContextOut {
                    tid: link.tenant_id.as_str(),
                    oid: &link.organizer_id,
                    message_id: link.reply_chain_message_id.as_deref(),
                };
                let context = serde_json::to_string(&context).map_err(|_| fmt::Error)?;
                write!(
                    f,
                    "https://{}/l/meetup-join/{}/{}?context={}",
                    link.host,
                    percent_encode(&link.thread_id),
                    percent_encode(&link.message_id),
                    percent_encode(&context)
                )
            }
            Self::Meet(link) => {
                write!(
                    f,
                    "https://{}/meet/{}",
                    link.host,
                    percent_encode(&link.join_meeting_id)
                )?;
                match &link.passcode {
                    Some(passcode) => write!(f, "?p={}", percent_encode(passcode)),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Parses a Teams meeting join URL.
pub fn parse_join_url(url: &str) -> Result<MeetingJoinUrl, JoinUrlError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(JoinUrlError::Empty);
    }
    let (scheme, rest) = url.split_once("://").ok_or(JoinUrlError::MissingScheme)?;
    if !scheme.eq_ignore_ascii_case("https") {
        return Err(JoinUrlError::UnsupportedScheme(scheme.to_owned()));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, route) = rest.split_at(authority_end);
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host
        .split(':')
        .next()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if host.is_empty() {
        return Err(JoinUrlError::MissingHost);
    }
    if !TEAMS_HOSTS.contains(&host.as_str()) {
        return Err(JoinUrlError::UnsupportedHost(host));
    }

    // The web-app form keeps the route in the fragment: `/_#/l/meetup-join/…?context=…`.
    let route = match route.split_once('#') {
        Some((_, fragment)) if fragment.starts_with('/') => fragment,
        Some((before, _)) => before,
        None => route,
    };
    let (path, query) = route.split_once('?').unwrap_or((route, ""));
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let after = |word: &str| {
        segments
            .iter()
            .position(|s| s.eq_ignore_ascii_case(word))
            .map(|i| &segments[i + 1..])
    };

    if let Some(rest) = after("meetup-join") {
        parse_meetup_join(host, rest, query).map(MeetingJoinUrl::MeetupJoin)
    } else if let Some(rest) = after("meet") {
        parse_meet(host, rest, query).map(MeetingJoinUrl::Meet)
    } else {
        Err(JoinUrlError::NotAMeetingLink)
    }
}

/// The `context` JSON of a meetup-join link.
#[derive(Deserialize)]
struct JoinContext {
    #[serde(rename = "Tid", alias = "tid", default)]
    tid: Option<String>,
    #[serde(rename = "Oid", alias = "oid", default)]
    oid: Option<String>,
    #[serde(rename = "MessageId", alias = "messageId", default)]
    message_id: Option<String>,
}

/// The `context` JSON as written by [`MeetingJoinUrl`]'s `Display`.
#[derive(Serialize)]
struct JoinContextOut<'a> {
    #[serde(rename = "Tid")]
    tid: &'a str,
    #[serde(rename = "Oid")]
    oid: &'a str,
    #[serde(rename = "MessageId", skip_serializing_if = "Option::is_none")]
    message_id: Option<&'a str>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn parse_meetup_join(
    host: String,
    rest: &[&str],
    query: &str,
) -> Result<MeetupJoinLink, JoinUrlError> {
    let thread_id = rest
        .first()
        .map(|s| percent_decode(s))
        .transpose()?
        .filter(|s| !s.is_empty());
    let thread_id = thread_id.ok_or(JoinUrlError::MissingThreadId)?;
    let looks_like_thread = thread_id.starts_with("19:") && thread_id.contains("@thread.");
    if !looks_like_thread {
        return Err(JoinUrlError::InvalidThreadId(thread_id));
    }
    let message_id = rest
        .get(1)
        .map(|s| percent_decode(s))
        .transpose()?
        .filter(|s| !s.is_empty());
    let message_id = message_id.ok_or(JoinUrlError::MissingMessageId)?;

    let context = query_value(query, "context").ok_or(JoinUrlError::MissingContext)?;
    let context: JoinContext =
        serde_json::from_str(&context).map_err(JoinUrlError::InvalidContext)?;
    let tenant_id = non_empty(context.tid).ok_or(JoinUrlError::MissingTenantId)?;
    let organizer_id = non_empty(context.oid).ok_or(JoinUrlError::MissingOrganizerId)?;
    Ok(MeetupJoinLink {
        host,
        thread_id,
        message_id,
        tenant_id: TenantId::new(tenant_id),
        organizer_id,
        reply_chain_message_id: non_empty(context.message_id),
    })
}

fn parse_meet(host: String, rest: &[&str], query: &str) -> Result<MeetLink, JoinUrlError> {
    let id = rest
        .first()
        .map(|s| percent_decode(s))
        .transpose()?
        .map(|s| s.trim().to_owned());
    let join_meeting_id = id
        .filter(|s| !s.is_empty())
        .ok_or(JoinUrlError::MissingMeetingId)?;
    if !join_meeting_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(JoinUrlError::InvalidMeetingId(join_meeting_id));
    }
    Ok(MeetLink {
        host,
        join_meeting_id,
        passcode: non_empty(query_value(query, "p")),
    })
}

/// The form-decoded value of the first `name` parameter in a query string.
fn query_value(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

/// Decodes `%XX` escapes (any case); a `%` not followed by two hex digits is kept as is.
fn percent_decode(text: &str) -> Result<String, JoinUrlError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                // Both digits are < 16, so the value fits a byte.
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| JoinUrlError::InvalidEncoding)
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_is_case_insensitive_and_keeps_stray_percent() {
        assert_eq!(
            percent_decode("19%3ameeting%40thread.v2").unwrap(),
            "19:meeting@thread.v2"
        );
        assert_eq!(percent_decode("%7B%22a%22%7d").unwrap(), "{\"a\"}");
        assert_eq!(percent_decode("100%").unwrap(), "100%");
        assert_eq!(percent_decode("%zz").unwrap(), "%zz");
        assert!(matches!(
            percent_decode("%ff"),
            Err(JoinUrlError::InvalidEncoding)
        ));
    }

    #[test]
    fn display_round_trips() {
        let long = "https://teams.microsoft.com/l/meetup-join/19:abc@thread.skype/1509579179399?context={\"Tid\":\"t\",\"Oid\":\"o\",\"MessageId\":\"1536978844957\"}";
        let parsed = parse_join_url(long).unwrap();
        assert_eq!(parse_join_url(&parsed.to_string()).unwrap(), parsed);
        let short = parse_join_url("https://teams.live.com/meet/9398850880426?p=hQ3nTe").unwrap();
        assert_eq!(parse_join_url(&short.to_string()).unwrap(), short);
    }
}
