use std::collections::VecDeque;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use super::types::*;
use crate::binding::msg::{self, KnownOptions};
use crate::binding::ntp::{WallClock, ntp_duration};
use crate::wire::mh::{
    BaStatus, BeStatus, BindingAck, BindingUpdate, BuFlags, MhOption, MhRepr, lifetime_from_secs,
    lifetime_to_secs, mn_ha_verify, mn_id_subtype,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Unknown,
    Away(Ipv6Addr),
    Home,
}

/// The BU in flight.
#[derive(Debug, Clone, Copy)]
struct Outstanding {
    seq: u16,
    coa: Ipv6Addr,
    dereg: bool,
    sent_at: Instant,
    /// The first BU of this attempt (for latency).
    started_at: Instant,
    timeout: Duration,
    retransmission: u32,
    mesg_id: Option<u64>,
    resyncs: u8,
    /// Held back by MAX_UPDATE_RATE: goes out at `sent_at`.
    held: bool,
}

/// RFC 6275 12: MAX_UPDATE_RATE, Binding Updates per second at most
/// (11.8).
const MAX_UPDATE_RATE: usize = 3;

/// The mobile node's home registration. See the module docs.
pub struct HomeRegistration {
    config: RegistrationConfig,
    seq: u16,
    location: Location,
    outstanding: Option<Outstanding>,
    binding: Option<GrantedBinding>,
    retry_at: Option<Instant>,
    /// Gave up with no retry planned: wait for a new care-of address.
    parked: bool,
    wall: WallClock,
    /// Added to our clock for timestamps, in NTP units (RFC 4285 6 resync).
    ntp_offset: i128,
    last_ts: u64,
    /// When the last MAX_UPDATE_RATE BUs went out, oldest first.
    recent_bus: VecDeque<Instant>,
    /// The care-of address's valid lifetime ends here (RFC 6275 11.7.1:
    /// a binding must not outlive its care-of address).
    coa_valid_until: Option<(Ipv6Addr, Instant)>,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
}

impl std::fmt::Debug for HomeRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HomeRegistration")
            .field("config", &self.config)
            .field("seq", &self.seq)
            .field("location", &self.location)
            .field("outstanding", &self.outstanding)
            .field("binding", &self.binding)
            .field("retry_at", &self.retry_at)
            .finish_non_exhaustive()
    }
}

fn mul_duration(d: Duration, f: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * f.clamp(0.0, 1.0)).unwrap_or(d)
}

impl HomeRegistration {
    /// `ntp_now` is the wall-clock time at `now` as an NTP timestamp (see
    /// [`crate::binding::ntp`]).
    pub fn new(config: RegistrationConfig, now: Instant, ntp_now: u64) -> Self {
        Self {
            seq: config.initial_sequence,
            config,
            location: Location::Unknown,
            outstanding: None,
            binding: None,
            retry_at: None,
            parked: false,
            wall: WallClock::new(now, ntp_now),
            ntp_offset: 0,
            last_ts: 0,
            recent_bus: VecDeque::new(),
            coa_valid_until: None,
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &RegistrationConfig {
        &self.config
    }

    /// A fresh wall-clock sample (NTP time `ntp` at `now`).
    pub fn set_wall_clock(&mut self, now: Instant, ntp: u64) {
        self.wall = WallClock::new(now, ntp);
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The sequence number of the last BU sent.
    pub fn sequence(&self) -> u16 {
        self.seq
    }

    /// The binding the home agent granted, while it lasts.
    pub fn binding(&self) -> Option<&GrantedBinding> {
        self.binding.as_ref()
    }

    pub fn state(&self) -> RegistrationState {
        match (&self.outstanding, self.location) {
            (Some(o), _) if o.dereg => RegistrationState::Deregistering,
            (Some(_), _) => RegistrationState::Registering,
            (None, _) if self.retry_at.is_some() || self.parked => RegistrationState::Failed,
            (None, Location::Home) => RegistrationState::AtHome,
            (None, Location::Away(_)) if self.binding.is_some() => RegistrationState::Registered,
            (None, Location::Away(_)) => RegistrationState::Failed,
            (None, Location::Unknown) => RegistrationState::Idle,
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        consider(self.outstanding.map(|o| {
            if o.held {
                o.sent_at
            } else {
                o.sent_at + o.timeout
            }
        }));
        consider(self.binding.map(|b| b.expires));
        if self.outstanding.is_none() && matches!(self.location, Location::Away(_)) {
            consider(self.binding.map(|b| b.refresh_at));
        }
        consider(self.retry_at);
        t
    }

    fn event(&mut self, at: Instant, kind: EventKind) {
        self.events.push_back(Event { at, kind });
    }

    fn ignore(&mut self, now: Instant, reason: &'static str) {
        self.event(now, EventKind::BaIgnored { reason });
    }

    /// The next Mesg-ID: our clock plus the learned offset, and always more
    /// than the previous one.
    fn next_timestamp(&mut self, now: Instant) -> u64 {
        let local = i128::from(self.wall.ntp_at(now)) + self.ntp_offset;
        let local = u64::try_from(local.max(0)).unwrap_or(u64::MAX);
        let ts = local.max(self.last_ts.saturating_add(1));
        self.last_ts = ts;
        ts
    }

    /// The lifetime to ask for: the configured one, cut to what remains of
    /// the care-of address's valid lifetime (RFC 6275 11.7.1).
    fn requested_units(&self, now: Instant, coa: Ipv6Addr) -> u16 {
        let mut want = self.config.lifetime;
        if let Some((c, until)) = self.coa_valid_until
            && c == coa
        {
            want = want.min(until.saturating_duration_since(now));
        }
        let secs = u32::try_from(want.as_secs()).unwrap_or(u32::MAX);
        lifetime_from_secs(secs).max(1)
    }

    /// Builds, signs and queues one BU and makes it the one in flight.
    /// After a sequence number or timestamp resynchronisation: the same
    /// registration again with a fresh BU and the first timeout, one more
    /// resync counted.
    fn resend_resynced(&mut self, now: Instant, out: Outstanding) {
        let t = self.config.initial_bindack_timeout;
        self.send_bu(
            now,
            out.coa,
            out.dereg,
            t,
            0,
            out.started_at,
            out.resyncs + 1,
        );
    }

    /// Makes one BU the one in flight and sends it, or holds it back until
    /// MAX_UPDATE_RATE allows it (RFC 6275 11.8).
    #[allow(clippy::too_many_arguments)]
    fn send_bu(
        &mut self,
        now: Instant,
        coa: Ipv6Addr,
        dereg: bool,
        timeout: Duration,
        retransmission: u32,
        started_at: Instant,
        resyncs: u8,
    ) {
        let earliest = match self.recent_bus.front() {
            Some(&oldest) if self.recent_bus.len() >= MAX_UPDATE_RATE => {
                oldest + Duration::from_secs(1)
            }
            _ => now,
        };
        self.outstanding = Some(Outstanding {
            seq: self.seq,
            coa,
            dereg,
            sent_at: earliest.max(now),
            started_at,
            timeout,
            retransmission,
            mesg_id: None,
            resyncs,
            held: true,
        });
        if earliest <= now {
            self.emit_bu(now);
        }
    }

    /// Builds and sends the held BU in flight.
    fn emit_bu(&mut self, now: Instant) {
        let Some(out) = self.outstanding.filter(|o| o.held) else {
            return;
        };
        let (coa, dereg) = (out.coa, out.dereg);
        self.seq = self.seq.wrapping_add(1);
        let hoa = self.config.home_address;
        let ha = self.config.home_agent;
        let lifetime = if dereg {
            0
        } else {
            self.requested_units(now, coa)
        };
        let mut options = Vec::new();
        if let Some(nai) = &self.config.nai {
            options.push(MhOption::MobileNodeId {
                subtype: mn_id_subtype::NAI,
                identifier: nai.as_bytes().to_vec(),
            });
        }
        // RFC 6275 11.7.1: every home registration away from home names
        // its care-of address in the option, so the authenticator covers
        // it (6.2.7).
        if coa != hoa {
            options.push(MhOption::AltCareOfAddress(coa));
        }
        let mesg_id = if self.config.key.is_some() {
            let ts = self.next_timestamp(now);
            options.push(MhOption::ReplayProtection { timestamp: ts });
            options.push(msg::mn_ha_placeholder(self.config.spi));
            Some(ts)
        } else {
            None
        };
        let flags = (BuFlags::A | BuFlags::H).with(BuFlags::L, self.config.link_local_compat);
        let bu = BindingUpdate {
            sequence: self.seq,
            flags,
            lifetime,
            options,
        };
        let repr = MhRepr::BindingUpdate(bu.clone());
        let sign = self.config.key.as_deref().map(|k| (k, coa, hoa));
        let Ok(mh_bytes) = msg::finish(&repr, sign, hoa, ha) else {
            // Only an NAI too long for an option fails here.
            self.outstanding = None;
            return self.fail(now, None, FailReason::Rejected);
        };
        let bu = match MhRepr::parse_bytes(&mh_bytes) {
            Ok(MhRepr::BindingUpdate(signed)) => signed,
            _ => bu,
        };
        self.actions.push_back(Action::SendBu {
            coa,
            ha,
            hoa,
            bu,
            mh_bytes,
        });
        if self.recent_bus.len() >= MAX_UPDATE_RATE {
            self.recent_bus.pop_front();
        }
        self.recent_bus.push_back(now);
        self.outstanding = Some(Outstanding {
            seq: self.seq,
            sent_at: now,
            mesg_id,
            held: false,
            ..out
        });
        self.event(
            now,
            EventKind::BuSent {
                sequence: self.seq,
                coa,
                lifetime: Duration::from_secs(u64::from(lifetime_to_secs(lifetime))),
                deregistration: dereg,
                retransmission: out.retransmission,
                timeout: out.timeout,
            },
        );
    }

    /// The first wait for a BA (RFC 6275 11.8).
    fn initial_timeout(&self) -> Duration {
        if self.binding.is_some() {
            self.config.initial_bindack_timeout
        } else {
            self.config.initial_bindack_timeout_first_reg
        }
    }

    fn start(&mut self, now: Instant, coa: Ipv6Addr, dereg: bool) {
        let timeout = if dereg {
            self.config.initial_bindack_timeout
        } else {
            self.initial_timeout()
        };
        self.retry_at = None;
        self.parked = false;
        self.send_bu(now, coa, dereg, timeout, 0, now, 0);
    }

    /// The valid lifetime of care-of address `coa` ends `valid` from `now`
    /// (`None`: infinite); BUs for it ask for no longer (RFC 6275 11.7.1).
    pub fn set_coa_lifetime(&mut self, now: Instant, coa: Ipv6Addr, valid: Option<Duration>) {
        self.coa_valid_until = valid.and_then(|d| now.checked_add(d)).map(|t| (coa, t));
    }

    /// The node has a (new) care-of address away from home: register it.
    /// The same address again, while it is registered or being registered,
    /// changes nothing.
    pub fn handle_new_coa(&mut self, now: Instant, coa: Ipv6Addr) {
        if coa == self.config.home_address {
            return self.handle_returned_home(now);
        }
        self.location = Location::Away(coa);
        let in_flight = self.outstanding.is_some_and(|o| !o.dereg && o.coa == coa);
        let registered = self.outstanding.is_none() && self.binding.is_some_and(|b| b.coa == coa);
        if in_flight || registered {
            return;
        }
        self.start(now, coa, false);
    }

    /// The node is back on its home link: deregister (RFC 6275 11.5.4), from
    /// the home address, with care-of address = home address. Also at
    /// start-up at home, in case the home agent still has a binding; not
    /// again once deregistered.
    pub fn handle_returned_home(&mut self, now: Instant) {
        let was_home = self.location == Location::Home;
        self.location = Location::Home;
        let in_flight = self.outstanding.is_some_and(|o| o.dereg);
        let done = was_home && self.outstanding.is_none() && self.binding.is_none();
        if in_flight || done {
            return;
        }
        let hoa = self.config.home_address;
        self.start(now, hoa, true);
    }

    /// Deregister from the current care-of address (lifetime 0), e.g. when
    /// the daemon stops away from home.
    pub fn deregister(&mut self, now: Instant) {
        let Location::Away(coa) = self.location else {
            return;
        };
        self.location = Location::Unknown;
        self.start(now, coa, true);
    }

    /// A Binding Acknowledgement from `src`: `mh_bytes` as received (for the
    /// authenticator) and `ba` parsed from them.
    pub fn handle_ba(&mut self, now: Instant, src: Ipv6Addr, mh_bytes: &[u8], ba: &BindingAck) {
        if src != self.config.home_agent {
            return self.ignore(now, "not from our home agent");
        }
        let Some(out) = self.outstanding.filter(|o| !o.held) else {
            return self.ignore(now, "no binding update in flight");
        };
        let opts = KnownOptions::of(&ba.options);
        if let Some(key) = &self.config.key {
            if opts.mn_ha_spi.is_none()
                && ba.status == BaStatus::MIPV6_AUTH_FAIL
                && ba.sequence == out.seq
            {
                // The home agent signs no answer to a BU it could not
                // verify, so this may be genuine (a key or SPI that differs
                // between the two configurations) or forged: say so, keep
                // trying.
                self.event(now, EventKind::UnverifiedAuthFailure);
                return self.ignore(now, "unsigned MIPV6-AUTH-FAIL");
            }
            if opts.mn_ha_spi != Some(self.config.spi) || !opts.mn_ha_last {
                return self.ignore(now, "no MN-HA authentication option of ours");
            }
            let hoa = self.config.home_address;
            if !mn_ha_verify(key, &out.coa, &hoa, mh_bytes).unwrap_or(false) {
                return self.ignore(now, "wrong MN-HA authenticator");
            }
        }
        // Act only on an answer to the BU in flight: it echoes our
        // sequence number, or (135, which carries the home agent's number)
        // our Mesg-ID. A signed BA replayed from an earlier exchange
        // matches neither.
        let status = ba.status;
        if status == BaStatus::SEQUENCE_NUMBER_OUT_OF_WINDOW {
            if out.mesg_id.is_some() && opts.mesg_id != out.mesg_id {
                return self.ignore(now, "135 without our Mesg-ID");
            }
        } else if ba.sequence != out.seq {
            return self.ignore(now, "sequence number of another binding update");
        }
        if status.is_accepted() && out.mesg_id.is_some() && opts.mesg_id != out.mesg_id {
            return self.ignore(now, "Mesg-ID is not the one we sent");
        }
        self.event(
            now,
            EventKind::BaReceived {
                sequence: ba.sequence,
                status,
                lifetime: Duration::from_secs(u64::from(ba.lifetime_secs())),
            },
        );
        let latency = now.saturating_duration_since(out.started_at);
        match status {
            s if s.is_accepted() && out.dereg => self.deregistered(now, latency),
            s if s.is_accepted() => {
                let lifetime = Duration::from_secs(u64::from(ba.lifetime_secs()));
                if lifetime.is_zero() {
                    self.outstanding = None;
                    return self.fail(now, Some(s), FailReason::ZeroLifetime);
                }
                let mut refresh = mul_duration(lifetime, self.config.refresh_fraction);
                if let Some(units) = opts.refresh_advice {
                    let advice = Duration::from_secs(u64::from(lifetime_to_secs(units)));
                    refresh = refresh.min(advice);
                }
                self.outstanding = None;
                self.binding = Some(GrantedBinding {
                    coa: out.coa,
                    lifetime,
                    since: out.sent_at,
                    expires: out.sent_at + lifetime,
                    refresh_at: out.sent_at + refresh,
                });
                self.event(
                    now,
                    EventKind::Registered {
                        coa: out.coa,
                        lifetime,
                        status: s,
                        latency,
                    },
                );
                if s == BaStatus::ACCEPTED_PREFIX_DISCOVERY_NECESSARY {
                    self.event(now, EventKind::PrefixDiscoveryNeeded);
                }
            }
            BaStatus::SEQUENCE_NUMBER_OUT_OF_WINDOW => {
                if out.resyncs >= self.config.max_resyncs {
                    self.outstanding = None;
                    return self.fail(now, Some(status), FailReason::TooManyResyncs);
                }
                let from = self.seq;
                self.seq = ba.sequence;
                self.event(
                    now,
                    EventKind::SequenceResynchronised {
                        from,
                        to: ba.sequence,
                    },
                );
                self.resend_resynced(now, out);
            }
            // RFC 4285 6: our timestamp was outside the home agent's
            // window; its BA carries its time.
            BaStatus::MIPV6_ID_MISMATCH if out.mesg_id.is_some() => {
                if out.resyncs >= self.config.max_resyncs {
                    self.outstanding = None;
                    return self.fail(now, Some(status), FailReason::TooManyResyncs);
                }
                if let Some(theirs) = opts.mesg_id {
                    let ours = i128::from(self.wall.ntp_at(now));
                    self.ntp_offset = i128::from(theirs) - ours;
                    // Their clock decides from now on, even if ours ran ahead.
                    self.last_ts = 0;
                    let sign = if self.ntp_offset < 0 { -1 } else { 1 };
                    let mag =
                        ntp_duration(u64::try_from(self.ntp_offset.abs()).unwrap_or(u64::MAX));
                    let offset_ns = i64::try_from(mag.as_nanos()).unwrap_or(i64::MAX) * sign;
                    self.event(now, EventKind::TimestampResynchronised { offset_ns });
                }
                self.resend_resynced(now, out);
            }
            BaStatus::NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE if out.dereg => {
                self.deregistered(now, latency);
            }
            _ => {
                self.outstanding = None;
                self.fail(now, Some(status), FailReason::Rejected);
            }
        }
    }

    fn deregistered(&mut self, now: Instant, latency: Duration) {
        self.outstanding = None;
        self.binding = None;
        self.event(now, EventKind::Deregistered { latency });
    }

    /// Gives up the current attempt (the caller has cleared `outstanding`).
    /// A failed deregistration leaves nothing to retry; a failed
    /// registration is tried again after `retry_after_error`. A binding the
    /// home agent granted earlier lives on until it expires: a refused BU
    /// changed nothing there.
    fn fail(&mut self, now: Instant, status: Option<BaStatus>, reason: FailReason) {
        let retry_at = match self.location {
            Location::Away(_) => self.config.retry_after_error.map(|d| now + d),
            _ => {
                self.binding = None;
                None
            }
        };
        self.retry_at = retry_at;
        self.parked = retry_at.is_none() && matches!(self.location, Location::Away(_));
        self.event(
            now,
            EventKind::RegistrationFailed {
                status,
                reason,
                retry_at,
            },
        );
    }

    /// A Binding Refresh Request from `src` (RFC 6275 11.7.4): from our home
    /// agent, answer with a BU at once.
    pub fn handle_brr(&mut self, now: Instant, src: Ipv6Addr) {
        if src != self.config.home_agent {
            return;
        }
        self.event(now, EventKind::BrrReceived);
        if let (Location::Away(coa), None) = (self.location, self.outstanding) {
            self.start(now, coa, false);
        }
    }

    /// A Binding Error from `src`. Status 1 from our home agent means it has
    /// no binding for us (it rebooted, or the binding expired): register
    /// again at once. Status 2 means it does not speak the Mobility Header.
    pub fn handle_binding_error(&mut self, now: Instant, src: Ipv6Addr, status: BeStatus) {
        if src != self.config.home_agent {
            return;
        }
        match status {
            BeStatus::UNKNOWN_BINDING_FOR_HOME_ADDRESS_OPTION => {
                self.event(now, EventKind::BindingLost);
                self.binding = None;
                if let (Location::Away(coa), None) = (self.location, self.outstanding) {
                    self.start(now, coa, false);
                }
            }
            BeStatus::UNRECOGNIZED_MH_TYPE if self.outstanding.take().is_some() => {
                self.fail(now, None, FailReason::MobilityUnsupported);
            }
            _ => {}
        }
    }

    /// Retransmits, refreshes, expires and retries whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.outstanding.is_some_and(|o| o.held && now >= o.sent_at) {
            self.emit_bu(now);
        }
        if let Some(out) = self.outstanding
            && !out.held
            && now >= out.sent_at + out.timeout
        {
            let n = out.retransmission + 1;
            if self.config.max_retransmissions.is_some_and(|max| n > max) {
                self.outstanding = None;
                self.fail(now, None, FailReason::NoResponse);
            } else {
                let timeout = (out.timeout * 2).min(self.config.max_bindack_timeout);
                self.send_bu(
                    now,
                    out.coa,
                    out.dereg,
                    timeout,
                    n,
                    out.started_at,
                    out.resyncs,
                );
            }
        }
        if let Some(b) = self.binding
            && now >= b.expires
        {
            self.binding = None;
            self.event(now, EventKind::BindingExpired { coa: b.coa });
            // Nothing in flight and no retry planned: register again.
            if let (Location::Away(coa), None, None, false) =
                (self.location, self.outstanding, self.retry_at, self.parked)
            {
                self.start(now, coa, false);
            }
        }
        if let (Some(b), None, Location::Away(coa)) =
            (self.binding, self.outstanding, self.location)
            && now >= b.refresh_at
        {
            self.event(now, EventKind::RefreshDue { coa });
            self.start(now, coa, false);
        }
        if let Some(t) = self.retry_at
            && now >= t
        {
            self.retry_at = None;
            if let (Location::Away(coa), None) = (self.location, self.outstanding) {
                self.start(now, coa, false);
            }
        }
    }
}
