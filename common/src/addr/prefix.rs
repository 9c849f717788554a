//! IPv6 prefixes and the addresses SLAAC forms from them.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use super::{AddrError, InterfaceId};

/// Bits in an interface identifier; SLAAC can only combine a prefix of
/// 128 - this many bits with one (RFC 4862 5.5.3 d, RFC 4291 2.5.1).
pub const IID_BITS: u8 = 64;

/// An IPv6 prefix with its host bits cleared. The fields are private so that
/// invariant always holds: two prefixes that cover the same addresses compare
/// equal.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    addr: Ipv6Addr,
    len: u8,
}

impl Prefix {
    /// fe80::/64, the prefix of link-local addresses that SLAAC forms (RFC
    /// 4862 5.3; RFC 4291 2.5.6 reserves fe80::/10 but fixes the next 54 bits
    /// to zero).
    pub const LINK_LOCAL: Prefix = Prefix {
        addr: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        len: 64,
    };

    /// The prefix of length `len` that contains `addr`; host bits of `addr`
    /// are cleared.
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Self, AddrError> {
        if len > 128 {
            return Err(AddrError::PrefixLength(len));
        }
        let bits = u128::from(addr) & mask(len);
        Ok(Self {
            addr: Ipv6Addr::from(bits),
            len,
        })
    }

    /// The network address (host bits zero).
    pub const fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length in bits.
    pub const fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        u128::from(addr) & mask(self.len) == u128::from(self.addr)
    }

    /// The address SLAAC forms from this prefix and `iid`. A prefix whose
    /// length plus the 64-bit identifier is not 128 bits is an error: RFC 4862
    /// 5.5.3 d says such a Prefix Information option MUST be ignored, so the
    /// caller should log and drop it rather than guess.
    pub fn with_iid(&self, iid: InterfaceId) -> Result<Ipv6Addr, AddrError> {
        if self.len != 128 - IID_BITS {
            return Err(AddrError::NotSlaacLength(self.len));
        }
        Ok(combine(self.addr, iid))
    }
}

/// The link-local address fe80::/64 + `iid` (RFC 4862 5.3).
pub fn link_local(iid: InterfaceId) -> Ipv6Addr {
    combine(Prefix::LINK_LOCAL.addr, iid)
}

/// The high 64 bits of `prefix` followed by `iid`.
pub(crate) fn combine(prefix: Ipv6Addr, iid: InterfaceId) -> Ipv6Addr {
    let high = u128::from(prefix) & mask(64);
    Ipv6Addr::from(high | u128::from(iid.to_u64()))
}

fn mask(len: u8) -> u128 {
    // checked_shl because a shift by 128 overflows; /0 has an all-zero mask.
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

debug_as_text!(Prefix);

impl FromStr for Prefix {
    type Err = AddrError;

    /// Parses `2001:db8::/64`. The length is required, and set host bits are
    /// refused rather than masked: in a configuration file `2001:db8::1/64`
    /// is far more likely an address written where a prefix belongs than a
    /// prefix, and silently masking it would hide that.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| AddrError::ParsePrefix {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (addr, len) = s.split_once('/').ok_or_else(|| bad("missing /length"))?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| bad("not an IPv6 address"))?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("length is not a number from 0 to 128"));
        }
        let len: u16 = len
            .parse()
            .map_err(|_| bad("length is not a number from 0 to 128"))?;
        let len = u8::try_from(len)
            .ok()
            .filter(|l| *l <= 128)
            .ok_or_else(|| bad("length is greater than 128"))?;
        let p = Prefix::new(addr, len)?;
        if p.addr != addr {
            return Err(bad(&format!("host bits are set (did you mean {p}?)")));
        }
        Ok(p)
    }
}

serde_as_text!(Prefix);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn new_masks_host_bits() {
        let q = Prefix::new(a("2001:db8:1:2:3:4:5:6"), 48).unwrap();
        assert_eq!(q.addr(), a("2001:db8:1::"));
        assert_eq!(q.prefix_len(), 48);
        assert_eq!(q, p("2001:db8:1::/48"));
        assert_eq!(Prefix::new(a("2001:db8::1"), 0).unwrap(), p("::/0"));
        assert_eq!(
            Prefix::new(a("2001:db8::1"), 128).unwrap().addr(),
            a("2001:db8::1")
        );
        let odd = Prefix::new(a("2001:db8:ffff::"), 33).unwrap();
        assert_eq!(odd.addr(), a("2001:db8:8000::"));
        assert!(matches!(
            Prefix::new(a("::"), 129),
            Err(AddrError::PrefixLength(129))
        ));
    }

    #[test]
    fn contains() {
        let q = p("2001:db8::/64");
        assert!(q.contains(a("2001:db8::5246:5dff:fe6b:7a54")));
        assert!(q.contains(a("2001:db8::")));
        assert!(!q.contains(a("2001:db8:0:1::1")));
        assert!(p("::/0").contains(a("ff02::1")));
        let host = p("2001:db8::1/128");
        assert!(host.contains(a("2001:db8::1")));
        assert!(!host.contains(a("2001:db8::2")));
        assert!(Prefix::LINK_LOCAL.contains(a("fe80::1")));
        assert!(!Prefix::LINK_LOCAL.contains(a("fe80:0:0:1::1")));
    }

    #[test]
    fn with_iid_requires_64() {
        let iid: InterfaceId = "5246:5dff:fe6b:7a54".parse().unwrap();
        assert_eq!(
            p("2001:db8::/64").with_iid(iid).unwrap(),
            a("2001:db8::5246:5dff:fe6b:7a54")
        );
        for bad in ["2001:db8::/48", "2001:db8::/80", "::/0", "2001:db8::/128"] {
            assert!(matches!(
                p(bad).with_iid(iid),
                Err(AddrError::NotSlaacLength(_))
            ));
        }
    }

    #[test]
    fn link_local_address() {
        let iid: InterfaceId = "0:0:0:1".parse().unwrap();
        assert_eq!(link_local(iid), a("fe80::1"));
    }

    #[test]
    fn display_and_parse() {
        assert_eq!(p("2001:DB8::/64").to_string(), "2001:db8::/64");
        assert_eq!(format!("{:?}", p("fe80::/10")), "Prefix(fe80::/10)");
        for (bad, why) in [
            ("2001:db8::", "missing /length"),
            ("2001:db8::/", "not a number"),
            ("2001:db8::/64/1", "not a number"),
            ("2001:db8::/+64", "not a number"),
            ("2001:db8::/0064", "not a number"),
            ("2001:db8::/129", "greater than 128"),
            ("2001:db8::/999", "greater than 128"),
            ("2001:db8::g/64", "not an IPv6 address"),
            ("10.0.0.0/8", "not an IPv6 address"),
            ("2001:db8::1/64", "did you mean 2001:db8::/64?"),
        ] {
            let err = bad.parse::<Prefix>().unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn serde_as_string() {
        let q = p("2001:db8:1::/48");
        let j = serde_json::to_string(&q).unwrap();
        assert_eq!(j, "\"2001:db8:1::/48\"");
        assert_eq!(serde_json::from_str::<Prefix>(&j).unwrap(), q);
        assert!(serde_json::from_str::<Prefix>("\"2001:db8::1/64\"").is_err());
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(bits: u128, len in 0u8..=128) {
            let q = Prefix::new(Ipv6Addr::from(bits), len).unwrap();
            prop_assert_eq!(q.to_string().parse::<Prefix>().unwrap(), q);
        }

        #[test]
        fn with_iid_is_contained(bits: u128, iid: u64) {
            let q = Prefix::new(Ipv6Addr::from(bits), 64).unwrap();
            let addr = q.with_iid(InterfaceId::from_u64(iid)).unwrap();
            prop_assert!(q.contains(addr));
            prop_assert_eq!(InterfaceId::of_addr(addr).to_u64(), iid);
            prop_assert_eq!(Prefix::new(addr, 64).unwrap(), q);
        }

        #[test]
        fn contains_agrees_with_new(bits: u128, other: u128, len in 0u8..=128) {
            let q = Prefix::new(Ipv6Addr::from(bits), len).unwrap();
            let o = Ipv6Addr::from(other);
            prop_assert_eq!(q.contains(o), Prefix::new(o, len).unwrap() == q);
            prop_assert!(q.contains(Ipv6Addr::from(bits)));
        }
    }
}
