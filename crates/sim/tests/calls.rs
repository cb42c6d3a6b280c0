//! Group and peer-to-peer calls, meeting invites to the bot, the bot's own actions, and the exact
//! shape of a callback post (headers and JWT).

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{BLOB, Harness};
use http::{HeaderMap, StatusCode};
use mediabot_signaling::models::{
    AnswerRequest, Call, CallState, ChangeScreenSharingRoleRequest, Identity, IdentitySet,
    InvitationParticipantInfo, MediaConfig, MediaDirection, Modality, MuteRequest,
    PlayPromptRequest, RecordingStatus, ResourceData, ScreenSharingRole, UnmuteRequest,
    UpdateRecordingStatusRequest,
};
use mediabot_sim::{IncomingCall, MeetingSpec, ParticipantSpec, SimConfig, Simulator};
use tokio::net::TcpListener;

async fn harness() -> Harness {
    let mut config = SimConfig::for_tests();
    config.timings.keepalive_window = std::time::Duration::from_secs(60);
    let h = Harness::start(config).await;
    h.sim
        .add_meeting(
            MeetingSpec::new("m").with_participant(ParticipantSpec::tone("alice", "Alice", 440.0)),
        )
        .unwrap();
    h
}

fn user(id: &str, name: &str) -> InvitationParticipantInfo {
    InvitationParticipantInfo::new(IdentitySet::user(Identity {
        id: Some(id.into()),
        display_name: Some(name.into()),
        ..Identity::default()
    }))
}

fn outgoing(h: &Harness, targets: Vec<InvitationParticipantInfo>) -> Call {
    Call {
        callback_uri: Some(h.callback_uri.clone()),
        requested_modalities: vec![Modality::Audio],
        media_config: Some(MediaConfig::app_hosted(BLOB)),
        targets,
        ..Call::default()
    }
}

#[tokio::test]
async fn a_group_call_rosters_its_targets_and_a_p2p_call_has_no_roster() {
    let mut h = harness().await;
    let group = outgoing(&h, vec![user("u1", "Dana"), user("u2", "Eve")]);
    let id = h.client.create_call(&group).await.unwrap().body.id.unwrap();
    h.expect_state(&id, CallState::Established).await;
    let ResourceData::Participants(roster) = h.expect_roster(&id).await.resource_data else {
        unreachable!()
    };
    let names: Vec<String> = roster
        .iter()
        .filter_map(|p| p.identity()?.user.as_ref()?.display_name.clone())
        .collect();
    assert_eq!(names, ["Dana", "Eve"]);
    let six: Vec<_> = (0..6).map(|i| user(&format!("u{i}"), "x")).collect();
    let too_many = h.client.create_call(&outgoing(&h, six)).await.unwrap_err();
    assert_eq!(too_many.status(), Some(StatusCode::BAD_REQUEST));

    let p2p = h
        .client
        .create_call(&outgoing(&h, vec![user("u9", "Frank")]))
        .await
        .unwrap()
        .body
        .id
        .unwrap();
    h.expect_state(&p2p, CallState::Established).await;
    h.client.delete_call(&p2p).await.unwrap();
    // Only call-state notifications for a peer-to-peer call.
    let log_states = h.states_until_terminated(&p2p).await;
    assert_eq!(log_states.len(), 2, "{log_states:?}");
    let deliveries = h.sim.deliveries_for(&p2p);
    assert!(deliveries.iter().all(|d| {
        d.notifications
            .value
            .iter()
            .all(|n| matches!(n.resource_data, ResourceData::Call(_)))
    }));
}

#[tokio::test]
async fn a_meeting_invite_carries_the_meeting_and_the_answered_call_gets_rosters() {
    let mut h = harness().await;
    let mut incoming = IncomingCall::peer_to_peer(
        h.callback_uri.clone(),
        ParticipantSpec::tone("inviter", "Inviter", 300.0),
    );
    incoming.meeting = Some("m".into());
    let id = h.sim.place_incoming_call(incoming).unwrap();
    let created = h.expect_state(&id, CallState::Incoming).await;
    let ResourceData::Call(call) = created.resource_data else {
        unreachable!()
    };
    let thread = h.sim.meeting("m").unwrap().thread_id;
    assert_eq!(call.chat_info.unwrap().thread_id, Some(thread));
    assert!(call.meeting_info.is_some());
    let answer = AnswerRequest {
        callback_uri: None,
        accepted_modalities: vec![Modality::Audio],
        media_config: MediaConfig::app_hosted(BLOB),
        participant_capacity: None,
        call_options: None,
    };
    h.client.answer(&id, &answer).await.unwrap();
    let ResourceData::Participants(roster) = h.expect_roster(&id).await.resource_data else {
        unreachable!()
    };
    assert_eq!(roster.len(), 2, "bot + alice");
    // Answering twice is refused.
    let again = h.client.answer(&id, &answer).await.unwrap_err();
    assert_eq!(again.status(), Some(StatusCode::BAD_REQUEST));
}

#[tokio::test]
async fn the_bots_own_mute_recording_and_screen_sharing_show_in_the_roster() {
    let mut h = harness().await;
    let id = h.join_established("m").await;
    h.expect_roster(&id).await;
    let me = h.sim.call(&id).unwrap().my_participant_id;
    let bot_in = |n: mediabot_signaling::models::CommsNotification| match n.resource_data {
        ResourceData::Participants(list) => list
            .into_iter()
            .find(|p| p.id.as_ref() == Some(&me))
            .unwrap(),
        other => panic!("{other:?}"),
    };
    let muted = h
        .client
        .mute_self(&id, &MuteRequest::new("m"))
        .await
        .unwrap();
    assert!(muted.location.is_some());
    assert!(bot_in(h.expect_roster(&id).await).muted());
    h.client
        .unmute_self(&id, &UnmuteRequest::new("u"))
        .await
        .unwrap();
    assert!(!bot_in(h.expect_roster(&id).await).muted());

    let recording = UpdateRecordingStatusRequest {
        client_context: None,
        status: RecordingStatus::Recording,
    };
    let op = h
        .client
        .update_recording_status(&id, &recording)
        .await
        .unwrap();
    assert_eq!(op.status, StatusCode::OK);
    let bot = bot_in(h.expect_roster(&id).await);
    assert_eq!(
        bot.recording_info.and_then(|r| r.recording_status),
        Some(RecordingStatus::Recording)
    );

    let share = ChangeScreenSharingRoleRequest {
        role: ScreenSharingRole::Sharer,
    };
    let response = h
        .client
        .change_screen_sharing_role(&id, &share)
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::ACCEPTED);
    let bot = bot_in(h.expect_roster(&id).await);
    assert!(bot.media_streams.iter().any(|s| {
        s.media_type == Some(Modality::VideoBasedScreenSharing)
            && s.direction == Some(MediaDirection::SendOnly)
            && s.label.as_deref() == Some("applicationsharing-video")
    }));
    // Service-hosted-only actions are refused on app-hosted media.
    let prompt = h
        .client
        .play_prompt(&id, &PlayPromptRequest::default())
        .await
        .unwrap_err();
    assert_eq!(prompt.status(), Some(StatusCode::BAD_REQUEST));
    assert!(prompt.api().unwrap().message.contains("service-hosted"));
}

#[tokio::test]
async fn a_callback_post_carries_graphs_headers_and_a_signed_jwt_with_tid() {
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel::<()>();
    let store = seen.clone();
    let router = Router::new().route(
        "/cb",
        post(move |headers: HeaderMap| {
            let store = store.clone();
            let sender = sender.clone();
            async move {
                store.lock().unwrap().push(headers);
                let _ = sender.send(());
                StatusCode::ACCEPTED
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let sim = Simulator::start(SimConfig::for_tests()).await.unwrap();
    let id = sim
        .place_incoming_call(IncomingCall::peer_to_peer(
            format!("http://{addr}/cb"),
            ParticipantSpec::tone("c", "Caller", 300.0),
        ))
        .unwrap();
    tokio::time::timeout(common::PATIENCE, received.recv())
        .await
        .unwrap()
        .unwrap();
    let headers = seen.lock().unwrap()[0].clone();
    let text = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(text("user-agent"), "Microsoft-Skype/3.0,(Calling/1.0)");
    assert_eq!(text("content-type"), "application/json; charset=utf-8");
    assert_eq!(text("accept"), "application/json");
    let chain = sim.calls()[0].clone();
    assert_eq!(chain.id, id);
    assert!(uuid::Uuid::parse_str(&text("x-microsoft-skype-message-id")).is_ok());
    assert!(uuid::Uuid::parse_str(&text("scenario-id")).is_ok());
    assert_eq!(
        text("x-microsoft-skype-chain-id"),
        chain.call_chain_id.as_str()
    );
    let token = text("authorization");
    let token = token.strip_prefix("Bearer ").unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    let jwks: serde_json::Value = reqwest::get(sim.jwks_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
    assert_eq!(claims["iss"], "https://api.botframework.com");
    assert_eq!(claims["aud"], sim.app_id().as_str());
    assert_eq!(claims["tid"], sim.tenant_id().as_str());
    let (iat, nbf, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["nbf"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(nbf <= iat && exp > iat);
}
