//! A local simulator of Microsoft Graph calling and Teams meetings (not built yet; see issue
//! "Graph + Teams simulator").
//!
//! It will serve the OAuth token endpoint, the calls API with documented status codes, RS256-signed
//! callbacks with an OpenID configuration and JWKS, virtual meeting participants, and a media processor
//! that negotiates from the bot's blob and streams Opus RTP. Until then it deliberately exports nothing.
