//! [`TransportParams`] ⇄ SDP, for webrtc-rs, which negotiates only through SDP.
//!
//! Only what one BUNDLEd audio m-line carries is read or written: ICE credentials and
//! candidates, the DTLS fingerprint and setup role, codecs, header extensions and `a=ssrc`
//! lines. Parsing is line-based and tolerant of attributes it does not know.

use std::fmt::Write as _;

use crate::session::params::{
    AudioCodec, DtlsFingerprint, DtlsSetup, HeaderExtensionMap, IceCandidate, IceParams,
    StreamDirection, StreamPlan, TransportParams,
};

/// What the local SDP says, beyond the params: the audio m-line's `a=mid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedSdp {
    pub(crate) params: TransportParams,
    pub(crate) mid: String,
}

/// Reads the first audio m-line (and session-level ICE/DTLS attributes) of `sdp`.
pub(crate) fn parse(sdp: &str) -> Result<ParsedSdp, String> {
    let mut ufrag = None;
    let mut pwd = None;
    let mut fingerprint = None;
    let mut setup = None;
    let mut mid = None;
    let mut candidates = Vec::new();
    let mut codecs: Vec<AudioCodec> = Vec::new();
    let mut fmtps: Vec<(u8, String)> = Vec::new();
    let mut extensions = Vec::new();
    let mut streams: Vec<StreamPlan> = Vec::new();
    // None = session level, Some(true) = in the audio m-line, Some(false) = another m-line.
    let mut section: Option<bool> = None;
    let mut seen_audio = false;

    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(media) = line.strip_prefix("m=") {
            let is_audio = media.starts_with("audio ") && !seen_audio;
            seen_audio |= is_audio;
            section = Some(is_audio);
            continue;
        }
        let Some(attribute) = line.strip_prefix("a=") else {
            continue;
        };
        if section == Some(false) {
            continue;
        }
        let (key, value) = attribute.split_once(':').unwrap_or((attribute, ""));
        match key {
            "ice-ufrag" => ufrag = Some(value.to_owned()),
            "ice-pwd" => pwd = Some(value.to_owned()),
            "fingerprint" => {
                let (algorithm, hex) = value
                    .split_once(' ')
                    .ok_or_else(|| format!("bad fingerprint {value:?}"))?;
                fingerprint = Some(DtlsFingerprint {
                    algorithm: algorithm.to_ascii_lowercase(),
                    value: hex.trim().to_ascii_uppercase(),
                });
            }
            "setup" => setup = Some(parse_setup(value)?),
            "mid" if section == Some(true) => mid = Some(value.to_owned()),
            "candidate" => candidates.push(parse_candidate(value)?),
            "rtpmap" if section == Some(true) => codecs.push(parse_rtpmap(value)?),
            "fmtp" if section == Some(true) => {
                let (pt, params) = value
                    .split_once(' ')
                    .ok_or_else(|| format!("bad fmtp {value:?}"))?;
                let pt = pt.parse().map_err(|_| format!("bad fmtp {value:?}"))?;
                fmtps.push((pt, params.to_owned()));
            }
            "extmap" if section == Some(true) => {
                let (id, uri) = value
                    .split_once(' ')
                    .ok_or_else(|| format!("bad extmap {value:?}"))?;
                // `id` may carry a direction: `1/sendrecv`.
                let id = id.split('/').next().unwrap_or(id);
                let id = id.parse().map_err(|_| format!("bad extmap {value:?}"))?;
                extensions.push(HeaderExtensionMap {
                    id,
                    uri: uri.split(' ').next().unwrap_or(uri).to_owned(),
                });
            }
            "ssrc" if section == Some(true) => {
                let (ssrc, rest) = value.split_once(' ').unwrap_or((value, ""));
                let ssrc: u32 = ssrc.parse().map_err(|_| format!("bad ssrc {value:?}"))?;
                let cname = rest.strip_prefix("cname:").map(str::to_owned);
                match streams.iter_mut().find(|stream| stream.ssrc == ssrc) {
                    Some(stream) => {
                        if cname.is_some() {
                            stream.cname = cname;
                        }
                    }
                    None => streams.push(StreamPlan {
                        ssrc,
                        msi: None,
                        direction: StreamDirection::Send,
                        cname,
                    }),
                }
            }
            _ => {}
        }
    }
    if !seen_audio {
        return Err("no audio m-line".into());
    }
    for (pt, params) in fmtps {
        if let Some(codec) = codecs.iter_mut().find(|codec| codec.payload_type == pt) {
            codec.fmtp = params;
        }
    }
    Ok(ParsedSdp {
        params: TransportParams {
            ice: IceParams {
                ufrag: ufrag.ok_or("no a=ice-ufrag")?,
                pwd: pwd.ok_or("no a=ice-pwd")?,
            },
            candidates,
            fingerprint: fingerprint.ok_or("no a=fingerprint")?,
            setup: setup.ok_or("no a=setup")?,
            audio_codecs: codecs,
            header_extensions: extensions,
            streams,
        },
        mid: mid.ok_or("no a=mid on the audio m-line")?,
    })
}

fn parse_setup(value: &str) -> Result<DtlsSetup, String> {
    match value {
        "actpass" => Ok(DtlsSetup::Actpass),
        "active" => Ok(DtlsSetup::Active),
        "passive" => Ok(DtlsSetup::Passive),
        other => Err(format!("unknown a=setup:{other}")),
    }
}

fn parse_rtpmap(value: &str) -> Result<AudioCodec, String> {
    let bad = || format!("bad rtpmap {value:?}");
    let (pt, encoding) = value.split_once(' ').ok_or_else(bad)?;
    let mut parts = encoding.split('/');
    let name = parts.next().ok_or_else(bad)?;
    let clock_rate = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let channels = match parts.next() {
        Some(channels) => channels.parse().map_err(|_| bad())?,
        None => 1,
    };
    Ok(AudioCodec {
        payload_type: pt.parse().map_err(|_| bad())?,
        name: name.to_owned(),
        clock_rate,
        channels,
        fmtp: String::new(),
    })
}

/// `foundation component protocol priority address port typ kind [extensions…]`
pub(crate) fn parse_candidate(value: &str) -> Result<IceCandidate, String> {
    let bad = || format!("bad candidate {value:?}");
    let fields: Vec<&str> = value.split_whitespace().collect();
    if fields.len() < 8 || fields[6] != "typ" {
        return Err(bad());
    }
    Ok(IceCandidate {
        foundation: fields[0].to_owned(),
        component: fields[1].parse().map_err(|_| bad())?,
        protocol: fields[2].to_ascii_lowercase(),
        priority: fields[3].parse().map_err(|_| bad())?,
        address: fields[4].to_owned(),
        port: fields[5].parse().map_err(|_| bad())?,
        kind: fields[7].to_owned(),
    })
}

/// Writes `params` as the remote description webrtc-rs expects: one BUNDLEd audio m-line
/// with `mid`. `sendrecv` when the remote declares streams it sends, else `recvonly`.
pub(crate) fn build(params: &TransportParams, mid: &str, session_id: u64) -> String {
    let mut sdp = String::with_capacity(1024);
    // `write!` to a String cannot fail.
    let _ = write!(
        sdp,
        "v=0\r\no=- {session_id} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE {mid}\r\n"
    );
    let pts: Vec<String> = params
        .audio_codecs
        .iter()
        .map(|codec| codec.payload_type.to_string())
        .collect();
    let _ = write!(
        sdp,
        "m=audio 9 UDP/TLS/RTP/SAVPF {}\r\nc=IN IP4 0.0.0.0\r\n",
        pts.join(" ")
    );
    let _ = write!(
        sdp,
        "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=fingerprint:{} {}\r\na=setup:{}\r\na=mid:{mid}\r\n",
        params.ice.ufrag,
        params.ice.pwd,
        params.fingerprint.algorithm,
        params.fingerprint.value,
        match params.setup {
            DtlsSetup::Actpass => "actpass",
            DtlsSetup::Active => "active",
            DtlsSetup::Passive => "passive",
        }
    );
    for extension in &params.header_extensions {
        let _ = write!(sdp, "a=extmap:{} {}\r\n", extension.id, extension.uri);
    }
    let sends = params
        .streams
        .iter()
        .any(|stream| stream.direction == StreamDirection::Send);
    sdp.push_str(if sends {
        "a=sendrecv\r\n"
    } else {
        "a=recvonly\r\n"
    });
    sdp.push_str("a=rtcp-mux\r\n");
    for codec in &params.audio_codecs {
        let _ = write!(
            sdp,
            "a=rtpmap:{} {}/{}",
            codec.payload_type, codec.name, codec.clock_rate
        );
        if codec.channels > 1 {
            let _ = write!(sdp, "/{}", codec.channels);
        }
        sdp.push_str("\r\n");
        if !codec.fmtp.is_empty() {
            let _ = write!(sdp, "a=fmtp:{} {}\r\n", codec.payload_type, codec.fmtp);
        }
    }
    if sends {
        let _ = write!(sdp, "a=msid:mediabot-remote audio\r\n");
    }
    for stream in &params.streams {
        if stream.direction != StreamDirection::Send {
            continue;
        }
        let cname = stream.cname.as_deref().unwrap_or("remote");
        let _ = write!(sdp, "a=ssrc:{} cname:{cname}\r\n", stream.ssrc);
    }
    for candidate in &params.candidates {
        let _ = write!(
            sdp,
            "a=candidate:{} {} {} {} {} {} typ {}",
            candidate.foundation,
            candidate.component,
            candidate.protocol,
            candidate.priority,
            candidate.address,
            candidate.port,
            candidate.kind
        );
        // Non-host candidates carry a related address; the params do not, so none is disclosed.
        if candidate.kind != "host" {
            sdp.push_str(" raddr 0.0.0.0 rport 0");
        }
        sdp.push_str("\r\n");
    }
    sdp.push_str("a=end-of-candidates\r\n");
    sdp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> TransportParams {
        TransportParams {
            ice: IceParams {
                ufrag: "abcd".into(),
                pwd: "0123456789012345678901".into(),
            },
            candidates: vec![IceCandidate {
                foundation: "1".into(),
                component: 1,
                protocol: "udp".into(),
                priority: 2_130_706_431,
                address: "127.0.0.1".into(),
                port: 40_000,
                kind: "host".into(),
            }],
            fingerprint: DtlsFingerprint {
                algorithm: "sha-256".into(),
                value: "AB:CD:EF".into(),
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
                cname: Some("bot".into()),
            }],
        }
    }

    #[test]
    fn built_sdp_parses_back_to_the_same_params() {
        let params = params();
        let sdp = build(&params, "0", 42);
        let parsed = parse(&sdp).unwrap();
        assert_eq!(parsed.mid, "0");
        assert_eq!(parsed.params, params);
        assert!(sdp.contains("a=sendrecv\r\n"));
    }

    #[test]
    fn receive_only_params_make_a_recvonly_section_without_ssrcs() {
        let mut params = params();
        params.streams.clear();
        let sdp = build(&params, "audio", 1);
        assert!(sdp.contains("a=recvonly\r\n"));
        assert!(!sdp.contains("a=ssrc:"));
        assert_eq!(parse(&sdp).unwrap().mid, "audio");
    }

    #[test]
    fn candidate_with_extensions_parses_and_garbage_is_an_error() {
        let candidate =
            parse_candidate("3 1 UDP 1694498815 203.0.113.9 5000 typ srflx raddr 0.0.0.0 rport 0")
                .unwrap();
        assert_eq!(candidate.kind, "srflx");
        assert_eq!(candidate.protocol, "udp");
        assert_eq!(candidate.port, 5000);
        assert!(parse_candidate("1 1 udp x 1.2.3.4 5 typ host").is_err());
        assert!(parse_candidate("1 1 udp").is_err());
    }

    #[test]
    fn missing_credentials_are_reported() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";
        assert!(parse(sdp).unwrap_err().contains("ice-ufrag"));
        assert!(parse("v=0\r\n").unwrap_err().contains("audio"));
    }
}
