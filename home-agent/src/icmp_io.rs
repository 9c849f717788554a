//! A raw ICMPv6 socket on every interface for Dynamic Home Agent Address
//! Discovery: requests reach the Home-Agents anycast address of a home
//! prefix (RFC 6275 10.5), which the socket joins (IPV6_JOIN_ANYCAST) so
//! the kernel takes packets for it as local, from whichever interface they
//! come. Replies leave from our unicast address (IPV6_PKTINFO); the kernel
//! fills the ICMPv6 checksum.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use mip6_common::sys::icmp6;
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn6};
use socket2::{Domain, Protocol, Socket, Type};

const IPV6_JOIN_ANYCAST: libc::c_int = 27;

#[derive(Debug)]
pub struct Icmp6Socket {
    sock: Socket,
}

impl AsFd for Icmp6Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl Icmp6Socket {
    /// A non-blocking socket receiving only the ICMPv6 `types`.
    pub fn open(types: &[u8]) -> io::Result<Self> {
        let sock = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
        icmp6::apply_filter(&sock, types)?;
        socket::setsockopt(&sock, socket::sockopt::Ipv6RecvPacketInfo, &true)?;
        sock.set_nonblocking(true)?;
        Ok(Self { sock })
    }

    /// Takes packets for the anycast `addr` (on `ifindex`) as ours.
    pub fn join_anycast(&self, addr: Ipv6Addr, ifindex: u32) -> io::Result<()> {
        let mreq = libc::ipv6_mreq {
            ipv6mr_multiaddr: libc::in6_addr {
                s6_addr: addr.octets(),
            },
            ipv6mr_interface: ifindex,
        };
        icmp6::set_opt(&self.sock, libc::IPPROTO_IPV6, IPV6_JOIN_ANYCAST, &mreq)
            .map_err(|e| io::Error::new(e.kind(), format!("join anycast {addr}: {e}")))
    }

    /// One message: its length, source and destination.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, Ipv6Addr, Ipv6Addr)> {
        let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = socket::recvmsg::<SockaddrIn6>(
            self.sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )?;
        let src = msg.address.map_or(Ipv6Addr::UNSPECIFIED, |a| a.ip());
        let mut dst = Ipv6Addr::UNSPECIFIED;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::Ipv6PacketInfo(p) = c {
                dst = Ipv6Addr::from(p.ipi6_addr.s6_addr);
            }
        }
        Ok((msg.bytes, src, dst))
    }

    /// Sends `icmp` from `src` to `dst` (checksum by the kernel).
    pub fn send(&self, icmp: &[u8], src: Ipv6Addr, dst: Ipv6Addr) -> io::Result<usize> {
        let info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: src.octets(),
            },
            ipi6_ifindex: 0,
        };
        let to = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, 0));
        Ok(socket::sendmsg(
            self.sock.as_raw_fd(),
            &[IoSlice::new(icmp)],
            &[ControlMessage::Ipv6PacketInfo(&info)],
            MsgFlags::empty(),
            Some(&to),
        )?)
    }
}
