//! Emitting whole IPv6 packets with the MIPv6 extension headers.
//!
//! A home agent sends a Binding Acknowledgement with a type 2 routing
//! header through an IPPROTO_RAW socket, header included, because the
//! kernel refuses that header in ancillary data (docs/ARCHITECTURE.md, kernel fact 4); this is
//! what builds it. The layout is RFC 8200 4.1's order: IPv6 header, routing
//! header, the Destination Options header holding the Home Address option
//! (RFC 6275 6.3 puts it after the routing header), upper layer.

use std::net::Ipv6Addr;

use super::chain::{ExtHeaderKind, FixedHeader, ParsedIpv6, is_extension_header};
use super::hao::{self, HomeAddressOptionRepr};
use super::options::PADN;
use super::rh2::{self, Type2RoutingHeaderRepr};
use crate::wire::checksum::{self, proto};
use crate::wire::error::need;
use crate::wire::{Error, Result};

/// Length of the Destination Options header `hao_destination_options`
/// emits: 2 octets of header, a 4-octet PadN, the 18-octet option.
pub const HAO_DST_OPTS_LEN: usize = 24;
/// Hop limit `Ipv6Repr::new` starts from (the usual host default).
pub const DEFAULT_HOP_LIMIT: u8 = 64;

/// The Destination Options header carrying only a Home Address option,
/// padded the minimal way: PadN of 4 octets puts the option at offset 6,
/// its 8n+6 alignment (RFC 6275 6.3), and the header ends on 24 octets.
/// Also what a protocol-135 socket takes as IPV6_DSTOPTS ancillary data.
pub fn hao_destination_options(next_header: u8, home_address: Ipv6Addr) -> [u8; HAO_DST_OPTS_LEN] {
    let mut out = [0u8; HAO_DST_OPTS_LEN];
    out[0] = next_header;
    // Hdr Ext Len counts 8-octet units beyond the first 8.
    out[1] = (HAO_DST_OPTS_LEN / 8 - 1) as u8;
    out[2] = PADN;
    out[3] = 2;
    out[hao::ALIGN_OFFSET..].copy_from_slice(&HomeAddressOptionRepr { home_address }.to_bytes());
    out
}

/// An IPv6 packet as MIPv6 sends it: fixed header, optional type 2 routing
/// header, optional Home Address option, then an upper layer the caller
/// supplies as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    pub traffic_class: u8,
    /// 20 bits.
    pub flow_label: u32,
    /// Home address for a type 2 routing header (Segments Left 1).
    pub routing_home_address: Option<Ipv6Addr>,
    /// Home address for a Home Address destination option.
    pub home_address_option: Option<Ipv6Addr>,
    /// Next Header value of the upper layer.
    pub upper_protocol: u8,
}

/// A packet built by `Ipv6Repr::build`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltPacket {
    pub bytes: Vec<u8>,
    /// Where the upper-layer header starts in `bytes`.
    pub upper_offset: usize,
}

impl BuiltPacket {
    /// The upper-layer octets, for filling a checksum in place.
    pub fn upper_mut(&mut self) -> &mut [u8] {
        self.bytes.get_mut(self.upper_offset..).unwrap_or_default()
    }
}

impl Ipv6Repr {
    /// A packet with no extension headers, hop limit 64, traffic class and
    /// flow label 0.
    pub const fn new(src: Ipv6Addr, dst: Ipv6Addr, upper_protocol: u8) -> Self {
        Self {
            src,
            dst,
            hop_limit: DEFAULT_HOP_LIMIT,
            traffic_class: 0,
            flow_label: 0,
            routing_home_address: None,
            home_address_option: None,
            upper_protocol,
        }
    }

    /// Octets before the upper layer.
    pub const fn header_len(&self) -> usize {
        let mut len = FixedHeader::LEN;
        if self.routing_home_address.is_some() {
            len += rh2::WIRE_LEN;
        }
        if self.home_address_option.is_some() {
            len += HAO_DST_OPTS_LEN;
        }
        len
    }

    /// Octets of the whole packet with `payload_len` octets of upper layer.
    pub const fn buffer_len(&self, payload_len: usize) -> usize {
        self.header_len() + payload_len
    }

    /// Pseudo-header addresses for the upper-layer checksum; the same rule
    /// as `ParsedIpv6::checksum_addresses`, seen from the sender.
    pub fn checksum_addresses(&self) -> (Ipv6Addr, Ipv6Addr) {
        (
            self.home_address_option.unwrap_or(self.src),
            self.routing_home_address.unwrap_or(self.dst),
        )
    }

    fn validate(&self, payload_len: usize) -> Result<u16> {
        // Such an upper layer would be walked as a header on parsing, so the
        // packet would not read back as this repr.
        if is_extension_header(self.upper_protocol) {
            return Err(Error::Unencodable {
                what: "IPv6 packet",
                detail: format!(
                    "upper-layer protocol {} is an extension header",
                    self.upper_protocol
                ),
            });
        }
        let ext_len = self.header_len() - FixedHeader::LEN;
        u16::try_from(ext_len + payload_len).map_err(|_| Error::Unencodable {
            what: "IPv6 packet",
            detail: format!(
                "payload of {} octets needs a jumbogram",
                ext_len + payload_len
            ),
        })
    }

    /// Writes every header for an upper layer of `payload_len` octets into
    /// `out` and returns their length, the upper-layer offset. Lets a caller
    /// that already holds the payload in `out` fill the front in place.
    pub fn emit_headers(&self, payload_len: usize, out: &mut [u8]) -> Result<usize> {
        let payload_field = self.validate(payload_len)?;
        let header_len = self.header_len();
        need(out, header_len, "IPv6 packet buffer")?;
        // Next Header values chain back to front: each header announces the
        // one that follows it.
        let after_rh2 = if self.home_address_option.is_some() {
            proto::DST_OPTS
        } else {
            self.upper_protocol
        };
        let first = if self.routing_home_address.is_some() {
            proto::ROUTING
        } else {
            after_rh2
        };
        let fixed = FixedHeader {
            traffic_class: self.traffic_class,
            flow_label: self.flow_label,
            payload_len: payload_field,
            next_header: first,
            hop_limit: self.hop_limit,
            src: self.src,
            dst: self.dst,
        };
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            if let Some(dst) = out.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
            at += bytes.len();
        };
        put(&fixed.to_bytes()?);
        if let Some(home_address) = self.routing_home_address {
            put(&Type2RoutingHeaderRepr::new(after_rh2, home_address).to_bytes()?);
        }
        if let Some(home_address) = self.home_address_option {
            put(&hao_destination_options(self.upper_protocol, home_address));
        }
        Ok(header_len)
    }

    /// Writes the whole packet into `out`; returns its length. The upper
    /// layer starts at `header_len()`.
    pub fn emit(&self, payload: &[u8], out: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len(payload.len());
        need(out, total, "IPv6 packet buffer")?;
        let at = self.emit_headers(payload.len(), out)?;
        if let Some(dst) = out.get_mut(at..total) {
            dst.copy_from_slice(payload);
        }
        Ok(total)
    }

    /// The whole packet in a new buffer.
    pub fn build(&self, payload: &[u8]) -> Result<BuiltPacket> {
        // Refuse before allocating for a payload no packet can carry.
        self.validate(payload.len())?;
        let mut bytes = vec![0u8; self.buffer_len(payload.len())];
        self.emit(payload, &mut bytes)?;
        Ok(BuiltPacket {
            bytes,
            upper_offset: self.header_len(),
        })
    }

    /// The whole packet, with the upper-layer checksum at `checksum_offset`
    /// (from the start of `payload`: 4 for MH, 2 for ICMPv6) computed over
    /// `checksum_addresses()`. Whatever that field held is ignored.
    pub fn build_with_checksum(
        &self,
        payload: &[u8],
        checksum_offset: usize,
    ) -> Result<BuiltPacket> {
        if checksum_offset
            .checked_add(2)
            .is_none_or(|end| end > payload.len())
        {
            return Err(Error::Unencodable {
                what: "upper-layer checksum",
                detail: format!(
                    "field at {checksum_offset} outside a {}-octet payload",
                    payload.len()
                ),
            });
        }
        let mut built = self.build(payload)?;
        let (src, dst) = self.checksum_addresses();
        let upper_protocol = self.upper_protocol;
        let upper = built.upper_mut();
        if let Some(field) = upper.get_mut(checksum_offset..checksum_offset + 2) {
            field.fill(0);
        }
        let sum = checksum::upper_layer(&src, &dst, upper_protocol, upper);
        if let Some(field) = upper.get_mut(checksum_offset..checksum_offset + 2) {
            field.copy_from_slice(&sum.to_be_bytes());
        }
        Ok(built)
    }

    /// The repr of a parsed packet, which must have only the headers this
    /// type emits: a type 2 routing header with Segments Left 1, then a
    /// Destination Options header holding the Home Address option and
    /// padding. `build` gives the same octets back when the input used the
    /// canonical padding.
    pub fn parse(p: &ParsedIpv6<'_>) -> Result<Self> {
        let unsupported = |value: u8| Error::Unsupported {
            what: "extension header for Ipv6Repr",
            value: value.into(),
        };
        if p.is_fragment() {
            return Err(unsupported(proto::FRAGMENT));
        }
        for h in p.ext_headers() {
            match h.kind {
                ExtHeaderKind::Routing {
                    routing_type: rh2::ROUTING_TYPE,
                    segments_left: 1,
                } => {}
                ExtHeaderKind::Routing {
                    routing_type: rh2::ROUTING_TYPE,
                    segments_left,
                } => {
                    return Err(Error::Invalid {
                        field: "type 2 routing header segments left for Ipv6Repr",
                        value: segments_left.into(),
                    });
                }
                ExtHeaderKind::DestinationOptions => {
                    let mut has_hao = false;
                    for opt in p.options(h).into_iter().flatten() {
                        let opt = opt?;
                        if opt.opt_type == hao::OPTION_TYPE {
                            has_hao = true;
                        } else if !opt.is_padding() {
                            return Err(Error::Unsupported {
                                what: "destination option for Ipv6Repr",
                                value: opt.opt_type.into(),
                            });
                        }
                    }
                    if !has_hao {
                        return Err(unsupported(proto::DST_OPTS));
                    }
                }
                other => return Err(unsupported(other.protocol())),
            }
        }
        let h = p.header();
        Ok(Self {
            src: h.src,
            dst: h.dst,
            hop_limit: h.hop_limit,
            traffic_class: h.traffic_class,
            flow_label: h.flow_label,
            routing_home_address: p.routing_home_address(),
            home_address_option: p.home_address(),
            upper_protocol: p.upper_protocol(),
        })
    }
}
