//! Fault injection and wire quirks, against the real client's retry policy and the real webhook.

mod common;

use common::Harness;
use http::StatusCode;
use mediabot_signaling::models::{CallState, ChangeType, InviteParticipantsRequest, ResourceData};
use mediabot_sim::{
    DeliveryOutcome, FaultKind, FaultRule, MeetingSpec, ParticipantSpec, Quirks, SimConfig,
    SimEvent,
};

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

#[tokio::test]
async fn throttling_with_a_fractional_retry_after_is_recovered_by_the_client() {
    let h = harness().await;
    let mut events = h.sim.subscribe();
    h.sim.inject_fault(
        FaultRule::throttle(0.05, 2)
            .on_method("POST")
            .on_path("/communications/calls"),
    );
    let created = h.client.create_call(&h.join_request("m")).await.unwrap();
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.attempts, 3);
    assert!(h.sim.faults().is_empty(), "the rule is spent");
    let mut statuses = Vec::new();
    while statuses.len() < 3 {
        if let SimEvent::RequestServed {
            method,
            path,
            status,
        } = tokio::time::timeout(common::PATIENCE, events.recv())
            .await
            .unwrap()
            .unwrap()
            && method == "POST"
            && path.ends_with("/communications/calls")
        {
            statuses.push(status);
        }
    }
    assert_eq!(statuses, [429, 429, 201]);
}

#[tokio::test]
async fn the_429_carries_retry_after_and_the_documented_envelope() {
    let h = harness().await;
    h.sim.inject_fault(FaultRule::throttle(2.128, 1));
    let token = h.tokens.token(h.sim.tenant_id().as_str()).await.unwrap();
    let response = reqwest::Client::new()
        .get(format!(
            "{}v1.0/communications/calls/x",
            h.sim.graph_base_url()
        ))
        .bearer_auth(token.secret().expose())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "2.128");
    let body: mediabot_signaling::models::ODataError = response.json().await.unwrap();
    assert_eq!(body.error.code, "TooManyRequests");
    let inner = body.error.inner_error.unwrap();
    assert_eq!(inner.code.as_deref(), Some("429"));
    assert_eq!(inner.status.as_deref(), Some("429"));
}

#[tokio::test]
async fn a_503_on_get_is_retried_and_a_403_7504_is_not() {
    let mut h = harness().await;
    let id = h.join_established("m").await;
    h.sim.inject_fault(
        FaultRule::new(
            FaultKind::ServerError {
                status: 503,
                retry_after_secs: Some(0.02),
            },
            1,
        )
        .on_method("GET"),
    );
    let got = h.client.get_call(&id).await.unwrap();
    assert_eq!((got.status, got.attempts), (StatusCode::OK, 2));

    h.sim
        .inject_fault(FaultRule::new(FaultKind::Forbidden7504, 1).on_path("/participants/invite"));
    let error = h
        .client
        .invite_participants(&id, &InviteParticipantsRequest::default())
        .await
        .unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(
        (api.status, api.code.as_str(), api.attempts),
        (StatusCode::FORBIDDEN, "7504", 1)
    );
    assert!(
        api.message
            .contains("Insufficient enterprise tenant permissions")
    );
}

#[tokio::test]
async fn a_forged_callback_is_rejected_by_the_bots_webhook() {
    let mut h = harness().await;
    let mut events = h.sim.subscribe();
    h.sim
        .inject_fault(FaultRule::new(FaultKind::ForgedSignature, 1));
    let id = h
        .client
        .create_call(&h.join_request("m"))
        .await
        .unwrap()
        .body
        .id
        .unwrap();
    // The forged `establishing` never reaches the bot; the genuine `established` does.
    let (first, _) = h.next().await;
    assert!(
        matches!(&first.resource_data, ResourceData::Call(c) if c.state == Some(CallState::Established))
    );
    let forged = loop {
        if let SimEvent::NotificationDelivered(record) =
            tokio::time::timeout(common::PATIENCE, events.recv())
                .await
                .unwrap()
                .unwrap()
            && record.forged
        {
            break record;
        }
    };
    assert_eq!(forged.call_id, id);
    assert_eq!(forged.outcome, DeliveryOutcome::Rejected { status: 401 });
    assert_eq!(forged.attempts, 1, "a 401 is not retried");
    assert_eq!(h.webhook.counters().unauthorized, 1);
}

#[tokio::test]
async fn duplicated_and_reordered_notifications_reach_the_bot_as_injected() {
    let mut h = harness().await;
    h.sim
        .inject_fault(FaultRule::new(FaultKind::NotificationDuplicate, 1));
    h.client.create_call(&h.join_request("m")).await.unwrap();
    let mut states = Vec::new();
    while states.len() < 3 {
        let (n, _) = h.next().await;
        if let ResourceData::Call(c) = &n.resource_data {
            states.push(c.state.clone().unwrap());
        }
    }
    assert_eq!(
        states,
        [
            CallState::Establishing,
            CallState::Establishing,
            CallState::Established
        ]
    );

    let mut h = harness().await;
    h.sim
        .inject_fault(FaultRule::new(FaultKind::NotificationReorder, 1));
    let id = h
        .client
        .create_call(&h.join_request("m"))
        .await
        .unwrap()
        .body
        .id
        .unwrap();
    let mut order = Vec::new();
    while order.len() < 2 {
        let (n, _) = h.next().await;
        if let ResourceData::Call(c) = &n.resource_data {
            order.push(c.state.clone().unwrap());
        }
    }
    assert_eq!(order, [CallState::Established, CallState::Establishing]);
    assert_eq!(h.sim.call(&id).unwrap().state, CallState::Established);
}

#[tokio::test]
async fn quirky_wire_forms_still_parse_on_the_bot_side() {
    let mut h = harness().await;
    h.sim.set_quirks(Quirks {
        string_codes: true,
        sub_code_key: true,
        running_capitalized: true,
        resource_url_without_leading_slash: true,
        legacy_resource: true,
        swap_establishing_established: true,
        ..Quirks::default()
    });
    let id = h
        .client
        .create_call(&h.join_request("m"))
        .await
        .unwrap()
        .body
        .id
        .unwrap();
    let mut order = Vec::new();
    while order.len() < 2 {
        let (n, _) = h.next().await;
        assert_eq!(n.call_id().unwrap(), id, "{n:?}");
        if let ResourceData::Call(c) = &n.resource_data {
            order.push(c.state.clone().unwrap());
        }
    }
    assert_eq!(order, [CallState::Established, CallState::Establishing]);
    // The invite operation answers "Running" and the bot's models read it.
    let response = h
        .client
        .invite_participants(
            &id,
            &InviteParticipantsRequest {
                participants: vec![mediabot_signaling::models::InvitationParticipantInfo::new(
                    mediabot_signaling::models::IdentitySet::user(
                        mediabot_signaling::models::Identity::with_id("someone"),
                    ),
                )],
                client_context: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        response.body.unwrap().status,
        Some(mediabot_signaling::models::OperationStatus::Running)
    );
    let mut events = h.sim.subscribe();
    h.client.delete_call(&id).await.unwrap();
    let terminated = h.expect_state(&id, CallState::Terminated).await;
    assert_eq!(terminated.change_type, ChangeType::Deleted);
    assert!(
        terminated
            .resource_url
            .as_deref()
            .unwrap()
            .starts_with("communications/calls/")
    );
    assert!(
        terminated
            .resource
            .as_deref()
            .unwrap()
            .starts_with("/app/calls/")
    );
    let ResourceData::Call(call) = terminated.resource_data else {
        unreachable!()
    };
    let result = call.result_info.unwrap();
    assert_eq!((result.code, result.subcode), (Some(200), Some(7000)));
    let wire = loop {
        if let SimEvent::NotificationDelivered(record) =
            tokio::time::timeout(common::PATIENCE, events.recv())
                .await
                .unwrap()
                .unwrap()
            && record.body.contains("\"terminated\"")
        {
            break record.body;
        }
    };
    assert!(
        wire.contains(r#""code":"200""#) && wire.contains(r#""subCode":"7000""#),
        "{wire}"
    );
}

#[tokio::test]
async fn a_delayed_notification_arrives_no_earlier_than_its_delay() {
    let mut h = harness().await;
    h.sim.inject_fault(
        FaultRule::new(FaultKind::NotificationDelay { delay_ms: 150 }, 1)
            .on_path("/communications/calls/"),
    );
    let sent = std::time::Instant::now();
    h.client.create_call(&h.join_request("m")).await.unwrap();
    let (first, delivery) = h.next().await;
    assert!(
        matches!(&first.resource_data, ResourceData::Call(c) if c.state == Some(CallState::Establishing))
    );
    // A lower bound only: the delay is a minimum, never an exact time.
    assert!(delivery.received_at >= sent + std::time::Duration::from_millis(150));
    // Later notifications of the call queue behind it, in order.
    let (second, _) = h.next().await;
    assert!(
        matches!(&second.resource_data, ResourceData::Call(c) if c.state == Some(CallState::Established))
    );
}
