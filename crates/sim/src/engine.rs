//! The simulator's core: shared state, call lifecycles and timers.
//!
//! # Threading and locking
//! All state lives in one [`World`] behind one `std::sync::Mutex`, held only for short synchronous
//! sections (never across an `.await`; clippy's `await_holding_lock` is denied). Notifications are
//! queued into a call's outbox *while the lock is held*, so their order always matches the order of
//! the state changes they describe. Media processor calls are collected as [`MediaEffect`]s and run
//! after the lock is released.
//!
//! # Timers
//! Real tokio timers with configurable durations ([`SimTimings`](crate::SimTimings)): establishment
//! steps, the answer deadline, the keep-alive watchdog, operation completion, lobby admission and
//! the scenario timeline. Long-lived timers hold a `Weak` reference so a dropped simulator stops.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};
use url::Url;
use uuid::Uuid;

use mediabot_signaling::models::{
    Call, CallChainId, CallDirection, CallId, CallState, ChangeType, CommsOperation,
    ContentSharingSessionId, IdentitySet, OperationId, OperationKind, OperationStatus,
    ParticipantId, ResultInfo, TenantId,
};

use crate::config::SimConfig;
use crate::delivery::{Courier, run_outbox};
use crate::error::SimError;
use crate::events::{DeliveryRecord, SimEvent};
use crate::keys::Keys;
use crate::media_seam::{MediaAttach, MediaProcessor};
use crate::scenario::{CrowdChurn, TimelineAction, TimelineEntry};
use crate::state::{CallEntry, MediaEffect, MeetingState, Member, World};
use crate::wire::Outgoing;

/// Result of a hang-up by the bot (`DELETE`), reference §7 "The conversation has ended by bot.".
pub(crate) fn ended_by_bot() -> ResultInfo {
    ResultInfo::new(200, 7000, "The conversation has ended by bot.")
}

/// One step of a meeting's timeline.
enum TimelineStep {
    Member(TimelineEntry),
    Churn(CrowdChurn),
}

impl TimelineStep {
    fn at(&self) -> Duration {
        match self {
            TimelineStep::Member(entry) => entry.at,
            TimelineStep::Churn(churn) => churn.at,
        }
    }
}

/// What completes a running operation: changes to the world made when its notification is sent.
pub(crate) type OnComplete = Box<dyn FnOnce(&mut World, usize) -> Vec<MediaEffect> + Send>;

/// Everything a new call needs.
pub(crate) struct NewCall {
    pub(crate) direction: CallDirection,
    pub(crate) state: CallState,
    pub(crate) callback_uri: String,
    pub(crate) tenant_id: TenantId,
    pub(crate) meeting: usize,
    pub(crate) request: Call,
    pub(crate) bot_identity: IdentitySet,
    pub(crate) blob: Option<String>,
    pub(crate) app_hosted: bool,
    pub(crate) delta_roster: bool,
    pub(crate) content_sharing_notifications: bool,
}

/// State shared by the HTTP handlers, the timers and the handle.
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) base_url: Url,
    pub(crate) keys: Arc<Keys>,
    world: Mutex<World>,
    pub(crate) events: broadcast::Sender<SimEvent>,
    courier: Arc<Courier>,
    pub(crate) media: Arc<dyn MediaProcessor>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(
        config: SimConfig,
        base_url: Url,
        media: Arc<dyn MediaProcessor>,
    ) -> Result<Self, SimError> {
        let http = reqwest::Client::builder()
            .timeout(config.timings.delivery_timeout)
            .build()
            .map_err(SimError::HttpClient)?;
        let mut world = World::new(config.scenario.faults.clone(), config.scenario.quirks);
        let mut registered = Vec::with_capacity(config.scenario.meetings.len());
        for meeting in &config.scenario.meetings {
            meeting.validate()?;
            let index = world
                .add_listed_meeting(meeting, &config.tenant_id)
                .map_err(|key| SimError::ScenarioInvalid(format!("meeting key {key:?} twice")))?;
            registered.push((index, meeting));
        }
        // Crowds last: every listed MSI of every meeting is reserved before a crowd takes any.
        for (index, meeting) in registered {
            world.add_crowd(index, meeting);
        }
        let (events, _) = broadcast::channel(4096);
        let keys = Arc::new(Keys::generate()?);
        let courier = Arc::new(Courier::new(
            config.app_id.clone(),
            config.timings.clone(),
            keys.clone(),
            http,
            events.clone(),
        ));
        Ok(Self {
            keys,
            config,
            base_url,
            world: Mutex::new(world),
            events,
            courier,
            media,
        })
    }

    /// The world, recovering from a poisoned lock (a panicking handler must not stop the simulator).
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn emit(&self, event: SimEvent) {
        // No subscribers is fine.
        let _ = self.events.send(event);
    }

    pub(crate) fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.courier.deliveries()
    }

    pub(crate) fn run_media(&self, effects: Vec<MediaEffect>) {
        for effect in effects {
            match effect {
                MediaEffect::Joined(call, p) => self.media.participant_joined(&call, &p),
                MediaEffect::Left(call, p) => self.media.participant_left(&call, &p),
                MediaEffect::Speaking(call, p, on) => {
                    self.media.participant_speaking(&call, &p, on)
                }
                MediaEffect::Muted(call, p, on) => self.media.participant_muted(&call, &p, on),
                MediaEffect::Routing(call, groups) => self.media.routing_changed(&call, &groups),
                MediaEffect::Detach(call) => self.media.detach(&call),
            }
        }
    }

    /// Creates a call entry with its outbox task and keep-alive watchdog; returns its index.
    pub(crate) fn insert_call(self: &Arc<Self>, world: &mut World, new: NewCall) -> usize {
        let (outbox, receiver) = mpsc::unbounded_channel::<Outgoing>();
        tokio::spawn(run_outbox(self.courier.clone(), receiver));
        let id = CallId::new(Uuid::new_v4().to_string());
        let entry = CallEntry {
            id: id.clone(),
            chain_id: CallChainId::new(Uuid::new_v4().to_string()),
            scenario_id: Uuid::new_v4(),
            my_participant_id: ParticipantId::new(Uuid::new_v4().to_string()),
            bot_msi: world.alloc_msi(),
            bot_identity: new.bot_identity,
            tenant_id: new.tenant_id,
            callback_uri: new.callback_uri,
            direction: new.direction,
            state: new.state,
            result_info: None,
            meeting: Some(new.meeting),
            request: new.request,
            blob: new.blob,
            app_hosted: new.app_hosted,
            delta_roster: new.delta_roster,
            content_sharing_notifications: new.content_sharing_notifications,
            roster_sequence: 0,
            last_roster: Vec::new(),
            roster_sent: false,
            bot_muted: false,
            bot_in_lobby: false,
            bot_sharer: false,
            recording: None,
            large_gallery: None,
            operations: Vec::new(),
            completed_operations: Vec::new(),
            routing_groups: Vec::new(),
            last_keepalive: Instant::now(),
            outbox: Some(outbox),
            media_attached: false,
        };
        world.calls.push(entry);
        self.emit(SimEvent::CallCreated {
            call_id: id.clone(),
        });
        self.spawn_keepalive_watchdog(id);
        world.calls.len() - 1
    }

    pub(crate) fn set_state(&self, world: &mut World, call: usize, state: CallState) {
        world.set_state_and_notify(call, state.clone());
        self.emit(SimEvent::CallStateChanged {
            call_id: world.calls[call].id.clone(),
            state,
        });
    }

    /// Ends a call: `deleted` notification with `terminated` (the full call, or only `@odata.type`
    /// when `minimal`, as for reject), roster updates for the other bots, media detach.
    pub(crate) fn finish_call(
        &self,
        world: &mut World,
        call: usize,
        result: Option<ResultInfo>,
        minimal: bool,
    ) -> Vec<MediaEffect> {
        let entry = &mut world.calls[call];
        entry.state = CallState::Terminated;
        entry.result_info = result;
        entry.operations.clear();
        let data = if minimal {
            Call::default()
        } else {
            world.call_view(call)
        };
        let notification = world.call_notification(call, ChangeType::Deleted, data);
        world.enqueue(call, vec![notification]);
        let entry = &mut world.calls[call];
        entry.outbox = None;
        let id = entry.id.clone();
        let attached = std::mem::take(&mut entry.media_attached);
        let meeting = entry.meeting;
        self.emit(SimEvent::CallStateChanged {
            call_id: id.clone(),
            state: CallState::Terminated,
        });
        if let Some(meeting) = meeting {
            world.push_meeting_rosters(meeting);
        }
        if attached {
            vec![MediaEffect::Detach(id)]
        } else {
            Vec::new()
        }
    }

    /// Ends a live call with `result` (no-op for unknown or ended calls). Returns whether it was live.
    pub(crate) fn terminate(&self, call_id: &CallId, result: Option<ResultInfo>) -> bool {
        let effects = {
            let mut world = self.world();
            let Some(call) = world.live_call(call_id) else {
                return false;
            };
            self.finish_call(&mut world, call, result, false)
        };
        self.run_media(effects);
        true
    }

    /// `DELETE`: `terminating` now, `terminated` one step later.
    pub(crate) fn hang_up(self: &Arc<Self>, call_id: &CallId) -> bool {
        {
            let mut world = self.world();
            let Some(call) = world.live_call(call_id) else {
                return false;
            };
            if world.calls[call].state == CallState::Terminating {
                return true;
            }
            self.set_state(&mut world, call, CallState::Terminating);
        }
        let shared = self.clone();
        let call_id = call_id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(shared.config.timings.establish_step).await;
            shared.terminate(&call_id, Some(ended_by_bot()));
        });
        true
    }

    /// Runs `establishing` → (media attach) → `established` → roster, one step apart.
    pub(crate) fn spawn_establish(self: &Arc<Self>, call_id: CallId) {
        let shared = self.clone();
        tokio::spawn(async move {
            let step = shared.config.timings.establish_step;
            tokio::time::sleep(step).await;
            {
                let mut world = shared.world();
                let Some(call) = world.live_call(&call_id) else {
                    return;
                };
                if world.calls[call].state != CallState::Establishing {
                    return;
                }
                if !world.quirks.swap_establishing_established {
                    let view = world.call_view(call);
                    let n = world.call_notification(call, ChangeType::Updated, view);
                    world.enqueue(call, vec![n]);
                }
            }
            tokio::time::sleep(step).await;
            shared.establish(&call_id);
        });
    }

    fn establish(self: &Arc<Self>, call_id: &CallId) {
        let attach = {
            let mut world = self.world();
            let Some(call) = world.live_call(call_id) else {
                return;
            };
            if world.calls[call].state != CallState::Establishing {
                return;
            }
            if let Some(meeting) = world.calls[call].meeting {
                world.reset_for_replay(meeting);
            }
            let entry = &world.calls[call];
            match (&entry.blob, entry.app_hosted) {
                (Some(blob), true) => Some(MediaAttach {
                    call_id: call_id.clone(),
                    blob: blob.clone(),
                    bot_participant_id: entry.my_participant_id.clone(),
                    bot_msi: entry.bot_msi,
                    participants: entry
                        .meeting
                        .map(|m| world.present_members(m))
                        .unwrap_or_default(),
                    routing_groups: entry.routing_groups.clone(),
                }),
                _ => None,
            }
        };
        if let Some(attach) = &attach
            && let Err(rejected) = self.media.attach(attach)
        {
            self.emit(SimEvent::MediaRejected {
                call_id: call_id.clone(),
                reason: rejected.reason.clone(),
            });
            self.terminate(
                call_id,
                Some(ResultInfo::new(
                    500,
                    1_203_002,
                    format!(
                        "Server Internal Error. DiagCode: 500#1203002.@ (media: {})",
                        rejected.reason
                    ),
                )),
            );
            return;
        }
        let mut world = self.world();
        let Some(call) = world.live_call(call_id) else {
            drop(world);
            if attach.is_some() {
                self.media.detach(call_id);
            }
            return;
        };
        world.calls[call].media_attached = attach.is_some();
        self.set_state(&mut world, call, CallState::Established);
        if world.quirks.swap_establishing_established {
            let mut view = world.call_view(call);
            view.state = Some(CallState::Establishing);
            let n = world.call_notification(call, ChangeType::Updated, view);
            world.enqueue(call, vec![n]);
        }
        let Some(meeting) = world.calls[call].meeting else {
            return;
        };
        if world.meetings[meeting].p2p {
            return;
        }
        let as_guest = world.calls[call].bot_identity.guest.is_some();
        if as_guest && world.meetings[meeting].lobby_for_guests {
            world.calls[call].bot_in_lobby = true;
            self.spawn_lobby_admission(call_id.clone());
        }
        world.push_meeting_rosters(meeting);
        self.start_timeline(&mut world, meeting);
    }

    fn spawn_lobby_admission(self: &Arc<Self>, call_id: CallId) {
        let weak = Arc::downgrade(self);
        let wait = self.config.timings.lobby_admit;
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let Some(shared) = weak.upgrade() else { return };
            let mut world = shared.world();
            if let Some(call) = world.live_call(&call_id) {
                world.calls[call].bot_in_lobby = false;
                world.push_roster(call);
            }
        });
    }

    fn spawn_keepalive_watchdog(self: &Arc<Self>, call_id: CallId) {
        let weak: Weak<Self> = Arc::downgrade(self);
        let window = self.config.timings.keepalive_window;
        tokio::spawn(async move {
            loop {
                let deadline = {
                    let Some(shared) = weak.upgrade() else { return };
                    let world = shared.world();
                    let Some(call) = world.live_call(&call_id) else {
                        return;
                    };
                    // An unanswered incoming call is governed by the answer deadline instead.
                    if world.calls[call].state == CallState::Incoming {
                        Instant::now() + window
                    } else {
                        world.calls[call].last_keepalive + window
                    }
                };
                tokio::time::sleep_until(deadline.into()).await;
                let Some(shared) = weak.upgrade() else { return };
                let expired = {
                    let world = shared.world();
                    let Some(call) = world.live_call(&call_id) else {
                        return;
                    };
                    world.calls[call].state != CallState::Incoming
                        && Instant::now() >= world.calls[call].last_keepalive + window
                };
                if expired {
                    tracing::info!(call = %call_id, "keep-alive window passed; ending the call");
                    shared.terminate(
                        &call_id,
                        Some(ResultInfo::new(
                            408,
                            8537,
                            "Keep Alive timeout, cleaned up inactive call.",
                        )),
                    );
                    return;
                }
            }
        });
    }

    /// An incoming call not answered, rejected or redirected in time ends with `408/1106`.
    pub(crate) fn spawn_answer_deadline(self: &Arc<Self>, call_id: CallId) {
        let weak = Arc::downgrade(self);
        let wait = self.config.timings.answer_deadline;
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let Some(shared) = weak.upgrade() else { return };
            let effects = {
                let mut world = shared.world();
                let Some(call) = world.live_call(&call_id) else {
                    return;
                };
                if world.calls[call].state != CallState::Incoming {
                    return;
                }
                shared.finish_call(
                    &mut world,
                    call,
                    Some(ResultInfo::new(
                        408,
                        1106,
                        "An acknowledgement was not received for the call acceptance in the allotted time.",
                    )),
                    false,
                )
            };
            shared.run_media(effects);
        });
    }

    fn start_timeline(self: &Arc<Self>, world: &mut World, meeting: usize) {
        let state = &mut world.meetings[meeting];
        if state.timeline_started || (state.timeline.is_empty() && state.crowd_churn.is_empty()) {
            return;
        }
        state.timeline_started = true;
        let mut steps: Vec<TimelineStep> = state
            .timeline
            .iter()
            .cloned()
            .map(TimelineStep::Member)
            .chain(state.crowd_churn.iter().copied().map(TimelineStep::Churn))
            .collect();
        // Stable: at the same instant, participant entries go before crowd churn.
        steps.sort_by_key(TimelineStep::at);
        let key = state.key.clone();
        let generation = state.timeline_generation;
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            for step in steps {
                tokio::time::sleep_until(start + step.at()).await;
                let Some(shared) = weak.upgrade() else { return };
                let current = {
                    let world = shared.world();
                    world.meetings[meeting].timeline_generation == generation
                };
                if !current {
                    return;
                }
                let applied = match &step {
                    TimelineStep::Member(entry) => {
                        shared.apply_action(&key, &entry.participant, entry.action)
                    }
                    TimelineStep::Churn(churn) => shared.apply_churn(&key, churn.leave, churn.join),
                };
                if let Err(error) = applied {
                    tracing::warn!(%error, "timeline entry skipped");
                }
            }
        });
    }

    /// Applies a participant action to a meeting (timeline or run-time control).
    pub(crate) fn apply_action(
        &self,
        meeting_key: &str,
        participant_key: &str,
        action: TimelineAction,
    ) -> Result<(), SimError> {
        let effects = {
            let mut world = self.world();
            let meeting = world
                .meeting_by_key(meeting_key)
                .ok_or_else(|| SimError::UnknownMeeting(meeting_key.to_owned()))?;
            let member = world.meetings[meeting]
                .member(participant_key)
                .ok_or_else(|| SimError::UnknownParticipant(participant_key.to_owned()))?;
            let effects = apply_member_action(&mut world, meeting, member, action);
            self.emit(SimEvent::ParticipantAction {
                meeting: meeting_key.to_owned(),
                participant: participant_key.to_owned(),
                action,
            });
            effects
        };
        self.run_media(effects);
        Ok(())
    }

    /// Moves a meeting's crowd in one roster change (see [`apply_crowd_churn`]).
    pub(crate) fn apply_churn(
        &self,
        meeting_key: &str,
        leave: u32,
        join: u32,
    ) -> Result<(), SimError> {
        let effects = {
            let mut world = self.world();
            let meeting = world
                .meeting_by_key(meeting_key)
                .ok_or_else(|| SimError::UnknownMeeting(meeting_key.to_owned()))?;
            let (left, joined, effects) = apply_crowd_churn(&mut world, meeting, leave, join);
            self.emit(SimEvent::CrowdChurned {
                meeting: meeting_key.to_owned(),
                left,
                joined,
            });
            effects
        };
        self.run_media(effects);
        Ok(())
    }

    /// A new operation of `kind` for a live call; `running` ones complete later via
    /// [`Shared::spawn_operation_completion`].
    pub(crate) fn new_operation(
        kind: OperationKind,
        client_context: Option<String>,
        status: OperationStatus,
    ) -> CommsOperation {
        let result_info = (status == OperationStatus::Completed)
            .then(|| ResultInfo::new(200, 0, "Action completed successfully."));
        CommsOperation {
            id: Some(OperationId::new(Uuid::new_v4().to_string())),
            client_context,
            status: Some(status),
            result_info,
            kind,
        }
    }

    /// Completes a running operation after the configured delay: status `completed`, a `deleted`
    /// notification on its URL, then `on_complete`'s world changes (roster updates…).
    pub(crate) fn spawn_operation_completion(
        self: &Arc<Self>,
        call_id: CallId,
        operation_id: OperationId,
        result: ResultInfo,
        on_complete: OnComplete,
    ) {
        let weak = Arc::downgrade(self);
        let wait = self.config.timings.operation_completion;
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let Some(shared) = weak.upgrade() else { return };
            let effects = {
                let mut world = shared.world();
                let Some(call) = world.live_call(&call_id) else {
                    return;
                };
                let operations = &mut world.calls[call].operations;
                let Some(at) = operations
                    .iter()
                    .position(|op| op.id.as_ref() == Some(&operation_id))
                else {
                    return;
                };
                let mut op = operations.remove(at);
                op.status = Some(OperationStatus::Completed);
                op.result_info = Some(result);
                let notification = world.operation_notification(call, &op);
                world.enqueue(call, vec![notification]);
                shared.emit(SimEvent::OperationCompleted {
                    call_id: call_id.clone(),
                    operation_id,
                });
                on_complete(&mut world, call)
            };
            shared.run_media(effects);
        });
    }
}

/// Applies one action to a member; returns the media effects.
pub(crate) fn apply_member_action(
    world: &mut World,
    meeting: usize,
    member: usize,
    action: TimelineAction,
) -> Vec<MediaEffect> {
    apply_member_actions(world, meeting, &[(member, action)])
}

/// Applies actions to members of one meeting, then queues one roster update (if the roster
/// changed) and the content-sharing notifications, in order; returns the media effects.
pub(crate) fn apply_member_actions(
    world: &mut World,
    meeting: usize,
    actions: &[(usize, TimelineAction)],
) -> Vec<MediaEffect> {
    let calls = world.media_calls(meeting);
    let mut effects = Vec::new();
    let mut roster_changed = false;
    let mut sharing = Vec::new();
    for &(member, action) in actions {
        let state = &mut world.meetings[meeting];
        roster_changed |= change_member(state, member, action, &calls, &mut effects, &mut sharing);
    }
    if roster_changed {
        world.push_meeting_rosters(meeting);
    }
    for (change, session) in sharing {
        world.push_sharing(meeting, change, &session);
    }
    effects
}

/// Moves crowd members of a meeting in one roster change: the `leave` lowest-numbered present
/// ones leave and the `join` lowest-numbered ones absent before the change join. Returns how
/// many left and joined, and the media effects.
pub(crate) fn apply_crowd_churn(
    world: &mut World,
    meeting: usize,
    leave: u32,
    join: u32,
) -> (u32, u32, Vec<MediaEffect>) {
    let crowd = || {
        world.meetings[meeting]
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.sim.crowd)
    };
    let take = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    let mut actions: Vec<(usize, TimelineAction)> = crowd()
        .filter(|(_, m)| m.present)
        .take(take(leave))
        .map(|(i, _)| (i, TimelineAction::Leave))
        .collect();
    let left = actions.len();
    actions.extend(
        crowd()
            .filter(|(_, m)| !m.present)
            .take(take(join))
            .map(|(i, _)| (i, TimelineAction::Join)),
    );
    let joined = actions.len() - left;
    let effects = apply_member_actions(world, meeting, &actions);
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (count(left), count(joined), effects)
}

/// Applies one action to one member: its media effects go to `effects` and a content-sharing
/// change to `sharing`; returns whether the roster changed.
fn change_member(
    state: &mut MeetingState,
    member: usize,
    action: TimelineAction,
    calls: &[CallId],
    effects: &mut Vec<MediaEffect>,
    sharing: &mut Vec<(ChangeType, ContentSharingSessionId)>,
) -> bool {
    let m: &mut Member = &mut state.members[member];
    let id = m.sim.id.clone();
    let mut roster_changed = false;
    match action {
        TimelineAction::Join if !m.present => {
            m.present = true;
            let sim = m.sim.clone();
            effects.extend(
                calls
                    .iter()
                    .map(|c| MediaEffect::Joined(c.clone(), Box::new(sim.clone()))),
            );
            roster_changed = true;
        }
        TimelineAction::Leave if m.present => {
            m.present = false;
            m.speaking = false;
            effects.extend(
                calls
                    .iter()
                    .map(|c| MediaEffect::Left(c.clone(), id.clone())),
            );
            roster_changed = true;
            if let Some(at) = state.sessions.iter().position(|(_, who)| *who == id) {
                sharing.push((ChangeType::Deleted, state.sessions.remove(at).0));
            }
        }
        TimelineAction::SpeakStart | TimelineAction::SpeakStop if m.present => {
            let on = action == TimelineAction::SpeakStart;
            if m.speaking != on {
                m.speaking = on;
                effects.extend(
                    calls
                        .iter()
                        .map(|c| MediaEffect::Speaking(c.clone(), id.clone(), on)),
                );
            }
        }
        TimelineAction::Mute | TimelineAction::Unmute => {
            let on = action == TimelineAction::Mute;
            if m.sim.muted != on {
                m.sim.muted = on;
                if m.present {
                    effects.extend(
                        calls
                            .iter()
                            .map(|c| MediaEffect::Muted(c.clone(), id.clone(), on)),
                    );
                    roster_changed = true;
                }
            }
        }
        TimelineAction::ShareStart
            if m.present && !state.sessions.iter().any(|(_, who)| *who == id) =>
        {
            let session = ContentSharingSessionId::new(Uuid::new_v4().to_string());
            state.sessions.push((session.clone(), id));
            sharing.push((ChangeType::Created, session));
        }
        TimelineAction::ShareStop => {
            if let Some(at) = state.sessions.iter().position(|(_, who)| *who == id) {
                sharing.push((ChangeType::Deleted, state.sessions.remove(at).0));
            }
        }
        _ => {}
    }
    roster_changed
}
