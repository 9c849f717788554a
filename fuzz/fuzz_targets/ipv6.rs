//! Whole IPv6 packets: the extension-header chain walker (HAO, RH2 and
//! friends) and the tunnel decapsulator never panic, and a chain the walker
//! accepts as a MIPv6 packet is rebuilt byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mip6_common::wire::exthdr::{Ipv6Repr, parse_ipv6};
use mip6_common::wire::tunnel::{decapsulate, parse_inner};

fuzz_target!(|data: &[u8]| {
    let _ = decapsulate(data);
    let _ = parse_inner(data);
    let Ok(parsed) = parse_ipv6(data) else {
        return;
    };
    let _ = parsed.checksum_addresses();
    let _ = parsed.unrecognized_option();
    let _ = parsed.final_destination();
    // Whatever the builder can describe must come back out the same.
    if let Ok(repr) = Ipv6Repr::parse(&parsed) {
        let rebuilt = repr.build(parsed.upper()).expect("a parsed chain rebuilds");
        let again = parse_ipv6(&rebuilt.bytes).expect("a rebuilt packet parses");
        assert_eq!(Ipv6Repr::parse(&again).expect("and describes"), repr);
        assert_eq!(again.upper(), parsed.upper());
    }
});
