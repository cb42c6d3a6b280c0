//! `identitySet` and `identity`: who a participant, organizer or target is.

use serde::{Deserialize, Serialize};

use super::ids::TenantId;

/// `#microsoft.graph.identity`: one identity (user, application, phone number, …).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.identity",
    rename_all = "camelCase"
)]
pub struct Identity {
    /// Object id (AAD user/app id), or the E.164 number for `phone` (`"+12345678901"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Tenant of the identity (the meeting tenant on `organizerMeetingInfo.organizer.user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<TenantId>,
    /// Identity provider seen in calling payloads (`"AAD"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
    /// Ad-hoc key on application identities, e.g. `"LargeGallery-V2"` (spelled `ApplicationType` on the wire).
    #[serde(
        rename = "ApplicationType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub application_type: Option<String>,
}

impl Identity {
    /// An identity with an id and nothing else.
    pub fn with_id(id: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            ..Self::default()
        }
    }
}

/// `#microsoft.graph.identitySet`: the identities of one party, keyed by kind. Any key may be absent or `null`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    tag = "@odata.type",
    rename = "#microsoft.graph.identitySet",
    rename_all = "camelCase"
)]
pub struct IdentitySet {
    /// A Teams/AAD user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Identity>,
    /// An application (bots, the large-gallery participant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<Identity>,
    /// A device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Identity>,
    /// An application instance (resource account, e.g. with a phone number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_instance: Option<Identity>,
    /// A PSTN phone number (`id` in E.164).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Identity>,
    /// An anonymous guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<Identity>,
    /// An identity Graph has encrypted (caller not visible to this app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<Identity>,
    /// An on-premises (Skype for Business server) user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises: Option<Identity>,
    /// A conversation (beta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Identity>,
    /// The conversation identity type (beta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_identity_type: Option<Identity>,
}

impl IdentitySet {
    /// An identity set holding only a user.
    pub fn user(identity: Identity) -> Self {
        Self {
            user: Some(identity),
            ..Self::default()
        }
    }

    /// An identity set holding only an application.
    pub fn application(identity: Identity) -> Self {
        Self {
            application: Some(identity),
            ..Self::default()
        }
    }

    /// The first identity present, in the order user, application, application instance, phone, guest,
    /// device, on-premises, encrypted.
    pub fn primary(&self) -> Option<&Identity> {
        [
            &self.user,
            &self.application,
            &self.application_instance,
            &self.phone,
            &self.guest,
            &self.device,
            &self.on_premises,
            &self.encrypted,
        ]
        .into_iter()
        .find_map(Option::as_ref)
    }

    /// True when no identity is present.
    pub fn is_empty(&self) -> bool {
        self.primary().is_none()
    }
}
