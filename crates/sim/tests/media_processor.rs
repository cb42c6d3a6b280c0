//! The simulated media processor against a bot made of mediabot-media's own `MediaSession`: the
//! bot offers, a tiny HTTP endpoint at its `mpUri` takes the processor's answer, and audio flows
//! both ways over ICE + DTLS-SRTP on loopback. Every wait is bounded and fails the test.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use mediabot_media::analysis::{dominant_frequency, power_at};
use mediabot_media::frame::{FrameFlags, PcmFrame};
use mediabot_media::send::SendConfig;
use mediabot_media::session::blob::parse_answer;
use mediabot_media::session::{MediaSession, MediaSessionConfig};
use mediabot_media::transport::TransportConfig;
use mediabot_signaling::models::{
    AudioRoutingGroup, CallId, IdentitySet, Msi, ParticipantId, RoutingMode,
};
use mediabot_sim::media::{MIXED_SSRC, MediaStatus, SimMediaConfig, StreamLayout, ssrc_for_msi};
use mediabot_sim::{AudioSource, MediaAttach, MediaProcessor, SimMediaProcessor, SimParticipant};
use tokio::sync::mpsc;

const BOT_SSRC: u32 = 0x0b07_0001;
const WAIT: Duration = Duration::from_secs(15);

struct Person {
    key: &'static str,
    msi: u32,
    hz: f64,
}

const ALICE: Person = Person {
    key: "alice",
    msi: 1_652,
    hz: 440.0,
};
const BOB: Person = Person {
    key: "bob",
    msi: 2_472,
    hz: 660.0,
};
const CAROL: Person = Person {
    key: "carol",
    msi: 3_001,
    hz: 880.0,
};

fn pid(key: &str) -> ParticipantId {
    ParticipantId::new(format!("p-{key}"))
}

fn participant(person: &Person) -> SimParticipant {
    SimParticipant {
        id: pid(person.key),
        key: person.key.into(),
        display_name: person.key.into(),
        identity: IdentitySet::default(),
        msi: Msi(person.msi),
        audio: AudioSource::Tone {
            hz: person.hz,
            amplitude: 0.2,
        },
        muted: false,
        crowd: false,
    }
}

/// Crowd member `n` as the simulator generates it: silent, flagged, its own MSI.
fn crowd_member(n: u32) -> SimParticipant {
    SimParticipant {
        id: pid(&format!("attendee-{n:04}")),
        key: format!("attendee-{n:04}"),
        display_name: format!("Attendee {n:04}"),
        identity: IdentitySet::default(),
        msi: Msi(10_000 + 2 * n),
        audio: AudioSource::Silence,
        muted: false,
        crowd: true,
    }
}

fn bot_id() -> ParticipantId {
    ParticipantId::new("p-bot")
}

/// The bot: a media session that offered, and the answers its `mpUri` endpoint received.
struct Bot {
    session: MediaSession,
    blob: String,
    answers: mpsc::UnboundedReceiver<String>,
}

/// Serves `POST /media/v1/answer` per docs/media-blob.md (415 unless JSON, 204 otherwise).
async fn answer_endpoint() -> (String, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    async fn take(
        State(tx): State<mpsc::UnboundedSender<String>>,
        headers: HeaderMap,
        body: String,
    ) -> StatusCode {
        if headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            != Some("application/json")
        {
            return StatusCode::UNSUPPORTED_MEDIA_TYPE;
        }
        let _ = tx.send(body);
        StatusCode::NO_CONTENT
    }
    let app = Router::new()
        .route("/media/v1/answer", post(take))
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://127.0.0.1:{port}/media/v1/answer"), rx)
}

async fn bot_at(mp_uri: &str, answers: mpsc::UnboundedReceiver<String>) -> Bot {
    let config = MediaSessionConfig {
        transport: TransportConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ice_check_interval: Some(Duration::from_millis(20)),
            ..TransportConfig::default()
        },
        send_streams: vec![(
            SendConfig {
                ssrc: BOT_SSRC,
                queue_ms: 40_000,
                ..SendConfig::default()
            },
            None,
        )],
        ..MediaSessionConfig::default()
    };
    let (session, blob) = MediaSession::offer(config, mp_uri).await.unwrap();
    Bot {
        session,
        blob: blob.to_blob_string(),
        answers,
    }
}

async fn bot() -> Bot {
    let (mp_uri, answers) = answer_endpoint().await;
    bot_at(&mp_uri, answers).await
}

fn attach_for(call: &CallId, bot: &Bot, people: &[&Person]) -> MediaAttach {
    MediaAttach {
        call_id: call.clone(),
        blob: bot.blob.clone(),
        bot_participant_id: bot_id(),
        bot_msi: Msi(7),
        participants: people.iter().map(|p| participant(p)).collect(),
        routing_groups: Vec::new(),
    }
}

/// Attaches, takes the answer the processor POSTed, and waits until both sides are connected.
async fn connect(processor: &SimMediaProcessor, call: &CallId, bot: &mut Bot, people: &[&Person]) {
    let attach = attach_for(call, bot, people);
    connect_attach(processor, call, bot, attach).await;
}

/// [`connect`] with a prepared attach.
async fn connect_attach(
    processor: &SimMediaProcessor,
    call: &CallId,
    bot: &mut Bot,
    attach: MediaAttach,
) {
    processor.attach(&attach).unwrap();
    let answer = tokio::time::timeout(WAIT, bot.answers.recv())
        .await
        .expect("the processor POSTs its answer to mpUri")
        .unwrap();
    let answer = parse_answer(&answer).expect("a valid answer");
    bot.session
        .accept_answer(&answer)
        .await
        .expect("bot connected");
    let status = processor
        .wait_status(call, WAIT, |s| *s != MediaStatus::Negotiating)
        .await;
    assert_eq!(status, Some(MediaStatus::Connected));
}

fn processor() -> SimMediaProcessor {
    SimMediaProcessor::new(tokio::runtime::Handle::current(), SimMediaConfig::default())
}

/// Reads the bot's decoded frames (per source, not the bot's own mix, not concealment) until
/// `enough` says so; fails after [`WAIT`].
async fn collect_at_bot(
    bot: &Bot,
    enough: impl Fn(&HashMap<u32, Vec<PcmFrame>>) -> bool + Send + 'static,
) -> HashMap<u32, Vec<PcmFrame>> {
    let frames = bot.session.audio().frames();
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + WAIT;
        let mut by_ssrc: HashMap<u32, Vec<PcmFrame>> = HashMap::new();
        while !enough(&by_ssrc) {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = frames
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("bot frames timed out; so far {:?}", counts(&by_ssrc)));
            if frame.flags.contains(FrameFlags::MIXED)
                || frame.flags.contains(FrameFlags::CONCEALED)
            {
                continue;
            }
            by_ssrc.entry(frame.ssrc).or_default().push(frame);
        }
        by_ssrc
    })
    .await
    .unwrap()
}

fn counts(by_ssrc: &HashMap<u32, Vec<PcmFrame>>) -> Vec<(u32, usize)> {
    by_ssrc.iter().map(|(k, v)| (*k, v.len())).collect()
}

fn pcm(frames: &[PcmFrame]) -> Vec<i16> {
    frames.iter().flat_map(|f| f.samples().to_vec()).collect()
}

fn tone(hz: f64, seconds: f64) -> Vec<i16> {
    (0..(48_000.0 * seconds) as usize)
        .map(|i| (6_000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 48_000.0).sin()) as i16)
        .collect()
}

/// Polls `check` every 20 ms until it holds; fails after [`WAIT`] with `what`.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        ticker.tick().await;
    }
}

async fn detach_and_wait_closed(processor: &SimMediaProcessor, call: &CallId) {
    processor.detach(call);
    assert_eq!(
        processor
            .wait_status(call, WAIT, MediaStatus::is_final)
            .await,
        Some(MediaStatus::Closed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_speaker_reaches_the_bot_on_its_own_stream_tagged_with_its_msi() {
    let processor = processor();
    let call = CallId::new("call-speakers");
    let mut bot = bot().await;
    connect(&processor, &call, &mut bot, &[&ALICE, &BOB, &CAROL]).await;
    let report = processor.report(&call).unwrap();
    assert_eq!(report.layout, Some(StreamLayout::Unmixed));
    let ssrcs: Vec<u32> = [&ALICE, &BOB, &CAROL]
        .iter()
        .map(|p| ssrc_for_msi(Msi(p.msi)))
        .collect();
    let planned: Vec<(u32, Option<Msi>)> = report.streams.iter().map(|s| (s.ssrc, s.msi)).collect();
    assert_eq!(
        planned,
        vec![
            (ssrcs[0], Some(Msi(ALICE.msi))),
            (ssrcs[1], Some(Msi(BOB.msi))),
            (ssrcs[2], Some(Msi(CAROL.msi)))
        ]
    );

    for person in [&ALICE, &BOB, &CAROL] {
        processor.participant_speaking(&call, &pid(person.key), true);
    }
    let wanted = ssrcs.clone();
    let got = collect_at_bot(&bot, move |m| {
        wanted
            .iter()
            .all(|s| m.get(s).is_some_and(|v| v.len() >= 110))
    })
    .await;
    for (person, ssrc) in [&ALICE, &BOB, &CAROL].iter().zip(ssrcs) {
        let frames = &got[&ssrc][10..];
        assert!(
            frames.iter().all(|f| f.msi == Some(person.msi)),
            "{}: the answer's plan tags the stream with the MSI",
            person.key
        );
        let f = dominant_frequency(&pcm(frames), 16_000, 50.0, 4_000.0);
        assert!((f - person.hz).abs() <= 2.0, "{}: {f} Hz", person.key);
        assert!(processor.sent_frames(&call, &pid(person.key)).unwrap() >= 100);
    }
    detach_and_wait_closed(&processor, &call).await;
    let _ = bot.session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mixed_layout_carries_every_speaker_in_one_untagged_stream() {
    let processor = SimMediaProcessor::new(
        tokio::runtime::Handle::current(),
        SimMediaConfig {
            layout: StreamLayout::Mixed,
            ..SimMediaConfig::default()
        },
    );
    let call = CallId::new("call-mixed");
    let mut bot = bot().await;
    connect(&processor, &call, &mut bot, &[&ALICE, &BOB, &CAROL]).await;
    assert_eq!(
        processor.report(&call).unwrap().layout,
        Some(StreamLayout::Mixed)
    );
    for person in [&ALICE, &BOB, &CAROL] {
        processor.participant_speaking(&call, &pid(person.key), true);
    }
    let got = collect_at_bot(&bot, |m| m.get(&MIXED_SSRC).is_some_and(|v| v.len() >= 110)).await;
    assert_eq!(got.len(), 1, "one stream: {:?}", counts(&got));
    let frames = &got[&MIXED_SSRC][10..];
    assert!(frames.iter().all(|f| f.msi.is_none()), "the mix has no MSI");
    let mix = pcm(frames);
    let noise = [550.0, 770.0, 1_000.0]
        .iter()
        .map(|&f| power_at(&mix, 16_000, f))
        .fold(0.0, f64::max);
    for person in [&ALICE, &BOB, &CAROL] {
        let p = power_at(&mix, 16_000, person.hz);
        assert!(p > 100.0 * noise, "{}: {p} vs {noise}", person.key);
    }
    detach_and_wait_closed(&processor, &call).await;
    let _ = bot.session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muted_silent_and_unrouted_participants_send_nothing() {
    let processor = processor();
    let call = CallId::new("call-mute");
    let mut bot = bot().await;
    connect(&processor, &call, &mut bot, &[&ALICE, &BOB, &CAROL]).await;
    // bob is muted and speaks; carol is silent; alice speaks.
    processor.participant_muted(&call, &pid("bob"), true);
    processor.participant_speaking(&call, &pid("bob"), true);
    processor.participant_speaking(&call, &pid("alice"), true);
    let report = processor.report(&call).unwrap();
    let got = collect_at_bot(&bot, |m| m.values().map(Vec::len).sum::<usize>() >= 110).await;
    let frames: Vec<PcmFrame> = got.values().flatten().skip(10).cloned().collect();
    let heard = pcm(&frames);
    let f = dominant_frequency(&heard, 16_000, 50.0, 4_000.0);
    assert!((f - ALICE.hz).abs() <= 2.0, "{f} Hz");
    for other in [&BOB, &CAROL] {
        assert!(
            power_at(&heard, 16_000, other.hz) * 1_000.0 < power_at(&heard, 16_000, ALICE.hz),
            "{} is not in what the bot gets",
            other.key
        );
        assert_eq!(processor.sent_frames(&call, &pid(other.key)), Some(0));
    }
    if report.layout == Some(StreamLayout::Unmixed) {
        assert!(!got.contains_key(&ssrc_for_msi(Msi(BOB.msi))));
    }

    // The bot listens to alice only (a group alice → bot): carol speaking is not sent to it.
    processor.routing_changed(
        &call,
        &[AudioRoutingGroup {
            routing_mode: Some(RoutingMode::OneToOne),
            sources: vec![pid("alice")],
            receivers: vec![bot_id()],
            ..AudioRoutingGroup::default()
        }],
    );
    processor.participant_speaking(&call, &pid("carol"), true);
    let alice_before = processor.sent_frames(&call, &pid("alice")).unwrap();
    until("alice's feed to move on", || {
        processor.sent_frames(&call, &pid("alice")).unwrap() >= alice_before + 25
    })
    .await;
    assert_eq!(processor.sent_frames(&call, &pid("carol")), Some(0));

    processor.participant_speaking(&call, &pid("alice"), false);
    processor.detach(&call);
    assert_eq!(
        processor
            .wait_status(&call, WAIT, MediaStatus::is_final)
            .await,
        Some(MediaStatus::Closed)
    );
    // Idle streams sent no packets: every packet carried audio.
    let report = processor.report(&call).unwrap();
    for stream in &report.streams {
        assert_eq!(stream.packets, stream.audio_frames, "{stream:?}");
    }
    let _ = bot.session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_hears_the_bot_until_it_whispers_to_alice() {
    let processor = processor();
    let call = CallId::new("call-whisper");
    let mut bot = bot().await;
    connect(&processor, &call, &mut bot, &[&ALICE, &BOB, &CAROL]).await;
    bot.session
        .outbound(0)
        .unwrap()
        .push_pcm(&tone(1_000.0, 30.0), 48_000, 1)
        .unwrap();
    let heard = |key: &str| processor.heard(&call, &pid(key)).unwrap();
    until("everyone to hear 1 s of the bot", || {
        ["alice", "bob", "carol"]
            .iter()
            .all(|k| heard(k).seconds >= 1.0)
    })
    .await;
    for key in ["alice", "bob", "carol"] {
        let report = heard(key);
        let hz = report.dominant_hz.unwrap();
        assert!((hz - 1_000.0).abs() <= 2.0, "{key}: {hz} Hz");
        assert!(report.rms > 2_000.0, "{key}: {report:?}");
    }

    processor.routing_changed(
        &call,
        &[AudioRoutingGroup {
            routing_mode: Some(RoutingMode::OneToOne),
            sources: vec![bot_id()],
            receivers: vec![pid("alice")],
            ..AudioRoutingGroup::default()
        }],
    );
    let (bob, carol, alice) = (heard("bob"), heard("carol"), heard("alice"));
    until("alice to hear 1 s more", || {
        heard("alice").seconds >= alice.seconds + 1.0
    })
    .await;
    assert_eq!(heard("bob").seconds, bob.seconds, "bob hears no more");
    assert_eq!(heard("carol").seconds, carol.seconds, "carol hears no more");
    assert_eq!(heard("bob").routed_seconds, bob.routed_seconds);
    let record = processor.heard_samples(&call, &pid("alice")).unwrap();
    assert!(record.len() >= 32_000, "{}", record.len());

    // Deleting the group restores the default: bob hears the bot again.
    processor.routing_changed(&call, &[]);
    until("bob to hear the bot again", || {
        heard("bob").seconds >= bob.seconds + 0.5
    })
    .await;

    processor.detach(&call);
    assert_eq!(
        processor
            .wait_status(&call, WAIT, MediaStatus::is_final)
            .await,
        Some(MediaStatus::Closed)
    );
    let report = processor.report(&call).unwrap();
    // The waits above guarantee 1 s + 1 s + 0.5 s of the bot's audio: 125 frames at least
    // (how many more arrived depends on the machine's load, so only the floor is asserted).
    assert!(report.bot_frames >= 125, "{}", report.bot_frames);
    assert!(
        report.transport.rtp_received >= 125,
        "{:?}",
        report.transport
    );
    println!(
        "processor transport: {} RTP received, {} SRTP-range datagrams without a packet (e.g. before keys), setup {:?} µs",
        report.transport.rtp_received, report.transport.srtp_rejected, report.transport.setup_us
    );
    let _ = bot.session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_gets_no_streams_and_only_counts_what_it_hears() {
    let processor = processor();
    let call = CallId::new("call-crowd");
    let mut bot = bot().await;
    let mut attach = attach_for(&call, &bot, &[&ALICE]);
    attach.participants.extend((1..=1200).map(crowd_member));
    connect_attach(&processor, &call, &mut bot, attach).await;
    let report = processor.report(&call).unwrap();
    assert_eq!(report.participants.len(), 1201);
    assert_eq!(report.layout, Some(StreamLayout::Unmixed));
    let planned: Vec<Option<Msi>> = report.streams.iter().map(|s| s.msi).collect();
    assert_eq!(planned, [Some(Msi(ALICE.msi))], "a stream for alice only");

    bot.session
        .outbound(0)
        .unwrap()
        .push_pcm(&tone(1_000.0, 30.0), 48_000, 1)
        .unwrap();
    let heard = |id: &ParticipantId| processor.heard(&call, id).unwrap();
    let (first, last) = (pid("attendee-0001"), pid("attendee-1200"));
    until("alice and the whole crowd to hear 1 s of the bot", || {
        heard(&pid("alice")).seconds >= 1.0
            && heard(&first).seconds >= 1.0
            && heard(&last).seconds >= 1.0
    })
    .await;
    let alice = heard(&pid("alice"));
    let hz = alice.dominant_hz.unwrap();
    assert!((hz - 1_000.0).abs() <= 2.0, "alice: {hz} Hz");
    assert!(
        !processor
            .heard_samples(&call, &pid("alice"))
            .unwrap()
            .is_empty()
    );
    // The crowd's hearing is counted (time and level) but not recorded.
    let crowd = heard(&last);
    assert!(crowd.rms > 2_000.0, "{crowd:?}");
    assert_eq!(crowd.dominant_hz, None);
    assert_eq!(processor.heard_samples(&call, &last), Some(Vec::new()));
    assert_eq!(processor.sent_frames(&call, &first), Some(0));
    detach_and_wait_closed(&processor, &call).await;
    let _ = bot.session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_that_does_not_parse_is_refused_with_the_parser_error() {
    let processor = processor();
    let call = CallId::new("call-bad-blob");
    let bot = bot().await;
    let mut attach = attach_for(&call, &bot, &[&ALICE]);
    attach.blob = attach
        .blob
        .replace("\"mediabotBlobVersion\":1", "\"mediabotBlobVersion\":9");
    let expected = mediabot_media::session::blob::parse_blob(&attach.blob)
        .unwrap_err()
        .to_string();
    let refused = processor.attach(&attach).unwrap_err();
    assert_eq!(refused.reason, expected);
    assert!(refused.reason.contains('9'), "{}", refused.reason);
    assert_eq!(processor.status(&call), None, "nothing was set up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mp_uri_nobody_serves_fails_the_media_after_a_few_attempts() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (_tx, answers) = mpsc::unbounded_channel();
    let bot = bot_at(&format!("http://127.0.0.1:{port}/media/v1/answer"), answers).await;
    let processor = SimMediaProcessor::new(
        tokio::runtime::Handle::current(),
        SimMediaConfig {
            answer_attempts: 3,
            answer_retry_interval: Duration::from_millis(10),
            ..SimMediaConfig::default()
        },
    );
    let call = CallId::new("call-no-endpoint");
    processor
        .attach(&attach_for(&call, &bot, &[&ALICE]))
        .unwrap();
    let status = processor
        .wait_status(&call, WAIT, MediaStatus::is_final)
        .await;
    match status {
        Some(MediaStatus::Failed(reason)) => {
            assert!(reason.contains("unreachable after 3 attempts"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_who_joins_later_is_sent_until_they_leave() {
    // bob is known up front (the scenario's participant) but not present at attach.
    let processor = SimMediaProcessor::new(
        tokio::runtime::Handle::current(),
        SimMediaConfig {
            participants: vec![participant(&BOB)],
            ..SimMediaConfig::default()
        },
    );
    let call = CallId::new("call-join");
    let mut bot = bot().await;
    connect(&processor, &call, &mut bot, &[&ALICE]).await;
    // bob joins and speaks.
    processor.participant_joined(&call, &participant(&BOB));
    processor.participant_speaking(&call, &pid("bob"), true);
    let report = processor.report(&call).unwrap();
    let bob_ssrc = match report.layout {
        Some(StreamLayout::Mixed) => MIXED_SSRC,
        _ => ssrc_for_msi(Msi(BOB.msi)),
    };
    let got = collect_at_bot(&bot, move |m| {
        m.get(&bob_ssrc).is_some_and(|v| v.len() >= 60)
    })
    .await;
    let f = dominant_frequency(&pcm(&got[&bob_ssrc][10..]), 16_000, 50.0, 4_000.0);
    assert!((f - BOB.hz).abs() <= 2.0, "{f} Hz");
    let sent = |key: &str| processor.sent_frames(&call, &pid(key)).unwrap();
    assert!(sent("bob") >= 50, "{}", sent("bob"));
    processor.participant_left(&call, &pid("bob"));
    processor.participant_speaking(&call, &pid("alice"), true);
    let bob_at_leave = sent("bob");
    let alice_before = sent("alice");
    until("alice's feed to move on", || {
        sent("alice") >= alice_before + 25
    })
    .await;
    // At most the feeder round that was running when he left.
    assert!(
        sent("bob") <= bob_at_leave + 5,
        "{} → {}",
        bob_at_leave,
        sent("bob")
    );
    processor.detach(&call);
    assert_eq!(
        processor
            .wait_status(&call, WAIT, MediaStatus::is_final)
            .await,
        Some(MediaStatus::Closed)
    );
    let _ = bot.session.close().await;
}

/// The whole path through the simulator: a bot joins a meeting over Graph with its blob, the
/// simulator attaches this processor, speakers and routing groups come from the simulator's
/// participant actions and Graph's audioRoutingGroups, and hanging up detaches the media.
mod through_the_simulator {
    use std::path::Path;
    use std::sync::Arc;

    use mediabot_signaling::auth::{Secret, TokenClientConfig, TokenProvider};
    use mediabot_signaling::client::{GraphClient, GraphClientConfig};
    use mediabot_signaling::join_url::parse_join_url;
    use mediabot_signaling::models::{AudioRoutingGroupId, Call, MediaConfig, Modality};
    use mediabot_sim::{Scenario, SimConfig, Simulator, TimelineAction};

    use super::*;

    const SCENARIO: &str = r#"
name = "media processor test"

[[meetings]]
key = "m"
subject = "media"
organizer = { name = "Olivia Organizer", id = "5810cede-f3cc-42eb-b2c1-e9bd5d53ec96" }
thread_id = "19:meeting_bWVkaWEtcHJvY2Vzc29yLXRlc3Q@thread.v2"
join_meeting_id = "3131000099"
passcode = "sim123"

[[meetings.participants]]
key = "alice"
name = "Alice"
id = "a11ce000-0000-4000-8000-000000000001"
tone_hz = 440.0
msi = 1001

[[meetings.participants]]
key = "bob"
name = "Bob"
id = "b0b00000-0000-4000-8000-000000000002"
tone_hz = 660.0
msi = 1002
"#;

    async fn callback_sink() -> String {
        let app = Router::new().route("/api/calling", post(|| async { StatusCode::ACCEPTED }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/api/calling")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bot_joining_a_simulated_meeting_gets_media_routed_by_graph_groups() {
        let scenario =
            Scenario::from_toml_str(SCENARIO, Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let media = processor();
        let sim = Simulator::start_with_media(
            SimConfig::with_scenario(scenario),
            Arc::new(media.clone()),
        )
        .await
        .unwrap();
        let meeting = sim.meeting("m").unwrap();
        media.add_known_participants(meeting.participants.iter().map(|m| m.participant.clone()));
        let id_of = |key: &str| {
            meeting
                .participants
                .iter()
                .find(|m| m.participant.key == key)
                .unwrap()
                .participant
                .id
                .clone()
        };

        let mut bot = bot().await;
        let mut token =
            TokenClientConfig::new(sim.app_id().as_str(), Secret::new(sim.client_secret()));
        token.authority = sim.authority_url();
        let tokens = Arc::new(TokenProvider::new(token).unwrap());
        let mut graph = GraphClientConfig::new(sim.tenant_id().as_str());
        graph.base_url = sim.graph_base_url();
        let client = GraphClient::new(graph, tokens).unwrap();
        let mut request = Call {
            callback_uri: Some(callback_sink().await),
            requested_modalities: vec![Modality::Audio],
            media_config: Some(MediaConfig::app_hosted(bot.blob.clone())),
            ..Call::default()
        };
        parse_join_url(&meeting.join_url)
            .unwrap()
            .apply_to(&mut request, None);
        let started = Instant::now();
        let call = client.create_call(&request).await.unwrap().body.id.unwrap();

        // The simulator attached the processor, which answered at the blob's mpUri.
        let answer = tokio::time::timeout(WAIT, bot.answers.recv())
            .await
            .expect("the answer arrives at mpUri")
            .unwrap();
        bot.session
            .accept_answer(&parse_answer(&answer).unwrap())
            .await
            .expect("bot connected");
        let status = media
            .wait_status(&call, WAIT, |s| *s != MediaStatus::Negotiating)
            .await;
        assert_eq!(status, Some(MediaStatus::Connected));
        println!(
            "create call → media connected on both sides: {:?}",
            started.elapsed()
        );

        // bob speaks (a simulator participant action): the bot gets 660 Hz.
        sim.participant_action("m", "bob", TimelineAction::SpeakStart)
            .unwrap();
        let ssrc = match media.report(&call).unwrap().layout {
            Some(StreamLayout::Mixed) => MIXED_SSRC,
            _ => ssrc_for_msi(Msi(1002)),
        };
        let got = collect_at_bot(&bot, move |m| m.get(&ssrc).is_some_and(|v| v.len() >= 60)).await;
        let f = dominant_frequency(&pcm(&got[&ssrc][10..]), 16_000, 50.0, 4_000.0);
        assert!((f - 660.0).abs() <= 2.0, "{f} Hz");

        // The bot speaks to everyone, then whispers to alice through a Graph routing group.
        bot.session
            .outbound(0)
            .unwrap()
            .push_pcm(&tone(1_000.0, 30.0), 48_000, 1)
            .unwrap();
        let heard = |key: &str| media.heard(&call, &id_of(key)).unwrap();
        until("both to hear the bot", || {
            heard("alice").seconds >= 0.5 && heard("bob").seconds >= 0.5
        })
        .await;
        let bot_id = sim.call(&call).unwrap().my_participant_id;
        client
            .create_audio_routing_group(
                &call,
                &AudioRoutingGroup {
                    id: Some(AudioRoutingGroupId::new("whisper")),
                    routing_mode: Some(RoutingMode::OneToOne),
                    sources: vec![bot_id],
                    receivers: vec![id_of("alice")],
                },
            )
            .await
            .unwrap();
        until("the simulator to hand the group to the processor", || {
            !media.routing(&call).unwrap().hears_bot(&id_of("bob"))
        })
        .await;
        let bob = heard("bob");
        let alice = heard("alice");
        until("alice to hear 1 s more", || {
            heard("alice").seconds >= alice.seconds + 1.0
        })
        .await;
        assert_eq!(heard("bob").seconds, bob.seconds, "bob hears no more");

        client.delete_call(&call).await.unwrap();
        assert_eq!(
            media.wait_status(&call, WAIT, MediaStatus::is_final).await,
            Some(MediaStatus::Closed)
        );
        let _ = bot.session.close().await;
        sim.shutdown();
    }
}
