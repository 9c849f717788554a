//! Topology files: links, routers, home agents, mobile nodes and
//! correspondents, validated with errors that name the field; and the
//! routing between links, computed so that every node reaches every prefix.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv6Addr;
use std::path::Path;

/// A whole testbed network. See `testbed/topologies/*.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    pub name: String,
    pub links: Vec<LinkSpec>,
    #[serde(default)]
    pub routers: Vec<RouterSpec>,
    #[serde(default)]
    pub home_agents: Vec<HomeAgentSpec>,
    #[serde(default)]
    pub mobile_nodes: Vec<MobileNodeSpec>,
    #[serde(default)]
    pub correspondents: Vec<CorrespondentSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub name: String,
    /// The link's /64, written "2001:db8:a::/64".
    pub prefix: String,
}

/// How a router announces itself on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RaDaemon {
    /// The project's own sender (`mip6-testbed ra-sender`).
    #[default]
    Own,
    /// radvd from Debian.
    Radvd,
    /// No advertisements on this link.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterSpec {
    pub name: String,
    /// Links it is attached to; it takes address ::1 of each prefix unless
    /// `host` says otherwise.
    pub links: Vec<String>,
    #[serde(default)]
    pub ra: RaDaemon,
    /// Maximum interval between unsolicited RAs, ms.
    #[serde(default = "default_ra_interval")]
    pub ra_interval_ms: u64,
    /// Interface identifier (low 64 bits) of its addresses.
    #[serde(default = "one")]
    pub host: u64,
    /// Links where it runs a DHCPv6 server (dnsmasq or kea) and announces
    /// M=1 and O=1 with the prefix not autonomous: mobile nodes lease
    /// their care-of addresses there (RFC 8415) instead of SLAAC.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dhcpv6: BTreeMap<String, crate::dhcp6_server::DhcpServer>,
}

fn default_ra_interval() -> u64 {
    1000
}
fn one() -> u64 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeAgentSpec {
    pub name: String,
    pub home_link: String,
    /// Its address on the home link (the one mobile nodes register with).
    pub address: Ipv6Addr,
    /// A transit link towards the rest of the network, if the home link
    /// has no router of its own.
    #[serde(default)]
    pub uplink: Option<String>,
    /// Interface identifier of its address on the uplink (default: 2 for
    /// the first home agent on that link, 3 for the next ...).
    #[serde(default)]
    pub uplink_host: Option<u64>,
    /// Announce the home link itself (H flag), as the home router.
    #[serde(default = "yes")]
    pub home_router: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobileNodeSpec {
    pub name: String,
    pub home_agent: String,
    pub home_address: Ipv6Addr,
    pub interfaces: Vec<MnInterfaceSpec>,
    /// RFC 4285 shared key (any string; the testbed makes one if absent).
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub optimistic_dad: bool,
    /// The correspondent that talks to it in runs (default: the
    /// correspondents in turn, the first to the first mobile node).
    #[serde(default)]
    pub correspondent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MnInterfaceSpec {
    pub name: String,
    /// The link it starts on.
    pub link: String,
    #[serde(default)]
    pub priority: u32,
    #[serde(default = "default_mode")]
    pub mode: String,
}

fn default_mode() -> String {
    "stable".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrespondentSpec {
    pub name: String,
    pub link: String,
    #[serde(default = "default_cn_host")]
    pub host: u64,
}

fn default_cn_host() -> u64 {
    0x100
}

/// A validation failure, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TopologyError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> TopologyError {
    TopologyError {
        field: field.into(),
        message: message.into(),
    }
}

/// A link's prefix, parsed.
pub fn prefix_of(spec: &LinkSpec) -> Result<Ipv6Addr, TopologyError> {
    let (addr, len) = spec
        .prefix
        .split_once('/')
        .ok_or_else(|| err("prefix", "must be written ADDRESS/64"))?;
    let addr: Ipv6Addr = addr
        .parse()
        .map_err(|_| err("prefix", format!("{addr:?} is not an IPv6 address")))?;
    if len != "64" {
        return Err(err(
            "prefix",
            "must be a /64: SLAAC needs 64-bit identifiers",
        ));
    }
    if u128::from(addr) & u128::from(u64::MAX) != 0 {
        return Err(err("prefix", format!("{addr} has host bits set")));
    }
    Ok(addr)
}

/// `prefix` with `host` as its low 64 bits.
pub fn host_addr(prefix: Ipv6Addr, host: u64) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(prefix) | u128::from(host))
}

impl Topology {
    pub fn load(path: &Path) -> anyhow::Result<Topology> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Topology> {
        let t: Topology = serde_yaml::from_str(text)?;
        t.validate()?;
        Ok(t)
    }

    /// Whether any router serves DHCPv6 somewhere.
    pub fn has_dhcpv6(&self) -> bool {
        self.routers.iter().any(|r| !r.dhcpv6.is_empty())
    }

    pub fn link(&self, name: &str) -> Option<&LinkSpec> {
        self.links.iter().find(|l| l.name == name)
    }

    fn all_node_names(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        for (i, r) in self.routers.iter().enumerate() {
            v.push((format!("routers[{i}].name"), r.name.clone()));
        }
        for (i, h) in self.home_agents.iter().enumerate() {
            v.push((format!("home_agents[{i}].name"), h.name.clone()));
        }
        for (i, m) in self.mobile_nodes.iter().enumerate() {
            v.push((format!("mobile_nodes[{i}].name"), m.name.clone()));
        }
        for (i, c) in self.correspondents.iter().enumerate() {
            v.push((format!("correspondents[{i}].name"), c.name.clone()));
        }
        v
    }

    pub fn validate(&self) -> Result<(), TopologyError> {
        let mut names = BTreeSet::new();
        for (i, l) in self.links.iter().enumerate() {
            if !names.insert(l.name.clone()) {
                return Err(err(
                    format!("links[{i}].name"),
                    format!("{:?} is used twice", l.name),
                ));
            }
            prefix_of(l).map_err(|e| err(format!("links[{i}].{}", e.field), e.message))?;
        }
        let mut nodes = BTreeSet::new();
        for (field, name) in self.all_node_names() {
            if name.is_empty() || name.len() > 8 || !name.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(err(
                    field,
                    format!("{name:?}: 1 to 8 letters and digits (it names a namespace)"),
                ));
            }
            if !nodes.insert(name.clone()) {
                return Err(err(field, format!("{name:?} is used twice")));
            }
        }
        let known = |field: String, link: &str| {
            if self.link(link).is_some() {
                Ok(())
            } else {
                Err(err(field, format!("no link named {link:?}")))
            }
        };
        for (i, r) in self.routers.iter().enumerate() {
            for (j, l) in r.links.iter().enumerate() {
                known(format!("routers[{i}].links[{j}]"), l)?;
            }
            for l in r.dhcpv6.keys() {
                if !r.links.contains(l) {
                    return Err(err(
                        format!("routers[{i}].dhcpv6.{l}"),
                        format!("{} is not on a link named {l:?}", r.name),
                    ));
                }
                if r.ra == RaDaemon::None {
                    return Err(err(
                        format!("routers[{i}].dhcpv6.{l}"),
                        "needs RAs (ra: own or radvd) to announce M=1",
                    ));
                }
            }
            if r.ra_interval_ms < 70 {
                return Err(err(
                    format!("routers[{i}].ra_interval_ms"),
                    "at least 70 ms (RFC 6275 7.5)",
                ));
            }
        }
        for (i, h) in self.home_agents.iter().enumerate() {
            known(format!("home_agents[{i}].home_link"), &h.home_link)?;
            if let Some(u) = &h.uplink {
                known(format!("home_agents[{i}].uplink"), u)?;
            }
            let home = self.link(&h.home_link).map(prefix_of).transpose()?;
            if home.is_some_and(|p| u128::from(p) >> 64 != u128::from(h.address) >> 64) {
                return Err(err(
                    format!("home_agents[{i}].address"),
                    format!("{} is not on the home link's prefix", h.address),
                ));
            }
        }
        for (i, m) in self.mobile_nodes.iter().enumerate() {
            let Some(ha) = self.home_agents.iter().find(|h| h.name == m.home_agent) else {
                return Err(err(
                    format!("mobile_nodes[{i}].home_agent"),
                    format!("no home agent named {:?}", m.home_agent),
                ));
            };
            if u128::from(ha.address) >> 64 != u128::from(m.home_address) >> 64 {
                return Err(err(
                    format!("mobile_nodes[{i}].home_address"),
                    format!("{} is not on the home link of {}", m.home_address, ha.name),
                ));
            }
            if m.interfaces.is_empty() {
                return Err(err(format!("mobile_nodes[{i}].interfaces"), "at least one"));
            }
            for (j, f) in m.interfaces.iter().enumerate() {
                known(format!("mobile_nodes[{i}].interfaces[{j}].link"), &f.link)?;
                if !["eui64", "stable", "random"].contains(&f.mode.as_str()) {
                    return Err(err(
                        format!("mobile_nodes[{i}].interfaces[{j}].mode"),
                        "one of eui64, stable, random",
                    ));
                }
            }
        }
        for (i, c) in self.correspondents.iter().enumerate() {
            known(format!("correspondents[{i}].link"), &c.link)?;
        }
        for (i, m) in self.mobile_nodes.iter().enumerate() {
            if let Some(c) = &m.correspondent
                && !self.correspondents.iter().any(|x| &x.name == c)
            {
                return Err(err(
                    format!("mobile_nodes[{i}].correspondent"),
                    format!("no correspondent named {c:?}"),
                ));
            }
        }
        let mut on_link: BTreeMap<(String, u64), String> = BTreeMap::new();
        for r in &self.routers {
            for l in &r.links {
                on_link.insert((l.clone(), r.host), r.name.clone());
            }
        }
        for (i, h) in self.home_agents.iter().enumerate() {
            if let Some(u) = &h.uplink
                && let Some(other) =
                    on_link.insert((u.clone(), self.uplink_host(h)), h.name.clone())
            {
                return Err(err(
                    format!("home_agents[{i}].uplink_host"),
                    format!(
                        "{} already has host {:#x} on {u}",
                        other,
                        self.uplink_host(h)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Interface identifier of home agent `h`'s address on its uplink.
    pub fn uplink_host(&self, h: &HomeAgentSpec) -> u64 {
        if let Some(x) = h.uplink_host {
            return x;
        }
        let before = self
            .home_agents
            .iter()
            .take_while(|x| x.name != h.name)
            .filter(|x| x.uplink.is_some() && x.uplink == h.uplink && x.uplink_host.is_none())
            .count();
        2 + before as u64
    }

    /// The correspondent that talks to mobile node `i` in runs.
    pub fn correspondent_of(&self, i: usize) -> Option<&CorrespondentSpec> {
        let named = self
            .mobile_nodes
            .get(i)
            .and_then(|m| m.correspondent.as_ref())
            .and_then(|c| self.correspondents.iter().find(|x| &x.name == c));
        named.or_else(|| {
            (!self.correspondents.is_empty())
                .then(|| &self.correspondents[i % self.correspondents.len()])
        })
    }

    /// The nodes that forward, with the links each sits on.
    fn forwarders(&self) -> Vec<(String, Vec<String>)> {
        let mut v: Vec<(String, Vec<String>)> = self
            .routers
            .iter()
            .map(|r| (r.name.clone(), r.links.clone()))
            .collect();
        for h in &self.home_agents {
            let mut links = vec![h.home_link.clone()];
            links.extend(h.uplink.clone());
            v.push((h.name.clone(), links));
        }
        v
    }

    /// For each forwarding node, the next hop (a neighbour forwarder and
    /// the shared link) towards every link it is not on: a shortest path
    /// over the graph of forwarders and links.
    pub fn routes(&self) -> BTreeMap<String, Vec<Route>> {
        let fwd = self.forwarders();
        let mut out = BTreeMap::new();
        for (me, my_links) in &fwd {
            let mut routes = Vec::new();
            // BFS from my links: which neighbour first reaches each link.
            let mut via: BTreeMap<String, (String, String)> = BTreeMap::new();
            let mut queue = VecDeque::new();
            let mut seen: BTreeSet<String> = my_links.iter().cloned().collect();
            for l in my_links {
                for (other, their) in fwd.iter().filter(|(n, _)| n != me) {
                    if their.contains(l) {
                        for t in their {
                            if seen.insert(t.clone()) {
                                via.insert(t.clone(), (other.clone(), l.clone()));
                                queue.push_back((t.clone(), other.clone(), l.clone()));
                            }
                        }
                    }
                }
            }
            while let Some((link, hop, hop_link)) = queue.pop_front() {
                for (_, their) in fwd.iter().filter(|(n, _)| n != me) {
                    if their.contains(&link) {
                        for t in their {
                            if seen.insert(t.clone()) {
                                via.insert(t.clone(), (hop.clone(), hop_link.clone()));
                                queue.push_back((t.clone(), hop.clone(), hop_link.clone()));
                            }
                        }
                    }
                }
            }
            for (link, (hop, hop_link)) in via {
                routes.push(Route {
                    to_link: link,
                    via_node: hop,
                    via_link: hop_link,
                });
            }
            out.insert(me.clone(), routes);
        }
        out
    }
}

/// `to_link`'s prefix is reached through `via_node`'s address on `via_link`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub to_link: String,
    pub via_node: String,
    pub via_link: String,
}

/// The topology `mip6-testbed demo` builds: a home link whose router is the
/// home agent, a core router linking it to two foreign links and a
/// correspondent.
pub const DEFAULT_TOPOLOGY: &str = include_str!("../topologies/default.yaml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_topology_is_valid_and_routes_everywhere() {
        let t = Topology::parse(DEFAULT_TOPOLOGY).expect("default topology");
        let routes = t.routes();
        let ha = &routes["ha"];
        // The HA reaches the correspondent's and the foreign links through
        // the core router.
        for l in ["core", "a", "b"] {
            let r = ha.iter().find(|r| r.to_link == l).expect(l);
            assert_eq!(r.via_node, "r");
        }
        let r = &routes["r"];
        assert!(r.iter().any(|x| x.to_link == "home" && x.via_node == "ha"));
    }

    #[test]
    fn the_dhcpv6_example_mixes_slaac_and_dhcpv6_links() {
        let text = include_str!("../topologies/dhcpv6.yaml");
        let t = crate::scenario::Experiment::parse(text)
            .expect("dhcpv6.yaml")
            .topology;
        assert!(t.has_dhcpv6());
        assert_eq!(t.routers[0].dhcpv6.len(), 1);
        assert!(t.routers[0].dhcpv6.contains_key("b"));
    }

    #[test]
    fn dhcpv6_links_must_be_the_routers_own() {
        let good =
            DEFAULT_TOPOLOGY.replace("    host: 1\n", "    host: 1\n    dhcpv6: { b: kea }\n");
        let t = Topology::parse(&good).expect("dhcpv6 on b");
        assert!(t.has_dhcpv6());
        assert_eq!(
            t.routers[0].dhcpv6.get("b"),
            Some(&crate::dhcp6_server::DhcpServer::Kea)
        );
        let bad = good.replace("{ b: kea }", "{ home: dnsmasq }");
        let e = Topology::parse(&bad).expect_err("not its link").to_string();
        assert!(e.contains("routers[0].dhcpv6.home"), "{e}");
        let bad = good.replace("{ b: kea }", "{ b: isc }");
        assert!(Topology::parse(&bad).is_err());
    }

    #[test]
    fn errors_name_the_field() {
        let bad = DEFAULT_TOPOLOGY.replace("link: core", "link: nowhere");
        let e = Topology::parse(&bad).expect_err("unknown link").to_string();
        assert!(e.contains("link") && e.contains("nowhere"), "{e}");
        let bad = DEFAULT_TOPOLOGY.replace("2001:db8:a::/64", "2001:db8:a::/48");
        let e = Topology::parse(&bad).expect_err("/48").to_string();
        assert!(e.contains("links[") && e.contains("/64"), "{e}");
        let e = Topology::parse("name: x\nlinks: []\nbogus: 1\n")
            .expect_err("unknown field")
            .to_string();
        assert!(e.contains("bogus"), "{e}");
    }
}
