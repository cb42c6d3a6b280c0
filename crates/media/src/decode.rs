//! Opus decoding straight to the output format, with loss concealment and in-band FEC.
//!
//! libopus decodes natively to 8, 12, 16, 24 and 48 kHz and downmixes stereo streams when the
//! decoder is mono, so the common case (16 kHz mono) is one `opus_decode` call per packet and
//! nothing else. Other rates (44.1, 22.05, 32 kHz …) decode at 48 kHz and go through a rubato
//! FFT resampler with fixed 20 ms chunks. Every buffer is sized at construction: decoding never
//! allocates.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::fifo::{SampleFifo, SegmentFlags};
use crate::frame::{OPUS_RTP_CLOCK, OPUS_TICKS_PER_FRAME, PcmFormat};
use crate::opus_packet::MAX_PACKET_TICKS;

/// Why the decoder could not be created or a packet not decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// libopus refused the configuration or the packet.
    #[error("libopus: {0}")]
    Opus(#[from] opus::Error),
    /// The resampler for a non-native rate could not be built or failed.
    #[error("resampler: {0}")]
    Resample(String),
    /// The decoded audio does not fit the output queue (the caller drained too slowly).
    #[error("decoded audio overflows the sample queue")]
    Overflow,
}

/// Converts rubato's float pipeline for rates libopus cannot produce.
struct RateConverter {
    resampler: Fft<f32>,
    /// 48 kHz samples waiting for a whole 20 ms chunk.
    pending: SampleFifo,
    chunk_in: Vec<i16>,
    input: Vec<f32>,
    output: Vec<f32>,
    out_i16: Vec<i16>,
    channels: usize,
}

impl RateConverter {
    fn new(format: PcmFormat) -> Result<RateConverter, DecodeError> {
        let channels = usize::from(format.channels());
        let resampler = Fft::<f32>::new(
            OPUS_RTP_CLOCK as usize,
            format.sample_rate() as usize,
            OPUS_TICKS_PER_FRAME as usize,
            channels,
            FixedSync::Both,
        )
        .map_err(|e| DecodeError::Resample(e.to_string()))?;
        let out_frames = resampler.output_frames_max();
        Ok(RateConverter {
            resampler,
            pending: SampleFifo::new((MAX_PACKET_TICKS as usize + 960) * channels),
            chunk_in: vec![0; OPUS_TICKS_PER_FRAME as usize * channels],
            input: vec![0.0; OPUS_TICKS_PER_FRAME as usize * channels],
            output: vec![0.0; out_frames * channels],
            out_i16: vec![0; out_frames * channels],
            channels,
        })
    }

    /// Feeds 48 kHz samples; converts every whole 20 ms chunk into `out`.
    fn push(
        &mut self,
        samples: &[i16],
        flags: SegmentFlags,
        out: &mut SampleFifo,
    ) -> Result<(), DecodeError> {
        if !self.pending.push(samples, flags) {
            return Err(DecodeError::Overflow);
        }
        let chunk = OPUS_TICKS_PER_FRAME as usize * self.channels;
        while self.pending.len() >= chunk {
            let chunk_flags = self.pending.pop_into(&mut self.chunk_in);
            for (f, s) in self.input.iter_mut().zip(&self.chunk_in) {
                *f = f32::from(*s) / 32_768.0;
            }
            let frames_in = OPUS_TICKS_PER_FRAME as usize;
            let frames_out = self.output.len() / self.channels;
            let input = InterleavedSlice::new(&self.input[..], self.channels, frames_in)
                .map_err(|e| DecodeError::Resample(e.to_string()))?;
            let mut output =
                InterleavedSlice::new_mut(&mut self.output[..], self.channels, frames_out)
                    .map_err(|e| DecodeError::Resample(e.to_string()))?;
            let (_, written) = self
                .resampler
                .process_into_buffer(&input, &mut output, None)
                .map_err(|e| DecodeError::Resample(e.to_string()))?;
            let n = written * self.channels;
            for (o, f) in self.out_i16[..n].iter_mut().zip(&self.output[..n]) {
                *o = (f * 32_768.0).clamp(-32_768.0, 32_767.0) as i16;
            }
            if !out.push(&self.out_i16[..n], chunk_flags) {
                return Err(DecodeError::Overflow);
            }
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.pending.clear();
        self.resampler.reset();
    }
}

/// One source's Opus decoder producing PCM in the output format.
pub struct OpusDecoder {
    decoder: opus::Decoder,
    format: PcmFormat,
    /// Rate libopus decodes at: the output rate when native, else 48 kHz.
    decode_rate: u32,
    decode_channels: usize,
    scratch: Vec<i16>,
    converter: Option<RateConverter>,
}

impl OpusDecoder {
    /// A decoder for `format`. Allocates all buffers now.
    pub fn new(format: PcmFormat) -> Result<OpusDecoder, DecodeError> {
        let decode_rate = if format.is_native_opus_rate() {
            format.sample_rate()
        } else {
            OPUS_RTP_CLOCK
        };
        let channels = if format.channels() == 2 {
            opus::Channels::Stereo
        } else {
            opus::Channels::Mono
        };
        let decoder = opus::Decoder::new(decode_rate, channels)?;
        let converter = if format.is_native_opus_rate() {
            None
        } else {
            Some(RateConverter::new(format)?)
        };
        let decode_channels = usize::from(format.channels());
        Ok(OpusDecoder {
            decoder,
            format,
            decode_rate,
            decode_channels,
            scratch: vec![0; ticks_to_samples(MAX_PACKET_TICKS, decode_rate) * decode_channels],
            converter,
        })
    }

    /// The output format.
    pub fn format(&self) -> PcmFormat {
        self.format
    }

    /// Decodes one packet of `duration` 48 kHz ticks into `out`. DTX packets (≤ 2 bytes) are
    /// decoded to keep the decoder's state but come out as flagged digital silence.
    pub fn decode(
        &mut self,
        payload: &[u8],
        duration: u32,
        out: &mut SampleFifo,
    ) -> Result<(), DecodeError> {
        let n = self.run(payload, duration, false)?;
        if payload.len() <= 2 {
            self.scratch[..n].fill(0);
            self.emit(n, SegmentFlags::SILENCE, out)
        } else {
            self.emit(n, SegmentFlags::NONE, out)
        }
    }

    /// Conceals `duration` 48 kHz ticks of lost audio (libopus PLC).
    pub fn conceal(&mut self, duration: u32, out: &mut SampleFifo) -> Result<(), DecodeError> {
        self.synthesise(duration, SegmentFlags::CONCEALED, out)
    }

    /// Synthesises `duration` ticks to grow the jitter buffer (libopus PLC, flagged stretched).
    pub fn stretch(&mut self, duration: u32, out: &mut SampleFifo) -> Result<(), DecodeError> {
        self.synthesise(duration, SegmentFlags::STRETCHED, out)
    }

    fn synthesise(
        &mut self,
        duration: u32,
        flags: SegmentFlags,
        out: &mut SampleFifo,
    ) -> Result<(), DecodeError> {
        // PLC works in multiples of 2.5 ms and at most 120 ms per call.
        let mut left = duration - duration % 120;
        while left > 0 {
            let step = left.min(MAX_PACKET_TICKS);
            let n = self.run(&[], step, false)?;
            self.emit(n, flags, out)?;
            left -= step;
        }
        Ok(())
    }

    /// Rebuilds the last `duration` ticks before `next_payload` from its in-band FEC data.
    pub fn decode_fec(
        &mut self,
        next_payload: &[u8],
        duration: u32,
        out: &mut SampleFifo,
    ) -> Result<(), DecodeError> {
        let n = self.run(next_payload, duration, true)?;
        self.emit(n, SegmentFlags::FEC, out)
    }

    /// Writes `duration` ticks of digital silence (a DTX gap) without touching decoder state.
    pub fn silence(&mut self, duration: u32, out: &mut SampleFifo) -> Result<(), DecodeError> {
        let n = ticks_to_samples(duration, self.decode_rate) * self.decode_channels;
        self.scratch[..n].fill(0);
        self.emit(n, SegmentFlags::SILENCE, out)
    }

    /// Forgets all state (for a new talkspurt after idling, or slot reuse).
    pub fn reset(&mut self) -> Result<(), DecodeError> {
        self.decoder.reset_state()?;
        if let Some(c) = &mut self.converter {
            c.reset();
        }
        Ok(())
    }

    fn run(&mut self, payload: &[u8], duration: u32, fec: bool) -> Result<usize, DecodeError> {
        let per_channel = ticks_to_samples(duration, self.decode_rate);
        let want = per_channel * self.decode_channels;
        let got = self
            .decoder
            .decode(payload, &mut self.scratch[..want], fec)?;
        Ok(got * self.decode_channels)
    }

    fn emit(
        &mut self,
        n: usize,
        flags: SegmentFlags,
        out: &mut SampleFifo,
    ) -> Result<(), DecodeError> {
        match &mut self.converter {
            None => {
                if out.push(&self.scratch[..n], flags) {
                    Ok(())
                } else {
                    Err(DecodeError::Overflow)
                }
            }
            Some(c) => c.push(&self.scratch[..n], flags, out),
        }
    }
}

/// Samples per channel in `ticks` of the 48 kHz clock at `rate`.
fn ticks_to_samples(ticks: u32, rate: u32) -> usize {
    (u64::from(ticks) * u64::from(rate) / u64::from(OPUS_RTP_CLOCK)) as usize
}
