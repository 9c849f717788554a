#![allow(clippy::unwrap_used)]

use super::*;

const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
const COA_A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 0x10);
const COA_B: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xb, 0, 0, 0, 0, 0x10);
const WAIT: Duration = Duration::from_millis(500);

fn home(priority: i32) -> LinkView {
    LinkView {
        priority,
        at_home: true,
        care_of_address: None,
    }
}

fn away(priority: i32, coa: Ipv6Addr) -> LinkView {
    LinkView {
        priority,
        at_home: false,
        care_of_address: Some(coa),
    }
}

fn down(priority: i32) -> LinkView {
    LinkView {
        priority,
        at_home: false,
        care_of_address: None,
    }
}

fn drain(m: &mut Movement) -> Vec<Action> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

#[test]
fn choose_takes_the_highest_priority_then_the_first_listed() {
    assert_eq!(choose(&[]), Location::Detached);
    assert_eq!(choose(&[down(5), down(1)]), Location::Detached);
    assert_eq!(
        choose(&[away(1, COA_A), away(5, COA_B)]),
        Location::Away {
            link: 1,
            coa: COA_B
        }
    );
    // A tie: the first listed.
    assert_eq!(
        choose(&[away(3, COA_A), away(3, COA_B)]),
        Location::Away {
            link: 0,
            coa: COA_A
        }
    );
    // Home on a lower-priority interface loses to a foreign link.
    assert_eq!(
        choose(&[home(1), away(2, COA_A)]),
        Location::Away {
            link: 1,
            coa: COA_A
        }
    );
    // An interface without carrier or address is passed over.
    assert_eq!(choose(&[down(9), home(0)]), Location::Home { link: 1 });
}

#[test]
fn moving_away_waits_for_the_kernel_to_report_the_care_of_address() {
    let t0 = Instant::now();
    let mut m = Movement::new(HOA, WAIT, true);
    m.update(t0, &[away(0, COA_A)]);
    let to = Location::Away {
        link: 0,
        coa: COA_A,
    };
    assert_eq!(
        drain(&mut m),
        [
            Action::TunnelLocal(Some(COA_A)),
            Action::Moved {
                to,
                previous_coa: None
            }
        ]
    );
    assert_eq!(m.poll_timeout(), Some(t0 + WAIT));
    // Another address's report does not release the BU.
    m.address_changed(t0, 0, COA_B, true);
    assert_eq!(drain(&mut m), []);
    m.address_changed(t0 + Duration::from_millis(3), 0, COA_A, true);
    assert_eq!(
        drain(&mut m),
        [Action::Register {
            coa: COA_A,
            ready: Readiness::Reported
        }]
    );
    assert_eq!(m.poll_timeout(), None);
    // Nothing more while nothing changes.
    m.update(t0 + WAIT * 2, &[away(0, COA_A)]);
    assert_eq!(drain(&mut m), []);
}

#[test]
fn an_address_already_reported_registers_in_the_same_turn() {
    let t0 = Instant::now();
    let mut m = Movement::new(HOA, WAIT, true);
    m.address_changed(t0, 1, COA_B, true);
    m.update(t0, &[down(0), away(0, COA_B)]);
    assert_eq!(
        drain(&mut m).last(),
        Some(&Action::Register {
            coa: COA_B,
            ready: Readiness::Reported
        })
    );
}

#[test]
fn the_bu_leaves_at_the_deadline_without_a_report() {
    let t0 = Instant::now();
    let mut m = Movement::new(HOA, WAIT, true);
    m.update(t0, &[away(0, COA_A)]);
    drain(&mut m);
    m.handle_timeout(t0 + WAIT - Duration::from_micros(1));
    assert_eq!(drain(&mut m), []);
    m.handle_timeout(t0 + WAIT);
    assert_eq!(
        drain(&mut m),
        [Action::Register {
            coa: COA_A,
            ready: Readiness::TimedOut
        }]
    );
}

#[test]
fn a_second_move_cancels_the_first_wait() {
    let t0 = Instant::now();
    let mut m = Movement::new(HOA, WAIT, true);
    m.update(t0, &[away(0, COA_A)]);
    drain(&mut m);
    let t1 = t0 + Duration::from_millis(100);
    m.update(t1, &[away(0, COA_B)]);
    assert_eq!(
        drain(&mut m),
        [
            Action::TunnelLocal(Some(COA_B)),
            Action::Moved {
                to: Location::Away {
                    link: 0,
                    coa: COA_B
                },
                previous_coa: Some(COA_A)
            }
        ]
    );
    // A's report and A's deadline are nothing now.
    m.address_changed(t1, 0, COA_A, true);
    m.handle_timeout(t0 + WAIT);
    assert_eq!(drain(&mut m), []);
    m.handle_timeout(t1 + WAIT);
    assert_eq!(
        drain(&mut m),
        [Action::Register {
            coa: COA_B,
            ready: Readiness::TimedOut
        }]
    );
}

#[test]
fn returning_home_places_the_home_address_then_deregisters_once_it_is_reported() {
    let t0 = Instant::now();
    let mut m = Movement::new(HOA, WAIT, true);
    m.update(t0, &[away(0, COA_A), home(0)]);
    drain(&mut m);
    // The home address was reported on the home link during an earlier
    // stay: that report must not release this deregistration.
    m.address_changed(t0, 1, HOA, true);
    let t1 = t0 + Duration::from_millis(10);
    m.update(t1, &[down(0), home(0)]);
    assert_eq!(
        drain(&mut m),
        [
            Action::TunnelLocal(None),
            Action::HomeAddressToLink { link: 1 },
            Action::Moved {
                to: Location::Home { link: 1 },
                previous_coa: Some(COA_A)
            },
            Action::StopDiscovery,
        ]
    );
    m.home_address_placed(true);
    // RFC 6275 11.5.4: the home agent still defends the home address.
    assert_eq!(drain(&mut m), [Action::SolicitHomeAgent { link: 1 }]);
    assert_eq!(m.awaiting_home_agent(), Some(1));
    assert_eq!(m.poll_timeout(), Some(t1 + WAIT));
    // The home address is usable, but the home agent has not answered.
    m.address_changed(t1, 1, HOA, true);
    assert_eq!(drain(&mut m), []);
    m.home_agent_answered(t1 + Duration::from_millis(1));
    assert_eq!(m.awaiting_home_agent(), None);
    assert_eq!(
        drain(&mut m),
        [Action::Deregister {
            ready: Readiness::Reported,
            home_agent_answered: true,
        }]
    );
    // Every later turn at home only refreshes the home route.
    m.update(t1 + WAIT, &[down(0), home(0)]);
    assert_eq!(drain(&mut m), [Action::RefreshHomeRoute { link: 1 }]);
}

#[test]
fn a_home_address_that_cannot_be_placed_deregisters_at_once() {
    let t0 = Instant::now();
    let mut m = Movement::new(HOA, WAIT, true);
    m.update(t0, &[home(0)]);
    drain(&mut m);
    m.home_address_placed(false);
    assert_eq!(
        drain(&mut m),
        [Action::Deregister {
            ready: Readiness::NotAwaited,
            home_agent_answered: false,
        }]
    );
    assert_eq!(m.poll_timeout(), None);
    // It is not on the link, so leaving asks for no move back.
    m.update(t0, &[away(0, COA_A)]);
    assert!(!drain(&mut m).contains(&Action::HomeAddressToTunnel));
}

#[test]
fn leaving_home_moves_the_home_address_back_before_the_tunnel_starts() {
    let t0 = Instant::now();
    let mut m = Movement::new(HOA, WAIT, true);
    m.update(t0, &[home(0), down(1)]);
    drain(&mut m);
    m.home_address_placed(true);
    drain(&mut m);
    m.update(t0, &[down(0), away(1, COA_B)]);
    let a = drain(&mut m);
    assert_eq!(
        &a[..2],
        [
            Action::HomeAddressToTunnel,
            Action::TunnelLocal(Some(COA_B))
        ]
    );
}

#[test]
fn losing_every_link_stops_the_tunnel_and_the_discovery() {
    let t0 = Instant::now();
    let mut m = Movement::new(HOA, WAIT, true);
    m.update(t0, &[home(0)]);
    drain(&mut m);
    m.home_address_placed(true);
    drain(&mut m);
    m.update(t0, &[down(0)]);
    assert_eq!(
        drain(&mut m),
        [
            Action::TunnelLocal(None),
            Action::HomeAddressToTunnel,
            Action::StopDiscovery,
            Action::Moved {
                to: Location::Detached,
                previous_coa: None
            },
        ]
    );
    // The pending deregistration went with the link.
    assert_eq!(m.poll_timeout(), None);
    m.address_changed(t0, 0, HOA, true);
    assert_eq!(drain(&mut m), []);
}

#[test]
fn an_unknown_home_agent_is_discovered_before_the_bu() {
    let t0 = Instant::now();
    let mut m = Movement::new(HOA, WAIT, false);
    m.address_changed(t0, 0, COA_A, true);
    m.update(t0, &[away(0, COA_A)]);
    let a = drain(&mut m);
    assert_eq!(a.last(), Some(&Action::StartDiscovery { coa: COA_A }));
    assert!(!a.iter().any(|x| matches!(x, Action::Register { .. })));
    m.home_agent_found();
    assert_eq!(
        drain(&mut m),
        [Action::Register {
            coa: COA_A,
            ready: Readiness::NotAwaited
        }]
    );
    // At home with the home agent still unknown there is nothing to
    // deregister from.
    let mut m = Movement::new(HOA, WAIT, false);
    m.update(t0, &[home(0)]);
    drain(&mut m);
    m.home_address_placed(true);
    m.handle_timeout(t0 + WAIT * 4);
    assert_eq!(drain(&mut m), []);
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn a_carrier_flap_back_to_the_same_place_changes_nothing() {
    let t0 = Instant::now();
    let mut m = Movement::new(HOA, WAIT, true);
    m.address_changed(t0, 0, COA_A, true);
    m.update(t0, &[away(0, COA_A)]);
    drain(&mut m);
    // The engine sees the same care-of address on the same link: the
    // binding engine decides whether a BU is due, not the movement.
    m.update(t0 + Duration::from_millis(50), &[away(0, COA_A)]);
    assert_eq!(drain(&mut m), []);
    assert_eq!(
        m.location(),
        Location::Away {
            link: 0,
            coa: COA_A
        }
    );
}

#[test]
fn a_silent_home_agent_delays_the_deregistration_to_the_deadline_only() {
    let t0 = Instant::now();
    let mut m = Movement::new(HOA, WAIT, true);
    m.update(t0, &[home(0)]);
    drain(&mut m);
    m.home_address_placed(true);
    assert_eq!(drain(&mut m), [Action::SolicitHomeAgent { link: 0 }]);
    m.address_changed(t0, 0, HOA, true);
    m.handle_timeout(t0 + WAIT - Duration::from_micros(1));
    assert_eq!(drain(&mut m), []);
    m.handle_timeout(t0 + WAIT);
    assert_eq!(
        drain(&mut m),
        [Action::Deregister {
            ready: Readiness::TimedOut,
            home_agent_answered: false,
        }]
    );
}
