//! WAV recording that stays playable if the process dies.
//!
//! hound writes the RIFF and data sizes only when told to; [`WavSink`] flushes (which rewrites
//! both sizes in place) at least once a second of audio, so a crash or SIGKILL loses at most the
//! last second and never leaves a header that says "zero samples".

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use mediabot_media::frame::PcmFormat;

/// A 16-bit PCM WAV file being written.
pub(crate) struct WavSink {
    writer: hound::WavWriter<BufWriter<File>>,
    since_flush: usize,
    flush_every: usize,
}

impl WavSink {
    /// Creates `path` for audio in `format`; an existing file is an error, never truncated.
    pub(crate) fn create(path: &Path, format: PcmFormat) -> Result<WavSink, hound::Error> {
        let spec = hound::WavSpec {
            channels: u16::from(format.channels()),
            sample_rate: format.sample_rate(),
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        Ok(WavSink {
            writer: hound::WavWriter::new(
                BufWriter::new(File::options().write(true).create_new(true).open(path)?),
                spec,
            )?,
            since_flush: 0,
            flush_every: format.sample_rate() as usize * usize::from(format.channels()),
        })
    }

    /// Appends interleaved samples, flushing sizes to disk every second of audio.
    pub(crate) fn write(&mut self, samples: &[i16]) -> Result<(), hound::Error> {
        for chunk in samples.chunks(self.flush_every) {
            let mut w = self.writer.get_i16_writer(chunk.len() as u32);
            for &s in chunk {
                w.write_sample(s);
            }
            w.flush()?;
            self.since_flush += chunk.len();
            if self.since_flush >= self.flush_every {
                self.writer.flush()?;
                self.since_flush = 0;
            }
        }
        Ok(())
    }

    /// Writes the final sizes and closes the file.
    pub(crate) fn finish(self) -> Result<(), hound::Error> {
        self.writer.finalize()
    }
}
