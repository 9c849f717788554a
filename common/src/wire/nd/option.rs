//! Neighbor Discovery options (RFC 4861 4.6), with the Mobile IPv6
//! additions (RFC 6275 7.2-7.4) and the Nonce option (RFC 3971 5.3.2, used
//! for enhanced DAD by RFC 7527).
//!
//! Every option is `Type | Length | data`, Length counting 8-octet units
//! including the two header bytes. Options that this module does not know,
//! and known options of a length their RFC does not allow, are kept as
//! [`NdOption::Unknown`] with their raw bytes: RFC 4861 has receivers ignore
//! options they do not recognise, and keeping the bytes lets a message be
//! re-emitted unchanged.

use std::net::Ipv6Addr;

use crate::wire::error::room;
use crate::wire::{Error, Result, flag_word};

/// ND option type numbers (IANA "IPv6 Neighbor Discovery Option Formats").
pub mod opt_type {
    /// RFC 4861 4.6.1
    pub const SOURCE_LLA: u8 = 1;
    /// RFC 4861 4.6.1
    pub const TARGET_LLA: u8 = 2;
    /// RFC 4861 4.6.2, R flag from RFC 6275 7.2
    pub const PREFIX_INFO: u8 = 3;
    /// RFC 4861 4.6.3
    pub const REDIRECTED_HEADER: u8 = 4;
    /// RFC 4861 4.6.4
    pub const MTU: u8 = 5;
    /// RFC 6275 7.3
    pub const ADV_INTERVAL: u8 = 7;
    /// RFC 6275 7.4
    pub const HOME_AGENT_INFO: u8 = 8;
    /// RFC 3971 5.3.2, RFC 7527
    pub const NONCE: u8 = 14;
}

/// A Prefix Information lifetime meaning "forever" (RFC 4861 4.6.2).
pub const INFINITE_LIFETIME: u32 = 0xffff_ffff;

/// Shortest nonce RFC 3971 5.3.2 allows.
pub const MIN_NONCE_LEN: usize = 6;

/// The option header: type and length.
const OPT_HEADER_LEN: usize = 2;
/// Option lengths count units of this many octets.
const UNIT: usize = 8;
/// Largest encodable option: Length is one octet.
const MAX_OPT_LEN: usize = 255 * UNIT;

/// Byte length of a Prefix Information option (Length 4).
const PREFIX_INFO_LEN: usize = 32;
/// Byte length of the MTU, Advertisement Interval and Home Agent
/// Information options (Length 1).
const SHORT_OPT_LEN: usize = 8;

mod pi_flag {
    pub const ON_LINK: u8 = 0x80;
    pub const AUTONOMOUS: u8 = 0x40;
    /// RFC 6275 7.2 takes the first of RFC 4861's six reserved bits.
    pub const ROUTER_ADDRESS: u8 = 0x20;
    pub const RESERVED1: u8 = 0x1f;
}

/// The link-layer address carried by a Source or Target Link-Layer Address
/// option: the option's data bytes exactly as sent, padding included, so
/// link layers other than Ethernet round-trip unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkLayerAddress(Vec<u8>);

impl LinkLayerAddress {
    /// An Ethernet (IEEE 802) address; its option has Length 1 (RFC 2464 8).
    pub fn from_mac(mac: [u8; 6]) -> Self {
        Self(mac.to_vec())
    }

    /// Raw option data. For emit to succeed, `2 + bytes.len()` must be a
    /// multiple of 8: the caller pads as its link layer's RFC says.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// The Ethernet address, when the option holds exactly six bytes.
    pub fn mac(&self) -> Option<[u8; 6]> {
        <[u8; 6]>::try_from(self.0.as_slice()).ok()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Prefix Information option (RFC 4861 4.6.2, RFC 6275 7.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrefixInformation {
    /// Leading bits of `prefix` that are valid, 0..=128 when well formed;
    /// other values are kept for round trips and left to the consumer.
    pub prefix_len: u8,
    /// L: usable for on-link determination.
    pub on_link: bool,
    /// A: usable for stateless address autoconfiguration.
    pub autonomous: bool,
    /// R (RFC 6275 7.2): `prefix` holds the sending router's full address.
    pub router_address: bool,
    /// The five bits after L, A and R, kept verbatim (0..=0x1f).
    pub reserved1: u8,
    /// Seconds; [`INFINITE_LIFETIME`] is forever.
    pub valid_lifetime: u32,
    /// Seconds; [`INFINITE_LIFETIME`] is forever.
    pub preferred_lifetime: u32,
    pub reserved2: u32,
    /// The prefix, or with `router_address` the router's whole address.
    pub prefix: Ipv6Addr,
}

impl PrefixInformation {
    /// An on-link, autonomous prefix as SLAAC wants it.
    pub fn new(
        prefix: Ipv6Addr,
        prefix_len: u8,
        valid_lifetime: u32,
        preferred_lifetime: u32,
    ) -> Self {
        Self {
            prefix_len,
            on_link: true,
            autonomous: true,
            router_address: false,
            reserved1: 0,
            valid_lifetime,
            preferred_lifetime,
            reserved2: 0,
            prefix,
        }
    }

    /// The prefix with the bits past `prefix_len` cleared: RFC 4861 4.6.2
    /// has receivers ignore them, and with R set they hold the router's
    /// interface identifier. A `prefix_len` over 128 counts as 128.
    pub fn network(&self) -> Ipv6Addr {
        let len = u32::from(self.prefix_len.min(128));
        let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
        Ipv6Addr::from(u128::from(self.prefix) & mask)
    }

    /// The router's full address when R is set (RFC 6275 7.2); a home agent
    /// learns its peers' global addresses this way (RFC 6275 10.5.1).
    pub fn router_addr(&self) -> Option<Ipv6Addr> {
        self.router_address.then_some(self.prefix)
    }

    fn flags(&self) -> u8 {
        flag_word(
            self.reserved1,
            &[
                (self.on_link, pi_flag::ON_LINK),
                (self.autonomous, pi_flag::AUTONOMOUS),
                (self.router_address, pi_flag::ROUTER_ADDRESS),
            ],
        )
    }
}

/// Home Agent Information option (RFC 6275 7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HomeAgentInfo {
    pub reserved: u16,
    /// Higher is preferred; signed on the wire.
    pub preference: i16,
    /// Seconds. RFC 6275 7.4 forbids 0 on send; receivers decide.
    pub lifetime: u16,
}

impl HomeAgentInfo {
    pub fn new(preference: i16, lifetime: u16) -> Self {
        Self {
            reserved: 0,
            preference,
            lifetime,
        }
    }
}

/// One Neighbor Discovery option.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NdOption {
    /// Type 1.
    SourceLinkLayerAddr(LinkLayerAddress),
    /// Type 2.
    TargetLinkLayerAddr(LinkLayerAddress),
    /// Type 3, Length 4.
    PrefixInformation(PrefixInformation),
    /// Type 4: the option data as sent (6 reserved bytes, then as much of
    /// the redirected packet as fitted).
    RedirectedHeader(Vec<u8>),
    /// Type 5, Length 1.
    Mtu { reserved: u16, mtu: u32 },
    /// Type 7, Length 1 (RFC 6275 7.3): the router's maximum interval
    /// between unsolicited multicast RAs, in milliseconds.
    AdvertisementInterval { reserved: u16, interval_ms: u32 },
    /// Type 8, Length 1.
    HomeAgentInformation(HomeAgentInfo),
    /// Type 14: the nonce bytes (the whole option data, at least 6).
    Nonce(Vec<u8>),
    /// Anything else, or a known type at a length its RFC does not allow:
    /// the type and the data after the two header bytes.
    Unknown { opt_type: u8, data: Vec<u8> },
}

impl NdOption {
    /// An Ethernet Source Link-Layer Address option.
    pub fn source_mac(mac: [u8; 6]) -> Self {
        Self::SourceLinkLayerAddr(LinkLayerAddress::from_mac(mac))
    }

    /// An Ethernet Target Link-Layer Address option.
    pub fn target_mac(mac: [u8; 6]) -> Self {
        Self::TargetLinkLayerAddr(LinkLayerAddress::from_mac(mac))
    }

    pub fn mtu(mtu: u32) -> Self {
        Self::Mtu { reserved: 0, mtu }
    }

    pub fn adv_interval(interval_ms: u32) -> Self {
        Self::AdvertisementInterval {
            reserved: 0,
            interval_ms,
        }
    }

    /// The 6-byte nonce RFC 7527 4.1 sends in DAD probes.
    pub fn nonce(nonce: [u8; 6]) -> Self {
        Self::Nonce(nonce.to_vec())
    }

    /// The option's Type field.
    pub fn opt_type(&self) -> u8 {
        match self {
            Self::SourceLinkLayerAddr(_) => opt_type::SOURCE_LLA,
            Self::TargetLinkLayerAddr(_) => opt_type::TARGET_LLA,
            Self::PrefixInformation(_) => opt_type::PREFIX_INFO,
            Self::RedirectedHeader(_) => opt_type::REDIRECTED_HEADER,
            Self::Mtu { .. } => opt_type::MTU,
            Self::AdvertisementInterval { .. } => opt_type::ADV_INTERVAL,
            Self::HomeAgentInformation(_) => opt_type::HOME_AGENT_INFO,
            Self::Nonce(_) => opt_type::NONCE,
            Self::Unknown { opt_type, .. } => *opt_type,
        }
    }

    /// Parses the option at the start of `bytes` (which may hold more
    /// options after it) and returns it with its length in bytes.
    /// `container` names the message for [`Error::OptionOverrun`].
    pub fn parse(bytes: &[u8], container: &'static str) -> Result<(Self, usize)> {
        let (&[ty, units], _) =
            bytes
                .split_first_chunk::<OPT_HEADER_LEN>()
                .ok_or(Error::Truncated {
                    what: "ND option header",
                    need: OPT_HEADER_LEN,
                    have: bytes.len(),
                })?;
        if units == 0 {
            // RFC 4861 4.6: a zero length would loop forever; the whole
            // packet MUST be discarded.
            return Err(Error::BadLength {
                what: "ND option",
                detail: format!("option type {ty} has length 0"),
            });
        }
        let len = usize::from(units) * UNIT;
        let whole = bytes.get(..len).ok_or(Error::OptionOverrun {
            opt_type: ty,
            container,
        })?;
        let data = whole.get(OPT_HEADER_LEN..).unwrap_or(&[]);
        Ok((Self::from_data(ty, data), len))
    }

    /// Decodes option data whose length already fits the option framing.
    fn from_data(ty: u8, data: &[u8]) -> Self {
        let unknown = || Self::Unknown {
            opt_type: ty,
            data: data.to_vec(),
        };
        let total = data.len() + OPT_HEADER_LEN;
        match ty {
            opt_type::SOURCE_LLA => Self::SourceLinkLayerAddr(LinkLayerAddress::from_bytes(data)),
            opt_type::TARGET_LLA => Self::TargetLinkLayerAddr(LinkLayerAddress::from_bytes(data)),
            opt_type::REDIRECTED_HEADER => Self::RedirectedHeader(data.to_vec()),
            // Any Length gives at least 6 bytes, the RFC 3971 minimum.
            opt_type::NONCE => Self::Nonce(data.to_vec()),
            opt_type::PREFIX_INFO if total == PREFIX_INFO_LEN => {
                parse_prefix_info(data).map_or_else(unknown, Self::PrefixInformation)
            }
            opt_type::MTU if total == SHORT_OPT_LEN => match short_fields(data) {
                Some((reserved, mtu)) => Self::Mtu { reserved, mtu },
                None => unknown(),
            },
            opt_type::ADV_INTERVAL if total == SHORT_OPT_LEN => match short_fields(data) {
                Some((reserved, interval_ms)) => Self::AdvertisementInterval {
                    reserved,
                    interval_ms,
                },
                None => unknown(),
            },
            opt_type::HOME_AGENT_INFO if total == SHORT_OPT_LEN => match short_fields(data) {
                Some((reserved, rest)) => Self::HomeAgentInformation(HomeAgentInfo {
                    reserved,
                    // The two halves of the second word: preference is
                    // signed (RFC 6275 7.4), the casts only reinterpret.
                    preference: (rest >> 16) as u16 as i16,
                    lifetime: rest as u16,
                }),
                None => unknown(),
            },
            _ => unknown(),
        }
    }

    /// Bytes this option takes on the wire.
    pub fn buffer_len(&self) -> usize {
        OPT_HEADER_LEN
            + match self {
                Self::SourceLinkLayerAddr(a) | Self::TargetLinkLayerAddr(a) => a.0.len(),
                Self::PrefixInformation(_) => PREFIX_INFO_LEN - OPT_HEADER_LEN,
                Self::Mtu { .. }
                | Self::AdvertisementInterval { .. }
                | Self::HomeAgentInformation(_) => SHORT_OPT_LEN - OPT_HEADER_LEN,
                Self::RedirectedHeader(d) | Self::Nonce(d) | Self::Unknown { data: d, .. } => {
                    d.len()
                }
            }
    }

    /// Writes the option at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        if !len.is_multiple_of(UNIT) || len > MAX_OPT_LEN {
            return Err(Error::Unencodable {
                what: "ND option",
                detail: format!(
                    "type {} would be {len} bytes; options are 8..={MAX_OPT_LEN} in steps of 8",
                    self.opt_type()
                ),
            });
        }
        match self {
            Self::Nonce(n) if n.len() < MIN_NONCE_LEN => {
                return Err(Error::Unencodable {
                    what: "ND nonce option",
                    detail: format!("{} bytes of nonce, RFC 3971 needs {MIN_NONCE_LEN}", n.len()),
                });
            }
            Self::PrefixInformation(p) if p.reserved1 & !pi_flag::RESERVED1 != 0 => {
                return Err(Error::Unencodable {
                    what: "Prefix Information option",
                    detail: format!("reserved1 {:#x} does not fit in 5 bits", p.reserved1),
                });
            }
            _ => {}
        }
        let out = room(buf, len, "ND option emit buffer")?;
        let (head, data) = out.split_at_mut(OPT_HEADER_LEN);
        // len <= MAX_OPT_LEN was checked above, so the unit count fits.
        head.copy_from_slice(&[self.opt_type(), (len / UNIT) as u8]);
        match self {
            Self::SourceLinkLayerAddr(a) | Self::TargetLinkLayerAddr(a) => {
                data.copy_from_slice(&a.0)
            }
            Self::RedirectedHeader(d) | Self::Nonce(d) | Self::Unknown { data: d, .. } => {
                data.copy_from_slice(d);
            }
            Self::PrefixInformation(p) => {
                let mut v = [0u8; PREFIX_INFO_LEN - OPT_HEADER_LEN];
                v[0] = p.prefix_len;
                v[1] = p.flags();
                v[2..6].copy_from_slice(&p.valid_lifetime.to_be_bytes());
                v[6..10].copy_from_slice(&p.preferred_lifetime.to_be_bytes());
                v[10..14].copy_from_slice(&p.reserved2.to_be_bytes());
                v[14..30].copy_from_slice(&p.prefix.octets());
                data.copy_from_slice(&v);
            }
            Self::Mtu { reserved, mtu } => emit_short(data, *reserved, *mtu),
            Self::AdvertisementInterval {
                reserved,
                interval_ms,
            } => emit_short(data, *reserved, *interval_ms),
            Self::HomeAgentInformation(h) => {
                let word = (u32::from(h.preference as u16) << 16) | u32::from(h.lifetime);
                emit_short(data, h.reserved, word);
            }
        }
        Ok(len)
    }
}

/// Reserved u16 and the u32 after it, the layout of every Length-1 option.
fn short_fields(data: &[u8]) -> Option<(u16, u32)> {
    let r: [u8; 2] = data.get(0..2)?.try_into().ok()?;
    let v: [u8; 4] = data.get(2..6)?.try_into().ok()?;
    Some((u16::from_be_bytes(r), u32::from_be_bytes(v)))
}

fn emit_short(data: &mut [u8], reserved: u16, value: u32) {
    if let Some(d) = data.get_mut(0..2) {
        d.copy_from_slice(&reserved.to_be_bytes());
    }
    if let Some(d) = data.get_mut(2..6) {
        d.copy_from_slice(&value.to_be_bytes());
    }
}

fn parse_prefix_info(data: &[u8]) -> Option<PrefixInformation> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    let flags = *data.get(1)?;
    let prefix: [u8; 16] = data.get(14..30)?.try_into().ok()?;
    Some(PrefixInformation {
        prefix_len: *data.first()?,
        on_link: flags & pi_flag::ON_LINK != 0,
        autonomous: flags & pi_flag::AUTONOMOUS != 0,
        router_address: flags & pi_flag::ROUTER_ADDRESS != 0,
        reserved1: flags & pi_flag::RESERVED1,
        valid_lifetime: word(2)?,
        preferred_lifetime: word(6)?,
        reserved2: word(10)?,
        prefix: Ipv6Addr::from(prefix),
    })
}

/// Parses a whole options area (the rest of an ND message after its fixed
/// part). Fails on a zero-length option, an option running past the end,
/// or a stray byte too short to be an option header.
pub fn parse_options(mut bytes: &[u8], container: &'static str) -> Result<Vec<NdOption>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (opt, len) = NdOption::parse(bytes, container)?;
        out.push(opt);
        bytes = bytes.get(len..).unwrap_or(&[]);
    }
    Ok(out)
}

/// Bytes `options` take on the wire.
pub fn options_len(options: &[NdOption]) -> usize {
    options.iter().map(NdOption::buffer_len).sum()
}

/// Writes `options` back to back at the start of `buf`.
pub fn emit_options(options: &[NdOption], buf: &mut [u8]) -> Result<usize> {
    let mut at = 0;
    for opt in options {
        let rest = buf.get_mut(at..).unwrap_or(&mut []);
        at += opt.emit(rest)?;
    }
    Ok(at)
}

/// Look-ups the engines need on a message's option list. When an option
/// that should appear once appears more often, the first one wins.
pub trait NdOptions {
    fn source_lla(&self) -> Option<&LinkLayerAddress>;
    fn target_lla(&self) -> Option<&LinkLayerAddress>;
    /// Every Prefix Information option, in order.
    fn prefix_infos(&self) -> impl Iterator<Item = &PrefixInformation>;
    fn mtu(&self) -> Option<u32>;
    /// Advertisement Interval, milliseconds.
    fn adv_interval_ms(&self) -> Option<u32>;
    fn home_agent_info(&self) -> Option<&HomeAgentInfo>;
    fn nonce(&self) -> Option<&[u8]>;
}

impl NdOptions for [NdOption] {
    fn source_lla(&self) -> Option<&LinkLayerAddress> {
        self.iter().find_map(|o| match o {
            NdOption::SourceLinkLayerAddr(a) => Some(a),
            _ => None,
        })
    }

    fn target_lla(&self) -> Option<&LinkLayerAddress> {
        self.iter().find_map(|o| match o {
            NdOption::TargetLinkLayerAddr(a) => Some(a),
            _ => None,
        })
    }

    fn prefix_infos(&self) -> impl Iterator<Item = &PrefixInformation> {
        self.iter().filter_map(|o| match o {
            NdOption::PrefixInformation(p) => Some(p),
            _ => None,
        })
    }

    fn mtu(&self) -> Option<u32> {
        self.iter().find_map(|o| match o {
            NdOption::Mtu { mtu, .. } => Some(*mtu),
            _ => None,
        })
    }

    fn adv_interval_ms(&self) -> Option<u32> {
        self.iter().find_map(|o| match o {
            NdOption::AdvertisementInterval { interval_ms, .. } => Some(*interval_ms),
            _ => None,
        })
    }

    fn home_agent_info(&self) -> Option<&HomeAgentInfo> {
        self.iter().find_map(|o| match o {
            NdOption::HomeAgentInformation(h) => Some(h),
            _ => None,
        })
    }

    fn nonce(&self) -> Option<&[u8]> {
        self.iter().find_map(|o| match o {
            NdOption::Nonce(n) => Some(n.as_slice()),
            _ => None,
        })
    }
}
