//! `mediabot replay` as a user runs it: the real binary on real captures, WAVs read back with
//! hound and cross-checked with sox (an independent tool) when it is installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mediabot_media::analysis::{dominant_frequency, power_at};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn out_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn replay(capture: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mediabot"))
        .arg("replay")
        .arg(capture)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("the binary runs")
}

fn summary(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is the JSON summary")
}

fn read_wav(path: &Path) -> (hound::WavSpec, Vec<i16>) {
    let mut reader = hound::WavReader::open(path).expect("a readable WAV");
    let spec = reader.spec();
    let samples = reader.samples::<i16>().map(Result::unwrap).collect();
    (spec, samples)
}

#[test]
fn two_speakers_become_two_wavs_with_their_own_tones() {
    let out = out_dir("two_speakers");
    let json = summary(&replay(
        &fixtures().join("two_sources_440_880_ffmpeg.pcap"),
        &out,
        &[],
    ));
    let streams = json["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2);
    for (stream, hz) in streams.iter().zip([440.0, 880.0]) {
        let wav = out.join(stream["wav"].as_str().unwrap());
        let (spec, samples) = read_wav(&wav);
        assert_eq!(
            (spec.sample_rate, spec.channels, spec.bits_per_sample),
            (16_000, 1, 16)
        );
        let f = dominant_frequency(
            &samples[1_600..samples.len() - 1_600],
            16_000,
            50.0,
            4_000.0,
        );
        assert!((f - hz).abs() <= 2.0, "{}: {f} Hz", wav.display());
        assert!((stream["duration_seconds"].as_f64().unwrap() - 3.02).abs() < 0.05);
        assert_eq!(stream["packets"], 151);
        assert_eq!(stream["lost"], 0);
    }
    // The mix carries both tones.
    let (_, mixed) = read_wav(&out.join(json["mixed_wav"].as_str().unwrap()));
    let body = &mixed[1_600..mixed.len() - 1_600];
    let floor = power_at(body, 16_000, 660.0);
    for hz in [440.0, 880.0] {
        assert!(
            power_at(body, 16_000, hz) > 100.0 * floor,
            "{hz} Hz missing from the mix"
        );
    }
}

#[test]
fn sox_reads_the_wavs_as_written() {
    if Command::new("sox").arg("--version").output().is_err() {
        panic!("sox is missing: run scripts/setup.sh (the test command installs it)");
    }
    let out = out_dir("sox");
    let json = summary(&replay(
        &fixtures().join("tone660_mono_20ms_gst.pcap"),
        &out,
        &["--rate", "48000"],
    ));
    let wav = out.join(json["streams"][0]["wav"].as_str().unwrap());
    let stat = Command::new("sox")
        .arg(&wav)
        .args(["-n", "stat"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&stat.stderr);
    let field = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("sox stat has no {name}: {text}"))
    };
    assert!((field("Length (seconds)") - 3.02).abs() < 0.03, "{text}");
    assert!((field("Rough   frequency") - 660.0).abs() < 10.0, "{text}");
    let rate = Command::new("sox")
        .args(["--i", "-r"])
        .arg(&wav)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&rate.stdout).trim(), "48000");
}

#[test]
fn not_a_pcap_is_a_clear_error() {
    let dir = out_dir("not_pcap");
    std::fs::create_dir_all(&dir).unwrap();
    let bogus = dir.join("notes.pcap");
    std::fs::write(&bogus, b"this is not a capture at all").unwrap();
    let output = replay(&bogus, &dir.join("out"), &[]);
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("not a pcap"), "{err}");

    let ng = dir.join("capture.pcapng");
    std::fs::write(&ng, [0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0]).unwrap();
    let err = String::from_utf8_lossy(&replay(&ng, &dir.join("out"), &[]).stderr).to_string();
    assert!(err.contains("pcapng"), "{err}");

    let missing = replay(&dir.join("nope.pcap"), &dir.join("out"), &[]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

#[test]
fn a_capture_cut_off_mid_record_still_replays_what_it_holds() {
    let dir = out_dir("truncated");
    std::fs::create_dir_all(&dir).unwrap();
    let full = std::fs::read(fixtures().join("tone440_mono_20ms_ffmpeg.pcap")).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &full[..full.len() * 2 / 3 + 7]).unwrap();
    let json = summary(&replay(&cut, &dir.join("out"), &[]));
    assert_eq!(json["truncated_capture"], true);
    let packets = json["streams"][0]["packets"].as_u64().unwrap();
    assert!((90..151).contains(&packets), "{packets}");
}

/// Rewrites RTP payloads in a classic pcap (Ethernet/IPv4/UDP, as the fixtures are): every
/// `every`-th datagram (the `every`-th, `2 × every`-th …, so never the first) gets `mangle`
/// applied to its UDP payload.
fn mangle_capture(input: &[u8], every: usize, mangle: impl Fn(usize, &mut [u8])) -> Vec<u8> {
    let mut out = input.to_vec();
    let little = out[..4] == [0xd4, 0xc3, 0xb2, 0xa1];
    let read_u32 = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let mut at = 24;
    let mut index = 0;
    while at + 16 <= out.len() {
        let incl = read_u32(&out[at + 8..]) as usize;
        let data = at + 16;
        let udp_payload = data + 14 + 20 + 8;
        if index % every == every - 1 && udp_payload < data + incl {
            mangle(index, &mut out[udp_payload..data + incl]);
        }
        at = data + incl;
        index += 1;
    }
    out
}

#[test]
fn garbage_is_counted_and_dropped_without_losing_the_good_packets() {
    let dir = out_dir("garbage");
    std::fs::create_dir_all(&dir).unwrap();
    let clean = std::fs::read(fixtures().join("tone440_mono_20ms_ffmpeg.pcap")).unwrap();
    // Every 10th datagram: RTP version 0 (not RTP at all).
    let not_rtp = mangle_capture(&clean, 10, |_, p| p[0] &= 0x3f);
    let path = dir.join("not_rtp.pcap");
    std::fs::write(&path, not_rtp).unwrap();
    let json = summary(&replay(&path, &dir.join("a"), &["--pt", "97"]));
    assert_eq!(json["skipped_datagrams"], 15);
    assert_eq!(json["streams"][0]["packets"], 136);

    // Every 7th datagram: valid RTP header, payload replaced by bytes that are not Opus.
    let bad_opus = mangle_capture(&clean, 7, |i, p| {
        let len = p.len();
        p[12] = (i as u8) | 0x03; // code 3 ...
        p[13] = 0; // ... with zero frames: invalid framing
        p[14..len].fill(0xff);
    });
    let path = dir.join("bad_opus.pcap");
    std::fs::write(&path, bad_opus).unwrap();
    let json = summary(&replay(&path, &dir.join("b"), &["--pt", "97"]));
    let s = &json["streams"][0];
    assert_eq!(s["invalid"], 21);
    assert_eq!(s["packets"], 151 - 21);
    assert_eq!(s["decode_errors"], 0);
    // The timeline is intact: invalid packets are concealed like lost ones.
    assert_eq!(s["frames"], 151);
}
