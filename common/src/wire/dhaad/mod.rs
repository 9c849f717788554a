//! The Mobile IPv6 ICMPv6 messages (RFC 6275 6.5-6.8): Dynamic Home Agent
//! Address Discovery request and reply, Mobile Prefix Solicitation and
//! Advertisement. They share the ICMPv6 view and the ND option codec with
//! `nd`.
//!
//! Checksums: a Mobile Prefix Solicitation leaves the mobile node with a
//! Home Address option and a Mobile Prefix Advertisement reaches it through
//! a type 2 routing header, so their pseudo-header uses the home address
//! (the HAO's address as source, the RH2's address as destination,
//! RFC 6275 6.3 and 6.4), not the addresses in the IPv6 header.

#[cfg(test)]
mod tests;

use std::net::Ipv6Addr;

use super::be::be16;
use super::nd::{self, Icmpv6Packet, NdOption, emit_options, options_len, parse_options};
use super::{Error, Result};

/// ICMPv6 types (RFC 6275 6.5-6.8).
pub mod msg_type {
    pub const HAAD_REQUEST: u8 = 144;
    pub const HAAD_REPLY: u8 = 145;
    pub const MOBILE_PREFIX_SOLICIT: u8 = 146;
    pub const MOBILE_PREFIX_ADVERT: u8 = 147;
}

/// Every one of these messages has an 8-byte fixed part: the ICMPv6
/// header, a 16-bit Identifier and 16 bits of flags or reserved.
const FIXED_LEN: usize = 8;
const ADDR_LEN: usize = 16;

/// R, the Mobile Router Support flag NEMO puts in DHAAD (RFC 3963 7.1,
/// 7.2).
const MOBILE_ROUTER: u16 = 0x8000;
const HAAD_RESERVED: u16 = 0x7fff;
const MPA_MANAGED: u16 = 0x8000;
const MPA_OTHER: u16 = 0x4000;
const MPA_RESERVED: u16 = 0x3fff;

/// Interface identifier of the Mobile IPv6 Home-Agents subnet anycast
/// address in an EUI-64-format subnet (RFC 2526 2, anycast ID 0x7e, u bit
/// clear): the DHAAD Request goes there (RFC 6275 11.4.1).
const HA_ANYCAST_IID: u128 = 0xfdff_ffff_ffff_fffe;
/// RFC 2526 3: the Mobile IPv6 Home-Agents anycast ID.
const HA_ANYCAST_ID: u128 = 0x7e;

/// The Mobile IPv6 Home-Agents anycast address of a home subnet
/// (RFC 2526). For a /64 (EUI-64 interface identifiers) this is
/// prefix::fdff:ffff:ffff:fffe; for other lengths the bits after the
/// prefix are all ones except the 7-bit anycast ID. `None` when the prefix
/// leaves no room for the ID (over 121 bits).
pub fn home_agents_anycast(prefix: Ipv6Addr, prefix_len: u8) -> Option<Ipv6Addr> {
    let len = u32::from(prefix_len);
    if len > 121 {
        return None;
    }
    let net_mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    let net = u128::from(prefix) & net_mask;
    let host = if len == 64 {
        HA_ANYCAST_IID
    } else {
        // Everything after the prefix, with the last 7 bits the ID.
        (!net_mask & !0x7f) | HA_ANYCAST_ID
    };
    Some(Ipv6Addr::from(net | host))
}

/// Home Agent Address Discovery Request (RFC 6275 6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HaadRequest {
    /// Echoed in the reply to match it.
    pub identifier: u16,
    /// R (RFC 3963 7.1): the sender is a mobile router and wants home
    /// agents that support it. scapy sets it by default.
    pub mobile_router: bool,
    /// The 15 bits after R, kept verbatim.
    pub reserved: u16,
}

/// Home Agent Address Discovery Reply (RFC 6275 6.6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct HaadReply {
    pub identifier: u16,
    /// R (RFC 3963 7.2): the listed home agents support mobile routers.
    pub mobile_router: bool,
    /// The 15 bits after R, kept verbatim.
    pub reserved: u16,
    /// Home agents on the home link, most preferred first.
    pub home_agents: Vec<Ipv6Addr>,
}

/// Mobile Prefix Solicitation (RFC 6275 6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MobilePrefixSolicit {
    pub identifier: u16,
    pub reserved: u16,
}

/// Mobile Prefix Advertisement (RFC 6275 6.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MobilePrefixAdvert {
    /// From the solicitation it answers; any value when unsolicited.
    pub identifier: u16,
    /// M: the home link's RA Managed flag.
    pub managed: bool,
    /// O: the home link's RA Other flag.
    pub other: bool,
    /// The 14 bits after M and O, kept verbatim.
    pub reserved: u16,
    /// Prefix Information options (others are kept and should be ignored).
    pub options: Vec<NdOption>,
}

/// Any of the four Mobile IPv6 ICMPv6 messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DhaadRepr {
    HaadRequest(HaadRequest),
    HaadReply(HaadReply),
    PrefixSolicit(MobilePrefixSolicit),
    PrefixAdvert(MobilePrefixAdvert),
}

crate::wire::from_variants!(DhaadRepr {
    HaadRequest(HaadRequest),
    HaadReply(HaadReply),
    PrefixSolicit(MobilePrefixSolicit),
    PrefixAdvert(MobilePrefixAdvert),
});

impl DhaadRepr {
    /// Parses one of the four messages. The checksum is not looked at (see
    /// [`DhaadRepr::parse_verified`]).
    ///
    /// A Request or Solicitation longer than 8 bytes is accepted and the
    /// extra bytes ignored: RFC 6275 defines nothing after the fixed part,
    /// and nothing there changes the answer. A Reply whose address list
    /// does not come out in whole addresses is refused.
    pub fn parse<T: AsRef<[u8]>>(packet: &Icmpv6Packet<T>) -> Result<Self> {
        let bytes = packet.as_bytes();
        super::error::need(bytes, nd::ICMPV6_HEADER_LEN, "ICMPv6 header")?;
        let what = match packet.msg_type() {
            msg_type::HAAD_REQUEST => "Home Agent Address Discovery Request",
            msg_type::HAAD_REPLY => "Home Agent Address Discovery Reply",
            msg_type::MOBILE_PREFIX_SOLICIT => "Mobile Prefix Solicitation",
            msg_type::MOBILE_PREFIX_ADVERT => "Mobile Prefix Advertisement",
            other => {
                return Err(Error::Unsupported {
                    what: "ICMPv6 type for DHAAD/MPD",
                    value: u64::from(other),
                });
            }
        };
        nd::expect_code_zero(packet)?;
        super::error::need(bytes, FIXED_LEN, what)?;
        let identifier = be16(bytes, 4);
        let word = be16(bytes, 6);
        let rest = bytes.get(FIXED_LEN..).unwrap_or(&[]);
        Ok(match packet.msg_type() {
            msg_type::HAAD_REQUEST => Self::HaadRequest(HaadRequest {
                identifier,
                mobile_router: word & MOBILE_ROUTER != 0,
                reserved: word & HAAD_RESERVED,
            }),
            msg_type::HAAD_REPLY => {
                let chunks = rest.chunks_exact(ADDR_LEN);
                if !chunks.remainder().is_empty() {
                    return Err(Error::BadLength {
                        what,
                        detail: format!(
                            "{} bytes of addresses is not a multiple of 16",
                            rest.len()
                        ),
                    });
                }
                Self::HaadReply(HaadReply {
                    identifier,
                    mobile_router: word & MOBILE_ROUTER != 0,
                    reserved: word & HAAD_RESERVED,
                    home_agents: chunks
                        .filter_map(|c| <[u8; 16]>::try_from(c).ok())
                        .map(Ipv6Addr::from)
                        .collect(),
                })
            }
            msg_type::MOBILE_PREFIX_SOLICIT => Self::PrefixSolicit(MobilePrefixSolicit {
                identifier,
                reserved: word,
            }),
            _ => Self::PrefixAdvert(MobilePrefixAdvert {
                identifier,
                managed: word & MPA_MANAGED != 0,
                other: word & MPA_OTHER != 0,
                reserved: word & MPA_RESERVED,
                options: parse_options(rest, what)?,
            }),
        })
    }

    /// Parses a message held in `bytes` (ICMPv6 header first).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        nd::parse_bytes(bytes, None, Self::parse)
    }

    /// Checks the checksum for `src` and `dst` (the home address where the
    /// module docs say so), then parses.
    pub fn parse_verified(bytes: &[u8], src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<Self> {
        nd::parse_bytes(bytes, Some((src, dst)), Self::parse)
    }

    pub fn msg_type(&self) -> u8 {
        match self {
            Self::HaadRequest(_) => msg_type::HAAD_REQUEST,
            Self::HaadReply(_) => msg_type::HAAD_REPLY,
            Self::PrefixSolicit(_) => msg_type::MOBILE_PREFIX_SOLICIT,
            Self::PrefixAdvert(_) => msg_type::MOBILE_PREFIX_ADVERT,
        }
    }

    /// The identifier that pairs a request with its reply.
    pub fn identifier(&self) -> u16 {
        match self {
            Self::HaadRequest(m) => m.identifier,
            Self::HaadReply(m) => m.identifier,
            Self::PrefixSolicit(m) => m.identifier,
            Self::PrefixAdvert(m) => m.identifier,
        }
    }

    /// Bytes the whole ICMPv6 message takes.
    pub fn buffer_len(&self) -> usize {
        FIXED_LEN
            + match self {
                Self::HaadRequest(_) | Self::PrefixSolicit(_) => 0,
                Self::HaadReply(m) => m.home_agents.len() * ADDR_LEN,
                Self::PrefixAdvert(m) => options_len(&m.options),
            }
    }

    /// Writes the message at the start of `buf` with a zero checksum;
    /// returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        nd::emit_room(buf, len, "DHAAD emit buffer")?;
        let bit = |set: bool, mask: u16| if set { mask } else { 0 };
        let (reserved, reserved_mask, flags) = match self {
            Self::HaadRequest(m) => (
                m.reserved,
                HAAD_RESERVED,
                bit(m.mobile_router, MOBILE_ROUTER),
            ),
            Self::HaadReply(m) => (
                m.reserved,
                HAAD_RESERVED,
                bit(m.mobile_router, MOBILE_ROUTER),
            ),
            Self::PrefixSolicit(m) => (m.reserved, u16::MAX, 0),
            Self::PrefixAdvert(m) => (
                m.reserved,
                MPA_RESERVED,
                bit(m.managed, MPA_MANAGED) | bit(m.other, MPA_OTHER),
            ),
        };
        if reserved & !reserved_mask != 0 {
            return Err(Error::Unencodable {
                what: "DHAAD/MPD message",
                detail: format!("reserved {reserved:#x} overlaps the flag bits"),
            });
        }
        let have = buf.len();
        let (head, rest) = buf
            .split_at_mut_checked(FIXED_LEN)
            .ok_or(Error::Truncated {
                what: "DHAAD emit buffer",
                need: len,
                have,
            })?;
        nd::emit_header(head, self.msg_type());
        let mut fields = [0u8; 4];
        fields[..2].copy_from_slice(&self.identifier().to_be_bytes());
        fields[2..].copy_from_slice(&(flags | reserved).to_be_bytes());
        if let Some(h) = head.get_mut(4..FIXED_LEN) {
            h.copy_from_slice(&fields);
        }
        let body = match self {
            Self::HaadRequest(_) | Self::PrefixSolicit(_) => 0,
            Self::HaadReply(m) => {
                for (slot, addr) in rest.chunks_exact_mut(ADDR_LEN).zip(&m.home_agents) {
                    slot.copy_from_slice(&addr.octets());
                }
                m.home_agents.len() * ADDR_LEN
            }
            Self::PrefixAdvert(m) => emit_options(&m.options, rest)?,
        };
        Ok(FIXED_LEN + body)
    }

    /// The message with a zero checksum.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut buf = vec![0; self.buffer_len()];
        self.emit(&mut buf)?;
        Ok(buf)
    }

    /// The message with its ICMPv6 checksum filled in for `src` and `dst`
    /// (the home address where the module docs say so).
    pub fn to_bytes_with_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<Vec<u8>> {
        let mut packet = Icmpv6Packet::new_unchecked(self.to_bytes()?);
        packet.fill_checksum(src, dst);
        Ok(packet.into_inner())
    }

    /// Address checks a receiver can make without state: every one of these
    /// messages comes from a unicast address (a care-of, home or home agent
    /// address), and a Reply lists unicast home agents. Matching the
    /// identifier, the home agent list, and the IPsec, HAO and RH2
    /// requirements of RFC 6275 10.6 and 11.4 are the engines' part. `src`
    /// and `dst` are the addresses the checksum covers.
    pub fn validate(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<()> {
        let unicast = |a: &Ipv6Addr| !a.is_multicast() && !a.is_unspecified();
        if !unicast(src) {
            return Err(Error::Invalid {
                field: "DHAAD/MPD source (must be unicast)",
                value: u64::from(src.segments()[0]),
            });
        }
        // Requests go to the home agents' anycast address, the rest to one
        // node: never to a group.
        if dst.is_multicast() {
            return Err(Error::Invalid {
                field: "DHAAD/MPD destination (must not be multicast)",
                value: u64::from(dst.segments()[0]),
            });
        }
        if let Self::HaadReply(m) = self
            && let Some(bad) = m.home_agents.iter().find(|a| !unicast(a))
        {
            return Err(Error::Invalid {
                field: "DHAAD Reply home agent address (must be unicast)",
                value: u64::from(bad.segments()[0]),
            });
        }
        Ok(())
    }
}
