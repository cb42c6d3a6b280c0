//! `report.json`: what the bot writes about every call when it is over.

use serde::Serialize;

/// What the bot reports about one finished call (written as `report.json`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallReport {
    /// Graph's call id (empty when the call was never created).
    pub call_id: String,
    /// The join URL (empty for an answered incoming call).
    pub join_url: String,
    /// Create-call request sent → first PCM frame received.
    pub join_latency_ms: Option<f64>,
    /// Create-call request sent → media connected (ICE + DTLS).
    pub media_connected_ms: Option<f64>,
    /// Start of the join → end of the call.
    pub duration_seconds: f64,
    /// Latest round-trip time to the media processor, from its RTCP receiver reports.
    pub rtt_ms: Option<f64>,
    /// The mix's file, when any mixed audio was recorded.
    pub mixed_wav: Option<String>,
    /// Most participants in the roster at once.
    pub peak_participants: usize,
    /// One entry per recorded audio source.
    pub participants: Vec<ParticipantReport>,
    /// Every place audio could be dropped, counted.
    pub drops: DropReport,
    /// Why the call's media failed, when it did (`null` when it ran to the end).
    pub media_failure: Option<String>,
    /// How the call ended.
    pub end: EndReport,
}

/// One recorded participant.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantReport {
    /// Participant id, when the MSI was bound to one.
    pub id: Option<String>,
    /// Display name, when known.
    pub display_name: Option<String>,
    /// Teams media source id.
    pub msi: Option<u32>,
    /// RTP SSRC.
    pub ssrc: u32,
    /// The WAV file's name (in the call's folder).
    pub wav: String,
    /// 20 ms frames written.
    pub frames: u64,
    /// Seconds with speech.
    pub speaking_seconds: f64,
    /// RTP packets received.
    pub packets: u64,
    /// Packets lost (RFC 3550).
    pub lost: u64,
    /// Packets that came too late for playout.
    pub late: u64,
    /// Frames concealed by the decoder.
    pub concealed_frames: u64,
    /// Frames rebuilt from in-band FEC.
    pub fec_recovered: u64,
    /// Interarrival jitter (RFC 3550), ms.
    pub jitter_ms: f64,
}

/// Drop counters of the whole receive path, from socket to file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DropReport {
    /// Datagrams dropped because the audio thread's input queue was full.
    pub input_dropped: u64,
    /// Datagrams dropped for being too large.
    pub oversize: u64,
    /// Frames dropped because the recorder's channel was full.
    pub frames_dropped: u64,
    /// Realtime ticks that ran more than one tick late (the audio thread was starved).
    pub late_ticks: u64,
    /// Name updates the recorder could not take (its control queue was full).
    pub recorder_names_dropped: u64,
}

/// How the call ended.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndReport {
    /// `Graph`, `NotFound`, `Unconfirmed`, `CreateFailed`, `Cancelled`, `MediaFailed`,
    /// `Shutdown`.
    pub cause: String,
    /// Graph's `resultInfo.code`, when given.
    pub code: Option<i32>,
    /// Graph's `resultInfo.subcode`, when given.
    pub subcode: Option<i32>,
    /// Graph's `resultInfo.message`, or the bot's own reason.
    pub message: Option<String>,
}
