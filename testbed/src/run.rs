//! `mip6-testbed run FILE`: a topology file's scenario with the real
//! daemons. One home agent serves every mobile node; each has its own home
//! address, key, daemon, probe stream and TCP stream from the first
//! correspondent, and moves when the scenario says; faults are injected on
//! time. `--mobile-nodes N` replaces the first mobile node by N clones with
//! seeded random timelines, for scale runs.

use crate::build::{Built, build};
use crate::daemons::{
    MnCred, mn_status, path_str, scrape_metrics, unix_ms, wait_status, write_ha_config,
    write_mn_config,
};
use crate::harness::{Child, Lab, MoveOptions, Node, check_kernel, require_root};
use crate::probe::{self, ProbeLog, ProbeStream};
use crate::report::{Gap, Handover, Report, SCHEMA, Segment, Summary, TcpResult};
use crate::scenario::{Experiment, Fault, MoveSpec, Rng, random_moves};
use crate::topology::{MobileNodeSpec, RaDaemon, Topology, host_addr, prefix_of};
use crate::traffic::{self, StreamResult};
use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// First port of the per-mobile-node probe (even) and TCP (odd) ports.
const PORT_BASE: u16 = 10_000;
/// The correspondent's probe ports, one per mobile node.
const PORT_BASE_UP: u16 = 20_000;
/// The mobile nodes' iperf3 server ports.
const PORT_BASE_IPERF3: u16 = 30_000;
/// Shortest dwell of a clone on a link with `--mobile-nodes`.
const CLONE_MIN_DWELL_MS: u64 = 2500;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Where mip6-ha, mip6-mn and mip6-testbed are.
    pub bin_dir: PathBuf,
    /// Replace the first mobile node by this many clones with random
    /// timelines.
    pub mobile_nodes: Option<usize>,
    /// Seed of those timelines.
    pub seed: u64,
    /// Copy the lab's work directory (every daemon's log and config, the
    /// iperf3 JSON) here before it is removed.
    pub keep: Option<PathBuf>,
    /// Optimistic DAD (RFC 4429) on every mobile node, whatever the
    /// topology says.
    pub optimistic: bool,
    /// The daemons' tunnel data plane.
    pub data_plane: mip6_common::dataplane::PathChoice,
    /// Keep pcaps of every home agent's home link and every mobile node's
    /// first interface here (`home-link.pcap` and `mobile-node.pcap` when
    /// there is one of each, else named after the node).
    pub capture: Option<PathBuf>,
}

/// The experiment as it will run: with `n`, the first mobile node becomes
/// `n` clones (home addresses ::100 + i of the home prefix, names
/// `<name><i>`), each with a random timeline between the foreign links;
/// faults aimed at the template go to the first clone.
pub fn expand(e: &Experiment, n: Option<usize>, seed: u64) -> anyhow::Result<Experiment> {
    let Some(n) = n else {
        return Ok(e.clone());
    };
    if n == 0 || n > 999 {
        bail!("--mobile-nodes: 1 to 999");
    }
    let mut t = e.topology.clone();
    let mut sc = e.scenario.clone();
    let template = t
        .mobile_nodes
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("--mobile-nodes needs a mobile node to clone"))?;
    let ha = t
        .home_agents
        .iter()
        .find(|h| h.name == template.home_agent)
        .ok_or_else(|| anyhow!("no home agent {}", template.home_agent))?;
    let home = t
        .link(&ha.home_link)
        .ok_or_else(|| anyhow!("no link {}", ha.home_link))?;
    let prefix = prefix_of(home)?;
    let digits = n.to_string().len();
    let base: String = template.name.chars().take(8 - digits).collect();
    let links = sc.foreign_links(&t);
    if links.is_empty() {
        bail!("no foreign link to move the clones to: list them in scenario.foreign_links");
    }
    let mut rng = Rng::new(seed);
    let mut clones = Vec::new();
    let mut moves: Vec<MoveSpec> = sc
        .moves
        .iter()
        .filter(|m| m.mn != template.name)
        .cloned()
        .collect();
    for i in 0..n {
        let mut c: MobileNodeSpec = template.clone();
        c.name = format!("{base}{}", i + 1);
        c.home_address = host_addr(prefix, 0x100 + i as u64);
        c.key = None;
        moves.extend(random_moves(
            &mut rng,
            &c.name,
            &links,
            sc.duration_ms,
            CLONE_MIN_DWELL_MS,
        ));
        clones.push(c);
    }
    let first = clones[0].name.clone();
    for f in &mut sc.faults {
        if let Fault::DropNextBa { mn, .. } = f
            && *mn == template.name
        {
            *mn = first.clone();
        }
    }
    t.mobile_nodes.splice(0..1, clones);
    sc.moves = moves;
    t.validate()?;
    sc.validate(&t)?;
    Ok(Experiment {
        topology: t,
        scenario: sc,
    })
}

/// Runs the experiment and returns its report. Everything it built is gone
/// when it returns, whether it succeeded or not.
pub fn run(e: &Experiment, opts: &RunOptions) -> anyhow::Result<Report> {
    require_root().map_err(|e| anyhow!("{e}"))?;
    check_kernel().map_err(|e| anyhow!("{e}"))?;
    let e = expand(e, opts.mobile_nodes, opts.seed)?;
    if e.topology.mobile_nodes.is_empty() {
        bail!("`run` needs a mobile node to move");
    }
    if e.topology.correspondents.is_empty() {
        bail!("`run` needs a correspondent to send the traffic");
    }
    let lab = Lab::new("run")?;
    let result = (|| {
        let b = build(&lab, &e.topology, &opts.bin_dir.join("mip6-testbed"))?;
        let dir = lab.workdir().to_path_buf();
        let r = drive(opts, &e, &lab, &b, &dir);
        drop(b);
        if let Some(keep) = &opts.keep {
            // After the daemons stopped, so their logs are complete.
            if let Err(err) = copy_dir(&dir, keep) {
                eprintln!(
                    "mip6-testbed run: warning: keeping the logs in {}: {err}",
                    keep.display()
                );
            }
        }
        r
    })();
    lab.cleanup()
        .map_err(|e| anyhow!("removing the namespaces: {e}"))?;
    result
}

/// Copies the regular files of `from` into `to` (created), not recursing:
/// sockets and the like are skipped.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

fn key_hex(m: &MobileNodeSpec) -> String {
    let text = m
        .key
        .clone()
        .unwrap_or_else(|| format!("mip6 testbed key of {}", m.name));
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

pub(crate) struct MoveRec {
    pub(crate) from: String,
    pub(crate) to: String,
    /// The interface carrying the registration after it, when there are
    /// several.
    pub(crate) interface: Option<String>,
    /// What the scenario did ("move eth0", "carrier down wlan0").
    pub(crate) cause: Option<String>,
    pub(crate) at: Duration,
    pub(crate) unix_ms: f64,
}

struct MnRun {
    spec: MobileNodeSpec,
    node: Node,
    sock: PathBuf,
    daemon: Option<Child>,
    moves: Vec<MoveRec>,
    /// Correspondent -> home address, and home address -> correspondent.
    probes: Option<(ProbeStream, ProbeStream)>,
    tcp_rx: Option<JoinHandle<crate::harness::Result<StreamResult>>>,
    tcp_tx: Option<JoinHandle<crate::harness::Result<StreamResult>>>,
}

enum Event {
    Move {
        mn: usize,
        iface: String,
        to: String,
    },
    Carrier {
        mn: usize,
        iface: String,
        up: bool,
    },
    Fault(Fault),
}

/// Sums the counters (`*_total`) of an instance that is about to die into
/// `acc`, so a restarted home agent's figures cover the whole run.
fn add_counters(acc: &mut BTreeMap<String, f64>, m: &BTreeMap<String, f64>) {
    for (k, v) in m {
        let name = k.split('{').next().unwrap_or(k);
        if name.ends_with("_total") {
            *acc.entry(k.clone()).or_default() += v;
        }
    }
}

/// A home agent of the run: restarted in place by `restart_ha`.
struct HaRun {
    name: String,
    node: Node,
    argv: Vec<String>,
    /// None only between a kill and the restart.
    child: Option<Child>,
    /// Counters of instances killed during the run.
    acc: BTreeMap<String, f64>,
}

impl HaRun {
    fn start(node: &Node, argv: &[String]) -> anyhow::Result<Child> {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut child = node.spawn(&argv)?;
        child
            .wait_log("mip6-ha ready", Duration::from_secs(30))
            .map_err(|e| anyhow!("the home agent did not start: {e}\n{}", child.log()))?;
        Ok(child)
    }

    /// Its counters over the whole run, restarts included.
    fn metrics(&self) -> anyhow::Result<BTreeMap<String, f64>> {
        let mut m = self
            .node
            .run_in(|| scrape_metrics("[::1]:9106"))?
            .with_context(|| format!("the metrics of {}", self.name))?;
        for (k, v) in &self.acc {
            *m.entry(k.clone()).or_default() += v;
        }
        Ok(m)
    }
}

/// One interface of a mobile node as the scenario left it.
#[derive(Debug, Clone)]
struct IfState {
    name: String,
    /// The link it was built on (its cable's name in the harness).
    built_on: String,
    link: String,
    carrier: bool,
    priority: u32,
}

/// The interface the daemon should carry its registration on: the one
/// with carrier and the highest priority, the first listed on a tie, by
/// the rule `mip6-mn` itself follows.
fn active(ifs: &[IfState]) -> Option<usize> {
    mip6_common::movement::carrying_link(ifs.iter().map(|f| {
        f.carrier
            .then(|| i32::try_from(f.priority).unwrap_or(i32::MAX))
    }))
}

/// An iperf3 stream of the run: the server on one side, the client on the
/// correspondent, its JSON in `json`.
struct Iperf3Run {
    name: String,
    server: Child,
    client: Child,
    json: PathBuf,
}

/// The iperf3 program: `MIP6_IPERF3`, else `iperf3` from the PATH.
fn iperf3_program() -> String {
    std::env::var("MIP6_IPERF3").unwrap_or_else(|_| "iperf3".into())
}

fn iperf3_installed() -> bool {
    std::process::Command::new(iperf3_program())
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// tcpdump on every home agent's home link and every mobile node's first
/// interface, into `opts.capture`; stopped (and flushed) when dropped.
fn start_captures(opts: &RunOptions, t: &Topology, b: &Built) -> anyhow::Result<Vec<Child>> {
    let Some(out) = &opts.capture else {
        return Ok(Vec::new());
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut targets = Vec::new();
    for h in &t.home_agents {
        let file = if t.home_agents.len() == 1 {
            "home-link.pcap".to_string()
        } else {
            format!("home-link-{}.pcap", h.name)
        };
        targets.push((h.name.clone(), "eth0".to_string(), file));
    }
    for m in &t.mobile_nodes {
        let Some(f) = m.interfaces.first() else {
            continue;
        };
        let file = if t.mobile_nodes.len() == 1 {
            "mobile-node.pcap".to_string()
        } else {
            format!("mobile-node-{}.pcap", m.name)
        };
        targets.push((m.name.clone(), f.name.clone(), file));
    }
    let mut captures = Vec::new();
    for (node, ifn, file) in targets {
        let f = out.join(file);
        captures.push(b.node(&node)?.spawn(&[
            "tcpdump",
            "-i",
            &ifn,
            "-U",
            "-w",
            path_str(&f)?,
            "ip6",
        ])?);
    }
    Ok(captures)
}

fn drive(
    opts: &RunOptions,
    e: &Experiment,
    lab: &Lab,
    b: &Built,
    dir: &Path,
) -> anyhow::Result<Report> {
    let t = &e.topology;
    let sc = &e.scenario;
    let ha_bin = opts.bin_dir.join("mip6-ha");
    let mn_bin = opts.bin_dir.join("mip6-mn");
    let creds: Vec<MnCred> = t
        .mobile_nodes
        .iter()
        .enumerate()
        .map(|(i, m)| MnCred {
            nai: format!("{}@testbed.mip6", m.name),
            home_address: m.home_address,
            spi: 4660 + i as u32,
            key_hex: key_hex(m),
        })
        .collect();
    let captures = start_captures(opts, t, b)?;
    let mut has = Vec::new();
    for h in &t.home_agents {
        let mine: Vec<MnCred> = t
            .mobile_nodes
            .iter()
            .zip(&creds)
            .filter(|(m, _)| m.home_agent == h.name)
            .map(|(_, c)| c.clone())
            .collect();
        let conf = write_ha_config(t, h, dir, &mine, "mip6ha_run", opts.data_plane)?;
        let node = b.node(&h.name)?.clone();
        let argv = vec![
            path_str(&ha_bin)?.to_string(),
            "run".into(),
            "-c".into(),
            path_str(&conf)?.to_string(),
        ];
        let child = HaRun::start(&node, &argv).with_context(|| h.name.clone())?;
        has.push(HaRun {
            name: h.name.clone(),
            node,
            argv,
            child: Some(child),
            acc: BTreeMap::new(),
        });
    }

    // Every mobile node's daemon, then wait for all of them to be home.
    let mut mns = Vec::new();
    for (m, cred) in t.mobile_nodes.iter().zip(&creds) {
        let conf = write_mn_config(t, m, cred, dir, &m.name, opts.optimistic, opts.data_plane)?;
        let node = b.node(&m.name)?.clone();
        let daemon = node.spawn(&[path_str(&mn_bin)?, "run", "-c", path_str(&conf)?])?;
        mns.push(MnRun {
            spec: m.clone(),
            node,
            sock: dir.join(format!("{}.sock", m.name)),
            daemon: Some(daemon),
            moves: Vec::new(),
            probes: None,
            tcp_rx: None,
            tcp_tx: None,
        });
    }
    let settle = Duration::from_secs(30 + 2 * mns.len() as u64);
    let waiting = Instant::now();
    for m in &mns {
        let left = settle
            .saturating_sub(waiting.elapsed())
            .max(Duration::from_secs(5));
        // A mobile node starting on a foreign link registers first.
        wait_status(&m.node, &mn_bin, &m.sock, "its first link", left, |v| {
            v["location"] == "home" || v["binding_update_list"][0]["state"] == "registered"
        })
        .map_err(|e| {
            anyhow!(
                "{}: {e}\n{}",
                m.spec.name,
                m.daemon.as_ref().map(Child::log).unwrap_or_default()
            )
        })?;
    }

    // Traffic: the applications on the mobile nodes only know the HoAs.
    let stop = probe::stop_flag();
    let interval = Duration::from_nanos(1_000_000_000 / u64::from(sc.traffic.probe_hz));
    let mut cns = Vec::new();
    for i in 0..mns.len() {
        let c = t
            .correspondent_of(i)
            .ok_or_else(|| anyhow!("no correspondent"))?;
        cns.push((
            c.name.clone(),
            b.node(&c.name)?.clone(),
            b.addr(&c.name, &c.link)?,
        ));
    }
    let mut notes = Vec::new();
    let iperf3 = match &sc.traffic.iperf3 {
        Some(_) if !iperf3_installed() => {
            let n = format!(
                "{} is not installed: its streams did not run",
                iperf3_program()
            );
            eprintln!("mip6-testbed run: warning: {n}");
            notes.push(n);
            None
        }
        x => x.clone(),
    };
    // Whole seconds that end before the run does.
    let iperf3_secs = (sc.duration_ms / 1000).saturating_sub(1).max(1).to_string();
    let mut iperfs = Vec::new();
    let iperf3_exe = iperf3_program();
    let start = Instant::now();
    let started_unix_ms = unix_ms();
    for (i, m) in mns.iter_mut().enumerate() {
        let (cn_name, cn_node, cn_addr) = &cns[i];
        let hoa = m.spec.home_address;
        let probe_port = PORT_BASE + 2 * i as u16;
        let tcp_port = probe_port + 1;
        let down = ProbeStream::start(
            cn_node,
            &m.node,
            SocketAddr::from((hoa, probe_port)),
            interval,
            &stop,
            start,
        )?;
        let up = ProbeStream::start(
            &m.node,
            cn_node,
            SocketAddr::from((*cn_addr, PORT_BASE_UP + i as u16)),
            interval,
            &stop,
            start,
        )?;
        m.probes = Some((down, up));
        if sc.traffic.tcp {
            let listener = m.node.run_in(|| {
                TcpListener::bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, tcp_port)))
            })??;
            let s = Arc::clone(&stop);
            m.tcp_rx =
                Some(m.node.thread_in(move || {
                    traffic::serve_one(&listener, &s, Duration::from_secs(20))
                })?);
            let s = Arc::clone(&stop);
            let rate = sc.traffic.tcp_rate;
            m.tcp_tx = Some(cn_node.thread_in(move || {
                traffic::send_stream(
                    SocketAddr::from((hoa, tcp_port)),
                    rate,
                    &s,
                    Duration::from_secs(10),
                )
            })?);
        }
        if let Some(ip) = &iperf3 {
            let port = (PORT_BASE_IPERF3 + i as u16).to_string();
            let mut server =
                m.node
                    .spawn(&[&iperf3_exe, "-s", "-1", "--forceflush", "-p", &port])?;
            server
                .wait_log("Server listening", Duration::from_secs(10))
                .map_err(|e| anyhow!("iperf3 -s on {}: {e}\n{}", m.spec.name, server.log()))?;
            let json = dir.join(format!("iperf3-{}.json", m.spec.name));
            let hoa_s = hoa.to_string();
            let mut argv = vec![
                iperf3_exe.as_str(),
                "-c",
                &hoa_s,
                "-p",
                &port,
                "-t",
                &iperf3_secs,
                "-b",
                &ip.bitrate,
                "--json",
                "--logfile",
                path_str(&json)?,
            ];
            if ip.reverse {
                argv.push("-R");
            }
            let client = cn_node.spawn(&argv)?;
            let (from, to) = if ip.reverse {
                (m.spec.name.as_str(), cn_name.as_str())
            } else {
                (cn_name.as_str(), m.spec.name.as_str())
            };
            iperfs.push(Iperf3Run {
                name: format!("{from} -> {to} (HoA {hoa})"),
                server,
                client,
                json,
            });
        }
    }

    // The timeline: moves, carrier changes and faults in time order.
    let mut events: Vec<(u64, Event)> = Vec::new();
    let names: Vec<String> = mns.iter().map(|m| m.spec.name.clone()).collect();
    let index_of = |name: &str| {
        names
            .iter()
            .position(|m| m == name)
            .ok_or_else(|| anyhow!("no mobile node {name}"))
    };
    let iface_of = |idx: usize, named: &Option<String>| {
        named
            .clone()
            .or_else(|| mns[idx].spec.interfaces.first().map(|f| f.name.clone()))
            .ok_or_else(|| anyhow!("{} has no interface", mns[idx].spec.name))
    };
    for mv in &sc.moves {
        let mn = index_of(&mv.mn)?;
        let iface = iface_of(mn, &mv.iface)?;
        let to = mv.to.clone();
        events.push((mv.at_ms, Event::Move { mn, iface, to }));
    }
    for c in &sc.carrier {
        let mn = index_of(&c.mn)?;
        let iface = iface_of(mn, &c.iface)?;
        events.push((
            c.at_ms,
            Event::Carrier {
                mn,
                iface,
                up: c.up,
            },
        ));
    }
    for f in &sc.faults {
        events.push((f.at_ms(), Event::Fault(f.clone())));
    }
    // Stable: events at the same time keep the file's order.
    events.sort_by_key(|(at, _)| *at);
    let mut ifaces: Vec<Vec<IfState>> = mns
        .iter()
        .map(|m| {
            m.spec
                .interfaces
                .iter()
                .map(|f| IfState {
                    name: f.name.clone(),
                    built_on: f.link.clone(),
                    link: f.link.clone(),
                    carrier: true,
                    priority: f.priority,
                })
                .collect()
        })
        .collect();
    for (m, ifs) in mns.iter_mut().zip(&ifaces) {
        let first = active(ifs).map(|a| &ifs[a]);
        m.moves.push(MoveRec {
            from: first.map(|f| f.link.clone()).unwrap_or_default(),
            to: first.map(|f| f.link.clone()).unwrap_or_default(),
            interface: (ifs.len() > 1)
                .then(|| first.map(|f| f.name.clone()))
                .flatten(),
            cause: None,
            at: Duration::ZERO,
            unix_ms: started_unix_ms,
        });
    }
    // A mobile node that lost its last carrier: the handover it starts
    // ends when some interface comes back.
    let mut detached: BTreeMap<usize, MoveRec> = BTreeMap::new();
    let mut drop_tables: Vec<(usize, String)> = Vec::new();
    let log = |what: String| {
        eprintln!(
            "mip6-testbed run: {:.0} ms: {what}",
            start.elapsed().as_secs_f64() * 1000.0
        );
    };
    for (at_ms, ev) in events {
        let due = start + Duration::from_millis(at_ms);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        match ev {
            Event::Move { mn, iface, to } => {
                let ifs = &mut ifaces[mn];
                let k = ifs
                    .iter()
                    .position(|f| f.name == iface)
                    .ok_or_else(|| anyhow!("{} has no interface {iface}", mns[mn].spec.name))?;
                let before = active(ifs);
                let ifc = b.iface(&mns[mn].spec.name, &ifs[k].built_on)?.clone();
                let at = start.elapsed();
                let unix = unix_ms();
                let opts = MoveOptions {
                    carrier_stays_off: !ifs[k].carrier,
                    ..MoveOptions::default()
                };
                if let Err(e) = lab.move_iface_with(&ifc, b.link(&to)?, &opts) {
                    eprintln!(
                        "mip6-testbed run: warning: moving {} {iface} to {to}: {e}",
                        mns[mn].spec.name
                    );
                    continue;
                }
                let from = std::mem::replace(&mut ifs[k].link, to.clone());
                if before == Some(k) {
                    mns[mn].moves.push(MoveRec {
                        from,
                        to,
                        interface: (ifs.len() > 1).then(|| iface.clone()),
                        cause: Some(format!("move {iface}")),
                        at,
                        unix_ms: unix,
                    });
                } else {
                    log(format!(
                        "{} {iface} moved to {to} (not the interface in use)",
                        mns[mn].spec.name
                    ));
                }
            }
            Event::Carrier { mn, iface, up } => {
                let ifs = &mut ifaces[mn];
                let k = ifs
                    .iter()
                    .position(|f| f.name == iface)
                    .ok_or_else(|| anyhow!("{} has no interface {iface}", mns[mn].spec.name))?;
                let name = &mns[mn].spec.name;
                if ifs[k].carrier == up {
                    eprintln!(
                        "mip6-testbed run: warning: {name} {iface} already has carrier {}",
                        if up { "on" } else { "off" }
                    );
                    continue;
                }
                let before = active(ifs);
                let ifc = b.iface(name, &ifs[k].built_on)?.clone();
                let at = start.elapsed();
                let unix = unix_ms();
                let r = if up { ifc.set_up() } else { ifc.set_down() };
                if let Err(e) = r {
                    eprintln!("mip6-testbed run: warning: carrier of {name} {iface}: {e}");
                    continue;
                }
                ifs[k].carrier = up;
                let after = active(ifs);
                let cause = format!("carrier {} {iface}", if up { "up" } else { "down" });
                log(format!("{name}: {cause}"));
                if before == after {
                    continue;
                }
                let several = ifs.len() > 1;
                let rec = |from: String, at, unix_ms| MoveRec {
                    from,
                    to: after.map(|a| ifs[a].link.clone()).unwrap_or_default(),
                    interface: after.filter(|_| several).map(|a| ifs[a].name.clone()),
                    cause: Some(cause.clone()),
                    at,
                    unix_ms,
                };
                match (before, after) {
                    (Some(b), None) => {
                        detached.insert(mn, rec(ifs[b].link.clone(), at, unix));
                    }
                    (None, Some(_)) => {
                        // The handover began when the last carrier went.
                        let rec = match detached.remove(&mn) {
                            Some(d) => MoveRec {
                                cause: Some(format!(
                                    "{} .. {}",
                                    d.cause.unwrap_or_default(),
                                    cause
                                )),
                                ..rec(d.from, d.at, d.unix_ms)
                            },
                            None => rec(String::new(), at, unix),
                        };
                        mns[mn].moves.push(rec);
                    }
                    (Some(b), Some(_)) => {
                        let r = rec(ifs[b].link.clone(), at, unix);
                        mns[mn].moves.push(r);
                    }
                    (None, None) => {}
                }
            }
            Event::Fault(Fault::DropNextBa { mn, .. }) => {
                let idx = index_of(&mn)?;
                let table = format!("m6dropba{}", drop_tables.len());
                mns[idx]
                    .node
                    .sh(&format!(
                        "printf 'table ip6 {table} {{ chain in {{ type filter hook input priority -10; \
                         rt type 2 numgen inc mod 1000000 0 counter drop; }}; }}\\n' | nft -f -"
                    ))
                    .with_context(|| format!("the drop_next_ba rule on {mn}"))?;
                log(format!("dropping the next BA to {mn}"));
                drop_tables.push((idx, table));
            }
            Event::Fault(Fault::RestartHa { ha, .. }) => {
                let h = match &ha {
                    Some(n) => has
                        .iter_mut()
                        .find(|h| &h.name == n)
                        .ok_or_else(|| anyhow!("no home agent {n}"))?,
                    None => has.first_mut().ok_or_else(|| anyhow!("no home agent"))?,
                };
                if let Ok(Ok(m)) = h.node.run_in(|| scrape_metrics("[::1]:9106")) {
                    add_counters(&mut h.acc, &m);
                }
                if let Some(c) = h.child.take() {
                    // SAFETY: kill(2) on our own child's pid, not yet reaped.
                    unsafe {
                        libc::kill(c.pid() as libc::pid_t, libc::SIGKILL);
                    }
                    // Reaped, so its TUN device is gone before the restart.
                    let _ = c.stop();
                }
                h.child = Some(
                    HaRun::start(&h.node, &h.argv)
                        .with_context(|| format!("restarting {}", h.name))?,
                );
                log(format!(
                    "home agent {} killed (SIGKILL) and restarted",
                    h.name
                ));
            }
            Event::Fault(Fault::RouterDown { router, link, .. }) => {
                // The advertisers were started router by router, link by link.
                let mut k = 0;
                for r in &t.routers {
                    for l in &r.links {
                        if r.ra == RaDaemon::None {
                            continue;
                        }
                        if r.name == router
                            && link.as_ref().is_none_or(|x| x == l)
                            && let Some(c) = b.advertisers.get(k)
                        {
                            // SAFETY: kill(2) on our own child's pid.
                            unsafe {
                                libc::kill(c.pid() as libc::pid_t, libc::SIGTERM);
                            }
                        }
                        k += 1;
                    }
                }
                log(format!("router {router} stopped advertising"));
            }
        }
    }
    for (mn, d) in std::mem::take(&mut detached) {
        mns[mn].moves.push(MoveRec {
            to: "(detached)".into(),
            ..d
        });
    }
    let end = start + Duration::from_millis(sc.duration_ms);
    let now = Instant::now();
    if end > now {
        std::thread::sleep(end - now);
    }
    let duration = start.elapsed();
    stop.store(true, Ordering::SeqCst);

    let mut handovers = Vec::new();
    let mut timeline = Vec::new();
    let mut probe_gaps = Vec::new();
    let mut tcp = Vec::new();
    for (i, m) in mns.iter_mut().enumerate() {
        let (down, up) = m.probes.take().ok_or_else(|| anyhow!("no probe streams"))?;
        let log = down.finish()?;
        let log_up = up.finish()?;
        if let (Some(tx), Some(rx)) = (m.tcp_tx.take(), m.tcp_rx.take()) {
            let client = tx.join().map_err(|_| anyhow!("TCP client panicked"))??;
            let server = rx.join().map_err(|_| anyhow!("TCP server panicked"))??;
            tcp.push(TcpResult {
                name: format!(
                    "{} -> {} (HoA {})",
                    cns[i].0, m.spec.name, m.spec.home_address
                ),
                bytes: server.bytes,
                survived: client.survived() && server.survived(),
                throughput: crate::traffic::throughput(
                    &server.progress,
                    start,
                    Duration::from_millis(crate::report::THROUGHPUT_BIN_MS),
                ),
                error: client.error.or(server.error),
            });
        }
        let status = mn_status(&m.node, &mn_bin, &m.sock)
            .with_context(|| format!("the status of {}", m.spec.name))?;
        analyse(
            &m.spec.name,
            &m.moves,
            &log,
            &log_up,
            &status,
            duration,
            &mut handovers,
            &mut timeline,
            &mut probe_gaps,
        );
    }
    let mut iperf3_results = Vec::new();
    for mut r in iperfs {
        // It stops on its own a second before the run's end.
        let deadline = Instant::now() + Duration::from_secs(15);
        while r.client.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let text = std::fs::read_to_string(&r.json).unwrap_or_default();
        let mut res = traffic::iperf3_result(&r.name, &text);
        if res.error.is_some() {
            let log = r.client.log();
            if !log.trim().is_empty() {
                res.error = Some(format!("{}; {}", res.error.unwrap_or_default(), log.trim()));
            }
        }
        iperf3_results.push(res);
        let _ = r.client.stop();
        let _ = r.server.stop();
    }
    for (idx, table) in &drop_tables {
        let out = mns[*idx]
            .node
            .exec(&["nft", "list", "table", "ip6", table])
            .unwrap_or_default();
        if !out.contains("packets 1 ") {
            eprintln!(
                "mip6-testbed run: warning: the drop_next_ba rule on {} dropped nothing",
                mns[*idx].spec.name
            );
        }
    }
    let mut home_agent_metrics = BTreeMap::new();
    let mut home_agent_metrics_by_name = BTreeMap::new();
    for h in &has {
        let m = h.metrics()?;
        for (k, v) in &m {
            *home_agent_metrics.entry(k.clone()).or_default() += v;
        }
        if has.len() > 1 {
            home_agent_metrics_by_name.insert(h.name.clone(), m);
        }
    }

    // SIGTERM to every daemon first, so they deregister in parallel.
    for m in &mns {
        if let Some(d) = &m.daemon {
            // SAFETY: kill(2) on our own child's pid, not yet reaped.
            unsafe {
                libc::kill(d.pid() as libc::pid_t, libc::SIGTERM);
            }
        }
    }
    for m in &mut mns {
        if let Some(d) = m.daemon.take() {
            let _ = d.stop();
        }
    }
    for h in has {
        if let Some(c) = h.child {
            let _ = c.stop();
        }
    }
    for c in captures {
        let _ = c.stop();
    }

    Ok(Report {
        schema: SCHEMA.into(),
        topology: t.name.clone(),
        started_unix_ms,
        duration_ms: duration.as_secs_f64() * 1000.0,
        summary: Summary::of(&handovers),
        tcp_survived: tcp.iter().all(|c| c.survived) && iperf3_results.iter().all(|c| c.survived),
        handovers,
        tcp,
        timeline,
        probe_gaps,
        home_agent_metrics,
        home_agent_metrics_by_name,
        iperf3: iperf3_results,
        notes,
    })
}

/// One mobile node's moves against its probe stream and its daemon's own
/// record of each handover.
#[allow(clippy::too_many_arguments)]
pub(crate) fn analyse(
    name: &str,
    moves: &[MoveRec],
    log: &ProbeLog,
    log_up: &ProbeLog,
    status: &Value,
    duration: Duration,
    handovers: &mut Vec<Handover>,
    timeline: &mut Vec<Segment>,
    probe_gaps: &mut Vec<Gap>,
) {
    let marks: Vec<Duration> = moves.iter().map(|m| m.at).collect();
    let windows = log.analyse(&marks);
    let windows_up = log_up.analyse(&marks);
    let daemon_handovers = status["handovers"].as_array().cloned().unwrap_or_default();
    let ms = |v: &Value| v.as_f64();
    for (i, ((m, w), up)) in moves.iter().zip(&windows).zip(&windows_up).enumerate() {
        let end = moves.get(i + 1).map_or(duration, |n| n.at);
        let next_unix = moves.get(i + 1).map_or(f64::INFINITY, |n| n.unix_ms);
        let d = daemon_handovers.iter().find(|h| {
            ms(&h["link_event_unix_ms"]).is_some_and(|t| t >= m.unix_ms - 50.0 && t < next_unix)
        });
        let coa = d.and_then(|h| h["coa"].as_str()).map(str::to_string);
        timeline.push(Segment {
            mn: name.to_string(),
            link: m.to.clone(),
            interface: m.interface.clone(),
            care_of_address: coa.clone(),
            from_ms: m.at.as_secs_f64() * 1000.0,
            to_ms: end.as_secs_f64() * 1000.0,
        });
        if w.gap_ms > 5.0 + log.interval.as_secs_f64() * 1000.0 {
            probe_gaps.push(Gap {
                mn: name.to_string(),
                from_ms: w.gap_start_ms,
                to_ms: w.gap_start_ms + w.gap_ms,
            });
        }
        if i == 0 {
            continue;
        }
        let get = |k: &str| d.and_then(|h| ms(&h[k]));
        let link = get("link_event_unix_ms");
        // Falling back to an interface that already had its care-of
        // address: its RA and DAD belong to an earlier time, not here.
        let fresh = |k: &str| get(k).filter(|t| link.is_none_or(|l| *t >= l - 1.0));
        let diff = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| b - a);
        let at_ms = m.at.as_secs_f64() * 1000.0;
        handovers.push(Handover {
            mn: name.to_string(),
            index: i,
            from_link: m.from.clone(),
            to_link: m.to.clone(),
            interface: m.interface.clone(),
            cause: m.cause.clone(),
            at_ms,
            care_of_address: coa,
            coa_source: d.and_then(|h| h["coa_source"].as_str()).map(str::to_string),
            link_to_ra_ms: diff(link, fresh("ra_unix_ms")),
            dad_ms: diff(fresh("ra_unix_ms"), fresh("coa_usable_unix_ms")),
            link_to_bu_ms: diff(link, get("bu_sent_unix_ms")),
            bu_to_ba_ms: diff(get("bu_sent_unix_ms"), get("ba_received_unix_ms")),
            bu_count: d
                .and_then(|h| h["bu_count"].as_u64())
                .and_then(|n| u32::try_from(n).ok()),
            outcome: d.and_then(|h| h["outcome"].as_str()).map(str::to_string),
            link_to_first_probe_ms: (w.lost > 0).then_some(w.gap_start_ms + w.gap_ms - at_ms),
            gap_ms: w.gap_ms,
            lost_probes: w.lost,
            gap_ms_up: Some(up.gap_ms),
            lost_probes_up: Some(up.lost),
        });
    }
}

/// The home agent's Binding Update processing over the run: BUs received
/// by result (its own counters) and the BU -> BA latency the mobile nodes
/// measured.
pub fn ha_figures(r: &Report) -> String {
    let mut s = String::new();
    let mnames: std::collections::BTreeSet<&str> =
        r.timeline.iter().map(|x| x.mn.as_str()).collect();
    let _ = writeln!(
        s,
        "home agent: {} mobile nodes, {} handovers in {:.1} s",
        mnames.len(),
        r.handovers.len(),
        r.duration_ms / 1000.0
    );
    let get = |k: &str| r.home_agent_metrics.get(k).copied().unwrap_or(0.0);
    let _ = writeln!(
        s,
        "  BUs received {:.0}, BAs sent {:.0}, binding errors sent {:.0}",
        get("mip6_ha_binding_updates_received_total"),
        get("mip6_ha_binding_acks_sent_total"),
        get("mip6_ha_binding_errors_sent_total"),
    );
    for (k, v) in &r.home_agent_metrics {
        if let Some(labels) = k.strip_prefix("mip6_ha_binding_updates_total")
            && *v > 0.0
        {
            let _ = writeln!(s, "  BUs {labels}: {v:.0}");
        }
    }
    let st = &r.summary.bu_to_ba_ms;
    let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
    let _ = writeln!(
        s,
        "  BU -> BA latency (ms) over {} handovers: median {}, p95 {}, max {}",
        st.count,
        f(st.median),
        f(st.p95),
        f(st.max)
    );
    let retx = r
        .handovers
        .iter()
        .filter(|h| h.bu_count.is_some_and(|n| n >= 2))
        .count();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for h in &r.handovers {
        *outcomes
            .entry(h.outcome.clone().unwrap_or_else(|| "unknown".into()))
            .or_default() += 1;
    }
    let _ = writeln!(
        s,
        "  handovers with a retransmitted BU: {retx}; outcomes: {outcomes:?}"
    );
    let broken = r.tcp.iter().filter(|c| !c.survived).count();
    let _ = writeln!(
        s,
        "  TCP connections: {} of {} survived",
        r.tcp.len() - broken,
        r.tcp.len()
    );
    s
}
