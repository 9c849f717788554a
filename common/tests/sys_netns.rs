//! `common::sys` against the real kernel. Each test runs in a thread that
//! unshares its own network namespace; the namespace (with its veth pair)
//! disappears when the thread ends, so nothing is left behind. Needs root.
//!
//! Timeouts are generous: the machine running CI may be small and busy.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use mip6_common::sys::icmp6::{MIPV6_TYPES, ND_TYPES, NdSocket, RecvInfo};
use mip6_common::sys::netlink::{
    self, AddrOptions, LinkMonitor, MonitorEvent, Netlink, RouteSpec, RuleSpec,
};
use mip6_common::sys::sysctl::{self, SysctlGuard};
use mip6_common::wire::checksum;

const WAIT: Duration = Duration::from_secs(20);

/// Runs `f` in a fresh network namespace owned by a new thread.
fn in_netns<F: FnOnce() + Send + 'static>(f: F) {
    let h = thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        // Kernel defaults for new links, whatever the host passes on.
        sysctl::write("default", "addr_gen_mode", "0").unwrap();
        sysctl::write("default", "accept_dad", "1").unwrap();
        f();
    });
    if let Err(e) = h.join() {
        std::panic::resume_unwind(e);
    }
}

/// Runs `ip` with `args` (in the calling thread's namespace); its stdout.
fn ip(args: &str) -> String {
    let out = Command::new("ip")
        .args(args.split_whitespace())
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "ip {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A veth pair va/vb, both up; their indexes.
fn veth(nl: &mut Netlink) -> (u32, u32) {
    ip("link add va type veth peer name vb");
    let a = nl.link_index("va").unwrap();
    let b = nl.link_index("vb").unwrap();
    nl.set_link_up(a).unwrap();
    nl.set_link_up(b).unwrap();
    (a, b)
}

fn addr(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

fn secs(d: Option<Duration>) -> u64 {
    d.expect("finite lifetime").as_secs()
}

#[test]
fn addresses_with_lifetimes_replace_and_errors() {
    mip6_common::require_root!();
    in_netns(|| {
        let mut nl = Netlink::new().unwrap();
        let (a, _) = veth(&mut nl);
        let x = addr("2001:db8::1");
        let opts = AddrOptions {
            valid: Some(Duration::from_secs(600)),
            preferred: Some(Duration::from_secs(300)),
            nodad: true,
            ..AddrOptions::default()
        };
        nl.add_address(a, x, 64, &opts).unwrap();

        let got = nl.list_addresses(a).unwrap();
        let info = got.iter().find(|i| i.addr == x).expect("address listed");
        assert_eq!(info.prefix_len, 64);
        assert_eq!(info.ifindex, a);
        assert_eq!(info.scope, 0);
        assert!(info.flags.nodad() && !info.flags.tentative() && !info.flags.dadfailed());
        assert!(!info.flags.permanent(), "has lifetimes");
        assert!((599..=600).contains(&secs(info.valid)), "{info:?}");
        assert!((299..=300).contains(&secs(info.preferred)), "{info:?}");
        // The kernel made the prefix route.
        assert!(ip("-6 route show 2001:db8::/64").contains("dev va"));

        // Adding it again fails, naming the operation, with the errno.
        let e = nl.add_address(a, x, 64, &opts).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(netlink::errno(&e), Some(libc::EEXIST));
        let msg = e.to_string();
        assert!(
            msg.starts_with("add address 2001:db8::1/64 on va: File exists"),
            "{msg}"
        );

        // Replace: new lifetimes, preferred 0 deprecates it.
        let opts2 = AddrOptions {
            valid: Some(Duration::from_secs(1000)),
            preferred: Some(Duration::ZERO),
            replace: true,
            ..opts.clone()
        };
        nl.add_address(a, x, 64, &opts2).unwrap();
        let info = nl
            .list_addresses(a)
            .unwrap()
            .into_iter()
            .find(|i| i.addr == x)
            .unwrap();
        assert!((999..=1000).contains(&secs(info.valid)), "{info:?}");
        assert_eq!(secs(info.preferred), 0);
        assert!(info.flags.deprecated(), "{info:?}");

        // Infinite lifetimes, home address, no prefix route.
        let h = addr("2001:db8:1::5");
        let opts3 = AddrOptions {
            nodad: true,
            home_address: true,
            noprefixroute: true,
            ..AddrOptions::default()
        };
        nl.add_address(a, h, 64, &opts3).unwrap();
        let info = nl
            .list_addresses(a)
            .unwrap()
            .into_iter()
            .find(|i| i.addr == h)
            .unwrap();
        assert_eq!((info.valid, info.preferred), (None, None));
        assert!(info.flags.permanent() && info.flags.home_address() && info.flags.noprefixroute());
        assert_eq!(ip("-6 route show 2001:db8:1::/64").trim(), "");

        // Preferred longer than valid is refused.
        let bad = AddrOptions {
            valid: Some(Duration::from_secs(10)),
            preferred: Some(Duration::from_secs(20)),
            nodad: true,
            ..AddrOptions::default()
        };
        let e = nl
            .add_address(a, addr("2001:db8:2::1"), 64, &bad)
            .unwrap_err();
        assert_eq!(netlink::errno(&e), Some(libc::EINVAL), "{e}");

        // Delete; deleting again fails and says what it tried.
        nl.del_address(a, x, 64).unwrap();
        nl.del_address(a, h, 64).unwrap();
        let left = nl.list_addresses(a).unwrap();
        assert!(left.iter().all(|i| i.addr != x && i.addr != h), "{left:?}");
        let e = nl.del_address(a, x, 64).unwrap_err();
        assert_eq!(netlink::errno(&e), Some(libc::EADDRNOTAVAIL), "{e}");
        assert!(
            e.to_string()
                .starts_with("delete address 2001:db8::1/64 on va: "),
            "{e}"
        );
    });
}

#[test]
fn links_state_mtu_and_errors() {
    mip6_common::require_root!();
    in_netns(|| {
        let mut nl = Netlink::new().unwrap();
        let (a, b) = veth(&mut nl);
        let l = nl.link_info(a).unwrap();
        assert_eq!((l.index, l.name.as_str(), l.mtu), (a, "va", 1500));
        assert_eq!(l.mac.len(), 6);
        assert!(l.up);
        nl.set_mtu(a, 1400).unwrap();
        assert_eq!(nl.link_info(a).unwrap().mtu, 1400);
        nl.set_link_down(b).unwrap();
        let lb = nl.link_info(b).unwrap();
        assert!(!lb.up && !lb.running);
        wait_for("carrier loss on va", || {
            (!nl.link_info(a).unwrap().carrier).then_some(())
        });
        assert!(nl.links().unwrap().iter().any(|l| l.name == "vb"));

        let e = nl.link_index("nosuchlink").unwrap_err();
        assert_eq!(netlink::errno(&e), Some(libc::ENODEV), "{e}");
        assert!(
            e.to_string().starts_with("look up link nosuchlink: "),
            "{e}"
        );
        let e = nl.set_mtu(a, 10).unwrap_err();
        assert_eq!(netlink::errno(&e), Some(libc::EINVAL), "{e}");
        assert!(e.to_string().starts_with("set mtu 10 on va: "), "{e}");
        // The kernel's extended ACK text is kept.
        assert!(
            e.to_string().contains("mtu less than device minimum"),
            "{e}"
        );
        // A vanished interface is named by its index.
        let e = nl
            .add_address(9999, addr("2001:db8::5"), 64, &AddrOptions::default())
            .unwrap_err();
        assert_eq!(netlink::errno(&e), Some(libc::ENODEV), "{e}");
        assert!(
            e.to_string()
                .starts_with("add address 2001:db8::5/64 on if#9999: No such device"),
            "{e}"
        );
    });
}

/// The "expires <n>sec" figure of `ip route` output.
fn expires_secs(shown: &str) -> u64 {
    let rest = shown
        .split("expires ")
        .nth(1)
        .unwrap_or_else(|| panic!("no expiry in {shown:?}"));
    rest.split("sec").next().unwrap().parse().unwrap()
}

#[test]
fn routes_rules_and_proxy_neighbours() {
    mip6_common::require_root!();
    in_netns(|| {
        let mut nl = Netlink::new().unwrap();
        let (a, _) = veth(&mut nl);
        let me = addr("2001:db8::1");
        let nodad = AddrOptions {
            nodad: true,
            ..AddrOptions::default()
        };
        nl.add_address(a, me, 64, &nodad).unwrap();

        // A route through a gateway that expires.
        let r = RouteSpec {
            gateway: Some(addr("2001:db8::2")),
            oif: Some(a),
            metric: Some(100),
            expires: Some(Duration::from_secs(600)),
            src: Some(me),
            ..RouteSpec::new(addr("2001:db8:99::"), 48)
        };
        nl.add_route(&r).unwrap();
        let shown = ip("-6 route show 2001:db8:99::/48");
        assert!(shown.contains("via 2001:db8::2 dev va"), "{shown}");
        assert!(shown.contains("src 2001:db8::1"), "{shown}");
        assert!(shown.contains("metric 100"), "{shown}");
        assert!((590..=600).contains(&expires_secs(&shown)), "{shown}");
        let e = nl.add_route(&r).unwrap_err();
        assert_eq!(netlink::errno(&e), Some(libc::EEXIST), "{e}");
        assert!(
            e.to_string()
                .starts_with("add route 2001:db8:99::/48 via 2001:db8::2 dev va metric 100: "),
            "{e}"
        );
        let r2 = RouteSpec {
            expires: Some(Duration::from_secs(30)),
            replace: true,
            ..r.clone()
        };
        nl.add_route(&r2).unwrap();
        let shown = ip("-6 route show 2001:db8:99::/48");
        assert!((25..=30).contains(&expires_secs(&shown)), "{shown}");
        nl.del_route(&RouteSpec::new(addr("2001:db8:99::"), 48))
            .unwrap();
        assert_eq!(ip("-6 route show 2001:db8:99::/48").trim(), "");
        let e = nl.del_route(&r).unwrap_err();
        assert_eq!(netlink::errno(&e), Some(libc::ESRCH), "{e}");

        // An expired route is no longer used (the route GC removes it later).
        let short = RouteSpec {
            gateway: Some(addr("2001:db8::3")),
            oif: Some(a),
            expires: Some(Duration::from_secs(1)),
            ..RouteSpec::new(addr("2001:db8:98::"), 48)
        };
        nl.add_route(&short).unwrap();
        let routed = || {
            Command::new("ip")
                .args(["-6", "route", "get", "2001:db8:98::1"])
                .output()
                .unwrap()
                .status
                .success()
        };
        assert!(routed());
        wait_for("the route to expire", || (!routed()).then_some(()));

        // A default route through a link-local router in table 100.
        let d = RouteSpec {
            table: 100,
            expires: Some(Duration::from_secs(1800)),
            ..RouteSpec::default_via(addr("fe80::1"), a)
        };
        nl.add_route(&d).unwrap();
        let shown = ip("-6 route show table 100");
        assert!(shown.contains("default via fe80::1 dev va"), "{shown}");
        assert!((1790..=1800).contains(&expires_secs(&shown)), "{shown}");
        // An on-link prefix route, refreshed by replace.
        let p = RouteSpec {
            replace: true,
            expires: Some(Duration::from_secs(100)),
            ..RouteSpec::on_link(addr("2001:db8:5::"), 64, a)
        };
        nl.add_route(&p).unwrap();
        nl.add_route(&p).unwrap();
        assert!(ip("-6 route show 2001:db8:5::/64").contains("dev va"));
        nl.del_route(&d).unwrap();
        nl.del_route(&p).unwrap();
        assert_eq!(ip("-6 route show table 100").trim(), "");

        // A rule sending traffic from our address to table 100.
        let rule = RuleSpec {
            src: Some((me, 128)),
            table: 100,
            priority: Some(1000),
        };
        nl.add_rule(&rule).unwrap();
        let shown = ip("-6 rule show");
        assert!(
            shown.contains("1000:\tfrom 2001:db8::1 lookup 100"),
            "{shown}"
        );
        let e = nl.add_rule(&rule).unwrap_err();
        assert_eq!(netlink::errno(&e), Some(libc::EEXIST), "{e}");
        assert!(
            e.to_string()
                .starts_with("add rule from 2001:db8::1/128 lookup 100 priority 1000: "),
            "{e}"
        );
        nl.del_rule(&rule).unwrap();
        assert!(!ip("-6 rule show").contains("lookup 100"));

        // Proxy neighbour entries.
        let hoa = addr("2001:db8::77");
        nl.add_proxy_neigh(a, hoa).unwrap();
        let shown = ip("-6 neigh show proxy");
        assert!(shown.contains("2001:db8::77 dev va proxy"), "{shown}");
        nl.del_proxy_neigh(a, hoa).unwrap();
        assert!(!ip("-6 neigh show proxy").contains("2001:db8::77"));
        let e = nl.del_proxy_neigh(a, hoa).unwrap_err();
        assert_eq!(netlink::errno(&e), Some(libc::ENOENT), "{e}");
        assert!(
            e.to_string()
                .starts_with("delete proxy neighbour 2001:db8::77 on va: "),
            "{e}"
        );
    });
}

/// The next monitor event matching `pred`, skipping others.
fn next_event(
    m: &mut LinkMonitor,
    what: &str,
    mut pred: impl FnMut(&MonitorEvent) -> bool,
) -> MonitorEvent {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}");
        if let Some(e) = m.recv_timeout(left).unwrap()
            && pred(&e)
        {
            return e;
        }
    }
}

#[test]
fn link_monitor_sees_carrier_and_addresses() {
    mip6_common::require_root!();
    in_netns(|| {
        let mut nl = Netlink::new().unwrap();
        let (a, b) = veth(&mut nl);
        wait_for("carrier on va", || {
            nl.link_info(a).unwrap().carrier.then_some(())
        });
        let mut mon = LinkMonitor::new().unwrap();
        mon.set_nonblocking(true).unwrap();

        nl.set_link_down(b).unwrap();
        let e = next_event(
            &mut mon,
            "va carrier down",
            |e| matches!(e, MonitorEvent::Link(l) if l.index == a && !l.carrier),
        );
        let MonitorEvent::Link(l) = e else {
            unreachable!()
        };
        assert_eq!(l.name, "va");
        assert!(l.up && !l.removed);

        nl.set_link_up(b).unwrap();
        next_event(
            &mut mon,
            "va carrier up",
            |e| matches!(e, MonitorEvent::Link(l) if l.index == a && l.carrier && l.up),
        );

        let x = addr("2001:db8::9");
        let nodad = AddrOptions {
            nodad: true,
            ..AddrOptions::default()
        };
        nl.add_address(a, x, 64, &nodad).unwrap();
        next_event(
            &mut mon,
            "address added",
            |e| matches!(e, MonitorEvent::Address(ad) if ad.addr == x && ad.index == a && !ad.removed && ad.prefix_len == 64),
        );
        nl.del_address(a, x, 64).unwrap();
        next_event(
            &mut mon,
            "address removed",
            |e| matches!(e, MonitorEvent::Address(ad) if ad.addr == x && ad.removed),
        );

        // Drained: non-blocking receive says so.
        while mon
            .recv_timeout(Duration::from_millis(200))
            .unwrap()
            .is_some()
        {}
        let e = mon.recv().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);

        ip("link del va");
        next_event(
            &mut mon,
            "va removed",
            |e| matches!(e, MonitorEvent::Link(l) if l.index == a && l.removed),
        );
    });
}

/// Waits until the kernel's link-local address on `index` has finished DAD.
fn link_local(nl: &mut Netlink, index: u32) -> Ipv6Addr {
    wait_for("a usable link-local address", || {
        nl.list_addresses(index)
            .unwrap()
            .into_iter()
            .find(|i| i.scope == 253 && !i.flags.tentative())
            .map(|i| i.addr)
    })
}

fn solicited_node(target: &Ipv6Addr) -> Ipv6Addr {
    let t = target.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    )
}

/// Receives on `s` until a message satisfies `pred` (others are skipped:
/// the kernel sends its own RS and NS on these links).
fn recv_matching(
    s: &NdSocket,
    what: &str,
    mut pred: impl FnMut(&RecvInfo, &[u8]) -> bool,
) -> (RecvInfo, Vec<u8>) {
    s.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 2048];
    loop {
        match s.recv(&mut buf) {
            Ok(info) => {
                let bytes = &buf[..info.len];
                if pred(&info, bytes) {
                    return (info, bytes.to_vec());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "timed out waiting for {what}");
                poll_in(s.as_raw_fd(), 100);
            }
            Err(e) => panic!("recv: {e}"),
        }
    }
}

fn poll_in(fd: RawFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&raw mut p, 1, ms) > 0 }
}

/// An AF_PACKET socket seeing every IPv6 frame on `ifindex`.
fn packet_capture(ifindex: u32) -> OwnedFd {
    let proto = (libc::ETH_P_IPV6 as u16).to_be();
    // SAFETY: plain socket(2) call; the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            i32::from(proto),
        )
    };
    assert!(fd >= 0, "AF_PACKET socket: {}", io::Error::last_os_error());
    // SAFETY: fd is a fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_ll is plain data; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: pointer and length describe `sll`.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const sll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    assert_eq!(r, 0, "bind AF_PACKET: {}", io::Error::last_os_error());
    fd
}

/// The first captured Ethernet frame satisfying `pred`.
fn capture_matching(fd: &OwnedFd, what: &str, mut pred: impl FnMut(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 2048];
    loop {
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n > 0 {
            let f = &buf[..n as usize];
            if pred(f) {
                return f.to_vec();
            }
            continue;
        }
        assert!(Instant::now() < deadline, "timed out capturing {what}");
        poll_in(fd.as_raw_fd(), 100);
    }
}

#[test]
fn nd_socket_dad_probe_from_unspecified_and_rs_from_link_local() {
    mip6_common::require_root!();
    in_netns(|| {
        let mut nl = Netlink::new().unwrap();
        let (a, b) = veth(&mut nl);
        let ll_a = link_local(&mut nl, a);
        let ll_b = link_local(&mut nl, b);
        let mac_a = nl.link_info(a).unwrap().mac;

        let sa = NdSocket::new("va").unwrap();
        let sb = NdSocket::new("vb").unwrap();
        assert_eq!((sa.ifindex(), sb.ifindex()), (a, b));
        let target = addr("fe80::1234:5678");
        let snm = solicited_node(&target);
        assert_eq!(snm, addr("ff02::1:ff34:5678"));
        sb.join(snm).unwrap();
        sb.join(snm).unwrap(); // idempotent
        // A's own socket listens on the group too: with multicast loop off
        // it must not get its own probe back.
        sa.join(snm).unwrap();
        let cap = packet_capture(b);

        // DAD probe: NS from :: to the solicited-node group, Nonce option
        // (RFC 7527), no source link-layer option.
        let nonce = [1, 2, 3, 4, 5, 6];
        let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
        ns.extend_from_slice(&target.octets());
        ns.extend_from_slice(&[14, 1]);
        ns.extend_from_slice(&nonce);
        let sent = sa.send(&ns, Some(Ipv6Addr::UNSPECIFIED), snm).unwrap();
        assert_eq!(sent, ns.len());

        let is_probe =
            |bytes: &[u8]| bytes.len() == 32 && bytes[0] == 135 && bytes[8..24] == target.octets();
        let (info, got) = recv_matching(&sb, "the DAD probe on vb", |_, b| is_probe(b));
        assert_eq!(
            info.src,
            Ipv6Addr::UNSPECIFIED,
            "source must be ::, A has {ll_a}"
        );
        assert_eq!(info.dst, snm);
        assert_eq!(info.hop_limit, 255);
        assert_eq!(info.ifindex, b);
        assert!(checksum::verify(&info.src, &info.dst, 58, &got));
        assert_eq!(&got[4..], &ns[4..]);

        // On the wire: 33:33 multicast MAC, IPv6 src ::, hop limit 255.
        let frame = capture_matching(&cap, "the DAD probe frame", |f| {
            f.len() >= 14 + 40 + 32
                && f[12..14] == [0x86, 0xdd]
                && f[20] == 58
                && is_probe(&f[54..])
        });
        assert_eq!(&frame[0..6], &[0x33, 0x33, 0xff, 0x34, 0x56, 0x78]);
        assert_eq!(&frame[6..12], &mac_a[..]);
        assert_eq!(frame[21], 255);
        assert_eq!(&frame[22..38], &[0u8; 16]);
        assert_eq!(&frame[38..54], &snm.octets());
        assert!(checksum::verify(
            &Ipv6Addr::UNSPECIFIED,
            &snm,
            58,
            &frame[54..86]
        ));

        // RS from A's link-local, with the source link-layer option; the
        // kernel fills in the checksum.
        sb.join(addr("ff02::2")).unwrap();
        sa.join(addr("ff02::2")).unwrap();
        let mut rs = vec![133, 0, 0, 0, 0, 0, 0, 0, 1, 1];
        rs.extend_from_slice(&mac_a);
        sa.send(&rs, Some(ll_a), addr("ff02::2")).unwrap();
        let (info, got) = recv_matching(&sb, "our RS", |i, b| {
            b[0] == 133 && i.src == ll_a && b.len() == 16 && b[10..16] == mac_a[..]
        });
        assert_eq!(info.dst, addr("ff02::2"));
        assert_eq!(info.hop_limit, 255);
        assert!(checksum::verify(&info.src, &info.dst, 58, &got));

        // Unicast also leaves with hop limit 255. A MIPv6 ICMP type (144,
        // DHAAD request) sent first is filtered out of the ND-only socket
        // but reaches one that asked for it.
        let mut types = ND_TYPES.to_vec();
        types.extend_from_slice(&MIPV6_TYPES);
        let sb2 = NdSocket::with_types("vb", &types).unwrap();
        let dhaad = [144, 0, 0, 0, 0x12, 0x34, 0, 0];
        sa.send(&dhaad, None, ll_b).unwrap();
        let mut na = vec![136, 0, 0, 0, 0x20, 0, 0, 0];
        na.extend_from_slice(&ll_a.octets());
        sa.send(&na, Some(ll_a), ll_b).unwrap();
        let (info, _) = recv_matching(&sb2, "DHAAD request on vb", |_, b| b[0] == 144);
        assert_eq!((info.src, info.dst, info.hop_limit), (ll_a, ll_b, 255));
        let (info, got) = recv_matching(&sb, "unsolicited NA on vb", |i, b| {
            assert_ne!(b[0], 144, "filter let a type 144 through");
            i.src == ll_a && b[0] == 136
        });
        assert_eq!((info.dst, info.hop_limit), (ll_b, 255));
        assert_eq!(&got[8..24], &ll_a.octets());

        // Unicast from :: takes the header-included path (A has an address,
        // so the kernel's routing lookup succeeds).
        let mut uns = vec![135, 0, 0, 0, 0, 0, 0, 0];
        uns.extend_from_slice(&ll_b.octets());
        sa.send(&uns, Some(Ipv6Addr::UNSPECIFIED), ll_b).unwrap();
        let (info, got) = recv_matching(&sb, "unicast NS from ::", |i, b| {
            b[0] == 135 && i.src.is_unspecified() && i.dst == ll_b
        });
        assert_eq!(info.hop_limit, 255);
        assert!(checksum::verify(&info.src, &info.dst, 58, &got));

        // A never saw its own probe or RS (multicast loop off).
        sa.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        while let Ok(i) = sa.recv(&mut buf) {
            assert!(!is_probe(&buf[..i.len]), "own DAD probe looped back");
            assert!(
                !(buf[0] == 133 && i.src == ll_a && buf[10..16] == mac_a[..]),
                "own RS looped back"
            );
        }

        sb.leave(snm).unwrap();
        sb.leave(snm).unwrap(); // idempotent
        assert!(sb.join(addr("2001:db8::1")).is_err());
    });
}

#[test]
fn nd_socket_sends_from_unspecified_without_any_address() {
    mip6_common::require_root!();
    // No link-local at all (addr_gen_mode none before the first up): the
    // header-included path still sends, and an RS from :: leaves as such.
    in_netns(|| {
        let mut nl = Netlink::new().unwrap();
        ip("link add va type veth peer name vb");
        let a = nl.link_index("va").unwrap();
        let b = nl.link_index("vb").unwrap();
        sysctl::write("va", "addr_gen_mode", "1").unwrap();
        nl.set_link_up(a).unwrap();
        nl.set_link_up(b).unwrap();
        let _ = link_local(&mut nl, b);
        assert!(nl.list_addresses(a).unwrap().is_empty());
        let sa = NdSocket::new("va").unwrap();
        let sb = NdSocket::new("vb").unwrap();
        sb.join(addr("ff02::2")).unwrap();
        let rs = [133, 0, 0, 0, 0, 0, 0, 0];
        sa.send(&rs, Some(Ipv6Addr::UNSPECIFIED), addr("ff02::2"))
            .unwrap();
        let (info, got) = recv_matching(&sb, "RS from ::", |i, b| {
            b[0] == 133 && i.src.is_unspecified()
        });
        assert_eq!(info.hop_limit, 255);
        assert!(checksum::verify(&info.src, &info.dst, 58, &got));
    });
}

#[test]
fn sysctl_guard_restores_on_drop_and_restore() {
    mip6_common::require_root!();
    in_netns(|| {
        let mut nl = Netlink::new().unwrap();
        let (a, _) = veth(&mut nl);
        let keys = ["accept_ra", "autoconf", "addr_gen_mode", "accept_dad"];
        // Known starting values (a host may make new namespaces inherit its
        // own through net.core.devconf_inherit_init_net).
        for (k, v) in keys.iter().zip(["1", "1", "0", "1"]) {
            sysctl::write("va", k, v).unwrap();
        }
        sysctl::write("va", "proxy_ndp", "0").unwrap();
        sysctl::write("all", "forwarding", "0").unwrap();
        sysctl::write("va", "forwarding", "0").unwrap();
        sysctl::write("vb", "disable_ipv6", "0").unwrap();
        let before: Vec<String> = keys
            .iter()
            .map(|k| sysctl::read("va", k).unwrap())
            .collect();
        assert_eq!(before, ["1", "1", "0", "1"]);
        let proxy_delay = sysctl::neigh_path("va", "proxy_delay").unwrap();
        sysctl::write_path(&proxy_delay, "80").unwrap();
        let delay_before = sysctl::read_path(&proxy_delay).unwrap();
        {
            let mut g = SysctlGuard::new();
            g.disable_kernel_autoconf("va").unwrap();
            let now: Vec<String> = keys
                .iter()
                .map(|k| sysctl::read("va", k).unwrap())
                .collect();
            assert_eq!(now, ["0", "0", "1", "0"]);
            g.set("va", "proxy_ndp", "1").unwrap();
            g.set("all", "forwarding", "1").unwrap();
            g.set("va", "accept_dad", "2").unwrap(); // second change of a key
            g.set_path(proxy_delay.clone(), "0").unwrap();
            assert_eq!(sysctl::read("all", "forwarding").unwrap(), "1");
            assert_eq!(sysctl::read_path(&proxy_delay).unwrap(), "0");
            assert_eq!(g.saved().len(), 7);
        }
        let after: Vec<String> = keys
            .iter()
            .map(|k| sysctl::read("va", k).unwrap())
            .collect();
        assert_eq!(after, before);
        assert_eq!(sysctl::read("va", "proxy_ndp").unwrap(), "0");
        assert_eq!(sysctl::read("all", "forwarding").unwrap(), "0");
        assert_eq!(sysctl::read_path(&proxy_delay).unwrap(), delay_before);

        // Explicit restore, and a guard that outlives its interface.
        let mut g = SysctlGuard::new();
        g.set("vb", "disable_ipv6", "1").unwrap();
        g.set("va", "forwarding", "1").unwrap();
        g.restore().unwrap();
        assert_eq!(sysctl::read("vb", "disable_ipv6").unwrap(), "0");
        assert_eq!(sysctl::read("va", "forwarding").unwrap(), "0");
        g.set("va", "hop_limit", "32").unwrap();
        ip("link del va");
        g.restore().unwrap();
        assert!(g.saved().is_empty());
        let _ = a;

        let e = sysctl::read("nosuchlink", "accept_ra").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(
            e.to_string()
                .contains("/proc/sys/net/ipv6/conf/nosuchlink/accept_ra"),
            "{e}"
        );
    });
}

#[test]
fn addr_gen_mode_none_takes_effect_on_next_up() {
    mip6_common::require_root!();
    // What `disable_kernel_autoconf` documents: the kernel keeps a
    // link-local it already made; down/up flushes it and makes none.
    in_netns(|| {
        let mut nl = Netlink::new().unwrap();
        let (a, _) = veth(&mut nl);
        let has_ll =
            |nl: &mut Netlink| nl.list_addresses(a).unwrap().iter().any(|i| i.scope == 253);
        wait_for("kernel link-local", || has_ll(&mut nl).then_some(()));
        let mut g = SysctlGuard::new();
        g.disable_kernel_autoconf("va").unwrap();
        assert!(
            has_ll(&mut nl),
            "changing addr_gen_mode keeps the old link-local"
        );
        nl.set_link_down(a).unwrap();
        nl.set_link_up(a).unwrap();
        thread::sleep(Duration::from_millis(200));
        assert!(!has_ll(&mut nl), "no link-local after down/up");
    });
}
