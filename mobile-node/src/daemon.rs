//! `mip6-mn run`: the mobile node daemon.
//!
//! One thread runs the control plane as a poll(2) loop, in the style of
//! `mip6-mn autoconf`: the sans-IO engines (one SLAAC/DAD engine per
//! interface, the movement engine deciding where we are and what a move
//! asks for ([`mip6_common::movement`]), the home registration) are driven
//! by the clock and by what
//! the sockets deliver (ND per interface, link changes from netlink, BAs on
//! the protocol-43 socket, other Mobility Headers on the protocol-135 one),
//! and their actions are carried out at once, in the same turn of the loop:
//! a care-of address that becomes usable is registered before the loop
//! sleeps again. Without a configured home agent, the DHAAD engine
//! ([`crate::dhaad`]) finds it first, from the care-of address, on a socket
//! of the care-of address's interface; the registration starts with the
//! Reply. The data plane runs in threads of its own behind
//! [`TunnelPlane`]; the control socket in another, reading snapshots the
//! loop publishes, so neither ever delays a BU.
//!
//! Kernel state the daemon owns, and removes on exit: the TUN device with
//! the home address (or the home address on the home interface while at
//! home), `default dev <tun> src <HoA>` (or `default via <home router>`
//! at home) in the main table, one routing table and one rule per care-of
//! address per interface (see [`crate::iface`]), the per-interface sysctls
//! that switch the kernel's own autoconfiguration off, and the nftables
//! table that hides the kernel's Parameter Problem answers to BAs.

use crate::config::Config;
use crate::control::{ControlServer, Published};
use crate::dhaad::{Discovery, Output as DhaadOutput};
use crate::history::{History, Start};
use crate::iface::ManagedIface;
use crate::status::{BulEntry, DhaadStatus, IfaceStatus, Status, WallClock};
use crate::tunnel::{TunnelPlane, TunnelSettings};
use anyhow::Context;
use mip6_common::binding::ntp::ntp_from_system_time;
use mip6_common::binding::update_list::{
    Action as RegAction, EventKind as RegEvent, FailReason, HomeRegistration, RegistrationConfig,
    RegistrationState,
};
use mip6_common::movement::{Action as MoveAction, LinkView, Location, Movement, Readiness};
use mip6_common::sys::icmp6::NdSocket;
use mip6_common::sys::instance::{self, InstanceLock};
use mip6_common::sys::mn_signal::{ParamProblemFilter, SignalSocket, mh_behind_rh2};
use mip6_common::sys::netlink::{
    AddrOptions, LinkMonitor, MonitorEvent, Netlink, RouteSpec, ignore_missing,
};
use mip6_common::sys::next_ready;
use mip6_common::wire::dhaad::{DhaadRepr, msg_type};
use mip6_common::wire::mh::{MhRepr, verify_checksum};
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// Metric of the main-table default route the daemon owns (below the
/// kernel's 1024 for RA-learned routes).
pub const DEFAULT_ROUTE_METRIC: u32 = 64;
/// How long a stopping daemon waits for the BA to its deregistration.
pub const DEREGISTRATION_WAIT: Duration = Duration::from_secs(3);
/// How long the deregistration at home waits for the kernel to report the
/// home address usable (it always does within a millisecond or so).
pub const HOA_READY_WAIT: Duration = Duration::from_millis(200);
/// The longest the loop sleeps with nothing scheduled.
const IDLE_WAKE: Duration = Duration::from_secs(5);

/// Makes the data plane.
pub type TunnelFactory = dyn Fn(&TunnelSettings) -> io::Result<Box<dyn TunnelPlane>>;

/// Where the home address is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HoaPlace {
    Nowhere,
    Tun,
    Phys(usize),
}

/// What the status shows of the discovery beyond the engine's state.
#[derive(Debug, Default)]
struct DhaadLog {
    last_request: Option<Instant>,
    reply_from: Option<Ipv6Addr>,
    reply_at: Option<Instant>,
    home_agents: Vec<Ipv6Addr>,
    ignored: u64,
}

#[derive(Debug, Default)]
struct Counters {
    bu_sent: u64,
    ba_received: u64,
    ba_ignored: u64,
    mh_dropped: u64,
}

/// The daemon's state. Build with [`Daemon::new`] (no system change), then
/// [`Daemon::setup`], [`Daemon::run_loop`], and always [`Daemon::teardown`].
pub struct Daemon {
    cfg: Config,
    clock: WallClock,
    started: Instant,
    nl: Netlink,
    monitor: LinkMonitor,
    mh: SignalSocket,
    rh: SignalSocket,
    filter: Option<ParamProblemFilter>,
    tunnel: Option<Box<dyn TunnelPlane>>,
    tun_index: u32,
    ifaces: Vec<ManagedIface>,
    reg: HomeRegistration,
    /// The home agent: configured, or discovered.
    ha: Option<Ipv6Addr>,
    /// "configured" or "dhaad" once `ha` is known.
    ha_source: &'static str,
    /// Discovery of the home agent, when the configuration gives none.
    dhaad: Option<Discovery>,
    /// The socket the Requests leave by and the Replies arrive on: on the
    /// interface of the care-of address they come from.
    dhaad_sock: Option<(usize, NdSocket)>,
    dhaad_log: DhaadLog,
    /// Where we are and what a move asks for (the sans-IO engine).
    movement: Movement,
    hoa_on: HoaPlace,
    main_routes: Vec<RouteSpec>,
    history: History,
    last_link_event: Instant,
    control: Option<ControlServer>,
    published: Published,
    /// Log lines about signalling anyone can send (stray BAs, Binding
    /// Errors): counted always, logged a few at a time.
    stray_log: mip6_common::ratelimit::RateLimiter,
    counters: Counters,
    last_bu: Option<(Instant, Ipv6Addr)>,
    stopping: bool,
    torn_down: bool,
    buf: Vec<u8>,
    /// Why the registration failed, while it is failed (for `status`).
    last_failure: Option<String>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("cfg", &self.cfg)
            .field("location", &self.movement.location())
            .field("hoa_on", &self.hoa_on)
            .finish_non_exhaustive()
    }
}

/// The home registration with home agent `ha`.
fn registration(cfg: &Config, ha: Ipv6Addr, now: Instant) -> HomeRegistration {
    let reg_cfg = RegistrationConfig {
        nai: cfg.mn_id.clone(),
        spi: cfg.spi,
        key: cfg.key.clone(),
        lifetime: cfg.binding_lifetime,
        // A random start avoids a 135 round trip after a restart
        // (the home agent accepts any number for a new binding).
        initial_sequence: rand::random(),
        ..RegistrationConfig::new(cfg.home_address, ha)
    };
    HomeRegistration::new(reg_cfg, now, ntp_from_system_time(SystemTime::now()))
}

fn state_name(s: RegistrationState) -> &'static str {
    match s {
        RegistrationState::Idle => "idle",
        RegistrationState::Registering => "registering",
        RegistrationState::Registered => "registered",
        RegistrationState::Deregistering => "deregistering",
        RegistrationState::AtHome => "at_home",
        RegistrationState::Failed => "failed",
    }
}

/// Runs the daemon until `signals` counts a signal (a second one skips the
/// deregistration wait), cleaning up whatever happens.
pub fn run(cfg: Config, signals: &AtomicU32, factory: &TunnelFactory) -> anyhow::Result<()> {
    // Before anything: a second daemon of this configuration (or one
    // started while the first still deregisters) must not sweep the first
    // one's tables, rules and nftables table on its way to failing.
    let _lock = InstanceLock::acquire(&instance::lock_path(&cfg.control_socket))
        .context("cannot start a second mobile node")?;
    let mut d = Daemon::new(cfg)?;
    let r = d.setup(factory).and_then(|()| d.run_loop(signals));
    d.teardown();
    r
}

impl Daemon {
    /// Opens sockets; changes nothing on the system yet.
    pub fn new(cfg: Config) -> anyhow::Result<Self> {
        let nl = Netlink::new().context("netlink")?;
        let monitor = LinkMonitor::new().context("cannot watch link changes")?;
        monitor.set_nonblocking(true)?;
        let mh = SignalSocket::mobility().context("Mobility Header socket")?;
        let rh = SignalSocket::routing().context("routing header socket")?;
        let now = Instant::now();
        let ha = cfg.home_agent;
        let reg = registration(&cfg, ha.unwrap_or(Ipv6Addr::UNSPECIFIED), now);
        let dhaad = match ha {
            Some(_) => None,
            None => Some(
                Discovery::new(cfg.home_prefix(), cfg.home_prefix_len, rand::random())
                    .context("the home prefix has no Home-Agents anycast address")?,
            ),
        };
        Ok(Self {
            ha,
            ha_source: if ha.is_some() { "configured" } else { "" },
            dhaad,
            dhaad_sock: None,
            dhaad_log: DhaadLog::default(),
            movement: Movement::new(cfg.home_address, HOA_READY_WAIT, ha.is_some()),
            clock: WallClock::now(),
            started: now,
            nl,
            monitor,
            mh,
            rh,
            filter: None,
            tunnel: None,
            tun_index: 0,
            ifaces: Vec::new(),
            reg,
            hoa_on: HoaPlace::Nowhere,
            main_routes: Vec::new(),
            history: History::new(),
            last_link_event: now,
            control: None,
            published: Arc::new(Mutex::new(None)),
            counters: Counters::default(),
            stray_log: mip6_common::ratelimit::RateLimiter::for_logs(),
            last_bu: None,
            last_failure: None,
            stopping: false,
            torn_down: false,
            buf: vec![0; 65_536],
            cfg,
        })
    }

    /// Takes the system over: nftables table, TUN with the home address and
    /// the default route into it, the interfaces, the control socket.
    pub fn setup(&mut self, factory: &TunnelFactory) -> anyhow::Result<()> {
        self.filter = ParamProblemFilter::install_if_available(&self.cfg.nft_table)
            .context("cannot install the nftables table")?;
        if self.filter.is_none() {
            tracing::warn!("{}", mip6_common::sys::nft::MISSING_NFT);
        }
        self.sweep_stale_tables();
        let settings = TunnelSettings {
            tun_name: self.cfg.tunnel.name.clone(),
            mtu: self.cfg.tunnel.mtu,
            local: None,
            peer: self.ha,
            home_address: self.cfg.home_address,
            data_plane: self.cfg.tunnel.data_plane,
        };
        let tunnel = factory(&settings)
            .with_context(|| format!("cannot start the tunnel on {}", settings.tun_name))?;
        self.tun_index = self.nl.link_index(tunnel.tun_name())?;
        self.tunnel = Some(tunnel);
        self.hoa_to_tun()
            .context("cannot put the home address on the tunnel")?;
        let seed: u64 = rand::random();
        for i in 0..self.cfg.interfaces.len() {
            let f = ManagedIface::open(&self.cfg, i, seed ^ i as u64)?;
            tracing::info!(
                iface = f.name,
                priority = f.priority,
                table = f.table,
                "managing interface"
            );
            self.ifaces.push(f);
        }
        self.control = Some(ControlServer::start(
            &self.cfg.control_socket,
            Arc::clone(&self.published),
        )?);
        if let Some(addr) = self.cfg.metrics_listen {
            let bound = crate::metrics::start(addr, Arc::clone(&self.published))
                .context("cannot start the metrics endpoint")?;
            tracing::info!(%bound, "metrics endpoint");
        }
        let now = Instant::now();
        self.last_link_event = now;
        for f in &mut self.ifaces {
            if let Err(e) = f.poll_carrier(now) {
                tracing::warn!(iface = f.name, error = %e, "cannot read carrier");
            }
        }
        tracing::info!(
            home_address = %self.cfg.home_address,
            home_agent = self.ha.map_or_else(|| "to be discovered (DHAAD)".to_string(), |a| a.to_string()),
            tunnel = self.cfg.tunnel.name,
            "mobile node started"
        );
        Ok(())
    }

    /// Rules and routes a killed run left in our tables (a clean exit
    /// leaves none). Our tables are ours by configuration.
    fn sweep_stale_tables(&self) {
        let ip = |args: &[&str]| {
            std::process::Command::new("ip")
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        for i in 0..self.cfg.interfaces.len() {
            let t = self.cfg.table_of(i).to_string();
            let mut rules = 0;
            while rules < 256 && ip(&["-6", "rule", "del", "table", &t]) {
                rules += 1;
            }
            let routes = std::process::Command::new("ip")
                .args(["-6", "route", "show", "table", &t])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
                .unwrap_or(0);
            if routes > 0 {
                ip(&["-6", "route", "flush", "table", &t]);
            }
            if rules + routes > 0 {
                tracing::warn!(
                    table = t,
                    rules,
                    routes,
                    "removed what a previous run left in its table"
                );
            }
        }
    }

    /// The loop; returns once stopped (after the deregistration, if any).
    pub fn run_loop(&mut self, signals: &AtomicU32) -> anyhow::Result<()> {
        let mut deadline: Option<Instant> = None;
        loop {
            let now = Instant::now();
            self.step(now);
            let sigs = signals.load(Ordering::SeqCst);
            if sigs > 0 && !self.stopping {
                self.stopping = true;
                tracing::info!("stopping");
                if self.start_deregistration(now) {
                    deadline = Some(now + DEREGISTRATION_WAIT);
                    self.step(now);
                } else {
                    return Ok(());
                }
            }
            if self.stopping {
                let done = self.reg.state() != RegistrationState::Deregistering;
                if done || sigs > 1 || deadline.is_some_and(|d| now >= d) {
                    if !done {
                        tracing::warn!("no answer to the deregistration; stopping anyway");
                    }
                    return Ok(());
                }
            }
            let mut wake = now + IDLE_WAKE;
            for t in self
                .ifaces
                .iter()
                .filter_map(ManagedIface::poll_timeout)
                .chain(self.reg.poll_timeout())
                .chain(self.dhaad.as_ref().and_then(Discovery::poll_timeout))
                .chain(self.movement.poll_timeout())
                .chain(deadline)
            {
                wake = wake.min(t);
            }
            self.wait(wake)?;
        }
    }

    /// Sleeps until `wake` or a socket has something, and handles it.
    fn wait(&mut self, wake: Instant) -> anyhow::Result<()> {
        let d = wake.saturating_duration_since(Instant::now());
        // Round up so we never wake a hair early and spin.
        let timeout_ms = i32::try_from(d.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        // DHCPv6 sockets last, with the interface each belongs to.
        let dhcp_fds: Vec<(usize, std::os::fd::RawFd)> = (self.ifaces.iter().enumerate())
            .filter_map(|(i, f)| Some((i, f.dhcp_fd()?)))
            .collect();
        let mut fds: Vec<libc::pollfd> = [
            self.monitor.as_raw_fd(),
            self.mh.as_raw_fd(),
            self.rh.as_raw_fd(),
        ]
        .into_iter()
        .chain(self.ifaces.iter().map(ManagedIface::nd_fd))
        .chain(self.dhaad_sock.as_ref().map(|(_, s)| s.as_raw_fd()))
        .chain(
            self.movement
                .awaiting_home_agent()
                .and_then(|link| self.ifaces.get(link))
                .and_then(ManagedIface::probe_fd),
        )
        .chain(dhcp_fds.iter().map(|(_, fd)| *fd))
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
        // SAFETY: fds is a valid array of pollfd for the call's duration.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(e).context("poll");
        }
        let now = Instant::now();
        if fds[0].revents != 0 {
            self.link_events(now)?;
        }
        if fds[1].revents != 0 {
            self.read_mh(now);
        }
        if fds[2].revents != 0 {
            self.read_rh(now);
        }
        let n_ifaces = self.ifaces.len();
        for (i, p) in fds[3..3 + n_ifaces].iter().enumerate() {
            if p.revents != 0
                && let Some(f) = self.ifaces.get_mut(i)
            {
                f.receive(now);
            }
        }
        if self.dhaad_sock.is_some() && fds.get(3 + n_ifaces).is_some_and(|p| p.revents != 0) {
            self.read_dhaad(now);
        }
        let first_dhcp = fds.len() - dhcp_fds.len();
        for (k, (i, _)) in dhcp_fds.iter().enumerate() {
            if fds[first_dhcp + k].revents != 0
                && let Some(f) = self.ifaces.get_mut(*i)
            {
                f.receive_dhcp(now);
            }
        }
        Ok(())
    }

    /// One turn: timers, movement decisions, registration, status.
    fn step(&mut self, now: Instant) {
        for f in &mut self.ifaces {
            f.handle_timeout(now);
        }
        // RFC 6275 11.7.1: no binding outlives its care-of address; RAs
        // extend the address, so the limit is taken afresh every turn.
        if let Location::Away { link, coa } = self.movement.location() {
            self.limit_to_coa_lifetime(now, link, coa);
        }
        self.reg.handle_timeout(now);
        if let Some(d) = &mut self.dhaad {
            d.handle_timeout(now);
        }
        if !self.stopping {
            self.home_agent_lladdr(now);
            self.movement.handle_timeout(now);
            self.evaluate(now);
        }
        self.drain_dhaad(now);
        self.drain_registration(now);
        self.publish(now);
    }

    fn link_events(&mut self, now: Instant) -> anyhow::Result<()> {
        loop {
            match self.monitor.recv() {
                Ok(MonitorEvent::Link(l)) => {
                    if let Some(f) = self.ifaces.iter_mut().find(|f| f.index == l.index) {
                        if l.removed {
                            tracing::warn!(iface = f.name, "interface removed");
                        }
                        let up = l.up && l.carrier && !l.removed;
                        if f.set_carrier(up, now) {
                            self.last_link_event = now;
                        }
                    }
                }
                Ok(MonitorEvent::Address(a)) => {
                    if let Some(link) = self.ifaces.iter().position(|f| f.index == a.index) {
                        let usable = !a.removed && !a.flags.tentative();
                        self.ifaces[link].address_reported(now, a.addr, usable);
                        self.movement.address_changed(now, link, a.addr, usable);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    // Notifications were lost: ask for the state instead.
                    for f in &mut self.ifaces {
                        if f.poll_carrier(now).unwrap_or(false) {
                            self.last_link_event = now;
                        }
                    }
                }
                Err(e) => return Err(e).context("link monitor"),
            }
        }
    }

    fn set_tunnel_local(&self, local: Option<Ipv6Addr>) {
        if let Some(t) = &self.tunnel {
            t.set_local(local);
        }
    }

    /// Tells the movement engine what the interfaces look like now and
    /// carries out what it decides. Why the BU and the deregistration wait
    /// for the kernel's address report: [`mip6_common::movement`].
    fn evaluate(&mut self, now: Instant) {
        let links: Vec<LinkView> = self
            .ifaces
            .iter()
            .map(|f| LinkView {
                priority: f.priority,
                at_home: f.at_home(&self.cfg),
                care_of_address: f.coa_candidate(&self.cfg),
            })
            .collect();
        self.movement.update(now, &links);
        self.drain_movement(now);
    }

    fn drain_movement(&mut self, now: Instant) {
        while let Some(action) = self.movement.poll_action() {
            match action {
                MoveAction::HomeAddressToTunnel => {
                    if matches!(self.hoa_on, HoaPlace::Phys(_))
                        && let Err(e) = self.hoa_to_tun()
                    {
                        tracing::error!(error = %e, "cannot move the home address back to the tunnel");
                    }
                }
                MoveAction::HomeAddressToLink { link } => {
                    let placed = self.hoa_to_phys(link);
                    if let Err(e) = &placed {
                        tracing::error!(error = %e, "cannot put the home address on the home link");
                    }
                    self.movement.home_address_placed(placed.is_ok());
                }
                MoveAction::SolicitHomeAgent { link } => {
                    // RFC 6275 11.5.4: the home agent still defends the
                    // home address, so its link-layer address is asked for
                    // from the unspecified address, before the kernel
                    // would solicit it from the home address.
                    let sent = match self.ha {
                        Some(ha) => self.ifaces[link].solicit_unspecified(ha),
                        None => Err(io::Error::other("no home agent")),
                    };
                    if let Err(e) = sent {
                        tracing::warn!(error = %e, "cannot solicit the home agent from ::");
                        self.movement.home_agent_answered(now);
                    }
                }
                MoveAction::RefreshHomeRoute { link } => self.refresh_home_route(link),
                MoveAction::TunnelLocal(local) => self.set_tunnel_local(local),
                MoveAction::Moved { to, previous_coa } => self.moved(to, previous_coa),
                MoveAction::StartDiscovery { coa } => {
                    if let Some(d) = &mut self.dhaad {
                        d.start(now, coa);
                    }
                }
                MoveAction::StopDiscovery => {
                    if let Some(d) = &mut self.dhaad {
                        d.stop();
                    }
                }
                MoveAction::Register { coa, ready } => {
                    if ready == Readiness::TimedOut {
                        tracing::warn!(
                            %coa,
                            wait_ms = HOA_READY_WAIT.as_millis() as u64,
                            "the kernel did not report the care-of address usable; sending the BU anyway"
                        );
                    }
                    self.register_coa(now, coa);
                }
                MoveAction::Deregister {
                    ready,
                    home_agent_answered,
                } => {
                    if let Location::Home { link } = self.movement.location()
                        && let Some(f) = self.ifaces.get_mut(link)
                    {
                        f.probe_done();
                    }
                    if !home_agent_answered {
                        tracing::warn!("the home agent did not answer our solicitation from ::");
                    }
                    match ready {
                        Readiness::Reported => {
                            tracing::debug!("home address usable: deregistering");
                        }
                        Readiness::TimedOut => tracing::warn!(
                            wait_ms = HOA_READY_WAIT.as_millis() as u64,
                            "the kernel did not report the home address usable; deregistering anyway"
                        ),
                        Readiness::NotAwaited => {}
                    }
                    self.reg.handle_returned_home(now);
                }
            }
        }
    }

    /// Takes the home agent's answer to our solicitation from `::` and
    /// enters its link-layer address in the neighbour table, so the BU
    /// from the home address needs no solicitation from it.
    fn home_agent_lladdr(&mut self, now: Instant) {
        let (Some(link), Some(ha)) = (self.movement.awaiting_home_agent(), self.ha) else {
            return;
        };
        let Some(f) = self.ifaces.get_mut(link) else {
            return;
        };
        let Some(mac) = f.probe_answer(ha) else {
            return;
        };
        match self.nl.set_neigh(f.index, ha, mac) {
            Ok(()) => {
                tracing::debug!(%ha, iface = f.name, "home agent's link-layer address learned from ::")
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot enter the home agent's link-layer address")
            }
        }
        self.movement.home_agent_answered(now);
    }

    /// Logs and history of a change of location.
    fn moved(&mut self, to: Location, previous_coa: Option<Ipv6Addr>) {
        let link_event = Some(self.clock.unix_ms(self.last_link_event));
        match to {
            Location::Away { link, coa } => {
                let f = &self.ifaces[link];
                tracing::info!(link = f.name, %coa, previous = ?previous_coa, "care-of address");
                // A prefix that a later RA brought, without a carrier
                // change (a new router, renumbering): that RA is the event.
                let mut ra_at = f.ra_at;
                let mut event = link_event;
                // A lease is made after the RA that asked for it: not an event.
                if let (Some(first_ra), Some(created)) = (f.ra_at, f.created_at(&coa))
                    && f.coa_source(&coa) == "slaac"
                    && created > first_ra
                    && created > self.last_link_event
                {
                    ra_at = Some(created);
                    event = Some(self.clock.unix_ms(created));
                }
                self.history.begin(Start {
                    kind: "away",
                    link: f.name.clone(),
                    coa: Some(coa),
                    coa_source: Some(f.coa_source(&coa)),
                    previous_coa,
                    link_event_unix_ms: event,
                    ra_unix_ms: ra_at.map(|t| self.clock.unix_ms(t)),
                    coa_usable_unix_ms: f.usable_at(&coa).map(|t| self.clock.unix_ms(t)),
                });
            }
            Location::Home { link } => {
                let f = &self.ifaces[link];
                tracing::info!(link = f.name, "at home");
                self.history.begin(Start {
                    kind: "home",
                    link: f.name.clone(),
                    coa: None,
                    coa_source: None,
                    previous_coa,
                    link_event_unix_ms: link_event,
                    ra_unix_ms: f.ra_at.map(|t| self.clock.unix_ms(t)),
                    coa_usable_unix_ms: None,
                });
                if self.ha.is_none() {
                    // Nothing can be registered with an unknown home agent.
                    tracing::info!("home agent unknown: no deregistration to send");
                    self.history.close("home agent unknown");
                }
            }
            Location::Detached => {
                tracing::info!("no link can carry the registration");
                self.history.close("link lost");
            }
        }
    }

    /// Caps the binding at what is left of `coa`'s valid lifetime on
    /// interface `link` (RFC 6275 11.7.1).
    fn limit_to_coa_lifetime(&mut self, now: Instant, link: usize, coa: Ipv6Addr) {
        let valid = self
            .ifaces
            .get(link)
            .and_then(|f| f.valid_until(&coa))
            .map(|t| t.saturating_duration_since(now));
        self.reg.set_coa_lifetime(now, coa, valid);
    }

    fn register_coa(&mut self, now: Instant, coa: Ipv6Addr) {
        if let Location::Away { link, .. } = self.movement.location() {
            self.limit_to_coa_lifetime(now, link, coa);
        }
        self.reg.handle_new_coa(now, coa);
        if self.reg.state() == RegistrationState::Registered
            && self.reg.binding().is_some_and(|b| b.coa == coa)
        {
            // Back on the link of a binding that still holds (a carrier
            // flap): nothing to send.
            tracing::info!(%coa, "binding still valid for this care-of address");
            self.history.close("binding unchanged");
        }
    }

    fn start_deregistration(&mut self, now: Instant) -> bool {
        let away = matches!(self.movement.location(), Location::Away { .. });
        let bound = matches!(
            self.reg.state(),
            RegistrationState::Registered | RegistrationState::Registering
        ) || self.reg.binding().is_some();
        if away && bound {
            tracing::info!("deregistering before exit");
            self.reg.deregister(now);
            true
        } else {
            false
        }
    }

    /// Carries out what the discovery asks for: Requests out of the
    /// interface of their care-of address; once found, the home agent is
    /// ours and the registration starts.
    fn drain_dhaad(&mut self, now: Instant) {
        while let Some(out) = self.dhaad.as_mut().and_then(Discovery::poll_output) {
            match out {
                DhaadOutput::SendRequest {
                    src,
                    dst,
                    identifier,
                    attempt,
                    timeout,
                    bytes,
                } => {
                    self.dhaad_log.last_request = Some(now);
                    let Location::Away { link, .. } = self.movement.location() else {
                        continue;
                    };
                    if let Err(e) = self.send_dhaad(link, &bytes, src, dst) {
                        tracing::warn!(error = %e, %src, %dst, "cannot send the DHAAD request");
                        continue;
                    }
                    tracing::info!(
                        %src,
                        %dst,
                        identifier,
                        attempt,
                        timeout_ms = timeout.as_millis() as u64,
                        "home agent address discovery request sent"
                    );
                }
                DhaadOutput::Discovered {
                    home_agent,
                    from,
                    identifier,
                    home_agents,
                    attempts,
                    latency,
                } => {
                    tracing::info!(
                        %home_agent,
                        %from,
                        identifier,
                        ?home_agents,
                        attempts,
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "home agent discovered (DHAAD)"
                    );
                    self.dhaad_log.reply_from = Some(from);
                    self.dhaad_log.reply_at = Some(now);
                    self.dhaad_log.home_agents = home_agents;
                    self.dhaad_sock = None;
                    self.ha = Some(home_agent);
                    self.ha_source = "dhaad";
                    self.reg = registration(&self.cfg, home_agent, now);
                    if let Some(t) = &self.tunnel {
                        t.set_peer(Some(home_agent));
                    }
                    self.movement.home_agent_found();
                    self.drain_movement(now);
                }
                DhaadOutput::ReplyIgnored {
                    from,
                    identifier,
                    reason,
                } => {
                    self.dhaad_log.ignored += 1;
                    if let Some(suppressed) = self.stray_log.allow(now) {
                        tracing::warn!(%from, identifier, reason, suppressed, "DHAAD reply ignored");
                    }
                }
                DhaadOutput::GaveUp { attempts, coa } => {
                    self.dhaad_sock = None;
                    tracing::error!(
                        attempts,
                        %coa,
                        anycast = %self.dhaad.as_ref().map_or(Ipv6Addr::UNSPECIFIED, Discovery::anycast),
                        "no home agent answered the discovery: cannot register; \
                         will ask again from the next care-of address (or give home_agent in the configuration)"
                    );
                    self.history.close("failed (no home agent found)");
                }
            }
        }
    }

    fn send_dhaad(
        &mut self,
        iface: usize,
        bytes: &[u8],
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> io::Result<()> {
        if self.dhaad_sock.as_ref().is_none_or(|(i, _)| *i != iface) {
            let s = NdSocket::with_types(&self.ifaces[iface].name, &[msg_type::HAAD_REPLY])?;
            s.set_nonblocking(true)?;
            self.dhaad_sock = Some((iface, s));
        }
        let Some((_, s)) = &self.dhaad_sock else {
            return Ok(());
        };
        s.send(bytes, Some(src), dst).map(drop)
    }

    fn read_dhaad(&mut self, now: Instant) {
        let mut buf = std::mem::take(&mut self.buf);
        while let Some((_, s)) = &self.dhaad_sock {
            let Some(r) = next_ready(
                s.recv(&mut buf),
                |e| tracing::debug!(error = %e, "DHAAD socket"),
            ) else {
                break;
            };
            let Some(d) = &mut self.dhaad else {
                break;
            };
            let msg = match DhaadRepr::from_bytes(&buf[..r.len]) {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!(src = %r.src, error = %e, "malformed DHAAD reply");
                    continue;
                }
            };
            let DhaadRepr::HaadReply(reply) = &msg else {
                continue;
            };
            if d.coa() != Some(r.dst) || msg.validate(&r.src, &r.dst).is_err() {
                tracing::debug!(src = %r.src, dst = %r.dst, "DHAAD reply not to our care-of address");
                continue;
            }
            d.handle_reply(now, r.src, reply);
        }
        self.buf = buf;
        self.drain_dhaad(now);
        self.drain_registration(now);
    }

    fn drain_registration(&mut self, now: Instant) {
        while let Some(a) = self.reg.poll_action() {
            let RegAction::SendBu {
                coa,
                ha,
                hoa,
                mh_bytes,
                ..
            } = a;
            let hao = (coa != hoa).then_some(hoa);
            if let Err(e) = self.mh.send(&mh_bytes, coa, ha, hao) {
                tracing::warn!(error = %e, "cannot send binding update");
            }
        }
        while let Some(ev) = self.reg.poll_event() {
            let at = self.clock.unix_ms(ev.at);
            match ev.kind {
                RegEvent::BuSent {
                    sequence,
                    coa,
                    lifetime,
                    deregistration,
                    retransmission,
                    timeout,
                } => {
                    tracing::info!(
                        sequence,
                        %coa,
                        lifetime_s = lifetime.as_secs(),
                        deregistration,
                        retransmission,
                        timeout_ms = timeout.as_millis() as u64,
                        "binding update sent"
                    );
                    self.counters.bu_sent += 1;
                    self.last_bu = Some((ev.at, coa));
                    self.history.bu_sent(coa, at);
                }
                RegEvent::BaReceived {
                    sequence,
                    status,
                    lifetime,
                } => {
                    self.counters.ba_received += 1;
                    tracing::info!(
                        sequence,
                        status = status.0,
                        status_name = status.name().unwrap_or("?"),
                        lifetime_s = lifetime.as_secs(),
                        "binding acknowledgement"
                    );
                }
                RegEvent::UnverifiedAuthFailure => {
                    tracing::error!(
                        spi = self.cfg.spi,
                        "the home agent could not verify our authenticator (unsigned status \
                         146; it could also be forged, so we keep trying): check that both \
                         sides have the same SPI and key (the home agent's `key` is text, its \
                         `key_hex` and ours are hexadecimal)"
                    );
                }
                RegEvent::BaIgnored { reason } => {
                    // Anyone can send us BAs: count them all, log a few.
                    self.counters.ba_ignored += 1;
                    if let Some(suppressed) = self.stray_log.allow(ev.at) {
                        tracing::warn!(reason, suppressed, "binding acknowledgement ignored");
                    }
                }
                RegEvent::Registered {
                    coa,
                    lifetime,
                    status,
                    latency,
                } => {
                    tracing::info!(
                        %coa,
                        lifetime_s = lifetime.as_secs(),
                        status = status.0,
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "registered"
                    );
                    self.history.completed("registered", at);
                    self.last_failure = None;
                }
                RegEvent::Deregistered { latency } => {
                    tracing::info!(latency_ms = latency.as_secs_f64() * 1000.0, "deregistered");
                    self.history.completed("deregistered", at);
                    if let Location::Home { link } = self.movement.location() {
                        let hoa = self.cfg.home_address;
                        let f = &mut self.ifaces[link];
                        match f.advertise(hoa) {
                            Ok(()) => {
                                tracing::info!(iface = f.name, %hoa, "unsolicited neighbour advertisement sent")
                            }
                            Err(e) => {
                                tracing::warn!(iface = f.name, error = %e, "cannot advertise the home address")
                            }
                        }
                    }
                }
                RegEvent::RegistrationFailed {
                    status,
                    reason,
                    retry_at,
                } => {
                    let why = crate::status::failure_text(status, reason);
                    match retry_at {
                        Some(t) => tracing::warn!(
                            reason = %why,
                            retry_in_s = t.saturating_duration_since(now).as_secs(),
                            "registration failed"
                        ),
                        None => tracing::warn!(reason = %why, "registration failed"),
                    }
                    self.last_failure = Some(why);
                    if status.is_some_and(|s| s.0 == 146) {
                        // RFC 4285 MIPV6-AUTH-FAIL: almost always a key or
                        // SPI that differs between the two configurations.
                        tracing::error!(
                            spi = self.cfg.spi,
                            "the home agent rejected our authenticator (status 146): check that \
                             both sides have the same SPI and key_hex"
                        );
                    }
                    // RFC 6275 11.4.1: a discovered home agent that will
                    // not register us is passed over for the next one.
                    if self.ha_source == "dhaad"
                        && matches!(reason, FailReason::Rejected | FailReason::NoResponse)
                        && let Some(d) = &mut self.dhaad
                    {
                        tracing::warn!("trying the next home agent of the discovery");
                        d.home_agent_failed(now);
                        self.ha = None;
                        // No retry towards the agent that failed: the next
                        // one found gets a registration of its own.
                        self.reg = registration(&self.cfg, Ipv6Addr::UNSPECIFIED, now);
                    }
                    self.history.close(&format!(
                        "failed ({reason:?}{})",
                        status.map_or(String::new(), |s| format!(", status {}", s.0))
                    ));
                }
                RegEvent::PrefixDiscoveryNeeded => {
                    tracing::info!("the home agent asks for mobile prefix discovery (status 1)")
                }
                RegEvent::SequenceResynchronised { from, to } => {
                    tracing::info!(from, to, "sequence number resynchronised (status 135)")
                }
                RegEvent::TimestampResynchronised { offset_ns } => {
                    tracing::info!(offset_ns, "timestamp resynchronised (status 145)")
                }
                RegEvent::RefreshDue { coa } => tracing::debug!(%coa, "binding refresh due"),
                RegEvent::BrrReceived => tracing::info!("binding refresh request received"),
                RegEvent::BindingExpired { coa } => tracing::warn!(%coa, "binding expired"),
                RegEvent::BindingLost => {
                    tracing::warn!("the home agent has no binding for us (Binding Error status 1)")
                }
            }
        }
    }

    /// Mobility Headers without a routing header: BAs at home, BRRs,
    /// Binding Errors. Kernel checksumming is off on this socket.
    fn read_mh(&mut self, now: Instant) {
        let mut buf = std::mem::take(&mut self.buf);
        while let Some(r) = next_ready(
            self.mh.recv(&mut buf),
            |e| tracing::debug!(error = %e, "MH socket"),
        ) {
            let mh = &buf[..r.len];
            if !verify_checksum(mh, &r.src, &r.dst) {
                self.counters.mh_dropped += 1;
                tracing::debug!(src = %r.src, "mobility header with a bad checksum");
                continue;
            }
            // A BA without a type 2 routing header is for a node at home,
            // to its home address (RFC 6275 9.5.4); one to the care-of
            // address came through a routing header with Segments Left 0
            // (which the kernel skips) or none at all, and is no BA of ours.
            let ba_ok = r.dst == self.cfg.home_address;
            self.handle_mh(now, r.src, mh, ba_ok);
        }
        self.buf = buf;
    }

    /// BAs behind a type 2 routing header (the kernel itself drops them).
    fn read_rh(&mut self, now: Instant) {
        let mut buf = std::mem::take(&mut self.buf);
        let hoa = self.cfg.home_address;
        while let Some(r) = next_ready(
            self.rh.recv(&mut buf),
            |e| tracing::debug!(error = %e, "routing header socket"),
        ) {
            let Some(found) = mh_behind_rh2(r.src, r.dst, &buf[..r.len]) else {
                continue;
            };
            if found.home_address != hoa {
                self.counters.mh_dropped += 1;
                tracing::debug!(home_address = %found.home_address, "type 2 routing header for another home address");
                continue;
            }
            // RFC 6275 6.1.1: the pseudo-header holds the final destination.
            if !verify_checksum(found.mh, &r.src, &hoa) {
                self.counters.mh_dropped += 1;
                tracing::debug!(src = %r.src, "BA with a bad checksum");
                continue;
            }
            let mh = found.mh.to_vec();
            self.handle_mh(now, r.src, &mh, true);
        }
        self.buf = buf;
    }

    fn handle_mh(&mut self, now: Instant, src: Ipv6Addr, mh: &[u8], ba_ok: bool) {
        match MhRepr::parse_bytes(mh) {
            Ok(MhRepr::BindingAck(ba)) if ba_ok => self.reg.handle_ba(now, src, mh, &ba),
            Ok(MhRepr::BindingAck(_)) => {
                self.counters.mh_dropped += 1;
                tracing::debug!(%src, "BA to the care-of address without a type 2 routing header");
            }
            Ok(MhRepr::BindingRefreshRequest(_)) => self.reg.handle_brr(now, src),
            Ok(MhRepr::BindingError(be)) => {
                if let Some(suppressed) = self.stray_log.allow(now) {
                    tracing::info!(%src, status = be.status.0, suppressed, "binding error");
                }
                self.reg.handle_binding_error(now, src, be.status);
            }
            Ok(other) => {
                tracing::debug!(%src, mh_type = other.mh_type(), "mobility header ignored")
            }
            Err(e) => {
                self.counters.mh_dropped += 1;
                tracing::debug!(%src, error = %e, "malformed mobility header");
            }
        }
    }

    fn remove_main_routes(&mut self) {
        for r in std::mem::take(&mut self.main_routes) {
            if let Err(e) = ignore_missing(self.nl.del_route(&r)) {
                tracing::warn!(route = %r, error = %e, "cannot remove route");
            }
        }
    }

    fn add_main_route(&mut self, r: RouteSpec) -> io::Result<()> {
        self.nl.add_route(&r)?;
        tracing::debug!(route = %r, "route added");
        self.main_routes.push(r);
        Ok(())
    }

    /// Away: the home address on the TUN, the default route into it.
    fn hoa_to_tun(&mut self) -> io::Result<()> {
        let hoa = self.cfg.home_address;
        self.remove_main_routes();
        if let HoaPlace::Phys(i) = self.hoa_on {
            self.ifaces[i].del_address(hoa, self.cfg.home_prefix_len)?;
            self.hoa_on = HoaPlace::Nowhere;
        }
        self.nl.add_address(
            self.tun_index,
            hoa,
            128,
            &AddrOptions {
                nodad: true,
                noprefixroute: true,
                home_address: true,
                replace: true,
                ..AddrOptions::default()
            },
        )?;
        self.hoa_on = HoaPlace::Tun;
        self.add_main_route(RouteSpec {
            oif: Some(self.tun_index),
            src: Some(hoa),
            metric: Some(DEFAULT_ROUTE_METRIC),
            // The eBPF path encapsulates on the route itself.
            encap: self.tunnel.as_ref().and_then(|t| t.route_encap()),
            ..RouteSpec::new(Ipv6Addr::UNSPECIFIED, 0)
        })?;
        tracing::info!(%hoa, tun = self.tunnel.as_ref().map_or("", |t| t.tun_name()), "home address on the tunnel");
        Ok(())
    }

    /// Home: the home address on the home interface (no DAD: it is ours,
    /// and the home agent defended it until now), the default route via
    /// the home router.
    fn hoa_to_phys(&mut self, iface: usize) -> io::Result<()> {
        let hoa = self.cfg.home_address;
        self.remove_main_routes();
        if self.hoa_on == HoaPlace::Tun {
            ignore_missing(self.nl.del_address(self.tun_index, hoa, 128))?;
            self.hoa_on = HoaPlace::Nowhere;
        }
        self.ifaces[iface].add_address(
            hoa,
            self.cfg.home_prefix_len,
            &AddrOptions {
                nodad: true,
                home_address: true,
                replace: true,
                ..AddrOptions::default()
            },
        )?;
        self.hoa_on = HoaPlace::Phys(iface);
        tracing::info!(%hoa, iface = self.ifaces[iface].name, "home address on the home link");
        self.refresh_home_route(iface);
        Ok(())
    }

    fn refresh_home_route(&mut self, iface: usize) {
        let f = &self.ifaces[iface];
        let want = f.router().map(|r| RouteSpec {
            src: Some(self.cfg.home_address),
            metric: Some(DEFAULT_ROUTE_METRIC),
            ..RouteSpec::default_via(r, f.index)
        });
        if self.main_routes.first() == want.as_ref() {
            return;
        }
        self.remove_main_routes();
        if let Some(r) = want
            && let Err(e) = self.add_main_route(r)
        {
            tracing::warn!(error = %e, "cannot add the home default route");
        }
    }

    fn publish(&mut self, now: Instant) {
        let c = &self.clock;
        let (current_link, coa, location) = match self.movement.location() {
            Location::Detached => (None, None, "detached"),
            Location::Away { link, coa } => {
                (Some(self.ifaces[link].name.clone()), Some(coa), "away")
            }
            Location::Home { link } => (Some(self.ifaces[link].name.clone()), None, "home"),
        };
        let binding = self.reg.binding();
        let bul = BulEntry {
            destination: self.ha,
            home_address: self.cfg.home_address,
            care_of_address: self.last_bu.map(|(_, a)| a),
            state: state_name(self.reg.state()).into(),
            sequence: self.reg.sequence(),
            requested_lifetime_s: self.cfg.binding_lifetime.as_secs(),
            granted_lifetime_s: binding.map(|b| b.lifetime.as_secs()),
            registered_coa: binding.map(|b| b.coa),
            expires_unix_ms: binding.map(|b| c.unix_ms(b.expires)),
            refresh_unix_ms: binding.map(|b| c.unix_ms(b.refresh_at)),
            last_bu_unix_ms: self.last_bu.map(|(t, _)| c.unix_ms(t)),
            bu_sent: self.counters.bu_sent,
            ba_received: self.counters.ba_received,
            ba_ignored: self.counters.ba_ignored,
            failure: self
                .last_failure
                .clone()
                .filter(|_| self.reg.state() == RegistrationState::Failed),
        };
        let interfaces = self
            .ifaces
            .iter()
            .map(|f| IfaceStatus {
                name: f.name.clone(),
                priority: f.priority,
                table: f.table,
                carrier: f.carrier(),
                at_home: f.at_home(&self.cfg),
                routers: f.routers(),
                addresses: f.addresses(),
            })
            .collect();
        let status = Status {
            now_unix_ms: c.unix_ms(now),
            started_unix_ms: c.unix_ms(self.started),
            pid: std::process::id(),
            home_address: self.cfg.home_address,
            home_prefix: format!("{}/{}", self.cfg.home_prefix(), self.cfg.home_prefix_len),
            home_agent: self.ha,
            home_agent_source: match (self.ha, &self.dhaad) {
                (Some(_), _) => self.ha_source.into(),
                (None, Some(d)) if d.phase() == crate::dhaad::Phase::Discovering => {
                    "discovering".into()
                }
                (None, Some(d)) if d.phase() == crate::dhaad::Phase::Failed => {
                    "dhaad failed".into()
                }
                (None, _) => "unknown".into(),
            },
            dhaad: self.dhaad.as_ref().map(|d| DhaadStatus {
                state: d.phase().name().into(),
                anycast: d.anycast(),
                care_of_address: d.coa(),
                requests_sent: d.attempts(),
                last_request_unix_ms: self.dhaad_log.last_request.map(|t| c.unix_ms(t)),
                reply_from: self.dhaad_log.reply_from,
                reply_unix_ms: self.dhaad_log.reply_at.map(|t| c.unix_ms(t)),
                home_agents: self.dhaad_log.home_agents.clone(),
                replies_ignored: self.dhaad_log.ignored,
            }),
            location: location.into(),
            current_link,
            care_of_address: coa,
            tunnel: self.cfg.tunnel.name.clone(),
            binding_update_list: vec![bul],
            interfaces,
            handovers: self.history.entries(),
        };
        *self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(status);
    }

    /// Puts everything back. Safe to call after a partial setup, and again
    /// (a drop after a panic does).
    pub fn teardown(&mut self) {
        if self.torn_down {
            return;
        }
        self.torn_down = true;
        let now = Instant::now();
        self.set_tunnel_local(None);
        self.remove_main_routes();
        let hoa = self.cfg.home_address;
        match self.hoa_on {
            HoaPlace::Tun => {
                let _ = ignore_missing(self.nl.del_address(self.tun_index, hoa, 128));
            }
            HoaPlace::Phys(i) => {
                if let Err(e) = self.ifaces[i].del_address(hoa, self.cfg.home_prefix_len) {
                    tracing::warn!(error = %e, "cannot remove the home address");
                }
            }
            HoaPlace::Nowhere => {}
        }
        self.hoa_on = HoaPlace::Nowhere;
        if let Some(t) = self.tunnel.take() {
            t.shutdown();
        }
        for f in &mut self.ifaces {
            f.shutdown(now);
        }
        self.ifaces.clear();
        if let Some(mut f) = self.filter.take()
            && let Err(e) = f.remove()
        {
            tracing::warn!(error = %e, "cannot remove the nftables table");
        }
        if let Some(mut c) = self.control.take() {
            c.stop();
        }
        tracing::info!("mobile node stopped; everything it changed is restored");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.teardown();
    }
}
