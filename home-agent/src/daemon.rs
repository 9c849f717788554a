//! `mip6-ha run`: the I/O shell around the binding cache.
//!
//! One thread runs a `poll(2)` loop over the signalling sockets, the home
//! link's ND socket, the DHAAD socket, the RA sender and a signal pipe,
//! feeds the sans-IO engines (the binding cache, DAD, the home agents list)
//! and carries out their actions. The control socket and the metrics
//! endpoint run on their own threads from what the loop publishes.
//!
//! Kernel state per binding, in this order (docs/ARCHITECTURE.md, kernel state
//! per binding): the route
//! `HoA/128` into the TUN device, then the proxy neighbour entry on the
//! home link (netlink, NTF_PROXY: the kernel answers solicitations with our
//! MAC), then unsolicited Neighbor Advertisements with O=1 to all-nodes so
//! neighbours that cached the mobile node's own MAC switch to ours at once.
//! Removal goes the other way round. The data plane gets the cache's
//! snapshot after every change.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use mip6_common::binding::BindingCache;
use mip6_common::binding::cache::{Action, BuContext, Event, EventKind};
use mip6_common::binding::ntp::ntp_from_system_time;
use mip6_common::ratelimit::RateLimiter;
use mip6_common::sys::icmp6::NdSocket;
use mip6_common::sys::instance::{self, InstanceLock};
use mip6_common::sys::mh_io::{RawRecvSocket, RawSender, RecvMeta};
use mip6_common::sys::netlink::{self, Netlink, RouteSpec};
use mip6_common::sys::next_ready;
use mip6_common::sys::nft::{MISSING_NFT, NftTable, param_problem_ruleset};
use mip6_common::sys::radv_io::RaSender;
use mip6_common::sys::sysctl::{self, SysctlGuard};
use mip6_common::wire::checksum::proto;
use mip6_common::wire::dhaad::{DhaadRepr, HaadReply, MobilePrefixAdvert, msg_type};
use mip6_common::wire::exthdr::{Ipv6Repr, parse_payload};
use mip6_common::wire::mh::{BaStatus, MhOption, MhPacket, MhRepr, auth_subtype};
use mip6_common::wire::nd::{
    ALL_NODES, INFINITE_LIFETIME, NdOption, NdOptions, NdRepr, NeighborAdvert, NeighborSolicit,
    PrefixInformation, solicited_node_multicast,
};
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::control::ControlServer;
use crate::dad::{DadAction, DadRunner};
use crate::halist::HomeAgentList;
use crate::home_link::HomeLinkMh;
use crate::icmp_io::Icmp6Socket;
use crate::persist;
use crate::state::{PubBinding, Shared, flags_text};
use crate::tunnel::TunnelPlane;

/// rtm_protocol of our routes, so `ip -6 route show proto 109` finds them.
pub const ROUTE_PROTOCOL: u8 = 109;
/// The line the daemon logs when it is serving.
pub const READY: &str = "mip6-ha ready";
/// Signalling packets handled before their actions are carried out.
const SIGNALLING_BATCH: usize = 64;
/// ICMPv6 errors we originate, per second at most.
const ICMP_ERRORS_PER_SECOND: u32 = 10;
/// DHAAD replies sent per second at most, to whoever asks: a mobile node
/// asks once per start or move, a flood of requests with a forged source
/// must not become a flood of replies at its victim.
pub const DHAAD_REPLIES_PER_SECOND: u32 = 50;
/// The shortest time between two defences of one address against foreign
/// Neighbor Advertisements.
pub const DEFEND_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest time between two rewrites of the state file.
pub const STATE_WRITE_INTERVAL: Duration = Duration::from_millis(100);

/// Unsolicited NAs still to send for one address.
#[derive(Debug, Clone, Copy)]
struct NaJob {
    target: Ipv6Addr,
    next: Instant,
    left: u8,
}

/// What a poll slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Signal,
    DstOpts,
    Mobility,
    HomeNd,
    Dhaad,
    Ra,
    HomeMh,
}

struct Daemon {
    cfg: Config,
    cache: BindingCache,
    nl: Netlink,
    home_ifindex: u32,
    home_mac: Option<[u8; 6]>,
    tun_ifindex: u32,
    tunnel: Arc<dyn TunnelPlane>,
    sock60: RawRecvSocket,
    sock135: RawRecvSocket,
    sender: RawSender,
    nd: NdSocket,
    /// Mobility Headers on the home link, with their source MACs.
    home_mh: Option<HomeLinkMh>,
    dhaad: Icmp6Socket,
    ra: Option<RaSender>,
    dad: DadRunner,
    halist: HomeAgentList,
    nas: Vec<NaJob>,
    routed: HashSet<Ipv6Addr>,
    proxied: HashSet<Ipv6Addr>,
    anycast: Vec<Ipv6Addr>,
    shared: Arc<Shared>,
    signals: UnixStream,
    dirty: bool,
    /// When the state file was last written.
    last_save: Option<Instant>,
    /// The data plane has not seen the latest binding changes yet.
    tunnel_stale: bool,
    /// BAs of this turn, sent once the data plane knows their bindings.
    bas: Vec<(Ipv6Addr, Ipv6Repr, Vec<u8>)>,
    /// When each home address's pending BU arrived (for the latency).
    bu_timer: crate::observe::BuTimer,
    /// Start of the current second and the ICMPv6 errors sent in it.
    icmp_window: Option<(Instant, u32)>,
    /// Log lines about what anyone can send (rejected, dropped or
    /// unauthenticated BUs, NAs claiming bound addresses, DHAAD requests):
    /// counted always, logged (at WARN) a few at a time, the rest at DEBUG.
    stranger_log: RateLimiter,
    /// When each address was last defended against a foreign NA.
    defended: HashMap<Ipv6Addr, Instant>,
    /// DHAAD replies per second (see [`DHAAD_REPLIES_PER_SECOND`]).
    dhaad_budget: RateLimiter,
    buf: Vec<u8>,
    // Held for their Drop: the nftables table, the sysctls, the control
    // socket file.
    nft: Option<NftTable>,
    sysctls: SysctlGuard,
    control: Option<ControlServer>,
}

/// Takes this configuration's instance lock: call it before anything is
/// set up (the TUN device included), and hold it until [`run`] returns. A
/// second `mip6-ha run` of the same configuration fails here, having
/// touched nothing of the first one's.
pub fn lock_instance(cfg: &Config) -> anyhow::Result<InstanceLock> {
    InstanceLock::acquire(&instance::lock_path(&cfg.control_socket))
        .context("cannot start a second home agent")
}

/// Runs the home agent until SIGTERM or SIGINT, then takes down everything
/// it set up.
pub fn run(cfg: Config, tunnel: Arc<dyn TunnelPlane>) -> anyhow::Result<()> {
    let mut d = Daemon::start(cfg, tunnel)?;
    let r = d.run_loop();
    d.shutdown();
    r
}

fn ignore_exists(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if netlink::errno(&e) == Some(libc::EEXIST) => Ok(()),
        r => r,
    }
}

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if matches!(netlink::errno(&e), Some(libc::ENOENT | libc::ESRCH)) => Ok(()),
        r => r,
    }
}

impl Daemon {
    fn start(cfg: Config, tunnel: Arc<dyn TunnelPlane>) -> anyhow::Result<Self> {
        let (signals, sig_w) = UnixStream::pair()?;
        signals.set_nonblocking(true)?;
        for sig in [libc::SIGTERM, libc::SIGINT] {
            signal_hook::low_level::pipe::register(sig, sig_w.try_clone()?)
                .context("install signal handlers")?;
        }
        if cfg.allow_unauthenticated {
            warn!(
                "!!! allow_unauthenticated is ON: Binding Updates without MN-HA authentication \
                 are accepted for home addresses without a key. Anyone can take those \
                 addresses. Lab use only !!!"
            );
        }
        let home = cfg.home_interface.clone();
        let mut nl = Netlink::new()?;
        let home_ifindex = nl
            .link_index(&home)
            .with_context(|| format!("home interface {home}"))?;
        let home_mac = <[u8; 6]>::try_from(nl.link_info(home_ifindex)?.mac.as_slice()).ok();
        let tun_name = tunnel.tun_name().to_owned();
        let tun_ifindex = nl
            .link_index(&tun_name)
            .with_context(|| format!("tunnel device {tun_name}"))?;

        // Originals a killed run left in its journal come back first, so
        // what is read below (and restored at exit) is the host's own.
        let (mut sysctls, recovered) =
            SysctlGuard::with_journal(instance::sysctl_journal_path(&cfg.control_socket, "ha"))
                .context("sysctl journal")?;
        if recovered > 0 {
            warn!(
                recovered,
                "restored sysctls a killed run had changed and not put back"
            );
        }
        // Forwarding makes the kernel ignore RAs unless accept_ra is 2: a
        // home agent that learns its default route from the home link's
        // router (radvd) must keep doing so.
        if sysctl::read(&home, "accept_ra").is_ok_and(|v| v == "1") {
            sysctls.set(&home, "accept_ra", "2")?;
        }
        sysctls.set("all", "forwarding", "1")?;
        sysctls.set("all", "proxy_ndp", "1")?;
        sysctls.set(&home, "proxy_ndp", "1")?;
        sysctls.set_path(sysctl::neigh_path(&home, "proxy_delay")?, "0")?;

        let nft = NftTable::install_if_available(
            &cfg.nftables_table,
            &param_problem_ruleset(&cfg.nftables_table),
        )
        .context("install the nftables table")?;
        if nft.is_none() {
            warn!("{MISSING_NFT}");
        }

        let sock60 = RawRecvSocket::open(proto::DST_OPTS)?;
        let sock135 = RawRecvSocket::open(proto::MOBILITY)?;
        sock60.set_nonblocking(true)?;
        sock135.set_nonblocking(true)?;
        let sender = RawSender::open()?;
        let nd = NdSocket::with_types(&home, &[134, 135, 136])?;
        nd.set_nonblocking(true)?;
        let home_mh = HomeLinkMh::open(home_ifindex)
            .map_err(|e| warn!(error = %e, "no link-layer socket on the home link: BAs to mobile nodes at home follow the routing table"))
            .ok();
        let dhaad = Icmp6Socket::open(&[msg_type::HAAD_REQUEST])?;
        let anycast = cfg.anycast_addresses();
        for a in &anycast {
            dhaad.join_anycast(*a, home_ifindex)?;
        }
        let ra = if cfg.router_advertisements.enabled {
            let mut s = RaSender::open(&home, cfg.ra_content(), cfg.ra_timing(), rand::random())
                .context("router advertisements")?;
            s.start(Instant::now());
            Some(s)
        } else {
            None
        };

        let now = Instant::now();
        let mut cache = BindingCache::new(
            cfg.cache_config(),
            now,
            ntp_from_system_time(SystemTime::now()),
        );
        let stored = match persist::load(&cfg.state_file) {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "binding cache file unusable; starting empty");
                persist::Stored::default()
            }
        };
        for r in &stored.bindings {
            if let Some(why) = cache.unrestorable(r, now) {
                warn!(hoa = %r.hoa, coa = %r.coa, why, "stored binding not restored");
            }
        }
        let replay = cache.restore_replay(&stored.replay);
        let restored = cache.restore(&stored.bindings, SystemTime::now(), now);
        info!(
            restored,
            stored = stored.bindings.len(),
            replay_states = replay,
            file = %cfg.state_file.display(),
            "binding cache restored"
        );

        let shared = Arc::new(Shared::new(
            cfg.ha_address,
            home.clone(),
            cfg.allow_unauthenticated,
            Arc::clone(&tunnel),
        ));
        let halist = HomeAgentList::new(
            cfg.ha_address,
            cfg.home_agent_preference,
            cfg.home_prefixes.iter().map(|p| p.prefix).collect(),
        );
        let dad = DadRunner::new(
            cfg.dad.transmits,
            Duration::from_millis(cfg.dad.retrans_ms.into()),
        );
        let mut d = Self {
            cache,
            nl,
            home_ifindex,
            home_mac,
            tun_ifindex,
            tunnel,
            sock60,
            sock135,
            sender,
            nd,
            home_mh,
            dhaad,
            ra,
            dad,
            halist,
            nas: Vec::new(),
            routed: HashSet::new(),
            proxied: HashSet::new(),
            anycast,
            shared: Arc::clone(&shared),
            signals,
            dirty: false,
            last_save: None,
            tunnel_stale: false,
            bas: Vec::new(),
            bu_timer: crate::observe::BuTimer::default(),
            icmp_window: None,
            stranger_log: RateLimiter::for_logs(),
            defended: HashMap::new(),
            dhaad_budget: RateLimiter::new(DHAAD_REPLIES_PER_SECOND, Duration::from_secs(1)),
            buf: vec![0; 65536],
            nft,
            sysctls,
            control: None,
            cfg,
        };
        // Proxy entries a killed run left for nodes that are not bound now.
        let stale: Vec<Ipv6Addr> = d
            .cfg
            .mobile_nodes
            .iter()
            .map(|m| m.home_address)
            .filter(|h| d.cache.binding(h).is_none())
            .collect();
        for h in stale {
            let _ = d.nl.del_proxy_neigh(d.home_ifindex, h);
        }
        d.drain(Instant::now());
        d.control = Some(ControlServer::start(
            &d.cfg.control_socket,
            Arc::clone(&shared),
        )?);
        if let Some(listen) = &d.cfg.metrics.listen {
            let addr = listen.parse().context("metrics.listen")?;
            let bound = crate::metrics::start(addr, Arc::clone(&shared))?;
            info!(%bound, "metrics endpoint");
        }
        info!(
            ha = %d.cfg.ha_address,
            home = %d.cfg.home_interface,
            tun = %d.tunnel.tun_name(),
            control = %d.cfg.control_socket.display(),
            nft_table = d.nft.as_ref().map_or("none", NftTable::name),
            router_advertisements = d.ra.is_some(),
            mobile_nodes = d.cfg.mobile_nodes.len(),
            "{READY}"
        );
        Ok(d)
    }

    fn run_loop(&mut self) -> anyhow::Result<()> {
        loop {
            let now = Instant::now();
            self.cache
                .set_wall_clock(now, ntp_from_system_time(SystemTime::now()));
            self.cache.handle_timeout(now);
            // Mobile nodes tunnelling to us without a binding (we lost it):
            // a Binding Error makes them register again at once.
            for (coa, hoa) in self.tunnel.take_unbound_senders() {
                self.cache
                    .handle_tunnelled_without_binding(now, coa, self.cfg.ha_address, hoa);
            }
            self.dad.handle_timeout(now);
            self.send_due_nas(now);
            if let Some(ra) = &mut self.ra
                && let Err(e) = ra.handle_timeout(now)
            {
                warn!(error = %e, "router advertisement");
            }
            self.drain(now);

            let deadline = [
                self.cache.poll_timeout(),
                self.dad.poll_timeout(),
                self.nas.iter().map(|n| n.next).min(),
                self.ra.as_ref().and_then(RaSender::poll_timeout),
                self.dirty
                    .then(|| self.last_save.map(|t| t + STATE_WRITE_INTERVAL))
                    .flatten(),
            ]
            .into_iter()
            .flatten()
            .min();
            let wait = deadline
                .map_or(Duration::from_secs(1), |t| {
                    t.saturating_duration_since(Instant::now())
                })
                .min(Duration::from_secs(1));
            let mut slots: Vec<(RawFd, Source)> = vec![
                (self.signals.as_raw_fd(), Source::Signal),
                (self.sock60.as_raw_fd(), Source::DstOpts),
                (self.sock135.as_raw_fd(), Source::Mobility),
                (self.nd.as_raw_fd(), Source::HomeNd),
                (self.dhaad.as_fd().as_raw_fd(), Source::Dhaad),
            ];
            if let Some(ra) = &self.ra {
                slots.push((ra.fd().as_raw_fd(), Source::Ra));
            }
            if let Some(h) = &self.home_mh {
                slots.push((h.as_raw_fd(), Source::HomeMh));
            }
            let mut fds: Vec<libc::pollfd> = slots
                .iter()
                .map(|(fd, _)| libc::pollfd {
                    fd: *fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            let ms = i32::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(1000);
            // SAFETY: `fds` is a live array of pollfd of the length given.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e).context("poll");
            }
            for (pfd, (_, src)) in fds.iter().zip(&slots) {
                if pfd.revents == 0 {
                    continue;
                }
                match src {
                    Source::Signal => {
                        info!("signal received; shutting down");
                        return Ok(());
                    }
                    Source::DstOpts => self.read_signalling(true),
                    Source::Mobility => self.read_signalling(false),
                    Source::HomeNd => self.read_home_nd(),
                    Source::Dhaad => self.read_dhaad(),
                    Source::HomeMh => {
                        if let Some(h) = &mut self.home_mh {
                            h.drain();
                        }
                    }
                    Source::Ra => {
                        if let Some(ra) = &mut self.ra
                            && let Err(e) = ra.handle_readable(Instant::now())
                        {
                            debug!(error = %e, "router solicitation");
                        }
                    }
                }
            }
        }
    }

    /// Takes down what the bindings installed (the bindings stay on disk
    /// for the next start), the RAs, the nftables table and the control
    /// socket; the TUN device goes with the data plane.
    fn shutdown(&mut self) {
        if self.dirty {
            self.save_state(Instant::now());
        }
        if let Some(ra) = &mut self.ra
            && let Err(e) = ra.stop()
        {
            warn!(error = %e, "final router advertisement");
        }
        for a in std::mem::take(&mut self.proxied) {
            if let Err(e) = ignore_missing(self.nl.del_proxy_neigh(self.home_ifindex, a)) {
                warn!(error = %e, "remove proxy neighbour");
            }
        }
        for a in std::mem::take(&mut self.routed) {
            if let Err(e) = ignore_missing(self.nl.del_route(&self.route(a))) {
                warn!(error = %e, "remove route");
            }
        }
        self.control = None;
        if let Some(mut t) = self.nft.take()
            && let Err(e) = t.remove()
        {
            warn!(error = %e, "remove the nftables table");
        }
        if let Err(e) = self.sysctls.restore() {
            warn!(error = %e, "restore sysctls");
        }
        info!(
            bindings = self.cache.len(),
            "stopped; bindings kept on disk"
        );
    }

    fn route(&self, hoa: Ipv6Addr) -> RouteSpec {
        RouteSpec {
            oif: Some(self.tun_ifindex),
            protocol: ROUTE_PROTOCOL,
            replace: true,
            // The eBPF path encapsulates on the route itself.
            encap: self.tunnel.route_encap(),
            ..RouteSpec::new(hoa, 128)
        }
    }

    fn kernel_result(&self, what: &str, r: io::Result<()>) {
        if let Err(e) = r {
            self.shared.lock().shell.kernel_errors += 1;
            warn!(error = %e, "{what}");
        }
    }

    /// Carries out everything the engines queued, until they are quiet.
    fn drain(&mut self, now: Instant) {
        let mut changed = false;
        loop {
            let mut progress = false;
            while let Some(a) = self.cache.poll_action() {
                progress = true;
                self.do_action(now, a);
            }
            while let Some(a) = self.dad.poll_action() {
                progress = true;
                self.do_dad(now, a);
            }
            while let Some(ev) = self.cache.poll_event() {
                progress = true;
                changed |= self.on_event(ev);
            }
            if !progress {
                break;
            }
        }
        {
            let pending: Vec<Ipv6Addr> = self.cache.pending_dad().copied().collect();
            let mut p = self.shared.lock();
            p.stats = self.cache.stats().clone();
            p.pending_dad = pending;
        }
        if changed {
            self.dirty = true;
        }
        // The mobile node tunnels as soon as its BA arrives: the data plane
        // learns every binding of this turn first, in one snapshot however
        // many BUs the turn held.
        self.sync_tunnel();
        for (hoa, ip, mh) in std::mem::take(&mut self.bas) {
            self.send_ba(&ip, &mh);
            if let Some(d) = self.bu_timer.ba_sent(Instant::now(), hoa) {
                self.shared.lock().bu_latency.observe(d);
            }
        }
        if self.dirty && self.save_due(now) {
            self.save_state(now);
        }
    }

    /// The state file is rewritten whole (export, JSON, two fsyncs): at
    /// most every [`STATE_WRITE_INTERVAL`], so that a burst of BUs shares
    /// one write instead of paying one each, which held a home agent with
    /// 10,000 bindings near 130 BUs/s (BENCHMARKS.md). A lone change is
    /// still written at once; a SIGKILL loses at most the changes of the
    /// last interval.
    fn save_due(&self, now: Instant) -> bool {
        self.last_save
            .is_none_or(|t| now >= t + STATE_WRITE_INTERVAL)
    }

    fn save_state(&mut self, now: Instant) {
        self.dirty = false;
        self.last_save = Some(now);
        let records = self.cache.export(SystemTime::now(), Instant::now());
        let replay = self.cache.replay_records();
        match persist::save(&self.cfg.state_file, &records, &replay) {
            Ok(()) => self.shared.lock().shell.state_writes += 1,
            Err(e) => warn!(error = %e, "could not save the binding cache"),
        }
    }

    /// Hands the data plane the binding cache as it is now.
    fn sync_tunnel(&mut self) {
        if std::mem::take(&mut self.tunnel_stale) {
            self.tunnel.set_bindings(self.cache.snapshot());
        }
    }

    fn do_action(&mut self, now: Instant, a: Action) {
        // What the data plane knows is home address -> care-of address: a
        // refresh leaves it as it is, and rebuilding it for one would cost
        // O(bindings) per BU.
        let moved = |a: &Action| match a {
            Action::InstallBinding { .. } | Action::RemoveBinding { .. } => true,
            Action::UpdateBinding { old_coa, coa, .. } => old_coa != coa,
            _ => false,
        };
        if moved(&a) {
            self.tunnel_stale = true;
        }
        match a {
            Action::InstallBinding {
                hoa, link_local, ..
            } => {
                let r = self.nl.add_route(&self.route(hoa));
                self.kernel_result("add route into the tunnel", r);
                self.routed.insert(hoa);
                for t in std::iter::once(hoa).chain(link_local) {
                    let r = ignore_exists(self.nl.add_proxy_neigh(self.home_ifindex, t));
                    self.kernel_result("add proxy neighbour", r);
                    self.proxied.insert(t);
                    self.schedule_nas(now, t);
                }
            }
            Action::UpdateBinding { hoa, .. } => {
                // The route and the proxy entry are there already; make
                // sure (a failed add earlier, a manual flush).
                if let Err(e) = self.nl.add_route(&self.route(hoa)) {
                    self.kernel_result("refresh route into the tunnel", Err(e));
                }
            }
            Action::RemoveBinding {
                hoa, link_local, ..
            } => {
                self.nas
                    .retain(|n| n.target != hoa && Some(n.target) != link_local);
                for t in std::iter::once(hoa).chain(link_local) {
                    let r = ignore_missing(self.nl.del_proxy_neigh(self.home_ifindex, t));
                    self.kernel_result("remove proxy neighbour", r);
                    self.proxied.remove(&t);
                }
                let r = ignore_missing(self.nl.del_route(&self.route(hoa)));
                self.kernel_result("remove route", r);
                self.routed.remove(&hoa);
                if let Some((a, b, c, d)) = self.tunnel.counters(&hoa) {
                    let mut p = self.shared.lock();
                    p.retired.0 += a;
                    p.retired.1 += b;
                    p.retired.2 += c;
                    p.retired.3 += d;
                }
            }
            Action::StartDad { hoa, link_local } => {
                self.dad.start(now, hoa, link_local, rand::random);
            }
            Action::SendBa(send) => {
                let ip = send.ipv6_header();
                let (hoa, ba) = (send.hoa, &send.ba);
                debug!(%hoa, coa = %send.to_coa, status = ba.status.0, seq = ba.sequence, "sending BA");
                self.bas.push((hoa, ip, send.mh_bytes));
            }
            Action::SendBindingError {
                to, from, mh_bytes, ..
            } => {
                self.send_packet(&Ipv6Repr::new(from, to, proto::MOBILITY), &mh_bytes);
            }
            Action::SendBrr {
                hoa,
                from,
                mh_bytes,
                ..
            } => {
                // To the home address: the route takes it into the tunnel.
                self.send_packet(&Ipv6Repr::new(from, hoa, proto::MOBILITY), &mh_bytes);
            }
        }
    }

    /// A BA to a mobile node on its home link (no type 2 routing header,
    /// the destination on a home prefix) goes to the link-layer address its
    /// BU came from (RFC 6275 9.5.4, 10.3.2): the route for its home
    /// address may still lead into the tunnel, and we may still answer
    /// Neighbor Solicitations for it. Any other BA is routed.
    fn send_ba(&mut self, ip: &Ipv6Repr, mh: &[u8]) {
        let at_home = ip.routing_home_address.is_none()
            && self
                .cfg
                .home_prefixes
                .iter()
                .any(|p| p.prefix.contains(ip.dst));
        if at_home && let Some(h) = &mut self.home_mh {
            // The BU's frame reached this socket before the IPv6 stack.
            h.drain();
            if let Some(mac) = h.mac_of(&ip.dst) {
                let r = ip
                    .build(mh)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
                    .and_then(|p| h.send(&p.bytes, mac));
                match r {
                    Ok(()) => return,
                    Err(e) => {
                        self.shared.lock().shell.send_errors += 1;
                        warn!(error = %e, dst = %ip.dst, "BA on the home link");
                        return;
                    }
                }
            }
            debug!(dst = %ip.dst, "no link-layer address known for a BA to the home link; routing it");
        }
        self.send_packet(ip, mh);
    }

    fn send_packet(&self, ip: &Ipv6Repr, upper: &[u8]) {
        let r = ip
            .build(upper)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
            .and_then(|p| self.sender.send(&p.bytes, 0));
        if let Err(e) = r {
            self.shared.lock().shell.send_errors += 1;
            warn!(error = %e, dst = %ip.dst, "send");
        }
    }

    fn do_dad(&mut self, now: Instant, a: DadAction) {
        match a {
            DadAction::Join(g) => {
                if let Err(e) = self.nd.join(g) {
                    debug!(error = %e, "join solicited-node group");
                }
            }
            DadAction::Leave(g) => {
                if let Err(e) = self.nd.leave(g) {
                    debug!(error = %e, "leave solicited-node group");
                }
            }
            DadAction::Probe { target, nonce } => {
                let ns = NdRepr::NeighborSolicit(NeighborSolicit::dad(target, Some(nonce)));
                match ns.to_bytes() {
                    Ok(b) => {
                        if let Err(e) = self.nd.send(
                            &b,
                            Some(Ipv6Addr::UNSPECIFIED),
                            solicited_node_multicast(target),
                        ) {
                            self.shared.lock().shell.send_errors += 1;
                            warn!(error = %e, %target, "DAD probe");
                        }
                    }
                    Err(e) => warn!(error = %e, "emit DAD probe"),
                }
            }
            DadAction::Done { hoa, free } => {
                if free {
                    info!(%hoa, "home address free on the home link");
                } else {
                    self.shared.lock().shell.dad_conflicts += 1;
                    warn!(%hoa, "home address in use on the home link (DAD failed)");
                }
                self.cache.handle_dad_result(now, hoa, free);
            }
        }
    }

    /// Logs one engine event and publishes the binding it touches; true
    /// when a binding changed.
    fn on_event(&mut self, ev: Event) -> bool {
        let binding_change = match &ev.kind {
            EventKind::BindingCreated { hoa, coa, lifetime } => {
                info!(event = "binding_created", %hoa, %coa, lifetime_s = lifetime.as_secs(), mn = self.cfg.nai_of(hoa).unwrap_or("-"), "binding created");
                Some(*hoa)
            }
            EventKind::BindingUpdated {
                hoa,
                old_coa,
                coa,
                lifetime,
            } => {
                // A refresh is routine (every mobile node, every half
                // lifetime); a move is news.
                if old_coa == coa {
                    debug!(event = "binding_updated", %hoa, %coa, lifetime_s = lifetime.as_secs(), "binding refreshed");
                } else {
                    info!(event = "binding_updated", %hoa, %old_coa, %coa, lifetime_s = lifetime.as_secs(), "binding moved");
                }
                Some(*hoa)
            }
            EventKind::BindingRemoved { hoa, coa, reason } => {
                info!(event = "binding_removed", %hoa, %coa, reason = ?reason, "binding removed");
                Some(*hoa)
            }
            EventKind::BindingRestored {
                hoa,
                coa,
                remaining,
            } => {
                info!(event = "binding_restored", %hoa, %coa, remaining_s = remaining.as_secs(), "binding restored");
                Some(*hoa)
            }
            EventKind::BuResult {
                hoa,
                coa,
                sequence,
                status,
                lifetime,
            } => {
                if status.is_accepted() {
                    debug!(%hoa, %coa, sequence, status = status.0, lifetime_s = lifetime.as_secs(), "binding update accepted");
                } else {
                    // What the network sends is not for INFO: a flood of
                    // bad BUs would drown the log. A few at WARN, the rest
                    // at DEBUG, with a count of what was held back.
                    match self.stranger_log_allowed(ev.at) {
                        Some(suppressed) => {
                            warn!(event = "bu_rejected", %hoa, %coa, sequence, status = status.0, reason = status.name().unwrap_or("?"), suppressed, "binding update rejected")
                        }
                        None => {
                            debug!(event = "bu_rejected", %hoa, %coa, sequence, status = status.0, reason = status.name().unwrap_or("?"), "binding update rejected")
                        }
                    }
                    if self.cfg.mobile_nodes.iter().any(|m| m.home_address == *hoa) {
                        self.shared.lock().rejections.insert(
                            *hoa,
                            crate::state::Rejection {
                                at: ev.at,
                                status: status.0,
                            },
                        );
                    }
                }
                None
            }
            EventKind::BuDropped { src, hoa, reason } => {
                match self.stranger_log_allowed(ev.at) {
                    Some(suppressed) => {
                        warn!(%src, %hoa, reason, suppressed, "binding update dropped")
                    }
                    None => debug!(%src, %hoa, reason, "binding update dropped"),
                }
                None
            }
            EventKind::DadStarted { hoa } => {
                info!(%hoa, "DAD for a new home address");
                None
            }
            EventKind::DadTimedOut { hoa } => {
                warn!(%hoa, "DAD never finished; pending registration forgotten");
                None
            }
            EventKind::BrrSent { hoa, coa } => {
                debug!(%hoa, %coa, "binding refresh request sent");
                None
            }
            EventKind::BindingErrorSent { to, status } => {
                debug!(%to, status = status.0, "binding error sent");
                None
            }
        };
        let Some(hoa) = binding_change else {
            return false;
        };
        let published = self.cache.binding(&hoa).map(|b| {
            let mn = self.cfg.nai_of(&hoa).map(str::to_owned);
            debug!(%hoa, seq = b.sequence, flags = %flags_text(b.flags), "published");
            (b.clone(), mn)
        });
        let mut p = self.shared.lock();
        let published =
            published.map(|(b, mn)| PubBinding::from_info(&b, mn, p.bindings.get(&hoa)));
        match published {
            Some(b) => {
                p.bindings.insert(hoa, b);
            }
            None => {
                p.bindings.remove(&hoa);
            }
        }
        true
    }

    /// A Neighbor Advertisement on the home link for an address we
    /// defend (a bound home address, or its link-local address) that names
    /// another link-layer address: someone claims it (a forged NA once
    /// cost a bound home address half its traffic, every 4 s). We
    /// re-announce it with unsolicited NAs with O=1 (RFC 6275 10.4.1
    /// keeps defending for the binding's life), at most once a second per
    /// address so that a flood of forged NAs cannot turn us into one, and
    /// count it.
    fn defend_against_na(&mut self, now: Instant, na: &NeighborAdvert) {
        let Some(ours) = self.home_mac else {
            return;
        };
        if !self.proxied.contains(&na.target) {
            return;
        }
        let Some(theirs) = na.options.target_lla().and_then(|l| l.mac()) else {
            // Without a target link-layer address no cache changes.
            return;
        };
        if theirs == ours {
            return;
        }
        self.shared.lock().shell.foreign_nas += 1;
        let due = self
            .defended
            .get(&na.target)
            .is_none_or(|t| now.saturating_duration_since(*t) >= DEFEND_INTERVAL);
        if !due {
            return;
        }
        self.defended.insert(na.target, now);
        self.defended
            .retain(|a, t| now.saturating_duration_since(*t) < DEFEND_INTERVAL || *a == na.target);
        if let Some(suppressed) = self.stranger_log.allow(now) {
            warn!(target = %na.target, mac = %fmt_mac(theirs), suppressed, "another node claims a bound home address; defending it");
        }
        self.schedule_nas(now, na.target);
    }

    /// Whether a line about a BU may be logged now (see `stranger_log`), with
    /// how many were held back since the last one; the held-back ones are
    /// counted for the metrics.
    fn stranger_log_allowed(&mut self, now: Instant) -> Option<u64> {
        let r = self.stranger_log.allow(now);
        if r.is_none() {
            self.shared.lock().shell.log_lines_suppressed += 1;
        }
        r
    }

    fn schedule_nas(&mut self, now: Instant, target: Ipv6Addr) {
        let n = self.cfg.proxy_nd.unsolicited_nas;
        self.nas.retain(|j| j.target != target);
        if n > 0 {
            self.nas.push(NaJob {
                target,
                next: now,
                left: n,
            });
        }
        self.send_due_nas(now);
    }

    /// Unsolicited NA for a home address with our MAC, O=1, to all-nodes
    /// (RFC 6275 10.4.1, RFC 4861 7.2.6).
    fn send_due_nas(&mut self, now: Instant) {
        let interval = Duration::from_millis(self.cfg.proxy_nd.interval_ms.into());
        let mut sent = 0;
        for j in &mut self.nas {
            if j.next > now || j.left == 0 {
                continue;
            }
            j.left -= 1;
            j.next = now + interval;
            let opts = self
                .home_mac
                .map(|m| vec![NdOption::target_mac(m)])
                .unwrap_or_default();
            let na =
                NdRepr::NeighborAdvert(NeighborAdvert::new(j.target, false, false, true, opts));
            match na.to_bytes() {
                Ok(b) => match self.nd.send(&b, None, ALL_NODES) {
                    Ok(_) => sent += 1,
                    Err(e) => warn!(error = %e, target = %j.target, "unsolicited NA"),
                },
                Err(e) => warn!(error = %e, "emit NA"),
            }
        }
        self.nas.retain(|j| j.left > 0);
        if sent > 0 {
            self.shared.lock().shell.unsolicited_nas += sent;
        }
    }

    /// Sends ICMPv6 Parameter Problem code 0 (erroneous header field) with
    /// `pointer` about the packet of `meta` and `payload` to its source, at
    /// most [`ICMP_ERRORS_PER_SECOND`] a second (RFC 4443 2.4).
    fn param_problem(&mut self, now: Instant, meta: &RecvMeta, payload: &[u8], pointer: u32) {
        match self.icmp_window {
            Some((start, _)) if now.saturating_duration_since(start) < Duration::from_secs(1) => {}
            _ => self.icmp_window = Some((now, 0)),
        }
        let Some((_, sent)) = &mut self.icmp_window else {
            return;
        };
        if *sent >= ICMP_ERRORS_PER_SECOND {
            return;
        }
        *sent += 1;
        let Ok(hdr) = meta.header().to_bytes() else {
            return;
        };
        let mut icmp = vec![4u8, 0, 0, 0];
        icmp.extend_from_slice(&pointer.to_be_bytes());
        icmp.extend_from_slice(&hdr);
        icmp.extend_from_slice(payload);
        // RFC 4443 2.4 (c): as much of the invoking packet as fits in the
        // minimum MTU.
        icmp.truncate(1280 - 40);
        if let Err(e) = self.dhaad.send(&icmp, meta.dst, meta.src) {
            self.shared.lock().shell.send_errors += 1;
            debug!(error = %e, dst = %meta.src, "parameter problem");
        }
    }

    fn malformed(&self, what: &str, src: Ipv6Addr, why: &dyn std::fmt::Display) {
        self.shared.lock().shell.malformed += 1;
        debug!(%src, "{what}: {why}");
    }

    /// Reads a protocol-60 (`dst_opts`) or protocol-135 socket.
    fn read_signalling(&mut self, dst_opts: bool) {
        let mut buf = std::mem::take(&mut self.buf);
        let mut batch = 0;
        loop {
            // A flood must not hold the first BAs back for long.
            if batch == SIGNALLING_BATCH {
                self.drain(Instant::now());
                batch = 0;
            }
            batch += 1;
            let sock = if dst_opts {
                &self.sock60
            } else {
                &self.sock135
            };
            let Some(meta) = next_ready(
                sock.recv(&mut buf),
                |e| debug!(error = %e, "signalling socket"),
            ) else {
                break;
            };
            let now = Instant::now();
            self.handle_packet(now, &meta, buf.get(..meta.len).unwrap_or_default());
        }
        self.buf = buf;
        // Once for everything read: the BUs of a burst share one data
        // plane snapshot and one state file write.
        self.drain(Instant::now());
    }

    fn handle_packet(&mut self, now: Instant, meta: &RecvMeta, payload: &[u8]) {
        let parsed = match parse_payload(meta.header(), payload) {
            Ok(p) => p,
            Err(e) => return self.malformed("extension headers", meta.src, &e),
        };
        if parsed.is_fragment() {
            return self.malformed("signalling", meta.src, &"fragmented");
        }
        let hao = parsed.home_address();
        match parsed.upper_protocol() {
            proto::MOBILITY => {
                let (csum_src, csum_dst) = parsed.checksum_addresses();
                let pkt = MhPacket::new_unchecked(parsed.upper());
                if let Err(e) = pkt.check_len() {
                    return self.malformed("mobility header", meta.src, &e);
                }
                if !pkt.verify_checksum(&csum_src, &csum_dst) {
                    return self.malformed("mobility header", meta.src, &"bad checksum");
                }
                // RFC 6275 9.2: a Payload Proto other than 59, or a Header
                // Len too short for the type, is answered with Parameter
                // Problem code 0 pointing at the field.
                if let Err(e) = pkt.check_fields() {
                    if let Some(p) = mip6_common::wire::mh::param_problem_pointer(&e) {
                        let at = u32::try_from(40 + parsed.upper_offset()).unwrap_or(0) + p;
                        self.param_problem(now, meta, payload, at);
                    }
                    return self.malformed("mobility header", meta.src, &e);
                }
                let mh = pkt.mh_bytes();
                match MhRepr::parse(&pkt) {
                    Ok(MhRepr::BindingUpdate(bu)) => {
                        let authenticated = bu.options.iter().any(|o| {
                            matches!(o, MhOption::MobilityAuth { subtype, .. } if *subtype == auth_subtype::MN_HA)
                        });
                        if !authenticated
                            && self.cfg.allow_unauthenticated
                            && let Some(suppressed) = self.stranger_log_allowed(now)
                        {
                            warn!(src = %meta.src, hoa = %hao.unwrap_or(meta.src), suppressed, "UNAUTHENTICATED binding update (allow_unauthenticated is on)");
                        }
                        self.bu_timer.bu_received(now, hao.unwrap_or(meta.src));
                        self.cache.handle_bu(
                            now,
                            &BuContext {
                                src: meta.src,
                                dst: meta.dst,
                                home_address: hao,
                                mh_bytes: mh,
                                bu: &bu,
                            },
                        );
                    }
                    Ok(MhRepr::Unknown { mh_type, .. }) => {
                        debug!(src = %meta.src, mh_type, "unknown mobility header type");
                        self.cache
                            .handle_unknown_mh_type(now, meta.src, meta.dst, hao);
                    }
                    Ok(other) => {
                        debug!(src = %meta.src, mh_type = other.mh_type(), "mobility message not for a home agent");
                    }
                    Err(e) => self.malformed("mobility header", meta.src, &e),
                }
            }
            proto::ICMPV6 if hao.is_some() => {
                // RFC 6275 9.3.1: a Home Address option without a binding
                // to this source is answered with Binding Error status 1
                // (rate-limited) and the packet dropped, ICMP included.
                let hoa = hao.unwrap_or(meta.src);
                if self.cache.binding(&hoa).is_none_or(|b| b.coa != meta.src) {
                    debug!(src = %meta.src, %hoa, "ICMPv6 with a home address option without a binding");
                    return self
                        .cache
                        .handle_hao_without_binding(now, meta.src, meta.dst, hoa);
                }
                self.handle_mps(
                    meta,
                    parsed.upper(),
                    hao.unwrap_or(meta.src),
                    parsed.final_destination(),
                );
            }
            _ => {
                if let Some(hoa) = hao {
                    self.cache
                        .handle_hao_without_binding(now, meta.src, meta.dst, hoa);
                }
            }
        }
    }

    /// A Mobile Prefix Solicitation from a bound mobile node (RFC 6275
    /// 10.6.2): answer with the home prefixes, through a type 2 routing
    /// header to its care-of address.
    fn handle_mps(&mut self, meta: &RecvMeta, icmp: &[u8], hoa: Ipv6Addr, dst: Ipv6Addr) {
        let msg = match DhaadRepr::parse_verified(icmp, &hoa, &dst) {
            Ok(m) => m,
            Err(e) => return self.malformed("ICMPv6 with a home address option", meta.src, &e),
        };
        let DhaadRepr::PrefixSolicit(mps) = msg else {
            return;
        };
        if self.cache.binding(&hoa).is_none_or(|b| b.coa != meta.src) {
            debug!(src = %meta.src, %hoa, "mobile prefix solicitation without a binding");
            return;
        }
        let ha = self.cfg.ha_address;
        let options = self
            .cfg
            .home_prefixes
            .iter()
            .map(|p| {
                let mut pi = PrefixInformation::new(
                    if p.prefix.contains(ha) {
                        ha
                    } else {
                        p.prefix.addr()
                    },
                    p.prefix.prefix_len(),
                    p.valid_lifetime.unwrap_or(INFINITE_LIFETIME),
                    p.preferred_lifetime.unwrap_or(INFINITE_LIFETIME),
                );
                pi.router_address = p.prefix.contains(ha);
                NdOption::PrefixInformation(pi)
            })
            .collect();
        let mpa = DhaadRepr::PrefixAdvert(MobilePrefixAdvert {
            identifier: mps.identifier,
            managed: self.cfg.router_advertisements.managed,
            other: self.cfg.router_advertisements.other,
            reserved: 0,
            options,
        });
        match mpa.to_bytes_with_checksum(&ha, &hoa) {
            Ok(bytes) => {
                let mut ip = Ipv6Repr::new(ha, meta.src, proto::ICMPV6);
                ip.routing_home_address = Some(hoa);
                self.send_packet(&ip, &bytes);
                self.shared.lock().shell.mobile_prefix_advertisements += 1;
                info!(%hoa, coa = %meta.src, "mobile prefix advertisement sent");
            }
            Err(e) => warn!(error = %e, "emit mobile prefix advertisement"),
        }
    }

    fn read_home_nd(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        while let Some(info) = next_ready(
            self.nd.recv(&mut buf),
            |e| debug!(error = %e, "home link ND socket"),
        ) {
            let now = Instant::now();
            let Ok(msg) = NdRepr::from_bytes(buf.get(..info.len).unwrap_or_default()) else {
                continue;
            };
            if msg.validate(&info.src, &info.dst, info.hop_limit).is_err() {
                continue;
            }
            match &msg {
                NdRepr::RouterAdvert(ra) => {
                    let before = self.halist.refused();
                    self.halist.handle_ra(now, info.src, ra);
                    if self.halist.refused() != before {
                        self.shared.lock().shell.home_agents_refused = self.halist.refused();
                    }
                }
                NdRepr::NeighborSolicit(ns) if info.src.is_unspecified() => {
                    self.dad.handle_probe(ns.target, ns.options.nonce());
                }
                NdRepr::NeighborAdvert(na) => {
                    self.dad.handle_na(na.target);
                    self.defend_against_na(now, na);
                }
                _ => {}
            }
            self.drain(now);
        }
        self.buf = buf;
    }

    /// DHAAD (RFC 6275 10.5): a request to a Home-Agents anycast address
    /// gets our home agents list, most preferred first, from our address.
    fn read_dhaad(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        while let Some((len, src, dst)) = next_ready(
            self.dhaad.recv(&mut buf),
            |e| debug!(error = %e, "DHAAD socket"),
        ) {
            let msg = match DhaadRepr::from_bytes(buf.get(..len).unwrap_or_default()) {
                Ok(m) => m,
                Err(e) => {
                    self.malformed("DHAAD request", src, &e);
                    continue;
                }
            };
            let DhaadRepr::HaadRequest(req) = msg else {
                continue;
            };
            if !self.anycast.contains(&dst) || msg.validate(&src, &dst).is_err() {
                debug!(%src, %dst, "DHAAD request not to our anycast address");
                continue;
            }
            // The request's source is not checked by anyone: a reply
            // budget keeps a flood with a forged source from turning us
            // into a reflector at the victim.
            if self.dhaad_budget.allow(Instant::now()).is_none() {
                self.shared.lock().shell.dhaad_rate_limited += 1;
                continue;
            }
            let reply = DhaadRepr::HaadReply(HaadReply {
                identifier: req.identifier,
                mobile_router: false,
                reserved: 0,
                home_agents: self.halist.addresses(Instant::now()),
            });
            match reply.to_bytes() {
                Ok(b) => match self.dhaad.send(&b, self.cfg.ha_address, src) {
                    Ok(_) => {
                        self.shared.lock().shell.dhaad_replies += 1;
                        if let Some(suppressed) = self.stranger_log.allow(Instant::now()) {
                            info!(%src, identifier = req.identifier, suppressed, "DHAAD reply sent");
                        }
                    }
                    Err(e) => warn!(error = %e, %src, "DHAAD reply"),
                },
                Err(e) => warn!(error = %e, "emit DHAAD reply"),
            }
        }
        self.buf = buf;
    }
}

/// Status codes by name for logs and tests.
pub fn status_name(s: u8) -> &'static str {
    BaStatus(s).name().unwrap_or("unknown")
}

fn fmt_mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
