//! Every documented Graph example under `fixtures/graph-examples` deserializes into its model type, and
//! the model writes it back without losing or inventing data.
//!
//! The file → type mapping is the `TABLE` below (first matching pattern wins); a fixture that no pattern
//! covers fails the test. `resource-shapes/` (type skeletons, not examples) and `_index.generated.json` are
//! not payloads and are skipped; the index is used instead to cross-check the chosen type against the
//! `@odata.type` Microsoft's docs declare for each example.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs;
use std::path::{Path, PathBuf};

use mediabot_signaling::models::{
    AddLargeGalleryViewRequest, AnswerRequest, AppHostedMediaBlobSample, AudioRoutingGroup, Call,
    CallDirection, CallId, CallResource, CallState, CallbackJwtClaims,
    CancelMediaProcessingRequest, ChangeScreenSharingRoleRequest, ChatInfo, CommsNotifications,
    CommsOperation, ConfigureMixerRequest, ContentSharingSession, Identity, IdentitySet,
    InviteParticipantsRequest, MediaConfig, MeetingInfo, Modality, Msi, MuteAllRequest,
    MuteParticipantRequest, MuteRequest, ODataCollection, ODataError, OpenIdConfiguration,
    OperationId, OperationKind, OperationStatus, OrganizerMeetingInfo, Participant, ParticipantId,
    PlayPromptRequest, RecordCompletionReason, RecordResponseRequest, RedirectRequest,
    RejectReason, RejectRequest, ResourceData, ResultInfo, StartHoldMusicRequest,
    StopHoldMusicRequest, SubscribeToToneRequest, TenantId, TokenResponse, TransferRequest,
    UnmuteRequest, UpdateRecordingStatusRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/graph-examples")
}

fn read_json(name: &str) -> Value {
    let text =
        fs::read_to_string(fixtures_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

fn parse<T: DeserializeOwned>(name: &str) -> T {
    serde_json::from_value(read_json(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The model type a fixture must deserialize into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Call,
    Notifications,
    Operation,
    Participant,
    ParticipantList,
    AudioRoutingGroup,
    AudioRoutingGroupList,
    ContentSharingSession,
    ContentSharingSessionList,
    Answer,
    Reject,
    Redirect,
    Transfer,
    Invite,
    Mute,
    Unmute,
    MuteParticipant,
    MuteAll,
    ConfigureMixer,
    StartHoldMusic,
    StopHoldMusic,
    PlayPrompt,
    RecordResponse,
    CancelMediaProcessing,
    SubscribeToTone,
    ChangeScreenSharingRole,
    UpdateRecordingStatus,
    AddLargeGalleryView,
    MediaConfig,
    BlobSample,
    TokenResponse,
    JwtClaims,
    OpenIdConfiguration,
    ODataError,
}

/// File-name pattern (`*` matches any run of characters) → model type. First match wins.
const TABLE: &[(&str, Kind)] = &[
    (
        "apphostedmediaconfig-blob-sample-as-sent.json",
        Kind::MediaConfig,
    ),
    (
        "apphostedmediaconfig-blob-sample-decoded.json",
        Kind::BlobSample,
    ),
    (
        "auth-client-credentials-token-response.json",
        Kind::TokenResponse,
    ),
    ("auth-callback-jwt-claims-*.json", Kind::JwtClaims),
    (
        "auth-openid-configuration-*.json",
        Kind::OpenIdConfiguration,
    ),
    ("error-*-response.json", Kind::ODataError),
    ("notification-*.json", Kind::Notifications),
    ("*-notification-*.json", Kind::Notifications),
    (
        "participant-large-gallery-view-example.json",
        Kind::Participant,
    ),
    ("call-create-*-request*.json", Kind::Call),
    ("call-create-*-response*.json", Kind::Call),
    ("call-get-*-response.json", Kind::Call),
    ("call-answer*-request.json", Kind::Answer),
    ("call-reject-*-request.json", Kind::Reject),
    ("call-redirect-*-request.json", Kind::Redirect),
    ("call-transfer-*-request.json", Kind::Transfer),
    ("call-mute-request.json", Kind::Mute),
    ("call-unmute-request.json", Kind::Unmute),
    ("call-playprompt-request.json", Kind::PlayPrompt),
    ("call-recordresponse-request.json", Kind::RecordResponse),
    (
        "call-cancelmediaprocessing-request.json",
        Kind::CancelMediaProcessing,
    ),
    ("call-subscribetotone-request.json", Kind::SubscribeToTone),
    (
        "call-changescreensharingrole-request.json",
        Kind::ChangeScreenSharingRole,
    ),
    (
        "call-updaterecordingstatus-request.json",
        Kind::UpdateRecordingStatus,
    ),
    (
        "call-addlargegalleryview-request.json",
        Kind::AddLargeGalleryView,
    ),
    ("participant-invite-*-request.json", Kind::Invite),
    (
        "participant-delete-cancel-invited-participant-request.json",
        Kind::Invite,
    ),
    ("participant-mute-request.json", Kind::MuteParticipant),
    ("participant-muteall-request.json", Kind::MuteAll),
    (
        "participant-configuremixer-request.json",
        Kind::ConfigureMixer,
    ),
    (
        "participant-startholdmusic-request.json",
        Kind::StartHoldMusic,
    ),
    (
        "participant-stopholdmusic-request.json",
        Kind::StopHoldMusic,
    ),
    ("participant-get-response.json", Kind::Participant),
    ("participants-list-response.json", Kind::ParticipantList),
    (
        "audioroutinggroups-list-response.json",
        Kind::AudioRoutingGroupList,
    ),
    ("audioroutinggroup-*-request.json", Kind::AudioRoutingGroup),
    ("audioroutinggroup-*-response.json", Kind::AudioRoutingGroup),
    (
        "contentsharingsession-get-response.json",
        Kind::ContentSharingSession,
    ),
    (
        "contentsharingsessions-list-response.json",
        Kind::ContentSharingSessionList,
    ),
    // Every other action response is the operation the action started.
    ("call-*-response.json", Kind::Operation),
    ("participant-*-response.json", Kind::Operation),
];

/// `*` glob match over the whole name.
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

fn kind_of(name: &str) -> Option<Kind> {
    TABLE
        .iter()
        .find(|(pattern, _)| glob(pattern, name))
        .map(|&(_, kind)| kind)
}

fn example_files() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(fixtures_dir())
        .expect("fixtures/graph-examples exists")
        .map(|entry| entry.expect("readable dir entry"))
        .filter(|entry| entry.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json") && name != "_index.generated.json")
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------------------
// Round-trip comparison: the re-serialized JSON must contain every non-null value of the original (modulo
// the documented quirks) and nothing the original did not have except `@odata.type`.

/// OData annotations the models deliberately drop.
const DROPPED_KEYS: &[&str] = &["@odata.context", "@odata.id", "@odata.etag"];

/// Wire spellings the models normalise: (as received, as written).
const KEY_ALIASES: &[(&str, &str)] = &[("subCode", "subcode"), ("exclusive", "exclusiveMode")];

/// Documented `@odata.type` inconsistencies that the models normalise: (received, written).
const TYPE_SUBSTITUTIONS: &[(&str, &str)] = &[
    // call `targets` typed as participantInfo in some examples.
    (
        "#microsoft.graph.participantInfo",
        "#microsoft.graph.invitationParticipantInfo",
    ),
    // participant `info` typed as invitationParticipantInfo in invite roster examples.
    (
        "#microsoft.graph.invitationParticipantInfo",
        "#microsoft.graph.participantInfo",
    ),
    // the configureMixer notification item typed as commsOperation.
    (
        "#microsoft.graph.commsOperation",
        "#microsoft.graph.commsNotification",
    ),
];

/// Keys outside the models in specific files: (file, JSON path). Each is a doc artefact.
const KNOWN_DROPPED: &[(&str, &str)] = &[
    // Top-level languageId/region on the beta transfer body are not transfer parameters (doc placeholder junk).
    (
        "call-transfer-beta-from-group-call-request.json",
        "$.languageId",
    ),
    (
        "call-transfer-beta-from-group-call-request.json",
        "$.region",
    ),
];

fn is_absent(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn alias(key: &str) -> &str {
    KEY_ALIASES
        .iter()
        .find(|(from, _)| *from == key)
        .map_or(key, |(_, to)| to)
}

fn leaf_equal(key: &str, original: &Value, written: &Value) -> bool {
    match (original, written) {
        (Value::String(a), Value::Number(b)) => a.trim().parse::<i64>().ok() == b.as_i64(),
        (Value::String(a), Value::String(b)) if key == "status" => a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    }
}

fn compare(
    file: &str,
    path: &str,
    key: &str,
    original: &Value,
    written: &Value,
    errors: &mut Vec<String>,
) {
    match (original, written) {
        (Value::Object(orig), Value::Object(out)) => {
            for (k, v) in orig {
                let child = format!("{path}.{k}");
                if is_absent(v)
                    || DROPPED_KEYS.contains(&k.as_str())
                    || KNOWN_DROPPED.contains(&(file, &child))
                {
                    continue;
                }
                if k == "@odata.type" {
                    let (Some(a), Some(b)) = (v.as_str(), out.get(k).and_then(Value::as_str))
                    else {
                        errors.push(format!("{child}: @odata.type {v} not written back"));
                        continue;
                    };
                    if !a.eq_ignore_ascii_case(b) && !TYPE_SUBSTITUTIONS.contains(&(a, b)) {
                        errors.push(format!("{child}: @odata.type {a} written as {b}"));
                    }
                    continue;
                }
                match out.get(alias(k)) {
                    Some(w) => compare(file, &child, k, v, w, errors),
                    None => errors.push(format!("{child}: dropped {v}")),
                }
            }
            for (k, w) in out {
                let known = orig.iter().any(|(ok, ov)| alias(ok) == k && !ov.is_null());
                // Writing `null` where Graph sent nothing (or `null`) carries no data.
                if k != "@odata.type" && !known && !w.is_null() {
                    errors.push(format!("{path}.{k}: invented {w}"));
                }
            }
        }
        (Value::Array(orig), Value::Array(out)) => {
            if orig.len() != out.len() {
                errors.push(format!(
                    "{path}: {} items written as {}",
                    orig.len(),
                    out.len()
                ));
                return;
            }
            for (i, (o, w)) in orig.iter().zip(out).enumerate() {
                compare(file, &format!("{path}[{i}]"), key, o, w, errors);
            }
        }
        (o, w) if leaf_equal(key, o, w) => {}
        (o, w) => errors.push(format!("{path}: {o} written as {w}")),
    }
}

/// Deserializes `original` as `T`, writes it back, and checks nothing was lost or invented and that the
/// written form reads back to the same value.
fn round_trip<T>(file: &str, original: &Value) -> Result<T, Vec<String>>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let model: T =
        serde_json::from_value(original.clone()).map_err(|e| vec![format!("deserialize: {e}")])?;
    let written = serde_json::to_value(&model).map_err(|e| vec![format!("serialize: {e}")])?;
    let mut errors = Vec::new();
    compare(file, "$", "", original, &written, &mut errors);
    match serde_json::from_value::<T>(written) {
        Ok(again) if again == model => {}
        Ok(again) => errors.push(format!("re-read differs: {again:?} vs {model:?}")),
        Err(e) => errors.push(format!("re-read: {e}")),
    }
    if errors.is_empty() {
        Ok(model)
    } else {
        Err(errors)
    }
}

/// The `@odata.type` (without `#`) that the parsed model stands for, for the index cross-check.
fn model_type(kind: Kind, file: &str, original: &Value) -> Result<Option<String>, Vec<String>> {
    fn plain(t: &str) -> Option<String> {
        Some(t.trim_start_matches('#').to_owned())
    }
    Ok(match kind {
        Kind::Call => {
            let call: Call = round_trip(file, original)?;
            check_call(file, &call)?;
            plain("microsoft.graph.call")
        }
        Kind::Notifications => {
            let batch: CommsNotifications = round_trip(file, original)?;
            check_notifications(file, original, &batch)?;
            plain("microsoft.graph.commsNotifications")
        }
        Kind::Operation => {
            let op: CommsOperation = round_trip(file, original)?;
            if matches!(op.kind, OperationKind::Unknown { .. }) {
                return Err(vec![format!("unknown operation type {:?}", op.kind)]);
            }
            plain(op.kind.odata_type())
        }
        Kind::Participant => {
            let p: Participant = round_trip(file, original)?;
            if p.id.is_none() || p.media_streams.is_empty() {
                return Err(vec!["participant without id or streams".into()]);
            }
            plain("microsoft.graph.participant")
        }
        Kind::ParticipantList => {
            let list: ODataCollection<Participant> = round_trip(file, original)?;
            if list.value.is_empty() {
                return Err(vec!["empty participant list".into()]);
            }
            None
        }
        Kind::AudioRoutingGroup => {
            let group: AudioRoutingGroup = round_trip(file, original)?;
            if group.sources.is_empty()
                || group.receivers.is_empty()
                || group.routing_mode.is_none()
            {
                return Err(vec![format!("incomplete routing group {group:?}")]);
            }
            plain("microsoft.graph.audioRoutingGroup")
        }
        Kind::AudioRoutingGroupList => {
            round_trip::<ODataCollection<AudioRoutingGroup>>(file, original)?;
            None
        }
        Kind::ContentSharingSession => {
            round_trip::<ContentSharingSession>(file, original)?;
            plain("microsoft.graph.contentSharingSession")
        }
        Kind::ContentSharingSessionList => {
            round_trip::<ODataCollection<ContentSharingSession>>(file, original)?;
            None
        }
        Kind::Answer => {
            let answer: AnswerRequest = round_trip(file, original)?;
            if answer.accepted_modalities.is_empty()
                || matches!(answer.media_config, MediaConfig::Unknown { .. })
            {
                return Err(vec![format!("incomplete answer {answer:?}")]);
            }
            None
        }
        Kind::Reject => {
            round_trip::<RejectRequest>(file, original)?;
            None
        }
        Kind::Redirect => {
            let redirect: RedirectRequest = round_trip(file, original)?;
            if redirect.targets.is_empty() {
                return Err(vec!["redirect without targets".into()]);
            }
            None
        }
        Kind::Transfer => {
            let transfer: TransferRequest = round_trip(file, original)?;
            if transfer
                .transfer_target
                .identity
                .as_ref()
                .is_none_or(IdentitySet::is_empty)
            {
                return Err(vec!["transfer target without identity".into()]);
            }
            None
        }
        Kind::Invite => {
            let invite: InviteParticipantsRequest = round_trip(file, original)?;
            if invite.participants.is_empty() {
                return Err(vec!["invite without participants".into()]);
            }
            None
        }
        Kind::Mute => simple::<MuteRequest>(file, original)?,
        Kind::Unmute => simple::<UnmuteRequest>(file, original)?,
        Kind::MuteParticipant => simple::<MuteParticipantRequest>(file, original)?,
        Kind::MuteAll => simple::<MuteAllRequest>(file, original)?,
        Kind::ConfigureMixer => simple::<ConfigureMixerRequest>(file, original)?,
        Kind::StartHoldMusic => simple::<StartHoldMusicRequest>(file, original)?,
        Kind::StopHoldMusic => simple::<StopHoldMusicRequest>(file, original)?,
        Kind::PlayPrompt => simple::<PlayPromptRequest>(file, original)?,
        Kind::RecordResponse => simple::<RecordResponseRequest>(file, original)?,
        Kind::CancelMediaProcessing => simple::<CancelMediaProcessingRequest>(file, original)?,
        Kind::SubscribeToTone => simple::<SubscribeToToneRequest>(file, original)?,
        Kind::ChangeScreenSharingRole => simple::<ChangeScreenSharingRoleRequest>(file, original)?,
        Kind::UpdateRecordingStatus => simple::<UpdateRecordingStatusRequest>(file, original)?,
        Kind::AddLargeGalleryView => simple::<AddLargeGalleryViewRequest>(file, original)?,
        Kind::MediaConfig => {
            let config: MediaConfig = round_trip(file, original)?;
            let blob = config.blob().ok_or_else(|| vec!["no blob".to_owned()])?;
            AppHostedMediaBlobSample::from_blob(blob)
                .map_err(|e| vec![format!("blob is not the sample JSON: {e}")])?;
            None
        }
        Kind::BlobSample => simple::<AppHostedMediaBlobSample>(file, original)?,
        Kind::TokenResponse => simple::<TokenResponse>(file, original)?,
        Kind::JwtClaims => simple::<CallbackJwtClaims>(file, original)?,
        Kind::OpenIdConfiguration => simple::<OpenIdConfiguration>(file, original)?,
        Kind::ODataError => simple::<ODataError>(file, original)?,
    })
}

fn simple<T>(file: &str, original: &Value) -> Result<Option<String>, Vec<String>>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    round_trip::<T>(file, original).map(|_| None)
}

fn check_call(file: &str, call: &Call) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    if call.callback_uri.is_none() {
        errors.push("call without callbackUri".to_owned());
    }
    if call.media_config.is_none() || matches!(call.media_config, Some(MediaConfig::Unknown { .. }))
    {
        errors.push(format!(
            "call without a known mediaConfig: {:?}",
            call.media_config
        ));
    }
    if call.requested_modalities.is_empty() {
        errors.push("call without requestedModalities".to_owned());
    }
    if matches!(call.meeting_info, Some(MeetingInfo::Unknown { .. })) {
        errors.push(format!("unknown meetingInfo {:?}", call.meeting_info));
    }
    if file.contains("-response") && (call.id.is_none() || call.state.is_none()) {
        errors.push("call response without id or state".to_owned());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn check_notifications(
    file: &str,
    original: &Value,
    batch: &CommsNotifications,
) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    if batch.value.is_empty() {
        errors.push("empty batch".to_owned());
    }
    for (i, n) in batch.value.iter().enumerate() {
        let url = original["value"][i]["resourceUrl"]
            .as_str()
            .or(original["value"][i]["resource"].as_str());
        match n.resource_ref() {
            Err(e) => errors.push(format!("[{i}] no call id: {e}")),
            Ok(r) => {
                // The call id must be the path segment after /calls/ in the URL as written.
                let expected = url
                    .and_then(|u| u.split("/calls/").nth(1))
                    .and_then(|rest| rest.split('/').next());
                if expected != Some(r.call_id.as_str()) {
                    errors.push(format!(
                        "[{i}] call id {:?} not the one in {url:?}",
                        r.call_id
                    ));
                }
                let consistent = match (&r.resource, &n.resource_data) {
                    (_, ResourceData::Other { .. }) => false,
                    (CallResource::Call, ResourceData::Call(_)) => true,
                    (CallResource::Participants, ResourceData::Participants(_)) => true,
                    // Doc typo: `…/operations/participants` on a roster notification.
                    (CallResource::Operation(id), ResourceData::Participants(_)) => {
                        id.as_str() == "participants"
                    }
                    (CallResource::Operation(id), ResourceData::Operation(op)) => {
                        op.id.as_ref().is_none_or(|op_id| op_id == id)
                    }
                    (
                        CallResource::ContentSharingSessions,
                        ResourceData::ContentSharingSessions(_),
                    ) => true,
                    (CallResource::ContentSharingSession(_), ResourceData::Absent) => true,
                    _ => false,
                };
                if !consistent {
                    errors.push(format!(
                        "[{i}] {:?} does not fit resource {:?} ({file})",
                        n.resource_data, r.resource
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[test]
fn every_graph_example_deserializes_into_its_type_and_round_trips() {
    let files = example_files();
    assert!(
        files.len() >= 200,
        "expected the full example set, found {} files",
        files.len()
    );

    let index: Vec<Value> =
        serde_json::from_value(read_json("_index.generated.json")).expect("index is a list");
    let doc_types: BTreeMap<&str, &str> = index
        .iter()
        .filter_map(|e| Some((e["file"].as_str()?, e["doc_meta"]["@odata.type"].as_str()?)))
        .collect();

    let mut uncovered = Vec::new();
    let mut failures = BTreeMap::new();
    let mut per_kind: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let Some(kind) = kind_of(file) else {
            uncovered.push(file.clone());
            continue;
        };
        *per_kind.entry(format!("{kind:?}")).or_default() += 1;
        let original = read_json(file);
        match model_type(kind, file, &original) {
            Err(errors) => {
                failures.insert(file.clone(), errors);
            }
            Ok(parsed_type) => {
                if let (Some(doc), Some(ours)) =
                    (doc_types.get(file.as_str()), parsed_type.as_deref())
                    && !doc.eq_ignore_ascii_case(ours)
                {
                    failures.insert(
                        file.clone(),
                        vec![format!("docs say {doc}, parsed as {ours}")],
                    );
                }
            }
        }
    }
    assert!(
        uncovered.is_empty(),
        "fixtures not covered by TABLE: {uncovered:#?}"
    );
    assert!(
        failures.is_empty(),
        "{} fixtures failed: {failures:#?}",
        failures.len()
    );
    assert!(
        per_kind["Notifications"] >= 70 && per_kind["Call"] >= 30 && per_kind["Operation"] >= 15,
        "{per_kind:?}"
    );
}

#[test]
fn every_table_pattern_is_used() {
    let files = example_files();
    let unused: Vec<&str> = TABLE
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !files.iter().any(|f| glob(p, f)))
        .collect();
    assert!(
        unused.is_empty(),
        "patterns matching no fixture: {unused:?}"
    );
}

#[test]
fn glob_matches_whole_names() {
    assert!(glob(
        "call-answer*-request.json",
        "call-answer-request.json"
    ));
    assert!(glob(
        "call-answer*-request.json",
        "call-answer-beta-request.json"
    ));
    assert!(glob(
        "*-notification-*.json",
        "call-mute-notification-roster.json"
    ));
    assert!(!glob("call-mute-request.json", "call-unmute-request.json"));
    assert!(!glob("notification-*.json", "call-notification-x.json"));
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios: the fields the state machine relies on, one behaviour each.

fn only_notification(file: &str) -> mediabot_signaling::models::CommsNotification {
    let mut batch: CommsNotifications = parse(file);
    assert_eq!(batch.value.len(), 1, "{file}");
    batch.value.remove(0)
}

#[test]
fn incoming_call_notification_carries_caller_target_and_modalities() {
    let n = only_notification("notification-incoming-call.json");
    assert_eq!(
        n.call_id().unwrap(),
        CallId::new("57DAB8B1894C409AB240BD8BEAE78896")
    );
    let ResourceData::Call(call) = n.resource_data else {
        panic!("not a call")
    };
    assert_eq!(call.state, Some(CallState::Incoming));
    assert_eq!(call.direction, Some(CallDirection::Incoming));
    let caller = call
        .source
        .and_then(|s| s.identity)
        .and_then(|i| i.user)
        .unwrap();
    assert_eq!(caller.display_name.as_deref(), Some("Test User"));
    let bot = call.targets[0]
        .identity
        .as_ref()
        .and_then(|i| i.application.as_ref())
        .unwrap();
    assert_eq!(bot.display_name.as_deref(), Some("Test BOT"));
    assert_eq!(call.requested_modalities, vec![Modality::Audio]);
}

#[test]
fn policy_recording_invite_has_token_meeting_info_and_bot_data() {
    let n = only_notification("notification-incoming-call-policy-recording.json");
    assert_eq!(
        n.resource.as_deref(),
        Some("/app/calls/e71f0300-9c1f-4d99-b5f4-2722e877d497")
    );
    let ResourceData::Call(call) = n.resource_data else {
        panic!("not a call")
    };
    let Some(MeetingInfo::Token(token)) = &call.meeting_info else {
        panic!("{:?}", call.meeting_info)
    };
    assert_eq!(token.token, "join token");
    assert_eq!(
        call.tenant_id,
        Some(TenantId::new("932899f8-2ea1-4604-8413-27bd2892079f"))
    );
    assert_eq!(
        call.my_participant_id,
        Some(ParticipantId::new("1520a1a5-5394-4a41-aa72-9ee6fa18cfc8"))
    );
    let context = call.incoming_context.as_ref().unwrap();
    assert_eq!(
        context.observed_participant_id,
        Some(ParticipantId::new("30fad2ce-8989-41a1-8a66-f6636e629a2a"))
    );
    let metadata = call.application_metadata.as_ref().unwrap();
    assert_eq!(
        metadata.str_at(&["botData", "policyIdentifier"]),
        Some("Test Policy")
    );
}

#[test]
fn realistic_roster_maps_msis_to_participants() {
    let n = only_notification(
        "call-addlargegalleryview-notification-roster-with-large-gallery-participant.json",
    );
    let ResourceData::Participants(roster) = &n.resource_data else {
        panic!("not a roster")
    };
    assert_eq!(roster.len(), 6);
    let speaker = roster.iter().find(|p| p.has_msi(Msi(1652))).unwrap();
    assert_eq!(
        speaker.id,
        Some(ParticipantId::new("63ce9188-e754-4733-9e71-ccc829499a63"))
    );
    assert_eq!(speaker.audio_msi(), Some(Msi(1652)));
    let gallery: Vec<_> = roster
        .iter()
        .filter(|p| {
            p.identity()
                .and_then(|i| i.application.as_ref())
                .and_then(|a| a.application_type.as_deref())
                == Some("LargeGallery-V2")
        })
        .collect();
    assert_eq!(gallery.len(), 2);
    assert!(
        gallery[0]
            .metadata
            .as_deref()
            .unwrap()
            .contains("audienceView")
    );
    let organizer = roster
        .iter()
        .find(|p| p.meeting_role.as_deref() == Some("organizer"))
        .unwrap();
    assert!(organizer.muted());
}

#[test]
fn terminated_notification_reads_string_codes() {
    let n = only_notification("notification-call-terminated.json");
    let ResourceData::Call(call) = n.resource_data else {
        panic!("not a call")
    };
    assert_eq!(call.state, Some(CallState::Terminated));
    assert_eq!(
        call.result_info,
        Some(ResultInfo::new(200, 5001, "The conversation has ended."))
    );
}

#[test]
fn transfer_failure_reads_sub_code_spelling() {
    let n = only_notification("call-transfer-blind-notification-transfer-failed.json");
    let ResourceData::Call(call) = n.resource_data else {
        panic!("not a call")
    };
    assert_eq!(call.state, Some(CallState::Established));
    let info = call.result_info.unwrap();
    assert_eq!((info.code, info.subcode), (Some(500), Some(7000)));
    assert_eq!(call.replaces_context.as_deref(), Some("<replacesContext>"));
}

#[test]
fn invite_response_status_running_is_case_insensitive() {
    let op: CommsOperation = parse("participant-invite-one-participant-response.json");
    assert_eq!(op.status, Some(OperationStatus::Running));
    assert!(!op.is_final());
    let OperationKind::InviteParticipants { participants } = &op.kind else {
        panic!("{:?}", op.kind)
    };
    assert_eq!(
        participants[0].replaces_call_id,
        Some(CallId::new("a7ebfb2d-871e-419c-87af-27290b22e8db"))
    );
}

#[test]
fn slashless_resource_url_still_routes_the_operation() {
    let n = only_notification("participant-startholdmusic-notification-operation-completed.json");
    let r = n.resource_ref().unwrap();
    assert_eq!(
        r.call_id,
        CallId::new("e141b67c-90fd-455d-858b-b48a40b9cc8d")
    );
    assert_eq!(
        r.resource,
        CallResource::Operation(OperationId::new("0fe0623f-d628-42ed-b4bd-8ac290072cc5"))
    );
    let ResourceData::Operation(op) = n.resource_data else {
        panic!("not an operation")
    };
    assert_eq!(op.kind, OperationKind::StartHoldMusic);
    assert!(op.is_final());
}

#[test]
fn failed_record_operation_matches_its_url_despite_guid_spelling() {
    let n = only_notification("notification-operation-failed.json");
    let r = n.resource_ref().unwrap();
    let ResourceData::Operation(op) = n.resource_data else {
        panic!("not an operation")
    };
    // URL: 0FE0623FD62842EDB4BD8AC290072CC5, body: 0fe0623f-d628-42ed-b4bd-8ac290072cc5.
    assert_eq!(r.resource, CallResource::Operation(op.id.clone().unwrap()));
    assert_eq!(op.status, Some(OperationStatus::Failed));
    assert_eq!(
        op.result_info,
        Some(ResultInfo::new(
            400,
            8508,
            "Action failed, the operation was cancelled."
        ))
    );
    let OperationKind::Record {
        completion_reason,
        recording_location,
        ..
    } = &op.kind
    else {
        panic!("{:?}", op.kind)
    };
    assert_eq!(
        completion_reason,
        &Some(RecordCompletionReason::OperationCanceled)
    );
    assert_eq!(recording_location.as_deref(), Some(""));
}

#[test]
fn content_sharing_notification_without_resource_data_is_absent() {
    let n = only_notification(
        "call-answer-beta-voip-app-hosted-notification-content-sharing-started.json",
    );
    assert_eq!(n.resource_data, ResourceData::Absent);
    assert!(matches!(
        n.resource_ref().unwrap().resource,
        CallResource::ContentSharingSession(_)
    ));
}

#[test]
fn blob_is_sent_as_a_json_string_holding_the_decoded_sample() {
    let as_sent = read_json("apphostedmediaconfig-blob-sample-as-sent.json");
    assert!(
        as_sent["blob"].is_string(),
        "blob must be a JSON string on the wire"
    );
    let config: MediaConfig = serde_json::from_value(as_sent).unwrap();
    let from_blob = AppHostedMediaBlobSample::from_blob(config.blob().unwrap()).unwrap();
    let decoded: AppHostedMediaBlobSample = parse("apphostedmediaconfig-blob-sample-decoded.json");
    assert_eq!(from_blob, decoded);
    assert_eq!(decoded.supported_audio_format.as_deref(), Some("Pcm16K"));
    assert_eq!(
        decoded.audio_source_contexts,
        vec!["a5dcfc9b-5a54-48ef-86f5-1fdd8508741a".to_owned()]
    );
}

#[test]
fn auth_payloads_parse_and_the_token_is_redacted_in_debug() {
    let token: TokenResponse = parse("auth-client-credentials-token-response.json");
    assert_eq!(
        (token.token_type.as_str(), token.expires_in),
        ("Bearer", 3599)
    );
    assert!(!format!("{token:?}").contains("eyJ0"));
    let claims: CallbackJwtClaims = parse("auth-callback-jwt-claims-example.json");
    assert_eq!(claims.iss, "https://api.botframework.com");
    assert_eq!(
        claims.tid,
        Some(TenantId::new("1fdd12d0-4620-44ed-baec-459b611f84b2"))
    );
    let openid: OpenIdConfiguration = parse("auth-openid-configuration-aps-skype-example.json");
    assert_eq!(openid.jwks_uri, "https://api.aps.skype.com/v1/keys");
    let error: ODataError = parse("error-429-too-many-requests-response.json");
    assert_eq!(error.error.code, "TooManyRequests");
    assert_eq!(
        error.error.inner_error.unwrap().request_id.as_deref(),
        Some("94fb3b52-452a-4535-a601-69e0a90e3aa2")
    );
}

// ---------------------------------------------------------------------------------------------------------
// Built in code, the models serialize to exactly what Microsoft's examples send.

#[test]
fn join_meeting_request_built_in_code_equals_the_doc_example() {
    let tenant = TenantId::new("aa67bd4c-8475-432d-bd41-39f255720e0a");
    let call = Call {
        direction: Some(CallDirection::Outgoing),
        callback_uri: Some("https://bot.contoso.com/callback".into()),
        requested_modalities: vec![Modality::Audio],
        media_config: Some(MediaConfig::AppHosted(Default::default())),
        chat_info: Some(ChatInfo {
            thread_id: Some(
                "19:meeting_Win6Ydo4wsMijFjZS00ZGVjLTk5MGUtOTRjNWY2NmNkYTFm@thread.v2".into(),
            ),
            message_id: Some("0".into()),
            reply_chain_message_id: None,
        }),
        meeting_info: Some(MeetingInfo::Organizer(Box::new(OrganizerMeetingInfo {
            organizer: Some(IdentitySet::user(Identity {
                id: Some("5810cede-f3cc-42eb-b2c1-e9bd5d53ec96".into()),
                tenant_id: Some(tenant.clone()),
                display_name: Some("Bob".into()),
                ..Identity::default()
            })),
            allow_conversation_without_host: Some(true),
        }))),
        tenant_id: Some(tenant),
        ..Call::default()
    };
    assert_eq!(
        serde_json::to_value(&call).unwrap(),
        read_json("call-create-join-meeting-app-hosted-request-2023.json")
    );
}

#[test]
fn answer_and_reject_bodies_built_in_code_equal_the_doc_examples() {
    let answer = AnswerRequest {
        callback_uri: Some("https://bot.contoso.com/api/calls".into()),
        accepted_modalities: vec![Modality::Audio],
        media_config: MediaConfig::app_hosted("<Media Session Configuration Blob>"),
        participant_capacity: None,
        call_options: None,
    };
    assert_eq!(
        serde_json::to_value(&answer).unwrap(),
        read_json("call-answer-voip-app-hosted-request.json")
    );
    let reject = RejectRequest {
        reason: Some(RejectReason::Busy),
        callback_uri: None,
    };
    assert_eq!(
        serde_json::to_value(&reject).unwrap(),
        read_json("call-reject-busy-request.json")
    );
}

// ---------------------------------------------------------------------------------------------------------
// Robustness: notifications come from the network; no mutation of a real one may panic.

fn json_pointers(value: &Value, prefix: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let pointer = format!("{prefix}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.push(pointer.clone());
                json_pointers(child, pointer, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let pointer = format!("{prefix}/{i}");
                out.push(pointer.clone());
                json_pointers(child, pointer, out);
            }
        }
        _ => {}
    }
}

/// Replaces every node of every notification fixture, one at a time, by values of the wrong type and by
/// other resources' `@odata.type`s and URLs: parsing returns `Ok` or `Err` but never panics, and whatever
/// parses can be written and read again.
#[test]
fn mutated_notifications_never_panic() {
    let replacements = [
        Value::Null,
        json!(0),
        json!(-1),
        json!(1e300),
        json!(true),
        json!(""),
        json!("x"),
        json!("4294967295"),
        json!([]),
        json!({}),
        json!([{}]),
        json!("#microsoft.graph.call"),
        json!("#microsoft.graph.participant"),
        json!("#microsoft.graph.deltaParticipants"),
        json!("#microsoft.graph.contentSharingSession"),
        json!("#microsoft.graph.recordOperation"),
        json!("communications/calls/"),
        json!("/app/calls/ÿ/participants"),
    ];
    let (mut parsed, mut rejected) = (0usize, 0usize);
    for file in example_files()
        .iter()
        .filter(|f| kind_of(f) == Some(Kind::Notifications))
    {
        let original = read_json(file);
        let mut pointers = Vec::new();
        json_pointers(&original, String::new(), &mut pointers);
        for pointer in &pointers {
            for replacement in &replacements {
                let mut mutated = original.clone();
                *mutated
                    .pointer_mut(pointer)
                    .expect("pointer from the same document") = replacement.clone();
                match serde_json::from_value::<CommsNotifications>(mutated) {
                    Ok(batch) => {
                        parsed += 1;
                        for n in &batch.value {
                            let _ = n.resource_ref();
                        }
                        let written =
                            serde_json::to_value(&batch).expect("models always serialize");
                        if let Err(e) = serde_json::from_value::<CommsNotifications>(written) {
                            panic!(
                                "{file} {pointer}={replacement}: written form does not re-read: {e}"
                            );
                        }
                    }
                    Err(_) => rejected += 1,
                }
            }
        }
    }
    assert!(
        parsed > 10_000 && rejected > 1_000,
        "parsed {parsed}, rejected {rejected}"
    );
}
