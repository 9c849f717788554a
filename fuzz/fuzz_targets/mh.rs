//! Mobility Header parser: any bytes, never a panic; whatever parses
//! re-emits and parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mip6_common::wire::mh::{MhPacket, MhRepr};
use std::net::Ipv6Addr;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = MhPacket::new_checked(data) else {
        return;
    };
    let src = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);
    let dst = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
    let _ = packet.verify_checksum(&src, &dst);
    let Ok(repr) = MhRepr::parse(&packet) else {
        return;
    };
    let bytes = repr.to_bytes().expect("a parsed message re-emits");
    let again = MhRepr::parse_bytes(&bytes).expect("an emitted message parses");
    assert_eq!(repr, again);
});
