//! End-to-end scenarios of the whole bot (HTTP server, signaling driver, media, recorder)
//! against the in-process simulator on loopback: real HTTP, real RS256 callbacks, real
//! DTLS-SRTP. Every wait is on an event, or a poll of state, with a deadline that fails the test.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mediabot_sim::{
    FaultKind, FaultRule, IncomingCall, MeetingSpec, ParticipantSpec, SimConfig, SimEvent,
    SimHandle, SimMediaConfig, SimMediaProcessor, Simulator, TimelineAction,
};
use tokio::sync::watch;

use crate::control::{CallStatus, JoinRequest};
use crate::demo::bot_config_for;
use crate::orchestrator::CallKey;
use crate::recorder::Progress;
use crate::runtime::App;

struct Rig {
    sim: SimHandle,
    media: SimMediaProcessor,
    app: App,
    out: std::path::PathBuf,
}

async fn rig(
    name: &str,
    config: SimConfig,
    tweak: impl FnOnce(&mut crate::config::BotConfig),
) -> Rig {
    crate::logging::init(crate::logging::LogFormat::Text);
    let out = std::env::temp_dir().join(format!("mediabot-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let media =
        SimMediaProcessor::new(tokio::runtime::Handle::current(), SimMediaConfig::default());
    let sim = Simulator::start_with_media(config, Arc::new(media.clone()))
        .await
        .expect("simulator starts");
    media.add_known_participants(
        sim.meetings()
            .into_iter()
            .flat_map(|m| m.participants)
            .map(|m| m.participant),
    );
    let mut bot = bot_config_for(&sim, &out);
    tweak(&mut bot);
    let app = App::start(bot).await.expect("bot starts");
    Rig {
        sim,
        media,
        app,
        out,
    }
}

async fn wait(
    status: &mut watch::Receiver<CallStatus>,
    what: &str,
    done: impl Fn(&CallStatus) -> bool,
) {
    wait_within(status, Duration::from_secs(15), what, done).await;
}

async fn wait_within(
    status: &mut watch::Receiver<CallStatus>,
    within: Duration,
    what: &str,
    done: impl Fn(&CallStatus) -> bool,
) {
    let reached = tokio::time::timeout(within, status.wait_for(|s| done(s)))
        .await
        .map(|r| r.is_ok());
    assert!(
        reached == Ok(true),
        "timed out waiting for {what}; last status {:?}",
        *status.borrow()
    );
}

/// Joins `join_url` and waits for media to connect.
async fn join_connected(rig: &Rig, join_url: String) -> crate::runtime::JoinTicket {
    let mut ticket = rig
        .app
        .join(JoinRequest { join_url })
        .await
        .expect("join accepted");
    wait(&mut ticket.status, "media", |s| {
        s.state == "media connected"
    })
    .await;
    ticket
}

/// State, not an event: looks every 50 ms until `check` holds, or fails the test after `within`.
async fn poll_until(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    let held = tokio::time::timeout(within, async {
        loop {
            poll.tick().await;
            if check() {
                return;
            }
        }
    })
    .await;
    assert!(held.is_ok(), "timed out waiting for {what}");
}

/// Frames with speech recorded so far, over every source of a call.
fn speaking_frames(progress: &Mutex<Progress>) -> u64 {
    progress
        .lock()
        .map(|p| p.sources.values().map(|s| s.speaking_frames).sum())
        .unwrap_or(0)
}

fn read_report(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("report written")).expect("report parses")
}

/// The report of a finished call, read from the path its status names.
fn report_of(status: &watch::Receiver<CallStatus>) -> (std::path::PathBuf, serde_json::Value) {
    let path = status.borrow().report.clone().expect("report path");
    let report = read_report(&path);
    (path, report)
}

async fn hang_up_and_report(
    rig: &Rig,
    status: &mut watch::Receiver<CallStatus>,
) -> serde_json::Value {
    let call_id = status.borrow().call_id.clone().expect("a call id");
    rig.app.hang_up(call_id).await.expect("hang-up accepted");
    wait(status, "the report", |s| s.ended && s.report.is_some()).await;
    report_of(status).1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_by_meeting_id_link_and_records_speakers() {
    let rig = rig("meet-id", SimConfig::default(), |_| {}).await;
    let meeting = rig.sim.meetings().remove(0);
    let ticket = rig
        .app
        .join(JoinRequest {
            join_url: meeting.short_join_url.clone(),
        })
        .await
        .expect("join accepted");
    let mut status = ticket.status;
    wait(&mut status, "media", |s| s.state == "media connected").await;
    // Wait for Alice's voice to be recorded (she speaks first in the default scenario).
    let progress = ticket.progress.clone();
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let frames = progress
                .lock()
                .map(|p| p.sources.values().map(|s| s.speaking_frames).sum::<u64>())
                .unwrap_or(0);
            if frames >= 50 {
                return;
            }
            status.changed().await.ok();
        }
    })
    .await;
    assert!(heard.is_ok(), "no speech recorded within 10 s");
    let report = hang_up_and_report(&rig, &mut status).await;
    let alice = report["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["displayName"] == "Alice")
        .cloned()
        .unwrap_or_else(|| panic!("Alice missing: {report:#}"));
    assert_eq!(alice["msi"], 1001);
    assert!(rig.out.join(alice["wav"].as_str().unwrap()).exists());
    assert_eq!(report["end"]["cause"], "Graph");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_create_call_is_retried_and_the_call_proceeds() {
    let rig = rig("throttle", SimConfig::default(), |_| {}).await;
    let mut events = rig.sim.subscribe();
    let mut rule = FaultRule::new(
        FaultKind::Throttle {
            retry_after_secs: 0.05,
        },
        1,
    );
    rule.method = Some("POST".into());
    rule.path_contains = Some("/communications/calls".into());
    rig.sim.inject_fault(rule);
    let meeting = rig.sim.meetings().remove(0);
    let mut status = join_connected(&rig, meeting.join_url).await.status;
    let mut saw_429 = false;
    while let Ok(event) = events.try_recv() {
        if let SimEvent::RequestServed { status: 429, .. } = event {
            saw_429 = true;
        }
    }
    assert!(saw_429, "the simulator throttled the create-call request");
    let report = hang_up_and_report(&rig, &mut status).await;
    assert!(!report["callId"].as_str().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_call_is_answered_with_media_in_time() {
    let rig = rig("incoming", SimConfig::default(), |_| {}).await;
    let callback = format!("http://{}/api/calling", rig.app.local_addr);
    let caller = ParticipantSpec::tone("dave", "Dave", 550.0);
    let call_id = rig
        .sim
        .place_incoming_call(IncomingCall::peer_to_peer(callback, caller))
        .expect("incoming call placed");
    let established = rig
        .sim
        .wait_for_call_state(
            &call_id,
            mediabot_signaling::models::CallState::Established,
            Duration::from_secs(15),
        )
        .await;
    assert!(established, "the bot answered before the deadline");
    let calls = rig.app.calls().await;
    let mine = calls
        .iter()
        .find(|c| c.call_id.as_deref() == Some(call_id.as_str()))
        .expect("the bot tracks the call");
    assert!(!mine.ended);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_keeps_the_call_past_the_inactivity_window() {
    let mut config = SimConfig::default();
    config.timings.keepalive_window = Duration::from_secs(3);
    let rig = rig("keepalive", config, |bot| bot.keep_alive_seconds = 1).await;
    let mut events = rig.sim.subscribe();
    let meeting = rig.sim.meetings().remove(0);
    let mut status = join_connected(&rig, meeting.join_url).await.status;
    // Count keepAlives until five have been served: that is past the 3 s window.
    let served = tokio::time::timeout(Duration::from_secs(15), async {
        let mut n = 0;
        while n < 5 {
            if let Ok(SimEvent::RequestServed { path, status, .. }) = events.recv().await
                && path.ends_with("/keepAlive")
                && status == 200
            {
                n += 1;
            }
        }
    })
    .await;
    assert!(served.is_ok(), "the bot sent keepAlives every second");
    assert!(
        !status.borrow().ended,
        "the call is still up: {:?}",
        *status.borrow()
    );
    let report = hang_up_and_report(&rig, &mut status).await;
    assert_eq!(report["end"]["cause"], "Graph");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_callback_is_rejected_and_the_call_state_is_untouched() {
    let rig = rig("forged", SimConfig::default(), |_| {}).await;
    let meeting = rig.sim.meetings().remove(0);
    let status = join_connected(&rig, meeting.join_url).await.status;
    // The next notification is signed with a key the JWKS does not publish.
    let mut events = rig.sim.subscribe();
    rig.sim
        .inject_fault(FaultRule::new(FaultKind::ForgedSignature, 1));
    rig.sim
        .participant_action(&meeting.key, "alice", TimelineAction::Mute)
        .expect("mute alice");
    let rejected = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(SimEvent::NotificationDelivered(record)) = events.recv().await
                && record.forged
                && matches!(
                    record.outcome,
                    mediabot_sim::DeliveryOutcome::Rejected { status: 401 }
                )
            {
                return;
            }
        }
    })
    .await;
    assert!(
        rejected.is_ok(),
        "the bot answered the forged callback with 401"
    );
    assert!(!status.borrow().ended);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_speaks_and_the_meeting_hears_it() {
    let rig = rig("speak", SimConfig::default(), |_| {}).await;
    let meeting = rig.sim.meetings().remove(0);
    let status = join_connected(&rig, meeting.join_url).await.status;
    let call_id = status.borrow().call_id.clone().expect("call id");
    rig.app
        .speak(
            call_id.clone(),
            crate::control::SpeakRequest {
                tone_hz: Some(1_000.0),
                seconds: 3.0,
                wav: None,
                clear: false,
            },
        )
        .await
        .expect("speak accepted");
    let call = mediabot_signaling::models::CallId::new(call_id);
    let alice = meeting
        .participants
        .iter()
        .find(|m| m.participant.key == "alice")
        .expect("alice")
        .participant
        .id
        .clone();
    // What a participant heard is state, not an event: look at it every 50 ms until it holds
    // or the deadline fails the test.
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            poll.tick().await;
            if rig
                .media
                .heard(&call, &alice)
                .is_some_and(|h| h.seconds >= 1.5)
            {
                return;
            }
        }
    })
    .await;
    let report = rig.media.heard(&call, &alice);
    assert!(heard.is_ok(), "alice heard the bot: {report:?}");
    let report = report.expect("a heard report");
    assert!(
        report
            .dominant_hz
            .is_some_and(|hz| (hz - 1_000.0).abs() <= 3.0),
        "alice heard the bot's tone: {report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whisper_reaches_only_its_receiver_and_removing_it_restores_the_mix() {
    use crate::control::RouteSpec;
    use crate::control::{RouteOp, SpeakRequest};

    let rig = rig("whisper", SimConfig::default(), |_| {}).await;
    let meeting = rig.sim.meetings().remove(0);
    let id_of = |key: &str| {
        meeting
            .participants
            .iter()
            .find(|m| m.participant.key == key)
            .expect("scenario participant")
            .participant
            .id
            .clone()
    };
    let (alice, bob) = (id_of("alice"), id_of("bob"));
    let mut status = join_connected(&rig, meeting.join_url.clone()).await.status;
    wait(&mut status, "Bob to join", |s| {
        s.participants.iter().any(|p| p == "Bob")
    })
    .await;
    let call_id = status.borrow().call_id.clone().expect("call id");
    let call = mediabot_signaling::models::CallId::new(call_id.clone());

    // State, not events: look every 50 ms until the condition holds or the deadline fails it.
    async fn until(what: &str, mut check: impl FnMut() -> bool) {
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        let ok = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                poll.tick().await;
                if check() {
                    return;
                }
            }
        })
        .await;
        assert!(ok.is_ok(), "timed out waiting for {what}");
    }
    let heard = |who| {
        rig.media
            .heard(&call, who)
            .map_or(0.0, |h: mediabot_sim::HeardReport| h.seconds)
    };

    let tone = |seconds| SpeakRequest {
        tone_hz: Some(1_000.0),
        seconds,
        wav: None,
        clear: false,
    };
    let (alice_before, bob_before) = (heard(&alice), heard(&bob));
    // Graph is slow to create the group (503, retry after 0.5 s): a window in which audio sent
    // without waiting for the route would reach everyone through the default mix.
    let mut slow = FaultRule::new(
        FaultKind::ServerError {
            status: 503,
            retry_after_secs: Some(0.5),
        },
        1,
    );
    slow.method = Some("POST".into());
    slow.path_contains = Some("audioRoutingGroups".into());
    rig.sim.inject_fault(slow);
    rig.app
        .routes(
            call_id.clone(),
            RouteOp::Upsert(
                "whisper-alice".into(),
                RouteSpec::Whisper {
                    to: alice.as_str().to_string(),
                },
            ),
        )
        .await
        .expect("route accepted");
    // Speak at once, before Graph has the group: the send gate holds the audio back until the
    // route is live, so nothing leaks into the default mix meanwhile.
    rig.app
        .speak(call_id.clone(), tone(2.0))
        .await
        .expect("speak");
    until("the whisper group at Graph", || {
        rig.sim
            .call(&call)
            .is_some_and(|c| c.routing_groups.len() == 1)
    })
    .await;
    let group = rig.sim.call(&call).unwrap().routing_groups.remove(0);
    assert_eq!(group.receivers, vec![alice.clone()]);
    until("Alice to hear the whisper", || {
        heard(&alice) >= alice_before + 1.0
    })
    .await;
    assert_eq!(heard(&bob), bob_before, "Bob heard nothing of the whisper");
    let alice_heard = rig.media.heard(&call, &alice).expect("report");
    assert!(
        alice_heard
            .dominant_hz
            .is_some_and(|hz| (hz - 1_000.0).abs() <= 3.0),
        "{alice_heard:?}"
    );

    rig.app
        .routes(call_id.clone(), RouteOp::Remove("whisper-alice".into()))
        .await
        .expect("route removed");
    until("the group to be deleted", || {
        rig.sim
            .call(&call)
            .is_some_and(|c| c.routing_groups.is_empty())
    })
    .await;
    let bob_before = heard(&bob);
    rig.app.speak(call_id, tone(2.0)).await.expect("speak");
    until("Bob to hear the bot again", || {
        heard(&bob) >= bob_before + 1.5
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_audio_thread_fails_that_call_only() {
    // Call key 1's audio thread panics as it starts; a folder per call keeps the two apart.
    let rig = rig("audio-panic", SimConfig::default(), |bot| {
        bot.fault_audio_panic_calls = vec![1];
        bot.single_call_dir = false;
    })
    .await;
    // The surviving call goes to a meeting where Dana talks without pause, so there is always
    // speech for it to record, whenever the failed call happens to end.
    let talk = rig
        .sim
        .add_meeting(
            MeetingSpec::new("talk")
                .with_participant(ParticipantSpec::tone("dana", "Dana", 500.0))
                .at(0, "dana", TimelineAction::SpeakStart),
        )
        .expect("meeting added");
    rig.media
        .add_known_participants(talk.participants.iter().map(|m| m.participant.clone()));
    let standup = rig.sim.meetings().remove(0);

    let doomed = rig
        .app
        .join(JoinRequest {
            join_url: standup.join_url,
        })
        .await
        .expect("join accepted");
    assert_eq!(doomed.key, CallKey(1), "the first join is call key 1");
    let survivor = join_connected(&rig, talk.join_url).await;

    let mut doomed_status = doomed.status;
    wait(&mut doomed_status, "the panicked call's report", |s| {
        s.ended && s.report.is_some()
    })
    .await;
    let failed = doomed_status.borrow().clone();
    assert_eq!(failed.state, "failed", "{failed:?}");
    let failure = failed.failure.clone().unwrap_or_default();
    assert!(
        failure.contains("panicked") && failure.contains("injected fault"),
        "the failure names the panic: {failed:?}"
    );
    let (_, report) = report_of(&doomed_status);
    let media_failure = report["mediaFailure"].as_str().unwrap_or_default();
    assert!(
        media_failure.contains("panicked") && media_failure.contains("injected fault"),
        "report.json names the panic: {report:#}"
    );
    assert!(
        report["drops"].is_object(),
        "report.json counts drops: {report:#}"
    );

    // The other call did not notice: it is still up and its recording still grows.
    let mut status = survivor.status;
    assert_eq!(
        status.borrow().state,
        "media connected",
        "{:?}",
        *status.borrow()
    );
    let before = speaking_frames(&survivor.progress);
    poll_until(
        "the surviving call to record another second of speech",
        Duration::from_secs(10),
        || speaking_frames(&survivor.progress) >= before + 50,
    )
    .await;
    let report = hang_up_and_report(&rig, &mut status).await;
    assert_eq!(report["end"]["cause"], "Graph", "{report:#}");
    assert!(report["mediaFailure"].is_null(), "{report:#}");
    assert_eq!(status.borrow().state, "terminated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_create_is_removed_and_reported() {
    // One call at most: the failed call must stop counting, or the second join is refused.
    let rig = rig("create-403", SimConfig::default(), |bot| {
        bot.max_calls = 1;
        bot.single_call_dir = false;
    })
    .await;
    rig.sim.inject_fault(
        FaultRule::new(FaultKind::Forbidden7504, 1)
            .on_method("POST")
            .on_path("/communications/calls"),
    );
    let meeting = rig.sim.meetings().remove(0);
    let refused = rig
        .app
        .join(JoinRequest {
            join_url: meeting.join_url.clone(),
        })
        .await
        .expect("join accepted (Graph refuses it later)");
    let key = refused.key;
    let mut status = refused.status;
    wait(&mut status, "the refused call's report", |s| {
        s.ended && s.report.is_some()
    })
    .await;
    let (_, report) = report_of(&status);
    assert_eq!(report["end"]["cause"], "CreateFailed", "{report:#}");
    assert_eq!(report["end"]["code"], 403, "{report:#}");
    assert_eq!(
        report["callId"], "",
        "Graph never named the call: {report:#}"
    );

    let calls = rig.app.calls().await;
    let listed: Vec<&CallStatus> = calls.iter().filter(|c| c.key == key.0).collect();
    assert_eq!(listed.len(), 1, "listed once: {calls:?}");
    assert!(
        listed[0].ended,
        "listed as ended, not live: {:?}",
        listed[0]
    );
    assert!(listed[0].call_id.is_none(), "{:?}", listed[0]);
    assert_eq!(listed[0].state, "failed", "{:?}", listed[0]);
    assert_eq!(listed[0].end_cause.as_deref(), Some("CreateFailed"));

    // Its slot is free again.
    let mut next = join_connected(&rig, meeting.join_url).await.status;
    let report = hang_up_and_report(&rig, &mut next).await;
    assert_eq!(report["end"]["cause"], "Graph", "{report:#}");
}

/// Min, median and max of `values`, in milliseconds.
fn spread(values: &mut [f64]) -> String {
    if values.is_empty() {
        return "n/a".into();
    }
    values.sort_by(f64::total_cmp);
    format!(
        "min {:.0} ms, median {:.0} ms, max {:.0} ms (n = {})",
        values[0],
        values[values.len() / 2],
        values[values.len() - 1],
        values.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_joins_at_once_all_reach_media_connected() {
    const JOINS: usize = 20;
    // Generous: a debug build on two cores sets up 20 ICE/DTLS sessions on each side at once.
    const CONNECT_WITHIN: Duration = Duration::from_secs(120);
    let rig = rig("twenty", SimConfig::default(), |bot| {
        bot.single_call_dir = false;
    })
    .await;
    let meeting = rig.sim.meetings().remove(0);
    let mut joins = tokio::task::JoinSet::new();
    for _ in 0..JOINS {
        let app = rig.app.clone();
        let join_url = meeting.join_url.clone();
        joins.spawn(async move {
            let asked = Instant::now();
            let mut ticket = app
                .join(JoinRequest { join_url })
                .await
                .expect("join accepted");
            wait_within(&mut ticket.status, CONNECT_WITHIN, "media", |s| {
                s.state == "media connected"
            })
            .await;
            (ticket, asked.elapsed())
        });
    }
    let mut tickets = Vec::with_capacity(JOINS);
    let mut connected_ms = Vec::with_capacity(JOINS);
    while let Some(joined) = joins.join_next().await {
        let (ticket, took) = joined.expect("a join task panicked");
        connected_ms.push(took.as_secs_f64() * 1_000.0);
        tickets.push(ticket);
    }
    assert_eq!(tickets.len(), JOINS);

    let confirmed = rig.app.shutdown(Duration::from_secs(10)).await;
    let mut report_connected_ms = Vec::new();
    let mut first_audio_ms = Vec::new();
    let mut causes = std::collections::BTreeMap::<String, usize>::new();
    for ticket in &tickets {
        let status = ticket.status.borrow().clone();
        assert!(status.ended, "shutdown finished every call: {status:?}");
        let path = status
            .report
            .unwrap_or_else(|| panic!("call {} has no report", ticket.key));
        let report = read_report(&path);
        report_connected_ms.extend(report["mediaConnectedMs"].as_f64());
        first_audio_ms.extend(report["joinLatencyMs"].as_f64());
        *causes
            .entry(report["end"]["cause"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    println!(
        "{JOINS} concurrent joins to one meeting (Graph confirmed every hang-up: {confirmed}, end causes {causes:?})"
    );
    println!(
        "  join -> media connected, seen by the caller: {}",
        spread(&mut connected_ms)
    );
    println!(
        "  join -> media connected, report.json:        {}",
        spread(&mut report_connected_ms)
    );
    println!(
        "  join -> first audio, report.json:            {}",
        spread(&mut first_audio_ms)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_graph_unreachable_finalises_every_recording() {
    let rig = rig("graph-gone", SimConfig::default(), |_| {}).await;
    let meeting = rig.sim.meetings().remove(0);
    let ticket = join_connected(&rig, meeting.join_url).await;
    poll_until("some recorded speech", Duration::from_secs(10), || {
        speaking_frames(&ticket.progress) >= 25
    })
    .await;

    // Graph goes away: hang-ups can no longer be confirmed.
    let Rig { sim, app, .. } = rig;
    sim.shutdown();
    let grace = Duration::from_secs(2);
    let confirmed = tokio::time::timeout(grace + Duration::from_secs(25), app.shutdown(grace))
        .await
        .expect("shutdown returns within grace + 25 s");
    assert!(!confirmed, "nobody could confirm the hang-up");

    let status = ticket.status;
    assert!(status.borrow().ended, "{:?}", *status.borrow());
    let (path, report) = report_of(&status);
    assert_eq!(report["end"]["cause"], "Shutdown", "{report:#}");
    let dir = path.parent().expect("the report is in the call's folder");
    let mut wavs: Vec<String> = report["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| p["wav"].as_str().expect("a wav name").to_string())
        .collect();
    assert!(!wavs.is_empty(), "something was recorded: {report:#}");
    wavs.extend(report["mixedWav"].as_str().map(str::to_string));
    for wav in wavs {
        let mut reader = hound::WavReader::open(dir.join(&wav))
            .unwrap_or_else(|e| panic!("{wav} is a WAV file: {e}"));
        assert_eq!(reader.spec().bits_per_sample, 16, "{wav}");
        assert!(reader.len() > 0, "{wav} holds audio");
        let samples = reader.samples::<i16>().collect::<Result<Vec<_>, _>>();
        let samples = samples.unwrap_or_else(|e| panic!("{wav} reads to its end: {e}"));
        assert_eq!(samples.len(), reader.len() as usize, "{wav}");
    }
}
