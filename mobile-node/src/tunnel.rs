//! The tunnel data plane as the daemon sees it.
//!
//! The home address lives on a TUN device. What the kernel routes into it
//! (everything the laptop sends from its home address while away) is
//! encapsulated (IPv6-in-IPv6, RFC 2473) from the current care-of address
//! to the home agent; IPv6-in-IPv6 from the home agent is decapsulated and
//! written into the TUN. [`SharedTunnel`] does it with the shared
//! `common::dataplane` in mobile node mode.

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
    /// What the default route into the TUN device must carry for the
    /// kernel to encapsulate (the eBPF path); `None` on the TUN path.
    fn route_encap(&self) -> Option<mip6_common::sys::netlink::RouteEncap> {
        None
    }
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
    /// eBPF kernel fast path, user-space TUN path, or the best there is.
    pub data_plane: mip6_common::dataplane::PathChoice,
}

/// The shared user-space data plane (`mip6_common::dataplane`, mobile node
/// mode): TUN offload, batching, Packet Too Big towards local senders.
pub struct SharedTunnel {
    plane: mip6_common::dataplane::DataPlane,
    home_address: Ipv6Addr,
    /// (care-of address, home agent) as last set: the data plane tunnels
    /// only while both are known.
    state: std::sync::Mutex<(Option<Ipv6Addr>, Option<Ipv6Addr>)>,
}

impl std::fmt::Debug for SharedTunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTunnel")
            .field("plane", &self.plane)
            .finish_non_exhaustive()
    }
}

impl SharedTunnel {
    pub fn start(s: &TunnelSettings) -> std::io::Result<Self> {
        use mip6_common::dataplane::{DataPlane, DataPlaneConfig, Mode};
        let mode = Mode::Mn {
            peer: s.peer.unwrap_or(Ipv6Addr::UNSPECIFIED),
            home_address: s.home_address,
        };
        let mut config =
            DataPlaneConfig::new(&s.tun_name, s.local.unwrap_or(Ipv6Addr::UNSPECIFIED), mode);
        config.mtu = s.mtu;
        config.path = s.data_plane;
        let plane = DataPlane::start(config).map_err(|e| std::io::Error::other(e.to_string()))?;
        tracing::info!(
            data_plane = plane.path().name(),
            "tunnel: {}",
            plane.path_reason()
        );
        let t = Self {
            plane,
            home_address: s.home_address,
            state: std::sync::Mutex::new((s.local, s.peer)),
        };
        t.apply();
        Ok(t)
    }

    /// Changes the (care-of address, home agent) pair and applies it; a
    /// poisoned lock still holds a usable pair.
    fn update(&self, change: impl FnOnce(&mut (Option<Ipv6Addr>, Option<Ipv6Addr>))) {
        change(
            &mut self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        self.apply();
    }

    /// With a care-of address and a home agent the home address is bound
    /// to the home agent; without either nothing is tunnelled (packets are
    /// counted as dropped, not sent from a wrong source).
    fn apply(&self) {
        let (local, peer) = *self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut map = std::collections::HashMap::new();
        if let (Some(local), Some(peer)) = (local, peer) {
            if let Err(e) = self.plane.set_local(local) {
                tracing::warn!(error = %e, %local, "tunnel: cannot use the care-of address");
            }
            map.insert(self.home_address, peer);
        }
        self.plane.set_bindings(std::sync::Arc::new(map));
    }
}

impl TunnelPlane for SharedTunnel {
    fn set_local(&self, local: Option<Ipv6Addr>) {
        self.update(|s| s.0 = local);
    }

    fn set_peer(&self, peer: Option<Ipv6Addr>) {
        self.update(|s| s.1 = peer);
    }

    fn shutdown(self: Box<Self>) {
        let stats = self.plane.stats();
        tracing::info!(
            tun = self.plane.tun_name(),
            encap_packets = stats.encap.packets,
            encap_bytes = stats.encap.bytes,
            decap_packets = stats.decap.packets,
            decap_bytes = stats.decap.bytes,
            drops = stats.drops.total(),
            too_big_sent = stats.too_big_sent,
            "tunnel down"
        );
        if let Err(e) = self.plane.shutdown() {
            tracing::warn!(error = %e, "tunnel shutdown");
        }
    }

    fn tun_name(&self) -> &str {
        self.plane.tun_name()
    }

    fn route_encap(&self) -> Option<mip6_common::sys::netlink::RouteEncap> {
        self.plane.route_encap()
    }
}
