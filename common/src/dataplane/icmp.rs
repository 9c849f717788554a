//! ICMPv6 errors the tunnel entry point sends back to an inner source
//! (RFC 4443): Packet Too Big (RFC 2473 7.1) and Destination Unreachable
//! (no binding). They are written into the TUN device, so the kernel
//! routes them to the source like any packet coming out of the tunnel.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use crate::wire::checksum::{self, proto};

/// RFC 4443 2.4 (c): an error message carries as much of the invoking
/// packet as fits in the minimum MTU.
const MAX_ERROR_LEN: usize = 1280;
const IPV6_HEADER_LEN: usize = 40;
const ICMP_HEADER_LEN: usize = 8;

pub(crate) const TYPE_DEST_UNREACHABLE: u8 = 1;
pub(crate) const TYPE_PACKET_TOO_BIG: u8 = 2;
/// Destination Unreachable code 3: address unreachable.
pub(crate) const CODE_ADDRESS_UNREACHABLE: u8 = 3;

fn is_unicast_source(a: &Ipv6Addr) -> bool {
    !a.is_unspecified() && !a.is_multicast() && !a.is_loopback()
}

/// True for an ICMPv6 error message (type below 128), which must never
/// cause another (RFC 4443 2.4 (e.1)). Looks only at a packet whose next
/// header is ICMPv6 right after the fixed header; one behind extension
/// headers is taken as not an error, which errs on the side of answering.
fn is_icmp_error(invoking: &[u8]) -> bool {
    invoking.get(6) == Some(&proto::ICMPV6)
        && invoking.get(IPV6_HEADER_LEN).is_some_and(|&t| t < 128)
}

/// Builds an ICMPv6 error about `invoking` (a whole IPv6 packet) from `src`
/// into `out`, or returns `None` where RFC 4443 2.4 (e) forbids one: the
/// invoking packet is an ICMPv6 error, its source is not a unicast address,
/// or (except for Packet Too Big) its destination is multicast.
pub(crate) fn error_message(
    src: Ipv6Addr,
    icmp_type: u8,
    code: u8,
    word: u32,
    invoking: &[u8],
    out: &mut Vec<u8>,
) -> Option<()> {
    let head = invoking.first_chunk::<IPV6_HEADER_LEN>()?;
    let inv_src = Ipv6Addr::from(<[u8; 16]>::try_from(head.get(8..24)?).ok()?);
    let inv_dst = Ipv6Addr::from(<[u8; 16]>::try_from(head.get(24..40)?).ok()?);
    if !is_unicast_source(&inv_src) || is_icmp_error(invoking) {
        return None;
    }
    if inv_dst.is_multicast() && icmp_type != TYPE_PACKET_TOO_BIG {
        return None;
    }
    let quoted = invoking
        .len()
        .min(MAX_ERROR_LEN - IPV6_HEADER_LEN - ICMP_HEADER_LEN);
    let plen = ICMP_HEADER_LEN + quoted;
    out.clear();
    out.reserve(IPV6_HEADER_LEN + plen);
    out.extend_from_slice(&[0x60, 0, 0, 0]);
    out.extend_from_slice(&u16::try_from(plen).ok()?.to_be_bytes());
    out.extend_from_slice(&[proto::ICMPV6, 64]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&inv_src.octets());
    out.extend_from_slice(&[icmp_type, code, 0, 0]);
    out.extend_from_slice(&word.to_be_bytes());
    out.extend_from_slice(invoking.get(..quoted)?);
    let ck = checksum::upper_layer(&src, &inv_src, proto::ICMPV6, out.get(IPV6_HEADER_LEN..)?);
    out.get_mut(IPV6_HEADER_LEN + 2..IPV6_HEADER_LEN + 4)?
        .copy_from_slice(&ck.to_be_bytes());
    Some(())
}

/// RFC 4443 2.4 (f): ICMPv6 errors are rate-limited. A token bucket:
/// `burst` at once, then one per `interval`.
#[derive(Debug)]
pub(crate) struct RateLimit {
    tokens: u32,
    burst: u32,
    interval: Duration,
    last: Instant,
}

impl RateLimit {
    pub(crate) fn new(burst: u32, interval: Duration, now: Instant) -> Self {
        Self {
            tokens: burst,
            burst,
            interval,
            last: now,
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        if !self.interval.is_zero() {
            let new = elapsed.as_nanos() / self.interval.as_nanos().max(1);
            if new > 0 {
                let new = u32::try_from(new).unwrap_or(u32::MAX);
                self.tokens = self.tokens.saturating_add(new).min(self.burst);
                self.last = now;
            }
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::nd::Icmpv6Packet;

    const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
    const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 5);
    const HOA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100);

    fn packet(src: Ipv6Addr, dst: Ipv6Addr, nh: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&u16::try_from(payload.len()).expect("small").to_be_bytes());
        p.extend_from_slice(&[nh, 63]);
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn packet_too_big_quotes_up_to_the_minimum_mtu() {
        let big = packet(CN, HOA, proto::UDP, &[0xab; 1452]);
        let mut out = Vec::new();
        error_message(HA, TYPE_PACKET_TOO_BIG, 0, 1420, &big, &mut out).expect("sent");
        assert_eq!(out.len(), 1280);
        assert_eq!(&out[8..24], &HA.octets());
        assert_eq!(&out[24..40], &CN.octets());
        assert_eq!(u16::from_be_bytes([out[4], out[5]]), 1240);
        assert_eq!(out[6], proto::ICMPV6);
        assert_eq!(&out[40..42], &[2, 0]);
        assert_eq!(
            u32::from_be_bytes([out[44], out[45], out[46], out[47]]),
            1420
        );
        assert_eq!(&out[48..], &big[..1232]);
        // The checksum verifies over the pseudo-header.
        let icmp = Icmpv6Packet::new_checked(&out[40..]).expect("icmp");
        assert!(icmp.verify_checksum(&HA, &CN));
    }

    #[test]
    fn small_invoking_packet_is_quoted_whole() {
        let p = packet(CN, HOA, proto::UDP, &[1, 2, 3]);
        let mut out = Vec::new();
        error_message(
            HA,
            TYPE_DEST_UNREACHABLE,
            CODE_ADDRESS_UNREACHABLE,
            0,
            &p,
            &mut out,
        )
        .expect("sent");
        assert_eq!(out.len(), 40 + 8 + p.len());
        assert_eq!(&out[40..42], &[1, 3]);
    }

    #[test]
    fn no_error_about_errors_or_from_bad_sources() {
        let mut out = Vec::new();
        // An ICMPv6 error (type 1) never causes another.
        let e = packet(CN, HOA, proto::ICMPV6, &[1, 0, 0, 0, 0, 0, 0, 0]);
        assert!(error_message(HA, 2, 0, 1280, &e, &mut out).is_none());
        // An echo request (128) may.
        let echo = packet(CN, HOA, proto::ICMPV6, &[128, 0, 0, 0, 0, 0, 0, 0]);
        assert!(error_message(HA, 2, 0, 1280, &echo, &mut out).is_some());
        let from_any = packet(Ipv6Addr::UNSPECIFIED, HOA, proto::UDP, &[0; 8]);
        assert!(error_message(HA, 2, 0, 1280, &from_any, &mut out).is_none());
        let to_group = packet(CN, "ff0e::1".parse().expect("lit"), proto::UDP, &[0; 8]);
        assert!(error_message(HA, 1, 3, 0, &to_group, &mut out).is_none());
        assert!(error_message(HA, 2, 0, 1280, &to_group, &mut out).is_some());
        assert!(error_message(HA, 2, 0, 1280, &[0x60; 39], &mut out).is_none());
    }

    #[test]
    fn rate_limit_refills() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(2, Duration::from_millis(10), t0);
        assert!(r.allow(t0));
        assert!(r.allow(t0));
        assert!(!r.allow(t0));
        assert!(r.allow(t0 + Duration::from_millis(10)));
        assert!(!r.allow(t0 + Duration::from_millis(15)));
        assert!(r.allow(t0 + Duration::from_secs(5)));
        assert!(r.allow(t0 + Duration::from_secs(5)));
        assert!(!r.allow(t0 + Duration::from_secs(5)));
    }
}
