//! The bot's configuration: a TOML file, then environment variables over it.
//!
//! Pointing the bot at Microsoft or at the simulator is configuration only: Graph base URL,
//! token authority, OpenID configuration URL. The app secret is never read from the file's
//! plain text unless put there on purpose; `MEDIABOT_APP_SECRET` is the usual way.
//!
//! ```toml
//! tenant_id = "contoso.onmicrosoft.com"
//! app_id = "00000000-0000-0000-0000-000000000000"
//! listen = "0.0.0.0:9441"                  # public: Graph's callbacks and media answers only
//! control_listen = "127.0.0.1:9442"         # control API (token required)
//! # control_token: prefer MEDIABOT_CONTROL_TOKEN; unset → a random one in <out_dir>/control-token
//! public_base_url = "https://bot.contoso.com:9441"   # callbackUri and mpUri are built from it
//! graph_base_url = "https://graph.microsoft.com"
//! authority_url = "https://login.microsoftonline.com"
//! openid_configuration_url = "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration"
//! out_dir = "recordings"
//! max_calls = 64                    # joins beyond are refused (503), incoming calls rejected
//! shutdown_grace_seconds = 15       # SIGTERM: how long Graph has to confirm the hang-ups
//! log_format = "text"               # or "json" (MEDIABOT_LOG_FORMAT)
//! media_dir = "media"               # speak plays WAVs only from here (MEDIABOT_MEDIA_DIR)
//!
//! [media]
//! bind_ip = "0.0.0.0"
//! public_ip = "203.0.113.10"        # like Microsoft's InstancePublicIPAddress
//! port_min = 49152                  # like MediaPortRange
//! port_max = 65535
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use mediabot_signaling::auth::Secret;
use serde::Deserialize;

/// Everything the bot needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BotConfig {
    /// Tenant whose token the bot uses by default (GUID or domain).
    pub(crate) tenant_id: String,
    /// The bot's Microsoft App ID.
    pub(crate) app_id: String,
    /// The app secret (prefer `MEDIABOT_APP_SECRET`).
    #[serde(default)]
    pub(crate) app_secret: Option<Secret>,
    /// The public listener: Graph's callbacks (`/api/calling`) and media answers (`/mp/…`) only.
    #[serde(default = "default_listen")]
    pub(crate) listen: SocketAddr,
    /// The control API's listener (every request needs the control token).
    #[serde(default = "default_control_listen")]
    pub(crate) control_listen: SocketAddr,
    /// The control API's bearer token (prefer `MEDIABOT_CONTROL_TOKEN`). Unset: a random
    /// 256-bit token is made at start and written to `<out_dir>/control-token`.
    #[serde(default)]
    pub(crate) control_token: Option<Secret>,
    /// How Graph and the media processor reach that server. `None`: `http://{listen}` (loopback
    /// demos only — Graph requires https).
    #[serde(default)]
    pub(crate) public_base_url: Option<String>,
    /// Graph's base URL.
    #[serde(default = "default_graph")]
    pub(crate) graph_base_url: String,
    /// OAuth authority base.
    #[serde(default = "default_authority")]
    pub(crate) authority_url: String,
    /// Where the callback JWT signing keys are announced.
    #[serde(default = "default_openid")]
    pub(crate) openid_configuration_url: String,
    /// Where recordings and reports go.
    #[serde(default = "default_out")]
    pub(crate) out_dir: PathBuf,
    /// Media transport settings.
    #[serde(default)]
    pub(crate) media: MediaSettings,
    /// Record straight into `out_dir` instead of a folder per call (the demo's single call).
    #[serde(skip)]
    pub(crate) single_call_dir: bool,
    /// Answer incoming calls (with app-hosted media) instead of rejecting them.
    #[serde(default = "default_true")]
    pub(crate) answer_incoming: bool,
    /// Seconds between keepAlives (Graph ends a call after 45 minutes without one).
    #[serde(default = "default_keep_alive")]
    pub(crate) keep_alive_seconds: u64,
    /// Most calls at once.
    #[serde(default = "default_max_calls")]
    pub(crate) max_calls: usize,
    /// On SIGTERM/Ctrl-C: how long Graph has to confirm every hang-up before the bot ends the
    /// remaining calls itself (recordings and reports are finalised either way).
    #[serde(default = "default_grace")]
    pub(crate) shutdown_grace_seconds: f64,
    /// `text` or `json` log lines.
    #[serde(default)]
    pub(crate) log_format: crate::logging::LogFormat,
    /// The only folder `speak` may play WAV files from (`{"wav": "name.wav"}`, relative to it).
    /// Unset: files are not played; WAVs can still be uploaded as the request body.
    #[serde(default)]
    pub(crate) media_dir: Option<PathBuf>,
    /// Tenants whose callbacks are accepted (a callback token's `tid`; others get 401). Default:
    /// the bot's own `tenant_id` when it is a GUID; with a domain name there, set this.
    #[serde(default)]
    pub(crate) allowed_tenants: Option<Vec<String>>,
    /// Fault injection for tests: the audio threads of these call keys panic at start.
    #[serde(skip)]
    pub(crate) fault_audio_panic_calls: Vec<u64>,
}

fn default_max_calls() -> usize {
    64
}

fn default_grace() -> f64 {
    15.0
}

fn default_true() -> bool {
    true
}

fn default_keep_alive() -> u64 {
    15 * 60
}

/// Media transport settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MediaSettings {
    /// Interface to bind UDP media on.
    #[serde(default = "default_bind")]
    pub(crate) bind_ip: IpAddr,
    /// Public IP to advertise (VMs behind 1:1 NAT).
    #[serde(default)]
    pub(crate) public_ip: Option<IpAddr>,
    /// Lowest UDP port to use.
    #[serde(default)]
    pub(crate) port_min: Option<u16>,
    /// Highest UDP port to use.
    #[serde(default)]
    pub(crate) port_max: Option<u16>,
}

impl Default for MediaSettings {
    fn default() -> MediaSettings {
        MediaSettings {
            bind_ip: default_bind(),
            public_ip: None,
            port_min: None,
            port_max: None,
        }
    }
}

fn default_control_listen() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 9442))
}

fn default_listen() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 9441))
}

fn default_bind() -> IpAddr {
    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
}

fn default_graph() -> String {
    "https://graph.microsoft.com".into()
}

fn default_authority() -> String {
    "https://login.microsoftonline.com".into()
}

fn default_openid() -> String {
    mediabot_signaling::webhook::DEFAULT_OPENID_CONFIGURATION_URL.into()
}

fn default_out() -> PathBuf {
    PathBuf::from("recordings")
}

impl BotConfig {
    /// Reads `path` (if given), then applies `MEDIABOT_*` environment variables.
    pub(crate) fn load(path: Option<&Path>) -> anyhow::Result<BotConfig> {
        let mut text = match path {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
            None => String::new(),
        };
        // Environment overrides for the scalar keys.
        for (key, env) in [
            ("tenant_id", "MEDIABOT_TENANT_ID"),
            ("app_id", "MEDIABOT_APP_ID"),
            ("public_base_url", "MEDIABOT_PUBLIC_BASE_URL"),
            ("graph_base_url", "MEDIABOT_GRAPH_BASE_URL"),
            ("authority_url", "MEDIABOT_AUTHORITY_URL"),
            (
                "openid_configuration_url",
                "MEDIABOT_OPENID_CONFIGURATION_URL",
            ),
            ("listen", "MEDIABOT_LISTEN"),
            ("control_listen", "MEDIABOT_CONTROL_LISTEN"),
        ] {
            if let Ok(value) = std::env::var(env) {
                text = format!("{key} = {}\n{}", toml_string(&value), strip_key(&text, key));
            }
        }
        let mut config: BotConfig = toml::from_str(&text).with_context(|| match path {
            Some(p) => format!("parsing {}", p.display()),
            None => "reading configuration from the environment".into(),
        })?;
        if let Ok(ip) = std::env::var("MEDIABOT_MEDIA_BIND_IP") {
            config.media.bind_ip = ip
                .parse()
                .with_context(|| format!("MEDIABOT_MEDIA_BIND_IP={ip} is not an IP address"))?;
        }
        if let Ok(format) = std::env::var("MEDIABOT_LOG_FORMAT") {
            config.log_format = format.parse().map_err(anyhow::Error::msg)?;
        }
        if let Ok(grace) = std::env::var("MEDIABOT_SHUTDOWN_GRACE_SECONDS") {
            config.shutdown_grace_seconds = grace
                .parse()
                .ok()
                .filter(|g: &f64| g.is_finite() && *g >= 0.0)
                .with_context(|| {
                    format!("MEDIABOT_SHUTDOWN_GRACE_SECONDS={grace} is not a number of seconds")
                })?;
        }
        if let Ok(dir) = std::env::var("MEDIABOT_MEDIA_DIR") {
            config.media_dir = Some(PathBuf::from(dir));
        }
        if let Ok(dir) = std::env::var("MEDIABOT_OUT_DIR") {
            config.out_dir = PathBuf::from(dir);
        }
        if let Ok(token) = std::env::var("MEDIABOT_CONTROL_TOKEN")
            && !token.is_empty()
        {
            config.control_token = Some(Secret::new(token));
        }
        if let Ok(secret) = std::env::var("MEDIABOT_APP_SECRET") {
            config.app_secret = Some(Secret::new(secret));
        }
        if config.app_secret.is_none() {
            anyhow::bail!("no app secret: set MEDIABOT_APP_SECRET (or app_secret in the file)");
        }
        Ok(config)
    }

    /// The tenants whose callbacks are accepted (empty: any; see `allowed_tenants`).
    pub(crate) fn callback_tenants(&self) -> Vec<String> {
        match &self.allowed_tenants {
            Some(list) => list.clone(),
            None if uuid_shaped(&self.tenant_id) => vec![self.tenant_id.clone()],
            None => {
                tracing::warn!(
                    tenant_id = %self.tenant_id,
                    "tenant_id is not a GUID, so callbacks of every tenant are accepted; set allowed_tenants"
                );
                Vec::new()
            }
        }
    }

    /// The shutdown grace as a duration.
    pub(crate) fn shutdown_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.shutdown_grace_seconds.clamp(0.0, 3_600.0))
    }

    /// The base URL Graph and the media processor use to reach this bot.
    pub(crate) fn public_base(&self, bound: SocketAddr) -> String {
        self.public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_string()
    }
}

/// `8-4-4-4-12` hex digits: the form of a tenant's `tid`.
fn uuid_shaped(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn toml_string(value: &str) -> String {
    let escaped: String = value
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// Removes top-level `key = …` lines (before any table) so an environment value replaces them.
fn strip_key(text: &str, key: &str) -> String {
    let mut in_table = false;
    text.lines()
        .filter(|line| {
            let t = line.trim_start();
            if t.starts_with('[') {
                in_table = true;
            }
            in_table || !(t.starts_with(key) && t[key.len()..].trim_start().starts_with('='))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file_and_secrets_stay_redacted() {
        let dir = std::env::temp_dir().join(format!("mediabot-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bot.toml");
        std::fs::write(
            &path,
            "tenant_id = \"file-tenant\"\napp_id = \"app\"\napp_secret = \"s3cret\"\n[media]\nport_min = 50000\n",
        )
        .unwrap();
        let config = BotConfig::load(Some(&path)).unwrap();
        assert_eq!(config.tenant_id, "file-tenant");
        assert_eq!(config.media.port_min, Some(50_000));
        assert!(!format!("{config:?}").contains("s3cret"));
        assert_eq!(
            strip_key("a = 1\nab = 2\n[t]\na = 3", "a"),
            "ab = 2\n[t]\na = 3"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = toml::from_str::<BotConfig>("tenant_id = \"t\"\napp_id = \"a\"\nbogus = 1\n")
            .unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }
}
