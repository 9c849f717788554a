//! MAC addresses and modified EUI-64 interface identifiers (RFC 4291
//! appendix A).

use std::fmt;
use std::str::FromStr;

use super::{AddrError, InterfaceId};

/// An IEEE 802 48-bit MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const fn new(octets: [u8; 6]) -> Self {
        Self(octets)
    }

    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// The I/G bit: set for group (multicast) addresses.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// The U/L bit: set for locally administered addresses.
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

debug_as_text!(Mac);

impl FromStr for Mac {
    type Err = AddrError;

    /// Accepts the Linux form `50:46:5d:6b:7a:54` and the Windows form
    /// `50-46-5d-6b-7a-54` (the seed document uses the latter), but not a
    /// mix of the two, which is more likely a typo than a convention.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || AddrError::ParseMac(s.to_owned());
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut parts = s.split(sep);
        for byte in &mut out {
            let p = parts.next().ok_or_else(bad)?;
            if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self(out))
    }
}

serde_as_text!(Mac);

impl InterfaceId {
    /// The modified EUI-64 identifier of a 48-bit MAC (RFC 4291 appendix A):
    /// insert ff:fe between the company id and the extension id, then invert
    /// the u bit. Inverting (not setting) is what lets a locally administered
    /// MAC map to a u bit of 0, so manually numbered links get short
    /// identifiers like ::1 (RFC 4291 2.5.1).
    pub const fn from_mac(mac: Mac) -> Self {
        let m = mac.0;
        Self([m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
    }
}

impl From<Mac> for InterfaceId {
    fn from(mac: Mac) -> Self {
        Self::from_mac(mac)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;
    use crate::addr::link_local;

    #[test]
    fn seed_worked_example() {
        // Seed document, "EUI-64 vs. Random Suffix", steps 1 to 5.
        let mac: Mac = "50-46-5d-6b-7a-54".parse().unwrap();
        let iid = InterfaceId::from_mac(mac);
        assert_eq!(iid.to_string(), "5246:5dff:fe6b:7a54");
        let expect: Ipv6Addr = "fe80::5246:5dff:fe6b:7a54".parse().unwrap();
        assert_eq!(link_local(iid), expect);
    }

    #[test]
    fn ul_bit_already_set_is_inverted_to_zero() {
        // RFC 4291 appendix A: the u bit is inverted, so a locally
        // administered MAC (U/L = 1) yields u = 0 in the identifier.
        let mac: Mac = "52:46:5d:6b:7a:54".parse().unwrap();
        assert!(mac.is_local());
        assert_eq!(
            InterfaceId::from_mac(mac).octets(),
            [0x50, 0x46, 0x5d, 0xff, 0xfe, 0x6b, 0x7a, 0x54]
        );
        // And the example from RFC 4291 2.5.1's rationale: a manually
        // configured 02:00:00:00:00:01 gives the short identifier ::ff:fe00:1.
        let mac = Mac([0x02, 0, 0, 0, 0, 0x01]);
        assert_eq!(InterfaceId::from_mac(mac).to_string(), "0:ff:fe00:1");
    }

    #[test]
    fn iana_ethernet_block_maps_to_reserved() {
        // 00-00-5E is the IANA OUI (VRRP and friends); its EUI-64 lands in the
        // reserved range, which is why the registry lists it.
        let mac: Mac = "00:00:5e:00:01:01".parse().unwrap();
        assert!(InterfaceId::from_mac(mac).is_reserved());
    }

    #[test]
    fn mac_parse_and_display() {
        let a: Mac = "50-46-5d-6b-7a-54".parse().unwrap();
        let b: Mac = "50:46:5D:6B:7A:54".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "50:46:5d:6b:7a:54");
        assert_eq!(format!("{a:?}"), "Mac(50:46:5d:6b:7a:54)");
        assert!(!a.is_multicast());
        for bad in [
            "",
            "50:46:5d:6b:7a",
            "50:46:5d:6b:7a:54:00",
            "50:46-5d:6b:7a:54",
            "5:46:5d:6b:7a:54",
            "50:46:5d:6b:7a:5g",
            "504:6:5d:6b:7a:54",
            "+5:46:5d:6b:7a:54",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }

    #[test]
    fn mac_serde_as_string() {
        let m = Mac([0x33, 0x33, 0, 0, 0, 1]);
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(j, "\"33:33:00:00:00:01\"");
        assert_eq!(serde_json::from_str::<Mac>(&j).unwrap(), m);
        assert!(serde_json::from_str::<Mac>("\"nope\"").is_err());
    }
}
