//! Per-event cost of the call orchestrator in a 5,000-person meeting, next to the libopus decode
//! of one 20 ms frame so the figures read against the audio path's floor.
//!
//! A zero-latency driver plays Graph (create 201, keepAlive 200, in-memory audioRoutingGroups)
//! and the media runtime (offer, connect), as the runtime would; its work is inside the timings.
//! One call is connected and established with a 5,000-person roster (the bot included), then:
//! - `join_leave_no_routes`: one participant joins and leaves (two notifications), no routes;
//! - `join_leave_3_routes`: the same with three whispers active (to people who stay);
//! - `join_leave_route_receiver`: the same when the churning participant is a receiver of a
//!   broadcast (each change updates its group at Graph);
//! - `keep_alive_cycle`: time reaches the next keepAlive, it is sent and answered;
//! - `snapshot_5000`: the one-off ingestion of the 5,000-person roster snapshot;
//! - `endpoint_join_leave`: the signaling endpoint alone taking the same join and leave — the
//!   floor under the orchestrator's figures (roster and MSI map upkeep), so its own share reads
//!   as the difference.
//!
//! Notifications are parsed outside the timed span (the webhook parses them on its own task).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mediabot::control::{RouteOp, RouteSpec};
use mediabot::orchestrator::{
    CallKey, Command, MediaAction, MediaEvent, Orchestrator, OrchestratorConfig, Output, Reply,
    ReplyTo,
};
use mediabot_benches::LoopedStream;
use mediabot_media::session::blob::{
    Guid, MediaAnswer, MediaBlobBuilder, MediaSessionId, ReceiveMode, ValidatedAnswer,
};
use mediabot_media::session::params::{
    AudioCodec, DtlsFingerprint, DtlsSetup, IceCandidate, IceParams, StreamDirection, StreamPlan,
    TransportParams,
};
use mediabot_routing::{RequestKind, RoutingReply};
use mediabot_signaling::call::{CallConfig, GraphAction, GraphFailure, GraphReply};
use mediabot_signaling::endpoint::{Endpoint, Output as EndpointOutput};
use mediabot_signaling::models::{
    AudioRoutingGroup, Call as GraphCall, CallId, CommsNotifications, ParticipantId, TenantId,
};
use serde_json::{Value, json};

const FIXTURE: &str = "tone440_mono_20ms_ffmpeg.pcap";
const JOIN_URL: &str = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NTg0NmQ3NTctZDVkZC00YzRhLThmNmEtOGQ3M2E0ODdmZDZk%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%224b444206-207c-42f8-92a6-e332b41c88a2%22%7d";
const CALL_ID: &str = "2f1a1100-b174-40a0-aba7-0b405e01ed92";
const BOT: &str = "05491616-385f-44a8-9974-18cc5f9933c1";
/// Participants in the roster snapshot, the bot included.
const ROSTER: usize = 5_000;
/// The participant who joins and leaves (not in the snapshot).
const CHURNER: usize = ROSTER + 1;

fn person_id(i: usize) -> String {
    format!("0d7664b6-6432-43ed-8d27-{i:012x}")
}

fn participant(id: &str, name: &str, msi: u32) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.participant",
        "info": { "identity": { "user": { "displayName": name, "id": id } } },
        "mediaStreams": [{
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
    participant(&person_id(i), &format!("Person {i}"), 1_000 + i as u32)
}

fn notifications(resource: &str, change: &str, data: Value) -> CommsNotifications {
    serde_json::from_value(json!({
        "value": [{
            "changeType": change,
            "resourceUrl": format!("/communications/calls/{CALL_ID}{resource}"),
            "resourceData": data
        }]
    }))
    .expect("a valid notification")
}

fn snapshot() -> CommsNotifications {
    let mut list = vec![participant(BOT, "Calling Bot", 10)];
    list.extend((0..ROSTER - 1).map(person));
    notifications("/participants", "updated", Value::Array(list))
}

fn transport(setup: DtlsSetup, streams: Vec<StreamPlan>) -> TransportParams {
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
            value: ["AB:CD:EF:01:23:45:67:89"; 4].join(":"),
        },
        setup,
        audio_codecs: vec![AudioCodec::opus(111)],
        header_extensions: Vec::new(),
        streams,
    }
}

const SESSION: Guid = Guid::from_u128(0x2379cf46_acf3_4fef_a914_be9627075320);

/// Plays Graph and the media runtime with zero latency.
struct Driver {
    orchestrator: Orchestrator,
    now: Instant,
    groups: BTreeMap<String, AudioRoutingGroup>,
    reply: Option<Reply>,
    token: Option<String>,
    next_reply: u64,
}

impl Driver {
    /// A connected, established call with no roster yet.
    fn established() -> Driver {
        let config = OrchestratorConfig::new(
            "https://bot.contoso.com:9441",
            TenantId::new("72f988bf-86f1-41af-91ab-2d7cd011db47"),
        );
        let mut driver = Driver {
            orchestrator: Orchestrator::new(config),
            now: Instant::now(),
            groups: BTreeMap::new(),
            reply: None,
            token: None,
            next_reply: 1,
        };
        let Reply::Joined(_) = driver.ask(Command::Join {
            join_url: JOIN_URL.into(),
        }) else {
            panic!("the join is accepted")
        };
        let streams = vec![StreamPlan {
            ssrc: 0xA000_0000,
            msi: Some(1_000),
            direction: StreamDirection::Send,
            cname: None,
        }];
        let answer = ValidatedAnswer::new(MediaAnswer::new(
            MediaSessionId::new(SESSION),
            transport(DtlsSetup::Passive, streams),
        ))
        .expect("a valid answer")
        .to_answer_string();
        let token = driver.token.clone().expect("offered");
        let Reply::Done = driver.ask(Command::MediaAnswer {
            token,
            body: answer,
        }) else {
            panic!("the answer is taken")
        };
        let established = notifications(
            "",
            "updated",
            json!({ "@odata.type": "#microsoft.graph.call", "state": "established" }),
        );
        driver.notify(established);
        driver
    }

    /// Established with the whole roster.
    fn town_hall() -> Driver {
        let mut driver = Driver::established();
        driver.notify(snapshot());
        driver
    }

    fn ask(&mut self, command: Command) -> Reply {
        let to = ReplyTo(self.next_reply);
        self.next_reply += 1;
        self.orchestrator.handle_command(self.now, command, to);
        self.drain();
        self.reply.take().expect("a reply")
    }

    fn notify(&mut self, batch: CommsNotifications) {
        self.orchestrator.handle_notifications(self.now, batch);
        self.drain();
    }

    fn whisper(&mut self, route: &str, to: usize) {
        let op = RouteOp::Upsert(route.into(), RouteSpec::Whisper { to: person_id(to) });
        let Reply::Done = self.ask(Command::Routes {
            call: "1".into(),
            op,
        }) else {
            panic!("the route is taken")
        };
    }

    fn drain(&mut self) {
        while let Some(output) = self.orchestrator.poll_output() {
            self.execute(output);
        }
    }

    fn execute(&mut self, output: Output) {
        let now = self.now;
        match output {
            Output::Graph(request) => {
                let result = match request.action {
                    GraphAction::CreateCall(_) => {
                        let call = GraphCall {
                            id: Some(CallId::new(CALL_ID)),
                            my_participant_id: Some(ParticipantId::new(BOT)),
                            ..GraphCall::default()
                        };
                        Ok(GraphReply::call(call))
                    }
                    GraphAction::KeepAlive => Ok(GraphReply::empty(200)),
                    _ => Ok(GraphReply::empty(202)),
                };
                self.orchestrator
                    .handle_graph_response(now, request.id, result);
            }
            Output::Routing { key, request, .. } => {
                let result = self.serve_routing(request.kind);
                self.orchestrator
                    .handle_routing_response(now, key, request.id, result);
            }
            Output::Media { key, action } => self.media(key, action),
            Output::WriteReport { key, path, .. } => {
                self.orchestrator.handle_report_written(now, key, Ok(path));
            }
            Output::Reply { reply, .. } => self.reply = Some(reply),
            Output::Status { status, .. } => {
                black_box(status);
            }
            Output::Forget(_) => {}
        }
    }

    fn serve_routing(&mut self, kind: RequestKind) -> Result<RoutingReply, GraphFailure> {
        match kind {
            RequestKind::List => Ok(RoutingReply::Groups(
                self.groups.values().cloned().collect(),
            )),
            RequestKind::Create { group } | RequestKind::Update { group, .. } => {
                let id = group.id.clone().expect("owned groups have ids");
                self.groups.insert(id.as_str().to_owned(), group.clone());
                Ok(RoutingReply::Group(group))
            }
            RequestKind::Delete { id } => {
                self.groups.remove(id.as_str());
                Ok(RoutingReply::Deleted)
            }
            _ => Err(GraphFailure::status(404)),
        }
    }

    fn media(&mut self, key: CallKey, action: MediaAction) {
        let event = match action {
            MediaAction::Offer { mp_base } => {
                let token = "token".to_owned();
                let streams = vec![StreamPlan {
                    ssrc: 0x1234_5678,
                    msi: None,
                    direction: StreamDirection::Send,
                    cname: None,
                }];
                let offer = MediaBlobBuilder::new(
                    format!("{mp_base}/{token}"),
                    MediaSessionId::new(SESSION),
                    transport(DtlsSetup::Actpass, streams),
                )
                .receive_mode(ReceiveMode::Both, 4)
                .build()
                .expect("a valid offer");
                self.token = Some(token.clone());
                MediaEvent::Offered {
                    token,
                    offer: Box::new(offer),
                }
            }
            MediaAction::Connect { .. } => MediaEvent::Connected,
            MediaAction::Close => MediaEvent::Closed(Box::default()),
            MediaAction::Name { msi, name } => {
                black_box((msi, name));
                return;
            }
            MediaAction::Routes(table) => {
                black_box(table);
                return;
            }
            _ => return,
        };
        self.orchestrator.handle_media(self.now, key, event);
    }
}

/// A join and a leave of `who`, as Graph sends them (`created`, then `deleted`).
fn join_and_leave(who: usize) -> (CommsNotifications, CommsNotifications) {
    (
        notifications("/participants", "created", json!([person(who)])),
        notifications("/participants", "deleted", json!([person(who)])),
    )
}

fn churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("orchestrator");
    let (join, leave) = join_and_leave(CHURNER);

    let mut plain = Driver::town_hall();
    group.bench_function("join_leave_no_routes", |b| {
        b.iter_batched(
            || (join.clone(), leave.clone()),
            |(join, leave)| {
                plain.notify(join);
                plain.notify(leave);
            },
            BatchSize::SmallInput,
        )
    });
    drop(plain);

    let mut routed = Driver::town_hall();
    for (route, to) in [("w1", 10), ("w2", 20), ("w3", 30)] {
        routed.whisper(route, to);
    }
    assert_eq!(routed.groups.len(), 3, "three groups at Graph");
    group.bench_function("join_leave_3_routes", |b| {
        b.iter_batched(
            || (join.clone(), leave.clone()),
            |(join, leave)| {
                routed.notify(join);
                routed.notify(leave);
            },
            BatchSize::SmallInput,
        )
    });
    drop(routed);

    // The churner is a broadcast receiver: every join and leave updates the group at Graph.
    let mut named = Driver::town_hall();
    named.notify(join.clone());
    let op = RouteOp::Upsert(
        "b1".into(),
        RouteSpec::Broadcast {
            to: vec![person_id(10), person_id(CHURNER)],
        },
    );
    let Reply::Done = named.ask(Command::Routes {
        call: "1".into(),
        op,
    }) else {
        panic!("the route is taken")
    };
    named.notify(leave.clone());
    assert_eq!(
        named.groups["mb-b1"].receivers,
        vec![ParticipantId::new(person_id(10))],
        "the churner's leave shrank the group at Graph"
    );
    group.bench_function("join_leave_route_receiver", |b| {
        b.iter_batched(
            || (join.clone(), leave.clone()),
            |(join, leave)| {
                named.notify(join);
                named.notify(leave);
            },
            BatchSize::SmallInput,
        )
    });
    drop(named);

    let mut kept = Driver::town_hall();
    group.bench_function("keep_alive_cycle", |b| {
        b.iter(|| {
            let at = kept
                .orchestrator
                .poll_timeout()
                .expect("a keepAlive is due");
            kept.now = at;
            kept.orchestrator.handle_timeout(at);
            kept.drain();
        })
    });
    drop(kept);

    let snapshot = snapshot();
    group.sample_size(10);
    group.bench_function("snapshot_5000", |b| {
        b.iter_batched(
            || (Driver::established(), snapshot.clone()),
            |(mut driver, snapshot)| {
                driver.notify(snapshot);
                driver
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// The signaling endpoint alone, with the same call and roster as [`Driver::town_hall`].
fn endpoint_floor(c: &mut Criterion) {
    fn drain(endpoint: &mut Endpoint) {
        while let Some(output) = endpoint.poll_output() {
            if let EndpointOutput::Timeout(at) = output {
                black_box(at);
                break;
            }
            black_box(output);
        }
    }
    let now = Instant::now();
    let mut endpoint = Endpoint::new(CallConfig::default());
    let create = endpoint.create_call(now, GraphCall::default());
    let created = GraphCall {
        id: Some(CallId::new(CALL_ID)),
        my_participant_id: Some(ParticipantId::new(BOT)),
        ..GraphCall::default()
    };
    endpoint.handle_response(now, create, Ok(GraphReply::call(created)));
    endpoint.handle_notifications(
        now,
        notifications(
            "",
            "updated",
            json!({ "@odata.type": "#microsoft.graph.call", "state": "established" }),
        ),
    );
    endpoint.handle_notifications(now, snapshot());
    drain(&mut endpoint);
    let (join, leave) = join_and_leave(CHURNER);
    c.bench_function("orchestrator/endpoint_join_leave", |b| {
        b.iter_batched(
            || (join.clone(), leave.clone()),
            |(join, leave)| {
                endpoint.handle_notifications(now, join);
                drain(&mut endpoint);
                endpoint.handle_notifications(now, leave);
                drain(&mut endpoint);
            },
            BatchSize::SmallInput,
        )
    });
}

fn opus_decode_floor(c: &mut Criterion) {
    let mut stream = LoopedStream::new(FIXTURE, 1);
    let mut decoder = opus::Decoder::new(16_000, opus::Channels::Mono).expect("decoder");
    let mut out = vec![0i16; 320];
    c.bench_function("orchestrator/opus_decode_floor_16k", |b| {
        b.iter(|| {
            decoder
                .decode(stream.next_payload(), &mut out, false)
                .expect("decodes")
        })
    });
}

criterion_group!(benches, churn, endpoint_floor, opus_decode_floor);
criterion_main!(benches);
