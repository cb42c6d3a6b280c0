//! The control plane against a real bot and simulator on loopback: two listeners, the bearer
//! token, safe `speak` input, hardened HTTP, tenants and recordings that never overwrite. Every
//! wait has a deadline that fails the test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mediabot_sim::{SimConfig, SimEvent, SimHandle, SimMediaConfig, SimMediaProcessor, Simulator};
use serde_json::Value;

use crate::config::BotConfig;
use crate::control::JoinRequest;
use crate::runtime::App;

struct Rig {
    sim: SimHandle,
    app: App,
    out: std::path::PathBuf,
    http: reqwest::Client,
}

async fn start_sim() -> SimHandle {
    start_sim_with(|media| Arc::new(media)).await
}

/// A simulator whose media processor is `wrap` around the simulated one.
async fn start_sim_with(
    wrap: impl FnOnce(SimMediaProcessor) -> Arc<dyn mediabot_sim::MediaProcessor>,
) -> SimHandle {
    let media =
        SimMediaProcessor::new(tokio::runtime::Handle::current(), SimMediaConfig::default());
    let sim = Simulator::start_with_media(SimConfig::default(), wrap(media.clone()))
        .await
        .expect("simulator starts");
    media.add_known_participants(
        sim.meetings()
            .into_iter()
            .flat_map(|m| m.participants)
            .map(|m| m.participant),
    );
    sim
}

fn out_dir(name: &str) -> std::path::PathBuf {
    let out = std::env::temp_dir().join(format!("mediabot-control-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    out
}

async fn rig(name: &str, tweak: impl FnOnce(&mut BotConfig)) -> Rig {
    let sim = start_sim().await;
    let out = out_dir(name);
    let mut config = crate::demo::bot_config_for(&sim, &out);
    config.single_call_dir = false;
    tweak(&mut config);
    let app = App::start(config).await.expect("bot starts");
    Rig {
        sim,
        app,
        out,
        http: reqwest::Client::new(),
    }
}

impl Rig {
    fn control(&self, path: &str) -> String {
        format!("http://{}{path}", self.app.control_addr)
    }

    fn public(&self, path: &str) -> String {
        format!("http://{}{path}", self.app.local_addr)
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.app.control_token.expose())
    }
}

async fn json_error(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    assert!(
        body["error"]["code"].is_string() && body["error"]["message"].is_string(),
        "errors have one shape: {body}"
    );
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_needs_the_token_and_lives_on_its_own_listener() {
    let rig = rig("token", |_| {}).await;
    // No token, a wrong token, another scheme: 401 with a Bearer challenge.
    for auth in [
        None,
        Some("Bearer wrong".to_string()),
        Some(format!("Basic {}", rig.app.control_token.expose())),
    ] {
        let mut request = rig.http.get(rig.control("/control/calls"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        assert_eq!(json_error(response).await.0, 401);
    }
    let ok = rig
        .http
        .get(rig.control("/control/calls"))
        .header("authorization", rig.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.json::<Value>().await.unwrap(), serde_json::json!([]));

    // The public listener serves no control path, even with the token.
    for path in ["/control/calls", "/control/join"] {
        let response = rig
            .http
            .post(rig.public(path))
            .header("authorization", rig.bearer())
            .json(&serde_json::json!({"joinUrl": "https://teams.microsoft.com/meet/1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(json_error(response).await.0, 404, "{path}");
    }
    // Wrong method: 405; malformed JSON: 400; unknown media session: 404.
    let response = rig
        .http
        .delete(rig.control("/control/calls"))
        .header("authorization", rig.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(json_error(response).await.0, 405);
    let response = rig
        .http
        .post(rig.control("/control/join"))
        .header("authorization", rig.bearer())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let response = rig
        .http
        .post(rig.public(&format!("/mp/{:032x}", 7)))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());
    rig.sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speak_plays_files_only_from_media_dir() {
    let media = out_dir("media-files");
    std::fs::create_dir_all(&media).unwrap();
    let rig = rig("speak", |c| c.media_dir = Some(media.clone())).await;
    let outside = rig.out.join("elsewhere.wav");
    std::fs::create_dir_all(&rig.out).unwrap();
    std::fs::write(&outside, b"RIFF").unwrap();
    for wav in [
        outside.display().to_string(),
        "../elsewhere.wav".into(),
        "/etc/passwd".into(),
    ] {
        let response = rig
            .http
            .post(rig.control("/control/calls/1/speak"))
            .header("authorization", rig.bearer())
            .json(&serde_json::json!({ "wav": wav }))
            .send()
            .await
            .unwrap();
        let (status, body) = json_error(response).await;
        assert_eq!(status, 400, "{wav}: {body}");
    }
    // An upload that is not 16-bit 8–48 kHz is refused before any call is looked up.
    let response = rig
        .http
        .post(rig.control("/control/calls/1/speak"))
        .header("authorization", rig.bearer())
        .header("content-type", "audio/wav")
        .body(b"RIFF....WAVEjunk".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(json_error(response).await.0, 400);
    rig.sim.shutdown();
}

/// Sends a request's headers one byte per second; returns how long until the bot hung up.
fn slow_headers(addr: std::net::SocketAddr, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .ok()?;
    let request = b"POST /api/calling HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    let mut sent = 0;
    let mut buf = [0u8; 256];
    while started.elapsed() < limit {
        if sent < request.len() && stream.write_all(&request[sent..=sent]).is_err() {
            return Some(started.elapsed());
        }
        sent += 1;
        // Wait a second, watching for the bot closing the connection.
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            match stream.read(&mut buf) {
                Ok(0) => return Some(started.elapsed()),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return Some(started.elapsed()),
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_cut_off_while_callbacks_keep_being_answered() {
    let rig = rig("slowloris", |_| {}).await;
    let addr = rig.app.local_addr;
    let slow = tokio::task::spawn_blocking(move || slow_headers(addr, Duration::from_secs(20)));
    // Meanwhile a call joins: every callback Graph posts is answered 2xx.
    join_connected(&rig.app, &rig.sim, "the call connects meanwhile").await;
    let cut = slow.await.unwrap().expect("the slow client was cut off");
    assert!(
        cut < Duration::from_secs(15),
        "cut off after {cut:?}, well before its headers were complete"
    );
    let deliveries = rig.sim.deliveries();
    assert!(!deliveries.is_empty());
    assert!(
        deliveries.iter().all(|d| d.outcome.is_delivered()),
        "every callback answered 2xx: {:?}",
        deliveries.iter().map(|d| &d.outcome).collect::<Vec<_>>()
    );
    rig.sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_of_a_tenant_the_bot_does_not_serve_are_refused() {
    let rig = rig("tenant", |c| {
        c.allowed_tenants = Some(vec!["00000000-0000-0000-0000-0000000000ff".into()]);
    })
    .await;
    let mut events = rig.sim.subscribe();
    let meeting = rig.sim.meetings().remove(0);
    rig.app
        .join(JoinRequest {
            join_url: meeting.join_url,
        })
        .await
        .expect("join accepted");
    let refused = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match events.recv().await {
                Ok(SimEvent::NotificationDelivered(record)) => return record.outcome,
                Ok(_) => {}
                Err(e) => panic!("simulator events ended: {e}"),
            }
        }
    })
    .await
    .expect("a callback was posted");
    assert_eq!(
        refused,
        mediabot_sim::DeliveryOutcome::Rejected { status: 401 }
    );
    rig.sim.shutdown();
}

/// Joins the default meeting and waits (with a deadline) for media to connect.
async fn join_connected(app: &App, sim: &SimHandle, what: &str) -> crate::runtime::JoinTicket {
    let meeting = sim.meetings().remove(0);
    let mut ticket = app
        .join(JoinRequest {
            join_url: meeting.join_url,
        })
        .await
        .expect("join accepted");
    let connected = tokio::time::timeout(
        Duration::from_secs(20),
        ticket.status.wait_for(|s| s.state == "media connected"),
    )
    .await
    .map(|r| r.is_ok());
    assert_eq!(connected, Ok(true), "{what}");
    ticket
}

/// Joins the default meeting, waits for media, hangs up, waits for the report; returns it.
async fn one_recorded_call(app: &App, sim: &SimHandle) -> std::path::PathBuf {
    let mut ticket = join_connected(app, sim, "the call connects").await;
    let progress = ticket.progress.clone();
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if progress.lock().is_ok_and(|p| p.first_frame_at.is_some()) {
                return;
            }
            ticket.status.changed().await.ok();
        }
    })
    .await;
    assert!(heard.is_ok(), "audio recorded");
    let call_id = ticket.status.borrow().call_id.clone().expect("call id");
    app.hang_up(call_id).await.expect("hang-up accepted");
    let done = tokio::time::timeout(
        Duration::from_secs(15),
        ticket.status.wait_for(|s| s.ended && s.report.is_some()),
    )
    .await
    .map(|r| r.is_ok());
    assert_eq!(done, Ok(true), "report written");
    ticket.status.borrow().report.clone().expect("report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_never_overwrites_an_earlier_recording() {
    let out = out_dir("restart");
    let sim = start_sim().await;
    let mut reports = Vec::new();
    for _run in 0..2 {
        // Two bot processes in turn over one out_dir: each starts its call numbering at 1.
        let mut config = crate::demo::bot_config_for(&sim, &out);
        config.single_call_dir = false;
        let app = App::start(config).await.expect("bot starts");
        let report = one_recorded_call(&app, &sim).await;
        let dir = report.parent().unwrap().to_path_buf();
        let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        assert!(files.iter().any(|(n, _)| n.ends_with(".wav")));
        reports.push((dir, files));
    }
    assert_ne!(
        reports[0].0, reports[1].0,
        "each call has a folder of its own"
    );
    // The first run's files are untouched.
    for (name, bytes) in &reports[0].1 {
        assert_eq!(
            &std::fs::read(reports[0].0.join(name)).unwrap(),
            bytes,
            "{name} changed"
        );
    }
    let name = reports[0]
        .0
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.len() > 17 && name.as_bytes()[8] == b'T' && name.as_bytes()[15] == b'Z',
        "<UTC>-<call id>: {name}"
    );
    sim.shutdown();
}

/// A media processor that, before the genuine answer, posts two forged answers to the bot's
/// `mpUri` (one for another media session, one that is not an answer) and records the statuses.
struct ForgingProcessor {
    inner: SimMediaProcessor,
    statuses: Arc<std::sync::Mutex<Vec<u16>>>,
}

/// One blocking HTTP/1.1 POST on loopback; the status.
fn post_blocking(url: &str, body: &str) -> u16 {
    let url = url::Url::parse(url).expect("mpUri is a URL");
    let addr = format!(
        "{}:{}",
        url.host_str().expect("a host"),
        url.port().expect("a port")
    );
    let mut stream = TcpStream::connect(addr).expect("the bot listens");
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        url.path(),
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("sent");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

impl mediabot_sim::MediaProcessor for ForgingProcessor {
    fn attach(
        &self,
        attach: &mediabot_sim::MediaAttach,
    ) -> Result<(), mediabot_sim::MediaRejected> {
        use mediabot_media::session::blob::{Guid, MediaAnswer, MediaSessionId, parse_blob};
        let offer = parse_blob(&attach.blob).expect("the bot's blob parses");
        let mp_uri = offer.mp_uri().to_string();
        // Well formed, but for a media session that is not this one.
        let other = MediaAnswer::new(
            MediaSessionId::new(Guid::from_u128(0x0bad_0bad_0bad_4bad_8bad_0bad_0bad_0bad)),
            offer.transport().clone(),
        );
        let forged = serde_json::to_string(&other).expect("serialises");
        // From a thread of its own: attach runs inside the simulator, which must not wait on
        // the bot. The forgeries race the genuine answer; either way they must be refused.
        let statuses = self.statuses.clone();
        std::thread::spawn(move || {
            let first = post_blocking(&mp_uri, &forged);
            let second = post_blocking(&mp_uri, "{\"not\": \"an answer\"}");
            statuses.lock().unwrap().extend([first, second]);
        });
        self.inner.attach(attach)
    }
    fn participant_joined(
        &self,
        call: &mediabot_signaling::models::CallId,
        p: &mediabot_sim::SimParticipant,
    ) {
        self.inner.participant_joined(call, p);
    }
    fn participant_left(
        &self,
        call: &mediabot_signaling::models::CallId,
        p: &mediabot_signaling::models::ParticipantId,
    ) {
        self.inner.participant_left(call, p);
    }
    fn participant_speaking(
        &self,
        call: &mediabot_signaling::models::CallId,
        p: &mediabot_signaling::models::ParticipantId,
        speaking: bool,
    ) {
        self.inner.participant_speaking(call, p, speaking);
    }
    fn participant_muted(
        &self,
        call: &mediabot_signaling::models::CallId,
        p: &mediabot_signaling::models::ParticipantId,
        muted: bool,
    ) {
        self.inner.participant_muted(call, p, muted);
    }
    fn routing_changed(
        &self,
        call: &mediabot_signaling::models::CallId,
        groups: &[mediabot_signaling::models::AudioRoutingGroup],
    ) {
        self.inner.routing_changed(call, groups);
    }
    fn detach(&self, call: &mediabot_signaling::models::CallId) {
        self.inner.detach(call);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_media_answers_are_refused_and_the_genuine_one_connects() {
    let statuses = Arc::new(std::sync::Mutex::new(Vec::new()));
    let forging = statuses.clone();
    let sim = start_sim_with(move |inner| {
        Arc::new(ForgingProcessor {
            inner,
            statuses: forging,
        })
    })
    .await;
    let out = out_dir("forged");
    let app = App::start(crate::demo::bot_config_for(&sim, &out))
        .await
        .expect("bot starts");
    join_connected(&app, &sim, "the genuine answer still connects").await;
    let refused = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let got = statuses.lock().unwrap().clone();
            if got.len() == 2 {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("both forgeries were answered");
    // 400 when checked against the offer, 409 when the genuine answer was already in.
    assert!(
        refused.iter().all(|s| *s == 400 || *s == 409),
        "forged answers are refused: {refused:?}"
    );
    sim.shutdown();
}
