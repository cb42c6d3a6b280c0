//! Authentication payloads: the client-credentials token response, the callback JWT claims and the
//! OpenID configuration that publishes the callback signing keys.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::{AppId, TenantId};
use super::serde_util::null_as_empty;

/// The body of a successful `POST https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`.
///
/// `Debug` redacts the access token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// Always `Bearer` (any case).
    pub token_type: String,
    /// Lifetime in seconds (3599 typical).
    pub expires_in: u64,
    /// Extended lifetime in seconds, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_expires_in: Option<u64>,
    /// The bearer token. Secret: never log it.
    pub access_token: String,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("ext_expires_in", &self.ext_expires_in)
            .field("access_token", &"<redacted>")
            .finish()
    }
}

/// Claims of the JWT Graph sends in the `Authorization` header of callbacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackJwtClaims {
    /// Audience: the bot's app id.
    pub aud: AppId,
    /// Issuer: `https://api.botframework.com` (the C# sample also accepts `https://graph.microsoft.com`).
    pub iss: String,
    /// Issued at (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not before (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Expiry (Unix seconds).
    pub exp: u64,
    /// Tenant of the call; the C# sample rejects tokens without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<TenantId>,
}

/// The OpenID configuration document of the callback signer
/// (`https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIdConfiguration {
    /// Issuer.
    pub issuer: String,
    /// Authorization endpoint (unused by callbacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// Where the signing keys (JWKS) are.
    pub jwks_uri: String,
    /// Signing algorithms (the document says `RSA256`; JWT headers say `RS256`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Token endpoint auth methods.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}
