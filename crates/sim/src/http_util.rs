//! Response helpers: OData error envelopes, JSON replies, timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde::Serialize;

use mediabot_signaling::models::{ODataError, ODataErrorBody, ODataInnerError};

/// A Graph error to answer with the OData envelope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiFailure {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) retry_after_secs: Option<f64>,
}

impl ApiFailure {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    pub(crate) fn call_not_found(call: &str) -> Self {
        Self::not_found(format!("Call {call} was not found or has ended."))
    }

    /// `403` with calling error `7504` (GH#850, GH#538).
    pub(crate) fn forbidden_7504() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "7504",
            "Insufficient enterprise tenant permissions, cannot access this API.",
        )
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
    }

    pub(crate) fn into_response(
        self,
        request_id: &str,
        client_request_id: Option<&str>,
    ) -> Response {
        let throttled = self.status == StatusCode::TOO_MANY_REQUESTS;
        let envelope = ODataError {
            error: ODataErrorBody {
                code: self.code,
                message: Some(self.message),
                inner_error: Some(ODataInnerError {
                    code: throttled.then(|| "429".to_owned()),
                    date: Some(iso8601(SystemTime::now())),
                    message: throttled.then(|| "Please retry after".to_owned()),
                    request_id: Some(request_id.to_owned()),
                    client_request_id: client_request_id.map(str::to_owned),
                    status: throttled.then(|| "429".to_owned()),
                }),
            },
        };
        let mut response = json_response(self.status, &envelope);
        if let Some(after) = self.retry_after_secs
            && let Ok(value) = HeaderValue::from_str(&format_seconds(after))
        {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, value);
        }
        response
    }
}

/// `2.128` → `"2.128"`, `3.0` → `"3"`.
fn format_seconds(seconds: f64) -> String {
    let text = format!("{seconds:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A JSON response (`application/json`).
pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(http::header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC), as in Graph's `innerError.date`.
pub(crate) fn iso8601(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps_and_retry_after_format() {
        let t = UNIX_EPOCH + Duration::from_secs(1_597_755_111);
        assert_eq!(iso8601(t), "2020-08-18T12:51:51");
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00");
        assert_eq!(format_seconds(2.128), "2.128");
        assert_eq!(format_seconds(0.05), "0.05");
        assert_eq!(format_seconds(3.0), "3");
    }
}
