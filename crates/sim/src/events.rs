//! What the simulator reports: a broadcast of [`SimEvent`]s and the log of callback deliveries.

use std::time::SystemTime;

use mediabot_signaling::models::{CallId, CallState, CommsNotifications, OperationId};

use crate::scenario::TimelineAction;

/// How one notification post ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// The bot answered 2xx.
    Delivered {
        /// The status.
        status: u16,
    },
    /// The bot answered a non-retryable status (4xx, e.g. `401` to a forged token).
    Rejected {
        /// The status.
        status: u16,
    },
    /// Every attempt failed with a 5xx or a transport error.
    Failed {
        /// The last status or error.
        last_error: String,
    },
}

impl DeliveryOutcome {
    /// True for [`DeliveryOutcome::Delivered`].
    pub fn is_delivered(&self) -> bool {
        matches!(self, Self::Delivered { .. })
    }
}

/// One notification batch as posted to the bot (a duplicated post is recorded twice).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    /// Delivery order across the whole simulator (1-based).
    pub seq: u64,
    /// The call it belongs to.
    pub call_id: CallId,
    /// Where it was posted.
    pub callback_uri: String,
    /// The typed notifications (before quirks were applied to the wire form).
    pub notifications: CommsNotifications,
    /// The exact JSON body posted.
    pub body: String,
    /// How many posts it took.
    pub attempts: u32,
    /// Signed with an unpublished key (fault injection).
    pub forged: bool,
    /// The outcome.
    pub outcome: DeliveryOutcome,
    /// When the last attempt finished.
    pub finished_at: SystemTime,
}

/// Something that happened in the simulator. Subscribe with
/// [`SimHandle::subscribe`](crate::SimHandle::subscribe) before triggering it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SimEvent {
    /// A call was created (outgoing join/create or incoming placement).
    CallCreated {
        /// The call.
        call_id: CallId,
    },
    /// A call changed state (the simulator's truth, independent of delivery).
    CallStateChanged {
        /// The call.
        call_id: CallId,
        /// The new state.
        state: CallState,
    },
    /// A notification post finished (delivered, rejected or failed).
    NotificationDelivered(Box<DeliveryRecord>),
    /// A Graph or token request was answered.
    RequestServed {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// Status answered.
        status: u16,
    },
    /// A running operation completed and its notification was queued.
    OperationCompleted {
        /// The call.
        call_id: CallId,
        /// The operation.
        operation_id: OperationId,
    },
    /// A timeline entry or a run-time participant change was applied to a meeting.
    ParticipantAction {
        /// Meeting key.
        meeting: String,
        /// Participant key.
        participant: String,
        /// What happened.
        action: TimelineAction,
    },
    /// A meeting's crowd moved in one roster change (`crowd_churn`, or
    /// [`SimHandle::crowd_churn`](crate::SimHandle::crowd_churn)).
    CrowdChurned {
        /// Meeting key.
        meeting: String,
        /// How many crowd members left.
        left: u32,
        /// How many crowd members joined.
        joined: u32,
    },
    /// The media processor refused a call's media.
    MediaRejected {
        /// The call.
        call_id: CallId,
        /// Its reason.
        reason: String,
    },
}
