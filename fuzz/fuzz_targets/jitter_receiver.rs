//! Drives the sans-IO receive core (`Receiver`: RTP/RTCP demux, jitter buffer, Opus decode,
//! mix) with a fuzzer-chosen script of datagrams, arrival times, bindings and 20 ms ticks. It
//! must never panic; every frame it emits (and the mix) is exactly 20 ms at the configured
//! format, at most one per source per tick, numbered without gaps; its counters agree with the
//! outcomes it returned.
//!
//! Input layout (every read past the end yields zeros, so any byte string is a script):
//! - byte 0, the configuration: bits 0–1 the output format (16 kHz mono, 48 kHz mono,
//!   48 kHz stereo, 44.1 kHz mono — a resampled rate), bit 2 mixing, bit 3 the audio-level
//!   extension (id 1), bit 4 a wall-clock origin (for RTCP round-trip times), bit 5 `finish` and
//!   drain at the end, bits 6–7 the number of source slots minus one (1–4);
//! - byte 1: ticks after which a drained source's slot may be evicted;
//! - then records, each starting with an opcode byte whose low two bits select:
//!   - `0`: run `1 + (op >> 2) % 16` ticks;
//!   - `1`: an RTP packet built from fields: flags (bits 0–1 the SSRC out of four, bit 2 the
//!     marker, bits 3–4 the payload type 111 / 97 / 0 / a raw byte, bit 5 an audio-level
//!     element), sequence step (i8), timestamp step (i8, in 10 ms units), arrival step (ms),
//!     payload length, payload;
//!   - `2`: a raw datagram (RTCP or garbage): arrival step (ms), length (u16 LE), bytes;
//!   - `3`: by `(op >> 2) % 4`: an RTCP sender report for one of the SSRCs, a receiver report,
//!     a `bind_source`, or a jump of the arrival clock by up to 65 s.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mediabot_media::frame::{FrameFlags, PcmFormat, PcmFrame};
use mediabot_media::jitter::PushOutcome;
use mediabot_media::receiver::{DatagramOutcome, PayloadTypes, Receiver, ReceiverConfig, TickSink};
use mediabot_media::rtcp::{
    NtpTime, ReportBlock, SenderInfo, write_receiver_report, write_sender_report,
};
use mediabot_media::rtp::{RtpHeader, is_rtcp};
use mediabot_media::speaker::SpeakerEvent;

/// The four SSRCs a script can use; four slots at most, so eviction and `NoSourceSlot` happen.
const SSRCS: [u32; 4] = [0x1111_1111, 0x2222_2222, 0x8000_0003, 0xffff_ffff];
/// Bound on ticks in one run, so a script of tick records cannot make one execution slow.
const MAX_TICKS: u64 = 4_000;
/// Ticks a finished receiver gets to play out what it holds: a full jitter buffer (128 packets
/// of up to 120 ms = 768 ticks) plus the idle timeout, with margin.
const DRAIN_TICKS: u64 = 1_000;

struct Script<'a> {
    bytes: &'a [u8],
}

impl<'a> Script<'a> {
    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn u8(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&b, rest)) => {
                self.bytes = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.bytes.split_at(n.min(self.bytes.len()));
        self.bytes = rest;
        head
    }
}

/// What the harness expects of one source, reset whenever the receiver gives its slot away.
#[derive(Default, Clone, Copy)]
struct Tally {
    ssrc: u32,
    frames: u64,
    concealed: u64,
    silence: u64,
    /// Pushes by outcome: accepted, reordered, resynced, duplicate, late, invalid.
    accepted: u64,
    reordered: u64,
    resynced: u64,
    duplicates: u64,
    late: u64,
    invalid: u64,
    bytes: u64,
    last_frame_tick: Option<u64>,
}

/// Checks every frame as it is handed out.
struct Sink<'t> {
    format: PcmFormat,
    mix: bool,
    tick: u64,
    tallies: &'t mut Vec<Tally>,
    frames_this_tick: u32,
    mixed_this_tick: u32,
}

fn twenty_ms(format: PcmFormat) -> usize {
    (format.sample_rate() / 50) as usize * usize::from(format.channels())
}

impl TickSink for Sink<'_> {
    fn frame(&mut self, frame: &PcmFrame) {
        assert_eq!(
            frame.samples().len(),
            twenty_ms(self.format),
            "a 20 ms frame"
        );
        assert_eq!(frame.tick, self.tick);
        assert!(!frame.flags.contains(FrameFlags::MIXED));
        let tally = self
            .tallies
            .iter_mut()
            .find(|t| t.ssrc == frame.ssrc)
            .expect("frames come only from sources that sent RTP");
        assert_ne!(
            tally.last_frame_tick,
            Some(self.tick),
            "one frame per source per tick"
        );
        assert_eq!(frame.sequence, tally.frames, "frame numbers have no gaps");
        tally.last_frame_tick = Some(self.tick);
        tally.frames += 1;
        tally.concealed += u64::from(frame.flags.contains(FrameFlags::CONCEALED));
        tally.silence += u64::from(frame.flags.contains(FrameFlags::SILENCE));
        self.frames_this_tick += 1;
    }

    fn mixed(&mut self, frame: &PcmFrame) {
        assert!(self.mix, "no mix unless configured");
        assert_eq!(frame.samples().len(), twenty_ms(self.format), "a 20 ms mix");
        assert_eq!(frame.tick, self.tick);
        assert!(frame.flags.contains(FrameFlags::MIXED));
        self.mixed_this_tick += 1;
    }

    fn speaker(&mut self, event: SpeakerEvent) {
        let _ = event;
    }
}

struct Harness {
    rx: Receiver,
    format: PcmFormat,
    mix: bool,
    tallies: Vec<Tally>,
    datagrams: u64,
    rtcp: u64,
    garbage: u64,
    unknown_payload_type: u64,
    no_source_slot: u64,
}

impl Harness {
    fn datagram(&mut self, arrival_us: i64, datagram: &[u8]) {
        let outcome = self.rx.handle_datagram(arrival_us, datagram);
        self.datagrams += 1;
        self.rtcp += u64::from(is_rtcp(datagram));
        // A slot given to a new SSRC starts from zero: forget whoever is gone.
        let live: Vec<u32> = self.rx.source_stats().map(|s| s.ssrc).collect();
        self.tallies.retain(|t| live.contains(&t.ssrc));
        match outcome {
            DatagramOutcome::Rtp(push) => {
                let header = mediabot_media::rtp::RtpPacket::parse(datagram)
                    .expect("the receiver took it as RTP");
                let ssrc = header.ssrc();
                let index = match self.tallies.iter().position(|t| t.ssrc == ssrc) {
                    Some(i) => i,
                    None => {
                        self.tallies.push(Tally {
                            ssrc,
                            ..Tally::default()
                        });
                        self.tallies.len() - 1
                    }
                };
                let tally = &mut self.tallies[index];
                let stored = match push {
                    PushOutcome::Accepted => {
                        tally.accepted += 1;
                        true
                    }
                    PushOutcome::Reordered => {
                        tally.reordered += 1;
                        true
                    }
                    PushOutcome::Resynced => {
                        tally.resynced += 1;
                        true
                    }
                    PushOutcome::Duplicate => {
                        tally.duplicates += 1;
                        false
                    }
                    PushOutcome::Late => {
                        tally.late += 1;
                        false
                    }
                    PushOutcome::Invalid => {
                        tally.invalid += 1;
                        false
                    }
                };
                if stored {
                    tally.bytes += header.payload().len() as u64;
                }
            }
            DatagramOutcome::Rtcp => assert!(is_rtcp(datagram)),
            DatagramOutcome::Garbage => self.garbage += 1,
            DatagramOutcome::UnknownPayloadType => self.unknown_payload_type += 1,
            DatagramOutcome::NoSourceSlot => self.no_source_slot += 1,
        }
        self.check();
    }

    fn tick(&mut self) {
        let tick = self.rx.tick();
        let mut sink = Sink {
            format: self.format,
            mix: self.mix,
            tick,
            tallies: &mut self.tallies,
            frames_this_tick: 0,
            mixed_this_tick: 0,
        };
        self.rx.handle_tick(&mut sink);
        let (frames, mixed) = (sink.frames_this_tick, sink.mixed_this_tick);
        assert_eq!(self.rx.tick(), tick + 1);
        if self.mix {
            assert_eq!(mixed, u32::from(frames > 0), "one mix per tick with frames");
        }
        // A decoder queue overflow restarts a source's jitter buffer and its counters (the
        // only way they go back to zero without the slot changing hands).
        for stats in self.rx.source_stats() {
            let j = stats.jitter;
            let zero = j.packets == 0
                && j.duplicates == 0
                && j.late == 0
                && j.invalid == 0
                && j.reordered == 0
                && j.resyncs == 0;
            if let Some(t) = self.tallies.iter_mut().find(|t| t.ssrc == stats.ssrc)
                && zero
            {
                t.accepted = 0;
                t.reordered = 0;
                t.resynced = 0;
                t.duplicates = 0;
                t.late = 0;
                t.invalid = 0;
                t.bytes = 0;
            }
        }
        self.check();
    }

    fn check(&self) {
        let s = self.rx.stats();
        assert_eq!(s.datagrams, self.datagrams);
        assert_eq!(s.ticks, self.rx.tick());
        assert_eq!(s.rtcp, self.rtcp);
        assert_eq!(s.garbage, self.garbage);
        assert_eq!(s.unknown_payload_type, self.unknown_payload_type);
        assert_eq!(s.no_source_slot, self.no_source_slot);
        assert_eq!(s.rtt_us.is_some(), s.rtt_samples > 0);
        let mut sources = 0;
        for stats in self.rx.source_stats() {
            sources += 1;
            let t = self
                .tallies
                .iter()
                .find(|t| t.ssrc == stats.ssrc)
                .expect("a source exists only after RTP of its SSRC");
            assert_eq!(stats.frames, t.frames, "frames counted as emitted");
            assert_eq!(stats.concealed_frames, t.concealed);
            assert_eq!(stats.silence_frames, t.silence);
            assert!(stats.frames <= s.ticks);
            let j = stats.jitter;
            assert_eq!(j.packets, t.accepted + t.reordered + t.resynced);
            assert_eq!(j.bytes, t.bytes);
            assert_eq!(j.reordered, t.reordered);
            assert_eq!(j.resyncs, t.resynced);
            assert_eq!(j.duplicates, t.duplicates);
            assert_eq!(j.late, t.late);
            assert_eq!(j.invalid, t.invalid);
        }
        assert!(sources <= self.rx.config().max_sources);
        assert_eq!(sources, self.tallies.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let mut script = Script { bytes: data };
    let flags = script.u8();
    let format = match flags & 3 {
        0 => PcmFormat::PCM16K_MONO,
        1 => PcmFormat::new(48_000, 1).expect("a valid format"),
        2 => PcmFormat::new(48_000, 2).expect("a valid format"),
        _ => PcmFormat::new(44_100, 1).expect("a valid format"),
    };
    let mix = flags & 4 != 0;
    let config = ReceiverConfig {
        format,
        max_sources: usize::from(flags >> 6) + 1,
        payload_types: PayloadTypes::dynamic(),
        audio_level_id: (flags & 8 != 0).then_some(1),
        evict_after_ticks: u64::from(script.u8()),
        mix,
        arrival_origin_unix_us: (flags & 16 != 0).then_some(1_800_000_000_000_000),
        ..ReceiverConfig::default()
    };
    let finish = flags & 32 != 0;
    let mut h = Harness {
        rx: Receiver::new(config).expect("a receiver for a valid format"),
        format,
        mix,
        tallies: Vec::new(),
        datagrams: 0,
        rtcp: 0,
        garbage: 0,
        unknown_payload_type: 0,
        no_source_slot: 0,
    };
    let mut arrival_us: i64 = 0;
    let mut seq = [0u16; 4];
    let mut ts = [0u32; 4];
    let mut packet = Vec::with_capacity(1_500);

    while !script.is_empty() && h.rx.tick() < MAX_TICKS {
        let op = script.u8();
        match op & 3 {
            0 => {
                for _ in 0..1 + (op >> 2) % 16 {
                    h.tick();
                }
            }
            1 => {
                let f = script.u8();
                let source = usize::from(f & 3);
                seq[source] = seq[source].wrapping_add_signed(i16::from(script.u8() as i8));
                let step = i32::from(script.u8() as i8) * 480;
                ts[source] = ts[source].wrapping_add_signed(step);
                arrival_us += i64::from(script.u8()) * 1_000;
                let payload_type = match (f >> 3) & 3 {
                    0 => 111,
                    1 => 97,
                    2 => 0,
                    _ => script.u8() & 0x7f,
                };
                let level = [script.u8()];
                let elements: &[(u8, &[u8])] = if f & 32 != 0 { &[(1, &level)] } else { &[] };
                let len = usize::from(script.u8());
                let payload = script.take(len);
                packet.clear();
                let header = RtpHeader {
                    marker: f & 4 != 0,
                    payload_type,
                    sequence: seq[source],
                    timestamp: ts[source],
                    ssrc: SSRCS[source],
                };
                header
                    .write(elements, payload, &mut packet)
                    .expect("a valid header and element");
                h.datagram(arrival_us, &packet);
            }
            2 => {
                arrival_us += i64::from(script.u8()) * 1_000;
                let len = usize::from(script.u16());
                let bytes = script.take(len);
                h.datagram(arrival_us, bytes);
            }
            _ => match (op >> 2) % 4 {
                0 => {
                    let source = usize::from(script.u8() & 3);
                    let info = SenderInfo {
                        ntp_timestamp: NtpTime(script.u64()),
                        rtp_timestamp: script.u32(),
                        packet_count: 0,
                        octet_count: 0,
                    };
                    packet.clear();
                    write_sender_report(SSRCS[source], &info, &[], &mut packet);
                    h.datagram(arrival_us, &packet);
                }
                1 => {
                    let block = ReportBlock {
                        ssrc: script.u32(),
                        fraction_lost: script.u8(),
                        cumulative_lost: script.u32() as i32,
                        highest_seq: script.u32(),
                        jitter: script.u32(),
                        last_sr: script.u32(),
                        delay_since_last_sr: script.u32(),
                    };
                    packet.clear();
                    write_receiver_report(0x0bad_cafe, &[block], &mut packet);
                    h.datagram(arrival_us, &packet);
                }
                2 => {
                    let source = usize::from(script.u8() & 3);
                    let msi = script.u32();
                    let participant = script.u8();
                    h.rx.bind_source(
                        SSRCS[source],
                        (msi != 0).then_some(msi),
                        (participant != 0).then_some(u32::from(participant)),
                    );
                }
                _ => arrival_us += i64::from(script.u16()) * 1_000,
            },
        }
    }

    if finish {
        h.rx.finish();
        let limit = h.rx.tick() + DRAIN_TICKS;
        while !h.rx.is_drained() && h.rx.tick() < limit {
            h.tick();
        }
        assert!(
            h.rx.is_drained(),
            "a finished receiver drains within {DRAIN_TICKS} ticks"
        );
    }
});
