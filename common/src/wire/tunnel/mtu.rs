//! Tunnel MTU arithmetic (RFC 2473 7.1, RFC 8200 5).

use super::encap::OUTER_HEADER_LEN;

/// Every IPv6 link carries packets of this size (RFC 8200 5), so no tunnel
/// may offer less to the packets it carries.
pub const IPV6_MIN_MTU: u32 = 1280;

const OVERHEAD: u32 = OUTER_HEADER_LEN as u32;

/// The MTU a tunnel offers inner packets over a given path MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TunnelMtu {
    /// Path MTU to the tunnel exit point, raised to 1280 if reported lower.
    pub path_mtu: u32,
    /// The tunnel MTU: path MTU less the outer header, never below 1280.
    pub inner_mtu: u32,
    /// True when the path cannot carry a 1280-octet inner packet in one
    /// piece, so the entry point fragments tunnel packets instead of
    /// lowering the tunnel MTU below the minimum.
    pub must_fragment_outer: bool,
}

/// What to do with an inner packet of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MtuVerdict {
    /// Encapsulate and send.
    Send,
    /// Encapsulate, then fragment the tunnel packet to the path MTU (RFC
    /// 2473 7.1 (b): inner packets up to 1280 octets must get through).
    SendFragmented,
    /// Drop it and send ICMPv6 Packet Too Big with this MTU to the inner
    /// source (RFC 2473 7.1 (a): max(tunnel MTU, 1280)).
    PacketTooBig { mtu: u32 },
}

/// The tunnel MTU over `path_mtu`. A path MTU below 1280 cannot be right
/// (RFC 8201 4 says to use 1280 then), so it counts as 1280.
pub const fn tunnel_mtu(path_mtu: u32) -> TunnelMtu {
    let path_mtu = if path_mtu < IPV6_MIN_MTU {
        IPV6_MIN_MTU
    } else {
        path_mtu
    };
    let raw = path_mtu - OVERHEAD;
    TunnelMtu {
        path_mtu,
        inner_mtu: if raw < IPV6_MIN_MTU {
            IPV6_MIN_MTU
        } else {
            raw
        },
        must_fragment_outer: raw < IPV6_MIN_MTU,
    }
}

impl TunnelMtu {
    /// The verdict for an inner packet of `inner_len` octets.
    pub const fn check(&self, inner_len: usize) -> MtuVerdict {
        // Widening: usize is at least 32 bits on every target we build.
        let path = self.path_mtu as usize;
        if inner_len + OUTER_HEADER_LEN <= path {
            MtuVerdict::Send
        } else if inner_len <= IPV6_MIN_MTU as usize {
            MtuVerdict::SendFragmented
        } else {
            MtuVerdict::PacketTooBig {
                mtu: self.inner_mtu,
            }
        }
    }
}
