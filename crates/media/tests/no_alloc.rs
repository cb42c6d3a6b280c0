//! Proves the audio thread's steady state allocates nothing: a counting global allocator counts
//! allocations made on threads that opted in, and the audio thread opts in through its
//! `on_start` hook. After a warm-up (sources created, queues primed), a further stretch of real
//! recorded RTP through jitter buffer, decode and frame hand-off must not allocate once.
#![allow(
    unsafe_code,
    reason = "a GlobalAlloc implementation is unsafe by definition; it only forwards to System"
)]

use std::path::PathBuf;

use mediabot_media::capture::CaptureReader;
use mediabot_media::receiver::ReceiverConfig;
use mediabot_media::thread::{AudioThread, AudioThreadConfig, OutputPolicy, TickSource};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

fn count_this_thread() {
    counting_alloc::count_this_thread(true);
}

/// Every datagram of a capture, with arrival times, loaded before measuring.
fn load(name: &str) -> Vec<(i64, Vec<u8>)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name);
    let file = std::fs::File::open(path).expect("fixture exists");
    let mut capture = CaptureReader::new(std::io::BufReader::new(file)).expect("valid pcap");
    let mut out = Vec::new();
    while let Some(d) = capture.next_datagram() {
        out.push((d.timestamp_us, d.payload.to_vec()));
    }
    out
}

#[test]
fn audio_thread_steady_state_does_not_allocate() {
    // Two sources with loss, so concealment and multi-source ticking are on the measured path.
    let datagrams = load("two_sources_440_880_ffmpeg.loss10.pcap");
    assert!(datagrams.len() > 200);
    let thread = AudioThread::spawn(AudioThreadConfig {
        receiver: ReceiverConfig::default(),
        ticks: TickSource::External,
        output_policy: OutputPolicy::DropNewest,
        output_capacity: 1_024,
        on_start: Some(count_this_thread),
        ..AudioThreadConfig::default()
    })
    .expect("audio thread starts");
    let input = thread.input();
    let frames = thread.frames();

    let mut next_tick = datagrams[0].0 + 20_000;
    let mut ticks_sent = 0u64;
    let mut received = 0usize;
    // Waits until a frame of the latest tick arrives: commands are processed in order, so then
    // everything sent before it has been processed too.
    let wait_for_tick = |tick: u64, received: &mut usize| loop {
        let frame = frames.recv().unwrap();
        *received += 1;
        if frame.tick >= tick {
            break;
        }
    };
    let mut measure_from = None;
    let warm_up = datagrams.len() / 3;
    for (i, (at, bytes)) in datagrams.iter().enumerate() {
        while next_tick <= *at {
            input.tick().unwrap();
            ticks_sent += 1;
            next_tick += 20_000;
        }
        input.push_datagram_blocking(*at, bytes).unwrap();
        // Keep the output channel drained so frames are never dropped.
        while frames.try_recv().is_ok() {
            received += 1;
        }
        if i == warm_up {
            // Wait until the thread has consumed everything sent so far: one tick round-trip.
            input.tick().unwrap();
            ticks_sent += 1;
            next_tick += 20_000;
            wait_for_tick(ticks_sent - 1, &mut received);
            measure_from = Some(allocations());
        }
    }
    // One more tick, and wait for its frames, so the measured stretch has been fully processed.
    input.tick().unwrap();
    ticks_sent += 1;
    wait_for_tick(ticks_sent - 1, &mut received);
    let after = allocations();
    input.stop().unwrap();
    drop(input);
    let report = thread.join();

    let before = measure_from.expect("warm-up point reached");
    assert_eq!(
        after - before,
        0,
        "the audio thread allocated {} times in steady state",
        after - before
    );
    assert!(received > 150, "frames flowed: {received}");
    let lost: u64 = report.sources.iter().map(|s| s.jitter.lost).sum();
    assert!(lost > 0, "the loss path was exercised");
    assert_eq!(report.frames_dropped, 0);
}

#[test]
fn the_counter_sees_allocations_on_opted_in_threads() {
    let before = allocations();
    std::thread::spawn(|| {
        count_this_thread();
        let v: Vec<u8> = Vec::with_capacity(64);
        std::hint::black_box(v);
    })
    .join()
    .unwrap();
    assert!(allocations() > before);
}
