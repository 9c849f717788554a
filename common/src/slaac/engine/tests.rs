//! The engine driven through every path with a simulated clock.

use super::*;

const ROUTER: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const PREFIX_A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 0);

/// Identifiers that tests can predict: attempt N of prefix P gives
/// ::N+1 in the low byte, with the prefix's third group mixed in so two
/// prefixes never share one; EUI-64 always gives the same.
struct TestIids {
    kind: IidKind,
    draws: u8,
}

impl IidSource for TestIids {
    fn kind(&self) -> IidKind {
        self.kind
    }
    fn iid(&mut self, prefix: &Ipv6Addr, attempt: u8) -> Option<([u8; 8], u8)> {
        let tag = prefix.segments()[2] as u8;
        let iid = match self.kind {
            IidKind::Eui64 => [0x52, 0x46, 0x5d, 0xff, 0xfe, 0x6b, 0x7a, 0x54],
            IidKind::Stable => [0, 0, 0, 0, 0, tag, 0x10, attempt + 1],
            IidKind::Random => {
                self.draws += 1;
                [0xee, 0, 0, 0, 0, tag, 0x20, self.draws]
            }
        };
        Some((iid, attempt))
    }
}

fn fast() -> SlaacConfig {
    SlaacConfig {
        skip_initial_delay: true,
        ..SlaacConfig::default()
    }
}

fn engine(kind: IidKind, config: SlaacConfig) -> Slaac {
    Slaac::new(config, Box::new(TestIids { kind, draws: 0 }), 7)
}

fn actions(s: &mut Slaac) -> Vec<Action> {
    std::iter::from_fn(|| s.poll_action()).collect()
}

fn events(s: &mut Slaac) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// Fires every timer due up to `until`, in order, as a real shell would.
fn run_until(s: &mut Slaac, until: Instant) {
    while let Some(t) = s.poll_timeout() {
        if t > until {
            break;
        }
        s.handle_timeout(t);
    }
}

fn ra(prefixes: Vec<PrefixInfo>) -> RaInfo {
    RaInfo {
        router: ROUTER,
        cur_hop_limit: 64,
        managed: false,
        other: true,
        home_agent: false,
        router_lifetime: Duration::from_secs(1800),
        reachable_time: None,
        retrans_timer: None,
        mtu: Some(1500),
        prefixes,
    }
}

fn pio(prefix: Ipv6Addr, valid: Option<u64>, preferred: Option<u64>) -> PrefixInfo {
    PrefixInfo {
        prefix,
        prefix_len: 64,
        on_link: true,
        autonomous: true,
        valid: valid.map(Duration::from_secs),
        preferred: preferred.map(Duration::from_secs),
    }
}

fn state_of(s: &Slaac, addr: Ipv6Addr) -> Option<AddrState> {
    s.addresses().find(|a| a.addr == addr).map(|a| a.state)
}

fn global(s: &Slaac) -> Ipv6Addr {
    s.addresses()
        .find(|a| !a.link_local)
        .map(|a| a.addr)
        .expect("a global address")
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Link up at t0, link-local preferred after one RetransTimer, then an RA.
fn up_with_ll(kind: IidKind, config: SlaacConfig) -> (Slaac, Instant) {
    let t0 = Instant::now();
    let mut s = engine(kind, config);
    s.handle_link_up(t0);
    run_until(&mut s, t0 + secs(1));
    (s, t0)
}

#[test]
fn link_up_forms_link_local_with_dad_and_solicits() {
    let t0 = Instant::now();
    let mut s = engine(IidKind::Eui64, fast());
    s.handle_link_up(t0);
    let ll: Ipv6Addr = "fe80::5246:5dff:fe6b:7a54".parse().unwrap();
    assert_eq!(state_of(&s, ll), Some(AddrState::Tentative));
    assert_eq!(
        actions(&mut s),
        vec![Action::JoinGroup("ff02::1:ff6b:7a54".parse().unwrap())]
    );
    assert_eq!(s.poll_timeout(), Some(t0));
    s.handle_timeout(t0);
    let a = actions(&mut s);
    // RFC 4861 6.3.7: with no usable address the RS leaves from :: and
    // carries no link-layer option.
    assert_eq!(
        a[0],
        Action::SendRs {
            src: None,
            include_sllao: false
        }
    );
    assert!(matches!(a[1], Action::SendDadProbe { target, nonce: Some(_) } if target == ll));
    // Tentative addresses are not handed to the kernel.
    assert!(
        !a.iter()
            .any(|x| matches!(x, Action::ConfigureAddress { .. }))
    );
    s.handle_timeout(t0 + ms(999));
    assert_eq!(state_of(&s, ll), Some(AddrState::Tentative));
    s.handle_timeout(t0 + secs(1));
    assert_eq!(state_of(&s, ll), Some(AddrState::Preferred));
    assert_eq!(
        actions(&mut s),
        vec![Action::ConfigureAddress {
            addr: ll,
            prefix_len: 64,
            valid: None,
            preferred: None,
            optimistic: false
        }]
    );
    let ev = events(&mut s);
    assert!(ev.iter().any(|e| e.at == t0 + secs(1)
        && e.kind
            == EventKind::AddressState {
                addr: ll,
                link_local: true,
                from: Some(AddrState::Tentative),
                to: AddrState::Preferred
            }));
}

#[test]
fn first_messages_wait_a_random_delay_below_the_maximum() {
    // RFC 4861 6.3.7 / RFC 4862 5.4.2.
    for seed in 0..20 {
        let t0 = Instant::now();
        let mut s = Slaac::new(
            SlaacConfig::default(),
            Box::new(TestIids {
                kind: IidKind::Stable,
                draws: 0,
            }),
            seed,
        );
        s.handle_link_up(t0);
        let first = s.poll_timeout().unwrap();
        assert!(first >= t0 && first < t0 + secs(1), "seed {seed}");
        s.handle_timeout(first - ms(1).min(first - t0));
        if first > t0 {
            assert!(
                actions(&mut s)
                    .iter()
                    .all(|a| matches!(a, Action::JoinGroup(_)))
            );
        }
    }
}

#[test]
fn ra_prefix_yields_global_address_routes_and_flags() {
    let (mut s, t0) = up_with_ll(IidKind::Stable, fast());
    actions(&mut s);
    events(&mut s);
    let t = t0 + secs(2);
    s.handle_ra(t, &ra(vec![pio(PREFIX_A, Some(86400), Some(14400))]));
    let g: Ipv6Addr = "2001:db8:a::a:1001".parse().unwrap();
    assert_eq!(state_of(&s, g), Some(AddrState::Tentative));
    let a = actions(&mut s);
    assert!(a.contains(&Action::ConfigureDefaultRoute {
        router: ROUTER,
        lifetime: secs(1800)
    }));
    assert!(a.contains(&Action::SetMtu(1500)));
    assert!(a.contains(&Action::ConfigurePrefixRoute {
        prefix: PREFIX_A,
        prefix_len: 64,
        lifetime: Some(secs(86400))
    }));
    let ev = events(&mut s);
    assert!(ev.iter().any(|e| e.kind
        == EventKind::RouterFlags {
            router: ROUTER,
            managed: false,
            other: true,
            home_agent: false
        }));
    run_until(&mut s, t + secs(1));
    assert_eq!(state_of(&s, g), Some(AddrState::Preferred));
    let a = actions(&mut s);
    assert!(a.contains(&Action::ConfigureAddress {
        addr: g,
        prefix_len: 64,
        valid: Some(secs(86400 - 1)),
        preferred: Some(secs(14400 - 1)),
        optimistic: false
    }));
    // The same flags again are not news.
    s.handle_ra(t + secs(10), &ra(vec![]));
    assert!(
        !events(&mut s)
            .iter()
            .any(|e| matches!(e.kind, EventKind::RouterFlags { .. }))
    );
}

#[test]
fn dad_transmits_and_retrans_timer_from_the_ra() {
    let config = SlaacConfig {
        dad_transmits: 3,
        ..fast()
    };
    let (mut s, t0) = up_with_ll(IidKind::Stable, config);
    run_until(&mut s, t0 + secs(3));
    actions(&mut s);
    let t = t0 + secs(3);
    let mut adv = ra(vec![pio(PREFIX_A, None, None)]);
    adv.retrans_timer = Some(ms(200));
    s.handle_ra(t, &adv);
    let g = global(&s);
    run_until(&mut s, t + ms(599));
    let probes = actions(&mut s)
        .into_iter()
        .filter(|a| matches!(a, Action::SendDadProbe { target, .. } if *target == g))
        .count();
    assert_eq!(probes, 3);
    assert_eq!(state_of(&s, g), Some(AddrState::Tentative));
    run_until(&mut s, t + ms(600));
    assert_eq!(state_of(&s, g), Some(AddrState::Preferred));
}

#[test]
fn optimistic_addresses_are_usable_at_once() {
    let config = SlaacConfig {
        optimistic: true,
        ..fast()
    };
    let t0 = Instant::now();
    let mut s = engine(IidKind::Stable, config);
    s.handle_link_up(t0);
    let ll: Ipv6Addr = "fe80::1001".parse().unwrap();
    assert_eq!(state_of(&s, ll), Some(AddrState::Optimistic));
    assert!(actions(&mut s).contains(&Action::ConfigureAddress {
        addr: ll,
        prefix_len: 64,
        valid: None,
        preferred: None,
        optimistic: true
    }));
    s.handle_timeout(t0);
    // RFC 4429 3.2: an optimistic source, but no link-layer option.
    assert!(actions(&mut s).contains(&Action::SendRs {
        src: Some(ll),
        include_sllao: false
    }));
    s.handle_ra(t0 + ms(5), &ra(vec![pio(PREFIX_A, None, None)]));
    let g = global(&s);
    assert_eq!(state_of(&s, g), Some(AddrState::Optimistic));
    run_until(&mut s, t0 + ms(1005));
    assert_eq!(state_of(&s, g), Some(AddrState::Preferred));
    assert!(actions(&mut s).contains(&Action::ConfigureAddress {
        addr: g,
        prefix_len: 64,
        valid: None,
        preferred: None,
        optimistic: false
    }));
}

/// RFC 4429 3.3: a solicitation for an optimistic address is answered by
/// the engine, without the Override flag; a tentative (not optimistic)
/// address gets no answer, and neither does a preferred one (the kernel's).
#[test]
fn optimistic_addresses_are_answered_without_override() {
    let config = SlaacConfig {
        optimistic: true,
        ..fast()
    };
    let t0 = Instant::now();
    let mut s = engine(IidKind::Stable, config);
    s.handle_link_up(t0);
    let ll: Ipv6Addr = "fe80::1001".parse().unwrap();
    actions(&mut s);
    s.handle_ns(t0 + ms(1), ROUTER, ll, None);
    assert_eq!(
        actions(&mut s),
        vec![Action::SendOptimisticNa {
            target: ll,
            dst: ROUTER
        }]
    );
    assert_eq!(state_of(&s, ll), Some(AddrState::Optimistic));
    run_until(&mut s, t0 + ms(1005));
    assert_eq!(state_of(&s, ll), Some(AddrState::Preferred));
    actions(&mut s);
    s.handle_ns(t0 + ms(1006), ROUTER, ll, None);
    assert!(actions(&mut s).is_empty());
    // Without optimistic DAD: nothing while tentative either.
    let mut s = engine(IidKind::Stable, fast());
    s.handle_link_up(t0);
    actions(&mut s);
    s.handle_ns(t0 + ms(1), ROUTER, ll, None);
    assert!(actions(&mut s).is_empty());
}

#[test]
fn own_looped_back_probe_is_not_a_conflict_but_another_nonce_is() {
    let t0 = Instant::now();
    let mut s = engine(IidKind::Stable, fast());
    s.handle_link_up(t0);
    s.handle_timeout(t0);
    let ll: Ipv6Addr = "fe80::1001".parse().unwrap();
    let nonce = actions(&mut s)
        .into_iter()
        .find_map(|a| match a {
            Action::SendDadProbe { nonce, .. } => nonce,
            _ => None,
        })
        .unwrap();
    // RFC 7527 4.2: our own nonce came back.
    s.handle_ns(t0 + ms(1), Ipv6Addr::UNSPECIFIED, ll, Some(&nonce));
    assert_eq!(state_of(&s, ll), Some(AddrState::Tentative));
    // RFC 4862 5.4.3: a unicast-sourced NS is address resolution.
    s.handle_ns(t0 + ms(2), ROUTER, ll, None);
    assert_eq!(state_of(&s, ll), Some(AddrState::Tentative));
    // Another node probing the same address.
    s.handle_ns(
        t0 + ms(3),
        Ipv6Addr::UNSPECIFIED,
        ll,
        Some(&[1, 2, 3, 4, 5, 6]),
    );
    assert_eq!(state_of(&s, ll), None);
    let next: Ipv6Addr = "fe80::1002".parse().unwrap();
    assert_eq!(state_of(&s, next), Some(AddrState::Tentative));
    assert!(events(&mut s).iter().any(|e| e.kind
        == EventKind::DadConflict {
            addr: ll,
            attempt: 0,
            retry: Some(next)
        }));
}

#[test]
fn probe_without_nonce_is_a_conflict() {
    let t0 = Instant::now();
    let mut s = engine(IidKind::Random, fast());
    s.handle_link_up(t0);
    s.handle_timeout(t0);
    let ll = s.addresses().next().unwrap().addr;
    s.handle_ns(t0 + ms(1), Ipv6Addr::UNSPECIFIED, ll, None);
    assert_eq!(state_of(&s, ll), None);
    // A random identifier draws anew.
    let fresh = s.addresses().next().unwrap().addr;
    assert_ne!(fresh, ll);
    assert_eq!(fresh.octets()[8], 0xee);
}

#[test]
fn stable_ids_retry_with_next_counter_then_give_up() {
    // RFC 7217 6: DAD_Counter increments up to IDGEN_RETRIES.
    let (mut s, t0) = up_with_ll(IidKind::Stable, fast());
    let t = t0 + secs(2);
    s.handle_ra(t, &ra(vec![pio(PREFIX_A, None, None)]));
    for attempt in 0..=3u8 {
        let g = global(&s);
        assert_eq!(g.octets()[15], attempt + 1);
        s.handle_na(t + ms(u64::from(attempt)), g);
    }
    assert!(s.addresses().all(|a| a.link_local));
    assert!(events(&mut s).iter().any(|e| e.kind
        == EventKind::GaveUp {
            prefix: PREFIX_A,
            reason: "identifier retries exhausted"
        }));
}

#[test]
fn eui64_link_local_conflict_disables_ipv6() {
    let t0 = Instant::now();
    let mut s = engine(IidKind::Eui64, fast());
    s.handle_link_up(t0);
    s.handle_timeout(t0);
    actions(&mut s);
    let ll: Ipv6Addr = "fe80::5246:5dff:fe6b:7a54".parse().unwrap();
    s.handle_na(t0 + ms(10), ll);
    assert!(s.is_disabled());
    let a = actions(&mut s);
    assert!(a.contains(&Action::DisableIpv6));
    assert_eq!(s.addresses().count(), 0);
    // Nothing more is sent on a disabled interface.
    run_until(&mut s, t0 + secs(30));
    assert!(
        !actions(&mut s)
            .iter()
            .any(|a| matches!(a, Action::SendRs { .. }))
    );
    s.handle_ra(t0 + secs(31), &ra(vec![pio(PREFIX_A, None, None)]));
    assert_eq!(s.addresses().count(), 0);
}

#[test]
fn eui64_global_conflict_is_final() {
    let (mut s, t0) = up_with_ll(IidKind::Eui64, fast());
    s.handle_ra(t0 + secs(2), &ra(vec![pio(PREFIX_A, None, None)]));
    let g = global(&s);
    s.handle_ns(t0 + secs(2), Ipv6Addr::UNSPECIFIED, g, None);
    assert!(s.addresses().all(|a| a.link_local));
    assert!(!s.is_disabled());
}

#[test]
fn late_conflict_is_reported_not_acted_on() {
    let (mut s, t0) = up_with_ll(IidKind::Stable, fast());
    let ll = s.link_local().unwrap();
    events(&mut s);
    s.handle_na(t0 + secs(5), ll);
    assert_eq!(state_of(&s, ll), Some(AddrState::Preferred));
    assert!(
        events(&mut s)
            .iter()
            .any(|e| e.kind == EventKind::LateConflict { addr: ll })
    );
    // A DAD probe from someone else for an address we hold: the kernel,
    // which holds it too, defends it; the engine keeps it.
    s.handle_ns(t0 + secs(6), Ipv6Addr::UNSPECIFIED, ll, None);
    assert_eq!(state_of(&s, ll), Some(AddrState::Preferred));
}

#[test]
fn two_hour_rule() {
    // RFC 4862 5.5.3 e).
    let (mut s, t0) = up_with_ll(IidKind::Stable, fast());
    let t = t0 + secs(2);
    s.handle_ra(t, &ra(vec![pio(PREFIX_A, Some(86400), Some(3600))]));
    run_until(&mut s, t + secs(1));
    let g = global(&s);
    let valid_until = |s: &Slaac| s.addresses().find(|a| a.addr == g).unwrap().valid_until;
    // Remaining 1 day, RA says 10 minutes: cut to two hours, not ten minutes.
    s.handle_ra(t + secs(10), &ra(vec![pio(PREFIX_A, Some(600), Some(300))]));
    assert_eq!(valid_until(&s), Some(t + secs(10) + secs(7200)));
    // Remaining now at most two hours: a shorter lifetime is ignored.
    s.handle_ra(t + secs(20), &ra(vec![pio(PREFIX_A, Some(60), Some(30))]));
    assert_eq!(valid_until(&s), Some(t + secs(10) + secs(7200)));
    // Longer than what remains: taken.
    s.handle_ra(t + secs(30), &ra(vec![pio(PREFIX_A, Some(9000), Some(30))]));
    assert_eq!(valid_until(&s), Some(t + secs(30) + secs(9000)));
    // Shorter than what remains but above two hours: taken as given.
    s.handle_ra(t + secs(40), &ra(vec![pio(PREFIX_A, Some(7300), Some(30))]));
    assert_eq!(valid_until(&s), Some(t + secs(40) + secs(7300)));
    // Preferred lifetime 0 deprecates at once.
    s.handle_ra(t + secs(50), &ra(vec![pio(PREFIX_A, Some(7300), Some(0))]));
    assert_eq!(state_of(&s, g), Some(AddrState::Deprecated));
    s.handle_ra(
        t + secs(60),
        &ra(vec![pio(PREFIX_A, Some(7300), Some(100))]),
    );
    assert_eq!(state_of(&s, g), Some(AddrState::Preferred));
}

#[test]
fn lifetimes_expire_preferred_then_valid() {
    let (mut s, t0) = up_with_ll(IidKind::Stable, fast());
    let t = t0 + secs(2);
    s.handle_ra(t, &ra(vec![pio(PREFIX_A, Some(20), Some(10))]));
    let g = global(&s);
    run_until(&mut s, t + secs(9));
    assert_eq!(state_of(&s, g), Some(AddrState::Preferred));
    run_until(&mut s, t + secs(10));
    assert_eq!(state_of(&s, g), Some(AddrState::Deprecated));
    actions(&mut s);
    run_until(&mut s, t + secs(20));
    assert_eq!(state_of(&s, g), None);
    let a = actions(&mut s);
    assert!(a.contains(&Action::RemoveAddress {
        addr: g,
        prefix_len: 64
    }));
    assert!(a.contains(&Action::RemovePrefixRoute {
        prefix: PREFIX_A,
        prefix_len: 64
    }));
}

#[test]
fn bogus_prefixes_are_ignored() {
    let (mut s, t0) = up_with_ll(IidKind::Stable, fast());
    let t = t0 + secs(2);
    // c) preferred above valid.
    s.handle_ra(t, &ra(vec![pio(PREFIX_A, Some(10), Some(20))]));
    // d) not a /64.
    let mut p48 = pio("2001:db8:b::".parse().unwrap(), None, None);
    p48.prefix_len = 48;
    // b) link-local prefix.
    let ll = pio("fe80::".parse().unwrap(), None, None);
    // a) A flag clear: on-link only.
    let mut no_a = pio("2001:db8:c::".parse().unwrap(), None, None);
    no_a.autonomous = false;
    s.handle_ra(t, &ra(vec![p48, ll, no_a]));
    assert!(s.addresses().all(|a| a.link_local));
    let a = actions(&mut s);
    assert!(a.contains(&Action::ConfigurePrefixRoute {
        prefix: "2001:db8:c::".parse().unwrap(),
        prefix_len: 64,
        lifetime: None
    }));
    assert!(!a.iter().any(
        |x| matches!(x, Action::ConfigurePrefixRoute { prefix, .. } if prefix.is_unicast_link_local())
    ));
}

#[test]
fn router_lifetime_expires_and_zero_removes() {
    let (mut s, t0) = up_with_ll(IidKind::Stable, fast());
    let t = t0 + secs(2);
    let mut adv = ra(vec![]);
    adv.router_lifetime = secs(30);
    s.handle_ra(t, &adv);
    assert_eq!(s.default_routers().count(), 1);
    actions(&mut s);
    run_until(&mut s, t + secs(30));
    assert_eq!(s.default_routers().count(), 0);
    assert!(actions(&mut s).contains(&Action::RemoveDefaultRoute { router: ROUTER }));
    assert!(
        events(&mut s)
            .iter()
            .any(|e| e.kind == EventKind::RouterExpired { router: ROUTER })
    );
    s.handle_ra(t + secs(40), &adv);
    adv.router_lifetime = Duration::ZERO;
    s.handle_ra(t + secs(41), &adv);
    assert_eq!(s.default_routers().count(), 0);
}

#[test]
fn router_solicitations_retransmit_then_stop() {
    let t0 = Instant::now();
    let mut s = engine(IidKind::Stable, fast());
    s.handle_link_up(t0);
    run_until(&mut s, t0 + secs(60));
    let rs: Vec<_> = events(&mut s)
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::RsSent { .. }))
        .map(|e| e.at - t0)
        .collect();
    // The first RS leaves from :: at once; the second as soon as the
    // link-local address is ours, with its link-layer address, so a router
    // can answer by unicast without its multicast rate limit; then the
    // RFC 4861 interval, three in all.
    assert_eq!(rs, vec![secs(0), secs(1), secs(5)]);
    // An RA ends the solicitation.
    let mut s = engine(IidKind::Stable, fast());
    s.handle_link_up(t0);
    s.handle_timeout(t0);
    s.handle_ra(t0 + ms(10), &ra(vec![]));
    run_until(&mut s, t0 + secs(60));
    let n = events(&mut s)
        .iter()
        .filter(|e| matches!(e.kind, EventKind::RsSent { .. }))
        .count();
    assert_eq!(n, 1);
}

#[test]
fn the_link_local_solicits_again_only_when_the_first_rs_could_not_name_us() {
    let t0 = Instant::now();
    let rs_at = |s: &mut Slaac| -> Vec<(Duration, Action)> {
        let mut out = Vec::new();
        while let Some(t) = s.poll_timeout() {
            if t > t0 + secs(3) {
                break;
            }
            s.handle_timeout(t);
            for a in actions(s) {
                if matches!(a, Action::SendRs { .. }) {
                    out.push((t - t0, a));
                }
            }
        }
        out
    };
    let ll: Ipv6Addr = "fe80::5246:5dff:fe6b:7a54".parse().unwrap();
    let mut s = engine(IidKind::Eui64, fast());
    s.handle_link_up(t0);
    assert_eq!(
        rs_at(&mut s),
        vec![
            (
                secs(0),
                Action::SendRs {
                    src: None,
                    include_sllao: false
                }
            ),
            (
                secs(1),
                Action::SendRs {
                    src: Some(ll),
                    include_sllao: true
                }
            ),
        ]
    );
    // An RA before the link-local is ready: nothing more to ask.
    let mut s = engine(IidKind::Eui64, fast());
    s.handle_link_up(t0);
    s.handle_timeout(t0);
    s.handle_ra(t0 + ms(5), &ra(vec![]));
    actions(&mut s);
    assert!(rs_at(&mut s).is_empty());
    // Optimistic: the first RS already leaves from the link-local, but
    // without the link-layer option (RFC 4429 3.2); once DAD is done the
    // RS with it follows.
    let mut s = engine(
        IidKind::Eui64,
        SlaacConfig {
            optimistic: true,
            ..fast()
        },
    );
    s.handle_link_up(t0);
    let got = rs_at(&mut s);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        got[0].1,
        Action::SendRs {
            src: Some(ll),
            include_sllao: false
        }
    );
    assert_eq!(
        got[1],
        (
            secs(1),
            Action::SendRs {
                src: Some(ll),
                include_sllao: true
            }
        )
    );
}

#[test]
fn link_down_takes_everything_back_and_up_starts_over() {
    let (mut s, t0) = up_with_ll(IidKind::Stable, fast());
    let t = t0 + secs(2);
    s.handle_ra(t, &ra(vec![pio(PREFIX_A, None, None)]));
    run_until(&mut s, t + secs(1));
    let g = global(&s);
    let ll = s.link_local().unwrap();
    actions(&mut s);
    s.handle_link_down(t + secs(5));
    let a = actions(&mut s);
    for want in [
        Action::RemoveAddress {
            addr: g,
            prefix_len: 64,
        },
        Action::RemoveAddress {
            addr: ll,
            prefix_len: 64,
        },
        Action::RemoveDefaultRoute { router: ROUTER },
        Action::RemovePrefixRoute {
            prefix: PREFIX_A,
            prefix_len: 64,
        },
    ] {
        assert!(a.contains(&want), "missing {want:?} in {a:?}");
    }
    assert_eq!(s.addresses().count(), 0);
    assert_eq!(s.poll_timeout(), None);
    s.handle_link_up(t + secs(6));
    assert_eq!(state_of(&s, ll), Some(AddrState::Tentative));
}

#[test]
fn random_identifiers_get_temporary_lifetimes_and_regenerate() {
    // RFC 8981 3.4/3.5, scaled down so the test reads easily.
    let config = SlaacConfig {
        temp_valid_lifetime: secs(1000),
        temp_preferred_lifetime: secs(500),
        ..fast()
    };
    let (mut s, t0) = up_with_ll(IidKind::Random, config);
    let t = t0 + secs(2);
    s.handle_ra(t, &ra(vec![pio(PREFIX_A, None, None)]));
    run_until(&mut s, t + secs(1));
    let first = s.global_addresses()[0].clone();
    assert_eq!(first.valid_until, Some(t + secs(1000)));
    let pref = first.preferred_until.unwrap();
    // Desync is at most 0.4 * preferred.
    assert!(pref <= t + secs(500) && pref >= t + secs(300), "{pref:?}");
    // An RA cannot extend a temporary address beyond its caps.
    s.handle_ra(t + secs(5), &ra(vec![pio(PREFIX_A, None, None)]));
    assert_eq!(
        s.addresses()
            .find(|a| a.addr == first.addr)
            .unwrap()
            .valid_until,
        Some(t + secs(1000))
    );
    // REGEN_ADVANCE = 2 + 3 * 1 * 1 s before deprecation a successor appears
    // and is preferred by the time the first deprecates.
    run_until(&mut s, pref - secs(5) - ms(1));
    assert_eq!(s.global_addresses().len(), 1);
    run_until(&mut s, pref);
    let now = s.global_addresses();
    assert_eq!(now.len(), 2);
    assert_eq!(now[0].state, AddrState::Preferred);
    assert_ne!(now[0].addr, first.addr);
    assert_eq!(state_of(&s, first.addr), Some(AddrState::Deprecated));
}

#[test]
fn dad_can_be_turned_off() {
    let config = SlaacConfig {
        dad_transmits: 0,
        ..fast()
    };
    let t0 = Instant::now();
    let mut s = engine(IidKind::Stable, config);
    s.handle_link_up(t0);
    assert!(s.link_local().is_some());
    s.handle_timeout(t0);
    assert!(
        !actions(&mut s)
            .iter()
            .any(|a| matches!(a, Action::SendDadProbe { .. }))
    );
}

#[test]
fn managed_address_goes_through_dad_and_a_conflict_is_not_retried() {
    let leased = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 0x100);
    let (mut s, t) = up_with_ll(IidKind::Stable, fast());
    actions(&mut s);
    assert!(s.add_managed_address(t, leased, 128, secs(200), secs(100)));
    assert_eq!(state_of(&s, leased), Some(AddrState::Tentative));
    s.handle_timeout(t);
    let acts = actions(&mut s);
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::SendDadProbe { target, .. } if *target == leased))
    );
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::ConfigureAddress { .. })),
        "not before DAD"
    );
    // An RA for the covering prefix does not touch the lease's lifetimes.
    let mut p = pio(PREFIX_A, Some(30), Some(20));
    p.autonomous = false;
    s.handle_ra(t, &ra(vec![p]));
    s.handle_ns(t + ms(10), Ipv6Addr::UNSPECIFIED, leased, None);
    assert_eq!(state_of(&s, leased), None);
    let ev = events(&mut s);
    assert!(ev.iter().any(|e| e.kind
        == EventKind::DadConflict {
            addr: leased,
            attempt: 0,
            retry: None
        }));
    assert!(
        !ev.iter()
            .any(|e| matches!(e.kind, EventKind::GaveUp { .. }))
    );
    assert_eq!(
        s.global_addresses().len(),
        0,
        "no identifier of ours replaces it"
    );
}

#[test]
fn managed_address_passes_dad_and_takes_renewed_lifetimes() {
    let leased = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 0x100);
    let config = SlaacConfig {
        optimistic: true,
        ..fast()
    };
    let (mut s, t) = up_with_ll(IidKind::Stable, config);
    actions(&mut s);
    s.add_managed_address(t, leased, 128, secs(200), secs(100));
    assert!(
        actions(&mut s).contains(&Action::ConfigureAddress {
            addr: leased,
            prefix_len: 128,
            valid: Some(secs(200)),
            preferred: Some(secs(100)),
            optimistic: true,
        }),
        "optimistic: usable at once"
    );
    run_until(&mut s, t + secs(2));
    assert_eq!(state_of(&s, leased), Some(AddrState::Preferred));
    // A Renew's Reply: the server's lifetimes, even shorter ones.
    assert!(!s.add_managed_address(t + secs(50), leased, 128, secs(60), secs(30)));
    assert!(actions(&mut s).contains(&Action::ConfigureAddress {
        addr: leased,
        prefix_len: 128,
        valid: Some(secs(60)),
        preferred: Some(secs(30)),
        optimistic: false,
    }));
    s.remove_managed_address(t + secs(51), leased);
    assert!(actions(&mut s).contains(&Action::RemoveAddress {
        addr: leased,
        prefix_len: 128
    }));
}
