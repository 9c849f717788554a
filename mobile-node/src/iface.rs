//! One managed physical interface: the SLAAC/DAD engine with its I/O shell
//! (`SlaacIo`), with the engine's routes redirected into the interface's
//! own routing table and a policy rule per usable global address, so that
//! whatever leaves from a care-of address goes out of this interface and
//! never into the TUN, while the main table sends everything else (from
//! the home address) into the tunnel.
//!
//! Routes the engine asks for: default routes and on-link prefix routes go
//! to table `T` (`routing_table + position in the config`); addresses go on
//! the interface as `SlaacIo` installs them (nodad, noprefixroute). For each
//! usable global address `A`: `ip -6 rule add from A lookup T`. A move
//! therefore first removes the old address and its rule (the engine drops
//! every address when the carrier goes), then adds the new ones, and only
//! then does the daemon send the BU.
//!
//! With `autoconf: dhcpv6 | auto` a DHCPv6 client ([`Dhcp6Link`]) runs
//! beside the engine; a leased address goes through the engine's DAD and
//! from there the same way as a SLAAC one.

use crate::config::{Config, InterfaceConfig};
use crate::dhcp6::Dhcp6Link;
use anyhow::Context;
use mip6_common::addr::{IidGenerator, IidMode, Mac, SecretKey};
use mip6_common::slaac::{Action, AddrState, EventKind, GeneratorIids, Slaac, SlaacConfig};
use mip6_common::sys::icmp6::NdSocket;
use mip6_common::sys::netlink::{self, AddrOptions, Netlink, RouteSpec, RuleSpec, ignore_missing};
use mip6_common::sys::slaac_io::SlaacIo;
use mip6_common::wire::nd::{
    ALL_NODES, NdOption, NdOptions, NdRepr, NeighborAdvert, NeighborSolicit,
    solicited_node_multicast,
};
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// A managed interface. See the module docs.
#[derive(Debug)]
pub struct ManagedIface {
    pub name: String,
    pub index: u32,
    pub priority: i32,
    pub table: u32,
    pub home_link: bool,
    rule_priority: u32,
    io: SlaacIo,
    engine: Slaac,
    nl: Netlink,
    /// The kernel's link-local addresses found at take-over, put back on
    /// exit (the engine makes its own while we run).
    saved_link_locals: Vec<(Ipv6Addr, u8)>,
    routers: BTreeSet<Ipv6Addr>,
    prefixes: BTreeSet<(Ipv6Addr, u8)>,
    rules: BTreeSet<Ipv6Addr>,
    carrier: bool,
    /// When the carrier last came up (or the daemon started with it up).
    pub link_up_at: Option<Instant>,
    /// The first RA after that.
    pub ra_at: Option<Instant>,
    /// When each address first became usable.
    usable_at: HashMap<Ipv6Addr, Instant>,
    na: Option<NdSocket>,
    /// Neighbor Advertisements answering [`ManagedIface::solicit_unspecified`].
    probe: Option<NdSocket>,
    /// The nftables table whose optimistic set keeps the kernel's Neighbor
    /// Discovery off our optimistic addresses (RFC 4429 3.3), when
    /// optimistic DAD is on; the addresses in it now.
    optimistic_table: Option<String>,
    optimistic: BTreeSet<Ipv6Addr>,
    dhcp: Option<Dhcp6Link>,
    /// Addresses of this interface the kernel reported usable (RTM_NEWADDR,
    /// not tentative) and has not removed since.
    reported: BTreeSet<Ipv6Addr>,
    /// An RS from a link-local address the kernel has not reported yet,
    /// and when it leaves anyway (see [`ManagedIface::address_reported`]).
    held_rs: Option<(Action, Instant)>,
}

/// How long an RS waits for the kernel to report its source address.
const RS_SOURCE_WAIT: Duration = Duration::from_millis(200);

/// The secret key stable identifiers (RFC 7217) need, from `file` (made
/// there on first use); `None` for the other modes. The daemon and
/// `mip6-mn autoconf` load it the same way.
pub fn secret_for(mode: IidMode, file: &std::path::Path) -> anyhow::Result<Option<SecretKey>> {
    if mode != IidMode::Stable {
        return Ok(None);
    }
    let key = SecretKey::load_or_create(file)
        .with_context(|| format!("stable identifiers need a secret key at {}", file.display()))?;
    Ok(Some(key))
}

/// `a` with the host bits after `len` cleared.
fn network(a: Ipv6Addr, len: u8) -> Ipv6Addr {
    let m = u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0);
    Ipv6Addr::from(u128::from(a) & m)
}

/// Removes what the kernel's own autoconfiguration made on `ifindex`
/// before the daemon took it over (its sysctls are off by now, so it makes
/// no more): the global addresses that are not permanent (SLAAC and
/// temporary addresses, or a killed run's care-of addresses), the
/// main-table prefix routes that came with them, and the routes learned
/// from RAs. Left in place, they outlive the link: once the mobile node
/// moves, the old /64 stays "on link" on this interface and is no longer
/// reachable through the tunnel. Permanent addresses (configured by hand)
/// and their prefixes stay. Returns the addresses removed.
fn remove_kernel_autoconf(
    nl: &mut Netlink,
    ifindex: u32,
    ifname: &str,
) -> io::Result<Vec<Ipv6Addr>> {
    let addrs = nl.list_addresses(ifindex)?;
    let kept: BTreeSet<(Ipv6Addr, u8)> = addrs
        .iter()
        .filter(|a| a.flags.permanent())
        .map(|a| (network(a.addr, a.prefix_len), a.prefix_len))
        .collect();
    let mut removed = Vec::new();
    let mut prefixes = BTreeSet::new();
    for a in addrs
        .iter()
        .filter(|a| !a.flags.permanent() && !a.addr.is_unicast_link_local() && a.scope == 0)
    {
        ignore_missing(nl.del_address(ifindex, a.addr, a.prefix_len))?;
        removed.push(a.addr);
        prefixes.insert((network(a.addr, a.prefix_len), a.prefix_len));
    }
    for (p, len) in prefixes.difference(&kept) {
        ignore_missing(nl.del_route(&RouteSpec::on_link(*p, *len, ifindex)))?;
    }
    // Default and more-specific routes from RAs name their router; iproute2
    // finds them by protocol.
    let _ = std::process::Command::new("ip")
        .args(["-6", "route", "flush", "dev", ifname, "proto", "ra"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    Ok(removed)
}

impl ManagedIface {
    /// Takes `cfg.interfaces[pos]` over from the kernel.
    pub fn open(cfg: &Config, pos: usize, seed: u64) -> anyhow::Result<Self> {
        let ic: &InterfaceConfig = cfg
            .interfaces
            .get(pos)
            .context("no such interface in the configuration")?;
        let mut nl = Netlink::new()?;
        let index = nl
            .link_index(&ic.name)
            .with_context(|| format!("interface {}", ic.name))?;
        let saved_link_locals = nl
            .list_addresses(index)?
            .into_iter()
            .filter(|a| a.addr.is_unicast_link_local())
            .map(|a| (a.addr, a.prefix_len))
            .collect();
        let journal =
            mip6_common::sys::instance::sysctl_journal_path(&cfg.control_socket, &ic.name);
        let io = SlaacIo::open_with_journal(&ic.name, Some(journal))
            .with_context(|| format!("cannot take over interface {}", ic.name))?;
        let removed = remove_kernel_autoconf(&mut nl, index, &ic.name)
            .with_context(|| format!("cannot remove the kernel's addresses on {}", ic.name))?;
        if !removed.is_empty() {
            tracing::info!(
                iface = ic.name,
                ?removed,
                "removed the kernel's autoconfigured addresses and their routes"
            );
        }
        let mode: IidMode = ic.iid_mode.into();
        let secret = secret_for(mode, &cfg.stable_secret_file)?;
        let mac = Mac::new(io.mac.unwrap_or_default());
        let generator = IidGenerator::new(mode, mac, secret.as_ref(), ic.name.as_bytes())
            .with_context(|| format!("{}: cannot make interface identifiers", ic.name))?;
        let config = SlaacConfig {
            dad_transmits: cfg.dad_transmits,
            optimistic: cfg.optimistic_dad,
            // RFC 6275 11.5.1: a mobile node that just moved solicits at once.
            skip_initial_delay: true,
            ..SlaacConfig::default()
        };
        let engine = Slaac::new(config, Box::new(GeneratorIids::new(generator, seed)), seed);
        // Rapid Commit always: a handover pays for every round trip.
        let dhcp = Dhcp6Link::open(ic.autoconf, &ic.name, index, io.mac, true, seed ^ 0xd6)
            .with_context(|| format!("{}: cannot open the DHCPv6 client socket", ic.name))?;
        Ok(Self {
            name: ic.name.clone(),
            index,
            priority: ic.priority,
            table: cfg.table_of(pos),
            home_link: ic.home_link,
            rule_priority: cfg.rule_priority,
            io,
            engine,
            nl,
            saved_link_locals,
            routers: BTreeSet::new(),
            prefixes: BTreeSet::new(),
            rules: BTreeSet::new(),
            carrier: false,
            link_up_at: None,
            ra_at: None,
            usable_at: HashMap::new(),
            reported: BTreeSet::new(),
            held_rs: None,
            na: None,
            probe: None,
            optimistic_table: cfg.optimistic_dad.then(|| cfg.nft_table.clone()),
            optimistic: BTreeSet::new(),
            dhcp,
        })
    }

    pub fn nd_fd(&self) -> RawFd {
        self.io.nd_fd().as_raw_fd()
    }

    pub fn carrier(&self) -> bool {
        self.carrier
    }

    /// Asks the kernel for the carrier (at start, and after lost netlink
    /// notifications).
    pub fn poll_carrier(&mut self, now: Instant) -> io::Result<bool> {
        let up = self.io.carrier()?;
        Ok(self.set_carrier(up, now))
    }

    /// A carrier change; true when it changed anything.
    pub fn set_carrier(&mut self, up: bool, now: Instant) -> bool {
        if up == self.carrier {
            return false;
        }
        self.carrier = up;
        if up {
            tracing::info!(iface = self.name, "carrier up");
            self.link_up_at = Some(now);
            self.ra_at = None;
            self.engine.handle_link_up(now);
        } else {
            tracing::info!(iface = self.name, "carrier down");
            self.engine.handle_link_down(now);
        }
        true
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let d = self.dhcp.as_ref().and_then(Dhcp6Link::poll_timeout);
        [
            self.engine.poll_timeout(),
            d,
            self.held_rs.as_ref().map(|h| h.1),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The kernel reported `addr` on this interface usable (`true`) or
    /// gone or tentative (`false`).
    ///
    /// An RS from a link-local address just configured waits for this
    /// report: the kernel takes a `nodad` address as a source at once, but
    /// takes packets *to* it only once its address work has run, and a
    /// router that answers the RS by unicast (radvd's default) is back
    /// within a fraction of a millisecond. Its RA was dropped
    /// (Ip6InAddrErrors) and the next RS left seconds later: behind a
    /// stock radvd, two handovers in three lost 2 to 4 s.
    pub fn address_reported(&mut self, now: Instant, addr: Ipv6Addr, usable: bool) {
        if usable {
            self.reported.insert(addr);
        } else {
            self.reported.remove(&addr);
        }
        if usable
            && let Some((Action::SendRs { src: Some(src), .. }, _)) = &self.held_rs
            && *src == addr
        {
            self.send_held_rs(now);
        }
    }

    fn send_held_rs(&mut self, now: Instant) {
        if let Some((rs, _)) = self.held_rs.take() {
            if let Err(e) = self.io.apply(&rs) {
                tracing::warn!(iface = self.name, error = %e, "cannot send the RS");
            }
            self.drain(now);
        }
    }

    /// Runs the engine's timers and carries out what it asks.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.held_rs.as_ref().is_some_and(|h| h.1 <= now) {
            tracing::debug!(
                iface = self.name,
                "the kernel did not report the RS source; sending anyway"
            );
            self.send_held_rs(now);
        }
        self.engine.handle_timeout(now);
        if let Some(d) = &mut self.dhcp {
            d.handle_timeout(now);
        }
        self.drain(now);
    }

    /// The DHCPv6 client's socket, when it runs here.
    pub fn dhcp_fd(&self) -> Option<RawFd> {
        self.dhcp.as_ref().map(Dhcp6Link::fd)
    }

    /// Reads waiting DHCPv6 datagrams into the client.
    pub fn receive_dhcp(&mut self, now: Instant) {
        if let Some(d) = &mut self.dhcp {
            match d.receive(now) {
                Ok(dropped) => {
                    for why in dropped {
                        tracing::debug!(iface = self.name, ?why, "dropped DHCPv6 datagram");
                    }
                }
                Err(e) => tracing::warn!(iface = self.name, error = %e, "DHCPv6 receive failed"),
            }
        }
        self.drain(now);
    }

    /// How `addr` was obtained: "dhcpv6" for the lease, else "slaac".
    pub fn coa_source(&self, addr: &Ipv6Addr) -> &'static str {
        if self.dhcp.as_ref().is_some_and(|d| d.is_leased(*addr)) {
            "dhcpv6"
        } else {
            "slaac"
        }
    }

    /// The DHCPv6 client's actions (leases to DAD) and events (logged).
    fn drain_dhcp(&mut self, now: Instant) {
        let Some(d) = &mut self.dhcp else { return };
        while let Some(ev) = d.poll_event() {
            let v = crate::dhcp6::event_json(&ev.kind);
            tracing::info!(iface = self.name, event = %v, "dhcpv6");
        }
        d.apply(now, &mut self.engine);
    }

    /// Reads waiting ND packets into the engine.
    pub fn receive(&mut self, now: Instant) {
        match self.io.receive(&mut self.engine, now) {
            Ok(dropped) => {
                for d in dropped {
                    tracing::debug!(iface = self.name, ?d, "dropped ND packet");
                }
            }
            Err(e) => tracing::warn!(iface = self.name, error = %e, "ND receive failed"),
        }
        self.drain(now);
    }

    fn drain(&mut self, now: Instant) {
        let mut router_gone = false;
        loop {
            self.drain_dhcp(now);
            let mut busy = false;
            while let Some(a) = self.engine.poll_action() {
                busy = true;
                if let Action::SendRs { src: Some(src), .. } = &a
                    && !self.reported.contains(src)
                {
                    self.held_rs = Some((a, now + RS_SOURCE_WAIT));
                    continue;
                }
                if let Err(e) = self.apply(&a) {
                    tracing::warn!(iface = self.name, action = ?a, error = %e, "cannot carry out");
                }
            }
            while let Some(ev) = self.engine.poll_event() {
                busy = true;
                router_gone |= self.on_event(&ev);
                if let Some(d) = &mut self.dhcp {
                    let prefixes: Vec<(Ipv6Addr, u8)> = self.prefixes.iter().copied().collect();
                    d.on_slaac_event(now, &ev.kind, &prefixes);
                }
            }
            if !busy && self.dhcp.as_ref().is_none_or(|d| !d.has_output()) {
                break;
            }
        }
        self.reconcile_rules();
        if router_gone && self.routers.is_empty() && self.carrier {
            // The current default router is gone (RFC 6275 11.5.1 movement
            // detection): start over on this link, soliciting at once.
            tracing::info!(
                iface = self.name,
                "no default router left: soliciting again"
            );
            self.engine.handle_link_down(now);
            self.engine.handle_link_up(now);
            self.link_up_at = Some(now);
            self.ra_at = None;
            self.drain(now);
        }
    }

    /// Logs one engine event and keeps the bookkeeping it implies; true
    /// when a default router expired.
    fn on_event(&mut self, ev: &mip6_common::slaac::Event) -> bool {
        let mut router_gone = false;
        {
            match &ev.kind {
                EventKind::RaReceived { router } => {
                    if self.ra_at.is_none() {
                        self.ra_at = Some(ev.at);
                        tracing::info!(iface = self.name, %router, "first router advertisement on this link");
                    } else {
                        tracing::trace!(iface = self.name, %router, "router advertisement");
                    }
                }
                EventKind::AddressState {
                    addr,
                    link_local,
                    from,
                    to,
                } => {
                    tracing::info!(
                        iface = self.name,
                        %addr,
                        link_local,
                        from = from.map_or("new", AddrState::name),
                        to = to.name(),
                        "address state"
                    );
                    if to.usable() {
                        self.usable_at.entry(*addr).or_insert(ev.at);
                    } else {
                        self.usable_at.remove(addr);
                    }
                }
                EventKind::RouterExpired { router } => {
                    tracing::info!(iface = self.name, %router, "default router expired");
                    router_gone = true;
                }
                EventKind::DadConflict {
                    addr,
                    attempt,
                    retry,
                } => tracing::warn!(iface = self.name, %addr, attempt, ?retry, "duplicate address"),
                EventKind::GaveUp { prefix, reason } => {
                    tracing::warn!(iface = self.name, %prefix, reason, "gave up on prefix")
                }
                EventKind::Ipv6Disabled => {
                    tracing::error!(
                        iface = self.name,
                        "IPv6 disabled: link-local address is a duplicate"
                    )
                }
                other => tracing::debug!(iface = self.name, event = ?other, "slaac"),
            }
        }
        router_gone
    }

    fn apply(&mut self, a: &Action) -> io::Result<()> {
        let (ifindex, table) = (self.index, self.table);
        match a {
            Action::ConfigureDefaultRoute { router, lifetime } => {
                self.routers.insert(*router);
                self.nl.add_route(&RouteSpec {
                    table,
                    expires: Some(*lifetime),
                    replace: true,
                    ..RouteSpec::default_via(*router, ifindex)
                })
            }
            Action::RemoveDefaultRoute { router } => {
                self.routers.remove(router);
                ignore_missing(self.nl.del_route(&RouteSpec {
                    table,
                    ..RouteSpec::default_via(*router, ifindex)
                }))
            }
            Action::ConfigurePrefixRoute {
                prefix,
                prefix_len,
                lifetime,
            } => {
                self.prefixes.insert((*prefix, *prefix_len));
                self.nl.add_route(&RouteSpec {
                    table,
                    expires: *lifetime,
                    replace: true,
                    ..RouteSpec::on_link(*prefix, *prefix_len, ifindex)
                })
            }
            Action::RemovePrefixRoute { prefix, prefix_len } => {
                self.prefixes.remove(&(*prefix, *prefix_len));
                ignore_missing(self.nl.del_route(&RouteSpec {
                    table,
                    ..RouteSpec::on_link(*prefix, *prefix_len, ifindex)
                }))
            }
            Action::ConfigureAddress {
                addr, optimistic, ..
            } => {
                // Guarded before the kernel has the address, released
                // once it is installed as a plain one.
                if *optimistic {
                    self.guard_optimistic(*addr, true);
                }
                let r = self.io.apply(a);
                if !*optimistic {
                    self.guard_optimistic(*addr, false);
                }
                r
            }
            Action::RemoveAddress { addr, .. } => {
                let r = self.io.apply(a);
                self.guard_optimistic(*addr, false);
                r
            }
            other => self.io.apply(other),
        }
    }

    /// RFC 4429 3.3: while `addr` is optimistic the kernel must neither
    /// solicit from it nor answer for it with the Override flag; the
    /// nftables set of our table holds it back (see
    /// `mip6_common::sys::mn_signal::param_problem_ruleset`).
    fn guard_optimistic(&mut self, addr: Ipv6Addr, on: bool) {
        let Some(table) = &self.optimistic_table else {
            return;
        };
        if on == self.optimistic.contains(&addr) {
            return;
        }
        match mip6_common::sys::mn_signal::set_optimistic(table, addr, on) {
            Ok(()) => {
                if on {
                    self.optimistic.insert(addr);
                } else {
                    self.optimistic.remove(&addr);
                }
                tracing::debug!(iface = self.name, %addr, on, "optimistic guard");
            }
            Err(e) => {
                tracing::warn!(iface = self.name, %addr, error = %e, "optimistic guard");
            }
        }
    }

    fn rule(&self, addr: Ipv6Addr) -> RuleSpec {
        RuleSpec {
            src: Some((addr, 128)),
            table: self.table,
            priority: Some(self.rule_priority),
        }
    }

    /// One rule per usable global address; removals first.
    fn reconcile_rules(&mut self) {
        let want: BTreeSet<Ipv6Addr> = self
            .engine
            .addresses()
            .filter(|a| !a.link_local && a.state.usable())
            .map(|a| a.addr)
            .collect();
        let gone: Vec<Ipv6Addr> = self.rules.difference(&want).copied().collect();
        for a in gone {
            if let Err(e) = ignore_missing(self.nl.del_rule(&self.rule(a))) {
                tracing::warn!(iface = self.name, addr = %a, error = %e, "cannot remove rule");
            }
            self.rules.remove(&a);
            tracing::debug!(iface = self.name, addr = %a, table = self.table, "rule removed");
        }
        let new: Vec<Ipv6Addr> = want.difference(&self.rules).copied().collect();
        for a in new {
            match self.nl.add_rule(&self.rule(a)) {
                Ok(()) => {}
                Err(e) if netlink::errno(&e) == Some(libc::EEXIST) => {}
                Err(e) => {
                    tracing::warn!(iface = self.name, addr = %a, error = %e, "cannot add rule");
                    continue;
                }
            }
            tracing::debug!(iface = self.name, addr = %a, table = self.table, "rule added");
            self.rules.insert(a);
        }
    }

    /// The care-of address this interface offers: its newest usable global
    /// address off the home prefix, while it has a default router. The
    /// newest, because a new router with a new prefix on the same link
    /// (a move without carrier loss) makes a new address.
    pub fn coa_candidate(&self, cfg: &Config) -> Option<Ipv6Addr> {
        if !self.carrier || self.routers.is_empty() {
            return None;
        }
        self.engine
            .addresses()
            .filter(|a| !a.link_local && a.state.usable() && !cfg.on_home_prefix(a.addr))
            .filter(|a| self.rules.contains(&a.addr))
            .max_by_key(|a| (a.state != AddrState::Deprecated, a.created))
            .map(|a| a.addr)
    }

    /// Whether this interface is on the home link: configured so, or the
    /// home prefix is announced on it.
    pub fn at_home(&self, cfg: &Config) -> bool {
        if !self.carrier {
            return false;
        }
        self.home_link
            || self
                .prefixes
                .iter()
                .any(|(p, l)| *l == cfg.home_prefix_len && *p == cfg.home_prefix())
            || self
                .engine
                .addresses()
                .any(|a| !a.link_local && cfg.on_home_prefix(a.addr))
    }

    /// A default router to use at home.
    pub fn router(&self) -> Option<Ipv6Addr> {
        self.routers.iter().next().copied()
    }

    pub fn routers(&self) -> Vec<Ipv6Addr> {
        self.routers.iter().copied().collect()
    }

    /// When the engine made `addr` (the RA that brought its prefix).
    pub fn created_at(&self, addr: &Ipv6Addr) -> Option<Instant> {
        self.engine
            .addresses()
            .find(|a| a.addr == *addr)
            .map(|a| a.created)
    }

    /// When the valid lifetime of `addr` ends (`None`: infinite or not
    /// ours).
    pub fn valid_until(&self, addr: &Ipv6Addr) -> Option<Instant> {
        self.engine
            .addresses()
            .find(|a| a.addr == *addr)
            .and_then(|a| a.valid_until)
    }

    pub fn usable_at(&self, addr: &Ipv6Addr) -> Option<Instant> {
        self.usable_at.get(addr).copied()
    }

    pub fn addresses(&self) -> Vec<crate::status::AddrStatus> {
        self.engine
            .addresses()
            .map(|a| crate::status::AddrStatus {
                addr: a.addr,
                prefix_len: a.prefix_len,
                state: a.state.name().into(),
            })
            .collect()
    }

    /// Adds an address the engine does not manage (the home address at
    /// home).
    pub fn add_address(&mut self, addr: Ipv6Addr, len: u8, opts: &AddrOptions) -> io::Result<()> {
        self.nl.add_address(self.index, addr, len, opts)
    }

    pub fn del_address(&mut self, addr: Ipv6Addr, len: u8) -> io::Result<()> {
        ignore_missing(self.nl.del_address(self.index, addr, len))
    }

    /// Multicasts an unsolicited Neighbor Advertisement for `target` with
    /// the Override flag and our link-layer address (RFC 6275 11.5.5: the
    /// home link must learn that the home address is ours again).
    pub fn advertise(&mut self, target: Ipv6Addr) -> io::Result<()> {
        if self.na.is_none() {
            let s = NdSocket::with_types(&self.name, &[])?;
            s.set_nonblocking(true)?;
            self.na = Some(s);
        }
        let Some(nd) = &self.na else {
            return Ok(());
        };
        let options = self
            .io
            .mac
            .map(|m| {
                vec![NdOption::TargetLinkLayerAddr(
                    mip6_common::wire::nd::LinkLayerAddress::from_mac(m),
                )]
            })
            .unwrap_or_default();
        let na = NdRepr::NeighborAdvert(NeighborAdvert {
            router: false,
            solicited: false,
            override_flag: true,
            reserved: 0,
            target,
            options,
        });
        let bytes = na
            .to_bytes()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        nd.send(&bytes, Some(target), ALL_NODES).map(drop)
    }

    /// Solicits `target`'s link-layer address from the unspecified address
    /// (RFC 6275 11.5.4: back home, the home address is still the home
    /// agent's to defend, so it must not appear in Neighbor Discovery).
    /// The answer goes to all nodes; [`Self::probe_answer`] reads it.
    pub fn solicit_unspecified(&mut self, target: Ipv6Addr) -> io::Result<()> {
        if self.probe.is_none() {
            let s = NdSocket::with_types(&self.name, &[136])?;
            s.set_nonblocking(true)?;
            self.probe = Some(s);
        }
        let Some(nd) = &self.probe else {
            return Ok(());
        };
        // RFC 4861 7.2.2: no Source Link-Layer Address option from ::.
        let ns = NdRepr::NeighborSolicit(NeighborSolicit::new(target, Vec::new()));
        let bytes = ns
            .to_bytes()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        nd.send(
            &bytes,
            Some(Ipv6Addr::UNSPECIFIED),
            solicited_node_multicast(target),
        )
        .map(drop)
    }

    pub fn probe_fd(&self) -> Option<RawFd> {
        self.probe.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Reads the Neighbor Advertisements waiting; the link-layer address of
    /// `target` if one named it.
    pub fn probe_answer(&mut self, target: Ipv6Addr) -> Option<[u8; 6]> {
        let nd = self.probe.as_ref()?;
        let mut buf = [0u8; 512];
        let mut found = None;
        while let Ok(info) = nd.recv(&mut buf) {
            let Ok(NdRepr::NeighborAdvert(na)) =
                NdRepr::from_bytes(buf.get(..info.len).unwrap_or_default())
            else {
                continue;
            };
            if na.target == target
                && let Some(mac) = na.options.target_lla().and_then(|l| l.mac())
            {
                found = Some(mac);
            }
        }
        found
    }

    /// Stops listening for answers to solicitations.
    pub fn probe_done(&mut self) {
        self.probe = None;
    }

    /// Gives the interface back: every address, route and rule the daemon
    /// made goes, the sysctls are restored, the kernel's link-local
    /// addresses come back.
    pub fn shutdown(&mut self, now: Instant) {
        // Leaving the link: give the lease back while we still can speak
        // on it (RFC 8415 18.2.7). One Release goes out; no one waits for
        // the Reply on the way out.
        if let Some(d) = &mut self.dhcp {
            d.release(now);
            d.apply(now, &mut self.engine);
        }
        self.engine.clear(now);
        while let Some(a) = self.engine.poll_action() {
            if let Err(e) = self.apply(&a) {
                tracing::debug!(iface = self.name, action = ?a, error = %e, "clean-up");
            }
        }
        while self.engine.poll_event().is_some() {}
        self.reconcile_rules();
        for a in std::mem::take(&mut self.rules) {
            let _ = ignore_missing(self.nl.del_rule(&self.rule(a)));
        }
        if let Err(e) = self.io.restore() {
            tracing::warn!(iface = self.name, error = %e, "cannot restore sysctls");
        }
        for (addr, len) in std::mem::take(&mut self.saved_link_locals) {
            let r = self.nl.add_address(
                self.index,
                addr,
                len,
                &AddrOptions {
                    replace: true,
                    ..AddrOptions::default()
                },
            );
            if let Err(e) = r {
                tracing::warn!(iface = self.name, %addr, error = %e, "cannot restore link-local address");
            }
        }
    }
}
