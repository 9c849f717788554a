use std::net::Ipv6Addr;

use proptest::prelude::*;

use super::*;
use crate::wire::Error;
use crate::wire::checksum::{self, proto};

const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 5);

const HA_TO_COA: TunnelEndpoints = TunnelEndpoints { src: HA, dst: COA };
const COA_TO_HA: TunnelEndpoints = TunnelEndpoints { src: COA, dst: HA };

/// RFC 2473 3.1: the tunnel header (an IPv6 header, Next Header 41, Payload
/// Length the whole original packet, the entry point's own hop limit) put
/// in front of the unchanged original packet. Home agent to care-of address
/// (RFC 6275 10.4.2), carrying an echo reply from a correspondent to the
/// home address; the inner traffic class 0xb8 (EF) is copied (6.5).
const RFC_TUNNEL_PACKET: [u8; 88] = [
    0x6b, 0x80, 0x00, 0x00, // version 6, traffic class 0xb8, flow label 0
    0x00, 0x30, 0x29, 0x40, // payload length 48, next header 41, hop limit 64
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // source: home agent
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x02, 0x00, 0x00, // destination: care-of address
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, //
    // original packet
    0x6b, 0x80, 0x00, 0x00, // version 6, traffic class 0xb8, flow label 0
    0x00, 0x08, 0x3a, 0x05, // payload length 8, next header 58, hop limit 5
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x03, 0x00, 0x00, // source: correspondent
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, //
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // destination: home address
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, //
    0x81, 0x00, 0x22, 0x40, 0x00, 0x01, 0x00, 0x01, // echo reply, id 1, seq 1
];

/// shared/interop/mip6.pcap frame 16 (scapy 2.8), Ethernet header stripped:
/// reverse tunnel CoA -> HA carrying an echo request HoA -> CN.
const SCAPY_IP6IP6: [u8; 88] = [
    0x60, 0x00, 0x00, 0x00, 0x00, 0x30, 0x29, 0x40, // outer: plen 48, nh 41, hlim 64
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x02, 0x00, 0x00, // src CoA
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, //
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // dst HA
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, //
    0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x3a, 0x40, // inner: plen 8, nh 58, hlim 64
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // src HoA
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, //
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x03, 0x00, 0x00, // dst CN
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, //
    0x80, 0x00, 0x23, 0x40, 0x00, 0x01, 0x00, 0x01, // echo request, id 1, seq 1
];

#[test]
fn rfc_layout() {
    let inner = &RFC_TUNNEL_PACKET[40..];
    let out = encapsulate_to_vec(inner, &HA_TO_COA, &EncapParams::default()).expect("valid");
    assert_eq!(out, RFC_TUNNEL_PACKET);
    let d = decapsulate(&RFC_TUNNEL_PACKET).expect("valid");
    assert_eq!((d.outer_src, d.outer_dst), (HA, COA));
    assert_eq!((d.inner_src, d.inner_dst), (CN, HOA));
    assert_eq!(d.inner, inner);
    assert!(checksum::verify(&CN, &HOA, proto::ICMPV6, &inner[40..]));
}

#[test]
fn scapy_frame() {
    let d = decapsulate(&SCAPY_IP6IP6).expect("valid");
    assert_eq!((d.outer_src, d.outer_dst), (COA, HA));
    assert_eq!((d.inner_src, d.inner_dst), (HOA, CN));
    assert_eq!(d.inner, &SCAPY_IP6IP6[40..]);
    assert!(checksum::verify(&HOA, &CN, proto::ICMPV6, &d.inner[40..]));
    let i = parse_inner(d.inner).expect("valid");
    assert_eq!(
        (i.src, i.dst, i.hop_limit, i.next_header),
        (HOA, CN, 64, proto::ICMPV6)
    );
    let out = encapsulate_to_vec(d.inner, &COA_TO_HA, &EncapParams::default()).expect("valid");
    assert_eq!(out, SCAPY_IP6IP6);
}

#[test]
fn outer_fields_come_from_the_tunnel() {
    let inner = &RFC_TUNNEL_PACKET[40..];
    let params = EncapParams {
        hop_limit: 200,
        traffic_class: TrafficClass::Fixed(0x2a),
        flow_label: 0xa_bcde,
    };
    let out = encapsulate_to_vec(inner, &HA_TO_COA, &params).expect("valid");
    let h = crate::wire::exthdr::FixedHeader::parse(&out).expect("valid");
    assert_eq!(h.hop_limit, 200);
    assert_eq!(h.traffic_class, 0x2a);
    assert_eq!(h.flow_label, 0xa_bcde);
    assert_eq!(h.payload_len, 48);
    assert_eq!(h.next_header, proto::IPV6);
    // The inner packet, its hop limit of 5 included, travels unchanged.
    assert_eq!(&out[40..], inner);
}

#[test]
fn in_place_and_header_only_agree() {
    let mut buf = [0u8; 88];
    buf[40..].copy_from_slice(&RFC_TUNNEL_PACKET[40..]);
    let len = encapsulate_in_place(&mut buf, &HA_TO_COA, &EncapParams::default());
    assert_eq!(len, Ok(88));
    assert_eq!(buf, RFC_TUNNEL_PACKET);

    let mut head = [0u8; OUTER_HEADER_LEN];
    write_outer_header(
        &mut head,
        &HA_TO_COA,
        &EncapParams::default(),
        &RFC_TUNNEL_PACKET[40..],
    )
    .expect("valid");
    assert_eq!(head, RFC_TUNNEL_PACKET[..40]);

    let mut out = [0u8; 100];
    let n = encapsulate(
        &RFC_TUNNEL_PACKET[40..],
        &HA_TO_COA,
        &EncapParams::default(),
        &mut out,
    );
    assert_eq!(n, Ok(88));
    assert_eq!(out[..88], RFC_TUNNEL_PACKET);
}

#[test]
fn encapsulation_refusals() {
    let ep = HA_TO_COA;
    let p = EncapParams::default();
    let inner = &RFC_TUNNEL_PACKET[40..];
    let mut out = [0u8; 200];

    // Not IPv6, too short, length disagreeing with its own header.
    let mut v4 = inner.to_vec();
    v4[0] = 0x45;
    assert!(matches!(
        encapsulate(&v4, &ep, &p, &mut out),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        encapsulate(&inner[..39], &ep, &p, &mut out),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        encapsulate(&inner[..47], &ep, &p, &mut out),
        Err(Error::BadLength { .. })
    ));
    let mut longer = inner.to_vec();
    longer.push(0);
    assert!(matches!(
        encapsulate(&longer, &ep, &p, &mut out),
        Err(Error::BadLength { .. })
    ));
    // The largest inner packet fits an outer Payload Length; one more does not.
    let mut big = vec![0u8; 65535];
    big[0] = 0x60;
    big[4..6].copy_from_slice(&(65535u16 - 40).to_be_bytes());
    assert_eq!(
        encapsulate_to_vec(&big, &ep, &p).map(|v| v.len()),
        Ok(65575)
    );
    let mut too_big = vec![0u8; 65536];
    too_big[0] = 0x60;
    too_big[4..6].copy_from_slice(&(65536u32 - 40).to_be_bytes()[2..]);
    assert!(matches!(
        encapsulate_to_vec(&too_big, &ep, &p),
        Err(Error::Unencodable { .. })
    ));
    // Bad configuration, short buffers.
    let bad_fl = EncapParams {
        flow_label: 0x10_0000,
        ..p
    };
    assert!(matches!(
        encapsulate(inner, &ep, &bad_fl, &mut out),
        Err(Error::Unencodable { .. })
    ));
    let zero_hl = EncapParams { hop_limit: 0, ..p };
    assert!(encapsulate(inner, &ep, &zero_hl, &mut out).is_err());
    assert!(matches!(
        encapsulate(inner, &ep, &p, &mut out[..87]),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        encapsulate_in_place(&mut out[..39], &ep, &p),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn hop_limit_decrement() {
    let mut inner = RFC_TUNNEL_PACKET[40..].to_vec();
    assert_eq!(decrement_inner_hop_limit(&mut inner), Ok(4));
    assert_eq!(inner[7], 4);
    for exhausted in [1u8, 0] {
        inner[7] = exhausted;
        let e = decrement_inner_hop_limit(&mut inner).expect_err("time exceeded");
        assert!(is_hop_limit_exceeded(&e));
        assert_eq!(inner[7], exhausted);
    }
    let e = decrement_inner_hop_limit(&mut inner[..20]).expect_err("truncated");
    assert!(!is_hop_limit_exceeded(&e));
}

#[test]
fn decapsulation_refusals() {
    // Truncated anywhere.
    for len in 0..RFC_TUNNEL_PACKET.len() {
        assert!(
            decapsulate(&RFC_TUNNEL_PACKET[..len]).is_err(),
            "length {len}"
        );
    }
    // Outer payload not IPv6.
    let mut b = RFC_TUNNEL_PACKET;
    b[6] = proto::ICMPV6;
    assert_eq!(
        decapsulate(&b),
        Err(Error::Unsupported {
            what: "tunnel payload protocol",
            value: 58
        })
    );
    // Inner claims more than the outer payload holds.
    let mut b = RFC_TUNNEL_PACKET;
    b[45] = 9;
    assert!(matches!(
        decapsulate(&b),
        Err(Error::Truncated {
            what: "inner IPv6 packet",
            ..
        })
    ));
    // Inner not IPv6.
    let mut b = RFC_TUNNEL_PACKET;
    b[40] = 0x45;
    assert!(matches!(decapsulate(&b), Err(Error::Invalid { .. })));
    // Inner jumbogram.
    let mut b = RFC_TUNNEL_PACKET;
    b[44..47].copy_from_slice(&[0, 0, proto::HOP_BY_HOP]);
    assert!(matches!(decapsulate(&b), Err(Error::Unsupported { .. })));
    // A later fragment of a tunnel packet.
    let mut b = RFC_TUNNEL_PACKET[..40].to_vec();
    b[5] += 8;
    b[6] = proto::FRAGMENT;
    b.extend_from_slice(&[proto::IPV6, 0, 0, 8, 0, 0, 0, 1]);
    b.extend_from_slice(&RFC_TUNNEL_PACKET[40..]);
    assert!(matches!(decapsulate(&b), Err(Error::Unsupported { .. })));
}

#[test]
fn outer_extension_headers_are_walked() {
    // Destination Options with a Tunnel Encapsulation Limit (RFC 2473
    // 4.1.1, type 4, limit 4) and PadN(1), then the inner packet.
    let mut b = RFC_TUNNEL_PACKET[..40].to_vec();
    b[5] += 8;
    b[6] = proto::DST_OPTS;
    b.extend_from_slice(&[proto::IPV6, 0, 4, 1, 4, 1, 1, 0]);
    b.extend_from_slice(&RFC_TUNNEL_PACKET[40..]);
    let d = decapsulate(&b).expect("valid");
    assert_eq!(d.inner, &RFC_TUNNEL_PACKET[40..]);
    // An option that must not be skipped makes the packet unusable.
    b[42] = 0x84;
    assert!(matches!(
        decapsulate(&b),
        Err(Error::Unsupported {
            what: "option in tunnel header",
            value: 0x84
        })
    ));
}

#[test]
fn inner_alone() {
    let inner = &RFC_TUNNEL_PACKET[40..];
    let mut padded = inner.to_vec();
    padded.extend_from_slice(&[0; 6]);
    let i = parse_inner(&padded).expect("valid");
    assert_eq!(i.packet, inner);
    assert_eq!((i.src, i.dst, i.traffic_class), (CN, HOA, 0xb8));
    assert!(parse_inner(&inner[..47]).is_err());
    assert!(parse_inner(&inner[..39]).is_err());
}

#[test]
fn mtu_arithmetic() {
    let m = tunnel_mtu(1500);
    assert_eq!(
        m,
        TunnelMtu {
            path_mtu: 1500,
            inner_mtu: 1460,
            must_fragment_outer: false
        }
    );
    assert_eq!(m.check(1460), MtuVerdict::Send);
    assert_eq!(m.check(1461), MtuVerdict::PacketTooBig { mtu: 1460 });

    let m = tunnel_mtu(1320);
    assert_eq!((m.inner_mtu, m.must_fragment_outer), (1280, false));
    assert_eq!(m.check(1280), MtuVerdict::Send);
    assert_eq!(m.check(1281), MtuVerdict::PacketTooBig { mtu: 1280 });

    // Below 1320 the tunnel keeps 1280 and fragments the outer packet.
    let m = tunnel_mtu(1300);
    assert_eq!((m.inner_mtu, m.must_fragment_outer), (1280, true));
    assert_eq!(m.check(1260), MtuVerdict::Send);
    assert_eq!(m.check(1261), MtuVerdict::SendFragmented);
    assert_eq!(m.check(1280), MtuVerdict::SendFragmented);
    assert_eq!(m.check(1281), MtuVerdict::PacketTooBig { mtu: 1280 });

    // A path MTU below the IPv6 minimum is taken as the minimum.
    assert_eq!(tunnel_mtu(0), tunnel_mtu(1280));
    assert_eq!(tunnel_mtu(1280).check(1241), MtuVerdict::SendFragmented);
    assert_eq!(tunnel_mtu(65575).inner_mtu, 65535);
}

fn inner_packet() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<[u8; 8]>(),
        any::<[u8; 32]>(),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(mut head, addrs, payload)| {
            head[0] = 0x60 | (head[0] & 0x0f);
            let plen = u16::try_from(payload.len()).unwrap_or(u16::MAX);
            head[4..6].copy_from_slice(&plen.to_be_bytes());
            if plen == 0 && head[6] == proto::HOP_BY_HOP {
                head[6] = proto::NO_NEXT;
            }
            [&head[..], &addrs[..], &payload[..]].concat()
        })
}

proptest! {
    #[test]
    fn encapsulate_then_decapsulate(
        inner in inner_packet(),
        src in any::<[u8; 16]>(),
        dst in any::<[u8; 16]>(),
        hop_limit in 1u8..,
        fixed in proptest::option::of(any::<u8>()),
        flow_label in 0u32..=0xf_ffff,
    ) {
        let ep = TunnelEndpoints { src: src.into(), dst: dst.into() };
        let params = EncapParams {
            hop_limit,
            traffic_class: fixed.map_or(TrafficClass::CopyInner, TrafficClass::Fixed),
            flow_label,
        };
        let out = encapsulate_to_vec(&inner, &ep, &params).expect("valid inner");
        let d = decapsulate(&out).expect("valid tunnel packet");
        prop_assert_eq!((d.outer_src, d.outer_dst), (ep.src, ep.dst));
        prop_assert_eq!(d.inner, &inner[..]);
        let i = parse_inner(&inner).expect("valid inner");
        prop_assert_eq!((d.inner_src, d.inner_dst), (i.src, i.dst));
        let outer = crate::wire::exthdr::FixedHeader::parse(&out).expect("valid");
        prop_assert_eq!(outer.traffic_class, fixed.unwrap_or(i.traffic_class));
        prop_assert_eq!((outer.hop_limit, outer.flow_label), (hop_limit, flow_label));
        let mut in_place = vec![0u8; 40];
        in_place.extend_from_slice(&inner);
        prop_assert_eq!(encapsulate_in_place(&mut in_place, &ep, &params), Ok(out.len()));
        prop_assert_eq!(in_place, out);
    }

    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decapsulate(&bytes);
        let _ = parse_inner(&bytes);
        let _ = encapsulate_to_vec(&bytes, &HA_TO_COA, &EncapParams::default());
        let _ = decrement_inner_hop_limit(&mut bytes);
        let _ = encapsulate_in_place(&mut bytes, &HA_TO_COA, &EncapParams::default());
    }

    #[test]
    fn mutated_tunnel_packets_never_panic(
        flips in proptest::collection::vec((0usize..88, any::<u8>()), 1..6),
        cut in 0usize..=88,
    ) {
        let mut b = SCAPY_IP6IP6.to_vec();
        for (at, v) in flips {
            b[at] = v;
        }
        b.truncate(cut);
        let _ = decapsulate(&b);
    }
}
