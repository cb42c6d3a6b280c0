//! A per-source adaptive jitter buffer driven by the caller's ticks.
//!
//! # Time model
//! The buffer never reads a clock. Packets come in with their arrival time (microseconds on any
//! monotonic scale the caller likes); playout advances only when the caller calls
//! [`JitterBuffer::begin_tick`], once per 20 ms, and then drains [`JitterBuffer::pop`] until it
//! has one frame of audio. So a replay of a capture and a live call run the same code, and tests
//! run minutes of media in microseconds.
//!
//! # Playout
//! The first packet starts a *prefetch* of `depth` ticks; then the play cursor (an extended RTP
//! timestamp) advances by exactly the audio released. [`Release`] says what the decoder must do
//! next: decode a packet, conceal a gap (with the next packet for in-band FEC when it is already
//! here), fill a DTX gap with silence, stretch (grow the depth by one frame), or nothing because
//! the source is idle.
//!
//! # Depth
//! The target depth follows the RFC 3550 interarrival jitter estimate, clamped to
//! `[min_depth, max_depth]` frames, and grows by one frame after a late packet. Growing inserts
//! one stretched (concealed) frame; shrinking happens only inside silence gaps, where dropping
//! 20 ms of silence is inaudible.
//!
//! # Memory
//! All packet storage is allocated once in [`JitterBuffer::new`]; pushing and popping never
//! allocates.

use crate::frame::OPUS_TICKS_PER_FRAME;
use crate::opus_packet::OpusPacketInfo;
use crate::rtp::{SeqExtender, TimestampExtender};

/// The largest RTP payload the buffer stores; larger ones are counted and dropped.
pub const MAX_PAYLOAD: usize = 1_500;

/// Tuning of a jitter buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// Smallest depth in 20 ms frames (the prefetch of a new talkspurt).
    pub min_depth: u32,
    /// Largest depth in 20 ms frames the buffer grows to.
    pub max_depth: u32,
    /// Packet slots: how far (in sequence numbers) a packet may run ahead of playout. A power of two.
    pub capacity: usize,
    /// Consecutive underrun frames (concealed) after which the source is declared idle.
    pub idle_after: u32,
    /// Ticks a changed target depth must hold before the buffer shrinks.
    pub shrink_hold_ticks: u32,
}

impl Default for JitterConfig {
    fn default() -> JitterConfig {
        JitterConfig {
            min_depth: 2,
            max_depth: 10,
            capacity: 128,
            idle_after: 10,
            shrink_hold_ticks: 50,
        }
    }
}

/// What happened to a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored for playout.
    Accepted,
    /// Stored, but it arrived after a packet with a higher sequence number.
    Reordered,
    /// Dropped: the same sequence number was already received.
    Duplicate,
    /// Dropped: its slot was already played or concealed.
    Late,
    /// Dropped: the payload is not a valid Opus packet or is too large.
    Invalid,
    /// Accepted after a sequence jump too large to bridge: the buffer restarted playout.
    Resynced,
}

/// The next piece of the timeline, as the decoder must produce it.
#[derive(Debug, PartialEq, Eq)]
pub enum Release<'a> {
    /// Decode this packet.
    Packet {
        /// The Opus payload.
        payload: &'a [u8],
        /// Its duration in 48 kHz ticks.
        duration: u32,
    },
    /// Packets were lost: conceal `duration` ticks. When `fec` is present, the packet after the
    /// gap is already here and carries in-band FEC for the last lost packet: decode its LBRR
    /// data for the last `fec_duration` ticks of the gap instead of concealing them.
    Missing {
        /// Gap length in 48 kHz ticks.
        duration: u32,
        /// The next packet, if it carries FEC for the end of the gap.
        fec: Option<&'a [u8]>,
        /// How much of the gap's end FEC covers.
        fec_duration: u32,
    },
    /// The sender paused (DTX, or a timestamp jump without a sequence gap): emit silence.
    Silence {
        /// Silence length in 48 kHz ticks.
        duration: u32,
    },
    /// The buffer grows its depth by one frame: conceal without advancing the timeline.
    Stretch {
        /// Always one frame, in 48 kHz ticks.
        duration: u32,
    },
    /// Nothing has arrived for the cursor yet: conceal one frame and move on.
    Underrun {
        /// Always one frame, in 48 kHz ticks.
        duration: u32,
    },
    /// The source is not playing (prefetching or idle): produce no frame this tick.
    Idle,
}

/// Counters of one source, in the RFC 3550 sense where one exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets pushed with a valid payload (duplicates excluded).
    pub packets: u64,
    /// Payload bytes of those packets.
    pub bytes: u64,
    /// Expected minus received (RFC 3550 A.3 cumulative loss), never negative here.
    pub lost: u64,
    /// Packets dropped because the same sequence number was already received.
    pub duplicates: u64,
    /// Packets that arrived after a higher sequence number.
    pub reordered: u64,
    /// Packets dropped because their playout time had passed.
    pub late: u64,
    /// Payloads that were not valid Opus or too large.
    pub invalid: u64,
    /// Times playout restarted after a large sequence jump.
    pub resyncs: u64,
    /// Interarrival jitter estimate (RFC 3550 A.8) in 48 kHz ticks.
    pub jitter: u32,
    /// Current playout depth in frames.
    pub depth: u32,
}

struct Slot {
    ext_seq: u64,
    present: bool,
    ext_ts: u64,
    duration: u32,
    has_lbrr: bool,
    len: u16,
    payload: [u8; MAX_PAYLOAD],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Empty,
    Prefetch { ticks_left: u32 },
    Playing,
}

/// The jitter buffer of one RTP source. See the module docs.
pub struct JitterBuffer {
    config: JitterConfig,
    slots: Box<[Slot]>,
    seq: SeqExtender,
    ts: TimestampExtender,
    phase: Phase,
    /// Extended sequence number of the next packet to release.
    next_seq: u64,
    /// Extended RTP timestamp of the next sample to release.
    play_ts: u64,
    /// Highest extended sequence number received, and its base (first received).
    highest_seq: Option<u64>,
    base_seq: u64,
    /// Packets expected in stream segments before the last resync.
    expected_before_resync: u64,
    received: u64,
    /// Bitmap of received sequence numbers below and including `highest_seq` (bit 0 = highest).
    recent: u128,
    /// Last packet's duration, the guess for a lost packet's.
    last_duration: u32,
    /// RFC 3550 jitter state: previous transit, and the estimate scaled by 16.
    prev_transit: Option<i64>,
    jitter_q4: u64,
    depth: u32,
    target: u32,
    late_bump: u32,
    shrink_hold: u32,
    stretch_pending: bool,
    underruns: u32,
    underrun_ticks: u32,
    ending: bool,
    /// The last packet released was DTX: the sender said it went quiet.
    last_was_dtx: bool,
    stats: JitterStats,
}

impl JitterBuffer {
    /// Allocates a buffer for `config.capacity` packets. This is the only allocation it makes.
    pub fn new(config: JitterConfig) -> JitterBuffer {
        assert!(
            config.capacity.is_power_of_two() && config.capacity >= 8,
            "jitter buffer capacity must be a power of two >= 8"
        );
        assert!(
            config.min_depth >= 1 && config.min_depth <= config.max_depth,
            "jitter buffer depth bounds must satisfy 1 <= min <= max"
        );
        let slots = (0..config.capacity)
            .map(|_| Slot {
                ext_seq: 0,
                present: false,
                ext_ts: 0,
                duration: 0,
                has_lbrr: false,
                len: 0,
                payload: [0; MAX_PAYLOAD],
            })
            .collect();
        JitterBuffer {
            config,
            slots,
            seq: SeqExtender::new(),
            ts: TimestampExtender::new(),
            phase: Phase::Empty,
            next_seq: 0,
            play_ts: 0,
            highest_seq: None,
            base_seq: 0,
            expected_before_resync: 0,
            received: 0,
            recent: 0,
            last_duration: OPUS_TICKS_PER_FRAME,
            prev_transit: None,
            jitter_q4: 0,
            depth: config.min_depth,
            target: config.min_depth,
            late_bump: 0,
            shrink_hold: 0,
            stretch_pending: false,
            underruns: 0,
            underrun_ticks: 0,
            ending: false,
            last_was_dtx: false,
            stats: JitterStats::default(),
        }
    }

    /// Forgets everything, as if newly created, keeping the storage (for slot reuse).
    pub fn reset(&mut self) {
        for slot in self.slots.iter_mut() {
            slot.present = false;
        }
        self.seq = SeqExtender::new();
        self.ts = TimestampExtender::new();
        self.phase = Phase::Empty;
        self.next_seq = 0;
        self.play_ts = 0;
        self.highest_seq = None;
        self.base_seq = 0;
        self.expected_before_resync = 0;
        self.received = 0;
        self.recent = 0;
        self.last_duration = OPUS_TICKS_PER_FRAME;
        self.prev_transit = None;
        self.jitter_q4 = 0;
        self.depth = self.config.min_depth;
        self.target = self.config.min_depth;
        self.late_bump = 0;
        self.shrink_hold = 0;
        self.stretch_pending = false;
        self.underruns = 0;
        self.underrun_ticks = 0;
        self.ending = false;
        self.last_was_dtx = false;
        self.stats = JitterStats::default();
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        let mut s = self.stats;
        s.jitter = (self.jitter_q4 >> 4) as u32;
        s.depth = self.depth;
        if let Some(high) = self.highest_seq {
            let expected = self.expected_before_resync + high - self.base_seq + 1;
            s.lost = expected.saturating_sub(self.received);
        }
        s
    }

    /// Whether the source is playing (not prefetching, not idle).
    pub fn is_playing(&self) -> bool {
        self.phase == Phase::Playing
    }

    /// Whether nothing is buffered and playout is not running.
    pub fn is_drained(&self) -> bool {
        self.phase == Phase::Empty
    }

    /// Extended RTP timestamp of the next sample playout will release.
    pub fn play_timestamp(&self) -> u64 {
        self.play_ts
    }

    /// Takes one RTP packet: sequence number, RTP timestamp, arrival time in microseconds and
    /// the Opus payload (copied into preallocated storage).
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        arrival_us: i64,
        payload: &[u8],
    ) -> PushOutcome {
        let info = match OpusPacketInfo::parse(payload) {
            Ok(info) if payload.len() <= MAX_PAYLOAD => info,
            _ => {
                self.stats.invalid += 1;
                return PushOutcome::Invalid;
            }
        };
        let ext_seq = self.seq.extend(seq);
        let ext_ts = self.ts.extend(timestamp);
        let mut outcome = PushOutcome::Accepted;

        let Some(high) = self.highest_seq else {
            self.start_stream(ext_seq, ext_ts);
            self.record_arrival(ext_seq, ext_ts, arrival_us, payload.len());
            self.store(ext_seq, ext_ts, &info, payload);
            return outcome;
        };

        if ext_seq <= high && high - ext_seq < 128 && self.recent & (1u128 << (high - ext_seq)) != 0
        {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        let capacity = self.config.capacity as u64;
        if ext_seq > high && ext_seq - high >= capacity || ext_seq + capacity <= high {
            // A jump no buffer could bridge: the sender restarted. Start over from here.
            self.stats.resyncs += 1;
            for slot in self.slots.iter_mut() {
                slot.present = false;
            }
            self.expected_before_resync += high + 1 - self.base_seq;
            self.start_stream(ext_seq, ext_ts);
            self.record_arrival(ext_seq, ext_ts, arrival_us, payload.len());
            self.store(ext_seq, ext_ts, &info, payload);
            return PushOutcome::Resynced;
        }
        if ext_seq < self.next_seq && self.phase == Phase::Playing {
            self.stats.late += 1;
            self.mark_received(ext_seq, high);
            self.received += 1;
            self.late_bump = (self.late_bump + 1).min(self.config.max_depth);
            return PushOutcome::Late;
        }
        if ext_seq < high {
            self.stats.reordered += 1;
            outcome = PushOutcome::Reordered;
        }
        if self.phase != Phase::Playing && ext_seq < self.next_seq {
            // Reordered before playout started: play from the earliest packet.
            self.next_seq = ext_seq;
            self.play_ts = ext_ts;
        }
        if self.phase == Phase::Empty {
            self.phase = Phase::Prefetch {
                ticks_left: self.target,
            };
            self.next_seq = ext_seq;
            self.play_ts = ext_ts;
        }
        self.record_arrival(ext_seq, ext_ts, arrival_us, payload.len());
        self.store(ext_seq, ext_ts, &info, payload);
        outcome
    }

    /// Advances playout by one 20 ms tick. Call once per tick, then [`JitterBuffer::pop`] until
    /// one frame of audio is produced.
    pub fn begin_tick(&mut self) {
        let jitter_frames = ((self.jitter_q4 >> 4) * 3).div_ceil(u64::from(OPUS_TICKS_PER_FRAME));
        let wanted = (jitter_frames as u32 + 1 + self.late_bump)
            .clamp(self.config.min_depth, self.config.max_depth);
        if wanted == self.target {
            self.shrink_hold = 0;
        } else if wanted > self.target {
            self.target = wanted;
            self.shrink_hold = 0;
        } else {
            self.shrink_hold += 1;
            if self.shrink_hold >= self.config.shrink_hold_ticks {
                self.target = wanted;
                self.shrink_hold = 0;
                self.late_bump = self.late_bump.saturating_sub(1);
            }
        }
        match self.phase {
            Phase::Prefetch { ticks_left } if ticks_left <= 1 => {
                self.phase = Phase::Playing;
                self.depth = self.target;
            }
            Phase::Prefetch { ticks_left } => {
                self.phase = Phase::Prefetch {
                    ticks_left: ticks_left - 1,
                };
            }
            Phase::Playing if self.target > self.depth => {
                self.stretch_pending = true;
                self.depth += 1;
            }
            _ => {}
        }
    }

    /// The next piece of the timeline for this tick. The returned payload borrows the buffer.
    pub fn pop(&mut self) -> Release<'_> {
        if self.phase != Phase::Playing {
            return Release::Idle;
        }
        if self.stretch_pending {
            self.stretch_pending = false;
            return Release::Stretch {
                duration: OPUS_TICKS_PER_FRAME,
            };
        }
        let idx = self.index(self.next_seq);
        let slot = &self.slots[idx];
        if slot.present && slot.ext_seq == self.next_seq {
            if slot.ext_ts > self.play_ts {
                // The sender paused without a sequence gap (DTX or a talkspurt boundary).
                let mut gap = slot.ext_ts - self.play_ts;
                if self.depth > self.target && gap >= 2 * u64::from(OPUS_TICKS_PER_FRAME) {
                    // Shrink inside silence: skip one frame of it.
                    self.depth -= 1;
                    self.play_ts += u64::from(OPUS_TICKS_PER_FRAME);
                    gap -= u64::from(OPUS_TICKS_PER_FRAME);
                }
                let duration = gap.min(u64::from(OPUS_TICKS_PER_FRAME)) as u32;
                self.play_ts += u64::from(duration);
                self.underruns = 0;
                return Release::Silence { duration };
            }
            let duration = slot.duration;
            self.play_ts = slot.ext_ts + u64::from(duration);
            self.next_seq += 1;
            self.underruns = 0;
            self.underrun_ticks = 0;
            let slot = &mut self.slots[idx];
            slot.present = false;
            let len = slot.len as usize;
            self.last_was_dtx = OpusPacketInfo::is_dtx(&slot.payload[..len]);
            return Release::Packet {
                payload: &self.slots[idx].payload[..len],
                duration,
            };
        }
        // The next packet is not here. Is anything after it?
        let high = self.highest_seq.unwrap_or(self.next_seq);
        if let Some(next) = self.first_present_after(self.next_seq, high) {
            let next_slot = &self.slots[self.index(next)];
            let gap = next_slot.ext_ts.saturating_sub(self.play_ts);
            let gap = if gap == 0 || gap > u64::from(crate::opus_packet::MAX_PACKET_TICKS) * 4 {
                u64::from(self.last_duration) * (next - self.next_seq)
            } else {
                gap
            };
            let duration = gap as u32;
            // The next packet's LBRR data rebuilds the last lost packet of the run; the ones
            // before it are concealed.
            let (fec, fec_duration) = if next_slot.has_lbrr {
                let fec_duration = next_slot.duration.min(duration);
                let idx = self.index(next);
                (
                    Some(&self.slots[idx].payload[..self.slots[idx].len as usize]),
                    fec_duration,
                )
            } else {
                (None, 0)
            };
            self.next_seq = next;
            self.play_ts += gap;
            self.underruns = 0;
            self.underrun_ticks = 0;
            return Release::Missing {
                duration,
                fec,
                fec_duration,
            };
        }
        // Nothing buffered at all.
        self.underruns += 1;
        // After a DTX packet the sender is quiet on purpose: nothing to conceal.
        if self.ending || self.last_was_dtx || self.underruns > self.config.idle_after {
            self.go_idle();
            return Release::Idle;
        }
        self.play_ts += u64::from(OPUS_TICKS_PER_FRAME);
        // Each whole packet's worth of time that passes without it makes its sequence number
        // unplayable: a packet with it that still arrives is late.
        self.underrun_ticks += OPUS_TICKS_PER_FRAME;
        while self.underrun_ticks >= self.last_duration {
            self.underrun_ticks -= self.last_duration;
            self.next_seq += 1;
        }
        Release::Underrun {
            duration: OPUS_TICKS_PER_FRAME,
        }
    }

    /// Declares that no more packets will come (the end of a capture, a BYE): once the buffer
    /// runs dry the source goes idle at once instead of concealing.
    pub fn set_ending(&mut self, ending: bool) {
        self.ending = ending;
    }

    fn go_idle(&mut self) {
        self.phase = Phase::Empty;
        self.last_was_dtx = false;
        self.underruns = 0;
        self.underrun_ticks = 0;
        self.stretch_pending = false;
        self.depth = self.config.min_depth.max(self.target);
        for slot in self.slots.iter_mut() {
            slot.present = false;
        }
    }

    fn start_stream(&mut self, ext_seq: u64, ext_ts: u64) {
        self.highest_seq = Some(ext_seq);
        self.base_seq = ext_seq;
        self.recent = 0;
        self.next_seq = ext_seq;
        self.play_ts = ext_ts;
        self.phase = Phase::Prefetch {
            ticks_left: self.target,
        };
    }

    fn record_arrival(&mut self, ext_seq: u64, ext_ts: u64, arrival_us: i64, len: usize) {
        self.stats.packets += 1;
        self.stats.bytes += len as u64;
        self.received += 1;
        let high = self.highest_seq.unwrap_or(ext_seq);
        if ext_seq > high {
            let shift = ext_seq - high;
            self.recent = if shift >= 128 {
                0
            } else {
                self.recent << shift
            };
            self.highest_seq = Some(ext_seq);
        }
        let high = self.highest_seq.unwrap_or(ext_seq);
        self.mark_received(ext_seq, high);
        // RFC 3550 A.8, with arrival converted to the 48 kHz media clock.
        let arrival_ticks = arrival_us.saturating_mul(48) / 1_000;
        let transit = arrival_ticks - ext_ts as i64;
        if let Some(prev) = self.prev_transit {
            let d = (transit - prev).unsigned_abs();
            // J += (|D| - J) / 16, kept scaled by 16.
            self.jitter_q4 = self.jitter_q4 + d - (self.jitter_q4 >> 4);
        }
        self.prev_transit = Some(transit);
    }

    fn mark_received(&mut self, ext_seq: u64, high: u64) {
        if high >= ext_seq && high - ext_seq < 128 {
            self.recent |= 1u128 << (high - ext_seq);
        }
    }

    fn store(&mut self, ext_seq: u64, ext_ts: u64, info: &OpusPacketInfo, payload: &[u8]) {
        self.last_duration = info.duration;
        let idx = self.index(ext_seq);
        let slot = &mut self.slots[idx];
        slot.ext_seq = ext_seq;
        slot.present = true;
        slot.ext_ts = ext_ts;
        slot.duration = info.duration;
        slot.has_lbrr = info.has_lbrr;
        slot.len = payload.len() as u16;
        slot.payload[..payload.len()].copy_from_slice(payload);
    }

    fn first_present_after(&self, from: u64, high: u64) -> Option<u64> {
        (from + 1..=high).find(|&s| {
            let slot = &self.slots[self.index(s)];
            slot.present && slot.ext_seq == s
        })
    }

    fn index(&self, ext_seq: u64) -> usize {
        (ext_seq as usize) & (self.config.capacity - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid 20 ms SILK WB Opus payload whose second byte tags it, optionally with LBRR.
    fn payload(tag: u8, lbrr: bool) -> [u8; 3] {
        [9 << 3, if lbrr { 0b1100_0000 } else { 0 }, tag]
    }

    const T: u32 = OPUS_TICKS_PER_FRAME;

    fn buffer() -> JitterBuffer {
        JitterBuffer::new(JitterConfig {
            min_depth: 2,
            max_depth: 6,
            capacity: 32,
            idle_after: 3,
            shrink_hold_ticks: 5,
        })
    }

    /// Runs one tick and describes what playout did, as short strings.
    fn tick(jb: &mut JitterBuffer) -> Vec<String> {
        jb.begin_tick();
        let mut out = Vec::new();
        let mut produced = 0;
        while produced < T {
            let r = jb.pop();
            let (s, d) = match r {
                Release::Packet { payload, duration } => (format!("p{}", payload[2]), duration),
                Release::Missing {
                    duration,
                    fec: Some(next),
                    fec_duration,
                } => (
                    format!("fec{}:{}", next[2], duration / T),
                    fec_duration.max(duration),
                ),
                Release::Missing { duration, .. } => (format!("lost:{}", duration / T), duration),
                Release::Silence { duration } => ("silence".into(), duration),
                Release::Stretch { duration } => ("stretch".into(), duration),
                Release::Underrun { duration } => ("underrun".into(), duration),
                Release::Idle => ("idle".into(), T),
            };
            out.push(s);
            produced += d;
        }
        out
    }

    fn push(jb: &mut JitterBuffer, seq: u16, at_ms: i64) -> PushOutcome {
        jb.push(
            seq,
            u32::from(seq) * T,
            at_ms * 1_000,
            &payload(seq as u8, false),
        )
    }

    #[test]
    fn prefetches_then_releases_one_frame_per_tick_in_order() {
        let mut jb = buffer();
        for seq in 0..4 {
            assert_eq!(
                push(&mut jb, seq, i64::from(seq) * 20),
                PushOutcome::Accepted
            );
        }
        assert_eq!(tick(&mut jb), ["idle"]);
        assert_eq!(tick(&mut jb), ["p0"]);
        assert_eq!(tick(&mut jb), ["p1"]);
        assert_eq!(tick(&mut jb), ["p2"]);
        assert_eq!(tick(&mut jb), ["p3"]);
        assert_eq!(jb.stats().packets, 4);
        assert_eq!(jb.stats().lost, 0);
    }

    #[test]
    fn reorders_within_depth_and_drops_duplicates() {
        let mut jb = buffer();
        push(&mut jb, 0, 0);
        push(&mut jb, 2, 40);
        assert_eq!(push(&mut jb, 1, 41), PushOutcome::Reordered);
        assert_eq!(push(&mut jb, 1, 42), PushOutcome::Duplicate);
        tick(&mut jb);
        assert_eq!(tick(&mut jb), ["p0"]);
        assert_eq!(tick(&mut jb), ["p1"]);
        assert_eq!(tick(&mut jb), ["p2"]);
        let s = jb.stats();
        assert_eq!((s.reordered, s.duplicates, s.lost), (1, 1, 0));
    }

    #[test]
    fn conceals_a_gap_and_uses_fec_of_the_next_packet() {
        let mut jb = buffer();
        push(&mut jb, 0, 0);
        // seq 1 lost; seq 2 carries LBRR for it.
        jb.push(2, 2 * T, 40_000, &payload(2, true));
        push(&mut jb, 3, 60);
        tick(&mut jb);
        assert_eq!(tick(&mut jb), ["p0"]);
        assert_eq!(tick(&mut jb), ["fec2:1"]);
        assert_eq!(tick(&mut jb), ["p2"]);
        assert_eq!(tick(&mut jb), ["p3"]);
        assert_eq!(jb.stats().lost, 1);
    }

    #[test]
    fn fec_rebuilds_the_last_packet_of_a_longer_run() {
        let mut jb = buffer();
        push(&mut jb, 0, 0);
        // seq 1 and 2 lost; seq 3 carries LBRR for seq 2.
        jb.push(3, 3 * T, 60_000, &payload(3, true));
        tick(&mut jb);
        assert_eq!(tick(&mut jb), ["p0"]);
        jb.begin_tick();
        assert_eq!(
            jb.pop(),
            Release::Missing {
                duration: 2 * T,
                fec: Some(&payload(3, true)[..]),
                fec_duration: T,
            }
        );
        assert_eq!(jb.stats().lost, 2);
    }

    #[test]
    fn a_packet_after_its_slot_is_late_and_counted_received() {
        let mut jb = buffer();
        push(&mut jb, 0, 0);
        push(&mut jb, 2, 40);
        tick(&mut jb);
        assert_eq!(tick(&mut jb), ["p0"]);
        assert_eq!(tick(&mut jb), ["lost:1"]);
        assert_eq!(push(&mut jb, 1, 70), PushOutcome::Late);
        let s = jb.stats();
        assert_eq!(
            (s.late, s.lost),
            (1, 0),
            "RFC 3550: a late packet is not lost"
        );
    }

    #[test]
    fn sequence_and_timestamp_wrap_without_a_glitch() {
        let mut jb = buffer();
        let base_ts = u32::MAX - T; // timestamp wraps after the first packet
        for (i, seq) in [65_534u16, 65_535, 0, 1].into_iter().enumerate() {
            let ts = base_ts.wrapping_add(i as u32 * T);
            assert_ne!(
                jb.push(seq, ts, i as i64 * 20_000, &payload(i as u8, false)),
                PushOutcome::Resynced
            );
        }
        tick(&mut jb);
        let played: Vec<_> = (0..4).flat_map(|_| tick(&mut jb)).collect();
        assert_eq!(played, ["p0", "p1", "p2", "p3"]);
        assert_eq!(jb.stats().lost, 0);
    }

    #[test]
    fn a_dtx_pause_plays_as_silence_then_resumes() {
        let mut jb = buffer();
        push(&mut jb, 0, 0);
        // Next packet, seq 1, comes 3 frames later in media time (sender paused).
        jb.push(1, 4 * T, 80_000, &payload(1, false));
        tick(&mut jb);
        assert_eq!(tick(&mut jb), ["p0"]);
        assert_eq!(tick(&mut jb), ["silence"]);
        assert_eq!(tick(&mut jb), ["silence"]);
        assert_eq!(tick(&mut jb), ["silence"]);
        assert_eq!(tick(&mut jb), ["p1"]);
        assert_eq!(jb.stats().lost, 0);
    }

    #[test]
    fn runs_dry_conceals_then_goes_idle_and_restarts() {
        let mut jb = buffer();
        push(&mut jb, 0, 0);
        tick(&mut jb);
        assert_eq!(tick(&mut jb), ["p0"]);
        for _ in 0..3 {
            assert_eq!(tick(&mut jb), ["underrun"]);
        }
        assert_eq!(tick(&mut jb), ["idle"]);
        assert!(jb.is_drained());
        // A new talkspurt prefetches again.
        jb.push(50, 50 * T, 1_000_000, &payload(50, false));
        assert_eq!(tick(&mut jb), ["idle"]);
        assert_eq!(tick(&mut jb), ["p50"]);
    }

    #[test]
    fn a_dtx_packet_ends_the_talkspurt_without_concealment() {
        let mut jb = buffer();
        push(&mut jb, 0, 0);
        jb.push(1, T, 20_000, &[9 << 3]);
        tick(&mut jb);
        assert_eq!(tick(&mut jb), ["p0"]);
        jb.begin_tick();
        assert!(matches!(jb.pop(), Release::Packet { payload: [_], .. }));
        assert_eq!(tick(&mut jb), ["idle"]);
        assert!(jb.is_drained());
    }

    #[test]
    fn ending_stream_goes_idle_without_concealing() {
        let mut jb = buffer();
        push(&mut jb, 0, 0);
        jb.set_ending(true);
        tick(&mut jb);
        assert_eq!(tick(&mut jb), ["p0"]);
        assert_eq!(tick(&mut jb), ["idle"]);
    }

    #[test]
    fn grows_depth_under_jitter_by_stretching() {
        let mut jb = buffer();
        // The first second arrives on time; after that every other packet is 45 ms late.
        let arrival = |seq: u16| {
            let late = seq >= 50 && seq % 2 == 1;
            i64::from(seq) * 20 + if late { 45 } else { 0 }
        };
        let mut pending: Vec<u16> = (0..150).collect();
        let mut stretched = 0;
        for t in 0..160i64 {
            let now = t * 20;
            pending.retain(|&seq| {
                if arrival(seq) <= now {
                    jb.push(
                        seq,
                        u32::from(seq) * T,
                        arrival(seq) * 1_000,
                        &payload(seq as u8, false),
                    );
                    false
                } else {
                    true
                }
            });
            stretched += tick(&mut jb).iter().filter(|s| *s == "stretch").count();
        }
        let s = jb.stats();
        assert!(s.jitter > 960, "jitter {}", s.jitter);
        assert!(stretched >= 1, "the buffer never grew");
        assert!(s.depth > 2 && s.depth <= 6, "depth {}", s.depth);
        // Once deep enough, late packets stop: fewer late than half of the jittered ones.
        assert!(s.late < 25, "late {}", s.late);
    }

    #[test]
    fn a_huge_sequence_jump_resyncs() {
        let mut jb = buffer();
        push(&mut jb, 0, 0);
        push(&mut jb, 1, 20);
        assert_eq!(
            jb.push(30_000, 12_345, 40_000, &payload(9, false)),
            PushOutcome::Resynced
        );
        assert_eq!(jb.stats().resyncs, 1);
    }

    #[test]
    fn invalid_payloads_are_counted_and_dropped() {
        let mut jb = buffer();
        assert_eq!(jb.push(0, 0, 0, &[]), PushOutcome::Invalid);
        assert_eq!(
            jb.push(1, 0, 0, &[1 << 3 | 1, 1, 2, 3]),
            PushOutcome::Invalid
        );
        assert_eq!(
            jb.push(2, 0, 0, &[0u8; MAX_PAYLOAD + 1]),
            PushOutcome::Invalid
        );
        assert_eq!(jb.stats().invalid, 3);
        assert_eq!(jb.stats().packets, 0);
    }
}
