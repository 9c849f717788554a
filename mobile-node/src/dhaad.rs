//! Dynamic Home Agent Address Discovery, the mobile node's side
//! (RFC 6275 11.4.1), sans-IO: the daemon feeds it the clock, the care-of
//! address and the Replies it receives, and carries out what comes out.
//!
//! Once the node has a care-of address and no home agent, a Home Agent
//! Address Discovery Request (ICMPv6 type 144) leaves from the care-of
//! address to the Mobile IPv6 Home-Agents anycast address of the home
//! prefix (RFC 2526). Without an answer it is sent again after
//! INITIAL_DHAAD_TIMEOUT (3 s), the wait doubling each time, DHAAD_RETRIES
//! (4) times (RFC 6275 12); after that the discovery gives up until the
//! next care-of address. Every Request carries a fresh Identifier; a Reply
//! is taken only if its Identifier is one this discovery sent, and then
//! its first address (the most preferred home agent, RFC 6275 10.5) is
//! the home agent. When registering with it fails
//! ([`Discovery::home_agent_failed`]), the next address of that Reply is
//! tried, and after the last one the discovery starts again (RFC 6275
//! 11.4.1).

use mip6_common::wire::dhaad::{DhaadRepr, HaadReply, HaadRequest, home_agents_anycast};
use std::collections::VecDeque;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

/// INITIAL_DHAAD_TIMEOUT (RFC 6275 12).
pub const INITIAL_DHAAD_TIMEOUT: Duration = Duration::from_secs(3);
/// DHAAD_RETRIES (RFC 6275 12): retransmissions after the first Request.
pub const DHAAD_RETRIES: u32 = 4;

/// Where the discovery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nothing asked yet (or stopped: no care-of address).
    Idle,
    /// Requests out, waiting for a Reply.
    Discovering,
    /// A home agent was found.
    Found(Ipv6Addr),
    /// No Reply after every retransmission; waits for a new care-of
    /// address.
    Failed,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Discovering => "discovering",
            Phase::Found(_) => "found",
            Phase::Failed => "failed",
        }
    }
}

/// What the engine wants done or reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send `bytes` (the ICMPv6 message; the checksum is the sender's) from
    /// `src` to `dst`. `attempt` is 1 for the first Request.
    SendRequest {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        identifier: u16,
        attempt: u32,
        /// How long until the next transmission (or giving up).
        timeout: Duration,
        bytes: Vec<u8>,
    },
    /// The home agent: the first address of the Reply from `from`.
    Discovered {
        home_agent: Ipv6Addr,
        from: Ipv6Addr,
        identifier: u16,
        /// Every home agent the Reply listed, most preferred first.
        home_agents: Vec<Ipv6Addr>,
        attempts: u32,
        latency: Duration,
    },
    /// A Reply that did not count.
    ReplyIgnored {
        from: Ipv6Addr,
        identifier: u16,
        reason: &'static str,
    },
    /// No Reply to any Request.
    GaveUp { attempts: u32, coa: Ipv6Addr },
}

/// The discovery engine. See the module docs.
#[derive(Debug)]
pub struct Discovery {
    anycast: Ipv6Addr,
    initial_timeout: Duration,
    retries: u32,
    phase: Phase,
    coa: Option<Ipv6Addr>,
    next_id: u16,
    sent_ids: Vec<u16>,
    attempts: u32,
    started: Option<Instant>,
    timeout: Duration,
    next_at: Option<Instant>,
    /// The home agents of the Reply, most preferred first, and which one
    /// is ours now.
    candidates: Vec<Ipv6Addr>,
    current: usize,
    /// The Reply's source and Identifier, for the next candidate's report.
    reply_from: Option<(Ipv6Addr, u16)>,
    out: VecDeque<Output>,
}

impl Discovery {
    /// For the home prefix `prefix/len`; `first_id` is the first
    /// Identifier (pick it at random). `None` when the prefix is longer
    /// than /121 (no room for the anycast address).
    pub fn new(prefix: Ipv6Addr, len: u8, first_id: u16) -> Option<Self> {
        Some(Self {
            anycast: home_agents_anycast(prefix, len)?,
            initial_timeout: INITIAL_DHAAD_TIMEOUT,
            retries: DHAAD_RETRIES,
            phase: Phase::Idle,
            coa: None,
            next_id: first_id,
            sent_ids: Vec::new(),
            attempts: 0,
            started: None,
            timeout: INITIAL_DHAAD_TIMEOUT,
            next_at: None,
            candidates: Vec::new(),
            current: 0,
            reply_from: None,
            out: VecDeque::new(),
        })
    }

    /// Other timers than RFC 6275's (tests).
    pub fn with_timers(mut self, initial_timeout: Duration, retries: u32) -> Self {
        self.initial_timeout = initial_timeout;
        self.retries = retries;
        self
    }

    /// The Home-Agents anycast address Requests go to.
    pub fn anycast(&self) -> Ipv6Addr {
        self.anycast
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn home_agent(&self) -> Option<Ipv6Addr> {
        match self.phase {
            Phase::Found(a) => Some(a),
            _ => None,
        }
    }

    /// Requests sent in the current (or last) discovery.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The care-of address Requests leave from.
    pub fn coa(&self) -> Option<Ipv6Addr> {
        self.coa
    }

    /// The node has care-of address `coa`: discover the home agent from it,
    /// unless it is already known or being discovered from that address.
    /// A new address restarts the discovery (also after giving up).
    pub fn start(&mut self, now: Instant, coa: Ipv6Addr) {
        match self.phase {
            Phase::Found(_) => return,
            Phase::Discovering if self.coa == Some(coa) => return,
            Phase::Failed if self.coa == Some(coa) => return,
            _ => {}
        }
        self.coa = Some(coa);
        self.phase = Phase::Discovering;
        self.sent_ids.clear();
        self.attempts = 0;
        self.started = Some(now);
        self.timeout = self.initial_timeout;
        self.send(now);
    }

    /// No care-of address any more: stop asking (a Reply still in flight
    /// is ignored).
    pub fn stop(&mut self) {
        if self.phase == Phase::Discovering {
            self.phase = Phase::Idle;
            self.next_at = None;
            self.sent_ids.clear();
        }
    }

    fn send(&mut self, now: Instant) {
        let Some(src) = self.coa else {
            return;
        };
        let identifier = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.sent_ids.push(identifier);
        self.attempts += 1;
        let msg = DhaadRepr::HaadRequest(HaadRequest {
            identifier,
            mobile_router: false,
            reserved: 0,
        });
        let bytes = msg.to_bytes().unwrap_or_default();
        self.out.push_back(Output::SendRequest {
            src,
            dst: self.anycast,
            identifier,
            attempt: self.attempts,
            timeout: self.timeout,
            bytes,
        });
        self.next_at = Some(now + self.timeout);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_at
    }

    /// Retransmits, or gives up, when the wait is over.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(at) = self.next_at else {
            return;
        };
        if now < at || self.phase != Phase::Discovering {
            return;
        }
        if self.attempts > self.retries {
            self.next_at = None;
            self.phase = Phase::Failed;
            self.sent_ids.clear();
            self.out.push_back(Output::GaveUp {
                attempts: self.attempts,
                coa: self.coa.unwrap_or(Ipv6Addr::UNSPECIFIED),
            });
            return;
        }
        self.timeout = self.timeout.saturating_mul(2);
        self.send(now);
    }

    /// A Home Agent Address Discovery Reply from `from`.
    pub fn handle_reply(&mut self, now: Instant, from: Ipv6Addr, reply: &HaadReply) {
        let ignore = |reason| Output::ReplyIgnored {
            from,
            identifier: reply.identifier,
            reason,
        };
        if self.phase != Phase::Discovering {
            self.out.push_back(ignore("no discovery running"));
            return;
        }
        if !self.sent_ids.contains(&reply.identifier) {
            self.out
                .push_back(ignore("identifier of no request of ours"));
            return;
        }
        let Some(&home_agent) = reply.home_agents.first() else {
            // Nobody serves us yet; the next Request may find one.
            self.out.push_back(ignore("empty home agent list"));
            return;
        };
        self.phase = Phase::Found(home_agent);
        self.next_at = None;
        self.sent_ids.clear();
        self.candidates = reply.home_agents.clone();
        self.current = 0;
        self.reply_from = Some((from, reply.identifier));
        self.out.push_back(Output::Discovered {
            home_agent,
            from,
            identifier: reply.identifier,
            home_agents: reply.home_agents.clone(),
            attempts: self.attempts,
            latency: self
                .started
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s)),
        });
    }

    /// Registering with the home agent found failed: take the next one of
    /// the Reply (reported as [`Output::Discovered`]), or, after the last,
    /// discover again from the same care-of address (RFC 6275 11.4.1).
    pub fn home_agent_failed(&mut self, now: Instant) {
        let Phase::Found(_) = self.phase else {
            return;
        };
        self.current += 1;
        if let (Some(&next), Some((from, identifier))) =
            (self.candidates.get(self.current), self.reply_from)
        {
            self.phase = Phase::Found(next);
            self.out.push_back(Output::Discovered {
                home_agent: next,
                from,
                identifier,
                home_agents: self.candidates.clone(),
                attempts: self.attempts,
                latency: Duration::ZERO,
            });
            return;
        }
        self.phase = Phase::Idle;
        self.candidates.clear();
        if let Some(coa) = self.coa {
            self.start(now, coa);
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0);
    const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 5);
    const COA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xb, 0, 0, 0, 0, 5);
    const HA1: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
    const HA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);

    fn engine() -> Discovery {
        Discovery::new(PREFIX, 64, 0x4000).expect("anycast")
    }

    fn outputs(d: &mut Discovery) -> Vec<Output> {
        std::iter::from_fn(|| d.poll_output()).collect()
    }

    /// The one Request in `out`: (identifier, attempt, timeout).
    fn request(out: &[Output]) -> (u16, u32, Duration) {
        match out {
            [
                Output::SendRequest {
                    src,
                    dst,
                    identifier,
                    attempt,
                    timeout,
                    bytes,
                },
            ] => {
                assert_eq!(*src, COA);
                assert_eq!(
                    *dst,
                    "2001:db8:1::fdff:ffff:ffff:fffe"
                        .parse::<Ipv6Addr>()
                        .expect("a")
                );
                match DhaadRepr::from_bytes(bytes).expect("parse") {
                    DhaadRepr::HaadRequest(r) => assert_eq!(r.identifier, *identifier),
                    other => panic!("{other:?}"),
                }
                (*identifier, *attempt, *timeout)
            }
            other => panic!("expected one request: {other:?}"),
        }
    }

    fn reply(identifier: u16, home_agents: Vec<Ipv6Addr>) -> HaadReply {
        HaadReply {
            identifier,
            mobile_router: false,
            reserved: 0,
            home_agents,
        }
    }

    #[test]
    fn request_sent_from_the_care_of_address_to_the_anycast_address() {
        let t0 = Instant::now();
        let mut d = engine();
        assert_eq!(d.phase(), Phase::Idle);
        assert_eq!(d.poll_timeout(), None);
        d.start(t0, COA);
        let (id, attempt, timeout) = request(&outputs(&mut d));
        assert_eq!((id, attempt, timeout), (0x4000, 1, INITIAL_DHAAD_TIMEOUT));
        assert_eq!(d.phase(), Phase::Discovering);
        assert_eq!(d.poll_timeout(), Some(t0 + INITIAL_DHAAD_TIMEOUT));
        // The same address again changes nothing.
        d.start(t0 + Duration::from_millis(10), COA);
        assert!(outputs(&mut d).is_empty());
    }

    #[test]
    fn reply_with_a_wrong_identifier_is_ignored() {
        let t0 = Instant::now();
        let mut d = engine();
        d.start(t0, COA);
        let (id, ..) = request(&outputs(&mut d));
        d.handle_reply(t0, HA1, &reply(id.wrapping_add(7), vec![HA1]));
        assert!(matches!(
            outputs(&mut d).as_slice(),
            [Output::ReplyIgnored {
                reason: "identifier of no request of ours",
                ..
            }]
        ));
        assert_eq!(d.phase(), Phase::Discovering);
        assert_eq!(d.home_agent(), None);
        // An empty list neither.
        d.handle_reply(t0, HA1, &reply(id, vec![]));
        assert!(matches!(
            outputs(&mut d).as_slice(),
            [Output::ReplyIgnored {
                reason: "empty home agent list",
                ..
            }]
        ));
        assert_eq!(d.phase(), Phase::Discovering);
    }

    #[test]
    fn retransmissions_back_off_then_give_up_loudly() {
        let t0 = Instant::now();
        let mut d = engine();
        d.start(t0, COA);
        let (first, ..) = request(&outputs(&mut d));
        // Nothing before the timer.
        d.handle_timeout(t0 + Duration::from_millis(2999));
        assert!(outputs(&mut d).is_empty());
        let mut at = t0;
        let mut ids = vec![first];
        let mut waits = vec![];
        for n in 2..=5 {
            let next = d.poll_timeout().expect("timer");
            waits.push(next - at);
            at = next;
            d.handle_timeout(at);
            let (id, attempt, _) = request(&outputs(&mut d));
            assert_eq!(attempt, n);
            ids.push(id);
        }
        let next = d.poll_timeout().expect("timer");
        waits.push(next - at);
        assert_eq!(
            waits,
            [3, 6, 12, 24, 48].map(Duration::from_secs).to_vec(),
            "binary exponential back-off from 3 s"
        );
        // Every Request has its own Identifier.
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(unique.len(), 5, "{ids:?}");
        d.handle_timeout(next);
        assert_eq!(
            outputs(&mut d),
            vec![Output::GaveUp {
                attempts: 1 + DHAAD_RETRIES,
                coa: COA
            }]
        );
        assert_eq!(d.phase(), Phase::Failed);
        assert_eq!(d.poll_timeout(), None);
        // A late Reply does not count any more.
        d.handle_reply(next, HA1, &reply(first, vec![HA1]));
        assert!(matches!(
            outputs(&mut d).as_slice(),
            [Output::ReplyIgnored { .. }]
        ));
        // The same care-of address does not start again; a new one does.
        d.start(next, COA);
        assert!(outputs(&mut d).is_empty());
        d.start(next, COA2);
        assert!(matches!(
            outputs(&mut d).as_slice(),
            [Output::SendRequest {
                src: COA2,
                attempt: 1,
                ..
            }]
        ));
    }

    #[test]
    fn reply_to_any_of_our_requests_gives_the_most_preferred_agent() {
        let t0 = Instant::now();
        let mut d = engine();
        d.start(t0, COA);
        let (first, ..) = request(&outputs(&mut d));
        d.handle_timeout(t0 + INITIAL_DHAAD_TIMEOUT);
        let (second, attempt, timeout) = request(&outputs(&mut d));
        assert_ne!(first, second);
        assert_eq!((attempt, timeout), (2, Duration::from_secs(6)));
        // The answer to the first Request arrives late: still ours.
        let at = t0 + Duration::from_millis(3100);
        d.handle_reply(at, HA2, &reply(first, vec![HA2, HA1]));
        assert_eq!(
            outputs(&mut d),
            vec![Output::Discovered {
                home_agent: HA2,
                from: HA2,
                identifier: first,
                home_agents: vec![HA2, HA1],
                attempts: 2,
                latency: Duration::from_millis(3100),
            }]
        );
        assert_eq!(d.home_agent(), Some(HA2));
        assert_eq!(d.poll_timeout(), None);
        // Nothing more: no retransmission, a second Reply ignored, a new
        // care-of address does not ask again.
        d.handle_timeout(t0 + Duration::from_secs(60));
        d.handle_reply(at, HA1, &reply(second, vec![HA1]));
        d.start(at, COA2);
        assert!(matches!(
            outputs(&mut d).as_slice(),
            [Output::ReplyIgnored { .. }]
        ));
        assert_eq!(d.home_agent(), Some(HA2));
    }

    #[test]
    fn stopping_and_a_new_care_of_address_restart_cleanly() {
        let t0 = Instant::now();
        let mut d = engine();
        d.start(t0, COA);
        let (first, ..) = request(&outputs(&mut d));
        d.stop();
        assert_eq!(d.phase(), Phase::Idle);
        assert_eq!(d.poll_timeout(), None);
        d.handle_reply(t0, HA1, &reply(first, vec![HA1]));
        assert!(matches!(
            outputs(&mut d).as_slice(),
            [Output::ReplyIgnored { .. }]
        ));
        d.start(t0, COA2);
        let out = outputs(&mut d);
        let [Output::SendRequest { identifier, .. }] = out.as_slice() else {
            panic!("{out:?}");
        };
        assert_ne!(*identifier, first, "a fresh identifier");
        // A Reply to the stopped round's Request does not count.
        d.handle_reply(t0, HA1, &reply(first, vec![HA1]));
        assert_eq!(d.home_agent(), None);
        d.handle_reply(t0, HA1, &reply(*identifier, vec![HA1]));
        assert_eq!(d.home_agent(), Some(HA1));
    }

    #[test]
    fn prefixes_longer_than_121_bits_have_no_anycast_address() {
        assert!(Discovery::new(PREFIX, 122, 0).is_none());
        let d = Discovery::new(PREFIX, 64, 0).expect("64");
        assert_eq!(
            d.anycast(),
            "2001:db8:1::fdff:ffff:ffff:fffe"
                .parse::<Ipv6Addr>()
                .expect("a")
        );
    }

    /// RFC 6275 11.4.1 (issue 11 item 9): a home agent that will not
    /// register us is passed over for the next one of the Reply; after the
    /// last, the discovery starts again.
    #[test]
    fn failed_registration_moves_to_the_next_home_agent() {
        let t0 = Instant::now();
        let mut d = engine();
        d.start(t0, COA);
        let (id, ..) = request(&outputs(&mut d));
        d.handle_reply(t0, HA1, &reply(id, vec![HA1, HA2]));
        outputs(&mut d);
        assert_eq!(d.home_agent(), Some(HA1));
        d.home_agent_failed(t0 + Duration::from_secs(5));
        assert!(matches!(
            outputs(&mut d).as_slice(),
            [Output::Discovered { home_agent, .. }] if *home_agent == HA2
        ));
        assert_eq!(d.home_agent(), Some(HA2));
        d.home_agent_failed(t0 + Duration::from_secs(10));
        let (again, attempt, _) = request(&outputs(&mut d));
        assert_ne!(again, id);
        assert_eq!(attempt, 1);
        assert_eq!(d.phase(), Phase::Discovering);
    }
}
