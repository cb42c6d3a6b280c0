//! The app-hosted media blob: round trips, Graph embedding, Microsoft's documented sample, size
//! and nesting bounds, versioning, and one failing case per validation rule.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;

use mediabot_media::session::blob::{
    BLOB_VERSION, BlobError, Guid, MAX_BLOB_BYTES, MAX_CANDIDATES, MAX_CODECS,
    MAX_HEADER_EXTENSIONS, MAX_NESTING, MAX_STREAMS, MediaAnswer, MediaBlob, MediaBlobBuilder,
    MediaSessionId, Reason, ReceiveMode, SupportedAudioFormat, ValidatedAnswer, ValidatedBlob,
    parse_answer, parse_blob,
};
use mediabot_media::session::params::{
    AudioCodec, DtlsFingerprint, DtlsSetup, HeaderExtensionMap, IceCandidate, IceParams,
    StreamDirection, StreamPlan, TransportParams,
};
use mediabot_media::transport::{LocalStream, PacketSink, Transport, TransportConfig};
use serde_json::{Value, json};

const SESSION: Guid = Guid::from_u128(0x2379cf46_acf3_4fef_a914_be9627075320);
const FINGERPRINT: &str = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:\
                           AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

fn graph_examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/graph-examples")
}

fn candidate(address: &str, port: u16, kind: &str) -> IceCandidate {
    IceCandidate {
        foundation: "1".into(),
        component: 1,
        protocol: "udp".into(),
        priority: 2_130_706_431,
        address: address.into(),
        port,
        kind: kind.into(),
    }
}

fn bot_transport() -> TransportParams {
    TransportParams {
        ice: IceParams {
            ufrag: "Xk3f".into(),
            pwd: "p9Vv2/bQ+u3Rm8Lw1ZtY7nHs".into(),
        },
        candidates: vec![
            candidate("10.0.0.4", 50_000, "host"),
            candidate("2001:db8::4", 50_000, "host"),
            candidate("203.0.113.7", 50_000, "srflx"),
        ],
        fingerprint: DtlsFingerprint {
            algorithm: "sha-256".into(),
            value: FINGERPRINT.into(),
        },
        setup: DtlsSetup::Actpass,
        audio_codecs: vec![AudioCodec::opus(111)],
        header_extensions: vec![HeaderExtensionMap {
            id: 1,
            uri: "urn:ietf:params:rtp-hdrext:ssrc-audio-level".into(),
        }],
        streams: vec![StreamPlan {
            ssrc: 0x1234_5678,
            msi: None,
            direction: StreamDirection::Send,
            cname: Some("mediabot".into()),
        }],
    }
}

fn processor_transport() -> TransportParams {
    let mut transport = bot_transport();
    transport.ice = IceParams {
        ufrag: "Proc".into(),
        pwd: "Z9y8X7w6V5u4T3s2R1q0Pp".into(),
    };
    transport.candidates = vec![candidate("127.0.0.1", 40_000, "host")];
    transport.setup = DtlsSetup::Passive;
    transport.streams = (0..4)
        .map(|i| StreamPlan {
            ssrc: 0xA000_0000 + i,
            msi: Some(1652 + i),
            direction: StreamDirection::Send,
            cname: Some(format!("speaker{i}")),
        })
        .collect();
    transport
}

fn offer() -> ValidatedBlob {
    MediaBlobBuilder::new(
        "https://bot.contoso.com:8445/media/answer",
        MediaSessionId::new(SESSION),
        bot_transport(),
    )
    .call_id("1b69b141-7f1a-4033-9c34-202737190a20")
    .receive_mode(ReceiveMode::Unmixed, 4)
    .build()
    .expect("the reference offer is valid")
}

fn answer() -> ValidatedAnswer {
    ValidatedAnswer::new(MediaAnswer::new(
        MediaSessionId::new(SESSION),
        processor_transport(),
    ))
    .expect("the reference answer is valid")
}

/// The rule a blob breaks: its field path and reason.
fn offer_violation(edit: impl FnOnce(&mut MediaBlob)) -> (String, Reason) {
    let mut blob = offer().into_blob();
    edit(&mut blob);
    match ValidatedBlob::new(blob) {
        Err(BlobError::Invalid { field, reason }) => (field, reason),
        other => panic!("expected a rule violation, got {other:?}"),
    }
}

fn answer_violation(edit: impl FnOnce(&mut MediaAnswer)) -> (String, Reason) {
    let mut answer = answer().into_answer();
    edit(&mut answer);
    match ValidatedAnswer::new(answer) {
        Err(BlobError::Invalid { field, reason }) => (field, reason),
        other => panic!("expected a rule violation, got {other:?}"),
    }
}

fn blob_json() -> Value {
    serde_json::from_str(&offer().to_blob_string()).unwrap()
}

// ---- round trips and Graph embedding ------------------------------------------------------

#[test]
fn offer_round_trips_through_its_string() {
    let offer = offer();
    let text = offer.to_blob_string();
    let parsed = parse_blob(&text).unwrap();
    assert_eq!(parsed, offer);
    assert_eq!(parsed.to_blob_string(), text);
    assert_eq!(
        parsed.session_id().to_string(),
        "2379cf46-acf3-4fef-a914-be9627075320"
    );
    assert_eq!(parsed.mp_uri().host(), "bot.contoso.com");
    assert_eq!(parsed.mp_uri().port(), 8445);
    assert_eq!(parsed.mp_uri().path_and_query(), "/media/answer");
    assert!(parsed.mp_uri().is_https());
    assert_eq!(
        parsed.call_id(),
        Some("1b69b141-7f1a-4033-9c34-202737190a20")
    );
    assert_eq!(parsed.receive_mode(), ReceiveMode::Unmixed);
    assert_eq!(parsed.max_unmixed_streams(), 4);
    assert_eq!(parsed.transport(), &bot_transport());
}

#[test]
fn offer_string_uses_microsofts_names_for_shared_fields() {
    let json = blob_json();
    assert_eq!(json["mediabotBlobVersion"], BLOB_VERSION);
    assert_eq!(json["mpUri"], "https://bot.contoso.com:8445/media/answer");
    assert_eq!(
        json["mpMediaSessionId"],
        "2379cf46-acf3-4fef-a914-be9627075320"
    );
    assert_eq!(json["callId"], "1b69b141-7f1a-4033-9c34-202737190a20");
    assert_eq!(json["supportedAudioFormat"], "Pcm16K");
    assert_eq!(json["receiveMode"], "unmixed");
    assert_eq!(json["audioRenderContexts"].as_array().unwrap().len(), 1);
    assert_eq!(json["audioSourceContexts"].as_array().unwrap().len(), 1);
    assert!(
        json["mpVersion"]
            .as_str()
            .unwrap()
            .starts_with("mediabot-media/")
    );
    let opus = &json["transport"]["audioCodecs"][0];
    assert_eq!(opus["name"], "opus");
    assert_eq!(opus["clockRate"], 48_000);
    assert_eq!(opus["channels"], 2);
    assert!(opus["fmtp"].as_str().unwrap().contains("useinbandfec=1"));
    assert_eq!(json["transport"]["setup"], "actpass");
}

#[test]
fn builder_derives_distinct_socket_guids_from_the_session() {
    let offer = offer();
    let render = offer.audio_render_contexts()[0];
    let source = offer.audio_source_contexts()[0];
    assert_ne!(render, source);
    assert_ne!(render, SESSION);
    assert_ne!(source, SESSION);
}

#[test]
fn call_id_is_optional_before_the_call_exists() {
    let offer = MediaBlobBuilder::new(
        "https://bot.contoso.com/media",
        MediaSessionId::new(SESSION),
        bot_transport(),
    )
    .build()
    .unwrap();
    assert_eq!(offer.call_id(), None);
    assert!(!offer.to_blob_string().contains("callId"));
    assert_eq!(parse_blob(&offer.to_blob_string()).unwrap(), offer);
}

#[test]
fn blob_survives_embedding_as_a_json_string_in_graph_media_config() {
    let offer = offer();
    let media_config = json!({
        "@odata.type": "#microsoft.graph.appHostedMediaConfig",
        "blob": offer.to_blob_string(),
    });
    let wire = serde_json::to_string(&media_config).unwrap();
    assert!(wire.contains(r#"\"mediabotBlobVersion\":1"#), "{wire}");
    let received: Value = serde_json::from_str(&wire).unwrap();
    let blob = received["blob"].as_str().unwrap();
    assert_eq!(parse_blob(blob).unwrap(), offer);
}

#[test]
fn answer_round_trips_and_maps_ssrcs_to_msis() {
    let answer = answer();
    let text = answer.to_answer_string();
    let parsed = parse_answer(&text).unwrap();
    assert_eq!(parsed, answer);
    assert_eq!(parsed.to_answer_string(), text);
    assert_eq!(parsed.session_id(), MediaSessionId::new(SESSION));
    assert_eq!(parsed.msi_for_ssrc(0xA000_0002), Some(1654));
    assert_eq!(parsed.msi_for_ssrc(0xBEEF), None);
    parsed.check_against(&offer()).unwrap();
}

// ---- Microsoft's blobs --------------------------------------------------------------------

#[test]
fn microsofts_documented_sample_is_recognised_and_refused_by_name() {
    let text = std::fs::read_to_string(
        graph_examples().join("apphostedmediaconfig-blob-sample-decoded.json"),
    )
    .unwrap();
    let err = parse_blob(&text).unwrap_err();
    assert!(
        matches!(
            err,
            BlobError::MicrosoftSdkBlob {
                evidence: "net.tcp mpUri"
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with(
            "this blob comes from Microsoft's media SDK (net.tcp mpUri); mediabot needs"
        ),
        "{message}"
    );
}

#[test]
fn microsofts_sample_as_graph_sends_it_is_refused_the_same_way() {
    let text = std::fs::read_to_string(
        graph_examples().join("apphostedmediaconfig-blob-sample-as-sent.json"),
    )
    .unwrap();
    let config: Value = serde_json::from_str(&text).unwrap();
    let blob = config["blob"].as_str().unwrap();
    assert!(matches!(
        parse_blob(blob),
        Err(BlobError::MicrosoftSdkBlob {
            evidence: "net.tcp mpUri"
        })
    ));
}

#[test]
fn newer_microsoft_blob_with_https_mp_uri_is_recognised_by_its_version_field() {
    let text = r#"{"mpUri":"https://media.contoso.com:8445/MediaProcessor",
        "audioRenderContexts":["14778cc4-f54c-43c7-989f-9092e34ef784"],
        "supportedAudioFormat":"Pcm16K","mpMediaSessionId":"2379cf46-acf3-4fef-a914-be9627075320",
        "skypeMediaBotsVersion":"1.31.0.225","mediaStackVersion":"2025.8.1.3","mpVersion":"8.0.0.7358"}"#;
    assert!(matches!(
        parse_blob(text),
        Err(BlobError::MicrosoftSdkBlob {
            evidence: "skypeMediaBotsVersion"
        })
    ));
}

#[test]
fn microsofts_unused_fields_next_to_ours_are_accepted_and_dropped() {
    let mut json = blob_json();
    let object = json.as_object_mut().unwrap();
    object.insert("videoRenderContexts".into(), json!([]));
    object.insert("videoSourceContexts".into(), json!([]));
    object.insert("dataRenderContexts".into(), Value::Null);
    object.insert("dataSourceContexts".into(), Value::Null);
    object.insert("videoSinkEncodingFormats".into(), json!([]));
    object.insert("regionAffinity".into(), Value::Null);
    object.insert("skypeMediaBotsVersion".into(), json!("1.11.1.0086"));
    object.insert("mediaStackVersion".into(), json!("2018.53.1.1"));
    let parsed = parse_blob(&json.to_string()).unwrap();
    assert_eq!(parsed, offer());
    assert!(!parsed.to_blob_string().contains("videoRenderContexts"));
}

// ---- shape, versioning, size and nesting --------------------------------------------------

fn malformed_message(text: &str) -> String {
    match parse_blob(text) {
        Err(BlobError::Malformed(err)) => err.to_string(),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn unknown_top_level_field_is_rejected_by_name() {
    let mut json = blob_json();
    json.as_object_mut()
        .unwrap()
        .insert("srtpProfile".into(), json!("AES_CM_128"));
    let message = malformed_message(&json.to_string());
    assert!(message.contains("unknown field `srtpProfile`"), "{message}");
}

#[test]
fn unknown_nested_field_is_rejected_by_name() {
    let mut json = blob_json();
    json["transport"]["candidates"][0]["relatedAddress"] = json!("10.0.0.1");
    let message = malformed_message(&json.to_string());
    assert!(
        message.contains("unknown field `relatedAddress`"),
        "{message}"
    );
}

#[test]
fn duplicate_key_is_rejected() {
    let text = offer().to_blob_string().replacen(
        r#""mpUri":"#,
        r#""mpUri":"https://evil.example/","mpUri":"#,
        1,
    );
    let message = malformed_message(&text);
    assert!(message.contains("duplicate field `mpUri`"), "{message}");
}

#[test]
fn wrong_types_and_non_objects_are_malformed() {
    let mut json = blob_json();
    json["transport"]["candidates"][0]["port"] = json!(70_000);
    malformed_message(&json.to_string());
    for text in [
        "",
        "null",
        "[]",
        "\"blob\"",
        "{",
        "{\"mediabotBlobVersion\":\"1\"}",
    ] {
        malformed_message(text);
    }
}

#[test]
fn positional_arrays_are_not_accepted_for_objects() {
    let mut json = blob_json();
    json["transport"]["ice"] = json!(["Xk3f", "p9Vv2/bQ+u3Rm8Lw1ZtY7nHs"]);
    let err = parse_blob(&json.to_string()).unwrap_err();
    assert_eq!(
        err.invalid_field(),
        Some(("transport.ice", &Reason::ExpectedObject))
    );
    let mut json = blob_json();
    json["transport"]["candidates"][0] =
        json!(["1", 1, "udp", 2_130_706_431, "10.0.0.9", 50_000, "host"]);
    let err = parse_blob(&json.to_string()).unwrap_err();
    assert_eq!(
        err.invalid_field(),
        Some(("transport.candidates[0]", &Reason::ExpectedObject))
    );
    let mut answer: Value = serde_json::from_str(&answer().to_answer_string()).unwrap();
    answer["transport"]["streams"][1] = json!([7, 1, "send"]);
    let err = parse_answer(&answer.to_string()).unwrap_err();
    assert_eq!(
        err.invalid_field(),
        Some(("transport.streams[1]", &Reason::ExpectedObject))
    );
}

#[test]
fn missing_version_is_named() {
    let mut json = blob_json();
    json.as_object_mut().unwrap().remove("mediabotBlobVersion");
    assert!(matches!(
        parse_blob(&json.to_string()),
        Err(BlobError::MissingVersion)
    ));
}

#[test]
fn newer_version_is_reported_as_such_even_with_fields_we_do_not_know() {
    let mut json = blob_json();
    json["mediabotBlobVersion"] = json!(2);
    json.as_object_mut()
        .unwrap()
        .insert("srtpProfile".into(), json!("AEAD_AES_256_GCM"));
    let err = parse_blob(&json.to_string()).unwrap_err();
    assert!(
        matches!(
            err,
            BlobError::UnsupportedVersion {
                found: 2,
                supported: [1]
            }
        ),
        "{err:?}"
    );
    let mut answer: Value = serde_json::from_str(&answer().to_answer_string()).unwrap();
    answer["mediabotBlobVersion"] = json!(7);
    assert!(matches!(
        parse_answer(&answer.to_string()),
        Err(BlobError::UnsupportedVersion { found: 7, .. })
    ));
}

#[test]
fn one_mebibyte_is_rejected_before_parsing() {
    // A valid blob padded with whitespace: a parser would accept it, so TooLarge proves the
    // size check ran first. The same for a megabyte of `[` (which parsing would call too deep).
    let mut padded = offer().to_blob_string();
    padded.push_str(&" ".repeat(1 << 20));
    assert!(matches!(
        parse_blob(&padded),
        Err(BlobError::TooLarge { len, max: MAX_BLOB_BYTES }) if len == padded.len()
    ));
    let brackets = "[".repeat(1 << 20);
    assert!(matches!(
        parse_blob(&brackets),
        Err(BlobError::TooLarge { .. })
    ));
    assert!(matches!(
        parse_answer(&brackets),
        Err(BlobError::TooLarge { .. })
    ));
}

#[test]
fn size_limit_is_inclusive() {
    let text = offer().to_blob_string();
    let at_limit = format!("{text}{}", " ".repeat(MAX_BLOB_BYTES - text.len()));
    assert_eq!(at_limit.len(), MAX_BLOB_BYTES);
    parse_blob(&at_limit).unwrap();
    let over = format!("{at_limit} ");
    assert!(matches!(parse_blob(&over), Err(BlobError::TooLarge { .. })));
}

#[test]
fn deeply_nested_json_is_rejected() {
    let deep = format!(
        "{{\"mediabotBlobVersion\":1,\"x\":{}{}}}",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    assert!(deep.len() < MAX_BLOB_BYTES);
    assert!(matches!(
        parse_blob(&deep),
        Err(BlobError::TooDeep {
            max: MAX_NESTING,
            ..
        })
    ));
}

#[test]
fn nesting_inside_an_ignored_microsoft_field_still_counts() {
    let mut json = blob_json();
    let mut nested = json!([]);
    for _ in 0..MAX_NESTING {
        nested = json!([nested]);
    }
    json.as_object_mut()
        .unwrap()
        .insert("videoRenderContexts".into(), nested);
    assert!(matches!(
        parse_blob(&json.to_string()),
        Err(BlobError::TooDeep { .. })
    ));
}

#[test]
fn brackets_inside_strings_do_not_count_as_nesting() {
    let mut json = blob_json();
    json.as_object_mut().unwrap().insert(
        "regionAffinity".into(),
        json!("[[[[[[[[[[{{{{{{{{{{\\\"[[[["),
    );
    parse_blob(&json.to_string()).unwrap();
}

/// Every list at its maximum count, every string and number at its maximum length. Kept strings
/// never need JSON escapes (ASCII without quotes, backslashes or controls), so no valid blob
/// serialises longer than this one.
#[test]
fn the_largest_valid_blob_fits_the_size_limit() {
    let mut transport = bot_transport();
    transport.ice.ufrag = "u".repeat(256);
    transport.ice.pwd = "p".repeat(256);
    transport.candidates = (0..MAX_CANDIDATES)
        .map(|i| IceCandidate {
            foundation: "f".repeat(32),
            priority: 2_147_483_647,
            ..candidate(
                &format!("2001:0db8:ffff:ffff:ffff:ffff:255.255.255.2{i:02}"),
                65_535,
                "srflx",
            )
        })
        .collect();
    transport.audio_codecs = (0..MAX_CODECS as u8)
        .map(|i| AudioCodec {
            name: if i == 0 {
                "opus".into()
            } else {
                "n".repeat(32)
            },
            clock_rate: if i == 0 { 48_000 } else { 192_000 },
            fmtp: format!("k{i}={}", "v".repeat(125)),
            ..AudioCodec::opus(120 + i)
        })
        .collect();
    transport.header_extensions = (1..=MAX_HEADER_EXTENSIONS as u8)
        .map(|id| HeaderExtensionMap {
            id,
            uri: format!("urn:{id:03}:{}", "x".repeat(120)),
        })
        .collect();
    transport.streams = (0..MAX_STREAMS as u32)
        .map(|i| StreamPlan {
            ssrc: u32::MAX - i,
            msi: Some(u32::MAX - 1 - i),
            direction: StreamDirection::Receive,
            cname: Some(format!("{i:02}{}", "c".repeat(30))),
        })
        .collect();
    let mut blob = MediaBlobBuilder::new(
        format!("https://{}.contoso.com/{}", "h".repeat(63), "p".repeat(428)),
        MediaSessionId::new(SESSION),
        transport,
    )
    .call_id("c".repeat(128))
    .receive_mode(ReceiveMode::Unmixed, MAX_STREAMS as u16)
    .supported_audio_format(SupportedAudioFormat::Pcm44KStereo)
    .build()
    .unwrap()
    .into_blob();
    blob.audio_render_contexts = (1..=4u128)
        .map(|i| Guid::from_u128(i).to_string())
        .collect();
    blob.audio_source_contexts = (5..=8u128)
        .map(|i| Guid::from_u128(i).to_string())
        .collect();
    blob.mp_version = Some("v".repeat(64));
    assert_eq!(blob.mp_uri.len(), 512);
    let largest = ValidatedBlob::new(blob).unwrap();
    let text = largest.to_blob_string();
    println!(
        "largest valid blob: {} bytes of {MAX_BLOB_BYTES}",
        text.len()
    );
    assert!(text.len() <= MAX_BLOB_BYTES, "{} bytes", text.len());
    assert_eq!(parse_blob(&text).unwrap(), largest);
}

// ---- one failing case per rule: the offer ---------------------------------------------------

fn assert_violation(got: (String, Reason), field: &str, reason: Reason) {
    assert_eq!(got, (field.to_owned(), reason));
}

#[test]
fn offer_version_must_be_supported() {
    let mut blob = offer().into_blob();
    blob.mediabot_blob_version = 0;
    assert!(matches!(
        ValidatedBlob::new(blob),
        Err(BlobError::UnsupportedVersion { found: 0, .. })
    ));
}

#[test]
fn mp_uri_must_be_https_or_loopback_http() {
    let rule = |uri: &str| offer_violation(|b| b.mp_uri = uri.into());
    assert_violation(
        rule("net.tcp://bot.contoso.com:18732/MediaProcessor"),
        "mpUri",
        Reason::UnsupportedScheme {
            found: "net.tcp".into(),
        },
    );
    assert_violation(
        rule("http://bot.contoso.com/media"),
        "mpUri",
        Reason::InsecureHttp,
    );
    assert_violation(rule("http://10.0.0.4/media"), "mpUri", Reason::InsecureHttp);
    for loopback in [
        "http://127.0.0.1:8080/media",
        "http://[::1]:8080/m",
        "http://localhost/m",
    ] {
        let mut blob = offer().into_blob();
        blob.mp_uri = loopback.into();
        let valid = ValidatedBlob::new(blob).unwrap();
        assert!(
            valid.mp_uri().is_loopback() && !valid.mp_uri().is_https(),
            "{loopback}"
        );
    }
}

#[test]
fn mp_uri_must_be_a_plain_absolute_url() {
    let bad_uri = |uri: &str| {
        let (field, reason) = offer_violation(|b| b.mp_uri = uri.into());
        assert_eq!(field, "mpUri");
        assert!(matches!(reason, Reason::BadUri { .. }), "{uri}: {reason:?}");
    };
    bad_uri("bot.contoso.com/media");
    bad_uri("https://user:pw@bot.contoso.com/media");
    bad_uri("https://bot.contoso.com/media#frag");
    bad_uri("https://bot.contoso.com:0/media");
    bad_uri("https://bot.contoso.com:65536/media");
    bad_uri("https://bot.contoso.com:/media");
    bad_uri("https://bot_1.contoso.com/media");
    bad_uri("https://-bot.contoso.com/media");
    bad_uri("https:///media");
    bad_uri("https://bot.contoso.com/me dia");
    bad_uri("https://bot.contoso.com/media%zz");
    bad_uri("https://0.0.0.0/media");
    bad_uri("https://[::]/media");
    bad_uri("https://[fe80::1/media");
    bad_uri("https://1.2.3.999/media");
    assert_violation(
        offer_violation(|b| b.mp_uri = "https://bot.contoso.com/\u{0}".into()),
        "mpUri",
        Reason::ControlCharacter,
    );
    let long = format!("https://bot.contoso.com/{}", "a".repeat(500));
    assert_violation(
        offer_violation(|b| b.mp_uri = long.clone()),
        "mpUri",
        Reason::Length {
            min: 1,
            max: 512,
            actual: long.len(),
        },
    );
}

#[test]
fn session_id_must_be_a_guid() {
    assert_violation(
        offer_violation(|b| b.mp_media_session_id = "2379cf46acf34fefa914be9627075320".into()),
        "mpMediaSessionId",
        Reason::NotGuid,
    );
    assert_violation(
        offer_violation(|b| {
            b.mp_media_session_id = "2379cf46-acf3-4fef-a914-be962707532\u{0}".into()
        }),
        "mpMediaSessionId",
        Reason::ControlCharacter,
    );
    assert_violation(
        offer_violation(|b| {
            b.mp_media_session_id = "{2379cf46-acf3-4fef-a914-be9627075320}".into()
        }),
        "mpMediaSessionId",
        Reason::Length {
            min: 1,
            max: 36,
            actual: 38,
        },
    );
    // Upper-case hex is a GUID too.
    let mut blob = offer().into_blob();
    blob.mp_media_session_id = blob.mp_media_session_id.to_ascii_uppercase();
    assert_eq!(
        ValidatedBlob::new(blob).unwrap().session_id().guid(),
        SESSION
    );
}

#[test]
fn call_id_must_be_a_short_token() {
    assert_violation(
        offer_violation(|b| b.call_id = Some("a/b".into())),
        "callId",
        Reason::Charset {
            allowed: "A-Z a-z 0-9 - . _",
        },
    );
    assert_violation(
        offer_violation(|b| b.call_id = Some("c".repeat(129))),
        "callId",
        Reason::Length {
            min: 1,
            max: 128,
            actual: 129,
        },
    );
}

#[test]
fn audio_contexts_are_bounded_unique_guids() {
    assert_violation(
        offer_violation(|b| b.audio_render_contexts.clear()),
        "audioRenderContexts",
        Reason::Count {
            min: 1,
            max: 4,
            actual: 0,
        },
    );
    assert_violation(
        offer_violation(|b| {
            b.audio_source_contexts = (1..=5u128)
                .map(|i| Guid::from_u128(i).to_string())
                .collect()
        }),
        "audioSourceContexts",
        Reason::Count {
            min: 0,
            max: 4,
            actual: 5,
        },
    );
    assert_violation(
        offer_violation(|b| b.audio_render_contexts[0] = "render-socket".into()),
        "audioRenderContexts[0]",
        Reason::NotGuid,
    );
    assert_violation(
        offer_violation(|b| b.audio_source_contexts[0] = b.audio_render_contexts[0].clone()),
        "audioSourceContexts[0]",
        Reason::Duplicate { first: 0 },
    );
    let (field, reason) =
        offer_violation(|b| b.audio_render_contexts[0] = b.mp_media_session_id.clone());
    assert_eq!(field, "audioRenderContexts[0]");
    assert!(matches!(reason, Reason::Inconsistent { .. }));
}

#[test]
fn receive_mode_and_unmixed_stream_count_agree() {
    let (field, reason) = offer_violation(|b| {
        b.receive_mode = ReceiveMode::Mixed;
        b.max_unmixed_streams = 4;
    });
    assert_eq!(field, "maxUnmixedStreams");
    assert!(matches!(reason, Reason::Inconsistent { .. }));
    assert_violation(
        offer_violation(|b| b.max_unmixed_streams = 0),
        "maxUnmixedStreams",
        Reason::OutOfRange {
            min: 1,
            max: 64,
            actual: 0,
        },
    );
    assert_violation(
        offer_violation(|b| {
            b.receive_mode = ReceiveMode::Both;
            b.max_unmixed_streams = 65;
        }),
        "maxUnmixedStreams",
        Reason::OutOfRange {
            min: 1,
            max: 64,
            actual: 65,
        },
    );
}

#[test]
fn mp_version_is_printable() {
    assert_violation(
        offer_violation(|b| b.mp_version = Some("mediabot\u{7}".into())),
        "mpVersion",
        Reason::ControlCharacter,
    );
}

#[test]
fn ice_credentials_follow_rfc_8445() {
    let ice = Reason::Charset {
        allowed: "A-Z a-z 0-9 + /",
    };
    assert_violation(
        offer_violation(|b| b.transport.ice.ufrag = "abc".into()),
        "transport.ice.ufrag",
        Reason::Length {
            min: 4,
            max: 256,
            actual: 3,
        },
    );
    assert_violation(
        offer_violation(|b| b.transport.ice.ufrag = "ab-cd".into()),
        "transport.ice.ufrag",
        ice.clone(),
    );
    assert_violation(
        offer_violation(|b| b.transport.ice.ufrag = "u".repeat(257)),
        "transport.ice.ufrag",
        Reason::Length {
            min: 4,
            max: 256,
            actual: 257,
        },
    );
    assert_violation(
        offer_violation(|b| b.transport.ice.pwd = "p".repeat(21)),
        "transport.ice.pwd",
        Reason::Length {
            min: 22,
            max: 256,
            actual: 21,
        },
    );
    assert_violation(
        offer_violation(|b| b.transport.ice.pwd = format!("{}=", "p".repeat(22))),
        "transport.ice.pwd",
        ice,
    );
    assert_violation(
        offer_violation(|b| b.transport.ice.pwd = format!("{}\0", "p".repeat(22))),
        "transport.ice.pwd",
        Reason::ControlCharacter,
    );
}

#[test]
fn candidate_count_is_bounded() {
    assert_violation(
        offer_violation(|b| b.transport.candidates.clear()),
        "transport.candidates",
        Reason::Count {
            min: 1,
            max: 16,
            actual: 0,
        },
    );
    assert_violation(
        offer_violation(|b| {
            b.transport.candidates = (0..17)
                .map(|p| candidate("10.0.0.4", 1000 + p, "host"))
                .collect()
        }),
        "transport.candidates",
        Reason::Count {
            min: 1,
            max: 16,
            actual: 17,
        },
    );
}

#[test]
fn candidate_fields_are_checked() {
    let rule =
        |edit: fn(&mut IceCandidate)| offer_violation(|b| edit(&mut b.transport.candidates[1]));
    assert_violation(
        rule(|c| c.foundation = "a b".into()),
        "transport.candidates[1].foundation",
        Reason::Charset {
            allowed: "A-Z a-z 0-9 + /",
        },
    );
    assert_violation(
        rule(|c| c.component = 2),
        "transport.candidates[1].component",
        Reason::OutOfRange {
            min: 1,
            max: 1,
            actual: 2,
        },
    );
    assert_violation(
        rule(|c| c.protocol = "tcp".into()),
        "transport.candidates[1].protocol",
        Reason::Unsupported { expected: "udp" },
    );
    assert_violation(
        rule(|c| c.priority = 0),
        "transport.candidates[1].priority",
        Reason::OutOfRange {
            min: 1,
            max: (1 << 31) - 1,
            actual: 0,
        },
    );
    assert_violation(
        rule(|c| c.address = "bot.contoso.com".into()),
        "transport.candidates[1].address",
        Reason::NotIpAddress,
    );
    assert_violation(
        rule(|c| c.address = "fe80::1%eth0".into()),
        "transport.candidates[1].address",
        Reason::NotIpAddress,
    );
    for unusable in ["0.0.0.0", "::", "224.0.0.251", "ff02::1", "255.255.255.255"] {
        let mut blob = offer().into_blob();
        blob.transport.candidates[1].address = unusable.into();
        let err = ValidatedBlob::new(blob).unwrap_err();
        assert_eq!(
            err.invalid_field(),
            Some(("transport.candidates[1].address", &Reason::UnusableAddress)),
            "{unusable}"
        );
    }
    assert_violation(
        rule(|c| c.port = 0),
        "transport.candidates[1].port",
        Reason::OutOfRange {
            min: 1,
            max: 65_535,
            actual: 0,
        },
    );
    assert_violation(
        rule(|c| c.protocol = String::new()),
        "transport.candidates[1].protocol",
        Reason::Length {
            min: 1,
            max: 8,
            actual: 0,
        },
    );
    assert_violation(
        rule(|c| c.address = format!("{}::1", "1:".repeat(22))),
        "transport.candidates[1].address",
        Reason::Length {
            min: 2,
            max: 45,
            actual: 47,
        },
    );
    assert_violation(
        rule(|c| c.kind = "peer".into()),
        "transport.candidates[1].type",
        Reason::Unsupported {
            expected: "host, srflx, prflx, relay",
        },
    );
    assert_violation(
        rule(|c| *c = candidate("10.0.0.4", 50_000, "host")),
        "transport.candidates[1]",
        Reason::Duplicate { first: 0 },
    );
}

#[test]
fn fingerprint_is_sha_256_in_32_hex_bytes() {
    assert_violation(
        offer_violation(|b| b.transport.fingerprint.algorithm = "sha-1".into()),
        "transport.fingerprint.algorithm",
        Reason::Unsupported {
            expected: "sha-256",
        },
    );
    for value in [
        FINGERPRINT[..FINGERPRINT.len() - 3].to_owned(),
        FINGERPRINT.replacen("AB", "GG", 1),
        FINGERPRINT.replace(':', "-"),
        FINGERPRINT.replacen("AB:", "ABC", 1),
        String::new(),
    ] {
        let mut blob = offer().into_blob();
        blob.transport.fingerprint.value = value.clone();
        let err = ValidatedBlob::new(blob).unwrap_err();
        assert_eq!(
            err.invalid_field(),
            Some(("transport.fingerprint.value", &Reason::BadFingerprint)),
            "{value}"
        );
    }
    let mut blob = offer().into_blob();
    blob.transport.fingerprint.value = FINGERPRINT.to_ascii_lowercase();
    ValidatedBlob::new(blob).unwrap();
}

#[test]
fn offerer_must_use_actpass() {
    assert_violation(
        offer_violation(|b| b.transport.setup = DtlsSetup::Active),
        "transport.setup",
        Reason::Unsupported {
            expected: "actpass (the offerer's role, RFC 5763)",
        },
    );
}

#[test]
fn codec_list_is_bounded_and_holds_opus() {
    assert_violation(
        offer_violation(|b| b.transport.audio_codecs.clear()),
        "transport.audioCodecs",
        Reason::Count {
            min: 1,
            max: 8,
            actual: 0,
        },
    );
    assert_violation(
        offer_violation(|b| b.transport.audio_codecs = (96..105).map(AudioCodec::opus).collect()),
        "transport.audioCodecs",
        Reason::Count {
            min: 1,
            max: 8,
            actual: 9,
        },
    );
    assert_violation(
        offer_violation(|b| {
            b.transport.audio_codecs = vec![AudioCodec {
                name: "G722".into(),
                clock_rate: 8000,
                channels: 1,
                fmtp: String::new(),
                payload_type: 97,
            }]
        }),
        "transport.audioCodecs",
        Reason::MissingOpus,
    );
}

#[test]
fn any_codec_has_a_sane_clock_and_one_or_two_channels() {
    let rule = |edit: fn(&mut AudioCodec)| {
        offer_violation(|b| {
            b.transport.audio_codecs.push(AudioCodec {
                payload_type: 101,
                name: "telephone-event".into(),
                clock_rate: 8000,
                channels: 1,
                fmtp: "0-15".into(),
            });
            edit(&mut b.transport.audio_codecs[1]);
        })
    };
    for (clock, actual) in [(0, 0), (192_001, 192_001)] {
        let mut blob = offer().into_blob();
        blob.transport.audio_codecs.push(AudioCodec {
            clock_rate: clock,
            name: "G722".into(),
            ..AudioCodec::opus(101)
        });
        assert_eq!(
            ValidatedBlob::new(blob).unwrap_err().invalid_field(),
            Some((
                "transport.audioCodecs[1].clockRate",
                &Reason::OutOfRange {
                    min: 1,
                    max: 192_000,
                    actual
                }
            ))
        );
    }
    assert_violation(
        rule(|c| c.channels = 0),
        "transport.audioCodecs[1].channels",
        Reason::OutOfRange {
            min: 1,
            max: 2,
            actual: 0,
        },
    );
    assert_violation(
        rule(|c| c.channels = 3),
        "transport.audioCodecs[1].channels",
        Reason::OutOfRange {
            min: 1,
            max: 2,
            actual: 3,
        },
    );
    // The reference codec itself is valid: only the edits above break it.
    let mut blob = offer().into_blob();
    blob.transport.audio_codecs.push(AudioCodec {
        payload_type: 101,
        name: "telephone-event".into(),
        clock_rate: 8000,
        channels: 1,
        fmtp: "0-15".into(),
    });
    ValidatedBlob::new(blob).unwrap();
}

#[test]
fn codec_fields_are_checked() {
    let rule = |edit: fn(&mut AudioCodec)| {
        offer_violation(|b| {
            b.transport.audio_codecs.push(AudioCodec::opus(112));
            edit(&mut b.transport.audio_codecs[1]);
        })
    };
    assert_violation(
        rule(|c| c.payload_type = 95),
        "transport.audioCodecs[1].payloadType",
        Reason::OutOfRange {
            min: 96,
            max: 127,
            actual: 95,
        },
    );
    assert_violation(
        rule(|c| c.payload_type = 128),
        "transport.audioCodecs[1].payloadType",
        Reason::OutOfRange {
            min: 96,
            max: 127,
            actual: 128,
        },
    );
    assert_violation(
        rule(|c| c.payload_type = 111),
        "transport.audioCodecs[1].payloadType",
        Reason::Duplicate { first: 0 },
    );
    assert_violation(
        rule(|c| c.name = "op us".into()),
        "transport.audioCodecs[1].name",
        Reason::Charset {
            allowed: "A-Z a-z 0-9 - . _",
        },
    );
    assert_violation(
        rule(|c| c.clock_rate = 16_000),
        "transport.audioCodecs[1].clockRate",
        Reason::OutOfRange {
            min: 48_000,
            max: 48_000,
            actual: 16_000,
        },
    );
    assert_violation(
        rule(|c| c.channels = 1),
        "transport.audioCodecs[1].channels",
        Reason::OutOfRange {
            min: 2,
            max: 2,
            actual: 1,
        },
    );
    assert_violation(
        rule(|c| c.fmtp = "minptime=10;useinbandfec".into()),
        "transport.audioCodecs[1].fmtp",
        Reason::BadFmtp,
    );
    assert_violation(
        rule(|c| c.fmtp = "useinbandfec=1\n".into()),
        "transport.audioCodecs[1].fmtp",
        Reason::ControlCharacter,
    );
    // Other codecs' parameters have their own syntax (RED: `111/111`) but stay printable.
    let mut blob = offer().into_blob();
    blob.transport.audio_codecs.push(AudioCodec {
        payload_type: 100,
        name: "red".into(),
        clock_rate: 48_000,
        channels: 2,
        fmtp: "111/111".into(),
    });
    ValidatedBlob::new(blob.clone()).unwrap();
    blob.transport.audio_codecs[1].fmtp = "111/111;;x".into();
    assert_eq!(
        ValidatedBlob::new(blob).unwrap_err().invalid_field(),
        Some(("transport.audioCodecs[1].fmtp", &Reason::BadFmtp))
    );
    // Spaces after `;` are common in SDP and accepted.
    let mut blob = offer().into_blob();
    blob.transport.audio_codecs[0].fmtp = "minptime=10; useinbandfec=1".into();
    ValidatedBlob::new(blob).unwrap();
}

#[test]
fn header_extensions_use_unique_one_byte_ids_and_uris() {
    let ext = |id: u8, uri: &str| HeaderExtensionMap {
        id,
        uri: uri.into(),
    };
    let level = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
    for id in [0, 15] {
        assert_violation(
            offer_violation(|b| b.transport.header_extensions = vec![ext(id, level)]),
            "transport.headerExtensions[0].id",
            Reason::OutOfRange {
                min: 1,
                max: 14,
                actual: u64::from(id),
            },
        );
    }
    assert_violation(
        offer_violation(|b| b.transport.header_extensions.push(ext(1, "urn:x:other"))),
        "transport.headerExtensions[1].id",
        Reason::Duplicate { first: 0 },
    );
    assert_violation(
        offer_violation(|b| b.transport.header_extensions.push(ext(2, level))),
        "transport.headerExtensions[1].uri",
        Reason::Duplicate { first: 0 },
    );
    let (field, reason) =
        offer_violation(|b| b.transport.header_extensions = vec![ext(1, "ssrc-audio-level")]);
    assert_eq!(field, "transport.headerExtensions[0].uri");
    assert!(matches!(reason, Reason::BadUri { .. }));
    assert_violation(
        offer_violation(|b| {
            b.transport.header_extensions =
                (1..=15).map(|i| ext(i, &format!("urn:x:{i}"))).collect()
        }),
        "transport.headerExtensions",
        Reason::Count {
            min: 0,
            max: 14,
            actual: 15,
        },
    );
}

#[test]
fn stream_plan_has_unique_nonzero_ssrcs_and_unique_msis() {
    let stream = |ssrc: u32, msi: Option<u32>| StreamPlan {
        ssrc,
        msi,
        direction: StreamDirection::Receive,
        cname: None,
    };
    assert_violation(
        offer_violation(|b| b.transport.streams.push(stream(0, None))),
        "transport.streams[1].ssrc",
        Reason::OutOfRange {
            min: 1,
            max: u64::from(u32::MAX),
            actual: 0,
        },
    );
    assert_violation(
        offer_violation(|b| b.transport.streams.push(stream(0x1234_5678, None))),
        "transport.streams[1].ssrc",
        Reason::Duplicate { first: 0 },
    );
    assert_violation(
        offer_violation(|b| b.transport.streams.push(stream(7, Some(u32::MAX)))),
        "transport.streams[1].msi",
        Reason::OutOfRange {
            min: 0,
            max: u64::from(u32::MAX) - 1,
            actual: u64::from(u32::MAX),
        },
    );
    assert_violation(
        offer_violation(|b| {
            b.transport.streams.push(stream(7, Some(1652)));
            b.transport.streams.push(stream(8, Some(1652)));
        }),
        "transport.streams[2].msi",
        Reason::Duplicate { first: 1 },
    );
    assert_violation(
        offer_violation(|b| b.transport.streams = (1..=65).map(|s| stream(s, None)).collect()),
        "transport.streams",
        Reason::Count {
            min: 0,
            max: 64,
            actual: 65,
        },
    );
    let plain = Reason::Charset {
        allowed: "printable ASCII except space, quote and backslash",
    };
    for cname in ["media bot", "media\"bot", "media\\bot"] {
        assert_violation(
            offer_violation(|b| b.transport.streams[0].cname = Some(cname.into())),
            "transport.streams[0].cname",
            plain.clone(),
        );
    }
}

#[test]
fn free_text_never_needs_json_escapes() {
    // So that a valid blob's size is the sum of its bounded field lengths.
    assert_violation(
        offer_violation(|b| b.mp_version = Some("mediabot \"1\"".into())),
        "mpVersion",
        Reason::Charset {
            allowed: "printable ASCII except quote and backslash",
        },
    );
    assert_violation(
        offer_violation(|b| b.transport.audio_codecs[0].fmtp = "minptime=\\10".into()),
        "transport.audioCodecs[0].fmtp",
        Reason::BadFmtp,
    );
    let (field, reason) =
        offer_violation(|b| b.transport.header_extensions[0].uri = "urn:ietf:\"quoted\"".into());
    assert_eq!(field, "transport.headerExtensions[0].uri");
    assert!(matches!(reason, Reason::BadUri { .. }));
}

#[test]
fn rule_violations_read_as_path_and_reason() {
    let mut blob = offer().into_blob();
    blob.transport.candidates[2].port = 0;
    let err = ValidatedBlob::new(blob).unwrap_err();
    assert_eq!(
        err.to_string(),
        "transport.candidates[2].port: 0 is outside 1..=65535"
    );
}

#[test]
fn text_path_reaches_the_value_rules() {
    let mut json = blob_json();
    json["transport"]["candidates"][0]["address"] = json!("10.0.0.256");
    let err = parse_blob(&json.to_string()).unwrap_err();
    assert_eq!(
        err.invalid_field(),
        Some(("transport.candidates[0].address", &Reason::NotIpAddress))
    );
}

// ---- the answer -----------------------------------------------------------------------------

#[test]
fn answerer_must_pick_a_dtls_role() {
    let (field, reason) = answer_violation(|a| a.transport.setup = DtlsSetup::Actpass);
    assert_eq!(field, "transport.setup");
    assert!(matches!(reason, Reason::Unsupported { .. }));
}

#[test]
fn answer_applies_the_transport_rules() {
    assert_violation(
        answer_violation(|a| a.transport.streams[3].msi = Some(1652)),
        "transport.streams[3].msi",
        Reason::Duplicate { first: 0 },
    );
    assert_violation(
        answer_violation(|a| a.mp_media_session_id = "not-a-guid".into()),
        "mpMediaSessionId",
        Reason::NotGuid,
    );
}

#[test]
fn answer_rejects_unknown_fields() {
    let mut json: Value = serde_json::from_str(&answer().to_answer_string()).unwrap();
    json.as_object_mut()
        .unwrap()
        .insert("mpUri".into(), json!("https://x.example/"));
    assert!(matches!(
        parse_answer(&json.to_string()),
        Err(BlobError::Malformed(_))
    ));
}

fn mismatch(answer: MediaAnswer, offer: &ValidatedBlob) -> String {
    let err = ValidatedAnswer::new(answer)
        .unwrap()
        .check_against(offer)
        .unwrap_err();
    match err {
        BlobError::Invalid {
            field,
            reason: Reason::Mismatch { .. },
        } => field,
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn answer_must_echo_the_offers_session_and_call() {
    let offer = offer();
    let mut other = answer().into_answer();
    other.mp_media_session_id = Guid::from_u128(1).to_string();
    assert_eq!(mismatch(other, &offer), "mpMediaSessionId");
    let mut other = answer().into_answer();
    other.call_id = Some("another-call".into());
    assert_eq!(mismatch(other, &offer), "callId");
}

#[test]
fn answer_may_only_pick_offered_codecs_and_extensions() {
    let offer = offer();
    let mut other = answer().into_answer();
    other.transport.audio_codecs = vec![AudioCodec::opus(109)];
    assert_eq!(mismatch(other, &offer), "transport.audioCodecs[0]");
    let mut other = answer().into_answer();
    other.transport.header_extensions[0].uri = "urn:ietf:params:rtp-hdrext:sdes:mid".into();
    assert_eq!(mismatch(other, &offer), "transport.headerExtensions[0]");
}

#[test]
fn answer_sends_no_more_speakers_than_the_offer_takes() {
    let mixed_offer = MediaBlobBuilder::new(
        "https://bot.contoso.com/media",
        MediaSessionId::new(SESSION),
        bot_transport(),
    )
    .build()
    .unwrap();
    assert_eq!(
        mismatch(answer().into_answer(), &mixed_offer),
        "transport.streams"
    );
    let mut five = answer().into_answer();
    five.transport.streams.push(StreamPlan {
        ssrc: 99,
        msi: Some(99),
        direction: StreamDirection::Send,
        cname: None,
    });
    assert_eq!(mismatch(five, &offer()), "transport.streams");
}

// ---- docs/media-blob.md stays true -----------------------------------------------------------

fn doc_example(marker: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/media-blob.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let after = &doc[doc.find(&format!("<!-- example: {marker} -->")).unwrap()..];
    let start = after.find("```json\n").unwrap() + "```json\n".len();
    let end = start + after[start..].find("\n```").unwrap();
    after[start..end].to_owned()
}

#[test]
fn the_documented_offer_and_answer_are_valid_and_fit_each_other() {
    let offer = parse_blob(&doc_example("offer")).unwrap();
    let answer = parse_answer(&doc_example("answer")).unwrap();
    answer.check_against(&offer).unwrap();
    assert_eq!(offer.receive_mode(), ReceiveMode::Unmixed);
    assert_eq!(answer.msi_for_ssrc(1002), Some(2472));
    assert_eq!(
        offer.to_blob_string().len(),
        1190,
        "docs/media-blob.md quotes the compact size of its example"
    );
}

// ---- the real transport's parameters fit the format -------------------------------------------

/// Discards what the transport delivers: this test only negotiates.
struct Discard;

impl PacketSink for Discard {
    fn push(&self, _arrival_us: i64, _bytes: &[u8]) -> bool {
        true
    }

    fn bind(&self, _ssrc: u32, _msi: Option<u32>) {}
}

fn loopback_config(ssrc: u32, msi: Option<u32>) -> TransportConfig {
    TransportConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        local_streams: vec![LocalStream { ssrc, msi }],
        header_extensions: vec![HeaderExtensionMap {
            id: 1,
            uri: "urn:ietf:params:rtp-hdrext:ssrc-audio-level".into(),
        }],
        ..TransportConfig::default()
    }
}

#[tokio::test]
async fn webrtc_transport_offer_and_answer_pass_as_blob_and_answer() {
    let bot = Transport::new(loopback_config(0x0B07_0001, None), Arc::new(Discard))
        .await
        .unwrap();
    let processor = Transport::new(loopback_config(0x5151_0002, Some(1652)), Arc::new(Discard))
        .await
        .unwrap();
    let offer = MediaBlobBuilder::new(
        "http://127.0.0.1:8445/media/answer",
        MediaSessionId::new(SESSION),
        bot.create_offer().await.unwrap(),
    )
    .receive_mode(ReceiveMode::Unmixed, 4)
    .build()
    .unwrap();
    // The processor reads the offer from the Graph string, as it would in the simulator.
    let received = parse_blob(&offer.to_blob_string()).unwrap();
    let answer = ValidatedAnswer::new(MediaAnswer::new(
        received.session_id(),
        processor.accept_offer(received.transport()).await.unwrap(),
    ))
    .unwrap();
    let answer = parse_answer(&answer.to_answer_string()).unwrap();
    answer.check_against(&offer).unwrap();
    assert_eq!(answer.msi_for_ssrc(0x5151_0002), Some(1652));
    bot.accept_answer(answer.transport()).await.unwrap();
    bot.close().await.unwrap();
    processor.close().await.unwrap();
}
