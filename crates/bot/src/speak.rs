//! What the bot says: a tone, or a WAV clip queued on a call's outgoing audio.
//!
//! A WAV comes either from under the configured `media_dir` (the path is canonicalised, so `..`
//! and symlinks cannot leave it; only regular files are opened, so a FIFO cannot block a thread)
//! or uploaded as the request body. It is decoded before it reaches the call, with clear errors:
//! 16-bit PCM, mono or stereo, 8–48 kHz, at most [`MAX_CLIP_SECONDS`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mediabot_media::session::MediaSession;

use crate::control::{ControlError, ErrorKind, MAX_CLIP_SECONDS, PcmClip, SpeakRequest};

fn bad(message: impl Into<String>) -> ControlError {
    ControlError::new(ErrorKind::BadRequest, message)
}

/// Resolves `requested` (relative to `media_dir`, or absolute inside it) to a regular file
/// inside `media_dir`.
pub(crate) fn resolve_media_path(
    media_dir: Option<&Path>,
    requested: &Path,
) -> Result<PathBuf, ControlError> {
    let dir = media_dir.ok_or_else(|| {
        bad("playing files is off: set media_dir (files are played only from there), or upload the WAV as the body with content-type audio/wav")
    })?;
    let dir = dir
        .canonicalize()
        .map_err(|e| bad(format!("media_dir cannot be read: {e}")))?;
    let joined = if requested.is_absolute() {
        requested.to_path_buf()
    } else {
        dir.join(requested)
    };
    let outside = || bad("the file must be inside media_dir (no `..`, no symlinks out of it)");
    let path = joined.canonicalize().map_err(|_| {
        bad(format!(
            "no such file in media_dir: {}",
            requested.display()
        ))
    })?;
    if !path.starts_with(&dir) {
        return Err(outside());
    }
    let meta = std::fs::metadata(&path).map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("only regular files are played"));
    }
    Ok(path)
}

/// Decodes a 16-bit PCM WAV from `reader` (what `speak` accepts: 16-bit PCM, mono or stereo,
/// 8–48 kHz, at most [`MAX_CLIP_SECONDS`]); anything else is a `BadRequest` naming the rule.
pub fn decode_wav<R: std::io::Read>(reader: R) -> Result<PcmClip, ControlError> {
    let mut wav =
        hound::WavReader::new(reader).map_err(|e| bad(format!("not a readable WAV: {e}")))?;
    let spec = wav.spec();
    if spec.bits_per_sample != 16 || spec.sample_format != hound::SampleFormat::Int {
        return Err(bad(format!(
            "the WAV is {}-bit {:?}; the bot plays 16-bit PCM",
            spec.bits_per_sample, spec.sample_format
        )));
    }
    if !(8_000..=48_000).contains(&spec.sample_rate) {
        return Err(bad(format!(
            "the WAV's sample rate is {} Hz; the bot plays 8000–48000 Hz",
            spec.sample_rate
        )));
    }
    if !(1..=2).contains(&spec.channels) {
        return Err(bad(format!(
            "the WAV has {} channels; the bot plays mono or stereo",
            spec.channels
        )));
    }
    let max = u64::from(MAX_CLIP_SECONDS) * u64::from(spec.sample_rate) * u64::from(spec.channels);
    if u64::from(wav.len()) > max {
        return Err(bad(format!("the WAV is longer than {MAX_CLIP_SECONDS} s")));
    }
    let samples = wav
        .samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("the WAV is cut short or damaged: {e}")))?;
    Ok(PcmClip {
        samples,
        rate: spec.sample_rate,
        channels: spec.channels,
    })
}

/// Reads and decodes a WAV from under `media_dir` (blocking: call from a blocking thread).
pub(crate) fn load_media_wav(
    media_dir: Option<&Path>,
    requested: &Path,
) -> Result<PcmClip, ControlError> {
    let path = resolve_media_path(media_dir, requested)?;
    let file = std::fs::File::open(&path).map_err(|e| bad(format!("cannot open the file: {e}")))?;
    decode_wav(std::io::BufReader::new(file))
}

/// Queues a tone or a decoded clip on the call's outgoing audio. A clip is fed from its own
/// thread at the pace the send thread drains it; the thread ends with the call.
pub(crate) fn speak(
    session: &mut MediaSession,
    request: SpeakRequest,
    clip: Option<Arc<PcmClip>>,
) -> Result<(), ControlError> {
    let busy = |m: &str| ControlError::new(ErrorKind::Conflict, m);
    if let Some(clip) = clip {
        let mut outbound = session
            .take_outbound(0)
            .ok_or_else(|| busy("the bot is already playing a file in this call"))?;
        if request.clear {
            outbound.clear();
        }
        std::thread::Builder::new()
            .name("mediabot-play".into())
            .spawn(move || {
                if let Err(e) = outbound.play_pcm(&clip.samples, clip.rate, clip.channels) {
                    tracing::warn!(error = %e, "playing a clip failed");
                }
            })
            .map_err(|e| busy(&format!("cannot start playback: {e}")))?;
        return Ok(());
    }
    if request.wav.is_some() {
        return Err(bad("the WAV was not loaded"));
    }
    let hz = request.tone_hz.ok_or_else(|| {
        bad("say what to play: toneHz, wav (a file in media_dir) or an audio/wav body")
    })?;
    if !(20.0..=20_000.0).contains(&hz) || !(0.0..=10.0).contains(&request.seconds) {
        return Err(bad("toneHz must be 20–20000 and seconds 0–10"));
    }
    let outbound = session
        .outbound(0)
        .ok_or_else(|| busy("this call has no outgoing audio (a file is playing)"))?;
    if request.clear {
        outbound.clear();
    }
    outbound
        .push_pcm(&tone(hz, request.seconds), 48_000, 1)
        .map_err(|e| bad(e.to_string()))?;
    Ok(())
}

/// A sine tone at 48 kHz, peak 8,000.
fn tone(hz: f64, seconds: f64) -> Vec<i16> {
    let n = (48_000.0 * seconds) as usize;
    (0..n)
        .map(|i| (8_000.0 * (std::f64::consts::TAU * hz * i as f64 / 48_000.0).sin()) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_bytes(rate: u32, channels: u16, bits: u16, n: usize) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
        for i in 0..n {
            if bits == 16 {
                w.write_sample((i % 100) as i16).unwrap();
            } else {
                w.write_sample((i % 100) as i32).unwrap();
            }
        }
        w.finalize().unwrap();
        out.into_inner()
    }

    #[test]
    fn wavs_are_checked_before_they_reach_a_call() {
        let ok = decode_wav(&wav_bytes(16_000, 1, 16, 320)[..]).unwrap();
        assert_eq!((ok.rate, ok.channels, ok.samples.len()), (16_000, 1, 320));
        for (rate, channels, bits, what) in [
            (4_000, 1, 16, "sample rate"),
            (96_000, 1, 16, "sample rate"),
            (16_000, 1, 24, "16-bit"),
            (16_000, 3, 16, "channels"),
        ] {
            let err = decode_wav(&wav_bytes(rate, channels, bits, 12)[..]).unwrap_err();
            assert_eq!(err.kind, ErrorKind::BadRequest);
            assert!(err.message.contains(what), "{}", err.message);
        }
        let err = decode_wav(&b"RIFF\x00\x00not a wav"[..]).unwrap_err();
        assert!(err.message.contains("WAV"), "{}", err.message);
        let mut cut = wav_bytes(16_000, 1, 16, 320);
        cut.truncate(200);
        assert!(decode_wav(&cut[..]).is_err());
    }

    #[test]
    fn paths_never_leave_media_dir() {
        let root = std::env::temp_dir().join(format!("mediabot-speak-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let media = root.join("media");
        std::fs::create_dir_all(media.join("sub")).unwrap();
        std::fs::write(media.join("sub/ok.wav"), wav_bytes(16_000, 1, 16, 10)).unwrap();
        std::fs::write(root.join("secret.wav"), wav_bytes(16_000, 1, 16, 10)).unwrap();

        assert!(resolve_media_path(Some(&media), Path::new("sub/ok.wav")).is_ok());
        let absolute = media.join("sub/ok.wav");
        assert!(resolve_media_path(Some(&media), &absolute).is_ok());
        for escape in ["../secret.wav", "sub/../../secret.wav"] {
            let err = resolve_media_path(Some(&media), Path::new(escape)).unwrap_err();
            assert!(
                err.message.contains("inside media_dir"),
                "{escape}: {}",
                err.message
            );
        }
        let err = resolve_media_path(Some(&media), &root.join("secret.wav")).unwrap_err();
        assert!(err.message.contains("inside media_dir"), "{}", err.message);
        assert!(resolve_media_path(None, Path::new("sub/ok.wav")).is_err());
        // A folder is not a regular file.
        let err = resolve_media_path(Some(&media), Path::new("sub")).unwrap_err();
        assert!(err.message.contains("regular"), "{}", err.message);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("secret.wav"), media.join("link.wav")).unwrap();
            let err = resolve_media_path(Some(&media), Path::new("link.wav")).unwrap_err();
            assert!(err.message.contains("inside media_dir"), "{}", err.message);
            let fifo = media.join("fifo.wav");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            assert!(
                made.is_ok_and(|s| s.success()),
                "mkfifo (coreutils) makes a FIFO"
            );
            let err = resolve_media_path(Some(&media), Path::new("fifo.wav")).unwrap_err();
            assert!(err.message.contains("regular"), "{}", err.message);
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}
