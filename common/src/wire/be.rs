//! Big-endian fields read at an offset, for parsers that have already
//! checked the length: a read past the end gives zeros (the unspecified
//! address) instead of panicking, so an unchecked view cannot crash on
//! network input. One reader for every wire format.

use std::net::Ipv6Addr;

/// The `N` octets at `at`, or zeros when the buffer is shorter.
fn array_at<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b.get(at..at.saturating_add(N))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

pub(crate) fn octet(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(array_at(b, at))
}

pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array_at(b, at))
}

pub(crate) fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(array_at(b, at))
}

/// The 16 octets at `at` as an address.
pub(crate) fn addr_at(b: &[u8], at: usize) -> Ipv6Addr {
    Ipv6Addr::from(array_at::<16>(b, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_zeros_past_the_end() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(octet(&b, 8), 9);
        assert_eq!(be16(&b, 0), 0x0102);
        assert_eq!(be32(&b, 1), 0x0203_0405);
        assert_eq!(be64(&b, 1), 0x0203_0405_0607_0809);
        assert_eq!((octet(&b, 9), be16(&b, 8), be64(&b, 2)), (0, 0, 0));
        assert_eq!(be16(&b, usize::MAX), 0);
        assert_eq!(addr_at(&b, 0), Ipv6Addr::UNSPECIFIED);
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(addr_at(&a.octets(), 0), a);
    }
}
