//! Helpers shared by mediabot's criterion benches (`benches/benches/`).
//!
//! Run the benches with `cargo bench -p mediabot-benches`, then
//! `python3 benches/summary.py` for the per-frame table, the ratio of the full receive path to
//! the libopus decode floor, and the number of streams one core sustains.

use std::path::PathBuf;

use mediabot_media::capture::CaptureReader;
use mediabot_media::rtp::{RtpHeader, RtpPacket};

/// The Opus payloads of the first RTP stream in a fixture capture, in order.
pub fn fixture_payloads(name: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut capture = CaptureReader::new(std::io::BufReader::new(file)).expect("a valid pcap");
    let mut payloads = Vec::new();
    let mut ssrc = None;
    while let Some(d) = capture.next_datagram() {
        if let Ok(p) = RtpPacket::parse(d.payload)
            && *ssrc.get_or_insert(p.ssrc()) == p.ssrc()
        {
            payloads.push(p.payload().to_vec());
        }
    }
    assert!(!payloads.is_empty(), "no RTP in {name}");
    payloads
}

/// An endless RTP stream made by looping recorded payloads with continuing sequence numbers and
/// timestamps, so a bench can run for any number of 20 ms frames.
pub struct LoopedStream {
    payloads: Vec<Vec<u8>>,
    index: usize,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    packet: Vec<u8>,
}

impl LoopedStream {
    /// Loops the 20 ms payloads of `fixture` as SSRC `ssrc`.
    pub fn new(fixture: &str, ssrc: u32) -> LoopedStream {
        LoopedStream {
            payloads: fixture_payloads(fixture),
            index: 0,
            sequence: 0,
            timestamp: 0,
            ssrc,
            packet: Vec::with_capacity(1_600),
        }
    }

    /// The next payload alone.
    pub fn next_payload(&mut self) -> &[u8] {
        let i = self.index;
        self.index = (self.index + 1) % self.payloads.len();
        &self.payloads[i]
    }

    /// The next whole RTP packet (12-byte header + payload).
    pub fn next_packet(&mut self) -> &[u8] {
        let i = self.index;
        self.index = (self.index + 1) % self.payloads.len();
        self.packet.clear();
        RtpHeader {
            marker: false,
            payload_type: 111,
            sequence: self.sequence,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
        }
        .write(&[], &self.payloads[i], &mut self.packet)
        .expect("payload fits");
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(960);
        &self.packet
    }
}
