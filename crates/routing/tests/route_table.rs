//! The send-route table and its publication to the audio thread.

mod common;

use std::thread;

use common::{Sim, broadcast, name, pid, whisper};
use mediabot_routing::{
    BotRoute, Publish, RouteName, RouteTable, SendRoute, SendStreamId, StreamPool,
    TABLES_IN_FLIGHT, TableError, route_channel,
};
use mediabot_signaling::models::AudioRoutingGroupId;

fn entry(stream: u16, ssrc: u32, live: bool) -> SendRoute {
    SendRoute {
        stream: SendStreamId(stream),
        ssrc,
        route: name(&format!("r{stream}")),
        group: None,
        receivers: vec![pid("alice")],
        live,
    }
}

fn table(version: u64) -> RouteTable {
    RouteTable::new(version, [entry(0, 100 + version as u32, true)]).unwrap()
}

/// Streams by route name, as a driver would assign them (stable for the route's life).
fn assign(route: &RouteName) -> Option<(SendStreamId, u32)> {
    match route.as_str() {
        "w" => Some((SendStreamId(1), 0x1111)),
        "b" => Some((SendStreamId(2), 0x2222)),
        _ => None,
    }
}

#[test]
fn only_live_streams_are_sent() {
    let t = RouteTable::new(7, [entry(0, 10, true), entry(3, 13, false)]).unwrap();
    assert_eq!(t.version(), 7);
    assert_eq!(t.len(), 2);
    assert_eq!(t.live_ssrc(SendStreamId(0)), Some(10));
    assert_eq!(t.live_ssrc(SendStreamId(3)), None, "known but not live");
    assert_eq!(t.live_ssrc(SendStreamId(1)), None, "a hole");
    assert_eq!(t.live_ssrc(SendStreamId(60)), None, "beyond the table");
    assert_eq!(t.get(SendStreamId(3)).map(|r| r.ssrc), Some(13));
    assert!(RouteTable::empty().is_empty());
    assert_eq!(RouteTable::empty().live_ssrc(SendStreamId(0)), None);
}

#[test]
fn tables_with_clashing_streams_or_ssrcs_are_refused() {
    assert_eq!(
        RouteTable::new(1, [entry(2, 1, true), entry(2, 2, true)]).unwrap_err(),
        TableError::DuplicateStream(2)
    );
    assert_eq!(
        RouteTable::new(1, [entry(1, 9, true), entry(2, 9, true)]).unwrap_err(),
        TableError::DuplicateSsrc(9)
    );
    assert_eq!(
        RouteTable::new(1, [entry(64, 1, true)]).unwrap_err(),
        TableError::StreamOutOfRange(64)
    );
}

#[test]
fn a_whisper_is_sent_only_once_graph_routes_it_to_its_target_alone() {
    let mut sim = Sim::new("bot");
    sim.roster(&["bot", "alice", "bob"]);
    sim.desire(vec![
        whisper("w", "bot", "alice"),
        broadcast("b", "bot", &["alice", "bob"]),
        broadcast("talk", "alice", &["bot"]),
    ]);
    // Before Graph has the groups nothing goes out: without the group the whisper could reach
    // nobody, or (bot still in the default mix) everybody.
    let before = RouteTable::from_bot_routes(1, &sim.reconciler.bot_routes(), assign).unwrap();
    assert_eq!(before.len(), 2, "only routes the bot speaks on");
    assert_eq!(before.live_ssrc(SendStreamId(1)), None);
    assert_eq!(before.live_ssrc(SendStreamId(2)), None);

    sim.run();
    let after = RouteTable::from_bot_routes(2, &sim.reconciler.bot_routes(), assign).unwrap();
    assert_eq!(after.live_ssrc(SendStreamId(1)), Some(0x1111));
    let whisper_entry = after.get(SendStreamId(1)).unwrap();
    assert_eq!(whisper_entry.receivers, [pid("alice")]);
    assert_eq!(
        whisper_entry.group.as_ref().map(|g| g.as_str()),
        Some("mb-w")
    );
    // And Graph agrees: the whisper's group has alice as its only receiver.
    assert_eq!(sim.graph.groups["mb-w"].receivers, [pid("alice")]);

    // alice leaves: the whisper has nobody to go to and leaves the table.
    sim.roster(&["bot", "bob"]);
    sim.run();
    let gone = RouteTable::from_bot_routes(3, &sim.reconciler.bot_routes(), assign).unwrap();
    assert!(gone.get(SendStreamId(1)).is_none());
    assert_eq!(gone.get(SendStreamId(2)).unwrap().receivers, [pid("bob")]);
    assert_eq!(gone.live_ssrc(SendStreamId(2)), Some(0x2222));
}

#[test]
fn the_reader_switches_to_the_newest_table_at_tick_start() {
    let (mut publisher, mut reader) = route_channel(table(0));
    assert_eq!(reader.table().version(), 0);
    assert!(!reader.refresh(), "nothing published yet");

    assert_eq!(publisher.publish(table(1)), Publish::Queued);
    assert_eq!(publisher.publish(table(2)), Publish::Queued);
    assert_eq!(reader.table().version(), 0, "no change inside a tick");
    assert!(reader.refresh());
    assert_eq!(reader.table().version(), 2);
    assert_eq!(reader.table().live_ssrc(SendStreamId(0)), Some(102));
    assert_eq!(reader.swaps(), 2);
    assert!(!reader.refresh());
}

#[test]
fn a_stalled_audio_thread_gets_only_the_latest_table() {
    let (mut publisher, mut reader) = route_channel(table(0));
    // The initial table counts: TABLES_IN_FLIGHT - 1 more fit before the reader ticks.
    for version in 1..TABLES_IN_FLIGHT as u64 {
        assert_eq!(publisher.publish(table(version)), Publish::Queued);
    }
    assert_eq!(publisher.publish(table(10)), Publish::Deferred);
    assert_eq!(publisher.publish(table(11)), Publish::Deferred);
    assert_eq!(publisher.superseded(), 1, "table 10 was never delivered");
    assert!(publisher.has_pending());
    assert!(!publisher.flush(), "still no room");

    assert!(reader.refresh());
    assert_eq!(reader.table().version(), TABLES_IN_FLIGHT as u64 - 1);
    assert!(publisher.flush(), "returned tables make room");
    assert!(!publisher.has_pending());
    assert!(reader.refresh());
    assert_eq!(reader.table().version(), 11);
}

#[test]
fn tables_cross_threads_in_order_and_the_last_one_arrives() {
    const LAST: u64 = 2_000;
    let (mut publisher, mut reader) = route_channel(table(0));
    let audio = thread::spawn(move || {
        let mut seen = 0;
        let mut ticks = 0_u64;
        while seen < LAST {
            reader.refresh();
            let version = reader.table().version();
            assert!(
                version >= seen,
                "versions never go back: {version} < {seen}"
            );
            assert_eq!(
                reader.table().live_ssrc(SendStreamId(0)),
                Some(100 + version as u32),
                "a table is never seen half-built"
            );
            seen = version;
            ticks += 1;
            thread::yield_now();
        }
        (ticks, reader.swaps())
    });
    for version in 1..=LAST {
        if publisher.publish(table(version)) == Publish::Deferred {
            // Only the newest matters; keep going and let flush deliver it.
        }
    }
    while !publisher.flush() {
        thread::yield_now();
    }
    let (ticks, swaps) = audio.join().unwrap();
    assert!(ticks > 0 && swaps > 0);
    assert!(swaps + publisher.superseded() <= LAST);
}

#[test]
fn the_publisher_notices_a_finished_audio_thread() {
    let (publisher, reader) = route_channel(RouteTable::empty());
    assert!(!publisher.is_abandoned());
    drop(reader);
    assert!(publisher.is_abandoned());
}

fn bot_route(route: &str, live: bool) -> BotRoute {
    BotRoute {
        route: name(route),
        group: AudioRoutingGroupId::new(format!("mb-{route}")),
        receivers: vec![pid("alice")],
        live,
    }
}

#[test]
fn the_stream_pool_keeps_a_routes_ssrc_and_reuses_freed_ones() {
    let mut pool = StreamPool::new(&[0xa, 0xb]).unwrap();
    let first = pool.table(&[bot_route("x", true), bot_route("y", false)]);
    assert!(first.unassigned.is_empty());
    assert_eq!(first.table.version(), 1);
    assert_eq!(first.table.live_ssrc(SendStreamId(0)), Some(0xa));
    assert_eq!(first.table.get(SendStreamId(1)).unwrap().route, name("y"));
    assert_eq!(
        first.table.live_ssrc(SendStreamId(1)),
        None,
        "y is not live yet"
    );

    // y goes live, z arrives while the pool is full: z waits, x and y keep their streams.
    let second = pool.table(&[
        bot_route("z", true),
        bot_route("y", true),
        bot_route("x", true),
    ]);
    assert_eq!(second.unassigned, [name("z")]);
    assert_eq!(second.table.live_ssrc(SendStreamId(1)), Some(0xb));
    assert_eq!(pool.stream_of(&name("x")), Some(SendStreamId(0)));

    // x is removed: z takes its stream; y keeps its own.
    let third = pool.table(&[bot_route("z", true), bot_route("y", true)]);
    assert!(third.unassigned.is_empty());
    assert_eq!(pool.stream_of(&name("z")), Some(SendStreamId(0)));
    assert_eq!(pool.stream_of(&name("y")), Some(SendStreamId(1)));
    assert_eq!(pool.stream_of(&name("x")), None);
    assert_eq!(third.table.version(), 3);
}

#[test]
fn a_stream_pool_needs_distinct_ssrcs() {
    assert_eq!(
        StreamPool::new(&[1, 2, 1]).unwrap_err(),
        TableError::DuplicateSsrc(1)
    );
    assert!(StreamPool::new(&(0..65).collect::<Vec<u32>>()).is_err());
    let mut empty = StreamPool::new(&[]).unwrap();
    assert_eq!(empty.table(&[bot_route("x", true)]).unassigned, [name("x")]);
}
