//! What a data plane is started with.

use std::net::Ipv6Addr;

use crate::sys::tun::{self, MIN_MTU};
use crate::wire::tunnel::{DEFAULT_TUNNEL_HOP_LIMIT, OUTER_HEADER_LEN, TrafficClass};

/// Which tunnel end this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Home agent: packets routed into the TUN device (destination a bound
    /// home address) go to that binding's care-of address; tunnel packets
    /// are accepted from a binding's care-of address with the binding's
    /// home address as inner source.
    Ha,
    /// Mobile node: everything read from the TUN device goes to `peer` (the
    /// home agent); tunnel packets are accepted from `peer` with
    /// `home_address` as inner destination.
    Mn {
        peer: Ipv6Addr,
        home_address: Ipv6Addr,
    },
}

/// Which data plane carries the tunnel (`data_plane:` in both daemons'
/// configuration files).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PathChoice {
    /// The eBPF kernel fast path if this kernel takes it, else the
    /// user-space TUN path. The default.
    #[default]
    Auto,
    /// The eBPF kernel fast path, or fail to start.
    Ebpf,
    /// The user-space TUN path only.
    Tun,
}

impl PathChoice {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Ebpf => "ebpf",
            Self::Tun => "tun",
        }
    }
}

impl std::str::FromStr for PathChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "ebpf" => Ok(Self::Ebpf),
            "tun" => Ok(Self::Tun),
            _ => Err(format!("{s:?} is not one of auto, ebpf, tun")),
        }
    }
}

/// Who builds the outer IPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OuterHeader {
    /// The kernel, through the protocol-41 raw socket: it learns and
    /// enforces the path MTU (PMTUDISC_DO), fragments when told to, picks
    /// the route by the source. The default.
    #[default]
    Kernel,
    /// We do (`wire::tunnel::write_outer_header`), sending through an
    /// IPPROTO_RAW socket. The kernel then checks only the device MTU:
    /// path MTU changes are not learned. Kept for measurement.
    Ours,
}

/// Data-plane settings. [`DataPlaneConfig::new`] gives the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPlaneConfig {
    /// Name of the TUN device to create (1-15 characters).
    pub tun_name: String,
    /// MTU of the TUN device: the tunnel MTU, outer path MTU less 40
    /// (1460 over a 1500 path). At least 1280.
    pub mtu: u32,
    /// This end's address: the home agent address, or the mobile node's
    /// current care-of address (see `DataPlane::set_local`).
    pub local: Ipv6Addr,
    pub mode: Mode,
    /// Outer hop limit (RFC 2473 6.3; the inner one is never copied).
    pub hop_limit: u8,
    /// Outer traffic class (RFC 2473 6.5): copied from the inner packet by
    /// default.
    pub traffic_class: TrafficClass,
    /// TUN queues, one encapsulating thread each (IFF_MULTI_QUEUE above 1).
    pub queues: usize,
    /// Packets per batch (recvmmsg/sendmmsg), 1 to 1024.
    pub batch: usize,
    /// SO_SNDBUF and SO_RCVBUF of the tunnel socket, in octets.
    pub socket_buffer: usize,
    /// Send ICMPv6 Destination Unreachable (address unreachable) for a
    /// packet without binding (home agent mode).
    pub unreachable: bool,
    /// Take TCP super-packets from the TUN device (IFF_VNET_HDR, TSO6) and
    /// cut them up here: far fewer reads per byte.
    pub offload: bool,
    pub outer_header: OuterHeader,
    /// The eBPF kernel fast path in front of the TUN path, or not.
    pub path: PathChoice,
}

impl DataPlaneConfig {
    /// Defaults: MTU 1460, hop limit 64, inner traffic class copied, one
    /// queue, batches of 64, 4 MiB socket buffers, Destination Unreachable
    /// on, offload on, kernel-built outer header, the eBPF fast path
    /// where the kernel takes it.
    pub fn new(tun_name: &str, local: Ipv6Addr, mode: Mode) -> Self {
        Self {
            tun_name: tun_name.to_owned(),
            mtu: 1500 - OUTER_HEADER_LEN as u32,
            local,
            mode,
            hop_limit: DEFAULT_TUNNEL_HOP_LIMIT,
            traffic_class: TrafficClass::CopyInner,
            queues: 1,
            batch: 64,
            socket_buffer: 4 << 20,
            unreachable: true,
            offload: true,
            outer_header: OuterHeader::Kernel,
            path: PathChoice::Auto,
        }
    }

    /// Checks the settings; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        tun::check_name(&self.tun_name).map_err(|e| format!("tun_name: {e}"))?;
        if self.mtu < MIN_MTU || self.mtu > 65535 - OUTER_HEADER_LEN as u32 {
            return Err(format!(
                "mtu: {} is outside {MIN_MTU}..={}",
                self.mtu,
                65535 - OUTER_HEADER_LEN
            ));
        }
        let unicast = |a: &Ipv6Addr| !a.is_unspecified() && !a.is_multicast() && !a.is_loopback();
        // A mobile node may start its tunnel before it has a care-of address
        // or knows its home agent (DHAAD): `::` then means "not yet", and
        // nothing is sent until the binding table names the peer.
        let mn = matches!(self.mode, Mode::Mn { .. });
        let not_yet = |a: &Ipv6Addr| mn && a.is_unspecified();
        if !unicast(&self.local) && !not_yet(&self.local) {
            return Err(format!("local: {} is not a unicast address", self.local));
        }
        if let Mode::Mn { peer, home_address } = self.mode {
            if !unicast(&peer) && !not_yet(&peer) {
                return Err(format!("mode.peer: {peer} is not a unicast address"));
            }
            if !unicast(&home_address) {
                return Err(format!(
                    "mode.home_address: {home_address} is not a unicast address"
                ));
            }
        }
        if self.hop_limit == 0 {
            return Err("hop_limit: 0 would not leave this node".into());
        }
        if self.queues == 0 || self.queues > 64 {
            return Err(format!("queues: {} is outside 1..=64", self.queues));
        }
        if self.batch == 0 || self.batch > 1024 {
            return Err(format!("batch: {} is outside 1..=1024", self.batch));
        }
        if self.socket_buffer < 65536 {
            return Err(format!(
                "socket_buffer: {} is below 65536",
                self.socket_buffer
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

    #[test]
    fn defaults_validate() {
        let c = DataPlaneConfig::new("mip6ha0", A, Mode::Ha);
        assert_eq!(c.mtu, 1460);
        assert_eq!(c.hop_limit, 64);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn bad_fields_are_named() {
        let base = DataPlaneConfig::new("mip6ha0", A, Mode::Ha);
        let cases: Vec<(DataPlaneConfig, &str)> = vec![
            (
                DataPlaneConfig {
                    mtu: 1279,
                    ..base.clone()
                },
                "mtu",
            ),
            (
                DataPlaneConfig {
                    tun_name: "x".repeat(16),
                    ..base.clone()
                },
                "tun_name",
            ),
            (
                DataPlaneConfig {
                    local: Ipv6Addr::UNSPECIFIED,
                    ..base.clone()
                },
                "local",
            ),
            (
                DataPlaneConfig {
                    mode: Mode::Mn {
                        peer: "ff02::1".parse().expect("lit"),
                        home_address: A,
                    },
                    ..base.clone()
                },
                "mode.peer",
            ),
            (
                DataPlaneConfig {
                    hop_limit: 0,
                    ..base.clone()
                },
                "hop_limit",
            ),
            (
                DataPlaneConfig {
                    batch: 0,
                    ..base.clone()
                },
                "batch",
            ),
            (
                DataPlaneConfig {
                    queues: 0,
                    ..base.clone()
                },
                "queues",
            ),
        ];
        for (c, field) in cases {
            let e = c.validate().expect_err(field);
            assert!(e.starts_with(field), "{e}");
        }
    }
}
