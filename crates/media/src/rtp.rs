//! Zero-copy RTP packets: parse a borrowed view, write into a caller-owned buffer.
//!
//! - RFC 3550 §5.1 (fixed header, CSRC list, padding), §5.3.1 (header extension) and
//!   Appendix A.1 (extending sequence numbers across wraparound).
//! - RFC 8285 §4.2 (one-byte header extension elements, profile `0xBEDE`) and §4.3 (two-byte
//!   elements, profile `0x100X`).
//! - RFC 6464 §3 (client-to-mixer audio level element).
//! - RFC 5761 §4 (telling RTP from RTCP on a shared port).
//!
//! Panic policy: every byte here may come from a hostile network peer. [`RtpPacket::parse`] and
//! everything reachable from it check lengths before reading, never index out of bounds, never
//! allocate, and report malformed input as an [`RtpError`] (or, for extension elements, as an
//! iterator that stops and says so).

use thiserror::Error;

/// Length of the fixed RTP header without CSRCs or extension (RFC 3550 §5.1).
pub const RTP_HEADER_MIN: usize = 12;

/// The only RTP version in use (RFC 3550 §5.1).
const RTP_VERSION: u8 = 2;

/// Header extension profile of RFC 8285's one-byte form.
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;

/// Header extension profile of RFC 8285's two-byte form with the four "appbits" cleared
/// (the form is `0x100X`).
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// Why an RTP packet could not be parsed or written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RtpError {
    /// The buffer is shorter than the fixed 12-byte header.
    #[error("RTP packet too short: need {needed} bytes, got {got}")]
    TooShort {
        /// Bytes the fixed header needs.
        needed: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {0} is not 2")]
    BadVersion(u8),
    /// The CSRC count announces more CSRCs than the buffer holds.
    #[error("RTP CSRC count exceeds the packet length")]
    BadCsrcCount,
    /// The extension bit is set but the extension header or its data does not fit the packet.
    #[error("RTP header extension exceeds the packet length")]
    BadExtension,
    /// The padding bit is set but the pad count is zero or larger than what follows the header.
    #[error("RTP padding count is zero or exceeds the payload")]
    BadPadding,
    /// Writer: the payload type does not fit in 7 bits.
    #[error("RTP payload type {0} is above 127")]
    BadPayloadType(u8),
    /// Writer: a one-byte-form extension element id is outside 1..=14.
    #[error("one-byte header extension id {0} is outside 1..=14")]
    BadExtensionId(u8),
    /// Writer: a one-byte-form extension element's data is empty or longer than 16 bytes.
    #[error("one-byte header extension element {id} has {len} bytes, allowed 1..=16")]
    BadExtensionLength {
        /// The element's id.
        id: u8,
        /// The element's data length.
        len: usize,
    },
    /// Writer: the extension elements together exceed what the 16-bit length field can describe.
    #[error("RTP header extension is longer than 65535 words")]
    ExtensionTooLong,
}

/// Reads a big-endian `u16` at `at`, if the buffer holds it.
fn read_u16(buf: &[u8], at: usize) -> Option<u16> {
    let bytes = buf.get(at..)?.first_chunk::<2>()?;
    Some(u16::from_be_bytes(*bytes))
}

/// A borrowed, pre-parsed view of one RTP packet (RFC 3550 §5.1).
///
/// All lengths were checked by [`RtpPacket::parse`]; the accessors cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    csrcs: &'a [u8],
    extension: Option<HeaderExtension<'a>>,
    header_len: usize,
    payload: &'a [u8],
    padding_len: usize,
}

impl<'a> RtpPacket<'a> {
    /// Parses `buf` as one RTP packet without copying or allocating.
    ///
    /// Checks that the version is 2, that the CSRC list and the header extension fit, and, when
    /// the padding bit is set, that the last byte (the pad count, which counts itself) is at
    /// least 1 and no larger than what follows the header.
    pub fn parse(buf: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        let Some(fixed) = buf.first_chunk::<RTP_HEADER_MIN>() else {
            return Err(RtpError::TooShort {
                needed: RTP_HEADER_MIN,
                got: buf.len(),
            });
        };
        let version = fixed[0] >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = fixed[0] & 0x20 != 0;
        let has_extension = fixed[0] & 0x10 != 0;
        let csrc_count = usize::from(fixed[0] & 0x0f);
        let marker = fixed[1] & 0x80 != 0;
        let payload_type = fixed[1] & 0x7f;
        let sequence = u16::from_be_bytes([fixed[2], fixed[3]]);
        let timestamp = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let ssrc = u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);

        let csrc_end = RTP_HEADER_MIN + 4 * csrc_count;
        let csrcs = buf
            .get(RTP_HEADER_MIN..csrc_end)
            .ok_or(RtpError::BadCsrcCount)?;

        let (extension, header_len) = if has_extension {
            let profile = read_u16(buf, csrc_end).ok_or(RtpError::BadExtension)?;
            let words = read_u16(buf, csrc_end + 2).ok_or(RtpError::BadExtension)?;
            let data_start = csrc_end + 4;
            let data_end = data_start + 4 * usize::from(words);
            let data = buf
                .get(data_start..data_end)
                .ok_or(RtpError::BadExtension)?;
            (Some(HeaderExtension { profile, data }), data_end)
        } else {
            (None, csrc_end)
        };

        // `header_len <= buf.len()` holds here: every region above was taken with `get`.
        let after_header = buf.get(header_len..).ok_or(RtpError::BadExtension)?;
        let padding_len = if has_padding {
            let count = usize::from(*after_header.last().ok_or(RtpError::BadPadding)?);
            if count == 0 || count > after_header.len() {
                return Err(RtpError::BadPadding);
            }
            count
        } else {
            0
        };
        let payload = after_header
            .get(..after_header.len() - padding_len)
            .ok_or(RtpError::BadPadding)?;

        Ok(RtpPacket {
            marker,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrcs,
            extension,
            header_len,
            payload,
            padding_len,
        })
    }

    /// The marker bit (for audio: first packet of a talkspurt).
    pub fn marker(&self) -> bool {
        self.marker
    }

    /// The 7-bit payload type.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// The 16-bit sequence number.
    pub fn sequence(&self) -> u16 {
        self.sequence
    }

    /// The 32-bit media timestamp.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// The synchronization source.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The contributing sources (0 to 15 of them).
    pub fn csrcs(&self) -> SourceIds<'a> {
        SourceIds { bytes: self.csrcs }
    }

    /// The header extension, when the extension bit is set.
    pub fn extension(&self) -> Option<HeaderExtension<'a>> {
        self.extension
    }

    /// The payload, without padding.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Bytes of padding at the end of the packet, including the count byte (0 without padding).
    pub fn padding_len(&self) -> usize {
        self.padding_len
    }

    /// Bytes before the payload: fixed header, CSRCs and header extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }
}

/// Iterator over a list of 32-bit source identifiers: an RTP packet's CSRCs, an RTCP BYE's
/// SSRC/CSRC list.
#[derive(Debug, Clone)]
pub struct SourceIds<'a> {
    bytes: &'a [u8],
}

impl<'a> SourceIds<'a> {
    /// Reads `bytes` as big-endian `u32`s (a trailing partial word is ignored).
    pub(crate) fn new(bytes: &'a [u8]) -> SourceIds<'a> {
        SourceIds { bytes }
    }
}

impl Iterator for SourceIds<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (first, rest) = self.bytes.split_first_chunk::<4>()?;
        self.bytes = rest;
        Some(u32::from_be_bytes(*first))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.bytes.len() / 4;
        (n, Some(n))
    }
}

impl ExactSizeIterator for SourceIds<'_> {}

/// The header extension of an RTP packet (RFC 3550 §5.3.1): a 16-bit profile and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    profile: u16,
    data: &'a [u8],
}

/// Which RFC 8285 element layout a header extension uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionForm {
    /// One-byte headers: 4-bit id, 4-bit length minus one (profile `0xBEDE`).
    OneByte,
    /// Two-byte headers: 8-bit id, 8-bit length (profile `0x100X`).
    TwoByte,
}

impl<'a> HeaderExtension<'a> {
    /// The "defined by profile" field.
    pub fn profile(&self) -> u16 {
        self.profile
    }

    /// The extension data (a multiple of 4 bytes), without the 4-byte extension header.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The RFC 8285 layout this extension uses, or `None` for any other profile.
    pub fn form(&self) -> Option<ExtensionForm> {
        if self.profile == ONE_BYTE_PROFILE {
            Some(ExtensionForm::OneByte)
        } else if self.profile & 0xfff0 == TWO_BYTE_PROFILE {
            Some(ExtensionForm::TwoByte)
        } else {
            None
        }
    }

    /// The RFC 8285 elements. For a profile that is neither form the iterator is empty (and not
    /// malformed).
    pub fn elements(&self) -> ExtensionElements<'a> {
        ExtensionElements {
            rest: self.data,
            form: self.form(),
            malformed: false,
        }
    }

    /// The data of the first element with `id`, if present before any malformed data.
    pub fn find(&self, id: u8) -> Option<&'a [u8]> {
        self.elements()
            .find(|element| element.id == id)
            .map(|element| element.data)
    }
}

/// One RFC 8285 header extension element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionElement<'a> {
    /// The local identifier (1..=14 in the one-byte form, 1..=255 in the two-byte form).
    pub id: u8,
    /// The element's data.
    pub data: &'a [u8],
}

/// Iterator over RFC 8285 extension elements.
///
/// Padding bytes (zero) between elements are skipped. In the one-byte form id 15 ends the list
/// (RFC 8285 §4.2) without it counting as malformed. An element that runs past the data, or a
/// one-byte header with id 0 and a non-zero length, stops the iterator and sets
/// [`ExtensionElements::is_malformed`].
#[derive(Debug, Clone)]
pub struct ExtensionElements<'a> {
    rest: &'a [u8],
    form: Option<ExtensionForm>,
    malformed: bool,
}

impl ExtensionElements<'_> {
    /// Whether iteration stopped on malformed data. Meaningful once `next` returned `None`.
    pub fn is_malformed(&self) -> bool {
        self.malformed
    }

    fn stop(&mut self, malformed: bool) {
        self.rest = &[];
        self.malformed = malformed;
    }
}

impl<'a> Iterator for ExtensionElements<'a> {
    type Item = ExtensionElement<'a>;

    fn next(&mut self) -> Option<ExtensionElement<'a>> {
        loop {
            let (&first, after_first) = self.rest.split_first()?;
            if first == 0 {
                // Padding byte, in either form.
                self.rest = after_first;
                continue;
            }
            let (id, len, after_header) = match self.form? {
                ExtensionForm::OneByte => {
                    let id = first >> 4;
                    if id == 15 {
                        self.stop(false);
                        return None;
                    }
                    if id == 0 {
                        // Id 0 is reserved for padding, which must be the zero byte.
                        self.stop(true);
                        return None;
                    }
                    (id, usize::from(first & 0x0f) + 1, after_first)
                }
                ExtensionForm::TwoByte => {
                    let Some((&len, after_len)) = after_first.split_first() else {
                        self.stop(true);
                        return None;
                    };
                    (first, usize::from(len), after_len)
                }
            };
            let Some((data, rest)) = after_header.split_at_checked(len) else {
                self.stop(true);
                return None;
            };
            self.rest = rest;
            return Some(ExtensionElement { id, data });
        }
    }
}

/// RFC 6464 client-to-mixer audio level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioLevel {
    /// The V bit: the sender's voice activity detector thinks this packet holds speech.
    pub voice_activity: bool,
    /// Level in -dBov: 0 is the loudest, 127 silence (or the sender's muted state).
    pub level_dbov: u8,
}

impl AudioLevel {
    /// Parses the element data (the first byte; RFC 6464 §3 sends exactly one).
    /// Returns `None` for empty data.
    pub fn parse(element: &[u8]) -> Option<AudioLevel> {
        let &byte = element.first()?;
        Some(AudioLevel {
            voice_activity: byte & 0x80 != 0,
            level_dbov: byte & 0x7f,
        })
    }

    /// The element data byte for this level (level above 127 is clamped to 127).
    pub fn to_byte(&self) -> u8 {
        (u8::from(self.voice_activity) << 7) | self.level_dbov.min(127)
    }
}

/// RFC 5761 §4 demultiplexing: whether a datagram on a shared RTP/RTCP port is RTCP.
///
/// True when the second byte is 192..=223, the RTCP packet types that would collide with RTP
/// payload types 64..=95 with the marker bit set. Only the second byte is looked at.
pub fn is_rtcp(buf: &[u8]) -> bool {
    matches!(buf.get(1), Some(192..=223))
}

/// Fixed-header fields for writing an RTP packet (no CSRCs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// The marker bit.
    pub marker: bool,
    /// The payload type, 0..=127.
    pub payload_type: u8,
    /// The sequence number.
    pub sequence: u16,
    /// The media timestamp.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Appends a packet to `out`: header, one-byte-form (RFC 8285 §4.2) extension elements
    /// padded with zero bytes to a 32-bit boundary (no extension when `extensions` is empty),
    /// then `payload`. No RTP padding is written.
    ///
    /// Extension ids must be 1..=14 and element data 1..=16 bytes. Everything is validated
    /// before anything is written, so on error `out` is unchanged. `out` does not reallocate
    /// when its spare capacity covers the packet.
    pub fn write(
        &self,
        extensions: &[(u8, &[u8])],
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), RtpError> {
        if self.payload_type > 127 {
            return Err(RtpError::BadPayloadType(self.payload_type));
        }
        let mut elements_len = 0usize;
        for &(id, data) in extensions {
            if !(1..=14).contains(&id) {
                return Err(RtpError::BadExtensionId(id));
            }
            if !(1..=16).contains(&data.len()) {
                return Err(RtpError::BadExtensionLength {
                    id,
                    len: data.len(),
                });
            }
            elements_len += 1 + data.len();
        }
        let extension_words = elements_len.div_ceil(4);
        let extension_words_u16 =
            u16::try_from(extension_words).map_err(|_| RtpError::ExtensionTooLong)?;
        let has_extension = !extensions.is_empty();
        let extension_len = if has_extension {
            4 + 4 * extension_words
        } else {
            0
        };
        out.reserve(RTP_HEADER_MIN + extension_len + payload.len());

        out.push((RTP_VERSION << 6) | (u8::from(has_extension) << 4));
        out.push((u8::from(self.marker) << 7) | self.payload_type);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        if has_extension {
            out.extend_from_slice(&ONE_BYTE_PROFILE.to_be_bytes());
            out.extend_from_slice(&extension_words_u16.to_be_bytes());
            for &(id, data) in extensions {
                // `data.len()` is 1..=16, checked above, so `len - 1` fits the nibble.
                out.push((id << 4) | ((data.len() - 1) as u8 & 0x0f));
                out.extend_from_slice(data);
            }
            let pad = 4 * extension_words - elements_len;
            out.extend_from_slice(&[0u8; 3][..pad]);
        }
        out.extend_from_slice(payload);
        Ok(())
    }
}

/// Wrapping signed distance `a - b` between two sequence numbers (positive: `a` is newer).
pub fn seq_diff(a: u16, b: u16) -> i16 {
    a.wrapping_sub(b) as i16
}

/// Wrapping signed distance `a - b` between two RTP timestamps (positive: `a` is later).
pub fn timestamp_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// Extends 16-bit RTP sequence numbers to a monotonic `u64` across wraparound
/// (RFC 3550 Appendix A.1 style).
///
/// Each number is placed nearest to the highest one seen so far, so reordered and duplicate
/// packets near the wrap keep their place. A jump of more than 32767 forward therefore reads as
/// a late packet. The first number is placed in cycle 1 (`65536 + seq`) so that a packet
/// reordered from just before it still gets a smaller, distinct value; the low 16 bits of the
/// result always equal the input.
#[derive(Debug, Clone, Default)]
pub struct SeqExtender {
    highest: Option<u64>,
}

impl SeqExtender {
    /// An extender that has seen nothing.
    pub fn new() -> Self {
        SeqExtender { highest: None }
    }

    /// The extended form of `seq`; updates the highest value seen.
    pub fn extend(&mut self, seq: u16) -> u64 {
        let extended = match self.highest {
            None => (1 << 16) | u64::from(seq),
            // `highest >= 65536` and the distance is at least -32768, so this stays positive.
            Some(highest) => highest.wrapping_add_signed(i64::from(seq_diff(seq, highest as u16))),
        };
        if self.highest.is_none_or(|highest| extended > highest) {
            self.highest = Some(extended);
        }
        extended
    }

    /// The highest extended sequence number seen, if any.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}

/// Extends 32-bit RTP timestamps to a monotonic `u64` across wraparound, like [`SeqExtender`].
///
/// The first timestamp is placed in cycle 1 (`2^32 + ts`); the low 32 bits of the result always
/// equal the input. A jump of 2^31 or more forward reads as a late packet.
#[derive(Debug, Clone, Default)]
pub struct TimestampExtender {
    highest: Option<u64>,
}

impl TimestampExtender {
    /// An extender that has seen nothing.
    pub fn new() -> Self {
        TimestampExtender { highest: None }
    }

    /// The extended form of `ts`; updates the highest value seen.
    pub fn extend(&mut self, ts: u32) -> u64 {
        let extended = match self.highest {
            None => (1 << 32) | u64::from(ts),
            // `highest >= 2^32` and the distance is at least -2^31, so this stays positive.
            Some(highest) => {
                highest.wrapping_add_signed(i64::from(timestamp_diff(ts, highest as u32)))
            }
        };
        if self.highest.is_none_or(|highest| extended > highest) {
            self.highest = Some(extended);
        }
        extended
    }

    /// The highest extended timestamp seen, if any.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
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

        fn fill(&mut self, buf: &mut [u8]) {
            for byte in buf {
                *byte = self.next_u64() as u8;
            }
        }
    }

    /// RFC 3550 §5.1 by hand: V=2, no P/X, CC=0, M=0, PT=111 (Opus), seq 0x1234,
    /// ts 0xdeadbeef, SSRC 0x01020304, then a 3-byte payload.
    const MINIMAL: [u8; 15] = [
        0x80, 0x6f, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0xaa, 0xbb, 0xcc,
    ];

    /// V=2, P=1, X=1, CC=2, M=1, PT=96; two CSRCs; a one-byte-form extension of 2 words holding
    /// audio level (id 1, V=1, 42 dBov), a padding byte, and element id 3 with 2 bytes; a payload
    /// of five 0xff bytes; then 3 bytes of RTP padding (count 3).
    fn full_packet() -> Vec<u8> {
        let mut p = vec![
            0xb2, 0xe0, 0xff, 0xfe, 0x00, 0x00, 0x03, 0xc0, 0xca, 0xfe, 0xba, 0xbe,
        ];
        p.extend_from_slice(&[0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22]);
        p.extend_from_slice(&[0xbe, 0xde, 0x00, 0x02]);
        p.extend_from_slice(&[0x10, 0x80 | 42, 0x00, 0x31, 0x07, 0x08, 0x00, 0x00]);
        p.extend_from_slice(&[0xff; 5]);
        p.extend_from_slice(&[0x00, 0x00, 0x03]);
        p
    }

    #[test]
    fn parses_the_fixed_header() {
        let packet = RtpPacket::parse(&MINIMAL).unwrap();
        assert!(!packet.marker());
        assert_eq!(packet.payload_type(), 111);
        assert_eq!(packet.sequence(), 0x1234);
        assert_eq!(packet.timestamp(), 0xdead_beef);
        assert_eq!(packet.ssrc(), 0x0102_0304);
        assert_eq!(packet.csrcs().count(), 0);
        assert_eq!(packet.extension(), None);
        assert_eq!(packet.header_len(), 12);
        assert_eq!(packet.padding_len(), 0);
        assert_eq!(packet.payload(), &[0xaa, 0xbb, 0xcc]);
    }

    #[test]
    fn parses_csrcs_extension_and_padding() {
        let bytes = full_packet();
        let packet = RtpPacket::parse(&bytes).unwrap();
        assert!(packet.marker());
        assert_eq!(packet.payload_type(), 96);
        assert_eq!(packet.sequence(), 0xfffe);
        assert_eq!(packet.timestamp(), 960);
        assert_eq!(packet.ssrc(), 0xcafe_babe);
        let csrcs = packet.csrcs();
        assert_eq!(csrcs.len(), 2);
        assert_eq!(csrcs.collect::<Vec<_>>(), vec![0x1111_1111, 0x2222_2222]);
        assert_eq!(packet.header_len(), 12 + 8 + 4 + 8);
        assert_eq!(packet.payload(), &[0xff; 5]);
        assert_eq!(packet.padding_len(), 3);

        let extension = packet.extension().unwrap();
        assert_eq!(extension.profile(), ONE_BYTE_PROFILE);
        assert_eq!(extension.form(), Some(ExtensionForm::OneByte));
        assert_eq!(extension.data().len(), 8);
        let mut elements = extension.elements();
        assert_eq!(
            elements.next(),
            Some(ExtensionElement {
                id: 1,
                data: &[0x80 | 42]
            })
        );
        assert_eq!(
            elements.next(),
            Some(ExtensionElement {
                id: 3,
                data: &[0x07, 0x08]
            })
        );
        assert_eq!(elements.next(), None);
        assert!(!elements.is_malformed());

        let level = AudioLevel::parse(extension.find(1).unwrap()).unwrap();
        assert_eq!(
            level,
            AudioLevel {
                voice_activity: true,
                level_dbov: 42
            }
        );
        assert_eq!(extension.find(3), Some(&[0x07, 0x08][..]));
        assert_eq!(extension.find(2), None);
    }

    fn extension_of(profile: u16, data: &[u8]) -> HeaderExtension<'_> {
        HeaderExtension { profile, data }
    }

    #[test]
    fn one_byte_id_15_stops_without_being_malformed() {
        // id 2 (1 byte), id 15 (whose length must be ignored), then an element that must not be seen.
        let data = [0x20, 0x55, 0xf3, 0x40, 0x01, 0x00, 0x00, 0x00];
        let extension = extension_of(ONE_BYTE_PROFILE, &data);
        let mut elements = extension.elements();
        assert_eq!(elements.next().map(|e| e.id), Some(2));
        assert_eq!(elements.next(), None);
        assert!(!elements.is_malformed());
        assert_eq!(extension.find(4), None);
    }

    #[test]
    fn one_byte_padding_between_and_after_elements_is_skipped() {
        let data = [
            0x00, 0x00, 0x51, 0xaa, 0xbb, 0x00, 0x60, 0xcc, 0x00, 0x00, 0x00, 0x00,
        ];
        let extension = extension_of(ONE_BYTE_PROFILE, &data);
        let mut elements = extension.elements();
        let found: Vec<_> = elements.by_ref().map(|e| (e.id, e.data.to_vec())).collect();
        assert_eq!(found, vec![(5, vec![0xaa, 0xbb]), (6, vec![0xcc])]);
        assert!(!elements.is_malformed());
    }

    #[test]
    fn one_byte_element_running_past_the_data_is_malformed() {
        // id 1 (1 byte) ok, then id 2 claims 16 bytes with 2 left.
        let data = [0x10, 0x01, 0x2f, 0x00];
        let mut elements = extension_of(ONE_BYTE_PROFILE, &data).elements();
        assert_eq!(elements.next().map(|e| e.id), Some(1));
        assert_eq!(elements.next(), None);
        assert!(elements.is_malformed());
        // Stays stopped.
        assert_eq!(elements.next(), None);
    }

    #[test]
    fn one_byte_id_0_with_a_length_is_malformed() {
        let data = [0x03, 0x00, 0x00, 0x00];
        let mut elements = extension_of(ONE_BYTE_PROFILE, &data).elements();
        assert_eq!(elements.next(), None);
        assert!(elements.is_malformed());
    }

    #[test]
    fn two_byte_form_with_padding_and_empty_element() {
        // Profile 0x1001 (appbits 1): id 7 with 0 bytes, 2 padding bytes, id 200 with 3 bytes,
        // id 15 with 1 byte (15 is an ordinary id in this form), trailing padding.
        let data = [
            0x07, 0x00, 0x00, 0x00, 0xc8, 0x03, 0x01, 0x02, 0x03, 0x0f, 0x01, 0x09,
        ];
        let extension = extension_of(0x1001, &data);
        assert_eq!(extension.form(), Some(ExtensionForm::TwoByte));
        let mut elements = extension.elements();
        let found: Vec<_> = elements.by_ref().map(|e| (e.id, e.data.to_vec())).collect();
        assert_eq!(
            found,
            vec![(7, vec![]), (200, vec![1, 2, 3]), (15, vec![9])]
        );
        assert!(!elements.is_malformed());
        assert_eq!(extension.find(200), Some(&[1, 2, 3][..]));
    }

    #[test]
    fn two_byte_element_running_past_the_data_is_malformed() {
        for data in [&[0x05, 0x04, 0x01, 0x02][..], &[0x00, 0x00, 0x00, 0x05][..]] {
            let mut elements = extension_of(0x1000, data).elements();
            assert_eq!(elements.next(), None);
            assert!(elements.is_malformed(), "{data:?}");
        }
    }

    #[test]
    fn unknown_profile_has_no_elements() {
        let data = [0x10, 0x01, 0x00, 0x00];
        let extension = extension_of(0xabac, &data);
        assert_eq!(extension.form(), None);
        let mut elements = extension.elements();
        assert_eq!(elements.next(), None);
        assert!(!elements.is_malformed());
        assert_eq!(extension.data(), &data);
    }

    #[test]
    fn audio_level_bounds() {
        assert_eq!(AudioLevel::parse(&[]), None);
        assert_eq!(
            AudioLevel::parse(&[0x7f]),
            Some(AudioLevel {
                voice_activity: false,
                level_dbov: 127
            })
        );
        assert_eq!(
            AudioLevel::parse(&[0x80]),
            Some(AudioLevel {
                voice_activity: true,
                level_dbov: 0
            })
        );
        let level = AudioLevel {
            voice_activity: true,
            level_dbov: 30,
        };
        assert_eq!(AudioLevel::parse(&[level.to_byte()]), Some(level));
    }

    #[test]
    fn rejects_bad_version() {
        let mut bytes = MINIMAL;
        bytes[0] = 0x40;
        assert_eq!(RtpPacket::parse(&bytes), Err(RtpError::BadVersion(1)));
        bytes[0] = 0x00;
        assert_eq!(RtpPacket::parse(&bytes), Err(RtpError::BadVersion(0)));
    }

    #[test]
    fn rejects_csrc_count_beyond_the_packet() {
        let mut bytes = MINIMAL;
        bytes[0] = 0x81; // one CSRC needs 16 bytes, 15 present
        assert_eq!(RtpPacket::parse(&bytes), Err(RtpError::BadCsrcCount));
    }

    #[test]
    fn rejects_extension_beyond_the_packet() {
        let mut bytes = full_packet();
        bytes[22] = 0x00;
        bytes[23] = 0x09; // 9 words = 36 bytes, fewer remain
        assert_eq!(RtpPacket::parse(&bytes), Err(RtpError::BadExtension));
    }

    #[test]
    fn padding_count_is_validated() {
        let mut bytes = MINIMAL;
        bytes[0] |= 0x20;
        // Last byte 0xcc = 204 > 3 bytes after the header.
        assert_eq!(RtpPacket::parse(&bytes), Err(RtpError::BadPadding));
        bytes[14] = 0;
        assert_eq!(RtpPacket::parse(&bytes), Err(RtpError::BadPadding));
        bytes[14] = 3; // padding takes everything after the header
        let packet = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(packet.payload(), &[] as &[u8]);
        assert_eq!(packet.padding_len(), 3);
        bytes[14] = 1;
        let packet = RtpPacket::parse(&bytes).unwrap();
        assert_eq!(packet.payload(), &[0xaa, 0xbb]);
        assert_eq!(packet.padding_len(), 1);
        // Padding bit with nothing after the header.
        assert_eq!(RtpPacket::parse(&bytes[..12]), Err(RtpError::BadPadding));
    }

    #[test]
    fn every_truncation_of_a_padded_packet_is_an_error() {
        // With the padding bit set, every proper prefix ends in a byte (0xff payload or 0x00
        // padding) that cannot be a valid pad count, so no prefix may parse.
        let bytes = full_packet();
        assert!(RtpPacket::parse(&bytes).is_ok());
        for len in 0..bytes.len() {
            assert!(
                RtpPacket::parse(&bytes[..len]).is_err(),
                "prefix of {len} bytes parsed"
            );
        }
    }

    #[test]
    fn truncations_of_an_unpadded_packet_fail_inside_the_header() {
        let mut bytes = full_packet();
        bytes[0] &= !0x20;
        let header_len = RtpPacket::parse(&bytes).unwrap().header_len();
        for len in 0..bytes.len() {
            let result = RtpPacket::parse(&bytes[..len]);
            if len < header_len {
                assert!(result.is_err(), "prefix of {len} bytes parsed");
            } else {
                // Without padding a shorter payload is still a valid packet.
                assert_eq!(result.unwrap().payload(), &bytes[header_len..len]);
            }
        }
        assert_eq!(
            RtpPacket::parse(&bytes[..5]),
            Err(RtpError::TooShort { needed: 12, got: 5 })
        );
    }

    #[test]
    fn write_then_parse_round_trips() {
        let header = RtpHeader {
            marker: true,
            payload_type: 111,
            sequence: 65535,
            timestamp: 0xffff_ff00,
            ssrc: 0x1234_5678,
        };
        let level = AudioLevel {
            voice_activity: true,
            level_dbov: 17,
        };
        let level_byte = [level.to_byte()];
        let long = [0x5a; 16];
        let payload = [1u8, 2, 3, 4, 5, 6, 7];
        let mut out = Vec::new();
        header
            .write(&[(1, &level_byte), (14, &long)], &payload, &mut out)
            .unwrap();
        // 12 header + 4 extension header + (2 + 17 = 19 -> 20) elements + 7 payload.
        assert_eq!(out.len(), 12 + 4 + 20 + 7);
        let packet = RtpPacket::parse(&out).unwrap();
        assert!(packet.marker());
        assert_eq!(packet.payload_type(), 111);
        assert_eq!(packet.sequence(), 65535);
        assert_eq!(packet.timestamp(), 0xffff_ff00);
        assert_eq!(packet.ssrc(), 0x1234_5678);
        assert_eq!(packet.payload(), &payload);
        let extension = packet.extension().unwrap();
        assert_eq!(extension.profile(), ONE_BYTE_PROFILE);
        assert_eq!(AudioLevel::parse(extension.find(1).unwrap()), Some(level));
        assert_eq!(extension.find(14), Some(&long[..]));
        assert!(!extension.elements().any(|e| e.id == 0));

        out.clear();
        header.write(&[], &payload, &mut out).unwrap();
        assert_eq!(out.len(), 12 + 7);
        assert_eq!(out[0], 0x80);
        let packet = RtpPacket::parse(&out).unwrap();
        assert_eq!(packet.extension(), None);
        assert_eq!(packet.payload(), &payload);
    }

    #[test]
    fn write_appends_without_reallocating() {
        let header = RtpHeader {
            marker: false,
            payload_type: 0,
            sequence: 1,
            timestamp: 2,
            ssrc: 3,
        };
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(b"prefix");
        let pointer = out.as_ptr();
        header.write(&[(2, &[9])], &[7; 10], &mut out).unwrap();
        assert_eq!(out.as_ptr(), pointer);
        assert_eq!(out.capacity(), 64);
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(RtpPacket::parse(&out[6..]).unwrap().payload(), &[7; 10]);
    }

    #[test]
    fn write_rejects_invalid_fields_and_leaves_out_unchanged() {
        let mut header = RtpHeader {
            marker: false,
            payload_type: 128,
            sequence: 1,
            timestamp: 2,
            ssrc: 3,
        };
        let mut out = vec![0xee];
        assert_eq!(
            header.write(&[], &[], &mut out),
            Err(RtpError::BadPayloadType(128))
        );
        header.payload_type = 96;
        assert_eq!(
            header.write(&[(0, &[1])], &[], &mut out),
            Err(RtpError::BadExtensionId(0))
        );
        assert_eq!(
            header.write(&[(15, &[1])], &[], &mut out),
            Err(RtpError::BadExtensionId(15))
        );
        assert_eq!(
            header.write(&[(1, &[])], &[], &mut out),
            Err(RtpError::BadExtensionLength { id: 1, len: 0 })
        );
        assert_eq!(
            header.write(&[(2, &[0; 17])], &[], &mut out),
            Err(RtpError::BadExtensionLength { id: 2, len: 17 })
        );
        assert_eq!(out, vec![0xee]);
    }

    #[test]
    fn seq_diff_wraps() {
        assert_eq!(seq_diff(5, 3), 2);
        assert_eq!(seq_diff(3, 5), -2);
        assert_eq!(seq_diff(1, 65535), 2);
        assert_eq!(seq_diff(65535, 1), -2);
        assert_eq!(seq_diff(0x8000, 0), i16::MIN);
        assert_eq!(timestamp_diff(100, u32::MAX - 859), 960);
        assert_eq!(timestamp_diff(u32::MAX - 859, 100), -960);
    }

    #[test]
    fn seq_extender_crosses_the_wrap_with_reordering_and_duplicates() {
        let mut extender = SeqExtender::new();
        let base = 1u64 << 16;
        let seen: Vec<u64> = [65533u16, 65535, 65534, 1, 0, 65535, 2, 1, 65532]
            .into_iter()
            .map(|seq| extender.extend(seq))
            .collect();
        assert_eq!(
            seen,
            vec![
                base + 65533,
                base + 65535,
                base + 65534,
                base + 65536 + 1,
                base + 65536,
                base + 65535,
                base + 65536 + 2,
                base + 65536 + 1,
                base + 65532,
            ]
        );
        assert_eq!(extender.highest(), Some(base + 65536 + 2));
    }

    #[test]
    fn seq_extender_handles_a_packet_from_before_the_first() {
        let mut extender = SeqExtender::new();
        let first = extender.extend(0);
        let earlier = extender.extend(65535);
        assert_eq!(first, 1 << 16);
        assert_eq!(earlier, (1 << 16) - 1);
        assert_eq!(earlier as u16, 65535);
    }

    #[test]
    fn seq_extender_counts_many_cycles() {
        let mut extender = SeqExtender::new();
        let mut seq = 40_000u16;
        let first = extender.extend(seq);
        for _ in 0..5 * 65536 {
            seq = seq.wrapping_add(1);
            extender.extend(seq);
        }
        assert_eq!(extender.highest(), Some(first + 5 * 65536));
    }

    #[test]
    fn timestamp_extender_crosses_the_wrap_with_reordering() {
        let mut extender = TimestampExtender::new();
        let base = 1u64 << 32;
        let step = 960u32;
        let t0 = u32::MAX - 2 * step + 1; // two frames before the wrap
        let t1 = t0.wrapping_add(step);
        let t2 = t1.wrapping_add(step); // wraps to 0
        let t3 = t2.wrapping_add(step);
        assert_eq!(t2, 0);
        let e0 = extender.extend(t0);
        assert_eq!(e0, base + u64::from(t0));
        assert_eq!(extender.extend(t2), e0 + 2 * u64::from(step));
        assert_eq!(extender.extend(t1), e0 + u64::from(step));
        assert_eq!(extender.extend(t3), e0 + 3 * u64::from(step));
        assert_eq!(extender.extend(t2), e0 + 2 * u64::from(step));
        assert_eq!(extender.highest(), Some(e0 + 3 * u64::from(step)));
        // Timestamps just before the first stay below it.
        let mut fresh = TimestampExtender::new();
        let first = fresh.extend(10);
        assert_eq!(fresh.extend(u32::MAX), first - 11);
    }

    #[test]
    fn rtcp_demux_uses_the_second_byte() {
        assert!(is_rtcp(&[0x80, 200, 0x00, 0x06]));
        assert!(is_rtcp(&[0x81, 201]));
        assert!(is_rtcp(&[0x80, 192]));
        assert!(is_rtcp(&[0x80, 223]));
        assert!(!is_rtcp(&MINIMAL));
        assert!(!is_rtcp(&[0x80, 0x80 | 111])); // Opus with marker: 239
        assert!(!is_rtcp(&[0x80, 0x80 | 96])); // 224
        assert!(!is_rtcp(&[0x80, 191]));
        assert!(!is_rtcp(&[0x80]));
        assert!(!is_rtcp(&[]));
    }

    /// Checks the invariants every successfully parsed packet must satisfy.
    fn check_invariants(buf: &[u8]) {
        let Ok(packet) = RtpPacket::parse(buf) else {
            return;
        };
        assert_eq!(
            packet.header_len() + packet.payload().len() + packet.padding_len(),
            buf.len()
        );
        assert!(packet.csrcs().count() <= 15);
        assert!(packet.payload_type() <= 127);
        if let Some(extension) = packet.extension() {
            assert_eq!(extension.data().len() % 4, 0);
            let mut elements = extension.elements();
            let mut total = 0;
            for element in elements.by_ref() {
                total += 1 + element.data.len();
                assert_ne!(element.id, 0);
            }
            assert!(total <= extension.data().len());
            let _ = elements.is_malformed();
        }
        if buf.len() >= 2 {
            let _ = is_rtcp(buf);
        }
    }

    #[test]
    fn random_buffers_never_panic() {
        let mut rng = SplitMix64(0x5eed_0001);
        let mut buf = [0u8; 96];
        let mut parsed = 0;
        for i in 0..100_000 {
            let len = rng.below(buf.len() + 1);
            let slice = &mut buf[..len];
            rng.fill(slice);
            // Half of the inputs get version 2 and a one-byte extension profile, so they reach
            // the deeper checks instead of stopping at the version.
            if i % 2 == 0 {
                if let Some(first) = slice.first_mut() {
                    *first = 0x80 | (*first & 0x3f);
                }
                if i % 4 == 0 && len >= 16 {
                    slice[0] = (slice[0] & 0xf0) | 0x10;
                    slice[12] = 0xbe;
                    slice[13] = 0xde;
                    slice[14] = 0;
                    slice[15] &= 0x07;
                }
            }
            if RtpPacket::parse(slice).is_ok() {
                parsed += 1;
            }
            check_invariants(slice);
        }
        // The generator must actually exercise the success path too.
        assert!(parsed > 1_000, "only {parsed} random packets parsed");
    }

    #[test]
    fn mutated_valid_packets_never_panic() {
        let mut rng = SplitMix64(0x5eed_0002);
        let original = full_packet();
        for _ in 0..20_000 {
            let mut bytes = original.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next_u64() as u8;
            }
            let len = rng.below(bytes.len() + 1);
            check_invariants(&bytes[..len]);
            check_invariants(&bytes);
        }
    }
}
