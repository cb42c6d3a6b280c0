//! Two media sessions on loopback negotiate through a real blob exchange (offer string → parse →
//! answer string → parse) and stream 10 s of Opus each way over ICE + DTLS-SRTP; what each side
//! decodes must be what the other sent.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use mediabot_media::analysis::{dominant_frequency, rms};
use mediabot_media::frame::{FrameFlags, PcmFrame};
use mediabot_media::send::SendConfig;
use mediabot_media::session::blob::{parse_answer, parse_blob};
use mediabot_media::session::{MediaSession, MediaSessionConfig};
use mediabot_media::transport::TransportConfig;

const SECONDS: f64 = 10.0;
const BOT_SSRC: u32 = 0x0b07_0001;
const PEER_SSRC: u32 = 0x0a11_ce01;
const PEER_MSI: u32 = 1_001;

fn config(ssrc: u32, msi: Option<u32>) -> MediaSessionConfig {
    MediaSessionConfig {
        transport: TransportConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ice_check_interval: Some(Duration::from_millis(20)),
            ..TransportConfig::default()
        },
        send_streams: vec![(
            SendConfig {
                ssrc,
                queue_ms: 12_000,
                ..SendConfig::default()
            },
            msi,
        )],
        ..MediaSessionConfig::default()
    }
}

fn tone(hz: f64, seconds: f64) -> Vec<i16> {
    (0..(48_000.0 * seconds) as usize)
        .map(|i| (6_000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 48_000.0).sin()) as i16)
        .collect()
}

/// Collects frames until `seconds` of the remote stream arrived (or a frame is 3 s overdue).
fn collect(frames: crossbeam_channel::Receiver<PcmFrame>, ssrc: u32) -> (Vec<PcmFrame>, usize) {
    let want = (SECONDS * 50.0) as usize;
    let mut unmixed = Vec::new();
    let mut mixed = 0;
    while unmixed.len() < want {
        match frames.recv_timeout(Duration::from_secs(3)) {
            Ok(f) if f.flags.contains(FrameFlags::MIXED) => mixed += 1,
            Ok(f) if f.ssrc == ssrc => unmixed.push(f),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    (unmixed, mixed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_seconds_of_opus_each_way_over_dtls_srtp() {
    // Bot offers; the blob travels as the string Graph would carry.
    let (mut bot, blob) =
        MediaSession::offer(config(BOT_SSRC, None), "https://127.0.0.1:9443/mp/1")
            .await
            .expect("bot session");
    let blob = parse_blob(&blob.to_blob_string()).expect("the blob parses back");

    // The media processor answers; the answer travels as the string POSTed to mpUri.
    let started = Instant::now();
    let (mut peer, answer) = MediaSession::answer(config(PEER_SSRC, Some(PEER_MSI)), &blob)
        .await
        .expect("peer session");
    let answer = parse_answer(&answer.to_answer_string()).expect("the answer parses back");

    bot.outbound(0)
        .unwrap()
        .push_pcm(&tone(440.0, SECONDS + 0.5), 48_000, 1)
        .unwrap();
    peer.outbound(0)
        .unwrap()
        .push_pcm(&tone(660.0, SECONDS + 0.5), 48_000, 1)
        .unwrap();

    let (bot_connected, peer_connected) =
        tokio::join!(bot.accept_answer(&answer), peer.wait_connected());
    bot_connected.expect("bot connected");
    peer_connected.expect("peer connected");
    let connected_after = started.elapsed();

    let bot_frames = bot.audio().frames();
    let peer_frames = peer.audio().frames();
    let bot_rx = std::thread::spawn(move || collect(bot_frames, PEER_SSRC));
    let peer_rx = std::thread::spawn(move || collect(peer_frames, BOT_SSRC));
    let (at_bot, bot_mixed) = tokio::task::spawn_blocking(move || bot_rx.join().unwrap())
        .await
        .unwrap();
    let (at_peer, peer_mixed) = tokio::task::spawn_blocking(move || peer_rx.join().unwrap())
        .await
        .unwrap();

    let bot_setup = bot.transport_stats().setup_us;
    let pacing: Vec<(f64, u64)> = bot
        .send_stats()
        .iter()
        .chain(peer.send_stats().iter())
        .map(|s| {
            (
                s.mean_pacing_error_us(),
                s.pacing_error_max_us
                    .load(std::sync::atomic::Ordering::Relaxed),
            )
        })
        .collect();
    println!(
        "setup: answer→connected {connected_after:?}, bot transport setup {bot_setup:?} µs; \
         send pacing error mean/max µs per stream: {pacing:?}"
    );
    let peer_stats = peer.transport_stats();
    let bot_report = bot.close().await;
    let _ = peer.close().await;

    for (frames, mixed, hz, side) in [
        (&at_bot, bot_mixed, 660.0, "bot hears peer"),
        (&at_peer, peer_mixed, 440.0, "peer hears bot"),
    ] {
        assert_eq!(
            frames.len(),
            (SECONDS * 50.0) as usize,
            "{side}: 10 s of frames"
        );
        let pcm: Vec<i16> = frames.iter().flat_map(|f| f.samples().to_vec()).collect();
        let f = dominant_frequency(&pcm[16_000..], 16_000, 50.0, 4_000.0);
        assert!((f - hz).abs() <= 2.0, "{side}: {f} Hz");
        assert!(rms(&pcm[16_000..]) > 3_000.0, "{side}: level");
        let concealed = frames
            .iter()
            .filter(|f| f.flags.contains(FrameFlags::CONCEALED))
            .count();
        assert!(
            concealed * 100 < frames.len(),
            "{side}: {concealed} concealed frames"
        );
        assert!(
            mixed >= frames.len() - 5,
            "{side}: the mix runs alongside ({mixed})"
        );
    }
    assert!(
        at_bot.iter().all(|f| f.msi == Some(PEER_MSI)),
        "the peer's SSRC→MSI plan tags the bot's frames"
    );
    println!(
        "RTT from RTCP at the bot: {:?} µs ({} samples)",
        bot_report.receiver.rtt_us, bot_report.receiver.rtt_samples
    );
    assert!(
        bot_report.receiver.rtt_samples > 0
            && bot_report.receiver.rtt_us.is_some_and(|rtt| rtt < 50_000),
        "the peer's receiver reports give a loopback round-trip time"
    );
    // `srtp_rejected` is inferred (SRTP-range datagrams in − packets decrypted), so it also counts
    // the odd packet that races DTLS key installation at connect time; a clean link stays in
    // single digits, tampering or a wrong key would reject every packet (≈ 500 here).
    assert!(
        peer_stats.srtp_rejected <= 5,
        "SRTP rejected {} packets on a clean link",
        peer_stats.srtp_rejected
    );
    assert!(bot_report.sources.iter().any(|s| s.ssrc == PEER_SSRC));
}
