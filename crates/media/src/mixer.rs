//! Mixing all active speakers of one tick into one 20 ms frame, on the same timeline as the
//! unmixed frames (both at once — Microsoft's SDK makes you choose).
//!
//! Sources are summed in 32 bits; with two or more sources the sum is scaled by a headroom gain
//! (−3 dB by default) and then saturated to 16 bits, so loud overlaps clip gracefully instead of
//! wrapping. Buffers are sized once; mixing never allocates.

use crate::frame::{FrameFlags, MAX_FRAME_SAMPLES, PcmFormat, PcmFrame};

/// The SSRC mixed frames carry. Mixed frames are told apart by [`FrameFlags::MIXED`], not by
/// this value (0 is a valid SSRC on the wire).
pub const MIXED_SSRC: u32 = 0;

/// Accumulates one tick's frames and produces the mix.
pub struct Mixer {
    format: PcmFormat,
    acc: [i32; MAX_FRAME_SAMPLES],
    sources: u32,
    all_silent: bool,
    any_concealed: bool,
    headroom: f32,
    frame: PcmFrame,
}

impl Mixer {
    /// A mixer for `format` with the default −3 dB headroom for overlapping speakers.
    pub fn new(format: PcmFormat) -> Mixer {
        Mixer::with_headroom(format, std::f32::consts::FRAC_1_SQRT_2)
    }

    /// A mixer applying `gain` (0 < gain ≤ 1) whenever two or more sources overlap.
    pub fn with_headroom(format: PcmFormat, gain: f32) -> Mixer {
        let mut frame = PcmFrame::silent(MIXED_SSRC, format);
        frame.flags = FrameFlags::empty();
        Mixer {
            format,
            acc: [0; MAX_FRAME_SAMPLES],
            sources: 0,
            all_silent: true,
            any_concealed: false,
            headroom: gain.clamp(f32::EPSILON, 1.0),
            frame,
        }
    }

    /// Starts a new tick.
    pub fn begin(&mut self) {
        let n = self.format.frame_samples();
        self.acc[..n].fill(0);
        self.sources = 0;
        self.all_silent = true;
        self.any_concealed = false;
    }

    /// Adds one source's frame of this tick.
    pub fn add(&mut self, frame: &PcmFrame) {
        for (a, &s) in self.acc.iter_mut().zip(frame.samples()) {
            *a += i32::from(s);
        }
        self.sources += 1;
        self.all_silent &= frame.flags.contains(FrameFlags::SILENCE);
        self.any_concealed |= frame.flags.contains(FrameFlags::CONCEALED);
    }

    /// Number of sources added this tick.
    pub fn sources(&self) -> u32 {
        self.sources
    }

    /// Finishes the tick: the mixed frame, or `None` if no source played this tick.
    pub fn finish(&mut self, tick: u64, media_timestamp: u64) -> Option<&PcmFrame> {
        if self.sources == 0 {
            return None;
        }
        let gain = if self.sources > 1 { self.headroom } else { 1.0 };
        let n = self.format.frame_samples();
        for (out, &a) in self.frame.samples_mut().iter_mut().zip(&self.acc[..n]) {
            let scaled = if self.sources > 1 {
                (a as f32 * gain) as i32
            } else {
                a
            };
            *out = scaled.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
        }
        let mut flags = FrameFlags::MIXED;
        if self.all_silent {
            flags.insert(FrameFlags::SILENCE);
        }
        if self.any_concealed {
            flags.insert(FrameFlags::CONCEALED);
        }
        self.frame.flags = flags;
        self.frame.tick = tick;
        self.frame.sequence = tick;
        self.frame.media_timestamp = media_timestamp;
        Some(&self.frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(value: i16, flags: FrameFlags) -> PcmFrame {
        let mut f = PcmFrame::silent(1, PcmFormat::default());
        f.samples_mut().fill(value);
        f.flags = flags;
        f
    }

    #[test]
    fn one_source_passes_through_unchanged() {
        let mut m = Mixer::new(PcmFormat::default());
        m.begin();
        m.add(&frame_of(1_000, FrameFlags::empty()));
        let out = m.finish(7, 0).unwrap();
        assert!(out.samples().iter().all(|&s| s == 1_000));
        assert_eq!(out.tick, 7);
        assert_eq!(out.ssrc, MIXED_SSRC);
    }

    #[test]
    fn overlapping_sources_get_headroom_and_saturate() {
        let mut m = Mixer::with_headroom(PcmFormat::default(), 0.5);
        m.begin();
        m.add(&frame_of(1_000, FrameFlags::empty()));
        m.add(&frame_of(3_000, FrameFlags::CONCEALED));
        let out = m.finish(1, 0).unwrap();
        assert!(out.samples().iter().all(|&s| s == 2_000));
        assert!(out.flags.contains(FrameFlags::CONCEALED));

        m.begin();
        m.add(&frame_of(i16::MAX, FrameFlags::empty()));
        m.add(&frame_of(i16::MAX, FrameFlags::empty()));
        m.add(&frame_of(i16::MAX, FrameFlags::empty()));
        let out = m.finish(2, 0).unwrap();
        assert!(
            out.samples().iter().all(|&s| s == i16::MAX),
            "saturates, never wraps"
        );
    }

    #[test]
    fn no_source_no_frame_and_silence_only_if_all_silent() {
        let mut m = Mixer::new(PcmFormat::default());
        m.begin();
        assert!(m.finish(0, 0).is_none());
        m.begin();
        m.add(&frame_of(0, FrameFlags::SILENCE));
        m.add(&frame_of(5, FrameFlags::empty()));
        assert!(!m.finish(0, 0).unwrap().flags.contains(FrameFlags::SILENCE));
    }
}
