//! Fixtures from an independent implementation (scapy 2.8, in
//! shared/interop/mip6.pcap), fixtures laid out from the RFC 6275 figures,
//! malformed inputs and property tests.

use std::net::Ipv6Addr;

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::wire::nd::{INFINITE_LIFETIME, NdOptions, PrefixInformation, strategies};

use crate::wire::test_addrs::{a, coa, ha, hoa};

/// Parses with checksum verification, compares, re-emits byte for byte.
fn check_fixture(bytes: &[u8], src: Ipv6Addr, dst: Ipv6Addr, expected: &DhaadRepr) {
    let parsed = DhaadRepr::parse_verified(bytes, &src, &dst).expect("fixture parses");
    assert_eq!(&parsed, expected);
    assert_eq!(parsed.buffer_len(), bytes.len());
    assert_eq!(
        parsed.to_bytes_with_checksum(&src, &dst).expect("emit"),
        bytes
    );
    parsed.validate(&src, &dst).expect("valid");
}

// shared/interop/mip6.pcap frame 12 (scapy 2.8): DHAAD Request (RFC 6275
// 6.5) from the CoA to the home subnet's Home-Agents anycast address,
// with scapy's default R bit explicitly cleared.
const PCAP_HAAD_REQUEST: [u8; 8] = [
    0x90, 0x00, 0x03, 0x15, // Type 144, Code 0, Checksum
    0x12, 0x34, 0x00, 0x00, // Identifier 0x1234, R=0, Reserved
];

// shared/interop/mip6.pcap frame 13 (scapy 2.8): DHAAD Reply (RFC 6275
// 6.6) listing one home agent.
const PCAP_HAAD_REPLY: [u8; 24] = [
    0x91, 0x00, 0xd2, 0x47, // Type 145, Code 0, Checksum
    0x12, 0x34, 0x00, 0x00, // Identifier, R=0, Reserved
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // 2001:db8:1::1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
];

// shared/interop/mip6.pcap frame 14 (scapy 2.8): Mobile Prefix
// Solicitation (RFC 6275 6.7), sent from the CoA with a Home Address
// option, so the checksum covers the HoA as source.
const PCAP_MPS: [u8; 8] = [
    0x92, 0x00, 0x11, 0x41, // Type 146, Code 0, Checksum
    0x00, 0x07, 0x00, 0x00, // Identifier 7, Reserved
];

// shared/interop/mip6.pcap frame 15 (scapy 2.8): Mobile Prefix
// Advertisement (RFC 6275 6.8), sent to the CoA with a type 2 routing
// header, so the checksum covers the HoA as destination.
const PCAP_MPA: [u8; 40] = [
    0x93, 0x00, 0x9e, 0xa2, // Type 147, Code 0, Checksum
    0x00, 0x07, 0x00, 0x00, // Identifier 7, M=0 O=0, Reserved
    // Prefix Information (RFC 4861 4.6.2): /64, L=1 A=1 R=0, infinite
    // lifetimes, 2001:db8:1::
    0x03, 0x04, 0x40, 0xc0, //
    0xff, 0xff, 0xff, 0xff, //
    0xff, 0xff, 0xff, 0xff, //
    0x00, 0x00, 0x00, 0x00, //
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

#[test]
fn scapy_haad_request() {
    let dst = home_agents_anycast(a("2001:db8:1::"), 64).expect("anycast");
    assert_eq!(dst, a("2001:db8:1:0:fdff:ffff:ffff:fffe"));
    check_fixture(&PCAP_HAAD_REQUEST, coa(), dst, &request_1234(false));
}

/// The fixtures' Request: identifier 0x1234 from the care-of address.
fn request_1234(mobile_router: bool) -> DhaadRepr {
    HaadRequest {
        identifier: 0x1234,
        mobile_router,
        reserved: 0,
    }
    .into()
}

#[test]
fn scapy_haad_reply() {
    let expected: DhaadRepr = HaadReply {
        identifier: 0x1234,
        mobile_router: false,
        reserved: 0,
        home_agents: vec![ha()],
    }
    .into();
    check_fixture(&PCAP_HAAD_REPLY, ha(), coa(), &expected);
}

#[test]
fn scapy_mobile_prefix_solicitation_with_hao() {
    let expected: DhaadRepr = MobilePrefixSolicit {
        identifier: 7,
        reserved: 0,
    }
    .into();
    check_fixture(&PCAP_MPS, hoa(), ha(), &expected);
    // The IPv6 header's own source, the CoA, is the wrong pseudo-header.
    assert!(matches!(
        DhaadRepr::parse_verified(&PCAP_MPS, &coa(), &ha()),
        Err(Error::BadChecksum { .. })
    ));
}

#[test]
fn scapy_mobile_prefix_advertisement_with_rh2() {
    let expected: DhaadRepr = MobilePrefixAdvert {
        identifier: 7,
        managed: false,
        other: false,
        reserved: 0,
        options: vec![NdOption::PrefixInformation(PrefixInformation::new(
            a("2001:db8:1::"),
            64,
            INFINITE_LIFETIME,
            INFINITE_LIFETIME,
        ))],
    }
    .into();
    check_fixture(&PCAP_MPA, ha(), hoa(), &expected);
    assert!(matches!(
        DhaadRepr::parse_verified(&PCAP_MPA, &ha(), &coa()),
        Err(Error::BadChecksum { .. })
    ));
}

// RFC 6275 6.5 with the RFC 3963 7.1 Mobile Router Support flag: a NEMO
// mobile router looking for home agents that support it.
const HAAD_REQUEST_R: [u8; 8] = [
    0x90, 0x00, 0x83, 0x14, // Type 144, Code 0, Checksum (tshark 4.0)
    0x12, 0x34, 0x80, 0x00, // Identifier 0x1234, R=1, Reserved 0
];

#[test]
fn haad_request_mobile_router_flag() {
    let dst = a("2001:db8:1:0:fdff:ffff:ffff:fffe");
    check_fixture(&HAAD_REQUEST_R, coa(), dst, &request_1234(true));
}

// RFC 6275 6.8: an unsolicited Mobile Prefix Advertisement (identifier 0)
// with M set, carrying the home agent's full address (R, RFC 6275 7.2).
const MPA_UNSOLICITED: [u8; 40] = [
    0x93, 0x00, 0x09, 0x70, // Type 147, Code 0, Checksum (tshark 4.0)
    0x00, 0x00, 0x80, 0x00, // Identifier 0, M=1 O=0, Reserved
    0x03, 0x04, 0x40, 0xe0, // Prefix Information: /64, L A R
    0x00, 0x00, 0x0e, 0x10, // valid 3600 s
    0x00, 0x00, 0x07, 0x08, // preferred 1800 s
    0x00, 0x00, 0x00, 0x00, // Reserved2
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // 2001:db8:1::1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
];

#[test]
fn unsolicited_mpa_fixture() {
    let expected: DhaadRepr = MobilePrefixAdvert {
        identifier: 0,
        managed: true,
        other: false,
        reserved: 0,
        options: vec![NdOption::PrefixInformation(PrefixInformation {
            router_address: true,
            ..PrefixInformation::new(ha(), 64, 3600, 1800)
        })],
    }
    .into();
    // Checksummed as sent over the RH2: destination is the HoA.
    check_fixture(&MPA_UNSOLICITED, ha(), hoa(), &expected);
    let DhaadRepr::PrefixAdvert(mpa) = expected else {
        panic!("not an MPA");
    };
    let pi = mpa.options.prefix_infos().next().expect("prefix");
    assert_eq!(
        (pi.network(), pi.router_addr()),
        (a("2001:db8:1::"), Some(ha()))
    );
}

#[test]
fn reply_with_several_home_agents() {
    let reply: DhaadRepr = HaadReply {
        identifier: 9,
        mobile_router: true,
        reserved: 0x0001,
        home_agents: vec![ha(), a("2001:db8:1::2"), a("2001:db8:1::3")],
    }
    .into();
    let bytes = reply.to_bytes_with_checksum(&ha(), &coa()).expect("emit");
    assert_eq!(bytes.len(), 8 + 3 * 16);
    assert_eq!(&bytes[4..8], &[0, 9, 0x80, 0x01]);
    assert_eq!(DhaadRepr::parse_verified(&bytes, &ha(), &coa()), Ok(reply));
}

#[test]
fn home_agents_anycast_addresses() {
    // RFC 2526: EUI-64 subnets clear the u bit; others are all ones.
    assert_eq!(
        home_agents_anycast(a("2001:db8:1::1234"), 64),
        Some(a("2001:db8:1:0:fdff:ffff:ffff:fffe"))
    );
    assert_eq!(
        home_agents_anycast(a("2001:db8:1::"), 48),
        Some(a("2001:db8:1:ffff:ffff:ffff:ffff:fffe"))
    );
    assert_eq!(
        home_agents_anycast(a("2001:db8::"), 120),
        Some(a("2001:db8::fe"))
    );
    assert_eq!(home_agents_anycast(a("2001:db8::"), 122), None);
}

// --- malformed input -------------------------------------------------------

#[test]
fn truncated_messages() {
    assert_eq!(
        DhaadRepr::from_bytes(&PCAP_HAAD_REQUEST[..7]),
        Err(Error::Truncated {
            what: "Home Agent Address Discovery Request",
            need: 8,
            have: 7
        })
    );
    assert!(matches!(
        DhaadRepr::from_bytes(&PCAP_MPS[..2]),
        Err(Error::Truncated { need: 4, .. })
    ));
    // A reply cut inside an address.
    assert_eq!(
        DhaadRepr::from_bytes(&PCAP_HAAD_REPLY[..20]),
        Err(Error::BadLength {
            what: "Home Agent Address Discovery Reply",
            detail: "12 bytes of addresses is not a multiple of 16".into()
        })
    );
}

#[test]
fn reply_without_addresses_is_well_formed() {
    let bytes = &PCAP_HAAD_REPLY[..8];
    let Ok(DhaadRepr::HaadReply(r)) = DhaadRepr::from_bytes(bytes) else {
        panic!("not a reply");
    };
    assert!(r.home_agents.is_empty());
}

#[test]
fn request_with_trailing_bytes_is_accepted() {
    // Nothing is defined after the fixed part; the extra bytes are ignored.
    let mut bytes = PCAP_MPS.to_vec();
    bytes.extend_from_slice(&[1, 2, 3]);
    assert_eq!(
        DhaadRepr::from_bytes(&bytes),
        Ok(MobilePrefixSolicit {
            identifier: 7,
            reserved: 0
        }
        .into())
    );
}

/// `fixture` with octet `at` set to `value`, parsed.
fn parse_altered(fixture: &[u8], at: usize, value: u8) -> Result<DhaadRepr> {
    let mut bytes = fixture.to_vec();
    bytes[at] = value;
    DhaadRepr::from_bytes(&bytes)
}

#[test]
fn mpa_option_errors() {
    // The prefix option's Length octet.
    assert_eq!(
        parse_altered(&PCAP_MPA, 9, 0),
        Err(Error::BadLength {
            what: "ND option",
            detail: "option type 3 has length 0".into()
        })
    );
    assert_eq!(
        parse_altered(&PCAP_MPA, 9, 5),
        Err(Error::OptionOverrun {
            opt_type: 3,
            container: "Mobile Prefix Advertisement"
        })
    );
}

#[test]
fn bad_checksum_is_refused() {
    let mut bytes = PCAP_HAAD_REPLY;
    bytes[23] ^= 0xff;
    assert!(matches!(
        DhaadRepr::parse_verified(&bytes, &ha(), &coa()),
        Err(Error::BadChecksum {
            what: "ICMPv6",
            found: 0xd247,
            ..
        })
    ));
}

#[test]
fn wrong_code_and_type_are_refused() {
    assert_eq!(
        parse_altered(&PCAP_HAAD_REQUEST, 1, 2),
        Err(Error::Invalid {
            field: "ICMPv6 code",
            value: 2
        })
    );
    assert_eq!(
        DhaadRepr::from_bytes(&[134, 0, 0, 0, 0, 0, 0, 0]),
        Err(Error::Unsupported {
            what: "ICMPv6 type for DHAAD/MPD",
            value: 134
        })
    );
}

#[test]
fn validation() {
    let req: DhaadRepr = HaadRequest::default().into();
    assert!(matches!(
        req.validate(&Ipv6Addr::UNSPECIFIED, &ha(),),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        req.validate(&coa(), &a("ff02::2")),
        Err(Error::Invalid { .. })
    ));
    let reply: DhaadRepr = HaadReply {
        home_agents: vec![ha(), a("ff02::1")],
        ..HaadReply::default()
    }
    .into();
    assert_eq!(
        reply.validate(&ha(), &coa()),
        Err(Error::Invalid {
            field: "DHAAD Reply home agent address (must be unicast)",
            value: 0xff02
        })
    );
}

#[test]
fn emit_refuses_reserved_bits_over_the_flags() {
    let req: DhaadRepr = HaadRequest {
        reserved: 0x8000,
        ..HaadRequest::default()
    }
    .into();
    assert!(matches!(req.to_bytes(), Err(Error::Unencodable { .. })));
    let mpa: DhaadRepr = MobilePrefixAdvert {
        reserved: 0x4000,
        ..MobilePrefixAdvert::default()
    }
    .into();
    assert!(matches!(mpa.to_bytes(), Err(Error::Unencodable { .. })));
    let mut small = [0u8; 23];
    let reply: DhaadRepr = HaadReply {
        home_agents: vec![ha()],
        ..HaadReply::default()
    }
    .into();
    assert!(matches!(
        reply.emit(&mut small),
        Err(Error::Truncated { .. })
    ));
}

// --- properties --------------------------------------------------------------

fn dhaad_repr() -> impl Strategy<Value = DhaadRepr> {
    prop_oneof![
        (any::<u16>(), any::<bool>(), 0u16..=0x7fff).prop_map(
            |(identifier, mobile_router, reserved)| {
                HaadRequest {
                    identifier,
                    mobile_router,
                    reserved,
                }
                .into()
            }
        ),
        (
            any::<u16>(),
            any::<bool>(),
            0u16..=0x7fff,
            vec(strategies::addr(), 0..4)
        )
            .prop_map(|(identifier, mobile_router, reserved, home_agents)| {
                HaadReply {
                    identifier,
                    mobile_router,
                    reserved,
                    home_agents,
                }
                .into()
            }),
        any::<(u16, u16)>().prop_map(|(identifier, reserved)| {
            MobilePrefixSolicit {
                identifier,
                reserved,
            }
            .into()
        }),
        (
            any::<u16>(),
            any::<(bool, bool)>(),
            0u16..=0x3fff,
            strategies::options()
        )
            .prop_map(|(identifier, (managed, other), reserved, options)| {
                MobilePrefixAdvert {
                    identifier,
                    managed,
                    other,
                    reserved,
                    options,
                }
                .into()
            }),
    ]
}

fn dhaad_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![144u8..=147, any::<u8>()],
        prop_oneof![4 => Just(0u8), 1 => any::<u8>()],
        vec(any::<u8>(), 0..100),
    )
        .prop_map(|(t, c, rest)| {
            let mut v = vec![t, c, 0, 0];
            v.extend(rest);
            v
        })
}

proptest! {
    #[test]
    fn repr_round_trips(repr in dhaad_repr(), src in strategies::addr(), dst in strategies::addr()) {
        let bytes = repr.to_bytes_with_checksum(&src, &dst).expect("emit");
        prop_assert_eq!(bytes.len(), repr.buffer_len());
        prop_assert_eq!(DhaadRepr::parse_verified(&bytes, &src, &dst).expect("parse"), repr);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in dhaad_like_bytes(), src in strategies::addr(), dst in strategies::addr()) {
        let _ = DhaadRepr::parse_verified(&bytes, &src, &dst);
        if let Ok(repr) = DhaadRepr::from_bytes(&bytes) {
            let _ = repr.validate(&src, &dst);
            let out = repr.to_bytes().expect("re-emit");
            // Byte-identical except the zeroed checksum and, for a request
            // or solicitation, ignored trailing bytes.
            let mut zeroed = bytes.clone();
            zeroed[2..4].fill(0);
            prop_assert_eq!(&zeroed[..out.len()], &out[..]);
            prop_assert_eq!(DhaadRepr::from_bytes(&out).expect("re-parse"), repr);
        }
    }
}
