//! Recording one call: a WAV per participant, a mixed WAV, and live counters for progress and
//! the report.
//!
//! A dedicated thread drains the audio thread's frame channel (so the audio thread never
//! waits on disk). Each source's file is named by its Teams media source id while the call runs
//! (`msi-1001.wav`) and renamed to the participant's display name when the recording finishes,
//! because names can arrive after audio. Every file starts at receiver tick 0, so all WAVs of a
//! call line up with each other and with `mixed.wav`; a pause becomes silence. Files are
//! flushed every second, so a crash leaves every recording playable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use mediabot_media::frame::{FrameFlags, PcmFormat, PcmFrame};
use mediabot_media::speaker::frame_dbov;

use crate::wav::WavSink;

/// Live counters of one recorded source.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceProgress {
    pub(crate) msi: Option<u32>,
    pub(crate) ssrc: u32,
    pub(crate) frames: u64,
    pub(crate) speaking_frames: u64,
    pub(crate) concealed_frames: u64,
    pub(crate) file: PathBuf,
}

/// What the recorder knows, shared with the progress display.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub(crate) sources: BTreeMap<u32, SourceProgress>,
    pub(crate) mixed_frames: u64,
    pub(crate) first_frame_at: Option<Instant>,
}

enum Control {
    Name { msi: u32, name: String },
}

/// What the recorder tells its owner while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecorderEvent {
    /// The first frame was written.
    FirstFrame,
    /// A file was started for a source with this MSI.
    NewSource {
        /// The MSI.
        msi: u32,
    },
    /// The frame channel closed (the audio thread ended, normally or not) or the recorder
    /// failed: nothing more will be recorded.
    Ended,
}

/// Where a recorder's events go (called on the recorder thread; must not block).
pub(crate) type RecorderEvents = Box<dyn Fn(RecorderEvent) + Send + 'static>;

/// A running recorder.
pub(crate) struct Recorder {
    control: Sender<Control>,
    join: JoinHandle<anyhow::Result<BTreeMap<u32, PathBuf>>>,
    names_dropped: std::sync::atomic::AtomicU64,
    /// Set to make the thread finish with what it has, even if frames still could come.
    stop: Arc<std::sync::atomic::AtomicBool>,
}

/// Sends [`RecorderEvent::Ended`] however the recorder thread leaves (return, error, panic).
struct EndGuard(Option<RecorderEvents>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        if let Some(events) = self.0.take() {
            events(RecorderEvent::Ended);
        }
    }
}

/// Keys a source by its MSI, or by its SSRC when it has none.
fn key_of(frame: &PcmFrame) -> u32 {
    frame.msi.unwrap_or(frame.ssrc)
}

struct Track {
    sink: WavSink,
    written: u64,
}

impl Recorder {
    /// Starts recording `frames` into `dir`, publishing counters into `progress`.
    pub(crate) fn start(
        frames: Receiver<PcmFrame>,
        dir: &Path,
        format: PcmFormat,
        progress: Arc<Mutex<Progress>>,
        events: RecorderEvents,
    ) -> anyhow::Result<Recorder> {
        std::fs::create_dir_all(dir)?;
        let (control, control_rx) = crossbeam_channel::bounded(256);
        let dir = dir.to_path_buf();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread_stop = stop.clone();
        let join = std::thread::Builder::new()
            .name("mediabot-recorder".into())
            .spawn(move || {
                let guard = EndGuard(Some(events));
                run(
                    frames,
                    control_rx,
                    &dir,
                    format,
                    &progress,
                    &guard,
                    &thread_stop,
                )
            })?;
        Ok(Recorder {
            control,
            join,
            names_dropped: std::sync::atomic::AtomicU64::new(0),
            stop,
        })
    }

    /// Names the participant behind `msi` (used for the final file name). Never waits: a name
    /// the full control queue cannot take is counted ([`Recorder::names_dropped`]).
    pub(crate) fn name(&self, msi: u32, name: String) {
        if self.control.try_send(Control::Name { msi, name }).is_err() {
            self.names_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Names that were dropped because the control queue was full.
    pub(crate) fn names_dropped(&self) -> u64 {
        self.names_dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits for the frame channel to close (the audio thread ended), finalises every file and
    /// returns the final file of each source key.
    #[cfg(test)]
    pub(crate) fn finish(self) -> anyhow::Result<BTreeMap<u32, PathBuf>> {
        self.finish_within(std::time::Duration::MAX)
    }

    /// Like [`Recorder::finish`], but if the frame channel is still open after `limit` (the
    /// audio thread hangs), finalises the files with what was recorded.
    pub(crate) fn finish_within(
        self,
        limit: std::time::Duration,
    ) -> anyhow::Result<BTreeMap<u32, PathBuf>> {
        let started = Instant::now();
        while !self.join.is_finished() {
            if started.elapsed() >= limit {
                self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        drop(self.control);
        self.join
            .join()
            .map_err(|_| anyhow::anyhow!("recorder thread panicked"))?
    }
}

fn run(
    frames: Receiver<PcmFrame>,
    control: Receiver<Control>,
    dir: &Path,
    format: PcmFormat,
    progress: &Mutex<Progress>,
    guard: &EndGuard,
    stop: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<BTreeMap<u32, PathBuf>> {
    let per_frame = format.frame_samples() as u64;
    let mut tracks: BTreeMap<u32, Track> = BTreeMap::new();
    let mut mixed: Option<Track> = None;
    let mut names: BTreeMap<u32, String> = BTreeMap::new();
    let zeros = vec![0i16; format.frame_samples()];
    loop {
        while let Ok(Control::Name { msi, name }) = control.try_recv() {
            names.insert(msi, name);
        }
        // Poll, never park: a parked consumer would make the audio thread pay a wake-up
        // syscall for every frame it hands over. The recorder drains every 20 ms instead.
        let frame = match frames.try_recv() {
            Ok(frame) => frame,
            Err(TryRecvError::Empty) => {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
            Err(TryRecvError::Disconnected) => break,
        };
        let is_mixed = frame.flags.contains(FrameFlags::MIXED);
        let track = if is_mixed {
            if mixed.is_none() {
                mixed = Some(Track {
                    sink: WavSink::create(&dir.join("mixed.wav"), format)?,
                    written: 0,
                });
            }
            mixed.as_mut().expect("created just above")
        } else {
            let key = key_of(&frame);
            if let std::collections::btree_map::Entry::Vacant(slot) = tracks.entry(key) {
                let file = dir.join(match frame.msi {
                    Some(msi) => format!("msi-{msi}.wav"),
                    None => format!("ssrc-{}.wav", frame.ssrc),
                });
                slot.insert(Track {
                    sink: WavSink::create(&file, format)?,
                    written: 0,
                });
                if let (Some(msi), Some(events)) = (frame.msi, &guard.0) {
                    events(RecorderEvent::NewSource { msi });
                }
                let mut p = progress.lock().expect("progress lock is never poisoned");
                p.sources.insert(
                    key,
                    SourceProgress {
                        msi: frame.msi,
                        ssrc: frame.ssrc,
                        file,
                        ..SourceProgress::default()
                    },
                );
            }
            tracks.get_mut(&key).expect("inserted just above")
        };
        // Lay the frame at its tick: pad a pause with silence.
        let at = frame.tick * per_frame;
        while track.written < at {
            let n = (at - track.written).min(per_frame) as usize;
            track.sink.write(&zeros[..n])?;
            track.written += n as u64;
        }
        if track.written == at {
            track.sink.write(frame.samples())?;
            track.written += per_frame;
        }
        let mut p = progress.lock().expect("progress lock is never poisoned");
        if p.first_frame_at.is_none() {
            p.first_frame_at = Some(Instant::now());
            if let Some(events) = &guard.0 {
                events(RecorderEvent::FirstFrame);
            }
        }
        if is_mixed {
            p.mixed_frames += 1;
        } else if let Some(s) = p.sources.get_mut(&key_of(&frame)) {
            s.frames += 1;
            if frame.flags.contains(FrameFlags::CONCEALED) {
                s.concealed_frames += 1;
            }
            if !frame.flags.contains(FrameFlags::SILENCE) && frame_dbov(frame.samples()) > -50.0 {
                s.speaking_frames += 1;
            }
        }
    }
    while let Ok(Control::Name { msi, name }) = control.try_recv() {
        names.insert(msi, name);
    }
    if let Some(m) = mixed {
        m.sink.finish()?;
    }
    let mut files = BTreeMap::new();
    let sources = progress
        .lock()
        .expect("progress lock is never poisoned")
        .sources
        .clone();
    for (key, track) in tracks {
        track.sink.finish()?;
        let Some(source) = sources.get(&key) else {
            continue;
        };
        let mut file = source.file.clone();
        if let Some(name) = source.msi.and_then(|m| names.get(&m)) {
            let named = crate::folders::free_file_name(&dir.join(format!(
                "{}-{}.wav",
                file_safe(name),
                key
            )));
            std::fs::rename(&file, &named)?;
            file = named;
        }
        files.insert(key, file);
    }
    let mut p = progress.lock().expect("progress lock is never poisoned");
    for (key, file) in &files {
        if let Some(s) = p.sources.get_mut(key) {
            s.file = file.clone();
        }
    }
    Ok(files)
}

/// A display name as a file name: lower case, letters, digits and dashes.
pub(crate) fn file_safe(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    // Long names are shortened (a 10 KB display name still records).
    let out: String = out.chars().take(60).collect();
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "participant".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tick: u64, msi: Option<u32>, value: i16, flags: FrameFlags) -> PcmFrame {
        let mut f = PcmFrame::silent(9, PcmFormat::default());
        f.tick = tick;
        f.msi = msi;
        f.flags = flags;
        f.samples_mut().fill(value);
        f
    }

    #[test]
    fn files_line_up_on_ticks_and_take_names_at_the_end() {
        let dir = std::env::temp_dir().join(format!("mediabot-rec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (tx, rx) = crossbeam_channel::bounded(64);
        let rec = Recorder::start(
            rx,
            &dir,
            PcmFormat::default(),
            Arc::default(),
            Box::new(|_| {}),
        )
        .unwrap();
        tx.send(frame(2, Some(1001), 1_000, FrameFlags::empty()))
            .unwrap();
        tx.send(frame(2, None, 500, FrameFlags::MIXED)).unwrap();
        tx.send(frame(5, Some(1001), 1_000, FrameFlags::empty()))
            .unwrap();
        rec.name(1001, "Alice Example".into());
        drop(tx);
        let files = rec.finish().unwrap();
        let alice = &files[&1001];
        assert!(
            alice.ends_with("alice-example-1001.wav"),
            "{}",
            alice.display()
        );
        let samples: Vec<i16> = hound::WavReader::open(alice)
            .unwrap()
            .samples::<i16>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(samples.len(), 6 * 320, "ticks 0..=5");
        assert!(samples[..640].iter().all(|&s| s == 0));
        assert!(samples[640..960].iter().all(|&s| s == 1_000));
        assert!(
            samples[960..1_600].iter().all(|&s| s == 0),
            "the pause is silence"
        );
        assert!(dir.join("mixed.wav").exists());
        assert_eq!(file_safe("  Ünïcode / Name!! "), "ünïcode-name");
        assert_eq!(file_safe("!!!%%%"), "participant");
        assert_eq!(file_safe(&"Long ".repeat(2_000)).chars().count(), 59);
    }
}
