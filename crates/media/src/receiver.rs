//! The sans-IO receive core: datagrams in, one 20 ms [`PcmFrame`] per playing source per tick out.
//!
//! A [`Receiver`] owns a fixed table of sources, each with its jitter buffer, Opus decoder and
//! sample queue, all allocated in [`Receiver::new`]. [`Receiver::handle_datagram`] demultiplexes
//! RTP from RTCP (RFC 5761), files RTP by SSRC and keeps RTCP sender reports for the wall-clock
//! mapping; [`Receiver::handle_tick`] advances every source by 20 ms and hands each produced frame
//! to a callback. Neither allocates once the receiver is built, and neither panics on any input.

use crate::decode::{DecodeError, OpusDecoder};
use crate::fifo::{SampleFifo, SegmentFlags};
use crate::frame::{FrameFlags, OPUS_RTP_CLOCK, PcmFormat, PcmFrame};
use crate::jitter::{JitterBuffer, JitterConfig, JitterStats, PushOutcome, Release};
use crate::mixer::Mixer;
use crate::opus_packet::MAX_PACKET_TICKS;
use crate::rtcp::{RtcpPacket, parse_compound};
use crate::rtp::{AudioLevel, RtpPacket, is_rtcp};
use crate::speaker::{SpeakerConfig, SpeakerDetector, SpeakerEvent, frame_dbov};

/// Most sources one receiver tracks.
pub const MAX_SOURCES: usize = 64;

/// Where a tick's output goes: each source's frame, the mix, and speaker changes.
pub trait TickSink {
    /// One source's 20 ms frame.
    fn frame(&mut self, frame: &PcmFrame);
    /// The mix of every source of the tick (when mixing is on).
    fn mixed(&mut self, frame: &PcmFrame) {
        let _ = frame;
    }
    /// An active/dominant speaker change.
    fn speaker(&mut self, event: SpeakerEvent) {
        let _ = event;
    }
}

impl<F: FnMut(&PcmFrame)> TickSink for F {
    fn frame(&mut self, frame: &PcmFrame) {
        self(frame)
    }
}

/// The set of RTP payload types that carry Opus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadTypes(u128);

impl PayloadTypes {
    /// No payload type.
    pub const fn none() -> PayloadTypes {
        PayloadTypes(0)
    }

    /// Exactly one payload type.
    pub const fn only(pt: u8) -> PayloadTypes {
        PayloadTypes(1u128 << (pt & 0x7f))
    }

    /// Every dynamic payload type (96–127); payloads that are not Opus are counted invalid.
    pub const fn dynamic() -> PayloadTypes {
        PayloadTypes(!0u128 << 96)
    }

    /// Adds a payload type.
    pub fn insert(&mut self, pt: u8) {
        self.0 |= 1u128 << (pt & 0x7f);
    }

    /// Whether `pt` is in the set.
    pub const fn contains(&self, pt: u8) -> bool {
        pt < 128 && self.0 & (1u128 << pt) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

/// Configuration of a [`Receiver`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReceiverConfig {
    /// Output format of the frames.
    pub format: PcmFormat,
    /// Jitter buffer tuning, per source.
    pub jitter: JitterConfig,
    /// Most simultaneous sources; packets of further SSRCs are counted and dropped.
    pub max_sources: usize,
    /// Opus payload types.
    pub payload_types: PayloadTypes,
    /// RFC 6464 audio-level extension id, if negotiated.
    pub audio_level_id: Option<u8>,
    /// Ticks a drained source must stay silent before its slot may go to a new SSRC.
    pub evict_after_ticks: u64,
    /// Also produce one mixed frame per tick from every playing source.
    pub mix: bool,
    /// Active/dominant speaker detection.
    pub speaker: SpeakerConfig,
    /// Wall-clock time (Unix µs) of arrival time 0, when the driver knows it: lets RTCP
    /// receiver reports about the bot's own streams give the round-trip time (RFC 3550 §6.4.1).
    pub arrival_origin_unix_us: Option<i64>,
}

impl Default for ReceiverConfig {
    fn default() -> ReceiverConfig {
        ReceiverConfig {
            format: PcmFormat::default(),
            jitter: JitterConfig::default(),
            max_sources: 16,
            payload_types: PayloadTypes::dynamic(),
            audio_level_id: None,
            evict_after_ticks: 250,
            mix: true,
            speaker: SpeakerConfig::default(),
            arrival_origin_unix_us: None,
        }
    }
}

/// What the receiver did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramOutcome {
    /// An RTP packet went to its source's jitter buffer with this outcome.
    Rtp(PushOutcome),
    /// An RTCP compound packet was read.
    Rtcp,
    /// Not RTP or RTCP: counted and dropped.
    Garbage,
    /// RTP with a payload type that is not Opus: counted and dropped.
    UnknownPayloadType,
    /// A new SSRC while every source slot is busy: counted and dropped.
    NoSourceSlot,
}

/// Counters of one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// RTP SSRC.
    pub ssrc: u32,
    /// Media source id, once bound.
    pub msi: Option<u32>,
    /// RTP payload type of the latest packet.
    pub payload_type: u8,
    /// Jitter-buffer counters (packets, bytes, lost, duplicates, reordered, late, jitter …).
    pub jitter: JitterStats,
    /// Frames emitted.
    pub frames: u64,
    /// Frames with concealed audio in them.
    pub concealed_frames: u64,
    /// Lost packets rebuilt from in-band FEC.
    pub fec_recovered: u64,
    /// Frames that were silence (DTX, pauses).
    pub silence_frames: u64,
    /// Frames inserted to grow the jitter buffer.
    pub stretched_frames: u64,
    /// Packets libopus refused to decode (concealed instead).
    pub decode_errors: u64,
    /// Last RFC 6464 audio level seen (0 = loudest, 127 = silence).
    pub audio_level: Option<AudioLevel>,
}

/// Counters of the receiver as a whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Datagrams handled.
    pub datagrams: u64,
    /// Datagrams that were neither RTP nor RTCP.
    pub garbage: u64,
    /// RTP packets with a non-Opus payload type.
    pub unknown_payload_type: u64,
    /// RTP packets of SSRCs that found no free source slot.
    pub no_source_slot: u64,
    /// RTCP compound packets read.
    pub rtcp: u64,
    /// Latest round-trip time to the peer in µs, from a report block about one of our streams
    /// (needs [`ReceiverConfig::arrival_origin_unix_us`]).
    pub rtt_us: Option<u64>,
    /// Report blocks that gave a round-trip time.
    pub rtt_samples: u64,
    /// Ticks run.
    pub ticks: u64,
}

struct Source {
    in_use: bool,
    ssrc: u32,
    msi: Option<u32>,
    participant: Option<u32>,
    jitter: JitterBuffer,
    decoder: OpusDecoder,
    fifo: SampleFifo,
    was_playing: bool,
    frame_seq: u64,
    last_activity_tick: u64,
    /// (extended RTP timestamp at the head of the queue, known)
    media_ts: u64,
    /// Latest sender report: NTP time (Unix microseconds) and RTP timestamp.
    sr: Option<(i64, u32)>,
    stats: SourceStats,
}

/// The receive core. See the module docs.
pub struct Receiver {
    config: ReceiverConfig,
    sources: Vec<Source>,
    /// SSRC → (MSI, participant) bindings, kept for sources that have not sent yet.
    bindings: Vec<(u32, Option<u32>, Option<u32>)>,
    mixer: Mixer,
    speakers: SpeakerDetector<MAX_SOURCES>,
    frame: PcmFrame,
    tick: u64,
    ending: bool,
    stats: ReceiverStats,
}

impl Receiver {
    /// Builds the receiver and allocates everything it will ever use.
    pub fn new(config: ReceiverConfig) -> Result<Receiver, DecodeError> {
        let mut config = config;
        config.max_sources = config.max_sources.clamp(1, MAX_SOURCES);
        let queue = (MAX_PACKET_TICKS as usize * 2 + 960) * usize::from(config.format.channels());
        let sources = (0..config.max_sources)
            .map(|_| {
                Ok(Source {
                    in_use: false,
                    ssrc: 0,
                    msi: None,
                    participant: None,
                    jitter: JitterBuffer::new(config.jitter),
                    decoder: OpusDecoder::new(config.format)?,
                    fifo: SampleFifo::new(queue),
                    was_playing: false,
                    frame_seq: 0,
                    last_activity_tick: 0,
                    media_ts: 0,
                    sr: None,
                    stats: SourceStats::default(),
                })
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        Ok(Receiver {
            config,
            sources,
            bindings: Vec::with_capacity(MAX_SOURCES),
            mixer: Mixer::new(config.format),
            speakers: SpeakerDetector::new(config.speaker),
            frame: PcmFrame::silent(0, config.format),
            tick: 0,
            ending: false,
            stats: ReceiverStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ReceiverConfig {
        &self.config
    }

    /// Takes one UDP payload that arrived at `arrival_us` (microseconds, any monotonic origin).
    pub fn handle_datagram(&mut self, arrival_us: i64, datagram: &[u8]) -> DatagramOutcome {
        self.stats.datagrams += 1;
        if is_rtcp(datagram) {
            return self.handle_rtcp(arrival_us, datagram);
        }
        let Ok(packet) = RtpPacket::parse(datagram) else {
            self.stats.garbage += 1;
            return DatagramOutcome::Garbage;
        };
        if !self.config.payload_types.contains(packet.payload_type()) {
            self.stats.unknown_payload_type += 1;
            return DatagramOutcome::UnknownPayloadType;
        }
        let Some(index) = self.source_index(packet.ssrc()) else {
            self.stats.no_source_slot += 1;
            return DatagramOutcome::NoSourceSlot;
        };
        let tick = self.tick;
        let level_id = self.config.audio_level_id;
        let source = &mut self.sources[index];
        source.last_activity_tick = tick;
        source.stats.payload_type = packet.payload_type();
        if let Some(level) = level_id
            .zip(packet.extension())
            .and_then(|(id, ext)| ext.find(id))
            .and_then(AudioLevel::parse)
        {
            source.stats.audio_level = Some(level);
        }
        let outcome = source.jitter.push(
            packet.sequence(),
            packet.timestamp(),
            arrival_us,
            packet.payload(),
        );
        DatagramOutcome::Rtp(outcome)
    }

    /// Binds a source to its Teams media source id and the bot's participant index. Frames from
    /// then on carry both; frames already emitted are the consumer's to re-tag. A binding for an
    /// SSRC that has not sent yet is kept (up to [`MAX_SOURCES`] of them, the oldest replaced)
    /// and applied when its first packet arrives.
    pub fn bind_source(&mut self, ssrc: u32, msi: Option<u32>, participant: Option<u32>) {
        if let Some(i) = self.bindings.iter().position(|b| b.0 == ssrc) {
            self.bindings[i] = (ssrc, msi, participant);
        } else {
            if self.bindings.len() == MAX_SOURCES {
                self.bindings.remove(0);
            }
            self.bindings.push((ssrc, msi, participant));
        }
        if let Some(s) = self.sources.iter_mut().find(|s| s.in_use && s.ssrc == ssrc) {
            s.msi = msi;
            s.participant = participant;
            s.stats.msi = msi;
        }
    }

    /// Declares that no more datagrams will come: sources stop as soon as their buffers run dry
    /// instead of concealing. Used at the end of a capture.
    pub fn finish(&mut self) {
        self.ending = true;
        for s in self.sources.iter_mut().filter(|s| s.in_use) {
            s.jitter.set_ending(true);
        }
    }

    /// Whether every source has played out everything it received.
    pub fn is_drained(&self) -> bool {
        self.sources
            .iter()
            .filter(|s| s.in_use)
            .all(|s| s.jitter.is_drained() && s.fifo.is_empty())
    }

    /// Current tick number (ticks run so far).
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// Advances every source by one 20 ms tick and hands each frame produced, the mix and any
    /// speaker change to `sink` (a closure taking `&PcmFrame` is a sink of frames only).
    pub fn handle_tick(&mut self, sink: &mut impl TickSink) {
        let mix = self.config.mix;
        self.mixer.begin();
        let mut mixed_ts = None;
        let frame_samples = self.config.format.frame_samples();
        let channels = u64::from(self.config.format.channels());
        let rate = u64::from(self.config.format.sample_rate());
        let ending = self.ending;
        for source in self.sources.iter_mut().filter(|s| s.in_use) {
            source.jitter.begin_tick();
            let Source {
                jitter,
                decoder,
                fifo,
                stats,
                ..
            } = source;
            let mut produced = true;
            while fifo.len() < frame_samples {
                let step = match jitter.pop() {
                    Release::Idle => {
                        produced = !fifo.is_empty();
                        break;
                    }
                    Release::Packet { payload, duration } => {
                        match decoder.decode(payload, duration, fifo) {
                            Err(DecodeError::Opus(_)) => {
                                stats.decode_errors += 1;
                                decoder.conceal(duration, fifo)
                            }
                            other => other,
                        }
                    }
                    Release::Missing {
                        duration,
                        fec,
                        fec_duration,
                    } => match fec {
                        Some(next) if fec_duration > 0 => {
                            stats.fec_recovered += 1;
                            decoder
                                .conceal(duration - fec_duration, fifo)
                                .and_then(|()| decoder.decode_fec(next, fec_duration, fifo))
                        }
                        _ => decoder.conceal(duration, fifo),
                    },
                    Release::Silence { duration } => decoder.silence(duration, fifo),
                    Release::Stretch { duration } => {
                        stats.stretched_frames += 1;
                        decoder.stretch(duration, fifo)
                    }
                    Release::Underrun { duration } => decoder.conceal(duration, fifo),
                };
                if step.is_err() {
                    // Only a queue overflow gets here; start the source over rather than stall.
                    fifo.clear();
                    jitter.reset();
                    let _ = decoder.reset();
                    produced = false;
                    break;
                }
            }
            let playing = jitter.is_playing() || !fifo.is_empty();
            if !produced || (!playing && fifo.is_empty()) {
                if source.was_playing && !playing {
                    // End of a talkspurt: a new one restarts from a clean decoder.
                    let _ = source.decoder.reset();
                    source.was_playing = false;
                }
                if ending && source.jitter.is_drained() && source.fifo.is_empty() {
                    source.was_playing = false;
                }
                continue;
            }
            if !source.was_playing {
                source.was_playing = true;
                source.media_ts = source
                    .jitter
                    .play_timestamp()
                    .saturating_sub(source.fifo.len() as u64 * 48_000 / rate / channels);
            }
            let frame = &mut self.frame;
            let flags = source.fifo.pop_into(frame.samples_mut());
            frame.flags = frame_flags(flags);
            frame.ssrc = source.ssrc;
            frame.msi = source.msi;
            frame.participant = source.participant;
            frame.tick = self.tick;
            frame.sequence = source.frame_seq;
            frame.media_timestamp = source.media_ts;
            frame.capture_unix_micros = source.sr.map(|(ntp_us, sr_ts)| {
                let delta = source.media_ts as i64 - i64::from(sr_ts);
                // RTP timestamps wrap at 2^32; compare within the low 32 bits.
                let delta = i64::from((delta as u32) as i32);
                ntp_us + delta * 1_000_000 / i64::from(OPUS_RTP_CLOCK)
            });
            source.frame_seq += 1;
            source.media_ts += 960;
            source.stats.frames += 1;
            if frame.flags.contains(FrameFlags::CONCEALED) {
                source.stats.concealed_frames += 1;
            }
            if frame.flags.contains(FrameFlags::SILENCE) {
                source.stats.silence_frames += 1;
            }
            let level = match source.stats.audio_level {
                Some(l) => -f32::from(l.level_dbov),
                None => frame_dbov(frame.samples()),
            };
            self.speakers
                .observe(frame.ssrc, frame.msi, level, &mut |e| sink.speaker(e));
            if mix {
                self.mixer.add(frame);
                mixed_ts.get_or_insert(frame.media_timestamp);
            }
            sink.frame(frame);
        }
        self.speakers.end_tick(&mut |e| sink.speaker(e));
        if let Some(mixed) = self.mixer.finish(self.tick, mixed_ts.unwrap_or(0)) {
            sink.mixed(mixed);
        }
        self.tick += 1;
        self.stats.ticks += 1;
    }

    /// Counters of the receiver.
    pub fn stats(&self) -> ReceiverStats {
        self.stats
    }

    /// Counters of every source seen, in order of first appearance.
    pub fn source_stats(&self) -> impl Iterator<Item = SourceStats> + '_ {
        self.sources.iter().filter(|s| s.in_use).map(|s| {
            let mut stats = s.stats;
            stats.ssrc = s.ssrc;
            stats.jitter = s.jitter.stats();
            stats
        })
    }

    fn handle_rtcp(&mut self, arrival_us: i64, datagram: &[u8]) -> DatagramOutcome {
        self.stats.rtcp += 1;
        let arrival_ntp = self.config.arrival_origin_unix_us.and_then(|origin| {
            let unix_us = u64::try_from(origin.saturating_add(arrival_us)).ok()?;
            Some(crate::rtcp::NtpTime::from_unix_duration(
                std::time::Duration::from_micros(unix_us),
            ))
        });
        for packet in parse_compound(datagram) {
            let Ok(packet) = packet else {
                self.stats.garbage += 1;
                return DatagramOutcome::Garbage;
            };
            // Report blocks about streams we do not receive are about what we send: the peer
            // echoes our SR's time (LSR) and how long it held it (DLSR).
            let blocks = match &packet {
                RtcpPacket::SenderReport(sr) => Some(sr.report_blocks()),
                RtcpPacket::ReceiverReport(rr) => Some(rr.report_blocks()),
                _ => None,
            };
            if let (Some(blocks), Some(arrival)) = (blocks, arrival_ntp) {
                for block in blocks {
                    let about_ours = !self
                        .sources
                        .iter()
                        .any(|s| s.in_use && s.ssrc == block.ssrc);
                    if let Some(rtt) = block.round_trip_time(arrival).filter(|_| about_ours) {
                        self.stats.rtt_us = Some(rtt.as_micros() as u64);
                        self.stats.rtt_samples += 1;
                    }
                }
            }
            if let RtcpPacket::SenderReport(sr) = packet {
                let unix_us = sr
                    .ntp_timestamp
                    .to_unix_duration()
                    .map(|d| d.as_micros() as i64);
                if let (Some(source), Some(unix_us)) = (
                    self.sources
                        .iter_mut()
                        .find(|s| s.in_use && s.ssrc == sr.ssrc),
                    unix_us,
                ) {
                    source.sr = Some((unix_us, sr.rtp_timestamp));
                }
            }
        }
        DatagramOutcome::Rtcp
    }

    fn source_index(&mut self, ssrc: u32) -> Option<usize> {
        if let Some(i) = self.sources.iter().position(|s| s.in_use && s.ssrc == ssrc) {
            return Some(i);
        }
        let tick = self.tick;
        let evict_after = self.config.evict_after_ticks;
        let free = self.sources.iter().position(|s| !s.in_use).or_else(|| {
            self.sources
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.jitter.is_drained()
                        && s.fifo.is_empty()
                        && tick.saturating_sub(s.last_activity_tick) >= evict_after
                })
                .min_by_key(|(_, s)| s.last_activity_tick)
                .map(|(i, _)| i)
        })?;
        let ending = self.ending;
        let binding = self.bindings.iter().find(|b| b.0 == ssrc).copied();
        let s = &mut self.sources[free];
        s.in_use = true;
        s.ssrc = ssrc;
        s.msi = binding.and_then(|b| b.1);
        s.participant = binding.and_then(|b| b.2);
        s.jitter.reset();
        s.jitter.set_ending(ending);
        s.fifo.clear();
        // A fresh libopus state; reset cannot fail on a valid decoder.
        let _ = s.decoder.reset();
        s.was_playing = false;
        s.frame_seq = 0;
        s.media_ts = 0;
        s.sr = None;
        s.stats = SourceStats {
            ssrc,
            msi: s.msi,
            ..SourceStats::default()
        };
        Some(free)
    }
}

fn frame_flags(segment: SegmentFlags) -> FrameFlags {
    let mut f = FrameFlags::empty();
    if segment.contains(SegmentFlags::SILENCE) {
        f.insert(FrameFlags::SILENCE);
    }
    if segment.contains(SegmentFlags::CONCEALED) {
        f.insert(FrameFlags::CONCEALED);
    }
    if segment.contains(SegmentFlags::FEC) {
        f.insert(FrameFlags::FEC_RECOVERED);
    }
    if segment.contains(SegmentFlags::STRETCHED) {
        f.insert(FrameFlags::STRETCHED);
    }
    f
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::rtcp::{NtpTime, SenderInfo, write_sender_report};
    use crate::rtp::RtpHeader;

    /// Real Opus packets of a 440 Hz tone, 20 ms each.
    fn opus_packets(n: usize) -> Vec<Vec<u8>> {
        let mut enc =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        (0..n)
            .map(|k| {
                let pcm: Vec<i16> = (0..960)
                    .map(|i| {
                        let t = (k * 960 + i) as f64 / 48_000.0;
                        (4_000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
                    })
                    .collect();
                let mut out = vec![0u8; 400];
                let len = enc.encode(&pcm, &mut out).unwrap();
                out.truncate(len);
                out
            })
            .collect()
    }

    fn rtp(ssrc: u32, pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        RtpHeader {
            marker: false,
            payload_type: pt,
            sequence: seq,
            timestamp: ts,
            ssrc,
        }
        .write(&[], payload, &mut out)
        .unwrap();
        out
    }

    fn frames_of(rx: &mut Receiver) -> Vec<PcmFrame> {
        let mut got = Vec::new();
        rx.handle_tick(&mut |f: &PcmFrame| got.push(f.clone()));
        got
    }

    #[test]
    fn sender_report_maps_media_time_to_wall_clock() {
        let packets = opus_packets(4);
        let mut rx = Receiver::new(ReceiverConfig::default()).unwrap();
        let unix = Duration::from_secs(1_800_000_000);
        let mut sr = Vec::new();
        write_sender_report(
            5,
            &SenderInfo {
                ntp_timestamp: NtpTime::from_unix_duration(unix),
                rtp_timestamp: 48_000,
                packet_count: 0,
                octet_count: 0,
            },
            &[],
            &mut sr,
        );
        for (i, p) in packets.iter().enumerate() {
            let ts = 48_000 + 960 * i as u32;
            rx.handle_datagram(i as i64 * 20_000, &rtp(5, 111, i as u16, ts, p));
        }
        assert_eq!(rx.handle_datagram(70_000, &sr), DatagramOutcome::Rtcp);
        let mut frames = Vec::new();
        for _ in 0..4 {
            frames.extend(frames_of(&mut rx));
        }
        let first = frames.first().expect("a frame");
        // Extended timestamps start in cycle 1; the low 32 bits are the RTP timestamp.
        assert_eq!(first.media_timestamp as u32, 48_000);
        assert_eq!(first.capture_unix_micros, Some(unix.as_micros() as i64));
        let second = &frames[1];
        assert_eq!(
            second.capture_unix_micros,
            Some(unix.as_micros() as i64 + 20_000)
        );
    }

    #[test]
    fn a_receiver_report_about_our_stream_gives_the_round_trip_time() {
        use crate::rtcp::{ReportBlock, write_receiver_report};
        let origin = 1_800_000_000_000_000i64; // Unix µs at arrival time 0
        let mut rx = Receiver::new(ReceiverConfig {
            arrival_origin_unix_us: Some(origin),
            ..ReceiverConfig::default()
        })
        .unwrap();
        // We sent an SR at origin + 1 s; the peer held it 250 ms and its RR arrives at
        // origin + 1.3 s: RTT = 300 ms - 250 ms = 50 ms.
        let sr_sent =
            NtpTime::from_unix_duration(Duration::from_micros((origin + 1_000_000) as u64));
        let block = ReportBlock {
            ssrc: 0x6d62_0001,
            fraction_lost: 0,
            cumulative_lost: 0,
            highest_seq: 10,
            jitter: 0,
            last_sr: sr_sent.middle_32(),
            delay_since_last_sr: 65_536 / 4,
        };
        let mut rr = Vec::new();
        write_receiver_report(0x0a11_ce01, &[block], &mut rr);
        assert_eq!(rx.handle_datagram(1_300_000, &rr), DatagramOutcome::Rtcp);
        let rtt = rx.stats().rtt_us.expect("an RTT");
        assert!((49_900..=50_100).contains(&rtt), "{rtt} µs");
        assert_eq!(rx.stats().rtt_samples, 1);
    }

    #[test]
    fn foreign_datagrams_are_counted_not_decoded() {
        let mut rx = Receiver::new(ReceiverConfig {
            payload_types: PayloadTypes::only(111),
            ..ReceiverConfig::default()
        })
        .unwrap();
        let p = opus_packets(1).remove(0);
        assert_eq!(rx.handle_datagram(0, b"hello"), DatagramOutcome::Garbage);
        assert_eq!(
            rx.handle_datagram(0, &rtp(1, 0, 1, 0, &p)),
            DatagramOutcome::UnknownPayloadType
        );
        assert_eq!(
            rx.handle_datagram(0, &rtp(1, 111, 1, 0, &p)),
            DatagramOutcome::Rtp(PushOutcome::Accepted)
        );
        let s = rx.stats();
        assert_eq!((s.datagrams, s.garbage, s.unknown_payload_type), (3, 1, 1));
    }

    #[test]
    fn a_flood_of_new_ssrcs_is_bounded_by_the_source_table() {
        let mut rx = Receiver::new(ReceiverConfig {
            max_sources: 4,
            ..ReceiverConfig::default()
        })
        .unwrap();
        let p = opus_packets(1).remove(0);
        for ssrc in 0..1_000u32 {
            rx.handle_datagram(0, &rtp(ssrc, 111, 0, 0, &p));
        }
        assert_eq!(rx.source_stats().count(), 4);
        assert_eq!(rx.stats().no_source_slot, 996);
    }

    #[test]
    fn an_idle_source_slot_goes_to_a_new_ssrc() {
        let mut rx = Receiver::new(ReceiverConfig {
            max_sources: 1,
            evict_after_ticks: 5,
            ..ReceiverConfig::default()
        })
        .unwrap();
        let p = opus_packets(1).remove(0);
        rx.handle_datagram(0, &rtp(1, 111, 0, 0, &p));
        for _ in 0..20 {
            rx.handle_tick(&mut |_: &PcmFrame| {});
        }
        assert_eq!(
            rx.handle_datagram(400_000, &rtp(2, 111, 0, 0, &p)),
            DatagramOutcome::Rtp(PushOutcome::Accepted)
        );
        assert_eq!(rx.source_stats().next().unwrap().ssrc, 2);
    }

    #[test]
    fn bound_sources_tag_their_frames() {
        let packets = opus_packets(3);
        let mut rx = Receiver::new(ReceiverConfig::default()).unwrap();
        for (i, p) in packets.iter().enumerate() {
            rx.handle_datagram(0, &rtp(9, 111, i as u16, 960 * i as u32, p));
        }
        rx.bind_source(9, Some(4242), Some(3));
        rx.bind_source(10, Some(77), None);
        rx.handle_datagram(0, &rtp(10, 111, 0, 0, &packets[0]));
        let mut frames = Vec::new();
        for _ in 0..4 {
            frames.extend(frames_of(&mut rx));
        }
        assert!(!frames.is_empty());
        assert!(
            frames
                .iter()
                .filter(|f| f.ssrc == 9)
                .all(|f| f.msi == Some(4242) && f.participant == Some(3))
        );
        // Bound before its first packet: the binding waited for it.
        assert!(frames.iter().any(|f| f.ssrc == 10));
        assert!(
            frames
                .iter()
                .filter(|f| f.ssrc == 10)
                .all(|f| f.msi == Some(77))
        );
    }
}
