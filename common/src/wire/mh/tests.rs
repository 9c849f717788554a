//! Interop fixtures from an independent implementation, and properties.

#![allow(clippy::unwrap_used)]

use std::net::Ipv6Addr;

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::wire::Error;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

use crate::wire::test_addrs::{cn, coa, ha, hoa};

/// One Mobility Header from the pcap: its bytes, the pseudo-header addresses
/// (HoA from the HAO for a BU, the RH2 address for a BA/BRR, else the IPv6
/// addresses), and the Repr it must parse into.
struct Fixture {
    frame: u32,
    hex: &'static str,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    repr: MhRepr,
}

fn fixtures() -> Vec<Fixture> {
    vec![
        // shared/interop/mip6.pcap frame 1 (scapy 2.8): home registration
        // BU from the CoA with a HAO; A+H, lifetime 100, PadN(0) + Alt-CoA.
        Fixture {
            frame: 1,
            hex: "3b0305006faf0001c00000640100031020010db8000200000000000000000100",
            src: hoa(),
            dst: ha(),
            repr: MhRepr::BindingUpdate(BindingUpdate {
                sequence: 1,
                flags: BuFlags::A | BuFlags::H,
                lifetime: 100,
                options: vec![MhOption::AltCareOfAddress(coa())],
            }),
        },
        // shared/interop/mip6.pcap frame 2 (scapy 2.8): BA with RH2 to the
        // HoA; status 0, K set (scapy's default), BRA of 50.
        Fixture {
            frame: 2,
            hex: "3b0106005ed900800001006402020032",
            src: ha(),
            dst: hoa(),
            repr: MhRepr::BindingAck(BindingAck {
                status: BaStatus::ACCEPTED,
                flags: BaFlags::K,
                sequence: 1,
                lifetime: 100,
                options: vec![MhOption::BindingRefreshAdvice {
                    refresh_interval: 50,
                }],
            }),
        },
        // shared/interop/mip6.pcap frame 3 (scapy 2.8): deregistration BU,
        // lifetime 0, PadN(2) to 16 octets.
        Fixture {
            frame: 3,
            hex: "3b010500a1ed0002c000000001020000",
            src: hoa(),
            dst: ha(),
            repr: MhRepr::BindingUpdate(BindingUpdate {
                sequence: 2,
                flags: BuFlags::A | BuFlags::H,
                lifetime: 0,
                options: vec![],
            }),
        },
        // shared/interop/mip6.pcap frame 4 (scapy 2.8): BA status 135
        // (sequence number out of window), K set.
        Fixture {
            frame: 4,
            hex: "3b010600d96887800007000001020000",
            src: ha(),
            dst: hoa(),
            repr: MhRepr::BindingAck(BindingAck {
                status: BaStatus::SEQUENCE_NUMBER_OUT_OF_WINDOW,
                flags: BaFlags::K,
                sequence: 7,
                lifetime: 0,
                options: vec![],
            }),
        },
        // shared/interop/mip6.pcap frame 5 (scapy 2.8): HoTI HoA -> CN.
        Fixture {
            frame: 5,
            hex: "3b01010022a800001111111111111111",
            src: hoa(),
            dst: cn(),
            repr: MhRepr::HomeTestInit(HomeTestInit {
                home_init_cookie: [0x11; 8],
                options: vec![],
            }),
        },
        // shared/interop/mip6.pcap frame 6 (scapy 2.8): CoTI CoA -> CN.
        Fixture {
            frame: 6,
            hex: "3b010200dd6200002222222222222222",
            src: coa(),
            dst: cn(),
            repr: MhRepr::CareOfTestInit(CareOfTestInit {
                care_of_init_cookie: [0x22; 8],
                options: vec![],
            }),
        },
        // shared/interop/mip6.pcap frame 7 (scapy 2.8): HoT CN -> HoA.
        Fixture {
            frame: 7,
            hex: "3b02030053cf000311111111111111113333333333333333",
            src: cn(),
            dst: hoa(),
            repr: MhRepr::HomeTest(HomeTest {
                home_nonce_index: 3,
                home_init_cookie: [0x11; 8],
                home_keygen_token: [0x33; 8],
                options: vec![],
            }),
        },
        // shared/interop/mip6.pcap frame 8 (scapy 2.8): CoT CN -> CoA.
        Fixture {
            frame: 8,
            hex: "3b020400ca44000422222222222222224444444444444444",
            src: cn(),
            dst: coa(),
            repr: MhRepr::CareOfTest(CareOfTest {
                care_of_nonce_index: 4,
                care_of_init_cookie: [0x22; 8],
                care_of_keygen_token: [0x44; 8],
                options: vec![],
            }),
        },
        // shared/interop/mip6.pcap frame 10 (scapy 2.8): Binding Error
        // status 1 for the HoA, CN -> CoA.
        Fixture {
            frame: 10,
            hex: "3b0207003128010020010db8000100000000000000000100",
            src: cn(),
            dst: coa(),
            repr: MhRepr::BindingError(BindingError {
                status: BeStatus::UNKNOWN_BINDING_FOR_HOME_ADDRESS_OPTION,
                home_address: hoa(),
                options: vec![],
            }),
        },
        // shared/interop/mip6.pcap frame 11 (scapy 2.8): BRR HA -> HoA (RH2).
        Fixture {
            frame: 11,
            hex: "3b00000067fb0000",
            src: ha(),
            dst: hoa(),
            repr: MhRepr::BindingRefreshRequest(BindingRefreshRequest::default()),
        },
    ]
}

#[test]
fn scapy_frames_parse_verify_and_re_emit_identically() {
    for f in fixtures() {
        let wire = hex(f.hex);
        let packet = MhPacket::new_checked(&wire[..]).unwrap();
        assert!(
            packet.verify_checksum(&f.src, &f.dst),
            "frame {}: checksum",
            f.frame
        );
        let repr = MhRepr::parse(&packet).unwrap();
        assert_eq!(repr, f.repr, "frame {}: repr", f.frame);
        assert_eq!(
            repr.to_bytes_with_checksum(&f.src, &f.dst).unwrap(),
            wire,
            "frame {}: re-emit",
            f.frame
        );
    }
}

#[test]
fn scapy_correspondent_bu_has_wrong_option_lengths() {
    // shared/interop/mip6.pcap frame 9 (scapy 2.8): correspondent BU with
    // Nonce Indices and Binding Authorization Data. scapy 2.8 writes Option
    // Length 16 for both (its default) over 4 and 12 octets of data, so the
    // Nonce Indices option claims 16 octets (RFC 6275 6.2.6: must be 4).
    // tshark flags the same. The checksum itself is right.
    let wire = hex("3b030500d9a300058000000a0410000300040510555555555555555555555555");
    let packet = MhPacket::new_checked(&wire[..]).unwrap();
    assert!(packet.verify_checksum(&hoa(), &cn()));
    assert!(matches!(
        MhRepr::parse(&packet),
        Err(Error::BadLength {
            what: "nonce indices option",
            ..
        })
    ));

    // With the lengths corrected, the layout is exactly ours: nonce
    // indices at 12 (2n), authorization data at 18 (8n+2), no padding.
    let mut fixed = wire.clone();
    fixed[13] = 4;
    fixed[19] = 12;
    let repr = MhRepr::BindingUpdate(BindingUpdate {
        sequence: 5,
        flags: BuFlags::A,
        lifetime: 10,
        options: vec![
            MhOption::NonceIndices {
                home_nonce_index: 3,
                care_of_nonce_index: 4,
            },
            MhOption::BindingAuthData {
                authenticator: vec![0x55; 12],
            },
        ],
    });
    assert_eq!(MhRepr::parse_bytes(&fixed).unwrap(), repr);
    let emitted = repr.to_bytes_with_checksum(&hoa(), &cn()).unwrap();
    assert_eq!(&emitted[..4], &fixed[..4]);
    assert_eq!(&emitted[6..], &fixed[6..]);
    assert!(verify_checksum(&emitted, &hoa(), &cn()));
}

#[test]
fn bad_checksum_capture_fails_verification() {
    // shared/interop/mip6_badcsum.pcap frame 1 (scapy 2.8): a BU with its
    // checksum overwritten by 0xdead.
    let wire = hex("3b010500dead0009c000006401020000");
    let packet = MhPacket::new_checked(&wire[..]).unwrap();
    assert_eq!(packet.checksum(), 0xdead);
    assert!(!packet.verify_checksum(&hoa(), &ha()));
    // The body is fine; only the checksum is wrong.
    let repr = MhRepr::parse(&packet).unwrap();
    let good = repr.to_bytes_with_checksum(&hoa(), &ha()).unwrap();
    assert_ne!(&good[4..6], &[0xde, 0xad]);
    assert!(verify_checksum(&good, &hoa(), &ha()));
    assert_eq!(&good[6..], &wire[6..]);
}

#[test]
fn checksum_depends_on_pseudo_header_choice() {
    // RFC 6275 6.1.1: a BU from the CoA with a HAO is checksummed over the
    // HoA. Over the CoA (what the kernel or a careless sender would use) it
    // fails.
    let wire = hex("3b0305006faf0001c00000640100031020010db8000200000000000000000100");
    assert!(verify_checksum(&wire, &hoa(), &ha()));
    assert!(!verify_checksum(&wire, &coa(), &ha()));
}

#[test]
fn fill_checksum_needs_a_whole_header() {
    let mut short = [59u8, 1, 5, 0, 0, 0, 0, 0];
    assert!(matches!(
        fill_checksum(&mut short, &hoa(), &ha()),
        Err(Error::Truncated { .. })
    ));
    assert!(!verify_checksum(&short, &hoa(), &ha()));
}

fn known_opt_type(t: u8) -> bool {
    matches!(t, 0..=5 | 8..=10)
}

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..40)
}

fn arb_option() -> impl Strategy<Value = MhOption> {
    prop_oneof![
        any::<u16>()
            .prop_map(|refresh_interval| MhOption::BindingRefreshAdvice { refresh_interval }),
        any::<[u8; 16]>().prop_map(|a| MhOption::AltCareOfAddress(Ipv6Addr::from(a))),
        (any::<u16>(), any::<u16>()).prop_map(|(h, c)| MhOption::NonceIndices {
            home_nonce_index: h,
            care_of_nonce_index: c,
        }),
        arb_bytes().prop_map(|authenticator| MhOption::BindingAuthData { authenticator }),
        (any::<u8>(), arb_bytes()).prop_map(|(subtype, identifier)| MhOption::MobileNodeId {
            subtype,
            identifier
        }),
        (any::<u8>(), any::<u32>(), arb_bytes()).prop_map(|(subtype, spi, auth_data)| {
            MhOption::MobilityAuth {
                subtype,
                spi,
                auth_data,
            }
        }),
        any::<u64>().prop_map(|timestamp| MhOption::ReplayProtection { timestamp }),
        (
            any::<u8>().prop_filter("unknown type", |t| !known_opt_type(*t)),
            arb_bytes()
        )
            .prop_map(|(opt_type, data)| MhOption::Unknown { opt_type, data }),
    ]
}

fn arb_repr() -> impl Strategy<Value = MhRepr> {
    let opts = || vec(arb_option(), 0..6);
    prop_oneof![
        opts().prop_map(|options| MhRepr::BindingRefreshRequest(BindingRefreshRequest { options })),
        (any::<[u8; 8]>(), opts()).prop_map(|(c, options)| MhRepr::HomeTestInit(HomeTestInit {
            home_init_cookie: c,
            options
        })),
        (any::<[u8; 8]>(), opts()).prop_map(|(c, options)| MhRepr::CareOfTestInit(
            CareOfTestInit {
                care_of_init_cookie: c,
                options
            }
        )),
        (any::<u16>(), any::<[u8; 8]>(), any::<[u8; 8]>(), opts()).prop_map(
            |(i, c, t, options)| MhRepr::HomeTest(HomeTest {
                home_nonce_index: i,
                home_init_cookie: c,
                home_keygen_token: t,
                options,
            })
        ),
        (any::<u16>(), any::<[u8; 8]>(), any::<[u8; 8]>(), opts()).prop_map(
            |(i, c, t, options)| MhRepr::CareOfTest(CareOfTest {
                care_of_nonce_index: i,
                care_of_init_cookie: c,
                care_of_keygen_token: t,
                options,
            })
        ),
        (any::<u16>(), any::<u16>(), any::<u16>(), opts()).prop_map(
            |(sequence, flags, lifetime, options)| MhRepr::BindingUpdate(BindingUpdate {
                sequence,
                flags: BuFlags(flags),
                lifetime,
                options,
            })
        ),
        (any::<u8>(), any::<u8>(), any::<u16>(), any::<u16>(), opts()).prop_map(
            |(status, flags, sequence, lifetime, options)| MhRepr::BindingAck(BindingAck {
                status: BaStatus(status),
                flags: BaFlags(flags),
                sequence,
                lifetime,
                options,
            })
        ),
        (any::<u8>(), any::<[u8; 16]>(), opts()).prop_map(|(status, a, options)| {
            MhRepr::BindingError(BindingError {
                status: BeStatus(status),
                home_address: Ipv6Addr::from(a),
                options,
            })
        }),
        (
            8u8..=255,
            (0usize..32).prop_flat_map(|n| vec(any::<u8>(), n * 8 + 2))
        )
            .prop_map(|(mh_type, data)| MhRepr::Unknown { mh_type, data }),
    ]
}

/// Bytes shaped like a Mobility Header (Payload Proto 59, a Header Len that
/// matches, a plausible type) so the fuzzing reaches the option parser.
fn arb_mh_like() -> impl Strategy<Value = Vec<u8>> {
    (0u8..10, 0usize..8, any::<bool>()).prop_flat_map(|(t, units, cut)| {
        vec(any::<u8>(), (units + 1) * 8).prop_map(move |mut b| {
            b[0] = 59;
            b[1] = units as u8;
            b[2] = t;
            if cut {
                b.pop();
            }
            b
        })
    })
}

proptest! {
    #[test]
    fn emit_then_parse_is_identity(repr in arb_repr()) {
        let bytes = repr.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), repr.buffer_len());
        prop_assert_eq!(bytes.len() % 8, 0);
        prop_assert_eq!(&MhRepr::parse_bytes(&bytes).unwrap(), &repr);
    }

    #[test]
    fn checksum_round_trip(repr in arb_repr(), s in any::<[u8; 16]>(), d in any::<[u8; 16]>()) {
        let (s, d) = (Ipv6Addr::from(s), Ipv6Addr::from(d));
        let bytes = repr.to_bytes_with_checksum(&s, &d).unwrap();
        prop_assert!(verify_checksum(&bytes, &s, &d));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..128)) {
        let _ = MhRepr::parse_bytes(&bytes);
        let _ = verify_checksum(&bytes, &Ipv6Addr::LOCALHOST, &Ipv6Addr::LOCALHOST);
        let _ = mn_ha_auth_input(&Ipv6Addr::LOCALHOST, &Ipv6Addr::LOCALHOST, &bytes);
        let p = MhPacket::new_unchecked(&bytes[..]);
        let _ = (p.payload_proto(), p.header_len(), p.mh_type(), p.checksum());
        let _ = (p.message_data(), p.mh_bytes());
    }

    #[test]
    fn mh_like_bytes_never_panic_and_reparse_stably(bytes in arb_mh_like()) {
        let _ = mn_ha_verify(b"k", &Ipv6Addr::LOCALHOST, &Ipv6Addr::LOCALHOST, &bytes);
        if let Ok(repr) = MhRepr::parse_bytes(&bytes) {
            // Whatever parses re-emits into something that parses the same.
            let again = repr.to_bytes().unwrap();
            prop_assert_eq!(MhRepr::parse_bytes(&again).unwrap(), repr);
        }
    }
}
