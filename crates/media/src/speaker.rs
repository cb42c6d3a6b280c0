//! Active and dominant speaker detection from audio level, with hysteresis.
//!
//! Each source's level per 20 ms frame comes from the RFC 6464 audio-level header extension when
//! the sender provides it, else from the decoded frame's energy (dBov). A source becomes *active*
//! after `attack_frames` consecutive frames above `threshold_dbov` and inactive after
//! `release_frames` below it. The *dominant* speaker is the active source with the highest
//! smoothed level; another source takes over only after it has been louder by `switch_margin_db`
//! for `switch_frames` frames, so short interjections do not flap the dominant speaker.
//!
//! Fixed-size tables, no allocation after construction.

/// Tuning of the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeakerConfig {
    /// Level (dBov, ≤ 0) above which a frame counts as speech.
    pub threshold_dbov: f32,
    /// Consecutive speech frames before a source is active.
    pub attack_frames: u32,
    /// Consecutive non-speech frames before an active source is inactive.
    pub release_frames: u32,
    /// How much louder (dB, smoothed) a challenger must be to become dominant.
    pub switch_margin_db: f32,
    /// For how many consecutive frames the challenger must stay louder.
    pub switch_frames: u32,
}

impl Default for SpeakerConfig {
    fn default() -> SpeakerConfig {
        SpeakerConfig {
            threshold_dbov: -50.0,
            attack_frames: 2,
            release_frames: 15,
            switch_margin_db: 3.0,
            switch_frames: 10,
        }
    }
}

/// A change the detector reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeakerEvent {
    /// The source started speaking.
    Active {
        /// RTP SSRC.
        ssrc: u32,
        /// Teams media source id, if bound.
        msi: Option<u32>,
    },
    /// The source stopped speaking.
    Inactive {
        /// RTP SSRC.
        ssrc: u32,
        /// Teams media source id, if bound.
        msi: Option<u32>,
    },
    /// The dominant speaker changed (`None`: nobody is speaking).
    Dominant {
        /// RTP SSRC of the new dominant speaker.
        ssrc: Option<u32>,
        /// Its media source id, if bound.
        msi: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Track {
    ssrc: u32,
    msi: Option<u32>,
    in_use: bool,
    seen_this_tick: bool,
    active: bool,
    above: u32,
    below: u32,
    smoothed_db: f32,
    challenge: u32,
}

const EMPTY: Track = Track {
    ssrc: 0,
    msi: None,
    in_use: false,
    seen_this_tick: false,
    active: false,
    above: 0,
    below: 0,
    smoothed_db: -127.0,
    challenge: 0,
};

/// Level in dBov of 16-bit samples (−127 for digital silence).
pub fn frame_dbov(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return -127.0;
    }
    let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (energy / samples.len() as f64).sqrt();
    if rms < 1.0 {
        return -127.0;
    }
    (20.0 * (rms / 32_768.0).log10()).max(-127.0) as f32
}

/// The detector for up to `N` simultaneous sources.
pub struct SpeakerDetector<const N: usize> {
    config: SpeakerConfig,
    tracks: [Track; N],
    dominant: Option<usize>,
}

impl<const N: usize> SpeakerDetector<N> {
    /// A detector with the given tuning.
    pub fn new(config: SpeakerConfig) -> SpeakerDetector<N> {
        SpeakerDetector {
            config,
            tracks: [EMPTY; N],
            dominant: None,
        }
    }

    /// Records one source's level for the current tick (`level_dbov` ≤ 0).
    pub fn observe(
        &mut self,
        ssrc: u32,
        msi: Option<u32>,
        level_dbov: f32,
        emit: &mut impl FnMut(SpeakerEvent),
    ) {
        let index = match self.tracks.iter().position(|t| t.in_use && t.ssrc == ssrc) {
            Some(i) => i,
            None => match self.tracks.iter().position(|t| !t.in_use) {
                Some(i) => {
                    self.tracks[i] = Track {
                        ssrc,
                        in_use: true,
                        ..EMPTY
                    };
                    i
                }
                None => return,
            },
        };
        let config = self.config;
        let t = &mut self.tracks[index];
        t.msi = msi;
        t.seen_this_tick = true;
        t.smoothed_db = 0.8 * t.smoothed_db + 0.2 * level_dbov;
        if level_dbov > config.threshold_dbov {
            t.above += 1;
            t.below = 0;
            if !t.active && t.above >= config.attack_frames {
                t.active = true;
                emit(SpeakerEvent::Active { ssrc, msi });
            }
        } else {
            t.below += 1;
            t.above = 0;
            if t.active && t.below >= config.release_frames {
                t.active = false;
                emit(SpeakerEvent::Inactive { ssrc, msi });
            }
        }
    }

    /// Ends the tick: sources not observed count as silent; the dominant speaker is re-decided.
    pub fn end_tick(&mut self, emit: &mut impl FnMut(SpeakerEvent)) {
        let config = self.config;
        for t in self.tracks.iter_mut().filter(|t| t.in_use) {
            if !t.seen_this_tick {
                t.smoothed_db = 0.8 * t.smoothed_db + 0.2 * -127.0;
                t.below += 1;
                t.above = 0;
                if t.active && t.below >= config.release_frames {
                    t.active = false;
                    emit(SpeakerEvent::Inactive {
                        ssrc: t.ssrc,
                        msi: t.msi,
                    });
                }
                if t.below > config.release_frames * 10 {
                    // Long gone: free the slot.
                    t.in_use = false;
                }
            }
            t.seen_this_tick = false;
        }
        let loudest = self
            .tracks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.in_use && t.active)
            .max_by(|a, b| a.1.smoothed_db.total_cmp(&b.1.smoothed_db))
            .map(|(i, _)| i);
        let next = match (self.dominant, loudest) {
            (Some(d), _) if !(self.tracks[d].in_use && self.tracks[d].active) => loudest,
            (Some(d), Some(l)) if l != d => {
                let margin = self.tracks[l].smoothed_db - self.tracks[d].smoothed_db;
                if margin >= config.switch_margin_db {
                    self.tracks[l].challenge += 1;
                } else {
                    self.tracks[l].challenge = 0;
                }
                if self.tracks[l].challenge >= config.switch_frames {
                    self.tracks[l].challenge = 0;
                    Some(l)
                } else {
                    Some(d)
                }
            }
            (Some(d), _) => Some(d),
            (None, l) => l,
        };
        if next != self.dominant {
            self.dominant = next;
            let (ssrc, msi) = next.map_or((None, None), |i| {
                (Some(self.tracks[i].ssrc), self.tracks[i].msi)
            });
            emit(SpeakerEvent::Dominant { ssrc, msi });
        }
    }

    /// The current dominant speaker's SSRC.
    pub fn dominant(&self) -> Option<u32> {
        self.dominant.map(|i| self.tracks[i].ssrc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(d: &mut SpeakerDetector<4>, levels: &[(u32, f32)], ticks: usize) -> Vec<SpeakerEvent> {
        let mut events = Vec::new();
        for _ in 0..ticks {
            let mut emit = |e| events.push(e);
            for &(ssrc, level) in levels {
                d.observe(ssrc, Some(ssrc + 100), level, &mut emit);
            }
            d.end_tick(&mut emit);
        }
        events
    }

    #[test]
    fn a_speaker_becomes_active_then_dominant_then_released() {
        let mut d = SpeakerDetector::<4>::new(SpeakerConfig::default());
        let events = run(&mut d, &[(1, -20.0)], 5);
        assert_eq!(
            events,
            [
                SpeakerEvent::Active {
                    ssrc: 1,
                    msi: Some(101)
                },
                SpeakerEvent::Dominant {
                    ssrc: Some(1),
                    msi: Some(101)
                },
            ]
        );
        let events = run(&mut d, &[(1, -127.0)], 20);
        assert_eq!(
            events,
            [
                SpeakerEvent::Inactive {
                    ssrc: 1,
                    msi: Some(101)
                },
                SpeakerEvent::Dominant {
                    ssrc: None,
                    msi: None
                },
            ]
        );
    }

    #[test]
    fn dominance_needs_a_sustained_margin() {
        let mut d = SpeakerDetector::<4>::new(SpeakerConfig::default());
        run(&mut d, &[(1, -30.0)], 20);
        assert_eq!(d.dominant(), Some(1));
        // A slightly louder second speaker does not take over.
        run(&mut d, &[(1, -30.0), (2, -29.0)], 40);
        assert_eq!(d.dominant(), Some(1));
        // A clearly louder one does, after the hold.
        let events = run(&mut d, &[(1, -30.0), (2, -15.0)], 40);
        assert!(events.contains(&SpeakerEvent::Dominant {
            ssrc: Some(2),
            msi: Some(102)
        }));
        assert_eq!(d.dominant(), Some(2));
    }

    #[test]
    fn dbov_of_full_scale_and_silence() {
        assert!(frame_dbov(&[i16::MAX; 320]).abs() < 0.01);
        assert_eq!(frame_dbov(&[0; 320]), -127.0);
        let lavfi = frame_dbov(&[2_896; 320]);
        assert!((lavfi + 21.05).abs() < 0.1, "{lavfi}");
    }
}
