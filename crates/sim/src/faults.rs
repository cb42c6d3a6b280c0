//! Fault injection (reference §10.9) and wire quirks (§10.10, §11).
//!
//! A [`FaultRule`] affects the next `count` matching events: Graph requests for the request faults,
//! outgoing notification batches for the notification faults. Rules come from the scenario's
//! `[[faults]]` and can be added at run time with [`SimHandle::inject_fault`](crate::SimHandle::inject_fault).
//! [`Quirks`] switch on the documented wire inconsistencies for all later notifications and responses.

use serde::Deserialize;

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer `429 TooManyRequests` with `Retry-After: <secs>` (fractional allowed, e.g. `2.128`).
    Throttle {
        /// The `Retry-After` value in seconds.
        retry_after_secs: f64,
    },
    /// Answer a 5xx with the OData envelope, optionally with `Retry-After`.
    ServerError {
        /// The status (500, 502, 503, 504).
        status: u16,
        /// `Retry-After` in seconds, if any.
        retry_after_secs: Option<f64>,
    },
    /// Answer `403` with `{"error":{"code":"7504","message":"Insufficient enterprise tenant permissions, cannot access this API."}}`.
    Forbidden7504,
    /// Hold matching notifications this long before posting them (later ones of the same call wait too).
    NotificationDelay {
        /// The delay in milliseconds.
        delay_ms: u64,
    },
    /// Post matching notifications twice.
    NotificationDuplicate,
    /// Post a matching notification after the next one of the same call (swap the pair).
    NotificationReorder,
    /// Sign matching notifications with a key that is not in the published JWKS (a forged callback).
    ForgedSignature,
}

impl FaultKind {
    /// True for faults that affect notifications rather than requests.
    pub fn is_notification_fault(&self) -> bool {
        matches!(
            self,
            Self::NotificationDelay { .. }
                | Self::NotificationDuplicate
                | Self::NotificationReorder
                | Self::ForgedSignature
        )
    }
}

/// A fault for the next `count` matching requests or notifications.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// What to do.
    pub kind: FaultKind,
    /// HTTP method to match (requests only; any when `None`), case-insensitive.
    pub method: Option<String>,
    /// Substring the request path (or the notification's `resourceUrl`) must contain; any when `None`.
    pub path_contains: Option<String>,
    /// How many matches are affected before the rule is spent.
    pub count: u32,
}

impl FaultRule {
    /// A rule for the next `count` matches of anything.
    pub fn new(kind: FaultKind, count: u32) -> Self {
        Self {
            kind,
            method: None,
            path_contains: None,
            count,
        }
    }

    /// `429` with `Retry-After: retry_after_secs` for the next `count` requests.
    pub fn throttle(retry_after_secs: f64, count: u32) -> Self {
        Self::new(FaultKind::Throttle { retry_after_secs }, count)
    }

    /// Restricts the rule to one HTTP method.
    pub fn on_method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Restricts the rule to paths (or resource URLs) containing `fragment`.
    pub fn on_path(mut self, fragment: impl Into<String>) -> Self {
        self.path_contains = Some(fragment.into());
        self
    }

    pub(crate) fn matches_request(&self, method: &str, path: &str) -> bool {
        !self.kind.is_notification_fault()
            && self.count > 0
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
    }

    pub(crate) fn matches_notification(&self, resource_url: &str) -> bool {
        self.kind.is_notification_fault()
            && self.count > 0
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| resource_url.contains(p))
    }
}

/// Documented wire inconsistencies, each off by default (reference §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quirks {
    /// `resultInfo.code`/`subcode` as strings (`"200"`, `"5001"`) instead of numbers.
    pub string_codes: bool,
    /// `resultInfo.subCode` instead of `subcode`.
    pub sub_code_key: bool,
    /// Operation `status` `"Running"` instead of `"running"` (responses and notifications).
    pub running_capitalized: bool,
    /// `resourceUrl` without the leading slash (`communications/calls/…`).
    pub resource_url_without_leading_slash: bool,
    /// Add the legacy `resource` (`/app/calls/…`) next to `resourceUrl`.
    pub legacy_resource: bool,
    /// Send only the legacy `resource`, no `resourceUrl` (very old payloads).
    pub legacy_resource_only: bool,
    /// Content-sharing notifications without `resourceData` (as in the beta answer page).
    pub missing_resource_data: bool,
    /// Post `established` before `establishing` ("may arrive out of order").
    pub swap_establishing_established: bool,
}
