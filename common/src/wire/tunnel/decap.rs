//! The tunnel exit point: checking and unwrapping tunnel packets (RFC 2473
//! 3.3).

use std::net::Ipv6Addr;

use crate::wire::checksum::proto;
use crate::wire::exthdr::parse_ipv6;
use crate::wire::{Error, Result};

/// The fixed-header fields of an inner packet the data plane looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct InnerHeader {
    pub traffic_class: u8,
    pub payload_len: u16,
    pub next_header: u8,
    pub hop_limit: u8,
}

/// Reads the inner fixed header: version 6, 40 octets at least. Direct
/// reads rather than a general parser, since it runs per packet.
pub(crate) fn inner_header(inner: &[u8]) -> Result<InnerHeader> {
    let Some(h) = inner.first_chunk::<40>() else {
        return Err(Error::Truncated {
            what: "inner IPv6 header",
            need: 40,
            have: inner.len(),
        });
    };
    if h[0] >> 4 != 6 {
        return Err(Error::Invalid {
            field: "inner IP version",
            value: (h[0] >> 4).into(),
        });
    }
    Ok(InnerHeader {
        traffic_class: (h[0] << 4) | (h[1] >> 4),
        payload_len: u16::from_be_bytes([h[4], h[5]]),
        next_header: h[6],
        hop_limit: h[7],
    })
}

fn addr(bytes: &[u8], at: usize) -> Ipv6Addr {
    bytes
        .get(at..at + 16)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map_or(Ipv6Addr::UNSPECIFIED, Ipv6Addr::from)
}

/// A checked inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerPacket<'a> {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub next_header: u8,
    /// The packet cut to its own length (40 + Payload Length).
    pub packet: &'a [u8],
}

/// Checks an inner packet on its own, as a protocol-41 raw socket delivers
/// it (docs/ARCHITECTURE.md, kernel fact 5: the outer source is then the socket address).
/// Octets past its own length are cut off; fewer is an error.
pub fn parse_inner(inner: &[u8]) -> Result<InnerPacket<'_>> {
    let h = inner_header(inner)?;
    // Payload Length 0 before a Hop-by-Hop header may be a jumbogram, whose
    // real length this view would silently drop.
    if h.payload_len == 0 && h.next_header == proto::HOP_BY_HOP {
        return Err(Error::Unsupported {
            what: "inner jumbogram, payload length",
            value: 0,
        });
    }
    let len = 40 + usize::from(h.payload_len);
    let packet = inner.get(..len).ok_or(Error::Truncated {
        what: "inner IPv6 packet",
        need: len,
        have: inner.len(),
    })?;
    Ok(InnerPacket {
        src: addr(packet, 8),
        dst: addr(packet, 24),
        hop_limit: h.hop_limit,
        traffic_class: h.traffic_class,
        next_header: h.next_header,
        packet,
    })
}

/// A tunnel packet taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decapsulated<'a> {
    pub outer_src: Ipv6Addr,
    pub outer_dst: Ipv6Addr,
    pub inner: &'a [u8],
    pub inner_src: Ipv6Addr,
    pub inner_dst: Ipv6Addr,
}

/// Unwraps a whole tunnel packet, as captured from AF_PACKET or a pcap
/// (Ethernet header removed). The outer header may carry extension headers
/// before Next Header 41; the inner packet must fit in the outer payload.
pub fn decapsulate(packet: &[u8]) -> Result<Decapsulated<'_>> {
    let outer = parse_ipv6(packet)?;
    if outer.is_fragment() {
        return Err(Error::Unsupported {
            what: "fragmented tunnel packet, protocol",
            value: proto::FRAGMENT.into(),
        });
    }
    if let Some(opt) = outer.unrecognized_option() {
        // RFC 8200 4.2: its action bits say the packet is not to be used.
        return Err(Error::Unsupported {
            what: "option in tunnel header",
            value: opt.opt_type.into(),
        });
    }
    if outer.upper_protocol() != proto::IPV6 {
        return Err(Error::Unsupported {
            what: "tunnel payload protocol",
            value: outer.upper_protocol().into(),
        });
    }
    let inner = parse_inner(outer.upper())?;
    Ok(Decapsulated {
        outer_src: outer.header().src,
        outer_dst: outer.header().dst,
        inner: inner.packet,
        inner_src: inner.src,
        inner_dst: inner.dst,
    })
}
