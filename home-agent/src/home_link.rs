//! Mobility Headers on the home link at the link layer (RFC 6275 9.5.4,
//! 10.3.2).
//!
//! A mobile node on its home link sends its BUs from its home address,
//! which we may still defend (proxy ND) and route into the tunnel. A BA sent
//! the ordinary way would follow that route into the tunnel, to the old
//! care-of address, and never reach the node. RFC 6275 sends such a BA
//! straight to the node's link-layer address. The kernel's raw sockets do
//! not tell a packet's source MAC, so an AF_PACKET socket on the home
//! interface, filtered in the kernel to IPv6 packets whose first next
//! header is the Mobility Header, learns it from the BU itself; the BA then
//! leaves through the same socket to that MAC, bypassing routing and ND.

use std::collections::HashMap;
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const ETH_P_IPV6: u16 = 0x86dd;
/// Learned sources at most: an attacker on the home link can fill it, and
/// then it starts again (the next BU teaches its sender anew).
const MAX_ENTRIES: usize = 4096;

#[derive(Debug)]
pub struct HomeLinkMh {
    fd: OwnedFd,
    ifindex: u32,
    macs: HashMap<Ipv6Addr, [u8; 6]>,
}

impl HomeLinkMh {
    pub fn open(ifindex: u32) -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_IPV6.to_be()),
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // Only IPv6 packets whose Next Header is 135 (a BU from home has
        // no extension header): byte 6 of the network header.
        let mut code = [
            libc::sock_filter {
                code: (libc::BPF_LD | libc::BPF_B | libc::BPF_ABS) as u16,
                jt: 0,
                jf: 0,
                k: 6,
            },
            libc::sock_filter {
                code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
                jt: 0,
                jf: 1,
                k: 135,
            },
            libc::sock_filter {
                code: (libc::BPF_RET | libc::BPF_K) as u16,
                jt: 0,
                jf: 0,
                k: 0xffff,
            },
            libc::sock_filter {
                code: (libc::BPF_RET | libc::BPF_K) as u16,
                jt: 0,
                jf: 0,
                k: 0,
            },
        ];
        let prog = libc::sock_fprog {
            len: code.len() as u16,
            filter: code.as_mut_ptr(),
        };
        // SAFETY: `prog` points at `code`, both live for the call.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&raw const prog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut sll = sockaddr_ll(ifindex);
        sll.sll_protocol = ETH_P_IPV6.to_be();
        // SAFETY: `sll` is a live sockaddr_ll of the length given.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            fd,
            ifindex,
            macs: HashMap::new(),
        })
    }

    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Reads every queued frame and remembers the MAC of each IPv6 source.
    pub fn drain(&mut self) {
        let mut buf = [0u8; 64];
        loop {
            let mut sll = sockaddr_ll(0);
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: `buf` and `sll` are live and writable for the lengths
            // given; a longer frame is truncated (MSG_TRUNC unused).
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&raw mut sll).cast(),
                    &raw mut len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            let n = n as usize;
            if n < 40 || sll.sll_pkttype == libc::PACKET_OUTGOING || sll.sll_halen != 6 {
                continue;
            }
            let Ok(src) = <[u8; 16]>::try_from(&buf[8..24]) else {
                continue;
            };
            let src = Ipv6Addr::from(src);
            if self.macs.len() >= MAX_ENTRIES && !self.macs.contains_key(&src) {
                self.macs.clear();
            }
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&sll.sll_addr[..6]);
            self.macs.insert(src, mac);
        }
    }

    /// The link-layer address the last Mobility Header from `src` came from.
    pub fn mac_of(&self, src: &Ipv6Addr) -> Option<[u8; 6]> {
        self.macs.get(src).copied()
    }

    /// Sends the whole IPv6 `packet` to `mac` on the home link.
    pub fn send(&self, packet: &[u8], mac: [u8; 6]) -> io::Result<()> {
        mip6_common::sys::icmp6::send_to_link(&self.fd, self.ifindex, packet, &mac).map(drop)
    }
}

fn sockaddr_ll(ifindex: u32) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::sa_family_t;
    sll.sll_ifindex = i32::try_from(ifindex).unwrap_or(0);
    sll
}
