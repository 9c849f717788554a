//! The 64-bit interface identifier and the registry of reserved values.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use super::AddrError;

/// A 64-bit IPv6 interface identifier (RFC 4291 2.5.1), in network byte
/// order. Its bits are opaque (RFC 7136): nothing here reads meaning into the
/// u/g bits except the EUI-64 constructor that sets them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct InterfaceId(pub [u8; 8]);

impl InterfaceId {
    pub const fn new(octets: [u8; 8]) -> Self {
        Self(octets)
    }

    pub const fn octets(&self) -> [u8; 8] {
        self.0
    }

    pub const fn from_u64(v: u64) -> Self {
        Self(v.to_be_bytes())
    }

    pub const fn to_u64(&self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// The low 64 bits of `addr`.
    pub fn of_addr(addr: Ipv6Addr) -> Self {
        let o = addr.octets();
        Self([o[8], o[9], o[10], o[11], o[12], o[13], o[14], o[15]])
    }

    /// Whether the IANA "Reserved IPv6 Interface Identifiers" registry
    /// (RFC 5453 and its later entries) holds this value. Autoconfiguring one
    /// of these would collide with an anycast address or a MAC-derived
    /// identifier of the IANA Ethernet block, so RFC 7217 section 5 and
    /// RFC 8981 section 3.3.1 both require rejecting it.
    pub fn is_reserved(&self) -> bool {
        let v = self.to_u64();
        RESERVED.iter().any(|r| (r.first..=r.last).contains(&v))
    }
}

/// One range of the IANA registry, both ends inclusive.
#[derive(Debug, Clone, Copy)]
struct ReservedRange {
    first: u64,
    last: u64,
}

/// The IANA "Reserved IPv6 Interface Identifiers" registry. RFC 5453 section
/// 3 created it with the first and last entries; the IANA Ethernet block
/// entries (RFC 4291, because 00-00-5E MACs map to 0200:5EFF:FExx:xxxx under
/// modified EUI-64) and Proxy Mobile IPv6 (RFC 6543) were added to the
/// registry afterwards, and RFC 7217 and RFC 8981 cite the registry itself.
const RESERVED: [ReservedRange; 3] = [
    // Subnet-Router Anycast (RFC 4291 2.6.1).
    ReservedRange { first: 0, last: 0 },
    // IANA Ethernet block 0200:5EFF:FE00:0000-0200:5EFF:FE00:5212 (RFC 4291),
    // Proxy Mobile IPv6 0200:5EFF:FE00:5213 (RFC 6543) and
    // IANA Ethernet block 0200:5EFF:FE00:5214-0200:5EFF:FEFF:FFFF (RFC 4291):
    // three registry rows that together cover one contiguous range.
    ReservedRange {
        first: 0x0200_5eff_fe00_0000,
        last: 0x0200_5eff_feff_ffff,
    },
    // Reserved Subnet Anycast Addresses (RFC 2526): the top 128 values with
    // the u bit clear.
    ReservedRange {
        first: 0xfdff_ffff_ffff_ff80,
        last: 0xfdff_ffff_ffff_ffff,
    },
];

impl fmt::Display for InterfaceId {
    /// Four colon-separated groups, e.g. `5246:5dff:fe6b:7a54`, the way the
    /// RFCs and `ip addr` write the identifier half of an address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:x}:{:x}:{:x}:{:x}",
            u16::from_be_bytes([o[0], o[1]]),
            u16::from_be_bytes([o[2], o[3]]),
            u16::from_be_bytes([o[4], o[5]]),
            u16::from_be_bytes([o[6], o[7]])
        )
    }
}

debug_as_text!(InterfaceId);

impl FromStr for InterfaceId {
    type Err = AddrError;

    /// Accepts exactly four groups of one to four hex digits; `::` shorthand
    /// is refused because an identifier has no fixed anchor to expand from.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || AddrError::ParseIid(s.to_owned());
        let mut out = [0u8; 8];
        let mut groups = s.split(':');
        for chunk in out.chunks_exact_mut(2) {
            let g = groups.next().ok_or_else(bad)?;
            if g.is_empty() || g.len() > 4 || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let v = u16::from_str_radix(g, 16).map_err(|_| bad())?;
            chunk.copy_from_slice(&v.to_be_bytes());
        }
        if groups.next().is_some() {
            return Err(bad());
        }
        Ok(Self(out))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn iid(s: &str) -> InterfaceId {
        s.parse().unwrap()
    }

    #[test]
    fn display_and_parse() {
        let i = InterfaceId([0x52, 0x46, 0x5d, 0xff, 0xfe, 0x6b, 0x7a, 0x54]);
        assert_eq!(i.to_string(), "5246:5dff:fe6b:7a54");
        assert_eq!(iid("5246:5dff:fe6b:7a54"), i);
        assert_eq!(iid("0:0:0:1"), InterfaceId::from_u64(1));
        assert_eq!(
            format!("{:?}", InterfaceId::from_u64(1)),
            "InterfaceId(0:0:0:1)"
        );
        for bad in [
            "",
            "::1",
            "1:2:3",
            "1:2:3:4:5",
            "1:2:3:12345",
            "1:2:3:g",
            "1:2::4",
        ] {
            assert!(bad.parse::<InterfaceId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn of_addr_takes_low_half() {
        let a: Ipv6Addr = "2001:db8::5246:5dff:fe6b:7a54".parse().unwrap();
        assert_eq!(InterfaceId::of_addr(a), iid("5246:5dff:fe6b:7a54"));
    }

    #[test]
    fn reserved_registry_edges() {
        let cases = [
            // Subnet-Router Anycast.
            ("0:0:0:0", true),
            ("0:0:0:1", false),
            // IANA Ethernet block and Proxy Mobile IPv6, both ends and the
            // middle.
            ("0200:5eff:fdff:ffff", false),
            ("0200:5eff:fe00:0000", true),
            ("0200:5eff:fe00:5212", true),
            ("0200:5eff:fe00:5213", true),
            ("0200:5eff:fe00:5214", true),
            ("0200:5eff:feff:ffff", true),
            ("0200:5eff:ff00:0000", false),
            // RFC 2526 reserved subnet anycast.
            ("fdff:ffff:ffff:ff7f", false),
            ("fdff:ffff:ffff:ff80", true),
            ("fdff:ffff:ffff:fffe", true),
            ("fdff:ffff:ffff:ffff", true),
            ("ffff:ffff:ffff:ffff", false),
        ];
        for (s, reserved) in cases {
            assert_eq!(iid(s).is_reserved(), reserved, "{s}");
        }
    }
}
