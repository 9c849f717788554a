use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::types::*;
use crate::addr::Prefix;
use crate::binding::msg::{self, KnownOptions};
use crate::binding::ntp::{WallClock, ntp_abs_diff};
use crate::binding::seq::seq_is_newer;
use crate::wire::mh::{
    BaFlags, BaStatus, BeStatus, BindingAck, BindingError, BindingRefreshRequest, BuFlags,
    MhOption, MhRepr, lifetime_from_secs, lifetime_to_secs,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Expire,
    Brr,
    Dad,
}

#[derive(Debug)]
struct Entry {
    info: BindingInfo,
    brr_at: Option<Instant>,
}

/// How to answer one BU.
#[derive(Debug, Clone)]
struct Reply {
    /// The BU's IPv6 source: where the BA goes, and the care-of address of
    /// the authenticator's Mobility Data.
    to: Ipv6Addr,
    /// The BU's IPv6 destination: our address.
    from: Ipv6Addr,
    hoa: Ipv6Addr,
    /// The care-of address of the authenticator's Mobility Data: the one
    /// being registered (the Alternate Care-of Address when present).
    auth_coa: Ipv6Addr,
    sequence: u16,
    ack: bool,
    /// Sign with this policy's key.
    policy: Option<usize>,
    mn_id: Option<MhOption>,
    /// The BU's timestamp, echoed in the BA.
    mesg_id: Option<u64>,
}

/// A BU that passed every check.
#[derive(Debug, Clone)]
struct Request {
    reply: Reply,
    coa: Ipv6Addr,
    flags: BuFlags,
    requested: Duration,
    link_local: Option<Ipv6Addr>,
}

#[derive(Debug)]
struct Pending {
    req: Request,
    deadline: Instant,
}

#[derive(Debug)]
struct PrefixState {
    prefix: Prefix,
    valid: PrefixValid,
}

/// How long a home prefix stays valid.
#[derive(Debug, Clone, Copy)]
enum PrefixValid {
    /// Advertised with this lifetime again and again (`None`: infinite):
    /// what remains is always all of it.
    Advertised(Option<Duration>),
    /// Runs down to this instant (`None`: never).
    Until(Option<Instant>),
}

/// The home agent's binding cache. See the module docs for the checks.
pub struct BindingCache {
    config: CacheConfig,
    prefixes: Vec<PrefixState>,
    by_spi: HashMap<u32, usize>,
    by_hoa: HashMap<Ipv6Addr, usize>,
    entries: HashMap<Ipv6Addr, Entry>,
    pending: HashMap<Ipv6Addr, Pending>,
    /// Last accepted RFC 4285 timestamp per mobile node (policy home
    /// address); outlives bindings.
    last_mesg_id: HashMap<Ipv6Addr, u64>,
    /// The sequence number of the BU that set `last_mesg_id`.
    last_sequence: HashMap<Ipv6Addr, u16>,
    timers: BTreeSet<(Instant, Timer, Ipv6Addr)>,
    snapshot: Arc<HashMap<Ipv6Addr, Ipv6Addr>>,
    wall: WallClock,
    stats: CacheStats,
    be_window: Option<Instant>,
    be_count: u32,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
}

impl std::fmt::Debug for BindingCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindingCache")
            .field("bindings", &self.entries.len())
            .field("pending", &self.pending.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Where the checks ended.
enum Verdict {
    Reject(BaStatus),
    Drop(&'static str),
}

fn secs_u32(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

impl BindingCache {
    /// `ntp_now` is the wall-clock time at `now` as an NTP timestamp (see
    /// [`crate::binding::ntp`]); it drives the RFC 4285 replay window.
    pub fn new(config: CacheConfig, now: Instant, ntp_now: u64) -> Self {
        let prefixes = config
            .home_prefixes
            .iter()
            .map(|p| PrefixState {
                prefix: p.prefix,
                valid: PrefixValid::Advertised(p.valid_lifetime),
            })
            .collect();
        let mut by_spi = HashMap::new();
        let mut by_hoa = HashMap::new();
        for (i, p) in config.mobile_nodes.iter().enumerate() {
            by_spi.entry(p.spi).or_insert(i);
            by_hoa.entry(p.home_address).or_insert(i);
        }
        Self {
            config,
            prefixes,
            by_spi,
            by_hoa,
            entries: HashMap::new(),
            pending: HashMap::new(),
            last_mesg_id: HashMap::new(),
            last_sequence: HashMap::new(),
            timers: BTreeSet::new(),
            snapshot: Arc::new(HashMap::new()),
            wall: WallClock::new(now, ntp_now),
            stats: CacheStats::default(),
            be_window: None,
            be_count: 0,
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// A fresh wall-clock sample (NTP time `ntp` at `now`).
    pub fn set_wall_clock(&mut self, now: Instant, ntp: u64) {
        self.wall = WallClock::new(now, ntp);
    }

    /// Adds a home prefix or gives it a valid lifetime that runs down from
    /// `now` (`None`: infinite), e.g. a prefix being renumbered away.
    pub fn update_prefix(&mut self, now: Instant, prefix: Prefix, valid: Option<Duration>) {
        // Beyond what an Instant holds is as good as infinite.
        let valid = PrefixValid::Until(valid.and_then(|d| now.checked_add(d)));
        match self.prefixes.iter_mut().find(|p| p.prefix == prefix) {
            Some(p) => p.valid = valid,
            None => self.prefixes.push(PrefixState { prefix, valid }),
        }
    }

    pub fn remove_prefix(&mut self, prefix: Prefix) {
        self.prefixes.retain(|p| p.prefix != prefix);
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|t| t.0)
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    pub fn bindings(&self) -> impl Iterator<Item = &BindingInfo> {
        self.entries.values().map(|e| &e.info)
    }

    pub fn binding(&self, hoa: &Ipv6Addr) -> Option<&BindingInfo> {
        self.entries.get(hoa).map(|e| &e.info)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Home addresses whose first registration waits for DAD.
    pub fn pending_dad(&self) -> impl Iterator<Item = &Ipv6Addr> {
        self.pending.keys()
    }

    /// HoA to CoA for the data plane. The map is copied on write: a change
    /// copies it only while an earlier snapshot is still held, so handing
    /// one out per batch of packets is cheap and never blocks a BU.
    pub fn snapshot(&self) -> Arc<HashMap<Ipv6Addr, Ipv6Addr>> {
        Arc::clone(&self.snapshot)
    }

    fn event(&mut self, at: Instant, kind: EventKind) {
        self.events.push_back(Event { at, kind });
    }

    fn count_status(&mut self, status: BaStatus) {
        *self.stats.by_status.entry(status.0).or_insert(0) += 1;
    }

    fn drop_bu(&mut self, now: Instant, src: Ipv6Addr, hoa: Ipv6Addr, reason: &'static str) {
        self.stats.bu_dropped += 1;
        self.event(now, EventKind::BuDropped { src, hoa, reason });
    }

    /// What remains of the valid lifetime of the home prefix holding `hoa`:
    /// `None` when no valid prefix holds it, `Some(None)` for infinity.
    fn prefix_remaining(&self, hoa: &Ipv6Addr, now: Instant) -> Option<Option<Duration>> {
        let mut best: Option<Option<Duration>> = None;
        for p in self.prefixes.iter().filter(|p| p.prefix.contains(*hoa)) {
            let rem = match p.valid {
                PrefixValid::Advertised(d) => d,
                PrefixValid::Until(None) => None,
                PrefixValid::Until(Some(t)) if t > now => Some(t - now),
                PrefixValid::Until(Some(_)) => continue,
            };
            best = Some(match (best, rem) {
                (Some(None), _) | (_, None) => None,
                (Some(Some(a)), Some(b)) => Some(a.max(b)),
                (None, Some(b)) => Some(b),
            });
        }
        best
    }

    fn coa_is_invalid(&self, coa: &Ipv6Addr) -> bool {
        !msg::is_unicast_routable(coa)
            || self.config.ha_addresses.contains(coa)
            || self.prefixes.iter().any(|p| p.prefix.contains(*coa))
    }

    /// Processes one Binding Update (see the module docs for the order of
    /// the checks and the status each one gives).
    pub fn handle_bu(&mut self, now: Instant, ctx: &BuContext<'_>) {
        self.stats.bu_received += 1;
        let bu = ctx.bu;
        let hoa = ctx.home_address.unwrap_or(ctx.src);
        if ctx.src.is_unspecified() || ctx.src.is_multicast() || ctx.src.is_loopback() {
            return self.drop_bu(now, ctx.src, hoa, "source address cannot be answered");
        }
        if !msg::is_unicast_routable(&hoa) {
            return self.drop_bu(now, ctx.src, hoa, "home address not unicast routable");
        }
        let opts = KnownOptions::of(&bu.options);
        if bu.flags.home_registration() && opts.nonce_indices {
            return self.drop_bu(now, ctx.src, hoa, "nonce indices in a home registration");
        }
        let coa = opts.alt_coa.unwrap_or(ctx.src);
        let mut reply = Reply {
            to: ctx.src,
            from: ctx.dst,
            hoa,
            auth_coa: coa,
            sequence: bu.sequence,
            // RFC 6275 10.3.1 / 10.3.2: a home registration or
            // deregistration is acknowledged whatever the A bit says.
            ack: bu.flags.ack_requested() || bu.flags.home_registration(),
            policy: None,
            mn_id: opts.mn_id.cloned(),
            mesg_id: None,
        };
        let verdict = self.check(now, ctx, &opts, hoa, coa, &mut reply);
        match verdict {
            Err(Verdict::Drop(reason)) => self.drop_bu(now, ctx.src, hoa, reason),
            Err(Verdict::Reject(status)) => {
                let (seq, mesg) = match status {
                    BaStatus::SEQUENCE_NUMBER_OUT_OF_WINDOW => (
                        self.entries
                            .get(&hoa)
                            .map_or(bu.sequence, |e| e.info.sequence),
                        None,
                    ),
                    BaStatus::MIPV6_ID_MISMATCH => (bu.sequence, Some(self.wall.ntp_at(now))),
                    _ => (bu.sequence, None),
                };
                self.reject(now, &reply, coa, status, seq, mesg);
            }
            Ok(()) => {
                let req = Request {
                    reply,
                    coa,
                    flags: bu.flags,
                    requested: Duration::from_secs(u64::from(bu.lifetime_secs())),
                    link_local: bu
                        .flags
                        .link_local_compat()
                        .then(|| msg::link_local_of(&hoa)),
                };
                if bu.lifetime == 0 || coa == hoa {
                    self.deregister(now, req);
                } else {
                    self.register(now, req);
                }
            }
        }
    }

    /// The checks of 9.5.1, RFC 4285 and 10.3.1/10.3.2 that need no state
    /// change; on success `reply` knows how to sign and what to echo.
    fn check(
        &self,
        now: Instant,
        ctx: &BuContext<'_>,
        opts: &KnownOptions<'_>,
        hoa: Ipv6Addr,
        coa: Ipv6Addr,
        reply: &mut Reply,
    ) -> Result<(), Verdict> {
        let bu = ctx.bu;
        // RFC 4285 5: authentication.
        match opts.mn_ha_spi {
            None if self.config.allow_unauthenticated => {
                if self.by_hoa.contains_key(&hoa) {
                    return Err(Verdict::Reject(BaStatus::ADMINISTRATIVELY_PROHIBITED));
                }
            }
            None => return Err(Verdict::Reject(BaStatus::MIPV6_AUTH_FAIL)),
            Some(spi) => {
                let Some(&idx) = self.by_spi.get(&spi) else {
                    return Err(Verdict::Reject(BaStatus::MIPV6_AUTH_FAIL));
                };
                let policy = self.policy(idx);
                // RFC 4285 5.1 with RFC 6275 6.2.7: the care-of address of
                // the Mobility Data is the one to be registered, so an
                // Alternate Care-of Address is covered by the authenticator.
                let ok = crate::wire::mh::mn_ha_verify(&policy.key, &coa, &hoa, ctx.mh_bytes)
                    .unwrap_or(false);
                if !ok || !opts.mn_ha_last {
                    // Unsigned: a forger must not get a signed answer over
                    // fields of its choosing.
                    return Err(Verdict::Reject(BaStatus::MIPV6_AUTH_FAIL));
                }
                reply.policy = Some(idx);
                if let (Some(nai), Some(id)) = (&policy.nai, opts.nai)
                    && nai.as_bytes() != id
                {
                    return Err(Verdict::Reject(BaStatus::MIPV6_AUTH_FAIL));
                }
                if policy.home_address != hoa {
                    return Err(Verdict::Reject(
                        BaStatus::NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE,
                    ));
                }
                // RFC 4285 6: replay protection.
                let Some(ts) = opts.mesg_id else {
                    return Err(Verdict::Reject(BaStatus::MIPV6_MESG_ID_REQD));
                };
                let ours = self.wall.ntp_at(now);
                let stale = self
                    .last_mesg_id
                    .get(&policy.home_address)
                    .is_some_and(|&last| ts <= last);
                if ntp_abs_diff(ts, ours) > self.config.replay_window || stale {
                    return Err(Verdict::Reject(BaStatus::MIPV6_ID_MISMATCH));
                }
                reply.mesg_id = Some(ts);
            }
        }
        // RFC 6275 9.5.1: sequence number, then the H flag.
        if let Some(e) = self.entries.get(&hoa)
            && !seq_is_newer(bu.sequence, e.info.sequence)
        {
            return Err(Verdict::Reject(BaStatus::SEQUENCE_NUMBER_OUT_OF_WINDOW));
        }
        if !bu.flags.home_registration() {
            return Err(if self.entries.contains_key(&hoa) {
                Verdict::Reject(BaStatus::REGISTRATION_TYPE_CHANGE_DISALLOWED)
            } else {
                Verdict::Drop("not a home registration (no correspondent node here)")
            });
        }
        // RFC 6275 10.3.1 / 10.3.2.
        if !self.config.ha_addresses.contains(&ctx.dst) {
            return Err(Verdict::Reject(BaStatus::HOME_REGISTRATION_NOT_SUPPORTED));
        }
        if bu.lifetime == 0 || coa == hoa {
            // A pending registration is cancelled (then answered 133).
            return if self.entries.contains_key(&hoa) || self.pending.contains_key(&hoa) {
                Ok(())
            } else {
                Err(Verdict::Reject(
                    BaStatus::NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE,
                ))
            };
        }
        if self.prefix_remaining(&hoa, now).is_none() {
            return Err(Verdict::Reject(BaStatus::NOT_HOME_SUBNET));
        }
        if self.entries.contains_key(&coa) {
            return Err(Verdict::Drop(
                "care-of address is the home address of another binding",
            ));
        }
        if self.coa_is_invalid(&coa) {
            return Err(Verdict::Reject(BaStatus::INVALID_CARE_OF_ADDRESS));
        }
        let known = self.entries.contains_key(&hoa) || self.pending.contains_key(&hoa);
        if !known && self.entries.len() + self.pending.len() >= self.config.max_bindings {
            return Err(Verdict::Reject(BaStatus::INSUFFICIENT_RESOURCES));
        }
        Ok(())
    }

    fn policy(&self, idx: usize) -> &MnPolicy {
        // Indices come from `by_spi`, built from this very list.
        &self.config.mobile_nodes[idx]
    }

    /// Emits and queues a BA.
    fn send_ba(
        &mut self,
        reply: &Reply,
        status: BaStatus,
        sequence: u16,
        lifetime: u16,
        mesg_id: Option<u64>,
        refresh_advice: Option<u16>,
    ) {
        let mut options = Vec::new();
        if let Some(id) = &reply.mn_id {
            options.push(id.clone());
        }
        if let Some(ts) = mesg_id.or(reply.mesg_id) {
            options.push(MhOption::ReplayProtection { timestamp: ts });
        }
        if let Some(r) = refresh_advice {
            options.push(MhOption::BindingRefreshAdvice {
                refresh_interval: r,
            });
        }
        let policy = reply.policy.map(|i| self.policy(i));
        if let Some(p) = policy {
            options.push(msg::mn_ha_placeholder(p.spi));
        }
        let ba = BindingAck {
            status,
            flags: BaFlags::default(),
            sequence,
            lifetime,
            options,
        };
        let repr = MhRepr::BindingAck(ba.clone());
        let sign = policy.map(|p| (&p.key[..], reply.auth_coa, reply.hoa));
        let Ok(mh_bytes) = msg::finish(&repr, sign, reply.from, reply.hoa) else {
            // Only an impossible option set fails to emit; count it as a drop.
            self.stats.bu_dropped += 1;
            return;
        };
        // The parsed message carries the authenticator the repr lacked.
        let ba = match MhRepr::parse_bytes(&mh_bytes) {
            Ok(MhRepr::BindingAck(signed)) => signed,
            _ => ba,
        };
        self.stats.ba_sent += 1;
        self.actions.push_back(Action::SendBa(OutgoingBa {
            to_coa: reply.to,
            from: reply.from,
            hoa: reply.hoa,
            ba,
            mh_bytes,
        }));
    }

    /// Answers a rejected BU. Errors are acknowledged whatever the A flag.
    fn reject(
        &mut self,
        now: Instant,
        reply: &Reply,
        coa: Ipv6Addr,
        status: BaStatus,
        sequence: u16,
        mesg_id: Option<u64>,
    ) {
        self.send_ba(reply, status, sequence, 0, mesg_id, None);
        self.count_status(status);
        self.event(
            now,
            EventKind::BuResult {
                hoa: reply.hoa,
                coa,
                sequence: reply.sequence,
                status,
                lifetime: Duration::ZERO,
            },
        );
    }

    fn deregister(&mut self, now: Instant, req: Request) {
        self.cancel_pending(&req.reply.hoa);
        let hoa = req.reply.hoa;
        let Some(entry) = self.entries.remove(&hoa) else {
            // Only a pending first registration was there.
            return self.reject(
                now,
                &req.reply,
                req.coa,
                BaStatus::NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE,
                req.reply.sequence,
                None,
            );
        };
        self.unschedule(&entry);
        Arc::make_mut(&mut self.snapshot).remove(&hoa);
        self.note_mesg_id(&req.reply);
        self.actions.push_back(Action::RemoveBinding {
            hoa,
            coa: entry.info.coa,
            link_local: entry.info.link_local,
        });
        self.event(
            now,
            EventKind::BindingRemoved {
                hoa,
                coa: entry.info.coa,
                reason: RemoveReason::Deregistered,
            },
        );
        if req.reply.ack {
            self.send_ba(
                &req.reply,
                BaStatus::ACCEPTED,
                req.reply.sequence,
                0,
                None,
                None,
            );
        }
        self.count_status(BaStatus::ACCEPTED);
        self.event(
            now,
            EventKind::BuResult {
                hoa,
                coa: req.coa,
                sequence: req.reply.sequence,
                status: BaStatus::ACCEPTED,
                lifetime: Duration::ZERO,
            },
        );
    }

    fn register(&mut self, now: Instant, req: Request) {
        let hoa = req.reply.hoa;
        if self.entries.contains_key(&hoa) || !self.config.dad_before_accept {
            return self.complete(now, req);
        }
        // A first registration: DAD on the home link first (RFC 6275
        // 10.3.1). A later BU replaces the pending one and is the one
        // answered.
        let deadline = match self.pending.get(&hoa) {
            Some(p) => p.deadline,
            None => {
                let deadline = now + self.config.dad_timeout;
                self.timers.insert((deadline, Timer::Dad, hoa));
                self.actions.push_back(Action::StartDad {
                    hoa,
                    link_local: req.link_local,
                });
                self.event(now, EventKind::DadStarted { hoa });
                deadline
            }
        };
        self.pending.insert(hoa, Pending { req, deadline });
    }

    fn cancel_pending(&mut self, hoa: &Ipv6Addr) {
        if let Some(p) = self.pending.remove(hoa) {
            self.timers.remove(&(p.deadline, Timer::Dad, *hoa));
        }
    }

    /// The shell's answer to [`Action::StartDad`]: `ok` when nobody else
    /// holds the home address. A conflict is answered with 134.
    pub fn handle_dad_result(&mut self, now: Instant, hoa: Ipv6Addr, ok: bool) {
        let Some(p) = self.pending.remove(&hoa) else {
            return;
        };
        self.timers.remove(&(p.deadline, Timer::Dad, hoa));
        let req = p.req;
        if !ok {
            return self.reject_request(now, &req, BaStatus::DUPLICATE_ADDRESS_DETECTION_FAILED);
        }
        self.complete(now, req);
    }

    fn note_mesg_id(&mut self, reply: &Reply) {
        if let (Some(ts), Some(idx)) = (reply.mesg_id, reply.policy) {
            let owner = self.policy(idx).home_address;
            self.last_mesg_id.insert(owner, ts);
            self.last_sequence.insert(owner, reply.sequence);
        }
    }

    fn unschedule(&mut self, e: &Entry) {
        self.timers
            .remove(&(e.info.expires, Timer::Expire, e.info.hoa));
        if let Some(t) = e.brr_at {
            self.timers.remove(&(t, Timer::Brr, e.info.hoa));
        }
    }

    fn schedule(&mut self, hoa: Ipv6Addr, expires: Instant, lifetime: Duration) -> Option<Instant> {
        self.timers.insert((expires, Timer::Expire, hoa));
        let brr_at = self
            .config
            .brr_advance
            .filter(|a| *a < lifetime)
            .map(|a| expires - a);
        if let Some(t) = brr_at {
            self.timers.insert((t, Timer::Brr, hoa));
        }
        brr_at
    }

    /// Refuses a BU held for DAD or for the home prefix's lifetime with
    /// `status`, as `reject` does for one refused on arrival.
    fn reject_request(&mut self, now: Instant, req: &Request, status: BaStatus) {
        let seq = req.reply.sequence;
        self.reject(now, &req.reply, req.coa, status, seq, None);
    }

    /// Grants the lifetime and creates or updates the binding (RFC 6275
    /// 10.3.1).
    fn complete(&mut self, now: Instant, req: Request) {
        let hoa = req.reply.hoa;
        let Some(remaining) = self.prefix_remaining(&hoa, now) else {
            return self.reject_request(now, &req, BaStatus::NOT_HOME_SUBNET);
        };
        let wanted = req.requested.min(self.config.max_lifetime);
        let granted = remaining.map_or(wanted, |r| r.min(wanted));
        // Status 1 whenever the home prefix would not last the lifetime
        // asked for, even when our own maximum cut it further: the mobile
        // node should learn the prefix's fate (RFC 6275 10.3.1, 11.7.3).
        let prefix_cut = remaining.is_some_and(|r| r < req.requested);
        let units = lifetime_from_secs(secs_u32(granted));
        if units == 0 {
            // The home prefix has less than one 4-second unit left.
            return self.reject_request(now, &req, BaStatus::NOT_HOME_SUBNET);
        }
        let lifetime = Duration::from_secs(u64::from(lifetime_to_secs(units)));
        let status = if prefix_cut && self.config.prefix_discovery_status {
            BaStatus::ACCEPTED_PREFIX_DISCOVERY_NECESSARY
        } else {
            BaStatus::ACCEPTED
        };
        let expires = now + lifetime;
        let (coa, seq) = (req.coa, req.reply.sequence);
        match self.entries.remove(&hoa) {
            Some(mut e) => {
                self.unschedule(&e);
                let old_coa = e.info.coa;
                e.info.coa = coa;
                e.info.ha_addr = req.reply.from;
                e.info.sequence = seq;
                e.info.flags = req.flags;
                e.info.lifetime = lifetime;
                e.info.updated = now;
                e.info.expires = expires;
                e.info.link_local = req.link_local;
                e.info.counters.accepted += 1;
                if old_coa == coa {
                    e.info.counters.refreshes += 1;
                } else {
                    e.info.counters.moves += 1;
                }
                e.brr_at = self.schedule(hoa, expires, lifetime);
                self.entries.insert(hoa, e);
                self.actions.push_back(Action::UpdateBinding {
                    hoa,
                    old_coa,
                    coa,
                    lifetime,
                });
                self.event(
                    now,
                    EventKind::BindingUpdated {
                        hoa,
                        old_coa,
                        coa,
                        lifetime,
                    },
                );
            }
            None => {
                let brr_at = self.schedule(hoa, expires, lifetime);
                let info = BindingInfo {
                    hoa,
                    coa,
                    ha_addr: req.reply.from,
                    sequence: seq,
                    flags: req.flags,
                    lifetime,
                    created: now,
                    updated: now,
                    expires,
                    link_local: req.link_local,
                    counters: BindingCounters {
                        accepted: 1,
                        ..BindingCounters::default()
                    },
                };
                self.entries.insert(hoa, Entry { info, brr_at });
                self.actions.push_back(Action::InstallBinding {
                    hoa,
                    coa,
                    lifetime,
                    link_local: req.link_local,
                });
                self.event(now, EventKind::BindingCreated { hoa, coa, lifetime });
            }
        }
        if self.snapshot.get(&hoa) != Some(&coa) {
            Arc::make_mut(&mut self.snapshot).insert(hoa, coa);
        }
        self.note_mesg_id(&req.reply);
        if req.reply.ack {
            let advice = self
                .config
                .refresh_advice
                .filter(|a| *a < lifetime)
                .map(|a| lifetime_from_secs(secs_u32(a)).max(1));
            self.send_ba(&req.reply, status, seq, units, None, advice);
        }
        self.count_status(status);
        self.event(
            now,
            EventKind::BuResult {
                hoa,
                coa,
                sequence: seq,
                status,
                lifetime,
            },
        );
    }

    /// Expires bindings, sends Binding Refresh Requests and forgets
    /// unanswered DADs that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(t, kind, hoa)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            match kind {
                Timer::Expire => self.expire(t, hoa),
                Timer::Brr => self.send_brr(t, hoa),
                Timer::Dad => {
                    if self.pending.remove(&hoa).is_some() {
                        self.event(t, EventKind::DadTimedOut { hoa });
                    }
                }
            }
        }
    }

    fn expire(&mut self, at: Instant, hoa: Ipv6Addr) {
        let Some(e) = self.entries.remove(&hoa) else {
            return;
        };
        self.unschedule(&e);
        Arc::make_mut(&mut self.snapshot).remove(&hoa);
        self.actions.push_back(Action::RemoveBinding {
            hoa,
            coa: e.info.coa,
            link_local: e.info.link_local,
        });
        self.event(
            at,
            EventKind::BindingRemoved {
                hoa,
                coa: e.info.coa,
                reason: RemoveReason::Expired,
            },
        );
    }

    fn send_brr(&mut self, at: Instant, hoa: Ipv6Addr) {
        let Some(e) = self.entries.get_mut(&hoa) else {
            return;
        };
        e.brr_at = None;
        let (coa, from) = (e.info.coa, e.info.ha_addr);
        let repr = MhRepr::BindingRefreshRequest(BindingRefreshRequest::default());
        let Ok(mh_bytes) = msg::finish(&repr, None, from, hoa) else {
            return;
        };
        self.stats.brr_sent += 1;
        self.actions.push_back(Action::SendBrr {
            hoa,
            coa,
            from,
            mh_bytes,
        });
        self.event(at, EventKind::BrrSent { hoa, coa });
    }

    /// A rate limit of `binding_error_rate` per second.
    fn binding_error_allowed(&mut self, now: Instant) -> bool {
        match self.be_window {
            Some(start) if now.saturating_duration_since(start) < Duration::from_secs(1) => {}
            _ => {
                self.be_window = Some(now);
                self.be_count = 0;
            }
        }
        if self.be_count < self.config.binding_error_rate {
            self.be_count += 1;
            true
        } else {
            self.stats.binding_errors_suppressed += 1;
            false
        }
    }

    fn send_binding_error(
        &mut self,
        now: Instant,
        to: Ipv6Addr,
        from: Ipv6Addr,
        status: BeStatus,
        hoa: Ipv6Addr,
    ) {
        if !self.binding_error_allowed(now) {
            return;
        }
        let be = BindingError {
            status,
            home_address: hoa,
            options: Vec::new(),
        };
        let Ok(mh_bytes) = msg::finish(&MhRepr::BindingError(be.clone()), None, from, to) else {
            return;
        };
        self.stats.binding_errors_sent += 1;
        self.actions.push_back(Action::SendBindingError {
            to,
            from,
            status,
            be,
            mh_bytes,
        });
        self.event(now, EventKind::BindingErrorSent { to, status });
    }

    /// A packet from `src` to our address `dst` carried a Home Address
    /// option for `hoa`. Without a binding of `hoa` to `src` the shell
    /// drops it and, rate-limited, we answer Binding Error status 1 (RFC
    /// 6275 9.3.1, 9.3.3): a mobile node whose binding we lost (a reboot)
    /// learns it must register again.
    pub fn handle_hao_without_binding(
        &mut self,
        now: Instant,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hoa: Ipv6Addr,
    ) {
        if self.entries.get(&hoa).is_some_and(|e| e.info.coa == src) {
            return;
        }
        self.send_binding_error(
            now,
            src,
            dst,
            BeStatus::UNKNOWN_BINDING_FOR_HOME_ADDRESS_OPTION,
            hoa,
        );
    }

    /// The data plane dropped a packet tunnelled from `coa` (to our
    /// address `ours`) because its inner source `hoa` has no binding to
    /// `coa`: typically a mobile node whose binding we lost in a restart
    /// without the state file. It would tunnel into the void until its next
    /// refresh; a Binding Error status 1 (RFC 6275 9.3.3, rate-limited)
    /// makes it register again at once (11.3.6). Only for home addresses
    /// we would register (configured, or lab mode, on a valid home prefix),
    /// and not while a registration waits for DAD.
    pub fn handle_tunnelled_without_binding(
        &mut self,
        now: Instant,
        coa: Ipv6Addr,
        ours: Ipv6Addr,
        hoa: Ipv6Addr,
    ) {
        if self.entries.get(&hoa).is_some_and(|e| e.info.coa == coa)
            || self.pending.contains_key(&hoa)
            || !(self.by_hoa.contains_key(&hoa) || self.config.allow_unauthenticated)
            || self.prefix_remaining(&hoa, now).is_none()
            || !msg::is_unicast_routable(&coa)
            || !self.config.ha_addresses.contains(&ours)
        {
            return;
        }
        self.send_binding_error(
            now,
            coa,
            ours,
            BeStatus::UNKNOWN_BINDING_FOR_HOME_ADDRESS_OPTION,
            hoa,
        );
    }

    /// A Mobility Header of a type we do not know arrived from `src` (with
    /// `hoa` from its Home Address option, if any): Binding Error status 2
    /// (RFC 6275 9.2), rate-limited.
    pub fn handle_unknown_mh_type(
        &mut self,
        now: Instant,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hoa: Option<Ipv6Addr>,
    ) {
        self.send_binding_error(
            now,
            src,
            dst,
            BeStatus::UNRECOGNIZED_MH_TYPE,
            hoa.unwrap_or(Ipv6Addr::UNSPECIFIED),
        );
    }

    /// Every binding as a record with an absolute expiry (`now_system` is
    /// the wall-clock time at `now`), sorted by home address.
    pub fn export(&self, now_system: SystemTime, now: Instant) -> Vec<BindingRecord> {
        let base = unix_secs(now_system);
        let mut v: Vec<BindingRecord> = self
            .entries
            .values()
            .map(|e| BindingRecord {
                hoa: e.info.hoa,
                coa: e.info.coa,
                ha_addr: e.info.ha_addr,
                sequence: e.info.sequence,
                flags: e.info.flags.0,
                lifetime_secs: e.info.lifetime.as_secs(),
                expires_unix: base + e.info.expires.saturating_duration_since(now).as_secs(),
                link_local: e.info.link_local,
                last_mesg_id: self
                    .by_hoa
                    .get(&e.info.hoa)
                    .and_then(|i| self.last_mesg_id.get(&self.policy(*i).home_address))
                    .copied(),
                spi: self.by_hoa.get(&e.info.hoa).map(|i| self.policy(*i).spi),
            })
            .collect();
        v.sort_by_key(|r| r.hoa);
        v
    }

    /// The replay state of every mobile node that registered and is not
    /// bound now, sorted by home address (a bound node's travels in its
    /// [`BindingRecord`], so a state file of a busy home agent does not
    /// grow by a record per node).
    pub fn replay_records(&self) -> Vec<ReplayRecord> {
        let mut v: Vec<ReplayRecord> = self
            .last_mesg_id
            .iter()
            .filter(|(hoa, _)| !self.entries.contains_key(*hoa))
            .map(|(hoa, ts)| ReplayRecord {
                home_address: *hoa,
                last_mesg_id: *ts,
                last_sequence: self.last_sequence.get(hoa).copied().unwrap_or(0),
            })
            .collect();
        v.sort_by_key(|r| r.home_address);
        v
    }

    /// Takes back [`replay_records`](Self::replay_records) of an earlier
    /// run, for configured mobile nodes only; a newer timestamp already
    /// known wins. Returns how many were taken.
    pub fn restore_replay(&mut self, records: &[ReplayRecord]) -> usize {
        let mut n = 0;
        for r in records {
            if !self.by_hoa.contains_key(&r.home_address) {
                continue;
            }
            let slot = self
                .last_mesg_id
                .entry(r.home_address)
                .or_insert(r.last_mesg_id);
            if *slot <= r.last_mesg_id {
                *slot = r.last_mesg_id;
                self.last_sequence.insert(r.home_address, r.last_sequence);
            }
            n += 1;
        }
        n
    }

    /// Why a stored binding must not come back under this configuration
    /// (`None`: it may). A state file can outlive the configuration that
    /// wrote it, or come from elsewhere: a binding is only served again
    /// for a home address this configuration would accept a BU for, with
    /// the same SPI, to one of our addresses, from a valid care-of address.
    pub fn unrestorable(&self, r: &BindingRecord, now: Instant) -> Option<&'static str> {
        match self.by_hoa.get(&r.hoa) {
            Some(&i) => {
                if r.spi.is_some_and(|spi| spi != self.policy(i).spi) {
                    return Some("its SPI is no longer the home address's");
                }
            }
            None if self.config.allow_unauthenticated && r.spi.is_none() => {}
            None => return Some("home address not configured"),
        }
        if !msg::is_unicast_routable(&r.hoa) || self.prefix_remaining(&r.hoa, now).is_none() {
            return Some("home address not on a home prefix");
        }
        if !self.config.ha_addresses.contains(&r.ha_addr) {
            return Some("not one of our home agent addresses");
        }
        if r.coa == r.hoa || self.coa_is_invalid(&r.coa) || self.by_hoa.contains_key(&r.coa) {
            return Some("care-of address not valid");
        }
        None
    }

    /// Reinstalls exported bindings with what remains of their lifetimes;
    /// expired ones, home addresses already bound, and records
    /// [`unrestorable`](Self::unrestorable) under this configuration are
    /// skipped. Returns how many were restored. Each one gives an
    /// [`Action::InstallBinding`].
    pub fn restore(
        &mut self,
        records: &[BindingRecord],
        now_system: SystemTime,
        now: Instant,
    ) -> usize {
        let base = unix_secs(now_system);
        let mut restored = 0;
        for r in records {
            let remaining = Duration::from_secs(r.expires_unix.saturating_sub(base));
            if remaining.is_zero()
                || self.entries.contains_key(&r.hoa)
                || self.unrestorable(r, now).is_some()
            {
                continue;
            }
            self.cancel_pending(&r.hoa);
            let expires = now + remaining;
            let lifetime = Duration::from_secs(r.lifetime_secs);
            let brr_at = self.schedule(r.hoa, expires, remaining);
            let info = BindingInfo {
                hoa: r.hoa,
                coa: r.coa,
                ha_addr: r.ha_addr,
                sequence: r.sequence,
                flags: BuFlags(r.flags),
                lifetime,
                created: now,
                updated: now,
                expires,
                link_local: r.link_local,
                counters: BindingCounters::default(),
            };
            self.entries.insert(r.hoa, Entry { info, brr_at });
            Arc::make_mut(&mut self.snapshot).insert(r.hoa, r.coa);
            if let Some(ts) = r.last_mesg_id {
                let slot = self.last_mesg_id.entry(r.hoa).or_insert(ts);
                if *slot <= ts {
                    *slot = ts;
                    self.last_sequence.insert(r.hoa, r.sequence);
                }
            }
            self.actions.push_back(Action::InstallBinding {
                hoa: r.hoa,
                coa: r.coa,
                lifetime: remaining,
                link_local: r.link_local,
            });
            self.event(
                now,
                EventKind::BindingRestored {
                    hoa: r.hoa,
                    coa: r.coa,
                    remaining,
                },
            );
            restored += 1;
        }
        restored
    }
}
