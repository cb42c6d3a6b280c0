//! Measurements of decoded audio: level and dominant frequency. Used by the replay summary,
//! the demo report and the tests that check audio end to end. Not on the per-frame path.

/// Root-mean-square level of i16 samples (0 for an empty slice).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// Signal power at `frequency` Hz (Goertzel), normalised by length.
pub fn power_at(samples: &[i16], sample_rate: u32, frequency: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * frequency / f64::from(sample_rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    power / (samples.len() as f64 * samples.len() as f64)
}

/// The strongest frequency between `min_hz` and `max_hz` (and below Nyquist), to within 1 Hz:
/// a 10 Hz scan, then a 1 Hz refinement around the peak.
pub fn dominant_frequency(samples: &[i16], sample_rate: u32, min_hz: f64, max_hz: f64) -> f64 {
    let max_hz = max_hz.min(f64::from(sample_rate) / 2.0 - 10.0);
    let mut best = (min_hz, f64::MIN);
    let mut f = min_hz;
    while f <= max_hz {
        let p = power_at(samples, sample_rate, f);
        if p > best.1 {
            best = (f, p);
        }
        f += 10.0;
    }
    let coarse = best.0;
    let mut f = (coarse - 10.0).max(min_hz);
    while f <= (coarse + 10.0).min(max_hz) {
        let p = power_at(samples, sample_rate, f);
        if p > best.1 {
            best = (f, p);
        }
        f += 1.0;
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, seconds: f64, amplitude: f64) -> Vec<i16> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn finds_a_tone_and_its_level() {
        let t = tone(440.0, 16_000, 1.0, 4_096.0);
        let f = dominant_frequency(&t, 16_000, 50.0, 4_000.0);
        assert!((f - 440.0).abs() <= 1.0, "{f}");
        assert!((rms(&t) - 4_096.0 / 2f64.sqrt()).abs() < 5.0);
        assert!(power_at(&t, 16_000, 440.0) > 100.0 * power_at(&t, 16_000, 880.0));
    }
}
