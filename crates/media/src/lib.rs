//! mediabot's media plane: recorded or live RTP in, attributed 20 ms PCM frames out.
//!
//! # Pipeline
//! A network thread (or a capture replay) hands datagrams to the audio thread's bounded input
//! queue and never waits on it. The audio thread owns a [`receiver::Receiver`]: per RTP source a
//! [`jitter::JitterBuffer`] and an [`decode::OpusDecoder`] that decodes straight to the output rate.
//! Once per 20 ms tick it emits one [`frame::PcmFrame`] per playing source into a bounded
//! output channel; a full channel drops the frame and counts it.
//!
//! # Time model
//! Cores never read a clock: packets carry their arrival time and playout advances only on
//! ticks the driver gives. The realtime driver ticks from a monotonic schedule; replay ticks
//! from capture timestamps; tests tick as fast as they like.
//!
//! # Panic policy
//! Nothing reachable from network bytes panics: parsers return errors, bad packets are counted
//! and dropped. `expect` is used only for invariants the code itself establishes.

pub mod analysis;
pub mod capture;
pub mod decode;
pub mod echo;
pub mod fifo;
pub mod frame;
pub mod jitter;
pub mod mixer;
pub mod opus_packet;
pub mod receiver;
pub mod replay;
pub mod rtcp;
pub mod rtp;
pub mod send;
pub mod session;
pub mod speaker;
pub mod thread;
pub mod transport;
