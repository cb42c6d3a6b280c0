//! Incremental roster input: joins and leaves one at a time (`handle_participant_present`,
//! `handle_participant_gone`) must do exactly what a full roster snapshot after each change does,
//! and keep doing it in a meeting of thousands.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Fault, Prng, Sim, broadcast, name, pid, random_routes, room, room_group, whisper};
use mediabot_routing::{RequestKind, RouteError, RouteStatus, RoutingEvent};

fn converged(sim: &Sim) {
    assert!(sim.queue.is_empty(), "requests left: {:?}", sim.queue);
    assert!(sim.timeout.is_none(), "timer left: {:?}", sim.timeout);
    assert!(sim.reconciler.is_converged(), "not converged");
    assert!(sim.graph_matches_wanted(), "Graph {:?}", sim.graph.groups);
}

/// `(route, participant, was_source)` of every `ParticipantLeft` since event `mark`.
fn left_since(sim: &Sim, mark: usize) -> Vec<(String, String, bool)> {
    sim.events[mark..]
        .iter()
        .filter_map(|e| match e {
            RoutingEvent::ParticipantLeft {
                route,
                participant,
                was_source,
            } => Some((
                route.to_string(),
                participant.as_str().to_owned(),
                *was_source,
            )),
            _ => None,
        })
        .collect()
}

/// bot, alice, bob and carol (a snapshot); a whisper to bob, a broadcast to alice and bob and a
/// room of alice, bob and the bot, converged.
fn converged_three_routes() -> Sim {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice", "bob", "carol"]);
    sim.desire(vec![
        whisper("w", "bot", "bob"),
        broadcast("b", "bot", &["alice", "bob"]),
        room("lounge", &["alice", "bob", "bot"]),
    ]);
    sim.run();
    converged(&sim);
    sim
}

#[test]
fn a_leave_prunes_deletes_and_reports_once_per_route() {
    let mut sim = converged_three_routes();
    let lounge = room("lounge", &["alice", "bob", "bot"]);
    let (mark, events_mark) = (sim.sent.len(), sim.events.len());

    sim.gone("bob");
    assert_eq!(
        left_since(&sim, events_mark),
        [
            ("w".to_owned(), "bob".to_owned(), false),
            ("b".to_owned(), "bob".to_owned(), false),
            ("lounge".to_owned(), "bob".to_owned(), true),
        ]
    );
    sim.run();

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
    assert_eq!(
        sim.reconciler.route_status(&name("w")),
        Some(RouteStatus::Dormant)
    );
}

#[test]
fn a_join_brings_back_the_groups_of_a_returning_participant() {
    let mut sim = converged_three_routes();
    sim.gone("bob");
    sim.run();
    let mark = sim.sent.len();

    sim.present("bob");
    sim.run();

    assert_eq!(sim.sent_since(mark).len(), 5, "{:?}", sim.sent_since(mark));
    converged(&sim);
    for route in ["w", "b", "lounge"] {
        assert_eq!(
            sim.reconciler.route_status(&name(route)),
            Some(RouteStatus::Active)
        );
    }
}

#[test]
fn changes_of_participants_no_route_names_send_and_report_nothing() {
    let mut sim = converged_three_routes();
    let (mark, events_mark) = (sim.sent.len(), sim.events.len());

    sim.present("dave");
    sim.gone("carol");
    sim.gone("dave");
    sim.present("carol");
    sim.run();

    assert!(
        sim.sent_since(mark).is_empty(),
        "{:?}",
        sim.sent_since(mark)
    );
    assert!(
        sim.events[events_mark..].is_empty(),
        "{:?}",
        &sim.events[events_mark..]
    );
    converged(&sim);
}

#[test]
fn repeating_a_change_changes_nothing() {
    let mut sim = converged_three_routes();
    let events_mark = sim.events.len();
    sim.gone("bob");
    sim.run();
    let mark = sim.sent.len();

    sim.gone("bob");
    sim.run();
    assert!(
        sim.sent_since(mark).is_empty(),
        "{:?}",
        sim.sent_since(mark)
    );
    assert_eq!(
        left_since(&sim, events_mark).len(),
        3,
        "one per route, once"
    );

    sim.present("bob");
    sim.run();
    let mark = sim.sent.len();
    sim.present("bob");
    sim.run();
    assert!(
        sim.sent_since(mark).is_empty(),
        "{:?}",
        sim.sent_since(mark)
    );
    converged(&sim);
}

#[test]
fn the_bot_leaving_the_roster_changes_nothing() {
    let mut sim = converged_three_routes();
    let (mark, events_mark) = (sim.sent.len(), sim.events.len());

    sim.gone("bot");
    sim.run();

    assert!(
        sim.sent_since(mark).is_empty(),
        "{:?}",
        sim.sent_since(mark)
    );
    assert!(
        sim.events[events_mark..].is_empty(),
        "the bot always counts as present: {:?}",
        &sim.events[events_mark..]
    );
    converged(&sim);
}

#[test]
fn joins_before_any_snapshot_build_the_roster_from_empty() {
    let mut sim = Sim::new("bot");
    sim.present("bot");
    sim.present("alice");
    sim.desire(vec![whisper("w", "bot", "alice")]);
    sim.run();
    assert_eq!(sim.sent, ["list", "create mb-w oneToOne bot->[alice]"]);
    converged(&sim);

    let error = sim
        .reconciler
        .set_desired(sim.now, vec![whisper("w", "bot", "bob")])
        .unwrap_err();
    assert_eq!(
        error,
        RouteError::NotInRoster {
            route: "w".to_owned(),
            participant: pid("bob"),
        }
    );
}

#[test]
fn a_leave_before_any_snapshot_makes_the_roster_known_and_empty() {
    let mut sim = Sim::new("bot");
    sim.gone("alice");
    let error = sim
        .reconciler
        .set_desired(sim.now, vec![whisper("w", "bot", "alice")])
        .unwrap_err();
    assert!(
        matches!(error, RouteError::NotInRoster { .. }),
        "not RosterUnknown: {error:?}"
    );
    assert!(left_since(&sim, 0).is_empty());
}

/// Two reconcilers on one simulated clock, each against its own fake Graph: one is told about the
/// roster change by change, the other gets a full snapshot after every change.
struct Twins {
    changes: Sim,
    snapshots: Sim,
    roster: BTreeSet<String>,
}

impl Twins {
    fn new() -> Self {
        let changes = Sim::new("bot");
        let mut snapshots = Sim::new("bot");
        snapshots.start = changes.start;
        snapshots.now = changes.now;
        Self {
            changes,
            snapshots,
            roster: BTreeSet::new(),
        }
    }

    fn both(&mut self, mut input: impl FnMut(&mut Sim)) {
        input(&mut self.changes);
        input(&mut self.snapshots);
    }

    fn snapshot_both(&mut self) {
        let ids: Vec<String> = self.roster.iter().cloned().collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.both(|sim| sim.roster(&ids));
    }

    fn present(&mut self, who: &str) {
        self.roster.insert(who.to_owned());
        self.changes.present(who);
        self.snapshots
            .reconciler
            .handle_roster_ids(self.snapshots.now, self.roster.iter().map(|id| pid(id)));
        self.snapshots.drain();
    }

    fn gone(&mut self, who: &str) {
        self.roster.remove(who);
        self.changes.gone(who);
        self.snapshots
            .reconciler
            .handle_roster_ids(self.snapshots.now, self.roster.iter().map(|id| pid(id)));
        self.snapshots.drain();
    }

    fn assert_same(&self, seed: u64, step: usize) {
        let (a, b) = (&self.changes, &self.snapshots);
        assert_eq!(a.sent, b.sent, "seed {seed} step {step}: requests");
        assert_eq!(a.events, b.events, "seed {seed} step {step}: events");
        assert_eq!(a.timeout, b.timeout, "seed {seed} step {step}: deadline");
        assert_eq!(
            a.reconciler.wanted_groups(),
            b.reconciler.wanted_groups(),
            "seed {seed} step {step}: wanted groups"
        );
        assert_eq!(
            a.reconciler.is_converged(),
            b.reconciler.is_converged(),
            "seed {seed} step {step}: convergence"
        );
    }
}

/// p0…p11 and the bot come and go (repeats included); routes over whoever is present change now
/// and then; Graph answers in bursts, sometimes fails, and time passes.
fn differential(seed: u64, steps: usize) -> (usize, usize) {
    let mut rng = Prng(seed);
    let mut twins = Twins::new();
    if rng.chance(50) {
        // Half the runs start from a snapshot, the others from nothing but joins.
        twins.roster = (0..12)
            .filter(|_| rng.chance(60))
            .map(|i| format!("p{i}"))
            .chain(["bot".to_owned()])
            .collect();
        twins.snapshot_both();
    }
    for step in 0..steps {
        match rng.below(100) {
            0..45 => {
                let who = if rng.chance(10) {
                    "bot".to_owned()
                } else {
                    format!("p{}", rng.below(12))
                };
                if rng.chance(50) {
                    twins.present(&who);
                } else {
                    twins.gone(&who);
                }
            }
            45..60 => {
                let mut present: Vec<String> = twins.roster.iter().cloned().collect();
                if !present.contains(&"bot".to_owned()) {
                    present.push("bot".to_owned());
                }
                let routes = random_routes(&mut rng, &present);
                let now = twins.changes.now;
                let a = twins.changes.reconciler.set_desired(now, routes.clone());
                let b = twins.snapshots.reconciler.set_desired(now, routes);
                assert_eq!(a, b, "seed {seed} step {step}: set_desired");
                twins.both(Sim::drain);
            }
            60..80 => {
                for _ in 0..1 + rng.below(4) {
                    let a = twins.changes.answer_one();
                    let b = twins.snapshots.answer_one();
                    assert_eq!(a, b, "seed {seed} step {step}: queues");
                }
            }
            80..88 => {
                let later = twins.changes.now + Duration::from_millis(rng.below(3_000) as u64);
                twins.both(|sim| {
                    sim.now = later;
                    sim.reconciler.handle_timeout(later);
                    sim.drain();
                });
            }
            88..93 => {
                let fault = *rng.pick(&[
                    Fault::Fail(503),
                    Fault::Fail(400),
                    Fault::Fail(404),
                    Fault::LoseAnswer,
                ]);
                let kind = rng.below(3);
                twins.both(|sim| {
                    sim.graph.inject(
                        move |k| match kind {
                            0 => matches!(k, RequestKind::Create { .. }),
                            1 => matches!(k, RequestKind::Update { .. }),
                            _ => matches!(k, RequestKind::Delete { .. }),
                        },
                        fault,
                    );
                });
            }
            93..96 => twins.snapshot_both(),
            _ => twins.both(Sim::run),
        }
        twins.assert_same(seed, step);
    }
    twins.both(|sim| {
        sim.graph.clear_faults();
        sim.run();
    });
    twins.assert_same(seed, steps);
    let left = left_since(&twins.changes, 0).len();
    let requests = twins.changes.sent.len();
    (left, requests)
}

#[test]
fn changes_one_by_one_match_a_snapshot_after_each_change() {
    let (mut left, mut requests) = (0, 0);
    for seed in [1_u64, 2, 3, 5, 8, 13, 21, 34] {
        let (l, r) = differential(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), 400);
        left += l;
        requests += r;
    }
    // The runs must actually exercise departures and group requests.
    assert!(left > 50, "only {left} ParticipantLeft events");
    assert!(requests > 200, "only {requests} requests");
}

#[test]
fn five_thousand_present_and_500_changes_with_three_routes() {
    const ROSTER: usize = 5_000;
    let mut sim = Sim::new("bot");
    // The bot's roster starts from nothing: the meeting arrives as joins.
    sim.present("bot");
    for i in 0..ROSTER {
        sim.present(&format!("p{i}"));
    }
    sim.run();
    let receivers: Vec<String> = (2..=9).map(|i| format!("p{i}")).collect();
    let receivers: Vec<&str> = receivers.iter().map(String::as_str).collect();
    sim.desire(vec![
        whisper("w", "bot", "p1"),
        broadcast("b", "bot", &receivers),
        room("lounge", &["p10", "p11", "p12", "bot"]),
    ]);
    sim.run();
    converged(&sim);
    assert_eq!(
        sim.sent.len(),
        1 + 1 + 1 + 4,
        "list, w, b, four room groups"
    );

    let named = |i: usize| (1..=12).contains(&i);
    let mut present = vec![true; ROSTER];
    let mut rng = Prng(0x5eed_0fc4_u64);
    let mut leaves_reported = 0;
    for change in 0..500 {
        // Three in ten changes hit someone a route names; the rest are the meeting's churn.
        let i = if rng.chance(30) {
            1 + rng.below(12)
        } else {
            rng.below(ROSTER)
        };
        let who = format!("p{i}");
        let (mark, events_mark) = (sim.sent.len(), sim.events.len());
        if present[i] {
            sim.gone(&who);
        } else {
            sim.present(&who);
        }
        present[i] = !present[i];

        let left = left_since(&sim, events_mark);
        if named(i) && !present[i] {
            assert_eq!(left.len(), 1, "change {change}: {left:?}");
            assert_eq!(left[0].1, who);
            leaves_reported += 1;
        } else {
            assert!(left.is_empty(), "change {change}: {left:?}");
        }
        if !named(i) {
            assert!(
                sim.sent_since(mark).is_empty(),
                "change {change}: {who} is in no route: {:?}",
                sim.sent_since(mark)
            );
        }
        sim.run();
        converged(&sim);
    }
    assert!(leaves_reported > 20, "only {leaves_reported} route leaves");

    let active = |here: bool| {
        Some(if here {
            RouteStatus::Active
        } else {
            RouteStatus::Dormant
        })
    };
    assert_eq!(sim.reconciler.route_status(&name("w")), active(present[1]));
    assert_eq!(
        sim.reconciler.route_status(&name("b")),
        active(present[2..=9].iter().any(|p| *p))
    );
    assert_eq!(
        sim.reconciler.route_status(&name("lounge")),
        active(present[10..=12].iter().any(|p| *p))
    );

    // A full snapshot of the same roster agrees with what the changes built: nothing to do.
    let (mark, events_mark) = (sim.sent.len(), sim.events.len());
    let ids: Vec<String> = (0..ROSTER)
        .filter(|i| present[*i])
        .map(|i| format!("p{i}"))
        .chain(["bot".to_owned()])
        .collect();
    sim.roster(&ids.iter().map(String::as_str).collect::<Vec<_>>());
    sim.run();
    assert!(
        sim.sent_since(mark).is_empty(),
        "{:?}",
        sim.sent_since(mark)
    );
    assert!(
        sim.events[events_mark..].is_empty(),
        "{:?}",
        &sim.events[events_mark..]
    );
    converged(&sim);
}
