//! A live media session: what is negotiated through the app-hosted media blob and the transport
//! that carries RTP once negotiated.

pub mod blob;
pub mod params;
