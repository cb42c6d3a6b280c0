//! Per-20 ms-frame costs of mediabot's receive path, with the libopus decode floor in the same
//! run so the pipeline's overhead reads as a ratio (`benches/summary.py` prints it).
//!
//! Groups: RTP parse · jitter buffer push+pop · Opus decode to 16 kHz (the floor) and 48 kHz ·
//! rubato 48→16 kHz · full receive path (parse + jitter buffer + decode + hand-off to a consumer
//! thread) · the cross-thread hand-off alone.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mediabot_benches::LoopedStream;
use mediabot_media::fifo::SampleFifo;
use mediabot_media::frame::{PcmFormat, PcmFrame};
use mediabot_media::jitter::{JitterBuffer, JitterConfig, Release};
use mediabot_media::receiver::{Receiver, ReceiverConfig};
use mediabot_media::rtp::RtpPacket;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

const FIXTURE: &str = "tone440_mono_20ms_ffmpeg.pcap";

fn rtp_parse(c: &mut Criterion) {
    let mut stream = LoopedStream::new(FIXTURE, 1);
    let packet = stream.next_packet().to_vec();
    c.bench_function("rtp_parse", |b| {
        b.iter(|| {
            let p = RtpPacket::parse(black_box(&packet)).expect("valid");
            black_box((p.sequence(), p.timestamp(), p.payload().len()))
        })
    });
}

fn jitter_buffer(c: &mut Criterion) {
    let mut stream = LoopedStream::new(FIXTURE, 1);
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut seq = 0u16;
    let mut ts = 0u32;
    let mut arrival = 0i64;
    c.bench_function("jitter_push_pop", |b| {
        b.iter(|| {
            jb.push(seq, ts, arrival, stream.next_payload());
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(960);
            arrival += 20_000;
            jb.begin_tick();
            match jb.pop() {
                Release::Packet { payload, .. } => black_box(payload.len()),
                _ => black_box(0),
            }
        })
    });
}

fn opus_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("opus_decode");
    for rate in [16_000u32, 48_000] {
        let mut stream = LoopedStream::new(FIXTURE, 1);
        let mut decoder = opus::Decoder::new(rate, opus::Channels::Mono).expect("decoder");
        let mut out = vec![0i16; rate as usize / 50];
        group.bench_function(format!("to_{}k", rate / 1_000), |b| {
            b.iter(|| {
                decoder
                    .decode(stream.next_payload(), &mut out, false)
                    .expect("decodes")
            })
        });
    }
    group.finish();
}

fn resample(c: &mut Criterion) {
    let mut resampler =
        Fft::<f32>::new(48_000, 16_000, 960, 1, FixedSync::Both).expect("resampler");
    let input: Vec<f32> = (0..960)
        .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin() * 0.1)
        .collect();
    let mut output = vec![0f32; resampler.output_frames_max()];
    c.bench_function("rubato_fft_48k_to_16k", |b| {
        b.iter(|| {
            let inp = InterleavedSlice::new(&input[..], 1, 960).expect("sized");
            let frames = output.len();
            let mut out = InterleavedSlice::new_mut(&mut output[..], 1, frames).expect("sized");
            resampler
                .process_into_buffer(&inp, &mut out, None)
                .expect("resamples")
        })
    });
}

fn full_receive_path(c: &mut Criterion) {
    let mut stream = LoopedStream::new(FIXTURE, 7);
    let mut receiver = Receiver::new(ReceiverConfig::default()).expect("receiver");
    let (tx, rx) = crossbeam_channel::bounded::<PcmFrame>(4_096);
    // The consumer polls every 5 ms, as mediabot's recorder does, so the audio thread never
    // pays a wake-up syscall per frame (see docs/PERFORMANCE.md).
    let consumer = std::thread::spawn(move || {
        let mut n = 0u64;
        loop {
            match rx.try_recv() {
                Ok(frame) => n += u64::from(frame.samples()[0] != i16::MIN),
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(crossbeam_channel::TryRecvError::Disconnected) => return n,
            }
        }
    });
    let mut arrival = 0i64;
    c.bench_function("full_receive_path_16k", |b| {
        b.iter(|| {
            receiver.handle_datagram(arrival, stream.next_packet());
            arrival += 20_000;
            receiver.handle_tick(&mut |frame: &PcmFrame| {
                let _ = tx.try_send(frame.clone());
            });
        })
    });
    drop(tx);
    black_box(consumer.join().expect("consumer"));
}

/// The same path without the cross-thread hand-off: what the audio thread itself spends.
fn receive_path_on_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("receive_path_on_thread");
    for (name, mix) in [
        ("decode_jitter_mix_speaker", true),
        ("decode_jitter_speaker", false),
    ] {
        let mut stream = LoopedStream::new(FIXTURE, 7);
        let mut receiver = Receiver::new(ReceiverConfig {
            mix,
            ..ReceiverConfig::default()
        })
        .expect("receiver");
        let mut arrival = 0i64;
        let mut sum = 0i64;
        group.bench_function(name, |b| {
            b.iter(|| {
                receiver.handle_datagram(arrival, stream.next_packet());
                arrival += 20_000;
                receiver.handle_tick(&mut |frame: &PcmFrame| sum += i64::from(frame.samples()[0]));
            })
        });
        black_box(sum);
    }
    group.finish();
}

fn handoff(c: &mut Criterion) {
    let (tx, rx) = crossbeam_channel::bounded::<PcmFrame>(256);
    let (back_tx, back_rx) = crossbeam_channel::bounded::<()>(256);
    let consumer = std::thread::spawn(move || {
        for frame in rx.iter() {
            black_box(frame.samples()[0]);
            if back_tx.send(()).is_err() {
                break;
            }
        }
    });
    let frame = PcmFrame::silent(1, PcmFormat::default());
    c.bench_function("frame_handoff_crossbeam", |b| {
        b.iter(|| {
            tx.send(frame.clone()).expect("consumer alive");
            back_rx.recv().expect("consumer alive");
        })
    });
    drop(tx);
    consumer.join().expect("consumer");
}

fn fifo(c: &mut Criterion) {
    let mut fifo = SampleFifo::new(4_096);
    let samples = [7i16; 320];
    let mut out = [0i16; 320];
    c.bench_function("sample_fifo_push_pop_320", |b| {
        b.iter(|| {
            fifo.push(
                black_box(&samples),
                mediabot_media::fifo::SegmentFlags::NONE,
            );
            fifo.pop_into(&mut out)
        })
    });
}

struct NullSink(u64);

impl mediabot_media::send::PacketSink for NullSink {
    fn send_rtp(&mut self, packet: &[u8]) -> bool {
        self.0 += packet.len() as u64;
        true
    }
}

fn tone(rate: u32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 8_000.0) as i16)
        .collect()
}

fn send_path(c: &mut Criterion) {
    use mediabot_media::send::{SendConfig, outbound};
    let mut group = c.benchmark_group("send_path");
    // The floor of the send side: libopus encode of 20 ms at 48 kHz with the send path's own
    // settings (voip, 32 kbps, in-band FEC sized for 10 % loss, which makes SILK add LBRR).
    let mut encoder =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).expect("encoder");
    encoder
        .set_bitrate(opus::Bitrate::Bits(32_000))
        .expect("bitrate");
    encoder.set_inband_fec(true).expect("fec");
    encoder.set_packet_loss_perc(10).expect("loss");
    let pcm48 = tone(48_000, 960);
    let mut out = [0u8; 1_275];
    group.bench_function("opus_encode_48k_floor", |b| {
        b.iter(|| {
            encoder
                .encode(black_box(&pcm48), &mut out)
                .expect("encodes")
        })
    });
    for rate in [48_000u32, 16_000] {
        let (mut audio, mut sender) = outbound(SendConfig::default()).expect("send path");
        let pcm = tone(rate, rate as usize / 50);
        let mut sink = NullSink(0);
        group.bench_function(format!("push_{}k_encode_packetise", rate / 1_000), |b| {
            b.iter(|| {
                audio.push_pcm(&pcm, rate, 1).expect("pushes");
                sender.handle_tick(&mut sink).expect("sends");
            })
        });
        black_box(sink.0);
    }
    group.finish();
}

fn mixer(c: &mut Criterion) {
    use mediabot_media::frame::FrameFlags;
    use mediabot_media::mixer::Mixer;
    let mut mixer = Mixer::new(PcmFormat::default());
    let frames: Vec<PcmFrame> = (0..4)
        .map(|i| {
            let mut f = PcmFrame::silent(i, PcmFormat::default());
            f.flags = FrameFlags::empty();
            f.samples_mut()
                .copy_from_slice(&tone(16_000 + i * 1_000, 320));
            f
        })
        .collect();
    c.bench_function("mixer_4_sources_16k", |b| {
        b.iter(|| {
            mixer.begin();
            for f in &frames {
                mixer.add(f);
            }
            mixer.finish(1, 0).map(|f| f.samples()[0])
        })
    });
}

criterion_group!(
    benches,
    send_path,
    mixer,
    rtp_parse,
    jitter_buffer,
    opus_decode,
    resample,
    full_receive_path,
    receive_path_on_thread,
    handoff,
    fifo
);
criterion_main!(benches);
