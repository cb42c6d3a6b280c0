//! `mediabot replay`: a capture in, one WAV per SSRC and a JSON summary out.

use std::path::Path;

use anyhow::Context;
use mediabot_media::analysis::rms;
use mediabot_media::frame::PcmFormat;
use mediabot_media::replay::{ReplayConfig, ReplayOutput, replay_file};
use serde::Serialize;

use crate::wav::WavSink;

/// The summary printed on stdout.
#[derive(Debug, Serialize)]
struct Summary {
    capture: String,
    sample_rate: u32,
    channels: u8,
    udp_datagrams: u64,
    skipped_datagrams: u64,
    garbage: u64,
    malformed_frames: u64,
    truncated_capture: bool,
    /// The mix of all streams on the shared timeline, if any stream played.
    mixed_wav: Option<String>,
    streams: Vec<StreamSummary>,
}

#[derive(Debug, Serialize)]
struct StreamSummary {
    ssrc: u32,
    payload_type: u8,
    wav: String,
    packets: u64,
    bytes: u64,
    lost: u64,
    late: u64,
    duplicates: u64,
    reordered: u64,
    invalid: u64,
    frames: u64,
    concealed_frames: u64,
    fec_recovered: u64,
    silence_frames: u64,
    stretched_frames: u64,
    decode_errors: u64,
    jitter_ms: f64,
    duration_seconds: f64,
    rms: f64,
}

pub(crate) fn run(
    capture: &Path,
    out: &Path,
    rate: u32,
    channels: u8,
    pt: Option<u8>,
) -> anyhow::Result<()> {
    let format = PcmFormat::new(rate, channels)?;
    if !capture.is_file() {
        anyhow::bail!("capture {} does not exist", capture.display());
    }
    let output = replay_file(
        capture,
        ReplayConfig {
            format,
            payload_type: pt,
        },
    )
    .with_context(|| format!("replaying {}", capture.display()))?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let summary = write_streams(capture, out, &output)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

fn write_streams(capture: &Path, out: &Path, output: &ReplayOutput) -> anyhow::Result<Summary> {
    let format = output.format;
    let mut streams = Vec::new();
    for stream in &output.streams {
        let name = format!("ssrc-{}.wav", stream.ssrc);
        let path = out.join(&name);
        let mut sink = WavSink::create(&path, format)
            .with_context(|| format!("creating {}", path.display()))?;
        sink.write(&stream.samples)?;
        sink.finish()?;
        let j = stream.stats.jitter;
        streams.push(StreamSummary {
            ssrc: stream.ssrc,
            payload_type: stream.payload_type,
            wav: name,
            packets: j.packets,
            bytes: j.bytes,
            lost: j.lost,
            late: j.late,
            duplicates: j.duplicates,
            reordered: j.reordered,
            invalid: j.invalid,
            frames: stream.frames,
            concealed_frames: stream.concealed_frames,
            fec_recovered: stream.stats.fec_recovered,
            silence_frames: stream.silence_frames,
            stretched_frames: stream.stats.stretched_frames,
            decode_errors: stream.stats.decode_errors,
            jitter_ms: f64::from(j.jitter) / 48.0,
            duration_seconds: stream.duration_seconds(format),
            rms: rms(&stream.samples),
        });
    }
    let mixed_wav = match &output.mixed {
        Some(mixed) => {
            let path = out.join("mixed.wav");
            let mut sink = WavSink::create(&path, format)
                .with_context(|| format!("creating {}", path.display()))?;
            sink.write(&mixed.samples)?;
            sink.finish()?;
            Some("mixed.wav".to_string())
        }
        None => None,
    };
    Ok(Summary {
        mixed_wav,
        capture: capture.display().to_string(),
        sample_rate: format.sample_rate(),
        channels: format.channels(),
        udp_datagrams: output.capture.udp,
        skipped_datagrams: output.skipped_datagrams,
        garbage: output.report.receiver.garbage,
        malformed_frames: output.capture.malformed,
        truncated_capture: output.capture.truncated,
        streams,
    })
}
