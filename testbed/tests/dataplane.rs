//! The tunnel data plane (`mip6_common::dataplane`) end to end, in
//! network namespaces over real veth pairs, on both paths: the eBPF
//! kernel fast path (with the user-space path behind it) and the
//! user-space TUN path alone. Every test runs once per path (`_ebpf`,
//! `_tun`). Needs root. Run with `--test-threads=2` at most (two shared
//! cores).
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

use mip6_common::dataplane::{ActivePath, DataPlane, DataPlaneConfig, PathChoice, Stats};
use mip6_common::sys::netlink::Netlink;
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

/// Both data planes on `path`, [`UNBOUND`] routed into the home agent's
/// TUN device too (without the encapsulation: it has no binding), and the
/// CN reaching the home address through them.
fn tunnel_up(
    t: &Topo,
    path: ActivePath,
    ha_tweak: impl FnOnce(&mut DataPlaneConfig),
    mn_tweak: impl FnOnce(&mut DataPlaneConfig),
) -> (DataPlane, DataPlane) {
    let choice = match path {
        ActivePath::Ebpf => PathChoice::Ebpf,
        ActivePath::Tun => PathChoice::Tun,
    };
    let ha = t.start_ha(|c| {
        c.path = choice;
        ha_tweak(c);
    });
    assert_eq!(ha.path(), path, "{}", ha.path_reason());
    t.ha.sh(&format!("ip -6 route add {UNBOUND}/128 dev {TUN}"))
        .expect("UNBOUND into the TUN");
    let mn = t.start_mn(|c| {
        c.path = choice;
        mn_tweak(c);
    });
    assert_eq!(mn.path(), path, "{}", mn.path_reason());
    t.cn.wait_ping6(&HOA.to_string(), T).expect("tunnel up");
    (ha, mn)
}

/// One test per path.
macro_rules! both_paths {
    ($body:ident: $ebpf:ident, $tun:ident) => {
        #[test]
        fn $ebpf() {
            mip6_common::require_root!();
            $body(ActivePath::Ebpf);
        }
        #[test]
        fn $tun() {
            mip6_common::require_root!();
            $body(ActivePath::Tun);
        }
    };
}

/// A lab tag unique to the test and the path.
fn tag(base: &str, path: ActivePath) -> String {
    format!("{base}-{}", path.name())
}

/// How many eBPF programs watch `node`'s eth0 (tcx ingress).
fn classifiers(node: &Node) -> u32 {
    node.run_in(|| {
        let i = Netlink::new()?.link_index("eth0")?;
        mip6_common::dataplane::tcx_ingress_programs(i)
    })
    .expect("enter")
    .expect("query tcx")
}

/// Both data planes shut down, then the lab removed.
fn tear_down(t: Topo, ha: DataPlane, mn: DataPlane) {
    ha.shutdown().expect("ha");
    mn.shutdown().expect("mn");
    t.lab.cleanup().expect("cleanup");
}

/// Waits (up to 5 s) until `name` is gone from `node`.
fn wait_gone(node: &Node, name: &str) {
    let t0 = std::time::Instant::now();
    while link_exists(node, name) {
        assert!(t0.elapsed() < Duration::from_secs(5), "{name} still exists");
        std::thread::sleep(Duration::from_millis(10));
    }
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
    send_tunnel_packet_to(HA, src, 0, inner);
}

/// An echo request from `src` to `dst` with traffic class `tclass`.
fn echo_request(src: Ipv6Addr, dst: Ipv6Addr, tclass: u8, id: u16) -> Vec<u8> {
    let mut p = vec![
        0x60 | (tclass >> 4),
        (tclass & 0xf) << 4,
        0,
        0,
        0,
        16,
        58,
        64,
    ];
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[128, 0, 0, 0]);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0, 1, 1, 2, 3, 4, 5, 6, 7, 8]);
    let ck = checksum::upper_layer(&src, &dst, 58, &p[40..]);
    p[42..44].copy_from_slice(&ck.to_be_bytes());
    p
}

/// Sends `inner` in a tunnel packet to `dst` (from `src` if given) with
/// outer traffic class `tclass`.
fn send_tunnel_packet_to(dst: Ipv6Addr, src: Option<Ipv6Addr>, tclass: u8, inner: &[u8]) {
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
        let tc = libc::c_int::from(tclass);
        let r = libc::setsockopt(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_TCLASS,
            (&raw const tc).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(r, 0, "IPV6_TCLASS");
        sa.sin6_addr.s6_addr = dst.octets();
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

both_paths!(ping_tcp_unreachable_and_shutdown: ping_tcp_unreachable_and_shutdown_ebpf, ping_tcp_unreachable_and_shutdown_tun);

fn ping_tcp_unreachable_and_shutdown(path: ActivePath) {
    let t = topo(&tag("dp-basic", path));
    // The CN reaches the home address through the tunnel.
    let (ha, mn) = tunnel_up(&t, path, |c| c.hop_limit = 33, |_| {});
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
    let m = mn.stats();
    if path == ActivePath::Tun {
        // The HA's TUN handed over TCP super-packets; the MN's got joined
        // ones.
        assert!(s.gso_packets > 0, "{s:#?}");
        assert!(m.gro_packets > 0, "{m:#?}");
    } else {
        // The kernel carried the bulk both ways, at both ends.
        for st in [&s, &m] {
            assert!(st.kernel_encap.bytes > 4 << 20, "{st:#?}");
            assert!(st.kernel_decap.bytes > 4 << 20, "{st:#?}");
        }
    }
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
    if path == ActivePath::Ebpf {
        assert_eq!(classifiers(&t.ha), 1);
        assert_eq!(classifiers(&t.mn), 1);
    }
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
    // And no classifier stays behind.
    for n in [&t.ha, &t.mn] {
        assert_eq!(classifiers(n), 0);
    }
    let _ = &t.r;
    t.lab.cleanup().expect("cleanup");
}

both_paths!(spoofed_sources_and_a_move: spoofed_sources_and_a_move_ebpf, spoofed_sources_and_a_move_tun);

fn spoofed_sources_and_a_move(path: ActivePath) {
    let t = topo(&tag("dp-move", path));
    // Two TUN queues, two encapsulating threads.
    let (ha, mn) = tunnel_up(&t, path, |c| c.queues = 2, |_| {});

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

    // The old address disappears before the MN switches. User space:
    // sending with it fails (EINVAL), counted, and the thread lives on.
    // eBPF: the kernel routes what the program encapsulated by its outer
    // source, which need not be an address of the node; the home agent
    // refuses it.
    t.mn.sh(&format!("ip -6 addr del {COA}/64 dev eth0"))
        .expect("remove the old CoA");
    let before_mn = mn.stats();
    let before_ha = ha.stats();
    assert!(
        !t.cn
            .ping6(&HOA.to_string(), Duration::from_secs(1))
            .expect("ping")
    );
    if path == ActivePath::Tun {
        wait_stats(&mn, "a send error", |s| {
            s.drops.send_error > before_mn.drops.send_error
        });
    } else {
        wait_stats(&ha, "answers from the removed CoA refused", |s| {
            s.drops.spoofed > before_ha.drops.spoofed
        });
    }

    // The MN moves to the new address: no restart, next packet.
    mn.set_local(COA2).expect("set_local");
    assert_eq!(mn.local(), COA2);
    t.cn.wait_ping6(&HOA.to_string(), T)
        .expect("traffic flows again after the move");
    tcp_exchange(&t.cn, &t.mn, 5002, 256 << 10);
    tear_down(t, ha, mn);
}

both_paths!(tunnel_path_errors_reach_the_inner_source: tunnel_path_errors_reach_the_inner_source_ebpf, tunnel_path_errors_reach_the_inner_source_tun);

/// RFC 2473 8.1 (issue 11 item 9): an ICMPv6 error a router on the tunnel
/// path sends about a tunnel packet reaches the inner packet's source as
/// Destination Unreachable (address unreachable) from the home agent. Here
/// the binding names a care-of address nobody holds: r fails to resolve it
/// and tells the home agent.
fn tunnel_path_errors_reach_the_inner_source(path: ActivePath) {
    let t = topo(&tag("dp-relay", path));
    let (ha, mn) = tunnel_up(&t, path, |_| {}, |_| {});
    let dead: Ipv6Addr = "2001:db8:2::dead".parse().unwrap();
    ha.set_bindings(Arc::new(HashMap::from([(HOA, dead)])));
    let out = ping(&t.cn, &["-c", "1", "-W", "10", &HOA.to_string()]);
    assert!(
        out.contains(&format!("From {HA}")) && out.contains("Address unreachable"),
        "{out}"
    );
    let s = wait_stats(&ha, "a relayed error", |s| s.errors_relayed >= 1);
    assert!(s.icmp_errors >= s.errors_relayed, "{s:#?}");
    tear_down(t, ha, mn);
}

both_paths!(packet_too_big: packet_too_big_ebpf, packet_too_big_tun);

fn packet_too_big(path: ActivePath) {
    let t = topo(&tag("dp-ptb", path));
    // No offload here, and the kernel-built header: the plain path.
    let (ha, mn) = tunnel_up(&t, path, |c| c.offload = false, |c| c.offload = false);

    // 1500 octets into a 1460 TUN: the HA's kernel answers itself.
    let out = ping_hoa_df(&t.cn, &["-c", "1", "-W", "3"], 1452);
    assert!(
        out.contains("mtu=1460") || out.contains("mtu = 1460"),
        "{out}"
    );

    // The foreign link carries 1400 octets: a 1460-octet inner packet
    // (1500 outer) is refused by the router, which teaches the HA's kernel
    // the path MTU; the HA passes the router's Packet Too Big on to the CN
    // with 1400 - 40 = 1360 (RFC 2473 8.1), and a packet sent before that
    // arrived fails EMSGSIZE at the HA, which answers likewise.
    t.r.cmd("ip link set dev fgn0 mtu 1400")
        .expect("small link");
    let out = ping_hoa_df(&t.cn, &["-c", "4", "-i", "0.3", "-W", "2"], 1412);
    assert!(
        out.contains("mtu=1360") || out.contains("mtu = 1360"),
        "{out}"
    );
    let s = ha.stats();
    assert!(s.drops.too_big + s.errors_relayed >= 1, "{s:#?}");
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
fn large_tunnel_packets(path: ActivePath) {
    for offload in [true, false] {
        let t = topo(&tag(if offload { "dp-large" } else { "dp-cut" }, path));
        t.ha.run_in(|| {
            ethtool::set("eth0", ethtool::STSO, false);
            ethtool::set("eth0", ethtool::STXCSUM, false);
        })
        .expect("enter ha");
        let (ha, mn) = tunnel_up(&t, path, |c| c.offload = offload, |c| c.offload = offload);
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
        if offload && path == ActivePath::Tun {
            assert!(s.gro_packets > 0, "{s:#?}");
        }
        assert_eq!(nstat(&t.cn, "TcpInCsumErrors"), bad, "bad checksums");
        tear_down(t, ha, mn);
    }
}

both_paths!(large_tunnel_packets: large_tunnel_packets_ebpf, large_tunnel_packets_tun);

both_paths!(ecn_and_the_mobile_nodes_source_check: ecn_and_the_mobile_nodes_source_check_ebpf, ecn_and_the_mobile_nodes_source_check_tun);

/// RFC 6040 at the home agent's exit: an outer Congestion Experienced
/// mark reaches an ECN-capable inner packet and drops one that is not.
/// RFC 6275 11.3.1 at the mobile node: a tunnel packet for the home
/// address from anyone but the home agent is dropped.
fn ecn_and_the_mobile_nodes_source_check(path: ActivePath) {
    let t = topo(&tag("dp-ecn", path));
    let (ha, mn) = tunnel_up(&t, path, |_| {}, |_| {});
    let mut cap =
        t.cn.spawn(&[
            "tcpdump",
            "-i",
            "eth0",
            "-c",
            "1",
            "-nn",
            "-v",
            "-l",
            "icmp6 and ip6[40] == 128 and ip6[44:2] == 0x6040",
        ])
        .expect("tcpdump");
    cap.wait_log("listening on", T).expect("tcpdump ready");
    let before = ha.stats();
    // Inner ECT(0), outer CE: delivered, marked CE.
    let marked = echo_request(HOA, CN, 0x02, 0x6040);
    t.mn.run_in(move || send_tunnel_packet_to(HA, Some(COA), 0x03, &marked))
        .expect("enter mn");
    let start = Instant::now();
    while !cap.log().contains("hlim") {
        assert!(start.elapsed() < T, "nothing reached the CN: {}", cap.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = cap.log();
    assert!(log.contains("class 0x03,"), "CE not copied inward: {log}");
    drop(cap);
    // Inner Not-ECT, outer CE: dropped and counted.
    let plain = echo_request(HOA, CN, 0, 0x6041);
    t.mn.run_in(move || send_tunnel_packet_to(HA, Some(COA), 0x03, &plain))
        .expect("enter mn");
    wait_stats(&ha, "an ECN drop", |s| {
        s.drops.ecn_drop > before.drops.ecn_drop
    });

    // The CN sends the mobile node a tunnel packet as if from the home
    // agent's tunnel, but from its own address: refused.
    let before = mn.stats();
    let forged = echo_request(CN, HOA, 0, 0x6042);
    t.cn.run_in(move || send_tunnel_packet_to(COA, None, 0, &forged))
        .expect("enter cn");
    let s = wait_stats(&mn, "a spoofed drop at the mobile node", |s| {
        s.drops.spoofed > before.drops.spoofed
    });
    assert_eq!(s.decap.packets, before.decap.packets, "{s:#?}");
    tear_down(t, ha, mn);
}

/// Where the eBPF path cannot work (here: a home agent with no Ethernet
/// interface to decapsulate on), `auto` falls back to the TUN path and
/// says why; `ebpf` refuses to start; `tun` never tries.
#[test]
fn auto_falls_back_to_the_tun_path() {
    require_root().expect("these tests need root");
    let lab = mip6_testbed::harness::Lab::new("dp-fallback").expect("lab");
    let node = lab.node("ha").expect("node");
    node.sh(&format!("ip -6 addr add {HA}/128 dev lo"))
        .expect("address");
    let start = |path: PathChoice| {
        let mut c = DataPlaneConfig::new(TUN, HA, mip6_common::dataplane::Mode::Ha);
        c.path = path;
        node.run_in(move || DataPlane::start(c)).expect("enter")
    };
    let dp = start(PathChoice::Auto).expect("auto starts");
    assert_eq!(dp.path(), ActivePath::Tun);
    assert!(dp.route_encap().is_none());
    let why = dp.path_reason().to_owned();
    assert!(
        why.starts_with("data_plane: auto; the user-space TUN path")
            && why.contains("no Ethernet interface"),
        "{why}"
    );
    dp.shutdown().expect("shutdown");
    // The kernel deletes a closed TUN device a moment later, not at once.
    wait_gone(&node, TUN);
    let e = start(PathChoice::Ebpf).expect_err("ebpf refuses");
    assert!(e.to_string().contains("eBPF"), "{e}");
    wait_gone(&node, TUN);
    let dp = start(PathChoice::Tun).expect("tun starts");
    assert_eq!(
        (dp.path(), dp.path_reason()),
        (ActivePath::Tun, "data_plane: tun")
    );
    dp.shutdown().expect("shutdown");
    drop(node);
    lab.cleanup().expect("cleanup");
}

#[test]
fn outer_header_we_build() {
    mip6_common::require_root!();
    // The IPPROTO_RAW variant (kept for measurement) carries traffic too.
    // (User space only: with eBPF the kernel builds it.)
    let t = topo("dp-hdr");
    let ours = |c: &mut DataPlaneConfig| {
        c.outer_header = mip6_common::dataplane::OuterHeader::Ours;
    };
    let (ha, mn) = tunnel_up(&t, ActivePath::Tun, ours, ours);
    tcp_exchange(&t.cn, &t.mn, 5003, 1 << 20);
    let s = ha.stats();
    assert!(s.encap.packets > 0 && s.decap.packets > 0, "{s:#?}");
    tear_down(t, ha, mn);
}
