//! What a [`Call`](super::Call) asks the driver to send, and what the driver hands back.
//!
//! A [`GraphRequest`] is a typed description of one Graph call-control request; the driver maps
//! its [`GraphAction`] onto the matching [`GraphClient`](crate::client::GraphClient) method, sends
//! it, and returns the outcome with the request's [`RequestId`] as a
//! `Result<GraphReply, GraphFailure>`. Conversions from the client's
//! [`GraphResponse`] / [`GraphError`] are provided, so a driver is one `match`.

use std::fmt;

use crate::client::{GraphError, GraphResponse};
use crate::models::{
    AddLargeGalleryViewRequest, AnswerRequest, Call as GraphCall, CallId, CallResource,
    CancelMediaProcessingRequest, ChangeScreenSharingRoleRequest, CommsOperation,
    ConfigureMixerRequest, InviteParticipantsRequest, MuteParticipantRequest, MuteRequest,
    ODataCollection, OperationId, Participant, ParticipantId, PlayPromptRequest,
    RecordResponseRequest, RedirectRequest, RejectRequest, ResourceRef, StartHoldMusicRequest,
    StopHoldMusicRequest, SubscribeToToneRequest, TransferRequest, UnmuteRequest,
    UpdateRecordingStatusRequest,
};

/// Identifies one request a state machine emitted; the driver hands it back with the result.
///
/// Unique within one [`Call`](super::Call) and within one [`Endpoint`](crate::endpoint::Endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "req#{}", self.0)
    }
}

/// One Graph request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphRequest {
    /// Hand this back to `handle_response`.
    pub id: RequestId,
    /// The call the request is about; `None` only for [`GraphAction::CreateCall`].
    pub call_id: Option<CallId>,
    /// What to send.
    pub action: GraphAction,
}

/// The Graph request to make (reference §4). The comment on each variant names the endpoint and
/// the [`ReplyBody`] the state machine expects back on success.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphAction {
    /// `POST /communications/calls` → [`ReplyBody::Call`] (the new call, state `establishing`).
    CreateCall(Box<GraphCall>),
    /// `POST …/answer` → [`ReplyBody::Empty`] (202).
    Answer(Box<AnswerRequest>),
    /// `POST …/reject` → [`ReplyBody::Empty`] (202).
    Reject(RejectRequest),
    /// `POST …/keepAlive` → [`ReplyBody::Empty`] (200). A 404 means the call is gone.
    KeepAlive,
    /// `DELETE /communications/calls/{id}` (hang up) → [`ReplyBody::Empty`] (204).
    HangUp,
    /// `GET /communications/calls/{id}` → [`ReplyBody::Call`].
    GetCall,
    /// `GET …/participants` → [`ReplyBody::Participants`] (a full roster snapshot).
    ListParticipants,
    /// `GET …/operations/{id}` → [`ReplyBody::Operation`]; 404 once the operation is gone.
    GetOperation(OperationId),
    /// An action the application asked for with [`Call::perform`](super::Call::perform).
    Perform(CallAction),
}

impl GraphAction {
    /// A short stable name for logs and metrics (`"keepAlive"`, `"answer"`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreateCall(_) => "createCall",
            Self::Answer(_) => "answer",
            Self::Reject(_) => "reject",
            Self::KeepAlive => "keepAlive",
            Self::HangUp => "hangUp",
            Self::GetCall => "getCall",
            Self::ListParticipants => "listParticipants",
            Self::GetOperation(_) => "getOperation",
            Self::Perform(action) => action.name(),
        }
    }
}

/// Application-initiated call actions (reference §4.6–§4.22). Those marked "→ operation" return a
/// `commsOperation` (or only its `Location`) that the [`Call`](super::Call) tracks to completion.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallAction {
    /// `POST …/redirect` (incoming calls only) → 202.
    Redirect(RedirectRequest),
    /// `POST …/transfer` → 202; progress arrives as call states `transferring` / `transferAccepted`.
    Transfer(Box<TransferRequest>),
    /// `POST …/participants/invite` → operation.
    InviteParticipants(InviteParticipantsRequest),
    /// `DELETE …/participants/{id}` → 204.
    RemoveParticipant(ParticipantId),
    /// `POST …/mute` (the bot itself) → operation.
    MuteSelf(MuteRequest),
    /// `POST …/unmute` (the bot itself) → operation.
    UnmuteSelf(UnmuteRequest),
    /// `POST …/participants/{id}/mute` → operation.
    MuteParticipant {
        /// Who to mute.
        participant: ParticipantId,
        /// Body.
        body: MuteParticipantRequest,
    },
    /// `POST …/participants/{id}/startHoldMusic` → operation.
    StartHoldMusic {
        /// Who to put on hold.
        participant: ParticipantId,
        /// Body.
        body: StartHoldMusicRequest,
    },
    /// `POST …/participants/{id}/stopHoldMusic` → operation.
    StopHoldMusic {
        /// Who to take off hold.
        participant: ParticipantId,
        /// Body.
        body: StopHoldMusicRequest,
    },
    /// `POST …/participants/configureMixer` (beta) → operation.
    ConfigureMixer(ConfigureMixerRequest),
    /// `POST …/updateRecordingStatus` → operation.
    UpdateRecordingStatus(UpdateRecordingStatusRequest),
    /// `POST …/changeScreenSharingRole` → 202.
    ChangeScreenSharingRole(ChangeScreenSharingRoleRequest),
    /// `POST …/addLargeGalleryView` → operation.
    AddLargeGalleryView(AddLargeGalleryViewRequest),
    /// `POST …/playPrompt` (service-hosted media) → operation.
    PlayPrompt(PlayPromptRequest),
    /// `POST …/recordResponse` (service-hosted media) → operation.
    RecordResponse(RecordResponseRequest),
    /// `POST …/subscribeToTone` (service-hosted media) → operation.
    SubscribeToTone(SubscribeToToneRequest),
    /// `POST …/cancelMediaProcessing` (service-hosted media) → operation.
    CancelMediaProcessing(CancelMediaProcessingRequest),
}

impl CallAction {
    /// A short stable name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Redirect(_) => "redirect",
            Self::Transfer(_) => "transfer",
            Self::InviteParticipants(_) => "inviteParticipants",
            Self::RemoveParticipant(_) => "removeParticipant",
            Self::MuteSelf(_) => "mute",
            Self::UnmuteSelf(_) => "unmute",
            Self::MuteParticipant { .. } => "muteParticipant",
            Self::StartHoldMusic { .. } => "startHoldMusic",
            Self::StopHoldMusic { .. } => "stopHoldMusic",
            Self::ConfigureMixer(_) => "configureMixer",
            Self::UpdateRecordingStatus(_) => "updateRecordingStatus",
            Self::ChangeScreenSharingRole(_) => "changeScreenSharingRole",
            Self::AddLargeGalleryView(_) => "addLargeGalleryView",
            Self::PlayPrompt(_) => "playPrompt",
            Self::RecordResponse(_) => "recordResponse",
            Self::SubscribeToTone(_) => "subscribeToTone",
            Self::CancelMediaProcessing(_) => "cancelMediaProcessing",
        }
    }
}

/// A successful (2xx) Graph answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphReply {
    /// HTTP status (200, 201, 202, 204…).
    pub status: u16,
    /// The parsed body.
    pub body: ReplyBody,
    /// The `Location` header (a new call's or an operation's URL), if sent.
    pub location: Option<String>,
}

impl GraphReply {
    /// A bodiless reply (`202 Accepted`, `204 No Content`, keepAlive's `200`).
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            body: ReplyBody::Empty,
            location: None,
        }
    }

    /// A `200`/`201` reply carrying an operation.
    pub fn operation(operation: CommsOperation) -> Self {
        Self {
            status: 200,
            body: ReplyBody::Operation(Box::new(operation)),
            location: None,
        }
    }

    /// A `201 Created` (or `200`) reply carrying a call.
    pub fn call(call: GraphCall) -> Self {
        Self {
            status: 201,
            body: ReplyBody::Call(Box::new(call)),
            location: None,
        }
    }

    /// A `200` reply carrying the full roster.
    pub fn participants(participants: Vec<Participant>) -> Self {
        Self {
            status: 200,
            body: ReplyBody::Participants(participants),
            location: None,
        }
    }

    /// The operation id named by the `Location` header, if it points at `…/operations/{id}`.
    pub fn location_operation_id(&self) -> Option<OperationId> {
        match ResourceRef::parse(self.location.as_deref()?).ok()?.resource {
            CallResource::Operation(id) => Some(id),
            _ => None,
        }
    }
}

/// The body of a [`GraphReply`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyBody {
    /// No body (or one the state machine does not need).
    Empty,
    /// A call (create-call, get-call).
    Call(Box<GraphCall>),
    /// A roster (list participants).
    Participants(Vec<Participant>),
    /// An operation (actions, get-operation).
    Operation(Box<CommsOperation>),
}

/// A request that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphFailure {
    /// Graph answered with a non-success status.
    Status {
        /// HTTP status.
        status: u16,
        /// `error.code` (e.g. `7504`, `TooManyRequests`).
        code: String,
        /// `error.message`.
        message: String,
    },
    /// No usable answer (transport error, auth failure, undecodable body).
    Unreachable {
        /// What went wrong, for logs.
        reason: String,
    },
}

impl GraphFailure {
    /// A status failure with an empty code and message.
    pub fn status(status: u16) -> Self {
        Self::Status {
            status,
            code: String::new(),
            message: String::new(),
        }
    }

    /// The HTTP status, if Graph answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::Unreachable { .. } => None,
        }
    }

    /// True for `404 Not Found` (the call or operation no longer exists).
    pub fn is_not_found(&self) -> bool {
        self.http_status() == Some(404)
    }
}

impl fmt::Display for GraphFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status {
                status,
                code,
                message,
            } => write!(f, "HTTP {status} {code}: {message}"),
            Self::Unreachable { reason } => write!(f, "no answer: {reason}"),
        }
    }
}

impl From<&GraphError> for GraphFailure {
    fn from(error: &GraphError) -> Self {
        match error.api() {
            Some(api) => Self::Status {
                status: api.status.as_u16(),
                code: api.code.clone(),
                message: api.message.clone(),
            },
            None => Self::Unreachable {
                reason: error.to_string(),
            },
        }
    }
}

impl From<GraphError> for GraphFailure {
    fn from(error: GraphError) -> Self {
        Self::from(&error)
    }
}

fn reply<T>(response: GraphResponse<T>, body: impl FnOnce(T) -> ReplyBody) -> GraphReply {
    GraphReply {
        status: response.status.as_u16(),
        location: response.location.as_ref().map(|url| url.to_string()),
        body: body(response.body),
    }
}

impl From<GraphResponse<()>> for GraphReply {
    fn from(response: GraphResponse<()>) -> Self {
        reply(response, |()| ReplyBody::Empty)
    }
}

impl From<GraphResponse<GraphCall>> for GraphReply {
    fn from(response: GraphResponse<GraphCall>) -> Self {
        reply(response, |call| ReplyBody::Call(Box::new(call)))
    }
}

impl From<GraphResponse<CommsOperation>> for GraphReply {
    fn from(response: GraphResponse<CommsOperation>) -> Self {
        reply(response, |op| ReplyBody::Operation(Box::new(op)))
    }
}

impl From<GraphResponse<Option<CommsOperation>>> for GraphReply {
    fn from(response: GraphResponse<Option<CommsOperation>>) -> Self {
        reply(response, |op| match op {
            Some(op) => ReplyBody::Operation(Box::new(op)),
            None => ReplyBody::Empty,
        })
    }
}

impl From<GraphResponse<ODataCollection<Participant>>> for GraphReply {
    fn from(response: GraphResponse<ODataCollection<Participant>>) -> Self {
        reply(response, |page| ReplyBody::Participants(page.value))
    }
}
