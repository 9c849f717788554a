//! rtnetlink message layout: constants, a builder and an attribute walker.
//!
//! Every number and struct layout here was checked against the kernel UAPI
//! headers (`linux/netlink.h`, `rtnetlink.h`, `if_addr.h`, `if_link.h`,
//! `neighbour.h`, `fib_rules.h`); the tests at the bottom compare them with
//! the `libc` crate where it has them. All fields are host byte order.

use std::net::Ipv6Addr;

/// Constants from the kernel UAPI headers, named as there.
#[allow(missing_docs)]
pub mod c {
    // linux/netlink.h
    pub const NLMSG_HDRLEN: usize = 16;
    pub const NLMSG_NOOP: u16 = 1;
    pub const NLMSG_ERROR: u16 = 2;
    pub const NLMSG_DONE: u16 = 3;
    pub const NLM_F_REQUEST: u16 = 0x01;
    pub const NLM_F_MULTI: u16 = 0x02;
    pub const NLM_F_ACK: u16 = 0x04;
    pub const NLM_F_DUMP: u16 = 0x100 | 0x200; // NLM_F_ROOT | NLM_F_MATCH
    pub const NLM_F_REPLACE: u16 = 0x100;
    pub const NLM_F_EXCL: u16 = 0x200;
    pub const NLM_F_CREATE: u16 = 0x400;
    /// In an NLMSG_ERROR: extended-ACK TLVs follow.
    pub const NLM_F_ACK_TLVS: u16 = 0x200;
    /// In an NLMSG_ERROR: the original request was not echoed back.
    pub const NLM_F_CAPPED: u16 = 0x100;
    pub const NETLINK_CAP_ACK: i32 = 10;
    pub const NETLINK_EXT_ACK: i32 = 11;
    pub const NLMSGERR_ATTR_MSG: u16 = 1;
    /// Attribute type bits that are flags, not type (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
    pub const NLA_TYPE_MASK: u16 = 0x3fff;

    // linux/rtnetlink.h: message types
    pub const RTM_NEWLINK: u16 = 16;
    pub const RTM_DELLINK: u16 = 17;
    pub const RTM_GETLINK: u16 = 18;
    pub const RTM_NEWADDR: u16 = 20;
    pub const RTM_DELADDR: u16 = 21;
    pub const RTM_GETADDR: u16 = 22;
    pub const RTM_NEWROUTE: u16 = 24;
    pub const RTM_DELROUTE: u16 = 25;
    pub const RTM_GETROUTE: u16 = 26;
    pub const RTM_NEWNEIGH: u16 = 28;
    pub const RTM_DELNEIGH: u16 = 29;
    pub const RTM_GETNEIGH: u16 = 30;
    pub const RTM_NEWRULE: u16 = 32;
    pub const RTM_DELRULE: u16 = 33;
    pub const RTM_GETRULE: u16 = 34;

    // linux/rtnetlink.h: legacy multicast group bits (bind(2) nl_groups)
    pub const RTMGRP_LINK: u32 = 1;
    pub const RTMGRP_IPV6_IFADDR: u32 = 0x100;

    // linux/rtnetlink.h: struct rtmsg fields and RTA_* attributes
    pub const RT_TABLE_UNSPEC: u8 = 0;
    pub const RT_TABLE_MAIN: u32 = 254;
    pub const RT_TABLE_LOCAL: u32 = 255;
    pub const RTPROT_UNSPEC: u8 = 0;
    pub const RTPROT_KERNEL: u8 = 2;
    pub const RTPROT_BOOT: u8 = 3;
    pub const RTPROT_STATIC: u8 = 4;
    pub const RTPROT_RA: u8 = 9;
    pub const RT_SCOPE_UNIVERSE: u8 = 0;
    pub const RT_SCOPE_LINK: u8 = 253;
    pub const RT_SCOPE_HOST: u8 = 254;
    pub const RT_SCOPE_NOWHERE: u8 = 255;
    pub const RTN_UNSPEC: u8 = 0;
    pub const RTN_UNICAST: u8 = 1;
    pub const RTA_DST: u16 = 1;
    pub const RTA_SRC: u16 = 2;
    pub const RTA_IIF: u16 = 3;
    pub const RTA_OIF: u16 = 4;
    pub const RTA_GATEWAY: u16 = 5;
    pub const RTA_PRIORITY: u16 = 6;
    pub const RTA_PREFSRC: u16 = 7;
    pub const RTA_CACHEINFO: u16 = 12;
    pub const RTA_TABLE: u16 = 15;
    pub const RTA_EXPIRES: u16 = 23;

    // linux/if_link.h: IFLA_* attributes; linux/if.h: IF_OPER_*
    pub const IFLA_ADDRESS: u16 = 1;
    pub const IFLA_IFNAME: u16 = 3;
    pub const IFLA_MTU: u16 = 4;
    pub const IFLA_OPERSTATE: u16 = 16;
    pub const IFLA_CARRIER: u16 = 33;

    // linux/if_addr.h
    pub const IFA_ADDRESS: u16 = 1;
    pub const IFA_LOCAL: u16 = 2;
    pub const IFA_CACHEINFO: u16 = 6;
    pub const IFA_FLAGS: u16 = 8;
    pub const IFA_F_SECONDARY: u32 = 0x01;
    pub const IFA_F_NODAD: u32 = 0x02;
    pub const IFA_F_OPTIMISTIC: u32 = 0x04;
    pub const IFA_F_DADFAILED: u32 = 0x08;
    pub const IFA_F_HOMEADDRESS: u32 = 0x10;
    pub const IFA_F_DEPRECATED: u32 = 0x20;
    pub const IFA_F_TENTATIVE: u32 = 0x40;
    pub const IFA_F_PERMANENT: u32 = 0x80;
    pub const IFA_F_MANAGETEMPADDR: u32 = 0x100;
    pub const IFA_F_NOPREFIXROUTE: u32 = 0x200;
    pub const IFA_F_MCAUTOJOIN: u32 = 0x400;
    pub const IFA_F_STABLE_PRIVACY: u32 = 0x800;
    /// `ifa_cacheinfo` lifetime meaning "forever".
    pub const INFINITY_LIFE_TIME: u32 = 0xffff_ffff;

    // linux/neighbour.h
    pub const NDA_DST: u16 = 1;
    pub const NDA_LLADDR: u16 = 2;
    pub const NTF_PROXY: u8 = 1 << 3;
    pub const NUD_REACHABLE: u16 = 0x02;
    pub const NUD_PERMANENT: u16 = 0x80;

    // linux/fib_rules.h
    pub const FRA_SRC: u16 = 2;
    pub const FRA_PRIORITY: u16 = 6;
    pub const FRA_TABLE: u16 = 15;
    pub const FR_ACT_TO_TBL: u8 = 1;

    // linux/if.h
    pub const IFF_UP: u32 = 0x1;
    pub const IFF_RUNNING: u32 = 0x40;
    pub const IFF_LOWER_UP: u32 = 0x1_0000;

    // linux/socket.h
    pub const AF_UNSPEC: u8 = 0;
    pub const AF_INET6: u8 = 10;
}

/// Rounds up to the 4-byte netlink alignment (NLMSG_ALIGN, RTA_ALIGN).
pub const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// Builds one netlink request: header, family header, attributes.
#[derive(Debug, Clone)]
pub struct MsgBuilder {
    buf: Vec<u8>,
}

impl MsgBuilder {
    /// A request of `ty` with `flags` (NLM_F_REQUEST is added); `seq` and the
    /// length are filled in by [`MsgBuilder::finish`].
    pub fn new(ty: u16, flags: u16) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len
        buf.extend_from_slice(&ty.to_ne_bytes()); // nlmsg_type
        buf.extend_from_slice(&(flags | c::NLM_F_REQUEST).to_ne_bytes()); // nlmsg_flags
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_seq
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: 0 = to the kernel
        Self { buf }
    }

    /// Appends the fixed family header (ifinfomsg, ifaddrmsg, rtmsg, ...),
    /// padded to alignment.
    pub fn header(mut self, bytes: &[u8]) -> Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    /// Appends one attribute (struct rtattr: u16 len, u16 type, payload, pad).
    pub fn attr(mut self, ty: u16, payload: &[u8]) -> Self {
        let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
        self
    }

    pub fn attr_u32(self, ty: u16, v: u32) -> Self {
        self.attr(ty, &v.to_ne_bytes())
    }

    pub fn attr_addr(self, ty: u16, a: &Ipv6Addr) -> Self {
        self.attr(ty, &a.octets())
    }

    /// A NUL-terminated string attribute (IFLA_IFNAME).
    pub fn attr_str(self, ty: u16, s: &str) -> Self {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(ty, &v)
    }

    fn pad(&mut self) {
        let n = align(self.buf.len());
        self.buf.resize(n, 0);
    }

    /// Writes the length and sequence number; returns the bytes to send.
    pub fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

/// One received netlink message: header fields and the payload after the
/// 16-byte header.
#[derive(Debug, Clone, Copy)]
pub struct Msg<'a> {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    pub payload: &'a [u8],
}

/// Walks the netlink messages in one datagram; stops at the first malformed
/// header.
pub fn messages(mut buf: &[u8]) -> impl Iterator<Item = Msg<'_>> {
    std::iter::from_fn(move || {
        if buf.len() < c::NLMSG_HDRLEN {
            return None;
        }
        let len = u32_at(buf, 0)? as usize;
        if len < c::NLMSG_HDRLEN || len > buf.len() {
            return None;
        }
        let msg = Msg {
            ty: u16_at(buf, 4)?,
            flags: u16_at(buf, 6)?,
            seq: u32_at(buf, 8)?,
            pid: u32_at(buf, 12)?,
            payload: &buf[c::NLMSG_HDRLEN..len],
        };
        buf = buf.get(align(len)..).unwrap_or(&[]);
        Some(msg)
    })
}

/// Walks `struct rtattr`s: yields (type without flag bits, payload).
pub fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = usize::from(u16_at(buf, 0)?);
        let ty = u16_at(buf, 2)? & c::NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            return None;
        }
        let payload = &buf[4..len];
        buf = buf.get(align(len)..).unwrap_or(&[]);
        Some((ty, payload))
    })
}

pub fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

pub fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

pub fn i32_at(b: &[u8], off: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// An IPv6 address attribute payload.
pub fn ipv6(b: &[u8]) -> Option<Ipv6Addr> {
    let o: [u8; 16] = b.get(..16)?.try_into().ok()?;
    Some(Ipv6Addr::from(o))
}

/// A NUL-terminated (or not) string attribute payload.
pub fn string(b: &[u8]) -> String {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_libc() {
        assert_eq!(c::NLMSG_ERROR, libc::NLMSG_ERROR as u16);
        assert_eq!(c::NLMSG_DONE, libc::NLMSG_DONE as u16);
        assert_eq!(c::NLM_F_DUMP, (libc::NLM_F_ROOT | libc::NLM_F_MATCH) as u16);
        assert_eq!(c::NLM_F_REPLACE, libc::NLM_F_REPLACE as u16);
        assert_eq!(c::NLM_F_EXCL, libc::NLM_F_EXCL as u16);
        assert_eq!(c::NLM_F_CREATE, libc::NLM_F_CREATE as u16);
        assert_eq!(c::NLM_F_ACK_TLVS, libc::NLM_F_ACK_TLVS as u16);
        assert_eq!(c::NETLINK_EXT_ACK, libc::NETLINK_EXT_ACK);
        assert_eq!(c::NETLINK_CAP_ACK, libc::NETLINK_CAP_ACK);
        assert_eq!(c::RTM_NEWLINK, libc::RTM_NEWLINK);
        assert_eq!(c::RTM_GETLINK, libc::RTM_GETLINK);
        assert_eq!(c::RTM_NEWADDR, libc::RTM_NEWADDR);
        assert_eq!(c::RTM_DELADDR, libc::RTM_DELADDR);
        assert_eq!(c::RTM_GETADDR, libc::RTM_GETADDR);
        assert_eq!(c::RTM_NEWROUTE, libc::RTM_NEWROUTE);
        assert_eq!(c::RTM_DELROUTE, libc::RTM_DELROUTE);
        assert_eq!(c::RTM_NEWNEIGH, libc::RTM_NEWNEIGH);
        assert_eq!(c::RTM_DELNEIGH, libc::RTM_DELNEIGH);
        assert_eq!(c::RTM_NEWRULE, libc::RTM_NEWRULE);
        assert_eq!(c::RTM_DELRULE, libc::RTM_DELRULE);
        assert_eq!(c::RTMGRP_LINK, libc::RTMGRP_LINK as u32);
        assert_eq!(c::RTMGRP_IPV6_IFADDR, libc::RTMGRP_IPV6_IFADDR as u32);
        assert_eq!(c::RTA_DST, libc::RTA_DST);
        assert_eq!(c::RTA_OIF, libc::RTA_OIF);
        assert_eq!(c::RTA_GATEWAY, libc::RTA_GATEWAY);
        assert_eq!(c::RTA_PRIORITY, libc::RTA_PRIORITY);
        assert_eq!(c::RTA_PREFSRC, libc::RTA_PREFSRC);
        assert_eq!(c::RTA_TABLE, libc::RTA_TABLE);
        assert_eq!(c::RTA_EXPIRES, libc::RTA_EXPIRES);
        assert_eq!(c::IFLA_ADDRESS, libc::IFLA_ADDRESS);
        assert_eq!(c::IFLA_IFNAME, libc::IFLA_IFNAME);
        assert_eq!(c::IFLA_MTU, libc::IFLA_MTU);
        assert_eq!(c::IFLA_OPERSTATE, libc::IFLA_OPERSTATE);
        assert_eq!(c::IFLA_CARRIER, libc::IFLA_CARRIER);
        assert_eq!(c::IFA_ADDRESS, libc::IFA_ADDRESS);
        assert_eq!(c::IFA_LOCAL, libc::IFA_LOCAL);
        assert_eq!(c::IFA_CACHEINFO, libc::IFA_CACHEINFO);
        assert_eq!(c::IFA_F_NODAD, libc::IFA_F_NODAD);
        assert_eq!(c::IFA_F_OPTIMISTIC, libc::IFA_F_OPTIMISTIC);
        assert_eq!(c::IFA_F_DADFAILED, libc::IFA_F_DADFAILED);
        assert_eq!(c::IFA_F_HOMEADDRESS, libc::IFA_F_HOMEADDRESS);
        assert_eq!(c::IFA_F_DEPRECATED, libc::IFA_F_DEPRECATED);
        assert_eq!(c::IFA_F_TENTATIVE, libc::IFA_F_TENTATIVE);
        assert_eq!(c::IFA_F_PERMANENT, libc::IFA_F_PERMANENT);
        assert_eq!(c::NDA_DST, libc::NDA_DST);
        assert_eq!(c::NDA_LLADDR, libc::NDA_LLADDR);
        assert_eq!(c::NUD_REACHABLE, libc::NUD_REACHABLE);
        assert_eq!(c::NTF_PROXY, libc::NTF_PROXY);
        assert_eq!(c::NUD_PERMANENT, libc::NUD_PERMANENT);
        assert_eq!(c::IFF_UP, libc::IFF_UP as u32);
        assert_eq!(c::IFF_RUNNING, libc::IFF_RUNNING as u32);
        assert_eq!(c::IFF_LOWER_UP, libc::IFF_LOWER_UP as u32);
        assert_eq!(i32::from(c::AF_INET6), libc::AF_INET6);
        assert_eq!(c::RTPROT_STATIC, libc::RTPROT_STATIC);
        assert_eq!(c::RT_SCOPE_NOWHERE, libc::RT_SCOPE_NOWHERE);
        assert_eq!(c::RTN_UNICAST, libc::RTN_UNICAST);
        assert_eq!(c::RT_TABLE_MAIN, u32::from(libc::RT_TABLE_MAIN));
    }

    #[test]
    fn builder_layout() {
        // RTM_NEWLINK setting IFF_UP on index 3, with an IFLA_MTU attribute:
        // nlmsghdr(16) + ifinfomsg(16) + rtattr(4 + 4).
        let mut ifi = [0u8; 16];
        ifi[4..8].copy_from_slice(&3i32.to_ne_bytes());
        let m = MsgBuilder::new(c::RTM_NEWLINK, c::NLM_F_ACK)
            .header(&ifi)
            .attr_u32(c::IFLA_MTU, 1400)
            .finish(7);
        assert_eq!(m.len(), 40);
        assert_eq!(u32_at(&m, 0), Some(40));
        assert_eq!(u16_at(&m, 4), Some(c::RTM_NEWLINK));
        assert_eq!(u16_at(&m, 6), Some(c::NLM_F_ACK | c::NLM_F_REQUEST));
        assert_eq!(u32_at(&m, 8), Some(7));
        assert_eq!(u16_at(&m, 32), Some(8));
        assert_eq!(u16_at(&m, 34), Some(c::IFLA_MTU));
        assert_eq!(u32_at(&m, 36), Some(1400));
        let parsed: Vec<_> = messages(&m).collect();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].seq, 7);
        let a: Vec<_> = attrs(&parsed[0].payload[16..]).collect();
        assert_eq!(a, vec![(c::IFLA_MTU, &1400u32.to_ne_bytes()[..])]);
    }

    #[test]
    fn odd_attribute_is_padded() {
        let m = MsgBuilder::new(c::RTM_GETLINK, 0)
            .header(&[0u8; 16])
            .attr_str(c::IFLA_IFNAME, "eth0")
            .attr_u32(c::IFLA_MTU, 1)
            .finish(1);
        // "eth0\0" is 5 bytes: rtattr len 9, padded to 12.
        assert_eq!(m.len(), 16 + 16 + 12 + 8);
        let a: Vec<_> = attrs(&m[32..]).collect();
        assert_eq!(a.len(), 2);
        assert_eq!(string(a[0].1), "eth0");
    }

    #[test]
    fn truncated_input_stops() {
        assert_eq!(messages(&[1, 2, 3]).count(), 0);
        let mut bad = vec![0u8; 16];
        bad[0..4].copy_from_slice(&100u32.to_ne_bytes());
        assert_eq!(messages(&bad).count(), 0);
        assert_eq!(attrs(&[8, 0, 1, 0]).count(), 0);
    }
}
