//! Walking an IPv6 packet's extension-header chain to its upper layer.
//!
//! MIPv6 signalling reaches the daemons with a Home Address option or a type
//! 2 routing header in front of the Mobility Header, and a stock kernel
//! drops such packets before any protocol-135 socket sees them (docs/ARCHITECTURE.md,
//! kernel fact 2), so the daemons parse the chain themselves.

use std::net::Ipv6Addr;

use etherparse::{
    IpAuthHeaderSlice, Ipv6FragmentHeaderSlice, Ipv6HeaderSlice, Ipv6RawExtHeaderSlice,
};

use super::hao::{self, HomeAddressOption, HomeAddressOptionRepr, addr_at};
use super::options::{TlvOptions, UnrecognizedAction};
use super::rh2::{self, Type2RoutingHeader};
use crate::wire::checksum::proto;
use crate::wire::{Error, Result};

/// IP Authentication Header (RFC 4302); walked because the Home Address
/// option must precede it (RFC 6275 6.3).
pub const AUTHENTICATION: u8 = 51;

/// The most extension headers one packet may carry here. RFC 8200 4.1 has
/// each header at most once and Destination Options at most twice, which
/// is 6 with AH; longer chains are refused rather than allocated for.
pub const MAX_EXT_HEADERS: usize = 8;

/// True for the Next Header values the walker steps over rather than stops
/// at: Hop-by-Hop, Routing, Fragment, Destination Options, AH.
pub const fn is_extension_header(protocol: u8) -> bool {
    ExtHeaderKind::name(protocol).is_some()
}

/// The IPv6 fixed header (RFC 8200 3) as plain fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedHeader {
    pub traffic_class: u8,
    /// 20 bits.
    pub flow_label: u32,
    pub payload_len: u16,
    pub next_header: u8,
    pub hop_limit: u8,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
}

impl FixedHeader {
    pub const LEN: usize = 40;

    /// Reads the first 40 octets of `buf`, which must be IPv6.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        use etherparse::err::ipv6::{HeaderError, HeaderSliceError};
        let h = Ipv6HeaderSlice::from_slice(buf).map_err(|e| match e {
            HeaderSliceError::Len(l) => Error::Truncated {
                what: "IPv6 header",
                need: l.required_len,
                have: l.len,
            },
            HeaderSliceError::Content(HeaderError::UnexpectedVersion { version_number }) => {
                Error::Invalid {
                    field: "IP version",
                    value: version_number.into(),
                }
            }
        })?;
        Ok(Self {
            traffic_class: h.traffic_class(),
            flow_label: h.flow_label().value(),
            payload_len: h.payload_length(),
            next_header: h.next_header().0,
            hop_limit: h.hop_limit(),
            src: h.source_addr(),
            dst: h.destination_addr(),
        })
    }

    /// The header as bytes.
    pub fn to_bytes(&self) -> Result<[u8; Self::LEN]> {
        let flow_label = etherparse::Ipv6FlowLabel::try_new(self.flow_label).map_err(|_| {
            Error::Unencodable {
                what: "IPv6 header",
                detail: format!("flow label {:#x} is wider than 20 bits", self.flow_label),
            }
        })?;
        Ok(etherparse::Ipv6Header {
            traffic_class: self.traffic_class,
            flow_label,
            payload_length: self.payload_len,
            next_header: etherparse::IpNumber(self.next_header),
            hop_limit: self.hop_limit,
            source: self.src.octets(),
            destination: self.dst.octets(),
        }
        .to_bytes())
    }
}

/// Which extension header, with the fields a receiver branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtHeaderKind {
    HopByHop,
    Routing {
        routing_type: u8,
        segments_left: u8,
    },
    Fragment {
        offset: u16,
        more_fragments: bool,
        identification: u32,
    },
    DestinationOptions,
    Authentication,
}

impl ExtHeaderKind {
    /// The Next Header value that announces this header.
    pub const fn protocol(&self) -> u8 {
        match self {
            Self::HopByHop => proto::HOP_BY_HOP,
            Self::Routing { .. } => proto::ROUTING,
            Self::Fragment { .. } => proto::FRAGMENT,
            Self::DestinationOptions => proto::DST_OPTS,
            Self::Authentication => AUTHENTICATION,
        }
    }

    const fn name(protocol: u8) -> Option<&'static str> {
        match protocol {
            proto::HOP_BY_HOP => Some("hop-by-hop options header"),
            proto::ROUTING => Some("routing header"),
            proto::FRAGMENT => Some("fragment header"),
            proto::DST_OPTS => Some("destination options header"),
            AUTHENTICATION => Some("authentication header"),
            _ => None,
        }
    }
}

/// One extension header seen on the way to the upper layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtHeader {
    pub kind: ExtHeaderKind,
    /// Offset of its first octet in the buffer given to the parser.
    pub offset: usize,
    /// Its length in octets.
    pub len: usize,
}

/// An option this parser does not know, whose action bits say the packet
/// must not be processed (RFC 8200 4.2). Handing it back rather than failing
/// lets the caller choose between dropping and answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnrecognizedOption {
    /// `proto::HOP_BY_HOP` or `proto::DST_OPTS`.
    pub container: u8,
    pub opt_type: u8,
    /// Offset of the option type octet in the buffer given to the parser:
    /// the Parameter Problem pointer when that buffer starts at the IPv6
    /// header.
    pub offset: usize,
    pub action: UnrecognizedAction,
}

const NO_HEADER: ExtHeader = ExtHeader {
    kind: ExtHeaderKind::HopByHop,
    offset: 0,
    len: 0,
};

/// An IPv6 packet whose extension headers have been walked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedIpv6<'a> {
    header: FixedHeader,
    packet: &'a [u8],
    exts: [ExtHeader; MAX_EXT_HEADERS],
    ext_count: usize,
    home_address: Option<Ipv6Addr>,
    rh2_home_address: Option<Ipv6Addr>,
    final_destination: Option<Ipv6Addr>,
    unrecognized: Option<UnrecognizedOption>,
    upper_protocol: u8,
    upper_offset: usize,
    fragmented: bool,
}

/// Parses a whole IPv6 packet. Octets after Payload Length (Ethernet
/// padding, say) are ignored; fewer than it announces is an error. A
/// Payload Length of zero is taken literally: jumbograms are not supported.
pub fn parse_ipv6(buf: &[u8]) -> Result<ParsedIpv6<'_>> {
    let header = FixedHeader::parse(buf)?;
    let end = FixedHeader::LEN + usize::from(header.payload_len);
    let packet = buf.get(..end).ok_or(Error::Truncated {
        what: "IPv6 payload",
        need: end,
        have: buf.len(),
    })?;
    walk(header, packet, FixedHeader::LEN)
}

/// Parses the part of a packet after its fixed header, as a raw socket of
/// protocol 43 or 60 delivers it; the caller rebuilds `header` from the
/// socket address and ancillary data (`next_header` is the protocol of the
/// first octet of `payload`; `payload_len` is taken from `payload`).
/// Offsets in the result are relative to `payload`.
pub fn parse_payload(mut header: FixedHeader, payload: &[u8]) -> Result<ParsedIpv6<'_>> {
    header.payload_len = u16::try_from(payload.len()).map_err(|_| Error::BadLength {
        what: "IPv6 payload",
        detail: format!("{} octets without a jumbo payload option", payload.len()),
    })?;
    walk(header, payload, 0)
}

fn truncated(what: &'static str, e: &etherparse::err::LenError) -> Error {
    Error::Truncated {
        what,
        need: e.required_len,
        have: e.len,
    }
}

fn offset_value(offset: usize) -> u64 {
    u64::try_from(offset).unwrap_or(u64::MAX)
}

/// Placement state that RFC 6275 6.3 rules depend on.
#[derive(Default)]
struct Placement {
    hao_at: Option<usize>,
    after_fragment_or_ah: bool,
}

fn walk(header: FixedHeader, packet: &[u8], start: usize) -> Result<ParsedIpv6<'_>> {
    let mut p = ParsedIpv6 {
        header,
        packet,
        exts: [NO_HEADER; MAX_EXT_HEADERS],
        ext_count: 0,
        home_address: None,
        rh2_home_address: None,
        final_destination: None,
        unrecognized: None,
        upper_protocol: header.next_header,
        upper_offset: start,
        fragmented: false,
    };
    let mut place = Placement::default();
    let mut nh = header.next_header;
    let mut off = start;
    while let Some(name) = ExtHeaderKind::name(nh) {
        let rest = packet.get(off..).unwrap_or_default();
        let (kind, len, next) = match nh {
            proto::HOP_BY_HOP => {
                // RFC 8200 4.1: only directly after the IPv6 header.
                if p.ext_count != 0 {
                    return Err(Error::Invalid {
                        field: "hop-by-hop options header position",
                        value: offset_value(off),
                    });
                }
                let hdr = raw_ext(rest, name)?;
                p.scan_options(hdr, off, nh, &mut place)?;
                (ExtHeaderKind::HopByHop, hdr.len(), hdr_next(hdr))
            }
            proto::DST_OPTS => {
                let hdr = raw_ext(rest, name)?;
                p.scan_options(hdr, off, nh, &mut place)?;
                (ExtHeaderKind::DestinationOptions, hdr.len(), hdr_next(hdr))
            }
            proto::ROUTING => {
                let hdr = raw_ext(rest, name)?;
                let kind = p.routing(hdr, off, &place)?;
                (kind, hdr.len(), hdr_next(hdr))
            }
            proto::FRAGMENT => {
                let f =
                    Ipv6FragmentHeaderSlice::from_slice(rest).map_err(|e| truncated(name, &e))?;
                place.after_fragment_or_ah = true;
                // Past a fragment of a larger packet the following octets
                // are not headers but fragment data: reassembly comes first.
                p.fragmented = f.is_fragmenting_payload();
                let kind = ExtHeaderKind::Fragment {
                    offset: f.fragment_offset().value(),
                    more_fragments: f.more_fragments(),
                    identification: f.identification(),
                };
                (kind, f.slice().len(), f.next_header().0)
            }
            _ => {
                use etherparse::err::ip_auth::{HeaderError, HeaderSliceError};
                let a = IpAuthHeaderSlice::from_slice(rest).map_err(|e| match e {
                    HeaderSliceError::Len(l) => truncated(name, &l),
                    HeaderSliceError::Content(HeaderError::ZeroPayloadLen) => Error::BadLength {
                        what: name,
                        detail: "payload len 0, at least 1".into(),
                    },
                })?;
                place.after_fragment_or_ah = true;
                (
                    ExtHeaderKind::Authentication,
                    a.slice().len(),
                    a.next_header().0,
                )
            }
        };
        let slot = p.exts.get_mut(p.ext_count).ok_or(Error::Unsupported {
            what: "extension header count above",
            value: MAX_EXT_HEADERS as u64,
        })?;
        *slot = ExtHeader {
            kind,
            offset: off,
            len,
        };
        p.ext_count += 1;
        off += len;
        nh = next;
        if p.fragmented {
            break;
        }
    }
    p.upper_protocol = nh;
    p.upper_offset = off;
    Ok(p)
}

/// Cuts one Hop-by-Hop, Routing or Destination Options header, whose
/// length is in 8-octet units after the first 8 (RFC 8200 4.3-4.6).
fn raw_ext<'a>(rest: &'a [u8], name: &'static str) -> Result<&'a [u8]> {
    Ipv6RawExtHeaderSlice::from_slice(rest)
        .map(|s| s.slice())
        .map_err(|e| truncated(name, &e))
}

fn hdr_next(hdr: &[u8]) -> u8 {
    hdr.first().copied().unwrap_or(proto::NO_NEXT)
}

impl<'a> ParsedIpv6<'a> {
    fn scan_options(
        &mut self,
        hdr: &[u8],
        hdr_off: usize,
        container: u8,
        place: &mut Placement,
    ) -> Result<()> {
        let name = ExtHeaderKind::name(container).unwrap_or("options header");
        for opt in TlvOptions::new(hdr, name) {
            let opt = opt?;
            if opt.is_padding() {
                continue;
            }
            let at = hdr_off + opt.offset;
            if container == proto::DST_OPTS && opt.opt_type == hao::OPTION_TYPE {
                // RFC 6275 6.3: once per IPv6 header, and before any
                // Fragment, AH or ESP header.
                if self.home_address.is_some() {
                    return Err(Error::Invalid {
                        field: "second home address option",
                        value: offset_value(at),
                    });
                }
                if place.after_fragment_or_ah {
                    return Err(Error::Invalid {
                        field: "home address option after fragment or authentication header",
                        value: offset_value(at),
                    });
                }
                let bytes = hdr
                    .get(opt.offset..opt.offset + opt.wire_len())
                    .unwrap_or_default();
                let repr = HomeAddressOptionRepr::parse(&HomeAddressOption::new_unchecked(bytes))?;
                self.home_address = Some(repr.home_address);
                place.hao_at = Some(at);
                continue;
            }
            let action = opt.action();
            if action != UnrecognizedAction::Skip && self.unrecognized.is_none() {
                self.unrecognized = Some(UnrecognizedOption {
                    container,
                    opt_type: opt.opt_type,
                    offset: at,
                    action,
                });
            }
        }
        Ok(())
    }

    fn routing(&mut self, hdr: &[u8], off: usize, place: &Placement) -> Result<ExtHeaderKind> {
        let byte = |i: usize| hdr.get(i).copied().unwrap_or(0);
        let (hdr_ext_len, routing_type, segments_left) = (byte(1), byte(2), byte(3));
        // RFC 6275 6.3: the Home Address option comes after the routing header.
        if let Some(at) = place.hao_at {
            return Err(Error::Invalid {
                field: "home address option before routing header",
                value: offset_value(at),
            });
        }
        match routing_type {
            rh2::ROUTING_TYPE => {
                let rh = Type2RoutingHeader::new_checked(hdr)?;
                if self.rh2_home_address.is_some() {
                    return Err(Error::Invalid {
                        field: "second type 2 routing header",
                        value: offset_value(off),
                    });
                }
                self.rh2_home_address = Some(rh.home_address());
                if segments_left > 0 {
                    self.final_destination = Some(rh.home_address());
                }
            }
            // RFC 8200 4.4: a routing header with nothing left to do is
            // skipped whatever its type.
            _ if segments_left == 0 => {}
            0 => {
                // Deprecated (RFC 5095) but still decodable: the final
                // destination is the last address.
                let n = hdr_ext_len / 2;
                if hdr_ext_len % 2 != 0 || segments_left > n {
                    return Err(Error::Invalid {
                        field: "type 0 routing header segments left",
                        value: segments_left.into(),
                    });
                }
                self.final_destination = Some(addr_at(hdr, 8 + 16 * (usize::from(n) - 1)));
            }
            4 => {
                // Segment routing (RFC 8754 2): Segment List[0] is the last
                // segment, and the list is never empty.
                if hdr_ext_len < 2 {
                    return Err(Error::BadLength {
                        what: "segment routing header",
                        detail: format!("hdr ext len {hdr_ext_len} holds no segment"),
                    });
                }
                self.final_destination = Some(addr_at(hdr, 8));
            }
            _ => {
                // RFC 8200 4.4: unknown type with segments left is discarded.
                return Err(Error::Unsupported {
                    what: "routing type with segments left",
                    value: routing_type.into(),
                });
            }
        }
        Ok(ExtHeaderKind::Routing {
            routing_type,
            segments_left,
        })
    }

    /// The fixed header. Its `payload_len` is the one the packet announced.
    pub fn header(&self) -> &FixedHeader {
        &self.header
    }

    /// The packet as parsed: the input cut at the end of the payload.
    pub fn packet(&self) -> &'a [u8] {
        self.packet
    }

    /// The extension headers in chain order.
    pub fn ext_headers(&self) -> &[ExtHeader] {
        self.exts.get(..self.ext_count).unwrap_or_default()
    }

    /// The octets of one extension header.
    pub fn ext_header_bytes(&self, h: &ExtHeader) -> &'a [u8] {
        self.packet
            .get(h.offset..h.offset + h.len)
            .unwrap_or_default()
    }

    /// The options of a Hop-by-Hop or Destination Options header, unknown
    /// ones included; `None` for other headers.
    pub fn options(&self, h: &ExtHeader) -> Option<TlvOptions<'a>> {
        let name = match h.kind {
            ExtHeaderKind::HopByHop | ExtHeaderKind::DestinationOptions => {
                ExtHeaderKind::name(h.kind.protocol())?
            }
            _ => return None,
        };
        Some(TlvOptions::new(self.ext_header_bytes(h), name))
    }

    /// The address in the Home Address option, if one was present.
    pub fn home_address(&self) -> Option<Ipv6Addr> {
        self.home_address
    }

    /// The address in the type 2 routing header, if one was present.
    pub fn routing_home_address(&self) -> Option<Ipv6Addr> {
        self.rh2_home_address
    }

    /// Where the packet is finally going: the last routing header's final
    /// address when segments remain, else the IPv6 destination.
    pub fn final_destination(&self) -> Ipv6Addr {
        self.final_destination.unwrap_or(self.header.dst)
    }

    /// The first option whose action bits forbid processing the packet.
    pub fn unrecognized_option(&self) -> Option<UnrecognizedOption> {
        self.unrecognized
    }

    /// The Next Header value where the walk stopped: an upper layer (MH,
    /// ICMPv6, TCP, UDP, IPv6, No Next Header...) or, for a fragment, the
    /// protocol of the fragmented data.
    pub fn upper_protocol(&self) -> u8 {
        self.upper_protocol
    }

    /// Offset of the upper-layer header in the buffer given to the parser.
    pub fn upper_offset(&self) -> usize {
        self.upper_offset
    }

    /// The upper-layer octets up to the end of the payload.
    pub fn upper(&self) -> &'a [u8] {
        self.packet.get(self.upper_offset..).unwrap_or_default()
    }

    /// True when the walk stopped at a Fragment header of a larger packet:
    /// `upper()` is then fragment data and must be reassembled first.
    pub fn is_fragment(&self) -> bool {
        self.fragmented
    }

    /// Source and destination for the upper-layer checksum pseudo-header
    /// (RFC 8200 8.1, RFC 6275 6.1.1 and 6.3): the home address from the
    /// Home Address option instead of the source, and the final destination
    /// of a routing header instead of the destination.
    pub fn checksum_addresses(&self) -> (Ipv6Addr, Ipv6Addr) {
        (
            self.home_address.unwrap_or(self.header.src),
            self.final_destination(),
        )
    }
}
