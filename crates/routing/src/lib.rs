//! Audio routing for mediabot: declarative routes, a sans-IO reconciler that keeps Graph's
//! `audioRoutingGroup`s in line with them, and the lock-free send-route table of the audio thread.
//!
//! Graph only offers CRUD on groups (reference §4.23): a group has a client-chosen `id`, a
//! `routingMode` and participant-id `sources` and `receivers`. Applications want intent —
//! "whisper to X", "a private room of A, B and the bot" — so this crate takes intent
//! ([`Route`]) and works out the groups.
//!
//! # From intent to groups
//! Graph's rules: a group has exactly **one source**; `oneToOne` has one receiver, `multicast`
//! one or more ("Receivers list may be updated"); the source is never its own receiver; ids are
//! chosen by the client and must be unique. Hence:
//!
//! | intent | groups | id |
//! |---|---|---|
//! | [`Route::whisper`]`(name, s, r)` | one `oneToOne`: `s → [r]` | `{prefix}{name}` |
//! | [`Route::broadcast`]`(name, s, [r…])` | one `multicast`: `s → [r…]` | `{prefix}{name}` |
//! | [`Route::private_room`]`(name, [m…])` | one `multicast` per member `m`: `m → members − m` | `{prefix}{name}.{hash(m)}` |
//!
//! A room of A, B and the bot is three groups (A → B, bot; B → A, bot; bot → A, B), because one
//! group cannot have several sources. A broadcast or room keeps `multicast` even when pruning
//! leaves a single receiver, since a mode change costs a delete and a create. Ids are
//! deterministic: the same routes always give the same ids, so a restarted bot finds its own
//! groups with one list, and a room member's group id depends only on that member (a hash, not
//! the participant id itself: Graph logs client ids). Route names are `[A-Za-z0-9_-]`, so the ids
//! of different routes never collide; ids within one room are checked anyway.
//!
//! The bot is usually removed from the default all-hear-all mix (`removeFromDefaultAudioGroup`
//! on its media config), so whatever it says is heard only through groups it is the source of.
//! Other participants stay in the default mix, so in a room A and B also hear each other there;
//! the room's A ↔ B groups only matter to participants outside the default mix. Graph forwards
//! only the top 4 dominant speakers' audio, private groups included.
//!
//! # Presence and pruning
//! New or changed routes may only name participants in the roster (and the bot). When someone
//! leaves, the route stays declared but its groups follow the roster: a receiver who left is
//! pruned from receivers (one update); a group whose source left, or whose receivers all left, is
//! deleted; the route becomes [`RouteStatus::Dormant`] and comes back if they do.
//!
//! The roster arrives in two forms that can be mixed freely. A snapshot
//! ([`Reconciler::handle_roster`], [`Reconciler::handle_roster_ids`]) replaces it whole, at
//! O(roster): right for the first roster and for resyncs. A change
//! ([`Reconciler::handle_participant_present`], [`Reconciler::handle_participant_gone`]) adds or
//! removes one id with exactly the effect of a snapshot differing by that id (same requests, same
//! [`RoutingEvent::ParticipantLeft`]s) at a cost set by the declared routes, not the roster: in a
//! meeting of 5,000, a churn of n joins and leaves costs n times the routes' size instead of n
//! times 5,000. A change before any snapshot starts from an empty roster (the bot's roster can be
//! built from joins alone); the roster counts as known from then on, so a driver that has a
//! snapshot at hand feeds it first.
//!
//! # Run loop (sans-IO, like str0m and quinn-proto)
//! A [`Reconciler`] never does IO, never reads a clock and holds no locks. The driver feeds it
//! [`Reconciler::set_desired`] (or [`Reconciler::upsert_route`] / [`Reconciler::remove_route`]),
//! [`Reconciler::handle_roster`] (or one change: [`Reconciler::handle_participant_present`],
//! [`Reconciler::handle_participant_gone`]), [`Reconciler::handle_notification`] (Graph callbacks
//! about routing groups), [`Reconciler::handle_observed`] (group contents learnt elsewhere),
//! [`Reconciler::handle_response`] and [`Reconciler::handle_timeout`], each with the current
//! [`Instant`](std::time::Instant), and after every input drains [`Reconciler::poll_output`]:
//! [`Output::Request`]s to send with the signaling crate's `GraphClient` (each maps onto one of
//! its `*_audio_routing_group(s)` methods), [`Output::Event`]s for the application, then
//! [`Output::Timeout`] (call `handle_timeout` then at the latest) or `None` (wait for input).
//! Inputs only record what changed; the requests are worked out at the next `poll_output`, so
//! several inputs before one drain (a roster snapshot and new routes) cost one minimal set.
//!
//! ```
//! use std::time::Instant;
//!
//! use mediabot_routing::{
//!     Output, Reconciler, ReconcilerConfig, RequestKind, Route, RouteName, RoutingReply,
//! };
//! use mediabot_signaling::models::ParticipantId;
//!
//! let bot = ParticipantId::new("bot-participant-id");
//! let alice = ParticipantId::new("alice-participant-id");
//! let mut routes = Reconciler::new(ReconcilerConfig::new(bot.clone()))?;
//! let now = Instant::now();
//! routes.handle_roster_ids(now, [bot.clone(), alice.clone()]);
//! routes.set_desired(now, vec![Route::whisper(RouteName::new("coach")?, bot, alice)?])?;
//!
//! let mut sent = Vec::new();
//! while let Some(output) = routes.poll_output() {
//!     match output {
//!         Output::Request(request) => {
//!             // A real driver sends it with the GraphClient; here Graph answers at once.
//!             let reply = match &request.kind {
//!                 RequestKind::List => RoutingReply::Groups(Vec::new()),
//!                 RequestKind::Create { group } => RoutingReply::Group(group.clone()),
//!                 other => unreachable!("{other:?}"),
//!             };
//!             sent.push(request.kind.name());
//!             routes.handle_response(now, request.id, Ok(reply));
//!         }
//!         Output::Event(event) => println!("{event:?}"),
//!         Output::Timeout(_) => break,
//!     }
//! }
//! assert_eq!(sent, ["listAudioRoutingGroups", "createAudioRoutingGroup"]);
//! assert!(routes.is_converged());
//! # Ok::<(), mediabot_routing::RouteError>(())
//! ```
//!
//! Every request must be answered exactly once — a transport timeout is a
//! `GraphFailure::Unreachable` — or its group waits for that answer forever.
//! [`RoutingEvent::Converged`] is reported each time the reconciler becomes converged again
//! (after a change, a failure or a resync).
//!
//! # Request rules
//! * First a `GET …/audioRoutingGroups` (unless [`ReconcilerConfig::assume_empty`]), and nothing
//!   before the first roster: an unknown state is never "fixed" by deleting. Graph documents no
//!   notifications for routing groups, so [`ReconcilerConfig::resync_interval`] can list again
//!   periodically; [`Reconciler::request_resync`] lists on demand.
//! * Per group id: missing → create; present but different → one PATCH with the whole desired
//!   object (a different `routingMode` → delete, then create); present but not wanted → delete;
//!   equal → nothing. Owned ids only (those starting with [`ReconcilerConfig::id_prefix`]).
//! * At most one request in flight per group; requests for different groups run concurrently
//!   and may be answered in any order. A request's answer overwrites what notifications said
//!   meanwhile; a list is ignored for groups with a request in flight or with an answer or
//!   notification that arrived after the list was sent (it may have been served before them).
//!   Repeating an input that changes nothing sends nothing.
//! * The driver's `GraphClient` already retries 429/5xx/transport errors within its budget
//!   (signaling's `RetryPolicy`); a failure that reaches the reconciler is retried again after
//!   [`ReconcilerConfig::retry_base`] · 2ⁿ (capped at [`ReconcilerConfig::retry_max`]) when it is
//!   transient ([`is_transient`]). A create that answers 409 (the id exists: an earlier create
//!   whose answer was lost) is followed by a get; a 404 on update or delete means "absent". Other
//!   4xx park the group ([`RouteStatus::Failed`]) until its route or the roster changes it.
//!
//! # Time model
//! Time enters only as `Instant` arguments; backoff deadlines are `now + delay`. Tests run on a
//! simulated clock (one base `Instant` plus offsets).
//!
//! # Threading
//! The reconciler lives on the routing driver's task (one owner, no `Arc<Mutex<_>>`). The audio
//! thread only sees immutable [`RouteTable`]s through a [`RouteReader`] (see [`table`] for why an
//! rtrb pair rather than an atomic pointer swap): it never waits on routing, allocates or frees.
//!
//! # Panics
//! None on any input: Graph answers and notifications of any shape are compared, never trusted;
//! unknown request ids are ignored.

pub mod reconcile;
pub mod route;
pub mod table;

pub use reconcile::{
    BotRoute, Observed, Output, Reconciler, ReconcilerConfig, RequestId, RequestKind, RouteStatus,
    RoutingEvent, RoutingReply, RoutingRequest, is_transient,
};
pub use route::{
    MAX_ID_PREFIX_LEN, MAX_ROUTE_NAME_LEN, Route, RouteError, RouteName, RouteShape, validate_group,
};
pub use table::{
    MAX_SEND_STREAMS, PoolTable, Publish, RoutePublisher, RouteReader, RouteTable, SendRoute,
    SendStreamId, StreamPool, TABLES_IN_FLIGHT, TableError, route_channel,
};
