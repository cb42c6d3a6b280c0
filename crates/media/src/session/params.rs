//! What one side of a media session tells the other so standards media can flow: ICE
//! credentials and candidates, the DTLS fingerprint and role, the audio codec, and which SSRC
//! carries which Teams media source (MSI).
//!
//! These types are shared by the app-hosted media blob (`blob`, which serialises them inside
//! Microsoft's `appHostedMediaConfig.blob` JSON string) and the transport (which turns them into
//! and out of its own negotiation format). They are plain data; validation lives in the blob
//! parser. Deserialising rejects unknown fields: the blob format is versioned, so an unknown
//! field means a newer or foreign format, never something to drop silently.

use serde::{Deserialize, Serialize};

/// Everything the peer needs to reach this side's media endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransportParams {
    /// ICE credentials (RFC 8445 §5.3).
    pub ice: IceParams,
    /// Gathered ICE candidates (host candidates, or the configured public address).
    pub candidates: Vec<IceCandidate>,
    /// DTLS certificate fingerprint (RFC 8122).
    pub fingerprint: DtlsFingerprint,
    /// DTLS role (RFC 5763 `a=setup`).
    pub setup: DtlsSetup,
    /// Audio codecs this side accepts, in preference order.
    pub audio_codecs: Vec<AudioCodec>,
    /// RTP header extensions this side uses for audio (RFC 8285).
    #[serde(default)]
    pub header_extensions: Vec<HeaderExtensionMap>,
    /// The SSRCs this side will send, with the Teams media source each one carries.
    #[serde(default)]
    pub streams: Vec<StreamPlan>,
}

/// ICE username fragment and password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IceParams {
    /// `ice-ufrag`: 4–256 ICE characters.
    pub ufrag: String,
    /// `ice-pwd`: 22–256 ICE characters.
    pub pwd: String,
}

/// One ICE candidate (RFC 8445 §5.1, the fields of an SDP `a=candidate` line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IceCandidate {
    /// Foundation.
    pub foundation: String,
    /// Component id (1 = RTP; RTCP is multiplexed).
    pub component: u16,
    /// Transport protocol; only `udp` is offered.
    pub protocol: String,
    /// Priority.
    pub priority: u32,
    /// IP address (v4 or v6 literal).
    pub address: String,
    /// UDP port.
    pub port: u16,
    /// Candidate type: `host`, `srflx`, `prflx` or `relay`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A DTLS certificate fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DtlsFingerprint {
    /// Hash function, e.g. `sha-256`.
    pub algorithm: String,
    /// Upper-case hex bytes separated by colons.
    pub value: String,
}

/// DTLS role negotiation (RFC 5763).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DtlsSetup {
    /// Offerer: either role.
    Actpass,
    /// This side is the DTLS client.
    Active,
    /// This side is the DTLS server.
    Passive,
}

/// An audio codec with its RTP payload type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AudioCodec {
    /// Dynamic payload type, 96–127.
    pub payload_type: u8,
    /// Encoding name, e.g. `opus`.
    pub name: String,
    /// RTP clock rate (48000 for Opus).
    pub clock_rate: u32,
    /// Channels as signalled (2 for Opus, per RFC 7587).
    pub channels: u8,
    /// Format parameters, e.g. `minptime=10;useinbandfec=1`.
    #[serde(default)]
    pub fmtp: String,
}

/// An RTP header extension mapping (`a=extmap`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderExtensionMap {
    /// Local id, 1–14.
    pub id: u8,
    /// Extension URI, e.g. `urn:ietf:params:rtp-hdrext:ssrc-audio-level`.
    pub uri: String,
}

/// Which way a stream flows, from the point of view of the side that declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StreamDirection {
    /// This side sends it.
    Send,
    /// This side receives it.
    Receive,
}

/// One RTP stream and the Teams media source it carries: the SSRC ↔ MSI plan that lets
/// unmixed audio be attributed to participants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamPlan {
    /// RTP SSRC.
    pub ssrc: u32,
    /// Teams media source id (the roster's `mediaStreams[].sourceId`), when it stands for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msi: Option<u32>,
    /// Direction, from the declaring side's point of view.
    pub direction: StreamDirection,
    /// RTCP CNAME of the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cname: Option<String>,
}

impl AudioCodec {
    /// Opus as mediabot offers it: PT 111, 48 kHz, in-band FEC on, 20 ms minimum ptime.
    pub fn opus(payload_type: u8) -> AudioCodec {
        AudioCodec {
            payload_type,
            name: "opus".into(),
            clock_rate: 48_000,
            channels: 2,
            fmtp: "minptime=10;useinbandfec=1".into(),
        }
    }
}
