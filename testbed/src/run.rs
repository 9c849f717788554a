//! `mip6-testbed run FILE`: a topology file's scenario with the real
//! daemons. One home agent serves every mobile node; each has its own home
//! address, key, daemon, probe stream and TCP stream from the first
//! correspondent, and moves when the scenario says; faults are injected on
//! time. `--mobile-nodes N` replaces the first mobile node by N clones with
//! seeded random timelines, for scale runs.

use crate::build::{Built, build};
use crate::demo::{
    MnCred, mn_status, path_str, scrape_metrics, unix_ms, wait_status, write_ha_config,
    write_mn_config,
};
use crate::harness::{Child, Lab, Node, check_kernel, require_root};
use crate::probe::{self, ProbeLog, ProbeStream};
use crate::report::{Gap, Handover, Report, SCHEMA, Segment, Summary, TcpResult};
use crate::scenario::{Experiment, Fault, MoveSpec, Rng, random_moves};
use crate::topology::{MobileNodeSpec, RaDaemon, host_addr, prefix_of};
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
    if e.topology.home_agents.len() != 1 {
        bail!("`run` drives exactly one home agent");
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
        r
    })();
    lab.cleanup()
        .map_err(|e| anyhow!("removing the namespaces: {e}"))?;
    result
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
    let ha_spec = t
        .home_agents
        .first()
        .ok_or_else(|| anyhow!("no home agent"))?;
    let cn_spec = t
        .correspondents
        .first()
        .ok_or_else(|| anyhow!("no correspondent"))?;
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
    let ha_conf = write_ha_config(t, ha_spec, dir, &creds, "mip6ha_run")?;
    let ha_node = b.node(&ha_spec.name)?.clone();
    let ha_argv = [path_str(&ha_bin)?, "run", "-c", path_str(&ha_conf)?];
    let mut ha: Child = ha_node.spawn(&ha_argv)?;
    ha.wait_log("mip6-ha ready", Duration::from_secs(30))
        .map_err(|e| anyhow!("the home agent did not start: {e}\n{}", ha.log()))?;

    // Every mobile node's daemon, then wait for all of them to be home.
    let mut mns = Vec::new();
    for (m, cred) in t.mobile_nodes.iter().zip(&creds) {
        let conf = write_mn_config(t, m, cred, dir, &m.name, false)?;
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
    let cn_node = b.node(&cn_spec.name)?.clone();
    let cn_addr = b.addr(&cn_spec.name, &cn_spec.link)?;
    let start = Instant::now();
    let started_unix_ms = unix_ms();
    for (i, m) in mns.iter_mut().enumerate() {
        let hoa = m.spec.home_address;
        let probe_port = PORT_BASE + 2 * i as u16;
        let tcp_port = probe_port + 1;
        let down = ProbeStream::start(
            &cn_node,
            &m.node,
            SocketAddr::from((hoa, probe_port)),
            interval,
            &stop,
            start,
        )?;
        let up = ProbeStream::start(
            &m.node,
            &cn_node,
            SocketAddr::from((cn_addr, PORT_BASE_UP + i as u16)),
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
    }

    // The timeline: moves and faults in time order.
    let mut events: Vec<(u64, Event)> = Vec::new();
    for mv in &sc.moves {
        let idx = mns
            .iter()
            .position(|m| m.spec.name == mv.mn)
            .ok_or_else(|| anyhow!("no mobile node {}", mv.mn))?;
        let iface = mv
            .iface
            .clone()
            .or_else(|| mns[idx].spec.interfaces.first().map(|f| f.name.clone()))
            .ok_or_else(|| anyhow!("{} has no interface", mv.mn))?;
        events.push((
            mv.at_ms,
            Event::Move {
                mn: idx,
                iface,
                to: mv.to.clone(),
            },
        ));
    }
    for f in &sc.faults {
        events.push((f.at_ms(), Event::Fault(f.clone())));
    }
    events.sort_by_key(|(at, _)| *at);
    // Where each interface is: (mn index, iface) -> link.
    let mut here: BTreeMap<(usize, String), String> = BTreeMap::new();
    for (i, m) in mns.iter_mut().enumerate() {
        for f in &m.spec.interfaces {
            here.insert((i, f.name.clone()), f.link.clone());
        }
        let first = m
            .spec
            .interfaces
            .first()
            .map(|f| f.link.clone())
            .unwrap_or_default();
        m.moves.push(MoveRec {
            from: first.clone(),
            to: first,
            at: Duration::ZERO,
            unix_ms: started_unix_ms,
        });
    }
    let mut metrics_acc = BTreeMap::new();
    let mut drop_tables: Vec<(usize, String)> = Vec::new();
    for (at_ms, ev) in events {
        let due = start + Duration::from_millis(at_ms);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        match ev {
            Event::Move { mn, iface, to } => {
                let m = &mut mns[mn];
                let from = here.get(&(mn, iface.clone())).cloned().unwrap_or_default();
                let built_on = m
                    .spec
                    .interfaces
                    .iter()
                    .find(|f| f.name == iface)
                    .map(|f| f.link.clone())
                    .ok_or_else(|| anyhow!("{} has no interface {iface}", m.spec.name))?;
                let ifc = b.iface(&m.spec.name, &built_on)?.clone();
                let at = start.elapsed();
                let unix = unix_ms();
                match lab.move_iface(&ifc, b.link(&to)?) {
                    Ok(()) => {
                        here.insert((mn, iface), to.clone());
                        m.moves.push(MoveRec {
                            from,
                            to,
                            at,
                            unix_ms: unix,
                        });
                    }
                    Err(e) => eprintln!(
                        "mip6-testbed run: warning: moving {} {iface} to {to}: {e}",
                        m.spec.name
                    ),
                }
            }
            Event::Fault(Fault::DropNextBa { mn, .. }) => {
                let idx = mns
                    .iter()
                    .position(|m| m.spec.name == mn)
                    .ok_or_else(|| anyhow!("no mobile node {mn}"))?;
                let table = format!("m6dropba{}", drop_tables.len());
                mns[idx]
                    .node
                    .sh(&format!(
                        "printf 'table ip6 {table} {{ chain in {{ type filter hook input priority -10; \
                         rt type 2 numgen inc mod 1000000 0 counter drop; }}; }}\\n' | nft -f -"
                    ))
                    .with_context(|| format!("the drop_next_ba rule on {mn}"))?;
                eprintln!(
                    "mip6-testbed run: {:.0} ms: dropping the next BA to {mn}",
                    start.elapsed().as_secs_f64() * 1000.0
                );
                drop_tables.push((idx, table));
            }
            Event::Fault(Fault::RestartHa { .. }) => {
                if let Ok(Ok(m)) = ha_node.run_in(|| scrape_metrics("[::1]:9106")) {
                    add_counters(&mut metrics_acc, &m);
                }
                // SAFETY: kill(2) on our own child's pid, not yet reaped.
                unsafe {
                    libc::kill(ha.pid() as libc::pid_t, libc::SIGKILL);
                }
                let _ = ha.stop();
                ha = ha_node.spawn(&ha_argv)?;
                ha.wait_log("mip6-ha ready", Duration::from_secs(30))
                    .map_err(|e| anyhow!("the home agent did not restart: {e}\n{}", ha.log()))?;
                eprintln!(
                    "mip6-testbed run: {:.0} ms: home agent killed (SIGKILL) and restarted",
                    start.elapsed().as_secs_f64() * 1000.0
                );
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
                eprintln!(
                    "mip6-testbed run: {:.0} ms: router {router} stopped advertising",
                    start.elapsed().as_secs_f64() * 1000.0
                );
            }
        }
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
    for m in &mut mns {
        let (down, up) = m.probes.take().ok_or_else(|| anyhow!("no probe streams"))?;
        let log = down.finish()?;
        let log_up = up.finish()?;
        if let (Some(tx), Some(rx)) = (m.tcp_tx.take(), m.tcp_rx.take()) {
            let client = tx.join().map_err(|_| anyhow!("TCP client panicked"))??;
            let server = rx.join().map_err(|_| anyhow!("TCP server panicked"))??;
            tcp.push(TcpResult {
                name: format!(
                    "{} -> {} (HoA {})",
                    cn_spec.name, m.spec.name, m.spec.home_address
                ),
                bytes: server.bytes,
                survived: client.survived() && server.survived(),
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
    let mut home_agent_metrics = ha_node
        .run_in(|| scrape_metrics("[::1]:9106"))?
        .context("the home agent's metrics")?;
    for (k, v) in metrics_acc {
        *home_agent_metrics.entry(k).or_default() += v;
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
    let _ = ha.stop();

    Ok(Report {
        schema: SCHEMA.into(),
        topology: t.name.clone(),
        started_unix_ms,
        duration_ms: duration.as_secs_f64() * 1000.0,
        summary: Summary::of(&handovers),
        tcp_survived: tcp.iter().all(|c| c.survived),
        handovers,
        tcp,
        timeline,
        probe_gaps,
        home_agent_metrics,
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
        let diff = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| b - a);
        let at_ms = m.at.as_secs_f64() * 1000.0;
        handovers.push(Handover {
            mn: name.to_string(),
            index: i,
            from_link: m.from.clone(),
            to_link: m.to.clone(),
            at_ms,
            care_of_address: coa,
            link_to_ra_ms: diff(link, get("ra_unix_ms")),
            dad_ms: diff(get("ra_unix_ms"), get("coa_usable_unix_ms")),
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
