//! Scenarios: what happens on a topology over time. A topology file may
//! carry a `scenario:` section (see `testbed/topologies/two-mns.yaml`): how
//! long the run lasts, which mobile node's interface moves to which link
//! when, the traffic, and the faults to inject. [`Experiment`] reads both
//! halves; errors name the field (`scenario.moves[1].to: no link named "c"`).

use crate::topology::{RaDaemon, Topology, TopologyError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A topology and what to do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub topology: Topology,
    pub scenario: Scenario,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// How long the run lasts from the first probe, ms.
    pub duration_ms: u64,
    /// Scripted moves, in any order.
    #[serde(default)]
    pub moves: Vec<MoveSpec>,
    /// Cables pulled and plugged back in, without a move.
    #[serde(default)]
    pub carrier: Vec<CarrierSpec>,
    #[serde(default)]
    pub traffic: TrafficSpec,
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// The links `--mobile-nodes N` moves its clones between. Empty: every
    /// advertised link that is no home link, uplink or correspondent's link.
    #[serde(default)]
    pub foreign_links: Vec<String>,
    /// What `--mobile-nodes N` does, from the file (the option wins).
    #[serde(default)]
    pub mobile_nodes: Option<usize>,
    /// What `--seed S` does, from the file (the option wins).
    #[serde(default)]
    pub seed: Option<u64>,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            duration_ms: 10_000,
            moves: Vec::new(),
            carrier: Vec::new(),
            traffic: TrafficSpec::default(),
            faults: Vec::new(),
            foreign_links: Vec::new(),
            mobile_nodes: None,
            seed: None,
        }
    }
}

/// Mobile node `mn` unplugs `iface` (default: its first interface) and
/// plugs it into link `to` at `at_ms`; carrier is off while it moves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveSpec {
    pub at_ms: u64,
    pub mn: String,
    #[serde(default)]
    pub iface: Option<String>,
    pub to: String,
}

/// Mobile node `mn`'s interface `iface` (default: its first) loses carrier
/// (`up: false`) or gets it back (`up: true`) at `at_ms`, on the link it is
/// on. With two interfaces this is the second interface going down or up:
/// the daemon moves its registration to the best interface with carrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierSpec {
    pub at_ms: u64,
    pub mn: String,
    #[serde(default)]
    pub iface: Option<String>,
    pub up: bool,
}

/// An iperf3 TCP stream from each mobile node's correspondent to its home
/// address (`reverse`: from the mobile node) for the whole run, when the
/// `iperf3` program is installed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Iperf3Spec {
    /// iperf3's `--bitrate` ("10M", "1G"; "0" is unlimited, which on a
    /// small machine starves the probes of CPU).
    #[serde(default = "default_iperf3_bitrate")]
    pub bitrate: String,
    #[serde(default)]
    pub reverse: bool,
}

fn default_iperf3_bitrate() -> String {
    "10M".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    /// Probes per second from the correspondent to each mobile node.
    #[serde(default = "default_probe_hz")]
    pub probe_hz: u32,
    /// One TCP stream from the correspondent to each mobile node.
    #[serde(default = "yes")]
    pub tcp: bool,
    /// Bytes per second of each TCP stream.
    #[serde(default = "default_tcp_rate")]
    pub tcp_rate: u64,
    #[serde(default)]
    pub iperf3: Option<Iperf3Spec>,
}

impl Default for TrafficSpec {
    fn default() -> Self {
        Self {
            probe_hz: default_probe_hz(),
            tcp: true,
            tcp_rate: default_tcp_rate(),
            iperf3: None,
        }
    }
}

fn default_probe_hz() -> u32 {
    1000
}
fn default_tcp_rate() -> u64 {
    2 << 20
}
fn yes() -> bool {
    true
}

/// Something going wrong on purpose at `at_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The next Binding Acknowledgement to reach `mn` is dropped (an
    /// nftables rule in its namespace): the BU must be retransmitted.
    DropNextBa { at_ms: u64, mn: String },
    /// The home agent (default: the first) is killed with SIGKILL and
    /// started again; its state file keeps the bindings.
    RestartHa {
        at_ms: u64,
        #[serde(default)]
        ha: Option<String>,
    },
    /// `router` stops advertising on `link` (default: on every link).
    RouterDown {
        at_ms: u64,
        router: String,
        #[serde(default)]
        link: Option<String>,
    },
}

impl Fault {
    pub fn at_ms(&self) -> u64 {
        match self {
            Fault::DropNextBa { at_ms, .. }
            | Fault::RestartHa { at_ms, .. }
            | Fault::RouterDown { at_ms, .. } => *at_ms,
        }
    }
}

fn err(field: impl Into<String>, message: impl Into<String>) -> TopologyError {
    TopologyError {
        field: field.into(),
        message: message.into(),
    }
}

impl Scenario {
    /// Checks the scenario against its topology.
    pub fn validate(&self, t: &Topology) -> Result<(), TopologyError> {
        if self.duration_ms == 0 {
            return Err(err("scenario.duration_ms", "must be positive"));
        }
        if !(1..=10_000).contains(&self.traffic.probe_hz) {
            return Err(err("scenario.traffic.probe_hz", "1 to 10000"));
        }
        if self.mobile_nodes.is_some_and(|n| n == 0 || n > 999) {
            return Err(err("scenario.mobile_nodes", "1 to 999"));
        }
        if self.traffic.tcp_rate == 0 {
            return Err(err("scenario.traffic.tcp_rate", "must be positive"));
        }
        let link = |field: String, l: &str| {
            if t.link(l).is_some() {
                Ok(())
            } else {
                Err(err(field, format!("no link named {l:?}")))
            }
        };
        let time = |field: String, at: u64| {
            if at < self.duration_ms {
                Ok(())
            } else {
                Err(err(
                    field,
                    format!("{at} is not within duration_ms ({})", self.duration_ms),
                ))
            }
        };
        let mn = |field: String, name: &str| {
            t.mobile_nodes
                .iter()
                .find(|m| m.name == name)
                .ok_or_else(|| err(field, format!("no mobile node named {name:?}")))
        };
        // Every timed event names a mobile node and maybe one of its
        // interfaces.
        let event = |f: &str, at: u64, name: &str, iface: &Option<String>| {
            time(format!("{f}.at_ms"), at)?;
            let spec = mn(format!("{f}.mn"), name)?;
            match iface {
                Some(ifn) if !spec.interfaces.iter().any(|x| &x.name == ifn) => Err(err(
                    format!("{f}.iface"),
                    format!("{name} has no interface {ifn:?}"),
                )),
                _ => Ok(()),
            }
        };
        for (i, m) in self.moves.iter().enumerate() {
            let f = format!("scenario.moves[{i}]");
            event(&f, m.at_ms, &m.mn, &m.iface)?;
            link(format!("{f}.to"), &m.to)?;
        }
        for (i, c) in self.carrier.iter().enumerate() {
            event(&format!("scenario.carrier[{i}]"), c.at_ms, &c.mn, &c.iface)?;
        }
        if let Some(ip) = &self.traffic.iperf3 {
            let b = ip.bitrate.trim_end_matches(['K', 'M', 'G', 'k', 'm', 'g']);
            if b.is_empty() || b.parse::<f64>().map_or(true, |x| !x.is_finite() || x < 0.0) {
                return Err(err(
                    "scenario.traffic.iperf3.bitrate",
                    format!("{:?}: a number with an optional K, M or G", ip.bitrate),
                ));
            }
        }
        for (i, x) in self.faults.iter().enumerate() {
            let f = format!("scenario.faults[{i}]");
            time(format!("{f}.at_ms"), x.at_ms())?;
            match x {
                Fault::DropNextBa { mn: name, .. } => {
                    mn(format!("{f}.mn"), name)?;
                }
                Fault::RestartHa { ha, .. } => {
                    if let Some(h) = ha
                        && !t.home_agents.iter().any(|x| &x.name == h)
                    {
                        return Err(err(format!("{f}.ha"), format!("no home agent named {h:?}")));
                    }
                    if t.home_agents.is_empty() {
                        return Err(err(format!("{f}.ha"), "the topology has no home agent"));
                    }
                }
                Fault::RouterDown {
                    router, link: l, ..
                } => {
                    let Some(r) = t.routers.iter().find(|r| &r.name == router) else {
                        return Err(err(
                            format!("{f}.router"),
                            format!("no router named {router:?}"),
                        ));
                    };
                    if let Some(l) = l
                        && !r.links.contains(l)
                    {
                        return Err(err(
                            format!("{f}.link"),
                            format!("{router} is not on link {l:?}"),
                        ));
                    }
                }
            }
        }
        for (i, l) in self.foreign_links.iter().enumerate() {
            link(format!("scenario.foreign_links[{i}]"), l)?;
        }
        Ok(())
    }

    /// The links clones move between: `foreign_links`, else every link a
    /// router advertises that is no home link, uplink or correspondent's.
    pub fn foreign_links(&self, t: &Topology) -> Vec<String> {
        if !self.foreign_links.is_empty() {
            return self.foreign_links.clone();
        }
        t.links
            .iter()
            .map(|l| l.name.clone())
            .filter(|l| {
                !t.home_agents
                    .iter()
                    .any(|h| &h.home_link == l || h.uplink.as_ref() == Some(l))
                    && !t.correspondents.iter().any(|c| &c.link == l)
                    && t.routers
                        .iter()
                        .any(|r| r.ra != RaDaemon::None && r.links.contains(l))
            })
            .collect()
    }
}

impl Experiment {
    pub fn load(path: &Path) -> anyhow::Result<Experiment> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// A topology file with an optional `scenario:` section (absent: ten
    /// seconds of traffic and no moves).
    pub fn parse(text: &str) -> anyhow::Result<Experiment> {
        let mut v: serde_yaml::Value = serde_yaml::from_str(text)?;
        let scenario = match v.as_mapping_mut().and_then(|m| m.remove("scenario")) {
            Some(s) => serde_yaml::from_value::<Scenario>(s)
                .map_err(|e| anyhow::anyhow!("scenario: {e}"))?,
            None => Scenario::default(),
        };
        let topology: Topology = serde_yaml::from_value(v)?;
        topology.validate()?;
        scenario.validate(&topology)?;
        Ok(Experiment { topology, scenario })
    }
}

/// splitmix64: a small seeded generator for reproducible timelines.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next_u64() % (hi - lo)
        }
    }
}

/// A random timeline for one mobile node over `duration_ms`: between one
/// and `duration / min_dwell` moves among `links`, at least `min_dwell_ms`
/// apart and after a first dwell at home, never to the link it is on.
pub fn random_moves(
    rng: &mut Rng,
    mn: &str,
    links: &[String],
    duration_ms: u64,
    min_dwell_ms: u64,
) -> Vec<MoveSpec> {
    if links.is_empty() {
        return Vec::new();
    }
    let min_dwell = min_dwell_ms.max(1);
    // Leave one dwell at the end so the last handover is measured.
    let last = duration_ms.saturating_sub(min_dwell);
    let max_moves = (last / min_dwell).max(1);
    let n = rng.range(1, max_moves + 1);
    let mut moves = Vec::new();
    let mut at = rng.range(min_dwell / 2, min_dwell + 1);
    let mut here: Option<usize> = None;
    for k in 0..n {
        // Spread the remaining moves over what is left of the run.
        let left = n - k;
        let room = last.saturating_sub(at) / left;
        at += rng.range(0, room.saturating_sub(min_dwell).max(1));
        if at >= last && k > 0 {
            break;
        }
        let mut to = rng.range(0, links.len() as u64) as usize;
        if Some(to) == here && links.len() > 1 {
            to = (to + 1) % links.len();
        }
        here = Some(to);
        moves.push(MoveSpec {
            at_ms: at.min(duration_ms.saturating_sub(1)),
            mn: mn.to_string(),
            iface: None,
            to: links[to].clone(),
        });
        at += min_dwell;
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::DEFAULT_TOPOLOGY;

    #[test]
    fn the_default_topology_is_an_experiment_without_a_scenario() {
        let e = Experiment::parse(DEFAULT_TOPOLOGY).expect("default");
        assert_eq!(e.scenario, Scenario::default());
        assert_eq!(e.scenario.foreign_links(&e.topology), ["a", "b"]);
    }

    #[test]
    fn scenario_errors_name_the_field() {
        let with = |s: &str| format!("{DEFAULT_TOPOLOGY}\nscenario:\n{s}");
        let ok = with(
            "  duration_ms: 5000\n  moves:\n    - { at_ms: 1000, mn: mn, to: a }\n  \
             faults:\n    - { at_ms: 900, kind: drop_next_ba, mn: mn }\n    \
             - { at_ms: 2000, kind: restart_ha }\n  traffic: { probe_hz: 100 }\n",
        );
        let e = Experiment::parse(&ok).expect("valid");
        assert_eq!(e.scenario.moves.len(), 1);
        assert!(e.scenario.traffic.tcp);
        assert_eq!(e.scenario.faults.len(), 2);
        let e = Experiment::parse(&with(
            "  duration_ms: 5000\n  carrier:\n    - { at_ms: 10, mn: mn, up: false }\n  \
             traffic: { iperf3: { bitrate: 2.5M, reverse: true } }\n",
        ))
        .expect("carrier and iperf3");
        assert_eq!(e.scenario.carrier.len(), 1);
        assert!(!e.scenario.carrier[0].up && e.scenario.carrier[0].iface.is_none());
        assert_eq!(
            e.scenario.traffic.iperf3,
            Some(Iperf3Spec {
                bitrate: "2.5M".into(),
                reverse: true
            })
        );
        let e = Experiment::parse(&with(
            "  duration_ms: 5000\n  mobile_nodes: 50\n  seed: 7\n",
        ))
        .expect("mobile_nodes");
        assert_eq!(
            (e.scenario.mobile_nodes, e.scenario.seed),
            (Some(50), Some(7))
        );
        for (bad, want) in [
            (
                "  duration_ms: 5000\n  moves:\n    - { at_ms: 1000, mn: mn, to: c }\n",
                "scenario.moves[0].to",
            ),
            (
                "  duration_ms: 5000\n  moves:\n    - { at_ms: 1000, mn: x, to: a }\n",
                "scenario.moves[0].mn",
            ),
            (
                "  duration_ms: 5000\n  moves:\n    - { at_ms: 9000, mn: mn, to: a }\n",
                "scenario.moves[0].at_ms",
            ),
            (
                "  duration_ms: 5000\n  faults:\n    - { at_ms: 1, kind: router_down, router: q }\n",
                "scenario.faults[0].router",
            ),
            ("  duration_ms: 5000\n  bogus: 1\n", "bogus"),
            (
                "  duration_ms: 5000\n  mobile_nodes: 0\n",
                "scenario.mobile_nodes",
            ),
            (
                "  duration_ms: 5000\n  carrier:\n    - { at_ms: 1, mn: mn, iface: wlan9, up: false }\n",
                "scenario.carrier[0].iface",
            ),
            (
                "  duration_ms: 5000\n  carrier:\n    - { at_ms: 1, mn: nobody, up: true }\n",
                "scenario.carrier[0].mn",
            ),
            (
                "  duration_ms: 5000\n  carrier:\n    - { at_ms: 1, mn: mn }\n",
                "up",
            ),
            (
                "  duration_ms: 5000\n  traffic: { iperf3: { bitrate: fast } }\n",
                "scenario.traffic.iperf3.bitrate",
            ),
            (
                "  duration_ms: 5000\n  faults:\n    - { at_ms: 1, kind: flood }\n",
                "flood",
            ),
        ] {
            let e = Experiment::parse(&with(bad)).expect_err(want).to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn random_timelines_are_seeded_and_move_at_least_once() {
        let links = vec!["a".to_string(), "b".to_string()];
        for seed in 0..200 {
            let m1 = random_moves(&mut Rng::new(seed), "mn1", &links, 10_000, 2500);
            let m2 = random_moves(&mut Rng::new(seed), "mn1", &links, 10_000, 2500);
            assert_eq!(m1, m2);
            assert!(!m1.is_empty());
            let mut prev: Option<&MoveSpec> = None;
            for m in &m1 {
                assert!(m.at_ms < 10_000, "{m1:?}");
                if let Some(p) = prev {
                    assert!(m.at_ms >= p.at_ms + 2500, "{m1:?}");
                    assert_ne!(m.to, p.to, "{m1:?}");
                }
                prev = Some(m);
            }
        }
    }

    #[test]
    fn home_agents_share_an_uplink_and_mobile_nodes_name_their_correspondent() {
        let multi = include_str!("../topologies/multi.yaml");
        let t = Experiment::parse(multi).expect("multi").topology;
        assert_eq!(t.uplink_host(&t.home_agents[0]), 2);
        assert_eq!(t.uplink_host(&t.home_agents[1]), 3);
        assert_eq!(t.correspondent_of(0).map(|c| c.name.as_str()), Some("cn1"));
        assert_eq!(t.correspondent_of(1).map(|c| c.name.as_str()), Some("cn2"));
        let routes = t.routes();
        let r = &routes["r"];
        assert!(
            r.iter()
                .any(|x| x.to_link == "home1" && x.via_node == "ha1")
        );
        assert!(
            r.iter()
                .any(|x| x.to_link == "home2" && x.via_node == "ha2")
        );
        // Without a named one, mobile nodes take the correspondents in turn.
        let mut t2 = t.clone();
        for m in &mut t2.mobile_nodes {
            m.correspondent = None;
        }
        assert_eq!(t2.correspondent_of(1).map(|c| c.name.as_str()), Some("cn2"));
        let bad = multi.replace("correspondent: cn2", "correspondent: cn9");
        let e = Experiment::parse(&bad).expect_err("cn9").to_string();
        assert!(e.contains("mobile_nodes[1].correspondent"), "{e}");
        // The router already holds ::1 on transit.
        let bad = multi.replace(
            "address: \"2001:db8:2::1\", uplink: transit",
            "address: \"2001:db8:2::1\", uplink: transit, uplink_host: 1",
        );
        let e = Experiment::parse(&bad).expect_err("collision").to_string();
        assert!(e.contains("home_agents[1].uplink_host"), "{e}");
    }
}
