//! Mobility signalling sockets for a stock kernel (DESIGN.md facts 1-4).
//!
//! - [`RawRecvSocket`]: a raw IPv6 socket of one protocol that only
//!   receives. Protocol 60 (destination options) gets a copy of every BU
//!   with a Home Address option, which the kernel itself drops; protocol 43
//!   (routing) a copy of every BA with a type 2 routing header; protocol 135
//!   plain Mobility Headers (the kernel verifies their checksum at offset 4
//!   and silently drops bad ones). What it returns starts after the IPv6
//!   fixed header; [`RecvMeta::header`] rebuilds that header from the
//!   socket address and the ancillary data so `wire::exthdr::parse_payload`
//!   can walk the rest.
//! - [`RawSender`]: an IPPROTO_RAW socket (header included) for whole
//!   packets built with `wire::exthdr::Ipv6Repr`: the only way to send a
//!   type 2 routing header, which the kernel refuses as ancillary data.
//!   The upper-layer checksum must already be right (over the home address
//!   where a HAO or RH2 says so); the kernel touches nothing.

use std::io::{self, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use nix::sys::socket::{self, ControlMessageOwned, MsgFlags, SockaddrIn6};
use socket2::{Domain, Protocol, Socket, Type};

use crate::wire::exthdr::FixedHeader;

/// Where a received packet came from and went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    /// Octets in the buffer, from the first header after the fixed one.
    pub len: usize,
    pub src: Ipv6Addr,
    /// From IPV6_PKTINFO (`::` if the kernel gave none).
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    pub ifindex: u32,
    /// The protocol of the first octet of the buffer (the socket's).
    pub protocol: u8,
}

impl RecvMeta {
    /// The fixed header as the sender built it, as far as the socket tells
    /// (traffic class and flow label are lost).
    pub fn header(&self) -> FixedHeader {
        FixedHeader {
            traffic_class: 0,
            flow_label: 0,
            payload_len: u16::try_from(self.len).unwrap_or(u16::MAX),
            next_header: self.protocol,
            hop_limit: self.hop_limit,
            src: self.src,
            dst: self.dst,
        }
    }
}

/// A raw IPv6 socket of one protocol, for receiving.
#[derive(Debug)]
pub struct RawRecvSocket {
    sock: Socket,
    protocol: u8,
}

impl AsRawFd for RawRecvSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for RawRecvSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

fn ctx(what: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl RawRecvSocket {
    /// Opens a raw socket of `protocol` (43, 60, 135...) in the calling
    /// thread's namespace, receiving on every interface.
    pub fn open(protocol: u8) -> io::Result<Self> {
        let what = || format!("raw IPv6 socket of protocol {protocol}");
        let sock = Socket::new(
            Domain::IPV6,
            Type::RAW,
            Some(Protocol::from(i32::from(protocol))),
        )
        .map_err(ctx(what()))?;
        socket::setsockopt(&sock, socket::sockopt::Ipv6RecvPacketInfo, &true)
            .map_err(io::Error::from)
            .map_err(ctx(what()))?;
        socket::setsockopt(&sock, socket::sockopt::Ipv6RecvHopLimit, &true)
            .map_err(io::Error::from)
            .map_err(ctx(what()))?;
        // Room for bursts of BUs while the daemon is busy.
        let _ = sock.set_recv_buffer_size(1 << 20);
        Ok(Self { sock, protocol })
    }

    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// Only packets received on `ifname` from now on.
    pub fn bind_device(&self, ifname: &str) -> io::Result<()> {
        self.sock
            .bind_device(Some(ifname.as_bytes()))
            .map_err(ctx(format!(
                "bind protocol {} socket to {ifname}",
                self.protocol
            )))
    }

    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.sock.set_nonblocking(nonblocking)
    }

    /// Receives one packet's octets after its fixed header. A packet longer
    /// than `buf` fails with `InvalidData` (and is gone).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<RecvMeta> {
        let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = loop {
            match socket::recvmsg::<SockaddrIn6>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::empty(),
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.map_err(io::Error::from)?,
            }
        };
        if msg.flags.contains(MsgFlags::MSG_TRUNC) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("protocol {} packet larger than the buffer", self.protocol),
            ));
        }
        let mut meta = RecvMeta {
            len: msg.bytes,
            src: msg.address.map_or(Ipv6Addr::UNSPECIFIED, |a| a.ip()),
            dst: Ipv6Addr::UNSPECIFIED,
            hop_limit: 0,
            ifindex: 0,
            protocol: self.protocol,
        };
        for c in msg.cmsgs().map_err(io::Error::from)? {
            match c {
                ControlMessageOwned::Ipv6PacketInfo(p) => {
                    meta.dst = Ipv6Addr::from(p.ipi6_addr.s6_addr);
                    meta.ifindex = p.ipi6_ifindex;
                }
                ControlMessageOwned::Ipv6HopLimit(h) => {
                    meta.hop_limit = u8::try_from(h).unwrap_or(0);
                }
                _ => {}
            }
        }
        Ok(meta)
    }
}

/// An IPPROTO_RAW socket: sends whole IPv6 packets as built.
#[derive(Debug)]
pub struct RawSender {
    sock: Socket,
}

impl RawSender {
    pub fn open() -> io::Result<Self> {
        let sock = Socket::new(
            Domain::IPV6,
            Type::RAW,
            Some(Protocol::from(libc::IPPROTO_RAW)),
        )
        .map_err(ctx("IPPROTO_RAW socket".into()))?;
        Ok(Self { sock })
    }

    /// Sends `packet`, a whole IPv6 packet; the kernel routes it by its
    /// destination (`scope_id` for a link-local one). Returns the octets
    /// sent.
    pub fn send(&self, packet: &[u8], scope_id: u32) -> io::Result<usize> {
        let header = FixedHeader::parse(packet)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let to = SockaddrIn6::from(SocketAddrV6::new(header.dst, 0, 0, scope_id));
        loop {
            match socket::sendto(self.sock.as_raw_fd(), packet, &to, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => {
                    return r.map_err(io::Error::from).map_err(ctx(format!(
                        "send {} octets from {} to {}",
                        packet.len(),
                        header.src,
                        header.dst
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_rebuilds_the_header() {
        let m = RecvMeta {
            len: 48,
            src: "2001:db8:2::100".parse().expect("addr"),
            dst: "2001:db8:1::1".parse().expect("addr"),
            hop_limit: 63,
            ifindex: 2,
            protocol: 60,
        };
        let h = m.header();
        assert_eq!((h.next_header, h.payload_len, h.hop_limit), (60, 48, 63));
        assert_eq!((h.src, h.dst), (m.src, m.dst));
    }
}
