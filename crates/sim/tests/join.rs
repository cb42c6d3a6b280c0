//! Joining meetings with the real signaling client; notifications verified by the real webhook.

mod common;

use common::{BLOB, Harness, MediaCall};
use http::StatusCode;
use mediabot_signaling::client::{ApiVersion, GraphClient, PathStyle};
use mediabot_signaling::join_url::parse_join_url;
use mediabot_signaling::models::{
    CallState, ChangeType, JoinMeetingIdMeetingInfo, MediaConfig, MeetingInfo, Msi, ResourceData,
    TenantId, TokenMeetingInfo,
};
use mediabot_sim::{MeetingSpec, ParticipantSpec, SimConfig, SimEvent};

fn standup() -> MeetingSpec {
    let mut alice = ParticipantSpec::tone("alice", "Alice", 440.0);
    alice.msi = Some(1001);
    let mut bob = ParticipantSpec::tone("bob", "Bob", 660.0);
    bob.msi = Some(1002);
    MeetingSpec::new("standup")
        .with_participant(alice)
        .with_participant(bob)
}

async fn harness() -> Harness {
    let harness = Harness::start(SimConfig::for_tests()).await;
    harness.sim.add_meeting(standup()).unwrap();
    harness
}

#[tokio::test]
async fn join_by_url_gets_201_then_establishing_established_and_a_roster_with_msis() {
    let mut h = harness().await;
    let mut events = h.sim.subscribe();
    let request = h.join_request("standup");
    let created = h.client.create_call(&request).await.unwrap();
    assert_eq!(created.status, StatusCode::CREATED);
    let call = created.body;
    let id = call.id.clone().unwrap();
    assert_eq!(call.state, Some(CallState::Establishing));
    assert!(call.my_participant_id.is_some() && call.call_chain_id.is_some());
    let location = created.location.unwrap();
    assert_eq!(location.path(), format!("/v1.0/communications/calls/{id}"));

    let (establishing, delivery) = h.next().await;
    assert_eq!(establishing.change_type, ChangeType::Updated);
    assert!(
        matches!(&establishing.resource_data, ResourceData::Call(c) if c.state == Some(CallState::Establishing))
    );
    assert_eq!(delivery.claims.tid, Some(h.sim.tenant_id().clone()));
    assert_eq!(delivery.claims.iss, "https://api.botframework.com");
    let (established, _) = h.next().await;
    assert!(
        matches!(&established.resource_data, ResourceData::Call(c) if c.state == Some(CallState::Established))
    );

    let (roster, _) = h.next().await;
    assert_eq!(
        roster.resource_url.as_deref(),
        Some(format!("/communications/calls/{id}/participants").as_str())
    );
    let ResourceData::Participants(roster) = roster.resource_data else {
        panic!("full roster expected: {roster:?}")
    };
    assert_eq!(roster.len(), 3, "{roster:?}");
    let snapshot = h.sim.call(&id).unwrap();
    let bot = roster
        .iter()
        .find(|p| p.id == call.my_participant_id)
        .expect("the bot is in its roster");
    assert!(bot.identity().unwrap().application.is_some());
    assert_eq!(bot.audio_msi(), Some(snapshot.bot_msi));
    let mut msis: Vec<Msi> = roster.iter().filter_map(|p| p.audio_msi()).collect();
    msis.sort();
    assert_eq!(&msis[..2], &[Msi(1001), Msi(1002)]);

    // The media side got the blob and the present participants.
    let attach = h
        .media
        .wait_for(|c| matches!(c, MediaCall::Attach { .. }))
        .await;
    assert_eq!(
        attach,
        MediaCall::Attach {
            call: id.clone(),
            blob: BLOB.to_owned(),
            participants: vec!["alice".to_owned(), "bob".to_owned()],
        }
    );
    // Every post was accepted by the bot and logged (the log entry is written after the bot's answer).
    let mut logged = 0;
    while logged < 3 {
        let event = tokio::time::timeout(common::PATIENCE, events.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(event, SimEvent::NotificationDelivered(ref d) if d.call_id == id) {
            logged += 1;
        }
    }
    let log = h.sim.deliveries_for(&id);
    assert_eq!(log.len(), 3);
    assert!(
        log.iter()
            .all(|d| d.outcome.is_delivered() && d.attempts == 1)
    );
    assert_eq!(h.webhook.counters().accepted, 3);
    // GET returns the established call.
    let got = h.client.get_call(&id).await.unwrap();
    assert_eq!(got.body.state, Some(CallState::Established));
}

#[tokio::test]
async fn join_by_meeting_id_and_passcode_and_by_token() {
    let mut h = harness().await;
    let meeting = h.sim.meeting("standup").unwrap();
    let short = parse_join_url(&meeting.short_join_url).unwrap();
    let mut request = h.join_request("standup");
    short.apply_to(
        &mut request,
        Some(&TenantId::new(h.sim.tenant_id().as_str())),
    );
    assert!(matches!(
        request.meeting_info,
        Some(MeetingInfo::JoinMeetingId(_))
    ));
    let by_id = h
        .client
        .create_call(&request)
        .await
        .unwrap()
        .body
        .id
        .unwrap();
    h.expect_state(&by_id, CallState::Established).await;

    let by_token = h
        .client
        .create_call(&mediabot_signaling::models::Call {
            chat_info: None,
            meeting_info: Some(MeetingInfo::Token(TokenMeetingInfo {
                token: meeting.join_token.clone(),
            })),
            ..h.join_request("standup")
        })
        .await
        .unwrap()
        .body
        .id
        .unwrap();
    h.expect_state(&by_token, CallState::Established).await;
    // The second bot sees the first one in its roster.
    let roster = h.sim.call(&by_token).unwrap().roster;
    assert_eq!(roster.len(), 4, "{roster:?}");
}

#[tokio::test]
async fn validation_errors_are_odata_envelopes_with_clear_messages() {
    let h = harness().await;
    let base = h.join_request("standup");
    let cases = [
        (
            mediabot_signaling::models::Call {
                callback_uri: None,
                ..base.clone()
            },
            StatusCode::BAD_REQUEST,
            "callbackUri is required",
        ),
        (
            mediabot_signaling::models::Call {
                callback_uri: Some("http://bot.example.com/callback".into()),
                ..base.clone()
            },
            StatusCode::BAD_REQUEST,
            "must use https",
        ),
        (
            mediabot_signaling::models::Call {
                media_config: None,
                ..base.clone()
            },
            StatusCode::BAD_REQUEST,
            "mediaConfig is required",
        ),
        (
            mediabot_signaling::models::Call {
                requested_modalities: Vec::new(),
                ..base.clone()
            },
            StatusCode::BAD_REQUEST,
            "requestedModalities",
        ),
        (
            mediabot_signaling::models::Call {
                meeting_info: None,
                ..base.clone()
            },
            StatusCode::BAD_REQUEST,
            "meetingInfo is required",
        ),
        (
            mediabot_signaling::models::Call {
                chat_info: Some(mediabot_signaling::models::ChatInfo {
                    thread_id: Some("19:meeting_nope@thread.v2".into()),
                    message_id: Some("0".into()),
                    reply_chain_message_id: None,
                }),
                ..base.clone()
            },
            StatusCode::NOT_FOUND,
            "No meeting with thread id",
        ),
        (
            mediabot_signaling::models::Call {
                meeting_info: Some(MeetingInfo::JoinMeetingId(JoinMeetingIdMeetingInfo {
                    join_meeting_id: h.sim.meeting("standup").unwrap().join_meeting_id,
                    passcode: Some("wrong".into()),
                })),
                ..base.clone()
            },
            StatusCode::FORBIDDEN,
            "passcode",
        ),
        (
            mediabot_signaling::models::Call {
                media_config: Some(MediaConfig::Unknown {
                    odata_type: "#microsoft.graph.futureMediaConfig".into(),
                }),
                ..base.clone()
            },
            StatusCode::BAD_REQUEST,
            "futureMediaConfig",
        ),
    ];
    for (request, status, message) in cases {
        let error = h.client.create_call(&request).await.unwrap_err();
        let api = error.api().unwrap_or_else(|| panic!("{error:?}"));
        assert_eq!(api.status, status, "{api:?}");
        assert!(api.message.contains(message), "{message:?} not in {api:?}");
        assert!(api.request_id.is_some());
    }
    assert!(h.sim.calls().is_empty());
}

#[tokio::test]
async fn beta_and_legacy_app_paths_serve_the_same_api() {
    let mut h = harness().await;
    let mut config = common::graph_config(&h.sim);
    config.version = ApiVersion::Beta;
    config.path_style = PathStyle::App;
    let client = GraphClient::new(config, h.tokens.clone()).unwrap();
    let created = client
        .create_call(&h.join_request("standup"))
        .await
        .unwrap();
    let id = created.body.id.unwrap();
    assert_eq!(
        created.location.unwrap().path(),
        format!("/beta/app/calls/{id}")
    );
    h.expect_state(&id, CallState::Established).await;
    let roster = client.list_participants(&id).await.unwrap().body.value;
    assert_eq!(roster.len(), 3);
    assert_eq!(
        client.delete_call(&id).await.unwrap().status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_meeting_in_another_tenant_is_refused_with_7504() {
    let h = Harness::start(SimConfig::for_tests()).await;
    let mut spec = standup();
    spec.tenant_id = Some(TenantId::new("9a0e8b4e-7a54-4b7a-9d52-000000000042"));
    h.sim.add_meeting(spec).unwrap();
    let error = h
        .client
        .create_call(&h.join_request("standup"))
        .await
        .unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(api.status, StatusCode::FORBIDDEN);
    assert_eq!(api.code, "7504");
}

#[tokio::test]
async fn a_refused_blob_fails_the_call_with_500_1203002() {
    let mut h = harness().await;
    *h.media.refuse.lock().unwrap() = Some("no ICE candidates".into());
    let id = h
        .client
        .create_call(&h.join_request("standup"))
        .await
        .unwrap()
        .body
        .id
        .unwrap();
    let states = h.states_until_terminated(&id).await;
    assert_eq!(
        states,
        [
            (ChangeType::Updated, CallState::Establishing),
            (ChangeType::Deleted, CallState::Terminated)
        ]
    );
    let result = h.sim.call(&id).unwrap().result_info.unwrap();
    assert_eq!((result.code, result.subcode), (Some(500), Some(1_203_002)));
    assert!(result.message.unwrap().contains("no ICE candidates"));
}
