//! IPv6 addresses: RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR with
//! `struct ifaddrmsg`, IFA_CACHEINFO lifetimes and the u32 IFA_FLAGS.

use std::io;
use std::net::Ipv6Addr;
use std::time::Duration;

use super::msg::{self, MsgBuilder, c};
use super::{Netlink, Reply, ifname_or_index};

/// How to add an address. The default is a permanent address with kernel
/// DAD (unless the interface's `accept_dad` is 0) and a prefix route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrOptions {
    /// Valid lifetime; `None` is infinite.
    pub valid: Option<Duration>,
    /// Preferred lifetime; `None` is infinite. Must not exceed `valid`.
    pub preferred: Option<Duration>,
    /// IFA_F_NODAD: the kernel does no DAD (ours did, or will).
    pub nodad: bool,
    /// IFA_F_OPTIMISTIC (RFC 4429). The kernel honours it only when it runs
    /// DAD itself with `optimistic_dad` on; with `nodad` it is dropped.
    pub optimistic: bool,
    /// IFA_F_HOMEADDRESS: a Mobile IPv6 home address (preferred as source).
    pub home_address: bool,
    /// IFA_F_NOPREFIXROUTE: do not add the on-link prefix route.
    pub noprefixroute: bool,
    /// Update lifetimes and flags of an existing address (NLM_F_REPLACE)
    /// instead of failing with EEXIST; creates it when absent.
    pub replace: bool,
}

/// IFA_F_* flags as the kernel reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AddrFlags(pub u32);

impl AddrFlags {
    pub fn tentative(self) -> bool {
        self.0 & c::IFA_F_TENTATIVE != 0
    }
    pub fn dadfailed(self) -> bool {
        self.0 & c::IFA_F_DADFAILED != 0
    }
    pub fn optimistic(self) -> bool {
        self.0 & c::IFA_F_OPTIMISTIC != 0
    }
    pub fn deprecated(self) -> bool {
        self.0 & c::IFA_F_DEPRECATED != 0
    }
    pub fn permanent(self) -> bool {
        self.0 & c::IFA_F_PERMANENT != 0
    }
    pub fn nodad(self) -> bool {
        self.0 & c::IFA_F_NODAD != 0
    }
    pub fn home_address(self) -> bool {
        self.0 & c::IFA_F_HOMEADDRESS != 0
    }
    pub fn noprefixroute(self) -> bool {
        self.0 & c::IFA_F_NOPREFIXROUTE != 0
    }
    pub fn temporary(self) -> bool {
        self.0 & c::IFA_F_SECONDARY != 0
    }
}

/// One IPv6 address as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressInfo {
    pub ifindex: u32,
    pub addr: Ipv6Addr,
    pub prefix_len: u8,
    /// RT_SCOPE_* (0 global, 253 link, 254 host).
    pub scope: u8,
    pub flags: AddrFlags,
    /// Remaining valid lifetime; `None` is infinite.
    pub valid: Option<Duration>,
    /// Remaining preferred lifetime; `None` is infinite.
    pub preferred: Option<Duration>,
}

/// A lifetime in whole seconds for IFA_CACHEINFO: `None` is infinity; a
/// finite lifetime is rounded up (a nonzero lifetime never becomes 0) and
/// kept below the infinity value.
pub(super) fn lifetime_secs(d: Option<Duration>) -> u32 {
    match d {
        None => c::INFINITY_LIFE_TIME,
        Some(d) => {
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            u32::try_from(secs)
                .unwrap_or(u32::MAX)
                .min(c::INFINITY_LIFE_TIME - 1)
        }
    }
}

fn lifetime(secs: u32) -> Option<Duration> {
    (secs != c::INFINITY_LIFE_TIME).then(|| Duration::from_secs(u64::from(secs)))
}

/// `struct ifaddrmsg` (8 bytes): family, prefixlen, flags (low 8 bits),
/// scope, index.
fn ifaddrmsg(ifindex: u32, prefix_len: u8, flags: u32) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[0] = c::AF_INET6;
    h[1] = prefix_len;
    h[2] = (flags & 0xff) as u8;
    h[3] = c::RT_SCOPE_UNIVERSE; // the kernel derives IPv6 scope itself
    h[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    h
}

/// Builds the RTM_NEWADDR request (exposed for the layout test).
pub(super) fn newaddr_request(
    ifindex: u32,
    addr: &Ipv6Addr,
    prefix_len: u8,
    opts: &AddrOptions,
) -> MsgBuilder {
    let flags = crate::wire::flag_word(
        0,
        &[
            (opts.nodad, c::IFA_F_NODAD),
            (opts.optimistic, c::IFA_F_OPTIMISTIC),
            (opts.home_address, c::IFA_F_HOMEADDRESS),
            (opts.noprefixroute, c::IFA_F_NOPREFIXROUTE),
        ],
    );
    let nl_flags = c::NLM_F_ACK
        | c::NLM_F_CREATE
        | if opts.replace {
            c::NLM_F_REPLACE
        } else {
            c::NLM_F_EXCL
        };
    // struct ifa_cacheinfo: ifa_prefered, ifa_valid, cstamp, tstamp.
    let mut ci = [0u8; 16];
    ci[0..4].copy_from_slice(&lifetime_secs(opts.preferred).to_ne_bytes());
    ci[4..8].copy_from_slice(&lifetime_secs(opts.valid).to_ne_bytes());
    MsgBuilder::new(c::RTM_NEWADDR, nl_flags)
        .header(&ifaddrmsg(ifindex, prefix_len, flags))
        .attr_addr(c::IFA_LOCAL, addr)
        .attr_addr(c::IFA_ADDRESS, addr)
        .attr(c::IFA_CACHEINFO, &ci)
        .attr_u32(c::IFA_FLAGS, flags)
}

/// Parses an RTM_NEWADDR/RTM_DELADDR payload; `None` for non-IPv6.
pub(super) fn parse_addr(payload: &[u8]) -> Option<AddressInfo> {
    if *payload.first()? != c::AF_INET6 {
        return None;
    }
    let mut info = AddressInfo {
        ifindex: msg::u32_at(payload, 4)?,
        addr: Ipv6Addr::UNSPECIFIED,
        prefix_len: payload[1],
        scope: *payload.get(3)?,
        flags: AddrFlags(u32::from(payload[2])),
        valid: None,
        preferred: None,
    };
    let mut local = None;
    for (ty, v) in msg::attrs(payload.get(8..)?) {
        match ty {
            c::IFA_ADDRESS => info.addr = msg::ipv6(v)?,
            c::IFA_LOCAL => local = msg::ipv6(v),
            c::IFA_FLAGS => info.flags = AddrFlags(msg::u32_at(v, 0)?),
            c::IFA_CACHEINFO => {
                info.preferred = lifetime(msg::u32_at(v, 0)?);
                info.valid = lifetime(msg::u32_at(v, 4)?);
            }
            _ => {}
        }
    }
    // With a peer, IFA_LOCAL is ours and IFA_ADDRESS the peer's.
    if let Some(l) = local {
        info.addr = l;
    }
    Some(info)
}

impl Netlink {
    /// Adds an IPv6 address, or with `opts.replace` updates its lifetimes
    /// and flags.
    pub fn add_address(
        &mut self,
        ifindex: u32,
        addr: Ipv6Addr,
        prefix_len: u8,
        opts: &AddrOptions,
    ) -> io::Result<()> {
        let req = newaddr_request(ifindex, &addr, prefix_len, opts);
        let verb = if opts.replace { "replace" } else { "add" };
        self.ack(req, &|| {
            format!(
                "{verb} address {addr}/{prefix_len} on {}",
                ifname_or_index(ifindex)
            )
        })
    }

    /// Removes an IPv6 address.
    pub fn del_address(&mut self, ifindex: u32, addr: Ipv6Addr, prefix_len: u8) -> io::Result<()> {
        let req = MsgBuilder::new(c::RTM_DELADDR, c::NLM_F_ACK)
            .header(&ifaddrmsg(ifindex, prefix_len, 0))
            .attr_addr(c::IFA_LOCAL, &addr)
            .attr_addr(c::IFA_ADDRESS, &addr);
        self.ack(req, &|| {
            format!(
                "delete address {addr}/{prefix_len} on {}",
                ifname_or_index(ifindex)
            )
        })
    }

    /// The IPv6 addresses of link `ifindex` (every link when 0).
    pub fn list_addresses(&mut self, ifindex: u32) -> io::Result<Vec<AddressInfo>> {
        let req = MsgBuilder::new(c::RTM_GETADDR, c::NLM_F_DUMP).header(&ifaddrmsg(ifindex, 0, 0));
        let mut out = Vec::new();
        self.transact(
            req,
            Reply::Dump,
            &|| format!("list addresses on {}", ifname_or_index(ifindex)),
            &mut |ty, p| {
                if ty == c::RTM_NEWADDR
                    && let Some(a) = parse_addr(p)
                    && (ifindex == 0 || a.ifindex == ifindex)
                {
                    out.push(a);
                }
            },
        )?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_round_up_and_cap() {
        assert_eq!(lifetime_secs(None), 0xffff_ffff);
        assert_eq!(lifetime_secs(Some(Duration::ZERO)), 0);
        assert_eq!(lifetime_secs(Some(Duration::from_millis(1))), 1);
        assert_eq!(lifetime_secs(Some(Duration::from_secs(7200))), 7200);
        assert_eq!(
            lifetime_secs(Some(Duration::from_secs(u64::MAX))),
            0xffff_fffe
        );
    }

    #[test]
    fn newaddr_layout() {
        // RTM_NEWADDR for 2001:db8::1/64 on index 2, NODAD, valid 600 s,
        // preferred 300 s: nlmsghdr(16) ifaddrmsg(8) IFA_LOCAL(20)
        // IFA_ADDRESS(20) IFA_CACHEINFO(20) IFA_FLAGS(8).
        let a: Ipv6Addr = "2001:db8::1".parse().expect("addr");
        let opts = AddrOptions {
            valid: Some(Duration::from_secs(600)),
            preferred: Some(Duration::from_secs(300)),
            nodad: true,
            ..AddrOptions::default()
        };
        let m = newaddr_request(2, &a, 64, &opts).finish(9);
        assert_eq!(m.len(), 16 + 8 + 20 + 20 + 20 + 8);
        assert_eq!(
            msg::u16_at(&m, 6),
            Some(c::NLM_F_REQUEST | c::NLM_F_ACK | c::NLM_F_CREATE | c::NLM_F_EXCL)
        );
        assert_eq!(&m[16..24], &[10, 64, 0x02, 0, 2, 0, 0, 0][..]);
        let attrs: Vec<_> = msg::attrs(&m[24..]).collect();
        assert_eq!(attrs[0], (c::IFA_LOCAL, &a.octets()[..]));
        assert_eq!(attrs[1], (c::IFA_ADDRESS, &a.octets()[..]));
        assert_eq!(attrs[2].0, c::IFA_CACHEINFO);
        assert_eq!(msg::u32_at(attrs[2].1, 0), Some(300));
        assert_eq!(msg::u32_at(attrs[2].1, 4), Some(600));
        assert_eq!(attrs[3], (c::IFA_FLAGS, &2u32.to_ne_bytes()[..]));
        // Our own parser reads it back (as the kernel's echo would look).
        let info = parse_addr(&m[16..]).expect("parses");
        assert_eq!(info.addr, a);
        assert_eq!(info.prefix_len, 64);
        assert!(info.flags.nodad());
        assert_eq!(info.valid, Some(Duration::from_secs(600)));
        assert_eq!(info.preferred, Some(Duration::from_secs(300)));
    }

    #[test]
    fn replace_uses_nlm_f_replace() {
        let a = Ipv6Addr::LOCALHOST;
        let opts = AddrOptions {
            replace: true,
            home_address: true,
            noprefixroute: true,
            ..AddrOptions::default()
        };
        let m = newaddr_request(1, &a, 128, &opts).finish(1);
        assert_eq!(
            msg::u16_at(&m, 6),
            Some(c::NLM_F_REQUEST | c::NLM_F_ACK | c::NLM_F_CREATE | c::NLM_F_REPLACE)
        );
        let flags = msg::attrs(&m[24..])
            .find(|(t, _)| *t == c::IFA_FLAGS)
            .and_then(|(_, v)| msg::u32_at(v, 0));
        assert_eq!(flags, Some(c::IFA_F_HOMEADDRESS | c::IFA_F_NOPREFIXROUTE));
        // IFA_F_NOPREFIXROUTE does not fit the u8 ifa_flags: only in IFA_FLAGS.
        assert_eq!(m[18], c::IFA_F_HOMEADDRESS as u8);
    }
}
