//! The topology of the data plane tests, shared by tests/dataplane.rs and
//! benches/tunnel.rs (which includes this file with `#[path]`):
//!
//! ```text
//!   cn ──eth0/cn0── r ──home0/eth0── ha            (home 2001:db8:1::/64)
//!  2001:db8:3::5    │                2001:db8:1::2  HoA 2001:db8:1::100
//!                   └──fgn0/eth0── mn              (foreign 2001:db8:2::/64)
//!                                  CoA 2001:db8:2::100
//! ```
//!
//! Every link is a veth pair, with offloads as the kernel sets them. No
//! DAD anywhere, no router advertisements: every address is usable at
//! once. r reaches the home address through the home agent by a static
//! route; the mobile node sends from the care-of address through
//! `ip -6 rule from <CoA> lookup 100` (docs/ARCHITECTURE.md, the mobile node's recipe).

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::sync::Arc;

use mip6_common::dataplane::{DataPlane, DataPlaneConfig, Mode};
use mip6_common::sys::netlink::{Netlink, RouteSpec};
use mip6_testbed::harness::{Lab, Node, NodeOptions};

pub const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 5);
pub const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
pub const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
pub const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
/// The TUN device of both data planes.
pub const TUN: &str = "mip6tun";

pub struct Topo {
    // Field order: the nodes go before the lab that owns their namespaces.
    pub cn: Node,
    pub r: Node,
    pub ha: Node,
    pub mn: Node,
    pub lab: Lab,
}

impl Topo {
    /// The lab `tag` with the four nodes, their links, addresses and routes.
    pub fn new(tag: &str) -> Topo {
        let lab = Lab::new(tag).expect("lab");
        let quiet = NodeOptions::default()
            .no_dad_delay()
            .accept_ra(0)
            .sysctl("net.ipv6.conf.all.accept_dad", "0")
            .sysctl("net.ipv6.conf.default.accept_dad", "0");
        let router = quiet.clone().forwarding();
        let cn = lab.node_with("cn", &quiet).expect("cn");
        let r = lab.node_with("r", &router).expect("r");
        let ha = lab.node_with("ha", &router).expect("ha");
        let mn = lab.node_with("mn", &quiet).expect("mn");
        lab.veth(&cn, "eth0", &r, "cn0").expect("cn-r");
        lab.veth(&r, "home0", &ha, "eth0").expect("r-ha");
        lab.veth(&r, "fgn0", &mn, "eth0").expect("r-mn");
        cn.sh(&format!(
            "ip -6 addr add {CN}/64 dev eth0 nodad && \
             ip -6 route add default via 2001:db8:3::1"
        ))
        .expect("cn addresses");
        r.sh(&format!(
            "ip -6 addr add 2001:db8:3::1/64 dev cn0 nodad && \
             ip -6 addr add 2001:db8:1::1/64 dev home0 nodad && \
             ip -6 addr add 2001:db8:2::1/64 dev fgn0 nodad && \
             ip -6 route add {HOA}/128 via {HA}"
        ))
        .expect("r addresses");
        ha.sh(&format!(
            "ip -6 addr add {HA}/64 dev eth0 nodad && \
             ip -6 route add default via 2001:db8:1::1"
        ))
        .expect("ha addresses");
        mn.sh(&format!(
            "ip -6 addr add {COA}/64 dev eth0 nodad && \
             ip -6 route add default via 2001:db8:2::1 dev eth0 table 100 && \
             ip -6 rule add from {COA} lookup 100"
        ))
        .expect("mn addresses");
        Topo { cn, r, ha, mn, lab }
    }

    /// The home agent's data plane (configured by `tweak`), the home
    /// address routed into its TUN device and bound to [`COA`].
    pub fn start_ha(&self, tweak: impl FnOnce(&mut DataPlaneConfig)) -> DataPlane {
        let mut cfg = DataPlaneConfig::new(TUN, HA, Mode::Ha);
        tweak(&mut cfg);
        let dp = self
            .ha
            .run_in(move || DataPlane::start(cfg))
            .expect("enter ha")
            .expect("start the home agent data plane");
        dp.set_bindings(Arc::new(HashMap::from([(HOA, COA)])));
        let encap = dp.route_encap();
        self.ha
            .run_in(move || {
                let mut nl = Netlink::new()?;
                let tun = nl.link_index(TUN)?;
                nl.add_route(&RouteSpec {
                    oif: Some(tun),
                    encap,
                    ..RouteSpec::new(HOA, 128)
                })
            })
            .expect("enter ha")
            .expect("route into the TUN");
        dp
    }

    /// The mobile node's data plane (configured by `tweak`) from [`COA`]
    /// to [`HA`], the home address on its TUN device and the default route
    /// into it.
    pub fn start_mn(&self, tweak: impl FnOnce(&mut DataPlaneConfig)) -> DataPlane {
        let mut cfg = DataPlaneConfig::new(
            TUN,
            COA,
            Mode::Mn {
                peer: HA,
                home_address: HOA,
            },
        );
        tweak(&mut cfg);
        let dp = self
            .mn
            .run_in(move || DataPlane::start(cfg))
            .expect("enter mn")
            .expect("start the mobile node data plane");
        self.mn
            .sh(&format!("ip -6 addr add {HOA}/128 dev {TUN} nodad"))
            .expect("home address on the TUN");
        let encap = dp.route_encap();
        self.mn
            .run_in(move || {
                let mut nl = Netlink::new()?;
                let tun = nl.link_index(TUN)?;
                nl.add_route(&RouteSpec {
                    oif: Some(tun),
                    src: Some(HOA),
                    encap,
                    ..RouteSpec::new(Ipv6Addr::UNSPECIFIED, 0)
                })
            })
            .expect("enter mn")
            .expect("default route into the TUN");
        dp
    }
}

/// Legacy ethtool features, without the ethtool binary.
pub mod ethtool {
    // Each includer uses some of them.
    #![allow(dead_code)]

    pub const STXCSUM: u32 = 0x17;
    pub const STSO: u32 = 0x1f;
    pub const SGSO: u32 = 0x24;
    pub const SGRO: u32 = 0x2c;

    /// Turns feature `cmd` of `ifname` (in the calling thread's namespace)
    /// on or off.
    pub fn set(ifname: &str, cmd: u32, on: bool) {
        #[repr(C)]
        struct EthtoolValue {
            cmd: u32,
            data: u32,
        }
        const SIOCETHTOOL: libc::c_ulong = 0x8946;
        let mut v = EthtoolValue {
            cmd,
            data: u32::from(on),
        };
        // SAFETY: plain FFI; `req` and `v` outlive the ioctl.
        unsafe {
            let mut req: libc::ifreq = std::mem::zeroed();
            for (d, s) in req.ifr_name.iter_mut().zip(ifname.bytes()) {
                *d = s as libc::c_char;
            }
            req.ifr_ifru.ifru_data = (&raw mut v).cast();
            let fd = libc::socket(libc::AF_INET6, libc::SOCK_DGRAM, 0);
            assert!(fd >= 0);
            let r = libc::ioctl(fd, SIOCETHTOOL, &mut req);
            let err = std::io::Error::last_os_error();
            libc::close(fd);
            assert_eq!(r, 0, "ethtool {cmd:#x} on {ifname}: {err}");
        }
    }
}
