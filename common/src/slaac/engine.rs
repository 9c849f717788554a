use super::types::*;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use std::collections::VecDeque;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

const LINK_LOCAL_PREFIX: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0);
/// RFC 4862 5.5.3 e): lifetimes below this cannot be shortened by an
/// unauthenticated RA.
const TWO_HOURS: Duration = Duration::from_secs(7200);
/// RFC 8981 3.8: MAX_DESYNC_FACTOR = 0.4 * TEMP_PREFERRED_LIFETIME.
const MAX_DESYNC_NUM: u32 = 2;
const MAX_DESYNC_DEN: u32 = 5;

#[derive(Debug)]
struct Dad {
    sent: u8,
    next: Instant,
    nonces: Vec<[u8; 6]>,
}

#[derive(Debug)]
struct Entry {
    info: AddrInfo,
    /// The /64 the identifier was appended to (fe80:: for the link-local).
    prefix: Ipv6Addr,
    dad: Option<Dad>,
    installed: bool,
    /// RFC 8981 caps: never valid or preferred beyond these, whatever RAs say.
    temp_caps: Option<(Instant, Instant)>,
    regen_at: Option<Instant>,
    /// Handed out by someone else (a DHCPv6 lease): no identifier of ours
    /// to regenerate on a conflict, lifetimes not taken from RAs.
    managed: bool,
}

#[derive(Debug)]
struct Router {
    addr: Ipv6Addr,
    expires: Instant,
    flags: (bool, bool, bool),
}

#[derive(Debug)]
struct OnLinkPrefix {
    prefix: Ipv6Addr,
    len: u8,
    expires: Option<Instant>,
}

/// The autoconfiguration engine of one interface. See the module docs.
pub struct Slaac {
    config: SlaacConfig,
    iids: Box<dyn IidSource + Send>,
    rng: StdRng,
    link_up: bool,
    disabled: bool,
    retrans: Duration,
    entries: Vec<Entry>,
    routers: Vec<Router>,
    on_link: Vec<OnLinkPrefix>,
    rs_sent: u8,
    rs_next: Option<Instant>,
    /// The last RS went out without a link-layer option (from `::`, or
    /// from an optimistic link-local): a router can only answer it with a
    /// multicast RA, which it rate-limits.
    rs_without_sllao: bool,
    ras_heard: u32,
    mtu: Option<u32>,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
}

impl std::fmt::Debug for Slaac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slaac")
            .field("link_up", &self.link_up)
            .field("disabled", &self.disabled)
            .field("entries", &self.entries)
            .field("routers", &self.routers)
            .finish_non_exhaustive()
    }
}

/// `base`'s first 64 bits followed by `iid`.
fn join(base: &Ipv6Addr, iid: [u8; 8]) -> Ipv6Addr {
    let mut o = base.octets();
    o[8..].copy_from_slice(&iid);
    Ipv6Addr::from(o)
}

fn mask64(addr: &Ipv6Addr) -> Ipv6Addr {
    let mut o = addr.octets();
    o[8..].fill(0);
    Ipv6Addr::from(o)
}

fn solicited_node(addr: &Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

fn remaining(until: Option<Instant>, now: Instant) -> Option<Duration> {
    until.map(|t| t.saturating_duration_since(now))
}

fn later(now: Instant, d: Option<Duration>) -> Option<Instant> {
    d.and_then(|d| now.checked_add(d))
}

fn min_deadline(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl Slaac {
    /// `seed` drives every random choice (delays, nonces, desync), so a test
    /// with a fixed seed replays exactly.
    pub fn new(config: SlaacConfig, iids: Box<dyn IidSource + Send>, seed: u64) -> Self {
        let retrans = config.retrans_timer;
        Self {
            config,
            iids,
            rng: StdRng::seed_from_u64(seed),
            link_up: false,
            disabled: false,
            retrans,
            entries: Vec::new(),
            routers: Vec::new(),
            on_link: Vec::new(),
            rs_sent: 0,
            rs_next: None,
            rs_without_sllao: false,
            ras_heard: 0,
            mtu: None,
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &SlaacConfig {
        &self.config
    }

    /// Every address the engine currently manages.
    pub fn addresses(&self) -> impl Iterator<Item = &AddrInfo> {
        self.entries.iter().map(|e| &e.info)
    }

    /// The usable link-local address, if any.
    pub fn link_local(&self) -> Option<Ipv6Addr> {
        self.addresses()
            .find(|a| a.link_local && a.state.usable())
            .map(|a| a.addr)
    }

    /// Usable global addresses, preferred ones first.
    pub fn global_addresses(&self) -> Vec<AddrInfo> {
        let mut v: Vec<AddrInfo> = self
            .addresses()
            .filter(|a| !a.link_local && a.state.usable())
            .cloned()
            .collect();
        v.sort_by_key(|a| a.state);
        v
    }

    pub fn default_routers(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.routers.iter().map(|r| r.addr)
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    pub fn is_link_up(&self) -> bool {
        self.link_up
    }

    /// Whether any address is still being probed.
    pub fn dad_pending(&self) -> bool {
        self.entries.iter().any(|e| e.dad.is_some())
    }

    /// Whether a Router Advertisement was heard since the link came up.
    pub fn heard_router(&self) -> bool {
        self.ras_heard > 0
    }

    /// Whether solicitations are still to be sent.
    pub fn soliciting(&self) -> bool {
        self.rs_next.is_some()
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn event(&mut self, at: Instant, kind: EventKind) {
        self.events.push_back(Event { at, kind });
    }

    fn set_state(&mut self, now: Instant, idx: usize, to: AddrState) {
        let Some(e) = self.entries.get_mut(idx) else {
            return;
        };
        let from = e.info.state;
        if from == to {
            return;
        }
        e.info.state = to;
        let (addr, link_local) = (e.info.addr, e.info.link_local);
        self.event(
            now,
            EventKind::AddressState {
                addr,
                link_local,
                from: Some(from),
                to,
            },
        );
    }

    /// The carrier came up: start over with a link-local address and Router
    /// Solicitations (RFC 4862 5.3, RFC 4861 6.3.7).
    pub fn handle_link_up(&mut self, now: Instant) {
        if self.link_up || self.disabled {
            return;
        }
        self.link_up = true;
        self.event(now, EventKind::LinkUp);
        let delay =
            if self.config.skip_initial_delay || self.config.max_rtr_solicitation_delay.is_zero() {
                Duration::ZERO
            } else {
                let max = self.config.max_rtr_solicitation_delay.as_micros() as u64;
                Duration::from_micros(self.rng.random_range(0..max))
            };
        self.rs_sent = 0;
        self.rs_next = Some(now + delay);
        self.add_address(now, LINK_LOCAL_PREFIX, true, 0, None, None, delay);
    }

    /// The carrier went away: everything learned on the link is void. A
    /// mobile node is probably somewhere else when it comes back.
    pub fn handle_link_down(&mut self, now: Instant) {
        if !self.link_up {
            return;
        }
        self.link_up = false;
        self.clear(now);
        self.event(now, EventKind::LinkDown);
    }

    /// Takes back every address and route, e.g. on shutdown.
    pub fn clear(&mut self, now: Instant) {
        while !self.entries.is_empty() {
            self.remove_entry(now, 0, AddrState::Invalid);
        }
        for r in std::mem::take(&mut self.routers) {
            self.actions
                .push_back(Action::RemoveDefaultRoute { router: r.addr });
        }
        for p in std::mem::take(&mut self.on_link) {
            self.actions.push_back(Action::RemovePrefixRoute {
                prefix: p.prefix,
                prefix_len: p.len,
            });
        }
        self.rs_next = None;
        self.ras_heard = 0;
        self.retrans = self.config.retrans_timer;
        self.mtu = None;
    }

    #[allow(clippy::too_many_arguments)]
    fn add_address(
        &mut self,
        now: Instant,
        prefix: Ipv6Addr,
        link_local: bool,
        attempt: u8,
        valid: Option<Duration>,
        preferred: Option<Duration>,
        dad_delay: Duration,
    ) -> Option<Ipv6Addr> {
        let (iid, attempt) = self.iids.iid(&prefix, attempt)?;
        let addr = join(&prefix, iid);
        if self.entries.iter().any(|e| e.info.addr == addr) {
            return None;
        }
        let temporary = !link_local && self.iids.kind() == IidKind::Random;
        let (mut valid_until, mut preferred_until) = (later(now, valid), later(now, preferred));
        let mut temp_caps = None;
        let mut regen_at = None;
        if temporary {
            // RFC 8981 3.4: lifetimes capped at creation, desynchronised so
            // hosts do not all regenerate at once.
            let max_desync = self.config.temp_preferred_lifetime * MAX_DESYNC_NUM / MAX_DESYNC_DEN;
            let desync = Duration::from_secs(self.rng.random_range(0..=max_desync.as_secs()));
            let vcap = now + self.config.temp_valid_lifetime;
            let pcap = now + self.config.temp_preferred_lifetime.saturating_sub(desync);
            valid_until = min_deadline(valid_until, Some(vcap));
            preferred_until = min_deadline(preferred_until, Some(pcap));
            temp_caps = Some((vcap, pcap));
            regen_at = preferred_until.map(|p| p.checked_sub(self.regen_advance()).unwrap_or(now));
        }
        self.push_entry(
            now,
            Entry {
                info: AddrInfo {
                    addr,
                    prefix_len: 64,
                    link_local,
                    state: AddrState::Tentative,
                    attempt,
                    valid_until,
                    preferred_until,
                    created: now,
                },
                prefix,
                dad: None,
                installed: false,
                temp_caps,
                regen_at,
                managed: false,
            },
            dad_delay,
        );
        Some(addr)
    }

    /// Starts DAD on `entry` (or skips it) and installs it when usable.
    fn push_entry(&mut self, now: Instant, mut entry: Entry, dad_delay: Duration) {
        let state = if self.config.dad_transmits == 0 {
            AddrState::Preferred
        } else if self.config.optimistic {
            AddrState::Optimistic
        } else {
            AddrState::Tentative
        };
        entry.info.state = state;
        let addr = entry.info.addr;
        let link_local = entry.info.link_local;
        let group = solicited_node(&addr);
        if !self
            .entries
            .iter()
            .any(|e| solicited_node(&e.info.addr) == group)
        {
            self.actions.push_back(Action::JoinGroup(group));
        }
        entry.dad = (self.config.dad_transmits > 0).then(|| Dad {
            sent: 0,
            next: now + dad_delay,
            nonces: Vec::new(),
        });
        self.entries.push(entry);
        self.event(
            now,
            EventKind::AddressState {
                addr,
                link_local,
                from: None,
                to: state,
            },
        );
        if state.usable() {
            let idx = self.entries.len() - 1;
            self.install(now, idx);
        }
    }

    /// Takes on an address someone else chose, a DHCPv6 lease (RFC 8415
    /// 18.2.10.1): it goes through DAD, standard or optimistic, like our
    /// own. A conflict ends in `DadConflict { retry: None }` and the address
    /// is gone; the lease holder must Decline it. `false` if the address is
    /// already managed here (its lifetimes are then updated).
    pub fn add_managed_address(
        &mut self,
        now: Instant,
        addr: Ipv6Addr,
        prefix_len: u8,
        valid: Duration,
        preferred: Duration,
    ) -> bool {
        if let Some(idx) = self.entries.iter().position(|e| e.info.addr == addr) {
            self.update_managed_address(now, idx, valid, preferred);
            return false;
        }
        if !self.link_up || self.disabled {
            return false;
        }
        self.push_entry(
            now,
            Entry {
                info: AddrInfo {
                    addr,
                    prefix_len,
                    link_local: false,
                    state: AddrState::Tentative,
                    attempt: 0,
                    valid_until: Some(now + valid),
                    preferred_until: Some(now + preferred),
                    created: now,
                },
                prefix: addr,
                dad: None,
                installed: false,
                temp_caps: None,
                regen_at: None,
                managed: true,
            },
            Duration::ZERO,
        );
        true
    }

    /// A renewed lease: its lifetimes are the server's word, no two-hour rule.
    fn update_managed_address(
        &mut self,
        now: Instant,
        idx: usize,
        valid: Duration,
        preferred: Duration,
    ) {
        let Some(e) = self.entries.get_mut(idx) else {
            return;
        };
        e.info.valid_until = Some(now + valid);
        e.info.preferred_until = Some(now + preferred);
        let (state, installed) = (e.info.state, e.installed);
        if state == AddrState::Deprecated && !preferred.is_zero() {
            self.set_state(now, idx, AddrState::Preferred);
        } else if state == AddrState::Preferred && preferred.is_zero() {
            self.set_state(now, idx, AddrState::Deprecated);
        }
        if installed {
            self.install(now, idx);
        }
    }

    /// Gives back a managed address (lease released or declined).
    pub fn remove_managed_address(&mut self, now: Instant, addr: Ipv6Addr) {
        if let Some(idx) = self
            .entries
            .iter()
            .position(|e| e.managed && e.info.addr == addr)
        {
            self.remove_entry(now, idx, AddrState::Invalid);
        }
    }

    /// RFC 8981 3.8: REGEN_ADVANCE = 2 + TEMP_IDGEN_RETRIES *
    /// DupAddrDetectTransmits * RetransTimer.
    fn regen_advance(&self) -> Duration {
        Duration::from_secs(2)
            + self.retrans
                * u32::from(self.config.idgen_retries)
                * u32::from(self.config.dad_transmits)
    }

    fn install(&mut self, now: Instant, idx: usize) {
        let Some(e) = self.entries.get_mut(idx) else {
            return;
        };
        e.installed = true;
        self.actions.push_back(Action::ConfigureAddress {
            addr: e.info.addr,
            prefix_len: e.info.prefix_len,
            valid: remaining(e.info.valid_until, now),
            preferred: remaining(e.info.preferred_until, now),
            optimistic: e.info.state == AddrState::Optimistic,
        });
    }

    fn remove_entry(&mut self, now: Instant, idx: usize, why: AddrState) -> Option<Entry> {
        if idx >= self.entries.len() {
            return None;
        }
        let e = self.entries.remove(idx);
        if e.installed {
            self.actions.push_back(Action::RemoveAddress {
                addr: e.info.addr,
                prefix_len: e.info.prefix_len,
            });
        }
        let group = solicited_node(&e.info.addr);
        if !self
            .entries
            .iter()
            .any(|o| solicited_node(&o.info.addr) == group)
        {
            self.actions.push_back(Action::LeaveGroup(group));
        }
        self.event(
            now,
            EventKind::AddressState {
                addr: e.info.addr,
                link_local: e.info.link_local,
                from: Some(e.info.state),
                to: why,
            },
        );
        Some(e)
    }

    /// The earliest moment `handle_timeout` has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.rs_next;
        for e in &self.entries {
            t = min_deadline(t, e.dad.as_ref().map(|d| d.next));
            t = min_deadline(t, e.info.valid_until);
            if e.info.state == AddrState::Preferred {
                t = min_deadline(t, e.info.preferred_until);
            }
            t = min_deadline(t, e.regen_at);
        }
        for r in &self.routers {
            t = min_deadline(t, Some(r.expires));
        }
        for p in &self.on_link {
            t = min_deadline(t, p.expires);
        }
        t
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.link_up {
            return;
        }
        self.run_rs(now);
        self.run_dad(now);
        self.run_lifetimes(now);
        self.run_regeneration(now);
        self.run_routes(now);
    }

    fn run_rs(&mut self, now: Instant) {
        let Some(next) = self.rs_next else { return };
        if next > now {
            return;
        }
        // RFC 4861 6.3.7 and RFC 4429 3.2: the source is an address we may
        // use, but an optimistic one must not announce its link-layer
        // address (it could overwrite a legitimate owner's cache entry).
        let ll = self
            .entries
            .iter()
            .find(|e| e.info.link_local && e.info.state.usable())
            .map(|e| (e.info.addr, e.info.state != AddrState::Optimistic));
        let include_sllao = ll.is_some_and(|(_, full)| full);
        self.actions.push_back(Action::SendRs {
            src: ll.map(|(a, _)| a),
            include_sllao,
        });
        self.rs_without_sllao = !include_sllao;
        self.rs_sent += 1;
        let count = self.rs_sent;
        self.event(now, EventKind::RsSent { count });
        self.rs_next = (count < self.config.max_rtr_solicitations)
            .then(|| now + self.config.rtr_solicitation_interval);
    }

    fn run_dad(&mut self, now: Instant) {
        let mut finished = Vec::new();
        for idx in 0..self.entries.len() {
            let transmits = self.config.dad_transmits;
            let enhanced = self.config.enhanced_dad;
            let retrans = self.retrans;
            let e = &mut self.entries[idx];
            let Some(dad) = e.dad.as_mut() else { continue };
            if dad.next > now {
                continue;
            }
            if dad.sent < transmits {
                let nonce = enhanced.then(|| {
                    let mut n = [0u8; 6];
                    self.rng.fill_bytes(&mut n);
                    n
                });
                if let Some(n) = nonce {
                    dad.nonces.push(n);
                }
                dad.sent += 1;
                dad.next = now + retrans;
                self.actions.push_back(Action::SendDadProbe {
                    target: e.info.addr,
                    nonce,
                });
            } else {
                finished.push(idx);
            }
        }
        for idx in finished {
            self.dad_succeeded(now, idx);
        }
    }

    fn dad_succeeded(&mut self, now: Instant, idx: usize) {
        let Some(e) = self.entries.get_mut(idx) else {
            return;
        };
        e.dad = None;
        let deprecated = e.info.preferred_until.is_some_and(|p| p <= now);
        let to = if deprecated {
            AddrState::Deprecated
        } else {
            AddrState::Preferred
        };
        let link_local = e.info.link_local;
        self.set_state(now, idx, to);
        // Installing again also clears the kernel's optimistic flag.
        self.install(now, idx);
        // The RS sent at link-up could only be answered by a multicast RA,
        // and RFC 4861 6.2.6 lets a router hold that back for
        // MIN_DELAY_BETWEEN_RAS (3 s; radvd folds it into its next
        // scheduled RA). Now that the link-local address is ours, one RS
        // from it with our link-layer address can be answered by unicast at
        // once: the RS a host that waited for DAD would send now (Linux
        // does). It counts towards MAX_RTR_SOLICITATIONS.
        if link_local
            && self.link_up
            && self.ras_heard == 0
            && self.rs_without_sllao
            && self.rs_sent > 0
            && self.rs_sent < self.config.max_rtr_solicitations
        {
            self.rs_next = Some(now);
        }
    }

    fn run_lifetimes(&mut self, now: Instant) {
        let mut idx = 0;
        while idx < self.entries.len() {
            let e = &self.entries[idx];
            if e.info.valid_until.is_some_and(|v| v <= now) {
                self.remove_entry(now, idx, AddrState::Invalid);
                continue;
            }
            if e.info.state == AddrState::Preferred
                && e.info.preferred_until.is_some_and(|p| p <= now)
            {
                self.set_state(now, idx, AddrState::Deprecated);
            }
            idx += 1;
        }
    }

    /// RFC 8981 3.5: a new temporary address REGEN_ADVANCE before the current
    /// one deprecates, so there is always a preferred one.
    fn run_regeneration(&mut self, now: Instant) {
        let due: Vec<(usize, Ipv6Addr)> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.regen_at.is_some_and(|r| r <= now) && e.info.state.usable())
            .map(|(i, e)| (i, e.prefix))
            .collect();
        for (idx, prefix) in due {
            let (valid, preferred) = {
                let e = &mut self.entries[idx];
                e.regen_at = None;
                // The new address inherits what the prefix still grants; its
                // own caps come from add_address.
                (
                    remaining(e.info.valid_until, now).map(|_| self.config.temp_valid_lifetime),
                    Some(self.config.temp_preferred_lifetime),
                )
            };
            self.add_address(now, prefix, false, 0, valid, preferred, Duration::ZERO);
        }
    }

    fn run_routes(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.routers.len() {
            if self.routers[i].expires <= now {
                let r = self.routers.remove(i);
                self.actions
                    .push_back(Action::RemoveDefaultRoute { router: r.addr });
                self.event(now, EventKind::RouterExpired { router: r.addr });
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i < self.on_link.len() {
            if self.on_link[i].expires.is_some_and(|t| t <= now) {
                let p = self.on_link.remove(i);
                self.actions.push_back(Action::RemovePrefixRoute {
                    prefix: p.prefix,
                    prefix_len: p.len,
                });
            } else {
                i += 1;
            }
        }
    }

    /// A validated Router Advertisement arrived (RFC 4861 6.3.4, RFC 4862
    /// 5.5.3).
    pub fn handle_ra(&mut self, now: Instant, ra: &RaInfo) {
        if !self.link_up || self.disabled {
            return;
        }
        self.event(now, EventKind::RaReceived { router: ra.router });
        self.ras_heard = self.ras_heard.saturating_add(1);
        self.rs_next = None;
        if let Some(rt) = ra.retrans_timer.filter(|d| !d.is_zero()) {
            self.retrans = rt;
        }
        self.learn_router(now, ra);
        if let Some(mtu) = ra.mtu.filter(|m| *m >= 1280)
            && self.mtu != Some(mtu)
        {
            self.mtu = Some(mtu);
            self.actions.push_back(Action::SetMtu(mtu));
        }
        for p in &ra.prefixes {
            if p.prefix.is_unicast_link_local() {
                continue;
            }
            if p.on_link {
                self.learn_on_link(now, p);
            }
            if p.autonomous {
                self.autoconfigure(now, p);
            }
        }
    }

    fn learn_router(&mut self, now: Instant, ra: &RaInfo) {
        let flags = (ra.managed, ra.other, ra.home_agent);
        let pos = self.routers.iter().position(|r| r.addr == ra.router);
        let flags_changed = pos.is_none_or(|i| self.routers[i].flags != flags);
        if ra.router_lifetime.is_zero() {
            if let Some(i) = pos {
                self.routers.remove(i);
                self.actions
                    .push_back(Action::RemoveDefaultRoute { router: ra.router });
                self.event(now, EventKind::RouterExpired { router: ra.router });
            }
        } else {
            let expires = now + ra.router_lifetime;
            match pos {
                Some(i) => {
                    self.routers[i].expires = expires;
                    self.routers[i].flags = flags;
                }
                None => self.routers.push(Router {
                    addr: ra.router,
                    expires,
                    flags,
                }),
            }
            self.actions.push_back(Action::ConfigureDefaultRoute {
                router: ra.router,
                lifetime: ra.router_lifetime,
            });
        }
        if flags_changed {
            self.event(
                now,
                EventKind::RouterFlags {
                    router: ra.router,
                    managed: ra.managed,
                    other: ra.other,
                    home_agent: ra.home_agent,
                },
            );
        }
    }

    fn learn_on_link(&mut self, now: Instant, p: &PrefixInfo) {
        let prefix = mask(&p.prefix, p.prefix_len);
        let pos = self
            .on_link
            .iter()
            .position(|o| o.prefix == prefix && o.len == p.prefix_len);
        if p.valid == Some(Duration::ZERO) {
            if let Some(i) = pos {
                self.on_link.remove(i);
                self.actions.push_back(Action::RemovePrefixRoute {
                    prefix,
                    prefix_len: p.prefix_len,
                });
            }
            return;
        }
        let expires = later(now, p.valid);
        match pos {
            Some(i) => self.on_link[i].expires = expires,
            None => self.on_link.push(OnLinkPrefix {
                prefix,
                len: p.prefix_len,
                expires,
            }),
        }
        self.actions.push_back(Action::ConfigurePrefixRoute {
            prefix,
            prefix_len: p.prefix_len,
            lifetime: p.valid,
        });
    }

    fn autoconfigure(&mut self, now: Instant, p: &PrefixInfo) {
        // RFC 4862 5.5.3 c): a preferred lifetime above the valid one is bogus.
        let too_long = match (p.preferred, p.valid) {
            (None, Some(_)) => true,
            (Some(pr), Some(v)) => pr > v,
            _ => false,
        };
        if too_long {
            return;
        }
        let prefix = mask64(&p.prefix);
        let existing: Vec<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.info.link_local && !e.managed && e.prefix == prefix)
            .map(|(i, _)| i)
            .collect();
        if existing.is_empty() {
            if p.valid == Some(Duration::ZERO) {
                return;
            }
            // RFC 4862 5.5.3 d): prefix length plus identifier length must
            // be 128, and our identifiers are 64 bits.
            if p.prefix_len != 64 {
                self.event(
                    now,
                    EventKind::GaveUp {
                        prefix,
                        reason: "prefix length is not 64",
                    },
                );
                return;
            }
            self.add_address(now, prefix, false, 0, p.valid, p.preferred, Duration::ZERO);
            return;
        }
        for idx in existing {
            self.update_lifetimes(now, idx, p);
        }
    }

    /// RFC 4862 5.5.3 e): the preferred lifetime is taken as given; the
    /// valid lifetime only under the two-hour rule, so a forged RA cannot
    /// kill an address quickly.
    fn update_lifetimes(&mut self, now: Instant, idx: usize, p: &PrefixInfo) {
        let Some(e) = self.entries.get_mut(idx) else {
            return;
        };
        let left = remaining(e.info.valid_until, now);
        let new_valid_until = match p.valid {
            None => None,
            Some(v) if v > TWO_HOURS || left.is_some_and(|l| v > l) => Some(now + v),
            Some(_) if left.is_some_and(|l| l <= TWO_HOURS) => e.info.valid_until,
            Some(_) => Some(now + TWO_HOURS),
        };
        let mut valid_until = new_valid_until;
        let mut preferred_until = later(now, p.preferred);
        if let Some((vcap, pcap)) = e.temp_caps {
            valid_until = min_deadline(valid_until, Some(vcap));
            preferred_until = min_deadline(preferred_until, Some(pcap));
        }
        let changed =
            valid_until != e.info.valid_until || preferred_until != e.info.preferred_until;
        e.info.valid_until = valid_until;
        e.info.preferred_until = preferred_until;
        let state = e.info.state;
        let installed = e.installed;
        let now_deprecated = preferred_until.is_some_and(|t| t <= now);
        if state == AddrState::Preferred && now_deprecated {
            self.set_state(now, idx, AddrState::Deprecated);
        } else if state == AddrState::Deprecated && !now_deprecated {
            self.set_state(now, idx, AddrState::Preferred);
        }
        if installed && changed {
            self.install(now, idx);
        }
    }

    /// A Neighbor Solicitation for `target` arrived (RFC 4862 5.4.3, RFC 7527).
    pub fn handle_ns(
        &mut self,
        now: Instant,
        src: Ipv6Addr,
        target: Ipv6Addr,
        nonce: Option<&[u8]>,
    ) {
        let Some(idx) = self.entries.iter().position(|e| e.info.addr == target) else {
            return;
        };
        let e = &self.entries[idx];
        let Some(dad) = e.dad.as_ref() else {
            // Someone probes an address we hold: the kernel holds it too and
            // answers for us.
            return;
        };
        // An NS from a unicast source is address resolution, not DAD. For
        // an optimistic address we answer it ourselves, without the
        // Override flag (RFC 4429 3.3): the kernel, which knows the address
        // only as `nodad`, would set it, and the shell holds its answer
        // back.
        if !src.is_unspecified() {
            if e.info.state == AddrState::Optimistic {
                self.actions
                    .push_back(Action::SendOptimisticNa { target, dst: src });
            }
            return;
        }
        if let Some(n) = nonce
            && dad.nonces.iter().any(|ours| ours.as_slice() == n)
        {
            // Our own probe, looped back by the link (RFC 7527 4.2).
            return;
        }
        self.conflict(now, idx);
    }

    /// A Neighbor Advertisement for `target` arrived (RFC 4862 5.4.4).
    pub fn handle_na(&mut self, now: Instant, target: Ipv6Addr) {
        let Some(idx) = self.entries.iter().position(|e| e.info.addr == target) else {
            return;
        };
        if self.entries[idx].dad.is_some() {
            self.conflict(now, idx);
        } else {
            self.event(now, EventKind::LateConflict { addr: target });
        }
    }

    /// RFC 4862 5.4.5, RFC 7217 6, RFC 8981 3.3.
    fn conflict(&mut self, now: Instant, idx: usize) {
        let Some(e) = self.remove_entry(now, idx, AddrState::Duplicate) else {
            return;
        };
        // The event when this address gets no other identifier.
        let final_conflict = EventKind::DadConflict {
            addr: e.info.addr,
            attempt: e.info.attempt,
            retry: None,
        };
        if e.managed {
            self.event(now, final_conflict);
            return;
        }
        let kind = self.iids.kind();
        if e.info.link_local && kind == IidKind::Eui64 {
            self.event(now, final_conflict);
            self.disabled = true;
            self.clear(now);
            self.actions.push_back(Action::DisableIpv6);
            self.event(now, EventKind::Ipv6Disabled);
            return;
        }
        let next = e.info.attempt.saturating_add(1);
        let retry = if kind == IidKind::Eui64 || next > self.config.idgen_retries {
            None
        } else {
            self.add_address(
                now,
                e.prefix,
                e.info.link_local,
                next,
                remaining(e.info.valid_until, now),
                remaining(e.info.preferred_until, now),
                Duration::ZERO,
            )
        };
        self.event(
            now,
            EventKind::DadConflict {
                addr: e.info.addr,
                attempt: e.info.attempt,
                retry,
            },
        );
        if retry.is_none() {
            self.event(
                now,
                EventKind::GaveUp {
                    prefix: e.prefix,
                    reason: if kind == IidKind::Eui64 {
                        "EUI-64 identifiers cannot be regenerated"
                    } else {
                        "identifier retries exhausted"
                    },
                },
            );
        }
    }
}

fn mask(addr: &Ipv6Addr, len: u8) -> Ipv6Addr {
    let bits = u128::from(*addr);
    let len = u32::from(len.min(128));
    let m = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    Ipv6Addr::from(bits & m)
}

#[cfg(test)]
mod tests;
