//! Neighbor Discovery parser: never a panic; parsed messages round-trip, and
//! validation (the receive-side RFC 4861 rules) never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mip6_common::wire::nd::{ALL_NODES, Icmpv6Packet, NdRepr};
use std::net::Ipv6Addr;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Icmpv6Packet::new_checked(data) else {
        return;
    };
    let src = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    let _ = packet.verify_checksum(&src, &ALL_NODES);
    let Ok(repr) = NdRepr::parse(&packet) else {
        return;
    };
    let _ = repr.validate(&src, &ALL_NODES, 255);
    let _ = repr.validate(&Ipv6Addr::UNSPECIFIED, &ALL_NODES, 255);
    let bytes = repr.to_bytes().expect("a parsed message re-emits");
    assert_eq!(NdRepr::from_bytes(&bytes).expect("emitted parses"), repr);
});
