//! Test harness: an in-memory Graph that serves routing requests (with injected faults), and a
//! driver that runs a [`Reconciler`] against it on a simulated clock.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use mediabot_routing::{
    Observed, Output, Reconciler, ReconcilerConfig, RequestKind, Route, RouteName, RoutingEvent,
    RoutingReply, RoutingRequest, validate_group,
};
use mediabot_signaling::call::GraphFailure;
use mediabot_signaling::models::{AudioRoutingGroup, ParticipantId, RoutingMode};

/// What the fake Graph does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer this status without applying the request.
    Fail(u16),
    /// Apply the request, then answer 504 (the answer is lost).
    LoseAnswer,
}

type Matcher = Box<dyn Fn(&RequestKind) -> bool>;

/// An in-memory `…/audioRoutingGroups` collection of one call.
#[derive(Default)]
pub(crate) struct FakeGraph {
    pub(crate) groups: BTreeMap<String, AudioRoutingGroup>,
    faults: Vec<(Matcher, Fault)>,
}

impl FakeGraph {
    /// The next request matching `matcher` gets `fault` (once).
    pub(crate) fn inject(
        &mut self,
        matcher: impl Fn(&RequestKind) -> bool + 'static,
        fault: Fault,
    ) {
        self.faults.push((Box::new(matcher), fault));
    }

    /// Drops faults no request has met yet.
    pub(crate) fn clear_faults(&mut self) {
        self.faults.clear();
    }

    pub(crate) fn serve(&mut self, kind: &RequestKind) -> Result<RoutingReply, GraphFailure> {
        let fault = self
            .faults
            .iter()
            .position(|(matcher, _)| matcher(kind))
            .map(|index| self.faults.remove(index).1);
        if let Some(Fault::Fail(status)) = fault {
            return Err(GraphFailure::status(status));
        }
        let result = self.apply(kind);
        if fault == Some(Fault::LoseAnswer) {
            return Err(GraphFailure::status(504));
        }
        result
    }

    fn apply(&mut self, kind: &RequestKind) -> Result<RoutingReply, GraphFailure> {
        match kind {
            RequestKind::List => Ok(RoutingReply::Groups(
                self.groups.values().cloned().collect(),
            )),
            RequestKind::Get { id } => self
                .groups
                .get(id.as_str())
                .cloned()
                .map(RoutingReply::Group)
                .ok_or(GraphFailure::status(404)),
            RequestKind::Create { group } => {
                validate_group(group).map_err(|_| GraphFailure::status(400))?;
                let key = group.id.as_ref().expect("validated").as_str().to_owned();
                if self.groups.contains_key(&key) {
                    return Err(GraphFailure::status(409));
                }
                self.groups.insert(key, group.clone());
                Ok(RoutingReply::Group(group.clone()))
            }
            RequestKind::Update { id, group } => {
                validate_group(group).map_err(|_| GraphFailure::status(400))?;
                let Some(existing) = self.groups.get_mut(id.as_str()) else {
                    return Err(GraphFailure::status(404));
                };
                if existing.routing_mode != group.routing_mode {
                    return Err(GraphFailure::status(400));
                }
                *existing = group.clone();
                Ok(RoutingReply::Group(group.clone()))
            }
            RequestKind::Delete { id } => match self.groups.remove(id.as_str()) {
                Some(_) => Ok(RoutingReply::Deleted),
                None => Err(GraphFailure::status(404)),
            },
            other => panic!("unexpected request {other:?}"),
        }
    }
}

/// A readable one-line form of a request: `list`, `get ID`, `create ID MODE SRC->[R,…]`,
/// `update ID MODE SRC->[R,…]`, `delete ID`.
pub(crate) fn describe(kind: &RequestKind) -> String {
    fn body(group: &AudioRoutingGroup) -> String {
        let mode = match &group.routing_mode {
            Some(RoutingMode::OneToOne) => "oneToOne",
            Some(RoutingMode::Multicast) => "multicast",
            _ => "?",
        };
        let sources: Vec<&str> = group.sources.iter().map(ParticipantId::as_str).collect();
        let receivers: Vec<&str> = group.receivers.iter().map(ParticipantId::as_str).collect();
        format!(
            "{} {mode} {}->[{}]",
            group.id.as_ref().map_or("?", |id| id.as_str()),
            sources.join(","),
            receivers.join(",")
        )
    }
    match kind {
        RequestKind::List => "list".to_owned(),
        RequestKind::Get { id } => format!("get {id}"),
        RequestKind::Create { group } => format!("create {}", body(group)),
        RequestKind::Update { id, group } => {
            assert_eq!(group.id.as_ref(), Some(id), "PATCH body names its group");
            format!("update {}", body(group))
        }
        RequestKind::Delete { id } => format!("delete {id}"),
        other => panic!("unexpected request {other:?}"),
    }
}

pub(crate) fn pid(name: &str) -> ParticipantId {
    ParticipantId::new(name)
}

pub(crate) fn name(name: &str) -> RouteName {
    RouteName::new(name).expect("valid route name")
}

pub(crate) fn whisper(route: &str, source: &str, receiver: &str) -> Route {
    Route::whisper(name(route), pid(source), pid(receiver)).expect("valid whisper")
}

pub(crate) fn broadcast(route: &str, source: &str, receivers: &[&str]) -> Route {
    Route::broadcast(
        name(route),
        pid(source),
        receivers.iter().map(|r| pid(r)).collect(),
    )
    .expect("valid broadcast")
}

pub(crate) fn room(route: &str, members: &[&str]) -> Route {
    Route::private_room(name(route), members.iter().map(|m| pid(m)).collect()).expect("valid room")
}

/// The id the reconciler gives `source`'s group in route `route` (default prefix).
pub(crate) fn room_group(route: &Route, source: &str) -> String {
    route.group_id("mb-", &pid(source)).into_string()
}

/// A reconciler driven against a [`FakeGraph`] on a simulated clock.
pub(crate) struct Sim {
    pub(crate) reconciler: Reconciler,
    pub(crate) graph: FakeGraph,
    pub(crate) start: Instant,
    pub(crate) now: Instant,
    /// Every request the reconciler emitted, described, in order.
    pub(crate) sent: Vec<String>,
    /// Every event, in order.
    pub(crate) events: Vec<RoutingEvent>,
    /// Requests emitted but not yet answered.
    pub(crate) queue: VecDeque<RoutingRequest>,
    /// The last `Output::Timeout`, if the last drain ended with one.
    pub(crate) timeout: Option<Instant>,
}

impl Sim {
    pub(crate) fn new(bot: &str) -> Self {
        Self::with_config(ReconcilerConfig::new(pid(bot)))
    }

    pub(crate) fn with_config(config: ReconcilerConfig) -> Self {
        let start = Instant::now();
        Self {
            reconciler: Reconciler::new(config).expect("valid config"),
            graph: FakeGraph::default(),
            start,
            now: start,
            sent: Vec::new(),
            events: Vec::new(),
            queue: VecDeque::new(),
            timeout: None,
        }
    }

    /// Simulated time since the start.
    pub(crate) fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Drains the reconciler's outputs into `queue`, `sent`, `events` and `timeout`.
    pub(crate) fn drain(&mut self) {
        self.timeout = None;
        while let Some(output) = self.reconciler.poll_output() {
            match output {
                Output::Request(request) => {
                    self.sent.push(describe(&request.kind));
                    self.queue.push_back(request);
                }
                Output::Event(event) => self.events.push(event),
                Output::Timeout(at) => {
                    assert!(at > self.now, "a deadline is always in the future");
                    self.timeout = Some(at);
                    break;
                }
            }
        }
    }

    pub(crate) fn roster(&mut self, ids: &[&str]) {
        self.reconciler
            .handle_roster_ids(self.now, ids.iter().map(|id| pid(id)));
        self.drain();
    }

    /// One participant joined (the incremental roster input).
    pub(crate) fn present(&mut self, id: &str) {
        self.reconciler
            .handle_participant_present(self.now, &pid(id));
        self.drain();
    }

    /// One participant left (the incremental roster input).
    pub(crate) fn gone(&mut self, id: &str) {
        self.reconciler.handle_participant_gone(self.now, &pid(id));
        self.drain();
    }

    pub(crate) fn desire(&mut self, routes: Vec<Route>) {
        self.reconciler
            .set_desired(self.now, routes)
            .expect("valid desired routes");
        self.drain();
    }

    pub(crate) fn observe(&mut self, observed: Observed) {
        self.reconciler.handle_observed(self.now, observed);
        self.drain();
    }

    /// Answers the oldest queued request from the fake Graph.
    pub(crate) fn answer_one(&mut self) -> bool {
        let Some(request) = self.queue.pop_front() else {
            return false;
        };
        let result = self.graph.serve(&request.kind);
        self.reconciler
            .handle_response(self.now, request.id, result);
        self.drain();
        true
    }

    /// Answers requests until none is queued; does not advance time.
    pub(crate) fn answer_all(&mut self) {
        let mut budget = 10_000;
        while self.answer_one() {
            budget -= 1;
            assert!(budget > 0, "the reconciler does not settle");
        }
    }

    /// Answers everything and follows timeouts until nothing is left to do.
    pub(crate) fn run(&mut self) {
        let mut budget = 1_000;
        loop {
            self.answer_all();
            match self.timeout {
                Some(at) => {
                    self.now = at;
                    self.reconciler.handle_timeout(self.now);
                    self.drain();
                }
                None => break,
            }
            budget -= 1;
            assert!(budget > 0, "the reconciler keeps setting timers");
        }
    }

    /// Requests sent since `mark` (an index into `sent`).
    pub(crate) fn sent_since(&self, mark: usize) -> Vec<String> {
        self.sent[mark..].to_vec()
    }

    /// True when the fake Graph holds exactly the groups the reconciler wants (order-insensitive).
    pub(crate) fn graph_matches_wanted(&self) -> bool {
        let wanted = self.reconciler.wanted_groups();
        let owned: Vec<&AudioRoutingGroup> = self
            .graph
            .groups
            .iter()
            .filter(|(id, _)| id.starts_with(&self.reconciler.config().id_prefix))
            .map(|(_, g)| g)
            .collect();
        owned.len() == wanted.len()
            && wanted.iter().all(|w| {
                owned.iter().any(|g| {
                    g.id == w.id
                        && g.routing_mode == w.routing_mode
                        && g.sources == w.sources
                        && g.receivers.len() == w.receivers.len()
                        && g.receivers.iter().all(|r| w.receivers.contains(r))
                })
            })
    }
}

/// xorshift64* — deterministic, no dependency.
pub(crate) struct Prng(pub(crate) u64);

impl Prng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `count` distinct items (fewer if there are not enough).
    pub(crate) fn distinct(&mut self, items: &[String], count: usize) -> Vec<String> {
        let mut pool = items.to_vec();
        let mut out = Vec::new();
        while out.len() < count && !pool.is_empty() {
            out.push(pool.swap_remove(self.below(pool.len())));
        }
        out
    }
}

/// Up to four routes with distinct names (`r0`…`r5`) over `present` (which should hold `bot`):
/// whispers, broadcasts and rooms, the bot the source of most.
pub(crate) fn random_routes(rng: &mut Prng, present: &[String]) -> Vec<Route> {
    let mut routes = Vec::new();
    for index in 0..rng.below(5) {
        let name = RouteName::new(format!("r{}", rng.below(6))).unwrap();
        if routes.iter().any(|r: &Route| r.name() == &name) {
            continue;
        }
        let source = if rng.chance(60) {
            "bot".to_owned()
        } else {
            rng.pick(present).clone()
        };
        let others: Vec<String> = present.iter().filter(|p| **p != source).cloned().collect();
        if others.is_empty() {
            continue;
        }
        let route = match (index + rng.below(3)) % 3 {
            0 => Route::whisper(name, pid(&source), pid(rng.pick(&others).as_str())),
            1 => {
                let count = 1 + rng.below(4);
                let receivers = rng
                    .distinct(&others, count)
                    .iter()
                    .map(|r| pid(r))
                    .collect();
                Route::broadcast(name, pid(&source), receivers)
            }
            _ => {
                let count = 2 + rng.below(3);
                let members = rng
                    .distinct(present, count)
                    .iter()
                    .map(|m| pid(m))
                    .collect();
                Route::private_room(name, members)
            }
        };
        if let Ok(route) = route {
            routes.push(route);
        }
    }
    routes
}
