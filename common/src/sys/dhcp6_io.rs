//! The DHCPv6 client's UDP socket on one interface: port 546, to the
//! servers' multicast group ff02::1:2 port 547 (RFC 8415 7.1, 7.2).

use crate::dhcp6::{CLIENT_PORT, SERVER_PORT};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// See the module docs.
#[derive(Debug)]
pub struct Dhcp6Socket {
    sock: UdpSocket,
    ifindex: u32,
    buf: Vec<u8>,
}

impl Dhcp6Socket {
    /// Port 546 on every address of `ifname` and only there: bound to the
    /// device rather than to its link-local address, because that address
    /// is remade (and briefly absent) on every link change while the socket
    /// lives on. The kernel picks the link-local as the source for the
    /// link-scoped group, as RFC 8415 13.1 asks. Several interfaces can
    /// each hold one.
    pub fn open(ifname: &str, ifindex: u32) -> io::Result<Self> {
        let sock = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
        sock.set_only_v6(true)?;
        sock.set_reuse_address(true)?;
        sock.bind_device(Some(ifname.as_bytes()))?;
        sock.set_multicast_if_v6(ifindex)?;
        sock.set_multicast_hops_v6(1)?;
        sock.set_multicast_loop_v6(false)?;
        sock.bind(&SockAddr::from(SocketAddrV6::new(
            Ipv6Addr::UNSPECIFIED,
            CLIENT_PORT,
            0,
            0,
        )))?;
        sock.set_nonblocking(true)?;
        Ok(Self {
            sock: sock.into(),
            ifindex,
            buf: vec![0; 4096],
        })
    }

    pub fn send(&self, dst: Ipv6Addr, payload: &[u8]) -> io::Result<()> {
        let scope = if dst.segments()[0] & 0xffc0 == 0xfe80 || dst.segments()[0] & 0xff0f == 0xff02
        {
            self.ifindex
        } else {
            0
        };
        let to = SocketAddrV6::new(dst, SERVER_PORT, 0, scope);
        self.sock.send_to(payload, to).map(drop)
    }

    /// One datagram from a server (port 547) and its source, or `None`
    /// when nothing is waiting.
    pub fn recv(&mut self) -> io::Result<Option<(Ipv6Addr, Vec<u8>)>> {
        loop {
            match self.sock.recv_from(&mut self.buf) {
                Ok((n, SocketAddr::V6(from))) if from.port() == SERVER_PORT => {
                    return Ok(Some((*from.ip(), self.buf[..n].to_vec())));
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }
}

impl AsFd for Dhcp6Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl AsRawFd for Dhcp6Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}
