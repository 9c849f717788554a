//! The default topology built for real: routes reach every link, and the
//! routers' advertisements configure a host that moves onto a foreign link.

use mip6_testbed::build::build;
use mip6_testbed::harness::Lab;
use mip6_testbed::topology::{DEFAULT_TOPOLOGY, Topology};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

#[test]
fn default_topology_routes_and_advertises() {
    mip6_common::require_root!();
    let t = Topology::parse(DEFAULT_TOPOLOGY).expect("topology");
    let lab = Lab::new("topo").expect("lab");
    let exe = Path::new(env!("CARGO_BIN_EXE_mip6-testbed"));
    let b = build(&lab, &t, exe).expect("build");
    let cn = b.node("cn").expect("cn");
    // The correspondent reaches the home agent across the core router.
    cn.wait_ping6("2001:db8:1::1", Duration::from_secs(10))
        .expect("cn reaches the home agent");
    // A host moved onto link A autoconfigures from the router's RAs.
    let mn = b.node("mn").expect("mn");
    let eth = b.iface("mn", "home").expect("mn's interface");
    mn.sysctls(&[
        ("net.ipv6.conf.eth0.accept_ra", "2"),
        ("net.ipv6.conf.eth0.autoconf", "1"),
    ])
    .expect("kernel SLAAC on");
    lab.move_iface(eth, b.link("a").expect("link a"))
        .expect("move");
    eth.wait_addr("an address on link A", Duration::from_secs(15), |x| {
        matches!(x.local, IpAddr::V6(v) if v.segments()[..3] == [0x2001, 0xdb8, 0xa])
            && x.is_ready()
    })
    .expect("SLAAC on link A");
    // ... and from there reaches the correspondent.
    mn.wait_ping6("2001:db8:c::5", Duration::from_secs(10))
        .expect("mn on link A reaches cn");
}
