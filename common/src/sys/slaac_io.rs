//! Carries out the SLAAC engine's actions on one Linux interface and feeds
//! it what the interface receives: the I/O shell around
//! [`crate::slaac::Slaac`].

use super::icmp6::NdSocket;
use super::netlink::{AddrOptions, Netlink, RouteSpec, ignore_missing};
use super::sysctl::SysctlGuard;
use crate::slaac::from_nd::{dad_probe, ra_info, router_solicit};
use crate::slaac::{Action, Slaac};
use crate::wire::nd::{
    ALL_ROUTERS, LinkLayerAddress, NdOption, NdOptions, NdRepr, NeighborAdvert,
    solicited_node_multicast,
};
use std::collections::HashMap;
use std::io;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Why a received packet was not given to the engine; counted, never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    Malformed(String),
    Invalid(String),
    NotForEngine,
}

/// One managed interface: its ND socket, netlink, and the sysctls changed
/// on it (restored when this is dropped).
#[derive(Debug)]
pub struct SlaacIo {
    pub ifname: String,
    pub ifindex: u32,
    pub mac: Option<[u8; 6]>,
    nl: Netlink,
    nd: NdSocket,
    guard: SysctlGuard,
    buf: Vec<u8>,
    /// The link-layer addresses the latest Neighbor Solicitations from
    /// unicast sources carried (bounded), for the answers to them from an
    /// optimistic address: see [`Action::SendOptimisticNa`] in `apply`.
    solicitors: HashMap<Ipv6Addr, [u8; 6]>,
}

/// How many solicitors' link-layer addresses are remembered.
const MAX_SOLICITORS: usize = 64;

impl SlaacIo {
    /// Takes `ifname` over: the kernel stops configuring and probing
    /// addresses on it, and its kernel-made link-local addresses go (the
    /// engine makes its own).
    pub fn open(ifname: &str) -> io::Result<Self> {
        Self::open_with_journal(ifname, None)
    }

    /// [`SlaacIo::open`], keeping the original sysctls in `journal` too
    /// (see [`SysctlGuard::with_journal`]): what a killed run left there is
    /// restored before the interface is taken over again.
    pub fn open_with_journal(ifname: &str, journal: Option<PathBuf>) -> io::Result<Self> {
        let mut nl = Netlink::new()?;
        let ifindex = nl.link_index(ifname)?;
        let info = nl.link_info(ifindex)?;
        let mac = <[u8; 6]>::try_from(info.mac.as_slice()).ok();
        let mut guard = match journal {
            Some(j) => SysctlGuard::with_journal(j)?.0,
            None => SysctlGuard::new(),
        };
        guard.disable_kernel_autoconf(ifname)?;
        for a in nl.list_addresses(ifindex)? {
            if a.addr.is_unicast_link_local() {
                nl.del_address(ifindex, a.addr, a.prefix_len)?;
            }
        }
        let nd = NdSocket::new(ifname)?;
        nd.set_nonblocking(true)?;
        Ok(Self {
            ifname: ifname.to_string(),
            ifindex,
            mac,
            nl,
            nd,
            guard,
            buf: vec![0; 2048],
            solicitors: HashMap::new(),
        })
    }

    /// Whether the interface has carrier now.
    pub fn carrier(&mut self) -> io::Result<bool> {
        let info = self.nl.link_info(self.ifindex)?;
        Ok(info.up && info.carrier)
    }

    pub fn nd_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.nd.as_fd()
    }

    /// Does what the engine asked.
    pub fn apply(&mut self, action: &Action) -> io::Result<()> {
        let ifindex = self.ifindex;
        match action {
            Action::JoinGroup(g) => self.nd.join(*g),
            Action::LeaveGroup(g) => self.nd.leave(*g),
            Action::SendDadProbe { target, nonce } => {
                let msg = dad_probe(*target, *nonce).to_bytes().map_err(wire_err)?;
                self.nd
                    .send(
                        &msg,
                        Some(Ipv6Addr::UNSPECIFIED),
                        solicited_node_multicast(*target),
                    )
                    .map(drop)
            }
            Action::SendOptimisticNa { target, dst } => {
                // Unicast to the solicitor needs its link-layer address, and
                // the kernel would solicit it from the optimistic address,
                // which RFC 4429 3.3 forbids (the mobile node's nftables set
                // drops it): take it from the NS's option, as RFC 4861
                // 7.2.3 has the kernel do when the address is its own.
                if let Some(mac) = self.solicitors.get(dst) {
                    let _ = self.nl.set_neigh(ifindex, *dst, *mac);
                }
                let options = self
                    .mac
                    .map(|m| vec![NdOption::TargetLinkLayerAddr(LinkLayerAddress::from_mac(m))])
                    .unwrap_or_default();
                let na = NdRepr::NeighborAdvert(NeighborAdvert {
                    router: false,
                    solicited: true,
                    override_flag: false,
                    reserved: 0,
                    target: *target,
                    options,
                });
                let msg = na.to_bytes().map_err(wire_err)?;
                self.nd.send(&msg, Some(*target), *dst).map(drop)
            }
            Action::SendRs { src, include_sllao } => {
                let sllao = if *include_sllao { self.mac } else { None };
                let msg = router_solicit(sllao).to_bytes().map_err(wire_err)?;
                self.nd
                    .send(
                        &msg,
                        Some(src.unwrap_or(Ipv6Addr::UNSPECIFIED)),
                        ALL_ROUTERS,
                    )
                    .map(drop)
            }
            Action::ConfigureAddress {
                addr,
                prefix_len,
                valid,
                preferred,
                optimistic,
            } => {
                // RFC 4429 3.3: an optimistic address is used like a
                // deprecated one; the kernel ignores its optimistic flag
                // next to nodad, so preferred lifetime 0 says it instead.
                let preferred = if *optimistic {
                    Some(Duration::ZERO)
                } else {
                    *preferred
                };
                self.nl.add_address(
                    ifindex,
                    *addr,
                    *prefix_len,
                    &AddrOptions {
                        valid: *valid,
                        preferred,
                        nodad: true,
                        // The engine routes its prefixes itself; fe80::/64
                        // is the kernel's, and without it nothing can be
                        // sent to a link-local neighbour (ENETUNREACH: an
                        // optimistic address's own Neighbor Advertisement).
                        noprefixroute: !addr.is_unicast_link_local(),
                        replace: true,
                        ..AddrOptions::default()
                    },
                )
            }
            Action::RemoveAddress { addr, prefix_len } => {
                ignore_missing(self.nl.del_address(ifindex, *addr, *prefix_len))
            }
            Action::ConfigureDefaultRoute { router, lifetime } => self.nl.add_route(&RouteSpec {
                expires: Some(*lifetime),
                replace: true,
                ..RouteSpec::default_via(*router, ifindex)
            }),
            Action::RemoveDefaultRoute { router } => {
                ignore_missing(self.nl.del_route(&RouteSpec::default_via(*router, ifindex)))
            }
            Action::ConfigurePrefixRoute {
                prefix,
                prefix_len,
                lifetime,
            } => self.nl.add_route(&RouteSpec {
                expires: *lifetime,
                replace: true,
                ..RouteSpec::on_link(*prefix, *prefix_len, ifindex)
            }),
            Action::RemovePrefixRoute { prefix, prefix_len } => ignore_missing(
                self.nl
                    .del_route(&RouteSpec::on_link(*prefix, *prefix_len, ifindex)),
            ),
            Action::SetMtu(mtu) => self.nl.set_mtu(ifindex, *mtu),
            Action::DisableIpv6 => self.guard.set(&self.ifname, "disable_ipv6", "1"),
        }
    }

    /// Reads every packet waiting on the socket into the engine. Returns
    /// what was dropped and why, for the caller to count.
    pub fn receive(&mut self, engine: &mut Slaac, now: Instant) -> io::Result<Vec<Dropped>> {
        let mut dropped = Vec::new();
        loop {
            let info = match self.nd.recv(&mut self.buf) {
                Ok(i) => i,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            };
            let bytes = self.buf.get(..info.len).unwrap_or_default();
            let repr = match NdRepr::from_bytes(bytes) {
                Ok(r) => r,
                Err(e) => {
                    dropped.push(Dropped::Malformed(e.to_string()));
                    continue;
                }
            };
            if let Err(e) = repr.validate(&info.src, &info.dst, info.hop_limit) {
                dropped.push(Dropped::Invalid(e.to_string()));
                continue;
            }
            match &repr {
                NdRepr::RouterAdvert(ra) => engine.handle_ra(now, &ra_info(info.src, ra)),
                NdRepr::NeighborSolicit(ns) => {
                    if !info.src.is_unspecified()
                        && let Some(mac) = ns.options.source_lla().and_then(|a| a.mac())
                    {
                        if self.solicitors.len() >= MAX_SOLICITORS {
                            self.solicitors.clear();
                        }
                        self.solicitors.insert(info.src, mac);
                    }
                    engine.handle_ns(now, info.src, ns.target, ns.options.nonce())
                }
                NdRepr::NeighborAdvert(na) => engine.handle_na(now, na.target),
                _ => dropped.push(Dropped::NotForEngine),
            }
        }
        Ok(dropped)
    }

    /// Leaves the kernel's autoconfiguration off for good: the addresses the
    /// engine installed stay, and the kernel must not add a second set.
    pub fn keep_settings(&mut self) {
        self.guard.keep();
    }

    /// Puts the interface's sysctls back as they were.
    pub fn restore(&mut self) -> io::Result<()> {
        self.guard.restore()
    }
}

fn wire_err(e: crate::wire::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}
