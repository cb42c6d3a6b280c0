//! Fuzzes `RtpPacket::parse` and everything reachable from a parsed packet: it must never
//! panic, and a packet it accepts must account for every byte.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mediabot_media::rtp::{AudioLevel, RtpHeader, RtpPacket, SeqExtender, is_rtcp};

fuzz_target!(|data: &[u8]| {
    let _ = is_rtcp(data);
    let Ok(packet) = RtpPacket::parse(data) else {
        return;
    };
    assert_eq!(
        packet.header_len() + packet.payload().len() + packet.padding_len(),
        data.len()
    );
    assert!(packet.csrcs().count() <= 15);
    let mut extender = SeqExtender::new();
    let extended = extender.extend(packet.sequence());
    assert_eq!(extended as u16, packet.sequence());

    let mut elements = Vec::new();
    if let Some(extension) = packet.extension() {
        let mut iter = extension.elements();
        for element in iter.by_ref() {
            assert_ne!(element.id, 0);
            let _ = AudioLevel::parse(element.data);
            let _ = extension.find(element.id);
            elements.push((element.id, element.data));
        }
        let _ = iter.is_malformed();
    }

    // Whatever the writer accepts must parse back to the same fields and elements.
    let header = RtpHeader {
        marker: packet.marker(),
        payload_type: packet.payload_type(),
        sequence: packet.sequence(),
        timestamp: packet.timestamp(),
        ssrc: packet.ssrc(),
    };
    let mut out = Vec::new();
    if header.write(&elements, packet.payload(), &mut out).is_ok() {
        let again = RtpPacket::parse(&out).expect("the writer's output parses");
        assert_eq!(again.sequence(), packet.sequence());
        assert_eq!(again.timestamp(), packet.timestamp());
        assert_eq!(again.payload(), packet.payload());
        if let Some(extension) = again.extension() {
            let reparsed: Vec<_> = extension.elements().map(|e| (e.id, e.data)).collect();
            assert_eq!(reparsed, elements);
        }
    }
});
