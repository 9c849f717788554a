//! IPv6-in-IPv6 tunnelling (RFC 2473), the home agent's path to a mobile
//! node away from home and back (RFC 6275 10.4.2, 11.3.1).
//!
//! On Linux the data plane sends through a protocol-41 raw socket and gets
//! only inner packets back (docs/ARCHITECTURE.md, kernel fact 5): it uses `write_outer_header`
//! or `encapsulate_in_place` going out and `parse_inner` coming in.
//! `decapsulate` is for whole captured packets.

mod decap;
mod encap;
mod mtu;

#[cfg(test)]
mod tests;

pub use decap::{Decapsulated, InnerPacket, decapsulate, parse_inner};
pub use encap::{
    DEFAULT_TUNNEL_HOP_LIMIT, EncapParams, HOP_LIMIT_EXCEEDED, OUTER_HEADER_LEN, TrafficClass,
    TunnelEndpoints, decrement_inner_hop_limit, encapsulate, encapsulate_in_place,
    encapsulate_to_vec, is_hop_limit_exceeded, write_outer_header,
};
pub use mtu::{IPV6_MIN_MTU, MtuVerdict, TunnelMtu, tunnel_mtu};
