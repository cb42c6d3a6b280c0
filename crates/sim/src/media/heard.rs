//! What a participant heard from the bot: counters and a bounded record of the audible samples.

use std::collections::VecDeque;

use mediabot_media::analysis::dominant_frequency;

/// A decoded frame whose RMS is at or below this counts as silence (about −54 dBFS).
pub(crate) const AUDIBLE_RMS: f64 = 64.0;

/// How much of the record [`HeardReport::dominant_hz`] looks at.
const ANALYSIS_SECONDS: usize = 1;

/// The sum of the squared samples of a frame (what [`HeardLog::push`] accumulates).
pub(crate) fn sum_of_squares(samples: &[i16]) -> f64 {
    samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
}

/// What one participant heard of the bot so far.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct HeardReport {
    /// Seconds of audible bot audio routed to the participant (silent frames not counted).
    pub seconds: f64,
    /// Seconds of bot frames routed to the participant, silent or not.
    pub routed_seconds: f64,
    /// RMS level of all audible audio heard (0 when nothing was heard).
    pub rms: f64,
    /// Strongest frequency of the last second of audible audio heard (50–4000 Hz), if any.
    pub dominant_hz: Option<f64>,
    /// Sample rate of the record.
    pub sample_rate: u32,
}

/// The per-participant record behind [`HeardReport`]. Bounded: it keeps the last
/// `capacity` audible samples; older ones are dropped. A capacity of zero keeps counters only.
#[derive(Debug)]
pub(crate) struct HeardLog {
    record: VecDeque<i16>,
    capacity: usize,
    sample_rate: u32,
    audible_samples: u64,
    routed_samples: u64,
    sum_squares: f64,
}

impl HeardLog {
    /// A log keeping `seconds` of audio at `sample_rate`.
    pub(crate) fn new(seconds: u32, sample_rate: u32) -> HeardLog {
        HeardLog {
            record: VecDeque::new(),
            capacity: seconds as usize * sample_rate as usize,
            sample_rate,
            audible_samples: 0,
            routed_samples: 0,
            sum_squares: 0.0,
        }
    }

    /// Accounts one mono frame routed to the participant, with its precomputed RMS and
    /// [`sum_of_squares`] (computed once per frame, however many participants hear it).
    pub(crate) fn push(&mut self, samples: &[i16], frame_rms: f64, frame_sum_squares: f64) {
        self.routed_samples += samples.len() as u64;
        if frame_rms <= AUDIBLE_RMS {
            return;
        }
        self.audible_samples += samples.len() as u64;
        self.sum_squares += frame_sum_squares;
        let overflow = (self.record.len() + samples.len()).saturating_sub(self.capacity);
        self.record.drain(..overflow.min(self.record.len()));
        let skip = samples.len().saturating_sub(self.capacity);
        self.record.extend(&samples[skip..]);
    }

    /// The report as of now.
    pub(crate) fn report(&self) -> HeardReport {
        let rate = f64::from(self.sample_rate);
        let analysis = self.last(ANALYSIS_SECONDS * self.sample_rate as usize);
        HeardReport {
            seconds: self.audible_samples as f64 / rate,
            routed_seconds: self.routed_samples as f64 / rate,
            rms: if self.audible_samples == 0 {
                0.0
            } else {
                (self.sum_squares / self.audible_samples as f64).sqrt()
            },
            dominant_hz: (analysis.len() >= self.sample_rate as usize / 10)
                .then(|| dominant_frequency(&analysis, self.sample_rate, 50.0, 4_000.0)),
            sample_rate: self.sample_rate,
        }
    }

    /// The last `n` recorded samples (fewer if the record is shorter).
    pub(crate) fn last(&self, n: usize) -> Vec<i16> {
        let skip = self.record.len().saturating_sub(n);
        self.record.iter().skip(skip).copied().collect()
    }

    /// The whole record, oldest first.
    pub(crate) fn record(&self) -> Vec<i16> {
        self.record.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediabot_media::analysis::rms;

    fn tone(hz: f64, n: usize, amplitude: f64) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amplitude * (2.0 * std::f64::consts::PI * hz * i as f64 / 16_000.0).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn counts_audible_and_routed_time_and_keeps_a_bounded_record() {
        let mut log = HeardLog::new(2, 16_000);
        let signal = tone(500.0, 320 * 150, 4_000.0);
        for frame in signal.chunks(320) {
            log.push(frame, rms(frame), sum_of_squares(frame));
        }
        for _ in 0..50 {
            log.push(&[0; 320], 0.0, 0.0);
        }
        let report = log.report();
        assert!((report.seconds - 3.0).abs() < 1e-9, "{report:?}");
        assert!((report.routed_seconds - 4.0).abs() < 1e-9, "{report:?}");
        assert!(
            (report.rms - 4_000.0 / 2f64.sqrt()).abs() < 10.0,
            "{report:?}"
        );
        let hz = report.dominant_hz.unwrap();
        assert!((hz - 500.0).abs() <= 1.0, "{hz}");
        assert_eq!(log.record().len(), 32_000, "only the last 2 s are kept");
        assert_eq!(log.record()[31_999], signal[signal.len() - 1]);
        assert!((rms(&log.last(16_000)) - 4_000.0 / 2f64.sqrt()).abs() < 10.0);
    }

    #[test]
    fn nothing_heard_reports_nothing() {
        let mut log = HeardLog::new(1, 16_000);
        log.push(&[3; 320], 3.0, sum_of_squares(&[3; 320]));
        let report = log.report();
        assert_eq!(report.seconds, 0.0);
        assert!((report.routed_seconds - 0.02).abs() < 1e-9);
        assert_eq!(report.rms, 0.0);
        assert_eq!(report.dominant_hz, None);
    }
}
