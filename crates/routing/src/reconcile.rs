//! The sans-IO reconciler: desired [`Route`]s and the call's roster on one side, the groups Graph
//! holds on the other, and the fewest `audioRoutingGroup` requests that make them agree.
//!
//! See the [crate docs](crate) for the run loop, the time model and the request rules.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use mediabot_signaling::call::GraphFailure;
use mediabot_signaling::client::GraphResponse;
use mediabot_signaling::models::{
    AudioRoutingGroup, AudioRoutingGroupId, CallResource, ChangeType, CommsNotification,
    ODataCollection, Participant, ParticipantId,
};

use crate::route::{Route, RouteError, RouteName, TargetGroup, check_prefix};

/// Tunables of a [`Reconciler`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcilerConfig {
    /// The bot's own participant id (`call.myParticipantId`): always counted as present.
    pub bot: ParticipantId,
    /// Prefix of every group id this reconciler chooses; groups whose id starts with it are
    /// *owned* (created, updated and deleted at will), all others are left alone. Default `mb-`.
    /// At most 16 bytes of `[A-Za-z0-9_-]`; empty means "own every group of the call".
    pub id_prefix: String,
    /// Backoff after the first failure of a request. Default 1 s. Doubles per further failure.
    pub retry_base: Duration,
    /// Longest backoff. Default 30 s.
    pub retry_max: Duration,
    /// Skip the initial `GET …/audioRoutingGroups`: only right when the call is brand new (the bot
    /// created or answered it), so Graph cannot hold groups yet. Default `false`.
    pub assume_empty: bool,
    /// List the call's groups again this long after the last successful list, to catch changes
    /// nobody notified (Graph documents no notifications for routing groups). Default `None`.
    pub resync_interval: Option<Duration>,
}

impl ReconcilerConfig {
    /// Defaults for a bot with participant id `bot`.
    pub fn new(bot: ParticipantId) -> Self {
        Self {
            bot,
            id_prefix: "mb-".to_owned(),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            assume_empty: false,
            resync_interval: None,
        }
    }
}

/// Identifies one request a [`Reconciler`] emitted; hand it back to
/// [`Reconciler::handle_response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "routing#{}", self.0)
    }
}

/// One Graph request for the driver to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingRequest {
    /// Hand this back with the result.
    pub id: RequestId,
    /// What to send.
    pub kind: RequestKind,
}

/// The Graph request to make (reference §4.23); each maps onto one `GraphClient` method.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestKind {
    /// `GET …/audioRoutingGroups` (`list_audio_routing_groups`) → [`RoutingReply::Groups`].
    List,
    /// `GET …/audioRoutingGroups/{id}` (`get_audio_routing_group`) → [`RoutingReply::Group`].
    Get {
        /// The group.
        id: AudioRoutingGroupId,
    },
    /// `POST …/audioRoutingGroups` (`create_audio_routing_group`) → [`RoutingReply::Group`].
    Create {
        /// The whole group, id included.
        group: AudioRoutingGroup,
    },
    /// `PATCH …/audioRoutingGroups/{id}` (`update_audio_routing_group`) → [`RoutingReply::Group`].
    /// The body is the whole desired object, as in the docs' example.
    Update {
        /// The group.
        id: AudioRoutingGroupId,
        /// The body.
        group: AudioRoutingGroup,
    },
    /// `DELETE …/audioRoutingGroups/{id}` (`delete_audio_routing_group`) →
    /// [`RoutingReply::Deleted`] (204).
    Delete {
        /// The group.
        id: AudioRoutingGroupId,
    },
}

impl RequestKind {
    /// A short stable name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::List => "listAudioRoutingGroups",
            Self::Get { .. } => "getAudioRoutingGroup",
            Self::Create { .. } => "createAudioRoutingGroup",
            Self::Update { .. } => "updateAudioRoutingGroup",
            Self::Delete { .. } => "deleteAudioRoutingGroup",
        }
    }

    /// The group the request is about (`None` for [`RequestKind::List`]).
    pub fn group_id(&self) -> Option<&AudioRoutingGroupId> {
        match self {
            Self::List => None,
            Self::Get { id } | Self::Update { id, .. } | Self::Delete { id } => Some(id),
            Self::Create { group } => group.id.as_ref(),
        }
    }
}

/// A successful answer to a [`RoutingRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoutingReply {
    /// The call's groups (list).
    Groups(Vec<AudioRoutingGroup>),
    /// One group (get, create, update).
    Group(AudioRoutingGroup),
    /// No body (delete's `204`).
    Deleted,
}

impl From<GraphResponse<ODataCollection<AudioRoutingGroup>>> for RoutingReply {
    fn from(response: GraphResponse<ODataCollection<AudioRoutingGroup>>) -> Self {
        Self::Groups(response.body.value)
    }
}

impl From<GraphResponse<AudioRoutingGroup>> for RoutingReply {
    fn from(response: GraphResponse<AudioRoutingGroup>) -> Self {
        Self::Group(response.body)
    }
}

impl From<GraphResponse<()>> for RoutingReply {
    fn from(_: GraphResponse<()>) -> Self {
        Self::Deleted
    }
}

/// What the driver learnt about Graph's groups outside the reconciler's own requests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Observed {
    /// Every group of the call (a list the driver made itself).
    Snapshot(Vec<AudioRoutingGroup>),
    /// A group exists with this content (a notification, a get).
    Upserted(AudioRoutingGroup),
    /// A group no longer exists.
    Removed(AudioRoutingGroupId),
}

/// How far a route's groups are in place at Graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RouteStatus {
    /// Some group is missing or lets someone hear who should not.
    Pending,
    /// Every wanted group exists and nobody outside the route hears through it (a receiver that
    /// was just added may not hear yet).
    Active,
    /// Nothing to hold: the source left, or every receiver did. The route stays declared and comes
    /// back if they return.
    Dormant,
    /// Graph refused one of the route's requests with a non-transient error (e.g. 400, 403); the
    /// reconciler waits for the route or the roster to change before trying again.
    Failed,
}

/// Something the application may want to know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoutingEvent {
    /// Graph created a group.
    GroupCreated {
        /// The route it belongs to.
        route: RouteName,
        /// The group.
        group: AudioRoutingGroupId,
    },
    /// Graph updated a group.
    GroupUpdated {
        /// The route it belongs to.
        route: RouteName,
        /// The group.
        group: AudioRoutingGroupId,
    },
    /// A group is gone (deleted by this reconciler, or already missing when it tried).
    GroupDeleted {
        /// The group.
        group: AudioRoutingGroupId,
    },
    /// A participant a route names left the call: pruned from receivers, or (source) the group
    /// it spoke through is deleted.
    ParticipantLeft {
        /// The route.
        route: RouteName,
        /// Who left.
        participant: ParticipantId,
        /// True when the participant was a source of the route.
        was_source: bool,
    },
    /// A request failed.
    RequestFailed {
        /// [`RequestKind::name`].
        request: &'static str,
        /// The group, for group requests.
        group: Option<AudioRoutingGroupId>,
        /// What Graph (or the transport) said.
        failure: GraphFailure,
        /// When it is retried; `None` when the failure is permanent for the current intent.
        retry_at: Option<Instant>,
    },
    /// A route's [`RouteStatus`] changed.
    RouteStatusChanged {
        /// The route.
        route: RouteName,
        /// Its new status.
        status: RouteStatus,
    },
    /// Graph holds exactly the wanted groups and nothing is in flight or waiting.
    Converged,
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this request; hand the result to [`Reconciler::handle_response`].
    Request(RoutingRequest),
    /// Tell the application.
    Event(RoutingEvent),
    /// Call [`Reconciler::handle_timeout`] at this instant at the latest.
    Timeout(Instant),
}

/// One group the bot is the source of: what the local send path needs for its route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRoute {
    /// The route.
    pub route: RouteName,
    /// The group carrying the bot's audio for this route.
    pub group: AudioRoutingGroupId,
    /// Who should hear it (after pruning).
    pub receivers: Vec<ParticipantId>,
    /// True when Graph holds the group and nobody outside `receivers` hears through it: safe to
    /// send the route's audio.
    pub live: bool,
}

/// The [`RoutingEvent::ParticipantLeft`] of `participant`, who `route` names and who just left.
fn left_event(route: &Route, participant: &ParticipantId) -> Output {
    Output::Event(RoutingEvent::ParticipantLeft {
        route: route.name().clone(),
        participant: participant.clone(),
        was_source: route.is_source(participant),
    })
}

/// True for failures worth retrying unchanged: no answer, 408, 429 and 5xx.
pub fn is_transient(failure: &GraphFailure) -> bool {
    match failure.http_status() {
        None => true,
        Some(status) => status == 408 || status == 429 || (500..=599).contains(&status),
    }
}

/// The wait before retry number `failures` (1-based): `retry_base · 2^(failures-1)`, capped.
fn backoff(config: &ReconcilerConfig, failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(20);
    config
        .retry_base
        .saturating_mul(1u32 << exponent)
        .min(config.retry_max)
}

/// What is known about one group at Graph.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// Not known (before the first list, or after a create answered 409).
    Unknown,
    /// Graph does not hold it.
    Absent,
    /// Graph holds it with this content.
    Present(AudioRoutingGroup),
}

/// A request in flight for one group.
#[derive(Debug, Clone)]
struct InFlight {
    request: RequestId,
    op: Op,
    route: Option<RouteName>,
}

#[derive(Debug, Clone)]
enum Op {
    Get,
    Create(AudioRoutingGroup),
    Update(AudioRoutingGroup),
    Delete,
}

impl Op {
    /// The matching [`RequestKind::name`].
    fn name(&self) -> &'static str {
        match self {
            Self::Get => "getAudioRoutingGroup",
            Self::Create(_) => "createAudioRoutingGroup",
            Self::Update(_) => "updateAudioRoutingGroup",
            Self::Delete => "deleteAudioRoutingGroup",
        }
    }
}

/// Everything the reconciler tracks for one owned group id.
#[derive(Debug, Clone)]
struct GroupState {
    id: AudioRoutingGroupId,
    seen: Seen,
    in_flight: Option<InFlight>,
    retry_at: Option<Instant>,
    failures: u32,
    /// After a permanent failure: the target it failed for; nothing is sent until it changes.
    parked: Option<Option<TargetGroup>>,
    /// The request counter when an answer or a notification last told us about this group. A list
    /// sent before that (`request id < updated_at`) may predate what we know, so it is ignored
    /// for this group: requests run concurrently, and a list sent after a create may still be
    /// served before it.
    updated_at: u64,
}

impl GroupState {
    fn new(id: AudioRoutingGroupId, seen: Seen) -> Self {
        Self {
            id,
            seen,
            in_flight: None,
            retry_at: None,
            failures: 0,
            parked: None,
            updated_at: 0,
        }
    }

    fn is_idle(&self) -> bool {
        self.in_flight.is_none() && self.retry_at.is_none() && self.parked.is_none()
    }
}

/// The initial (or driver-requested) list of the call's groups.
#[derive(Debug, Clone, Default)]
struct ListState {
    done: bool,
    wanted: bool,
    in_flight: Option<RequestId>,
    retry_at: Option<Instant>,
    failures: u32,
    /// When the periodic resync list is due.
    next_resync: Option<Instant>,
}

/// Sans-IO reconciler of one call's audio routing groups. See the [crate docs](crate).
#[derive(Debug)]
pub struct Reconciler {
    config: ReconcilerConfig,
    desired: Vec<Route>,
    roster: Option<HashSet<ParticipantId>>,
    targets: BTreeMap<String, TargetGroup>,
    groups: BTreeMap<String, GroupState>,
    requests: BTreeMap<RequestId, String>,
    list: ListState,
    next_request: u64,
    outputs: VecDeque<Output>,
    statuses: BTreeMap<RouteName, RouteStatus>,
    converged: bool,
    /// Inputs arrived since the last reconcile; it runs at the next `poll_output`.
    dirty: Option<Instant>,
}

impl Reconciler {
    /// A reconciler with no routes and no roster yet; it sends nothing but the initial list until
    /// the first roster input (a snapshot, or a first join or leave).
    pub fn new(config: ReconcilerConfig) -> Result<Self, RouteError> {
        check_prefix(&config.id_prefix)?;
        let list = ListState {
            done: config.assume_empty,
            wanted: !config.assume_empty,
            ..ListState::default()
        };
        Ok(Self {
            config,
            desired: Vec::new(),
            roster: None,
            targets: BTreeMap::new(),
            groups: BTreeMap::new(),
            requests: BTreeMap::new(),
            list,
            next_request: 1,
            outputs: VecDeque::new(),
            statuses: BTreeMap::new(),
            converged: false,
            dirty: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ReconcilerConfig {
        &self.config
    }

    /// Replaces the whole desired set. Checks, before changing anything: unique route names,
    /// unique group ids, and that every participant named by a new or changed route is in the
    /// roster (or is the bot).
    pub fn set_desired(&mut self, now: Instant, routes: Vec<Route>) -> Result<(), RouteError> {
        self.check_routes(&routes)?;
        self.desired = routes;
        self.recompute_targets();
        self.after_input(now);
        Ok(())
    }

    /// Adds a route, or replaces the route of the same name ("whisper to X" from a library call
    /// or the control API). Checked like [`Reconciler::set_desired`].
    pub fn upsert_route(&mut self, now: Instant, route: Route) -> Result<(), RouteError> {
        let mut routes: Vec<Route> = self
            .desired
            .iter()
            .filter(|r| r.name() != route.name())
            .cloned()
            .collect();
        routes.push(route);
        self.set_desired(now, routes)
    }

    /// Removes a route by name; returns whether it was declared.
    pub fn remove_route(&mut self, now: Instant, name: &RouteName) -> bool {
        let before = self.desired.len();
        self.desired.retain(|r| r.name() != name);
        let removed = self.desired.len() != before;
        if removed {
            self.recompute_targets();
            self.after_input(now);
        }
        removed
    }

    /// The desired routes.
    pub fn routes(&self) -> &[Route] {
        &self.desired
    }

    /// Replaces the roster with a full snapshot of the call's participants. Entries without an
    /// id, waiting in the lobby or marked removed do not count as present.
    pub fn handle_roster(&mut self, now: Instant, participants: &[Participant]) {
        let ids = participants
            .iter()
            .filter(|p| p.is_in_lobby != Some(true) && p.removed_state.is_none())
            .filter_map(|p| p.id.clone());
        self.handle_roster_ids(now, ids);
    }

    /// Replaces the roster with the ids of the participants present now (a full resync). Costs
    /// O(roster); for joins and leaves one at a time use
    /// [`Reconciler::handle_participant_present`] and [`Reconciler::handle_participant_gone`].
    pub fn handle_roster_ids(
        &mut self,
        now: Instant,
        participants: impl IntoIterator<Item = ParticipantId>,
    ) {
        let roster: HashSet<ParticipantId> = participants.into_iter().collect();
        if let Some(old) = &self.roster {
            for route in &self.desired {
                let mut reported = HashSet::new();
                for participant in route.participants() {
                    if *participant != self.config.bot
                        && old.contains(participant)
                        && !roster.contains(participant)
                        && reported.insert(participant)
                    {
                        self.outputs.push_back(left_event(route, participant));
                    }
                }
            }
        }
        self.roster = Some(roster);
        self.recompute_targets();
        self.after_input(now);
    }

    /// One participant is in the call now (joined, or admitted from the lobby): the incremental
    /// form of [`Reconciler::handle_roster_ids`], with the same effect as a snapshot of the
    /// current roster plus `participant`. Repeating it changes nothing.
    ///
    /// Costs O(size of the declared routes), whatever the size of the roster: targets are worked
    /// out again only when a route names `participant`. Before any roster is known it starts from
    /// an empty one (a bot's roster starts from nothing and its first snapshot may arrive as
    /// joins), so the roster counts as known from this first change on, exactly as after
    /// `handle_roster_ids(now, [participant])`.
    pub fn handle_participant_present(&mut self, now: Instant, participant: &ParticipantId) {
        let roster = self.roster.get_or_insert_with(HashSet::new);
        if !roster.contains(participant) {
            roster.insert(participant.clone());
            if self.is_named(participant) {
                self.recompute_targets();
            }
        }
        self.after_input(now);
    }

    /// One participant left the call (or went back to the lobby, or was removed): the
    /// incremental form of [`Reconciler::handle_roster_ids`], with the same effect as a snapshot
    /// of the current roster minus `participant` — one [`RoutingEvent::ParticipantLeft`] per
    /// route naming them (none for the bot, who always counts as present), pruned receivers,
    /// deleted groups. Repeating it, or a leave of someone not present, changes nothing.
    ///
    /// Costs O(size of the declared routes), whatever the size of the roster. Before any roster
    /// is known it starts from an empty one, like [`Reconciler::handle_participant_present`]:
    /// the roster is then known and empty.
    pub fn handle_participant_gone(&mut self, now: Instant, participant: &ParticipantId) {
        let roster = self.roster.get_or_insert_with(HashSet::new);
        if roster.remove(participant) && *participant != self.config.bot {
            let mut named = false;
            for route in self.desired.iter().filter(|r| r.names(participant)) {
                named = true;
                self.outputs.push_back(left_event(route, participant));
            }
            if named {
                self.recompute_targets();
            }
        }
        self.after_input(now);
    }

    /// Takes in what the driver learnt about Graph's groups (notifications, its own lists).
    /// A snapshot skips groups with a request in flight (that request's answer is newer).
    pub fn handle_observed(&mut self, now: Instant, observed: Observed) {
        match observed {
            Observed::Snapshot(groups) => {
                let as_of = self.next_request;
                self.apply_snapshot(groups, as_of);
                self.list.done = true;
            }
            Observed::Upserted(group) => {
                if let Some(id) = group.id.clone() {
                    self.observe_one(id, Seen::Present(group));
                }
            }
            Observed::Removed(id) => self.observe_one(id, Seen::Absent),
        }
        self.after_input(now);
    }

    /// Takes a Graph notification if it is about audio routing groups (returns whether it was).
    /// The signaling models keep no routing-group payload, so: `deleted` on
    /// `…/audioRoutingGroups/{id}` means the group is gone; `created`/`updated` make an owned
    /// group's content unknown, which the next poll resolves with one get; a notification on the
    /// collection asks for a list. The driver routes notifications to the right call first.
    pub fn handle_notification(&mut self, now: Instant, notification: &CommsNotification) -> bool {
        let Ok(reference) = notification.resource_ref() else {
            return false;
        };
        match reference.resource {
            CallResource::AudioRoutingGroup(id) => {
                if notification.change_type == ChangeType::Deleted {
                    self.observe_one(id, Seen::Absent);
                } else if self.owns(id.as_str())
                    && self
                        .groups
                        .get(id.as_str())
                        .is_none_or(|g| g.in_flight.is_none())
                {
                    self.observe_one(id, Seen::Unknown);
                }
            }
            CallResource::AudioRoutingGroups => self.list.wanted = true,
            _ => return false,
        }
        self.after_input(now);
        true
    }

    /// Takes the result of a request this reconciler emitted. Unknown or repeated ids are ignored.
    pub fn handle_response(
        &mut self,
        now: Instant,
        request: RequestId,
        result: Result<RoutingReply, GraphFailure>,
    ) {
        if self.list.in_flight == Some(request) {
            self.list.in_flight = None;
            self.handle_list_response(now, request, result);
        } else if let Some(key) = self.requests.remove(&request) {
            self.handle_group_response(now, request, &key, result);
        }
        self.after_input(now);
    }

    /// Time passed: retries whose backoff ended are sent.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.after_input(now);
    }

    /// Asks for a fresh `GET …/audioRoutingGroups` (e.g. after the driver suspects drift).
    pub fn request_resync(&mut self, now: Instant) {
        self.list.wanted = true;
        self.after_input(now);
    }

    /// The next output: requests and events in order, then the next retry deadline, then `None`
    /// (nothing to do until the next input).
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(now) = self.dirty.take() {
            self.reconcile(now);
            self.update_statuses();
            let converged = self.compute_converged();
            if converged && !self.converged {
                self.outputs
                    .push_back(Output::Event(RoutingEvent::Converged));
            }
            self.converged = converged;
        }
        if let Some(output) = self.outputs.pop_front() {
            return Some(output);
        }
        self.groups
            .values()
            .filter_map(|g| g.retry_at)
            .chain(self.list.retry_at)
            .chain(self.list.next_resync)
            .min()
            .map(Output::Timeout)
    }

    /// True when Graph holds exactly the wanted groups and nothing is in flight or waiting
    /// (as of the last drain of [`Reconciler::poll_output`]).
    pub fn is_converged(&self) -> bool {
        self.dirty.is_none() && self.compute_converged()
    }

    /// The status of a declared route.
    pub fn route_status(&self, name: &RouteName) -> Option<RouteStatus> {
        self.desired
            .iter()
            .find(|r| r.name() == name)
            .map(|route| self.status_of(route))
    }

    /// The groups the bot is the source of, for the local send-route table.
    pub fn bot_routes(&self) -> Vec<BotRoute> {
        self.targets
            .iter()
            .filter(|(_, t)| t.source == self.config.bot)
            .map(|(key, t)| BotRoute {
                route: t.route.clone(),
                group: t.id.clone(),
                receivers: t.receivers.clone(),
                live: matches!(
                    self.groups.get(key).map(|g| &g.seen),
                    Some(Seen::Present(observed)) if t.is_safe_subset(observed)
                ),
            })
            .collect()
    }

    /// What the reconciler believes Graph holds for an owned group (`None`: absent or unknown).
    pub fn observed_group(&self, id: &AudioRoutingGroupId) -> Option<&AudioRoutingGroup> {
        match &self.groups.get(id.as_str())?.seen {
            Seen::Present(group) => Some(group),
            Seen::Absent | Seen::Unknown => None,
        }
    }

    /// The groups Graph should hold now, as they would be sent.
    pub fn wanted_groups(&self) -> Vec<AudioRoutingGroup> {
        self.targets.values().map(TargetGroup::to_group).collect()
    }

    // ---- internals ---------------------------------------------------------------------------

    fn owns(&self, id: &str) -> bool {
        id.starts_with(&self.config.id_prefix)
    }

    /// True when a declared route names `participant`: only then can their presence change the
    /// targets.
    fn is_named(&self, participant: &ParticipantId) -> bool {
        self.desired.iter().any(|route| route.names(participant))
    }

    fn is_present(&self, participant: &ParticipantId) -> bool {
        *participant == self.config.bot
            || self
                .roster
                .as_ref()
                .is_some_and(|roster| roster.contains(participant))
    }

    fn check_routes(&self, routes: &[Route]) -> Result<(), RouteError> {
        if self.roster.is_none() {
            return Err(RouteError::RosterUnknown);
        }
        let mut names = BTreeSet::new();
        let mut ids: BTreeMap<String, &RouteName> = BTreeMap::new();
        for route in routes {
            if !names.insert(route.name()) {
                return Err(RouteError::DuplicateRoute {
                    route: route.name().to_string(),
                });
            }
            // A route already declared unchanged is not checked again: someone in it may have
            // left since (it is pruned, not wrong), and re-stating the whole set must not fail
            // because of that.
            let unchanged = self.desired.contains(route);
            for participant in route.participants() {
                if !unchanged && !self.is_present(participant) {
                    return Err(RouteError::NotInRoster {
                        route: route.name().to_string(),
                        participant: participant.clone(),
                    });
                }
            }
            for id in route.all_group_ids(&self.config.id_prefix) {
                if let Some(first) = ids.insert(id.as_str().to_owned(), route.name()) {
                    return Err(RouteError::DuplicateGroupId {
                        id,
                        first: first.to_string(),
                        second: route.name().to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    fn recompute_targets(&mut self) {
        let prefix = self.config.id_prefix.clone();
        let targets = self
            .desired
            .iter()
            .flat_map(|route| route.groups(&prefix, |p| self.is_present(p)))
            .map(|t| (t.id.as_str().to_owned(), t))
            .collect();
        self.targets = targets;
    }

    /// Inputs only record what changed; the requests are worked out when the driver polls, so
    /// several inputs before a poll (a roster and new routes) cost one minimal request set.
    fn after_input(&mut self, now: Instant) {
        self.dirty = Some(now);
    }

    fn next_id(&mut self) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        id
    }

    fn backoff(&self, failures: u32) -> Duration {
        backoff(&self.config, failures)
    }

    fn reconcile(&mut self, now: Instant) {
        if self.list.retry_at.is_some_and(|at| at <= now) {
            self.list.retry_at = None;
        }
        if let Some(interval) = self.config.resync_interval {
            match self.list.next_resync {
                Some(at) if at <= now => {
                    self.list.wanted = true;
                    self.list.next_resync = None;
                }
                None if self.list.done && !self.list.wanted && self.list.in_flight.is_none() => {
                    self.list.next_resync = Some(now + interval);
                }
                _ => {}
            }
        }
        if self.list.wanted && self.list.in_flight.is_none() && self.list.retry_at.is_none() {
            let id = self.next_id();
            self.list.wanted = false;
            self.list.in_flight = Some(id);
            self.outputs.push_back(Output::Request(RoutingRequest {
                id,
                kind: RequestKind::List,
            }));
        }
        // Nothing is touched before the roster is known (every route would look dormant and its
        // groups would be deleted) nor before the first list (creates would collide).
        if self.roster.is_none() || !self.list.done {
            return;
        }
        let keys: BTreeSet<String> = self
            .targets
            .keys()
            .chain(self.groups.keys())
            .cloned()
            .collect();
        for key in keys {
            self.reconcile_group(now, &key);
        }
        // Forget groups that are gone and unwanted, but not while a list is in flight: their
        // `updated_at` is what tells that list's (possibly older) view apart from ours.
        if self.list.in_flight.is_some() {
            return;
        }
        let targets = &self.targets;
        self.groups.retain(|key, g| {
            targets.contains_key(key) || !g.is_idle() || !matches!(g.seen, Seen::Absent)
        });
    }

    fn reconcile_group(&mut self, now: Instant, key: &str) {
        let target = self.targets.get(key).cloned();
        let state = self.groups.entry(key.to_owned()).or_insert_with(|| {
            let id = target
                .as_ref()
                .map_or_else(|| AudioRoutingGroupId::new(key), |t| t.id.clone());
            GroupState::new(id, Seen::Absent)
        });
        if state.in_flight.is_some() {
            return;
        }
        if let Some(at) = state.retry_at {
            if at > now {
                return;
            }
            state.retry_at = None;
        }
        if let Some(parked_for) = &state.parked {
            if *parked_for == target {
                return;
            }
            state.parked = None;
            state.failures = 0;
        }
        let op = match (&target, &state.seen) {
            (Some(_), Seen::Unknown) => Op::Get,
            (None, Seen::Unknown) => Op::Delete,
            (Some(t), Seen::Absent) => Op::Create(t.to_group()),
            (Some(t), Seen::Present(observed)) => {
                if t.matches(observed) {
                    return;
                }
                match &observed.routing_mode {
                    Some(mode) if *mode != t.mode => Op::Delete,
                    _ => Op::Update(t.to_group()),
                }
            }
            (None, Seen::Present(_)) => Op::Delete,
            (None, Seen::Absent) => return,
        };
        let request = RequestId(self.next_request);
        self.next_request += 1;
        let id = state.id.clone();
        let kind = match &op {
            Op::Get => RequestKind::Get { id },
            Op::Create(group) => RequestKind::Create {
                group: group.clone(),
            },
            Op::Update(group) => RequestKind::Update {
                id,
                group: group.clone(),
            },
            Op::Delete => RequestKind::Delete { id },
        };
        state.in_flight = Some(InFlight {
            request,
            op,
            route: target.map(|t| t.route),
        });
        self.requests.insert(request, key.to_owned());
        self.outputs
            .push_back(Output::Request(RoutingRequest { id: request, kind }));
    }

    fn observe_one(&mut self, id: AudioRoutingGroupId, seen: Seen) {
        if !self.owns(id.as_str()) {
            return;
        }
        let key = id.as_str().to_owned();
        let state = self
            .groups
            .entry(key)
            .or_insert_with(|| GroupState::new(id, Seen::Unknown));
        // Applied even with a request in flight: its answer, when it comes, is newer and
        // overwrites this; if the answer is lost, this is the best knowledge there is.
        state.seen = seen;
        state.updated_at = self.next_request;
    }

    fn apply_snapshot(&mut self, groups: Vec<AudioRoutingGroup>, as_of: u64) {
        let mut listed: BTreeMap<String, AudioRoutingGroup> = groups
            .into_iter()
            .filter_map(|g| {
                let key = g.id.as_ref()?.as_str().to_owned();
                self.owns(&key).then_some((key, g))
            })
            .collect();
        for (key, state) in &mut self.groups {
            let group = listed.remove(key);
            if state.in_flight.is_some() || state.updated_at > as_of {
                continue;
            }
            state.seen = group.map_or(Seen::Absent, Seen::Present);
        }
        for (key, group) in listed {
            let id = AudioRoutingGroupId::new(key.clone());
            self.groups
                .insert(key, GroupState::new(id, Seen::Present(group)));
        }
    }

    fn handle_list_response(
        &mut self,
        now: Instant,
        request: RequestId,
        result: Result<RoutingReply, GraphFailure>,
    ) {
        match result {
            Ok(RoutingReply::Groups(groups)) => {
                self.list.failures = 0;
                self.apply_snapshot(groups, request.0);
                self.list.done = true;
                self.list.next_resync = self.config.resync_interval.map(|every| now + every);
            }
            Ok(_) => {
                // A driver bug: a list answered with something else. Ask again later.
                self.list_failed(
                    now,
                    GraphFailure::Unreachable {
                        reason: "list answered without a collection".to_owned(),
                    },
                );
            }
            Err(failure) => self.list_failed(now, failure),
        }
    }

    fn list_failed(&mut self, now: Instant, failure: GraphFailure) {
        // Without the list nothing can be reconciled, so even "permanent" failures are retried,
        // at the backoff's pace.
        self.list.failures += 1;
        let retry_at = now + self.backoff(self.list.failures);
        self.list.wanted = true;
        self.list.retry_at = Some(retry_at);
        self.outputs
            .push_back(Output::Event(RoutingEvent::RequestFailed {
                request: RequestKind::List.name(),
                group: None,
                failure,
                retry_at: Some(retry_at),
            }));
    }

    fn handle_group_response(
        &mut self,
        now: Instant,
        request: RequestId,
        key: &str,
        result: Result<RoutingReply, GraphFailure>,
    ) {
        let config = &self.config;
        let target = self.targets.get(key).cloned();
        let Some(state) = self.groups.get_mut(key) else {
            return;
        };
        let Some(in_flight) = state.in_flight.take_if(|f| f.request == request) else {
            return;
        };
        state.updated_at = self.next_request;
        let id = state.id.clone();
        let mut event = None;
        match result {
            // A get must answer with the group; anything else is retried like a transient failure.
            Ok(RoutingReply::Groups(_) | RoutingReply::Deleted)
                if matches!(in_flight.op, Op::Get) =>
            {
                state.failures += 1;
                let at = now + backoff(config, state.failures);
                state.retry_at = Some(at);
                state.seen = Seen::Unknown;
                event = Some(RoutingEvent::RequestFailed {
                    request: in_flight.op.name(),
                    group: Some(id),
                    failure: GraphFailure::Unreachable {
                        reason: "get answered without a group".to_owned(),
                    },
                    retry_at: Some(at),
                });
            }
            Ok(reply) => {
                state.failures = 0;
                let reply_group = match reply {
                    RoutingReply::Group(group) => Some(group),
                    RoutingReply::Groups(_) | RoutingReply::Deleted => None,
                };
                // Create and update answers without a usable body mean "as sent".
                let body = reply_group.clone().filter(|g| !g.sources.is_empty());
                match (&in_flight.op, in_flight.route) {
                    (Op::Get, _) => {
                        state.seen = reply_group.map_or(Seen::Unknown, Seen::Present);
                    }
                    (Op::Create(sent), route) => {
                        state.seen = Seen::Present(body.unwrap_or_else(|| sent.clone()));
                        event = route.map(|route| RoutingEvent::GroupCreated { route, group: id });
                    }
                    (Op::Update(sent), route) => {
                        state.seen = Seen::Present(body.unwrap_or_else(|| sent.clone()));
                        event = route.map(|route| RoutingEvent::GroupUpdated { route, group: id });
                    }
                    (Op::Delete, _) => {
                        state.seen = Seen::Absent;
                        event = Some(RoutingEvent::GroupDeleted { group: id });
                    }
                }
            }
            Err(failure) => {
                let status = failure.http_status();
                match (&in_flight.op, status) {
                    (Op::Get | Op::Update(_), Some(404)) => state.seen = Seen::Absent,
                    (Op::Delete, Some(404)) => {
                        state.seen = Seen::Absent;
                        event = Some(RoutingEvent::GroupDeleted { group: id });
                    }
                    // The id is taken: most likely an earlier create whose answer was lost.
                    // A repeated 409 (Graph inconsistent between create and get) is paced by
                    // the backoff instead of looping create → 409 → get → 404 at full speed.
                    (Op::Create(_), Some(409)) => {
                        state.seen = Seen::Unknown;
                        state.failures += 1;
                        if state.failures > 1 {
                            state.retry_at = Some(now + backoff(config, state.failures));
                        }
                    }
                    (op, _) => {
                        let name = op.name();
                        let retry_at = if is_transient(&failure) {
                            state.failures += 1;
                            let at = now + backoff(config, state.failures);
                            state.retry_at = Some(at);
                            Some(at)
                        } else {
                            state.parked = Some(target);
                            None
                        };
                        event = Some(RoutingEvent::RequestFailed {
                            request: name,
                            group: Some(id),
                            failure,
                            retry_at,
                        });
                    }
                }
            }
        }
        if let Some(event) = event {
            self.outputs.push_back(Output::Event(event));
        }
    }

    fn status_of(&self, route: &Route) -> RouteStatus {
        let mut any = false;
        let mut failed = false;
        let mut active = true;
        for (key, target) in self
            .targets
            .iter()
            .filter(|(_, t)| &t.route == route.name())
        {
            any = true;
            let state = self.groups.get(key);
            failed |= state.is_some_and(|g| {
                g.parked
                    .as_ref()
                    .is_some_and(|parked_for| parked_for.as_ref() == Some(target))
            });
            active &= matches!(
                state.map(|g| &g.seen),
                Some(Seen::Present(observed)) if target.is_safe_subset(observed)
            );
        }
        if failed {
            RouteStatus::Failed
        } else if !any {
            RouteStatus::Dormant
        } else if active {
            RouteStatus::Active
        } else {
            RouteStatus::Pending
        }
    }

    fn update_statuses(&mut self) {
        let statuses: BTreeMap<RouteName, RouteStatus> = self
            .desired
            .iter()
            .map(|route| (route.name().clone(), self.status_of(route)))
            .collect();
        for (route, status) in &statuses {
            if self.statuses.get(route) != Some(status) {
                self.outputs
                    .push_back(Output::Event(RoutingEvent::RouteStatusChanged {
                        route: route.clone(),
                        status: *status,
                    }));
            }
        }
        self.statuses = statuses;
    }

    fn compute_converged(&self) -> bool {
        if self.roster.is_none()
            || !self.list.done
            || self.list.in_flight.is_some()
            || self.list.retry_at.is_some()
            || self.list.wanted
        {
            return false;
        }
        let groups_settled = self.groups.iter().all(|(key, state)| {
            state.is_idle()
                && match (self.targets.get(key), &state.seen) {
                    (Some(target), Seen::Present(observed)) => target.matches(observed),
                    (None, Seen::Absent) => true,
                    _ => false,
                }
        });
        groups_settled && self.targets.keys().all(|key| self.groups.contains_key(key))
    }
}
