//! What the bot says: a tone or a WAV file queued on a call's outgoing audio.

use mediabot_media::session::MediaSession;

use crate::control::{ControlError, ErrorKind, SpeakRequest};

/// Queues a tone or a WAV file on the call's outgoing audio. A WAV is fed from its own thread at
/// the pace the send thread drains it.
pub(crate) fn speak(session: &mut MediaSession, request: SpeakRequest) -> Result<(), ControlError> {
    let bad = |m: &str| ControlError::new(ErrorKind::BadRequest, m);
    let busy = |m: &str| ControlError::new(ErrorKind::Conflict, m);
    if let Some(wav) = request.wav {
        let mut outbound = session
            .take_outbound(0)
            .ok_or_else(|| busy("the bot is already playing a file in this call"))?;
        if request.clear {
            outbound.clear();
        }
        std::thread::spawn(move || {
            if let Err(e) = outbound.play_wav(&wav) {
                tracing::warn!(file = %wav.display(), error = %e, "playing a file failed");
            }
        });
        return Ok(());
    }
    let hz = request
        .tone_hz
        .ok_or_else(|| bad("say what to play: toneHz or wav"))?;
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
        .map_err(|e| ControlError::new(ErrorKind::BadRequest, e.to_string()))?;
    Ok(())
}

/// A sine tone at 48 kHz, peak 8,000.
fn tone(hz: f64, seconds: f64) -> Vec<i16> {
    let n = (48_000.0 * seconds) as usize;
    (0..n)
        .map(|i| (8_000.0 * (std::f64::consts::TAU * hz * i as f64 / 48_000.0).sin()) as i16)
        .collect()
}
