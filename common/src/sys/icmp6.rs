//! Neighbor Discovery sockets: a raw ICMPv6 socket bound to one interface.
//!
//! - Receive: an ICMP6_FILTER lets through only the ND types (133-137) or
//!   what [`NdSocket::set_filter`] names; every packet comes with its
//!   source, destination, hop limit and arrival interface (IPV6_RECVPKTINFO,
//!   IPV6_RECVHOPLIMIT). The kernel verifies the ICMPv6 checksum of what a
//!   raw ICMPv6 socket receives and silently drops bad ones.
//! - Send: hop limit 255 for unicast and multicast, IPV6_MULTICAST_LOOP off
//!   (our own multicast probes do not come back through the local stack;
//!   RFC 7527 nonces deal with links that loop them).
//!
//! # Sending from `::` (DAD probes, RFC 4862 5.4.2; RS without an address)
//!
//! Measured on Linux 6.18:
//!
//! - IPV6_PKTINFO with `ipi6_addr = ::` means "kernel, choose", and it
//!   chooses the interface's link-local address: the probe leaves with the
//!   wrong source.
//! - A header-included socket (IPPROTO_RAW, or IPV6_HDRINCL on the ICMPv6
//!   socket) does put our `::` on the wire, but the kernel still runs source
//!   address selection to route the packet and fails with EADDRNOTAVAIL
//!   when the interface has no usable address yet: exactly the case of the
//!   first DAD probe for a link-local address.
//! - An AF_PACKET SOCK_DGRAM socket hands the finished IPv6 packet to the
//!   driver with the link-layer header the kernel builds from the
//!   destination we give (33:33 + low 32 bits of the group on Ethernet,
//!   nothing on TUN and tunnels). No routing, no source selection, no local
//!   loopback: it works with or without addresses.
//!
//! So a multicast packet from `::` goes out through AF_PACKET (on Ethernet
//! and on links without link-layer header); a unicast one, or one on another
//! link type, through the IPPROTO_RAW socket (which needs some address on
//! the interface). Either way we build the IPv6 header and compute the
//! ICMPv6 checksum here. AF_PACKET frames bypass netfilter's IPv6 hooks.

use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{self, MsgFlags, SockaddrIn6};
use socket2::{Domain, Socket, Type};

use super::rawsock::{ctx, fd_through, raw_socket, recv_with_info, report_arrival, send_from};
pub use super::rawsock::{send_to_link, set_opt};
use crate::wire::checksum::{self, proto};

pub use super::rawsock::RecvInfo;

/// Router Solicitation to Redirect (RFC 4861 4).
pub const ND_TYPES: [u8; 5] = [133, 134, 135, 136, 137];
/// DHAAD request/reply, Mobile Prefix Solicitation/Advertisement (RFC 6275 6.5-6.8).
pub const MIPV6_TYPES: [u8; 4] = [144, 145, 146, 147];

const ICMPV6_FILTER: libc::c_int = 1; // linux/icmpv6.h
const IPV6_HEADER_LEN: usize = 40;

/// How a multicast packet from `::` reaches the link (from the ARPHRD_*
/// type of the interface, linux/if_arp.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkLayer {
    /// ARPHRD_ETHER: 33:33:xx:xx:xx:xx multicast MACs (RFC 2464 7).
    Ethernet,
    /// No link-layer header: ARPHRD_NONE (TUN), RAWIP, PPP, TUNNEL6, SIT,
    /// IP6GRE.
    Bare,
    /// Anything else: use the header-included IPv6 socket.
    Other,
}

impl LinkLayer {
    fn from_arphrd(t: u16) -> Self {
        match t {
            1 => Self::Ethernet,
            0xfffe | 519 | 512 | 769 | 776 | 823 => Self::Bare,
            _ => Self::Other,
        }
    }
}

/// A raw ICMPv6 socket for Neighbor Discovery on one interface.
#[derive(Debug)]
pub struct NdSocket {
    sock: Socket,
    /// Header-included IPv6 sender for unicast packets from `::`.
    raw: Socket,
    /// AF_PACKET SOCK_DGRAM sender for multicast packets from `::`.
    packet: Socket,
    link: LinkLayer,
    ifindex: u32,
    ifname: String,
}

fd_through!(NdSocket, sock);

fn to_io(e: nix::Error) -> io::Error {
    io::Error::from(e)
}

impl NdSocket {
    /// A blocking socket on `ifname` receiving the ND types (133-137).
    pub fn new(ifname: &str) -> io::Result<Self> {
        Self::with_types(ifname, &ND_TYPES)
    }

    /// Like [`NdSocket::new`], receiving exactly the ICMPv6 `types` (for
    /// instance `ND_TYPES` and `MIPV6_TYPES`).
    pub fn with_types(ifname: &str, types: &[u8]) -> io::Result<Self> {
        let ifindex = nix::net::if_::if_nametoindex(ifname)
            .map_err(to_io)
            .map_err(ctx(format!("ND socket on {ifname}")))?;
        let what = || format!("ND socket on {ifname}");
        let sock = raw_socket(libc::IPPROTO_ICMPV6).map_err(ctx(what()))?;
        // Filter first, so nothing else gets queued in the meantime.
        apply_filter(&sock, types).map_err(ctx(what()))?;
        let raw = raw_socket(libc::IPPROTO_RAW).map_err(ctx(what()))?;
        for s in [&sock, &raw] {
            s.bind_device(Some(ifname.as_bytes()))
                .map_err(ctx(what()))?;
            s.set_multicast_loop_v6(false).map_err(ctx(what()))?;
            s.set_multicast_if_v6(ifindex).map_err(ctx(what()))?;
            s.set_unicast_hops_v6(255).map_err(ctx(what()))?;
            s.set_multicast_hops_v6(255).map_err(ctx(what()))?;
        }
        // Protocol 0: this packet socket receives nothing, it only sends.
        let packet = Socket::new(Domain::PACKET, Type::DGRAM, None).map_err(ctx(what()))?;
        let link = LinkLayer::from_arphrd(arphrd(&sock, ifname).map_err(ctx(what()))?);
        report_arrival(&sock, true).map_err(ctx(what()))?;
        Ok(Self {
            sock,
            raw,
            packet,
            link,
            ifindex,
            ifname: ifname.to_owned(),
        })
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// Receive only the ICMPv6 `types` from now on.
    pub fn set_filter(&self, types: &[u8]) -> io::Result<()> {
        apply_filter(&self.sock, types)
            .map_err(ctx(format!("set ICMPv6 filter on {}", self.ifname)))
    }

    /// In non-blocking mode `recv` and `send` fail with `WouldBlock`
    /// instead of waiting (for tokio's `AsyncFd`).
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.sock.set_nonblocking(nonblocking)?;
        self.raw.set_nonblocking(nonblocking)?;
        self.packet.set_nonblocking(nonblocking)
    }

    /// Joins `group` on this interface. Joining a group already joined is
    /// not an error.
    pub fn join(&self, group: Ipv6Addr) -> io::Result<()> {
        if !group.is_multicast() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("join {group} on {}: not a multicast address", self.ifname),
            ));
        }
        match self.sock.join_multicast_v6(&group, self.ifindex) {
            Err(e) if e.raw_os_error() != Some(libc::EADDRINUSE) => {
                Err(ctx(format!("join {group} on {}", self.ifname))(e))
            }
            _ => Ok(()),
        }
    }

    /// Leaves `group`. Leaving a group not joined is not an error.
    pub fn leave(&self, group: Ipv6Addr) -> io::Result<()> {
        match self.sock.leave_multicast_v6(&group, self.ifindex) {
            Err(e) if e.raw_os_error() != Some(libc::EADDRNOTAVAIL) => {
                Err(ctx(format!("leave {group} on {}", self.ifname))(e))
            }
            _ => Ok(()),
        }
    }

    fn dst_addr(&self, dst: Ipv6Addr) -> SockaddrIn6 {
        SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, self.ifindex))
    }

    /// Sends one ICMPv6 message (checksum field zero or already computed:
    /// it is recomputed either way) to `dst` with hop limit 255.
    ///
    /// `src`: `None` lets the kernel choose; `Some(::)` sends from the
    /// unspecified address (DAD probes, RS without an address); `Some(a)`
    /// sends from `a`, which must be a usable address of this interface
    /// (else EINVAL). Returns the ICMPv6 bytes sent.
    pub fn send(&self, icmp: &[u8], src: Option<Ipv6Addr>, dst: Ipv6Addr) -> io::Result<usize> {
        if icmp.len() < 4 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ICMPv6 message shorter than 4 bytes",
            ));
        }
        let what = || format!("send ICMPv6 type {} to {dst} on {}", icmp[0], self.ifname);
        let to = self.dst_addr(dst);
        let fd = self.sock.as_raw_fd();
        match src {
            None => socket::sendto(fd, icmp, &to, MsgFlags::empty())
                .map_err(to_io)
                .map_err(ctx(what())),
            Some(s) if s.is_unspecified() => {
                self.send_from_unspecified(icmp, dst).map_err(ctx(what()))
            }
            Some(s) => send_from(&self.sock, icmp, s, dst, self.ifindex, None)
                .map_err(ctx(format!("{} from {s}", what()))),
        }
    }

    /// Builds the IPv6 header with source `::` and sends the packet through
    /// AF_PACKET (multicast) or the header-included socket (see the module
    /// notes).
    fn send_from_unspecified(&self, icmp: &[u8], dst: Ipv6Addr) -> io::Result<usize> {
        let packet = build_packet(&Ipv6Addr::UNSPECIFIED, &dst, 255, icmp)?;
        let n = match self.link {
            LinkLayer::Ethernet | LinkLayer::Bare if dst.is_multicast() => {
                let mut ll = [0u8; 8];
                let halen = if self.link == LinkLayer::Ethernet {
                    let o = dst.octets();
                    ll[..6].copy_from_slice(&[0x33, 0x33, o[12], o[13], o[14], o[15]]);
                    6
                } else {
                    0
                };
                self.send_packet(&packet, &ll, halen)?
            }
            _ => socket::sendto(
                self.raw.as_raw_fd(),
                &packet,
                &self.dst_addr(dst),
                MsgFlags::empty(),
            )
            .map_err(to_io)?,
        };
        Ok(n.saturating_sub(IPV6_HEADER_LEN))
    }

    /// Sends a whole IPv6 packet through the AF_PACKET socket to link-layer
    /// address `ll[..halen]`.
    fn send_packet(&self, packet: &[u8], ll: &[u8; 8], halen: u8) -> io::Result<usize> {
        let ll = ll.get(..usize::from(halen)).unwrap_or(ll);
        send_to_link(&self.packet, self.ifindex, packet, ll)
    }

    /// Receives one ICMPv6 message into `buf`. A message longer than `buf`
    /// fails with `InvalidData` (and is gone).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<RecvInfo> {
        recv_with_info(&self.sock, buf, || {
            format!("ICMPv6 message on {} larger than the buffer", self.ifname)
        })
    }
}

/// Sets ICMP6_FILTER on `sock` to pass exactly `types`. Public for the
/// home agent's DHAAD socket, which needs the same filter on a socket of
/// its own.
pub fn apply_filter(sock: &impl AsRawFd, types: &[u8]) -> io::Result<()> {
    // struct icmp6_filter: a set bit blocks the type (Linux semantics).
    let mut data = [u32::MAX; 8];
    for &t in types {
        data[usize::from(t >> 5)] &= !(1u32 << (t & 31));
    }
    set_opt(sock, libc::IPPROTO_ICMPV6, ICMPV6_FILTER, &data)
}

/// The ARPHRD_* type of `ifname` (SIOCGIFHWADDR).
fn arphrd(sock: &Socket, ifname: &str) -> io::Result<u16> {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    let name = ifname.as_bytes();
    if name.len() >= ifr.ifr_name.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    for (d, s) in ifr.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads ifr_name and writes ifr_hwaddr inside the
    // ifreq we pass.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &raw mut ifr) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: after SIOCGIFHWADDR the union holds ifru_hwaddr.
    Ok(unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_family })
}

/// An IPv6 packet carrying `icmp` (its checksum recomputed for `src`/`dst`).
pub fn build_packet(
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    hop_limit: u8,
    icmp: &[u8],
) -> io::Result<Vec<u8>> {
    let len = u16::try_from(icmp.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ICMPv6 message too long"))?;
    let mut p = Vec::with_capacity(IPV6_HEADER_LEN + icmp.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, traffic class 0, flow label 0
    p.extend_from_slice(&len.to_be_bytes());
    p.push(proto::ICMPV6);
    p.push(hop_limit);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(icmp);
    let body = &mut p[IPV6_HEADER_LEN..];
    body[2] = 0;
    body[3] = 0;
    let sum = checksum::upper_layer(src, dst, proto::ICMPV6, body);
    body[2..4].copy_from_slice(&sum.to_be_bytes());
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_layer_kinds() {
        assert_eq!(LinkLayer::from_arphrd(1), LinkLayer::Ethernet);
        assert_eq!(LinkLayer::from_arphrd(0xfffe), LinkLayer::Bare);
        assert_eq!(LinkLayer::from_arphrd(32), LinkLayer::Other); // InfiniBand
    }

    #[test]
    fn packet_has_header_and_valid_checksum() {
        let dst: Ipv6Addr = "ff02::1:ff00:1234".parse().expect("addr");
        // NS for fe80::1234 with a stale checksum the builder must replace.
        let mut ns = vec![135, 0, 0xab, 0xcd, 0, 0, 0, 0];
        ns.extend_from_slice(&"fe80::1234".parse::<Ipv6Addr>().expect("addr").octets());
        let p = build_packet(&Ipv6Addr::UNSPECIFIED, &dst, 255, &ns).expect("builds");
        assert_eq!(p.len(), 40 + 24);
        assert_eq!(p[0] >> 4, 6);
        assert_eq!(u16::from_be_bytes([p[4], p[5]]), 24);
        assert_eq!(p[6], 58);
        assert_eq!(p[7], 255);
        assert_eq!(&p[8..24], &[0u8; 16]);
        assert_eq!(&p[24..40], &dst.octets());
        assert!(checksum::verify(&Ipv6Addr::UNSPECIFIED, &dst, 58, &p[40..]));
    }
}
