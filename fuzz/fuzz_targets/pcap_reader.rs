//! Reads arbitrary bytes as a classic pcap capture (what `mediabot replay` opens): opening and
//! iterating never panic, iteration ends, and the counters account for every record read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mediabot_media::capture::CaptureReader;

/// A pcap file header is 24 bytes and every record header 16.
const FILE_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else {
        return;
    };
    let most_records = (data.len().saturating_sub(FILE_HEADER) / RECORD_HEADER) as u64;
    let mut yielded = 0u64;
    while let Some(datagram) = reader.next_datagram() {
        yielded += 1;
        assert!(
            yielded <= most_records,
            "more datagrams than records fit in the input"
        );
        assert!(datagram.payload.len() + 8 + RECORD_HEADER <= data.len());
        assert_eq!(
            datagram.source.is_ipv4(),
            datagram.destination.is_ipv4(),
            "one IP version per packet"
        );
    }
    let stats = reader.stats();
    assert_eq!(stats.udp, yielded);
    assert_eq!(stats.frames, stats.udp + stats.skipped + stats.malformed);
    assert!(stats.frames <= most_records);
});
