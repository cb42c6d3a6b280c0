//! Call lifecycles and timers: hang-up, keep-alive expiry, incoming calls and their deadline.

mod common;

use common::{BLOB, Harness, MediaCall};
use http::StatusCode;
use mediabot_signaling::models::{
    AnswerRequest, CallState, ChangeType, MediaConfig, Modality, RejectReason, RejectRequest,
    ResourceData,
};
use mediabot_sim::{IncomingCall, MeetingSpec, ParticipantSpec, SimConfig};

async fn harness() -> Harness {
    let h = Harness::start(SimConfig::for_tests()).await;
    h.sim
        .add_meeting(
            MeetingSpec::new("m").with_participant(ParticipantSpec::tone("alice", "Alice", 440.0)),
        )
        .unwrap();
    h
}

#[tokio::test]
async fn hang_up_is_204_then_terminating_then_deleted_terminated() {
    let mut h = harness().await;
    let id = h.join_established("m").await;
    h.media
        .wait_for(|c| matches!(c, MediaCall::Attach { .. }))
        .await;
    let deleted = h.client.delete_call(&id).await.unwrap();
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let terminating = h.expect_state(&id, CallState::Terminating).await;
    assert_eq!(terminating.change_type, ChangeType::Updated);
    let terminated = h.expect_state(&id, CallState::Terminated).await;
    assert_eq!(terminated.change_type, ChangeType::Deleted);
    let ResourceData::Call(call) = terminated.resource_data else {
        unreachable!()
    };
    let result = call.result_info.unwrap();
    assert_eq!((result.code, result.subcode), (Some(200), Some(7000)));
    // The media was released and the call id is dead.
    h.media
        .wait_for(|c| *c == MediaCall::Detach(id.clone()))
        .await;
    let error = h.client.get_call(&id).await.unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(
        h.client.delete_call(&id).await.unwrap_err().status(),
        Some(StatusCode::NOT_FOUND)
    );
}

#[tokio::test]
async fn without_keepalive_the_call_ends_with_408_8537_and_keepalive_then_404s() {
    let mut h = harness().await;
    let id = h.join_established("m").await;
    // A keepAlive inside the window succeeds (200, no body) and restarts the window.
    let alive = h.client.keep_alive(&id).await.unwrap();
    assert_eq!(alive.status, StatusCode::OK);
    let terminated = h.expect_state(&id, CallState::Terminated).await;
    let ResourceData::Call(call) = terminated.resource_data else {
        unreachable!()
    };
    let result = call.result_info.unwrap();
    assert_eq!((result.code, result.subcode), (Some(408), Some(8537)));
    assert_eq!(
        result.message.as_deref(),
        Some("Keep Alive timeout, cleaned up inactive call.")
    );
    let error = h.client.keep_alive(&id).await.unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    let unknown = mediabot_signaling::models::CallId::new("8a0c2c63-0000-4000-8000-00000000dead");
    assert_eq!(
        h.client.keep_alive(&unknown).await.unwrap_err().status(),
        Some(StatusCode::NOT_FOUND)
    );
}

#[tokio::test]
async fn a_keepalive_restarts_the_inactivity_window() {
    let mut h = harness().await;
    let id = h.join_established("m").await;
    let window = h.sim.config().timings.keepalive_window;
    let before = h.sim.call(&id).unwrap().last_keepalive;
    h.client.keep_alive(&id).await.unwrap();
    let renewed = h.sim.call(&id).unwrap().last_keepalive;
    assert!(renewed > before);
    h.expect_state(&id, CallState::Terminated).await;
    // The call lived at least one full window after the last keepAlive (a lower bound only).
    assert!(std::time::Instant::now() >= renewed + window);
}

#[tokio::test]
async fn an_unanswered_incoming_call_ends_after_the_deadline_with_408_1106() {
    let mut h = harness().await;
    let id = h
        .sim
        .place_incoming_call(IncomingCall::peer_to_peer(
            h.callback_uri.clone(),
            ParticipantSpec::tone("caller", "Test User", 500.0),
        ))
        .unwrap();
    let (created, _) = h.next().await;
    assert_eq!(created.change_type, ChangeType::Created);
    let ResourceData::Call(call) = &created.resource_data else {
        panic!("{created:?}")
    };
    assert_eq!(call.state, Some(CallState::Incoming));
    assert_eq!(
        call.source
            .as_ref()
            .and_then(|s| s.identity.as_ref())
            .and_then(|i| i.user.as_ref())
            .and_then(|u| u.display_name.as_deref()),
        Some("Test User")
    );
    let terminated = h.expect_state(&id, CallState::Terminated).await;
    assert_eq!(terminated.change_type, ChangeType::Deleted);
    let ResourceData::Call(call) = terminated.resource_data else {
        unreachable!()
    };
    let result = call.result_info.unwrap();
    assert_eq!((result.code, result.subcode), (Some(408), Some(1106)));
    // Answering now is too late.
    let answer = AnswerRequest {
        callback_uri: None,
        accepted_modalities: vec![Modality::Audio],
        media_config: MediaConfig::app_hosted(BLOB),
        participant_capacity: None,
        call_options: None,
    };
    assert_eq!(
        h.client.answer(&id, &answer).await.unwrap_err().status(),
        Some(StatusCode::NOT_FOUND)
    );
}

#[tokio::test]
async fn an_answered_incoming_call_is_established_with_the_callers_media() {
    let mut config = SimConfig::for_tests();
    config.timings.keepalive_window = std::time::Duration::from_secs(60);
    let mut h = Harness::start(config).await;
    let id = h
        .sim
        .place_incoming_call(IncomingCall::peer_to_peer(
            h.callback_uri.clone(),
            ParticipantSpec::tone("caller", "Test User", 500.0),
        ))
        .unwrap();
    h.expect_state(&id, CallState::Incoming).await;
    let answer = AnswerRequest {
        callback_uri: None,
        accepted_modalities: vec![Modality::Audio],
        media_config: MediaConfig::app_hosted(BLOB),
        participant_capacity: None,
        call_options: None,
    };
    assert_eq!(
        h.client.answer(&id, &answer).await.unwrap().status,
        StatusCode::ACCEPTED
    );
    h.expect_state(&id, CallState::Establishing).await;
    h.expect_state(&id, CallState::Established).await;
    let attach = h
        .media
        .wait_for(|c| matches!(c, MediaCall::Attach { .. }))
        .await;
    assert_eq!(
        attach,
        MediaCall::Attach {
            call: id.clone(),
            blob: BLOB.to_owned(),
            participants: vec!["caller".to_owned()]
        }
    );
    // The deadline has no effect on an answered call.
    assert!(
        !h.sim
            .wait_for_call_state(
                &id,
                CallState::Terminated,
                h.sim.config().timings.answer_deadline * 2
            )
            .await
    );
}

#[tokio::test]
async fn a_rejected_incoming_call_gets_a_bare_deleted_notification() {
    let mut h = harness().await;
    let id = h
        .sim
        .place_incoming_call(IncomingCall::peer_to_peer(
            h.callback_uri.clone(),
            ParticipantSpec::tone("caller", "Test User", 500.0),
        ))
        .unwrap();
    h.expect_state(&id, CallState::Incoming).await;
    let reject = RejectRequest {
        reason: Some(RejectReason::Busy),
        callback_uri: None,
    };
    assert_eq!(
        h.client.reject(&id, &reject).await.unwrap().status,
        StatusCode::ACCEPTED
    );
    let call_id = id.clone();
    let (deleted, _) = h
        .until(move |n| {
            n.call_id().ok().as_ref() == Some(&call_id) && n.change_type == ChangeType::Deleted
        })
        .await;
    let ResourceData::Call(call) = deleted.resource_data else {
        panic!("{deleted:?}")
    };
    assert_eq!(call.state, None);
    assert_eq!(h.sim.call(&id).unwrap().state, CallState::Terminated);
}
