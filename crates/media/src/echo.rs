//! Echo mode: speak back, after a delay, what one chosen participant says — Microsoft's classic
//! EchoBot sample, and mediabot's interop test.
//!
//! [`Echo`] sits in the application's frame consumer loop: every received frame is offered to
//! it; frames of the chosen source go into a fixed delay line, and what leaves the delay line is
//! pushed to the bot's [`OutboundAudio`]. While the chosen source is silent the delay line keeps
//! moving, so the echo keeps its timing.

use crate::frame::{FrameFlags, PcmFormat, PcmFrame};
use crate::send::{OutboundAudio, SendError};

/// Whose audio to echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoSource {
    /// The source with this Teams media source id.
    Msi(u32),
    /// The source with this RTP SSRC.
    Ssrc(u32),
    /// The mix of everyone.
    Mixed,
}

/// The echo's delay line. See the module docs.
pub struct Echo {
    source: EchoSource,
    format: PcmFormat,
    line: Box<[i16]>,
    write: usize,
    filled: usize,
    last_tick: Option<u64>,
    out: Vec<i16>,
}

impl Echo {
    /// Echoes `source` after `delay_ms` (rounded to whole 20 ms frames, at least one).
    pub fn new(source: EchoSource, format: PcmFormat, delay_ms: u32) -> Echo {
        let frames = (delay_ms / 20).max(1) as usize;
        Echo {
            source,
            format,
            line: vec![0; frames * format.frame_samples()].into_boxed_slice(),
            write: 0,
            filled: 0,
            last_tick: None,
            out: Vec::with_capacity(format.frame_samples()),
        }
    }

    fn matches(&self, frame: &PcmFrame) -> bool {
        match self.source {
            EchoSource::Msi(msi) => {
                frame.msi == Some(msi) && !frame.flags.contains(FrameFlags::MIXED)
            }
            EchoSource::Ssrc(ssrc) => {
                frame.ssrc == ssrc && !frame.flags.contains(FrameFlags::MIXED)
            }
            EchoSource::Mixed => frame.flags.contains(FrameFlags::MIXED),
        }
    }

    /// Offers one received frame. Frames of the chosen source enter the delay line and the
    /// frame leaving it is queued for sending. Returns whether the frame was used.
    pub fn on_frame(
        &mut self,
        frame: &PcmFrame,
        outbound: &mut OutboundAudio,
    ) -> Result<bool, SendError> {
        if !self.matches(frame) || frame.format != self.format {
            return Ok(false);
        }
        // Ticks the source skipped (it paused) pass through the line as silence.
        let gap = self
            .last_tick
            .map_or(0, |t| frame.tick.saturating_sub(t + 1))
            .min((self.line.len() / self.format.frame_samples()) as u64);
        self.last_tick = Some(frame.tick);
        for _ in 0..gap {
            self.step(None, outbound)?;
        }
        self.step(Some(frame.samples()), outbound)?;
        Ok(true)
    }

    fn step(
        &mut self,
        samples: Option<&[i16]>,
        outbound: &mut OutboundAudio,
    ) -> Result<(), SendError> {
        let n = self.format.frame_samples();
        let at = self.write;
        self.out.clear();
        self.out.extend_from_slice(&self.line[at..at + n]);
        match samples {
            Some(s) => self.line[at..at + n].copy_from_slice(s),
            None => self.line[at..at + n].fill(0),
        }
        self.write = (at + n) % self.line.len();
        if self.filled < self.line.len() {
            // The line is still filling: nothing has been delayed long enough yet.
            self.filled += n;
            return Ok(());
        }
        outbound.push_pcm(
            &self.out,
            self.format.sample_rate(),
            u16::from(self.format.channels()),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::{SendConfig, outbound};

    fn frame(tick: u64, msi: Option<u32>, value: i16) -> PcmFrame {
        let mut f = PcmFrame::silent(7, PcmFormat::default());
        f.tick = tick;
        f.msi = msi;
        f.flags = FrameFlags::empty();
        f.samples_mut().fill(value);
        f
    }

    #[test]
    fn echoes_only_the_chosen_participant_after_the_delay() {
        let (mut audio, _sender) = outbound(SendConfig::default()).unwrap();
        let mut echo = Echo::new(EchoSource::Msi(5), PcmFormat::default(), 100);
        for t in 0..5 {
            assert!(
                echo.on_frame(&frame(t, Some(5), 1_000), &mut audio)
                    .unwrap()
            );
            assert!(
                !echo
                    .on_frame(&frame(t, Some(6), 9_000), &mut audio)
                    .unwrap()
            );
        }
        assert_eq!(
            audio.queued_ms(),
            0,
            "nothing leaves a 100 ms line in 100 ms"
        );
        for t in 5..10 {
            echo.on_frame(&frame(t, Some(5), 1_000), &mut audio)
                .unwrap();
        }
        assert_eq!(audio.queued_ms(), 100);
    }

    #[test]
    fn a_pause_in_the_source_keeps_the_timing() {
        let (mut audio, _sender) = outbound(SendConfig::default()).unwrap();
        let mut echo = Echo::new(EchoSource::Msi(5), PcmFormat::default(), 40);
        echo.on_frame(&frame(0, Some(5), 1), &mut audio).unwrap();
        echo.on_frame(&frame(1, Some(5), 1), &mut audio).unwrap();
        // Ticks 2..=9 missing: the line drains as time passes.
        echo.on_frame(&frame(10, Some(5), 1), &mut audio).unwrap();
        assert_eq!(
            audio.queued_ms(),
            60,
            "two frames out while paused, one now"
        );
    }
}
