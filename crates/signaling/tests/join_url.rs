//! Teams join URL parsing (reference §9): the documented example, every documented variant, and an error
//! naming what is missing for each way a link can be broken.

use std::path::Path;

use mediabot_signaling::join_url::{
    JoinUrlError, MeetLink, MeetingJoinUrl, MeetupJoinLink, parse_join_url,
};
use mediabot_signaling::models::{Call, ChatInfo, MeetingInfo, TenantId};
use serde_json::{Value, json};

/// The example from Microsoft's `call` resource page, as published (encoded, lower-case escapes).
const DOC_ENCODED: &str = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NTg0NmQ3NTctZDVkZC00YzRhLThmNmEtOGQ3M2E0ODdmZDZk%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%224b444206-207c-42f8-92a6-e332b41c88a2%22%7d";

/// The same example after URL-decoding, as printed on the page.
const DOC_DECODED: &str = r#"https://teams.microsoft.com/l/meetup-join/19:meeting_NTg0NmQ3NTctZDVkZC00YzRhLThmNmEtOGQ3M2E0ODdmZDZk@thread.v2/0?context={"Tid":"72f988bf-86f1-41af-91ab-2d7cd011db47","Oid":"4b444206-207c-42f8-92a6-e332b41c88a2"}"#;

const DOC_THREAD: &str = "19:meeting_NTg0NmQ3NTctZDVkZC00YzRhLThmNmEtOGQ3M2E0ODdmZDZk@thread.v2";
const DOC_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const DOC_ORGANIZER: &str = "4b444206-207c-42f8-92a6-e332b41c88a2";

fn doc_link() -> MeetupJoinLink {
    MeetupJoinLink {
        host: "teams.microsoft.com".into(),
        thread_id: DOC_THREAD.into(),
        message_id: "0".into(),
        tenant_id: TenantId::new(DOC_TENANT),
        organizer_id: DOC_ORGANIZER.into(),
        reply_chain_message_id: None,
    }
}

fn meetup(url: &str) -> MeetupJoinLink {
    match parse_join_url(url) {
        Ok(MeetingJoinUrl::MeetupJoin(link)) => link,
        other => panic!("{url}: {other:?}"),
    }
}

fn meet(url: &str) -> MeetLink {
    match parse_join_url(url) {
        Ok(MeetingJoinUrl::Meet(link)) => link,
        other => panic!("{url}: {other:?}"),
    }
}

fn error(url: &str) -> JoinUrlError {
    match parse_join_url(url) {
        Err(e) => e,
        Ok(parsed) => panic!("{url} parsed as {parsed:?}"),
    }
}

#[test]
fn documented_encoded_example_gives_documented_chat_and_meeting_info() {
    let parsed = parse_join_url(DOC_ENCODED).unwrap();
    assert_eq!(parsed, MeetingJoinUrl::MeetupJoin(doc_link()));
    assert_eq!(
        serde_json::to_value(parsed.chat_info()).unwrap(),
        json!({"@odata.type": "#microsoft.graph.chatInfo", "threadId": DOC_THREAD, "messageId": "0"})
    );
    assert_eq!(
        serde_json::to_value(parsed.meeting_info()).unwrap(),
        json!({
            "@odata.type": "#microsoft.graph.organizerMeetingInfo",
            "organizer": {
                "@odata.type": "#microsoft.graph.identitySet",
                "user": {"@odata.type": "#microsoft.graph.identity", "id": DOC_ORGANIZER, "tenantId": DOC_TENANT}
            }
        })
    );
    assert_eq!(parsed.tenant_id(), Some(&TenantId::new(DOC_TENANT)));
}

#[test]
fn decoded_form_parses_the_same() {
    assert_eq!(meetup(DOC_DECODED), doc_link());
}

#[test]
fn upper_case_escapes_parse_the_same() {
    let upper = DOC_ENCODED
        .replace("%7b", "%7B")
        .replace("%7d", "%7D")
        .replace("%3a", "%3A")
        .replace("%2c", "%2C");
    assert_ne!(upper, DOC_ENCODED);
    assert_eq!(meetup(&upper), doc_link());
}

#[test]
fn extra_query_parameters_after_context_are_ignored() {
    let url = format!("{DOC_ENCODED}&anon=true&deeplinkId=4a6a56e4-0b3e-4b2b-9e6a-0a1c3c2f2e55");
    assert_eq!(meetup(&url), doc_link());
    let before = DOC_ENCODED.replace("/0?context=", "/0?launchAgent=join_launcher&context=");
    assert_eq!(meetup(&before), doc_link());
}

#[test]
fn web_app_fragment_form_parses_the_same() {
    let url = DOC_ENCODED.replace("teams.microsoft.com/l/", "teams.microsoft.com/_#/l/")
        + "&anon=true&deeplinkId=x";
    assert_eq!(meetup(&url), doc_link());
}

#[test]
fn channel_meeting_link_carries_the_reply_chain_message_id() {
    let url = r#"https://teams.microsoft.com/l/meetup-join/19:cd9ce3da56624fe69c9d7cd026f9126d@thread.skype/1509579179399?context={"Tid":"72f988bf-86f1-41af-91ab-2d7cd011db47","Oid":"4b444206-207c-42f8-92a6-e332b41c88a2","MessageId":"1536978844957"}"#;
    let link = meetup(url);
    assert_eq!(
        link.thread_id,
        "19:cd9ce3da56624fe69c9d7cd026f9126d@thread.skype"
    );
    assert_eq!(link.message_id, "1509579179399");
    assert_eq!(
        link.chat_info(),
        ChatInfo {
            thread_id: Some("19:cd9ce3da56624fe69c9d7cd026f9126d@thread.skype".into()),
            message_id: Some("1509579179399".into()),
            reply_chain_message_id: Some("1536978844957".into()),
        }
    );
}

#[test]
fn government_and_new_hosts_are_accepted() {
    for host in [
        "gov.teams.microsoft.us",
        "dod.teams.microsoft.us",
        "teams.microsoft.us",
        "teams.cloud.microsoft",
    ] {
        let link = meetup(&DOC_ENCODED.replace("teams.microsoft.com", host));
        assert_eq!(link.host, host);
        assert_eq!(link.thread_id, DOC_THREAD);
    }
    assert_eq!(
        meetup(&DOC_ENCODED.replace("teams.microsoft.com", "Teams.Microsoft.COM:443")).host,
        "teams.microsoft.com"
    );
}

#[test]
fn short_meet_link_becomes_join_meeting_id_info() {
    let link = meet("https://teams.microsoft.com/meet/2657374567291?p=hQ3nTeWXcVz");
    assert_eq!(link.join_meeting_id, "2657374567291");
    assert_eq!(link.passcode.as_deref(), Some("hQ3nTeWXcVz"));
    assert!(!link.is_consumer());
    let parsed = MeetingJoinUrl::Meet(link);
    assert_eq!(parsed.tenant_id(), None);
    assert_eq!(parsed.chat_info(), ChatInfo::default());
}

#[test]
fn consumer_short_link_and_missing_passcode() {
    let link = meet("https://teams.live.com/meet/9398850880426?p=7dfV2s");
    assert!(link.is_consumer());
    assert_eq!(link.passcode.as_deref(), Some("7dfV2s"));
    let no_passcode = meet("https://teams.microsoft.com/meet/1234567");
    assert_eq!(no_passcode.passcode, None);
}

#[test]
fn short_link_fills_a_create_call_like_the_documented_join_meeting_id_request() {
    // call-create-join-meeting-joinmeetingid-passcode-request-contrib.json: meetingInfo + tenantId.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/graph-examples/call-create-join-meeting-joinmeetingid-passcode-request-contrib.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let parsed = parse_join_url("https://teams.microsoft.com/meet/1234567?p=psw123").unwrap();
    let mut call = Call::default();
    parsed.apply_to(
        &mut call,
        Some(&TenantId::new("86dc81db-c112-4228-9222-63f3esaa1edb")),
    );
    let written = serde_json::to_value(&call).unwrap();
    assert_eq!(written["meetingInfo"], doc["meetingInfo"]);
    assert_eq!(written["tenantId"], doc["tenantId"]);
    // §9: an empty chatInfo accompanies joinMeetingIdMeetingInfo.
    assert_eq!(
        written["chatInfo"],
        json!({"@odata.type": "#microsoft.graph.chatInfo"})
    );
}

#[test]
fn long_link_fills_a_create_call_with_the_link_tenant() {
    let mut call = Call::default();
    parse_join_url(DOC_ENCODED)
        .unwrap()
        .apply_to(&mut call, Some(&TenantId::new("configured-tenant")));
    assert_eq!(call.tenant_id, Some(TenantId::new(DOC_TENANT)));
    assert_eq!(call.meeting_tenant(), Some(&TenantId::new(DOC_TENANT)));
    let Some(MeetingInfo::Organizer(info)) = &call.meeting_info else {
        panic!("{:?}", call.meeting_info)
    };
    assert_eq!(info.tenant_id(), Some(&TenantId::new(DOC_TENANT)));
    assert_eq!(
        call.chat_info.as_ref().and_then(|c| c.thread_id.as_deref()),
        Some(DOC_THREAD)
    );
}

#[test]
fn from_str_and_display_round_trip() {
    let parsed: MeetingJoinUrl = DOC_DECODED.parse().unwrap();
    assert_eq!(
        parsed.to_string().parse::<MeetingJoinUrl>().unwrap(),
        parsed
    );
}

// Errors: each names what is missing or wrong.

#[test]
fn empty_and_non_https_inputs_are_rejected() {
    assert!(matches!(error("   "), JoinUrlError::Empty));
    assert!(matches!(
        error("teams.microsoft.com/l/meetup-join/x/0"),
        JoinUrlError::MissingScheme
    ));
    assert!(
        matches!(error(&DOC_ENCODED.replace("https://", "http://")), JoinUrlError::UnsupportedScheme(s) if s == "http")
    );
    assert!(matches!(
        error("https:///l/meetup-join/x/0"),
        JoinUrlError::MissingHost
    ));
}

#[test]
fn foreign_hosts_are_rejected_by_name() {
    let e = error(&DOC_ENCODED.replace("teams.microsoft.com", "teams.evil.example"));
    assert!(matches!(&e, JoinUrlError::UnsupportedHost(h) if h == "teams.evil.example"));
    assert!(e.to_string().contains("teams.evil.example"));
}

#[test]
fn non_meeting_paths_are_rejected() {
    assert!(matches!(
        error("https://teams.microsoft.com/l/chat/0/0?users=a@b.c"),
        JoinUrlError::NotAMeetingLink
    ));
}

#[test]
fn missing_thread_and_message_ids_are_named() {
    assert!(matches!(
        error("https://teams.microsoft.com/l/meetup-join/"),
        JoinUrlError::MissingThreadId
    ));
    assert!(matches!(
        error("https://teams.microsoft.com/l/meetup-join/not-a-thread/0?context={}"),
        JoinUrlError::InvalidThreadId(t) if t == "not-a-thread"
    ));
    let no_message = format!(
        "https://teams.microsoft.com/l/meetup-join/{DOC_THREAD}?context={{\"Tid\":\"t\",\"Oid\":\"o\"}}"
    );
    assert!(matches!(error(&no_message), JoinUrlError::MissingMessageId));
}

#[test]
fn missing_or_broken_context_is_named() {
    let base = format!("https://teams.microsoft.com/l/meetup-join/{DOC_THREAD}/0");
    assert!(matches!(error(&base), JoinUrlError::MissingContext));
    assert!(matches!(
        error(&format!("{base}?anon=true")),
        JoinUrlError::MissingContext
    ));
    assert!(matches!(
        error(&format!("{base}?context=%7bnot json")),
        JoinUrlError::InvalidContext(_)
    ));
    assert!(matches!(
        error(&format!("{base}?context={{\"Oid\":\"o\"}}")),
        JoinUrlError::MissingTenantId
    ));
    assert!(matches!(
        error(&format!("{base}?context={{\"Tid\":\"\",\"Oid\":\"o\"}}")),
        JoinUrlError::MissingTenantId
    ));
    let e = error(&format!("{base}?context={{\"Tid\":\"t\"}}"));
    assert!(matches!(e, JoinUrlError::MissingOrganizerId));
    assert!(e.to_string().contains("Oid"));
}

#[test]
fn short_links_without_a_numeric_id_are_named() {
    assert!(matches!(
        error("https://teams.microsoft.com/meet/?p=x"),
        JoinUrlError::MissingMeetingId
    ));
    assert!(
        matches!(error("https://teams.live.com/meet/abc?p=x"), JoinUrlError::InvalidMeetingId(id) if id == "abc")
    );
}

#[test]
fn invalid_utf8_escapes_are_an_error_not_a_panic() {
    assert!(matches!(
        error("https://teams.microsoft.com/l/meetup-join/19%3a%ff%40thread.v2/0?context={}"),
        JoinUrlError::InvalidEncoding
    ));
}

/// Every single-character deletion, truncation and insertion of a few URL-significant strings into the
/// documented links: parsing never panics, and whatever parses prints to a URL that parses back the same.
#[test]
fn mutated_links_never_panic_and_parsed_ones_display_round_trip() {
    let seeds = [
        DOC_ENCODED,
        DOC_DECODED,
        r#"https://teams.microsoft.com/_#/l/meetup-join/19:cd9ce3da56624fe69c9d7cd026f9126d@thread.skype/1509579179399?context={"Tid":"t","Oid":"o","MessageId":"1536978844957"}&anon=true"#,
        "https://teams.microsoft.com/meet/2657374567291?p=hQ3nTeWXcVz",
        "https://teams.live.com/meet/9398850880426?p=7dfV2s",
    ];
    let inserts = [
        "%", "%7", "%ff", "/", "?", "#", "&", "=", "{", "}", "\"", ":", "+", " ", "é", "\u{0}",
    ];
    let (mut parsed, mut rejected) = (0usize, 0usize);
    for seed in seeds {
        for (at, ch) in seed.char_indices() {
            let mut candidates = vec![
                seed[..at].to_owned(),
                format!("{}{}", &seed[..at], &seed[at + ch.len_utf8()..]),
            ];
            candidates.extend(
                inserts
                    .iter()
                    .map(|ins| format!("{}{ins}{}", &seed[..at], &seed[at..])),
            );
            for candidate in candidates {
                match parse_join_url(&candidate) {
                    Ok(link) => {
                        parsed += 1;
                        let printed = link.to_string();
                        match parse_join_url(&printed) {
                            Ok(again) => assert_eq!(again, link, "{candidate} → {printed}"),
                            Err(e) => panic!(
                                "{candidate} parsed, but its display {printed} does not: {e}"
                            ),
                        }
                    }
                    Err(e) => {
                        rejected += 1;
                        assert!(!e.to_string().is_empty());
                    }
                }
            }
        }
    }
    assert!(
        parsed > 1000 && rejected > 1000,
        "parsed {parsed}, rejected {rejected}"
    );
}
