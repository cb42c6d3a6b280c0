//! One call's media: the shared state the simulator's events update, the task that negotiates
//! and closes the session, the feeder thread and the receive thread.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
use mediabot_media::analysis::rms;
use mediabot_media::frame::{FrameFlags, PcmFormat, PcmFrame};
use mediabot_media::send::{IdleMode, OutboundAudio, SendConfig};
use mediabot_media::session::blob::{ReceiveMode, ValidatedBlob};
use mediabot_media::session::params::{AudioCodec, StreamDirection};
use mediabot_media::session::{MediaSession, MediaSessionConfig, SessionError};
use mediabot_media::thread::AudioThreadConfig;
use mediabot_media::transport::{TransportConfig, TransportError, TransportStats};
use mediabot_signaling::models::{AudioRoutingGroup, CallId, ParticipantId};
use tokio::sync::watch;

use super::answer::{Retry, post_answer};
use super::heard::{HeardLog, sum_of_squares};
use super::source::{CHUNK, RATE, SourceSignal};
use super::{
    AudioRouting, CallMediaReport, HeardReport, MIXED_SSRC, MediaStatus, ParticipantMediaReport,
    SimMediaConfig, SimMediaError, StreamLayout, StreamReport, ssrc_for_msi,
};
use crate::media_seam::{AudioSource, SimParticipant};

/// How often the feeder tops the queues up.
const FEED_INTERVAL: Duration = Duration::from_millis(10);
/// How often the call task snapshots the session's counters.
const STATS_INTERVAL: Duration = Duration::from_millis(200);
/// Send queue capacity per stream (the feeder keeps far less queued).
const SEND_QUEUE_MS: u32 = 1_000;

/// What the call task needs from the processor's configuration.
#[derive(Debug, Clone)]
pub(crate) struct CallSettings {
    bind_ip: IpAddr,
    layout: StreamLayout,
    queue_target_ms: u32,
    retry: Retry,
    connect_timeout: Duration,
    client: reqwest::Client,
}

impl CallSettings {
    pub(crate) fn from_config(config: &SimMediaConfig, client: reqwest::Client) -> CallSettings {
        CallSettings {
            bind_ip: config.bind_ip,
            layout: config.layout,
            queue_target_ms: u32::try_from(config.queue_target.as_millis())
                .unwrap_or(u32::MAX)
                .clamp(40, SEND_QUEUE_MS / 2),
            retry: Retry {
                attempts: config.answer_attempts,
                interval: config.answer_retry_interval,
            },
            connect_timeout: config.connect_timeout,
            client,
        }
    }
}

/// A participant as the call's media knows it.
#[derive(Debug)]
pub(crate) struct ParticipantState {
    pub(crate) info: SimParticipant,
    present: bool,
    muted: bool,
    speaking: bool,
    sent_frames: u64,
    source_error: Option<String>,
}

impl ParticipantState {
    pub(crate) fn new(info: SimParticipant, present: bool) -> ParticipantState {
        ParticipantState {
            muted: info.muted,
            info,
            present,
            speaking: false,
            sent_frames: 0,
            source_error: None,
        }
    }

    fn has_audio(&self) -> bool {
        !matches!(self.info.audio, AudioSource::Silence)
    }
}

/// The part of a call's state that events change and threads read.
#[derive(Debug)]
struct CallState {
    participants: Vec<ParticipantState>,
    /// Where each participant is in `participants` (which only grows).
    index: HashMap<ParticipantId, usize>,
    routing: AudioRouting,
    heard: HashMap<ParticipantId, HeardLog>,
    layout: Option<StreamLayout>,
    streams: Vec<StreamReport>,
    bot_frames: u64,
    transport: TransportStats,
}

impl CallState {
    fn participant(&self, id: &ParticipantId) -> Option<&ParticipantState> {
        self.index.get(id).map(|&at| &self.participants[at])
    }

    fn participant_mut(&mut self, id: &ParticipantId) -> Option<&mut ParticipantState> {
        self.index.get(id).map(|&at| &mut self.participants[at])
    }

    /// Participants whose audio should flow to the bot right now.
    fn sending(&self) -> Vec<(ParticipantId, AudioSource)> {
        self.participants
            .iter()
            .filter(|p| {
                p.present
                    && p.speaking
                    && !p.muted
                    && p.has_audio()
                    && p.source_error.is_none()
                    && self.routing.bot_hears(&p.info.id)
            })
            .map(|p| (p.info.id.clone(), p.info.audio.clone()))
            .collect()
    }
}

/// A call's shared state and status.
#[derive(Debug)]
pub(crate) struct CallShared {
    call_id: CallId,
    heard_seconds: u32,
    state: Mutex<CallState>,
    status: watch::Sender<MediaStatus>,
}

impl CallShared {
    pub(crate) fn new(
        call_id: CallId,
        participants: Vec<ParticipantState>,
        routing: AudioRouting,
        heard_seconds: u32,
    ) -> CallShared {
        let mut index = HashMap::with_capacity(participants.len());
        for (at, participant) in participants.iter().enumerate() {
            index.entry(participant.info.id.clone()).or_insert(at);
        }
        CallShared {
            call_id,
            heard_seconds,
            state: Mutex::new(CallState {
                participants,
                index,
                routing,
                heard: HashMap::new(),
                layout: None,
                streams: Vec::new(),
                bot_frames: 0,
                transport: TransportStats::default(),
            }),
            status: watch::Sender::new(MediaStatus::Negotiating),
        }
    }

    fn lock(&self) -> MutexGuard<'_, CallState> {
        // Every update leaves the state consistent, so a panic elsewhere does not spoil it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn status(&self) -> MediaStatus {
        self.status.borrow().clone()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<MediaStatus> {
        self.status.subscribe()
    }

    fn set_status(&self, status: MediaStatus) {
        self.status.send_replace(status);
    }

    pub(crate) fn heard(&self, participant: &ParticipantId) -> Option<HeardReport> {
        let state = self.lock();
        if let Some(log) = state.heard.get(participant) {
            return Some(log.report());
        }
        state
            .participant(participant)
            .is_some()
            .then(HeardReport::default)
    }

    pub(crate) fn heard_samples(&self, participant: &ParticipantId) -> Option<Vec<i16>> {
        let state = self.lock();
        if let Some(log) = state.heard.get(participant) {
            return Some(log.record());
        }
        state.participant(participant).is_some().then(Vec::new)
    }

    pub(crate) fn sent_frames(&self, participant: &ParticipantId) -> Option<u64> {
        self.lock().participant(participant).map(|p| p.sent_frames)
    }

    pub(crate) fn routing(&self) -> AudioRouting {
        self.lock().routing.clone()
    }

    pub(crate) fn report(&self) -> CallMediaReport {
        let status = self.status();
        let state = self.lock();
        let mut participants: Vec<ParticipantMediaReport> = state
            .participants
            .iter()
            .map(|p| ParticipantMediaReport {
                id: p.info.id.clone(),
                key: p.info.key.clone(),
                msi: p.info.msi,
                sent_frames: p.sent_frames,
                heard: state
                    .heard
                    .get(&p.info.id)
                    .map(HeardLog::report)
                    .unwrap_or_default(),
                source_error: p.source_error.clone(),
            })
            .collect();
        participants.sort_by(|a, b| a.key.cmp(&b.key));
        CallMediaReport {
            status,
            layout: state.layout,
            streams: state.streams.clone(),
            bot_frames: state.bot_frames,
            transport: state.transport.clone(),
            participants,
        }
    }

    pub(crate) fn participant_joined(&self, participant: &SimParticipant) {
        let mut state = self.lock();
        if participant.id == *state.routing.bot() {
            return;
        }
        match state.participant_mut(&participant.id) {
            Some(known) => {
                known.info = participant.clone();
                known.present = true;
                known.muted = participant.muted;
            }
            None => {
                let at = state.participants.len();
                state.index.insert(participant.id.clone(), at);
                state
                    .participants
                    .push(ParticipantState::new(participant.clone(), true));
            }
        }
    }

    pub(crate) fn participant_left(&self, participant: &ParticipantId) {
        if let Some(known) = self.lock().participant_mut(participant) {
            known.present = false;
            known.speaking = false;
        }
    }

    pub(crate) fn participant_speaking(&self, participant: &ParticipantId, speaking: bool) {
        if let Some(known) = self.lock().participant_mut(participant) {
            known.speaking = speaking;
        }
    }

    pub(crate) fn participant_muted(&self, participant: &ParticipantId, muted: bool) {
        if let Some(known) = self.lock().participant_mut(participant) {
            known.muted = muted;
        }
    }

    pub(crate) fn routing_changed(&self, groups: &[AudioRoutingGroup]) {
        let mut state = self.lock();
        let routing = AudioRouting::new(
            state.routing.bot().clone(),
            state.routing.bot_in_default_group(),
            groups,
        );
        state.routing = routing;
    }
}

/// What one send stream carries.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StreamContent {
    Participant(ParticipantId),
    Mixed,
}

/// The send streams of a layout, in the order they are declared to the session.
fn plan_streams(
    layout: StreamLayout,
    participants: &[ParticipantState],
    bot_ssrcs: &HashSet<u32>,
) -> Vec<(u32, Option<u32>, StreamContent)> {
    let mut taken: HashSet<u32> = bot_ssrcs.clone();
    taken.insert(0);
    let mut free = |mut ssrc: u32| {
        while taken.contains(&ssrc) {
            ssrc = ssrc.wrapping_add(1);
        }
        taken.insert(ssrc);
        ssrc
    };
    match layout {
        StreamLayout::Unmixed => participants
            .iter()
            .filter(|p| p.has_audio() && !p.info.msi.is_none())
            .map(|p| {
                (
                    free(ssrc_for_msi(p.info.msi)),
                    Some(p.info.msi.0),
                    StreamContent::Participant(p.info.id.clone()),
                )
            })
            .collect(),
        StreamLayout::Mixed | StreamLayout::Auto => {
            vec![(free(MIXED_SSRC), None, StreamContent::Mixed)]
        }
    }
}

/// The layout to try first, or why the blob cannot be served.
fn first_layout(
    wanted: StreamLayout,
    blob: &ValidatedBlob,
    with_audio: usize,
) -> Result<StreamLayout, SimMediaError> {
    let unmixed_fits = blob.receive_mode() != ReceiveMode::Mixed
        && with_audio >= 1
        && with_audio <= usize::from(blob.max_unmixed_streams());
    match wanted {
        StreamLayout::Mixed => Ok(StreamLayout::Mixed),
        StreamLayout::Unmixed if unmixed_fits => Ok(StreamLayout::Unmixed),
        StreamLayout::Unmixed => Err(SimMediaError::Blob(format!(
            "{with_audio} unmixed streams do not fit receiveMode {:?} with maxUnmixedStreams {}",
            blob.receive_mode(),
            blob.max_unmixed_streams()
        ))),
        _ if unmixed_fits => Ok(StreamLayout::Unmixed),
        _ => Ok(StreamLayout::Mixed),
    }
}

fn session_config(
    settings: &CallSettings,
    payload_type: u8,
    streams: &[(u32, Option<u32>, StreamContent)],
) -> MediaSessionConfig {
    let mut audio = AudioThreadConfig::default();
    audio.receiver.format = PcmFormat::PCM16K_MONO;
    audio.receiver.mix = false;
    MediaSessionConfig {
        transport: TransportConfig {
            bind_ip: settings.bind_ip,
            ice_check_interval: Some(Duration::from_millis(20)),
            audio_codecs: vec![AudioCodec::opus(payload_type)],
            cname: "mediabot-sim".into(),
            connect_timeout: settings.connect_timeout,
            ..TransportConfig::default()
        },
        audio,
        send_streams: streams
            .iter()
            .map(|(ssrc, msi, _)| {
                (
                    SendConfig {
                        ssrc: *ssrc,
                        payload_type,
                        idle: IdleMode::Pause,
                        queue_ms: SEND_QUEUE_MS,
                        ..SendConfig::default()
                    },
                    *msi,
                )
            })
            .collect(),
        connect_timeout: settings.connect_timeout,
        ..MediaSessionConfig::default()
    }
}

/// Runs one call's media from the bot's blob until `stop` (or until setup fails).
pub(crate) async fn run_call(
    shared: Arc<CallShared>,
    blob: ValidatedBlob,
    settings: CallSettings,
    mut stop: watch::Receiver<bool>,
) {
    let call = shared.call_id.clone();
    let stopped = async move {
        // A dropped sender (processor gone) stops the call too.
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::pin!(stopped);
    let setup = tokio::select! {
        setup = establish(&shared, &blob, &settings) => setup,
        () = &mut stopped => {
            shared.set_status(MediaStatus::Closed);
            return;
        }
    };
    let mut session = match setup {
        Ok(session) => session,
        Err(error) => {
            tracing::warn!(call = %call, %error, "simulated media processor: setup failed");
            shared.set_status(MediaStatus::Failed(error.to_string()));
            return;
        }
    };
    let connected = tokio::select! {
        connected = session.wait_connected() => connected,
        () = &mut stopped => {
            let _ = session.close().await;
            shared.set_status(MediaStatus::Closed);
            return;
        }
    };
    if let Err(error) = connected {
        tracing::warn!(call = %call, %error, "simulated media processor: media did not connect");
        let _ = session.close().await;
        shared.set_status(MediaStatus::Failed(SimMediaError::from(error).to_string()));
        return;
    }
    let threads = match start_threads(&shared, &mut session, &blob, settings.queue_target_ms) {
        Ok(threads) => threads,
        Err(error) => {
            let _ = session.close().await;
            shared.set_status(MediaStatus::Failed(error.to_string()));
            return;
        }
    };
    shared.set_status(MediaStatus::Connected);
    tracing::debug!(call = %call, "simulated media processor: connected");
    let mut ticker = tokio::time::interval(STATS_INTERVAL);
    loop {
        tokio::select! {
            _ = ticker.tick() => snapshot_stats(&shared, &session),
            () = &mut stopped => break,
        }
    }
    threads.stop.store(true, Ordering::Release);
    let joins = threads.joins;
    let _ = tokio::task::spawn_blocking(move || {
        for join in joins {
            let _ = join.join();
        }
    })
    .await;
    snapshot_stats(&shared, &session);
    let _ = session.close().await;
    shared.set_status(MediaStatus::Closed);
    tracing::debug!(call = %call, "simulated media processor: closed");
}

/// Answers the blob (falling back to the mixed layout if the transport refuses several
/// streams) and POSTs the answer to the bot.
async fn establish(
    shared: &CallShared,
    blob: &ValidatedBlob,
    settings: &CallSettings,
) -> Result<MediaSession, SimMediaError> {
    let payload_type = blob
        .transport()
        .audio_codecs
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case("opus"))
        .map(|c| c.payload_type)
        .ok_or_else(|| SimMediaError::Blob("no Opus codec offered".into()))?;
    let bot_ssrcs = bot_ssrcs(blob);
    let (participants_plan, with_audio) = {
        let state = shared.lock();
        let with_audio = state
            .participants
            .iter()
            .filter(|p| p.has_audio() && !p.info.msi.is_none())
            .count();
        // Only ids and MSIs are needed for the plan.
        let plan_unmixed = plan_streams(StreamLayout::Unmixed, &state.participants, &bot_ssrcs);
        let plan_mixed = plan_streams(StreamLayout::Mixed, &state.participants, &bot_ssrcs);
        ((plan_unmixed, plan_mixed), with_audio)
    };
    let mut layout = first_layout(settings.layout, blob, with_audio)?;
    let (plan_unmixed, plan_mixed) = participants_plan;
    let answered = loop {
        let plan = if layout == StreamLayout::Unmixed {
            &plan_unmixed
        } else {
            &plan_mixed
        };
        match MediaSession::answer(session_config(settings, payload_type, plan), blob).await {
            Ok((session, answer)) => break (session, answer, plan.clone()),
            Err(SessionError::Transport(TransportError::Config(reason)))
                if layout == StreamLayout::Unmixed && settings.layout == StreamLayout::Auto =>
            {
                tracing::debug!(%reason, "transport refused unmixed streams; sending a mix");
                layout = StreamLayout::Mixed;
            }
            Err(error) => return Err(error.into()),
        }
    };
    let (session, answer, plan) = answered;
    {
        let mut state = shared.lock();
        state.layout = Some(layout);
        state.streams = plan
            .iter()
            .map(|(ssrc, msi, content)| StreamReport {
                ssrc: *ssrc,
                msi: msi.map(mediabot_signaling::models::Msi),
                participant: match content {
                    StreamContent::Participant(id) => Some(id.clone()),
                    StreamContent::Mixed => None,
                },
                packets: 0,
                audio_frames: 0,
            })
            .collect();
    }
    let posted = post_answer(
        &settings.client,
        blob.mp_uri().as_str(),
        answer.to_answer_string(),
        settings.retry,
    )
    .await;
    if let Err(error) = posted {
        let _ = session.close().await;
        return Err(error.into());
    }
    Ok(session)
}

/// The SSRCs the bot declared it sends.
fn bot_ssrcs(blob: &ValidatedBlob) -> HashSet<u32> {
    blob.transport()
        .streams
        .iter()
        .filter(|s| s.direction == StreamDirection::Send)
        .map(|s| s.ssrc)
        .collect()
}

fn snapshot_stats(shared: &CallShared, session: &MediaSession) {
    let transport = session.transport_stats();
    let sends: Vec<(u64, u64)> = session
        .send_stats()
        .iter()
        .map(|s| {
            (
                s.packets.load(Ordering::Relaxed),
                s.audio_frames.load(Ordering::Relaxed) + s.partial_frames.load(Ordering::Relaxed),
            )
        })
        .collect();
    let mut state = shared.lock();
    state.transport = transport;
    for (stream, (packets, frames)) in state.streams.iter_mut().zip(sends) {
        stream.packets = packets;
        stream.audio_frames = frames;
    }
}

struct Threads {
    stop: Arc<AtomicBool>,
    joins: Vec<JoinHandle<()>>,
}

fn start_threads(
    shared: &Arc<CallShared>,
    session: &mut MediaSession,
    blob: &ValidatedBlob,
    queue_target_ms: u32,
) -> Result<Threads, SimMediaError> {
    let contents: Vec<StreamContent> = shared
        .lock()
        .streams
        .iter()
        .map(|s| match &s.participant {
            Some(id) => StreamContent::Participant(id.clone()),
            None => StreamContent::Mixed,
        })
        .collect();
    let mut outputs = Vec::new();
    for content in contents {
        // take_outbound removes the entry, so index 0 is always the next stream.
        if let Some(audio) = session.take_outbound(0) {
            outputs.push(Output {
                audio,
                content,
                contributors: Vec::new(),
            });
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let shared = shared.clone();
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("sim-media-feed".into())
            .spawn(move || feed(&shared, outputs, &stop, queue_target_ms))
            .map_err(SimMediaError::Thread)?
    };
    let receiver = {
        let shared = shared.clone();
        let thread_stop = stop.clone();
        let frames = session.audio().frames();
        let ssrcs = bot_ssrcs(blob);
        std::thread::Builder::new()
            .name("sim-media-recv".into())
            .spawn(move || receive(&shared, &frames, &ssrcs, &thread_stop))
    };
    match receiver {
        Ok(receiver) => Ok(Threads {
            stop,
            joins: vec![feeder, receiver],
        }),
        Err(error) => {
            stop.store(true, Ordering::Release);
            let _ = feeder.join();
            Err(SimMediaError::Thread(error))
        }
    }
}

/// One send stream and who is currently in it.
struct Output {
    audio: OutboundAudio,
    content: StreamContent,
    contributors: Vec<ParticipantId>,
}

/// The feeder: keeps each stream topped up with the audio of its current contributors.
fn feed(shared: &CallShared, mut outputs: Vec<Output>, stop: &AtomicBool, target_ms: u32) {
    let mut signals: HashMap<ParticipantId, SourceSignal> = HashMap::new();
    let mut mix = [0i32; CHUNK];
    let mut pcm = [0i16; CHUNK];
    let mut sent: HashMap<ParticipantId, u64> = HashMap::new();
    while !stop.load(Ordering::Acquire) {
        let sending = shared.lock().sending();
        let mut failed: Vec<(ParticipantId, String)> = Vec::new();
        for (id, source) in &sending {
            if signals.contains_key(id) {
                continue;
            }
            match SourceSignal::prepare(source) {
                Ok(Some(signal)) => {
                    signals.insert(id.clone(), signal);
                }
                Ok(None) => {}
                Err(error) => failed.push((id.clone(), error.to_string())),
            }
        }
        for output in &mut outputs {
            let contributors: Vec<ParticipantId> = sending
                .iter()
                .map(|(id, _)| id)
                .filter(|id| match &output.content {
                    StreamContent::Participant(p) => p == *id,
                    StreamContent::Mixed => true,
                })
                .filter(|id| signals.contains_key(*id))
                .cloned()
                .collect();
            if output
                .contributors
                .iter()
                .any(|previous| !contributors.contains(previous))
            {
                // Someone stopped, was muted or was routed away: their queued audio must not
                // flow (in the mixed stream this also drops up to the queue target of the
                // others' audio).
                output.audio.clear();
            }
            output.contributors.clone_from(&contributors);
            if contributors.is_empty() {
                continue;
            }
            while output.audio.queued_ms() < target_ms {
                mix.fill(0);
                for id in &contributors {
                    if let Some(signal) = signals.get_mut(id) {
                        signal.mix_into(&mut mix);
                    }
                    *sent.entry(id.clone()).or_default() += 1;
                }
                for (out, sample) in pcm.iter_mut().zip(mix) {
                    *out = sample.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
                }
                match output.audio.push_pcm(&pcm, RATE, 1) {
                    Ok(queued) if queued > 0 => {}
                    // Full or refused: try again next round rather than spin.
                    _ => break,
                }
            }
        }
        if !sent.is_empty() || !failed.is_empty() {
            let mut state = shared.lock();
            for (id, frames) in sent.drain() {
                if let Some(p) = state.participant_mut(&id) {
                    p.sent_frames += frames;
                }
            }
            for (id, error) in failed {
                tracing::warn!(participant = %id, %error, "participant audio unavailable");
                if let Some(p) = state.participant_mut(&id) {
                    p.source_error = Some(error);
                }
            }
        }
        std::thread::sleep(FEED_INTERVAL);
    }
}

/// The receive thread: accounts the bot's decoded audio to whoever the rule routes it to.
fn receive(
    shared: &CallShared,
    frames: &crossbeam_channel::Receiver<PcmFrame>,
    bot_ssrcs: &HashSet<u32>,
    stop: &AtomicBool,
) {
    let mut mono: Vec<i16> = Vec::with_capacity(PcmFormat::PCM16K_MONO.frame_samples());
    loop {
        match frames.recv_timeout(Duration::from_millis(50)) {
            Ok(frame) => {
                if frame.flags.contains(FrameFlags::MIXED) || !bot_ssrcs.contains(&frame.ssrc) {
                    continue;
                }
                let channels = usize::from(frame.format.channels().max(1));
                mono.clear();
                mono.extend(frame.samples().chunks_exact(channels).map(|c| {
                    (c.iter().map(|&s| i32::from(s)).sum::<i32>() / channels as i32) as i16
                }));
                let level = rms(&mono);
                let energy = sum_of_squares(&mono);
                let rate = frame.format.sample_rate();
                let mut guard = shared.lock();
                let state = &mut *guard;
                state.bot_frames += 1;
                for p in &state.participants {
                    if !(p.present && state.routing.hears_bot(&p.info.id)) {
                        continue;
                    }
                    if !state.heard.contains_key(&p.info.id) {
                        // Crowd members only count what they hear (see the module docs).
                        let seconds = if p.info.crowd {
                            0
                        } else {
                            shared.heard_seconds
                        };
                        state
                            .heard
                            .insert(p.info.id.clone(), HeardLog::new(seconds, rate));
                    }
                    if let Some(log) = state.heard.get_mut(&p.info.id) {
                        log.push(&mono, level, energy);
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if stop.load(Ordering::Acquire) {
            return;
        }
    }
}
