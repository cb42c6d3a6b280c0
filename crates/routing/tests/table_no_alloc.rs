//! Proves the audio side of the route table never allocates or frees: a counting global
//! allocator counts allocations and frees made on the thread that opted in (the audio thread),
//! while the control thread publishes hundreds of new tables and the audio thread switches to
//! them at tick start and looks up every stream each tick.
#![allow(
    unsafe_code,
    reason = "a GlobalAlloc implementation is unsafe by definition; it only forwards to System"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use mediabot_routing::{RouteName, RouteTable, SendRoute, SendStreamId, route_channel};
use mediabot_signaling::models::ParticipantId;

struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static FREES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn counted() -> bool {
    COUNTED.try_with(Cell::get).unwrap_or(false)
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counted() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counted() {
            FREES.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counted() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const STREAMS: u16 = 8;
const LAST: u64 = 500;

fn table(version: u64) -> RouteTable {
    RouteTable::new(
        version,
        (0..STREAMS).map(|stream| SendRoute {
            stream: SendStreamId(stream),
            ssrc: u32::from(stream) * 1000 + version as u32,
            route: RouteName::new(format!("route{stream}")).unwrap(),
            group: None,
            receivers: vec![ParticipantId::new(format!("p{stream}"))],
            live: (stream + version as u16).is_multiple_of(2),
        }),
    )
    .unwrap()
}

#[test]
fn switching_tables_and_looking_up_routes_never_allocates_or_frees_on_the_audio_thread() {
    let (mut publisher, mut reader) = route_channel(table(0));
    let audio = thread::spawn(move || {
        COUNTED.with(|c| c.set(true));
        let mut sent = 0_u64;
        let mut ticks = 0_u64;
        while reader.table().version() < LAST {
            reader.refresh();
            for stream in 0..STREAMS {
                if let Some(ssrc) = reader.table().live_ssrc(SendStreamId(stream)) {
                    sent = sent.wrapping_add(u64::from(black_box(ssrc)));
                }
            }
            ticks += 1;
            thread::yield_now();
        }
        COUNTED.with(|c| c.set(false));
        (ticks, sent, reader)
    });
    for version in 1..=LAST {
        let _ = publisher.publish(table(version));
    }
    while !publisher.flush() {
        thread::yield_now();
    }
    let (ticks, sent, reader) = audio.join().unwrap();
    assert!(ticks > 0 && sent > 0);
    assert!(reader.swaps() > 0, "the audio thread did switch tables");
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "allocations on the audio thread"
    );
    assert_eq!(
        FREES.load(Ordering::Relaxed),
        0,
        "frees on the audio thread"
    );
}
