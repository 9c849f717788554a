//! ICMPv6 Neighbor Discovery (RFC 4861) with the Mobile IPv6 additions
//! (RFC 6275 7.1-7.4: the RA H flag, the prefix R flag, Advertisement
//! Interval and Home Agent Information options), router preference
//! (RFC 4191), the proxy flag (RFC 4389) and the nonce of enhanced DAD
//! (RFC 7527).
//!
//! etherparse drops the H and R flags, so these formats are ours.
//!
//! ```text
//! bytes --Icmpv6Packet::new_checked--> view --NdRepr::parse--> NdRepr
//!       --validate(src, dst, hop_limit)--> act on it
//! NdRepr --to_bytes_with_checksum(src, dst)--> bytes
//! ```

mod icmpv6;
mod message;
mod option;
mod validate;

#[cfg(test)]
pub(crate) mod strategies;
#[cfg(test)]
mod tests;

use std::net::Ipv6Addr;

pub(crate) use icmpv6::parse_bytes;
pub use icmpv6::{HEADER_LEN as ICMPV6_HEADER_LEN, Icmpv6Packet, NdPacket};
pub use message::{
    NdRepr, NeighborAdvert, NeighborSolicit, Redirect, RouterAdvert, RouterPreference,
    RouterSolicit, msg_type,
};
pub use option::{
    HomeAgentInfo, INFINITE_LIFETIME, LinkLayerAddress, MIN_NONCE_LEN, NdOption, NdOptions,
    PrefixInformation, emit_options, opt_type, options_len, parse_options,
};

pub(crate) use icmpv6::{emit_header, emit_room, expect_code_zero};

/// The IP hop limit every ND message is sent with and must arrive with
/// (RFC 4861 6.1, 7.1, 8.1).
pub const HOP_LIMIT: u8 = 255;

/// All-nodes link-local multicast group, ff02::1 (RFC 4291 2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// All-routers link-local multicast group, ff02::2 (RFC 4291 2.7.1).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// The solicited-node prefix ff02:0:0:0:0:1:ff00::/104 (RFC 4291 2.7.1).
const SOLICITED_NODE_PREFIX: u128 = 0xff02_0000_0000_0000_0000_0001_ff00_0000;
const LOW_24: u128 = 0x00ff_ffff;

/// The solicited-node multicast group of `addr`: ff02::1:ff00:0/104 with
/// the low 24 bits of `addr` (RFC 4291 2.7.1). NS for address resolution
/// and DAD go there.
pub fn solicited_node_multicast(addr: Ipv6Addr) -> Ipv6Addr {
    Ipv6Addr::from(SOLICITED_NODE_PREFIX | (u128::from(addr) & LOW_24))
}

/// True for any address in ff02::1:ff00:0/104.
pub fn is_solicited_node_multicast(addr: &Ipv6Addr) -> bool {
    u128::from(*addr) & !LOW_24 == SOLICITED_NODE_PREFIX
}
