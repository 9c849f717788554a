//! Mobility signalling sockets for a stock kernel (docs/ARCHITECTURE.md, kernel facts 1-4).
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

use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{self, MsgFlags, SockaddrIn6};
use socket2::Socket;

use super::rawsock::{ctx, fd_through, open_receiving, raw_socket, recv_with_info};
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

fd_through!(RawRecvSocket, sock);

impl RawRecvSocket {
    /// Opens a raw socket of `protocol` (43, 60, 135...) in the calling
    /// thread's namespace, receiving on every interface.
    pub fn open(protocol: u8) -> io::Result<Self> {
        let sock = open_receiving(protocol, true)?;
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
        let info = recv_with_info(&self.sock, buf, || {
            format!("protocol {} packet larger than the buffer", self.protocol)
        })?;
        Ok(RecvMeta {
            len: info.len,
            src: info.src,
            dst: info.dst,
            hop_limit: info.hop_limit,
            ifindex: info.ifindex,
            protocol: self.protocol,
        })
    }
}

/// An IPPROTO_RAW socket: sends whole IPv6 packets as built.
#[derive(Debug)]
pub struct RawSender {
    sock: Socket,
}

impl RawSender {
    pub fn open() -> io::Result<Self> {
        let sock = raw_socket(libc::IPPROTO_RAW).map_err(ctx("IPPROTO_RAW socket".into()))?;
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
