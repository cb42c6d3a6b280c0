//! Scenario tests of the sans-IO call state machine and endpoint, driven with simulated time and
//! the notification payloads from Microsoft's docs (`fixtures/graph-examples/`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mediabot_signaling::call::{
    Call, CallAction, CallConfig, CallError, CallEvent, DefaultDecision, Direction, EndCause,
    EndReason, GraphAction, GraphFailure, GraphReply, GraphRequest, OperationOutcome, Output,
    RequestId,
};
use mediabot_signaling::endpoint::{Endpoint, EndpointEvent, Output as EndpointOutput};
use mediabot_signaling::models::{
    AnswerRequest, Call as GraphCall, CallId, CallState, CommsNotification, CommsNotifications,
    CommsOperation, InviteParticipantsRequest, MediaConfig, Modality, Msi, OperationId,
    ParticipantId, RecordResponseRequest, RejectReason, ResultInfo,
};
use serde_json::Value;

// ---- fixtures & harness ---------------------------------------------------------------------

const MIN: Duration = Duration::from_secs(60);

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/graph-examples")
        .join(name)
}

fn fixture_json(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_path(name))
        .unwrap_or_else(|e| panic!("reading fixture {name}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The (single) notification of a documented callback body.
fn notification(name: &str) -> CommsNotification {
    notification_from(fixture_json(name))
}

fn notification_from(body: Value) -> CommsNotification {
    let mut batch: CommsNotifications = serde_json::from_value(body).unwrap();
    assert_eq!(batch.value.len(), 1);
    batch.value.remove(0)
}

fn graph_call(name: &str) -> GraphCall {
    serde_json::from_value(fixture_json(name)).unwrap()
}

fn operation(name: &str) -> CommsOperation {
    serde_json::from_value(fixture_json(name)).unwrap()
}

/// A call the bot placed, already established, with the given id.
fn established_call(now: Instant, id: &str) -> Call {
    let created = GraphCall {
        id: Some(CallId::new(id)),
        state: Some(CallState::Established),
        ..GraphCall::default()
    };
    let mut call = Call::outgoing(now, &created, CallConfig::default()).unwrap();
    drain(&mut call);
    call
}

fn answer_request() -> AnswerRequest {
    AnswerRequest {
        callback_uri: Some("https://bot.example/callback".into()),
        accepted_modalities: vec![Modality::Audio],
        media_config: MediaConfig::app_hosted("{}"),
        participant_capacity: None,
        call_options: None,
    }
}

/// Everything a call queued, split by kind, plus its next deadline.
#[derive(Debug, Default)]
struct Drained {
    requests: Vec<GraphRequest>,
    events: Vec<CallEvent>,
    timeout: Option<Instant>,
}

fn drain(call: &mut Call) -> Drained {
    let mut out = Drained::default();
    while let Some(output) = call.poll_output() {
        match output {
            Output::Request(request) => out.requests.push(request),
            Output::Event(event) => out.events.push(event),
            Output::Timeout(at) => {
                out.timeout = Some(at);
                break;
            }
        }
    }
    out
}

fn feed(call: &mut Call, now: Instant, name: &str) -> Drained {
    call.handle_notification(now, notification(name)).unwrap();
    drain(call)
}

fn state_changes(events: &[CallEvent]) -> Vec<(CallState, CallState)> {
    events
        .iter()
        .filter_map(|e| match e {
            CallEvent::StateChanged { from, to } => Some((from.clone(), to.clone())),
            _ => None,
        })
        .collect()
}

fn pid(id: &str) -> ParticipantId {
    ParticipantId::new(id)
}

/// The join-meeting roster fixture, editable.
fn join_roster() -> Value {
    fixture_json("call-create-join-meeting-service-hosted-notification-roster.json")
}

fn roster_participants(body: &mut Value) -> &mut Vec<Value> {
    body["value"][0]["resourceData"].as_array_mut().unwrap()
}

const JOIN_CALL: &str = "2f1a1100-b174-40a0-aba7-0b405e01ed92";
const JOHN: &str = "0d7664b6-6432-43ed-8d27-d9e7adec188c";
const BOT: &str = "05491616-385f-44a8-9974-18cc5f9933c1";

/// A call created from the documented join-meeting response, already fed its documented roster.
fn joined_call_with_roster(now: Instant) -> Call {
    let created = graph_call("call-create-join-meeting-service-hosted-response.json");
    let mut call = Call::outgoing(now, &created, CallConfig::default()).unwrap();
    call.handle_notification(now, notification_from(join_roster()))
        .unwrap();
    drain(&mut call);
    call
}

// ---- join -----------------------------------------------------------------------------------

#[test]
fn joining_a_meeting_goes_from_establishing_to_established() {
    let t0 = Instant::now();
    let created = graph_call("call-create-join-meeting-service-hosted-response.json");
    let mut call = Call::outgoing(t0, &created, CallConfig::default()).unwrap();
    assert_eq!(call.direction(), Direction::Outgoing);
    assert_eq!(call.state(), &CallState::Establishing);
    assert_eq!(call.my_participant_id(), Some(&pid(BOT)));

    let establishing = feed(
        &mut call,
        t0 + Duration::from_millis(200),
        "call-create-join-meeting-service-hosted-notification-establishing.json",
    );
    assert!(
        state_changes(&establishing.events).is_empty(),
        "repeat of the 201 state"
    );
    let established = feed(
        &mut call,
        t0 + Duration::from_secs(2),
        "call-create-join-meeting-service-hosted-notification-established.json",
    );
    assert_eq!(
        state_changes(&established.events),
        vec![(CallState::Establishing, CallState::Established)]
    );
    assert_eq!(call.state(), &CallState::Established);
}

#[test]
fn established_arriving_before_establishing_never_moves_back() {
    let t0 = Instant::now();
    let created = graph_call("call-create-join-meeting-service-hosted-response.json");
    let mut call = Call::outgoing(t0, &created, CallConfig::default()).unwrap();
    feed(
        &mut call,
        t0,
        "call-create-join-meeting-service-hosted-notification-established.json",
    );
    let late = feed(
        &mut call,
        t0 + Duration::from_millis(10),
        "call-create-join-meeting-service-hosted-notification-establishing.json",
    );
    assert!(state_changes(&late.events).is_empty());
    assert_eq!(call.state(), &CallState::Established);
}

#[test]
fn join_roster_maps_audio_msis_to_participants() {
    let t0 = Instant::now();
    let created = graph_call("call-create-join-meeting-service-hosted-response.json");
    let mut call = Call::outgoing(t0, &created, CallConfig::default()).unwrap();
    let out = feed(
        &mut call,
        t0,
        "call-create-join-meeting-service-hosted-notification-roster.json",
    );
    assert!(out.events.contains(&CallEvent::ParticipantJoined {
        participant: pid(JOHN),
        in_lobby: false,
        muted: true,
        can_speak: true,
    }));
    assert!(out.events.contains(&CallEvent::MsiMapped {
        msi: Msi(1),
        participant: pid(JOHN),
    }));
    assert_eq!(call.roster().len(), 2);
    assert_eq!(call.participant_for_msi(Msi(1)), Some(&pid(JOHN)));
    assert_eq!(call.participant_for_msi(Msi(10)), Some(&pid(BOT)));
    // John's video (2) and screen-sharing (8) streams are not audio.
    assert_eq!(call.participant_for_msi(Msi(2)), None);
    assert_eq!(call.participant_for_msi(Msi(8)), None);
}

// ---- incoming calls -------------------------------------------------------------------------

#[test]
fn incoming_call_answered_in_time_is_established() {
    let t0 = Instant::now();
    let offer = notification("call-answer-voip-app-hosted-notification-incoming.json");
    let mut endpoint = Endpoint::new(CallConfig::default());
    endpoint.handle_notification(t0, offer);
    let events = endpoint_events(&mut endpoint);
    let call_id = CallId::new("57DAB8B1894C409AB240BD8BEAE78896");
    let respond_by = events
        .iter()
        .find_map(|(id, e)| match e {
            CallEvent::Incoming { respond_by, call } if *id == call_id => {
                assert_eq!(call.requested_modalities, vec![Modality::Audio]);
                Some(*respond_by)
            }
            _ => None,
        })
        .expect("Incoming event");
    assert!(respond_by > t0 && respond_by < t0 + Duration::from_secs(15));

    let answer_at = t0 + Duration::from_secs(3);
    let id = endpoint
        .with_call(&call_id, |call| call.answer(answer_at, answer_request()))
        .unwrap();
    let requests = endpoint_requests(&mut endpoint);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].id, id);
    assert!(matches!(requests[0].action, GraphAction::Answer(_)));
    endpoint.handle_response(answer_at, id, Ok(GraphReply::empty(202)));

    endpoint.handle_notification(
        t0 + Duration::from_secs(4),
        notification("call-answer-voip-app-hosted-notification-establishing.json"),
    );
    endpoint.handle_notification(
        t0 + Duration::from_secs(5),
        notification("call-answer-voip-app-hosted-notification-established.json"),
    );
    // Past Graph's 15 s deadline nothing else is sent: the decision was made.
    endpoint.handle_timeout(t0 + Duration::from_secs(20));
    let outputs = drain_endpoint(&mut endpoint);
    assert!(
        !outputs
            .iter()
            .any(|o| matches!(o, EndpointOutput::Request(_))),
        "{outputs:?}"
    );
    assert_eq!(
        endpoint.call(&call_id).unwrap().state(),
        &CallState::Established
    );
}

#[test]
fn undecided_incoming_call_is_rejected_before_graphs_deadline() {
    let t0 = Instant::now();
    let offer = notification("call-reject-none-notification-incoming.json");
    let call_id = offer.call_id().unwrap();
    let mut endpoint = Endpoint::new(CallConfig::default());
    endpoint.handle_notification(t0, offer);
    drain_endpoint(&mut endpoint);

    let deadline = match endpoint.poll_output() {
        Some(EndpointOutput::Timeout(at)) => at,
        other => panic!("expected a timeout, got {other:?}"),
    };
    assert!(deadline < t0 + Duration::from_secs(15));
    endpoint.handle_timeout(deadline);
    let requests = endpoint_requests(&mut endpoint);
    assert_eq!(requests.len(), 1);
    let GraphAction::Reject(reject) = &requests[0].action else {
        panic!("{requests:?}")
    };
    assert_eq!(reject.reason, Some(RejectReason::None));
    // The application is too late now.
    let late = endpoint.with_call(&call_id, |call| call.answer(deadline, answer_request()));
    assert!(matches!(
        late,
        Err(mediabot_signaling::endpoint::EndpointError::Call(
            CallError::AlreadyDecided
        ))
    ));
}

#[test]
fn missed_decision_is_reported_as_an_event() {
    let t0 = Instant::now();
    let offer = fixture_call_offer("call-reject-none-notification-incoming.json");
    let mut call = Call::incoming(
        t0,
        CallId::new("57dab8b1-894c-409a-b240-bd8beae78896"),
        offer,
        CallConfig::default(),
    );
    let first = drain(&mut call);
    call.handle_timeout(first.timeout.unwrap());
    let out = drain(&mut call);
    assert!(out.events.contains(&CallEvent::DecisionTimedOut {
        applied: DefaultDecision::Reject(RejectReason::None),
    }));
}

#[test]
fn rejected_call_ends_when_graph_deletes_it() {
    let t0 = Instant::now();
    let offer = fixture_call_offer("call-reject-none-notification-incoming.json");
    let mut call = Call::incoming(
        t0,
        CallId::new("57dab8b1-894c-409a-b240-bd8beae78896"),
        offer,
        CallConfig::default(),
    );
    drain(&mut call);
    let id = call
        .reject(t0 + Duration::from_secs(1), RejectReason::Busy)
        .unwrap();
    let sent = drain(&mut call);
    let GraphAction::Reject(reject) = &sent.requests[0].action else {
        panic!("{sent:?}")
    };
    assert_eq!(reject.reason, Some(RejectReason::Busy));
    call.handle_response(t0 + Duration::from_secs(1), id, Ok(GraphReply::empty(202)))
        .unwrap();
    // Documented: the deleted notification after a reject carries no state and no resultInfo.
    let out = feed(
        &mut call,
        t0 + Duration::from_secs(2),
        "call-reject-none-notification-deleted.json",
    );
    assert_eq!(
        out.events.last(),
        Some(&CallEvent::CallEnded {
            result_info: None,
            cause: EndCause::Graph,
        })
    );
    assert!(call.is_ended());
    assert_eq!(out.timeout, None);
}

#[test]
fn policy_recording_call_must_be_decided_within_five_seconds() {
    let t0 = Instant::now();
    let offer = fixture_call_offer("call-answer-policy-based-recording-notification-incoming.json");
    let mut call = Call::incoming(
        t0,
        CallId::new("e71f0300-9c1f-4d99-b5f4-2722e877d497"),
        offer,
        CallConfig::default(),
    );
    let out = drain(&mut call);
    let deadline = out.timeout.unwrap();
    assert!(deadline > t0 && deadline < t0 + Duration::from_secs(5));
}

#[test]
fn default_decision_can_be_answer() {
    let t0 = Instant::now();
    let config = CallConfig {
        default_decision: DefaultDecision::Answer(Box::new(answer_request())),
        ..CallConfig::default()
    };
    let offer = fixture_call_offer("call-answer-voip-app-hosted-notification-incoming.json");
    let mut call = Call::incoming(
        t0,
        CallId::new("57DAB8B1894C409AB240BD8BEAE78896"),
        offer,
        config,
    );
    let deadline = drain(&mut call).timeout.unwrap();
    call.handle_timeout(deadline);
    let out = drain(&mut call);
    assert!(matches!(out.requests[0].action, GraphAction::Answer(_)));
}

#[test]
fn answering_twice_is_refused() {
    let t0 = Instant::now();
    let offer = fixture_call_offer("call-answer-voip-app-hosted-notification-incoming.json");
    let mut call = Call::incoming(
        t0,
        CallId::new("57DAB8B1894C409AB240BD8BEAE78896"),
        offer,
        CallConfig::default(),
    );
    call.answer(t0, answer_request()).unwrap();
    assert_eq!(
        call.reject(t0, RejectReason::None),
        Err(CallError::AlreadyDecided)
    );
}

#[test]
fn undecided_incoming_call_cannot_be_hung_up() {
    let t0 = Instant::now();
    let offer = fixture_call_offer("call-answer-voip-app-hosted-notification-incoming.json");
    let mut call = Call::incoming(
        t0,
        CallId::new("57DAB8B1894C409AB240BD8BEAE78896"),
        offer,
        CallConfig::default(),
    );
    assert_eq!(call.hang_up(t0), Err(CallError::AwaitingDecision));
    call.answer(t0, answer_request()).unwrap();
    assert!(call.hang_up(t0).is_ok());
}

fn fixture_call_offer(name: &str) -> GraphCall {
    let n = notification(name);
    match n.resource_data {
        mediabot_signaling::models::ResourceData::Call(call) => *call,
        other => panic!("{other:?}"),
    }
}

// ---- keepAlive ------------------------------------------------------------------------------

/// Runs a call for `duration` of simulated time, answering each keepAlive with `answer`. Returns
/// the instants keepAlives were sent.
fn run_keep_alives(
    call: &mut Call,
    t0: Instant,
    duration: Duration,
    mut answer: impl FnMut(Instant) -> Result<GraphReply, GraphFailure>,
) -> (Vec<Instant>, Vec<CallEvent>) {
    let mut sent = Vec::new();
    let mut events = Vec::new();
    let mut now = t0;
    loop {
        let out = drain(call);
        events.extend(out.events);
        if !out.requests.is_empty() {
            for request in out.requests {
                assert_eq!(request.action, GraphAction::KeepAlive);
                sent.push(now);
                call.handle_response(now, request.id, answer(now)).unwrap();
            }
            // Every input invalidates the deadline just polled: drain again.
            continue;
        }
        let Some(next) = out.timeout else {
            break;
        };
        assert!(
            next > now || now == t0,
            "deadline {next:?} does not advance past {now:?}"
        );
        if next > t0 + duration {
            break;
        }
        now = next;
        call.handle_timeout(now);
    }
    (sent, events)
}

#[test]
fn keep_alive_every_fifteen_minutes_for_fifty_minutes() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "2e1a0b00-2db4-4022-9570-243709c565ab");
    let (sent, events) = run_keep_alives(&mut call, t0, 50 * MIN, |_| Ok(GraphReply::empty(200)));
    let offsets: Vec<Duration> = sent.iter().map(|at| *at - t0).collect();
    assert_eq!(offsets, vec![15 * MIN, 30 * MIN, 45 * MIN]);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(call.last_keep_alive(), Some(t0 + 45 * MIN));
}

#[test]
fn keep_alive_interval_is_configurable_but_capped_below_the_limit() {
    let t0 = Instant::now();
    let config = CallConfig {
        keep_alive_interval: 40 * MIN,
        ..CallConfig::default()
    };
    let created = GraphCall {
        id: Some(CallId::new("c-1")),
        state: Some(CallState::Established),
        ..GraphCall::default()
    };
    let mut call = Call::outgoing(t0, &created, config).unwrap();
    let (sent, _) = run_keep_alives(&mut call, t0, 50 * MIN, |_| Ok(GraphReply::empty(200)));
    let offsets: Vec<Duration> = sent.iter().map(|at| *at - t0).collect();
    let half = Duration::from_secs(45 * 60 / 2);
    assert_eq!(offsets, vec![half, half * 2]);
}

#[test]
fn failed_keep_alive_is_retried_and_the_limit_is_never_reached() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "2e1a0b00-2db4-4022-9570-243709c565ab");
    let mut failures_left = 3;
    let mut successes = vec![t0];
    let (sent, events) = run_keep_alives(&mut call, t0, 50 * MIN, |now| {
        if failures_left > 0 {
            failures_left -= 1;
            Err(GraphFailure::status(503))
        } else {
            successes.push(now);
            Ok(GraphReply::empty(200))
        }
    });
    let offsets: Vec<Duration> = sent.iter().map(|at| *at - t0).collect();
    let retry = Duration::from_secs(30);
    assert_eq!(
        &offsets[..4],
        &[
            15 * MIN,
            15 * MIN + retry,
            15 * MIN + 2 * retry,
            15 * MIN + 3 * retry
        ]
    );
    let failed = events
        .iter()
        .filter(|e| matches!(e, CallEvent::KeepAliveFailed { .. }))
        .count();
    assert_eq!(failed, 3);
    for pair in successes.windows(2) {
        assert!(pair[1] - pair[0] < 45 * MIN);
    }
}

#[test]
fn keep_alive_overdue_is_reported_once_when_graph_never_answers_ok() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "c-2");
    let (_, events) = run_keep_alives(&mut call, t0, 50 * MIN, |_| {
        Err(GraphFailure::Unreachable {
            reason: "connection reset".into(),
        })
    });
    let overdue: Vec<&CallEvent> = events
        .iter()
        .filter(|e| matches!(e, CallEvent::KeepAliveOverdue { .. }))
        .collect();
    assert_eq!(
        overdue,
        vec![&CallEvent::KeepAliveOverdue { last_success: t0 }]
    );
}

#[test]
fn keep_alive_404_means_the_call_is_gone() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "c-3");
    let (sent, events) =
        run_keep_alives(&mut call, t0, 50 * MIN, |_| Err(GraphFailure::status(404)));
    assert_eq!(sent, vec![t0 + 15 * MIN]);
    assert_eq!(
        events.last(),
        Some(&CallEvent::CallEnded {
            result_info: None,
            cause: EndCause::NotFound,
        })
    );
    assert!(call.is_ended());
    assert_eq!(call.poll_output(), None);
}

#[test]
fn unanswered_keep_alive_past_the_limit_does_not_spin_the_timer() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "c-6");
    call.handle_timeout(t0 + 15 * MIN);
    let sent = drain(&mut call);
    assert_eq!(sent.requests[0].action, GraphAction::KeepAlive);
    // The response never comes; the only deadline left is the overdue report at 45 min.
    assert_eq!(sent.timeout, Some(t0 + 45 * MIN));
    call.handle_timeout(t0 + 45 * MIN);
    let out = drain(&mut call);
    assert_eq!(
        out.events,
        vec![CallEvent::KeepAliveOverdue { last_success: t0 }]
    );
    assert!(out.requests.is_empty());
    assert_eq!(
        out.timeout, None,
        "nothing is due until the keepAlive answers"
    );
}

#[test]
fn keep_alive_stops_once_the_call_is_terminating() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "57dab8b1-894c-409a-b240-bd8beae78896");
    let out = feed(&mut call, t0, "call-delete-notification-terminating.json");
    assert_eq!(out.timeout, None);
    call.handle_timeout(t0 + 50 * MIN);
    assert!(drain(&mut call).requests.is_empty());
}

#[test]
fn hang_up_stops_keep_alive_and_waits_only_for_confirmation() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "c-7");
    let id = call.hang_up(t0 + MIN).unwrap();
    drain(&mut call);
    call.handle_response(t0 + MIN, id, Ok(GraphReply::empty(204)))
        .unwrap();
    assert_eq!(
        drain(&mut call).timeout,
        Some(t0 + MIN + Duration::from_secs(30))
    );
}

#[test]
fn answered_incoming_call_keeps_alive_from_the_answer() {
    let t0 = Instant::now();
    let offer = fixture_call_offer("call-answer-voip-app-hosted-notification-incoming.json");
    let mut call = Call::incoming(
        t0,
        CallId::new("57DAB8B1894C409AB240BD8BEAE78896"),
        offer,
        CallConfig::default(),
    );
    let answered_at = t0 + Duration::from_secs(5);
    let id = call.answer(answered_at, answer_request()).unwrap();
    drain(&mut call);
    call.handle_response(answered_at, id, Ok(GraphReply::empty(202)))
        .unwrap();
    let (sent, _) = run_keep_alives(&mut call, answered_at, 20 * MIN, |_| {
        Ok(GraphReply::empty(200))
    });
    assert_eq!(sent, vec![answered_at + 15 * MIN]);
}

// ---- termination ----------------------------------------------------------------------------

fn end_of(fixture: &str) -> (Vec<CallEvent>, Call) {
    let t0 = Instant::now();
    let n = notification(fixture);
    let id = n.call_id().unwrap();
    let mut call = established_call(t0, id.as_str());
    call.handle_notification(t0 + MIN, n).unwrap();
    let out = drain(&mut call);
    (out.events, call)
}

#[test]
fn termination_reports_result_info_code_zero() {
    let (events, call) = end_of("call-delete-notification-terminated.json");
    let CallEvent::CallEnded { result_info, cause } = events.last().unwrap() else {
        panic!("{events:?}")
    };
    assert_eq!(*cause, EndCause::Graph);
    assert_eq!(result_info.as_ref().and_then(|r| r.code), Some(0));
    assert_eq!(call.state(), &CallState::Terminated);
}

#[test]
fn termination_reports_conversation_ended_200_5001() {
    let (events, call) = end_of("notification-call-terminated.json");
    assert_eq!(
        events.last(),
        Some(&CallEvent::CallEnded {
            result_info: Some(ResultInfo::new(200, 5001, "The conversation has ended.")),
            cause: EndCause::Graph,
        })
    );
    assert_eq!(call.result_info().and_then(|r| r.subcode), Some(5001));
}

#[test]
fn termination_reports_transfer_completed_0_7015() {
    let (events, _) = end_of("call-transfer-blind-notification-transfer-completed.json");
    assert_eq!(
        events.last(),
        Some(&CallEvent::CallEnded {
            result_info: Some(ResultInfo::new(0, 7015, "GracefulTransferCompleted")),
            cause: EndCause::Graph,
        })
    );
}

#[test]
fn termination_reports_keep_alive_expiry_408_8537() {
    // The documented code (reference §7) on the documented terminated notification shape.
    let mut body = fixture_json("call-delete-notification-terminated.json");
    body["value"][0]["resourceData"]["resultInfo"] = serde_json::json!({
        "@odata.type": "#microsoft.graph.resultInfo",
        "code": 408,
        "subcode": 8537,
        "message": "Keep Alive timeout, cleaned up inactive call."
    });
    let t0 = Instant::now();
    let n = notification_from(body);
    let mut call = established_call(t0, n.call_id().unwrap().as_str());
    call.handle_notification(t0, n).unwrap();
    let events = drain(&mut call).events;
    assert_eq!(
        events.last(),
        Some(&CallEvent::CallEnded {
            result_info: Some(ResultInfo::new(
                408,
                8537,
                "Keep Alive timeout, cleaned up inactive call."
            )),
            cause: EndCause::Graph,
        })
    );
}

#[test]
fn documented_end_codes_are_classified() {
    let reason = |fixture: &str| {
        let (events, _) = end_of(fixture);
        match events.last() {
            Some(CallEvent::CallEnded {
                result_info: Some(info),
                ..
            }) => EndReason::of(info),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        reason("notification-call-terminated.json"),
        EndReason::ConversationEnded
    );
    assert_eq!(
        reason("call-transfer-blind-notification-transfer-completed.json"),
        EndReason::TransferCompleted
    );
    assert_eq!(
        reason("call-delete-notification-terminated.json"),
        EndReason::Other
    );
    assert_eq!(
        EndReason::of(&ResultInfo::new(408, 8537, "")),
        EndReason::KeepAliveExpired
    );
    assert_eq!(
        EndReason::of(&ResultInfo::new(408, 1106, "")),
        EndReason::AnswerTimeout
    );
    assert_eq!(
        EndReason::of(&ResultInfo::new(410, 301005, "")),
        EndReason::MediaFailure
    );
}

#[test]
fn terminating_then_terminated_ends_once_and_last() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "57dab8b1-894c-409a-b240-bd8beae78896");
    let terminating = feed(&mut call, t0, "call-delete-notification-terminating.json");
    assert_eq!(
        state_changes(&terminating.events),
        vec![(CallState::Established, CallState::Terminating)]
    );
    let terminated = feed(&mut call, t0, "call-delete-notification-terminated.json");
    assert_eq!(
        state_changes(&terminated.events),
        vec![(CallState::Terminating, CallState::Terminated)]
    );
    assert!(matches!(
        terminated.events.last(),
        Some(CallEvent::CallEnded { .. })
    ));
    // A duplicate delivery changes nothing.
    let again = feed(&mut call, t0, "call-delete-notification-terminated.json");
    assert!(again.events.is_empty());
}

#[test]
fn hang_up_without_confirmation_ends_after_the_grace_period() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "c-4");
    let id = call.hang_up(t0).unwrap();
    let sent = drain(&mut call);
    assert_eq!(sent.requests[0].action, GraphAction::HangUp);
    call.handle_response(t0, id, Ok(GraphReply::empty(204)))
        .unwrap();
    let grace = drain(&mut call).timeout.unwrap();
    assert_eq!(grace, t0 + Duration::from_secs(30));
    call.handle_timeout(grace);
    assert_eq!(
        drain(&mut call).events.last(),
        Some(&CallEvent::CallEnded {
            result_info: None,
            cause: EndCause::Unconfirmed,
        })
    );
}

#[test]
fn failed_transfer_returns_to_established_with_its_reason() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "341a0500-d4bf-4224-8b19-1581168d328b");
    feed(
        &mut call,
        t0,
        "call-transfer-blind-notification-transferring.json",
    );
    let out = feed(
        &mut call,
        t0,
        "call-transfer-blind-notification-transfer-failed.json",
    );
    assert_eq!(
        state_changes(&out.events),
        vec![(CallState::Transferring, CallState::Established)]
    );
    assert!(out.events.contains(&CallEvent::TransferFailed {
        result_info: Some(ResultInfo::new(500, 7000, "<message>")),
    }));
}

// ---- roster churn ---------------------------------------------------------------------------

#[test]
fn participant_missing_from_next_snapshot_has_left() {
    let t0 = Instant::now();
    let mut call = joined_call_with_roster(t0);
    let mut body = join_roster();
    roster_participants(&mut body).retain(|p| p["id"] != JOHN);
    call.handle_notification(t0, notification_from(body))
        .unwrap();
    let events = drain(&mut call).events;
    assert_eq!(
        events,
        vec![
            CallEvent::ParticipantLeft {
                participant: pid(JOHN),
                reason: None,
            },
            CallEvent::MsiUnmapped { msi: Msi(1) },
        ]
    );
    assert_eq!(call.participant_for_msi(Msi(1)), None);
}

#[test]
fn mute_and_unmute_are_reported() {
    let t0 = Instant::now();
    let mut call = joined_call_with_roster(t0);
    let mut body = join_roster();
    roster_participants(&mut body)[0]["isMuted"] = Value::Bool(false);
    call.handle_notification(t0, notification_from(body.clone()))
        .unwrap();
    assert_eq!(
        drain(&mut call).events,
        vec![CallEvent::ParticipantUnmuted {
            participant: pid(JOHN)
        }]
    );
    roster_participants(&mut body)[0]["isMuted"] = Value::Bool(true);
    call.handle_notification(t0, notification_from(body))
        .unwrap();
    assert_eq!(
        drain(&mut call).events,
        vec![CallEvent::ParticipantMuted {
            participant: pid(JOHN)
        }]
    );
}

#[test]
fn documented_mute_roster_reports_a_new_muted_participant() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "57dab8b1-894c-409a-b240-bd8beae78896");
    let out = feed(
        &mut call,
        t0,
        "call-mute-notification-roster-updated-with-participant-muted.json",
    );
    let bob = pid("2765eb15-01f8-47c6-b12b-c32111a4a86f");
    assert!(out.events.contains(&CallEvent::ParticipantJoined {
        participant: bob.clone(),
        in_lobby: false,
        muted: true,
        can_speak: true,
    }));
    assert_eq!(call.participant_for_msi(Msi(1)), Some(&bob));
}

#[test]
fn losing_the_right_to_speak_is_reported() {
    let t0 = Instant::now();
    let mut call = joined_call_with_roster(t0);
    let mut body = join_roster();
    roster_participants(&mut body)[0]["mediaStreams"][0]["direction"] = "receiveOnly".into();
    call.handle_notification(t0, notification_from(body.clone()))
        .unwrap();
    assert_eq!(
        drain(&mut call).events,
        vec![CallEvent::SpeakingCapabilityChanged {
            participant: pid(JOHN),
            can_speak: false,
        }]
    );
    roster_participants(&mut body)[0]["mediaStreams"][0]["direction"] = "sendReceive".into();
    roster_participants(&mut body)[0]["mediaStreams"][0]["serverMuted"] = true.into();
    call.handle_notification(t0, notification_from(body))
        .unwrap();
    // Still unable to speak: now because the server mutes the stream.
    assert!(drain(&mut call).events.is_empty());
}

#[test]
fn lobby_participants_have_no_msi_until_admitted() {
    let t0 = Instant::now();
    let roster = "call-create-beta-join-channel-meeting-as-guest-notification-roster.json";
    let n = notification(roster);
    let mut call = established_call(t0, n.call_id().unwrap().as_str());
    call.handle_notification(t0, n).unwrap();
    let joined = drain(&mut call).events;
    assert!(joined.contains(&CallEvent::ParticipantJoined {
        participant: pid(BOT),
        in_lobby: true,
        muted: false,
        can_speak: false,
    }));
    assert_eq!(call.participant_for_msi(Msi(10)), None);

    let mut body = fixture_json(roster);
    roster_participants(&mut body)[0]["isInLobby"] = false.into();
    call.handle_notification(t0, notification_from(body))
        .unwrap();
    let admitted = drain(&mut call).events;
    assert_eq!(
        admitted,
        vec![
            CallEvent::ParticipantAdmitted {
                participant: pid(BOT)
            },
            CallEvent::SpeakingCapabilityChanged {
                participant: pid(BOT),
                can_speak: true,
            },
            CallEvent::MsiMapped {
                msi: Msi(10),
                participant: pid(BOT),
            },
        ]
    );
}

#[test]
fn the_none_msi_is_never_mapped() {
    let t0 = Instant::now();
    let created = graph_call("call-create-join-meeting-service-hosted-response.json");
    let mut call = Call::outgoing(t0, &created, CallConfig::default()).unwrap();
    let mut body = join_roster();
    roster_participants(&mut body)[0]["mediaStreams"][0]["sourceId"] = "4294967295".into();
    call.handle_notification(t0, notification_from(body))
        .unwrap();
    drain(&mut call);
    assert_eq!(call.participant_for_msi(Msi::NONE), None);
    assert_eq!(
        call.roster().msi_map().collect::<Vec<_>>(),
        vec![(Msi(10), &pid(BOT))]
    );
}

#[test]
fn an_msi_claimed_twice_stays_with_its_owner() {
    let t0 = Instant::now();
    let mut call = joined_call_with_roster(t0);
    // A stale second entry also claims John's MSI 1 (its id sorts before John's).
    let mut body = join_roster();
    let mut ghost = roster_participants(&mut body)[0].clone();
    ghost["id"] = "00000000-0000-0000-0000-000000000001".into();
    roster_participants(&mut body).push(ghost);
    call.handle_notification(t0, notification_from(body))
        .unwrap();
    let events = drain(&mut call).events;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, CallEvent::MsiMapped { .. })),
        "{events:?}"
    );
    assert_eq!(call.participant_for_msi(Msi(1)), Some(&pid(JOHN)));
}

#[test]
fn msi_seen_before_the_roster_binds_late() {
    let t0 = Instant::now();
    let created = graph_call("call-create-join-meeting-service-hosted-response.json");
    let mut call = Call::outgoing(t0, &created, CallConfig::default()).unwrap();
    // Media tagged MSI 1 arrives first: nobody yet.
    assert_eq!(call.participant_for_msi(Msi(1)), None);
    call.handle_notification(t0, notification_from(join_roster()))
        .unwrap();
    let events = drain(&mut call).events;
    assert!(events.contains(&CallEvent::MsiMapped {
        msi: Msi(1),
        participant: pid(JOHN)
    }));
    assert_eq!(call.participant_for_msi(Msi(1)), Some(&pid(JOHN)));
}

// ---- delta roster ---------------------------------------------------------------------------

/// A delta-roster notification (beta `deltaParticipants`; no wire example is documented, so the
/// participants are taken from the documented join roster).
fn delta(call: &str, sequence: i64, participants: Vec<Value>) -> CommsNotification {
    notification_from(serde_json::json!({
        "value": [{
            "changeType": "updated",
            "resourceUrl": format!("/communications/calls/{call}/participants"),
            "resourceData": {
                "@odata.type": "#microsoft.graph.deltaParticipants",
                "sequenceNumber": sequence,
                "participants": participants,
            }
        }]
    }))
}

fn john() -> Value {
    roster_participants(&mut join_roster())[0].clone()
}

fn bot() -> Value {
    roster_participants(&mut join_roster())[1].clone()
}

fn removed(mut participant: Value, reason: &str) -> Value {
    participant["removedState"] = serde_json::json!({ "reason": reason });
    participant
}

fn joined_ids(events: &[CallEvent]) -> Vec<ParticipantId> {
    events
        .iter()
        .filter_map(|e| match e {
            CallEvent::ParticipantJoined { participant, .. } => Some(participant.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn deltas_apply_in_sequence_order_even_when_delivered_out_of_order() {
    let t0 = Instant::now();
    let mut call = established_call(t0, JOIN_CALL);
    call.handle_notification(t0, delta(JOIN_CALL, 1, vec![bot()]))
        .unwrap();
    drain(&mut call);
    // 3 (John leaves) overtakes 2 (John joins).
    call.handle_notification(t0, delta(JOIN_CALL, 3, vec![removed(john(), "left")]))
        .unwrap();
    let early = drain(&mut call).events;
    assert_eq!(
        early,
        vec![CallEvent::RosterGap {
            expected: 2,
            received: 3
        }]
    );
    call.handle_notification(t0, delta(JOIN_CALL, 2, vec![john()]))
        .unwrap();
    let events = drain(&mut call).events;
    assert_eq!(joined_ids(&events), vec![pid(JOHN)]);
    assert!(events.contains(&CallEvent::ParticipantLeft {
        participant: pid(JOHN),
        reason: Some("left".into()),
    }));
    assert!(call.roster().participant(&pid(JOHN)).is_none());
    assert_eq!(call.roster().last_sequence_number(), Some(3));
}

#[test]
fn stale_and_duplicate_deltas_are_dropped() {
    let t0 = Instant::now();
    let mut call = established_call(t0, JOIN_CALL);
    call.handle_notification(t0, delta(JOIN_CALL, 5, vec![john()]))
        .unwrap();
    call.handle_notification(t0, delta(JOIN_CALL, 6, vec![removed(john(), "left")]))
        .unwrap();
    drain(&mut call);
    // A replay of 5 would resurrect John; it must be ignored.
    call.handle_notification(t0, delta(JOIN_CALL, 5, vec![john()]))
        .unwrap();
    call.handle_notification(t0, delta(JOIN_CALL, 6, vec![john()]))
        .unwrap();
    assert!(drain(&mut call).events.is_empty());
    assert!(call.roster().participant(&pid(JOHN)).is_none());
    assert_eq!(call.roster().dropped_deltas(), 2);
}

#[test]
fn roster_gap_is_resolved_by_a_full_roster() {
    let t0 = Instant::now();
    let mut call = established_call(t0, JOIN_CALL);
    call.handle_notification(t0, delta(JOIN_CALL, 1, vec![bot()]))
        .unwrap();
    call.handle_notification(t0, delta(JOIN_CALL, 4, vec![john()]))
        .unwrap();
    let gap = drain(&mut call).events;
    assert!(gap.contains(&CallEvent::RosterGap {
        expected: 2,
        received: 4
    }));
    let id = call.refresh_roster(t0).unwrap();
    let sent = drain(&mut call);
    assert_eq!(sent.requests[0].action, GraphAction::ListParticipants);
    let list: mediabot_signaling::models::ODataCollection<mediabot_signaling::models::Participant> =
        serde_json::from_value(fixture_json("participants-list-response.json")).unwrap();
    let expected = list.value.len();
    call.handle_response(t0, id, Ok(GraphReply::participants(list.value)))
        .unwrap();
    drain(&mut call);
    assert_eq!(call.roster().len(), expected);
    assert_eq!(call.roster().last_sequence_number(), Some(4));
    // The sequence continues from the resync.
    call.handle_notification(t0, delta(JOIN_CALL, 5, vec![john()]))
        .unwrap();
    assert!(
        !drain(&mut call)
            .events
            .iter()
            .any(|e| matches!(e, CallEvent::RosterGap { .. }))
    );
    assert!(call.roster().participant(&pid(JOHN)).is_some());
}

// ---- operations -----------------------------------------------------------------------------

const INVITE_CALL: &str = "ab6233a5-20b7-4c5e-bea2-ce56c9776429";

fn invite(call: &mut Call, now: Instant) -> RequestId {
    let id = call
        .perform(
            now,
            CallAction::InviteParticipants(InviteParticipantsRequest::default()),
        )
        .unwrap();
    drain(call);
    id
}

fn finished(events: &[CallEvent]) -> Vec<(RequestId, OperationOutcome, Option<ResultInfo>)> {
    events
        .iter()
        .filter_map(|e| match e {
            CallEvent::OperationFinished {
                request_id,
                outcome,
                result_info,
                ..
            } => Some((*request_id, *outcome, result_info.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn invite_operation_completes_by_notification() {
    let t0 = Instant::now();
    let mut call = established_call(t0, INVITE_CALL);
    let id = invite(&mut call, t0);
    call.handle_response(
        t0,
        id,
        Ok(GraphReply::operation(operation(
            "participant-invite-one-participant-response.json",
        ))),
    )
    .unwrap();
    let accepted = drain(&mut call).events;
    let op_id = OperationId::new("eec3812a-fdc3-4fb4-825c-a06c9f35414e");
    assert_eq!(
        accepted,
        vec![CallEvent::ActionAccepted {
            request_id: id,
            action: "inviteParticipants",
            operation_id: Some(op_id.clone()),
        }]
    );
    assert_eq!(call.pending_operations().collect::<Vec<_>>(), vec![&op_id]);
    let done = feed(
        &mut call,
        t0 + Duration::from_secs(3),
        "participant-invite-one-participant-notification-operation-completed.json",
    );
    assert_eq!(
        finished(&done.events),
        vec![(id, OperationOutcome::Completed, None)]
    );
    assert_eq!(call.pending_operations().count(), 0);
}

#[test]
fn failed_operation_carries_its_result_info() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "57DAB8B1894C409AB240BD8BEAE78896");
    let id = call
        .perform(
            t0,
            CallAction::RecordResponse(RecordResponseRequest::default()),
        )
        .unwrap();
    drain(&mut call);
    call.handle_response(
        t0,
        id,
        Ok(GraphReply::operation(operation(
            "call-recordresponse-response.json",
        ))),
    )
    .unwrap();
    drain(&mut call);
    // The notification spells the operation id without hyphens in the URL and with them in the data.
    let out = feed(&mut call, t0, "notification-operation-failed.json");
    assert_eq!(
        finished(&out.events),
        vec![(
            id,
            OperationOutcome::Failed,
            Some(ResultInfo::new(
                400,
                8508,
                "Action failed, the operation was cancelled."
            ))
        )]
    );
}

#[test]
fn completion_that_overtakes_the_response_is_not_lost() {
    let t0 = Instant::now();
    let mut call = established_call(t0, INVITE_CALL);
    let id = invite(&mut call, t0);
    let early = feed(
        &mut call,
        t0,
        "participant-invite-one-participant-notification-operation-completed.json",
    );
    assert!(finished(&early.events).is_empty());
    call.handle_response(
        t0,
        id,
        Ok(GraphReply::operation(operation(
            "participant-invite-one-participant-response.json",
        ))),
    )
    .unwrap();
    assert_eq!(
        finished(&drain(&mut call).events),
        vec![(id, OperationOutcome::Completed, None)]
    );
    assert_eq!(call.pending_operations().count(), 0);
}

#[test]
fn silent_operation_is_fetched_and_completes_by_get() {
    let t0 = Instant::now();
    let mut call = established_call(t0, INVITE_CALL);
    let id = invite(&mut call, t0);
    call.handle_response(
        t0,
        id,
        Ok(GraphReply::operation(operation(
            "participant-invite-one-participant-response.json",
        ))),
    )
    .unwrap();
    let poll_at = drain(&mut call).timeout.unwrap();
    assert_eq!(poll_at, t0 + Duration::from_secs(120));
    call.handle_timeout(poll_at);
    let sent = drain(&mut call);
    let op_id = OperationId::new("eec3812a-fdc3-4fb4-825c-a06c9f35414e");
    assert_eq!(sent.requests[0].action, GraphAction::GetOperation(op_id));
    let mut done = operation("participant-invite-one-participant-response.json");
    done.status = Some(mediabot_signaling::models::OperationStatus::Completed);
    call.handle_response(
        poll_at,
        sent.requests[0].id,
        Ok(GraphReply::operation(done)),
    )
    .unwrap();
    assert_eq!(
        finished(&drain(&mut call).events),
        vec![(id, OperationOutcome::Completed, None)]
    );
}

#[test]
fn operation_gone_on_get_is_lost() {
    let t0 = Instant::now();
    let mut call = established_call(t0, INVITE_CALL);
    let id = invite(&mut call, t0);
    call.handle_response(
        t0,
        id,
        Ok(GraphReply::operation(operation(
            "participant-invite-one-participant-response.json",
        ))),
    )
    .unwrap();
    let poll_at = drain(&mut call).timeout.unwrap();
    call.handle_timeout(poll_at);
    let get = drain(&mut call).requests.remove(0);
    call.handle_response(poll_at, get.id, Err(GraphFailure::status(404)))
        .unwrap();
    assert_eq!(
        finished(&drain(&mut call).events),
        vec![(id, OperationOutcome::Lost, None)]
    );
}

#[test]
fn operation_already_final_in_the_response_finishes_at_once() {
    let t0 = Instant::now();
    let mut call = established_call(t0, INVITE_CALL);
    let id = invite(&mut call, t0);
    let mut done = operation("participant-invite-one-participant-response.json");
    done.status = Some(mediabot_signaling::models::OperationStatus::Failed);
    done.result_info = Some(ResultInfo::new(403, 7504, "Insufficient permissions"));
    call.handle_response(t0, id, Ok(GraphReply::operation(done)))
        .unwrap();
    assert_eq!(
        finished(&drain(&mut call).events),
        vec![(
            id,
            OperationOutcome::Failed,
            Some(ResultInfo::new(403, 7504, "Insufficient permissions"))
        )]
    );
    assert_eq!(call.pending_operations().count(), 0);
}

#[test]
fn operation_known_only_by_location_is_tracked() {
    let t0 = Instant::now();
    let mut call = established_call(t0, INVITE_CALL);
    let id = invite(&mut call, t0);
    let reply = GraphReply {
        status: 202,
        body: mediabot_signaling::call::ReplyBody::Empty,
        location: Some(format!(
            "https://graph.microsoft.com/v1.0/communications/calls/{INVITE_CALL}/operations/eec3812a-fdc3-4fb4-825c-a06c9f35414e"
        )),
    };
    call.handle_response(t0, id, Ok(reply)).unwrap();
    drain(&mut call);
    let done = feed(
        &mut call,
        t0,
        "participant-invite-one-participant-notification-operation-completed.json",
    );
    assert_eq!(
        finished(&done.events),
        vec![(id, OperationOutcome::Completed, None)]
    );
}

#[test]
fn action_rejected_by_graph_is_reported() {
    let t0 = Instant::now();
    let mut call = established_call(t0, INVITE_CALL);
    let id = invite(&mut call, t0);
    let failure = GraphFailure::Status {
        status: 403,
        code: "7504".into(),
        message: "Insufficient enterprise tenant permissions, cannot access this API.".into(),
    };
    call.handle_response(t0, id, Err(failure.clone())).unwrap();
    assert_eq!(
        drain(&mut call).events,
        vec![CallEvent::RequestFailed {
            request_id: id,
            action: "inviteParticipants",
            failure,
        }]
    );
}

#[test]
fn operations_still_running_are_lost_when_the_call_ends() {
    let t0 = Instant::now();
    let mut call = established_call(t0, INVITE_CALL);
    let id = invite(&mut call, t0);
    call.handle_response(
        t0,
        id,
        Ok(GraphReply::operation(operation(
            "participant-invite-one-participant-response.json",
        ))),
    )
    .unwrap();
    drain(&mut call);
    let mut body = fixture_json("notification-call-terminated.json");
    body["value"][0]["resourceUrl"] = format!("/communications/calls/{INVITE_CALL}").into();
    call.handle_notification(t0, notification_from(body))
        .unwrap();
    let events = drain(&mut call).events;
    assert_eq!(finished(&events), vec![(id, OperationOutcome::Lost, None)]);
    assert!(matches!(events.last(), Some(CallEvent::CallEnded { .. })));
}

#[test]
fn unknown_response_ids_are_refused() {
    let t0 = Instant::now();
    let mut call = established_call(t0, "c-5");
    assert_eq!(
        call.handle_response(t0, RequestId(999), Ok(GraphReply::empty(200))),
        Err(CallError::UnknownRequest(RequestId(999)))
    );
}

// ---- endpoint routing -----------------------------------------------------------------------

fn drain_endpoint(endpoint: &mut Endpoint) -> Vec<EndpointOutput> {
    let mut outputs = Vec::new();
    while let Some(output) = endpoint.poll_output() {
        if matches!(output, EndpointOutput::Timeout(_)) {
            break;
        }
        outputs.push(output);
    }
    outputs
}

fn endpoint_events(endpoint: &mut Endpoint) -> Vec<(CallId, CallEvent)> {
    drain_endpoint(endpoint)
        .into_iter()
        .filter_map(|o| match o {
            EndpointOutput::Event(EndpointEvent::Call { call_id, event }) => Some((call_id, event)),
            _ => None,
        })
        .collect()
}

fn endpoint_requests(endpoint: &mut Endpoint) -> Vec<GraphRequest> {
    drain_endpoint(endpoint)
        .into_iter()
        .filter_map(|o| match o {
            EndpointOutput::Request(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn notifications_reach_their_call_despite_id_spelling() {
    let t0 = Instant::now();
    let mut endpoint = Endpoint::new(CallConfig::default());
    // Offered as 57DAB8B1894C… (compact, upper case), ended as 57dab8b1-894c-… (hyphenated).
    endpoint.handle_notification(
        t0,
        notification("call-answer-voip-app-hosted-notification-incoming.json"),
    );
    let id = CallId::new("57DAB8B1894C409AB240BD8BEAE78896");
    let answer = endpoint
        .with_call(&id, |call| call.answer(t0, answer_request()))
        .unwrap();
    endpoint.handle_response(t0, answer, Ok(GraphReply::empty(202)));
    drain_endpoint(&mut endpoint);
    endpoint.handle_notification(t0, notification("notification-call-terminated.json"));
    let outputs = drain_endpoint(&mut endpoint);
    assert!(outputs.iter().any(|o| matches!(
        o,
        EndpointOutput::Event(EndpointEvent::Call {
            event: CallEvent::CallEnded { .. },
            ..
        })
    )));
    assert!(matches!(
        outputs.last(),
        Some(EndpointOutput::Event(EndpointEvent::CallRemoved { .. }))
    ));
    assert!(endpoint.is_empty());
}

#[test]
fn late_notifications_for_an_ended_call_do_not_resurrect_it() {
    let t0 = Instant::now();
    let mut endpoint = Endpoint::new(CallConfig::default());
    endpoint.handle_notification(
        t0,
        notification("call-reject-none-notification-incoming.json"),
    );
    let id = CallId::new("57dab8b1-894c-409a-b240-bd8beae78896");
    endpoint
        .with_call(&id, |call| call.reject(t0, RejectReason::None))
        .unwrap();
    endpoint.handle_notification(
        t0,
        notification("call-reject-none-notification-deleted.json"),
    );
    drain_endpoint(&mut endpoint);
    assert!(endpoint.is_empty());
    // Graph delivers the offer again.
    endpoint.handle_notification(
        t0,
        notification("call-reject-none-notification-incoming.json"),
    );
    assert_eq!(
        drain_endpoint(&mut endpoint),
        vec![EndpointOutput::Event(EndpointEvent::LateNotification {
            call_id: id,
            change_type: mediabot_signaling::models::ChangeType::Created,
        })]
    );
    assert!(endpoint.is_empty());
}

#[test]
fn resource_url_without_leading_slash_is_routed() {
    let t0 = Instant::now();
    let mut endpoint = Endpoint::new(CallConfig::default());
    let created = GraphCall {
        id: Some(CallId::new("e141b67c-90fd-455d-858b-b48a40b9cc8d")),
        state: Some(CallState::Established),
        ..GraphCall::default()
    };
    let call_id = endpoint.add_outgoing_call(t0, &created).unwrap();
    endpoint.handle_notification(
        t0,
        notification("participant-startholdmusic-notification-operation-completed.json"),
    );
    let outputs = drain_endpoint(&mut endpoint);
    assert!(
        !outputs
            .iter()
            .any(|o| matches!(o, EndpointOutput::Event(EndpointEvent::UnknownCall { .. }))),
        "{outputs:?}"
    );
    assert!(endpoint.call(&call_id).is_some());
}

#[test]
fn legacy_resource_only_notification_is_routed() {
    let t0 = Instant::now();
    let mut endpoint = Endpoint::new(CallConfig::default());
    let created = GraphCall {
        id: Some(CallId::new(JOIN_CALL)),
        state: Some(CallState::Establishing),
        ..GraphCall::default()
    };
    let call_id = endpoint.add_outgoing_call(t0, &created).unwrap();
    let mut body =
        fixture_json("call-create-join-meeting-service-hosted-notification-established.json");
    let item = body["value"][0].as_object_mut().unwrap();
    let url = item.remove("resourceUrl").unwrap();
    item.insert(
        "resource".into(),
        url.as_str()
            .unwrap()
            .replace("/communications/", "/app/")
            .into(),
    );
    endpoint.handle_notification(t0, notification_from(body));
    drain_endpoint(&mut endpoint);
    assert_eq!(
        endpoint.call(&call_id).unwrap().state(),
        &CallState::Established
    );
}

#[test]
fn notification_for_an_unknown_call_is_reported_and_dropped() {
    let t0 = Instant::now();
    let mut endpoint = Endpoint::new(CallConfig::default());
    endpoint.handle_notification(t0, notification("notification-call-established.json"));
    let outputs = drain_endpoint(&mut endpoint);
    assert!(matches!(
        outputs.as_slice(),
        [EndpointOutput::Event(EndpointEvent::UnknownCall { .. })]
    ));
    assert!(endpoint.is_empty());
}

#[test]
fn responses_are_routed_to_the_call_that_asked() {
    let t0 = Instant::now();
    let mut endpoint = Endpoint::new(CallConfig::default());
    for id in ["call-a", "call-b"] {
        let created = GraphCall {
            id: Some(CallId::new(id)),
            state: Some(CallState::Established),
            ..GraphCall::default()
        };
        endpoint.add_outgoing_call(t0, &created).unwrap();
    }
    let at = match endpoint.poll_output() {
        Some(EndpointOutput::Timeout(at)) => at,
        other => panic!("{other:?}"),
    };
    assert_eq!(at, t0 + 15 * MIN);
    endpoint.handle_timeout(at);
    let requests = endpoint_requests(&mut endpoint);
    assert_eq!(requests.len(), 2);
    assert_ne!(requests[0].id, requests[1].id);
    // Only call-b's keepAlive reports the call gone.
    let b = requests
        .iter()
        .find(|r| r.call_id == Some(CallId::new("call-b")))
        .unwrap();
    let a = requests
        .iter()
        .find(|r| r.call_id == Some(CallId::new("call-a")))
        .unwrap();
    endpoint.handle_response(at, b.id, Err(GraphFailure::status(404)));
    endpoint.handle_response(at, a.id, Ok(GraphReply::empty(200)));
    drain_endpoint(&mut endpoint);
    assert!(endpoint.call(&CallId::new("call-a")).is_some());
    assert!(endpoint.call(&CallId::new("call-b")).is_none());
}

#[test]
fn created_call_receives_notifications_that_overtook_its_response() {
    let t0 = Instant::now();
    let mut endpoint = Endpoint::new(CallConfig::default());
    let request = GraphCall::default();
    let create = endpoint.create_call(t0, request);
    let sent = endpoint_requests(&mut endpoint);
    assert!(matches!(sent[0].action, GraphAction::CreateCall(_)));
    assert_eq!(sent[0].call_id, None);
    // Graph's "established" arrives before the 201.
    endpoint.handle_notification(
        t0,
        notification("call-create-join-meeting-service-hosted-notification-established.json"),
    );
    assert!(drain_endpoint(&mut endpoint).is_empty());
    let created = graph_call("call-create-join-meeting-service-hosted-response.json");
    endpoint.handle_response(t0, create, Ok(GraphReply::call(created)));
    let outputs = drain_endpoint(&mut endpoint);
    let call_id = CallId::new(JOIN_CALL);
    assert_eq!(
        outputs.first(),
        Some(&EndpointOutput::Event(EndpointEvent::CallCreated {
            call_id: call_id.clone(),
            request_id: create,
        }))
    );
    assert_eq!(
        endpoint.call(&call_id).unwrap().state(),
        &CallState::Established
    );
}

#[test]
fn failed_create_is_reported() {
    let t0 = Instant::now();
    let mut endpoint = Endpoint::new(CallConfig::default());
    let create = endpoint.create_call(t0, GraphCall::default());
    drain_endpoint(&mut endpoint);
    let failure = GraphFailure::Status {
        status: 403,
        code: "7504".into(),
        message: "Insufficient enterprise tenant permissions, cannot access this API.".into(),
    };
    endpoint.handle_response(t0, create, Err(failure.clone()));
    assert_eq!(
        drain_endpoint(&mut endpoint),
        vec![EndpointOutput::Event(EndpointEvent::CreateFailed {
            request_id: create,
            failure,
        })]
    );
    assert!(endpoint.is_empty());
}

// ---- invariants under churn -----------------------------------------------------------------

/// Every documented notification, re-addressed to `call`, in file-name order.
fn all_notifications_for(call: &str) -> Vec<CommsNotification> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/graph-examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("notification") && n.ends_with(".json"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let mut body = fixture_json(&name);
        let Some(items) = body["value"].as_array_mut() else {
            continue;
        };
        for item in items.iter_mut() {
            for key in ["resourceUrl", "resource"] {
                if let Some(url) = item[key].as_str() {
                    let parsed = mediabot_signaling::models::ResourceRef::parse(url).unwrap();
                    item[key] = url.replacen(parsed.call_id.as_str(), call, 1).into();
                }
            }
        }
        let batch: CommsNotifications = serde_json::from_value(body).unwrap();
        out.extend(batch.value);
    }
    assert!(
        out.len() > 60,
        "expected the documented notifications, got {}",
        out.len()
    );
    out
}

#[test]
fn every_documented_notification_in_a_shuffled_run_keeps_the_invariants() {
    const CALL: &str = "c0ffee00-0000-4000-8000-000000000001";
    for seed in 1..=20u64 {
        let mut rng = seed;
        let mut next_random = move || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            rng >> 33
        };
        let mut notifications = all_notifications_for(CALL);
        for i in (1..notifications.len()).rev() {
            let j = (next_random() as usize) % (i + 1);
            notifications.swap(i, j);
        }
        let t0 = Instant::now();
        let mut now = t0;
        let mut call = established_call(t0, CALL);
        let mut ended = 0;
        for notification in notifications {
            now += Duration::from_secs(next_random() % 600);
            if let Some(at) = call.poll_timeout()
                && at <= now
            {
                call.handle_timeout(now);
            }
            call.handle_notification(now, notification).unwrap();
            loop {
                let out = drain(&mut call);
                ended += out
                    .events
                    .iter()
                    .filter(|e| matches!(e, CallEvent::CallEnded { .. }))
                    .count();
                if let Some(CallEvent::CallEnded { .. }) = out.events.last() {
                    assert!(call.is_ended());
                }
                if out.requests.is_empty() {
                    break;
                }
                for request in out.requests {
                    let result = match next_random() % 3 {
                        0 => Ok(GraphReply::empty(200)),
                        1 => Err(GraphFailure::status(503)),
                        _ => Ok(GraphReply::operation(operation(
                            "participant-invite-one-participant-response.json",
                        ))),
                    };
                    call.handle_response(now, request.id, result).unwrap();
                }
            }
            // After handling time `now`, nothing may be due at or before `now`.
            call.handle_timeout(now);
            drain(&mut call);
            assert!(
                call.poll_timeout().is_none_or(|at| at > now),
                "seed {seed}: deadline not in the future"
            );
        }
        assert!(ended <= 1, "seed {seed}: CallEnded {ended} times");
        // The documented set contains terminated notifications: every run ends the call.
        assert_eq!(ended, 1, "seed {seed}");
        assert_eq!(call.poll_output(), None);
    }
}
