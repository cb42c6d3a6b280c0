//! Invalid intent fails early with an error naming the route and the participant; groups are
//! checked against Graph's rules, using Microsoft's own examples.

mod common;

use std::path::PathBuf;

use common::{Sim, broadcast, name, pid, room, whisper};
use mediabot_routing::{
    Reconciler, ReconcilerConfig, Route, RouteError, RouteName, RouteShape, validate_group,
};
use mediabot_signaling::models::{AudioRoutingGroup, AudioRoutingGroupId, RoutingMode};

fn example(file: &str) -> AudioRoutingGroup {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/graph-examples")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn route_names_are_short_url_safe_and_non_empty() {
    assert!(RouteName::new("whisper-to_alice-2").is_ok());
    for bad in [
        "",
        "with space",
        "dot.ted",
        "slash/",
        "ünï",
        &"x".repeat(49),
    ] {
        let error = RouteName::new(bad).unwrap_err();
        assert!(
            matches!(&error, RouteError::InvalidName { name, .. } if name == bad),
            "{bad:?}: {error}"
        );
    }
    assert!(RouteName::new("x".repeat(48)).is_ok());
}

#[test]
fn whisper_to_oneself_is_refused() {
    let error = Route::whisper(name("w"), pid("bot"), pid("bot")).unwrap_err();
    assert_eq!(
        error,
        RouteError::SourceIsReceiver {
            route: "w".to_owned(),
            participant: pid("bot"),
        }
    );
    assert_eq!(
        error.to_string(),
        "route w: participant bot is both source and receiver"
    );
}

#[test]
fn broadcast_needs_distinct_receivers_other_than_its_source() {
    assert_eq!(
        Route::broadcast(name("b"), pid("bot"), vec![]).unwrap_err(),
        RouteError::NoReceivers {
            route: "b".to_owned()
        }
    );
    assert_eq!(
        Route::broadcast(name("b"), pid("bot"), vec![pid("a"), pid("bot")]).unwrap_err(),
        RouteError::SourceIsReceiver {
            route: "b".to_owned(),
            participant: pid("bot"),
        }
    );
    // The same GUID in two spellings is the same participant.
    assert_eq!(
        Route::broadcast(
            name("b"),
            pid("bot"),
            vec![
                pid("550fae72-d251-43ec-868c-373732c2704f"),
                pid("550FAE72D25143EC868C373732C2704F"),
            ]
        )
        .unwrap_err(),
        RouteError::DuplicateParticipant {
            route: "b".to_owned(),
            participant: pid("550FAE72D25143EC868C373732C2704F"),
        }
    );
}

#[test]
fn a_room_needs_two_distinct_members() {
    assert_eq!(
        Route::private_room(name("r"), vec![pid("bot")]).unwrap_err(),
        RouteError::RoomTooSmall {
            route: "r".to_owned(),
            members: 1
        }
    );
    assert!(matches!(
        Route::private_room(name("r"), vec![pid("a"), pid("a")]).unwrap_err(),
        RouteError::DuplicateParticipant { .. }
    ));
    let r = room("r", &["a", "bot"]);
    assert!(matches!(r.shape(), RouteShape::Room { members } if members.len() == 2));
    assert!(r.is_source(&pid("a")) && r.is_source(&pid("bot")));
}

#[test]
fn desired_sets_need_unique_names_and_participants_in_the_roster() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice", "bob"]);
    let error = sim
        .reconciler
        .set_desired(
            sim.now,
            vec![
                whisper("x", "bot", "alice"),
                broadcast("x", "bot", &["bob"]),
            ],
        )
        .unwrap_err();
    assert_eq!(
        error,
        RouteError::DuplicateRoute {
            route: "x".to_owned()
        }
    );

    let error = sim
        .reconciler
        .set_desired(sim.now, vec![whisper("w", "bot", "mallory")])
        .unwrap_err();
    assert_eq!(
        error,
        RouteError::NotInRoster {
            route: "w".to_owned(),
            participant: pid("mallory"),
        }
    );
    assert_eq!(
        error.to_string(),
        "route w: participant mallory is not in the call"
    );

    // A refused set changes nothing: the earlier (empty) intent stands, no request goes out.
    sim.drain();
    sim.run();
    assert_eq!(sim.sent, ["list"]);
    assert!(sim.reconciler.routes().is_empty());

    // upsert_route checks the same way and keeps the other routes.
    sim.reconciler
        .upsert_route(sim.now, whisper("w", "bot", "alice"))
        .unwrap();
    assert!(
        sim.reconciler
            .upsert_route(sim.now, whisper("w2", "bot", "nobody"))
            .is_err()
    );
    sim.reconciler
        .upsert_route(sim.now, whisper("w", "bot", "bob"))
        .unwrap();
    assert_eq!(sim.reconciler.routes(), [whisper("w", "bot", "bob")]);
}

#[test]
fn the_id_prefix_is_checked() {
    let mut config = ReconcilerConfig::new(pid("bot"));
    config.id_prefix = "my.bot/".to_owned();
    assert!(matches!(
        Reconciler::new(config.clone()).unwrap_err(),
        RouteError::InvalidPrefix { .. }
    ));
    config.id_prefix = "x".repeat(17);
    assert!(Reconciler::new(config.clone()).is_err());
    config.id_prefix = "team7_".to_owned();
    assert!(Reconciler::new(config).is_ok());
}

#[test]
fn group_ids_are_deterministic_unique_and_stable_under_membership_changes() {
    let big = room("r", &["a", "b", "c", "bot"]);
    let small = room("r", &["bot", "c"]);
    assert_eq!(
        big.group_id("mb-", &pid("c")),
        small.group_id("mb-", &pid("c"))
    );
    assert_ne!(
        big.group_id("mb-", &pid("a")),
        big.group_id("mb-", &pid("b"))
    );
    let id = big.group_id("mb-", &pid("a"));
    assert!(id.as_str().starts_with("mb-r."), "{id}");
    assert_eq!(id.as_str().len(), "mb-r.".len() + 12);
    // Both spellings of a GUID participant give the same group.
    let guid = room("g", &["632899f8-2ea1-4604-8413-27bd2892079f", "bot"]);
    assert_eq!(
        guid.group_id("mb-", &pid("632899f8-2ea1-4604-8413-27bd2892079f")),
        guid.group_id("mb-", &pid("{632899F8-2EA1-4604-8413-27BD2892079F}"))
    );
    assert_eq!(
        whisper("w", "bot", "a").group_id("mb-", &pid("bot")),
        AudioRoutingGroupId::new("mb-w")
    );
}

#[test]
fn every_group_the_reconciler_wants_obeys_graphs_rules() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "a", "b", "c"]);
    sim.desire(vec![
        whisper("w", "bot", "a"),
        broadcast("b", "a", &["b", "c", "bot"]),
        room("r", &["a", "b", "c", "bot"]),
        room("pair", &["c", "bot"]),
    ]);
    let wanted = sim.reconciler.wanted_groups();
    assert_eq!(wanted.len(), 1 + 1 + 4 + 2);
    for group in &wanted {
        validate_group(group).unwrap();
    }
}

#[test]
fn microsofts_create_examples_are_valid_groups() {
    for file in [
        "audioroutinggroup-create-one-to-one-request.json",
        "audioroutinggroup-create-multicast-request.json",
        "audioroutinggroup-create-multicast-response.json",
    ] {
        validate_group(&example(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn the_docs_get_example_breaks_the_one_to_one_rule() {
    // Graph's own get/update examples show a oneToOne group with two receivers.
    let group = example("audioroutinggroup-get-response.json");
    assert_eq!(group.routing_mode, Some(RoutingMode::OneToOne));
    assert_eq!(
        validate_group(&group).unwrap_err(),
        RouteError::InvalidGroup {
            id: Some(AudioRoutingGroupId::new("oneToOne")),
            reason: "oneToOne has exactly one receiver",
        }
    );
}

#[test]
fn groups_breaking_graphs_rules_are_named() {
    let valid = example("audioroutinggroup-create-multicast-request.json");
    let reason = |mutate: fn(&mut AudioRoutingGroup)| {
        let mut group = valid.clone();
        mutate(&mut group);
        match validate_group(&group).unwrap_err() {
            RouteError::InvalidGroup { reason, .. } => reason,
            other => panic!("unexpected {other}"),
        }
    };
    assert_eq!(reason(|g| g.id = None), "no id (the client chooses it)");
    assert_eq!(
        reason(|g| g.id = Some(AudioRoutingGroupId::new("a/b"))),
        "the id must be non-empty [A-Za-z0-9_.-]"
    );
    assert_eq!(
        reason(|g| g.sources.push(g.receivers[0].clone())),
        "a group has exactly one source"
    );
    assert_eq!(
        reason(|g| g.sources.clear()),
        "a group has exactly one source"
    );
    assert_eq!(
        reason(|g| g.receivers.clear()),
        "multicast has at least one receiver"
    );
    assert_eq!(
        reason(|g| g.receivers.push(g.receivers[0].clone())),
        "a receiver is listed twice"
    );
    assert_eq!(
        reason(|g| g.receivers.push(g.sources[0].clone())),
        "the source is also a receiver"
    );
    assert_eq!(
        reason(|g| g.routing_mode = Some(RoutingMode::Unknown("broadcast".into()))),
        "routingMode must be oneToOne or multicast"
    );
    assert_eq!(
        reason(|g| g.routing_mode = None),
        "routingMode must be oneToOne or multicast"
    );
}

#[test]
fn restating_a_route_whose_participant_left_is_not_an_error() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice", "bob"]);
    sim.desire(vec![whisper("w", "bot", "alice")]);
    sim.run();
    sim.roster(&["bot", "bob"]);
    sim.run();
    // alice left: the whisper is dormant, but adding another route (which re-states the whole
    // set) still works, and the dormant route stays declared.
    sim.reconciler
        .upsert_route(sim.now, whisper("w2", "bot", "bob"))
        .unwrap();
    assert_eq!(sim.reconciler.routes().len(), 2);
    // A changed route is checked again.
    assert!(matches!(
        sim.reconciler
            .upsert_route(sim.now, broadcast("w", "bot", &["alice", "bob"]))
            .unwrap_err(),
        RouteError::NotInRoster { .. }
    ));
}
