//! Replays every recorded capture in `fixtures/` through the real pipeline (capture reader →
//! audio thread → jitter buffer → libopus → frames) and checks the audio and the counters against
//! what `fixtures/manifest.json` measured when the capture was recorded and what
//! `fixtures/impair.py` says it did to the impaired copies.

use std::collections::BTreeSet;
use std::path::PathBuf;

use mediabot_media::analysis::{dominant_frequency, power_at, rms};
use mediabot_media::capture::CaptureReader;
use mediabot_media::frame::PcmFormat;
use mediabot_media::opus_packet::OpusPacketInfo;
use mediabot_media::replay::{ReplayConfig, ReplayOutput, ReplayStream, replay_file};
use mediabot_media::rtp::RtpPacket;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("manifest.json")).expect("manifest.json");
    let doc: Value = serde_json::from_str(&text).expect("manifest parses");
    doc["fixtures"].as_array().expect("fixtures list").clone()
}

fn entry(file: &str) -> Value {
    manifest()
        .into_iter()
        .find(|f| f["file"] == file)
        .unwrap_or_else(|| panic!("{file} not in manifest"))
}

fn sidecar(entry: &Value) -> Value {
    let name = entry["impairment_sidecar"]
        .as_str()
        .expect("an impaired fixture");
    let text = std::fs::read_to_string(fixtures().join(name)).expect("sidecar exists");
    serde_json::from_str(&text).expect("sidecar parses")
}

fn replay(file: &str, format: PcmFormat) -> ReplayOutput {
    replay_file(
        &fixtures().join(file),
        ReplayConfig {
            format,
            payload_type: None,
        },
    )
    .unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn stream(out: &ReplayOutput, ssrc: u64) -> &ReplayStream {
    out.streams
        .iter()
        .find(|s| u64::from(s.ssrc) == ssrc)
        .unwrap_or_else(|| panic!("no stream {ssrc:#x}"))
}

/// Skips the first and last 100 ms, where encoder start-up and PLC tails live.
fn body(samples: &[i16], rate: u32) -> &[i16] {
    let cut = rate as usize / 10;
    &samples[cut.min(samples.len())..samples.len().saturating_sub(cut)]
}

fn assert_tone(s: &ReplayStream, rate: u32, hz: f64, what: &str) {
    let f = dominant_frequency(body(&s.samples, rate), rate, 50.0, 4_000.0);
    assert!(
        (f - hz).abs() <= 2.0,
        "{what}: dominant {f} Hz, want {hz} Hz"
    );
}

#[test]
fn every_clean_capture_decodes_to_what_was_recorded() {
    let format = PcmFormat::default();
    let clean: Vec<Value> = manifest()
        .into_iter()
        .filter(|f| f["kind"] == "clean")
        .collect();
    assert!(
        clean.len() >= 8,
        "mono, gst, stereo, speech, 10/60 ms, two sources, FEC"
    );
    for fixture in clean {
        let file = fixture["file"].as_str().unwrap();
        let out = replay(file, format);
        let streams = fixture["streams"].as_array().unwrap();
        assert_eq!(out.streams.len(), streams.len(), "{file}: stream count");
        for want in streams {
            let s = stream(&out, want["ssrc"].as_u64().unwrap());
            let j = s.stats.jitter;
            let what = format!("{file} ssrc {:#x}", s.ssrc);
            assert_eq!(
                j.packets,
                want["packet_count"].as_u64().unwrap(),
                "{what}: packets"
            );
            assert_eq!(
                (j.lost, j.duplicates, j.reordered, j.late, j.invalid),
                (0, 0, 0, 0, 0),
                "{what}: a clean capture has no impairment"
            );
            // Duration: the RTP timestamp span plus one packet, to the frame. A source whose
            // packets stop while another goes on is concealed for at most a frame or two.
            let want_s = want["duration_s"].as_f64().unwrap();
            let got_s = s.duration_seconds(format);
            assert!(
                got_s >= want_s - 0.001 && got_s <= want_s + 0.041,
                "{what}: {got_s} s decoded, recorded {want_s} s"
            );
            assert!(
                s.concealed_frames <= 2,
                "{what}: {} concealed",
                s.concealed_frames
            );
            let level = rms(body(&s.samples, 16_000));
            match &want["frequency_hz"] {
                Value::Number(hz) => {
                    assert_tone(s, 16_000, hz.as_f64().unwrap(), &what);
                    // lavfi/audiotestsrc tones at 1/8 (ffmpeg) or 0.3 (GStreamer) full scale.
                    let recorded = want["decoded"]["channels"][0]["rms_i16"].as_f64().unwrap();
                    assert!(
                        (level - recorded).abs() / recorded < 0.05,
                        "{what}: RMS {level}, recorded {recorded}"
                    );
                }
                Value::Array(pair) => {
                    // Stereo decoded as the default mono downmix: both tones, nothing between.
                    let samples = body(&s.samples, 16_000);
                    let floor = power_at(samples, 16_000, 800.0);
                    for hz in pair {
                        let p = power_at(samples, 16_000, hz.as_f64().unwrap());
                        assert!(
                            p > 100.0 * floor,
                            "{what}: {hz} Hz missing from the downmix"
                        );
                    }
                }
                Value::String(kind) if kind == "speech" => {
                    let recorded = want["decoded"]["channels"][0]["rms_i16"].as_f64().unwrap();
                    let whole = rms(&s.samples);
                    assert!(
                        (whole - recorded).abs() / recorded < 0.10,
                        "{what}: speech RMS {whole}, recorded {recorded}"
                    );
                }
                other => panic!("{what}: unexpected signal {other}"),
            }
        }
    }
}

#[test]
fn stereo_keeps_its_channels_when_asked() {
    let format = PcmFormat::new(48_000, 2).unwrap();
    let out = replay("stereo500_1200_20ms_ffmpeg.pcap", format);
    let s = &out.streams[0];
    let left: Vec<i16> = s.samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = s.samples.iter().skip(1).step_by(2).copied().collect();
    let f_left = dominant_frequency(body(&left, 48_000), 48_000, 50.0, 4_000.0);
    let f_right = dominant_frequency(body(&right, 48_000), 48_000, 50.0, 4_000.0);
    assert!((f_left - 500.0).abs() <= 2.0, "left {f_left}");
    assert!((f_right - 1_200.0).abs() <= 2.0, "right {f_right}");
}

#[test]
fn every_supported_rate_keeps_frequency_and_duration() {
    // 8/12/16/24/48 kHz come straight from libopus; 44.1, 22.05 and 32 kHz go through rubato.
    for rate in [
        8_000, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
    ] {
        let format = PcmFormat::new(rate, 1).unwrap();
        let out = replay("tone440_mono_20ms_ffmpeg.pcap", format);
        let s = &out.streams[0];
        assert_tone(s, rate, 440.0, &format!("{rate} Hz"));
        assert_eq!(
            s.samples.len(),
            151 * rate as usize / 50,
            "{rate} Hz: 151 frames"
        );
        let level = rms(body(&s.samples, rate));
        assert!((level - 2_896.0).abs() < 150.0, "{rate} Hz: RMS {level}");
    }
}

/// RFC 3550 A.3 expected-minus-received, and the arrival-order reorder count, from the
/// sidecar's record of what impair.py actually emitted.
struct Expected {
    lost: u64,
    duplicates: u64,
    out_of_order: u64,
    expected_packets: u64,
}

fn expected_from(sidecar_stream: &Value) -> Expected {
    let arrivals: Vec<u64> = sidecar_stream["arrival_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let mut seen = BTreeSet::new();
    let mut highest = 0;
    let mut out_of_order = 0;
    for &seq in &arrivals {
        if !seen.insert(seq) {
            continue;
        }
        if seq < highest {
            out_of_order += 1;
        }
        highest = highest.max(seq);
    }
    let base = arrivals[0];
    let expected_packets = highest - base + 1;
    Expected {
        lost: expected_packets - seen.len() as u64,
        duplicates: sidecar_stream["duplicated_count"].as_u64().unwrap(),
        out_of_order,
        expected_packets,
    }
}

#[test]
fn impaired_captures_are_counted_exactly_and_keep_their_audio() {
    let format = PcmFormat::default();
    let impaired: Vec<Value> = manifest()
        .into_iter()
        .filter(|f| f["kind"] == "impaired")
        .collect();
    assert!(
        impaired.len() >= 6,
        "loss, reorder, dup, jitter ×2, combined, two sources"
    );
    for fixture in impaired {
        let file = fixture["file"].as_str().unwrap();
        let sidecar = sidecar(&fixture);
        let out = replay(file, format);
        for (_, st) in sidecar["streams"].as_object().unwrap() {
            let want = expected_from(st);
            let s = stream(&out, st["ssrc"].as_u64().unwrap());
            let j = s.stats.jitter;
            let what = format!("{file} ssrc {:#x}", s.ssrc);
            assert_eq!(j.lost, want.lost, "{what}: lost");
            assert_eq!(j.duplicates, want.duplicates, "{what}: duplicates");
            assert_eq!(
                j.reordered + j.late,
                want.out_of_order,
                "{what}: every out-of-order packet is reordered or late"
            );
            // Every packet missing at its playout time became exactly one concealed 20 ms frame
            // or one rebuilt from FEC, and the timeline kept its length: one frame per
            // expected packet, plus any frames the jitter buffer inserted to grow.
            assert_eq!(
                s.concealed_frames + s.fec_frames,
                j.lost + j.late,
                "{what}: concealed + FEC frames = lost + late"
            );
            assert_eq!(
                s.frames,
                want.expected_packets + s.stats.stretched_frames,
                "{what}: duration unchanged"
            );
            if let Value::Number(hz) = &fixture["streams"][0]["frequency_hz"]
                && fixture["streams"].as_array().unwrap().len() == 1
            {
                assert_tone(s, 16_000, hz.as_f64().unwrap(), &what);
            }
        }
        if file.starts_with("two_sources") {
            let a = stream(&out, 0x7000_0440);
            let b = stream(&out, 0x7000_0880);
            assert_tone(a, 16_000, 440.0, "two sources, first");
            assert_tone(b, 16_000, 880.0, "two sources, second");
        }
    }
}

#[test]
fn ten_percent_loss_conceals_about_ten_percent_of_frames() {
    let out = replay("tone440_mono_20ms_ffmpeg.loss10.pcap", PcmFormat::default());
    let s = &out.streams[0];
    let share = s.concealed_frames as f64 / s.frames as f64;
    assert!((0.05..=0.15).contains(&share), "{share}");
}

#[test]
fn lbrr_detection_agrees_with_the_recorded_manifest() {
    for file in [
        "speech_fec_loss10_ffmpeg.pcap",
        "tone440_fec_loss10_ffmpeg.pcap",
    ] {
        let want: BTreeSet<u64> = entry(file)["streams"][0]["opus_silk_lbrr_seqs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert!(!want.is_empty(), "{file} was recorded with FEC");
        let f = std::fs::File::open(fixtures().join(file)).unwrap();
        let mut capture = CaptureReader::new(std::io::BufReader::new(f)).unwrap();
        let mut got = BTreeSet::new();
        while let Some(d) = capture.next_datagram() {
            let p = RtpPacket::parse(d.payload).unwrap();
            if OpusPacketInfo::parse(p.payload()).unwrap().has_lbrr {
                got.insert(u64::from(p.sequence()));
            }
        }
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn in_band_fec_rebuilds_isolated_losses() {
    let file = "speech_fec_loss10_ffmpeg.loss10.pcap";
    let fixture = entry(file);
    let sidecar = sidecar(&fixture);
    let (_, st) = sidecar["streams"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let dropped: BTreeSet<u64> = st["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let lbrr: BTreeSet<u64> =
        entry("speech_fec_loss10_ffmpeg.pcap")["streams"][0]["opus_silk_lbrr_seqs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
    // The last packet of each run of losses is rebuilt when the packet after it arrived and
    // carries LBRR; the rest of the run is concealed.
    let recoverable = dropped
        .iter()
        .filter(|&&d| !dropped.contains(&(d + 1)) && lbrr.contains(&(d + 1)))
        .count() as u64;
    assert!(recoverable > 0, "the seed must give FEC something to do");
    let out = replay(file, PcmFormat::default());
    let s = &out.streams[0];
    assert_eq!(s.stats.fec_recovered, recoverable);
    assert_eq!(s.fec_frames, recoverable);
}
