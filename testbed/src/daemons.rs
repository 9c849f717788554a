//! The daemons as the testbed runs them: where their binaries are, the
//! configuration files it writes for them, and how it reads their status
//! and metrics. `run` drives experiments with these; `demo` is one
//! generated experiment of `run`.

use crate::harness::Node;
use crate::topology::{HomeAgentSpec, MobileNodeSpec, Topology};
use anyhow::{anyhow, bail};
use mip6_common::dataplane::PathChoice;
use serde_json::Value;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// Writes `dir/NAME.yaml` for home agent `ha` serving `mns`: state file
/// `NAME-bindings.json` and control socket `NAME.sock` in `dir`, metrics on
/// [::1]:9106, fast RAs and DAD, the tunnel on `data_plane`.
pub(crate) fn write_ha_config(
    t: &Topology,
    ha: &HomeAgentSpec,
    dir: &Path,
    mns: &[MnCred],
    nft_table: &str,
    data_plane: PathChoice,
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
         data_plane: {}\n\
         dad:\n  transmits: 1\n  retrans_ms: 200\n\
         router_advertisements:\n  enabled: {}\n  max_interval_ms: 200\n\
         mobile_nodes:\n{list}",
        ha.address,
        home.prefix,
        path_str(&dir.join(format!("{}-bindings.json", ha.name)))?,
        path_str(&dir.join(format!("{}.sock", ha.name)))?,
        data_plane.name(),
        ha.home_router,
    );
    let p = dir.join(format!("{}.yaml", ha.name));
    std::fs::write(&p, text)?;
    Ok(p)
}

/// Writes `dir/STEM.yaml` for mobile node `m`, its control socket
/// `dir/STEM.sock` and stable secret `dir/STEM-stable-secret`.
pub(crate) fn write_mn_config(
    t: &Topology,
    m: &MobileNodeSpec,
    cred: &MnCred,
    dir: &Path,
    stem: &str,
    optimistic: bool,
    data_plane: PathChoice,
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
    let secret = format!("{stem}-stable-secret");
    let text = format!(
        "home_address: \"{}\"\n\
         home_agent: \"{}\"\n\
         mn_id: {}\n\
         security:\n  spi: {}\n  key_hex: {}\n\
         interfaces:\n{ifs}\
         optimistic_dad: {}\n\
         binding_lifetime: 600\n\
         control_socket: {}\n\
         stable_secret_file: {}\n\
         tunnel:\n  data_plane: {}\n",
        cred.home_address,
        ha.address,
        cred.nai,
        cred.spi,
        cred.key_hex,
        optimistic || m.optimistic_dad,
        path_str(&dir.join(format!("{stem}.sock")))?,
        path_str(&dir.join(secret))?,
        data_plane.name(),
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
