//! `mip6-mn autoconf --dhcpv6` against real DHCPv6 servers, dnsmasq and ISC
//! Kea, in network namespaces: a lease obtained (with Rapid Commit), DAD on
//! it declining an address a Linux host already holds and leasing another,
//! renewed at T1, released on leaving.
//!
//! Run as root (CI does; `.ci/run` installs dnsmasq-base and
//! kea-dhcp6-server). The servers are started inside the test's router
//! namespace and stopped with it; every lab is removed on success, failure
//! and interruption by the harness.

mod support;

use mip6_testbed::dhcp6_server::{DhcpServer as Server, DhcpSettings, start};
use mip6_testbed::harness::{Child, Iface, Lab, Node, NodeOptions};
use serde_json::Value;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;
use support::{MN, OwnRouter};

const PREFIX: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xd, 0, 0, 0, 0, 0);
const ROUTER_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xd, 0, 0, 0, 0, 1);
const DNS: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xd, 0, 0, 0, 0, 0x53);
const POOL_FIRST: u16 = 0x100;
const POOL_LAST: u16 = 0x1ff;

/// A managed link: our RA sender (M=1, O=1, prefix on-link, not
/// autonomous) and a DHCPv6 server on the router, the host under test, and
/// a Linux peer. Fields drop in order: server and RA sender stop before the
/// lab goes.
struct Net {
    server: Child,
    _ra: OwnRouter,
    lab: Lab,
    host: Node,
    host_eth: Iface,
    peer: Node,
    peer_eth: Iface,
}

fn net(tag: &str, kind: Server) -> Net {
    net_with(tag, kind, true)
}

/// `managed`: RAs with M=1 and the prefix not autonomous; else a plain
/// SLAAC link (the server runs all the same, unasked).
fn net_with(tag: &str, kind: Server, managed: bool) -> Net {
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
    router
        .exec(&[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("{ROUTER_ADDR}/64"),
            "dev",
            "eth0",
            "nodad",
        ])
        .expect("router address");
    let ra = if managed {
        OwnRouter::start_managed(&router, "eth0", PREFIX)
    } else {
        OwnRouter::start(&router, "eth0", PREFIX)
    };
    let server = start_server(&lab, &router, kind);
    Net {
        server,
        _ra: ra,
        lab,
        host,
        host_eth,
        peer,
        peer_eth,
    }
}

fn pool_addr(low: u16) -> Ipv6Addr {
    let mut s = PREFIX.segments();
    s[7] = low;
    Ipv6Addr::from(s)
}

fn start_server(lab: &Lab, router: &Node, kind: Server) -> Child {
    let mut settings = DhcpSettings::for_link(kind, "eth0", PREFIX);
    settings.pool = (pool_addr(POOL_FIRST), pool_addr(POOL_LAST));
    settings.dns = Some(DNS);
    // Kea renews at 5 s; dnsmasq's floor is 120 s (T1 at 60 s).
    settings.valid_s = 10;
    start(router, lab.workdir(), &settings).expect("DHCPv6 server up")
}

/// What one `mip6-mn autoconf --json` run printed.
struct Run {
    ok: bool,
    events: Vec<Value>,
    raw: String,
}

impl Run {
    fn parse(ok: bool, stdout: &str, stderr: &str) -> Run {
        let events = stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        Run {
            ok,
            events,
            raw: format!("{stdout}\n{stderr}"),
        }
    }

    fn of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }

    fn addrs(&self, kind: &str) -> Vec<Ipv6Addr> {
        self.of(kind)
            .iter()
            .filter_map(|e| e["addr"].as_str()?.parse().ok())
            .collect()
    }

    fn outcome(&self) -> String {
        self.of("done")
            .first()
            .and_then(|d| d["outcome"].as_str())
            .unwrap_or("no done event")
            .to_string()
    }
}

fn autoconf(node: &Node, extra: &[&str]) -> Run {
    let mut argv = vec!["--dhcpv6"];
    argv.extend_from_slice(extra);
    autoconf_plain(node, &argv)
}

/// `mip6-mn autoconf` with `extra` and no mode forced.
fn autoconf_plain(node: &Node, extra: &[&str]) -> Run {
    let mut argv = vec![
        MN,
        "autoconf",
        "eth0",
        "--json",
        "--timeout",
        "30",
        "--mode",
        "random",
    ];
    argv.extend_from_slice(extra);
    let out = node
        .output_timeout(&argv, Duration::from_secs(60))
        .expect("run mip6-mn autoconf");
    Run::parse(out.status.success(), &out.stdout, &out.stderr)
}

/// The global addresses on `iface`, with (nodad, tentative, valid lifetime).
fn globals(iface: &Iface) -> Vec<(Ipv6Addr, u8, bool, bool, Option<u64>)> {
    iface
        .addrs6()
        .expect("addresses")
        .into_iter()
        .filter_map(|a| match a.local {
            IpAddr::V6(v6) if a.scope == "global" => {
                Some((v6, a.prefixlen, a.nodad, a.tentative, a.valid_life_time))
            }
            _ => None,
        })
        .collect()
}

fn in_pool(a: Ipv6Addr) -> bool {
    let s = a.segments();
    s[..7] == PREFIX.segments()[..7] && (POOL_FIRST..=POOL_LAST).contains(&s[7])
}

fn flush(node: &Node) {
    node.cmd("ip -6 addr flush dev eth0 scope global")
        .expect("flush");
}

/// Lease obtained, declined after a DAD conflict, renewed, released: the
/// whole life of a DHCPv6 care-of address against one server.
fn lease_life(kind: Server, tag: &str, renew_wait: Duration) {
    let mut n = net(tag, kind);
    let [m_alloc, m_renew, m_decline, m_release] = kind.log_markers();

    // 1. Obtained in two messages, DAD run on it, installed as a /128.
    let run = autoconf(&n.host, &[]);
    assert!(
        run.ok && run.outcome() == "configured",
        "{kind:?}: {}\n{}",
        run.outcome(),
        run.raw
    );
    let leased = run.of("dhcp6_leased");
    let first = leased
        .first()
        .unwrap_or_else(|| panic!("{kind:?}: no lease\n{}", run.raw));
    assert_eq!(first["rapid_commit"], true, "{kind:?}: {first}");
    let a: Ipv6Addr = first["addr"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("addr");
    assert!(in_pool(a), "{kind:?}: {a} not from the pool");
    assert!(
        run.of("dhcp6_dns")
            .iter()
            .any(|e| e["servers"][0] == DNS.to_string()),
        "{kind:?}: no DNS server\n{}",
        run.raw
    );
    assert!(
        run.of("address")
            .iter()
            .any(|e| e["addr"] == a.to_string() && e["to"] == "preferred"),
        "{kind:?}: DAD did not finish on {a}\n{}",
        run.raw
    );
    let on = globals(&n.host_eth);
    let (_, len, nodad, tentative, valid) = *on
        .iter()
        .find(|g| g.0 == a)
        .unwrap_or_else(|| panic!("{kind:?}: {a} not on the interface: {on:?}"));
    assert_eq!(len, 128, "{kind:?}");
    assert!(
        nodad && !tentative,
        "{kind:?}: DAD is ours, not the kernel's"
    );
    assert!(
        valid.is_some_and(|v| v <= 120),
        "{kind:?}: lease lifetime {valid:?}"
    );
    // The address works: the router answers from the managed prefix.
    let ping = n.host.exec(&[
        "ping",
        "-6",
        "-c",
        "1",
        "-W",
        "3",
        "-I",
        &a.to_string(),
        &ROUTER_ADDR.to_string(),
    ]);
    assert!(ping.is_ok(), "{kind:?}: ping from {a}: {ping:?}");
    assert!(
        n.server.log().contains(m_alloc),
        "{kind:?}: {}",
        n.server.log()
    );

    // 2. A Linux host holds the address the server offers us again: DAD
    // finds it, we Decline and lease another.
    flush(&n.host);
    n.peer
        .exec(&["ip", "-6", "addr", "add", &format!("{a}/64"), "dev", "eth0"])
        .expect("peer takes the address");
    n.peer_eth
        .wait_addr_ready(a, n.lab.timeouts().addr)
        .expect("peer's DAD over");
    let run = autoconf(&n.host, &[]);
    assert!(
        run.ok && run.outcome() == "configured",
        "{kind:?} decline: {}\n{}",
        run.outcome(),
        run.raw
    );
    assert_eq!(
        run.addrs("dhcp6_declined"),
        vec![a],
        "{kind:?}\n{}",
        run.raw
    );
    assert!(
        run.of("dad_conflict")
            .iter()
            .any(|e| e["addr"] == a.to_string()),
        "{kind:?}\n{}",
        run.raw
    );
    let b = *run
        .addrs("dhcp6_leased")
        .last()
        .unwrap_or_else(|| panic!("{kind:?}: no second lease\n{}", run.raw));
    assert_ne!(
        a, b,
        "{kind:?}: the server offered the declined address again"
    );
    let on = globals(&n.host_eth);
    assert!(on.iter().any(|g| g.0 == b), "{kind:?}: {b} not on: {on:?}");
    assert!(!on.iter().any(|g| g.0 == a), "{kind:?}: {a} kept: {on:?}");
    n.lab
        .wait_until(
            &format!("{kind:?} logs the decline"),
            Duration::from_secs(5),
            || {
                Ok(if n.server.log().contains(m_decline) {
                    Ok(())
                } else {
                    Err("not yet".to_string())
                })
            },
        )
        .unwrap_or_else(|_| panic!("{}", n.server.log()));

    // 3. Renewed at T1 while running; released on leaving (SIGTERM with
    // --remove): the address goes and the server hears it.
    flush(&n.host);
    let mut child = n
        .host
        .spawn(&[
            MN, "autoconf", "eth0", "--json", "--mode", "random", "--dhcpv6", "--watch", "--remove",
        ])
        .expect("spawn autoconf --watch");
    child
        .wait_log("\"dhcp6_renewed\"", renew_wait)
        .unwrap_or_else(|e| panic!("{kind:?}: no renewal: {e}\n{}", child.log()));
    let log_path = child.log_path().to_path_buf();
    let status = child.stop().expect("stop autoconf");
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(status.success(), "{kind:?}: {status}\n{log}");
    assert!(
        log.contains("\"dhcp6_released\""),
        "{kind:?}: no release\n{log}"
    );
    let on = globals(&n.host_eth);
    assert!(
        !on.iter().any(|g| in_pool(g.0)),
        "{kind:?}: lease kept: {on:?}"
    );
    n.lab
        .wait_until(
            &format!("{kind:?} logs the release"),
            Duration::from_secs(5),
            || {
                Ok(if n.server.log().contains(m_release) {
                    Ok(())
                } else {
                    Err("not yet".to_string())
                })
            },
        )
        .unwrap_or_else(|_| panic!("{}", n.server.log()));
    assert!(
        n.server.log().contains(m_renew),
        "{kind:?}: {}",
        n.server.log()
    );
    n.server.try_wait().expect("server status");
}

#[test]
fn kea_lease_decline_renew_release() {
    lease_life(Server::Kea, "dhkea", Duration::from_secs(20));
}

#[test]
fn dnsmasq_lease_decline_renew_release() {
    // dnsmasq's shortest lease is 2 minutes: T1 comes after one.
    lease_life(Server::Dnsmasq, "dhdnsm", Duration::from_secs(90));
}

#[test]
fn auto_mode_leases_where_the_ra_says_managed_and_uses_slaac_elsewhere() {
    for managed in [true, false] {
        let n = net_with(
            if managed { "dhautom" } else { "dhautos" },
            Server::Kea,
            managed,
        );
        let run = autoconf_plain(&n.host, &["--autoconf", "auto"]);
        assert!(
            run.ok && run.outcome() == "configured",
            "managed={managed}: {}\n{}",
            run.outcome(),
            run.raw
        );
        let leased = run.addrs("dhcp6_leased");
        let on: Vec<Ipv6Addr> = globals(&n.host_eth).iter().map(|g| g.0).collect();
        if managed {
            assert_eq!(leased.len(), 1, "{}", run.raw);
            assert!(in_pool(leased[0]) && on.contains(&leased[0]), "{on:?}");
        } else {
            assert!(
                leased.is_empty() && run.of("dhcp6_sent").is_empty(),
                "{}",
                run.raw
            );
            assert!(
                on.iter()
                    .any(|a| !in_pool(*a) && a.segments()[..4] == PREFIX.segments()[..4]),
                "{on:?}"
            );
        }
        drop(n);
    }
}
