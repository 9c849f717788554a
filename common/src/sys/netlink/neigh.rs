//! Proxy neighbour entries (RTM_NEWNEIGH / RTM_DELNEIGH with NTF_PROXY):
//! the kernel answers Neighbor Solicitations for these addresses on the
//! link, as a home agent must for its mobile nodes' home addresses. The
//! link also needs `proxy_ndp=1` (see `sys::sysctl`).

use std::io;
use std::net::Ipv6Addr;

use super::msg::{MsgBuilder, c};
use super::{Netlink, ifname_or_index};

/// `struct ndmsg` (12 bytes): family, pad1, pad2, ifindex, state, flags, type.
fn ndmsg(ifindex: u32) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = c::AF_INET6;
    h[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    h[8..10].copy_from_slice(&c::NUD_PERMANENT.to_ne_bytes());
    h[10] = c::NTF_PROXY;
    h
}

impl Netlink {
    /// Adds a proxy ND entry for `addr` on `ifindex`; EEXIST if present.
    pub fn add_proxy_neigh(&mut self, ifindex: u32, addr: Ipv6Addr) -> io::Result<()> {
        let req = MsgBuilder::new(
            c::RTM_NEWNEIGH,
            c::NLM_F_ACK | c::NLM_F_CREATE | c::NLM_F_EXCL,
        )
        .header(&ndmsg(ifindex))
        .attr_addr(c::NDA_DST, &addr);
        self.ack(req, &|| {
            format!("add proxy neighbour {addr} on {}", ifname_or_index(ifindex))
        })
    }

    /// Enters `mac` as the link-layer address of neighbour `addr` on
    /// `ifindex` (REACHABLE, replacing what is there), so the kernel sends
    /// to it without soliciting first.
    pub fn set_neigh(&mut self, ifindex: u32, addr: Ipv6Addr, mac: [u8; 6]) -> io::Result<()> {
        let mut h = [0u8; 12];
        h[0] = c::AF_INET6;
        h[4..8].copy_from_slice(&ifindex.to_ne_bytes());
        h[8..10].copy_from_slice(&c::NUD_REACHABLE.to_ne_bytes());
        let req = MsgBuilder::new(
            c::RTM_NEWNEIGH,
            c::NLM_F_ACK | c::NLM_F_CREATE | c::NLM_F_REPLACE,
        )
        .header(&h)
        .attr_addr(c::NDA_DST, &addr)
        .attr(c::NDA_LLADDR, &mac);
        self.ack(req, &|| {
            format!("set neighbour {addr} on {}", ifname_or_index(ifindex))
        })
    }

    /// Removes a proxy ND entry.
    pub fn del_proxy_neigh(&mut self, ifindex: u32, addr: Ipv6Addr) -> io::Result<()> {
        let req = MsgBuilder::new(c::RTM_DELNEIGH, c::NLM_F_ACK)
            .header(&ndmsg(ifindex))
            .attr_addr(c::NDA_DST, &addr);
        self.ack(req, &|| {
            format!(
                "delete proxy neighbour {addr} on {}",
                ifname_or_index(ifindex)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndmsg_layout() {
        let h = ndmsg(7);
        assert_eq!(&h[..4], &[10, 0, 0, 0]);
        assert_eq!(&h[4..8], &7u32.to_ne_bytes());
        assert_eq!(&h[8..10], &0x80u16.to_ne_bytes());
        assert_eq!(&h[10..], &[0x08, 0]);
    }
}
