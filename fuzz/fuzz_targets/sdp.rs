//! The transport's SDP reader and writer (`crates/media/src/transport/sdp.rs`) on arbitrary
//! text. The module is private to `mediabot-media` (webrtc-rs negotiates only through SDP, so
//! nothing outside the transport needs it), so this target compiles that very file into itself
//! with `#[path]`, next to a `session::params` shim that points at the crate's public types. If
//! the file starts using other crate-internal items, this target stops compiling, and CI's
//! fuzz check (scripts/test.sh) says so.
//!
//! Checked:
//! - `parse` never panics, and what it accepts is written by `build` as SDP that `parse` reads
//!   back to the same params, up to what the writer is documented to drop or default (a
//!   codec's channel count of 1, a stream's CNAME). The round trip is asked only of text
//!   without a bare CR: SDP lines cannot hold one (RFC 8866 §9), and a value ending in one
//!   (the URI `uri\r` of `a=extmap:1 uri\r more`) is written at a line's end, where the
//!   reader strips it.
//! - The SDP `build` writes from the params of a blob or answer that the blob parser accepted
//!   (the network path: the peer's params become webrtc-rs's remote description) parses back
//!   with the same credentials, fingerprint, role and as many candidates, codecs, extensions
//!   and sending streams: no field can smuggle in an SDP line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mediabot_media::session::blob::{parse_answer, parse_blob};
use mediabot_media::session::params::{StreamDirection, TransportParams};

/// The paths `sdp.rs` imports from, mapped to the public types.
mod session {
    pub(crate) mod params {
        pub(crate) use mediabot_media::session::params::*;
    }
}

#[path = "../../crates/media/src/transport/sdp.rs"]
#[allow(dead_code, reason = "only parse and build are fuzzed")]
mod sdp;

/// What `build` writes differently from what `parse` read: one channel is not written (and
/// reads back as 1), a stream without a CNAME gets the default one.
fn as_written(params: &TransportParams) -> TransportParams {
    let mut params = params.clone();
    for codec in &mut params.audio_codecs {
        codec.channels = codec.channels.max(1);
    }
    for stream in &mut params.streams {
        stream.cname.get_or_insert_with(|| "remote".to_owned());
    }
    params
}

fn check_remote(params: &TransportParams) {
    let text = sdp::build(params, "0", 1);
    assert_eq!(text.matches("\nm=").count(), 1, "one m-line: {text:?}");
    let reparsed = sdp::parse(&text)
        .unwrap_or_else(|e| panic!("SDP built from accepted params parses: {e}: {text:?}"));
    let back = reparsed.params;
    assert_eq!(reparsed.mid, "0");
    assert_eq!(back.ice, params.ice);
    assert_eq!(back.setup, params.setup);
    assert_eq!(
        back.fingerprint.algorithm,
        params.fingerprint.algorithm.to_ascii_lowercase()
    );
    assert_eq!(
        back.fingerprint.value,
        params.fingerprint.value.trim().to_ascii_uppercase()
    );
    assert_eq!(back.candidates.len(), params.candidates.len());
    assert_eq!(back.audio_codecs.len(), params.audio_codecs.len());
    assert_eq!(back.header_extensions.len(), params.header_extensions.len());
    let sending = params
        .streams
        .iter()
        .filter(|s| s.direction == StreamDirection::Send)
        .count();
    assert!(
        back.streams.len() <= sending,
        "no stream appears from nowhere"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = sdp::parse(text);
    let bare_cr = text
        .match_indices('\r')
        .any(|(i, _)| text.as_bytes().get(i + 1) != Some(&b'\n'));
    if let (Ok(parsed), false) = (parsed, bare_cr) {
        let written = sdp::build(&parsed.params, &parsed.mid, 7);
        let again = sdp::parse(&written)
            .unwrap_or_else(|e| panic!("the writer's SDP parses: {e}: {written:?}"));
        assert_eq!(again.mid, parsed.mid);
        assert_eq!(again.params, as_written(&parsed.params));
    }
    if let Ok(blob) = parse_blob(text) {
        check_remote(blob.transport());
    }
    if let Ok(answer) = parse_answer(text) {
        check_remote(&answer.answer().transport);
    }
});
