//! `mip6-testbed demo`: the default topology, one mobile node moving
//! home -> A -> B -> home under a TCP stream and a 1 kHz probe, the real
//! daemons, and a report of every handover.
//!
//! The demo is one experiment of [`crate::run`], generated from its
//! options: the same driver, measurements and report as any topology file.

use crate::dhcp6_server::DhcpServer;
use crate::report::Report;
use crate::run::{self, RunOptions};
use crate::scenario::{Experiment, MoveSpec, Scenario, TrafficSpec};
use crate::topology::{DEFAULT_TOPOLOGY, Topology};
use anyhow::anyhow;
use mip6_common::dataplane::PathChoice;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where mip6-ha, mip6-mn and mip6-testbed are.
    pub bin_dir: PathBuf,
    /// The links the mobile node visits after starting at home.
    pub moves: Vec<String>,
    /// How long it stays on each link.
    pub dwell: Duration,
    pub optimistic: bool,
    pub tcp_rate: u64,
    /// The daemons' `data_plane` (`auto`, `ebpf`, `tun`).
    pub data_plane: PathChoice,
    /// Run this DHCPv6 server on foreign link B (M=1 there): the mobile
    /// node leases its care-of address on B and makes one by SLAAC on A,
    /// in the same run.
    pub dhcpv6: Option<DhcpServer>,
    /// Keep pcaps of the home link and the mobile node's interface here
    /// (`MIP6_DEMO_CAPTURE`).
    pub capture: Option<PathBuf>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            bin_dir: PathBuf::new(),
            moves: vec!["a".into(), "b".into(), "home".into()],
            dwell: Duration::from_secs(3),
            optimistic: false,
            tcp_rate: 2 << 20,
            data_plane: PathChoice::default(),
            dhcpv6: None,
            capture: std::env::var_os("MIP6_DEMO_CAPTURE").map(PathBuf::from),
        }
    }
}

/// The demo as an experiment: the default topology (link B managed by
/// DHCPv6 with `dhcpv6`), the first mobile node's cable moved every
/// `dwell`, a 1 kHz probe and one TCP stream at `tcp_rate`.
pub fn experiment(opts: &DemoOptions) -> anyhow::Result<Experiment> {
    let mut topology = Topology::parse(DEFAULT_TOPOLOGY)?;
    if let Some(server) = opts.dhcpv6 {
        let r = topology
            .routers
            .iter_mut()
            .find(|r| r.links.iter().any(|l| l == "b"))
            .ok_or_else(|| anyhow!("no router on link b"))?;
        r.dhcpv6.insert("b".into(), server);
    }
    let mn = topology
        .mobile_nodes
        .first()
        .ok_or_else(|| anyhow!("the default topology has no mobile node"))?
        .name
        .clone();
    let dwell_ms = u64::try_from(opts.dwell.as_millis()).unwrap_or(u64::MAX);
    let moves = opts
        .moves
        .iter()
        .zip(1u64..)
        .map(|(to, i)| MoveSpec {
            at_ms: dwell_ms * i,
            mn: mn.clone(),
            iface: None,
            to: to.clone(),
        })
        .collect::<Vec<_>>();
    let scenario = Scenario {
        duration_ms: dwell_ms * (moves.len() as u64 + 1),
        moves,
        traffic: TrafficSpec {
            probe_hz: 1000,
            tcp: true,
            tcp_rate: opts.tcp_rate,
            iperf3: None,
        },
        ..Scenario::default()
    };
    scenario.validate(&topology)?;
    Ok(Experiment { topology, scenario })
}

/// Runs the demo and returns its report. Everything it built is gone when
/// it returns, whether it succeeded or not.
pub fn run(opts: &DemoOptions) -> anyhow::Result<Report> {
    let e = experiment(opts)?;
    run::run(
        &e,
        &RunOptions {
            bin_dir: opts.bin_dir.clone(),
            mobile_nodes: None,
            seed: 1,
            keep: None,
            optimistic: opts.optimistic,
            data_plane: opts.data_plane,
            capture: opts.capture.clone(),
        },
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_demo_is_a_valid_experiment_of_three_timed_moves() {
        let opts = DemoOptions {
            dwell: Duration::from_millis(2000),
            ..DemoOptions::default()
        };
        let e = experiment(&opts).unwrap();
        e.scenario.validate(&e.topology).unwrap();
        let at: Vec<(u64, &str)> = e
            .scenario
            .moves
            .iter()
            .map(|m| (m.at_ms, m.to.as_str()))
            .collect();
        assert_eq!(at, [(2000, "a"), (4000, "b"), (6000, "home")]);
        assert_eq!(e.scenario.duration_ms, 8000);
        assert_eq!(e.scenario.traffic.probe_hz, 1000);
        assert!(!e.topology.has_dhcpv6());
        let managed = experiment(&DemoOptions {
            dhcpv6: Some(DhcpServer::Dnsmasq),
            ..opts
        })
        .unwrap();
        assert!(managed.topology.has_dhcpv6());
    }
}
