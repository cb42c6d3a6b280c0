//! The roster of one call: participants by id and the MSI → participant map (reference §6.2, §8.4).
//!
//! Two kinds of input feed it:
//! * **Full snapshots** (`updated` notifications on `…/participants`, or a `GET …/participants`):
//!   the new list replaces the old one; whoever is missing has left.
//! * **Delta rosters** (beta, `callOptions.isDeltaRosterEnabled`): `deltaParticipants` with a
//!   `sequenceNumber`; a participant with `removedState` has left, any other is added or replaced.
//!   Deltas are applied strictly in sequence order: stale and duplicate numbers are dropped, a delta
//!   that arrives early waits (up to [`MAX_PENDING_DELTAS`]) for the missing ones, and a gap is
//!   reported once as [`CallEvent::RosterGap`] so the application can ask for a full snapshot
//!   ([`Call::refresh_roster`](super::Call::refresh_roster)), which resynchronises the sequence.
//!
//! The MSI map holds the `sourceId` of every **audio** stream of every participant that is not in
//! the lobby; `0xFFFFFFFF` ([`Msi::NONE`]) and unparsable ids are never mapped. It is rebuilt after
//! every change and each difference is reported as [`CallEvent::MsiMapped`] /
//! [`CallEvent::MsiUnmapped`], so media that arrived before its roster entry can be bound late.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};

use crate::models::{MediaDirection, Modality, Msi, Participant, ParticipantId};

use super::CallEvent;

/// How many out-of-order deltas are held while waiting for a missing sequence number. Beyond this
/// the held deltas are applied in order and the sequence jumps over the gap (bounded memory wins
/// over strict order; the gap was already reported).
pub const MAX_PENDING_DELTAS: usize = 64;

/// Participants of a call, the MSI → participant map and the delta-roster sequence state.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    participants: HashMap<ParticipantId, Participant>,
    msi_map: BTreeMap<Msi, ParticipantId>,
    last_sequence: Option<i64>,
    pending: BTreeMap<i64, Vec<Participant>>,
    reported_gap: Option<i64>,
    dropped_deltas: u64,
}

impl Roster {
    /// An empty roster.
    pub fn new() -> Self {
        Self::default()
    }

    /// The participant with this id.
    pub fn participant(&self, id: &ParticipantId) -> Option<&Participant> {
        self.participants.get(id)
    }

    /// All participants (lobby included), in no particular order.
    pub fn participants(&self) -> impl Iterator<Item = &Participant> {
        self.participants.values()
    }

    /// Number of participants (lobby included).
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    /// True when nobody is in the roster.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// Who sends audio with this MSI; `None` for unknown MSIs, lobby participants and [`Msi::NONE`].
    pub fn participant_for_msi(&self, msi: Msi) -> Option<&ParticipantId> {
        self.msi_map.get(&msi)
    }

    /// The whole MSI → participant map, ordered by MSI.
    pub fn msi_map(&self) -> impl Iterator<Item = (Msi, &ParticipantId)> {
        self.msi_map.iter().map(|(msi, id)| (*msi, id))
    }

    /// The last delta-roster sequence number applied, if any.
    pub fn last_sequence_number(&self) -> Option<i64> {
        self.last_sequence
    }

    /// How many deltas were dropped as stale or duplicate.
    pub fn dropped_deltas(&self) -> u64 {
        self.dropped_deltas
    }

    /// Replaces the roster with a full snapshot.
    pub(crate) fn apply_snapshot(
        &mut self,
        snapshot: Vec<Participant>,
        events: &mut Vec<CallEvent>,
    ) {
        let snapshot_sequence = snapshot
            .iter()
            .filter_map(|p| p.roster_sequence_number)
            .max();
        let mut next: HashMap<ParticipantId, Participant> = HashMap::with_capacity(snapshot.len());
        let mut order = Vec::with_capacity(snapshot.len());
        for participant in snapshot {
            let Some(id) = participant.id.clone() else {
                continue;
            };
            if next.insert(id.clone(), participant).is_none() {
                order.push(id);
            }
        }
        let mut gone: Vec<ParticipantId> = self
            .participants
            .keys()
            .filter(|id| !next.contains_key(*id))
            .cloned()
            .collect();
        gone.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        for id in gone {
            self.participants.remove(&id);
            events.push(CallEvent::ParticipantLeft {
                participant: id,
                reason: None,
            });
        }
        for id in order {
            if let Some(participant) = next.remove(&id) {
                self.upsert(participant, events);
            }
        }
        // A snapshot resynchronises the delta sequence.
        match snapshot_sequence {
            Some(sequence) => {
                if self.last_sequence.is_none_or(|last| sequence > last) {
                    self.last_sequence = Some(sequence);
                }
                let last = sequence;
                self.pending.retain(|&seq, _| seq > last);
            }
            None => {
                // Without sequence numbers the snapshot (fetched after the held deltas arrived)
                // is taken to include them.
                if let Some((&newest, _)) = self.pending.last_key_value() {
                    self.last_sequence = Some(newest);
                    self.pending.clear();
                }
            }
        }
        self.reported_gap = None;
        self.drain_pending(events);
        self.rebuild_msi_map(events);
    }

    /// Adds or replaces individual participants (a `created` roster notification, or one on
    /// `…/participants/{id}`).
    pub(crate) fn apply_upserts(&mut self, list: Vec<Participant>, events: &mut Vec<CallEvent>) {
        for participant in list {
            if participant.removed_state.is_some() {
                self.remove(participant, events);
            } else {
                self.upsert(participant, events);
            }
        }
        self.rebuild_msi_map(events);
    }

    /// Removes individual participants (a `deleted` roster notification).
    pub(crate) fn apply_removals(&mut self, list: Vec<Participant>, events: &mut Vec<CallEvent>) {
        for participant in list {
            self.remove(participant, events);
        }
        self.rebuild_msi_map(events);
    }

    /// Applies a delta roster in sequence order.
    pub(crate) fn apply_delta(
        &mut self,
        sequence: Option<i64>,
        changes: Vec<Participant>,
        events: &mut Vec<CallEvent>,
    ) {
        let Some(sequence) = sequence else {
            // No ordering information: apply as it comes.
            self.apply_upserts(changes, events);
            return;
        };
        if self.last_sequence.is_some_and(|last| sequence <= last)
            || self.pending.contains_key(&sequence)
        {
            self.dropped_deltas += 1;
            return;
        }
        self.pending.insert(sequence, changes);
        self.drain_pending(events);
        if self.pending.len() > MAX_PENDING_DELTAS {
            // Give up waiting: apply what is held, in order, jumping over the gap.
            for (seq, changes) in std::mem::take(&mut self.pending) {
                self.apply_changes(changes, events);
                self.last_sequence = Some(seq);
            }
            self.reported_gap = None;
        }
        self.rebuild_msi_map(events);
    }

    fn drain_pending(&mut self, events: &mut Vec<CallEvent>) {
        loop {
            let next = match self.last_sequence {
                Some(last) => last.saturating_add(1),
                None => match self.pending.first_key_value() {
                    Some((&first, _)) => first,
                    None => return,
                },
            };
            let Some(changes) = self.pending.remove(&next) else {
                break;
            };
            self.apply_changes(changes, events);
            self.last_sequence = Some(next);
        }
        if let (Some(last), Some((&newest, _))) =
            (self.last_sequence, self.pending.last_key_value())
        {
            let expected = last.saturating_add(1);
            if self.reported_gap != Some(expected) {
                self.reported_gap = Some(expected);
                events.push(CallEvent::RosterGap {
                    expected,
                    received: newest,
                });
            }
        }
    }

    fn apply_changes(&mut self, changes: Vec<Participant>, events: &mut Vec<CallEvent>) {
        for participant in changes {
            if participant.removed_state.is_some() {
                self.remove(participant, events);
            } else {
                self.upsert(participant, events);
            }
        }
    }

    fn remove(&mut self, participant: Participant, events: &mut Vec<CallEvent>) {
        let Some(id) = participant.id else {
            return;
        };
        if self.participants.remove(&id).is_some() {
            events.push(CallEvent::ParticipantLeft {
                participant: id,
                reason: participant.removed_state.and_then(|r| r.reason),
            });
        }
    }

    fn upsert(&mut self, participant: Participant, events: &mut Vec<CallEvent>) {
        let Some(id) = participant.id.clone() else {
            return;
        };
        match self.participants.get(&id) {
            None => {
                events.push(CallEvent::ParticipantJoined {
                    participant: id.clone(),
                    in_lobby: participant.in_lobby(),
                    muted: participant.muted(),
                    can_speak: can_speak(&participant),
                });
            }
            Some(old) => {
                if old.in_lobby() && !participant.in_lobby() {
                    events.push(CallEvent::ParticipantAdmitted {
                        participant: id.clone(),
                    });
                }
                match (old.muted(), participant.muted()) {
                    (false, true) => events.push(CallEvent::ParticipantMuted {
                        participant: id.clone(),
                    }),
                    (true, false) => events.push(CallEvent::ParticipantUnmuted {
                        participant: id.clone(),
                    }),
                    _ => {}
                }
                let (before, after) = (can_speak(old), can_speak(&participant));
                if before != after {
                    events.push(CallEvent::SpeakingCapabilityChanged {
                        participant: id.clone(),
                        can_speak: after,
                    });
                }
            }
        }
        self.participants.insert(id, participant);
    }

    fn rebuild_msi_map(&mut self, events: &mut Vec<CallEvent>) {
        // Deterministic when two participants claim one MSI (a stale entry): the current owner
        // keeps it, otherwise the smallest participant id wins.
        let mut ids: Vec<&ParticipantId> = self.participants.keys().collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let mut next: BTreeMap<Msi, ParticipantId> = BTreeMap::new();
        for id in ids {
            let Some(participant) = self.participants.get(id) else {
                continue;
            };
            if participant.in_lobby() {
                continue;
            }
            for msi in audio_msis(participant) {
                let owner = self.msi_map.get(&msi) == Some(id);
                match next.entry(msi) {
                    Entry::Vacant(slot) => {
                        slot.insert(id.clone());
                    }
                    Entry::Occupied(mut slot) if owner => {
                        slot.insert(id.clone());
                    }
                    Entry::Occupied(_) => {}
                }
            }
        }
        for msi in self.msi_map.keys() {
            if !next.contains_key(msi) {
                events.push(CallEvent::MsiUnmapped { msi: *msi });
            }
        }
        for (msi, id) in &next {
            if self.msi_map.get(msi) != Some(id) {
                events.push(CallEvent::MsiMapped {
                    msi: *msi,
                    participant: id.clone(),
                });
            }
        }
        self.msi_map = next;
    }
}

/// The valid MSIs of a participant's audio streams.
fn audio_msis(participant: &Participant) -> impl Iterator<Item = Msi> + '_ {
    participant
        .media_streams
        .iter()
        .filter(|s| s.media_type == Some(Modality::Audio))
        .filter_map(|s| s.msi())
}

/// Whether a participant may currently be heard: admitted from the lobby, with an audio stream
/// that sends (`sendOnly`/`sendReceive`, or no direction given) and is not server-muted.
/// Self-mute (`isMuted`) is a separate, reversible choice and does not count.
pub fn can_speak(participant: &Participant) -> bool {
    !participant.in_lobby()
        && participant.media_streams.iter().any(|stream| {
            stream.media_type == Some(Modality::Audio)
                && !stream.server_muted.unwrap_or(false)
                && matches!(
                    stream.direction,
                    None | Some(MediaDirection::SendOnly | MediaDirection::SendReceive)
                )
        })
}
