//! Replays the recorded captures in `fixtures/` through the real pipeline and checks the audio.

use std::path::PathBuf;

use mediabot_media::analysis::{dominant_frequency, rms};
use mediabot_media::replay::{ReplayConfig, replay_file};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

#[test]
fn mono_tone_comes_out_at_its_frequency() {
    let out = replay_file(
        &fixture("tone440_mono_20ms_ffmpeg.pcap"),
        ReplayConfig::default(),
    )
    .unwrap();
    assert_eq!(out.streams.len(), 1);
    let s = &out.streams[0];
    let f = dominant_frequency(&s.samples, 16_000, 50.0, 4_000.0);
    eprintln!(
        "{:#?} freq {f} rms {} dur {}",
        s.stats,
        rms(&s.samples),
        s.duration_seconds(out.format)
    );
    assert!((f - 440.0).abs() <= 2.0);
}
