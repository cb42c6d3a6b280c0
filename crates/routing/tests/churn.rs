//! Property-style churn: random rosters, random intents, random Graph faults, drift and
//! duplicated or reordered notifications and answers, driven by a tiny deterministic PRNG. After
//! every round the reconciler must converge to exactly the wanted groups, and rounds without
//! faults or drift must cost exactly the minimal request set.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Fault, Prng, Sim, pid, random_routes};
use mediabot_routing::{Observed, RequestKind, RoutingEvent};
use mediabot_signaling::models::AudioRoutingGroup;

const PEOPLE: [&str; 8] = ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"];

fn random_roster(rng: &mut Prng) -> Vec<String> {
    let mut roster = vec!["bot".to_owned()];
    roster.extend(
        PEOPLE
            .iter()
            .filter(|_| rng.chance(70))
            .map(|p| (*p).to_owned()),
    );
    roster
}

/// The minimal number of requests that turn Graph's owned groups into the wanted ones.
fn minimal_requests(
    graph: &BTreeMap<String, AudioRoutingGroup>,
    wanted: &[AudioRoutingGroup],
) -> usize {
    let same = |a: &AudioRoutingGroup, b: &AudioRoutingGroup| {
        a.routing_mode == b.routing_mode
            && a.sources == b.sources
            && a.receivers.len() == b.receivers.len()
            && a.receivers.iter().all(|r| b.receivers.contains(r))
    };
    let mut count = 0;
    for want in wanted {
        let id = want.id.as_ref().unwrap().as_str();
        count += match graph.get(id) {
            None => 1,
            Some(have) if same(have, want) => 0,
            Some(have) if have.routing_mode == want.routing_mode => 1,
            Some(_) => 2,
        };
    }
    count
        + graph
            .keys()
            .filter(|id| id.starts_with("mb-"))
            .filter(|id| {
                !wanted
                    .iter()
                    .any(|w| w.id.as_ref().unwrap().as_str() == *id)
            })
            .count()
}

/// Serves queued requests and delivers their answers in random interleavings (Graph applies a
/// request when it serves it; the answer may come back much later, after other answers), some
/// answers twice, following timers, until idle.
fn drive(sim: &mut Sim, rng: &mut Prng) {
    let mut served = Vec::new();
    let mut budget = 100_000;
    loop {
        while !sim.queue.is_empty() || !served.is_empty() {
            // One request in flight per group, and at most one list.
            let mut in_flight: Vec<String> = sim
                .queue
                .iter()
                .map(|r| &r.kind)
                .chain(served.iter().map(|(_, kind, _)| kind))
                .map(|kind| {
                    kind.group_id()
                        .map_or("list".to_owned(), |id| id.to_string())
                })
                .collect();
            let total = in_flight.len();
            in_flight.sort();
            in_flight.dedup();
            assert_eq!(
                in_flight.len(),
                total,
                "two requests in flight for one group"
            );
            if !sim.queue.is_empty() && (served.is_empty() || rng.chance(50)) {
                let index = rng.below(sim.queue.len());
                let request = sim.queue.remove(index).unwrap();
                let result = sim.graph.serve(&request.kind);
                served.push((request.id, request.kind, result));
            } else {
                let (id, _, result) = served.swap_remove(rng.below(served.len()));
                if rng.chance(5) {
                    // A duplicated answer (a retrying proxy): must be ignored the second time.
                    sim.reconciler.handle_response(sim.now, id, result.clone());
                }
                sim.reconciler.handle_response(sim.now, id, result);
                sim.drain();
            }
            budget -= 1;
            assert!(budget > 0, "no convergence");
        }
        match sim.timeout {
            Some(at) => {
                sim.now = at;
                sim.reconciler.handle_timeout(sim.now);
                sim.drain();
            }
            None => return,
        }
    }
}

fn churn(seed: u64, rounds: usize) {
    let mut rng = Prng(seed);
    let mut sim = Sim::new("bot");
    let mut roster = random_roster(&mut rng);
    sim.roster(&roster.iter().map(String::as_str).collect::<Vec<_>>());
    let mut minimal_rounds = 0;

    for round in 0..rounds {
        let faulty = rng.chance(30);
        let drift = !faulty && rng.chance(15);
        if faulty {
            for _ in 0..1 + rng.below(4) {
                let fault = match rng.below(4) {
                    0 => Fault::Fail(503),
                    1 => Fault::Fail(429),
                    2 => Fault::Fail(500),
                    _ => Fault::LoseAnswer,
                };
                let kind = rng.below(4);
                sim.graph.inject(
                    move |k| match kind {
                        0 => matches!(k, RequestKind::Create { .. }),
                        1 => matches!(k, RequestKind::Update { .. }),
                        2 => matches!(k, RequestKind::Delete { .. }),
                        _ => true,
                    },
                    fault,
                );
            }
        }
        if drift {
            // Someone else changes or deletes one of our groups; Graph may notify it, maybe twice.
            let ids: Vec<String> = sim.graph.groups.keys().cloned().collect();
            if !ids.is_empty() {
                let id = rng.pick(&ids).clone();
                let notify = rng.chance(70);
                if rng.chance(50) {
                    sim.graph.groups.remove(&id);
                    if notify {
                        let gone = mediabot_signaling::models::AudioRoutingGroupId::new(&id);
                        sim.observe(Observed::Removed(gone.clone()));
                        sim.observe(Observed::Removed(gone));
                    }
                } else {
                    let group = sim.graph.groups.get_mut(&id).unwrap();
                    group.receivers.reverse();
                    group.receivers.truncate(1);
                    let changed = group.clone();
                    if notify {
                        sim.observe(Observed::Upserted(changed.clone()));
                        sim.observe(Observed::Upserted(changed));
                    }
                }
                if !notify {
                    sim.reconciler.request_resync(sim.now);
                    sim.drain();
                }
            }
        }

        let mark = sim.sent.len();
        let graph_before = sim.graph.groups.clone();
        // Both inputs before one drain: they cost one minimal request set together.
        if rng.chance(50) {
            roster = random_roster(&mut rng);
            sim.reconciler
                .handle_roster_ids(sim.now, roster.iter().map(|p| pid(p)));
        }
        if rng.chance(60) {
            let routes = random_routes(&mut rng, &roster);
            sim.reconciler
                .set_desired(sim.now, routes)
                .unwrap_or_else(|e| panic!("seed {seed} round {round}: {e}"));
        }
        sim.drain();
        if rng.chance(25) {
            // A resync list racing the round's changes (answers come back in random order).
            sim.reconciler.request_resync(sim.now);
            sim.drain();
        }
        if rng.chance(10) {
            // A duplicate of the current roster snapshot.
            sim.roster(&roster.iter().map(String::as_str).collect::<Vec<_>>());
        }
        sim.now += Duration::from_millis(rng.below(5_000) as u64);
        sim.reconciler.handle_timeout(sim.now);
        sim.drain();
        drive(&mut sim, &mut rng);
        sim.graph.clear_faults();

        assert!(
            sim.reconciler.is_converged(),
            "seed {seed} round {round}: not converged"
        );
        assert!(
            sim.graph_matches_wanted(),
            "seed {seed} round {round}: Graph {:?} wanted {:?}",
            sim.graph.groups,
            sim.reconciler.wanted_groups()
        );
        if !faulty && !drift {
            let wanted = sim.reconciler.wanted_groups();
            let group_requests = sim.sent[mark..].iter().filter(|r| *r != "list").count();
            assert_eq!(
                group_requests,
                minimal_requests(&graph_before, &wanted),
                "seed {seed} round {round}: {:?}",
                sim.sent_since(mark)
            );
            minimal_rounds += 1;
        }
        assert!(
            !sim.events
                .iter()
                .any(|e| matches!(e, RoutingEvent::RequestFailed { retry_at: None, .. })),
            "seed {seed} round {round}: a request was refused: {:?}",
            sim.events
        );
    }
    assert!(minimal_rounds > rounds / 3, "too few clean rounds checked");
}

#[test]
fn random_churn_always_converges_with_minimal_requests() {
    for seed in 1..=24_u64 {
        churn(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), 200);
    }
}
