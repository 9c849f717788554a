//! Attacks on the home agent that once worked (issue 11), each replayed
//! against the real daemon in namespaces: a registration replayed after a
//! restart, a state file the configuration does not back. Run as root
//! with `--test-threads=2` at most.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use mip6_common::wire::mh::BaStatus;
use support::*;

/// Issue 11 item 11: a BU captured before a clean restart and replayed
/// after it (within the replay window) is refused and does not recreate
/// the binding the mobile node had removed.
#[test]
fn registration_replayed_after_a_clean_restart_is_refused() {
    // A wide window: the replay lands inside it however slow the restart.
    let w = World::new("ha-replay", "replay_window: 300\n");
    let ha = w.start_ha();
    let c = mn1();
    let captured = bu(&c, COA, 10, 100, now_ntp());
    let c2 = c.clone();
    let cap = captured.clone();
    w.mn.run_in(move || {
        let s = MnSockets::open();
        assert_eq!(s.exchange(&c2, COA, &cap).ba.status, BaStatus::ACCEPTED);
        let dereg = bu(&c2, COA, 11, 0, now_ntp());
        assert_eq!(s.exchange(&c2, COA, &dereg).ba.status, BaStatus::ACCEPTED);
    })
    .unwrap();
    assert!(w.status().bindings.is_empty());
    assert!(ha.stop().unwrap().success());

    let _ha = w.start_ha();
    let r =
        w.mn.run_in(move || MnSockets::open().exchange(&c, COA, &captured))
            .unwrap();
    assert!(!r.ba.status.is_accepted(), "replay accepted: {:?}", r.ba);
    std::thread::sleep(Duration::from_millis(300));
    assert!(w.status().bindings.is_empty(), "the replay made a binding");
    assert!(!w.route_to_tun(HOA));
}

/// Issue 11 item 15: a binding in the state file for a home address the
/// configuration does not hold (or under another SPI) is not served.
#[test]
fn state_file_bindings_the_configuration_does_not_hold_are_dropped() {
    let w = World::new("ha-forged-state", "");
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 500;
    let record = |hoa: &str, spi: u32| {
        format!(
            "{{\"hoa\":\"{hoa}\",\"coa\":\"{COA}\",\"ha_addr\":\"{HA}\",\"sequence\":7,\
             \"flags\":49152,\"lifetime_secs\":600,\"expires_unix\":{expires},\"spi\":{spi}}}"
        )
    };
    let text = format!(
        "{{\"version\":1,\"saved_unix\":0,\"bindings\":[{},{},{}]}}",
        record("2001:db8:1::999", SPI),
        record(&HOA.to_string(), SPI2),
        record(&HOA2.to_string(), SPI2),
    );
    std::fs::write(&w.state, text).unwrap();
    let ha = w.start_ha();
    let b = w.status().bindings;
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].hoa, HOA2);
    assert!(!w.route_to_tun("2001:db8:1::999".parse().unwrap()));
    assert!(!w.route_to_tun(HOA));
    assert!(
        ha.log().contains("home address not configured"),
        "{}",
        ha.log()
    );
}
