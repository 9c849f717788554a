//! Interop with scapy, an implementation independent of ours.
//!
//! `interop/scapy_gen.py` builds one packet of every kind we speak; CI
//! regenerates `fixtures/scapy_packets.json` with it and fails on any
//! difference. Here each packet must parse into the value scapy was told to
//! build, verify its checksum over the RFC 6275 6.1.1 pseudo-header, and
//! come back out of our emitters byte for byte, IPv6 header included.

mod support;

use mip6_common::wire::checksum::{self, proto};
use mip6_common::wire::dhaad::DhaadRepr;
use mip6_common::wire::exthdr::{Ipv6Repr, parse_ipv6};
use mip6_common::wire::mh::MhRepr;
use mip6_common::wire::nd::NdRepr;
use mip6_common::wire::tunnel::{
    EncapParams, TrafficClass, TunnelEndpoints, decapsulate, encapsulate_to_vec,
};
use support::*;

#[test]
fn every_scapy_packet_parses_verifies_and_re_emits_byte_for_byte() {
    let fixtures = fixtures();
    let mut seen = 0;
    for e in expectations() {
        let bytes = fixtures
            .get(e.name)
            .unwrap_or_else(|| panic!("{}: not in the scapy fixtures", e.name));
        let parsed = parse_ipv6(bytes).unwrap_or_else(|err| panic!("{}: {err}", e.name));
        let ip_repr = Ipv6Repr::parse(&parsed).unwrap_or_else(|err| panic!("{}: {err}", e.name));
        assert_eq!(
            ip_repr, e.ip,
            "{}: IPv6 header and extension headers",
            e.name
        );
        let (src, dst) = parsed.checksum_addresses();
        let upper = parsed.upper();
        assert!(
            checksum::verify(&src, &dst, parsed.upper_protocol(), upper),
            "{}: checksum over ({src}, {dst})",
            e.name
        );
        let ours = match e.upper {
            Upper::Mh(want) => {
                let got =
                    MhRepr::parse_bytes(upper).unwrap_or_else(|err| panic!("{}: {err}", e.name));
                assert_eq!(got, want, "{}", e.name);
                want.to_bytes_with_checksum(&src, &dst).expect("emit MH")
            }
            Upper::Nd(want) => {
                let got =
                    NdRepr::from_bytes(upper).unwrap_or_else(|err| panic!("{}: {err}", e.name));
                assert_eq!(got, want, "{}", e.name);
                got.validate(&e.ip.src, &e.ip.dst, e.ip.hop_limit)
                    .unwrap_or_else(|err| panic!("{}: RFC 4861 validation: {err}", e.name));
                want.to_bytes_with_checksum(&src, &dst).expect("emit ND")
            }
            Upper::Dhaad(want) => {
                let got =
                    DhaadRepr::from_bytes(upper).unwrap_or_else(|err| panic!("{}: {err}", e.name));
                assert_eq!(got, want, "{}", e.name);
                want.to_bytes_with_checksum(&src, &dst).expect("emit DHAAD")
            }
        };
        let rebuilt = e.ip.build(&ours).expect("build IPv6 packet");
        assert_eq!(
            hex(&rebuilt.bytes),
            hex(bytes),
            "{}: our packet differs from scapy's",
            e.name
        );
        seen += 1;
    }
    // Every fixture but the tunnel packet (tested below) was checked.
    assert_eq!(seen + 1, fixtures.len(), "a fixture has no expectation");
}

#[test]
fn scapy_ip6ip6_decapsulates_and_re_encapsulates_identically() {
    let fixtures = fixtures();
    let bytes = &fixtures["ip6ip6"];
    let d = decapsulate(bytes).expect("decapsulate");
    assert_eq!((d.outer_src, d.outer_dst), (HA, COA));
    assert_eq!((d.inner_src, d.inner_dst), (CN, HOA));
    let params = EncapParams {
        hop_limit: 64,
        traffic_class: TrafficClass::CopyInner,
        flow_label: 0,
    };
    let again = encapsulate_to_vec(d.inner, &TunnelEndpoints { src: HA, dst: COA }, &params)
        .expect("encapsulate");
    assert_eq!(hex(&again), hex(bytes));
}

#[test]
fn a_wrong_checksum_is_caught() {
    // shared/interop/mip6_badcsum.pcap carries a BU whose checksum is 0xdead.
    let mut bu = fixtures()["bu_home"].clone();
    let parsed = parse_ipv6(&bu).expect("parse");
    let at = parsed.upper_offset() + 4;
    bu[at] ^= 0x01;
    let parsed = parse_ipv6(&bu).expect("parse");
    let (src, dst) = parsed.checksum_addresses();
    assert!(!checksum::verify(
        &src,
        &dst,
        proto::MOBILITY,
        parsed.upper()
    ));
}
