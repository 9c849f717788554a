//! The tunnel socket: a raw IPv6 socket of protocol 41 (IPv6-in-IPv6).
//!
//! Sending, the kernel builds the outer header (docs/ARCHITECTURE.md, kernel fact 5): source
//! from the bound address (home agent) or from IPV6_PKTINFO per packet
//! (mobile node, whose care-of address changes), hop limit from
//! IPV6_UNICAST_HOPS, traffic class from IPV6_TCLASS (per packet when it
//! is copied from the inner one), flow label 0 (IPV6_AUTOFLOWLABEL off,
//! RFC 2473 6.6). IPV6_MTU_DISCOVER = PMTUDISC_DO makes a send larger than
//! the path MTU fail EMSGSIZE instead of being fragmented, and the kernel
//! updates that path MTU from the Packet Too Big messages routers send
//! about our tunnel packets (delivered to this socket, whose protocol they
//! quote, with IPV6_RECVERR).
//!
//! Receiving, the kernel hands over the inner packet only; the outer
//! source is the socket address and the outer traffic class comes with
//! IPV6_RECVTCLASS. While the socket is open the kernel sends no
//! Parameter Problem for protocol 41 (no tunnel module here).
//!
//! Batches go through sendmmsg/recvmmsg. Everything here is `unsafe` FFI
//! over buffers whose addresses are fixed for the duration of each call.

use std::io;
use std::mem;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::wire::checksum::proto;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn ctx(what: &'static str) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

pub(crate) fn sockaddr(addr: Ipv6Addr) -> libc::sockaddr_in6 {
    // SAFETY: sockaddr_in6 is plain old data.
    let mut sa: libc::sockaddr_in6 = unsafe { mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_addr.s6_addr = addr.octets();
    sa
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the pointer and length describe a live c_int.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const v).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn raw_socket(protocol: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain arguments; the result is checked.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_INET6,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            protocol,
        )
    })?;
    // SAFETY: a descriptor we just opened and own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) fn bind(fd: RawFd, addr: Ipv6Addr) -> io::Result<()> {
    let sa = sockaddr(addr);
    // SAFETY: the pointer and length describe `sa`.
    cvt(unsafe {
        libc::bind(
            fd,
            (&raw const sa).cast(),
            mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    })
    .map(drop)
    .map_err(|e| io::Error::new(e.kind(), format!("bind tunnel socket to {addr}: {e}")))
}

fn set_buffers(fd: RawFd, bytes: usize) {
    let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for (force, plain) in [
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
    ] {
        // The FORCE variants pass the rmem_max/wmem_max caps (root).
        if setsockopt_int(fd, libc::SOL_SOCKET, force, v).is_err() {
            let _ = setsockopt_int(fd, libc::SOL_SOCKET, plain, v);
        }
    }
}

/// Settings of [`TunnelSocket::open`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct SocketOptions {
    /// Bind to this address (home agent); `None` leaves the socket unbound
    /// and every packet names its source (mobile node).
    pub bind: Option<Ipv6Addr>,
    pub hop_limit: u8,
    /// Default outer traffic class.
    pub traffic_class: u8,
    pub buffer: usize,
    /// Also open an IPPROTO_RAW socket to send headers we build.
    pub header_included: bool,
}

/// The protocol-41 socket (and, for [`super::OuterHeader::Ours`], an
/// IPPROTO_RAW one to send through).
#[derive(Debug)]
pub(crate) struct TunnelSocket {
    fd: OwnedFd,
    hdrincl: Option<OwnedFd>,
}

impl TunnelSocket {
    pub(crate) fn open(o: &SocketOptions) -> io::Result<Self> {
        let fd = raw_socket(libc::c_int::from(proto::IPV6))
            .map_err(ctx("open protocol-41 raw socket"))?;
        let raw = fd.as_raw_fd();
        let v6 = libc::IPPROTO_IPV6;
        setsockopt_int(raw, v6, libc::IPV6_MTU_DISCOVER, libc::IPV6_PMTUDISC_DO)
            .map_err(ctx("IPV6_MTU_DISCOVER"))?;
        setsockopt_int(raw, v6, libc::IPV6_RECVERR, 1).map_err(ctx("IPV6_RECVERR"))?;
        setsockopt_int(raw, v6, libc::IPV6_UNICAST_HOPS, o.hop_limit.into())
            .map_err(ctx("IPV6_UNICAST_HOPS"))?;
        setsockopt_int(raw, v6, libc::IPV6_TCLASS, o.traffic_class.into())
            .map_err(ctx("IPV6_TCLASS"))?;
        setsockopt_int(raw, v6, libc::IPV6_RECVTCLASS, 1).map_err(ctx("IPV6_RECVTCLASS"))?;
        setsockopt_int(raw, v6, libc::IPV6_AUTOFLOWLABEL, 0).map_err(ctx("IPV6_AUTOFLOWLABEL"))?;
        set_buffers(raw, o.buffer);
        if let Some(a) = o.bind {
            bind(raw, a)?;
        }
        let hdrincl = if o.header_included {
            let h = raw_socket(libc::IPPROTO_RAW).map_err(ctx("open IPPROTO_RAW socket"))?;
            set_buffers(h.as_raw_fd(), o.buffer);
            if let Some(a) = o.bind {
                // The source of the route lookup (policy rules by source).
                bind(h.as_raw_fd(), a)?;
            }
            Some(h)
        } else {
            None
        };
        Ok(Self { fd, hdrincl })
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The socket sends go through.
    pub(crate) fn send_fd(&self) -> RawFd {
        self.hdrincl.as_ref().map_or(self.fd(), AsRawFd::as_raw_fd)
    }

    pub(crate) fn header_included(&self) -> bool {
        self.hdrincl.is_some()
    }

    /// Binds again (a new home agent address).
    pub(crate) fn rebind(&self, addr: Ipv6Addr) -> io::Result<()> {
        bind(self.fd(), addr)?;
        if let Some(h) = &self.hdrincl {
            bind(h.as_raw_fd(), addr)?;
        }
        Ok(())
    }

    /// PMTUDISC_DO (fail EMSGSIZE) or WANT (let the kernel fragment).
    pub(crate) fn set_fragmenting(&self, on: bool) -> io::Result<()> {
        let mode = if on {
            libc::IPV6_PMTUDISC_WANT
        } else {
            libc::IPV6_PMTUDISC_DO
        };
        setsockopt_int(self.fd(), libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER, mode)
    }

    /// Reads and clears a pending socket error (SO_ERROR); true if there
    /// was one.
    pub(crate) fn take_error(&self) -> bool {
        let mut v: libc::c_int = 0;
        let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: the pointer and length describe `v`.
        let r = unsafe {
            libc::getsockopt(
                self.fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut v).cast(),
                &raw mut len,
            )
        };
        r == 0 && v != 0
    }

    /// Reads the error queue, hands every error in it to `each`, and
    /// returns how many errors it held.
    pub(crate) fn drain_errors(&self, mut each: impl FnMut(&TunnelError<'_>)) -> u64 {
        let mut n = 0;
        // As much of the inner packet as an ICMPv6 error quotes.
        let mut data = [0u8; 1280];
        let mut control = [0u64; 32];
        loop {
            let mut iov = libc::iovec {
                iov_base: data.as_mut_ptr().cast(),
                iov_len: data.len(),
            };
            // SAFETY: sockaddr_in6 is plain old data.
            let mut name: libc::sockaddr_in6 = unsafe { mem::zeroed() };
            // SAFETY: msghdr is plain old data.
            let mut msg: libc::msghdr = unsafe { mem::zeroed() };
            msg.msg_name = (&raw mut name).cast();
            msg.msg_namelen = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            msg.msg_iov = &raw mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = mem::size_of_val(&control);
            // SAFETY: every pointer in `msg` refers to a live local buffer.
            let r = unsafe {
                libc::recvmsg(
                    self.fd(),
                    &raw mut msg,
                    libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
                )
            };
            if r < 0 || n > 4096 {
                return n;
            }
            n += 1;
            let len = usize::try_from(r).unwrap_or(0).min(data.len());
            let dst = Ipv6Addr::from(name.sin6_addr.s6_addr);
            // SAFETY: `msg` was filled by recvmsg; the CMSG macros walk the
            // control buffer within msg_controllen.
            let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&raw const msg) };
            while !cmsg.is_null() {
                // SAFETY: `cmsg` is non-null and inside the control buffer.
                let h = unsafe { &*cmsg };
                // SAFETY: CMSG_LEN only computes a length.
                let need = unsafe {
                    libc::CMSG_LEN(mem::size_of::<libc::sock_extended_err>() as u32) as usize
                };
                if h.cmsg_level == libc::SOL_IPV6
                    && h.cmsg_type == libc::IPV6_RECVERR
                    && h.cmsg_len as usize >= need
                {
                    // SAFETY: the kernel puts a sock_extended_err there;
                    // read unaligned, as the buffer promises no alignment.
                    let ee: libc::sock_extended_err =
                        unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast()) };
                    each(&TunnelError {
                        dst,
                        from_icmp: ee.ee_origin == libc::SO_EE_ORIGIN_ICMP6,
                        errno: ee.ee_errno,
                        icmp_type: ee.ee_type,
                        info: ee.ee_info,
                        inner: &data[..len],
                    });
                }
                // SAFETY: as above.
                cmsg = unsafe { libc::CMSG_NXTHDR(&raw const msg, cmsg) };
            }
        }
    }
}

/// An error the kernel queued about one of our tunnel packets: an ICMPv6
/// error a router sent (`from_icmp`: its type and word, and the start of
/// the packet it quoted behind the outer header, the inner packet), or the
/// kernel's own (EMSGSIZE with the path MTU in `info`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TunnelError<'a> {
    /// The tunnel packet's destination.
    pub dst: Ipv6Addr,
    pub from_icmp: bool,
    pub errno: u32,
    pub icmp_type: u8,
    pub info: u32,
    pub inner: &'a [u8],
}

impl TunnelError<'_> {
    /// The path MTU towards `dst` when the error says the packet was too
    /// big for it.
    pub(crate) fn too_big_mtu(&self) -> Option<u32> {
        (self.errno == libc::EMSGSIZE as u32 && self.info >= 1280).then_some(self.info)
    }
}

/// Room for IPV6_PKTINFO (20 octets) and IPV6_TCLASS (an int), each
/// rounded up with its header.
const CMSG_BUF: usize = 64;

/// One tunnel packet to send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutMsg {
    /// Index of the buffer holding it and where in it it lies.
    pub buf: usize,
    pub start: usize,
    pub len: usize,
    pub dst: Ipv6Addr,
    /// IPV6_PKTINFO source (mobile node).
    pub src: Option<Ipv6Addr>,
    /// IPV6_TCLASS for this packet when it differs from the default.
    pub tclass: Option<u8>,
}

/// The headers, iovecs, addresses and control buffers of one
/// sendmmsg/recvmmsg batch, kept between calls so that a batch allocates
/// nothing.
struct Batch {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    names: Vec<libc::sockaddr_in6>,
    cmsgs: Vec<[u64; CMSG_BUF / 8]>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("capacity", &self.hdrs.len())
            .finish()
    }
}

// SAFETY: the raw pointers inside are scratch values rewritten before every
// call and never dereferenced outside it.
unsafe impl Send for Batch {}

impl Batch {
    fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        // SAFETY: plain old data.
        let zero_hdr: libc::mmsghdr = unsafe { mem::zeroed() };
        Self {
            hdrs: vec![zero_hdr; capacity],
            iovs: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0
                };
                capacity
            ],
            names: vec![sockaddr(Ipv6Addr::UNSPECIFIED); capacity],
            cmsgs: vec![[0u64; CMSG_BUF / 8]; capacity],
        }
    }

    fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// Points header `i` at `iov`, its own address slot and the first
    /// `ctl_len` octets of its control slot (no control data when 0).
    fn set(&mut self, i: usize, iov: libc::iovec, ctl_len: usize) {
        self.iovs[i] = iov;
        let h = &mut self.hdrs[i].msg_hdr;
        h.msg_name = (&raw mut self.names[i]).cast();
        h.msg_namelen = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        h.msg_iov = &raw mut self.iovs[i];
        h.msg_iovlen = 1;
        if ctl_len == 0 {
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
        } else {
            h.msg_control = self.cmsgs[i].as_mut_ptr().cast();
            h.msg_controllen = ctl_len;
        }
        h.msg_flags = 0;
        self.hdrs[i].msg_len = 0;
    }
}

/// Scratch space for sendmmsg, kept between calls.
#[derive(Debug)]
pub(crate) struct Sender(Batch);

impl Sender {
    pub(crate) fn new(capacity: usize) -> Self {
        Self(Batch::new(capacity))
    }

    /// Sends `msgs` (at most the capacity) from `bufs` with one sendmmsg.
    /// Returns how many went, in order, and the error that stopped the
    /// first one that did not (`None` when all went).
    pub(crate) fn send(
        &mut self,
        fd: RawFd,
        msgs: &[OutMsg],
        bufs: &[Vec<u8>],
    ) -> (usize, Option<io::Error>) {
        let batch = &mut self.0;
        let n = msgs.len().min(batch.capacity());
        for (i, m) in msgs.iter().take(n).enumerate() {
            let data = bufs
                .get(m.buf)
                .and_then(|b| b.get(m.start..m.start + m.len))
                .unwrap_or(&[]);
            batch.names[i] = sockaddr(m.dst);
            let ctl_len = write_cmsgs(&mut batch.cmsgs[i], m.src, m.tclass);
            let iov = libc::iovec {
                iov_base: data.as_ptr().cast_mut().cast(),
                iov_len: data.len(),
            };
            batch.set(i, iov, ctl_len);
        }
        if n == 0 {
            return (0, None);
        }
        let cnt = libc::c_uint::try_from(n).unwrap_or(libc::c_uint::MAX);
        loop {
            // SAFETY: `n` headers are initialised above and point at live
            // buffers (`bufs`, and our own vectors, which do not move
            // during the call).
            let r = unsafe { libc::sendmmsg(fd, batch.hdrs.as_mut_ptr(), cnt, 0) };
            if r >= 0 {
                let sent = r.unsigned_abs() as usize;
                return (sent, None);
            }
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return (0, Some(e));
        }
    }
}

/// Writes the control messages for one packet; returns their length.
fn write_cmsgs(buf: &mut [u64; CMSG_BUF / 8], src: Option<Ipv6Addr>, tclass: Option<u8>) -> usize {
    if src.is_none() && tclass.is_none() {
        return 0;
    }
    // CMSG_NXTHDR reads the length field of the slot after the current
    // one: it must not hold a stale value.
    *buf = [0; CMSG_BUF / 8];
    // SAFETY: msghdr is plain old data; the CMSG_* helpers only walk the
    // buffer we describe, which is large enough for both messages
    // (CMSG_SPACE(20) + CMSG_SPACE(4) = 40 + 24 = 64 on 64-bit Linux).
    unsafe {
        let mut msg: libc::msghdr = mem::zeroed();
        msg.msg_control = buf.as_mut_ptr().cast();
        msg.msg_controllen = CMSG_BUF;
        let mut len = 0usize;
        let mut c = libc::CMSG_FIRSTHDR(&raw const msg);
        if let Some(a) = src {
            if c.is_null() {
                return 0;
            }
            let info = libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr {
                    s6_addr: a.octets(),
                },
                ipi6_ifindex: 0,
            };
            let sz = mem::size_of::<libc::in6_pktinfo>() as u32;
            (*c).cmsg_level = libc::IPPROTO_IPV6;
            (*c).cmsg_type = libc::IPV6_PKTINFO;
            (*c).cmsg_len = libc::CMSG_LEN(sz) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::in6_pktinfo>(), info);
            len += libc::CMSG_SPACE(sz) as usize;
            c = libc::CMSG_NXTHDR(&raw const msg, c);
        }
        if let Some(tc) = tclass {
            if c.is_null() {
                return len;
            }
            let sz = mem::size_of::<libc::c_int>() as u32;
            (*c).cmsg_level = libc::IPPROTO_IPV6;
            (*c).cmsg_type = libc::IPV6_TCLASS;
            (*c).cmsg_len = libc::CMSG_LEN(sz) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>(), tc.into());
            len += libc::CMSG_SPACE(sz) as usize;
        }
        len
    }
}

/// One received tunnel packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InMsg {
    /// Octets of the inner packet in the buffer.
    pub len: usize,
    /// The outer source.
    pub src: Ipv6Addr,
    /// The kernel cut it to the buffer.
    pub truncated: bool,
    /// The outer traffic class, when the kernel reported it.
    pub tclass: Option<u8>,
}

/// Scratch space for recvmmsg.
#[derive(Debug)]
pub(crate) struct Receiver(Batch);

impl Receiver {
    pub(crate) fn new(capacity: usize) -> Self {
        Self(Batch::new(capacity))
    }

    /// Receives up to `bufs.len()` packets without waiting, each into
    /// `bufs[i][start..]`. `WouldBlock` when none waits.
    pub(crate) fn recv(
        &mut self,
        fd: RawFd,
        bufs: &mut [Vec<u8>],
        start: usize,
        out: &mut Vec<InMsg>,
    ) -> io::Result<usize> {
        out.clear();
        let batch = &mut self.0;
        let n = bufs.len().min(batch.capacity());
        for (i, buf) in bufs.iter_mut().take(n).enumerate() {
            let room = buf.get_mut(start..).unwrap_or(&mut []);
            let iov = libc::iovec {
                iov_base: room.as_mut_ptr().cast(),
                iov_len: room.len(),
            };
            batch.set(i, iov, CMSG_BUF);
        }
        let cnt = libc::c_uint::try_from(n).unwrap_or(libc::c_uint::MAX);
        // SAFETY: `n` headers point at live buffers that do not move
        // during the call.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                batch.hdrs.as_mut_ptr(),
                cnt,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let got = r.unsigned_abs() as usize;
        for i in 0..got.min(n) {
            let h = &batch.hdrs[i];
            let src = Ipv6Addr::from(batch.names[i].sin6_addr.s6_addr);
            let tclass = read_tclass(&h.msg_hdr);
            out.push(InMsg {
                len: h.msg_len as usize,
                src,
                truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
                tclass,
            });
        }
        Ok(got)
    }
}

fn read_tclass(msg: &libc::msghdr) -> Option<u8> {
    if msg.msg_control.is_null() || msg.msg_controllen == 0 {
        return None;
    }
    // SAFETY: the kernel filled `msg_controllen` octets of our control
    // buffer with well-formed cmsgs; the CMSG_* helpers stay within it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::IPPROTO_IPV6 && (*c).cmsg_type == libc::IPV6_TCLASS {
                let v = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                return u8::try_from(v).ok();
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    None
}

/// The kernel's path MTU towards `dst` from `src`: a UDP socket bound to
/// `src` and connected to `dst` reports it (IPV6_MTU), including what
/// Packet Too Big messages taught the kernel.
pub(crate) fn path_mtu(src: Ipv6Addr, dst: Ipv6Addr) -> io::Result<u32> {
    // SAFETY: plain arguments; the result is checked.
    let fd =
        cvt(unsafe { libc::socket(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: a descriptor we just opened and own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    bind(fd.as_raw_fd(), src)?;
    let mut sa = sockaddr(dst);
    sa.sin6_port = 9u16.to_be();
    // SAFETY: the pointer and length describe `sa`.
    cvt(unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&raw const sa).cast(),
            mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    })?;
    let mut mtu: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the pointer and length describe `mtu`.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU,
            (&raw mut mtu).cast(),
            &raw mut len,
        )
    })?;
    u32::try_from(mtu).map_err(|_| io::Error::other(format!("path MTU {mtu}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_fit() {
        let mut buf = [0u64; CMSG_BUF / 8];
        assert_eq!(write_cmsgs(&mut buf, None, None), 0);
        let a: Ipv6Addr = "2001:db8::1".parse().expect("lit");
        let both = write_cmsgs(&mut buf, Some(a), Some(0xb8));
        assert!(both <= CMSG_BUF && both > 40, "{both}");
        // The traffic class lands where a reader finds it.
        // SAFETY: plain old data.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_control = buf.as_mut_ptr().cast();
        msg.msg_controllen = both;
        assert_eq!(read_tclass(&msg), Some(0xb8));
        let one = write_cmsgs(&mut buf, None, Some(3));
        msg.msg_controllen = one;
        assert_eq!(read_tclass(&msg), Some(3));
    }
}
