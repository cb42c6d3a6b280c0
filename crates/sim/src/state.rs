//! The simulated world: meetings with their virtual participants, and calls with their rosters,
//! operations and routing groups. Pure data and synchronous transitions; timers and IO live in
//! [`engine`](crate::engine).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::mpsc;
use uuid::Uuid;

use mediabot_signaling::models::{
    AudioRoutingGroup, Call, CallChainId, CallDirection, CallId, CallState, ChangeType, ChatInfo,
    CommsNotification, CommsNotifications, CommsOperation, ContentSharingSession,
    ContentSharingSessionId, DeltaParticipants, Identity, IdentitySet, MediaDirection, MediaStream,
    MeetingInfo, Modality, Msi, OperationId, OrganizerMeetingInfo, Participant, ParticipantId,
    ParticipantInfo, RecordingInfo, RecordingStatus, RemovedState, ResourceData, ResultInfo,
    TenantId,
};

use crate::faults::{FaultKind, FaultRule, Quirks};
use crate::media_seam::{AudioSource, SimParticipant};
use crate::scenario::{
    CrowdChurn, IdentityKind, MeetingSpec, ParticipantSpec, RosterMode, TimelineAction,
    TimelineEntry, crowd_member_key, crowd_member_name,
};
use crate::snapshot::{CallSnapshot, MeetingSnapshot, MemberSnapshot};
use crate::wire::{Outgoing, wire_body};

/// A media call to make once the world lock is released.
#[derive(Debug, Clone)]
pub(crate) enum MediaEffect {
    Joined(CallId, Box<SimParticipant>),
    Left(CallId, ParticipantId),
    Speaking(CallId, ParticipantId, bool),
    Muted(CallId, ParticipantId, bool),
    Routing(CallId, Vec<AudioRoutingGroup>),
    Detach(CallId),
}

/// A virtual participant of a meeting and its live state.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) sim: SimParticipant,
    pub(crate) present: bool,
    pub(crate) speaking: bool,
}

/// A meeting (scheduled, or the ad-hoc conversation of a group/P2P call).
#[derive(Debug)]
pub(crate) struct MeetingState {
    pub(crate) key: String,
    pub(crate) subject: Option<String>,
    pub(crate) tenant_id: TenantId,
    pub(crate) organizer_id: String,
    pub(crate) organizer_name: String,
    pub(crate) thread_id: String,
    pub(crate) join_meeting_id: String,
    pub(crate) passcode: String,
    pub(crate) join_token: String,
    pub(crate) lobby_for_guests: bool,
    pub(crate) consented: bool,
    pub(crate) roster_mode: RosterMode,
    /// Participants per delta-roster notification (at least 1).
    pub(crate) roster_batch: usize,
    pub(crate) members: Vec<Member>,
    pub(crate) timeline: Vec<TimelineEntry>,
    pub(crate) crowd_churn: Vec<CrowdChurn>,
    pub(crate) timeline_started: bool,
    /// Bumped when the timeline restarts; a running timeline task stops when it changes.
    pub(crate) timeline_generation: u64,
    pub(crate) replay_timeline: bool,
    /// `(present, muted)` of each member at registration, for replays.
    pub(crate) initial: Vec<(bool, bool)>,
    pub(crate) sessions: Vec<(ContentSharingSessionId, ParticipantId)>,
    /// Peer-to-peer conversation: no roster notifications.
    pub(crate) p2p: bool,
}

impl MeetingState {
    pub(crate) fn member(&self, key: &str) -> Option<usize> {
        self.members.iter().position(|m| m.sim.key == key)
    }

    pub(crate) fn member_by_id(&self, id: &ParticipantId) -> Option<usize> {
        self.members.iter().position(|m| m.sim.id == *id)
    }

    pub(crate) fn chat_info(&self) -> ChatInfo {
        ChatInfo {
            thread_id: Some(self.thread_id.clone()),
            message_id: Some("0".to_owned()),
            reply_chain_message_id: None,
        }
    }

    pub(crate) fn organizer_meeting_info(&self) -> MeetingInfo {
        MeetingInfo::Organizer(Box::new(OrganizerMeetingInfo {
            organizer: Some(IdentitySet::user(Identity {
                id: Some(self.organizer_id.clone()),
                display_name: Some(self.organizer_name.clone()),
                tenant_id: Some(self.tenant_id.clone()),
                ..Identity::default()
            })),
            allow_conversation_without_host: Some(true),
        }))
    }

    pub(crate) fn join_url(&self) -> String {
        let context = format!(
            "{{\"Tid\":\"{}\",\"Oid\":\"{}\"}}",
            self.tenant_id, self.organizer_id
        );
        format!(
            "https://teams.microsoft.com/l/meetup-join/{}/0?context={}",
            percent_encode(&self.thread_id),
            percent_encode(&context)
        )
    }

    pub(crate) fn snapshot(&self) -> MeetingSnapshot {
        MeetingSnapshot {
            key: self.key.clone(),
            subject: self.subject.clone(),
            tenant_id: self.tenant_id.clone(),
            organizer_id: self.organizer_id.clone(),
            organizer_name: self.organizer_name.clone(),
            thread_id: self.thread_id.clone(),
            join_url: self.join_url(),
            short_join_url: format!(
                "https://teams.microsoft.com/meet/{}?p={}",
                self.join_meeting_id,
                percent_encode(&self.passcode)
            ),
            join_meeting_id: self.join_meeting_id.clone(),
            passcode: self.passcode.clone(),
            join_token: self.join_token.clone(),
            participants: self
                .members
                .iter()
                .map(|m| MemberSnapshot {
                    participant: m.sim.clone(),
                    present: m.present,
                    speaking: m.speaking,
                })
                .collect(),
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, lower-case hex (as Teams does).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02x}"));
        }
    }
    out
}

/// Keys of the participants whose first timeline appearance may be a `join` (absent at start).
fn timeline_joins(spec: &MeetingSpec) -> HashSet<&str> {
    spec.timeline
        .iter()
        .filter(|e| e.action == TimelineAction::Join)
        .map(|e| e.participant.as_str())
        .collect()
}

/// 32-bit FNV-1a: a stable tag for a meeting key (crowd ids derive from it).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash: u32, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// How many already-completed operations a call keeps readable.
pub(crate) const KEPT_COMPLETED_OPERATIONS: usize = 32;

/// A call leg of the bot.
#[derive(Debug)]
pub(crate) struct CallEntry {
    pub(crate) id: CallId,
    pub(crate) chain_id: CallChainId,
    pub(crate) scenario_id: Uuid,
    pub(crate) my_participant_id: ParticipantId,
    pub(crate) bot_msi: Msi,
    pub(crate) bot_identity: IdentitySet,
    pub(crate) tenant_id: TenantId,
    pub(crate) callback_uri: String,
    pub(crate) direction: CallDirection,
    pub(crate) state: CallState,
    pub(crate) result_info: Option<ResultInfo>,
    pub(crate) meeting: Option<usize>,
    /// The create request (or the incoming call as notified), echoed in call views.
    pub(crate) request: Call,
    pub(crate) blob: Option<String>,
    pub(crate) app_hosted: bool,
    pub(crate) delta_roster: bool,
    pub(crate) content_sharing_notifications: bool,
    pub(crate) roster_sequence: i64,
    pub(crate) last_roster: Vec<Participant>,
    pub(crate) roster_sent: bool,
    pub(crate) bot_muted: bool,
    pub(crate) bot_in_lobby: bool,
    pub(crate) bot_sharer: bool,
    pub(crate) recording: Option<RecordingStatus>,
    pub(crate) large_gallery: Option<Participant>,
    pub(crate) operations: Vec<CommsOperation>,
    /// Operations answered as already `completed` (newest last, at most [`KEPT_COMPLETED_OPERATIONS`]),
    /// still readable with `GET …/operations/{id}` since no notification ends them.
    pub(crate) completed_operations: Vec<CommsOperation>,
    pub(crate) routing_groups: Vec<AudioRoutingGroup>,
    pub(crate) last_keepalive: Instant,
    pub(crate) outbox: Option<mpsc::UnboundedSender<Outgoing>>,
    pub(crate) media_attached: bool,
}

impl CallEntry {
    pub(crate) fn is_live(&self) -> bool {
        self.state != CallState::Terminated
    }

    pub(crate) fn resource_url(&self) -> String {
        format!("/communications/calls/{}", self.id)
    }

    pub(crate) fn bot_participant(&self) -> Participant {
        let mut streams = vec![audio_stream(self.bot_msi, MediaDirection::SendReceive)];
        if self.bot_sharer {
            streams.push(MediaStream {
                media_type: Some(Modality::VideoBasedScreenSharing),
                direction: Some(MediaDirection::SendOnly),
                source_id: Some((self.bot_msi.0 + 1).to_string()),
                label: Some("applicationsharing-video".to_owned()),
                server_muted: Some(false),
            });
        }
        Participant {
            id: Some(self.my_participant_id.clone()),
            info: Some(ParticipantInfo {
                identity: Some(self.bot_identity.clone()),
                language_id: Some("en-US".to_owned()),
                region: Some("amer".to_owned()),
                ..ParticipantInfo::default()
            }),
            is_in_lobby: Some(self.bot_in_lobby),
            is_muted: Some(self.bot_muted),
            media_streams: streams,
            recording_info: self.recording.clone().map(|status| RecordingInfo {
                initiator: Some(self.bot_identity.clone()),
                recording_status: Some(status),
            }),
            meeting_role: Some("attendee".to_owned()),
            ..Participant::default()
        }
    }
}

fn audio_stream(msi: Msi, direction: MediaDirection) -> MediaStream {
    MediaStream {
        media_type: Some(Modality::Audio),
        direction: Some(direction),
        source_id: Some(msi.to_string()),
        label: Some("main-audio".to_owned()),
        server_muted: Some(false),
    }
}

pub(crate) fn member_participant(member: &Member) -> Participant {
    Participant {
        id: Some(member.sim.id.clone()),
        info: Some(ParticipantInfo {
            identity: Some(member.sim.identity.clone()),
            language_id: Some("en-US".to_owned()),
            region: Some("amer".to_owned()),
            ..ParticipantInfo::default()
        }),
        is_in_lobby: Some(false),
        is_muted: Some(member.sim.muted),
        media_streams: vec![audio_stream(member.sim.msi, MediaDirection::SendReceive)],
        meeting_role: Some("attendee".to_owned()),
        ..Participant::default()
    }
}

/// What changed from `previous` to `now` (both as [`World::roster`] builds them, so without
/// sequence numbers): everyone new or different, in `now`'s order, then everyone gone, marked
/// `removedState.reason = "left"`. Linear: participants are matched by id.
fn roster_changes(previous: &[Participant], now: &[Participant]) -> Vec<Participant> {
    let before: HashMap<Option<&ParticipantId>, &Participant> =
        previous.iter().map(|p| (p.id.as_ref(), p)).collect();
    let mut changed: Vec<Participant> = now
        .iter()
        .filter(|p| before.get(&p.id.as_ref()).is_none_or(|old| *old != *p))
        .cloned()
        .collect();
    let current: HashSet<Option<&ParticipantId>> = now.iter().map(|p| p.id.as_ref()).collect();
    changed.extend(
        previous
            .iter()
            .filter(|p| !current.contains(&p.id.as_ref()))
            .map(|gone| Participant {
                removed_state: Some(RemovedState {
                    reason: Some("left".to_owned()),
                }),
                ..gone.clone()
            }),
    );
    changed
}

/// The large-gallery participant `addLargeGalleryView` adds (reference §4.18).
pub(crate) fn large_gallery_participant(msi: Msi) -> Participant {
    Participant {
        id: Some(ParticipantId::new(Uuid::new_v4().to_string())),
        info: Some(ParticipantInfo {
            identity: Some(IdentitySet::application(Identity {
                id: Some(Uuid::new_v4().to_string()),
                display_name: Some("Large gallery".to_owned()),
                application_type: Some("LargeGallery-V2".to_owned()),
                ..Identity::default()
            })),
            ..ParticipantInfo::default()
        }),
        is_in_lobby: Some(false),
        is_muted: Some(true),
        media_streams: vec![MediaStream {
            media_type: Some(Modality::Video),
            direction: Some(MediaDirection::SendReceive),
            source_id: Some(msi.to_string()),
            label: Some("main-video".to_owned()),
            server_muted: Some(false),
        }],
        metadata: Some(r#"{"audienceView":{"pageNumber":1,"pageSize":49}}"#.to_owned()),
        ..Participant::default()
    }
}

/// Everything the simulator knows; guarded by one lock in [`Shared`](crate::engine::Shared).
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) meetings: Vec<MeetingState>,
    pub(crate) calls: Vec<CallEntry>,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) quirks: Quirks,
    used_msis: HashSet<u32>,
    next_msi: u32,
    next_join_id: u64,
}

impl World {
    pub(crate) fn new(faults: Vec<FaultRule>, quirks: Quirks) -> Self {
        Self {
            meetings: Vec::new(),
            calls: Vec::new(),
            faults,
            quirks,
            used_msis: HashSet::new(),
            next_msi: 2001,
            next_join_id: 3_131_000_100,
        }
    }

    pub(crate) fn alloc_msi(&mut self) -> Msi {
        while self.used_msis.contains(&self.next_msi)
            || self.used_msis.contains(&(self.next_msi + 1))
        {
            self.next_msi += 2;
        }
        let msi = self.next_msi;
        // Reserve two: the audio stream and a possible screen-sharing stream.
        self.used_msis.insert(msi);
        self.used_msis.insert(msi + 1);
        self.next_msi += 2;
        Msi(msi)
    }

    fn reserve_msi(&mut self, msi: Option<u32>) -> Msi {
        match msi {
            Some(m) if !self.used_msis.contains(&m) && Msi(m).valid().is_some() => {
                self.used_msis.insert(m);
                Msi(m)
            }
            _ => self.alloc_msi(),
        }
    }

    pub(crate) fn sim_participant(
        &mut self,
        spec: &ParticipantSpec,
        tenant: &TenantId,
    ) -> SimParticipant {
        let user_id = spec.user_id.clone().unwrap_or_else(|| match spec.kind {
            IdentityKind::Phone => "+15550100000".to_owned(),
            _ => Uuid::new_v4().to_string(),
        });
        let identity = Identity {
            id: Some(user_id),
            display_name: Some(spec.display_name.clone()),
            tenant_id: (spec.kind == IdentityKind::User).then(|| tenant.clone()),
            identity_provider: (spec.kind == IdentityKind::User).then(|| "AAD".to_owned()),
            ..Identity::default()
        };
        let identity = match spec.kind {
            IdentityKind::User => IdentitySet::user(identity),
            IdentityKind::Guest => IdentitySet {
                guest: Some(identity),
                ..IdentitySet::default()
            },
            IdentityKind::Phone => IdentitySet {
                phone: Some(identity),
                ..IdentitySet::default()
            },
        };
        SimParticipant {
            id: spec
                .id
                .clone()
                .unwrap_or_else(|| ParticipantId::new(Uuid::new_v4().to_string())),
            key: spec.key.clone(),
            display_name: spec.display_name.clone(),
            identity,
            msi: self.reserve_msi(spec.msi),
            audio: spec.audio.clone(),
            muted: spec.muted,
            crowd: false,
        }
    }

    /// Crowd member `number` of a meeting whose key hashes to `tag`: GUID-shaped ids derived
    /// from both (stepping past any id in `taken`), a fresh MSI, no audio.
    fn crowd_member(
        &mut self,
        tag: u32,
        number: u32,
        tenant: &TenantId,
        taken: &HashSet<ParticipantId>,
    ) -> SimParticipant {
        let mut variant: u32 = 0x4000;
        let id = loop {
            let id = ParticipantId::new(format!("{tag:08x}-c0de-{variant:04x}-8000-{number:012x}"));
            if !taken.contains(&id) {
                break id;
            }
            variant += 1;
        };
        let display_name = crowd_member_name(number);
        let identity = IdentitySet::user(Identity {
            id: Some(format!("{tag:08x}-a77e-4000-8000-{number:012x}")),
            display_name: Some(display_name.clone()),
            tenant_id: Some(tenant.clone()),
            identity_provider: Some("AAD".to_owned()),
            ..Identity::default()
        });
        SimParticipant {
            id,
            key: crowd_member_key(number),
            display_name,
            identity,
            msi: self.alloc_msi(),
            audio: AudioSource::Silence,
            muted: false,
            crowd: true,
        }
    }

    /// Registers a meeting with its listed participants and its crowd; returns its index. Fails
    /// if the key exists. The spec is assumed valid ([`MeetingSpec::validate`]).
    pub(crate) fn add_meeting(
        &mut self,
        spec: &MeetingSpec,
        default_tenant: &TenantId,
    ) -> Result<usize, String> {
        let meeting = self.add_listed_meeting(spec, default_tenant)?;
        self.add_crowd(meeting, spec);
        Ok(meeting)
    }

    /// Registers a meeting with its listed participants only; [`World::add_crowd`] must follow.
    /// (Registering every scenario meeting this way first reserves every listed MSI before any
    /// crowd takes one.)
    pub(crate) fn add_listed_meeting(
        &mut self,
        spec: &MeetingSpec,
        default_tenant: &TenantId,
    ) -> Result<usize, String> {
        if self.meetings.iter().any(|m| m.key == spec.key) {
            return Err(spec.key.clone());
        }
        let tenant = spec
            .tenant_id
            .clone()
            .unwrap_or_else(|| default_tenant.clone());
        let joins = timeline_joins(spec);
        let members = spec
            .participants
            .iter()
            .map(|p| Member {
                sim: self.sim_participant(p, &tenant),
                present: !joins.contains(p.key.as_str()),
                speaking: false,
            })
            .collect();
        let uuid = Uuid::new_v4();
        let thread_id = spec.thread_id.clone().unwrap_or_else(|| {
            format!(
                "19:meeting_{}@thread.v2",
                URL_SAFE_NO_PAD.encode(uuid.to_string())
            )
        });
        let join_meeting_id = spec.join_meeting_id.clone().unwrap_or_else(|| {
            self.next_join_id += 1;
            self.next_join_id.to_string()
        });
        self.meetings.push(MeetingState {
            key: spec.key.clone(),
            subject: spec.subject.clone(),
            tenant_id: tenant,
            organizer_id: spec
                .organizer_id
                .clone()
                .unwrap_or_else(|| Uuid::new_v4().to_string()),
            organizer_name: spec.organizer_name.clone(),
            thread_id,
            join_meeting_id,
            passcode: spec
                .passcode
                .clone()
                .unwrap_or_else(|| uuid.simple().to_string()[..8].to_owned()),
            join_token: format!("sim-join-token-{}", Uuid::new_v4().simple()),
            lobby_for_guests: spec.lobby_for_guests,
            consented: spec.consented,
            roster_mode: spec.roster_mode,
            roster_batch: usize::try_from(spec.roster_batch.max(1)).unwrap_or(usize::MAX),
            members,
            timeline: spec.timeline.clone(),
            crowd_churn: spec.crowd_churn.clone(),
            timeline_started: false,
            timeline_generation: 0,
            replay_timeline: spec.replay_timeline,
            initial: Vec::new(),
            sessions: Vec::new(),
            p2p: false,
        });
        Ok(self.meetings.len() - 1)
    }

    /// Adds the spec's crowd to a meeting registered with [`World::add_listed_meeting`] and
    /// records every member's initial state (for replays).
    pub(crate) fn add_crowd(&mut self, meeting: usize, spec: &MeetingSpec) {
        let joins = timeline_joins(spec);
        let tenant = self.meetings[meeting].tenant_id.clone();
        let tag = fnv1a(spec.key.as_bytes());
        let taken: HashSet<ParticipantId> = self.meetings[meeting]
            .members
            .iter()
            .map(|m| m.sim.id.clone())
            .collect();
        let mut crowd = Vec::with_capacity(usize::try_from(spec.crowd).unwrap_or_default());
        for number in 1..=spec.crowd {
            let sim = self.crowd_member(tag, number, &tenant, &taken);
            crowd.push(Member {
                present: !joins.contains(sim.key.as_str()),
                sim,
                speaking: false,
            });
        }
        let state = &mut self.meetings[meeting];
        state.members.extend(crowd);
        state.initial = state
            .members
            .iter()
            .map(|m| (m.present, m.sim.muted))
            .collect();
    }

    /// For a replaying meeting with a finished or running timeline and no established bot call:
    /// members back to their initial state and the timeline ready to start again.
    pub(crate) fn reset_for_replay(&mut self, meeting: usize) {
        let busy = self
            .calls
            .iter()
            .any(|c| c.meeting == Some(meeting) && c.state == CallState::Established);
        let state = &mut self.meetings[meeting];
        if !state.replay_timeline || !state.timeline_started || busy {
            return;
        }
        for (member, &(present, muted)) in state.members.iter_mut().zip(&state.initial) {
            member.present = present;
            member.sim.muted = muted;
            member.speaking = false;
        }
        state.sessions.clear();
        state.timeline_started = false;
        state.timeline_generation += 1;
    }

    pub(crate) fn meeting_by_key(&self, key: &str) -> Option<usize> {
        self.meetings.iter().position(|m| m.key == key)
    }

    pub(crate) fn call(&self, id: &CallId) -> Option<usize> {
        self.calls.iter().position(|c| c.id == *id)
    }

    pub(crate) fn live_call(&self, id: &CallId) -> Option<usize> {
        self.call(id).filter(|&i| self.calls[i].is_live())
    }

    /// Present members as simulated participants.
    pub(crate) fn present_members(&self, meeting: usize) -> Vec<SimParticipant> {
        self.meetings[meeting]
            .members
            .iter()
            .filter(|m| m.present)
            .map(|m| m.sim.clone())
            .collect()
    }

    /// The roster of a call as its bot sees it.
    pub(crate) fn roster(&self, call: usize) -> Vec<Participant> {
        let entry = &self.calls[call];
        let mut roster = vec![entry.bot_participant()];
        if let Some(meeting) = entry.meeting {
            for other in &self.calls {
                if other.id != entry.id
                    && other.meeting == Some(meeting)
                    && other.state == CallState::Established
                {
                    roster.push(other.bot_participant());
                }
            }
            roster.extend(
                self.meetings[meeting]
                    .members
                    .iter()
                    .filter(|m| m.present)
                    .map(member_participant),
            );
        }
        if let Some(gallery) = &entry.large_gallery {
            roster.push(gallery.clone());
        }
        roster
    }

    /// The call resource as `GET` returns it and state notifications carry it.
    pub(crate) fn call_view(&self, call: usize) -> Call {
        let entry = &self.calls[call];
        let mut view = Call {
            id: Some(entry.id.clone()),
            state: Some(entry.state.clone()),
            direction: Some(entry.direction.clone()),
            callback_uri: Some(entry.callback_uri.clone()),
            call_chain_id: Some(entry.chain_id.clone()),
            my_participant_id: Some(entry.my_participant_id.clone()),
            tenant_id: Some(entry.tenant_id.clone()),
            result_info: entry.result_info.clone(),
            ..entry.request.clone()
        };
        if let Some(meeting) = entry.meeting.map(|m| &self.meetings[m])
            && !meeting.p2p
        {
            view.chat_info = view.chat_info.or_else(|| Some(meeting.chat_info()));
        }
        view
    }

    /// Queues notifications for a call, applying notification faults and quirks.
    pub(crate) fn enqueue(&mut self, call: usize, notifications: Vec<CommsNotification>) {
        let quirks = self.quirks;
        let Some(first_url) = notifications.first().and_then(|n| n.resource_url.clone()) else {
            return;
        };
        let mut outgoing = Outgoing {
            call_id: self.calls[call].id.clone(),
            callback_uri: self.calls[call].callback_uri.clone(),
            tenant_id: self.calls[call].tenant_id.clone(),
            chain_id: self.calls[call].chain_id.clone(),
            scenario_id: self.calls[call].scenario_id,
            body: String::new(),
            notifications: CommsNotifications {
                value: notifications,
            },
            delay: None,
            duplicate: false,
            reorder: false,
            forged: false,
        };
        for rule in self
            .faults
            .iter_mut()
            .filter(|r| r.matches_notification(&first_url))
        {
            rule.count -= 1;
            match rule.kind {
                FaultKind::NotificationDelay { delay_ms } => {
                    outgoing.delay = Some(Duration::from_millis(delay_ms))
                }
                FaultKind::NotificationDuplicate => outgoing.duplicate = true,
                FaultKind::NotificationReorder => outgoing.reorder = true,
                FaultKind::ForgedSignature => outgoing.forged = true,
                _ => {}
            }
        }
        self.faults.retain(|r| r.count > 0);
        outgoing.body = wire_body(&outgoing.notifications, quirks);
        if let Some(outbox) = &self.calls[call].outbox {
            // A closed outbox means the call's delivery task ended; nothing is left to notify.
            let _ = outbox.send(outgoing);
        }
    }

    pub(crate) fn call_notification(
        &self,
        call: usize,
        change: ChangeType,
        data: Call,
    ) -> CommsNotification {
        let entry = &self.calls[call];
        CommsNotification {
            change_type: change,
            resource_url: Some(entry.resource_url()),
            resource: None,
            callback_uri: Some(entry.callback_uri.clone()),
            resource_data: ResourceData::Call(Box::new(data)),
        }
    }

    /// Sets the state and queues an `updated` notification with the full call view.
    pub(crate) fn set_state_and_notify(&mut self, call: usize, state: CallState) {
        self.calls[call].state = state;
        let view = self.call_view(call);
        let notification = self.call_notification(call, ChangeType::Updated, view);
        self.enqueue(call, vec![notification]);
    }

    /// Queues roster notifications if the roster of an established meeting call changed: the
    /// whole roster in one notification, or (delta rosters) the changes in batches of the
    /// meeting's `roster_batch`, each with the next sequence number. Linear in the roster size.
    pub(crate) fn push_roster(&mut self, call: usize) {
        let entry = &self.calls[call];
        let Some(meeting) = entry.meeting else { return };
        let state = &self.meetings[meeting];
        if state.p2p || entry.state != CallState::Established {
            return;
        }
        let delta = entry.delta_roster || state.roster_mode == RosterMode::Delta;
        let batch = state.roster_batch.max(1);
        let now = self.roster(call);
        let entry = &mut self.calls[call];
        let data: Vec<ResourceData> = if delta {
            let changes = if entry.roster_sent {
                roster_changes(&entry.last_roster, &now)
            } else {
                now.clone()
            };
            if changes.is_empty() {
                return;
            }
            let mut batches = Vec::with_capacity(changes.len().div_ceil(batch));
            let mut changes = changes.into_iter().peekable();
            while changes.peek().is_some() {
                entry.roster_sequence += 1;
                let sequence = entry.roster_sequence;
                let participants: Vec<Participant> = changes
                    .by_ref()
                    .take(batch)
                    .map(|p| Participant {
                        roster_sequence_number: Some(sequence),
                        ..p
                    })
                    .collect();
                batches.push(ResourceData::DeltaParticipants(DeltaParticipants {
                    participants,
                    sequence_number: Some(sequence),
                }));
            }
            batches
        } else {
            if entry.roster_sent && entry.last_roster == now {
                return;
            }
            vec![ResourceData::Participants(now.clone())]
        };
        entry.last_roster = now;
        entry.roster_sent = true;
        let resource_url = format!("{}/participants", entry.resource_url());
        let callback_uri = entry.callback_uri.clone();
        for resource_data in data {
            let notification = CommsNotification {
                change_type: ChangeType::Updated,
                resource_url: Some(resource_url.clone()),
                resource: None,
                callback_uri: Some(callback_uri.clone()),
                resource_data,
            };
            self.enqueue(call, vec![notification]);
        }
    }

    /// Queues roster notifications for every established call in a meeting.
    pub(crate) fn push_meeting_rosters(&mut self, meeting: usize) {
        let calls: Vec<usize> = (0..self.calls.len())
            .filter(|&i| self.calls[i].meeting == Some(meeting))
            .collect();
        for call in calls {
            self.push_roster(call);
        }
    }

    /// Calls of a meeting whose media is attached.
    pub(crate) fn media_calls(&self, meeting: usize) -> Vec<CallId> {
        self.calls
            .iter()
            .filter(|c| c.meeting == Some(meeting) && c.media_attached && c.is_live())
            .map(|c| c.id.clone())
            .collect()
    }

    /// Queues the content-sharing notification of a meeting's session change.
    pub(crate) fn push_sharing(
        &mut self,
        meeting: usize,
        change: ChangeType,
        session: &ContentSharingSessionId,
    ) {
        let missing = self.quirks.missing_resource_data;
        let calls: Vec<usize> = (0..self.calls.len())
            .filter(|&i| {
                let c = &self.calls[i];
                c.meeting == Some(meeting)
                    && c.content_sharing_notifications
                    && c.state == CallState::Established
            })
            .collect();
        for call in calls {
            let entry = &self.calls[call];
            let notification = CommsNotification {
                change_type: change.clone(),
                resource_url: Some(format!("{}/contentsharingsessions", entry.resource_url())),
                resource: None,
                callback_uri: Some(entry.callback_uri.clone()),
                resource_data: if missing {
                    ResourceData::Absent
                } else {
                    ResourceData::ContentSharingSessions(vec![ContentSharingSession {
                        id: Some(session.clone()),
                    }])
                },
            };
            self.enqueue(call, vec![notification]);
        }
    }

    pub(crate) fn operation_notification(
        &self,
        call: usize,
        op: &CommsOperation,
    ) -> CommsNotification {
        let entry = &self.calls[call];
        let id = op.id.as_ref().map(OperationId::as_str).unwrap_or_default();
        CommsNotification {
            change_type: ChangeType::Deleted,
            resource_url: Some(format!("{}/operations/{id}", entry.resource_url())),
            resource: None,
            callback_uri: Some(entry.callback_uri.clone()),
            resource_data: ResourceData::Operation(op.clone()),
        }
    }

    pub(crate) fn call_snapshot(&self, call: usize) -> CallSnapshot {
        let entry = &self.calls[call];
        CallSnapshot {
            id: entry.id.clone(),
            state: entry.state.clone(),
            direction: entry.direction.clone(),
            call_chain_id: entry.chain_id.clone(),
            meeting: entry.meeting.map(|m| self.meetings[m].key.clone()),
            my_participant_id: entry.my_participant_id.clone(),
            bot_msi: entry.bot_msi,
            callback_uri: entry.callback_uri.clone(),
            tenant_id: entry.tenant_id.clone(),
            result_info: entry.result_info.clone(),
            roster: self.roster(call),
            routing_groups: entry.routing_groups.clone(),
            pending_operations: entry.operations.clone(),
            media_attached: entry.media_attached,
            delta_roster: entry.delta_roster,
            last_keepalive: entry.last_keepalive,
        }
    }

    /// A new participant joining a meeting at run time (invite, or a call's peer).
    pub(crate) fn add_runtime_member(
        &mut self,
        meeting: usize,
        identity: IdentitySet,
    ) -> SimParticipant {
        let display_name = identity
            .primary()
            .and_then(|i| i.display_name.clone())
            .unwrap_or_else(|| "Invited participant".to_owned());
        let id = ParticipantId::new(Uuid::new_v4().to_string());
        let sim = SimParticipant {
            key: id.to_string(),
            id,
            display_name,
            identity,
            msi: self.alloc_msi(),
            audio: AudioSource::Silence,
            muted: false,
            crowd: false,
        };
        self.meetings[meeting].members.push(Member {
            sim: sim.clone(),
            present: true,
            speaking: false,
        });
        sim
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediabot_signaling::join_url::{MeetingJoinUrl, parse_join_url};

    #[test]
    fn generated_join_urls_parse_with_the_signaling_parser() {
        let mut world = World::new(Vec::new(), Quirks::default());
        let tenant = TenantId::new("72f988bf-86f1-41af-91ab-2d7cd011db47");
        let index = world.add_meeting(&MeetingSpec::new("m"), &tenant).unwrap();
        let meeting = &world.meetings[index];
        let snapshot = meeting.snapshot();
        let parsed = parse_join_url(&snapshot.join_url).unwrap();
        assert_eq!(parsed.tenant_id(), Some(&tenant));
        assert_eq!(
            parsed.chat_info().thread_id.as_deref(),
            Some(meeting.thread_id.as_str())
        );
        let MeetingJoinUrl::MeetupJoin(link) = parsed else {
            panic!("long link expected")
        };
        assert_eq!(link.organizer_id, meeting.organizer_id);
        let short = parse_join_url(&snapshot.short_join_url).unwrap();
        let MeetingJoinUrl::Meet(link) = short else {
            panic!("short link expected")
        };
        assert_eq!(link.meeting_info().join_meeting_id, meeting.join_meeting_id);
    }

    #[test]
    fn roster_changes_are_the_new_the_different_then_the_gone() {
        let person = |id: &str, muted: bool| Participant {
            id: Some(ParticipantId::new(id)),
            is_muted: Some(muted),
            ..Participant::default()
        };
        let before = [person("a", false), person("b", false), person("c", false)];
        let now = [person("d", false), person("b", true), person("a", false)];
        let changes = roster_changes(&before, &now);
        let ids: Vec<(&str, bool)> = changes
            .iter()
            .map(|p| (p.id.as_ref().unwrap().as_str(), p.removed_state.is_some()))
            .collect();
        assert_eq!(ids, [("d", false), ("b", false), ("c", true)]);
        assert_eq!(
            changes[2].removed_state.as_ref().unwrap().reason.as_deref(),
            Some("left")
        );
        assert!(roster_changes(&now, &now).is_empty());
    }

    #[test]
    fn msis_are_unique_and_scenario_msis_are_kept() {
        let mut world = World::new(Vec::new(), Quirks::default());
        let tenant = TenantId::new("t");
        let mut spec = MeetingSpec::new("m");
        let mut a = ParticipantSpec::tone("a", "A", 440.0);
        a.msi = Some(2001);
        spec.participants.push(a);
        spec.participants
            .push(ParticipantSpec::tone("b", "B", 660.0));
        let m = world.add_meeting(&spec, &tenant).unwrap();
        let msis: Vec<u32> = world.meetings[m]
            .members
            .iter()
            .map(|m| m.sim.msi.0)
            .collect();
        assert_eq!(msis[0], 2001);
        assert_ne!(msis[1], 2001);
        let bot = world.alloc_msi();
        assert!(!msis.contains(&bot.0) && !msis.contains(&(bot.0 + 1)));
        assert!(world.add_meeting(&spec, &tenant).is_err());
    }
}
