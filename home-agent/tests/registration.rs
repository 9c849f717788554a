//! The home agent end to end in network namespaces: registration and what
//! it does to the home link. Run as root with `--test-threads=2` at most.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant, SystemTime};

use mip6_common::binding::ntp::ntp_from_system_time;
use mip6_common::binding::update_list::{
    Action, EventKind, HomeRegistration, RegistrationConfig, RegistrationState,
};
use mip6_common::sys::icmp6::NdSocket;
use mip6_common::wire::mh::BaStatus;
use mip6_common::wire::nd::{NdOptions, NdRepr};
use support::*;

#[test]
fn valid_bu_creates_binding_with_status_0() {
    mip6_common::require_root!();
    let w = World::new("ha-reg", "");
    let _ha = w.start_ha();
    // The mobile node's own engine builds the BU and judges the BA.
    let (state, ba_status, rh2) =
        w.mn.run_in(|| {
            let s = MnSockets::open();
            let t0 = Instant::now();
            let mut reg = HomeRegistration::new(
                RegistrationConfig {
                    nai: Some(NAI.into()),
                    spi: SPI,
                    key: Some(KEY.as_bytes().to_vec()),
                    lifetime: Duration::from_secs(400),
                    initial_sequence: 1000,
                    ..RegistrationConfig::new(HOA, HA)
                },
                t0,
                ntp_from_system_time(SystemTime::now()),
            );
            reg.handle_new_coa(t0, COA);
            let Some(Action::SendBu {
                coa, hoa, mh_bytes, ..
            }) = reg.poll_action()
            else {
                panic!("no BU");
            };
            s.send_mh(coa, hoa, &mh_bytes);
            let r = s.recv_ba(T).expect("BA");
            reg.handle_ba(Instant::now(), r.src, &r.mh, &r.ba);
            let registered = std::iter::from_fn(|| reg.poll_event())
                .any(|e| matches!(e.kind, EventKind::Registered { .. }));
            assert!(registered, "the MN engine took the BA");
            (reg.state(), r.ba.status, r.rh2)
        })
        .unwrap();
    assert_eq!(ba_status, BaStatus::ACCEPTED);
    assert_eq!(state, RegistrationState::Registered);
    assert_eq!(rh2, Some(HOA), "the BA carries a type 2 routing header");

    let s = w.status();
    assert_eq!(s.bindings.len(), 1, "{s:?}");
    let b = &s.bindings[0];
    assert_eq!((b.hoa, b.coa, b.sequence), (HOA, COA, 1001));
    assert_eq!(b.mn_id.as_deref(), Some(NAI));
    assert_eq!(b.flags, "AH");
    assert_eq!(b.lifetime_secs, 400);
    assert!(
        b.lifetime_left_secs > 390 && b.lifetime_left_secs <= 400,
        "{b:?}"
    );
    assert_eq!(s.binding_updates.by_status.get("0"), Some(&1));
    assert!(w.route_to_tun(HOA));
    assert!(w.proxied(HOA));
    let route = w.ha_cmd("ip -6 route show proto 109");
    // (With the eBPF data plane the route also says `encap bpf xmit
    // mip6_encap` before the device.)
    let line = route.lines().find(|l| l.starts_with(&format!("{HOA} ")));
    assert!(
        line.is_some_and(|l| l.contains(&format!("dev {TUN}"))),
        "{route}"
    );

    // The text table names the binding too.
    let table =
        w.ha.exec(&[bin(), "status", "--socket", w.socket.to_str().unwrap()])
            .unwrap();
    assert!(
        table.contains(&HOA.to_string()) && table.contains(NAI),
        "{table}"
    );

    // The metrics endpoint answers.
    let body =
        w.ha.run_in(|| {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("::1", METRICS_PORT)).unwrap();
            s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
            let mut body = String::new();
            s.read_to_string(&mut body).unwrap();
            body
        })
        .unwrap();
    assert!(body.starts_with("HTTP/1.0 200 OK"), "{body}");
    assert!(body.contains("\nmip6_ha_bindings 1\n"), "{body}");
    assert!(
        body.contains(
            "mip6_ha_binding_updates_total{result=\"Binding Update accepted\",status=\"0\"} 1"
        ) || body.contains("status=\"0\"} 1"),
        "{body}"
    );
    assert!(body.contains("mip6_ha_tunnel_packets_total{direction=\"to_mn\"}"));
}

#[test]
fn home_neighbour_resolves_hoa_to_ha_mac() {
    mip6_common::require_root!();
    let w = World::new(
        "ha-pnd",
        "router_advertisements:\n  enabled: true\n  max_interval_ms: 500\n",
    );
    let ha_mac = w.ha.iface("eth0").mac().unwrap();
    // The neighbour listens for ND before the HA starts.
    let listener = w
        .nbr
        .thread_in(|| {
            let nd = NdSocket::new("eth0").unwrap();
            nd.set_nonblocking(true).unwrap();
            let (mut na, mut ra) = (None, None);
            poll_for(
                T,
                |buf| nd.recv(buf),
                |info, buf| {
                    match NdRepr::from_bytes(&buf[..info.len]) {
                        Ok(NdRepr::NeighborAdvert(a)) if a.target == HOA => na = Some(a),
                        Ok(NdRepr::RouterAdvert(r)) if r.home_agent => ra = Some(r),
                        _ => {}
                    }
                    (na.is_some() && ra.is_some()).then_some(())
                },
            );
            (na, ra)
        })
        .unwrap();
    let _ha = w.start_ha();
    let r = register(&w, &mn1(), 1, 100);
    assert_eq!(r.ba.status, BaStatus::ACCEPTED);
    let (na, ra) = listener.join().unwrap().unwrap();
    let na = na.expect("an unsolicited NA for the home address");
    assert!(na.override_flag && !na.solicited, "{na:?}");
    let tlla = na.options.target_lla().and_then(|l| l.mac()).expect("TLLA");
    let tlla = tlla
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    assert_eq!(tlla, ha_mac);
    let ra = ra.expect("a router advertisement with the H flag");
    assert!(ra.options.home_agent_info().is_some(), "{ra:?}");
    assert!(
        ra.options
            .prefix_infos()
            .any(|p| p.router_addr() == Some(HA)),
        "{ra:?}"
    );

    // A neighbour resolving the home address gets the HA's MAC.
    w.nbr
        .exec(&["ip", "-6", "neigh", "flush", "dev", "eth0"])
        .unwrap();
    let _ = w
        .nbr
        .ping6(&HOA.to_string(), Duration::from_secs(1))
        .unwrap();
    let neigh = w
        .nbr
        .exec(&["ip", "-6", "neigh", "show", &HOA.to_string(), "dev", "eth0"])
        .unwrap();
    assert!(neigh.contains(&format!("lladdr {ha_mac}")), "{neigh}");
}

#[test]
fn bad_bus_get_their_status_and_change_nothing() {
    mip6_common::require_root!();
    let w = World::new("ha-bad", "");
    let _ha = w.start_ha();
    let c = mn1();
    let ts0 = now_ntp();
    let first = register(&w, &c, 100, 100);
    assert_eq!(first.ba.status, BaStatus::ACCEPTED);
    let before = w.bindings();
    assert_eq!(before.len(), 1);

    let results =
        w.mn.run_in(move || {
            let s = MnSockets::open();
            let mut out = Vec::new();
            // Wrong key.
            let mut wrong = c.clone();
            wrong.key = b"not the key".to_vec();
            out.push(s.exchange(&c, COA, &bu(&wrong, COA, 101, 100, now_ntp())));
            // Replayed: the timestamp of the accepted BU again.
            out.push(s.exchange(&c, COA, &bu(&c, COA, 102, 100, ts0)));
            // Another node's home address, with our own SPI and key.
            let mut other = c.clone();
            other.hoa = HOA2;
            out.push(s.exchange(&other, COA, &bu(&other, COA, 103, 100, now_ntp())));
            // A sequence number not newer than the binding's.
            out.push(s.exchange(&c, COA, &bu(&c, COA, 99, 100, now_ntp())));
            out
        })
        .unwrap();
    let statuses: Vec<u8> = results.iter().map(|r| r.ba.status.0).collect();
    assert_eq!(statuses, vec![146, 144, 133, 135]);
    assert!(results.iter().all(|r| r.ba.lifetime == 0));
    // 135 tells the binding's sequence number.
    assert_eq!(results[3].ba.sequence, 100);
    assert_eq!(w.bindings(), before, "nothing changed");
    let s = w.status();
    for code in ["146", "144", "133", "135"] {
        assert_eq!(s.binding_updates.by_status.get(code), Some(&1), "{s:?}");
    }
    assert!(!w.proxied(HOA2) && !w.route_to_tun(HOA2));
}

#[test]
fn hoa_in_use_on_home_link_gets_134() {
    mip6_common::require_root!();
    let w = World::new("ha-dad", "");
    // The neighbour holds HOA2 itself.
    w.nbr
        .exec(&[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8:1::101/64",
            "dev",
            "eth0",
            "nodad",
        ])
        .unwrap();
    let _ha = w.start_ha();
    let r = register(&w, &mn2(), 1, 100);
    assert_eq!(r.ba.status, BaStatus::DUPLICATE_ADDRESS_DETECTION_FAILED);
    assert!(w.bindings().is_empty());
    assert!(!w.proxied(HOA2) && !w.route_to_tun(HOA2));
    assert_eq!(w.status().counters.dad_conflicts, 1);
    // A free one registers.
    assert_eq!(register(&w, &mn1(), 1, 100).ba.status, BaStatus::ACCEPTED);
}

#[test]
fn deregistration_restores_home_link() {
    mip6_common::require_root!();
    let w = World::new("ha-dereg", "");
    let _ha = w.start_ha();
    let c = mn1();
    assert_eq!(register(&w, &c, 7, 100).ba.status, BaStatus::ACCEPTED);
    assert!(w.route_to_tun(HOA) && w.proxied(HOA));
    let r = register(&w, &c, 8, 0);
    assert_eq!(r.ba.status, BaStatus::ACCEPTED);
    assert_eq!(r.ba.lifetime, 0);
    assert!(w.bindings().is_empty());
    assert!(!w.route_to_tun(HOA), "route gone");
    assert!(!w.proxied(HOA), "proxy entry gone");
    // The mobile node back home uses its address itself again.
    w.nbr
        .exec(&["ip", "-6", "neigh", "flush", "dev", "eth0"])
        .unwrap();
    w.nbr
        .exec(&[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8:1::100/64",
            "dev",
            "eth0",
            "nodad",
        ])
        .unwrap();
    w.ha.wait_ping6(&HOA.to_string(), T).unwrap();
}

/// RFC 6275 9.5.4 and 10.3.2 (issue 11 item 1): a mobile node back on its
/// home link (here `nbr`'s interface, holding the home address) while its
/// binding still stands. Its BUs come from the home address, which the
/// home agent still routes into the tunnel: the BA must go to the node's
/// link-layer address on the home link, the rejection (135 to a stale
/// sequence number, as after a restart) as well as the accepted
/// deregistration.
#[test]
fn bas_to_a_node_at_home_take_the_home_link() {
    mip6_common::require_root!();
    use mip6_common::sys::mh_io::{RawRecvSocket, RawSender};
    use mip6_common::wire::checksum::proto;
    use mip6_common::wire::exthdr::Ipv6Repr;
    use mip6_common::wire::mh::MhRepr;

    let w = World::new("ha-athome", "");
    let _ha = w.start_ha();
    let c = mn1();
    assert_eq!(register(&w, &c, 100, 100).ba.status, BaStatus::ACCEPTED);
    assert!(w.route_to_tun(HOA));
    w.nbr
        .exec(&[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("{HOA}/64"),
            "dev",
            "eth0",
            "nodad",
        ])
        .unwrap();
    let got = w
        .nbr
        .run_in(move || {
            let rx = RawRecvSocket::open(proto::MOBILITY).unwrap();
            rx.set_nonblocking(true).unwrap();
            let tx = RawSender::open().unwrap();
            let mut out = Vec::new();
            for (seq, lifetime) in [(50u16, 100u16), (101, 0)] {
                let mh = bu(&c, HOA, seq, lifetime, now_ntp());
                let ip = Ipv6Repr::new(HOA, HA, proto::MOBILITY);
                tx.send(&ip.build(&mh).unwrap().bytes, 0).unwrap();
                let ba = poll_for(
                    Duration::from_secs(3),
                    |buf| rx.recv(buf),
                    |m, buf| match MhRepr::parse_bytes(&buf[..m.len]) {
                        Ok(MhRepr::BindingAck(b)) => Some((m.src, b.status.0, b.sequence)),
                        _ => None,
                    },
                );
                out.push(ba);
            }
            out
        })
        .unwrap();
    assert_eq!(
        got,
        vec![Some((HA, 135, 100)), Some((HA, 0, 101))],
        "BAs on the home link"
    );
    assert!(!w.route_to_tun(HOA), "deregistered");
}

/// RFC 6275 9.2 and 9.3.1 (issue 11 item 9): a Mobility Header whose
/// Payload Proto is not 59, or whose Header Len is too short for a BU, gets
/// ICMPv6 Parameter Problem code 0 pointing at the field; an ICMPv6 packet
/// with a Home Address option and no binding gets Binding Error status 1.
#[test]
fn bad_mobility_headers_and_unbound_home_address_options_are_answered() {
    mip6_common::require_root!();
    use mip6_common::sys::icmp6::NdSocket;
    use mip6_common::sys::mh_io::{RawRecvSocket, RawSender};
    use mip6_common::wire::checksum::proto;
    use mip6_common::wire::exthdr::Ipv6Repr;
    use mip6_common::wire::mh::{BeStatus, MhRepr, fill_checksum};

    let w = World::new("ha-pprob", "");
    let _ha = w.start_ha();
    let c = mn1();
    let got =
        w.mn.run_in(move || {
            let icmp = NdSocket::with_types("eth0", &[4]).unwrap();
            icmp.set_nonblocking(true).unwrap();
            let mh_rx = RawRecvSocket::open(proto::MOBILITY).unwrap();
            mh_rx.set_nonblocking(true).unwrap();
            let tx = RawSender::open().unwrap();
            let send = |upper: u8, body: &[u8]| {
                let mut ip = Ipv6Repr::new(COA, HA, upper);
                ip.home_address_option = Some(c.hoa);
                tx.send(&ip.build(body).unwrap().bytes, 0).unwrap();
            };
            let wait_pprob = || {
                poll_for(
                    Duration::from_secs(3),
                    |buf| icmp.recv(buf),
                    |r, buf| {
                        (r.len >= 8 && buf[0] == 4).then(|| {
                            let ptr = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                            (r.src, buf[1], ptr)
                        })
                    },
                )
            };
            let mut out = Vec::new();
            // Payload Proto 6 (TCP) instead of 59.
            let mut mh = bu(&c, COA, 200, 10, now_ntp());
            mh[0] = 6;
            fill_checksum(&mut mh, &c.hoa, &HA).unwrap();
            send(proto::MOBILITY, &mh);
            out.push(wait_pprob());
            // A BU of 8 octets (Header Len 0): 12 is its least.
            let mut short = vec![59u8, 0, 5, 0, 0, 0, 0, 0];
            fill_checksum(&mut short, &c.hoa, &HA).unwrap();
            send(proto::MOBILITY, &short);
            out.push(wait_pprob());
            // An Echo Request with a Home Address option, no binding.
            send(proto::ICMPV6, &[128, 0, 0, 0, 0, 1, 0, 1]);
            let be = poll_for(
                Duration::from_secs(3),
                |buf| mh_rx.recv(buf),
                |m, buf| match MhRepr::parse_bytes(&buf[..m.len]) {
                    Ok(MhRepr::BindingError(e)) => Some((m.src, e.status, e.home_address)),
                    _ => None,
                },
            );
            (out, be)
        })
        .unwrap();
    // The Mobility Header follows a 24-octet destination options header.
    assert_eq!(
        got.0,
        vec![Some((HA, 0, 40 + 24)), Some((HA, 0, 40 + 24 + 1))],
        "Parameter Problems"
    );
    assert_eq!(
        got.1,
        Some((HA, BeStatus::UNKNOWN_BINDING_FOR_HOME_ADDRESS_OPTION, HOA))
    );
    assert!(w.bindings().is_empty());
}
