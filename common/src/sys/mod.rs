#![cfg(target_os = "linux")]

//! Linux I/O for the daemons: rtnetlink, Neighbor Discovery sockets and
//! per-interface sysctls. Thin and synchronous: every socket type exposes
//! `AsRawFd`/`AsFd` and a non-blocking mode so the daemons can wrap it in
//! tokio's `AsyncFd`. Everything acts on the network namespace of the
//! calling thread.
//!
//! How the SLAAC engine's [`Action`](crate::slaac::Action)s map onto it
//! (`nl` a [`netlink::Netlink`], `nd` the interface's [`icmp6::NdSocket`]):
//!
//! | action | call |
//! | --- | --- |
//! | `JoinGroup(g)` / `LeaveGroup(g)` | `nd.join(g)` / `nd.leave(g)` (both idempotent) |
//! | `SendDadProbe { target, nonce }` | `nd.send(ns, Some(Ipv6Addr::UNSPECIFIED), solicited_node(target))` |
//! | `SendRs { src, .. }` | `nd.send(rs, Some(src.unwrap_or(UNSPECIFIED)), ff02::2)` |
//! | `ConfigureAddress { .. }` | `nl.add_address(ifindex, addr, len, &AddrOptions { valid, preferred, nodad: true, noprefixroute: true, replace: true, .. })` |
//! | `RemoveAddress { .. }` | `nl.del_address(ifindex, addr, len)` |
//! | `ConfigureDefaultRoute { router, lifetime }` | `nl.add_route(&RouteSpec { expires: Some(lifetime), replace: true, ..RouteSpec::default_via(router, ifindex) })` |
//! | `RemoveDefaultRoute { router }` | `nl.del_route(&RouteSpec::default_via(router, ifindex))` |
//! | `ConfigurePrefixRoute { .. }` | `nl.add_route(&RouteSpec { expires: lifetime, replace: true, ..RouteSpec::on_link(prefix, len, ifindex) })` |
//! | `RemovePrefixRoute { .. }` | `nl.del_route(&RouteSpec::on_link(prefix, len, ifindex))` |
//! | `SetMtu(mtu)` | `nl.set_mtu(ifindex, mtu)` |
//! | `DisableIpv6` | `guard.set(ifname, "disable_ipv6", "1")` |
//!
//! Before any of it, `SysctlGuard::disable_kernel_autoconf(ifname)` keeps
//! the kernel from configuring and probing addresses itself.
//!
//! Kernel behaviour worth knowing (Linux 6.18):
//! - `nodad` drops `optimistic`: an address added with both is reported with
//!   IFA_F_NODAD only, and the kernel treats it as fully usable (it will
//!   answer NS for it with O=1). To keep the kernel from preferring an
//!   address as a source while our own DAD runs, add it deprecated
//!   (`preferred: Some(ZERO)`) and replace the lifetimes once DAD passes.
//! - IFA_F_HOMEADDRESS is stored and reported back, but source address
//!   selection only honours it with CONFIG_IPV6_MIP6: use RTA_PREFSRC on
//!   routes (`RouteSpec::src`) to make the home address the source.
//! - Adding an address without `noprefixroute` makes the kernel add its own
//!   prefix route (proto kernel, metric 256, expiring with the address);
//!   the engine's prefix routes (metric 1024) would then sit beside it.
//! - Setting a link down flushes all its IPv6 addresses (unless
//!   `keep_addr_on_down`); losing carrier does not.
//! - An MTU below 1280 removes every IPv6 address of the link.

pub mod dhcp6_io;
pub mod icmp6;
pub mod instance;
pub mod metrics_http;
pub mod mh_io;
pub mod mn_signal;
pub mod netlink;
pub mod nft;
pub mod radv_io;
mod rawsock;
pub mod slaac_io;
pub mod sysctl;
pub mod tun;

/// One step of draining a non-blocking socket: `Some(packet)`, or `None`
/// once the socket would block or the read failed (`on_error` logs it in
/// the caller's own words). Either ends this round of reads; the next
/// readiness starts another.
pub fn next_ready<T>(r: std::io::Result<T>, on_error: impl FnOnce(std::io::Error)) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Err(e) => {
            on_error(e);
            None
        }
    }
}
