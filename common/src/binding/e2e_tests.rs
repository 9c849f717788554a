//! End to end and pure: the mobile node's BU bytes go into the home agent's
//! engine, its BA bytes back into the mobile node's, over a simulated clock
//! and a lossless (or deliberately lossy) wire. Checksums are verified on the
//! way as a receiver's kernel would.

#![allow(clippy::unwrap_used)]

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use super::cache::{self, BindingCache, BuContext, CacheConfig, HomePrefix, MnPolicy};
use super::ntp::ntp_units;
use super::update_list::{
    self, EventKind, HomeRegistration, RegistrationConfig, RegistrationState,
};
use crate::wire::mh::{BaStatus, MhRepr, verify_checksum};

const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
const COA1: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
const COA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x100);
const KEY: &[u8] = b"an MN-HA key of twenty";
const SPI: u32 = 0x1234;
const NAI: &str = "laptop@example.org";
const NTP0: u64 = 3_900_000_000 << 32;
/// How long the shell's DAD on the home link takes.
const DAD_TIME: Duration = Duration::from_millis(1200);

fn ha_config() -> CacheConfig {
    CacheConfig {
        ha_addresses: vec![HA],
        home_prefixes: vec![HomePrefix {
            prefix: "2001:db8:1::/64".parse().unwrap(),
            valid_lifetime: None,
        }],
        mobile_nodes: vec![MnPolicy {
            nai: Some(NAI.into()),
            home_address: HOA,
            spi: SPI,
            key: KEY.to_vec(),
            algorithm: cache::AuthAlgorithm::HmacSha1_96,
        }],
        ..CacheConfig::default()
    }
}

fn mn_config() -> RegistrationConfig {
    RegistrationConfig {
        nai: Some(NAI.into()),
        spi: SPI,
        key: Some(KEY.to_vec()),
        lifetime: Duration::from_secs(600),
        initial_sequence: 40_000,
        ..RegistrationConfig::new(HOA, HA)
    }
}

struct World {
    t0: Instant,
    now: Instant,
    mn: HomeRegistration,
    ha: BindingCache,
    /// DADs the home agent's shell is running: (done at, home address).
    dads: Vec<(Instant, Ipv6Addr)>,
    /// Drop every BA while set.
    lose_bas: bool,
    bas_delivered: u32,
    mn_events: Vec<(Instant, EventKind)>,
    ha_actions: Vec<cache::Action>,
}

impl World {
    fn new() -> Self {
        let t0 = Instant::now();
        Self {
            t0,
            now: t0,
            mn: HomeRegistration::new(mn_config(), t0, NTP0),
            ha: BindingCache::new(ha_config(), t0, NTP0),
            dads: Vec::new(),
            lose_bas: false,
            bas_delivered: 0,
            mn_events: Vec::new(),
            ha_actions: Vec::new(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// Moves every queued message to its receiver until both are quiet.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(update_list::Action::SendBu {
                coa,
                ha,
                hoa,
                mh_bytes,
                ..
            }) = self.mn.poll_action()
            {
                moved = true;
                assert!(verify_checksum(&mh_bytes, &hoa, &ha));
                let MhRepr::BindingUpdate(bu) = MhRepr::parse_bytes(&mh_bytes).unwrap() else {
                    panic!("not a BU")
                };
                self.ha.handle_bu(
                    self.now,
                    &BuContext {
                        src: coa,
                        dst: ha,
                        home_address: (coa != hoa).then_some(hoa),
                        mh_bytes: &mh_bytes,
                        bu: &bu,
                    },
                );
            }
            while let Some(a) = self.ha.poll_action() {
                moved = true;
                match &a {
                    cache::Action::SendBa(cache::OutgoingBa {
                        from,
                        hoa,
                        mh_bytes,
                        ..
                    }) => {
                        assert!(verify_checksum(mh_bytes, from, hoa));
                        if !self.lose_bas {
                            let MhRepr::BindingAck(ba) = MhRepr::parse_bytes(mh_bytes).unwrap()
                            else {
                                panic!("not a BA")
                            };
                            self.bas_delivered += 1;
                            self.mn.handle_ba(self.now, *from, mh_bytes, &ba);
                        }
                    }
                    cache::Action::SendBrr { from, .. } => self.mn.handle_brr(self.now, *from),
                    cache::Action::StartDad { hoa, .. } => {
                        self.dads.push((self.now + DAD_TIME, *hoa));
                    }
                    cache::Action::SendBindingError { from, status, .. } => {
                        self.mn.handle_binding_error(self.now, *from, *status);
                    }
                    _ => {}
                }
                self.ha_actions.push(a);
            }
            while let Some(e) = self.mn.poll_event() {
                self.mn_events.push((e.at, e.kind));
            }
            if !moved {
                break;
            }
        }
    }

    /// Runs both engines' timers and the DADs up to `until`.
    fn run_until(&mut self, until: Instant) {
        loop {
            let next = [
                self.mn.poll_timeout(),
                self.ha.poll_timeout(),
                self.dads.iter().map(|d| d.0).min(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(t) = next.filter(|t| *t <= until) else {
                break;
            };
            self.now = t;
            if let Some(i) = self.dads.iter().position(|d| d.0 == t) {
                let (_, hoa) = self.dads.remove(i);
                self.ha.handle_dad_result(t, hoa, true);
            }
            self.mn.handle_timeout(t);
            self.ha.handle_timeout(t);
            self.pump();
        }
        self.now = until;
    }

    fn registered_events(&self) -> Vec<(Instant, Ipv6Addr, Duration)> {
        self.mn_events
            .iter()
            .filter_map(|(t, e)| match e {
                EventKind::Registered { coa, latency, .. } => Some((*t, *coa, *latency)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn register_move_refresh_and_return_home() {
    let mut w = World::new();
    // First registration: the home agent runs DAD (1.2 s), so the mobile
    // node's 1.5 s first-registration timer does not fire.
    w.mn.handle_new_coa(w.now, COA1);
    w.pump();
    assert_eq!(w.mn.state(), RegistrationState::Registering);
    assert!(w.ha.is_empty());
    w.run_until(w.at(2000));
    assert_eq!(w.mn.state(), RegistrationState::Registered);
    assert_eq!(
        w.registered_events(),
        vec![(w.at(1200), COA1, Duration::from_millis(1200))]
    );
    assert_eq!(w.ha.snapshot().get(&HOA), Some(&COA1));
    assert_eq!(w.ha.binding(&HOA).unwrap().sequence, 40_001);
    assert_eq!(w.bas_delivered, 1);

    // A move: no DAD this time, the BA comes back at once.
    w.run_until(w.at(30_000));
    w.mn.handle_new_coa(w.now, COA2);
    w.pump();
    assert_eq!(w.mn.binding().unwrap().coa, COA2);
    assert_eq!(w.ha.snapshot().get(&HOA), Some(&COA2));
    assert!(w.ha_actions.contains(&cache::Action::UpdateBinding {
        hoa: HOA,
        old_coa: COA1,
        coa: COA2,
        lifetime: Duration::from_secs(600),
    }));
    assert_eq!(
        w.registered_events().last().unwrap(),
        &(w.at(30_000), COA2, Duration::ZERO)
    );

    // The refresh at 80 % keeps the binding alive past its first lifetime.
    w.run_until(w.at(1_000_000));
    let info = w.ha.binding(&HOA).unwrap().clone();
    assert_eq!(info.coa, COA2);
    assert!(info.counters.refreshes >= 1, "{info:?}");
    assert!(info.expires > w.now);
    assert_eq!(w.mn.state(), RegistrationState::Registered);
    // Registered at 30 s, refreshed every 480 s: 510 s and 990 s.
    let refreshes: Vec<Instant> = w
        .mn_events
        .iter()
        .filter(|(_, e)| matches!(e, EventKind::RefreshDue { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(refreshes, vec![w.at(510_000), w.at(990_000)]);

    // Home again: deregistration from the home address.
    w.mn.handle_returned_home(w.now);
    w.pump();
    assert_eq!(w.mn.state(), RegistrationState::AtHome);
    assert!(w.ha.is_empty() && w.ha.snapshot().is_empty());
    assert!(w.ha_actions.contains(&cache::Action::RemoveBinding {
        hoa: HOA,
        coa: COA2,
        link_local: None,
    }));
    assert_eq!(w.mn.poll_timeout(), None);
    assert_eq!(w.ha.poll_timeout(), None);
    // Every BU the home agent saw was accepted.
    assert!(
        w.ha.stats()
            .by_status
            .keys()
            .all(|s| BaStatus(*s).is_accepted())
    );
}

#[test]
fn lost_bas_are_recovered_by_retransmission() {
    let mut w = World::new();
    w.mn.handle_new_coa(w.now, COA1);
    w.pump();
    w.run_until(w.at(2000));
    // Every BA is lost for 10 s after a move.
    w.lose_bas = true;
    w.mn.handle_new_coa(w.now, COA2);
    w.pump();
    w.run_until(w.at(12_000));
    // The home agent has the move (it is the BA that got lost).
    assert_eq!(w.ha.snapshot().get(&HOA), Some(&COA2));
    assert_eq!(w.mn.state(), RegistrationState::Registering);
    w.lose_bas = false;
    w.run_until(w.at(40_000));
    assert_eq!(w.mn.state(), RegistrationState::Registered);
    // Retransmitted at 3, 5, 9 and 17 s (1, 2, 4, 8 s waits): the one at
    // 17 s gets through.
    assert_eq!(w.registered_events().last().unwrap().0, w.at(17_000));
    assert_eq!(
        w.ha.binding(&HOA).unwrap().sequence,
        w.mn.sequence(),
        "the home agent accepted every retransmission"
    );
}

#[test]
fn home_agent_reboot_without_and_with_persistence() {
    // Without persistence: the rebooted home agent accepts the refresh as a
    // first registration (any sequence number, DAD again).
    let mut w = World::new();
    w.mn.handle_new_coa(w.now, COA1);
    w.pump();
    w.run_until(w.at(100_000));
    w.ha = BindingCache::new(ha_config(), w.now, NTP0 + ntp_units(w.now - w.t0));
    w.run_until(w.at(490_000));
    // The refresh at 480 s (80 % of 600 s from the first BU) waited 1 s
    // while the home agent ran its 1.2 s DAD; the retransmission at 481 s
    // replaced the pending BU and is the one answered, at 481.2 s.
    assert_eq!(w.mn.state(), RegistrationState::Registered);
    assert_eq!(w.registered_events().last().unwrap().0, w.at(481_200));
    assert_eq!(w.ha.binding(&HOA).unwrap().sequence, w.mn.sequence());

    // Or the mobile node learns it from a Binding Error when it sends
    // through the home agent: it registers again at once.
    w.ha = BindingCache::new(ha_config(), w.now, NTP0 + ntp_units(w.now - w.t0));
    w.ha.handle_hao_without_binding(w.now, COA1, HA, HOA);
    w.pump();
    assert!(
        w.mn_events
            .iter()
            .any(|(_, e)| *e == EventKind::BindingLost)
    );
    w.run_until(w.now + Duration::from_secs(5));
    assert_eq!(w.mn.state(), RegistrationState::Registered);
    assert_eq!(w.ha.snapshot().get(&HOA), Some(&COA1));

    // With persistence: the restored binding carries on, no DAD.
    let wall = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let records = w.ha.export(wall, w.now);
    let dads_before = w
        .ha_actions
        .iter()
        .filter(|a| matches!(a, cache::Action::StartDad { .. }))
        .count();
    let mut ha = BindingCache::new(ha_config(), w.now, NTP0 + ntp_units(w.now - w.t0));
    assert_eq!(ha.restore(&records, wall, w.now), 1);
    w.ha = ha;
    w.pump();
    w.mn.handle_new_coa(w.now, COA2);
    w.pump();
    assert_eq!(w.mn.binding().unwrap().coa, COA2);
    let dads_after = w
        .ha_actions
        .iter()
        .filter(|a| matches!(a, cache::Action::StartDad { .. }))
        .count();
    assert_eq!(dads_before, dads_after);
}

#[test]
fn restarted_mobile_node_resynchronises_sequence_and_clock() {
    let mut w = World::new();
    w.mn.handle_new_coa(w.now, COA1);
    w.pump();
    w.run_until(w.at(2000));
    let ha_seq = w.ha.binding(&HOA).unwrap().sequence;
    // The mobile node restarts with a stale sequence number and a clock
    // 20 s behind: 144 first (the timestamp is checked before the
    // sequence number), then 135, then accepted.
    let mut cfg = mn_config();
    cfg.initial_sequence = ha_seq - 100;
    let behind = NTP0 + ntp_units(w.now - w.t0) - ntp_units(Duration::from_secs(20));
    w.mn = HomeRegistration::new(cfg, w.now, behind);
    w.mn.handle_new_coa(w.now, COA2);
    w.pump();
    assert_eq!(w.mn.state(), RegistrationState::Registered);
    assert_eq!(w.mn.binding().unwrap().coa, COA2);
    let kinds: Vec<&EventKind> = w.mn_events.iter().map(|(_, e)| e).collect();
    assert!(
        kinds
            .iter()
            .any(|e| matches!(e, EventKind::TimestampResynchronised { .. }))
    );
    assert!(kinds.contains(&&EventKind::SequenceResynchronised {
        from: ha_seq - 98,
        to: ha_seq
    }));
    assert_eq!(w.ha.binding(&HOA).unwrap().sequence, ha_seq + 1);
}
