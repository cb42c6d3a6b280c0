//! The README's main job as a user runs it: `mediabot demo` against the embedded simulator, then
//! the recordings are checked — each participant's WAV carries that participant's tone and
//! nothing else, the mixed WAV carries all of them, and report.json tells who was there.

use std::path::{Path, PathBuf};
use std::process::Command;

use mediabot_media::analysis::{dominant_frequency, power_at};

fn read_wav(path: &Path) -> Vec<i16> {
    let mut reader = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("{} is not a readable WAV: {e}", path.display()));
    assert_eq!(reader.spec().sample_rate, 16_000);
    reader.samples::<i16>().map(Result::unwrap).collect()
}

/// The stretches of `samples` that are not silent (20 ms frames above −50 dBov).
fn voiced(samples: &[i16]) -> Vec<i16> {
    samples
        .chunks(320)
        .filter(|c| mediabot_media::speaker::frame_dbov(c) > -50.0)
        .flatten()
        .copied()
        .collect()
}

#[test]
fn demo_records_each_participant_alone_and_the_mix() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("demo-e2e");
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_mediabot"))
        .args(["demo", "--seconds", "12", "--out"])
        .arg(&out)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "demo failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json"))
            .expect("report.json parses");
    assert!(!report["callId"].as_str().unwrap().is_empty());
    let latency = report["joinLatencyMs"].as_f64().expect("a join latency");
    assert!(latency > 0.0 && latency < 10_000.0, "{latency} ms");
    let participants = report["participants"].as_array().unwrap();
    let tones = [
        ("Alice", 1001, 440.0),
        ("Bob", 1002, 660.0),
        ("Carol", 1003, 880.0),
    ];
    assert_eq!(participants.len(), tones.len(), "{report:#}");

    for (name, msi, hz) in tones {
        let p = participants
            .iter()
            .find(|p| p["msi"] == msi)
            .unwrap_or_else(|| panic!("no participant with MSI {msi}: {report:#}"));
        assert_eq!(p["displayName"], name);
        assert!(p["id"].as_str().is_some_and(|id| !id.is_empty()));
        assert_eq!(p["lost"], 0, "{name}: a loopback call loses nothing");
        assert!(
            p["speakingSeconds"].as_f64().unwrap() >= 1.0,
            "{name} spoke"
        );
        let samples = voiced(&read_wav(&out.join(p["wav"].as_str().unwrap())));
        assert!(
            samples.len() >= 16_000,
            "{name}: at least a second of voice"
        );
        let f = dominant_frequency(&samples, 16_000, 50.0, 4_000.0);
        assert!((f - hz).abs() <= 2.0, "{name}: dominant {f} Hz, want {hz}");
        let own = power_at(&samples, 16_000, hz);
        for (other, _, other_hz) in tones.iter().filter(|t| t.0 != name) {
            let leak = power_at(&samples, 16_000, *other_hz);
            assert!(own > 1_000.0 * leak, "{name}'s WAV carries {other}'s tone");
        }
    }

    let mixed = voiced(&read_wav(
        &out.join(report["mixedWav"].as_str().expect("a mix")),
    ));
    let floor = power_at(&mixed, 16_000, 1_500.0);
    for (name, _, hz) in tones {
        assert!(
            power_at(&mixed, 16_000, hz) > 100.0 * floor,
            "{name} missing from the mix"
        );
    }
    assert!(
        stdout.contains("speaking: Alice"),
        "live progress names the speaker:\n{stdout}"
    );
}
