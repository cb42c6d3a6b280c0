//! Two transports on 127.0.0.1 negotiate only by exchanging `TransportParams` and carry
//! SRTP both ways; failure cases: wrong DTLS fingerprint, forged SRTP, unknown-SSRC floods.

#![allow(
    unsafe_code,
    reason = "a counting GlobalAlloc is unsafe by definition; it only forwards to System"
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mediabot_media::session::params::{StreamDirection, TransportParams};
use mediabot_media::transport::{
    ConnectionState, DtlsCertificate, LocalStream, PacketSink, PublicAddress, PublicIpMode,
    Transport, TransportConfig, TransportStats,
};
use tokio::sync::watch;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Records what the transport delivers.
struct Recorder {
    rtp: Mutex<Vec<(i64, Vec<u8>)>>,
    rtcp: Mutex<Vec<Vec<u8>>>,
    binds: Mutex<Vec<(u32, Option<u32>)>>,
    rtp_count: watch::Sender<usize>,
}

impl Recorder {
    fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            rtp: Mutex::new(Vec::new()),
            rtcp: Mutex::new(Vec::new()),
            binds: Mutex::new(Vec::new()),
            rtp_count: watch::channel(0).0,
        })
    }

    async fn wait_rtp(&self, at_least: usize) -> usize {
        let mut count = self.rtp_count.subscribe();
        let reached = tokio::time::timeout(DELIVERY_TIMEOUT, count.wait_for(|n| *n >= at_least))
            .await
            .map(|n| *n.unwrap());
        match reached {
            Ok(n) => n,
            Err(_) => panic!(
                "only {} of {at_least} RTP packets arrived",
                *self.rtp_count.borrow()
            ),
        }
    }

    fn rtp(&self) -> Vec<(i64, Vec<u8>)> {
        self.rtp.lock().unwrap().clone()
    }
}

impl PacketSink for Recorder {
    fn push(&self, arrival_us: i64, bytes: &[u8]) -> bool {
        let rtcp = matches!(bytes.get(1).map(|b| b & 0x7f), Some(64..=95));
        if rtcp {
            self.rtcp.lock().unwrap().push(bytes.to_vec());
        } else {
            self.rtp.lock().unwrap().push((arrival_us, bytes.to_vec()));
            self.rtp_count.send_modify(|n| *n += 1);
        }
        true
    }

    fn bind(&self, ssrc: u32, msi: Option<u32>) {
        self.binds.lock().unwrap().push((ssrc, msi));
    }
}

fn config(streams: &[(u32, Option<u32>)]) -> TransportConfig {
    TransportConfig {
        bind_ip: LOOPBACK,
        local_streams: streams
            .iter()
            .map(|&(ssrc, msi)| LocalStream { ssrc, msi })
            .collect(),
        ice_check_interval: Some(Duration::from_millis(20)),
        ..TransportConfig::default()
    }
}

/// An RTP packet as the send path would build it: PT 111, marker on the first.
fn rtp(ssrc: u32, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x80, 111 | if seq == 0 { 0x80 } else { 0 }];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

fn ssrc_of(packet: &[u8]) -> u32 {
    u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]])
}

struct Pair {
    offerer: Transport,
    answerer: Transport,
    offer: TransportParams,
    answer: TransportParams,
}

/// Offer → answer → accept, with `edit_answer` applied to what the offerer receives.
async fn negotiate(
    offerer: Transport,
    answerer: Transport,
    edit_offer: impl FnOnce(&mut TransportParams),
    edit_answer: impl FnOnce(&mut TransportParams),
) -> Pair {
    let mut offer = offerer.create_offer().await.unwrap();
    edit_offer(&mut offer);
    let mut answer = answerer.accept_offer(&offer).await.unwrap();
    edit_answer(&mut answer);
    offerer.accept_answer(&answer).await.unwrap();
    Pair {
        offerer,
        answerer,
        offer,
        answer,
    }
}

async fn connected(transport: &Transport) {
    let reached = transport
        .wait_for_state(CONNECT_TIMEOUT, |s| {
            s == ConnectionState::Connected || s.is_terminal()
        })
        .await;
    assert_eq!(
        reached,
        Some(ConnectionState::Connected),
        "stats: {:?}",
        transport.stats()
    );
}

async fn wait_stats(transport: &Transport, what: &str, done: impl Fn(&TransportStats) -> bool) {
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    let mut ticker = tokio::time::interval(Duration::from_millis(5));
    loop {
        let stats = transport.stats();
        if done(&stats) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {stats:?}");
        ticker.tick().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_exchange_connects_and_carries_rtp_both_ways() {
    let a_sink = Recorder::new();
    let b_sink = Recorder::new();
    let a = Transport::new(config(&[(0x1111_0001, Some(7))]), a_sink.clone())
        .await
        .unwrap();
    let b = Transport::new(config(&[(0x2222_0002, Some(9))]), b_sink.clone())
        .await
        .unwrap();
    let pair = negotiate(a, b, |_| {}, |_| {}).await;

    // What each side advertised.
    let offer = &pair.offer;
    let answer = &pair.answer;
    assert_eq!(
        offer.setup,
        mediabot_media::session::params::DtlsSetup::Actpass
    );
    assert_eq!(
        answer.setup,
        mediabot_media::session::params::DtlsSetup::Active
    );
    assert_eq!(
        offer.fingerprint, answer.fingerprint,
        "one process certificate"
    );
    assert_eq!(
        offer.fingerprint,
        *DtlsCertificate::shared().unwrap().fingerprint()
    );
    let a_port = pair.offerer.local_addrs()[0].port();
    assert!(
        offer
            .candidates
            .iter()
            .any(|c| c.address == "127.0.0.1" && c.port == a_port && c.kind == "host"),
        "{:?}",
        offer.candidates
    );
    assert_eq!(offer.streams.len(), 1);
    assert_eq!(offer.streams[0].ssrc, 0x1111_0001);
    assert_eq!(offer.streams[0].msi, Some(7));
    assert_eq!(offer.streams[0].direction, StreamDirection::Send);
    assert_eq!(answer.audio_codecs[0].name, "opus");
    assert_eq!(answer.audio_codecs[0].payload_type, 111);

    connected(&pair.offerer).await;
    connected(&pair.answerer).await;
    let a_setup = pair.offerer.stats().setup_us.unwrap();
    let b_setup = pair.answerer.stats().setup_us.unwrap();
    println!(
        "setup (remote params applied -> connected): offerer {a_setup} us, answerer {b_setup} us"
    );
    assert!(a_setup < CONNECT_TIMEOUT.as_micros() as u64);

    // The remote plan reached each sink as SSRC -> MSI bindings.
    assert_eq!(*a_sink.binds.lock().unwrap(), vec![(0x2222_0002, Some(9))]);
    assert_eq!(*b_sink.binds.lock().unwrap(), vec![(0x1111_0001, Some(7))]);

    const N: u16 = 60;
    let a_sent: Vec<Vec<u8>> = (0..N)
        .map(|seq| rtp(0x1111_0001, seq, &[seq as u8; 40]))
        .collect();
    let b_sent: Vec<Vec<u8>> = (0..N)
        .map(|seq| rtp(0x2222_0002, seq, &[0xA0 ^ seq as u8; 73]))
        .collect();
    let a_tx = pair.offerer.sender();
    let b_tx = pair.answerer.sender();
    for (a_packet, b_packet) in a_sent.iter().zip(&b_sent) {
        a_tx.try_send(a_packet).unwrap();
        b_tx.try_send(b_packet).unwrap();
    }
    b_sink.wait_rtp(N as usize).await;
    a_sink.wait_rtp(N as usize).await;

    for (sink, sent) in [(&b_sink, &a_sent), (&a_sink, &b_sent)] {
        let got = sink.rtp();
        assert_eq!(got.len(), sent.len());
        let bytes: Vec<Vec<u8>> = got.iter().map(|(_, b)| b.clone()).collect();
        assert_eq!(&bytes, sent, "decrypted packets are the packets sent");
        assert!(
            got.windows(2).all(|w| w[0].0 <= w[1].0),
            "arrival times monotonic"
        );
        assert!(got.iter().all(|(t, _)| *t > 0));
    }
    assert!(b_sink.rtp().iter().all(|(_, p)| ssrc_of(p) == 0x1111_0001));

    let a_stats = pair.offerer.stats();
    let b_stats = pair.answerer.stats();
    assert_eq!(a_stats.rtp_sent, u64::from(N));
    assert_eq!(b_stats.rtp_received, u64::from(N));
    assert_eq!(
        b_stats.rtp_bytes_received,
        a_sent.iter().map(|p| p.len() as u64).sum::<u64>()
    );
    assert_eq!(a_stats.unknown_ssrc_packets, 0);
    assert_eq!(a_stats.srtp_rejected, 0, "{a_stats:?}");
    assert_eq!(a_stats.send_failed, 0);
    assert!(a_stats.connection_state_changes >= 2);
    println!("offerer stats: {a_stats:?}");

    pair.offerer.close().await.unwrap();
    let closed = pair
        .offerer
        .wait_for_state(CONNECT_TIMEOUT, ConnectionState::is_terminal)
        .await;
    assert_eq!(closed, Some(ConnectionState::Closed));
    pair.answerer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_fingerprint_fails_dtls_and_no_media_flows() {
    let a_sink = Recorder::new();
    let b_sink = Recorder::new();
    let short = |ssrc| TransportConfig {
        connect_timeout: Duration::from_millis(1_500),
        ..config(&[(ssrc, None)])
    };
    let a = Transport::new(short(0x0A0A_0001), a_sink.clone())
        .await
        .unwrap();
    let b = Transport::new(short(0x0B0B_0002), b_sink.clone())
        .await
        .unwrap();
    let pair = negotiate(
        a,
        b,
        |_| {},
        |answer| {
            // Same length and format, one byte different.
            let value = &mut answer.fingerprint.value;
            let flipped = if value.ends_with('0') { '1' } else { '0' };
            value.pop();
            value.push(flipped);
        },
    )
    .await;

    let reached = pair
        .offerer
        .wait_for_state(CONNECT_TIMEOUT, |s| {
            s.is_terminal() || s == ConnectionState::Connected
        })
        .await;
    assert_eq!(
        reached,
        Some(ConnectionState::Failed),
        "{:?}",
        pair.offerer.stats()
    );
    assert_eq!(pair.offerer.stats().setup_timeouts, 1);
    assert_eq!(pair.offerer.stats().setup_us, None);
    println!(
        "offerer failed; answerer is {:?}; stats {:?}",
        *pair.answerer.state().borrow(),
        pair.offerer.stats()
    );

    // Whatever the answerer believes, nothing it sends is accepted by the offerer.
    let b_tx = pair.answerer.sender();
    for seq in 0..20 {
        let _ = b_tx.try_send(&rtp(0x0B0B_0002, seq, b"secret"));
    }
    let a_tx = pair.offerer.sender();
    for seq in 0..20 {
        let _ = a_tx.try_send(&rtp(0x0A0A_0001, seq, b"secret"));
    }
    // Let the send tasks drain so a delivery would have happened by now.
    wait_stats(&pair.answerer, "answerer send queue drained", |s| {
        s.rtp_sent + s.send_failed >= 20
    })
    .await;
    wait_stats(&pair.offerer, "offerer send queue drained", |s| {
        s.rtp_sent + s.send_failed >= 20
    })
    .await;
    assert_eq!(pair.offerer.stats().rtp_received, 0);
    assert!(a_sink.rtp().is_empty());
    assert!(b_sink.rtp().is_empty());
    pair.offerer.close().await.unwrap();
    pair.answerer.close().await.unwrap();
}

/// A connected pair where the answerer's sink records and `edit_offer` shapes what the
/// answerer is told.
async fn connected_pair(
    b_config: TransportConfig,
    edit_offer: impl FnOnce(&mut TransportParams),
) -> (Pair, Arc<Recorder>) {
    let b_sink = Recorder::new();
    let a = Transport::new(config(&[(OFFERER_SSRC, Some(1))]), Recorder::new())
        .await
        .unwrap();
    let b = Transport::new(b_config, b_sink.clone()).await.unwrap();
    let pair = negotiate(a, b, edit_offer, |_| {}).await;
    connected(&pair.offerer).await;
    connected(&pair.answerer).await;
    (pair, b_sink)
}

const OFFERER_SSRC: u32 = 0x5000_0000;

/// Sends `count` RTP packets from the offerer and waits until the send task handed them over.
async fn send_from_offerer(pair: &Pair, first_seq: u16, count: u16, payload: u8) {
    let tx = pair.offerer.sender();
    let before = pair.offerer.stats().rtp_sent;
    for seq in first_seq..first_seq + count {
        // The queue is bounded; wait for room rather than lose packets the test counts.
        while tx
            .try_send(&rtp(OFFERER_SSRC, seq, &[payload; 20]))
            .is_err()
        {
            tokio::task::yield_now().await;
        }
    }
    wait_stats(&pair.offerer, "offerer sent", |s| {
        s.rtp_sent >= before + u64::from(count)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_srtp_from_another_address_never_reaches_webrtc() {
    let (pair, b_sink) = connected_pair(config(&[(0x6000_0000, None)]), |_| {}).await;
    let b_addr = pair.answerer.local_addrs()[0];

    // A flood of SRTP-looking datagrams with ever-new SSRCs from a plain UDP socket: webrtc-rs
    // would create per-SSRC SRTP state for each before authenticating; the socket filter drops
    // them first, so nothing grows. Sent in bursts the socket buffer holds, so the kernel drops
    // none of them and every one must be counted.
    let forger = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0)).unwrap();
    const FORGED: u64 = 5_000;
    const BURST: u64 = 250;
    for burst in 0..FORGED / BURST {
        for i in burst * BURST..(burst + 1) * BURST {
            let i = i as u32;
            let mut packet = rtp(0x7000_0000 + i, i as u16, &[0x5A; 60]);
            packet.extend_from_slice(&[0xEE; 10]); // "auth tag"
            forger.send_to(&packet, b_addr).unwrap();
        }
        wait_stats(&pair.answerer, "forged datagrams dropped", |s| {
            s.srtp_foreign_dropped >= (burst + 1) * BURST
        })
        .await;
    }

    // The real peer is unaffected.
    send_from_offerer(&pair, 0, 20, 1).await;
    b_sink.wait_rtp(20).await;
    let stats = pair.answerer.stats();
    println!("answerer after forged flood: {stats:?}");
    assert_eq!(stats.srtp_foreign_dropped, FORGED);
    assert_eq!(stats.srtp_rejected, 0, "no forged datagram reached SRTP");
    assert_eq!(stats.rtp_received, 20);
    assert!(
        b_sink
            .rtp()
            .iter()
            .all(|(_, p)| ssrc_of(p) == OFFERER_SSRC && p[12] == 1)
    );
    assert_eq!(*pair.answerer.state().borrow(), ConnectionState::Connected);
    pair.offerer.close().await.unwrap();
    pair.answerer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_srtp_fails_authentication_and_is_counted() {
    let mut b_config = config(&[(0x6000_0000, None)]);
    b_config.drop_foreign_srtp = false;
    let (pair, b_sink) = connected_pair(b_config, |_| {}).await;
    let b_addr = pair.answerer.local_addrs()[0];

    // The stream runs…
    send_from_offerer(&pair, 0, 20, 1).await;
    b_sink.wait_rtp(20).await;
    // …then datagrams with its SSRC and the next sequence numbers, but a payload and tag not
    // made with the key.
    let forger = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0)).unwrap();
    const FORGED: u64 = 200;
    for seq in 20..20 + FORGED as u16 {
        let mut packet = rtp(OFFERER_SSRC, seq, &[0x5A; 60]);
        packet.extend_from_slice(&[0xEE; 10]);
        forger.send_to(&packet, b_addr).unwrap();
    }
    wait_stats(&pair.answerer, "tampered datagrams rejected", |s| {
        s.srtp_rejected >= FORGED
    })
    .await;
    // The forgeries did not advance the replay window: the genuine next packets still arrive.
    send_from_offerer(&pair, 20, 20, 3).await;
    b_sink.wait_rtp(40).await;
    let stats = pair.answerer.stats();
    println!("answerer after tampered SRTP: {stats:?}");
    assert_eq!(stats.srtp_rejected, FORGED);
    assert_eq!(stats.rtp_received, 40);
    let got = b_sink.rtp();
    assert_eq!(got.len(), 40, "only authentic packets reached the sink");
    assert!(got.iter().all(|(_, p)| p[12] == 1 || p[12] == 3));
    assert_eq!(*pair.answerer.state().borrow(), ConnectionState::Connected);
    pair.offerer.close().await.unwrap();
    pair.answerer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtp_of_an_undeclared_ssrc_is_counted_and_dropped() {
    // The answerer is told a different SSRC than the offerer sends on.
    let (pair, b_sink) = connected_pair(config(&[(0x6000_0000, None)]), |offer| {
        offer.streams[0].ssrc = OFFERER_SSRC + 1;
    })
    .await;
    const FLOOD: u16 = 500;
    send_from_offerer(&pair, 0, FLOOD, 2).await;
    wait_stats(&pair.answerer, "undeclared SSRC counted", |s| {
        s.unknown_ssrc_packets >= u64::from(FLOOD)
    })
    .await;
    let stats = pair.answerer.stats();
    println!("answerer after undeclared flood: {stats:?}");
    assert_eq!(stats.unknown_ssrc_packets, u64::from(FLOOD));
    assert_eq!(stats.rtp_received, u64::from(FLOOD));
    assert!(
        b_sink.rtp().is_empty(),
        "undeclared RTP is dropped by default"
    );
    assert_eq!(
        *b_sink.binds.lock().unwrap(),
        vec![(OFFERER_SSRC + 1, Some(1))]
    );
    pair.offerer.close().await.unwrap();
    pair.answerer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_range_skips_busy_ports_and_public_ip_is_advertised() {
    // Find p busy (held here) with p+1 free.
    let (held, port) = (0..20)
        .find_map(|_| {
            let held = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0)).ok()?;
            let port = held.local_addr().ok()?.port();
            let next = UdpSocket::bind(SocketAddr::new(LOOPBACK, port.checked_add(1)?)).ok()?;
            drop(next);
            Some((held, port))
        })
        .expect("two adjacent ports");
    let mut cfg = config(&[]);
    cfg.port_range = Some(port..=port + 1);
    cfg.public_ip = Some(PublicAddress {
        ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)),
        mode: PublicIpMode::Add,
    });
    let transport = Transport::new(cfg, Recorder::new()).await.unwrap();
    assert_eq!(
        transport.local_addrs(),
        vec![SocketAddr::new(LOOPBACK, port + 1)]
    );
    let offer = transport.create_offer().await.unwrap();
    println!("candidates: {:?}", offer.candidates);
    assert!(
        offer
            .candidates
            .iter()
            .any(|c| c.address == "127.0.0.1" && c.port == port + 1)
    );
    assert!(
        offer
            .candidates
            .iter()
            .any(|c| c.address == "127.0.0.9" && c.kind == "srflx")
    );
    assert!(
        offer.streams.is_empty(),
        "receive-only transport declares no stream"
    );
    transport.close().await.unwrap();

    // Every port busy: a clean error.
    let mut cfg = config(&[]);
    cfg.port_range = Some(port..=port);
    let error = Transport::new(cfg, Recorder::new()).await.unwrap_err();
    assert!(error.to_string().contains("no UDP port"), "{error}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_over_srtp_reaches_the_audio_thread_attributed_to_its_msi() {
    use mediabot_media::thread::{AudioThread, AudioThreadConfig, OutputPolicy, TickSource};

    const SSRC: u32 = 0x1234_0001;
    const MSI: u32 = 42;
    let audio = AudioThread::spawn(AudioThreadConfig {
        ticks: TickSource::External,
        output_policy: OutputPolicy::Block,
        ..AudioThreadConfig::default()
    })
    .unwrap();
    let frames = audio.frames();
    let a = Transport::new(config(&[(SSRC, Some(MSI))]), Recorder::new())
        .await
        .unwrap();
    let b = Transport::new(config(&[]), Arc::new(audio.input()))
        .await
        .unwrap();
    let pair = negotiate(a, b, |_| {}, |_| {}).await;
    connected(&pair.offerer).await;
    connected(&pair.answerer).await;

    // 1 s of a 440 Hz tone, Opus-encoded in 20 ms packets.
    let mut encoder =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    const PACKETS: u16 = 50;
    let tx = pair.offerer.sender();
    for seq in 0..PACKETS {
        let pcm: Vec<i16> = (0..960)
            .map(|i| {
                let t = f64::from(u32::from(seq) * 960 + i) / 48_000.0;
                (8_000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
            })
            .collect();
        let mut payload = [0u8; 400];
        let len = encoder.encode(&pcm, &mut payload).unwrap();
        tx.try_send(&rtp(SSRC, seq, &payload[..len])).unwrap();
    }
    // The RTP, and a sender report webrtc-rs's SR interceptor emits within a second.
    wait_stats(&pair.answerer, "RTP and an SR delivered", |s| {
        s.rtp_received >= u64::from(PACKETS) && s.rtcp_received >= 1
    })
    .await;
    let input = audio.input();
    input.finish().unwrap();
    let report = audio.join();
    let frames: Vec<_> = frames.try_iter().collect();

    let source = report
        .sources
        .iter()
        .find(|s| s.ssrc == SSRC)
        .expect("the source was decoded");
    assert_eq!(source.msi, Some(MSI), "bound from the remote stream plan");
    assert_eq!(source.jitter.packets, u64::from(PACKETS));
    assert_eq!(source.jitter.lost, 0);
    assert_eq!(source.decode_errors, 0);
    let ours: Vec<_> = frames.iter().filter(|f| f.ssrc == SSRC).collect();
    assert!(ours.len() >= PACKETS as usize - 2, "{} frames", ours.len());
    assert!(ours.iter().all(|f| f.msi == Some(MSI)));
    let samples: Vec<i16> = ours.iter().flat_map(|f| f.samples().to_vec()).collect();
    let rms =
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt();
    println!(
        "decoded {} frames, rms {rms:.0}, answerer {:?}",
        ours.len(),
        pair.answerer.stats()
    );
    assert!(rms > 2_000.0, "the tone came through (rms {rms})");
    assert!(
        ours.iter().any(|f| f.capture_unix_micros.is_some()),
        "the SR reached the receiver through the transport"
    );
    pair.offerer.close().await.unwrap();
    pair.answerer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtcp_from_the_send_path_arrives_and_forward_policy_passes_undeclared_rtp() {
    let mut b_config = config(&[(0x6000_0000, None)]);
    b_config.unknown_ssrc = mediabot_media::transport::UnknownSsrcPolicy::Forward;
    // The answerer is told another SSRC than the offerer sends on: undeclared, but forwarded.
    let (pair, b_sink) = connected_pair(b_config, |offer| {
        offer.streams[0].ssrc = OFFERER_SSRC + 1;
    })
    .await;
    send_from_offerer(&pair, 0, 10, 4).await;
    b_sink.wait_rtp(10).await;
    assert_eq!(pair.answerer.stats().unknown_ssrc_packets, 10);
    assert!(b_sink.rtp().iter().all(|(_, p)| ssrc_of(p) == OFFERER_SSRC));

    // An RTCP receiver report built by the send path (RFC 3550 §6.4.2, no report blocks).
    let mut rr = vec![0x80, 201, 0, 1];
    rr.extend_from_slice(&OFFERER_SSRC.to_be_bytes());
    pair.offerer.sender().try_send(&rr).unwrap();
    wait_stats(&pair.offerer, "RTCP handed over", |s| s.rtcp_sent >= 1).await;
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    let mut ticker = tokio::time::interval(Duration::from_millis(5));
    while !b_sink.rtcp.lock().unwrap().contains(&rr) {
        assert!(
            Instant::now() < deadline,
            "RR not delivered: {:?}",
            b_sink.rtcp.lock().unwrap()
        );
        ticker.tick().await;
    }
    pair.offerer.close().await.unwrap();
    pair.answerer.close().await.unwrap();
}

#[test]
fn the_process_certificate_is_made_once_and_reused() {
    let started = Instant::now();
    let fresh = DtlsCertificate::generate().unwrap();
    println!("generating a DTLS certificate took {:?}", started.elapsed());
    let first = DtlsCertificate::shared().unwrap();
    let second = DtlsCertificate::shared().unwrap();
    assert_eq!(first.fingerprint(), second.fingerprint());
    assert_ne!(fresh.fingerprint(), first.fingerprint());
    assert_eq!(first.fingerprint().algorithm, "sha-256");
    // 32 bytes as upper-case hex pairs.
    let value = &first.fingerprint().value;
    assert_eq!(value.split(':').count(), 32);
    assert!(
        value
            .chars()
            .all(|c| c == ':' || c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_time_with_webrtc_default_ice_check_interval() {
    let default_interval = |ssrc| TransportConfig {
        ice_check_interval: None,
        ..config(&[(ssrc, None)])
    };
    let a = Transport::new(default_interval(0x0D0D_0001), Recorder::new())
        .await
        .unwrap();
    let b = Transport::new(default_interval(0x0D0D_0002), Recorder::new())
        .await
        .unwrap();
    let pair = negotiate(a, b, |_| {}, |_| {}).await;
    connected(&pair.offerer).await;
    connected(&pair.answerer).await;
    let setup = pair.offerer.stats().setup_us.unwrap();
    println!("setup with the default 200 ms ICE check interval: offerer {setup} us");
    assert!(setup < 2_000_000);
    pair.offerer.close().await.unwrap();
    pair.answerer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_send_does_not_allocate_once_warm() {
    let (pair, b_sink) = connected_pair(config(&[(0x6000_0000, None)]), |_| {}).await;
    let tx = pair.offerer.sender();
    const WARM: u16 = 400;
    const MEASURED: u16 = 1_000;
    let sender = std::thread::spawn(move || {
        let mut packet = rtp(OFFERER_SSRC, 0, &[7; 160]);
        let mut full = 0u64;
        let mut send = |seq: u16, full: &mut u64| {
            packet[2..4].copy_from_slice(&seq.to_be_bytes());
            // A full queue is the documented overflow: count it and offer the packet again.
            while tx.try_send(&packet).is_err() {
                *full += 1;
                std::thread::yield_now();
            }
        };
        counting_alloc::count_this_thread(true);
        for seq in 0..WARM {
            send(seq, &mut full);
        }
        let before = counting_alloc::allocations();
        for seq in WARM..WARM + MEASURED {
            send(seq, &mut full);
        }
        let allocations = counting_alloc::allocations() - before;
        counting_alloc::count_this_thread(false);
        (allocations, full)
    });
    let (allocations, full) = tokio::task::spawn_blocking(move || sender.join().unwrap())
        .await
        .unwrap();
    println!("{MEASURED} try_send calls allocated {allocations} times ({full} full-queue retries)");
    assert_eq!(allocations, 0);
    b_sink.wait_rtp(usize::from(WARM + MEASURED)).await;
    pair.offerer.close().await.unwrap();
    pair.answerer.close().await.unwrap();
}

/// An RTP packet with a CSRC list (a mixer's output names its contributors).
fn rtp_with_csrcs(ssrc: u32, seq: u16, csrcs: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut packet = rtp(ssrc, seq, &[]);
    packet[0] |= csrcs.len() as u8;
    for csrc in csrcs {
        packet.extend_from_slice(&csrc.to_be_bytes());
    }
    packet.extend_from_slice(payload);
    packet
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_local_streams_share_the_m_line_and_arrive_byte_exact() {
    let streams = [
        (0x7100_0001, Some(11)),
        (0x7100_0002, Some(12)),
        (0x7100_0003, None),
    ];
    let b_sink = Recorder::new();
    let a = Transport::new(config(&streams), Recorder::new())
        .await
        .unwrap();
    let b = Transport::new(config(&[]), b_sink.clone()).await.unwrap();
    let pair = negotiate(a, b, |_| {}, |_| {}).await;
    assert_eq!(pair.offer.streams.len(), 3);
    connected(&pair.offerer).await;
    connected(&pair.answerer).await;
    let mut binds = b_sink.binds.lock().unwrap().clone();
    binds.sort();
    assert_eq!(binds, streams.to_vec());

    let tx = pair.offerer.sender();
    let mut sent = Vec::new();
    for seq in 0..20u16 {
        for (i, &(ssrc, _)) in streams.iter().enumerate() {
            let packet = if seq % 5 == 0 {
                rtp_with_csrcs(ssrc, seq, &[0xAAAA_0000 + i as u32, 0xBBBB], &[i as u8; 30])
            } else {
                rtp(ssrc, seq, &[i as u8 ^ seq as u8; 30])
            };
            tx.try_send(&packet).unwrap();
            sent.push(packet);
        }
    }
    // An SSRC that is not configured is refused by the send task.
    tx.try_send(&rtp(0x7100_0009, 0, &[9; 30])).unwrap();
    b_sink.wait_rtp(sent.len()).await;
    wait_stats(&pair.offerer, "send task done", |s| {
        s.rtp_sent + s.send_failed >= 61
    })
    .await;
    let got: Vec<Vec<u8>> = b_sink.rtp().into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        got, sent,
        "every stream's packets, byte for byte, CSRCs included"
    );
    let stats = pair.offerer.stats();
    assert_eq!((stats.rtp_sent, stats.send_failed), (60, 1));
    assert_eq!(pair.answerer.stats().unknown_ssrc_packets, 0);
    pair.offerer.close().await.unwrap();
    pair.answerer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentic_rtp_from_many_undeclared_ssrcs_is_counted_not_forwarded() {
    const DECLARED: u32 = 0x5100_0000;
    let undeclared: Vec<u32> = (1..=32).map(|i| DECLARED + i).collect();
    let mut streams = vec![(DECLARED, Some(1))];
    streams.extend(undeclared.iter().map(|&s| (s, None)));
    let b_sink = Recorder::new();
    let a = Transport::new(config(&streams), Recorder::new())
        .await
        .unwrap();
    let b = Transport::new(config(&[]), b_sink.clone()).await.unwrap();
    // The answerer is told only about the declared stream.
    let pair = negotiate(
        a,
        b,
        |offer| offer.streams.retain(|s| s.ssrc == DECLARED),
        |_| {},
    )
    .await;
    connected(&pair.offerer).await;
    connected(&pair.answerer).await;

    let tx = pair.offerer.sender();
    const ROUNDS: u16 = 50;
    for seq in 0..ROUNDS {
        for &ssrc in std::iter::once(&DECLARED).chain(&undeclared) {
            while tx
                .try_send(&rtp(ssrc, seq, &[(ssrc == DECLARED) as u8; 20]))
                .is_err()
            {
                tokio::task::yield_now().await;
            }
        }
    }
    let flood = u64::from(ROUNDS) * undeclared.len() as u64;
    b_sink.wait_rtp(usize::from(ROUNDS)).await;
    wait_stats(&pair.answerer, "undeclared SSRCs counted", |s| {
        s.unknown_ssrc_packets >= flood
    })
    .await;
    let stats = pair.answerer.stats();
    println!("answerer after 32 undeclared SSRCs: {stats:?}");
    assert_eq!(stats.unknown_ssrc_packets, flood);
    assert_eq!(stats.rtp_received, flood + u64::from(ROUNDS));
    let got = b_sink.rtp();
    assert_eq!(got.len(), usize::from(ROUNDS));
    assert!(
        got.iter()
            .all(|(_, p)| ssrc_of(p) == DECLARED && p[12] == 1)
    );
    assert_eq!(*b_sink.binds.lock().unwrap(), vec![(DECLARED, Some(1))]);
    assert_eq!(*pair.answerer.state().borrow(), ConnectionState::Connected);
    pair.offerer.close().await.unwrap();
    pair.answerer.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_latency_through_both_stacks() {
    // Both transports measure arrival from the same origin, so the sink's arrival time minus
    // the moment `try_send` was called is the one-way latency: send queue, webrtc-rs, SRTP,
    // UDP, SRTP, tap.
    let origin = Instant::now();
    let with_origin = |streams: &[(u32, Option<u32>)]| TransportConfig {
        clock_origin: Some(origin),
        ..config(streams)
    };
    let b_sink = Recorder::new();
    let a = Transport::new(with_origin(&[(OFFERER_SSRC, None)]), Recorder::new())
        .await
        .unwrap();
    let b = Transport::new(with_origin(&[]), b_sink.clone())
        .await
        .unwrap();
    let pair = negotiate(a, b, |_| {}, |_| {}).await;
    connected(&pair.offerer).await;
    connected(&pair.answerer).await;

    let tx = pair.offerer.sender();
    let mut latencies = Vec::new();
    for seq in 0..300u16 {
        let packet = rtp(OFFERER_SSRC, seq, &[0x11; 120]);
        let sent_us = origin.elapsed().as_micros() as i64;
        tx.try_send(&packet).unwrap();
        b_sink.wait_rtp(usize::from(seq) + 1).await;
        let (arrival_us, bytes) = b_sink.rtp().pop().unwrap();
        assert_eq!(bytes, packet);
        latencies.push(arrival_us - sent_us);
    }
    latencies.sort_unstable();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "one-way latency over loopback (debug build): p50 {} us, p99 {} us, max {} us",
        pick(0.5),
        pick(0.99),
        latencies[latencies.len() - 1]
    );
    assert!(latencies[0] >= 0, "arrival is after sending");
    assert!(pick(0.5) < 20_000, "p50 {} us", pick(0.5));
    pair.offerer.close().await.unwrap();
    pair.answerer.close().await.unwrap();
}
