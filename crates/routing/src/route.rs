//! Declarative routes (what the application wants heard by whom) and Graph's rules for the
//! `audioRoutingGroup`s they become.
//!
//! A [`Route`] is an *intent* with a [`RouteName`]. Given who is currently in the call, the
//! reconciler turns it into the groups Graph must hold (see the crate docs for the mapping
//! table). Every check Graph would make on a group is made here first, so invalid intent fails
//! with a [`RouteError`] naming the route and the participant instead of an HTTP 400 later.

use std::collections::HashSet;
use std::fmt;

use mediabot_signaling::models::{
    AudioRoutingGroup, AudioRoutingGroupId, ParticipantId, RoutingMode,
};

/// Longest accepted [`RouteName`], in bytes.
pub const MAX_ROUTE_NAME_LEN: usize = 48;

/// Longest accepted group-id prefix ([`ReconcilerConfig::id_prefix`](crate::ReconcilerConfig)).
pub const MAX_ID_PREFIX_LEN: usize = 16;

/// Why a route, a set of routes or a group is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// A route name is empty, too long, or has a character outside `[A-Za-z0-9_-]`.
    #[error("invalid route name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The group-id prefix is too long or has a character outside `[A-Za-z0-9_-]`.
    #[error("invalid group id prefix {prefix:?}: {reason}")]
    InvalidPrefix {
        /// The rejected prefix.
        prefix: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A participant would hear itself (it is both the source and a receiver).
    #[error("route {route}: participant {participant} is both source and receiver")]
    SourceIsReceiver {
        /// The route.
        route: String,
        /// The participant.
        participant: ParticipantId,
    },
    /// A participant is listed twice among the receivers or room members.
    #[error("route {route}: participant {participant} is listed twice")]
    DuplicateParticipant {
        /// The route.
        route: String,
        /// The participant.
        participant: ParticipantId,
    },
    /// A broadcast has no receivers.
    #[error("route {route}: a broadcast needs at least one receiver")]
    NoReceivers {
        /// The route.
        route: String,
    },
    /// A private room has fewer than two members.
    #[error("route {route}: a private room needs at least two members, got {members}")]
    RoomTooSmall {
        /// The route.
        route: String,
        /// How many distinct members it had.
        members: usize,
    },
    /// Two routes in one desired set share a name.
    #[error("route name {route} is used twice")]
    DuplicateRoute {
        /// The name.
        route: String,
    },
    /// Two groups would get the same client-chosen id (Graph requires unique ids).
    #[error("group id {id} would be used twice (routes {first} and {second})")]
    DuplicateGroupId {
        /// The id.
        id: AudioRoutingGroupId,
        /// The route that claimed it first.
        first: String,
        /// The route that claimed it again.
        second: String,
    },
    /// A route names a participant who is not in the call's roster.
    #[error("route {route}: participant {participant} is not in the call")]
    NotInRoster {
        /// The route.
        route: String,
        /// The participant.
        participant: ParticipantId,
    },
    /// Routes were set before any roster was known, so participant ids cannot be checked.
    #[error("no roster yet: routes can only be checked against the call's participants")]
    RosterUnknown,
    /// A group breaks one of Graph's rules (mode vs. number of sources/receivers, missing id…).
    #[error("group {id:?} is invalid: {reason}")]
    InvalidGroup {
        /// The group's id, if it had one.
        id: Option<AudioRoutingGroupId>,
        /// Which rule it breaks.
        reason: &'static str,
    },
}

/// `[A-Za-z0-9_-]`: safe in a URL path segment and in logs, and never GUID-shaped with a prefix.
fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The application's name for a route. It is the stable half of the route's group ids, so it
/// must be unique within a desired set and must not carry personal data (Graph logs ids).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteName(String);

impl RouteName {
    /// Checks and wraps a name: 1 to [`MAX_ROUTE_NAME_LEN`] bytes of `[A-Za-z0-9_-]`.
    pub fn new(name: impl Into<String>) -> Result<Self, RouteError> {
        let name = name.into();
        let reason = if name.is_empty() {
            Some("empty")
        } else if name.len() > MAX_ROUTE_NAME_LEN {
            Some("longer than 48 bytes")
        } else if !name.chars().all(is_id_char) {
            Some("only ASCII letters, digits, '-' and '_' are allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(RouteError::InvalidName { name, reason }),
            None => Ok(Self(name)),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RouteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a group-id prefix: at most [`MAX_ID_PREFIX_LEN`] bytes of `[A-Za-z0-9_-]`.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), RouteError> {
    let reason = if prefix.len() > MAX_ID_PREFIX_LEN {
        Some("longer than 16 bytes")
    } else if !prefix.chars().all(is_id_char) {
        Some("only ASCII letters, digits, '-' and '_' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(RouteError::InvalidPrefix {
            prefix: prefix.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The shape of a route's intent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteShape {
    /// `source` is heard by `receiver` alone: one `oneToOne` group.
    Whisper {
        /// Who speaks (usually the bot).
        source: ParticipantId,
        /// Who hears.
        receiver: ParticipantId,
    },
    /// `source` is heard by every receiver: one `multicast` group.
    Broadcast {
        /// Who speaks.
        source: ParticipantId,
        /// Who hears, in the order they were given.
        receivers: Vec<ParticipantId>,
    },
    /// Every member hears every other member: one `multicast` group per member as its source.
    Room {
        /// The members, in the order they were given.
        members: Vec<ParticipantId>,
    },
}

/// One declared route: a name and an intent. Build it with [`Route::whisper`],
/// [`Route::broadcast`] or [`Route::private_room`]; each checks the intent's own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    name: RouteName,
    shape: RouteShape,
}

/// One group a route needs Graph to hold, as the reconciler compares and sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetGroup {
    pub(crate) id: AudioRoutingGroupId,
    pub(crate) route: RouteName,
    pub(crate) mode: RoutingMode,
    pub(crate) source: ParticipantId,
    pub(crate) receivers: Vec<ParticipantId>,
}

impl TargetGroup {
    /// The body Graph gets on create and update (the whole object, as in the docs' PATCH example).
    pub(crate) fn to_group(&self) -> AudioRoutingGroup {
        AudioRoutingGroup {
            id: Some(self.id.clone()),
            routing_mode: Some(self.mode.clone()),
            sources: vec![self.source.clone()],
            receivers: self.receivers.clone(),
        }
    }

    /// True when Graph's group already is this target (receivers compared as a set).
    pub(crate) fn matches(&self, observed: &AudioRoutingGroup) -> bool {
        observed.routing_mode.as_ref() == Some(&self.mode)
            && observed.sources.len() == 1
            && observed.sources[0] == self.source
            && same_set(&observed.receivers, &self.receivers)
    }

    /// True when nobody outside this target hears its source through `observed`: same source and
    /// mode, receivers a subset of the target's.
    pub(crate) fn is_safe_subset(&self, observed: &AudioRoutingGroup) -> bool {
        observed.routing_mode.as_ref() == Some(&self.mode)
            && observed.sources.len() == 1
            && observed.sources[0] == self.source
            && observed
                .receivers
                .iter()
                .all(|r| self.receivers.contains(r))
    }
}

/// Set equality of participant lists (Graph may reorder; ids compare GUID-aware).
fn same_set(a: &[ParticipantId], b: &[ParticipantId]) -> bool {
    let a: HashSet<&ParticipantId> = a.iter().collect();
    let b: HashSet<&ParticipantId> = b.iter().collect();
    a == b
}

/// Rejects a participant listed twice.
fn check_distinct(route: &RouteName, ids: &[ParticipantId]) -> Result<(), RouteError> {
    let mut seen = HashSet::with_capacity(ids.len());
    for id in ids {
        if !seen.insert(id) {
            return Err(RouteError::DuplicateParticipant {
                route: route.to_string(),
                participant: id.clone(),
            });
        }
    }
    Ok(())
}

/// FNV-1a 64 of a participant id in a canonical spelling (GUIDs lower-case, without hyphens
/// or braces), so that both of Graph's spellings of one participant give the same group id.
fn participant_hash(id: &ParticipantId) -> u64 {
    let canonical: String = if id.is_guid() {
        id.as_str()
            .chars()
            .filter(char::is_ascii_hexdigit)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    } else {
        id.as_str().to_owned()
    };
    canonical
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

impl Route {
    /// `source` speaks to `receiver` alone (`oneToOne`). "Whisper to X" is
    /// `Route::whisper(name, bot, x)`.
    pub fn whisper(
        name: RouteName,
        source: ParticipantId,
        receiver: ParticipantId,
    ) -> Result<Self, RouteError> {
        if source == receiver {
            return Err(RouteError::SourceIsReceiver {
                route: name.to_string(),
                participant: source,
            });
        }
        Ok(Self {
            name,
            shape: RouteShape::Whisper { source, receiver },
        })
    }

    /// `source` speaks to every receiver (`multicast`). A broadcast keeps its `multicast` mode
    /// even when pruning leaves one receiver: Graph lets a multicast group's receivers be updated,
    /// and switching modes would cost a delete and a create.
    pub fn broadcast(
        name: RouteName,
        source: ParticipantId,
        receivers: Vec<ParticipantId>,
    ) -> Result<Self, RouteError> {
        if receivers.is_empty() {
            return Err(RouteError::NoReceivers {
                route: name.to_string(),
            });
        }
        check_distinct(&name, &receivers)?;
        if receivers.contains(&source) {
            return Err(RouteError::SourceIsReceiver {
                route: name.to_string(),
                participant: source,
            });
        }
        Ok(Self {
            name,
            shape: RouteShape::Broadcast { source, receivers },
        })
    }

    /// Every member hears every other member: one `multicast` group per member, with that member
    /// as its single source and the others as receivers. "A private room of A, B and the bot" is
    /// `Route::private_room(name, vec![a, b, bot])` and becomes three groups.
    pub fn private_room(name: RouteName, members: Vec<ParticipantId>) -> Result<Self, RouteError> {
        check_distinct(&name, &members)?;
        if members.len() < 2 {
            return Err(RouteError::RoomTooSmall {
                route: name.to_string(),
                members: members.len(),
            });
        }
        Ok(Self {
            name,
            shape: RouteShape::Room { members },
        })
    }

    /// The route's name.
    pub fn name(&self) -> &RouteName {
        &self.name
    }

    /// The route's intent.
    pub fn shape(&self) -> &RouteShape {
        &self.shape
    }

    /// Every participant the route names (sources first).
    pub fn participants(&self) -> Vec<&ParticipantId> {
        match &self.shape {
            RouteShape::Whisper { source, receiver } => vec![source, receiver],
            RouteShape::Broadcast { source, receivers } => {
                std::iter::once(source).chain(receivers).collect()
            }
            RouteShape::Room { members } => members.iter().collect(),
        }
    }

    /// True when the route names `participant` (as source, receiver or member); unlike
    /// [`Route::participants`] it allocates nothing.
    pub(crate) fn names(&self, participant: &ParticipantId) -> bool {
        match &self.shape {
            RouteShape::Whisper { source, receiver } => {
                source == participant || receiver == participant
            }
            RouteShape::Broadcast { source, receivers } => {
                source == participant || receivers.contains(participant)
            }
            RouteShape::Room { members } => members.contains(participant),
        }
    }

    /// True when `participant` is a source of one of the route's groups.
    pub fn is_source(&self, participant: &ParticipantId) -> bool {
        match &self.shape {
            RouteShape::Whisper { source, .. } | RouteShape::Broadcast { source, .. } => {
                source == participant
            }
            RouteShape::Room { members } => members.contains(participant),
        }
    }

    /// The id of the group this route uses with `source` as its source: `{prefix}{name}` for a
    /// whisper or broadcast, `{prefix}{name}.{hash}` for a room member (12 hex digits of FNV-1a
    /// over the member's id, so adding or removing other members never renames a group).
    pub fn group_id(&self, prefix: &str, source: &ParticipantId) -> AudioRoutingGroupId {
        match &self.shape {
            RouteShape::Whisper { .. } | RouteShape::Broadcast { .. } => {
                AudioRoutingGroupId::new(format!("{prefix}{}", self.name))
            }
            RouteShape::Room { .. } => AudioRoutingGroupId::new(format!(
                "{prefix}{}.{:012x}",
                self.name,
                participant_hash(source) >> 16
            )),
        }
    }

    /// Every group id the route can ever use (one per possible source), to check uniqueness.
    pub(crate) fn all_group_ids(&self, prefix: &str) -> Vec<AudioRoutingGroupId> {
        match &self.shape {
            RouteShape::Whisper { source, .. } | RouteShape::Broadcast { source, .. } => {
                vec![self.group_id(prefix, source)]
            }
            RouteShape::Room { members } => {
                members.iter().map(|m| self.group_id(prefix, m)).collect()
            }
        }
    }

    /// The groups Graph must hold for this route while exactly the participants for which
    /// `present` is true are in the call: receivers who left are pruned, a group whose source
    /// left or whose receivers all left is not wanted at all.
    pub(crate) fn groups(
        &self,
        prefix: &str,
        present: impl Fn(&ParticipantId) -> bool,
    ) -> Vec<TargetGroup> {
        let target = |mode: RoutingMode, source: &ParticipantId, receivers: Vec<ParticipantId>| {
            TargetGroup {
                id: self.group_id(prefix, source),
                route: self.name.clone(),
                mode,
                source: source.clone(),
                receivers,
            }
        };
        match &self.shape {
            RouteShape::Whisper { source, receiver } => {
                if present(source) && present(receiver) {
                    vec![target(
                        RoutingMode::OneToOne,
                        source,
                        vec![receiver.clone()],
                    )]
                } else {
                    Vec::new()
                }
            }
            RouteShape::Broadcast { source, receivers } => {
                let receivers: Vec<ParticipantId> =
                    receivers.iter().filter(|r| present(r)).cloned().collect();
                if present(source) && !receivers.is_empty() {
                    vec![target(RoutingMode::Multicast, source, receivers)]
                } else {
                    Vec::new()
                }
            }
            RouteShape::Room { members } => {
                let here: Vec<&ParticipantId> = members.iter().filter(|m| present(m)).collect();
                if here.len() < 2 {
                    return Vec::new();
                }
                here.iter()
                    .map(|source| {
                        let receivers = here
                            .iter()
                            .filter(|m| *m != source)
                            .map(|m| (*m).clone())
                            .collect();
                        target(RoutingMode::Multicast, source, receivers)
                    })
                    .collect()
            }
        }
    }
}

/// Checks a group against Graph's rules: an id of `[A-Za-z0-9_.-]`, a known mode, exactly one
/// source, one receiver for `oneToOne` and at least one for `multicast`, no receiver twice, the
/// source not among its receivers. Every group the reconciler sends passes; groups observed from
/// Graph are compared, never rejected (the docs' own get example breaks the `oneToOne` rule).
pub fn validate_group(group: &AudioRoutingGroup) -> Result<(), RouteError> {
    let fail = |reason| {
        Err(RouteError::InvalidGroup {
            id: group.id.clone(),
            reason,
        })
    };
    let Some(id) = &group.id else {
        return fail("no id (the client chooses it)");
    };
    if id.as_str().is_empty() || !id.as_str().chars().all(|c| is_id_char(c) || c == '.') {
        return fail("the id must be non-empty [A-Za-z0-9_.-]");
    }
    if group.sources.len() != 1 {
        return fail("a group has exactly one source");
    }
    let unique: HashSet<&ParticipantId> = group.receivers.iter().collect();
    if unique.len() != group.receivers.len() {
        return fail("a receiver is listed twice");
    }
    if group.receivers.contains(&group.sources[0]) {
        return fail("the source is also a receiver");
    }
    match &group.routing_mode {
        Some(RoutingMode::OneToOne) if group.receivers.len() != 1 => {
            fail("oneToOne has exactly one receiver")
        }
        Some(RoutingMode::Multicast) if group.receivers.is_empty() => {
            fail("multicast has at least one receiver")
        }
        Some(RoutingMode::OneToOne | RoutingMode::Multicast) => Ok(()),
        Some(RoutingMode::Unknown(_)) | None => fail("routingMode must be oneToOne or multicast"),
    }
}
