//! Typed Microsoft Graph calling models (reference §3.3, §4, §5, §11).
//!
//! Everything Graph sends is parsed here at the edge into typed values; nothing downstream sees raw JSON.
//!
//! # Tolerance (reading)
//! * Unknown fields are ignored; `null` reads as absent (and as empty for collections).
//! * String enums ([`CallState`], [`OperationStatus`], …) parse case-insensitively (`"Running"`) and keep
//!   unknown values in an `Unknown(String)` variant.
//! * `@odata.type` is optional everywhere and may omit the `#microsoft.graph.` prefix. Polymorphic values
//!   ([`MeetingInfo`], [`MediaConfig`], [`CommsOperation`], [`ResourceData`]) dispatch on it and, when it is
//!   missing, infer the subtype from the fields or from the notification's resource URL.
//! * [`ResultInfo`] accepts numeric or string codes and the `subCode` spelling.
//! * Notifications: `resourceUrl` or legacy `resource`, with or without a leading slash; `resourceData` as
//!   object, array or missing ([`ResourceData`]). [`ResourceRef`] extracts the call id and sub-resource.
//! * Ids ([`CallId`], [`OperationId`], …) compare GUIDs regardless of case/hyphens (see [`ids`]).
//!
//! Not modelled: navigation properties (`call.participants`, `call.contentSharingSessions`, …, which are
//! separate requests) and `identity.thumbnails`.
//!
//! # Writing
//! camelCase keys, absent fields skipped, and `@odata.type` written on every Graph entity/complex type
//! (required by Graph on the polymorphic ones, harmless and as in the doc examples elsewhere). Action request
//! bodies ([`AnswerRequest`], …) and [`AudioRoutingGroup`] carry no top-level `@odata.type`, as in the docs.
//!
//! # Open-ended JSON
//! The only untyped payload kept is the undocumented `call.applicationMetadata`, held in [`OpenJson`]
//! (private `serde_json::Value`, read through accessors). Resource types this crate does not model inside a
//! notification become [`ResourceData::Other`] with their `@odata.type` and no content.

pub mod ids;

mod audio_routing_group;
mod auth_payloads;
mod call;
mod call_options;
mod call_route;
mod chat_info;
mod collection;
mod content_sharing;
mod error;
mod identity;
mod media_config;
mod meeting;
mod notification;
mod odata_error;
mod open_json;
mod operation;
mod participant;
mod requests;
mod resource_url;
mod result_info;
mod serde_util;

pub use audio_routing_group::{AudioRoutingGroup, RoutingMode};
pub use auth_payloads::{CallbackJwtClaims, OpenIdConfiguration, TokenResponse};
pub use call::{
    AutoAdmittedUsers, Call, CallDirection, CallMediaState, CallState, CallTranscriptionInfo,
    CallTranscriptionState, IncomingContext, MediaState, MeetingCapability, RoutingPolicy, Tone,
    ToneInfo,
};
pub use call_options::{IncomingCallOptions, OutgoingCallOptions};
pub use call_route::{CallRoute, RoutingType};
pub use chat_info::ChatInfo;
pub use collection::ODataCollection;
pub use content_sharing::ContentSharingSession;
pub use error::ModelError;
pub use identity::{Identity, IdentitySet};
pub use ids::{
    AppId, AudioRoutingGroupId, CallChainId, CallId, ContentSharingSessionId, Msi, OperationId,
    ParticipantId, TenantId,
};
pub use media_config::{
    AppHostedMediaBlobSample, AppHostedMediaConfig, MediaConfig, MediaInfo, MediaPrompt,
    NoMediaConfig, ServiceHostedMediaConfig,
};
pub use meeting::{JoinMeetingIdMeetingInfo, MeetingInfo, OrganizerMeetingInfo, TokenMeetingInfo};
pub use notification::{
    ChangeType, CommsNotification, CommsNotifications, ParticipantJoiningNotification,
    ParticipantLeftNotification, ResourceData,
};
pub use odata_error::{ODataError, ODataErrorBody, ODataInnerError};
pub use open_json::OpenJson;
pub use operation::{
    CommsOperation, OperationKind, OperationStatus, PlayPromptCompletionReason,
    RecordCompletionReason,
};
pub use participant::{
    DeltaParticipants, EndpointType, InvitationParticipantInfo, MediaDirection, MediaStream,
    Modality, OnlineMeetingContentRestriction, OnlineMeetingRestricted, Participant,
    ParticipantInfo, RecordingInfo, RecordingStatus, RemovedState,
};
pub use requests::{
    AddLargeGalleryViewRequest, AnswerRequest, AudioDuckingConfiguration, AudioSourceLevel,
    CancelMediaProcessingRequest, ChangeScreenSharingRoleRequest, ConfigureMixerRequest,
    InviteParticipantsRequest, MuteAllRequest, MuteParticipantRequest, MuteRequest,
    ParticipantMixerLevel, PlayPromptRequest, RecordResponseRequest, RedirectRequest, RejectReason,
    RejectRequest, ScreenSharingRole, StartHoldMusicRequest, StopHoldMusicRequest,
    SubscribeToToneRequest, TransferRequest, UnmuteRequest, UpdateRecordingStatusRequest,
};
pub use resource_url::{CallResource, ResourceRef};
pub use result_info::ResultInfo;
