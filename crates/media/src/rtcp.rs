//! Zero-copy RTCP compound packets: parse borrowed views, write reports into caller-owned buffers.
//!
//! - RFC 3550 §6.1 (common header, compound packets, padding only on the last packet),
//!   §6.4.1 (sender report), §6.4.2 (receiver report), §6.5 (SDES, kept as raw bytes here),
//!   §6.6 (BYE), §4 (NTP timestamp format) and Appendix A.2 (header validity checks).
//! - RFC 4330 §3 (NTP era convention for timestamps after 2036).
//!
//! Deliberately not enforced from A.2: that the first packet is an SR or RR, which RFC 5506
//! (reduced-size RTCP) relaxes. Feedback (RFC 4585) and APP packets come out as
//! [`RtcpPacket::Other`].
//!
//! Panic policy: every byte here may come from a hostile network peer. Parsing checks lengths
//! before reading, never indexes out of bounds, never allocates, and reports malformed input as
//! an [`RtcpError`], after which the compound iterator stops.

use std::time::Duration;

use thiserror::Error;

use crate::rtp::SourceIds;

/// Sender report packet type (RFC 3550 §6.4.1).
pub const PT_SENDER_REPORT: u8 = 200;
/// Receiver report packet type (RFC 3550 §6.4.2).
pub const PT_RECEIVER_REPORT: u8 = 201;
/// Source description packet type (RFC 3550 §6.5).
pub const PT_SDES: u8 = 202;
/// Goodbye packet type (RFC 3550 §6.6).
pub const PT_BYE: u8 = 203;
/// Application-defined packet type (RFC 3550 §6.7).
pub const PT_APP: u8 = 204;

/// The only RTCP version in use.
const RTCP_VERSION: u8 = 2;
/// Bytes of the common RTCP header.
const HEADER_LEN: usize = 4;
/// Bytes of one report block.
const REPORT_BLOCK_LEN: usize = 24;
/// Bytes of sender info in an SR after the sender SSRC.
const SENDER_INFO_LEN: usize = 20;
/// Most report blocks one SR or RR can carry (5-bit count).
const MAX_BLOCKS_PER_PACKET: usize = 31;
/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// Why an RTCP packet could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RtcpError {
    /// Fewer than 4 bytes remain where a packet header should start.
    #[error("RTCP header truncated: need 4 bytes, got {got}")]
    TooShort {
        /// Bytes left in the buffer.
        got: usize,
    },
    /// The version field is not 2.
    #[error("RTCP version {0} is not 2")]
    BadVersion(u8),
    /// The length field announces more bytes than the buffer holds.
    #[error("RTCP length field says {declared} bytes, only {available} remain")]
    LengthExceedsBuffer {
        /// Bytes the length field announces, header included.
        declared: usize,
        /// Bytes left in the buffer.
        available: usize,
    },
    /// The padding bit is set on a packet that is not the last of the compound packet.
    #[error("RTCP padding on a packet that is not the last one")]
    PaddingNotLast,
    /// The padding count is zero or larger than the packet body.
    #[error("RTCP padding count is zero or exceeds the packet body")]
    BadPadding,
    /// The body is shorter than its type and count require.
    #[error("RTCP packet type {packet_type} needs {needed} body bytes, has {got}")]
    BodyTooShort {
        /// The packet type.
        packet_type: u8,
        /// Body bytes the type and count require.
        needed: usize,
        /// Body bytes present.
        got: usize,
    },
    /// A BYE reason's length byte runs past the packet.
    #[error("RTCP BYE reason runs past the packet")]
    BadByeReason,
    /// Writer: an SDES item or BYE reason is longer than its 8-bit length field allows.
    #[error("RTCP text of {len} bytes is longer than 255")]
    TextTooLong {
        /// The text's length in bytes.
        len: usize,
    },
    /// Writer: a BYE lists more sources than its 5-bit count allows.
    #[error("RTCP BYE with {count} sources, at most 31 fit")]
    TooManySources {
        /// The number of sources given.
        count: usize,
    },
}

/// Reads a big-endian `u32` at `at`, if the buffer holds it.
fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..)?.first_chunk::<4>()?;
    Some(u32::from_be_bytes(*bytes))
}

/// Reads a big-endian `u64` at `at`, if the buffer holds it.
fn read_u64(buf: &[u8], at: usize) -> Option<u64> {
    let bytes = buf.get(at..)?.first_chunk::<8>()?;
    Some(u64::from_be_bytes(*bytes))
}

/// Iterates over the packets of an RTCP compound packet (RFC 3550 §6.1).
pub fn parse_compound(buf: &[u8]) -> RtcpPackets<'_> {
    RtcpPackets {
        rest: buf,
        failed: false,
    }
}

/// Iterator over an RTCP compound packet; yields each packet or the first error, then stops.
#[derive(Debug, Clone)]
pub struct RtcpPackets<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> RtcpPackets<'a> {
    fn next_packet(&mut self) -> Result<RtcpPacket<'a>, RtcpError> {
        let Some(header) = self.rest.first_chunk::<HEADER_LEN>() else {
            return Err(RtcpError::TooShort {
                got: self.rest.len(),
            });
        };
        let version = header[0] >> 6;
        if version != RTCP_VERSION {
            return Err(RtcpError::BadVersion(version));
        }
        let has_padding = header[0] & 0x20 != 0;
        let count = usize::from(header[0] & 0x1f);
        let packet_type = header[1];
        let declared = (usize::from(u16::from_be_bytes([header[2], header[3]])) + 1) * 4;
        let Some((packet, rest)) = self.rest.split_at_checked(declared) else {
            return Err(RtcpError::LengthExceedsBuffer {
                declared,
                available: self.rest.len(),
            });
        };
        if has_padding && !rest.is_empty() {
            return Err(RtcpError::PaddingNotLast);
        }
        let body = packet.get(HEADER_LEN..).ok_or(RtcpError::BadPadding)?;
        let body = if has_padding {
            let pad = usize::from(*body.last().ok_or(RtcpError::BadPadding)?);
            if pad == 0 || pad > body.len() {
                return Err(RtcpError::BadPadding);
            }
            body.get(..body.len() - pad).ok_or(RtcpError::BadPadding)?
        } else {
            body
        };
        self.rest = rest;
        parse_body(packet_type, count, body)
    }
}

impl<'a> Iterator for RtcpPackets<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let result = self.next_packet();
        if result.is_err() {
            self.failed = true;
            self.rest = &[];
        }
        Some(result)
    }
}

impl std::iter::FusedIterator for RtcpPackets<'_> {}

/// Checks that `body` holds `needed` bytes.
fn require(packet_type: u8, body: &[u8], needed: usize) -> Result<(), RtcpError> {
    if body.len() < needed {
        return Err(RtcpError::BodyTooShort {
            packet_type,
            needed,
            got: body.len(),
        });
    }
    Ok(())
}

fn parse_body(packet_type: u8, count: usize, body: &[u8]) -> Result<RtcpPacket<'_>, RtcpError> {
    match packet_type {
        PT_SENDER_REPORT => {
            let blocks_end = 4 + SENDER_INFO_LEN + count * REPORT_BLOCK_LEN;
            require(packet_type, body, blocks_end)?;
            let field = |at| read_u32(body, at).unwrap_or_default();
            Ok(RtcpPacket::SenderReport(SenderReport {
                ssrc: field(0),
                ntp_timestamp: NtpTime(read_u64(body, 4).unwrap_or_default()),
                rtp_timestamp: field(12),
                packet_count: field(16),
                octet_count: field(20),
                blocks: body
                    .get(4 + SENDER_INFO_LEN..blocks_end)
                    .unwrap_or_default(),
                extension: body.get(blocks_end..).unwrap_or_default(),
            }))
        }
        PT_RECEIVER_REPORT => {
            let blocks_end = 4 + count * REPORT_BLOCK_LEN;
            require(packet_type, body, blocks_end)?;
            Ok(RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: read_u32(body, 0).unwrap_or_default(),
                blocks: body.get(4..blocks_end).unwrap_or_default(),
                extension: body.get(blocks_end..).unwrap_or_default(),
            }))
        }
        PT_SDES => Ok(RtcpPacket::Sdes(body)),
        PT_BYE => {
            let sources_end = count * 4;
            require(packet_type, body, sources_end)?;
            let (sources, after) = body.split_at_checked(sources_end).unwrap_or_default();
            let reason = match after.split_first() {
                None => None,
                Some((&len, text)) => Some(
                    text.get(..usize::from(len))
                        .ok_or(RtcpError::BadByeReason)?,
                ),
            };
            Ok(RtcpPacket::Bye(Bye { sources, reason }))
        }
        _ => Ok(RtcpPacket::Other { packet_type, body }),
    }
}

/// One packet of an RTCP compound packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket<'a> {
    /// Sender report (PT 200).
    SenderReport(SenderReport<'a>),
    /// Receiver report (PT 201).
    ReceiverReport(ReceiverReport<'a>),
    /// Source description (PT 202): the raw chunks after the common header, padding removed.
    Sdes(&'a [u8]),
    /// Goodbye (PT 203).
    Bye(Bye<'a>),
    /// Any other packet type (APP, RTPFB, PSFB, XR, ...): the body after the common header,
    /// padding removed.
    Other {
        /// The packet type byte.
        packet_type: u8,
        /// The body after the 4-byte common header.
        body: &'a [u8],
    },
}

/// A 64-bit NTP timestamp (RFC 3550 §4): seconds since 1900 in Q32.32 fixed point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// The whole seconds (high 32 bits).
    pub fn seconds(&self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The fraction of a second in units of 2^-32 s (low 32 bits).
    pub fn fraction(&self) -> u32 {
        self.0 as u32
    }

    /// The middle 32 bits (Q16.16 seconds), as carried in LSR / compared with DLSR.
    pub fn middle_32(&self) -> u32 {
        (self.0 >> 16) as u32
    }

    /// The value as seconds since the NTP epoch (Q32.32 converted to `f64`).
    pub fn as_secs_f64(&self) -> f64 {
        self.0 as f64 / 4_294_967_296.0
    }

    /// The time since the Unix epoch.
    ///
    /// Follows RFC 4330 §3: a timestamp whose top bit is clear is in NTP era 1 (from
    /// 2036-02-07). Returns `None` for instants before 1970 (top bit set, 1968–1970).
    pub fn to_unix_duration(&self) -> Option<Duration> {
        let mut seconds = u64::from(self.seconds());
        if seconds & 0x8000_0000 == 0 {
            seconds += 1 << 32;
        }
        let unix_seconds = seconds.checked_sub(NTP_UNIX_OFFSET_SECS)?;
        let nanos = (u64::from(self.fraction()) * 1_000_000_000) >> 32;
        // `nanos < 10^9` because `fraction < 2^32`.
        Some(Duration::new(unix_seconds, nanos as u32))
    }

    /// The NTP timestamp of a time since the Unix epoch (wrapping into era 1 after 2036).
    pub fn from_unix_duration(since_unix: Duration) -> NtpTime {
        let seconds = since_unix.as_secs().wrapping_add(NTP_UNIX_OFFSET_SECS) as u32;
        let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
        NtpTime((u64::from(seconds) << 32) | fraction)
    }
}

/// Sender info of an SR (RFC 3550 §6.4.1), as given to [`write_sender_report`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    /// Wall-clock time when the report was sent.
    pub ntp_timestamp: NtpTime,
    /// The same instant on the RTP media clock.
    pub rtp_timestamp: u32,
    /// Packets sent since the start of transmission.
    pub packet_count: u32,
    /// Payload octets sent since the start of transmission.
    pub octet_count: u32,
}

/// A sender report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// The sender's SSRC.
    pub ssrc: u32,
    /// Wall-clock time when the report was sent.
    pub ntp_timestamp: NtpTime,
    /// The same instant on the RTP media clock.
    pub rtp_timestamp: u32,
    /// Packets sent since the start of transmission.
    pub packet_count: u32,
    /// Payload octets sent since the start of transmission.
    pub octet_count: u32,
    blocks: &'a [u8],
    extension: &'a [u8],
}

impl<'a> SenderReport<'a> {
    /// The report blocks, one per source this sender heard.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks { bytes: self.blocks }
    }

    /// The sender info fields together.
    pub fn sender_info(&self) -> SenderInfo {
        SenderInfo {
            ntp_timestamp: self.ntp_timestamp,
            rtp_timestamp: self.rtp_timestamp,
            packet_count: self.packet_count,
            octet_count: self.octet_count,
        }
    }

    /// Profile-specific extension bytes after the report blocks (usually empty).
    pub fn extension(&self) -> &'a [u8] {
        self.extension
    }
}

/// A receiver report (RFC 3550 §6.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// The reporter's SSRC.
    pub ssrc: u32,
    blocks: &'a [u8],
    extension: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    /// The report blocks, one per source the reporter heard.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks { bytes: self.blocks }
    }

    /// Profile-specific extension bytes after the report blocks (usually empty).
    pub fn extension(&self) -> &'a [u8] {
        self.extension
    }
}

/// Iterator over the report blocks of an SR or RR.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    bytes: &'a [u8],
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        let (block, rest) = self.bytes.split_first_chunk::<REPORT_BLOCK_LEN>()?;
        self.bytes = rest;
        Some(ReportBlock::from_bytes(block))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.bytes.len() / REPORT_BLOCK_LEN;
        (n, Some(n))
    }
}

impl ExactSizeIterator for ReportBlocks<'_> {}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Packets lost since the previous report, as a fraction of 256.
    pub fraction_lost: u8,
    /// Packets lost since the start (24-bit signed; duplicates can make it negative). Writers
    /// clamp it to -8388608..=8388607.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the high 16 bits).
    pub highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR from this source (0: none yet).
    pub last_sr: u32,
    /// Delay since that SR in units of 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn from_bytes(b: &[u8; REPORT_BLOCK_LEN]) -> ReportBlock {
        let word = |at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        ReportBlock {
            ssrc: word(0),
            fraction_lost: b[4],
            // Place the 24 bits at the top and shift back arithmetically to sign-extend.
            cumulative_lost: i32::from_be_bytes([b[5], b[6], b[7], 0]) >> 8,
            highest_seq: word(8),
            jitter: word(12),
            last_sr: word(16),
            delay_since_last_sr: word(20),
        }
    }

    /// Appends the 24-byte wire form to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let lost = self
            .cumulative_lost
            .clamp(-0x80_0000, 0x7f_ffff)
            .to_be_bytes();
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.push(self.fraction_lost);
        out.extend_from_slice(&lost[1..]);
        out.extend_from_slice(&self.highest_seq.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }

    /// Round-trip time seen by the sender of the SR this block answers, given the block's
    /// `arrival` time (RFC 3550 §6.4.1: A - LSR - DLSR, at 1/65536 s resolution).
    ///
    /// `None` when no SR was received yet (LSR 0) or the result would be negative.
    pub fn round_trip_time(&self, arrival: NtpTime) -> Option<Duration> {
        if self.last_sr == 0 {
            return None;
        }
        let since_sr = arrival.middle_32().wrapping_sub(self.last_sr);
        if since_sr >= 0x8000_0000 {
            return None;
        }
        let rtt = since_sr.checked_sub(self.delay_since_last_sr)?;
        Some(Duration::from_nanos((u64::from(rtt) * 1_000_000_000) >> 16))
    }
}

/// A goodbye packet (RFC 3550 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    sources: &'a [u8],
    reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    /// The SSRCs / CSRCs that are leaving.
    pub fn sources(&self) -> SourceIds<'a> {
        SourceIds::new(self.sources)
    }

    /// The reason for leaving, as sent (meant to be UTF-8, not checked).
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.reason
    }
}

/// SDES item type of the canonical name (RFC 3550 §6.5.1).
pub const SDES_CNAME: u8 = 1;

/// Iterates over the chunks of an SDES packet body (the bytes of [`RtcpPacket::Sdes`]).
pub fn sdes_chunks(body: &[u8]) -> SdesChunks<'_> {
    SdesChunks {
        rest: body,
        malformed: false,
    }
}

/// Iterator over SDES chunks (RFC 3550 §6.5).
///
/// A chunk whose items run past the body, or that lacks its terminating null octet and
/// padding to a 32-bit boundary, stops the iterator and sets [`SdesChunks::is_malformed`].
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    rest: &'a [u8],
    malformed: bool,
}

impl SdesChunks<'_> {
    /// Whether iteration stopped on malformed data. Meaningful once `next` returned `None`.
    pub fn is_malformed(&self) -> bool {
        self.malformed
    }

    fn stop(&mut self) {
        self.rest = &[];
        self.malformed = true;
    }
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;

    fn next(&mut self) -> Option<SdesChunk<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let Some((ssrc, after_ssrc)) = self.rest.split_first_chunk::<4>() else {
            self.stop();
            return None;
        };
        // Walk the items up to the END (null) octet.
        let mut at = 0;
        loop {
            match after_ssrc.get(at) {
                None => {
                    self.stop();
                    return None;
                }
                Some(0) => break,
                Some(_) => {
                    let Some(&len) = after_ssrc.get(at + 1) else {
                        self.stop();
                        return None;
                    };
                    at += 2 + usize::from(len);
                }
            }
        }
        let items = after_ssrc.get(..at).unwrap_or_default();
        // The END octet and the nulls after it fill the chunk up to a 32-bit boundary.
        let chunk_len = (4 + at + 1).next_multiple_of(4);
        let Some((_, rest)) = self.rest.split_at_checked(chunk_len) else {
            self.stop();
            return None;
        };
        self.rest = rest;
        Some(SdesChunk {
            ssrc: u32::from_be_bytes(*ssrc),
            items,
        })
    }
}

/// One SDES chunk: a source and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The SSRC or CSRC the items describe.
    pub ssrc: u32,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// The items, in order.
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems { rest: self.items }
    }

    /// The CNAME item's text, if present (meant to be UTF-8, not checked).
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|item| item.kind == SDES_CNAME)
            .map(|item| item.text)
    }
}

/// One SDES item (RFC 3550 §6.5.1–6.5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// The item type (1 CNAME, 2 NAME, 3 EMAIL, ... 8 PRIV).
    pub kind: u8,
    /// The item's text as sent.
    pub text: &'a [u8],
}

/// Iterator over the items of an [`SdesChunk`] (already validated by [`SdesChunks`]).
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<SdesItem<'a>> {
        let (&kind, after_kind) = self.rest.split_first()?;
        let (&len, after_len) = after_kind.split_first()?;
        let (text, rest) = after_len.split_at_checked(usize::from(len))?;
        self.rest = rest;
        Some(SdesItem { kind, text })
    }
}

/// Appends a common header for a packet of `body_len` bytes (a multiple of 4).
fn write_header(count: usize, packet_type: u8, body_len: usize, out: &mut Vec<u8>) {
    // Callers keep `count <= 31` and bodies small enough for the 16-bit length.
    out.push((RTCP_VERSION << 6) | (count as u8 & 0x1f));
    out.push(packet_type);
    let words = (HEADER_LEN + body_len) / 4 - 1;
    out.extend_from_slice(&(words as u16).to_be_bytes());
}

/// Appends receiver reports from `ssrc` to `out`: one RR, or several when there are more than
/// 31 blocks (RFC 3550 §6.4.2). With no blocks, one empty RR.
pub fn write_receiver_report(ssrc: u32, blocks: &[ReportBlock], out: &mut Vec<u8>) {
    out.reserve((1 + blocks.len() / MAX_BLOCKS_PER_PACKET) * 8 + blocks.len() * REPORT_BLOCK_LEN);
    let mut chunks = blocks.chunks(MAX_BLOCKS_PER_PACKET);
    let first = chunks.next().unwrap_or_default();
    for chunk in std::iter::once(first).chain(chunks) {
        write_header(
            chunk.len(),
            PT_RECEIVER_REPORT,
            4 + chunk.len() * REPORT_BLOCK_LEN,
            out,
        );
        out.extend_from_slice(&ssrc.to_be_bytes());
        for block in chunk {
            block.write(out);
        }
    }
}

/// Appends a sender report from `ssrc` to `out`, carrying up to 31 blocks; further blocks go
/// into receiver reports that follow it (RFC 3550 §6.4.1).
pub fn write_sender_report(
    ssrc: u32,
    info: &SenderInfo,
    blocks: &[ReportBlock],
    out: &mut Vec<u8>,
) {
    let (in_sr, rest) = blocks.split_at(blocks.len().min(MAX_BLOCKS_PER_PACKET));
    out.reserve(28 + blocks.len() * REPORT_BLOCK_LEN + 8);
    write_header(
        in_sr.len(),
        PT_SENDER_REPORT,
        4 + SENDER_INFO_LEN + in_sr.len() * REPORT_BLOCK_LEN,
        out,
    );
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&info.ntp_timestamp.0.to_be_bytes());
    out.extend_from_slice(&info.rtp_timestamp.to_be_bytes());
    out.extend_from_slice(&info.packet_count.to_be_bytes());
    out.extend_from_slice(&info.octet_count.to_be_bytes());
    for block in in_sr {
        block.write(out);
    }
    if !rest.is_empty() {
        write_receiver_report(ssrc, rest, out);
    }
}

/// Appends an SDES packet with one chunk carrying `ssrc`'s CNAME (RFC 3550 §6.5.1), which
/// every compound packet a sender emits should include. On error `out` is unchanged.
pub fn write_sdes_cname(ssrc: u32, cname: &[u8], out: &mut Vec<u8>) -> Result<(), RtcpError> {
    let len = u8::try_from(cname.len()).map_err(|_| RtcpError::TextTooLong { len: cname.len() })?;
    // SSRC, item header, text, then at least one null octet up to a 32-bit boundary.
    let chunk_len = (4 + 2 + cname.len() + 1).next_multiple_of(4);
    out.reserve(HEADER_LEN + chunk_len);
    write_header(1, PT_SDES, chunk_len, out);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.push(SDES_CNAME);
    out.push(len);
    out.extend_from_slice(cname);
    let nulls = chunk_len - (4 + 2 + cname.len());
    out.extend_from_slice(&[0u8; 4][..nulls]);
    Ok(())
}

/// Appends a BYE for up to 31 `sources`, with an optional reason of at most 255 bytes
/// (RFC 3550 §6.6). On error `out` is unchanged.
pub fn write_bye(
    sources: &[u32],
    reason: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<(), RtcpError> {
    if sources.len() > MAX_BLOCKS_PER_PACKET {
        return Err(RtcpError::TooManySources {
            count: sources.len(),
        });
    }
    let reason_len = match reason {
        Some(text) => {
            Some(u8::try_from(text.len()).map_err(|_| RtcpError::TextTooLong { len: text.len() })?)
        }
        None => None,
    };
    let reason_bytes = reason.map_or(0, |text| (1 + text.len()).next_multiple_of(4));
    let body_len = 4 * sources.len() + reason_bytes;
    out.reserve(HEADER_LEN + body_len);
    write_header(sources.len(), PT_BYE, body_len, out);
    for source in sources {
        out.extend_from_slice(&source.to_be_bytes());
    }
    if let (Some(text), Some(len)) = (reason, reason_len) {
        out.push(len);
        out.extend_from_slice(text);
        let zeros = reason_bytes - (1 + text.len());
        out.extend_from_slice(&[0u8; 4][..zeros]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic PRNG (SplitMix64) so the property tests need no dependency.
    struct SplitMix64(u64);

    impl SplitMix64 {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// RFC 3550 §6.4.1 by hand: SR, one report block, no padding.
    fn sender_report_bytes() -> Vec<u8> {
        let mut p = vec![0x81, 200, 0x00, 0x0c];
        p.extend_from_slice(&[0x11, 0x22, 0x33, 0x44]); // sender SSRC
        p.extend_from_slice(&[0xe6, 0xa1, 0xb2, 0xc3, 0x80, 0x00, 0x00, 0x00]); // NTP
        p.extend_from_slice(&[0x00, 0x00, 0x3c, 0x00]); // RTP timestamp
        p.extend_from_slice(&100u32.to_be_bytes()); // packet count
        p.extend_from_slice(&16_000u32.to_be_bytes()); // octet count
        p.extend_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]); // block: SSRC
        p.extend_from_slice(&[0x40, 0xff, 0xff, 0xfe]); // 1/4 lost, cumulative -2
        p.extend_from_slice(&[0x00, 0x01, 0x00, 0x05]); // one cycle, seq 5
        p.extend_from_slice(&12u32.to_be_bytes()); // jitter
        p.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]); // LSR
        p.extend_from_slice(&[0x00, 0x01, 0x00, 0x00]); // DLSR: 1 s
        p
    }

    /// RR with no blocks, SDES with a CNAME, and a BYE with a reason, padded at the end.
    fn compound_bytes() -> Vec<u8> {
        let mut p = vec![0x80, 201, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04];
        // SDES: one chunk, SSRC, CNAME "bot" (type 1, len 3), END, pad to 4 bytes.
        p.extend_from_slice(&[0x81, 202, 0x00, 0x03, 0x01, 0x02, 0x03, 0x04]);
        p.extend_from_slice(&[0x01, 0x03, b'b', b'o', b't', 0x00, 0x00, 0x00]);
        // BYE: padding bit, SC=2, two SSRCs, reason "gone" (len 4), 3 bytes of 0 + pad count 4.
        p.extend_from_slice(&[0xa2, 203, 0x00, 0x05]);
        p.extend_from_slice(&[0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11]);
        p.extend_from_slice(&[0x04, b'g', b'o', b'n', b'e', 0x00, 0x00, 0x00, 0x00, 0x00]);
        p.extend_from_slice(&[0x00, 0x04]);
        p
    }

    fn collect(buf: &[u8]) -> Vec<Result<RtcpPacket<'_>, RtcpError>> {
        parse_compound(buf).collect()
    }

    #[test]
    fn parses_a_hand_built_sender_report() {
        let bytes = sender_report_bytes();
        let packets = collect(&bytes);
        assert_eq!(packets.len(), 1);
        let Ok(RtcpPacket::SenderReport(sr)) = packets[0] else {
            panic!("expected an SR, got {:?}", packets[0]);
        };
        assert_eq!(sr.ssrc, 0x1122_3344);
        assert_eq!(sr.ntp_timestamp, NtpTime(0xe6a1_b2c3_8000_0000));
        assert_eq!(sr.ntp_timestamp.seconds(), 0xe6a1_b2c3);
        assert_eq!(sr.ntp_timestamp.fraction(), 0x8000_0000);
        assert_eq!(sr.ntp_timestamp.middle_32(), 0xb2c3_8000);
        assert_eq!(sr.rtp_timestamp, 0x3c00);
        assert_eq!(sr.packet_count, 100);
        assert_eq!(sr.octet_count, 16_000);
        assert_eq!(sr.extension(), &[] as &[u8]);
        let blocks: Vec<_> = sr.report_blocks().collect();
        assert_eq!(
            blocks,
            vec![ReportBlock {
                ssrc: 0xaabb_ccdd,
                fraction_lost: 0x40,
                cumulative_lost: -2,
                highest_seq: 0x0001_0005,
                jitter: 12,
                last_sr: 0x1234_5678,
                delay_since_last_sr: 0x0001_0000,
            }]
        );
    }

    #[test]
    fn parses_a_hand_built_compound_with_padding_on_the_last_packet() {
        let bytes = compound_bytes();
        let packets = collect(&bytes);
        assert_eq!(packets.len(), 3, "{packets:?}");
        let Ok(RtcpPacket::ReceiverReport(rr)) = packets[0] else {
            panic!("expected an RR, got {:?}", packets[0]);
        };
        assert_eq!(rr.ssrc, 0x0102_0304);
        assert_eq!(rr.report_blocks().len(), 0);
        assert_eq!(
            packets[1],
            Ok(RtcpPacket::Sdes(&[
                0x01, 0x02, 0x03, 0x04, 0x01, 0x03, b'b', b'o', b't', 0x00, 0x00, 0x00
            ]))
        );
        let Ok(RtcpPacket::Bye(bye)) = packets[2] else {
            panic!("expected a BYE, got {:?}", packets[2]);
        };
        assert_eq!(
            bye.sources().collect::<Vec<_>>(),
            vec![0x0a0b_0c0d, 0x0e0f_1011]
        );
        assert_eq!(bye.reason(), Some(&b"gone"[..]));
    }

    #[test]
    fn unknown_types_come_out_as_other() {
        // RTPFB (205) generic NACK, FMT 1, sender SSRC + media SSRC + one FCI word.
        let bytes = [
            0x81, 205, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x07, 0x00, 0x00,
        ];
        assert_eq!(
            collect(&bytes),
            vec![Ok(RtcpPacket::Other {
                packet_type: 205,
                body: &bytes[4..]
            })]
        );
    }

    #[test]
    fn padding_on_a_packet_that_is_not_last_is_rejected() {
        let mut bytes = compound_bytes();
        bytes[0] |= 0x20; // RR claims padding but SDES follows
        let packets = collect(&bytes);
        assert_eq!(packets, vec![Err(RtcpError::PaddingNotLast)]);
    }

    #[test]
    fn bad_padding_counts_are_rejected() {
        // RR with padding bit, one word of body + one word of padding.
        let mut bytes = vec![0xa0, 201, 0x00, 0x02, 1, 2, 3, 4, 0, 0, 0, 0];
        assert_eq!(collect(&bytes), vec![Err(RtcpError::BadPadding)]);
        bytes[11] = 9; // more than the 8-byte body
        assert_eq!(collect(&bytes), vec![Err(RtcpError::BadPadding)]);
        bytes[11] = 8; // eats the SSRC
        assert_eq!(
            collect(&bytes),
            vec![Err(RtcpError::BodyTooShort {
                packet_type: 201,
                needed: 4,
                got: 0
            })]
        );
        bytes[11] = 4;
        let packets = collect(&bytes);
        assert!(
            matches!(packets[..], [Ok(RtcpPacket::ReceiverReport(rr))] if rr.ssrc == 0x0102_0304)
        );
    }

    #[test]
    fn header_errors() {
        assert_eq!(collect(&[]), vec![]);
        assert_eq!(
            collect(&[0x80, 201, 0x00]),
            vec![Err(RtcpError::TooShort { got: 3 })]
        );
        assert_eq!(
            collect(&[0x40, 201, 0x00, 0x00]),
            vec![Err(RtcpError::BadVersion(1))]
        );
        assert_eq!(
            collect(&[0x80, 201, 0x00, 0x01, 0, 0]),
            vec![Err(RtcpError::LengthExceedsBuffer {
                declared: 8,
                available: 6
            })]
        );
        // RR says 2 blocks but holds none.
        assert_eq!(
            collect(&[0x82, 201, 0x00, 0x01, 0, 0, 0, 1]),
            vec![Err(RtcpError::BodyTooShort {
                packet_type: 201,
                needed: 52,
                got: 4
            })]
        );
        // BYE whose reason length runs past the packet.
        assert_eq!(
            collect(&[0x81, 203, 0x00, 0x02, 0, 0, 0, 1, 0x09, b'x', 0, 0]),
            vec![Err(RtcpError::BadByeReason)]
        );
    }

    #[test]
    fn iteration_stops_after_the_first_error() {
        let mut bytes = sender_report_bytes();
        bytes.extend_from_slice(&[0x00, 0x00, 0x00, 0x00]); // version 0
        bytes.extend_from_slice(&sender_report_bytes());
        let mut packets = parse_compound(&bytes);
        assert!(matches!(
            packets.next(),
            Some(Ok(RtcpPacket::SenderReport(_)))
        ));
        assert_eq!(packets.next(), Some(Err(RtcpError::BadVersion(0))));
        assert_eq!(packets.next(), None);
        assert_eq!(packets.next(), None);
    }

    #[test]
    fn every_truncation_is_an_error_except_at_packet_boundaries() {
        let mut bytes = sender_report_bytes();
        bytes.extend_from_slice(&compound_bytes());
        let boundaries = [0, 52, 60, 76, bytes.len()];
        assert_eq!(collect(&bytes).iter().filter(|p| p.is_ok()).count(), 4);
        for len in 0..=bytes.len() {
            let packets = collect(&bytes[..len]);
            let failed = packets.iter().any(Result::is_err);
            if let Some(index) = boundaries.iter().position(|&b| b == len) {
                assert!(!failed, "prefix of {len} bytes failed: {packets:?}");
                assert_eq!(packets.len(), index);
            } else {
                assert!(failed, "prefix of {len} bytes parsed: {packets:?}");
                assert!(packets.last().is_some_and(Result::is_err));
            }
        }
    }

    fn block(i: u32) -> ReportBlock {
        ReportBlock {
            ssrc: 0x1000 + i,
            fraction_lost: i as u8,
            cumulative_lost: i as i32 - 20,
            highest_seq: 0x0002_0000 + i,
            jitter: 3 * i,
            last_sr: 0xdead_0000 + i,
            delay_since_last_sr: 65_536 + i,
        }
    }

    #[test]
    fn sender_and_receiver_reports_round_trip_as_a_compound() {
        let info = SenderInfo {
            ntp_timestamp: NtpTime::from_unix_duration(Duration::new(1_790_000_000, 250_000_000)),
            rtp_timestamp: 48_000,
            packet_count: 50,
            octet_count: 6_400,
        };
        let sr_blocks: Vec<_> = (0..3).map(block).collect();
        let rr_blocks: Vec<_> = (10..12).map(block).collect();
        let mut out = Vec::new();
        write_sender_report(0xfeed_0001, &info, &sr_blocks, &mut out);
        write_receiver_report(0xfeed_0002, &rr_blocks, &mut out);
        assert_eq!(out.len(), (28 + 3 * 24) + (8 + 2 * 24));

        let packets = collect(&out);
        assert_eq!(packets.len(), 2);
        let Ok(RtcpPacket::SenderReport(sr)) = packets[0] else {
            panic!("expected an SR, got {:?}", packets[0]);
        };
        assert_eq!(sr.ssrc, 0xfeed_0001);
        assert_eq!(sr.sender_info(), info);
        assert_eq!(sr.report_blocks().collect::<Vec<_>>(), sr_blocks);
        let Ok(RtcpPacket::ReceiverReport(rr)) = packets[1] else {
            panic!("expected an RR, got {:?}", packets[1]);
        };
        assert_eq!(rr.ssrc, 0xfeed_0002);
        assert_eq!(rr.report_blocks().collect::<Vec<_>>(), rr_blocks);
    }

    #[test]
    fn more_than_31_blocks_spill_into_extra_receiver_reports() {
        let blocks: Vec<_> = (0..70).map(block).collect();
        let info = SenderInfo {
            ntp_timestamp: NtpTime(1 << 63),
            rtp_timestamp: 0,
            packet_count: 0,
            octet_count: 0,
        };
        let mut out = Vec::new();
        write_sender_report(7, &info, &blocks, &mut out);
        let mut seen = Vec::new();
        let mut kinds = Vec::new();
        for packet in parse_compound(&out) {
            match packet.unwrap() {
                RtcpPacket::SenderReport(sr) => {
                    kinds.push((200, sr.report_blocks().len()));
                    seen.extend(sr.report_blocks());
                }
                RtcpPacket::ReceiverReport(rr) => {
                    assert_eq!(rr.ssrc, 7);
                    kinds.push((201, rr.report_blocks().len()));
                    seen.extend(rr.report_blocks());
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(kinds, vec![(200, 31), (201, 31), (201, 8)]);
        assert_eq!(seen, blocks);

        out.clear();
        write_receiver_report(9, &[], &mut out);
        assert_eq!(out, vec![0x80, 201, 0x00, 0x01, 0, 0, 0, 9]);
    }

    #[test]
    fn cumulative_lost_is_sign_extended_and_clamped() {
        let mut out = Vec::new();
        for (written, read) in [
            (-1, -1),
            (0x7f_ffff, 0x7f_ffff),
            (-0x80_0000, -0x80_0000),
            (10_000_000, 0x7f_ffff),
            (-9_000_000, -0x80_0000),
        ] {
            out.clear();
            let sent = ReportBlock {
                cumulative_lost: written,
                ..ReportBlock::default()
            };
            write_receiver_report(1, &[sent], &mut out);
            let Some(Ok(RtcpPacket::ReceiverReport(rr))) = parse_compound(&out).next() else {
                panic!("RR did not parse");
            };
            let received = rr.report_blocks().next().unwrap();
            assert_eq!(received.cumulative_lost, read, "wrote {written}");
        }
    }

    #[test]
    fn ntp_time_converts_to_and_from_unix() {
        assert_eq!(
            NtpTime::from_unix_duration(Duration::ZERO),
            NtpTime(2_208_988_800 << 32)
        );
        let half = NtpTime((2_208_988_800 << 32) | 0x8000_0000);
        assert_eq!(half.to_unix_duration(), Some(Duration::from_millis(500)));
        assert_eq!(half.as_secs_f64(), 2_208_988_800.5);
        // 2026-11-27T00:00:00Z, with a fraction that must survive the round trip to ~1 ns.
        let now = Duration::new(1_795_737_600, 123_456_789);
        let ntp = NtpTime::from_unix_duration(now);
        let back = ntp.to_unix_duration().unwrap();
        assert!(now - back < Duration::from_nanos(2), "{now:?} vs {back:?}");
        // RFC 4330 era 1: NTP second 0 is 2036-02-07T06:28:16Z.
        assert_eq!(
            NtpTime(0).to_unix_duration(),
            Some(Duration::from_secs(2_085_978_496))
        );
        assert_eq!(
            NtpTime::from_unix_duration(Duration::from_secs(2_085_978_496)),
            NtpTime(0)
        );
        // 1969 is before the Unix epoch.
        assert_eq!(NtpTime(2_200_000_000 << 32).to_unix_duration(), None);
    }

    #[test]
    fn round_trip_time_from_a_report_block() {
        let sent = NtpTime(0x0000_1234_5678_0000);
        let block = ReportBlock {
            last_sr: sent.middle_32(),
            delay_since_last_sr: 0x0001_0000, // held for 1 s
            ..ReportBlock::default()
        };
        // Arrives 1.25 s after the SR was sent: RTT 250 ms.
        let arrival = NtpTime(sent.0 + (0x0001_4000 << 16));
        assert_eq!(
            block.round_trip_time(arrival),
            Some(Duration::from_millis(250))
        );
        // Arrival before LSR + DLSR (clock skew) and no SR yet give no RTT.
        assert_eq!(block.round_trip_time(sent), None);
        let none_yet = ReportBlock {
            last_sr: 0,
            ..block
        };
        assert_eq!(none_yet.round_trip_time(arrival), None);
    }

    #[test]
    fn sdes_chunks_from_a_hand_built_packet() {
        // Two chunks: SSRC 1 with CNAME "a@b" and NAME "Al" (3+2+2+2 = 9 bytes of items, END,
        // two nulls of padding); SSRC 2 with no items (END + 3 nulls).
        let body = [
            0, 0, 0, 1, 1, 3, b'a', b'@', b'b', 2, 2, b'A', b'l', 0, 0, 0, //
            0, 0, 0, 2, 0, 0, 0, 0,
        ];
        let mut chunks = sdes_chunks(&body);
        let first = chunks.next().unwrap();
        assert_eq!(first.ssrc, 1);
        assert_eq!(first.cname(), Some(&b"a@b"[..]));
        assert_eq!(
            first.items().collect::<Vec<_>>(),
            vec![
                SdesItem {
                    kind: 1,
                    text: b"a@b"
                },
                SdesItem {
                    kind: 2,
                    text: b"Al"
                }
            ]
        );
        let second = chunks.next().unwrap();
        assert_eq!(second.ssrc, 2);
        assert_eq!(second.items().count(), 0);
        assert_eq!(second.cname(), None);
        assert_eq!(chunks.next(), None);
        assert!(!chunks.is_malformed());
    }

    #[test]
    fn malformed_sdes_chunks_stop_the_iterator() {
        for body in [
            &[0, 0, 0, 1, 1, 9, b'x', 0][..],    // item runs past the body
            &[0, 0, 0, 1, 1, 1, b'x', 2][..],    // no END octet
            &[0, 0, 0, 1, 1, 1, b'x', 0, 0][..], // a whole chunk, then a stray byte
            &[0, 0, 0][..],                      // SSRC cut short
            &[0, 0, 0, 1, 0, 0][..],             // END without padding to 32 bits
        ] {
            let mut chunks = sdes_chunks(body);
            while chunks.next().is_some() {}
            assert!(chunks.is_malformed(), "{body:?}");
        }
    }

    #[test]
    fn sdes_cname_and_bye_round_trip() {
        let mut out = Vec::new();
        for cname in [&b""[..], b"x", b"ab", b"bot@mediabot", &[b'c'; 255]] {
            out.clear();
            write_sdes_cname(0xabcd_0001, cname, &mut out).unwrap();
            assert_eq!(out.len() % 4, 0);
            let packets = collect(&out);
            let [Ok(RtcpPacket::Sdes(body))] = packets[..] else {
                panic!("expected one SDES, got {packets:?}");
            };
            let mut chunks = sdes_chunks(body);
            let chunk = chunks.next().unwrap();
            assert_eq!(chunk.ssrc, 0xabcd_0001);
            assert_eq!(chunk.cname(), Some(cname));
            assert_eq!(chunks.next(), None);
            assert!(!chunks.is_malformed());
        }
        for (sources, reason) in [
            (&[][..], None),
            (&[7u32][..], Some(&b""[..])),
            (&[1, 2, 3][..], Some(&b"shutting down"[..])),
            (&[9; 31][..], Some(&[b'r'; 255][..])),
        ] {
            out.clear();
            write_bye(sources, reason, &mut out).unwrap();
            let packets = collect(&out);
            let [Ok(RtcpPacket::Bye(bye))] = packets[..] else {
                panic!("expected one BYE, got {packets:?}");
            };
            assert_eq!(bye.sources().collect::<Vec<_>>(), sources);
            assert_eq!(bye.reason(), reason);
        }
    }

    #[test]
    fn text_and_source_limits_are_enforced_without_writing() {
        let mut out = vec![0xee];
        assert_eq!(
            write_sdes_cname(1, &[b'c'; 256], &mut out),
            Err(RtcpError::TextTooLong { len: 256 })
        );
        assert_eq!(
            write_bye(&[1], Some(&[b'r'; 300]), &mut out),
            Err(RtcpError::TextTooLong { len: 300 })
        );
        assert_eq!(
            write_bye(&[1; 32], None, &mut out),
            Err(RtcpError::TooManySources { count: 32 })
        );
        assert_eq!(out, vec![0xee]);
    }

    #[test]
    fn a_sender_compound_of_sr_sdes_and_bye_parses_in_order() {
        let info = SenderInfo {
            ntp_timestamp: NtpTime(0xe000_0000_0000_0000),
            rtp_timestamp: 960,
            packet_count: 1,
            octet_count: 80,
        };
        let mut out = Vec::with_capacity(256);
        let pointer = out.as_ptr();
        write_sender_report(5, &info, &[block(1)], &mut out);
        write_sdes_cname(5, b"bot", &mut out).unwrap();
        write_bye(&[5], Some(b"bye"), &mut out).unwrap();
        assert_eq!(
            out.as_ptr(),
            pointer,
            "writers reallocated despite capacity"
        );
        let kinds: Vec<_> = parse_compound(&out)
            .map(|packet| match packet.unwrap() {
                RtcpPacket::SenderReport(_) => "SR",
                RtcpPacket::Sdes(_) => "SDES",
                RtcpPacket::Bye(_) => "BYE",
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(kinds, vec!["SR", "SDES", "BYE"]);
    }

    fn exercise(buf: &[u8]) -> (usize, bool) {
        let mut ok = 0;
        let mut failed = false;
        for packet in parse_compound(buf) {
            match packet {
                Ok(RtcpPacket::SenderReport(sr)) => {
                    ok += 1;
                    assert!(sr.report_blocks().count() <= 31);
                    let _ = sr.ntp_timestamp.to_unix_duration();
                }
                Ok(RtcpPacket::ReceiverReport(rr)) => {
                    ok += 1;
                    for block in rr.report_blocks() {
                        assert!((-0x80_0000..=0x7f_ffff).contains(&block.cumulative_lost));
                        let _ = block.round_trip_time(NtpTime(u64::MAX));
                    }
                }
                Ok(RtcpPacket::Bye(bye)) => {
                    ok += 1;
                    assert!(bye.sources().count() <= 31);
                    assert!(bye.reason().is_none_or(|r| r.len() <= 255));
                }
                Ok(RtcpPacket::Sdes(body)) => {
                    ok += 1;
                    let mut chunks = sdes_chunks(body);
                    for chunk in chunks.by_ref() {
                        let _ = chunk.cname();
                        assert!(chunk.items().count() <= body.len() / 2);
                    }
                    let _ = chunks.is_malformed();
                }
                Ok(_) => ok += 1,
                Err(_) => {
                    assert!(!failed);
                    failed = true;
                }
            }
        }
        (ok, failed)
    }

    #[test]
    fn random_buffers_never_panic() {
        let mut rng = SplitMix64(0x5eed_0003);
        let mut buf = [0u8; 128];
        let mut parsed = 0;
        for i in 0..100_000 {
            let len = rng.below(buf.len() + 1);
            for byte in &mut buf[..len] {
                *byte = rng.next_u64() as u8;
            }
            // Most inputs get a plausible header so they reach the body checks: version 2,
            // a common packet type and a small length.
            if i % 4 != 0 && len >= 4 {
                buf[0] = 0x80 | (buf[0] & 0x3f);
                buf[1] = 200 + (buf[1] % 6);
                buf[2] = 0;
                buf[3] %= 32;
            }
            parsed += exercise(&buf[..len]).0;
        }
        assert!(parsed > 1_000, "only {parsed} random packets parsed");
    }

    #[test]
    fn mutated_valid_compounds_never_panic() {
        let mut rng = SplitMix64(0x5eed_0004);
        let mut original = sender_report_bytes();
        original.extend_from_slice(&compound_bytes());
        for _ in 0..20_000 {
            let mut bytes = original.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next_u64() as u8;
            }
            let len = rng.below(bytes.len() + 1);
            exercise(&bytes[..len]);
            exercise(&bytes);
        }
    }
}
