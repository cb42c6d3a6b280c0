#!/usr/bin/env python3
"""Writes the committed seed inputs, fuzz/corpus/<target>/seed-*, from the repository's fixtures
and documented examples. Deterministic; re-run after changing a target's input layout.

scripts/fuzz.sh adds further seeds at run time without committing them: fixtures/*.pcap for
pcap_reader and fixtures/graph-examples/*notification*.json for notification_parse.
"""
import io
import json
import re
import struct
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
FIXTURES = ROOT / "fixtures"


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data)


def pcap_udp_payloads(path):
    """(timestamp µs, UDP payload) of each Ethernet/IPv4/UDP record of a classic pcap."""
    data = path.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1", path
    offset, out = 24, []
    while offset + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, offset)
        frame = data[offset + 16 : offset + 16 + incl]
        offset += 16 + incl
        ihl = (frame[14] & 0x0F) * 4
        udp = frame[14 + ihl :]
        length = struct.unpack_from(">H", udp, 4)[0]
        out.append((sec * 1_000_000 + usec, udp[8:length]))
    return out


def rtp_fields(packet):
    """(ssrc, seq, ts, payload) of a plain RTP packet (no CSRCs or extension, as ffmpeg sends)."""
    _, _, seq, ts, ssrc = struct.unpack_from(">BBHII", packet)
    return ssrc, seq, ts, packet[12:]


def jitter_script(config, evict, packets, ssrc_slots, ticks_per_packet=1, drop=()):
    """A jitter_receiver script (layout in fuzz_targets/jitter_receiver.rs) replaying packets."""
    out = bytearray([config, evict])
    last = {}
    prev_arrival = None
    for i, (arrival, packet) in enumerate(packets):
        ssrc, seq, ts, payload = rtp_fields(packet)
        slot = ssrc_slots[ssrc]
        if i in drop or len(payload) > 255:
            continue
        prev_seq, prev_ts = last.get(slot, (seq - 1, ts - 960))
        seq_step = (seq - prev_seq) & 0xFFFF
        ts_step = ((ts - prev_ts) & 0xFFFFFFFF) // 480
        last[slot] = (seq, ts)
        arrival_ms = 0 if prev_arrival is None else min(255, (arrival - prev_arrival) // 1000)
        prev_arrival = arrival
        out += bytes([1, slot, seq_step if seq_step < 128 else 1, min(ts_step, 127) & 0xFF])
        out += bytes([arrival_ms, len(payload)]) + payload
        if ticks_per_packet and i % 2 == 1:
            out += bytes([((ticks_per_packet * 2 - 1) << 2) | 0])
    return bytes(out)


def jitter_seeds():
    tone = pcap_udp_payloads(FIXTURES / "tone440_mono_20ms_ffmpeg.pcap")[:40]
    # 16 kHz mono, mix, finish at the end, one slot.
    write("jitter_receiver", "tone440", jitter_script(0x24, 50, tone, {0x10000440: 0}))
    two = pcap_udp_payloads(FIXTURES / "two_sources_440_880_ffmpeg.loss10.pcap")[:50]
    # 48 kHz mono, mix, audio-level id, two slots.
    write(
        "jitter_receiver",
        "two-sources-loss10",
        jitter_script(0x4D, 5, two, {0x70000440: 0, 0x70000880: 1}),
    )
    fec = pcap_udp_payloads(FIXTURES / "tone440_fec_loss10_ffmpeg.pcap")[:40]
    # 48 kHz stereo, wall-clock origin, finish; every 7th packet dropped so FEC is used.
    script = jitter_script(0x32, 0, fec, {0x0F000440: 0}, drop=set(range(3, 40, 7)))
    # A sender report for slot 0 and a receiver report about another SSRC.
    sr = bytes([3 | (0 << 2), 0]) + struct.pack("<QI", 0xE9E1_0000_0000_0000, 1234)
    rr = bytes([3 | (1 << 2)]) + struct.pack("<IBIIIII", 0x6D620001, 0, 0, 10, 0, 0x1234_5678, 16384)
    write("jitter_receiver", "stereo-fec-rtcp", script + sr + rr + bytes([0x3C]))
    ten = pcap_udp_payloads(FIXTURES / "tone440_mono_10ms_ffmpeg.pcap")[:60]
    # 44.1 kHz (resampled), sequence numbers wrapping, 10 ms packets.
    write("jitter_receiver", "tone440-10ms-wrap", jitter_script(0x07, 250, ten, {0x50000010: 0}))


def sdp_seeds():
    built = (
        "v=0\r\no=- 42 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
        "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n"
        "a=fingerprint:sha-256 AB:CD:EF\r\na=setup:actpass\r\na=mid:0\r\n"
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=sendrecv\r\na=rtcp-mux\r\n"
        "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
        "a=msid:mediabot-remote audio\r\na=ssrc:305419896 cname:bot\r\n"
        "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\na=end-of-candidates\r\n"
    )
    write("sdp", "built.sdp", built.encode())
    local = (
        "v=0\r\no=- 4215775240449105457 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
        "a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n"
        "a=extmap-allow-mixed\r\na=group:BUNDLE 0 1\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 9\r\nc=IN IP4 0.0.0.0\r\na=setup:active\r\na=mid:0\r\n"
        "a=ice-ufrag:Xk3fQ\r\na=ice-pwd:p9Vv2/bQ+u3Rm8Lw1ZtY7nHs\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
        "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:9 G722/8000\r\n"
        "a=extmap:1/sendrecv urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
        "a=ssrc:3735928559 cname:mediabot-7f3a\r\na=ssrc:3735928559 msid:s t\r\n"
        "a=msid:s t\r\na=sendrecv\r\n"
        "a=candidate:167090039 1 udp 2130706431 10.0.0.4 50000 typ host\r\n"
        "a=candidate:3 1 UDP 1694498815 203.0.113.7 50000 typ srflx raddr 0.0.0.0 rport 0\r\n"
        "a=end-of-candidates\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\na=ice-ufrag:other\r\n"
    )
    write("sdp", "webrtc-local.sdp", local.encode())
    doc = (ROOT / "docs" / "media-blob.md").read_text()
    for name in ["offer", "answer"]:
        # The examples that crates/media/tests/blob.rs proves valid.
        after = doc[doc.index(f"<!-- example: {name} -->") :]
        example = re.search(r"```json\n(.*?)\n```", after, re.S).group(1)
        compact = json.dumps(json.loads(example), separators=(",", ":")).encode()
        write("sdp", f"{name}.json", compact)
        write("blob_parse", f"{name}.json", compact)


def wav_seeds():
    for name, rate, channels, frames in [("16k-mono", 16_000, 1, 320), ("44k-stereo", 44_100, 2, 441)]:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(b"".join(struct.pack("<h", (i * 97) % 8000 - 4000) for i in range(frames * channels)))
        write("wav_reader", f"{name}.wav", buffer.getvalue())


def small_seeds():
    packets = pcap_udp_payloads(FIXTURES / "tone440_mono_20ms_ffmpeg.pcap")
    write("rtp_parse", "ffmpeg-opus", packets[5][1])
    # RTP with a one-byte-header extension carrying an audio level (RFC 6464).
    write("rtp_parse", "audio-level", bytes.fromhex("9000000100000960deadbeefbede0001109f0000") + packets[6][1][:20])
    # SR with one report block, then SDES with a CNAME (a compound packet).
    sr = bytes.fromhex("81c8000c") + bytes.fromhex("deadbeef") + bytes.fromhex("e9e1000000000000") + struct.pack(">III", 1234, 10, 800)
    sr += struct.pack(">IB3sIIII", 0x6D620001, 0, b"\0\0\1", 10, 5, 0x12345678, 16384)
    sdes = bytes.fromhex("81ca0004deadbeef0106626f742d31") + b"\0\0\0\0\0"
    write("rtcp_parse", "sr-sdes", sr + sdes[:20])
    write("join_url_parse", "meetup-join", (
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NTg0NmQ3NTctZDVkZC00YzRhLThmNmEtOGQ3M2E0ODdmZDZk"
        "%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a"
        "%224b444206-207c-42f8-92a6-e332b41c88a2%22%7d"
    ).encode())


if __name__ == "__main__":
    jitter_seeds()
    sdp_seeds()
    wav_seeds()
    small_seeds()
