//! The binding cache driven through every status with a simulated clock.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::addr::Prefix;
use crate::binding::msg;
use crate::wire::mh::{
    BaFlags, BaStatus, BeStatus, BindingAck, BindingUpdate, BuFlags, MhOption, MhRepr,
    auth_subtype, mn_ha_verify, mn_id_subtype, verify_checksum,
};
use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
const HOA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x200);
/// A node with a key whose home address is on no home prefix.
const HOA_OFF: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 9, 0, 0, 0, 0, 0x300);
const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
const COA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x100);
const KEY: &[u8] = b"mn1 shared secret key";
const KEY2: &[u8] = b"mn2 shared secret key";
const SPI: u32 = 0x100;
const SPI2: u32 = 0x200;
const SPI_OFF: u32 = 0x300;
const NAI: &str = "mn1@example.org";
/// NTP time at T0: some day in 2023.
const NTP0: u64 = 3_900_000_000 << 32;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn home_prefix() -> Prefix {
    "2001:db8:1::/64".parse().unwrap()
}

fn policy(nai: Option<&str>, hoa: Ipv6Addr, spi: u32, key: &[u8]) -> MnPolicy {
    MnPolicy {
        nai: nai.map(str::to_owned),
        home_address: hoa,
        spi,
        key: key.to_vec(),
        algorithm: AuthAlgorithm::HmacSha1_96,
    }
}

fn config() -> CacheConfig {
    CacheConfig {
        ha_addresses: vec![HA],
        home_prefixes: vec![HomePrefix {
            prefix: home_prefix(),
            valid_lifetime: None,
        }],
        max_lifetime: secs(3600),
        mobile_nodes: vec![
            policy(Some(NAI), HOA, SPI, KEY),
            policy(Some("mn2@example.org"), HOA2, SPI2, KEY2),
            policy(None, HOA_OFF, SPI_OFF, KEY),
        ],
        dad_before_accept: false,
        ..CacheConfig::default()
    }
}

/// A Binding Update as a mobile node would build it, with knobs to break it.
#[derive(Clone)]
struct Bu {
    seq: u16,
    flags: BuFlags,
    /// 4-second units.
    lifetime: u16,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    /// `None`: no Home Address option (sent from home).
    hoa: Option<Ipv6Addr>,
    /// (SPI, key) of the MN-HA option; `None` leaves it out.
    auth: Option<(u32, &'static [u8])>,
    /// Sign with this key instead (a wrong authenticator).
    sign_key: Option<&'static [u8]>,
    /// The Mesg-ID.
    ts: Ts,
    nai: Option<&'static str>,
    /// Options before the MN-HA option.
    extra: Vec<MhOption>,
    /// Options after it (breaking "last").
    trailing: Vec<MhOption>,
    /// Sign over this care-of address instead of the registered one.
    sign_coa: Option<Ipv6Addr>,
}

impl Bu {
    fn new(seq: u16) -> Self {
        Self {
            seq,
            flags: BuFlags::A | BuFlags::H,
            lifetime: 150,
            src: COA,
            dst: HA,
            hoa: Some(HOA),
            auth: Some((SPI, KEY)),
            sign_key: None,
            ts: Ts::Now,
            nai: Some(NAI),
            extra: vec![],
            trailing: vec![],
            sign_coa: None,
        }
    }

    fn home(&self) -> Ipv6Addr {
        self.hoa.unwrap_or(self.src)
    }

    /// The care-of address being registered: the Alternate Care-of Address
    /// option's, else the source.
    fn coa(&self) -> Ipv6Addr {
        self.extra
            .iter()
            .find_map(|o| match o {
                MhOption::AltCareOfAddress(a) => Some(*a),
                _ => None,
            })
            .unwrap_or(self.src)
    }

    fn build(&self, clock: u64) -> (Vec<u8>, BindingUpdate) {
        let mut options = Vec::new();
        if let Some(n) = self.nai {
            options.push(MhOption::MobileNodeId {
                subtype: mn_id_subtype::NAI,
                identifier: n.as_bytes().to_vec(),
            });
        }
        let ts = match self.ts {
            Ts::None => None,
            Ts::Now => Some(clock),
            Ts::At(off) => Some(off),
        };
        if let Some(ts) = ts {
            options.push(MhOption::ReplayProtection {
                timestamp: NTP0.wrapping_add(ts),
            });
        }
        options.extend(self.extra.iter().cloned());
        if let Some((spi, _)) = self.auth {
            options.push(msg::mn_ha_placeholder(spi));
        }
        options.extend(self.trailing.iter().cloned());
        let bu = BindingUpdate {
            sequence: self.seq,
            flags: self.flags,
            lifetime: self.lifetime,
            options,
        };
        let key = self.sign_key.or(self.auth.map(|a| a.1));
        let sign = key
            .filter(|_| self.auth.is_some())
            .map(|k| (k, self.sign_coa.unwrap_or(self.coa()), self.home()));
        let bytes = msg::finish(
            &MhRepr::BindingUpdate(bu.clone()),
            sign,
            self.home(),
            self.dst,
        )
        .unwrap();
        (bytes, bu)
    }
}

/// The Mesg-ID of a test BU.
#[derive(Clone, Copy, Debug)]
enum Ts {
    None,
    /// The simulated clock when fed, plus the sequence number in NTP
    /// units (so BUs fed at the same instant still increase).
    Now,
    /// This NTP offset from T0's.
    At(u64),
}

struct Harness {
    c: BindingCache,
    t0: Instant,
}

impl Harness {
    fn new(config: CacheConfig) -> Self {
        let t0 = Instant::now();
        Self {
            c: BindingCache::new(config, t0, NTP0),
            t0,
        }
    }

    fn at(&self, s: u64) -> Instant {
        self.t0 + secs(s)
    }

    fn feed(&mut self, now: Instant, bu: &Bu) -> Vec<Action> {
        let clock = crate::binding::ntp::ntp_units(now - self.t0) + u64::from(bu.seq);
        let (bytes, parsed) = bu.build(clock);
        self.c.handle_bu(
            now,
            &BuContext {
                src: bu.src,
                dst: bu.dst,
                home_address: bu.hoa,
                mh_bytes: &bytes,
                bu: &parsed,
            },
        );
        self.actions()
    }

    fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.c.poll_action()).collect()
    }

    fn events(&mut self) -> Vec<EventKind> {
        std::iter::from_fn(|| self.c.poll_event())
            .map(|e| e.kind)
            .collect()
    }

    /// Everything a rejected BU must leave alone.
    fn state(&self) -> State {
        let mut b: Vec<BindingInfo> = self.c.bindings().cloned().collect();
        b.sort_by_key(|i| i.hoa);
        let mut p: Vec<Ipv6Addr> = self.c.pending_dad().copied().collect();
        p.sort();
        State {
            bindings: b,
            snapshot: (*self.c.snapshot()).clone(),
            timeout: self.c.poll_timeout(),
            pending: p,
        }
    }

    /// Registers HOA from COA with sequence `seq` at `now`.
    fn register(&mut self, now: Instant, seq: u16) {
        let a = self.feed(now, &Bu::new(seq));
        let (ba, _) = only_ba(&a);
        assert_eq!(ba.status, BaStatus::ACCEPTED, "{a:?}");
        self.events();
    }
}

#[derive(Debug, PartialEq)]
struct State {
    bindings: Vec<BindingInfo>,
    snapshot: HashMap<Ipv6Addr, Ipv6Addr>,
    timeout: Option<Instant>,
    pending: Vec<Ipv6Addr>,
}

/// The one BA among `actions`, with its bytes.
fn only_ba(actions: &[Action]) -> (BindingAck, Vec<u8>) {
    let bas: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::SendBa(b) => Some((b.ba.clone(), b.mh_bytes.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(bas.len(), 1, "{actions:?}");
    bas.into_iter().next().unwrap()
}

fn ba_mesg_id(ba: &BindingAck) -> Option<u64> {
    ba.options.iter().find_map(|o| match o {
        MhOption::ReplayProtection { timestamp } => Some(*timestamp),
        _ => None,
    })
}

fn ba_spi(ba: &BindingAck) -> Option<u32> {
    ba.options.iter().find_map(|o| match o {
        MhOption::MobilityAuth { subtype, spi, .. } if *subtype == auth_subtype::MN_HA => {
            Some(*spi)
        }
        _ => None,
    })
}

#[test]
fn valid_bu_creates_the_binding_and_a_signed_ba() {
    let mut h = Harness::new(config());
    let now = h.at(1);
    let a = h.feed(now, &Bu::new(7));
    let (ba, bytes) = only_ba(&a);
    assert_eq!(ba.status, BaStatus::ACCEPTED);
    assert_eq!(ba.sequence, 7);
    assert_eq!(ba.lifetime, 150);
    assert_eq!(ba.flags, BaFlags::default(), "K stays clear");
    // The BA is signed over CoA | HoA | BA and checksummed over HA, HoA.
    assert!(mn_ha_verify(KEY, &COA, &HOA, &bytes).unwrap());
    assert!(verify_checksum(&bytes, &HA, &HOA));
    assert_eq!(
        MhRepr::parse_bytes(&bytes).unwrap(),
        MhRepr::BindingAck(ba.clone())
    );
    assert_eq!(
        ba_mesg_id(&ba),
        Some(NTP0 + (1 << 32) + 7),
        "Mesg-ID echoed"
    );
    assert!(ba.options.iter().any(|o| matches!(o,
        MhOption::MobileNodeId { identifier, .. } if identifier == NAI.as_bytes())));
    assert!(matches!(
        ba.options.last(),
        Some(MhOption::MobilityAuth { .. })
    ));
    assert!(a.contains(&Action::InstallBinding {
        hoa: HOA,
        coa: COA,
        lifetime: secs(600),
        link_local: None,
    }));
    assert!(a.iter().any(|x| matches!(x, Action::SendBa(b)
        if b.to_coa == COA && b.from == HA && b.hoa == HOA)));
    let info = h.c.binding(&HOA).unwrap().clone();
    assert_eq!(
        (info.coa, info.sequence, info.lifetime),
        (COA, 7, secs(600))
    );
    assert_eq!(info.expires, now + secs(600));
    assert_eq!(info.counters.accepted, 1);
    assert_eq!(h.c.snapshot().get(&HOA), Some(&COA));
    assert_eq!(h.c.poll_timeout(), Some(now + secs(600)));
    let ev = h.events();
    assert!(ev.contains(&EventKind::BindingCreated {
        hoa: HOA,
        coa: COA,
        lifetime: secs(600)
    }));
    assert!(ev.contains(&EventKind::BuResult {
        hoa: HOA,
        coa: COA,
        sequence: 7,
        status: BaStatus::ACCEPTED,
        lifetime: secs(600)
    }));
    assert_eq!(h.c.stats().by_status.get(&0), Some(&1));
}

/// Each bad BU, sent after HOA registered from COA with sequence 10 at 1 s,
/// and the status it must get. The cache must not change.
#[test]
fn every_rejection_has_its_status_and_changes_nothing() {
    let base = || {
        let mut b = Bu::new(11);
        b.src = COA2;
        b
    };
    let cases: Vec<(&str, Bu, BaStatus)> = vec![
        (
            "no MN-HA option",
            Bu {
                auth: None,
                ..base()
            },
            BaStatus::MIPV6_AUTH_FAIL,
        ),
        (
            "unknown SPI",
            Bu {
                auth: Some((0x999, KEY)),
                ..base()
            },
            BaStatus::MIPV6_AUTH_FAIL,
        ),
        (
            "wrong key",
            Bu {
                sign_key: Some(KEY2),
                ..base()
            },
            BaStatus::MIPV6_AUTH_FAIL,
        ),
        (
            "MN-HA option not last",
            Bu {
                trailing: vec![MhOption::BindingRefreshAdvice {
                    refresh_interval: 1,
                }],
                ..base()
            },
            BaStatus::MIPV6_AUTH_FAIL,
        ),
        (
            "someone else's NAI",
            Bu {
                nai: Some("eve@example.org"),
                ..base()
            },
            BaStatus::MIPV6_AUTH_FAIL,
        ),
        (
            "another node's home address",
            Bu {
                auth: Some((SPI2, KEY2)),
                nai: None,
                ..base()
            },
            BaStatus::NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE,
        ),
        (
            "no Mesg-ID",
            Bu {
                ts: Ts::None,
                ..base()
            },
            BaStatus::MIPV6_MESG_ID_REQD,
        ),
        (
            "Mesg-ID 8 s early",
            Bu {
                ts: Ts::At(0u64.wrapping_sub(8 << 32)),
                ..base()
            },
            BaStatus::MIPV6_ID_MISMATCH,
        ),
        (
            "Mesg-ID 30 s late",
            Bu {
                ts: Ts::At(30 << 32),
                ..base()
            },
            BaStatus::MIPV6_ID_MISMATCH,
        ),
        (
            "Mesg-ID not newer",
            Bu {
                ts: Ts::At(1 << 32),
                ..base()
            },
            BaStatus::MIPV6_ID_MISMATCH,
        ),
        (
            "sequence not newer",
            Bu { seq: 10, ..base() },
            BaStatus::SEQUENCE_NUMBER_OUT_OF_WINDOW,
        ),
        (
            "sequence 32768 ahead",
            Bu {
                seq: 10 + 32768,
                ..base()
            },
            BaStatus::SEQUENCE_NUMBER_OUT_OF_WINDOW,
        ),
        (
            "sequence behind",
            Bu { seq: 3, ..base() },
            BaStatus::SEQUENCE_NUMBER_OUT_OF_WINDOW,
        ),
        (
            "H flag dropped",
            Bu {
                flags: BuFlags::A,
                ..base()
            },
            BaStatus::REGISTRATION_TYPE_CHANGE_DISALLOWED,
        ),
        (
            "not our address",
            Bu {
                dst: "2001:db8:1::2".parse().unwrap(),
                ..base()
            },
            BaStatus::HOME_REGISTRATION_NOT_SUPPORTED,
        ),
        (
            "home address off the home prefixes",
            Bu {
                hoa: Some(HOA_OFF),
                auth: Some((SPI_OFF, KEY)),
                nai: None,
                ..base()
            },
            BaStatus::NOT_HOME_SUBNET,
        ),
        (
            "care-of address on the home link",
            Bu {
                src: "2001:db8:1::999".parse().unwrap(),
                ..base()
            },
            BaStatus::INVALID_CARE_OF_ADDRESS,
        ),
        (
            "care-of address is ours",
            Bu {
                extra: vec![MhOption::AltCareOfAddress(HA)],
                ..base()
            },
            BaStatus::INVALID_CARE_OF_ADDRESS,
        ),
        (
            "link-local alternate care-of address",
            Bu {
                extra: vec![MhOption::AltCareOfAddress("fe80::1".parse().unwrap())],
                ..base()
            },
            BaStatus::INVALID_CARE_OF_ADDRESS,
        ),
        (
            "multicast alternate care-of address",
            Bu {
                extra: vec![MhOption::AltCareOfAddress("ff0e::1".parse().unwrap())],
                ..base()
            },
            BaStatus::INVALID_CARE_OF_ADDRESS,
        ),
        (
            "link-local source",
            Bu {
                src: "fe80::1234".parse().unwrap(),
                ..base()
            },
            BaStatus::INVALID_CARE_OF_ADDRESS,
        ),
    ];
    for (name, bu, status) in cases {
        let mut h = Harness::new(config());
        h.register(h.at(1), 10);
        let before = h.state();
        let now = h.at(2);
        let a = h.feed(now, &bu);
        let (ba, bytes) = only_ba(&a);
        assert_eq!(ba.status, status, "{name}");
        assert_eq!(ba.lifetime, 0, "{name}");
        assert_eq!(h.state(), before, "{name}: the cache changed");
        assert_eq!(a.len(), 1, "{name}: {a:?}");
        let expect_seq = if status == BaStatus::SEQUENCE_NUMBER_OUT_OF_WINDOW {
            10
        } else {
            bu.seq
        };
        assert_eq!(ba.sequence, expect_seq, "{name}");
        // Signed whenever the authenticator verified, with its owner's key;
        // a forger gets no signed answer (RFC 4285 5, issue 11 item 4).
        let verified = !matches!(name, "wrong key" | "MN-HA option not last");
        match bu.auth {
            Some((spi, _)) if spi != 0x999 && verified => {
                let key = if spi == SPI2 { KEY2 } else { KEY };
                assert_eq!(ba_spi(&ba), Some(spi), "{name}");
                assert!(
                    mn_ha_verify(key, &bu.coa(), &bu.home(), &bytes).unwrap(),
                    "{name}"
                );
            }
            _ => assert_eq!(ba_spi(&ba), None, "{name}"),
        }
        if status == BaStatus::MIPV6_ID_MISMATCH {
            // RFC 4285 6: the HA's own time, for the mobile node to resync.
            assert_eq!(ba_mesg_id(&ba), Some(NTP0 + (2 << 32)), "{name}");
        }
        let ev = h.events();
        assert!(
            ev.iter()
                .any(|e| matches!(e, EventKind::BuResult { status: s, .. } if *s == status)),
            "{name}: {ev:?}"
        );
    }
}

/// RFC 6275 10.3.1 and 10.3.2: a home agent answers a home registration
/// and a home deregistration with a BA whatever the A bit says; errors too
/// (9.5.4).
#[test]
fn home_registrations_are_acknowledged_whatever_the_a_flag() {
    let mut h = Harness::new(config());
    let bu = Bu {
        flags: BuFlags::H,
        dst: "2001:db8:1::2".parse().unwrap(),
        ..Bu::new(1)
    };
    let (ba, _) = only_ba(&h.feed(h.at(1), &bu));
    assert_eq!(ba.status, BaStatus::HOME_REGISTRATION_NOT_SUPPORTED);
    let a = h.feed(
        h.at(2),
        &Bu {
            flags: BuFlags::H,
            ..Bu::new(2)
        },
    );
    let (ba, _) = only_ba(&a);
    assert_eq!((ba.status, ba.sequence), (BaStatus::ACCEPTED, 2));
    assert!(h.c.binding(&HOA).is_some());
    let a = h.feed(
        h.at(3),
        &Bu {
            flags: BuFlags::H,
            lifetime: 0,
            ..Bu::new(3)
        },
    );
    let (ba, _) = only_ba(&a);
    assert_eq!((ba.status, ba.sequence), (BaStatus::ACCEPTED, 3));
    assert!(h.c.is_empty());
}

/// RFC 4285 6 and 8: a missing Mesg-ID is 145, a timestamp outside the
/// window is 144 with the home agent's time, and an authenticator that does
/// not verify is an unsigned 146.
#[test]
fn rfc4285_statuses() {
    let mut h = Harness::new(config());
    let (ba, _) = only_ba(&h.feed(
        h.at(5),
        &Bu {
            ts: Ts::None,
            ..Bu::new(1)
        },
    ));
    assert_eq!(ba.status, BaStatus::MIPV6_MESG_ID_REQD);
    let (ba, bytes) = only_ba(&h.feed(
        h.at(5),
        &Bu {
            ts: Ts::At(100 << 32),
            ..Bu::new(2)
        },
    ));
    assert_eq!(ba.status, BaStatus::MIPV6_ID_MISMATCH);
    assert_eq!(ba_mesg_id(&ba), Some(NTP0 + (5 << 32)), "the HA's time");
    assert!(mn_ha_verify(KEY, &COA, &HOA, &bytes).unwrap(), "signed");
    let (ba, _) = only_ba(&h.feed(
        h.at(5),
        &Bu {
            sign_key: Some(KEY2),
            ..Bu::new(3)
        },
    ));
    assert_eq!(ba.status, BaStatus::MIPV6_AUTH_FAIL);
    assert_eq!(ba_spi(&ba), None, "no signed answer to a forged BU");
    assert_eq!(ba_mesg_id(&ba), None);
    assert!(h.c.is_empty());
}

/// RFC 6275 11.7.1 / 6.2.5 / 6.2.7: the Alternate Care-of Address is the
/// address registered and the one the authenticator covers; a BU signed
/// over its source instead does not verify.
#[test]
fn alternate_care_of_address_is_registered_and_authenticated() {
    let mut h = Harness::new(config());
    let bu = Bu {
        extra: vec![MhOption::AltCareOfAddress(COA2)],
        ..Bu::new(1)
    };
    let (ba, bytes) = only_ba(&h.feed(h.at(1), &bu));
    assert_eq!(ba.status, BaStatus::ACCEPTED);
    assert!(mn_ha_verify(KEY, &COA2, &HOA, &bytes).unwrap());
    assert_eq!(h.c.binding(&HOA).unwrap().coa, COA2);
    assert_eq!(h.c.snapshot().get(&HOA), Some(&COA2));
    // Signed over the packet's source, not the address it registers.
    let forged = Bu {
        extra: vec![MhOption::AltCareOfAddress(COA)],
        sign_coa: Some(COA2),
        src: COA2,
        ..Bu::new(2)
    };
    let before = h.state();
    let (ba, _) = only_ba(&h.feed(h.at(2), &forged));
    assert_eq!(ba.status, BaStatus::MIPV6_AUTH_FAIL);
    assert_eq!(h.state(), before);
}

/// The home prefix's valid lifetime is advertised again and again: it
/// never runs down, however long the home agent has run (issue 11 item 8).
#[test]
fn advertised_prefix_lifetime_does_not_run_down() {
    let mut cfg = config();
    cfg.home_prefixes[0].valid_lifetime = Some(secs(300));
    let mut h = Harness::new(cfg);
    for (i, t) in [10u64, 400, 100_000].into_iter().enumerate() {
        let seq = u16::try_from(i).unwrap() + 1;
        let (ba, _) = only_ba(&h.feed(h.at(t), &Bu::new(seq)));
        assert_eq!(
            (ba.status, ba.lifetime),
            (BaStatus::ACCEPTED_PREFIX_DISCOVERY_NECESSARY, 75),
            "at {t} s"
        );
    }
    // Status 1 also when our own maximum cut the lifetime further: the
    // prefix would not have lasted what was asked.
    let mut cfg = config();
    cfg.home_prefixes[0].valid_lifetime = Some(secs(300));
    cfg.max_lifetime = secs(100);
    let mut h = Harness::new(cfg);
    let (ba, _) = only_ba(&h.feed(h.at(1), &Bu::new(1)));
    assert_eq!(
        (ba.status, ba.lifetime),
        (BaStatus::ACCEPTED_PREFIX_DISCOVERY_NECESSARY, 25)
    );
}

#[test]
fn replayed_bu_is_refused() {
    let mut h = Harness::new(config());
    let bu = Bu {
        ts: Ts::At((1 << 32) + 5),
        ..Bu::new(5)
    };
    assert_eq!(only_ba(&h.feed(h.at(1), &bu)).0.status, BaStatus::ACCEPTED);
    let before = h.state();
    // The very same bytes again (a replay): the timestamp is not newer.
    let (ba, _) = only_ba(&h.feed(h.at(2), &bu));
    assert_eq!(ba.status, BaStatus::MIPV6_ID_MISMATCH);
    assert_eq!(h.state(), before);
    // The timestamp guard outlives the binding: replay after deregistering.
    let dereg = Bu {
        lifetime: 0,
        ..Bu::new(6)
    };
    assert_eq!(
        only_ba(&h.feed(h.at(3), &dereg)).0.status,
        BaStatus::ACCEPTED
    );
    let (ba, _) = only_ba(&h.feed(h.at(4), &bu));
    assert_eq!(ba.status, BaStatus::MIPV6_ID_MISMATCH);
    assert!(h.c.is_empty());
}

#[test]
fn lab_mode_accepts_unauthenticated_but_never_for_a_keyed_node() {
    let mut cfg = config();
    cfg.allow_unauthenticated = true;
    let mut h = Harness::new(cfg);
    let stranger: Ipv6Addr = "2001:db8:1::abcd".parse().unwrap();
    let open = Bu {
        hoa: Some(stranger),
        auth: None,
        ts: Ts::None,
        nai: None,
        ..Bu::new(1)
    };
    let (ba, bytes) = only_ba(&h.feed(h.at(1), &open));
    assert_eq!(ba.status, BaStatus::ACCEPTED);
    assert_eq!(ba_spi(&ba), None);
    assert!(verify_checksum(&bytes, &HA, &stranger));
    assert_eq!(h.c.binding(&stranger).unwrap().coa, COA);
    // HOA has a key: an unauthenticated BU for it is refused (129).
    let before = h.state();
    let hijack = Bu {
        auth: None,
        ts: Ts::None,
        ..Bu::new(1)
    };
    assert_eq!(
        only_ba(&h.feed(h.at(2), &hijack)).0.status,
        BaStatus::ADMINISTRATIVELY_PROHIBITED
    );
    assert_eq!(h.state(), before);
    // A BU that carries the option is still verified.
    let forged = Bu {
        sign_key: Some(KEY2),
        ..Bu::new(1)
    };
    assert_eq!(
        only_ba(&h.feed(h.at(3), &forged)).0.status,
        BaStatus::MIPV6_AUTH_FAIL
    );
    assert_eq!(h.state(), before);
}

#[test]
fn insufficient_resources() {
    let mut cfg = config();
    cfg.max_bindings = 1;
    let mut h = Harness::new(cfg);
    h.register(h.at(1), 1);
    let before = h.state();
    let other = Bu {
        hoa: Some(HOA2),
        auth: Some((SPI2, KEY2)),
        nai: None,
        ..Bu::new(1)
    };
    assert_eq!(
        only_ba(&h.feed(h.at(2), &other)).0.status,
        BaStatus::INSUFFICIENT_RESOURCES
    );
    assert_eq!(h.state(), before);
    // The one binding may still refresh.
    assert_eq!(
        only_ba(&h.feed(h.at(3), &Bu::new(2))).0.status,
        BaStatus::ACCEPTED
    );
}

#[test]
fn silent_drops() {
    let mut h = Harness::new(config());
    h.register(h.at(1), 1);
    let before = h.state();
    let cases = vec![
        (
            "link-local home address",
            Bu {
                hoa: Some("fe80::100".parse().unwrap()),
                ..Bu::new(2)
            },
        ),
        (
            "multicast source",
            Bu {
                src: "ff02::1".parse().unwrap(),
                ..Bu::new(2)
            },
        ),
        (
            "nonce indices in a home registration",
            Bu {
                extra: vec![MhOption::NonceIndices {
                    home_nonce_index: 1,
                    care_of_nonce_index: 2,
                }],
                ..Bu::new(2)
            },
        ),
        (
            "correspondent registration",
            Bu {
                flags: BuFlags::A,
                hoa: Some(HOA2),
                auth: Some((SPI2, KEY2)),
                nai: None,
                ..Bu::new(2)
            },
        ),
    ];
    for (name, bu) in cases {
        let a = h.feed(h.at(2), &bu);
        assert!(a.is_empty(), "{name}: {a:?}");
        assert_eq!(h.state(), before, "{name}");
        assert!(
            h.events()
                .iter()
                .any(|e| matches!(e, EventKind::BuDropped { .. })),
            "{name}"
        );
    }
    // A care-of address that is another binding's home address (RFC 6275
    // 6.1.7): dropped.
    let circular = Bu {
        src: HOA,
        hoa: Some(HOA2),
        auth: Some((SPI2, KEY2)),
        nai: None,
        ..Bu::new(1)
    };
    let a = h.feed(h.at(3), &circular);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(h.state(), before);
    assert_eq!(h.c.stats().bu_dropped, 5);
}

#[test]
fn refresh_and_move_update_coa_lifetime_and_counters() {
    let mut h = Harness::new(config());
    h.register(h.at(1), 1);
    let old = h.c.snapshot();
    // Refresh from the same care-of address with a shorter lifetime.
    let a = h.feed(
        h.at(100),
        &Bu {
            lifetime: 50,
            ..Bu::new(2)
        },
    );
    assert_eq!(only_ba(&a).0.lifetime, 50);
    assert!(a.contains(&Action::UpdateBinding {
        hoa: HOA,
        old_coa: COA,
        coa: COA,
        lifetime: secs(200)
    }));
    // A move.
    let a = h.feed(
        h.at(150),
        &Bu {
            src: COA2,
            ..Bu::new(3)
        },
    );
    assert!(a.contains(&Action::UpdateBinding {
        hoa: HOA,
        old_coa: COA,
        coa: COA2,
        lifetime: secs(600)
    }));
    let info = h.c.binding(&HOA).unwrap();
    assert_eq!((info.coa, info.sequence), (COA2, 3));
    assert_eq!(info.expires, h.at(750));
    assert_eq!(info.created, h.at(1));
    assert_eq!(info.updated, h.at(150));
    assert_eq!(
        info.counters,
        BindingCounters {
            accepted: 3,
            refreshes: 1,
            moves: 1
        }
    );
    assert_eq!(h.c.poll_timeout(), Some(h.at(750)));
    // The snapshot taken before is untouched; a new one sees the move.
    assert_eq!(old.get(&HOA), Some(&COA));
    assert_eq!(h.c.snapshot().get(&HOA), Some(&COA2));
    assert!(h.events().iter().any(|e| matches!(e,
        EventKind::BindingUpdated { old_coa, coa, .. } if *old_coa == COA && *coa == COA2)));
}

#[test]
fn sequence_numbers_wrap() {
    let mut h = Harness::new(config());
    h.register(h.at(1), 65535);
    let a = h.feed(h.at(2), &Bu { ..Bu::new(0) });
    assert_eq!(only_ba(&a).0.status, BaStatus::ACCEPTED);
    assert_eq!(h.c.binding(&HOA).unwrap().sequence, 0);
}

#[test]
fn lifetime_is_capped() {
    // By the configured maximum.
    let mut cfg = config();
    cfg.max_lifetime = secs(100);
    let mut h = Harness::new(cfg);
    let a = h.feed(
        h.at(1),
        &Bu {
            lifetime: 0xffff,
            ..Bu::new(1)
        },
    );
    let (ba, _) = only_ba(&a);
    assert_eq!((ba.status, ba.lifetime), (BaStatus::ACCEPTED, 25));
    assert_eq!(h.c.binding(&HOA).unwrap().expires, h.at(101));

    // By what remains of a home prefix that runs down: status 1.
    let mut h = Harness::new(config());
    h.c.update_prefix(h.at(0), home_prefix(), Some(secs(300)));
    let (ba, _) = only_ba(&h.feed(h.at(10), &Bu::new(1)));
    assert_eq!(ba.status, BaStatus::ACCEPTED_PREFIX_DISCOVERY_NECESSARY);
    // 290 s remain, rounded down to 4-second units: 288 s.
    assert_eq!(ba.lifetime, 72);
    assert_eq!(h.c.binding(&HOA).unwrap().lifetime, secs(288));
    // Without the prefix discovery status it is a plain 0.
    let mut cfg = config();
    cfg.prefix_discovery_status = false;
    let mut h = Harness::new(cfg);
    h.c.update_prefix(h.at(0), home_prefix(), Some(secs(300)));
    let (ba, _) = only_ba(&h.feed(h.at(10), &Bu::new(1)));
    assert_eq!((ba.status, ba.lifetime), (BaStatus::ACCEPTED, 72));
    // A prefix that has run out is no home subnet.
    h.c.update_prefix(h.at(11), home_prefix(), Some(Duration::ZERO));
    let before = h.state();
    let (ba, _) = only_ba(&h.feed(h.at(12), &Bu::new(2)));
    assert_eq!(ba.status, BaStatus::NOT_HOME_SUBNET);
    assert_eq!(h.state(), before);
}

#[test]
fn deregistration() {
    let mut h = Harness::new(config());
    h.register(h.at(1), 1);
    // Lifetime 0 from the care-of address.
    let a = h.feed(
        h.at(5),
        &Bu {
            lifetime: 0,
            ..Bu::new(2)
        },
    );
    let (ba, _) = only_ba(&a);
    assert_eq!(
        (ba.status, ba.lifetime, ba.sequence),
        (BaStatus::ACCEPTED, 0, 2)
    );
    assert!(a.contains(&Action::RemoveBinding {
        hoa: HOA,
        coa: COA,
        link_local: None
    }));
    assert!(h.c.is_empty() && h.c.snapshot().is_empty());
    assert_eq!(h.c.poll_timeout(), None);
    assert!(h.events().contains(&EventKind::BindingRemoved {
        hoa: HOA,
        coa: COA,
        reason: RemoveReason::Deregistered
    }));
    // RFC 6275 10.3.2: no binding, 133 (also for CoA = HoA from home).
    let home = Bu {
        src: HOA,
        hoa: None,
        ..Bu::new(3)
    };
    assert_eq!(
        only_ba(&h.feed(h.at(6), &home)).0.status,
        BaStatus::NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE
    );
    // Register again, then return home: CoA = HoA, no HAO, lifetime kept.
    h.register(h.at(7), 4);
    let home = Bu {
        src: HOA,
        hoa: None,
        ..Bu::new(5)
    };
    let a = h.feed(h.at(8), &home);
    let (ba, bytes) = only_ba(&a);
    assert_eq!((ba.status, ba.lifetime), (BaStatus::ACCEPTED, 0));
    // Signed over HoA | HoA, sent to the home address itself.
    assert!(mn_ha_verify(KEY, &HOA, &HOA, &bytes).unwrap());
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::SendBa(b) if b.to_coa == HOA))
    );
    assert!(h.c.is_empty());
}

#[test]
fn expiry_and_binding_refresh_request() {
    let mut cfg = config();
    cfg.brr_advance = Some(secs(60));
    let mut h = Harness::new(cfg);
    h.register(h.at(0), 1);
    // BRR at 600 - 60 s, to the home address.
    assert_eq!(h.c.poll_timeout(), Some(h.at(540)));
    h.c.handle_timeout(h.at(539));
    assert!(h.actions().is_empty());
    h.c.handle_timeout(h.at(540));
    let a = h.actions();
    let [
        Action::SendBrr {
            hoa,
            coa,
            from,
            mh_bytes,
        },
    ] = &a[..]
    else {
        panic!("{a:?}")
    };
    assert_eq!((*hoa, *coa, *from), (HOA, COA, HA));
    assert!(verify_checksum(mh_bytes, &HA, &HOA));
    assert!(matches!(
        MhRepr::parse_bytes(mh_bytes).unwrap(),
        MhRepr::BindingRefreshRequest(_)
    ));
    assert_eq!(h.c.poll_timeout(), Some(h.at(600)));
    h.c.handle_timeout(h.at(600));
    assert_eq!(
        h.actions(),
        vec![Action::RemoveBinding {
            hoa: HOA,
            coa: COA,
            link_local: None
        }]
    );
    assert!(h.c.is_empty() && h.c.snapshot().is_empty());
    let ev = h.events();
    assert!(ev.contains(&EventKind::BrrSent { hoa: HOA, coa: COA }));
    assert!(ev.contains(&EventKind::BindingRemoved {
        hoa: HOA,
        coa: COA,
        reason: RemoveReason::Expired
    }));
    assert_eq!(h.c.poll_timeout(), None);
    // After expiry any sequence number is accepted again (RFC 6275 9.5.1).
    let (ba, _) = only_ba(&h.feed(h.at(601), &Bu { ..Bu::new(1) }));
    assert_eq!(ba.status, BaStatus::ACCEPTED);
}

#[test]
fn first_registration_waits_for_dad() {
    let mut cfg = config();
    cfg.dad_before_accept = true;
    let mut h = Harness::new(cfg);
    let bu = Bu {
        flags: BuFlags::A | BuFlags::H | BuFlags::L,
        ..Bu::new(1)
    };
    let a = h.feed(h.at(1), &bu);
    let ll: Ipv6Addr = "fe80::100".parse().unwrap();
    assert_eq!(
        a,
        vec![Action::StartDad {
            hoa: HOA,
            link_local: Some(ll)
        }]
    );
    assert!(h.c.is_empty());
    // The mobile node retransmits: no second DAD, the newer BU waits.
    let a = h.feed(
        h.at(2),
        &Bu {
            seq: 2,
            ..bu.clone()
        },
    );
    assert!(a.is_empty(), "{a:?}");
    h.c.handle_dad_result(h.at(3), HOA, true);
    let a = h.actions();
    let (ba, bytes) = only_ba(&a);
    assert_eq!((ba.status, ba.sequence), (BaStatus::ACCEPTED, 2));
    assert_eq!(ba_mesg_id(&ba), Some(NTP0 + (2 << 32) + 2));
    assert!(mn_ha_verify(KEY, &COA, &HOA, &bytes).unwrap());
    assert!(a.contains(&Action::InstallBinding {
        hoa: HOA,
        coa: COA,
        lifetime: secs(600),
        link_local: Some(ll)
    }));
    assert_eq!(h.c.binding(&HOA).unwrap().expires, h.at(603));
    // A refresh needs no DAD.
    let a = h.feed(
        h.at(4),
        &Bu {
            seq: 3,
            ..bu.clone()
        },
    );
    assert_eq!(only_ba(&a).0.status, BaStatus::ACCEPTED);
    let ev = h.events();
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, EventKind::DadStarted { .. }))
            .count(),
        1
    );
}

#[test]
fn dad_failure_and_timeout() {
    let mut cfg = config();
    cfg.dad_before_accept = true;
    let mut h = Harness::new(cfg);
    let empty = h.state();
    h.feed(h.at(1), &Bu::new(1));
    h.c.handle_dad_result(h.at(2), HOA, false);
    let (ba, _) = only_ba(&h.actions());
    assert_eq!(ba.status, BaStatus::DUPLICATE_ADDRESS_DETECTION_FAILED);
    assert_eq!(h.state(), empty);
    // A late or unknown answer does nothing.
    h.c.handle_dad_result(h.at(3), HOA, true);
    assert!(h.actions().is_empty());
    // The shell never answers: forgotten after dad_timeout, silently.
    h.feed(h.at(10), &Bu::new(2));
    assert_eq!(h.c.poll_timeout(), Some(h.at(15)));
    h.c.handle_timeout(h.at(15));
    assert!(h.actions().is_empty());
    assert_eq!(h.state(), empty);
    assert!(h.events().contains(&EventKind::DadTimedOut { hoa: HOA }));
    // A deregistration while DAD is pending cancels it: 133.
    h.feed(h.at(20), &Bu::new(3));
    let dereg = Bu {
        lifetime: 0,
        ..Bu::new(4)
    };
    assert_eq!(
        only_ba(&h.feed(h.at(21), &dereg)).0.status,
        BaStatus::NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE
    );
    assert_eq!(h.state(), empty);
}

#[test]
fn refresh_advice_option() {
    let mut cfg = config();
    cfg.refresh_advice = Some(secs(120));
    let mut h = Harness::new(cfg);
    let (ba, bytes) = only_ba(&h.feed(h.at(1), &Bu::new(1)));
    assert!(ba.options.contains(&MhOption::BindingRefreshAdvice {
        refresh_interval: 30
    }));
    assert!(mn_ha_verify(KEY, &COA, &HOA, &bytes).unwrap());
    // Not when the lifetime is shorter than the advice.
    let (ba, _) = only_ba(&h.feed(
        h.at(2),
        &Bu {
            lifetime: 10,
            ..Bu::new(2)
        },
    ));
    assert!(
        !ba.options
            .iter()
            .any(|o| matches!(o, MhOption::BindingRefreshAdvice { .. }))
    );
}

#[test]
fn key_management_flag_is_never_echoed() {
    let mut h = Harness::new(config());
    let bu = Bu {
        flags: BuFlags::A | BuFlags::H | BuFlags::K,
        ..Bu::new(1)
    };
    let (ba, _) = only_ba(&h.feed(h.at(1), &bu));
    assert_eq!(ba.status, BaStatus::ACCEPTED);
    assert!(!ba.flags.key_management());
}

#[test]
fn persistence_round_trip_keeps_remaining_lifetimes() {
    let mut h = Harness::new(config());
    h.register(h.at(0), 9);
    let mn2 = Bu {
        hoa: Some(HOA2),
        auth: Some((SPI2, KEY2)),
        nai: None,
        lifetime: 25,
        src: COA2,
        ..Bu::new(3)
    };
    h.feed(h.at(0), &mn2);
    let wall0 = SystemTime::UNIX_EPOCH + secs(1_700_000_000);
    // Exported 50 s in: HOA has 550 s left, HOA2 50 s.
    let records = h.c.export(wall0 + secs(50), h.at(50));
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].hoa, HOA);
    assert_eq!(records[0].expires_unix, 1_700_000_600);
    assert_eq!(records[0].sequence, 9);
    assert_eq!(records[0].last_mesg_id, Some(NTP0 + 9));
    assert_eq!(records[1].expires_unix, 1_700_000_100);
    let json = serde_json::to_string(&records).unwrap();
    let back: Vec<BindingRecord> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, records);

    // Restored by a new process 70 s after the start (20 s of downtime):
    // HOA has 530 s left, HOA2 30 s.
    let mut h2 = Harness::new(config());
    let t = h2.at(1000);
    let n = h2.c.restore(&back, wall0 + secs(70), t);
    assert_eq!(n, 2);
    let a = h2.actions();
    assert!(a.contains(&Action::InstallBinding {
        hoa: HOA,
        coa: COA,
        lifetime: secs(530),
        link_local: None
    }));
    assert!(a.contains(&Action::InstallBinding {
        hoa: HOA2,
        coa: COA2,
        lifetime: secs(30),
        link_local: None
    }));
    assert_eq!(h2.c.binding(&HOA).unwrap().expires, t + secs(530));
    assert_eq!(h2.c.binding(&HOA).unwrap().sequence, 9);
    assert_eq!(h2.c.snapshot().get(&HOA2), Some(&COA2));
    assert_eq!(h2.c.poll_timeout(), Some(t + secs(30)));
    // The restored sequence number and timestamp still guard against
    // replays: put the new process's clock 2 s after the first's T0.
    h2.c.set_wall_clock(t, NTP0 + (2 << 32));
    assert_eq!(
        only_ba(&h2.feed(
            t,
            &Bu {
                ts: Ts::At(9),
                ..Bu::new(10)
            }
        ))
        .0
        .status,
        BaStatus::MIPV6_ID_MISMATCH
    );
    assert_eq!(
        only_ba(&h2.feed(
            t,
            &Bu {
                ts: Ts::At(1 << 32),
                ..Bu::new(9)
            }
        ))
        .0
        .status,
        BaStatus::SEQUENCE_NUMBER_OUT_OF_WINDOW
    );
    assert_eq!(
        only_ba(&h2.feed(
            t,
            &Bu {
                ts: Ts::At(1 << 32),
                ..Bu::new(10)
            }
        ))
        .0
        .status,
        BaStatus::ACCEPTED
    );
    // Restored 200 s after the start: HOA2 has expired and is dropped.
    let mut h3 = Harness::new(config());
    assert_eq!(h3.c.restore(&back, wall0 + secs(200), h3.at(0)), 1);
    assert!(h3.c.binding(&HOA2).is_none());
    assert_eq!(h3.c.binding(&HOA).unwrap().expires, h3.at(400));
}

#[test]
fn snapshot_is_copy_on_write() {
    let mut h = Harness::new(config());
    let empty = h.c.snapshot();
    h.register(h.at(1), 1);
    let one = h.c.snapshot();
    assert!(empty.is_empty());
    assert_eq!(one.len(), 1);
    // No change, no copy: the same allocation is handed out.
    assert!(Arc::ptr_eq(&one, &h.c.snapshot()));
    drop(one);
    h.feed(
        h.at(2),
        &Bu {
            lifetime: 0,
            ..Bu::new(2)
        },
    );
    assert!(h.c.snapshot().is_empty());
}

#[test]
fn binding_errors() {
    let mut cfg = config();
    cfg.binding_error_rate = 2;
    let mut h = Harness::new(cfg);
    h.register(h.at(1), 1);
    // A packet with a HAO matching the binding: nothing to say.
    h.c.handle_hao_without_binding(h.at(2), COA, HA, HOA);
    assert!(h.actions().is_empty());
    // From a stale care-of address: status 1.
    h.c.handle_hao_without_binding(h.at(2), COA2, HA, HOA);
    let a = h.actions();
    let [
        Action::SendBindingError {
            to,
            from,
            status,
            be,
            mh_bytes,
        },
    ] = &a[..]
    else {
        panic!("{a:?}")
    };
    assert_eq!((*to, *from, *status), (COA2, HA, BeStatus(1)));
    assert_eq!(be.home_address, HOA);
    assert!(verify_checksum(mh_bytes, &HA, &COA2));
    h.c.handle_unknown_mh_type(h.at(2), COA2, HA, None);
    assert!(
        matches!(&h.actions()[..], [Action::SendBindingError { status, .. }] if *status == BeStatus(2))
    );
    // Rate limit: the third within a second is suppressed.
    h.c.handle_unknown_mh_type(h.at(2), COA2, HA, None);
    assert!(h.actions().is_empty());
    assert_eq!(h.c.stats().binding_errors_suppressed, 1);
    h.c.handle_unknown_mh_type(h.at(3), COA2, HA, Some(HOA2));
    assert_eq!(h.actions().len(), 1);
}

#[test]
fn wall_clock_resample_moves_the_replay_window() {
    let mut h = Harness::new(config());
    // The shell's clock jumped 60 s ahead: a timestamp from T0 + 1 s is
    // now stale.
    h.c.set_wall_clock(h.at(1), NTP0 + (61 << 32));
    let (ba, _) = only_ba(&h.feed(h.at(1), &Bu::new(1)));
    assert_eq!(ba.status, BaStatus::MIPV6_ID_MISMATCH);
    assert_eq!(ba_mesg_id(&ba), Some(NTP0 + (61 << 32)));
    let ok = Bu {
        ts: Ts::At(62 << 32),
        ..Bu::new(2)
    };
    assert_eq!(only_ba(&h.feed(h.at(2), &ok)).0.status, BaStatus::ACCEPTED);
}

/// Issue 11 item 11: a registration captured before a clean restart and
/// replayed 3.6 s after it, within the replay window, must not recreate
/// the binding the mobile node removed: the last accepted timestamp of
/// every mobile node survives the restart, bound or not.
#[test]
fn replay_after_a_restart_is_refused_for_an_unbound_node() {
    let mut h = Harness::new(config());
    let captured = Bu {
        ts: Ts::At(1 << 32),
        ..Bu::new(1)
    };
    let (ba, _) = only_ba(&h.feed(h.at(1), &captured));
    assert_eq!(ba.status, BaStatus::ACCEPTED);
    let dereg = Bu {
        lifetime: 0,
        ts: Ts::At(2 << 32),
        ..Bu::new(2)
    };
    let (ba, _) = only_ba(&h.feed(h.at(2), &dereg));
    assert_eq!(ba.status, BaStatus::ACCEPTED);
    assert!(h.c.binding(&HOA).is_none());
    // What a clean stop writes: no binding, but the node's replay state.
    let wall0 = SystemTime::UNIX_EPOCH + secs(1_700_000_000);
    let records = h.c.export(wall0 + secs(2), h.at(2));
    assert!(records.is_empty());
    let replay = h.c.replay_records();
    assert_eq!(
        replay,
        vec![ReplayRecord {
            home_address: HOA,
            last_mesg_id: NTP0 + (2 << 32),
            last_sequence: 2,
        }]
    );
    let json = serde_json::to_string(&replay).unwrap();
    let back: Vec<ReplayRecord> = serde_json::from_str(&json).unwrap();

    // The new process, 3.6 s after the captured BU's timestamp.
    let mut h2 = Harness::new(config());
    let t = h2.at(0);
    h2.c.set_wall_clock(
        t,
        NTP0 + (1 << 32) + crate::binding::ntp::ntp_units(Duration::from_millis(3600)),
    );
    assert_eq!(h2.c.restore_replay(&back), 1);
    assert_eq!(h2.c.restore(&records, wall0 + secs(5), t), 0);
    let a = h2.feed(t, &captured);
    let (ba, _) = only_ba(&a);
    assert!(!ba.status.is_accepted(), "replay accepted: {a:?}");
    assert!(h2.c.binding(&HOA).is_none());
    assert!(h2.c.pending_dad().next().is_none());
    // The node itself, with a fresh timestamp, registers as usual.
    let fresh = Bu {
        ts: Ts::At((5 << 32) + 1),
        ..Bu::new(3)
    };
    assert_eq!(only_ba(&h2.feed(t, &fresh)).0.status, BaStatus::ACCEPTED);
    // Replay state of nodes the configuration no longer has is dropped.
    let stranger = ReplayRecord {
        home_address: "2001:db8:1::999".parse().unwrap(),
        last_mesg_id: NTP0,
        last_sequence: 1,
    };
    assert_eq!(h2.c.restore_replay(&[stranger]), 0);
    assert!(
        h2.c.replay_records()
            .iter()
            .all(|r| r.home_address != stranger.home_address)
    );
}

/// Issue 11 item 15: a stored binding comes back only when this
/// configuration would serve it: a configured home address (or, in lab
/// mode, an unauthenticated one), the same SPI, one of our addresses, a
/// valid care-of address.
#[test]
fn stored_bindings_must_match_the_configuration() {
    let good = BindingRecord {
        hoa: HOA,
        coa: COA,
        ha_addr: HA,
        sequence: 4,
        flags: (BuFlags::A | BuFlags::H).0,
        lifetime_secs: 600,
        expires_unix: 1_700_000_600,
        link_local: None,
        last_mesg_id: Some(NTP0),
        spi: Some(SPI),
    };
    let stranger: Ipv6Addr = "2001:db8:1::999".parse().unwrap();
    let bad = [
        BindingRecord {
            hoa: stranger,
            spi: None,
            ..good.clone()
        },
        BindingRecord {
            hoa: stranger,
            spi: Some(SPI),
            ..good.clone()
        },
        BindingRecord {
            spi: Some(SPI2),
            ..good.clone()
        },
        BindingRecord {
            ha_addr: "2001:db8:1::2".parse().unwrap(),
            ..good.clone()
        },
        BindingRecord {
            coa: "2001:db8:1::77".parse().unwrap(),
            ..good.clone()
        },
        BindingRecord {
            coa: HOA2,
            ..good.clone()
        },
        BindingRecord {
            hoa: HOA_OFF,
            spi: Some(SPI_OFF),
            ..good.clone()
        },
    ];
    let wall = SystemTime::UNIX_EPOCH + secs(1_700_000_000);
    for r in &bad {
        let mut h = Harness::new(config());
        assert!(h.c.unrestorable(r, h.at(0)).is_some(), "{r:?}");
        assert_eq!(
            h.c.restore(std::slice::from_ref(r), wall, h.at(0)),
            0,
            "{r:?}"
        );
        assert!(h.c.is_empty());
        assert!(h.actions().is_empty());
    }
    let mut h = Harness::new(config());
    assert_eq!(h.c.restore(std::slice::from_ref(&good), wall, h.at(0)), 1);
    // A file of an older version has no SPI: still restored.
    let mut h = Harness::new(config());
    let old = BindingRecord { spi: None, ..good };
    assert_eq!(h.c.restore(std::slice::from_ref(&old), wall, h.at(0)), 1);
    // An unauthenticated binding (lab mode) for an unconfigured address.
    let mut h = Harness::new(CacheConfig {
        allow_unauthenticated: true,
        ..config()
    });
    let lab = BindingRecord {
        hoa: stranger,
        spi: None,
        ..old
    };
    assert_eq!(h.c.restore(&[lab], wall, h.at(0)), 1);
}

/// Issue 11 item 14: a packet tunnelled by a mobile node whose binding we
/// lost is answered with Binding Error status 1 to its care-of address,
/// naming its home address, so it registers again at once; not for a node
/// bound to that care-of address, nor for addresses we would not serve.
#[test]
fn tunnelled_packet_without_binding_gets_binding_error_1() {
    let mut cfg = config();
    cfg.binding_error_rate = 3;
    let mut h = Harness::new(cfg);
    h.c.handle_tunnelled_without_binding(h.at(1), COA, HA, HOA);
    let a = h.actions();
    let [
        Action::SendBindingError {
            to,
            from,
            status,
            be,
            mh_bytes,
        },
    ] = &a[..]
    else {
        panic!("{a:?}")
    };
    assert_eq!((*to, *from, *status), (COA, HA, BeStatus(1)));
    assert_eq!(be.home_address, HOA);
    assert!(verify_checksum(mh_bytes, &HA, &COA));
    // Bound to that care-of address: the packet was not ours to drop.
    h.register(h.at(2), 1);
    h.c.handle_tunnelled_without_binding(h.at(2), COA, HA, HOA);
    assert!(h.actions().is_empty());
    // Bound elsewhere (a stale care-of address): tell that one.
    h.c.handle_tunnelled_without_binding(h.at(2), COA2, HA, HOA);
    assert_eq!(h.actions().len(), 1);
    // Not a configured home address, off every home prefix, not our
    // address: nothing (no Binding Errors on behalf of strangers).
    let stranger: Ipv6Addr = "2001:db8:1::999".parse().unwrap();
    h.c.handle_tunnelled_without_binding(h.at(2), COA, HA, stranger);
    h.c.handle_tunnelled_without_binding(h.at(2), COA, HA, HOA_OFF);
    h.c.handle_tunnelled_without_binding(h.at(2), COA, COA2, HOA2);
    assert!(h.actions().is_empty());
    // Rate-limited like every Binding Error.
    for _ in 0..5 {
        h.c.handle_tunnelled_without_binding(h.at(2), COA, HA, HOA2);
    }
    assert_eq!(h.actions().len(), 2);
    assert!(h.c.stats().binding_errors_suppressed >= 3);
}

/// Issue 11 item 11: a bound node's replay state travels in its binding
/// record; the replay records hold the others only, and both come back.
#[test]
fn replay_state_of_bound_and_unbound_nodes_survives_export() {
    let mut h = Harness::new(config());
    h.register(h.at(1), 5);
    let mn2 = Bu {
        hoa: Some(HOA2),
        auth: Some((SPI2, KEY2)),
        nai: None,
        src: COA2,
        ..Bu::new(7)
    };
    h.feed(h.at(1), &mn2);
    h.feed(
        h.at(2),
        &Bu {
            lifetime: 0,
            seq: 8,
            ..mn2.clone()
        },
    );
    assert!(h.c.binding(&HOA2).is_none());
    let wall = SystemTime::UNIX_EPOCH + secs(1_700_000_000);
    let records = h.c.export(wall, h.at(2));
    let replay = h.c.replay_records();
    assert_eq!(records.len(), 1);
    assert_eq!(replay.len(), 1);
    assert_eq!((replay[0].home_address, replay[0].last_sequence), (HOA2, 8));
    let mut h2 = Harness::new(config());
    h2.c.restore_replay(&replay);
    h2.c.restore(&records, wall, h2.at(0));
    let mut back = h2.c.replay_records();
    back.extend(h.c.replay_records());
    assert!(back.iter().all(|r| r.home_address == HOA2));
    // The bound node's timestamp came back with its binding: its old BU
    // (sequence 5, timestamp 1 s + 5) is refused as a replay.
    h2.c.set_wall_clock(h2.at(0), NTP0 + (2 << 32));
    let old = Bu {
        ts: Ts::At((1 << 32) + 5),
        ..Bu::new(6)
    };
    assert!(!only_ba(&h2.feed(h2.at(0), &old)).0.status.is_accepted());
}
