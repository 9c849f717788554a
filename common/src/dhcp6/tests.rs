//! The client against a scripted server, on a simulated clock.

use super::*;
use dhcproto::v6::{
    DhcpOption, DhcpOptions, IAAddr, IANA, Message, MessageType, OptionCode, Status, StatusCode,
};
use dhcproto::{Decodable, Decoder, Encodable};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

const SERVER: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x547);
const LEASED: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x100);
const DNS: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x53);
const SERVER_ID: &[u8] = &[0, 3, 0, 1, 2, 0, 0, 0, 0, 1];
const IAID: u32 = 7;

fn config(rapid_commit: bool) -> Dhcp6Config {
    Dhcp6Config {
        duid: duid_ll([2, 0, 0, 0, 0, 0x42]),
        iaid: IAID,
        rapid_commit,
        skip_initial_delay: true,
    }
}

fn client(rapid_commit: bool) -> Dhcp6 {
    Dhcp6::new(config(rapid_commit), Box::new(StdRng::seed_from_u64(7)))
}

/// Every message the client sent since the last call, decoded.
fn sent(c: &mut Dhcp6) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(a) = c.poll_action() {
        if let Dhcp6Action::Send { dst, payload } = a {
            assert_eq!(dst, ALL_DHCP_SERVERS);
            out.push(Message::decode(&mut Decoder::new(&payload)).expect("we send valid messages"));
        }
    }
    out
}

fn actions(c: &mut Dhcp6) -> Vec<Dhcp6Action> {
    std::iter::from_fn(|| c.poll_action()).collect()
}

fn events(c: &mut Dhcp6) -> Vec<Dhcp6EventKind> {
    std::iter::from_fn(|| c.poll_event())
        .map(|e| e.kind)
        .collect()
}

fn ia_addr(m: &Message) -> Option<Ipv6Addr> {
    match m.opts().get(OptionCode::IANA) {
        Some(DhcpOption::IANA(ia)) => match ia.opts.get(OptionCode::IAAddr) {
            Some(DhcpOption::IAAddr(a)) => Some(a.addr),
            _ => None,
        },
        _ => None,
    }
}

/// A server's answer to `req` leasing LEASED with T1 50 s, T2 80 s,
/// preferred 100 s, valid 200 s.
fn answer(req: &Message, ty: MessageType, extra: &[DhcpOption]) -> Vec<u8> {
    answer_ia(req, ty, extra, Some((LEASED, 50, 80, 100, 200)))
}

fn answer_ia(
    req: &Message,
    ty: MessageType,
    extra: &[DhcpOption],
    ia: Option<(Ipv6Addr, u32, u32, u32, u32)>,
) -> Vec<u8> {
    let mut m = Message::new_with_id(ty, req.xid());
    let mut opts = DhcpOptions::new();
    if let Some(c) = req.opts().get(OptionCode::ClientId) {
        opts.insert(c.clone());
    }
    opts.insert(DhcpOption::ServerId(SERVER_ID.to_vec()));
    if let Some((addr, t1, t2, pref, valid)) = ia {
        let mut ia_opts = DhcpOptions::new();
        ia_opts.insert(DhcpOption::IAAddr(IAAddr {
            addr,
            preferred_life: pref,
            valid_life: valid,
            opts: DhcpOptions::new(),
        }));
        opts.insert(DhcpOption::IANA(IANA {
            id: IAID,
            t1,
            t2,
            opts: ia_opts,
        }));
    }
    opts.insert(DhcpOption::DomainNameServers(vec![DNS]));
    for o in extra {
        opts.insert(o.clone());
    }
    m.set_opts(opts);
    m.to_vec().expect("encodes")
}

/// Starts `c` on a link at `t0` and takes its first Solicit.
fn first_solicit(c: &mut Dhcp6, t0: Instant) -> Message {
    c.start(t0, true, false);
    sent(c).remove(0)
}

/// Starts `c` and answers its Solicit with an Advertise of preference 255,
/// which the client takes without waiting for others (RFC 8415 18.2.9): its
/// Request is queued.
fn advertised_at_once(c: &mut Dhcp6, t0: Instant) {
    let sol = first_solicit(c, t0);
    c.handle_message(
        t0,
        SERVER,
        &answer(&sol, MessageType::Advertise, &[DhcpOption::Preference(255)]),
    )
    .expect("advertise");
}

fn status(code: Status) -> DhcpOption {
    DhcpOption::StatusCode(StatusCode {
        status: code,
        msg: String::new(),
    })
}

/// Brings a client to Bound through the four-message exchange; returns
/// the moment the lease was taken.
fn bind(c: &mut Dhcp6, t0: Instant) -> Instant {
    c.start(t0, true, true);
    let sol = sent(c).remove(0);
    let adv = answer(&sol, MessageType::Advertise, &[]);
    c.handle_message(t0 + Duration::from_millis(5), SERVER, &adv)
        .expect("advertise taken");
    let t = c.poll_timeout().expect("collecting");
    c.handle_timeout(t);
    let req = sent(c).remove(0);
    c.handle_message(t, SERVER, &answer(&req, MessageType::Reply, &[]))
        .expect("reply taken");
    assert_eq!(c.state(), Dhcp6State::Bound);
    actions(c);
    events(c);
    t
}

#[test]
fn four_message_exchange_leases_the_address_and_dns() {
    let mut c = client(false);
    let t0 = Instant::now();
    c.start(t0, true, true);
    let msgs = sent(&mut c);
    assert_eq!(msgs.len(), 1, "the first Solicit leaves at once");
    let sol = &msgs[0];
    assert_eq!(sol.msg_type(), MessageType::Solicit);
    assert!(sol.opts().get(OptionCode::RapidCommit).is_none());
    assert!(matches!(
        sol.opts().get(OptionCode::ElapsedTime),
        Some(DhcpOption::ElapsedTime(0))
    ));
    match sol.opts().get(OptionCode::ORO) {
        Some(DhcpOption::ORO(o)) => assert!(o.opts.contains(&OptionCode::DomainNameServers)),
        other => panic!("no ORO: {other:?}"),
    }
    // RFC 8415 18.2.1: Advertises are collected for the first RT (> IRT).
    c.handle_message(
        t0 + Duration::from_millis(3),
        SERVER,
        &answer(sol, MessageType::Advertise, &[]),
    )
    .expect("advertise");
    assert!(
        sent(&mut c).is_empty(),
        "waits out the first RT for better servers"
    );
    let wake = c.poll_timeout().expect("a timer");
    assert!(wake > t0 + Duration::from_secs(1) && wake <= t0 + Duration::from_millis(1100));
    c.handle_timeout(wake);
    let req = sent(&mut c).remove(0);
    assert_eq!(req.msg_type(), MessageType::Request);
    assert_eq!(ia_addr(&req), Some(LEASED));
    assert!(
        matches!(req.opts().get(OptionCode::ServerId), Some(DhcpOption::ServerId(s)) if s == SERVER_ID)
    );
    c.handle_message(wake, SERVER, &answer(&req, MessageType::Reply, &[]))
        .expect("reply");
    assert_eq!(c.state(), Dhcp6State::Bound);
    let acts = actions(&mut c);
    assert!(acts.contains(&Dhcp6Action::ConfigureAddress {
        addr: LEASED,
        valid: Duration::from_secs(200),
        preferred: Duration::from_secs(100),
    }));
    assert!(acts.contains(&Dhcp6Action::SetDns(vec![DNS])));
    let l = c.lease().expect("lease");
    assert_eq!(l.t1_at, Some(wake + Duration::from_secs(50)));
    assert_eq!(l.t2_at, Some(wake + Duration::from_secs(80)));
    assert!(!l.rapid_commit);
}

#[test]
fn preference_255_is_taken_without_waiting() {
    let mut c = client(false);
    let t0 = Instant::now();
    advertised_at_once(&mut c, t0);
    assert_eq!(sent(&mut c)[0].msg_type(), MessageType::Request);
}

#[test]
fn rapid_commit_binds_in_two_messages() {
    let mut c = client(true);
    let t0 = Instant::now();
    let sol = first_solicit(&mut c, t0);
    assert!(sol.opts().get(OptionCode::RapidCommit).is_some());
    // A Reply without the option is not a committed lease.
    assert!(
        c.handle_message(t0, SERVER, &answer(&sol, MessageType::Reply, &[]))
            .is_err()
    );
    let t = t0 + Duration::from_millis(2);
    c.handle_message(
        t,
        SERVER,
        &answer(&sol, MessageType::Reply, &[DhcpOption::RapidCommit]),
    )
    .expect("rapid reply");
    assert_eq!(c.state(), Dhcp6State::Bound);
    assert!(c.lease().expect("lease").rapid_commit);
    assert!(events(&mut c).iter().any(|e| matches!(
        e,
        Dhcp6EventKind::Leased {
            rapid_commit: true,
            ..
        }
    )));
}

#[test]
fn solicit_retransmits_with_doubling_jittered_timeouts_up_to_mrt() {
    let mut c = client(false);
    let t0 = Instant::now();
    c.start(t0, true, false);
    let xid = sent(&mut c)[0].xid();
    let (mut now, mut prev, mut last_elapsed) = (t0, Duration::ZERO, 0u16);
    for i in 0..20 {
        let wake = c.poll_timeout().expect("retransmission timer");
        let rt = wake - now;
        if i == 0 {
            assert!(
                rt > Duration::from_secs(1) && rt <= Duration::from_millis(1100),
                "{rt:?}"
            );
        } else if prev.mul_f64(2.2) < Duration::from_secs(3240) {
            // RT = 2 RTprev + RAND RTprev, RAND in [-0.1, 0.1].
            assert!(
                rt >= prev.mul_f64(1.79) && rt <= prev.mul_f64(2.21),
                "{i}: {rt:?} after {prev:?}"
            );
        }
        // MRT (3600 s) + RAND MRT caps it.
        assert!(rt <= Duration::from_secs(3960), "{rt:?}");
        prev = rt;
        now = wake;
        c.handle_timeout(now);
        let m = sent(&mut c);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].xid(), xid, "retransmissions keep the transaction id");
        let Some(DhcpOption::ElapsedTime(e)) = m[0].opts().get(OptionCode::ElapsedTime) else {
            panic!("no elapsed time");
        };
        assert!(*e > last_elapsed || *e == u16::MAX);
        last_elapsed = *e;
    }
    assert!(prev >= Duration::from_secs(3240), "reached MRT: {prev:?}");
    assert_eq!(
        c.state(),
        Dhcp6State::Soliciting,
        "Solicit has no MRC or MRD"
    );
}

#[test]
fn jitter_comes_from_the_injected_generator() {
    let run = |seed| {
        let mut c = Dhcp6::new(config(false), Box::new(StdRng::seed_from_u64(seed)));
        let t0 = Instant::now();
        c.start(t0, true, false);
        c.poll_timeout().expect("timer") - t0
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn request_gives_up_after_mrc_and_solicits_again() {
    let mut c = client(false);
    let t0 = Instant::now();
    advertised_at_once(&mut c, t0);
    let mut requests = sent(&mut c).len();
    let mut now = t0;
    while c.state() == Dhcp6State::Requesting {
        now = c.poll_timeout().expect("timer");
        c.handle_timeout(now);
        requests += sent(&mut c)
            .iter()
            .filter(|m| m.msg_type() == MessageType::Request)
            .count();
    }
    assert_eq!(requests, 10, "REQ_MAX_RC");
    assert_eq!(c.state(), Dhcp6State::Soliciting);
    // REQ_MAX_RT = 30 s caps the growth, and the tenth Request gets its
    // RT too: 1+2+4+8+16+30*5 = 181 s, +-10%.
    let took = now - t0;
    assert!(
        took > Duration::from_secs(160) && took < Duration::from_secs(200),
        "{took:?}"
    );
}

#[test]
fn renews_at_t1_rebinds_at_t2_and_expires_at_the_valid_lifetime() {
    let mut c = client(false);
    let t = bind(&mut c, Instant::now());
    assert_eq!(c.poll_timeout(), Some(t + Duration::from_secs(50)), "T1");
    c.handle_timeout(t + Duration::from_secs(50));
    let ren = sent(&mut c).remove(0);
    assert_eq!(ren.msg_type(), MessageType::Renew);
    assert!(ren.opts().get(OptionCode::ServerId).is_some());
    assert_eq!(ia_addr(&ren), Some(LEASED));
    // Unanswered Renews until T2, then Rebind without a server identifier.
    let mut now = t + Duration::from_secs(50);
    while c.state() == Dhcp6State::Renewing {
        now = c.poll_timeout().expect("timer");
        c.handle_timeout(now);
    }
    assert_eq!(now, t + Duration::from_secs(80), "Renew's MRD is T2");
    assert_eq!(c.state(), Dhcp6State::Rebinding);
    let reb = sent(&mut c).pop().expect("rebind");
    assert_eq!(reb.msg_type(), MessageType::Rebind);
    assert!(reb.opts().get(OptionCode::ServerId).is_none());
    while c.state() == Dhcp6State::Rebinding {
        now = c.poll_timeout().expect("timer");
        c.handle_timeout(now);
    }
    assert_eq!(
        now,
        t + Duration::from_secs(200),
        "Rebind's MRD is the valid lifetime"
    );
    assert!(actions(&mut c).contains(&Dhcp6Action::RemoveAddress { addr: LEASED }));
    assert!(events(&mut c).contains(&Dhcp6EventKind::Expired { addr: LEASED }));
    assert_eq!(c.state(), Dhcp6State::Soliciting);
}

#[test]
fn a_renew_reply_extends_the_lease() {
    let mut c = client(false);
    let t = bind(&mut c, Instant::now());
    let t1 = t + Duration::from_secs(50);
    c.handle_timeout(t1);
    let ren = sent(&mut c).remove(0);
    c.handle_message(t1, SERVER, &answer(&ren, MessageType::Reply, &[]))
        .expect("reply");
    assert_eq!(c.state(), Dhcp6State::Bound);
    assert!(events(&mut c).contains(&Dhcp6EventKind::Renewed {
        addr: LEASED,
        valid: Duration::from_secs(200),
        by: "renew"
    }));
    assert!(actions(&mut c).contains(&Dhcp6Action::ConfigureAddress {
        addr: LEASED,
        valid: Duration::from_secs(200),
        preferred: Duration::from_secs(100),
    }));
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(50)));
}

#[test]
fn no_binding_on_renew_requests_again() {
    let mut c = client(false);
    let t = bind(&mut c, Instant::now());
    let t1 = t + Duration::from_secs(50);
    c.handle_timeout(t1);
    let ren = sent(&mut c).remove(0);
    let mut m = Message::new_with_id(MessageType::Reply, ren.xid());
    let mut opts = DhcpOptions::new();
    opts.insert(
        ren.opts()
            .get(OptionCode::ClientId)
            .expect("client id")
            .clone(),
    );
    opts.insert(DhcpOption::ServerId(SERVER_ID.to_vec()));
    let mut ia_opts = DhcpOptions::new();
    ia_opts.insert(status(Status::NoBinding));
    opts.insert(DhcpOption::IANA(IANA {
        id: IAID,
        t1: 0,
        t2: 0,
        opts: ia_opts,
    }));
    m.set_opts(opts);
    c.handle_message(t1, SERVER, &m.to_vec().expect("encodes"))
        .expect("reply");
    assert_eq!(c.state(), Dhcp6State::Requesting);
    assert_eq!(sent(&mut c)[0].msg_type(), MessageType::Request);
}

#[test]
fn zero_t1_t2_mean_half_and_four_fifths_of_preferred() {
    let mut c = client(true);
    let t0 = Instant::now();
    let sol = first_solicit(&mut c, t0);
    let reply = answer_ia(
        &sol,
        MessageType::Reply,
        &[DhcpOption::RapidCommit],
        Some((LEASED, 0, 0, 100, 200)),
    );
    c.handle_message(t0, SERVER, &reply).expect("reply");
    let l = c.lease().expect("lease");
    assert_eq!(l.t1_at, Some(t0 + Duration::from_secs(50)));
    assert_eq!(l.t2_at, Some(t0 + Duration::from_secs(80)));
}

#[test]
fn release_gives_the_address_back() {
    let mut c = client(false);
    let t = bind(&mut c, Instant::now());
    c.release(t);
    let acts = actions(&mut c);
    assert_eq!(
        acts[0],
        Dhcp6Action::RemoveAddress { addr: LEASED },
        "stop using it first"
    );
    let rel = match &acts[1] {
        Dhcp6Action::Send { payload, .. } => {
            Message::decode(&mut Decoder::new(payload)).expect("valid")
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(rel.msg_type(), MessageType::Release);
    assert_eq!(ia_addr(&rel), Some(LEASED));
    assert!(rel.opts().get(OptionCode::ServerId).is_some());
    assert!(c.lease().is_none());
    c.handle_message(t, SERVER, &answer_ia(&rel, MessageType::Reply, &[], None))
        .expect("reply");
    assert_eq!(c.state(), Dhcp6State::Idle);
}

#[test]
fn unanswered_release_stops_after_rel_max_rc() {
    let mut c = client(false);
    let t = bind(&mut c, Instant::now());
    c.release(t);
    let mut n = sent(&mut c).len();
    while c.state() == Dhcp6State::Releasing {
        let w = c.poll_timeout().expect("timer");
        c.handle_timeout(w);
        n += sent(&mut c).len();
    }
    assert_eq!(n, 4);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn dad_conflict_declines_then_solicits_again() {
    let mut c = client(false);
    let t = bind(&mut c, Instant::now());
    c.handle_dad_conflict(t, Ipv6Addr::LOCALHOST);
    assert_eq!(c.state(), Dhcp6State::Bound, "not our address");
    c.handle_dad_conflict(t, LEASED);
    assert!(events(&mut c).contains(&Dhcp6EventKind::Declined { addr: LEASED }));
    let dec = sent(&mut c).remove(0);
    assert_eq!(dec.msg_type(), MessageType::Decline);
    assert_eq!(ia_addr(&dec), Some(LEASED));
    assert!(dec.opts().get(OptionCode::ServerId).is_some());
    c.handle_message(t, SERVER, &answer_ia(&dec, MessageType::Reply, &[], None))
        .expect("reply");
    assert_eq!(c.state(), Dhcp6State::Soliciting);
    let sol = sent(&mut c).remove(0);
    assert_eq!(sol.msg_type(), MessageType::Solicit);
    assert_eq!(ia_addr(&sol), None);
}

#[test]
fn returning_to_a_link_confirms_the_lease() {
    let mut c = client(false);
    let t = bind(&mut c, Instant::now());
    c.handle_link_down(t);
    assert!(actions(&mut c).contains(&Dhcp6Action::RemoveAddress { addr: LEASED }));
    assert_eq!(c.poll_timeout(), None, "nothing to do off-link");
    let back = t + Duration::from_secs(5);
    c.start(back, true, false);
    let cnf = sent(&mut c).remove(0);
    assert_eq!(cnf.msg_type(), MessageType::Confirm);
    assert_eq!(ia_addr(&cnf), Some(LEASED));
    assert!(cnf.opts().get(OptionCode::ServerId).is_none());
    c.handle_message(
        back,
        SERVER,
        &answer_ia(&cnf, MessageType::Reply, &[status(Status::Success)], None),
    )
    .expect("reply");
    assert_eq!(c.state(), Dhcp6State::Bound);
    assert!(actions(&mut c).contains(&Dhcp6Action::ConfigureAddress {
        addr: LEASED,
        valid: Duration::from_secs(195),
        preferred: Duration::from_secs(95),
    }));
    assert_eq!(
        c.poll_timeout(),
        Some(t + Duration::from_secs(50)),
        "T1 unchanged"
    );
}

#[test]
fn not_on_link_drops_the_lease_and_solicits() {
    let mut c = client(false);
    let t = bind(&mut c, Instant::now());
    c.handle_link_down(t);
    c.start(t, true, false);
    let cnf = sent(&mut c).remove(0);
    c.handle_message(
        t,
        SERVER,
        &answer_ia(&cnf, MessageType::Reply, &[status(Status::NotOnLink)], None),
    )
    .expect("reply");
    assert!(events(&mut c).contains(&Dhcp6EventKind::NotOnLink { addr: LEASED }));
    assert!(c.lease().is_none());
    assert_eq!(sent(&mut c)[0].msg_type(), MessageType::Solicit);
}

#[test]
fn unanswered_confirm_keeps_the_lease_after_cnf_max_rd() {
    let mut c = client(false);
    let t = bind(&mut c, Instant::now());
    c.handle_link_down(t);
    c.start(t, true, false);
    let mut n = 0;
    let mut now = t;
    while c.state() == Dhcp6State::Confirming {
        n += sent(&mut c).len();
        now = c.poll_timeout().expect("timer");
        c.handle_timeout(now);
    }
    assert_eq!(now, t + Duration::from_secs(10), "CNF_MAX_RD");
    assert!(n >= 3, "{n}");
    assert_eq!(c.state(), Dhcp6State::Bound);
    assert!(events(&mut c).contains(&Dhcp6EventKind::ConfirmUnanswered { addr: LEASED }));
}

#[test]
fn foreign_and_malformed_datagrams_are_dropped() {
    let mut c = client(false);
    let t0 = Instant::now();
    let sol = first_solicit(&mut c, t0);
    let good = answer(&sol, MessageType::Advertise, &[DhcpOption::Preference(255)]);
    // Truncations must never panic (some are valid shorter messages, so a
    // separate client takes them).
    let mut scratch = client(false);
    scratch.start(t0, true, false);
    for cut in 0..good.len() {
        let _ = scratch.handle_message(t0, SERVER, &good[..cut]);
    }
    let mut other_xid = good.clone();
    other_xid[1] ^= 0xff;
    assert_eq!(
        c.handle_message(t0, SERVER, &other_xid),
        Err(Dhcp6Drop::NotForUs("transaction id"))
    );
    let mut wrong_client = Message::decode(&mut Decoder::new(&good)).expect("valid");
    wrong_client.opts_mut().remove(OptionCode::ClientId);
    wrong_client
        .opts_mut()
        .insert(DhcpOption::ClientId(vec![0, 3, 0, 1, 9, 9, 9, 9, 9, 9]));
    assert_eq!(
        c.handle_message(t0, SERVER, &wrong_client.to_vec().expect("encodes")),
        Err(Dhcp6Drop::NotForUs("client identifier"))
    );
    assert_eq!(c.state(), Dhcp6State::Soliciting);
    c.handle_message(t0, SERVER, &good).expect("the real one");
    assert_eq!(c.state(), Dhcp6State::Requesting);
}

#[test]
fn no_addrs_avail_advertise_is_ignored() {
    let mut c = client(false);
    let t0 = Instant::now();
    let sol = first_solicit(&mut c, t0);
    let mut m = Message::new_with_id(MessageType::Advertise, sol.xid());
    let mut opts = DhcpOptions::new();
    opts.insert(sol.opts().get(OptionCode::ClientId).expect("id").clone());
    opts.insert(DhcpOption::ServerId(SERVER_ID.to_vec()));
    opts.insert(status(Status::NoAddrsAvail));
    m.set_opts(opts);
    assert!(
        c.handle_message(t0, SERVER, &m.to_vec().expect("encodes"))
            .is_err()
    );
    assert!(
        events(&mut c)
            .iter()
            .any(|e| matches!(e, Dhcp6EventKind::Status { code: 2, .. }))
    );
    assert_eq!(c.state(), Dhcp6State::Soliciting);
}

#[test]
fn other_configuration_only_sends_an_information_request() {
    let mut c = client(false);
    let t0 = Instant::now();
    c.start(t0, false, true);
    let inf = sent(&mut c).remove(0);
    assert_eq!(inf.msg_type(), MessageType::InformationRequest);
    assert!(inf.opts().get(OptionCode::IANA).is_none());
    c.handle_message(t0, SERVER, &answer_ia(&inf, MessageType::Reply, &[], None))
        .expect("reply");
    assert_eq!(c.state(), Dhcp6State::Informed);
    assert_eq!(c.dns(), &[DNS]);
}

#[test]
fn the_initial_delay_is_random_below_one_second_unless_skipped() {
    let mut cfg = config(false);
    cfg.skip_initial_delay = false;
    let mut c = Dhcp6::new(cfg, Box::new(StdRng::seed_from_u64(3)));
    let t0 = Instant::now();
    c.start(t0, true, false);
    assert!(sent(&mut c).is_empty());
    let w = c.poll_timeout().expect("delay");
    assert!(w < t0 + Duration::from_secs(1));
    c.handle_timeout(w);
    assert_eq!(sent(&mut c).len(), 1);
}

#[test]
fn a_lease_held_off_its_link_is_dropped_without_a_release() {
    let mut c = client(false);
    let t = bind(&mut c, Instant::now());
    c.handle_link_down(t);
    actions(&mut c);
    c.release(t);
    assert_eq!(
        actions(&mut c),
        vec![Dhcp6Action::RemoveAddress { addr: LEASED }]
    );
    assert!(c.lease().is_none());
    assert_eq!(c.state(), Dhcp6State::Idle);
    assert_eq!(c.poll_timeout(), None);
}
