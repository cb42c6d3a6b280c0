//! Scenario files: meetings, their virtual participants and timelines, faults and quirks (TOML).
//!
//! ```toml
//! name = "stand-up"
//!
//! [[meetings]]
//! key = "standup"                      # how tests and the timeline name the meeting
//! subject = "Daily stand-up"
//! tenant_id = "1fdd12d0-…"              # default: SimConfig::tenant_id
//! organizer = { name = "Olivia", id = "5810cede-…" }   # id default: generated
//! thread_id = "19:meeting_…@thread.v2"  # default: generated
//! join_meeting_id = "3131000001"        # default: generated (digits)
//! passcode = "sim123"                   # default: generated
//! lobby_for_guests = false              # a bot joining with a guest identity waits in the lobby
//! consented = true                      # false: joins are refused with 403 / 7504
//! replay_timeline = false               # true: a bot joining an empty meeting restarts it from the top
//! crowd = 1200                          # generated silent attendees besides the listed ones (≤ 10000)
//! roster_mode = "snapshot"              # snapshot | delta (how roster changes reach the bot)
//! roster_batch = 100                    # delta mode: participants per deltaParticipants notification
//!
//! [[meetings.participants]]
//! key = "alice"                         # unique in the meeting; the timeline's `who`
//! name = "Alice"
//! kind = "user"                         # user | guest | phone
//! tone_hz = 440.0                       # or: wav = "audio/alice.wav" (relative to this file)
//! amplitude = 0.3                       # tone peak, 0–1 (default 0.3)
//! msi = 1001                            # default: allocated
//! id = "…"                              # participant id; default: generated
//! user_id = "…"                         # AAD object id; default: generated
//! muted = false
//!
//! [[meetings.timeline]]
//! at_ms = 1000                          # after the first bot call to the meeting is established
//! who = "alice"
//! action = "join"                       # join | leave | speak_start | speak_stop | mute | unmute | share_start | share_stop
//!
//! [[meetings.crowd_churn]]              # needs a crowd; one roster change per entry
//! at_ms = 5000                          # same clock as the timeline
//! leave = 100                           # the lowest-numbered present attendees leave…
//! join = 40                             # …and the lowest-numbered absent ones (from before) join
//!
//! [[faults]]
//! kind = "throttle"                     # throttle | server_error | forbidden_7504 | notification_delay |
//!                                       # notification_duplicate | notification_reorder | forged_signature
//! retry_after_secs = 0.05               # throttle, server_error (optional)
//! status = 503                          # server_error
//! delay_ms = 200                        # notification_delay
//! count = 1
//! method = "POST"                       # requests only; optional
//! path_contains = "/communications/calls"   # optional
//!
//! [quirks]                              # see Quirks; all default to false
//! string_codes = true
//! ```
//!
//! A participant with a `join` entry in the timeline is absent until then; the others are present
//! from the start.
//!
//! # Crowds
//! `crowd = N` adds N generated attendees to the meeting, present from the start: display names
//! `Attendee 0001`…, keys `attendee-0001`… ([`crowd_member_key`]), identity kind `user`, and
//! participant ids and user ids that are GUID-shaped and derived from the meeting key and the
//! number, so a scenario always produces the same ones. Their MSIs are allocated after every listed
//! participant's has been reserved, so they never collide. They have no audio
//! ([`AudioSource::Silence`]) and are flagged [`SimParticipant::crowd`](crate::SimParticipant::crowd):
//! the simulated media processor plans no stream for them and keeps only counters of what they
//! hear. The timeline may name a crowd key like any participant; `crowd_churn` moves many at once.
//!
//! # Roster modes
//! * `snapshot` (default): every roster change is one `updated` notification on
//!   `…/participants` carrying the whole list (Graph v1.0). A bot call created or answered with
//!   `callOptions.isDeltaRosterEnabled` still gets delta rosters, as from Graph.
//! * `delta`: every bot call in the meeting gets beta delta rosters (`deltaParticipants` with a
//!   `sequenceNumber`), whether or not it asked — a simulator switch to exercise a bot's delta
//!   path; Graph only sends deltas to calls that ask. The first roster carries everyone.
//!
//! Delta rosters (either way) go out in batches of at most `roster_batch` participants, one
//! notification and one callback post per batch, each with the next sequence number.
//!
//! A snapshot costs about 670 bytes of JSON per participant: 1,200 participants make a body of
//! about 0.8 MB, 5,000 about 3.4 MB, 10,000 about 6.7 MB — more than the 4 MiB a
//! `mediabot_signaling` webhook accepts by default. Delta batches of 100 are about 70 KB each.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use mediabot_signaling::models::{ParticipantId, TenantId};

use crate::error::SimError;
use crate::faults::{FaultKind, FaultRule, Quirks};
use crate::media_seam::AudioSource;

/// The default scenario shipped with the crate (`scenarios/default.toml`).
pub const DEFAULT_SCENARIO_TOML: &str = include_str!("../scenarios/default.toml");

/// Default tone amplitude.
const DEFAULT_AMPLITUDE: f64 = 0.3;

/// The largest `crowd` a meeting may declare.
pub const MAX_CROWD: u32 = 10_000;

/// Default `roster_batch`: participants per delta-roster notification.
pub const DEFAULT_ROSTER_BATCH: u32 = 100;

/// The key of crowd member `number` (1-based): `attendee-0001`, …, `attendee-10000`.
pub fn crowd_member_key(number: u32) -> String {
    format!("attendee-{number:04}")
}

/// The display name of crowd member `number` (1-based): `Attendee 0001`, ….
pub fn crowd_member_name(number: u32) -> String {
    format!("Attendee {number:04}")
}

/// The crowd member number a key names, if it names one of a crowd of `crowd`.
pub(crate) fn crowd_member_number(key: &str, crowd: u32) -> Option<u32> {
    let number: u32 = key.strip_prefix("attendee-")?.parse().ok()?;
    ((1..=crowd).contains(&number) && crowd_member_key(number) == key).then_some(number)
}

/// A parsed, validated scenario.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scenario {
    /// Free-form name.
    pub name: String,
    /// Meetings known to the simulator at start.
    pub meetings: Vec<MeetingSpec>,
    /// Faults armed at start.
    pub faults: Vec<FaultRule>,
    /// Wire quirks.
    pub quirks: Quirks,
}

/// How a virtual participant is identified in the roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IdentityKind {
    /// A Teams/AAD user (`identity.user`).
    #[default]
    User,
    /// An anonymous guest (`identity.guest`).
    Guest,
    /// A PSTN caller (`identity.phone`, id = an E.164 number).
    Phone,
}

/// How roster changes reach the bot's calls in a meeting (see the [module docs](self#roster-modes)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RosterMode {
    /// The whole roster in one `updated` notification on `…/participants`; delta rosters only for
    /// calls that set `callOptions.isDeltaRosterEnabled`.
    #[default]
    Snapshot,
    /// Delta rosters (`deltaParticipants`) for every bot call, in batches of `roster_batch`.
    Delta,
}

/// A bulk change of a meeting's crowd: one roster update (see [`MeetingSpec::crowd_churn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrowdChurn {
    /// Offset from the timeline start.
    pub at: Duration,
    /// How many present crowd members leave (the lowest-numbered ones).
    pub leave: u32,
    /// How many crowd members absent before this change join (the lowest-numbered ones).
    pub join: u32,
}

/// A meeting the bot can join.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingSpec {
    /// Name used by tests and the handle.
    pub key: String,
    /// Subject.
    pub subject: Option<String>,
    /// Meeting tenant; the simulator's default tenant when `None`.
    pub tenant_id: Option<TenantId>,
    /// Organizer's AAD object id; generated when `None`.
    pub organizer_id: Option<String>,
    /// Organizer's display name.
    pub organizer_name: String,
    /// `chatInfo.threadId`; generated (`19:meeting_…@thread.v2`) when `None`.
    pub thread_id: Option<String>,
    /// Numeric join meeting id; generated when `None`.
    pub join_meeting_id: Option<String>,
    /// Passcode for `joinMeetingIdMeetingInfo`; generated when `None`.
    pub passcode: Option<String>,
    /// A bot joining with a `guest` source identity waits in the lobby first.
    pub lobby_for_guests: bool,
    /// `false`: every join is refused with `403`/`7504` (no admin consent in that tenant).
    pub consented: bool,
    /// When a bot call is established while no other bot is in the meeting, reset the participants
    /// to their initial state and play the timeline again (handy for repeated demo runs).
    pub replay_timeline: bool,
    /// Virtual participants.
    pub participants: Vec<ParticipantSpec>,
    /// Generated silent attendees besides `participants` (at most [`MAX_CROWD`]; see the
    /// [module docs](self#crowds)).
    pub crowd: u32,
    /// How roster changes reach the bot.
    pub roster_mode: RosterMode,
    /// Participants per delta-roster notification (at least 1).
    pub roster_batch: u32,
    /// What happens when, relative to the first bot call being established.
    pub timeline: Vec<TimelineEntry>,
    /// Bulk crowd changes on the timeline's clock (needs a `crowd`).
    pub crowd_churn: Vec<CrowdChurn>,
}

impl MeetingSpec {
    /// A consented meeting with no participants and generated ids.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            subject: None,
            tenant_id: None,
            organizer_id: None,
            organizer_name: "Organizer".to_owned(),
            thread_id: None,
            join_meeting_id: None,
            passcode: None,
            lobby_for_guests: false,
            consented: true,
            replay_timeline: false,
            participants: Vec::new(),
            crowd: 0,
            roster_mode: RosterMode::Snapshot,
            roster_batch: DEFAULT_ROSTER_BATCH,
            timeline: Vec::new(),
            crowd_churn: Vec::new(),
        }
    }

    /// Sets the number of generated attendees.
    pub fn with_crowd(mut self, crowd: u32) -> Self {
        self.crowd = crowd;
        self
    }

    /// Sets how roster changes reach the bot.
    pub fn with_roster_mode(mut self, mode: RosterMode) -> Self {
        self.roster_mode = mode;
        self
    }

    /// Checks what the type cannot: the crowd limit, the batch size, that timeline entries and
    /// churn name participants the meeting has, and that listed keys stay clear of the crowd's.
    /// Scenario files are checked when parsed; meetings built in code when they are registered.
    pub fn validate(&self) -> Result<(), SimError> {
        let key = &self.key;
        if self.crowd > MAX_CROWD {
            return Err(invalid(format!(
                "meeting {key:?}: crowd = {} is more than the simulator's limit of {MAX_CROWD} generated participants",
                self.crowd
            )));
        }
        if self.roster_batch == 0 {
            return Err(invalid(format!(
                "meeting {key:?}: roster_batch must be at least 1"
            )));
        }
        for (at, p) in self.participants.iter().enumerate() {
            if self.participants[..at].iter().any(|q| q.key == p.key) {
                return Err(invalid(format!(
                    "participant key {:?} is used twice in meeting {key:?}",
                    p.key
                )));
            }
            if crowd_member_number(&p.key, self.crowd).is_some() {
                return Err(invalid(format!(
                    "meeting {key:?}: participant key {:?} is taken by the crowd",
                    p.key
                )));
            }
        }
        for entry in &self.timeline {
            if !self.participants.iter().any(|p| p.key == entry.participant)
                && crowd_member_number(&entry.participant, self.crowd).is_none()
            {
                return Err(invalid(format!(
                    "timeline of meeting {key:?} names unknown participant {:?}",
                    entry.participant
                )));
            }
        }
        for churn in &self.crowd_churn {
            if churn.leave > self.crowd || churn.join > self.crowd {
                return Err(invalid(format!(
                    "meeting {key:?}: crowd_churn at {} ms moves more than its crowd of {}",
                    churn.at.as_millis(),
                    self.crowd
                )));
            }
        }
        Ok(())
    }

    /// Adds a participant.
    pub fn with_participant(mut self, participant: ParticipantSpec) -> Self {
        self.participants.push(participant);
        self
    }

    /// Adds a timeline entry.
    pub fn at(mut self, at_ms: u64, who: impl Into<String>, action: TimelineAction) -> Self {
        self.timeline.push(TimelineEntry {
            at: Duration::from_millis(at_ms),
            participant: who.into(),
            action,
        });
        self
    }
}

/// A virtual participant.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantSpec {
    /// Unique key within the meeting (`alice`).
    pub key: String,
    /// Display name.
    pub display_name: String,
    /// Roster participant id; generated when `None`.
    pub id: Option<ParticipantId>,
    /// AAD object id (or E.164 number for phones); generated when `None`.
    pub user_id: Option<String>,
    /// Identity kind.
    pub kind: IdentityKind,
    /// Audio MSI; allocated when `None`.
    pub msi: Option<u32>,
    /// What the participant sends when speaking.
    pub audio: AudioSource,
    /// Muted at start.
    pub muted: bool,
}

impl ParticipantSpec {
    /// A user with a tone.
    pub fn tone(key: impl Into<String>, display_name: impl Into<String>, hz: f64) -> Self {
        Self {
            key: key.into(),
            display_name: display_name.into(),
            id: None,
            user_id: None,
            kind: IdentityKind::User,
            msi: None,
            audio: AudioSource::Tone {
                hz,
                amplitude: DEFAULT_AMPLITUDE,
            },
            muted: false,
        }
    }
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// Offset from the timeline start.
    pub at: Duration,
    /// Participant key.
    pub participant: String,
    /// What happens.
    pub action: TimelineAction,
}

/// What a timeline entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TimelineAction {
    /// Enters the meeting (roster update).
    Join,
    /// Leaves the meeting (roster update).
    Leave,
    /// Starts speaking (media only).
    SpeakStart,
    /// Stops speaking (media only).
    SpeakStop,
    /// Mutes (roster update, media stops).
    Mute,
    /// Unmutes (roster update).
    Unmute,
    /// Starts sharing content (content-sharing notification when enabled).
    ShareStart,
    /// Stops sharing content.
    ShareStop,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    name: String,
    #[serde(default)]
    meetings: Vec<RawMeeting>,
    #[serde(default)]
    faults: Vec<RawFault>,
    #[serde(default)]
    quirks: Quirks,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeeting {
    key: String,
    subject: Option<String>,
    tenant_id: Option<TenantId>,
    #[serde(default)]
    organizer: RawOrganizer,
    thread_id: Option<String>,
    join_meeting_id: Option<String>,
    passcode: Option<String>,
    #[serde(default)]
    lobby_for_guests: bool,
    #[serde(default = "yes")]
    consented: bool,
    #[serde(default)]
    replay_timeline: bool,
    #[serde(default)]
    participants: Vec<RawParticipant>,
    #[serde(default)]
    crowd: u32,
    #[serde(default)]
    roster_mode: RosterMode,
    #[serde(default = "default_roster_batch")]
    roster_batch: u32,
    #[serde(default)]
    timeline: Vec<RawTimeline>,
    #[serde(default)]
    crowd_churn: Vec<RawChurn>,
}

fn yes() -> bool {
    true
}

fn default_roster_batch() -> u32 {
    DEFAULT_ROSTER_BATCH
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChurn {
    at_ms: u64,
    #[serde(default)]
    leave: u32,
    #[serde(default)]
    join: u32,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOrganizer {
    name: Option<String>,
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParticipant {
    key: String,
    name: Option<String>,
    #[serde(default)]
    kind: IdentityKind,
    tone_hz: Option<f64>,
    wav: Option<PathBuf>,
    amplitude: Option<f64>,
    msi: Option<u32>,
    id: Option<ParticipantId>,
    user_id: Option<String>,
    #[serde(default)]
    muted: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeline {
    at_ms: u64,
    who: String,
    action: TimelineAction,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    kind: String,
    #[serde(default = "one")]
    count: u32,
    method: Option<String>,
    path_contains: Option<String>,
    retry_after_secs: Option<f64>,
    status: Option<u16>,
    delay_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

impl Scenario {
    /// No meetings, faults or quirks.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The embedded default scenario (WAV paths, if any, resolve against the crate's `scenarios/`).
    pub fn default_scenario() -> Self {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        Self::from_toml_str(DEFAULT_SCENARIO_TOML, &base)
            .expect("the embedded default scenario is valid (checked by a unit test)")
    }

    /// Reads a scenario file; relative WAV paths resolve against its directory.
    pub fn from_file(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ScenarioIo {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml_str(&text, base)
    }

    /// Parses scenario TOML; relative WAV paths resolve against `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Self, SimError> {
        let raw: RawScenario = toml::from_str(text).map_err(SimError::ScenarioSyntax)?;
        let mut meetings = Vec::with_capacity(raw.meetings.len());
        for meeting in raw.meetings {
            if meetings.iter().any(|m: &MeetingSpec| m.key == meeting.key) {
                return Err(invalid(format!(
                    "meeting key {:?} is used twice",
                    meeting.key
                )));
            }
            meetings.push(convert_meeting(meeting, base_dir)?);
        }
        let faults = raw
            .faults
            .into_iter()
            .map(convert_fault)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: raw.name,
            meetings,
            faults,
            quirks: raw.quirks,
        })
    }
}

fn invalid(message: String) -> SimError {
    SimError::ScenarioInvalid(message)
}

fn convert_meeting(raw: RawMeeting, base_dir: &Path) -> Result<MeetingSpec, SimError> {
    let mut participants: Vec<ParticipantSpec> = Vec::with_capacity(raw.participants.len());
    for p in raw.participants {
        let audio = match (p.tone_hz, p.wav) {
            (Some(_), Some(_)) => {
                return Err(invalid(format!(
                    "participant {:?} has both tone_hz and wav",
                    p.key
                )));
            }
            (Some(hz), None) if hz > 0.0 && hz < 24_000.0 => AudioSource::Tone {
                hz,
                amplitude: p.amplitude.unwrap_or(DEFAULT_AMPLITUDE).clamp(0.0, 1.0),
            },
            (Some(hz), None) => {
                return Err(invalid(format!(
                    "participant {:?}: tone_hz {hz} is outside 0–24000",
                    p.key
                )));
            }
            (None, Some(path)) => AudioSource::Wav(base_dir.join(path)),
            (None, None) => AudioSource::Silence,
        };
        participants.push(ParticipantSpec {
            display_name: p.name.unwrap_or_else(|| p.key.clone()),
            key: p.key,
            id: p.id,
            user_id: p.user_id,
            kind: p.kind,
            msi: p.msi,
            audio,
            muted: p.muted,
        });
    }
    let mut timeline: Vec<TimelineEntry> = raw
        .timeline
        .into_iter()
        .map(|entry| TimelineEntry {
            at: Duration::from_millis(entry.at_ms),
            participant: entry.who,
            action: entry.action,
        })
        .collect();
    timeline.sort_by_key(|entry| entry.at);
    let mut crowd_churn: Vec<CrowdChurn> = raw
        .crowd_churn
        .into_iter()
        .map(|churn| CrowdChurn {
            at: Duration::from_millis(churn.at_ms),
            leave: churn.leave,
            join: churn.join,
        })
        .collect();
    crowd_churn.sort_by_key(|churn| churn.at);
    let meeting = MeetingSpec {
        key: raw.key,
        subject: raw.subject,
        tenant_id: raw.tenant_id,
        organizer_id: raw.organizer.id,
        organizer_name: raw.organizer.name.unwrap_or_else(|| "Organizer".to_owned()),
        thread_id: raw.thread_id,
        join_meeting_id: raw.join_meeting_id,
        passcode: raw.passcode,
        lobby_for_guests: raw.lobby_for_guests,
        consented: raw.consented,
        replay_timeline: raw.replay_timeline,
        participants,
        crowd: raw.crowd,
        roster_mode: raw.roster_mode,
        roster_batch: raw.roster_batch,
        timeline,
        crowd_churn,
    };
    meeting.validate()?;
    Ok(meeting)
}

fn convert_fault(raw: RawFault) -> Result<FaultRule, SimError> {
    let need = |value: Option<f64>, field: &str| {
        value.ok_or_else(|| invalid(format!("fault {:?} needs {field}", raw.kind)))
    };
    let kind = match raw.kind.as_str() {
        "throttle" => FaultKind::Throttle {
            retry_after_secs: need(raw.retry_after_secs, "retry_after_secs")?,
        },
        "server_error" => FaultKind::ServerError {
            status: raw
                .status
                .filter(|s| (500..600).contains(s))
                .ok_or_else(|| {
                    invalid("fault server_error needs status between 500 and 599".to_owned())
                })?,
            retry_after_secs: raw.retry_after_secs,
        },
        "forbidden_7504" => FaultKind::Forbidden7504,
        "notification_delay" => FaultKind::NotificationDelay {
            delay_ms: raw
                .delay_ms
                .ok_or_else(|| invalid("fault notification_delay needs delay_ms".to_owned()))?,
        },
        "notification_duplicate" => FaultKind::NotificationDuplicate,
        "notification_reorder" => FaultKind::NotificationReorder,
        "forged_signature" => FaultKind::ForgedSignature,
        other => return Err(invalid(format!("unknown fault kind {other:?}"))),
    };
    if let FaultKind::Throttle { retry_after_secs }
    | FaultKind::ServerError {
        retry_after_secs: Some(retry_after_secs),
        ..
    } = &kind
        && !(retry_after_secs.is_finite() && *retry_after_secs >= 0.0)
    {
        return Err(invalid(format!(
            "retry_after_secs {retry_after_secs} is not a non-negative number"
        )));
    }
    Ok(FaultRule {
        kind,
        method: raw.method,
        path_contains: raw.path_contains,
        count: raw.count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scenario_is_valid_and_has_three_staggered_tones() {
        let scenario = Scenario::default_scenario();
        let meeting = &scenario.meetings[0];
        let tones: Vec<(String, f64)> = meeting
            .participants
            .iter()
            .map(|p| match p.audio {
                AudioSource::Tone { hz, .. } => (p.display_name.clone(), hz),
                _ => panic!("{p:?}"),
            })
            .collect();
        assert_eq!(
            tones,
            [
                ("Alice".to_owned(), 440.0),
                ("Bob".to_owned(), 660.0),
                ("Carol".to_owned(), 880.0)
            ]
        );
        let last = meeting.timeline.last().unwrap().at;
        assert!(last >= Duration::from_secs(10) && last <= Duration::from_secs(20));
    }

    #[test]
    fn errors_name_the_problem() {
        let base = Path::new(".");
        let unknown_who = r#"
            [[meetings]]
            key = "m"
            [[meetings.participants]]
            key = "a"
            [[meetings.timeline]]
            at_ms = 1
            who = "b"
            action = "join"
        "#;
        let err = Scenario::from_toml_str(unknown_who, base).unwrap_err();
        assert!(
            err.to_string().contains("unknown participant \"b\""),
            "{err}"
        );
        let bad_kind = "[[faults]]\nkind = \"explode\"\n";
        let err = Scenario::from_toml_str(bad_kind, base).unwrap_err();
        assert!(err.to_string().contains("explode"), "{err}");
        let bad_field = "[[meetings]]\nkey = \"m\"\ncolour = \"red\"\n";
        assert!(matches!(
            Scenario::from_toml_str(bad_field, base),
            Err(SimError::ScenarioSyntax(_))
        ));
    }

    #[test]
    fn crowd_roster_mode_and_churn_parse_with_defaults() {
        let text = r#"
            [[meetings]]
            key = "plain"
            [[meetings]]
            key = "big"
            crowd = 1200
            roster_mode = "delta"
            roster_batch = 250
            [[meetings.crowd_churn]]
            at_ms = 9000
            join = 10
            [[meetings.crowd_churn]]
            at_ms = 5000
            leave = 100
            join = 40
        "#;
        let scenario = Scenario::from_toml_str(text, Path::new(".")).unwrap();
        let plain = &scenario.meetings[0];
        assert_eq!(
            (plain.crowd, plain.roster_mode, plain.roster_batch),
            (0, RosterMode::Snapshot, DEFAULT_ROSTER_BATCH)
        );
        let big = &scenario.meetings[1];
        assert_eq!(
            (big.crowd, big.roster_mode, big.roster_batch),
            (1200, RosterMode::Delta, 250)
        );
        assert_eq!(
            big.crowd_churn,
            [
                CrowdChurn {
                    at: Duration::from_millis(5000),
                    leave: 100,
                    join: 40
                },
                CrowdChurn {
                    at: Duration::from_millis(9000),
                    leave: 0,
                    join: 10
                }
            ],
            "sorted by time"
        );
    }

    #[test]
    fn crowd_keys_are_zero_padded_and_recognised_only_within_the_crowd() {
        assert_eq!(crowd_member_key(7), "attendee-0007");
        assert_eq!(crowd_member_name(1200), "Attendee 1200");
        assert_eq!(crowd_member_key(10_000), "attendee-10000");
        assert_eq!(crowd_member_number("attendee-0007", 7), Some(7));
        assert_eq!(crowd_member_number("attendee-0008", 7), None);
        assert_eq!(
            crowd_member_number("attendee-7", 7),
            None,
            "not the generated spelling"
        );
        assert_eq!(crowd_member_number("attendee-0000", 7), None);
        assert_eq!(crowd_member_number("alice", 7), None);
    }

    #[test]
    fn wav_paths_resolve_against_the_file_and_faults_parse() {
        let text = r#"
            [[meetings]]
            key = "m"
            [[meetings.participants]]
            key = "a"
            wav = "audio/a.wav"
            [[faults]]
            kind = "throttle"
            retry_after_secs = 2.128
            count = 2
            method = "POST"
        "#;
        let scenario = Scenario::from_toml_str(text, Path::new("/scen")).unwrap();
        assert_eq!(
            scenario.meetings[0].participants[0].audio,
            AudioSource::Wav(PathBuf::from("/scen/audio/a.wav"))
        );
        assert_eq!(
            scenario.faults,
            [FaultRule::throttle(2.128, 2).on_method("POST")]
        );
    }
}
