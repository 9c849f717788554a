use std::net::Ipv6Addr;

use proptest::prelude::*;

use super::fixtures::{BA_HOME, BRR, BU_CN, BU_HOME, MPA, MPS};
use super::*;
use crate::wire::Error;
use crate::wire::checksum::{self, proto};

const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 5);

/// A Binding Update as RFC 6275 11.7.1 sends it: source the care-of
/// address, a Destination Options header holding the Home Address option
/// (6.3: Option Type 201, Option Length 16, alignment 8n+6, hence PadN of
/// 4 octets in front), then the Mobility Header (8 dummy octets here).
const RFC_BU_WITH_HAO: [u8; 72] = [
    0x60, 0x00, 0x00, 0x00, // version 6, traffic class 0, flow label 0
    0x00, 0x20, 0x3c, 0x40, // payload length 32, next header 60, hop limit 64
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x02, 0x00, 0x00, // source: care-of address
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, //
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // destination: home agent
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
    0x87, 0x02, // next header 135 (MH), hdr ext len 2 (24 octets)
    0x01, 0x02, 0x00, 0x00, // PadN, 2 octets of padding
    0xc9, 0x10, // Home Address option at offset 6 = 8n+6, length 16
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // home address
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, //
    0x3b, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, // upper layer (dummy)
];

/// A Binding Acknowledgement as RFC 6275 9.5.4/6.4 sends it to a mobile
/// node away from home: destination the care-of address, a type 2 routing
/// header (hdr ext len 2, routing type 2, segments left 1, reserved 0)
/// holding the home address, then the Mobility Header (8 dummy octets).
const RFC_BA_WITH_RH2: [u8; 72] = [
    0x60, 0x00, 0x00, 0x00, // version 6, traffic class 0, flow label 0
    0x00, 0x20, 0x2b, 0x40, // payload length 32, next header 43, hop limit 64
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // source: home agent
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x02, 0x00, 0x00, // destination: care-of address
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, //
    0x87, 0x02, 0x02, 0x01, // next header 135, hdr ext len 2, type 2, segments left 1
    0x00, 0x00, 0x00, 0x00, // reserved
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // home address
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, //
    0x3b, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, // upper layer (dummy)
];

fn parse(bytes: &[u8]) -> ParsedIpv6<'_> {
    parse_ipv6(bytes).expect("well-formed packet")
}

/// An IPv6 packet CoA -> HA whose payload is `rest`, announced by `first`.
fn packet(first: u8, rest: &[u8]) -> Vec<u8> {
    let header = FixedHeader {
        traffic_class: 0,
        flow_label: 0,
        payload_len: u16::try_from(rest.len()).expect("small"),
        next_header: first,
        hop_limit: 64,
        src: COA,
        dst: HA,
    };
    let mut out = header.to_bytes().expect("encodable").to_vec();
    out.extend_from_slice(rest);
    out
}

fn hao_dst_opts(next: u8) -> Vec<u8> {
    hao_destination_options(next, HOA).to_vec()
}

fn rh2(next: u8) -> Vec<u8> {
    Type2RoutingHeaderRepr::new(next, HOA)
        .to_bytes()
        .expect("encodable")
        .to_vec()
}

/// An 8-octet Destination Options header with one PadN.
fn pad_dst_opts(next: u8) -> Vec<u8> {
    vec![next, 0, 1, 4, 0, 0, 0, 0]
}

const MH8: [u8; 8] = [0x3b, 0, 0, 0, 0, 0, 0, 0];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn rfc_bu_with_hao_layout() {
    let mut repr = Ipv6Repr::new(COA, HA, proto::MOBILITY);
    repr.home_address_option = Some(HOA);
    let built = repr.build(&RFC_BU_WITH_HAO[64..]).expect("encodable");
    assert_eq!(built.bytes, RFC_BU_WITH_HAO);
    assert_eq!(built.upper_offset, 64);
    let p = parse(&RFC_BU_WITH_HAO);
    assert_eq!(Ipv6Repr::parse(&p), Ok(repr));
    assert_eq!(p.upper(), &RFC_BU_WITH_HAO[64..]);
    // The option sits at 8n+6 from the start of its header.
    let dst_opts = p.ext_headers()[0];
    let hao = p
        .options(&dst_opts)
        .expect("options header")
        .map(|o| o.expect("valid"))
        .find(|o| o.opt_type == hao::OPTION_TYPE)
        .expect("HAO present");
    assert_eq!(hao.offset % 8, hao::ALIGN_OFFSET);
}

#[test]
fn rfc_ba_with_rh2_layout() {
    let mut repr = Ipv6Repr::new(HA, COA, proto::MOBILITY);
    repr.routing_home_address = Some(HOA);
    let built = repr.build(&RFC_BA_WITH_RH2[64..]).expect("encodable");
    assert_eq!(built.bytes, RFC_BA_WITH_RH2);
    let p = parse(&RFC_BA_WITH_RH2);
    assert_eq!(Ipv6Repr::parse(&p), Ok(repr));
    assert_eq!(p.checksum_addresses(), (HA, HOA));
}

#[test]
fn scapy_frames_with_hao() {
    for (frame, dst, upper) in [
        (&BU_HOME[..], HA, proto::MOBILITY),
        (&BU_CN[..], CN, proto::MOBILITY),
        (&MPS[..], HA, proto::ICMPV6),
    ] {
        let p = parse(frame);
        assert_eq!(p.header().src, COA);
        assert_eq!(p.home_address(), Some(HOA));
        assert_eq!(p.routing_home_address(), None);
        assert_eq!(
            p.ext_headers(),
            &[ExtHeader {
                kind: ExtHeaderKind::DestinationOptions,
                offset: 40,
                len: 24
            }]
        );
        assert_eq!((p.upper_protocol(), p.upper_offset()), (upper, 64));
        assert_eq!(p.upper(), &frame[64..]);
        assert_eq!(p.checksum_addresses(), (HOA, dst));
        assert_eq!(p.unrecognized_option(), None);
        // The independent proof: scapy's checksums verify over our choice
        // of pseudo-header and not over the addresses in the IPv6 header.
        let (src, dst) = p.checksum_addresses();
        assert!(checksum::verify(&src, &dst, upper, p.upper()));
        assert!(!checksum::verify(&COA, &dst, upper, p.upper()));
        // Rebuilt from the repr, every octet comes back.
        let repr = Ipv6Repr::parse(&p).expect("representable");
        assert_eq!(repr.build(p.upper()).expect("encodable").bytes, frame);
        assert_eq!(hao_destination_options(upper, HOA), frame[40..64]);
    }
}

#[test]
fn scapy_frames_with_rh2() {
    for (frame, upper) in [
        (&BA_HOME[..], proto::MOBILITY),
        (&BRR[..], proto::MOBILITY),
        (&MPA[..], proto::ICMPV6),
    ] {
        let p = parse(frame);
        assert_eq!(p.header().dst, COA);
        assert_eq!(p.routing_home_address(), Some(HOA));
        assert_eq!(p.home_address(), None);
        assert_eq!(
            p.ext_headers(),
            &[ExtHeader {
                kind: ExtHeaderKind::Routing {
                    routing_type: 2,
                    segments_left: 1
                },
                offset: 40,
                len: 24
            }]
        );
        assert_eq!((p.upper_protocol(), p.upper_offset()), (upper, 64));
        assert_eq!(p.final_destination(), HOA);
        assert_eq!(p.checksum_addresses(), (HA, HOA));
        assert!(checksum::verify(&HA, &HOA, upper, p.upper()));
        assert!(!checksum::verify(&HA, &COA, upper, p.upper()));
        let repr = Ipv6Repr::parse(&p).expect("representable");
        assert_eq!(repr.build(p.upper()).expect("encodable").bytes, frame);
    }
}

#[test]
fn build_with_checksum_reproduces_scapy() {
    for (frame, field) in [
        (&BU_HOME[..], 4),
        (&BA_HOME[..], 4),
        (&MPS[..], 2),
        (&MPA[..], 2),
    ] {
        let p = parse(frame);
        let repr = Ipv6Repr::parse(&p).expect("representable");
        let mut payload = p.upper().to_vec();
        payload[field] ^= 0x5a;
        let built = repr
            .build_with_checksum(&payload, field)
            .expect("encodable");
        assert_eq!(built.bytes, frame);
    }
}

#[test]
fn raw_socket_payload_parses_like_the_packet() {
    // A protocol-60 raw socket hands over what follows the fixed header.
    let whole = parse(&BU_HOME);
    let mut header = *whole.header();
    header.payload_len = 0;
    let p = parse_payload(header, &BU_HOME[40..]).expect("valid");
    assert_eq!(p.home_address(), Some(HOA));
    assert_eq!(p.upper_offset(), 24);
    assert_eq!(p.upper(), whole.upper());
    assert_eq!(p.header().payload_len, 56);
    assert_eq!(p.checksum_addresses(), whole.checksum_addresses());
    assert_eq!(Ipv6Repr::parse(&p), Ipv6Repr::parse(&whole));
}

#[test]
fn trailing_octets_are_not_payload() {
    let mut padded = BA_HOME.to_vec();
    padded.extend_from_slice(&[0; 10]);
    let p = parse(&padded);
    assert_eq!(p.packet(), &BA_HOME[..]);
    assert_eq!(p.upper(), &BA_HOME[64..]);
}

#[test]
fn every_truncation_is_an_error() {
    for frame in [
        &BU_HOME[..],
        &BA_HOME[..],
        &BU_CN[..],
        &BRR[..],
        &MPS[..],
        &MPA[..],
        &RFC_BU_WITH_HAO[..],
    ] {
        for len in 0..frame.len() {
            assert!(
                matches!(parse_ipv6(&frame[..len]), Err(Error::Truncated { .. })),
                "length {len}"
            );
        }
    }
}

#[test]
fn header_length_past_the_payload() {
    // Payload Length covers only 16 octets of a 24-octet header.
    let mut b = BU_HOME.to_vec();
    b[5] = 16;
    assert_eq!(
        parse_ipv6(&b).err(),
        Some(Error::Truncated {
            what: "destination options header",
            need: 24,
            have: 16
        })
    );
    // Hdr Ext Len says 40 octets, the payload holds 24 + 32.
    let mut b = packet(proto::DST_OPTS, &cat(&[&hao_dst_opts(proto::NO_NEXT)]));
    b[41] = 4;
    assert!(matches!(
        parse_ipv6(&b),
        Err(Error::Truncated { need: 40, .. })
    ));
}

#[test]
fn not_ipv6() {
    let mut b = BU_HOME;
    b[0] = 0x45;
    assert_eq!(
        parse_ipv6(&b).err(),
        Some(Error::Invalid {
            field: "IP version",
            value: 4
        })
    );
}

#[test]
fn option_overrunning_its_header() {
    // PadN claiming 7 octets where 6 remain.
    let b = packet(proto::DST_OPTS, &[proto::NO_NEXT, 0, 1, 7, 0, 0, 0, 0]);
    assert_eq!(
        parse_ipv6(&b).err(),
        Some(Error::OptionOverrun {
            opt_type: 1,
            container: "destination options header"
        })
    );
    // An option type in the last octet, its length beyond the header.
    let b = packet(proto::HOP_BY_HOP, &[proto::NO_NEXT, 0, 0, 0, 0, 0, 0, 0x3e]);
    assert!(matches!(
        parse_ipv6(&b),
        Err(Error::OptionOverrun { opt_type: 0x3e, .. })
    ));
}

#[test]
fn home_address_option_of_wrong_length() {
    // Option Length 14 instead of 16, the header still consistent.
    let mut d = hao_dst_opts(proto::MOBILITY);
    d[7] = 14;
    d[22] = 1; // the freed 2 octets become a PadN with no data
    d[23] = 0;
    let b = packet(proto::DST_OPTS, &cat(&[&d, &MH8]));
    assert!(matches!(
        parse_ipv6(&b),
        Err(Error::BadLength {
            what: "home address option",
            ..
        })
    ));
}

#[test]
fn second_home_address_option() {
    // Two in one header.
    let mut d = vec![proto::MOBILITY, 5, 1, 2, 0, 0];
    d.extend_from_slice(&HomeAddressOptionRepr { home_address: HOA }.to_bytes());
    d.extend_from_slice(&[1, 4, 0, 0, 0, 0]);
    d.extend_from_slice(&HomeAddressOptionRepr { home_address: COA }.to_bytes());
    assert_eq!(d.len(), 48);
    let b = packet(proto::DST_OPTS, &cat(&[&d, &MH8]));
    assert_eq!(
        parse_ipv6(&b).err(),
        Some(Error::Invalid {
            field: "second home address option",
            value: 40 + 30
        })
    );
    // One in each of two headers.
    let b = packet(
        proto::DST_OPTS,
        &cat(&[
            &hao_dst_opts(proto::DST_OPTS),
            &hao_dst_opts(proto::MOBILITY),
            &MH8,
        ]),
    );
    assert!(matches!(
        parse_ipv6(&b),
        Err(Error::Invalid {
            field: "second home address option",
            ..
        })
    ));
}

#[test]
fn home_address_option_placement() {
    // RFC 6275 6.3: after the routing header...
    let b = packet(
        proto::DST_OPTS,
        &cat(&[&hao_dst_opts(proto::ROUTING), &rh2(proto::MOBILITY), &MH8]),
    );
    assert_eq!(
        parse_ipv6(&b).err(),
        Some(Error::Invalid {
            field: "home address option before routing header",
            value: 46
        })
    );
    // ...and before the Fragment header.
    let frag = [proto::DST_OPTS, 0, 0, 0, 0, 0, 0, 1];
    let b = packet(
        proto::FRAGMENT,
        &cat(&[&frag, &hao_dst_opts(proto::MOBILITY), &MH8]),
    );
    assert!(matches!(
        parse_ipv6(&b),
        Err(Error::Invalid {
            field: "home address option after fragment or authentication header",
            ..
        })
    ));
    // Routing header, then the option: the order the builder uses.
    let b = packet(
        proto::ROUTING,
        &cat(&[&rh2(proto::DST_OPTS), &hao_dst_opts(proto::MOBILITY), &MH8]),
    );
    let p = parse(&b);
    assert_eq!(p.checksum_addresses(), (HOA, HOA));
    assert_eq!(p.upper_offset(), 88);
    // A Destination Options header before the routing header is fine
    // without a Home Address option in it.
    let b = packet(
        proto::DST_OPTS,
        &cat(&[&pad_dst_opts(proto::ROUTING), &rh2(proto::MOBILITY), &MH8]),
    );
    assert_eq!(parse(&b).routing_home_address(), Some(HOA));
}

#[test]
fn second_type_2_routing_header() {
    let b = packet(
        proto::ROUTING,
        &cat(&[&rh2(proto::ROUTING), &rh2(proto::MOBILITY), &MH8]),
    );
    assert_eq!(
        parse_ipv6(&b).err(),
        Some(Error::Invalid {
            field: "second type 2 routing header",
            value: 64
        })
    );
}

#[test]
fn malformed_type_2_routing_header() {
    let mut r = rh2(proto::MOBILITY);
    r[3] = 2;
    let b = packet(proto::ROUTING, &cat(&[&r, &MH8]));
    assert!(matches!(
        parse_ipv6(&b),
        Err(Error::Invalid {
            field: "type 2 routing header segments left",
            value: 2
        })
    ));
    // Hdr Ext Len 3: 32 octets, consistent for the walker, wrong for type 2.
    let mut r = rh2(proto::MOBILITY);
    r[1] = 3;
    r.extend_from_slice(&[0; 8]);
    let b = packet(proto::ROUTING, &cat(&[&r, &MH8]));
    assert!(matches!(parse_ipv6(&b), Err(Error::BadLength { .. })));
    // Segments Left 0 is a processed header: valid, no final destination.
    let mut r = rh2(proto::MOBILITY);
    r[3] = 0;
    let b = packet(proto::ROUTING, &cat(&[&r, &MH8]));
    let p = parse(&b);
    assert_eq!(p.routing_home_address(), Some(HOA));
    assert_eq!(p.checksum_addresses(), (COA, HA));
    assert!(matches!(Ipv6Repr::parse(&p), Err(Error::Invalid { .. })));
}

#[test]
fn hop_by_hop_only_first() {
    let hbh = [proto::MOBILITY, 0, 1, 4, 0, 0, 0, 0];
    let b = packet(proto::HOP_BY_HOP, &cat(&[&hbh, &MH8]));
    assert_eq!(parse(&b).upper_offset(), 48);
    let b = packet(
        proto::DST_OPTS,
        &cat(&[&pad_dst_opts(proto::HOP_BY_HOP), &hbh, &MH8]),
    );
    assert_eq!(
        parse_ipv6(&b).err(),
        Some(Error::Invalid {
            field: "hop-by-hop options header position",
            value: 48
        })
    );
}

#[test]
fn unknown_options_stay_visible() {
    // Option 0x1e (skip), then 0x8a (discard and report), in a Destination
    // Options header before the Home Address option's header.
    let d = [proto::ROUTING, 0, 0x1e, 0, 0x8a, 1, 0, 0];
    let b = packet(proto::DST_OPTS, &cat(&[&d, &rh2(proto::MOBILITY), &MH8]));
    let p = parse(&b);
    assert_eq!(
        p.unrecognized_option(),
        Some(UnrecognizedOption {
            container: proto::DST_OPTS,
            opt_type: 0x8a,
            offset: 44,
            action: UnrecognizedAction::DiscardAndReport
        })
    );
    let types: Vec<u8> = p
        .options(&p.ext_headers()[0])
        .expect("options header")
        .map(|o| o.expect("valid").opt_type)
        .collect();
    assert_eq!(types, [0x1e, 0x8a, 0]);
    assert!(p.options(&p.ext_headers()[1]).is_none());

    // Type 201 means nothing in a Hop-by-Hop header: an unknown option.
    let mut h = hao_dst_opts(proto::MOBILITY);
    h[0] = proto::MOBILITY;
    let b = packet(proto::HOP_BY_HOP, &cat(&[&h, &MH8]));
    let p = parse(&b);
    assert_eq!(p.home_address(), None);
    assert_eq!(
        p.unrecognized_option()
            .map(|u| (u.container, u.offset, u.action)),
        Some((
            proto::HOP_BY_HOP,
            46,
            UnrecognizedAction::DiscardAndReportUnicast
        ))
    );
}

#[test]
fn fragments() {
    // A later fragment: what follows is data, not headers.
    let frag = [proto::DST_OPTS, 0, 0x00, 0x08, 0, 0, 0, 9];
    let b = packet(proto::FRAGMENT, &cat(&[&frag, &[0xff; 16]]));
    let p = parse(&b);
    assert!(p.is_fragment());
    assert_eq!(
        (p.upper_protocol(), p.upper_offset()),
        (proto::DST_OPTS, 48)
    );
    assert_eq!(
        p.ext_headers()[0].kind,
        ExtHeaderKind::Fragment {
            offset: 1,
            more_fragments: false,
            identification: 9
        }
    );
    assert!(Ipv6Repr::parse(&p).is_err());
    // An atomic fragment (offset 0, M 0) is walked through.
    let frag = [proto::MOBILITY, 0, 0, 0, 0, 0, 0, 9];
    let b = packet(proto::FRAGMENT, &cat(&[&frag, &MH8]));
    let p = parse(&b);
    assert!(!p.is_fragment());
    assert_eq!(
        (p.upper_protocol(), p.upper_offset()),
        (proto::MOBILITY, 48)
    );
}

#[test]
fn other_routing_types() {
    // Type 0, two addresses, both still to visit: the last is final.
    let mut r0 = vec![proto::MOBILITY, 4, 0, 2, 0, 0, 0, 0];
    r0.extend_from_slice(&COA.octets());
    r0.extend_from_slice(&CN.octets());
    let b = packet(proto::ROUTING, &cat(&[&r0, &MH8]));
    let p = parse(&b);
    assert_eq!(p.checksum_addresses(), (COA, CN));
    assert_eq!(p.routing_home_address(), None);
    r0[3] = 3;
    let b = packet(proto::ROUTING, &cat(&[&r0, &MH8]));
    assert!(matches!(parse_ipv6(&b), Err(Error::Invalid { .. })));
    // Segment routing header: Segment List[0] is the final segment.
    let mut srh = vec![proto::MOBILITY, 4, 4, 1, 1, 0, 0, 0];
    srh.extend_from_slice(&CN.octets());
    srh.extend_from_slice(&HA.octets());
    let b = packet(proto::ROUTING, &cat(&[&srh, &MH8]));
    assert_eq!(parse(&b).final_destination(), CN);
    // An unknown type is skipped when done, refused otherwise.
    let mut r3 = vec![proto::MOBILITY, 0, 3, 0, 0, 0, 0, 0];
    let b = packet(proto::ROUTING, &cat(&[&r3, &MH8]));
    assert_eq!(parse(&b).final_destination(), HA);
    r3[3] = 1;
    let b = packet(proto::ROUTING, &cat(&[&r3, &MH8]));
    assert_eq!(
        parse_ipv6(&b).err(),
        Some(Error::Unsupported {
            what: "routing type with segments left",
            value: 3
        })
    );
}

#[test]
fn authentication_header_is_walked() {
    // Payload Len 4: (4 + 2) * 4 = 24 octets.
    let mut ah = vec![proto::MOBILITY, 4, 0, 0];
    ah.extend_from_slice(&[0; 20]);
    let b = packet(AUTHENTICATION, &cat(&[&ah, &MH8]));
    let p = parse(&b);
    assert_eq!(p.ext_headers()[0].kind, ExtHeaderKind::Authentication);
    assert_eq!(
        (p.upper_protocol(), p.upper_offset()),
        (proto::MOBILITY, 64)
    );
    ah[1] = 0;
    let b = packet(AUTHENTICATION, &cat(&[&ah, &MH8]));
    assert!(matches!(parse_ipv6(&b), Err(Error::BadLength { .. })));
}

#[test]
fn chain_length_is_bounded() {
    let mut rest = Vec::new();
    for _ in 0..MAX_EXT_HEADERS {
        rest.extend_from_slice(&pad_dst_opts(proto::DST_OPTS));
    }
    rest.extend_from_slice(&pad_dst_opts(proto::NO_NEXT));
    let b = packet(proto::DST_OPTS, &rest);
    assert!(matches!(parse_ipv6(&b), Err(Error::Unsupported { .. })));
    let b = packet(proto::DST_OPTS, &rest[8..]);
    assert_eq!(parse(&b).ext_headers().len(), MAX_EXT_HEADERS);
}

#[test]
fn repr_refuses_what_it_cannot_emit() {
    let hbh = [proto::MOBILITY, 0, 1, 4, 0, 0, 0, 0];
    let b = packet(proto::HOP_BY_HOP, &cat(&[&hbh, &MH8]));
    assert_eq!(
        Ipv6Repr::parse(&parse(&b)),
        Err(Error::Unsupported {
            what: "extension header for Ipv6Repr",
            value: 0
        })
    );
    let b = packet(
        proto::DST_OPTS,
        &cat(&[&pad_dst_opts(proto::MOBILITY), &MH8]),
    );
    assert!(Ipv6Repr::parse(&parse(&b)).is_err());

    let mut repr = Ipv6Repr::new(COA, HA, proto::MOBILITY);
    repr.flow_label = 0x10_0000;
    assert!(matches!(repr.build(&MH8), Err(Error::Unencodable { .. })));
    repr.flow_label = 0xf_ffff;
    assert!(repr.build(&MH8).is_ok());
    repr.upper_protocol = proto::DST_OPTS;
    assert!(matches!(repr.build(&MH8), Err(Error::Unencodable { .. })));
    repr.upper_protocol = proto::MOBILITY;
    repr.home_address_option = Some(HOA);
    assert!(repr.build(&vec![0; 65535 - 24]).is_ok());
    assert!(matches!(
        repr.build(&vec![0; 65535 - 23]),
        Err(Error::Unencodable { .. })
    ));
    let mut small = [0u8; 71];
    assert!(matches!(
        repr.emit(&MH8, &mut small),
        Err(Error::Truncated { .. })
    ));
    assert!(repr.build_with_checksum(&MH8, 7).is_err());
    assert!(repr.build_with_checksum(&MH8, usize::MAX).is_err());
}

#[test]
fn emit_headers_in_place() {
    // A caller with the upper layer already at offset 64 fills the front.
    let mut buf = [0u8; 72];
    buf[64..].copy_from_slice(&RFC_BA_WITH_RH2[64..]);
    let mut repr = Ipv6Repr::new(HA, COA, proto::MOBILITY);
    repr.routing_home_address = Some(HOA);
    assert_eq!(repr.emit_headers(8, &mut buf), Ok(64));
    assert_eq!(buf, RFC_BA_WITH_RH2);
}

fn addr() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

fn repr() -> impl Strategy<Value = Ipv6Repr> {
    (
        (addr(), addr(), any::<u8>(), any::<u8>(), 0u32..=0xf_ffff),
        proptest::option::of(addr()),
        proptest::option::of(addr()),
        any::<u8>().prop_filter("an upper layer", |p| !is_extension_header(*p)),
    )
        .prop_map(
            |((src, dst, hop_limit, traffic_class, flow_label), rh, hao, upper)| Ipv6Repr {
                src,
                dst,
                hop_limit,
                traffic_class,
                flow_label,
                routing_home_address: rh,
                home_address_option: hao,
                upper_protocol: upper,
            },
        )
}

/// Calls every accessor, so a panic anywhere in them would show.
fn exercise(p: &ParsedIpv6<'_>) {
    for h in p.ext_headers() {
        let _ = p.ext_header_bytes(h);
        if let Some(opts) = p.options(h) {
            for o in opts {
                let _ = o.map(|o| (o.wire_len(), o.action()));
            }
        }
    }
    let _ = (p.checksum_addresses(), p.upper(), p.unrecognized_option());
    let _ = Ipv6Repr::parse(p);
}

proptest! {
    #[test]
    fn build_then_parse_round_trips(
        repr in repr(),
        payload in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let built = repr.build(&payload).expect("encodable");
        let p = parse_ipv6(&built.bytes).expect("parses");
        prop_assert_eq!(Ipv6Repr::parse(&p), Ok(repr));
        prop_assert_eq!(p.upper(), &payload[..]);
        prop_assert_eq!(p.upper_offset(), built.upper_offset);
        prop_assert_eq!(p.checksum_addresses(), repr.checksum_addresses());
        let again = Ipv6Repr::parse(&p).expect("representable").build(p.upper());
        prop_assert_eq!(again.expect("encodable").bytes, built.bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        if let Ok(p) = parse_ipv6(&bytes) {
            exercise(&p);
        }
        let header = FixedHeader::parse(&BU_HOME).expect("valid");
        for first in [0, 43, 44, 51, 60] {
            if let Ok(p) = parse_payload(FixedHeader { next_header: first, ..header }, &bytes) {
                exercise(&p);
            }
        }
        let _ = HomeAddressOption::new_checked(&bytes[..]);
        let _ = Type2RoutingHeader::new_checked(&bytes[..]);
        for o in TlvOptions::new(&bytes, "fuzz") {
            let _ = o;
        }
    }

    #[test]
    fn mutated_reference_packets_never_panic(
        which in 0usize..6,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let frames: [&[u8]; 6] = [&BU_HOME, &BA_HOME, &BU_CN, &BRR, &MPS, &MPA];
        let mut b = frames[which].to_vec();
        for (at, v) in flips {
            let i = at % b.len();
            b[i] = v;
        }
        b.truncate(cut % (b.len() + 1));
        if let Ok(p) = parse_ipv6(&b) {
            exercise(&p);
        }
    }
}
