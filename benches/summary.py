#!/usr/bin/env python3
"""Summarise the criterion run of benches/benches/frame_path.rs.

Reads target/criterion/*/new/estimates.json (written by `cargo bench -p mediabot-benches`) and
prints the per-20 ms-frame medians, the ratio of the full receive path to the libopus decode
floor (target <= 1.10), and how many mono 32 kbps streams one core decodes in real time.
"""
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "criterion")

BENCHES = [
    ("rtp_parse", "RTP header parse"),
    ("jitter_push_pop", "jitter buffer push + pop"),
    ("opus_decode/to_16k", "libopus decode -> 16 kHz (the floor)"),
    ("opus_decode/to_48k", "libopus decode -> 48 kHz"),
    ("rubato_fft_48k_to_16k", "rubato Fft 48 -> 16 kHz"),
    ("sample_fifo_push_pop_320", "sample queue push + pop (320 samples)"),
    ("frame_handoff_crossbeam", "frame hand-off across threads (round trip)"),
    ("receive_path_on_thread/decode_jitter_speaker", "receive path on the audio thread, no mix (parse + jitter + decode + speaker level)"),
    ("receive_path_on_thread/decode_jitter_mix_speaker", "receive path on the audio thread, with mix"),
    ("full_receive_path_16k", "full receive path (parse + jitter + decode + mix + hand-off to a consumer thread)"),
    ("send_path/opus_encode_48k_floor", "libopus encode 48 kHz voip 32 kbps, FEC for 10 % loss (send floor)"),
    ("send_path/push_48k_encode_packetise", "send path: queue 48 kHz + encode + RTP"),
    ("send_path/push_16k_encode_packetise", "send path: resample 16->48 kHz + encode + RTP"),
    ("mixer_4_sources_16k", "mixer, 4 sources, 16 kHz"),
]


def median_ns(bench_id):
    path = os.path.join(ROOT, *bench_id.split("/"), "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.1f} ns"


def main():
    try:
        results = {b: median_ns(b) for b, _ in BENCHES}
    except FileNotFoundError as e:
        sys.exit(f"summary.py: no criterion results ({e}); run `cargo bench -p mediabot-benches` first")
    print("| stage | median per 20 ms frame |")
    print("|---|---|")
    for b, label in BENCHES:
        print(f"| {label} | {fmt(results[b])} |")
    floor = results["opus_decode/to_16k"]
    full = results["full_receive_path_16k"]
    print()
    print(f"full path / decode floor = {full / floor:.3f}  (target <= 1.10)")
    on_thread = results["receive_path_on_thread/decode_jitter_speaker"]
    print(f"audio-thread path (no hand-off, no mix) / decode floor = {on_thread / floor:.3f}")
    print(f"streams one core decodes in real time (20 ms / full path) = {20e6 / full:.0f}")
    send = results["send_path/push_48k_encode_packetise"]
    send_floor = results["send_path/opus_encode_48k_floor"]
    print(f"send path (48 kHz in) / encode floor = {send / send_floor:.3f}")


if __name__ == "__main__":
    main()
