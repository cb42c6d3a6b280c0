//! Simulator configuration.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use mediabot_signaling::models::{AppId, TenantId};

use crate::faults::Quirks;
use crate::scenario::Scenario;

/// Default bot app id the simulator accepts (any GUID works; this one is from the docs' callback JWT).
pub const DEFAULT_APP_ID: &str = "0efc74f7-41c3-47a4-8775-7259bfef4241";
/// Default client secret the token endpoint accepts.
pub const DEFAULT_CLIENT_SECRET: &str = "sim-client-secret";
/// Default tenant of the simulated organisation.
pub const DEFAULT_TENANT_ID: &str = "1fdd12d0-4620-44ed-baec-459b611f84b2";

/// Timers of the simulated service. The defaults are Graph's real values where documented; tests
/// shorten them (e.g. [`SimTimings::fast`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTimings {
    /// Between the `201` and the `establishing` notification, and between `establishing` and
    /// `established` (also `terminating` → `terminated`). Default 300 ms.
    pub establish_step: Duration,
    /// How long an incoming call waits for answer/reject/redirect before it ends with `408/1106`.
    /// Default 15 s (reference §1).
    pub answer_deadline: Duration,
    /// Inactivity after which a call without keepAlive ends with `408/8537` (counted from the
    /// last keepAlive, the answer, or the start of an outgoing call). Default 45 min.
    pub keepalive_window: Duration,
    /// How long a `running` operation runs before its completion notification. Default 500 ms.
    pub operation_completion: Duration,
    /// How long a guest bot waits in the lobby before being admitted. Default 2 s.
    pub lobby_admit: Duration,
    /// Lifetime of issued access tokens (`expires_in`). Default 3599 s.
    pub token_lifetime: Duration,
    /// First retry delay of a failed callback delivery (doubles per retry). Default 200 ms.
    pub delivery_retry_base: Duration,
    /// Maximum posts of one notification (first included). Default 5.
    pub delivery_max_attempts: u32,
    /// How long a reordered notification waits for the next one of its call. Default 1 s.
    pub reorder_window: Duration,
    /// Timeout of one callback POST. Default 10 s.
    pub delivery_timeout: Duration,
}

impl Default for SimTimings {
    fn default() -> Self {
        Self {
            establish_step: Duration::from_millis(300),
            answer_deadline: Duration::from_secs(15),
            keepalive_window: Duration::from_secs(45 * 60),
            operation_completion: Duration::from_millis(500),
            lobby_admit: Duration::from_secs(2),
            token_lifetime: Duration::from_secs(3599),
            delivery_retry_base: Duration::from_millis(200),
            delivery_max_attempts: 5,
            reorder_window: Duration::from_secs(1),
            delivery_timeout: Duration::from_secs(10),
        }
    }
}

impl SimTimings {
    /// Short timers for tests: 10 ms steps, 1 s answer deadline, 1.5 s keep-alive window (long
    /// enough for a loaded 2-core machine to answer in time), 50 ms operations and lobby, 20 ms
    /// delivery retries.
    pub fn fast() -> Self {
        Self {
            establish_step: Duration::from_millis(10),
            answer_deadline: Duration::from_secs(1),
            keepalive_window: Duration::from_millis(1500),
            operation_completion: Duration::from_millis(50),
            lobby_admit: Duration::from_millis(50),
            token_lifetime: Duration::from_secs(3599),
            delivery_retry_base: Duration::from_millis(20),
            delivery_max_attempts: 5,
            reorder_window: Duration::from_millis(500),
            delivery_timeout: Duration::from_secs(5),
        }
    }
}

/// Everything [`Simulator::start`](crate::Simulator::start) needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen. Default `127.0.0.1:0` (a free port). Only loopback is intended.
    pub bind: SocketAddr,
    /// The bot's app id: the only `client_id` the token endpoint knows, and the `aud` of callbacks.
    pub app_id: AppId,
    /// The client secret the token endpoint accepts.
    pub client_secret: String,
    /// Display name of the bot in rosters.
    pub bot_display_name: String,
    /// Tenant of meetings that name none.
    pub tenant_id: TenantId,
    /// Accept `http://` callback URIs whose host is loopback (`127.0.0.1`, `::1`, `localhost`).
    /// Graph requires `https`; this switch exists for the demo and tests and defaults to `true`.
    /// With `false`, every non-https callback URI is refused with `400`.
    pub allow_http_loopback_callbacks: bool,
    /// Timers.
    pub timings: SimTimings,
    /// Meetings, participants, timeline, faults and quirks.
    pub scenario: Scenario,
}

impl Default for SimConfig {
    /// The embedded default scenario ([`Scenario::default_scenario`]) with real timers.
    fn default() -> Self {
        Self::with_scenario(Scenario::default_scenario())
    }
}

impl SimConfig {
    /// Default settings around `scenario`.
    pub fn with_scenario(scenario: Scenario) -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            app_id: AppId::new(DEFAULT_APP_ID),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            bot_display_name: "mediabot".to_owned(),
            tenant_id: TenantId::new(DEFAULT_TENANT_ID),
            allow_http_loopback_callbacks: true,
            timings: SimTimings::default(),
            scenario,
        }
    }

    /// An empty scenario (no meetings) with [`SimTimings::fast`]: the usual start for tests, which
    /// add their own meetings.
    pub fn for_tests() -> Self {
        let mut config = Self::with_scenario(Scenario::empty());
        config.timings = SimTimings::fast();
        config
    }

    /// The scenario's quirks (shortcut).
    pub fn quirks(&self) -> Quirks {
        self.scenario.quirks
    }
}
