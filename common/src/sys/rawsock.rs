//! What the raw IPv6 sockets of [`super::icmp6`], [`super::mh_io`] and
//! [`super::mn_signal`] have in common: opening them, asking the kernel
//! where each packet came from and went to, receiving with that ancillary
//! data, and sending from a chosen source (IPV6_PKTINFO). The sockets
//! themselves stay apart because their options differ (ICMPv6 filters, hop
//! limits, kernel checksumming, blocking mode).

use std::io::{self, IoSliceMut};
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;

use nix::sys::socket::{self, ControlMessageOwned, MsgFlags, SockaddrIn6};
use socket2::{Domain, Protocol, Socket, Type};

/// Puts `what` in front of an error, so that the daemons' logs say which
/// socket or address failed.
pub(crate) fn ctx(what: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// `AsRawFd` and `AsFd` for a type through the field holding its
/// descriptor (a `Socket` or an `OwnedFd`), so the daemons can register
/// it with poll(2).
macro_rules! fd_through {
    ($ty:ty, $field:ident) => {
        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.$field)
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.$field)
            }
        }
    };
}
pub(crate) use fd_through;

/// A raw IPv6 socket of `protocol` (an IPPROTO_* number; IPPROTO_RAW for a
/// header-included sender).
pub(crate) fn raw_socket(protocol: i32) -> io::Result<Socket> {
    Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(protocol)))
}

/// Sets an int-valued socket option by number, for those the typed
/// wrappers of socket2 and nix are not used for (IPV6_CHECKSUM).
pub(crate) fn set_int(
    sock: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    set_opt(sock, level, name, &value)
}

/// Sets a socket option by number to the plain-data `value` (a C struct
/// or integer laid out as the kernel expects): the one `setsockopt` call
/// behind the options neither socket2 nor nix wraps (ICMP6_FILTER,
/// IPV6_JOIN_ANYCAST, IPV6_CHECKSUM).
pub fn set_opt<T: Copy>(
    sock: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: the pointer and length describe `value`, alive for the call.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Has the kernel report each packet's destination and arrival interface
/// (IPV6_RECVPKTINFO) and, with `hop_limit`, its hop limit
/// (IPV6_RECVHOPLIMIT), for [`recv_with_info`].
pub(crate) fn report_arrival(sock: &Socket, hop_limit: bool) -> io::Result<()> {
    socket::setsockopt(sock, socket::sockopt::Ipv6RecvPacketInfo, &true)?;
    if hop_limit {
        socket::setsockopt(sock, socket::sockopt::Ipv6RecvHopLimit, &true)?;
    }
    Ok(())
}

/// A raw socket of one IPv6 `protocol` (an upper layer or extension
/// header) that reports where each packet went, as [`report_arrival`] says.
pub(crate) fn open_receiving(protocol: u8, hop_limit: bool) -> io::Result<Socket> {
    let what = || format!("raw IPv6 socket of protocol {protocol}");
    let sock = raw_socket(i32::from(protocol)).map_err(ctx(what()))?;
    report_arrival(&sock, hop_limit).map_err(ctx(what()))?;
    Ok(sock)
}

/// Where a received message came from and went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvInfo {
    /// Octets of the message in the buffer.
    pub len: usize,
    pub src: Ipv6Addr,
    /// `::` if the kernel gave no IPV6_PKTINFO (it always does).
    pub dst: Ipv6Addr,
    /// 0 if the kernel gave no IPV6_HOPLIMIT (the Neighbor Discovery and
    /// home agent sockets ask for it); ND validation wants 255.
    pub hop_limit: u8,
    pub ifindex: u32,
}

/// Receives one message with what [`report_arrival`] asked for. A message
/// longer than `buf` fails with `InvalidData` saying `too_long()` (and is
/// gone): a cut-off packet would fail its checksum or parse wrongly.
pub(crate) fn recv_with_info(
    sock: &Socket,
    buf: &mut [u8],
    too_long: impl FnOnce() -> String,
) -> io::Result<RecvInfo> {
    // Room for both messages whether or not the hop limit was asked for.
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = loop {
        match socket::recvmsg::<SockaddrIn6>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r?,
        }
    };
    if msg.flags.contains(MsgFlags::MSG_TRUNC) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, too_long()));
    }
    let mut info = RecvInfo {
        len: msg.bytes,
        src: msg.address.map_or(Ipv6Addr::UNSPECIFIED, |a| a.ip()),
        dst: Ipv6Addr::UNSPECIFIED,
        hop_limit: 0,
        ifindex: 0,
    };
    for c in msg.cmsgs()? {
        match c {
            ControlMessageOwned::Ipv6PacketInfo(p) => {
                info.dst = Ipv6Addr::from(p.ipi6_addr.s6_addr);
                info.ifindex = p.ipi6_ifindex;
            }
            ControlMessageOwned::Ipv6HopLimit(h) => {
                info.hop_limit = u8::try_from(h).unwrap_or(0);
            }
            _ => {}
        }
    }
    Ok(info)
}

/// Sends `payload` to `dst` from `src` (IPV6_PKTINFO) and, when given, with
/// `dstopts` as the Destination Options header (IPV6_DSTOPTS, which nix
/// cannot build). `ifindex` is both the scope of `dst` and the interface in
/// IPV6_PKTINFO; 0 lets the routing decide.
pub(crate) fn send_from(
    sock: &Socket,
    payload: &[u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ifindex: u32,
    dstopts: Option<&[u8]>,
) -> io::Result<usize> {
    let info = libc::in6_pktinfo {
        ipi6_addr: libc::in6_addr {
            s6_addr: src.octets(),
        },
        ipi6_ifindex: ifindex,
    };
    let info_len = std::mem::size_of::<libc::in6_pktinfo>();
    let opts_len = dstopts.map_or(0, <[u8]>::len);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe {
        libc::CMSG_SPACE(info_len as u32) as usize
            + if opts_len > 0 {
                libc::CMSG_SPACE(opts_len as u32) as usize
            } else {
                0
            }
    };
    // u64s: cmsghdr alignment.
    let mut control = vec![0u64; space.div_ceil(8)];
    // SAFETY: sockaddr_in6 is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_addr.s6_addr = dst.octets();
    sa.sin6_scope_id = ifindex;
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr().cast_mut().cast(),
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&raw mut sa).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `control` holds `space` octets, enough for both headers as
    // CMSG_SPACE computed; CMSG_FIRSTHDR/NXTHDR stay inside it and we copy
    // exactly the lengths announced in cmsg_len.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&raw const msg);
        if c.is_null() {
            return Err(io::Error::other("no room for control messages"));
        }
        (*c).cmsg_level = libc::IPPROTO_IPV6;
        (*c).cmsg_type = libc::IPV6_PKTINFO;
        (*c).cmsg_len = libc::CMSG_LEN(info_len as u32) as _;
        std::ptr::copy_nonoverlapping((&raw const info).cast::<u8>(), libc::CMSG_DATA(c), info_len);
        if let Some(opts) = dstopts {
            let c2 = libc::CMSG_NXTHDR(&raw const msg, c);
            if c2.is_null() {
                return Err(io::Error::other("no room for control messages"));
            }
            (*c2).cmsg_level = libc::IPPROTO_IPV6;
            (*c2).cmsg_type = libc::IPV6_DSTOPTS;
            (*c2).cmsg_len = libc::CMSG_LEN(opts.len() as u32) as _;
            std::ptr::copy_nonoverlapping(opts.as_ptr(), libc::CMSG_DATA(c2), opts.len());
        }
    }
    loop {
        // SAFETY: msg and everything it points to live across the call.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &raw const msg, 0) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Sends the whole IPv6 `packet` through the AF_PACKET socket `sock` out
/// of interface `ifindex` to link-layer address `ll` (at most 8 octets): for
/// packets the IPv6 stack would not send as they are (from `::`, or to a
/// neighbour whose route leads elsewhere). Returns the octets sent.
pub fn send_to_link(
    sock: &impl AsRawFd,
    ifindex: u32,
    packet: &[u8],
    ll: &[u8],
) -> io::Result<usize> {
    const ETH_P_IPV6: u16 = 0x86dd; // linux/if_ether.h
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::sa_family_t;
    sll.sll_protocol = ETH_P_IPV6.to_be();
    sll.sll_ifindex = i32::try_from(ifindex).unwrap_or(0);
    let halen = ll.len().min(sll.sll_addr.len());
    sll.sll_halen = halen as u8;
    sll.sll_addr[..halen].copy_from_slice(&ll[..halen]);
    loop {
        // SAFETY: `packet` is readable for its length and `sll` is a live
        // sockaddr_ll of the length given.
        let n = unsafe {
            libc::sendto(
                sock.as_raw_fd(),
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&raw const sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
