//! Solicited-node groups and their Ethernet multicast MACs: where DAD and
//! address resolution send their Neighbor Solicitations.

use std::net::Ipv6Addr;

use super::Mac;

/// The solicited-node multicast group of `addr` (RFC 4291 2.7.1):
/// ff02::1:ff00:0/104 followed by the low 24 bits of the address. Addresses
/// that differ only above those 24 bits (one IID under several prefixes)
/// share a group, which is why DAD joins it once per identifier.
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        0x0001,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet destination for IPv6 multicast `group` (RFC 2464 section 7):
/// 33:33 followed by the group's last four octets.
pub fn multicast_mac(group: Ipv6Addr) -> Mac {
    let o = group.octets();
    Mac([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn seed_address_group_and_mac() {
        let g = solicited_node(a("2001:db8::5246:5dff:fe6b:7a54"));
        assert_eq!(g, a("ff02::1:ff6b:7a54"));
        assert_eq!(multicast_mac(g).to_string(), "33:33:ff:6b:7a:54");
        // The link-local address with the same identifier shares the group.
        assert_eq!(solicited_node(a("fe80::5246:5dff:fe6b:7a54")), g);
    }

    #[test]
    fn well_known_groups() {
        assert_eq!(solicited_node(a("::")), a("ff02::1:ff00:0"));
        assert_eq!(multicast_mac(a("ff02::1")).to_string(), "33:33:00:00:00:01");
        assert_eq!(multicast_mac(a("ff02::2")).to_string(), "33:33:00:00:00:02");
    }
}
