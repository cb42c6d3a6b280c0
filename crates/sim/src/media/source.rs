//! What a virtual participant says: 48 kHz mono PCM generated 20 ms at a time.
//!
//! A tone keeps its phase across pauses (the sample counter only advances while it plays), and
//! a WAV file is converted once to 48 kHz mono and then looped.

use std::path::Path;

use crate::media_seam::AudioSource;

/// Sample rate of everything the feeder pushes (Opus' native rate: no resampling on send).
pub(crate) const RATE: u32 = 48_000;
/// Samples in one 20 ms chunk at [`RATE`].
pub(crate) const CHUNK: usize = RATE as usize / 50;

/// A participant's audio, ready to be pulled chunk by chunk.
#[derive(Debug)]
pub(crate) enum SourceSignal {
    /// A sine tone; `position` counts samples played so far.
    Tone {
        hz: f64,
        amplitude: f64,
        position: u64,
    },
    /// A looped, pre-converted recording.
    Wav { samples: Vec<i16>, position: usize },
}

/// Why a participant's audio could not be prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The WAV file could not be opened or read.
    #[error("reading WAV {path}: {message}")]
    Wav {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The WAV file holds no samples.
    #[error("WAV {0} is empty")]
    EmptyWav(String),
}

impl SourceSignal {
    /// Prepares `source`; `Ok(None)` for [`AudioSource::Silence`].
    pub(crate) fn prepare(source: &AudioSource) -> Result<Option<SourceSignal>, SourceError> {
        match source {
            AudioSource::Tone { hz, amplitude } => Ok(Some(SourceSignal::Tone {
                hz: *hz,
                amplitude: amplitude.clamp(0.0, 1.0),
                position: 0,
            })),
            AudioSource::Wav(path) => {
                let samples = load_wav_48k_mono(path)?;
                Ok(Some(SourceSignal::Wav {
                    samples,
                    position: 0,
                }))
            }
            AudioSource::Silence => Ok(None),
        }
    }

    /// Adds the next `out.len()` samples into `out` (saturating), advancing the source.
    pub(crate) fn mix_into(&mut self, out: &mut [i32]) {
        match self {
            SourceSignal::Tone {
                hz,
                amplitude,
                position,
            } => {
                let cycles_per_sample = *hz / f64::from(RATE);
                let peak = *amplitude * 32_767.0;
                for (i, sample) in out.iter_mut().enumerate() {
                    // Whole cycles are dropped before the sine, so the phase stays precise
                    // however long the tone has played.
                    let n = *position + i as u64;
                    let phase = (cycles_per_sample * n as f64).fract();
                    *sample += (peak * (2.0 * std::f64::consts::PI * phase).sin()) as i32;
                }
                *position += out.len() as u64;
            }
            SourceSignal::Wav { samples, position } => {
                for sample in out.iter_mut() {
                    *sample += i32::from(samples[*position]);
                    *position = (*position + 1) % samples.len();
                }
            }
        }
    }
}

/// Reads a 16-bit integer or 32-bit float WAV file and converts it to 48 kHz mono (channels
/// averaged, linear interpolation): good enough for a simulated speaker.
fn load_wav_48k_mono(path: &Path) -> Result<Vec<i16>, SourceError> {
    let error = |message: String| SourceError::Wav {
        path: path.display().to_string(),
        message,
    };
    let mut reader = hound::WavReader::open(path).map_err(|e| error(e.to_string()))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<f64> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => reader
            .samples::<i16>()
            .map(|s| s.map(f64::from))
            .collect::<Result<_, _>>()
            .map_err(|e| error(e.to_string()))?,
        (hound::SampleFormat::Float, 32) => reader
            .samples::<f32>()
            .map(|s| s.map(|v| f64::from(v) * 32_767.0))
            .collect::<Result<_, _>>()
            .map_err(|e| error(e.to_string()))?,
        (format, bits) => {
            return Err(error(format!(
                "{bits}-bit {format:?}; use 16-bit PCM or 32-bit float"
            )));
        }
    };
    let mono: Vec<f64> = interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f64>() / channels as f64)
        .collect();
    if mono.is_empty() || spec.sample_rate == 0 {
        return Err(SourceError::EmptyWav(path.display().to_string()));
    }
    let ratio = f64::from(spec.sample_rate) / f64::from(RATE);
    let out_len = ((mono.len() as f64) / ratio).floor().max(1.0) as usize;
    Ok((0..out_len)
        .map(|i| {
            let at = i as f64 * ratio;
            let index = at.floor() as usize;
            let frac = at - index as f64;
            let a = mono[index.min(mono.len() - 1)];
            let b = mono[(index + 1).min(mono.len() - 1)];
            (a + (b - a) * frac).clamp(-32_768.0, 32_767.0) as i16
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediabot_media::analysis::{dominant_frequency, rms};

    fn pull(signal: &mut SourceSignal, chunks: usize) -> Vec<i16> {
        let mut out = Vec::new();
        for _ in 0..chunks {
            let mut chunk = [0i32; CHUNK];
            signal.mix_into(&mut chunk);
            out.extend(chunk.iter().map(|&s| s as i16));
        }
        out
    }

    #[test]
    fn a_tone_is_continuous_across_chunks_and_has_its_pitch_and_level() {
        let mut tone = SourceSignal::prepare(&AudioSource::Tone {
            hz: 440.0,
            amplitude: 0.25,
        })
        .unwrap()
        .unwrap();
        let pcm = pull(&mut tone, 50);
        let f = dominant_frequency(&pcm, RATE, 50.0, 4_000.0);
        assert!((f - 440.0).abs() <= 1.0, "{f}");
        let expected = 0.25 * 32_767.0 / 2f64.sqrt();
        assert!((rms(&pcm) - expected).abs() < 20.0, "{}", rms(&pcm));
        // No discontinuity at a chunk boundary: neighbours differ by at most one step's worth.
        let max_step = 0.25 * 32_767.0 * 2.0 * std::f64::consts::PI * 440.0 / 48_000.0;
        for pair in pcm.windows(2) {
            assert!(f64::from((pair[1] - pair[0]).abs()) <= max_step + 2.0);
        }
    }

    #[test]
    fn a_wav_is_converted_to_48k_mono_and_looped() {
        let dir = std::env::temp_dir().join(format!("mediabot-sim-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tone16k.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(&path, spec).unwrap();
        // 0.5 s of 500 Hz, both channels.
        for i in 0..8_000 {
            let v = (8_000.0 * (2.0 * std::f64::consts::PI * 500.0 * f64::from(i) / 16_000.0).sin())
                as i16;
            writer.write_sample(v).unwrap();
            writer.write_sample(v).unwrap();
        }
        writer.finalize().unwrap();
        let mut wav = SourceSignal::prepare(&AudioSource::Wav(path.clone()))
            .unwrap()
            .unwrap();
        let SourceSignal::Wav { samples, .. } = &wav else {
            panic!("a WAV source");
        };
        assert_eq!(samples.len(), 24_000, "0.5 s at 48 kHz");
        // 2 s from a 0.5 s file: it loops, keeping pitch and level.
        let pcm = pull(&mut wav, 100);
        let f = dominant_frequency(&pcm[48_000..], RATE, 50.0, 4_000.0);
        assert!((f - 500.0).abs() <= 2.0, "{f}");
        assert!(rms(&pcm[48_000..]) > 5_000.0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn silence_has_no_signal_and_a_missing_wav_is_an_error() {
        assert!(
            SourceSignal::prepare(&AudioSource::Silence)
                .unwrap()
                .is_none()
        );
        let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-file.wav");
        let error = SourceSignal::prepare(&AudioSource::Wav(missing)).unwrap_err();
        assert!(error.to_string().contains("no-such-file.wav"), "{error}");
    }
}
