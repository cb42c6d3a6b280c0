//! RSA signing keys: one for callback JWTs (published in the JWKS) and one for access tokens
//! (never published; it also signs forged callbacks).

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;

use crate::error::SimError;

/// An RS256 key pair with its `kid` and public JWK.
pub(crate) struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl SigningKey {
    /// A fresh 2048-bit key (tens of milliseconds).
    pub(crate) fn generate(kid: &str) -> Result<Self, SimError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| SimError::Key(e.to_string()))?;
        let der = AsDer::<Pkcs8V1Der<'static>>::as_der(&pair)
            .map_err(|e| SimError::Key(e.to_string()))?;
        let body = STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in body.as_bytes().chunks(64) {
            // Base64 output is ASCII, so every chunk is valid UTF-8.
            pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        let encoding =
            EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| SimError::Key(e.to_string()))?;
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)
            .map_err(|e| SimError::Key(e.to_string()))?;
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| SimError::Key(e.to_string()))?;
        Ok(Self {
            kid: kid.to_owned(),
            encoding,
            decoding,
            jwk,
        })
    }

    /// Signs `claims` as an RS256 JWT with this key's `kid`.
    pub(crate) fn sign<T: Serialize>(&self, claims: &T) -> Result<String, SimError> {
        self.sign_as(claims, &self.kid)
    }

    /// Signs `claims` with this key but names another key's `kid` (a forgery).
    pub(crate) fn sign_as<T: Serialize>(&self, claims: &T, kid: &str) -> Result<String, SimError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(SimError::Sign)
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    pub(crate) fn jwk(&self) -> &Jwk {
        &self.jwk
    }
}

/// The simulator's keys.
#[derive(Debug)]
pub(crate) struct Keys {
    /// Signs callbacks; published at the JWKS URL.
    pub(crate) callback: SigningKey,
    /// Signs access tokens from the token endpoint, and forged callbacks (fault injection) under
    /// the callback key's `kid`; never published.
    pub(crate) token: SigningKey,
}

impl Keys {
    pub(crate) fn generate() -> Result<Self, SimError> {
        Ok(Self {
            callback: SigningKey::generate("sim-callback-1")?,
            token: SigningKey::generate("sim-token-1")?,
        })
    }

    /// The published key set (callback key only).
    pub(crate) fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.callback.jwk().clone()],
        }
    }
}
