//! The transport on webrtc-rs 0.21: one `PeerConnection`, a tap interceptor feeding the
//! [`PacketSink`], a counting runtime around webrtc-rs's tokio runtime, and a send task.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::crypto::SignatureScheme;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::certificate::CertificateParams;
use rtc::rtp_transceiver::RTCRtpTransceiverDirection;
use rtc::rtp_transceiver::RTCRtpTransceiverInit;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::marshal::{Marshal, MarshalSize, Unmarshal};
use tokio::sync::watch;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCCertificate,
    RTCConfigurationBuilder, RTCIceConnectionState, RTCIceGatheringState, RTCPeerConnectionState,
    RTCSessionDescription, Registry, SettingEngineBuilder, configure_rtcp_reports,
};
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, RecvMeta, Runtime,
    Transmit,
};

use super::{
    ConnectionState, Counters, MediaSender, OutPacket, PacketSink, PublicAddress, PublicIpMode,
    SendWake, TransportConfig, TransportError, TransportStats, UnknownSsrcPolicy, sdp,
};
use crate::session::params::{
    DtlsFingerprint, DtlsSetup, IceCandidate, StreamDirection, StreamPlan, TransportParams,
};

/// How long [`Transport::create_offer`] / [`Transport::accept_offer`] wait for host candidates.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);
/// The mid of the remote offer the answerer builds (the answer mirrors it).
const ANSWERER_MID: &str = "0";
/// Interceptor slots: the tap is wire-most so it sees every decrypted packet before any
/// interceptor could hold one back; the stop is application-most so the RTCP report
/// interceptors still see RTP before it is swallowed.
const TAP_SLOT: usize = 500;
const STOP_SLOT: usize = 12_500;

/// A DTLS certificate (ECDSA P-256, self-signed). Creating one costs ~40 ms, so one is made per
/// process ([`DtlsCertificate::shared`]) and reused by every session; cloning is cheap.
#[derive(Clone, Debug)]
pub struct DtlsCertificate {
    certificate: RTCCertificate,
    fingerprint: DtlsFingerprint,
}

impl DtlsCertificate {
    /// Generates a fresh certificate.
    pub fn generate() -> Result<DtlsCertificate, TransportError> {
        let error = |e: &dyn std::fmt::Display| TransportError::Certificate(e.to_string());
        let provider = rtc::crypto::default_provider().map_err(|e| error(&e))?;
        let params = CertificateParams::new(vec!["mediabot".to_owned()]).map_err(|e| error(&e))?;
        let certificate =
            RTCCertificate::generate(provider.crypto(), SignatureScheme::EcdsaP256Sha256, params)
                .map_err(|e| error(&e))?;
        let fingerprint = certificate
            .get_fingerprints(provider.crypto())
            .map_err(|e| error(&e))?
            .into_iter()
            .next()
            .ok_or_else(|| TransportError::Certificate("no fingerprint".into()))?;
        Ok(DtlsCertificate {
            certificate,
            fingerprint: DtlsFingerprint {
                algorithm: fingerprint.algorithm,
                value: fingerprint.value.to_ascii_uppercase(),
            },
        })
    }

    /// The process-wide certificate, generated on first use.
    pub fn shared() -> Result<DtlsCertificate, TransportError> {
        static SHARED: OnceLock<Result<DtlsCertificate, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| DtlsCertificate::generate().map_err(|e| e.to_string()))
            .clone()
            .map_err(TransportError::Certificate)
    }

    /// The certificate's fingerprint as advertised in [`TransportParams::fingerprint`].
    pub fn fingerprint(&self) -> &DtlsFingerprint {
        &self.fingerprint
    }
}

/// What the tap needs, shared with the transport (which updates the known SSRCs).
struct TapShared {
    sink: Arc<dyn PacketSink>,
    /// The one SSRC webrtc-rs's sender accepts; the send task rides every local stream on it and
    /// the tap restores the real SSRC (see [`send_loop`]).
    carrier: Option<u32>,
    known: RwLock<HashSet<u32>>,
    policy: UnknownSsrcPolicy,
    origin: Instant,
    counters: Arc<Counters>,
}

impl TapShared {
    fn arrival_us(&self, now: Instant) -> i64 {
        i64::try_from(now.saturating_duration_since(self.origin).as_micros()).unwrap_or(i64::MAX)
    }

    fn push(&self, now: Instant, bytes: &[u8]) {
        if !self.sink.push(self.arrival_us(now), bytes) {
            Counters::bump(&self.counters.sink_dropped);
        }
    }

    fn on_rtp(&self, now: Instant, packet: &rtc::rtp::Packet, buf: &mut [u8]) {
        let counters = &self.counters;
        Counters::bump(&counters.rtp_received);
        let size = packet.marshal_size();
        counters
            .rtp_bytes_received
            .fetch_add(size as u64, Ordering::Relaxed);
        let known = self
            .known
            .read()
            .map(|known| known.contains(&packet.header.ssrc))
            .unwrap_or(false);
        if !known {
            Counters::bump(&counters.unknown_ssrc_packets);
            if self.policy == UnknownSsrcPolicy::Drop {
                return;
            }
        }
        match packet.marshal_to(buf) {
            Ok(len) => self.push(now, &buf[..len]),
            // Larger than a datagram: the sink could not take it either.
            Err(_) => Counters::bump(&counters.sink_dropped),
        }
    }

    fn on_rtcp(&self, now: Instant, packets: &[Box<dyn rtc::rtcp::Packet>]) {
        Counters::bump(&self.counters.rtcp_received);
        match rtc::rtcp::packet::marshal(packets) {
            Ok(bytes) => self.push(now, &bytes),
            Err(_) => Counters::bump(&self.counters.sink_dropped),
        }
    }
}

/// Wire-most interceptor: copies every decrypted packet to the sink, passes everything on.
struct Tap {
    shared: Arc<TapShared>,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
    buf: Vec<u8>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Tap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        match &msg.message.packet {
            Packet::Rtp(packet) => self.shared.on_rtp(msg.now, packet, &mut self.buf),
            // An empty compound is an interceptor attribute carrier, not a received packet.
            Packet::Rtcp(packets) if !packets.is_empty() => self.shared.on_rtcp(msg.now, packets),
            _ => {}
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        // The last interceptor before SRTP: give the packet its real SSRC back.
        if let Packet::Rtp(packet) = &mut msg.message.packet
            && Some(packet.header.ssrc) == self.shared.carrier
            && let Some(ssrc) = packet.header.csrc.pop()
        {
            packet.header.ssrc = ssrc;
        }
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for Tap {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// Application-most interceptor: swallows inbound RTP (already delivered by the tap) so
/// webrtc-rs does not queue it again for a remote-track reader nobody runs.
#[derive(Default)]
struct StopRtp {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for StopRtp {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if !matches!(msg.message.packet, Packet::Rtp(_)) {
            self.read.push_back(msg);
        }
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for StopRtp {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// Which address SRTP may come from: the one the DTLS handshake ran with, learnt from DTLS
/// datagrams until the connection is up, then fixed.
#[derive(Debug, Default)]
struct PeerFilter {
    enabled: bool,
    connected: AtomicBool,
    peer: Mutex<Option<SocketAddr>>,
}

impl PeerFilter {
    /// Whether a datagram from `from` whose first byte is `first` may go on to webrtc-rs.
    fn admit(&self, first: u8, from: SocketAddr) -> bool {
        let connected = self.connected.load(Ordering::Acquire);
        match first {
            // RFC 7983 DTLS: learn the peer while the handshake runs.
            20..=63 if !connected => {
                if let Ok(mut peer) = self.peer.lock() {
                    *peer = Some(from);
                }
                true
            }
            128..=191 if connected && self.enabled => self
                .peer
                .lock()
                .map(|peer| peer.is_none_or(|peer| peer == from))
                .unwrap_or(true),
            _ => true,
        }
    }
}

/// webrtc-rs's runtime with every UDP socket wrapped in a [`CountingSocket`].
#[derive(Debug)]
struct CountingRuntime {
    inner: Arc<dyn Runtime>,
    counters: Arc<Counters>,
    filter: Arc<PeerFilter>,
    local_addrs: Arc<Mutex<Vec<SocketAddr>>>,
}

impl Runtime for CountingRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let inner = self.inner.wrap_udp_socket(socket)?;
        if let (Ok(addr), Ok(mut addrs)) = (inner.local_addr(), self.local_addrs.lock()) {
            addrs.push(addr);
        }
        Ok(Arc::new(CountingSocket {
            inner,
            counters: self.counters.clone(),
            filter: self.filter.clone(),
        }))
    }

    fn wrap_tcp_listener(&self, listener: TcpListener) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        "mediabot-counting"
    }
}

/// A UDP socket that counts the datagrams webrtc-rs reads from it and drops SRTP that does
/// not come from the DTLS peer.
#[derive(Debug)]
struct CountingSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    counters: Arc<Counters>,
    filter: Arc<PeerFilter>,
}

impl AsyncUdpSocket for CountingSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        self.inner.poll_send(cx, transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        loop {
            let result = self.inner.poll_recv(cx, bufs, meta);
            let Poll::Ready(Ok(messages)) = &result else {
                return result;
            };
            let mut admitted = true;
            for (buf, meta) in bufs.iter().zip(meta.iter()).take(*messages) {
                let len = meta.len.min(buf.len());
                let stride = meta.stride.max(1);
                for datagram in buf[..len].chunks(stride) {
                    Counters::bump(&self.counters.datagrams_received);
                    let Some(&first) = datagram.first() else {
                        continue;
                    };
                    // GRO only coalesces datagrams of one flow, so one verdict per message; a
                    // batch of several messages (the driver asks for one) is never filtered.
                    if *messages == 1 && !self.filter.admit(first, meta.addr) {
                        admitted = false;
                        Counters::bump(&self.counters.srtp_foreign_dropped);
                    } else if matches!(first, 128..=191) {
                        Counters::bump(&self.counters.srtp_datagrams_received);
                    }
                }
            }
            if admitted {
                return result;
            }
            // Dropped: read the next one (or register for wake-up) instead.
        }
    }

    fn max_gso_segments(&self) -> usize {
        self.inner.max_gso_segments()
    }

    fn max_gro_segments(&self) -> usize {
        self.inner.max_gro_segments()
    }
}

/// webrtc-rs events → watch channels and counters.
struct Events {
    state: watch::Sender<ConnectionState>,
    gathered: watch::Sender<bool>,
    counters: Arc<Counters>,
    applied_at: Arc<Mutex<Option<Instant>>>,
    filter: Arc<PeerFilter>,
}

impl Events {
    /// Moves to `state` unless already in a terminal state.
    fn set_state(&self, state: ConnectionState) {
        self.state.send_if_modified(|current| {
            if current.is_terminal() || *current == state {
                false
            } else {
                *current = state;
                true
            }
        });
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Events {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_ice_connection_state_change(&self, _state: RTCIceConnectionState) {
        Counters::bump(&self.counters.ice_state_changes);
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        Counters::bump(&self.counters.connection_state_changes);
        let state = match state {
            RTCPeerConnectionState::New => ConnectionState::New,
            RTCPeerConnectionState::Connecting => ConnectionState::Checking,
            RTCPeerConnectionState::Connected => ConnectionState::Connected,
            RTCPeerConnectionState::Disconnected => ConnectionState::Disconnected,
            RTCPeerConnectionState::Failed => ConnectionState::Failed,
            RTCPeerConnectionState::Closed => ConnectionState::Closed,
            _ => return,
        };
        if state == ConnectionState::Connected {
            self.filter.connected.store(true, Ordering::Release);
            let applied = self.applied_at.lock().ok().and_then(|at| *at);
            if let Some(applied) = applied {
                let us = u64::try_from(applied.elapsed().as_micros()).unwrap_or(u64::MAX - 1);
                // First connection only: a later reconnect is not setup.
                let _ = self.counters.setup_us_plus_one.compare_exchange(
                    0,
                    us + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
        self.set_state(state);
    }
}

/// Where offer/answer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Negotiation {
    Idle,
    /// Offer sent; its audio mid.
    Offered(String),
    Done,
}

/// One standards media session: ICE + DTLS-SRTP + RTP/RTCP over UDP.
///
/// Create it inside a tokio runtime, then either [`create_offer`](Self::create_offer) and
/// later [`accept_answer`](Self::accept_answer), or [`accept_offer`](Self::accept_offer).
/// Watch [`state`](Self::state) for `Connected`; received packets go to the sink given to
/// [`new`](Self::new); send through [`sender`](Self::sender).
pub struct Transport {
    pc: Arc<dyn PeerConnection>,
    track: Option<Arc<TrackLocalStaticRTP>>,
    config: TransportConfig,
    certificate: DtlsCertificate,
    tap: Arc<TapShared>,
    counters: Arc<Counters>,
    state: watch::Receiver<ConnectionState>,
    gathered: watch::Receiver<bool>,
    applied_at: Arc<Mutex<Option<Instant>>>,
    negotiation: tokio::sync::Mutex<Negotiation>,
    sender: MediaSender,
    send_task: tokio::task::JoinHandle<()>,
    events: Arc<Events>,
    watchdog: Mutex<Option<tokio::task::JoinHandle<()>>>,
    local_addrs: Arc<Mutex<Vec<SocketAddr>>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("state", &*self.state.borrow())
            .field("local_addrs", &self.local_addrs())
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Binds the UDP socket (first free port of the configured range) and prepares the
    /// connection. Decrypted packets will go to `sink`. Must run inside a tokio runtime.
    pub async fn new(
        config: TransportConfig,
        sink: Arc<dyn PacketSink>,
    ) -> Result<Transport, TransportError> {
        if config.audio_codecs.is_empty() {
            return Err(TransportError::Config("no audio codec configured".into()));
        }
        let mut ssrcs = HashSet::new();
        if let Some(stream) = config.local_streams.iter().find(|s| !ssrcs.insert(s.ssrc)) {
            return Err(TransportError::Config(format!(
                "local SSRC {} configured twice",
                stream.ssrc
            )));
        }
        let certificate = match &config.certificate {
            Some(certificate) => certificate.clone(),
            None => DtlsCertificate::shared()?,
        };
        let counters = Arc::new(Counters::default());
        let carrier = config.local_streams.first().map(|stream| stream.ssrc);
        let tap = Arc::new(TapShared {
            sink,
            carrier,
            known: RwLock::new(HashSet::new()),
            policy: config.unknown_ssrc,
            origin: config.clock_origin.unwrap_or_else(Instant::now),
            counters: counters.clone(),
        });
        let (state_tx, state) = watch::channel(ConnectionState::New);
        let (gathered_tx, gathered) = watch::channel(false);
        let applied_at = Arc::new(Mutex::new(None));
        let local_addrs = Arc::new(Mutex::new(Vec::new()));
        let filter = Arc::new(PeerFilter {
            enabled: config.drop_foreign_srtp,
            ..PeerFilter::default()
        });
        let events = Arc::new(Events {
            state: state_tx,
            gathered: gathered_tx,
            counters: counters.clone(),
            applied_at: applied_at.clone(),
            filter: filter.clone(),
        });
        let runtime: Arc<dyn Runtime> = Arc::new(CountingRuntime {
            inner: webrtc::runtime::default_runtime()
                .ok_or_else(|| TransportError::Webrtc("no tokio runtime".into()))?,
            counters: counters.clone(),
            filter,
            local_addrs: local_addrs.clone(),
        });

        let ports: Vec<u16> = match &config.port_range {
            Some(range) => range.clone().collect(),
            None => vec![0],
        };
        let mut pc = None;
        let mut last_error = None;
        for port in ports {
            match build_peer_connection(
                &config,
                &certificate,
                &tap,
                &events,
                &runtime,
                SocketAddr::new(config.bind_ip, port),
            )
            .await
            {
                Ok(built) => {
                    pc = Some(built);
                    break;
                }
                Err(error) => last_error = Some(error),
            }
        }
        let pc = match (pc, &config.port_range, last_error) {
            (Some(pc), _, _) => pc,
            (None, Some(range), _) => return Err(TransportError::NoPort(range.clone())),
            (None, None, Some(error)) => return Err(error),
            (None, None, None) => return Err(TransportError::Webrtc("no socket bound".into())),
        };

        let track = if config.local_streams.is_empty() {
            None
        } else {
            Some(Arc::new(local_track(&config)))
        };
        let queue = config.send_queue.max(1);
        let (tx, rx) = crossbeam_channel::bounded(queue);
        let wake = Arc::new(SendWake::default());
        // Every buffer the queue can ever need, allocated now: one per queue slot plus those in
        // flight at either end, so `try_send` never allocates.
        let (recycle, pool) = crossbeam_channel::bounded(queue + 4);
        for _ in 0..queue + 2 {
            let _ = recycle.try_send(Box::new(OutPacket {
                len: 0,
                bytes: [0; crate::thread::MAX_DATAGRAM],
            }));
        }
        let configured: HashSet<u32> = config.local_streams.iter().map(|s| s.ssrc).collect();
        let send_task = tokio::spawn(send_loop(
            rx,
            wake.clone(),
            recycle.clone(),
            track.clone().zip(carrier),
            configured,
            counters.clone(),
        ));
        Ok(Transport {
            pc,
            track,
            certificate,
            tap,
            sender: MediaSender {
                tx,
                pool,
                recycle,
                wake,
                counters: counters.clone(),
            },
            counters,
            state,
            gathered,
            applied_at,
            negotiation: tokio::sync::Mutex::new(Negotiation::Idle),
            send_task,
            events,
            watchdog: Mutex::new(None),
            local_addrs,
            config,
        })
    }

    /// Offerer: creates the local params (`setup: actpass`, gathered host candidates, the
    /// configured local streams). Send them to the peer, then call
    /// [`accept_answer`](Self::accept_answer) with its reply.
    pub async fn create_offer(&self) -> Result<TransportParams, TransportError> {
        let mut negotiation = self.negotiation.lock().await;
        if *negotiation != Negotiation::Idle {
            return Err(TransportError::Negotiation("already negotiating"));
        }
        match &self.track {
            Some(track) => {
                let track: Arc<dyn TrackLocal> = track.clone();
                self.pc.add_track(track).await?;
            }
            None => {
                let init = RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    streams: Vec::new(),
                    send_encodings: Vec::new(),
                };
                self.pc
                    .add_transceiver_from_kind(RtpCodecKind::Audio, Some(init))
                    .await?;
            }
        }
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer).await?;
        let local = self.local_params().await?;
        *negotiation = Negotiation::Offered(local.mid);
        Ok(local.params)
    }

    /// Answerer: applies the offerer's params and returns this side's (`setup: active`).
    /// Setup time is measured from here.
    pub async fn accept_offer(
        &self,
        remote: &TransportParams,
    ) -> Result<TransportParams, TransportError> {
        let mut negotiation = self.negotiation.lock().await;
        if *negotiation != Negotiation::Idle {
            return Err(TransportError::Negotiation("already negotiating"));
        }
        validate_remote(remote)?;
        if remote.setup == DtlsSetup::Active {
            return Err(TransportError::InvalidParams(
                "an offer must be setup actpass or passive".into(),
            ));
        }
        self.mark_applied();
        let sdp = sdp::build(remote, ANSWERER_MID, session_id());
        let offer = RTCSessionDescription::offer(sdp)?;
        self.pc.set_remote_description(offer).await?;
        if let Some(track) = &self.track {
            let track: Arc<dyn TrackLocal> = track.clone();
            self.pc.add_track(track).await?;
        }
        self.bind_remote(remote);
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer).await?;
        let local = self.local_params().await?;
        *negotiation = Negotiation::Done;
        Ok(local.params)
    }

    /// Offerer: applies the answerer's params. Setup time is measured from here.
    pub async fn accept_answer(&self, remote: &TransportParams) -> Result<(), TransportError> {
        let mut negotiation = self.negotiation.lock().await;
        let Negotiation::Offered(mid) = &*negotiation else {
            return Err(TransportError::Negotiation("no offer outstanding"));
        };
        validate_remote(remote)?;
        if remote.setup == DtlsSetup::Actpass {
            return Err(TransportError::InvalidParams(
                "an answer must be setup active or passive".into(),
            ));
        }
        self.mark_applied();
        let sdp = sdp::build(remote, mid, session_id());
        self.bind_remote(remote);
        self.pc
            .set_remote_description(RTCSessionDescription::answer(sdp)?)
            .await?;
        *negotiation = Negotiation::Done;
        Ok(())
    }

    /// The non-blocking send handle for the audio send thread.
    pub fn sender(&self) -> MediaSender {
        self.sender.clone()
    }

    /// Connection state; `changed().await` on it to wait for transitions.
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// Waits until the state satisfies `done`, or `timeout` passes. Returns the state reached,
    /// or `None` on timeout.
    pub async fn wait_for_state(
        &self,
        timeout: Duration,
        done: impl Fn(ConnectionState) -> bool,
    ) -> Option<ConnectionState> {
        let mut state = self.state();
        tokio::time::timeout(timeout, state.wait_for(|s| done(*s)))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|s| *s)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> TransportStats {
        self.counters.snapshot()
    }

    /// The UDP addresses bound.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.local_addrs
            .lock()
            .map(|addrs| addrs.clone())
            .unwrap_or_default()
    }

    /// The DTLS certificate in use.
    pub fn certificate(&self) -> &DtlsCertificate {
        &self.certificate
    }

    /// Closes the connection and stops the send task.
    pub async fn close(&self) -> Result<(), TransportError> {
        self.send_task.abort();
        self.abort_watchdog();
        let closed = self.pc.close().await;
        self.events.set_state(ConnectionState::Closed);
        closed?;
        Ok(())
    }

    fn abort_watchdog(&self) {
        if let Some(watchdog) = self.watchdog.lock().ok().and_then(|mut w| w.take()) {
            watchdog.abort();
        }
    }

    /// Starts the setup clock and the watchdog that fails a setup that does not connect in
    /// time (webrtc-rs never reports DTLS failure itself).
    fn mark_applied(&self) {
        if let Ok(mut at) = self.applied_at.lock() {
            *at = Some(Instant::now());
        }
        let mut state = self.state.clone();
        let events = self.events.clone();
        let pc = self.pc.clone();
        let timeout = self.config.connect_timeout;
        let watchdog = tokio::spawn(async move {
            let timed_out = tokio::time::timeout(
                timeout,
                state.wait_for(|s| *s == ConnectionState::Connected || s.is_terminal()),
            )
            .await
            .is_err();
            if timed_out {
                Counters::bump(&events.counters.setup_timeouts);
                events.set_state(ConnectionState::Failed);
                // Nothing may flow on a connection that failed to authenticate.
                let _ = pc.close().await;
            }
        });
        if let Ok(mut slot) = self.watchdog.lock()
            && let Some(previous) = slot.replace(watchdog)
        {
            previous.abort();
        }
    }

    /// Declares the remote's send streams: their SSRCs become known to the tap and bound to
    /// their MSIs in the sink.
    fn bind_remote(&self, remote: &TransportParams) {
        let sends = remote
            .streams
            .iter()
            .filter(|stream| stream.direction == StreamDirection::Send);
        if let Ok(mut known) = self.tap.known.write() {
            for stream in sends {
                known.insert(stream.ssrc);
                self.tap.sink.bind(stream.ssrc, stream.msi);
            }
        }
    }

    /// Waits for candidate gathering, then reads this side's params from the local SDP.
    async fn local_params(&self) -> Result<sdp::ParsedSdp, TransportError> {
        let mut gathered = self.gathered.clone();
        tokio::time::timeout(GATHER_TIMEOUT, gathered.wait_for(|done| *done))
            .await
            .map_err(|_| TransportError::Timeout("gathering ICE candidates"))?
            .map_err(|_| TransportError::Webrtc("connection dropped".into()))?;
        let description = self
            .pc
            .local_description()
            .await
            .ok_or(TransportError::LocalSdp("no local description".into()))?;
        let mut parsed = sdp::parse(&description.sdp).map_err(TransportError::LocalSdp)?;
        // RTCP is multiplexed: component 2 duplicates are noise.
        parsed.params.candidates.retain(|c| c.component == 1);
        if let Some(public) = self.config.public_ip {
            apply_public_ip(&mut parsed.params.candidates, public);
        }
        if parsed.params.candidates.is_empty() {
            return Err(TransportError::LocalSdp("no ICE candidate gathered".into()));
        }
        // webrtc-rs declares the carrier SSRC; the params declare every local stream.
        if let Some(carrier) = self.tap.carrier
            && !parsed.params.streams.iter().any(|s| s.ssrc == carrier)
        {
            return Err(TransportError::LocalSdp(format!(
                "SSRC {carrier} missing from the local SDP"
            )));
        }
        parsed.params.streams = self
            .config
            .local_streams
            .iter()
            .map(|stream| StreamPlan {
                ssrc: stream.ssrc,
                msi: stream.msi,
                direction: StreamDirection::Send,
                cname: Some(self.config.cname.clone()),
            })
            .collect();
        Ok(parsed)
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.send_task.abort();
        self.abort_watchdog();
    }
}

/// Advertises `public` instead of or besides the host candidates' address.
fn apply_public_ip(candidates: &mut Vec<IceCandidate>, public: PublicAddress) {
    let ip = public.ip.to_string();
    let hosts: Vec<IceCandidate> = candidates
        .iter()
        .filter(|c| c.kind == "host")
        .cloned()
        .collect();
    match public.mode {
        PublicIpMode::Replace => {
            for candidate in candidates.iter_mut().filter(|c| c.kind == "host") {
                candidate.address.clone_from(&ip);
            }
        }
        PublicIpMode::Add => {
            for (index, host) in hosts.iter().enumerate() {
                candidates.push(IceCandidate {
                    foundation: format!("{}", 900 + index),
                    // RFC 8445 §5.1.2.1: type preference 100 for server-reflexive.
                    priority: (100 << 24) | (65_535 << 8) | (256 - u32::from(host.component)),
                    address: ip.clone(),
                    kind: "srflx".into(),
                    ..host.clone()
                });
            }
        }
    }
}

fn validate_remote(remote: &TransportParams) -> Result<(), TransportError> {
    let invalid = |what: &str| Err(TransportError::InvalidParams(what.into()));
    if remote.ice.ufrag.is_empty() || remote.ice.pwd.is_empty() {
        return invalid("empty ICE credentials");
    }
    if remote.candidates.is_empty() {
        return invalid("no ICE candidate");
    }
    if remote.audio_codecs.is_empty() {
        return invalid("no audio codec");
    }
    if remote.fingerprint.algorithm.is_empty() || remote.fingerprint.value.is_empty() {
        return invalid("no DTLS fingerprint");
    }
    // Values go into SDP lines verbatim: no line breaks may ride along.
    let texts = [
        &remote.ice.ufrag,
        &remote.ice.pwd,
        &remote.fingerprint.algorithm,
        &remote.fingerprint.value,
    ];
    let candidate_texts = remote
        .candidates
        .iter()
        .flat_map(|c| [&c.foundation, &c.protocol, &c.address, &c.kind]);
    let codec_texts = remote.audio_codecs.iter().flat_map(|c| [&c.name, &c.fmtp]);
    let stream_texts = remote.streams.iter().filter_map(|s| s.cname.as_ref());
    let extension_texts = remote.header_extensions.iter().map(|e| &e.uri);
    if texts
        .into_iter()
        .chain(candidate_texts)
        .chain(codec_texts)
        .chain(stream_texts)
        .chain(extension_texts)
        .any(|text| text.contains(['\r', '\n']))
    {
        return invalid("line break in a value");
    }
    Ok(())
}

fn session_id() -> u64 {
    // Any value works; it only has to be a number.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1)
}

fn rtp_codec(codec: &crate::session::params::AudioCodec) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: format!("audio/{}", codec.name),
        clock_rate: codec.clock_rate,
        channels: u16::from(codec.channels),
        sdp_fmtp_line: codec.fmtp.clone(),
        rtcp_feedback: Vec::new(),
    }
}

/// The local track: one encoding, the carrier SSRC (the first local stream).
fn local_track(config: &TransportConfig) -> TrackLocalStaticRTP {
    let codec = rtp_codec(&config.audio_codecs[0]);
    let encodings = config
        .local_streams
        .iter()
        .take(1)
        .map(|stream| RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(stream.ssrc),
                ..Default::default()
            },
            active: true,
            codec: codec.clone(),
            ..Default::default()
        })
        .collect();
    TrackLocalStaticRTP::new(MediaStreamTrack::new(
        config.cname.clone(),
        "mediabot-audio".to_owned(),
        "mediabot-audio".to_owned(),
        RtpCodecKind::Audio,
        encodings,
    ))
}

async fn build_peer_connection(
    config: &TransportConfig,
    certificate: &DtlsCertificate,
    tap: &Arc<TapShared>,
    events: &Arc<Events>,
    runtime: &Arc<dyn Runtime>,
    addr: SocketAddr,
) -> Result<Arc<dyn PeerConnection>, TransportError> {
    let mut media_engine = MediaEngine::default();
    for codec in &config.audio_codecs {
        media_engine.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: rtp_codec(codec),
                payload_type: codec.payload_type,
            },
            RtpCodecKind::Audio,
        )?;
    }
    for extension in &config.header_extensions {
        media_engine.register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: extension.uri.clone(),
            },
            RtpCodecKind::Audio,
            None,
        )?;
    }
    let registry = configure_rtcp_reports(Registry::new())
        .with(
            Slot::from(TAP_SLOT),
            Tap {
                shared: tap.clone(),
                read: VecDeque::new(),
                write: VecDeque::new(),
                buf: vec![0; crate::thread::MAX_DATAGRAM],
            },
        )
        .with(Slot::from(STOP_SLOT), StopRtp::default());

    let mut settings = SettingEngineBuilder::new()
        // The answerer is the DTLS client (a=setup:active), whatever the default.
        .with_answering_dtls_role(rtc::peer_connection::transport::RTCDtlsRole::Client)
        .with_include_loopback_candidate(config.bind_ip.is_loopback())
        .with_multicast_dns_mode(MulticastDnsMode::Disabled);
    if let Some(interval) = config.ice_check_interval {
        settings = settings.with_ice_connection_attempts(Some(interval), None);
    }
    let configuration = RTCConfigurationBuilder::new()
        .with_certificates(vec![certificate.certificate.clone()])
        .build();
    let handler: Arc<dyn PeerConnectionEventHandler> = events.clone();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(configuration)
        .with_media_engine(media_engine)
        .with_setting_engine(settings.build())
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_runtime(runtime.clone())
        .with_udp_addrs(vec![addr])
        .build()
        .await?;
    Ok(Arc::new(pc))
}

/// RFC 5761 §4: RTCP packet types 192–223 sit where RTP's marker bit + payload type is.
fn is_rtcp(packet: &[u8]) -> bool {
    matches!(packet.get(1).map(|b| b & 0x7f), Some(64..=95))
}

/// Drains the send queue into webrtc-rs (which applies SRTP and writes to the socket).
///
/// webrtc-rs sends only on its track's one SSRC (the carrier). Every RTP packet therefore goes
/// in with the carrier SSRC and its real SSRC appended as a last CSRC; the tap, the last stop
/// before SRTP, pops that CSRC back into the SSRC. The packet on the wire is byte-for-byte the
/// one queued. (webrtc-rs's own sender reports therefore cover all streams under the carrier.)
async fn send_loop(
    rx: crossbeam_channel::Receiver<Box<OutPacket>>,
    wake: Arc<SendWake>,
    recycle: crossbeam_channel::Sender<Box<OutPacket>>,
    track: Option<(Arc<TrackLocalStaticRTP>, u32)>,
    configured: HashSet<u32>,
    counters: Arc<Counters>,
) {
    loop {
        let out = match rx.try_recv() {
            Ok(out) => out,
            Err(crossbeam_channel::TryRecvError::Disconnected) => return,
            Err(crossbeam_channel::TryRecvError::Empty) => {
                // Register, then re-check, so a packet queued in between is not missed.
                std::future::poll_fn(|cx| {
                    wake.waker.register(cx.waker());
                    if rx.is_empty() {
                        Poll::Pending
                    } else {
                        Poll::Ready(())
                    }
                })
                .await;
                continue;
            }
        };
        let bytes = Bytes::copy_from_slice(out.data());
        // Back to the pool for the sender's next packet (dropped if the pool is full).
        let _ = recycle.try_send(out);
        let Some((track, carrier)) = &track else {
            Counters::bump(&counters.send_failed);
            continue;
        };
        let mut buf = bytes.clone();
        if is_rtcp(&bytes) {
            let sent = match rtc::rtcp::packet::unmarshal(&mut buf) {
                Ok(packets) => track.write_rtcp(packets).await.is_ok(),
                Err(_) => false,
            };
            Counters::bump(if sent {
                &counters.rtcp_sent
            } else {
                &counters.send_failed
            });
            continue;
        }
        let sent = match rtc::rtp::Packet::unmarshal(&mut buf) {
            Ok(mut packet)
                if configured.contains(&packet.header.ssrc) && packet.header.csrc.len() < 15 =>
            {
                packet.header.csrc.push(packet.header.ssrc);
                packet.header.ssrc = *carrier;
                track.write_rtp(packet).await.is_ok()
            }
            _ => false,
        };
        Counters::bump(if sent {
            &counters.rtp_sent
        } else {
            &counters.send_failed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtcp_is_told_from_rtp_by_the_payload_type_byte() {
        assert!(is_rtcp(&[0x80, 200, 0, 6]));
        assert!(is_rtcp(&[0x81, 201, 0, 1]));
        assert!(!is_rtcp(&[0x80, 111, 0, 1]));
        assert!(!is_rtcp(&[0x80, 0x80 | 111, 0, 1]));
        assert!(!is_rtcp(&[0x80]));
    }
}
