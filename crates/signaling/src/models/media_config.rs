//! `mediaConfig` (abstract) and its subtypes, plus the media prompt types of service-hosted media.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::serde_util::{null_as_empty, odata_type_name};

/// `#microsoft.graph.appHostedMediaConfig`: the bot hosts the media itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppHostedMediaConfig {
    /// The media session configuration blob: a JSON document carried as a **string**. Absent in one doc
    /// example, always sent in practice. Its content is the media crate's business.
    pub blob: Option<String>,
    /// Beta: remove the bot from the default (all-hear-all) audio group.
    pub remove_from_default_audio_group: Option<bool>,
}

/// `#microsoft.graph.serviceHostedMediaConfig`: Microsoft hosts the media (prompts, recording, DTMF).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceHostedMediaConfig {
    /// Media files to fetch ahead of playing them.
    pub pre_fetch_media: Vec<MediaInfo>,
    /// Beta: remove the bot from the default audio group.
    pub remove_from_default_audio_group: Option<bool>,
}

/// `#microsoft.graph.noMediaConfig` (beta): a call without media.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoMediaConfig {
    /// Beta: remove the bot from the default audio group.
    pub remove_from_default_audio_group: Option<bool>,
}

/// `mediaConfig`, polymorphic on `@odata.type`.
///
/// A missing `@odata.type` is inferred from the fields (`blob` → app-hosted, `preFetchMedia` →
/// service-hosted); an unrecognised type becomes [`MediaConfig::Unknown`]. Serializing always writes
/// `@odata.type`, which Graph requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaConfig {
    /// `appHostedMediaConfig`.
    AppHosted(AppHostedMediaConfig),
    /// `serviceHostedMediaConfig`.
    ServiceHosted(ServiceHostedMediaConfig),
    /// `noMediaConfig`.
    NoMedia(NoMediaConfig),
    /// A subtype this crate does not know; holds the `@odata.type` (empty when absent).
    Unknown {
        /// The `@odata.type` value as received.
        odata_type: String,
    },
}

impl MediaConfig {
    /// App-hosted media with the given blob.
    pub fn app_hosted(blob: impl Into<String>) -> Self {
        Self::AppHosted(AppHostedMediaConfig {
            blob: Some(blob.into()),
            remove_from_default_audio_group: None,
        })
    }

    /// The `@odata.type` this value serializes with.
    pub fn odata_type(&self) -> &str {
        match self {
            Self::AppHosted(_) => "#microsoft.graph.appHostedMediaConfig",
            Self::ServiceHosted(_) => "#microsoft.graph.serviceHostedMediaConfig",
            Self::NoMedia(_) => "#microsoft.graph.noMediaConfig",
            Self::Unknown { odata_type } => odata_type,
        }
    }

    /// The app-hosted blob, if this is app-hosted media with a blob.
    pub fn blob(&self) -> Option<&str> {
        match self {
            Self::AppHosted(config) => config.blob.as_deref(),
            _ => None,
        }
    }
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMediaConfig {
    #[serde(
        rename = "@odata.type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    odata_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blob: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pre_fetch_media: Option<Vec<MediaInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remove_from_default_audio_group: Option<bool>,
}

impl<'de> Deserialize<'de> for MediaConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawMediaConfig::deserialize(deserializer)?;
        let name = raw
            .odata_type
            .as_deref()
            .map(odata_type_name)
            .map(str::to_ascii_lowercase);
        let remove = raw.remove_from_default_audio_group;
        let app = |blob| {
            MediaConfig::AppHosted(AppHostedMediaConfig {
                blob,
                remove_from_default_audio_group: remove,
            })
        };
        let service = |media: Option<Vec<MediaInfo>>| {
            MediaConfig::ServiceHosted(ServiceHostedMediaConfig {
                pre_fetch_media: media.unwrap_or_default(),
                remove_from_default_audio_group: remove,
            })
        };
        Ok(match name.as_deref() {
            Some("apphostedmediaconfig") => app(raw.blob),
            Some("servicehostedmediaconfig") => service(raw.pre_fetch_media),
            Some("nomediaconfig") => MediaConfig::NoMedia(NoMediaConfig {
                remove_from_default_audio_group: remove,
            }),
            Some(_) => MediaConfig::Unknown {
                odata_type: raw.odata_type.unwrap_or_default(),
            },
            None if raw.blob.is_some() => app(raw.blob),
            None if raw.pre_fetch_media.is_some() => service(raw.pre_fetch_media),
            None => MediaConfig::Unknown {
                odata_type: String::new(),
            },
        })
    }
}

impl Serialize for MediaConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut raw = RawMediaConfig {
            odata_type: Some(self.odata_type().to_owned()).filter(|t| !t.is_empty()),
            ..RawMediaConfig::default()
        };
        match self {
            Self::AppHosted(config) => {
                raw.blob = config.blob.clone();
                raw.remove_from_default_audio_group = config.remove_from_default_audio_group;
            }
            Self::ServiceHosted(config) => {
                raw.pre_fetch_media =
                    (!config.pre_fetch_media.is_empty()).then(|| config.pre_fetch_media.clone());
                raw.remove_from_default_audio_group = config.remove_from_default_audio_group;
            }
            Self::NoMedia(config) => {
                raw.remove_from_default_audio_group = config.remove_from_default_audio_group
            }
            Self::Unknown { .. } => {}
        }
        raw.serialize(serializer)
    }
}

/// `#microsoft.graph.mediaInfo`: a media file by URI.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.mediaInfo",
    rename_all = "camelCase"
)]
pub struct MediaInfo {
    /// Where the file is (`https://…/beep.wav`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Caller-chosen id used to cache the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

/// `#microsoft.graph.mediaPrompt`: a prompt to play (playPrompt, recordResponse, hold music).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.mediaPrompt",
    rename_all = "camelCase"
)]
pub struct MediaPrompt {
    /// The media to play.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_info: Option<MediaInfo>,
}

/// The decoded app-hosted media blob sample from Microsoft's docs (what the C# media SDK puts in
/// `appHostedMediaConfig.blob`). Kept to document and test the shape; mediabot's own blob lives in the
/// media crate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppHostedMediaBlobSample {
    /// Where Microsoft's media controller reaches the bot's media processor (`net.tcp://host:port/MediaProcessor`).
    #[serde(default)]
    pub mp_uri: Option<String>,
    /// GUIDs of the bot's audio render (receive) sockets.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub audio_render_contexts: Vec<String>,
    /// GUIDs of the bot's video render sockets.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub video_render_contexts: Vec<String>,
    /// GUIDs of the bot's audio source (send) sockets.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub audio_source_contexts: Vec<String>,
    /// GUIDs of the bot's video source sockets.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub video_source_contexts: Vec<String>,
    /// Data render sockets (`null` in the sample).
    #[serde(default)]
    pub data_render_contexts: Option<Vec<String>>,
    /// Data source sockets (`null` in the sample).
    #[serde(default)]
    pub data_source_contexts: Option<Vec<String>>,
    /// Audio format the bot handles (`Pcm16K`).
    #[serde(default)]
    pub supported_audio_format: Option<String>,
    /// Video encodings the bot's sinks accept.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub video_sink_encoding_formats: Vec<String>,
    /// Media session id.
    #[serde(default)]
    pub mp_media_session_id: Option<String>,
    /// Region affinity (`null` in the sample).
    #[serde(default)]
    pub region_affinity: Option<String>,
    /// Version of Microsoft.Skype.Bots.Media.
    #[serde(default)]
    pub skype_media_bots_version: Option<String>,
    /// Version of the media stack.
    #[serde(default)]
    pub media_stack_version: Option<String>,
    /// Version of the media processor.
    #[serde(default)]
    pub mp_version: Option<String>,
    /// Call id the session belongs to.
    #[serde(default)]
    pub call_id: Option<String>,
}

impl AppHostedMediaBlobSample {
    /// Parses a blob string (the value of `appHostedMediaConfig.blob`).
    pub fn from_blob(blob: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(blob)
    }
}
