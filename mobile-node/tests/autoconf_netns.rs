//! `mip6-mn autoconf` for real, in network namespaces: against the project's
//! own RA sender and against radvd, against the Linux kernel as a DAD peer,
//! and timed against the kernel's own SLAAC in the same run.
//!
//! Run as root (CI does). Every lab is removed on success, failure and
//! interruption by the harness.

mod support;

use mip6_common::addr::{InterfaceId, Mac, SecretKey, StableIdGenerator};
use mip6_common::sys::netlink::{LinkMonitor, MonitorEvent, Netlink};
use mip6_testbed::harness::{Iface, Lab, Node, NodeOptions};
use serde_json::Value;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{MN, OwnRouter, in_prefix};

const PREFIX: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 0);

/// A link with a router and the host under test (and a Linux peer).
/// Fields drop in order: the RA sender stops before the lab goes.
struct Net {
    /// Our RA sender on the router, advertising [`PREFIX`], when asked for.
    _ra: Option<OwnRouter>,
    lab: Lab,
    router: Node,
    host: Node,
    host_eth: Iface,
    peer: Node,
    peer_eth: Iface,
}

/// The link, the router silent (a test may run its own advertiser).
fn net(tag: &str) -> Net {
    let lab = Lab::new(tag).expect("lab");
    let fast = NodeOptions::default().no_dad_delay();
    let router = lab.node_with("rtr", &fast).expect("router");
    let host = lab.node_with("mn", &fast).expect("host");
    let peer = lab
        .node_with("peer", &fast.clone().accept_ra(0))
        .expect("peer");
    let lan = lab.link("lan").expect("link");
    let r_eth = lab.attach(&router, &lan, "eth0").expect("attach router");
    let host_eth = lab.attach(&host, &lan, "eth0").expect("attach host");
    let peer_eth = lab.attach(&peer, &lan, "eth0").expect("attach peer");
    let t = lab.timeouts().addr;
    r_eth.wait_link_local(t).expect("router link-local");
    peer_eth.wait_link_local(t).expect("peer link-local");
    Net {
        _ra: None,
        lab,
        router,
        host,
        host_eth,
        peer,
        peer_eth,
    }
}

/// The link, the router advertising [`PREFIX`] with our RA sender.
fn net_with_ra(tag: &str) -> Net {
    let mut n = net(tag);
    n._ra = Some(OwnRouter::start(&n.router, "eth0", PREFIX));
    n
}

impl Net {
    /// The secret of stable identifiers, in the lab's directory.
    fn secret(&self) -> PathBuf {
        self.lab.workdir().join("stable-secret")
    }

    /// `mip6-mn autoconf` on the host with stable identifiers from
    /// [`Net::secret`], and `extra` arguments.
    fn autoconf_stable(&self, extra: &[&str]) -> Run {
        let secret = self.secret();
        let mut args = vec![
            "--mode",
            "stable",
            "--secret-file",
            secret.to_str().expect("path"),
        ];
        args.extend_from_slice(extra);
        autoconf(&self.host, &args)
    }

    /// The Linux peer puts `addr`/64 on its interface (its kernel runs DAD).
    fn peer_adds(&self, addr: Ipv6Addr, what: &str) {
        self.peer
            .exec(&[
                "ip",
                "-6",
                "addr",
                "add",
                &format!("{addr}/64"),
                "dev",
                "eth0",
            ])
            .expect(what);
    }

    /// The Linux peer holds `addr`, its DAD over.
    fn peer_takes(&self, addr: Ipv6Addr) {
        self.peer_adds(addr, "peer takes the address");
        self.peer_eth
            .wait_addr_ready(addr, self.lab.timeouts().addr)
            .expect("peer's kernel finished its DAD");
    }
}

/// What one `mip6-mn autoconf --json` run printed, and whether it succeeded.
struct Run {
    ok: bool,
    events: Vec<Value>,
    stderr: String,
}

impl Run {
    fn of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }

    /// The moment (ms after link up) an address of the given scope reached
    /// `state`.
    fn reached(&self, link_local: bool, state: &str) -> Option<(Ipv6Addr, f64)> {
        self.of("address")
            .into_iter()
            .find(|e| e["link_local"] == link_local && e["to"] == state)
            .map(|e| {
                (
                    e["addr"]
                        .as_str()
                        .and_then(|a| a.parse().ok())
                        .expect("addr"),
                    e["t_ms"].as_f64().expect("t_ms"),
                )
            })
    }

    fn outcome(&self) -> String {
        self.of("done")
            .first()
            .and_then(|d| d["outcome"].as_str())
            .unwrap_or("no done event")
            .to_string()
    }
}

fn autoconf(node: &Node, args: &[&str]) -> Run {
    let mut argv = vec![MN, "autoconf", "eth0", "--json", "--timeout", "20"];
    argv.extend_from_slice(args);
    let out = node
        .output_timeout(&argv, Duration::from_secs(60))
        .expect("run mip6-mn autoconf");
    let events = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    Run {
        ok: out.status.success(),
        events,
        stderr: out.stderr,
    }
}

fn globals(iface: &Iface) -> Vec<(Ipv6Addr, mip6_testbed::harness::AddrInfo)> {
    iface
        .addrs6()
        .expect("addresses")
        .into_iter()
        .filter_map(|a| match a.local {
            IpAddr::V6(v6) if a.scope == "global" => Some((v6, a)),
            _ => None,
        })
        .collect()
}

fn flush(node: &Node) {
    node.cmd("ip -6 addr flush dev eth0 scope global")
        .expect("flush");
}

fn eui64_iid(iface: &Iface) -> InterfaceId {
    let mac: Mac = iface.mac().expect("mac").parse().expect("MAC syntax");
    InterfaceId::from_mac(mac)
}

fn iid_of(a: &Ipv6Addr) -> [u8; 8] {
    let mut iid = [0; 8];
    iid.copy_from_slice(&a.octets()[8..]);
    iid
}

fn stable_addr(secret: &Path, prefix: Ipv6Addr, counter: u8) -> Ipv6Addr {
    let key = SecretKey::load_or_create(secret).expect("secret key");
    let iid = StableIdGenerator::new(&key)
        .generate(prefix, b"eth0", None, counter)
        .expect("stable iid")
        .iid;
    let mut o = prefix.octets();
    o[8..].copy_from_slice(&iid.octets());
    Ipv6Addr::from(o)
}

fn assert_configured(run: &Run, what: &str) -> Ipv6Addr {
    assert!(
        run.ok && run.outcome() == "configured",
        "{what}: outcome {:?}\nstderr: {}\nevents: {:#?}",
        run.outcome(),
        run.stderr,
        run.events
    );
    run.reached(true, "preferred")
        .expect("link-local preferred");
    run.reached(false, "preferred")
        .map(|(a, _)| a)
        .unwrap_or_else(|| panic!("{what}: no global address: {:#?}", run.events))
}

#[test]
fn every_identifier_mode_configures_from_our_ra_sender() {
    mip6_common::require_root!();
    let n = net_with_ra("acmodes");
    let secret = n.secret();
    let secret_arg = secret.to_str().expect("utf-8 path");
    let mut seen = Vec::new();
    for mode in ["eui64", "stable", "random"] {
        for round in 0..2 {
            flush(&n.host);
            let run = autoconf(&n.host, &["--mode", mode, "--secret-file", secret_arg]);
            let g = assert_configured(&run, mode);
            assert!(in_prefix(&g, &PREFIX), "{mode}: {g} not in {PREFIX}/64");
            // Installed as the engine said: no kernel DAD, the RA's
            // lifetimes, no kernel prefix route.
            let installed = globals(&n.host_eth);
            let (_, info) = installed
                .iter()
                .find(|(a, _)| *a == g)
                .unwrap_or_else(|| panic!("{mode}: {g} not on the interface: {installed:?}"));
            assert!(info.nodad && !info.tentative, "{mode}: {info:?}");
            let valid = info.valid_life_time.expect("valid lifetime");
            let preferred = info.preferred_life_time.expect("preferred lifetime");
            assert!((86380..=86400).contains(&valid), "{mode}: valid {valid}");
            assert!(
                (14380..=14400).contains(&preferred),
                "{mode}: preferred {preferred}"
            );
            let routes = n.host.cmd("ip -6 route show default").expect("routes");
            assert!(
                routes.contains("via fe80::"),
                "{mode}: no default route: {routes}"
            );
            match mode {
                "eui64" => assert_eq!(iid_of(&g), eui64_iid(&n.host_eth).octets()),
                "stable" => assert_eq!(g, stable_addr(&secret, PREFIX, 0)),
                _ => assert_ne!(iid_of(&g), eui64_iid(&n.host_eth).octets()),
            }
            seen.push((mode, round, g));
        }
    }
    // EUI-64 and stable identifiers are the same each time; random ones not.
    for mode in ["eui64", "stable", "random"] {
        let v: Vec<_> = seen.iter().filter(|s| s.0 == mode).map(|s| s.2).collect();
        assert_eq!(v[0] == v[1], mode != "random", "{mode}: {v:?}");
    }
}

#[test]
fn radvd_advertisements_configure_addresses_with_their_lifetimes() {
    mip6_common::require_root!();
    let n = net("acradvd");
    let conf = n.lab.workdir().join("radvd.conf");
    std::fs::write(
        &conf,
        "interface eth0 {\n AdvSendAdvert on;\n MinRtrAdvInterval 3;\n MaxRtrAdvInterval 4;\n \
         AdvHomeAgentFlag on;\n prefix 2001:db8:b::/64 {\n  AdvValidLifetime 7200;\n  \
         AdvPreferredLifetime 3600;\n };\n};\n",
    )
    .expect("radvd.conf");
    let pid = n.lab.workdir().join("radvd.pid");
    let _radvd = n
        .router
        .spawn(&[
            "radvd",
            "-n",
            "-m",
            "stderr",
            "-C",
            conf.to_str().expect("path"),
            "-p",
            pid.to_str().expect("path"),
        ])
        .expect("radvd");
    let run = n.autoconf_stable(&[]);
    let g = assert_configured(&run, "radvd");
    assert!(in_prefix(&g, &"2001:db8:b::".parse().expect("prefix")));
    let flags = run.of("router_flags");
    assert_eq!(flags[0]["home_agent"], true, "radvd's H flag: {flags:?}");
    let (_, info) = globals(&n.host_eth)
        .into_iter()
        .find(|(a, _)| *a == g)
        .expect("installed");
    let valid = info.valid_life_time.expect("valid");
    let preferred = info.preferred_life_time.expect("preferred");
    assert!((7180..=7200).contains(&valid), "valid {valid}");
    assert!((3580..=3600).contains(&preferred), "preferred {preferred}");
}

#[test]
fn stable_identifier_taken_by_a_linux_host_retries_with_the_next_counter() {
    mip6_common::require_root!();
    let n = net_with_ra("acdupst");
    let secret = n.secret();
    let taken = stable_addr(&secret, PREFIX, 0);
    n.peer_takes(taken);
    let run = n.autoconf_stable(&[]);
    let conflicts = run.of("dad_conflict");
    assert_eq!(conflicts.len(), 1, "{:#?}", run.events);
    assert_eq!(conflicts[0]["addr"], taken.to_string());
    let retry = stable_addr(&secret, PREFIX, 1);
    assert_eq!(conflicts[0]["retry"], retry.to_string());
    let g = assert_configured(&run, "after a conflict");
    assert_eq!(g, retry);
    // The Linux host keeps its address: we backed off.
    let peer_has = globals(&n.peer_eth);
    assert!(peer_has.iter().any(|(a, i)| *a == taken && !i.dadfailed));
}

#[test]
fn random_identifier_taken_by_a_linux_host_draws_again() {
    mip6_common::require_root!();
    let n = net_with_ra("acduprnd");
    // Same seed, same draws: the first run shows which address the second
    // will try first.
    let first = autoconf(&n.host, &["--mode", "random", "--seed", "4242", "--remove"]);
    let taken = assert_configured(&first, "first run");
    n.peer_takes(taken);
    let second = autoconf(&n.host, &["--mode", "random", "--seed", "4242"]);
    let conflicts = second.of("dad_conflict");
    assert_eq!(conflicts.len(), 1, "{:#?}", second.events);
    assert_eq!(conflicts[0]["addr"], taken.to_string());
    let g = assert_configured(&second, "second run");
    assert_ne!(g, taken);
    assert!(in_prefix(&g, &PREFIX));
}

#[test]
fn eui64_link_local_taken_by_a_linux_host_disables_ipv6() {
    mip6_common::require_root!();
    let n = net("acdupll");
    let mut o = [0u8; 16];
    o[..2].copy_from_slice(&[0xfe, 0x80]);
    o[8..].copy_from_slice(&eui64_iid(&n.host_eth).octets());
    let ll = Ipv6Addr::from(o);
    // The host's kernel made that very address at link-up; it must go first
    // or the peer's own DAD would (rightly) fail against it.
    n.host
        .sysctl("net.ipv6.conf.eth0.addr_gen_mode", "1")
        .expect("sysctl");
    n.host
        .cmd("ip -6 addr flush dev eth0 scope link")
        .expect("flush link-local");
    n.peer_takes(ll);
    let run = autoconf(&n.host, &["--mode", "eui64"]);
    assert!(!run.ok, "must fail: {:#?}", run.events);
    assert_eq!(run.of("ipv6_disabled").len(), 1, "{:#?}", run.events);
    assert_eq!(
        n.host
            .read_sysctl("net.ipv6.conf.eth0.disable_ipv6")
            .expect("sysctl")
            .trim(),
        "1"
    );
}

#[test]
fn a_linux_host_probing_our_address_sees_a_duplicate() {
    mip6_common::require_root!();
    let n = net_with_ra("acdefend");
    let run = n.autoconf_stable(&[]);
    let ours = assert_configured(&run, "host");
    n.peer_adds(ours, "peer tries our address");
    n.peer_eth
        .wait_addr(
            "the peer's copy of our address marked dadfailed",
            n.lab.timeouts().addr,
            |a| a.local == IpAddr::V6(ours) && a.dadfailed,
        )
        .expect("the kernel on the peer detected us");
}

/// Milliseconds from link up until the kernel's own SLAAC makes a global
/// address usable, watched through netlink inside the namespace.
fn kernel_slaac_ms(node: &Node) -> f64 {
    node.run_in(|| {
        let mut nl = Netlink::new().expect("netlink");
        let idx = nl.link_index("eth0").expect("eth0");
        let mut mon = LinkMonitor::new().expect("monitor");
        let start = Instant::now();
        nl.set_link_up(idx).expect("link up");
        loop {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "kernel SLAAC never finished"
            );
            let Some(ev) = mon
                .recv_timeout(Duration::from_millis(500))
                .expect("monitor")
            else {
                continue;
            };
            if let MonitorEvent::Address(a) = ev
                && a.index == idx
                && !a.removed
                && a.addr.segments()[0] & 0xffc0 != 0xfe80
                && !a.flags.tentative()
            {
                return start.elapsed().as_secs_f64() * 1000.0;
            }
        }
    })
    .expect("enter namespace")
}

#[test]
fn link_up_to_usable_address_against_the_kernel() {
    mip6_common::require_root!();
    let n = net_with_ra("actiming");
    let standard = n.autoconf_stable(&["--remove"]);
    assert_configured(&standard, "standard DAD");
    let (_, std_ms) = standard.reached(false, "preferred").expect("preferred");
    let ra_ms = standard.of("ra_received")[0]["t_ms"].as_f64().expect("t");
    let optimistic = n.autoconf_stable(&["--optimistic", "--remove"]);
    assert_configured(&optimistic, "optimistic DAD");
    let (_, opt_ms) = optimistic
        .reached(false, "optimistic")
        .expect("usable while optimistic");
    // The kernel doing the same job on the same link: its own SLAAC and
    // DAD (RetransTimer 1 s, no solicitation delay), on the peer.
    n.peer
        .sysctls(&[
            ("net.ipv6.conf.eth0.accept_ra", "2"),
            ("net.ipv6.conf.eth0.autoconf", "1"),
        ])
        .expect("kernel SLAAC on");
    n.peer.cmd("ip link set eth0 down").expect("down");
    let kernel_ms = kernel_slaac_ms(&n.peer);
    println!(
        "link up -> usable global address: standard DAD {std_ms:.1} ms (RA after {ra_ms:.1} ms), \
         optimistic DAD {opt_ms:.1} ms, kernel SLAAC {kernel_ms:.1} ms; ours/kernel = {:.2}",
        std_ms / kernel_ms
    );
    // RetransTimer is 1 s: standard DAD cannot be faster, and must not be
    // much slower than one RS/RA exchange more.
    assert!((1000.0..2500.0).contains(&std_ms), "standard {std_ms} ms");
    assert!(opt_ms < 500.0, "optimistic {opt_ms} ms");
    assert!(
        std_ms < kernel_ms,
        "ours {std_ms} ms, kernel {kernel_ms} ms"
    );
}

#[test]
fn watch_follows_carrier_loss_and_return() {
    mip6_common::require_root!();
    let n = net_with_ra("acwatch");
    let secret = n.secret();
    let mut child = n
        .host
        .spawn(&[
            MN,
            "autoconf",
            "eth0",
            "--json",
            "--watch",
            "--remove",
            "--mode",
            "stable",
            "--secret-file",
            secret.to_str().expect("path"),
        ])
        .expect("spawn autoconf --watch");
    let t = Duration::from_secs(15);
    let global = stable_addr(&secret, PREFIX, 0);
    let preferred = format!(r#""addr":"{global}","event":"address","from":"tentative""#);
    child.wait_log(&preferred, t).expect("first address");
    // Carrier off from the switch side, as when a cable is pulled.
    n.host_eth.set_down().expect("carrier off");
    child
        .wait_log(r#""event":"link_down""#, t)
        .expect("link down seen");
    n.host_eth
        .wait_addr_gone(global, t)
        .expect("addresses taken away with the link");
    n.host_eth.set_up().expect("carrier on");
    let log_before = child.log().matches(&preferred).count();
    wait_until(t, || child.log().matches(&preferred).count() > log_before);
    n.host_eth
        .wait_addr_ready(global, t)
        .expect("the same stable address again");
    let status = child.stop().expect("stop");
    assert!(
        status.success(),
        "SIGTERM must end a watch cleanly: {status:?}"
    );
    // --remove: nothing of ours is left, and the kernel has its settings back.
    assert!(globals(&n.host_eth).iter().all(|(a, _)| *a != global));
    assert_eq!(
        n.host
            .read_sysctl("net.ipv6.conf.eth0.accept_ra")
            .expect("sysctl")
            .trim(),
        "1"
    );
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < timeout,
            "condition not met in {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
