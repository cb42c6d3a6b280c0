//! Many calls behind one callback URL: the sans-IO [`Endpoint`] routes each notification to its
//! [`Call`] by the call id in `resourceUrl` (or the legacy `resource`) and multiplexes their outputs.
//!
//! # Run loop
//! Same as [`Call`]'s: feed [`Endpoint::handle_notifications`] (or one at a time with
//! [`Endpoint::handle_notification`]), [`Endpoint::handle_response`] and
//! [`Endpoint::handle_timeout`] with the current [`Instant`], then drain [`Endpoint::poll_output`]
//! until [`Output::Timeout`] or `None`.
//!
//! # Routing
//! * Call ids are compared as Graph's GUIDs (case and hyphens ignored), so
//!   `/communications/calls/57DAB8B1…` and `communications/calls/57dab8b1-…` reach the same call;
//!   `/app/calls/…` and a missing leading slash are accepted (see
//!   [`ResourceRef`](crate::models::ResourceRef)).
//! * A `created` notification carrying an `incoming` call creates an incoming [`Call`].
//! * A call the bot creates is added from the create-call response: either the endpoint sends the
//!   request ([`Endpoint::create_call`]) or the driver reports a response it got itself
//!   ([`Endpoint::add_outgoing_call`]). Notifications that overtake the create response are held
//!   (at most [`MAX_HELD_NOTIFICATIONS`]) while a create is in flight and replayed afterwards.
//! * Anything else about an unknown call is reported ([`EndpointEvent::UnknownCall`], or
//!   [`EndpointEvent::LateNotification`] for a call that ended here) and dropped.
//! * A call is removed right after its [`CallEvent::CallEnded`] is queued, followed by
//!   [`EndpointEvent::CallRemoved`].
//!
//! Request ids are unique across the endpoint: each call numbers its requests in its own 32-bit
//! scope.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use crate::call::{
    Call, CallConfig, CallError, CallEvent, GraphAction, GraphFailure, GraphReply, GraphRequest,
    Output as CallOutput, ReplyBody, RequestId,
};
use crate::models::{
    Call as GraphCall, CallId, CallState, ChangeType, CommsNotification, CommsNotifications,
    ModelError, ResourceData,
};

/// How many notifications for unknown calls are held while a create-call request is in flight.
pub const MAX_HELD_NOTIFICATIONS: usize = 64;

/// How many ended call ids are remembered to recognise late notifications.
pub const MAX_REMEMBERED_ENDED_CALLS: usize = 256;

/// Something the application should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointEvent {
    /// An event of one call.
    Call {
        /// Which call.
        call_id: CallId,
        /// What happened.
        event: CallEvent,
    },
    /// A call the bot created exists now (its create-call response arrived).
    CallCreated {
        /// The new call.
        call_id: CallId,
        /// The create request.
        request_id: RequestId,
    },
    /// A create-call request failed (e.g. `403/7504` missing consent).
    CreateFailed {
        /// The create request.
        request_id: RequestId,
        /// Why.
        failure: GraphFailure,
    },
    /// A notification about a call this endpoint does not know (ended earlier, or owned by another
    /// instance); it was dropped.
    UnknownCall {
        /// The call it names.
        call_id: CallId,
        /// Its change type.
        change_type: ChangeType,
    },
    /// A notification about a call that already ended here (a late or repeated delivery); it was
    /// dropped. A repeated incoming-call offer does not resurrect the call.
    LateNotification {
        /// The call it names.
        call_id: CallId,
        /// Its change type.
        change_type: ChangeType,
    },
    /// A notification whose resource URL names no call; it was dropped.
    Unroutable {
        /// Why it could not be routed.
        error: ModelError,
    },
    /// A response for a request id no live call is waiting for; it was dropped.
    UnknownResponse {
        /// The request id.
        request_id: RequestId,
    },
    /// The call ended and was removed; its [`CallEvent::CallEnded`] came just before.
    CallRemoved {
        /// Which call.
        call_id: CallId,
    },
}

/// What the [`Endpoint`] wants the driver to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this request; hand the result to [`Endpoint::handle_response`].
    Request(GraphRequest),
    /// Tell the application.
    Event(EndpointEvent),
    /// Call [`Endpoint::handle_timeout`] at this instant at the latest.
    Timeout(Instant),
}

/// Why an application call on the endpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// No live call with this id.
    #[error("no call {0}")]
    NoSuchCall(CallId),
    /// A call with this id already exists.
    #[error("call {0} already exists")]
    DuplicateCall(CallId),
    /// The call refused the action.
    #[error("call refused the action")]
    Call(#[from] CallError),
}

/// Routes notifications to per-call state machines. See the [module docs](self).
#[derive(Debug)]
pub struct Endpoint {
    config: CallConfig,
    calls: HashMap<CallId, Call>,
    scopes: HashMap<u64, CallId>,
    next_scope: u64,
    next_create: u64,
    creates_in_flight: HashSet<RequestId>,
    held: VecDeque<CommsNotification>,
    ended: VecDeque<CallId>,
    outputs: VecDeque<Output>,
}

impl Endpoint {
    /// An endpoint whose calls use `config`.
    pub fn new(config: CallConfig) -> Self {
        Self {
            config,
            calls: HashMap::new(),
            scopes: HashMap::new(),
            next_scope: 1,
            next_create: 0,
            creates_in_flight: HashSet::new(),
            held: VecDeque::new(),
            ended: VecDeque::new(),
            outputs: VecDeque::new(),
        }
    }

    /// The live call with this id.
    pub fn call(&self, id: &CallId) -> Option<&Call> {
        self.calls.get(id)
    }

    /// The live call with this id, for decisions (`answer`, `perform`, …). Outputs the call queues
    /// this way are collected at the next [`Endpoint::poll_output`].
    pub fn call_mut(&mut self, id: &CallId) -> Option<&mut Call> {
        self.calls.get_mut(id)
    }

    /// Ids of the live calls.
    pub fn call_ids(&self) -> impl Iterator<Item = &CallId> {
        self.calls.keys()
    }

    /// Number of live calls.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// True when no call is live.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Runs `action` on a live call (e.g. `|call| call.answer(now, request)`).
    pub fn with_call<T>(
        &mut self,
        id: &CallId,
        action: impl FnOnce(&mut Call) -> Result<T, CallError>,
    ) -> Result<T, EndpointError> {
        let call = self
            .calls
            .get_mut(id)
            .ok_or_else(|| EndpointError::NoSuchCall(id.clone()))?;
        let result = action(call).map_err(EndpointError::from);
        self.collect(id);
        result
    }

    /// Asks Graph to create a call or join a meeting (`POST /communications/calls`). The call is
    /// added when the response is handed to [`Endpoint::handle_response`].
    pub fn create_call(&mut self, now: Instant, call: GraphCall) -> RequestId {
        let _ = now;
        self.next_create += 1;
        let id = RequestId(self.next_create);
        self.creates_in_flight.insert(id);
        self.outputs.push_back(Output::Request(GraphRequest {
            id,
            call_id: None,
            action: GraphAction::CreateCall(Box::new(call)),
        }));
        id
    }

    /// Adds a call the bot created, from the create-call response the driver received at `now`.
    pub fn add_outgoing_call(
        &mut self,
        now: Instant,
        created: &GraphCall,
    ) -> Result<CallId, EndpointError> {
        let call = Call::outgoing(now, created, self.config.clone())?;
        let id = call.id().clone();
        if self.calls.contains_key(&id) {
            return Err(EndpointError::DuplicateCall(id));
        }
        self.insert(call);
        self.replay_held(now);
        Ok(id)
    }

    /// Feeds a callback body: its notifications, in order.
    pub fn handle_notifications(&mut self, now: Instant, notifications: CommsNotifications) {
        for notification in notifications.value {
            self.handle_notification(now, notification);
        }
    }

    /// Feeds one notification.
    pub fn handle_notification(&mut self, now: Instant, notification: CommsNotification) {
        let call_id = match notification.call_id() {
            Ok(id) => id,
            Err(error) => {
                self.emit(EndpointEvent::Unroutable { error });
                return;
            }
        };
        if let Some(call) = self.calls.get_mut(&call_id) {
            // Routed by this id, so only an unparsable URL can fail; report it.
            if let Err(CallError::Unroutable(error)) = call.handle_notification(now, notification) {
                self.emit(EndpointEvent::Unroutable { error });
            }
            self.collect(&call_id);
            return;
        }
        if self.ended.contains(&call_id) {
            self.emit(EndpointEvent::LateNotification {
                call_id,
                change_type: notification.change_type,
            });
            return;
        }
        if let Some(offered) = incoming_offer(&notification) {
            let call = Call::incoming(now, call_id.clone(), offered, self.config.clone());
            self.insert(call);
            return;
        }
        if !self.creates_in_flight.is_empty() {
            if self.held.len() == MAX_HELD_NOTIFICATIONS
                && let Some(oldest) = self.held.pop_front()
            {
                self.report_unknown(&oldest);
            }
            self.held.push_back(notification);
            return;
        }
        self.emit(EndpointEvent::UnknownCall {
            call_id,
            change_type: notification.change_type,
        });
    }

    /// Feeds the result of a request the endpoint emitted.
    pub fn handle_response(
        &mut self,
        now: Instant,
        request_id: RequestId,
        result: Result<GraphReply, GraphFailure>,
    ) {
        if self.creates_in_flight.remove(&request_id) {
            self.on_create_result(now, request_id, result);
            return;
        }
        let Some(call_id) = self.scopes.get(&(request_id.0 >> 32)).cloned() else {
            self.emit(EndpointEvent::UnknownResponse { request_id });
            return;
        };
        let Some(call) = self.calls.get_mut(&call_id) else {
            self.emit(EndpointEvent::UnknownResponse { request_id });
            return;
        };
        if call.handle_response(now, request_id, result).is_err() {
            self.emit(EndpointEvent::UnknownResponse { request_id });
        }
        self.collect(&call_id);
    }

    /// Advances every call's timers to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, call)| call.poll_timeout().is_some_and(|at| at <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            if let Some(call) = self.calls.get_mut(&id) {
                call.handle_timeout(now);
            }
            self.collect(&id);
        }
    }

    /// The next output: queued requests and events (of all calls), then the earliest deadline.
    /// `None` when nothing is queued and no call needs a timer.
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.outputs.is_empty() {
            // Pick up what application decisions through `call_mut` queued.
            let ids: Vec<CallId> = self.calls.keys().cloned().collect();
            for id in ids {
                self.collect(&id);
            }
        }
        if let Some(output) = self.outputs.pop_front() {
            return Some(output);
        }
        self.poll_timeout().map(Output::Timeout)
    }

    /// The earliest deadline of all calls.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls.values().filter_map(Call::poll_timeout).min()
    }

    fn emit(&mut self, event: EndpointEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    fn report_unknown(&mut self, notification: &CommsNotification) {
        if let Ok(call_id) = notification.call_id() {
            self.emit(EndpointEvent::UnknownCall {
                call_id,
                change_type: notification.change_type.clone(),
            });
        }
    }

    fn insert(&mut self, mut call: Call) {
        let scope = self.next_scope;
        self.next_scope += 1;
        call.set_request_scope(scope);
        let id = call.id().clone();
        self.scopes.insert(scope, id.clone());
        self.calls.insert(id.clone(), call);
        self.collect(&id);
    }

    /// Moves a call's queued outputs to the endpoint queue; removes the call once it has ended.
    fn collect(&mut self, id: &CallId) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        while let Some(output) = call.poll_output() {
            match output {
                CallOutput::Request(request) => self.outputs.push_back(Output::Request(request)),
                CallOutput::Event(event) => {
                    self.outputs.push_back(Output::Event(EndpointEvent::Call {
                        call_id: id.clone(),
                        event,
                    }))
                }
                CallOutput::Timeout(_) => break,
            }
        }
        if call.is_ended() {
            self.calls.remove(id);
            self.scopes.retain(|_, call_id| call_id != id);
            if self.ended.len() == MAX_REMEMBERED_ENDED_CALLS {
                self.ended.pop_front();
            }
            self.ended.push_back(id.clone());
            self.emit(EndpointEvent::CallRemoved {
                call_id: id.clone(),
            });
        }
    }

    fn on_create_result(
        &mut self,
        now: Instant,
        request_id: RequestId,
        result: Result<GraphReply, GraphFailure>,
    ) {
        let created = match result {
            Ok(GraphReply {
                body: ReplyBody::Call(call),
                ..
            }) => call,
            Ok(_) => {
                self.emit(EndpointEvent::CreateFailed {
                    request_id,
                    failure: GraphFailure::Unreachable {
                        reason: "create-call response without a call".to_owned(),
                    },
                });
                self.replay_held(now);
                return;
            }
            Err(failure) => {
                self.emit(EndpointEvent::CreateFailed {
                    request_id,
                    failure,
                });
                self.replay_held(now);
                return;
            }
        };
        match Call::outgoing(now, &created, self.config.clone()) {
            Ok(call) if !self.calls.contains_key(call.id()) => {
                let call_id = call.id().clone();
                self.emit(EndpointEvent::CallCreated {
                    call_id,
                    request_id,
                });
                self.insert(call);
            }
            Ok(call) => self.emit(EndpointEvent::CreateFailed {
                request_id,
                failure: GraphFailure::Unreachable {
                    reason: format!("create-call returned existing call {}", call.id()),
                },
            }),
            Err(error) => self.emit(EndpointEvent::CreateFailed {
                request_id,
                failure: GraphFailure::Unreachable {
                    reason: error.to_string(),
                },
            }),
        }
        self.replay_held(now);
    }

    /// Re-feeds held notifications; those still unknown stay held only while creates are in flight.
    fn replay_held(&mut self, now: Instant) {
        let held = std::mem::take(&mut self.held);
        for notification in held {
            self.handle_notification(now, notification);
        }
    }
}

/// The offered call of a `created` notification in state `incoming`.
fn incoming_offer(notification: &CommsNotification) -> Option<GraphCall> {
    if notification.change_type != ChangeType::Created {
        return None;
    }
    match &notification.resource_data {
        ResourceData::Call(call) if call.state == Some(CallState::Incoming) => {
            Some(call.as_ref().clone())
        }
        _ => None,
    }
}
