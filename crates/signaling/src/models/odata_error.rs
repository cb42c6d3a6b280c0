//! The OData error envelope every Graph error response uses.

use serde::{Deserialize, Serialize};

/// `{"error": {...}}`: the body of a Graph error response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ODataError {
    /// The error.
    pub error: ODataErrorBody,
}

/// The `error` object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ODataErrorBody {
    /// Error code: a name (`TooManyRequests`) or, for calling errors, a number as a string (`"7504"`).
    #[serde(default)]
    pub code: String,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Diagnostic details.
    #[serde(default, alias = "innererror", skip_serializing_if = "Option::is_none")]
    pub inner_error: Option<ODataInnerError>,
}

impl ODataErrorBody {
    /// The calling error code when `code` is numeric (`"7504"` → 7504).
    pub fn numeric_code(&self) -> Option<u32> {
        self.code.trim().parse().ok()
    }
}

/// `innerError`: diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ODataInnerError {
    /// Inner code (`"429"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Timestamp as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `request-id`.
    #[serde(
        rename = "request-id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub request_id: Option<String>,
    /// `client-request-id`.
    #[serde(
        rename = "client-request-id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_request_id: Option<String>,
    /// HTTP status as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}
