//! Fuzzes `parse_compound` and the report accessors: it must never panic, must stop after the
//! first error, and report blocks it accepts must survive a write/parse round trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mediabot_media::rtcp::{
    NtpTime, RtcpPacket, parse_compound, sdes_chunks, write_receiver_report,
};

fuzz_target!(|data: &[u8]| {
    let mut seen_error = false;
    for packet in parse_compound(data) {
        assert!(!seen_error, "iteration continued after an error");
        let blocks: Vec<_> = match packet {
            Ok(RtcpPacket::SenderReport(sr)) => {
                let _ = sr.ntp_timestamp.to_unix_duration();
                let _ = sr.extension();
                sr.report_blocks().collect()
            }
            Ok(RtcpPacket::ReceiverReport(rr)) => {
                let _ = rr.extension();
                rr.report_blocks().collect()
            }
            Ok(RtcpPacket::Bye(bye)) => {
                let _ = bye.sources().count();
                let _ = bye.reason();
                Vec::new()
            }
            Ok(RtcpPacket::Sdes(body)) => {
                let mut chunks = sdes_chunks(body);
                for chunk in chunks.by_ref() {
                    let _ = chunk.cname();
                    let _ = chunk.items().count();
                }
                let _ = chunks.is_malformed();
                Vec::new()
            }
            Ok(_) => Vec::new(),
            Err(_) => {
                seen_error = true;
                Vec::new()
            }
        };
        for block in &blocks {
            let _ = block.round_trip_time(NtpTime(u64::MAX));
        }
        if !blocks.is_empty() {
            let mut out = Vec::new();
            write_receiver_report(1, &blocks, &mut out);
            let Some(Ok(RtcpPacket::ReceiverReport(rr))) = parse_compound(&out).next() else {
                panic!("the writer's output parses");
            };
            assert_eq!(rr.report_blocks().collect::<Vec<_>>(), blocks);
        }
    }
});
