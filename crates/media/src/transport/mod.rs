//! Standards media transport: ICE + DTLS-SRTP + RTP/RTCP over UDP (webrtc-rs 0.21).
//!
//! # Boundary
//! Everything outside this module talks to the transport through the types defined here and
//! [`Transport`]:
//! - negotiation is the plain-data [`TransportParams`] of [`crate::session::params`], produced by
//!   [`Transport::create_offer`] / [`Transport::accept_offer`] and consumed by
//!   [`Transport::accept_offer`] / [`Transport::accept_answer`]. The side that created the media
//!   blob is the offerer (`a=setup:actpass`); the answerer is always DTLS client (`active`).
//!   Internally each `TransportParams` is turned into an SDP offer/answer for webrtc-rs and the
//!   local params are read back from the SDP webrtc-rs generated (see `sdp`).
//! - received media: decrypted RTP (full header + payload, exactly as the sender built it) and
//!   decrypted RTCP compound packets go to a [`PacketSink`] — in production the audio thread's
//!   [`InputHandle`] — with an arrival time in µs from the transport's monotonic origin. The
//!   remote `streams` plan is applied with [`PacketSink::bind`] (SSRC → MSI).
//! - sending: [`MediaSender`] is a cheap, cloneable, never-blocking handle for the (non-async)
//!   audio send thread: `try_send` of an already packetised RTP (or RTCP) packet into a bounded
//!   queue that a transport task writes out through SRTP.
//! - observation: [`ConnectionState`] as a `tokio::sync::watch`, [`TransportStats`] counters,
//!   and the setup time (remote params applied → connected) in µs.
//!
//! # How it sits on webrtc-rs
//! One `PeerConnection` per transport with a single BUNDLEd audio m-line. webrtc-rs owns the
//! socket, ICE, DTLS and SRTP. Two small hooks give this module what the public webrtc-rs API
//! does not:
//! - a *tap interceptor* at the wire end of the interceptor chain receives every packet that
//!   SRTP decrypted — including packets of SSRCs no SDP declared — and copies it to the sink
//!   (RTP only for declared SSRCs, per [`UnknownSsrcPolicy`]); on the way out it is the last
//!   stop before SRTP, where it restores the SSRC of multiplexed send streams (see Limits). A
//!   second interceptor at the application end swallows inbound RTP once webrtc-rs's RTCP
//!   receiver-report interceptor has seen it, so webrtc-rs does not also queue it for a
//!   remote-track reader nobody runs;
//! - a *counting runtime* wraps webrtc-rs's tokio runtime to see each UDP datagram as it leaves
//!   the socket: it counts datagrams that look like SRTP/SRTCP (RFC 7983 first byte 128–191),
//!   so those that never came out of decryption can be counted, and it drops SRTP-range
//!   datagrams from addresses other than the DTLS peer (see Limits).
//!
//! # Limits (what webrtc-rs 0.21 makes impossible or awkward, and what is done instead)
//! - **A DTLS failure is never reported by webrtc-rs.** Nothing in `rtc` 0.21.1 ever sets the
//!   DTLS transport to `failed`: a fingerprint mismatch aborts the handshake with a log line and
//!   the connection stays `connecting` forever. So the transport runs its own setup watchdog:
//!   not `Connected` within [`TransportConfig::connect_timeout`] of applying the remote params
//!   → `Failed` (counted in `setup_timeouts`) and the peer connection is closed. A wrong
//!   fingerprint therefore fails after that timeout, not at once.
//! - **Forged SRTP from anyone used to reach webrtc-rs's SRTP context**, which creates per-SSRC
//!   state (a replay window) *before* authenticating, and once ICE has a selected pair webrtc-rs
//!   passes datagrams from any address up to SRTP. A flood of forged packets with random SSRCs
//!   would grow that map without bound. The counting socket therefore drops RTP/RTCP-range
//!   datagrams that do not come from the address the DTLS handshake ran with, once connected
//!   (`srtp_foreign_dropped`). The filter also shields a second webrtc-rs defect: its SRTP
//!   replay window is initialised from the *first packet checked*, authentic or not, so one
//!   forged packet with a stream's SSRC and a sequence number far ahead, arriving before the
//!   stream's first genuine packet, makes every genuine packet "too old" until the sequence
//!   numbers catch up. An on-path attacker spoofing the peer's address is stopped by neither.
//!   The peer's address is learnt from DTLS datagrams until `Connected`; a DTLS-looking
//!   datagram from elsewhere in the handshake's last moments would be learnt instead, which
//!   denies service (the real peer's SRTP is then dropped) but lets nothing in.
//! - **SRTP authentication failures are inferred, not reported.** `srtp_rejected` =
//!   SRTP-range datagrams handed to webrtc-rs − packets SRTP delivered: authentication
//!   failures, replays and datagrams before the keys existed. webrtc-rs only logs them.
//! - **webrtc-rs sends on one SSRC per track.** It keeps one encoding per non-simulcast track
//!   and refuses RTP of any other SSRC. To send several streams (the simulated media processor
//!   sends one per participant) on the one m-line, the send task hands every packet to
//!   webrtc-rs under the first local stream's SSRC (the *carrier*) with its real SSRC appended
//!   as a CSRC, and the tap — the last interceptor before SRTP — moves it back. The wire packet
//!   is exactly the queued one; webrtc-rs's SDP declares only the carrier (the params declare
//!   all streams) and its sender reports count every stream under the carrier. A packet whose
//!   SSRC is not configured, or that already has 15 CSRCs, is dropped (`send_failed`).
//! - **The NAT 1:1 setting of webrtc-rs is a no-op in 0.21.1** (stored, never read), so a
//!   configured public IP is applied to the params this transport emits:
//!   [`PublicIpMode::Replace`] rewrites the host candidates' address, [`PublicIpMode::Add`]
//!   adds a server-reflexive candidate with the bound port. ICE answers checks on either.
//! - **Arrival time** is the instant webrtc-rs's driver read the datagram (`TaggedPacket::now`),
//!   not a kernel timestamp.
//! - **Offer/answer is two-step.** webrtc-rs gathers the answerer's candidates only after it has
//!   seen the offer, so the answerer's params come out of [`Transport::accept_offer`], not
//!   before it. Candidates are gathered completely before params are returned (no trickle).
//! - **`close()` emits no state event** in webrtc-rs; the transport sets `Closed` itself.
//! - **Residual growth from an authenticated peer.** The peer that holds the DTLS keys can
//!   still make webrtc-rs create SRTP state for every SSRC it invents (the tap itself keeps no
//!   per-SSRC state: undeclared packets are only counted). That peer is the one we negotiated
//!   with, so this is accepted.
//! - **webrtc-rs's RTCP receiver reports cover one remote SSRC** (the SDP binds one stream per
//!   m-line); RTCP for the other streams has to come from the audio threads if needed.

mod sdp;
mod webrtc;

use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::session::params::{AudioCodec, HeaderExtensionMap};
use crate::thread::InputHandle;

pub use self::webrtc::{DtlsCertificate, Transport};
pub use crate::session::params::TransportParams;

/// Where decrypted packets go. The audio thread's [`InputHandle`] is the production sink; tests
/// may record packets instead.
pub trait PacketSink: Send + Sync + 'static {
    /// Queues one decrypted RTP packet or RTCP compound packet without blocking. Returns `false`
    /// when the sink dropped it (full queue, stopped consumer); the transport counts that.
    fn push(&self, arrival_us: i64, bytes: &[u8]) -> bool;
    /// Tells the consumer which Teams media source an SSRC carries.
    fn bind(&self, ssrc: u32, msi: Option<u32>);
}

impl PacketSink for InputHandle {
    fn push(&self, arrival_us: i64, bytes: &[u8]) -> bool {
        self.push_datagram(arrival_us, bytes).is_ok()
    }

    fn bind(&self, ssrc: u32, msi: Option<u32>) {
        // A stopped audio thread has nothing left to attribute; the push path counts its drops.
        let _ = InputHandle::bind(self, ssrc, msi, None);
    }
}

/// How a configured public IP is advertised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicIpMode {
    /// Advertise the public IP *instead of* the bound address (host candidate, NAT 1:1).
    Replace,
    /// Advertise the public IP *besides* the bound address (extra server-reflexive candidate).
    Add,
}

/// A public address to advertise, like Microsoft's `InstancePublicIPAddress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicAddress {
    /// The address peers should send to; the port is the bound one.
    pub ip: IpAddr,
    /// Instead of or besides the host address.
    pub mode: PublicIpMode,
}

/// One SSRC this side will send, with the Teams media source it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalStream {
    /// RTP SSRC the send path stamps on its packets.
    pub ssrc: u32,
    /// Teams media source id, if it stands for one.
    pub msi: Option<u32>,
}

/// What to do with decrypted RTP whose SSRC the remote plan did not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownSsrcPolicy {
    /// Count and drop (the default: nothing undeclared reaches the audio thread).
    Drop,
    /// Count and forward unbound (the audio thread gives it a slot if it has one free).
    Forward,
}

/// Configuration of one transport.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Address to bind. A concrete address binds exactly that interface (loopback included);
    /// `0.0.0.0` / `::` binds every non-loopback interface, as webrtc-rs does for wildcards.
    pub bind_ip: IpAddr,
    /// UDP ports to try, in order, like Microsoft's `MediaPortRange`; `None` = ephemeral.
    pub port_range: Option<RangeInclusive<u16>>,
    /// A public IP to advertise.
    pub public_ip: Option<PublicAddress>,
    /// The SSRCs this side sends (the only SSRCs [`MediaSender`] can send on). Empty for a
    /// receive-only transport.
    pub local_streams: Vec<LocalStream>,
    /// RTCP CNAME of the local streams.
    pub cname: String,
    /// Audio codecs offered/accepted, in preference order.
    pub audio_codecs: Vec<AudioCodec>,
    /// RTP header extensions offered for audio (ids are assigned by negotiation).
    pub header_extensions: Vec<HeaderExtensionMap>,
    /// Undeclared SSRCs.
    pub unknown_ssrc: UnknownSsrcPolicy,
    /// Packets the send queue holds before `try_send` drops (64 = 1.28 s of 20 ms audio). Its
    /// buffers (1.5 kB each) are allocated when the transport is created.
    pub send_queue: usize,
    /// ICE connectivity-check interval; `None` keeps webrtc-rs's 200 ms.
    pub ice_check_interval: Option<Duration>,
    /// DTLS certificate; `None` uses the process-wide one ([`DtlsCertificate::shared`]).
    pub certificate: Option<DtlsCertificate>,
    /// Origin of arrival times; `None` = when the transport was created.
    pub clock_origin: Option<Instant>,
    /// Remote params applied → not `Connected` within this → `Failed`.
    pub connect_timeout: Duration,
    /// Drop SRTP-range datagrams not coming from the DTLS peer's address (see Limits). Off only
    /// to observe webrtc-rs's own SRTP authentication, or for peers whose NAT may rebind
    /// mid-call.
    pub drop_foreign_srtp: bool,
}

impl Default for TransportConfig {
    fn default() -> TransportConfig {
        TransportConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port_range: None,
            public_ip: None,
            local_streams: Vec::new(),
            cname: "mediabot".into(),
            audio_codecs: vec![AudioCodec::opus(111)],
            header_extensions: Vec::new(),
            unknown_ssrc: UnknownSsrcPolicy::Drop,
            send_queue: 64,
            ice_check_interval: None,
            certificate: None,
            clock_origin: None,
            connect_timeout: Duration::from_secs(10),
            drop_foreign_srtp: true,
        }
    }
}

/// Connection state, as webrtc-rs's `RTCPeerConnectionState` (ICE and DTLS combined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Nothing negotiated yet.
    New,
    /// ICE checks / DTLS handshake in progress.
    Checking,
    /// ICE selected a pair and DTLS-SRTP keys exist: media flows.
    Connected,
    /// ICE lost the pair; may recover.
    Disconnected,
    /// ICE or DTLS failed (includes a DTLS fingerprint mismatch). Terminal.
    Failed,
    /// Closed locally. Terminal.
    Closed,
}

impl ConnectionState {
    /// Whether no further state change can follow.
    pub fn is_terminal(self) -> bool {
        matches!(self, ConnectionState::Failed | ConnectionState::Closed)
    }
}

/// A snapshot of the transport's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// UDP datagrams read from the socket (STUN, DTLS, SRTP, anything).
    pub datagrams_received: u64,
    /// Of those, datagrams in the RTP/RTCP range (RFC 7983 first byte 128–191) handed to
    /// webrtc-rs (not counting `srtp_foreign_dropped`).
    pub srtp_datagrams_received: u64,
    /// RTP packets SRTP decrypted and authenticated.
    pub rtp_received: u64,
    /// Bytes of those RTP packets (header + payload).
    pub rtp_bytes_received: u64,
    /// RTCP compound packets SRTCP decrypted and authenticated.
    pub rtcp_received: u64,
    /// SRTP-range datagrams handed to webrtc-rs that produced no decrypted packet:
    /// authentication failure, replay, no keys yet.
    pub srtp_rejected: u64,
    /// SRTP-range datagrams dropped at the socket for not coming from the DTLS peer's address.
    pub srtp_foreign_dropped: u64,
    /// Decrypted RTP packets whose SSRC the remote plan did not declare.
    pub unknown_ssrc_packets: u64,
    /// Decrypted packets the sink refused (full audio-thread queue).
    pub sink_dropped: u64,
    /// RTP packets handed to webrtc-rs for sending.
    pub rtp_sent: u64,
    /// RTCP compound packets handed to webrtc-rs for sending.
    pub rtcp_sent: u64,
    /// Packets `try_send` dropped because the send queue was full.
    pub send_queue_full: u64,
    /// Packets the send task could not send: unparsable, SSRC not configured, not connected.
    pub send_failed: u64,
    /// ICE connection state changes.
    pub ice_state_changes: u64,
    /// Connection (ICE + DTLS) state changes.
    pub connection_state_changes: u64,
    /// Setups the watchdog failed for not connecting within the connect timeout.
    pub setup_timeouts: u64,
    /// Remote params applied → connected, in µs, once connected.
    pub setup_us: Option<u64>,
}

/// Why a packet was not queued for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The send queue is full; the packet was dropped and counted.
    #[error("transport send queue full; packet dropped")]
    Full,
    /// Too short to be RTP/RTCP or longer than a datagram.
    #[error("not an RTP/RTCP packet of a sendable size")]
    Invalid,
    /// The transport has shut down.
    #[error("transport closed")]
    Closed,
}

/// Why a transport operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// webrtc-rs reported an error.
    #[error("webrtc: {0}")]
    Webrtc(String),
    /// No port of the configured range could be bound.
    #[error("no UDP port free in {0:?}")]
    NoPort(RangeInclusive<u16>),
    /// The DTLS certificate could not be created.
    #[error("DTLS certificate: {0}")]
    Certificate(String),
    /// The configuration cannot be used.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The peer's params cannot be used.
    #[error("invalid remote params: {0}")]
    InvalidParams(String),
    /// The SDP webrtc-rs generated could not be read back.
    #[error("local SDP: {0}")]
    LocalSdp(String),
    /// The call does not fit the negotiation state (e.g. a second offer).
    #[error("negotiation: {0}")]
    Negotiation(&'static str),
    /// Waited too long for candidate gathering.
    #[error("timed out {0}")]
    Timeout(&'static str),
}

impl From<::webrtc::error::Error> for TransportError {
    fn from(error: ::webrtc::error::Error) -> TransportError {
        TransportError::Webrtc(error.to_string())
    }
}

/// The transport's counters, shared by the socket wrapper, the tap, the send path and the
/// event handler.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) datagrams_received: AtomicU64,
    pub(crate) srtp_datagrams_received: AtomicU64,
    pub(crate) srtp_foreign_dropped: AtomicU64,
    pub(crate) rtp_received: AtomicU64,
    pub(crate) rtp_bytes_received: AtomicU64,
    pub(crate) rtcp_received: AtomicU64,
    pub(crate) unknown_ssrc_packets: AtomicU64,
    pub(crate) sink_dropped: AtomicU64,
    pub(crate) rtp_sent: AtomicU64,
    pub(crate) rtcp_sent: AtomicU64,
    pub(crate) send_queue_full: AtomicU64,
    pub(crate) send_failed: AtomicU64,
    pub(crate) ice_state_changes: AtomicU64,
    pub(crate) connection_state_changes: AtomicU64,
    pub(crate) setup_timeouts: AtomicU64,
    /// µs + 1 once connected (0 = not yet).
    pub(crate) setup_us_plus_one: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> TransportStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let srtp = get(&self.srtp_datagrams_received);
        let delivered = get(&self.rtp_received) + get(&self.rtcp_received);
        let setup = get(&self.setup_us_plus_one);
        TransportStats {
            datagrams_received: get(&self.datagrams_received),
            srtp_datagrams_received: srtp,
            rtp_received: get(&self.rtp_received),
            rtp_bytes_received: get(&self.rtp_bytes_received),
            rtcp_received: get(&self.rtcp_received),
            srtp_rejected: srtp.saturating_sub(delivered),
            srtp_foreign_dropped: get(&self.srtp_foreign_dropped),
            unknown_ssrc_packets: get(&self.unknown_ssrc_packets),
            sink_dropped: get(&self.sink_dropped),
            rtp_sent: get(&self.rtp_sent),
            rtcp_sent: get(&self.rtcp_sent),
            send_queue_full: get(&self.send_queue_full),
            send_failed: get(&self.send_failed),
            ice_state_changes: get(&self.ice_state_changes),
            connection_state_changes: get(&self.connection_state_changes),
            setup_timeouts: get(&self.setup_timeouts),
            setup_us: setup.checked_sub(1),
        }
    }
}

/// A packet on its way to the send task, in a buffer recycled through a pool so that queueing
/// one never allocates in steady state.
pub(crate) struct OutPacket {
    pub(crate) len: u16,
    pub(crate) bytes: [u8; crate::thread::MAX_DATAGRAM],
}

impl OutPacket {
    pub(crate) fn data(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The send queue's wake-up: the sender wakes the send task after queueing.
#[derive(Debug, Default)]
pub(crate) struct SendWake {
    pub(crate) waker: atomic_waker::AtomicWaker,
}

/// The audio send thread's handle: queues packets for the transport without blocking.
///
/// `try_send` copies the packet into a preallocated pooled buffer and puts it on a preallocated
/// bounded queue: no allocation, no lock on the queue; then it wakes the send task (a no-op when
/// the task is already awake).
#[derive(Clone)]
pub struct MediaSender {
    pub(crate) tx: crossbeam_channel::Sender<Box<OutPacket>>,
    pub(crate) pool: crossbeam_channel::Receiver<Box<OutPacket>>,
    pub(crate) recycle: crossbeam_channel::Sender<Box<OutPacket>>,
    pub(crate) wake: Arc<SendWake>,
    pub(crate) counters: Arc<Counters>,
}

impl std::fmt::Debug for MediaSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSender").finish_non_exhaustive()
    }
}

impl MediaSender {
    /// Queues one RTP packet (or RTCP compound packet), already packetised with its SSRC,
    /// sequence number and timestamp. Never blocks: a full queue drops the packet and counts it.
    pub fn try_send(&self, packet: &[u8]) -> Result<(), SendError> {
        if packet.len() < 8 || packet.len() > crate::thread::MAX_DATAGRAM {
            Counters::bump(&self.counters.send_failed);
            return Err(SendError::Invalid);
        }
        let mut out = self.pool.try_recv().unwrap_or_else(|_| {
            Box::new(OutPacket {
                len: 0,
                bytes: [0; crate::thread::MAX_DATAGRAM],
            })
        });
        out.len = packet.len() as u16;
        out.bytes[..packet.len()].copy_from_slice(packet);
        match self.tx.try_send(out) {
            Ok(()) => {
                self.wake.waker.wake();
                Ok(())
            }
            Err(crossbeam_channel::TrySendError::Full(out)) => {
                let _ = self.recycle.try_send(out);
                Counters::bump(&self.counters.send_queue_full);
                Err(SendError::Full)
            }
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => Err(SendError::Closed),
        }
    }
}
