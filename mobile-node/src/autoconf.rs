//! `mip6-mn autoconf`: the SLAAC and DAD engine alone on one interface, with
//! every state change printed as it happens, and with `--dhcpv6` the DHCPv6
//! client beside it. What a teacher runs to show the mechanisms live, and
//! what the end-to-end tests drive.

use anyhow::{Context, bail};
use clap::Args;
use mip6_common::addr::{IidGenerator, IidMode, Mac};
use mip6_common::dhcp6::Dhcp6State;
use mip6_common::slaac::{AddrState, Event, EventKind, GeneratorIids, Slaac, SlaacConfig};
use mip6_common::sys::netlink::{LinkMonitor, MonitorEvent};
use mip6_common::sys::slaac_io::SlaacIo;
use mip6_mobile_node::dhcp6::{AutoconfMode, Dhcp6Link};
use serde_json::json;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Args)]
pub struct AutoconfArgs {
    /// Interface to configure (its kernel autoconfiguration is switched off
    /// while this runs, and restored on exit).
    pub iface: String,
    /// How interface identifiers are made.
    #[arg(long, default_value = "stable", value_parser = parse_mode)]
    pub mode: IidMode,
    /// Use addresses while DAD runs (RFC 4429).
    #[arg(long)]
    pub optimistic: bool,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Keep running (follow link changes and RAs) until interrupted.
    #[arg(long)]
    pub watch: bool,
    /// Take the addresses and routes away again on exit and hand the
    /// interface back to the kernel's own autoconfiguration. Without it the
    /// addresses stay with their lifetimes and the kernel's autoconfiguration
    /// stays off on the interface.
    #[arg(long)]
    pub remove: bool,
    /// DupAddrDetectTransmits (0 turns DAD off).
    #[arg(long, default_value_t = 1)]
    pub dad_transmits: u8,
    /// RetransTimer in milliseconds until a router announces one.
    #[arg(long, default_value_t = 1000)]
    pub retrans_ms: u64,
    /// Wait the RFC 4861 random delay (up to 1 s) before the first RS and
    /// probe; a mobile node skips it by default (RFC 6275 11.5.1).
    #[arg(long)]
    pub initial_delay: bool,
    /// Seed for every random choice (identifiers, nonces): a run can be
    /// replayed exactly, e.g. to stage a collision in a class or a test.
    #[arg(long, hide = true)]
    pub seed: Option<u64>,
    /// Secret key file for stable identifiers (RFC 7217), created if absent.
    #[arg(long, default_value = "/var/lib/mip6/stable-secret")]
    pub secret_file: PathBuf,
    /// Lease an address by DHCPv6 (RFC 8415) whatever the RA says; short
    /// for `--autoconf dhcpv6`.
    #[arg(long)]
    pub dhcpv6: bool,
    /// slaac, dhcpv6, or auto (DHCPv6 when the RA has M=1, DNS servers only
    /// by DHCPv6 when it has O=1).
    #[arg(long, default_value = "slaac")]
    pub autoconf: AutoconfMode,
    /// Do not ask for the two-message exchange (RFC 8415 Rapid Commit).
    #[arg(long)]
    pub no_rapid_commit: bool,
}

impl AutoconfArgs {
    fn mode(&self) -> AutoconfMode {
        if self.dhcpv6 {
            AutoconfMode::Dhcpv6
        } else {
            self.autoconf
        }
    }
}

fn parse_mode(s: &str) -> Result<IidMode, String> {
    s.parse().map_err(|e| format!("{e}"))
}

/// Prints a line; a reader that went away (`| head`) must not stop the
/// clean-up that follows, so write errors are ignored.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// How the run ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Configured,
    NoRouter,
    Failed(String),
    TimedOut,
    Interrupted,
}

struct Printer {
    json: bool,
    start: Instant,
    /// A DHCPv6 client runs beside the engine.
    dhcp: bool,
}

impl Printer {
    fn print(&self, ev: &Event, ifname: &str) {
        let t_ms = ev.at.saturating_duration_since(self.start).as_secs_f64() * 1000.0;
        if self.json {
            let unix_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0)
                - Instant::now()
                    .saturating_duration_since(ev.at)
                    .as_secs_f64()
                    * 1000.0;
            let mut v = event_json(&ev.kind);
            v["t_ms"] = json!((t_ms * 1000.0).round() / 1000.0);
            v["unix_ms"] = json!(unix_ms.round());
            v["iface"] = json!(ifname);
            out!("{v}");
        } else {
            out!("{t_ms:10.3} ms  {}", event_text(&ev.kind, self.dhcp));
        }
    }

    fn print_dhcp6(&self, ev: &mip6_common::dhcp6::Dhcp6Event, ifname: &str) {
        let t_ms = ev.at.saturating_duration_since(self.start).as_secs_f64() * 1000.0;
        if self.json {
            let mut v = mip6_mobile_node::dhcp6::event_json(&ev.kind);
            v["t_ms"] = json!((t_ms * 1000.0).round() / 1000.0);
            v["iface"] = json!(ifname);
            out!("{v}");
        } else {
            out!(
                "{t_ms:10.3} ms  {}",
                mip6_mobile_node::dhcp6::event_text(&ev.kind)
            );
        }
    }

    fn note(&self, what: &str) {
        if self.json {
            out!("{}", json!({ "event": "note", "message": what }));
        } else {
            out!("{:>10}     {what}", "");
        }
    }
}

fn state(s: Option<AddrState>) -> &'static str {
    s.map_or("new", AddrState::name)
}

fn event_json(kind: &EventKind) -> serde_json::Value {
    match kind {
        EventKind::LinkUp => json!({"event": "link_up"}),
        EventKind::LinkDown => json!({"event": "link_down"}),
        EventKind::RsSent { count } => json!({"event": "rs_sent", "count": count}),
        EventKind::RaReceived { router } => json!({"event": "ra_received", "router": router}),
        EventKind::RouterFlags {
            router,
            managed,
            other,
            home_agent,
        } => json!({"event": "router_flags", "router": router, "managed": managed,
                    "other": other, "home_agent": home_agent}),
        EventKind::RouterExpired { router } => json!({"event": "router_expired", "router": router}),
        EventKind::AddressState {
            addr,
            link_local,
            from,
            to,
        } => json!({"event": "address", "addr": addr, "link_local": link_local,
                    "from": state(*from), "to": to.name()}),
        EventKind::DadConflict {
            addr,
            attempt,
            retry,
        } => json!({"event": "dad_conflict", "addr": addr, "attempt": attempt, "retry": retry}),
        EventKind::LateConflict { addr } => json!({"event": "late_conflict", "addr": addr}),
        EventKind::GaveUp { prefix, reason } => {
            json!({"event": "gave_up", "prefix": prefix, "reason": reason})
        }
        EventKind::Ipv6Disabled => json!({"event": "ipv6_disabled"}),
    }
}

fn event_text(kind: &EventKind, dhcp: bool) -> String {
    match kind {
        EventKind::LinkUp => "link up".into(),
        EventKind::LinkDown => "link down".into(),
        EventKind::RsSent { count } => format!("router solicitation #{count} sent"),
        EventKind::RaReceived { router } => format!("router advertisement from {router}"),
        EventKind::RouterFlags {
            router,
            managed,
            other,
            home_agent,
        } => format!(
            "router {router}: managed={managed} other-config={other} home-agent={home_agent}{}",
            if (*managed || *other) && !dhcp {
                " (DHCPv6 runs with --dhcpv6 or --autoconf auto)"
            } else {
                ""
            }
        ),
        EventKind::RouterExpired { router } => format!("router {router} expired"),
        EventKind::AddressState {
            addr,
            link_local,
            from,
            to,
        } => format!(
            "{addr}{}  {} -> {}",
            if *link_local { " (link-local)" } else { "" },
            state(*from),
            to.name()
        ),
        EventKind::DadConflict {
            addr,
            attempt,
            retry,
        } => match retry {
            Some(r) => format!("DUPLICATE {addr} (attempt {attempt}); trying {r}"),
            None => format!("DUPLICATE {addr} (attempt {attempt}); no retry"),
        },
        EventKind::LateConflict { addr } => {
            format!("{addr} is claimed by another node after DAD (kept, RFC 4862 5.4.4)")
        }
        EventKind::GaveUp { prefix, reason } => format!("gave up on {prefix}: {reason}"),
        EventKind::Ipv6Disabled => {
            "IPv6 DISABLED on this interface: its hardware-derived link-local address is in use (RFC 4862 5.4.5)".into()
        }
    }
}

fn build_engine(args: &AutoconfArgs, mac: Option<[u8; 6]>, seed: u64) -> anyhow::Result<Slaac> {
    let mac = Mac::new(mac.unwrap_or_default());
    let secret = mip6_mobile_node::iface::secret_for(args.mode, &args.secret_file)?;
    let generator = IidGenerator::new(args.mode, mac, secret.as_ref(), args.iface.as_bytes())
        .context("cannot make interface identifiers")?;
    let config = SlaacConfig {
        dad_transmits: args.dad_transmits,
        retrans_timer: Duration::from_millis(args.retrans_ms),
        optimistic: args.optimistic,
        skip_initial_delay: !args.initial_delay,
        ..SlaacConfig::default()
    };
    Ok(Slaac::new(
        config,
        Box::new(GeneratorIids::new(generator, seed)),
        seed,
    ))
}

pub fn run(args: AutoconfArgs) -> anyhow::Result<bool> {
    if unsafe { libc::geteuid() } != 0 {
        bail!("autoconf must run as root: it configures addresses and opens raw sockets");
    }
    if args.timeout.is_nan() || args.timeout <= 0.0 {
        bail!("--timeout must be a positive number of seconds");
    }
    install_signal_handlers();
    let mut monitor = LinkMonitor::new().context("cannot watch link changes")?;
    monitor.set_nonblocking(true)?;
    let mut io = SlaacIo::open(&args.iface)
        .with_context(|| format!("cannot take over interface {}", args.iface))?;
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            ^ u64::from(std::process::id())
    });
    let mut engine = build_engine(&args, io.mac, seed)?;
    let mut dhcp = Dhcp6Link::open(
        args.mode(),
        &io.ifname,
        io.ifindex,
        io.mac,
        !args.no_rapid_commit,
        seed ^ 0xd6,
    )
    .context("cannot open the DHCPv6 client socket (UDP port 546)")?;
    let start = Instant::now();
    let printer = Printer {
        json: args.json,
        start,
        dhcp: dhcp.is_some(),
    };
    let deadline = start + Duration::from_secs_f64(args.timeout);
    let result = drive(
        &args,
        &mut io,
        &mut engine,
        &mut dhcp,
        &mut monitor,
        &printer,
        deadline,
    );
    let now = Instant::now();
    if args.remove {
        release(&mut dhcp, &mut io, &mut engine, &printer);
    }
    if args.remove {
        engine.clear(now);
    }
    let mut cleanup_err = None;
    while let Some(a) = engine.poll_action() {
        // Only removals are left here; an action sent after the link went
        // away may fail, which changes nothing.
        if let Err(e) = io.apply(&a) {
            cleanup_err.get_or_insert(e);
        }
    }
    while let Some(ev) = engine.poll_event() {
        printer.print(&ev, &io.ifname);
    }
    if args.remove {
        io.restore()
            .context("cannot restore the interface's sysctls")?;
    } else {
        // The addresses stay with their lifetimes, as a DHCP client leaves
        // its lease; the kernel must not configure a second set beside them.
        io.keep_settings();
        printer.note(&format!(
            "{}: addresses left in place with their lifetimes; kernel autoconfiguration stays off (run with --remove to hand the interface back)",
            io.ifname
        ));
    }
    if let Some(e) = cleanup_err {
        eprintln!("mip6-mn: warning: clean-up: {e}");
    }
    let outcome = result?;
    let summary = match &outcome {
        Outcome::Configured => "configured".to_string(),
        Outcome::NoRouter => "no router answered; link-local only".to_string(),
        Outcome::Failed(why) => format!("failed: {why}"),
        Outcome::TimedOut => format!("timed out after {} s", args.timeout),
        Outcome::Interrupted => "interrupted".to_string(),
    };
    if args.json {
        let addrs: Vec<_> = engine
            .addresses()
            .map(|a| json!({"addr": a.addr, "state": a.state.name(), "link_local": a.link_local}))
            .collect();
        out!(
            "{}",
            json!({"event": "done", "outcome": summary, "addresses": addrs,
                   "removed": args.remove,
                   "dhcp6_lease": dhcp.as_ref().and_then(Dhcp6Link::leased)})
        );
    } else {
        out!("{:>10}     {summary}", "");
        for a in engine.addresses() {
            out!(
                "{:>10}     {}/{} {}",
                "",
                a.addr,
                a.prefix_len,
                a.state.name()
            );
        }
    }
    Ok(matches!(
        outcome,
        Outcome::Configured | Outcome::NoRouter | Outcome::Interrupted
    ))
}

/// Runs both engines' actions and events until neither has any left: a
/// lease becomes a SLAAC action (DAD), a SLAAC event a DHCPv6 input.
fn settle(
    io: &mut SlaacIo,
    engine: &mut Slaac,
    dhcp: &mut Option<Dhcp6Link>,
    printer: &Printer,
    failure: &mut Option<String>,
    now: Instant,
) -> anyhow::Result<()> {
    loop {
        let mut busy = false;
        if let Some(d) = dhcp.as_mut() {
            // Printed before the SLAAC events they cause (DAD on a lease).
            while let Some(ev) = d.poll_event() {
                busy = true;
                printer.print_dhcp6(&ev, &io.ifname);
            }
            d.apply(now, engine);
        }
        while let Some(a) = engine.poll_action() {
            busy = true;
            io.apply(&a)
                .with_context(|| format!("{}: cannot carry out {a:?}", io.ifname))?;
        }
        while let Some(ev) = engine.poll_event() {
            busy = true;
            match &ev.kind {
                EventKind::GaveUp { prefix, reason } => {
                    *failure = Some(format!("{prefix}: {reason}"));
                }
                EventKind::Ipv6Disabled => {
                    *failure = Some("hardware-derived link-local address is a duplicate".into());
                }
                _ => {}
            }
            printer.print(&ev, &io.ifname);
            if let Some(d) = dhcp.as_mut() {
                d.on_slaac_event(now, &ev.kind, &[]);
            }
        }
        if !busy {
            return Ok(());
        }
    }
}

/// Hands the lease back and waits a moment for the server's Reply, so the
/// server has it before we go (the Release itself is sent at once).
fn release(dhcp: &mut Option<Dhcp6Link>, io: &mut SlaacIo, engine: &mut Slaac, printer: &Printer) {
    let now = Instant::now();
    let Some(d) = dhcp.as_mut() else { return };
    d.release(now);
    let mut failure = None;
    // Clean-up: an error here changes nothing about the outcome.
    let _ = settle(io, engine, dhcp, printer, &mut failure, now);
    let until = now + Duration::from_millis(1500);
    if let Some(link) = dhcp.as_mut() {
        while link.state() == Dhcp6State::Releasing && Instant::now() < until {
            let mut fds = [libc::pollfd {
                fd: link.fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: fds is a valid array of pollfd for the call's duration.
            unsafe { libc::poll(fds.as_mut_ptr(), 1, 50) };
            let now = Instant::now();
            let _ = link.receive(now);
            link.handle_timeout(now);
            link.apply(now, engine);
            while let Some(ev) = link.poll_event() {
                printer.print_dhcp6(&ev, &io.ifname);
            }
        }
    }
}

fn drive(
    args: &AutoconfArgs,
    io: &mut SlaacIo,
    engine: &mut Slaac,
    dhcp: &mut Option<Dhcp6Link>,
    monitor: &mut LinkMonitor,
    printer: &Printer,
    deadline: Instant,
) -> anyhow::Result<Outcome> {
    if io.carrier()? {
        engine.handle_link_up(Instant::now());
    } else {
        printer.note(&format!("{}: no carrier yet, waiting", io.ifname));
    }
    let mut failure: Option<String> = None;
    loop {
        let now = Instant::now();
        engine.handle_timeout(now);
        if let Some(d) = dhcp.as_mut() {
            d.handle_timeout(now);
        }
        settle(io, engine, dhcp, printer, &mut failure, now)?;
        if STOP.load(Ordering::SeqCst) {
            return Ok(Outcome::Interrupted);
        }
        if !args.watch {
            if engine.is_disabled() {
                return Ok(Outcome::Failed(failure.unwrap_or_default()));
            }
            let dhcp_done = dhcp.as_ref().is_none_or(|d| {
                d.settled(|a| {
                    engine
                        .addresses()
                        .any(|x| x.addr == a && x.state == AddrState::Preferred)
                })
            });
            if engine.is_link_up() && !engine.dad_pending() && dhcp_done {
                // A lease is a configured address even where no router
                // speaks (yet): DHCPv6 needs none.
                if engine.heard_router() || dhcp.as_ref().is_some_and(|d| d.leased().is_some()) {
                    return Ok(match failure {
                        Some(f) => Outcome::Failed(f),
                        None => Outcome::Configured,
                    });
                }
                if !engine.soliciting() && engine.link_local().is_some() {
                    // The last RS got RTR_SOLICITATION_INTERVAL to be answered.
                    return Ok(Outcome::NoRouter);
                }
            }
            if now >= deadline {
                return Ok(Outcome::TimedOut);
            }
        }
        let wake = match (
            engine.poll_timeout(),
            dhcp.as_ref().and_then(Dhcp6Link::poll_timeout),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let wake = if args.watch {
            wake
        } else {
            Some(wake.map_or(deadline, |w| w.min(deadline)))
        };
        let timeout_ms = wake.map_or(1000, |w| {
            let d = w.saturating_duration_since(Instant::now());
            // Round up so we never wake a hair early and spin.
            i32::try_from(d.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
        });
        let mut fds = [
            libc::pollfd {
                fd: io.nd_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: monitor.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                // poll ignores negative descriptors.
                fd: dhcp.as_ref().map_or(-1, Dhcp6Link::fd),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: fds is a valid array of pollfd for the call's duration.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("poll");
        }
        let now = Instant::now();
        if fds[1].revents != 0 {
            link_events(io, engine, monitor, now)?;
        }
        if fds[0].revents != 0 {
            for d in io.receive(engine, now)? {
                tracing::debug!(iface = %io.ifname, ?d, "dropped ND packet");
            }
        }
        if fds[2].revents != 0
            && let Some(d) = dhcp.as_mut()
        {
            for why in d.receive(now)? {
                tracing::debug!(iface = %io.ifname, ?why, "dropped DHCPv6 datagram");
            }
        }
    }
}

fn link_events(
    io: &mut SlaacIo,
    engine: &mut Slaac,
    monitor: &mut LinkMonitor,
    now: Instant,
) -> anyhow::Result<()> {
    loop {
        match monitor.recv() {
            Ok(MonitorEvent::Link(l)) if l.index == io.ifindex => {
                if l.removed {
                    bail!("interface {} was removed", io.ifname);
                }
                let up = l.up && l.carrier;
                if up && !engine.is_link_up() {
                    engine.handle_link_up(now);
                } else if !up && engine.is_link_up() {
                    engine.handle_link_down(now);
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                // Notifications were lost: ask for the state instead.
                let up = io.carrier()?;
                if up != engine.is_link_up() {
                    if up {
                        engine.handle_link_up(now);
                    } else {
                        engine.handle_link_down(now);
                    }
                }
            }
            Err(e) => return Err(e).context("link monitor"),
        }
    }
}
