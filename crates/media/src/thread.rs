//! The dedicated audio thread: a [`Receiver`] behind bounded lock-free queues.
//!
//! ```text
//!  network / replay thread ──InputHandle (bounded, try_send)──► audio thread ──frames (bounded)──► consumer
//! ```
//!
//! The feeding thread never blocks on the audio thread in live use: a full input queue drops the
//! datagram and counts it. The audio thread runs jitter buffering and decoding for every source
//! and emits one frame per playing source per tick. Ticks come from a drift-free monotonic
//! schedule ([`TickSource::Realtime`]) or from the feeder ([`TickSource::External`], for replaying
//! captures at their recorded timing as fast as the CPU allows).
//!
//! Queue policies (documented overflow behaviour, each with a counter):
//! - input: `push_datagram` drops when full (`input_dropped`); `push_datagram_blocking` waits,
//!   for offline replay only.
//! - output: [`OutputPolicy::DropNewest`] drops the frame when the consumer is behind
//!   (`frames_dropped`); [`OutputPolicy::Block`] waits, for offline replay only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver as ChannelReceiver, RecvTimeoutError, Sender, TrySendError};

use crate::decode::DecodeError;
use crate::frame::PcmFrame;
use crate::receiver::{Receiver, ReceiverConfig, ReceiverStats, SourceStats, TickSink};
use crate::speaker::SpeakerEvent;

/// Largest datagram the input queue carries inline (a typical Ethernet MTU).
pub const MAX_DATAGRAM: usize = 1_500;

/// Where the audio thread's 20 ms ticks come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickSource {
    /// A monotonic 20 ms schedule on the audio thread (live calls).
    Realtime,
    /// The feeder calls [`InputHandle::tick`] (replay at recorded timing, tests).
    External,
}

/// What to do with a frame when the consumer's channel is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputPolicy {
    /// Drop the frame and count it (live: the audio thread never waits).
    DropNewest,
    /// Wait for the consumer (offline replay only, where nothing may be lost).
    Block,
}

/// Configuration of the audio thread.
#[derive(Debug, Clone, Copy)]
pub struct AudioThreadConfig {
    /// The receive core's configuration.
    pub receiver: ReceiverConfig,
    /// Datagrams the input queue holds (each slot is [`MAX_DATAGRAM`] bytes, allocated up front).
    pub input_capacity: usize,
    /// Frames the output channel holds.
    pub output_capacity: usize,
    /// Tick source.
    pub ticks: TickSource,
    /// Output overflow policy.
    pub output_policy: OutputPolicy,
    /// Called first thing on the new thread (thread priority, affinity, test instrumentation).
    pub on_start: Option<fn()>,
}

impl Default for AudioThreadConfig {
    fn default() -> AudioThreadConfig {
        AudioThreadConfig {
            receiver: ReceiverConfig::default(),
            input_capacity: 1_024,
            output_capacity: 512,
            ticks: TickSource::Realtime,
            output_policy: OutputPolicy::DropNewest,
            on_start: None,
        }
    }
}

/// A datagram copied inline into the input queue, so queueing it never allocates.
struct Datagram {
    arrival_us: i64,
    len: u16,
    bytes: [u8; MAX_DATAGRAM],
}

enum Command {
    Datagram(Box<Datagram>),
    Tick,
    Bind {
        ssrc: u32,
        msi: Option<u32>,
        participant: Option<u32>,
    },
    Finish,
    Stop,
}

/// Why an audio thread could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// A decoder could not be created for the configured format.
    #[error("creating decoders: {0}")]
    Decoder(#[from] DecodeError),
    /// The OS refused to start the thread.
    #[error("starting the audio thread: {0}")]
    Thread(std::io::Error),
}

/// Counters shared between the audio thread and its handles.
#[derive(Debug, Default)]
struct Counters {
    input_dropped: AtomicU64,
    oversize: AtomicU64,
    frames_dropped: AtomicU64,
    late_ticks: AtomicU64,
}

impl Counters {
    /// The drop counters as a report without receiver statistics.
    fn report(&self) -> ReceiveReport {
        ReceiveReport {
            input_dropped: self.input_dropped.load(Ordering::Relaxed),
            oversize: self.oversize.load(Ordering::Relaxed),
            frames_dropped: self.frames_dropped.load(Ordering::Relaxed),
            late_ticks: self.late_ticks.load(Ordering::Relaxed),
            ..ReceiveReport::default()
        }
    }
}

/// Why the input queue did not take a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The queue is full; the datagram was dropped and counted.
    #[error("audio thread input queue full; datagram dropped")]
    Full,
    /// Larger than [`MAX_DATAGRAM`]; dropped and counted.
    #[error("datagram larger than {MAX_DATAGRAM} bytes; dropped")]
    Oversize,
    /// The audio thread has stopped.
    #[error("audio thread has stopped")]
    Stopped,
}

/// The feeding side of an audio thread. Cheap to clone.
#[derive(Clone)]
pub struct InputHandle {
    tx: Sender<Command>,
    /// Recycled datagram boxes: the audio thread sends each back after use, so steady state
    /// never allocates.
    pool: ChannelReceiver<Box<Datagram>>,
    counters: Arc<Counters>,
}

impl InputHandle {
    /// Queues a datagram without waiting. A full queue drops it and counts it.
    pub fn push_datagram(&self, arrival_us: i64, bytes: &[u8]) -> Result<(), InputError> {
        let datagram = self.fill(arrival_us, bytes)?;
        match self.tx.try_send(Command::Datagram(datagram)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.counters.input_dropped.fetch_add(1, Ordering::Relaxed);
                Err(InputError::Full)
            }
            Err(TrySendError::Disconnected(_)) => Err(InputError::Stopped),
        }
    }

    /// Queues a datagram, waiting for room. Only for offline replay, where nothing may be lost.
    pub fn push_datagram_blocking(&self, arrival_us: i64, bytes: &[u8]) -> Result<(), InputError> {
        let datagram = self.fill(arrival_us, bytes)?;
        self.tx
            .send(Command::Datagram(datagram))
            .map_err(|_| InputError::Stopped)
    }

    /// Runs one 20 ms tick ([`TickSource::External`] only; ignored by a realtime thread).
    pub fn tick(&self) -> Result<(), InputError> {
        self.tx.send(Command::Tick).map_err(|_| InputError::Stopped)
    }

    /// Binds an SSRC to its MSI and participant index; later frames carry them.
    pub fn bind(
        &self,
        ssrc: u32,
        msi: Option<u32>,
        participant: Option<u32>,
    ) -> Result<(), InputError> {
        self.tx
            .send(Command::Bind {
                ssrc,
                msi,
                participant,
            })
            .map_err(|_| InputError::Stopped)
    }

    /// No more datagrams: the thread plays out what it holds (ticking on its own), then exits.
    pub fn finish(&self) -> Result<(), InputError> {
        self.tx
            .send(Command::Finish)
            .map_err(|_| InputError::Stopped)
    }

    /// Stops the thread at once, dropping what it holds.
    pub fn stop(&self) -> Result<(), InputError> {
        self.tx.send(Command::Stop).map_err(|_| InputError::Stopped)
    }

    fn fill(&self, arrival_us: i64, bytes: &[u8]) -> Result<Box<Datagram>, InputError> {
        if bytes.len() > MAX_DATAGRAM {
            self.counters.oversize.fetch_add(1, Ordering::Relaxed);
            return Err(InputError::Oversize);
        }
        let mut datagram = self.pool.try_recv().unwrap_or_else(|_| {
            Box::new(Datagram {
                arrival_us: 0,
                len: 0,
                bytes: [0; MAX_DATAGRAM],
            })
        });
        datagram.arrival_us = arrival_us;
        datagram.len = bytes.len() as u16;
        datagram.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(datagram)
    }
}

/// What an audio thread did, returned when it exits.
#[derive(Debug, Clone, Default)]
pub struct ReceiveReport {
    /// Receiver-wide counters.
    pub receiver: ReceiverStats,
    /// Per-source counters, in order of first appearance.
    pub sources: Vec<SourceStats>,
    /// Datagrams dropped because the input queue was full.
    pub input_dropped: u64,
    /// Datagrams dropped for being larger than [`MAX_DATAGRAM`].
    pub oversize: u64,
    /// Frames dropped because the consumer's channel was full.
    pub frames_dropped: u64,
    /// Realtime ticks that ran more than one tick late (the thread was starved).
    pub late_ticks: u64,
    /// The panic message, when the thread panicked (the counters above are then lost).
    pub panic: Option<String>,
}

/// A running audio thread.
pub struct AudioThread {
    input: InputHandle,
    frames: ChannelReceiver<PcmFrame>,
    events: ChannelReceiver<SpeakerEvent>,
    join: JoinHandle<ReceiveReport>,
}

impl AudioThread {
    /// Builds the receiver (all allocation happens here) and starts the thread.
    pub fn spawn(config: AudioThreadConfig) -> Result<AudioThread, SpawnError> {
        let receiver = Receiver::new(config.receiver)?;
        let (tx, rx) = crossbeam_channel::bounded(config.input_capacity);
        let (frame_tx, frames) = crossbeam_channel::bounded(config.output_capacity);
        let (event_tx, events) = crossbeam_channel::bounded(256);
        // One spare box per queue slot plus those in flight at either end.
        let (pool_tx, pool) = crossbeam_channel::bounded(config.input_capacity + 4);
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        let join = std::thread::Builder::new()
            .name("mediabot-audio".into())
            .spawn(move || {
                if let Some(on_start) = config.on_start {
                    on_start();
                }
                let mut run = Run {
                    receiver,
                    commands: rx,
                    frames: frame_tx,
                    events: event_tx,
                    pool: pool_tx,
                    policy: config.output_policy,
                    counters: thread_counters,
                };
                match config.ticks {
                    TickSource::External => run.external(),
                    TickSource::Realtime => run.realtime(),
                }
                run.report()
            })
            .map_err(SpawnError::Thread)?;
        Ok(AudioThread {
            input: InputHandle { tx, pool, counters },
            frames,
            events,
            join,
        })
    }

    /// Active/dominant speaker changes (bounded; dropped when nobody reads them).
    pub fn speaker_events(&self) -> ChannelReceiver<SpeakerEvent> {
        self.events.clone()
    }

    /// The feeding side.
    pub fn input(&self) -> InputHandle {
        self.input.clone()
    }

    /// The frames the thread produces.
    pub fn frames(&self) -> ChannelReceiver<PcmFrame> {
        self.frames.clone()
    }

    /// Waits for the thread to exit (after [`InputHandle::finish`] or [`InputHandle::stop`]) and
    /// returns its report.
    pub fn join(self) -> ReceiveReport {
        let counters = self.input.counters.clone();
        drop(self.input);
        drop(self.frames);
        drop(self.events);
        match self.join.join() {
            Ok(report) => report,
            Err(payload) => ReceiveReport {
                panic: Some(panic_message(payload.as_ref())),
                ..counters.report()
            },
        }
    }

    /// True once the thread has exited (normally or by a panic).
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

struct Run {
    receiver: Receiver,
    commands: ChannelReceiver<Command>,
    frames: Sender<PcmFrame>,
    events: Sender<SpeakerEvent>,
    pool: Sender<Box<Datagram>>,
    policy: OutputPolicy,
    counters: Arc<Counters>,
}

impl Run {
    fn external(&mut self) {
        while let Ok(command) = self.commands.recv() {
            match command {
                Command::Tick => self.tick(),
                Command::Finish => return self.drain(),
                Command::Stop => return,
                other => self.apply(other),
            }
        }
    }

    fn realtime(&mut self) {
        const TICK: Duration = Duration::from_millis(20);
        let mut next = Instant::now() + TICK;
        let mut finishing = false;
        loop {
            match self.commands.recv_deadline(next) {
                Ok(Command::Finish) => {
                    finishing = true;
                    self.receiver.finish();
                }
                Ok(Command::Stop) => return,
                Ok(Command::Tick) => {}
                Ok(other) => self.apply(other),
                Err(RecvTimeoutError::Timeout) => {
                    self.tick();
                    if finishing && self.receiver.is_drained() {
                        return;
                    }
                    next += TICK;
                    let now = Instant::now();
                    if now > next + TICK {
                        // Starved for more than a tick: count it and re-anchor instead of
                        // bursting the missed ticks.
                        self.counters.late_ticks.fetch_add(1, Ordering::Relaxed);
                        next = now + TICK;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Datagram(datagram) => {
                let len = usize::from(datagram.len);
                self.receiver
                    .handle_datagram(datagram.arrival_us, &datagram.bytes[..len]);
                // Give the box back; if the pool is full it is simply freed.
                let _ = self.pool.try_send(datagram);
            }
            Command::Bind {
                ssrc,
                msi,
                participant,
            } => self.receiver.bind_source(ssrc, msi, participant),
            Command::Tick | Command::Finish | Command::Stop => {}
        }
    }

    fn drain(&mut self) {
        // Apply whatever is still queued, then play out to the end.
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Stop => return,
                Command::Tick => self.tick(),
                other => self.apply(other),
            }
        }
        self.receiver.finish();
        // Bounded: every source either plays a buffered packet or goes idle within a few ticks.
        let limit = self.receiver.tick() + 1_000_000;
        while !self.receiver.is_drained() && self.receiver.tick() < limit {
            self.tick();
        }
    }

    fn tick(&mut self) {
        let mut sink = ChannelSink {
            frames: &self.frames,
            events: &self.events,
            policy: self.policy,
            counters: &self.counters,
        };
        self.receiver.handle_tick(&mut sink);
    }

    fn report(&self) -> ReceiveReport {
        ReceiveReport {
            receiver: self.receiver.stats(),
            sources: self.receiver.source_stats().collect(),
            ..self.counters.report()
        }
    }
}

/// Sends a tick's output into the thread's channels.
struct ChannelSink<'a> {
    frames: &'a Sender<PcmFrame>,
    events: &'a Sender<SpeakerEvent>,
    policy: OutputPolicy,
    counters: &'a Counters,
}

impl ChannelSink<'_> {
    fn send(&mut self, frame: &PcmFrame) {
        let sent = match self.policy {
            OutputPolicy::DropNewest => self.frames.try_send(frame.clone()).is_ok(),
            OutputPolicy::Block => self.frames.send(frame.clone()).is_ok(),
        };
        if !sent {
            self.counters.frames_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl TickSink for ChannelSink<'_> {
    fn frame(&mut self, frame: &PcmFrame) {
        self.send(frame);
    }

    fn mixed(&mut self, frame: &PcmFrame) {
        self.send(frame);
    }

    fn speaker(&mut self, event: SpeakerEvent) {
        // Speaker changes are advisory: a full queue drops them.
        let _ = self.events.try_send(event);
    }
}
