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
    /// What happens when, relative to the first bot call being established.
    pub timeline: Vec<TimelineEntry>,
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
            timeline: Vec::new(),
        }
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
    timeline: Vec<RawTimeline>,
}

fn yes() -> bool {
    true
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
        if participants.iter().any(|q| q.key == p.key) {
            return Err(invalid(format!(
                "participant key {:?} is used twice in meeting {:?}",
                p.key, raw.key
            )));
        }
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
    let mut timeline = Vec::with_capacity(raw.timeline.len());
    for entry in raw.timeline {
        if !participants.iter().any(|p| p.key == entry.who) {
            return Err(invalid(format!(
                "timeline of meeting {:?} names unknown participant {:?}",
                raw.key, entry.who
            )));
        }
        timeline.push(TimelineEntry {
            at: Duration::from_millis(entry.at_ms),
            participant: entry.who,
            action: entry.action,
        });
    }
    timeline.sort_by_key(|entry| entry.at);
    Ok(MeetingSpec {
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
        timeline,
    })
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
