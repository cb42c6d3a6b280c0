//! Opus packet framing (RFC 6716 §3): what the jitter buffer needs to know about a payload
//! without decoding it — its duration, whether it is valid, whether it is DTX, and whether it
//! carries in-band FEC (LBRR) for the packet before it.
//!
//! Everything here reads the caller's bytes in place and never allocates or panics.

/// Samples at 48 kHz per Opus frame for each of the 32 TOC configurations (RFC 6716 Table 2).
const FRAME_TICKS: [u16; 32] = [
    480, 960, 1920, 2880, // SILK NB 10/20/40/60 ms
    480, 960, 1920, 2880, // SILK MB
    480, 960, 1920, 2880, // SILK WB
    480, 960, // Hybrid SWB 10/20
    480, 960, // Hybrid FB 10/20
    120, 240, 480, 960, // CELT NB 2.5/5/10/20
    120, 240, 480, 960, // CELT WB
    120, 240, 480, 960, // CELT SWB
    120, 240, 480, 960, // CELT FB
];

/// The longest audio one Opus packet may carry: 120 ms at 48 kHz.
pub const MAX_PACKET_TICKS: u32 = 5_760;

/// The coding mode a TOC byte selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpusMode {
    /// SILK only (speech codec, up to wideband).
    Silk,
    /// SILK for the low band plus CELT above it.
    Hybrid,
    /// CELT only (music/low-delay codec).
    Celt,
}

/// The facts of one Opus packet, read from its TOC byte and frame framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusPacketInfo {
    /// Coding mode.
    pub mode: OpusMode,
    /// Whether the packet is coded stereo.
    pub stereo: bool,
    /// Frames in the packet (1–48).
    pub frames: u8,
    /// Duration in 48 kHz ticks (the Opus RTP clock).
    pub duration: u32,
    /// Whether the packet carries in-band FEC (LBRR) data for the previous packet.
    pub has_lbrr: bool,
}

/// Why a payload is not a valid Opus packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpusPacketError {
    /// Zero-length payload.
    #[error("empty Opus packet")]
    Empty,
    /// Framing bytes promise more data than the payload holds.
    #[error("truncated Opus packet")]
    Truncated,
    /// Frame count of zero, or more than 120 ms of audio.
    #[error("invalid Opus frame count or duration")]
    BadFrameCount,
    /// Code 1 packet with an odd number of frame bytes, or inconsistent CBR sizes.
    #[error("inconsistent Opus frame sizes")]
    BadFrameSizes,
}

impl OpusPacketInfo {
    /// Reads a packet's framing. This validates the structure as RFC 6716 §3.4 requires
    /// (conditions R1–R7); it does not check the coded bits inside frames.
    pub fn parse(packet: &[u8]) -> Result<OpusPacketInfo, OpusPacketError> {
        let (&toc, rest) = packet.split_first().ok_or(OpusPacketError::Empty)?;
        let config = toc >> 3;
        let mode = match config {
            0..=11 => OpusMode::Silk,
            12..=15 => OpusMode::Hybrid,
            _ => OpusMode::Celt,
        };
        let stereo = toc & 0x04 != 0;
        let frame_ticks = u32::from(FRAME_TICKS[config as usize]);
        let (frames, first_frame) = match toc & 0x03 {
            0 => (1u8, rest),
            1 => {
                if rest.len() % 2 != 0 {
                    return Err(OpusPacketError::BadFrameSizes);
                }
                (2, rest)
            }
            2 => {
                let (len, used) = frame_length(rest)?;
                let data = &rest[used..];
                if len > data.len() {
                    return Err(OpusPacketError::Truncated);
                }
                (2, &data[..len])
            }
            _ => code3_first_frame(rest)?,
        };
        let duration = frame_ticks * u32::from(frames);
        if frames == 0 || duration > MAX_PACKET_TICKS {
            return Err(OpusPacketError::BadFrameCount);
        }
        let has_lbrr = mode != OpusMode::Celt && lbrr_flag(first_frame, frame_ticks, stereo);
        Ok(OpusPacketInfo {
            mode,
            stereo,
            frames,
            duration,
            has_lbrr,
        })
    }

    /// Whether the packet is a DTX/comfort-noise packet: one or two bytes carry no speech.
    pub fn is_dtx(packet: &[u8]) -> bool {
        packet.len() <= 2
    }
}

/// A frame length as coded in RFC 6716 §3.2.1: one byte below 252, else two.
fn frame_length(data: &[u8]) -> Result<(usize, usize), OpusPacketError> {
    match data {
        [] => Err(OpusPacketError::Truncated),
        [b0, ..] if *b0 < 252 => Ok((usize::from(*b0), 1)),
        [b0, b1, ..] => Ok((usize::from(*b1) * 4 + usize::from(*b0), 2)),
        [_] => Err(OpusPacketError::Truncated),
    }
}

/// Walks a code 3 packet's header (RFC 6716 §3.2.5) and returns its frame count and first frame.
fn code3_first_frame(rest: &[u8]) -> Result<(u8, &[u8]), OpusPacketError> {
    let (&count_byte, mut data) = rest.split_first().ok_or(OpusPacketError::Truncated)?;
    let frames = count_byte & 0x3f;
    if frames == 0 {
        return Err(OpusPacketError::BadFrameCount);
    }
    let vbr = count_byte & 0x80 != 0;
    let mut padding = 0usize;
    if count_byte & 0x40 != 0 {
        loop {
            let (&p, tail) = data.split_first().ok_or(OpusPacketError::Truncated)?;
            data = tail;
            padding += if p == 255 { 254 } else { usize::from(p) };
            if p != 255 {
                break;
            }
        }
    }
    if padding > data.len() {
        return Err(OpusPacketError::Truncated);
    }
    let body_end = data.len() - padding;
    if vbr {
        let mut offset = 0usize;
        let mut sizes_total = 0usize;
        let mut first_len = 0usize;
        for i in 0..usize::from(frames) - 1 {
            let (len, used) = frame_length(&data[offset..body_end])?;
            offset += used;
            sizes_total += len;
            if i == 0 {
                first_len = len;
            }
        }
        if offset + sizes_total > body_end {
            return Err(OpusPacketError::Truncated);
        }
        let first = if frames == 1 {
            &data[offset..body_end]
        } else {
            &data[offset..offset + first_len]
        };
        Ok((frames, first))
    } else {
        let body = &data[..body_end];
        if body.len() % usize::from(frames) != 0 {
            return Err(OpusPacketError::BadFrameSizes);
        }
        let each = body.len() / usize::from(frames);
        Ok((frames, &body[..each]))
    }
}

/// Reads the LBRR flag at the head of the first SILK frame. The SILK layer starts with one
/// range-coded flag per 20 ms sub-frame for voice activity, then the LBRR flag, all with
/// probability ½, so they are the leading bits of the first byte (per channel for stereo).
fn lbrr_flag(first_frame: &[u8], frame_ticks: u32, stereo: bool) -> bool {
    let Some(&b) = first_frame.first() else {
        return false;
    };
    let silk_frames = (frame_ticks / 960).max(1);
    let mid = (b >> (7 - silk_frames)) & 1 == 1;
    if stereo {
        let side = (b >> (6 - 2 * silk_frames)) & 1 == 1;
        mid || side
    } else {
        mid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_the_toc() {
        // config 1 = SILK NB 20 ms, code 0.
        let p = [1 << 3, 0xAA, 0xBB];
        let info = OpusPacketInfo::parse(&p).unwrap();
        assert_eq!(info.duration, 960);
        assert_eq!(info.mode, OpusMode::Silk);
        // config 3 = 60 ms; code 1 with an even body.
        let p = [3 << 3 | 1, 1, 2, 3, 4];
        assert_eq!(OpusPacketInfo::parse(&p).unwrap().duration, 5_760);
        // CELT FB 10 ms (config 30), code 3, CBR, 4 frames, 8 bytes.
        let p = [30 << 3 | 3, 4, 1, 2, 3, 4, 5, 6, 7, 8];
        let info = OpusPacketInfo::parse(&p).unwrap();
        assert_eq!(info.frames, 4);
        assert_eq!(info.duration, 1_920);
        assert!(!info.has_lbrr);
    }

    #[test]
    fn rejects_malformed_framing() {
        assert_eq!(OpusPacketInfo::parse(&[]), Err(OpusPacketError::Empty));
        assert_eq!(
            OpusPacketInfo::parse(&[1 << 3 | 1, 1, 2, 3]),
            Err(OpusPacketError::BadFrameSizes)
        );
        assert_eq!(
            OpusPacketInfo::parse(&[1 << 3 | 2, 200, 1]),
            Err(OpusPacketError::Truncated)
        );
        // 60 ms frames x 3 = 180 ms > 120 ms.
        assert_eq!(
            OpusPacketInfo::parse(&[3 << 3 | 3, 3, 1, 2, 3]),
            Err(OpusPacketError::BadFrameCount)
        );
        assert_eq!(
            OpusPacketInfo::parse(&[1 << 3 | 3, 0]),
            Err(OpusPacketError::BadFrameCount)
        );
    }

    #[test]
    fn never_panics_on_any_two_or_three_bytes() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let _ = OpusPacketInfo::parse(&[a, b]);
                let _ = OpusPacketInfo::parse(&[a, b, 255]);
                let _ = OpusPacketInfo::parse(&[a, 0xC1, b, 7]);
            }
        }
    }

    #[test]
    fn lbrr_bit_read_from_first_silk_byte() {
        // SILK WB 20 ms mono (config 9), first payload byte: VAD=1, LBRR=1 -> 0b11xx_xxxx.
        assert!(
            OpusPacketInfo::parse(&[9 << 3, 0b1100_0000])
                .unwrap()
                .has_lbrr
        );
        assert!(
            !OpusPacketInfo::parse(&[9 << 3, 0b1000_0000])
                .unwrap()
                .has_lbrr
        );
    }
}
