//! IPv6 routes (RTM_NEWROUTE / RTM_DELROUTE, `struct rtmsg`) and policy
//! rules (RTM_NEWRULE / RTM_DELRULE, `struct fib_rule_hdr`).

use std::fmt;
use std::io;
use std::net::Ipv6Addr;
use std::time::Duration;

use super::msg::{MsgBuilder, c};
use super::{Netlink, ifname_or_index};

/// The main routing table.
pub const TABLE_MAIN: u32 = c::RT_TABLE_MAIN;

/// An IPv6 unicast route. For deletion, unset optional fields match any
/// route with the same destination in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub dst: Ipv6Addr,
    pub dst_len: u8,
    pub gateway: Option<Ipv6Addr>,
    /// Outgoing interface index (required with a link-local gateway).
    pub oif: Option<u32>,
    /// Routing table; [`TABLE_MAIN`] is the main one.
    pub table: u32,
    /// RTA_PRIORITY; the kernel uses 1024 when unset.
    pub metric: Option<u32>,
    /// RTA_EXPIRES: whole seconds (rounded up) after which the kernel stops
    /// using the route; `None` never expires. Lookups ignore it from then
    /// on, but it stays listed (`expires -3sec`) until the next route GC
    /// (`net.ipv6.route.gc_interval`, 30 s) removes it.
    pub expires: Option<Duration>,
    /// RTA_PREFSRC: preferred source address.
    pub src: Option<Ipv6Addr>,
    /// rtm_protocol for additions (RTPROT_STATIC by default); routes made by
    /// a daemon can carry their own number so they can be found again.
    pub protocol: u8,
    /// Replace an existing route (NLM_F_REPLACE) instead of failing EEXIST.
    pub replace: bool,
    /// A lightweight tunnel on the route (additions only).
    pub encap: Option<RouteEncap>,
}

/// A lightweight tunnel (RTA_ENCAP): `encap bpf xmit fd FD headroom N`,
/// an eBPF `lwt_xmit` program run for every packet the route sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEncap {
    /// The loaded program; the route takes its own reference.
    pub prog_fd: i32,
    /// Its name, as `ip route` shows it (the kernel requires one).
    pub name: String,
    /// Octets the program may push (LWT_BPF_XMIT_HEADROOM); the kernel
    /// takes them off the route's MTU.
    pub headroom: u32,
}

impl RouteEncap {
    /// RTA_ENCAP_TYPE and the nested RTA_ENCAP payload (linux/lwtunnel.h).
    fn attrs(&self, m: MsgBuilder) -> MsgBuilder {
        const RTA_ENCAP_TYPE: u16 = 21;
        const RTA_ENCAP: u16 = 22;
        const LWTUNNEL_ENCAP_BPF: u16 = 6;
        const LWT_BPF_XMIT: u16 = 3;
        const LWT_BPF_XMIT_HEADROOM: u16 = 4;
        const LWT_BPF_PROG_FD: u16 = 1;
        const LWT_BPF_PROG_NAME: u16 = 2;
        const NLA_F_NESTED: u16 = 0x8000;
        let mut name = self.name.as_bytes().to_vec();
        name.push(0);
        let prog = [
            nested_attr(LWT_BPF_PROG_FD, &self.prog_fd.to_ne_bytes()),
            nested_attr(LWT_BPF_PROG_NAME, &name),
        ]
        .concat();
        let mut encap = nested_attr(LWT_BPF_XMIT | NLA_F_NESTED, &prog);
        if self.headroom > 0 {
            encap.extend(nested_attr(
                LWT_BPF_XMIT_HEADROOM,
                &self.headroom.to_ne_bytes(),
            ));
        }
        m.attr(RTA_ENCAP_TYPE, &LWTUNNEL_ENCAP_BPF.to_ne_bytes())
            .attr(RTA_ENCAP | NLA_F_NESTED, &encap)
    }
}

/// One attribute (struct rtattr) with its padding, for nesting.
fn nested_attr(ty: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
    let mut v = Vec::with_capacity(super::msg::align(4 + payload.len()));
    v.extend_from_slice(&len.to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize(super::msg::align(v.len()), 0);
    v
}

impl RouteSpec {
    /// A route to `dst/dst_len` in the main table, nothing else set.
    pub fn new(dst: Ipv6Addr, dst_len: u8) -> Self {
        Self {
            dst,
            dst_len,
            gateway: None,
            oif: None,
            table: TABLE_MAIN,
            metric: None,
            expires: None,
            src: None,
            protocol: c::RTPROT_STATIC,
            replace: false,
            encap: None,
        }
    }

    /// The default route `::/0` through `gateway` on `oif`.
    pub fn default_via(gateway: Ipv6Addr, oif: u32) -> Self {
        Self {
            gateway: Some(gateway),
            oif: Some(oif),
            ..Self::new(Ipv6Addr::UNSPECIFIED, 0)
        }
    }

    /// The on-link route `prefix/len` on `oif`.
    pub fn on_link(prefix: Ipv6Addr, len: u8, oif: u32) -> Self {
        Self {
            oif: Some(oif),
            ..Self::new(prefix, len)
        }
    }

    fn request(&self, add: bool) -> MsgBuilder {
        // struct rtmsg (12 bytes): family, dst_len, src_len, tos, table,
        // protocol, scope, type, flags (u32).
        let mut h = [0u8; 12];
        h[0] = c::AF_INET6;
        h[1] = self.dst_len;
        h[4] = u8::try_from(self.table).unwrap_or(c::RT_TABLE_UNSPEC);
        if add {
            h[5] = self.protocol;
            h[6] = c::RT_SCOPE_UNIVERSE;
            h[7] = c::RTN_UNICAST;
        } else {
            // As iproute2 does: protocol 0 matches any, scope NOWHERE.
            h[5] = c::RTPROT_UNSPEC;
            h[6] = c::RT_SCOPE_NOWHERE;
            h[7] = c::RTN_UNSPEC;
        }
        let (ty, flags) = if add {
            let f = if self.replace {
                c::NLM_F_REPLACE
            } else {
                c::NLM_F_EXCL
            };
            (c::RTM_NEWROUTE, c::NLM_F_ACK | c::NLM_F_CREATE | f)
        } else {
            (c::RTM_DELROUTE, c::NLM_F_ACK)
        };
        let mut m = MsgBuilder::new(ty, flags)
            .header(&h)
            .attr_u32(c::RTA_TABLE, self.table);
        if self.dst_len > 0 {
            m = m.attr_addr(c::RTA_DST, &self.dst);
        }
        if let Some(g) = &self.gateway {
            m = m.attr_addr(c::RTA_GATEWAY, g);
        }
        if let Some(oif) = self.oif {
            m = m.attr_u32(c::RTA_OIF, oif);
        }
        if let Some(metric) = self.metric {
            m = m.attr_u32(c::RTA_PRIORITY, metric);
        }
        if add {
            if let Some(src) = &self.src {
                m = m.attr_addr(c::RTA_PREFSRC, src);
            }
            if let Some(e) = self.expires {
                m = m.attr_u32(c::RTA_EXPIRES, super::addr::lifetime_secs(Some(e)));
            }
            if let Some(e) = &self.encap {
                m = e.attrs(m);
            }
        }
        m
    }
}

impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dst_len == 0 {
            write!(f, "default")?;
        } else {
            write!(f, "{}/{}", self.dst, self.dst_len)?;
        }
        if let Some(g) = &self.gateway {
            write!(f, " via {g}")?;
        }
        if let Some(oif) = self.oif {
            write!(f, " dev {}", ifname_or_index(oif))?;
        }
        if self.table != TABLE_MAIN {
            write!(f, " table {}", self.table)?;
        }
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        Ok(())
    }
}

/// An IPv6 policy rule "from `src` lookup `table`" (FR_ACT_TO_TBL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// Source prefix to match; `None` matches every source.
    pub src: Option<(Ipv6Addr, u8)>,
    pub table: u32,
    /// FRA_PRIORITY (lower is consulted first). Unset: the kernel picks one
    /// just below the first existing rule; for deletion, matches any.
    pub priority: Option<u32>,
}

impl RuleSpec {
    fn request(&self, add: bool) -> MsgBuilder {
        // struct fib_rule_hdr (12 bytes): family, dst_len, src_len, tos,
        // table, res1, res2, action, flags (u32).
        let mut h = [0u8; 12];
        h[0] = c::AF_INET6;
        h[2] = self.src.map_or(0, |(_, l)| l);
        h[4] = u8::try_from(self.table).unwrap_or(c::RT_TABLE_UNSPEC);
        h[7] = c::FR_ACT_TO_TBL;
        let (ty, flags) = if add {
            (
                c::RTM_NEWRULE,
                c::NLM_F_ACK | c::NLM_F_CREATE | c::NLM_F_EXCL,
            )
        } else {
            (c::RTM_DELRULE, c::NLM_F_ACK)
        };
        let mut m = MsgBuilder::new(ty, flags)
            .header(&h)
            .attr_u32(c::FRA_TABLE, self.table);
        if let Some((a, _)) = &self.src {
            m = m.attr_addr(c::FRA_SRC, a);
        }
        if let Some(p) = self.priority {
            m = m.attr_u32(c::FRA_PRIORITY, p);
        }
        m
    }
}

impl fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.src {
            Some((a, l)) => write!(f, "from {a}/{l}")?,
            None => write!(f, "from all")?,
        }
        write!(f, " lookup {}", self.table)?;
        if let Some(p) = self.priority {
            write!(f, " priority {p}")?;
        }
        Ok(())
    }
}

impl Netlink {
    /// Adds (or with `replace`, replaces) an IPv6 route.
    pub fn add_route(&mut self, r: &RouteSpec) -> io::Result<()> {
        let verb = if r.replace { "replace" } else { "add" };
        self.ack(r.request(true), &|| format!("{verb} route {r}"))
    }

    /// Deletes an IPv6 route.
    pub fn del_route(&mut self, r: &RouteSpec) -> io::Result<()> {
        self.ack(r.request(false), &|| format!("delete route {r}"))
    }

    /// Adds an IPv6 policy rule; EEXIST when an identical one exists.
    pub fn add_rule(&mut self, r: &RuleSpec) -> io::Result<()> {
        self.ack(r.request(true), &|| format!("add rule {r}"))
    }

    /// Deletes an IPv6 policy rule.
    pub fn del_rule(&mut self, r: &RuleSpec) -> io::Result<()> {
        self.ack(r.request(false), &|| format!("delete rule {r}"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::msg;
    use super::*;

    #[test]
    fn route_layout() {
        let r = RouteSpec {
            expires: Some(Duration::from_secs(1800)),
            table: 100,
            metric: Some(5),
            ..RouteSpec::default_via("fe80::1".parse().expect("addr"), 3)
        };
        let m = r.request(true).finish(1);
        assert_eq!(&m[16..24], &[10, 0, 0, 0, 100, c::RTPROT_STATIC, 0, 1][..]);
        let a: Vec<_> = msg::attrs(&m[28..]).map(|(t, _)| t).collect();
        assert_eq!(
            a,
            vec![
                c::RTA_TABLE,
                c::RTA_GATEWAY,
                c::RTA_OIF,
                c::RTA_PRIORITY,
                c::RTA_EXPIRES
            ]
        );
        let d = r.request(false).finish(2);
        let a: Vec<_> = msg::attrs(&d[28..]).map(|(t, _)| t).collect();
        assert_eq!(
            a,
            vec![c::RTA_TABLE, c::RTA_GATEWAY, c::RTA_OIF, c::RTA_PRIORITY]
        );
    }

    /// `ip -6 route add ... encap bpf xmit fd 7 name mip6_encap headroom
    /// 40` as iproute2 lays it out (linux/lwtunnel.h): RTA_ENCAP_TYPE 21 =
    /// LWTUNNEL_ENCAP_BPF 6, RTA_ENCAP 22 (nested) holding LWT_BPF_XMIT 3
    /// (nested: PROG_FD 1, PROG_NAME 2) and LWT_BPF_XMIT_HEADROOM 4. Only
    /// additions carry it.
    #[test]
    fn bpf_encapsulation_layout() {
        let r = RouteSpec {
            oif: Some(9),
            encap: Some(RouteEncap {
                prog_fd: 7,
                name: "mip6_encap".into(),
                headroom: 40,
            }),
            ..RouteSpec::new("2001:db8::100".parse().expect("addr"), 128)
        };
        let m = r.request(true).finish(1);
        let attrs: Vec<(u16, Vec<u8>)> =
            msg::attrs(&m[28..]).map(|(t, p)| (t, p.to_vec())).collect();
        let get = |ty: u16| {
            attrs
                .iter()
                .find(|(t, _)| t & c::NLA_TYPE_MASK == ty)
                .map(|(_, p)| p.clone())
                .expect("attribute")
        };
        assert_eq!(get(21), 6u16.to_ne_bytes());
        let encap = get(22);
        let inner: Vec<(u16, Vec<u8>)> = msg::attrs(&encap).map(|(t, p)| (t, p.to_vec())).collect();
        assert_eq!(inner.len(), 2);
        assert_eq!(inner[0].0, 3, "LWT_BPF_XMIT");
        assert_eq!(
            u16::from_ne_bytes([encap[2], encap[3]]),
            3 | 0x8000,
            "flagged NLA_F_NESTED"
        );
        assert_eq!((inner[1].0, &inner[1].1[..]), (4, &40u32.to_ne_bytes()[..]));
        let prog: Vec<(u16, Vec<u8>)> = msg::attrs(&inner[0].1)
            .map(|(t, p)| (t, p.to_vec()))
            .collect();
        assert_eq!(
            prog,
            vec![
                (1, 7i32.to_ne_bytes().to_vec()),
                (2, b"mip6_encap\0".to_vec())
            ]
        );
        let d = r.request(false).finish(2);
        assert!(msg::attrs(&d[28..]).all(|(t, _)| t & c::NLA_TYPE_MASK != 22));
    }

    #[test]
    fn big_table_goes_in_attribute_only() {
        let r = RouteSpec {
            table: 1000,
            ..RouteSpec::new("2001:db8::".parse().expect("addr"), 32)
        };
        let m = r.request(true).finish(1);
        assert_eq!(m[20], c::RT_TABLE_UNSPEC);
        let (_, v) = msg::attrs(&m[28..]).next().expect("attr");
        assert_eq!(msg::u32_at(v, 0), Some(1000));
    }

    #[test]
    fn rule_layout() {
        let r = RuleSpec {
            src: Some(("2001:db8::5".parse().expect("addr"), 128)),
            table: 200,
            priority: Some(1000),
        };
        let m = r.request(true).finish(1);
        assert_eq!(
            &m[16..24],
            &[10, 0, 128, 0, 200, 0, 0, c::FR_ACT_TO_TBL][..]
        );
        let a: Vec<_> = msg::attrs(&m[28..]).map(|(t, _)| t).collect();
        assert_eq!(a, vec![c::FRA_TABLE, c::FRA_SRC, c::FRA_PRIORITY]);
        assert_eq!(
            r.to_string(),
            "from 2001:db8::5/128 lookup 200 priority 1000"
        );
    }
}
