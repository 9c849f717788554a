//! The receiver validity checks of RFC 4861 6.1.1, 6.1.2, 7.1.1, 7.1.2 and
//! 8.1 that need the IP header. Parsing has already done the byte-level
//! ones (code 0, minimum length, option lengths); the checksum is the
//! caller's or the kernel's (see `Icmpv6Packet::check_checksum`).
//! Checks that need state (for a Redirect, "the source is my current
//! first-hop router") stay with the engines.

use std::net::Ipv6Addr;

use super::NdOptions;
use super::message::NdRepr;
use super::{HOP_LIMIT, is_solicited_node_multicast};
use crate::wire::{Error, Result};

/// `Error::Invalid` about an address; the value is its first 16 bits,
/// enough to tell link-local (0xfe80) or multicast (0xffxx) apart.
fn bad_addr(field: &'static str, addr: &Ipv6Addr) -> Error {
    Error::Invalid {
        field,
        value: u64::from(addr.segments()[0]),
    }
}

impl NdRepr {
    /// Applies the validity checks a receiver MUST make before acting on
    /// the message, given the IPv6 source, destination and hop limit it
    /// arrived with. A failure means "silently discard".
    pub fn validate(&self, src: &Ipv6Addr, dst: &Ipv6Addr, hop_limit: u8) -> Result<()> {
        // Every ND message: a hop limit of 255 proves the sender is on-link
        // (no router forwarded it).
        if hop_limit != HOP_LIMIT {
            return Err(Error::Invalid {
                field: "ND hop limit (must be 255)",
                value: u64::from(hop_limit),
            });
        }
        match self {
            // 6.1.1: a node without an address must not claim a link-layer
            // address, or it would poison neighbour caches.
            Self::RouterSolicit(m) => {
                if src.is_unspecified() && m.options.source_lla().is_some() {
                    return Err(Error::Invalid {
                        field: "RS from :: with a source link-layer address option",
                        value: u64::from(super::opt_type::SOURCE_LLA),
                    });
                }
            }
            // 6.1.2: routers are identified by their link-local address.
            Self::RouterAdvert(_) => {
                if !src.is_unicast_link_local() {
                    return Err(bad_addr("RA source (must be link-local)", src));
                }
            }
            // 7.1.1
            Self::NeighborSolicit(m) => {
                if m.target.is_multicast() {
                    return Err(bad_addr("NS target (must not be multicast)", &m.target));
                }
                if src.is_unspecified() {
                    if !is_solicited_node_multicast(dst) {
                        return Err(bad_addr(
                            "NS from :: (destination must be solicited-node multicast)",
                            dst,
                        ));
                    }
                    if m.options.source_lla().is_some() {
                        return Err(Error::Invalid {
                            field: "NS from :: with a source link-layer address option",
                            value: u64::from(super::opt_type::SOURCE_LLA),
                        });
                    }
                }
            }
            // 7.1.2
            Self::NeighborAdvert(m) => {
                if m.target.is_multicast() {
                    return Err(bad_addr("NA target (must not be multicast)", &m.target));
                }
                if dst.is_multicast() && m.solicited {
                    return Err(Error::Invalid {
                        field: "NA to a multicast destination with the Solicited flag",
                        value: 1,
                    });
                }
            }
            // 8.1
            Self::Redirect(m) => {
                if !src.is_unicast_link_local() {
                    return Err(bad_addr("Redirect source (must be link-local)", src));
                }
                if m.destination.is_multicast() {
                    return Err(bad_addr(
                        "Redirect destination (must not be multicast)",
                        &m.destination,
                    ));
                }
                if !m.target.is_unicast_link_local() && m.target != m.destination {
                    return Err(bad_addr(
                        "Redirect target (must be link-local or the destination)",
                        &m.target,
                    ));
                }
            }
        }
        Ok(())
    }
}
