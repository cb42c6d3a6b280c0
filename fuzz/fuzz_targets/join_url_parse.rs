//! Teams join URLs on arbitrary text: never panic, and an accepted link prints as a URL that
//! parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mediabot_signaling::join_url::parse_join_url;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(link) = parse_join_url(text) {
        let again = parse_join_url(&link.to_string()).expect("a printed link parses");
        assert_eq!(again, link);
    }
});
