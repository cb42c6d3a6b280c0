//! Deterministic mutation test of the blob and answer parsers, a stable-Rust stand-in for a fuzz
//! target: a fixed-seed PRNG flips, deletes and duplicates bytes of valid documents 20 000
//! times each. The parser must never panic, and every mutant it accepts must re-validate from
//! its plain data and survive its own round trip unchanged.

use std::collections::BTreeMap;

use mediabot_media::session::blob::Guid;
use mediabot_media::session::blob::{
    BlobError, MAX_BLOB_BYTES, MediaAnswer, MediaBlobBuilder, MediaSessionId, ReceiveMode,
    ValidatedAnswer, ValidatedBlob, parse_answer, parse_blob,
};
use mediabot_media::session::params::{
    AudioCodec, DtlsFingerprint, DtlsSetup, HeaderExtensionMap, IceCandidate, IceParams,
    StreamDirection, StreamPlan, TransportParams,
};

const ITERATIONS: usize = 20_000;

/// SplitMix64: tiny, fixed-seed, good enough to pick positions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Bytes that change JSON structure or numbers when they land somewhere.
const INTERESTING: &[u8] = b"{}[]\":,0123456789-.\\ \0\x1fe";

/// One mutation. Every byte stays ASCII, so the text stays UTF-8 (a Graph string always is).
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    if bytes.is_empty() {
        bytes.push(b'{');
        return;
    }
    let at = rng.below(bytes.len());
    match rng.below(6) {
        0 => bytes[at] ^= 1 << rng.below(7),
        1 => {
            bytes.remove(at);
        }
        2 => bytes.insert(at, bytes[at]),
        3 => {
            let len = (1 + rng.below(16)).min(bytes.len() - at);
            bytes.drain(at..at + len);
        }
        4 => {
            let len = (1 + rng.below(32)).min(bytes.len() - at);
            let run: Vec<u8> = bytes[at..at + len].to_vec();
            let to = rng.below(bytes.len() + 1);
            bytes.splice(to..to, run);
        }
        _ => bytes[at] = INTERESTING[rng.below(INTERESTING.len())],
    }
}

fn kind(err: &BlobError) -> &'static str {
    match err {
        BlobError::TooLarge { .. } => "too large",
        BlobError::TooDeep { .. } => "too deep",
        BlobError::Malformed(_) => "malformed",
        BlobError::MicrosoftSdkBlob { .. } => "microsoft sdk blob",
        BlobError::MissingVersion => "missing version",
        BlobError::UnsupportedVersion { .. } => "unsupported version",
        BlobError::Invalid { .. } => "invalid value",
        _ => "other",
    }
}

fn candidate(address: &str, port: u16, kind: &str, priority: u32) -> IceCandidate {
    IceCandidate {
        foundation: "4077567720".into(),
        component: 1,
        protocol: "udp".into(),
        priority,
        address: address.into(),
        port,
        kind: kind.into(),
    }
}

fn transport(setup: DtlsSetup, msis: bool) -> TransportParams {
    TransportParams {
        ice: IceParams {
            ufrag: "Xk3f".into(),
            pwd: "p9Vv2/bQ+u3Rm8Lw1ZtY7nHs".into(),
        },
        candidates: vec![
            candidate("10.0.0.4", 50_000, "host", 2_130_706_431),
            candidate("2001:db8::4", 50_002, "host", 2_130_706_175),
            candidate("203.0.113.7", 61_000, "srflx", 1_694_498_815),
        ],
        fingerprint: DtlsFingerprint {
            algorithm: "sha-256".into(),
            value: "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:\
                    AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
                .into(),
        },
        setup,
        audio_codecs: vec![
            AudioCodec::opus(111),
            AudioCodec {
                payload_type: 100,
                name: "red".into(),
                clock_rate: 48_000,
                channels: 2,
                fmtp: "111/111".into(),
            },
        ],
        header_extensions: vec![
            HeaderExtensionMap {
                id: 1,
                uri: "urn:ietf:params:rtp-hdrext:ssrc-audio-level".into(),
            },
            HeaderExtensionMap {
                id: 3,
                uri: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time".into(),
            },
        ],
        streams: (0..4)
            .map(|i| StreamPlan {
                ssrc: 0x1234_5600 + i,
                msi: msis.then_some(1652 + i),
                direction: StreamDirection::Send,
                cname: Some(format!("cname{i}")),
            })
            .collect(),
    }
}

fn session() -> MediaSessionId {
    MediaSessionId::new(Guid::from_u128(0x2379cf46_acf3_4fef_a914_be9627075320))
}

fn seed_offer() -> String {
    MediaBlobBuilder::new(
        "https://bot.contoso.com:8445/media/answer?s=1",
        session(),
        transport(DtlsSetup::Actpass, false),
    )
    .call_id("1b69b141-7f1a-4033-9c34-202737190a20")
    .receive_mode(ReceiveMode::Both, 4)
    .build()
    .unwrap()
    .to_blob_string()
}

fn seed_answer() -> String {
    ValidatedAnswer::new(MediaAnswer::new(
        session(),
        transport(DtlsSetup::Passive, true),
    ))
    .unwrap()
    .to_answer_string()
}

/// Runs the mutations; returns the tally of outcomes.
fn run<T: PartialEq + std::fmt::Debug>(
    seed: &str,
    rng_seed: u64,
    parse: impl Fn(&str) -> Result<T, BlobError>,
    recheck: impl Fn(&T),
) -> BTreeMap<&'static str, usize> {
    let mut rng = Rng(rng_seed);
    let mut tally = BTreeMap::new();
    for _ in 0..ITERATIONS {
        let mut bytes = seed.as_bytes().to_vec();
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut bytes);
        }
        let text = String::from_utf8(bytes).expect("mutations keep ASCII");
        let outcome = match parse(&text) {
            Ok(accepted) => {
                recheck(&accepted);
                if text == seed {
                    "accepted, unchanged"
                } else {
                    "accepted, changed"
                }
            }
            Err(err) => {
                assert!(!err.to_string().is_empty());
                if let Some((field, _)) = err.invalid_field() {
                    assert!(!field.is_empty());
                }
                kind(&err)
            }
        };
        *tally.entry(outcome).or_insert(0) += 1;
    }
    tally
}

fn assert_both_layers_ran(tally: &BTreeMap<&'static str, usize>) {
    println!("{tally:#?}");
    assert_eq!(tally.values().sum::<usize>(), ITERATIONS);
    // Syntax errors, rule violations and accepted value changes must all occur, or the
    // mutations are not reaching the layer under test.
    for outcome in ["malformed", "invalid value", "accepted, changed"] {
        assert!(
            tally.get(outcome).copied().unwrap_or(0) > 0,
            "no `{outcome}` outcome"
        );
    }
}

#[test]
fn mutated_offers_never_panic_and_accepted_ones_revalidate() {
    let seed = seed_offer();
    let tally = run(
        &seed,
        0x6D65_6469_6162_6F74,
        parse_blob,
        |blob: &ValidatedBlob| {
            let text = blob.to_blob_string();
            assert!(text.len() <= MAX_BLOB_BYTES);
            assert_eq!(&parse_blob(&text).unwrap(), blob);
            assert_eq!(&ValidatedBlob::new(blob.blob().clone()).unwrap(), blob);
        },
    );
    assert_both_layers_ran(&tally);
}

#[test]
fn mutated_answers_never_panic_and_accepted_ones_revalidate() {
    let seed = seed_answer();
    let tally = run(
        &seed,
        0x616E_7377_6572_0001,
        parse_answer,
        |answer: &ValidatedAnswer| {
            let text = answer.to_answer_string();
            assert!(text.len() <= MAX_BLOB_BYTES);
            assert_eq!(&parse_answer(&text).unwrap(), answer);
            assert_eq!(
                &ValidatedAnswer::new(answer.answer().clone()).unwrap(),
                answer
            );
        },
    );
    assert_both_layers_ran(&tally);
}
