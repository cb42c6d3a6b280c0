//! The sans-IO state machine of one Graph call (reference §6).
//!
//! # Run loop
//! A [`Call`] never does IO and never reads a clock. The driver feeds it
//! * notifications with [`Call::handle_notification`],
//! * the results of the requests it emitted with [`Call::handle_response`],
//! * timer ticks with [`Call::handle_timeout`],
//!
//! each with the current [`Instant`], and after every input drains [`Call::poll_output`] until it
//! returns [`Output::Timeout`] (call `handle_timeout` at that instant at the latest) or `None` (the
//! call has ended and needs no timer). A deadline is only valid until the next input: poll again
//! after every input. A deadline returned after `handle_timeout(now)` is always later than `now`,
//! so a driver never spins. Application decisions ([`Call::answer`], [`Call::reject`],
//! [`Call::hang_up`], [`Call::perform`], …) are inputs too and queue their request the same way.
//!
//! # States
//! `incoming → establishing → established ⇄ (hold, transferring, transferAccepted, redirecting) →
//! terminating → terminated`. Notifications may arrive out of order (Graph says so for
//! establishing/established): a state never moves back to an earlier stage, repeated states are
//! ignored, and nothing changes after `terminated`. The end of the call is always reported last, as
//! one [`CallEvent::CallEnded`] carrying Graph's `resultInfo` (e.g. `408/8537` keep-alive expiry,
//! `200/5001` conversation ended) or the local reason ([`EndCause`]).
//!
//! # Timers
//! * **Answer deadline** (incoming calls): Graph drops a call not answered, rejected or redirected
//!   within 15 s (5 s for policy-based recording). If the application has not decided by that
//!   deadline minus [`CallConfig::decision_margin`], the call sends
//!   [`CallConfig::default_decision`] (reject by default) and reports
//!   [`CallEvent::DecisionTimedOut`].
//! * **keepAlive**: every [`CallConfig::keep_alive_interval`] (15 min) from the start of the call
//!   (creation, or the answer), retried every [`CallConfig::keep_alive_retry`] after a failure, so
//!   that the 45-minute limit is never reached while Graph answers. A `404` means the call is gone.
//! * **Operation poll**: an operation with no completion notification after
//!   [`CallConfig::operation_poll_after`] is fetched with `GET …/operations/{id}`.
//! * **End grace**: after a hang-up or reject that Graph accepted but never confirmed with a
//!   `terminated` notification, the call ends locally ([`EndCause::Unconfirmed`]).
//!
//! # Panics
//! None on any input: malformed or unexpected notifications are ignored and reported.

mod request;
mod roster;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub use request::{
    CallAction, GraphAction, GraphFailure, GraphReply, GraphRequest, ReplyBody, RequestId,
};
pub use roster::{MAX_PENDING_DELTAS, Roster, can_speak};

use crate::models::{
    AnswerRequest, Call as GraphCall, CallId, CallResource, CallState, ChangeType,
    CommsNotification, CommsOperation, ModelError, Msi, OperationId, OperationStatus,
    ParticipantId, RejectReason, RejectRequest, ResourceData, ResultInfo,
};

/// How many operation completions that arrived before their action's response are remembered.
const MAX_EARLY_OPERATIONS: usize = 32;

/// Tunables of a [`Call`]. `Default` gives the documented values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallConfig {
    /// Time Graph gives an incoming call to be answered/rejected/redirected. Default 15 s.
    pub answer_timeout: Duration,
    /// The same for policy-based recording calls (`incomingContext.observedParticipantId`). Default 5 s.
    pub policy_recording_answer_timeout: Duration,
    /// How long before Graph's deadline the default decision is sent, leaving room for the request
    /// to reach Graph. Default 2 s (capped at half the timeout).
    pub decision_margin: Duration,
    /// What is sent when the application does not decide in time. Default: reject (`none`).
    pub default_decision: DefaultDecision,
    /// keepAlive period. Default 15 min; capped at half of [`CallConfig::keep_alive_limit`].
    pub keep_alive_interval: Duration,
    /// Graph's inactivity limit. Default 45 min.
    pub keep_alive_limit: Duration,
    /// Delay before retrying a failed keepAlive. Default 30 s.
    pub keep_alive_retry: Duration,
    /// Fetch an operation still running after this long; `None` waits for notifications only.
    /// Default 2 min.
    pub operation_poll_after: Option<Duration>,
    /// After a hang-up/reject accepted by Graph, end locally if no `terminated` notification comes
    /// within this time. Default 30 s.
    pub end_grace: Duration,
}

impl Default for CallConfig {
    fn default() -> Self {
        Self {
            answer_timeout: Duration::from_secs(15),
            policy_recording_answer_timeout: Duration::from_secs(5),
            decision_margin: Duration::from_secs(2),
            default_decision: DefaultDecision::Reject(RejectReason::None),
            keep_alive_interval: Duration::from_secs(15 * 60),
            keep_alive_limit: Duration::from_secs(45 * 60),
            keep_alive_retry: Duration::from_secs(30),
            operation_poll_after: Some(Duration::from_secs(120)),
            end_grace: Duration::from_secs(30),
        }
    }
}

impl CallConfig {
    fn effective_keep_alive_interval(&self) -> Duration {
        self.keep_alive_interval.min(self.keep_alive_limit / 2)
    }
}

/// What an incoming call gets when the application does not decide before the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultDecision {
    /// Reject with this reason.
    Reject(RejectReason),
    /// Answer with this request (media configuration included).
    Answer(Box<AnswerRequest>),
}

/// Whether the call came to the bot or was placed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Graph offered the call to the bot (`created` notification, state `incoming`).
    Incoming,
    /// The bot created the call or joined the meeting.
    Outgoing,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndCause {
    /// Graph reported `terminated` (or deleted the call); `result_info` says why when Graph did.
    Graph,
    /// A request on the call (keepAlive, hang-up, get) answered `404`: the call no longer exists.
    NotFound,
    /// The bot hung up or rejected, Graph accepted, and no `terminated` notification followed within
    /// [`CallConfig::end_grace`].
    Unconfirmed,
}

/// What a termination `resultInfo` means, for the codes Graph documents (reference §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// `200/4097`, `200/4521`, `200/18503`, `200/540000`, `200/560000`: the other side hung up.
    OtherPartyLeft,
    /// `200/5000`, `200/5300`: the bot was removed by a participant.
    RemovedByParticipant,
    /// `200/5001`…`200/5030`: the conversation ended (everyone left, no host, breakout over, …).
    ConversationEnded,
    /// `200/5855`: removed from the lobby after inactivity.
    LobbyTimeout,
    /// `200/7000`, `200/10550`: ended by the bot.
    EndedByBot,
    /// `0/7015` or `200/7015`: a transfer completed.
    TransferCompleted,
    /// `408/8537`: no keepAlive within 45 minutes.
    KeepAliveExpired,
    /// `408/1106`: the incoming call was not answered in time.
    AnswerTimeout,
    /// `408/10057`, `480/*`: the callee could not be reached.
    Unreachable,
    /// `410/301005`, `500/1005`: media connectivity between Graph and the bot failed.
    MediaFailure,
    /// Any other code, or none.
    Other,
}

impl EndReason {
    /// Classifies a termination `resultInfo`.
    pub fn of(result_info: &ResultInfo) -> Self {
        match (result_info.code, result_info.subcode) {
            (Some(200), Some(4097 | 4521 | 18503 | 540000 | 560000)) => Self::OtherPartyLeft,
            (Some(200), Some(5000 | 5300)) => Self::RemovedByParticipant,
            (Some(200), Some(5001..=5030)) => Self::ConversationEnded,
            (Some(200), Some(5855)) => Self::LobbyTimeout,
            (Some(200), Some(7000 | 10550)) => Self::EndedByBot,
            (Some(0 | 200), Some(7015)) => Self::TransferCompleted,
            (Some(408), Some(8537)) => Self::KeepAliveExpired,
            (Some(408), Some(1106)) => Self::AnswerTimeout,
            (Some(408), Some(10057)) | (Some(480), _) => Self::Unreachable,
            (Some(410), Some(301005)) | (Some(500), Some(1005)) => Self::MediaFailure,
            _ => Self::Other,
        }
    }
}

/// How a tracked operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationOutcome {
    /// `status: completed`.
    Completed,
    /// `status: failed` (see `result_info`).
    Failed,
    /// No final state will be known: the operation is gone (`404`) or the call ended first.
    Lost,
}

/// Something the application should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallEvent {
    /// An incoming call awaits [`Call::answer`], [`Call::reject`] or a redirect before `respond_by`.
    Incoming {
        /// The call as Graph offered it (source, targets, modalities, …).
        call: Box<GraphCall>,
        /// When the default decision will be sent.
        respond_by: Instant,
    },
    /// No decision came in time; this one was sent instead.
    DecisionTimedOut {
        /// The decision sent.
        applied: DefaultDecision,
    },
    /// The call state changed.
    StateChanged {
        /// Previous state.
        from: CallState,
        /// New state.
        to: CallState,
    },
    /// A transfer failed and the call is back to `established`.
    TransferFailed {
        /// Graph's reason (e.g. `500/7000`).
        result_info: Option<ResultInfo>,
    },
    /// A participant appeared in the roster.
    ParticipantJoined {
        /// Who.
        participant: ParticipantId,
        /// Waiting in the lobby.
        in_lobby: bool,
        /// Muted on arrival.
        muted: bool,
        /// May be heard (see [`can_speak`]).
        can_speak: bool,
    },
    /// A participant was admitted from the lobby.
    ParticipantAdmitted {
        /// Who.
        participant: ParticipantId,
    },
    /// A participant left the roster.
    ParticipantLeft {
        /// Who.
        participant: ParticipantId,
        /// `removedState.reason` (delta roster), if given.
        reason: Option<String>,
    },
    /// A participant became muted.
    ParticipantMuted {
        /// Who.
        participant: ParticipantId,
    },
    /// A participant became unmuted.
    ParticipantUnmuted {
        /// Who.
        participant: ParticipantId,
    },
    /// A participant gained or lost the ability to be heard (see [`can_speak`]).
    SpeakingCapabilityChanged {
        /// Who.
        participant: ParticipantId,
        /// The new capability.
        can_speak: bool,
    },
    /// An audio MSI now belongs to a participant (new, or moved to another participant).
    MsiMapped {
        /// The media source id.
        msi: Msi,
        /// Its participant.
        participant: ParticipantId,
    },
    /// An audio MSI no longer belongs to anyone.
    MsiUnmapped {
        /// The media source id.
        msi: Msi,
    },
    /// Delta rosters skipped a sequence number; a full roster ([`Call::refresh_roster`]) resyncs.
    RosterGap {
        /// The sequence number that is missing.
        expected: i64,
        /// The newest sequence number received.
        received: i64,
    },
    /// An action requested with [`Call::perform`] was accepted by Graph.
    ActionAccepted {
        /// The request.
        request_id: RequestId,
        /// The action's name ([`CallAction::name`]).
        action: &'static str,
        /// The operation now tracked, if Graph returned one that is still running.
        operation_id: Option<OperationId>,
    },
    /// A tracked operation reached its final state.
    OperationFinished {
        /// The request that started it.
        request_id: RequestId,
        /// The action's name.
        action: &'static str,
        /// The operation id, when Graph gave one.
        operation_id: Option<OperationId>,
        /// How it ended.
        outcome: OperationOutcome,
        /// Graph's result (`200/0`, `400/8508`, …), when given.
        result_info: Option<ResultInfo>,
        /// The final operation (subtype fields such as a recording location), when known.
        operation: Option<Box<CommsOperation>>,
    },
    /// A request failed (other than keepAlive, which has its own event).
    RequestFailed {
        /// The request.
        request_id: RequestId,
        /// The action's name ([`GraphAction::name`]).
        action: &'static str,
        /// What Graph (or the transport) said.
        failure: GraphFailure,
    },
    /// A keepAlive failed; it is retried after [`CallConfig::keep_alive_retry`].
    KeepAliveFailed {
        /// What went wrong.
        failure: GraphFailure,
    },
    /// The keep-alive limit passed without a successful keepAlive: Graph may end the call.
    KeepAliveOverdue {
        /// When the last successful keepAlive (or the call start) was.
        last_success: Instant,
    },
    /// A notification was understood but not used (e.g. content sharing, unknown resource type).
    NotificationIgnored {
        /// Why, for logs.
        reason: &'static str,
    },
    /// The call is over. Always the last event of a call.
    CallEnded {
        /// Graph's `resultInfo` (code/subcode/message), when it gave one.
        result_info: Option<ResultInfo>,
        /// What ended it.
        cause: EndCause,
    },
}

/// What a [`Call`] wants the driver to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this request and hand the result to [`Call::handle_response`].
    Request(GraphRequest),
    /// Tell the application.
    Event(CallEvent),
    /// Nothing more to do until this instant: call [`Call::handle_timeout`] then.
    Timeout(Instant),
}

/// Why an input or a decision was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The notification names a different call.
    #[error("notification for call {got} handed to call {expected}")]
    WrongCall {
        /// This call.
        expected: CallId,
        /// The call the notification names.
        got: CallId,
    },
    /// The notification's resource URL names no call.
    #[error("notification cannot be routed")]
    Unroutable(#[source] ModelError),
    /// A response for a request this call did not emit (or already got a response for).
    #[error("no request {0} is pending on this call")]
    UnknownRequest(RequestId),
    /// answer/reject on a call that is not an incoming call awaiting a decision.
    #[error("the call is not awaiting an answer")]
    NotIncoming,
    /// answer/reject after a decision was already sent (by the application or by the deadline).
    #[error("the incoming call was already answered, rejected or redirected")]
    AlreadyDecided,
    /// The call has ended (or is being hung up); no further actions.
    #[error("the call has ended")]
    Ended,
    /// Hang-up on an incoming call still awaiting its decision: reject it instead.
    #[error("the incoming call awaits a decision; reject it instead of hanging up")]
    AwaitingDecision,
    /// A create-call response without a call id.
    #[error("the call resource has no id")]
    MissingCallId,
}

/// What an in-flight request was for.
#[derive(Debug, Clone)]
enum Pending {
    Answer,
    Reject,
    KeepAlive,
    HangUp,
    GetCall,
    ListParticipants,
    GetOperation(OperationId),
    Perform(&'static str),
}

#[derive(Debug, Clone)]
struct TrackedOperation {
    request_id: RequestId,
    action: &'static str,
    poll_at: Option<Instant>,
    poll_in_flight: bool,
}

#[derive(Debug, Clone)]
struct KeepAlive {
    next_at: Instant,
    last_success: Instant,
    in_flight: bool,
    overdue_reported: bool,
}

/// One call: state, roster, keepAlive, answer deadline and operations. See the [module docs](self).
#[derive(Debug)]
pub struct Call {
    id: CallId,
    config: CallConfig,
    direction: Direction,
    state: CallState,
    my_participant_id: Option<ParticipantId>,
    result_info: Option<ResultInfo>,
    roster: Roster,
    outputs: VecDeque<Output>,
    request_scope: u64,
    next_request: u64,
    pending: HashMap<RequestId, Pending>,
    decision_deadline: Option<Instant>,
    decided: bool,
    keep_alive: Option<KeepAlive>,
    operations: HashMap<OperationId, TrackedOperation>,
    early_operations: VecDeque<(OperationId, CommsOperation)>,
    end_deadline: Option<Instant>,
    hanging_up: bool,
    ended: bool,
}

impl Call {
    fn blank(id: CallId, config: CallConfig, direction: Direction, state: CallState) -> Self {
        Self {
            id,
            config,
            direction,
            state,
            my_participant_id: None,
            result_info: None,
            roster: Roster::new(),
            outputs: VecDeque::new(),
            request_scope: 0,
            next_request: 0,
            pending: HashMap::new(),
            decision_deadline: None,
            decided: false,
            keep_alive: None,
            operations: HashMap::new(),
            early_operations: VecDeque::new(),
            end_deadline: None,
            hanging_up: false,
            ended: false,
        }
    }

    /// A call Graph offers the bot (`created` notification with state `incoming`), received at `now`.
    ///
    /// Queues [`CallEvent::Incoming`] and arms the answer deadline.
    pub fn incoming(now: Instant, id: CallId, offered: GraphCall, config: CallConfig) -> Self {
        let policy_recording = offered
            .incoming_context
            .as_ref()
            .is_some_and(|c| c.observed_participant_id.is_some());
        let timeout = if policy_recording {
            config.policy_recording_answer_timeout
        } else {
            config.answer_timeout
        };
        let margin = config.decision_margin.min(timeout / 2);
        let respond_by = now + (timeout - margin);
        let mut call = Self::blank(id, config, Direction::Incoming, CallState::Incoming);
        call.my_participant_id = offered.my_participant_id.clone();
        call.decision_deadline = Some(respond_by);
        call.event(CallEvent::Incoming {
            call: Box::new(offered),
            respond_by,
        });
        call
    }

    /// A call the bot created, from the create-call response (`201`, state `establishing`)
    /// received at `now`. keepAlive counts from `now`.
    pub fn outgoing(
        now: Instant,
        created: &GraphCall,
        config: CallConfig,
    ) -> Result<Self, CallError> {
        let id = created.id.clone().ok_or(CallError::MissingCallId)?;
        let state = match &created.state {
            Some(state) if !matches!(state, CallState::Unknown(_)) => state.clone(),
            _ => CallState::Establishing,
        };
        let mut call = Self::blank(id, config, Direction::Outgoing, state);
        call.my_participant_id = created.my_participant_id.clone();
        call.decided = true;
        call.start_keep_alive(now);
        Ok(call)
    }

    /// Makes request ids unique across calls: ids become `scope << 32 | n`. The endpoint gives each
    /// call its own scope.
    pub(crate) fn set_request_scope(&mut self, scope: u64) {
        self.request_scope = scope;
    }

    // ---- accessors ---------------------------------------------------------------------------

    /// The call id.
    pub fn id(&self) -> &CallId {
        &self.id
    }

    /// The current state.
    pub fn state(&self) -> &CallState {
        &self.state
    }

    /// Incoming or outgoing.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The bot's own participant id, once Graph said it.
    pub fn my_participant_id(&self) -> Option<&ParticipantId> {
        self.my_participant_id.as_ref()
    }

    /// The last `resultInfo` Graph attached to the call (the termination reason once ended).
    pub fn result_info(&self) -> Option<&ResultInfo> {
        self.result_info.as_ref()
    }

    /// The roster.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// Who sends audio with this MSI (late binding: ask again after [`CallEvent::MsiMapped`]).
    pub fn participant_for_msi(&self, msi: Msi) -> Option<&ParticipantId> {
        self.roster.participant_for_msi(msi)
    }

    /// True once [`CallEvent::CallEnded`] has been queued.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Operations still awaiting their final state.
    pub fn pending_operations(&self) -> impl Iterator<Item = &OperationId> {
        self.operations.keys()
    }

    /// When the last successful keepAlive (or the start of the keepAlive clock) was.
    pub fn last_keep_alive(&self) -> Option<Instant> {
        self.keep_alive.as_ref().map(|k| k.last_success)
    }

    // ---- application decisions -----------------------------------------------------------------

    /// Answers an incoming call. Must come before the deadline in [`CallEvent::Incoming`].
    pub fn answer(&mut self, now: Instant, answer: AnswerRequest) -> Result<RequestId, CallError> {
        self.take_decision()?;
        let id = self.request(GraphAction::Answer(Box::new(answer)), Pending::Answer);
        self.start_keep_alive(now);
        Ok(id)
    }

    /// Rejects an incoming call.
    pub fn reject(&mut self, now: Instant, reason: RejectReason) -> Result<RequestId, CallError> {
        self.take_decision()?;
        let _ = now;
        Ok(self.request(
            GraphAction::Reject(RejectRequest {
                reason: Some(reason),
                callback_uri: None,
            }),
            Pending::Reject,
        ))
    }

    /// Hangs up (`DELETE` the call). The end is reported when Graph confirms, or after
    /// [`CallConfig::end_grace`].
    pub fn hang_up(&mut self, now: Instant) -> Result<RequestId, CallError> {
        if self.ended || self.hanging_up {
            return Err(CallError::Ended);
        }
        if self.state == CallState::Incoming && !self.decided {
            return Err(CallError::AwaitingDecision);
        }
        let _ = now;
        self.hanging_up = true;
        self.decided = true;
        self.decision_deadline = None;
        Ok(self.request(GraphAction::HangUp, Pending::HangUp))
    }

    /// Sends an application action. Actions that return a running operation are tracked until it
    /// finishes ([`CallEvent::OperationFinished`]). A redirect counts as the incoming call's decision.
    pub fn perform(&mut self, now: Instant, action: CallAction) -> Result<RequestId, CallError> {
        let _ = now;
        if matches!(action, CallAction::Redirect(_)) {
            self.take_decision()?;
        } else if self.ended || self.hanging_up {
            return Err(CallError::Ended);
        }
        let name = action.name();
        Ok(self.request(GraphAction::Perform(action), Pending::Perform(name)))
    }

    /// Fetches the full roster (`GET …/participants`), e.g. after [`CallEvent::RosterGap`].
    pub fn refresh_roster(&mut self, now: Instant) -> Result<RequestId, CallError> {
        let _ = now;
        self.ensure_live()?;
        Ok(self.request(GraphAction::ListParticipants, Pending::ListParticipants))
    }

    /// Fetches the call (`GET /communications/calls/{id}`) to resynchronise its state.
    pub fn refresh_state(&mut self, now: Instant) -> Result<RequestId, CallError> {
        let _ = now;
        self.ensure_live()?;
        Ok(self.request(GraphAction::GetCall, Pending::GetCall))
    }

    // ---- inputs --------------------------------------------------------------------------------

    /// Feeds one notification about this call.
    pub fn handle_notification(
        &mut self,
        now: Instant,
        notification: CommsNotification,
    ) -> Result<(), CallError> {
        let target = notification.resource_ref().map_err(CallError::Unroutable)?;
        if target.call_id != self.id {
            return Err(CallError::WrongCall {
                expected: self.id.clone(),
                got: target.call_id,
            });
        }
        if self.ended {
            return Ok(());
        }
        let change = notification.change_type;
        match (notification.resource_data, target.resource) {
            (ResourceData::Call(call), _) => self.on_call_update(now, change, *call),
            (ResourceData::Absent, CallResource::Call) if change == ChangeType::Deleted => {
                self.end(None, EndCause::Graph);
            }
            (ResourceData::Participants(list), resource) => {
                let mut events = Vec::new();
                match (change, resource) {
                    (ChangeType::Deleted, _) => self.roster.apply_removals(list, &mut events),
                    (ChangeType::Created, _) | (_, CallResource::Participant(_)) => {
                        self.roster.apply_upserts(list, &mut events)
                    }
                    _ => self.roster.apply_snapshot(list, &mut events),
                }
                self.events(events);
            }
            (ResourceData::DeltaParticipants(delta), _) => {
                let mut events = Vec::new();
                self.roster
                    .apply_delta(delta.sequence_number, delta.participants, &mut events);
                self.events(events);
            }
            (ResourceData::Operation(operation), resource) => {
                let from_url = match resource {
                    CallResource::Operation(id) => Some(id),
                    _ => None,
                };
                self.on_operation_update(now, from_url, operation);
            }
            (ResourceData::ContentSharingSessions(_), _) => {
                self.event(CallEvent::NotificationIgnored {
                    reason: "content sharing sessions are not tracked",
                })
            }
            (ResourceData::ParticipantJoining(_) | ResourceData::ParticipantLeft(_), _) => self
                .event(CallEvent::NotificationIgnored {
                    reason: "policy-recording participant capacity notifications are not handled",
                }),
            (ResourceData::Other { .. }, _) => self.event(CallEvent::NotificationIgnored {
                reason: "unknown resource type",
            }),
            (ResourceData::Absent, _) => self.event(CallEvent::NotificationIgnored {
                reason: "notification without resource data",
            }),
        }
        Ok(())
    }

    /// Feeds the result of a request this call emitted.
    pub fn handle_response(
        &mut self,
        now: Instant,
        request_id: RequestId,
        result: Result<GraphReply, GraphFailure>,
    ) -> Result<(), CallError> {
        let pending = self
            .pending
            .remove(&request_id)
            .ok_or(CallError::UnknownRequest(request_id))?;
        if self.ended {
            return Ok(());
        }
        match pending {
            Pending::KeepAlive => self.on_keep_alive_result(now, result),
            Pending::Answer | Pending::Reject | Pending::HangUp => {
                let action = match pending {
                    Pending::Answer => "answer",
                    Pending::Reject => "reject",
                    _ => "hangUp",
                };
                match result {
                    Ok(_) => {
                        if !matches!(pending, Pending::Answer) {
                            // Graph confirms with a `deleted` notification; don't wait forever.
                            self.end_deadline = Some(now + self.config.end_grace);
                        }
                    }
                    Err(failure) if failure.is_not_found() => self.end(None, EndCause::NotFound),
                    Err(failure) => {
                        if matches!(pending, Pending::HangUp) {
                            self.hanging_up = false;
                        }
                        self.event(CallEvent::RequestFailed {
                            request_id,
                            action,
                            failure,
                        });
                    }
                }
            }
            Pending::GetCall => match result {
                Ok(GraphReply {
                    body: ReplyBody::Call(call),
                    ..
                }) => self.on_call_update(now, ChangeType::Updated, *call),
                Ok(_) => {}
                Err(failure) if failure.is_not_found() => self.end(None, EndCause::NotFound),
                Err(failure) => self.event(CallEvent::RequestFailed {
                    request_id,
                    action: "getCall",
                    failure,
                }),
            },
            Pending::ListParticipants => match result {
                Ok(GraphReply {
                    body: ReplyBody::Participants(list),
                    ..
                }) => {
                    let mut events = Vec::new();
                    self.roster.apply_snapshot(list, &mut events);
                    self.events(events);
                }
                Ok(_) => {}
                Err(failure) => self.event(CallEvent::RequestFailed {
                    request_id,
                    action: "listParticipants",
                    failure,
                }),
            },
            Pending::GetOperation(operation_id) => {
                self.on_operation_poll(now, operation_id, result)
            }
            Pending::Perform(action) => self.on_action_result(now, request_id, action, result),
        }
        Ok(())
    }

    /// Advances timers to `now`: answer deadline, keepAlive, operation polls, end grace.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ended {
            return;
        }
        if let Some(deadline) = self.decision_deadline
            && now >= deadline
        {
            self.apply_default_decision(now);
        }
        if self.end_deadline.is_some_and(|deadline| now >= deadline) {
            self.end(None, EndCause::Unconfirmed);
            return;
        }
        self.keep_alive_tick(now);
        self.poll_operations(now);
    }

    /// The next output: queued requests and events first, then the next deadline. `None` once the
    /// call has ended and everything was drained.
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(output) = self.outputs.pop_front() {
            return Some(output);
        }
        self.poll_timeout().map(Output::Timeout)
    }

    /// The next instant [`Call::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        let keep_alive = self.keep_alive_deadline();
        let operations = self
            .operations
            .values()
            .filter(|op| !op.poll_in_flight)
            .filter_map(|op| op.poll_at);
        [self.decision_deadline, self.end_deadline, keep_alive]
            .into_iter()
            .flatten()
            .chain(operations)
            .min()
    }

    // ---- internals -----------------------------------------------------------------------------

    fn event(&mut self, event: CallEvent) {
        self.trace(&event);
        self.outputs.push_back(Output::Event(event));
    }

    fn events(&mut self, events: Vec<CallEvent>) {
        for event in events {
            self.event(event);
        }
    }

    /// Logs the events an operator needs; ids only (no names, no addresses).
    fn trace(&self, event: &CallEvent) {
        let call_id = self.id.as_str();
        match event {
            CallEvent::StateChanged { from, to } => {
                tracing::debug!(
                    call_id,
                    from = from.as_str(),
                    to = to.as_str(),
                    "call state"
                )
            }
            CallEvent::DecisionTimedOut { .. } => {
                tracing::warn!(call_id, "no answer/reject decision in time; default sent")
            }
            CallEvent::RosterGap { expected, received } => {
                tracing::info!(call_id, expected, received, "delta roster gap")
            }
            CallEvent::KeepAliveFailed { failure } => {
                tracing::warn!(call_id, %failure, "keepAlive failed")
            }
            CallEvent::KeepAliveOverdue { .. } => {
                tracing::warn!(call_id, "no successful keepAlive within the limit")
            }
            CallEvent::RequestFailed {
                action, failure, ..
            } => {
                tracing::warn!(call_id, action, %failure, "Graph request failed")
            }
            CallEvent::NotificationIgnored { reason } => {
                tracing::debug!(call_id, reason, "notification ignored")
            }
            CallEvent::CallEnded { result_info, cause } => tracing::info!(
                call_id,
                code = result_info.as_ref().and_then(|r| r.code),
                subcode = result_info.as_ref().and_then(|r| r.subcode),
                ?cause,
                "call ended"
            ),
            _ => {}
        }
    }

    fn request(&mut self, action: GraphAction, pending: Pending) -> RequestId {
        self.next_request += 1;
        let id = RequestId((self.request_scope << 32) | self.next_request);
        self.pending.insert(id, pending);
        self.outputs.push_back(Output::Request(GraphRequest {
            id,
            call_id: Some(self.id.clone()),
            action,
        }));
        id
    }

    fn ensure_live(&self) -> Result<(), CallError> {
        if self.ended {
            Err(CallError::Ended)
        } else {
            Ok(())
        }
    }

    fn take_decision(&mut self) -> Result<(), CallError> {
        self.ensure_live()?;
        if self.direction != Direction::Incoming || self.state != CallState::Incoming {
            return Err(CallError::NotIncoming);
        }
        if self.decided {
            return Err(CallError::AlreadyDecided);
        }
        self.decided = true;
        self.decision_deadline = None;
        Ok(())
    }

    fn apply_default_decision(&mut self, now: Instant) {
        self.decision_deadline = None;
        if self.decided {
            return;
        }
        self.decided = true;
        let applied = self.config.default_decision.clone();
        match &applied {
            DefaultDecision::Reject(reason) => {
                self.request(
                    GraphAction::Reject(RejectRequest {
                        reason: Some(reason.clone()),
                        callback_uri: None,
                    }),
                    Pending::Reject,
                );
            }
            DefaultDecision::Answer(answer) => {
                self.request(GraphAction::Answer(answer.clone()), Pending::Answer);
                self.start_keep_alive(now);
            }
        }
        self.event(CallEvent::DecisionTimedOut { applied });
    }

    fn on_call_update(&mut self, now: Instant, change: ChangeType, call: GraphCall) {
        if call.my_participant_id.is_some() {
            self.my_participant_id = call.my_participant_id.clone();
        }
        if call.result_info.is_some() {
            self.result_info = call.result_info.clone();
        }
        if change == ChangeType::Deleted || call.state == Some(CallState::Terminated) {
            self.end(call.result_info, EndCause::Graph);
            return;
        }
        let Some(to) = call.state else {
            return;
        };
        let (Some(from_rank), Some(to_rank)) = (stage(&self.state), stage(&to)) else {
            self.event(CallEvent::NotificationIgnored {
                reason: "unknown call state",
            });
            return;
        };
        if to == self.state || to_rank < from_rank {
            // Repeated or late (out-of-order) state: never move backwards.
            return;
        }
        let from = std::mem::replace(&mut self.state, to.clone());
        if from == CallState::Incoming {
            // Answered (by us, or elsewhere): the decision window is over.
            self.decided = true;
            self.decision_deadline = None;
            self.start_keep_alive(now);
        }
        self.event(CallEvent::StateChanged {
            from: from.clone(),
            to: to.clone(),
        });
        if matches!(from, CallState::Transferring | CallState::TransferAccepted)
            && to == CallState::Established
        {
            self.event(CallEvent::TransferFailed {
                result_info: call.result_info,
            });
        }
    }

    fn end(&mut self, result_info: Option<ResultInfo>, cause: EndCause) {
        if self.ended {
            return;
        }
        if result_info.is_some() {
            self.result_info = result_info.clone();
        }
        if self.state != CallState::Terminated {
            let from = std::mem::replace(&mut self.state, CallState::Terminated);
            self.event(CallEvent::StateChanged {
                from,
                to: CallState::Terminated,
            });
        }
        let mut lost: Vec<(OperationId, TrackedOperation)> = self.operations.drain().collect();
        lost.sort_by_key(|(_, op)| op.request_id);
        for (operation_id, op) in lost {
            self.event(CallEvent::OperationFinished {
                request_id: op.request_id,
                action: op.action,
                operation_id: Some(operation_id),
                outcome: OperationOutcome::Lost,
                result_info: None,
                operation: None,
            });
        }
        self.ended = true;
        self.decision_deadline = None;
        self.end_deadline = None;
        self.keep_alive = None;
        self.early_operations.clear();
        self.event(CallEvent::CallEnded { result_info, cause });
    }

    // ---- keepAlive -----------------------------------------------------------------------------

    fn start_keep_alive(&mut self, now: Instant) {
        if self.keep_alive.is_none() {
            self.keep_alive = Some(KeepAlive {
                next_at: now + self.config.effective_keep_alive_interval(),
                last_success: now,
                in_flight: false,
                overdue_reported: false,
            });
        }
    }

    /// keepAlive stops once the call is being torn down (hang-up sent, or `terminating`).
    fn keep_alive_active(&self) -> bool {
        !self.hanging_up && !self.state.is_ending()
    }

    /// The next keepAlive instant: the next send (unless one is in flight) or, until reported,
    /// the moment the limit is overdue. Never an instant that was already handled.
    fn keep_alive_deadline(&self) -> Option<Instant> {
        if !self.keep_alive_active() {
            return None;
        }
        let k = self.keep_alive.as_ref()?;
        let send = (!k.in_flight).then_some(k.next_at);
        let overdue = (!k.overdue_reported).then(|| k.last_success + self.config.keep_alive_limit);
        [send, overdue].into_iter().flatten().min()
    }

    fn keep_alive_tick(&mut self, now: Instant) {
        if !self.keep_alive_active() {
            return;
        }
        let limit = self.config.keep_alive_limit;
        let Some(keep_alive) = self.keep_alive.as_mut() else {
            return;
        };
        let overdue = !keep_alive.overdue_reported && now >= keep_alive.last_success + limit;
        if overdue {
            keep_alive.overdue_reported = true;
        }
        let send = !keep_alive.in_flight && now >= keep_alive.next_at;
        if send {
            keep_alive.in_flight = true;
        }
        let last_success = keep_alive.last_success;
        if send {
            self.request(GraphAction::KeepAlive, Pending::KeepAlive);
        }
        if overdue {
            self.event(CallEvent::KeepAliveOverdue { last_success });
        }
    }

    fn on_keep_alive_result(&mut self, now: Instant, result: Result<GraphReply, GraphFailure>) {
        let interval = self.config.effective_keep_alive_interval();
        let retry = self.config.keep_alive_retry;
        match result {
            Err(failure) if failure.is_not_found() => self.end(None, EndCause::NotFound),
            Ok(_) => {
                if let Some(keep_alive) = self.keep_alive.as_mut() {
                    keep_alive.in_flight = false;
                    keep_alive.last_success = now;
                    keep_alive.next_at = now + interval;
                    keep_alive.overdue_reported = false;
                }
            }
            Err(failure) => {
                if let Some(keep_alive) = self.keep_alive.as_mut() {
                    keep_alive.in_flight = false;
                    keep_alive.next_at = now + retry;
                }
                self.event(CallEvent::KeepAliveFailed { failure });
            }
        }
    }

    // ---- operations ----------------------------------------------------------------------------

    fn on_action_result(
        &mut self,
        now: Instant,
        request_id: RequestId,
        action: &'static str,
        result: Result<GraphReply, GraphFailure>,
    ) {
        let reply = match result {
            Ok(reply) => reply,
            Err(failure) => {
                if action == "redirect" && failure.is_not_found() {
                    self.end(None, EndCause::NotFound);
                    return;
                }
                self.event(CallEvent::RequestFailed {
                    request_id,
                    action,
                    failure,
                });
                return;
            }
        };
        if action == "redirect" {
            // The call leaves the bot; Graph confirms with a deleted notification.
            self.end_deadline = Some(now + self.config.end_grace);
        }
        let location_id = reply.location_operation_id();
        let operation = match reply.body {
            ReplyBody::Operation(operation) => Some(*operation),
            _ => None,
        };
        let operation_id = operation
            .as_ref()
            .and_then(|op| op.id.clone())
            .or(location_id);
        if let Some(operation) = operation.filter(CommsOperation::is_final) {
            self.event(CallEvent::ActionAccepted {
                request_id,
                action,
                operation_id: None,
            });
            self.finish_operation(request_id, action, operation_id, operation);
            return;
        }
        let Some(operation_id) = operation_id else {
            self.event(CallEvent::ActionAccepted {
                request_id,
                action,
                operation_id: None,
            });
            return;
        };
        self.event(CallEvent::ActionAccepted {
            request_id,
            action,
            operation_id: Some(operation_id.clone()),
        });
        // The completion notification may have overtaken the response.
        if let Some(index) = self
            .early_operations
            .iter()
            .position(|(id, _)| *id == operation_id)
            && let Some((_, done)) = self.early_operations.remove(index)
        {
            self.finish_operation(request_id, action, Some(operation_id), done);
            return;
        }
        self.operations.insert(
            operation_id,
            TrackedOperation {
                request_id,
                action,
                poll_at: self.config.operation_poll_after.map(|after| now + after),
                poll_in_flight: false,
            },
        );
    }

    fn on_operation_update(
        &mut self,
        _now: Instant,
        from_url: Option<OperationId>,
        operation: CommsOperation,
    ) {
        let Some(operation_id) = operation.id.clone().or(from_url) else {
            self.event(CallEvent::NotificationIgnored {
                reason: "operation notification without an operation id",
            });
            return;
        };
        if !operation.is_final() {
            return;
        }
        match self.operations.remove(&operation_id) {
            Some(tracked) => self.finish_operation(
                tracked.request_id,
                tracked.action,
                Some(operation_id),
                operation,
            ),
            None => {
                if self.early_operations.len() == MAX_EARLY_OPERATIONS {
                    self.early_operations.pop_front();
                }
                self.early_operations.push_back((operation_id, operation));
            }
        }
    }

    fn on_operation_poll(
        &mut self,
        now: Instant,
        operation_id: OperationId,
        result: Result<GraphReply, GraphFailure>,
    ) {
        let Some(mut tracked) = self.operations.remove(&operation_id) else {
            return;
        };
        match result {
            Ok(GraphReply {
                body: ReplyBody::Operation(operation),
                ..
            }) if operation.is_final() => {
                self.finish_operation(
                    tracked.request_id,
                    tracked.action,
                    Some(operation_id),
                    *operation,
                );
                return;
            }
            Err(failure) if failure.is_not_found() => {
                self.event(CallEvent::OperationFinished {
                    request_id: tracked.request_id,
                    action: tracked.action,
                    operation_id: Some(operation_id),
                    outcome: OperationOutcome::Lost,
                    result_info: None,
                    operation: None,
                });
                return;
            }
            _ => {}
        }
        tracked.poll_in_flight = false;
        tracked.poll_at = self.config.operation_poll_after.map(|after| now + after);
        self.operations.insert(operation_id, tracked);
    }

    fn poll_operations(&mut self, now: Instant) {
        let mut due: Vec<(RequestId, OperationId)> = self
            .operations
            .iter_mut()
            .filter(|(_, op)| !op.poll_in_flight && op.poll_at.is_some_and(|at| now >= at))
            .map(|(id, op)| {
                op.poll_in_flight = true;
                (op.request_id, id.clone())
            })
            .collect();
        due.sort_by_key(|(request_id, _)| *request_id);
        for (_, operation_id) in due {
            self.request(
                GraphAction::GetOperation(operation_id.clone()),
                Pending::GetOperation(operation_id),
            );
        }
    }

    fn finish_operation(
        &mut self,
        request_id: RequestId,
        action: &'static str,
        operation_id: Option<OperationId>,
        operation: CommsOperation,
    ) {
        let outcome = match operation.status {
            Some(OperationStatus::Completed) => OperationOutcome::Completed,
            _ => OperationOutcome::Failed,
        };
        self.event(CallEvent::OperationFinished {
            request_id,
            action,
            operation_id,
            outcome,
            result_info: operation.result_info.clone(),
            operation: Some(Box::new(operation)),
        });
    }
}

/// The stage of a call state: states of one stage may follow each other in any order, a later
/// stage never goes back to an earlier one. `None` for unknown states.
fn stage(state: &CallState) -> Option<u8> {
    Some(match state {
        CallState::Incoming => 0,
        CallState::Establishing | CallState::Ringing => 1,
        CallState::Established
        | CallState::Hold
        | CallState::Transferring
        | CallState::TransferAccepted
        | CallState::Redirecting => 2,
        CallState::Terminating => 3,
        CallState::Terminated => 4,
        _ => return None,
    })
}
