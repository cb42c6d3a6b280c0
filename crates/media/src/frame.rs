//! The unit every consumer of received audio sees: 20 ms of PCM from one source.
//!
//! A [`PcmFrame`] is plain data with a fixed-size sample array, so it can cross threads through
//! a bounded channel by value without touching the allocator. At the default 16 kHz mono output
//! a frame holds 320 samples (640 bytes), the `Pcm16K` convention of Microsoft's media SDK.

/// Length of one frame in milliseconds. Every frame mediabot produces or consumes is 20 ms.
pub const FRAME_MS: u32 = 20;

/// The most samples one frame can hold: 20 ms of 48 kHz stereo.
pub const MAX_FRAME_SAMPLES: usize = 48_000 / 50 * 2;

/// RTP clock rate of Opus (RFC 7587): always 48 kHz, whatever the coded bandwidth.
pub const OPUS_RTP_CLOCK: u32 = 48_000;

/// RTP timestamp ticks in one 20 ms frame at the Opus clock.
pub const OPUS_TICKS_PER_FRAME: u32 = OPUS_RTP_CLOCK / 50;

/// The PCM format frames are produced in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmFormat {
    sample_rate: u32,
    channels: u8,
}

impl PcmFormat {
    /// 16 kHz mono, 320 samples per frame: what speech recognisers and Microsoft's `Pcm16K` use.
    pub const PCM16K_MONO: PcmFormat = PcmFormat {
        sample_rate: 16_000,
        channels: 1,
    };

    /// A format with the given rate (8 000–48 000 Hz, a multiple of 50 so 20 ms is whole samples)
    /// and channel count (1 or 2).
    pub fn new(sample_rate: u32, channels: u8) -> Result<PcmFormat, FormatError> {
        if !(8_000..=48_000).contains(&sample_rate) || !sample_rate.is_multiple_of(50) {
            return Err(FormatError::SampleRate(sample_rate));
        }
        if !(1..=2).contains(&channels) {
            return Err(FormatError::Channels(channels));
        }
        Ok(PcmFormat {
            sample_rate,
            channels,
        })
    }

    /// Samples per second per channel.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Interleaved channels, 1 or 2.
    pub fn channels(&self) -> u8 {
        self.channels
    }

    /// Samples per channel in one 20 ms frame.
    pub fn frame_len(&self) -> usize {
        (self.sample_rate / 50) as usize
    }

    /// Interleaved samples in one 20 ms frame (per-channel length times channels).
    pub fn frame_samples(&self) -> usize {
        self.frame_len() * self.channels as usize
    }

    /// Whether libopus can decode straight to this rate (8, 12, 16, 24 or 48 kHz).
    pub fn is_native_opus_rate(&self) -> bool {
        matches!(self.sample_rate, 8_000 | 12_000 | 16_000 | 24_000 | 48_000)
    }
}

impl Default for PcmFormat {
    fn default() -> PcmFormat {
        PcmFormat::PCM16K_MONO
    }
}

/// A format that mediabot cannot produce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The rate is outside 8–48 kHz or 20 ms of it is not a whole number of samples.
    #[error("unsupported sample rate {0} Hz: use 8000..=48000, a multiple of 50")]
    SampleRate(u32),
    /// Only mono and stereo are produced.
    #[error("unsupported channel count {0}: use 1 or 2")]
    Channels(u8),
}

/// What happened to the audio in one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameFlags(u8);

impl FrameFlags {
    /// The sender sent nothing audible: DTX, comfort noise, or the source was idle.
    pub const SILENCE: FrameFlags = FrameFlags(1);
    /// At least part of the frame was synthesised by packet-loss concealment.
    pub const CONCEALED: FrameFlags = FrameFlags(1 << 1);
    /// At least part of the frame was rebuilt from in-band FEC of the next packet.
    pub const FEC_RECOVERED: FrameFlags = FrameFlags(1 << 2);
    /// The jitter buffer stretched playout here to grow its depth (audio is concealment).
    pub const STRETCHED: FrameFlags = FrameFlags(1 << 3);
    /// The frame is the mix of every source playing in its tick, not one source.
    pub const MIXED: FrameFlags = FrameFlags(1 << 4);

    /// No flag set: a frame decoded entirely from packets that arrived in time.
    pub const fn empty() -> FrameFlags {
        FrameFlags(0)
    }

    /// Whether every flag in `other` is set here.
    pub const fn contains(self, other: FrameFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets the flags in `other`.
    pub fn insert(&mut self, other: FrameFlags) {
        self.0 |= other.0;
    }

    /// The raw bits, for serialisation.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

impl std::ops::BitOr for FrameFlags {
    type Output = FrameFlags;

    fn bitor(self, rhs: FrameFlags) -> FrameFlags {
        FrameFlags(self.0 | rhs.0)
    }
}

/// 20 ms of decoded audio from one source, tagged with who and when.
#[derive(Clone)]
pub struct PcmFrame {
    /// RTP synchronisation source the audio came from.
    pub ssrc: u32,
    /// Media source id (MSI) Teams announced for this source, once signaling has bound it.
    pub msi: Option<u32>,
    /// Index of the participant in the bot's roster, once signaling has bound the MSI.
    pub participant: Option<u32>,
    /// Receiver tick this frame belongs to: frames of all sources with the same tick play at the
    /// same moment, which is what the mixer and WAV writers align on.
    pub tick: u64,
    /// Per-source frame counter, starting at 0 when the source's playout starts.
    pub sequence: u64,
    /// Extended RTP timestamp (48 kHz Opus clock) of the first sample: monotonic across
    /// wraparound, starting at `2^32 + first RTP timestamp`; the low 32 bits are the RTP timestamp.
    pub media_timestamp: u64,
    /// Estimated capture time at the sender, microseconds since the Unix epoch, from RTCP sender
    /// reports; `None` until the first SR for this source arrived.
    pub capture_unix_micros: Option<i64>,
    /// What happened to the audio in this frame.
    pub flags: FrameFlags,
    /// The output format.
    pub format: PcmFormat,
    len: u16,
    samples: [i16; MAX_FRAME_SAMPLES],
}

impl PcmFrame {
    /// A silent frame of the given format for the given source.
    pub fn silent(ssrc: u32, format: PcmFormat) -> PcmFrame {
        PcmFrame {
            ssrc,
            msi: None,
            participant: None,
            tick: 0,
            sequence: 0,
            media_timestamp: 0,
            capture_unix_micros: None,
            flags: FrameFlags::SILENCE,
            format,
            len: format.frame_samples() as u16,
            samples: [0; MAX_FRAME_SAMPLES],
        }
    }

    /// The interleaved samples: `format.frame_samples()` of them.
    pub fn samples(&self) -> &[i16] {
        &self.samples[..self.len as usize]
    }

    /// The interleaved samples, writable.
    pub fn samples_mut(&mut self) -> &mut [i16] {
        &mut self.samples[..self.len as usize]
    }

    /// The samples as little-endian bytes into `out` (cleared first), e.g. 640 bytes at 16 kHz mono.
    pub fn write_le_bytes(&self, out: &mut Vec<u8>) {
        out.clear();
        for s in self.samples() {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
}

impl std::fmt::Debug for PcmFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcmFrame")
            .field("ssrc", &self.ssrc)
            .field("msi", &self.msi)
            .field("participant", &self.participant)
            .field("tick", &self.tick)
            .field("sequence", &self.sequence)
            .field("media_timestamp", &self.media_timestamp)
            .field("flags", &self.flags)
            .field("format", &self.format)
            .field("samples", &self.len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_format_is_pcm16k_640_bytes() {
        let f = PcmFormat::default();
        assert_eq!(f.frame_samples(), 320);
        let frame = PcmFrame::silent(1, f);
        let mut bytes = Vec::new();
        frame.write_le_bytes(&mut bytes);
        assert_eq!(bytes.len(), 640);
    }

    #[test]
    fn rejects_unusable_formats() {
        assert_eq!(
            PcmFormat::new(44_123, 1),
            Err(FormatError::SampleRate(44_123))
        );
        assert_eq!(PcmFormat::new(16_000, 3), Err(FormatError::Channels(3)));
        assert!(PcmFormat::new(44_100, 2).is_ok());
        assert!(!PcmFormat::new(44_100, 1).unwrap().is_native_opus_rate());
    }

    #[test]
    fn flags_combine() {
        let mut f = FrameFlags::empty();
        f.insert(FrameFlags::CONCEALED);
        assert!(f.contains(FrameFlags::CONCEALED));
        assert!(!f.contains(FrameFlags::SILENCE));
        assert!((f | FrameFlags::SILENCE).contains(FrameFlags::SILENCE));
    }
}
