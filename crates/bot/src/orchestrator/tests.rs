//! Scenario tests of the orchestrator on a simulated clock.
//!
//! A [`Harness`] plays everything around the orchestrator the way the runtime would, with zero
//! latency and no sockets: Graph's call control (create 201, keepAlive 200, hang-up 204 followed
//! by a `terminated` notification), Graph's `audioRoutingGroups` (an in-memory collection per
//! call), the media runtime (offer → `Offered`, connect → `Connected`, close → `Closed`) and the
//! report writer. Tests deliver Graph's notifications (call state, roster snapshots, created /
//! deleted / delta participants) and move `now` by hand; nothing sleeps. Wall time per event is
//! printed for the large-meeting steps, never asserted.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mediabot_media::session::blob::{
    Guid, MediaAnswer, MediaBlobBuilder, MediaSessionId, ReceiveMode, ValidatedAnswer,
    ValidatedBlob,
};
use mediabot_media::session::params::{
    AudioCodec, DtlsFingerprint, DtlsSetup, HeaderExtensionMap, IceCandidate, IceParams,
    StreamDirection, StreamPlan, TransportParams,
};
use mediabot_routing::{RequestKind, RouteTable, RoutingReply, RoutingRequest, validate_group};
use mediabot_signaling::call::{GraphAction, GraphFailure, GraphReply, GraphRequest};
use mediabot_signaling::models::{
    AudioRoutingGroup, Call as GraphCall, CallId, CommsNotifications, MediaConfig, ParticipantId,
    RoutingMode, TenantId,
};
use serde_json::{Value, json};

use super::{
    CallKey, Command, MediaAction, MediaEvent, MediaSummary, Orchestrator, OrchestratorConfig,
    Output, Phase, Reply, ReplyTo,
};
use crate::control::{CallStatus, ErrorKind, RouteOp, RouteSpec, STATUS_NAMES};
use crate::report::CallReport;

// ---- fixtures -------------------------------------------------------------------------------

/// The join URL of Microsoft's join-URL documentation.
const JOIN_URL: &str = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NTg0NmQ3NTctZDVkZC00YzRhLThmNmEtOGQ3M2E0ODdmZDZk%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%224b444206-207c-42f8-92a6-e332b41c88a2%22%7d";
const PUBLIC_BASE: &str = "https://bot.contoso.com:9441";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const FINGERPRINT: &str = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:\
                           AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

/// A big meeting: the roster snapshot holds this many participants, the bot included.
const TOWN_HALL: usize = 5_000;
/// Joins and leaves after the snapshot, each its own notification.
const CHURN: usize = 500;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/graph-examples")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixtures are JSON")
}

fn config() -> OrchestratorConfig {
    let mut config = OrchestratorConfig::new(PUBLIC_BASE, TenantId::new(TENANT));
    config.out_dir = PathBuf::from("/recordings");
    config
}

/// The `n`th call Graph creates (ids shaped like Graph's).
fn graph_call_id(n: u64) -> CallId {
    CallId::new(format!("2f1a1100-b174-40a0-aba7-{n:012x}"))
}

/// The bot's participant id in the `n`th call.
fn bot_id(n: u64) -> String {
    format!("05491616-385f-44a8-9974-{n:012x}")
}

/// Participant `i` of a meeting (the same person in every call).
fn person_id(i: usize) -> String {
    format!("0d7664b6-6432-43ed-8d27-{i:012x}")
}

/// Participant `i`'s audio MSI.
fn person_msi(i: usize) -> u32 {
    1_000 + i as u32
}

/// Graph's 201 to the `n`th create-call: the documented join-meeting response, re-addressed.
fn created_call(n: u64) -> GraphCall {
    let mut call: GraphCall = serde_json::from_value(fixture(
        "call-create-join-meeting-service-hosted-response.json",
    ))
    .expect("the documented response parses");
    call.id = Some(graph_call_id(n));
    call.my_participant_id = Some(ParticipantId::new(bot_id(n)));
    call
}

/// A documented callback body re-addressed to `call`.
fn readdressed(name: &str, call: &CallId) -> Value {
    let mut body = fixture(name);
    for notification in body["value"].as_array_mut().expect("a batch") {
        let url = notification["resourceUrl"].as_str().expect("resourceUrl");
        let id = url.split('/').nth(3).expect("/communications/calls/{id}…");
        notification["resourceUrl"] = json!(url.replacen(id, call.as_str(), 1));
    }
    body
}

fn established(call: &CallId) -> Value {
    readdressed(
        "call-create-join-meeting-service-hosted-notification-established.json",
        call,
    )
}

fn terminated(call: &CallId) -> Value {
    readdressed("call-delete-notification-terminated.json", call)
}

/// A participant shaped like the documented roster's, with one audio stream.
fn participant(id: &str, name: &str, msi: u32, application: bool) -> Value {
    let identity = if application {
        json!({ "application": { "displayName": name, "id": id } })
    } else {
        json!({ "user": { "displayName": name, "id": id } })
    };
    json!({
        "@odata.type": "#microsoft.graph.participant",
        "info": {
            "@odata.type": "#microsoft.graph.participantInfo",
            "identity": identity,
            "languageId": "en-US"
        },
        "mediaStreams": [{
            "@odata.type": "#microsoft.graph.mediaStream",
            "mediaType": "audio",
            "sourceId": msi.to_string(),
            "direction": "sendReceive",
            "serverMuted": false
        }],
        "isMuted": false,
        "isInLobby": false,
        "id": id
    })
}

fn person(i: usize) -> Value {
    participant(&person_id(i), &format!("Person {i}"), person_msi(i), false)
}

fn bot_participant(n: u64) -> Value {
    participant(&bot_id(n), "Calling Bot", 10, true)
}

fn participants_notification(call: &CallId, change: &str, participants: Vec<Value>) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.commsNotifications",
        "value": [{
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": change,
            "resourceUrl": format!("/communications/calls/{}/participants", call.as_str()),
            "resourceData": participants
        }]
    })
}

/// A full roster: the bot of call `n` and people `0..people`.
fn roster_snapshot(call: &CallId, n: u64, people: usize) -> Value {
    let mut list = vec![bot_participant(n)];
    list.extend((0..people).map(person));
    participants_notification(call, "updated", list)
}

fn delta(call: &CallId, sequence: i64, participants: Vec<Value>) -> Value {
    json!({
        "value": [{
            "changeType": "updated",
            "resourceUrl": format!("/communications/calls/{}/participants", call.as_str()),
            "resourceData": {
                "@odata.type": "#microsoft.graph.deltaParticipants",
                "sequenceNumber": sequence,
                "participants": participants
            }
        }]
    })
}

fn removed(mut participant: Value) -> Value {
    participant["removedState"] = json!({ "reason": "Removed from the meeting" });
    participant
}

/// The bot's side of the media transport, as a session would offer it.
fn bot_transport() -> TransportParams {
    TransportParams {
        ice: IceParams {
            ufrag: "Xk3f".into(),
            pwd: "p9Vv2/bQ+u3Rm8Lw1ZtY7nHs".into(),
        },
        candidates: vec![IceCandidate {
            foundation: "1".into(),
            component: 1,
            protocol: "udp".into(),
            priority: 2_130_706_431,
            address: "203.0.113.7".into(),
            port: 50_000,
            kind: "host".into(),
        }],
        fingerprint: DtlsFingerprint {
            algorithm: "sha-256".into(),
            value: FINGERPRINT.into(),
        },
        setup: DtlsSetup::Actpass,
        audio_codecs: vec![AudioCodec::opus(111)],
        header_extensions: vec![HeaderExtensionMap {
            id: 1,
            uri: "urn:ietf:params:rtp-hdrext:ssrc-audio-level".into(),
        }],
        streams: vec![StreamPlan {
            ssrc: 0x1234_5678,
            msi: None,
            direction: StreamDirection::Send,
            cname: Some("mediabot".into()),
        }],
    }
}

/// The media processor's side: passive DTLS, four MSI-tagged speaker streams.
fn processor_transport() -> TransportParams {
    let mut transport = bot_transport();
    transport.ice = IceParams {
        ufrag: "Proc".into(),
        pwd: "Z9y8X7w6V5u4T3s2R1q0Pp".into(),
    };
    transport.setup = DtlsSetup::Passive;
    transport.streams = (0..4)
        .map(|i| StreamPlan {
            ssrc: 0xA000_0000 + i,
            msi: Some(person_msi(i as usize)),
            direction: StreamDirection::Send,
            cname: Some(format!("speaker{i}")),
        })
        .collect();
    transport
}

fn session_of(key: CallKey) -> MediaSessionId {
    MediaSessionId::new(Guid::from_u128(
        0x2379cf46_acf3_4fef_a914_000000000000 | u128::from(key.0),
    ))
}

/// What the runtime's media session would offer for call `key`.
fn offer_for(key: CallKey, mp_base: &str, token: &str) -> ValidatedBlob {
    MediaBlobBuilder::new(
        format!("{mp_base}/{token}"),
        session_of(key),
        bot_transport(),
    )
    .receive_mode(ReceiveMode::Both, 4)
    .build()
    .expect("a valid synthetic offer")
}

/// The media processor's answer to `session`.
fn answer_for(session: MediaSessionId) -> String {
    ValidatedAnswer::new(MediaAnswer::new(session, processor_transport()))
        .expect("a valid synthetic answer")
        .to_answer_string()
}

// ---- harness --------------------------------------------------------------------------------

/// The orchestrator with a fake Graph, a fake media runtime and a fake report writer around it.
struct Harness {
    orchestrator: Orchestrator,
    now: Instant,
    // Knobs.
    /// Graph refuses every create-call with this.
    create_failure: Option<GraphFailure>,
    /// Graph answers hang-ups (204, then `terminated`); otherwise they stay unanswered.
    confirm_hang_ups: bool,
    /// The next hang-ups fail with these, one each.
    hang_up_failures: VecDeque<GraphFailure>,
    /// Routing requests wait in `held_routing` instead of being served.
    hold_routing: bool,
    /// Reports wait in `held_reports` instead of being written.
    hold_reports: bool,
    /// What a media close returns.
    close_summary: MediaSummary,
    // Graph.
    calls_created: u64,
    groups: HashMap<CallId, BTreeMap<String, AudioRoutingGroup>>,
    held_routing: VecDeque<(CallKey, RoutingRequest)>,
    held_reports: VecDeque<(CallKey, PathBuf)>,
    // What came out.
    graph_log: Vec<(Instant, GraphRequest)>,
    routing_log: Vec<(CallKey, RequestKind)>,
    tables: Vec<(CallKey, RouteTable)>,
    names: HashMap<CallKey, usize>,
    offers: HashMap<CallKey, (String, MediaSessionId)>,
    connects: Vec<CallKey>,
    closes: Vec<CallKey>,
    statuses: HashMap<CallKey, CallStatus>,
    status_updates: usize,
    replies: HashMap<ReplyTo, Reply>,
    reports: HashMap<CallKey, CallReport>,
    forgotten: Vec<CallKey>,
    next_reply: u64,
}

impl Harness {
    fn new(config: OrchestratorConfig) -> Harness {
        Harness {
            orchestrator: Orchestrator::new(config),
            now: Instant::now(),
            create_failure: None,
            confirm_hang_ups: true,
            hang_up_failures: VecDeque::new(),
            hold_routing: false,
            hold_reports: false,
            close_summary: MediaSummary::default(),
            calls_created: 0,
            groups: HashMap::new(),
            held_routing: VecDeque::new(),
            held_reports: VecDeque::new(),
            graph_log: Vec::new(),
            routing_log: Vec::new(),
            tables: Vec::new(),
            names: HashMap::new(),
            offers: HashMap::new(),
            connects: Vec::new(),
            closes: Vec::new(),
            statuses: HashMap::new(),
            status_updates: 0,
            replies: HashMap::new(),
            reports: HashMap::new(),
            forgotten: Vec::new(),
            next_reply: 1,
        }
    }

    // ---- inputs ----

    /// Sends a command and runs everything it causes; returns who waits for the reply.
    fn send(&mut self, command: Command) -> ReplyTo {
        let to = ReplyTo(self.next_reply);
        self.next_reply += 1;
        self.orchestrator.handle_command(self.now, command, to);
        self.settle();
        to
    }

    /// Sends a command and takes its reply, which must have come.
    fn ask(&mut self, command: Command) -> Reply {
        let to = self.send(command);
        self.replies
            .remove(&to)
            .unwrap_or_else(|| panic!("no reply to {to:?}"))
    }

    fn notify(&mut self, body: Value) {
        let batch: CommsNotifications =
            serde_json::from_value(body).expect("a valid notification body");
        self.orchestrator.handle_notifications(self.now, batch);
        self.settle();
    }

    /// Moves the clock to `at` and fires whatever is due.
    fn advance_to(&mut self, at: Instant) {
        assert!(at >= self.now, "simulated time never goes back");
        self.now = at;
        self.orchestrator.handle_timeout(self.now);
        self.settle();
    }

    /// Follows the orchestrator's deadlines until `end`, then sets the clock to `end`.
    fn run_until(&mut self, end: Instant) {
        let mut budget = 100_000;
        while let Some(at) = self.orchestrator.poll_timeout().filter(|at| *at <= end) {
            budget -= 1;
            assert!(budget > 0, "the orchestrator's deadline does not move on");
            self.advance_to(at.max(self.now));
        }
        self.advance_to(end);
    }

    // ---- the outside world ----

    /// Executes outputs until the orchestrator has nothing more to say.
    fn settle(&mut self) {
        let mut budget = 1_000_000;
        while let Some(output) = self.orchestrator.poll_output() {
            budget -= 1;
            assert!(budget > 0, "the orchestrator never settles");
            self.execute(output);
        }
    }

    fn execute(&mut self, output: Output) {
        let now = self.now;
        match output {
            Output::Graph(request) => {
                self.graph_log.push((now, request.clone()));
                self.graph(request);
            }
            Output::Routing { key, call, request } => {
                self.routing_log.push((key, request.kind.clone()));
                if self.hold_routing {
                    self.held_routing.push_back((key, request));
                } else {
                    let result = self.serve_routing(&call, &request.kind);
                    self.orchestrator
                        .handle_routing_response(now, key, request.id, result);
                }
            }
            Output::Media { key, action } => self.media(key, action),
            Output::WriteReport { key, path, report } => {
                self.reports.insert(key, *report);
                if self.hold_reports {
                    self.held_reports.push_back((key, path));
                } else {
                    self.orchestrator.handle_report_written(now, key, Ok(path));
                }
            }
            Output::Reply { to, reply } => {
                let previous = self.replies.insert(to, reply);
                assert!(previous.is_none(), "{to:?} answered twice");
            }
            Output::Status { key, status } => {
                self.status_updates += 1;
                assert!(
                    status.participants.len() <= STATUS_NAMES,
                    "a status carries at most {STATUS_NAMES} names"
                );
                self.statuses.insert(key, *status);
            }
            Output::Forget(key) => self.forgotten.push(key),
        }
    }

    fn graph(&mut self, request: GraphRequest) {
        let now = self.now;
        let result = match &request.action {
            GraphAction::CreateCall(_) => match self.create_failure.clone() {
                Some(failure) => Err(failure),
                None => {
                    self.calls_created += 1;
                    Ok(GraphReply::call(created_call(self.calls_created)))
                }
            },
            GraphAction::KeepAlive => Ok(GraphReply::empty(200)),
            GraphAction::HangUp if !self.hang_up_failures.is_empty() => {
                Err(self.hang_up_failures.pop_front().expect("not empty"))
            }
            GraphAction::HangUp if !self.confirm_hang_ups => return,
            GraphAction::HangUp => {
                self.orchestrator.handle_graph_response(
                    now,
                    request.id,
                    Ok(GraphReply::empty(204)),
                );
                let call = request.call_id.as_ref().expect("a hang-up names its call");
                let batch: CommsNotifications =
                    serde_json::from_value(terminated(call)).expect("the fixture parses");
                self.orchestrator.handle_notifications(now, batch);
                return;
            }
            _ => Ok(GraphReply::empty(202)),
        };
        self.orchestrator
            .handle_graph_response(now, request.id, result);
    }

    /// An in-memory `…/audioRoutingGroups` of one call.
    fn serve_routing(
        &mut self,
        call: &CallId,
        kind: &RequestKind,
    ) -> Result<RoutingReply, GraphFailure> {
        let groups = self.groups.entry(call.clone()).or_default();
        match kind {
            RequestKind::List => Ok(RoutingReply::Groups(groups.values().cloned().collect())),
            RequestKind::Get { id } => groups
                .get(id.as_str())
                .cloned()
                .map(RoutingReply::Group)
                .ok_or(GraphFailure::status(404)),
            RequestKind::Create { group } => {
                validate_group(group).map_err(|_| GraphFailure::status(400))?;
                let id = group.id.as_ref().expect("validated").as_str().to_owned();
                if groups.contains_key(&id) {
                    return Err(GraphFailure::status(409));
                }
                groups.insert(id, group.clone());
                Ok(RoutingReply::Group(group.clone()))
            }
            RequestKind::Update { id, group } => {
                validate_group(group).map_err(|_| GraphFailure::status(400))?;
                let existing = groups
                    .get_mut(id.as_str())
                    .ok_or(GraphFailure::status(404))?;
                *existing = group.clone();
                Ok(RoutingReply::Group(group.clone()))
            }
            RequestKind::Delete { id } => groups
                .remove(id.as_str())
                .map(|_| RoutingReply::Deleted)
                .ok_or(GraphFailure::status(404)),
            other => panic!("unexpected routing request {other:?}"),
        }
    }

    fn media(&mut self, key: CallKey, action: MediaAction) {
        let now = self.now;
        match action {
            MediaAction::Offer { mp_base } => {
                let token = format!("token{}", key.0);
                let offer = offer_for(key, &mp_base, &token);
                self.offers.insert(key, (token.clone(), offer.session_id()));
                self.orchestrator.handle_media(
                    now,
                    key,
                    MediaEvent::Offered {
                        token,
                        offer: Box::new(offer),
                    },
                );
            }
            MediaAction::Connect { answer, dir } => {
                let (_, session) = self.offers[&key];
                assert_eq!(
                    answer.session_id(),
                    session,
                    "the answer to this call's offer"
                );
                self.connects.push(key);
                // The runtime records into a new `<UTC>-<name>` folder beside the proposal.
                let name = dir.file_name().expect("a folder name").to_string_lossy();
                let dir = dir.with_file_name(format!("20261202T120000Z-{name}"));
                self.orchestrator
                    .handle_media(now, key, MediaEvent::Recording { dir });
                self.orchestrator
                    .handle_media(now, key, MediaEvent::Connected);
            }
            MediaAction::Name { .. } => *self.names.entry(key).or_default() += 1,
            MediaAction::Routes(table) => self.tables.push((key, *table)),
            MediaAction::Speak { reply, .. } => {
                self.replies.insert(reply, Reply::Done);
            }
            MediaAction::Close => {
                self.closes.push(key);
                let summary = Box::new(self.close_summary.clone());
                self.orchestrator
                    .handle_media(now, key, MediaEvent::Closed(summary));
            }
        }
    }

    // ---- conveniences ----

    fn join(&mut self) -> CallKey {
        match self.ask(Command::Join {
            join_url: JOIN_URL.into(),
        }) {
            Reply::Joined(key) => key,
            other => panic!("join refused: {other:?}"),
        }
    }

    fn token(&self, key: CallKey) -> String {
        self.offers[&key].0.clone()
    }

    /// Posts the media processor's answer matching `key`'s offer.
    fn answer_media(&mut self, key: CallKey) -> Reply {
        let (token, session) = self.offers[&key].clone();
        self.ask(Command::MediaAnswer {
            token,
            body: answer_for(session),
        })
    }

    fn call_id(&self, key: CallKey) -> CallId {
        let status = self.orchestrator.status(key).expect("a known call");
        CallId::new(status.call_id.expect("Graph named the call"))
    }

    /// The `n` of `created_call(n)` behind `key`.
    fn call_number(&self, key: CallKey) -> u64 {
        let id = self.call_id(key);
        (1..=self.calls_created)
            .find(|n| graph_call_id(*n) == id)
            .expect("a call the fake Graph created")
    }

    /// Join, answer, connect, established: a call with media up.
    fn connected_call(&mut self) -> CallKey {
        let key = self.join();
        assert!(matches!(self.answer_media(key), Reply::Done));
        let call = self.call_id(key);
        self.notify(established(&call));
        assert!(matches!(
            self.orchestrator.phase(key),
            Some(Phase::Connected { .. })
        ));
        key
    }

    fn hang_up(&mut self, key: CallKey) {
        let reply = self.ask(Command::HangUp {
            call: key.to_string(),
        });
        assert!(matches!(reply, Reply::Done), "hang-up: {reply:?}");
    }

    fn status(&self, key: CallKey) -> &CallStatus {
        self.statuses.get(&key).expect("a status was emitted")
    }

    fn report(&self, key: CallKey) -> &CallReport {
        self.reports.get(&key).expect("a report was written")
    }

    fn is_done(&self, key: CallKey) -> bool {
        self.orchestrator.phase(key).is_some_and(Phase::is_done)
    }

    fn keep_alives(&self, call: &CallId) -> Vec<Instant> {
        self.graph_log
            .iter()
            .filter(|(_, r)| r.action == GraphAction::KeepAlive && r.call_id.as_ref() == Some(call))
            .map(|(at, _)| *at)
            .collect()
    }

    fn routing_since(&self, mark: usize) -> Vec<(CallKey, RequestKind)> {
        self.routing_log[mark..].to_vec()
    }

    fn last_table(&self, key: CallKey) -> &RouteTable {
        &self
            .tables
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .expect("a route table was published")
            .1
    }
}

fn failed_kind(reply: &Reply) -> ErrorKind {
    match reply {
        Reply::Failed(error) => error.kind,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn per_event(elapsed: Duration, events: usize) -> String {
    format!(
        "{:.1} µs/event ({events} events, {:.1} ms in all)",
        elapsed.as_secs_f64() * 1e6 / events as f64,
        elapsed.as_secs_f64() * 1e3
    )
}

// ---- the whole life of a large meeting ------------------------------------------------------

#[test]
fn a_town_hall_runs_from_join_to_forget() {
    let mut config = config();
    config.keep_done = 1;
    let mut h = Harness::new(config);

    // Join: the media session offers first, then Graph gets the create-call with that offer.
    let key = h.join();
    let creates: Vec<&GraphRequest> = h
        .graph_log
        .iter()
        .map(|(_, r)| r)
        .filter(|r| matches!(r.action, GraphAction::CreateCall(_)))
        .collect();
    assert_eq!(creates.len(), 1);
    let GraphAction::CreateCall(create) = &creates[0].action else {
        unreachable!()
    };
    assert_eq!(
        create.callback_uri.as_deref(),
        Some("https://bot.contoso.com:9441/api/calling")
    );
    assert!(create.meeting_info.is_some(), "the join URL's meeting");
    let Some(MediaConfig::AppHosted(media)) = &create.media_config else {
        panic!("app-hosted media expected: {:?}", create.media_config)
    };
    let blob = media.blob.as_deref().expect("the offer");
    assert!(blob.contains("https://bot.contoso.com:9441/mp/token1"));
    assert!(matches!(
        h.orchestrator.phase(key),
        Some(Phase::AwaitingAnswer { .. })
    ));
    let call = h.call_id(key);
    let n = h.call_number(key);

    // A forged answer, an answer to nobody, then the genuine one.
    let forged = answer_for(session_of(CallKey(99)));
    let refused = h.ask(Command::MediaAnswer {
        token: h.token(key),
        body: forged,
    });
    assert_eq!(failed_kind(&refused), ErrorKind::BadRequest);
    let Reply::Failed(error) = &refused else {
        unreachable!()
    };
    assert!((400..500).contains(&error.status()));
    let stray = h.ask(Command::MediaAnswer {
        token: "nobody".into(),
        body: answer_for(session_of(key)),
    });
    assert_eq!(failed_kind(&stray), ErrorKind::NotFound);
    assert_eq!(h.orchestrator.stats().answers_refused, 2);
    assert!(h.connects.is_empty(), "a refused answer touches no session");
    assert!(matches!(h.answer_media(key), Reply::Done));
    assert_eq!(h.connects, vec![key]);
    assert!(matches!(
        h.orchestrator.phase(key),
        Some(Phase::Connected { .. })
    ));
    let again = h.answer_media(key);
    assert_eq!(failed_kind(&again), ErrorKind::Conflict);

    // Established: the routing reconciler starts with a list of the call's groups.
    h.notify(established(&call));
    assert_eq!(h.status(key).graph_state.as_deref(), Some("Established"));
    assert_eq!(h.routing_log, vec![(key, RequestKind::List)]);

    // The 5,000-person roster, in one snapshot.
    let statuses_before = h.status_updates;
    let started = Instant::now();
    h.notify(roster_snapshot(&call, n, TOWN_HALL - 1));
    let snapshot_time = started.elapsed();
    println!(
        "snapshot of {TOWN_HALL}: {}",
        per_event(snapshot_time, TOWN_HALL)
    );
    let status = h.status(key);
    assert_eq!(status.participant_count, TOWN_HALL);
    assert_eq!(status.participants.len(), STATUS_NAMES);
    assert_eq!(
        h.status_updates - statuses_before,
        1,
        "one status per notification, not per participant"
    );
    assert_eq!(
        h.names.get(&key).copied(),
        None,
        "silent attendees cost the recorder nothing: names go only to heard sources"
    );
    // Two people speak: the recorder starts their files and gets their two names.
    for i in [7, 4_321] {
        h.orchestrator
            .handle_media(h.now, key, MediaEvent::SourceHeard { msi: person_msi(i) });
        h.settle();
    }
    assert_eq!(
        h.names.get(&key).copied(),
        Some(2),
        "every heard source is named for the recorder"
    );
    let Reply::Calls(all) = h.ask(Command::Calls) else {
        panic!("the calls")
    };
    assert_eq!(
        all[0].participants.len(),
        TOWN_HALL,
        "the control API lists everyone"
    );

    // Churn: 500 joins and 500 leaves, one notification each, in every documented shape.
    let statuses_before = h.status_updates;
    let mut sequence = 0;
    let started = Instant::now();
    for i in 0..CHURN {
        let newcomer = TOWN_HALL + i;
        let leaver = 1_000 + i; // people 0..1000 stay, so the routes below have their targets
        if i.is_multiple_of(2) {
            h.notify(participants_notification(
                &call,
                "created",
                vec![person(newcomer)],
            ));
            h.notify(participants_notification(
                &call,
                "deleted",
                vec![person(leaver)],
            ));
        } else {
            sequence += 1;
            h.notify(delta(&call, sequence, vec![person(newcomer)]));
            sequence += 1;
            h.notify(delta(&call, sequence, vec![removed(person(leaver))]));
        }
    }
    let churn_time = started.elapsed();
    println!("churn: {}", per_event(churn_time, 2 * CHURN));
    assert_eq!(h.status(key).participant_count, TOWN_HALL);
    assert_eq!(h.status_updates - statuses_before, 2 * CHURN);
    assert_eq!(
        h.routing_log.len(),
        1,
        "no route names anyone yet: no routing traffic"
    );

    // A whisper to a participant: one group at Graph, one live stream in the send table.
    let target = person_id(42);
    let mark = h.routing_log.len();
    let reply = h.ask(Command::Routes {
        call: key.to_string(),
        op: RouteOp::Upsert("w1".into(), RouteSpec::Whisper { to: target.clone() }),
    });
    assert!(matches!(reply, Reply::Done), "{reply:?}");
    let sent = h.routing_since(mark);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (_, RequestKind::Create { group }) = &sent[0] else {
        panic!("a create expected: {sent:?}")
    };
    assert_eq!(group.id.as_ref().map(|id| id.as_str()), Some("mb-w1"));
    assert_eq!(group.routing_mode, Some(RoutingMode::OneToOne));
    assert_eq!(group.sources, vec![ParticipantId::new(bot_id(n))]);
    assert_eq!(group.receivers, vec![ParticipantId::new(target.clone())]);
    let route = h
        .last_table(key)
        .iter()
        .find(|r| r.route.as_str() == "w1")
        .expect("the whisper is in the send table");
    assert!(route.live, "live once Graph holds the group");
    assert_eq!(route.receivers, vec![ParticipantId::new(target.clone())]);
    // A broadcast to two people, one of whom will leave.
    let reply = h.ask(Command::Routes {
        call: key.to_string(),
        op: RouteOp::Upsert(
            "b1".into(),
            RouteSpec::Broadcast {
                to: vec![person_id(7), person_id(8)],
            },
        ),
    });
    assert!(matches!(reply, Reply::Done), "{reply:?}");
    assert!(h.groups[&call].contains_key("mb-b1"));

    // The whisper's target leaves: its group goes; a broadcast receiver leaves: its group shrinks.
    let mark = h.routing_log.len();
    h.notify(participants_notification(
        &call,
        "deleted",
        vec![person(42)],
    ));
    let sent = h.routing_since(mark);
    assert!(
        matches!(&sent[..], [(_, RequestKind::Delete { id })] if id.as_str() == "mb-w1"),
        "{sent:?}"
    );
    assert!(
        !h.last_table(key)
            .iter()
            .any(|r| r.route.as_str() == "w1" && r.live),
        "nobody left to whisper to"
    );
    let mark = h.routing_log.len();
    h.notify(participants_notification(&call, "deleted", vec![person(8)]));
    let sent = h.routing_since(mark);
    let [(_, RequestKind::Update { group, .. })] = &sent[..] else {
        panic!("an update expected: {sent:?}")
    };
    assert_eq!(group.receivers, vec![ParticipantId::new(person_id(7))]);
    assert_eq!(h.status(key).participant_count, TOWN_HALL - 2);

    // Hang up: Graph confirms, media closes, the report is written, the call is done.
    h.now += Duration::from_secs(600);
    h.hang_up(key);
    assert_eq!(h.closes, vec![key]);
    assert!(h.is_done(key));
    let report = h.report(key);
    assert_eq!(report.call_id, call.as_str());
    assert!(
        report
            .join_url
            .contains("meeting_NTg0NmQ3NTctZDVkZC00YzRhLThmNmEtOGQ3M2E0ODdmZDZk"),
        "{}",
        report.join_url
    );
    assert_eq!(report.end.cause, "Graph");
    assert_eq!(report.peak_participants, TOWN_HALL + 1);
    assert_eq!(report.media_failure, None);
    let status = h.status(key);
    assert!(status.ended);
    assert_eq!(status.state, "terminated");
    assert_eq!(
        status.report,
        Some(PathBuf::from(format!(
            "/recordings/20261202T120000Z-{}/report.json",
            call.as_str()
        )))
    );
    assert_eq!(h.orchestrator.live_calls(), 0);
    assert!(
        h.forgotten.is_empty(),
        "keep_done = 1 keeps the one finished call"
    );
    assert_eq!(
        h.orchestrator.poll_timeout(),
        None,
        "nothing is left to wake up for"
    );

    // A second finished call pushes the first out.
    h.create_failure = Some(GraphFailure::status(503));
    let second = h.join();
    assert!(h.is_done(second));
    assert_eq!(h.forgotten, vec![key]);
    assert!(h.orchestrator.phase(key).is_none());
    assert_eq!(
        failed_kind(&h.ask(Command::HangUp {
            call: call.as_str().into()
        })),
        ErrorKind::NotFound
    );
}

// ---- keepAlive ------------------------------------------------------------------------------

#[test]
fn keep_alives_keep_their_schedule_through_a_town_hall() {
    let interval = Duration::from_secs(10 * 60);
    let mut config = config();
    config.call.keep_alive_interval = interval;
    let mut h = Harness::new(config);
    let key = h.connected_call();
    let call = h.call_id(key);
    let n = h.call_number(key);
    let created_at = h.now;

    // The roster arrives a minute in; then someone joins or leaves every 30 s for two hours.
    h.run_until(created_at + Duration::from_secs(60));
    h.notify(roster_snapshot(&call, n, TOWN_HALL - 1));
    let end = created_at + Duration::from_secs(2 * 3600);
    let mut next = TOWN_HALL;
    let mut leaver = 0;
    while h.now + Duration::from_secs(30) <= end {
        let at = h.now + Duration::from_secs(30);
        h.run_until(at);
        if next.is_multiple_of(2) {
            h.notify(participants_notification(
                &call,
                "created",
                vec![person(next)],
            ));
        } else {
            h.notify(participants_notification(
                &call,
                "deleted",
                vec![person(leaver)],
            ));
            leaver += 1;
        }
        next += 1;
    }
    h.run_until(end);

    let sent = h.keep_alives(&call);
    let expected: Vec<Instant> = (1..=12).map(|k| created_at + interval * k).collect();
    assert_eq!(sent, expected, "one keepAlive every 10 minutes, on time");
    assert_eq!(h.status(key).participant_count, TOWN_HALL);
    assert!(h.orchestrator.poll_timeout().is_some_and(|at| at > h.now));
}

// ---- failures -------------------------------------------------------------------------------

#[test]
fn a_refused_create_call_ends_the_call_with_a_report() {
    let mut h = Harness::new(config());
    h.create_failure = Some(GraphFailure::Status {
        status: 403,
        code: "7504".into(),
        message: "Insufficient enterprise tenant permissions, cannot access this API.".into(),
    });
    let key = h.join();

    assert!(h.is_done(key));
    assert_eq!(h.closes, vec![key], "the offered session is closed");
    let end = &h.report(key).end;
    assert_eq!(end.cause, "CreateFailed");
    assert_eq!((end.code, end.subcode), (Some(403), Some(7504)));
    assert!(end.message.as_deref().is_some_and(|m| m.contains("7504")));
    assert!(h.status(key).ended);
    assert_eq!(h.status(key).call_id, None);
    assert_eq!(h.orchestrator.live_calls(), 0);
}

#[test]
fn a_media_answer_that_never_comes_hangs_up_at_the_deadline() {
    let mut h = Harness::new(config());
    let joined_at = h.now;
    let key = h.join();
    let call = h.call_id(key);

    let deadline = joined_at + Duration::from_secs(30);
    assert_eq!(h.orchestrator.poll_timeout(), Some(deadline));
    h.advance_to(deadline - Duration::from_millis(1));
    assert!(h.closes.is_empty(), "not a moment early");
    h.advance_to(deadline);

    let hang_ups: Vec<_> = h
        .graph_log
        .iter()
        .filter(|(_, r)| r.action == GraphAction::HangUp)
        .collect();
    assert_eq!(hang_ups.len(), 1);
    assert_eq!(hang_ups[0].1.call_id.as_ref(), Some(&call));
    assert!(h.is_done(key));
    let report = h.report(key);
    let failure = report
        .media_failure
        .as_deref()
        .expect("media failure named");
    assert!(failure.contains("no media answer within 30 s"), "{failure}");
    assert_eq!(h.status(key).failure.as_deref(), Some(failure));
    assert_eq!(h.status(key).state, "failed");
    // The late answer is refused: the session is gone.
    let late = h.answer_media(key);
    assert_eq!(failed_kind(&late), ErrorKind::NotFound);
}

#[test]
fn media_that_never_connects_hangs_up_at_its_deadline() {
    let mut h = Harness::new(config());
    let key = h.join();
    // The runtime is still connecting when the deadline passes: hold the Connected event by
    // answering without the harness's auto-connect.
    let (token, session) = h.offers[&key].clone();
    let to = ReplyTo(10_000);
    h.orchestrator.handle_command(
        h.now,
        Command::MediaAnswer {
            token,
            body: answer_for(session),
        },
        to,
    );
    // Take the outputs by hand so Connect is never answered.
    let mut connect = None;
    while let Some(output) = h.orchestrator.poll_output() {
        match output {
            Output::Media {
                action: MediaAction::Connect { .. },
                ..
            } => connect = Some(()),
            other => h.execute(other),
        }
    }
    assert!(connect.is_some());
    let deadline = h.orchestrator.poll_timeout().expect("the connect deadline");
    assert_eq!(deadline, h.now + Duration::from_secs(30));
    h.advance_to(deadline);
    // The hang-up went out; the session is busy connecting, so it closes when the connect
    // returns.
    assert!(h.closes.is_empty());
    h.orchestrator.handle_media(
        h.now,
        key,
        MediaEvent::ConnectFailed("ICE timed out".into()),
    );
    h.settle();
    assert_eq!(h.closes, vec![key]);
    assert!(h.is_done(key));
    let failure = h.report(key).media_failure.clone().expect("named");
    assert!(
        failure.contains("media did not connect within 30 s"),
        "{failure}"
    );
}

#[test]
fn drain_replies_only_when_every_call_is_done() {
    let mut h = Harness::new(config());
    let a = h.connected_call();
    let b = h.connected_call();
    h.hold_reports = true;

    let drain = h.send(Command::Drain);
    assert_eq!(h.closes.len(), 2, "both calls were hung up and closed");
    assert!(
        !h.replies.contains_key(&drain),
        "reports are not written yet"
    );
    let refused = h.ask(Command::Join {
        join_url: JOIN_URL.into(),
    });
    assert_eq!(failed_kind(&refused), ErrorKind::Unavailable);

    let (first, path) = h.held_reports.pop_front().expect("a report to write");
    h.orchestrator.handle_report_written(h.now, first, Ok(path));
    h.settle();
    assert!(
        !h.replies.contains_key(&drain),
        "one call is still finishing"
    );
    let (second, _) = h.held_reports.pop_front().expect("a report to write");
    h.orchestrator
        .handle_report_written(h.now, second, Err("disk full".into()));
    h.settle();
    assert!(matches!(h.replies.get(&drain), Some(Reply::Done)));
    assert!(h.is_done(a) && h.is_done(b));
    assert_eq!(h.status(second).report, None, "the write failed");
}

#[test]
fn drain_with_no_calls_replies_at_once() {
    let mut h = Harness::new(config());
    assert!(matches!(h.ask(Command::Drain), Reply::Done));
}

#[test]
fn abandon_ends_the_calls_graph_never_confirmed() {
    let mut h = Harness::new(config());
    let a = h.connected_call();
    let b = h.connected_call();
    h.confirm_hang_ups = false;

    let drain = h.send(Command::Drain);
    assert!(!h.replies.contains_key(&drain));
    assert!(matches!(
        h.orchestrator.phase(a),
        Some(Phase::Ending { .. })
    ));
    assert!(
        h.reports.is_empty(),
        "media keeps recording until the call ends"
    );

    let abandon = h.send(Command::Abandon);
    for key in [a, b] {
        assert!(h.is_done(key));
        let end = &h.report(key).end;
        assert_eq!(end.cause, "Shutdown");
    }
    assert_eq!(h.closes.len(), 2);
    assert!(matches!(h.replies.get(&abandon), Some(Reply::Done)));
    assert!(matches!(h.replies.get(&drain), Some(Reply::Done)));
}

#[test]
fn joins_beyond_max_calls_are_unavailable() {
    let mut config = config();
    config.max_calls = 2;
    let mut h = Harness::new(config);
    let first = h.connected_call();
    h.connected_call();

    let refused = h.ask(Command::Join {
        join_url: JOIN_URL.into(),
    });
    assert_eq!(failed_kind(&refused), ErrorKind::Unavailable);
    let Reply::Failed(error) = refused else {
        unreachable!()
    };
    assert_eq!(error.status(), 503);
    assert_eq!(h.orchestrator.stats().joins_refused, 1);
    assert_eq!(h.orchestrator.live_calls(), 2);

    // A finished call frees its place.
    h.hang_up(first);
    assert!(h.is_done(first));
    h.join();
    assert_eq!(h.orchestrator.live_calls(), 2);
}

#[test]
fn an_audio_thread_panic_is_named_in_status_and_report() {
    let mut h = Harness::new(config());
    let key = h.connected_call();
    h.close_summary.receive.panic = Some("index out of bounds: the len is 3".into());

    // The thread dies: its frame channel ends first; the bot leaves and closes the session.
    h.confirm_hang_ups = false;
    h.orchestrator
        .handle_media(h.now, key, MediaEvent::FramesEnded);
    h.settle();
    assert_eq!(h.closes, vec![key]);
    let failure = h.status(key).failure.clone().expect("a failure");
    assert!(
        failure.contains("index out of bounds"),
        "the status names the panic as soon as the session reports it: {failure}"
    );

    // Graph confirms the hang-up: the report names the panic too.
    let call = h.call_id(key);
    h.notify(terminated(&call));
    assert!(h.is_done(key));
    let report = h.report(key).media_failure.clone().expect("named");
    assert!(
        report.contains("the audio thread panicked: index out of bounds"),
        "{report}"
    );
    assert_eq!(h.status(key).failure.as_deref(), Some(report.as_str()));
    assert_eq!(h.status(key).state, "failed");
}

#[test]
fn a_panic_reported_at_hang_up_is_named() {
    let mut h = Harness::new(config());
    let key = h.connected_call();
    h.close_summary.receive.panic = Some("boom".into());
    h.hang_up(key);
    assert!(h.is_done(key));
    assert_eq!(
        h.report(key).media_failure.as_deref(),
        Some("the audio thread panicked: boom")
    );
    assert_eq!(
        h.status(key).failure.as_deref(),
        Some("the audio thread panicked: boom")
    );
}

#[test]
fn routing_stops_when_the_call_ends() {
    let mut h = Harness::new(config());
    h.hold_routing = true;
    let key = h.connected_call();
    let call = h.call_id(key);
    assert_eq!(h.held_routing.len(), 1, "the first list is in flight");

    h.hang_up(key);
    assert!(h.is_done(key));
    // The list fails late: the call is gone at Graph.
    let (k, request) = h.held_routing.pop_front().expect("held");
    h.orchestrator
        .handle_routing_response(h.now, k, request.id, Err(GraphFailure::status(404)));
    h.settle();
    let mark = h.routing_log.len();
    h.run_until(h.now + Duration::from_secs(600));
    assert_eq!(
        h.routing_since(mark),
        vec![],
        "no routing requests for a call that ended"
    );
    assert_eq!(h.orchestrator.poll_timeout(), None);
    assert!(!h.groups.contains_key(&call));
}

#[test]
fn a_hang_up_before_graph_names_the_call_waits_for_the_name() {
    let mut h = Harness::new(config());
    // Hold the create-call: take outputs by hand until the create request is out.
    let to = ReplyTo(10_000);
    h.orchestrator.handle_command(
        h.now,
        Command::Join {
            join_url: JOIN_URL.into(),
        },
        to,
    );
    let mut create = None;
    while let Some(output) = h.orchestrator.poll_output() {
        match output {
            Output::Graph(request) if matches!(request.action, GraphAction::CreateCall(_)) => {
                create = Some(request)
            }
            other => h.execute(other),
        }
    }
    let create = create.expect("the create-call went out");
    let Some(Reply::Joined(key)) = h.replies.remove(&to) else {
        panic!("joined")
    };
    h.hang_up(key);
    assert!(matches!(
        h.orchestrator.phase(key),
        Some(Phase::Ending { .. })
    ));
    assert!(
        !h.graph_log
            .iter()
            .any(|(_, r)| r.action == GraphAction::HangUp),
        "nothing to hang up yet"
    );

    // Graph names the call: the hang-up follows at once.
    h.calls_created += 1;
    h.orchestrator.handle_graph_response(
        h.now,
        create.id,
        Ok(GraphReply::call(created_call(h.calls_created))),
    );
    h.settle();
    assert!(
        h.graph_log
            .iter()
            .any(|(_, r)| r.action == GraphAction::HangUp)
    );
    assert!(h.is_done(key));
    assert_eq!(h.report(key).end.cause, "Graph");
}

#[test]
fn speak_needs_connected_media() {
    let mut h = Harness::new(config());
    let key = h.join();
    let request = crate::control::SpeakRequest {
        tone_hz: Some(440.0),
        seconds: 1.0,
        wav: None,
        clear: false,
    };
    let early = h.ask(Command::Speak {
        call: key.to_string(),
        request: request.clone(),
        clip: None,
    });
    assert_eq!(failed_kind(&early), ErrorKind::Conflict);
    assert!(matches!(h.answer_media(key), Reply::Done));
    assert!(matches!(
        h.ask(Command::Speak {
            call: key.to_string(),
            request,
            clip: None,
        }),
        Reply::Done
    ));
}

#[test]
fn a_failed_hang_up_can_be_asked_again() {
    let mut h = Harness::new(config());
    let key = h.connected_call();
    h.hang_up_failures.push_back(GraphFailure::status(503));
    h.hang_up(key);
    assert!(!h.is_done(key), "Graph still has the call");
    assert!(
        h.closes.is_empty(),
        "media keeps recording while the bot is in the meeting"
    );

    // The operator asks again: a second DELETE goes out and this one is confirmed.
    h.hang_up(key);
    let hang_ups = h
        .graph_log
        .iter()
        .filter(|(_, r)| r.action == GraphAction::HangUp)
        .count();
    assert_eq!(hang_ups, 2);
    assert!(h.is_done(key));
    assert_eq!(h.report(key).end.cause, "Graph");
}

#[test]
fn drain_asks_again_for_a_hang_up_graph_refused() {
    let mut h = Harness::new(config());
    let key = h.connected_call();
    h.hang_up_failures.push_back(GraphFailure::status(503));
    h.hang_up(key);
    assert!(matches!(
        h.orchestrator.phase(key),
        Some(Phase::Ending { .. })
    ));

    let drain = h.send(Command::Drain);
    assert!(h.is_done(key));
    assert!(matches!(h.replies.get(&drain), Some(Reply::Done)));
}

#[test]
fn asking_again_while_a_hang_up_is_in_flight_sends_nothing() {
    let mut h = Harness::new(config());
    let key = h.connected_call();
    h.confirm_hang_ups = false;
    h.hang_up(key);
    h.hang_up(key);
    let hang_ups = h
        .graph_log
        .iter()
        .filter(|(_, r)| r.action == GraphAction::HangUp)
        .count();
    assert_eq!(hang_ups, 1);
    assert!(matches!(
        h.orchestrator.phase(key),
        Some(Phase::Ending { .. })
    ));
    assert!(
        h.reports.is_empty(),
        "the call is not ended here while Graph is asked"
    );
}
