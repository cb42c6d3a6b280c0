//! Operations, rosters (full and delta), the scenario timeline, routing groups and participants.

mod common;

use std::collections::HashSet;

use common::{Harness, MediaCall};
use http::StatusCode;
use mediabot_signaling::models::{
    AddLargeGalleryViewRequest, AudioRoutingGroup, AudioRoutingGroupId, CallId, ChangeType,
    CommsNotification, Identity, IdentitySet, InvitationParticipantInfo, InviteParticipantsRequest,
    MuteParticipantRequest, OperationKind, OperationStatus, Participant, ParticipantId,
    ResourceData, RoutingMode, StartHoldMusicRequest,
};
use mediabot_sim::{MeetingSpec, ParticipantSpec, SimConfig, TimelineAction};

const ALICE: &str = "a11ce000-0000-4000-8000-000000000001";
const BOB: &str = "b0b00000-0000-4000-8000-000000000002";

fn meeting() -> MeetingSpec {
    let mut alice = ParticipantSpec::tone("alice", "Alice", 440.0);
    alice.id = Some(ParticipantId::new(ALICE));
    let mut bob = ParticipantSpec::tone("bob", "Bob", 660.0);
    bob.id = Some(ParticipantId::new(BOB));
    bob.user_id = Some("b0b00000-0000-4000-8000-0000000000b2".into());
    MeetingSpec::new("m")
        .with_participant(alice)
        .with_participant(bob)
}

/// Bob is absent until the timeline (or a test) brings him in.
fn meeting_bob_joins_later() -> MeetingSpec {
    let mut spec = meeting();
    spec.timeline.push(mediabot_sim::TimelineEntry {
        at: std::time::Duration::from_secs(3600),
        participant: "bob".into(),
        action: TimelineAction::Join,
    });
    spec
}

async fn harness(spec: MeetingSpec) -> Harness {
    let mut config = SimConfig::for_tests();
    config.timings.keepalive_window = std::time::Duration::from_secs(60);
    let h = Harness::start(config).await;
    h.sim.add_meeting(spec).unwrap();
    h
}

fn ids(roster: &[Participant]) -> HashSet<String> {
    roster
        .iter()
        .filter_map(|p| p.id.as_ref().map(|id| id.to_string()))
        .collect()
}

fn roster_of(n: &CommsNotification) -> Vec<Participant> {
    match &n.resource_data {
        ResourceData::Participants(list) => list.clone(),
        other => panic!("full roster expected, got {other:?}"),
    }
}

#[tokio::test]
async fn a_running_operation_completes_with_a_deleted_notification_and_is_gettable_until_then() {
    let mut h = harness(meeting()).await;
    let id = h.join_established("m").await;
    h.expect_roster(&id).await;
    let response = h
        .client
        .add_large_gallery_view(&id, &AddLargeGalleryViewRequest::new("ctx-1"))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::ACCEPTED);
    let op = response.body.unwrap();
    assert_eq!(op.status, Some(OperationStatus::Running));
    assert_eq!(op.kind, OperationKind::AddLargeGalleryView);
    let location = response.location.unwrap();
    let op_id = op.id.clone().unwrap();
    assert!(location.path().ends_with(&format!("/operations/{op_id}")));
    let polled = h.client.get_operation_at(&location).await.unwrap().body;
    assert_eq!(polled.status, Some(OperationStatus::Running));

    let call = id.clone();
    let (done, _) = h
        .until(move |n| {
            n.call_id().ok().as_ref() == Some(&call)
                && matches!(n.resource_data, ResourceData::Operation(_))
        })
        .await;
    assert_eq!(done.change_type, ChangeType::Deleted);
    let ResourceData::Operation(done) = done.resource_data else {
        unreachable!()
    };
    assert_eq!(done.id.as_ref(), Some(&op_id));
    assert_eq!(done.status, Some(OperationStatus::Completed));
    assert_eq!(done.client_context.as_deref(), Some("ctx-1"));
    // The roster now has the large-gallery participant; the operation is gone.
    let roster = roster_of(&h.expect_roster(&id).await);
    assert!(roster.iter().any(|p| {
        p.identity()
            .and_then(|i| i.application.as_ref())
            .and_then(|a| a.application_type.as_deref())
            == Some("LargeGallery-V2")
    }));
    let gone = h.client.get_operation(&id, &op_id).await.unwrap_err();
    assert_eq!(gone.status(), Some(StatusCode::NOT_FOUND));
}

#[tokio::test]
async fn completed_operations_and_participant_mute_update_the_roster() {
    let mut h = harness(meeting()).await;
    let id = h.join_established("m").await;
    h.expect_roster(&id).await;
    let muted = h
        .client
        .mute_participant(
            &id,
            &ParticipantId::new(ALICE),
            &MuteParticipantRequest::new("c"),
        )
        .await
        .unwrap();
    assert_eq!(muted.status, StatusCode::OK);
    // No notification ends an operation answered as completed, so it stays readable.
    let polled = h
        .client
        .get_operation_at(muted.location.as_ref().unwrap())
        .await
        .unwrap()
        .body;
    assert_eq!(polled.status, Some(OperationStatus::Completed));
    let op = muted.body.unwrap();
    assert_eq!(
        (op.kind, op.status),
        (
            OperationKind::MuteParticipant,
            Some(OperationStatus::Completed)
        )
    );
    let roster = roster_of(&h.expect_roster(&id).await);
    let alice = roster
        .iter()
        .find(|p| p.id == Some(ParticipantId::new(ALICE)))
        .unwrap();
    assert!(alice.muted());
    h.media
        .wait_for(|c| *c == MediaCall::Muted(id.clone(), ParticipantId::new(ALICE), true))
        .await;

    let hold = h
        .client
        .start_hold_music(
            &id,
            &ParticipantId::new(BOB),
            &StartHoldMusicRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(hold.status, StatusCode::ACCEPTED);
    assert_eq!(hold.body.unwrap().status, Some(OperationStatus::Running));
    let unknown = h
        .client
        .mute_participant(
            &id,
            &ParticipantId::new("nobody"),
            &MuteParticipantRequest::new("c"),
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.status(), Some(StatusCode::NOT_FOUND));
}

#[tokio::test]
async fn invite_brings_a_participant_in_after_the_operation_completes() {
    let mut h = harness(meeting_bob_joins_later()).await;
    let id = h.join_established("m").await;
    let first = roster_of(&h.expect_roster(&id).await);
    assert!(!ids(&first).contains(BOB));
    let invite = InviteParticipantsRequest {
        participants: vec![InvitationParticipantInfo::new(IdentitySet::user(
            Identity::with_id("b0b00000-0000-4000-8000-0000000000b2"),
        ))],
        client_context: Some("invite-bob".into()),
    };
    let response = h.client.invite_participants(&id, &invite).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.location.is_some());
    assert_eq!(
        response.body.unwrap().status,
        Some(OperationStatus::Running)
    );
    let call = id.clone();
    let (done, _) = h
        .until(move |n| {
            n.call_id().ok().as_ref() == Some(&call)
                && matches!(n.resource_data, ResourceData::Operation(_))
        })
        .await;
    let ResourceData::Operation(op) = done.resource_data else {
        unreachable!()
    };
    assert!(
        matches!(op.kind, OperationKind::InviteParticipants { ref participants } if participants.len() == 1)
    );
    let roster = roster_of(&h.expect_roster(&id).await);
    assert!(ids(&roster).contains(BOB));
    h.media
        .wait_for(|c| *c == MediaCall::Joined(id.clone(), "bob".into()))
        .await;
}

#[tokio::test]
async fn delta_rosters_carry_increasing_sequence_numbers_and_removed_state() {
    let mut h = harness(meeting_bob_joins_later()).await;
    let request = h.delta_join_request("m");
    let id = h
        .client
        .create_call(&request)
        .await
        .unwrap()
        .body
        .id
        .unwrap();
    let delta = |n: CommsNotification| match n.resource_data {
        ResourceData::DeltaParticipants(d) => d,
        other => panic!("delta expected: {other:?}"),
    };
    let first = delta(h.expect_roster(&id).await);
    assert_eq!(first.sequence_number, Some(1));
    assert_eq!(ids(&first.participants).len(), 2, "bot + alice: {first:?}");
    assert!(
        first
            .participants
            .iter()
            .all(|p| p.roster_sequence_number == Some(1))
    );

    h.sim
        .participant_action("m", "bob", TimelineAction::Join)
        .unwrap();
    let second = delta(h.expect_roster(&id).await);
    assert_eq!(second.sequence_number, Some(2));
    assert_eq!(ids(&second.participants), HashSet::from([BOB.to_owned()]));

    h.sim
        .participant_action("m", "bob", TimelineAction::Leave)
        .unwrap();
    let third = delta(h.expect_roster(&id).await);
    assert_eq!(third.sequence_number, Some(3));
    assert_eq!(third.participants.len(), 1);
    assert_eq!(
        third.participants[0]
            .removed_state
            .as_ref()
            .and_then(|r| r.reason.as_deref()),
        Some("left")
    );
    assert_eq!(third.participants[0].roster_sequence_number, Some(3));
}

#[tokio::test]
async fn the_timeline_drives_rosters_and_the_media_seam_in_order() {
    let mut spec = meeting();
    spec.participants[1].id = Some(ParticipantId::new(BOB));
    let spec = spec
        .at(10, "bob", TimelineAction::Leave)
        .at(20, "alice", TimelineAction::SpeakStart)
        .at(30, "alice", TimelineAction::Mute)
        .at(40, "alice", TimelineAction::SpeakStop);
    let mut h = harness(spec).await;
    let id = h.join_established("m").await;
    let full = roster_of(&h.expect_roster(&id).await);
    assert_eq!(full.len(), 3);
    let after_leave = roster_of(&h.expect_roster(&id).await);
    assert!(!ids(&after_leave).contains(BOB));
    let after_mute = roster_of(&h.expect_roster(&id).await);
    assert!(
        after_mute
            .iter()
            .any(|p| p.id == Some(ParticipantId::new(ALICE)) && p.muted())
    );
    let alice = ParticipantId::new(ALICE);
    h.media
        .wait_for(|c| *c == MediaCall::Speaking(id.clone(), alice.clone(), false))
        .await;
    let seam: Vec<MediaCall> = h
        .media
        .snapshot()
        .into_iter()
        .filter(|c| !matches!(c, MediaCall::Attach { .. }))
        .collect();
    assert_eq!(
        seam,
        [
            MediaCall::Left(id.clone(), ParticipantId::new(BOB)),
            MediaCall::Speaking(id.clone(), alice.clone(), true),
            MediaCall::Muted(id.clone(), alice.clone(), true),
            MediaCall::Speaking(id.clone(), alice, false),
        ]
    );
}

#[tokio::test]
async fn audio_routing_groups_are_stored_validated_and_given_to_the_media_side() {
    let mut h = harness(meeting()).await;
    let id: CallId = h.join_established("m").await;
    let bot = h.sim.call(&id).unwrap().my_participant_id;
    let group = AudioRoutingGroup {
        id: Some(AudioRoutingGroupId::new("oneToOne")),
        routing_mode: Some(RoutingMode::OneToOne),
        sources: vec![bot.clone()],
        receivers: vec![ParticipantId::new(ALICE)],
    };
    let created = h
        .client
        .create_audio_routing_group(&id, &group)
        .await
        .unwrap();
    assert_eq!(created.status, StatusCode::OK);
    assert_eq!(created.body, group);
    h.media
        .wait_for(|c| *c == MediaCall::Routing(id.clone(), vec![group.clone()]))
        .await;
    let duplicate = h
        .client
        .create_audio_routing_group(&id, &group)
        .await
        .unwrap_err();
    assert_eq!(duplicate.status(), Some(StatusCode::CONFLICT));
    let stranger = AudioRoutingGroup {
        id: Some(AudioRoutingGroupId::new("x")),
        receivers: vec![ParticipantId::new("not-in-call")],
        ..group.clone()
    };
    let error = h
        .client
        .create_audio_routing_group(&id, &stranger)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::BAD_REQUEST));
    assert!(error.api().unwrap().message.contains("not-in-call"));

    let multicast = AudioRoutingGroup {
        routing_mode: Some(RoutingMode::Multicast),
        receivers: vec![ParticipantId::new(ALICE), ParticipantId::new(BOB)],
        ..group.clone()
    };
    let updated = h
        .client
        .update_audio_routing_group(&id, &AudioRoutingGroupId::new("oneToOne"), &multicast)
        .await
        .unwrap();
    assert_eq!(updated.body.receivers.len(), 2);
    let listed = h
        .client
        .list_audio_routing_groups(&id)
        .await
        .unwrap()
        .body
        .value;
    assert_eq!(listed, [multicast]);
    let deleted = h
        .client
        .delete_audio_routing_group(&id, &AudioRoutingGroupId::new("oneToOne"))
        .await
        .unwrap();
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    h.media
        .wait_for(|c| *c == MediaCall::Routing(id.clone(), Vec::new()))
        .await;
    assert!(h.sim.call(&id).unwrap().routing_groups.is_empty());
}

#[tokio::test]
async fn removing_a_participant_is_204_and_a_roster_update() {
    let mut h = harness(meeting()).await;
    let id = h.join_established("m").await;
    h.expect_roster(&id).await;
    let listed = h.client.list_participants(&id).await.unwrap().body.value;
    assert_eq!(listed.len(), 3);
    let removed = h
        .client
        .delete_participant(&id, &ParticipantId::new(BOB))
        .await
        .unwrap();
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let roster = roster_of(&h.expect_roster(&id).await);
    assert!(!ids(&roster).contains(BOB));
    let gone = h
        .client
        .get_participant(&id, &ParticipantId::new(BOB))
        .await
        .unwrap_err();
    assert_eq!(gone.status(), Some(StatusCode::NOT_FOUND));
}
