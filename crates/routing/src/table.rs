//! The send-route table: which of the bot's outgoing audio streams goes to whom, published to the
//! audio thread without locks.
//!
//! # Shape
//! A [`RouteTable`] is immutable. Its entries are indexed by [`SendStreamId`] (a small dense
//! index each bot route holds for its life — [`StreamPool`] hands them out together with the
//! SSRCs the transport was configured with), so the per-frame lookup
//! [`RouteTable::live_ssrc`] is one bounds check and one load. An entry carries the RTP SSRC the
//! stream is sent on, the route and group it belongs to, its receivers, and whether it is *live*:
//! only a live stream is sent, and a stream is live only while Graph's group lets nobody outside
//! the route hear it ([`BotRoute::live`](crate::BotRoute)). So "whisper to X" reaches X alone: its
//! audio goes out on its own SSRC only once the `oneToOne` group to X is in place.
//!
//! # Publication: why an rtrb pair and not an atomic pointer swap
//! [`route_channel`] returns a [`RoutePublisher`] for the control side and a [`RouteReader`] for
//! the audio thread, joined by two wait-free SPSC rings (`rtrb`, already used by the media crate):
//! boxed tables go to the audio thread, replaced tables come back. At the start of each tick the
//! audio thread calls [`RouteReader::refresh`], which pops every queued table, keeps the newest
//! and pushes the ones it replaced back. The audio thread therefore never waits, never allocates
//! and never frees (the control side frees returned tables the next time it publishes), and a
//! table cannot change in the middle of a tick.
//!
//! An `ArcSwap` would give the same lock-free read, but the last `Arc` of a replaced table can be
//! dropped by the reader, freeing memory on the audio thread, and it would be one more dependency.
//!
//! # Overflow policy
//! At most [`TABLES_IN_FLIGHT`] tables exist on the audio side (queued + current + being
//! returned). That bound makes both rings' pushes infallible. When the audio thread has not
//! ticked for long enough to reach it, [`RoutePublisher::publish`] keeps the newest table as
//! pending (replacing, and counting in [`RoutePublisher::superseded`], an older pending one:
//! only the latest routing matters) and delivers it on the next `publish` or
//! [`RoutePublisher::flush`].

use mediabot_signaling::models::{AudioRoutingGroupId, ParticipantId};

use crate::reconcile::BotRoute;
use crate::route::RouteName;

/// Most send streams a table can index.
pub const MAX_SEND_STREAMS: usize = 64;

/// Most tables alive on the audio side at once (see the module's overflow policy).
pub const TABLES_IN_FLIGHT: usize = 4;

/// Why a table could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// A stream index is at or beyond [`MAX_SEND_STREAMS`].
    #[error("send stream {0} is out of range (at most {MAX_SEND_STREAMS} streams)")]
    StreamOutOfRange(u16),
    /// Two entries use the same stream index.
    #[error("send stream {0} is used twice")]
    DuplicateStream(u16),
    /// Two entries use the same SSRC.
    #[error("SSRC {0:#010x} is used twice")]
    DuplicateSsrc(u32),
}

/// Index of one of the bot's outgoing audio streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SendStreamId(pub u16);

/// One outgoing stream: where the bot's audio for one route goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRoute {
    /// The stream's index.
    pub stream: SendStreamId,
    /// RTP SSRC the stream is sent on (one of the transport's local streams).
    pub ssrc: u32,
    /// The route.
    pub route: RouteName,
    /// The Graph group carrying it, if any.
    pub group: Option<AudioRoutingGroupId>,
    /// Who hears it.
    pub receivers: Vec<ParticipantId>,
    /// Send only when true.
    pub live: bool,
}

/// An immutable table of the bot's outgoing streams, indexed by [`SendStreamId`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteTable {
    version: u64,
    slots: Vec<Option<SendRoute>>,
}

impl RouteTable {
    /// A table with no streams (nothing is sent on any route).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Builds a table from entries; `version` is the caller's counter, for logs and tests.
    pub fn new(
        version: u64,
        routes: impl IntoIterator<Item = SendRoute>,
    ) -> Result<Self, TableError> {
        let mut slots: Vec<Option<SendRoute>> = Vec::new();
        let mut ssrcs = Vec::new();
        for route in routes {
            let index = usize::from(route.stream.0);
            if index >= MAX_SEND_STREAMS {
                return Err(TableError::StreamOutOfRange(route.stream.0));
            }
            if ssrcs.contains(&route.ssrc) {
                return Err(TableError::DuplicateSsrc(route.ssrc));
            }
            if slots.len() <= index {
                slots.resize(index + 1, None);
            }
            if slots[index].is_some() {
                return Err(TableError::DuplicateStream(route.stream.0));
            }
            ssrcs.push(route.ssrc);
            slots[index] = Some(route);
        }
        Ok(Self { version, slots })
    }

    /// Builds a table from the reconciler's [`BotRoute`]s; `assign` gives each route its stream
    /// and SSRC (routes it returns `None` for are left out).
    pub fn from_bot_routes(
        version: u64,
        routes: &[BotRoute],
        mut assign: impl FnMut(&RouteName) -> Option<(SendStreamId, u32)>,
    ) -> Result<Self, TableError> {
        let entries: Vec<SendRoute> = routes
            .iter()
            .filter_map(|r| {
                let (stream, ssrc) = assign(&r.route)?;
                Some(SendRoute {
                    stream,
                    ssrc,
                    route: r.route.clone(),
                    group: Some(r.group.clone()),
                    receivers: r.receivers.clone(),
                    live: r.live,
                })
            })
            .collect();
        Self::new(version, entries)
    }

    /// The caller's version number.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The entry of a stream.
    #[inline]
    pub fn get(&self, stream: SendStreamId) -> Option<&SendRoute> {
        self.slots.get(usize::from(stream.0))?.as_ref()
    }

    /// The per-frame question: the SSRC to send this stream's frame on, or `None` to not send it.
    #[inline]
    pub fn live_ssrc(&self, stream: SendStreamId) -> Option<u32> {
        match self.slots.get(usize::from(stream.0)) {
            Some(Some(route)) if route.live => Some(route.ssrc),
            _ => None,
        }
    }

    /// Every entry, by stream index.
    pub fn iter(&self) -> impl Iterator<Item = &SendRoute> {
        self.slots.iter().flatten()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True when the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Gives bot routes outgoing streams from a fixed set of SSRCs.
///
/// The transport can only send on the SSRCs it was configured with at session start, so the
/// driver reserves a few (one per route the bot may speak on at once) and lets the pool hand
/// them out: a route keeps its stream (and SSRC) for as long as it exists, a removed route's
/// stream goes back to the pool, and a new route takes the lowest free one. Routes beyond the
/// pool's size get no stream and are reported, never silently mixed into another route's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPool {
    slots: Vec<(u32, Option<RouteName>)>,
    version: u64,
}

/// A table built by [`StreamPool::table`], with the routes that did not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolTable {
    /// The table to publish.
    pub table: RouteTable,
    /// Bot routes left without a stream because every SSRC is taken.
    pub unassigned: Vec<RouteName>,
}

impl StreamPool {
    /// A pool over these SSRCs; stream `i` sends on `ssrcs[i]`. Duplicates and SSRCs beyond
    /// [`MAX_SEND_STREAMS`] are refused.
    pub fn new(ssrcs: &[u32]) -> Result<Self, TableError> {
        if ssrcs.len() > MAX_SEND_STREAMS {
            return Err(TableError::StreamOutOfRange(
                u16::try_from(MAX_SEND_STREAMS).unwrap_or(u16::MAX),
            ));
        }
        for (index, ssrc) in ssrcs.iter().enumerate() {
            if ssrcs[..index].contains(ssrc) {
                return Err(TableError::DuplicateSsrc(*ssrc));
            }
        }
        Ok(Self {
            slots: ssrcs.iter().map(|&ssrc| (ssrc, None)).collect(),
            version: 0,
        })
    }

    /// Assigns streams to `routes` (see the type docs) and builds the next table (versions count
    /// up from 1).
    pub fn table(&mut self, routes: &[BotRoute]) -> PoolTable {
        for slot in &mut self.slots {
            if slot
                .1
                .as_ref()
                .is_some_and(|name| !routes.iter().any(|r| &r.route == name))
            {
                slot.1 = None;
            }
        }
        let mut entries = Vec::with_capacity(routes.len());
        let mut unassigned = Vec::new();
        for route in routes {
            let index = match self
                .slots
                .iter()
                .position(|(_, name)| name.as_ref() == Some(&route.route))
            {
                Some(index) => Some(index),
                None => {
                    let free = self.slots.iter().position(|(_, name)| name.is_none());
                    if let Some(index) = free {
                        self.slots[index].1 = Some(route.route.clone());
                    }
                    free
                }
            };
            let Some(index) = index else {
                unassigned.push(route.route.clone());
                continue;
            };
            entries.push(SendRoute {
                // The pool holds at most MAX_SEND_STREAMS slots, so the index fits.
                stream: SendStreamId(u16::try_from(index).unwrap_or(u16::MAX)),
                ssrc: self.slots[index].0,
                route: route.route.clone(),
                group: Some(route.group.clone()),
                receivers: route.receivers.clone(),
                live: route.live,
            });
        }
        self.version += 1;
        // Indices are distinct slots and SSRCs were checked distinct in `new`.
        let table = RouteTable::new(self.version, entries).unwrap_or_default();
        PoolTable { table, unassigned }
    }

    /// The stream a route currently holds.
    pub fn stream_of(&self, route: &RouteName) -> Option<SendStreamId> {
        self.slots
            .iter()
            .position(|(_, name)| name.as_ref() == Some(route))
            .and_then(|index| u16::try_from(index).ok())
            .map(SendStreamId)
    }
}

/// Whether [`RoutePublisher::publish`] handed the table over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Publish {
    /// Queued for the audio thread's next tick.
    Queued,
    /// The audio side is full; kept as pending until [`RoutePublisher::flush`] or the next publish.
    Deferred,
}

/// The control side of a route channel. Owned by one thread (the routing driver).
#[derive(Debug)]
pub struct RoutePublisher {
    to_audio: rtrb::Producer<Box<RouteTable>>,
    returned: rtrb::Consumer<Box<RouteTable>>,
    live: usize,
    pending: Option<Box<RouteTable>>,
    superseded: u64,
}

/// The audio side of a route channel. Owned by the audio thread.
#[derive(Debug)]
pub struct RouteReader {
    from_control: rtrb::Consumer<Box<RouteTable>>,
    to_control: rtrb::Producer<Box<RouteTable>>,
    current: Box<RouteTable>,
    swaps: u64,
}

/// A publisher/reader pair whose reader starts with `initial`. Both rings are allocated here,
/// once.
pub fn route_channel(initial: RouteTable) -> (RoutePublisher, RouteReader) {
    let (to_audio, from_control) = rtrb::RingBuffer::new(TABLES_IN_FLIGHT);
    let (to_control, returned) = rtrb::RingBuffer::new(TABLES_IN_FLIGHT);
    (
        RoutePublisher {
            to_audio,
            returned,
            live: 1,
            pending: None,
            superseded: 0,
        },
        RouteReader {
            from_control,
            to_control,
            current: Box::new(initial),
            swaps: 0,
        },
    )
}

impl RoutePublisher {
    /// Hands a new table to the audio thread (see the module's overflow policy).
    pub fn publish(&mut self, table: RouteTable) -> Publish {
        if self.pending.replace(Box::new(table)).is_some() {
            self.superseded += 1;
        }
        if self.flush() {
            Publish::Queued
        } else {
            Publish::Deferred
        }
    }

    /// Frees the tables the audio thread returned and delivers a pending table if there is room.
    /// Returns true when nothing is pending any more.
    pub fn flush(&mut self) -> bool {
        while self.returned.pop().is_ok() {
            self.live = self.live.saturating_sub(1);
        }
        let Some(table) = self.pending.take() else {
            return true;
        };
        if self.live >= TABLES_IN_FLIGHT {
            self.pending = Some(table);
            return false;
        }
        match self.to_audio.push(table) {
            Ok(()) => {
                self.live += 1;
                true
            }
            // Unreachable while the live count holds (the ring has TABLES_IN_FLIGHT slots and at
            // most live - 1 of them are used); keep the table rather than lose it.
            Err(rtrb::PushError::Full(table)) => {
                self.pending = Some(table);
                false
            }
        }
    }

    /// True while a table waits for room on the audio side.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Pending tables replaced by a newer one before they were delivered.
    pub fn superseded(&self) -> u64 {
        self.superseded
    }

    /// True when the reader was dropped (the audio thread ended).
    pub fn is_abandoned(&self) -> bool {
        self.to_audio.is_abandoned()
    }
}

impl RouteReader {
    /// Call at the start of each audio tick: takes the newest published table, if any, and sends
    /// the replaced ones back to the control side. Never blocks, allocates or frees. Returns true
    /// when the table changed.
    #[inline]
    pub fn refresh(&mut self) -> bool {
        let mut changed = false;
        while let Ok(next) = self.from_control.pop() {
            let old = std::mem::replace(&mut self.current, next);
            // Cannot be full (see the module docs); if it ever were, dropping the old table here
            // is the only cost: a free on this thread.
            let _ = self.to_control.push(old);
            self.swaps += 1;
            changed = true;
        }
        changed
    }

    /// The current table.
    #[inline]
    pub fn table(&self) -> &RouteTable {
        &self.current
    }

    /// How many tables this reader has switched to.
    pub fn swaps(&self) -> u64 {
        self.swaps
    }
}
