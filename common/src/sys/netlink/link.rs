//! Links: index by name, state, up/down, MTU (RTM_GETLINK / RTM_NEWLINK with
//! `struct ifinfomsg`).

use std::io;

use super::msg::{self, MsgBuilder, c};
use super::{Netlink, Reply, ifname_or_index};

/// RFC 2863 operational state (IFLA_OPERSTATE, `IF_OPER_*` in linux/if.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperState {
    Unknown,
    NotPresent,
    Down,
    LowerLayerDown,
    Testing,
    Dormant,
    Up,
}

impl OperState {
    pub fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::NotPresent,
            2 => Self::Down,
            3 => Self::LowerLayerDown,
            4 => Self::Testing,
            5 => Self::Dormant,
            6 => Self::Up,
            _ => Self::Unknown,
        }
    }
}

/// What the kernel says about one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// Link-layer address; empty for links without one (TUN).
    pub mac: Vec<u8>,
    pub mtu: u32,
    /// IFF_UP: administratively up.
    pub up: bool,
    /// IFF_RUNNING: up and the driver says it can pass traffic.
    pub running: bool,
    /// IFLA_CARRIER (falls back to IFF_LOWER_UP when absent).
    pub carrier: bool,
    pub operstate: OperState,
}

/// `struct ifinfomsg` (16 bytes): family, pad, type, index, flags, change.
pub(super) fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = c::AF_UNSPEC;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

/// Parses an RTM_NEWLINK payload (ifinfomsg + IFLA_* attributes).
pub(super) fn parse_link(payload: &[u8]) -> Option<LinkInfo> {
    let index = msg::u32_at(payload, 4)?;
    let flags = msg::u32_at(payload, 8)?;
    let mut info = LinkInfo {
        index,
        name: String::new(),
        mac: Vec::new(),
        mtu: 0,
        up: flags & c::IFF_UP != 0,
        running: flags & c::IFF_RUNNING != 0,
        carrier: flags & c::IFF_LOWER_UP != 0,
        operstate: OperState::Unknown,
    };
    for (ty, v) in msg::attrs(payload.get(16..)?) {
        match ty {
            c::IFLA_IFNAME => info.name = msg::string(v),
            c::IFLA_ADDRESS => info.mac = v.to_vec(),
            c::IFLA_MTU => info.mtu = msg::u32_at(v, 0).unwrap_or(0),
            c::IFLA_CARRIER => info.carrier = v.first().is_some_and(|&b| b != 0),
            c::IFLA_OPERSTATE => info.operstate = OperState::from_u8(v.first().copied()?),
            _ => {}
        }
    }
    Some(info)
}

impl Netlink {
    /// The index of the link called `name`.
    pub fn link_index(&mut self, name: &str) -> io::Result<u32> {
        let req = MsgBuilder::new(c::RTM_GETLINK, c::NLM_F_ACK)
            .header(&ifinfomsg(0, 0, 0))
            .attr_str(c::IFLA_IFNAME, name);
        let mut found = None;
        self.transact(
            req,
            Reply::Get,
            &|| format!("look up link {name}"),
            &mut |ty, p| {
                if ty == c::RTM_NEWLINK {
                    found = parse_link(p).map(|l| l.index);
                }
            },
        )?;
        found.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("look up link {name}: no answer"),
            )
        })
    }

    /// State of link `index`.
    pub fn link_info(&mut self, index: u32) -> io::Result<LinkInfo> {
        let req = MsgBuilder::new(c::RTM_GETLINK, c::NLM_F_ACK).header(&ifinfomsg(index, 0, 0));
        let mut found = None;
        self.transact(
            req,
            Reply::Get,
            &|| format!("get link {}", ifname_or_index(index)),
            &mut |ty, p| {
                if ty == c::RTM_NEWLINK {
                    found = parse_link(p);
                }
            },
        )?;
        found.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("get link if#{index}: no answer"),
            )
        })
    }

    /// Every link in the namespace.
    pub fn links(&mut self) -> io::Result<Vec<LinkInfo>> {
        let req = MsgBuilder::new(c::RTM_GETLINK, c::NLM_F_DUMP).header(&ifinfomsg(0, 0, 0));
        let mut out = Vec::new();
        self.transact(req, Reply::Dump, &|| "list links".into(), &mut |ty, p| {
            if ty == c::RTM_NEWLINK {
                out.extend(parse_link(p));
            }
        })?;
        Ok(out)
    }

    fn set_flags(&mut self, index: u32, up: bool) -> io::Result<()> {
        let flags = if up { c::IFF_UP } else { 0 };
        let req = MsgBuilder::new(c::RTM_NEWLINK, c::NLM_F_ACK).header(&ifinfomsg(
            index,
            flags,
            c::IFF_UP,
        ));
        self.ack(req, &|| {
            format!(
                "set link {} {}",
                ifname_or_index(index),
                if up { "up" } else { "down" }
            )
        })
    }

    /// Administratively up (IFF_UP).
    pub fn set_link_up(&mut self, index: u32) -> io::Result<()> {
        self.set_flags(index, true)
    }

    /// Administratively down. Note: unless `keep_addr_on_down` is set, the
    /// kernel then flushes every IPv6 address of the link.
    pub fn set_link_down(&mut self, index: u32) -> io::Result<()> {
        self.set_flags(index, false)
    }

    /// Sets the link MTU (IFLA_MTU). Below 1280 the kernel removes every
    /// IPv6 address of the link.
    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> io::Result<()> {
        let req = MsgBuilder::new(c::RTM_NEWLINK, c::NLM_F_ACK)
            .header(&ifinfomsg(index, 0, 0))
            .attr_u32(c::IFLA_MTU, mtu);
        self.ack(req, &|| {
            format!("set mtu {mtu} on {}", ifname_or_index(index))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_newlink() {
        // ifinfomsg: AF_UNSPEC, type 1 (ether), index 4, flags UP|RUNNING|LOWER_UP.
        let mut p = Vec::new();
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(&1u16.to_ne_bytes());
        p.extend_from_slice(&4u32.to_ne_bytes());
        p.extend_from_slice(&(c::IFF_UP | c::IFF_RUNNING | c::IFF_LOWER_UP).to_ne_bytes());
        p.extend_from_slice(&0u32.to_ne_bytes());
        let m = MsgBuilder::new(c::RTM_NEWLINK, 0)
            .header(&p)
            .attr_str(c::IFLA_IFNAME, "veth0")
            .attr_u32(c::IFLA_MTU, 1500)
            .attr(c::IFLA_ADDRESS, &[2, 0, 0, 0, 0, 1])
            .attr(c::IFLA_CARRIER, &[0])
            .attr(c::IFLA_OPERSTATE, &[3])
            .finish(1);
        let l = parse_link(&m[16..]).expect("parses");
        assert_eq!(l.index, 4);
        assert_eq!(l.name, "veth0");
        assert_eq!(l.mtu, 1500);
        assert_eq!(l.mac, vec![2, 0, 0, 0, 0, 1]);
        assert!(l.up && l.running);
        assert!(!l.carrier, "IFLA_CARRIER wins over IFF_LOWER_UP");
        assert_eq!(l.operstate, OperState::LowerLayerDown);
    }
}
