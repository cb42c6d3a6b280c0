//! A local simulator of Microsoft Graph calling and Teams meetings: the control plane that
//! mediabot's demo runs against by default and that its end-to-end tests treat as ground truth.
//!
//! # What it serves (one HTTP listener, `127.0.0.1:0` by default)
//! * `POST /{tenant}/oauth2/v2.0/token` — client credentials for the configured app id and secret;
//!   a wrong secret is `401 invalid_client` / `AADSTS7000215`. Issues RS256 access tokens signed by a
//!   private simulator key.
//! * `GET /v1/.well-known/OpenIdConfiguration` and `GET /v1/keys` — the callback signer's OpenID
//!   configuration (issuer `https://api.botframework.com`) and JWKS.
//! * Graph `/v1.0` and `/beta`, under both `/communications/calls` and the legacy `/app/calls`: create
//!   call (join by `organizerMeetingInfo` + `chatInfo`, by `joinMeetingIdMeetingInfo` + passcode, by
//!   `tokenMeetingInfo`; group and peer-to-peer calls), get, delete, answer, reject, redirect,
//!   transfer, keepAlive, mute/unmute, participants (list, get, invite, delete, mute, muteAll,
//!   start/stopHoldMusic, configureMixer), changeScreenSharingRole, updateRecordingStatus,
//!   addLargeGalleryView, the service-hosted IVR actions (playPrompt, recordResponse,
//!   subscribeToTone, cancelMediaProcessing; `400` on app-hosted calls), audioRoutingGroups CRUD,
//!   contentSharingSessions list/get and operations get. Every Graph request needs a token from the
//!   token endpoint (`401 InvalidAuthenticationToken` otherwise); errors use the OData envelope.
//!
//! Callbacks go to each call's `callbackUri`, RS256-signed (`iss` `https://api.botframework.com`,
//! `aud` = app id, `tid` = the call's tenant, `kid` in the JWKS) with Graph's headers, in order per
//! call, retried on 5xx/transport errors, each post logged as a [`DeliveryRecord`].
//!
//! # Behaviour choices where the docs are silent
//! | case | simulator answer |
//! |---|---|
//! | unknown meeting (thread id, join meeting id, token) | `404 NotFound` |
//! | wrong passcode | `403 Forbidden` |
//! | meeting in another tenant than the token, or `consented = false` | `403` / `7504` |
//! | unknown or ended call (any endpoint, keepAlive included) | `404 NotFound` |
//! | hang-up (`DELETE`) | `terminating`, then `deleted` `terminated` with `200/7000` "The conversation has ended by bot." |
//! | incoming call not answered in time | `deleted` `terminated` with `408/1106` (closest documented code) |
//! | no keepAlive within the window | `deleted` `terminated` with `408/8537` |
//! | media processor refuses the blob | `deleted` `terminated` with `500/1203002` |
//! | bot removes itself (`DELETE participants/{myParticipantId}`) | `terminated` with `200/5300` |
//! | `GET …/operations/{id}` | a `running` operation until its `deleted` notification, then `404`; one answered `completed` stays readable (last 32 per call) |
//! | answer/reject/redirect of a call that is not `incoming` | `400 BadRequest` |
//! | delta roster (`callOptions.isDeltaRosterEnabled`, or a meeting with `roster_mode = "delta"`) | the first roster is `deltaParticipants` with everyone; later ones carry only changes, leavers with `removedState.reason = "left"`; each notification holds at most the meeting's `roster_batch` (default 100) participants and takes the next `sequenceNumber` (from 1), which every entry repeats as `rosterSequenceNumber` |
//! | snapshot roster size | one notification, about 670 bytes per participant: 1,200 ≈ 0.8 MB, 5,000 ≈ 3.4 MB, 10,000 ≈ 6.7 MB (above the 4 MiB default of `mediabot_signaling::webhook::WebhookConfig::max_body_bytes`, so the bot answers `413` and the post is logged as rejected) |
//!
//! # Run loop, time and threads
//! The HTTP server and every timer run on the caller's tokio runtime. State is one `World` behind
//! one mutex, never held across an `.await`; notifications are queued under that lock so their order
//! matches the state changes; one delivery task per call posts them. Time is real
//! (tokio timers); every duration is in [`SimTimings`], and [`SimTimings::fast`] shortens them for
//! tests, which wait on [`SimEvent`]s or on the bot's webhook channel instead of sleeping.
//!
//! # Panic policy
//! Nothing reachable from a request or a callback response panics: bodies are parsed into the
//! `mediabot-signaling` models and refused with `400` when they do not fit. A poisoned lock is
//! recovered rather than propagated.
//!
//! # Scenarios
//! Meetings, virtual participants (tone or WAV audio), timelines, faults and quirks come from TOML;
//! the format is documented in [`scenario`]. [`SimConfig::default`] uses the embedded
//! `scenarios/default.toml` (Alice 440 Hz, Bob 660 Hz, Carol 880 Hz over ~15 s).
//!
//! Large meetings are a first-class case: `crowd = N` (up to [`MAX_CROWD`]) adds N generated,
//! silent attendees, `roster_mode` chooses snapshot or batched delta rosters, and `crowd_churn`
//! (or [`SimHandle::crowd_churn`]) moves many attendees in one roster change. Roster work is
//! linear in the roster size (changes are found by participant id), and the media side plans no
//! stream and records no audio for the crowd (see [`scenario#crowds`](scenario#crowds)).
//!
//! # Media
//! The simulator does not move media. It drives a [`MediaProcessor`] (see [`media_seam`]) with the
//! blob, the roster, speaking/mute changes and routing groups; [`NoopMediaProcessor`] is the default.

mod config;
mod delivery;
mod engine;
mod error;
mod events;
mod faults;
mod graph;
mod handle;
mod http_util;
mod identity;
mod keys;
pub mod media_seam;
pub mod scenario;
mod snapshot;
mod state;
mod wire;

pub use config::{DEFAULT_APP_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, SimConfig, SimTimings};
pub use error::SimError;
pub use events::{DeliveryOutcome, DeliveryRecord, SimEvent};
pub use faults::{FaultKind, FaultRule, Quirks};
pub use handle::{IncomingCall, SimHandle, Simulator};
pub use media_seam::{
    AudioSource, MediaAttach, MediaProcessor, MediaRejected, NoopMediaProcessor, SimParticipant,
};
pub use scenario::{
    CrowdChurn, DEFAULT_ROSTER_BATCH, DEFAULT_SCENARIO_TOML, IdentityKind, MAX_CROWD, MeetingSpec,
    ParticipantSpec, RosterMode, Scenario, TimelineAction, TimelineEntry,
};
pub use snapshot::{CallSnapshot, MeetingSnapshot, MemberSnapshot};

pub mod media;
pub use media::{HeardReport, SimMediaConfig, SimMediaProcessor};
