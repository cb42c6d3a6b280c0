//! The bot's voice: PCM in at any common rate, paced 20 ms Opus RTP out.
//!
//! ```text
//!  app thread: OutboundAudio::push_pcm(samples, rate, channels)   (downmix + rubato → 48 kHz mono)
//!        │  wait-free SPSC ring of 48 kHz samples (rtrb), sized once
//!        ▼
//!  send thread: every 20 ms on a monotonic schedule (no drift: next += 20 ms)
//!        Sender::handle_tick → take 960 samples (or silence) → Opus encode (voip, FEC)
//!        → RTP header (seq, timestamp += 960, marker on a talkspurt's first packet)
//!        → PacketSink::send_rtp (the transport, or a test collector)
//! ```
//!
//! Resampling happens on the producer's thread, so the send thread only encodes. `clear()` (barge
//! in) drops everything queued: the send thread discards the ring's contents on its next tick.
//! [`SendStats`] reports what was actually sent, and the pacing error of every tick.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::frame::{OPUS_RTP_CLOCK, OPUS_TICKS_PER_FRAME};
use crate::rtp::RtpHeader;

/// Samples in one 20 ms frame at 48 kHz.
const FRAME: usize = OPUS_TICKS_PER_FRAME as usize;

/// Where encoded RTP packets go: the transport's sender, or a collector in tests.
pub trait PacketSink: Send {
    /// Hands over one RTP packet; returns false if it had to be dropped (queue full).
    fn send_rtp(&mut self, packet: &[u8]) -> bool;
}

/// Decides, once per tick, whether the bot's audio may go out and on which SSRC: the audio
/// thread's view of the routing table. Called at the start of every tick on the send thread,
/// so it must not block or allocate.
pub trait SendGate: Send {
    /// `Some(ssrc)`: send this tick's frame on `ssrc`; `None`: hold it back (it is dropped, not
    /// delayed: audio meant for a route that is not in place yet must not leak to anyone).
    fn live_ssrc(&mut self) -> Option<u32>;
}

/// What to send while no audio is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleMode {
    /// Keep sending encoded silence every 20 ms (continuous timeline; keeps NAT bindings warm).
    Silence,
    /// Discontinuous transmission (RFC 3551 §4.1): when the queue runs dry, send one DTX packet
    /// (a bare Opus TOC byte) that tells the receiver the silence is intended, then nothing;
    /// the timestamp keeps advancing, and the next talkspurt sets the marker bit.
    Pause,
}

/// Encoder and packetiser settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendConfig {
    /// RTP SSRC of the bot's audio.
    pub ssrc: u32,
    /// Opus payload type negotiated with the peer.
    pub payload_type: u8,
    /// Opus bitrate in bits per second.
    pub bitrate: i32,
    /// Expected packet loss in percent, which sizes in-band FEC.
    pub expected_loss_percent: i32,
    /// Behaviour while idle.
    pub idle: IdleMode,
    /// Queue capacity in milliseconds of audio.
    pub queue_ms: u32,
}

impl Default for SendConfig {
    fn default() -> SendConfig {
        SendConfig {
            ssrc: 0x6d62_0001,
            payload_type: 111,
            bitrate: 32_000,
            expected_loss_percent: 10,
            idle: IdleMode::Silence,
            queue_ms: 10_000,
        }
    }
}

/// Why the send path could not be built or fed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// libopus refused the encoder settings.
    #[error("libopus: {0}")]
    Opus(#[from] opus::Error),
    /// The input format cannot be converted.
    #[error("unsupported input: {0} Hz, {1} channels (use 8000–48000 Hz, 1 or 2 channels)")]
    Format(u32, u16),
    /// The resampler failed.
    #[error("resampler: {0}")]
    Resample(String),
    /// A WAV file could not be read.
    #[error("reading WAV: {0}")]
    Wav(String),
    /// The OS refused to start the send thread.
    #[error("starting the send thread: {0}")]
    Thread(std::io::Error),
}

/// What the send path did, readable from any thread.
#[derive(Debug, Default)]
pub struct SendStats {
    /// Frames of queued audio encoded and sent.
    pub audio_frames: AtomicU64,
    /// Frames of silence encoded and sent while idle.
    pub silence_frames: AtomicU64,
    /// Frames that were partly audio and partly silence (the queue ran dry mid-frame).
    pub partial_frames: AtomicU64,
    /// RTP packets handed to the sink.
    pub packets: AtomicU64,
    /// RTP bytes handed to the sink.
    pub bytes: AtomicU64,
    /// Packets the sink refused.
    pub sink_dropped: AtomicU64,
    /// Samples (48 kHz) the producer could not queue because the queue was full.
    pub queue_overflow_samples: AtomicU64,
    /// Samples (48 kHz) dropped by `clear()`.
    pub cleared_samples: AtomicU64,
    /// Frames held back because the send gate (routing) had no live route for them.
    pub gated_frames: AtomicU64,
    /// Ticks run by the send thread.
    pub ticks: AtomicU64,
    /// Sum and maximum of the pacing error (actual − scheduled tick time), microseconds.
    pub pacing_error_sum_us: AtomicU64,
    /// Largest pacing error seen, microseconds.
    pub pacing_error_max_us: AtomicU64,
}

impl SendStats {
    /// Mean pacing error in microseconds.
    pub fn mean_pacing_error_us(&self) -> f64 {
        let ticks = self.ticks.load(Ordering::Relaxed);
        if ticks == 0 {
            return 0.0;
        }
        self.pacing_error_sum_us.load(Ordering::Relaxed) as f64 / ticks as f64
    }
}

/// The producer side: where the application pushes the bot's audio. Lives on an app thread.
pub struct OutboundAudio {
    ring: rtrb::Producer<i16>,
    /// Samples ever queued; `clear()` publishes it as the point up to which to drop.
    written: u64,
    clear_until: Arc<AtomicU64>,
    stats: Arc<SendStats>,
    converter: Option<InputConverter>,
}

/// Converts one input format to 48 kHz mono, keeping filter state between pushes.
struct InputConverter {
    rate: u32,
    channels: u16,
    resampler: Option<Fft<f32>>,
    pending: Vec<f32>,
    output: Vec<f32>,
    converted: Vec<i16>,
}

impl InputConverter {
    fn new(rate: u32, channels: u16) -> Result<InputConverter, SendError> {
        if !(8_000..=48_000).contains(&rate) || !(1..=2).contains(&channels) {
            return Err(SendError::Format(rate, channels));
        }
        let resampler = if rate == OPUS_RTP_CLOCK {
            None
        } else {
            Some(
                Fft::<f32>::new(
                    rate as usize,
                    OPUS_RTP_CLOCK as usize,
                    (rate / 50) as usize,
                    1,
                    FixedSync::Input,
                )
                .map_err(|e| SendError::Resample(e.to_string()))?,
            )
        };
        let output_max = resampler.as_ref().map_or(0, |r| r.output_frames_max());
        Ok(InputConverter {
            rate,
            channels,
            resampler,
            pending: Vec::new(),
            output: vec![0.0; output_max],
            converted: Vec::new(),
        })
    }

    /// Converts interleaved input into `self.converted` (48 kHz mono i16).
    fn convert(&mut self, samples: &[i16]) -> Result<(), SendError> {
        self.converted.clear();
        let mono = samples
            .chunks_exact(usize::from(self.channels))
            .map(|c| c.iter().map(|&s| f32::from(s)).sum::<f32>() / f32::from(self.channels as u8));
        let Some(resampler) = &mut self.resampler else {
            self.converted
                .extend(mono.map(|s| s.clamp(-32_768.0, 32_767.0) as i16));
            return Ok(());
        };
        self.pending.extend(mono.map(|s| s / 32_768.0));
        let chunk = (self.rate / 50) as usize;
        let mut offset = 0;
        while self.pending.len() - offset >= chunk {
            let input = InterleavedSlice::new(&self.pending[offset..offset + chunk], 1, chunk)
                .map_err(|e| SendError::Resample(e.to_string()))?;
            let frames = self.output.len();
            let mut output = InterleavedSlice::new_mut(&mut self.output[..], 1, frames)
                .map_err(|e| SendError::Resample(e.to_string()))?;
            let (_, written) = resampler
                .process_into_buffer(&input, &mut output, None)
                .map_err(|e| SendError::Resample(e.to_string()))?;
            self.converted.extend(
                self.output[..written]
                    .iter()
                    .map(|&f| (f * 32_768.0).clamp(-32_768.0, 32_767.0) as i16),
            );
            offset += chunk;
        }
        self.pending.drain(..offset);
        Ok(())
    }
}

impl OutboundAudio {
    /// Queues interleaved PCM at `rate` Hz with `channels` channels. Returns how many input
    /// samples were queued; the rest did not fit (counted in `queue_overflow_samples`).
    pub fn push_pcm(
        &mut self,
        samples: &[i16],
        rate: u32,
        channels: u16,
    ) -> Result<usize, SendError> {
        let reuse = self
            .converter
            .as_ref()
            .is_some_and(|c| c.rate == rate && c.channels == channels);
        if !reuse {
            self.converter = Some(InputConverter::new(rate, channels)?);
        }
        let converter = self.converter.as_mut().expect("converter set just above");
        converter.convert(samples)?;
        let room = self.ring.slots();
        let take = converter.converted.len().min(room);
        if let Ok(chunk) = self.ring.write_chunk_uninit(take) {
            chunk.fill_from_iter(converter.converted[..take].iter().copied());
            self.written += take as u64;
        }
        let overflow = converter.converted.len() - take;
        if overflow > 0 {
            self.stats
                .queue_overflow_samples
                .fetch_add(overflow as u64, Ordering::Relaxed);
        }
        let per_in = usize::from(channels);
        let ratio = f64::from(rate) / f64::from(OPUS_RTP_CLOCK);
        Ok(((take as f64 * ratio) as usize * per_in).min(samples.len()))
    }

    /// Milliseconds of audio queued and not yet sent.
    pub fn queued_ms(&self) -> u32 {
        let capacity = self.ring.buffer().capacity();
        ((capacity - self.ring.slots()) / (OPUS_RTP_CLOCK as usize / 1_000)) as u32
    }

    /// Drops everything queued so far (barge-in); audio pushed after the call is kept. Takes
    /// effect on the send thread's next tick.
    pub fn clear(&mut self) {
        self.clear_until.store(self.written, Ordering::Release);
    }

    /// Reads a 16-bit PCM WAV file and queues it, waiting for room as the audio plays out.
    /// Returns the number of input samples queued.
    pub fn play_wav(&mut self, path: &std::path::Path) -> Result<usize, SendError> {
        let mut reader = hound::WavReader::open(path).map_err(|e| SendError::Wav(e.to_string()))?;
        let spec = reader.spec();
        if spec.bits_per_sample != 16 || spec.sample_format != hound::SampleFormat::Int {
            return Err(SendError::Wav(format!(
                "{} is {}-bit {:?}; mediabot plays 16-bit PCM WAV",
                path.display(),
                spec.bits_per_sample,
                spec.sample_format
            )));
        }
        let samples: Vec<i16> = reader
            .samples::<i16>()
            .collect::<Result<_, _>>()
            .map_err(|e| SendError::Wav(e.to_string()))?;
        self.play_pcm(&samples, spec.sample_rate, spec.channels)
    }

    /// Queues interleaved PCM at `rate` Hz in 20 ms steps, waiting for room as the audio plays
    /// out (for the calling thread, not an async task). Stops early, with what it queued, when
    /// the send thread is gone (the call ended). Returns the number of input samples queued.
    pub fn play_pcm(
        &mut self,
        samples: &[i16],
        rate: u32,
        channels: u16,
    ) -> Result<usize, SendError> {
        let step = ((rate / 50) as usize * usize::from(channels)).max(1);
        let mut queued = 0;
        for chunk in samples.chunks(step) {
            // Wait for the send thread to make room: the queue drains at real time.
            while self.ring.slots() < FRAME * 2 {
                if self.ring.is_abandoned() {
                    return Ok(queued);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            queued += self.push_pcm(chunk, rate, channels)?;
        }
        Ok(queued)
    }

    /// The counters.
    pub fn stats(&self) -> &SendStats {
        &self.stats
    }
}

/// The sans-IO send core: one call per 20 ms tick produces at most one RTP packet.
pub struct Sender {
    config: SendConfig,
    ring: rtrb::Consumer<i16>,
    clear_until: Arc<AtomicU64>,
    /// Samples ever taken from the ring (sent or cleared).
    read: u64,
    encoder: opus::Encoder,
    pcm: [i16; FRAME],
    encoded: [u8; 1_275],
    packet: Vec<u8>,
    sequence: u16,
    timestamp: u32,
    talking: bool,
    gate: Option<Box<dyn SendGate>>,
    stats: Arc<SendStats>,
}

/// Builds a connected producer/consumer pair.
pub fn outbound(config: SendConfig) -> Result<(OutboundAudio, Sender), SendError> {
    let capacity = (OPUS_RTP_CLOCK as usize / 1_000) * config.queue_ms as usize;
    let (producer, consumer) = rtrb::RingBuffer::new(capacity.max(FRAME * 4));
    let clear_until = Arc::new(AtomicU64::new(0));
    let stats = Arc::new(SendStats::default());
    let mut encoder = opus::Encoder::new(
        OPUS_RTP_CLOCK,
        opus::Channels::Mono,
        opus::Application::Voip,
    )?;
    encoder.set_bitrate(opus::Bitrate::Bits(config.bitrate))?;
    encoder.set_inband_fec(true)?;
    encoder.set_packet_loss_perc(config.expected_loss_percent)?;
    Ok((
        OutboundAudio {
            ring: producer,
            written: 0,
            clear_until: clear_until.clone(),
            stats: stats.clone(),
            converter: None,
        },
        Sender {
            config,
            ring: consumer,
            clear_until,
            read: 0,
            encoder,
            pcm: [0; FRAME],
            encoded: [0; 1_275],
            packet: Vec::with_capacity(1_400),
            sequence: 0,
            timestamp: 0,
            talking: false,
            gate: None,
            stats,
        },
    ))
}

impl Sender {
    /// Puts a gate (see [`SendGate`]) in front of the sink. Without one, every frame goes out on
    /// the configured SSRC.
    pub fn set_gate(&mut self, gate: Box<dyn SendGate>) {
        self.gate = Some(gate);
    }

    /// Runs one 20 ms tick: encodes a frame of queued audio (or silence) and hands the RTP
    /// packet to `sink`. Never blocks and never allocates.
    pub fn handle_tick(&mut self, sink: &mut dyn PacketSink) -> Result<(), SendError> {
        let clear_until = self.clear_until.load(Ordering::Acquire);
        if clear_until > self.read {
            let drop = ((clear_until - self.read) as usize).min(self.ring.slots());
            if let Ok(chunk) = self.ring.read_chunk(drop) {
                chunk.commit_all();
            }
            self.read += drop as u64;
            self.stats
                .cleared_samples
                .fetch_add(drop as u64, Ordering::Relaxed);
        }
        let available = self.ring.slots().min(FRAME);
        self.read += available as u64;
        if let Ok(chunk) = self.ring.read_chunk(available) {
            let (a, b) = chunk.as_slices();
            self.pcm[..a.len()].copy_from_slice(a);
            self.pcm[a.len()..a.len() + b.len()].copy_from_slice(b);
            chunk.commit_all();
        }
        self.pcm[available..].fill(0);
        let has_audio = available > 0;
        match (has_audio, available == FRAME) {
            (true, true) => self.stats.audio_frames.fetch_add(1, Ordering::Relaxed),
            (true, false) => self.stats.partial_frames.fetch_add(1, Ordering::Relaxed),
            (false, _) => self.stats.silence_frames.fetch_add(1, Ordering::Relaxed),
        };
        let timestamp = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(OPUS_TICKS_PER_FRAME);
        let ssrc = match self.gate.as_mut() {
            None => self.config.ssrc,
            Some(gate) => match gate.live_ssrc() {
                Some(ssrc) => ssrc,
                None => {
                    if has_audio {
                        self.stats.gated_frames.fetch_add(1, Ordering::Relaxed);
                    }
                    // The next frame that may go out starts a new talkspurt.
                    self.talking = false;
                    return Ok(());
                }
            },
        };
        let dtx = !has_audio && self.config.idle == IdleMode::Pause;
        if dtx && !self.talking {
            return Ok(());
        }
        let marker = has_audio && !self.talking;
        self.talking = has_audio;
        let len = if dtx {
            // A TOC byte alone: SILK wideband, 20 ms, mono, one frame of zero length.
            self.encoded[0] = 9 << 3;
            1
        } else {
            self.encoder.encode(&self.pcm, &mut self.encoded)?
        };
        self.packet.clear();
        RtpHeader {
            marker,
            payload_type: self.config.payload_type,
            sequence: self.sequence,
            timestamp,
            ssrc,
        }
        .write(&[], &self.encoded[..len], &mut self.packet)
        .map_err(|e| SendError::Resample(e.to_string()))?;
        self.sequence = self.sequence.wrapping_add(1);
        if sink.send_rtp(&self.packet) {
            self.stats.packets.fetch_add(1, Ordering::Relaxed);
            self.stats
                .bytes
                .fetch_add(self.packet.len() as u64, Ordering::Relaxed);
        } else {
            self.stats.sink_dropped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The counters.
    pub fn stats(&self) -> Arc<SendStats> {
        self.stats.clone()
    }
}

/// A running send thread pacing a [`Sender`] every 20 ms.
pub struct SendThread {
    stop: Arc<AtomicU64>,
    join: JoinHandle<()>,
    stats: Arc<SendStats>,
}

impl SendThread {
    /// Starts pacing `sender` into `sink` on a dedicated thread.
    pub fn spawn(
        mut sender: Sender,
        mut sink: Box<dyn PacketSink>,
    ) -> Result<SendThread, SendError> {
        let stop = Arc::new(AtomicU64::new(0));
        let stats = sender.stats();
        let thread_stop = stop.clone();
        let join = std::thread::Builder::new()
            .name("mediabot-send".into())
            .spawn(move || {
                const TICK: Duration = Duration::from_millis(20);
                let mut next = Instant::now();
                while thread_stop.load(Ordering::Acquire) == 0 {
                    let now = Instant::now();
                    if now < next {
                        std::thread::sleep(next - now);
                    }
                    let error = Instant::now().saturating_duration_since(next).as_micros() as u64;
                    let stats = &sender.stats;
                    stats.ticks.fetch_add(1, Ordering::Relaxed);
                    stats
                        .pacing_error_sum_us
                        .fetch_add(error, Ordering::Relaxed);
                    stats
                        .pacing_error_max_us
                        .fetch_max(error, Ordering::Relaxed);
                    // An encoder error cannot be fixed by retrying; skip the frame.
                    let _ = sender.handle_tick(sink.as_mut());
                    next += TICK;
                    let behind = Instant::now().saturating_duration_since(next);
                    if behind > TICK * 5 {
                        // Starved for 100 ms: re-anchor rather than burst the backlog.
                        next = Instant::now();
                    }
                }
            })
            .map_err(SendError::Thread)?;
        Ok(SendThread { stop, join, stats })
    }

    /// The counters.
    pub fn stats(&self) -> &SendStats {
        &self.stats
    }

    /// Stops the thread after its current tick.
    pub fn stop(self) {
        self.stop.store(1, Ordering::Release);
        let _ = self.join.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominant_frequency;
    use crate::rtp::RtpPacket;

    #[derive(Default)]
    struct Collect(Vec<Vec<u8>>);

    impl PacketSink for Collect {
        fn send_rtp(&mut self, packet: &[u8]) -> bool {
            self.0.push(packet.to_vec());
            true
        }
    }

    fn tone(hz: f64, rate: u32, channels: u16, seconds: f64) -> Vec<i16> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .flat_map(|i| {
                let v = (8_000.0
                    * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin())
                    as i16;
                std::iter::repeat_n(v, usize::from(channels))
            })
            .collect()
    }

    fn decode_all(packets: &[Vec<u8>]) -> Vec<i16> {
        let mut dec = opus::Decoder::new(16_000, opus::Channels::Mono).unwrap();
        let mut out = Vec::new();
        for p in packets {
            let rtp = RtpPacket::parse(p).unwrap();
            let mut pcm = [0i16; 320];
            let n = dec.decode(rtp.payload(), &mut pcm, false).unwrap();
            out.extend_from_slice(&pcm[..n]);
        }
        out
    }

    #[test]
    fn any_rate_comes_out_as_paced_48k_opus_rtp_at_the_same_pitch() {
        for (rate, channels) in [
            (8_000, 1),
            (16_000, 1),
            (44_100, 2),
            (48_000, 2),
            (22_050, 1),
        ] {
            let (mut audio, mut sender) = outbound(SendConfig::default()).unwrap();
            let queued = audio
                .push_pcm(&tone(500.0, rate, channels, 1.0), rate, channels)
                .unwrap();
            assert!(queued > 0);
            let mut sink = Collect::default();
            for _ in 0..60 {
                sender.handle_tick(&mut sink).unwrap();
            }
            assert_eq!(sink.0.len(), 60, "{rate} Hz: one packet per tick");
            let first = RtpPacket::parse(&sink.0[0]).unwrap();
            assert!(first.marker(), "talkspurt starts with the marker");
            for (i, p) in sink.0.iter().enumerate() {
                let p = RtpPacket::parse(p).unwrap();
                assert_eq!(p.sequence(), i as u16);
                assert_eq!(p.timestamp(), 960 * i as u32);
                assert_eq!(p.payload_type(), 111);
            }
            let pcm = decode_all(&sink.0);
            let f = dominant_frequency(&pcm[3_200..14_400], 16_000, 50.0, 4_000.0);
            assert!((f - 500.0).abs() <= 3.0, "{rate} Hz x{channels}: {f}");
            let stats = sender.stats();
            let audio_frames = stats.audio_frames.load(Ordering::Relaxed);
            assert!(
                (48..=51).contains(&audio_frames),
                "{rate}: {audio_frames} audio frames"
            );
        }
    }

    #[test]
    fn clear_drops_queued_audio_at_once() {
        let (mut audio, mut sender) = outbound(SendConfig::default()).unwrap();
        audio
            .push_pcm(&tone(500.0, 48_000, 1, 2.0), 48_000, 1)
            .unwrap();
        assert!(audio.queued_ms() >= 1_990);
        let mut sink = Collect::default();
        sender.handle_tick(&mut sink).unwrap();
        audio.clear();
        sender.handle_tick(&mut sink).unwrap();
        let stats = sender.stats();
        assert_eq!(stats.audio_frames.load(Ordering::Relaxed), 1);
        assert_eq!(stats.silence_frames.load(Ordering::Relaxed), 1);
        assert_eq!(stats.cleared_samples.load(Ordering::Relaxed), 96_000 - 960);
        assert_eq!(audio.queued_ms(), 0);
    }

    struct Gate(std::sync::Arc<std::sync::Mutex<Option<u32>>>);

    impl SendGate for Gate {
        fn live_ssrc(&mut self) -> Option<u32> {
            *self.0.lock().unwrap()
        }
    }

    #[test]
    fn a_closed_gate_holds_audio_back_and_an_open_one_picks_the_ssrc() {
        let (mut audio, mut sender) = outbound(SendConfig::default()).unwrap();
        let state = std::sync::Arc::new(std::sync::Mutex::new(None));
        sender.set_gate(Box::new(Gate(state.clone())));
        audio
            .push_pcm(&tone(500.0, 48_000, 1, 0.2), 48_000, 1)
            .unwrap();
        let mut sink = Collect::default();
        for _ in 0..3 {
            sender.handle_tick(&mut sink).unwrap();
        }
        assert!(
            sink.0.is_empty(),
            "nothing leaks while the route is not live"
        );
        assert_eq!(sender.stats().gated_frames.load(Ordering::Relaxed), 3);
        *state.lock().unwrap() = Some(0x5157);
        sender.handle_tick(&mut sink).unwrap();
        let p = RtpPacket::parse(&sink.0[0]).unwrap();
        assert_eq!(p.ssrc(), 0x5157);
        assert!(
            p.marker(),
            "the first frame after the gate opens starts a talkspurt"
        );
    }

    #[test]
    fn audio_pushed_after_clear_is_kept() {
        let (mut audio, mut sender) = outbound(SendConfig::default()).unwrap();
        audio
            .push_pcm(&tone(500.0, 48_000, 1, 1.0), 48_000, 1)
            .unwrap();
        audio.clear();
        audio
            .push_pcm(&tone(500.0, 48_000, 1, 0.1), 48_000, 1)
            .unwrap();
        let mut sink = Collect::default();
        for _ in 0..10 {
            sender.handle_tick(&mut sink).unwrap();
        }
        let stats = sender.stats();
        assert_eq!(stats.cleared_samples.load(Ordering::Relaxed), 48_000);
        assert_eq!(stats.audio_frames.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn pause_mode_sends_nothing_when_idle_and_marks_the_next_talkspurt() {
        let (mut audio, mut sender) = outbound(SendConfig {
            idle: IdleMode::Pause,
            ..SendConfig::default()
        })
        .unwrap();
        let mut sink = Collect::default();
        for _ in 0..5 {
            sender.handle_tick(&mut sink).unwrap();
        }
        assert!(sink.0.is_empty());
        audio
            .push_pcm(&tone(500.0, 48_000, 1, 0.04), 48_000, 1)
            .unwrap();
        sender.handle_tick(&mut sink).unwrap();
        let p = RtpPacket::parse(&sink.0[0]).unwrap();
        assert!(p.marker());
        assert_eq!(
            p.timestamp(),
            5 * 960,
            "the timestamp kept running while idle"
        );
        assert_eq!(p.sequence(), 0, "sequence numbers only count packets sent");
    }

    #[test]
    fn a_full_queue_counts_what_it_could_not_take() {
        let (mut audio, _sender) = outbound(SendConfig {
            queue_ms: 100,
            ..SendConfig::default()
        })
        .unwrap();
        audio
            .push_pcm(&tone(500.0, 48_000, 1, 1.0), 48_000, 1)
            .unwrap();
        assert_eq!(
            audio.stats().queue_overflow_samples.load(Ordering::Relaxed),
            48_000 - 4_800
        );
        assert!(matches!(
            audio.push_pcm(&[0; 10], 96_000, 1),
            Err(SendError::Format(96_000, 1))
        ));
    }
}
