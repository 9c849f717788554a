use super::types::*;
use dhcproto::v6::{DhcpOption, DhcpOptions, IAAddr, IANA, Message, MessageType, ORO, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable};
use rand::{Rng, RngCore};
use std::collections::VecDeque;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

/// 0xffffffff on the wire: no end (RFC 8415 7.7).
const INFINITY: u32 = u32::MAX;

/// Retransmission parameters of one message type (RFC 8415 7.6, 15).
#[derive(Debug, Clone, Copy)]
struct Params {
    irt: Duration,
    mrt: Option<Duration>,
    mrc: Option<u32>,
    mrd: Option<Duration>,
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const SOLICIT: Params = Params {
    irt: secs(1),
    mrt: Some(secs(3600)),
    mrc: None,
    mrd: None,
};
const REQUEST: Params = Params {
    irt: secs(1),
    mrt: Some(secs(30)),
    mrc: Some(10),
    mrd: None,
};
const CONFIRM: Params = Params {
    irt: secs(1),
    mrt: Some(secs(4)),
    mrc: None,
    mrd: Some(secs(10)),
};
/// REN_* and REB_*; their MRD is set per lease (until T2, until expiry).
const RENEW: Params = Params {
    irt: secs(10),
    mrt: Some(secs(600)),
    mrc: None,
    mrd: None,
};
const RELEASE: Params = Params {
    irt: secs(1),
    mrt: None,
    mrc: Some(4),
    mrd: None,
};
const INFO: Params = Params {
    irt: secs(1),
    mrt: Some(secs(3600)),
    mrc: None,
    mrd: None,
};
/// SOL_MAX_DELAY and CNF_MAX_DELAY.
const MAX_DELAY: Duration = secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Solicit,
    Request,
    Confirm,
    Renew,
    Rebind,
    Release,
    Decline,
    InfoRequest,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Solicit => "solicit",
            Self::Request => "request",
            Self::Confirm => "confirm",
            Self::Renew => "renew",
            Self::Rebind => "rebind",
            Self::Release => "release",
            Self::Decline => "decline",
            Self::InfoRequest => "information-request",
        }
    }

    fn msg_type(self) -> MessageType {
        match self {
            Self::Solicit => MessageType::Solicit,
            Self::Request => MessageType::Request,
            Self::Confirm => MessageType::Confirm,
            Self::Renew => MessageType::Renew,
            Self::Rebind => MessageType::Rebind,
            Self::Release => MessageType::Release,
            Self::Decline => MessageType::Decline,
            Self::InfoRequest => MessageType::InformationRequest,
        }
    }
}

#[derive(Debug, Clone)]
struct Advert {
    server_id: Vec<u8>,
    addr: Ipv6Addr,
    preference: u8,
}

/// One message and its retransmissions (RFC 8415 15).
#[derive(Debug)]
struct Exchange {
    kind: Kind,
    xid: [u8; 3],
    started: Instant,
    sent: u32,
    rt: Duration,
    next: Instant,
    params: Params,
    deadline: Option<Instant>,
    /// Everything but Elapsed Time, which changes per transmission.
    opts: DhcpOptions,
    /// Solicit: Advertises are collected until the first RT ends (18.2.1).
    collect_until: Option<Instant>,
    best: Option<Advert>,
}

/// What a server said, pulled out of the options we care about.
#[derive(Debug, Default)]
struct Answer {
    server_id: Option<Vec<u8>>,
    status: Option<(u16, String)>,
    preference: u8,
    rapid_commit: bool,
    ia: Option<IaAnswer>,
    dns: Option<Vec<Ipv6Addr>>,
}

#[derive(Debug)]
struct IaAnswer {
    t1: u32,
    t2: u32,
    status: Option<(u16, String)>,
    /// (address, preferred, valid) in seconds.
    addrs: Vec<(Ipv6Addr, u32, u32)>,
}

/// Why a datagram was not taken; the shell logs it at debug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dhcp6Drop {
    Malformed(String),
    NotForUs(&'static str),
    Unexpected(&'static str),
}

/// The DHCPv6 client of one interface (RFC 8415 18.2), IA_NA only.
pub struct Dhcp6 {
    config: Dhcp6Config,
    rng: Box<dyn RngCore + Send>,
    state: Dhcp6State,
    exchange: Option<Exchange>,
    lease: Option<Lease>,
    want_dns: bool,
    dns: Vec<Ipv6Addr>,
    actions: VecDeque<Dhcp6Action>,
    events: VecDeque<Dhcp6Event>,
}

impl std::fmt::Debug for Dhcp6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dhcp6")
            .field("state", &self.state)
            .field("exchange", &self.exchange)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

fn secs_or_infinite(s: u32) -> Option<Duration> {
    (s != INFINITY).then(|| Duration::from_secs(u64::from(s)))
}

/// Lifetimes as durations; "infinite" becomes the longest the u32 field
/// can say, which every consumer treats as forever.
fn lifetime(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

fn status_of(opts: &DhcpOptions) -> Option<(u16, String)> {
    match opts.get(OptionCode::StatusCode) {
        Some(DhcpOption::StatusCode(s)) => Some((u16::from(s.status), s.msg.clone())),
        _ => None,
    }
}

const SUCCESS: u16 = 0;
const NO_BINDING: u16 = 3;
const NOT_ON_LINK: u16 = 4;

impl Dhcp6 {
    /// `rng` drives the retransmission jitter and transaction ids, so a test
    /// with a seeded generator replays exactly.
    pub fn new(config: Dhcp6Config, rng: Box<dyn RngCore + Send>) -> Self {
        Self {
            config,
            rng,
            state: Dhcp6State::Idle,
            exchange: None,
            lease: None,
            want_dns: false,
            dns: Vec::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn state(&self) -> Dhcp6State {
        self.state
    }

    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    pub fn dns(&self) -> &[Ipv6Addr] {
        &self.dns
    }

    /// Whether actions or events wait to be polled.
    pub fn has_output(&self) -> bool {
        !self.actions.is_empty() || !self.events.is_empty()
    }

    /// Drops the lease without a word to its server: we are on another
    /// link (its prefixes do not cover the address), where a Confirm would
    /// only cost a round trip to learn NotOnLink, and the server that gave
    /// it is out of reach for a Release.
    pub fn forget(&mut self, now: Instant) {
        if let Some(l) = self.lease.take() {
            self.actions
                .push_back(Dhcp6Action::RemoveAddress { addr: l.addr });
            self.event(now, Dhcp6EventKind::NotOnLink { addr: l.addr });
        }
    }

    pub fn poll_action(&mut self) -> Option<Dhcp6Action> {
        self.actions.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Dhcp6Event> {
        self.events.pop_front()
    }

    fn event(&mut self, at: Instant, kind: Dhcp6EventKind) {
        self.events.push_back(Dhcp6Event { at, kind });
    }

    fn set_state(&mut self, now: Instant, to: Dhcp6State) {
        if self.state != to {
            let from = self.state;
            self.state = to;
            self.event(now, Dhcp6EventKind::State { from, to });
        }
    }

    /// The link wants DHCPv6: `stateful` (M=1, or configured) asks for an
    /// address, otherwise only other configuration (O=1); `want_dns` adds
    /// option 23 to the Option Request. A client that is already at work
    /// carries on; one that holds a lease from before confirms it (18.2.3).
    pub fn start(&mut self, now: Instant, stateful: bool, want_dns: bool) {
        self.want_dns = want_dns;
        if stateful {
            match self.state {
                Dhcp6State::Idle | Dhcp6State::InformationRequest | Dhcp6State::Informed => {}
                _ => return,
            }
            if self.lease.as_ref().is_some_and(|l| l.valid_until > now) {
                self.begin(now, Kind::Confirm);
            } else {
                self.lease = None;
                self.begin(now, Kind::Solicit);
            }
        } else if self.state == Dhcp6State::Idle && want_dns {
            self.begin(now, Kind::InfoRequest);
        }
    }

    /// The carrier went: whatever was under way is void. The lease is kept
    /// to be confirmed if we come back (RFC 8415 18.2.3); until then the
    /// address is off the interface.
    pub fn handle_link_down(&mut self, now: Instant) {
        self.exchange = None;
        if let Some(l) = &self.lease {
            let addr = l.addr;
            self.actions.push_back(Dhcp6Action::RemoveAddress { addr });
        }
        self.set_state(now, Dhcp6State::Idle);
    }

    /// We are leaving the link for good (or shutting down): stop using the
    /// address and give it back (RFC 8415 18.2.7).
    pub fn release(&mut self, now: Instant) {
        let Some(l) = self.lease.take() else {
            self.exchange = None;
            self.set_state(now, Dhcp6State::Idle);
            return;
        };
        if self.state == Dhcp6State::Idle {
            // Off the lease's link (the carrier went, nothing confirmed
            // since): its server is out of reach. The lease just lapses.
            self.actions
                .push_back(Dhcp6Action::RemoveAddress { addr: l.addr });
            return;
        }
        self.actions
            .push_back(Dhcp6Action::RemoveAddress { addr: l.addr });
        self.event(now, Dhcp6EventKind::Released { addr: l.addr });
        let opts = self.base_opts(Some(&l.server_id), Some(l.addr), false);
        self.begin_with(now, Kind::Release, opts, None);
    }

    /// DAD found another holder of the leased address: decline it and ask
    /// again (RFC 8415 18.2.8).
    pub fn handle_dad_conflict(&mut self, now: Instant, addr: Ipv6Addr) {
        if self.lease.as_ref().is_none_or(|l| l.addr != addr) {
            return;
        }
        let Some(l) = self.lease.take() else { return };
        self.actions.push_back(Dhcp6Action::RemoveAddress { addr });
        self.event(now, Dhcp6EventKind::Declined { addr });
        let opts = self.base_opts(Some(&l.server_id), Some(addr), false);
        self.begin_with(now, Kind::Decline, opts, None);
    }

    /// The earliest moment `handle_timeout` has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        if let Some(x) = &self.exchange {
            at(Some(x.next));
            if x.best.is_some() {
                at(x.collect_until);
            }
        }
        if let Some(l) = &self.lease {
            match self.state {
                Dhcp6State::Bound => {
                    at(l.t1_at);
                    at(l.t2_at);
                    at(Some(l.valid_until));
                }
                Dhcp6State::Renewing | Dhcp6State::Rebinding | Dhcp6State::Confirming => {
                    at(Some(l.valid_until));
                }
                _ => {}
            }
        }
        t
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(l) = &self.lease
            && l.valid_until <= now
            && matches!(
                self.state,
                Dhcp6State::Bound
                    | Dhcp6State::Renewing
                    | Dhcp6State::Rebinding
                    | Dhcp6State::Confirming
            )
        {
            let addr = l.addr;
            self.lease = None;
            self.actions.push_back(Dhcp6Action::RemoveAddress { addr });
            self.event(now, Dhcp6EventKind::Expired { addr });
            self.begin(now, Kind::Solicit);
            return;
        }
        if self.state == Dhcp6State::Bound
            && let Some(l) = &self.lease
        {
            if l.t2_at.is_some_and(|t| t <= now) {
                self.begin(now, Kind::Rebind);
            } else if l.t1_at.is_some_and(|t| t <= now) {
                self.begin(now, Kind::Renew);
            }
        }
        let Some(x) = &self.exchange else { return };
        if x.kind == Kind::Solicit && x.best.is_some() && x.collect_until.is_some_and(|c| c <= now)
        {
            self.request_best(now);
            return;
        }
        if x.next > now {
            return;
        }
        let out_of_count = x.params.mrc.is_some_and(|m| x.sent >= m);
        let out_of_time = x.deadline.is_some_and(|d| d <= now);
        if x.sent > 0 && (out_of_count || out_of_time) {
            self.gave_up(now);
        } else {
            self.transmit(now);
        }
    }

    fn base_opts(
        &self,
        server_id: Option<&[u8]>,
        addr: Option<Ipv6Addr>,
        oro: bool,
    ) -> DhcpOptions {
        let mut opts = DhcpOptions::new();
        opts.insert(DhcpOption::ClientId(self.config.duid.clone()));
        if let Some(s) = server_id {
            opts.insert(DhcpOption::ServerId(s.to_vec()));
        }
        let mut ia = IANA {
            id: self.config.iaid,
            t1: 0,
            t2: 0,
            opts: DhcpOptions::new(),
        };
        if let Some(addr) = addr {
            ia.opts.insert(DhcpOption::IAAddr(IAAddr {
                addr,
                preferred_life: 0,
                valid_life: 0,
                opts: DhcpOptions::new(),
            }));
        }
        opts.insert(DhcpOption::IANA(ia));
        if oro {
            let mut codes = vec![OptionCode::SolMaxRt];
            if self.want_dns {
                codes.push(OptionCode::DomainNameServers);
            }
            opts.insert(DhcpOption::ORO(ORO { opts: codes }));
        }
        opts
    }

    fn begin(&mut self, now: Instant, kind: Kind) {
        let (server_id, addr) = match &self.lease {
            Some(l) => (Some(l.server_id.clone()), Some(l.addr)),
            None => (None, None),
        };
        let opts = match kind {
            Kind::Solicit => {
                let mut o = self.base_opts(None, None, true);
                if self.config.rapid_commit {
                    o.insert(DhcpOption::RapidCommit);
                }
                o
            }
            Kind::Renew => self.base_opts(server_id.as_deref(), addr, true),
            Kind::Rebind => self.base_opts(None, addr, true),
            Kind::Confirm => self.base_opts(None, addr, false),
            Kind::InfoRequest => {
                let mut o = DhcpOptions::new();
                o.insert(DhcpOption::ClientId(self.config.duid.clone()));
                let mut codes = vec![OptionCode::InfMaxRt];
                if self.want_dns {
                    codes.push(OptionCode::DomainNameServers);
                }
                o.insert(DhcpOption::ORO(ORO { opts: codes }));
                o
            }
            // Built by their callers, which know the server and address.
            Kind::Request | Kind::Release | Kind::Decline => return,
        };
        let deadline = match kind {
            Kind::Renew => self.lease.as_ref().and_then(|l| l.t2_at),
            Kind::Rebind => self.lease.as_ref().map(|l| l.valid_until),
            _ => None,
        };
        self.begin_with(now, kind, opts, deadline);
    }

    fn begin_with(
        &mut self,
        now: Instant,
        kind: Kind,
        opts: DhcpOptions,
        deadline: Option<Instant>,
    ) {
        let params = match kind {
            Kind::Solicit => SOLICIT,
            Kind::Request => REQUEST,
            Kind::Confirm => CONFIRM,
            Kind::Renew | Kind::Rebind => RENEW,
            Kind::Release | Kind::Decline => RELEASE,
            Kind::InfoRequest => INFO,
        };
        let delay = if matches!(kind, Kind::Solicit | Kind::Confirm | Kind::InfoRequest)
            && !self.config.skip_initial_delay
        {
            Duration::from_micros(self.rng.random_range(0..MAX_DELAY.as_micros() as u64))
        } else {
            Duration::ZERO
        };
        let mut xid = [0u8; 3];
        self.rng.fill_bytes(&mut xid);
        self.exchange = Some(Exchange {
            kind,
            xid,
            started: now + delay,
            sent: 0,
            rt: params.irt,
            next: now + delay,
            params,
            deadline: deadline.or(params.mrd.map(|d| now + delay + d)),
            opts,
            collect_until: None,
            best: None,
        });
        let state = match kind {
            Kind::Solicit => Dhcp6State::Soliciting,
            Kind::Request => Dhcp6State::Requesting,
            Kind::Confirm => Dhcp6State::Confirming,
            Kind::Renew => Dhcp6State::Renewing,
            Kind::Rebind => Dhcp6State::Rebinding,
            Kind::Release => Dhcp6State::Releasing,
            Kind::Decline => Dhcp6State::Declining,
            Kind::InfoRequest => Dhcp6State::InformationRequest,
        };
        self.set_state(now, state);
        if delay.is_zero() {
            self.transmit(now);
        }
    }

    /// RAND in [-0.1, 0.1], or (0, 0.1] for the first Solicit (RFC 8415 15).
    fn jitter(&mut self, base: Duration, positive: bool) -> Duration {
        let f: f64 = if positive {
            self.rng.random_range(0.0..0.1) + f64::EPSILON
        } else {
            self.rng.random_range(-0.1..=0.1)
        };
        let b = base.as_secs_f64();
        Duration::from_secs_f64((b + f * b).max(0.0))
    }

    fn transmit(&mut self, now: Instant) {
        let Some(x) = self.exchange.as_ref() else {
            return;
        };
        let (kind, sent, rt, params) = (x.kind, x.sent, x.rt, x.params);
        let rt = if sent == 0 {
            self.jitter(params.irt, kind == Kind::Solicit)
        } else {
            let doubled = self.jitter(rt * 2, false);
            match params.mrt {
                Some(mrt) if doubled > mrt => self.jitter(mrt, false),
                _ => doubled,
            }
        };
        let Some(x) = self.exchange.as_mut() else {
            return;
        };
        // Elapsed Time: hundredths of a second since the exchange began,
        // 0 in the first message (RFC 8415 21.9).
        let elapsed = if sent == 0 {
            0
        } else {
            u16::try_from(now.saturating_duration_since(x.started).as_millis() / 10)
                .unwrap_or(u16::MAX)
        };
        let mut msg = Message::new_with_id(kind.msg_type(), x.xid);
        let mut opts = x.opts.clone();
        opts.insert(DhcpOption::ElapsedTime(elapsed));
        msg.set_opts(opts);
        x.sent += 1;
        x.rt = rt;
        x.next = now + rt;
        if let Some(d) = x.deadline {
            x.next = x.next.min(d.max(now));
        }
        if sent == 0 && kind == Kind::Solicit {
            x.collect_until = Some(now + rt);
        }
        let attempt = x.sent;
        let dst = ALL_DHCP_SERVERS;
        match msg.to_vec() {
            Ok(payload) => self.actions.push_back(Dhcp6Action::Send { dst, payload }),
            // Only our own options go in; nothing here can fail to encode.
            Err(_) => return,
        }
        self.event(
            now,
            Dhcp6EventKind::Sent {
                msg: kind.name(),
                attempt,
            },
        );
    }

    fn gave_up(&mut self, now: Instant) {
        let Some(x) = self.exchange.take() else {
            return;
        };
        self.event(now, Dhcp6EventKind::GaveUp { msg: x.kind.name() });
        match x.kind {
            Kind::Request | Kind::Decline => self.begin(now, Kind::Solicit),
            Kind::Confirm => {
                if let Some(l) = &self.lease {
                    let addr = l.addr;
                    self.event(now, Dhcp6EventKind::ConfirmUnanswered { addr });
                    self.resume(now);
                } else {
                    self.begin(now, Kind::Solicit);
                }
            }
            Kind::Renew => self.begin(now, Kind::Rebind),
            Kind::Rebind => {
                // handle_timeout expires the lease at the same deadline.
                self.set_state(now, Dhcp6State::Bound);
                self.handle_timeout(now);
            }
            Kind::Release => self.set_state(now, Dhcp6State::Idle),
            Kind::Solicit | Kind::InfoRequest => {}
        }
    }

    /// Back in business with the lease we hold: address on, timers on.
    fn resume(&mut self, now: Instant) {
        let Some(l) = &self.lease else { return };
        let valid = l.valid_until.saturating_duration_since(now);
        let preferred = l.preferred_until.saturating_duration_since(now);
        let addr = l.addr;
        self.actions.push_back(Dhcp6Action::ConfigureAddress {
            addr,
            valid,
            preferred,
        });
        self.set_state(now, Dhcp6State::Bound);
    }

    fn request_best(&mut self, now: Instant) {
        let Some(best) = self.exchange.as_mut().and_then(|x| x.best.take()) else {
            return;
        };
        let opts = self.base_opts(Some(&best.server_id), Some(best.addr), true);
        self.begin_with(now, Kind::Request, opts, None);
    }

    /// A datagram arrived on port 546 from `src`.
    pub fn handle_message(
        &mut self,
        now: Instant,
        src: Ipv6Addr,
        bytes: &[u8],
    ) -> Result<(), Dhcp6Drop> {
        let msg = Message::decode(&mut Decoder::new(bytes))
            .map_err(|e| Dhcp6Drop::Malformed(e.to_string()))?;
        let Some(x) = &self.exchange else {
            return Err(Dhcp6Drop::Unexpected("no exchange under way"));
        };
        if msg.xid() != x.xid {
            return Err(Dhcp6Drop::NotForUs("transaction id"));
        }
        match msg.opts().get(OptionCode::ClientId) {
            Some(DhcpOption::ClientId(id)) if *id == self.config.duid => {}
            _ => return Err(Dhcp6Drop::NotForUs("client identifier")),
        }
        let answer = self.answer(&msg);
        if answer.server_id.is_none() {
            return Err(Dhcp6Drop::Malformed("no server identifier".into()));
        }
        let kind = x.kind;
        match (msg.msg_type(), kind) {
            (MessageType::Advertise, Kind::Solicit) => self.on_advertise(now, src, answer),
            (MessageType::Reply, Kind::Solicit) => {
                // Only a two-message exchange we asked for (18.2.10).
                if !(answer.rapid_commit && self.config.rapid_commit) {
                    return Err(Dhcp6Drop::Unexpected(
                        "reply to solicit without rapid commit",
                    ));
                }
                self.on_lease_reply(now, src, answer, true)
            }
            (MessageType::Reply, Kind::Request) => self.on_lease_reply(now, src, answer, false),
            (MessageType::Reply, Kind::Renew | Kind::Rebind) => {
                self.on_renew_reply(now, src, answer, kind)
            }
            (MessageType::Reply, Kind::Confirm) => self.on_confirm_reply(now, answer),
            (MessageType::Reply, Kind::Release) => {
                self.exchange = None;
                self.set_state(now, Dhcp6State::Idle);
                Ok(())
            }
            (MessageType::Reply, Kind::Decline) => {
                self.exchange = None;
                self.begin(now, Kind::Solicit);
                Ok(())
            }
            (MessageType::Reply, Kind::InfoRequest) => {
                self.exchange = None;
                if let Some(d) = answer.dns {
                    self.set_dns(now, d);
                }
                self.set_state(now, Dhcp6State::Informed);
                Ok(())
            }
            _ => Err(Dhcp6Drop::Unexpected("message type")),
        }
    }

    fn answer(&self, msg: &Message) -> Answer {
        let mut a = Answer::default();
        for o in msg.opts().iter() {
            match o {
                DhcpOption::ServerId(s) => a.server_id = Some(s.clone()),
                DhcpOption::StatusCode(s) => {
                    a.status = Some((u16::from(s.status), s.msg.clone()));
                }
                DhcpOption::Preference(p) => a.preference = *p,
                DhcpOption::RapidCommit => a.rapid_commit = true,
                DhcpOption::DomainNameServers(d) => a.dns = Some(d.clone()),
                DhcpOption::IANA(ia) if ia.id == self.config.iaid => {
                    let addrs = ia
                        .opts
                        .iter()
                        .filter_map(|o| match o {
                            // RFC 8415 18.2.10.1: a preferred lifetime above
                            // the valid one is discarded.
                            DhcpOption::IAAddr(a)
                                if a.preferred_life <= a.valid_life
                                    && !matches!(
                                        status_of(&a.opts).map(|s| s.0),
                                        Some(c) if c != SUCCESS
                                    ) =>
                            {
                                Some((a.addr, a.preferred_life, a.valid_life))
                            }
                            _ => None,
                        })
                        .collect();
                    a.ia = Some(IaAnswer {
                        t1: ia.t1,
                        t2: ia.t2,
                        status: status_of(&ia.opts),
                        addrs,
                    });
                }
                _ => {}
            }
        }
        a
    }

    fn report_status(&mut self, now: Instant, s: &Option<(u16, String)>) -> bool {
        match s {
            Some((code, message)) if *code != SUCCESS => {
                let (code, message) = (*code, message.clone());
                self.event(now, Dhcp6EventKind::Status { code, message });
                true
            }
            _ => false,
        }
    }

    fn on_advertise(&mut self, now: Instant, src: Ipv6Addr, a: Answer) -> Result<(), Dhcp6Drop> {
        if self.report_status(now, &a.status) {
            return Err(Dhcp6Drop::Unexpected("advertise with an error status"));
        }
        let Some(ia) = a.ia else {
            return Err(Dhcp6Drop::Unexpected("advertise without our IA_NA"));
        };
        if self.report_status(now, &ia.status) {
            return Err(Dhcp6Drop::Unexpected("advertise without addresses"));
        }
        let Some(&(addr, _, valid)) = ia.addrs.iter().find(|(_, _, v)| *v > 0) else {
            return Err(Dhcp6Drop::Unexpected("advertise without addresses"));
        };
        let _ = valid;
        let server_id = a.server_id.unwrap_or_default();
        let preference = a.preference;
        self.event(
            now,
            Dhcp6EventKind::Advertised {
                server: src,
                addr,
                preference,
            },
        );
        let Some(x) = self.exchange.as_mut() else {
            return Ok(());
        };
        if x.best.as_ref().is_none_or(|b| preference > b.preference) {
            x.best = Some(Advert {
                server_id,
                addr,
                preference,
            });
        }
        // Act at once on the best possible server, or on any server once the
        // first RT is over (18.2.1, 18.2.9).
        if preference == 255 || x.collect_until.is_none_or(|c| c <= now) {
            self.request_best(now);
        }
        Ok(())
    }

    /// A Reply granted or extended `addr`: the shell (re)configures it
    /// with these lifetimes, takes the DNS servers it carried, and the
    /// client is bound.
    fn install(
        &mut self,
        now: Instant,
        addr: Ipv6Addr,
        valid: u32,
        preferred: u32,
        dns: Option<Vec<Ipv6Addr>>,
    ) {
        if let Some(d) = dns {
            self.set_dns(now, d);
        }
        self.actions.push_back(Dhcp6Action::ConfigureAddress {
            addr,
            valid: lifetime(valid),
            preferred: lifetime(preferred),
        });
        self.set_state(now, Dhcp6State::Bound);
    }

    fn set_dns(&mut self, now: Instant, servers: Vec<Ipv6Addr>) {
        if servers != self.dns {
            self.dns = servers.clone();
            self.actions.push_back(Dhcp6Action::SetDns(servers.clone()));
            self.event(now, Dhcp6EventKind::Dns { servers });
        }
    }

    /// T1 and T2 (RFC 8415 21.4): 0 leaves the choice to us (0.5 and 0.8 of
    /// the shortest preferred lifetime, 18.2.4); infinity never.
    fn timers(
        now: Instant,
        t1: u32,
        t2: u32,
        preferred: u32,
    ) -> (Option<Instant>, Option<Instant>) {
        let pick = |t: u32, num: u64| match t {
            0 if preferred == INFINITY => None,
            0 => Some(now + Duration::from_secs(u64::from(preferred) * num / 10)),
            t => secs_or_infinite(t).map(|d| now + d),
        };
        (pick(t1, 5), pick(t2, 8))
    }

    fn on_lease_reply(
        &mut self,
        now: Instant,
        src: Ipv6Addr,
        a: Answer,
        rapid_commit: bool,
    ) -> Result<(), Dhcp6Drop> {
        if let Some((NOT_ON_LINK, _)) = &a.status {
            self.report_status(now, &a.status);
            self.exchange = None;
            self.begin(now, Kind::Solicit);
            return Ok(());
        }
        if self.report_status(now, &a.status) {
            return Err(Dhcp6Drop::Unexpected("reply with an error status"));
        }
        let ia = match a.ia {
            Some(ia) if ia.t2 == 0 || ia.t1 <= ia.t2 => ia,
            _ => return Err(Dhcp6Drop::Unexpected("reply without a usable IA_NA")),
        };
        let got = ia.addrs.iter().find(|(_, _, v)| *v > 0).copied();
        let Some((addr, preferred, valid)) = got else {
            // NoAddrsAvail: this server has nothing for us; start over.
            self.report_status(now, &ia.status);
            if rapid_commit {
                return Err(Dhcp6Drop::Unexpected(
                    "rapid-commit reply without addresses",
                ));
            }
            self.exchange = None;
            self.begin(now, Kind::Solicit);
            return Ok(());
        };
        self.exchange = None;
        let (t1_at, t2_at) = Self::timers(now, ia.t1, ia.t2, preferred);
        let lease = Lease {
            addr,
            server_id: a.server_id.unwrap_or_default(),
            server: src,
            obtained: now,
            t1_at,
            t2_at,
            preferred_until: now + lifetime(preferred),
            valid_until: now + lifetime(valid),
            dns: a.dns.clone().unwrap_or_default(),
            rapid_commit,
        };
        self.lease = Some(lease);
        self.event(
            now,
            Dhcp6EventKind::Leased {
                addr,
                server: src,
                valid: lifetime(valid),
                preferred: lifetime(preferred),
                t1: t1_at.map(|t| t - now),
                t2: t2_at.map(|t| t - now),
                rapid_commit,
            },
        );
        self.install(now, addr, valid, preferred, a.dns);
        Ok(())
    }

    fn on_renew_reply(
        &mut self,
        now: Instant,
        src: Ipv6Addr,
        a: Answer,
        kind: Kind,
    ) -> Result<(), Dhcp6Drop> {
        if self.report_status(now, &a.status) {
            // UnspecFail and the like: keep retransmitting (18.2.10).
            return Err(Dhcp6Drop::Unexpected("reply with an error status"));
        }
        let Some(lease) = self.lease.clone() else {
            return Err(Dhcp6Drop::Unexpected("no lease"));
        };
        let Some(ia) = a.ia else {
            return Err(Dhcp6Drop::Unexpected("reply without our IA_NA"));
        };
        let ours = ia
            .addrs
            .iter()
            .find(|(ad, _, _)| *ad == lease.addr)
            .copied();
        let no_binding = matches!(&ia.status, Some((NO_BINDING, _)));
        match ours {
            Some((addr, preferred, valid)) if valid > 0 && !no_binding => {
                self.exchange = None;
                let (t1_at, t2_at) = Self::timers(now, ia.t1, ia.t2, preferred);
                if let Some(l) = self.lease.as_mut() {
                    l.t1_at = t1_at;
                    l.t2_at = t2_at;
                    l.preferred_until = now + lifetime(preferred);
                    l.valid_until = now + lifetime(valid);
                    l.server = src;
                    if let Some(s) = &a.server_id {
                        l.server_id = s.clone();
                    }
                }
                self.event(
                    now,
                    Dhcp6EventKind::Renewed {
                        addr,
                        valid: lifetime(valid),
                        by: kind.name(),
                    },
                );
                self.install(now, addr, valid, preferred, a.dns);
            }
            _ => {
                // The server no longer binds the address to us (NoBinding,
                // or lifetime 0): ask for one again with a Request (18.2.10.1).
                self.report_status(now, &ia.status);
                self.exchange = None;
                self.lease = None;
                self.actions
                    .push_back(Dhcp6Action::RemoveAddress { addr: lease.addr });
                let server_id = a.server_id.unwrap_or(lease.server_id);
                let opts = self.base_opts(Some(&server_id), Some(lease.addr), true);
                self.begin_with(now, Kind::Request, opts, None);
            }
        }
        Ok(())
    }

    fn on_confirm_reply(&mut self, now: Instant, a: Answer) -> Result<(), Dhcp6Drop> {
        self.exchange = None;
        let Some(addr) = self.lease.as_ref().map(|l| l.addr) else {
            self.begin(now, Kind::Solicit);
            return Ok(());
        };
        match &a.status {
            Some((NOT_ON_LINK, _)) => {
                self.event(now, Dhcp6EventKind::NotOnLink { addr });
                self.lease = None;
                self.begin(now, Kind::Solicit);
            }
            Some((code, _)) if *code != SUCCESS => {
                // Not a verdict on the link: keep the lease, as if unanswered.
                self.report_status(now, &a.status);
                self.event(now, Dhcp6EventKind::ConfirmUnanswered { addr });
                self.resume(now);
            }
            _ => {
                self.event(now, Dhcp6EventKind::Confirmed { addr });
                self.resume(now);
            }
        }
        Ok(())
    }
}
