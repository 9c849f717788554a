//! Turns a [`Topology`] into namespaces: links as bridges, routers that
//! forward and advertise, static addresses and routes, correspondents.
//! The daemons (home agents, mobile nodes) are started by the caller on top.

use crate::harness::{Child, Iface, Lab, Link, Node, NodeOptions};
use crate::topology::{RaDaemon, Topology, host_addr, prefix_of};
use anyhow::{Context, anyhow};
use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::Path;

/// A built network. Dropping it (with its [`Lab`]) removes everything.
pub struct Built {
    pub nodes: BTreeMap<String, Node>,
    pub links: BTreeMap<String, Link>,
    /// (node, link) -> the node's interface on that link.
    pub ifaces: BTreeMap<(String, String), Iface>,
    /// (node, link) -> the node's static address on that link.
    pub addrs: BTreeMap<(String, String), Ipv6Addr>,
    /// RA senders and radvd processes: stopped when dropped.
    pub advertisers: Vec<Child>,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Built")
            .field("nodes", &self.nodes.keys().collect::<Vec<_>>())
            .field("links", &self.links.keys().collect::<Vec<_>>())
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl Built {
    pub fn node(&self, name: &str) -> anyhow::Result<&Node> {
        self.nodes
            .get(name)
            .ok_or_else(|| anyhow!("no node {name}"))
    }

    pub fn link(&self, name: &str) -> anyhow::Result<&Link> {
        self.links
            .get(name)
            .ok_or_else(|| anyhow!("no link {name}"))
    }

    pub fn iface(&self, node: &str, link: &str) -> anyhow::Result<&Iface> {
        self.ifaces
            .get(&(node.to_string(), link.to_string()))
            .ok_or_else(|| anyhow!("{node} has no interface on {link}"))
    }

    pub fn addr(&self, node: &str, link: &str) -> anyhow::Result<Ipv6Addr> {
        self.addrs
            .get(&(node.to_string(), link.to_string()))
            .copied()
            .ok_or_else(|| anyhow!("{node} has no address on {link}"))
    }
}

/// Interface name of a forwarding node on `link`: the link's name, so a
/// person reading `ip addr` in the router sees where each one goes.
fn ifname(link: &str) -> String {
    let mut s: String = link.chars().take(12).collect();
    if s == "lo" {
        s.push('0');
    }
    s
}

/// Builds every link and node of `t` in `lab`. `ra_sender` is the
/// `mip6-testbed` executable, whose `ra-sender` subcommand advertises.
pub fn build(lab: &Lab, t: &Topology, ra_sender: &Path) -> anyhow::Result<Built> {
    let mut b = Built {
        nodes: BTreeMap::new(),
        links: BTreeMap::new(),
        ifaces: BTreeMap::new(),
        addrs: BTreeMap::new(),
        advertisers: Vec::new(),
    };
    for l in &t.links {
        b.links.insert(l.name.clone(), lab.link(&l.name)?);
    }
    let forwarding = NodeOptions::default()
        .no_dad_delay()
        .forwarding()
        .accept_ra(0);
    let host = NodeOptions::default().no_dad_delay().accept_ra(0);
    let attach = |b: &mut Built, node: &Node, link: &str, ifn: &str| -> anyhow::Result<Iface> {
        let l = b.link(link)?.clone();
        let i = lab.attach(node, &l, ifn)?;
        b.ifaces
            .insert((node.name().to_string(), link.to_string()), i.clone());
        Ok(i)
    };
    let add_addr =
        |b: &mut Built, node: &Node, link: &str, ifn: &str, a: Ipv6Addr| -> anyhow::Result<()> {
            node.exec(&[
                "ip",
                "-6",
                "addr",
                "add",
                &format!("{a}/64"),
                "dev",
                ifn,
                "nodad",
            ])
            .with_context(|| format!("address {a} on {} {ifn}", node.name()))?;
            b.addrs
                .insert((node.name().to_string(), link.to_string()), a);
            Ok(())
        };

    for r in &t.routers {
        let node = lab.node_with(&r.name, &forwarding)?;
        for l in &r.links {
            let spec = t.link(l).ok_or_else(|| anyhow!("no link {l}"))?;
            let ifn = ifname(l);
            attach(&mut b, &node, l, &ifn)?;
            add_addr(&mut b, &node, l, &ifn, host_addr(prefix_of(spec)?, r.host))?;
        }
        b.nodes.insert(r.name.clone(), node);
    }
    for h in &t.home_agents {
        let node = lab.node_with(&h.name, &forwarding)?;
        attach(&mut b, &node, &h.home_link, "eth0")?;
        add_addr(&mut b, &node, &h.home_link, "eth0", h.address)?;
        if let Some(u) = &h.uplink {
            let spec = t.link(u).ok_or_else(|| anyhow!("no link {u}"))?;
            attach(&mut b, &node, u, "uplink")?;
            // The HA's transit address: ::2 beside the router's ::1 (::3
            // for a second home agent on the same uplink ...).
            let host = t.uplink_host(h);
            add_addr(
                &mut b,
                &node,
                u,
                "uplink",
                host_addr(prefix_of(spec)?, host),
            )?;
        }
        b.nodes.insert(h.name.clone(), node);
    }
    for c in &t.correspondents {
        let node = lab.node_with(&c.name, &host)?;
        let spec = t
            .link(&c.link)
            .ok_or_else(|| anyhow!("no link {}", c.link))?;
        attach(&mut b, &node, &c.link, "eth0")?;
        add_addr(
            &mut b,
            &node,
            &c.link,
            "eth0",
            host_addr(prefix_of(spec)?, c.host),
        )?;
        b.nodes.insert(c.name.clone(), node);
    }
    for m in &t.mobile_nodes {
        // The daemon manages the interfaces; the kernel stays out.
        let node = lab.node_with(&m.name, &host)?;
        for f in &m.interfaces {
            attach(&mut b, &node, &f.link, &f.name)?;
        }
        b.nodes.insert(m.name.clone(), node);
    }

    // Static routes between links, and a default route for hosts.
    let routes = t.routes();
    for (me, list) in &routes {
        let node = b.node(me)?.clone();
        let my_if = |link: &str| -> String {
            if t.home_agents.iter().any(|h| h.name == *me) {
                if t.home_agents
                    .iter()
                    .any(|h| h.name == *me && h.home_link == link)
                {
                    "eth0".into()
                } else {
                    "uplink".into()
                }
            } else {
                ifname(link)
            }
        };
        for r in list {
            let spec = t
                .link(&r.to_link)
                .ok_or_else(|| anyhow!("no link {}", r.to_link))?;
            let via = b.addr(&r.via_node, &r.via_link)?;
            node.exec(&[
                "ip",
                "-6",
                "route",
                "add",
                &format!("{}/64", prefix_of(spec)?),
                "via",
                &via.to_string(),
                "dev",
                &my_if(&r.via_link),
            ])
            .with_context(|| format!("route on {me} to {}", r.to_link))?;
        }
    }
    // Hosts and home agents leave through the router on their link.
    let default_via_router = |node: &str, link: &str, ifn: &str| -> anyhow::Result<()> {
        let gw = t
            .routers
            .iter()
            .find(|r| r.links.iter().any(|l| l == link))
            .ok_or_else(|| anyhow!("no router on {link}, the way out of {node}"))?;
        let via = b.addr(&gw.name, link)?.to_string();
        b.node(node)?.exec(&[
            "ip", "-6", "route", "add", "default", "via", &via, "dev", ifn,
        ])?;
        Ok(())
    };
    for c in &t.correspondents {
        default_via_router(&c.name, &c.link, "eth0")?;
    }
    for h in &t.home_agents {
        if let Some(u) = &h.uplink {
            default_via_router(&h.name, u, "uplink")?;
        }
    }

    // Advertisers last: every address is in place when the first RA leaves.
    for r in &t.routers {
        let node = b.node(&r.name)?.clone();
        for l in &r.links {
            let spec = t.link(l).ok_or_else(|| anyhow!("no link {l}"))?;
            let ifn = ifname(l);
            b.iface(&r.name, l)?
                .wait_link_local(lab.timeouts().addr)
                .with_context(|| format!("{} has no link-local address on {l}", r.name))?;
            let managed = r.dhcpv6.contains_key(l);
            if let Some(server) = r.dhcpv6.get(l) {
                let settings =
                    crate::dhcp6_server::DhcpSettings::for_link(*server, &ifn, prefix_of(spec)?);
                b.advertisers
                    .push(crate::dhcp6_server::start(&node, lab.workdir(), &settings)?);
            }
            match r.ra {
                RaDaemon::None => {}
                RaDaemon::Own => {
                    let exe = ra_sender.to_str().ok_or_else(|| anyhow!("odd exe path"))?;
                    let interval = r.ra_interval_ms.to_string();
                    let mut argv = vec![
                        exe,
                        "ra-sender",
                        &ifn,
                        "--prefix",
                        &spec.prefix,
                        "--interval-ms",
                        &interval,
                    ];
                    if managed {
                        argv.push("--managed");
                    }
                    b.advertisers.push(node.spawn(&argv)?);
                }
                RaDaemon::Radvd => {
                    let conf = lab.workdir().join(format!("radvd-{}-{l}.conf", r.name));
                    let mut text = radvd_conf(&ifn, &spec.prefix, r.ra_interval_ms);
                    if managed {
                        text = radvd_managed(&text);
                    }
                    std::fs::write(&conf, text)?;
                    let pid = lab.workdir().join(format!("radvd-{}-{l}.pid", r.name));
                    b.advertisers.push(node.spawn(&[
                        "radvd",
                        "-n",
                        "-m",
                        "stderr",
                        "-C",
                        conf.to_str().ok_or_else(|| anyhow!("odd path"))?,
                        "-p",
                        pid.to_str().ok_or_else(|| anyhow!("odd path"))?,
                    ])?);
                }
            }
        }
    }
    // An advertiser that could not start (radvd refusing its configuration
    // file) would otherwise only show as mobile nodes that never move.
    if !b.advertisers.is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    for a in &mut b.advertisers {
        if !a.is_running()? {
            anyhow::bail!("{} stopped at once:\n{}", a.cmd(), a.log());
        }
    }
    Ok(b)
}

/// A radvd configuration turned into a managed link's: M=1, O=1, the
/// prefix not autonomous.
fn radvd_managed(conf: &str) -> String {
    conf.replacen(
        "{\n",
        "{\n AdvManagedFlag on;\n AdvOtherConfigFlag on;\n",
        1,
    )
    .replace(" { };", " { AdvAutonomous off; };")
}

/// radvd's configuration for one link. Below radvd's floor of 4 s for
/// MaxRtrAdvInterval this takes RFC 6275 7.5's values for routers that
/// serve mobile nodes (radvd's "Mobile IPv6 extensions": the Advertisement
/// Interval option, intervals down to 70 ms, MinDelayBetweenRAs 30 ms);
/// from 4 s up it is a stock radvd with RFC 4861's defaults (MinRtrAdvInterval
/// a third of the maximum but at least 3 s, MinDelayBetweenRAs 3 s), the
/// router a mobile node meets in a café.
pub fn radvd_conf(ifname: &str, prefix: &str, interval_ms: u64) -> String {
    let max = interval_ms as f64 / 1000.0;
    let mipv6 = if interval_ms < 4000 {
        " AdvIntervalOpt on;\n MinDelayBetweenRAs 0.03;\n"
    } else {
        ""
    };
    let max = max.max(0.07);
    // radvd refuses a MinRtrAdvInterval below 3 s without the extensions.
    let floor = if mipv6.is_empty() { 3.0 } else { 0.03 };
    let min = (max / 3.0).max(floor);
    format!(
        "interface {ifname} {{\n AdvSendAdvert on;\n MinRtrAdvInterval {min:.3};\n \
         MaxRtrAdvInterval {max:.3};\n{mipv6} prefix {prefix} {{ }};\n}};\n"
    )
}

#[cfg(test)]
mod tests {
    use super::{radvd_conf, radvd_managed};

    #[test]
    fn a_managed_link_has_m_and_o_and_no_autonomous_prefix() {
        let c = radvd_managed(&radvd_conf("b", "2001:db8:b::/64", 200));
        assert!(
            c.starts_with("interface b {\n AdvManagedFlag on;\n AdvOtherConfigFlag on;\n"),
            "{c}"
        );
        assert!(
            c.contains("prefix 2001:db8:b::/64 { AdvAutonomous off; };"),
            "{c}"
        );
    }

    #[test]
    fn radvd_gets_mobile_ipv6_timers_below_four_seconds_only() {
        let fast = radvd_conf("a", "2001:db8:a::/64", 200);
        assert!(fast.contains("MaxRtrAdvInterval 0.200;"), "{fast}");
        assert!(fast.contains("MinRtrAdvInterval 0.067;"), "{fast}");
        assert!(fast.contains("AdvIntervalOpt on;"), "{fast}");
        assert!(fast.contains("MinDelayBetweenRAs 0.03;"), "{fast}");
        let stock = radvd_conf("a", "2001:db8:a::/64", 4000);
        assert!(stock.contains("MaxRtrAdvInterval 4.000;"), "{stock}");
        assert!(stock.contains("MinRtrAdvInterval 3.000;"), "{stock}");
        let slow = radvd_conf("a", "2001:db8:a::/64", 30_000);
        assert!(slow.contains("MinRtrAdvInterval 10.000;"), "{slow}");
        // radvd's own limits (it logs and stays silent on a link that
        // breaks them): 3 s <= min <= 0.75 max without the extensions,
        // 0.03 and 0.07 with them.
        let get = |c: &str, k: &str| -> f64 {
            let at = c.find(k).expect(k) + k.len();
            c[at..].trim_start()[..c[at..].trim_start().find(';').expect(";")]
                .parse()
                .expect("a number")
        };
        for ms in (70..20_000).step_by(37) {
            let c = radvd_conf("a", "2001:db8:a::/64", ms);
            let (min, max) = (get(&c, "MinRtrAdvInterval"), get(&c, "MaxRtrAdvInterval"));
            let ext = c.contains("AdvIntervalOpt on");
            assert!(max >= if ext { 0.07 } else { 4.0 }, "{c}");
            assert!(min >= if ext { 0.03 } else { 3.0 }, "{c}");
            assert!(min <= 0.75 * max + 1e-9, "{c}");
        }
        assert!(!stock.contains("MinDelayBetweenRAs"), "{stock}");
    }
}
