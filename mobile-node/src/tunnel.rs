//! The tunnel data plane as the daemon sees it.
//!
//! The home address lives on a TUN device. What the kernel routes into it
//! (everything the laptop sends from its home address while away) is
//! encapsulated (IPv6-in-IPv6, RFC 2473) from the current care-of address
//! to the home agent; IPv6-in-IPv6 from the home agent is decapsulated and
//! written into the TUN. The shared `common::dataplane` (MN mode) will do
//! this; until it is merged, [`crate::tunnel_fallback`] does.

use std::net::Ipv6Addr;

/// A running tunnel. The control plane only ever changes the outer
/// addresses.
pub trait TunnelPlane: Send {
    /// The care-of address to encapsulate from; `None` stops sending (no
    /// care-of address, or at home) while still accepting nothing but the
    /// home agent's packets.
    fn set_local(&self, local: Option<Ipv6Addr>);
    /// The home agent, once known (it may be discovered after the start).
    fn set_peer(&self, peer: Option<Ipv6Addr>);
    /// Stops the data plane and deletes the TUN device.
    fn shutdown(self: Box<Self>);
    /// The TUN device's name.
    fn tun_name(&self) -> &str;
}

/// What a data plane is started with (the shape of the shared one's
/// `DataPlaneConfig` in MN mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelSettings {
    pub tun_name: String,
    /// The TUN's MTU: the physical MTU minus 40.
    pub mtu: u32,
    /// The care-of address, if one exists yet.
    pub local: Option<Ipv6Addr>,
    /// The home agent, when configured (else set once discovered).
    pub peer: Option<Ipv6Addr>,
    pub home_address: Ipv6Addr,
}
