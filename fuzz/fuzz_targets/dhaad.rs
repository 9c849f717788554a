//! DHAAD and Mobile Prefix parser: never a panic; parsed messages round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mip6_common::wire::dhaad::DhaadRepr;
use mip6_common::wire::nd::Icmpv6Packet;
use std::net::Ipv6Addr;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Icmpv6Packet::new_checked(data) else {
        return;
    };
    let Ok(repr) = DhaadRepr::parse(&packet) else {
        return;
    };
    let src = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100);
    let dst = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
    let _ = repr.validate(&src, &dst);
    let bytes = repr.to_bytes().expect("a parsed message re-emits");
    assert_eq!(DhaadRepr::from_bytes(&bytes).expect("emitted parses"), repr);
});
