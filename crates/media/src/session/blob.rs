//! The app-hosted media blob: mediabot's offer in Graph's `appHostedMediaConfig.blob` and the
//! media processor's answer, with a strict, bounded parser and a builder.
//!
//! The bot creates a local media session before it creates or answers a call and serialises it
//! with [`ValidatedBlob::to_blob_string`]; Graph carries that string to the media processor
//! (mediabot's simulator, or any standards peer). The processor POSTs a [`MediaAnswer`] to the
//! blob's `mpUri`, and media then flows over UDP (ICE, DTLS-SRTP, RTP/Opus).
//!
//! This is mediabot's own format for standards WebRTC media. It keeps the field names of
//! Microsoft's media SDK blob where they mean the same thing (`mpUri`, `mpMediaSessionId`,
//! `callId`, `audioRenderContexts`, `audioSourceContexts`, `supportedAudioFormat`, `mpVersion`)
//! and adds what a standards transport needs (`transport`). It is **not** Microsoft's media
//! processor protocol, which is not public. `docs/media-blob.md` specifies the format.
//!
//! # Parsing
//! [`parse_blob`] and [`parse_answer`] are the only ways in from untrusted text. In order they:
//! reject input over [`MAX_BLOB_BYTES`] before looking at it; reject JSON nested deeper than
//! [`MAX_NESTING`] with a byte scan; read `mediabotBlobVersion` alone (so a newer version is
//! reported as such, and a blob from Microsoft's SDK is recognised by name); refuse serde's
//! positional (array) form of objects; deserialise into the typed form, rejecting unknown
//! fields, duplicate keys and wrong types; and finally validate every value into a
//! [`ValidatedBlob`] / [`ValidatedAnswer`]. Every failure is a [`BlobError`] that names the
//! field path and the reason. Nothing here panics on any input.

use std::fmt;
use std::net::IpAddr;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::session::params::{
    AudioCodec, DtlsFingerprint, DtlsSetup, HeaderExtensionMap, IceCandidate, IceParams,
    StreamDirection, StreamPlan, TransportParams,
};

/// The blob format version this code writes.
pub const BLOB_VERSION: u32 = 1;
/// Every blob format version this code reads.
pub const SUPPORTED_VERSIONS: &[u32] = &[1];
/// Largest blob or answer accepted, in bytes of the JSON text (the decoded Graph string). Larger
/// input is rejected before any parsing. Every valid blob, even with every list at its maximum,
/// fits (a test proves it).
pub const MAX_BLOB_BYTES: usize = 16 * 1024;
/// Deepest JSON nesting accepted (objects and arrays). mediabot's own fields need 4.
pub const MAX_NESTING: usize = 8;
/// Most ICE candidates one side may list.
pub const MAX_CANDIDATES: usize = 16;
/// Most audio codecs one side may list.
pub const MAX_CODECS: usize = 8;
/// Most RTP header extensions one side may list (ids are 1–14 and unique).
pub const MAX_HEADER_EXTENSIONS: usize = 14;
/// Most planned RTP streams one side may list.
pub const MAX_STREAMS: usize = 64;
/// Most GUIDs in `audioRenderContexts` or `audioSourceContexts`.
pub const MAX_AUDIO_CONTEXTS: usize = 4;
/// Longest `mpUri`, in bytes.
pub const MAX_MP_URI_BYTES: usize = 512;
/// The MSI Teams uses for "no media source"; never a valid stream MSI.
pub const MSI_NONE: u32 = u32::MAX;

/// What `mpVersion` says when the builder fills it in: this crate's name and version.
const MP_VERSION: &str = concat!("mediabot-media/", env!("CARGO_PKG_VERSION"));

/// Salts that derive the default audio socket GUIDs from the session id (distinct and nonzero,
/// so the three GUIDs of a blob never collide).
const RENDER_CONTEXT_SALT: u128 = 0x0000_0000_0000_0000_0000_0000_0000_0001;
const SOURCE_CONTEXT_SALT: u128 = 0x0000_0000_0000_0000_0000_0000_0000_0002;

/// ICE characters (RFC 8445 §5.3, RFC 8839 `ice-char`).
const ICE_CHARS: &str = "A-Z a-z 0-9 + /";
/// Token characters for ids and names in the blob.
const ID_CHARS: &str = "A-Z a-z 0-9 - . _";
/// Free-form text: printable ASCII that JSON does not escape.
const PLAIN: &str = "printable ASCII except space, quote and backslash";
/// Free-form text that may contain spaces.
const PLAIN_OR_SPACE: &str = "printable ASCII except quote and backslash";

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a blob or an answer was rejected.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The text is longer than [`MAX_BLOB_BYTES`]; it was rejected without being parsed.
    #[error("media blob is {len} bytes; the limit is {max} bytes (rejected before parsing)")]
    TooLarge {
        /// Length of the text in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The JSON nests objects/arrays deeper than [`MAX_NESTING`].
    #[error("media blob nests deeper than {max} levels (at byte {offset})")]
    TooDeep {
        /// The limit.
        max: usize,
        /// Byte offset of the bracket that went over the limit.
        offset: usize,
    },
    /// Not JSON, or JSON without the blob's shape (wrong type, missing or unknown or duplicate
    /// field). The serde message names the field and the line/column.
    #[error("media blob is not well-formed: {0}")]
    Malformed(#[source] serde_json::Error),
    /// The blob was made by Microsoft's media SDK (`Microsoft.Skype.Bots.Media`), whose media
    /// processor protocol is not public; mediabot cannot negotiate media from it.
    #[error(
        "this blob comes from Microsoft's media SDK ({evidence}); mediabot needs its own blob \
         (mediabotBlobVersion, transport) for standards WebRTC media, see docs/media-blob.md"
    )]
    MicrosoftSdkBlob {
        /// What gave it away, e.g. `net.tcp mpUri`.
        evidence: &'static str,
    },
    /// No `mediabotBlobVersion`: not a mediabot blob at all.
    #[error("media blob has no mediabotBlobVersion; it is not a mediabot blob")]
    MissingVersion,
    /// A version this code does not read.
    #[error("media blob version {found} is not supported (supported: {supported:?})")]
    UnsupportedVersion {
        /// The version the blob declares.
        found: u64,
        /// The versions this code reads.
        supported: &'static [u32],
    },
    /// A value broke a rule.
    #[error("{field}: {reason}")]
    Invalid {
        /// JSON path of the value, e.g. `transport.candidates[2].port`.
        field: String,
        /// What is wrong with it.
        reason: Reason,
    },
}

impl BlobError {
    /// The field path and reason, when this is a rule violation.
    pub fn invalid_field(&self) -> Option<(&str, &Reason)> {
        match self {
            BlobError::Invalid { field, reason } => Some((field, reason)),
            _ => None,
        }
    }
}

/// What is wrong with one value of a blob or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The string contains NUL or another control character.
    ControlCharacter,
    /// The string's length in bytes is outside the allowed range.
    Length {
        /// Shortest allowed.
        min: usize,
        /// Longest allowed.
        max: usize,
        /// The length found.
        actual: usize,
    },
    /// The string has a character outside the field's set.
    Charset {
        /// The allowed characters.
        allowed: &'static str,
    },
    /// The list has too few or too many entries.
    Count {
        /// Fewest allowed.
        min: usize,
        /// Most allowed.
        max: usize,
        /// The number found.
        actual: usize,
    },
    /// The number is outside the allowed range.
    OutOfRange {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
        /// The value found.
        actual: u64,
    },
    /// Not a GUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
    NotGuid,
    /// Not an IPv4 or IPv6 literal.
    NotIpAddress,
    /// An IP address no peer can send to (unspecified, multicast or broadcast).
    UnusableAddress,
    /// A value outside the known set.
    Unsupported {
        /// The values accepted.
        expected: &'static str,
    },
    /// The same value as an earlier entry of the same list.
    Duplicate {
        /// Index of the earlier entry.
        first: usize,
    },
    /// Not 32 colon-separated hex bytes (a SHA-256 fingerprint).
    BadFingerprint,
    /// No Opus codec in the list.
    MissingOpus,
    /// The `mpUri` scheme is not `https` (or `http` for a loopback host).
    UnsupportedScheme {
        /// The scheme found.
        found: String,
    },
    /// `http` for a host that is not loopback.
    InsecureHttp,
    /// Not a URL mediabot accepts, and why.
    BadUri {
        /// Which part is wrong.
        why: &'static str,
    },
    /// Not printable parameters separated by `;` (for Opus: not `key=value` ones).
    BadFmtp,
    /// A JSON array where an object belongs (serde's positional struct form is not accepted).
    ExpectedObject,
    /// Values that contradict each other, and how.
    Inconsistent {
        /// The rule broken.
        why: &'static str,
    },
    /// The answer does not fit the offer, and how.
    Mismatch {
        /// The rule broken.
        why: &'static str,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ControlCharacter => f.write_str("contains NUL or a control character"),
            Reason::Length { min, max, actual } => {
                write!(f, "length {actual} bytes is outside {min}..={max}")
            }
            Reason::Charset { allowed } => write!(f, "has a character outside [{allowed}]"),
            Reason::Count { min, max, actual } => {
                write!(f, "{actual} entries is outside {min}..={max}")
            }
            Reason::OutOfRange { min, max, actual } => {
                write!(f, "{actual} is outside {min}..={max}")
            }
            Reason::NotGuid => f.write_str("is not a GUID (8-4-4-4-12 hex digits)"),
            Reason::NotIpAddress => f.write_str("is not an IPv4 or IPv6 literal"),
            Reason::UnusableAddress => {
                f.write_str("is an unspecified, multicast or broadcast address")
            }
            Reason::Unsupported { expected } => write!(f, "is not one of: {expected}"),
            Reason::Duplicate { first } => write!(f, "duplicates entry [{first}]"),
            Reason::BadFingerprint => {
                f.write_str("is not 32 colon-separated hex bytes (a SHA-256 fingerprint)")
            }
            Reason::MissingOpus => f.write_str("has no Opus codec"),
            Reason::UnsupportedScheme { found } => write!(
                f,
                "scheme `{found}` is not supported: mpUri must be https (http only for a loopback host)"
            ),
            Reason::InsecureHttp => f.write_str("http is allowed only for a loopback host"),
            Reason::BadUri { why } => write!(f, "is not an accepted URL: {why}"),
            Reason::BadFmtp => f.write_str(
                "is not printable parameters separated by `;` (`key=value` ones for Opus)",
            ),
            Reason::ExpectedObject => {
                f.write_str("is an array where an object belongs (fields go by name)")
            }
            Reason::Inconsistent { why } => f.write_str(why),
            Reason::Mismatch { why } => write!(f, "does not match the offer: {why}"),
        }
    }
}

fn invalid(field: impl Into<String>, reason: Reason) -> BlobError {
    BlobError::Invalid {
        field: field.into(),
        reason,
    }
}

// ---------------------------------------------------------------------------------------------
// Identifiers

/// A GUID, as Microsoft's blob writes its session and socket ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(u128);

impl Guid {
    /// The GUID with these 128 bits (big-endian, as written).
    pub const fn from_u128(bits: u128) -> Guid {
        Guid(bits)
    }

    /// The 128 bits.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// The GUID with these 16 bytes (big-endian, as written). Feed it 16 random bytes for a
    /// fresh id; this module never draws randomness itself.
    pub const fn from_bytes(bytes: [u8; 16]) -> Guid {
        Guid(u128::from_be_bytes(bytes))
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex digits of either case, no braces).
    pub fn parse(text: &str) -> Option<Guid> {
        let bytes = text.as_bytes();
        if bytes.len() != 36 {
            return None;
        }
        let mut bits: u128 = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if b != b'-' {
                    return None;
                }
                continue;
            }
            let nibble = (b as char).to_digit(16)?;
            bits = (bits << 4) | u128::from(nibble);
        }
        Some(Guid(bits))
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (b >> 96) as u32,
            (b >> 80) as u16,
            (b >> 64) as u16,
            (b >> 48) as u16,
            b & 0xFFFF_FFFF_FFFF
        )
    }
}

/// The media session id (`mpMediaSessionId`): names one negotiation from offer to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaSessionId(Guid);

impl MediaSessionId {
    /// The session id with this GUID.
    pub const fn new(guid: Guid) -> MediaSessionId {
        MediaSessionId(guid)
    }

    /// The GUID.
    pub const fn guid(self) -> Guid {
        self.0
    }
}

impl fmt::Display for MediaSessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

// ---------------------------------------------------------------------------------------------
// mpUri

/// A validated `mpUri`: the https URL (http only for loopback) where the media processor POSTs
/// its [`MediaAnswer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpUri {
    text: String,
    https: bool,
    host: String,
    port: u16,
    path_and_query: String,
    loopback: bool,
}

impl MpUri {
    /// Parses and checks an `mpUri`: scheme `https`, or `http` with a loopback host (`localhost`,
    /// `127.0.0.0/8`, `[::1]`); a DNS name or IP literal host; an optional nonzero port; no user
    /// info, no fragment, no whitespace or control characters; at most [`MAX_MP_URI_BYTES`].
    pub fn parse(text: &str) -> Result<MpUri, Reason> {
        check_text(text, 1, MAX_MP_URI_BYTES)?;
        let (scheme, rest) = text.split_once("://").ok_or(Reason::BadUri {
            why: "not an absolute URL (no `scheme://`)",
        })?;
        let https = match scheme {
            "https" => true,
            "http" => false,
            other => {
                return Err(Reason::UnsupportedScheme {
                    found: other.to_owned(),
                });
            }
        };
        if rest.contains('#') {
            return Err(Reason::BadUri {
                why: "has a fragment",
            });
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(Reason::BadUri {
                why: "has user info",
            });
        }
        let (host, port_text, ip) = split_host_port(authority)?;
        let port = match port_text {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(digits) => parse_port(digits)?,
        };
        check_path_and_query(path_and_query)?;
        let loopback = match ip {
            Some(ip) => ip.is_loopback(),
            None => host.eq_ignore_ascii_case("localhost"),
        };
        if !https && !loopback {
            return Err(Reason::InsecureHttp);
        }
        Ok(MpUri {
            text: text.to_owned(),
            https,
            host: host.to_owned(),
            port,
            path_and_query: if path_and_query.is_empty() {
                "/".to_owned()
            } else {
                path_and_query.to_owned()
            },
            loopback,
        })
    }

    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the scheme is `https` (otherwise it is `http` to a loopback host).
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host: a DNS name, or an IP literal (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path and query (`/` when the URL has neither).
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// Whether the host is loopback.
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }
}

impl fmt::Display for MpUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Splits an authority into host, optional port digits, and the host's IP when it is a literal.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>, Option<IpAddr>), Reason> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']').ok_or(Reason::BadUri {
            why: "unclosed `[` in the host",
        })?;
        let ip: std::net::Ipv6Addr = inside.parse().map_err(|_| Reason::BadUri {
            why: "bracketed host is not an IPv6 literal",
        })?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(Reason::BadUri {
                why: "junk after the bracketed host",
            })?),
        };
        check_usable_host_ip(IpAddr::V6(ip))?;
        return Ok((inside, port, Some(IpAddr::V6(ip))));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        check_usable_host_ip(IpAddr::V4(ip))?;
        return Ok((host, port, Some(IpAddr::V4(ip))));
    }
    check_dns_name(host)?;
    Ok((host, port, None))
}

fn check_usable_host_ip(ip: IpAddr) -> Result<(), Reason> {
    if ip.is_unspecified() || ip.is_multicast() {
        return Err(Reason::BadUri {
            why: "host is an unspecified or multicast address",
        });
    }
    Ok(())
}

/// LDH labels of 1–63 characters, 253 in all, not all-numeric in the last label.
fn check_dns_name(host: &str) -> Result<(), Reason> {
    const BAD: Reason = Reason::BadUri {
        why: "host is not a DNS name or IP literal",
    };
    if host.is_empty() || host.len() > 253 {
        return Err(BAD);
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let mut last_label = "";
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(BAD);
        }
        last_label = label;
    }
    if last_label.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BAD);
    }
    Ok(())
}

fn parse_port(digits: &str) -> Result<u16, Reason> {
    const BAD: Reason = Reason::BadUri {
        why: "port is not a number in 1..=65535",
    };
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BAD);
    }
    match digits.parse::<u16>() {
        Ok(0) | Err(_) => Err(BAD),
        Ok(port) => Ok(port),
    }
}

/// RFC 3986 path/query characters: unreserved, sub-delims, `:@/?` and well-formed `%XX`.
fn check_path_and_query(text: &str) -> Result<(), Reason> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(|c| c.is_ascii_hexdigit());
            if !(hex(i + 1) && hex(i + 2)) {
                return Err(Reason::BadUri {
                    why: "malformed percent-escape",
                });
            }
            i += 3;
            continue;
        }
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b);
        if !allowed {
            return Err(Reason::BadUri {
                why: "character not allowed in a URL path or query",
            });
        }
        i += 1;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Wire types

/// The PCM format the bot's audio pipeline works in (Microsoft's `supportedAudioFormat`). On the
/// wire audio is always Opus at 48 kHz; this tells the peer what the bot renders and sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SupportedAudioFormat {
    /// 16 kHz mono, 16-bit (what mediabot's pipeline produces by default).
    Pcm16K,
    /// 44.1 kHz stereo, 16-bit.
    Pcm44KStereo,
}

/// Which audio the bot wants to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReceiveMode {
    /// One mixed stream of the meeting.
    Mixed,
    /// One stream per active speaker, each tagged with its MSI (no mix).
    Unmixed,
    /// The mix and per-speaker streams.
    Both,
}

/// The offer: what the bot puts (as a string) in Graph's `appHostedMediaConfig.blob`.
///
/// Plain data. Get one from untrusted text with [`parse_blob`] and build one with
/// [`MediaBlobBuilder`]; both give a [`ValidatedBlob`]. Deserialising this type directly skips the
/// size, nesting and value checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "RawBlob")]
pub struct MediaBlob {
    /// mediabot's blob format version ([`BLOB_VERSION`]).
    pub mediabot_blob_version: u32,
    /// Where the media processor POSTs its answer: an https URL on the bot.
    pub mp_uri: String,
    /// The media session id, a GUID.
    pub mp_media_session_id: String,
    /// Graph call id, when known (answering a call; unknown before a create).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// GUIDs naming the bot's audio receive sockets (at least one).
    pub audio_render_contexts: Vec<String>,
    /// GUIDs naming the bot's audio send sockets (none for a receive-only bot).
    pub audio_source_contexts: Vec<String>,
    /// The bot's PCM format.
    pub supported_audio_format: SupportedAudioFormat,
    /// Mixed, unmixed or both.
    pub receive_mode: ReceiveMode,
    /// Most per-speaker streams the bot takes (0 for mixed, 1–64 otherwise).
    pub max_unmixed_streams: u16,
    /// Implementation that wrote the blob, e.g. `mediabot-media/0.1.0`. Informational only:
    /// compatibility is decided by `mediabotBlobVersion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mp_version: Option<String>,
    /// The bot's ICE/DTLS/codec/stream parameters.
    pub transport: TransportParams,
}

/// The blob as deserialised: mediabot's fields, plus Microsoft's SDK fields that mediabot does not
/// use, accepted and dropped (so a peer that copies them along is not rejected). Any other field
/// is an error.
#[derive(Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a mediabot media blob (a JSON object)"
)]
struct RawBlob {
    mediabot_blob_version: u32,
    mp_uri: String,
    mp_media_session_id: String,
    #[serde(default)]
    call_id: Option<String>,
    audio_render_contexts: Vec<String>,
    audio_source_contexts: Vec<String>,
    supported_audio_format: SupportedAudioFormat,
    receive_mode: ReceiveMode,
    #[serde(default)]
    max_unmixed_streams: u16,
    #[serde(default)]
    mp_version: Option<String>,
    transport: TransportParams,
    // Microsoft SDK fields with no meaning for mediabot's transport: accepted, ignored.
    #[serde(default, rename = "videoRenderContexts")]
    _video_render_contexts: Option<IgnoredAny>,
    #[serde(default, rename = "videoSourceContexts")]
    _video_source_contexts: Option<IgnoredAny>,
    #[serde(default, rename = "dataRenderContexts")]
    _data_render_contexts: Option<IgnoredAny>,
    #[serde(default, rename = "dataSourceContexts")]
    _data_source_contexts: Option<IgnoredAny>,
    #[serde(default, rename = "videoSinkEncodingFormats")]
    _video_sink_encoding_formats: Option<IgnoredAny>,
    #[serde(default, rename = "regionAffinity")]
    _region_affinity: Option<IgnoredAny>,
    #[serde(default, rename = "skypeMediaBotsVersion")]
    _skype_media_bots_version: Option<IgnoredAny>,
    #[serde(default, rename = "mediaStackVersion")]
    _media_stack_version: Option<IgnoredAny>,
}

impl From<RawBlob> for MediaBlob {
    fn from(raw: RawBlob) -> MediaBlob {
        MediaBlob {
            mediabot_blob_version: raw.mediabot_blob_version,
            mp_uri: raw.mp_uri,
            mp_media_session_id: raw.mp_media_session_id,
            call_id: raw.call_id,
            audio_render_contexts: raw.audio_render_contexts,
            audio_source_contexts: raw.audio_source_contexts,
            supported_audio_format: raw.supported_audio_format,
            receive_mode: raw.receive_mode,
            max_unmixed_streams: raw.max_unmixed_streams,
            mp_version: raw.mp_version,
            transport: raw.transport,
        }
    }
}

/// The answer: what the media processor POSTs to the offer's `mpUri`.
///
/// Plain data. Get one from untrusted text with [`parse_answer`], or check one with
/// [`ValidatedAnswer::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a mediabot media answer (a JSON object)"
)]
pub struct MediaAnswer {
    /// mediabot's blob format version ([`BLOB_VERSION`]).
    pub mediabot_blob_version: u32,
    /// The offer's `mpMediaSessionId`, echoed.
    pub mp_media_session_id: String,
    /// Graph call id, when the processor knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// Implementation that wrote the answer. Informational only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp_version: Option<String>,
    /// The processor's ICE/DTLS/codec parameters and its SSRC ↔ MSI stream plan.
    pub transport: TransportParams,
}

impl MediaAnswer {
    /// An answer for `session_id` with these transport parameters, stamped with this code's
    /// version and implementation name.
    pub fn new(session_id: MediaSessionId, transport: TransportParams) -> MediaAnswer {
        MediaAnswer {
            mediabot_blob_version: BLOB_VERSION,
            mp_media_session_id: session_id.to_string(),
            call_id: None,
            mp_version: Some(MP_VERSION.to_owned()),
            transport,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Parses and validates a blob string (the decoded value of `appHostedMediaConfig.blob`).
pub fn parse_blob(text: &str) -> Result<ValidatedBlob, BlobError> {
    let document = read_document(text)?;
    let version = version_of(&document)?;
    if version.is_none() && document.get("transport").is_none() {
        let net_tcp = document
            .get("mpUri")
            .and_then(Value::as_str)
            .and_then(|uri| uri.get(..10))
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("net.tcp://"));
        if net_tcp {
            return Err(BlobError::MicrosoftSdkBlob {
                evidence: "net.tcp mpUri",
            });
        }
        if document.get("skypeMediaBotsVersion").is_some() {
            return Err(BlobError::MicrosoftSdkBlob {
                evidence: "skypeMediaBotsVersion",
            });
        }
    }
    check_version(version)?;
    check_objects(&document)?;
    let blob: MediaBlob = serde_json::from_str(text).map_err(BlobError::Malformed)?;
    ValidatedBlob::new(blob)
}

/// Parses and validates an answer body (what the media processor POSTs to `mpUri`).
pub fn parse_answer(text: &str) -> Result<ValidatedAnswer, BlobError> {
    let document = read_document(text)?;
    check_version(version_of(&document)?)?;
    check_objects(&document)?;
    let answer: MediaAnswer = serde_json::from_str(text).map_err(BlobError::Malformed)?;
    ValidatedAnswer::new(answer)
}

/// Size check, nesting scan, then a generic parse that must yield an object. The generic form
/// lets the version be read before the typed parse judges the rest.
fn read_document(text: &str) -> Result<Value, BlobError> {
    if text.len() > MAX_BLOB_BYTES {
        return Err(BlobError::TooLarge {
            len: text.len(),
            max: MAX_BLOB_BYTES,
        });
    }
    check_nesting(text.as_bytes(), MAX_NESTING)?;
    let document: Value = serde_json::from_str(text).map_err(BlobError::Malformed)?;
    if !document.is_object() {
        return Err(malformed("expected a JSON object"));
    }
    Ok(document)
}

fn malformed(message: &str) -> BlobError {
    BlobError::Malformed(<serde_json::Error as serde::de::Error>::custom(message))
}

/// `mediabotBlobVersion`, if present; it must be an unsigned integer.
fn version_of(document: &Value) -> Result<Option<u64>, BlobError> {
    match document.get("mediabotBlobVersion") {
        None => Ok(None),
        Some(version) => version
            .as_u64()
            .map(Some)
            .ok_or_else(|| malformed("mediabotBlobVersion must be an unsigned integer")),
    }
}

/// serde reads a struct from a JSON array too (fields by position). mediabot's format has named
/// fields only, so an array where an object belongs is refused before the typed parse.
fn check_objects(document: &Value) -> Result<(), BlobError> {
    let Some(transport) = document.get("transport") else {
        return Ok(());
    };
    let positional = |field: String| invalid(field, Reason::ExpectedObject);
    if transport.is_array() {
        return Err(positional("transport".into()));
    }
    for name in ["ice", "fingerprint"] {
        if transport.get(name).is_some_and(Value::is_array) {
            return Err(positional(format!("transport.{name}")));
        }
    }
    for list in ["candidates", "audioCodecs", "headerExtensions", "streams"] {
        if let Some(Value::Array(entries)) = transport.get(list)
            && let Some(i) = entries.iter().position(Value::is_array)
        {
            return Err(positional(format!("transport.{list}[{i}]")));
        }
    }
    Ok(())
}

fn check_version(version: Option<u64>) -> Result<(), BlobError> {
    let found = version.ok_or(BlobError::MissingVersion)?;
    if SUPPORTED_VERSIONS.iter().any(|&v| u64::from(v) == found) {
        Ok(())
    } else {
        Err(BlobError::UnsupportedVersion {
            found,
            supported: SUPPORTED_VERSIONS,
        })
    }
}

/// Rejects JSON deeper than `max` without parsing it: counts `[`/`{` outside strings.
fn check_nesting(bytes: &[u8], max: usize) -> Result<(), BlobError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(BlobError::TooDeep { max, offset });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Validated forms

/// A blob that passed every check: the proof that it can be sent or acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedBlob {
    blob: MediaBlob,
    session_id: MediaSessionId,
    mp_uri: MpUri,
    audio_render_contexts: Vec<Guid>,
    audio_source_contexts: Vec<Guid>,
}

impl ValidatedBlob {
    /// Checks every rule of `docs/media-blob.md` on an offer.
    pub fn new(blob: MediaBlob) -> Result<ValidatedBlob, BlobError> {
        check_version(Some(u64::from(blob.mediabot_blob_version)))?;
        let mp_uri = MpUri::parse(&blob.mp_uri).map_err(|r| invalid("mpUri", r))?;
        let session_id = parse_session_id(&blob.mp_media_session_id)?;
        if let Some(call_id) = &blob.call_id {
            check_call_id(call_id)?;
        }
        let audio_render_contexts =
            parse_contexts("audioRenderContexts", &blob.audio_render_contexts, 1)?;
        let audio_source_contexts =
            parse_contexts("audioSourceContexts", &blob.audio_source_contexts, 0)?;
        check_context_uniqueness(session_id, &audio_render_contexts, &audio_source_contexts)?;
        match blob.receive_mode {
            ReceiveMode::Mixed if blob.max_unmixed_streams != 0 => {
                return Err(invalid(
                    "maxUnmixedStreams",
                    Reason::Inconsistent {
                        why: "must be 0 when receiveMode is mixed",
                    },
                ));
            }
            ReceiveMode::Unmixed | ReceiveMode::Both => check_range(
                "maxUnmixedStreams",
                u64::from(blob.max_unmixed_streams),
                1,
                MAX_STREAMS as u64,
            )?,
            ReceiveMode::Mixed => {}
        }
        if let Some(version) = &blob.mp_version {
            check_mp_version(version)?;
        }
        check_transport(&blob.transport)?;
        if blob.transport.setup != DtlsSetup::Actpass {
            return Err(invalid(
                "transport.setup",
                Reason::Unsupported {
                    expected: "actpass (the offerer's role, RFC 5763)",
                },
            ));
        }
        Ok(ValidatedBlob {
            blob,
            session_id,
            mp_uri,
            audio_render_contexts,
            audio_source_contexts,
        })
    }

    /// The blob string for `appHostedMediaConfig.blob` (compact JSON; Graph embeds it as a JSON
    /// string, escaping it once more).
    pub fn to_blob_string(&self) -> String {
        serde_json::to_string(&self.blob)
            .expect("MediaBlob serialises: it holds only strings, integers, enums and lists")
    }

    /// The plain data.
    pub fn blob(&self) -> &MediaBlob {
        &self.blob
    }

    /// The plain data, by value.
    pub fn into_blob(self) -> MediaBlob {
        self.blob
    }

    /// `mpMediaSessionId`.
    pub fn session_id(&self) -> MediaSessionId {
        self.session_id
    }

    /// `mpUri`: where the answer goes.
    pub fn mp_uri(&self) -> &MpUri {
        &self.mp_uri
    }

    /// `callId`, when known.
    pub fn call_id(&self) -> Option<&str> {
        self.blob.call_id.as_deref()
    }

    /// `audioRenderContexts`.
    pub fn audio_render_contexts(&self) -> &[Guid] {
        &self.audio_render_contexts
    }

    /// `audioSourceContexts`.
    pub fn audio_source_contexts(&self) -> &[Guid] {
        &self.audio_source_contexts
    }

    /// `supportedAudioFormat`.
    pub fn supported_audio_format(&self) -> SupportedAudioFormat {
        self.blob.supported_audio_format
    }

    /// `receiveMode`.
    pub fn receive_mode(&self) -> ReceiveMode {
        self.blob.receive_mode
    }

    /// `maxUnmixedStreams` (0 for mixed).
    pub fn max_unmixed_streams(&self) -> u16 {
        self.blob.max_unmixed_streams
    }

    /// The bot's transport parameters.
    pub fn transport(&self) -> &TransportParams {
        &self.blob.transport
    }
}

/// An answer that passed every check on its own. [`ValidatedAnswer::check_against`] then checks
/// that it fits the offer it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedAnswer {
    answer: MediaAnswer,
    session_id: MediaSessionId,
}

impl ValidatedAnswer {
    /// Checks every rule of `docs/media-blob.md` on an answer.
    pub fn new(answer: MediaAnswer) -> Result<ValidatedAnswer, BlobError> {
        check_version(Some(u64::from(answer.mediabot_blob_version)))?;
        let session_id = parse_session_id(&answer.mp_media_session_id)?;
        if let Some(call_id) = &answer.call_id {
            check_call_id(call_id)?;
        }
        if let Some(version) = &answer.mp_version {
            check_mp_version(version)?;
        }
        check_transport(&answer.transport)?;
        if answer.transport.setup == DtlsSetup::Actpass {
            return Err(invalid(
                "transport.setup",
                Reason::Unsupported {
                    expected: "active or passive (the answerer picks a role, RFC 5763)",
                },
            ));
        }
        Ok(ValidatedAnswer { answer, session_id })
    }

    /// Checks that this answer fits `offer`: same format version; same session (and call, when
    /// both name one); every codec the answer lists is offered with the same payload type,
    /// name, clock rate and channels; every header extension id maps to the URI the offer gave
    /// it; and the answer sends no more MSI-tagged streams than the offer's `maxUnmixedStreams`.
    pub fn check_against(&self, offer: &ValidatedBlob) -> Result<(), BlobError> {
        let mismatch = |field: String, why| invalid(field, Reason::Mismatch { why });
        if self.answer.mediabot_blob_version != offer.blob().mediabot_blob_version {
            return Err(mismatch(
                "mediabotBlobVersion".into(),
                "an answer is written in the offer's version",
            ));
        }
        if self.session_id != offer.session_id() {
            return Err(mismatch(
                "mpMediaSessionId".into(),
                "not the offer's session id",
            ));
        }
        if let (Some(ours), Some(theirs)) = (&self.answer.call_id, offer.call_id())
            && ours != theirs
        {
            return Err(mismatch("callId".into(), "not the offer's call id"));
        }
        let offered = &offer.transport().audio_codecs;
        for (i, codec) in self.answer.transport.audio_codecs.iter().enumerate() {
            let found = offered.iter().any(|o| {
                o.payload_type == codec.payload_type
                    && o.name.eq_ignore_ascii_case(&codec.name)
                    && o.clock_rate == codec.clock_rate
                    && o.channels == codec.channels
            });
            if !found {
                return Err(mismatch(
                    format!("transport.audioCodecs[{i}]"),
                    "the offer has no codec with this payload type, name, clock rate and channels",
                ));
            }
        }
        let offered = &offer.transport().header_extensions;
        for (i, ext) in self.answer.transport.header_extensions.iter().enumerate() {
            if !offered.iter().any(|o| o.id == ext.id && o.uri == ext.uri) {
                return Err(mismatch(
                    format!("transport.headerExtensions[{i}]"),
                    "the offer does not map this id to this URI",
                ));
            }
        }
        let tagged = self
            .answer
            .transport
            .streams
            .iter()
            .filter(|s| s.direction == StreamDirection::Send && s.msi.is_some())
            .count();
        if tagged > usize::from(offer.max_unmixed_streams()) {
            return Err(mismatch(
                "transport.streams".into(),
                "more MSI-tagged send streams than the offer's maxUnmixedStreams",
            ));
        }
        Ok(())
    }

    /// The answer body (compact JSON).
    pub fn to_answer_string(&self) -> String {
        serde_json::to_string(&self.answer)
            .expect("MediaAnswer serialises: it holds only strings, integers, enums and lists")
    }

    /// The plain data.
    pub fn answer(&self) -> &MediaAnswer {
        &self.answer
    }

    /// The plain data, by value.
    pub fn into_answer(self) -> MediaAnswer {
        self.answer
    }

    /// The echoed `mpMediaSessionId`.
    pub fn session_id(&self) -> MediaSessionId {
        self.session_id
    }

    /// The processor's transport parameters.
    pub fn transport(&self) -> &TransportParams {
        &self.answer.transport
    }

    /// The MSI carried by `ssrc`, from the answer's stream plan.
    pub fn msi_for_ssrc(&self, ssrc: u32) -> Option<u32> {
        self.answer
            .transport
            .streams
            .iter()
            .find(|s| s.ssrc == ssrc)
            .and_then(|s| s.msi)
    }
}

// ---------------------------------------------------------------------------------------------
// Builder

/// Builds the bot's offer. Required: `mpUri`, the session id and the transport parameters.
/// Defaults: no call id, `Pcm16K`, mixed receive, `mpVersion` = this crate, and audio socket
/// GUIDs derived from the session id (they only need to be unique within the blob).
#[derive(Debug, Clone)]
pub struct MediaBlobBuilder {
    blob: MediaBlob,
}

impl MediaBlobBuilder {
    /// Starts an offer.
    pub fn new(
        mp_uri: impl Into<String>,
        session_id: MediaSessionId,
        transport: TransportParams,
    ) -> MediaBlobBuilder {
        let bits = session_id.guid().as_u128();
        MediaBlobBuilder {
            blob: MediaBlob {
                mediabot_blob_version: BLOB_VERSION,
                mp_uri: mp_uri.into(),
                mp_media_session_id: session_id.to_string(),
                call_id: None,
                audio_render_contexts: vec![Guid(bits ^ RENDER_CONTEXT_SALT).to_string()],
                audio_source_contexts: vec![Guid(bits ^ SOURCE_CONTEXT_SALT).to_string()],
                supported_audio_format: SupportedAudioFormat::Pcm16K,
                receive_mode: ReceiveMode::Mixed,
                max_unmixed_streams: 0,
                mp_version: Some(MP_VERSION.to_owned()),
                transport,
            },
        }
    }

    /// The Graph call id (known when answering an incoming call).
    pub fn call_id(mut self, call_id: impl Into<String>) -> MediaBlobBuilder {
        self.blob.call_id = Some(call_id.into());
        self
    }

    /// The audio socket GUIDs: one receive (render) and, unless `None`, one send (source).
    pub fn audio_contexts(mut self, render: Guid, source: Option<Guid>) -> MediaBlobBuilder {
        self.blob.audio_render_contexts = vec![render.to_string()];
        self.blob.audio_source_contexts = source.iter().map(Guid::to_string).collect();
        self
    }

    /// Receive mode and the most per-speaker streams (use 0 with [`ReceiveMode::Mixed`]).
    pub fn receive_mode(mut self, mode: ReceiveMode, max_unmixed_streams: u16) -> MediaBlobBuilder {
        self.blob.receive_mode = mode;
        self.blob.max_unmixed_streams = max_unmixed_streams;
        self
    }

    /// The bot's PCM format.
    pub fn supported_audio_format(mut self, format: SupportedAudioFormat) -> MediaBlobBuilder {
        self.blob.supported_audio_format = format;
        self
    }

    /// Validates and returns the offer.
    pub fn build(self) -> Result<ValidatedBlob, BlobError> {
        ValidatedBlob::new(self.blob)
    }
}

// ---------------------------------------------------------------------------------------------
// Value rules

/// No control characters, and a byte length within `min..=max`.
fn check_text(text: &str, min: usize, max: usize) -> Result<(), Reason> {
    if text.chars().any(char::is_control) {
        return Err(Reason::ControlCharacter);
    }
    if !(min..=max).contains(&text.len()) {
        return Err(Reason::Length {
            min,
            max,
            actual: text.len(),
        });
    }
    Ok(())
}

/// [`check_text`] plus a character set.
fn check_token(
    text: &str,
    min: usize,
    max: usize,
    allowed: &'static str,
    is_allowed: fn(u8) -> bool,
) -> Result<(), Reason> {
    check_text(text, min, max)?;
    if !text.bytes().all(is_allowed) {
        return Err(Reason::Charset { allowed });
    }
    Ok(())
}

fn is_ice_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Printable ASCII that JSON writes as itself: no space, `"` or `\`. Free-form strings are kept
/// to it so that a valid blob's serialised size is the sum of its bounded lengths.
fn is_plain_char(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'"' && b != b'\\'
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'
}

fn check_range(field: &str, value: u64, min: u64, max: u64) -> Result<(), BlobError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            field,
            Reason::OutOfRange {
                min,
                max,
                actual: value,
            },
        ))
    }
}

fn check_count(field: &str, actual: usize, min: usize, max: usize) -> Result<(), BlobError> {
    if (min..=max).contains(&actual) {
        Ok(())
    } else {
        Err(invalid(field, Reason::Count { min, max, actual }))
    }
}

fn parse_session_id(text: &str) -> Result<MediaSessionId, BlobError> {
    check_text(text, 1, 36).map_err(|r| invalid("mpMediaSessionId", r))?;
    Guid::parse(text)
        .map(MediaSessionId)
        .ok_or_else(|| invalid("mpMediaSessionId", Reason::NotGuid))
}

fn check_call_id(call_id: &str) -> Result<(), BlobError> {
    check_token(call_id, 1, 128, ID_CHARS, is_id_char).map_err(|r| invalid("callId", r))
}

fn check_mp_version(version: &str) -> Result<(), BlobError> {
    check_token(version, 1, 64, PLAIN_OR_SPACE, |b| {
        is_plain_char(b) || b == b' '
    })
    .map_err(|r| invalid("mpVersion", r))
}

fn parse_contexts(field: &str, texts: &[String], min: usize) -> Result<Vec<Guid>, BlobError> {
    check_count(field, texts.len(), min, MAX_AUDIO_CONTEXTS)?;
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            check_text(text, 1, 36).map_err(|r| invalid(format!("{field}[{i}]"), r))?;
            Guid::parse(text).ok_or_else(|| invalid(format!("{field}[{i}]"), Reason::NotGuid))
        })
        .collect()
}

/// The session id and every socket GUID are distinct.
fn check_context_uniqueness(
    session_id: MediaSessionId,
    render: &[Guid],
    source: &[Guid],
) -> Result<(), BlobError> {
    let named = render
        .iter()
        .enumerate()
        .map(|(i, g)| (format!("audioRenderContexts[{i}]"), *g))
        .chain(
            source
                .iter()
                .enumerate()
                .map(|(i, g)| (format!("audioSourceContexts[{i}]"), *g)),
        );
    let mut seen: Vec<Guid> = Vec::with_capacity(render.len() + source.len());
    for (field, guid) in named {
        if guid == session_id.guid() {
            return Err(invalid(
                field,
                Reason::Inconsistent {
                    why: "equals mpMediaSessionId; socket GUIDs must differ from the session id",
                },
            ));
        }
        if let Some(first) = seen.iter().position(|g| *g == guid) {
            return Err(invalid(field, Reason::Duplicate { first }));
        }
        seen.push(guid);
    }
    Ok(())
}

/// Rules shared by offer and answer transport parameters (the DTLS role rule differs and is
/// checked by the caller).
fn check_transport(transport: &TransportParams) -> Result<(), BlobError> {
    check_ice(&transport.ice)?;
    check_candidates(&transport.candidates)?;
    check_fingerprint(&transport.fingerprint)?;
    check_codecs(&transport.audio_codecs)?;
    check_header_extensions(&transport.header_extensions)?;
    check_streams(&transport.streams)
}

fn check_ice(ice: &IceParams) -> Result<(), BlobError> {
    check_token(&ice.ufrag, 4, 256, ICE_CHARS, is_ice_char)
        .map_err(|r| invalid("transport.ice.ufrag", r))?;
    check_token(&ice.pwd, 22, 256, ICE_CHARS, is_ice_char)
        .map_err(|r| invalid("transport.ice.pwd", r))
}

fn check_candidates(candidates: &[IceCandidate]) -> Result<(), BlobError> {
    check_count("transport.candidates", candidates.len(), 1, MAX_CANDIDATES)?;
    let mut seen: Vec<(IpAddr, u16)> = Vec::with_capacity(candidates.len());
    for (i, c) in candidates.iter().enumerate() {
        let field = |name: &str| format!("transport.candidates[{i}].{name}");
        check_token(&c.foundation, 1, 32, ICE_CHARS, is_ice_char)
            .map_err(|r| invalid(field("foundation"), r))?;
        // RTCP is multiplexed on the RTP component (RFC 5761), so only component 1 exists.
        check_range(&field("component"), u64::from(c.component), 1, 1)?;
        check_text(&c.protocol, 1, 8).map_err(|r| invalid(field("protocol"), r))?;
        if !c.protocol.eq_ignore_ascii_case("udp") {
            return Err(invalid(
                field("protocol"),
                Reason::Unsupported { expected: "udp" },
            ));
        }
        check_range(&field("priority"), u64::from(c.priority), 1, (1 << 31) - 1)?;
        check_text(&c.address, 2, 45).map_err(|r| invalid(field("address"), r))?;
        let ip: IpAddr = c
            .address
            .parse()
            .map_err(|_| invalid(field("address"), Reason::NotIpAddress))?;
        let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
        if ip.is_unspecified() || ip.is_multicast() || broadcast {
            return Err(invalid(field("address"), Reason::UnusableAddress));
        }
        check_range(&field("port"), u64::from(c.port), 1, u64::from(u16::MAX))?;
        if !matches!(c.kind.as_str(), "host" | "srflx" | "prflx" | "relay") {
            check_text(&c.kind, 1, 8).map_err(|r| invalid(field("type"), r))?;
            return Err(invalid(
                field("type"),
                Reason::Unsupported {
                    expected: "host, srflx, prflx, relay",
                },
            ));
        }
        if let Some(first) = seen.iter().position(|s| *s == (ip, c.port)) {
            return Err(invalid(
                format!("transport.candidates[{i}]"),
                Reason::Duplicate { first },
            ));
        }
        seen.push((ip, c.port));
    }
    Ok(())
}

fn check_fingerprint(fingerprint: &DtlsFingerprint) -> Result<(), BlobError> {
    check_text(&fingerprint.algorithm, 1, 16)
        .map_err(|r| invalid("transport.fingerprint.algorithm", r))?;
    if !fingerprint.algorithm.eq_ignore_ascii_case("sha-256") {
        return Err(invalid(
            "transport.fingerprint.algorithm",
            Reason::Unsupported {
                expected: "sha-256",
            },
        ));
    }
    let value = &fingerprint.value;
    let well_formed = value.len() == 32 * 3 - 1
        && value.split(':').count() == 32
        && value
            .split(':')
            .all(|byte| byte.len() == 2 && byte.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed {
        check_text(value, 0, usize::MAX).map_err(|r| invalid("transport.fingerprint.value", r))?;
        return Err(invalid(
            "transport.fingerprint.value",
            Reason::BadFingerprint,
        ));
    }
    Ok(())
}

fn check_codecs(codecs: &[AudioCodec]) -> Result<(), BlobError> {
    check_count("transport.audioCodecs", codecs.len(), 1, MAX_CODECS)?;
    let mut has_opus = false;
    for (i, codec) in codecs.iter().enumerate() {
        let field = |name: &str| format!("transport.audioCodecs[{i}].{name}");
        check_range(
            &field("payloadType"),
            u64::from(codec.payload_type),
            96,
            127,
        )?;
        if let Some(first) = codecs[..i]
            .iter()
            .position(|c| c.payload_type == codec.payload_type)
        {
            return Err(invalid(field("payloadType"), Reason::Duplicate { first }));
        }
        check_token(&codec.name, 1, 32, ID_CHARS, is_id_char)
            .map_err(|r| invalid(field("name"), r))?;
        check_range(&field("clockRate"), u64::from(codec.clock_rate), 1, 192_000)?;
        check_range(&field("channels"), u64::from(codec.channels), 1, 2)?;
        let opus = codec.name.eq_ignore_ascii_case("opus");
        check_fmtp(&codec.fmtp, opus).map_err(|r| invalid(field("fmtp"), r))?;
        if opus {
            // RFC 7587 §7: Opus is always signalled as opus/48000/2.
            check_range(
                &field("clockRate"),
                u64::from(codec.clock_rate),
                48_000,
                48_000,
            )?;
            check_range(&field("channels"), u64::from(codec.channels), 2, 2)?;
            has_opus = true;
        }
    }
    if !has_opus {
        return Err(invalid("transport.audioCodecs", Reason::MissingOpus));
    }
    Ok(())
}

/// Empty, or parameters separated by `;` (spaces after `;` allowed), plain ASCII, at most
/// 128 bytes. Each parameter's syntax belongs to its codec (RED says `111/111`); Opus's are all
/// `key=value` (RFC 7587 §7), so `key_value` demands that form.
fn check_fmtp(fmtp: &str, key_value: bool) -> Result<(), Reason> {
    check_text(fmtp, 0, 128)?;
    if fmtp.is_empty() {
        return Ok(());
    }
    for param in fmtp.split(';') {
        let param = param.trim_start_matches(' ');
        if param.is_empty() || !param.bytes().all(is_plain_char) {
            return Err(Reason::BadFmtp);
        }
        if key_value {
            let (key, value) = param.split_once('=').ok_or(Reason::BadFmtp)?;
            if key.is_empty() || !key.bytes().all(is_id_char) || value.is_empty() {
                return Err(Reason::BadFmtp);
            }
        }
    }
    Ok(())
}

fn check_header_extensions(extensions: &[HeaderExtensionMap]) -> Result<(), BlobError> {
    check_count(
        "transport.headerExtensions",
        extensions.len(),
        0,
        MAX_HEADER_EXTENSIONS,
    )?;
    for (i, ext) in extensions.iter().enumerate() {
        let field = |name: &str| format!("transport.headerExtensions[{i}].{name}");
        // One-byte header form (RFC 8285 §4.2): ids 1–14.
        check_range(&field("id"), u64::from(ext.id), 1, 14)?;
        if let Some(first) = extensions[..i].iter().position(|e| e.id == ext.id) {
            return Err(invalid(field("id"), Reason::Duplicate { first }));
        }
        check_text(&ext.uri, 1, 128).map_err(|r| invalid(field("uri"), r))?;
        let has_scheme = ext
            .uri
            .split_once(':')
            .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty());
        if !has_scheme || !ext.uri.bytes().all(is_plain_char) {
            return Err(invalid(
                field("uri"),
                Reason::BadUri {
                    why: "an extension URI is `scheme:rest` in printable ASCII without spaces, \
                          quotes or backslashes",
                },
            ));
        }
        if let Some(first) = extensions[..i].iter().position(|e| e.uri == ext.uri) {
            return Err(invalid(field("uri"), Reason::Duplicate { first }));
        }
    }
    Ok(())
}

fn check_streams(streams: &[StreamPlan]) -> Result<(), BlobError> {
    check_count("transport.streams", streams.len(), 0, MAX_STREAMS)?;
    for (i, stream) in streams.iter().enumerate() {
        let field = |name: &str| format!("transport.streams[{i}].{name}");
        check_range(
            &field("ssrc"),
            u64::from(stream.ssrc),
            1,
            u64::from(u32::MAX),
        )?;
        if let Some(first) = streams[..i].iter().position(|s| s.ssrc == stream.ssrc) {
            return Err(invalid(field("ssrc"), Reason::Duplicate { first }));
        }
        if let Some(msi) = stream.msi {
            check_range(&field("msi"), u64::from(msi), 0, u64::from(MSI_NONE) - 1)?;
            if let Some(first) = streams[..i].iter().position(|s| s.msi == Some(msi)) {
                return Err(invalid(field("msi"), Reason::Duplicate { first }));
            }
        }
        if let Some(cname) = &stream.cname {
            check_token(cname, 1, 32, PLAIN, is_plain_char)
                .map_err(|r| invalid(field("cname"), r))?;
        }
    }
    Ok(())
}
