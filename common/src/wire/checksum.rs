//! The Internet checksum (RFC 1071) over an IPv6 upper-layer pseudo-header
//! (RFC 8200 8.1). Mobility Header (RFC 6275 6.1.1) and ICMPv6 (RFC 4443 2.3)
//! both use it; what differs is which addresses the caller puts in it.

use std::net::Ipv6Addr;

/// IANA protocol numbers used across the wire modules.
pub mod proto {
    pub const HOP_BY_HOP: u8 = 0;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ICMPV6: u8 = 58;
    pub const NO_NEXT: u8 = 59;
    pub const DST_OPTS: u8 = 60;
    pub const MOBILITY: u8 = 135;
}

/// Adds `data` as big-endian 16-bit words into a 32-bit accumulator,
/// padding an odd tail with zero.
pub fn accumulate(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
        // Fold eagerly enough that even a 64 KiB jumbo input cannot overflow.
        if sum & 0x8000_0000 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    sum
}

/// Folds the accumulator to 16 bits and complements it.
pub fn finish(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Sum of the IPv6 pseudo-header for an upper-layer packet of `len` bytes.
pub fn pseudo_header(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, len: u32) -> u32 {
    let mut sum = accumulate(0, &src.octets());
    sum = accumulate(sum, &dst.octets());
    sum = accumulate(sum, &len.to_be_bytes());
    accumulate(sum, &[0, 0, 0, next_header])
}

/// The checksum to store in an upper-layer packet whose checksum field
/// currently holds zero.
pub fn upper_layer(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, payload: &[u8]) -> u16 {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    finish(accumulate(
        pseudo_header(src, dst, next_header, len),
        payload,
    ))
}

/// True when `payload` (checksum field included, as received) verifies.
pub fn verify(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, payload: &[u8]) -> bool {
    upper_layer(src, dst, next_header, payload) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 worked example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        let sum = accumulate(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
        assert_eq!(finish(sum), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(accumulate(0, &[0xab]), 0xab00);
    }

    #[test]
    fn verify_round_trip() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let mut pkt = vec![135u8, 0, 0, 0, 0, 0, 1, 2, 3];
        let c = upper_layer(&src, &dst, proto::ICMPV6, &pkt);
        pkt[2..4].copy_from_slice(&c.to_be_bytes());
        assert!(verify(&src, &dst, proto::ICMPV6, &pkt));
        pkt[8] ^= 1;
        assert!(!verify(&src, &dst, proto::ICMPV6, &pkt));
    }
}
