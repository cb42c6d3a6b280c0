//! One call inside the orchestrator: its phase, its media's state and its routing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use mediabot_media::session::blob::ValidatedBlob;
use mediabot_routing::{BotRoute, Reconciler, ReconcilerConfig, StreamPool};
use mediabot_signaling::call::Call;
use mediabot_signaling::join_url::MeetingJoinUrl;
use mediabot_signaling::models::{CallId, CallState, ParticipantId};

use super::{CallKey, MediaSummary};
use crate::report::EndReport;

/// Where a call is. Media leads the way until it is connected; then the call runs until it ends
/// at Graph (or is given up), its media is closed and its report written.
#[derive(Debug)]
pub enum Phase {
    /// The media session (and its offer) is being created.
    Offering,
    /// Graph has the offer (create-call or answer sent); the media processor's answer is due
    /// at `mpUri` before `deadline`.
    AwaitingAnswer {
        /// The offer the answer must match.
        offer: Box<ValidatedBlob>,
        /// When waiting gives up.
        deadline: Instant,
    },
    /// The answer is in; ICE and DTLS are connecting.
    Connecting {
        /// When waiting gives up.
        deadline: Instant,
    },
    /// Media is up and recorded.
    Connected {
        /// Since when.
        since: Instant,
    },
    /// The bot asked Graph to end the call and waits for its confirmation (media keeps
    /// recording meanwhile).
    Ending {
        /// Since when.
        since: Instant,
    },
    /// The call is over; media is closing and recordings are being finalised.
    Closing {
        /// How it ended.
        end: Box<EndReport>,
    },
    /// `report.json` is being written.
    Reporting,
    /// Finished.
    Done {
        /// Where the report is, if it could be written.
        report: Option<PathBuf>,
    },
}

impl Phase {
    /// Before the bot decided to end the call.
    pub(crate) fn is_live(&self) -> bool {
        matches!(
            self,
            Phase::Offering
                | Phase::AwaitingAnswer { .. }
                | Phase::Connecting { .. }
                | Phase::Connected { .. }
        )
    }

    /// Finished: report written (or failed to be).
    pub fn is_done(&self) -> bool {
        matches!(self, Phase::Done { .. })
    }

    /// The phase's own deadline.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self {
            Phase::AwaitingAnswer { deadline, .. } | Phase::Connecting { deadline } => {
                Some(*deadline)
            }
            _ => None,
        }
    }
}

/// Where the call's media session is (the session itself lives in the runtime).
#[derive(Debug)]
pub(crate) enum MediaState {
    /// No session (never made, or its creation failed).
    None,
    /// An offer or connect is running with the session.
    Busy,
    /// The session is at rest in the runtime.
    Open,
    /// A close is running.
    Closing,
    /// Closed; what it reported.
    Closed(Box<MediaSummary>),
}

impl PartialEq for MediaState {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// How the call began.
#[derive(Debug)]
pub(crate) enum Origin {
    /// The bot joins a meeting.
    Join(Box<MeetingJoinUrl>),
    /// Graph offered this call.
    Incoming(CallId),
}

/// The routing reconciler of an established call and the send-path table it feeds.
pub(crate) struct Routing {
    pub(crate) bot: ParticipantId,
    pub(crate) reconciler: Reconciler,
    pub(crate) pool: StreamPool,
    pub(crate) published: Vec<BotRoute>,
    pub(crate) deadline: Option<Instant>,
    /// Has inputs whose outputs were not drained.
    pub(crate) dirty: bool,
}

impl std::fmt::Debug for Routing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routing")
            .field("bot", &self.bot)
            .field("routes", &self.reconciler.routes().len())
            .finish_non_exhaustive()
    }
}

impl Routing {
    pub(crate) fn new(bot: ParticipantId, bot_ssrc: u32) -> anyhow::Result<Routing> {
        Ok(Routing {
            reconciler: Reconciler::new(ReconcilerConfig::new(bot.clone()))?,
            pool: StreamPool::new(&[bot_ssrc])?,
            bot,
            published: Vec::new(),
            deadline: None,
            dirty: true,
        })
    }

    /// A participant is present now (joined, or admitted from the lobby): O(routes).
    pub(crate) fn present(&mut self, now: Instant, participant: &ParticipantId) {
        self.reconciler.handle_participant_present(now, participant);
        self.dirty = true;
    }

    /// A participant left: O(routes).
    pub(crate) fn gone(&mut self, now: Instant, participant: &ParticipantId) {
        self.reconciler.handle_participant_gone(now, participant);
        self.dirty = true;
    }
}

/// One call.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) key: CallKey,
    pub(crate) origin: Origin,
    pub(crate) join_url: String,
    pub(crate) call_id: Option<CallId>,
    pub(crate) phase: Phase,
    pub(crate) media: MediaState,
    /// Close the session as soon as the running media action returns it.
    pub(crate) close_wanted: bool,
    /// Hang up as soon as the create-call response names the call.
    pub(crate) hang_up_wanted: bool,
    pub(crate) token: Option<String>,
    pub(crate) started: Instant,
    pub(crate) media_connected: Option<Instant>,
    pub(crate) first_audio: bool,
    pub(crate) graph_state: Option<CallState>,
    pub(crate) routing: Option<Routing>,
    /// MSI → its participant and display name (bounded by `MAX_SOURCES`).
    pub(crate) sources: BTreeMap<u32, (ParticipantId, Option<String>)>,
    pub(crate) dominant: Option<String>,
    pub(crate) failure: Option<String>,
    /// MSIs the recorder has a file for (bounded by `MAX_SOURCES`).
    pub(crate) heard: std::collections::BTreeSet<u32>,
    /// How the call ended (`Graph`, `CreateFailed`, …), once it did.
    pub(crate) end_cause: Option<String>,
    pub(crate) peak_participants: usize,
    /// The roster's size when last seen (kept after Graph's call is gone).
    pub(crate) last_participants: usize,
    pub(crate) dir: PathBuf,
    pub(crate) status_dirty: bool,
}

impl Entry {
    pub(crate) fn new(
        key: CallKey,
        origin: Origin,
        join_url: String,
        call_id: Option<CallId>,
        dir: PathBuf,
        now: Instant,
    ) -> Entry {
        Entry {
            key,
            origin,
            join_url,
            call_id,
            phase: Phase::Offering,
            media: MediaState::None,
            close_wanted: false,
            hang_up_wanted: false,
            token: None,
            started: now,
            media_connected: None,
            first_audio: false,
            graph_state: None,
            routing: None,
            sources: BTreeMap::new(),
            dominant: None,
            failure: None,
            heard: std::collections::BTreeSet::new(),
            end_cause: None,
            peak_participants: 0,
            last_participants: 0,
            dir,
            status_dirty: true,
        }
    }

    pub(crate) fn call_id_str(&self) -> Option<&str> {
        self.call_id.as_ref().map(CallId::as_str)
    }

    /// The roster changed: O(1) bookkeeping (the roster itself is read in place when needed).
    pub(crate) fn roster_changed(&mut self, call: Option<&Call>) {
        let n = call.map_or(0, |c| c.roster().len());
        if self.last_participants == 0 && n > 0 {
            tracing::info!(call = %self.key, call_id = self.call_id_str().unwrap_or("-"), participants = n, "roster");
        }
        self.last_participants = n;
        self.peak_participants = self.peak_participants.max(n);
        self.status_dirty = true;
    }

    pub(crate) fn state_name(&self) -> String {
        match &self.phase {
            Phase::Offering => "offering media".into(),
            Phase::AwaitingAnswer { .. } => self
                .graph_state
                .as_ref()
                .map_or_else(|| "joining".into(), |s| format!("{s:?}")),
            Phase::Connecting { .. } => "connecting media".into(),
            Phase::Connected { .. } => "media connected".into(),
            Phase::Ending { .. } => "hanging up".into(),
            Phase::Closing { .. } => "finalizing".into(),
            Phase::Reporting => "writing report".into(),
            Phase::Done { .. }
                if self.failure.is_some()
                    || matches!(
                        self.end_cause.as_deref(),
                        Some("CreateFailed" | "AnswerFailed" | "MediaFailed")
                    ) =>
            {
                "failed".into()
            }
            Phase::Done { .. } => "terminated".into(),
        }
    }
}
