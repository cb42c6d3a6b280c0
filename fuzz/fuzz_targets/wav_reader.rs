//! `mediabot::decode_wav` (what `speak` runs on an uploaded `audio/wav` body) on arbitrary
//! bytes: never panic, and a clip it accepts obeys the rules it promises — 8–48 kHz, mono or
//! stereo, at most `MAX_CLIP_SECONDS`, and no more samples than the input has bytes for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mediabot::control::MAX_CLIP_SECONDS;

fuzz_target!(|data: &[u8]| {
    let Ok(clip) = mediabot::decode_wav(data) else {
        return;
    };
    assert!((8_000..=48_000).contains(&clip.rate));
    assert!((1..=2).contains(&clip.channels));
    assert!(
        clip.samples.len() * 2 <= data.len(),
        "16-bit samples come from the input"
    );
    let most = u64::from(MAX_CLIP_SECONDS) * u64::from(clip.rate) * u64::from(clip.channels);
    assert!(clip.samples.len() as u64 <= most);
});
