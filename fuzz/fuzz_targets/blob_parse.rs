//! The app-hosted media blob and answer parsers on arbitrary text: never panic, and whatever is
//! accepted serialises back to text that is accepted again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mediabot_media::session::blob::{parse_answer, parse_blob};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(blob) = parse_blob(text) {
        assert!(parse_blob(&blob.to_blob_string()).is_ok());
    }
    if let Ok(answer) = parse_answer(text) {
        assert!(parse_answer(&answer.to_answer_string()).is_ok());
    }
});
