//! The Graph calling REST API: `/{v1.0|beta}/{communications|app}/calls/…` (reference §4).
//!
//! Every request needs `Authorization: Bearer` with a token from the simulator's own token
//! endpoint (`401 InvalidAuthenticationToken` otherwise), then meets the armed request faults,
//! then is routed by hand over the path segments (case-insensitive action names, as Graph).
//! Bodies are parsed into the `mediabot-signaling` models; a body that does not parse, or misses
//! a required member, is a `400` OData error naming the problem.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use jsonwebtoken::{Algorithm, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;
use uuid::Uuid;

use mediabot_signaling::models::{
    AnswerRequest, AudioRoutingGroup, AudioRoutingGroupId, Call, CallDirection, CallId, CallState,
    ChangeScreenSharingRoleRequest, CommsOperation, ContentSharingSession, ContentSharingSessionId,
    Identity, IdentitySet, InvitationParticipantInfo, InviteParticipantsRequest, MediaConfig,
    MeetingInfo, MuteAllRequest, ODataCollection, OperationId, OperationKind, OperationStatus,
    ParticipantId, ParticipantInfo, RedirectRequest, RejectRequest, ResultInfo, RoutingMode,
    ScreenSharingRole, TenantId, TransferRequest, UpdateRecordingStatusRequest,
};

use crate::config::SimConfig;
use crate::engine::{NewCall, OnComplete, Shared};
use crate::events::SimEvent;
use crate::faults::FaultKind;
use crate::http_util::{ApiFailure, json_response};
use crate::identity::AccessClaims;
use crate::scenario::{MeetingSpec, TimelineAction};
use crate::state::{KEPT_COMPLETED_OPERATIONS, MediaEffect, World, large_gallery_participant};
use crate::wire::apply_value_quirks;

type ApiResult = Result<Reply, ApiFailure>;

/// A successful reply.
struct Reply {
    status: StatusCode,
    body: Option<Value>,
    location: Option<String>,
}

impl Reply {
    fn empty(status: StatusCode) -> Self {
        Self {
            status,
            body: None,
            location: None,
        }
    }

    fn json<T: Serialize>(status: StatusCode, body: &T) -> Self {
        Self {
            status,
            body: serde_json::to_value(body).ok(),
            location: None,
        }
    }

    fn at(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }

    fn into_response(self) -> Response {
        let mut response = match &self.body {
            Some(body) => json_response(self.status, body),
            None => self.status.into_response(),
        };
        if let Some(location) = self.location
            && let Ok(value) = HeaderValue::from_str(&location)
        {
            response.headers_mut().insert(http::header::LOCATION, value);
        }
        response
    }
}

/// Per-request context.
struct Ctx {
    /// `{base}/{version}/{communications|app}/calls`, for `Location` headers.
    calls_base: String,
    /// The tenant of the caller's token.
    tenant: TenantId,
}

impl Ctx {
    fn call_url(&self, call: &CallId) -> String {
        format!("{}/{call}", self.calls_base)
    }

    fn operation_url(&self, call: &CallId, op: &CommsOperation) -> String {
        let id = op.id.as_ref().map(OperationId::as_str).unwrap_or_default();
        format!("{}/{call}/operations/{id}", self.calls_base)
    }
}

/// The axum fallback: every path that is not the token endpoint or the OpenID documents.
pub(crate) async fn graph_handler(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = Uuid::new_v4().to_string();
    let client_request_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = uri.path().to_owned();
    let mut response = match handle(&shared, &method, &path, &headers, &body) {
        Ok(reply) => reply.into_response(),
        Err(failure) => failure.into_response(&request_id, client_request_id.as_deref()),
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("request-id", value);
    }
    if let Some(value) = client_request_id.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert("client-request-id", value);
    }
    shared.emit(SimEvent::RequestServed {
        method: method.to_string(),
        path,
        status: response.status().as_u16(),
    });
    response
}

fn handle(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (version, rest) = match segments.split_first() {
        Some((v, rest)) if *v == "v1.0" || *v == "beta" => (*v, rest),
        _ => {
            return Err(ApiFailure::not_found(format!(
                "No Graph version segment in {path:?}; expected /v1.0 or /beta."
            )));
        }
    };
    let (collection, rest) = match rest {
        [c, k, rest @ ..]
            if c.eq_ignore_ascii_case("communications") && k.eq_ignore_ascii_case("calls") =>
        {
            ("communications/calls", rest)
        }
        [a, k, rest @ ..] if a.eq_ignore_ascii_case("app") && k.eq_ignore_ascii_case("calls") => {
            ("app/calls", rest)
        }
        _ => {
            return Err(ApiFailure::bad_request(format!(
                "Resource not found for the segment '{}'.",
                rest.first().copied().unwrap_or_default()
            )));
        }
    };
    let claims = authenticate(shared, headers)?;
    check_request_faults(shared, method, path)?;
    let base = shared.base_url.as_str().trim_end_matches('/');
    let ctx = Ctx {
        calls_base: format!("{base}/{version}/{collection}"),
        tenant: TenantId::new(claims.tid),
    };
    route(shared, &ctx, method, rest, body)
}

fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<AccessClaims, ApiFailure> {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiFailure::unauthorized("Access token is empty."))?;
    let token = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiFailure::unauthorized("Access token is empty."))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[crate::identity::GRAPH_AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud"]);
    validation.leeway = 0;
    jsonwebtoken::decode::<AccessClaims>(token, shared.keys.token.decoding(), &validation)
        .map(|data| data.claims)
        .map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            let message = match error.kind() {
                ErrorKind::ExpiredSignature => "Lifetime validation failed, the token is expired.",
                ErrorKind::InvalidAudience => "Access token validation failure. Invalid audience.",
                ErrorKind::InvalidSignature => {
                    "Access token validation failure. Invalid signature."
                }
                _ => "Access token validation failure. Invalid token.",
            };
            ApiFailure::unauthorized(message)
        })
}

fn check_request_faults(shared: &Shared, method: &Method, path: &str) -> Result<(), ApiFailure> {
    let mut world = shared.world();
    let Some(rule) = world
        .faults
        .iter_mut()
        .find(|r| r.matches_request(method.as_str(), path))
    else {
        return Ok(());
    };
    rule.count -= 1;
    let kind = rule.kind.clone();
    world.faults.retain(|r| r.count > 0);
    Err(match kind {
        FaultKind::Throttle { retry_after_secs } => ApiFailure {
            retry_after_secs: Some(retry_after_secs),
            ..ApiFailure::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Please retry again later.",
            )
        },
        FaultKind::ServerError {
            status,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code = match status {
                StatusCode::SERVICE_UNAVAILABLE => "serviceNotAvailable",
                StatusCode::GATEWAY_TIMEOUT => "gatewayTimeout",
                _ => "UnknownError",
            };
            ApiFailure {
                retry_after_secs,
                ..ApiFailure::new(status, code, "Simulated server error (fault injection).")
            }
        }
        // Request faults are the only ones matched here; the rest cannot occur.
        _ => ApiFailure::forbidden_7504(),
    })
}

fn eq(segment: &str, word: &str) -> bool {
    segment.eq_ignore_ascii_case(word)
}

fn route(
    shared: &Arc<Shared>,
    ctx: &Ctx,
    method: &Method,
    rest: &[&str],
    body: &[u8],
) -> ApiResult {
    let m = method.as_str();
    match rest {
        [] if m == "POST" => create_call(shared, ctx, body),
        [id] if m == "GET" => get_call(shared, &CallId::new(*id)),
        [id] if m == "DELETE" => {
            if shared.hang_up(&CallId::new(*id)) {
                Ok(Reply::empty(StatusCode::NO_CONTENT))
            } else {
                Err(ApiFailure::call_not_found(id))
            }
        }
        [id, p] if m == "GET" && eq(p, "participants") => {
            list_participants(shared, ctx, &CallId::new(*id))
        }
        [id, p, a] if m == "POST" && eq(p, "participants") && eq(a, "invite") => {
            invite(shared, ctx, &CallId::new(*id), body)
        }
        [id, p, a] if m == "POST" && eq(p, "participants") && eq(a, "muteAll") => {
            mute_all(shared, ctx, &CallId::new(*id), body)
        }
        [id, p, a] if m == "POST" && eq(p, "participants") && eq(a, "configureMixer") => {
            completed_operation(
                shared,
                ctx,
                &CallId::new(*id),
                body,
                OperationKind::Generic,
                StatusCode::OK,
            )
        }
        [id, p, pid] if m == "GET" && eq(p, "participants") => {
            get_participant(shared, &CallId::new(*id), &ParticipantId::new(*pid))
        }
        [id, p, pid] if m == "DELETE" && eq(p, "participants") => {
            delete_participant(shared, &CallId::new(*id), &ParticipantId::new(*pid))
        }
        [id, p, pid, action] if m == "POST" && eq(p, "participants") => participant_action(
            shared,
            ctx,
            &CallId::new(*id),
            &ParticipantId::new(*pid),
            action,
            body,
        ),
        [id, g] if eq(g, "audioRoutingGroups") => match m {
            "GET" => list_routing_groups(shared, &CallId::new(*id)),
            "POST" => create_routing_group(shared, &CallId::new(*id), body),
            _ => Err(method_not_allowed(m)),
        },
        [id, action] if m == "POST" && !eq(action, "audioRoutingGroups") => {
            call_action(shared, ctx, &CallId::new(*id), action, body)
        }
        [id, g, gid] if eq(g, "audioRoutingGroups") => {
            let (call, group) = (CallId::new(*id), AudioRoutingGroupId::new(*gid));
            match m {
                "GET" => get_routing_group(shared, &call, &group),
                "PATCH" => update_routing_group(shared, &call, &group, body),
                "DELETE" => delete_routing_group(shared, &call, &group),
                _ => Err(method_not_allowed(m)),
            }
        }
        [id, s] if m == "GET" && eq(s, "contentSharingSessions") => {
            list_sessions(shared, ctx, &CallId::new(*id))
        }
        [id, s, sid] if m == "GET" && eq(s, "contentSharingSessions") => get_session(
            shared,
            &CallId::new(*id),
            &ContentSharingSessionId::new(*sid),
        ),
        [id, o, oid] if m == "GET" && eq(o, "operations") => {
            get_operation(shared, &CallId::new(*id), &OperationId::new(*oid))
        }
        _ => Err(ApiFailure::bad_request(format!(
            "No {m} endpoint at .../calls/{}.",
            rest.join("/")
        ))),
    }
}

fn method_not_allowed(method: &str) -> ApiFailure {
    ApiFailure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "BadRequest",
        format!("Method {method} is not allowed on this resource."),
    )
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiFailure> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text)
        .map_err(|error| ApiFailure::bad_request(format!("The request body is invalid: {error}")))
}

/// `https`, or `http` on a loopback host when the config allows it.
pub(crate) fn check_callback_uri(config: &SimConfig, uri: &str) -> Result<(), ApiFailure> {
    let url = Url::parse(uri).map_err(|_| {
        ApiFailure::bad_request(format!("callbackUri {uri:?} is not an absolute URL."))
    })?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback && config.allow_http_loopback_callbacks => Ok(()),
        _ => Err(ApiFailure::bad_request(format!(
            "callbackUri {uri:?} must use https (http is accepted only for loopback hosts when allow_http_loopback_callbacks is on)."
        ))),
    }
}

/// `(app_hosted, blob)`.
fn media_kind(media: &MediaConfig) -> Result<(bool, Option<String>), ApiFailure> {
    match media {
        MediaConfig::AppHosted(config) => Ok((true, config.blob.clone())),
        MediaConfig::ServiceHosted(_) | MediaConfig::NoMedia(_) => Ok((false, None)),
        MediaConfig::Unknown { odata_type } => Err(ApiFailure::bad_request(format!(
            "mediaConfig @odata.type {odata_type:?} is not supported; use #microsoft.graph.appHostedMediaConfig or #microsoft.graph.serviceHostedMediaConfig."
        ))),
    }
}

pub(crate) fn default_bot_identity(config: &SimConfig) -> IdentitySet {
    IdentitySet::application(Identity {
        id: Some(config.app_id.to_string()),
        display_name: Some(config.bot_display_name.clone()),
        ..Identity::default()
    })
}

fn resolve_meeting(world: &World, request: &Call) -> Result<Option<usize>, ApiFailure> {
    let find = |pred: &dyn Fn(&crate::state::MeetingState) -> bool| {
        world.meetings.iter().position(|m| !m.p2p && pred(m))
    };
    match &request.meeting_info {
        Some(MeetingInfo::Organizer(info)) => {
            let thread = request
                .chat_info
                .as_ref()
                .and_then(|c| c.thread_id.as_deref())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiFailure::bad_request(
                        "chatInfo.threadId is required with organizerMeetingInfo.",
                    )
                })?;
            let meeting = find(&|m| m.thread_id == thread).ok_or_else(|| {
                ApiFailure::not_found(format!("No meeting with thread id {thread:?}."))
            })?;
            let organizer = info
                .organizer
                .as_ref()
                .and_then(|o| o.user.as_ref())
                .and_then(|u| u.id.as_deref());
            if let Some(organizer) = organizer
                && !organizer.eq_ignore_ascii_case(&world.meetings[meeting].organizer_id)
            {
                return Err(ApiFailure::not_found(format!(
                    "Organizer {organizer} has no meeting with thread id {thread:?}."
                )));
            }
            Ok(Some(meeting))
        }
        Some(MeetingInfo::JoinMeetingId(info)) => {
            let id = info.join_meeting_id.trim();
            let meeting = find(&|m| m.join_meeting_id == id).ok_or_else(|| {
                ApiFailure::not_found(format!("No meeting with join meeting id {id:?}."))
            })?;
            if info.passcode.as_deref().unwrap_or_default() != world.meetings[meeting].passcode {
                return Err(ApiFailure::new(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "The passcode is not valid for this meeting.",
                ));
            }
            Ok(Some(meeting))
        }
        Some(MeetingInfo::Token(token)) => find(&|m| m.join_token == token.token)
            .map(Some)
            .ok_or_else(|| ApiFailure::not_found("No meeting for this tokenMeetingInfo token.")),
        Some(MeetingInfo::Unknown { odata_type }) => Err(ApiFailure::bad_request(format!(
            "meetingInfo @odata.type {odata_type:?} is not supported; use organizerMeetingInfo (with chatInfo), joinMeetingIdMeetingInfo or tokenMeetingInfo."
        ))),
        None if request
            .chat_info
            .as_ref()
            .is_some_and(|c| c.thread_id.is_some()) =>
        {
            Err(ApiFailure::bad_request(
                "meetingInfo is required to join a meeting: organizerMeetingInfo with chatInfo, joinMeetingIdMeetingInfo, or tokenMeetingInfo.",
            ))
        }
        None => Ok(None),
    }
}

/// An ad-hoc conversation for a group or peer-to-peer call: the targets are its members.
pub(crate) fn add_conversation(
    world: &mut World,
    tenant: &TenantId,
    targets: &[IdentitySet],
    p2p: bool,
) -> usize {
    let spec = MeetingSpec::new(format!("call-{}", Uuid::new_v4()));
    // The key is fresh, so this cannot collide.
    let meeting = world.add_meeting(&spec, tenant).unwrap_or_default();
    world.meetings[meeting].p2p = p2p;
    for identity in targets {
        world.add_runtime_member(meeting, identity.clone());
    }
    meeting
}

fn create_call(shared: &Arc<Shared>, ctx: &Ctx, body: &[u8]) -> ApiResult {
    let mut request: Call = parse(body)?;
    let callback_uri = request
        .callback_uri
        .clone()
        .ok_or_else(|| ApiFailure::bad_request("callbackUri is required."))?;
    check_callback_uri(&shared.config, &callback_uri)?;
    if request.requested_modalities.is_empty() {
        return Err(ApiFailure::bad_request(
            "requestedModalities is required and must not be empty.",
        ));
    }
    let media = request
        .media_config
        .clone()
        .ok_or_else(|| ApiFailure::bad_request("mediaConfig is required."))?;
    let (app_hosted, blob) = media_kind(&media)?;
    let options = request.call_options.clone().unwrap_or_default();
    let bot_identity = request
        .source
        .as_ref()
        .and_then(|s| s.identity.clone())
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| default_bot_identity(&shared.config));
    request.source = Some(ParticipantInfo {
        identity: Some(bot_identity.clone()),
        ..request.source.clone().unwrap_or_default()
    });
    request.direction = Some(CallDirection::Outgoing);
    let mut world = shared.world();
    let meeting = match resolve_meeting(&world, &request)? {
        Some(meeting) => {
            let state = &world.meetings[meeting];
            if !state.consented || state.tenant_id != ctx.tenant {
                return Err(ApiFailure::forbidden_7504());
            }
            meeting
        }
        None => {
            if request.targets.len() > 5 {
                return Err(ApiFailure::bad_request(
                    "A group call created by a bot supports up to 5 participants.",
                ));
            }
            let tenant = request
                .tenant_id
                .clone()
                .unwrap_or_else(|| ctx.tenant.clone());
            let targets: Vec<IdentitySet> = request
                .targets
                .iter()
                .filter_map(|t| t.identity.clone())
                .collect();
            add_conversation(&mut world, &tenant, &targets, targets.len() == 1)
        }
    };
    let tenant_id = world.meetings[meeting].tenant_id.clone();
    let call = shared.insert_call(
        &mut world,
        NewCall {
            direction: CallDirection::Outgoing,
            state: CallState::Establishing,
            callback_uri,
            tenant_id,
            meeting,
            request,
            bot_identity,
            blob,
            app_hosted,
            delta_roster: options.is_delta_roster_enabled.unwrap_or(false),
            content_sharing_notifications: options
                .is_content_sharing_notification_enabled
                .unwrap_or(false),
        },
    );
    let view = world.call_view(call);
    let id = world.calls[call].id.clone();
    drop(world);
    shared.spawn_establish(id.clone());
    Ok(Reply::json(StatusCode::CREATED, &view).at(ctx.call_url(&id)))
}

fn get_call(shared: &Shared, call_id: &CallId) -> ApiResult {
    let world = shared.world();
    let call = world
        .live_call(call_id)
        .ok_or_else(|| ApiFailure::call_not_found(call_id.as_str()))?;
    Ok(Reply::json(StatusCode::OK, &world.call_view(call)))
}

fn live(world: &World, call_id: &CallId) -> Result<usize, ApiFailure> {
    world
        .live_call(call_id)
        .ok_or_else(|| ApiFailure::call_not_found(call_id.as_str()))
}

fn call_action(
    shared: &Arc<Shared>,
    ctx: &Ctx,
    call_id: &CallId,
    action: &str,
    body: &[u8],
) -> ApiResult {
    let action = action.to_ascii_lowercase();
    match action.as_str() {
        "answer" => answer(shared, call_id, body),
        "reject" => {
            let _request: RejectRequest = parse(body)?;
            end_incoming(shared, call_id, true)
        }
        "redirect" => {
            let request: RedirectRequest = parse(body)?;
            if request.targets.is_empty() || request.targets.len() > 25 {
                return Err(ApiFailure::bad_request("redirect needs 1 to 25 targets."));
            }
            if request.timeout.is_some_and(|t| !(15..=90).contains(&t)) {
                return Err(ApiFailure::bad_request(
                    "timeout must be between 15 and 90 seconds.",
                ));
            }
            end_incoming(shared, call_id, false)
        }
        "transfer" => transfer(shared, call_id, body),
        "keepalive" => {
            let mut world = shared.world();
            let call = live(&world, call_id)?;
            world.calls[call].last_keepalive = Instant::now();
            Ok(Reply::empty(StatusCode::OK))
        }
        "mute" | "unmute" => {
            let muting = action == "mute";
            let kind = if muting {
                OperationKind::MuteParticipant
            } else {
                OperationKind::UnmuteParticipant
            };
            let reply = completed_operation(shared, ctx, call_id, body, kind, StatusCode::OK)?;
            let mut world = shared.world();
            if let Some(call) = world.live_call(call_id) {
                world.calls[call].bot_muted = muting;
                world.push_roster(call);
            }
            Ok(reply)
        }
        "changescreensharingrole" => {
            let request: ChangeScreenSharingRoleRequest = parse(body)?;
            let mut world = shared.world();
            let call = live(&world, call_id)?;
            if !world.calls[call].app_hosted {
                return Err(ApiFailure::bad_request(
                    "changeScreenSharingRole is supported only for calls with app-hosted media.",
                ));
            }
            world.calls[call].bot_sharer = request.role == ScreenSharingRole::Sharer;
            world.push_roster(call);
            Ok(Reply::empty(StatusCode::ACCEPTED))
        }
        "updaterecordingstatus" => {
            let request: UpdateRecordingStatusRequest = parse(body)?;
            let mut world = shared.world();
            let call = live(&world, call_id)?;
            world.calls[call].recording = Some(request.status.clone());
            world.push_roster(call);
            let op = Shared::new_operation(
                OperationKind::UpdateRecordingStatus,
                request.client_context,
                OperationStatus::Completed,
            );
            Ok(operation_reply(
                &mut world,
                ctx,
                call_id,
                &op,
                StatusCode::OK,
            ))
        }
        "addlargegalleryview" => running_operation(
            shared,
            ctx,
            call_id,
            body,
            OperationKind::AddLargeGalleryView,
            StatusCode::ACCEPTED,
            ResultInfo::new(200, 0, "Action completed successfully."),
            Box::new(|world: &mut World, call: usize| {
                let msi = world.alloc_msi();
                world.calls[call].large_gallery = Some(large_gallery_participant(msi));
                world.push_roster(call);
                Vec::new()
            }),
        ),
        "playprompt" | "recordresponse" | "subscribetotone" | "cancelmediaprocessing" => {
            service_hosted_action(shared, ctx, call_id, &action, body)
        }
        _ => Err(ApiFailure::bad_request(format!(
            "Unknown call action {action:?}."
        ))),
    }
}

fn answer(shared: &Arc<Shared>, call_id: &CallId, body: &[u8]) -> ApiResult {
    let request: AnswerRequest = parse(body)?;
    if request.accepted_modalities.is_empty() {
        return Err(ApiFailure::bad_request("acceptedModalities is required."));
    }
    let (app_hosted, blob) = media_kind(&request.media_config)?;
    if let Some(uri) = &request.callback_uri {
        check_callback_uri(&shared.config, uri)?;
    }
    {
        let mut world = shared.world();
        let call = live(&world, call_id)?;
        let entry = &mut world.calls[call];
        if entry.state != CallState::Incoming {
            return Err(ApiFailure::bad_request(
                "The call is not in the incoming state and cannot be answered.",
            ));
        }
        entry.state = CallState::Establishing;
        if let Some(uri) = request.callback_uri {
            entry.callback_uri = uri;
        }
        entry.app_hosted = app_hosted;
        entry.blob = blob;
        entry.request.media_config = Some(request.media_config);
        entry.request.requested_modalities = request.accepted_modalities;
        if let Some(options) = request.call_options {
            entry.delta_roster = options.is_delta_roster_enabled.unwrap_or(false);
            entry.content_sharing_notifications = options
                .is_content_sharing_notification_enabled
                .unwrap_or(false);
        }
        entry.last_keepalive = Instant::now();
        shared.emit(SimEvent::CallStateChanged {
            call_id: call_id.clone(),
            state: CallState::Establishing,
        });
    }
    shared.spawn_establish(call_id.clone());
    Ok(Reply::empty(StatusCode::ACCEPTED))
}

/// Reject (`minimal` deleted notification) or redirect (terminated) an incoming call.
fn end_incoming(shared: &Shared, call_id: &CallId, minimal: bool) -> ApiResult {
    let effects = {
        let mut world = shared.world();
        let call = live(&world, call_id)?;
        if world.calls[call].state != CallState::Incoming {
            return Err(ApiFailure::bad_request(
                "The call is not in the incoming state; only incoming calls can be rejected or redirected.",
            ));
        }
        shared.finish_call(&mut world, call, None, minimal)
    };
    shared.run_media(effects);
    Ok(Reply::empty(StatusCode::ACCEPTED))
}

fn transfer(shared: &Arc<Shared>, call_id: &CallId, body: &[u8]) -> ApiResult {
    let request: TransferRequest = parse(body)?;
    {
        let world = shared.world();
        let call = live(&world, call_id)?;
        if world.calls[call].state != CallState::Established {
            return Err(ApiFailure::bad_request(
                "Only established calls can be transferred.",
            ));
        }
        let group = world.calls[call]
            .meeting
            .is_some_and(|m| !world.meetings[m].p2p);
        if group && request.transferee.is_none() {
            return Err(ApiFailure::bad_request(
                "transferee is required when transferring from a group call.",
            ));
        }
    }
    let shared = shared.clone();
    let call_id = call_id.clone();
    tokio::spawn(async move {
        let step = shared.config.timings.establish_step;
        for state in [CallState::Transferring, CallState::TransferAccepted] {
            tokio::time::sleep(step).await;
            let mut world = shared.world();
            let Some(call) = world.live_call(&call_id) else {
                return;
            };
            shared.set_state(&mut world, call, state);
        }
        tokio::time::sleep(step).await;
        shared.terminate(
            &call_id,
            Some(ResultInfo::new(0, 7015, "GracefulTransferCompleted")),
        );
    });
    Ok(Reply::empty(StatusCode::ACCEPTED))
}

/// The body of an action that only carries `clientContext`.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ClientContextBody {
    #[serde(default)]
    client_context: Option<String>,
}

fn operation_reply(
    world: &mut World,
    ctx: &Ctx,
    call_id: &CallId,
    op: &CommsOperation,
    status: StatusCode,
) -> Reply {
    if op.is_final()
        && let Some(call) = world.live_call(call_id)
    {
        let kept = &mut world.calls[call].completed_operations;
        if kept.len() == KEPT_COMPLETED_OPERATIONS {
            kept.remove(0);
        }
        kept.push(op.clone());
    }
    let mut reply = Reply::json(status, op).at(ctx.operation_url(call_id, op));
    if let Some(body) = reply.body.as_mut() {
        apply_value_quirks(body, world.quirks);
    }
    reply
}

/// An action answered with an already `completed` operation (no notification follows).
fn completed_operation(
    shared: &Shared,
    ctx: &Ctx,
    call_id: &CallId,
    body: &[u8],
    kind: OperationKind,
    status: StatusCode,
) -> ApiResult {
    let request: ClientContextBody = parse(body)?;
    let mut world = shared.world();
    live(&world, call_id)?;
    let op = Shared::new_operation(kind, request.client_context, OperationStatus::Completed);
    Ok(operation_reply(&mut world, ctx, call_id, &op, status))
}

/// An action answered with a `running` operation that completes later with a notification.
#[allow(clippy::too_many_arguments)] // reason: one call site per action; a struct would only rename them
fn running_operation(
    shared: &Arc<Shared>,
    ctx: &Ctx,
    call_id: &CallId,
    body: &[u8],
    kind: OperationKind,
    status: StatusCode,
    result: ResultInfo,
    on_complete: OnComplete,
) -> ApiResult {
    let request: ClientContextBody = parse(body)?;
    start_running(
        shared,
        ctx,
        call_id,
        request.client_context,
        kind,
        status,
        result,
        on_complete,
    )
}

#[allow(clippy::too_many_arguments)] // reason: see running_operation
fn start_running(
    shared: &Arc<Shared>,
    ctx: &Ctx,
    call_id: &CallId,
    client_context: Option<String>,
    kind: OperationKind,
    status: StatusCode,
    result: ResultInfo,
    on_complete: OnComplete,
) -> ApiResult {
    let (reply, op_id) = {
        let mut world = shared.world();
        let call = live(&world, call_id)?;
        let op = Shared::new_operation(kind, client_context, OperationStatus::Running);
        world.calls[call].operations.push(op.clone());
        (
            operation_reply(&mut world, ctx, call_id, &op, status),
            op.id.clone().unwrap_or_default(),
        )
    };
    shared.spawn_operation_completion(call_id.clone(), op_id, result, on_complete);
    Ok(reply)
}

fn service_hosted_action(
    shared: &Arc<Shared>,
    ctx: &Ctx,
    call_id: &CallId,
    action: &str,
    body: &[u8],
) -> ApiResult {
    {
        let world = shared.world();
        let call = live(&world, call_id)?;
        if world.calls[call].app_hosted {
            return Err(ApiFailure::bad_request(format!(
                "{action} is supported only for calls with service-hosted media."
            )));
        }
    }
    let nothing: OnComplete = Box::new(|_: &mut World, _: usize| Vec::new());
    match action {
        "playprompt" => running_operation(
            shared,
            ctx,
            call_id,
            body,
            OperationKind::PlayPrompt {
                completion_reason: None,
            },
            StatusCode::OK,
            ResultInfo::new(200, 0, "Action completed successfully."),
            nothing,
        ),
        "recordresponse" => running_operation(
            shared,
            ctx,
            call_id,
            body,
            OperationKind::Record {
                recording_location: None,
                recording_access_token: None,
                completion_reason: None,
            },
            StatusCode::OK,
            ResultInfo::new(200, 8515, "Action completed, max record duration reached."),
            nothing,
        ),
        "subscribetotone" => completed_operation(
            shared,
            ctx,
            call_id,
            body,
            OperationKind::SubscribeToTone,
            StatusCode::OK,
        ),
        _ => completed_operation(
            shared,
            ctx,
            call_id,
            body,
            OperationKind::CancelMediaProcessing { all: Some(true) },
            StatusCode::OK,
        ),
    }
}

fn list_participants(shared: &Shared, ctx: &Ctx, call_id: &CallId) -> ApiResult {
    let world = shared.world();
    let call = live(&world, call_id)?;
    Ok(Reply::json(
        StatusCode::OK,
        &ODataCollection {
            value: world.roster(call),
            odata_context: Some(format!("{}/{call_id}/participants", ctx.calls_base)),
            next_link: None,
        },
    ))
}

fn get_participant(shared: &Shared, call_id: &CallId, participant: &ParticipantId) -> ApiResult {
    let world = shared.world();
    let call = live(&world, call_id)?;
    world
        .roster(call)
        .into_iter()
        .find(|p| p.id.as_ref() == Some(participant))
        .map(|p| Reply::json(StatusCode::OK, &p))
        .ok_or_else(|| {
            ApiFailure::not_found(format!("Participant {participant} is not in the call."))
        })
}

/// The meeting member index of a present participant of a live call.
fn present_member(
    world: &World,
    call: usize,
    participant: &ParticipantId,
) -> Result<(usize, usize), ApiFailure> {
    let meeting = world.calls[call].meeting.ok_or_else(|| {
        ApiFailure::not_found(format!("Participant {participant} is not in the call."))
    })?;
    world.meetings[meeting]
        .member_by_id(participant)
        .filter(|&m| world.meetings[meeting].members[m].present)
        .map(|m| (meeting, m))
        .ok_or_else(|| {
            ApiFailure::not_found(format!("Participant {participant} is not in the call."))
        })
}

fn group_only(world: &World, call: usize, what: &str) -> Result<(), ApiFailure> {
    match world.calls[call].meeting {
        Some(m) if !world.meetings[m].p2p => Ok(()),
        _ => Err(ApiFailure::bad_request(format!(
            "{what} is supported only for group calls and meetings."
        ))),
    }
}

fn delete_participant(shared: &Shared, call_id: &CallId, participant: &ParticipantId) -> ApiResult {
    let effects = {
        let mut world = shared.world();
        let call = live(&world, call_id)?;
        if world.calls[call].my_participant_id == *participant {
            shared.finish_call(
                &mut world,
                call,
                Some(ResultInfo::new(
                    200,
                    5300,
                    "Participant was removed from the conversation by another participant.",
                )),
                false,
            )
        } else {
            group_only(&world, call, "Removing a participant")?;
            let (meeting, member) = present_member(&world, call, participant)?;
            crate::engine::apply_member_action(&mut world, meeting, member, TimelineAction::Leave)
        }
    };
    shared.run_media(effects);
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn participant_action(
    shared: &Arc<Shared>,
    ctx: &Ctx,
    call_id: &CallId,
    participant: &ParticipantId,
    action: &str,
    body: &[u8],
) -> ApiResult {
    let action = action.to_ascii_lowercase();
    {
        let world = shared.world();
        let call = live(&world, call_id)?;
        group_only(&world, call, &action)?;
        if world.calls[call].my_participant_id != *participant {
            present_member(&world, call, participant)?;
        }
    }
    match action.as_str() {
        "mute" => {
            let reply = completed_operation(
                shared,
                ctx,
                call_id,
                body,
                OperationKind::MuteParticipant,
                StatusCode::OK,
            )?;
            let effects = {
                let mut world = shared.world();
                let call = live(&world, call_id)?;
                if world.calls[call].my_participant_id == *participant {
                    world.calls[call].bot_muted = true;
                    world.push_roster(call);
                    Vec::new()
                } else {
                    let (meeting, member) = present_member(&world, call, participant)?;
                    crate::engine::apply_member_action(
                        &mut world,
                        meeting,
                        member,
                        TimelineAction::Mute,
                    )
                }
            };
            shared.run_media(effects);
            Ok(reply)
        }
        "startholdmusic" | "stopholdmusic" => {
            let kind = if action == "startholdmusic" {
                OperationKind::StartHoldMusic
            } else {
                OperationKind::StopHoldMusic
            };
            running_operation(
                shared,
                ctx,
                call_id,
                body,
                kind,
                StatusCode::ACCEPTED,
                ResultInfo::new(200, 0, "Action completed successfully."),
                Box::new(|_: &mut World, _: usize| Vec::new()),
            )
        }
        _ => Err(ApiFailure::bad_request(format!(
            "Unknown participant action {action:?}."
        ))),
    }
}

fn mute_all(shared: &Arc<Shared>, ctx: &Ctx, call_id: &CallId, body: &[u8]) -> ApiResult {
    let request: MuteAllRequest = parse(body)?;
    let effects = {
        let mut world = shared.world();
        let call = live(&world, call_id)?;
        group_only(&world, call, "muteAll")?;
        let meeting = world.calls[call].meeting.unwrap_or_default();
        let named: Vec<ParticipantId> = request
            .participants
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| ParticipantId::new(p.as_str()))
            .collect();
        let named: HashSet<&ParticipantId> = named.iter().collect();
        let members: Vec<(usize, TimelineAction)> = (0..world.meetings[meeting].members.len())
            .filter(|&m| {
                let member = &world.meetings[meeting].members[m];
                member.present && (named.is_empty() || named.contains(&member.sim.id))
            })
            .map(|m| (m, TimelineAction::Mute))
            .collect();
        // One roster update for everyone muted (not one per participant: a crowd of thousands).
        crate::engine::apply_member_actions(&mut world, meeting, &members)
    };
    shared.run_media(effects);
    let mut world = shared.world();
    let op = Shared::new_operation(
        OperationKind::Generic,
        request.client_context,
        OperationStatus::Completed,
    );
    Ok(operation_reply(
        &mut world,
        ctx,
        call_id,
        &op,
        StatusCode::OK,
    ))
}

fn invite(shared: &Arc<Shared>, ctx: &Ctx, call_id: &CallId, body: &[u8]) -> ApiResult {
    let request: InviteParticipantsRequest = parse(body)?;
    if request.participants.is_empty() || request.participants.len() > 5 {
        return Err(ApiFailure::bad_request(
            "Inviting 1 to 5 participants is supported.",
        ));
    }
    {
        let world = shared.world();
        let call = live(&world, call_id)?;
        group_only(&world, call, "invite")?;
    }
    let invited: Vec<InvitationParticipantInfo> = request.participants.clone();
    let on_complete: OnComplete = Box::new(move |world: &mut World, call: usize| {
        let Some(meeting) = world.calls[call].meeting else {
            return Vec::new();
        };
        let mut effects = Vec::new();
        for info in &invited {
            let Some(identity) = info.identity.clone() else {
                continue;
            };
            let wanted = identity.primary().and_then(|i| i.id.as_deref());
            let existing = world.meetings[meeting].members.iter().position(|m| {
                wanted.is_some() && m.sim.identity.primary().and_then(|i| i.id.as_deref()) == wanted
            });
            match existing {
                // Already in the meeting: nothing changes.
                Some(member) if world.meetings[meeting].members[member].present => {}
                Some(member) => effects.extend(crate::engine::apply_member_action(
                    world,
                    meeting,
                    member,
                    TimelineAction::Join,
                )),
                None => {
                    let sim = world.add_runtime_member(meeting, identity);
                    effects.extend(
                        world
                            .media_calls(meeting)
                            .into_iter()
                            .map(|c| MediaEffect::Joined(c, Box::new(sim.clone()))),
                    );
                    world.push_meeting_rosters(meeting);
                }
            }
        }
        effects
    });
    start_running(
        shared,
        ctx,
        call_id,
        request.client_context,
        OperationKind::InviteParticipants {
            participants: request.participants,
        },
        StatusCode::OK,
        ResultInfo::new(200, 0, "Action completed successfully."),
        on_complete,
    )
}

fn list_routing_groups(shared: &Shared, call_id: &CallId) -> ApiResult {
    let world = shared.world();
    let call = live(&world, call_id)?;
    Ok(Reply::json(
        StatusCode::OK,
        &ODataCollection {
            value: world.calls[call].routing_groups.clone(),
            odata_context: None,
            next_link: None,
        },
    ))
}

fn find_group(
    world: &World,
    call: usize,
    group: &AudioRoutingGroupId,
) -> Result<usize, ApiFailure> {
    world.calls[call]
        .routing_groups
        .iter()
        .position(|g| g.id.as_ref() == Some(group))
        .ok_or_else(|| {
            ApiFailure::not_found(format!("Audio routing group {group} does not exist."))
        })
}

fn get_routing_group(shared: &Shared, call_id: &CallId, group: &AudioRoutingGroupId) -> ApiResult {
    let world = shared.world();
    let call = live(&world, call_id)?;
    let at = find_group(&world, call, group)?;
    Ok(Reply::json(
        StatusCode::OK,
        &world.calls[call].routing_groups[at],
    ))
}

fn validate_group(world: &World, call: usize, group: &AudioRoutingGroup) -> Result<(), ApiFailure> {
    if group.id.as_ref().is_none_or(|id| id.as_str().is_empty()) {
        return Err(ApiFailure::bad_request("id is required."));
    }
    match &group.routing_mode {
        Some(RoutingMode::OneToOne) if group.sources.len() != 1 || group.receivers.len() != 1 => {
            Err(ApiFailure::bad_request(
                "oneToOne needs exactly one source and one receiver.",
            ))
        }
        Some(RoutingMode::Multicast) if group.sources.len() != 1 || group.receivers.is_empty() => {
            Err(ApiFailure::bad_request(
                "multicast needs exactly one source and at least one receiver.",
            ))
        }
        Some(RoutingMode::OneToOne | RoutingMode::Multicast) => {
            let roster = world.roster(call);
            for id in group.sources.iter().chain(&group.receivers) {
                if !roster.iter().any(|p| p.id.as_ref() == Some(id)) {
                    return Err(ApiFailure::bad_request(format!(
                        "Participant {id} is not in the call."
                    )));
                }
            }
            Ok(())
        }
        _ => Err(ApiFailure::bad_request(
            "routingMode must be oneToOne or multicast.",
        )),
    }
}

fn routing_effect(world: &World, call: usize) -> Vec<MediaEffect> {
    let entry = &world.calls[call];
    if entry.media_attached {
        vec![MediaEffect::Routing(
            entry.id.clone(),
            entry.routing_groups.clone(),
        )]
    } else {
        Vec::new()
    }
}

fn create_routing_group(shared: &Shared, call_id: &CallId, body: &[u8]) -> ApiResult {
    let group: AudioRoutingGroup = parse(body)?;
    let (reply, effects) = {
        let mut world = shared.world();
        let call = live(&world, call_id)?;
        validate_group(&world, call, &group)?;
        if let Some(id) = &group.id
            && find_group(&world, call, id).is_ok()
        {
            return Err(ApiFailure::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!("Audio routing group {id} already exists."),
            ));
        }
        world.calls[call].routing_groups.push(group.clone());
        (
            Reply::json(StatusCode::OK, &group),
            routing_effect(&world, call),
        )
    };
    shared.run_media(effects);
    Ok(reply)
}

fn update_routing_group(
    shared: &Shared,
    call_id: &CallId,
    group_id: &AudioRoutingGroupId,
    body: &[u8],
) -> ApiResult {
    let patch: AudioRoutingGroup = parse(body)?;
    let (reply, effects) = {
        let mut world = shared.world();
        let call = live(&world, call_id)?;
        let at = find_group(&world, call, group_id)?;
        let mut updated = world.calls[call].routing_groups[at].clone();
        if patch.routing_mode.is_some() {
            updated.routing_mode = patch.routing_mode;
        }
        if !patch.sources.is_empty() {
            updated.sources = patch.sources;
        }
        if !patch.receivers.is_empty() {
            updated.receivers = patch.receivers;
        }
        validate_group(&world, call, &updated)?;
        world.calls[call].routing_groups[at] = updated.clone();
        (
            Reply::json(StatusCode::OK, &updated),
            routing_effect(&world, call),
        )
    };
    shared.run_media(effects);
    Ok(reply)
}

fn delete_routing_group(
    shared: &Shared,
    call_id: &CallId,
    group: &AudioRoutingGroupId,
) -> ApiResult {
    let effects = {
        let mut world = shared.world();
        let call = live(&world, call_id)?;
        let at = find_group(&world, call, group)?;
        world.calls[call].routing_groups.remove(at);
        routing_effect(&world, call)
    };
    shared.run_media(effects);
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn sessions(world: &World, call: usize) -> Vec<ContentSharingSession> {
    world.calls[call]
        .meeting
        .map(|m| {
            world.meetings[m]
                .sessions
                .iter()
                .map(|(id, _)| ContentSharingSession {
                    id: Some(id.clone()),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn list_sessions(shared: &Shared, ctx: &Ctx, call_id: &CallId) -> ApiResult {
    let world = shared.world();
    let call = live(&world, call_id)?;
    Ok(Reply::json(
        StatusCode::OK,
        &ODataCollection {
            value: sessions(&world, call),
            odata_context: Some(format!(
                "{}/{call_id}/contentSharingSessions",
                ctx.calls_base
            )),
            next_link: None,
        },
    ))
}

fn get_session(shared: &Shared, call_id: &CallId, session: &ContentSharingSessionId) -> ApiResult {
    let world = shared.world();
    let call = live(&world, call_id)?;
    sessions(&world, call)
        .into_iter()
        .find(|s| s.id.as_ref() == Some(session))
        .map(|s| Reply::json(StatusCode::OK, &s))
        .ok_or_else(|| {
            ApiFailure::not_found(format!("Content sharing session {session} does not exist."))
        })
}

fn get_operation(shared: &Shared, call_id: &CallId, operation: &OperationId) -> ApiResult {
    let world = shared.world();
    let call = live(&world, call_id)?;
    let entry = &world.calls[call];
    let op = entry
        .operations
        .iter()
        .chain(&entry.completed_operations)
        .find(|op| op.id.as_ref() == Some(operation))
        .ok_or_else(|| {
            ApiFailure::not_found(format!(
                "Operation {operation} does not exist, or finished with a notification."
            ))
        })?;
    let mut reply = Reply::json(StatusCode::OK, op);
    if let Some(body) = reply.body.as_mut() {
        apply_value_quirks(body, world.quirks);
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_bodies_parse_with_or_without_odata_type_and_empty_bodies_default() {
        let bare: Call = parse(
            br##"{"callbackUri":"https://bot.contoso.com/callback","requestedModalities":["audio"],
                "mediaConfig":{"@odata.type":"#microsoft.graph.appHostedMediaConfig","blob":"{}"}}"##,
        )
        .unwrap();
        assert_eq!(
            bare.media_config.as_ref().and_then(MediaConfig::blob),
            Some("{}")
        );
        let typed: Call =
            parse(br##"{"@odata.type":"#microsoft.graph.call","callbackUri":"https://x"}"##)
                .unwrap();
        assert_eq!(typed.callback_uri.as_deref(), Some("https://x"));
        let empty: ClientContextBody = parse(b"").unwrap();
        assert_eq!(empty.client_context, None);
        let broken = parse::<Call>(b"{not json").unwrap_err();
        assert_eq!(broken.status, StatusCode::BAD_REQUEST);
        assert!(broken.message.starts_with("The request body is invalid"));
    }

    #[test]
    fn callback_uris_must_be_https_or_loopback_http_when_allowed() {
        let mut config = SimConfig::for_tests();
        for ok in [
            "https://bot.contoso.com/cb",
            "http://127.0.0.1:9/cb",
            "http://[::1]:9/cb",
            "http://localhost/cb",
        ] {
            assert!(check_callback_uri(&config, ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://bot.contoso.com/cb",
            "ftp://127.0.0.1/cb",
            "not a url",
        ] {
            assert!(check_callback_uri(&config, bad).is_err(), "{bad}");
        }
        config.allow_http_loopback_callbacks = false;
        assert!(check_callback_uri(&config, "http://127.0.0.1:9/cb").is_err());
        assert!(check_callback_uri(&config, "https://127.0.0.1:9/cb").is_ok());
    }
}
