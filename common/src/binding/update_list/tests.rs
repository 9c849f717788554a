//! The mobile node's home registration driven through every path with a
//! simulated clock.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::binding::msg;
use crate::binding::ntp::ntp_units;
use crate::wire::mh::{
    BaFlags, BaStatus, BeStatus, BindingAck, BindingUpdate, BuFlags, MhOption, MhRepr,
    auth_subtype, mn_ha_verify, verify_checksum,
};
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
const COA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x100);
const KEY: &[u8] = b"mn1 shared secret key";
const SPI: u32 = 0x100;
const NAI: &str = "mn1@example.org";
const NTP0: u64 = 3_900_000_000 << 32;

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

fn config() -> RegistrationConfig {
    RegistrationConfig {
        nai: Some(NAI.into()),
        spi: SPI,
        key: Some(KEY.to_vec()),
        lifetime: Duration::from_secs(600),
        initial_sequence: 100,
        ..RegistrationConfig::new(HOA, HA)
    }
}

struct Harness {
    r: HomeRegistration,
    t0: Instant,
}

impl Harness {
    fn new(config: RegistrationConfig) -> Self {
        let t0 = Instant::now();
        Self {
            r: HomeRegistration::new(config, t0, NTP0),
            t0,
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn sent(&mut self) -> Vec<(Ipv6Addr, BindingUpdate, Vec<u8>)> {
        std::iter::from_fn(|| self.r.poll_action())
            .map(|a| match a {
                Action::SendBu {
                    coa,
                    ha,
                    hoa,
                    bu,
                    mh_bytes,
                } => {
                    assert_eq!((ha, hoa), (HA, HOA));
                    (coa, bu, mh_bytes)
                }
            })
            .collect()
    }

    /// The one BU sent since the last call.
    fn one_bu(&mut self) -> (Ipv6Addr, BindingUpdate, Vec<u8>) {
        let mut v = self.sent();
        assert_eq!(v.len(), 1, "{v:?}");
        v.remove(0)
    }

    fn events(&mut self) -> Vec<EventKind> {
        std::iter::from_fn(|| self.r.poll_event())
            .map(|e| e.kind)
            .collect()
    }

    /// Fires every timer due up to `until`, in order, as a shell would,
    /// and returns the BUs sent with their times (ms since T0).
    fn run_until(&mut self, until: Instant) -> Vec<(u64, BindingUpdate)> {
        let mut out = Vec::new();
        while let Some(t) = self.r.poll_timeout() {
            if t > until {
                break;
            }
            self.r.handle_timeout(t);
            for (_, bu, _) in self.sent() {
                out.push(((t - self.t0).as_millis() as u64, bu));
            }
        }
        out
    }

    fn answer(&mut self, now: Instant, ba: (Vec<u8>, BindingAck)) {
        self.r.handle_ba(now, HA, &ba.0, &ba.1);
    }
}

fn mesg_id(options: &[MhOption]) -> Option<u64> {
    options.iter().find_map(|o| match o {
        MhOption::ReplayProtection { timestamp } => Some(*timestamp),
        _ => None,
    })
}

/// A BA's bytes and the BA parsed from them.
type SignedBa = (Vec<u8>, BindingAck);

/// A BA as the home agent would send it to a BU sent from `coa`.
fn ba(
    coa: Ipv6Addr,
    seq: u16,
    status: u8,
    lifetime: u16,
    mesg: Option<u64>,
    extra: Vec<MhOption>,
    key: Option<&[u8]>,
) -> SignedBa {
    let mut options = extra;
    if let Some(ts) = mesg {
        options.push(MhOption::ReplayProtection { timestamp: ts });
    }
    if key.is_some() {
        options.push(msg::mn_ha_placeholder(SPI));
    }
    let repr = BindingAck {
        status: BaStatus(status),
        flags: BaFlags::default(),
        sequence: seq,
        lifetime,
        options,
    };
    let bytes = msg::finish(
        &MhRepr::BindingAck(repr.clone()),
        key.map(|k| (k, coa, HOA)),
        HA,
        HOA,
    )
    .unwrap();
    let parsed = match MhRepr::parse_bytes(&bytes).unwrap() {
        MhRepr::BindingAck(b) => b,
        _ => unreachable!(),
    };
    (bytes, parsed)
}

/// The accepting BA for `bu` sent from `coa`.
fn accept(coa: Ipv6Addr, bu: &BindingUpdate, lifetime: u16) -> SignedBa {
    ba(
        coa,
        bu.sequence,
        0,
        lifetime,
        mesg_id(&bu.options),
        vec![],
        Some(KEY),
    )
}

#[test]
fn first_registration() {
    let mut h = Harness::new(config());
    assert_eq!(h.r.state(), RegistrationState::Idle);
    h.r.handle_new_coa(h.at(0), COA);
    let (coa, bu, bytes) = h.one_bu();
    assert_eq!(coa, COA);
    assert_eq!(bu.sequence, 101);
    assert_eq!(bu.flags, BuFlags::A | BuFlags::H);
    assert_eq!(bu.lifetime, 150);
    // MN-ID, Mesg-ID, then the MN-HA option last, over CoA | HoA | BU.
    assert!(
        matches!(&bu.options[0], MhOption::MobileNodeId { identifier, .. }
        if identifier == NAI.as_bytes())
    );
    assert_eq!(mesg_id(&bu.options), Some(NTP0));
    // RFC 6275 11.7.1: the care-of address in an Alternate Care-of
    // Address option, covered by the authenticator.
    assert!(bu.options.contains(&MhOption::AltCareOfAddress(COA)));
    assert!(
        matches!(bu.options.last(), Some(MhOption::MobilityAuth { subtype, spi, .. })
        if *subtype == auth_subtype::MN_HA && *spi == SPI)
    );
    assert!(mn_ha_verify(KEY, &COA, &HOA, &bytes).unwrap());
    assert!(verify_checksum(&bytes, &HOA, &HA));
    assert_eq!(
        MhRepr::parse_bytes(&bytes).unwrap(),
        MhRepr::BindingUpdate(bu.clone())
    );
    assert_eq!(h.r.state(), RegistrationState::Registering);
    // First registration: 1.5 s to wait.
    assert_eq!(h.r.poll_timeout(), Some(h.at(1500)));
    // The same care-of address again changes nothing.
    h.r.handle_new_coa(h.at(10), COA);
    assert!(h.sent().is_empty());

    h.answer(h.at(40), accept(COA, &bu, 150));
    assert_eq!(h.r.state(), RegistrationState::Registered);
    let b = *h.r.binding().unwrap();
    assert_eq!(b.coa, COA);
    assert_eq!(b.expires, h.at(600_000));
    // Refresh at 80 % of the lifetime, from when the BU left.
    assert_eq!(b.refresh_at, h.at(480_000));
    assert_eq!(h.r.poll_timeout(), Some(h.at(480_000)));
    let ev = h.events();
    assert!(ev.contains(&EventKind::BuSent {
        sequence: 101,
        coa: COA,
        lifetime: Duration::from_secs(600),
        deregistration: false,
        retransmission: 0,
        timeout: ms(1500),
    }));
    assert!(ev.contains(&EventKind::Registered {
        coa: COA,
        lifetime: Duration::from_secs(600),
        status: BaStatus::ACCEPTED,
        latency: ms(40),
    }));
}

#[test]
fn lost_bas_back_off_exponentially_up_to_32_s() {
    let mut h = Harness::new(config());
    h.r.handle_new_coa(h.at(0), COA);
    let (_, first, _) = h.one_bu();
    let sent = h.run_until(h.at(150_000));
    let times: Vec<u64> = sent.iter().map(|s| s.0).collect();
    // Waits 1.5, 3, 6, 12, 24, then 32 s for ever.
    assert_eq!(
        times,
        vec![
            1_500, 4_500, 10_500, 22_500, 46_500, 78_500, 110_500, 142_500
        ]
    );
    // Each retransmission is a new BU: a new number, a new timestamp.
    let seqs: Vec<u16> = sent.iter().map(|s| s.1.sequence).collect();
    assert_eq!(seqs, (102..=109).collect::<Vec<_>>());
    assert!(
        sent.windows(2)
            .all(|w| mesg_id(&w[0].1.options) < mesg_id(&w[1].1.options))
    );
    let ev = h.events();
    assert!(ev.contains(&EventKind::BuSent {
        sequence: 107,
        coa: COA,
        lifetime: Duration::from_secs(600),
        deregistration: false,
        retransmission: 6,
        timeout: Duration::from_secs(32),
    }));
    // A late BA for the first BU does not count; one for the latest does.
    h.answer(h.at(143_000), accept(COA, &first, 150));
    assert_eq!(h.r.state(), RegistrationState::Registering);
    assert!(h.events().contains(&EventKind::BaIgnored {
        reason: "sequence number of another binding update"
    }));
    let last = sent.last().unwrap().1.clone();
    h.answer(h.at(143_100), accept(COA, &last, 150));
    assert_eq!(h.r.state(), RegistrationState::Registered);
    assert!(h.events().iter().any(|e| matches!(e,
        EventKind::Registered { latency, .. } if *latency == ms(143_100))));
}

#[test]
fn giving_up_after_max_retransmissions_then_retrying() {
    let mut h = Harness::new(RegistrationConfig {
        max_retransmissions: Some(2),
        retry_after_error: Some(Duration::from_secs(60)),
        ..config()
    });
    h.r.handle_new_coa(h.at(0), COA);
    h.one_bu();
    let sent = h.run_until(h.at(11_000));
    // Two retransmissions, then the wait for the last one runs out.
    assert_eq!(
        sent.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![1_500, 4_500]
    );
    assert_eq!(h.r.state(), RegistrationState::Failed);
    assert!(h.events().contains(&EventKind::RegistrationFailed {
        status: None,
        reason: FailReason::NoResponse,
        retry_at: Some(h.at(70_500)),
    }));
    let sent = h.run_until(h.at(71_000));
    assert_eq!(sent.iter().map(|s| s.0).collect::<Vec<_>>(), vec![70_500]);
    assert_eq!(h.r.state(), RegistrationState::Registering);
}

#[test]
fn refresh_before_expiry_then_expiry_when_refreshes_go_unanswered() {
    let mut h = Harness::new(config());
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    h.answer(h.at(50), accept(COA, &bu, 150));
    h.events();
    // Refresh at 480 s, from the same address, waiting 1 s (a binding
    // exists).
    let sent = h.run_until(h.at(480_000));
    assert_eq!(sent.len(), 1);
    let (t, refresh) = &sent[0];
    assert_eq!(*t, 480_000);
    assert_eq!(refresh.lifetime, 150);
    assert!(h.events().contains(&EventKind::RefreshDue { coa: COA }));
    assert_eq!(h.r.poll_timeout(), Some(h.at(481_000)));
    h.answer(h.at(480_030), accept(COA, refresh, 100));
    let b = *h.r.binding().unwrap();
    assert_eq!((b.expires, b.refresh_at), (h.at(880_000), h.at(800_000)));

    // Now the home agent goes silent: retransmissions at 1, 2, 4 ... s, and
    // the binding expires at 880 s while they go on.
    let sent = h.run_until(h.at(880_000));
    let times: Vec<u64> = sent.iter().map(|s| s.0).collect();
    assert_eq!(times[..5], [800_000, 801_000, 803_000, 807_000, 815_000]);
    assert!(h.r.binding().is_none());
    let ev = h.events();
    assert!(ev.contains(&EventKind::BindingExpired { coa: COA }));
    assert_eq!(h.r.state(), RegistrationState::Registering);
}

#[test]
fn binding_refresh_advice_brings_the_refresh_forward() {
    let mut h = Harness::new(config());
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    let advice = vec![MhOption::BindingRefreshAdvice {
        refresh_interval: 15,
    }];
    h.answer(
        h.at(20),
        ba(
            COA,
            bu.sequence,
            0,
            150,
            mesg_id(&bu.options),
            advice,
            Some(KEY),
        ),
    );
    assert_eq!(h.r.binding().unwrap().refresh_at, h.at(60_000));
    assert_eq!(h.run_until(h.at(60_000)).len(), 1);
}

#[test]
fn binding_refresh_request_is_answered_at_once() {
    let mut h = Harness::new(config());
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    h.answer(h.at(20), accept(COA, &bu, 150));
    // From someone else: ignored.
    h.r.handle_brr(h.at(1000), COA2);
    assert!(h.sent().is_empty());
    h.r.handle_brr(h.at(100_000), HA);
    let (coa, refresh, _) = h.one_bu();
    assert_eq!((coa, refresh.sequence), (COA, 102));
    assert!(h.events().contains(&EventKind::BrrReceived));
    assert_eq!(h.r.poll_timeout(), Some(h.at(101_000)));
}

#[test]
fn status_135_resynchronises_the_sequence_number() {
    let mut h = Harness::new(config());
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    // The home agent remembers 5000 (our number is stale after a restart).
    h.answer(
        h.at(30),
        ba(COA, 5000, 135, 0, mesg_id(&bu.options), vec![], Some(KEY)),
    );
    let (_, again, _) = h.one_bu();
    assert_eq!(again.sequence, 5001);
    assert!(h.events().contains(&EventKind::SequenceResynchronised {
        from: 101,
        to: 5000
    }));
    assert_eq!(h.r.poll_timeout(), Some(h.at(1030)));
    h.answer(h.at(60), accept(COA, &again, 150));
    assert_eq!(h.r.state(), RegistrationState::Registered);
}

#[test]
fn status_135_loops_are_bounded() {
    let mut h = Harness::new(RegistrationConfig {
        max_resyncs: 2,
        ..config()
    });
    h.r.handle_new_coa(h.at(0), COA);
    for i in 0..3 {
        let (_, bu, _) = h.one_bu();
        h.answer(
            h.at(10 * i),
            ba(COA, 9, 135, 0, mesg_id(&bu.options), vec![], Some(KEY)),
        );
    }
    assert!(h.sent().is_empty());
    assert_eq!(h.r.state(), RegistrationState::Failed);
    assert!(h.events().iter().any(|e| matches!(
        e,
        EventKind::RegistrationFailed {
            reason: FailReason::TooManyResyncs,
            ..
        }
    )));
}

#[test]
fn status_144_resynchronises_the_timestamp() {
    let mut h = Harness::new(config());
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    // The home agent's clock is 100 s behind ours.
    let theirs = NTP0 - ntp_units(Duration::from_secs(100)) + ntp_units(ms(50));
    h.answer(
        h.at(50),
        ba(COA, bu.sequence, 144, 0, Some(theirs), vec![], Some(KEY)),
    );
    let (_, again, bytes) = h.one_bu();
    assert_eq!(again.sequence, bu.sequence + 1);
    assert_eq!(mesg_id(&again.options), Some(theirs));
    assert!(mn_ha_verify(KEY, &COA, &HOA, &bytes).unwrap());
    assert!(h.events().contains(&EventKind::TimestampResynchronised {
        offset_ns: -100_000_000_000
    }));
    // Later BUs keep the offset.
    h.answer(h.at(80), accept(COA, &again, 150));
    h.r.handle_new_coa(h.at(1050), COA2);
    let (_, moved, _) = h.one_bu();
    assert_eq!(mesg_id(&moved.options), Some(theirs + ntp_units(ms(1000))));
}

#[test]
fn bas_that_do_not_verify_are_ignored() {
    let mut h = Harness::new(config());
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    let m = mesg_id(&bu.options);
    h.events();
    let cases: Vec<(SignedBa, Ipv6Addr, &str)> = vec![
        (
            ba(COA, bu.sequence, 0, 150, m, vec![], Some(b"not the key")),
            HA,
            "wrong MN-HA authenticator",
        ),
        (
            ba(COA, bu.sequence, 0, 150, m, vec![], None),
            HA,
            "no MN-HA authentication option of ours",
        ),
        (
            ba(COA2, bu.sequence, 0, 150, m, vec![], Some(KEY)),
            HA,
            "wrong MN-HA authenticator",
        ),
        (
            ba(COA, bu.sequence, 0, 150, m, vec![], Some(KEY)),
            COA2,
            "not from our home agent",
        ),
        (
            ba(COA, bu.sequence, 0, 150, Some(1), vec![], Some(KEY)),
            HA,
            "Mesg-ID is not the one we sent",
        ),
        // A forged "stop" (a rejection) is no better.
        (
            ba(COA, bu.sequence, 129, 0, m, vec![], Some(b"not the key")),
            HA,
            "wrong MN-HA authenticator",
        ),
    ];
    for ((bytes, parsed), src, reason) in cases {
        h.r.handle_ba(h.at(10), src, &bytes, &parsed);
        assert_eq!(h.r.state(), RegistrationState::Registering, "{reason}");
        assert_eq!(h.events(), vec![EventKind::BaIgnored { reason }]);
    }
    // A tampered copy of the right BA.
    let (mut bytes, parsed) = accept(COA, &bu, 150);
    bytes[11] ^= 1;
    h.r.handle_ba(h.at(11), HA, &bytes, &parsed);
    assert_eq!(h.r.state(), RegistrationState::Registering);
    h.answer(h.at(12), accept(COA, &bu, 150));
    assert_eq!(h.r.state(), RegistrationState::Registered);
    // With nothing in flight, even a valid BA means nothing.
    h.answer(h.at(13), accept(COA, &bu, 150));
    assert!(h.events().contains(&EventKind::BaIgnored {
        reason: "no binding update in flight"
    }));
}

#[test]
fn home_agent_reboot() {
    let mut h = Harness::new(config());
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    h.answer(h.at(20), accept(COA, &bu, 150));
    h.events();
    // The rebooted home agent drops our reverse-tunnelled traffic and says
    // so with Binding Error status 1: register again at once, as a first
    // registration (1.5 s: it must run DAD again).
    h.r.handle_binding_error(h.at(30_000), COA2, BeStatus(1));
    assert!(h.sent().is_empty(), "only our home agent counts");
    h.r.handle_binding_error(h.at(30_000), HA, BeStatus(1));
    let (coa, again, _) = h.one_bu();
    assert_eq!((coa, again.sequence), (COA, 102));
    assert!(h.r.binding().is_none());
    assert_eq!(h.r.poll_timeout(), Some(h.at(31_500)));
    assert!(h.events().contains(&EventKind::BindingLost));
    h.answer(h.at(31_000), accept(COA, &again, 150));
    assert_eq!(h.r.state(), RegistrationState::Registered);
    // A home agent that does not speak the Mobility Header (status 2).
    h.r.handle_brr(h.at(40_000), HA);
    h.one_bu();
    h.r.handle_binding_error(h.at(40_010), HA, BeStatus(2));
    assert!(h.events().iter().any(|e| matches!(
        e,
        EventKind::RegistrationFailed {
            reason: FailReason::MobilityUnsupported,
            ..
        }
    )));
}

#[test]
fn rejection_gives_up_loudly_and_retries_later() {
    let mut h = Harness::new(config());
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    h.answer(
        h.at(20),
        ba(
            COA,
            bu.sequence,
            129,
            0,
            mesg_id(&bu.options),
            vec![],
            Some(KEY),
        ),
    );
    assert_eq!(h.r.state(), RegistrationState::Failed);
    assert!(h.events().contains(&EventKind::RegistrationFailed {
        status: Some(BaStatus(129)),
        reason: FailReason::Rejected,
        retry_at: Some(h.at(60_020)),
    }));
    assert_eq!(h.r.poll_timeout(), Some(h.at(60_020)));
    let sent = h.run_until(h.at(60_020));
    assert_eq!(sent.len(), 1);
    // Without a retry delay: wait for a new care-of address.
    let mut h = Harness::new(RegistrationConfig {
        retry_after_error: None,
        ..config()
    });
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    h.answer(
        h.at(20),
        ba(
            COA,
            bu.sequence,
            134,
            0,
            mesg_id(&bu.options),
            vec![],
            Some(KEY),
        ),
    );
    assert_eq!(h.r.poll_timeout(), None);
    assert_eq!(h.r.state(), RegistrationState::Failed);
    h.r.handle_new_coa(h.at(5000), COA2);
    assert_eq!(h.one_bu().0, COA2);
}

#[test]
fn prefix_discovery_status() {
    let mut h = Harness::new(config());
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    h.answer(
        h.at(20),
        ba(
            COA,
            bu.sequence,
            1,
            20,
            mesg_id(&bu.options),
            vec![],
            Some(KEY),
        ),
    );
    assert_eq!(h.r.state(), RegistrationState::Registered);
    assert_eq!(h.r.binding().unwrap().lifetime, Duration::from_secs(80));
    assert!(h.events().contains(&EventKind::PrefixDiscoveryNeeded));
}

#[test]
fn move_while_registering() {
    let mut h = Harness::new(config());
    h.r.handle_new_coa(h.at(0), COA);
    let (_, first, _) = h.one_bu();
    h.r.handle_new_coa(h.at(300), COA2);
    let (coa, second, bytes) = h.one_bu();
    assert_eq!((coa, second.sequence), (COA2, 102));
    assert!(mn_ha_verify(KEY, &COA2, &HOA, &bytes).unwrap());
    // Still no binding at the home agent as far as we know: 1.5 s.
    assert_eq!(h.r.poll_timeout(), Some(h.at(1800)));
    h.answer(h.at(310), accept(COA, &first, 150));
    assert_eq!(h.r.state(), RegistrationState::Registering);
    h.answer(h.at(320), accept(COA2, &second, 150));
    assert_eq!(h.r.binding().unwrap().coa, COA2);
    // A move once registered waits 1 s.
    h.r.handle_new_coa(h.at(5000), COA);
    h.one_bu();
    assert_eq!(h.r.poll_timeout(), Some(h.at(6000)));
}

#[test]
fn deregistration_at_home() {
    let mut h = Harness::new(RegistrationConfig {
        link_local_compat: true,
        ..config()
    });
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    assert!(bu.flags.link_local_compat());
    h.answer(h.at(20), accept(COA, &bu, 150));
    h.r.handle_returned_home(h.at(10_000));
    let (coa, dereg, bytes) = h.one_bu();
    // From the home address, lifetime 0, signed over HoA | HoA.
    assert_eq!((coa, dereg.lifetime), (HOA, 0));
    assert!(mn_ha_verify(KEY, &HOA, &HOA, &bytes).unwrap());
    assert!(verify_checksum(&bytes, &HOA, &HA));
    assert_eq!(h.r.state(), RegistrationState::Deregistering);
    assert_eq!(h.r.poll_timeout(), Some(h.at(11_000)));
    // The BA comes back to the home address, signed over HoA | HoA.
    h.r.handle_ba(
        h.at(10_010),
        HA,
        &ba(
            HOA,
            dereg.sequence,
            0,
            0,
            mesg_id(&dereg.options),
            vec![],
            Some(KEY),
        )
        .0,
        &ba(
            HOA,
            dereg.sequence,
            0,
            0,
            mesg_id(&dereg.options),
            vec![],
            Some(KEY),
        )
        .1,
    );
    assert_eq!(h.r.state(), RegistrationState::AtHome);
    assert!(h.r.binding().is_none());
    assert_eq!(h.r.poll_timeout(), None);
    assert!(
        h.events()
            .contains(&EventKind::Deregistered { latency: ms(10) })
    );
    // Told again (a link flap at home): nothing more to do.
    h.r.handle_returned_home(h.at(20_000));
    assert!(h.sent().is_empty());
}

#[test]
fn deregistration_answered_133_is_done() {
    let mut h = Harness::new(config());
    h.r.handle_returned_home(h.at(0));
    let (coa, dereg, _) = h.one_bu();
    assert_eq!(coa, HOA);
    h.answer(
        h.at(5),
        ba(
            HOA,
            dereg.sequence,
            133,
            0,
            mesg_id(&dereg.options),
            vec![],
            Some(KEY),
        ),
    );
    assert_eq!(h.r.state(), RegistrationState::AtHome);
    assert!(
        h.events()
            .iter()
            .any(|e| matches!(e, EventKind::Deregistered { .. }))
    );
    // A deregistration that is never answered gives up quietly at home.
    let mut h = Harness::new(RegistrationConfig {
        max_retransmissions: Some(1),
        ..config()
    });
    h.r.handle_returned_home(h.at(0));
    h.one_bu();
    h.run_until(h.at(10_000));
    assert_eq!(h.r.state(), RegistrationState::AtHome);
    assert_eq!(h.r.poll_timeout(), None);
}

#[test]
fn unauthenticated_lab_mode() {
    let mut h = Harness::new(RegistrationConfig {
        key: None,
        nai: None,
        ..config()
    });
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, bytes) = h.one_bu();
    assert_eq!(bu.options, vec![MhOption::AltCareOfAddress(COA)]);
    assert!(verify_checksum(&bytes, &HOA, &HA));
    h.answer(h.at(10), ba(COA, bu.sequence, 0, 150, None, vec![], None));
    assert_eq!(h.r.state(), RegistrationState::Registered);
}

/// Issue 11 item 4: a signed BA replayed from an earlier exchange (a 135
/// carries the home agent's number, so only our Mesg-ID can tie it to the
/// BU in flight) and rejections for another BU change nothing.
#[test]
fn only_answers_to_the_bu_in_flight_count() {
    let mut h = Harness::new(config());
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    h.events();
    let old_mesg = mesg_id(&bu.options).map(|m| m - 1);
    let cases: Vec<(SignedBa, &str)> = vec![
        (
            ba(COA, 5000, 135, 0, old_mesg, vec![], Some(KEY)),
            "135 without our Mesg-ID",
        ),
        (
            ba(COA, 5000, 135, 0, None, vec![], Some(KEY)),
            "135 without our Mesg-ID",
        ),
        (
            ba(COA, bu.sequence - 1, 144, 0, Some(1), vec![], Some(KEY)),
            "sequence number of another binding update",
        ),
        (
            ba(COA, bu.sequence, 0, 150, None, vec![], Some(KEY)),
            "Mesg-ID is not the one we sent",
        ),
        (
            ba(COA, bu.sequence, 129, 0, mesg_id(&bu.options), vec![], None),
            "no MN-HA authentication option of ours",
        ),
    ];
    for ((bytes, parsed), reason) in cases {
        h.r.handle_ba(h.at(10), HA, &bytes, &parsed);
        assert_eq!(h.r.state(), RegistrationState::Registering, "{reason}");
        assert_eq!(h.r.sequence(), bu.sequence, "{reason}");
        assert_eq!(h.events(), vec![EventKind::BaIgnored { reason }]);
        assert!(h.sent().is_empty(), "{reason}");
    }
    // An unsigned 146 for our BU: reported (it may be a key mismatch),
    // acted on never.
    let (bytes, parsed) = ba(COA, bu.sequence, 146, 0, None, vec![], None);
    h.r.handle_ba(h.at(20), HA, &bytes, &parsed);
    assert_eq!(h.r.state(), RegistrationState::Registering);
    assert_eq!(
        h.events(),
        vec![
            EventKind::UnverifiedAuthFailure,
            EventKind::BaIgnored {
                reason: "unsigned MIPV6-AUTH-FAIL"
            }
        ]
    );
}

/// RFC 6275 11.8 and 12: no more than MAX_UPDATE_RATE (3) BUs a second,
/// however fast the care-of address changes.
#[test]
fn max_update_rate() {
    let mut h = Harness::new(config());
    let coas: Vec<Ipv6Addr> = (1..=6u16)
        .map(|i| Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, i))
        .collect();
    let mut sent = Vec::new();
    for (i, c) in coas.iter().enumerate() {
        let t = h.at(10 * i as u64);
        h.r.handle_new_coa(t, *c);
        for (coa, _, _) in h.sent() {
            sent.push((10 * i as u64, coa));
        }
    }
    assert_eq!(sent.len(), 3, "{sent:?}");
    // The last address goes out once the first second is over.
    for (t, _) in h.run_until(h.at(1_200)) {
        sent.push((t, Ipv6Addr::UNSPECIFIED));
    }
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert_eq!(sent[3].0, 1_000);
    assert_eq!(h.r.state(), RegistrationState::Registering);
    let last = h.events().into_iter().rev().find_map(|e| match e {
        EventKind::BuSent { coa, .. } => Some(coa),
        _ => None,
    });
    assert_eq!(last, Some(coas[5]));
}

/// RFC 6275 11.7.1: the lifetime asked for is no longer than the care-of
/// address's remaining valid lifetime.
#[test]
fn lifetime_capped_by_the_care_of_address() {
    let mut h = Harness::new(config());
    h.r.set_coa_lifetime(h.at(0), COA, Some(Duration::from_secs(100)));
    h.r.handle_new_coa(h.at(0), COA);
    let (_, bu, _) = h.one_bu();
    assert_eq!(bu.lifetime, 25);
    // Another address with no such limit asks for the configured 600 s.
    h.r.handle_new_coa(h.at(50), COA2);
    let (_, bu, _) = h.one_bu();
    assert_eq!(bu.lifetime, 150);
}
