//! A live media session: what is negotiated through the app-hosted media blob and the transport
//! that carries RTP once negotiated, wired to the audio threads.
//!
//! ```text
//!  bot (offerer)                                   media processor (answerer: simulator or peer)
//!  MediaSession::offer ──blob in Graph's appHostedMediaConfig──► MediaSession::answer
//!  MediaSession::accept_answer ◄──── answer POSTed to the blob's mpUri ────┘
//!                 ICE → DTLS-SRTP → RTP/Opus over UDP, both ways
//! ```
//!
//! A session owns one [`Transport`], one receive [`AudioThread`] (jitter buffer, decode, mix,
//! speaker detection) fed by the transport, and one paced [`SendThread`] per local stream fed by
//! an [`OutboundAudio`] the application pushes PCM into. Send threads start once the transport
//! is connected.

pub mod blob;
pub mod params;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use self::blob::{
    BlobError, Guid, MediaAnswer, MediaBlobBuilder, MediaSessionId, ReceiveMode, ValidatedAnswer,
    ValidatedBlob,
};
use crate::send::{self, OutboundAudio, PacketSink as RtpSink, SendConfig, SendThread};
use crate::thread::{AudioThread, AudioThreadConfig, ReceiveReport};
use crate::transport::{
    ConnectionState, LocalStream, MediaSender, Transport, TransportConfig, TransportError,
    TransportStats,
};

/// How to build a session.
#[derive(Debug, Clone)]
pub struct MediaSessionConfig {
    /// Transport settings (bind address, ports, public IP …). `local_streams` is filled from
    /// `send_streams`.
    pub transport: TransportConfig,
    /// The receive audio thread.
    pub audio: AudioThreadConfig,
    /// One entry per stream this side sends, with the MSI it stands for (the bot: one stream;
    /// the simulated media processor: one per participant).
    pub send_streams: Vec<(SendConfig, Option<u32>)>,
    /// What the bot asks to receive (offer side only).
    pub receive_mode: ReceiveMode,
    /// How long to wait for ICE + DTLS.
    pub connect_timeout: Duration,
}

impl Default for MediaSessionConfig {
    fn default() -> MediaSessionConfig {
        MediaSessionConfig {
            transport: TransportConfig::default(),
            audio: AudioThreadConfig::default(),
            send_streams: vec![(SendConfig::default(), None)],
            receive_mode: ReceiveMode::Both,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a session could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The blob or answer is unusable.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The audio threads could not start.
    #[error("audio: {0}")]
    Audio(String),
    /// ICE/DTLS did not connect in time, or failed.
    #[error("media did not connect: {0:?}")]
    NotConnected(Option<ConnectionState>),
}

/// Sends the send thread's packets through the transport.
struct TransportSink(MediaSender);

impl RtpSink for TransportSink {
    fn send_rtp(&mut self, packet: &[u8]) -> bool {
        self.0.try_send(packet).is_ok()
    }
}

/// A media session. See the module docs.
pub struct MediaSession {
    transport: Transport,
    audio: AudioThread,
    /// Producer handles and the senders waiting for the connection.
    outbound: Vec<OutboundAudio>,
    pending_senders: Vec<send::Sender>,
    send_threads: Vec<SendThread>,
    connect_timeout: Duration,
    offer: Option<ValidatedBlob>,
}

static SESSION_COUNTER: AtomicU64 = AtomicU64::new(1);

/// A fresh GUID for a session: time and a process counter mixed with the transport's ICE
/// credentials, which webrtc-rs draws from a CSPRNG.
fn session_guid(entropy: &str) -> Guid {
    let mut h: u128 = 0x6a09_e667_f3bc_c908_bb67_ae85_84ca_a73b;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    for b in entropy.bytes().chain(now.to_le_bytes()).chain(
        SESSION_COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .to_le_bytes(),
    ) {
        h = (h ^ u128::from(b)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    // RFC 4122 version 4 / variant bits so it reads as a random GUID.
    Guid::from_u128((h & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62))
}

impl MediaSession {
    async fn build(mut config: MediaSessionConfig) -> Result<MediaSession, SessionError> {
        // One instant, seen by both clocks: arrival times (µs since the transport's origin) map
        // to wall-clock time, so RTCP receiver reports give the round-trip time.
        if config.transport.clock_origin.is_none() {
            let origin = std::time::Instant::now();
            let unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            config.transport.clock_origin = Some(origin);
            config.audio.receiver.arrival_origin_unix_us =
                Some(i64::try_from(unix.as_micros()).unwrap_or(i64::MAX));
        }
        let audio =
            AudioThread::spawn(config.audio).map_err(|e| SessionError::Audio(e.to_string()))?;
        config.transport.local_streams = config
            .send_streams
            .iter()
            .map(|(s, msi)| LocalStream {
                ssrc: s.ssrc,
                msi: *msi,
            })
            .collect();
        let transport = Transport::new(config.transport, Arc::new(audio.input())).await?;
        let mut outbound = Vec::new();
        let mut pending_senders = Vec::new();
        for (send_config, _) in &config.send_streams {
            let (producer, sender) =
                send::outbound(*send_config).map_err(|e| SessionError::Audio(e.to_string()))?;
            outbound.push(producer);
            pending_senders.push(sender);
        }
        Ok(MediaSession {
            transport,
            audio,
            outbound,
            pending_senders,
            send_threads: Vec::new(),
            connect_timeout: config.connect_timeout,
            offer: None,
        })
    }

    /// The bot's side: creates the session and the blob to put in Graph's
    /// `appHostedMediaConfig.blob`. The media processor's answer arrives at `mp_uri`; hand it to
    /// [`MediaSession::accept_answer`].
    pub async fn offer(
        config: MediaSessionConfig,
        mp_uri: &str,
    ) -> Result<(MediaSession, ValidatedBlob), SessionError> {
        let receive_mode = config.receive_mode;
        let mut session = MediaSession::build(config).await?;
        let params = session.transport.create_offer().await?;
        let session_id = MediaSessionId::new(session_guid(&params.ice.pwd));
        let max_unmixed = if receive_mode == ReceiveMode::Mixed {
            0
        } else {
            4
        };
        let blob = MediaBlobBuilder::new(mp_uri, session_id, params)
            .receive_mode(receive_mode, max_unmixed)
            .build()?;
        session.offer = Some(blob.clone());
        Ok((session, blob))
    }

    /// The bot's side: applies the media processor's answer and waits for media to connect.
    pub async fn accept_answer(&mut self, answer: &ValidatedAnswer) -> Result<(), SessionError> {
        if let Some(offer) = &self.offer {
            answer.check_against(offer)?;
        }
        self.transport
            .accept_answer(&answer.answer().transport)
            .await?;
        self.wait_connected().await
    }

    /// The media processor's side: answers a bot's blob and waits for media to connect.
    pub async fn answer(
        config: MediaSessionConfig,
        blob: &ValidatedBlob,
    ) -> Result<(MediaSession, ValidatedAnswer), SessionError> {
        let session = MediaSession::build(config).await?;
        let params = session.transport.accept_offer(blob.transport()).await?;
        let answer = ValidatedAnswer::new(MediaAnswer::new(blob.session_id(), params))?;
        Ok((session, answer))
    }

    /// Waits until ICE + DTLS are up, then starts the send threads.
    pub async fn wait_connected(&mut self) -> Result<(), SessionError> {
        let state = self
            .transport
            .wait_for_state(self.connect_timeout, |s| {
                s == ConnectionState::Connected || s.is_terminal()
            })
            .await;
        if state != Some(ConnectionState::Connected) {
            return Err(SessionError::NotConnected(state));
        }
        for sender in self.pending_senders.drain(..) {
            let sink = Box::new(TransportSink(self.transport.sender()));
            let thread =
                SendThread::spawn(sender, sink).map_err(|e| SessionError::Audio(e.to_string()))?;
            self.send_threads.push(thread);
        }
        Ok(())
    }

    /// Puts a [`SendGate`](crate::send::SendGate) (e.g. the routing table's reader) in front of
    /// local stream `index`. Only before media connects: returns false afterwards.
    pub fn set_send_gate(&mut self, index: usize, gate: Box<dyn crate::send::SendGate>) -> bool {
        match self.pending_senders.get_mut(index) {
            Some(sender) => {
                sender.set_gate(gate);
                true
            }
            None => false,
        }
    }

    /// Where to push the audio of local stream `index` (0 for the bot's single stream).
    pub fn outbound(&mut self, index: usize) -> Option<&mut OutboundAudio> {
        self.outbound.get_mut(index)
    }

    /// Takes the producer of local stream `index`, e.g. to feed it from another thread.
    pub fn take_outbound(&mut self, index: usize) -> Option<OutboundAudio> {
        (index < self.outbound.len()).then(|| self.outbound.remove(index))
    }

    /// The receive audio thread (frames, speaker events, MSI binding).
    pub fn audio(&self) -> &AudioThread {
        &self.audio
    }

    /// The transport (state, counters, setup time).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Transport counters.
    pub fn transport_stats(&self) -> TransportStats {
        self.transport.stats()
    }

    /// Pacing and send counters of each local stream, in order.
    pub fn send_stats(&self) -> Vec<&send::SendStats> {
        self.send_threads.iter().map(SendThread::stats).collect()
    }

    /// Stops sending, closes the transport and plays out what was received; returns the
    /// receive report.
    pub async fn close(self) -> ReceiveReport {
        for thread in self.send_threads {
            thread.stop();
        }
        let _ = self.transport.close().await;
        let input = self.audio.input();
        let _ = input.finish();
        drop(input);
        let audio = self.audio;
        tokio::task::spawn_blocking(move || audio.join())
            .await
            .unwrap_or_default()
    }
}
