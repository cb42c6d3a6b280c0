//! Large meetings: a scenario `crowd` of generated attendees, delivered to the REAL signaling
//! client and webhook as one snapshot roster or as batched delta rosters, bulk crowd churn, and
//! the limits.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Harness, MediaCall, PATIENCE};
use mediabot_signaling::call::{Call, CallConfig, CallEvent, Output};
use mediabot_signaling::models::{CallId, CommsNotification, DeltaParticipants, ResourceData};
use mediabot_signaling::webhook::WebhookConfig;
use mediabot_sim::{
    AudioSource, DeliveryRecord, MAX_CROWD, MeetingSpec, ParticipantSpec, Scenario, SimConfig,
    SimError, SimEvent, SimHandle, Simulator,
};
use tokio::sync::broadcast;

/// Alice and Bob hold MSIs the allocator would otherwise hand out first (2001, 2003…), so a
/// crowd that ignored them would collide.
fn town_hall(extra: &str) -> Scenario {
    let text = format!(
        r#"
        [[meetings]]
        key = "townhall"
        subject = "All hands"
        crowd = 1200
        {extra}
        [[meetings.participants]]
        key = "alice"
        name = "Alice"
        tone_hz = 440.0
        msi = 2001
        [[meetings.participants]]
        key = "bob"
        name = "Bob"
        tone_hz = 660.0
        msi = 2005
        "#
    );
    Scenario::from_toml_str(&text, Path::new(".")).unwrap()
}

fn config(scenario: Scenario) -> SimConfig {
    let mut config = SimConfig::with_scenario(scenario);
    config.timings = mediabot_sim::SimTimings::fast();
    // Large rosters take a while to build and parse in a debug build; the tests send no keepAlive.
    config.timings.keepalive_window = Duration::from_secs(60);
    config
}

/// Joins `meeting` and returns the signaling `Call` made from the create response, ready to be
/// fed the notifications.
async fn join(h: &Harness, meeting: &str) -> Call {
    let created = h
        .client
        .create_call(&h.join_request(meeting))
        .await
        .unwrap();
    Call::outgoing(Instant::now(), &created.body, CallConfig::default()).unwrap()
}

/// The next roster notification of `call`.
async fn next_roster(h: &mut Harness, call: &CallId) -> CommsNotification {
    h.expect_roster(call).await
}

/// Feeds a notification to the call and returns the events it produced.
fn feed(call: &mut Call, notification: CommsNotification) -> Vec<CallEvent> {
    call.handle_notification(Instant::now(), notification)
        .unwrap();
    let mut events = Vec::new();
    while let Some(output) = call.poll_output() {
        match output {
            Output::Event(event) => events.push(event),
            Output::Timeout(_) => break,
            Output::Request(_) => {}
        }
    }
    events
}

fn delta_of(notification: &CommsNotification) -> DeltaParticipants {
    match &notification.resource_data {
        ResourceData::DeltaParticipants(delta) => delta.clone(),
        other => panic!("a delta roster expected: {other:?}"),
    }
}

/// Waits until the simulator has logged the delivery of a roster of `call` with `len`
/// participants (the log entry is written once the bot has answered).
async fn delivered_roster(
    events: &mut broadcast::Receiver<SimEvent>,
    call: &CallId,
    len: usize,
) -> DeliveryRecord {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let SimEvent::NotificationDelivered(record) = events.recv().await.unwrap()
                && record.call_id == *call
                && record.notifications.value.iter().any(
                    |n| matches!(&n.resource_data, ResourceData::Participants(list) if list.len() == len),
                )
            {
                return *record;
            }
        }
    })
    .await
    .expect("the roster delivery was not logged in time")
}

#[tokio::test]
async fn a_crowd_of_1200_reaches_the_bot_as_one_snapshot_roster() {
    let mut h = Harness::start(config(town_hall(""))).await;
    let mut events = h.sim.subscribe();
    let mut call = join(&h, "townhall").await;
    let id = call.id().clone();

    let roster = next_roster(&mut h, &id).await;
    let ResourceData::Participants(list) = &roster.resource_data else {
        panic!("one full roster expected: {roster:?}");
    };
    assert_eq!(
        list.len(),
        1 + 2 + 1200,
        "the bot, alice, bob and the crowd"
    );
    feed(&mut call, roster);
    assert_eq!(call.roster().len(), 1203);
    let attendees = call
        .roster()
        .participants()
        .filter_map(|p| p.identity()?.user.as_ref()?.display_name.as_deref())
        .filter(|name| name.starts_with("Attendee "))
        .count();
    assert_eq!(attendees, 1200);
    // Every participant's audio MSI maps to them alone: no two share one.
    assert_eq!(call.roster().msi_map().count(), 1203);

    let record = delivered_roster(&mut events, &id, 1203).await;
    assert!(record.outcome.is_delivered(), "{:?}", record.outcome);
    let limit = WebhookConfig::default().max_body_bytes;
    println!(
        "1200-person snapshot roster: {} bytes on the wire (webhook limit {limit} bytes)",
        record.body.len()
    );
    assert!(record.body.len() < limit);
    assert_eq!(h.webhook.counters().oversize, 0);
}

#[tokio::test]
async fn a_crowd_of_1200_reaches_the_bot_as_delta_batches_applied_in_sequence() {
    // The bot does not ask for delta rosters: the meeting's roster_mode decides.
    let mut h = Harness::start(config(town_hall(r#"roster_mode = "delta""#))).await;
    let mut call = join(&h, "townhall").await;
    let id = call.id().clone();

    let mut sequences = Vec::new();
    let mut gaps = Vec::new();
    while call.roster().len() < 1203 {
        let notification = next_roster(&mut h, &id).await;
        let delta = delta_of(&notification);
        assert!(delta.participants.len() <= 100, "batches of roster_batch");
        assert!(
            delta
                .participants
                .iter()
                .all(|p| p.roster_sequence_number == delta.sequence_number),
            "every entry carries its batch's sequence number"
        );
        sequences.push(delta.sequence_number.unwrap());
        gaps.extend(
            feed(&mut call, notification)
                .into_iter()
                .filter(|e| matches!(e, CallEvent::RosterGap { .. })),
        );
    }
    assert_eq!(
        sequences,
        (1..=13).collect::<Vec<i64>>(),
        "1203 in 13 batches"
    );
    assert_eq!(gaps, []);
    assert_eq!(call.roster().len(), 1203);
    assert_eq!(call.roster().last_sequence_number(), Some(13));
    assert_eq!(call.roster().dropped_deltas(), 0);
    assert_eq!(call.roster().msi_map().count(), 1203);

    // 150 attendees leave at once: two batches of leavers, sequence numbers continuing.
    h.sim.crowd_churn("townhall", 150, 0).unwrap();
    let mut left = Vec::new();
    while call.roster().len() > 1203 - 150 {
        let notification = next_roster(&mut h, &id).await;
        let delta = delta_of(&notification);
        assert!(
            delta.participants.iter().all(|p| {
                p.removed_state.as_ref().and_then(|r| r.reason.as_deref()) == Some("left")
            }),
            "only leavers: {delta:?}"
        );
        sequences.push(delta.sequence_number.unwrap());
        left.extend(
            feed(&mut call, notification)
                .into_iter()
                .filter(|e| matches!(e, CallEvent::ParticipantLeft { .. })),
        );
    }
    assert_eq!(&sequences[13..], [14, 15]);
    assert_eq!(left.len(), 150);
    assert_eq!(call.roster().len(), 1053);
}

#[tokio::test]
async fn crowd_churn_on_the_timeline_is_one_roster_change() {
    let churn = "[[meetings.crowd_churn]]\nat_ms = 20\nleave = 200\njoin = 0";
    let mut h = Harness::start(config(town_hall(churn))).await;
    let mut events = h.sim.subscribe();
    let mut call = join(&h, "townhall").await;
    let id = call.id().clone();
    let first = next_roster(&mut h, &id).await;
    feed(&mut call, first);
    assert_eq!(call.roster().len(), 1203);
    // The very next roster already lacks all 200: no roster per leaver.
    let second = next_roster(&mut h, &id).await;
    let left: Vec<CallEvent> = feed(&mut call, second)
        .into_iter()
        .filter(|e| matches!(e, CallEvent::ParticipantLeft { .. }))
        .collect();
    assert_eq!(left.len(), 200);
    assert_eq!(call.roster().len(), 1003);
    let churned = tokio::time::timeout(PATIENCE, async {
        loop {
            if let SimEvent::CrowdChurned { left, joined, .. } = events.recv().await.unwrap() {
                return (left, joined);
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(churned, (200, 0));
    // The lowest-numbered attendees left, and the media side was told about each.
    let meeting = h.sim.meeting("townhall").unwrap();
    let absent: Vec<&str> = meeting
        .participants
        .iter()
        .filter(|m| !m.present)
        .map(|m| m.participant.key.as_str())
        .collect();
    assert_eq!(absent.len(), 200);
    assert_eq!((absent[0], absent[199]), ("attendee-0001", "attendee-0200"));
    let lefts = || {
        h.media
            .snapshot()
            .iter()
            .filter(|c| matches!(c, MediaCall::Left(call, _) if *call == id))
            .count()
    };
    tokio::time::timeout(PATIENCE, async {
        loop {
            let notified = h.media.notify.notified();
            if lefts() >= 200 {
                return;
            }
            notified.await;
        }
    })
    .await
    .expect("the media side was not told about every leaver in time");
    assert_eq!(lefts(), 200);
}

#[tokio::test]
async fn a_5000_person_snapshot_roster_fits_the_webhook_body_limit() {
    let mut spec = MeetingSpec::new("conference").with_crowd(5000);
    spec.participants
        .push(ParticipantSpec::tone("alice", "Alice", 440.0));
    let mut h = Harness::start(config(Scenario {
        meetings: vec![spec],
        ..Scenario::empty()
    }))
    .await;
    let mut events = h.sim.subscribe();
    let mut call = join(&h, "conference").await;
    let id = call.id().clone();
    let roster = next_roster(&mut h, &id).await;
    feed(&mut call, roster);
    assert_eq!(call.roster().len(), 1 + 1 + 5000);
    let record = delivered_roster(&mut events, &id, 5002).await;
    let limit = WebhookConfig::default().max_body_bytes;
    println!(
        "5000-person snapshot roster: {} bytes on the wire (webhook limit {limit} bytes)",
        record.body.len()
    );
    assert!(record.outcome.is_delivered(), "{:?}", record.outcome);
    assert!(record.body.len() < limit);
    assert_eq!(h.webhook.counters().oversize, 0);
}

async fn started(scenario: Scenario) -> SimHandle {
    Simulator::start(config(scenario)).await.unwrap()
}

#[tokio::test]
async fn crowd_members_are_deterministic_silent_users_with_unique_msis() {
    // A second meeting lists an MSI inside the range the first meeting's crowd is allocated
    // from: listed MSIs are reserved before any crowd takes one, whatever the meeting order.
    let scenario = Scenario::from_toml_str(
        r#"
        [[meetings]]
        key = "townhall"
        crowd = 1200
        [[meetings.participants]]
        key = "alice"
        tone_hz = 440.0
        msi = 2001
        [[meetings]]
        key = "standup"
        crowd = 3
        [[meetings.participants]]
        key = "carol"
        tone_hz = 880.0
        msi = 2401
        "#,
        Path::new("."),
    )
    .unwrap();
    let first = started(scenario.clone()).await;
    let again = started(scenario).await;
    let townhall = first.meeting("townhall").unwrap();
    let standup = first.meeting("standup").unwrap();
    assert_eq!(townhall.participants.len(), 1201);
    assert_eq!(standup.participants[0].participant.msi.0, 2401);
    assert_eq!(townhall.participants[0].participant.msi.0, 2001);

    let crowd: Vec<_> = townhall
        .participants
        .iter()
        .filter(|m| m.participant.crowd)
        .map(|m| &m.participant)
        .collect();
    assert_eq!(crowd.len(), 1200);
    assert_eq!(crowd[0].display_name, "Attendee 0001");
    assert_eq!(crowd[1199].display_name, "Attendee 1200");
    assert_eq!(crowd[41].key, "attendee-0042");
    for p in &crowd {
        assert_eq!(p.audio, AudioSource::Silence);
        let user = p.identity.user.as_ref().expect("crowd members are users");
        assert_eq!(user.tenant_id.as_ref(), Some(first.tenant_id()));
        assert!(p.identity.guest.is_none() && p.identity.phone.is_none());
    }

    // MSIs unique across both meetings, listed ones included; ids unique too.
    let everyone: Vec<_> = townhall
        .participants
        .iter()
        .chain(&standup.participants)
        .map(|m| &m.participant)
        .collect();
    let msis: HashSet<u32> = everyone.iter().map(|p| p.msi.0).collect();
    assert_eq!(msis.len(), everyone.len());
    let ids: HashSet<&str> = everyone.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.len(), everyone.len());

    // Another simulator from the same scenario generates the same crowd.
    let identity = |p: &mediabot_sim::SimParticipant| {
        (
            p.id.clone(),
            p.key.clone(),
            p.identity.user.as_ref().and_then(|u| u.id.clone()),
        )
    };
    let replayed: Vec<_> = again
        .meeting("townhall")
        .unwrap()
        .participants
        .iter()
        .filter(|m| m.participant.crowd)
        .map(|m| identity(&m.participant))
        .collect();
    let original: Vec<_> = crowd.iter().map(|p| identity(p)).collect();
    assert_eq!(replayed, original);
}

#[tokio::test]
async fn a_crowd_above_the_limit_is_refused_with_a_clear_error() {
    let base = Path::new(".");
    let too_big = format!("[[meetings]]\nkey = \"m\"\ncrowd = {}\n", MAX_CROWD + 1);
    let error = Scenario::from_toml_str(&too_big, base).unwrap_err();
    assert!(matches!(error, SimError::ScenarioInvalid(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("crowd = 10001") && message.contains("limit of 10000"),
        "{message}"
    );
    // The limit itself is fine.
    let at_limit = format!("[[meetings]]\nkey = \"m\"\ncrowd = {MAX_CROWD}\n");
    assert_eq!(
        Scenario::from_toml_str(&at_limit, base).unwrap().meetings[0].crowd,
        MAX_CROWD
    );

    // Meetings built in code are checked when registered, at start or at run time.
    let spec = MeetingSpec::new("m").with_crowd(MAX_CROWD + 1);
    let error = Simulator::start(config(Scenario {
        meetings: vec![spec.clone()],
        ..Scenario::empty()
    }))
    .await
    .unwrap_err();
    assert!(error.to_string().contains("limit of 10000"), "{error}");
    let sim = started(Scenario::empty()).await;
    let error = sim.add_meeting(spec).unwrap_err();
    assert!(error.to_string().contains("limit of 10000"), "{error}");
    assert!(sim.meeting("m").is_none());
}

#[test]
fn crowd_settings_are_checked_with_messages_that_name_the_problem() {
    let base = Path::new(".");
    let cases = [
        (
            "crowd = 5\nroster_batch = 0",
            "roster_batch must be at least 1",
        ),
        (
            "crowd = 5\n[[meetings.participants]]\nkey = \"attendee-0003\"",
            "\"attendee-0003\" is taken by the crowd",
        ),
        (
            "crowd = 5\n[[meetings.timeline]]\nat_ms = 1\nwho = \"attendee-0006\"\naction = \"leave\"",
            "unknown participant \"attendee-0006\"",
        ),
        (
            "crowd = 5\n[[meetings.crowd_churn]]\nat_ms = 1\nleave = 6",
            "moves more than its crowd of 5",
        ),
    ];
    for (meeting, expected) in cases {
        let text = format!("[[meetings]]\nkey = \"m\"\n{meeting}\n");
        let error = Scenario::from_toml_str(&text, base).unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "{expected:?}: {error}"
        );
    }
    let sideways = "[[meetings]]\nkey = \"m\"\nroster_mode = \"sideways\"\n";
    assert!(matches!(
        Scenario::from_toml_str(sideways, base),
        Err(SimError::ScenarioSyntax(_))
    ));
    // A crowd key may be named on the timeline; the default kind of everyone is user.
    let named = "[[meetings]]\nkey = \"m\"\ncrowd = 5\n[[meetings.timeline]]\nat_ms = 1\nwho = \"attendee-0005\"\naction = \"mute\"\n";
    let scenario = Scenario::from_toml_str(named, base).unwrap();
    assert_eq!(
        scenario.meetings[0].timeline[0].participant,
        "attendee-0005"
    );
}
