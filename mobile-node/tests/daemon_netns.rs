//! `mip6-mn run` for real, in network namespaces, mostly against a test home
//! agent built in this file from the sans-IO binding cache, so a mobile node
//! failure is not confused with a home agent one (one test runs the real
//! `mip6-ha`):
//!
//! ```text
//!   cn ── c ──┐                 ┌── fa ── mn (eth0, moves fa -> fb)
//!             rtr (forwarding) ─┤
//!   ha ── home┘                 └── fb
//! ```
//!
//! The router announces 2001:db8:a::/64 on fa and 2001:db8:b::/64 on fb
//! with the project's RA sender, and routes the home address to the home
//! agent. The test home agent receives BUs with the Home Address option on
//! a protocol-60 raw socket, answers with BAs carrying a type 2 routing
//! header through an IPPROTO_RAW socket, and tunnels packets for the home
//! address to the care-of address with the shared data plane
//! (`mip6_common::dataplane`) in home agent mode, as the home agent daemon
//! does.
//!
//! Run as root (CI does). Every lab is removed on success, failure and
//! interruption by the harness.

mod support;

use mip6_common::addr::Prefix;
use mip6_common::binding::cache::{
    self, BindingCache, BuContext, CacheConfig, HomePrefix, MnPolicy,
};
use mip6_common::binding::ntp::ntp_from_system_time;
use mip6_common::dataplane::{DataPlane, DataPlaneConfig, Mode};
use mip6_common::sys::mn_signal::SignalSocket;
use mip6_common::wire::checksum::proto;
use mip6_common::wire::exthdr::{FixedHeader, parse_payload};
use mip6_common::wire::mh::{MhRepr, verify_checksum};
use mip6_mobile_node::status::Status;
use mip6_testbed::harness::{Child, Iface, Lab, LabOptions, Node, NodeOptions, Timeouts};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};
use support::{MN, OwnRouter, in_prefix};

const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const RTR_HOME: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xfe);
const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 2);
const PREFIX_A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 0);
const PREFIX_B: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xb, 0, 0, 0, 0, 0);
const PREFIX_D: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xd, 0, 0, 0, 0, 0);
const HOME_PREFIX: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0);
const KEY: &str = "00112233445566778899aabbccddeeff";
const SPI: u32 = 4660;
const NAI: &str = "mn@test.example";
const ETH0: &str = "  - name: eth0\n    priority: 10\n";
/// How long a registration, or a deregistration at home, may take.
const REGISTRATION: Duration = Duration::from_secs(30);
/// How long the correspondent may need to reach the home address.
const PING: Duration = Duration::from_secs(15);

fn key_bytes() -> Vec<u8> {
    (0..KEY.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&KEY[i..i + 2], 16).expect("hex"))
        .collect()
}

/// What the test home agent saw and did.
#[derive(Debug, Default)]
struct HaState {
    bu_received: u32,
    ba_sent: u32,
    /// The current binding: home address -> care-of address.
    binding: Option<(Ipv6Addr, Ipv6Addr)>,
    log: Vec<String>,
}

/// A home agent in a thread of the HA namespace: binding cache engine,
/// protocol-60 and protocol-135 receive, IPPROTO_RAW send, and the data
/// plane in home agent mode with the route for the home address into it.
struct TestHa {
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<HaState>>,
    thread: Option<JoinHandle<mip6_testbed::harness::Result<()>>>,
}

fn route_hoa(add: bool) {
    let verb = if add { "replace" } else { "del" };
    let _ = std::process::Command::new("ip")
        .args(["-6", "route", verb, &format!("{HOA}/128"), "dev", "hatun"])
        .status();
}

fn ha_loop(stop: &AtomicBool, state: &Mutex<HaState>) {
    let now = Instant::now();
    let config = CacheConfig {
        ha_addresses: vec![HA],
        home_prefixes: vec![HomePrefix {
            prefix: "2001:db8:1::/64".parse::<Prefix>().expect("prefix"),
            valid_lifetime: None,
        }],
        mobile_nodes: vec![MnPolicy {
            nai: Some(NAI.into()),
            home_address: HOA,
            spi: SPI,
            key: key_bytes(),
            algorithm: cache::AuthAlgorithm::HmacSha1_96,
        }],
        dad_before_accept: false,
        ..CacheConfig::default()
    };
    let mut cache = BindingCache::new(config, now, ntp_from_system_time(SystemTime::now()));
    let dst_opts = SignalSocket::open(proto::DST_OPTS).expect("protocol 60 socket");
    let mh = SignalSocket::mobility().expect("protocol 135 socket");
    let raw = Socket::new(
        Domain::IPV6,
        Type::RAW,
        Some(Protocol::from(libc::IPPROTO_RAW)),
    )
    .expect("IPPROTO_RAW socket");
    let tunnel =
        DataPlane::start(DataPlaneConfig::new("hatun", HA, Mode::Ha)).expect("home agent tunnel");
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [
            libc::pollfd {
                fd: dst_opts.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: mh.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: a valid pollfd array for the call.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, 50) };
        let now = Instant::now();
        // Binding Updates with a Home Address option (protocol 60).
        while let Ok(r) = dst_opts.recv(&mut buf) {
            let header = FixedHeader {
                traffic_class: 0,
                flow_label: 0,
                payload_len: 0,
                next_header: proto::DST_OPTS,
                hop_limit: 64,
                src: r.src,
                dst: r.dst,
            };
            let Ok(p) = parse_payload(header, &buf[..r.len]) else {
                continue;
            };
            let (Some(hoa), proto::MOBILITY) = (p.home_address(), p.upper_protocol()) else {
                continue;
            };
            let mh_bytes = p.upper();
            let ok = verify_checksum(mh_bytes, &hoa, &r.dst);
            let Ok(MhRepr::BindingUpdate(bu)) = MhRepr::parse_bytes(mh_bytes) else {
                continue;
            };
            {
                let mut s = state.lock().expect("state");
                s.bu_received += 1;
                s.log.push(format!(
                    "BU seq {} from {} checksum ok {ok}",
                    bu.sequence, r.src
                ));
            }
            if ok {
                cache.handle_bu(
                    now,
                    &BuContext {
                        src: r.src,
                        dst: r.dst,
                        home_address: Some(hoa),
                        mh_bytes,
                        bu: &bu,
                    },
                );
            }
        }
        // Binding Updates from home (no Home Address option).
        while let Ok(r) = mh.recv(&mut buf) {
            let mh_bytes = &buf[..r.len];
            if !verify_checksum(mh_bytes, &r.src, &r.dst) {
                continue;
            }
            if let Ok(MhRepr::BindingUpdate(bu)) = MhRepr::parse_bytes(mh_bytes) {
                state.lock().expect("state").bu_received += 1;
                cache.handle_bu(
                    now,
                    &BuContext {
                        src: r.src,
                        dst: r.dst,
                        home_address: None,
                        mh_bytes,
                        bu: &bu,
                    },
                );
            }
        }
        cache.handle_timeout(now);
        let mut bindings_changed = false;
        while let Some(a) = cache.poll_action() {
            let mut s = state.lock().expect("state");
            match a {
                cache::Action::SendBa(send) => {
                    let (to_coa, ba) = (send.to_coa, &send.ba);
                    let pkt = send.ipv6_header().build(&send.mh_bytes).expect("BA packet");
                    let to = SockAddr::from(SocketAddrV6::new(to_coa, 0, 0, 0));
                    let sent = raw.send_to(&pkt.bytes, &to);
                    s.ba_sent += 1;
                    s.log.push(format!(
                        "BA seq {} status {} to {to_coa}: {sent:?}",
                        ba.sequence, ba.status.0
                    ));
                }
                cache::Action::InstallBinding { hoa, coa, .. } => {
                    route_hoa(true);
                    bindings_changed = true;
                    s.binding = Some((hoa, coa));
                    s.log.push(format!("install {hoa} -> {coa}"));
                }
                cache::Action::UpdateBinding { hoa, coa, .. } => {
                    bindings_changed = true;
                    s.binding = Some((hoa, coa));
                    s.log.push(format!("update {hoa} -> {coa}"));
                }
                cache::Action::RemoveBinding { hoa, coa, .. } => {
                    route_hoa(false);
                    bindings_changed = true;
                    s.binding = None;
                    s.log.push(format!("remove {hoa} (was {coa})"));
                }
                other => s.log.push(format!("{other:?}")),
            }
        }
        // Once per batch of actions, after the routes, like the home agent
        // daemon: the snapshot already holds every change just carried out.
        if bindings_changed {
            tunnel.set_bindings(cache.snapshot());
        }
    }
    tunnel.shutdown().expect("home agent tunnel shutdown");
}

impl TestHa {
    fn start(ha: &Node) -> TestHa {
        // The kernel answers BUs carrying a Home Address option with
        // Parameter Problem code 2 (docs/ARCHITECTURE.md, kernel fact 3): keep it quiet.
        ha.sh(
            "printf 'table ip6 testha { chain out { type filter hook output priority 0; \
             icmpv6 type parameter-problem icmpv6 code 2 drop; }; }\\n' | nft -f -",
        )
        .expect("nft on the home agent");
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(HaState::default()));
        let (flag, st) = (Arc::clone(&stop), Arc::clone(&state));
        let thread = ha
            .thread_in(move || ha_loop(&flag, &st))
            .expect("home agent thread");
        TestHa {
            stop,
            state,
            thread: Some(thread),
        }
    }

    fn binding(&self) -> Option<(Ipv6Addr, Ipv6Addr)> {
        self.state.lock().expect("state").binding
    }

    fn counts(&self) -> (u32, u32) {
        let s = self.state.lock().expect("state");
        (s.bu_received, s.ba_sent)
    }

    fn log(&self) -> String {
        self.state.lock().expect("state").log.join("\n")
    }
}

impl Drop for TestHa {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let r = t.join();
            if !std::thread::panicking() {
                r.expect("home agent thread panicked")
                    .expect("enter namespace");
            }
        }
    }
}

/// The whole network. Fields drop in order: the threads in the lab's
/// namespaces stop before the lab goes.
struct Net {
    _ras: Vec<OwnRouter>,
    test_ha: Option<TestHa>,
    ha_node: Node,
    rtr: Node,
    mn: Node,
    cn: Node,
    mn_eth: Iface,
    /// The mobile node's second interface, on fb, when asked for.
    mn_eth1: Option<Iface>,
    link_a: mip6_testbed::harness::Link,
    link_b: mip6_testbed::harness::Link,
    home: mip6_testbed::harness::Link,
    lab: Lab,
}

impl Net {
    /// The test home agent (every test but the interoperability one).
    fn ha(&self) -> &TestHa {
        self.test_ha
            .as_ref()
            .expect("this network has the test home agent")
    }

    /// The test home agent binds the home address to `coa`.
    #[track_caller]
    fn assert_ha_bound(&self, coa: Ipv6Addr) {
        assert_eq!(
            self.ha().binding(),
            Some((HOA, coa)),
            "home agent:\n{}",
            self.ha().log()
        );
    }

    /// The test home agent has no binding.
    #[track_caller]
    fn assert_ha_unbound(&self) {
        assert_eq!(
            self.ha().binding(),
            None,
            "home agent:\n{}",
            self.ha().log()
        );
    }

    /// `mip6-mn run` with the configuration `cfg`, logging at debug level.
    fn spawn_daemon(&self, cfg: &Path) -> Child {
        self.mn
            .spawn(&[
                "env",
                "MIP6_LOG=debug",
                MN,
                "run",
                "-c",
                cfg.to_str().expect("utf-8"),
            ])
            .expect("spawn daemon")
    }

    /// [`write_config`] and [`Net::spawn_daemon`]: the daemon and its
    /// control socket.
    fn start_daemon(&self, ifaces: &str, extra: &str) -> (Child, PathBuf) {
        let (cfg, sock) = write_config(&self.lab, ifaces, extra);
        (self.spawn_daemon(&cfg), sock)
    }

    /// `mip6-mn status --json` in the mobile node.
    fn status(&self, sock: &Path) -> Result<Status, String> {
        let out = self
            .mn
            .output(&[
                MN,
                "status",
                "--json",
                "--socket",
                sock.to_str().expect("utf-8"),
            ])
            .map_err(|e| e.to_string())?;
        if !out.success() {
            return Err(out.stderr);
        }
        serde_json::from_str(&out.stdout).map_err(|e| format!("{e}: {}", out.stdout))
    }

    /// `mip6-mn status`, the text for people.
    fn status_text(&self, sock: &Path) -> String {
        self.mn
            .cmd(&format!("{MN} status --socket {}", sock.display()))
            .expect("status")
    }

    /// Waits until the daemon is registered with a care-of address on
    /// `prefix`.
    fn wait_registered(&self, sock: &Path, prefix: Ipv6Addr, timeout: Duration) -> Status {
        self.lab
            .wait_until(&format!("registration on {prefix}/64"), timeout, || {
                Ok(match self.status(sock) {
                    Ok(s) => {
                        let b = &s.binding_update_list[0];
                        let ok = s.location == "away"
                            && b.state == "registered"
                            && b.registered_coa.is_some_and(|c| in_prefix(&c, &prefix))
                            && s.care_of_address == b.registered_coa;
                        if ok {
                            Ok(s)
                        } else {
                            Err(format!(
                                "location {} state {} coa {:?} registered {:?}",
                                s.location, b.state, s.care_of_address, b.registered_coa
                            ))
                        }
                    }
                    Err(e) => Err(e),
                })
            })
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Waits until `pred` holds for the daemon's status.
    fn wait_status(&self, sock: &Path, what: &str, pred: impl Fn(&Status) -> bool) -> Status {
        self.lab
            .wait_until(what, REGISTRATION, || {
                Ok(match self.status(sock) {
                    Ok(s) if pred(&s) => Ok(s),
                    Ok(s) => Err(format!(
                        "location {} link {:?} state {} coa {:?}",
                        s.location,
                        s.current_link,
                        s.binding_update_list[0].state,
                        s.care_of_address
                    )),
                    Err(e) => Err(e),
                })
            })
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Waits until the correspondent's pings reach the home address.
    fn ping_hoa(&self) -> mip6_testbed::harness::Result<()> {
        self.cn.wait_ping6(&HOA.to_string(), PING)
    }
}

fn net(tag: &str, second_iface: bool) -> Net {
    net_with(tag, second_iface, true)
}

fn net_with(tag: &str, second_iface: bool, test_ha: bool) -> Net {
    net_opts(tag, second_iface, test_ha, false)
}

/// `kernel_autoconf`: the mobile node's kernel configures eth0 from the
/// RAs on its own until the daemon takes over (a laptop as it boots).
fn net_opts(tag: &str, second_iface: bool, test_ha: bool, kernel_autoconf: bool) -> Net {
    let opts = LabOptions {
        timeouts: Timeouts {
            // The daemon deregisters on SIGTERM (up to 3 s).
            kill_grace: Duration::from_secs(10),
            ..Timeouts::default()
        },
        ..LabOptions::default()
    };
    let lab = Lab::with_options(tag, opts).expect("lab");
    let fast = NodeOptions::default().no_dad_delay();
    let rtr = lab
        .node_with("rtr", &fast.clone().forwarding())
        .expect("router");
    let ha = lab.node_with("ha", &fast.clone().forwarding()).expect("ha");
    let cn = lab.node_with("cn", &fast.clone().accept_ra(0)).expect("cn");
    // The mobile node's kernel must not autoconfigure on its own before the
    // daemon takes over (the daemon switches that off itself while it
    // runs); this keeps the before/after comparison exact.
    let mn = lab
        .node_with(
            "mn",
            &fast.clone().accept_ra(if kernel_autoconf { 1 } else { 0 }),
        )
        .expect("mn");
    let home = lab.link("home").expect("link");
    let link_a = lab.link("fa").expect("link");
    let link_b = lab.link("fb").expect("link");
    let link_c = lab.link("c").expect("link");
    lab.attach(&rtr, &home, "h0").expect("attach");
    let fa = lab.attach(&rtr, &link_a, "fa0").expect("attach");
    let fb = lab.attach(&rtr, &link_b, "fb0").expect("attach");
    lab.attach(&rtr, &link_c, "c0").expect("attach");
    lab.attach(&ha, &home, "eth0").expect("attach");
    lab.attach(&cn, &link_c, "eth0").expect("attach");
    let mn_eth = lab.attach(&mn, &link_a, "eth0").expect("attach");
    let mn_eth1 = second_iface.then(|| lab.attach(&mn, &link_b, "eth1").expect("attach"));
    rtr.sh(&format!(
        "ip -6 addr add {RTR_HOME}/64 dev h0 nodad && \
         ip -6 addr add 2001:db8:a::1/64 dev fa0 nodad && \
         ip -6 addr add 2001:db8:b::1/64 dev fb0 nodad && \
         ip -6 addr add 2001:db8:c::1/64 dev c0 nodad && \
         ip -6 route add {HOA}/128 via {HA} dev h0"
    ))
    .expect("router addresses");
    ha.sh(&format!(
        "ip -6 addr add {HA}/64 dev eth0 nodad && ip -6 route add default via {RTR_HOME}"
    ))
    .expect("home agent addresses");
    cn.sh(&format!(
        "ip -6 addr add {CN}/64 dev eth0 nodad && ip -6 route add default via 2001:db8:c::1"
    ))
    .expect("correspondent addresses");
    let t = lab.timeouts().addr;
    fa.wait_link_local(t).expect("router link-local");
    fb.wait_link_local(t).expect("router link-local");
    mn_eth.wait_link_local(t).expect("mn link-local");
    if let Some(e) = &mn_eth1 {
        e.wait_link_local(t).expect("mn link-local");
    }
    let ras = vec![
        OwnRouter::start(&rtr, "fa0", PREFIX_A),
        OwnRouter::start(&rtr, "fb0", PREFIX_B),
        OwnRouter::start(&rtr, "h0", HOME_PREFIX),
    ];
    let test_ha = test_ha.then(|| TestHa::start(&ha));
    Net {
        lab,
        rtr,
        mn,
        cn,
        mn_eth,
        mn_eth1,
        link_a,
        link_b,
        home,
        test_ha,
        ha_node: ha,
        _ras: ras,
    }
}

/// The state `mip6-mn run` must leave as it found it.
fn kernel_state(node: &Node, ifaces: &[&str]) -> String {
    let addrs = node.cmd("ip -6 -o addr show").expect("addresses");
    // Interface, address, scope: flags and lifetimes may differ (a
    // restored link-local address is new, and may still be in DAD).
    let mut addrs: Vec<String> = addrs
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let scope = f
                .iter()
                .position(|w| *w == "scope")
                .and_then(|i| f.get(i + 1))
                .unwrap_or(&"?");
            format!(
                "{} {} {}",
                f.get(1).unwrap_or(&"?"),
                f.get(3).unwrap_or(&"?"),
                scope
            )
        })
        .collect();
    addrs.sort();
    let routes = node.cmd("ip -6 route show table all").expect("routes");
    let mut routes: Vec<String> = routes
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let mut out = Vec::new();
            let mut skip = false;
            for w in f {
                if skip {
                    skip = false;
                    continue;
                }
                if w == "expires" {
                    skip = true;
                    continue;
                }
                out.push(w);
            }
            out.join(" ")
        })
        .collect();
    routes.sort();
    let rules = node.cmd("ip -6 rule").expect("rules");
    let mut sysctls = Vec::new();
    for key in [
        "accept_ra",
        "autoconf",
        "addr_gen_mode",
        "accept_dad",
        "disable_ipv6",
        "forwarding",
    ] {
        for scope in ifaces.iter().copied().chain(["all", "default"]) {
            let k = format!("net.ipv6.conf.{scope}.{key}");
            sysctls.push(format!("{k}={}", node.read_sysctl(&k).expect("sysctl")));
        }
    }
    format!(
        "addresses:\n{}\nroutes:\n{}\nrules:\n{}\nsysctls:\n{}\n",
        addrs.join("\n"),
        routes.join("\n"),
        rules.trim(),
        sysctls.join("\n")
    )
}

fn write_config(lab: &Lab, ifaces: &str, extra: &str) -> (PathBuf, PathBuf) {
    write_config_ha(lab, ifaces, extra, Some(HA))
}

/// `home_agent: None` leaves the home agent to discovery (DHAAD).
fn write_config_ha(
    lab: &Lab,
    ifaces: &str,
    extra: &str,
    home_agent: Option<Ipv6Addr>,
) -> (PathBuf, PathBuf) {
    let dir = lab.workdir();
    let sock = dir.join("mn.sock");
    let cfg = dir.join("mn.yaml");
    let ha_line = home_agent.map_or_else(String::new, |a| format!("home_agent: {a}\n"));
    let text = format!(
        "home_address: {HOA}\n\
         {ha_line}\
         mn_id: {NAI}\n\
         security:\n  spi: {SPI}\n  key_hex: {KEY}\n\
         interfaces:\n{ifaces}\
         binding_lifetime: 120\n\
         control_socket: {}\n\
         stable_secret_file: {}\n{extra}",
        sock.display(),
        dir.join("stable-secret").display()
    );
    std::fs::write(&cfg, text).expect("write config");
    (cfg, sock)
}

/// SIGTERM: the daemon deregisters and exits 0; then the namespace's
/// addresses, routes, rules and sysctls are as before it started, its
/// nftables table and control socket are gone.
fn stop_and_check_restored(n: &Net, daemon: Child, sock: &Path, before: &str, ifaces: &[&str]) {
    eprintln!("{}", n.status_text(sock));
    let log = stop_cleanly(daemon);
    eprintln!("daemon log:\n{log}");
    n.assert_ha_unbound();
    let after = n.lab.wait_until(
        "the kernel state to be restored",
        Duration::from_secs(10),
        || {
            let after = kernel_state(&n.mn, ifaces);
            Ok(if after == before {
                Ok(after)
            } else {
                Err(after)
            })
        },
    );
    if let Err(e) = after {
        panic!("state not restored.\nbefore:\n{before}\nafter/last: {e}");
    }
    let tables = n.mn.cmd("nft list tables").expect("nft");
    assert!(!tables.contains("mip6_mn"), "{tables}");
    assert!(!sock.exists(), "control socket left behind");
}

/// SIGTERM: `child` exits 0. Returns its log.
#[track_caller]
fn stop_cleanly(child: Child) -> String {
    let log_path = child.log_path().to_owned();
    let st = child.stop().expect("stop");
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    assert!(st.success(), "exit {st}:\n{log}");
    log
}

/// The icmp_seq of every echo reply in ping's output.
fn replied_seqs(out: &str) -> Vec<u32> {
    out.lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| l.split("icmp_seq=").nth(1))
        .filter_map(|r| r.split_whitespace().next()?.parse().ok())
        .collect()
}

fn check_handover(s: &Status, prefix: Ipv6Addr) {
    let h = s
        .handovers
        .iter()
        .rev()
        .find(|h| h.coa.is_some_and(|c| in_prefix(&c, &prefix)))
        .unwrap_or_else(|| panic!("no handover to {prefix}: {:#?}", s.handovers));
    assert_eq!(h.kind, "away");
    assert_eq!(h.outcome, "registered", "{h:#?}");
    let t = [
        h.link_event_unix_ms,
        h.ra_unix_ms,
        h.coa_usable_unix_ms,
        h.bu_sent_unix_ms,
        h.ba_received_unix_ms,
    ];
    assert!(
        t.iter().all(Option::is_some),
        "a timestamp is missing: {h:#?}"
    );
    let t: Vec<f64> = t.into_iter().flatten().collect();
    assert!(
        t.windows(2).all(|w| w[0] <= w[1]),
        "timestamps out of order: {h:#?}"
    );
    assert!(h.bu_count >= 1);
}

#[test]
fn daemon_registers_moves_and_restores() {
    mip6_common::require_root!();
    let n = net("mnmove", false);
    let before = kernel_state(&n.mn, &["eth0"]);
    let (daemon, sock) = n.start_daemon(ETH0, "");
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    let coa_a = s.care_of_address.expect("coa");
    check_handover(&s, PREFIX_A);
    n.assert_ha_bound(coa_a);
    // The kernel state the daemon made: the home address on the TUN, the
    // default route into it, the care-of address routed by its own table.
    let addrs = n.mn.cmd("ip -6 addr show dev mip6tun0").expect("tun");
    assert!(addrs.contains(&format!("{HOA}/128")), "{addrs}");
    let routes = n.mn.cmd("ip -6 route show default").expect("routes");
    assert!(
        routes.contains("dev mip6tun0") && routes.contains(&HOA.to_string()),
        "{routes}"
    );
    let rules = n.mn.cmd("ip -6 rule").expect("rules");
    assert!(
        rules.contains(&format!("from {coa_a} lookup 200")),
        "{rules}"
    );
    let table = n.mn.cmd("ip -6 route show table 200").expect("table");
    assert!(
        table.contains("default via fe80::") && table.contains("dev eth0"),
        "{table}"
    );
    // Traffic to the home address reaches the laptop through the tunnel.
    n.ping_hoa()
        .unwrap_or_else(|e| panic!("{e}\ndaemon log:\n{}", daemon.log()));
    // The text status reads as a person expects.
    let text = n.status_text(&sock);
    assert!(
        text.contains("registered") && text.contains(&coa_a.to_string()),
        "{text}"
    );

    // The kernel's Parameter Problem answers to our BAs were suppressed
    // by the daemon's nftables table.
    let table = n.mn.cmd("nft list table ip6 mip6_mn").expect("nft");
    let suppressed = table
        .lines()
        .find(|l| l.contains("@th,400,8 0x2"))
        .and_then(|l| l.split("counter packets ").nth(1))
        .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok());
    assert!(suppressed.is_some_and(|p| p >= 1), "{table}");

    // Move: carrier off, re-plugged into fb, carrier on, with a
    // correspondent pinging the home address all along.
    let ping =
        n.cn.spawn(&["ping", "-6", "-n", "-i", "0.05", &HOA.to_string()])
            .expect("ping");
    std::thread::sleep(Duration::from_millis(500));
    n.lab.move_iface(&n.mn_eth, &n.link_b).expect("move");
    let s = n.wait_registered(&sock, PREFIX_B, REGISTRATION);
    let coa_b = s.care_of_address.expect("coa");
    check_handover(&s, PREFIX_B);
    assert!(s.handovers.len() >= 2, "{:#?}", s.handovers);
    n.assert_ha_bound(coa_b);
    // The old care-of address and its rule are gone.
    let rules = n.mn.cmd("ip -6 rule").expect("rules");
    assert!(!rules.contains(&coa_a.to_string()), "{rules}");
    assert!(
        rules.contains(&format!("from {coa_b} lookup 200")),
        "{rules}"
    );
    n.ping_hoa()
        .unwrap_or_else(|e| panic!("{e}\ndaemon log:\n{}", daemon.log()));
    std::thread::sleep(Duration::from_millis(500));
    let ping_log = ping.log_path().to_owned();
    drop(ping);
    let seqs = replied_seqs(&std::fs::read_to_string(ping_log).unwrap_or_default());
    let gap = seqs.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    eprintln!(
        "ping across the move: {} replies, longest gap {gap} x 50 ms",
        seqs.len()
    );
    assert!(
        seqs.len() >= 10 && gap > 1,
        "replies before and after the move: {seqs:?}"
    );

    // Stop: deregistration, then everything restored.
    stop_and_check_restored(&n, daemon, &sock, &before, &["eth0"]);
}

#[test]
fn daemon_retransmits_a_lost_binding_acknowledgement() {
    mip6_common::require_root!();
    let n = net("mnlostba", false);
    // Drop exactly the first packet with a type 2 routing header (the
    // first BA) before the raw socket sees it.
    n.mn.sh(
        "printf 'table ip6 droptest { chain in { type filter hook input priority -10; \
         rt type 2 numgen inc mod 1000000 0 counter drop; }; }\\n' | nft -f -",
    )
    .expect("nft drop rule");
    let (daemon, sock) = n.start_daemon(ETH0, "");
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    let dropped = n.mn.cmd("nft list table ip6 droptest").expect("nft");
    assert!(
        dropped.contains("packets 1 "),
        "the first BA was not dropped: {dropped}"
    );
    let h = s.handovers.last().expect("handover");
    assert!(h.bu_count >= 2, "no retransmission: {h:#?}");
    let b = &s.binding_update_list[0];
    assert!(b.bu_sent >= 2 && b.ba_received >= 1, "{b:#?}");
    // The retransmission waited InitialBindackTimeoutFirstReg (1.5 s).
    let (bu, ba) = (
        h.bu_sent_unix_ms.expect("bu"),
        h.ba_received_unix_ms.expect("ba"),
    );
    assert!(
        ba - bu >= 1400.0,
        "BA {ba} only {} ms after the first BU",
        ba - bu
    );
    let (bus, bas) = n.ha().counts();
    assert!(
        bus >= 2 && bas >= 2,
        "home agent saw {bus} BUs, sent {bas} BAs"
    );
    n.assert_ha_bound(s.care_of_address.expect("coa"));
    stop_cleanly(daemon);
}

#[test]
fn bad_configuration_names_field_and_line() {
    let dir = mip6_common::testing::scratch_dir("mn-cfg");
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("bad.yaml");
    std::fs::write(
        &cfg,
        "home_address: 2001:db8:1::100\nhome_agent: 2001:db8:1::1\nsecurity:\n  unauthenticated: true\ninterfaces:\n  - name: eth0\n    iid_mode: nonsense\n",
    )
    .expect("write");
    let out = std::process::Command::new(MN)
        .args(["run", "-c", cfg.to_str().expect("utf-8")])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("bad.yaml:7"), "{err}");
    assert!(err.contains("interfaces[0].iid_mode"), "{err}");
    // No daemon: status says so clearly.
    let out = std::process::Command::new(MN)
        .args([
            "status",
            "--socket",
            dir.join("none.sock").to_str().expect("utf-8"),
        ])
        .output()
        .expect("status");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no mip6-mn daemon"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `mip6-mn check`, as `mip6-ha check`: validates without running (no
/// root needed), warns about deprecated names, fails on mistakes.
#[test]
fn check_validates_a_configuration() {
    let dir = mip6_common::testing::scratch_dir("mn-check");
    std::fs::create_dir_all(&dir).expect("dir");
    let check = |text: &str| {
        let cfg = dir.join("mn.yaml");
        std::fs::write(&cfg, text).expect("write");
        let out = std::process::Command::new(MN)
            .args(["check", "-c", cfg.to_str().expect("utf-8")])
            .output()
            .expect("run");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let example = include_str!("../examples/mn.yaml");
    let (ok, out, err) = check(example);
    assert!(ok && out.contains(": ok (2 interface(s)"), "{out}{err}");
    assert!(err.is_empty(), "{err}");
    let (ok, _, err) = check(&example.replace("  key_hex:", "  key:"));
    assert!(ok, "{err}");
    assert!(
        err.contains("warning") && err.contains("security.key: deprecated"),
        "{err}"
    );
    let (ok, _, err) = check(&example.replace("spi: 256", "spi: 7"));
    assert!(!ok);
    assert!(err.contains("security.spi"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn daemon_uses_the_best_interface_and_falls_back() {
    mip6_common::require_root!();
    let n = net("mnprio", true);
    let eth1 = n.mn_eth1.as_ref().expect("eth1");
    let before = kernel_state(&n.mn, &["eth0", "eth1"]);
    let (daemon, sock) = n.start_daemon(
        "  - name: eth0\n    priority: 10\n  - name: eth1\n    priority: 5\n    iid_mode: random\n",
        "optimistic_dad: true\n",
    );
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    assert_eq!(s.current_link.as_deref(), Some("eth0"));
    // Both interfaces are configured, each with its own table and rule.
    let rules = n.mn.cmd("ip -6 rule").expect("rules");
    assert!(
        rules.contains("lookup 200") && rules.contains("lookup 201"),
        "{rules}"
    );

    // The better interface loses its carrier: the registration moves to
    // the other one at once (its care-of address is ready).
    n.mn_eth.set_down().expect("unplug eth0");
    let s = n.wait_registered(&sock, PREFIX_B, REGISTRATION);
    assert_eq!(s.current_link.as_deref(), Some("eth1"));
    let h = s.handovers.last().expect("handover");
    assert_eq!(h.link, "eth1");
    assert!(
        h.previous_coa.is_some_and(|c| in_prefix(&c, &PREFIX_A)),
        "{h:#?}"
    );
    n.ping_hoa().expect("ping through eth1");

    // It comes back: the registration returns to it (optimistic DAD: the
    // BU leaves before DAD ends).
    n.mn_eth.set_up().expect("plug eth0");
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    assert_eq!(s.current_link.as_deref(), Some("eth0"));
    check_handover(&s, PREFIX_A);
    let h = s.handovers.last().expect("handover");
    let (usable, link) = (
        h.coa_usable_unix_ms.expect("usable"),
        h.link_event_unix_ms.expect("link"),
    );
    assert!(
        usable - link < 900.0,
        "optimistic address took {} ms",
        usable - link
    );
    n.ping_hoa().expect("ping through eth0");
    let _ = eth1;
    stop_and_check_restored(&n, daemon, &sock, &before, &["eth0", "eth1"]);
}

#[test]
fn daemon_returns_home_and_leaves_again() {
    mip6_common::require_root!();
    let n = net("mnhome", false);
    let before = kernel_state(&n.mn, &["eth0"]);
    let (daemon, sock) = n.start_daemon(ETH0, "");
    n.wait_registered(&sock, PREFIX_A, REGISTRATION);

    // Home: deregistration from the home address, the home address on the
    // physical interface, the tunnel idle.
    n.lab.move_iface(&n.mn_eth, &n.home).expect("move home");
    let s = n.wait_status(&sock, "deregistration at home", |s| {
        s.location == "home" && s.binding_update_list[0].state == "at_home"
    });
    let h = s.handovers.last().expect("handover");
    assert_eq!(
        (h.kind.as_str(), h.outcome.as_str()),
        ("home", "deregistered"),
        "{h:#?}"
    );
    assert!(h.ba_received_unix_ms.is_some());
    n.assert_ha_unbound();
    let addrs = n.mn.cmd("ip -6 addr show dev eth0").expect("addrs");
    assert!(addrs.contains(&format!("{HOA}/64")), "{addrs}");
    let tun = n.mn.cmd("ip -6 addr show dev mip6tun0").expect("tun");
    assert!(!tun.contains(&HOA.to_string()), "{tun}");
    let routes = n.mn.cmd("ip -6 route show default").expect("routes");
    assert!(
        routes.contains("dev eth0") && !routes.contains("mip6tun0"),
        "{routes}"
    );
    n.ping_hoa().expect("ping at home");

    // Away again: registration from the new care-of address.
    n.lab.move_iface(&n.mn_eth, &n.link_a).expect("move away");
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    check_handover(&s, PREFIX_A);
    let tun = n.mn.cmd("ip -6 addr show dev mip6tun0").expect("tun");
    assert!(tun.contains(&HOA.to_string()), "{tun}");
    n.ping_hoa().expect("ping through the tunnel");
    stop_and_check_restored(&n, daemon, &sock, &before, &["eth0"]);
    let _ = &n.rtr;
}

#[test]
fn daemon_follows_a_new_prefix_without_carrier_change() {
    mip6_common::require_root!();
    let n = net("mnprefix", false);
    let (daemon, sock) = n.start_daemon(ETH0, "");
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    let coa_a = s.care_of_address.expect("coa");
    // A second prefix appears on the same link (a new router, or
    // renumbering): no carrier change, only a Router Advertisement.
    n.rtr
        .cmd("ip -6 addr add 2001:db8:d::1/64 dev fa0 nodad")
        .expect("router address");
    let _ra_d = OwnRouter::start(&n.rtr, "fa0", PREFIX_D);
    let s = n.wait_registered(&sock, PREFIX_D, REGISTRATION);
    check_handover(&s, PREFIX_D);
    let h = s.handovers.last().expect("handover");
    assert_eq!(h.previous_coa, Some(coa_a));
    // The handover dates from the RA that brought the prefix.
    assert_eq!(h.link_event_unix_ms, h.ra_unix_ms, "{h:#?}");
    n.assert_ha_bound(s.care_of_address.expect("coa"));
    n.ping_hoa().expect("ping through the new care-of address");
    stop_cleanly(daemon);
}

#[test]
fn daemon_starts_clean_after_being_killed() {
    mip6_common::require_root!();
    let n = net("mnkill", false);
    let (cfg, sock) = write_config(&n.lab, ETH0, "");
    let first = n.spawn_daemon(&cfg);
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    let coa = s.care_of_address.expect("coa");
    // SIGKILL: nothing is cleaned up; the rule and table 200 stay behind.
    let pid = i32::try_from(first.pid()).expect("pid");
    // SAFETY: signalling a child we spawned.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let st = first.stop().expect("reap");
    assert!(!st.success());
    let rules = n.mn.cmd("ip -6 rule").expect("rules");
    assert!(rules.contains("lookup 200"), "{rules}");
    // A new run takes over: stale rules and routes go, the socket file is
    // replaced, the nftables table too, and it registers again.
    let second = n.spawn_daemon(&cfg);
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    assert_eq!(s.care_of_address, Some(coa), "same stable care-of address");
    let log = stop_cleanly(second);
    assert!(log.contains("removed what a previous run left"), "{log}");
    let rules = n.mn.cmd("ip -6 rule").expect("rules");
    assert!(!rules.contains("lookup 200"), "{rules}");
    let table = n.mn.cmd("ip -6 route show table all").expect("routes");
    assert!(
        !table.contains("table 200") && !table.contains("mip6tun0"),
        "{table}"
    );
    let tables = n.mn.cmd("nft list tables").expect("nft");
    assert!(!tables.contains("mip6_mn"), "{tables}");
    n.assert_ha_unbound();
}

/// Without the `nft` program the daemon registers anyway and says what is
/// lost; its log, a file, carries no terminal colour codes.
#[test]
fn daemon_runs_without_nft_and_says_what_is_lost() {
    mip6_common::require_root!();
    let n = net("mnnonft", false);
    let (cfg, sock) = write_config(&n.lab, ETH0, "");
    // A PATH with `ip` (the daemon sweeps stale rules with it) and no nft.
    let bin = n.lab.workdir().join("bin-without-nft");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("ip is installed");
    std::os::unix::fs::symlink(ip, bin.join("ip")).expect("symlink");
    let daemon =
        n.mn.spawn(&[
            "env",
            &format!("PATH={}", bin.display()),
            "MIP6_LOG=info",
            MN,
            "run",
            "-c",
            cfg.to_str().expect("utf-8"),
        ])
        .expect("spawn daemon");
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    n.assert_ha_bound(s.care_of_address.expect("coa"));
    let log = stop_cleanly(daemon);
    assert!(
        log.contains("nft (nftables) is not installed") && log.contains("Parameter Problems"),
        "{log}"
    );
    assert!(!log.contains('\u{1b}'), "colour codes in a log file: {log}");
}

/// The project's home agent binary, when the workspace has built it (CI's
/// `cargo test --workspace` does).
fn mip6_ha_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let bin = dir.join("mip6-ha");
    bin.exists().then_some(bin)
}

/// The project's home agent, running on the `ha` node.
struct ProjectHa {
    child: Child,
    node: Node,
    bin: PathBuf,
    sock: PathBuf,
}

impl ProjectHa {
    /// Starts it on the `ha` node of `n` and waits until it is ready.
    fn start(n: &Net) -> ProjectHa {
        let dir = n.lab.workdir().to_owned();
        let sock = dir.join("ha.sock");
        ProjectHa::start_with(
            n,
            &format!(
                "home_interface: eth0\n\
                 ha_address: {HA}\n\
                 home_prefixes:\n  - prefix: \"2001:db8:1::/64\"\n\
                 tunnel_device: mip6ha0\n\
                 state_file: {}\n\
                 control_socket: {}\n\
                 metrics:\n  listen: \"[::1]:9106\"\n\
                 dad:\n  transmits: 1\n  retrans_ms: 300\n\
                 mobile_nodes:\n\
                 \x20 - id: {NAI}\n    home_address: {HOA}\n    spi: {SPI}\n    key_hex: \"{KEY}\"\n",
                dir.join("ha-bindings.json").display(),
                sock.display()
            ),
            sock,
        )
    }

    /// Starts it with configuration `text`, whose control socket is `sock`.
    fn start_with(n: &Net, text: &str, sock: PathBuf) -> ProjectHa {
        // A missing home agent is a failure, not a skip: the README's test
        // command builds the whole workspace.
        let bin = mip6_ha_binary()
            .expect("no mip6-ha binary next to this test: run the tests with --workspace");
        let cfg = n.lab.workdir().join("ha.yaml");
        std::fs::write(&cfg, text).expect("write ha.yaml");
        let mut child = n
            .ha_node
            .spawn(&[
                "env",
                "RUST_LOG=info",
                bin.to_str().expect("utf-8"),
                "run",
                "-c",
                cfg.to_str().expect("utf-8"),
            ])
            .expect("spawn mip6-ha");
        child
            .wait_log("mip6-ha ready", Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{e}\n{}", child.log()));
        ProjectHa {
            child,
            node: n.ha_node.clone(),
            bin,
            sock,
        }
    }

    fn log(&self) -> String {
        self.child.log()
    }

    /// The bindings `mip6-ha status --json` reports: (home address, care-of).
    fn bindings(&self) -> Vec<(String, String)> {
        let out = self
            .node
            .exec(&[
                self.bin.to_str().expect("utf-8"),
                "status",
                "--json",
                "--socket",
                self.sock.to_str().expect("utf-8"),
            ])
            .expect("mip6-ha status");
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        v["bindings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|b| {
                        (
                            b["hoa"].as_str().unwrap_or_default().to_owned(),
                            b["coa"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Its one binding is the home address to `coa`.
    #[track_caller]
    fn assert_bound(&self, coa: Ipv6Addr) {
        assert_eq!(
            self.bindings(),
            vec![(HOA.to_string(), coa.to_string())],
            "{}",
            self.log()
        );
    }

    /// Stops the mobile node's daemon `mn`, then the home agent: the
    /// deregistration reached the home agent, and both exit 0.
    fn stop_after(self, mn: Child) {
        stop_cleanly(mn);
        assert!(
            self.bindings().is_empty(),
            "deregistration did not reach mip6-ha:\n{}",
            self.log()
        );
        stop_cleanly(self.child);
    }
}

/// `text` with each `(from, to)` replaced; every `from` must be there.
fn substituted(text: &str, subs: &[(&str, String)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in subs {
        assert!(
            out.contains(from),
            "{from:?} is not in the example any more"
        );
        out = out.replace(from, to);
    }
    out
}

/// The two example configurations, as a reader copies them, register with
/// each other. Only what a lab must change is changed: the files go into
/// the lab's directory (not /run and /var/lib of the machine) and the
/// mobile node's second interface is eth1, not wlan0.
#[test]
fn examples_register_with_each_other() {
    mip6_common::require_root!();
    let n = net_with("mnex", true, false);
    let dir = n.lab.workdir().to_owned();
    let in_lab = |key: &str, file: &str| format!("{key}: {}", dir.join(file).display());
    let ha_sock = dir.join("ha.sock");
    let ha_text = substituted(
        include_str!("../../home-agent/examples/ha.yaml"),
        &[
            (
                "state_file: /var/lib/mip6/ha-bindings.json",
                in_lab("state_file", "ha-bindings.json"),
            ),
            (
                "control_socket: /run/mip6/ha.sock",
                in_lab("control_socket", "ha.sock"),
            ),
        ],
    );
    let ha = ProjectHa::start_with(&n, &ha_text, ha_sock);
    let mn_text = substituted(
        include_str!("../examples/mn.yaml"),
        &[
            ("- name: wlan0", "- name: eth1".to_owned()),
            (
                "# control_socket: /run/mip6/mn.sock",
                in_lab("control_socket", "mn.sock"),
            ),
            (
                "# stable_secret_file: /var/lib/mip6/stable-secret",
                in_lab("stable_secret_file", "stable-secret"),
            ),
        ],
    );
    let cfg = dir.join("mn.yaml");
    std::fs::write(&cfg, mn_text).expect("write mn.yaml");
    let mn = n.spawn_daemon(&cfg);
    // eth0 (priority 10, on fa) carries the registration.
    let s = n.wait_registered(&dir.join("mn.sock"), PREFIX_A, REGISTRATION);
    ha.assert_bound(s.care_of_address.expect("coa"));
    let ha_log = ha.log();
    assert!(!ha_log.contains("configuration:"), "{ha_log}");
    assert!(!mn.log().contains("configuration:"), "{}", mn.log());
    n.ping_hoa()
        .expect("the correspondent reaches the home address");
    // What an operator reads: both metrics endpoints of the examples, the
    // control sockets root's only.
    let mn_metrics = scrape(&n.mn, "[::1]:9107");
    assert!(
        mn_metrics.contains("mip6_mn_registered 1\n"),
        "{mn_metrics}"
    );
    assert!(mn_metrics.contains("mip6_mn_build_info{"), "{mn_metrics}");
    let ha_metrics = scrape(&n.ha_node, "[::1]:9106");
    assert!(
        ha_metrics.contains("mip6_ha_bu_to_ba_seconds_count 1\n"),
        "{ha_metrics}"
    );
    assert!(
        ha_metrics.contains(&format!("mip6_ha_handovers_total{{hoa=\"{HOA}\"}} 0\n")),
        "{ha_metrics}"
    );
    for sock in [dir.join("mn.sock"), dir.join("ha.sock")] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&sock).expect("socket").permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{}", sock.display());
    }
    ha.stop_after(mn);
}

/// One HTTP GET of a metrics endpoint from inside `node`'s namespace.
fn scrape(node: &Node, addr: &'static str) -> String {
    node.run_in(move || {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(addr).expect("connect to the metrics endpoint");
        c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
            .expect("write");
        let mut body = String::new();
        c.read_to_string(&mut body).expect("read");
        body
    })
    .expect("enter namespace")
}

#[test]
fn daemon_registers_with_the_project_home_agent() {
    mip6_common::require_root!();
    let n = net_with("mnha", false, false);
    let ha = ProjectHa::start(&n);
    let (mn, sock) = n.start_daemon(ETH0, "");
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    ha.assert_bound(s.care_of_address.expect("coa"));
    n.lab.move_iface(&n.mn_eth, &n.link_b).expect("move");
    let s = n.wait_registered(&sock, PREFIX_B, REGISTRATION);
    ha.assert_bound(s.care_of_address.expect("coa"));
    ha.stop_after(mn);
}

/// No `home_agent` in the configuration: away from home the daemon asks the
/// home prefix's Home-Agents anycast address (RFC 6275 11.4.1). The home
/// agent is not the router here: the request crosses the router, which
/// resolves the anycast address on the home link, where mip6-ha has joined
/// it. The Reply names mip6-ha; the daemon registers with it and traffic
/// flows through the tunnel to the discovered address.
#[test]
fn daemon_discovers_the_home_agent_with_dhaad() {
    mip6_common::require_root!();
    let n = net_with("mndhaad", false, false);
    let ha = ProjectHa::start(&n);
    let (cfg, sock) = write_config_ha(&n.lab, ETH0, "", None);
    let text = std::fs::read_to_string(&cfg).expect("config");
    assert!(!text.contains("home_agent"), "{text}");
    let mn = n.spawn_daemon(&cfg);
    let s = n.wait_registered(&sock, PREFIX_A, Duration::from_secs(40));
    let coa = s.care_of_address.expect("coa");
    assert_eq!(s.home_agent, Some(HA), "{s:#?}\n{}", mn.log());
    assert_eq!(s.home_agent_source, "dhaad");
    assert_eq!(s.binding_update_list[0].destination, Some(HA));
    let d = s.dhaad.as_ref().expect("dhaad status");
    assert_eq!(d.state, "found");
    assert_eq!(
        d.anycast,
        "2001:db8:1::fdff:ffff:ffff:fffe"
            .parse::<Ipv6Addr>()
            .expect("a")
    );
    assert_eq!(d.care_of_address, Some(coa));
    assert_eq!(d.reply_from, Some(HA));
    assert_eq!(d.home_agents, vec![HA]);
    assert!(d.requests_sent >= 1);
    assert!(
        mn.log().contains("home agent discovered (DHAAD)"),
        "{}",
        mn.log()
    );
    assert!(ha.log().contains("DHAAD reply sent"), "{}", ha.log());
    ha.assert_bound(coa);
    let text = n.status_text(&sock);
    assert!(text.contains("home agent 2001:db8:1::1 (dhaad)"), "{text}");
    assert!(text.contains("DHAAD: found"), "{text}");
    n.ping_hoa()
        .expect("ping through the tunnel to the discovered home agent");
    ha.stop_after(mn);
}

/// Returning home, the deregistration leaves from the home address just put
/// on the home interface, to the home agent on the home link: the kernel
/// must resolve the home agent first, from the home address. That must not
/// cost a Neighbour Solicitation retransmission (1 s): every return home,
/// and the start at home, completes with one BU, well under a second.
#[test]
fn daemon_deregisters_at_home_with_one_binding_update_every_time() {
    mip6_common::require_root!();
    let n = net("mnhome3", false);
    // Start at home.
    n.lab.move_iface(&n.mn_eth, &n.home).expect("move home");
    let (daemon, sock) = n.start_daemon(ETH0, "");
    let mut homes = Vec::new();
    for round in 0..5 {
        if round > 0 {
            n.lab.move_iface(&n.mn_eth, &n.link_a).expect("move away");
            n.wait_registered(&sock, PREFIX_A, REGISTRATION);
            n.lab.move_iface(&n.mn_eth, &n.home).expect("move home");
        }
        let s = n.wait_status(&sock, "deregistration at home", |s| {
            s.location == "home"
                && s.handovers
                    .iter()
                    .filter(|h| h.kind == "home" && h.outcome == "deregistered")
                    .count()
                    > round
        });
        let h = s.handovers.last().expect("handover").clone();
        assert_eq!(h.kind, "home", "{h:#?}");
        homes.push(h);
    }
    let counters = n
        .mn
        .cmd("nstat -az Ip6InAddrErrors Icmp6InNeighborAdvertisements Icmp6OutNeighborSolicits")
        .unwrap_or_default();
    let slow: Vec<_> = homes
        .iter()
        .filter(|h| {
            let bu_to_ba = h
                .ba_received_unix_ms
                .zip(h.bu_sent_unix_ms)
                .map(|(a, b)| a - b);
            h.bu_count != 1 || bu_to_ba.is_none_or(|d| d > 300.0)
        })
        .collect();
    assert!(
        slow.is_empty(),
        "deregistrations that needed more than one BU or 300 ms: {slow:#?}\n{counters}"
    );
    // No packet to the home address arrived before the kernel took it as
    // local (the Neighbour Advertisement that got lost before the fix).
    let addr_errors = counters
        .lines()
        .find(|l| l.starts_with("Ip6InAddrErrors"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    assert_eq!(addr_errors, 0, "{counters}");
    let log = daemon.log();
    assert!(
        !log.contains("did not report the home address usable"),
        "{log}"
    );
    stop_cleanly(daemon);
}

/// The sysctls section of [`kernel_state`].
fn sysctl_state(node: &Node, ifaces: &[&str]) -> String {
    let s = kernel_state(node, ifaces);
    s.split("sysctls:\n").nth(1).unwrap_or_default().to_owned()
}

/// Issue 11 item 16: a second `mip6-mn run` with the same configuration
/// fails before it touches anything: the first keeps its rule, its
/// nftables table, its registration and its traffic.
#[test]
fn second_daemon_with_the_same_configuration_touches_nothing() {
    mip6_common::require_root!();
    let n = net("mntwice", false);
    let (cfg, sock) = write_config(&n.lab, ETH0, "");
    let first = n.spawn_daemon(&cfg);
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    let coa = s.care_of_address.expect("coa");
    n.ping_hoa().expect("traffic before");
    let out =
        n.mn.output(&[MN, "run", "-c", cfg.to_str().expect("utf-8")])
            .expect("second run");
    assert!(!out.success(), "a second daemon started");
    assert!(
        out.stderr.contains("another instance") && out.stderr.contains(&first.pid().to_string()),
        "{}",
        out.stderr
    );
    let rules = n.mn.cmd("ip -6 rule").expect("rules");
    assert!(rules.contains(&format!("from {coa} lookup 200")), "{rules}");
    let tables = n.mn.cmd("nft list tables").expect("nft");
    assert!(tables.contains("mip6_mn"), "{tables}");
    let s = n.status(&sock).expect("status");
    assert_eq!(s.binding_update_list[0].state, "registered");
    n.ping_hoa()
        .unwrap_or_else(|e| panic!("traffic after the second start: {e}"));
    stop_cleanly(first);
}

/// Issue 11 item 17: the sysctls a SIGKILLed daemon changed (accept_ra,
/// autoconf, accept_dad, addr_gen_mode) are found in its journal by the
/// next start, and that one's clean stop leaves the host's own values.
#[test]
fn sysctls_changed_by_a_killed_daemon_are_restored_by_the_next() {
    mip6_common::require_root!();
    let n = net("mnsysctl", false);
    let before = sysctl_state(&n.mn, &["eth0"]);
    let (cfg, sock) = write_config(&n.lab, ETH0, "");
    let first = n.spawn_daemon(&cfg);
    n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    assert_ne!(sysctl_state(&n.mn, &["eth0"]), before);
    let pid = i32::try_from(first.pid()).expect("pid");
    // SAFETY: signalling a child we spawned.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(!first.stop().expect("reap").success());
    assert_ne!(sysctl_state(&n.mn, &["eth0"]), before);

    let second = n.spawn_daemon(&cfg);
    n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    stop_cleanly(second);
    assert_eq!(sysctl_state(&n.mn, &["eth0"]), before);
    let journals: Vec<String> = std::fs::read_dir(n.lab.workdir())
        .expect("workdir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".sysctl") || f.ends_with(".lock"))
        .collect();
    assert!(journals.is_empty(), "{journals:?}");
}

/// RFC 6275 11.5.4 (issue 11 item 6): back on the home link, where the
/// home agent still defends the home address, the mobile node learns the
/// home agent's link-layer address with a Neighbor Solicitation from the
/// unspecified address, and the home address appears in no solicitation
/// before the home agent's BA has released it. Captured on the home link
/// from the home agent's side and read with tshark.
#[test]
fn daemon_back_home_solicits_the_home_agent_from_the_unspecified_address() {
    mip6_common::require_root!();
    let n = net_with("mnhomens", false, false);
    let ha = ProjectHa::start(&n);
    let (mn, sock) = n.start_daemon(ETH0, "");
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    ha.assert_bound(s.care_of_address.expect("coa"));
    let pcap = n.lab.workdir().join("home.pcap");
    let pcap_s = pcap.to_str().expect("path").to_owned();
    let cap = n
        .ha_node
        .spawn(&["tcpdump", "-i", "eth0", "-U", "-n", "-w", &pcap_s, "ip6"])
        .expect("tcpdump");
    std::thread::sleep(Duration::from_millis(800));
    n.lab.move_iface(&n.mn_eth, &n.home).expect("move home");
    n.wait_status(&sock, "deregistration at home", |s| {
        s.location == "home" && s.binding_update_list[0].state == "at_home"
    });
    // tcpdump -U writes each packet at once, but on a loaded machine it
    // may be scheduled late: give it a second before it stops.
    std::thread::sleep(Duration::from_millis(1000));
    let _ = cap.stop();
    let out = std::process::Command::new("tshark")
        .args([
            "-r",
            &pcap_s,
            "-T",
            "fields",
            "-e",
            "ipv6.src",
            "-e",
            "icmpv6.type",
            "-e",
            "icmpv6.nd.ns.target_address",
            "-e",
            "mip6.mhtype",
        ])
        .output()
        .expect("tshark");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .collect();
    fn field<'a>(r: &[&'a str], i: usize) -> &'a str {
        r.get(i).copied().unwrap_or("")
    }
    let hoa = HOA.to_string();
    let ha_addr = HA.to_string();
    let bu = rows
        .iter()
        .position(|r| field(r, 0) == hoa && field(r, 3) == "5")
        .unwrap_or_else(|| panic!("no BU from the home address:\n{text}"));
    let ba = rows
        .iter()
        .position(|r| field(r, 3) == "6")
        .unwrap_or_else(|| panic!("no BA on the home link:\n{text}"));
    let ns_from_any = rows[..bu]
        .iter()
        .any(|r| field(r, 0) == "::" && field(r, 1) == "135" && field(r, 2) == ha_addr);
    assert!(
        ns_from_any,
        "no solicitation for the home agent from :: before the BU:\n{text}"
    );
    let ns_from_hoa: Vec<_> = rows[..ba]
        .iter()
        .filter(|r| field(r, 0) == hoa && field(r, 1) == "135")
        .collect();
    assert!(
        ns_from_hoa.is_empty(),
        "solicitations from the home address before the BA: {ns_from_hoa:?}\n{text}"
    );
    ha.stop_after(mn);
}

/// RFC 4429 3.3 (issue 11 item 7): while the care-of address is
/// optimistic, the kernel (which knows it only as a `nodad` address) must
/// not answer a solicitation for it with the Override flag, nor solicit
/// from it. Here DAD takes ten seconds; a solicitation from the router
/// during them is answered without the Override flag (by the daemon), one
/// after them with it (by the kernel). Captured on the router.
#[test]
fn optimistic_care_of_address_is_answered_without_override() {
    mip6_common::require_root!();
    let n = net("mnopt", false);
    let (daemon, sock) = n.start_daemon(ETH0, "optimistic_dad: true\ndad_transmits: 10\n");
    let start = Instant::now();
    let coa = loop {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no care-of address"
        );
        let s = n.status(&sock).ok();
        if let Some(c) = s.and_then(|s| s.care_of_address) {
            break c;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let ask = || {
        let mut cap = n
            .rtr
            .spawn(&[
                "tcpdump",
                "-i",
                "fa0",
                "-n",
                "-vv",
                "-l",
                "-c",
                "1",
                "icmp6 and ip6[40] == 136",
            ])
            .expect("tcpdump");
        cap.wait_log("listening on", Duration::from_secs(10))
            .expect("tcpdump ready");
        let o = n
            .rtr
            .output(&[
                "ndisc6",
                "-1",
                "-r",
                "3",
                "-w",
                "300",
                &coa.to_string(),
                "fa0",
            ])
            .expect("ndisc6");
        let t = Instant::now();
        while !cap.log().contains("tgt is") && t.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = cap.log();
        drop(cap);
        (o.success(), log)
    };
    let (answered, log) = ask();
    assert!(
        start.elapsed() < Duration::from_secs(9),
        "too slow: {:?}",
        start.elapsed()
    );
    assert!(answered, "no answer while optimistic: {log}");
    assert!(
        log.contains("tgt is") && !log.contains("override"),
        "answered with the Override flag while optimistic: {log}"
    );
    let sets =
        n.mn.cmd("nft list set ip6 mip6_mn optimistic")
            .unwrap_or_default();
    assert!(sets.contains(&coa.to_string()), "{sets}");
    // DAD over: the kernel answers, with the Override flag.
    while start.elapsed() < Duration::from_secs(12) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (answered, log) = ask();
    assert!(answered && log.contains("override"), "{log}");
    let sets =
        n.mn.cmd("nft list set ip6 mip6_mn optimistic")
            .unwrap_or_default();
    assert!(!sets.contains(&coa.to_string()), "{sets}");
    stop_cleanly(daemon);
}

/// Issue 11 item 14: the home agent restarts without its state file (the
/// binding is lost) while the mobile node keeps tunnelling; the home
/// agent answers the unbound tunnel packets with Binding Error status 1
/// and the mobile node registers again at once, not at its next refresh
/// (once 83 s of silently dropped traffic).
#[test]
fn mobile_node_registers_again_when_the_home_agent_lost_its_binding() {
    mip6_common::require_root!();
    let n = net_with("mnlostbind", false, false);
    let ha = ProjectHa::start(&n);
    // A long lifetime: the next refresh is minutes away.
    let (mn, sock) = n.start_daemon(ETH0, "");
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    let coa = s.care_of_address.expect("coa");
    ha.assert_bound(coa);
    let pid = i32::try_from(ha.child.pid()).expect("pid");
    // SAFETY: signalling a child we spawned.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let ProjectHa { child, .. } = ha;
    assert!(!child.stop().expect("reap").success());
    std::fs::remove_file(n.lab.workdir().join("ha-bindings.json")).expect("state file");
    let ha = ProjectHa::start(&n);
    assert!(ha.bindings().is_empty());
    // The mobile node's traffic (from its home address, into the tunnel).
    let ping =
        n.mn.spawn(&["ping", "-6", "-n", "-i", "0.2", &CN.to_string()])
            .expect("ping");
    let t0 = Instant::now();
    let bound = n.lab.wait_until(
        "the home agent to have the binding again",
        Duration::from_secs(15),
        || {
            let b = ha.bindings();
            Ok(if b.is_empty() {
                Err("unbound".to_owned())
            } else {
                Ok(b)
            })
        },
    );
    drop(ping);
    bound.unwrap_or_else(|e| panic!("{e}\nmn:\n{}\nha:\n{}", mn.log(), ha.log()));
    eprintln!("registered again {:?} after the restart", t0.elapsed());
    ha.assert_bound(coa);
    assert!(mn.log().contains("binding error"), "{}", mn.log());
    ha.stop_after(mn);
}

/// Issue 11 item 13: stray BAs (anyone can send them) are counted in the
/// status, and logged a few at a time, not one line each.
#[test]
fn stray_binding_acknowledgements_are_counted_not_logged() {
    mip6_common::require_root!();
    use mip6_common::sys::mh_io::RawSender;
    use mip6_common::wire::exthdr::Ipv6Repr;
    use mip6_common::wire::mh::{BaFlags, BaStatus, BindingAck, fill_checksum};
    let n = net("mnstrayba", false);
    let (mn, sock) = n.start_daemon(ETH0, "");
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    let coa = s.care_of_address.expect("coa");
    const N: u16 = 300;
    n.ha_node
        .run_in(move || {
            let tx = RawSender::open().expect("raw socket");
            for seq in 0..N {
                let ba = MhRepr::BindingAck(BindingAck {
                    status: BaStatus::ACCEPTED,
                    flags: BaFlags::default(),
                    sequence: seq,
                    lifetime: 10,
                    options: Vec::new(),
                });
                let mut mh = ba.to_bytes().expect("BA");
                fill_checksum(&mut mh, &HA, &HOA).expect("checksum");
                let mut ip = Ipv6Repr::new(HA, coa, proto::MOBILITY);
                ip.routing_home_address = Some(HOA);
                tx.send(&ip.build(&mh).expect("packet").bytes, 0)
                    .expect("send");
                if seq % 50 == 49 {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        })
        .expect("forged BAs");
    let s = n.wait_status(&sock, "stray BAs counted", |s| {
        s.binding_update_list[0].ba_ignored >= u64::from(N) / 2
    });
    let ignored = s.binding_update_list[0].ba_ignored;
    let lines = mn.log().matches("binding acknowledgement ignored").count();
    assert!(lines <= 20, "{lines} log lines for {ignored} stray BAs");
    assert_eq!(s.binding_update_list[0].state, "registered");
    stop_cleanly(mn);
}

/// Issue 11 item 18: the kernel configured the link the mobile node
/// started on (SLAAC address, on-link prefix route, default route from the
/// RA). The daemon removes them when it takes the interface over, so once
/// it has moved away, the old /64 is reached through the tunnel like any
/// other network, not looked for on a link that is no longer there.
#[test]
fn kernel_slaac_of_the_first_link_is_removed() {
    mip6_common::require_root!();
    let n = net_opts("mnkslaac", false, true, true);
    let kernel_addr = n
        .lab
        .wait_until(
            "the kernel's SLAAC address",
            Duration::from_secs(15),
            || {
                let out =
                    n.mn.cmd("ip -6 -o addr show dev eth0 scope global")
                        .expect("addr");
                Ok(out
                    .split_whitespace()
                    .filter_map(|w| w.split('/').next()?.parse::<Ipv6Addr>().ok())
                    .find(|a| in_prefix(a, &PREFIX_A))
                    .ok_or(out))
            },
        )
        .expect("kernel SLAAC");
    let routes =
        n.mn.cmd("ip -6 route show 2001:db8:a::/64")
            .expect("routes");
    assert!(routes.contains("dev eth0"), "{routes}");
    let (mn, sock) = n.start_daemon(ETH0, "");
    let s = n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    assert_ne!(s.care_of_address, Some(kernel_addr));
    let addrs = n.mn.cmd("ip -6 addr show dev eth0").expect("addr");
    assert!(!addrs.contains(&kernel_addr.to_string()), "{addrs}");
    let ra = n.mn.cmd("ip -6 route show proto ra").expect("routes");
    assert_eq!(ra.trim(), "", "RA routes left");

    n.lab.move_iface(&n.mn_eth, &n.link_b).expect("move");
    n.wait_registered(&sock, PREFIX_B, REGISTRATION);
    let main =
        n.mn.cmd("ip -6 route show 2001:db8:a::/64")
            .expect("routes");
    assert_eq!(main.trim(), "", "the old /64 is still on link: {main}");
    // The old link's router, reached through the tunnel from the home
    // address.
    n.mn.wait_ping6("2001:db8:a::1", PING)
        .unwrap_or_else(|e| panic!("{e}\n{}", mn.log()));
    stop_cleanly(mn);
}

/// Issue 11 item 16, second half: SIGTERM, then a new start while the old
/// daemon still waits for the BA to its deregistration (the BU is lost
/// here, so it waits its full 3 s). The new one fails without touching the
/// old one's rules; once the old one is gone, a start works.
#[test]
fn start_while_the_old_daemon_still_deregisters_fails_cleanly() {
    mip6_common::require_root!();
    let n = net("mnderegrace", false);
    let (cfg, sock) = write_config(&n.lab, ETH0, "");
    let first = n.spawn_daemon(&cfg);
    n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    // Lose the deregistration BU (it carries a Home Address option).
    n.mn.sh("nft add table ip6 m6block && \
         nft add chain ip6 m6block out '{ type filter hook output priority 0; }' && \
         nft add rule ip6 m6block out ip6 nexthdr 60 drop")
        .expect("nft");
    let pid = i32::try_from(first.pid()).expect("pid");
    // SAFETY: signalling a child we spawned.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(300));
    let out =
        n.mn.output(&[MN, "run", "-c", cfg.to_str().expect("utf-8")])
            .expect("second run");
    assert!(!out.success(), "started beside a deregistering daemon");
    assert!(out.stderr.contains("another instance"), "{}", out.stderr);
    let rules = n.mn.cmd("ip -6 rule").expect("rules");
    assert!(
        rules.contains("lookup 200"),
        "the old one's rule went: {rules}"
    );
    let log = first.log_path().to_owned();
    let _ = first.stop().expect("reap");
    let log = std::fs::read_to_string(log).unwrap_or_default();
    assert!(log.contains("deregistering before exit"), "{log}");
    n.mn.cmd("nft delete table ip6 m6block").expect("nft");
    let again = n.spawn_daemon(&cfg);
    n.wait_registered(&sock, PREFIX_A, REGISTRATION);
    stop_cleanly(again);
}
