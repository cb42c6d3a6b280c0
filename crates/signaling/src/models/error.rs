//! The models' error type.

/// What went wrong interpreting Graph data beyond plain JSON shape errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A `mediaStream.sourceId` is not a decimal `u32`.
    #[error("media source id {0:?} is not a decimal 32-bit number")]
    InvalidSourceId(String),
    /// A notification's resource URL has no `/communications/calls/` or `/app/calls/` segment.
    #[error("resource URL {0:?} has no /communications/calls/ or /app/calls/ segment")]
    NotACallResource(String),
    /// A notification's resource URL stops before the call id.
    #[error("resource URL {0:?} has no call id after /calls/")]
    MissingCallId(String),
    /// A notification has neither `resourceUrl` nor `resource`.
    #[error("notification has neither resourceUrl nor resource")]
    MissingResourceUrl,
}
