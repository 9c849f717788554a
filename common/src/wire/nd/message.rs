//! The five ND messages (RFC 4861 4.1-4.5) as plain structs, and `NdRepr`
//! that parses and emits them.
//!
//! Parsing checks what the bytes alone can tell: an ND type, code 0, the
//! fixed part's length, well-framed options. Rules that need the IP header
//! (hop limit, addresses) live in [`NdRepr::validate`].

use std::net::Ipv6Addr;

use super::icmpv6::{self, HEADER_LEN, Icmpv6Packet};
use super::option::{NdOption, emit_options, options_len, parse_options};
use crate::wire::be::{addr_at, be16, be32};
use crate::wire::{Error, Result, flag_word};

/// ICMPv6 types of the ND messages (RFC 4861 4).
pub mod msg_type {
    pub const ROUTER_SOLICIT: u8 = 133;
    pub const ROUTER_ADVERT: u8 = 134;
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    pub const NEIGHBOR_ADVERT: u8 = 136;
    pub const REDIRECT: u8 = 137;
}

/// Lengths of each message before its options, ICMPv6 header included:
/// these are the minimum ICMP lengths of RFC 4861 6.1.1, 6.1.2, 7.1.1,
/// 7.1.2 and 8.1.
mod fixed_len {
    pub const ROUTER_SOLICIT: usize = 8;
    pub const ROUTER_ADVERT: usize = 16;
    pub const NEIGHBOR_SOLICIT: usize = 24;
    pub const NEIGHBOR_ADVERT: usize = 24;
    pub const REDIRECT: usize = 40;
}

mod ra_flag {
    pub const MANAGED: u8 = 0x80;
    pub const OTHER: u8 = 0x40;
    /// RFC 6275 7.1.
    pub const HOME_AGENT: u8 = 0x20;
    /// RFC 4191 2.2: two bits.
    pub const PRF_MASK: u8 = 0x18;
    pub const PRF_SHIFT: u32 = 3;
    /// RFC 4389 4.1.3.3.
    pub const PROXY: u8 = 0x04;
    pub const RESERVED: u8 = 0x03;
}

mod na_flag {
    pub const ROUTER: u32 = 0x8000_0000;
    pub const SOLICITED: u32 = 0x4000_0000;
    pub const OVERRIDE: u32 = 0x2000_0000;
    pub const RESERVED: u32 = 0x1fff_ffff;
}

/// Default Router Preference (RFC 4191 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RouterPreference {
    /// 01
    High,
    /// 00
    #[default]
    Medium,
    /// 11
    Low,
    /// 10: must not be sent; a receiver treats it as Medium.
    Reserved,
}

impl RouterPreference {
    pub fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0b01 => Self::High,
            0b11 => Self::Low,
            0b10 => Self::Reserved,
            _ => Self::Medium,
        }
    }

    pub fn bits(self) -> u8 {
        match self {
            Self::High => 0b01,
            Self::Medium => 0b00,
            Self::Low => 0b11,
            Self::Reserved => 0b10,
        }
    }

    /// The preference a receiver acts on: RFC 4191 2.2 reads the reserved
    /// value as Medium.
    pub fn effective(self) -> Self {
        match self {
            Self::Reserved => Self::Medium,
            p => p,
        }
    }
}

/// Router Solicitation (RFC 4861 4.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RouterSolicit {
    pub reserved: u32,
    pub options: Vec<NdOption>,
}

/// Router Advertisement (RFC 4861 4.2; H from RFC 6275 7.1, Prf from
/// RFC 4191 2.2, P from RFC 4389 4.1.3.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RouterAdvert {
    /// 0 means unspecified by this router.
    pub cur_hop_limit: u8,
    /// M: addresses via DHCPv6.
    pub managed: bool,
    /// O: other configuration via DHCPv6.
    pub other: bool,
    /// H: the router is a home agent on this link.
    pub home_agent: bool,
    pub preference: RouterPreference,
    /// P: the router is an ND proxy.
    pub proxy: bool,
    /// The two low flag bits, kept verbatim (0..=3).
    pub reserved: u8,
    /// Seconds as default router; 0 means not a default router.
    pub router_lifetime: u16,
    /// Milliseconds; 0 means unspecified.
    pub reachable_time: u32,
    /// Milliseconds; 0 means unspecified.
    pub retrans_timer: u32,
    pub options: Vec<NdOption>,
}

impl RouterAdvert {
    /// The Home Agent Information option, honoured only when H is set
    /// (RFC 6275 7.4 has receivers ignore it otherwise).
    pub fn home_agent_info(&self) -> Option<super::HomeAgentInfo> {
        use super::NdOptions;
        if self.home_agent {
            self.options.home_agent_info().copied()
        } else {
            None
        }
    }

    /// Preference and lifetime of this home agent, with RFC 6275 7.4's
    /// defaults (preference 0, lifetime = Router Lifetime) when the option
    /// is absent; `None` when H is clear.
    pub fn home_agent_params(&self) -> Option<(i16, u16)> {
        if !self.home_agent {
            return None;
        }
        Some(match self.home_agent_info() {
            Some(h) => (h.preference, h.lifetime),
            None => (0, self.router_lifetime),
        })
    }

    fn flags(&self) -> u8 {
        flag_word(
            self.reserved | (self.preference.bits() << ra_flag::PRF_SHIFT),
            &[
                (self.managed, ra_flag::MANAGED),
                (self.other, ra_flag::OTHER),
                (self.home_agent, ra_flag::HOME_AGENT),
                (self.proxy, ra_flag::PROXY),
            ],
        )
    }
}

/// Neighbor Solicitation (RFC 4861 4.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NeighborSolicit {
    pub reserved: u32,
    /// The address being resolved or checked; never multicast.
    pub target: Ipv6Addr,
    pub options: Vec<NdOption>,
}

impl NeighborSolicit {
    pub fn new(target: Ipv6Addr, options: Vec<NdOption>) -> Self {
        Self {
            reserved: 0,
            target,
            options,
        }
    }

    /// A DAD probe (RFC 4862 5.4.2): sent from :: to the target's
    /// solicited-node group, no source link-layer address, optionally with
    /// the RFC 7527 nonce.
    pub fn dad(target: Ipv6Addr, nonce: Option<[u8; 6]>) -> Self {
        Self::new(target, nonce.map(NdOption::nonce).into_iter().collect())
    }
}

/// Neighbor Advertisement (RFC 4861 4.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NeighborAdvert {
    /// R: the sender is a router.
    pub router: bool,
    /// S: an answer to a solicitation (never to a multicast destination).
    pub solicited: bool,
    /// O: replace a cached link-layer address.
    pub override_flag: bool,
    /// The 29 bits after R, S and O, kept verbatim.
    pub reserved: u32,
    pub target: Ipv6Addr,
    pub options: Vec<NdOption>,
}

impl NeighborAdvert {
    pub fn new(
        target: Ipv6Addr,
        router: bool,
        solicited: bool,
        override_flag: bool,
        options: Vec<NdOption>,
    ) -> Self {
        Self {
            router,
            solicited,
            override_flag,
            reserved: 0,
            target,
            options,
        }
    }
}

/// Redirect (RFC 4861 4.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Redirect {
    pub reserved: u32,
    /// Better first hop: a router's link-local address, or `destination`
    /// itself when the destination is on-link.
    pub target: Ipv6Addr,
    pub destination: Ipv6Addr,
    pub options: Vec<NdOption>,
}

/// Any Neighbor Discovery message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NdRepr {
    RouterSolicit(RouterSolicit),
    RouterAdvert(RouterAdvert),
    NeighborSolicit(NeighborSolicit),
    NeighborAdvert(NeighborAdvert),
    Redirect(Redirect),
}

crate::wire::from_variants!(NdRepr {
    RouterSolicit(RouterSolicit),
    RouterAdvert(RouterAdvert),
    NeighborSolicit(NeighborSolicit),
    NeighborAdvert(NeighborAdvert),
    Redirect(Redirect),
});

const CONTAINER: &str = "ND message";

impl NdRepr {
    /// Parses an ND message. The checksum is not looked at: it needs the
    /// IP addresses (see [`NdRepr::parse_verified`] and
    /// [`Icmpv6Packet::check_checksum`]), and a raw ICMPv6 socket has
    /// already verified it.
    pub fn parse<T: AsRef<[u8]>>(packet: &Icmpv6Packet<T>) -> Result<Self> {
        let bytes = packet.as_bytes();
        crate::wire::error::need(bytes, HEADER_LEN, "ICMPv6 header")?;
        let ty = packet.msg_type();
        let (fixed, what) = match ty {
            msg_type::ROUTER_SOLICIT => (fixed_len::ROUTER_SOLICIT, "Router Solicitation"),
            msg_type::ROUTER_ADVERT => (fixed_len::ROUTER_ADVERT, "Router Advertisement"),
            msg_type::NEIGHBOR_SOLICIT => (fixed_len::NEIGHBOR_SOLICIT, "Neighbor Solicitation"),
            msg_type::NEIGHBOR_ADVERT => (fixed_len::NEIGHBOR_ADVERT, "Neighbor Advertisement"),
            msg_type::REDIRECT => (fixed_len::REDIRECT, "Redirect"),
            other => {
                return Err(Error::Unsupported {
                    what: "ICMPv6 type for ND",
                    value: u64::from(other),
                });
            }
        };
        icmpv6::expect_code_zero(packet)?;
        crate::wire::error::need(bytes, fixed, what)?;
        let options = parse_options(bytes.get(fixed..).unwrap_or(&[]), CONTAINER)?;
        Ok(match ty {
            msg_type::ROUTER_SOLICIT => Self::RouterSolicit(RouterSolicit {
                reserved: be32(bytes, 4),
                options,
            }),
            msg_type::ROUTER_ADVERT => {
                let flags = bytes.get(5).copied().unwrap_or(0);
                Self::RouterAdvert(RouterAdvert {
                    cur_hop_limit: bytes.get(4).copied().unwrap_or(0),
                    managed: flags & ra_flag::MANAGED != 0,
                    other: flags & ra_flag::OTHER != 0,
                    home_agent: flags & ra_flag::HOME_AGENT != 0,
                    preference: RouterPreference::from_bits(
                        (flags & ra_flag::PRF_MASK) >> ra_flag::PRF_SHIFT,
                    ),
                    proxy: flags & ra_flag::PROXY != 0,
                    reserved: flags & ra_flag::RESERVED,
                    router_lifetime: be16(bytes, 6),
                    reachable_time: be32(bytes, 8),
                    retrans_timer: be32(bytes, 12),
                    options,
                })
            }
            msg_type::NEIGHBOR_SOLICIT => Self::NeighborSolicit(NeighborSolicit {
                reserved: be32(bytes, 4),
                target: addr_at(bytes, 8),
                options,
            }),
            msg_type::NEIGHBOR_ADVERT => {
                let word = be32(bytes, 4);
                Self::NeighborAdvert(NeighborAdvert {
                    router: word & na_flag::ROUTER != 0,
                    solicited: word & na_flag::SOLICITED != 0,
                    override_flag: word & na_flag::OVERRIDE != 0,
                    reserved: word & na_flag::RESERVED,
                    target: addr_at(bytes, 8),
                    options,
                })
            }
            _ => Self::Redirect(Redirect {
                reserved: be32(bytes, 4),
                target: addr_at(bytes, 8),
                destination: addr_at(bytes, 24),
                options,
            }),
        })
    }

    /// Parses an ND message held in `bytes` (ICMPv6 header first).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        icmpv6::parse_bytes(bytes, None, Self::parse)
    }

    /// Checks the checksum for `src` and `dst`, then parses.
    pub fn parse_verified(bytes: &[u8], src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<Self> {
        icmpv6::parse_bytes(bytes, Some((src, dst)), Self::parse)
    }

    /// The ICMPv6 type this message is sent with.
    pub fn msg_type(&self) -> u8 {
        match self {
            Self::RouterSolicit(_) => msg_type::ROUTER_SOLICIT,
            Self::RouterAdvert(_) => msg_type::ROUTER_ADVERT,
            Self::NeighborSolicit(_) => msg_type::NEIGHBOR_SOLICIT,
            Self::NeighborAdvert(_) => msg_type::NEIGHBOR_ADVERT,
            Self::Redirect(_) => msg_type::REDIRECT,
        }
    }

    pub fn options(&self) -> &[NdOption] {
        match self {
            Self::RouterSolicit(m) => &m.options,
            Self::RouterAdvert(m) => &m.options,
            Self::NeighborSolicit(m) => &m.options,
            Self::NeighborAdvert(m) => &m.options,
            Self::Redirect(m) => &m.options,
        }
    }

    fn fixed_len(&self) -> usize {
        match self {
            Self::RouterSolicit(_) => fixed_len::ROUTER_SOLICIT,
            Self::RouterAdvert(_) => fixed_len::ROUTER_ADVERT,
            Self::NeighborSolicit(_) => fixed_len::NEIGHBOR_SOLICIT,
            Self::NeighborAdvert(_) => fixed_len::NEIGHBOR_ADVERT,
            Self::Redirect(_) => fixed_len::REDIRECT,
        }
    }

    /// Bytes the whole ICMPv6 message takes.
    pub fn buffer_len(&self) -> usize {
        self.fixed_len() + options_len(self.options())
    }

    /// Writes the message at the start of `buf` with a zero checksum
    /// (a raw ICMPv6 socket fills it in; otherwise see
    /// [`NdRepr::to_bytes_with_checksum`]). Returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        icmpv6::emit_room(buf, len, "ND emit buffer")?;
        self.check_encodable()?;
        let fixed = self.fixed_len();
        let have = buf.len();
        let (head, rest) = buf.split_at_mut_checked(fixed).ok_or(Error::Truncated {
            what: "ND emit buffer",
            need: len,
            have,
        })?;
        head.fill(0);
        icmpv6::emit_header(head, self.msg_type());
        let mut put = |at: usize, b: &[u8]| {
            if let Some(d) = head.get_mut(at..at + b.len()) {
                d.copy_from_slice(b);
            }
        };
        match self {
            Self::RouterSolicit(m) => put(4, &m.reserved.to_be_bytes()),
            Self::RouterAdvert(m) => {
                put(4, &[m.cur_hop_limit, m.flags()]);
                put(6, &m.router_lifetime.to_be_bytes());
                put(8, &m.reachable_time.to_be_bytes());
                put(12, &m.retrans_timer.to_be_bytes());
            }
            Self::NeighborSolicit(m) => {
                put(4, &m.reserved.to_be_bytes());
                put(8, &m.target.octets());
            }
            Self::NeighborAdvert(m) => {
                let word = flag_word(
                    m.reserved,
                    &[
                        (m.router, na_flag::ROUTER),
                        (m.solicited, na_flag::SOLICITED),
                        (m.override_flag, na_flag::OVERRIDE),
                    ],
                );
                put(4, &word.to_be_bytes());
                put(8, &m.target.octets());
            }
            Self::Redirect(m) => {
                put(4, &m.reserved.to_be_bytes());
                put(8, &m.target.octets());
                put(24, &m.destination.octets());
            }
        }
        Ok(fixed + emit_options(self.options(), rest)?)
    }

    fn check_encodable(&self) -> Result<()> {
        let bad = |what: &'static str, detail: String| Err(Error::Unencodable { what, detail });
        match self {
            Self::RouterAdvert(m) if m.reserved & !ra_flag::RESERVED != 0 => bad(
                "Router Advertisement",
                format!("reserved {:#x} does not fit in 2 bits", m.reserved),
            ),
            Self::NeighborAdvert(m) if m.reserved & !na_flag::RESERVED != 0 => bad(
                "Neighbor Advertisement",
                format!("reserved {:#x} does not fit in 29 bits", m.reserved),
            ),
            _ => Ok(()),
        }
    }

    /// The message with a zero checksum.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut buf = vec![0; self.buffer_len()];
        self.emit(&mut buf)?;
        Ok(buf)
    }

    /// The message with its ICMPv6 checksum computed over the RFC 4443 2.3
    /// pseudo-header for `src` and `dst`.
    pub fn to_bytes_with_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<Vec<u8>> {
        let mut packet = Icmpv6Packet::new_unchecked(self.to_bytes()?);
        packet.fill_checksum(src, dst);
        Ok(packet.into_inner())
    }
}
