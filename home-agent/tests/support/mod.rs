//! A lab for the home agent and a test mobile node.
//!
//! ```text
//!   nbr (2001:db8:1::2)          mn (CoA 2001:db8:2::100)      cn (2001:db8:3::5)
//!        |                             |                             |
//!  ---- home 2001:db8:1::/64 ---- foreign 2001:db8:2::/64 ---- cn 2001:db8:3::/64
//!    |             |                   |                             |
//!   ha (::1)      rtr eth0 (::ff)     rtr eth1 (::ff)               rtr eth2 (::ff)
//! ```
//!
//! The mobile node is played by this process inside `mn`'s namespace: BUs
//! built with `common::wire` (or `HomeRegistration`), sent with a Home
//! Address option through an IPPROTO_RAW socket, BAs read through a
//! protocol-43 socket as docs/ARCHITECTURE.md
//! (kernel fact 2) says.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use mip6_common::binding::ntp::ntp_from_system_time;
use mip6_common::sys::mh_io::{RawRecvSocket, RawSender};
use mip6_common::wire::checksum::proto;
use mip6_common::wire::exthdr::{Ipv6Repr, parse_payload};
use mip6_common::wire::mh::{
    BaStatus, BindingAck, BindingUpdate, BuFlags, MhOption, MhRepr, auth_subtype, fill_checksum,
    mn_ha_sign, mn_id_subtype,
};
use mip6_home_agent::state::StatusReport;
use mip6_testbed::harness::{Child, Lab, Node, NodeOptions, require_root};

pub const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
pub const NBR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
pub const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
pub const HOA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x101);
pub const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
pub const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 5);
pub const ANYCAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0xfdff, 0xffff, 0xffff, 0xfffe);
pub const KEY: &str = "an MN-HA key of twenty";
pub const KEY2: &str = "the other node's key";
pub const SPI: u32 = 256;
pub const SPI2: u32 = 257;
pub const NAI: &str = "mn1@example.org";
pub const NAI2: &str = "mn2@example.org";
pub const TUN: &str = "mip6ha0";
pub const METRICS_PORT: u16 = 9106;

/// Generous bound for anything on two shared cores.
pub const T: Duration = Duration::from_secs(20);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mip6-ha")
}

pub struct World {
    pub lab: Lab,
    pub ha: Node,
    pub nbr: Node,
    pub rtr: Node,
    pub mn: Node,
    pub cn: Node,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub state: PathBuf,
}

fn fast() -> NodeOptions {
    NodeOptions::default().no_dad_delay()
}

fn addr(node: &Node, ifname: &str, a: &str) {
    node.exec(&["ip", "-6", "addr", "add", a, "dev", ifname, "nodad"])
        .unwrap();
}

impl World {
    /// The lab, with `extra` appended to the home agent's configuration.
    pub fn new(tag: &str, extra: &str) -> Self {
        Self::with_mobile_nodes(tag, "", extra)
    }

    /// [`World::new`] with `more_nodes`, YAML list items (`  - id: ...`),
    /// added to the configured mobile nodes after mn1 and mn2.
    pub fn with_mobile_nodes(tag: &str, more_nodes: &str, extra: &str) -> Self {
        require_root().expect("these tests need root");
        let lab = Lab::new(tag).unwrap();
        let ha = lab.node_with("ha", &fast()).unwrap();
        let nbr = lab.node_with("nbr", &fast()).unwrap();
        let rtr = lab.node_with("rtr", &fast().forwarding()).unwrap();
        let mn = lab.node_with("mn", &fast()).unwrap();
        let cn = lab.node_with("cn", &fast()).unwrap();
        let home = lab.link("home").unwrap();
        let foreign = lab.link("foreign").unwrap();
        let cnl = lab.link("cnl").unwrap();
        lab.attach(&ha, &home, "eth0").unwrap();
        lab.attach(&nbr, &home, "eth0").unwrap();
        lab.attach(&rtr, &home, "eth0").unwrap();
        lab.attach(&rtr, &foreign, "eth1").unwrap();
        lab.attach(&mn, &foreign, "eth0").unwrap();
        lab.attach(&rtr, &cnl, "eth2").unwrap();
        lab.attach(&cn, &cnl, "eth0").unwrap();
        addr(&ha, "eth0", "2001:db8:1::1/64");
        addr(&nbr, "eth0", "2001:db8:1::2/64");
        addr(&rtr, "eth0", "2001:db8:1::ff/64");
        addr(&rtr, "eth1", "2001:db8:2::ff/64");
        addr(&rtr, "eth2", "2001:db8:3::ff/64");
        addr(&mn, "eth0", "2001:db8:2::100/64");
        addr(&cn, "eth0", "2001:db8:3::5/64");
        for (n, gw) in [
            (&ha, "2001:db8:1::ff"),
            (&nbr, "2001:db8:1::ff"),
            (&mn, "2001:db8:2::ff"),
            (&cn, "2001:db8:3::ff"),
        ] {
            n.exec(&["ip", "-6", "route", "add", "default", "via", gw])
                .unwrap();
        }
        // Everyone reaches everyone (link-locals are ready after DAD).
        mn.wait_ping6("2001:db8:1::1", T).unwrap();
        cn.wait_ping6("2001:db8:1::1", T).unwrap();
        let dir = lab.workdir().to_owned();
        let config = dir.join("ha.yaml");
        let socket = dir.join("ha.sock");
        let state = dir.join("bindings.json");
        let text = format!(
            "home_interface: eth0\n\
             ha_address: 2001:db8:1::1\n\
             home_prefixes:\n  - prefix: \"2001:db8:1::/64\"\n\
             max_binding_lifetime: 600\n\
             tunnel_device: {TUN}\n\
             state_file: {}\n\
             control_socket: {}\n\
             metrics:\n  listen: \"[::]:{METRICS_PORT}\"\n\
             nftables_table: mip6ha_test\n\
             dad:\n  transmits: 1\n  retrans_ms: 500\n\
             proxy_nd:\n  unsolicited_nas: 2\n  interval_ms: 300\n\
             mobile_nodes:\n\
             \x20 - id: {NAI}\n    home_address: {HOA}\n    spi: {SPI}\n    key: \"{KEY}\"\n\
             \x20 - id: {NAI2}\n    home_address: {HOA2}\n    spi: {SPI2}\n    key: \"{KEY2}\"\n\
             {more_nodes}{extra}",
            state.display(),
            socket.display(),
        );
        std::fs::write(&config, text).unwrap();
        Self {
            lab,
            ha,
            nbr,
            rtr,
            mn,
            cn,
            config,
            socket,
            state,
        }
    }

    /// Starts the home agent and waits until it serves.
    pub fn start_ha(&self) -> Child {
        let mut c = self
            .ha
            .spawn(&[
                "env",
                "RUST_LOG=debug",
                bin(),
                "run",
                "-c",
                self.config.to_str().unwrap(),
            ])
            .unwrap();
        c.wait_log(mip6_home_agent::daemon::READY, T).unwrap();
        c
    }

    /// Starts `bin` (a mip6-ha) at its default log level: under load a
    /// debug line per BU would be what is measured.
    pub fn start_ha_quiet(&self, bin: &str) -> Child {
        let mut c = self
            .ha
            .spawn(&[bin, "run", "-c", self.config.to_str().unwrap()])
            .unwrap();
        c.wait_log(mip6_home_agent::daemon::READY, T).unwrap();
        c
    }

    /// `mip6-ha status --json`, run as a user would.
    pub fn status(&self) -> StatusReport {
        let out = self
            .ha
            .exec(&[
                bin(),
                "status",
                "--json",
                "--socket",
                self.socket.to_str().unwrap(),
            ])
            .unwrap();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// The bindings with the fields that must not move (not the lifetime
    /// left nor counters).
    pub fn bindings(&self) -> Vec<(Ipv6Addr, Ipv6Addr, u16, String)> {
        self.status()
            .bindings
            .into_iter()
            .map(|b| (b.hoa, b.coa, b.sequence, b.flags))
            .collect()
    }

    pub fn ha_cmd(&self, line: &str) -> String {
        self.ha.cmd(line).unwrap()
    }

    /// Whether `ip -6 route show <hoa>` names the tunnel.
    pub fn route_to_tun(&self, hoa: Ipv6Addr) -> bool {
        self.ha_cmd(&format!("ip -6 route show {hoa}/128"))
            .contains(&format!("dev {TUN}"))
    }

    pub fn proxied(&self, hoa: Ipv6Addr) -> bool {
        self.ha_cmd("ip -6 neigh show proxy dev eth0")
            .lines()
            .any(|l| l.split_whitespace().next() == Some(&hoa.to_string()))
    }
}

/// One mobile node's credentials.
#[derive(Debug, Clone)]
pub struct Creds {
    pub hoa: Ipv6Addr,
    pub spi: u32,
    pub key: Vec<u8>,
    pub nai: Option<String>,
}

impl Creds {
    /// A mobile node the test configuration knows: its home address, SPI,
    /// key and NAI.
    fn configured(hoa: Ipv6Addr, spi: u32, key: &str, nai: &str) -> Self {
        Self {
            hoa,
            spi,
            key: key.as_bytes().to_vec(),
            nai: Some(nai.into()),
        }
    }
}

pub fn mn1() -> Creds {
    Creds::configured(HOA, SPI, KEY, NAI)
}

pub fn mn2() -> Creds {
    Creds::configured(HOA2, SPI2, KEY2, NAI2)
}

pub fn now_ntp() -> u64 {
    ntp_from_system_time(SystemTime::now())
}

/// A finished BU (signed, checksum over HoA and HA) sent from `coa`, in
/// 4-second units of `lifetime`.
pub fn bu(c: &Creds, coa: Ipv6Addr, seq: u16, lifetime: u16, ts: u64) -> Vec<u8> {
    let mut options = Vec::new();
    if let Some(n) = &c.nai {
        options.push(MhOption::MobileNodeId {
            subtype: mn_id_subtype::NAI,
            identifier: n.as_bytes().to_vec(),
        });
    }
    options.push(MhOption::ReplayProtection { timestamp: ts });
    options.push(MhOption::MobilityAuth {
        subtype: auth_subtype::MN_HA,
        spi: c.spi,
        auth_data: vec![0; 12],
    });
    let repr = MhRepr::BindingUpdate(BindingUpdate {
        sequence: seq,
        flags: BuFlags::A | BuFlags::H,
        lifetime,
        options,
    });
    let mut mh = repr.to_bytes().unwrap();
    mn_ha_sign(&c.key, &coa, &c.hoa, &mut mh).unwrap();
    fill_checksum(&mut mh, &c.hoa, &HA).unwrap();
    mh
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Received {
    pub src: Ipv6Addr,
    pub rh2: Option<Ipv6Addr>,
    pub mh: Vec<u8>,
    pub ba: BindingAck,
}

/// The mobile node's sockets, opened inside its namespace.
pub struct MnSockets {
    pub tx: RawSender,
    pub rx: RawRecvSocket,
}

impl MnSockets {
    pub fn open() -> Self {
        let rx = RawRecvSocket::open(proto::ROUTING).unwrap();
        rx.set_nonblocking(true).unwrap();
        Self {
            tx: RawSender::open().unwrap(),
            rx,
        }
    }

    /// Sends `mh` from `coa` with a Home Address option for `hoa` (none
    /// when they are equal).
    pub fn send_mh(&self, coa: Ipv6Addr, hoa: Ipv6Addr, mh: &[u8]) {
        let mut ip = Ipv6Repr::new(coa, HA, proto::MOBILITY);
        if coa != hoa {
            ip.home_address_option = Some(hoa);
        }
        self.tx.send(&ip.build(mh).unwrap().bytes, 0).unwrap();
    }

    /// The next BA within `within`.
    pub fn recv_ba(&self, within: Duration) -> Option<Received> {
        let deadline = Instant::now() + within;
        let mut buf = vec![0u8; 4096];
        while Instant::now() < deadline {
            match self.rx.recv(&mut buf) {
                Ok(meta) => {
                    let Ok(p) = parse_payload(meta.header(), &buf[..meta.len]) else {
                        continue;
                    };
                    if p.upper_protocol() != proto::MOBILITY {
                        continue;
                    }
                    let (s, d) = p.checksum_addresses();
                    assert!(
                        mip6_common::wire::mh::verify_checksum(p.upper(), &s, &d),
                        "BA checksum"
                    );
                    if let Ok(MhRepr::BindingAck(ba)) = MhRepr::parse_bytes(p.upper()) {
                        return Some(Received {
                            src: meta.src,
                            rh2: p.routing_home_address(),
                            mh: p.upper().to_vec(),
                            ba,
                        });
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        }
        None
    }

    /// Sends a BU and returns its BA.
    pub fn exchange(&self, c: &Creds, coa: Ipv6Addr, mh: &[u8]) -> Received {
        self.send_mh(coa, c.hoa, mh);
        self.recv_ba(T).expect("a binding acknowledgement")
    }
}

/// Registers `c` from `coa` with sequence `seq` (in `mn`'s namespace) and
/// returns the BA.
pub fn register(w: &World, c: &Creds, seq: u16, lifetime: u16) -> Received {
    let c = c.clone();
    w.mn.run_in(move || {
        let s = MnSockets::open();
        s.exchange(&c, COA, &bu(&c, COA, seq, lifetime, now_ntp()))
    })
    .unwrap()
}

/// BUs in flight in [`blast`].
pub const WINDOW: usize = 256;

/// The `k`th mobile node of a load run: its own home address, SPI and key.
pub fn load_node(k: usize) -> Creds {
    Creds {
        hoa: Ipv6Addr::from(u128::from(HOA) + 0x1_0000 + k as u128),
        spi: 1000 + k as u32,
        key: format!("load key number {k:06}").into_bytes(),
        nai: Some(format!("load{k}@example.org")),
    }
}

/// The `mobile_nodes:` entries of `nodes` for the home agent's config.
pub fn load_config(nodes: &[Creds]) -> String {
    let mut more = String::new();
    for c in nodes {
        more.push_str(&format!(
            "  - id: {}\n    home_address: \"{}\"\n    spi: {}\n    key: \"{}\"\n",
            c.nai.as_deref().unwrap_or_default(),
            c.hoa,
            c.spi,
            String::from_utf8_lossy(&c.key)
        ));
    }
    more
}

/// Sends `bus` BUs round robin over `nodes`, sequence numbers from
/// `first_seq`, and returns (BAs accepted, BAs with another status,
/// seconds from the first BU to the last BA).
pub fn blast(s: &MnSockets, nodes: &[Creds], bus: usize, first_seq: u16) -> (usize, usize, f64) {
    let mut sent = 0;
    let (mut ok, mut other) = (0, 0);
    let start = Instant::now();
    let mut last_progress = Instant::now();
    let mut buf = vec![0u8; 4096];
    while ok + other < bus {
        while sent < bus && sent - (ok + other) < WINDOW {
            let c = &nodes[sent % nodes.len()];
            let seq = first_seq.wrapping_add((sent / nodes.len()) as u16);
            s.send_mh(COA, c.hoa, &bu(c, COA, seq, 100, now_ntp()));
            sent += 1;
        }
        match next_ba(s, &mut buf) {
            Some(st) if st == BaStatus::ACCEPTED => {
                ok += 1;
                last_progress = Instant::now();
            }
            Some(_) => {
                other += 1;
                last_progress = Instant::now();
            }
            None if last_progress.elapsed() > Duration::from_secs(5) => {
                eprintln!(
                    "bu_rate: {} BAs missing after 5 s; giving up",
                    sent - ok - other
                );
                break;
            }
            None => {}
        }
    }
    (ok, other, start.elapsed().as_secs_f64())
}

/// The status of the next BA, waiting up to 50 ms for one (the support
/// module's reader naps 10 ms when the socket is empty: too coarse here).
fn next_ba(s: &MnSockets, buf: &mut [u8]) -> Option<BaStatus> {
    loop {
        match s.rx.recv(buf) {
            Ok(meta) => {
                let Ok(p) = parse_payload(meta.header(), &buf[..meta.len]) else {
                    continue;
                };
                if let Ok(MhRepr::BindingAck(ba)) = MhRepr::parse_bytes(p.upper()) {
                    return Some(ba.status);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let mut fd = libc::pollfd {
                    fd: s.rx.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one live pollfd for the call.
                if unsafe { libc::poll(&mut fd, 1, 50) } <= 0 {
                    return None;
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Reads a non-blocking socket with `recv` for up to `within`, handing each
/// packet (what `recv` said, and the buffer it filled) to `pick` until that
/// returns `Some`; `None` when time runs out first.
pub fn poll_for<M, T>(
    within: Duration,
    mut recv: impl FnMut(&mut [u8]) -> std::io::Result<M>,
    mut pick: impl FnMut(&M, &[u8]) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + within;
    let mut buf = vec![0u8; 2048];
    while Instant::now() < deadline {
        match recv(&mut buf) {
            Ok(m) => {
                if let Some(t) = pick(&m, &buf) {
                    return Some(t);
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    None
}
