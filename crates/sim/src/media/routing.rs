//! Who hears whom: the audio routing rule of the simulated media processor.
//!
//! Graph's `audioRoutingGroups` (reference §4.23) add private routes: every `sources` entry is
//! heard by every `receivers` entry (`oneToOne` and `multicast` differ only in how many ids each
//! list may hold, which the control plane checks). Graph does not spell out how groups combine
//! with the meeting's default "everyone hears everyone" mix, so the simulator fixes this rule:
//!
//! 1. **Default group.** Every participant present in the meeting is in the default group, and so
//!    is the bot unless the call was created with `removeFromDefaultAudioGroup` (§8.1). Members
//!    of the default group hear each other.
//! 2. **Groups add routes.** Every source of a group is heard by every receiver of that group.
//! 3. **The bot speaking through groups is private.** As soon as at least one group has the bot
//!    among its `sources`, the bot's audio reaches *exactly* the receivers of those groups (a
//!    whisper to alice is heard by alice only), not the default group.
//! 4. **The bot listening through groups is selective.** As soon as at least one group has the
//!    bot among its `receivers`, the bot hears *exactly* the sources of those groups.
//! 5. **Participants are not narrowed.** Being a receiver of a group (e.g. of the bot's whisper)
//!    never takes anything away from what a participant hears: they still hear the default
//!    group, plus the group's sources.
//!
//! So with no groups the bot hears every participant and every participant hears the bot; with
//! `removeFromDefaultAudioGroup` and no groups the bot hears nobody and nobody hears it.
//!
//! Presence, mute and speaking are not part of this rule: they decide whether a participant
//! sends at all. The rule only decides where audio that *is* sent may go.

use std::collections::HashSet;

use mediabot_signaling::models::{AudioRoutingGroup, ParticipantId};

/// The routing rule evaluated for one call's groups (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioRouting {
    bot: ParticipantId,
    bot_in_default_group: bool,
    /// `Some(receivers)` when the bot speaks through groups (rule 3).
    bot_speaks_to: Option<HashSet<ParticipantId>>,
    /// `Some(sources)` when the bot listens through groups (rule 4).
    bot_listens_to: Option<HashSet<ParticipantId>>,
}

impl AudioRouting {
    /// The rule for a call whose bot is `bot`, with the call's complete set of `groups`.
    /// `bot_in_default_group` is false when the call was created with
    /// `removeFromDefaultAudioGroup`.
    pub fn new(
        bot: ParticipantId,
        bot_in_default_group: bool,
        groups: &[AudioRoutingGroup],
    ) -> AudioRouting {
        let mut bot_speaks_to: Option<HashSet<ParticipantId>> = None;
        let mut bot_listens_to: Option<HashSet<ParticipantId>> = None;
        for group in groups {
            if group.sources.contains(&bot) {
                bot_speaks_to
                    .get_or_insert_with(HashSet::new)
                    .extend(group.receivers.iter().filter(|r| **r != bot).cloned());
            }
            if group.receivers.contains(&bot) {
                bot_listens_to
                    .get_or_insert_with(HashSet::new)
                    .extend(group.sources.iter().filter(|s| **s != bot).cloned());
            }
        }
        AudioRouting {
            bot,
            bot_in_default_group,
            bot_speaks_to,
            bot_listens_to,
        }
    }

    /// The rule with no groups.
    pub fn default_for(bot: ParticipantId, bot_in_default_group: bool) -> AudioRouting {
        AudioRouting::new(bot, bot_in_default_group, &[])
    }

    /// The bot's participant id.
    pub fn bot(&self) -> &ParticipantId {
        &self.bot
    }

    /// Whether the bot is in the default group (the call was not created with
    /// `removeFromDefaultAudioGroup`).
    pub fn bot_in_default_group(&self) -> bool {
        self.bot_in_default_group
    }

    /// Whether the bot receives `participant`'s audio (rules 1, 2 and 4).
    pub fn bot_hears(&self, participant: &ParticipantId) -> bool {
        match &self.bot_listens_to {
            Some(sources) => sources.contains(participant),
            None => self.bot_in_default_group,
        }
    }

    /// Whether `participant` hears the bot's audio (rules 1, 2 and 3).
    pub fn hears_bot(&self, participant: &ParticipantId) -> bool {
        match &self.bot_speaks_to {
            Some(receivers) => receivers.contains(participant),
            None => self.bot_in_default_group,
        }
    }

    /// Whether `listener` hears `source`; either may be the bot. Both are assumed present.
    pub fn hears(&self, listener: &ParticipantId, source: &ParticipantId) -> bool {
        if listener == source {
            return false;
        }
        if *listener == self.bot {
            return self.bot_hears(source);
        }
        if *source == self.bot {
            return self.hears_bot(listener);
        }
        // Rules 1 and 5: participants are always in the default group, so they hear each other
        // whatever groups add.
        true
    }

    /// Whether the bot speaks through routing groups (rule 3 applies).
    pub fn bot_speaks_privately(&self) -> bool {
        self.bot_speaks_to.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediabot_signaling::models::RoutingMode;

    fn id(s: &str) -> ParticipantId {
        ParticipantId::new(s)
    }

    fn group(mode: RoutingMode, sources: &[&str], receivers: &[&str]) -> AudioRoutingGroup {
        AudioRoutingGroup {
            routing_mode: Some(mode),
            sources: sources.iter().map(|s| id(s)).collect(),
            receivers: receivers.iter().map(|s| id(s)).collect(),
            ..AudioRoutingGroup::default()
        }
    }

    #[test]
    fn without_groups_everyone_hears_everyone() {
        let r = AudioRouting::default_for(id("bot"), true);
        for p in ["alice", "bob"] {
            assert!(r.bot_hears(&id(p)));
            assert!(r.hears_bot(&id(p)));
        }
        assert!(r.hears(&id("alice"), &id("bob")));
        assert!(!r.hears(&id("alice"), &id("alice")));
        assert!(!r.bot_speaks_privately());
    }

    #[test]
    fn a_whisper_reaches_only_its_receivers_and_narrows_nothing_else() {
        let r = AudioRouting::new(
            id("bot"),
            true,
            &[group(RoutingMode::OneToOne, &["bot"], &["alice"])],
        );
        assert!(r.hears_bot(&id("alice")));
        assert!(!r.hears_bot(&id("bob")));
        assert!(
            r.bot_hears(&id("alice")) && r.bot_hears(&id("bob")),
            "the bot still hears all"
        );
        assert!(
            r.hears(&id("alice"), &id("bob")),
            "alice still hears the meeting"
        );
        assert!(r.hears(&id("alice"), &id("bot")) && !r.hears(&id("bob"), &id("bot")));
    }

    #[test]
    fn the_bots_groups_combine_and_listening_groups_select_what_it_hears() {
        let r = AudioRouting::new(
            id("bot"),
            true,
            &[
                group(RoutingMode::Multicast, &["bot"], &["alice", "bob"]),
                group(RoutingMode::OneToOne, &["bot"], &["carol"]),
                group(RoutingMode::OneToOne, &["carol"], &["bot"]),
            ],
        );
        for p in ["alice", "bob", "carol"] {
            assert!(r.hears_bot(&id(p)), "{p}");
        }
        assert!(!r.hears_bot(&id("dave")));
        assert!(r.bot_hears(&id("carol")));
        assert!(
            !r.bot_hears(&id("alice")),
            "the bot listens through its group only"
        );
    }

    #[test]
    fn removed_from_the_default_group_the_bot_is_reached_only_through_groups() {
        let alone = AudioRouting::default_for(id("bot"), false);
        assert!(!alone.hears_bot(&id("alice")) && !alone.bot_hears(&id("alice")));
        let r = AudioRouting::new(
            id("bot"),
            false,
            &[group(RoutingMode::OneToOne, &["alice"], &["bot"])],
        );
        assert!(r.bot_hears(&id("alice")));
        assert!(!r.bot_hears(&id("bob")));
        assert!(
            !r.hears_bot(&id("alice")),
            "listening to alice does not make alice hear it"
        );
        assert!(!r.bot_in_default_group());
    }

    #[test]
    fn groups_between_participants_do_not_change_the_bots_routes() {
        let r = AudioRouting::new(
            id("bot"),
            true,
            &[group(RoutingMode::OneToOne, &["alice"], &["bob"])],
        );
        assert!(r.hears_bot(&id("bob")) && r.bot_hears(&id("alice")));
    }
}
