//! Where the control plane meets the tunnel data plane.
//!
//! The daemon routes every bound home address (`HoA/128`) into the TUN
//! device the data plane owns, and hands the data plane the binding cache's
//! copy-on-write snapshot (home address to care-of address) after every
//! change; the data plane encapsulates what it reads from the TUN to the
//! care-of address (RFC 2473) and decapsulates what comes back. It never
//! waits for the control plane, nor the control plane for it.
//!
//! [`DeviceOnly`] is the stand-in used until the data plane is merged: it
//! creates the TUN device (so routes can point at it) and forwards nothing.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

use mip6_common::sys::netlink::Netlink;
use mip6_common::sys::sysctl;

/// Counters of one binding's tunnel, as `(packets_to_mn, bytes_to_mn,
/// packets_from_mn, bytes_from_mn)`: to the mobile node is what was
/// encapsulated towards its care-of address, from it what was decapsulated
/// and forwarded.
pub type TunnelCounters = (u64, u64, u64, u64);

/// The data plane as the control plane sees it.
pub trait TunnelPlane: Send + Sync {
    /// The bindings from now on: home address to care-of address. Called
    /// after every change with the binding cache's snapshot; cheap to hold.
    fn set_bindings(&self, bindings: Arc<HashMap<Ipv6Addr, Ipv6Addr>>);
    /// The counters of `hoa`'s tunnel, `None` for an address never bound.
    fn counters(&self, hoa: &Ipv6Addr) -> Option<TunnelCounters>;
    /// The TUN device's name, for routes into it.
    fn tun_name(&self) -> &str;
    /// Packets dropped, by reason (`no_binding`, `too_big`, `bad_source`...).
    fn drops(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
    /// (outer source, inner source) of tunnelled packets dropped since the
    /// last call because the inner source had no binding, distinct and
    /// bounded: the daemon answers them with a Binding Error.
    fn take_unbound_senders(&self) -> Vec<(Ipv6Addr, Ipv6Addr)> {
        Vec::new()
    }
    /// What every `HoA/128` route into the TUN device must carry for the
    /// kernel to encapsulate (the eBPF path); `None` on the TUN path.
    fn route_encap(&self) -> Option<mip6_common::sys::netlink::RouteEncap> {
        None
    }
    /// Which path carries the tunnel (`ebpf`, `tun`), for metrics.
    fn data_plane(&self) -> &str {
        "tun"
    }
}

impl fmt::Debug for dyn TunnelPlane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunnelPlane")
            .field("tun", &self.tun_name())
            .finish_non_exhaustive()
    }
}

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;

/// A TUN device that exists while this value does (it is not persistent:
/// the kernel removes it when the last descriptor closes, even if the
/// process is killed).
#[derive(Debug)]
pub struct TunDevice {
    file: File,
    name: String,
}

impl TunDevice {
    /// Creates TUN `name` without a kernel-made link-local address, with
    /// `mtu`, and brings it up.
    pub fn create(name: &str, mtu: u32) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .map_err(|e| io::Error::new(e.kind(), format!("open /dev/net/tun: {e}")))?;
        // SAFETY: ifreq is plain data; all-zero is a valid value.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        if name.len() >= ifr.ifr_name.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("interface name {name:?} too long"),
            ));
        }
        for (d, s) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
            *d = *s as libc::c_char;
        }
        ifr.ifr_ifru.ifru_flags = IFF_TUN | IFF_NO_PI;
        // SAFETY: TUNSETIFF reads the ifreq we pass, which lives across the
        // call.
        let r = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &raw mut ifr) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("create TUN {name}: {e}")));
        }
        // Before the first up: no link-local address (clean-up would fail
        // with EBUSY otherwise; docs/ARCHITECTURE.md, known traps).
        sysctl::write(name, "addr_gen_mode", "1")?;
        let mut nl = Netlink::new()?;
        let index = nl.link_index(name)?;
        nl.set_mtu(index, mtu)?;
        nl.set_link_up(index)?;
        Ok(Self {
            file,
            name: name.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn file(&self) -> &File {
        &self.file
    }
}

/// The stand-in data plane: the TUN device and the bindings, no
/// forwarding (packets routed into the device wait in its queue and are
/// dropped). Counters stay zero.
#[derive(Debug)]
pub struct DeviceOnly {
    tun: TunDevice,
    bindings: Mutex<Arc<HashMap<Ipv6Addr, Ipv6Addr>>>,
}

impl DeviceOnly {
    pub fn create(name: &str, mtu: u32) -> io::Result<Self> {
        Ok(Self {
            tun: TunDevice::create(name, mtu)?,
            bindings: Mutex::new(Arc::new(HashMap::new())),
        })
    }
}

impl TunnelPlane for DeviceOnly {
    fn set_bindings(&self, bindings: Arc<HashMap<Ipv6Addr, Ipv6Addr>>) {
        if let Ok(mut b) = self.bindings.lock() {
            *b = bindings;
        }
    }

    fn counters(&self, hoa: &Ipv6Addr) -> Option<TunnelCounters> {
        let b = self.bindings.lock().ok()?;
        b.contains_key(hoa).then_some((0, 0, 0, 0))
    }

    fn tun_name(&self) -> &str {
        self.tun.name()
    }
}

/// The real data plane (`mip6_common::dataplane` in home agent mode).
#[derive(Debug)]
pub struct UserSpaceTunnel {
    plane: mip6_common::dataplane::DataPlane,
}

impl UserSpaceTunnel {
    /// Creates the TUN device `name` and the tunnel socket bound to the
    /// home agent address `local` (which must already be configured), puts
    /// the eBPF fast path in front as `path` says, and starts forwarding.
    /// Logs which path carries the tunnel, and why.
    pub fn start(
        name: &str,
        mtu: u32,
        local: Ipv6Addr,
        path: mip6_common::dataplane::PathChoice,
    ) -> io::Result<Self> {
        use mip6_common::dataplane::{DataPlane, DataPlaneConfig, Mode};
        let mut config = DataPlaneConfig::new(name, local, Mode::Ha);
        config.mtu = mtu;
        config.path = path;
        let plane = DataPlane::start(config).map_err(|e| io::Error::other(e.to_string()))?;
        tracing::info!(
            data_plane = plane.path().name(),
            "tunnel: {}",
            plane.path_reason()
        );
        Ok(Self { plane })
    }

    /// Which path carries the tunnel.
    pub fn path(&self) -> mip6_common::dataplane::ActivePath {
        self.plane.path()
    }
}

impl TunnelPlane for UserSpaceTunnel {
    fn set_bindings(&self, bindings: Arc<HashMap<Ipv6Addr, Ipv6Addr>>) {
        self.plane.set_bindings(bindings);
    }

    fn counters(&self, hoa: &Ipv6Addr) -> Option<TunnelCounters> {
        self.plane.binding_stats(*hoa).map(|s| {
            (
                s.encap.packets,
                s.encap.bytes,
                s.decap.packets,
                s.decap.bytes,
            )
        })
    }

    fn tun_name(&self) -> &str {
        self.plane.tun_name()
    }

    fn take_unbound_senders(&self) -> Vec<(Ipv6Addr, Ipv6Addr)> {
        self.plane.take_unbound_senders()
    }

    fn drops(&self) -> Vec<(String, u64)> {
        let d = self.plane.drops();
        vec![
            ("no_binding".into(), d.no_binding),
            ("spoofed_source".into(), d.spoofed),
            ("too_big".into(), d.too_big),
            ("send_error".into(), d.send_error),
            ("malformed".into(), d.malformed),
            ("not_unicast".into(), d.not_unicast),
            ("tun_write".into(), d.tun_write),
            ("ecn".into(), d.ecn_drop),
        ]
    }

    fn route_encap(&self) -> Option<mip6_common::sys::netlink::RouteEncap> {
        self.plane.route_encap()
    }

    fn data_plane(&self) -> &str {
        self.plane.path().name()
    }
}

/// A data plane with fixed answers, for the tests of what reads it (the
/// status and metrics renderers): every home address has `counters`.
#[cfg(test)]
pub(crate) struct FakePlane {
    pub counters: TunnelCounters,
    pub name: &'static str,
    pub drops: Vec<(String, u64)>,
}

#[cfg(test)]
impl FakePlane {
    /// The daemon's published state over this plane, for a home agent at
    /// `ha_address` on `eth0`.
    pub fn into_shared(
        self,
        ha_address: &str,
        allow_unauthenticated: bool,
    ) -> crate::state::Shared {
        let ha = ha_address.parse().expect("test address");
        crate::state::Shared::new(ha, "eth0".into(), allow_unauthenticated, Arc::new(self))
    }
}

#[cfg(test)]
impl TunnelPlane for FakePlane {
    fn set_bindings(&self, _: Arc<HashMap<Ipv6Addr, Ipv6Addr>>) {}
    fn counters(&self, _: &Ipv6Addr) -> Option<TunnelCounters> {
        Some(self.counters)
    }
    fn tun_name(&self) -> &str {
        self.name
    }
    fn drops(&self) -> Vec<(String, u64)> {
        self.drops.clone()
    }
}
