//! `mip6-testbed demo`: the default topology, one mobile node moving
//! home -> A -> B -> home under a TCP stream and a 1 kHz probe, the real
//! daemons, and a report of every handover.

use crate::build::{Built, build};
use crate::harness::{Child, Lab, Node, check_kernel, require_root};
use crate::probe::{self, ProbeStream};
use crate::report::{Report, SCHEMA, Summary, TcpResult};
use crate::topology::{DEFAULT_TOPOLOGY, HomeAgentSpec, MobileNodeSpec, Topology};
use crate::traffic::{self, StreamResult};
use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use std::net::{Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PROBE_PORT: u16 = 9000;
const PROBE_PORT_UP: u16 = 9002;
const TCP_PORT: u16 = 9001;
const KEY_HEX: &str = "6d6970362064656d6f204d4e2d4841206b6579";
const SPI: u32 = 4660;
const NAI: &str = "mn@demo.mip6";

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
    pub data_plane: mip6_common::dataplane::PathChoice,
    /// Run this DHCPv6 server on foreign link B (M=1 there): the mobile
    /// node leases its care-of address on B and makes one by SLAAC on A,
    /// in the same run.
    pub dhcpv6: Option<crate::dhcp6_server::DhcpServer>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            bin_dir: PathBuf::new(),
            moves: vec!["a".into(), "b".into(), "home".into()],
            dwell: Duration::from_secs(3),
            optimistic: false,
            tcp_rate: 2 << 20,
            data_plane: mip6_common::dataplane::PathChoice::default(),
            dhcpv6: None,
        }
    }
}

/// Finds the daemons: `MIP6_BIN_DIR`, else beside the running executable.
pub fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("MIP6_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => std::env::current_exe()?
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| anyhow!("cannot tell where this executable lives"))?,
    };
    for b in ["mip6-ha", "mip6-mn", "mip6-testbed"] {
        if !dir.join(b).exists() {
            bail!(
                "{b} is not in {}: build the workspace first (cargo build --release --workspace) or set MIP6_BIN_DIR",
                dir.display()
            );
        }
    }
    Ok(dir)
}

pub(crate) fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

pub(crate) fn path_str(p: &Path) -> anyhow::Result<&str> {
    p.to_str()
        .ok_or_else(|| anyhow!("non-UTF-8 path {}", p.display()))
}

/// What a home agent and a mobile node share: identity and key.
#[derive(Debug, Clone)]
pub(crate) struct MnCred {
    pub nai: String,
    pub home_address: Ipv6Addr,
    pub spi: u32,
    pub key_hex: String,
}

fn demo_creds(t: &Topology, ha: &str) -> Vec<MnCred> {
    t.mobile_nodes
        .iter()
        .filter(|m| m.home_agent == ha)
        .map(|m| MnCred {
            nai: NAI.into(),
            home_address: m.home_address,
            spi: SPI,
            key_hex: KEY_HEX.into(),
        })
        .collect()
}

fn ha_config(
    t: &Topology,
    dir: &Path,
    data_plane: mip6_common::dataplane::PathChoice,
) -> anyhow::Result<PathBuf> {
    let ha = t
        .home_agents
        .first()
        .ok_or_else(|| anyhow!("no home agent"))?;
    let p = write_ha_config(t, ha, dir, &demo_creds(t, &ha.name), "mip6ha_demo")?;
    append(&p, &format!("data_plane: {}\n", data_plane.name()))?;
    Ok(p)
}

fn append(p: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .open(p)?
        .write_all(text.as_bytes())?;
    Ok(())
}

/// Writes `dir/NAME.yaml` for home agent `ha` serving `mns`: state file
/// `NAME-bindings.json` and control socket `NAME.sock` in `dir`, metrics on [::1]:9106, fast RAs and DAD.
pub(crate) fn write_ha_config(
    t: &Topology,
    ha: &HomeAgentSpec,
    dir: &Path,
    mns: &[MnCred],
    nft_table: &str,
) -> anyhow::Result<PathBuf> {
    let home = t
        .link(&ha.home_link)
        .ok_or_else(|| anyhow!("no home link"))?;
    let mut list = String::new();
    for m in mns {
        list.push_str(&format!(
            "  - id: {}\n    home_address: \"{}\"\n    spi: {}\n    key_hex: \"{}\"\n",
            m.nai, m.home_address, m.spi, m.key_hex
        ));
    }
    let text = format!(
        "home_interface: eth0\n\
         ha_address: \"{}\"\n\
         home_prefixes:\n  - prefix: \"{}\"\n\
         max_binding_lifetime: 600\n\
         tunnel_device: mip6ha0\n\
         state_file: {}\n\
         control_socket: {}\n\
         metrics:\n  listen: \"[::1]:9106\"\n\
         nftables_table: {nft_table}\n\
         dad:\n  transmits: 1\n  retrans_ms: 200\n\
         router_advertisements:\n  enabled: {}\n  max_interval_ms: 200\n\
         mobile_nodes:\n{list}",
        ha.address,
        home.prefix,
        path_str(&dir.join(format!("{}-bindings.json", ha.name)))?,
        path_str(&dir.join(format!("{}.sock", ha.name)))?,
        ha.home_router,
    );
    let p = dir.join(format!("{}.yaml", ha.name));
    std::fs::write(&p, text)?;
    Ok(p)
}

fn mn_config(
    t: &Topology,
    dir: &Path,
    optimistic: bool,
    data_plane: mip6_common::dataplane::PathChoice,
) -> anyhow::Result<PathBuf> {
    let m = t
        .mobile_nodes
        .first()
        .ok_or_else(|| anyhow!("no mobile node"))?;
    let cred = demo_creds(t, &m.home_agent)
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no mobile node"))?;
    let p = write_mn_config(t, m, &cred, dir, "mn", optimistic)?;
    append(
        &p,
        &format!("tunnel:\n  data_plane: {}\n", data_plane.name()),
    )?;
    Ok(p)
}

/// Writes `dir/STEM.yaml` for mobile node `m`, its control socket
/// `dir/STEM.sock` and stable secret `dir/STEM-stable-secret` (the demo's
/// keeps its old name).
pub(crate) fn write_mn_config(
    t: &Topology,
    m: &MobileNodeSpec,
    cred: &MnCred,
    dir: &Path,
    stem: &str,
    optimistic: bool,
) -> anyhow::Result<PathBuf> {
    let ha = t
        .home_agents
        .iter()
        .find(|h| h.name == m.home_agent)
        .ok_or_else(|| anyhow!("no home agent {}", m.home_agent))?;
    let mut ifs = String::new();
    for f in &m.interfaces {
        ifs.push_str(&format!(
            "  - name: {}\n    priority: {}\n    iid_mode: {}\n",
            f.name, f.priority, f.mode
        ));
        // DHCPv6 where a router says M=1, SLAAC elsewhere.
        if t.has_dhcpv6() {
            ifs.push_str("    autoconf: auto\n");
        }
    }
    let secret = if stem == "mn" {
        "stable-secret".to_string()
    } else {
        format!("{stem}-stable-secret")
    };
    let text = format!(
        "home_address: \"{}\"\n\
         home_agent: \"{}\"\n\
         mn_id: {}\n\
         security:\n  spi: {}\n  key_hex: {}\n\
         interfaces:\n{ifs}\
         optimistic_dad: {}\n\
         binding_lifetime: 600\n\
         control_socket: {}\n\
         stable_secret_file: {}\n",
        cred.home_address,
        ha.address,
        cred.nai,
        cred.spi,
        cred.key_hex,
        optimistic || m.optimistic_dad,
        path_str(&dir.join(format!("{stem}.sock")))?,
        path_str(&dir.join(secret))?,
    );
    let p = dir.join(format!("{stem}.yaml"));
    std::fs::write(&p, text)?;
    Ok(p)
}

pub(crate) fn mn_status(node: &Node, bin: &Path, socket: &Path) -> anyhow::Result<Value> {
    let out = node.exec(&[
        path_str(bin)?,
        "status",
        "--json",
        "--socket",
        path_str(socket)?,
    ])?;
    Ok(serde_json::from_str(&out)?)
}

pub(crate) fn wait_status(
    node: &Node,
    bin: &Path,
    socket: &Path,
    what: &str,
    timeout: Duration,
    ok: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let start = Instant::now();
    loop {
        if let Ok(v) = mn_status(node, bin, socket)
            && ok(&v)
        {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            bail!("the mobile node did not reach {what} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Move {
    to: String,
    at: Duration,
    unix_ms: f64,
}

/// Runs the demo and returns its report. Everything it built is gone when
/// it returns, whether it succeeded or not.
pub fn run(opts: &DemoOptions) -> anyhow::Result<Report> {
    require_root().map_err(|e| anyhow!("{e}"))?;
    check_kernel().map_err(|e| anyhow!("{e}"))?;
    let mut t = Topology::parse(DEFAULT_TOPOLOGY)?;
    if let Some(server) = opts.dhcpv6 {
        let r = t
            .routers
            .iter_mut()
            .find(|r| r.links.iter().any(|l| l == "b"))
            .ok_or_else(|| anyhow!("no router on link b"))?;
        r.dhcpv6.insert("b".into(), server);
    }
    let lab = Lab::new("demo")?;
    let b = build(&lab, &t, &opts.bin_dir.join("mip6-testbed"))?;
    let dir = lab.workdir().to_path_buf();
    let result = drive(opts, &t, &lab, &b, &dir);
    drop(b);
    lab.cleanup()
        .map_err(|e| anyhow!("removing the namespaces: {e}"))?;
    result
}

fn drive(
    opts: &DemoOptions,
    t: &Topology,
    lab: &Lab,
    b: &Built,
    dir: &Path,
) -> anyhow::Result<Report> {
    let ha_bin = opts.bin_dir.join("mip6-ha");
    let mn_bin = opts.bin_dir.join("mip6-mn");
    let ha_spec = t
        .home_agents
        .first()
        .ok_or_else(|| anyhow!("no home agent"))?;
    let mn_spec = t
        .mobile_nodes
        .first()
        .ok_or_else(|| anyhow!("no mobile node"))?;
    let cn_spec = t
        .correspondents
        .first()
        .ok_or_else(|| anyhow!("no correspondent"))?;
    let hoa = mn_spec.home_address;
    let mn_if = mn_spec
        .interfaces
        .first()
        .ok_or_else(|| anyhow!("no interface"))?;

    // MIP6_DEMO_CAPTURE=DIR: keep a pcap of the home link and of the mobile
    // node's interface there, to read a handover packet by packet.
    let mut captures = Vec::new();
    if let Some(out) = std::env::var_os("MIP6_DEMO_CAPTURE") {
        let out = PathBuf::from(out);
        std::fs::create_dir_all(&out)?;
        for (node, ifn, file) in [
            (&ha_spec.name, "eth0", "home-link.pcap"),
            (&mn_spec.name, mn_if.name.as_str(), "mobile-node.pcap"),
        ] {
            let f = out.join(file);
            captures.push(b.node(node)?.spawn(&[
                "tcpdump",
                "-i",
                ifn,
                "-U",
                "-w",
                path_str(&f)?,
                "ip6",
            ])?);
        }
    }
    let ha_conf = ha_config(t, dir, opts.data_plane)?;
    let ha_node = b.node(&ha_spec.name)?;
    let mut ha: Child = ha_node.spawn(&[path_str(&ha_bin)?, "run", "-c", path_str(&ha_conf)?])?;
    ha.wait_log("mip6-ha ready", Duration::from_secs(20))
        .map_err(|e| anyhow!("the home agent did not start: {e}\n{}", ha.log()))?;

    let mn_conf = mn_config(t, dir, opts.optimistic, opts.data_plane)?;
    let mn_node = b.node(&mn_spec.name)?.clone();
    let mn_sock = dir.join("mn.sock");
    let mn: Child = mn_node.spawn(&[path_str(&mn_bin)?, "run", "-c", path_str(&mn_conf)?])?;
    wait_status(
        &mn_node,
        &mn_bin,
        &mn_sock,
        "home",
        Duration::from_secs(30),
        |v| v["location"] == "home",
    )
    .map_err(|e| anyhow!("{e}\n{}", mn.log()))?;

    // Traffic: the applications on the mobile node only know the HoA.
    let stop = probe::stop_flag();
    let start = Instant::now();
    let started_unix_ms = unix_ms();
    let cn_node = b.node(&cn_spec.name)?;
    let cn_addr = b.addr(&cn_spec.name, &cn_spec.link)?;
    let tcp_rx = {
        let stop2 = Arc::clone(&stop);
        let listener = mn_node
            .run_in(|| TcpListener::bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, TCP_PORT))))??;
        mn_node.thread_in(move || traffic::serve_one(&listener, &stop2, Duration::from_secs(20)))?
    };
    let interval = Duration::from_millis(1);
    let down = ProbeStream::start(
        cn_node,
        &mn_node,
        SocketAddr::from((hoa, PROBE_PORT)),
        interval,
        &stop,
        start,
    )?;
    // The same stream the other way: what the laptop's own sending feels.
    let up = ProbeStream::start(
        &mn_node,
        cn_node,
        SocketAddr::from((cn_addr, PROBE_PORT_UP)),
        interval,
        &stop,
        start,
    )?;
    let tcp_tx = {
        let stop = Arc::clone(&stop);
        let rate = opts.tcp_rate;
        cn_node.thread_in(move || {
            traffic::send_stream(
                SocketAddr::from((hoa, TCP_PORT)),
                rate,
                &stop,
                Duration::from_secs(5),
            )
        })?
    };

    // The moves, carrier off while the cable is being moved.
    let iface = b.iface(&mn_spec.name, &mn_if.link)?.clone();
    let mut moves = vec![Move {
        to: mn_if.link.clone(),
        at: Duration::ZERO,
        unix_ms: started_unix_ms,
    }];
    std::thread::sleep(opts.dwell);
    for to in &opts.moves {
        let at = start.elapsed();
        let unix = unix_ms();
        lab.move_iface(&iface, b.link(to)?)?;
        moves.push(Move {
            to: to.clone(),
            at,
            unix_ms: unix,
        });
        std::thread::sleep(opts.dwell);
    }
    let duration = start.elapsed();
    stop.store(true, Ordering::SeqCst);
    let log = down.finish()?;
    let log_up = up.finish()?;
    let client: StreamResult = tcp_tx
        .join()
        .map_err(|_| anyhow!("TCP client panicked"))??;
    let server: StreamResult = tcp_rx
        .join()
        .map_err(|_| anyhow!("TCP server panicked"))??;
    let status = mn_status(&mn_node, &mn_bin, &mn_sock)?;
    let home_agent_metrics = ha_node
        .run_in(|| scrape_metrics("[::1]:9106"))?
        .context("the home agent's metrics")?;

    let _ = mn.stop();
    let _ = ha.stop();
    for c in captures {
        let _ = c.stop();
    }

    let moves: Vec<crate::run::MoveRec> = moves
        .iter()
        .enumerate()
        .map(|(i, m)| crate::run::MoveRec {
            from: moves[i.saturating_sub(1)].to.clone(),
            to: m.to.clone(),
            interface: None,
            cause: None,
            at: m.at,
            unix_ms: m.unix_ms,
        })
        .collect();
    let mut handovers = Vec::new();
    let mut timeline = Vec::new();
    let mut probe_gaps = Vec::new();
    crate::run::analyse(
        &mn_spec.name,
        &moves,
        &log,
        &log_up,
        &status,
        duration,
        &mut handovers,
        &mut timeline,
        &mut probe_gaps,
    );
    let tcp = vec![TcpResult {
        name: format!("{} -> {} (HoA {hoa})", cn_spec.name, mn_spec.name),
        bytes: server.bytes,
        survived: client.survived() && server.survived(),
        throughput: crate::traffic::throughput(
            &server.progress,
            start,
            Duration::from_millis(crate::report::THROUGHPUT_BIN_MS),
        ),
        error: client.error.or(server.error),
    }];
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
        home_agent_metrics_by_name: Default::default(),
        iperf3: Vec::new(),
        notes: Vec::new(),
    })
}

/// Reads a Prometheus text exposition over plain HTTP: every sample as
/// `name{labels} -> value`.
pub(crate) fn scrape_metrics(
    addr: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, f64>> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or(text.as_str(), |(_, b)| b);
    Ok(body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect())
}
