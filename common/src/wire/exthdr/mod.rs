//! IPv6 packets with extension-header chains, and the two headers Mobile
//! IPv6 adds to them: the Home Address destination option (RFC 6275 6.3)
//! and the type 2 routing header (RFC 6275 6.4).
//!
//! `parse_ipv6` walks a received packet to its upper layer and tells which
//! addresses the upper-layer checksum covers; `Ipv6Repr` builds the packets
//! a mobile node and a home agent send.

mod builder;
mod chain;
pub mod hao;
pub mod options;
pub mod rh2;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub use builder::{
    BuiltPacket, DEFAULT_HOP_LIMIT, HAO_DST_OPTS_LEN, Ipv6Repr, hao_destination_options,
};
pub use chain::{
    AUTHENTICATION, ExtHeader, ExtHeaderKind, FixedHeader, MAX_EXT_HEADERS, ParsedIpv6,
    UnrecognizedOption, is_extension_header, parse_ipv6, parse_payload,
};
pub use hao::{HomeAddressOption, HomeAddressOptionRepr};
pub use options::{TlvOption, TlvOptions, UnrecognizedAction};
pub use rh2::{Type2RoutingHeader, Type2RoutingHeaderRepr};
