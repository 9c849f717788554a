//! The user-space tunnel data plane (`mip6_common::dataplane`) end to end,
//! in network namespaces over real veth pairs. Needs root. Run with
//! `--test-threads=2` at most (two shared cores).
//!
//! ```text
//!   cn ──eth0/cn0── r ──home0/eth0── ha            (home 2001:db8:1::/64)
//!  2001:db8:3::5    │                2001:db8:1::2  HoA 2001:db8:1::100
//!                   └──fgn0/eth0── mn              (foreign 2001:db8:2::/64)
//!                                  CoA 2001:db8:2::100 (then ::200)
//! ```
//!
//! The router reaches the home address through the home agent by a static
//! route (proxy ND is the control plane's business, not the data
//! plane's). The home agent routes `HoA/128` into its TUN device; the
//! mobile node holds the home address on its TUN device (`nodad`), routes
//! `default dev <tun> src <HoA>`, and sends the tunnel from the care-of
//! address through `ip -6 rule from <CoA> lookup 100` (docs/ARCHITECTURE.md, the mobile node's recipe).
//! The topology is `support::Topo`, shared with benches/tunnel.rs; here r
//! also routes `UNBOUND` to the home agent.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mip6_common::dataplane::{DataPlane, DataPlaneConfig, Stats};
use mip6_common::wire::checksum;
use mip6_testbed::harness::{Node, require_root};
use support::{CN, COA, HA, HOA, TUN, Topo, ethtool};

/// Routed into the home agent's TUN device, but bound to nobody.
const UNBOUND: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x200);
const COA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x200);
/// Generous bound for anything that waits on the network.
const T: Duration = Duration::from_secs(20);

/// The shared topology, where r also routes [`UNBOUND`] to the home agent.
fn topo(tag: &str) -> Topo {
    require_root().expect("these tests need root");
    let t = Topo::new(tag);
    t.r.sh(&format!("ip -6 route add {UNBOUND}/128 via {HA}"))
        .expect("r routes UNBOUND");
    t
}

/// Both data planes, [`UNBOUND`] routed into the home agent's TUN device
/// too, and the CN reaching the home address through them.
fn tunnel_up(
    t: &Topo,
    ha_tweak: impl FnOnce(&mut DataPlaneConfig),
    mn_tweak: impl FnOnce(&mut DataPlaneConfig),
) -> (DataPlane, DataPlane) {
    let ha = t.start_ha(ha_tweak);
    t.ha.sh(&format!("ip -6 route add {UNBOUND}/128 dev {TUN}"))
        .expect("UNBOUND into the TUN");
    let mn = t.start_mn(mn_tweak);
    t.cn.wait_ping6(&HOA.to_string(), T).expect("tunnel up");
    (ha, mn)
}

/// Both data planes shut down, then the lab removed.
fn tear_down(t: Topo, ha: DataPlane, mn: DataPlane) {
    ha.shutdown().expect("ha");
    mn.shutdown().expect("mn");
    t.lab.cleanup().expect("cleanup");
}

fn link_exists(node: &Node, name: &str) -> bool {
    node.output(&["ip", "link", "show", "dev", name])
        .expect("ip link")
        .success()
}

/// Waits until `f(stats)` holds.
fn wait_stats(dp: &DataPlane, what: &str, f: impl Fn(&Stats) -> bool) -> Stats {
    let start = Instant::now();
    loop {
        let s = dp.stats();
        if f(&s) {
            return s;
        }
        assert!(start.elapsed() < T, "timed out waiting for {what}: {s:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ping(node: &Node, args: &[&str]) -> String {
    let mut argv = vec!["ping", "-6", "-n"];
    argv.extend_from_slice(args);
    let out = node
        .output_timeout(&argv, Duration::from_secs(30))
        .expect("ping runs");
    format!("{}{}", out.stdout, out.stderr)
}

/// Pings the home address with `args` and `size` octets of payload, not
/// to be fragmented.
fn ping_hoa_df(node: &Node, args: &[&str], size: u16) -> String {
    let (size, hoa) = (size.to_string(), HOA.to_string());
    let mut argv = args.to_vec();
    argv.extend_from_slice(&["-M", "do", "-s", &size, &hoa]);
    ping(node, &argv)
}

/// `len` octets of a pattern that is not periodic in any small unit.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// The mobile node listens on the home address and sends back all it
/// received; the correspondent sends `len` octets and checks they come
/// back intact: bulk data through the tunnel both ways.
fn tcp_exchange(cn: &Node, mn: &Node, port: u16, len: usize) {
    let listener = mn
        .run_in(move || {
            let l = TcpListener::bind(SocketAddr::from((HOA, port))).expect("listen on the HoA");
            l.set_nonblocking(true).expect("nonblocking");
            l
        })
        .expect("enter mn");
    let server = std::thread::spawn(move || {
        let start = Instant::now();
        let (mut s, peer) = loop {
            match listener.accept() {
                Ok(x) => break x,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(start.elapsed() < T, "no connection came");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        s.set_nonblocking(false).expect("blocking");
        s.set_read_timeout(Some(T)).expect("timeout");
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("read everything");
        s.write_all(&got).expect("send it back");
        (peer, s.local_addr().expect("local"))
    });
    let data = pattern(len);
    let back = cn
        .run_in(move || {
            let mut s = TcpStream::connect_timeout(&SocketAddr::from((HOA, port)), T)
                .expect("connect to the HoA");
            s.set_read_timeout(Some(T)).expect("timeout");
            s.write_all(&data).expect("send");
            s.shutdown(std::net::Shutdown::Write).expect("shutdown");
            let mut back = Vec::new();
            s.read_to_end(&mut back).expect("read it back");
            back
        })
        .expect("enter cn");
    let (peer, local) = server.join().expect("server");
    assert_eq!(back.len(), len, "every octet came back");
    assert!(back == pattern(len), "intact and in order");
    assert_eq!(peer.ip(), std::net::IpAddr::V6(CN));
    assert_eq!(local.ip(), std::net::IpAddr::V6(HOA));
}

/// Sends, from the current namespace, a tunnel packet to the home agent
/// whose inner packet is an echo request from `inner_src` to the CN. The
/// kernel puts our own address as outer source.
fn send_forged_tunnel_packet(inner_src: Ipv6Addr) {
    let mut inner = vec![0x60, 0, 0, 0, 0, 16, 58, 64];
    inner.extend_from_slice(&inner_src.octets());
    inner.extend_from_slice(&CN.octets());
    inner.extend_from_slice(&[128, 0, 0, 0, 0x42, 0x42, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]);
    let ck = checksum::upper_layer(&inner_src, &CN, 58, &inner[40..]);
    inner[42..44].copy_from_slice(&ck.to_be_bytes());
    send_tunnel_packet(None, &inner);
}

/// Sends, from the current namespace, `inner` in a tunnel packet to the
/// HA, from `src` if given, else from the address the kernel picks (the
/// kernel fragments a large tunnel packet; the HA reassembles it).
fn send_tunnel_packet(src: Option<Ipv6Addr>, inner: &[u8]) {
    // SAFETY: plain FFI with checked results; the buffers live across the
    // calls.
    unsafe {
        let fd = libc::socket(libc::AF_INET6, libc::SOCK_RAW, 41);
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
        sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        let len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        if let Some(src) = src {
            sa.sin6_addr.s6_addr = src.octets();
            assert_eq!(libc::bind(fd, (&raw const sa).cast(), len), 0, "bind");
        }
        sa.sin6_addr.s6_addr = HA.octets();
        let r = libc::sendto(
            fd,
            inner.as_ptr().cast(),
            inner.len(),
            0,
            (&raw const sa).cast(),
            len,
        );
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        assert_eq!(r, inner.len() as isize, "sendto: {err}");
    }
}

#[test]
fn ping_tcp_unreachable_and_shutdown() {
    mip6_common::require_root!();
    let t = topo("dp-basic");
    // The CN reaches the home address through the tunnel.
    let (ha, mn) = tunnel_up(&t, |c| c.hop_limit = 33, |_| {});
    assert!(ha.offload(), "offload is the default");
    let before_ha = ha.binding_stats(HOA).expect("binding");
    let before_mn = mn.binding_stats(HOA).expect("binding");
    let out = ping(
        &t.cn,
        &["-c", "5", "-i", "0.2", "-W", "5", &HOA.to_string()],
    );
    assert!(out.contains("5 received"), "{out}");
    let after_ha = ha.binding_stats(HOA).expect("binding");
    let after_mn = mn.binding_stats(HOA).expect("binding");
    // 5 echo requests of 104 octets tunnelled by the HA, 5 replies back.
    assert!(
        after_ha.encap.packets >= before_ha.encap.packets + 5,
        "{after_ha:?}"
    );
    assert!(after_ha.encap.bytes >= before_ha.encap.bytes + 5 * 104);
    assert!(
        after_ha.decap.packets >= before_ha.decap.packets + 5,
        "{after_ha:?}"
    );
    assert!(
        after_mn.decap.packets >= before_mn.decap.packets + 5,
        "{after_mn:?}"
    );
    assert!(
        after_mn.encap.packets >= before_mn.encap.packets + 5,
        "{after_mn:?}"
    );
    assert_eq!(after_ha.remote, COA);
    assert_eq!(after_mn.remote, HA);

    // The outer header as the HA sent it (captured where r receives it):
    // the configured hop limit, the inner traffic class copied, flow
    // label 0 (RFC 2473 6.3, 6.5, 6.6).
    let mut cap =
        t.r.spawn(&[
            "tcpdump",
            "-i",
            "home0",
            "-c",
            "1",
            "-nn",
            "-v",
            "-l",
            "ip6 proto 41 and dst host 2001:db8:2::100",
        ])
        .expect("tcpdump");
    cap.wait_log("listening on", T).expect("tcpdump ready");
    let out = ping(
        &t.cn,
        &["-c", "1", "-W", "5", "-Q", "0xb8", &HOA.to_string()],
    );
    assert!(out.contains("1 received"), "{out}");
    let start = Instant::now();
    while !cap.log().contains("hlim") {
        assert!(start.elapsed() < T, "nothing captured: {}", cap.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = cap.log();
    assert!(
        log.contains("(class 0xb8, hlim 33, next-header IPv6 (41)"),
        "{log}"
    );
    drop(cap);

    // TCP both ways through the tunnel (4 MiB: TSO super-packets at the
    // HA's TUN device get cut up).
    tcp_exchange(&t.cn, &t.mn, 5001, 4 << 20);
    let s = ha.stats();
    assert!(s.encap.bytes > 4 << 20, "{s:#?}");
    // The HA's TUN handed over TCP super-packets; the MN's got joined ones.
    assert!(s.gso_packets > 0, "{s:#?}");
    let m = mn.stats();
    assert!(m.gro_packets > 0, "{m:#?}");
    let spoof_like = s.drops.spoofed + s.drops.malformed + s.drops.send_error;
    assert_eq!(spoof_like, 0, "{s:#?}");

    // An address routed into the TUN without binding: Destination
    // Unreachable (address unreachable) from the home agent.
    let out = ping(&t.cn, &["-c", "1", "-W", "3", &UNBOUND.to_string()]);
    assert!(
        out.contains("Address unreachable") || out.contains("Destination unreachable"),
        "{out}"
    );
    let s = ha.stats();
    assert!(s.drops.no_binding >= 1 && s.unreachable_sent >= 1, "{s:#?}");

    // Shutdown stops the threads at once and removes both TUN devices.
    assert!(link_exists(&t.ha, TUN) && link_exists(&t.mn, TUN));
    let start = Instant::now();
    ha.shutdown().expect("ha shutdown");
    mn.shutdown().expect("mn shutdown");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    assert!(!link_exists(&t.ha, TUN), "the HA's TUN is gone");
    assert!(!link_exists(&t.mn, TUN), "the MN's TUN is gone");
    // Its routes went with it.
    let routes = t.ha.cmd("ip -6 route show").expect("routes");
    assert!(!routes.contains(TUN), "{routes}");
    let _ = &t.r;
    t.lab.cleanup().expect("cleanup");
}

#[test]
fn spoofed_sources_and_a_move() {
    mip6_common::require_root!();
    let t = topo("dp-move");
    // Two TUN queues, two encapsulating threads.
    let (ha, mn) = tunnel_up(&t, |c| c.queues = 2, |_| {});

    // A tunnel packet from the CN claiming to come from the HoA: the outer
    // source is not the registered care-of address.
    let before = ha.stats();
    t.cn.run_in(|| send_forged_tunnel_packet(HOA))
        .expect("enter cn");
    wait_stats(&ha, "a spoofed drop", |s| {
        s.drops.spoofed > before.drops.spoofed
    });
    // One whose inner source is bound to nobody.
    t.cn.run_in(|| send_forged_tunnel_packet(CN))
        .expect("enter cn");
    let s = wait_stats(&ha, "a no-binding drop", |s| {
        s.drops.no_binding > before.drops.no_binding
    });
    let b = s.binding(HOA).expect("binding");
    assert_eq!(
        b.decap.packets,
        before.binding(HOA).expect("binding").decap.packets,
        "nothing forged was delivered"
    );

    // The MN gets a second care-of address; the HA learns it first (as
    // after a Binding Update): packets reach the MN at the new address,
    // but its answers still leave from the old one and are refused.
    t.mn.sh(&format!(
        "ip -6 addr add {COA2}/64 dev eth0 nodad && ip -6 rule add from {COA2} lookup 100"
    ))
    .expect("second care-of address");
    ha.set_bindings(Arc::new(HashMap::from([(HOA, COA2)])));
    let before = ha.stats();
    assert!(
        !t.cn
            .ping6(&HOA.to_string(), Duration::from_secs(1))
            .expect("ping")
    );
    let s = wait_stats(&ha, "answers from the old CoA refused", |s| {
        s.drops.spoofed > before.drops.spoofed
    });
    assert_eq!(s.binding(HOA).expect("binding").remote, COA2);

    // The old address disappears before the MN switches: sending with it
    // fails (EINVAL), counted, and the thread lives on.
    t.mn.sh(&format!("ip -6 addr del {COA}/64 dev eth0"))
        .expect("remove the old CoA");
    let before_mn = mn.stats();
    assert!(
        !t.cn
            .ping6(&HOA.to_string(), Duration::from_secs(1))
            .expect("ping")
    );
    wait_stats(&mn, "a send error", |s| {
        s.drops.send_error > before_mn.drops.send_error
    });

    // The MN moves to the new address: no restart, next packet.
    mn.set_local(COA2).expect("set_local");
    assert_eq!(mn.local(), COA2);
    t.cn.wait_ping6(&HOA.to_string(), T)
        .expect("traffic flows again after the move");
    tcp_exchange(&t.cn, &t.mn, 5002, 256 << 10);
    tear_down(t, ha, mn);
}

#[test]
fn packet_too_big() {
    mip6_common::require_root!();
    let t = topo("dp-ptb");
    // No offload here, and the kernel-built header: the plain path.
    let (ha, mn) = tunnel_up(&t, |c| c.offload = false, |c| c.offload = false);

    // 1500 octets into a 1460 TUN: the HA's kernel answers itself.
    let out = ping_hoa_df(&t.cn, &["-c", "1", "-W", "3"], 1452);
    assert!(
        out.contains("mtu=1460") || out.contains("mtu = 1460"),
        "{out}"
    );

    // The foreign link carries 1400 octets: a 1460-octet inner packet
    // (1500 outer) is refused by the router, which teaches the HA's kernel
    // the path MTU; the next one fails EMSGSIZE at the HA, which sends the
    // CN a Packet Too Big with 1400 - 40 = 1360.
    t.r.cmd("ip link set dev fgn0 mtu 1400")
        .expect("small link");
    let out = ping_hoa_df(&t.cn, &["-c", "4", "-i", "0.3", "-W", "2"], 1412);
    assert!(
        out.contains("mtu=1360") || out.contains("mtu = 1360"),
        "{out}"
    );
    let s = ha.stats();
    assert!(s.drops.too_big >= 1, "{s:#?}");
    assert!(s.too_big_sent >= 1, "{s:#?}");
    assert!(s.icmp_errors >= 1, "the router's PTB was seen: {s:#?}");
    let route = t.cn.cmd(&format!("ip -6 route get {HOA}")).expect("route");
    assert!(route.contains("mtu 1360"), "{route}");
    // What fits goes through.
    let out = ping_hoa_df(&t.cn, &["-c", "1", "-W", "3"], 1300);
    assert!(out.contains("1 received"), "{out}");
    tear_down(t, ha, mn);
}

/// A TCP packet from the HoA to the CN (a closed port) carrying `payload`
/// octets, its checksum full or, as the kernel's GRO leaves it, partial
/// (the pseudo-header sum only).
fn big_tcp(payload: usize, partial: bool) -> Vec<u8> {
    let tcp_len = 20 + payload;
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&u16::try_from(tcp_len).unwrap().to_be_bytes());
    p.extend_from_slice(&[6, 64]);
    p.extend_from_slice(&HOA.octets());
    p.extend_from_slice(&CN.octets());
    p.extend_from_slice(&[0x9c, 0x40, 0x00, 0x09, 0, 0, 0, 1, 0, 0, 0, 1]);
    p.extend_from_slice(&[0x50, 0x10, 0x20, 0x00, 0, 0, 0, 0]);
    p.extend_from_slice(&pattern(payload));
    let ck = if partial {
        let ph = checksum::pseudo_header(&HOA, &CN, 6, tcp_len as u32);
        !checksum::finish(ph)
    } else {
        checksum::upper_layer(&HOA, &CN, 6, &p[40..])
    };
    p[56..58].copy_from_slice(&ck.to_be_bytes());
    p
}

/// `nstat` counter of the node (absolute value).
fn nstat(node: &Node, name: &str) -> u64 {
    let out = node.exec(&["nstat", "-az", name]).expect("nstat");
    out.lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(name)).then(|| w.next().and_then(|v| v.parse().ok()))?
        })
        .unwrap_or(0)
}

/// Inner packets larger than the tunnel MTU: what the kernel's GRO on a
/// physical receiving interface makes of a run of tunnelled TCP segments
/// (partial checksum), or a reassembled tunnel packet (full checksum).
/// The HA writes them into its TUN device as one GSO packet (offload) or
/// cut up (no offload); the kernel forwards them to the CN, whose TCP
/// takes every segment with a good checksum. The HA's outer interface
/// does no TSO and no checksum offload, so its kernel cuts and checksums
/// in software and the CN really verifies what we wrote.
#[test]
fn large_tunnel_packets() {
    mip6_common::require_root!();
    for offload in [true, false] {
        let t = topo(if offload { "dp-large" } else { "dp-large-cut" });
        t.ha.run_in(|| {
            ethtool::set("eth0", ethtool::STSO, false);
            ethtool::set("eth0", ethtool::STXCSUM, false);
        })
        .expect("enter ha");
        let (ha, mn) = tunnel_up(&t, |c| c.offload = offload, |c| c.offload = offload);
        let segs = nstat(&t.cn, "TcpInSegs");
        let bad = nstat(&t.cn, "TcpInCsumErrors");
        let before = ha.stats();
        for partial in [false, true] {
            let inner = big_tcp(6000, partial);
            t.mn.run_in(move || send_tunnel_packet(Some(COA), &inner))
                .expect("enter mn");
        }
        let s = wait_stats(&ha, "two large packets", |s| {
            s.large_packets >= before.large_packets + 2 && s.decap.packets > before.decap.packets
        });
        assert_eq!(s.drops.malformed, 0, "{s:#?}");
        // 6000 octets at MSS 1400: 5 segments each.
        let start = Instant::now();
        while nstat(&t.cn, "TcpInSegs") < segs + 10 {
            assert!(
                start.elapsed() < T,
                "the CN got {} segments, {} bad",
                nstat(&t.cn, "TcpInSegs") - segs,
                nstat(&t.cn, "TcpInCsumErrors") - bad
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(nstat(&t.cn, "TcpInCsumErrors"), bad, "bad checksums");
        // Bulk data from the MN: with offload the HA joins its segments
        // (our GRO), the HA's kernel cuts and checksums them again, and
        // the CN verifies every one.
        tcp_exchange(&t.cn, &t.mn, 5005, 2 << 20);
        let s = ha.stats();
        if offload {
            assert!(s.gro_packets > 0, "{s:#?}");
        }
        assert_eq!(nstat(&t.cn, "TcpInCsumErrors"), bad, "bad checksums");
        tear_down(t, ha, mn);
    }
}

#[test]
fn outer_header_we_build() {
    mip6_common::require_root!();
    // The IPPROTO_RAW variant (kept for measurement) carries traffic too.
    let t = topo("dp-hdr");
    let ours = |c: &mut DataPlaneConfig| {
        c.outer_header = mip6_common::dataplane::OuterHeader::Ours;
    };
    let (ha, mn) = tunnel_up(&t, ours, ours);
    tcp_exchange(&t.cn, &t.mn, 5003, 1 << 20);
    let s = ha.stats();
    assert!(s.encap.packets > 0 && s.decap.packets > 0, "{s:#?}");
    tear_down(t, ha, mn);
}
