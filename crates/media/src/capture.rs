//! Reading UDP datagrams out of classic pcap captures (tcpdump, `tshark -F pcap`).
//!
//! Supported link types: Ethernet (what tcpdump writes for `lo` on Linux), BSD loopback
//! (NULL/LOOP), raw IP, IPv4, IPv6 and Linux cooked captures v1/v2. IPv4 and IPv6 without
//! fragmentation; anything else (TCP, ARP, fragments, truncated frames) is counted and skipped.
//! pcapng is recognised and refused with a clear error.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The file is pcapng; convert it with `tshark -F pcap` or `editcap -F pcap`.
    #[error(
        "this is a pcapng file; mediabot reads classic pcap (convert with `editcap -F pcap IN OUT`)"
    )]
    PcapNg,
    /// Not a pcap file at all.
    #[error("not a pcap capture: {0}")]
    NotPcap(String),
    /// The link type carries no IP this reader understands.
    #[error("unsupported pcap link type {0:?}")]
    LinkType(DataLink),
    /// The file could not be read.
    #[error("reading capture: {0}")]
    Io(#[from] std::io::Error),
}

/// One UDP datagram from a capture.
#[derive(Debug, Clone, Copy)]
pub struct UdpDatagram<'a> {
    /// Capture timestamp in microseconds since the Unix epoch.
    pub timestamp_us: i64,
    /// Sender address.
    pub source: SocketAddr,
    /// Receiver address.
    pub destination: SocketAddr,
    /// UDP payload.
    pub payload: &'a [u8],
}

/// Counts of what a capture held besides UDP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames read.
    pub frames: u64,
    /// UDP datagrams yielded.
    pub udp: u64,
    /// Frames that were not UDP over IPv4/IPv6 (TCP, ARP, fragments …).
    pub skipped: u64,
    /// Frames cut short by the capture's snap length or malformed headers.
    pub malformed: u64,
    /// Whether the file ended in the middle of a record (a capture cut off by a crash).
    pub truncated: bool,
}

/// Reads UDP datagrams from a classic pcap stream.
pub struct CaptureReader<R: Read> {
    reader: PcapReader<std::io::Chain<std::io::Cursor<[u8; 4]>, R>>,
    link: DataLink,
    stats: CaptureStats,
    payload: Vec<u8>,
}

impl<R: Read> CaptureReader<R> {
    /// Opens a capture, checking its header and link type.
    pub fn new(mut input: R) -> Result<CaptureReader<R>, CaptureError> {
        let mut magic = [0u8; 4];
        input.read_exact(&mut magic).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => CaptureError::NotPcap("file too short".into()),
            _ => CaptureError::Io(e),
        })?;
        if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
            return Err(CaptureError::PcapNg);
        }
        let chained = std::io::Cursor::new(magic).chain(input);
        let reader = PcapReader::new(chained).map_err(|e| CaptureError::NotPcap(e.to_string()))?;
        let link = reader.header().datalink;
        match link {
            DataLink::ETHERNET
            | DataLink::NULL
            | DataLink::LOOP
            | DataLink::RAW
            | DataLink::IPV4
            | DataLink::IPV6
            | DataLink::LINUX_SLL
            | DataLink::LINUX_SLL2 => {}
            other => return Err(CaptureError::LinkType(other)),
        }
        Ok(CaptureReader {
            reader,
            link,
            stats: CaptureStats::default(),
            payload: Vec::with_capacity(2_048),
        })
    }

    /// What was read so far.
    pub fn stats(&self) -> CaptureStats {
        self.stats
    }

    /// The next UDP datagram, skipping (and counting) everything else. `None` at the end of the
    /// capture, including a capture cut off mid-record (then `stats().truncated` is set).
    pub fn next_datagram(&mut self) -> Option<UdpDatagram<'_>> {
        let (timestamp_us, source, destination) = loop {
            let packet = match self.reader.next_packet()? {
                Ok(p) => p,
                Err(_) => {
                    self.stats.truncated = true;
                    return None;
                }
            };
            self.stats.frames += 1;
            let timestamp_us = packet.timestamp().as_micros() as i64;
            let truncated_frame = packet.orig_len() as usize > packet.data().len();
            match parse_frame(self.link, packet.data()) {
                Frame::Udp {
                    source,
                    destination,
                    range,
                } if !truncated_frame => {
                    self.stats.udp += 1;
                    self.payload.clear();
                    self.payload
                        .extend_from_slice(&packet.data()[range.0..range.1]);
                    break (timestamp_us, source, destination);
                }
                Frame::Udp { .. } | Frame::Malformed => self.stats.malformed += 1,
                Frame::Other => self.stats.skipped += 1,
            }
        };
        Some(UdpDatagram {
            timestamp_us,
            source,
            destination,
            payload: &self.payload,
        })
    }
}

enum Frame {
    Udp {
        source: SocketAddr,
        destination: SocketAddr,
        range: (usize, usize),
    },
    Other,
    Malformed,
}

fn parse_frame(link: DataLink, data: &[u8]) -> Frame {
    let (ethertype_or_family, ip_offset) = match link {
        DataLink::ETHERNET => {
            if data.len() < 14 {
                return Frame::Malformed;
            }
            let mut ethertype = u16::from_be_bytes([data[12], data[13]]);
            let mut offset = 14;
            // One or two VLAN tags.
            while ethertype == 0x8100 || ethertype == 0x88a8 {
                if data.len() < offset + 4 {
                    return Frame::Malformed;
                }
                ethertype = u16::from_be_bytes([data[offset + 2], data[offset + 3]]);
                offset += 4;
            }
            (ethertype_kind(ethertype), offset)
        }
        DataLink::NULL | DataLink::LOOP => {
            if data.len() < 4 {
                return Frame::Malformed;
            }
            // Address family in host (NULL) or network (LOOP) order; accept either.
            let le = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
            let be = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
            let kind = match (le, be) {
                (2, _) | (_, 2) => IpKind::V4,
                (24 | 28 | 30, _) | (_, 24 | 28 | 30) => IpKind::V6,
                _ => IpKind::None,
            };
            (kind, 4)
        }
        DataLink::RAW => (
            match data.first().map(|b| b >> 4) {
                Some(4) => IpKind::V4,
                Some(6) => IpKind::V6,
                _ => IpKind::None,
            },
            0,
        ),
        DataLink::IPV4 => (IpKind::V4, 0),
        DataLink::IPV6 => (IpKind::V6, 0),
        DataLink::LINUX_SLL => {
            if data.len() < 16 {
                return Frame::Malformed;
            }
            (ethertype_kind(u16::from_be_bytes([data[14], data[15]])), 16)
        }
        DataLink::LINUX_SLL2 => {
            if data.len() < 20 {
                return Frame::Malformed;
            }
            (ethertype_kind(u16::from_be_bytes([data[0], data[1]])), 20)
        }
        _ => return Frame::Other,
    };
    let ip = &data[ip_offset..];
    let (source_ip, destination_ip, udp_offset) = match ethertype_or_family {
        IpKind::V4 => {
            if ip.len() < 20 || ip[0] >> 4 != 4 {
                return Frame::Malformed;
            }
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            if ihl < 20 || ip.len() < ihl || total < ihl || total > ip.len() {
                return Frame::Malformed;
            }
            let fragment = u16::from_be_bytes([ip[6], ip[7]]);
            let more_fragments = fragment & 0x2000 != 0;
            let offset = fragment & 0x1fff;
            if ip[9] != 17 || more_fragments || offset != 0 {
                return Frame::Other;
            }
            let s = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
            let d = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
            (IpAddr::V4(s), IpAddr::V4(d), ip_offset + ihl)
        }
        IpKind::V6 => {
            if ip.len() < 40 || ip[0] >> 4 != 6 {
                return Frame::Malformed;
            }
            // No extension headers: anything but UDP directly is skipped.
            if ip[6] != 17 {
                return Frame::Other;
            }
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&ip[8..24]);
            d.copy_from_slice(&ip[24..40]);
            (
                IpAddr::V6(Ipv6Addr::from(s)),
                IpAddr::V6(Ipv6Addr::from(d)),
                ip_offset + 40,
            )
        }
        IpKind::None => return Frame::Other,
    };
    let udp = &data[udp_offset..];
    if udp.len() < 8 {
        return Frame::Malformed;
    }
    let source_port = u16::from_be_bytes([udp[0], udp[1]]);
    let destination_port = u16::from_be_bytes([udp[2], udp[3]]);
    let length = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if length < 8 || length > udp.len() {
        return Frame::Malformed;
    }
    Frame::Udp {
        source: SocketAddr::new(source_ip, source_port),
        destination: SocketAddr::new(destination_ip, destination_port),
        range: (udp_offset + 8, udp_offset + length),
    }
}

#[derive(Clone, Copy)]
enum IpKind {
    V4,
    V6,
    None,
}

fn ethertype_kind(ethertype: u16) -> IpKind {
    match ethertype {
        0x0800 => IpKind::V4,
        0x86dd => IpKind::V6,
        _ => IpKind::None,
    }
}
