//! Reconciler scenarios on a simulated clock against an in-memory Graph. Each test asserts the
//! exact request sequence (the minimal set) and that the reconciler converges.

mod common;

use std::time::Duration;

use common::{Fault, Sim, broadcast, name, pid, room, room_group, whisper};
use mediabot_routing::{
    Observed, ReconcilerConfig, RequestKind, RouteError, RouteStatus, RoutingEvent,
};
use mediabot_signaling::models::{AudioRoutingGroup, AudioRoutingGroupId, RoutingMode};

fn converged(sim: &Sim) {
    assert!(sim.queue.is_empty(), "requests left: {:?}", sim.queue);
    assert!(sim.timeout.is_none(), "timer left: {:?}", sim.timeout);
    assert!(sim.reconciler.is_converged(), "not converged");
    assert!(sim.graph_matches_wanted(), "Graph {:?}", sim.graph.groups);
}

fn count_converged_events(sim: &Sim) -> usize {
    sim.events
        .iter()
        .filter(|e| matches!(e, RoutingEvent::Converged))
        .count()
}

fn group(id: &str, mode: RoutingMode, source: &str, receivers: &[&str]) -> AudioRoutingGroup {
    AudioRoutingGroup {
        id: Some(AudioRoutingGroupId::new(id)),
        routing_mode: Some(mode),
        sources: vec![pid(source)],
        receivers: receivers.iter().map(|r| pid(r)).collect(),
    }
}

/// bot, alice, bob, carol in the call; a whisper to alice and a broadcast to alice and bob,
/// converged.
fn converged_whisper_and_broadcast() -> Sim {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice", "bob", "carol"]);
    sim.desire(vec![
        whisper("w", "bot", "alice"),
        broadcast("b", "bot", &["alice", "bob"]),
    ]);
    sim.run();
    converged(&sim);
    sim
}

#[test]
fn create_from_empty_lists_once_then_creates_each_group() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice", "bob", "carol"]);
    let lounge = room("lounge", &["alice", "bob", "bot"]);
    sim.desire(vec![
        whisper("w", "bot", "alice"),
        broadcast("b", "bot", &["alice", "bob"]),
        lounge.clone(),
    ]);
    assert_eq!(sim.sent, ["list"], "nothing before the list answers");
    sim.run();

    let mut room_creates = vec![
        (
            room_group(&lounge, "alice"),
            "multicast alice->[bob,bot]".to_owned(),
        ),
        (
            room_group(&lounge, "bob"),
            "multicast bob->[alice,bot]".to_owned(),
        ),
        (
            room_group(&lounge, "bot"),
            "multicast bot->[alice,bob]".to_owned(),
        ),
    ];
    room_creates.sort();
    let mut expected = vec![
        "list".to_owned(),
        "create mb-b multicast bot->[alice,bob]".to_owned(),
    ];
    expected.extend(
        room_creates
            .into_iter()
            .map(|(id, body)| format!("create {id} {body}")),
    );
    expected.push("create mb-w oneToOne bot->[alice]".to_owned());
    assert_eq!(sim.sent, expected);
    converged(&sim);
    assert_eq!(count_converged_events(&sim), 1);
    for route in ["w", "b", "lounge"] {
        assert_eq!(
            sim.reconciler.route_status(&name(route)),
            Some(RouteStatus::Active)
        );
    }
    let created = sim
        .events
        .iter()
        .filter(|e| matches!(e, RoutingEvent::GroupCreated { .. }))
        .count();
    assert_eq!(created, 5);
}

#[test]
fn repeating_the_same_desired_routes_sends_nothing() {
    let mut sim = converged_whisper_and_broadcast();
    let mark = sim.sent.len();
    for _ in 0..3 {
        sim.desire(vec![
            broadcast("b", "bot", &["bob", "alice"]),
            whisper("w", "bot", "alice"),
        ]);
        sim.roster(&["carol", "bob", "alice", "bot"]);
        sim.run();
    }
    assert!(
        sim.sent_since(mark).is_empty(),
        "{:?}",
        sim.sent_since(mark)
    );
    converged(&sim);
}

#[test]
fn a_brand_new_call_can_skip_the_initial_list() {
    let mut config = ReconcilerConfig::new(pid("bot"));
    config.assume_empty = true;
    let mut sim = Sim::with_config(config);
    sim.roster(&["bot", "alice"]);
    sim.desire(vec![whisper("w", "bot", "alice")]);
    sim.run();
    assert_eq!(sim.sent, ["create mb-w oneToOne bot->[alice]"]);
    converged(&sim);
}

#[test]
fn nothing_is_sent_before_the_roster_is_known() {
    let mut sim = Sim::new("bot");
    sim.reconciler.handle_timeout(sim.now);
    sim.drain();
    assert_eq!(sim.sent, ["list"], "listing is harmless, acting is not");
    let error = sim
        .reconciler
        .set_desired(sim.now, vec![whisper("w", "bot", "alice")])
        .unwrap_err();
    assert_eq!(error, RouteError::RosterUnknown);
    // Graph holds a group of ours from an earlier run: without a roster it must not be deleted.
    sim.graph.groups.insert(
        "mb-old".to_owned(),
        group("mb-old", RoutingMode::OneToOne, "bot", &["alice"]),
    );
    sim.run();
    assert!(sim.graph.groups.contains_key("mb-old"));
    assert!(!sim.reconciler.is_converged());
}

#[test]
fn changing_receivers_is_one_patch_with_the_whole_group() {
    let mut sim = converged_whisper_and_broadcast();
    let mark = sim.sent.len();
    sim.desire(vec![
        whisper("w", "bot", "alice"),
        broadcast("b", "bot", &["alice", "carol"]),
    ]);
    sim.run();
    assert_eq!(
        sim.sent_since(mark),
        ["update mb-b multicast bot->[alice,carol]"]
    );
    converged(&sim);
    assert!(sim.events.contains(&RoutingEvent::GroupUpdated {
        route: name("b"),
        group: AudioRoutingGroupId::new("mb-b"),
    }));
}

#[test]
fn retargeting_a_whisper_patches_its_receiver() {
    let mut sim = converged_whisper_and_broadcast();
    let mark = sim.sent.len();
    sim.desire(vec![
        whisper("w", "bot", "carol"),
        broadcast("b", "bot", &["alice", "bob"]),
    ]);
    sim.run();
    assert_eq!(sim.sent_since(mark), ["update mb-w oneToOne bot->[carol]"]);
    converged(&sim);
}

#[test]
fn changing_a_routes_mode_deletes_then_creates() {
    let mut sim = converged_whisper_and_broadcast();
    let mark = sim.sent.len();
    sim.desire(vec![
        broadcast("w", "bot", &["alice", "carol"]),
        broadcast("b", "bot", &["alice", "bob"]),
    ]);
    sim.run();
    assert_eq!(
        sim.sent_since(mark),
        ["delete mb-w", "create mb-w multicast bot->[alice,carol]"]
    );
    converged(&sim);
}

#[test]
fn removing_a_route_deletes_its_group() {
    let mut sim = converged_whisper_and_broadcast();
    let mark = sim.sent.len();
    assert!(sim.reconciler.remove_route(sim.now, &name("w")));
    sim.drain();
    sim.run();
    assert_eq!(sim.sent_since(mark), ["delete mb-w"]);
    converged(&sim);
    assert!(!sim.reconciler.remove_route(sim.now, &name("w")));
}

#[test]
fn a_receiver_who_leaves_is_pruned() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice", "bob", "carol"]);
    let lounge = room("lounge", &["alice", "bob", "bot"]);
    sim.desire(vec![
        broadcast("b", "bot", &["alice", "bob"]),
        whisper("w", "bot", "bob"),
        lounge.clone(),
    ]);
    sim.run();
    converged(&sim);
    let mark = sim.sent.len();
    let events_mark = sim.events.len();

    sim.roster(&["bot", "alice", "carol"]);
    sim.run();

    // bob's own room group goes, the other members' groups lose bob, the whisper to bob goes.
    let mut expected = vec![
        "update mb-b multicast bot->[alice]".to_owned(),
        format!(
            "update {} multicast alice->[bot]",
            room_group(&lounge, "alice")
        ),
        format!("delete {}", room_group(&lounge, "bob")),
        format!(
            "update {} multicast bot->[alice]",
            room_group(&lounge, "bot")
        ),
        "delete mb-w".to_owned(),
    ];
    expected[1..4].sort_by_key(|s| s.split(' ').nth(1).map(str::to_owned));
    assert_eq!(sim.sent_since(mark), expected);
    converged(&sim);

    let left: Vec<(String, bool)> = sim.events[events_mark..]
        .iter()
        .filter_map(|e| match e {
            RoutingEvent::ParticipantLeft {
                route,
                participant,
                was_source,
            } => {
                assert_eq!(participant, &pid("bob"));
                Some((route.to_string(), *was_source))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        left,
        [
            ("b".to_owned(), false),
            ("w".to_owned(), false),
            ("lounge".to_owned(), true)
        ]
    );
    assert_eq!(
        sim.reconciler.route_status(&name("w")),
        Some(RouteStatus::Dormant)
    );
    assert_eq!(
        sim.reconciler.route_status(&name("b")),
        Some(RouteStatus::Active)
    );

    // bob comes back: the declared routes need him again.
    let mark = sim.sent.len();
    sim.roster(&["bot", "alice", "bob", "carol"]);
    sim.run();
    assert_eq!(sim.sent_since(mark).len(), 5);
    converged(&sim);
}

#[test]
fn a_group_whose_source_leaves_is_deleted() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice", "bob"]);
    sim.desire(vec![
        broadcast("talk", "alice", &["bob", "bot"]),
        whisper("w", "bot", "bob"),
    ]);
    sim.run();
    converged(&sim);
    let mark = sim.sent.len();

    sim.roster(&["bot", "bob"]);
    sim.run();

    assert_eq!(sim.sent_since(mark), ["delete mb-talk"]);
    converged(&sim);
    assert_eq!(
        sim.reconciler.route_status(&name("talk")),
        Some(RouteStatus::Dormant)
    );
    assert!(sim.events.contains(&RoutingEvent::ParticipantLeft {
        route: name("talk"),
        participant: pid("alice"),
        was_source: true,
    }));
    assert!(sim.events.contains(&RoutingEvent::GroupDeleted {
        group: AudioRoutingGroupId::new("mb-talk"),
    }));
}

#[test]
fn graph_5xx_mid_reconcile_is_retried_after_backoff_and_converges() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice", "bob", "carol"]);
    sim.graph.inject(
        |k| k.group_id().is_some_and(|id| id.as_str() == "mb-b"),
        Fault::Fail(503),
    );
    sim.graph.inject(
        |k| k.group_id().is_some_and(|id| id.as_str() == "mb-b"),
        Fault::Fail(502),
    );
    sim.desire(vec![
        whisper("a", "bot", "alice"),
        broadcast("b", "bot", &["alice", "bob"]),
        whisper("c", "bot", "carol"),
    ]);

    sim.answer_all();
    assert_eq!(
        sim.sent,
        [
            "list",
            "create mb-a oneToOne bot->[alice]",
            "create mb-b multicast bot->[alice,bob]",
            "create mb-c oneToOne bot->[carol]",
        ]
    );
    assert_eq!(sim.timeout, Some(sim.start + Duration::from_secs(1)));
    assert!(!sim.reconciler.is_converged());
    assert_eq!(
        sim.reconciler.route_status(&name("b")),
        Some(RouteStatus::Pending)
    );

    // First retry fails again: the backoff doubles.
    sim.now = sim.start + Duration::from_secs(1);
    sim.reconciler.handle_timeout(sim.now);
    sim.drain();
    sim.answer_all();
    assert_eq!(sim.timeout, Some(sim.start + Duration::from_secs(3)));

    // An early timer tick sends nothing.
    sim.now = sim.start + Duration::from_secs(2);
    let mark = sim.sent.len();
    sim.reconciler.handle_timeout(sim.now);
    sim.drain();
    assert!(sim.sent_since(mark).is_empty());

    sim.run();
    assert_eq!(
        &sim.sent[4..],
        [
            "create mb-b multicast bot->[alice,bob]",
            "create mb-b multicast bot->[alice,bob]"
        ]
    );
    assert_eq!(sim.elapsed(), Duration::from_secs(3));
    converged(&sim);
    let failures: Vec<Option<Duration>> = sim
        .events
        .iter()
        .filter_map(|e| match e {
            RoutingEvent::RequestFailed { retry_at, .. } => Some(retry_at.map(|at| at - sim.start)),
            _ => None,
        })
        .collect();
    assert_eq!(
        failures,
        [Some(Duration::from_secs(1)), Some(Duration::from_secs(3))]
    );
}

#[test]
fn a_lost_create_answer_is_resolved_by_409_then_get_without_an_update() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice"]);
    sim.graph.inject(
        |k| matches!(k, RequestKind::Create { .. }),
        Fault::LoseAnswer,
    );
    sim.desire(vec![whisper("w", "bot", "alice")]);
    sim.run();
    assert_eq!(
        sim.sent,
        [
            "list",
            "create mb-w oneToOne bot->[alice]",
            "create mb-w oneToOne bot->[alice]",
            "get mb-w",
        ]
    );
    converged(&sim);
}

#[test]
fn a_failed_list_is_retried_before_anything_else() {
    let mut sim = Sim::new("bot");
    sim.graph
        .inject(|k| matches!(k, RequestKind::List), Fault::Fail(500));
    sim.roster(&["bot", "alice"]);
    sim.desire(vec![whisper("w", "bot", "alice")]);
    sim.run();
    assert_eq!(
        sim.sent,
        ["list", "list", "create mb-w oneToOne bot->[alice]"]
    );
    assert_eq!(sim.elapsed(), Duration::from_secs(1));
    converged(&sim);
}

#[test]
fn a_5xx_on_update_and_delete_mid_reconcile_recovers() {
    let mut sim = converged_whisper_and_broadcast();
    sim.graph.inject(
        |k| matches!(k, RequestKind::Update { .. }),
        Fault::Fail(500),
    );
    sim.graph.inject(
        |k| matches!(k, RequestKind::Delete { .. }),
        Fault::LoseAnswer,
    );
    let mark = sim.sent.len();
    sim.desire(vec![broadcast("b", "bot", &["carol"])]);
    sim.run();
    // The lost delete answer is retried and meets 404: gone is gone.
    assert_eq!(
        sim.sent_since(mark),
        [
            "update mb-b multicast bot->[carol]",
            "delete mb-w",
            "update mb-b multicast bot->[carol]",
            "delete mb-w",
        ]
    );
    converged(&sim);
}

#[test]
fn a_permanent_failure_parks_the_route_until_its_intent_changes() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice", "bob"]);
    sim.graph.inject(
        |k| matches!(k, RequestKind::Create { .. }),
        Fault::Fail(403),
    );
    sim.desire(vec![whisper("w", "bot", "alice")]);
    sim.run();
    assert_eq!(sim.sent, ["list", "create mb-w oneToOne bot->[alice]"]);
    assert_eq!(sim.timeout, None, "a 403 is not retried on a timer");
    assert!(!sim.reconciler.is_converged());
    assert_eq!(
        sim.reconciler.route_status(&name("w")),
        Some(RouteStatus::Failed)
    );
    assert!(sim.events.iter().any(|e| matches!(
        e,
        RoutingEvent::RequestFailed { retry_at: None, failure, .. } if failure.http_status() == Some(403)
    )));

    // The same intent again changes nothing; a new intent is tried.
    sim.desire(vec![whisper("w", "bot", "alice")]);
    sim.run();
    assert_eq!(sim.sent.len(), 2);
    sim.desire(vec![whisper("w", "bot", "bob")]);
    sim.run();
    assert_eq!(&sim.sent[2..], ["create mb-w oneToOne bot->[bob]"]);
    converged(&sim);
}

#[test]
fn duplicate_notifications_send_nothing_more() {
    let mut sim = converged_whisper_and_broadcast();
    let mark = sim.sent.len();
    let current = sim.graph.groups["mb-b"].clone();
    for _ in 0..3 {
        sim.observe(Observed::Upserted(current.clone()));
    }
    sim.run();
    assert!(sim.sent_since(mark).is_empty());
    converged(&sim);

    // Someone else drifted the group; the notification arrives twice: one PATCH.
    let drifted = group("mb-b", RoutingMode::Multicast, "bot", &["carol"]);
    sim.graph.groups.insert("mb-b".to_owned(), drifted.clone());
    sim.observe(Observed::Upserted(drifted.clone()));
    sim.observe(Observed::Upserted(drifted));
    sim.run();
    assert_eq!(
        sim.sent_since(mark),
        ["update mb-b multicast bot->[alice,bob]"]
    );
    converged(&sim);

    // The group vanished; the removal is notified twice: one create.
    let mark = sim.sent.len();
    sim.graph.groups.remove("mb-w");
    let gone = AudioRoutingGroupId::new("mb-w");
    sim.observe(Observed::Removed(gone.clone()));
    sim.observe(Observed::Removed(gone));
    sim.run();
    assert_eq!(sim.sent_since(mark), ["create mb-w oneToOne bot->[alice]"]);
    converged(&sim);
}

#[test]
fn a_notification_during_a_request_in_flight_is_superseded_by_the_answer() {
    let mut sim = converged_whisper_and_broadcast();
    let mark = sim.sent.len();
    let before = sim.graph.groups["mb-b"].clone();
    sim.desire(vec![
        whisper("w", "bot", "alice"),
        broadcast("b", "bot", &["carol"]),
    ]);
    assert_eq!(sim.queue.len(), 1);
    // A stale notification (the state before the update) arrives while the PATCH is in flight.
    sim.observe(Observed::Upserted(before));
    sim.run();
    assert_eq!(sim.sent_since(mark), ["update mb-b multicast bot->[carol]"]);
    converged(&sim);
}

#[test]
fn a_creation_notified_before_its_lost_answer_needs_no_retry() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice"]);
    sim.desire(vec![whisper("w", "bot", "alice")]);
    sim.answer_one(); // the list
    let create = sim.queue.pop_front().expect("a create");
    let RequestKind::Create { group } = &create.kind else {
        panic!("expected a create, got {:?}", create.kind);
    };
    sim.graph.groups.insert("mb-w".to_owned(), group.clone());
    // Graph notifies the new group, then the create's answer is lost.
    sim.observe(Observed::Upserted(group.clone()));
    sim.reconciler.handle_response(
        sim.now,
        create.id,
        Err(mediabot_signaling::call::GraphFailure::status(504)),
    );
    sim.drain();
    sim.run();
    assert_eq!(sim.sent, ["list", "create mb-w oneToOne bot->[alice]"]);
    converged(&sim);
}

#[test]
fn a_list_sent_before_a_change_does_not_undo_it() {
    let mut sim = converged_whisper_and_broadcast();
    sim.reconciler.request_resync(sim.now);
    sim.drain();
    let list = sim.queue.pop_front().expect("a list");
    assert_eq!(list.kind, RequestKind::List);
    let stale_list = sim.graph.serve(&list.kind);

    let mark = sim.sent.len();
    sim.desire(vec![
        whisper("w", "bot", "alice"),
        broadcast("b", "bot", &["carol"]),
    ]);
    sim.answer_all();
    // The list (taken before the update) arrives after the update's answer.
    sim.reconciler.handle_response(sim.now, list.id, stale_list);
    sim.drain();
    sim.run();
    assert_eq!(sim.sent_since(mark), ["update mb-b multicast bot->[carol]"]);
    converged(&sim);
}

#[test]
fn duplicate_and_unknown_responses_are_ignored() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice"]);
    sim.desire(vec![whisper("w", "bot", "alice")]);
    sim.answer_one(); // the list
    let create = sim.queue.pop_front().expect("a create");
    let result = sim.graph.serve(&create.kind);
    sim.reconciler
        .handle_response(sim.now, create.id, result.clone());
    sim.reconciler.handle_response(sim.now, create.id, result);
    sim.reconciler.handle_response(
        sim.now,
        mediabot_routing::RequestId(999),
        Err(mediabot_signaling::call::GraphFailure::status(500)),
    );
    sim.drain();
    sim.run();
    assert_eq!(sim.sent, ["list", "create mb-w oneToOne bot->[alice]"]);
    converged(&sim);
}

#[test]
fn after_a_restart_leftovers_are_repaired_and_foreign_groups_left_alone() {
    let mut sim = Sim::new("bot");
    let foreign: AudioRoutingGroup = serde_json::from_str(include_str!(
        "../../../fixtures/graph-examples/audioroutinggroup-create-multicast-response.json"
    ))
    .unwrap();
    sim.graph.groups.insert("multicast".to_owned(), foreign);
    sim.graph.groups.insert(
        "mb-w".to_owned(),
        group("mb-w", RoutingMode::OneToOne, "bot", &["alice"]),
    );
    sim.graph.groups.insert(
        "mb-b".to_owned(),
        group("mb-b", RoutingMode::Multicast, "bot", &["bob", "alice"]),
    );
    sim.graph.groups.insert(
        "mb-gone".to_owned(),
        group("mb-gone", RoutingMode::OneToOne, "bot", &["bob"]),
    );
    sim.roster(&["bot", "alice", "bob", "carol"]);
    sim.desire(vec![
        whisper("w", "bot", "alice"),
        broadcast("b", "bot", &["alice", "carol"]),
    ]);
    sim.run();
    assert_eq!(
        sim.sent,
        [
            "list",
            "update mb-b multicast bot->[alice,carol]",
            "delete mb-gone"
        ]
    );
    converged(&sim);
    assert!(sim.graph.groups.contains_key("multicast"));
}

#[test]
fn guid_spelling_differences_are_not_drift() {
    let mut sim = Sim::new("632899f8-2ea1-4604-8413-27bd2892079f");
    sim.roster(&[
        "632899f8-2ea1-4604-8413-27bd2892079f",
        "550fae72-d251-43ec-868c-373732c2704f",
    ]);
    sim.desire(vec![whisper(
        "w",
        "632899f8-2ea1-4604-8413-27bd2892079f",
        "550fae72-d251-43ec-868c-373732c2704f",
    )]);
    sim.run();
    converged(&sim);
    let mark = sim.sent.len();
    // Graph echoes the ids in another spelling.
    sim.observe(Observed::Upserted(group(
        "mb-w",
        RoutingMode::OneToOne,
        "632899F82EA14604841327BD2892079F",
        &["{550FAE72-D251-43EC-868C-373732C2704F}"],
    )));
    sim.run();
    assert!(sim.sent_since(mark).is_empty());
    assert!(sim.reconciler.is_converged());
}

#[test]
fn bot_routes_are_live_only_while_nobody_else_hears_them() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice", "bob", "carol"]);
    sim.desire(vec![
        whisper("w", "bot", "alice"),
        broadcast("talk", "alice", &["bot"]),
        broadcast("b", "bot", &["alice", "bob"]),
    ]);
    let routes = sim.reconciler.bot_routes();
    assert_eq!(routes.len(), 2, "only groups the bot is the source of");
    assert!(
        routes.iter().all(|r| !r.live),
        "nothing is live before Graph has it"
    );
    sim.run();
    assert!(sim.reconciler.bot_routes().iter().all(|r| r.live));

    // Shrinking receivers: not live until Graph has dropped bob.
    sim.desire(vec![
        whisper("w", "bot", "alice"),
        broadcast("talk", "alice", &["bot"]),
        broadcast("b", "bot", &["alice"]),
    ]);
    let b = |sim: &Sim| {
        sim.reconciler
            .bot_routes()
            .into_iter()
            .find(|r| r.route == name("b"))
            .expect("route b")
    };
    assert!(!b(&sim).live);
    assert_eq!(
        sim.reconciler.route_status(&name("b")),
        Some(RouteStatus::Pending)
    );
    sim.run();
    assert!(b(&sim).live);

    // Growing receivers: still live (nobody outside the route hears it).
    sim.desire(vec![
        whisper("w", "bot", "alice"),
        broadcast("talk", "alice", &["bot"]),
        broadcast("b", "bot", &["alice", "carol"]),
    ]);
    assert!(b(&sim).live);
    assert_eq!(
        sim.reconciler.route_status(&name("b")),
        Some(RouteStatus::Active)
    );
    sim.run();
    converged(&sim);
}

#[test]
fn a_periodic_resync_catches_drift_nobody_notified() {
    let mut config = ReconcilerConfig::new(pid("bot"));
    config.resync_interval = Some(Duration::from_secs(300));
    let mut sim = Sim::with_config(config);
    sim.roster(&["bot", "alice", "bob"]);
    sim.desire(vec![broadcast("b", "bot", &["alice", "bob"])]);
    sim.answer_all();
    assert_eq!(sim.sent, ["list", "create mb-b multicast bot->[alice,bob]"]);
    assert!(
        sim.reconciler.is_converged(),
        "a scheduled resync is not pending work"
    );
    assert_eq!(sim.timeout, Some(sim.start + Duration::from_secs(300)));

    // Someone else drops bob; Graph sends no notification.
    sim.graph.groups.get_mut("mb-b").unwrap().receivers.pop();
    sim.now = sim.start + Duration::from_secs(299);
    sim.reconciler.handle_timeout(sim.now);
    sim.drain();
    assert!(sim.queue.is_empty(), "not due yet");

    sim.now = sim.start + Duration::from_secs(300);
    sim.reconciler.handle_timeout(sim.now);
    sim.drain();
    sim.answer_all();
    assert_eq!(
        &sim.sent[2..],
        ["list", "update mb-b multicast bot->[alice,bob]"]
    );
    assert!(sim.reconciler.is_converged());
    assert!(sim.graph_matches_wanted());
    assert_eq!(sim.timeout, Some(sim.start + Duration::from_secs(600)));
}

fn notification(change: &str, url: &str) -> mediabot_signaling::models::CommsNotification {
    serde_json::from_str(&format!(
        r##"{{"@odata.type":"#microsoft.graph.commsNotification","changeType":"{change}","resourceUrl":"{url}"}}"##
    ))
    .unwrap()
}

#[test]
fn graph_notifications_about_groups_are_understood() {
    let mut sim = converged_whisper_and_broadcast();
    let mark = sim.sent.len();

    // Not about routing groups: ignored.
    let roster = notification("updated", "/communications/calls/c1/participants");
    assert!(!sim.reconciler.handle_notification(sim.now, &roster));

    // An update without content: one get settles it, however often it is repeated meanwhile.
    let updated = notification(
        "updated",
        "/communications/calls/c1/audioRoutingGroups/mb-b",
    );
    assert!(sim.reconciler.handle_notification(sim.now, &updated));
    sim.drain();
    assert!(sim.reconciler.handle_notification(sim.now, &updated));
    sim.drain();
    sim.run();
    assert_eq!(sim.sent_since(mark), ["get mb-b"]);
    converged(&sim);

    // A deletion (legacy /app path), notified twice: one create.
    let mark = sim.sent.len();
    sim.graph.groups.remove("mb-w");
    let deleted = notification("deleted", "app/calls/c1/audioRoutingGroups/mb-w");
    for _ in 0..2 {
        assert!(sim.reconciler.handle_notification(sim.now, &deleted));
        sim.drain();
    }
    sim.run();
    assert_eq!(sim.sent_since(mark), ["create mb-w oneToOne bot->[alice]"]);

    // Foreign groups stay foreign; the collection asks for a list.
    let mark = sim.sent.len();
    let foreign = notification(
        "updated",
        "/communications/calls/c1/audioRoutingGroups/oneToOne",
    );
    assert!(sim.reconciler.handle_notification(sim.now, &foreign));
    let collection = notification("updated", "/communications/calls/c1/audioRoutingGroups");
    assert!(sim.reconciler.handle_notification(sim.now, &collection));
    sim.drain();
    sim.run();
    assert_eq!(sim.sent_since(mark), ["list"]);
    converged(&sim);
}
