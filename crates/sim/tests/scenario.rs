//! The embedded default scenario, scenario files, lobby, content sharing, transfer and callback
//! delivery retries.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::routing::post;
use common::{Harness, MediaCall};
use http::StatusCode;
use mediabot_signaling::models::{
    CallState, ChangeType, Identity, IdentitySet, InvitationParticipantInfo, ParticipantId,
    ParticipantInfo, ResourceData, TransferRequest,
};
use mediabot_sim::{
    DeliveryOutcome, MeetingSpec, ParticipantSpec, Quirks, Scenario, SimConfig, SimEvent,
    Simulator, TimelineAction,
};
use tokio::net::TcpListener;

#[tokio::test]
async fn the_default_scenario_runs_its_timeline_once_the_bot_is_in() {
    let mut config = SimConfig::default();
    config.timings.establish_step = std::time::Duration::from_millis(10);
    let mut h = Harness::start(config).await;
    let meeting = h.sim.meeting("standup").unwrap();
    let names: Vec<&str> = meeting
        .participants
        .iter()
        .map(|m| m.participant.display_name.as_str())
        .collect();
    assert_eq!(names, ["Alice", "Bob", "Carol"]);
    // Alice is there from the start; Bob and Carol join later on the timeline.
    let present: Vec<bool> = meeting.participants.iter().map(|m| m.present).collect();
    assert_eq!(present, [true, false, false]);
    let id = h.join_established("standup").await;
    let alice = ParticipantId::new("a11ce000-0000-4000-8000-000000000001");
    h.media
        .wait_for(|c| *c == MediaCall::Speaking(id.clone(), alice.clone(), true))
        .await;
    h.media
        .wait_for(|c| *c == MediaCall::Joined(id.clone(), "bob".into()))
        .await;
    assert!(h.sim.meeting("standup").unwrap().participants[1].present);
}

#[tokio::test]
async fn a_scenario_file_arms_its_faults_and_quirks_at_start() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let text = r#"
        name = "faulty"
        [[meetings]]
        key = "m"
        [[meetings.participants]]
        key = "alice"
        tone_hz = 440.0
        [[faults]]
        kind = "server_error"
        status = 503
        retry_after_secs = 0.01
        count = 1
        method = "POST"
        [quirks]
        legacy_resource = true
    "#;
    let scenario = Scenario::from_toml_str(text, &dir).unwrap();
    let mut config = SimConfig::with_scenario(scenario);
    config.timings = mediabot_sim::SimTimings::fast();
    config.timings.keepalive_window = std::time::Duration::from_secs(60);
    let mut h = Harness::start(config).await;
    let created = h.client.create_call(&h.join_request("m")).await.unwrap();
    assert_eq!(created.attempts, 2, "one 503 with Retry-After, then 201");
    let (n, _) = h.next().await;
    assert!(n.resource.as_deref().unwrap().starts_with("/app/calls/"));
    // The shipped default scenario file is the embedded one.
    let from_file = Scenario::from_file(&dir.join("default.toml")).unwrap();
    assert_eq!(from_file, Scenario::default_scenario());
}

#[tokio::test]
async fn a_guest_bot_waits_in_the_lobby_then_is_admitted() {
    let mut config = SimConfig::for_tests();
    config.timings.keepalive_window = std::time::Duration::from_secs(60);
    let mut h = Harness::start(config).await;
    let mut spec = MeetingSpec::new("m").with_participant(ParticipantSpec::tone("a", "A", 440.0));
    spec.lobby_for_guests = true;
    h.sim.add_meeting(spec).unwrap();
    let guest = IdentitySet {
        guest: Some(Identity {
            id: Some("guest-bot-1".into()),
            display_name: Some("Guest bot".into()),
            ..Identity::default()
        }),
        ..IdentitySet::default()
    };
    let request = mediabot_signaling::models::Call {
        source: Some(ParticipantInfo {
            identity: Some(guest),
            ..ParticipantInfo::default()
        }),
        ..h.join_request("m")
    };
    let created = h.client.create_call(&request).await.unwrap().body;
    let (id, me) = (created.id.unwrap(), created.my_participant_id.unwrap());
    let lobby = |n: &mediabot_signaling::models::CommsNotification| match &n.resource_data {
        ResourceData::Participants(list) => list
            .iter()
            .find(|p| p.id.as_ref() == Some(&me))
            .map(|p| p.in_lobby()),
        _ => None,
    };
    let first = h.expect_roster(&id).await;
    assert_eq!(lobby(&first), Some(true));
    let second = h.expect_roster(&id).await;
    assert_eq!(lobby(&second), Some(false));
}

#[tokio::test]
async fn content_sharing_notifications_follow_the_timeline_when_enabled() {
    let mut config = SimConfig::for_tests();
    config.timings.keepalive_window = std::time::Duration::from_secs(60);
    let mut h = Harness::start(config).await;
    h.sim
        .add_meeting(MeetingSpec::new("m").with_participant(ParticipantSpec::tone("a", "A", 440.0)))
        .unwrap();
    let mut request = h.join_request("m");
    request.call_options = Some(mediabot_signaling::models::OutgoingCallOptions {
        is_content_sharing_notification_enabled: Some(true),
        ..Default::default()
    });
    let id = h
        .client
        .create_call(&request)
        .await
        .unwrap()
        .body
        .id
        .unwrap();
    h.expect_roster(&id).await;
    h.sim
        .participant_action("m", "a", TimelineAction::ShareStart)
        .unwrap();
    let (started, _) = h
        .until(|n| matches!(n.resource_data, ResourceData::ContentSharingSessions(_)))
        .await;
    assert_eq!(started.change_type, ChangeType::Created);
    assert!(
        started
            .resource_url
            .as_deref()
            .unwrap()
            .ends_with("/contentsharingsessions")
    );
    let sessions = h
        .client
        .list_content_sharing_sessions(&id)
        .await
        .unwrap()
        .body
        .value;
    assert_eq!(sessions.len(), 1);
    let session = sessions[0].id.clone().unwrap();
    let got = h
        .client
        .get_content_sharing_session(&id, &session)
        .await
        .unwrap();
    assert_eq!(got.body.id, Some(session));
    // With the quirk, the stop notification has no resourceData (as in the beta answer page).
    h.sim.set_quirks(Quirks {
        missing_resource_data: true,
        ..Quirks::default()
    });
    h.sim
        .participant_action("m", "a", TimelineAction::ShareStop)
        .unwrap();
    let (stopped, _) = h
        .until(|n| {
            n.resource_url
                .as_deref()
                .is_some_and(|u| u.ends_with("/contentsharingsessions"))
        })
        .await;
    assert_eq!(stopped.change_type, ChangeType::Deleted);
    assert_eq!(stopped.resource_data, ResourceData::Absent);
    assert!(
        h.client
            .list_content_sharing_sessions(&id)
            .await
            .unwrap()
            .body
            .value
            .is_empty()
    );
}

#[tokio::test]
async fn transfer_goes_transferring_accepted_then_terminated_0_7015() {
    let mut config = SimConfig::for_tests();
    config.timings.keepalive_window = std::time::Duration::from_secs(60);
    let mut h = Harness::start(config).await;
    let id = h
        .sim
        .place_incoming_call(mediabot_sim::IncomingCall::peer_to_peer(
            h.callback_uri.clone(),
            ParticipantSpec::tone("caller", "Caller", 300.0),
        ))
        .unwrap();
    h.expect_state(&id, CallState::Incoming).await;
    let answer = mediabot_signaling::models::AnswerRequest {
        callback_uri: None,
        accepted_modalities: vec![mediabot_signaling::models::Modality::Audio],
        media_config: mediabot_signaling::models::MediaConfig::app_hosted(common::BLOB),
        participant_capacity: None,
        call_options: None,
    };
    h.client.answer(&id, &answer).await.unwrap();
    h.expect_state(&id, CallState::Established).await;
    let transfer = TransferRequest {
        transfer_target: InvitationParticipantInfo::new(IdentitySet::user(Identity::with_id(
            "target",
        ))),
        transferee: None,
        client_context: None,
    };
    assert_eq!(
        h.client.transfer(&id, &transfer).await.unwrap().status,
        StatusCode::ACCEPTED
    );
    let states = h.states_until_terminated(&id).await;
    assert_eq!(
        states,
        [
            (ChangeType::Updated, CallState::Transferring),
            (ChangeType::Updated, CallState::TransferAccepted),
            (ChangeType::Deleted, CallState::Terminated),
        ]
    );
    let result = h.sim.call(&id).unwrap().result_info.unwrap();
    assert_eq!((result.code, result.subcode), (Some(0), Some(7015)));
}

#[tokio::test]
async fn callbacks_are_retried_on_5xx_until_the_bot_accepts_them() {
    // A bot endpoint that answers 503 twice, then 202.
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    let router = Router::new().route(
        "/cb",
        post(move || {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) < 2 {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::ACCEPTED
                }
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let sim = Simulator::start(SimConfig::for_tests()).await.unwrap();
    let mut events = sim.subscribe();
    let id = sim
        .place_incoming_call(mediabot_sim::IncomingCall::peer_to_peer(
            format!("http://{addr}/cb"),
            ParticipantSpec::tone("caller", "Caller", 300.0),
        ))
        .unwrap();
    let record = loop {
        if let SimEvent::NotificationDelivered(record) =
            tokio::time::timeout(common::PATIENCE, events.recv())
                .await
                .unwrap()
                .unwrap()
        {
            break record;
        }
    };
    assert_eq!(record.call_id, id);
    assert_eq!(record.attempts, 3);
    assert_eq!(record.outcome, DeliveryOutcome::Delivered { status: 202 });
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // A callback URI that is not https (and not loopback) is refused up front.
    let refused = sim.place_incoming_call(mediabot_sim::IncomingCall::peer_to_peer(
        "http://bot.example.com/cb",
        ParticipantSpec::tone("caller", "Caller", 300.0),
    ));
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_replaying_meeting_restarts_its_timeline_for_the_next_bot() {
    let mut config = SimConfig::for_tests();
    config.timings.keepalive_window = std::time::Duration::from_secs(60);
    let mut h = Harness::start(config).await;
    let mut spec = MeetingSpec::new("m")
        .with_participant(ParticipantSpec::tone("alice", "Alice", 440.0))
        .with_participant(ParticipantSpec::tone("bob", "Bob", 660.0))
        .at(10, "bob", TimelineAction::Leave);
    spec.replay_timeline = true;
    h.sim.add_meeting(spec).unwrap();
    let roster_len = |n: mediabot_signaling::models::CommsNotification| match n.resource_data {
        ResourceData::Participants(list) => list.len(),
        other => panic!("{other:?}"),
    };
    for _ in 0..2 {
        let id = h.join_established("m").await;
        assert_eq!(roster_len(h.expect_roster(&id).await), 3, "bot, alice, bob");
        assert_eq!(roster_len(h.expect_roster(&id).await), 2, "bob left");
        h.client.delete_call(&id).await.unwrap();
        h.expect_state(&id, CallState::Terminated).await;
    }
}
