//! Logs for operators, on stderr.
//!
//! - At the default level every call's lifecycle is an `info` line with its key and call id
//!   (join requested, created, established with the roster's size, media connected, first
//!   audio, ended with Graph's code and subcode, finished with the report's path).
//! - Third-party crates speak at `warn`; webrtc-rs's crates (`rtc_*`, `webrtc*`) only at
//!   `error`, since their start-up chatter is not something an operator acts on.
//! - Colour codes only when stderr is a terminal.
//! - `log_format = "json"` (or `MEDIABOT_LOG_FORMAT=json`): one JSON object per line, for log
//!   shippers.
//! - `RUST_LOG` replaces the filter (e.g. `RUST_LOG=mediabot=debug,mediabot_signaling=debug`).

use std::io::IsTerminal;

use serde::Deserialize;

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" | "" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format {other:?}: use text or json")),
        }
    }
}

/// The filter used when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "warn,mediabot=info,mediabot_signaling=info,\
mediabot_media=info,mediabot_routing=info,mediabot_sim=warn,\
rtc=error,rtc_ice=error,rtc_dtls=error,rtc_srtp=error,rtc_sctp=error,rtc_mdns=error,\
rtc_datachannel=error,rtc_rtp=error,rtc_rtcp=error,rtc_interceptor=error,rtc_shared=error,\
webrtc=error,webrtc_ice=error,webrtc_dtls=error,webrtc_srtp=error,webrtc_util=error";

/// Installs the global subscriber (once; later calls do nothing).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The format named by `MEDIABOT_LOG_FORMAT`, or text.
pub fn format_from_env() -> LogFormat {
    std::env::var("MEDIABOT_LOG_FORMAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}
