//! The simulator's error type.

use std::path::PathBuf;

/// What can go wrong starting or configuring the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The listening socket could not be bound.
    #[error("could not bind {addr}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An RSA signing key could not be generated or encoded.
    #[error("signing key: {0}")]
    Key(String),
    /// A JWT could not be signed.
    #[error("could not sign a token")]
    Sign(#[source] jsonwebtoken::errors::Error),
    /// The scenario file could not be read.
    #[error("could not read scenario {path}")]
    ScenarioIo {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The scenario is not valid TOML of the expected shape.
    #[error("scenario does not parse")]
    ScenarioSyntax(#[source] toml::de::Error),
    /// The scenario parses but is inconsistent (unknown participant key, bad value…).
    #[error("invalid scenario: {0}")]
    ScenarioInvalid(String),
    /// The HTTP client used for callbacks could not be built.
    #[error("could not build the callback HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// A call the caller named does not exist (or has ended).
    #[error("unknown call {0}")]
    UnknownCall(String),
    /// A meeting the caller named does not exist.
    #[error("unknown meeting {0:?}")]
    UnknownMeeting(String),
    /// A participant the caller named does not exist in that meeting.
    #[error("unknown participant {0:?}")]
    UnknownParticipant(String),
    /// A callback URI is not acceptable.
    #[error("invalid callback URI {0:?}")]
    InvalidCallbackUri(String),
}
