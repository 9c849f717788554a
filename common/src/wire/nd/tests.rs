//! Byte-exact fixtures laid out from the RFC figures, malformed inputs and
//! property tests. Each fixture's checksum was computed by tshark 4.0 (an
//! implementation independent of ours) from the same bytes with the same
//! addresses.

use std::net::Ipv6Addr;

use proptest::prelude::*;

use super::strategies;
use super::*;
use crate::wire::Error;

use crate::wire::test_addrs::a;

/// The MN's link-local address (MAC 02:00:00:00:00:01, modified EUI-64).
fn mn_ll() -> Ipv6Addr {
    a("fe80::ff:fe00:1")
}

/// The router / home agent's link-local address (MAC 02:00:00:00:00:02).
fn ha_ll() -> Ipv6Addr {
    a("fe80::ff:fe00:2")
}

const MN_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const HA_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// Parses with checksum verification, checks that the repr is `expected`,
/// that it re-emits byte for byte (checksum included) and that the
/// checksum-less emit differs only in the checksum field.
fn check_fixture(bytes: &[u8], src: Ipv6Addr, dst: Ipv6Addr, expected: &NdRepr) {
    let parsed = NdRepr::parse_verified(bytes, &src, &dst).expect("fixture parses");
    assert_eq!(&parsed, expected);
    assert_eq!(parsed.buffer_len(), bytes.len());
    let out = parsed.to_bytes_with_checksum(&src, &dst).expect("emit");
    assert_eq!(out, bytes);
    let mut zeroed = bytes.to_vec();
    zeroed[2..4].fill(0);
    assert_eq!(parsed.to_bytes().expect("emit"), zeroed);
    let view = Icmpv6Packet::new_checked(bytes).expect("view");
    assert!(view.verify_checksum(&src, &dst));
    assert_eq!(view.compute_checksum(&src, &dst), view.checksum());
}

// RFC 4861 4.1 Router Solicitation, from the MN to all-routers.
const RS: [u8; 16] = [
    0x85, 0x00, 0x7b, 0x2c, // Type 133, Code 0, Checksum
    0x00, 0x00, 0x00, 0x00, // Reserved
    0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // SLLA (4.6.1), Length 1
];

/// The MN's RS of the fixture: its link-layer address and nothing else.
fn rs_with_slla() -> NdRepr {
    RouterSolicit {
        reserved: 0,
        options: vec![NdOption::source_mac(MN_MAC)],
    }
    .into()
}

#[test]
fn router_solicitation_fixture() {
    let expected = rs_with_slla();
    check_fixture(&RS, mn_ll(), ALL_ROUTERS, &expected);
    expected
        .validate(&mn_ll(), &ALL_ROUTERS, 255)
        .expect("valid RS");
}

// RFC 4861 4.2 Router Advertisement from a home agent, with the RFC 6275
// 7.1 H flag and every option an HA's RA carries.
const RA: [u8; 80] = [
    0x86, 0x00, 0x91, 0x58, // Type 134, Code 0, Checksum
    0x40, // Cur Hop Limit 64
    0x68, // M=0 O=1 H=1 (RFC 6275 7.1), Prf=01 high (RFC 4191 2.2), P=0, Reserved 00
    0x07, 0x08, // Router Lifetime 1800 s
    0x00, 0x00, 0x75, 0x30, // Reachable Time 30000 ms
    0x00, 0x00, 0x03, 0xe8, // Retrans Timer 1000 ms
    // Source Link-Layer Address (4.6.1)
    0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, //
    // MTU (4.6.4): Reserved, 1500
    0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc, //
    // Prefix Information (4.6.2): /64, L=1 A=1 R=1 (RFC 6275 7.2),
    // valid 86400 s, preferred 14400 s, Reserved2, and with R the HA's
    // full address 2001:db8:1::1 in the Prefix field.
    0x03, 0x04, 0x40, 0xe0, //
    0x00, 0x01, 0x51, 0x80, //
    0x00, 0x00, 0x38, 0x40, //
    0x00, 0x00, 0x00, 0x00, //
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
    // Advertisement Interval (RFC 6275 7.3): Reserved, 3000 ms
    0x07, 0x01, 0x00, 0x00, 0x00, 0x00, 0x0b, 0xb8, //
    // Home Agent Information (RFC 6275 7.4): Reserved, preference 10,
    // lifetime 1800 s
    0x08, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x07, 0x08,
];

fn ra_repr() -> RouterAdvert {
    RouterAdvert {
        managed: false,
        other: true,
        preference: RouterPreference::High,
        proxy: false,
        reserved: 0,
        reachable_time: 30_000,
        retrans_timer: 1000,
        ..crate::testing::ha_router_advert(HA_MAC, a("2001:db8:1::1"), 3000)
    }
}

#[test]
fn router_advertisement_fixture() {
    let expected: NdRepr = ra_repr().into();
    check_fixture(&RA, ha_ll(), ALL_NODES, &expected);
    expected
        .validate(&ha_ll(), &ALL_NODES, 255)
        .expect("valid RA");

    let ra = ra_repr();
    assert_eq!(
        ra.options.source_lla().and_then(LinkLayerAddress::mac),
        Some(HA_MAC)
    );
    assert_eq!(ra.options.mtu(), Some(1500));
    assert_eq!(ra.options.adv_interval_ms(), Some(3000));
    assert_eq!(ra.home_agent_params(), Some((10, 1800)));
    let pi = ra.options.prefix_infos().next().expect("prefix");
    assert_eq!(pi.network(), a("2001:db8:1::"));
    assert_eq!(pi.router_addr(), Some(a("2001:db8:1::1")));
    assert_eq!(ra.options.prefix_infos().count(), 1);
}

#[test]
fn home_agent_info_needs_the_h_flag() {
    // RFC 6275 7.4: without H the option is ignored; without the option an
    // HA has preference 0 and the Router Lifetime.
    let mut ra = ra_repr();
    ra.home_agent = false;
    assert_eq!(ra.home_agent_info(), None);
    assert_eq!(ra.home_agent_params(), None);
    let mut ra = ra_repr();
    ra.options
        .retain(|o| !matches!(o, NdOption::HomeAgentInformation(_)));
    assert_eq!(ra.home_agent_params(), Some((0, 1800)));
}

#[test]
fn home_agent_preference_is_signed() {
    // RFC 6275 7.4: preference is a 16-bit signed integer.
    let bytes = [0x08, 0x01, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x3c];
    let (opt, len) = NdOption::parse(&bytes, "test").expect("option");
    assert_eq!(len, 8);
    assert_eq!(
        opt,
        NdOption::HomeAgentInformation(HomeAgentInfo::new(-2, 60))
    );
    let mut out = [0u8; 8];
    assert_eq!(opt.emit(&mut out), Ok(8));
    assert_eq!(out, bytes);
}

#[test]
fn router_preference_bits() {
    // RFC 4191 2.2: 01 high, 00 medium, 11 low, 10 reserved (read as medium).
    for (bits, pref) in [
        (0b01, RouterPreference::High),
        (0b00, RouterPreference::Medium),
        (0b11, RouterPreference::Low),
        (0b10, RouterPreference::Reserved),
    ] {
        assert_eq!(RouterPreference::from_bits(bits), pref);
        assert_eq!(pref.bits(), bits);
    }
    assert_eq!(
        RouterPreference::Reserved.effective(),
        RouterPreference::Medium
    );
    assert_eq!(RouterPreference::Low.effective(), RouterPreference::Low);
}

#[test]
fn ra_keeps_proxy_and_reserved_bits() {
    let mut bytes = RA;
    bytes[2..4].fill(0);
    bytes[5] = 0xff; // every flag bit, Prf = 11 (low)
    let NdRepr::RouterAdvert(ra) = NdRepr::from_bytes(&bytes).expect("parse") else {
        panic!("not an RA");
    };
    assert!(ra.managed && ra.other && ra.home_agent && ra.proxy);
    assert_eq!(ra.preference, RouterPreference::Low);
    assert_eq!(ra.reserved, 0b11);
    assert_eq!(NdRepr::RouterAdvert(ra).to_bytes().expect("emit"), bytes);
}

// RFC 4861 4.3 Neighbor Solicitation for address resolution: MN asks for
// the router's link-layer address at its solicited-node group.
const NS: [u8; 32] = [
    0x87, 0x00, 0x7c, 0x97, // Type 135, Code 0, Checksum
    0x00, 0x00, 0x00, 0x00, // Reserved
    0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // Target fe80::ff:fe00:2
    0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x02, //
    0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // SLLA
];

#[test]
fn neighbor_solicitation_fixture() {
    let dst = solicited_node_multicast(ha_ll());
    assert_eq!(dst, a("ff02::1:ff00:2"));
    let expected: NdRepr = NeighborSolicit::new(ha_ll(), vec![NdOption::source_mac(MN_MAC)]).into();
    check_fixture(&NS, mn_ll(), dst, &expected);
    expected.validate(&mn_ll(), &dst, 255).expect("valid NS");
}

// RFC 4862 5.4.2 DAD probe with the RFC 7527 4.1 nonce: from :: to the
// tentative address's solicited-node group, no SLLA.
const NS_DAD_NONCE: [u8; 32] = [
    0x87, 0x00, 0x33, 0xd9, // Type 135, Code 0, Checksum
    0x00, 0x00, 0x00, 0x00, // Reserved
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // Target 2001:db8:1::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, //
    0x0e, 0x01, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, // Nonce (RFC 3971 5.3.2), 6 bytes
];

// The same probe without a nonce (plain RFC 4862).
const NS_DAD: [u8; 24] = [
    0x87, 0x00, 0x4a, 0xee, // Type 135, Code 0, Checksum
    0x00, 0x00, 0x00, 0x00, // Reserved
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // Target 2001:db8:1::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
];

#[test]
fn dad_probe_fixtures() {
    let target = a("2001:db8:1::100");
    let dst = solicited_node_multicast(target);
    assert_eq!(dst, a("ff02::1:ff00:100"));
    let src = Ipv6Addr::UNSPECIFIED;

    let with_nonce: NdRepr = NeighborSolicit::dad(target, Some([1, 2, 3, 4, 5, 6])).into();
    check_fixture(&NS_DAD_NONCE, src, dst, &with_nonce);
    with_nonce.validate(&src, &dst, 255).expect("valid DAD NS");
    assert_eq!(
        with_nonce.options().nonce(),
        Some(&[1u8, 2, 3, 4, 5, 6][..])
    );

    let plain: NdRepr = NeighborSolicit::dad(target, None).into();
    check_fixture(&NS_DAD, src, dst, &plain);
    plain.validate(&src, &dst, 255).expect("valid DAD NS");
    assert_eq!(plain.options().nonce(), None);
}

// RFC 4861 4.4 solicited Neighbor Advertisement from a router: R=1 S=1 O=1.
const NA_SOLICITED: [u8; 32] = [
    0x88, 0x00, 0x9b, 0x19, // Type 136, Code 0, Checksum
    0xe0, 0x00, 0x00, 0x00, // R S O, Reserved
    0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // Target fe80::ff:fe00:2
    0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x02, //
    0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // TLLA
];

// Unsolicited NA a home agent sends for a home address it now defends
// (RFC 6275 10.4.1): O=1 only, to all-nodes.
const NA_UNSOLICITED: [u8; 32] = [
    0x88, 0x00, 0x28, 0x61, // Type 136, Code 0, Checksum
    0x20, 0x00, 0x00, 0x00, // O, Reserved
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // Target 2001:db8:1::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, //
    0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // TLLA (the HA's MAC)
];

#[test]
fn neighbor_advertisement_fixtures() {
    let solicited: NdRepr = NeighborAdvert::new(
        ha_ll(),
        true,
        true,
        true,
        vec![NdOption::target_mac(HA_MAC)],
    )
    .into();
    check_fixture(&NA_SOLICITED, ha_ll(), mn_ll(), &solicited);
    solicited
        .validate(&ha_ll(), &mn_ll(), 255)
        .expect("valid NA");

    let hoa = a("2001:db8:1::100");
    let unsolicited: NdRepr =
        NeighborAdvert::new(hoa, false, false, true, vec![NdOption::target_mac(HA_MAC)]).into();
    check_fixture(&NA_UNSOLICITED, ha_ll(), ALL_NODES, &unsolicited);
    unsolicited
        .validate(&ha_ll(), &ALL_NODES, 255)
        .expect("valid NA");
    assert_eq!(
        unsolicited
            .options()
            .target_lla()
            .and_then(LinkLayerAddress::mac),
        Some(HA_MAC)
    );
}

// RFC 4861 4.5 Redirect: use router fe80::ff:fe00:3 for 2001:db8:3::5.
const REDIRECT: [u8; 48] = [
    0x89, 0x00, 0x1b, 0x0f, // Type 137, Code 0, Checksum
    0x00, 0x00, 0x00, 0x00, // Reserved
    0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // Target fe80::ff:fe00:3
    0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x03, //
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x03, 0x00, 0x00, // Destination 2001:db8:3::5
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, //
    0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x03, // TLLA
];

#[test]
fn redirect_fixture() {
    let dst = a("2001:db8:1::100");
    let expected: NdRepr = Redirect {
        reserved: 0,
        target: a("fe80::ff:fe00:3"),
        destination: a("2001:db8:3::5"),
        options: vec![NdOption::target_mac([2, 0, 0, 0, 0, 3])],
    }
    .into();
    check_fixture(&REDIRECT, ha_ll(), dst, &expected);
    expected
        .validate(&ha_ll(), &dst, 255)
        .expect("valid Redirect");
}

#[test]
fn solicited_node_groups() {
    // RFC 4291 2.7.1's example.
    assert_eq!(
        solicited_node_multicast(a("4037::01:800:200e:8c6c")),
        a("ff02::1:ff0e:8c6c")
    );
    assert!(is_solicited_node_multicast(&a("ff02::1:ff0e:8c6c")));
    assert!(!is_solicited_node_multicast(&a("ff02::1:fe0e:8c6c")));
    assert!(!is_solicited_node_multicast(&ALL_NODES));
    assert_eq!(ALL_NODES, a("ff02::1"));
    assert_eq!(ALL_ROUTERS, a("ff02::2"));
}

#[test]
fn prefix_network_clears_host_bits() {
    let mut pi = PrefixInformation::new(a("2001:db8:1:2:3:4:5:6"), 48, 1, 1);
    assert_eq!(pi.network(), a("2001:db8:1::"));
    assert_eq!(pi.router_addr(), None);
    pi.prefix_len = 0;
    assert_eq!(pi.network(), Ipv6Addr::UNSPECIFIED);
    pi.prefix_len = 200;
    assert_eq!(pi.network(), a("2001:db8:1:2:3:4:5:6"));
}

#[test]
fn other_link_layers_round_trip() {
    // An 8-byte (EUI-64) link-layer address needs Length 2 and 6 bytes of
    // padding; the padding is kept as sent.
    let mut data = vec![1, 2, 3, 4, 5, 6, 7, 8];
    data.extend_from_slice(&[0; 6]);
    let ns: NdRepr = NeighborSolicit::new(
        ha_ll(),
        vec![NdOption::SourceLinkLayerAddr(LinkLayerAddress::from_bytes(
            &data,
        ))],
    )
    .into();
    let bytes = ns.to_bytes().expect("emit");
    assert_eq!(&bytes[24..26], &[1, 2]);
    assert_eq!(NdRepr::from_bytes(&bytes), Ok(ns.clone()));
    assert_eq!(
        ns.options().source_lla().and_then(LinkLayerAddress::mac),
        None
    );
}

#[test]
fn known_option_at_a_wrong_length_is_kept_raw() {
    // An MTU option of Length 2 is not an MTU option we understand: it is
    // ignored like an unknown option but survives a re-emit.
    let mut bytes = NS_DAD.to_vec();
    bytes.extend_from_slice(&[5, 2, 0, 0, 0, 0, 5, 0xdc, 9, 9, 9, 9, 9, 9, 9, 9]);
    let repr = NdRepr::from_bytes(&bytes).expect("parse");
    assert_eq!(
        repr.options(),
        &[NdOption::Unknown {
            opt_type: 5,
            data: vec![0, 0, 0, 0, 5, 0xdc, 9, 9, 9, 9, 9, 9, 9, 9]
        }]
    );
    assert_eq!(repr.options().mtu(), None);
    bytes[2..4].fill(0);
    assert_eq!(repr.to_bytes().expect("emit"), bytes);
}

#[test]
fn unknown_options_are_kept() {
    // RFC 4861 4.6: receivers skip options they do not recognise (type 25,
    // RDNSS, here).
    let mut bytes = RS.to_vec();
    bytes.extend_from_slice(&[25, 1, 0, 0, 0, 0, 0, 60]);
    let repr = NdRepr::from_bytes(&bytes).expect("parse");
    assert_eq!(repr.options().len(), 2);
    assert_eq!(
        repr.options()[1],
        NdOption::Unknown {
            opt_type: 25,
            data: vec![0, 0, 0, 0, 0, 60]
        }
    );
}

// --- malformed input -------------------------------------------------------

#[test]
fn truncated_messages() {
    for (bytes, what) in [
        (&RS[..7], "Router Solicitation"),
        (&RA[..15], "Router Advertisement"),
        (&NS[..23], "Neighbor Solicitation"),
        (&NA_SOLICITED[..23], "Neighbor Advertisement"),
        (&REDIRECT[..39], "Redirect"),
    ] {
        assert_eq!(
            NdRepr::from_bytes(bytes),
            Err(Error::Truncated {
                what,
                need: match what {
                    "Router Solicitation" => 8,
                    "Router Advertisement" => 16,
                    "Redirect" => 40,
                    _ => 24,
                },
                have: bytes.len(),
            })
        );
    }
    assert!(matches!(
        NdRepr::from_bytes(&RS[..3]),
        Err(Error::Truncated { need: 4, .. })
    ));
    assert!(matches!(
        NdRepr::from_bytes(&[]),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn zero_length_option_is_refused() {
    // RFC 4861 4.6: MUST silently discard.
    let mut bytes = RA;
    bytes[16 + 8 + 1] = 0; // the MTU option's Length
    assert_eq!(
        NdRepr::from_bytes(&bytes),
        Err(Error::BadLength {
            what: "ND option",
            detail: "option type 5 has length 0".into()
        })
    );
}

#[test]
fn overrunning_option_is_refused() {
    let mut bytes = RA;
    bytes[RA.len() - 7] = 2; // the last option claims 16 bytes, 8 remain
    assert_eq!(
        NdRepr::from_bytes(&bytes),
        Err(Error::OptionOverrun {
            opt_type: 8,
            container: "ND message"
        })
    );
    // A stray byte cannot even hold an option header.
    let mut bytes = NS_DAD.to_vec();
    bytes.push(1);
    assert_eq!(
        NdRepr::from_bytes(&bytes),
        Err(Error::Truncated {
            what: "ND option header",
            need: 2,
            have: 1
        })
    );
}

#[test]
fn bad_checksum_is_refused() {
    let mut bytes = NS;
    bytes[3] ^= 0x01;
    let dst = solicited_node_multicast(ha_ll());
    assert_eq!(
        NdRepr::parse_verified(&bytes, &mn_ll(), &dst),
        Err(Error::BadChecksum {
            what: "ICMPv6",
            found: 0x7c96,
            expected: 0x7c97
        })
    );
    // The right bytes with the wrong addresses fail too.
    assert!(matches!(
        NdRepr::parse_verified(&NS, &ha_ll(), &dst),
        Err(Error::BadChecksum { .. })
    ));
}

#[test]
fn wrong_code_is_refused() {
    let mut bytes = NA_SOLICITED;
    bytes[1] = 1;
    assert_eq!(
        NdRepr::from_bytes(&bytes),
        Err(Error::Invalid {
            field: "ICMPv6 code",
            value: 1
        })
    );
}

#[test]
fn other_icmpv6_types_are_unsupported() {
    // Echo Request (RFC 4443 4.1).
    assert_eq!(
        NdRepr::from_bytes(&[128, 0, 0, 0, 0, 1, 0, 1]),
        Err(Error::Unsupported {
            what: "ICMPv6 type for ND",
            value: 128
        })
    );
}

// --- validation (RFC 4861 6.1.1, 6.1.2, 7.1.1, 7.1.2, 8.1) ----------------

fn invalid_field(r: crate::wire::Result<()>) -> &'static str {
    match r {
        Err(Error::Invalid { field, .. }) => field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn hop_limit_must_be_255() {
    let rs: NdRepr = RouterSolicit::default().into();
    assert_eq!(
        rs.validate(&mn_ll(), &ALL_ROUTERS, 254),
        Err(Error::Invalid {
            field: "ND hop limit (must be 255)",
            value: 254
        })
    );
}

#[test]
fn rs_from_unspecified_must_not_carry_slla() {
    let with = rs_with_slla();
    let src = Ipv6Addr::UNSPECIFIED;
    assert!(invalid_field(with.validate(&src, &ALL_ROUTERS, 255)).starts_with("RS from ::"));
    let without: NdRepr = RouterSolicit::default().into();
    assert_eq!(without.validate(&src, &ALL_ROUTERS, 255), Ok(()));
}

#[test]
fn ra_source_must_be_link_local() {
    let ra: NdRepr = ra_repr().into();
    assert_eq!(
        ra.validate(&a("2001:db8:1::1"), &ALL_NODES, 255),
        Err(Error::Invalid {
            field: "RA source (must be link-local)",
            value: 0x2001
        })
    );
}

#[test]
fn ns_rules() {
    let dst = a("ff02::1:ff00:100");
    let multicast_target: NdRepr = NeighborSolicit::new(ALL_NODES, vec![]).into();
    assert!(invalid_field(multicast_target.validate(&mn_ll(), &dst, 255)).starts_with("NS target"));

    let dad: NdRepr = NeighborSolicit::dad(a("2001:db8:1::100"), None).into();
    let src = Ipv6Addr::UNSPECIFIED;
    assert!(
        invalid_field(dad.validate(&src, &ALL_NODES, 255)).starts_with("NS from :: (destination")
    );
    assert!(
        invalid_field(dad.validate(&src, &a("2001:db8:1::1"), 255))
            .starts_with("NS from :: (destination")
    );

    let dad_with_slla: NdRepr =
        NeighborSolicit::new(a("2001:db8:1::100"), vec![NdOption::source_mac(MN_MAC)]).into();
    assert!(invalid_field(dad_with_slla.validate(&src, &dst, 255)).starts_with("NS from :: with"));
    // From a real address the SLLA is expected.
    assert_eq!(dad_with_slla.validate(&mn_ll(), &dst, 255), Ok(()));
}

#[test]
fn na_rules() {
    let multicast_target: NdRepr =
        NeighborAdvert::new(ALL_NODES, false, false, true, vec![]).into();
    assert!(
        invalid_field(multicast_target.validate(&ha_ll(), &mn_ll(), 255)).starts_with("NA target")
    );

    let solicited: NdRepr = NeighborAdvert::new(ha_ll(), false, true, true, vec![]).into();
    assert_eq!(
        solicited.validate(&ha_ll(), &ALL_NODES, 255),
        Err(Error::Invalid {
            field: "NA to a multicast destination with the Solicited flag",
            value: 1
        })
    );
    assert_eq!(solicited.validate(&ha_ll(), &mn_ll(), 255), Ok(()));
}

#[test]
fn redirect_rules() {
    let good = Redirect {
        reserved: 0,
        target: a("fe80::ff:fe00:3"),
        destination: a("2001:db8:3::5"),
        options: vec![],
    };
    let dst = a("2001:db8:1::100");
    let r: NdRepr = good.clone().into();
    assert!(
        invalid_field(r.validate(&a("2001:db8:1::1"), &dst, 255)).starts_with("Redirect source")
    );

    let to_group: NdRepr = Redirect {
        destination: ALL_NODES,
        ..good.clone()
    }
    .into();
    assert!(
        invalid_field(to_group.validate(&ha_ll(), &dst, 255)).starts_with("Redirect destination")
    );

    let global_target: NdRepr = Redirect {
        target: a("2001:db8:1::3"),
        ..good.clone()
    }
    .into();
    assert!(
        invalid_field(global_target.validate(&ha_ll(), &dst, 255)).starts_with("Redirect target")
    );

    // "The destination is a neighbor": target equals destination.
    let on_link: NdRepr = Redirect {
        target: good.destination,
        ..good
    }
    .into();
    assert_eq!(on_link.validate(&ha_ll(), &dst, 255), Ok(()));
}

// --- emit errors -------------------------------------------------------------

#[test]
fn emit_refuses_what_cannot_be_encoded() {
    let odd_lla: NdRepr = RouterSolicit {
        reserved: 0,
        options: vec![NdOption::SourceLinkLayerAddr(LinkLayerAddress::from_bytes(
            &[1, 2, 3],
        ))],
    }
    .into();
    assert!(matches!(odd_lla.to_bytes(), Err(Error::Unencodable { .. })));

    let huge: NdRepr = RouterSolicit {
        reserved: 0,
        options: vec![NdOption::Unknown {
            opt_type: 200,
            data: vec![0; 255 * 8],
        }],
    }
    .into();
    assert!(matches!(huge.to_bytes(), Err(Error::Unencodable { .. })));

    let short_nonce: NdRepr =
        NeighborSolicit::new(a("2001:db8::1"), vec![NdOption::Nonce(vec![])]).into();
    assert!(matches!(
        short_nonce.to_bytes(),
        Err(Error::Unencodable { .. })
    ));

    let mut ra = ra_repr();
    ra.reserved = 4;
    assert!(matches!(
        NdRepr::from(ra).to_bytes(),
        Err(Error::Unencodable { .. })
    ));

    let mut na = NeighborAdvert::new(ha_ll(), false, false, false, vec![]);
    na.reserved = 0x2000_0000;
    assert!(matches!(
        NdRepr::from(na).to_bytes(),
        Err(Error::Unencodable { .. })
    ));

    let mut pi = PrefixInformation::new(a("2001:db8::"), 64, 1, 1);
    pi.reserved1 = 0x20;
    let ra = RouterAdvert {
        options: vec![NdOption::PrefixInformation(pi)],
        ..RouterAdvert::default()
    };
    assert!(matches!(
        NdRepr::from(ra).to_bytes(),
        Err(Error::Unencodable { .. })
    ));

    let rs: NdRepr = RouterSolicit::default().into();
    let mut small = [0u8; 7];
    assert_eq!(
        rs.emit(&mut small),
        Err(Error::Truncated {
            what: "ND emit buffer",
            need: 8,
            have: 7
        })
    );
}

#[test]
fn view_accessors_and_setters() {
    let mut buf = RS.to_vec();
    let mut packet = Icmpv6Packet::new_checked(&mut buf[..]).expect("view");
    assert_eq!(packet.msg_type(), 133);
    assert_eq!(packet.msg_code(), 0);
    assert_eq!(packet.checksum(), 0x7b2c);
    assert_eq!(packet.body().len(), 12);
    packet.set_checksum(0);
    packet.fill_checksum(&mn_ll(), &ALL_ROUTERS);
    assert_eq!(packet.checksum(), 0x7b2c);
    packet.set_msg_code(3);
    assert_eq!(packet.msg_code(), 3);
    assert!(Icmpv6Packet::new_checked(&[1u8, 2, 3][..]).is_err());
    // An unchecked view of a short buffer reads zeros instead of panicking.
    let short = Icmpv6Packet::new_unchecked(&[0x86u8][..]);
    assert_eq!(
        (short.msg_type(), short.msg_code(), short.checksum()),
        (0x86, 0, 0)
    );
    assert!(short.body().is_empty());
}

// --- properties --------------------------------------------------------------

/// Bytes that look enough like ND to get past the first checks.
fn nd_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![133u8..=137, any::<u8>()],
        prop_oneof![4 => Just(0u8), 1 => any::<u8>()],
        proptest::collection::vec(any::<u8>(), 0..120),
    )
        .prop_map(|(t, c, rest)| {
            let mut v = vec![t, c, 0, 0];
            v.extend(rest);
            v
        })
}

proptest! {
    #[test]
    fn repr_round_trips(repr in strategies::nd_repr(), src in strategies::addr(), dst in strategies::addr()) {
        let bytes = repr.to_bytes_with_checksum(&src, &dst).expect("emit");
        prop_assert_eq!(bytes.len(), repr.buffer_len());
        prop_assert_eq!(NdRepr::parse_verified(&bytes, &src, &dst).expect("parse"), repr);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in nd_like_bytes(),
        src in strategies::addr(),
        dst in strategies::addr(),
        hop in any::<u8>(),
    ) {
        let view = Icmpv6Packet::new_unchecked(&bytes[..]);
        let _ = view.verify_checksum(&src, &dst);
        let _ = NdRepr::parse_verified(&bytes, &src, &dst);
        if let Ok(repr) = NdRepr::from_bytes(&bytes) {
            let _ = repr.validate(&src, &dst, hop);
            // emit(parse(x)) == x, up to the checksum emit leaves zero.
            let mut zeroed = bytes.clone();
            zeroed[2..4].fill(0);
            prop_assert_eq!(repr.to_bytes().expect("re-emit"), zeroed);
        }
    }

    #[test]
    fn mutated_fixtures_never_panic(idx in any::<usize>(), val in any::<u8>(), cut in any::<usize>()) {
        let mut bytes = RA.to_vec();
        let i = idx % bytes.len();
        bytes[i] = val;
        bytes.truncate(cut % (bytes.len() + 1));
        if let Ok(repr) = NdRepr::from_bytes(&bytes) {
            let _ = repr.validate(&ha_ll(), &ALL_NODES, 255);
            prop_assert_eq!(NdRepr::from_bytes(&repr.to_bytes().expect("re-emit")).expect("re-parse"), repr);
        }
    }
}
