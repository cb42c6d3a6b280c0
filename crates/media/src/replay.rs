//! Replaying a recorded capture through the real receive pipeline.
//!
//! The capture's datagrams go to a real [`AudioThread`] with their recorded arrival times, and
//! the thread is ticked every 20 ms of capture time, so jitter, reordering and loss in the
//! recording meet the jitter buffer exactly as they would have live. Frames come back over the
//! thread's output channel on a consumer thread, and each source's audio is laid on the tick
//! timeline (gaps, when a source paused, become silence).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::capture::{CaptureError, CaptureReader, CaptureStats};
use crate::frame::{FrameFlags, PcmFormat};
use crate::opus_packet::OpusPacketInfo;
use crate::receiver::{PayloadTypes, ReceiverConfig, SourceStats};
use crate::rtp::{RtpPacket, is_rtcp};
use crate::thread::{AudioThread, AudioThreadConfig, OutputPolicy, ReceiveReport, TickSource};

/// How to replay.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayConfig {
    /// Output format.
    pub format: PcmFormat,
    /// Opus payload type; `None` detects dynamic payload types whose packets parse as Opus.
    pub payload_type: Option<u8>,
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The capture could not be opened or is not a classic pcap.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// The capture holds no RTP stream with an Opus payload.
    #[error("no Opus RTP stream found in the capture ({0} UDP datagrams looked at)")]
    NoOpusStream(u64),
    /// The pipeline could not be started.
    #[error("starting the receive pipeline: {0}")]
    Pipeline(String),
}

/// One decoded stream.
#[derive(Debug, Clone)]
pub struct ReplayStream {
    /// RTP SSRC.
    pub ssrc: u32,
    /// Payload type it used.
    pub payload_type: u8,
    /// Tick of its first frame on the replay timeline.
    pub first_tick: u64,
    /// Decoded audio, interleaved in the output format, from `first_tick` on.
    pub samples: Vec<i16>,
    /// Frames received for it.
    pub frames: u64,
    /// Frames flagged concealed, FEC-recovered and silent.
    pub concealed_frames: u64,
    /// Frames with FEC-rebuilt audio.
    pub fec_frames: u64,
    /// Silent frames.
    pub silence_frames: u64,
    /// The receiver's counters for the stream.
    pub stats: SourceStats,
}

impl ReplayStream {
    /// Duration of the decoded audio in seconds.
    pub fn duration_seconds(&self, format: PcmFormat) -> f64 {
        self.samples.len() as f64 / f64::from(format.channels()) / f64::from(format.sample_rate())
    }
}

/// Everything a replay produced.
#[derive(Debug, Clone)]
pub struct ReplayOutput {
    /// Output format of every stream.
    pub format: PcmFormat,
    /// Streams in SSRC order.
    pub streams: Vec<ReplayStream>,
    /// The mix of every stream, on the same tick timeline (`first_tick` is the first tick any
    /// stream played; `ssrc` is 0).
    pub mixed: Option<ReplayStream>,
    /// What the capture held.
    pub capture: CaptureStats,
    /// The audio thread's report.
    pub report: ReceiveReport,
    /// UDP datagrams that were neither RTP of a detected Opus stream nor RTCP.
    pub skipped_datagrams: u64,
}

/// Replays a pcap file. See the module docs.
pub fn replay_file(path: &Path, config: ReplayConfig) -> Result<ReplayOutput, ReplayError> {
    let payload_types = match config.payload_type {
        Some(pt) => PayloadTypes::only(pt),
        None => detect_opus_payload_types(path)?,
    };
    let open = || -> Result<CaptureReader<BufReader<File>>, ReplayError> {
        let file = File::open(path).map_err(CaptureError::Io)?;
        Ok(CaptureReader::new(BufReader::new(file))?)
    };
    let mut capture = open()?;

    let receiver = ReceiverConfig {
        format: config.format,
        payload_types,
        // A capture can hold many streams; the replay is offline, so be generous.
        max_sources: 64,
        ..ReceiverConfig::default()
    };
    let thread = AudioThread::spawn(AudioThreadConfig {
        receiver,
        ticks: TickSource::External,
        output_policy: OutputPolicy::Block,
        ..AudioThreadConfig::default()
    })
    .map_err(|e| ReplayError::Pipeline(e.to_string()))?;
    let input = thread.input();
    let frames = thread.frames();
    let format = config.format;
    let consumer = std::thread::Builder::new()
        .name("mediabot-replay-sink".into())
        .spawn(move || collect(frames, format))
        .map_err(|e| ReplayError::Pipeline(e.to_string()))?;

    const TICK_US: i64 = 20_000;
    let mut next_tick: Option<i64> = None;
    let mut skipped = 0u64;
    while let Some(d) = capture.next_datagram() {
        if !is_rtcp(d.payload)
            && !RtpPacket::parse(d.payload).is_ok_and(|p| payload_types.contains(p.payload_type()))
        {
            skipped += 1;
            continue;
        }
        let next = next_tick.get_or_insert(d.timestamp_us + TICK_US);
        while *next <= d.timestamp_us {
            input
                .tick()
                .map_err(|e| ReplayError::Pipeline(e.to_string()))?;
            *next += TICK_US;
        }
        input
            .push_datagram_blocking(d.timestamp_us, d.payload)
            .or_else(|e| match e {
                crate::thread::InputError::Oversize => Ok(()),
                other => Err(ReplayError::Pipeline(other.to_string())),
            })?;
    }
    let capture_stats = capture.stats();
    input
        .finish()
        .map_err(|e| ReplayError::Pipeline(e.to_string()))?;
    drop(input);
    let report = thread.join();
    let (mut streams, mixed) = consumer
        .join()
        .map_err(|_| ReplayError::Pipeline("frame consumer panicked".into()))?;
    for stream in &mut streams {
        if let Some(stats) = report.sources.iter().find(|s| s.ssrc == stream.ssrc) {
            stream.stats = *stats;
            stream.payload_type = stats.payload_type;
        }
    }
    if streams.is_empty() && report.sources.is_empty() {
        return Err(ReplayError::NoOpusStream(capture_stats.udp));
    }
    Ok(ReplayOutput {
        format,
        streams,
        mixed,
        capture: capture_stats,
        report,
        skipped_datagrams: skipped,
    })
}

/// Finds the dynamic payload types whose packets (mostly) parse as Opus: a stream qualifies
/// when at least 90 % of its first 50 payloads are valid Opus framing.
pub fn detect_opus_payload_types(path: &Path) -> Result<PayloadTypes, ReplayError> {
    let file = File::open(path).map_err(CaptureError::Io)?;
    let mut capture = CaptureReader::new(BufReader::new(file))?;
    // (ssrc, pt) -> (seen, valid)
    let mut tally: BTreeMap<(u32, u8), (u32, u32)> = BTreeMap::new();
    while let Some(d) = capture.next_datagram() {
        if is_rtcp(d.payload) {
            continue;
        }
        let Ok(p) = RtpPacket::parse(d.payload) else {
            continue;
        };
        if !(96..=127).contains(&p.payload_type()) {
            continue;
        }
        let entry = tally.entry((p.ssrc(), p.payload_type())).or_default();
        if entry.0 < 50 {
            entry.0 += 1;
            if OpusPacketInfo::parse(p.payload()).is_ok() {
                entry.1 += 1;
            }
        }
    }
    let mut types = PayloadTypes::none();
    for ((_, pt), (seen, valid)) in tally {
        if seen >= 3 && valid * 10 >= seen * 9 {
            types.insert(pt);
        }
    }
    if types.is_empty() {
        return Err(ReplayError::NoOpusStream(capture.stats().udp));
    }
    Ok(types)
}

fn collect(
    frames: crossbeam_channel::Receiver<crate::frame::PcmFrame>,
    format: PcmFormat,
) -> (Vec<ReplayStream>, Option<ReplayStream>) {
    let mut streams: BTreeMap<u32, Option<ReplayStream>> = BTreeMap::new();
    let mut mixed: Option<ReplayStream> = None;
    let per_frame = format.frame_samples();
    for frame in frames.iter() {
        let slot = if frame.flags.contains(FrameFlags::MIXED) {
            &mut mixed
        } else {
            streams.entry(frame.ssrc).or_insert(None)
        };
        let stream = slot.get_or_insert_with(|| ReplayStream {
            ssrc: frame.ssrc,
            payload_type: 0,
            first_tick: frame.tick,
            samples: Vec::new(),
            frames: 0,
            concealed_frames: 0,
            fec_frames: 0,
            silence_frames: 0,
            stats: SourceStats::default(),
        });
        // Lay the frame at its tick; a pause in the source becomes silence.
        let at = (frame.tick - stream.first_tick) as usize * per_frame;
        if stream.samples.len() < at {
            stream.samples.resize(at, 0);
        }
        stream.samples.truncate(at);
        stream.samples.extend_from_slice(frame.samples());
        stream.frames += 1;
        if frame.flags.contains(FrameFlags::CONCEALED) {
            stream.concealed_frames += 1;
        }
        if frame.flags.contains(FrameFlags::FEC_RECOVERED) {
            stream.fec_frames += 1;
        }
        if frame.flags.contains(FrameFlags::SILENCE) {
            stream.silence_frames += 1;
        }
    }
    (streams.into_values().flatten().collect(), mixed)
}
