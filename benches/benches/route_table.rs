//! The send-route table on the per-20 ms-frame send path, next to the libopus encode it sits
//! beside, so its cost reads as a ratio of the encode floor.
//!
//! Per frame the audio thread calls `RouteReader::refresh` once (tick start) and
//! `RouteTable::live_ssrc` once per outgoing stream. Measured: a tick with 8 streams and no new
//! table, a tick that switches to a new table, one lookup, and libopus encoding one 20 ms mono
//! 48 kHz frame at 32 kbps (voip) — the floor.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mediabot_routing::{RouteName, RouteTable, SendRoute, SendStreamId, route_channel};

const STREAMS: u16 = 8;

fn table(version: u64) -> RouteTable {
    RouteTable::new(
        version,
        (0..STREAMS).map(|stream| SendRoute {
            stream: SendStreamId(stream),
            ssrc: 0x1000 + u32::from(stream),
            route: RouteName::new(format!("route{stream}")).expect("valid name"),
            group: None,
            receivers: Vec::new(),
            live: stream % 3 != 2,
        }),
    )
    .expect("valid table")
}

fn route_lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_table");
    let current = table(0);
    group.bench_function("live_ssrc_one", |b| {
        b.iter(|| black_box(&current).live_ssrc(black_box(SendStreamId(5))))
    });

    let (_publisher, mut reader) = route_channel(table(0));
    group.bench_function("tick_8_streams", |b| {
        b.iter(|| {
            reader.refresh();
            let mut sum = 0u32;
            for stream in 0..STREAMS {
                if let Some(ssrc) = reader.table().live_ssrc(black_box(SendStreamId(stream))) {
                    sum = sum.wrapping_add(ssrc);
                }
            }
            black_box(sum)
        })
    });

    // Every tick switches to a freshly published table (the worst case: routing changes far
    // more often than it ever does). Publishing runs on the control side, outside the timed
    // span; each tick is timed on its own, so the figure includes two clock reads and is an
    // upper bound.
    let (mut publisher, mut reader) = route_channel(table(0));
    let mut version = 0;
    group.bench_function("tick_8_streams_with_table_switch", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                version += 1;
                let _ = publisher.publish(table(version));
                let start = Instant::now();
                let switched = reader.refresh();
                let mut sum = 0u32;
                for stream in 0..STREAMS {
                    if let Some(ssrc) = reader.table().live_ssrc(SendStreamId(stream)) {
                        sum = sum.wrapping_add(ssrc);
                    }
                }
                black_box((switched, sum));
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

fn opus_encode_floor(c: &mut Criterion) {
    let mut encoder =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).expect("encoder");
    encoder
        .set_bitrate(opus::Bitrate::Bits(32_000))
        .expect("bitrate");
    let pcm: Vec<i16> = (0..960)
        .map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin() * 8_000.0) as i16)
        .collect();
    let mut out = vec![0u8; 1_500];
    c.bench_function("route_table/opus_encode_floor_48k_mono", |b| {
        b.iter(|| encoder.encode(black_box(&pcm), &mut out).expect("encodes"))
    });
}

criterion_group!(benches, route_lookup, opus_encode_floor);
criterion_main!(benches);
